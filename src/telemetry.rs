// SPDX-License-Identifier: GPL-2.0

//! System-wide telemetry: the cumulative totals and the ring of the last
//! [`RING_CAPACITY`] lifecycle events, with the count of events it dropped.

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use kernel::new_spinlock;
use kernel::prelude::*;
use kernel::sync::SpinLock;

use crate::ffi;

/// Events the ring keeps.
pub(crate) const RING_CAPACITY: usize = 1024;

/// What happened (`enum asm_event_type`).
#[derive(Clone, Copy)]
#[repr(u8)]
pub(crate) enum EventKind {
    Register = 1,
    Unregister = 2,
    Spawn = 3,
    Exec = 4,
    Exit = 5,
    Crash = 6,
    Fault = 7,
    Action = 8,
    Release = 9,
    Recovery = 10,
    Restarted = 11,
    Failed = 12,
}

impl EventKind {
    /// The name the JSON documents and debugfs use.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::Unregister => "unregister",
            Self::Spawn => "spawn",
            Self::Exec => "exec",
            Self::Exit => "exit",
            Self::Crash => "crash",
            Self::Fault => "fault",
            Self::Action => "action",
            Self::Release => "release",
            Self::Recovery => "recovery",
            Self::Restarted => "restarted",
            Self::Failed => "failed",
        }
    }
}

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

/// The event ring. The oldest event is overwritten when it is full.
pub(crate) struct Ring {
    /// Preallocated to [`RING_CAPACITY`], so pushing never allocates.
    buf: KVec<Event>,
    /// Where the next event goes once `buf` is full.
    next: usize,
    pub(crate) total: u64,
    pub(crate) dropped: u64,
}

impl Ring {
    fn new() -> Result<Self> {
        Ok(Self {
            buf: KVec::with_capacity(RING_CAPACITY, GFP_KERNEL)?,
            next: 0,
            total: 0,
            dropped: 0,
        })
    }

    fn push(&mut self, event: Event) {
        self.total = self.total.saturating_add(1);
        if self.buf.len() < RING_CAPACITY {
            // Within the preallocated capacity: no allocation happens.
            if self.buf.push(event, GFP_NOWAIT).is_err() {
                self.dropped = self.dropped.saturating_add(1);
            }
            return;
        }
        self.buf[self.next] = event;
        self.next = (self.next + 1) % RING_CAPACITY;
        self.dropped = self.dropped.saturating_add(1);
    }

    /// The events, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Event> {
        let (newer, older) = self.buf.split_at(self.next);
        Iterator::chain(older.iter(), newer.iter())
    }

    /// How many events it holds.
    pub(crate) fn len(&self) -> usize {
        self.buf.len()
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
    pub(crate) ring: SpinLock<Ring>,
}

impl Telemetry {
    /// Empty telemetry.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            totals: Totals::default(),
            sent: AtomicU64::new(0),
            ring <- new_spinlock!(Ring::new()?, "Telemetry::ring"),
        }? Error)
    }

    /// Adds an event to the ring, and has it sent to netlink listeners.
    pub(crate) fn record(&self, event: Event) {
        self.ring.lock().push(event);
        ffi::notify_kick();
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
        let oldest = ring.total - ring.len() as u64;
        let first = from.max(oldest);
        let skip = (first - oldest) as usize;
        let mut n = 0;
        for (slot, event) in out.iter_mut().zip(ring.iter().skip(skip)) {
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
        telemetry.sent.store(first + n as u64, Relaxed);
        if n == 0 || !ffi::genl_listening() {
            return;
        }
        for (seq, e) in (first..).zip(batch.iter().flatten()) {
            let ev = ffi::GenlEvent {
                seq,
                timestamp_ns: e.timestamp_ns,
                value: e.value,
                limit: e.limit,
                kind: e.kind as u32,
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
