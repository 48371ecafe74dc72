//! PID 1 of ASM's test VM.
//!
//! `scripts/vm-guest/virtme-run` makes virtme-ng boot this program in place
//! of virtme-ng's own init, which this program then execs (virtme-ng's
//! guest directory comes as `asm_virtme_guest=` on the kernel command line,
//! so in the environment).
//! Before that it takes two services off virtme-ng's init, which starts
//! them whenever the root filesystem has them, at a cost that was most of a
//! TCG boot (Documentation/testing.rst):
//!
//! - udevd and its full coldplug (about 25 s). The boot needs one thing
//!   from udev: the `/dev/virtio-ports/NAME` links through which virtme-ng's
//!   init wires the command's stdin, stdout, stderr and exit status to the
//!   host. They are made here from sysfs, as udev's rule makes them. Device
//!   nodes come from devtmpfs with their kernel modes.
//! - `systemd-tmpfiles --boot` (about 8 s), which makes the host's
//!   run-time directories for services the test VM does not run.
//!
//! The root is the host's, read-only; virtme-ng's init lays a writable
//! overlay over `/usr`, `/lib` and other directories, with its upper layers
//! in `/run/tmp/virtme_rw_overlayN/upper`. This program mounts that `/run`
//! itself and puts a whiteout for each hidden program into the upper layer
//! of each overlay that covers it, so virtme-ng's init finds neither
//! program and skips both steps. virtme-ng's init keeps a `/run` it finds
//! mounted when it runs from there (as it does when virtme-ng boots a root
//! of its own), so its guest directory is bound at [`GUEST`] and its init
//! run from there. A boot whose overlays do not cover a program still runs
//! it: slower, not wrong.

use std::ffi::CString;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use nix::mount::{mount, umount, MsFlags};
use nix::sys::reboot::{reboot, RebootMode};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use nix::unistd::execv;

/// The programs virtme-ng's init looks up and runs if present, by every
/// path it looks them up at.
const HIDDEN: &[&str] = &[
    "/usr/lib/systemd/systemd-udevd",
    "/lib/systemd/systemd-udevd",
    "/usr/bin/systemd-tmpfiles",
    "/bin/systemd-tmpfiles",
];

/// Where virtme-ng's guest directory is bound, as virtme-ng itself binds it
/// for a root of its own.
const GUEST: &str = "/run/virtme/guesttools";

/// Where udev's rule (`SYMLINK+="virtio-ports/$attr{name}"`) puts a named
/// virtio console port.
const PORTS: &str = "/dev/virtio-ports";

fn log(msg: &str) {
    // The console log, beside the kernel's own messages.
    let _ = fs::write("/dev/kmsg", format!("<6>asm-vm-init: {msg}\n"));
}

/// The ports virtme-ng's init connects the command to: without one of them
/// it would run the command on the console, where its output goes into the
/// kernel's log (or, with no command, wait on a shell).
const NEEDED: &[&str] = &[
    "virtme.stdin",
    "virtme.stdout",
    "virtme.stderr",
    "virtme.dev_stdout",
    "virtme.dev_stderr",
    "virtme.ret",
];

/// How long the ports may take to be named: the host names each port in a
/// message of its own, which may come after this program starts.
const PORTS_WAIT: Duration = Duration::from_secs(30);

/// Links the named ports until every [`NEEDED`] one is there, for at most
/// [`PORTS_WAIT`]; returns those still missing.
fn wait_ports() -> Vec<&'static str> {
    let start = Instant::now();
    loop {
        link_ports();
        let missing: Vec<_> = NEEDED
            .iter()
            .copied()
            .filter(|name| !Path::new(PORTS).join(name).exists())
            .collect();
        if missing.is_empty() || start.elapsed() >= PORTS_WAIT {
            return missing;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Links each named virtio console port in sysfs into [`PORTS`] (those not
/// linked yet).
fn link_ports() {
    if let Err(e) = fs::create_dir_all(PORTS) {
        log(&format!("cannot make {PORTS}: {e}"));
        return;
    }
    let Ok(dir) = fs::read_dir("/sys/class/virtio-ports") else {
        return;
    };
    for port in dir.flatten() {
        let Ok(name) = fs::read_to_string(port.path().join("name")) else {
            continue;
        };
        let name = name.trim_end();
        if name.is_empty() || name == "." || name == ".." || name.contains('/') {
            continue;
        }
        let link = Path::new(PORTS).join(name);
        if link.symlink_metadata().is_ok() {
            continue;
        }
        if let Err(e) = symlink(Path::new("..").join(port.file_name()), &link) {
            log(&format!("cannot link {PORTS}/{name}: {e}"));
        }
    }
}

/// `program`'s path inside the directory `dir`, if it is inside.
fn under<'a>(dir: &str, program: &'a str) -> Option<&'a str> {
    program
        .strip_prefix(dir.trim_end_matches('/'))?
        .strip_prefix('/')
        .filter(|rest| !rest.is_empty())
}

/// Whites out every [`HIDDEN`] program in the upper layer of every overlay
/// virtme-ng's init will mount over it; returns how many whiteouts exist.
fn hide_programs() -> usize {
    let mut hidden = 0;
    for (key, dir) in std::env::vars() {
        if !key.starts_with("virtme_rw_overlay") {
            continue;
        }
        let upper = Path::new("/run/tmp").join(&key).join("upper");
        for program in HIDDEN {
            let Some(rest) = under(&dir, program) else {
                continue;
            };
            let whiteout = upper.join(rest);
            let made = whiteout
                .parent()
                .map_or(Ok(()), fs::create_dir_all)
                .and_then(|()| {
                    // An overlay's whiteout is a character device 0:0.
                    mknod(&whiteout, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))
                        .map_err(std::io::Error::from)
                });
            match made {
                Ok(()) => hidden += 1,
                Err(e) => log(&format!(
                    "cannot hide {program} ({}): {e}",
                    whiteout.display()
                )),
            }
        }
    }
    hidden
}

fn main() {
    let sysfs = mount(
        Some("sys"),
        "/sys",
        Some("sysfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV,
        None::<&str>,
    );
    if !Path::new("/dev/null").exists() {
        // CONFIG_DEVTMPFS_MOUNT mounts it on the root; this is for a kernel
        // without that option.
        let _ = mount(
            Some("devtmpfs"),
            "/dev",
            Some("devtmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            None::<&str>,
        );
    }
    let missing = wait_ports();
    if !missing.is_empty() {
        // Fail loudly: the host sees a guest that ended without the
        // command's status, and shows the console with this line.
        log(&format!(
            "no virtio port named {} after {} s: powering off",
            missing.join(", "),
            PORTS_WAIT.as_secs()
        ));
        let _ = reboot(RebootMode::RB_POWER_OFF);
    }
    if sysfs.is_ok() {
        // virtme-ng's init mounts its own.
        let _ = umount("/sys");
    }

    let hidden = match prepare_run() {
        Ok(()) => hide_programs(),
        Err(e) => {
            log(&format!("cannot prepare /run: {e}"));
            0
        }
    };
    log(&format!(
        "the virtio ports linked in {PORTS}, {hidden} whiteouts for udevd and systemd-tmpfiles"
    ));

    let init = CString::new(format!("{GUEST}/bin/virtme-ng-init")).expect("no NUL in a constant");
    let err = execv(&init, &[&init]).unwrap_err();
    log(&format!("cannot exec {GUEST}/bin/virtme-ng-init: {err}"));
    panic!("cannot exec virtme-ng's init: {err}");
}

/// Mounts `/run` and binds virtme-ng's guest directory (`asm_virtme_guest=`)
/// at [`GUEST`] in it.
fn prepare_run() -> std::io::Result<()> {
    let real = std::env::var_os("asm_virtme_guest").ok_or_else(|| {
        std::io::Error::other("asm_virtme_guest= is missing from the kernel command line")
    })?;
    mount(
        Some("run"),
        "/run",
        Some("tmpfs"),
        MsFlags::empty(),
        Some("mode=0755"),
    )?;
    fs::create_dir_all(GUEST)?;
    mount(
        Some(real.as_os_str()),
        GUEST,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::under;

    #[test]
    fn a_program_is_under_the_directories_that_hold_it() {
        let udevd = "/usr/lib/systemd/systemd-udevd";
        assert_eq!(under("/usr", udevd), Some("lib/systemd/systemd-udevd"));
        assert_eq!(under("/usr/", udevd), Some("lib/systemd/systemd-udevd"));
        assert_eq!(under("/", udevd), Some("usr/lib/systemd/systemd-udevd"));
        assert_eq!(
            under("/lib", "/lib/systemd/systemd-udevd"),
            Some("systemd/systemd-udevd")
        );
        assert_eq!(under("/us", udevd), None);
        assert_eq!(under("/etc", udevd), None);
        assert_eq!(under(udevd, udevd), None);
    }
}
