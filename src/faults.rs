// SPDX-License-Identifier: GPL-2.0

//! Faults: the limits and recovery actions (per agent and the defaults),
//! each agent's recent faults, and the detector the sampler runs at the end
//! of every window.
//!
//! A fault is an episode: it is recorded when its condition starts to hold
//! and not again until the condition stopped holding for a whole window (a
//! crash is one episode per crash). Each episode gets the action its type
//! has in the agent's effective policy.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use kernel::new_spinlock;
use kernel::prelude::*;
use kernel::sync::{LockedBy, SpinLock};

use crate::agent::Agent;
use crate::ring::SeqRing;
use crate::telemetry::{Event, EventKind};
pub(crate) use crate::uapi::{Action, FaultKind, Preset};
use crate::uapi::{Violation, Window, FAULT_TYPES, LIMIT_NONE32, LIMIT_NONE64, WINDOW_MS};
use crate::Asm;

impl FaultKind {
    /// The words /proc/agentsys/status uses.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::CpuQuota => "CPU quota exceeded",
            Self::Memory => "memory limit exceeded",
            Self::SyscallFlood => "syscall flood",
            Self::Crash => "crash",
            Self::CapabilityViolation => "capability violation",
            Self::Unresponsive => "unresponsive (watchdog timeout)",
        }
    }

    /// The unit of a record's observed value and limit.
    pub(crate) fn unit(self) -> &'static str {
        match self {
            Self::CpuQuota | Self::Unresponsive => "ms",
            Self::Memory => "bytes",
            Self::SyscallFlood => "per_s",
            Self::Crash => "status",
            // An `enum asm_violation`.
            Self::CapabilityViolation => "violation",
        }
    }

    /// The unit as a JSON document's `unit` gives it: the same units,
    /// named like every other enum value of a JSON document.
    pub(crate) fn unit_json(self) -> &'static str {
        match self {
            Self::CpuQuota | Self::Unresponsive => "Milliseconds",
            Self::Memory => "Bytes",
            Self::SyscallFlood => "PerSecond",
            Self::Crash => "WaitStatus",
            Self::CapabilityViolation => "Violation",
        }
    }

    /// Whether `action` can handle this fault: throttling holds CPU time
    /// and syscalls, and a crashed agent has nothing left to throttle.
    fn allows(self, action: Action) -> bool {
        match action {
            Action::Default => false,
            Action::Throttle => matches!(self, Self::CpuQuota | Self::SyscallFlood),
            Action::Log | Action::Kill | Action::Restart => true,
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl FaultKind {
    /// The fault type an `actions` index or a record's kind byte stands for.
    pub(crate) fn from_raw(raw: u8) -> Option<Self> {
        Self::try_from(u32::from(raw)).ok()
    }
}

impl Action {
    /// The action an `actions` byte stands for.
    pub(crate) fn from_raw(raw: u8) -> Option<Self> {
        Self::try_from(u32::from(raw)).ok()
    }
}

/// Actions indexed by fault type; `[0]` and `[7]` are unused.
pub(crate) type Actions = [u8; 8];

/// The actions of a preset; `None` for [`Preset::None`], which names none.
pub(crate) fn preset(preset: Preset) -> Option<Actions> {
    use Action::*;
    let a = |cpu: Action, mem: Action, sys: Action, crash: Action, cap: Action, wd: Action| {
        [
            0,
            cpu as u8,
            mem as u8,
            sys as u8,
            crash as u8,
            cap as u8,
            wd as u8,
            0,
        ]
    };
    match preset {
        // The user guide's table.
        Preset::Default => Some(a(Throttle, Kill, Throttle, Restart, Kill, Restart)),
        Preset::Permissive => Some(a(Log, Log, Log, Log, Log, Log)),
        Preset::Strict => Some(a(Kill, Kill, Kill, Kill, Kill, Kill)),
        Preset::None => None,
    }
}

/// Checks `actions` for a policy: known actions valid for their fault, and
/// every one set when `complete` (the defaults).
pub(crate) fn check_actions(actions: &Actions, complete: bool) -> Result {
    if actions[0] != 0 || actions[FAULT_TYPES..].iter().any(|&a| a != 0) {
        return Err(EINVAL);
    }
    for (i, &raw) in actions.iter().enumerate().take(FAULT_TYPES).skip(1) {
        let action = Action::from_raw(raw).ok_or(EINVAL)?;
        let kind = FaultKind::from_raw(i as u8).ok_or(EINVAL)?;
        match action {
            Action::Default if !complete => {}
            a if kind.allows(a) => {}
            _ => return Err(EINVAL),
        }
    }
    Ok(())
}

/// One set of limits and actions, as `struct asm_fault_policy` carries it.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Settings {
    pub(crate) cpu_quota_ms: u32,
    pub(crate) syscall_rate: u32,
    pub(crate) watchdog_ms: u32,
    pub(crate) mem_limit_bytes: u64,
    pub(crate) actions: Actions,
}

/// The built-in watchdog timeout, the user guide's 30 s: it applies only
/// to agents that sent a heartbeat.
const DEFAULT_WATCHDOG_MS: u32 = 30_000;

impl Settings {
    /// The defaults at load: no limit but the watchdog's, the guide's actions.
    fn initial_defaults() -> Self {
        Self {
            watchdog_ms: DEFAULT_WATCHDOG_MS,
            actions: preset(Preset::Default).unwrap_or_default(),
            ..Self::default()
        }
    }

    /// These (an agent's own) settings with `defaults` filled in.
    pub(crate) fn resolve(&self, defaults: &Settings) -> Effective {
        fn limit32(own: u32, default: u32) -> Option<u64> {
            match own {
                0 if default == 0 => None,
                0 => Some(default.into()),
                LIMIT_NONE32 => None,
                v => Some(v.into()),
            }
        }
        let mut actions = [Action::Log; 8];
        for (i, slot) in actions.iter_mut().enumerate().take(FAULT_TYPES).skip(1) {
            let own = Action::from_raw(self.actions[i]).unwrap_or(Action::Default);
            *slot = match own {
                Action::Default => Action::from_raw(defaults.actions[i]).unwrap_or(Action::Log),
                a => a,
            };
        }
        Effective {
            cpu_quota_ms: limit32(self.cpu_quota_ms, defaults.cpu_quota_ms),
            syscall_rate: limit32(self.syscall_rate, defaults.syscall_rate),
            watchdog_ms: limit32(self.watchdog_ms, defaults.watchdog_ms),
            mem_limit_bytes: match self.mem_limit_bytes {
                0 if defaults.mem_limit_bytes == 0 => None,
                0 => Some(defaults.mem_limit_bytes),
                LIMIT_NONE64 => None,
                v => Some(v),
            },
            actions,
        }
    }
}

/// Limits and actions in force for one agent (`None`: no limit).
#[derive(Clone, Copy)]
pub(crate) struct Effective {
    pub(crate) cpu_quota_ms: Option<u64>,
    pub(crate) syscall_rate: Option<u64>,
    pub(crate) watchdog_ms: Option<u64>,
    pub(crate) mem_limit_bytes: Option<u64>,
    pub(crate) actions: [Action; 8],
}

impl Effective {
    /// As `struct asm_fault_policy` reports it: 0 is no limit.
    pub(crate) fn settings(&self) -> Settings {
        let mut actions = [0u8; 8];
        for (slot, a) in actions
            .iter_mut()
            .zip(self.actions.iter())
            .take(FAULT_TYPES)
            .skip(1)
        {
            *slot = *a as u8;
        }
        Settings {
            cpu_quota_ms: self.cpu_quota_ms.unwrap_or(0) as u32,
            syscall_rate: self.syscall_rate.unwrap_or(0) as u32,
            watchdog_ms: self.watchdog_ms.unwrap_or(0) as u32,
            mem_limit_bytes: self.mem_limit_bytes.unwrap_or(0),
            actions,
        }
    }

    /// The faults a closed window `w` shows, for each type the sampler
    /// checks: the observed value and the limit when it is over the limit.
    /// `heartbeat_ns` is the agent's last heartbeat (0: the watchdog is off).
    pub(crate) fn overruns(
        &self,
        w: &Window,
        heartbeat_ns: u64,
        now: u64,
    ) -> [(FaultKind, Option<(u64, u64)>); 4] {
        let elapsed_ms = (now.saturating_sub(w.start_ns) / 1_000_000).max(1);
        [
            (
                FaultKind::CpuQuota,
                self.cpu_quota_ms
                    .filter(|&q| w.cpu_ns > q * 1_000_000)
                    .map(|q| (w.cpu_ns / 1_000_000, q)),
            ),
            (
                FaultKind::Memory,
                self.mem_limit_bytes
                    .filter(|&l| w.rss_bytes > l)
                    .map(|l| (w.rss_bytes, l)),
            ),
            (
                FaultKind::SyscallFlood,
                self.syscall_rate
                    .map(|r| (w.syscalls * 1000 / elapsed_ms, r))
                    .filter(|&(rate, r)| rate > r),
            ),
            (
                FaultKind::Unresponsive,
                self.watchdog_ms
                    .filter(|_| heartbeat_ns != 0)
                    .map(|t| (now.saturating_sub(heartbeat_ns) / 1_000_000, t))
                    .filter(|&(silent, t)| silent > t),
            ),
        ]
    }

    /// Whether a throttled agent used up its CPU quota of the window with
    /// `cpu_ns`.
    pub(crate) fn cpu_spent(&self, cpu_ns: u64) -> bool {
        self.cpu_quota_ms.is_some_and(|q| cpu_ns >= q * 1_000_000)
    }

    /// Whether a throttled agent used up the window's share of its syscall
    /// rate with `syscalls`.
    pub(crate) fn syscalls_spent(&self, syscalls: u64) -> bool {
        self.syscall_rate
            .is_some_and(|r| syscalls >= r * u64::from(WINDOW_MS) / 1000)
    }

    /// Whether every limit here is at most the one in `old` (no limit being
    /// the widest), and the actions are the same: a change only narrows.
    pub(crate) fn narrows(&self, old: &Effective) -> bool {
        fn le(new: Option<u64>, old: Option<u64>) -> bool {
            match (new, old) {
                (_, None) => true,
                (None, Some(_)) => false,
                (Some(n), Some(o)) => n <= o,
            }
        }
        le(self.cpu_quota_ms, old.cpu_quota_ms)
            && le(self.syscall_rate, old.syscall_rate)
            && le(self.watchdog_ms, old.watchdog_ms)
            && le(self.mem_limit_bytes, old.mem_limit_bytes)
            && self.actions == old.actions
    }
}

/// One recorded fault.
#[derive(Clone, Copy)]
pub(crate) struct FaultRecord {
    pub(crate) timestamp_ns: u64,
    pub(crate) kind: FaultKind,
    pub(crate) action: Action,
    pub(crate) observed: u64,
    pub(crate) limit: u64,
}

/// Faults an agent keeps.
pub(crate) const RECENT_FAULTS: usize = 8;

/// Room for a violation's detail: the start of its audit entry's.
const VIOLATION_TEXT: usize = 160;

/// An agent's last capability violation, for its launcher to tell the
/// user why the agent ended: what it tried, when, and the detail its audit
/// entry has (the path, address or program).
#[derive(Clone, Copy)]
pub(crate) struct LastViolation {
    pub(crate) what: Violation,
    pub(crate) timestamp_ns: u64,
    text: [u8; VIOLATION_TEXT],
    len: usize,
}

impl LastViolation {
    /// A violation `what` at `now`, with `detail` (cut at the room).
    pub(crate) fn new(what: Violation, now: u64, detail: &[u8]) -> Self {
        let len = detail.len().min(VIOLATION_TEXT);
        let mut text = [0; VIOLATION_TEXT];
        text[..len].copy_from_slice(&detail[..len]);
        Self {
            what,
            timestamp_ns: now,
            text,
            len,
        }
    }

    pub(crate) fn text(&self) -> &[u8] {
        &self.text[..self.len]
    }
}

/// What [`Faults::lock`] guards of one agent.
struct Guarded {
    /// The agent's own limits and actions (0: follow the defaults).
    settings: Settings,
    /// Its last [`RECENT_FAULTS`] faults.
    log: SeqRing<FaultRecord>,
    last_violation: Option<LastViolation>,
}

/// Per-agent fault state: its settings and log, behind [`Faults::lock`],
/// and what the probes and the heartbeat ioctl touch without it.
pub(crate) struct AgentFaults {
    guarded: LockedBy<Guarded, Settings>,
    /// One bit per fault type whose condition holds now.
    episodes: AtomicU32,
    /// CLOCK_BOOTTIME of the last heartbeat; 0 while the watchdog is off.
    pub(crate) heartbeat_ns: AtomicU64,
}

impl AgentFaults {
    /// An agent's fault state: no settings of its own, no faults yet.
    pub(crate) fn new(faults: &Faults) -> Result<Self> {
        let fill = FaultRecord {
            timestamp_ns: 0,
            kind: FaultKind::Crash,
            action: Action::Log,
            observed: 0,
            limit: 0,
        };
        let guarded = Guarded {
            settings: Settings::default(),
            log: SeqRing::new(RECENT_FAULTS, fill)?,
            last_violation: None,
        };
        Ok(Self {
            guarded: LockedBy::new(&faults.lock, guarded),
            episodes: AtomicU32::new(0),
            heartbeat_ns: AtomicU64::new(0),
        })
    }

    /// Whether the condition of a `kind` fault holds now.
    pub(crate) fn holds(&self, kind: FaultKind) -> bool {
        self.episodes.load(Relaxed) & kind.bit() != 0
    }

    /// A new run after a restart: the watchdog waits for its first
    /// heartbeat again, and every condition is judged afresh.
    pub(crate) fn restarted(&self) {
        self.heartbeat_ns.store(0, Relaxed);
        self.episodes.store(0, Relaxed);
    }

    /// A heartbeat: arms the watchdog and ends an unresponsive episode.
    pub(crate) fn heartbeat(&self, now: u64) {
        self.heartbeat_ns.store(now, Relaxed);
        self.episodes
            .fetch_and(!FaultKind::Unresponsive.bit(), Relaxed);
    }
}

/// The defaults, and the lock of every agent's settings and fault log.
#[pin_data]
pub(crate) struct Faults {
    /// The defaults; it also guards every agent's settings and log.
    /// Taken by the exit probe: never held across anything that sleeps.
    #[pin]
    lock: SpinLock<Settings>,
}

impl Faults {
    /// Defaults at load: the user guide's actions, no limits.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            lock <- new_spinlock!(Settings::initial_defaults(), "Faults::lock"),
        }? Error)
    }

    /// The defaults.
    pub(crate) fn defaults(&self) -> Settings {
        *self.lock.lock()
    }

    /// An agent's own settings.
    pub(crate) fn own(&self, agent: &Agent) -> Settings {
        let defaults = self.lock.lock();
        agent.faults.guarded.access(&defaults).settings
    }

    /// The limits and actions in force for `agent`.
    pub(crate) fn effective(&self, agent: &Agent) -> Effective {
        let defaults = self.lock.lock();
        let own = agent.faults.guarded.access(&defaults).settings;
        own.resolve(&defaults)
    }

    /// Replaces the defaults with `f(old)` in one step.
    pub(crate) fn update_defaults(&self, f: impl FnOnce(&mut Settings)) {
        f(&mut self.lock.lock());
    }

    /// Replaces `agent`'s settings with `f(old)` in one step if `allowed`
    /// accepts (old effective, new effective).
    pub(crate) fn update(
        &self,
        agent: &Agent,
        f: impl FnOnce(&mut Settings),
        allowed: impl FnOnce(&Effective, &Effective) -> bool,
    ) -> Result {
        let mut guard = self.lock.lock();
        let defaults = *guard;
        let own = &mut agent.faults.guarded.access_mut(&mut guard).settings;
        let mut new = *own;
        f(&mut new);
        if !allowed(&own.resolve(&defaults), &new.resolve(&defaults)) {
            return Err(EPERM);
        }
        *own = new;
        Ok(())
    }

    /// Keeps `v` as `agent`'s last violation. Does not sleep.
    pub(crate) fn note_violation(&self, agent: &Agent, v: LastViolation) {
        let mut defaults = self.lock.lock();
        agent
            .faults
            .guarded
            .access_mut(&mut defaults)
            .last_violation = Some(v);
    }

    /// `agent`'s last violation, if it had one.
    pub(crate) fn last_violation(&self, agent: &Agent) -> Option<LastViolation> {
        let defaults = self.lock.lock();
        agent.faults.guarded.access(&defaults).last_violation
    }

    /// `agent`'s recent faults, oldest first; returns how many.
    pub(crate) fn recent(
        &self,
        agent: &Agent,
        out: &mut [Option<FaultRecord>; RECENT_FAULTS],
    ) -> usize {
        let defaults = self.lock.lock();
        let log = &agent.faults.guarded.access(&defaults).log;
        let mut kept = 0;
        for (out, r) in out.iter_mut().zip(log.iter()) {
            *out = Some(*r);
            kept += 1;
        }
        kept
    }
}

/// Records a fault of `agent` with the action it gets, in its log, the
/// counters (unless `counted` already) and the event ring. Does not sleep.
pub(crate) fn record(asm: &Asm, agent: &Agent, r: FaultRecord, counted: bool) {
    {
        let mut defaults = asm.faults.lock.lock();
        agent.faults.guarded.access_mut(&mut defaults).log.push(r);
    }
    if !counted {
        agent.counters.faults.fetch_add(1, Relaxed);
        agent.counters.count_fault(r.kind);
        asm.telemetry.totals.faults.fetch_add(1, Relaxed);
    }
    let mut event = Event::new(EventKind::Fault, agent.id, 0, r.timestamp_ns);
    event.fault = r.kind as u8;
    event.value = r.observed;
    event.limit = r.limit;
    asm.telemetry.record(event);
    if r.action != Action::Log {
        let mut event = Event::new(EventKind::Action, agent.id, 0, r.timestamp_ns);
        event.fault = r.kind as u8;
        event.action = r.action as u8;
        asm.telemetry.record(event);
    }
}

/// What `agent`'s policy does on a crash. Does not sleep.
pub(crate) fn crash_action(asm: &Asm, agent: &Agent) -> Action {
    asm.faults.effective(agent).actions[FaultKind::Crash as usize]
}

/// A crash of one of `agent`'s processes (already counted as a fault by
/// the lifecycle code), with wait(2) status `status`, handled by `action`.
/// Does not sleep.
pub(crate) fn crashed(asm: &Asm, agent: &Agent, status: i32, action: Action, now: u64) {
    let r = FaultRecord {
        timestamp_ns: now,
        kind: FaultKind::Crash,
        action,
        observed: status as u32 as u64,
        limit: 0,
    };
    record(asm, agent, r, true);
}

/// What the detector decided for a fault whose condition holds.
pub(crate) fn detect(
    asm: &Asm,
    agent: &Agent,
    eff: &Effective,
    kind: FaultKind,
    over: Option<(u64, u64)>,
    now: u64,
) -> Option<Action> {
    let episodes = &agent.faults.episodes;
    let Some((observed, limit)) = over else {
        episodes.fetch_and(!kind.bit(), Relaxed);
        return None;
    };
    if episodes.fetch_or(kind.bit(), Relaxed) & kind.bit() != 0 {
        // The same episode, already handled.
        return None;
    }
    let action = eff.actions[kind as usize];
    record(
        asm,
        agent,
        FaultRecord {
            timestamp_ns: now,
            kind,
            action,
            observed,
            limit,
        },
        false,
    );
    Some(action)
}
