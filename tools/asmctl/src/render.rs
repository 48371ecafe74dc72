// SPDX-License-Identifier: GPL-2.0

//! The two renderings of every view: the tables of the user guide's
//! "Using Shell Commands" (asmstatus, asmlist, asminfo, asmpolicy) and of
//! its compliance report, the tables of the fault detector's views
//! (history, top, limits, recovery), of the audit trail, of the sensitive
//! paths, of the dependency graph and of operation profiling, and pretty
//! JSON.
//!
//! Pure functions from the model to text, so that each layout is tested to
//! the character without a kernel.

use crate::args::{DepsAction, Limit, PatchChange, Trail};
use crate::deps::{Graph, Mark};
use crate::model::{
    risk_text, Actions, AgentInfo, AuditTrail, ComplianceReport, EffectiveLimits, Event,
    FaultRecord, History, Limits, LimitsView, LlmUsage, PolicyView, RecoveryView, SensitiveView,
    Setting, Telemetry, TopRow,
};
use crate::profile::{duration_text, percent_text, NamedStats, OpProfile};
use crate::sys::Errno;
use asm_abi::text_name;
use asm_abi::{
    action_name, audit_kind_name, capability_names, dep_kind_name, dep_op_name, dep_signal_name,
    llm_provider_name, llm_rate_of, oversight_name, patch_op_name, violation_name, AsmAuditEntry,
    AsmDepEdge, ASM_AUDIT_CASCADE, ASM_AUDIT_DEPENDENCY, ASM_AUDIT_ESCALATION, ASM_AUDIT_EXIT,
    ASM_AUDIT_FAULT_POLICY, ASM_AUDIT_LLM, ASM_AUDIT_OVERSIGHT, ASM_AUDIT_PATCH,
    ASM_AUDIT_REGISTER, ASM_AUDIT_VIOLATION, ASM_CAP_ALL, ASM_FP_SET_ACTIONS, ASM_FP_SET_LIMITS,
    ASM_PATCH_ADD_CAPABILITY, ASM_PATCH_REMOVE_CAPABILITY, ASM_PATCH_SET_LLM_RATE,
    ASM_PATCH_SET_RISK, COMPLIANCE_STATUSES, FAULT_TYPES,
};
use serde_json::Value;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// The `--json` rendering: the document pretty-printed, one value per line.
pub fn json(doc: &Value) -> String {
    // `{:#}` is serde_json's to_string_pretty, without a Result: writing a
    // Value into a String cannot fail.
    if PRETTY.load(Relaxed) {
        format!("{doc:#}\n")
    } else {
        format!("{doc}\n")
    }
}

/// Whether [`json`] indents: set once, from `--pretty` or a terminal on
/// stdout, before any output.
static PRETTY: AtomicBool = AtomicBool::new(true);

/// Lays out the JSON documents indented (`true`) or one a line.
pub fn set_pretty(pretty: bool) {
    PRETTY.store(pretty, Relaxed);
}

/// `doc` indented, whatever [`set_pretty`] said: for a file a person
/// reads (an audit export).
pub fn json_pretty(doc: &Value) -> String {
    format!("{doc:#}\n")
}

/// Appends one `label value` line; the guide aligns values at a fixed
/// column.
fn line(out: &mut String, indent: &str, width: usize, label: &str, value: impl std::fmt::Display) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "{indent}{label:<width$}{value}");
}

/// `asmstatus`: system metrics, then the recent events newest first.
pub fn status(t: &Telemetry) -> String {
    let s = &t.system;
    let mut out = String::from(
        "Agent Supervision Module - System Status\n\
         ========================================\n\
         \n\
         System Metrics:\n",
    );
    for (label, value) in [
        ("Total Spawns:", s.total_agents_spawned),
        ("Total Exits:", s.total_agents_exited),
        ("Total Crashes:", s.total_crashes),
        ("Total Faults:", s.total_faults),
        ("Total Restarts:", s.total_restarts),
        ("Active Agents:", s.active_agents),
        ("Total Syscalls:", s.total_syscalls),
        ("Events Dropped:", s.events_dropped),
    ] {
        line(&mut out, "  ", 18, label, value);
    }
    out.push_str("\nRecent Events (last 10):\n");
    if t.recent_events.is_empty() {
        out.push_str("  (none)\n");
    }
    // The kernel lists oldest first; the guide shows the newest on top.
    for event in t.recent_events.iter().rev() {
        let ms = event.timestamp_ns / 1_000_000;
        let _ = writeln!(out, "  [{ms}] {}", event_text(event));
    }
    out
}

/// One event, as the guide words it ("Agent 101 fault: CPU quota exceeded");
/// a type added after this asmctl by its name, as text writes it.
pub fn event_text(e: &Event) -> String {
    worded_event(e).unwrap_or_else(|| {
        let kind = text_name(&e.kind);
        format!("Agent {} {kind} (pid {})", e.agent_id, e.pid)
    })
}

/// The wording of an event of a type this asmctl knows.
fn worded_event(e: &Event) -> Option<String> {
    let (id, pid) = (e.agent_id, e.pid);
    let fault = e.fault.as_deref();
    let restarts = e.restarts.zip(e.max_restarts);
    Some(match e.kind.as_str() {
        "Register" => format!("Agent {id} registered (pid {pid})"),
        "Unregister" => format!("Agent {id} unregistered"),
        "Spawn" => format!("Agent {id} spawned (pid {pid})"),
        "Exec" => format!("Agent {id} exec (pid {pid})"),
        // Not a crash: the module's kill or restart action ended it.
        "Exit" if e.signal != 0 => format!("Agent {id} ended by signal {} (pid {pid})", e.signal),
        "Exit" => format!("Agent {id} exited (code {})", e.exit_code),
        "Crash" if e.signal != 0 => format!("Agent {id} crashed (signal {})", e.signal),
        "Crash" => format!("Agent {id} crashed (code {})", e.exit_code),
        "Fault" => match fault {
            Some(f) => {
                let measured = match (e.observed, e.limit, e.unit.as_deref()) {
                    (Some(observed), Some(limit), Some(unit)) => {
                        measurement(f, observed, limit, unit)
                    }
                    _ => String::new(),
                };
                format!("Agent {id} fault: {}{measured}", fault_names(f).0)
            }
            None => format!("Agent {id} fault"),
        },
        "Action" => {
            // The text name in the sentence, as the guide words events.
            let action = text_name(e.action.as_deref().unwrap_or("unknown"));
            match fault {
                Some(f) => format!("Agent {id} action: {action} ({})", fault_names(f).1),
                None => format!("Agent {id} action: {action}"),
            }
        }
        "Release" => match fault {
            Some(f) => format!("Agent {id} throttle lifted ({})", fault_names(f).1),
            None => format!("Agent {id} throttle lifted"),
        },
        // The count is of the restarts so far: the one awaited is the next.
        "Recovery" => match restarts {
            Some((n, of)) => format!(
                "Agent {id} awaits a restart (restart {} of {of})",
                n.saturating_add(1)
            ),
            None => format!("Agent {id} awaits a restart"),
        },
        "Restarted" => match restarts {
            Some((n, of)) => format!("Agent {id} restarted (restart {n} of {of})"),
            None => format!("Agent {id} restarted"),
        },
        "Failed" => match restarts {
            // No budget is the usual case, not worth "0 of 0".
            Some((_, 0)) => format!("Agent {id} failed (no restart allowed)"),
            Some((n, 1)) => format!("Agent {id} failed ({n} of 1 restart used)"),
            Some((n, of)) => format!("Agent {id} failed ({n} of {of} restarts used)"),
            None => format!("Agent {id} failed"),
        },
        "LlmRequest" => llm_event_text(e),
        "Cascade" | "DependencyHeld" | "DependencyLost" => dependency_event_text(e),
        _ => return None,
    })
}

/// A dependency event: what the end of the agent it names did to this one
/// ("Agent 7002 cascade: dependency 7001 ended, SIGTERM, SIGKILL after
/// 800 ms").
fn dependency_event_text(e: &Event) -> String {
    let id = e.agent_id;
    let dep = e
        .dependency
        .map_or_else(|| "a dependency".to_string(), |d| format!("dependency {d}"));
    let grace = e.grace_ms.map(|ms| format!("{ms} ms"));
    match (e.kind.as_str(), e.signal, grace) {
        // The stop begins: SIGKILL follows unless the agent is gone by then.
        ("Cascade", libc::SIGTERM, Some(grace)) => {
            format!("Agent {id} cascade: {dep} ended, SIGTERM, SIGKILL after {grace}")
        }
        ("Cascade", libc::SIGKILL, Some(grace)) => {
            format!("Agent {id} cascade: {dep} ended, SIGKILL ({grace} grace over)")
        }
        ("Cascade", sig, _) => format!(
            "Agent {id} cascade: {dep} ended, {}",
            signal_text(sig.into())
        ),
        ("DependencyHeld", _, Some(grace)) => {
            format!("Agent {id} held: {dep} in recovery, waits up to {grace}")
        }
        ("DependencyHeld", _, None) => format!("Agent {id} held: {dep} in recovery"),
        (_, 0, _) => format!("Agent {id} {dep} ended (optional), no signal sent"),
        (_, sig, _) => format!(
            "Agent {id} {dep} ended (optional), sent {}",
            signal_text(sig.into())
        ),
    }
}

/// A signal an edge or a dependency event names: one an edge may send
/// (`SIGUSR1`), a cascade's last (`SIGKILL`), or `signal N` for one this
/// asmctl does not know (wide enough for an event's `i32` and an edge's
/// `u32`).
fn signal_text(signal: i64) -> String {
    if signal == i64::from(libc::SIGKILL) {
        return "SIGKILL".into();
    }
    u32::try_from(signal)
        .ok()
        .and_then(dep_signal_name)
        .map_or_else(|| format!("signal {signal}"), String::from)
}

/// An LLM request's event: who answered and the figures, or the errno it
/// failed with ("Agent 100 LLM request answered by claude (12 tokens,
/// 35 ms)").
fn llm_event_text(e: &Event) -> String {
    let id = e.agent_id;
    let took = e.duration_us.map(ms_text);
    if let Some(r) = e.result.filter(|r| *r != 0) {
        let after = took.map_or_else(String::new, |t| format!(" after {t}"));
        return format!(
            "Agent {id} LLM request failed: {}{after}",
            errno_name(r.saturating_neg())
        );
    }
    let by = e
        .provider
        .as_deref()
        .map_or_else(String::new, |p| format!(" by {}", text_name(p)));
    let figures: Vec<String> = e
        .tokens_used
        .map(|t| format!("{t} tokens"))
        .into_iter()
        .chain(took)
        .collect();
    let figures = if figures.is_empty() {
        String::new()
    } else {
        format!(" ({})", figures.join(", "))
    };
    format!("Agent {id} LLM request answered{by}{figures}")
}

/// A duration in microseconds as the LLM views show it: whole ms, rounded.
fn ms_text(us: u64) -> String {
    format!("{} ms", us.saturating_add(500) / 1000)
}

/// How the views name each fault type: what happened (events, faults), the
/// fault itself (actions), and the user guide's title (tables, asminfo).
const FAULT_NAMES: [(&str, &str, &str, &str); 6] = [
    ("cpu_quota", "CPU quota exceeded", "CPU quota", "CPU Quota"),
    (
        "memory",
        "memory limit exceeded",
        "memory limit",
        "Memory Limit",
    ),
    (
        "syscall_flood",
        "syscall flood",
        "syscall flood",
        "Syscall Flood",
    ),
    ("crash", "crash", "crash", "Crash"),
    (
        "capability_violation",
        "capability violation",
        "capability violation",
        "Capability Violation",
    ),
    (
        "unresponsive",
        "unresponsive (watchdog timeout)",
        "unresponsive",
        "Unresponsive",
    ),
];

/// The (event, short, title) names of the fault called `name`, as a JSON
/// value (`CpuQuota`) or key (`cpu_quota`) names it; a type this asmctl
/// does not know goes by its text name (`policy_violation`).
fn fault_names(name: &str) -> (String, String, String) {
    let key = FAULT_TYPES
        .iter()
        .find(|t| t.json == name)
        .map_or(name, |t| t.name);
    FAULT_NAMES.iter().find(|f| f.0 == key).map_or_else(
        || {
            let text = text_name(name);
            (text.clone(), text.clone(), text)
        },
        |f| (f.1.into(), f.2.into(), f.3.into()),
    )
}

/// " (observed 950 ms, limit 300 ms)" for fault `fault`'s figures in
/// `unit` (both as JSON documents name them). A crash's figure is the
/// wait(2) status of the process, worded as asmstatus words a crash event;
/// another wait status is shown as it is.
fn measurement(fault: &str, observed: u64, limit: u64, unit: &str) -> String {
    let with_unit = |v: u64| match unit {
        "Milliseconds" => format!("{v} ms"),
        "Bytes" => format!("{v} bytes"),
        "PerSecond" => format!("{v}/s"),
        other => format!("{v} {}", text_name(other)),
    };
    match (fault, unit) {
        ("Crash", "WaitStatus") if observed & 0x7f != 0 => {
            format!(" (signal {})", observed & 0x7f)
        }
        ("Crash", "WaitStatus") => format!(" (code {})", (observed >> 8) & 0xff),
        (_, "WaitStatus") => format!(" (status {observed})"),
        (_, "Violation") => format!(
            " ({})",
            asm_abi::violation_name(observed as u32)
                .map_or_else(|| "unknown violation".into(), text_name)
        ),
        _ => format!(
            " (observed {}, limit {})",
            with_unit(observed),
            with_unit(limit)
        ),
    }
}

/// `bytes` the way people read sizes: 512B, 3.9M, 100M (powers of 1024,
/// as `--mem` takes them).
pub fn size_text(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "K", "M", "G", "T"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    // One decimal below 10 (3.9M), none from 10 on or where it would be
    // ".0"; decide on the rounded figure, so 9.96M is 10M, not 10.0M.
    let tenths = (value * 10.0).round() / 10.0;
    if unit == 0 || tenths >= 10.0 || tenths.fract() == 0.0 {
        format!("{value:.0}{}", UNITS[unit])
    } else {
        format!("{tenths:.1}{}", UNITS[unit])
    }
}

/// Which limit a [`Setting`] belongs to, for its unit.
#[derive(Clone, Copy)]
enum LimitKind {
    CpuQuota,
    Memory,
    SyscallRate,
    Watchdog,
}

/// The four limits with their guide titles, in the order views list them.
fn limit_rows(l: &Limits) -> [(&'static str, LimitKind, Setting); 4] {
    [
        ("CPU Quota", LimitKind::CpuQuota, l.cpu_quota_ms),
        ("Memory Limit", LimitKind::Memory, l.mem_limit_bytes),
        ("Syscall Rate", LimitKind::SyscallRate, l.syscall_rate),
        ("Watchdog", LimitKind::Watchdog, l.watchdog_ms),
    ]
}

/// One limit: "default", "none", or the value with its unit.
fn limit_text(kind: LimitKind, setting: Setting) -> String {
    let v = match setting {
        Setting::Default => return "default".into(),
        Setting::Unlimited => return "none".into(),
        Setting::Value(v) => v,
    };
    match kind {
        LimitKind::CpuQuota => format!("{v} ms per window"),
        LimitKind::Memory if v >= 1024 => format!("{v} bytes ({})", size_text(v)),
        LimitKind::Memory => format!("{v} bytes"),
        LimitKind::SyscallRate => format!("{v}/s"),
        LimitKind::Watchdog => format!("{v} ms"),
    }
}

/// How a column's cells line up.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// Appends a header row and `rows`, each column as wide as its widest cell
/// and two spaces from the next; numbers align right. No trailing spaces.
fn table(out: &mut String, columns: &[(&str, Align)], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = columns.iter().map(|c| c.0.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = columns.iter().map(|c| c.0.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = " ".repeat(widths[i].saturating_sub(cell.chars().count()));
            match columns[i].1 {
                Align::Left => {
                    line.push_str(cell);
                    line.push_str(&pad);
                }
                Align::Right => {
                    line.push_str(&pad);
                    line.push_str(cell);
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "Yes"
    } else {
        "No"
    }
}

/// `asmctl history`: the windows oldest first, timed relative to the
/// newest, then the totals and the rates over the last 10 windows.
pub fn history(h: &History) -> String {
    let mut out = format!(
        "History of agent {} ({} ms windows, oldest first):\n",
        h.agent_id, h.window_ms
    );
    let newest = h.windows.last().map_or(0, |w| w.start_ns);
    let rows: Vec<Vec<String>> = h
        .windows
        .iter()
        .map(|w| {
            // Rounded to the second: the sampler's work item runs a little
            // late now and then.
            let ago = newest
                .saturating_sub(w.start_ns)
                .saturating_add(500_000_000)
                / 1_000_000_000;
            vec![
                if ago == 0 {
                    "0".into()
                } else {
                    format!("-{ago}")
                },
                (w.cpu_ns.saturating_add(500_000) / 1_000_000).to_string(),
                h.cpu_percent(w).map_or("-".into(), |p| format!("{p:.1}")),
                w.rss_bytes.to_string(),
                w.syscalls.to_string(),
                w.io_ops.to_string(),
            ]
        })
        .collect();
    if rows.is_empty() {
        out.push_str("  (no window sampled yet)\n");
    } else {
        table(
            &mut out,
            &[
                ("TIME(s)", Align::Right),
                ("CPU(ms)", Align::Right),
                ("CPU%", Align::Right),
                ("RSS(B)", Align::Right),
                ("SYSCALLS", Align::Right),
                ("IO_OPS", Align::Right),
            ],
            &rows,
        );
    }

    out.push_str("\nTotals:\n");
    for (label, value) in [
        ("CPU Time:", format!("{} μs", h.cpu_ns / 1000)),
        ("Syscalls:", h.syscalls.to_string()),
        ("IO Ops:", h.io_ops.to_string()),
        ("RSS Now:", format!("{} bytes", h.rss_bytes)),
        ("RSS Peak:", format!("{} bytes", h.rss_peak_bytes)),
        ("Throttled:", yes_no(h.throttled).into()),
    ] {
        line(&mut out, "  ", 15, label, value);
    }

    let last = h.last(10);
    if !last.is_empty() {
        let _ = writeln!(out, "\nLast {} windows:", last.len());
        let rate = |r: Option<f64>, unit: &str| r.map_or("-".into(), |r| format!("{r:.1}{unit}"));
        line(
            &mut out,
            "  ",
            15,
            "CPU:",
            rate(h.cpu_percent_over(last), "%"),
        );
        line(
            &mut out,
            "  ",
            15,
            "Syscalls/s:",
            rate(h.syscall_rate_over(last), ""),
        );
    }
    out
}

/// One frame of `asmctl top`.
pub fn top(rows: &[TopRow]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.agent_id.to_string(),
                r.name.clone(),
                r.state.clone(),
                r.cpu_percent.map_or("-".into(), |p| format!("{p:.1}")),
                size_text(r.rss_bytes),
                r.syscalls_per_s.map_or("-".into(), |s| format!("{s:.0}")),
                r.faults.to_string(),
                r.llm_requests.map_or("-".into(), |n| n.to_string()),
                r.llm_tokens.map_or("-".into(), |n| n.to_string()),
                if r.throttled { "yes" } else { "no" }.into(),
            ]
        })
        .collect();
    let mut out = String::new();
    table(
        &mut out,
        &[
            ("ID", Align::Left),
            ("NAME", Align::Left),
            ("STATE", Align::Left),
            ("CPU%", Align::Right),
            ("RSS", Align::Right),
            ("SYSCALLS/s", Align::Right),
            ("FAULTS", Align::Right),
            ("LLM_REQS", Align::Right),
            ("LLM_TOKENS", Align::Right),
            ("THROTTLED", Align::Left),
        ],
        &cells,
    );
    out
}

/// `asmctl limits`: an agent's own and effective limits, or the defaults.
pub fn limits(v: &LimitsView) -> String {
    let mut out = String::new();
    let rows: Vec<Vec<String>>;
    match &v.effective {
        Some(effective) => {
            let _ = writeln!(out, "Limits of agent {}:", v.agent_id);
            rows = limit_rows(&v.limits)
                .iter()
                .zip(limit_rows(effective))
                .map(|((title, kind, own), (_, _, eff))| {
                    vec![
                        title.to_string(),
                        limit_text(*kind, *own),
                        limit_text(*kind, eff),
                    ]
                })
                .collect();
            table(
                &mut out,
                &[
                    ("LIMIT", Align::Left),
                    ("SETTING", Align::Left),
                    ("EFFECTIVE", Align::Left),
                ],
                &rows,
            );
        }
        None => {
            out.push_str("Default limits:\n");
            rows = limit_rows(&v.limits)
                .iter()
                .map(|(title, kind, value)| vec![title.to_string(), limit_text(*kind, *value)])
                .collect();
            table(
                &mut out,
                &[("LIMIT", Align::Left), ("VALUE", Align::Left)],
                &rows,
            );
        }
    }
    out
}

/// An action's name as text gives it (`throttle`), or its number for a
/// value this asmctl does not know.
fn action_text(action: Result<&str, u8>) -> String {
    match action {
        Ok(name) => text_name(name),
        Err(value) => format!("unknown ({value})"),
    }
}

/// `asmctl recovery`: an agent's own and effective actions, or the
/// defaults.
pub fn recovery(v: &RecoveryView) -> String {
    let mut out = String::new();
    let titled = |a: &Actions| -> Vec<(String, String)> {
        a.named()
            .map(|(fault, action)| (fault_names(fault).2, action_text(action)))
            .collect()
    };
    match &v.effective {
        Some(effective) => {
            let _ = writeln!(out, "Recovery actions of agent {}:", v.agent_id);
            let rows: Vec<Vec<String>> = titled(&v.actions)
                .into_iter()
                .zip(titled(effective))
                .map(|((title, own), (_, eff))| vec![title.to_string(), own, eff])
                .collect();
            table(
                &mut out,
                &[
                    ("FAULT", Align::Left),
                    ("SETTING", Align::Left),
                    ("EFFECTIVE", Align::Left),
                ],
                &rows,
            );
        }
        None => {
            out.push_str("Default recovery actions:\n");
            let rows: Vec<Vec<String>> = titled(&v.actions)
                .into_iter()
                .map(|(title, action)| vec![title.to_string(), action])
                .collect();
            table(
                &mut out,
                &[("FAULT", Align::Left), ("ACTION", Align::Left)],
                &rows,
            );
        }
    }
    out
}

/// Column widths of the guide's asmlist table: ID, PID, Name,
/// Capabilities, Restarts, and State with --all. Each column is as wide as
/// the guide's, or as its longest cell and two spaces, so that a long name
/// or capability list widens its column instead of pushing the next out of
/// line; the dashes under a header are two shorter than its column.
const LIST_WIDTHS: [usize; 6] = [6, 6, 18, 20, 10, 11];

/// `asmlist`: `agents` is what to show (already filtered); `all` adds the
/// State column and changes the heading.
pub fn list(agents: &[AgentInfo], all: bool) -> String {
    let mut header = vec!["ID", "PID", "Name", "Capabilities", "Restarts"];
    if all {
        header.push("State");
    }
    let rows: Vec<Vec<String>> = agents
        .iter()
        .map(|agent| {
            let pid = match agent.pid {
                0 => "-".to_string(),
                pid => pid.to_string(),
            };
            let caps = match agent.capabilities.join(",") {
                caps if caps.is_empty() => "-".to_string(),
                caps => caps,
            };
            let mut cells = vec![
                agent.agent_id.to_string(),
                pid,
                agent.name.clone(),
                caps,
                agent.restart_count.to_string(),
            ];
            if all {
                cells.push(agent.state.clone());
            }
            cells
        })
        .collect();
    let widths: Vec<usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let longest = rows
                .iter()
                .map(|r| r[i].chars().count())
                .chain(std::iter::once(h.chars().count()))
                .max()
                .unwrap_or(0);
            LIST_WIDTHS[i].max(longest + 2)
        })
        .collect();
    let dashes: Vec<String> = widths.iter().map(|w| "-".repeat(w - 2)).collect();
    let mut out = String::from(if all { "Agents:\n" } else { "Active Agents:\n" });
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for cells in [&header, &dashes].into_iter().chain(&rows) {
        let mut line = String::new();
        for (cell, width) in cells.iter().zip(&widths) {
            line.push_str(cell);
            line.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `asminfo`: one agent; `now_ns` is `CLOCK_BOOTTIME` now, for the age of
/// its last activity.
pub fn info(a: &AgentInfo, now_ns: u64) -> String {
    let mut out = String::from("Agent Information:\n==================\n");
    let top = |out: &mut String, label: &str, value: &dyn std::fmt::Display| {
        line(out, "", 17, label, value)
    };
    let or_none = |text: String| {
        if text.is_empty() {
            "(none)".into()
        } else {
            text
        }
    };
    top(&mut out, "Agent ID:", &a.agent_id);
    match a.pid {
        0 => top(&mut out, "PID:", &"-"),
        pid => top(&mut out, "PID:", &pid),
    }
    top(&mut out, "Name:", &a.name);
    top(&mut out, "State:", &a.state);
    top(
        &mut out,
        "Capabilities:",
        &or_none(a.capabilities.join(", ")),
    );
    top(&mut out, "Scope:", &or_none(a.scope.clone()));
    if a.auto_restart {
        top(
            &mut out,
            "Auto-Restart:",
            &format!("Yes (max {})", a.max_restarts),
        );
    } else {
        top(&mut out, "Auto-Restart:", &"No");
    }
    top(&mut out, "Restart Count:", &a.restart_count);
    // A module from before risk levels does not say.
    if let Some(risk) = &a.risk_level {
        top(&mut out, "Risk Level:", risk);
    }
    // Nor does one from before the dependency graph.
    if let Some(deps) = &a.deps {
        top(
            &mut out,
            "Dependencies:",
            &neighbours(&deps.dependencies, dependency_of),
        );
        top(
            &mut out,
            "Dependents:",
            &neighbours(&deps.dependents, dependent_of),
        );
    }

    out.push_str("\nTelemetry:\n");
    for (label, value) in [
        ("Spawn Count:", a.spawn_count.to_string()),
        ("Exit Count:", a.exit_count.to_string()),
        ("Crash Count:", a.crash_count.to_string()),
        ("Fault Count:", a.fault_count.to_string()),
        ("CPU Time:", format!("{} μs", a.cpu_time_us)),
        ("Memory:", format!("{} bytes", a.memory_bytes)),
    ] {
        line(&mut out, "  ", 15, label, value);
    }

    // A timestamp ahead of our clock reading (it raced us) is "0 seconds".
    let secs = now_ns.saturating_sub(a.last_activity_ns) / 1_000_000_000;
    out.push('\n');
    top(&mut out, "Last Activity:", &format!("{secs} seconds ago"));

    // The fault detector's sections; a module from before it sends none of
    // these fields, and the sections are left out.
    if a.limits.is_some() || a.throttled.is_some() {
        out.push_str("\nLimits:\n");
        if let Some(l) = &a.limits {
            info_limits(&mut out, l);
        }
        if let Some(throttled) = a.throttled {
            line(&mut out, "  ", 15, "Throttled:", yes_no(throttled));
        }
    }
    if let Some(actions) = &a.actions {
        out.push_str("\nRecovery:\n");
        info_actions(&mut out, actions);
    }
    if let Some(faults) = &a.recent_faults {
        out.push_str("\nRecent Faults:\n");
        if faults.is_empty() {
            out.push_str("  (none)\n");
        }
        // Newest first, as asmstatus lists events.
        for f in faults.iter().rev() {
            let _ = writeln!(
                out,
                "  [{}] {}",
                f.timestamp_ns / 1_000_000,
                fault_record_text(f)
            );
        }
    }
    // The gateway's section; a module from before it sends no `llm`.
    if let Some(llm) = &a.llm {
        out.push_str("\nLLM:\n");
        info_llm(&mut out, llm);
    }
    // Profiling's; none for an agent that reported no operation, or from
    // a module from before it.
    if let Some(slowest) = a.slowest.as_ref().filter(|s| !s.is_empty()) {
        out.push_str("\nSlowest Operations:\n");
        info_slowest(&mut out, slowest);
    }
    out
}

/// asminfo's slowest operations: `op  p95 X  p99 Y  (N samples)`, each
/// column as wide as its widest cell.
fn info_slowest(out: &mut String, ops: &[NamedStats]) {
    let rows: Vec<[String; 4]> = ops
        .iter()
        .map(|(name, s)| {
            [
                name.clone(),
                format!("p95 {}", duration_text(s.p95_ns)),
                format!("p99 {}", duration_text(s.p99_ns)),
                match s.total {
                    1 => "(1 sample)".into(),
                    n => format!("({n} samples)"),
                },
            ]
        })
        .collect();
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let widths = [width(0), width(1), width(2)];
    for [name, p95, p99, samples] in &rows {
        let _ = writeln!(
            out,
            "  {name:<w0$}  {p95:<w1$}  {p99:<w2$}  {samples}",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
    }
}

/// The agent document's `llm` object: its use of the gateway and its
/// token bucket.
fn info_llm(out: &mut String, l: &LlmUsage) {
    let b = &l.bucket;
    for (label, value) in [
        ("Requests:", l.requests.to_string()),
        ("Tokens Used:", l.tokens_used.to_string()),
        ("Rate Limited:", l.rate_limited.to_string()),
        ("Failures:", l.failures.to_string()),
        (
            "Bucket:",
            format!(
                "{} of {} tokens, refill {}/s",
                b.tokens, b.burst, b.refill_per_s
            ),
        ),
    ] {
        line(out, "  ", 15, label, value);
    }
}

/// The effective limits of the agent document: `null` is no limit.
fn info_limits(out: &mut String, l: &EffectiveLimits) {
    let setting = |v: Option<u64>| v.map_or(Setting::Unlimited, Setting::Value);
    let limits = Limits {
        cpu_quota_ms: setting(l.cpu_quota_ms),
        mem_limit_bytes: setting(l.mem_limit_bytes),
        syscall_rate: setting(l.syscall_rate),
        watchdog_ms: setting(l.watchdog_ms),
    };
    for (title, kind, value) in limit_rows(&limits) {
        line(out, "  ", 15, &format!("{title}:"), limit_text(kind, value));
    }
}

/// The agent document's actions in fault order, then any fault type this
/// asmctl does not know, under its JSON name.
fn info_actions(out: &mut String, actions: &std::collections::BTreeMap<String, String>) {
    let known = FAULT_TYPES.iter().map(|f| f.name);
    let unknown = actions
        .keys()
        .map(String::as_str)
        .filter(|k| FAULT_TYPES.iter().all(|f| f.name != *k));
    for fault in known.chain(unknown) {
        if let Some(action) = actions.get(fault) {
            let action = text_name(action);
            line(out, "  ", 23, &format!("{}:", fault_names(fault).2), action);
        }
    }
}

/// One of the agent document's recent faults.
fn fault_record_text(f: &FaultRecord) -> String {
    format!(
        "{}{} -> {}",
        fault_names(&f.kind).0,
        measurement(&f.kind, f.observed, f.limit, &f.unit),
        text_name(&f.action)
    )
}

/// A compliance status as the user guide's report writes it
/// (`COMPLIANT`), from its JSON name (`Compliant`); an unknown one as it is.
fn status_text(json: &str) -> &str {
    COMPLIANCE_STATUSES
        .iter()
        .find(|(_, name)| *name == json)
        .and_then(|(value, _)| asm_abi::compliance_status_text(*value))
        .unwrap_or(json)
}

/// A score in thousandths as the guide's percentage: `100%`, `70.5%`.
pub fn score_percent(score: u32) -> String {
    match score % 10 {
        0 => format!("{}%", score / 10),
        tenths => format!("{}.{tenths}%", score / 10),
    }
}

/// `asmpolicy`: the guide's layout, plus the risk level.
pub fn policy(p: &PolicyView) -> String {
    let title = format!("Policy for Agent {}:", p.agent_id);
    let mut out = format!("{title}\n{}\n", "=".repeat(title.chars().count()));
    out.push_str("Capabilities:\n");
    if p.capabilities.is_empty() {
        out.push_str("  (none)\n");
    }
    for cap in &p.capabilities {
        let _ = writeln!(out, "  - {cap}");
    }
    let scope = if p.scope.is_empty() {
        "(none)"
    } else {
        &p.scope
    };
    let _ = write!(
        out,
        "\nScope:\n  Path: {scope}\n\
         \nAuto-Restart: {}\n\
         Max Restarts: {}\n\
         Current Restarts: {}\n\
         Risk Level: {}\n\
         \nResource Limits:\n",
        yes_no(p.auto_restart),
        p.max_restarts,
        p.restart_count,
        p.risk_level
    );
    let unlimited_or = |s: Setting, text: &dyn Fn(u64) -> String| match s {
        Setting::Value(v) => text(v),
        // The view holds effective limits: "default" is resolved already.
        Setting::Unlimited | Setting::Default => "unlimited".to_string(),
    };
    for (label, value) in [
        (
            "CPU Quota:",
            // The quota is ms per 1000 ms window; the guide shows μs.
            unlimited_or(p.limits.cpu_quota_ms, &|v| {
                format!("{} μs", v.saturating_mul(1000))
            }),
        ),
        (
            "Memory Limit:",
            unlimited_or(p.limits.mem_limit_bytes, &|v| format!("{v} bytes")),
        ),
        (
            "Syscall Rate:",
            unlimited_or(p.limits.syscall_rate, &|v| format!("{v}/sec")),
        ),
    ] {
        line(&mut out, "  ", 15, label, value);
    }
    out
}

/// `compliance`: the guide's EU AI Act report.
pub fn compliance(r: &ComplianceReport) -> String {
    let mut out = String::from("EU AI Act Compliance Report\n===========================\n\n");
    for (label, value) in [
        ("Timestamp:", r.timestamp.to_string()),
        ("Total Agents:", r.total_agents.to_string()),
        ("Total Events:", r.total_events.to_string()),
        ("Policy Violations:", r.policy_violations.to_string()),
        ("System Compliance:", score_percent(r.system_score)),
    ] {
        line(&mut out, "", 20, label, value);
    }
    out.push_str("\nRisk Level Distribution:\n");
    let d = &r.risk_levels;
    for (label, count) in [
        ("Minimal:", d.minimal),
        ("Limited:", d.limited),
        ("High:", d.high),
        ("Unacceptable:", d.unacceptable),
    ] {
        line(&mut out, "  ", 18, label, count);
    }
    out.push_str("\nAgent Compliance Details:\n-------------------------\n");
    if r.agents.is_empty() {
        out.push_str("\n  (none)\n");
    }
    for a in &r.agents {
        let _ = writeln!(out, "\nAgent ID: {}", a.agent_id);
        for (label, value) in [
            ("Risk Level:", a.risk_level.clone()),
            ("Events Logged:", a.events.to_string()),
            ("Violations:", a.violations.to_string()),
            ("Human Oversight:", a.oversight.to_string()),
            ("Compliance Score:", score_percent(a.score)),
            ("Status:", status_text(&a.status).to_string()),
            // After the guide's lines, which scripts count on.
            ("LLM Requests:", a.llm_requests.to_string()),
        ] {
            line(&mut out, "  ", 18, label, value);
        }
    }
    out
}

/// `unix_secs` as `YYYY-MM-DD HH:MM:SS` (proleptic Gregorian calendar), the
/// caller having added the time zone's offset.
pub fn date_time(unix_secs: i64) -> String {
    // Howard Hinnant's days-to-civil algorithm, eras of 400 years.
    let (days, secs) = (unix_secs.div_euclid(86_400), unix_secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// The symbolic name of errno `e` for the errors the module returns, else
/// the number.
fn errno_name(e: i32) -> String {
    Errno(e)
        .name()
        .map_or_else(|| format!("errno {e}"), String::from)
}

/// An audit entry's result: `ok`, or the errno the request was refused
/// with.
fn audit_result(result: i32) -> String {
    match result {
        0 => "ok".into(),
        r if r < 0 => errno_name(r.saturating_neg()),
        r => r.to_string(),
    }
}

/// What an audit entry's `op` means for its kind.
fn audit_op(e: &AsmAuditEntry) -> String {
    let named = match e.kind {
        ASM_AUDIT_PATCH | ASM_AUDIT_ESCALATION => patch_op_name(e.op),
        ASM_AUDIT_VIOLATION => violation_name(e.op),
        ASM_AUDIT_OVERSIGHT => oversight_name(e.op),
        // The provider that answered; 0 when none did.
        ASM_AUDIT_LLM => llm_provider_name(e.op),
        ASM_AUDIT_DEPENDENCY => dep_op_name(e.op),
        ASM_AUDIT_FAULT_POLICY => match e.op & (ASM_FP_SET_LIMITS | ASM_FP_SET_ACTIONS) {
            f if f != e.op => None,
            ASM_FP_SET_LIMITS => Some("limits"),
            ASM_FP_SET_ACTIONS => Some("actions"),
            _ => Some("limits+actions"),
        },
        _ => None,
    };
    match (named, e.op) {
        (Some(name), _) => text_name(name),
        (None, 0) => "-".into(),
        (None, op) => op.to_string(),
    }
}

/// Capability names, comma-separated, for the audit trail's values.
fn caps_text(bits: u64) -> String {
    let names: Vec<&str> = capability_names(bits).collect();
    let unknown = bits & !ASM_CAP_ALL;
    match (names.is_empty(), unknown) {
        (true, 0) => "-".into(),
        (_, 0) => names.join(","),
        _ => format!(
            "{}{unknown:#x}",
            names.iter().map(|n| format!("{n},")).collect::<String>()
        ),
    }
}

/// A risk level stored in a u64 audit value.
fn risk_value(v: u64) -> String {
    match u32::try_from(v) {
        Ok(r) => risk_text(r),
        Err(_) => v.to_string(),
    }
}

/// An audit entry's old and new value, read as its kind and op define
/// them.
fn audit_values(e: &AsmAuditEntry) -> String {
    let (old, new) = (e.old_value, e.new_value);
    match (e.kind, e.op) {
        (ASM_AUDIT_REGISTER, _) => format!("risk {}", risk_value(new)),
        (
            ASM_AUDIT_PATCH | ASM_AUDIT_ESCALATION,
            ASM_PATCH_ADD_CAPABILITY | ASM_PATCH_REMOVE_CAPABILITY,
        ) => format!("{} -> {}", caps_text(old), caps_text(new)),
        (ASM_AUDIT_PATCH, ASM_PATCH_SET_RISK) => {
            format!("{} -> {}", risk_value(old), risk_value(new))
        }
        (ASM_AUDIT_PATCH, ASM_PATCH_SET_LLM_RATE) => {
            format!("{} -> {}", llm_rate_text(old), llm_rate_text(new))
        }
        (ASM_AUDIT_LLM, _) => format!("{old} tokens, {}", ms_text(new)),
        (ASM_AUDIT_VIOLATION, _) => {
            let action = u8::try_from(new).ok().and_then(action_name);
            format!(
                "action {}",
                action.map_or_else(|| new.to_string(), text_name)
            )
        }
        (ASM_AUDIT_EXIT, _) => format!("syscalls {old}, execs {new}"),
        // The entry's agent is the one stopped.
        (ASM_AUDIT_CASCADE, _) => format!("{old} ended, grace {new} ms"),
        // The entry's agent is the dependent.
        (ASM_AUDIT_DEPENDENCY, _) => match u32::try_from(new) {
            Ok(0) => format!("on {old}"),
            Ok(kind) => format!("on {old} ({})", dep_kind_text(kind)),
            Err(_) => format!("on {old} (kind {new})"),
        },
        _ if old == 0 && new == 0 => "-".into(),
        _ => format!("{old} -> {new}"),
    }
}

/// An LLM rate as a SET_LLM_RATE audit value holds it: "burst 30, 10/s".
fn llm_rate_text(v: u64) -> String {
    let (burst, refill) = llm_rate_of(v);
    format!("burst {burst}, {refill}/s")
}

/// Text from the kernel, one line of it: control characters escaped.
pub fn printable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// `asmctl audit`: what the kernel kept, then one row per entry, its time
/// in the local zone (`utc_offset` gives the zone's offset at a time).
pub fn audit(t: &AuditTrail, utc_offset: &dyn Fn(i64) -> i64) -> String {
    let title = match t.trail {
        Trail::Policy => "Audit trail",
        Trail::Llm => "LLM audit trail",
    };
    let mut out = match t.next_seq.checked_sub(1) {
        Some(last) if t.first_seq <= last => {
            format!("{title}: seq {}..{last} kept", t.first_seq)
        }
        _ => format!("{title}: no entries kept"),
    };
    let _ = writeln!(
        out,
        ", next seq {}, dropped: {} (overflow), suppressed: {} (rate limit)",
        t.next_seq, t.dropped, t.suppressed
    );
    if t.entries.is_empty() {
        out.push_str("  (no entries)\n");
        return out;
    }
    let rows: Vec<Vec<String>> = t
        .entries
        .iter()
        .map(|e| {
            let secs = i64::try_from(e.time_ns / 1_000_000_000).unwrap_or(i64::MAX / 2);
            let detail = match printable(e.detail()) {
                d if d.is_empty() => "-".to_string(),
                d => d,
            };
            vec![
                e.seq.to_string(),
                date_time(secs.saturating_add(utc_offset(secs))),
                audit_kind_name(e.kind).map_or_else(|| e.kind.to_string(), text_name),
                e.agent_id.to_string(),
                format!("{}/{}", e.uid, e.pid),
                format!("{}/{}", audit_op(e), audit_result(e.result)),
                audit_values(e),
                detail,
            ]
        })
        .collect();
    table(
        &mut out,
        &[
            ("SEQ", Align::Right),
            ("TIME", Align::Left),
            ("KIND", Align::Left),
            ("AGENT", Align::Right),
            ("UID/PID", Align::Left),
            ("OP/RESULT", Align::Left),
            ("OLD->NEW", Align::Left),
            ("DETAIL", Align::Left),
        ],
        &rows,
    );
    out
}

/// `asmctl sensitive`: the marked paths.
pub fn sensitive(v: &SensitiveView) -> String {
    let mut out = format!("Sensitive paths ({} of {}):\n", v.paths.len(), v.max);
    if v.paths.is_empty() {
        out.push_str("  (none)\n");
    }
    for path in &v.paths {
        let _ = writeln!(out, "  {}", printable(path.as_bytes()));
    }
    out
}

/// An `ASM_DEP_*` kind's name, or "kind N" for one this asmctl does not
/// know.
fn dep_kind_text(kind: u32) -> String {
    dep_kind_name(kind).map_or_else(|| format!("kind {kind}"), text_name)
}

/// An edge's kind and, if it has one, its signal: "optional, SIGUSR1".
fn edge_text(kind: u32, signal: u32) -> String {
    match signal {
        0 => dep_kind_text(kind),
        s => format!("{}, {}", dep_kind_text(kind), signal_text(s.into())),
    }
}

/// The agents at the other end of `edges` (`other` picks it) with each
/// edge's kind and signal: "101 (required), 102 (optional, SIGUSR1)", or
/// "none".
fn neighbours(edges: &[AsmDepEdge], other: fn(&AsmDepEdge) -> u32) -> String {
    if edges.is_empty() {
        return "none".into();
    }
    let each: Vec<String> = edges
        .iter()
        .map(|e| format!("{} ({})", other(e), edge_text(e.kind, e.signal)))
        .collect();
    each.join(", ")
}

/// The dependency end of an edge, for [`neighbours`].
fn dependency_of(e: &AsmDepEdge) -> u32 {
    e.dependency
}

/// The dependent end of an edge, for [`neighbours`].
fn dependent_of(e: &AsmDepEdge) -> u32 {
    e.dependent
}

/// Agent ids, comma-separated, or "none".
fn id_list(ids: &[u32]) -> String {
    if ids.is_empty() {
        return "none".into();
    }
    let each: Vec<String> = ids.iter().map(u32::to_string).collect();
    each.join(", ")
}

/// `asmctl deps`: every edge, `DEPENDENT -> DEPENDENCY (kind)`, one per
/// line, as /proc/agentsys/status lists them, with an optional edge's
/// signal after its kind.
pub fn deps(graph: &Graph) -> String {
    if graph.edges().is_empty() {
        return "no dependencies\n".into();
    }
    let mut out = String::new();
    for e in graph.edges() {
        let _ = writeln!(
            out,
            "{} -> {} ({})",
            e.dependent,
            e.dependency,
            edge_text(e.kind, e.signal)
        );
    }
    out
}

/// `asmctl deps ID`: the agent's dependencies as a tree, then its direct
/// dependents and the agents that stop with it, in stop order.
pub fn deps_tree(graph: &Graph, id: u32) -> String {
    let tree = graph.tree(id);
    let mut out = if tree.is_empty() {
        format!("agent {id}: no dependencies\n")
    } else {
        format!("agent {id}\n")
    };
    for line in tree {
        let mark = match line.mark {
            Mark::None => "",
            Mark::Repeated => " [see above]",
            Mark::Cycle => " [cycle]",
        };
        let _ = writeln!(
            out,
            "{}{} ({}){mark}",
            line.prefix,
            line.id,
            edge_text(line.kind, line.signal)
        );
    }
    let _ = writeln!(
        out,
        "dependents: {}",
        neighbours(&graph.dependent_edges(id), dependent_of)
    );
    let _ = writeln!(out, "stops with: {}", id_list(&graph.cascade(id)));
    out
}

/// `asmctl deps add|remove`'s report: `agent ID: <what changed> (audit
/// #SEQ)`, as `patch` words its own.
pub fn dep_changed(action: DepsAction, audit_seq: u64) -> String {
    let (id, what) = match action {
        DepsAction::Show(_) => return String::new(),
        DepsAction::Add {
            dependent,
            dependency,
            kind,
            signal,
        } => {
            let sends = match signal {
                0 => String::new(),
                s => format!(", {} when it ends", signal_text(s.into())),
            };
            (
                dependent,
                format!(
                    "{} dependency on agent {dependency} added{sends}",
                    dep_kind_text(kind)
                ),
            )
        }
        DepsAction::Remove {
            dependent,
            dependency,
        } => (
            dependent,
            format!("dependency on agent {dependency} removed"),
        ),
    };
    format!("agent {id}: {what} (audit #{audit_seq})\n")
}

/// `asmctl profile` and `asmctl profile ID`: one row per operation, with
/// the agent's column when `agent` is set; durations with three
/// significant digits. "no profiled operations" for none.
pub fn profile_table(rows: &[OpProfile], agent: bool) -> String {
    if rows.is_empty() {
        return "no profiled operations\n".into();
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let mut row = Vec::with_capacity(10);
            if agent {
                row.push(r.agent.map_or("all".into(), |id| id.to_string()));
            }
            row.extend([
                r.op.clone(),
                r.total.to_string(),
                r.percent(),
                duration_text(r.min_ns),
                duration_text(r.avg_ns),
                duration_text(r.p50_ns),
                duration_text(r.p95_ns),
                duration_text(r.p99_ns),
                duration_text(r.max_ns),
            ]);
            row
        })
        .collect();
    let mut columns = Vec::with_capacity(10);
    if agent {
        columns.push(("AGENT", Align::Left));
    }
    columns.extend([
        ("OP", Align::Left),
        ("SAMPLES", Align::Right),
        ("OK%", Align::Right),
        ("MIN", Align::Right),
        ("AVG", Align::Right),
        ("P50", Align::Right),
        ("P95", Align::Right),
        ("P99", Align::Right),
        ("MAX", Align::Right),
    ]);
    let mut out = String::new();
    table(&mut out, &columns, &cells);
    out
}

/// `asmctl profile ID OP` and `asmctl profile --all OP`: one operation,
/// one figure a line.
pub fn profile_op(r: &OpProfile) -> String {
    let mut out = String::new();
    let agent = match r.agent {
        Some(id) => id.to_string(),
        None => "every agent you can see".into(),
    };
    for (label, value) in [
        (
            if r.agent.is_some() {
                "Agent:"
            } else {
                "Agents:"
            },
            agent,
        ),
        ("Operation:", r.op.clone()),
        ("Samples:", r.total.to_string()),
        ("Kept:", r.kept.to_string()),
        (
            "Succeeded:",
            format!("{} ({}%)", r.successes, percent_text(r.successes, r.total)),
        ),
        ("Min:", duration_text(r.min_ns)),
        ("Max:", duration_text(r.max_ns)),
        ("Avg:", duration_text(r.avg_ns)),
        ("Median (p50):", duration_text(r.p50_ns)),
        ("p95:", duration_text(r.p95_ns)),
        ("p99:", duration_text(r.p99_ns)),
    ] {
        line(&mut out, "", 15, label, value);
    }
    out
}

/// One limit of a patch, in words.
fn limit_change_text(kind: LimitKind, limit: Limit) -> String {
    match limit {
        Limit::Default => "default".into(),
        Limit::Unlimited => "none".into(),
        Limit::Value(v) => limit_text(kind, Setting::Value(v)),
    }
}

/// `asmctl patch`'s report: `agent ID: <what changed> (audit #SEQ)`.
pub fn patched(id: u32, change: &PatchChange, audit_seq: u64) -> String {
    let what = match change {
        PatchChange::AddCaps(bits) => format!(
            "added {}",
            capability_names(*bits).collect::<Vec<_>>().join(", ")
        ),
        PatchChange::RemoveCaps(bits) => format!(
            "removed {}",
            capability_names(*bits).collect::<Vec<_>>().join(", ")
        ),
        PatchChange::Scope(scope) if scope.is_empty() => "scope removed".into(),
        PatchChange::Scope(scope) => format!("scope set to {scope}"),
        PatchChange::AutoRestart(n) => format!("restart budget set to {n}"),
        PatchChange::Risk(risk) => format!("risk level set to {}", risk_text(*risk)),
        PatchChange::LlmRate { burst, refill } => {
            format!("LLM rate set to burst {burst}, refill {refill}/s")
        }
        PatchChange::Limits(l) => {
            let set: Vec<String> = [
                ("CPU quota", LimitKind::CpuQuota, l.cpu_quota_ms),
                ("memory limit", LimitKind::Memory, l.mem_limit_bytes),
                ("syscall rate", LimitKind::SyscallRate, l.syscall_rate),
                ("watchdog", LimitKind::Watchdog, l.watchdog_ms),
            ]
            .into_iter()
            .filter_map(|(name, kind, limit)| {
                limit.map(|limit| format!("{name} {}", limit_change_text(kind, limit)))
            })
            .collect();
            format!("limits set: {}", set.join(", "))
        }
    };
    format!("agent {id}: {what} (audit #{audit_seq})\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::fixtures;

    fn agent() -> AgentInfo {
        serde_json::from_str(fixtures::AGENT_INFO).unwrap()
    }

    fn event(kind: &str, exit_code: i32, signal: i32) -> Event {
        Event {
            timestamp_ns: 0,
            kind: kind.into(),
            agent_id: 101,
            pid: 43,
            exit_code,
            signal,
            ..Event::default()
        }
    }

    #[test]
    fn status_of_the_documented_telemetry() {
        let t = serde_json::from_str(fixtures::TELEMETRY).unwrap();
        assert_eq!(
            status(&t),
            "\
Agent Supervision Module - System Status
========================================

System Metrics:
  Total Spawns:     3
  Total Exits:      2
  Total Crashes:    1
  Total Faults:     1
  Total Restarts:   0
  Active Agents:    1
  Total Syscalls:   812
  Events Dropped:   0

Recent Events (last 10):
  [12345] Agent 100 exited (code 0)
"
        );
    }

    #[test]
    fn status_like_the_guide() {
        let mut t: Telemetry = serde_json::from_str(fixtures::TELEMETRY).unwrap();
        t.system.total_agents_spawned = 15;
        t.system.total_agents_exited = 12;
        t.system.total_crashes = 2;
        t.system.total_faults = 3;
        t.system.total_restarts = 2;
        t.system.active_agents = 3;
        t.system.total_syscalls = 45678;
        t.recent_events = vec![
            Event {
                timestamp_ns: 12_345_665_000_000,
                kind: "Fault".into(),
                agent_id: 101,
                pid: 43,
                fault: Some("CpuQuota".into()),
                observed: Some(950),
                limit: Some(300),
                unit: Some("Milliseconds".into()),
                ..Event::default()
            },
            Event {
                timestamp_ns: 12_345_670_123_456,
                kind: "Spawn".into(),
                agent_id: 102,
                pid: 44,
                ..Event::default()
            },
            Event {
                timestamp_ns: 12_345_678_999_999,
                kind: "Exit".into(),
                agent_id: 103,
                pid: 45,
                ..Event::default()
            },
        ];
        assert_eq!(
            status(&t),
            "\
Agent Supervision Module - System Status
========================================

System Metrics:
  Total Spawns:     15
  Total Exits:      12
  Total Crashes:    2
  Total Faults:     3
  Total Restarts:   2
  Active Agents:    3
  Total Syscalls:   45678
  Events Dropped:   0

Recent Events (last 10):
  [12345678] Agent 103 exited (code 0)
  [12345670] Agent 102 spawned (pid 44)
  [12345665] Agent 101 fault: CPU quota exceeded (observed 950 ms, limit 300 ms)
"
        );
    }

    #[test]
    fn status_without_events() {
        let mut t: Telemetry = serde_json::from_str(fixtures::TELEMETRY).unwrap();
        t.recent_events.clear();
        assert!(status(&t).ends_with("\nRecent Events (last 10):\n  (none)\n"));
    }

    #[test]
    fn event_texts() {
        for (e, want) in [
            (event("Register", 0, 0), "Agent 101 registered (pid 43)"),
            (event("Unregister", 0, 0), "Agent 101 unregistered"),
            (event("Spawn", 0, 0), "Agent 101 spawned (pid 43)"),
            (event("Exec", 0, 0), "Agent 101 exec (pid 43)"),
            (event("Exit", 0, 0), "Agent 101 exited (code 0)"),
            (event("Exit", 0, 9), "Agent 101 ended by signal 9 (pid 43)"),
            (event("Crash", 0, 11), "Agent 101 crashed (signal 11)"),
            (event("Crash", 3, 0), "Agent 101 crashed (code 3)"),
            (event("Fault", 0, 0), "Agent 101 fault"),
            (event("Action", 0, 0), "Agent 101 action: unknown"),
            (event("Release", 0, 0), "Agent 101 throttle lifted"),
            (event("Recovery", 0, 0), "Agent 101 awaits a restart"),
            (event("Restarted", 0, 0), "Agent 101 restarted"),
            (event("Failed", 0, 0), "Agent 101 failed"),
            (event("oom", 0, 0), "Agent 101 oom (pid 43)"),
            (event("LlmRequest", 0, 0), "Agent 101 LLM request answered"),
        ] {
            assert_eq!(event_text(&e), want);
        }
    }

    /// Every event type the ABI defines has its own wording, not the one
    /// of a type added after this asmctl.
    #[test]
    fn every_event_type_is_worded() {
        for (_, name) in asm_abi::EVENT_TYPES {
            assert!(worded_event(&event(name, 0, 0)).is_some(), "{name}");
        }
        assert_eq!(worded_event(&event("oom", 0, 0)), None);
    }

    fn dependency_event(kind: &str, signal: i32, grace_ms: u64) -> Event {
        Event {
            pid: 0,
            dependency: Some(7001),
            grace_ms: Some(grace_ms),
            ..event(kind, 0, signal)
        }
    }

    #[test]
    fn dependency_event_texts() {
        for (e, want) in [
            (
                dependency_event("Cascade", libc::SIGTERM, 800),
                "Agent 101 cascade: dependency 7001 ended, SIGTERM, SIGKILL after 800 ms",
            ),
            (
                dependency_event("Cascade", libc::SIGKILL, 800),
                "Agent 101 cascade: dependency 7001 ended, SIGKILL (800 ms grace over)",
            ),
            (
                dependency_event("DependencyHeld", 0, 1500),
                "Agent 101 held: dependency 7001 in recovery, waits up to 1500 ms",
            ),
            (
                dependency_event("DependencyLost", libc::SIGUSR1, 0),
                "Agent 101 dependency 7001 ended (optional), sent SIGUSR1",
            ),
            (
                dependency_event("DependencyLost", 0, 0),
                "Agent 101 dependency 7001 ended (optional), no signal sent",
            ),
            (
                dependency_event("DependencyLost", 40, 0),
                "Agent 101 dependency 7001 ended (optional), sent signal 40",
            ),
            // A document without the figures still reads.
            (
                event("Cascade", 0, libc::SIGTERM),
                "Agent 101 cascade: a dependency ended, SIGTERM",
            ),
            (
                event("DependencyHeld", 0, 0),
                "Agent 101 held: a dependency in recovery",
            ),
        ] {
            assert_eq!(event_text(&e), want);
        }
    }

    fn llm_event(provider: Option<&str>, result: i32, tokens: u64, us: u64) -> Event {
        Event {
            provider: provider.map(String::from),
            result: Some(result),
            tokens_used: Some(tokens),
            duration_us: Some(us),
            ..event("LlmRequest", 0, 0)
        }
    }

    #[test]
    fn llm_event_texts() {
        for (e, want) in [
            (
                llm_event(Some("claude"), 0, 12, 35_499),
                "Agent 101 LLM request answered by claude (12 tokens, 35 ms)",
            ),
            (
                llm_event(Some("local"), 0, 0, 400),
                "Agent 101 LLM request answered by local (0 tokens, 0 ms)",
            ),
            (
                llm_event(None, -libc::ETIMEDOUT, 0, 1_500_200),
                "Agent 101 LLM request failed: ETIMEDOUT after 1500 ms",
            ),
            (
                llm_event(None, -libc::EIO, 0, 2_000),
                "Agent 101 LLM request failed: EIO after 2 ms",
            ),
            (
                llm_event(None, -4000, 0, 1_000),
                "Agent 101 LLM request failed: errno 4000 after 1 ms",
            ),
            (
                Event {
                    result: Some(-libc::EIO),
                    ..event("LlmRequest", 0, 0)
                },
                "Agent 101 LLM request failed: EIO",
            ),
        ] {
            assert_eq!(event_text(&e), want);
        }
    }

    fn restart_event(kind: &str, restarts: u64, max_restarts: u64) -> Event {
        Event {
            restarts: Some(restarts),
            max_restarts: Some(max_restarts),
            ..event(kind, 0, 0)
        }
    }

    #[test]
    fn restart_event_texts() {
        for (e, want) in [
            (
                restart_event("Recovery", 0, 3),
                "Agent 101 awaits a restart (restart 1 of 3)",
            ),
            (
                restart_event("Recovery", 2, 3),
                "Agent 101 awaits a restart (restart 3 of 3)",
            ),
            (
                restart_event("Recovery", u64::MAX, u64::MAX),
                "Agent 101 awaits a restart (restart 18446744073709551615 of 18446744073709551615)",
            ),
            (
                restart_event("Restarted", 1, 3),
                "Agent 101 restarted (restart 1 of 3)",
            ),
            (
                restart_event("Failed", 3, 3),
                "Agent 101 failed (3 of 3 restarts used)",
            ),
            // A kill action ends an agent whatever its budget.
            (
                restart_event("Failed", 0, 3),
                "Agent 101 failed (0 of 3 restarts used)",
            ),
            (
                restart_event("Failed", 1, 1),
                "Agent 101 failed (1 of 1 restart used)",
            ),
            (
                restart_event("Failed", 0, 0),
                "Agent 101 failed (no restart allowed)",
            ),
        ] {
            assert_eq!(event_text(&e), want);
        }
    }

    fn fault_event(kind: &str, fault: &str, figures: Option<(u64, u64, &str)>) -> Event {
        Event {
            fault: Some(fault.into()),
            observed: figures.map(|f| f.0),
            limit: figures.map(|f| f.1),
            unit: figures.map(|f| f.2.into()),
            action: (kind == "Action").then(|| "Throttle".into()),
            ..event(kind, 0, 0)
        }
    }

    #[test]
    fn fault_event_texts() {
        for (e, want) in [
            (
                fault_event("Fault", "CpuQuota", Some((950, 300, "Milliseconds"))),
                "Agent 101 fault: CPU quota exceeded (observed 950 ms, limit 300 ms)",
            ),
            (
                fault_event("Fault", "Memory", Some((2048, 1024, "Bytes"))),
                "Agent 101 fault: memory limit exceeded (observed 2048 bytes, limit 1024 bytes)",
            ),
            (
                fault_event("Fault", "SyscallFlood", Some((1500, 1000, "PerSecond"))),
                "Agent 101 fault: syscall flood (observed 1500/s, limit 1000/s)",
            ),
            // wait(2) statuses: killed by SIGSEGV, exited with code 3.
            (
                fault_event("Fault", "Crash", Some((139, 0, "WaitStatus"))),
                "Agent 101 fault: crash (signal 11)",
            ),
            (
                fault_event("Fault", "Crash", Some((0x300, 0, "WaitStatus"))),
                "Agent 101 fault: crash (code 3)",
            ),
            (
                fault_event("Fault", "CapabilityViolation", Some((5, 0, "WaitStatus"))),
                "Agent 101 fault: capability violation (status 5)",
            ),
            (
                fault_event("Fault", "CapabilityViolation", None),
                "Agent 101 fault: capability violation",
            ),
            (
                fault_event("Fault", "Unresponsive", Some((31000, 30000, "Milliseconds"))),
                "Agent 101 fault: unresponsive (watchdog timeout) (observed 31000 ms, limit 30000 ms)",
            ),
            // A fault type or unit from a newer module shows as sent.
            (
                fault_event("Fault", "PolicyViolation", Some((3, 2, "Files"))),
                "Agent 101 fault: policy_violation (observed 3 files, limit 2 files)",
            ),
            (
                fault_event("Action", "CpuQuota", None),
                "Agent 101 action: throttle (CPU quota)",
            ),
            (
                fault_event("Action", "Memory", None),
                "Agent 101 action: throttle (memory limit)",
            ),
            (
                fault_event("Release", "CpuQuota", None),
                "Agent 101 throttle lifted (CPU quota)",
            ),
            (
                fault_event("Release", "SyscallFlood", None),
                "Agent 101 throttle lifted (syscall flood)",
            ),
        ] {
            assert_eq!(event_text(&e), want);
        }
    }

    #[test]
    fn sizes_for_people() {
        for (bytes, want) in [
            (0, "0B"),
            (1023, "1023B"),
            (1024, "1K"),
            (1536, "1.5K"),
            (4_096_000, "3.9M"),
            (100 << 20, "100M"),
            (10_444_800, "10M"),
            (3 << 30, "3G"),
            (5 << 40, "5T"),
            (u64::MAX, "16777216T"),
        ] {
            assert_eq!(size_text(bytes), want, "{bytes}");
        }
    }

    fn sample_history(windows: usize) -> History {
        let mut raw = asm_abi::AsmHistory::new(100, 0, 60);
        raw.window_ms = 1000;
        raw.cpu_ns = 125_000_000;
        raw.syscalls = 9000;
        raw.io_ops = 300;
        raw.rss_bytes = 4_096_000;
        raw.rss_peak_bytes = 8_192_000;
        raw.throttled = 1;
        let windows: Vec<asm_abi::AsmWindow> = (0..windows as u64)
            .map(|i| asm_abi::AsmWindow {
                // The sampler ran 3 ms late once.
                start_ns: 5_000_000_000 + i * 1_000_000_000 + if i == 1 { 3_000_000 } else { 0 },
                cpu_ns: i * 100_000_000 + 400_000,
                rss_bytes: 4_096_000 + i * 4096,
                syscalls: 100 * i,
                io_ops: i,
            })
            .collect();
        History::new(&raw, &windows)
    }

    #[test]
    fn history_table() {
        assert_eq!(
            history(&sample_history(3)),
            "\
History of agent 100 (1000 ms windows, oldest first):
TIME(s)  CPU(ms)  CPU%   RSS(B)  SYSCALLS  IO_OPS
     -2        0   0.0  4096000         0       0
     -1      100  10.0  4100096       100       1
      0      200  20.0  4104192       200       2

Totals:
  CPU Time:      125000 μs
  Syscalls:      9000
  IO Ops:        300
  RSS Now:       4096000 bytes
  RSS Peak:      8192000 bytes
  Throttled:     Yes

Last 3 windows:
  CPU:           10.0%
  Syscalls/s:    100.0
"
        );
    }

    #[test]
    fn history_rates_use_the_last_10_windows() {
        let text = history(&sample_history(60));
        assert!(text.contains("\n    -59  "), "{text}");
        assert!(text.contains("\n      0  "), "{text}");
        // Windows 50..=59: 54504 ms of CPU in 10 s (several threads busy),
        // 54500 syscalls.
        assert!(
            text.ends_with("Last 10 windows:\n  CPU:           545.0%\n  Syscalls/s:    5450.0\n"),
            "{text}"
        );
    }

    #[test]
    fn history_before_the_first_sample() {
        let text = history(&sample_history(0));
        assert!(
            text.starts_with(
                "History of agent 100 (1000 ms windows, oldest first):\n  (no window sampled yet)\n\nTotals:\n"
            ),
            "{text}"
        );
        assert!(!text.contains("Last"), "{text}");
    }

    #[test]
    fn top_frame() {
        let rows = [
            TopRow {
                agent_id: 100,
                name: "fs_monitor".into(),
                state: "Active".into(),
                cpu_percent: Some(12.5),
                rss_bytes: 4_096_000,
                syscalls_per_s: Some(130.0),
                faults: 0,
                llm_requests: Some(17),
                llm_tokens: Some(4242),
                throttled: false,
            },
            TopRow {
                agent_id: 1001,
                name: "a_much_longer_agent_name".into(),
                state: "Recovery".into(),
                cpu_percent: None,
                rss_bytes: 0,
                syscalls_per_s: None,
                faults: 12,
                llm_requests: None,
                llm_tokens: None,
                throttled: true,
            },
        ];
        assert_eq!(
            top(&rows),
            "\
ID    NAME                      STATE     CPU%   RSS  SYSCALLS/s  FAULTS  LLM_REQS  LLM_TOKENS  THROTTLED
100   fs_monitor                Active    12.5  3.9M         130       0        17        4242  no
1001  a_much_longer_agent_name  Recovery     -    0B           -      12         -           -  yes
"
        );
        assert_eq!(
            top(&[]),
            "ID  NAME  STATE  CPU%  RSS  SYSCALLS/s  FAULTS  LLM_REQS  LLM_TOKENS  THROTTLED\n"
        );
    }

    fn limits_of(cpu: Setting, mem: Setting, rate: Setting, watchdog: Setting) -> Limits {
        Limits {
            cpu_quota_ms: cpu,
            mem_limit_bytes: mem,
            syscall_rate: rate,
            watchdog_ms: watchdog,
        }
    }

    #[test]
    fn limits_of_an_agent_and_the_defaults() {
        let view = LimitsView {
            agent_id: 100,
            limits: limits_of(
                Setting::Default,
                Setting::Value(100 << 20),
                Setting::Unlimited,
                Setting::Default,
            ),
            effective: Some(limits_of(
                Setting::Value(500),
                Setting::Value(100 << 20),
                Setting::Unlimited,
                Setting::Value(30000),
            )),
        };
        assert_eq!(
            limits(&view),
            "\
Limits of agent 100:
LIMIT         SETTING                 EFFECTIVE
CPU Quota     default                 500 ms per window
Memory Limit  104857600 bytes (100M)  104857600 bytes (100M)
Syscall Rate  none                    none
Watchdog      default                 30000 ms
"
        );
        let view = LimitsView {
            agent_id: 0,
            limits: limits_of(
                Setting::Value(500),
                Setting::Value(512),
                Setting::Value(1000),
                Setting::Unlimited,
            ),
            effective: None,
        };
        assert_eq!(
            limits(&view),
            "\
Default limits:
LIMIT         VALUE
CPU Quota     500 ms per window
Memory Limit  512 bytes
Syscall Rate  1000/s
Watchdog      none
"
        );
    }

    #[test]
    fn recovery_of_an_agent_and_the_defaults() {
        let view = RecoveryView {
            agent_id: 100,
            actions: Actions([0, 0, 1, 0, 0, 0, 7, 0]),
            effective: Some(Actions([0, 2, 1, 2, 4, 3, 4, 0])),
        };
        assert_eq!(
            recovery(&view),
            "\
Recovery actions of agent 100:
FAULT                 SETTING      EFFECTIVE
CPU Quota             default      throttle
Memory Limit          log          log
Syscall Flood         default      throttle
Crash                 default      restart
Capability Violation  default      kill
Unresponsive          unknown (7)  restart
"
        );
        let view = RecoveryView {
            agent_id: 0,
            actions: Actions([0, 1, 1, 1, 1, 1, 1, 0]),
            effective: None,
        };
        assert_eq!(
            recovery(&view),
            "\
Default recovery actions:
FAULT                 ACTION
CPU Quota             log
Memory Limit          log
Syscall Flood         log
Crash                 log
Capability Violation  log
Unresponsive          log
"
        );
    }

    /// The three agents of the guide's asmlist example.
    fn guide_agents() -> Vec<AgentInfo> {
        let mut agents = Vec::new();
        for (id, pid, name, cap, restarts) in [
            (100, 42, "fs_monitor", "FsBasic", 0),
            (101, 43, "net_agent", "NetClient", 2),
            (102, 44, "audio_ctrl", "AudioControl", 0),
        ] {
            let mut a = agent();
            a.agent_id = id;
            a.pid = pid;
            a.name = name.into();
            a.capabilities = vec![cap.into()];
            a.restart_count = restarts;
            agents.push(a);
        }
        agents
    }

    #[test]
    fn list_like_the_guide() {
        assert_eq!(
            list(&guide_agents(), false),
            "\
Active Agents:
ID    PID   Name              Capabilities        Restarts
----  ----  ----------------  ------------------  --------
100   42    fs_monitor        FsBasic             0
101   43    net_agent         NetClient           2
102   44    audio_ctrl        AudioControl        0
"
        );
    }

    #[test]
    fn list_all_adds_state() {
        let mut agents = guide_agents();
        agents[1].state = "Restarted".into();
        agents[2].pid = 0;
        agents[2].state = "Exited".into();
        agents[2].capabilities.clear();
        assert_eq!(
            list(&agents, true),
            "\
Agents:
ID    PID   Name              Capabilities        Restarts  State
----  ----  ----------------  ------------------  --------  ---------
100   42    fs_monitor        FsBasic             0         Active
101   43    net_agent         NetClient           2         Restarted
102   -     audio_ctrl        -                   0         Exited
"
        );
    }

    #[test]
    fn list_of_the_documented_agent_keeps_columns_apart() {
        let mut a = agent();
        a.name = "a_name_of_exactly_18".into();
        a.capabilities.push("LlmAccess".into());
        assert_eq!(
            list(&[a], false),
            "\
Active Agents:
ID    PID   Name                  Capabilities                  Restarts
----  ----  --------------------  ----------------------------  --------
100   42    a_name_of_exactly_18  FsBasic,FsExtended,LlmAccess  0
"
        );
    }

    #[test]
    fn empty_list_keeps_the_header() {
        assert_eq!(
            list(&[], false),
            "\
Active Agents:
ID    PID   Name              Capabilities        Restarts
----  ----  ----------------  ------------------  --------
"
        );
    }

    #[test]
    fn info_of_the_documented_agent() {
        // last_activity_ns is 2 ms; 2 s and a bit later:
        let now = 2_000_000 + 2_999_999_999;
        assert_eq!(
            info(&agent(), now),
            "\
Agent Information:
==================
Agent ID:        100
PID:             42
Name:            fs_monitor
State:           Active
Capabilities:    FsBasic, FsExtended
Scope:           /tmp/ws/
Auto-Restart:    Yes (max 3)
Restart Count:   0

Telemetry:
  Spawn Count:   1
  Exit Count:    0
  Crash Count:   0
  Fault Count:   0
  CPU Time:      125000 μs
  Memory:        4096000 bytes

Last Activity:   2 seconds ago
"
        );
    }

    #[test]
    fn info_with_the_fault_detector_sections() {
        let a: AgentInfo = serde_json::from_str(&fixtures::agent_info_with_faults()).unwrap();
        let text = info(&a, 2_000_000);
        let (old, new) = text.split_once("Last Activity:   0 seconds ago\n").unwrap();
        // The guide's layout is unchanged up to its last line.
        assert_eq!(
            format!("{old}Last Activity:   0 seconds ago\n"),
            info(&agent(), 2_000_000)
        );
        assert_eq!(
            new,
            "
Limits:
  CPU Quota:     300 ms per window
  Memory Limit:  104857600 bytes (100M)
  Syscall Rate:  none
  Watchdog:      30000 ms
  Throttled:     Yes

Recovery:
  CPU Quota:             throttle
  Memory Limit:          kill
  Syscall Flood:         throttle
  Crash:                 restart
  Capability Violation:  kill
  Unresponsive:          restart

Recent Faults:
  [1900] crash (signal 11) -> restart
  [1500] CPU quota exceeded (observed 950 ms, limit 300 ms) -> throttle
"
        );
    }

    #[test]
    fn info_sections_tolerate_partial_documents() {
        let mut a = agent();
        a.state = "Recovery".into();
        a.throttled = Some(false);
        a.recent_faults = Some(Vec::new());
        let mut actions = std::collections::BTreeMap::new();
        actions.insert("memory".to_string(), "log".to_string());
        actions.insert("policy_violation".to_string(), "kill".to_string());
        a.actions = Some(actions);
        let text = info(&a, 0);
        assert!(text.contains("\nState:           Recovery\n"), "{text}");
        assert!(
            text.ends_with(
                "\nLimits:\n  Throttled:     No\n\
                 \nRecovery:\n  Memory Limit:          log\n  policy_violation:      kill\n\
                 \nRecent Faults:\n  (none)\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn info_of_an_agent_without_extras() {
        let mut a = agent();
        a.pid = 0;
        a.capabilities.clear();
        a.scope.clear();
        a.auto_restart = false;
        a.max_restarts = 0;
        let text = info(&a, 0);
        for want in [
            "\nPID:             -\n",
            "\nCapabilities:    (none)\n",
            "\nScope:           (none)\n",
            "\nAuto-Restart:    No\n",
            "\nLast Activity:   0 seconds ago\n",
        ] {
            assert!(text.contains(want), "{want:?} not in\n{text}");
        }
    }

    fn guide_policy() -> PolicyView {
        let mut info = asm_abi::AsmAgentInfo::new(100);
        info.capabilities = asm_abi::ASM_CAP_FS_BASIC | asm_abi::ASM_CAP_FS_EXTENDED;
        info.scope[..21].copy_from_slice(b"/tmp/agent_workspace/");
        info.auto_restart = 3;
        info.risk_level = asm_abi::ASM_RISK_LIMITED;
        let mut effective = asm_abi::AsmFaultPolicy::new(100, asm_abi::ASM_FP_EFFECTIVE);
        effective.cpu_quota_ms = 1000;
        effective.mem_limit_bytes = 104857600;
        effective.syscall_rate = 1000;
        effective.watchdog_ms = 30000;
        PolicyView::new(&info, &effective)
    }

    #[test]
    fn policy_like_the_guide() {
        assert_eq!(
            policy(&guide_policy()),
            "\
Policy for Agent 100:
=====================
Capabilities:
  - FsBasic
  - FsExtended

Scope:
  Path: /tmp/agent_workspace/

Auto-Restart: Yes
Max Restarts: 3
Current Restarts: 0
Risk Level: Limited

Resource Limits:
  CPU Quota:     1000000 μs
  Memory Limit:  104857600 bytes
  Syscall Rate:  1000/sec
"
        );
    }

    #[test]
    fn policy_without_anything() {
        let mut info = asm_abi::AsmAgentInfo::new(1000);
        info.risk_level = asm_abi::ASM_RISK_HIGH;
        info.restart_count = 0;
        let effective = asm_abi::AsmFaultPolicy::new(1000, asm_abi::ASM_FP_EFFECTIVE);
        let view = PolicyView::new(&info, &effective);
        assert_eq!(
            policy(&view),
            "\
Policy for Agent 1000:
======================
Capabilities:
  (none)

Scope:
  Path: (none)

Auto-Restart: No
Max Restarts: 0
Current Restarts: 0
Risk Level: High

Resource Limits:
  CPU Quota:     unlimited
  Memory Limit:  unlimited
  Syscall Rate:  unlimited
"
        );
        assert_eq!(
            serde_json::to_value(&view).unwrap(),
            serde_json::json!({"agent_id": 1000, "capabilities": [], "scope": "",
                "auto_restart": false, "max_restarts": 0, "restart_count": 0,
                "risk_level": "High", "limits": {"cpu_quota_ms": null,
                "mem_limit_bytes": null, "syscall_rate": null, "watchdog_ms": null}})
        );
    }

    fn agent_compliance(
        id: u32,
        risk: u32,
        counts: [u64; 4],
        events: u64,
    ) -> asm_abi::AsmCompliance {
        let [violations, crashes, oversight, clean_exits] = counts;
        let mut c = asm_abi::AsmCompliance::new(id);
        c.risk_level = risk;
        c.events = events;
        c.violations = violations;
        c.crashes = crashes;
        c.oversight = oversight;
        c.clean_exits = clean_exits;
        c.score = asm_abi::compliance_score(violations, crashes, oversight, clean_exits);
        c.status = asm_abi::compliance_status(c.score);
        c
    }

    #[test]
    fn compliance_like_the_guide() {
        let agents = [
            agent_compliance(100, asm_abi::ASM_RISK_LIMITED, [0, 0, 2, 0], 45),
            // 1000 - 300 - 50 + 25 + 30: 705.
            agent_compliance(101, asm_abi::ASM_RISK_HIGH, [2, 1, 1, 3], 30),
        ];
        let report = ComplianceReport::new(1234567890, &agents, Some(150));
        assert_eq!(
            compliance(&report),
            "\
EU AI Act Compliance Report
===========================

Timestamp:          1234567890
Total Agents:       2
Total Events:       150
Policy Violations:  2
System Compliance:  85.3%

Risk Level Distribution:
  Minimal:          0
  Limited:          1
  High:             1
  Unacceptable:     0

Agent Compliance Details:
-------------------------

Agent ID: 100
  Risk Level:       Limited
  Events Logged:    45
  Violations:       0
  Human Oversight:  2
  Compliance Score: 100%
  Status:           COMPLIANT
  LLM Requests:     0

Agent ID: 101
  Risk Level:       High
  Events Logged:    30
  Violations:       2
  Human Oversight:  1
  Compliance Score: 70.5%
  Status:           REVIEW_NEEDED
  LLM Requests:     0
"
        );
        // Without the trail, the agents' own counts add up.
        let report = ComplianceReport::new(1, &agents, None);
        assert_eq!(report.total_events, 75);
        let doc = serde_json::to_value(&report).unwrap();
        assert_eq!(doc["system_score"], 853);
        assert_eq!(doc["system_compliance"], 85.3);
        assert_eq!(doc["risk_levels"]["high"], 1);
        assert_eq!(doc["agents"][1]["score"], 705);
        assert_eq!(doc["agents"][1]["compliance"], 70.5);
        assert_eq!(doc["agents"][1]["status"], "ReviewNeeded");
        assert_eq!(doc["agents"][1]["clean_exits"], 3);
        assert_eq!(doc["agents"][1]["llm_requests"], 0);
        let mut with_llm = agents;
        with_llm[1].llm_requests = 17;
        let report = ComplianceReport::new(1, &with_llm, None);
        assert!(
            compliance(&report)
                .ends_with("  Status:           REVIEW_NEEDED\n  LLM Requests:     17\n"),
            "{}",
            compliance(&report)
        );
        assert_eq!(
            serde_json::to_value(&report).unwrap()["agents"][1]["llm_requests"],
            17
        );
    }

    #[test]
    fn compliance_without_agents() {
        let report = ComplianceReport::new(5, &[], None);
        let text = compliance(&report);
        assert!(
            text.contains("Total Agents:       0\nTotal Events:       0\n"),
            "{text}"
        );
        assert!(text.contains("System Compliance:  100%\n"), "{text}");
        assert!(
            text.ends_with("-------------------------\n\n  (none)\n"),
            "{text}"
        );
    }

    #[test]
    fn percentages_of_scores() {
        for (score, want) in [
            (1000, "100%"),
            (950, "95%"),
            (705, "70.5%"),
            (1, "0.1%"),
            (0, "0%"),
        ] {
            assert_eq!(score_percent(score), want);
        }
    }

    #[test]
    fn dates_in_the_proleptic_calendar() {
        for (secs, want) in [
            (0, "1970-01-01 00:00:00"),
            (951782400, "2000-02-29 00:00:00"),
            (1764163594, "2025-11-26 13:26:34"),
            (-1, "1969-12-31 23:59:59"),
            (4102444799, "2099-12-31 23:59:59"),
        ] {
            assert_eq!(date_time(secs), want, "{secs}");
        }
    }

    /// An audit entry at 2025-11-26 13:26:34 UTC plus `seq` seconds.
    fn audit_entry(
        seq: u64,
        kind: u32,
        op: u32,
        values: (u64, u64),
        detail: &str,
    ) -> AsmAuditEntry {
        let mut e = AsmAuditEntry::ZERO;
        e.seq = seq;
        e.time_ns = (1764163594 + seq) * 1_000_000_000 + 999;
        e.kind = kind;
        e.op = op;
        e.agent_id = 100;
        e.uid = 0;
        e.pid = 4242;
        (e.old_value, e.new_value) = values;
        e.set_detail(detail.as_bytes()).unwrap();
        e
    }

    #[test]
    fn audit_table() {
        use asm_abi::*;
        let mut escalation = audit_entry(
            3,
            ASM_AUDIT_ESCALATION,
            ASM_PATCH_ADD_CAPABILITY,
            (ASM_CAP_FS_BASIC, ASM_CAP_FS_BASIC | ASM_CAP_ADMIN),
            "",
        );
        (escalation.uid, escalation.pid, escalation.result) = (1000, 77, -libc::EPERM);
        let mut policy = audit_entry(5, ASM_AUDIT_FAULT_POLICY, ASM_FP_SET_LIMITS, (0, 0), "");
        policy.agent_id = 0;
        let mut refused_dep = audit_entry(
            10,
            ASM_AUDIT_DEPENDENCY,
            ASM_DEP_REMOVE,
            (102, ASM_DEP_OPTIONAL.into()),
            "",
        );
        (refused_dep.uid, refused_dep.pid, refused_dep.result) = (1000, 77, -libc::EPERM);
        let trail = AuditTrail {
            trail: Trail::Policy,
            first_seq: 0,
            next_seq: 11,
            dropped: 0,
            suppressed: 0,
            entries: vec![
                audit_entry(
                    0,
                    ASM_AUDIT_REGISTER,
                    0,
                    (0, ASM_RISK_LIMITED.into()),
                    "fs_monitor",
                ),
                audit_entry(
                    1,
                    ASM_AUDIT_PATCH,
                    ASM_PATCH_ADD_CAPABILITY,
                    (ASM_CAP_FS_BASIC, ASM_CAP_FS_BASIC | ASM_CAP_NET_CLIENT),
                    "",
                ),
                audit_entry(2, ASM_AUDIT_PATCH, ASM_PATCH_SET_RISK, (2, 3), ""),
                escalation,
                audit_entry(
                    4,
                    ASM_AUDIT_VIOLATION,
                    ASM_VIOLATION_FILE,
                    (0, ASM_ACTION_KILL.into()),
                    "/etc/passwd\twrite",
                ),
                policy,
                audit_entry(
                    6,
                    ASM_AUDIT_OVERSIGHT,
                    ASM_OVERSIGHT_APPROVE,
                    (0, 0),
                    "looks fine",
                ),
                audit_entry(7, ASM_AUDIT_EXIT, 0, (812, 3), "spawns 1 exits 1"),
                audit_entry(8, 99, 5, (1, 2), ""),
                audit_entry(
                    9,
                    ASM_AUDIT_DEPENDENCY,
                    ASM_DEP_ADD,
                    (101, ASM_DEP_REQUIRED.into()),
                    "",
                ),
                refused_dep,
            ],
        };
        assert_eq!(
            audit(&trail, &|_| 3600),
            "\
Audit trail: seq 0..10 kept, next seq 11, dropped: 0 (overflow), suppressed: 0 (rate limit)
SEQ  TIME                 KIND          AGENT  UID/PID  OP/RESULT             OLD->NEW                      DETAIL
  0  2025-11-26 14:26:34  register        100  0/4242   -/ok                  risk Limited                  fs_monitor
  1  2025-11-26 14:26:35  patch           100  0/4242   add_capability/ok     FsBasic -> FsBasic,NetClient  -
  2  2025-11-26 14:26:36  patch           100  0/4242   set_risk/ok           Limited -> High               -
  3  2025-11-26 14:26:37  escalation      100  1000/77  add_capability/EPERM  FsBasic -> FsBasic,Admin      -
  4  2025-11-26 14:26:38  violation       100  0/4242   file/ok               action kill                   /etc/passwd\\twrite
  5  2025-11-26 14:26:39  fault_policy      0  0/4242   limits/ok             -                             -
  6  2025-11-26 14:26:40  oversight       100  0/4242   approve/ok            -                             looks fine
  7  2025-11-26 14:26:41  exit            100  0/4242   -/ok                  syscalls 812, execs 3         spawns 1 exits 1
  8  2025-11-26 14:26:42  99              100  0/4242   5/ok                  1 -> 2                        -
  9  2025-11-26 14:26:43  dependency      100  0/4242   add/ok                on 101 (required)             -
 10  2025-11-26 14:26:44  dependency      100  1000/77  remove/EPERM          on 102 (optional)             -
"
        );
    }

    #[test]
    fn llm_audit_table() {
        use asm_abi::*;
        let answered = audit_entry(
            0,
            ASM_AUDIT_LLM,
            ASM_LLM_CLAUDE,
            (12, 35_120),
            "request 17: ok via claude; prompt: hello",
        );
        let mut timed_out =
            audit_entry(1, ASM_AUDIT_LLM, 0, (0, 1_500_000), "request 18: ETIMEDOUT");
        timed_out.result = -libc::ETIMEDOUT;
        let trail = AuditTrail {
            trail: Trail::Llm,
            first_seq: 0,
            next_seq: 2,
            dropped: 0,
            suppressed: 0,
            entries: vec![answered, timed_out],
        };
        assert_eq!(
            audit(&trail, &|_| 0),
            "\
LLM audit trail: seq 0..1 kept, next seq 2, dropped: 0 (overflow), suppressed: 0 (rate limit)
SEQ  TIME                 KIND         AGENT  UID/PID  OP/RESULT    OLD->NEW           DETAIL
  0  2025-11-26 13:26:34  llm_request    100  0/4242   claude/ok    12 tokens, 35 ms   request 17: ok via claude; prompt: hello
  1  2025-11-26 13:26:35  llm_request    100  0/4242   -/ETIMEDOUT  0 tokens, 1500 ms  request 18: ETIMEDOUT
"
        );
        // The patch that sets the bucket, in the policy trail.
        let e = audit_entry(
            3,
            ASM_AUDIT_PATCH,
            ASM_PATCH_SET_LLM_RATE,
            (llm_rate_value(30, 10), llm_rate_value(3, 1)),
            "",
        );
        assert_eq!(
            (audit_op(&e), audit_values(&e)),
            (
                "set_llm_rate".to_string(),
                "burst 30, 10/s -> burst 3, 1/s".to_string()
            )
        );
    }

    #[test]
    fn audit_header_of_an_empty_or_overflowed_trail() {
        let empty = AuditTrail {
            trail: Trail::Policy,
            first_seq: 0,
            next_seq: 0,
            dropped: 0,
            suppressed: 0,
            entries: Vec::new(),
        };
        assert_eq!(
            audit(&empty, &|_| 0),
            "Audit trail: no entries kept, next seq 0, dropped: 0 (overflow), suppressed: 0 (rate limit)\n  (no entries)\n"
        );
        let overflowed = AuditTrail {
            trail: Trail::Policy,
            first_seq: 44,
            next_seq: 300,
            dropped: 44,
            suppressed: 0,
            entries: Vec::new(),
        };
        assert!(audit(&overflowed, &|_| 0)
            .starts_with("Audit trail: seq 44..299 kept, next seq 300, dropped: 44 (overflow), suppressed: 0 (rate limit)\n"));
    }

    #[test]
    fn sensitive_paths_list() {
        let view = SensitiveView {
            max: 8,
            paths: vec!["/etc/shadow".into(), "/srv/keys/".into()],
        };
        assert_eq!(
            sensitive(&view),
            "Sensitive paths (2 of 8):\n  /etc/shadow\n  /srv/keys/\n"
        );
        let view = SensitiveView {
            max: 8,
            paths: Vec::new(),
        };
        assert_eq!(sensitive(&view), "Sensitive paths (0 of 8):\n  (none)\n");
    }

    #[test]
    fn patch_reports() {
        use crate::args::LimitChanges;
        use asm_abi::*;
        for (change, want) in [
            (
                PatchChange::AddCaps(ASM_CAP_FS_BASIC | ASM_CAP_NET_CLIENT),
                "agent 100: added FsBasic, NetClient (audit #42)\n",
            ),
            (
                PatchChange::RemoveCaps(ASM_CAP_NET_CLIENT),
                "agent 100: removed NetClient (audit #42)\n",
            ),
            (
                PatchChange::Scope("/tmp/safe_zone/".into()),
                "agent 100: scope set to /tmp/safe_zone/ (audit #42)\n",
            ),
            (
                PatchChange::Scope(String::new()),
                "agent 100: scope removed (audit #42)\n",
            ),
            (
                PatchChange::AutoRestart(3),
                "agent 100: restart budget set to 3 (audit #42)\n",
            ),
            (
                PatchChange::Risk(ASM_RISK_MINIMAL),
                "agent 100: risk level set to Minimal (audit #42)\n",
            ),
            (
                PatchChange::LlmRate {
                    burst: 3,
                    refill: 1,
                },
                "agent 100: LLM rate set to burst 3, refill 1/s (audit #42)\n",
            ),
            (
                PatchChange::Limits(LimitChanges {
                    cpu_quota_ms: Some(Limit::Value(200)),
                    mem_limit_bytes: Some(Limit::Value(64 << 20)),
                    syscall_rate: Some(Limit::Unlimited),
                    watchdog_ms: Some(Limit::Default),
                }),
                "agent 100: limits set: CPU quota 200 ms per window, memory limit 67108864 bytes (64M), \
                 syscall rate none, watchdog default (audit #42)\n",
            ),
        ] {
            assert_eq!(patched(100, &change, 42), want);
        }
    }

    #[test]
    fn info_with_the_llm_section() {
        let a: AgentInfo = serde_json::from_str(&fixtures::agent_info_with_llm()).unwrap();
        let text = info(&a, 2_000_000);
        let (old, new) = text.split_once("Last Activity:   0 seconds ago\n").unwrap();
        // The guide's layout is unchanged up to its last line.
        assert_eq!(
            format!("{old}Last Activity:   0 seconds ago\n"),
            info(&agent(), 2_000_000)
        );
        assert_eq!(
            new,
            "
LLM:
  Requests:      17
  Tokens Used:   4242
  Rate Limited:  3
  Failures:      1
  Bucket:        12 of 30 tokens, refill 10/s
"
        );
        // After the fault detector's sections.
        let both = fixtures::agent_info_with_faults().replace(
            r#""last_activity_ns":2000000,"#,
            r#""last_activity_ns":2000000,"llm":{"requests":1},"#,
        );
        let text = info(&serde_json::from_str(&both).unwrap(), 2_000_000);
        assert!(
            text.ends_with(
                "  [1500] CPU quota exceeded (observed 950 ms, limit 300 ms) -> throttle\n\
                 \nLLM:\n  Requests:      1\n  Tokens Used:   0\n  Rate Limited:  0\n\
                 \x20 Failures:      0\n  Bucket:        0 of 0 tokens, refill 0/s\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn cascade_audit_entries() {
        let e = audit_entry(
            0,
            ASM_AUDIT_CASCADE,
            0,
            (7001, 800),
            "stopped: requires agent 7001, which ended Failed; SIGKILL after 800 ms",
        );
        assert_eq!(
            (audit_op(&e), audit_values(&e)),
            ("-".into(), "7001 ended, grace 800 ms".into())
        );
        assert_eq!(audit_kind_name(e.kind), Some("Cascade"));
    }

    #[test]
    fn dependency_audit_values() {
        use asm_abi::{ASM_DEP_ADD, ASM_DEP_PEER};
        let entry = |op, kind| audit_entry(0, ASM_AUDIT_DEPENDENCY, op, (100, kind), "");
        let shown = |e: &AsmAuditEntry| (audit_op(e), audit_values(e));
        assert_eq!(
            shown(&entry(ASM_DEP_ADD, ASM_DEP_PEER.into())),
            ("add".into(), "on 100 (peer)".into())
        );
        assert_eq!(
            shown(&entry(ASM_DEP_ADD, 0)),
            ("add".into(), "on 100".into())
        );
        assert_eq!(shown(&entry(9, 7)), ("9".into(), "on 100 (kind 7)".into()));
        assert_eq!(
            shown(&entry(ASM_DEP_ADD, 1 << 40)),
            ("add".into(), format!("on 100 (kind {})", 1u64 << 40))
        );
    }

    /// 100 is a database; 101 and 102 need it, 103 needs 101 and would
    /// like 102 (SIGUSR1 when it ends); 104 needs 103; 105 is a peer of 101.
    fn services() -> Graph {
        use asm_abi::{AsmDepEdge, ASM_DEP_OPTIONAL, ASM_DEP_PEER, ASM_DEP_REQUIRED};
        let (r, o, p) = (ASM_DEP_REQUIRED, ASM_DEP_OPTIONAL, ASM_DEP_PEER);
        Graph::new(&[
            AsmDepEdge::new(103, 101, r),
            AsmDepEdge::new(101, 100, r),
            AsmDepEdge::new(102, 100, r),
            AsmDepEdge {
                signal: 10,
                ..AsmDepEdge::new(103, 102, o)
            },
            AsmDepEdge::new(104, 103, r),
            AsmDepEdge::new(105, 101, p),
            AsmDepEdge::new(106, 104, 9),
        ])
    }

    #[test]
    fn edge_kinds_with_their_signal() {
        use asm_abi::{ASM_DEP_OPTIONAL, ASM_DEP_REQUIRED};
        assert_eq!(edge_text(ASM_DEP_REQUIRED, 0), "required");
        assert_eq!(edge_text(ASM_DEP_OPTIONAL, 0), "optional");
        assert_eq!(edge_text(ASM_DEP_OPTIONAL, 1), "optional, SIGHUP");
        assert_eq!(edge_text(ASM_DEP_OPTIONAL, 12), "optional, SIGUSR2");
        // From a module that lets an edge send more than this asmctl knows.
        assert_eq!(edge_text(ASM_DEP_OPTIONAL, 64), "optional, signal 64");
        assert_eq!(edge_text(9, 10), "kind 9, SIGUSR1");
    }

    #[test]
    fn dependency_list() {
        assert_eq!(
            deps(&services()),
            "\
101 -> 100 (required)
102 -> 100 (required)
103 -> 101 (required)
103 -> 102 (optional, SIGUSR1)
104 -> 103 (required)
105 -> 101 (peer)
106 -> 104 (kind 9)
"
        );
        assert_eq!(deps(&Graph::default()), "no dependencies\n");
    }

    #[test]
    fn dependency_trees() {
        let g = services();
        assert_eq!(
            deps_tree(&g, 104),
            "\
agent 104
└─ 103 (required)
   ├─ 101 (required)
   │  └─ 100 (required)
   └─ 102 (optional, SIGUSR1)
      └─ 100 (required)
dependents: 106 (kind 9)
stops with: none
"
        );
        assert_eq!(
            deps_tree(&g, 100),
            "\
agent 100: no dependencies
dependents: 101 (required), 102 (required)
stops with: 104, 103, 101, 102
"
        );
        assert_eq!(
            deps_tree(&g, 7),
            "agent 7: no dependencies\ndependents: none\nstops with: none\n"
        );
        // A subtree drawn once; a cycle (never from the module) cut.
        use asm_abi::{AsmDepEdge, ASM_DEP_REQUIRED};
        let r = ASM_DEP_REQUIRED;
        let g = Graph::new(&[
            AsmDepEdge::new(1, 2, r),
            AsmDepEdge::new(1, 3, r),
            AsmDepEdge::new(2, 4, r),
            AsmDepEdge::new(3, 4, r),
            AsmDepEdge::new(4, 5, r),
            AsmDepEdge::new(5, 1, r),
        ]);
        assert_eq!(
            deps_tree(&g, 1),
            "\
agent 1
├─ 2 (required)
│  └─ 4 (required)
│     └─ 5 (required)
│        └─ 1 (required) [cycle]
└─ 3 (required)
   └─ 4 (required) [see above]
dependents: 5 (required)
stops with: 2, 3, 4, 5
"
        );
    }

    #[test]
    fn dependency_changes() {
        use asm_abi::{ASM_DEP_OPTIONAL, ASM_DEP_REQUIRED};
        let add = |kind, signal| DepsAction::Add {
            dependent: 101,
            dependency: 100,
            kind,
            signal,
        };
        assert_eq!(
            dep_changed(add(ASM_DEP_REQUIRED, 0), 42),
            "agent 101: required dependency on agent 100 added (audit #42)\n"
        );
        assert_eq!(
            dep_changed(add(ASM_DEP_OPTIONAL, 0), 7),
            "agent 101: optional dependency on agent 100 added (audit #7)\n"
        );
        assert_eq!(
            dep_changed(add(ASM_DEP_OPTIONAL, 28), 8),
            "agent 101: optional dependency on agent 100 added, SIGWINCH when it ends (audit #8)\n"
        );
        let remove = DepsAction::Remove {
            dependent: 101,
            dependency: 100,
        };
        assert_eq!(
            dep_changed(remove, 43),
            "agent 101: dependency on agent 100 removed (audit #43)\n"
        );
    }

    /// Agent 100's operations in the stand-in module's figures, in the
    /// order they were first reported.
    fn profiled() -> Vec<NamedStats> {
        use asm_abi::AsmProfile;
        let op = |name: &str, total, successes, kept, [min, max, avg, p50, p95, p99]: [u64; 6]| {
            (
                name.to_string(),
                AsmProfile {
                    total,
                    successes,
                    kept,
                    ops: 4,
                    min_ns: min,
                    max_ns: max,
                    avg_ns: avg,
                    p50_ns: p50,
                    p95_ns: p95,
                    p99_ns: p99,
                    ..AsmProfile::stats(0)
                },
            )
        };
        vec![
            op(
                "fetch",
                40,
                38,
                40,
                [
                    2_000_000, 15_000_000, 6_512_345, 5_000_000, 12_000_000, 15_000_000,
                ],
            ),
            op(
                "parse",
                40,
                40,
                40,
                [120_000, 990_000, 310_500, 250_000, 950_000, 990_000],
            ),
            op(
                "db.query",
                1000,
                999,
                100,
                [
                    800_000, 45_000_000, 3_200_000, 1_200_000, 30_500_000, 45_000_000,
                ],
            ),
            op("llm:call", 1, 0, 1, [2_500_000_000; 6]),
        ]
    }

    #[test]
    fn profile_tables() {
        use crate::profile::agent_ops;
        let ops = profiled();
        assert_eq!(
            profile_table(&agent_ops(100, &ops), false),
            "\
OP        SAMPLES    OK%     MIN     AVG     P50     P95     P99     MAX
llm:call        1    0.0   2.50s   2.50s   2.50s   2.50s   2.50s   2.50s
db.query     1000   99.9   800µs  3.20ms  1.20ms  30.5ms  45.0ms  45.0ms
fetch          40   95.0  2.00ms  6.51ms  5.00ms  12.0ms  15.0ms  15.0ms
parse          40  100.0   120µs   311µs   250µs   950µs   990µs   990µs
"
        );
        let mut rows = agent_ops(100, &ops[..2]);
        rows.extend(agent_ops(7701, &ops[2..3]));
        assert_eq!(
            profile_table(&rows, true),
            "\
AGENT  OP        SAMPLES    OK%     MIN     AVG     P50     P95     P99     MAX
100    fetch          40   95.0  2.00ms  6.51ms  5.00ms  12.0ms  15.0ms  15.0ms
100    parse          40  100.0   120µs   311µs   250µs   950µs   990µs   990µs
7701   db.query     1000   99.9   800µs  3.20ms  1.20ms  30.5ms  45.0ms  45.0ms
"
        );
        assert_eq!(profile_table(&[], true), "no profiled operations\n");
        assert_eq!(profile_table(&[], false), "no profiled operations\n");
    }

    #[test]
    fn profile_one_operation() {
        let (name, stats) = &profiled()[2];
        assert_eq!(
            profile_op(&OpProfile::new(Some(100), name, stats)),
            "\
Agent:         100
Operation:     db.query
Samples:       1000
Kept:          100
Succeeded:     999 (99.9%)
Min:           800µs
Max:           45.0ms
Avg:           3.20ms
Median (p50):  1.20ms
p95:           30.5ms
p99:           45.0ms
"
        );
        let text = profile_op(&OpProfile::new(None, name, stats));
        assert!(
            text.starts_with("Agents:        every agent you can see\nOperation:     db.query\n"),
            "{text}"
        );
    }

    /// The module's figures for samples of `ms` milliseconds, of which
    /// `failed` failed (as src/profile.rs computes them: nearest rank,
    /// mean rounded down).
    fn figures(ms: &[u64], failed: u64) -> asm_abi::AsmProfile {
        let mut ns: Vec<u64> = ms.iter().map(|m| m * 1_000_000).collect();
        ns.sort_unstable();
        let n = ns.len();
        let rank = |p: usize| ns[(p * n).div_ceil(100) - 1];
        asm_abi::AsmProfile {
            total: n as u64,
            successes: n as u64 - failed,
            kept: n as u32,
            ops: 0,
            min_ns: ns[0],
            max_ns: ns[n - 1],
            avg_ns: ns.iter().sum::<u64>() / n as u64,
            p50_ns: rank(50),
            p95_ns: rank(95),
            p99_ns: rank(99),
            ..asm_abi::AsmProfile::stats(0)
        }
    }

    /// What selftests/test_profile_tools.sh expects of the module's
    /// figures: step 1 ms .. 10 ms (one failed) in agent 7701, and 20 ms in
    /// 7702.
    #[test]
    fn profile_views_of_the_selftest() {
        let step: Vec<u64> = (1..=10).collect();
        let row = OpProfile::new(Some(7701), "step", &figures(&step, 1));
        assert_eq!(
            profile_op(&row),
            "\
Agent:         7701
Operation:     step
Samples:       10
Kept:          10
Succeeded:     9 (90.0%)
Min:           1.00ms
Max:           10.0ms
Avg:           5.50ms
Median (p50):  5.00ms
p95:           10.0ms
p99:           10.0ms
"
        );
        // The selftest squeezes the spaces of the row.
        let table = profile_table(&[row], false);
        let squeezed: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
        assert_eq!(
            squeezed.join(" "),
            "step 10 90.0 1.00ms 5.50ms 5.00ms 10.0ms 10.0ms 10.0ms"
        );
        let both: Vec<u64> = (1..=10).chain([20]).collect();
        let all = figures(&both, 1);
        assert_eq!(
            (all.avg_ns, all.p50_ns, all.p95_ns, all.p99_ns),
            (6_818_181, 6_000_000, 20_000_000, 20_000_000)
        );
        assert_eq!(
            profile_op(&OpProfile::new(None, "step", &all)),
            "\
Agents:        every agent you can see
Operation:     step
Samples:       11
Kept:          11
Succeeded:     10 (90.9%)
Min:           1.00ms
Max:           20.0ms
Avg:           6.82ms
Median (p50):  6.00ms
p95:           20.0ms
p99:           20.0ms
"
        );
    }

    #[test]
    fn info_shows_the_slowest_operations() {
        let mut a = agent();
        a.slowest = Some(crate::profile::slowest(&profiled(), 3));
        let text = info(&a, 0);
        assert!(
            text.ends_with(
                "\n\nSlowest Operations:\n\
                 \x20 llm:call  p95 2.50s   p99 2.50s   (1 sample)\n\
                 \x20 db.query  p95 30.5ms  p99 45.0ms  (1000 samples)\n\
                 \x20 fetch     p95 12.0ms  p99 15.0ms  (40 samples)\n"
            ),
            "{text}"
        );
        a.slowest = Some(crate::profile::slowest(&profiled()[1..2], 3));
        assert!(
            info(&a, 0).ends_with(
                "\n\nSlowest Operations:\n  parse  p95 950µs  p99 990µs  (40 samples)\n"
            ),
            "{}",
            info(&a, 0)
        );
        // None reported, or a module from before profiling: no section.
        a.slowest = Some(Vec::new());
        assert!(!info(&a, 0).contains("Slowest"));
        a.slowest = None;
        assert!(!info(&a, 0).contains("Slowest"));
    }

    #[test]
    fn info_shows_dependencies_where_the_module_has_them() {
        let mut a = agent();
        a.risk_level = Some("Limited".into());
        a.deps = Some(crate::model::AgentDeps::of(&services(), 103));
        let text = info(&a, 0);
        assert!(
            text.contains(
                "\nRisk Level:      Limited\n\
                 Dependencies:    101 (required), 102 (optional, SIGUSR1)\n\
                 Dependents:      104 (required)\n\nTelemetry:\n"
            ),
            "{text}"
        );
        a.deps = Some(crate::model::AgentDeps::default());
        let text = info(&a, 0);
        assert!(
            text.contains("\nDependencies:    none\nDependents:      none\n\nTelemetry:\n"),
            "{text}"
        );
        // None: a module from before the graph; no lines.
        a.deps = None;
        assert!(!info(&a, 0).contains("Depend"));
    }

    #[test]
    fn info_shows_the_risk_level() {
        let mut a = agent();
        a.risk_level = Some("High".into());
        let text = info(&a, 0);
        assert!(
            text.contains("\nRestart Count:   0\nRisk Level:      High\n\nTelemetry:\n"),
            "{text}"
        );
    }

    #[test]
    fn json_is_pretty() {
        let doc: Value = serde_json::from_str(r#"{"b":[1,2],"a":{"c":null}}"#).unwrap();
        assert_eq!(
            json(&doc),
            "{\n  \"a\": {\n    \"c\": null\n  },\n  \"b\": [\n    1,\n    2\n  ]\n}\n"
        );
    }
}
