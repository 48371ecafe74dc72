// SPDX-License-Identifier: GPL-2.0

//! The text views: /proc/agentsys/status, the two JSON documents and the
//! debugfs event ring, in the layouts of the user guide and
//! Documentation/uapi.rst.

use core::fmt::{self, Write};
use core::sync::atomic::Ordering::Relaxed;
use kernel::prelude::*;

use crate::agent::ExitStatus;
use crate::deps::Edge;
use crate::faults::FaultKind;
use crate::ffi::RcuGuard;
use crate::policy::Risk;
use crate::snapshot::{self, AgentSnapshot, StatusRow, SystemSnapshot};
use crate::telemetry::{Detail, Event, EventKind};
use crate::uapi::CAP_NAMES;
use crate::viewer::Viewer;
use crate::Asm;

/// Events the telemetry JSON carries.
const RECENT_EVENTS: usize = 10;

/// A growable text buffer for documents copied to user space.
pub(crate) struct TextBuf(pub(crate) KVec<u8>);

impl Write for TextBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0
            .extend_from_slice(s.as_bytes(), GFP_KERNEL)
            .map_err(|_| fmt::Error)
    }
}

/// Renders `f` into a new buffer.
pub(crate) fn render(f: impl FnOnce(&mut TextBuf) -> fmt::Result) -> Result<KVec<u8>> {
    let mut buf = TextBuf(KVec::new());
    f(&mut buf).map_err(|_| ENOMEM)?;
    Ok(buf.0)
}

/// A string written as a JSON string literal.
pub(crate) struct JsonStr<'a>(pub(crate) &'a str);

impl fmt::Display for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        escape(f, self.0)?;
        f.write_char('"')
    }
}

/// Writes `s` escaped for the inside of a JSON string literal.
fn escape(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    Ok(())
}

/// Bytes written as a JSON string literal: UTF-8 as it is, each invalid
/// sequence as U+FFFD.
pub(crate) struct JsonBytes<'a>(pub(crate) &'a [u8]);

impl fmt::Display for JsonBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        let mut rest = self.0;
        loop {
            match core::str::from_utf8(rest) {
                Ok(s) => {
                    escape(f, s)?;
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    escape(f, core::str::from_utf8(valid).unwrap_or(""))?;
                    f.write_char('\u{fffd}')?;
                    // A sequence cut short by the end is the last one.
                    rest = &after[e.error_len().unwrap_or(after.len())..];
                }
            }
        }
        f.write_char('"')
    }
}

/// One line of the status view's per-agent tables, made without
/// `core::fmt`, which writes a padded number character by character: the
/// view has two lines for each of up to 4096 agents.
struct Row {
    buf: [u8; 128],
    len: usize,
}

impl Row {
    /// A line with the tables' indent.
    fn new() -> Self {
        Self {
            buf: [b' '; 128],
            len: 2,
        }
    }

    /// `text`, then spaces up to `width`, then one space.
    fn text(&mut self, text: &str, width: usize) -> &mut Self {
        let n = text.len().min(self.buf.len() - self.len - 1);
        self.buf[self.len..self.len + n].copy_from_slice(&text.as_bytes()[..n]);
        // The buffer is all spaces past `len`.
        self.len = (self.len + n.max(width) + 1).min(self.buf.len() - 1);
        self
    }

    /// `v` in decimal, then spaces up to `width`, then one space.
    fn num(&mut self, v: u64, width: usize) -> &mut Self {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        let mut v = v;
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        // Digits only: valid UTF-8.
        self.text(core::str::from_utf8(&digits[i..]).unwrap_or("?"), width)
    }

    /// Writes the line, without the last separator, and a newline.
    fn write(&mut self, w: &mut impl Write) -> fmt::Result {
        self.buf[self.len - 1] = b'\n';
        w.write_str(core::str::from_utf8(&self.buf[..self.len]).unwrap_or("?\n"))
    }
}

/// A score in thousandths as a percent: "100%", "70.5%".
struct Percent(u64);

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 % 10 {
            0 => write!(f, "{}%", self.0 / 10),
            d => write!(f, "{}.{}%", self.0 / 10, d),
        }
    }
}

/// /proc/agentsys/compliance, in the user guide's layout.
pub(crate) fn compliance(asm: &Asm, viewer: &Viewer, w: &mut impl Write) -> Result {
    let agents = snapshot::agents(asm, None, viewer)?;
    let events = asm.audit.next_seq();
    compliance_text(&agents, events, crate::ffi::real_ns() / 1_000_000_000, w).map_err(|_| ENOMEM)
}

fn compliance_text(
    agents: &[AgentSnapshot],
    events: u64,
    now_s: u64,
    w: &mut impl Write,
) -> fmt::Result {
    let violations: u64 = agents.iter().map(|a| a.violations).sum();
    let oversight: u64 = agents.iter().map(|a| a.oversight).sum();
    let system = match agents.len() as u64 {
        0 => 1000,
        n => agents.iter().map(|a| u64::from(a.score)).sum::<u64>() / n,
    };
    w.write_str("EU AI Act Compliance Report\n")?;
    w.write_str("===========================\n\n")?;
    writeln!(w, "{:<20}{}", "Timestamp:", now_s)?;
    writeln!(w, "{:<20}{}", "Total Agents:", agents.len())?;
    writeln!(w, "{:<20}{}", "Total Events:", events)?;
    writeln!(w, "{:<20}{}", "Policy Violations:", violations)?;
    writeln!(w, "{:<20}{}", "System Compliance:", Percent(system))?;
    w.write_str("\nRisk Level Distribution:\n")?;
    for risk in [Risk::Minimal, Risk::Limited, Risk::High, Risk::Unacceptable] {
        let n = agents.iter().filter(|a| a.risk == risk).count();
        // The guide's layout: the label and its colon in 18 columns.
        let pad = 18usize.saturating_sub(risk.name().len() + 1);
        writeln!(w, "  {}:{:pad$}{}", risk.name(), "", n)?;
    }
    w.write_str("\nAgent Compliance Details:\n")?;
    w.write_str("-------------------------\n")?;
    for a in agents {
        writeln!(w, "\nAgent ID: {}", a.id)?;
        writeln!(w, "  {:<18}{}", "Risk Level:", a.risk.name())?;
        writeln!(w, "  {:<18}{}", "Events Logged:", a.events)?;
        writeln!(w, "  {:<18}{}", "Violations:", a.violations)?;
        writeln!(w, "  {:<18}{}", "Human Oversight:", a.oversight)?;
        writeln!(
            w,
            "  {:<18}{}",
            "Compliance Score:",
            Percent(a.score.into())
        )?;
        writeln!(w, "  {:<18}{}", "Status:", a.status.name())?;
        writeln!(w, "  {:<18}{}", "LLM Requests:", a.llm.requests)?;
    }
    let mark = |ok: bool| if ok { "[x]" } else { "[ ]" };
    w.write_str("\nCompliance Requirements:\n")?;
    writeln!(
        w,
        "  [x] Record keeping: hash-chained audit trail, {} entries",
        events
    )?;
    writeln!(w, "  [x] Risk classification: every agent has a risk level")?;
    writeln!(
        w,
        "  [x] Prohibited practices: Unacceptable agents are refused"
    )?;
    writeln!(
        w,
        "  {} Human oversight: {} actions recorded",
        mark(oversight > 0),
        oversight
    )?;
    writeln!(
        w,
        "  {} Policy adherence: {} violations",
        mark(violations == 0),
        violations
    )
}

/// /proc/agentsys/status.
pub(crate) fn status(asm: &Asm, viewer: &Viewer, w: &mut impl Write) -> Result {
    let agents = snapshot::status_rows(asm, viewer)?;
    let sys = snapshot::system(asm, &agents);
    let mut faults = [None; RECENT_EVENTS];
    let n = asm.telemetry.recent_of(&mut faults, |e| {
        matches!(e.kind, EventKind::Fault) && viewer.sees_id(&asm.registry, e.agent_id)
    });
    // The edges between registered agents the reader sees (the snapshot
    // is in id order).
    let edges = asm.deps.edges(|id| {
        agents
            .binary_search_by_key(&id, |a| a.id)
            .ok()
            .and_then(|_| {
                asm.registry
                    .get(id, &RcuGuard::new())
                    .map(|a| a.registered_ns)
            })
    })?;
    status_text(&sys, &agents, &faults[..n], &edges, w).map_err(|_| ENOMEM)
}

fn status_text(
    sys: &SystemSnapshot,
    agents: &[StatusRow],
    faults: &[Option<Event>],
    edges: &[Edge],
    w: &mut impl Write,
) -> fmt::Result {
    w.write_str("Agent Supervision Module - Telemetry Status\n")?;
    w.write_str("===========================================\n\n")?;
    w.write_str("System Metrics:\n")?;
    for (label, value) in [
        ("Total Spawns:", sys.spawns),
        ("Total Exits:", sys.exits),
        ("Total Crashes:", sys.crashes),
        ("Total Faults:", sys.faults),
        ("Total Restarts:", sys.restarts),
        ("Active Agents:", sys.active_agents.into()),
        ("Total Syscalls:", sys.syscalls),
        ("Events Dropped:", sys.events_dropped),
    ] {
        writeln!(w, "  {:<17}{}", label, value)?;
    }
    w.write_str("\nPer-Agent Metrics:\n")?;
    w.write_str("  ID    Spawns Exits  Faults CPU(us)   Mem(B)\n")?;
    w.write_str("  ----  ------ -----  ------ --------  -------\n")?;
    for a in agents {
        Row::new()
            .num(a.id.into(), 5)
            .num(a.spawns, 6)
            .num(a.exits, 6)
            .num(a.faults, 6)
            .num(a.cpu_us(), 9)
            .num(a.mem_bytes, 0)
            .write(w)?;
    }
    w.write_str("\nAgent States:\n")?;
    w.write_str("  ID    State      Restarts Throttled\n")?;
    w.write_str("  ----  ---------  -------- ---------\n")?;
    for a in agents {
        Row::new()
            .num(a.id.into(), 5)
            .text(a.state.name(), 10)
            .num(a.restarts.into(), 8)
            .text(if a.throttled { "yes" } else { "no" }, 0)
            .write(w)?;
    }
    writeln!(w, "\nRecent Faults (last {}):", RECENT_EVENTS)?;
    for e in faults.iter().flatten() {
        let Detail::Fault {
            fault,
            observed,
            limit,
        } = e.detail()
        else {
            continue;
        };
        write!(
            w,
            "  [{}] Agent {} fault: {}",
            e.timestamp_ns / 1000,
            e.agent_id,
            fault.map_or("?", |k| k.label())
        )?;
        match fault {
            // A crash's observed value is its wait status.
            Some(FaultKind::Crash) => {
                let status = ExitStatus(observed as i32);
                match status.signal() {
                    0 => writeln!(w, " (code {})", status.code())?,
                    sig => writeln!(w, " (signal {})", sig)?,
                }
            }
            k => writeln!(
                w,
                " (observed {}, limit {} {})",
                observed,
                limit,
                k.map_or("", |k| k.unit())
            )?,
        }
    }
    w.write_str("\nDependencies (dependent -> dependency):\n")?;
    if edges.is_empty() {
        w.write_str("  none\n")?;
    }
    for e in edges {
        writeln!(
            w,
            "  {} -> {} ({})",
            e.dependent.id,
            e.dependency.id,
            e.kind.name()
        )?;
    }
    Ok(())
}

/// The ASM_IOC_GET_TELEMETRY_JSON document.
pub(crate) fn telemetry_json(asm: &Asm, viewer: &Viewer) -> Result<KVec<u8>> {
    let agents = snapshot::agents(asm, None, viewer)?;
    let sys = snapshot::system(asm, &agents);
    let mut recent = [None; RECENT_EVENTS];
    let n = asm
        .telemetry
        .recent_of(&mut recent, |e| viewer.sees_id(&asm.registry, e.agent_id));
    render(|w| {
        write!(
            w,
            "{{\"system\":{{\"total_agents_spawned\":{},\"total_agents_exited\":{},\
             \"total_crashes\":{},\"total_faults\":{},\"total_restarts\":{},\
             \"active_agents\":{},\"registered_agents\":{},\"total_syscalls\":{},\
             \"events_total\":{},\"events_dropped\":{}}},\"agents\":{{",
            sys.spawns,
            sys.exits,
            sys.crashes,
            sys.faults,
            sys.restarts,
            sys.active_agents,
            sys.registered_agents,
            sys.syscalls,
            sys.events_total,
            sys.events_dropped
        )?;
        for (i, a) in agents.iter().enumerate() {
            write!(
                w,
                "{}\"{}\":{{\"spawn_count\":{},\"exit_count\":{},\"crash_count\":{},\
                 \"fault_count\":{},\"cpu_time_us\":{},\"memory_bytes\":{}}}",
                if i == 0 { "" } else { "," },
                a.id,
                a.spawns,
                a.exits,
                a.crashes,
                a.faults,
                a.cpu_us(),
                a.mem_bytes
            )?;
        }
        w.write_str("},\"recent_events\":[")?;
        for (i, e) in recent.iter().take(n).flatten().enumerate() {
            write!(
                w,
                "{}{{\"timestamp_ns\":{},\"type\":\"{}\",\"agent_id\":{},\"pid\":{},\
                 \"exit_code\":{},\"signal\":{}",
                if i == 0 { "" } else { "," },
                e.timestamp_ns,
                e.kind.json(),
                e.agent_id,
                e.pid,
                e.exit_code,
                e.signal
            )?;
            event_json_extra(e, w)?;
            w.write_char('}')?;
        }
        w.write_str("]}")
    })
}

/// The fields of fault, action, release and restart events.
fn event_json_extra(e: &Event, w: &mut impl Write) -> fmt::Result {
    match e.detail() {
        Detail::Restarts { count, max } => {
            write!(w, ",\"restarts\":{},\"max_restarts\":{}", count, max)
        }
        Detail::Fault {
            fault: Some(kind),
            observed,
            limit,
        } => write!(
            w,
            ",\"fault\":\"{}\",\"observed\":{},\"limit\":{},\"unit\":\"{}\"",
            kind.json(),
            observed,
            limit,
            kind.unit_json()
        ),
        Detail::Action {
            fault: Some(kind),
            action,
        } => write!(
            w,
            ",\"fault\":\"{}\",\"action\":\"{}\"",
            kind.json(),
            action.map_or("?", |a| a.json())
        ),
        Detail::Release { fault: Some(kind) } => write!(w, ",\"fault\":\"{}\"", kind.json()),
        Detail::Llm {
            provider,
            result,
            tokens_used,
            duration_us,
        } => {
            match provider {
                Some(p) => write!(w, ",\"provider\":\"{}\"", p.json())?,
                None => w.write_str(",\"provider\":null")?,
            }
            write!(
                w,
                ",\"result\":{},\"tokens_used\":{},\"duration_us\":{}",
                result, tokens_used, duration_us
            )
        }
        Detail::Dependency {
            dependency,
            grace_ms,
            ..
        } => write!(
            w,
            ",\"dependency\":{},\"grace_ms\":{}",
            dependency, grace_ms
        ),
        _ => Ok(()),
    }
}

/// A limit in JSON: a number, or null for none.
struct JsonLimit(Option<u64>);

impl fmt::Display for JsonLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(v) => write!(f, "{}", v),
            None => f.write_str("null"),
        }
    }
}

/// The ASM_IOC_GET_AGENT_INFO_JSON document of agent `id`.
pub(crate) fn agent_json(asm: &Asm, id: u32, viewer: &Viewer) -> Result<KVec<u8>> {
    let agents = snapshot::agents(asm, Some(id), viewer)?;
    let a = agents.first().ok_or(ESRCH)?;
    let bucket = crate::gateway::bucket(asm, id).ok_or(ESRCH)?;
    render(|w| {
        write!(
            w,
            "{{\"agent_id\":{},\"pid\":{},\"name\":{},\"state\":\"{}\",\"capabilities\":[",
            a.id,
            a.pid,
            JsonStr(a.name_str()),
            a.state.json()
        )?;
        let mut first = true;
        for (bit, name) in CAP_NAMES.iter().enumerate() {
            if a.capabilities & (1 << bit) != 0 {
                write!(w, "{}\"{}\"", if first { "" } else { "," }, name)?;
                first = false;
            }
        }
        write!(
            w,
            "],\"scope\":{},\"auto_restart\":{},\"max_restarts\":{},\"restart_count\":{},\
             \"owner_uid\":{},\"nr_processes\":{},\"spawn_count\":{},\"exit_count\":{},\
             \"crash_count\":{},\"fault_count\":{},\"exec_count\":{},\"cpu_time_us\":{},\
             \"memory_bytes\":{},\"last_exit_code\":{},\"registered_ns\":{},\
             \"last_activity_ns\":{},\"throttled\":{},\"risk_level\":\"{}\",\
             \"compliance\":{{\"score\":{},\"status\":\"{}\",\"events\":{},\"violations\":{},\
             \"oversight\":{},\"decisions\":{},\"sensitive\":{},\"clean_exits\":{},\
             \"llm_requests\":{}}}",
            JsonStr(a.scope_str()),
            a.auto_restart > 0,
            a.auto_restart,
            a.restarts,
            a.owner_uid,
            a.nr_processes,
            a.spawns,
            a.exits,
            a.crashes,
            a.faults,
            a.execs,
            a.cpu_us(),
            a.mem_bytes,
            a.last_exit_status,
            a.registered_ns,
            a.last_activity_ns,
            a.throttled,
            a.risk.json(),
            a.score,
            a.status.json(),
            a.events,
            a.violations,
            a.oversight,
            a.decisions,
            a.sensitive,
            a.clean_exits,
            a.llm.requests
        )?;
        let p = &a.policy;
        write!(
            w,
            ",\"limits\":{{\"cpu_quota_ms\":{},\"mem_limit_bytes\":{},\"syscall_rate\":{},\
             \"watchdog_ms\":{}}},\"actions\":{{",
            JsonLimit(p.cpu_quota_ms),
            JsonLimit(p.mem_limit_bytes),
            JsonLimit(p.syscall_rate),
            JsonLimit(p.watchdog_ms)
        )?;
        for (i, kind) in FAULT_KINDS.iter().enumerate() {
            write!(
                w,
                "{}\"{}\":\"{}\"",
                if i == 0 { "" } else { "," },
                kind.name(),
                p.actions[*kind as usize].json()
            )?;
        }
        w.write_str("},\"recent_faults\":[")?;
        for (i, r) in a.recent_faults.iter().flatten().enumerate() {
            write!(
                w,
                "{}{{\"timestamp_ns\":{},\"type\":\"{}\",\"observed\":{},\"limit\":{},\
                 \"unit\":\"{}\",\"action\":\"{}\"}}",
                if i == 0 { "" } else { "," },
                r.timestamp_ns,
                r.kind.json(),
                r.observed,
                r.limit,
                r.kind.unit_json(),
                r.action.json()
            )?;
        }
        w.write_str("],\"last_violation\":")?;
        match &a.last_violation {
            Some(v) => write!(
                w,
                "{{\"timestamp_ns\":{},\"type\":\"{}\",\"detail\":{}}}",
                v.timestamp_ns,
                v.what.json(),
                JsonBytes(v.text())
            )?,
            None => w.write_str("null")?,
        }
        let l = &a.llm;
        write!(
            w,
            ",\"llm\":{{\"requests\":{},\"tokens_used\":{},\"rate_limited\":{},\
             \"failures\":{},\"bucket\":{{\"tokens\":{},\"burst\":{},\"refill_per_s\":{}}}}}",
            l.requests,
            l.tokens_used,
            l.rate_limited,
            l.failures,
            bucket.tokens,
            bucket.burst,
            bucket.refill_per_s
        )?;
        // Last: its keys are the fault types', which come first in
        // "actions" for a reader that takes the first match.
        w.write_str(",\"faults_by_type\":{")?;
        for (i, kind) in FAULT_KINDS.iter().enumerate() {
            let n = a.faults_by_kind.get(*kind as usize).copied().unwrap_or(0);
            write!(
                w,
                "{}\"{}\":{}",
                if i == 0 { "" } else { "," },
                kind.name(),
                n
            )?;
        }
        w.write_str("}}")
    })
}

const FAULT_KINDS: [FaultKind; 6] = [
    FaultKind::CpuQuota,
    FaultKind::Memory,
    FaultKind::SyscallFlood,
    FaultKind::Crash,
    FaultKind::CapabilityViolation,
    FaultKind::Unresponsive,
];

/// debugfs asm/events: the whole ring, oldest first.
pub(crate) fn events(asm: &Asm, w: &mut impl Write) -> fmt::Result {
    // seq_file writes only copy into its buffer: safe under the spinlock.
    let join_failures = asm.telemetry.totals.join_failures.load(Relaxed);
    let ring = asm.telemetry.ring.lock();
    writeln!(
        w,
        "events: total {} dropped {} capacity {} join_failures {}",
        ring.next_seq(),
        ring.first_seq(),
        ring.capacity(),
        join_failures
    )?;
    for e in ring.iter() {
        event_line(e, w)?;
    }
    Ok(())
}

fn event_line(e: &Event, w: &mut impl Write) -> fmt::Result {
    let secs = e.timestamp_ns / 1_000_000_000;
    let usecs = (e.timestamp_ns % 1_000_000_000) / 1000;
    write!(
        w,
        "[{:>5}.{:06}] agent {} pid {} {}",
        secs,
        usecs,
        e.agent_id,
        e.pid,
        e.kind.name()
    )?;
    let fault_name = |fault: Option<FaultKind>| fault.map_or("?", |k| k.name());
    match e.detail() {
        // An exit by a signal is ASM's kill; a crash's signal is its own.
        Detail::Ended { signal, .. } if signal != 0 && e.kind == EventKind::Exit => {
            writeln!(w, " signal {} (by ASM)", signal)
        }
        Detail::Ended { signal, .. } if signal != 0 => writeln!(w, " signal {}", signal),
        Detail::Ended { code, .. } => writeln!(w, " code {}", code),
        Detail::Restarts { count, max } => writeln!(w, " restarts {} of {}", count, max),
        Detail::Fault {
            fault,
            observed,
            limit,
        } => writeln!(
            w,
            " {} observed {} limit {} {}",
            fault_name(fault),
            observed,
            limit,
            fault.map_or("", |k| k.unit())
        ),
        Detail::Action { fault, action } => writeln!(
            w,
            " {} {}",
            fault_name(fault),
            action.map_or("?", |a| a.name())
        ),
        Detail::Release { fault } => writeln!(w, " {}", fault_name(fault)),
        Detail::Llm {
            provider,
            result,
            tokens_used,
            duration_us,
        } => writeln!(
            w,
            " {} result {} tokens {} duration_us {}",
            provider.map_or("none", |p| p.name()),
            result,
            tokens_used,
            duration_us
        ),
        Detail::Dependency {
            dependency,
            signal,
            grace_ms,
        } => writeln!(
            w,
            " dependency {} signal {} grace_ms {}",
            dependency, signal, grace_ms
        ),
        Detail::None => w.write_char('\n'),
    }
}
