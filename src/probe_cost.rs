// SPDX-License-Identifier: GPL-2.0

//! What supervision costs, measured in the kernel: debugfs asm/probe_cost
//! (a micro-benchmark of every probe path) and asm/sampler (what the
//! sampler's ticks took). Documentation/benchmarks.rst.

use core::fmt::{self, Write};

use kernel::prelude::*;

use crate::ffi::{self, RcuGuard, SeqFile};
use crate::telemetry::{Event, EventKind, Telemetry};
use crate::Asm;

/// The probe paths the shim times (shim.h `ASM_BENCH_*`), with their
/// calls: those that record an event per call (a fork, an exit and an
/// exec of an agent's process) are called fewer times.
const PATHS: [(&str, u32, u32); 7] = [
    ("empty", 0, 100_000),
    ("sys_enter", 1, 100_000),
    ("fork", 2, 10_000),
    ("exit", 3, 10_000),
    ("exec", 4, 10_000),
    ("open", 5, 100_000),
    ("connect", 6, 100_000),
];

/// The calls of the `event` line.
const EVENT_CALLS: u32 = 10_000;

/// The micro-benchmark behind debugfs asm/probe_cost: each probe path
/// called in place for the reading process `tgid` as it is now (with no
/// agent registered, as a non-agent, or as an agent), one line per path:
///
/// ```text
/// agents 2 agent_id 901
/// sys_enter_ns 212.408 calls 100000
/// ```
///
/// `empty` is the loop's own cost per call, included in the others. An
/// agent's reader gets the fork and exit calls' fake children (pids no
/// process has) with their events, its exec calls' events, and its
/// syscall count grows by the sys_enter and connect calls. The last line,
/// `event`, is one telemetry event alone (see [`event_ns`]), whoever reads.
pub(crate) fn probe_cost(asm: &Asm, tgid: i32, m: &mut SeqFile<'_>) -> fmt::Result {
    let agent_id = {
        let rcu = RcuGuard::new();
        asm.registry.agent_of(tgid, &rcu).map_or(0, |a| a.id)
    };
    writeln!(m, "agents {} agent_id {}", asm.registry.len(), agent_id)?;
    // Forks before their exits: each exit is of a child the fork made.
    for (name, path, calls) in PATHS {
        let ps = m.bench_probe(path, calls).saturating_mul(1000) / u64::from(calls);
        writeln!(
            m,
            "{}_ns {}.{:03} calls {}",
            name,
            ps / 1000,
            ps % 1000,
            calls
        )?;
    }
    let ps = event_ns(EVENT_CALLS)
        .map_err(|_| fmt::Error)?
        .saturating_mul(1000)
        / u64::from(EVENT_CALLS);
    writeln!(
        m,
        "event_ns {}.{:03} calls {}",
        ps / 1000,
        ps % 1000,
        EVENT_CALLS
    )
}

/// The nanoseconds `calls` events took to record (the event built, the
/// ring's lock, its slot written, the check whether anyone listens on
/// netlink), each as a probe records it, timing included. They go to a
/// telemetry of their own, made for this: the module's ring and its
/// netlink listeners see none of them.
fn event_ns(calls: u32) -> Result<u64> {
    let scratch = KBox::pin_init(Telemetry::new(), GFP_KERNEL)?;
    let start = ffi::now_ns();
    for i in 0..calls {
        let now = ffi::now_ns();
        scratch.record(Event::new(EventKind::Exec, 0, i as i32, now));
    }
    Ok(ffi::now_ns().saturating_sub(start))
}

/// debugfs asm/sampler: the sampler's ticks so far and what they took,
/// with the agents and processes it samples now:
///
/// ```text
/// ticks 120 total_ns 5310021 last_ns 40210 max_ns 160332 sweeps 1 last_sweep_ns 120334 agents 4096 processes 0
/// ```
///
/// A tick walks the agents' processes; a sweep (every task of the system,
/// for the syscall tracepoint bits) runs only when one is due.
pub(crate) fn sampler_cost(asm: &Asm, w: &mut impl Write) -> fmt::Result {
    let c = asm.sampler.cost();
    let mut processes = 0u64;
    asm.registry
        .for_each_member(&RcuGuard::new(), |_, _| processes += 1);
    write!(
        w,
        "ticks {} total_ns {} last_ns {} max_ns {} ",
        c.ticks, c.total_ns, c.last_ns, c.max_ns
    )?;
    writeln!(
        w,
        "sweeps {} last_sweep_ns {} agents {} processes {}",
        c.sweeps,
        c.last_sweep_ns,
        asm.registry.len(),
        processes
    )
}
