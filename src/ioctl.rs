// SPDX-License-Identifier: GPL-2.0

//! The /dev/asm ioctls: copy the request in, validate every field before
//! anything changes, act, copy the result out. Documentation/uapi.rst lists
//! the errnos.

use core::fmt::Write;
use core::mem::size_of;
use core::sync::atomic::Ordering::Relaxed;
use kernel::prelude::*;
use kernel::types::{AsBytes, FromBytes};
use kernel::uaccess::{UserPtr, UserSlice};

use crate::agent::Agent;
use crate::audit::{Kind, Record, Source};
use crate::deps::{DepKind, DepOp, Edge, End};
use crate::faults::{self, Action, Settings};
use crate::ffi::{self, FileToken, PidRef, RcuGuard};
use crate::gateway;
use crate::lifecycle;
use crate::patch::{self, Asker, Change, Limits};
use crate::policy::{self, Risk};
use crate::profile::{OpName, Which};
use crate::registry::{Spec, Target};
use crate::report;
use crate::resources;
use crate::snapshot;
use crate::uapi::*;
use crate::viewer::Viewer;
use crate::Asm;

/// Handles one ioctl; returns the value the syscall returns.
pub(crate) fn dispatch(asm: &Asm, file: FileToken, cmd: u32, arg: UserPtr) -> Result<isize> {
    match cmd {
        IOC_REGISTER => register(asm, arg),
        IOC_UNREGISTER => unregister(asm, arg),
        IOC_LIST => list(asm, arg),
        IOC_GET_INFO => info(asm, arg),
        IOC_GET_TELEMETRY_JSON => json(asm, arg, false),
        IOC_GET_AGENT_INFO_JSON => json(asm, arg, true),
        IOC_SET_FAULT_POLICY => set_fault_policy(asm, arg),
        IOC_GET_FAULT_POLICY => get_fault_policy(asm, arg),
        IOC_HEARTBEAT => heartbeat(asm, arg),
        IOC_GET_HISTORY => history(asm, arg),
        IOC_PATCH_POLICY => patch(asm, arg),
        IOC_GET_AUDIT => get_audit(asm, arg),
        IOC_GET_COMPLIANCE => compliance(asm, arg),
        IOC_OVERSIGHT => oversight(asm, arg),
        IOC_DECISION => decision(asm, arg),
        IOC_SENSITIVE => sensitive(asm, arg),
        IOC_LLM_REQUEST => return llm_request(asm, file, arg),
        IOC_DEPS => deps(asm, arg),
        IOC_PROFILE => profile(asm, arg),
        _ => Err(ENOTTY),
    }?;
    Ok(0)
}

fn read<T: FromBytes>(arg: UserPtr) -> Result<T> {
    UserSlice::new(arg, size_of::<T>()).reader().read()
}

fn write<T: AsBytes>(arg: UserPtr, value: &T) -> Result {
    UserSlice::new(arg, size_of::<T>()).writer().write(value)
}

/// Checks the size and version every request starts with.
fn check_header<T>(size: u32, version: u32) -> Result {
    if size as usize != size_of::<T>() || version != ABI_VERSION {
        return Err(EINVAL);
    }
    Ok(())
}

fn check_zero(reserved: &[u64]) -> Result {
    if reserved.iter().any(|&r| r != 0) {
        return Err(EINVAL);
    }
    Ok(())
}

/// A name: 1 to NAME_LEN - 1 printable ASCII characters, NUL-terminated.
fn check_name(name: &[u8; NAME_LEN]) -> Result {
    let len = name.iter().position(|&b| b == 0).ok_or(EINVAL)?;
    if len == 0 || !name[..len].iter().all(|&b| (0x20..0x7f).contains(&b)) {
        return Err(EINVAL);
    }
    Ok(())
}

/// A scope: empty, or an absolute path of UTF-8 text without control
/// characters, empty, "." or ".." components (one trailing '/' is
/// allowed), NUL-terminated and NUL-padded. The probes compare it with
/// the kernel's names of files, which have none of those.
fn check_scope(scope: &[u8; SCOPE_LEN]) -> Result {
    let len = scope.iter().position(|&b| b == 0).ok_or(EINVAL)?;
    let text = core::str::from_utf8(&scope[..len]).map_err(|_| EINVAL)?;
    if scope[len..].iter().any(|&b| b != 0) {
        return Err(EINVAL);
    }
    if len == 0 {
        return Ok(());
    }
    let inner = text
        .strip_suffix('/')
        .filter(|t| !t.is_empty())
        .unwrap_or(text);
    let bad_part = inner
        .split('/')
        .skip(1)
        .any(|part| matches!(part, "" | "." | ".."));
    if !text.starts_with('/') || text.chars().any(|c| c.is_control()) || (inner != "/" && bad_part)
    {
        return Err(EINVAL);
    }
    Ok(())
}

fn register(asm: &Asm, arg: UserPtr) -> Result {
    let mut req: Register = read(arg)?;
    check_header::<Register>(req.size, req.version)?;
    check_zero(&req.reserved)?;
    if req.flags == REGISTER_RESTART {
        return restart(asm, arg, req);
    }
    if req.flags != 0
        || req.reserved0 != 0
        || req.capabilities & !CAP_ALL != 0
        || req.agent_id > ID_MAX
    {
        return Err(EINVAL);
    }
    check_name(&req.name)?;
    check_scope(&req.scope)?;
    let risk = Risk::requested(req.risk_level).ok_or(EINVAL)?;
    let to = RegisterTarget::try_from(req.target)?;
    match to {
        RegisterTarget::Caller if req.pid == 0 && req.cgroup_fd == 0 => {}
        RegisterTarget::Pid if req.pid > 0 && req.cgroup_fd == 0 => {}
        RegisterTarget::Cgroup if req.pid == 0 => {}
        _ => return Err(EINVAL),
    }
    // Registering anything but oneself, choosing an id (asmd's spec ids and
    // other administrators' are below the allocation range), a restart
    // budget (which makes asmd act) and LLM access (the administrator's
    // providers and keys answer) are the administrator's.
    let privileged = to != RegisterTarget::Caller
        || req.capabilities & (CAP_ADMIN | CAP_LLM_ACCESS) != 0
        || req.agent_id != 0
        || req.auto_restart != 0;
    let admin = ffi::capable_admin();
    // Like a widening patch, granting Admin or LlmAccess needs a caller
    // outside every agent: a root agent cannot mint privileged agents.
    let grants = req.capabilities & (CAP_ADMIN | CAP_LLM_ACCESS) != 0;
    let refused = if risk == Risk::Unacceptable {
        // Prohibited whoever asks.
        Some(Kind::Register)
    } else if grants && asm.registry.caller_agent_id().is_some() {
        Some(Kind::Escalation)
    } else if privileged && !admin {
        Some(if req.capabilities & CAP_ADMIN != 0 {
            Kind::Escalation
        } else {
            Kind::Register
        })
    } else {
        None
    };
    if let Some(kind) = refused {
        let mut r = Record::new(kind, 0, req.agent_id)
            .values(req.capabilities, risk.raw().into())
            .result(Err(EPERM));
        register_detail(&mut r, &req, risk);
        asm.audit.append_request(r, None);
        return Err(EPERM);
    }
    // Fail on an unwritable argument now, while nothing has changed.
    write(arg, &req)?;
    // A user's registrations are audited at the user's rate: past it,
    // refused before anything changes.
    if !admin {
        asm.audit.admit(Source::User(ffi::current_euid()))?;
    }

    // The registered process's number in the caller's namespace, taken now
    // so that nothing can fail once the agent exists.
    let (target, vnr) = match to {
        RegisterTarget::Caller => {
            let (pid, tgid) = PidRef::current().ok_or(ESRCH)?;
            let vnr = pid.vnr();
            (Target::Process(pid, tgid), vnr)
        }
        RegisterTarget::Pid => {
            let (pid, tgid) = PidRef::find(req.pid).ok_or(ESRCH)?;
            let vnr = pid.vnr();
            (Target::Process(pid, tgid), vnr)
        }
        RegisterTarget::Cgroup => (Target::Cgroup(ffi::cgroup_id_from_fd(req.cgroup_fd)?), 0),
    };
    let spec = Spec {
        id: req.agent_id,
        name: req.name,
        scope: req.scope,
        risk,
        capabilities: req.capabilities,
        auto_restart: req.auto_restart,
        owner_uid: ffi::current_euid(),
        privileged: admin,
    };
    let id = asm
        .registry
        .register(spec, target, &asm.locks(), &asm.telemetry)?;
    {
        let mut r = Record::new(Kind::Register, 0, id).values(req.capabilities, risk.raw().into());
        register_detail(&mut r, &req, risk);
        let rcu = RcuGuard::new();
        asm.audit.append(r, asm.registry.get(id, &rcu).as_deref());
    }
    req.agent_id = id;
    req.pid = vnr;
    if let Err(e) = write(arg, &req) {
        // The caller cannot learn the id (its buffer went away since the
        // check above): the call fails and changes nothing.
        if asm
            .registry
            .unregister(id, |_| Ok(()), &asm.telemetry)
            .is_ok()
        {
            asm.deps.forget(id);
        }
        return Err(e);
    }
    Ok(())
}

/// `ASM_REGISTER_RESTART`: the caller joins agent `req.agent_id`, in
/// Recovery, as its restart.
fn restart(asm: &Asm, arg: UserPtr, req: Register) -> Result {
    let blank = req.target == RegisterTarget::Caller.raw()
        && req.pid == 0
        && req.cgroup_fd == 0
        && req.capabilities == 0
        && req.auto_restart == 0
        && req.name.iter().all(|&b| b == 0)
        && req.scope.iter().all(|&b| b == 0)
        && req.risk_level == 0
        && req.reserved0 == 0;
    if !blank || req.agent_id == 0 {
        return Err(EINVAL);
    }
    // Who may give an agent a restart budget may restart it: a restart
    // gives the caller's process the agent's capabilities.
    let admin = ffi::capable_admin() && asm.registry.caller_agent_id().is_none();
    // A refusal is audited at the user's rate, and names no agent the
    // caller might not see.
    if !admin {
        asm.audit.admit(Source::User(ffi::current_euid()))?;
    }
    let now = ffi::now_ns();
    let result = if admin {
        let (pid, tgid) = PidRef::current().ok_or(ESRCH)?;
        let rcu = RcuGuard::new();
        match asm.registry.get(req.agent_id, &rcu) {
            Some(agent) => asm
                .registry
                .rejoin(agent, &pid, tgid, now)
                .map(|()| lifecycle::joined(asm, &agent, tgid, true, now)),
            None => Err(ESRCH),
        }
    } else {
        Err(EPERM)
    };
    let mut r = Record::new(Kind::Register, REGISTER_RESTART, req.agent_id).result(result);
    let _ = r.write_str("restart");
    if admin {
        let rcu = RcuGuard::new();
        asm.audit
            .append_request(r, asm.registry.get(req.agent_id, &rcu).as_deref());
    } else {
        asm.audit.append_request(r, None);
    }
    result?;
    write(arg, &req)
}

/// An audit entry's text for a registration request.
fn register_detail(r: &mut Record, req: &Register, risk: Risk) {
    r.bytes(text_of(&req.name));
    let _ = write!(r, " risk={} caps=", risk.name());
    policy::write_caps(r, req.capabilities);
    let _ = r.write_str(" scope=");
    r.bytes(text_of(&req.scope));
}

/// The text of a NUL-terminated buffer.
fn text_of(buf: &[u8]) -> &[u8] {
    &buf[..buf.iter().position(|&b| b == 0).unwrap_or(buf.len())]
}

fn unregister(asm: &Asm, arg: UserPtr) -> Result {
    let req: Unregister = read(arg)?;
    check_header::<Unregister>(req.size, req.version)?;
    check_zero(&req.reserved)?;
    if req.flags != 0 {
        return Err(EINVAL);
    }
    let (euid, tgid) = (ffi::current_euid(), ffi::current_tgid());
    let viewer = Viewer::current();
    let admin = ffi::capable_admin();
    // A user's requests are audited at the user's rate: past it, refused
    // before anything changes.
    if !admin {
        asm.audit.admit(Source::User(euid))?;
    }
    // With the sampler held off, a throttled agent is continued and cannot
    // be stopped again before it is gone.
    // A root agent does not forget another agent either: that agent's
    // processes would then be in no agent, free to widen it back.
    let in_agent = asm.registry.caller_agent_id().is_some();
    let result = asm.sampler.exclusive(|_| {
        asm.registry.unregister(
            req.agent_id,
            |agent| {
                // Another user's agent is not there for the caller.
                if !viewer.sees(agent) {
                    return Err(ESRCH);
                }
                // An agent cannot shed its own supervision, nor can another
                // process of its user: the owner may only forget an agent
                // whose processes are gone.
                let own = asm.registry.is_member(agent, tgid, &RcuGuard::new());
                let ended = agent.nr_processes.load(Relaxed) == 0;
                if own || !((admin && !in_agent) || (agent.owner_uid == euid && ended)) {
                    return Err(EPERM);
                }
                resources::release(asm, agent);
                Ok(())
            },
            &asm.telemetry,
        )
    });
    let edges = match result {
        Ok(()) => asm.deps.forget(req.agent_id),
        Err(_) => 0,
    };
    if !matches!(result, Err(e) if e == ESRCH) {
        let r = Record::new(Kind::Unregister, 0, req.agent_id)
            .values(0, edges as u64)
            .result(result);
        asm.audit.append(r, None);
    }
    result
}

fn list(asm: &Asm, arg: UserPtr) -> Result {
    let mut req: List = read(arg)?;
    check_header::<List>(req.size, req.version)?;
    check_zero(&req.reserved)?;
    let agents = snapshot::agents(asm, None, &Viewer::current())?;
    let fits = agents.len().min(req.capacity as usize);
    let mut ids = KVec::with_capacity(fits, GFP_KERNEL)?;
    for a in &agents[..fits] {
        ids.push(a.id, GFP_KERNEL)?;
    }
    let mut out = UserSlice::new(req.ids as UserPtr, fits * size_of::<u32>()).writer();
    for id in &ids {
        out.write(id)?;
    }
    req.count = agents.len() as u32;
    write(arg, &req)?;
    if agents.len() > fits {
        return Err(ERANGE);
    }
    Ok(())
}

fn info(asm: &Asm, arg: UserPtr) -> Result {
    let req: AgentInfo = read(arg)?;
    check_header::<AgentInfo>(req.size, req.version)?;
    check_zero(&req.reserved)?;
    if req.cgroup_id != 0 {
        return Err(EINVAL);
    }
    let agents = snapshot::agents(asm, Some(req.agent_id), &Viewer::current())?;
    let a = agents.first().ok_or(ESRCH)?;
    let out = AgentInfo {
        size: req.size,
        version: req.version,
        agent_id: a.id,
        state: a.state.raw(),
        pid: a.pid,
        owner_uid: a.owner_uid,
        nr_processes: a.nr_processes,
        auto_restart: a.auto_restart,
        restart_count: a.restarts,
        risk_level: a.risk.raw(),
        capabilities: a.capabilities,
        spawns: a.spawns,
        exits: a.exits,
        crashes: a.crashes,
        faults: a.faults,
        execs: a.execs,
        cpu_us: a.cpu_us(),
        mem_bytes: a.mem_bytes,
        last_exit_code: a.last_exit_status,
        registered_ns: a.registered_ns,
        last_activity_ns: a.last_activity_ns,
        name: a.name,
        scope: a.scope,
        cgroup_id: a.cgroup_id,
        reserved: [0; 3],
    };
    write(arg, &out)
}

fn json(asm: &Asm, arg: UserPtr, agent: bool) -> Result {
    let mut req: Json = read(arg)?;
    check_header::<Json>(req.size, req.version)?;
    check_zero(&req.reserved)?;
    let doc = if agent {
        report::agent_json(asm, req.agent_id, &Viewer::current())?
    } else if req.agent_id != 0 {
        return Err(EINVAL);
    } else {
        report::telemetry_json(asm, &Viewer::current())?
    };
    let room = req.len as usize;
    req.len = u32::try_from(doc.len()).map_err(|_| ENOMEM)?;
    if doc.len() > room {
        write(arg, &req)?;
        return Err(ERANGE);
    }
    UserSlice::new(req.buf as UserPtr, doc.len())
        .writer()
        .write_slice(&doc)?;
    write(arg, &req)
}

/// Checks a policy request's fields against its flags; returns the
/// settings it carries (limits, actions) for the target.
fn policy_request(req: &FaultPolicy, defaults: bool) -> Result<Settings> {
    check_header::<FaultPolicy>(req.size, req.version)?;
    check_zero(&req.reserved)?;
    let (limits, actions) = (
        req.flags & FP_SET_LIMITS != 0,
        req.flags & FP_SET_ACTIONS != 0,
    );
    if req.flags & !(FP_SET_LIMITS | FP_SET_ACTIONS) != 0 || !(limits || actions) {
        return Err(EINVAL);
    }
    let mut s = Settings {
        cpu_quota_ms: req.cpu_quota_ms,
        syscall_rate: req.syscall_rate,
        watchdog_ms: req.watchdog_ms,
        mem_limit_bytes: req.mem_limit_bytes,
        actions: req.actions,
    };
    if !limits && (s.cpu_quota_ms | s.syscall_rate | s.watchdog_ms != 0 || s.mem_limit_bytes != 0) {
        return Err(EINVAL);
    }
    if defaults {
        // In the defaults "no limit" is 0.
        for v in [&mut s.cpu_quota_ms, &mut s.syscall_rate, &mut s.watchdog_ms] {
            if *v == LIMIT_NONE32 {
                *v = 0;
            }
        }
        if s.mem_limit_bytes == LIMIT_NONE64 {
            s.mem_limit_bytes = 0;
        }
    }
    match (actions, Preset::try_from(req.preset)?) {
        (false, Preset::None) if s.actions == [0; 8] => {}
        (true, Preset::None) => faults::check_actions(&s.actions, defaults)?,
        (true, p) if s.actions == [0; 8] => s.actions = faults::preset(p).ok_or(EINVAL)?,
        _ => return Err(EINVAL),
    }
    Ok(s)
}

fn set_fault_policy(asm: &Asm, arg: UserPtr) -> Result {
    let req: FaultPolicy = read(arg)?;
    let new = policy_request(&req, req.agent_id == 0)?;
    let (limits, actions) = (
        req.flags & FP_SET_LIMITS != 0,
        req.flags & FP_SET_ACTIONS != 0,
    );
    let apply = |s: &mut Settings| {
        if limits {
            s.cpu_quota_ms = new.cpu_quota_ms;
            s.syscall_rate = new.syscall_rate;
            s.watchdog_ms = new.watchdog_ms;
            s.mem_limit_bytes = new.mem_limit_bytes;
        }
        if actions {
            s.actions = new.actions;
        }
    };
    let admin = ffi::capable_admin();
    let mut r = Record::new(Kind::FaultPolicy, req.flags, req.agent_id);
    if limits {
        let _ = write!(
            r,
            "limits cpu_quota_ms={} syscall_rate={} watchdog_ms={} mem_limit_bytes={} ",
            new.cpu_quota_ms, new.syscall_rate, new.watchdog_ms, new.mem_limit_bytes
        );
    }
    if actions {
        let _ = write!(r, "actions={:?}", &new.actions[1..FAULT_TYPES]);
    }
    if req.agent_id == 0 {
        // The defaults are every agent's: an administrator's from outside
        // every agent, as any widening (`patch::Asker`).
        let result = if admin && asm.registry.caller_agent_id().is_none() {
            asm.faults.update_defaults(apply);
            Ok(())
        } else {
            Err(EPERM)
        };
        asm.audit.append_request(r.result(result), None);
        return result;
    }
    let euid = ffi::current_euid();
    let rcu = RcuGuard::new();
    let agent = Viewer::current()
        .find(&asm.registry, req.agent_id, &rcu)
        .ok_or(ESRCH)?;
    // Who may change what is the patches' rule: its owner may only narrow
    // the agent's limits; anything else is an administrator's from
    // outside every agent.
    let asker = Asker::of(asm, &agent, admin, euid, ffi::current_tgid(), &rcu);
    let result = asm
        .faults
        .update(&agent, apply, |old, new| asker.allows(new.narrows(old)));
    asm.audit.append_request(r.result(result), Some(&agent));
    result
}

fn get_fault_policy(asm: &Asm, arg: UserPtr) -> Result {
    let mut req: FaultPolicy = read(arg)?;
    check_header::<FaultPolicy>(req.size, req.version)?;
    check_zero(&req.reserved)?;
    if req.flags & !FP_EFFECTIVE != 0 || req.preset != 0 {
        return Err(EINVAL);
    }
    let s = if req.agent_id == 0 {
        asm.faults.defaults()
    } else {
        let rcu = RcuGuard::new();
        let agent = Viewer::current()
            .find(&asm.registry, req.agent_id, &rcu)
            .ok_or(ESRCH)?;
        if req.flags & FP_EFFECTIVE != 0 {
            asm.faults.effective(&agent).settings()
        } else {
            asm.faults.own(&agent)
        }
    };
    req.cpu_quota_ms = s.cpu_quota_ms;
    req.syscall_rate = s.syscall_rate;
    req.watchdog_ms = s.watchdog_ms;
    req.mem_limit_bytes = s.mem_limit_bytes;
    req.actions = s.actions;
    write(arg, &req)
}

fn heartbeat(asm: &Asm, arg: UserPtr) -> Result {
    let mut req: Heartbeat = read(arg)?;
    check_header::<Heartbeat>(req.size, req.version)?;
    check_zero(&req.reserved)?;
    if req.flags != 0 || req.agent_id != 0 {
        return Err(EINVAL);
    }
    let (_pid, tgid) = PidRef::current().ok_or(ESRCH)?;
    req.agent_id = {
        let rcu = RcuGuard::new();
        // Only an agent's own processes vouch for it.
        let agent = asm.registry.agent_of(tgid, &rcu).ok_or(ESRCH)?;
        agent.faults.heartbeat(ffi::now_ns());
        agent.id
    };
    write(arg, &req)
}

fn history(asm: &Asm, arg: UserPtr) -> Result {
    let mut req: History = read(arg)?;
    check_header::<History>(req.size, req.version)?;
    check_zero(&req.reserved)?;
    let room = (req.capacity as usize).min(HISTORY_WINDOWS);
    let mut windows = KVec::with_capacity(room, GFP_KERNEL)?;
    let totals = resources::history(asm, req.agent_id, &Viewer::current(), &mut windows, room)?;
    let mut out =
        UserSlice::new(req.windows as UserPtr, windows.len() * size_of::<Window>()).writer();
    for w in &windows {
        out.write(w)?;
    }
    req.count = windows.len() as u32;
    req.window_ms = WINDOW_MS;
    req.cpu_ns = totals.cpu_ns;
    req.syscalls = totals.syscalls;
    req.io_ops = totals.io_ops;
    req.rss_bytes = totals.rss_bytes;
    req.rss_peak_bytes = totals.rss_peak_bytes;
    req.throttled = totals.throttled.into();
    req.reserved0 = 0;
    write(arg, &req)
}

/// Checks a patch request: the fields its op uses are valid, the others
/// zero; returns the change it asks for.
fn check_patch(req: &Patch) -> Result<Change> {
    check_header::<Patch>(req.size, req.version)?;
    check_zero(&req.reserved)?;
    let llm_rate = req.llm_burst != 0 || req.llm_refill != 0;
    if req.reserved0 != 0 || req.audit_seq != 0 || llm_rate && req.op != PatchOp::SetLlmRate.raw() {
        return Err(EINVAL);
    }
    let no_limits =
        req.cpu_quota_ms | req.syscall_rate | req.watchdog_ms == 0 && req.mem_limit_bytes == 0;
    let no_scope = req.scope.iter().all(|&b| b == 0);
    let op = PatchOp::try_from(req.op)?;
    let change = match op {
        PatchOp::AddCapability | PatchOp::RemoveCapability
            if req.value != 0 && req.value & !CAP_ALL == 0 && no_limits && no_scope =>
        {
            Change::Capabilities {
                add: op == PatchOp::AddCapability,
                bits: req.value,
            }
        }
        PatchOp::UpdateScope if req.value == 0 && no_limits => {
            check_scope(&req.scope).map_err(|_| EINVAL)?;
            Change::Scope(req.scope)
        }
        PatchOp::SetAutoRestart if no_limits && no_scope => {
            Change::AutoRestart(u32::try_from(req.value).map_err(|_| EINVAL)?)
        }
        PatchOp::SetLimits if req.value == 0 && no_scope => Change::Limits(Limits {
            cpu_quota_ms: req.cpu_quota_ms,
            syscall_rate: req.syscall_rate,
            watchdog_ms: req.watchdog_ms,
            mem_limit_bytes: req.mem_limit_bytes,
        }),
        PatchOp::SetRisk if no_limits && no_scope => Change::Risk(Risk::try_from(
            u32::try_from(req.value).map_err(|_| EINVAL)?,
        )?),
        PatchOp::SetLlmRate
            if req.value == 0
                && no_limits
                && no_scope
                && (1..=LLM_BURST_MAX).contains(&req.llm_burst)
                && (1..=LLM_REFILL_MAX).contains(&req.llm_refill) =>
        {
            Change::LlmRate {
                burst: req.llm_burst,
                refill_per_s: req.llm_refill,
            }
        }
        _ => return Err(EINVAL),
    };
    Ok(change)
}

fn patch(asm: &Asm, arg: UserPtr) -> Result {
    let mut req: Patch = read(arg)?;
    let change = check_patch(&req)?;
    // Fail on an unwritable argument now, while nothing has changed.
    write(arg, &req)?;
    let admin = ffi::capable_admin();
    let (euid, tgid) = (ffi::current_euid(), ffi::current_tgid());
    let (result, seq) = {
        let rcu = RcuGuard::new();
        let agent = Viewer::current()
            .find(&asm.registry, req.agent_id, &rcu)
            .ok_or(ESRCH)?;
        let asker = Asker::of(asm, &agent, admin, euid, tgid, &rcu);
        let (result, r) = patch::apply(asm, &agent, &change, &asker);
        (
            result,
            asm.audit.append_request(r.result(result), Some(&agent)),
        )
    };
    req.audit_seq = seq;
    write(arg, &req)?;
    result
}

fn get_audit(asm: &Asm, arg: UserPtr) -> Result {
    let mut req: AuditRead = read(arg)?;
    check_header::<AuditRead>(req.size, req.version)?;
    let which = AuditTrail::try_from(req.trail)?;
    let trail = match which {
        AuditTrail::Policy => &asm.audit,
        AuditTrail::Llm => &asm.gateway.audit,
    };
    if req.reserved0 != 0
        || req.count != 0
        || req.first_seq != 0
        || req.next_seq != 0
        || req.dropped != 0
        || req.suppressed != 0
    {
        return Err(EINVAL);
    }
    if !ffi::capable_admin() {
        return Err(EPERM);
    }
    // The LLM trail may hold prompts: no agent reads it, even a root one.
    if which == AuditTrail::Llm && asm.registry.caller_agent_id().is_some() {
        return Err(EPERM);
    }
    let room = (req.capacity as usize).min(trail.capacity());
    let mut out = KVVec::with_capacity(room, GFP_KERNEL)?;
    let span = trail.read(req.from_seq, &mut out);
    let mut w =
        UserSlice::new(req.entries as UserPtr, out.len() * size_of::<AuditEntry>()).writer();
    for e in out.iter() {
        w.write(e)?;
    }
    req.count = out.len() as u32;
    req.first_seq = span.first_seq;
    req.next_seq = span.next_seq;
    req.dropped = span.first_seq;
    req.suppressed = span.suppressed;
    write(arg, &req)
}

fn compliance(asm: &Asm, arg: UserPtr) -> Result {
    let req: Compliance = read(arg)?;
    check_header::<Compliance>(req.size, req.version)?;
    check_zero(&req.reserved)?;
    let agents = snapshot::agents(asm, Some(req.agent_id), &Viewer::current())?;
    let a = agents.first().ok_or(ESRCH)?;
    let out = Compliance {
        size: req.size,
        version: req.version,
        agent_id: a.id,
        risk_level: a.risk.raw(),
        events: a.events,
        violations: a.violations,
        oversight: a.oversight,
        decisions: a.decisions,
        sensitive: a.sensitive,
        clean_exits: a.clean_exits,
        crashes: a.crashes,
        score: a.score,
        status: a.status.raw(),
        llm_requests: a.llm.requests,
        reserved: [0; 1],
    };
    write(arg, &out)
}

/// A note: NUL-terminated printable UTF-8 without control characters.
fn check_note(text: &[u8; NOTE_LEN], empty_ok: bool) -> Result<&[u8]> {
    let len = text.iter().position(|&b| b == 0).ok_or(EINVAL)?;
    let s = core::str::from_utf8(&text[..len]).map_err(|_| EINVAL)?;
    if (len == 0 && !empty_ok) || s.chars().any(|c| c.is_control()) {
        return Err(EINVAL);
    }
    Ok(&text[..len])
}

fn check_note_header(req: &Note) -> Result {
    check_header::<Note>(req.size, req.version)?;
    check_zero(&req.reserved)?;
    if req.audit_seq != 0 {
        return Err(EINVAL);
    }
    Ok(())
}

fn oversight(asm: &Asm, arg: UserPtr) -> Result {
    let mut req: Note = read(arg)?;
    check_note_header(&req)?;
    let kind = Oversight::try_from(req.kind)?;
    let note = check_note(&req.text, true)?;
    write(arg, &req)?;
    let admin = ffi::capable_admin();
    let (euid, tgid) = (ffi::current_euid(), ffi::current_tgid());
    let (result, seq) = {
        let rcu = RcuGuard::new();
        let agent = Viewer::current()
            .find(&asm.registry, req.agent_id, &rcu)
            .ok_or(ESRCH)?;
        // A human's act: not the agent's own, and an administrator's.
        let result = if Asker::of(asm, &agent, admin, euid, tgid, &rcu).widen {
            Ok(())
        } else {
            Err(EPERM)
        };
        if result.is_ok() {
            agent.policy.record.oversight.fetch_add(1, Relaxed);
            if kind == Oversight::Stop
                && asm
                    .registry
                    .ending_if_live(&agent, |ending| ending.begin(Action::Kill))
                    .is_some()
            {
                ffi::sampler_kick();
            }
        }
        let mut r = Record::new(Kind::Oversight, kind.raw(), agent.id).result(result);
        r.bytes(note);
        (result, asm.audit.append_request(r, Some(&agent)))
    };
    req.audit_seq = seq;
    write(arg, &req)?;
    result
}

fn decision(asm: &Asm, arg: UserPtr) -> Result {
    let mut req: Note = read(arg)?;
    check_note_header(&req)?;
    if req.kind != 0 || req.agent_id != 0 {
        return Err(EINVAL);
    }
    let text = check_note(&req.text, false)?;
    write(arg, &req)?;
    let tgid = ffi::current_tgid();
    {
        let rcu = RcuGuard::new();
        // Only an agent's own processes report its decisions.
        let agent = asm.registry.agent_of(tgid, &rcu).ok_or(ESRCH)?;
        let mut r = Record::new(Kind::Decision, 0, agent.id);
        r.bytes(text);
        // An agent reporting in a loop cannot push other entries out: past
        // its rate, the report is refused (EAGAIN) and not counted.
        req.audit_seq = asm
            .audit
            .append_from(r, Some(&agent), Some(Source::reports_of(&agent)))
            .ok_or(EAGAIN)?;
        agent.policy.record.decisions.fetch_add(1, Relaxed);
        req.agent_id = agent.id;
    }
    write(arg, &req)
}

fn sensitive(asm: &Asm, arg: UserPtr) -> Result {
    let mut req: Sensitive = read(arg)?;
    check_header::<Sensitive>(req.size, req.version)?;
    check_zero(&req.reserved)?;
    if req.reserved0 != 0 || req.count != 0 {
        return Err(EINVAL);
    }
    let op = SensitiveOp::try_from(req.op)?;
    match op {
        SensitiveOp::Get => {
            if req.path.iter().any(|&b| b != 0) {
                return Err(EINVAL);
            }
            let (path, count) = asm.policies.sensitive(req.index);
            req.count = count;
            req.path = path.ok_or(ENOENT)?;
            write(arg, &req)
        }
        SensitiveOp::Add | SensitiveOp::Remove => {
            check_scope(&req.path)?;
            if req.index != 0 || req.path[0] == 0 {
                return Err(EINVAL);
            }
            write(arg, &req)?;
            let add = op == SensitiveOp::Add;
            let result = if ffi::capable_admin() {
                asm.policies.mark_sensitive(&req.path, add)
            } else {
                Err(EPERM)
            };
            let mut r = Record::new(Kind::SensitiveSet, req.op, 0).result(result.map(|_| ()));
            r.bytes(text_of(&req.path));
            asm.audit.append_request(r, None);
            req.count = result?;
            write(arg, &req)
        }
    }
}

/// The signals an Optional edge may name: SIGHUP, SIGINT, SIGQUIT,
/// SIGUSR1, SIGUSR2, SIGTERM, SIGWINCH.
const DEP_SIGNALS: [u32; 7] = [1, 2, 3, 10, 12, 15, 28];

fn deps(asm: &Asm, arg: UserPtr) -> Result {
    let mut req: Deps = read(arg)?;
    check_header::<Deps>(req.size, req.version)?;
    if req.count != 0 || req.audit_seq != 0 || req.reserved.iter().any(|&r| r != 0) {
        return Err(EINVAL);
    }
    let op = DepOp::try_from(req.op)?;
    if op == DepOp::List {
        if req.kind != 0 || req.dependent != 0 || req.dependency != 0 || req.signal != 0 {
            return Err(EINVAL);
        }
        return deps_list(asm, arg, req);
    }
    // REMOVE names no kind: its audit entry gets the removed edge's.
    let kind = match op {
        DepOp::Add => Some(DepKind::try_from(req.kind)?),
        _ if req.kind != 0 => return Err(EINVAL),
        _ => None,
    };
    if req.capacity != 0 || req.edges != 0 || req.dependent == req.dependency {
        return Err(EINVAL);
    }
    // Only an Optional edge sends a signal, and only one an agent can
    // catch to learn of its dependency's end.
    if req.signal != 0 && (kind != Some(DepKind::Optional) || !DEP_SIGNALS.contains(&req.signal)) {
        return Err(EINVAL);
    }
    // Fail on an unwritable argument now, while nothing has changed.
    write(arg, &req)?;
    let (dependent, dependency) = (req.dependent, req.dependency);
    let admin = ffi::capable_admin();
    let (euid, tgid) = (ffi::current_euid(), ffi::current_tgid());
    // The registrations asked about, and whether the caller may.
    let (ends, allowed, in_agent) = {
        let rcu = RcuGuard::new();
        let viewer = Viewer::current();
        let find = |id| viewer.find(&asm.registry, id, &rcu).ok_or(ESRCH);
        let (a, b) = (find(dependent)?, find(dependency)?);
        let asker = |agent| Asker::of(asm, agent, admin, euid, tgid, &rcu);
        // An agent does not rewire its team. Adding an edge narrows both
        // agents (the dependent may be stopped with its dependency);
        // removing one widens the dependent.
        let in_agent = asm.registry.agent_of(tgid, &rcu).is_some();
        let allowed = !in_agent
            && match op {
                DepOp::Add => asker(&a).allows(true) && asker(&b).allows(true),
                _ => asker(&a).allows(false),
            };
        let end = |agent: &Agent| End {
            id: agent.id,
            registered_ns: agent.registered_ns,
        };
        ((end(&a), end(&b)), allowed, in_agent)
    };
    // Every change and refusal is audited: a user's (or an agent's, even
    // a root one's) at the user's rate, taken before anything changes.
    if !admin || in_agent {
        asm.audit.admit(Source::User(euid))?;
    }
    let current = |id| asm.registry.registered_ns(id);
    let (result, kind) = match kind {
        _ if !allowed => (Err(EPERM), kind),
        Some(kind) => {
            let edge = Edge {
                dependent: ends.0,
                dependency: ends.1,
                kind,
                signal: req.signal,
                by: (!admin).then_some(euid),
            };
            (asm.deps.add(edge, current), Some(kind))
        }
        None => match asm.deps.remove(dependent, dependency, current) {
            Ok(kind) => (Ok(()), Some(kind)),
            Err(e) => (Err(e), None),
        },
    };
    let r = Record::new(Kind::Dependency, op.raw(), dependent)
        .values(dependency.into(), kind.map_or(0, |k| k.raw().into()))
        .result(result);
    req.audit_seq = {
        let rcu = RcuGuard::new();
        asm.audit
            .append(r, asm.registry.get(dependent, &rcu).as_deref())
    };
    write(arg, &req)?;
    result
}

/// `ASM_DEP_LIST`: the edges whose two agents the caller sees.
fn deps_list(asm: &Asm, arg: UserPtr, mut req: Deps) -> Result {
    let viewer = Viewer::current();
    // The edges of registered agents the caller sees, at both ends.
    let edges = asm.deps.edges(|id| {
        viewer
            .find(&asm.registry, id, &RcuGuard::new())
            .map(|a| a.registered_ns)
    })?;
    let mut w = UserSlice::new(
        req.edges as UserPtr,
        req.capacity as usize * size_of::<DepEdge>(),
    )
    .writer();
    for e in edges.iter().take(req.capacity as usize) {
        w.write(&e.raw())?;
    }
    req.count = edges.len() as u32;
    write(arg, &req)
}

fn profile(asm: &Asm, arg: UserPtr) -> Result {
    let mut req: Profile = read(arg)?;
    check_header::<Profile>(req.size, req.version)?;
    check_zero(&req.reserved)?;
    let outs = [
        req.total,
        req.successes,
        req.kept.into(),
        req.ops.into(),
        req.min_ns,
        req.max_ns,
        req.avg_ns,
        req.p50_ns,
        req.p95_ns,
        req.p99_ns,
    ];
    if outs.iter().any(|&v| v != 0) {
        return Err(EINVAL);
    }
    let cmd = ProfileCmd::try_from(req.cmd)?;
    let op = OpName::parse(&req.op)?;
    if cmd == ProfileCmd::Stats {
        if req.token != 0 || req.duration_ns != 0 || req.success != 0 {
            return Err(EINVAL);
        }
        return profile_stats(asm, arg, req, op);
    }
    if req.agent_id != 0 || req.index != 0 || req.success > 1 {
        return Err(EINVAL);
    }
    // Only an agent's own processes report its operations.
    let tgid = ffi::current_tgid();
    let agent = {
        let rcu = RcuGuard::new();
        asm.registry
            .agent_of(tgid, &rcu)
            .and_then(|a| a.to_arc())
            .ok_or(ESRCH)?
    };
    let duration = match cmd {
        ProfileCmd::Begin => {
            if op.is_some() || req.token != 0 || req.duration_ns != 0 || req.success != 0 {
                return Err(EINVAL);
            }
            req.token = ffi::now_ns();
            return write(arg, &req);
        }
        ProfileCmd::End => {
            let now = ffi::now_ns();
            if req.duration_ns != 0 || req.token == 0 || req.token > now {
                return Err(EINVAL);
            }
            now - req.token
        }
        _ => {
            if req.token != 0 {
                return Err(EINVAL);
            }
            req.duration_ns
        }
    };
    let op = op.ok_or(EINVAL)?;
    if duration > PROFILE_DURATION_MAX {
        return Err(EINVAL);
    }
    if cmd == ProfileCmd::End {
        req.duration_ns = duration;
        // Fail on an unwritable argument now, while nothing is recorded.
        write(arg, &req)?;
    }
    asm.profiler.record(&agent, op, duration, req.success == 1)
}

/// `ASM_PROFILE_STATS`: one agent's operation, or the aggregate of one
/// operation over every agent the caller sees.
fn profile_stats(asm: &Asm, arg: UserPtr, mut req: Profile, op: Option<OpName>) -> Result {
    let viewer = Viewer::current();
    let (name, stats) = if req.agent_id == 0 {
        let op = op.ok_or(EINVAL)?;
        if req.index != 0 {
            return Err(EINVAL);
        }
        // Allocated before RCU; agents registered meanwhile are left out.
        let mut agents = KVVec::with_capacity(asm.registry.len() as usize, GFP_KERNEL)?;
        {
            let rcu = RcuGuard::new();
            let mut from = 0;
            while let Some(agent) = asm.registry.next(&mut from, &rcu) {
                if !viewer.sees(&agent) {
                    continue;
                }
                // Within the capacity: does not allocate.
                if let Some(a) = agent.to_arc() {
                    if agents.push(a, GFP_NOWAIT).is_err() {
                        break;
                    }
                }
            }
        }
        (op, asm.profiler.aggregate(&agents, op)?)
    } else {
        if op.is_some() && req.index != 0 {
            return Err(EINVAL);
        }
        let agent = {
            let rcu = RcuGuard::new();
            viewer
                .find(&asm.registry, req.agent_id, &rcu)
                .and_then(|a| a.to_arc())
                .ok_or(ESRCH)?
        };
        let which = op.map_or(Which::Index(req.index), Which::Name);
        asm.profiler.stats(&agent, which)?
    };
    req.op = name.raw();
    req.total = stats.total;
    req.successes = stats.successes;
    req.kept = stats.kept;
    req.ops = stats.ops;
    req.min_ns = stats.min;
    req.max_ns = stats.max;
    req.avg_ns = stats.avg;
    req.p50_ns = stats.p50;
    req.p95_ns = stats.p95;
    req.p99_ns = stats.p99;
    write(arg, &req)
}

fn llm_request(asm: &Asm, file: FileToken, arg: UserPtr) -> Result<isize> {
    // A request refused before the gateway saw it still counts as failed.
    let req = read::<LlmRequest>(arg)
        .and_then(|req| {
            check_header::<LlmRequest>(req.size, req.version)?;
            check_zero(&req.reserved)?;
            match req.flags {
                0 | LLM_SUBMIT | LLM_COLLECT => Ok(req),
                _ => Err(EINVAL),
            }
        })
        .inspect_err(|_| gateway::count_failure(asm))?;
    match req.flags {
        LLM_SUBMIT => llm_submit(asm, file, req, arg),
        LLM_COLLECT => llm_collect(asm, file, req, arg),
        _ => llm_ask(asm, req, arg),
    }
}

/// A request whose caller waits for the answer.
fn llm_ask(asm: &Asm, mut req: LlmRequest, arg: UserPtr) -> Result<isize> {
    let doc = llm_document(&req)
        .and_then(|doc| match req.response_len < LLM_RESPONSE_MIN {
            true => Err(EINVAL),
            false => Ok(doc),
        })
        .inspect_err(|_| gateway::count_failure(asm))?;
    let (_pid, tgid) = PidRef::current().ok_or(ESRCH)?;
    let mut id = 0;
    let result = gateway::request(asm, tgid, &doc, &mut id);
    req.request_id = id;
    llm_respond(req, arg, result)
}

/// `ASM_LLM_SUBMIT`: queues the request for `file` and returns at once.
fn llm_submit(asm: &Asm, file: FileToken, mut req: LlmRequest, arg: UserPtr) -> Result<isize> {
    let doc = llm_document(&req)
        .and_then(
            |doc| match req.response != 0 || req.response_len != 0 || req.request_id != 0 {
                true => Err(EINVAL),
                false => Ok(doc),
            },
        )
        .inspect_err(|_| gateway::count_failure(asm))?;
    // Fail on an unwritable argument now, before a token is spent.
    write(arg, &req)?;
    let (_pid, tgid) = PidRef::current().ok_or(ESRCH)?;
    req.request_id = gateway::submit(asm, tgid, file, &doc)?;
    req.written = 0;
    write(arg, &req)?;
    Ok(0)
}

/// `ASM_LLM_COLLECT`: the answer to a request submitted through `file`.
fn llm_collect(asm: &Asm, file: FileToken, mut req: LlmRequest, arg: UserPtr) -> Result<isize> {
    if req.request != 0 || req.request_len != 0 || req.response_len < LLM_RESPONSE_MIN {
        return Err(EINVAL);
    }
    // Fail on an unwritable argument now, while the answer is kept.
    write(arg, &req)?;
    let (_pid, tgid) = PidRef::current().ok_or(ESRCH)?;
    let (id, result) = gateway::collect(asm, tgid, file, req.request_id)?;
    req.request_id = id;
    llm_respond(req, arg, result)
}

/// Copies a finished request's response document (or its errno, with
/// its number) out.
fn llm_respond(mut req: LlmRequest, arg: UserPtr, result: Result<KVec<u8>>) -> Result<isize> {
    let response = match result {
        Ok(response) => response,
        Err(e) => {
            req.written = 0;
            // The caller learns the request's number even when it failed.
            let _ = write(arg, &req);
            return Err(e);
        }
    };
    req.written = response.len() as u32;
    if response.len() > req.response_len as usize {
        write(arg, &req)?;
        return Err(ENOSPC);
    }
    UserSlice::new(req.response as UserPtr, response.len())
        .writer()
        .write_slice(&response)?;
    write(arg, &req)?;
    Ok(response.len() as isize)
}

/// The document a request points to, checked.
fn llm_document(req: &LlmRequest) -> Result<KVVec<u8>> {
    let len = req.request_len as usize;
    if len == 0 {
        return Err(EINVAL);
    }
    if len > LLM_REQUEST_MAX {
        return Err(E2BIG);
    }
    let mut doc = KVVec::from_elem(0u8, len, GFP_KERNEL)?;
    UserSlice::new(req.request as UserPtr, len)
        .reader()
        .read_slice(&mut doc)?;
    Ok(doc)
}
