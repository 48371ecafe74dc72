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

use asm_landlock::{derive, resolve_program, Enforcement, Outcome, Ruleset};
use asm_landlock::{CAP_FS_BASIC, CAP_NET_CLIENT, CAP_NET_SERVER};
use std::ffi::CString;
use std::net::TcpListener;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::path::{Path, PathBuf};

/// The kernel's Landlock ABI, or `None` after saying why the test is
/// skipped.
fn landlock(test: &str) -> Option<u32> {
    let abi = asm_testutil::landlock_abi();
    if abi.is_none() {
        asm_testutil::skip(test, "the kernel has no Landlock");
    }
    abi
}

/// Whether `outcome` is what a kernel with ABI `abi` gives a plan of
/// ABI 6 (asm_landlock::TARGET_ABI): all of it from ABI 6 on, part of it
/// before.
fn as_expected(outcome: Outcome, abi: u32) -> bool {
    let want = if abi >= 6 {
        Enforcement::Full
    } else {
        Enforcement::Partial
    };
    outcome.landlock() && outcome.enforcement == want
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

/// Forks a child of the calling process that runs `child` (system calls
/// only, on memory prepared before the fork) and exits with what it
/// returns; returns its wait status, or `None` if the fork or the wait
/// failed. A child of a sandboxed child calls it too.
fn fork_wait(child: impl FnOnce() -> i32) -> Option<i32> {
    // SAFETY: the child only runs `child`, then `_exit`s.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return None;
    }
    if pid == 0 {
        let code = child();
        // SAFETY: leaving the child without running the parent's handlers.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: `status` is a writable int and `pid` our child.
    if unsafe { libc::waitpid(pid, &mut status, 0) } != pid {
        return None;
    }
    Some(status)
}

/// [`fork_wait`] from the test: the child's exit code.
fn in_child(child: impl FnOnce() -> i32) -> i32 {
    let status = fork_wait(child).expect("fork or waitpid failed");
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

/// The `sockaddr_un` of the abstract socket `name`, and its length.
fn abstract_addr(name: &str) -> (libc::sockaddr_un, libc::socklen_t) {
    // SAFETY: all-zero bytes are a valid sockaddr_un.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    // sun_path[0] stays 0: the abstract namespace.
    assert!(name.len() < addr.sun_path.len());
    for (to, from) in addr.sun_path[1..].iter_mut().zip(name.as_bytes()) {
        *to = *from as libc::c_char;
    }
    let len = std::mem::offset_of!(libc::sockaddr_un, sun_path) + 1 + name.len();
    (addr, len as libc::socklen_t)
}

/// `connect(2)` of a new UNIX stream socket to `addr`: `Ok` if it
/// connected, else the errno. System calls only.
fn connect_unix(addr: &(libc::sockaddr_un, libc::socklen_t)) -> Result<(), i32> {
    // SAFETY: a new socket, connected to a valid sockaddr_un of the length
    // given, then closed.
    unsafe {
        let s = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if s < 0 {
            return Err(errno());
        }
        let rc = libc::connect(s, std::ptr::from_ref(&addr.0).cast(), addr.1);
        let e = errno();
        libc::close(s);
        if rc < 0 {
            return Err(e);
        }
    }
    Ok(())
}

/// `kill(2)`: `Ok` or the errno.
fn kill(pid: i32, sig: i32) -> Result<(), i32> {
    // SAFETY: kill takes integers only.
    if unsafe { libc::kill(pid, sig) } < 0 {
        return Err(errno());
    }
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

    let plan = derive(CAP_FS_BASIC, Some(&scope), None);
    let ruleset = Ruleset::build(&plan).unwrap();

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
        let Ok(outcome) = ruleset.restrict_self() else {
            return 10;
        };
        // What the report says is in force (computing it allocates
        // nothing).
        let report = ruleset.report(outcome);
        if !as_expected(outcome, abi)
            || !report.fs_restricted
            || report.fs_rules == 0
            || report.net_restricted() != (abi >= 4)
            || report.signals_scoped != (abi >= 6)
        {
            return 19;
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
        19 => "the outcome or the report is not what the kernel's ABI gives",
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
    let plan = derive(0, None, Some(&dir.join("agent")));
    let ruleset = Ruleset::build(&plan).unwrap();
    let code = in_child(|| {
        match ruleset.restrict_self() {
            Ok(outcome) if as_expected(outcome, abi) => {}
            _ => return 10,
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
        10 => "restrict_self failed or did not enforce what the ABI has",
        11 => "exec of another program was not refused with EACCES",
        12 => "exec of the agent's program failed",
        _ => "unexpected exit code",
    };
    assert_eq!(code, 0, "{why}");
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&elsewhere).unwrap();
}

#[test]
fn landlock_live_agents_with_every_capability_are_still_scoped_and_a_missing_scope_is_an_error() {
    let Some(abi) = landlock("still_scoped") else {
        return;
    };
    let all = CAP_FS_BASIC | CAP_NET_CLIENT | CAP_NET_SERVER;
    let ruleset = Ruleset::build(&derive(all, None, None)).unwrap();
    let code = in_child(|| {
        let Ok(outcome) = ruleset.restrict_self() else {
            return 10;
        };
        let report = ruleset.report(outcome);
        // Before ABI 6 there is nothing left to enforce.
        let enforced = if abi >= 6 {
            Enforcement::Full
        } else {
            Enforcement::Not
        };
        if outcome.enforcement != enforced
            || report.fs_restricted
            || report.net_restricted()
            || report.signals_scoped != (abi >= 6)
            || report.abstract_unix_scoped != (abi >= 6)
        {
            return 11;
        }
        0
    });
    assert_eq!(
        code, 0,
        "restrict_self failed (10) or enforced another set (11)"
    );

    let missing = scratch("missing").join("gone");
    let e = Ruleset::build(&derive(CAP_FS_BASIC, Some(&missing), None)).unwrap_err();
    assert_eq!(e.errno(), libc::ENOENT);
    assert_eq!(
        e.what(),
        format!("opening {} for a Landlock rule", missing.display())
    );
    std::fs::remove_dir_all(missing.parent().unwrap()).unwrap();
}

/// The ABI 6 scopes, attacked: a sandboxed process of our uid may neither
/// signal a process outside its sandbox nor connect to an abstract socket
/// bound outside it (`EPERM` both), while its own child and a socket it
/// bound itself are reachable. The same calls succeed from a child without
/// the ruleset, so the refusals are the sandbox's.
#[test]
fn landlock_live_scopes_keep_signals_and_abstract_sockets_inside_the_sandbox() {
    const TEST: &str = "landlock_live_scopes_keep_signals_and_abstract_sockets_inside_the_sandbox";
    let Some(abi) = landlock(TEST) else {
        return;
    };
    if abi < 6 {
        return asm_testutil::skip(TEST, &format!("Landlock ABI {abi} has no scopes (ABI 6)"));
    }
    // Outside any sandbox, of our own uid: a process and an abstract socket.
    let mut outside = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let outside_pid = outside.id() as i32;
    let name = format!("asm-landlock-scopes-{}", std::process::id());
    let listener =
        UnixListener::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
    let outside_addr = abstract_addr(&name);
    let inside_addr = abstract_addr(&format!("{name}-inside"));
    // Every capability: the scopes are all that is restricted.
    let all = CAP_FS_BASIC | CAP_NET_CLIENT | CAP_NET_SERVER;
    let ruleset = Ruleset::build(&derive(all, None, None)).unwrap();

    let control = in_child(|| {
        if kill(outside_pid, 0).is_err() {
            return 1;
        }
        if connect_unix(&outside_addr).is_err() {
            return 2;
        }
        0
    });
    assert_eq!(
        control, 0,
        "without the ruleset, kill (1) or connect (2) failed"
    );

    let code = in_child(|| {
        match ruleset.restrict_self() {
            Ok(outcome) if outcome.enforcement == Enforcement::Full => {}
            _ => return 10,
        }
        // The attacks.
        if kill(outside_pid, libc::SIGTERM) != Err(libc::EPERM) {
            return 11;
        }
        if connect_unix(&outside_addr) != Err(libc::EPERM) {
            return 12;
        }
        // Its own child, in its sandbox.
        // SAFETY: the grandchild only waits for the signal.
        let kid = unsafe { libc::fork() };
        if kid == 0 {
            loop {
                // SAFETY: pause takes nothing.
                unsafe { libc::pause() };
            }
        }
        if kid < 0 || kill(kid, libc::SIGTERM).is_err() {
            return 13;
        }
        let mut status = 0;
        // SAFETY: `status` is a writable int and `kid` our child.
        unsafe { libc::waitpid(kid, &mut status, 0) };
        if !libc::WIFSIGNALED(status) || libc::WTERMSIG(status) != libc::SIGTERM {
            return 14;
        }
        // A socket bound in the sandbox, connected to by its child.
        // SAFETY: a new socket bound to a valid sockaddr_un of the length
        // given, and listening.
        let bound = unsafe {
            let s = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            s >= 0
                && libc::bind(s, std::ptr::from_ref(&inside_addr.0).cast(), inside_addr.1) == 0
                && libc::listen(s, 1) == 0
        };
        if !bound {
            return 15;
        }
        let connected = fork_wait(|| i32::from(connect_unix(&inside_addr).is_err()));
        if !connected.is_some_and(|s| libc::WIFEXITED(s) && libc::WEXITSTATUS(s) == 0) {
            return 16;
        }
        0
    });
    let survived = outside.try_wait().unwrap().is_none();
    let _ = outside.kill();
    let _ = outside.wait();
    drop(listener);
    let why = match code {
        0 => "",
        10 => "restrict_self failed or did not enforce everything",
        11 => "a signal to a process outside the sandbox was not refused with EPERM",
        12 => "a connection to an abstract socket outside was not refused with EPERM",
        13 => "fork or the signal to its own child failed",
        14 => "its own child was not ended by the signal",
        15 => "binding an abstract socket in the sandbox failed",
        16 => "its child could not connect to the socket bound in the sandbox",
        _ => "unexpected exit code",
    };
    assert_eq!(code, 0, "{why}");
    assert!(survived, "the process outside the sandbox was killed");
}
