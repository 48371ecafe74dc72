// SPDX-License-Identifier: GPL-2.0

//! What each command does: the requests it makes through `sys`, in which
//! order, and which view of the answer it prints.

use crate::args::{ActionChange, AgentSpec, Command, Limit, LimitChanges, PolicyTarget, Target};
use crate::error::{Error, Op};
use crate::model::{
    Actions, AgentInfo, History, Limits, LimitsView, RecoveryView, Telemetry, TopRow,
};
use crate::render;
use crate::sys::{self, Device, Errno};
use asm_abi::{
    AsmFaultPolicy, AsmRegister, ASM_DEVICE_PATH, ASM_FP_EFFECTIVE, ASM_FP_SET_ACTIONS,
    ASM_FP_SET_LIMITS, ASM_HISTORY_WINDOWS, ASM_LIMIT_NONE32, ASM_LIMIT_NONE64, ASM_PRESET_NONE,
    ASM_TARGET_CGROUP, ASM_TARGET_PID, ASM_TARGET_SELF,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{self, IsTerminal, Write};
use std::os::fd::AsRawFd;
use std::time::Duration;

/// Runs `command`; returns only when it is done (`run` on success does not
/// return: the process has become the agent's command).
pub fn execute(command: Command) -> Result<(), Error> {
    match command {
        Command::Help => print(&crate::args::usage()),
        Command::Status { json } => status(json),
        Command::List { all, json } => list(all, json),
        Command::Info { id, json } => info(id, json),
        Command::Run {
            spec,
            quiet,
            program,
            args,
        } => {
            let dev = open()?;
            let id = register(&dev, &spec, &Target::Caller)?;
            if spec.id == 0 && !quiet {
                eprintln!("asmctl: agent {id}");
            }
            // The command gets no handle on its supervisor (the fd is
            // O_CLOEXEC as well; this also covers a failed exec).
            drop(dev);
            let errno = sys::exec(&program, &args);
            Err(Error::Exec(format!(
                "cannot run '{}': {errno}",
                program.to_string_lossy()
            )))
        }
        Command::Register { spec, target } => {
            let dev = open()?;
            let id = register(&dev, &spec, &target)?;
            print(&format!("{id}\n"))
        }
        Command::Unregister { id } => open()?
            .unregister(id)
            .map_err(|e| Op::Unregister(id).fail(e)),
        Command::History { id, json } => history(id, json),
        Command::Top {
            once,
            interval,
            json,
        } => top(once, interval, json),
        Command::Limits {
            target,
            changes,
            json,
        } => limits(target, &changes, json),
        Command::Recovery {
            target,
            change,
            json,
        } => recovery(target, change, json),
        Command::Heartbeat => {
            let id = open()?.heartbeat().map_err(|e| Op::Heartbeat.fail(e))?;
            print(&format!("heartbeat: agent {id}\n"))
        }
    }
}

/// Writes `text` to stdout. A closed pipe (`asmlist | head -1`) is not an
/// error worth reporting; anything else is.
fn print(text: &str) -> Result<(), Error> {
    write_out(text).map(|_| ())
}

/// Writes `text` to stdout; `Ok(false)` if the reader has gone away, which
/// tells a live view to stop.
fn write_out(text: &str) -> Result<bool, Error> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(Error::Failed(format!("cannot write output: {e}"))),
    }
}

/// The `--json` rendering of a view asmctl built itself.
fn print_json(view: &impl Serialize) -> Result<(), Error> {
    // The views are plain structs with string keys: serializing them
    // cannot fail, but a Result costs nothing.
    let doc = serde_json::to_value(view)
        .map_err(|e| Error::Failed(format!("cannot render JSON: {e}")))?;
    print(&render::json(&doc))
}

fn open() -> Result<Device, Error> {
    Device::open().map_err(|e| Op::Open.fail(e))
}

/// Parses a document the module wrote.
fn parse_doc(bytes: &[u8]) -> Result<Value, Error> {
    serde_json::from_slice(bytes).map_err(malformed)
}

fn malformed(e: serde_json::Error) -> Error {
    Error::Failed(format!("malformed JSON from {ASM_DEVICE_PATH}: {e}"))
}

fn status(json: bool) -> Result<(), Error> {
    let bytes = open()?
        .telemetry_json()
        .map_err(|e| Op::Telemetry.fail(e))?;
    let doc = parse_doc(&bytes)?;
    if json {
        return print(&render::json(&doc));
    }
    let telemetry = Telemetry::deserialize(&doc).map_err(malformed)?;
    print(&render::status(&telemetry))
}

fn list(all: bool, json: bool) -> Result<(), Error> {
    let dev = open()?;
    let ids = dev.list().map_err(|e| Op::List.fail(e))?;
    if json {
        let mut docs = Vec::new();
        for id in ids {
            // An agent unregistered since LIST is simply no longer listed.
            let bytes = match dev.agent_info_json(id) {
                Err(Errno(libc::ESRCH)) => continue,
                other => other.map_err(|e| Op::Info(id).fail(e))?,
            };
            let doc = parse_doc(&bytes)?;
            if AgentInfo::deserialize(&doc).map_err(malformed)?.listed(all) {
                docs.push(doc);
            }
        }
        return print(&render::json(&Value::Array(docs)));
    }
    let mut agents = Vec::new();
    for id in ids {
        match dev.info(id) {
            Ok(raw) => agents.push(AgentInfo::from(&raw)),
            // Unregistered since LIST: no longer listed.
            Err(Errno(libc::ESRCH)) => {}
            Err(e) => return Err(Op::Info(id).fail(e)),
        }
    }
    agents.retain(|a| a.listed(all));
    print(&render::list(&agents, all))
}

fn info(id: u32, json: bool) -> Result<(), Error> {
    let bytes = open()?
        .agent_info_json(id)
        .map_err(|e| Op::Info(id).fail(e))?;
    let doc = parse_doc(&bytes)?;
    if json {
        return print(&render::json(&doc));
    }
    let agent = AgentInfo::deserialize(&doc).map_err(malformed)?;
    let now = sys::boottime_ns().map_err(|e| Op::Clock.fail(e))?;
    print(&render::info(&agent, now))
}

fn history(id: u32, json: bool) -> Result<(), Error> {
    let (raw, windows) = open()?
        .history(id, ASM_HISTORY_WINDOWS)
        .map_err(|e| Op::History(id).fail(e))?;
    let history = History::new(&raw, &windows);
    if json {
        return print_json(&history);
    }
    print(&render::history(&history))
}

/// What ANSI terminals take as "cursor home, clear screen".
const CLEAR_SCREEN: &str = "\x1b[H\x1b[2J";

fn top(once: bool, interval: Duration, json: bool) -> Result<(), Error> {
    let dev = open()?;
    if json {
        return print_json(&top_rows(&dev)?);
    }
    if once {
        return print(&render::top(&top_rows(&dev)?));
    }
    // Redraw in place for a person; a pipe or a file gets one frame after
    // another, without escape sequences in the way.
    let tty = io::stdout().is_terminal();
    let heading = format!("Every {} s; Ctrl-C quits.\n\n", interval.as_secs_f64());
    loop {
        let frame = render::top(&top_rows(&dev)?);
        let text = if tty {
            format!("{CLEAR_SCREEN}{heading}{frame}")
        } else {
            format!("{heading}{frame}\n")
        };
        if !write_out(&text)? {
            return Ok(());
        }
        std::thread::sleep(interval);
    }
}

/// One `top` row per registered agent; one that goes away between the
/// requests is left out, as `list` does.
fn top_rows(dev: &Device) -> Result<Vec<TopRow>, Error> {
    let ids = dev.list().map_err(|e| Op::List.fail(e))?;
    let mut rows = Vec::new();
    for id in ids {
        let info = match dev.info(id) {
            Ok(info) => info,
            Err(Errno(libc::ESRCH)) => continue,
            Err(e) => return Err(Op::Info(id).fail(e)),
        };
        // The newest window is all a row shows.
        let (raw, windows) = match dev.history(id, 1) {
            Ok(reply) => reply,
            Err(Errno(libc::ESRCH)) => continue,
            Err(e) => return Err(Op::History(id).fail(e)),
        };
        rows.push(TopRow::new(&info, &History::new(&raw, &windows)));
    }
    Ok(rows)
}

fn limits(target: PolicyTarget, changes: &LimitChanges, json: bool) -> Result<(), Error> {
    let dev = open()?;
    let id = target.id();
    // An agent's own values: 0 and ASM_LIMIT_NONE* as set, not resolved.
    let current = dev
        .fault_policy(id, 0)
        .map_err(|e| Op::GetPolicy(id).fail(e))?;
    if changes.is_empty() {
        let view = match target {
            PolicyTarget::Agent(_) => {
                let effective = dev
                    .fault_policy(id, ASM_FP_EFFECTIVE)
                    .map_err(|e| Op::GetPolicy(id).fail(e))?;
                LimitsView {
                    agent_id: id,
                    limits: Limits::own(&current),
                    effective: Some(Limits::resolved(&effective)),
                }
            }
            PolicyTarget::Defaults => LimitsView {
                agent_id: 0,
                limits: Limits::resolved(&current),
                effective: None,
            },
        };
        return if json {
            print_json(&view)
        } else {
            print(&render::limits(&view))
        };
    }
    // SET_LIMITS takes all four limits: the ones not given go back as they
    // were read. Another change between the two calls is lost, as with any
    // read-modify-write of a setting.
    dev.set_fault_policy(&limits_request(target, &current, changes))
        .map_err(|e| Op::SetLimits(id).fail(e))
}

/// The SET_LIMITS request: `current` (as GET without ASM_FP_EFFECTIVE
/// returned it) with `changes` applied in the encoding `target` uses.
/// `preset` and `actions` stay zero: the module rejects a request whose
/// fields outside its flags are not.
fn limits_request(
    target: PolicyTarget,
    current: &AsmFaultPolicy,
    changes: &LimitChanges,
) -> AsmFaultPolicy {
    let agent = matches!(target, PolicyTarget::Agent(_));
    let raw = |change: Option<Limit>, current: u64, none: u64| match change {
        None => current,
        Some(Limit::Default) => 0,
        Some(Limit::Unlimited) if agent => none,
        Some(Limit::Unlimited) => 0,
        Some(Limit::Value(v)) => v,
    };
    // args.rs keeps the 32-bit limits below ASM_LIMIT_NONE32, so the
    // fallback never applies.
    let raw32 = |change: Option<Limit>, current: u32| {
        u32::try_from(raw(change, current.into(), ASM_LIMIT_NONE32.into()))
            .unwrap_or(ASM_LIMIT_NONE32)
    };
    let mut req = AsmFaultPolicy::new(target.id(), ASM_FP_SET_LIMITS);
    req.cpu_quota_ms = raw32(changes.cpu_quota_ms, current.cpu_quota_ms);
    req.syscall_rate = raw32(changes.syscall_rate, current.syscall_rate);
    req.watchdog_ms = raw32(changes.watchdog_ms, current.watchdog_ms);
    req.mem_limit_bytes = raw(
        changes.mem_limit_bytes,
        current.mem_limit_bytes,
        ASM_LIMIT_NONE64,
    );
    req
}

fn recovery(target: PolicyTarget, change: Option<ActionChange>, json: bool) -> Result<(), Error> {
    let dev = open()?;
    let id = target.id();
    let get = |flags| {
        dev.fault_policy(id, flags)
            .map_err(|e| Op::GetPolicy(id).fail(e))
    };
    let req = match change {
        None => {
            let current = get(0)?;
            let view = match target {
                PolicyTarget::Agent(_) => RecoveryView {
                    agent_id: id,
                    actions: Actions(current.actions),
                    effective: Some(Actions(get(ASM_FP_EFFECTIVE)?.actions)),
                },
                PolicyTarget::Defaults => RecoveryView {
                    agent_id: 0,
                    actions: Actions(current.actions),
                    effective: None,
                },
            };
            return if json {
                print_json(&view)
            } else {
                print(&render::recovery(&view))
            };
        }
        Some(ActionChange::Preset(preset)) => {
            let mut req = AsmFaultPolicy::new(id, ASM_FP_SET_ACTIONS);
            req.preset = preset;
            req
        }
        // SET_ACTIONS takes every action: the faults not given keep what
        // they have.
        Some(ActionChange::Actions(changes)) => actions_request(id, &get(0)?, &changes),
    };
    dev.set_fault_policy(&req)
        .map_err(|e| Op::SetActions(id).fail(e))
}

/// The SET_ACTIONS request: `current`'s actions with `changes` applied;
/// the limits stay zero, as outside the flags they must.
fn actions_request(id: u32, current: &AsmFaultPolicy, changes: &[(u32, u8)]) -> AsmFaultPolicy {
    let mut req = AsmFaultPolicy::new(id, ASM_FP_SET_ACTIONS);
    req.preset = ASM_PRESET_NONE;
    req.actions = current.actions;
    for &(fault, action) in changes {
        if let Some(slot) = req.actions.get_mut(fault as usize) {
            *slot = action;
        }
    }
    // Slots that are no fault type must be 0, whatever GET said.
    req.actions[0] = 0;
    req.actions[7] = 0;
    req
}

/// `ASM_IOC_REGISTER` of `target` as `spec` says; returns the agent's id.
fn register(dev: &Device, spec: &AgentSpec, target: &Target) -> Result<u32, Error> {
    let mut req = request(spec)?;
    // Held until the ioctl is done: the kernel resolves the fd during it.
    let cgroup = match target {
        Target::Caller => {
            req.target = ASM_TARGET_SELF;
            None
        }
        Target::Pid(pid) => {
            req.target = ASM_TARGET_PID;
            req.pid = *pid;
            None
        }
        Target::Cgroup(path) => {
            let fd = sys::open_dir(path).map_err(|e| Op::OpenCgroup(path).fail(e))?;
            req.target = ASM_TARGET_CGROUP;
            req.cgroup_fd = fd.as_raw_fd();
            Some(fd)
        }
    };
    dev.register(&mut req)
        .map_err(|e| Op::Register(target, spec.id).fail(e))?;
    drop(cgroup);
    Ok(req.agent_id)
}

/// The part of the request that does not depend on the target.
fn request(spec: &AgentSpec) -> Result<AsmRegister, Error> {
    let mut req = AsmRegister::new();
    req.agent_id = spec.id;
    req.capabilities = spec.capabilities;
    req.auto_restart = spec.auto_restart;
    // args.rs bounded both lengths already; NUL cannot come from argv.
    req.set_name(spec.name.as_bytes())
        .map_err(|e| Error::Usage(format!("agent name {e}")))?;
    req.set_scope(spec.scope.as_bytes())
        .map_err(|e| Error::Usage(format!("scope {e}")))?;
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use asm_abi::{
        ASM_ACTION_DEFAULT, ASM_ACTION_KILL, ASM_ACTION_LOG, ASM_ACTION_RESTART,
        ASM_ACTION_THROTTLE, ASM_CAP_ADMIN, ASM_CAP_NET_CLIENT, ASM_FAULT_CRASH, ASM_FAULT_MEMORY,
    };

    fn policy(id: u32) -> AsmFaultPolicy {
        let mut p = AsmFaultPolicy::new(id, 0);
        p.cpu_quota_ms = 300;
        p.mem_limit_bytes = 0;
        p.syscall_rate = ASM_LIMIT_NONE32;
        p.watchdog_ms = 0;
        p.actions = [0, 2, 3, 2, 4, 3, 4, 0];
        p
    }

    #[test]
    fn limits_request_changes_only_what_was_given() {
        let changes = LimitChanges {
            mem_limit_bytes: Some(Limit::Value(1 << 30)),
            watchdog_ms: Some(Limit::Unlimited),
            ..LimitChanges::default()
        };
        let req = limits_request(PolicyTarget::Agent(100), &policy(100), &changes);
        assert_eq!((req.size, req.version, req.agent_id), (80, 1, 100));
        assert_eq!(req.flags, ASM_FP_SET_LIMITS);
        assert_eq!(
            (
                req.cpu_quota_ms,
                req.mem_limit_bytes,
                req.syscall_rate,
                req.watchdog_ms
            ),
            (300, 1 << 30, ASM_LIMIT_NONE32, ASM_LIMIT_NONE32)
        );
        // Nothing the flags do not cover is sent.
        assert_eq!((req.preset, req.actions, req.reserved), (0, [0; 8], [0; 4]));

        // "none" is 0 in the defaults; "default" is 0 for an agent.
        let changes = LimitChanges {
            cpu_quota_ms: Some(Limit::Unlimited),
            mem_limit_bytes: Some(Limit::Unlimited),
            ..LimitChanges::default()
        };
        let req = limits_request(PolicyTarget::Defaults, &policy(0), &changes);
        assert_eq!(
            (req.agent_id, req.cpu_quota_ms, req.mem_limit_bytes),
            (0, 0, 0)
        );
        let changes = LimitChanges {
            cpu_quota_ms: Some(Limit::Default),
            mem_limit_bytes: Some(Limit::Unlimited),
            ..LimitChanges::default()
        };
        let req = limits_request(PolicyTarget::Agent(5), &policy(5), &changes);
        assert_eq!(
            (req.cpu_quota_ms, req.mem_limit_bytes),
            (0, ASM_LIMIT_NONE64)
        );
    }

    #[test]
    fn actions_request_keeps_the_other_faults() {
        let mut current = policy(100);
        // A module that left something in the unused slots.
        current.actions[7] = 9;
        let req = actions_request(
            100,
            &current,
            &[
                (ASM_FAULT_MEMORY, ASM_ACTION_LOG),
                (ASM_FAULT_CRASH, ASM_ACTION_DEFAULT),
            ],
        );
        assert_eq!(
            (req.flags, req.preset),
            (ASM_FP_SET_ACTIONS, ASM_PRESET_NONE)
        );
        assert_eq!(
            req.actions,
            [
                0,
                ASM_ACTION_THROTTLE,
                ASM_ACTION_LOG,
                ASM_ACTION_THROTTLE,
                ASM_ACTION_DEFAULT,
                ASM_ACTION_KILL,
                ASM_ACTION_RESTART,
                0
            ]
        );
        assert_eq!((req.cpu_quota_ms, req.mem_limit_bytes), (0, 0));
    }

    #[test]
    fn register_request_from_spec() {
        let spec = AgentSpec {
            name: "net_agent".into(),
            id: 101,
            capabilities: ASM_CAP_NET_CLIENT | ASM_CAP_ADMIN,
            scope: "/srv/x".into(),
            auto_restart: 2,
        };
        let req = request(&spec).unwrap();
        assert_eq!((req.size, req.version), (360, 1));
        assert_eq!(req.agent_id, 101);
        assert_eq!(req.capabilities, ASM_CAP_NET_CLIENT | ASM_CAP_ADMIN);
        assert_eq!(req.auto_restart, 2);
        assert_eq!(&req.name[..10], b"net_agent\0");
        assert_eq!(&req.scope[..7], b"/srv/x\0");
        assert_eq!(
            (req.target, req.pid, req.cgroup_fd, req.flags),
            (0, 0, 0, 0)
        );
        assert_eq!(req.reserved, [0; 4]);
    }
}
