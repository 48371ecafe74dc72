// SPDX-License-Identifier: GPL-2.0

//! The registered agents: an RCU-protected xarray of records by agent id,
//! and the index from process (tgid, initial namespace) to agent that the
//! probes read without sleeping locks.
//!
//! Each record is an [`RcuArc<Agent>`]; the xarrays by id, by tgid and by
//! cgroup each own a reference. Readers borrow a record for the length of
//! an RCU read-side section (probes run in one) without touching its count;
//! a record is freed a grace period after its last reference went, so
//! dropping a reference is fine anywhere, even under a spinlock.
//!
//! Lock order: `write` (a mutex serialising registration and
//! unregistration) before the process index's own xarray lock (a spinlock
//! serialising index writes, with the agents' process counts, against
//! unregistration), which nests no other xarray's lock.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;

use crate::agent::{Agent, Ending, Locks, Membership, State};
use crate::ffi::{self, PidRef, RcuArc, RcuGuard, RcuRef, TaskInfo, XArray};
use crate::filter::TgidFilter;
use crate::telemetry::{Event, EventKind, Telemetry};
use crate::uapi::{Action, ID_ALLOC_MIN, ID_MAX, NAME_LEN, SCOPE_LEN};

/// What a registration asks for, validated.
pub(crate) struct Spec {
    pub(crate) id: u32,
    pub(crate) name: [u8; NAME_LEN],
    pub(crate) scope: [u8; SCOPE_LEN],
    pub(crate) risk: crate::policy::Risk,
    pub(crate) capabilities: u64,
    pub(crate) auto_restart: u32,
    pub(crate) owner_uid: u32,
    /// The caller has `CAP_SYS_ADMIN`.
    pub(crate) privileged: bool,
}

/// Who becomes the agent.
pub(crate) enum Target {
    /// A process, with its tgid in the initial pid namespace.
    Process(PidRef, i32),
    /// Every task of the cgroup with this id.
    Cgroup(u64),
}

/// Most agents registered at once.
const MAX_AGENTS: u32 = 4096;

/// Most agents registered at once without `CAP_SYS_ADMIN`, all users
/// together: the rest is kept for the administrator, whose registrations
/// unprivileged users cannot make fail.
const MAX_UNPRIVILEGED_AGENTS: u32 = MAX_AGENTS / 4 * 3;

/// "Quota exceeded": the caller's user has `max_agents_per_uid` agents (as
/// the kernel's keyrings report a user's full quota).
fn edquot() -> Error {
    Error::from_errno(-122)
}

struct WriteState {
    /// Where the search for a free id starts.
    next_id: u32,
    /// Turns the syscall probes on with the first agent, off with the last.
    probe: ffi::SyscallProbe,
}

/// An agent borrowed for an RCU read-side section.
pub(crate) type AgentRef<'a> = RcuRef<'a, Agent>;

/// How a process joins an agent.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Joining {
    /// As one of its first processes, when it is registered.
    Registered,
    /// Forked by one of the agent's processes: it counts as a spawn, and a
    /// later exec in it needs ProcessSpawn.
    Forked,
    /// Put into the agent's cgroup (moved, or created there by another
    /// process): it counts as a spawn.
    Placed,
}

/// All agents.
#[pin_data]
pub(crate) struct Registry {
    /// Agent id -> agent; written under `write`.
    agents: XArray<Agent>,
    /// Process tgid -> its agent; written under its own lock
    /// ([`XArray::lock`]), the index lock. The tag says the process was
    /// forked in ([`Joining::Forked`]).
    index: XArray<Agent>,
    /// cgroup v2 id -> its cgroup agent; written under `write`.
    cgroups: XArray<Agent>,
    /// Which tgids may be in `index`; written under the index lock.
    filter: TgidFilter,
    #[pin]
    write: Mutex<WriteState>,
    nr_agents: AtomicU32,
    /// Whether a live process that is no agent's may still have its
    /// syscall tracepoint bit: the sampler's next window sweeps every task.
    sweep_due: AtomicBool,
}

impl Registry {
    /// An empty registry.
    pub(crate) fn new() -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            agents: XArray::new()?,
            index: XArray::new()?,
            cgroups: XArray::new()?,
            filter: TgidFilter::new()?,
            write <- new_mutex!(
                WriteState {
                    next_id: ID_ALLOC_MIN,
                    probe: ffi::SyscallProbe::take().ok_or(EBUSY)?,
                },
                "Registry::write"
            ),
            nr_agents: AtomicU32::new(0),
            sweep_due: AtomicBool::new(false),
        }? Error)
    }

    /// Whether no agent is registered: the probes' fast path.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.nr_agents.load(Relaxed) == 0
    }

    /// How many agents are registered.
    pub(crate) fn len(&self) -> u32 {
        self.nr_agents.load(Relaxed)
    }

    /// A live process may have the syscall tracepoint bit without being an
    /// agent's: every task got it when the probes were registered, a
    /// process that left its agent alive keeps it, and so does a child an
    /// agent being unregistered did not take. The sampler sweeps at its
    /// next window; otherwise it walks only the agents' processes.
    pub(crate) fn sweep_later(&self) {
        self.sweep_due.store(true, Relaxed);
    }

    /// Whether a sweep is due; the caller sweeps.
    pub(crate) fn take_sweep(&self) -> bool {
        self.sweep_due.swap(false, Relaxed)
    }

    /// The agent process `tgid` belongs to.
    pub(crate) fn agent_of<'a>(&'a self, tgid: i32, rcu: &'a RcuGuard) -> Option<AgentRef<'a>> {
        if !self.filter.may_contain(tgid) {
            return None;
        }
        self.index.load(tgid as usize, rcu)
    }

    /// The id of the agent the calling process belongs to, if any (for the
    /// rules that hold only outside agents).
    pub(crate) fn caller_agent_id(&self) -> Option<u32> {
        let (_pid, tgid) = PidRef::current()?;
        let rcu = RcuGuard::new();
        self.agent_of(tgid, &rcu).map(|agent| agent.id)
    }

    /// Runs `f` on the agent process `tgid` belongs to, under RCU: the
    /// probes' common start. `None` when it belongs to none, which costs
    /// most tasks one load.
    pub(crate) fn with_agent<R>(
        &self,
        tgid: i32,
        f: impl FnOnce(&Agent, &RcuGuard) -> R,
    ) -> Option<R> {
        if !self.may_be_agent(tgid) {
            return None;
        }
        let rcu = RcuGuard::new();
        self.agent_of(tgid, &rcu).map(|agent| f(&agent, &rcu))
    }

    /// Whether process `tgid` may belong to an agent: the probes' second
    /// check, one load, before they take the RCU read lock.
    #[inline]
    pub(crate) fn may_be_agent(&self, tgid: i32) -> bool {
        !self.is_empty() && self.filter.may_contain(tgid)
    }

    /// The agent with id `id`.
    pub(crate) fn get<'a>(&'a self, id: u32, rcu: &'a RcuGuard) -> Option<AgentRef<'a>> {
        self.agents.load(id as usize, rcu)
    }

    /// When the agent registered under `id` now was registered: which
    /// registration a dependency edge's end must be ([`crate::deps::End`]).
    pub(crate) fn registered_ns(&self, id: u32) -> Option<u64> {
        self.get(id, &RcuGuard::new()).map(|a| a.registered_ns)
    }

    /// Starts ending `agent` with recovery `action` (kill or restart) and
    /// sends SIGKILL to every process of it, before the caller goes on:
    /// none may act on what the caller was refused (serve a listener's
    /// connections, say). A fork racing this either finds the ending under
    /// the index lock, and [`Self::join`] refuses its child, which dies
    /// before it runs, or has put its child in the index before the walk
    /// here. Once a walk is done no process joins until the last is gone,
    /// so later calls (one io_uring submission can make many violations)
    /// do not walk again. Does not sleep; not under the index lock.
    pub(crate) fn end(&self, agent: &Agent, action: Action) {
        // Nothing to end if the caller left the agent meanwhile (moved out
        // of its cgroup).
        let run = self.ending_if_live(agent, |ending| {
            ending.begin(action);
            (!ending.walked()).then(|| ending.run())
        });
        let Some(Some(run)) = run else {
            return;
        };
        self.signal_members(agent, ffi::SIGKILL);
        let _index = self.index.lock();
        // Not if the run ended meanwhile (the next one walks again), nor for
        // a cascade's ending (a restart does not take over from it), which
        // does not refuse joins.
        if agent.ending.run() == run && agent.ending.get().is_some() {
            agent.ending.set_walked();
        }
    }

    /// Lets `f` start ending `agent` under the index lock if it has
    /// processes; returns what `f` returned, `None` if it had none: a
    /// verdict on an agent with none would outlive its run and refuse or
    /// kill the next one's processes.
    pub(crate) fn ending_if_live<R>(
        &self,
        agent: &Agent,
        f: impl FnOnce(&Ending) -> R,
    ) -> Option<R> {
        let _index = self.index.lock();
        (agent.nr_processes.load(Relaxed) > 0).then(|| f(&agent.ending))
    }

    /// Sends `sig` to every process of `agent`: a look at each entry of the
    /// index, and a pid lookup for the agent's own.
    pub(crate) fn signal_members(&self, agent: &Agent, sig: i32) {
        let rcu = RcuGuard::new();
        self.for_each_member(&rcu, |tgid, member| {
            if member.ptr_eq(agent) {
                ffi::signal_process(tgid, sig);
            }
        });
    }

    /// The cgroup agent of cgroup v2 `cgroup`.
    pub(crate) fn cgroup_agent<'a>(
        &'a self,
        cgroup: u64,
        rcu: &'a RcuGuard,
    ) -> Option<AgentRef<'a>> {
        self.cgroups.load(cgroup as usize, rcu)
    }

    /// The agent with the smallest id at or above `*from`; moves `*from` past it.
    pub(crate) fn next<'a>(&'a self, from: &mut usize, rcu: &'a RcuGuard) -> Option<AgentRef<'a>> {
        let agent = self.agents.find(from, rcu)?;
        *from = from.saturating_add(1);
        Some(agent)
    }

    /// Makes process `tgid` a member of `agent` and counts it (as one of the
    /// agent's first processes when [`Joining::Registered`], else as a
    /// spawn), unless it already belongs to an agent, `agent` is being
    /// unregistered (ESRCH), an action is ending its processes (EINTR: the
    /// process is to be killed; an ending with no process left is stale and
    /// cleared instead), or `exiting` says the process is already on its
    /// way out (ESRCH); returns whether joining restarted the agent.
    /// Does not sleep.
    ///
    /// `exiting` is asked after the index store, under the index lock: an exit
    /// probe whose `leave` ran before found nothing, but its process's
    /// exit is visible to `exiting` by then; one that runs after finds
    /// the entry. Either way no dead process stays in the index.
    pub(crate) fn join(
        &self,
        agent: AgentRef<'_>,
        tgid: i32,
        exiting: impl FnOnce() -> bool,
        how: Joining,
        now: u64,
    ) -> Result<bool> {
        let index = self.index.lock();
        if agent.dead.load(Relaxed) {
            return Err(ESRCH);
        }
        // An agent that an action is ending takes no new process, which
        // would outlive the kill under way ([`Self::end`]). An ending with
        // no process left (a cascade's that raced the last exit, the last
        // member moved out) is stale: the new process starts afresh.
        if agent.ending.is_some() {
            if agent.nr_processes.load(Relaxed) == 0 {
                agent.ending.clear();
            } else if agent.ending.get().is_some() {
                return Err(EINTR);
            }
        }
        // Not dead: the agents xarray still holds a reference.
        let member = agent.to_arc().ok_or(ESRCH)?;
        self.filter.add(tgid);
        // EBUSY if it belongs to an agent already.
        let forked = how == Joining::Forked;
        if let Err(e) = index.insert(tgid as usize, member, forked) {
            self.filter.remove(tgid);
            return Err(e);
        }
        if exiting() {
            drop(index.erase(tgid as usize));
            self.filter.remove(tgid);
            return Err(ESRCH);
        }
        // Counted under the lock, so no `leave` can count the exit first.
        if how == Joining::Registered {
            agent.initial_processes(1);
            Ok(false)
        } else {
            Ok(agent.process_joined(now))
        }
    }

    /// Calls `f` with every process of every agent (tgid, agent), in tgid
    /// order: the work is bounded by the agents' processes, not the
    /// system's.
    pub(crate) fn for_each_member<'a>(
        &'a self,
        rcu: &'a RcuGuard,
        mut f: impl FnMut(i32, AgentRef<'a>),
    ) {
        let mut tgid = 0usize;
        while let Some(agent) = self.index.find(&mut tgid, rcu) {
            f(tgid as i32, agent);
            tgid += 1;
        }
    }

    /// Calls `f` with every live process of every agent and its agent,
    /// under RCU: the index walk of [`Self::for_each_member`], each process
    /// looked up by its pid. The work is bounded by the agents' processes,
    /// not the system's.
    pub(crate) fn for_each_member_task<'a>(
        &'a self,
        rcu: &'a RcuGuard,
        mut f: impl FnMut(AgentRef<'a>, &TaskInfo),
    ) {
        self.for_each_member(rcu, |tgid, agent| {
            ffi::with_process(tgid, |task| f(agent, task));
        });
    }

    /// Whether process `tgid` is one of `agent`'s: a request from it is the
    /// agent's own. Under RCU, like [`Self::agent_of`].
    pub(crate) fn is_member(&self, agent: &Agent, tgid: i32, rcu: &RcuGuard) -> bool {
        self.agent_of(tgid, rcu).is_some_and(|a| a.ptr_eq(agent))
    }

    /// Whether process `tgid` joined its agent by being forked in it (not by
    /// registration or a cgroup attach). Under RCU, like [`Self::agent_of`].
    pub(crate) fn forked_in(&self, tgid: i32, rcu: &RcuGuard) -> bool {
        self.index.tagged(tgid as usize, rcu)
    }

    /// Removes process `tgid` from `agent` and runs `counted` on the agent,
    /// under the lock; `None` if it was not a member (someone else removed
    /// it). Does not sleep.
    pub(crate) fn leave<R>(
        &self,
        agent: &Agent,
        tgid: i32,
        counted: impl FnOnce(&Agent) -> R,
    ) -> Option<R> {
        let index = self.index.lock();
        // Erased only if it is still `agent`'s.
        drop(index.erase_if(tgid as usize, agent)?);
        self.filter.remove(tgid);
        Some(counted(agent))
    }

    /// Registers an agent; returns its id.
    pub(crate) fn register(
        &self,
        spec: Spec,
        target: Target,
        locks: &Locks<'_>,
        telemetry: &Telemetry,
    ) -> Result<u32> {
        let now = ffi::now_ns();
        let (membership, tgid) = match target {
            Target::Process(pid, tgid) => (Membership::Process(pid), Some(tgid)),
            Target::Cgroup(id) => (Membership::Cgroup(id), None),
        };
        let mut write = self.write.lock();
        if self.nr_agents.load(Relaxed) >= MAX_AGENTS {
            return Err(ENOSPC);
        }
        if !spec.privileged {
            let (all, mine) = self.unprivileged_locked(&write, spec.owner_uid);
            if all >= MAX_UNPRIVILEGED_AGENTS {
                return Err(ENOSPC);
            }
            if mine >= ffi::max_agents_per_uid() {
                return Err(edquot());
            }
        }
        let id = match spec.id {
            0 => self.alloc_id_locked(&mut write)?,
            id if self.agents.contains(id as usize) => return Err(EEXIST),
            id => id,
        };
        match (&membership, tgid) {
            // Checked again under the index lock by `join`; this early check
            // keeps the common refusal cheap.
            (_, Some(tgid)) if self.index.contains(tgid as usize) => return Err(EBUSY),
            (Membership::Cgroup(cgroup), _) if self.cgroups.contains(*cgroup as usize) => {
                return Err(EEXIST)
            }
            _ => {}
        }
        let agent = RcuArc::new(Agent::new(id, &spec, membership, now, locks)?)?;
        // The probes must see an agent exists before its first process can
        // join, or that process's exit would be missed; without the
        // syscall probes the policy cannot be enforced, so no agent.
        self.agent_added(&mut write)?;
        let published = self
            .agents
            .insert(id as usize, agent.clone())
            .and_then(|()| match agent.membership {
                Membership::Cgroup(cgroup) => self.cgroups.insert(cgroup as usize, agent.clone()),
                Membership::Process(_) => Ok(()),
            });
        let joined = published.and_then(|()| match (&agent.membership, tgid) {
            (Membership::Process(pid), Some(tgid)) => self
                .join(
                    agent.borrow(),
                    tgid,
                    || pid.group_dead(),
                    Joining::Registered,
                    now,
                )
                .map(|_| {
                    // Its syscalls are counted from now, not from the
                    // sampler's next sweep.
                    pid.trace_syscalls();
                    1
                }),
            _ => Ok(self.join_cgroup(agent.borrow(), now, telemetry)),
        });
        let joined = match joined {
            Ok(n) => n,
            Err(e) => {
                self.forget_locked(&mut write, &agent);
                self.agent_removed(&mut write);
                return Err(e);
            }
        };
        telemetry.totals.spawns.fetch_add(joined.into(), Relaxed);
        telemetry.record(Event::new(EventKind::Register, id, tgid.unwrap_or(0), now));
        // The sampler primes the new agent at once, then runs every second.
        ffi::sampler_kick();
        Ok(id)
    }

    /// Makes the calling process (`pid`, `tgid`) a member of `agent`, a
    /// process agent in Recovery, as its restart ([`crate::uapi::REGISTER_RESTART`]).
    /// Errors: `EINVAL` (a cgroup agent), `EBUSY` (not in Recovery, or the
    /// caller is an agent's already), `ESRCH` (unregistered meanwhile).
    pub(crate) fn rejoin(&self, agent: AgentRef<'_>, pid: &PidRef, tgid: i32, now: u64) -> Result {
        if !matches!(agent.membership, Membership::Process(_)) {
            return Err(EINVAL);
        }
        if agent.state() != State::Recovery {
            return Err(EBUSY);
        }
        // Asked again under the index lock: of two processes racing to
        // restart the agent, one does, the other fails and changes nothing.
        self.join(
            agent,
            tgid,
            || agent.state() != State::Recovery,
            Joining::Placed,
            now,
        )
        // An agent in Recovery has no process, so no action is ending it.
        .map_err(|e| if e == EINTR { EBUSY } else { e })?;
        pid.trace_syscalls();
        Ok(())
    }

    /// Takes `agent` out of the xarrays by id and cgroup and out of the
    /// index, and marks it dead so that no process joins it any more.
    fn forget_locked(&self, _write: &mut WriteState, agent: &Agent) {
        let rcu = RcuGuard::new();
        // Only entries that are `agent`'s: a failed registration may have
        // found its id or cgroup taken.
        if self.get(agent.id, &rcu).is_some_and(|a| a.ptr_eq(agent)) {
            drop(self.agents.erase(agent.id as usize));
        }
        if let Membership::Cgroup(cgroup) = agent.membership {
            if self
                .cgroup_agent(cgroup, &rcu)
                .is_some_and(|a| a.ptr_eq(agent))
            {
                drop(self.cgroups.erase(cgroup as usize));
            }
        }
        let index = self.index.lock();
        agent.dead.store(true, Relaxed);
        let mut tgid = 0usize;
        while let Some(member) = self.index.find(&mut tgid, &rcu) {
            if member.ptr_eq(agent) {
                drop(index.erase(tgid));
                self.filter.remove(tgid as i32);
                // It runs on, no agent's.
                self.sweep_later();
            }
            tgid += 1;
        }
    }

    /// Counts an agent in; the first one turns the syscall probes on, and
    /// if they cannot be, the agent is refused: its policy could not be
    /// enforced.
    fn agent_added(&self, write: &mut WriteState) -> Result {
        if self.nr_agents.load(Relaxed) == 0 {
            // Syscall counting costs every task a slow syscall entry: only
            // while some agent exists.
            write.probe.set(true).inspect_err(|e| {
                pr_warn!("[ASM] cannot register the syscall probes: {:?}\n", e);
            })?;
            // Registering them gave every task the bit.
            self.sweep_later();
        }
        self.nr_agents.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Counts an agent out; the last one turns syscall counting off.
    fn agent_removed(&self, write: &mut WriteState) {
        if self.nr_agents.fetch_sub(1, Relaxed) == 1 {
            if let Err(e) = write.probe.set(false) {
                pr_warn!("[ASM] cannot stop syscall counting: {:?}\n", e);
            }
        }
    }

    /// Agents registered without `CAP_SYS_ADMIN`: all, and those of `uid`.
    fn unprivileged_locked(&self, _write: &WriteState, uid: u32) -> (u32, u32) {
        let rcu = RcuGuard::new();
        let (mut all, mut mine) = (0u32, 0u32);
        let mut from = 0;
        while let Some(agent) = self.next(&mut from, &rcu) {
            if !agent.privileged {
                all += 1;
                mine += u32::from(agent.owner_uid == uid);
            }
        }
        (all, mine)
    }

    /// Joins every live process of the agent's cgroup; returns how many.
    /// A process of a process agent leaves it for this one, as it would if
    /// it were moved into the cgroup now; each joined process's system
    /// calls are traced from now.
    fn join_cgroup(&self, agent: AgentRef<'_>, now: u64, telemetry: &Telemetry) -> u32 {
        let Membership::Cgroup(cgroup) = agent.membership else {
            return 0;
        };
        let mut joined = 0u32;
        let rcu = RcuGuard::new();
        ffi::for_each_process(|task| {
            if task.cgroup_id != cgroup {
                return;
            }
            if let Some(old) = self.agent_of(task.tgid, &rcu) {
                if matches!(old.membership, Membership::Process(_)) {
                    self.leave(&old, task.tgid, |old| old.process_left(now));
                }
            }
            match self.join(
                agent,
                task.tgid,
                || task.group_dead(),
                Joining::Registered,
                now,
            ) {
                Ok(_) => {
                    task.syscall_work(true);
                    joined = joined.saturating_add(1);
                }
                // Exiting, or in another cgroup agent already.
                Err(e) if e == ESRCH || e == EBUSY => {}
                // No memory for the index: it must not run unsupervised.
                Err(_) => {
                    telemetry.totals.join_failures.fetch_add(1, Relaxed);
                    task.signal(ffi::SIGKILL);
                }
            }
        });
        joined
    }

    fn alloc_id_locked(&self, write: &mut WriteState) -> Result<u32> {
        let start = write.next_id;
        let mut id = start;
        loop {
            if !self.agents.contains(id as usize) {
                write.next_id = if id == ID_MAX { ID_ALLOC_MIN } else { id + 1 };
                return Ok(id);
            }
            id = if id == ID_MAX { ID_ALLOC_MIN } else { id + 1 };
            if id == start {
                return Err(ENOSPC);
            }
        }
    }

    /// Forgets agent `id` if `allowed` says the caller may (its error
    /// otherwise); its processes keep running.
    pub(crate) fn unregister(
        &self,
        id: u32,
        allowed: impl FnOnce(&Agent) -> Result,
        telemetry: &Telemetry,
    ) -> Result {
        let mut write = self.write.lock();
        let agent = self
            .get(id, &RcuGuard::new())
            .and_then(|a| a.to_arc())
            .ok_or(ESRCH)?;
        allowed(&agent)?;
        self.forget_locked(&mut write, &agent);
        self.agent_removed(&mut write);
        telemetry.record(Event::new(EventKind::Unregister, id, 0, ffi::now_ns()));
        Ok(())
    }
}
