// SPDX-License-Identifier: GPL-2.0

//! Every system call asmd makes beyond plain file I/O: the ioctls on
//! `/dev/asm` and opening a cgroup directory (both from `asm-sys`, shared
//! with asmctl and re-exported here), the generic netlink socket, the lock
//! file, the signalfd, poll, statfs, and forking an agent into its cgroup.
//!
//! This is the only file of asmd with `unsafe`; the rest of asmd (spec
//! parsing, netlink decoding, the reconcile decision) is plain code that
//! the unit tests run without the module.

pub use asm_sys::{clear_capabilities, drop_bounding_set, open_dir, Device, Errno};

use asm_landlock::{Outcome, Ruleset};
use asm_sys::cvt;
use std::ffi::{CStr, CString};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// A path as a C string; a path with a NUL byte cannot name a file.
fn cpath(path: &Path) -> Result<CString, Errno> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno(libc::EINVAL))
}

// ---------------------------------------------------------------------------
// The single-instance lock

/// Why the lock was not taken.
#[derive(Debug)]
pub enum LockError {
    /// Another process holds it.
    Busy,
    /// Opening or locking the file failed.
    Failed(Errno),
}

/// The lock file, held with `flock(LOCK_EX)` for as long as this lives.
///
/// The lock belongs to the open file description, which is close-on-exec:
/// agents asmd starts do not inherit it, so a dead asmd never leaves its
/// lock held by its children.
pub struct LockFile(File);

impl LockFile {
    /// Opens (creating) `path` and locks it without waiting; on success
    /// writes our pid into it for people looking for the running asmd.
    pub fn lock(path: &Path) -> Result<Self, LockError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(path)
            .map_err(|e| LockError::Failed(Errno::from_io(&e)))?;
        // SAFETY: flock on an fd we own; no memory is passed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc < 0 {
            let e = Errno::last();
            return Err(if e.0 == libc::EWOULDBLOCK {
                LockError::Busy
            } else {
                LockError::Failed(e)
            });
        }
        let mut lock = Self(file);
        // The pid is only informative: failing to write it is no reason to
        // give up the lock.
        let _ = lock.write_pid();
        Ok(lock)
    }

    fn write_pid(&mut self) -> io::Result<()> {
        self.0.set_len(0)?;
        writeln!(&self.0, "{}", std::process::id())
    }
}

// ---------------------------------------------------------------------------
// Users and groups

/// The C library's passwd and group databases (files, or whatever
/// nsswitch.conf says), for the specs' `user` and `group`.
pub struct SystemAccounts;

/// Calls a `get*_r` function with a buffer that grows on `ERANGE`; returns
/// whether an entry was found. `call` gets the buffer and returns the
/// function's result with the result pointer's null-ness.
fn with_buffer(
    what: &str,
    mut call: impl FnMut(&mut [libc::c_char]) -> (libc::c_int, bool),
) -> Result<bool, String> {
    let mut buf = vec![0 as libc::c_char; 1024];
    loop {
        let (rc, found) = call(&mut buf);
        match rc {
            0 => return Ok(found),
            libc::ERANGE if buf.len() < (1 << 20) => buf.resize(buf.len() * 4, 0),
            // "Not found" may also come as one of these, per getpwnam_r(3).
            libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM => return Ok(false),
            e => return Err(format!("looking up {what}: {}", Errno(e))),
        }
    }
}

impl SystemAccounts {
    fn passwd(
        what: &str,
        call: impl Fn(*mut libc::passwd, &mut [libc::c_char], *mut *mut libc::passwd) -> libc::c_int,
    ) -> Result<Option<(u32, u32, String)>, String> {
        // SAFETY: all-zero bytes are a valid `struct passwd` (integers and
        // null pointers).
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let found = with_buffer(what, |buf| {
            let rc = call(&mut pw, buf, &mut result);
            (rc, !result.is_null())
        })?;
        if !found {
            return Ok(None);
        }
        // SAFETY: on success pw_name points into the buffer, which is still
        // alive, and is NUL-terminated.
        let name = unsafe { CStr::from_ptr(pw.pw_name) }
            .to_string_lossy()
            .into_owned();
        Ok(Some((pw.pw_uid, pw.pw_gid, name)))
    }
}

impl crate::spec::Accounts for SystemAccounts {
    fn user_by_name(&self, name: &str) -> Result<Option<(u32, u32)>, String> {
        let Ok(c) = CString::new(name) else {
            return Ok(None);
        };
        let what = format!("user {name:?}");
        Ok(Self::passwd(&what, |pw, buf, result| {
            // SAFETY: `c` is NUL-terminated, `pw` and `result` are writable,
            // and `buf` is writable for the length passed.
            unsafe { libc::getpwnam_r(c.as_ptr(), pw, buf.as_mut_ptr(), buf.len(), result) }
        })?
        .map(|(uid, gid, _)| (uid, gid)))
    }

    fn user_by_uid(&self, uid: u32) -> Result<Option<(String, u32)>, String> {
        let what = format!("uid {uid}");
        Ok(Self::passwd(&what, |pw, buf, result| {
            // SAFETY: `pw` and `result` are writable, and `buf` is writable
            // for the length passed.
            unsafe { libc::getpwuid_r(uid, pw, buf.as_mut_ptr(), buf.len(), result) }
        })?
        .map(|(_, gid, name)| (name, gid)))
    }

    fn group_by_name(&self, name: &str) -> Result<Option<u32>, String> {
        let Ok(c) = CString::new(name) else {
            return Ok(None);
        };
        // SAFETY: all-zero bytes are a valid `struct group`.
        let mut gr: libc::group = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::group = std::ptr::null_mut();
        let found = with_buffer(&format!("group {name:?}"), |buf| {
            // SAFETY: `c` is NUL-terminated, `gr` and `result` are writable,
            // and `buf` is writable for the length passed.
            let rc = unsafe {
                libc::getgrnam_r(
                    c.as_ptr(),
                    &mut gr,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut result,
                )
            };
            (rc, !result.is_null())
        })?;
        Ok(found.then_some(gr.gr_gid))
    }
}

/// asmd's effective uid: the owner its own agents have.
pub fn euid() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

// ---------------------------------------------------------------------------
// cgroup v2

/// Whether `path` is the root of a cgroup v2 file system (or inside one).
pub fn is_cgroup2(path: &Path) -> Result<bool, Errno> {
    let c = cpath(path)?;
    // SAFETY: all-zero bytes are a valid `struct statfs`.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and `st` is a writable statfs.
    cvt(unsafe { libc::statfs(c.as_ptr(), &mut st) })?;
    // libc gives the magic f_type's type on each architecture.
    Ok(st.f_type == libc::CGROUP2_SUPER_MAGIC)
}

// ---------------------------------------------------------------------------
// Generic netlink socket

/// What one `recv` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes written to the buffer.
    pub len: usize,
    /// The datagram was longer than the buffer and was cut.
    pub truncated: bool,
    /// It came from the kernel (netlink port 0), not from another process.
    pub from_kernel: bool,
}

/// A `NETLINK_GENERIC` socket, bound to a port the kernel picks.
pub struct NlSocket(OwnedFd);

impl NlSocket {
    /// `socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC)` and
    /// `bind` with port 0.
    pub fn open_generic() -> Result<Self, Errno> {
        // SAFETY: plain socket(2); the fd is owned below.
        let fd = cvt(unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_GENERIC,
            )
        })?;
        // SAFETY: `fd` was just returned by socket(2) and nothing else owns it.
        let sock = Self(unsafe { OwnedFd::from_raw_fd(fd) });
        let addr = Self::kernel_addr();
        // SAFETY: `addr` is a valid sockaddr_nl of the length passed; port 0
        // asks the kernel to pick ours.
        cvt(unsafe {
            libc::bind(
                sock.fd(),
                std::ptr::from_ref(&addr).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        })?;
        Ok(sock)
    }

    /// The address of the kernel (also what `bind` takes for "pick a port").
    fn kernel_addr() -> libc::sockaddr_nl {
        // SAFETY: all-zero bytes are a valid sockaddr_nl.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        addr
    }

    /// The socket's fd, for poll.
    pub fn fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    fn setsockopt_int(&self, level: i32, name: i32, value: i32) -> Result<(), Errno> {
        // SAFETY: `value` is a readable int of the length passed.
        cvt(unsafe {
            libc::setsockopt(
                self.fd(),
                level,
                name,
                std::ptr::from_ref(&value).cast(),
                std::mem::size_of::<i32>() as libc::socklen_t,
            )
        })
        .map(|_| ())
    }

    /// Joins multicast group `group` (`NETLINK_ADD_MEMBERSHIP`).
    pub fn add_membership(&self, group: u32) -> Result<(), Errno> {
        let group = i32::try_from(group).map_err(|_| Errno(libc::EINVAL))?;
        self.setsockopt_int(libc::SOL_NETLINK, libc::NETLINK_ADD_MEMBERSHIP, group)
    }

    /// Asks for a receive buffer of `bytes`: past `rmem_max` when we may
    /// (`SO_RCVBUFFORCE` needs `CAP_NET_ADMIN`), else as much as allowed.
    pub fn set_rcvbuf(&self, bytes: i32) -> Result<(), Errno> {
        self.setsockopt_int(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, bytes)
            .or_else(|_| self.setsockopt_int(libc::SOL_SOCKET, libc::SO_RCVBUF, bytes))
    }

    /// Sends one request to the kernel.
    pub fn send_to_kernel(&self, msg: &[u8]) -> Result<(), Errno> {
        let addr = Self::kernel_addr();
        // SAFETY: `msg` is readable for its length and `addr` is a valid
        // sockaddr_nl of the length passed.
        let n = unsafe {
            libc::sendto(
                self.fd(),
                msg.as_ptr().cast(),
                msg.len(),
                0,
                std::ptr::from_ref(&addr).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(Errno::last());
        }
        if n as usize != msg.len() {
            return Err(Errno(libc::EIO));
        }
        Ok(())
    }

    /// Receives one datagram without waiting (`EAGAIN` when there is none).
    /// `ENOBUFS` means the kernel dropped messages for this socket.
    pub fn recv(&self, buf: &mut [u8]) -> Result<Received, Errno> {
        let mut addr = Self::kernel_addr();
        let mut addr_len = std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t;
        // SAFETY: `buf` is writable for its length; `addr` is a writable
        // sockaddr_nl and `addr_len` says how long. MSG_TRUNC makes the
        // return value the datagram's real length.
        let n = unsafe {
            libc::recvfrom(
                self.fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                std::ptr::from_mut(&mut addr).cast(),
                &mut addr_len,
            )
        };
        if n < 0 {
            return Err(Errno::last());
        }
        let n = n as usize;
        Ok(Received {
            len: n.min(buf.len()),
            truncated: n > buf.len(),
            from_kernel: addr.nl_pid == 0,
        })
    }
}

// ---------------------------------------------------------------------------
// Signals, poll, children

/// Opens `/dev/null` on whichever of fds 0, 1 and 2 is closed, so that no
/// file asmd opens later lands there and gets mixed up with an agent's
/// stdio.
pub fn ensure_std_fds() {
    for fd in 0..3 {
        // SAFETY: F_GETFD on any number only reads the fd table.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
            // SAFETY: open(2) with a NUL-terminated path; the lowest free fd,
            // this one, is what it returns, and it is meant to stay open.
            unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        }
    }
}

/// SIGTERM and SIGINT, blocked and readable from a signalfd, so that the
/// event loop sees them between two events and never in the middle of one.
pub struct Signals(OwnedFd);

impl Signals {
    /// Blocks SIGTERM and SIGINT and opens a signalfd for them.
    pub fn block_term() -> Result<Self, Errno> {
        // SAFETY: all-zero bytes are a valid sigset_t, initialised next.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a valid, writable sigset_t.
        unsafe {
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigaddset(&mut set, libc::SIGINT);
        }
        // SAFETY: `set` is initialised; asmd has a single thread, so the
        // process mask is this thread's.
        cvt(unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) })?;
        // SAFETY: -1 creates a new signalfd for the initialised `set`.
        let fd = cvt(unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) })?;
        // SAFETY: `fd` was just returned by signalfd and nothing else owns it.
        Ok(Self(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// The signalfd, for poll.
    pub fn fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    /// The next pending signal, if any.
    pub fn read(&self) -> Option<i32> {
        // SAFETY: all-zero bytes are a valid signalfd_siginfo.
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let len = std::mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: `info` is writable for `len` bytes.
        let n = unsafe { libc::read(self.fd(), std::ptr::from_mut(&mut info).cast(), len) };
        (n == len as isize).then_some(info.ssi_signo as i32)
    }
}

/// Waits up to `timeout_ms` for one of `fds` to become readable; returns
/// which are. A signal interrupting the wait counts as a timeout.
pub fn poll_readable(fds: &[RawFd], timeout_ms: i32) -> Result<Vec<bool>, Errno> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    // SAFETY: `pfds` is a writable array of `pfds.len()` pollfds.
    let rc = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
    if rc < 0 {
        let e = Errno::last();
        if e.0 == libc::EINTR {
            return Ok(vec![false; fds.len()]);
        }
        return Err(e);
    }
    Ok(pfds.iter().map(|p| p.revents != 0).collect())
}

/// Reaps every child that has exited, without waiting for the others.
/// asmd does not need their status (the module saw the exit), but an
/// unreaped child stays a zombie.
pub fn reap_children() {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a writable int; WNOHANG never blocks.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            // 0: children left, none exited; -1: ECHILD, none left.
            return;
        }
    }
}

/// Which step of starting an agent failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnStep {
    /// Opening the log file (parent).
    Log,
    /// Preparing the arguments, `/dev/null` or the pipe (parent).
    Prepare,
    /// `fork`.
    Fork,
    /// Writing "0" to the agent cgroup's `cgroup.procs` (child).
    JoinCgroup,
    /// Setting up the session and stdio (child).
    Setup,
    /// Dropping the supplementary groups, then setting the gid and uid
    /// (child).
    Credentials,
    /// Emptying the capability bounding, ambient and process sets (child).
    Capabilities,
    /// `PR_SET_NO_NEW_PRIVS` (child).
    NoNewPrivs,
    /// Enforcing the agent's Landlock ruleset (child).
    Landlock,
    /// `execvp` (child).
    Exec,
}

impl SpawnStep {
    fn from_byte(b: u8) -> Self {
        match b {
            1 => Self::JoinCgroup,
            2 => Self::Setup,
            4 => Self::Landlock,
            5 => Self::Credentials,
            6 => Self::NoNewPrivs,
            7 => Self::Capabilities,
            _ => Self::Exec,
        }
    }

    fn to_byte(self) -> u8 {
        match self {
            Self::JoinCgroup => 1,
            Self::Setup => 2,
            Self::Landlock => 4,
            Self::Credentials => 5,
            Self::NoNewPrivs => 6,
            Self::Capabilities => 7,
            _ => 3,
        }
    }
}

/// A started agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spawned {
    /// Its pid.
    pub pid: i32,
    /// What its Landlock ruleset enforces, as the child found when it
    /// enforced it; `None` when it was started without one.
    pub landlock: Option<Outcome>,
}

/// A failed start: the step and its errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpawnError {
    /// What failed.
    pub step: SpawnStep,
    /// Why.
    pub errno: Errno,
}

/// The user and group an agent runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Credentials {
    /// Its uid (real, effective and saved).
    pub uid: u32,
    /// Its gid (real, effective and saved); it has no supplementary groups.
    pub gid: u32,
}

/// What the child needs, prepared before `fork` so that the child only
/// makes system calls: no allocation, no locks.
struct ChildPlan<'a> {
    argv: &'a [*const libc::c_char],
    procs: &'a CStr,
    stdin: RawFd,
    log: RawFd,
    report: RawFd,
    landlock: Option<&'a Ruleset>,
    creds: Credentials,
    /// Whether to call setgroups(0, NULL). It needs CAP_SETGID, which a
    /// root asmd has; an asmd run by another user can only start agents as
    /// itself, and they keep its groups.
    drop_groups: bool,
}

/// Starts `argv` (searched in `PATH`) as a process of the cgroup whose
/// `cgroup.procs` file is `procs`: the child moves itself into the cgroup
/// before it execs, so the module counts it from its first instruction. It
/// runs in a new session with stdin from `/dev/null` and stdout and stderr
/// appended to `log`, then drops its privileges to `creds` (no
/// supplementary groups, then the gid, then the uid), gives up every
/// capability (an agent's powers are its ASM capabilities, even as root)
/// and sets `PR_SET_NO_NEW_PRIVS`, so that no set-id program gives it
/// more. With
/// `landlock`, it enforces that ruleset last, right before the exec.
/// Returns the child's pid once it has exec'd, with what its ruleset
/// enforces.
///
/// Joining the cgroup comes before dropping privileges: the cgroup's
/// `cgroup.procs` is writable by asmd's user only, so the agent cannot
/// move itself out again.
///
/// The child reports through a close-on-exec pipe, in records of five
/// bytes: what its ruleset enforces once it is in force ([`LANDLOCK_RECORD`]),
/// and a failure (the step and its errno), so the caller learns of it at
/// once; such a child exits with status 127, inside the cgroup when it got
/// that far (the module counts that as a crash).
pub fn spawn_in_cgroup(
    argv: &[String],
    procs: &Path,
    log: &Path,
    landlock: Option<&Ruleset>,
    creds: Credentials,
) -> Result<Spawned, SpawnError> {
    let prepare = |errno| SpawnError {
        step: SpawnStep::Prepare,
        errno,
    };
    let c_args: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|_| prepare(Errno(libc::EINVAL)))?;
    if c_args.is_empty() {
        return Err(prepare(Errno(libc::EINVAL)));
    }
    let mut c_argv: Vec<*const libc::c_char> = c_args.iter().map(|a| a.as_ptr()).collect();
    c_argv.push(std::ptr::null());
    let procs = cpath(procs).map_err(prepare)?;
    let log = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o640)
        .open(log)
        .map_err(|e| SpawnError {
            step: SpawnStep::Log,
            errno: Errno::from_io(&e),
        })?;
    let devnull = File::open("/dev/null").map_err(|e| prepare(Errno::from_io(&e)))?;
    let mut pipe = [0; 2];
    // SAFETY: `pipe` is a writable array of two ints.
    cvt(unsafe { libc::pipe2(pipe.as_mut_ptr(), libc::O_CLOEXEC) }).map_err(prepare)?;
    // SAFETY: pipe2 returned two new fds that nothing else owns.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(pipe[0]), OwnedFd::from_raw_fd(pipe[1])) };

    let plan = ChildPlan {
        argv: &c_argv,
        procs: &procs,
        stdin: devnull.as_raw_fd(),
        log: log.as_raw_fd(),
        report: wr.as_raw_fd(),
        landlock,
        creds,
        drop_groups: euid() == 0,
    };
    // SAFETY: asmd is single-threaded, so the child is a complete copy of
    // it; the child only runs `child_main`, which makes system calls on
    // data prepared above and never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(SpawnError {
            step: SpawnStep::Fork,
            errno: Errno::last(),
        });
    }
    if pid == 0 {
        // SAFETY: we are the freshly forked child.
        unsafe { child_main(&plan) }
    }
    drop(wr);
    drop(log);
    drop(devnull);

    // EOF: the exec closed the pipe, the program runs. Before it, with a
    // ruleset, its outcome; then, if the start failed, five bytes: the
    // child's step and errno.
    let mut msg = [0u8; 10];
    let mut got = 0;
    while got < msg.len() {
        // SAFETY: `msg[got..]` is writable for the length passed.
        let n = unsafe {
            libc::read(
                rd.as_raw_fd(),
                msg[got..].as_mut_ptr().cast(),
                msg.len() - got,
            )
        };
        if n < 0 && Errno::last().0 == libc::EINTR {
            continue;
        }
        if n <= 0 {
            break;
        }
        got += n as usize;
    }
    let mut failure = &msg[..got];
    let mut outcome = None;
    if got >= 5 && msg[0] == LANDLOCK_RECORD {
        outcome = Outcome::from_bytes([msg[1], msg[2]]);
        failure = &msg[5..got];
    }
    if failure.is_empty() {
        return Ok(Spawned {
            pid,
            landlock: outcome,
        });
    }
    // The child exits right after reporting: reap it now rather than leave
    // it to the loop.
    let mut status = 0;
    // SAFETY: `status` is a writable int; `pid` is our child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    let errno = match failure {
        [_, a, b, c, d] => i32::from_ne_bytes([*a, *b, *c, *d]),
        _ => libc::EIO,
    };
    Err(SpawnError {
        step: SpawnStep::from_byte(failure[0]),
        errno: Errno(errno),
    })
}

/// The tag of the child's record saying what its Landlock ruleset
/// enforces ([`Outcome::to_bytes`] follows, then two zero bytes); the
/// failure records start with a [`SpawnStep`], never 0.
const LANDLOCK_RECORD: u8 = 0;

/// The child's side of [`spawn_in_cgroup`].
///
/// # Safety
///
/// Must only be called in a child just forked from a single-threaded
/// process; it never returns.
unsafe fn child_main(plan: &ChildPlan<'_>) -> ! {
    let fail_with = |step: SpawnStep, errno: i32| -> ! {
        let errno = errno.to_ne_bytes();
        let msg = [step.to_byte(), errno[0], errno[1], errno[2], errno[3]];
        // SAFETY: writing our own buffer to the pipe, then exiting without
        // running the parent's atexit handlers or destructors.
        unsafe {
            libc::write(plan.report, msg.as_ptr().cast(), msg.len());
            libc::_exit(127)
        }
    };
    let fail = |step: SpawnStep| -> ! { fail_with(step, Errno::last().0) };

    // SAFETY: the whole block makes system calls on fds and C strings
    // that the parent prepared and that stay valid in this copy of its
    // memory.
    unsafe {
        // Join the agent's cgroup first: everything after this, the exec
        // included, already belongs to the agent.
        let fd = libc::open(plan.procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
            fail(SpawnStep::JoinCgroup);
        }
        libc::close(fd);

        // A clean signal state: asmd blocks SIGTERM/SIGINT for its signalfd
        // and the Rust runtime ignores SIGPIPE; both would be inherited.
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);

        // Its own session: no terminal, and a signal to asmd's process
        // group (Ctrl-C) does not reach it.
        if libc::setsid() < 0 {
            fail(SpawnStep::Setup);
        }
        for (from, to) in [(plan.stdin, 0), (plan.log, 1), (plan.log, 2)] {
            if dup_to(from, to) < 0 {
                fail(SpawnStep::Setup);
            }
        }
        // The agent's own user: groups first (setgroups needs the
        // privilege the uid change gives up), then the gid, then the uid;
        // real, effective and saved alike, so there is no way back.
        let Credentials { uid, gid } = plan.creds;
        if plan.drop_groups && libc::setgroups(0, std::ptr::null()) < 0 {
            fail(SpawnStep::Credentials);
        }
        // No capability reaches the agent, root's included: the bounding
        // and ambient sets go while the child still has CAP_SETPCAP (so
        // that no exec gives one back, a uid 0 exec included), the
        // process's own sets after the uid change (which clears them for
        // any other uid).
        if let Err(errno) = drop_bounding_set() {
            fail_with(SpawnStep::Capabilities, errno.0);
        }
        if libc::setresgid(gid, gid, gid) < 0 || libc::setresuid(uid, uid, uid) < 0 {
            fail(SpawnStep::Credentials);
        }
        // A process that gave up root must not get it back.
        if uid != 0 && libc::setuid(0) == 0 {
            *libc::__errno_location() = libc::EPERM;
            fail(SpawnStep::Credentials);
        }
        if let Err(errno) = clear_capabilities() {
            fail_with(SpawnStep::Capabilities, errno.0);
        }
        // No set-id or file-capability program gives the agent more than
        // it has now, whoever it runs as.
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as libc::c_ulong, 0, 0, 0) < 0 {
            fail(SpawnStep::NoNewPrivs);
        }
        // Landlock last: the ruleset governs opening files, and the files
        // above are open already. It was built in asmd, so this is system
        // calls only (Ruleset::restrict_self says which); then the parent
        // learns what it enforces, through the pipe opened before.
        if let Some(ruleset) = plan.landlock {
            match ruleset.restrict_self() {
                Ok(outcome) => {
                    let [abi, enforcement] = outcome.to_bytes();
                    let msg = [LANDLOCK_RECORD, abi, enforcement, 0, 0];
                    if libc::write(plan.report, msg.as_ptr().cast(), msg.len()) != 5 {
                        fail(SpawnStep::Landlock);
                    }
                }
                Err(errno) => fail_with(SpawnStep::Landlock, errno),
            }
        }
        libc::execvp(plan.argv[0], plan.argv.as_ptr());
        fail(SpawnStep::Exec)
    }
}

/// `dup2(from, to)` that also leaves `to` open across exec when the two are
/// the same fd (dup2 then does nothing, and `from` is close-on-exec).
///
/// # Safety
///
/// Plain system calls on fds; safe to call in a forked child.
unsafe fn dup_to(from: RawFd, to: RawFd) -> libc::c_int {
    if from == to {
        // SAFETY: fcntl on an fd we hold.
        unsafe { libc::fcntl(to, libc::F_SETFD, 0) }
    } else {
        // SAFETY: dup2 on fds we hold.
        unsafe { libc::dup2(from, to) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A scratch directory for one test.
    fn scratch(name: &str) -> PathBuf {
        let dir = asm_testutil::tmpdir(&std::env::temp_dir().to_string_lossy())
            .join(format!("asmd-sys-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Waits for our child `pid`; returns its wait status.
    fn wait(pid: i32) -> i32 {
        let mut status = 0;
        // SAFETY: `status` is a writable int.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        status
    }

    fn sh(script: &str) -> Vec<String> {
        ["/bin/sh", "-c", script].map(String::from).to_vec()
    }

    /// The test's own uid and gid: starting an agent as them changes
    /// nothing but the supplementary groups.
    fn me() -> Credentials {
        // SAFETY: getegid cannot fail and touches no memory.
        let gid = unsafe { libc::getegid() };
        Credentials { uid: euid(), gid }
    }

    /// The `/proc/self/status` line `key` of the program the log's run
    /// printed, without the key.
    fn status_line<'a>(out: &'a str, key: &str) -> &'a str {
        out.lines()
            .find_map(|l| l.strip_prefix(key))
            .map_or("<missing>", str::trim)
    }

    #[test]
    fn spawn_drops_to_the_agents_user_with_no_new_privs() {
        if euid() != 0 {
            return asm_testutil::skip(
                "spawn_drops_to_the_agents_user_with_no_new_privs",
                "changing users needs root",
            );
        }
        let dir = scratch("creds");
        let procs = dir.join("cgroup.procs");
        std::fs::write(&procs, "").unwrap();
        let log = dir.join("9.log");
        let grep = [
            "grep",
            "-E",
            "^(Uid|Gid|Groups|NoNewPrivs):",
            "/proc/self/status",
        ]
        .map(String::from);
        let nobody = Credentials {
            uid: 65534,
            gid: 65533,
        };
        let pid = spawn_in_cgroup(&grep, &procs, &log, None, nobody)
            .unwrap()
            .pid;
        assert_eq!(wait(pid), 0);
        let out = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            status_line(&out, "Uid:"),
            "65534\t65534\t65534\t65534",
            "{out}"
        );
        assert_eq!(
            status_line(&out, "Gid:"),
            "65533\t65533\t65533\t65533",
            "{out}"
        );
        assert_eq!(status_line(&out, "Groups:"), "", "{out}");
        assert_eq!(status_line(&out, "NoNewPrivs:"), "1", "{out}");
        // The cgroup was joined as root, before the change.
        assert_eq!(std::fs::read_to_string(&procs).unwrap(), "0");

        // Root only when asked for, and then without supplementary groups
        // but still with no new privileges.
        std::fs::write(&log, "").unwrap();
        let root = Credentials { uid: 0, gid: 0 };
        let pid = spawn_in_cgroup(&grep, &procs, &log, None, root)
            .unwrap()
            .pid;
        assert_eq!(wait(pid), 0);
        let out = std::fs::read_to_string(&log).unwrap();
        assert_eq!(status_line(&out, "Uid:"), "0\t0\t0\t0", "{out}");
        assert_eq!(status_line(&out, "Groups:"), "", "{out}");
        assert_eq!(status_line(&out, "NoNewPrivs:"), "1", "{out}");

        // A program the agent's user may not run fails the start at the
        // exec, as that user.
        let private = dir.join("private");
        std::fs::write(&private, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(
            &private,
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        let e = spawn_in_cgroup(&[private.display().to_string()], &procs, &log, None, nobody)
            .unwrap_err();
        assert_eq!((e.step, e.errno), (SpawnStep::Exec, Errno(libc::EACCES)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn spawn_joins_first_then_runs_in_a_clean_session_with_the_log() {
        let dir = scratch("spawn");
        // A plain file stands in for cgroup.procs: what the child writes
        // there is what the cgroup would get.
        let procs = dir.join("cgroup.procs");
        std::fs::write(&procs, "").unwrap();
        let log = dir.join("7.log");
        std::fs::write(&log, "earlier run\n").unwrap();

        // A blocked signal in the spawning thread must not reach the agent.
        // SAFETY: valid sigset_t operations on a local; only this test
        // thread's mask changes.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        }
        // Its stdin is /dev/null, by name: what /dev/null holds is the
        // host's business (a sandbox may make it a file others write to).
        let script = "[ \"$(readlink /proc/$$/fd/0)\" = /dev/null ] && echo stdin-null; \
                      set -- $(cat /proc/$$/stat); [ \"$1\" = \"$6\" ] && echo own-session; \
                      echo to-stderr >&2; exit 3";
        let pid = spawn_in_cgroup(&sh(script), &procs, &log, None, me())
            .unwrap()
            .pid;
        let status = wait(pid);
        assert!(libc::WIFEXITED(status));
        assert_eq!(libc::WEXITSTATUS(status), 3);
        assert_eq!(std::fs::read_to_string(&procs).unwrap(), "0");
        let out = std::fs::read_to_string(&log).unwrap();
        assert!(out.starts_with("earlier run\nstdin-null\n"), "{out}");

        // The masks as the exec'd program starts with them (a shell might
        // change its own), found in PATH. Bit n-1 of the hex masks is
        // signal n; only our own changes are checked, whoever ran the tests
        // may ignore other signals.
        let masks = dir.join("masks.log");
        let grep = ["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"].map(String::from);
        let pid = spawn_in_cgroup(&grep, &procs, &masks, None, me())
            .unwrap()
            .pid;
        assert_eq!(wait(pid), 0);
        let m = std::fs::read_to_string(&masks).unwrap();
        let mask = |key: &str| {
            let line = m.lines().find(|l| l.starts_with(key)).unwrap();
            u64::from_str_radix(line[key.len()..].trim(), 16).unwrap()
        };
        assert_eq!(mask("SigBlk:"), 0, "{m}");
        assert_eq!(mask("SigIgn:") & (1 << (libc::SIGPIPE - 1)), 0, "{m}");
        assert!(out.contains("own-session\n"), "{out}");
        assert!(out.ends_with("to-stderr\n"), "{out}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn spawn_failures_name_the_step() {
        let dir = scratch("fail");
        let procs = dir.join("cgroup.procs");
        std::fs::write(&procs, "").unwrap();
        let log = dir.join("1.log");

        let e = spawn_in_cgroup(&["/nonexistent/prog".to_owned()], &procs, &log, None, me())
            .unwrap_err();
        assert_eq!(e.step, SpawnStep::Exec);
        assert_eq!(e.errno, Errno(libc::ENOENT));
        // The child joined before it failed to exec.
        assert_eq!(std::fs::read_to_string(&procs).unwrap(), "0");

        let missing = dir.join("gone/cgroup.procs");
        let e = spawn_in_cgroup(&sh("exit 0"), &missing, &log, None, me()).unwrap_err();
        assert_eq!(
            (e.step, e.errno),
            (SpawnStep::JoinCgroup, Errno(libc::ENOENT))
        );

        let e = spawn_in_cgroup(&sh("exit 0"), &procs, &dir.join("no/dir.log"), None, me())
            .unwrap_err();
        assert_eq!((e.step, e.errno), (SpawnStep::Log, Errno(libc::ENOENT)));

        let e = spawn_in_cgroup(&[], &procs, &log, None, me()).unwrap_err();
        assert_eq!(e.step, SpawnStep::Prepare);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Needs Landlock: `make check` runs it in the VM
    /// ([`asm_testutil::LANDLOCK_LIVE`]).
    #[test]
    fn landlock_live_spawn_enforces_the_ruleset_before_the_exec() {
        let Some(abi) = asm_testutil::landlock_abi() else {
            return asm_testutil::skip(
                "landlock_live_spawn_enforces_the_ruleset_before_the_exec",
                "the kernel has no Landlock",
            );
        };
        let dir = scratch("landlock");
        let other = scratch("landlock-other");
        let procs = dir.join("cgroup.procs");
        std::fs::write(&procs, "").unwrap();
        let log = dir.join("8.log");
        let plan = asm_landlock::derive(asm_landlock::CAP_FS_BASIC, Some(&dir), None);
        let ruleset = Ruleset::build(&plan).unwrap();
        // The agent's parent is this test, outside its sandbox: from ABI 6
        // it may not signal it, but it may signal its own child.
        let script = format!(
            "echo in > {in_} && echo inside-written; \
             echo out > {out} || echo outside-refused; \
             kill -0 $PPID 2>/dev/null || echo parent-signal-refused; \
             sleep 30 & kill $! && echo own-child-signalled",
            in_ = dir.join("in").display(),
            out = other.join("out").display()
        );
        let spawned = spawn_in_cgroup(&sh(&script), &procs, &log, Some(&ruleset), me()).unwrap();
        assert_eq!(wait(spawned.pid), 0);
        let out = std::fs::read_to_string(&log).unwrap();
        assert!(out.contains("inside-written\n"), "{out}");
        assert!(out.contains("outside-refused\n"), "{out}");
        assert!(out.contains("own-child-signalled\n"), "{out}");
        assert_eq!(out.contains("parent-signal-refused\n"), abi >= 6, "{out}");
        assert!(!other.join("out").exists());
        // The child said what it enforced.
        let outcome = spawned.landlock.expect("the child's Landlock record");
        let report = ruleset.report(outcome);
        assert!(outcome.landlock() && report.fs_restricted, "{report}");
        assert_eq!(report.signals_scoped, abi >= 6, "{report}");
        if abi >= 6 {
            assert_eq!(outcome.enforcement, asm_landlock::Enforcement::Full);
        }
        // asmd itself is not restricted.
        std::fs::write(other.join("out"), "asmd").unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&other).unwrap();
    }

    #[test]
    fn lock_is_exclusive_and_released_on_drop() {
        let dir = scratch("lock");
        let path = dir.join("asmd.lock");
        let first = LockFile::lock(&path).unwrap();
        assert!(matches!(LockFile::lock(&path), Err(LockError::Busy)));
        let pid = std::fs::read_to_string(&path).unwrap();
        assert_eq!(pid.trim(), std::process::id().to_string());
        drop(first);
        // Another test's fork may hold a copy of the fd until its exec:
        // the lock is free again once that child has exec'd.
        let mut again = LockFile::lock(&path);
        for _ in 0..200 {
            if again.is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
            again = LockFile::lock(&path);
        }
        assert!(again.is_ok(), "lock not free after its holder dropped it");
        assert!(matches!(
            LockFile::lock(&dir.join("no/such.lock")),
            Err(LockError::Failed(Errno(libc::ENOENT)))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
