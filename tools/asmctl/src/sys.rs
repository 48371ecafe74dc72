// SPDX-License-Identifier: GPL-2.0

//! Every system call asmctl makes: the ioctls on `/dev/asm`, reading
//! `CLOCK_BOOTTIME` and the local time zone, opening a cgroup directory,
//! and what `run` does before it execs a command (a new session,
//! `no_new_privs`).
//!
//! Nothing outside this file touches the kernel, so the parsing and
//! rendering code can be tested on a host without the asm module; this is
//! also the only file with `unsafe`.

use asm_abi::{
    AsmAgentInfo, AsmAuditEntry, AsmAuditRead, AsmCompliance, AsmFaultPolicy, AsmHeartbeat,
    AsmHistory, AsmJson, AsmList, AsmNote, AsmPatch, AsmRegister, AsmSensitive, AsmUnregister,
    AsmWindow, ASM_AUDIT_ENTRIES, ASM_DEVICE_PATH, ASM_HISTORY_WINDOWS, ASM_IOC_DECISION,
    ASM_IOC_GET_AGENT_INFO_JSON, ASM_IOC_GET_AUDIT, ASM_IOC_GET_COMPLIANCE,
    ASM_IOC_GET_FAULT_POLICY, ASM_IOC_GET_HISTORY, ASM_IOC_GET_INFO, ASM_IOC_GET_TELEMETRY_JSON,
    ASM_IOC_HEARTBEAT, ASM_IOC_LIST, ASM_IOC_OVERSIGHT, ASM_IOC_PATCH_POLICY, ASM_IOC_REGISTER,
    ASM_IOC_SENSITIVE, ASM_IOC_SET_FAULT_POLICY, ASM_IOC_UNREGISTER,
};
use std::ffi::{CStr, OsString};
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicI32, Ordering};

/// A failed system call's errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    fn from_io(e: &io::Error) -> Self {
        // Errors std makes up itself carry no errno; EIO is the closest.
        Errno(e.raw_os_error().unwrap_or(libc::EIO))
    }

    fn last() -> Self {
        Self::from_io(&io::Error::last_os_error())
    }
}

impl fmt::Display for Errno {
    /// strerror(3) text, without the "(os error N)" suffix std adds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 128];
        // SAFETY: `buf` is writable for `buf.len()` bytes, and the XSI
        // strerror_r the libc crate binds writes at most that many.
        let rc = unsafe { libc::strerror_r(self.0, buf.as_mut_ptr().cast(), buf.len()) };
        match CStr::from_bytes_until_nul(&buf) {
            Ok(text) if rc == 0 => write!(f, "{}", text.to_string_lossy()),
            _ => write!(f, "error {}", self.0),
        }
    }
}

/// How often a LIST or JSON request is retried when what it reads grew
/// between the call that sized the buffer and the next one.
const MAX_TRIES: usize = 8;
/// First guess for a JSON document: holds the telemetry of a few dozen agents.
const JSON_START: usize = 16 * 1024;
/// Extra room on top of the size the kernel asked for, so that a document
/// that grows by an event or two between calls still fits.
const JSON_SLACK: usize = 4096;
/// Larger than any document the module writes; stops a wrong `len` from
/// making us allocate without bound.
const JSON_MAX: usize = 64 << 20;
/// First guess for the number of agents.
const LIST_START: usize = 64;
/// Extra ids on top of the count the kernel reported.
const LIST_SLACK: usize = 16;
/// Larger than any sane number of agents; same purpose as [`JSON_MAX`].
const LIST_MAX: usize = 1 << 22;

/// Converts a buffer length to the ABI's `u32`. The buffers here are bounded
/// by [`JSON_MAX`] and [`LIST_MAX`], so clamping never shrinks them in
/// practice; it only keeps the claimed room within what we allocated.
fn room(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// An open `/dev/asm`.
pub struct Device(File);

impl Device {
    /// Opens `/dev/asm`, read-write if allowed, else read-only: reading
    /// needs no privilege, and the node's mode is the administrator's choice.
    pub fn open() -> Result<Self, Errno> {
        let rw = OpenOptions::new()
            .read(true)
            .write(true)
            .open(ASM_DEVICE_PATH);
        match rw {
            Ok(file) => Ok(Self(file)),
            Err(e) if Errno::from_io(&e) == Errno(libc::EACCES) => {
                let ro = File::open(ASM_DEVICE_PATH);
                ro.map(Self).map_err(|e| Errno::from_io(&e))
            }
            Err(e) => Err(Errno::from_io(&e)),
        }
    }

    /// Issues `request` with `arg`.
    ///
    /// # Safety
    ///
    /// `request` must be an `ASM_IOC_*` number whose argument type is `T`,
    /// and every user pointer inside `*arg` must be valid for the access the
    /// request makes through it.
    unsafe fn ioctl<T>(&self, request: u32, arg: &mut T) -> Result<(), Errno> {
        // SAFETY: `arg` is a live, exclusive borrow of the struct the
        // request expects (caller's contract), so the kernel reads and
        // writes only memory we own.
        let rc = unsafe { libc::ioctl(self.0.as_raw_fd(), request as _, std::ptr::from_mut(arg)) };
        if rc < 0 {
            Err(Errno::last())
        } else {
            Ok(())
        }
    }

    /// `ASM_IOC_REGISTER`; on success the kernel has filled in `agent_id`
    /// and `pid`.
    pub fn register(&self, req: &mut AsmRegister) -> Result<(), Errno> {
        // SAFETY: ASM_IOC_REGISTER takes a struct asm_register, which has no
        // pointers.
        unsafe { self.ioctl(ASM_IOC_REGISTER, req) }
    }

    /// `ASM_IOC_UNREGISTER`.
    pub fn unregister(&self, agent_id: u32) -> Result<(), Errno> {
        let mut req = AsmUnregister::new(agent_id);
        // SAFETY: ASM_IOC_UNREGISTER takes a struct asm_unregister, which
        // has no pointers.
        unsafe { self.ioctl(ASM_IOC_UNREGISTER, &mut req) }
    }

    /// `ASM_IOC_LIST`: every agent id, ascending. Retries with a larger
    /// array while the kernel answers `ERANGE`.
    pub fn list(&self) -> Result<Vec<u32>, Errno> {
        let mut ids = vec![0u32; LIST_START];
        for _ in 0..MAX_TRIES {
            let capacity = room(ids.len());
            let mut req = AsmList::new(ids.as_mut_ptr() as u64, capacity);
            // SAFETY: ASM_IOC_LIST takes a struct asm_list whose `ids`
            // points at `capacity` writable u32s: `ids` is that long and
            // outlives the call.
            match unsafe { self.ioctl(ASM_IOC_LIST, &mut req) } {
                Ok(()) => {
                    // `count` comes from the kernel: never trust it past
                    // what the array holds.
                    ids.truncate(req.count.min(capacity) as usize);
                    return Ok(ids);
                }
                Err(Errno(libc::ERANGE)) => {
                    let wanted = (req.count as usize).saturating_add(LIST_SLACK);
                    if wanted > LIST_MAX {
                        return Err(Errno(libc::ERANGE));
                    }
                    ids.resize(wanted.max(ids.len()), 0);
                }
                Err(e) => return Err(e),
            }
        }
        Err(Errno(libc::ERANGE))
    }

    /// `ASM_IOC_GET_INFO` for `agent_id`.
    pub fn info(&self, agent_id: u32) -> Result<AsmAgentInfo, Errno> {
        let mut info = AsmAgentInfo::new(agent_id);
        // SAFETY: ASM_IOC_GET_INFO takes a struct asm_agent_info, which has
        // no pointers.
        unsafe { self.ioctl(ASM_IOC_GET_INFO, &mut info) }?;
        Ok(info)
    }

    /// `ASM_IOC_GET_FAULT_POLICY` of `agent_id` (0: the defaults) with
    /// `flags` (0 or `ASM_FP_EFFECTIVE`).
    pub fn fault_policy(&self, agent_id: u32, flags: u32) -> Result<AsmFaultPolicy, Errno> {
        let mut policy = AsmFaultPolicy::new(agent_id, flags);
        // SAFETY: ASM_IOC_GET_FAULT_POLICY takes a struct asm_fault_policy,
        // which has no pointers.
        unsafe { self.ioctl(ASM_IOC_GET_FAULT_POLICY, &mut policy) }?;
        Ok(policy)
    }

    /// `ASM_IOC_SET_FAULT_POLICY` with `policy` as built by the caller.
    pub fn set_fault_policy(&self, policy: &AsmFaultPolicy) -> Result<(), Errno> {
        // The kernel only reads an _IOW argument; a copy keeps the caller's
        // value untouched all the same.
        let mut req = *policy;
        // SAFETY: ASM_IOC_SET_FAULT_POLICY takes a struct asm_fault_policy,
        // which has no pointers.
        unsafe { self.ioctl(ASM_IOC_SET_FAULT_POLICY, &mut req) }
    }

    /// `ASM_IOC_HEARTBEAT`: returns the caller's agent id.
    pub fn heartbeat(&self) -> Result<u32, Errno> {
        let mut req = AsmHeartbeat::new();
        // SAFETY: ASM_IOC_HEARTBEAT takes a struct asm_heartbeat, which has
        // no pointers.
        unsafe { self.ioctl(ASM_IOC_HEARTBEAT, &mut req) }?;
        Ok(req.agent_id)
    }

    /// `ASM_IOC_GET_HISTORY`: the reply (totals, `window_ms`, `throttled`)
    /// and `agent_id`'s newest windows, at most `capacity` (itself at most
    /// `ASM_HISTORY_WINDOWS`), oldest first.
    pub fn history(
        &self,
        agent_id: u32,
        capacity: usize,
    ) -> Result<(AsmHistory, Vec<AsmWindow>), Errno> {
        let mut windows = vec![AsmWindow::default(); capacity.min(ASM_HISTORY_WINDOWS)];
        let capacity = room(windows.len());
        let mut req = AsmHistory::new(agent_id, windows.as_mut_ptr() as u64, capacity);
        // SAFETY: ASM_IOC_GET_HISTORY takes a struct asm_history whose
        // `windows` points at `capacity` writable struct asm_window:
        // `windows` is that long and outlives the call.
        unsafe { self.ioctl(ASM_IOC_GET_HISTORY, &mut req) }?;
        // `count` comes from the kernel: never trust it past what the array
        // holds.
        windows.truncate(req.count.min(capacity) as usize);
        Ok((req, windows))
    }

    /// `ASM_IOC_PATCH_POLICY`; on success the kernel has filled in
    /// `audit_seq`.
    pub fn patch(&self, req: &mut AsmPatch) -> Result<(), Errno> {
        // SAFETY: ASM_IOC_PATCH_POLICY takes a struct asm_patch, which has
        // no pointers.
        unsafe { self.ioctl(ASM_IOC_PATCH_POLICY, req) }
    }

    /// `ASM_IOC_GET_AUDIT`: the reply (`first_seq`, `next_seq`, `dropped`)
    /// and up to `capacity` (itself at most `ASM_AUDIT_ENTRIES`) entries
    /// from `from_seq` on, oldest first.
    pub fn audit(
        &self,
        from_seq: u64,
        capacity: usize,
    ) -> Result<(AsmAuditRead, Vec<AsmAuditEntry>), Errno> {
        let mut entries = vec![AsmAuditEntry::ZERO; capacity.clamp(1, ASM_AUDIT_ENTRIES)];
        let capacity = room(entries.len());
        let mut req = AsmAuditRead::new(from_seq, entries.as_mut_ptr() as u64, capacity);
        // SAFETY: ASM_IOC_GET_AUDIT takes a struct asm_audit_read whose
        // `entries` points at `capacity` writable struct asm_audit_entry:
        // `entries` is that long and outlives the call.
        unsafe { self.ioctl(ASM_IOC_GET_AUDIT, &mut req) }?;
        // `count` comes from the kernel: never trust it past what the array
        // holds.
        entries.truncate(req.count.min(capacity) as usize);
        Ok((req, entries))
    }

    /// `ASM_IOC_GET_COMPLIANCE` for `agent_id`.
    pub fn compliance(&self, agent_id: u32) -> Result<AsmCompliance, Errno> {
        let mut req = AsmCompliance::new(agent_id);
        // SAFETY: ASM_IOC_GET_COMPLIANCE takes a struct asm_compliance,
        // which has no pointers.
        unsafe { self.ioctl(ASM_IOC_GET_COMPLIANCE, &mut req) }?;
        Ok(req)
    }

    /// `ASM_IOC_OVERSIGHT`; on success the kernel has filled in
    /// `audit_seq`.
    pub fn oversight(&self, req: &mut AsmNote) -> Result<(), Errno> {
        // SAFETY: ASM_IOC_OVERSIGHT takes a struct asm_note, which has no
        // pointers.
        unsafe { self.ioctl(ASM_IOC_OVERSIGHT, req) }
    }

    /// `ASM_IOC_DECISION`; on success the kernel has filled in `agent_id`
    /// and `audit_seq`.
    pub fn decision(&self, req: &mut AsmNote) -> Result<(), Errno> {
        // SAFETY: ASM_IOC_DECISION takes a struct asm_note, which has no
        // pointers.
        unsafe { self.ioctl(ASM_IOC_DECISION, req) }
    }

    /// `ASM_IOC_SENSITIVE`; the kernel fills in `count` (and `path` for
    /// GET).
    pub fn sensitive(&self, req: &mut AsmSensitive) -> Result<(), Errno> {
        // SAFETY: ASM_IOC_SENSITIVE takes a struct asm_sensitive, which has
        // no pointers.
        unsafe { self.ioctl(ASM_IOC_SENSITIVE, req) }
    }

    /// `ASM_IOC_GET_TELEMETRY_JSON`: the system telemetry document.
    pub fn telemetry_json(&self) -> Result<Vec<u8>, Errno> {
        self.json(ASM_IOC_GET_TELEMETRY_JSON, 0)
    }

    /// `ASM_IOC_GET_AGENT_INFO_JSON`: `agent_id`'s document.
    pub fn agent_info_json(&self, agent_id: u32) -> Result<Vec<u8>, Errno> {
        self.json(ASM_IOC_GET_AGENT_INFO_JSON, agent_id)
    }

    /// One of the JSON requests. On `ERANGE` the kernel has set `len` to the
    /// size it needs; the document can still grow before the retry, hence
    /// the slack and the loop.
    fn json(&self, request: u32, agent_id: u32) -> Result<Vec<u8>, Errno> {
        let mut buf = vec![0u8; JSON_START];
        for _ in 0..MAX_TRIES {
            let len = room(buf.len());
            let mut req = AsmJson::new(agent_id, buf.as_mut_ptr() as u64, len);
            // SAFETY: `request` is one of the two JSON ioctls, which take a
            // struct asm_json whose `buf` points at `len` writable bytes:
            // `buf` is that long and outlives the call.
            match unsafe { self.ioctl(request, &mut req) } {
                Ok(()) => {
                    buf.truncate(req.len.min(len) as usize);
                    return Ok(buf);
                }
                Err(Errno(libc::ERANGE)) => {
                    let wanted = (req.len as usize).saturating_add(JSON_SLACK);
                    if wanted > JSON_MAX {
                        return Err(Errno(libc::ERANGE));
                    }
                    buf.resize(wanted.max(buf.len()), 0);
                }
                Err(e) => return Err(e),
            }
        }
        Err(Errno(libc::ERANGE))
    }
}

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

/// Opens a cgroup v2 directory for `ASM_TARGET_CGROUP` (O_RDONLY |
/// O_DIRECTORY; std adds O_CLOEXEC).
pub fn open_dir(path: &Path) -> Result<OwnedFd, Errno> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(path)
        .map(OwnedFd::from)
        .map_err(|e| Errno::from_io(&e))
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

/// Converts a libc return value to a `Result`, taking errno on -1.
fn cvt(rc: libc::c_int) -> Result<libc::c_int, Errno> {
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(rc)
    }
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
