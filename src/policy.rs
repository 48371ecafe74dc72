// SPDX-License-Identifier: GPL-2.0

//! An agent's policy beyond its limits (capabilities, scope, risk level),
//! the checks the probes make against it, hot patches, the paths marked
//! sensitive, and each agent's compliance record.
//!
//! The capabilities live in an atomic (the probes' fast paths read it
//! without a lock) and the scope behind [`Policies::lock`], both written
//! under that lock: a patch is one step under the lock, and the next check
//! of any probe sees it.

use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};
use kernel::new_spinlock;
use kernel::prelude::*;
use kernel::sync::{LockedBy, SpinLock};

use crate::agent::Agent;
use crate::audit::{Kind, Record, Source};
use crate::compliance::{self, ComplianceRecord};
use crate::faults::{self, Action, FaultKind, FaultRecord};
use crate::ffi;
use crate::syscalls::{self, Call};
pub(crate) use crate::uapi::{ComplianceStatus, Risk, Violation};
use crate::uapi::{
    CAP_ADMIN, CAP_FS_BASIC, CAP_FS_EXTENDED, CAP_NAMES, CAP_NET_CLIENT, CAP_NET_SERVER,
    CAP_PROCESS_SPAWN, SCOPE_LEN, SENSITIVE_MAX,
};
use crate::Asm;

/// The text of a NUL-padded path.
pub(crate) fn text(path: &[u8; SCOPE_LEN]) -> &[u8] {
    let len = path.iter().position(|&b| b == 0).unwrap_or(SCOPE_LEN);
    &path[..len]
}

impl Risk {
    /// A registration's level: `ASM_RISK_DEFAULT` (0) is Limited.
    pub(crate) fn requested(raw: u32) -> Option<Self> {
        match raw {
            0 => Some(Self::Limited),
            raw => Self::try_from(raw).ok(),
        }
    }
}

/// One agent's scope, risk level and compliance record.
pub(crate) struct AgentPolicy {
    /// The scope, NUL-padded ("" is no scope).
    scope: LockedBy<[u8; SCOPE_LEN], Sensitive>,
    /// Whether the scope is not empty: for the open probe's fast path,
    /// which takes no lock. Written under [`Policies::lock`].
    scoped: AtomicBool,
    risk: AtomicU32,
    pub(crate) record: ComplianceRecord,
}

impl AgentPolicy {
    pub(crate) fn new(policies: &Policies, scope: &[u8; SCOPE_LEN], risk: Risk) -> Self {
        Self {
            scope: LockedBy::new(&policies.lock, *scope),
            scoped: AtomicBool::new(scope[0] != 0),
            risk: AtomicU32::new(risk.raw()),
            record: ComplianceRecord::default(),
        }
    }

    /// The risk level.
    pub(crate) fn risk(&self) -> Risk {
        Risk::try_from(self.risk.load(Relaxed)).unwrap_or(Risk::Limited)
    }

    /// The score and status from the record and `crashes`.
    pub(crate) fn score(&self, crashes: u64) -> (u32, ComplianceStatus) {
        let r = &self.record;
        compliance::score(
            r.violations.load(Relaxed),
            crashes,
            r.oversight.load(Relaxed),
            r.clean_exits.load(Relaxed),
        )
    }
}

/// An agent's capability bits and scope, before or after a patch.
pub(crate) type CapsAndScope = (u64, [u8; SCOPE_LEN]);

/// The paths marked sensitive.
struct Sensitive {
    paths: [[u8; SCOPE_LEN]; SENSITIVE_MAX],
    /// How many of `paths` are in use.
    n: usize,
}

impl Sensitive {
    fn marked(&self) -> &[[u8; SCOPE_LEN]] {
        self.paths.get(..self.n).unwrap_or(&[])
    }
}

/// The lock of every policy, and the paths marked sensitive.
#[pin_data]
pub(crate) struct Policies {
    /// Taken by the probes: never held across anything that sleeps.
    #[pin]
    lock: SpinLock<Sensitive>,
    /// How many paths are marked: for the open probe's fast path, which
    /// takes no lock. Written under `lock`.
    nr_sensitive: AtomicU32,
}

/// Directories any agent may read, and files it may also write.
const SYSTEM_READ: [&[u8]; 8] = [
    b"/usr", b"/lib", b"/lib64", b"/bin", b"/sbin", b"/etc", b"/proc", b"/sys",
];
const SYSTEM_WRITE: [&[u8]; 7] = [
    b"/dev/asm",
    b"/dev/null",
    b"/dev/zero",
    b"/dev/full",
    b"/dev/random",
    b"/dev/urandom",
    b"/dev/tty",
];

/// Whether `path` is `dir` or below it. `dir` may end with '/'.
pub(crate) fn under(path: &[u8], dir: &[u8]) -> bool {
    let dir = match dir {
        [rest @ .., b'/'] if !rest.is_empty() => rest,
        d => d,
    };
    if dir == b"/" {
        return path.first() == Some(&b'/');
    }
    path.starts_with(dir) && matches!(path.get(dir.len()), None | Some(b'/'))
}

/// The process id a path under /proc names (`/proc/<pid>` or below), if
/// it names one.
pub(crate) fn proc_pid(path: &[u8]) -> Option<i32> {
    let rest = path.strip_prefix(b"/proc/")?;
    let digits = rest.split(|&b| b == b'/').next()?;
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0i32, |n, &d| {
        n.checked_mul(10)?.checked_add(i32::from(d - b'0'))
    })
}

/// A file an agent opened, as the policy judges it.
pub(crate) enum Name<'a> {
    /// Its absolute path, as the system names it.
    Path(&'a [u8]),
    /// A pipe, socket or anonymous inode: no path, nothing outside the
    /// agent reachable through it.
    Pseudo,
    /// A file whose name the module cannot trust or make: a path too long,
    /// a name that is not absolute, or one seen from a mount namespace or
    /// root the agent arranged. Outside any scope.
    Unnamable,
}

/// Whether `caps` and `scope` allow opening `name` (for writing if
/// `write`); `own_pid(pid)` says whether process `pid` is the agent's own
/// (its /proc entries are in the always-readable set, other processes'
/// are not).
pub(crate) fn file_allowed(
    caps: u64,
    scope: &[u8],
    name: &Name<'_>,
    write: bool,
    own_pid: impl FnOnce(i32) -> bool,
) -> bool {
    let fs = caps & (CAP_FS_BASIC | CAP_FS_EXTENDED) != 0;
    if fs && scope.is_empty() {
        return true;
    }
    let path = match name {
        Name::Pseudo => return true,
        Name::Unnamable => return false,
        Name::Path(path) => *path,
    };
    if SYSTEM_WRITE.contains(&path) {
        return true;
    }
    if !write && SYSTEM_READ.iter().any(|d| under(path, d)) && proc_pid(path).map_or(true, own_pid)
    {
        return true;
    }
    if fs && under(path, scope) {
        return true;
    }
    caps & CAP_FS_EXTENDED != 0 && !write
}

impl Policies {
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        let sensitive = Sensitive {
            paths: [[0; SCOPE_LEN]; SENSITIVE_MAX],
            n: 0,
        };
        try_pin_init!(Self {
            lock <- new_spinlock!(sensitive, "Policies::lock"),
            nr_sensitive: AtomicU32::new(0),
        }? Error)
    }

    /// `agent`'s scope.
    pub(crate) fn scope(&self, agent: &Agent) -> [u8; SCOPE_LEN] {
        let guard = self.lock.lock();
        *agent.policy.scope.access(&guard)
    }

    /// Whether opens need a look: some path is sensitive, or the agent's
    /// file access is restricted.
    pub(crate) fn open_watched(&self, agent: &Agent) -> bool {
        if self.nr_sensitive.load(Relaxed) != 0 {
            return true;
        }
        let caps = agent.capabilities.load(Relaxed);
        caps & (CAP_FS_BASIC | CAP_FS_EXTENDED) == 0 || agent.policy.scoped.load(Relaxed)
    }

    /// The policy check of an open and whether its file is sensitive.
    fn check_open(
        &self,
        agent: &Agent,
        name: &Name<'_>,
        write: bool,
        own_pid: impl FnOnce(i32) -> bool,
    ) -> (bool, bool) {
        let guard = self.lock.lock();
        let scope = agent.policy.scope.access(&guard);
        let caps = agent.capabilities.load(Relaxed);
        let allowed = file_allowed(caps, text(scope), name, write, own_pid);
        let sensitive = match name {
            Name::Path(path) => guard.marked().iter().any(|p| under(path, text(p))),
            _ => false,
        };
        (allowed, sensitive)
    }

    /// Sets the restart budget to `new` if `allowed(old, new)`; returns the
    /// outcome and the old budget.
    pub(crate) fn set_auto_restart(
        &self,
        agent: &Agent,
        new: u32,
        allowed: impl FnOnce(u32, u32) -> bool,
    ) -> (Result, u32) {
        let _guard = self.lock.lock();
        let old = agent.auto_restart.load(Relaxed);
        if !allowed(old, new) {
            return (Err(EPERM), old);
        }
        agent.auto_restart.store(new, Relaxed);
        (Ok(()), old)
    }

    /// Marks (`add`) or unmarks `path`; returns the number marked.
    pub(crate) fn mark_sensitive(&self, path: &[u8; SCOPE_LEN], add: bool) -> Result<u32> {
        let mut guard = self.lock.lock();
        let s = &mut *guard;
        let at = s.marked().iter().position(|p| p == path);
        match (add, at) {
            (true, Some(_)) => return Err(EEXIST),
            (true, None) => {
                let slot = s.paths.get_mut(s.n).ok_or(ENOSPC)?;
                *slot = *path;
                s.n += 1;
            }
            (false, None) => return Err(ENOENT),
            (false, Some(i)) => {
                if let Some(tail) = s.paths.get_mut(i..s.n) {
                    tail.rotate_left(1);
                }
                s.n -= 1;
            }
        }
        self.nr_sensitive.store(s.n as u32, Relaxed);
        Ok(s.n as u32)
    }

    /// The `index`-th sensitive path and how many there are.
    pub(crate) fn sensitive(&self, index: u32) -> (Option<[u8; SCOPE_LEN]>, u32) {
        let guard = self.lock.lock();
        let marked = guard.marked();
        (marked.get(index as usize).copied(), marked.len() as u32)
    }

    /// Applies `f` to (capabilities, scope) of `agent` in one step if
    /// `allowed(old caps, old scope, new caps, new scope)`; returns the old
    /// and new values.
    pub(crate) fn update(
        &self,
        agent: &Agent,
        f: impl FnOnce(&mut u64, &mut [u8; SCOPE_LEN]),
        allowed: impl FnOnce(u64, &[u8], u64, &[u8]) -> bool,
    ) -> (Result, CapsAndScope, CapsAndScope) {
        let mut guard = self.lock.lock();
        let scope = agent.policy.scope.access_mut(&mut guard);
        let old = (agent.capabilities.load(Relaxed), *scope);
        let mut new = old;
        f(&mut new.0, &mut new.1);
        if !allowed(old.0, text(&old.1), new.0, text(&new.1)) {
            return (Err(EPERM), old, new);
        }
        agent.capabilities.store(new.0, Relaxed);
        *scope = new.1;
        agent.policy.scoped.store(new.1[0] != 0, Relaxed);
        (Ok(()), old, new)
    }

    /// Sets the risk level; returns the old one.
    pub(crate) fn set_risk(&self, agent: &Agent, risk: Risk) -> Risk {
        let _guard = self.lock.lock();
        let old = agent.policy.risk();
        agent.policy.risk.store(risk.raw(), Relaxed);
        old
    }
}

/// Whether the scope `new` is no wider than `old` ("" is no scope).
pub(crate) fn scope_narrows(old: &[u8], new: &[u8]) -> bool {
    !new.is_empty() && (old.is_empty() || under(new, old))
}

/// Writes capability names, comma-separated.
pub(crate) fn write_caps(w: &mut impl Write, caps: u64) {
    let mut first = true;
    for (bit, name) in CAP_NAMES.iter().enumerate() {
        if caps & (1 << bit) != 0 {
            let _ = write!(w, "{}{}", if first { "" } else { "," }, name);
            first = false;
        }
    }
    if first {
        let _ = w.write_str("none");
    }
}

/// A violation by the calling process of `agent`: recorded as a
/// capability fault and audited; an action that ends the agent kills the
/// caller and every other process of the agent at once (before the
/// caller's system call returns, before a listener it made can take a
/// connection), and the sampler kills what a racing fork may have left.
/// Returns the action. Does not sleep.
pub(crate) fn violation(asm: &Asm, agent: &Agent, what: Violation, detail: &[u8]) -> Action {
    let now = ffi::now_ns();
    let action = asm.faults.effective(agent).actions[FaultKind::CapabilityViolation as usize];
    faults::record(
        asm,
        agent,
        FaultRecord {
            timestamp_ns: now,
            kind: FaultKind::CapabilityViolation,
            action,
            observed: what.raw().into(),
            limit: 0,
        },
        false,
    );
    agent.policy.record.violations.fetch_add(1, Relaxed);
    asm.faults
        .note_violation(agent, faults::LastViolation::new(what, now, detail));
    let mut r = Record::new(Kind::Violation, what.raw(), agent.id)
        .values(agent.capabilities.load(Relaxed), u64::from(action.raw()));
    r.bytes(detail);
    asm.audit.append(r, Some(agent));
    if matches!(action, Action::Kill | Action::Restart) {
        // The caller itself in any case: `end` walks once a run, and not
        // for a caller that left the agent meanwhile.
        ffi::kill_current();
        asm.registry.end(agent, action);
        ffi::sampler_kick();
    }
    action
}

/// What the glue saw of a successful open.
pub(crate) struct Opened<'a> {
    /// `d_path()`'s name of the file, `None` if it had none (too long).
    pub(crate) path: Option<&'a [u8]>,
    /// Opened for writing (`FMODE_WRITE`).
    pub(crate) writable: bool,
    /// This open created the file (`FMODE_CREATED`).
    pub(crate) created: bool,
    /// A pipe, socket or anonymous inode (named by `d_dname`).
    pub(crate) pseudo: bool,
    /// The opener's mount namespace or root is not the system's.
    pub(crate) foreign_view: bool,
    /// The open flags the call was given; `None` where they cannot be
    /// known, which is judged as the worst case.
    pub(crate) flags: Option<u64>,
}

impl Opened<'_> {
    /// Whether the open changed or may change the file: written, created,
    /// or truncated (O_TRUNC truncates whatever the access mode).
    pub(crate) fn writes(&self) -> bool {
        self.writable || self.created || self.flags.map_or(true, |f| f & syscalls::O_TRUNC != 0)
    }

    /// The name the policy judges.
    pub(crate) fn name(&self) -> Name<'_> {
        match self.path {
            _ if self.foreign_view => Name::Unnamable,
            Some(_) if self.pseudo => Name::Pseudo,
            Some(path) if path.first() == Some(&b'/') => Name::Path(path),
            _ => Name::Unnamable,
        }
    }
}

/// The flags the open `call` was given in `args`; `None` where they cannot
/// be known: openat2() keeps them in user memory, which another thread
/// may change after the kernel copied them.
pub(crate) fn open_flags(call: Call, args: &[usize; 6]) -> Option<u64> {
    match call {
        Call::Open { flags_arg } => Some(args[flags_arg] as u64),
        Call::Creat => Some(syscalls::O_TRUNC),
        _ => None,
    }
}

/// A successful open by a process of `agent`; `own_pid(pid)` says whether
/// process `pid` is the agent's.
pub(crate) fn opened(
    asm: &Asm,
    agent: &Agent,
    open: &Opened<'_>,
    own_pid: impl FnOnce(i32) -> bool,
) {
    let write = open.writes();
    let name = open.name();
    let (allowed, sensitive) = asm.policies.check_open(agent, &name, write, own_pid);
    let path = open.path.unwrap_or(b"(a path longer than PATH_MAX)");
    if sensitive {
        agent.policy.record.sensitive.fetch_add(1, Relaxed);
        let mut r = Record::new(Kind::Sensitive, write as u32, agent.id);
        r.bytes(path);
        // Counted always; audited at the agent's rate (a loop of opens
        // cannot push other entries out).
        let _ = asm
            .audit
            .append_from(r, Some(agent), Some(Source::reports_of(agent)));
    }
    if !allowed {
        let mut detail = Record::new(Kind::Violation, 0, 0);
        let _ = write!(detail, "{} ", if write { "write" } else { "read" });
        if open.foreign_view {
            // The name is the agent's own arrangement, not the file's.
            let _ = detail.write_str("(own mount namespace or root) ");
        }
        detail.bytes(path);
        violation(asm, agent, Violation::File, detail.text());
    }
}

/// What the sys_enter probe must check on a socket before `call` (with
/// `args`) runs for an agent with capabilities `caps`: the violation it
/// would be and the socket's fd.
pub(crate) fn socket_check(caps: u64, call: Call, args: &[usize; 6]) -> Option<(Violation, usize)> {
    let fastopen = |flags_arg: usize| args[flags_arg] as u64 & syscalls::MSG_FASTOPEN != 0;
    match call {
        Call::Connect if caps & CAP_NET_CLIENT == 0 => Some((Violation::Connect, args[0])),
        // TCP Fast Open connects from sendto(), sendmsg() and sendmmsg().
        Call::Send { flags_arg } if caps & CAP_NET_CLIENT == 0 && fastopen(flags_arg) => {
            Some((Violation::Connect, args[0]))
        }
        Call::Listen if caps & CAP_NET_SERVER == 0 => Some((Violation::Listen, args[0])),
        _ => None,
    }
}

/// Where a network operation of an agent was seen.
#[derive(Clone, Copy)]
pub(crate) enum NetSeen {
    /// A system call on this socket fd, before it runs.
    Syscall(usize),
    /// A TCP SYN the agent's task sends (netfilter's LOCAL_OUT).
    TcpSyn,
    /// The agent's socket entered TCP_LISTEN (inet_sock_set_state).
    TcpListen,
}

/// The name of an address family the network capabilities govern.
fn inet_family(family: i32) -> Option<&'static str> {
    match family {
        syscalls::AF_INET => Some("AF_INET"),
        syscalls::AF_INET6 => Some("AF_INET6"),
        // Unix, netlink and other families are not checked.
        _ => None,
    }
}

/// The verdict on `agent`'s calling process doing `what` on an inet
/// socket of `family`: a violation; returns whether the operation is to be
/// refused (the action ends the agent).
pub(crate) fn socket_verdict(
    asm: &Asm,
    agent: &Agent,
    what: Violation,
    seen: NetSeen,
    family: i32,
) -> bool {
    let Some(family_name) = inet_family(family) else {
        return false;
    };
    let mut detail = Record::new(Kind::Violation, 0, 0);
    let op = if matches!(what, Violation::Listen) {
        "listen"
    } else {
        "connect"
    };
    let _ = match seen {
        NetSeen::Syscall(fd) => write!(detail, "{op} fd {fd} ({family_name})"),
        NetSeen::TcpSyn => write!(detail, "{op}: TCP SYN ({family_name})"),
        NetSeen::TcpListen => write!(detail, "{op}: TCP_LISTEN ({family_name})"),
    };
    matches!(
        violation(asm, agent, what, detail.text()),
        Action::Kill | Action::Restart
    )
}

/// The verdict on a connect or listen system call on socket `fd` of
/// `family` and `protocol`, before it runs: whether it is to be skipped.
/// A TCP connection that the action lets go (Log) is judged, once, where
/// it is made (its SYN, its TCP_LISTEN); every other socket here.
pub(crate) fn syscall_verdict(
    asm: &Asm,
    agent: &Agent,
    what: Violation,
    fd: usize,
    family: i32,
    protocol: i32,
) -> bool {
    let tcp = matches!(protocol, syscalls::IPPROTO_TCP | syscalls::IPPROTO_MPTCP);
    let action = asm.faults.effective(agent).actions[FaultKind::CapabilityViolation as usize];
    if tcp && !matches!(action, Action::Kill | Action::Restart) {
        return false;
    }
    socket_verdict(asm, agent, what, NetSeen::Syscall(fd), family)
}

/// The verdict on a TCP connection or listening socket that the glue saw
/// at the protocol (`seen` is `TcpSyn` or `TcpListen`), whatever call made
/// it; returns whether it is to be refused.
pub(crate) fn net_verdict(
    asm: &Asm,
    agent: &Agent,
    seen: NetSeen,
    family: i32,
    protocol: i32,
) -> bool {
    if !matches!(protocol, syscalls::IPPROTO_TCP | syscalls::IPPROTO_MPTCP) {
        return false;
    }
    let caps = agent.capabilities.load(Relaxed);
    let what = match seen {
        NetSeen::TcpSyn if caps & CAP_NET_CLIENT == 0 => Violation::Connect,
        NetSeen::TcpListen if caps & CAP_NET_SERVER == 0 => Violation::Listen,
        _ => return false,
    };
    socket_verdict(asm, agent, what, seen, family)
}

/// An exec of `file` by a process of `agent` that was `forked` in it.
pub(crate) fn exec(asm: &Asm, agent: &Agent, forked: bool, file: &[u8]) {
    if forked && agent.capabilities.load(Relaxed) & CAP_PROCESS_SPAWN == 0 {
        violation(asm, agent, Violation::Exec, file);
    }
}

/// Whether capability bits `caps` try to grant Admin over `old`.
pub(crate) fn grants_admin(old: u64, new: u64) -> bool {
    new & CAP_ADMIN != 0 && old & CAP_ADMIN == 0
}
