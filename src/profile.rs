// SPDX-License-Identifier: GPL-2.0

//! Operation profiling (`ASM_IOC_PROFILE`): an agent reports how long its
//! operations took; per agent and operation name the module keeps the last
//! [`PROFILE_SAMPLES`] durations, all-time counts, and gives the minimum,
//! maximum, mean and nearest-rank percentiles over the kept samples, for
//! one agent or over every agent a reader sees.
//!
//! Every agent's operations live behind one mutex ([`Profiler`]); an
//! agent has at most [`PROFILE_OPS_MAX`] of them, each allocated when it
//! is first reported.

use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::{LockedBy, Mutex};

use crate::agent::Agent;
use crate::ffi::RcuArc;
use crate::uapi::{PROFILE_OPS_MAX, PROFILE_OP_LEN, PROFILE_SAMPLES};

/// What [`Profiler::lock`] guards: every agent's operations, through
/// `LockedBy`, which needs a lock whose data is not zero-sized (its address
/// tells locks apart).
pub(crate) struct Profiles {
    _not_zero_sized: u8,
}

#[pin_data]
pub(crate) struct Profiler {
    #[pin]
    lock: Mutex<Profiles>,
}

/// An operation's name: 1 to 31 characters of `[A-Za-z0-9_.:-]`,
/// NUL-padded.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct OpName([u8; PROFILE_OP_LEN]);

impl OpName {
    /// The name in `raw`, `None` if it is empty; `EINVAL` for a bad one.
    pub(crate) fn parse(raw: &[u8; PROFILE_OP_LEN]) -> Result<Option<Self>> {
        let len = raw.iter().position(|&b| b == 0).ok_or(EINVAL)?;
        if raw[len..].iter().any(|&b| b != 0) {
            return Err(EINVAL);
        }
        let ok = |b: &u8| b.is_ascii_alphanumeric() || b"_.:-".contains(b);
        match len {
            0 => Ok(None),
            _ if raw[..len].iter().all(ok) => Ok(Some(Self(*raw))),
            _ => Err(EINVAL),
        }
    }

    pub(crate) fn raw(&self) -> [u8; PROFILE_OP_LEN] {
        self.0
    }
}

/// One operation of one agent.
struct Op {
    name: OpName,
    /// The last samples, oldest at `next` once the ring is full.
    ring: [u64; PROFILE_SAMPLES],
    next: usize,
    kept: usize,
    total: u64,
    successes: u64,
}

impl Op {
    fn add(&mut self, duration: u64, success: bool) {
        self.ring[self.next] = duration;
        self.next = (self.next + 1) % PROFILE_SAMPLES;
        self.kept = (self.kept + 1).min(PROFILE_SAMPLES);
        self.total += 1;
        self.successes += u64::from(success);
    }

    fn samples(&self) -> &[u64] {
        // Until the ring is full the samples are its first `kept` slots;
        // after, all of them (their order does not matter).
        &self.ring[..self.kept]
    }
}

/// An agent's operations.
pub(crate) struct AgentProfile {
    ops: LockedBy<KVec<KBox<Op>>, Profiles>,
}

impl AgentProfile {
    pub(crate) fn new(profiler: &Profiler) -> Self {
        Self {
            ops: LockedBy::new(&profiler.lock, KVec::new()),
        }
    }
}

/// Which operation of an agent.
pub(crate) enum Which {
    Name(OpName),
    Index(u32),
}

/// Statistics of an operation.
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) total: u64,
    pub(crate) successes: u64,
    pub(crate) kept: u32,
    pub(crate) ops: u32,
    pub(crate) min: u64,
    pub(crate) max: u64,
    pub(crate) avg: u64,
    pub(crate) p50: u64,
    pub(crate) p95: u64,
    pub(crate) p99: u64,
}

impl Stats {
    /// Fills in the figures over `samples`, which it sorts.
    fn over(&mut self, samples: &mut [u64]) {
        let n = samples.len();
        self.kept = n as u32;
        if n == 0 {
            return;
        }
        heapsort(samples);
        // Nearest rank: the ceil(p * n / 100)-th smallest.
        let rank = |p: usize| samples[(p * n).div_ceil(100) - 1];
        // At most 4096 agents' 100 samples of at most an hour each: under
        // 1.5e18 ns, which a u64 holds (and the kernel has no u128
        // division).
        let sum: u64 = samples.iter().sum();
        self.min = samples[0];
        self.max = samples[n - 1];
        self.avg = sum / n as u64;
        self.p50 = rank(50);
        self.p95 = rank(95);
        self.p99 = rank(99);
    }
}

/// Sorts `v` in place (ascending). Not `sort_unstable`: core's sorts reach
/// a no-return function 6.12's objtool does not know, and it warns that
/// the sort falls through to the next function.
fn heapsort(v: &mut [u64]) {
    let n = v.len();
    for start in (0..n / 2).rev() {
        sift_down(v, start, n);
    }
    for end in (1..n).rev() {
        v.swap(0, end);
        sift_down(v, 0, end);
    }
}

/// Moves `v[root]` down the max-heap `v[..end]` to its place.
fn sift_down(v: &mut [u64], mut root: usize, end: usize) {
    loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && v[child] < v[child + 1] {
            child += 1;
        }
        if v[root] >= v[child] {
            return;
        }
        v.swap(root, child);
        root = child;
    }
}

impl Profiler {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            lock <- new_mutex!(Profiles { _not_zero_sized: 0 }, "Profiler::lock"),
        })
    }

    /// Records one sample of `op` for `agent`; `ENOSPC` when it would be
    /// the agent's `PROFILE_OPS_MAX + 1`-th operation.
    pub(crate) fn record(&self, agent: &Agent, op: OpName, duration: u64, success: bool) -> Result {
        let mut guard = self.lock.lock();
        let ops = agent.profile.ops.access_mut(&mut guard);
        if let Some(o) = ops.iter_mut().find(|o| o.name == op) {
            o.add(duration, success);
            return Ok(());
        }
        if ops.len() >= PROFILE_OPS_MAX {
            return Err(ENOSPC);
        }
        let mut o = KBox::new(
            Op {
                name: op,
                ring: [0; PROFILE_SAMPLES],
                next: 0,
                kept: 0,
                total: 0,
                successes: 0,
            },
            GFP_KERNEL,
        )?;
        o.add(duration, success);
        ops.push(o, GFP_KERNEL)?;
        Ok(())
    }

    /// The statistics of one operation of `agent`, and its name; `ENOENT`
    /// if there is no such operation.
    pub(crate) fn stats(&self, agent: &Agent, which: Which) -> Result<(OpName, Stats)> {
        let mut samples = [0u64; PROFILE_SAMPLES];
        let (name, mut stats, kept) = {
            let guard = self.lock.lock();
            let ops = agent.profile.ops.access(&guard);
            let op = match which {
                Which::Name(name) => ops.iter().find(|o| o.name == name),
                Which::Index(i) => ops.get(i as usize),
            }
            .ok_or(ENOENT)?;
            let kept = op.samples().len();
            samples[..kept].copy_from_slice(op.samples());
            let stats = Stats {
                total: op.total,
                successes: op.successes,
                ops: ops.len() as u32,
                ..Stats::default()
            };
            (op.name, stats, kept)
        };
        stats.over(&mut samples[..kept]);
        Ok((name, stats))
    }

    /// The statistics of `op` over every agent in `agents` that has it;
    /// `ENOENT` if none has.
    pub(crate) fn aggregate(&self, agents: &[RcuArc<Agent>], op: OpName) -> Result<Stats> {
        let mut samples = KVVec::with_capacity(agents.len() * PROFILE_SAMPLES, GFP_KERNEL)?;
        let mut stats = Stats::default();
        let mut found = false;
        {
            let guard = self.lock.lock();
            for agent in agents {
                let ops = agent.profile.ops.access(&guard);
                if let Some(o) = ops.iter().find(|o| o.name == op) {
                    found = true;
                    stats.total += o.total;
                    stats.successes += o.successes;
                    // Within the capacity: at most PROFILE_SAMPLES each.
                    samples.extend_from_slice(o.samples(), GFP_KERNEL)?;
                }
            }
        }
        if !found {
            return Err(ENOENT);
        }
        stats.over(&mut samples);
        Ok(stats)
    }
}
