// SPDX-License-Identifier: GPL-2.0

//! Every system call asmctl makes: the ioctls on `/dev/asm` and opening a
//! cgroup directory (both from `asm-sys`, shared with asmd and re-exported
//! here), reading `CLOCK_BOOTTIME` and the local time zone, what `run`
//! does before it execs a command (a new session, `no_new_privs`), and
//! running the command `profile time` times.
//!
//! Nothing outside this file touches the kernel, so the parsing and
//! rendering code can be tested on a host without the asm module; this is
//! also the only file of asmctl with `unsafe`.

pub use asm_sys::{open_dir, Device, Errno};

use asm_sys::cvt;
use std::ffi::OsString;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};

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
/// The pid stays the same, which is what lets `asmctl run` register itself
/// and then become the agent. Returns only on failure.
pub fn exec(program: &OsString, args: &[OsString]) -> Errno {
    // Command::exec execs in place (no fork) and also restores SIGPIPE,
    // which the Rust runtime ignores, to its default for the new program.
    let e = Command::new(program).args(args).exec();
    Errno::from_io(&e)
}

/// The signals the waiting parent of [`new_session`] passes on to the
/// agent: what a terminal (Ctrl-C, Ctrl-\\, hangup) or `kill` sends to the
/// foreground job to stop it.
const FORWARDED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// The pid the parent forwards signals to (0: none yet).
static FORWARD_TO: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward_signal(sig: libc::c_int) {
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

/// Puts the process that goes on to become the agent in a new session
/// (setsid), so that it has no controlling terminal: it cannot open
/// `/dev/tty`, and `TIOCSTI` on a terminal it inherited as stdin is
/// refused (`EPERM`: not its controlling terminal), so it cannot type
/// commands into the shell that started it.
///
/// A process group leader (a job of an interactive shell) cannot make a
/// new session: then asmctl forks. The child makes the session and
/// returns, to register itself and exec the command; the parent never
/// returns: it stays the shell's job, passes SIGINT, SIGTERM, SIGHUP and
/// SIGQUIT on to the child, and exits with the child's exit status (128 +
/// the signal if a signal ended it).
pub fn new_session() -> Result<(), Errno> {
    // SAFETY: setsid takes no arguments.
    if unsafe { libc::setsid() } >= 0 {
        return Ok(());
    }
    let e = Errno::last();
    if e.0 != libc::EPERM {
        return Err(e);
    }
    // Block the forwarded signals across the fork, so that none arrives
    // at the parent before it knows whom to forward it to.
    let set = forwarded_set();
    let mut old = forwarded_set();
    // SAFETY: `set` is initialised and `old` writable; asmctl has one
    // thread, so the process mask is this thread's.
    cvt(unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, &mut old) })?;
    // SAFETY: asmctl is single-threaded, so the child is a complete copy
    // that may go on running Rust code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = Errno::last();
        // SAFETY: restoring the mask saved above.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
        return Err(e);
    }
    if pid == 0 {
        // SAFETY: restoring the mask saved above; then setsid, which a
        // fresh child (never a group leader) may call.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
        // SAFETY: setsid takes no arguments.
        cvt(unsafe { libc::setsid() })?;
        return Ok(());
    }
    FORWARD_TO.store(pid, Ordering::Relaxed);
    for sig in FORWARDED {
        // SAFETY: all-zero bytes are a valid sigaction; the handler only
        // calls kill, which is async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = forward_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
    // SAFETY: restoring the mask saved above.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, &old, std::ptr::null_mut()) };
    let mut status = 0;
    loop {
        // SAFETY: `status` is a writable int; `pid` is our child.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            break;
        }
        if rc < 0 && Errno::last().0 != libc::EINTR {
            std::process::exit(1);
        }
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    std::process::exit(code)
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
