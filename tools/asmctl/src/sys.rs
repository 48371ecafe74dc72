// SPDX-License-Identifier: GPL-2.0

//! Every system call asmctl makes: the ioctls on `/dev/asm` and opening a
//! cgroup directory (both from `asm-sys`, shared with asmd and re-exported
//! here), reading `CLOCK_BOOTTIME` and the local time zone, the
//! processes of `run` (the fork, the pipe, the signals its parent forwards,
//! a new session and `no_new_privs` before the exec), and running the
//! command `profile time` times.
//!
//! Nothing outside this file touches the kernel, so the parsing and
//! rendering code can be tested on a host without the asm module; this is
//! also the only file of asmctl with `unsafe`.

pub use asm_sys::{drop_capabilities, open_dir, Device, Errno};

use asm_sys::cvt;
use std::ffi::OsString;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// `CLOCK_BOOTTIME` in nanoseconds, the clock of the module's timestamps.
pub fn boottime_ns() -> Result<u64, Errno> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    if unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) } != 0 {
        return Err(Errno::last());
    }
    // Boot time is never negative; treat a nonsense value as 0 rather
    // than wrapping.
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nsecs = u64::try_from(ts.tv_nsec).unwrap_or(0);
    Ok(secs.saturating_mul(1_000_000_000).saturating_add(nsecs))
}

/// The local time zone's offset from UTC at `unix_secs`, in seconds (0,
/// i.e. UTC, if the C library cannot tell), for the audit trail's times.
pub fn utc_offset(unix_secs: i64) -> i64 {
    let t: libc::time_t = unix_secs;
    // SAFETY: all-zero bytes are a valid `struct tm` (integers and a null
    // zone pointer).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: `t` and `tm` are valid for the call; localtime_r is the
    // thread-safe variant and keeps no pointer to either.
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return 0;
    }
    tm.tm_gmtoff
}

/// Replaces this process with `program`, searched in `PATH` like execvp(3).
/// The pid stays the same, which is what lets the child of `asmctl run`
/// register itself and then become the agent. Returns only on failure.
pub fn exec(program: &OsString, args: &[OsString]) -> Errno {
    // Command::exec execs in place (no fork) and also restores SIGPIPE,
    // which the Rust runtime ignores, to its default for the new program.
    let e = Command::new(program).args(args).exec();
    Errno::from_io(&e)
}

/// The signals the supervising parent of `asmctl run` passes on to the
/// agent's process: what a terminal (Ctrl-C, Ctrl-\\, hangup) or `kill`
/// sends to the foreground job to stop it.
const FORWARDED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// The pid the parent forwards signals to (0: none yet).
static FORWARD_TO: AtomicI32 = AtomicI32::new(0);

/// Whether a forwarded signal arrived: the user wants the agent to end,
/// not to be restarted.
static SIGNALLED: AtomicBool = AtomicBool::new(false);

extern "C" fn forward_signal(sig: libc::c_int) {
    SIGNALLED.store(true, Ordering::Relaxed);
    let pid = FORWARD_TO.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe and takes integers only.
        unsafe { libc::kill(pid, sig) };
    }
}

/// A signal set holding [`FORWARDED`].
fn forwarded_set() -> libc::sigset_t {
    // SAFETY: all-zero bytes are a valid sigset_t, initialised next.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable sigset_t.
    unsafe {
        libc::sigemptyset(&mut set);
        for sig in FORWARDED {
            libc::sigaddset(&mut set, sig);
        }
    }
    set
}

/// Sets the process's mask of `FORWARDED` signals: blocked or not.
fn block_forwarded(block: bool) -> Result<(), Errno> {
    let set = forwarded_set();
    let how = if block {
        libc::SIG_BLOCK
    } else {
        libc::SIG_UNBLOCK
    };
    // SAFETY: `set` is initialised; asmctl has one thread, so the process
    // mask is this thread's.
    cvt(unsafe { libc::sigprocmask(how, &set, std::ptr::null_mut()) }).map(|_| ())
}

/// A pipe whose two ends close on exec: (read end, write end).
pub fn pipe() -> Result<(OwnedFd, OwnedFd), Errno> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 returned two new descriptors that nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Forks; returns 0 in the child and the child's pid in the parent, which
/// forwards [`FORWARDED`] signals to it from now on (see
/// [`wait_forwarding`]). They are blocked across the fork, so that none
/// arrives before the parent knows whom to forward it to.
pub fn fork_blocked() -> Result<i32, Errno> {
    block_forwarded(true)?;
    // SAFETY: asmctl is single-threaded, so the child is a complete copy
    // that may go on running Rust code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = Errno::last();
        let _ = block_forwarded(false);
        return Err(e);
    }
    if pid > 0 {
        FORWARD_TO.store(pid, Ordering::Relaxed);
    }
    // The child gets them as they come, with their default actions (not
    // the parent's handlers or ignores of an earlier run); the parent once
    // its handlers are in place.
    if pid == 0 {
        FORWARD_TO.store(0, Ordering::Relaxed);
        for sig in FORWARDED {
            set_handler(sig, libc::SIG_DFL);
        }
        block_forwarded(false)?;
    }
    Ok(pid)
}

/// Sets `sig`'s handler to `handler` (with `SA_RESTART`).
fn set_handler(sig: libc::c_int, handler: libc::sighandler_t) {
    // SAFETY: all-zero bytes are a valid sigaction; the only handler set
    // here calls kill and an atomic store, which are async-signal-safe.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, std::ptr::null_mut());
    }
}

/// In the parent after [`fork_blocked`]: passes the forwarded signals on to
/// child `pid` (with `all` false, only SIGTERM and SIGHUP: the child then
/// shares the terminal, which sends it SIGINT and SIGQUIT itself, and the
/// parent ignores those), and waits for the child; returns its wait(2)
/// status.
pub fn wait_forwarding(pid: i32, all: bool) -> i32 {
    let forward = forward_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    for sig in FORWARDED {
        let terminal = sig == libc::SIGINT || sig == libc::SIGQUIT;
        set_handler(
            sig,
            if all || !terminal {
                forward
            } else {
                libc::SIG_IGN
            },
        );
    }
    let _ = block_forwarded(false);
    let mut status = 0;
    loop {
        // SAFETY: `status` is a writable int; `pid` is our child.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid || (rc < 0 && Errno::last().0 != libc::EINTR) {
            // Reaped: its pid may be another process's from now on.
            FORWARD_TO.store(0, Ordering::Relaxed);
            return if rc == pid { status } else { 1 << 8 };
        }
    }
}

/// Whether a forwarded signal arrived since asmctl started.
pub fn signalled() -> bool {
    SIGNALLED.load(Ordering::Relaxed)
}

/// Waits for child `pid`, whatever its status.
pub fn reap(pid: i32) {
    let _ = wait_forwarding(pid, true);
}

/// setsid(2): the calling process leads a new session, without a
/// controlling terminal. A freshly forked child always may.
pub fn setsid() -> Result<(), Errno> {
    // SAFETY: setsid takes no arguments.
    cvt(unsafe { libc::setsid() }).map(|_| ())
}

/// `prctl(PR_SET_NO_NEW_PRIVS)`: no set-user-id program or file capability
/// gives the calling process, or anything it execs, more privileges.
pub fn no_new_privs() -> Result<(), Errno> {
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integers only.
    cvt(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as libc::c_ulong, 0, 0, 0) }).map(|_| ())
}

/// How a command [`run_command`] ran ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    /// It exited with status 0.
    pub success: bool,
    /// The status a shell reports for it: its exit status, or 128 + the
    /// signal that ended it.
    pub code: u8,
}

/// Runs `program` (searched in `PATH`) with `args` and waits for it. The
/// child shares our stdin, stdout, stderr and process group; while it runs,
/// SIGINT and SIGQUIT are ignored here, as system(3) does, so that a Ctrl-C
/// from the terminal ends the command, and the caller still learns how it
/// ended. An error is the command's that could not be started.
pub fn run_command(program: &OsString, args: &[OsString]) -> Result<Ended, Errno> {
    let mut child = Command::new(program)
        .args(args)
        .spawn()
        .map_err(|e| Errno::from_io(&e))?;
    // After the fork: the child keeps the dispositions it had.
    let saved = [libc::SIGINT, libc::SIGQUIT].map(|sig| (sig, ignore_signal(sig)));
    let status = child.wait();
    for (sig, old) in saved {
        if let Some(old) = old {
            // SAFETY: `old` is the disposition sigaction returned for `sig`.
            unsafe { libc::sigaction(sig, &old, std::ptr::null_mut()) };
        }
    }
    let status = status.map_err(|e| Errno::from_io(&e))?;
    let code = match (status.code(), status.signal()) {
        (Some(code), _) => (code & 0xff) as u8,
        (None, Some(sig)) => (128 + (sig & 0x7f)) as u8,
        (None, None) => 1,
    };
    Ok(Ended {
        success: status.success(),
        code,
    })
}

/// Ignores `sig`; returns the disposition it had, if it could be changed.
fn ignore_signal(sig: libc::c_int) -> Option<libc::sigaction> {
    // SAFETY: all-zero bytes are a valid sigaction (SIG_DFL, no flags),
    // made SIG_IGN with an empty mask next.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = libc::SIG_IGN;
    // SAFETY: as above, for the one to read the old disposition into.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: `sa.sa_mask` is a valid sigset_t; `sa` and `old` are valid
    // for the call, which keeps no pointer to either.
    let rc = unsafe {
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(sig, &sa, &mut old)
    };
    (rc == 0).then_some(old)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(program: &str, args: &[&str]) -> Result<Ended, Errno> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        run_command(&OsString::from(program), &args)
    }

    /// SIGINT's handler now.
    fn sigint_handler() -> libc::sighandler_t {
        // SAFETY: all-zero bytes are a valid sigaction; a null new action
        // only reads the current one into it.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGINT, std::ptr::null(), &mut old);
            old.sa_sigaction
        }
    }

    #[test]
    fn a_command_ends_as_a_shell_reports_it() {
        let before = sigint_handler();
        let ended = |success, code| Ok(Ended { success, code });
        assert_eq!(run("true", &[]), ended(true, 0));
        assert_eq!(run("sh", &["-c", "exit 3"]), ended(false, 3));
        assert_eq!(run("sh", &["-c", "kill -TERM $$"]), ended(false, 143));
        assert_eq!(
            run("/nonexistent/asmctl-test", &[]),
            Err(Errno(libc::ENOENT))
        );
        // The dispositions are back as they were.
        assert_eq!(sigint_handler(), before);
    }
}
