// SPDX-License-Identifier: GPL-2.0

//! What each command does: the requests it makes through `sys`, in which
//! order, and which view of the answer it prints.

use crate::args::{
    ActionChange, AgentSpec, Command, DepsAction, Limit, LimitChanges, LlmRequest, PatchChange,
    PolicyTarget, ProfileAction, SensitiveChange, Target, Trail,
};
use crate::deps::Graph;
use crate::error::{Error, Op};
use crate::model::{
    audit_records, Actions, AgentDeps, AgentInfo, AuditRecord, AuditTrail, AuditView,
    ComplianceReport, DepChangeView, DepsView, History, Limits, LimitsView, LlmOnly, PolicyView,
    RecoveryView, SensitiveView, Telemetry, TopRow,
};
use crate::profile::{agent_ops, slowest, OpProfile};
use crate::render;
use crate::sys::{self, Device, Errno};
use asm_abi::{
    verify_audit_chain, AsmAuditEntry, AsmAuditRead, AsmFaultPolicy, AsmLlmRequest, AsmNote,
    AsmPatch, AsmRegister, AsmSensitive, ASM_AUDIT_ENTRIES, ASM_AUDIT_LLM_ENTRIES,
    ASM_AUDIT_TRAIL_POLICY, ASM_CAP_ADMIN, ASM_DEVICE_PATH, ASM_FP_EFFECTIVE, ASM_FP_SET_ACTIONS,
    ASM_FP_SET_LIMITS, ASM_HISTORY_WINDOWS, ASM_LIMIT_NONE32, ASM_LIMIT_NONE64,
    ASM_LLM_REQUEST_MAX, ASM_OVERSIGHT_APPROVE, ASM_OVERSIGHT_REJECT, ASM_OVERSIGHT_REVIEW,
    ASM_OVERSIGHT_STOP, ASM_PATCH_ADD_CAPABILITY, ASM_PATCH_REMOVE_CAPABILITY,
    ASM_PATCH_SET_AUTO_RESTART, ASM_PATCH_SET_LIMITS, ASM_PATCH_SET_LLM_RATE, ASM_PATCH_SET_RISK,
    ASM_PATCH_UPDATE_SCOPE, ASM_PRESET_NONE, ASM_SENSITIVE_ADD, ASM_SENSITIVE_GET,
    ASM_SENSITIVE_MAX, ASM_SENSITIVE_REMOVE, ASM_TARGET_CGROUP, ASM_TARGET_PID, ASM_TARGET_SELF,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{self, IsTerminal, Write};
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Runs `command`; returns only when it is done (`run` on success does not
/// return: it exits with the agent's status).
pub fn execute(command: Command) -> Result<(), Error> {
    match command {
        Command::Monitor(filter) => crate::monitor::run(&filter, &mut write_out),
        Command::Metrics {
            listen: None,
            openmetrics,
            ..
        } => {
            let format = if openmetrics {
                crate::metrics::Format::OpenMetrics
            } else {
                crate::metrics::Format::Prometheus
            };
            print(&crate::metrics::text(&open()?, format)?)
        }
        Command::Metrics {
            listen: Some(addr),
            every_agent,
            ..
        } => {
            // The module shows the exporter's view: root's is every agent,
            // which anyone who can connect would then see.
            // SAFETY: geteuid has no preconditions and cannot fail.
            if unsafe { libc::geteuid() } == 0 && !every_agent {
                return Err(Error::Usage(format!(
                    "as root, --listen {addr} would serve every agent's figures to whoever \
                     can connect to it: run the exporter as the user whose agents it should \
                     show, or add --every-agent"
                )));
            }
            crate::metrics::serve(addr)
        }
        Command::Completions(shell, name) => {
            let mut out = Vec::new();
            crate::args::write_completions(shell, name.as_deref(), &mut out);
            print(&String::from_utf8_lossy(&out))
        }
        Command::Manpages(dir) => crate::args::write_man_pages(&dir)
            .map_err(|e| Error::Failed(format!("writing the man pages to {}: {e}", dir.display()))),
        Command::Status { json } => status(json),
        Command::List { all, json } => list(all, json),
        Command::Info { id, json } => info(id, json),
        Command::Run(launch) => crate::supervise::run(launch),
        Command::Register { spec, target, json } => {
            let dev = open()?;
            let id = register(&dev, &spec, &target)?;
            if json {
                return print(&render::json(&serde_json::json!({ "agent_id": id })));
            }
            print(&format!("{id}\n"))
        }
        Command::Unregister { id, json } => {
            open()?
                .unregister(id)
                .map_err(|e| Op::Unregister(id).fail(e))?;
            if json {
                let done = serde_json::json!({ "agent_id": id, "unregistered": true });
                return print(&render::json(&done));
            }
            Ok(())
        }
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
        Command::Heartbeat { json } => {
            let id = open()?.heartbeat().map_err(|e| Op::Heartbeat.fail(e))?;
            if json {
                return print(&render::json(&serde_json::json!({ "agent_id": id })));
            }
            print(&format!("heartbeat: agent {id}\n"))
        }
        Command::Patch { id, change, json } => patch(id, &change, json),
        Command::Audit {
            trail,
            from,
            json,
            export,
        } => audit(trail, from, json, export.as_deref()),
        Command::AuditVerify { trail, file } => audit_verify(trail, file.as_deref()),
        Command::Oversight {
            id,
            action,
            note,
            json,
        } => oversight(id, action, &note, json),
        Command::Decision { text, json } => decision(&text, json),
        Command::Sensitive { change, json } => sensitive(change, json),
        Command::Deps { action, json } => deps(action, json),
        Command::Profile { action, json } => profile(action, json),
        Command::Compliance { json, min_score } => compliance(json, min_score),
        Command::Policy { id, json } => policy(id, json),
        Command::Llm { request, json } => llm(&request, json),
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
    let dev = open()?;
    let bytes = dev.agent_info_json(id).map_err(|e| Op::Info(id).fail(e))?;
    let doc = parse_doc(&bytes)?;
    if json {
        return print(&render::json(&doc));
    }
    let mut agent = AgentInfo::deserialize(&doc).map_err(malformed)?;
    // A document without the risk level: GET_INFO has it (unless the
    // module is older than risk levels; asminfo then shows none).
    if agent.risk_level.is_none() {
        if let Ok(raw) = dev.info(id) {
            agent.risk_level = AgentInfo::from(&raw).risk_level;
        }
    }
    // A module from before the dependency graph does not know the
    // request: asminfo then shows no dependency lines.
    agent.deps = match dev.dep_list() {
        Ok(edges) => Some(AgentDeps::of(&Graph::new(&edges), id)),
        Err(Errno(libc::ENOTTY)) => None,
        Err(e) => return Err(Op::DepList.fail(e)),
    };
    // Nor profiling: then no slowest operations.
    agent.slowest = match dev.profile_ops(id) {
        Ok(ops) => Some(slowest(&ops, SLOWEST_SHOWN)),
        Err(Errno(libc::ENOTTY)) => None,
        Err(e) => {
            return Err(Op::ProfileStats {
                agent: id,
                op: None,
            }
            .fail(e))
        }
    };
    let now = sys::boottime_ns().map_err(|e| Op::Clock.fail(e))?;
    print(&render::info(&agent, now))
}

/// How many operations asminfo shows under "Slowest Operations".
const SLOWEST_SHOWN: usize = 3;

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
    if json && once {
        return print_json(&top_rows(&dev)?);
    }
    if once {
        return print(&render::top(&top_rows(&dev)?));
    }
    if json {
        // A frame a line: each is the document of `top --json --once`.
        loop {
            let frame = serde_json::to_string(&top_rows(&dev)?)
                .map_err(|e| Error::Failed(format!("cannot render JSON: {e}")))?;
            if !write_out(&format!("{frame}\n"))? {
                return Ok(());
            }
            std::thread::sleep(interval);
        }
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
/// requests is left out, as `list` does. The LLM figures come from the
/// agent document (GET_INFO has none).
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
        let llm = match dev.agent_info_json(id) {
            Ok(bytes) => {
                serde_json::from_slice::<LlmOnly>(&bytes)
                    .map_err(malformed)?
                    .llm
            }
            Err(Errno(libc::ESRCH)) => continue,
            Err(e) => return Err(Op::Info(id).fail(e)),
        };
        rows.push(TopRow::new(
            &info,
            &History::new(&raw, &windows),
            llm.as_ref(),
        ));
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
        .map_err(|e| Op::SetLimits(id).fail(e))?;
    // The result of the change: the limits as they are now.
    if json {
        return limits(target, &LimitChanges::default(), true);
    }
    Ok(())
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
        .map_err(|e| Op::SetActions(id).fail(e))?;
    // The result of the change: the actions as they are now.
    if json {
        return recovery(target, None, true);
    }
    Ok(())
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
pub(crate) fn register(dev: &Device, spec: &AgentSpec, target: &Target) -> Result<u32, Error> {
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
        .map_err(|e| Op::Register(target, spec.id, spec.risk_level).fail(e))?;
    drop(cgroup);
    Ok(req.agent_id)
}

/// `ASM_IOC_PATCH_POLICY`: one change, reported with the audit entry that
/// records it.
fn patch(id: u32, change: &PatchChange, json: bool) -> Result<(), Error> {
    let dev = open()?;
    // SET_LIMITS takes all four limits: those not given go back as they
    // are, as `asmctl limits` does.
    let current = match change {
        PatchChange::Limits(_) => Some(
            dev.fault_policy(id, 0)
                .map_err(|e| Op::GetPolicy(id).fail(e))?,
        ),
        _ => None,
    };
    let mut req = patch_request(id, change, current.as_ref())?;
    let grants_admin = matches!(change, PatchChange::AddCaps(bits) if bits & ASM_CAP_ADMIN != 0);
    dev.patch(&mut req)
        .map_err(|e| Op::Patch { id, grants_admin }.fail(e))?;
    let text = render::patched(id, change, req.audit_seq);
    if json {
        // As the audit trail names it (`AddCapability`).
        let op = asm_abi::patch_op_name(req.op).map_or_else(|| req.op.into(), Value::from);
        let done = serde_json::json!({
            "agent_id": id,
            "op": op,
            "audit_seq": req.audit_seq,
            "summary": text.trim_end(),
        });
        return print(&render::json(&done));
    }
    print(&text)
}

/// The PATCH_POLICY request for `change`; `current` is the agent's own
/// fault policy (GET without `ASM_FP_EFFECTIVE`), needed for limits only.
fn patch_request(
    id: u32,
    change: &PatchChange,
    current: Option<&AsmFaultPolicy>,
) -> Result<AsmPatch, Error> {
    let op = match change {
        PatchChange::AddCaps(_) => ASM_PATCH_ADD_CAPABILITY,
        PatchChange::RemoveCaps(_) => ASM_PATCH_REMOVE_CAPABILITY,
        PatchChange::Scope(_) => ASM_PATCH_UPDATE_SCOPE,
        PatchChange::AutoRestart(_) => ASM_PATCH_SET_AUTO_RESTART,
        PatchChange::Limits(_) => ASM_PATCH_SET_LIMITS,
        PatchChange::Risk(_) => ASM_PATCH_SET_RISK,
        PatchChange::LlmRate { .. } => ASM_PATCH_SET_LLM_RATE,
    };
    let mut req = AsmPatch::new(id, op);
    match change {
        PatchChange::AddCaps(bits) | PatchChange::RemoveCaps(bits) => req.value = *bits,
        // args.rs bounded the length already; NUL cannot come from argv.
        PatchChange::Scope(scope) => req
            .set_scope(scope.as_bytes())
            .map_err(|e| Error::Usage(format!("scope {e}")))?,
        PatchChange::AutoRestart(n) => req.value = (*n).into(),
        PatchChange::Risk(risk) => req.value = (*risk).into(),
        PatchChange::LlmRate { burst, refill } => {
            req.llm_burst = *burst;
            req.llm_refill = *refill;
        }
        PatchChange::Limits(changes) => {
            // Without a current policy every limit not given follows the
            // defaults (0).
            let current = current
                .copied()
                .unwrap_or_else(|| AsmFaultPolicy::new(id, 0));
            let limits = limits_request(PolicyTarget::Agent(id), &current, changes);
            req.cpu_quota_ms = limits.cpu_quota_ms;
            req.syscall_rate = limits.syscall_rate;
            req.watchdog_ms = limits.watchdog_ms;
            req.mem_limit_bytes = limits.mem_limit_bytes;
        }
    }
    Ok(req)
}

/// How many GET_AUDIT calls one read of a trail makes at most. The
/// kernel keeps `ASM_AUDIT_ENTRIES` (`ASM_AUDIT_LLM_ENTRIES` in the LLM
/// trail) and each call can return them all, so a few suffice even while
/// entries are added; the bound keeps a reply that makes no progress from
/// looping forever.
const AUDIT_MAX_CALLS: usize = 64;

/// The entries one GET_AUDIT of `trail` asks for: all the kernel keeps.
fn audit_room(trail: Trail) -> usize {
    match trail {
        Trail::Policy => ASM_AUDIT_ENTRIES,
        Trail::Llm => ASM_AUDIT_LLM_ENTRIES,
    }
}

/// Reads `trail` from `from` on with `read` (GET_AUDIT from a seq), call
/// after call until the kernel has no more.
fn read_trail(
    trail: Trail,
    from: u64,
    mut read: impl FnMut(u64) -> Result<(AsmAuditRead, Vec<AsmAuditEntry>), Errno>,
) -> Result<AuditTrail, Error> {
    let mut entries: Vec<AsmAuditEntry> = Vec::new();
    let mut next = from;
    let mut first_seq = None;
    let (mut next_seq, mut dropped, mut suppressed) = (0, 0, 0);
    for _ in 0..AUDIT_MAX_CALLS {
        let (reply, batch) = read(next).map_err(|e| Op::Audit.fail(e))?;
        first_seq.get_or_insert(reply.first_seq);
        (next_seq, dropped, suppressed) = (reply.next_seq, reply.dropped, reply.suppressed);
        let (Some(first), Some(last)) = (batch.first(), batch.last()) else {
            break;
        };
        // The first call may skip entries that are gone; a later one that
        // does means the ring overwrote them while we read, and what we
        // have would not be one piece of the trail.
        if !entries.is_empty() && first.seq > next {
            return Err(Error::Failed(format!(
                "the audit trail overflowed while it was read (seq {next} to {} were overwritten); try again",
                first.seq - 1
            )));
        }
        let after = last.seq.saturating_add(1);
        entries.extend_from_slice(&batch);
        if after <= next || after >= next_seq {
            break;
        }
        next = after;
    }
    Ok(AuditTrail {
        trail,
        first_seq: first_seq.unwrap_or(0),
        next_seq,
        dropped,
        suppressed,
        entries,
    })
}

/// "seq A..B" of `entries`, or "" when there are none.
fn seq_range(entries: &[AsmAuditEntry]) -> String {
    match (entries.first(), entries.last()) {
        (Some(first), Some(last)) => format!(", seq {}..{}", first.seq, last.seq),
        _ => String::new(),
    }
}

/// "N entries", or "1 entry".
fn entries_text(n: usize) -> String {
    match n {
        1 => "1 entry".into(),
        n => format!("{n} entries"),
    }
}

/// Reads live trail `trail` from `from` on.
fn read_live(dev: &Device, trail: Trail, from: u64) -> Result<AuditTrail, Error> {
    read_trail(trail, from, |from| {
        dev.audit(trail.raw(), from, audit_room(trail))
    })
}

fn audit(trail: Trail, from: u64, json: bool, export: Option<&Path>) -> Result<(), Error> {
    let dev = open()?;
    let trail = read_live(&dev, trail, from)?;
    if let Some(path) = export {
        let records: Vec<AuditRecord> = trail.entries.iter().map(AuditRecord::from).collect();
        let doc = serde_json::to_value(&records)
            .map_err(|e| Error::Failed(format!("cannot render JSON: {e}")))?;
        std::fs::write(path, render::json_pretty(&doc))
            .map_err(|e| Error::Failed(format!("cannot write {}: {e}", path.display())))?;
        return print(&format!(
            "exported {}{} to {}\n",
            entries_text(trail.entries.len()),
            seq_range(&trail.entries),
            path.display()
        ));
    }
    if json {
        return print_json(&AuditView::from(&trail));
    }
    print(&render::audit(&trail, &sys::utc_offset))
}

fn audit_verify(trail: Trail, file: Option<&Path>) -> Result<(), Error> {
    let (entries, next_seq, title) = match file {
        Some(path) => (read_export(path)?, None, "audit trail"),
        None => {
            let dev = open()?;
            let read = read_live(&dev, trail, 0)?;
            (read.entries, Some(read.next_seq), trail_title(trail))
        }
    };
    print(&verdict(title, &entries, next_seq)?)
}

/// What the verdict calls a live trail.
fn trail_title(trail: Trail) -> &'static str {
    match trail {
        Trail::Policy => "audit trail",
        Trail::Llm => "LLM audit trail",
    }
}

/// The entries of the export at `path`. An entry that cannot be an
/// `asm_audit_entry` at all (a detail too long, a hash of the wrong size)
/// was tampered with as surely as one whose hash is off.
fn read_export(path: &Path) -> Result<Vec<AsmAuditEntry>, Error> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::Failed(format!("cannot read {}: {e}", path.display())))?;
    let not_export = |e: serde_json::Error| {
        Error::Failed(format!("{} is not an audit export: {e}", path.display()))
    };
    let doc: Value = serde_json::from_slice(&bytes).map_err(not_export)?;
    let records = audit_records(doc).map_err(not_export)?;
    records
        .iter()
        .map(|r| {
            AsmAuditEntry::try_from(r).map_err(|why| {
                Error::Check(format!(
                    "audit trail BROKEN at seq {}: malformed entry: {why}",
                    r.seq
                ))
            })
        })
        .collect()
}

/// The verdict on `entries` of the trail called `title`: the chain, and
/// for a live trail (`next_seq` known) that it runs up to the newest
/// entry.
fn verdict(title: &str, entries: &[AsmAuditEntry], next_seq: Option<u64>) -> Result<String, Error> {
    let broken =
        |seq: u64, why: String| Error::Check(format!("{title} BROKEN at seq {seq}: {why}"));
    verify_audit_chain(entries).map_err(|e| broken(e.seq, e.why.to_string()))?;
    if let (Some(last), Some(next_seq)) = (entries.last(), next_seq) {
        let after = last.seq.saturating_add(1);
        if after != next_seq {
            return Err(broken(
                after,
                format!(
                    "the kernel counts entries up to seq {} but the trail read ends before it",
                    next_seq.saturating_sub(1)
                ),
            ));
        }
    }
    Ok(format!(
        "{title} OK: {}{}\n",
        entries_text(entries.len()),
        seq_range(entries)
    ))
}

fn oversight(id: u32, action: u32, note: &str, json: bool) -> Result<(), Error> {
    let mut req = AsmNote::new(id, action);
    // args.rs bounded the length already; NUL cannot come from argv.
    req.set_text(note.as_bytes())
        .map_err(|e| Error::Usage(format!("--note {e}")))?;
    open()?
        .oversight(&mut req)
        .map_err(|e| Op::Oversight(id).fail(e))?;
    let done = match action {
        ASM_OVERSIGHT_REVIEW => "reviewed".to_string(),
        ASM_OVERSIGHT_APPROVE => "approved".to_string(),
        ASM_OVERSIGHT_REJECT => "rejected".to_string(),
        ASM_OVERSIGHT_STOP => "stopped".to_string(),
        other => format!("oversight action {other} recorded"),
    };
    if json {
        let name = asm_abi::oversight_name(action).unwrap_or("unknown");
        let doc = serde_json::json!({
            "agent_id": id,
            "action": name,
            "audit_seq": req.audit_seq,
        });
        return print(&render::json(&doc));
    }
    print(&format!("agent {id}: {done} (audit #{})\n", req.audit_seq))
}

fn decision(text: &str, json: bool) -> Result<(), Error> {
    let mut req = AsmNote::new(0, 0);
    req.set_text(text.as_bytes())
        .map_err(|e| Error::Usage(format!("the decision {e}")))?;
    open()?
        .decision(&mut req)
        .map_err(|e| Op::Decision.fail(e))?;
    if json {
        let doc = serde_json::json!({ "agent_id": req.agent_id, "audit_seq": req.audit_seq });
        return print(&render::json(&doc));
    }
    print(&format!(
        "agent {}: decision recorded (audit #{})\n",
        req.agent_id, req.audit_seq
    ))
}

/// The response buffer of `llm`: the longest answer (`ASM_LLM_TEXT_MAX`
/// bytes) with room to spare for its escapes and the other members.
const LLM_RESPONSE_ROOM: usize = 64 * 1024;
/// The kernel's `timeout_ms` when the request gives none, for the message
/// of `ETIMEDOUT`.
const LLM_DEFAULT_TIMEOUT_MS: u32 = 30_000;

/// `llm`: one request of the caller's agent through the gateway. The kernel
/// knows the agent from the caller, so the document has no `agent_id`.
fn llm(request: &LlmRequest, json: bool) -> Result<(), Error> {
    let doc = llm_document(request)?;
    let dev = open()?;
    let mut response = vec![0u8; LLM_RESPONSE_ROOM];
    let mut req = AsmLlmRequest::new(0, 0, 0, 0);
    let len = dev
        .llm(&mut req, doc.as_bytes(), &mut response)
        .map_err(|e| {
            Op::Llm {
                timeout_ms: request.timeout_ms.unwrap_or(LLM_DEFAULT_TIMEOUT_MS),
                room: LLM_RESPONSE_ROOM,
                written: req.written,
            }
            .fail(e)
        })?;
    let answer = &response[..len];
    if json {
        // As the kernel wrote it: one line.
        let text = String::from_utf8_lossy(answer);
        return print(&format!("{}\n", text.trim_end_matches('\n')));
    }
    let answer: LlmResponse = serde_json::from_slice(answer).map_err(malformed)?;
    print(&format!("{}\n", answer.text))?;
    // The figures go to stderr, so that stdout is the answer alone; a
    // closed stderr is no reason to fail a request that succeeded.
    let _ = writeln!(io::stderr(), "{}", llm_footer(&answer));
    Ok(())
}

/// The request document for `request`, as the kernel reads it: one flat
/// object, serde_json doing the escaping; members left out of the command
/// line are left out of the document, so the kernel's defaults apply.
fn llm_document(request: &LlmRequest) -> Result<String, Error> {
    let mut doc = serde_json::Map::new();
    doc.insert("prompt".into(), Value::from(request.prompt.as_str()));
    if let Some(n) = request.max_tokens {
        doc.insert("max_tokens".into(), Value::from(n));
    }
    if let Some(t) = request.temperature {
        // Thousandths to a number: the shortest text that reads back as
        // this double is the decimal the user typed (0.25, 0.7, 1.0).
        doc.insert("temperature".into(), Value::from(f64::from(t) / 1000.0));
    }
    if let Some(p) = request.provider {
        doc.insert("preferred_provider".into(), Value::from(p));
    }
    if let Some(system) = &request.system {
        doc.insert("system_message".into(), Value::from(system.as_str()));
    }
    if let Some(ms) = request.timeout_ms {
        doc.insert("timeout_ms".into(), Value::from(ms));
    }
    let text = Value::Object(doc).to_string();
    // Escapes can make a document of prompt and system message within
    // their limits too long for the kernel (E2BIG); say why before asking.
    if text.len() > ASM_LLM_REQUEST_MAX {
        return Err(Error::Usage(format!(
            "the request document would be {} bytes, over the {ASM_LLM_REQUEST_MAX} the kernel \
             takes (each control character of the prompt or system message takes up to 6 \
             bytes escaped)",
            text.len()
        )));
    }
    Ok(text)
}

/// The gateway's response document (Documentation/gateway.rst); members
/// a later module adds are ignored.
#[derive(Debug, Deserialize, PartialEq)]
struct LlmResponse {
    provider: String,
    text: String,
    tokens_used: u64,
    duration_us: u64,
    #[serde(default)]
    was_fallback: bool,
}

/// The line `llm` prints on stderr after the answer.
fn llm_footer(r: &LlmResponse) -> String {
    format!(
        "(provider {}, {} tokens, {} ms{})",
        asm_abi::text_name(&r.provider),
        r.tokens_used,
        r.duration_us.saturating_add(500) / 1000,
        if r.was_fallback { ", fallback" } else { "" }
    )
}

fn sensitive(change: Option<SensitiveChange>, json: bool) -> Result<(), Error> {
    let dev = open()?;
    let Some(change) = change else {
        let view = SensitiveView {
            max: ASM_SENSITIVE_MAX,
            paths: sensitive_paths(&dev)?,
        };
        return if json {
            print_json(&view)
        } else {
            print(&render::sensitive(&view))
        };
    };
    let (op, path, done) = match &change {
        SensitiveChange::Add(path) => (ASM_SENSITIVE_ADD, path, "marked sensitive"),
        SensitiveChange::Remove(path) => (ASM_SENSITIVE_REMOVE, path, "no longer sensitive"),
    };
    let mut req = AsmSensitive::new(op, 0);
    req.set_path(path.as_bytes())
        .map_err(|e| Error::Usage(format!("path {e}")))?;
    dev.sensitive(&mut req)
        .map_err(|e| Op::Sensitive(&change).fail(e))?;
    if json {
        let doc = serde_json::json!({
            "path": path,
            "sensitive": op == ASM_SENSITIVE_ADD,
            "count": req.count,
            "max": ASM_SENSITIVE_MAX,
        });
        return print(&render::json(&doc));
    }
    print(&format!(
        "{path}: {done} ({} of {ASM_SENSITIVE_MAX} paths marked)\n",
        req.count
    ))
}

/// `deps`: the graph (all of it, or one agent's part), or a change of it
/// reported with the audit entry that records it.
fn deps(action: DepsAction, json: bool) -> Result<(), Error> {
    let dev = open()?;
    if let DepsAction::Show(id) = action {
        // An agent with no edges is still one: say so of one that is not.
        if let Some(id) = id {
            dev.info(id).map_err(|e| Op::Info(id).fail(e))?;
        }
        let edges = dev.dep_list().map_err(|e| Op::DepList.fail(e))?;
        let graph = Graph::new(&edges);
        if json {
            return print_json(&DepsView::new(&graph, id));
        }
        return print(&match id {
            Some(id) => render::deps_tree(&graph, id),
            None => render::deps(&graph),
        });
    }
    let done = match action {
        DepsAction::Add {
            dependent,
            dependency,
            kind,
            signal,
        } => dev.dep_add(dependent, dependency, kind, signal),
        DepsAction::Remove {
            dependent,
            dependency,
        } => dev.dep_remove(dependent, dependency),
        DepsAction::Show(_) => Ok(0),
    };
    let audit_seq = done.map_err(|e| dep_failed(&dev, action, e))?;
    match DepChangeView::new(action, audit_seq) {
        Some(view) if json => print_json(&view),
        _ => print(&render::dep_changed(action, audit_seq)),
    }
}

/// The error of `action` failing with `e`. The kernel answers `ESRCH` for
/// either agent; asking for each tells which one is missing.
fn dep_failed(dev: &Device, action: DepsAction, e: Errno) -> Error {
    let missing = match (action, e) {
        (
            DepsAction::Add {
                dependent,
                dependency,
                ..
            }
            | DepsAction::Remove {
                dependent,
                dependency,
            },
            Errno(libc::ESRCH),
        ) => [dependent, dependency]
            .into_iter()
            .find(|&id| dev.info(id) == Err(Errno(libc::ESRCH))),
        _ => None,
    };
    Op::Deps { action, missing }.fail(e)
}

/// `profile`: the statistics (of every agent's operations, of one
/// agent's, of one operation of an agent or over every agent), or a sample
/// of the caller's agent: one given, or the wall time of a command.
fn profile(action: ProfileAction, json: bool) -> Result<(), Error> {
    let dev = open()?;
    let stats_failed = |agent, op| move |e| Op::ProfileStats { agent, op }.fail(e);
    let (rows, agent_column) = match action {
        ProfileAction::Record {
            op,
            duration_ns,
            success,
        } => {
            dev.profile_record(&op, duration_ns, success)
                .map_err(|e| Op::ProfileRecord(&op).fail(e))?;
            if json {
                let doc = serde_json::json!({
                    "op": op,
                    "duration_ns": duration_ns,
                    "success": success,
                });
                return print(&render::json(&doc));
            }
            return Ok(());
        }
        ProfileAction::Time { op, program, args } => {
            return profile_time(&dev, &op, &program, &args)
        }
        ProfileAction::Op { id, op } => {
            let stats = dev
                .profile_stats(id, &op)
                .map_err(stats_failed(id, Some(&op)))?;
            return show_op(&OpProfile::new(Some(id), &op, &stats), json);
        }
        ProfileAction::Aggregate(op) => {
            let stats = dev
                .profile_stats(0, &op)
                .map_err(stats_failed(0, Some(&op)))?;
            return show_op(&OpProfile::new(None, &op, &stats), json);
        }
        ProfileAction::Agent(id) => {
            let ops = dev.profile_ops(id).map_err(stats_failed(id, None))?;
            if ops.is_empty() && !json {
                return print(&format!("agent {id} has no profiled operations\n"));
            }
            (agent_ops(id, &ops), false)
        }
        ProfileAction::All => {
            let mut rows = Vec::new();
            for id in dev.list().map_err(|e| Op::List.fail(e))? {
                match dev.profile_ops(id) {
                    Ok(ops) => rows.extend(agent_ops(id, &ops)),
                    // Unregistered since LIST, or not the caller's to see.
                    Err(Errno(libc::ESRCH)) => {}
                    Err(e) => return Err(stats_failed(id, None)(e)),
                }
            }
            (rows, true)
        }
    };
    if json {
        return print_json(&rows);
    }
    print(&render::profile_table(&rows, agent_column))
}

/// One operation's figures, as text or `--json`.
fn show_op(row: &OpProfile, json: bool) -> Result<(), Error> {
    if json {
        print_json(row)
    } else {
        print(&render::profile_op(row))
    }
}

/// `profile time`: BEGIN, run the command, END with its outcome; then exit
/// with its status. Outside an agent BEGIN fails and the command does not
/// run. When END fails the error is reported, and the status is still the
/// command's if it failed (1 if it succeeded).
fn profile_time(
    dev: &Device,
    op: &str,
    program: &std::ffi::OsString,
    args: &[std::ffi::OsString],
) -> Result<(), Error> {
    let token = dev.profile_begin().map_err(|e| Op::ProfileBegin.fail(e))?;
    let ended = sys::run_command(program, args).map_err(|errno| {
        Error::Exec(format!(
            "cannot run '{}': {}",
            program.to_string_lossy(),
            errno.text()
        ))
    })?;
    let recorded = dev
        .profile_end(op, token, ended.success)
        .map_err(|e| Op::ProfileRecord(op).fail(e));
    match recorded {
        Ok(_) if ended.code == 0 => Ok(()),
        Ok(_) => std::process::exit(ended.code.into()),
        Err(e) if ended.code == 0 => Err(e),
        Err(e) => {
            // As main reports an error, with the command's status.
            let _ = writeln!(io::stderr(), "Error: {}", e.message());
            std::process::exit(ended.code.into())
        }
    }
}

/// Every marked path: GET by index until the kernel says there is none
/// (ENOENT) or `count` is reached. A path unmarked meanwhile shifts the
/// rest down by one; the list is as good as any snapshot of it.
fn sensitive_paths(dev: &Device) -> Result<Vec<String>, Error> {
    let mut paths = Vec::new();
    // The kernel keeps at most ASM_SENSITIVE_MAX; the bound is only there
    // so that a reply whose count keeps growing cannot loop forever.
    for index in 0..ASM_SENSITIVE_MAX * 2 {
        let mut req = AsmSensitive::new(ASM_SENSITIVE_GET, room32(index));
        match dev.sensitive(&mut req) {
            Ok(()) => paths.push(String::from_utf8_lossy(req.path()).into_owned()),
            Err(Errno(libc::ENOENT)) => break,
            Err(e) => return Err(Op::SensitiveList.fail(e)),
        }
        if paths.len() >= req.count as usize {
            break;
        }
    }
    Ok(paths)
}

/// A small index as the ABI's `u32`.
fn room32(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}

fn compliance(json: bool, min_score: Option<u32>) -> Result<(), Error> {
    let dev = open()?;
    let ids = dev.list().map_err(|e| Op::List.fail(e))?;
    let mut agents = Vec::new();
    for id in ids {
        match dev.compliance(id) {
            Ok(c) => agents.push(c),
            // Unregistered since LIST: no longer reported.
            Err(Errno(libc::ESRCH)) => {}
            Err(e) => return Err(Op::Compliance(id).fail(e)),
        }
    }
    // Every entry ever recorded, where the caller may read the trail
    // (CAP_SYS_ADMIN); the report then falls back on the agents' counts.
    let next_seq = dev
        .audit(ASM_AUDIT_TRAIL_POLICY, 0, 1)
        .ok()
        .map(|(reply, _)| reply.next_seq);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let report = ComplianceReport::new(now, &agents, next_seq);
    if json {
        print_json(&report)?;
    } else {
        print(&render::compliance(&report))?;
    }
    match min_score {
        // A score of nothing is no pass: the caller sees no agent (none
        // registered, or none of its own).
        Some(_) if report.total_agents == 0 => Err(Error::Below(
            "no agent was assessed: the check has nothing to pass".into(),
        )),
        Some(min) if report.system_score < min => Err(Error::Below(format!(
            "the system compliance score {} is below {min}",
            report.system_score
        ))),
        _ => Ok(()),
    }
}

fn policy(id: u32, json: bool) -> Result<(), Error> {
    let dev = open()?;
    let info = dev.info(id).map_err(|e| Op::Info(id).fail(e))?;
    let effective = dev
        .fault_policy(id, ASM_FP_EFFECTIVE)
        .map_err(|e| Op::GetPolicy(id).fail(e))?;
    let view = PolicyView::new(&info, &effective);
    if json {
        return print_json(&view);
    }
    print(&render::policy(&view))
}

/// The part of the request that does not depend on the target.
fn request(spec: &AgentSpec) -> Result<AsmRegister, Error> {
    let mut req = AsmRegister::new();
    req.agent_id = spec.id;
    req.capabilities = spec.capabilities;
    req.auto_restart = spec.auto_restart;
    req.risk_level = spec.risk_level;
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
            risk_level: asm_abi::ASM_RISK_HIGH,
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
        assert_eq!(req.risk_level, asm_abi::ASM_RISK_HIGH);
        assert_eq!((req.reserved0, req.reserved), (0, [0; 3]));
    }

    #[test]
    fn patch_requests() {
        use asm_abi::{ASM_CAP_FS_BASIC, ASM_PATCH_SET_LIMITS, ASM_RISK_MINIMAL};
        let req = patch_request(100, &PatchChange::AddCaps(ASM_CAP_FS_BASIC), None).unwrap();
        assert_eq!((req.size, req.version, req.agent_id), (328, 1, 100));
        assert_eq!(
            (req.op, req.value),
            (ASM_PATCH_ADD_CAPABILITY, ASM_CAP_FS_BASIC)
        );
        assert_eq!(req.scope, [0; asm_abi::ASM_SCOPE_LEN]);
        let req = patch_request(100, &PatchChange::Scope("/tmp/x/".into()), None).unwrap();
        assert_eq!((req.op, req.value), (ASM_PATCH_UPDATE_SCOPE, 0));
        assert_eq!(&req.scope[..8], b"/tmp/x/\0");
        let req = patch_request(100, &PatchChange::Scope(String::new()), None).unwrap();
        assert_eq!(req.scope, [0; asm_abi::ASM_SCOPE_LEN]);
        let req = patch_request(100, &PatchChange::Risk(ASM_RISK_MINIMAL), None).unwrap();
        assert_eq!((req.op, req.value), (ASM_PATCH_SET_RISK, 1));
        let req = patch_request(100, &PatchChange::AutoRestart(4), None).unwrap();
        assert_eq!((req.op, req.value), (ASM_PATCH_SET_AUTO_RESTART, 4));
        assert_eq!((req.cpu_quota_ms, req.mem_limit_bytes), (0, 0));

        // The limits not given keep the agent's own values.
        let changes = LimitChanges {
            syscall_rate: Some(Limit::Value(50)),
            mem_limit_bytes: Some(Limit::Unlimited),
            ..LimitChanges::default()
        };
        let req = patch_request(100, &PatchChange::Limits(changes), Some(&policy(100))).unwrap();
        assert_eq!((req.op, req.value), (ASM_PATCH_SET_LIMITS, 0));
        assert_eq!(
            (
                req.cpu_quota_ms,
                req.mem_limit_bytes,
                req.syscall_rate,
                req.watchdog_ms
            ),
            (300, ASM_LIMIT_NONE64, 50, 0)
        );
        assert_eq!((req.reserved0, req.audit_seq, req.reserved), (0, 0, [0; 1]));
        assert_eq!((req.llm_burst, req.llm_refill), (0, 0));

        let rate = PatchChange::LlmRate {
            burst: 3,
            refill: 1,
        };
        let req = patch_request(100, &rate, None).unwrap();
        assert_eq!((req.op, req.value), (ASM_PATCH_SET_LLM_RATE, 0));
        assert_eq!((req.llm_burst, req.llm_refill), (3, 1));
        assert_eq!(
            (req.cpu_quota_ms, req.mem_limit_bytes, req.scope[0]),
            (0, 0, 0)
        );
    }

    /// A GET_AUDIT stand-in over `kept` (the ring), `per_call` entries a
    /// call, adding `grow` entries after each call.
    fn ring(
        kept: Vec<AsmAuditEntry>,
        per_call: usize,
        grow: u64,
    ) -> impl FnMut(u64) -> Result<(AsmAuditRead, Vec<AsmAuditEntry>), Errno> {
        let mut kept = kept;
        move |from| {
            let first_seq = kept.first().map_or(0, |e| e.seq);
            let next_seq = kept.last().map_or(0, |e| e.seq + 1);
            let batch: Vec<_> = kept
                .iter()
                .filter(|e| e.seq >= from)
                .take(per_call)
                .copied()
                .collect();
            let mut reply = AsmAuditRead::new(from, 0, per_call as u32);
            (reply.first_seq, reply.next_seq, reply.dropped) = (first_seq, next_seq, first_seq);
            reply.count = batch.len() as u32;
            for _ in 0..grow {
                let mut e = AsmAuditEntry::ZERO;
                e.seq = kept.last().map_or(0, |l| l.seq + 1);
                kept.push(e);
            }
            Ok((reply, batch))
        }
    }

    fn entries(seqs: std::ops::Range<u64>) -> Vec<AsmAuditEntry> {
        seqs.map(|seq| AsmAuditEntry {
            seq,
            ..AsmAuditEntry::ZERO
        })
        .collect()
    }

    #[test]
    fn trail_read_in_several_calls() {
        let t = read_trail(Trail::Policy, 0, ring(entries(10..30), 8, 0)).unwrap();
        assert_eq!((t.first_seq, t.next_seq, t.dropped), (10, 30, 10));
        let seqs: Vec<u64> = t.entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (10..30).collect::<Vec<_>>());
        // From a seq on.
        let t = read_trail(Trail::Policy, 25, ring(entries(10..30), 8, 0)).unwrap();
        assert_eq!(t.entries.len(), 5);
        // Entries added while it reads are read too, up to the newest.
        let t = read_trail(Trail::Policy, 0, ring(entries(0..10), 4, 1)).unwrap();
        assert_eq!(t.entries.last().map(|e| e.seq), Some(t.next_seq - 1));
        // Nothing kept, or nothing from there on.
        let t = read_trail(Trail::Policy, 0, ring(Vec::new(), 8, 0)).unwrap();
        assert_eq!((t.next_seq, t.entries.len()), (0, 0));
        assert!(read_trail(Trail::Policy, 99, ring(entries(0..10), 8, 0))
            .unwrap()
            .entries
            .is_empty());
    }

    #[test]
    fn trail_overwritten_while_read() {
        // A ring of 4 whose oldest entries are overwritten between calls.
        let mut next = 0u64;
        let read = |from: u64| {
            let kept = entries(next..next + 4);
            next += 10;
            let batch: Vec<_> = kept
                .iter()
                .filter(|e| e.seq >= from)
                .take(2)
                .copied()
                .collect();
            let mut reply = AsmAuditRead::new(from, 0, 2);
            (reply.first_seq, reply.next_seq) = (kept[0].seq, kept[3].seq + 1);
            Ok((reply, batch))
        };
        assert_eq!(
            read_trail(Trail::Policy, 0, read).unwrap_err(),
            Error::Failed(
                "the audit trail overflowed while it was read (seq 2 to 9 were overwritten); try again"
                    .into()
            )
        );
        let denied = |_| Err(Errno(libc::EPERM));
        assert_eq!(
            read_trail(Trail::Policy, 0, denied).unwrap_err().message(),
            "not permitted: reading the audit trail needs CAP_SYS_ADMIN"
        );
    }

    /// `entries` exported to a file, the file edited by `edit`, then
    /// verified as `asmctl audit verify FILE` does.
    fn verify_edited(
        entries: &[AsmAuditEntry],
        edit: impl FnOnce(&mut Value),
    ) -> Result<String, Error> {
        let records: Vec<AuditRecord> = entries.iter().map(AuditRecord::from).collect();
        let mut doc = serde_json::to_value(records).unwrap();
        edit(&mut doc);
        let path = std::env::temp_dir().join(format!(
            "asmctl-verify-{}-{:?}.json",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::write(&path, render::json(&doc)).unwrap();
        let result = read_export(&path).and_then(|e| verdict("audit trail", &e, None));
        std::fs::remove_file(&path).unwrap();
        result
    }

    fn broken(msg: &str) -> Result<String, Error> {
        Err(Error::Check(format!("audit trail BROKEN at seq {msg}")))
    }

    #[test]
    fn an_export_verifies() {
        let good = crate::model::tests::trail(5);
        assert_eq!(
            verify_edited(&good, |_| {}),
            Ok("audit trail OK: 5 entries, seq 0..4\n".into())
        );
        assert_eq!(
            verify_edited(&good[..1], |_| {}),
            Ok("audit trail OK: 1 entry, seq 0..0\n".into())
        );
        assert_eq!(
            verify_edited(&[], |_| {}),
            Ok("audit trail OK: 0 entries\n".into())
        );
        // A piece from after an overflow.
        assert_eq!(
            verify_edited(&good[2..], |_| {}),
            Ok("audit trail OK: 3 entries, seq 2..4\n".into())
        );
    }

    #[test]
    fn any_edited_field_of_an_export_is_found() {
        let good = crate::model::tests::trail(5);
        let edits: [(&str, Value); 13] = [
            ("seq", 9.into()),
            ("time_ns", 1.into()),
            ("kind", "decision".into()),
            ("op", 2.into()),
            ("agent_id", 101.into()),
            ("uid", 1000.into()),
            ("pid", 1.into()),
            ("result", (-13).into()),
            ("old_value", 0.into()),
            ("new_value", 9.into()),
            ("detail", "nothing to see".into()),
            ("prev_hash", "ab".repeat(32).into()),
            ("hash", "cd".repeat(32).into()),
        ];
        for (field, value) in edits {
            assert_eq!(
                verify_edited(&good, |doc| doc[2][field] = value.clone()),
                broken(&format!(
                    "{}: hash mismatch: the entry was edited",
                    if field == "seq" { 9 } else { 2 }
                )),
                "{field}"
            );
        }
        // An edit that makes the entry impossible is found as well.
        assert_eq!(
            verify_edited(&good, |doc| doc[3]["detail"] = "x".repeat(300).into()),
            broken("3: malformed entry: detail longer than 191 bytes")
        );
    }

    #[test]
    fn removed_or_reordered_exported_entries_are_found() {
        let good = crate::model::tests::trail(5);
        let removed = |doc: &mut Value| {
            doc.as_array_mut().unwrap().remove(2);
        };
        assert_eq!(
            verify_edited(&good, removed),
            broken("3: seq gap after seq 1: entries were removed or reordered")
        );
        let swapped = |doc: &mut Value| doc.as_array_mut().unwrap().swap(1, 3);
        assert_eq!(
            verify_edited(&good, swapped),
            broken("3: seq gap after seq 0: entries were removed or reordered")
        );
    }

    #[test]
    fn a_live_trail_must_reach_the_newest_entry() {
        let good = crate::model::tests::trail(3);
        assert_eq!(
            verdict("audit trail", &good, Some(3)),
            Ok("audit trail OK: 3 entries, seq 0..2\n".into())
        );
        assert_eq!(
            verdict("audit trail", &good, Some(5)),
            broken("3: the kernel counts entries up to seq 4 but the trail read ends before it")
        );
        // The LLM trail is its own chain, named in the verdict.
        assert_eq!(
            verdict(trail_title(Trail::Llm), &good, Some(3)),
            Ok("LLM audit trail OK: 3 entries, seq 0..2\n".into())
        );
        assert_eq!(
            verdict(trail_title(Trail::Llm), &good, Some(4)),
            Err(Error::Check(
                "LLM audit trail BROKEN at seq 3: the kernel counts entries up to seq 3 \
                 but the trail read ends before it"
                    .into()
            ))
        );
        assert_eq!(
            (audit_room(Trail::Policy), audit_room(Trail::Llm)),
            (256, 512)
        );
    }

    #[test]
    fn llm_document_has_only_what_was_given() {
        let prompt = |p: &str| LlmRequest {
            prompt: p.into(),
            ..LlmRequest::default()
        };
        assert_eq!(
            llm_document(&prompt("hello")).unwrap(),
            r#"{"prompt":"hello"}"#
        );
        let full = LlmRequest {
            prompt: "sum \"this\"\n\tnow \u{1} é".into(),
            provider: Some("gemini"),
            max_tokens: Some(500),
            temperature: Some(250),
            system: Some("be \\ brief".into()),
            timeout_ms: Some(1500),
        };
        let doc = llm_document(&full).unwrap();
        // Keys are sorted (serde_json's map); control characters escaped,
        // UTF-8 kept, no agent_id.
        assert_eq!(
            doc,
            r#"{"max_tokens":500,"preferred_provider":"gemini","prompt":"sum \"this\"\n\tnow \u0001 é","system_message":"be \\ brief","temperature":0.25,"timeout_ms":1500}"#
        );
        let back: Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(back["prompt"], full.prompt.as_str());
        assert!(back.get("agent_id").is_none());
    }

    #[test]
    fn llm_temperature_is_the_decimal_typed() {
        // Every value the parser accepts is written as a plain number
        // (no exponent) with at most three decimals, reading back the same.
        for t in 0..=1000u32 {
            let request = LlmRequest {
                prompt: "x".into(),
                temperature: Some(t),
                ..LlmRequest::default()
            };
            let doc = llm_document(&request).unwrap();
            let number = doc
                .split(r#""temperature":"#)
                .nth(1)
                .and_then(|rest| rest.strip_suffix('}'))
                .unwrap();
            assert!(!number.contains(['e', 'E', '-']), "{t}: {number}");
            let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
            assert!(frac.len() <= 3, "{t}: {number}");
            let thousandths: u32 = whole.parse::<u32>().unwrap() * 1000
                + format!("{frac:0<3}").parse::<u32>().unwrap();
            assert_eq!(thousandths, t, "{number}");
        }
    }

    #[test]
    fn llm_document_too_long_once_escaped() {
        // Within the prompt's limit, but each control character is six
        // bytes escaped.
        let request = LlmRequest {
            prompt: "\u{1}".repeat(asm_abi::ASM_LLM_PROMPT_MAX),
            ..LlmRequest::default()
        };
        let Err(Error::Usage(msg)) = llm_document(&request) else {
            panic!("expected a usage error");
        };
        assert!(
            msg.starts_with("the request document would be 196621 bytes, over the 65536"),
            "{msg}"
        );
    }

    #[test]
    fn llm_response_and_footer() {
        let doc = br#"{"provider":"Claude","text":"4\n","tokens_used":450,"duration_us":123456,"was_fallback":false}"#;
        let r: LlmResponse = serde_json::from_slice(doc).unwrap();
        assert_eq!(r.text, "4\n");
        assert_eq!(llm_footer(&r), "(provider claude, 450 tokens, 123 ms)");
        let r = LlmResponse {
            provider: "Local".into(),
            text: String::new(),
            tokens_used: 1,
            duration_us: 1500,
            was_fallback: true,
        };
        assert_eq!(llm_footer(&r), "(provider local, 1 tokens, 2 ms, fallback)");
        // A member a later module adds is ignored.
        let later = br#"{"provider":"gpt4","text":"","tokens_used":0,"duration_us":0,"was_fallback":true,"cost":3}"#;
        assert!(serde_json::from_slice::<LlmResponse>(later).is_ok_and(|r| r.was_fallback));
    }
}
