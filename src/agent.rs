// SPDX-License-Identifier: GPL-2.0

//! One agent's record: its identity and policy, fixed at registration, and
//! the counters the lifecycle probes update without locks.

use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering::Relaxed};

use kernel::prelude::*;

use crate::faults::{Action, AgentFaults, FaultKind, Faults};
use crate::ffi::PidRef;
use crate::gateway::{AgentLlm, Gateway};
use crate::policy::{AgentPolicy, Policies};
use crate::profile::{AgentProfile, Profiler};
use crate::registry::Spec;
use crate::resources::{Resources, Sampler};
pub(crate) use crate::uapi::State;
use crate::uapi::{FAULT_TYPES, NAME_LEN};

/// What makes a process part of the agent.
pub(crate) enum Membership {
    /// A registered process and its descendants.
    Process(PidRef),
    /// Every task of this cgroup v2 (by id).
    Cgroup(u64),
}

/// How a process ended, decoded from its wait(2) status.
#[derive(Clone, Copy)]
pub(crate) struct ExitStatus(pub(crate) i32);

impl ExitStatus {
    /// The signal that killed it, 0 if none.
    pub(crate) fn signal(self) -> i32 {
        self.0 & 0x7f
    }

    /// Its exit code (0-255); 0 when killed by a signal.
    pub(crate) fn code(self) -> i32 {
        (self.0 >> 8) & 0xff
    }

    /// A fatal signal or a non-zero code.
    pub(crate) fn is_crash(self) -> bool {
        self.signal() != 0 || self.code() != 0
    }
}

/// Adds `n` (wrapping: a negated `n` subtracts) to the atomic count `c`
/// and gives the new value, for a count whose every writer holds the
/// registry's index lock: a load and a store, where an atomic add is a
/// locked instruction on each fork and exit. A reader without the lock
/// sees the old value or the new one, as it would with the add.
macro_rules! bump {
    ($c:expr, $n:expr) => {{
        let c = &$c;
        let v = c.load(Relaxed).wrapping_add($n);
        c.store(v, Relaxed);
        v
    }};
}

/// Counters of one agent; every field is read with relaxed atomics
/// because readers only need each value, not a consistent set.
#[derive(Default)]
pub(crate) struct Counters {
    /// Written only under the registry's index lock (`bump!`), as are
    /// `exits`, `crashes` and the agent's `nr_processes`.
    pub(crate) spawns: AtomicU64,
    pub(crate) exits: AtomicU64,
    pub(crate) crashes: AtomicU64,
    pub(crate) faults: AtomicU64,
    /// `faults` by fault type, indexed by `FaultKind` (0 unused).
    pub(crate) faults_by_kind: [AtomicU64; FAULT_TYPES],
    pub(crate) execs: AtomicU64,
    pub(crate) syscalls: AtomicU64,
    /// CPU time of the agent's threads that have exited.
    pub(crate) cpu_exited_ns: AtomicU64,
}

impl Counters {
    /// Counts a fault of type `kind` in `faults_by_kind` (the caller counts
    /// it in `faults`).
    pub(crate) fn count_fault(&self, kind: FaultKind) {
        if let Some(n) = self.faults_by_kind.get(kind as usize) {
            n.fetch_add(1, Relaxed);
        }
    }
}

/// The locks that guard parts of every agent: its history is the
/// sampler's, its fault settings and log the fault lock's, its scope the
/// policies' lock's, its token bucket the gateway's, its operations the
/// profiler's.
pub(crate) struct Locks<'a> {
    pub(crate) sampler: &'a Sampler,
    pub(crate) faults: &'a Faults,
    pub(crate) policies: &'a Policies,
    pub(crate) gateway: &'a Gateway,
    pub(crate) profiler: &'a Profiler,
}

/// A registered agent.
pub(crate) struct Agent {
    pub(crate) id: u32,
    pub(crate) name: [u8; NAME_LEN],
    /// Capability bits, written under the policies' lock.
    pub(crate) capabilities: AtomicU64,
    /// Its scope, risk level and compliance record.
    pub(crate) policy: AgentPolicy,
    pub(crate) auto_restart: AtomicU32,
    pub(crate) restarts: AtomicU32,
    pub(crate) owner_uid: u32,
    /// Registered by a caller with `CAP_SYS_ADMIN`. An unprivileged
    /// registration counts against its owner's limit and is reclaimed once
    /// its processes are gone.
    pub(crate) privileged: bool,
    pub(crate) membership: Membership,
    pub(crate) registered_ns: u64,
    /// Set, under the registry's index lock, once the agent is unregistered:
    /// no process may join it after that.
    pub(crate) dead: AtomicBool,
    state: AtomicU32,
    pub(crate) nr_processes: AtomicU32,
    pub(crate) counters: Counters,
    last_exit_status: AtomicI64,
    pub(crate) last_activity_ns: AtomicU64,
    /// Its resource history and throttle, owned by the sampler.
    pub(crate) res: Resources,
    /// Its limits, actions, recent faults and watchdog.
    pub(crate) faults: AgentFaults,
    /// The action that is ending the agent, if any.
    pub(crate) ending: Ending,
    /// Set when it ended or entered Recovery, for the cascade work to look
    /// at its dependents ([`crate::cascade`]).
    pub(crate) dep_check: AtomicBool,
    /// Its LLM token bucket and usage.
    pub(crate) llm: AgentLlm,
    pub(crate) profile: AgentProfile,
}

/// What is ending an agent, if anything: a recovery action (kill or
/// restart) or a dependency cascade. Its processes' exits are then not
/// crashes.
pub(crate) struct Ending {
    state: AtomicU32,
    /// How many times the ending was cleared: the run of the agent.
    /// Written under the index lock.
    runs: AtomicU32,
    /// The run in which every process of the agent was sent SIGKILL for
    /// an action ([`crate::registry::Registry::end`]): no later violation
    /// of that run walks the index again, since no process joins it.
    /// Written under the index lock.
    walked_run: AtomicU32,
}

/// The [`Ending`] of a cascade: not an `enum asm_action` value.
const ENDING_CASCADE: u32 = 0x100;

impl Ending {
    fn none() -> Self {
        Self {
            state: AtomicU32::new(Action::Default.raw()),
            runs: AtomicU32::new(0),
            walked_run: AtomicU32::new(u32::MAX),
        }
    }

    /// The recovery action, `None` if no action is ending the agent (a
    /// cascade may be).
    pub(crate) fn get(&self) -> Option<Action> {
        Action::try_from(self.state.load(Relaxed))
            .ok()
            .filter(|&action| action != Action::Default)
    }

    /// Whether an action or a cascade is ending the agent.
    pub(crate) fn is_some(&self) -> bool {
        self.state.load(Relaxed) != Action::Default.raw()
    }

    /// Whether a cascade (and no action) is ending the agent.
    pub(crate) fn is_cascade(&self) -> bool {
        self.state.load(Relaxed) == ENDING_CASCADE
    }

    /// Starts ending the agent with `action`, unless something else is; a
    /// kill takes over from a cascade (the agent then ends Failed), a
    /// restart does not (a stopped dependent is not to come back).
    pub(crate) fn begin(&self, action: Action) {
        if !self.begin_raw(action.raw()) && action == Action::Kill {
            let _ = self
                .state
                .compare_exchange(ENDING_CASCADE, action.raw(), Relaxed, Relaxed);
        }
    }

    /// Starts ending the agent by a cascade, unless something else is;
    /// returns whether it did.
    pub(crate) fn begin_cascade(&self) -> bool {
        self.begin_raw(ENDING_CASCADE)
    }

    fn begin_raw(&self, raw: u32) -> bool {
        self.state
            .compare_exchange(Action::Default.raw(), raw, Relaxed, Relaxed)
            .is_ok()
    }

    /// Ends the agent with `action`, whatever was ending it.
    pub(crate) fn set(&self, action: Action) {
        self.state.store(action.raw(), Relaxed);
    }

    /// Nothing is ending the agent any more: its last process is gone. A
    /// new run begins. Under the index lock.
    pub(crate) fn clear(&self) {
        self.state.store(Action::Default.raw(), Relaxed);
        self.runs.fetch_add(1, Relaxed);
    }

    /// Whether every process of this run was sent SIGKILL for an action.
    /// Under the index lock.
    pub(crate) fn walked(&self) -> bool {
        self.walked_run.load(Relaxed) == self.run()
    }

    /// Every process of this run was sent SIGKILL. Under the index lock.
    pub(crate) fn set_walked(&self) {
        self.walked_run.store(self.run(), Relaxed);
    }

    /// Which run of the agent this is (see `runs`). Under the index lock.
    pub(crate) fn run(&self) -> u32 {
        self.runs.load(Relaxed)
    }
}

impl Agent {
    /// A record for agent `id`, as `spec` asks, that has no process yet.
    pub(crate) fn new(
        id: u32,
        spec: &Spec,
        membership: Membership,
        now: u64,
        locks: &Locks<'_>,
    ) -> Result<Self> {
        Ok(Self {
            id,
            name: spec.name,
            policy: AgentPolicy::new(locks.policies, &spec.scope, spec.risk),
            capabilities: AtomicU64::new(spec.capabilities),
            auto_restart: AtomicU32::new(spec.auto_restart),
            restarts: AtomicU32::new(0),
            owner_uid: spec.owner_uid,
            privileged: spec.privileged,
            membership,
            registered_ns: now,
            dead: AtomicBool::new(false),
            state: AtomicU32::new(State::Spawned.raw()),
            nr_processes: AtomicU32::new(0),
            counters: Counters::default(),
            last_exit_status: AtomicI64::new(0),
            last_activity_ns: AtomicU64::new(now),
            res: Resources::new(locks.sampler)?,
            faults: AgentFaults::new(locks.faults)?,
            ending: Ending::none(),
            dep_check: AtomicBool::new(false),
            llm: AgentLlm::new(locks.gateway),
            profile: AgentProfile::new(locks.profiler),
        })
    }

    /// Whether the module may forget the agent at `now`: it was registered
    /// without `CAP_SYS_ADMIN`, and its processes have been gone for
    /// `keep_ns`. Such an agent is a process agent (only an administrator
    /// registers cgroups), so no process can join it again.
    pub(crate) fn reclaimable(&self, now: u64, keep_ns: u64) -> bool {
        !self.privileged
            && self.nr_processes.load(Relaxed) == 0
            && now.saturating_sub(self.last_activity_ns.load(Relaxed)) >= keep_ns
    }

    /// The current state.
    pub(crate) fn state(&self) -> State {
        State::try_from(self.state.load(Relaxed)).unwrap_or(State::Spawned)
    }

    /// The wait(2) status of the last process exit.
    pub(crate) fn last_exit_status(&self) -> i64 {
        self.last_exit_status.load(Relaxed)
    }

    /// The registered process in the caller's pid namespace, 0 if none.
    pub(crate) fn pid_vnr(&self) -> i32 {
        match &self.membership {
            Membership::Process(pid) => pid.vnr(),
            Membership::Cgroup(_) => 0,
        }
    }

    /// A store, not a maximum: a fork's `now` is its child's start time,
    /// microseconds old, and may go back that much past a racing exit's.
    fn touch(&self, now: u64) {
        self.last_activity_ns.store(now, Relaxed);
    }

    /// Processes that are members from the moment of registration. Called
    /// under the registry's index lock.
    pub(crate) fn initial_processes(&self, n: u32) {
        bump!(self.counters.spawns, u64::from(n));
        bump!(self.nr_processes, n);
    }

    /// A process joined the running agent (a fork or a cgroup attach);
    /// returns whether that restarted it (it was in `Recovery`). Called
    /// under the registry's index lock.
    pub(crate) fn process_joined(&self, now: u64) -> bool {
        bump!(self.counters.spawns, 1);
        bump!(self.nr_processes, 1);
        self.touch(now);
        // A fork is activity; a process joining an agent that had ended
        // brings it back to life, and one awaited for a restart is it.
        match self.state() {
            State::Recovery => {
                self.restarts.fetch_add(1, Relaxed);
                self.faults.restarted();
                self.state.store(State::Restarted as u32, Relaxed);
                true
            }
            State::Active | State::Restarted => false,
            _ => {
                self.state.store(State::Active as u32, Relaxed);
                false
            }
        }
    }

    /// A member called execve().
    pub(crate) fn exec(&self, now: u64) {
        self.counters.execs.fetch_add(1, Relaxed);
        self.touch(now);
        let _ = self.state.compare_exchange(
            State::Spawned as u32,
            State::Active as u32,
            Relaxed,
            Relaxed,
        );
    }

    /// A member left its cgroup: it is no longer part of the agent, but did
    /// not exit. Called under the registry's index lock.
    pub(crate) fn process_left(&self, now: u64) {
        bump!(self.nr_processes, 1u32.wrapping_neg());
        self.touch(now);
    }

    /// A member process ended; returns whether it crashed, and the state
    /// the agent entered if it was the last one. An exit the module caused
    /// by a kill or restart action or a cascade is not a crash, and a
    /// cascade's last exit leaves the agent Exited. `crash_action` is what
    /// the policy does on a crash. Called under the registry's index lock,
    /// so a process joining meanwhile cannot be overwritten by the exit's
    /// state.
    pub(crate) fn process_exited(
        &self,
        status: ExitStatus,
        crash_action: Action,
        now: u64,
    ) -> (bool, Option<State>) {
        let ending = self.ending.get();
        let crash = status.is_crash() && !self.ending.is_some();
        bump!(self.counters.exits, 1);
        if crash {
            bump!(self.counters.crashes, 1);
            // Written by the sampler's fault checks too.
            self.counters.faults.fetch_add(1, Relaxed);
            self.counters.count_fault(FaultKind::Crash);
        }
        self.last_exit_status.store(status.0.into(), Relaxed);
        self.touch(now);
        if bump!(self.nr_processes, 1u32.wrapping_neg()) != 0 {
            return (crash, None);
        }
        // The last process decides how the agent ended.
        let restart_left = self.restarts.load(Relaxed) < self.auto_restart.load(Relaxed);
        let wants_restart =
            ending == Some(Action::Restart) || (crash && crash_action == Action::Restart);
        let state = if ending == Some(Action::Kill) {
            State::Failed
        } else if self.ending.is_cascade() {
            State::Exited
        } else if wants_restart {
            if restart_left {
                State::Recovery
            } else {
                State::Failed
            }
        } else if !crash {
            State::Exited
        } else if crash_action == Action::Log {
            State::Fault
        } else {
            State::Failed
        };
        self.state.store(state.raw(), Relaxed);
        self.ending.clear();
        (crash, Some(state))
    }
}
