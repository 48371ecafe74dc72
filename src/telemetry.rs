// SPDX-License-Identifier: GPL-2.0

//! System-wide telemetry: the cumulative totals and the ring of the last
//! [`RING_CAPACITY`] lifecycle events, with the count of events it dropped.

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use kernel::new_spinlock;
use kernel::prelude::*;
use kernel::sync::SpinLock;

use crate::faults::{Action, FaultKind};
use crate::ffi;
use crate::ring::SeqRing;
pub(crate) use crate::uapi::EventKind;
use crate::uapi::LlmProvider;

/// Events the ring keeps.
pub(crate) const RING_CAPACITY: usize = 1024;

/// One lifecycle event.
#[derive(Clone, Copy)]
pub(crate) struct Event {
    pub(crate) timestamp_ns: u64,
    pub(crate) agent_id: u32,
    /// Process id in the initial pid namespace.
    pub(crate) pid: i32,
    pub(crate) kind: EventKind,
    pub(crate) exit_code: i32,
    pub(crate) signal: i32,
    /// Fault, action and release events: the `enum asm_fault_type`.
    pub(crate) fault: u8,
    /// Action events: the `enum asm_action` taken.
    pub(crate) action: u8,
    /// Fault events: the observed value and the limit.
    pub(crate) value: u64,
    pub(crate) limit: u64,
}

impl Event {
    /// An event without an exit status.
    pub(crate) fn new(kind: EventKind, agent_id: u32, pid: i32, now: u64) -> Self {
        Self {
            timestamp_ns: now,
            agent_id,
            pid,
            kind,
            exit_code: 0,
            signal: 0,
            fault: 0,
            action: 0,
            value: 0,
            limit: 0,
        }
    }
}

/// What an event says beyond its kind, agent and process: the one decoding
/// that the debugfs lines, the JSON documents and the status page render.
pub(crate) enum Detail {
    /// Nothing more.
    None,
    /// A process ended with exit `code`, or by `signal` when not 0.
    Ended { code: i32, signal: i32 },
    /// The agent's restarts so far and its budget.
    Restarts { count: u64, max: u64 },
    /// A fault (`None`: an unknown type) with the observed value and limit.
    Fault {
        fault: Option<FaultKind>,
        observed: u64,
        limit: u64,
    },
    /// A recovery action taken for a fault.
    Action {
        fault: Option<FaultKind>,
        action: Option<Action>,
    },
    /// A throttle lifted.
    Release { fault: Option<FaultKind> },
    /// An LLM request ended: the provider that answered, 0 or the
    /// request's -errno, the tokens used and its duration.
    Llm {
        provider: Option<LlmProvider>,
        result: i32,
        tokens_used: u64,
        duration_us: u64,
    },
    /// A dependency event: the agent `dependency` it names, the signal
    /// sent (0: none) and, for a cascade or a hold, the grace in ms.
    Dependency {
        dependency: u64,
        signal: i32,
        grace_ms: u64,
    },
}

impl Event {
    /// What it says beyond its kind, agent and process.
    pub(crate) fn detail(&self) -> Detail {
        let fault = FaultKind::from_raw(self.fault);
        match self.kind {
            EventKind::Exit | EventKind::Crash => Detail::Ended {
                code: self.exit_code,
                signal: self.signal,
            },
            EventKind::Recovery | EventKind::Restarted | EventKind::Failed => Detail::Restarts {
                count: self.value,
                max: self.limit,
            },
            EventKind::Fault => Detail::Fault {
                fault,
                observed: self.value,
                limit: self.limit,
            },
            EventKind::Action => Detail::Action {
                fault,
                action: Action::from_raw(self.action),
            },
            EventKind::Release => Detail::Release { fault },
            EventKind::LlmRequest => Detail::Llm {
                provider: LlmProvider::try_from(u32::from(self.fault)).ok(),
                result: self.exit_code,
                tokens_used: self.value,
                duration_us: self.limit,
            },
            EventKind::Cascade | EventKind::DependencyHeld | EventKind::DependencyLost => {
                Detail::Dependency {
                    dependency: self.value,
                    signal: self.signal,
                    grace_ms: self.limit,
                }
            }
            _ => Detail::None,
        }
    }
}

/// Cumulative system totals, since the module was loaded.
#[derive(Default)]
pub(crate) struct Totals {
    pub(crate) spawns: AtomicU64,
    pub(crate) exits: AtomicU64,
    pub(crate) crashes: AtomicU64,
    pub(crate) faults: AtomicU64,
    pub(crate) restarts: AtomicU64,
    pub(crate) syscalls: AtomicU64,
    /// New processes of agents that could not join their agent's index
    /// (no memory) and were killed instead of running unsupervised.
    pub(crate) join_failures: AtomicU64,
}

/// Totals and the event ring.
#[pin_data]
pub(crate) struct Telemetry {
    pub(crate) totals: Totals,
    /// The number of the next event to send to netlink listeners; only the
    /// notify work uses it.
    sent: AtomicU64,
    /// Taken by the probes: never held across anything that sleeps.
    #[pin]
    /// The last [`RING_CAPACITY`] events; an event's number is its
    /// position since load.
    pub(crate) ring: SpinLock<SeqRing<Event>>,
}

impl Telemetry {
    /// Empty telemetry.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            totals: Totals::default(),
            sent: AtomicU64::new(0),
            ring <- new_spinlock!(
                SeqRing::new(RING_CAPACITY, Event::new(EventKind::Register, 0, 0, 0))?,
                "Telemetry::ring"
            ),
        }? Error)
    }

    /// Adds an event to the ring, and has it sent to netlink listeners.
    /// With none, no work item runs: an agent's fork and exit do not wake
    /// a worker each.
    pub(crate) fn record(&self, event: Event) {
        let next = {
            let mut ring = self.ring.lock();
            ring.push(event);
            ring.next_seq()
        };
        if !ffi::notify_kick() {
            // A socket that joins later gets the events that follow it.
            self.sent.fetch_max(next, Relaxed);
        }
    }

    /// Copies the events numbered `from` and later (numbers count from 0
    /// since load), oldest first, into `out`; returns how many and the
    /// number of the first one (above `from` when the ring overwrote some).
    pub(crate) fn since<const N: usize>(
        &self,
        from: u64,
        out: &mut [Option<Event>; N],
    ) -> (usize, u64) {
        let ring = self.ring.lock();
        let first = from.max(ring.first_seq());
        let mut n = 0;
        for (slot, (_, event)) in out.iter_mut().zip(ring.iter_from(first)) {
            *slot = Some(*event);
            n += 1;
        }
        (n, first)
    }

    /// Copies the last `N` events that `wanted` accepts (oldest first) into
    /// `out`; returns how many.
    pub(crate) fn recent_of<const N: usize>(
        &self,
        out: &mut [Option<Event>; N],
        wanted: impl Fn(&Event) -> bool,
    ) -> usize {
        let ring = self.ring.lock();
        let matching = ring.iter().filter(|e| wanted(e)).count();
        let mut n = 0;
        let skip = matching.saturating_sub(N);
        for (slot, event) in out
            .iter_mut()
            .zip(ring.iter().filter(|e| wanted(e)).skip(skip))
        {
            *slot = Some(*event);
            n += 1;
        }
        n
    }
}

/// The notify work: multicasts every event recorded since the last run to
/// the generic netlink group, in order, numbered.
pub(crate) fn notify(telemetry: &Telemetry) {
    const BATCH: usize = 32;
    loop {
        let from = telemetry.sent.load(Relaxed);
        let mut batch = [None; BATCH];
        let (n, first) = telemetry.since(from, &mut batch);
        // Never back: `record` moves it past what nobody listened to.
        telemetry.sent.fetch_max(first + n as u64, Relaxed);
        if n == 0 || !ffi::genl_listening() {
            return;
        }
        for (seq, e) in (first..).zip(batch.iter().flatten()) {
            let ev = ffi::GenlEvent {
                seq,
                timestamp_ns: e.timestamp_ns,
                value: e.value,
                limit: e.limit,
                kind: e.kind.raw(),
                agent_id: e.agent_id,
                pid: e.pid,
                exit_code: e.exit_code,
                signal: e.signal,
                fault: e.fault.into(),
                action: e.action.into(),
                pad: 0,
            };
            // A full socket buffer loses the event for that listener: the
            // sequence numbers show the gap.
            let _ = ffi::genl_send(&ev);
        }
        if n < BATCH {
            return;
        }
    }
}
