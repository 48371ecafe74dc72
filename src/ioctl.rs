// SPDX-License-Identifier: GPL-2.0

//! The /dev/asm ioctls: copy the request in, validate every field before
//! anything changes, act, copy the result out. Documentation/uapi.rst lists
//! the errnos.

use core::mem::size_of;
use kernel::prelude::*;
use kernel::types::{AsBytes, FromBytes};
use kernel::uaccess::{UserPtr, UserSlice};

use crate::faults::{self, Settings};
use crate::ffi::{self, PidRef, RcuGuard};
use crate::registry::{Spec, Target};
use crate::report;
use crate::resources;
use crate::snapshot;
use crate::uapi::*;
use crate::Asm;

/// Handles one ioctl; returns the value the syscall returns.
pub(crate) fn dispatch(asm: &Asm, cmd: u32, arg: UserPtr) -> Result<isize> {
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
/// characters, NUL-terminated.
fn check_scope(scope: &[u8; SCOPE_LEN]) -> Result {
    let len = scope.iter().position(|&b| b == 0).ok_or(EINVAL)?;
    let text = core::str::from_utf8(&scope[..len]).map_err(|_| EINVAL)?;
    if len > 0 && (!text.starts_with('/') || text.chars().any(|c| c.is_control())) {
        return Err(EINVAL);
    }
    Ok(())
}

fn register(asm: &Asm, arg: UserPtr) -> Result {
    let mut req: Register = read(arg)?;
    check_header::<Register>(req.size, req.version)?;
    check_zero(&req.reserved)?;
    if req.flags != 0 || req.capabilities & !CAP_ALL != 0 || req.agent_id > ID_MAX {
        return Err(EINVAL);
    }
    check_name(&req.name)?;
    check_scope(&req.scope)?;
    match req.target {
        TARGET_SELF if req.pid == 0 && req.cgroup_fd == 0 => {}
        TARGET_PID if req.pid > 0 && req.cgroup_fd == 0 => {}
        TARGET_CGROUP if req.pid == 0 => {}
        _ => return Err(EINVAL),
    }
    let privileged = req.target != TARGET_SELF || req.capabilities & CAP_ADMIN != 0;
    if privileged && !ffi::capable_admin() {
        return Err(EPERM);
    }
    // Fail on an unwritable argument now, while nothing has changed.
    write(arg, &req)?;

    // The registered process's number in the caller's namespace, taken now
    // so that nothing can fail once the agent exists.
    let (target, vnr) = match req.target {
        TARGET_SELF => {
            let (pid, tgid) = PidRef::current().ok_or(ESRCH)?;
            let vnr = pid.vnr();
            (Target::Process(pid, tgid), vnr)
        }
        TARGET_PID => {
            let (pid, tgid) = PidRef::find(req.pid).ok_or(ESRCH)?;
            let vnr = pid.vnr();
            (Target::Process(pid, tgid), vnr)
        }
        _ => (Target::Cgroup(ffi::cgroup_id_from_fd(req.cgroup_fd)?), 0),
    };
    let spec = Spec {
        id: req.agent_id,
        name: req.name,
        scope: req.scope,
        capabilities: req.capabilities,
        auto_restart: req.auto_restart,
        owner_uid: ffi::current_euid(),
    };
    let id = asm.registry.register(spec, target, &asm.telemetry)?;
    req.agent_id = id;
    req.pid = vnr;
    if let Err(e) = write(arg, &req) {
        // The caller cannot learn the id (its buffer went away since the
        // check above): the call fails and changes nothing.
        let _ = asm.registry.unregister(id, |_| true, &asm.telemetry);
        return Err(e);
    }
    Ok(())
}

fn unregister(asm: &Asm, arg: UserPtr) -> Result {
    let req: Unregister = read(arg)?;
    check_header::<Unregister>(req.size, req.version)?;
    check_zero(&req.reserved)?;
    if req.flags != 0 {
        return Err(EINVAL);
    }
    let euid = ffi::current_euid();
    // With the sampler held off, a throttled agent is continued and cannot
    // be stopped again before it is gone.
    asm.sampler.exclusive(|| {
        asm.registry.unregister(
            req.agent_id,
            |agent| {
                let allowed = agent.owner_uid == euid || ffi::capable_admin();
                if allowed {
                    resources::release(asm, agent);
                }
                allowed
            },
            &asm.telemetry,
        )
    })
}

fn list(asm: &Asm, arg: UserPtr) -> Result {
    let mut req: List = read(arg)?;
    check_header::<List>(req.size, req.version)?;
    check_zero(&req.reserved)?;
    let agents = snapshot::agents(asm, None)?;
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
    let agents = snapshot::agents(asm, Some(req.agent_id))?;
    let a = agents.first().ok_or(ESRCH)?;
    let out = AgentInfo {
        size: req.size,
        version: req.version,
        agent_id: a.id,
        state: a.state as u32,
        pid: a.pid,
        owner_uid: a.owner_uid,
        nr_processes: a.nr_processes,
        auto_restart: a.auto_restart,
        restart_count: a.restarts,
        reserved0: 0,
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
        reserved: [0; 4],
    };
    write(arg, &out)
}

fn json(asm: &Asm, arg: UserPtr, agent: bool) -> Result {
    let mut req: Json = read(arg)?;
    check_header::<Json>(req.size, req.version)?;
    check_zero(&req.reserved)?;
    let doc = if agent {
        report::agent_json(asm, req.agent_id)?
    } else if req.agent_id != 0 {
        return Err(EINVAL);
    } else {
        report::telemetry_json(asm)?
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
    let (limits, actions) = (req.flags & FP_SET_LIMITS != 0, req.flags & FP_SET_ACTIONS != 0);
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
    match (actions, req.preset) {
        (false, PRESET_NONE) if s.actions == [0; 8] => {}
        (true, PRESET_NONE) => faults::check_actions(&s.actions, defaults)?,
        (true, p) if s.actions == [0; 8] => s.actions = faults::preset(p).ok_or(EINVAL)?,
        _ => return Err(EINVAL),
    }
    Ok(s)
}

fn set_fault_policy(asm: &Asm, arg: UserPtr) -> Result {
    let req: FaultPolicy = read(arg)?;
    let new = policy_request(&req, req.agent_id == 0)?;
    let (limits, actions) = (req.flags & FP_SET_LIMITS != 0, req.flags & FP_SET_ACTIONS != 0);
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
    if req.agent_id == 0 {
        if !admin {
            return Err(EPERM);
        }
        asm.faults.update_defaults(apply);
        return Ok(());
    }
    let euid = ffi::current_euid();
    let rcu = RcuGuard::new();
    let agent = asm.registry.get(req.agent_id, &rcu).ok_or(ESRCH)?;
    // Its owner may only narrow the agent's limits; anything else is the
    // administrator's.
    asm.faults.update(agent, apply, |old, new| {
        admin || (agent.owner_uid == euid && new.narrows(old))
    })
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
        let agent = asm.registry.get(req.agent_id, &rcu).ok_or(ESRCH)?;
        if req.flags & FP_EFFECTIVE != 0 {
            asm.faults.effective(agent).settings()
        } else {
            asm.faults.own(agent)
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
    let totals = resources::history(asm, req.agent_id, &mut windows, room)?;
    let mut out = UserSlice::new(req.windows as UserPtr, windows.len() * size_of::<Window>()).writer();
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
