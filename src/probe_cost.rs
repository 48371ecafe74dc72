// SPDX-License-Identifier: GPL-2.0

//! debugfs asm/probe_cost: the in-kernel micro-benchmark of the probes'
//! hot path (Documentation/benchmarks.rst).

use core::fmt::{self, Write};

use crate::ffi::{self, RcuGuard};
use crate::lifecycle;
use crate::Asm;

/// Calls of the probe [`probe_cost`] times.
const PROBE_COST_CALLS: u64 = 100_000;

/// The in-kernel micro-benchmark behind debugfs asm/probe_cost: the cost of
/// the syscall probe, the hot path every lifecycle probe shares (agent count,
/// RCU, index lookup), for the reading process `tgid` as it is now: with no
/// agent registered, as a non-agent, or as an agent (whose syscall count then
/// grows by the number of calls).
pub(crate) fn probe_cost(asm: &Asm, tgid: i32, w: &mut impl Write) -> fmt::Result {
    let agent_id = {
        let rcu = RcuGuard::new();
        asm.registry.agent_of(tgid, &rcu).map_or(0, |a| a.id)
    };
    let start = ffi::now_ns();
    // getpid(): a call the policy does not look at.
    let args = [0usize; 6];
    for _ in 0..PROBE_COST_CALLS {
        lifecycle::on_sys_enter(asm, tgid, 39, &args, false);
    }
    let elapsed = ffi::now_ns().saturating_sub(start);
    writeln!(
        w,
        "probe_ns {}.{:03} calls {} agents {} agent_id {}",
        elapsed / PROBE_COST_CALLS,
        (elapsed % PROBE_COST_CALLS) * 1000 / PROBE_COST_CALLS,
        PROBE_COST_CALLS,
        asm.registry.len(),
        agent_id
    )
}
