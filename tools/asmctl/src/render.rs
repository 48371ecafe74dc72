// SPDX-License-Identifier: GPL-2.0

//! The two renderings of every view: the tables of the user guide's
//! "Using Shell Commands" (asmstatus, asmlist, asminfo), the tables of the
//! fault detector's views (history, top, limits, recovery), and pretty JSON.
//!
//! Pure functions from the model to text, so that each layout is tested to
//! the character without a kernel.

use crate::model::{
    Actions, AgentInfo, EffectiveLimits, Event, FaultRecord, History, Limits, LimitsView,
    RecoveryView, Setting, Telemetry, TopRow,
};
use asm_abi::FAULT_TYPES;
use serde_json::Value;
use std::fmt::Write;

/// The `--json` rendering: the document pretty-printed, one value per line.
pub fn json(doc: &Value) -> String {
    // `{:#}` is serde_json's to_string_pretty, without a Result: writing a
    // Value into a String cannot fail.
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

/// One event, as the guide words it ("Agent 101 fault: CPU quota exceeded").
pub fn event_text(e: &Event) -> String {
    let (id, pid) = (e.agent_id, e.pid);
    let fault = e.fault.as_deref();
    let restarts = e.restarts.zip(e.max_restarts);
    match e.kind.as_str() {
        "register" => format!("Agent {id} registered (pid {pid})"),
        "unregister" => format!("Agent {id} unregistered"),
        "spawn" => format!("Agent {id} spawned (pid {pid})"),
        "exec" => format!("Agent {id} exec (pid {pid})"),
        // Not a crash: the module's kill or restart action ended it.
        "exit" if e.signal != 0 => format!("Agent {id} ended by signal {} (pid {pid})", e.signal),
        "exit" => format!("Agent {id} exited (code {})", e.exit_code),
        "crash" if e.signal != 0 => format!("Agent {id} crashed (signal {})", e.signal),
        "crash" => format!("Agent {id} crashed (code {})", e.exit_code),
        "fault" => match fault {
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
        "action" => {
            let action = e.action.as_deref().unwrap_or("unknown");
            match fault {
                Some(f) => format!("Agent {id} action: {action} ({})", fault_names(f).1),
                None => format!("Agent {id} action: {action}"),
            }
        }
        "release" => match fault {
            Some(f) => format!("Agent {id} throttle lifted ({})", fault_names(f).1),
            None => format!("Agent {id} throttle lifted"),
        },
        // The count is of the restarts so far: the one awaited is the next.
        "recovery" => match restarts {
            Some((n, of)) => format!(
                "Agent {id} awaits a restart (restart {} of {of})",
                n.saturating_add(1)
            ),
            None => format!("Agent {id} awaits a restart"),
        },
        "restarted" => match restarts {
            Some((n, of)) => format!("Agent {id} restarted (restart {n} of {of})"),
            None => format!("Agent {id} restarted"),
        },
        "failed" => match restarts {
            // No budget is the usual case, not worth "0 of 0".
            Some((_, 0)) => format!("Agent {id} failed (no restart allowed)"),
            Some((n, 1)) => format!("Agent {id} failed ({n} of 1 restart used)"),
            Some((n, of)) => format!("Agent {id} failed ({n} of {of} restarts used)"),
            None => format!("Agent {id} failed"),
        },
        other => format!("Agent {id} {other} (pid {pid})"),
    }
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

/// The (event, short, title) names of the fault with JSON name `name`; a
/// type this asmctl does not know goes by its JSON name.
fn fault_names(name: &str) -> (&str, &str, &str) {
    FAULT_NAMES
        .iter()
        .find(|f| f.0 == name)
        .map_or((name, name, name), |f| (f.1, f.2, f.3))
}

/// " (observed 950 ms, limit 300 ms)" for fault `fault`'s figures in
/// `unit`. A crash's figure is the wait(2) status of the process, worded as
/// asmstatus words a crash event; another "status" is shown as it is.
fn measurement(fault: &str, observed: u64, limit: u64, unit: &str) -> String {
    let with_unit = |v: u64| match unit {
        "ms" => format!("{v} ms"),
        "bytes" => format!("{v} bytes"),
        "per_s" => format!("{v}/s"),
        other => format!("{v} {other}"),
    };
    match (fault, unit) {
        ("crash", "status") if observed & 0x7f != 0 => format!(" (signal {})", observed & 0x7f),
        ("crash", "status") => format!(" (code {})", (observed >> 8) & 0xff),
        (_, "status") => format!(" (status {observed})"),
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

/// An action's name, or its number for a value this asmctl does not know.
fn action_text(action: Result<&str, u8>) -> String {
    match action {
        Ok(name) => name.into(),
        Err(value) => format!("unknown ({value})"),
    }
}

/// `asmctl recovery`: an agent's own and effective actions, or the
/// defaults.
pub fn recovery(v: &RecoveryView) -> String {
    let mut out = String::new();
    let titled = |a: &Actions| -> Vec<(&'static str, String)> {
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
/// Capabilities, and Restarts when the State column follows it.
const LIST_WIDTHS: [usize; 5] = [6, 6, 18, 20, 10];

/// Appends one table row. Each cell but the last is padded to its column's
/// width, and by at least two spaces so that a value longer than the guide
/// planned for (a 31-byte name, many capabilities) still stands apart.
fn row(out: &mut String, cells: &[&str]) {
    for (i, cell) in cells.iter().enumerate() {
        out.push_str(cell);
        if i + 1 < cells.len() {
            let pad = LIST_WIDTHS[i].saturating_sub(cell.chars().count()).max(2);
            out.extend(std::iter::repeat_n(' ', pad));
        }
    }
    out.push('\n');
}

/// `asmlist`: `agents` is what to show (already filtered); `all` adds the
/// State column and changes the heading.
pub fn list(agents: &[AgentInfo], all: bool) -> String {
    let mut out = String::from(if all { "Agents:\n" } else { "Active Agents:\n" });
    let mut header = vec!["ID", "PID", "Name", "Capabilities", "Restarts"];
    let mut dashes = vec![
        "----",
        "----",
        "----------------",
        "------------------",
        "--------",
    ];
    if all {
        header.push("State");
        dashes.push("---------");
    }
    row(&mut out, &header);
    row(&mut out, &dashes);
    for agent in agents {
        let id = agent.agent_id.to_string();
        let pid = match agent.pid {
            0 => "-".to_string(),
            pid => pid.to_string(),
        };
        let caps = match agent.capabilities.join(",") {
            caps if caps.is_empty() => "-".to_string(),
            caps => caps,
        };
        let restarts = agent.restart_count.to_string();
        let mut cells = vec![id.as_str(), &pid, &agent.name, &caps, &restarts];
        if all {
            cells.push(&agent.state);
        }
        row(&mut out, &cells);
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
    out
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
        f.action
    )
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
                kind: "fault".into(),
                agent_id: 101,
                pid: 43,
                fault: Some("cpu_quota".into()),
                observed: Some(950),
                limit: Some(300),
                unit: Some("ms".into()),
                ..Event::default()
            },
            Event {
                timestamp_ns: 12_345_670_123_456,
                kind: "spawn".into(),
                agent_id: 102,
                pid: 44,
                ..Event::default()
            },
            Event {
                timestamp_ns: 12_345_678_999_999,
                kind: "exit".into(),
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
            (event("register", 0, 0), "Agent 101 registered (pid 43)"),
            (event("unregister", 0, 0), "Agent 101 unregistered"),
            (event("spawn", 0, 0), "Agent 101 spawned (pid 43)"),
            (event("exec", 0, 0), "Agent 101 exec (pid 43)"),
            (event("exit", 0, 0), "Agent 101 exited (code 0)"),
            (event("exit", 0, 9), "Agent 101 ended by signal 9 (pid 43)"),
            (event("crash", 0, 11), "Agent 101 crashed (signal 11)"),
            (event("crash", 3, 0), "Agent 101 crashed (code 3)"),
            (event("fault", 0, 0), "Agent 101 fault"),
            (event("action", 0, 0), "Agent 101 action: unknown"),
            (event("release", 0, 0), "Agent 101 throttle lifted"),
            (event("recovery", 0, 0), "Agent 101 awaits a restart"),
            (event("restarted", 0, 0), "Agent 101 restarted"),
            (event("failed", 0, 0), "Agent 101 failed"),
            (event("oom", 0, 0), "Agent 101 oom (pid 43)"),
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
                restart_event("recovery", 0, 3),
                "Agent 101 awaits a restart (restart 1 of 3)",
            ),
            (
                restart_event("recovery", 2, 3),
                "Agent 101 awaits a restart (restart 3 of 3)",
            ),
            (
                restart_event("recovery", u64::MAX, u64::MAX),
                "Agent 101 awaits a restart (restart 18446744073709551615 of 18446744073709551615)",
            ),
            (
                restart_event("restarted", 1, 3),
                "Agent 101 restarted (restart 1 of 3)",
            ),
            (
                restart_event("failed", 3, 3),
                "Agent 101 failed (3 of 3 restarts used)",
            ),
            // A kill action ends an agent whatever its budget.
            (
                restart_event("failed", 0, 3),
                "Agent 101 failed (0 of 3 restarts used)",
            ),
            (
                restart_event("failed", 1, 1),
                "Agent 101 failed (1 of 1 restart used)",
            ),
            (
                restart_event("failed", 0, 0),
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
            action: (kind == "action").then(|| "throttle".into()),
            ..event(kind, 0, 0)
        }
    }

    #[test]
    fn fault_event_texts() {
        for (e, want) in [
            (
                fault_event("fault", "cpu_quota", Some((950, 300, "ms"))),
                "Agent 101 fault: CPU quota exceeded (observed 950 ms, limit 300 ms)",
            ),
            (
                fault_event("fault", "memory", Some((2048, 1024, "bytes"))),
                "Agent 101 fault: memory limit exceeded (observed 2048 bytes, limit 1024 bytes)",
            ),
            (
                fault_event("fault", "syscall_flood", Some((1500, 1000, "per_s"))),
                "Agent 101 fault: syscall flood (observed 1500/s, limit 1000/s)",
            ),
            // wait(2) statuses: killed by SIGSEGV, exited with code 3.
            (
                fault_event("fault", "crash", Some((139, 0, "status"))),
                "Agent 101 fault: crash (signal 11)",
            ),
            (
                fault_event("fault", "crash", Some((0x300, 0, "status"))),
                "Agent 101 fault: crash (code 3)",
            ),
            (
                fault_event("fault", "capability_violation", Some((5, 0, "status"))),
                "Agent 101 fault: capability violation (status 5)",
            ),
            (
                fault_event("fault", "capability_violation", None),
                "Agent 101 fault: capability violation",
            ),
            (
                fault_event("fault", "unresponsive", Some((31000, 30000, "ms"))),
                "Agent 101 fault: unresponsive (watchdog timeout) (observed 31000 ms, limit 30000 ms)",
            ),
            // A fault type or unit from a newer module shows as sent.
            (
                fault_event("fault", "policy_violation", Some((3, 2, "files"))),
                "Agent 101 fault: policy_violation (observed 3 files, limit 2 files)",
            ),
            (
                fault_event("action", "cpu_quota", None),
                "Agent 101 action: throttle (CPU quota)",
            ),
            (
                fault_event("action", "memory", None),
                "Agent 101 action: throttle (memory limit)",
            ),
            (
                fault_event("release", "cpu_quota", None),
                "Agent 101 throttle lifted (CPU quota)",
            ),
            (
                fault_event("release", "syscall_flood", None),
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
                throttled: true,
            },
        ];
        assert_eq!(
            top(&rows),
            "\
ID    NAME                      STATE     CPU%   RSS  SYSCALLS/s  FAULTS  THROTTLED
100   fs_monitor                Active    12.5  3.9M         130       0  no
1001  a_much_longer_agent_name  Recovery     -    0B           -      12  yes
"
        );
        assert_eq!(
            top(&[]),
            "ID  NAME  STATE  CPU%  RSS  SYSCALLS/s  FAULTS  THROTTLED\n"
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
ID    PID   Name              Capabilities        Restarts
----  ----  ----------------  ------------------  --------
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

    #[test]
    fn json_is_pretty() {
        let doc: Value = serde_json::from_str(r#"{"b":[1,2],"a":{"c":null}}"#).unwrap();
        assert_eq!(
            json(&doc),
            "{\n  \"a\": {\n    \"c\": null\n  },\n  \"b\": [\n    1,\n    2\n  ]\n}\n"
        );
    }
}
