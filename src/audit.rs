// SPDX-License-Identifier: GPL-2.0

//! The audit trail: a bounded, hash-chained log of every policy change,
//! refused request, violation and compliance event.
//!
//! Each entry carries the SHA-256 of the entry before it and its own hash
//! over every byte before the hash, so an exported trail whose entry was
//! edited, removed or reordered no longer verifies. The log keeps the last
//! `AUDIT_ENTRIES`; older ones are overwritten and counted. Appending
//! does not sleep: the probes audit violations.

use core::fmt::{self, Write};
use core::sync::atomic::Ordering::Relaxed;
use kernel::new_spinlock;
use kernel::prelude::*;
use kernel::sync::SpinLock;

use crate::agent::Agent;
use crate::ffi;
use crate::ring::SeqRing;
use crate::uapi::{AuditEntry, AUDIT_DETAIL_LEN, AUDIT_HASH_LEN};

/// What an audit entry records.
pub(crate) use crate::uapi::AuditKind as Kind;

/// An entry being written: who and when are filled in by [`Audit::append`].
pub(crate) struct Record {
    entry: AuditEntry,
    len: usize,
    /// Who is set: not the calling process.
    by: bool,
}

impl Record {
    /// An entry of `kind` about agent `agent_id` (0: none).
    pub(crate) fn new(kind: Kind, op: u32, agent_id: u32) -> Self {
        Self {
            entry: AuditEntry {
                seq: 0,
                time_ns: 0,
                kind: kind.raw(),
                op,
                agent_id,
                uid: 0,
                pid: 0,
                result: 0,
                old_value: 0,
                new_value: 0,
                detail: [0; AUDIT_DETAIL_LEN],
                prev_hash: [0; AUDIT_HASH_LEN],
                hash: [0; AUDIT_HASH_LEN],
            },
            len: 0,
            by: false,
        }
    }

    /// Done by process `pid` with effective uid `uid`, not the caller.
    pub(crate) fn by(mut self, uid: u32, pid: i32) -> Self {
        self.entry.uid = uid;
        self.entry.pid = pid;
        self.by = true;
        self
    }

    /// The values before and after.
    pub(crate) fn values(mut self, old: u64, new: u64) -> Self {
        self.entry.old_value = old;
        self.entry.new_value = new;
        self
    }

    /// The outcome: `Ok` or the error the request got.
    pub(crate) fn result(mut self, result: Result) -> Self {
        self.entry.result = match result {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
        };
        self
    }

    /// The detail text so far.
    pub(crate) fn text(&self) -> &[u8] {
        &self.entry.detail[..self.len]
    }

    /// Appends raw bytes to the detail text (cut at its room).
    pub(crate) fn bytes(&mut self, b: &[u8]) {
        let room = AUDIT_DETAIL_LEN - 1 - self.len;
        let n = b.len().min(room);
        self.entry.detail[self.len..self.len + n].copy_from_slice(&b[..n]);
        self.len += n;
    }
}

impl Write for Record {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.bytes(s.as_bytes());
        Ok(())
    }
}

/// Whose entries a rate limit counts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// A user without `CAP_SYS_ADMIN` (by euid): their requests, refused
    /// or not, and the reports of the agents they registered.
    User(u32),
    /// The reports (decisions, sensitive opens) of an agent an
    /// administrator registered (by agent id).
    Agent(u32),
}

impl Source {
    /// Who answers for `agent`'s own reports.
    pub(crate) fn reports_of(agent: &Agent) -> Self {
        if agent.privileged {
            Self::Agent(agent.id)
        } else {
            Self::User(agent.owner_uid)
        }
    }
}

/// Entries one source may add per window; more are counted, not kept, so
/// that a flood cannot push registrations, patches, violations and
/// oversight out of the trail.
const LIMIT_BURST: u32 = 32;
const LIMIT_WINDOW_NS: u64 = 60_000_000_000;
/// Sources tracked at once. A new source takes a free slot or one whose
/// window is over; when there is none, the new sources share one more
/// slot, so that many sources in turn cannot each start afresh.
const LIMIT_SLOTS: usize = 32;

#[derive(Clone, Copy)]
struct Slot {
    source: Option<Source>,
    window_start_ns: u64,
    count: u32,
}

struct Ring {
    /// The last `AUDIT_ENTRIES` entries; an entry's number is its seq.
    entries: SeqRing<AuditEntry>,
    last_hash: [u8; AUDIT_HASH_LEN],
    limits: [Slot; LIMIT_SLOTS + 1],
    /// Entries the rate limits kept out of the trail.
    suppressed: u64,
}

impl Ring {
    /// Whether `source` may add an entry at `now`; counts it.
    fn admit_locked(&mut self, source: Source, now: u64) -> bool {
        let expired = |s: &Slot| {
            s.source.is_none() || now.saturating_sub(s.window_start_ns) >= LIMIT_WINDOW_NS
        };
        let tracked = &self.limits[..LIMIT_SLOTS];
        let slot = match tracked.iter().position(|s| s.source == Some(source)) {
            Some(i) => i,
            None => match tracked.iter().position(expired) {
                Some(i) => {
                    self.limits[i] = Slot {
                        source: Some(source),
                        window_start_ns: now,
                        count: 0,
                    };
                    i
                }
                // The shared slot.
                None => LIMIT_SLOTS,
            },
        };
        let s = &mut self.limits[slot];
        if now.saturating_sub(s.window_start_ns) >= LIMIT_WINDOW_NS {
            s.window_start_ns = now;
            s.count = 0;
        }
        if s.count >= LIMIT_BURST {
            self.suppressed = self.suppressed.saturating_add(1);
            return false;
        }
        s.count += 1;
        true
    }
}

/// The trail.
#[pin_data]
pub(crate) struct Audit {
    /// Taken by the probes: never held across anything that sleeps.
    #[pin]
    ring: SpinLock<Ring>,
}

/// What [`Audit::read`] found besides the entries.
pub(crate) struct Span {
    pub(crate) first_seq: u64,
    pub(crate) next_seq: u64,
    /// Entries the rate limits kept out.
    pub(crate) suppressed: u64,
}

impl Audit {
    /// An empty trail with room for `capacity` entries
    /// (`AUDIT_ENTRIES` for the policy trail).
    pub(crate) fn new(capacity: usize) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            ring <- new_spinlock!(
                Ring {
                    entries: SeqRing::new(capacity, Record::new(Kind::Register, 0, 0).entry)?,
                    last_hash: [0; AUDIT_HASH_LEN],
                    limits: [Slot { source: None, window_start_ns: 0, count: 0 }; LIMIT_SLOTS + 1],
                    suppressed: 0,
                },
                "Audit::ring"
            ),
        }? Error)
    }

    /// Chains `r` to the trail as done by the calling process, counting it
    /// for `agent`; returns its seq. Does not sleep.
    pub(crate) fn append(&self, r: Record, agent: Option<&Agent>) -> u64 {
        self.append_from(r, agent, None).unwrap_or(u64::MAX)
    }

    /// [`Self::append`] for the outcome of a request: a refusal of a
    /// caller without `CAP_SYS_ADMIN` is rate-limited per user; returns
    /// `u64::MAX` (`ASM_AUDIT_SUPPRESSED`) for an entry the limit kept out.
    pub(crate) fn append_request(&self, r: Record, agent: Option<&Agent>) -> u64 {
        let source = (r.entry.result != 0 && !ffi::capable_admin_noaudit())
            .then(|| Source::User(ffi::current_euid()));
        self.append_from(r, agent, source).unwrap_or(u64::MAX)
    }

    /// Takes one entry of `source`'s rate before a request that will be
    /// audited changes anything: `EAGAIN` (counted as suppressed) when the
    /// source has used its rate, so that every change is audited.
    pub(crate) fn admit(&self, source: Source) -> Result {
        let now = ffi::now_ns();
        if self.ring.lock().admit_locked(source, now) {
            Ok(())
        } else {
            Err(EAGAIN)
        }
    }

    /// Chains `r` if its `source` (when rate-limited) may add one more
    /// entry now; returns its seq, `None` if it was kept out.
    pub(crate) fn append_from(
        &self,
        r: Record,
        agent: Option<&Agent>,
        source: Option<Source>,
    ) -> Option<u64> {
        let mut e = r.entry;
        e.time_ns = ffi::real_ns();
        if !r.by {
            e.uid = ffi::current_euid();
            e.pid = ffi::current_tgid();
        }
        let now = ffi::now_ns();
        let mut ring = self.ring.lock();
        if let Some(source) = source {
            if !ring.admit_locked(source, now) {
                return None;
            }
        }
        if let Some(agent) = agent {
            agent.policy.record.events.fetch_add(1, Relaxed);
        }
        e.seq = ring.entries.next_seq();
        e.prev_hash = ring.last_hash;
        e.hash = ffi::sha256(e.hashed_bytes());
        ring.last_hash = e.hash;
        Some(ring.entries.push(e))
    }

    /// Copies the entries from `from` on (those still kept) into `out`, at
    /// most its spare capacity.
    pub(crate) fn read(&self, from: u64, out: &mut KVVec<AuditEntry>) -> Span {
        let ring = self.ring.lock();
        let room = out.capacity() - out.len();
        for (_, e) in ring.entries.iter_from(from).take(room) {
            // Reserved by the caller: never allocates.
            let _ = out.push(*e, GFP_ATOMIC);
        }
        Span {
            first_seq: ring.entries.first_seq(),
            next_seq: ring.entries.next_seq(),
            suppressed: ring.suppressed,
        }
    }

    /// How many entries it keeps.
    pub(crate) fn capacity(&self) -> usize {
        self.ring.lock().entries.capacity()
    }

    /// The seq the next entry gets (entries recorded since load).
    pub(crate) fn next_seq(&self) -> u64 {
        self.ring.lock().entries.next_seq()
    }
}
