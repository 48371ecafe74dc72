// SPDX-License-Identifier: GPL-2.0

//! Point-in-time copies of the agents and the system totals, taken under RCU
//! and then formatted without any lock held.

use core::sync::atomic::Ordering::Relaxed;
use kernel::prelude::*;

use crate::agent::{Agent, Membership, State};
use crate::faults::{Effective, FaultRecord, Faults, LastViolation, RECENT_FAULTS};
use crate::ffi::RcuGuard;
use crate::gateway::LlmCounts;
use crate::policy::{Policies, Risk};
use crate::uapi::{ComplianceStatus, FAULT_TYPES, NAME_LEN, SCOPE_LEN};
use crate::viewer::Viewer;
use crate::Asm;

/// A copy of an agent, taken under RCU; the CPU time and memory of its live
/// processes are added after.
pub(crate) trait Copied: Sized {
    fn of(asm: &Asm, agent: &Agent) -> Self;
    fn id(&self) -> u32;
    fn nr_processes(&self) -> u32;
    /// Its CPU time and memory, to which the live processes' are added.
    fn usage_mut(&mut self) -> (&mut u64, &mut u64);

    fn add_usage(&mut self, cpu_ns: u64, mem_bytes: u64) {
        let (cpu, mem) = self.usage_mut();
        *cpu = cpu.saturating_add(cpu_ns);
        *mem = mem.saturating_add(mem_bytes);
    }
}

/// One agent, copied whole: the JSON documents and the compliance view.
#[derive(Clone, Copy)]
pub(crate) struct AgentSnapshot {
    pub(crate) id: u32,
    pub(crate) name: [u8; NAME_LEN],
    pub(crate) scope: [u8; SCOPE_LEN],
    pub(crate) state: State,
    pub(crate) pid: i32,
    pub(crate) owner_uid: u32,
    /// The cgroup v2 id of a cgroup agent, 0 for a process agent.
    pub(crate) cgroup_id: u64,
    pub(crate) nr_processes: u32,
    pub(crate) auto_restart: u32,
    pub(crate) restarts: u32,
    pub(crate) capabilities: u64,
    pub(crate) spawns: u64,
    pub(crate) exits: u64,
    pub(crate) crashes: u64,
    pub(crate) faults: u64,
    /// `faults` by fault type, indexed by `FaultKind` (0 unused).
    pub(crate) faults_by_kind: [u64; FAULT_TYPES],
    pub(crate) execs: u64,
    pub(crate) cpu_ns: u64,
    pub(crate) mem_bytes: u64,
    pub(crate) last_exit_status: i64,
    pub(crate) registered_ns: u64,
    pub(crate) last_activity_ns: u64,
    pub(crate) throttled: bool,
    pub(crate) risk: Risk,
    /// Compliance: audit entries, violations, oversight actions,
    /// decisions, sensitive opens, clean exits; score and status.
    pub(crate) events: u64,
    pub(crate) violations: u64,
    pub(crate) oversight: u64,
    pub(crate) decisions: u64,
    pub(crate) sensitive: u64,
    pub(crate) clean_exits: u64,
    pub(crate) score: u32,
    pub(crate) status: ComplianceStatus,
    /// The limits and actions in force.
    pub(crate) policy: Effective,
    /// Its recent faults, oldest first.
    pub(crate) recent_faults: [Option<FaultRecord>; RECENT_FAULTS],
    pub(crate) last_violation: Option<LastViolation>,
    /// Its use of the LLM gateway.
    pub(crate) llm: LlmCounts,
}

impl Copied for AgentSnapshot {
    fn of(asm: &Asm, agent: &Agent) -> Self {
        Self::copy(agent, &asm.faults, &asm.policies)
    }

    fn id(&self) -> u32 {
        self.id
    }

    fn nr_processes(&self) -> u32 {
        self.nr_processes
    }

    fn usage_mut(&mut self) -> (&mut u64, &mut u64) {
        (&mut self.cpu_ns, &mut self.mem_bytes)
    }
}

/// What /proc/agentsys/status shows of an agent: a tenth of an
/// [`AgentSnapshot`], and none of its locks.
#[derive(Clone, Copy)]
pub(crate) struct StatusRow {
    pub(crate) id: u32,
    pub(crate) state: State,
    pub(crate) nr_processes: u32,
    pub(crate) restarts: u32,
    pub(crate) spawns: u64,
    pub(crate) exits: u64,
    pub(crate) faults: u64,
    pub(crate) cpu_ns: u64,
    pub(crate) mem_bytes: u64,
    pub(crate) throttled: bool,
}

impl Copied for StatusRow {
    fn of(_asm: &Asm, agent: &Agent) -> Self {
        let c = &agent.counters;
        Self {
            id: agent.id,
            state: agent.state(),
            nr_processes: agent.nr_processes.load(Relaxed),
            restarts: agent.restarts.load(Relaxed),
            spawns: c.spawns.load(Relaxed),
            exits: c.exits.load(Relaxed),
            faults: c.faults.load(Relaxed),
            // The live threads are added by `add_usage`.
            cpu_ns: c.cpu_exited_ns.load(Relaxed),
            mem_bytes: 0,
            throttled: agent.res.throttled(),
        }
    }

    fn id(&self) -> u32 {
        self.id
    }

    fn nr_processes(&self) -> u32 {
        self.nr_processes
    }

    fn usage_mut(&mut self) -> (&mut u64, &mut u64) {
        (&mut self.cpu_ns, &mut self.mem_bytes)
    }
}

impl StatusRow {
    /// CPU time in microseconds.
    pub(crate) fn cpu_us(&self) -> u64 {
        self.cpu_ns / 1000
    }
}

impl AgentSnapshot {
    fn copy(agent: &Agent, faults: &Faults, policies: &Policies) -> Self {
        let c = &agent.counters;
        let r = &agent.policy.record;
        let crashes = c.crashes.load(Relaxed);
        let (score, status) = agent.policy.score(crashes);
        let mut recent_faults = [None; RECENT_FAULTS];
        faults.recent(agent, &mut recent_faults);
        Self {
            id: agent.id,
            name: agent.name,
            scope: policies.scope(agent),
            state: agent.state(),
            pid: agent.pid_vnr(),
            owner_uid: agent.owner_uid,
            cgroup_id: match agent.membership {
                Membership::Cgroup(id) => id,
                Membership::Process(_) => 0,
            },
            nr_processes: agent.nr_processes.load(Relaxed),
            auto_restart: agent.auto_restart.load(Relaxed),
            restarts: agent.restarts.load(Relaxed),
            capabilities: agent.capabilities.load(Relaxed),
            spawns: c.spawns.load(Relaxed),
            exits: c.exits.load(Relaxed),
            crashes,
            faults: c.faults.load(Relaxed),
            faults_by_kind: c.faults_by_kind.each_ref().map(|n| n.load(Relaxed)),
            execs: c.execs.load(Relaxed),
            // The live threads are added by `add_usage`.
            cpu_ns: c.cpu_exited_ns.load(Relaxed),
            mem_bytes: 0,
            last_exit_status: agent.last_exit_status(),
            registered_ns: agent.registered_ns,
            last_activity_ns: agent.last_activity_ns.load(Relaxed),
            throttled: agent.res.throttled(),
            risk: agent.policy.risk(),
            events: r.events.load(Relaxed),
            violations: r.violations.load(Relaxed),
            oversight: r.oversight.load(Relaxed),
            decisions: r.decisions.load(Relaxed),
            sensitive: r.sensitive.load(Relaxed),
            clean_exits: r.clean_exits.load(Relaxed),
            score,
            status,
            policy: faults.effective(agent),
            recent_faults,
            last_violation: faults.last_violation(agent),
            llm: agent.llm.counts(),
        }
    }

    /// The name, validated printable ASCII at registration.
    pub(crate) fn name_str(&self) -> &str {
        text(&self.name)
    }

    /// The scope, validated UTF-8 at registration.
    pub(crate) fn scope_str(&self) -> &str {
        text(&self.scope)
    }

    /// CPU time in microseconds.
    pub(crate) fn cpu_us(&self) -> u64 {
        self.cpu_ns / 1000
    }
}

fn text(buf: &[u8]) -> &str {
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    core::str::from_utf8(&buf[..len]).unwrap_or("?")
}

/// System totals, copied.
pub(crate) struct SystemSnapshot {
    pub(crate) spawns: u64,
    pub(crate) exits: u64,
    pub(crate) crashes: u64,
    pub(crate) faults: u64,
    pub(crate) restarts: u64,
    pub(crate) syscalls: u64,
    pub(crate) active_agents: u32,
    pub(crate) registered_agents: u32,
    pub(crate) events_total: u64,
    pub(crate) events_dropped: u64,
}

/// How many agents `viewer` may see now.
pub(crate) fn visible(asm: &Asm, viewer: &Viewer) -> usize {
    let rcu = RcuGuard::new();
    let (mut from, mut n) = (0, 0);
    while let Some(agent) = asm.registry.next(&mut from, &rcu) {
        n += usize::from(viewer.sees(&agent));
    }
    n
}

/// Copies the agents `viewer` may see (all, or only `only`) in id order,
/// with the CPU time and memory of their live processes.
pub(crate) fn agents(
    asm: &Asm,
    only: Option<u32>,
    viewer: &Viewer,
) -> Result<KVVec<AgentSnapshot>> {
    copies(asm, only, viewer)
}

/// Copies what the status view shows of every agent `viewer` may see.
pub(crate) fn status_rows(asm: &Asm, viewer: &Viewer) -> Result<KVVec<StatusRow>> {
    copies(asm, None, viewer)
}

/// The copies of [`agents`] and [`status_rows`]. A large snapshot (4096
/// agents) is megabytes: kvmalloc'ed.
fn copies<T: Copied>(asm: &Asm, only: Option<u32>, viewer: &Viewer) -> Result<KVVec<T>> {
    let registry = &asm.registry;
    let mut snaps = loop {
        // Room for the agents now plus a few registered meanwhile; retried
        // with more if still too small, since nothing can be allocated
        // under RCU.
        let room = match only {
            Some(_) => 1,
            // What this reader may see, plus a few registered meanwhile.
            None => visible(asm, viewer) + 4,
        };
        let mut snaps = KVVec::with_capacity(room, GFP_KERNEL)?;
        let rcu = RcuGuard::new();
        let mut from = only.unwrap_or(0) as usize;
        let mut complete = true;
        while let Some(agent) = registry.next(&mut from, &rcu) {
            if only.is_some_and(|id| id != agent.id) {
                break;
            }
            if !viewer.sees(&agent) {
                if only.is_some() {
                    break;
                }
                continue;
            }
            if snaps.len() == room {
                complete = false;
                break;
            }
            // Within the capacity reserved above: does not allocate.
            snaps.push(T::of(asm, &agent), GFP_NOWAIT)?;
            if only.is_some() {
                break;
            }
        }
        drop(rcu);
        if complete {
            break snaps;
        }
    };
    if snaps.is_empty() {
        return Ok(snaps);
    }
    // The agents' processes through the index, each looked up by its pid:
    // a read costs what the agents have, not what the system runs.
    let rcu = RcuGuard::new();
    registry.for_each_member_task(&rcu, |agent, task| {
        if let Ok(i) = snaps.binary_search_by_key(&agent.id, |s| s.id()) {
            snaps[i].add_usage(task.cpu_ns, task.rss_bytes);
        }
    });
    Ok(snaps)
}

/// Copies the system totals; `agents` gives the active-agent count.
pub(crate) fn system<T: Copied>(asm: &Asm, agents: &[T]) -> SystemSnapshot {
    let t = &asm.telemetry.totals;
    let (events_total, events_dropped) = {
        let ring = asm.telemetry.ring.lock();
        (ring.next_seq(), ring.first_seq())
    };
    SystemSnapshot {
        spawns: t.spawns.load(Relaxed),
        exits: t.exits.load(Relaxed),
        crashes: t.crashes.load(Relaxed),
        faults: t.faults.load(Relaxed),
        restarts: t.restarts.load(Relaxed),
        syscalls: t.syscalls.load(Relaxed),
        active_agents: agents.iter().filter(|a| a.nr_processes() > 0).count() as u32,
        registered_agents: agents.len() as u32,
        events_total,
        events_dropped,
    }
}
