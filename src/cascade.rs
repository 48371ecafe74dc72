// SPDX-License-Identifier: GPL-2.0

//! Cascades: what the end of an agent does to the agents that depend on it
//! (Documentation/deps.rst, "When a dependency ends").
//!
//! The exit probe only marks an agent whose last process ended
//! ([`Agent::dep_check`]) and kicks the cascade work; this work, in process
//! context, reads the graph and:
//!
//! - notifies the agent's Optional dependents (an event, and the edge's
//!   signal if it names one);
//! - when the agent ended for good (Exited, Fault, Failed), stops every
//!   agent that requires it, directly or through others, one at a time,
//!   dependents before their dependencies: SIGTERM, then SIGKILL once the
//!   `cascade_term_ms` grace is over. Each stop is an event and an audit
//!   entry; the stopped agent's exits are no crashes and leave it Exited;
//! - when it is in Recovery (its launcher is to restart it), holds its
//!   Required dependents for `cascade_hold_ms`: they are stopped if it
//!   ends Failed or is still in Recovery when the hold is over, and keep
//!   running if it came back.

use core::fmt::Write;
use core::sync::atomic::Ordering::Relaxed;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;

use crate::agent::{Agent, State};
use crate::audit::{Kind, Record};
use crate::deps::{self, DepKind, Edge, End};
use crate::ffi::{self, RcuArc, RcuGuard, SIGKILL};
use crate::resources;
use crate::telemetry::{Event, EventKind};
use crate::Asm;

/// `SIGTERM`: a cascade's first signal.
const SIGTERM: i32 = 15;

/// How often the work looks at an agent being stopped, in ms (its last
/// exit also wakes the work at once).
const POLL_MS: u32 = 50;

/// How many times a stop sends SIGKILL (every [`POLL_MS`]) before it
/// lets the next stop of its cascade go: a process in uninterruptible
/// sleep dies when it wakes, and must not hold its cascade up for ever.
const KILL_ROUNDS: u32 = 100;

/// Where one stop of a cascade is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waits for the stops of its cascade before it.
    Queued,
    /// Got SIGTERM; gets SIGKILL at `kill_at` if it still runs.
    Terminating { kill_at: u64 },
    /// Got SIGKILL `rounds` times; gets it again until its last process is
    /// gone (a fork may have raced), up to [`KILL_ROUNDS`].
    Killing { rounds: u32 },
}

/// An agent to stop.
#[derive(Clone, Copy)]
struct Stop {
    agent: End,
    /// The agent whose end started the cascade, and how it ended.
    root: u32,
    why: State,
    phase: Phase,
}

/// A dependency in Recovery whose Required dependents wait until `until`.
#[derive(Clone, Copy)]
struct Hold {
    dependency: End,
    until: u64,
}

struct Jobs {
    /// The stops, in the order they are made; a done one leaves `None`
    /// until [`Jobs::compact`]. The stops of one cascade (one root) are
    /// made one after the other; different cascades go on side by side.
    stops: KVVec<Option<Stop>>,
    holds: KVVec<Option<Hold>>,
}

/// The cascade work's state.
#[pin_data]
pub(crate) struct Cascade {
    #[pin]
    jobs: Mutex<Jobs>,
}

impl Cascade {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            jobs <- new_mutex!(
                Jobs {
                    stops: KVVec::new(),
                    holds: KVVec::new(),
                },
                "Cascade::jobs"
            ),
        })
    }
}

/// The exit probe's part: `agent`'s last process ended, leaving it in a
/// state the cascade work is to look at. Does not sleep.
pub(crate) fn ended(asm: &Asm, agent: &Agent) {
    if asm.deps.is_empty() {
        return;
    }
    agent.dep_check.store(true, Relaxed);
    ffi::cascade_kick();
}

/// The agent of `end`, if that registration is still the one of its id.
fn lookup(asm: &Asm, end: End) -> Option<RcuArc<Agent>> {
    let rcu = RcuGuard::new();
    asm.registry
        .get(end.id, &rcu)
        .filter(|a| a.registered_ns == end.registered_ns)
        .and_then(|a| a.to_arc())
}

/// Records a dependency event of `agent` about `dependency`.
fn event(asm: &Asm, kind: EventKind, agent: u32, dependency: u32, signal: i32, grace_ms: u32) {
    let mut e = Event::new(kind, agent, 0, ffi::now_ns());
    e.value = dependency.into();
    e.signal = signal;
    e.limit = grace_ms.into();
    asm.telemetry.record(e);
}

/// The agents whose end the probe marked, with their state, and whether
/// there was no room for all of them (the others keep their mark for the
/// next run). Takes the marks: [`remark`] puts back those not handled.
fn marked(asm: &Asm) -> Result<(KVVec<(End, State)>, bool)> {
    let mut out = KVVec::with_capacity(asm.registry.len() as usize + 4, GFP_KERNEL)?;
    let rcu = RcuGuard::new();
    let mut from = 0;
    while let Some(agent) = asm.registry.next(&mut from, &rcu) {
        if out.len() == out.capacity() {
            return Ok((out, true));
        }
        if agent.dep_check.swap(false, Relaxed) {
            let end = End {
                id: agent.id,
                registered_ns: agent.registered_ns,
            };
            // Within the capacity: does not allocate.
            out.push((end, agent.state()), GFP_NOWAIT)?;
        }
    }
    Ok((out, false))
}

/// Marks `ends` again: the work could not handle them (no memory), and
/// tries again at its next run rather than forget them.
fn remark(asm: &Asm, ends: &[(End, State)]) {
    for (end, _) in ends {
        if let Some(agent) = lookup(asm, *end) {
            agent.dep_check.store(true, Relaxed);
        }
    }
}

/// Whether `state` is an end with no restart to wait for.
fn for_good(state: State) -> bool {
    matches!(state, State::Exited | State::Fault | State::Failed)
}

/// The dependents of `dependency` along edges of `kind`.
fn dependents(edges: &[Edge], dependency: End, kind: DepKind) -> impl Iterator<Item = &Edge> {
    edges
        .iter()
        .filter(move |e| e.kind == kind && e.dependency == dependency)
}

/// Whether `end` has processes now.
fn running(asm: &Asm, end: End) -> bool {
    lookup(asm, end).is_some_and(|a| a.nr_processes.load(Relaxed) > 0)
}

impl Jobs {
    /// `dependency` ended in `state`: notifies its Optional dependents and
    /// stops or holds its Required ones.
    fn ended(&mut self, asm: &Asm, edges: &[Edge], dependency: End, state: State) -> Result {
        if !matches!(state, State::Recovery) && !for_good(state) {
            // It came back before the work looked.
            self.release(dependency);
            return Ok(());
        }
        for e in dependents(edges, dependency, DepKind::Optional) {
            let Some(agent) = lookup(asm, e.dependent) else {
                continue;
            };
            let sig = e.signal as i32;
            if sig != 0 && agent.nr_processes.load(Relaxed) > 0 {
                asm.registry.signal_members(&agent, sig);
            }
            event(
                asm,
                EventKind::DependencyLost,
                agent.id,
                dependency.id,
                sig,
                0,
            );
        }
        if for_good(state) {
            self.release(dependency);
            return self.cascade(edges, dependency, state);
        }
        let hold_ms = ffi::cascade_hold_ms();
        let until = ffi::now_ns() + u64::from(hold_ms) * 1_000_000;
        self.release(dependency);
        let hold = Hold { dependency, until };
        match self.holds.iter_mut().find(|s| s.is_none()) {
            Some(slot) => *slot = Some(hold),
            None => self.holds.push(Some(hold), GFP_KERNEL)?,
        }
        for e in dependents(edges, dependency, DepKind::Required) {
            if running(asm, e.dependent) {
                event(
                    asm,
                    EventKind::DependencyHeld,
                    e.dependent.id,
                    dependency.id,
                    0,
                    hold_ms,
                );
            }
        }
        Ok(())
    }

    /// Ends the hold of `dependency`, if any.
    fn release(&mut self, dependency: End) {
        for slot in self.holds.iter_mut() {
            if slot.is_some_and(|h| h.dependency == dependency) {
                *slot = None;
            }
        }
    }

    /// Queues the stop of every agent that requires `root`, which ended in
    /// `why`, unless it is queued already.
    fn cascade(&mut self, edges: &[Edge], root: End, why: State) -> Result {
        for agent in deps::cascade_order(edges, root)? {
            if self.stops.iter().flatten().any(|s| s.agent == agent) {
                continue;
            }
            let stop = Stop {
                agent,
                root: root.id,
                why,
                phase: Phase::Queued,
            };
            // Appended, never in a free slot: the order is the slots'.
            self.stops.push(Some(stop), GFP_KERNEL)?;
        }
        Ok(())
    }

    /// Ends the holds that are over: a dependency that came back releases
    /// its dependents, one that ended or is still in Recovery stops them.
    fn check_holds(&mut self, asm: &Asm, edges: &[Edge], now: u64) -> Result {
        for i in 0..self.holds.len() {
            let Some(hold) = self.holds[i] else {
                continue;
            };
            let state = lookup(asm, hold.dependency).map(|a| a.state());
            let over = match state {
                None => {
                    // Unregistered: its edges are gone.
                    self.holds[i] = None;
                    continue;
                }
                Some(State::Recovery) if now < hold.until => continue,
                Some(s) if !for_good(s) && s != State::Recovery => {
                    // It came back: its dependents keep running.
                    self.holds[i] = None;
                    continue;
                }
                Some(s) => s,
            };
            // Cleared once the stops are queued: on failure, tried again.
            self.cascade(edges, hold.dependency, over)?;
            self.holds[i] = None;
        }
        Ok(())
    }

    /// Makes the next step of the first stop not done of each cascade;
    /// returns the ms until a stop wants the next step, `None` if none is
    /// under way.
    fn step(&mut self, asm: &Asm, now: u64) -> Result<Option<u32>> {
        // The roots whose first stop not done is behind us in the list.
        let mut busy: KVVec<u32> = KVVec::new();
        let mut next: Option<u32> = None;
        let term_ms = ffi::cascade_term_ms();
        for slot in self.stops.iter_mut() {
            let Some(stop) = slot.as_mut() else {
                continue;
            };
            if busy.contains(&stop.root) {
                continue;
            }
            let agent = lookup(asm, stop.agent);
            let Some(agent) = agent.filter(|a| a.nr_processes.load(Relaxed) > 0) else {
                // Stopped, unregistered, or nothing to stop.
                *slot = None;
                continue;
            };
            let wait_ms = match stop.phase {
                Phase::Queued => {
                    start(asm, &agent, stop, term_ms);
                    stop.phase = Phase::Terminating {
                        kill_at: now + u64::from(term_ms) * 1_000_000,
                    };
                    POLL_MS.min(term_ms.max(1))
                }
                Phase::Terminating { kill_at } if now < kill_at => {
                    let left_ms = (kill_at - now).div_ceil(1_000_000) as u32;
                    POLL_MS.min(left_ms.max(1))
                }
                Phase::Terminating { .. } => {
                    asm.registry.signal_members(&agent, SIGKILL);
                    event(
                        asm,
                        EventKind::Cascade,
                        agent.id,
                        stop.root,
                        SIGKILL,
                        term_ms,
                    );
                    stop.phase = Phase::Killing { rounds: 1 };
                    POLL_MS
                }
                Phase::Killing { rounds } if rounds >= KILL_ROUNDS => {
                    // Its SIGKILL is pending: the rest of its cascade goes on.
                    *slot = None;
                    continue;
                }
                Phase::Killing { rounds } => {
                    asm.registry.signal_members(&agent, SIGKILL);
                    stop.phase = Phase::Killing { rounds: rounds + 1 };
                    POLL_MS
                }
            };
            busy.push(stop.root, GFP_KERNEL)?;
            next = Some(next.map_or(wait_ms, |n| n.min(wait_ms)));
        }
        Ok(next)
    }

    /// Drops the done stops' slots (keeping the order of the others), and
    /// the holds' once none is left. On no memory the slots stay.
    fn compact(&mut self) {
        if self.stops.iter().any(|s| s.is_none()) {
            let left = self.stops.iter().flatten().count();
            if let Ok(mut kept) = KVVec::with_capacity(left, GFP_KERNEL) {
                for stop in self.stops.iter().flatten() {
                    // Within the capacity.
                    let _ = kept.push(Some(*stop), GFP_KERNEL);
                }
                self.stops = kept;
            }
        }
        if self.holds.iter().all(|h| h.is_none()) {
            self.holds = KVVec::new();
        }
    }

    /// The ms until a hold is over; `None` without holds.
    fn next_hold_ms(&self, now: u64) -> Option<u32> {
        self.holds
            .iter()
            .flatten()
            .map(|h| (h.until.saturating_sub(now).div_ceil(1_000_000) as u32).max(1))
            .min()
    }
}

/// Starts stopping `agent`: a cascade (not a crash) ends it, its throttle
/// is lifted so that it can handle SIGTERM, and the stop is recorded.
fn start(asm: &Asm, agent: &Agent, stop: &Stop, term_ms: u32) {
    let began = asm.sampler.exclusive(|_| {
        let began = agent.ending.begin_cascade();
        if began {
            resources::release(asm, agent);
        }
        began
    });
    // Otherwise a recovery action is killing it already.
    if began {
        asm.registry.signal_members(agent, SIGTERM);
    }
    event(
        asm,
        EventKind::Cascade,
        agent.id,
        stop.root,
        SIGTERM,
        term_ms,
    );
    let mut r = Record::new(Kind::Cascade, 0, agent.id).values(stop.root.into(), term_ms.into());
    let _ = write!(
        r,
        "stopped: requires agent {}, which ended {}; SIGKILL after {} ms",
        stop.root,
        stop.why.name(),
        term_ms
    );
    asm.audit.append(r, Some(agent));
}

/// The cascade work; returns the ms until it wants to run again, 0 for
/// when it is next kicked.
pub(crate) fn run(asm: &Asm) -> u32 {
    let mut jobs = asm.cascade.jobs.lock();
    let now = ffi::now_ns();
    let (marked, full) = match marked(asm) {
        Ok(m) => m,
        Err(_) => return POLL_MS,
    };
    let result = (|| -> Result<Option<u32>> {
        let edges = asm
            .deps
            .edges(|id| asm.registry.registered_ns(id))
            .inspect_err(|_| remark(asm, &marked))?;
        for (i, &(end, state)) in marked.iter().enumerate() {
            jobs.ended(asm, &edges, end, state)
                .inspect_err(|_| remark(asm, &marked[i..]))?;
        }
        jobs.check_holds(asm, &edges, now)?;
        jobs.step(asm, now)
    })();
    let stepping = match result {
        // No room for every mark, or no memory: again soon.
        Ok(stepping) if full => Some(stepping.map_or(POLL_MS, |ms| ms.min(POLL_MS))),
        Ok(stepping) => stepping,
        Err(_) => Some(POLL_MS),
    };
    jobs.compact();
    let hold = jobs.next_hold_ms(now);
    match (stepping, hold) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => 0,
    }
}
