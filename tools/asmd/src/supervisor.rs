// SPDX-License-Identifier: GPL-2.0

//! The daemon: take the lock, subscribe to the module's events, bring every
//! agent of the specs to where it should be, then restart agents when the
//! module says so, until SIGTERM or SIGINT.
//!
//! The module is the source of truth: asmd remembers nothing about its
//! agents between two actions. Each decision is taken from
//! `ASM_IOC_GET_INFO` at the moment it is needed (see `reconcile`), which is
//! what makes a restarted asmd attach to running agents instead of starting
//! second copies, and makes a stale or repeated event harmless.
//!
//! asmd acts only on agents it registered itself: before each decision the
//! agent under the spec's id must be a cgroup agent of the spec's cgroup
//! directory, registered by asmd's euid, with the spec's name
//! (`reconcile::vet`). Any other agent under that id (someone registered
//! a process, or another cgroup, under it) is logged and left alone.
//!
//! Agents are brought up in the specs' start order (`depends::start_order`:
//! every one after those it depends on). An agent with required
//! dependencies is registered and started only once they are all Active;
//! until then, for up to its `start_timeout`, it waits in `waiting`, which
//! the event loop looks at again every `WAIT_POLL_MS` while it handles the
//! module's events (restarting a dependency on its verdict included). That
//! list is the one thing asmd remembers, and only for a start in progress:
//! a restarted asmd finds the same states and waits again. Once an agent is
//! registered, asmd adds its dependency edges whose other end is registered
//! too; the rest are added when that end registers.

use crate::args::Config;
use crate::cgroup;
use crate::depends::{self, DepLook, Gate, Readiness};
use crate::error::Error;
use crate::genl::{Event, EventSocket, Notice};
use crate::log::{complain, say};
use crate::reconcile::{decide, state_label, vet, Decision, Identity, Refusal, Status};
use crate::spec::{Dependency, Spec};
use crate::sys::{
    self, Credentials, Device, Errno, LockError, LockFile, Signals, SpawnError, SpawnStep, Spawned,
};
use asm_abi::{
    AsmAgentInfo, AsmFaultPolicy, AsmPatch, AsmRegister, ASM_DEP_REQUIRED, ASM_DEVICE_PATH,
    ASM_EV_FAILED, ASM_EV_RECOVERY, ASM_EV_RESTARTED, ASM_GENL_MCGRP_EVENTS, ASM_GENL_NAME,
};
use asm_landlock::Ruleset;
use std::ffi::OsStr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long the event loop waits before reaping children anyway, in ms.
const POLL_MS: i32 = 500;
/// How long it waits while an agent's start waits for its dependencies:
/// how often their states are looked at again.
const WAIT_POLL_MS: i32 = 100;

/// "1 process" / "2 processes".
fn plural(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What the supervisor does to the system: the module's ioctls, the
/// agents' cgroups, and starting their commands. [`System`] is the real
/// one; the unit tests below give the supervisor a model of the module and
/// the cgroup tree instead.
trait Host {
    /// `ASM_IOC_GET_INFO`.
    fn info(&self, id: u32) -> Result<AsmAgentInfo, Errno>;
    /// `ASM_IOC_REGISTER`.
    fn register(&self, req: &mut AsmRegister) -> Result<(), Errno>;
    /// `ASM_IOC_SET_FAULT_POLICY`.
    fn set_fault_policy(&self, policy: &AsmFaultPolicy) -> Result<(), Errno>;
    /// `ASM_IOC_PATCH`.
    fn patch(&self, req: &mut AsmPatch) -> Result<(), Errno>;
    /// `ASM_IOC_UNREGISTER`.
    fn unregister(&self, id: u32) -> Result<(), Errno>;
    /// `ASM_IOC_DEPS` adding an edge; the audit sequence number.
    fn dep_add(
        &self,
        dependent: u32,
        dependency: u32,
        kind: u32,
        signal: u32,
    ) -> Result<u64, Errno>;
    /// Agent `id`'s cgroup directory, made if missing ([`cgroup::ensure`]).
    fn cgroup_ensure(&self, id: u32, euid: u32) -> Result<PathBuf, Error>;
    /// The cgroup id of `dir`.
    fn cgroup_id(&self, dir: &Path) -> Result<u64, Error>;
    /// Whether cgroup `dir` holds processes.
    fn cgroup_has_processes(&self, dir: &Path) -> bool;
    /// Kills every process of cgroup `dir`.
    fn cgroup_kill(&self, dir: &Path) -> Result<(), Errno>;
    /// `dir` opened for `ASM_IOC_REGISTER`'s `cgroup_fd`.
    fn open_dir(&self, dir: &Path) -> Result<OwnedFd, Errno>;
    /// Starts `argv` in the cgroup of `procs` ([`sys::spawn_in_cgroup`]).
    fn spawn(
        &self,
        argv: &[String],
        procs: &Path,
        log: &Path,
        landlock: Option<&Ruleset>,
        creds: Credentials,
    ) -> Result<Spawned, SpawnError>;
}

/// The system: /dev/asm, the cgroup tree, fork and exec.
struct System(Device);

impl Host for System {
    fn info(&self, id: u32) -> Result<AsmAgentInfo, Errno> {
        self.0.info(id)
    }
    fn register(&self, req: &mut AsmRegister) -> Result<(), Errno> {
        self.0.register(req)
    }
    fn set_fault_policy(&self, policy: &AsmFaultPolicy) -> Result<(), Errno> {
        self.0.set_fault_policy(policy)
    }
    fn patch(&self, req: &mut AsmPatch) -> Result<(), Errno> {
        self.0.patch(req)
    }
    fn unregister(&self, id: u32) -> Result<(), Errno> {
        self.0.unregister(id)
    }
    fn dep_add(
        &self,
        dependent: u32,
        dependency: u32,
        kind: u32,
        signal: u32,
    ) -> Result<u64, Errno> {
        self.0.dep_add(dependent, dependency, kind, signal)
    }
    fn cgroup_ensure(&self, id: u32, euid: u32) -> Result<PathBuf, Error> {
        cgroup::ensure(id, euid)
    }
    fn cgroup_id(&self, dir: &Path) -> Result<u64, Error> {
        cgroup::id(dir)
    }
    fn cgroup_has_processes(&self, dir: &Path) -> bool {
        cgroup::has_processes(dir)
    }
    fn cgroup_kill(&self, dir: &Path) -> Result<(), Errno> {
        cgroup::kill(dir)
    }
    fn open_dir(&self, dir: &Path) -> Result<OwnedFd, Errno> {
        sys::open_dir(dir)
    }
    fn spawn(
        &self,
        argv: &[String],
        procs: &Path,
        log: &Path,
        landlock: Option<&Ruleset>,
        creds: Credentials,
    ) -> Result<Spawned, SpawnError> {
        sys::spawn_in_cgroup(argv, procs, log, landlock, creds)
    }
}

/// The agents of the specs and the host to act on them.
struct Supervisor<'a, H: Host> {
    specs: &'a [Spec],
    /// Indices into `specs`, in the order the agents are brought up.
    order: Vec<usize>,
    log_dir: &'a Path,
    host: H,
    /// asmd's effective uid: the `owner_uid` of the agents it registers.
    euid: u32,
    /// Agents whose start waits for their required dependencies, in start
    /// order.
    waiting: Vec<Waiting>,
}

/// An agent whose start waits for its required dependencies.
#[derive(Debug, Clone, Copy)]
struct Waiting {
    /// Its spec's index.
    index: usize,
    /// When it stops waiting and is not started.
    deadline: Instant,
    /// Started or given up during the current pass over `waiting`.
    done: bool,
}

/// What reconciling one agent came to.
enum Outcome {
    /// It is where it should be, as far as asmd can bring it.
    Done,
    /// Its start waits for the required dependencies listed, as
    /// `Gate::Wait` gives them.
    Wait(Vec<String>),
}

/// What the module has under a spec's id.
enum Look {
    /// Nothing (`ESRCH`).
    Unknown,
    /// The agent asmd registered for the spec, in this state.
    Ours(Status),
    /// Someone else's agent: to be left alone.
    NotOurs(Refusal),
}

impl<H: Host> Supervisor<'_, H> {
    fn spec(&self, id: u32) -> Option<&Spec> {
        self.specs.iter().find(|s| s.id == id)
    }

    /// Whether agent `id`'s start waits for its dependencies.
    fn is_waiting(&self, id: u32) -> bool {
        self.waiting
            .iter()
            .any(|w| !w.done && self.specs[w.index].id == id)
    }

    /// Reconciles every agent in start order (but those whose start waits
    /// already: `check_waiting` looks at them), logging the errors; returns
    /// how many failed. An agent whose start has to wait for its
    /// dependencies joins `waiting`, with one line saying for which.
    fn reconcile_all(&mut self) -> usize {
        let specs = self.specs;
        let mut failed = 0;
        for k in 0..self.order.len() {
            let index = self.order[k];
            let spec = &specs[index];
            if self.is_waiting(spec.id) {
                continue;
            }
            match self.reconcile(spec) {
                Ok(Outcome::Done) => {}
                Ok(Outcome::Wait(waits)) => {
                    say!(
                        "{}: {}",
                        spec.label(),
                        depends::waiting_message(spec.start_timeout_s, &waits)
                    );
                    self.waiting.push(Waiting {
                        index,
                        deadline: Instant::now() + Duration::from_secs(spec.start_timeout_s.into()),
                        done: false,
                    });
                }
                Err(e) => {
                    complain!("{e}");
                    failed += 1;
                }
            }
        }
        failed
    }

    /// Looks again at each agent whose start waits: starts those whose
    /// required dependencies are all Active now, and gives up on those
    /// whose dependency failed or whose `start_timeout` ran out, with one
    /// line saying why.
    fn check_waiting(&mut self) {
        let specs = self.specs;
        for k in 0..self.waiting.len() {
            let w = self.waiting[k];
            let spec = &specs[w.index];
            let done = match self.reconcile(spec) {
                Ok(Outcome::Done) => true,
                Ok(Outcome::Wait(waits)) if Instant::now() >= w.deadline => {
                    complain!(
                        "{}: {}",
                        spec.label(),
                        depends::timeout_message(spec.start_timeout_s, &waits)
                    );
                    true
                }
                Ok(Outcome::Wait(_)) => false,
                Err(e) => {
                    complain!("{e}");
                    true
                }
            };
            self.waiting[k].done = done;
        }
        self.waiting.retain(|w| !w.done);
    }

    /// What the module has under the id of `dep`, a dependency's spec, as
    /// the start of its dependents needs it.
    fn dep_look(&self, dep: &Spec) -> DepLook {
        match self.look(dep, &cgroup::agent_dir(dep.id)) {
            Ok(Look::Unknown) => DepLook::Unknown {
                waiting: self.is_waiting(dep.id),
            },
            Ok(Look::Ours(status)) => DepLook::Ours {
                status,
                waiting: self.is_waiting(dep.id),
            },
            Ok(Look::NotOurs(_)) => DepLook::NotOurs,
            Err(e) => DepLook::Error(e.to_string()),
        }
    }

    /// Whether the agent of `spec` may start now, from the states of its
    /// required dependencies.
    fn gate(&self, spec: &Spec) -> Gate {
        let deps: Vec<(String, Readiness)> = spec
            .depends_on
            .iter()
            .filter(|d| d.kind == ASM_DEP_REQUIRED)
            .filter_map(|d| self.spec(d.id))
            .map(|dep| (dep.label(), depends::readiness(&self.dep_look(dep))))
            .collect();
        depends::gate(&deps)
    }

    /// Brings one agent to where it should be: registered, with its policy
    /// and its dependency edges, and running unless it ended for good. An
    /// agent to be registered or started waits for its required
    /// dependencies to be Active (`Outcome::Wait`), and is not started at
    /// all when one of them will not be (an error saying which).
    fn reconcile(&self, spec: &Spec) -> Result<Outcome, Error> {
        let label = spec.label();
        let dir = self
            .host
            .cgroup_ensure(spec.id, self.euid)
            .map_err(|e| e.context(&label))?;
        let mut decision = decide(self.status(spec, &dir)?);
        // Only a start waits: a cgroup that holds processes already (the
        // module was reloaded under them) is registered and attached to.
        let starts = match decision {
            Decision::Start => true,
            Decision::Register => !self.host.cgroup_has_processes(&dir),
            _ => false,
        };
        if starts {
            match self.gate(spec) {
                Gate::Open => {}
                Gate::Wait(waits) => return Ok(Outcome::Wait(waits)),
                Gate::Closed(why) => {
                    return Err(Error::new(format!("{label}: not started: {why}")))
                }
            }
        }
        if decision == Decision::Register {
            self.register(spec, &dir)?;
            // The cgroup may already hold processes (the module was reloaded
            // under running agents): the module counted them when it
            // registered the cgroup, and they are the agent.
            decision = decide(self.status(spec, &dir)?);
            if decision == Decision::Register {
                return Err(Error::new(format!(
                    "{label}: registered, but ASM_IOC_GET_INFO says it does not exist"
                )));
            }
        }
        self.act(spec, &dir, decision)?;
        Ok(Outcome::Done)
    }

    /// What the module has under the spec's id, and whether it is the
    /// agent asmd registered for the spec's cgroup `dir`.
    fn look(&self, spec: &Spec, dir: &Path) -> Result<Look, Error> {
        let info = match self.host.info(spec.id) {
            Ok(info) => info,
            Err(Errno(libc::ESRCH)) => return Ok(Look::Unknown),
            Err(e) => {
                return Err(Error::new(format!(
                    "{}: ASM_IOC_GET_INFO: {e}",
                    spec.label()
                )))
            }
        };
        let ours = Identity {
            owner_uid: self.euid,
            cgroup_id: self
                .host
                .cgroup_id(dir)
                .map_err(|e| e.context(spec.label()))?,
            name: spec.name.clone(),
        };
        Ok(match vet(spec.id, &Identity::from(&info), &ours, dir) {
            Ok(()) => Look::Ours(Status::from(&info)),
            Err(refusal) => Look::NotOurs(refusal),
        })
    }

    /// The agent's status; `None` when the module does not know it. An
    /// agent asmd did not register is an error: nothing is to be done
    /// with it.
    fn status(&self, spec: &Spec, dir: &Path) -> Result<Option<Status>, Error> {
        match self.look(spec, dir)? {
            Look::Unknown => Ok(None),
            Look::Ours(status) => Ok(Some(status)),
            Look::NotOurs(refusal) => Err(Error::new(format!("{}: {refusal}", spec.label()))),
        }
    }

    fn act(&self, spec: &Spec, dir: &Path, decision: Decision) -> Result<(), Error> {
        let label = spec.label();
        match decision {
            Decision::Attach { processes } => {
                say!(
                    "{label}: attached ({} running)",
                    plural(processes, "process", "processes")
                );
                Ok(())
            }
            Decision::Start => self.start(spec, dir),
            Decision::Restart { restart, of } => {
                say!("{label}: restarting (restart {restart} of {of})");
                self.start(spec, dir)
            }
            Decision::Leave { state } => {
                say!(
                    "{label}: not starting it: state {}, no process running",
                    state_label(state)
                );
                Ok(())
            }
            Decision::Register => Err(Error::new(format!("{label}: not registered"))),
        }
    }

    /// Registers the agent's cgroup and sets its policy: limits and actions,
    /// then its LLM token bucket, then adds its dependency edges. A policy
    /// the module refuses, or a required edge, undoes the registration, so
    /// that the next reconcile starts from scratch instead of finding an
    /// agent without its limits, and the agent is not started (its command
    /// runs only with the policy its spec gives it).
    fn register(&self, spec: &Spec, dir: &Path) -> Result<(), Error> {
        let label = spec.label();
        let fd = self
            .host
            .open_dir(dir)
            .map_err(|e| Error::new(format!("{label}: opening {}: {e}", dir.display())))?;
        let mut req = spec.register_request(fd.as_raw_fd());
        self.host.register(&mut req).map_err(|e| {
            let hint = if e.0 == libc::EEXIST {
                " (is the cgroup registered under another id?)"
            } else {
                ""
            };
            Error::new(format!(
                "{label}: ASM_IOC_REGISTER of {}: {e}{hint}",
                dir.display()
            ))
        })?;
        drop(fd);
        if let Some(policy) = spec.fault_policy() {
            if let Err(e) = self.host.set_fault_policy(&policy) {
                return Err(self.undo_register(
                    spec,
                    format!("ASM_IOC_SET_FAULT_POLICY from {}: {e}", spec.file.display()),
                ));
            }
        }
        // asmd is an administrator outside the agent: it may widen the
        // bucket beyond the module's default as well as narrow it.
        if let Some(mut patch) = spec.llm_rate_patch() {
            if let Err(e) = self.host.patch(&mut patch) {
                return Err(self.undo_register(
                    spec,
                    format!(
                        "ASM_IOC_PATCH_POLICY of its LLM rate (llm_burst {}, llm_refill {}) \
                         from {}: {e}",
                        patch.llm_burst,
                        patch.llm_refill,
                        spec.file.display()
                    ),
                ));
            }
        }
        say!("{label}: registered cgroup {}", dir.display());
        if let Some(rate) = spec.llm_rate {
            say!(
                "{label}: LLM token bucket: burst {}, refill {}/s",
                rate.burst,
                rate.refill
            );
        }
        self.add_edges(spec)
    }

    /// Adds the dependency edges of the agent of `spec`, just registered,
    /// whose other end is registered: its own (`spec` depends on it), then
    /// those of its dependents that asmd registered before it. An edge whose
    /// other end is not registered yet is added when that end is.
    ///
    /// A required edge the module refuses fails the dependent's setup: when
    /// the dependent is `spec`, its registration is undone and the error
    /// returned (as for a refused policy); when it is an earlier agent, that
    /// one is stopped (unregistered, its processes killed) and the error
    /// logged. A refused optional or peer edge is logged and the agents go
    /// on without it.
    fn add_edges(&self, spec: &Spec) -> Result<(), Error> {
        let label = spec.label();
        for dep in &spec.depends_on {
            let Some(other) = self.spec(dep.id) else {
                continue;
            };
            let why_not = match self.look(other, &cgroup::agent_dir(other.id)) {
                Ok(Look::Ours(_)) => None,
                // Added when it registers.
                Ok(Look::Unknown) => continue,
                Ok(Look::NotOurs(refusal)) => Some(refusal.to_string()),
                Err(e) => Some(e.to_string()),
            };
            let result = match why_not {
                None => self
                    .host
                    .dep_add(spec.id, other.id, dep.kind, dep.signal)
                    .map_err(|e| edge_refused(spec, dep, other, e)),
                Some(why) => Err(format!(
                    "its {} dependency {} cannot have its edge: {why}",
                    dep.kind_name(),
                    other.label()
                )),
            };
            match result {
                Ok(seq) => say!("{label}: {}", depends::edge_added(dep, &other.label(), seq)),
                Err(what) if dep.kind == ASM_DEP_REQUIRED => {
                    return Err(self.undo_register(spec, what))
                }
                Err(what) => complain!("{label}: {what}; going on without the edge"),
            }
        }
        for other in self.specs {
            for dep in other.depends_on.iter().filter(|d| d.id == spec.id) {
                // Only an agent asmd registered gets the edge.
                let Ok(Look::Ours(status)) = self.look(other, &cgroup::agent_dir(other.id)) else {
                    continue;
                };
                self.add_dependent_edge(other, status, dep, spec);
            }
        }
        Ok(())
    }

    /// Adds the edge of `dep`, an entry of `dependent`'s spec (its agent
    /// registered, in `status`), to `spec`'s agent, registered after it.
    fn add_dependent_edge(&self, dependent: &Spec, status: Status, dep: &Dependency, spec: &Spec) {
        let label = dependent.label();
        match self
            .host
            .dep_add(dependent.id, spec.id, dep.kind, dep.signal)
        {
            Ok(seq) => say!("{label}: {}", depends::edge_added(dep, &spec.label(), seq)),
            Err(e) => {
                let what = edge_refused(dependent, dep, spec, e);
                if dep.kind == ASM_DEP_REQUIRED {
                    complain!("{}", self.stop_dependent(dependent, status, what));
                } else {
                    complain!("{label}: {what}; going on without the edge");
                }
            }
        }
    }

    /// The error for an agent registered earlier whose required edge was
    /// refused (`what`): it is unregistered and, if it runs, its processes
    /// are killed (an unregistered agent's processes would run on
    /// unsupervised).
    fn stop_dependent(&self, spec: &Spec, status: Status, what: String) -> Error {
        let stopped = match self.host.unregister(spec.id) {
            Ok(()) if status.nr_processes == 0 => "agent unregistered".to_owned(),
            Ok(()) => match self.host.cgroup_kill(&cgroup::agent_dir(spec.id)) {
                Ok(()) => format!(
                    "agent unregistered and its {} killed",
                    plural(status.nr_processes, "process", "processes")
                ),
                Err(e) => format!("agent unregistered; killing its processes failed: {e}"),
            },
            Err(u) => format!("ASM_IOC_UNREGISTER failed: {u}; agent left as it is"),
        };
        Error::new(format!("{}: {what}; {stopped}", spec.label()))
    }

    /// The error for a registration whose policy could not be set
    /// (`what` failed): the agent is unregistered again, and not started.
    fn undo_register(&self, spec: &Spec, what: String) -> Error {
        let undo = match self.host.unregister(spec.id) {
            Ok(()) => "registration undone, agent not started".to_owned(),
            Err(u) => format!("agent not started; ASM_IOC_UNREGISTER failed too: {u}"),
        };
        Error::new(format!("{}: {what}; {undo}", spec.label()))
    }

    /// Starts the agent's command in its cgroup, under its Landlock
    /// ruleset.
    fn start(&self, spec: &Spec, dir: &Path) -> Result<(), Error> {
        let label = spec.label();
        let log = self.log_dir.join(format!("{}.log", spec.id));
        let procs = cgroup::procs_file(dir);
        let landlock = landlock(spec)?;
        let creds = Credentials {
            uid: spec.run_as.uid,
            gid: spec.run_as.gid,
        };
        match self
            .host
            .spawn(&spec.command, &procs, &log, Some(&landlock), creds)
        {
            Ok(Spawned {
                pid,
                landlock: outcome,
            }) => {
                say!(
                    "{label}: started pid {pid} as uid {} gid {}",
                    creds.uid,
                    creds.gid
                );
                match outcome {
                    Some(outcome) if outcome.landlock() => {
                        say!("{label}: {}", landlock.report(outcome))
                    }
                    Some(_) => say!(
                        "{label}: warning: the kernel has no Landlock: \
                         running without it (the module still detects violations)"
                    ),
                    None => say!("{label}: warning: its child did not say what Landlock enforces"),
                }
                Ok(())
            }
            Err(e) => {
                let what = match e.step {
                    SpawnStep::Log => format!("opening {}", log.display()),
                    SpawnStep::Prepare => "preparing to fork".to_owned(),
                    SpawnStep::Fork => "fork".to_owned(),
                    SpawnStep::JoinCgroup => format!("writing to {}", procs.display()),
                    SpawnStep::Setup => "setting up its session and stdio".to_owned(),
                    SpawnStep::Credentials => format!(
                        "dropping privileges to uid {} gid {} (user {}, group {})",
                        creds.uid, creds.gid, spec.run_as.user, spec.run_as.group
                    ),
                    SpawnStep::NoNewPrivs => "setting PR_SET_NO_NEW_PRIVS".to_owned(),
                    SpawnStep::Capabilities => "giving up its capabilities".to_owned(),
                    SpawnStep::Landlock => "enforcing its Landlock ruleset".to_owned(),
                    SpawnStep::Exec => format!("exec {}", spec.command[0]),
                };
                Err(Error::new(format!(
                    "{label}: cannot start: {what}: {}",
                    e.errno
                )))
            }
        }
    }

    /// Acts on one event of the module.
    fn handle(&self, ev: &Event) {
        // Agents that are not ours are someone else's business.
        let Some(spec) = self.spec(ev.agent_id) else {
            return;
        };
        let label = spec.label();
        if ev.kind == ASM_EV_RECOVERY {
            if let Err(e) = self.recover(spec) {
                complain!("{e}");
            }
            return;
        }
        // The other events only inform: not worth a line for an agent that
        // is not ours (the refusal was logged when asmd looked at it).
        let dir = cgroup::agent_dir(spec.id);
        if !matches!(self.look(spec, &dir), Ok(Look::Ours(_))) {
            return;
        }
        match ev.kind {
            ASM_EV_RESTARTED => say!(
                "{label}: running again (restart {} of {})",
                ev.value,
                ev.limit
            ),
            ASM_EV_FAILED => say!(
                "{label}: failed after {}",
                plural(ev.value, "restart", "restarts")
            ),
            _ => {
                // The dependency, by its spec's label where it is one.
                let dependency = u32::try_from(ev.value)
                    .ok()
                    .and_then(|id| self.spec(id))
                    .map_or_else(|| format!("agent {}", ev.value), Spec::label);
                if let Some(line) = depends::event_text(ev, &dependency) {
                    say!("{label}: {line}");
                }
            }
        }
    }

    /// The module says the agent is to be restarted. The event may be stale
    /// (a reconcile after lost events restarted it already), so the decision
    /// is taken again from the agent's status now: only an agent still in
    /// Recovery with no process is started, never a second copy, and only
    /// if it is the agent asmd registered.
    fn recover(&self, spec: &Spec) -> Result<(), Error> {
        let label = spec.label();
        let dir = self
            .host
            .cgroup_ensure(spec.id, self.euid)
            .map_err(|e| e.context(&label))?;
        let status = match self.look(spec, &dir)? {
            Look::Ours(status) => status,
            Look::Unknown => {
                say!("{label}: recovery event for an agent no longer registered: ignored");
                return Ok(());
            }
            Look::NotOurs(refusal) => {
                return Err(Error::new(format!(
                    "{label}: restart verdict ignored: {refusal}"
                )))
            }
        };
        match decide(Some(status)) {
            d @ Decision::Restart { .. } => self.act(spec, &dir, d),
            Decision::Attach { processes } => {
                say!(
                    "{label}: recovery event ignored: already running ({})",
                    plural(processes, "process", "processes")
                );
                Ok(())
            }
            _ => {
                say!(
                    "{label}: recovery event ignored: state {}",
                    state_label(status.state)
                );
                Ok(())
            }
        }
    }
}

/// What failed when the module refused (`e`) the edge of `dep`, an entry of
/// `dependent`'s spec, to `dependency`'s agent: the request, the edge, the
/// spec file, the errno and what it means.
fn edge_refused(dependent: &Spec, dep: &Dependency, dependency: &Spec, e: Errno) -> String {
    let hint = depends::refusal_hint(e.0, dep.signal)
        .map(|h| format!(": {h}"))
        .unwrap_or_default();
    format!(
        "ASM_IOC_DEPS adding its {} dependency on {} from {}: {e}{hint}",
        dep.kind_name(),
        dependency.label(),
        dependent.file.display()
    )
}

/// Builds the agent's Landlock ruleset, which its child enforces before the
/// exec (without Landlock in the kernel, it enforces nothing). It is built
/// here, in asmd, so that opening the rules' paths is not counted as the
/// agent's doing, and so that the child only has system calls to make.
fn landlock(spec: &Spec) -> Result<Ruleset, Error> {
    let scope = spec.scope.as_deref().map(Path::new);
    let program = OsStr::new(spec.command.first().map_or("", String::as_str));
    asm_landlock::prepare(spec.capabilities, scope, program).map_err(|e| {
        Error::new(format!(
            "{}: cannot start: {}: {}",
            spec.label(),
            e.what(),
            Errno(e.errno())
        ))
    })
}

/// Runs the daemon until SIGTERM or SIGINT (`Ok`) or a fatal error.
pub fn run(cfg: &Config, specs: &[Spec]) -> Result<(), Error> {
    sys::ensure_std_fds();
    // The lock comes first: a second asmd must stop before it touches
    // anything.
    let _lock = LockFile::lock(&cfg.lock).map_err(|e| match e {
        LockError::Busy => Error::new(format!(
            "another asmd is running (lock {})",
            cfg.lock.display()
        )),
        LockError::Failed(e) => Error::new(format!("lock {}: {e}", cfg.lock.display())),
    })?;
    // From here on SIGTERM and SIGINT wait for the event loop.
    let signals = Signals::block_term().map_err(|e| Error::new(format!("signalfd: {e}")))?;
    cgroup::check_root()?;
    let dev = Device::open_rw().map_err(|e| {
        let hint = if e.0 == libc::ENOENT {
            " (is asm.ko loaded?)"
        } else {
            ""
        };
        Error::new(format!("{ASM_DEVICE_PATH}: {e}{hint}"))
    })?;
    // Subscribe before looking at any agent, so that no verdict reached
    // after the look can be missed.
    let mut events = EventSocket::subscribe(ASM_GENL_NAME, ASM_GENL_MCGRP_EVENTS)?;
    std::fs::create_dir_all(&cfg.log_dir).map_err(|e| {
        Error::new(format!(
            "creating {}: {}",
            cfg.log_dir.display(),
            Errno::from_io(&e)
        ))
    })?;
    say!(
        "pid {}: supervising {} from {} (logs in {}, lock {}, events from genl family {} id {})",
        std::process::id(),
        plural(specs.len() as u64, "agent", "agents"),
        cfg.spec_dir.display(),
        cfg.log_dir.display(),
        cfg.lock.display(),
        ASM_GENL_NAME,
        events.family().id
    );

    let order = depends::start_order(specs);
    if let Some(line) = depends::order_line(specs, &order) {
        say!("{line}");
    }
    let mut sup = Supervisor {
        specs,
        order,
        log_dir: &cfg.log_dir,
        host: System(dev),
        euid: sys::euid(),
        waiting: Vec::new(),
    };
    if sup.reconcile_all() == specs.len() {
        return Err(Error::new("no agent could be brought up; giving up"));
    }

    loop {
        sys::reap_children();
        sup.check_waiting();
        let timeout = if sup.waiting.is_empty() {
            POLL_MS
        } else {
            WAIT_POLL_MS
        };
        let ready = sys::poll_readable(&[events.fd(), signals.fd()], timeout)
            .map_err(|e| Error::new(format!("poll: {e}")))?;
        if ready[1] {
            if let Some(sig) = signals.read() {
                let name = if sig == libc::SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                say!("{name}: exiting; the agents keep running in their cgroups");
                return Ok(());
            }
        }
        if !ready[0] {
            continue;
        }
        let mut lost = false;
        for notice in events.drain()? {
            match notice {
                Notice::Event(ev) => sup.handle(&ev),
                Notice::Lost(why) => {
                    say!("events lost: {why}");
                    lost = true;
                }
                Notice::Malformed(why) => complain!("ignoring a malformed event message: {why}"),
            }
        }
        if lost {
            // Any verdict may have been among them: look at every agent.
            say!("reconciling every agent");
            sup.reconcile_all();
        }
    }
}

/// The supervisor's decisions against a model of the module and the cgroup
/// tree ([`Fake`]): what it registers, starts, restarts, leaves alone and
/// undoes. The real module is in selftests/test_asmd*.sh.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::testing::{spec, spec_with};
    use asm_abi::{
        ASM_EV_RESTARTED, ASM_STATE_ACTIVE, ASM_STATE_FAILED, ASM_STATE_RECOVERY, ASM_STATE_SPAWNED,
    };
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    /// asmd's euid in the tests.
    const EUID: u32 = 0;

    /// The module's agents and what asmd did, as the fake host records it.
    #[derive(Default)]
    struct Model {
        agents: BTreeMap<u32, AsmAgentInfo>,
        /// The cgroup ids of the directories, given out in order.
        cgroups: BTreeMap<PathBuf, u64>,
        /// The directory `open_dir` opened last: the one a register names.
        opened: Option<PathBuf>,
        registered: Vec<u32>,
        unregistered: Vec<u32>,
        started: Vec<u32>,
        edges: Vec<(u32, u32)>,
        /// The fault policy ioctl fails with this errno.
        refuse_policy: Option<i32>,
        /// Spawning fails for these agents.
        spawn_fails: Vec<u32>,
    }

    impl Model {
        fn cgroup_id(&mut self, dir: &Path) -> u64 {
            let next = 100 + self.cgroups.len() as u64;
            *self.cgroups.entry(dir.to_owned()).or_insert(next)
        }

        /// Agent `id` named `name`, registered by `owner` over cgroup
        /// `dir` with a budget of `restarts`, in `state` with no process.
        fn add(&mut self, id: u32, name: &[u8], owner: u32, dir: &Path, restarts: u32, state: u32) {
            let mut info = AsmAgentInfo::new(id);
            info.owner_uid = owner;
            info.cgroup_id = self.cgroup_id(dir);
            info.state = state;
            info.auto_restart = restarts;
            info.name[..name.len()].copy_from_slice(name);
            self.agents.insert(id, info);
        }

        /// Agent `id`'s state and processes change.
        fn set(&mut self, id: u32, state: u32, nr: u32) {
            let info = self.agents.get_mut(&id).expect("a registered agent");
            (info.state, info.nr_processes) = (state, nr);
        }
    }

    struct Fake(RefCell<Model>);

    /// The agent id of an agent's cgroup directory or of its procs file.
    fn id_of(path: &Path) -> u32 {
        let dir = if path.ends_with("cgroup.procs") {
            path.parent().unwrap()
        } else {
            path
        };
        dir.file_name().unwrap().to_str().unwrap().parse().unwrap()
    }

    impl Host for Fake {
        fn info(&self, id: u32) -> Result<AsmAgentInfo, Errno> {
            let m = self.0.borrow();
            m.agents.get(&id).copied().ok_or(Errno(libc::ESRCH))
        }
        fn register(&self, req: &mut AsmRegister) -> Result<(), Errno> {
            let mut m = self.0.borrow_mut();
            if m.agents.contains_key(&req.agent_id) {
                return Err(Errno(libc::EEXIST));
            }
            let dir = m
                .opened
                .take()
                .expect("a register names an opened directory");
            let (id, restarts) = (req.agent_id, req.auto_restart);
            m.add(id, &req.name, EUID, &dir, restarts, ASM_STATE_SPAWNED);
            m.registered.push(id);
            Ok(())
        }
        fn set_fault_policy(&self, _: &AsmFaultPolicy) -> Result<(), Errno> {
            self.0
                .borrow()
                .refuse_policy
                .map_or(Ok(()), |e| Err(Errno(e)))
        }
        fn patch(&self, _: &mut AsmPatch) -> Result<(), Errno> {
            Ok(())
        }
        fn unregister(&self, id: u32) -> Result<(), Errno> {
            let mut m = self.0.borrow_mut();
            m.agents.remove(&id).ok_or(Errno(libc::ESRCH))?;
            m.unregistered.push(id);
            Ok(())
        }
        fn dep_add(
            &self,
            dependent: u32,
            dependency: u32,
            kind: u32,
            _: u32,
        ) -> Result<u64, Errno> {
            let mut m = self.0.borrow_mut();
            // The specs here have required dependencies only.
            assert_eq!(kind, ASM_DEP_REQUIRED, "edge {dependent} -> {dependency}");
            m.edges.push((dependent, dependency));
            Ok(m.edges.len() as u64)
        }
        fn cgroup_ensure(&self, id: u32, _: u32) -> Result<PathBuf, Error> {
            Ok(cgroup::agent_dir(id))
        }
        fn cgroup_id(&self, dir: &Path) -> Result<u64, Error> {
            Ok(self.0.borrow_mut().cgroup_id(dir))
        }
        fn cgroup_has_processes(&self, dir: &Path) -> bool {
            let m = self.0.borrow();
            m.agents
                .get(&id_of(dir))
                .is_some_and(|a| a.nr_processes > 0)
        }
        fn cgroup_kill(&self, _: &Path) -> Result<(), Errno> {
            Ok(())
        }
        fn open_dir(&self, dir: &Path) -> Result<OwnedFd, Errno> {
            self.0.borrow_mut().opened = Some(dir.to_owned());
            sys::open_dir(Path::new("/"))
        }
        fn spawn(
            &self,
            _: &[String],
            procs: &Path,
            _: &Path,
            _: Option<&Ruleset>,
            _: Credentials,
        ) -> Result<Spawned, SpawnError> {
            let id = id_of(procs);
            let mut m = self.0.borrow_mut();
            // Before the child joined the cgroup: the agent stays without
            // a process (an exec failure would be a crash, in the cgroup).
            if m.spawn_fails.contains(&id) {
                return Err(SpawnError {
                    step: SpawnStep::Fork,
                    errno: Errno(libc::EAGAIN),
                });
            }
            m.started.push(id);
            // Its process joins the agent: Active, a restart counted.
            let info = m
                .agents
                .get_mut(&id)
                .expect("started agents are registered");
            if info.state == ASM_STATE_RECOVERY {
                info.restart_count += 1;
            }
            m.set(id, ASM_STATE_ACTIVE, 1);
            Ok(Spawned {
                pid: 4000 + id as i32,
                landlock: None,
            })
        }
    }

    fn supervisor<'a>(specs: &'a [Spec], model: Model) -> Supervisor<'a, Fake> {
        Supervisor {
            specs,
            order: depends::start_order(specs),
            log_dir: Path::new("/nonexistent"),
            host: Fake(RefCell::new(model)),
            euid: EUID,
            waiting: Vec::new(),
        }
    }

    /// A supervisor of `specs` whose first agent the module has, registered
    /// by `owner`, in `state` with `nr` processes.
    fn with_agent(specs: &[Spec], owner: u32, state: u32, nr: u32) -> Supervisor<'_, Fake> {
        with_agent_in(specs, Model::default(), owner, state, nr)
    }

    /// The same, in `model`.
    fn with_agent_in(
        specs: &[Spec],
        mut model: Model,
        owner: u32,
        state: u32,
        nr: u32,
    ) -> Supervisor<'_, Fake> {
        let a = &specs[0];
        model.add(
            a.id,
            a.name.as_bytes(),
            owner,
            &cgroup::agent_dir(a.id),
            3,
            state,
        );
        model.set(a.id, state, nr);
        supervisor(specs, model)
    }

    fn checked(mut specs: Vec<Spec>) -> Vec<Spec> {
        assert_eq!(depends::check(&mut specs), Vec::<String>::new());
        specs
    }

    fn event(kind: u32, agent_id: u32) -> Event {
        Event {
            seq: None,
            kind,
            agent_id,
            pid: 0,
            signal: 0,
            fault: 0,
            value: 0,
            limit: 0,
        }
    }

    #[test]
    fn brings_up_unknown_agents_dependencies_first() {
        // b requires a, listed first: a is registered and started first,
        // then b, with its edge.
        let specs = checked(vec![spec(2, "b", "[\"a\"]"), spec(1, "a", "")]);
        let mut sup = supervisor(&specs, Model::default());
        assert_eq!(sup.reconcile_all(), 0);
        let m = sup.host.0.borrow();
        assert_eq!(m.registered, [1, 2]);
        assert_eq!(m.started, [1, 2]);
        assert_eq!(m.edges, [(2, 1)]);
        assert!(sup.waiting.is_empty());
    }

    #[test]
    fn attaches_to_running_agents_and_never_starts_a_second_copy() {
        let specs = checked(vec![spec(1, "a", "")]);
        let mut sup = with_agent(&specs, EUID, ASM_STATE_ACTIVE, 2);
        assert_eq!(sup.reconcile_all(), 0);
        // A recovery event that is stale by now changes nothing either.
        sup.handle(&event(ASM_EV_RECOVERY, 1));
        let m = sup.host.0.borrow();
        assert!(
            m.registered.is_empty() && m.started.is_empty(),
            "{:?}",
            m.started
        );
    }

    #[test]
    fn a_recovery_verdict_restarts_the_agent_once() {
        let specs = checked(vec![spec(1, "a", "")]);
        let sup = with_agent(&specs, EUID, ASM_STATE_ACTIVE, 1);
        // Its process crashed: the module says Recovery.
        sup.host.0.borrow_mut().set(1, ASM_STATE_RECOVERY, 0);
        sup.handle(&event(ASM_EV_RECOVERY, 1));
        // The same verdict again (a repeated event): it runs, so no copy.
        sup.handle(&event(ASM_EV_RECOVERY, 1));
        sup.handle(&event(ASM_EV_RESTARTED, 1));
        let m = sup.host.0.borrow();
        assert_eq!(m.started, [1]);
        assert_eq!(m.agents[&1].restart_count, 1);
        assert!(m.registered.is_empty());
    }

    #[test]
    fn another_users_agent_under_the_id_is_left_alone() {
        let specs = checked(vec![spec(1, "a", "")]);
        let mut sup = with_agent(&specs, 1000, ASM_STATE_RECOVERY, 0);
        assert_eq!(sup.reconcile_all(), 1);
        sup.handle(&event(ASM_EV_RECOVERY, 1));
        let m = sup.host.0.borrow();
        assert!(m.started.is_empty() && m.registered.is_empty() && m.unregistered.is_empty());
    }

    #[test]
    fn a_refused_policy_undoes_the_registration_and_starts_nothing() {
        let specs = checked(vec![spec_with(
            1,
            "a",
            "",
            "[limits]\ncpu_quota_ms = 200\n",
        )]);
        let model = Model {
            refuse_policy: Some(libc::EINVAL),
            ..Model::default()
        };
        let mut sup = supervisor(&specs, model);
        assert_eq!(sup.reconcile_all(), 1);
        let m = sup.host.0.borrow();
        assert_eq!(
            (m.registered.as_slice(), m.unregistered.as_slice()),
            (&[1][..], &[1][..])
        );
        assert!(m.started.is_empty() && m.agents.is_empty());
    }

    #[test]
    fn a_dependent_waits_while_its_required_dependency_is_in_recovery() {
        // a waits in Recovery and its restart fails for now: b waits for
        // it, unregistered, until a runs again.
        let specs = checked(vec![spec(1, "a", ""), spec(2, "b", "[\"a\"]")]);
        let model = Model {
            spawn_fails: vec![1],
            ..Model::default()
        };
        let mut sup = with_agent_in(&specs, model, EUID, ASM_STATE_RECOVERY, 0);
        assert_eq!(sup.reconcile_all(), 1);
        assert!(sup.is_waiting(2));
        {
            let m = sup.host.0.borrow();
            assert!(m.registered.is_empty() && m.started.is_empty());
        }
        // Restarted meanwhile (by hand, say), a turns Active: b's next
        // look registers and starts it, with its edge.
        sup.host.0.borrow_mut().set(1, ASM_STATE_ACTIVE, 1);
        sup.check_waiting();
        assert!(!sup.is_waiting(2));
        let m = sup.host.0.borrow();
        assert_eq!(m.registered, [2]);
        assert_eq!(m.started, [2]);
        assert_eq!(m.edges, [(2, 1)]);
    }

    #[test]
    fn a_dependency_asmd_could_not_start_fails_its_dependent() {
        let specs = checked(vec![spec(1, "a", ""), spec(2, "b", "[\"a\"]")]);
        let model = Model {
            spawn_fails: vec![1],
            ..Model::default()
        };
        let mut sup = supervisor(&specs, model);
        assert_eq!(sup.reconcile_all(), 2);
        assert!(!sup.is_waiting(2));
        let m = sup.host.0.borrow();
        assert_eq!(m.registered, [1]);
        assert!(m.started.is_empty());
    }

    #[test]
    fn a_failed_agent_is_left_as_it_is() {
        let specs = checked(vec![spec(1, "a", "")]);
        let mut sup = with_agent(&specs, EUID, ASM_STATE_FAILED, 0);
        assert_eq!(sup.reconcile_all(), 0);
        sup.handle(&event(ASM_EV_RECOVERY, 1));
        assert!(sup.host.0.borrow().started.is_empty());
    }
}
