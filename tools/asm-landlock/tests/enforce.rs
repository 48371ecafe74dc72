// SPDX-License-Identifier: GPL-2.0

//! The rulesets enforced for real, on the running kernel, in forked
//! children. Each test's name starts with
//! [`asm_testutil::LANDLOCK_LIVE`]: `make check` runs them in the test VM,
//! whose kernel has Landlock; elsewhere they are skipped with a note when
//! the kernel has none (and fail in CI).
//!
//! The test harness runs tests on several threads, so a child only makes
//! system calls on data the parent prepared, as asmd's children do: the
//! ruleset is built before the fork and enforced after it.

use asm_landlock::{abi_version, derive, resolve_program, Ruleset};
use asm_landlock::{CAP_FS_BASIC, CAP_NET_CLIENT, CAP_NET_SERVER};
use std::ffi::CString;
use std::net::TcpListener;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The kernel's Landlock ABI, or `None` after saying why the test is
/// skipped.
fn landlock(test: &str) -> Option<u32> {
    match abi_version() {
        Ok(Some(abi)) => Some(abi),
        Ok(None) => {
            asm_testutil::skip(test, "the kernel has no Landlock");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// A fresh directory under the target's scratch space: outside the system
/// set, and on a file system that allows exec.
fn scratch(name: &str) -> PathBuf {
    let dir = asm_testutil::tmpdir(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("asm-landlock-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.canonicalize().unwrap()
}

fn c(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).unwrap()
}

fn errno() -> i32 {
    // SAFETY: reading the calling thread's errno.
    unsafe { *libc::__errno_location() }
}

/// Forks; the child runs `child` (system calls only) and exits with what it
/// returns. Returns that exit code.
fn in_child(child: impl FnOnce() -> i32) -> i32 {
    // SAFETY: the child only runs `child`, which makes system calls on
    // memory prepared before the fork, then `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = child();
        // SAFETY: leaving the child without running the parent's handlers.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: `status` is a writable int and `pid` our child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(libc::WIFEXITED(status), "child status {status:#x}");
    libc::WEXITSTATUS(status)
}

/// `open(path, flags)` in the child: `Ok` if it opened (and closed), else
/// the errno.
fn open(path: &CString, flags: i32) -> Result<(), i32> {
    // SAFETY: `path` is NUL-terminated.
    let fd = unsafe { libc::open(path.as_ptr(), flags | libc::O_CLOEXEC, 0o600) };
    if fd < 0 {
        return Err(errno());
    }
    // SAFETY: closing the fd just opened.
    unsafe { libc::close(fd) };
    Ok(())
}

#[test]
fn landlock_live_fs_basic_in_a_scope_writes_inside_and_nothing_outside() {
    let Some(abi) = landlock("fs_basic_in_a_scope") else {
        return;
    };
    let scope = scratch("scope");
    let outside = scratch("outside");
    std::fs::write(outside.join("secret"), "x").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();

    let plan = derive(CAP_FS_BASIC, Some(&scope), None, abi);
    let ruleset = Ruleset::build(&plan).unwrap();
    let report = *ruleset.report();
    assert!(report.fs_restricted && report.fs_rules > 0, "{report}");
    assert_eq!(report.net_restricted(), abi >= 4, "{report}");

    let inside_new = c(&scope.join("new"));
    let outside_secret = c(&outside.join("secret"));
    let outside_new = c(&outside.join("new"));
    let dev_null = c(Path::new("/dev/null"));
    let etc = c(Path::new("/etc"));
    let etc_new = c(Path::new("/etc/asm-landlock-test"));
    let creat = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC;
    // SAFETY: all-zero bytes are a valid sockaddr_in.
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    addr.sin_family = libc::AF_INET as libc::sa_family_t;
    addr.sin_port = port.to_be();
    addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();

    let code = in_child(|| {
        if ruleset.restrict_self().is_err() {
            return 10;
        }
        if open(&inside_new, creat).is_err() {
            return 11;
        }
        if open(&outside_secret, libc::O_RDONLY) != Err(libc::EACCES) {
            return 12;
        }
        if open(&outside_new, creat) != Err(libc::EACCES) {
            return 13;
        }
        // A shell's "> /dev/null" opens with O_TRUNC, which must not
        // need the TRUNCATE right on a device.
        if open(&dev_null, creat).is_err() {
            return 14;
        }
        if open(&etc, libc::O_RDONLY | libc::O_DIRECTORY).is_err() {
            return 15;
        }
        if open(&etc_new, creat) != Err(libc::EACCES) {
            return 16;
        }
        if abi >= 4 {
            // SAFETY: a plain TCP socket, connected to a valid sockaddr_in.
            let rc = unsafe {
                let s = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
                libc::connect(
                    s,
                    std::ptr::from_ref(&addr).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            };
            if rc == 0 || errno() != libc::EACCES {
                return 17;
            }
            // The listener's port: Landlock answers before the address is
            // found to be in use.
            // SAFETY: as above, with bind.
            let rc = unsafe {
                let s = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
                libc::bind(
                    s,
                    std::ptr::from_ref(&addr).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            };
            if rc == 0 || errno() != libc::EACCES {
                return 18;
            }
        }
        0
    });
    let why = match code {
        0 => "",
        10 => "restrict_self failed",
        11 => "creating a file in the scope was refused",
        12 => "reading a file outside the scope was not refused with EACCES",
        13 => "creating a file outside the scope was not refused with EACCES",
        14 => "opening /dev/null with O_TRUNC was refused",
        15 => "reading /etc was refused",
        16 => "creating a file in /etc was not refused with EACCES",
        17 => "a TCP connect without NetClient was not refused with EACCES",
        18 => "a TCP bind without NetServer was not refused with EACCES",
        _ => "unexpected exit code",
    };
    assert_eq!(code, 0, "{why}");
    assert!(scope.join("new").exists());
    assert!(!outside.join("new").exists());
    drop(listener);
    std::fs::remove_dir_all(&scope).unwrap();
    std::fs::remove_dir_all(&outside).unwrap();
}

#[test]
fn landlock_live_the_program_runs_whatever_the_capabilities() {
    let Some(abi) = landlock("the_program_runs") else {
        return;
    };
    let dir = scratch("program");
    let elsewhere = scratch("program-other");
    let copy = |name: &str, dir: &std::path::Path, to: &str| {
        let from = resolve_program(name.as_ref()).expect(name);
        std::fs::copy(from, dir.join(to)).unwrap();
        std::fs::set_permissions(dir.join(to), std::fs::Permissions::from_mode(0o755)).unwrap();
        c(&dir.join(to))
    };
    let agent = copy("true", &dir, "agent");
    let other = copy("false", &elsewhere, "other");

    // No capability at all: the filesystem is the system set, plus the
    // directory of the program about to be exec'd.
    let plan = derive(0, None, Some(&dir.join("agent")), abi);
    let ruleset = Ruleset::build(&plan).unwrap();
    let code = in_child(|| {
        if ruleset.restrict_self().is_err() {
            return 10;
        }
        let argv = [other.as_ptr(), std::ptr::null()];
        // SAFETY: NUL-terminated path and a NULL-terminated argv.
        unsafe { libc::execv(other.as_ptr(), argv.as_ptr()) };
        if errno() != libc::EACCES {
            return 11;
        }
        let argv = [agent.as_ptr(), std::ptr::null()];
        // SAFETY: as above.
        unsafe { libc::execv(agent.as_ptr(), argv.as_ptr()) };
        12
    });
    let why = match code {
        0 => "",
        1 => "another program outside the system set was executed",
        10 => "restrict_self failed",
        11 => "exec of another program was not refused with EACCES",
        12 => "exec of the agent's program failed",
        _ => "unexpected exit code",
    };
    assert_eq!(code, 0, "{why}");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&elsewhere).unwrap();
}

#[test]
fn landlock_live_unrestricted_agents_get_no_ruleset_and_a_missing_scope_is_an_error() {
    let Some(abi) = landlock("unrestricted_agents") else {
        return;
    };
    let all = CAP_FS_BASIC | CAP_NET_CLIENT | CAP_NET_SERVER;
    let ruleset = Ruleset::build(&derive(all, None, None, abi)).unwrap();
    let report = *ruleset.report();
    assert!(
        !report.fs_restricted && !report.net_restricted(),
        "{report}"
    );
    // Nothing to enforce: this does not even set no-new-privs, so it is
    // safe to call in the test process itself.
    assert_eq!(ruleset.restrict_self(), Ok(()));

    let missing = scratch("missing").join("gone");
    let e = Ruleset::build(&derive(CAP_FS_BASIC, Some(&missing), None, abi)).unwrap_err();
    assert_eq!(e.errno(), libc::ENOENT);
    assert_eq!(
        e.what(),
        format!("opening {} for a Landlock rule", missing.display())
    );
    std::fs::remove_dir_all(missing.parent().unwrap()).unwrap();
}
