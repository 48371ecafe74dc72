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

use crate::args::Config;
use crate::cgroup;
use crate::error::Error;
use crate::genl::{Event, EventSocket, Notice};
use crate::log::{complain, say};
use crate::reconcile::{decide, state_label, vet, Decision, Identity, Refusal, Status};
use crate::spec::Spec;
use crate::sys::{self, Device, Errno, LockError, LockFile, Signals, SpawnStep};
use asm_abi::{
    ASM_DEVICE_PATH, ASM_EV_FAILED, ASM_EV_RECOVERY, ASM_EV_RESTARTED, ASM_GENL_MCGRP_EVENTS,
    ASM_GENL_NAME,
};
use asm_landlock::{Prepared, Ruleset};
use std::ffi::OsStr;
use std::os::fd::AsRawFd;
use std::path::Path;

/// How long the event loop waits before reaping children anyway, in ms.
const POLL_MS: i32 = 500;

/// "1 process" / "2 processes".
fn plural(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The agents of the specs and the device to act on them.
struct Supervisor<'a> {
    specs: &'a [Spec],
    log_dir: &'a Path,
    dev: Device,
    /// asmd's effective uid: the `owner_uid` of the agents it registers.
    euid: u32,
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

impl Supervisor<'_> {
    fn spec(&self, id: u32) -> Option<&Spec> {
        self.specs.iter().find(|s| s.id == id)
    }

    /// Reconciles every agent, logging the errors; returns how many failed.
    fn reconcile_all(&self) -> usize {
        let mut failed = 0;
        for spec in self.specs {
            if let Err(e) = self.reconcile(spec) {
                complain!("{e}");
                failed += 1;
            }
        }
        failed
    }

    /// Brings one agent to where it should be: registered, with its policy,
    /// and running unless it ended for good.
    fn reconcile(&self, spec: &Spec) -> Result<(), Error> {
        let label = spec.label();
        let dir = cgroup::ensure(spec.id, self.euid).map_err(|e| e.context(&label))?;
        let mut decision = decide(self.status(spec, &dir)?);
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
        self.act(spec, &dir, decision)
    }

    /// What the module has under the spec's id, and whether it is the
    /// agent asmd registered for the spec's cgroup `dir`.
    fn look(&self, spec: &Spec, dir: &Path) -> Result<Look, Error> {
        let info = match self.dev.info(spec.id) {
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
            cgroup_id: cgroup::id(dir).map_err(|e| e.context(spec.label()))?,
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
    /// then its LLM token bucket. A policy the module refuses undoes the
    /// registration, so that the next reconcile starts from scratch instead
    /// of finding an agent without its limits, and the agent is not
    /// started (its command runs only with the policy its spec gives it).
    fn register(&self, spec: &Spec, dir: &Path) -> Result<(), Error> {
        let label = spec.label();
        let fd = sys::open_dir(dir)
            .map_err(|e| Error::new(format!("{label}: opening {}: {e}", dir.display())))?;
        let mut req = spec.register_request(fd.as_raw_fd());
        self.dev.register(&mut req).map_err(|e| {
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
            if let Err(e) = self.dev.set_fault_policy(&policy) {
                return Err(self.undo_register(
                    spec,
                    format!("ASM_IOC_SET_FAULT_POLICY from {}: {e}", spec.file.display()),
                ));
            }
        }
        // asmd is an administrator outside the agent: it may widen the
        // bucket beyond the module's default as well as narrow it.
        if let Some(mut patch) = spec.llm_rate_patch() {
            if let Err(e) = self.dev.patch(&mut patch) {
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
        Ok(())
    }

    /// The error for a registration whose policy could not be set
    /// (`what` failed): the agent is unregistered again, and not started.
    fn undo_register(&self, spec: &Spec, what: String) -> Error {
        let undo = match self.dev.unregister(spec.id) {
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
        let creds = sys::Credentials {
            uid: spec.run_as.uid,
            gid: spec.run_as.gid,
        };
        match sys::spawn_in_cgroup(&spec.command, &procs, &log, landlock.as_ref(), creds) {
            Ok(pid) => {
                say!(
                    "{label}: started pid {pid} as uid {} gid {}",
                    creds.uid,
                    creds.gid
                );
                match &landlock {
                    Some(ruleset) => say!("{label}: {}", ruleset.report()),
                    None => say!(
                        "{label}: warning: the kernel has no Landlock: \
                         running without it (the module still detects violations)"
                    ),
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
            _ => {}
        }
    }

    /// The module says the agent is to be restarted. The event may be stale
    /// (a reconcile after lost events restarted it already), so the decision
    /// is taken again from the agent's status now: only an agent still in
    /// Recovery with no process is started, never a second copy, and only
    /// if it is the agent asmd registered.
    fn recover(&self, spec: &Spec) -> Result<(), Error> {
        let label = spec.label();
        let dir = cgroup::ensure(spec.id, self.euid).map_err(|e| e.context(&label))?;
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

/// Builds the agent's Landlock ruleset, which its child enforces before the
/// exec; `None` when the kernel has no Landlock. It is built here, in
/// asmd, so that opening the rules' paths is not counted as the agent's
/// doing, and so that the child only has two system calls to make.
fn landlock(spec: &Spec) -> Result<Option<Ruleset>, Error> {
    let scope = spec.scope.as_deref().map(Path::new);
    let program = OsStr::new(spec.command.first().map_or("", String::as_str));
    match asm_landlock::prepare(spec.capabilities, scope, program) {
        Ok(Prepared::Ready(ruleset)) => Ok(Some(ruleset)),
        Ok(Prepared::Unsupported) => Ok(None),
        Err(e) => Err(Error::new(format!(
            "{}: cannot start: {}: {}",
            spec.label(),
            e.what(),
            Errno(e.errno())
        ))),
    }
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

    let sup = Supervisor {
        specs,
        log_dir: &cfg.log_dir,
        dev,
        euid: sys::euid(),
    };
    if sup.reconcile_all() == specs.len() {
        return Err(Error::new("no agent could be brought up; giving up"));
    }

    loop {
        sys::reap_children();
        let ready = sys::poll_readable(&[events.fd(), signals.fd()], POLL_MS)
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
