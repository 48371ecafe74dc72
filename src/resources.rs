// SPDX-License-Identifier: GPL-2.0

//! The resource monitor: a sampler that runs every [`WINDOW_MS`] while
//! agents exist (every [`THROTTLE_TICK_MS`] while one is throttled), keeps
//! each agent's last [`HISTORY_WINDOWS`] windows (CPU time, resident memory,
//! syscalls, I/O operations), runs the fault detector at the end of every
//! window and carries out the actions with signals.
//!
//! Throttling stops the agent (SIGSTOP to each of its processes) once it
//! used its quota in the current window and continues it (SIGCONT) when the
//! window ends; the throttle is lifted after a whole window in which the
//! agent stayed under its quota.
//!
//! Everything here runs in the sampler's work item or in ioctls, in process
//! context, under [`Sampler::state`], which also guards each agent's
//! history; the throttle bits and the probes' counters are atomics, read
//! without it.

use core::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{LockedBy, Mutex};

use crate::agent::Agent;
use crate::audit::{Kind, Record};
use crate::faults::{self, Action, FaultKind};
use crate::ffi::{self, RcuGuard, SIGCONT, SIGKILL, SIGSTOP};
use crate::ring::SeqRing;
use crate::telemetry::{Event, EventKind};
use crate::uapi::{Window, HISTORY_WINDOWS, UNREGISTER_RECLAIMED, WINDOW_MS};
use crate::viewer::Viewer;
use crate::Asm;

const WINDOW_NS: u64 = WINDOW_MS as u64 * 1_000_000;
/// The sampler's period while some agent is throttled.
const THROTTLE_TICK_MS: u32 = 100;

/// Throttle bits: the fault types that throttle the agent, and whether it
/// is stopped now.
const THROTTLE_CPU: u32 = 1 << FaultKind::CpuQuota as u32;
const THROTTLE_SYSCALLS: u32 = 1 << FaultKind::SyscallFlood as u32;
const STOPPED: u32 = 1 << 31;

/// Cumulative CPU time, syscalls and I/O operations of an agent.
#[derive(Clone, Copy, Default)]
struct Totals {
    cpu_ns: u64,
    syscalls: u64,
    io_ops: u64,
}

/// What the sampler's lock guards of one agent: its history.
struct History {
    /// The last [`HISTORY_WINDOWS`] closed windows.
    windows: SeqRing<Window>,
    primed: bool,
    /// Totals when the agent was first sampled, when the current window
    /// began, and at the last sample (never decreasing).
    origin: Totals,
    base: Totals,
    last: Totals,
    window_start_ns: u64,
    rss_bytes: u64,
    rss_peak_bytes: u64,
    stopped_in_window: bool,
}

impl History {
    /// Ends the current window at `now`; returns it.
    fn close_window(&mut self, now: u64) -> Window {
        let w = Window {
            start_ns: self.window_start_ns,
            cpu_ns: self.last.cpu_ns.saturating_sub(self.base.cpu_ns),
            rss_bytes: self.rss_bytes,
            syscalls: self.last.syscalls.saturating_sub(self.base.syscalls),
            io_ops: self.last.io_ops.saturating_sub(self.base.io_ops),
        };
        self.windows.push(w);
        self.base = self.last;
        self.window_start_ns = now;
        w
    }
}

/// One agent's resource state: its history, behind the sampler's lock,
/// and what the probes and readers touch without it.
pub(crate) struct Resources {
    history: LockedBy<History, State>,
    /// Throttle bits; read by the views without the sampler's lock.
    throttle: AtomicU32,
    /// CPU time its processes had when they joined by a cgroup attach:
    /// not the agent's. Written by the attach probe.
    pub(crate) cpu_before_join_ns: AtomicU64,
    /// I/O operations of its processes that exited. Written by the exit probe.
    pub(crate) io_exited: AtomicU64,
}

impl Resources {
    /// The state of an agent not sampled yet.
    pub(crate) fn new(sampler: &Sampler) -> Result<Self> {
        let history = History {
            windows: SeqRing::new(HISTORY_WINDOWS, Window::default())?,
            primed: false,
            origin: Totals::default(),
            base: Totals::default(),
            last: Totals::default(),
            window_start_ns: 0,
            rss_bytes: 0,
            rss_peak_bytes: 0,
            stopped_in_window: false,
        };
        Ok(Self {
            history: LockedBy::new(&sampler.state, history),
            throttle: AtomicU32::new(0),
            cpu_before_join_ns: AtomicU64::new(0),
            io_exited: AtomicU64::new(0),
        })
    }

    /// Whether a throttle holds the agent.
    pub(crate) fn throttled(&self) -> bool {
        self.throttle.load(Relaxed) & (THROTTLE_CPU | THROTTLE_SYSCALLS) != 0
    }

    fn stopped(&self) -> bool {
        self.throttle.load(Relaxed) & STOPPED != 0
    }
}

/// What `ASM_IOC_GET_HISTORY` returns besides the windows.
pub(crate) struct HistoryTotals {
    pub(crate) cpu_ns: u64,
    pub(crate) syscalls: u64,
    pub(crate) io_ops: u64,
    pub(crate) rss_bytes: u64,
    pub(crate) rss_peak_bytes: u64,
    pub(crate) throttled: bool,
}

/// The sampler's state; also what guards every agent's history.
pub(crate) struct State {
    /// When the current window ends.
    window_end_ns: u64,
    /// Whether the module was the syscall tracepoints' only user at the
    /// last sweep.
    swept_exclusive: bool,
    /// What the ticks cost (debugfs asm/sampler).
    cost: Cost,
}

/// The sampler's own cost, for debugfs asm/sampler.
#[derive(Clone, Copy, Default)]
pub(crate) struct Cost {
    pub(crate) ticks: u64,
    pub(crate) total_ns: u64,
    pub(crate) last_ns: u64,
    pub(crate) max_ns: u64,
    pub(crate) sweeps: u64,
    pub(crate) last_sweep_ns: u64,
}

/// The sampler.
#[pin_data]
pub(crate) struct Sampler {
    #[pin]
    state: Mutex<State>,
}

/// One agent's usage at a sample, and the signal it is to get.
struct Usage {
    id: u32,
    cpu_ns: u64,
    rss_bytes: u64,
    io_ops: u64,
    signal: i32,
}

impl Sampler {
    /// A sampler that has not run yet.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            state <- new_mutex!(
                State {
                    window_end_ns: 0,
                    swept_exclusive: false,
                    cost: Cost::default(),
                },
                "Sampler::state"
            ),
        }? Error)
    }

    /// Runs `f` with the sampler held off: the agents' throttles and
    /// histories do not change meanwhile, and `f` may read the histories
    /// (its argument is what guards them).
    pub(crate) fn exclusive<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.state.lock())
    }

    /// What the ticks cost so far.
    pub(crate) fn cost(&self) -> Cost {
        self.state.lock().cost
    }
}

/// The live usage of every agent, in id order: the agents' processes
/// through the index, each looked up by its pid, so a tick costs what the
/// agents run, not what the system runs. Each agent's thread is also given
/// its syscall tracepoint bit if it lacks it.
fn collect(asm: &Asm) -> Result<KVVec<Usage>> {
    let registry = &asm.registry;
    let room = registry.len() as usize + 4;
    let mut usage = KVVec::with_capacity(room, GFP_KERNEL)?;
    let rcu = RcuGuard::new();
    let mut from = 0;
    // Agents registered beyond the room are sampled next time.
    while let Some(agent) = registry.next(&mut from, &rcu) {
        if usage.len() == room {
            break;
        }
        let u = Usage {
            id: agent.id,
            cpu_ns: 0,
            rss_bytes: 0,
            io_ops: 0,
            signal: 0,
        };
        // Within the capacity reserved above: does not allocate.
        usage.push(u, GFP_NOWAIT)?;
    }
    registry.for_each_member_task(&rcu, |agent, task| {
        // Every thread of an agent's process must reach the syscall probes:
        // one the process made while it joined (a sweep had cleared its
        // creator's bit, the join's walk of the threads missed it) gets
        // its bit here, within a tick, as a sweep would give it.
        task.syscall_work(true);
        if let Ok(i) = usage.binary_search_by_key(&agent.id, |u| u.id) {
            let u = &mut usage[i];
            u.cpu_ns = u.cpu_ns.saturating_add(task.cpu_ns);
            u.rss_bytes = u.rss_bytes.saturating_add(task.rss_bytes);
            u.io_ops = u.io_ops.saturating_add(task.io_ops);
        }
    });
    Ok(usage)
}

/// Gives the syscall tracepoints to agents' tasks only while the module is
/// their only user (`only_asm`), to every task otherwise (another tracer
/// needs them). Joining processes get theirs at once; a sweep catches the
/// rest (see [`Registry::sweep_later`]), walking every task of the system:
/// it runs only when one is due or the module's exclusive use changed.
///
/// [`Registry::sweep_later`]: crate::registry::Registry::sweep_later
fn sweep(asm: &Asm, only_asm: bool) {
    let registry = &asm.registry;
    let rcu = RcuGuard::new();
    ffi::for_each_process(|task| {
        let on = !only_asm || registry.agent_of(task.tgid, &rcu).is_some();
        task.syscall_work(on);
        if !on {
            // A join stores the index, then sets the bit; the sweep clears
            // the bit, then reads the index again: one of the two sees the
            // other, so a process that is becoming a member keeps its bit.
            fence(SeqCst);
            if registry.agent_of(task.tgid, &rcu).is_some() {
                task.syscall_work(true);
            }
        }
    });
}

/// Sends each agent's signal to every one of its processes.
fn send_signals(asm: &Asm, usage: &[Usage]) {
    let rcu = RcuGuard::new();
    asm.registry.for_each_member_task(&rcu, |agent, task| {
        if let Ok(i) = usage.binary_search_by_key(&agent.id, |u| u.id) {
            let signal = usage[i].signal;
            // A kill for a run that ended since (its last exit cleared the
            // ending) would hit the next run's processes.
            if signal == SIGKILL && agent.ending.get().is_none() {
                return;
            }
            if signal != 0 {
                task.signal(signal);
            }
        }
    });
}

/// The sampler's work: returns the milliseconds until it wants to run
/// again, 0 when no agent is left.
pub(crate) fn sample(asm: &Asm) -> u32 {
    if asm.registry.is_empty() {
        return 0;
    }
    let ms = sample_all(asm);
    reclaim(asm);
    ms
}

/// Forgets the agents registered without `CAP_SYS_ADMIN` whose processes
/// have been gone for the `reclaim_ms` module parameter: an unprivileged
/// user's registrations do not outlive their processes by more. Runs
/// without the sampler's lock (unregistering waits for readers).
fn reclaim(asm: &Asm) {
    let keep_ns = u64::from(ffi::reclaim_ms()) * 1_000_000;
    let now = ffi::now_ns();
    // Allocated before RCU; agents registered meanwhile wait for the next tick.
    let Ok(mut ids) = KVVec::with_capacity(asm.registry.len() as usize, GFP_KERNEL) else {
        return;
    };
    {
        let rcu = RcuGuard::new();
        let mut from = 0;
        while let Some(agent) = asm.registry.next(&mut from, &rcu) {
            // Within the capacity: does not allocate.
            if agent.reclaimable(now, keep_ns) && ids.push(agent.id, GFP_NOWAIT).is_err() {
                break;
            }
        }
    }
    for id in ids {
        let result = asm.registry.unregister(
            id,
            |agent| {
                if agent.reclaimable(now, keep_ns) {
                    Ok(())
                } else {
                    Err(EBUSY)
                }
            },
            &asm.telemetry,
        );
        if result.is_ok() {
            let edges = asm.deps.forget(id) as u64;
            asm.audit.append(
                Record::new(Kind::Unregister, UNREGISTER_RECLAIMED, id).values(0, edges),
                None,
            );
        }
    }
}

/// Samples every agent; returns the ms until the next tick.
fn sample_all(asm: &Asm) -> u32 {
    let mut state = asm.sampler.state.lock();
    let now = ffi::now_ns();
    let close = now >= state.window_end_ns;
    if close {
        state.window_end_ns = now + WINDOW_NS;
        let only_asm = ffi::syscall_tp_exclusive();
        // Taken first: a mark made during the sweep gets the next one.
        if asm.registry.take_sweep() || only_asm != state.swept_exclusive {
            sweep(asm, only_asm);
            state.swept_exclusive = only_asm;
            state.cost.sweeps += 1;
            state.cost.last_sweep_ns = ffi::now_ns().saturating_sub(now);
        }
    }
    let ms = sample_usage(asm, &mut state, close, now);
    let cost = &mut state.cost;
    cost.last_ns = ffi::now_ns().saturating_sub(now);
    cost.ticks += 1;
    cost.total_ns = cost.total_ns.saturating_add(cost.last_ns);
    cost.max_ns = cost.max_ns.max(cost.last_ns);
    ms
}

/// One tick's samples and their consequences; returns the ms until the
/// next tick.
fn sample_usage(asm: &Asm, state: &mut State, close: bool, now: u64) -> u32 {
    let Ok(mut usage) = collect(asm) else {
        return WINDOW_MS;
    };
    let mut throttling = false;
    {
        let rcu = RcuGuard::new();
        for u in usage.iter_mut() {
            if let Some(agent) = asm.registry.get(u.id, &rcu) {
                u.signal = tick(asm, state, &agent, u, close, now);
                throttling |= agent.res.throttled();
            }
        }
    }
    if usage.iter().any(|u| u.signal != 0) {
        send_signals(asm, &usage);
    }

    if throttling {
        return THROTTLE_TICK_MS;
    }
    let left_ms = state.window_end_ns.saturating_sub(ffi::now_ns()) / 1_000_000;
    (left_ms as u32).clamp(1, WINDOW_MS)
}

/// Samples one agent; returns the signal its processes get (0: none).
fn tick(asm: &Asm, state: &mut State, agent: &Agent, u: &Usage, close: bool, now: u64) -> i32 {
    let res = &agent.res;
    let h = res.history.access_mut(state);
    let raw = Totals {
        cpu_ns: agent
            .counters
            .cpu_exited_ns
            .load(Relaxed)
            .saturating_add(u.cpu_ns)
            .saturating_sub(res.cpu_before_join_ns.load(Relaxed)),
        syscalls: agent.counters.syscalls.load(Relaxed),
        io_ops: res.io_exited.load(Relaxed).saturating_add(u.io_ops),
    };
    if !h.primed {
        // What the processes did before the agent existed is not counted.
        h.origin = raw;
        h.base = raw;
        h.last = raw;
        h.window_start_ns = now;
        h.primed = true;
    }
    // A process leaving the agent takes its CPU time with it: totals never
    // go back.
    h.last = Totals {
        cpu_ns: raw.cpu_ns.max(h.last.cpu_ns),
        syscalls: raw.syscalls.max(h.last.syscalls),
        io_ops: raw.io_ops.max(h.last.io_ops),
    };
    h.rss_bytes = u.rss_bytes;
    h.rss_peak_bytes = h.rss_peak_bytes.max(u.rss_bytes);

    if agent.nr_processes.load(Relaxed) == 0 {
        // Nothing left to hold: a later run starts unthrottled.
        res.throttle.store(0, Relaxed);
        h.stopped_in_window = false;
    }
    if agent.ending.is_cascade() {
        // The cascade work signals it (crate::cascade).
        return 0;
    }
    if agent.ending.is_some() {
        // Killing until the last process is gone: a fork may have raced.
        return if agent.nr_processes.load(Relaxed) > 0 {
            SIGKILL
        } else {
            0
        };
    }
    let eff = asm.faults.effective(agent);
    let mut signal = 0;
    if close && h.window_start_ns < now {
        let window = h.close_window(now);
        if res.stopped() {
            res.throttle.fetch_and(!STOPPED, Relaxed);
            signal = SIGCONT;
        }
        if let Some(kill) = detect(asm, agent, &eff, &window, now) {
            // With no process left the verdict ends nothing: the next run
            // starts afresh.
            if asm
                .registry
                .ending_if_live(agent, |ending| ending.set(kill))
                .is_some()
            {
                return SIGKILL;
            }
        }
        // A whole window without being stopped, under the limit: the
        // throttle is lifted.
        if !h.stopped_in_window {
            for kind in [FaultKind::CpuQuota, FaultKind::SyscallFlood] {
                let bit = 1 << kind.raw();
                if res.throttle.load(Relaxed) & bit != 0 && !agent.faults.holds(kind) {
                    res.throttle.fetch_and(!bit, Relaxed);
                    let mut event = Event::new(EventKind::Release, agent.id, 0, now);
                    event.fault = kind as u8;
                    asm.telemetry.record(event);
                }
            }
        }
        h.stopped_in_window = false;
    } else if res.throttled() && !res.stopped() {
        let used = (
            h.last.cpu_ns.saturating_sub(h.base.cpu_ns),
            h.last.syscalls.saturating_sub(h.base.syscalls),
        );
        let throttle = res.throttle.load(Relaxed);
        let cpu_spent = throttle & THROTTLE_CPU != 0 && eff.cpu_spent(used.0);
        let syscalls_spent = throttle & THROTTLE_SYSCALLS != 0 && eff.syscalls_spent(used.1);
        if cpu_spent || syscalls_spent {
            res.throttle.fetch_or(STOPPED, Relaxed);
            h.stopped_in_window = true;
            signal = SIGSTOP;
        }
    }
    signal
}

/// Runs the detector on a closed window; returns the action that ends the
/// agent (kill or restart), if one does.
fn detect(
    asm: &Asm,
    agent: &Agent,
    eff: &faults::Effective,
    w: &Window,
    now: u64,
) -> Option<Action> {
    let heartbeat = agent.faults.heartbeat_ns.load(Relaxed);
    let checks = eff.overruns(w, heartbeat, now);
    let mut ends = None;
    for (kind, over) in checks {
        match faults::detect(asm, agent, eff, kind, over, now) {
            Some(Action::Throttle) => {
                agent.res.throttle.fetch_or(1 << kind.raw(), Relaxed);
            }
            Some(a @ (Action::Kill | Action::Restart)) => ends = ends.or(Some(a)),
            _ => {}
        }
    }
    ends
}

/// Ends `agent`'s throttle, continuing it if it is stopped; for unregister
/// and unload. The caller holds the sampler off ([`Sampler::exclusive`]).
pub(crate) fn release(asm: &Asm, agent: &Agent) {
    let was = agent.res.throttle.swap(0, Relaxed);
    if was & STOPPED == 0 {
        return;
    }
    asm.registry.signal_members(agent, SIGCONT);
}

/// Continues every stopped agent: the module is going away.
pub(crate) fn release_all(asm: &Asm) {
    asm.sampler.exclusive(|_| {
        let rcu = RcuGuard::new();
        let mut from = 0;
        while let Some(agent) = asm.registry.next(&mut from, &rcu) {
            release(asm, &agent);
        }
    })
}

/// Copies `agent`'s newest windows (oldest first) into `out`, up to its
/// capacity, and returns its totals.
pub(crate) fn history(
    asm: &Asm,
    id: u32,
    viewer: &Viewer,
    out: &mut KVec<Window>,
    room: usize,
) -> Result<HistoryTotals> {
    asm.sampler.exclusive(|state| {
        let rcu = RcuGuard::new();
        let agent = viewer.find(&asm.registry, id, &rcu).ok_or(ESRCH)?;
        let h = agent.res.history.access(state);
        let kept = h.windows.next_seq() - h.windows.first_seq();
        let from = h.windows.next_seq() - kept.min(room as u64);
        for (_, w) in h.windows.iter_from(from) {
            // The caller reserved `room`: does not allocate.
            out.push(*w, GFP_NOWAIT)?;
        }
        Ok(HistoryTotals {
            cpu_ns: h.last.cpu_ns.saturating_sub(h.origin.cpu_ns),
            syscalls: h.last.syscalls.saturating_sub(h.origin.syscalls),
            io_ops: h.last.io_ops.saturating_sub(h.origin.io_ops),
            rss_bytes: h.rss_bytes,
            rss_peak_bytes: h.rss_peak_bytes,
            throttled: agent.res.throttled(),
        })
    })
}
