// SPDX-License-Identifier: GPL-2.0

//! Lifecycle tracking: what the tracepoint probes do with a fork, an exec,
//! an exit, a cgroup attach and a syscall.
//!
//! Every handler runs with preemption disabled (inside the tracepoint) and
//! must not sleep. A task that belongs to no agent costs one relaxed load
//! while no agent is registered, and one more load (the tgid filter)
//! otherwise; only a task that may be an agent's takes the RCU read lock.

use core::fmt::Write;
use core::sync::atomic::Ordering::Relaxed;
use kernel::error::code::{EINTR, ESRCH};

use crate::agent::{Agent, ExitStatus, Membership, State};
use crate::audit::{self, Record};
use crate::faults::{self, Action};
use crate::ffi::{self, RcuGuard, TaskRef};
use crate::policy::{self, NetSeen, Opened, Violation};
use crate::registry::Joining;
use crate::syscalls;
use crate::telemetry::{Event, EventKind};
use crate::Asm;

/// What becomes of a new process (shim.h `ASM_FORK_*`).
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub(crate) enum ForkVerdict {
    /// It belongs to no agent.
    Outside = 0,
    /// It joined an agent: its system calls are to be traced from its
    /// first one.
    Member = 1,
    /// It should have joined an agent but could not (no memory for the
    /// index), or an action is ending its agent: it must not run.
    Kill = 2,
}

/// `parent_tgid` created the process `child_tgid` at `now` (its start
/// time, which the fork read from the clock), which
/// clone3(CLONE_INTO_CGROUP) put in cgroup v2 `child_cgroup` when that is
/// not 0 (its parent's cgroup otherwise). Under the probe's RCU section.
pub(crate) fn on_fork(
    asm: &Asm,
    parent_tgid: i32,
    child_tgid: i32,
    child_cgroup: u64,
    now: u64,
    rcu: &RcuGuard,
) -> ForkVerdict {
    // A child of a process that is no agent's, in its parent's cgroup: one
    // load while no agent exists, two otherwise.
    if asm.registry.is_empty() || (child_cgroup == 0 && !asm.registry.may_be_agent(parent_tgid)) {
        return ForkVerdict::Outside;
    }
    // A child put into a cgroup agent's cgroup is that agent's, whoever
    // its parent is (as a process attached to the cgroup would be).
    let into_cgroup = (child_cgroup != 0)
        .then(|| asm.registry.cgroup_agent(child_cgroup, rcu))
        .flatten();
    let (agent, how) = match into_cgroup {
        Some(agent) => (agent, Joining::Placed),
        None => match asm.registry.agent_of(parent_tgid, rcu) {
            Some(agent) => (agent, Joining::Forked),
            None => return ForkVerdict::Outside,
        },
    };
    // The child has not run yet: it cannot be exiting.
    match asm.registry.join(agent, child_tgid, || false, how, now) {
        Ok(restarted) => {
            joined(asm, &agent, child_tgid, restarted, now);
            ForkVerdict::Member
        }
        // The agent is being unregistered: nothing supervises it any more
        // (it inherited its parent's syscall tracepoint bit).
        Err(e) if e == ESRCH => {
            asm.registry.sweep_later();
            ForkVerdict::Outside
        }
        // An action is ending the agent: the child dies before it runs.
        Err(e) if e == EINTR => ForkVerdict::Kill,
        Err(_) => {
            asm.telemetry.totals.join_failures.fetch_add(1, Relaxed);
            ForkVerdict::Kill
        }
    }
}

/// Counts process `tgid` that joined `agent`, and the restart it was.
pub(crate) fn joined(asm: &Asm, agent: &Agent, tgid: i32, restarted: bool, now: u64) {
    asm.telemetry.totals.spawns.fetch_add(1, Relaxed);
    asm.telemetry
        .record(Event::new(EventKind::Spawn, agent.id, tgid, now));
    if restarted {
        asm.telemetry.totals.restarts.fetch_add(1, Relaxed);
        restart_event(asm, agent, EventKind::Restarted, tgid, now);
    }
}

/// An event about `agent`'s restarts: its count and budget.
fn restart_event(asm: &Asm, agent: &Agent, kind: EventKind, tgid: i32, now: u64) {
    let mut event = Event::new(kind, agent.id, tgid, now);
    event.value = agent.restarts.load(Relaxed).into();
    event.limit = agent.auto_restart.load(Relaxed).into();
    asm.telemetry.record(event);
}

/// Process `tgid` completed an execve() of `file`. An exec in a process
/// the agent forked needs ProcessSpawn.
pub(crate) fn on_exec(asm: &Asm, tgid: i32, file: &[u8]) {
    asm.registry.with_agent(tgid, |agent, rcu| {
        let now = ffi::now_ns();
        agent.exec(now);
        asm.telemetry
            .record(Event::new(EventKind::Exec, agent.id, tgid, now));
        // Not the parent: a CLONE_PARENT child or an orphan was forked in too.
        policy::exec(asm, agent, asm.registry.forked_in(tgid, rcu), file);
    });
}

/// Whether the system call `nr` that process `tgid` just completed is an
/// open that needs a policy look. The call is classified first: most calls
/// of an agent are no opens.
pub(crate) fn open_watched(asm: &Asm, tgid: i32, nr: i64, compat: bool) -> bool {
    syscalls::classify(nr, compat).is_open()
        && asm
            .registry
            .with_agent(tgid, |agent, _| asm.policies.open_watched(agent))
            .unwrap_or(false)
}

/// Process `tgid` opened a file.
pub(crate) fn on_open(asm: &Asm, tgid: i32, open: &Opened<'_>) {
    asm.registry.with_agent(tgid, |agent, rcu| {
        policy::opened(asm, agent, open, |pid| {
            asm.registry.is_member(agent, pid, rcu)
        });
    });
}

/// The verdict on the socket check `what` that [`on_sys_enter`] asked
/// for: whether process `tgid`'s call is to be skipped.
pub(crate) fn socket_verdict(
    asm: &Asm,
    tgid: i32,
    what: Violation,
    fd: usize,
    family: i32,
    protocol: i32,
) -> bool {
    asm.registry
        .with_agent(tgid, |agent, _| {
            policy::syscall_verdict(asm, agent, what, fd, family, protocol)
        })
        .unwrap_or(false)
}

/// The verdict on a TCP SYN or listening socket of process `tgid` seen at
/// the protocol: whether it is to be refused.
pub(crate) fn net_verdict(asm: &Asm, tgid: i32, seen: NetSeen, family: i32, protocol: i32) -> bool {
    asm.registry
        .with_agent(tgid, |agent, _| {
            policy::net_verdict(asm, agent, seen, family, protocol)
        })
        .unwrap_or(false)
}

/// A thread of process `tgid` exits; `group_dead` when it is the last one,
/// and then `io_ops` are the process's I/O operations.
pub(crate) fn on_exit(
    asm: &Asm,
    tgid: i32,
    group_dead: bool,
    status: i32,
    runtime_ns: u64,
    io_ops: u64,
) {
    if !asm.registry.may_be_agent(tgid) {
        return;
    }
    let rcu = RcuGuard::new();
    let Some(agent) = asm.registry.agent_of(tgid, &rcu) else {
        return;
    };
    agent.counters.cpu_exited_ns.fetch_add(runtime_ns, Relaxed);
    if !group_dead {
        return;
    }
    let now = ffi::now_ns();
    let status = ExitStatus(status);
    // Only a crash needs the policy (and its lock); the action is not
    // consulted for a clean exit.
    let agent = &*agent;
    let crash_action = if status.is_crash() {
        faults::crash_action(asm, agent)
    } else {
        Action::Log
    };
    // Two exiting threads may both see the group dead: the one that takes
    // the process out of the index counts the exit.
    let Some((crash, ended)) = asm.registry.leave(agent, tgid, |agent| {
        agent.process_exited(status, crash_action, now)
    }) else {
        return;
    };
    agent.res.io_exited.fetch_add(io_ops, Relaxed);
    if !status.is_crash() {
        agent.policy.record.clean_exits.fetch_add(1, Relaxed);
    }
    let totals = &asm.telemetry.totals;
    totals.exits.fetch_add(1, Relaxed);
    let kind = if crash {
        totals.crashes.fetch_add(1, Relaxed);
        totals.faults.fetch_add(1, Relaxed);
        EventKind::Crash
    } else {
        EventKind::Exit
    };
    // An exit caused by a kill or restart action carries its signal.
    let mut event = Event::new(kind, agent.id, tgid, now);
    event.exit_code = status.code();
    event.signal = status.signal();
    asm.telemetry.record(event);
    if crash {
        faults::crashed(asm, agent, status.0, crash_action, now);
    }
    match ended {
        Some(State::Recovery) => restart_event(asm, agent, EventKind::Recovery, 0, now),
        Some(State::Failed) => restart_event(asm, agent, EventKind::Failed, 0, now),
        _ => {}
    }
    if let Some(state) = ended {
        audit_exit(asm, agent, state);
        crate::cascade::ended(asm, agent);
    }
}

/// The agent's last process ended: its operation counts go to the trail.
fn audit_exit(asm: &Asm, agent: &Agent, state: State) {
    let c = &agent.counters;
    let syscalls = c.syscalls.load(Relaxed);
    let execs = c.execs.load(Relaxed);
    let mut r = Record::new(audit::Kind::Exit, state.raw(), agent.id).values(syscalls, execs);
    let _ = write!(
        r,
        "{} spawns={} exits={} crashes={} faults={} execs={} syscalls={} violations={}",
        state.name(),
        c.spawns.load(Relaxed),
        c.exits.load(Relaxed),
        c.crashes.load(Relaxed),
        c.faults.load(Relaxed),
        execs,
        syscalls,
        agent.policy.record.violations.load(Relaxed),
    );
    asm.audit.append(r, Some(agent));
}

/// Process `tgid` (leader `task`, which used `cpu_ns` so far) was moved
/// into the cgroup v2 `cgroup_id`.
pub(crate) fn on_attach(asm: &Asm, cgroup_id: u64, tgid: i32, task: &TaskRef<'_>, cpu_ns: u64) {
    if asm.registry.is_empty() {
        return;
    }
    let rcu = RcuGuard::new();
    let now = ffi::now_ns();
    let target = asm.registry.cgroup_agent(cgroup_id, &rcu);
    // A member of a cgroup agent that moves out of its cgroup leaves it; a
    // member of a process agent that moves into a cgroup agent's cgroup
    // leaves its agent for that one (the administrator's placement wins
    // over a registration, which may be the process's own).
    if let Some(agent) = asm.registry.agent_of(tgid, &rcu) {
        let leaves = match agent.membership {
            Membership::Cgroup(id) => id != cgroup_id,
            Membership::Process(_) => target.is_some(),
        };
        if !leaves {
            return;
        }
        asm.registry
            .leave(&agent, tgid, |agent| agent.process_left(now));
        if target.is_none() {
            // It runs on, no agent's, with its syscall tracepoint bit.
            asm.registry.sweep_later();
        }
    }
    let Some(agent) = target else {
        return;
    };
    // A zombie can be moved too: it must not join (ESRCH).
    match asm
        .registry
        .join(agent, tgid, || task.group_dead(), Joining::Placed, now)
    {
        Ok(restarted) => {
            agent.res.cpu_before_join_ns.fetch_add(cpu_ns, Relaxed);
            task.trace_syscalls(&rcu);
            joined(asm, &agent, tgid, restarted, now);
        }
        // It may have left a process agent above: it runs on, no agent's.
        Err(e) if e == ESRCH => asm.registry.sweep_later(),
        // An action is ending the agent: it dies with the agent's others.
        Err(e) if e == EINTR => task.signal(ffi::SIGKILL),
        // No memory for the index: it must not run unsupervised.
        Err(_) => {
            asm.telemetry.totals.join_failures.fetch_add(1, Relaxed);
            task.signal(ffi::SIGKILL);
        }
    }
}

/// A thread of process `tgid` entered system call `nr` with `args`: counts
/// it, and returns the socket check the policy needs before it runs.
pub(crate) fn on_sys_enter(
    asm: &Asm,
    tgid: i32,
    nr: i64,
    args: &[usize; 6],
    compat: bool,
) -> Option<(Violation, usize)> {
    asm.registry
        .with_agent(tgid, |agent, _| {
            agent.counters.syscalls.fetch_add(1, Relaxed);
            asm.telemetry.totals.syscalls.fetch_add(1, Relaxed);
            let caps = agent.capabilities.load(Relaxed);
            policy::socket_check(caps, syscalls::classify(nr, compat), args)
        })
        .flatten()
}
