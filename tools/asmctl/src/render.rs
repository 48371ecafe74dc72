// SPDX-License-Identifier: GPL-2.0

//! The two renderings of every view: the tables of the user guide's
//! "Using Shell Commands" (asmstatus, asmlist, asminfo) and pretty JSON.
//!
//! Pure functions from the model to text, so that each layout is tested to
//! the character without a kernel.

use crate::model::{AgentInfo, Event, Telemetry};
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

/// One event, as the guide words it.
pub fn event_text(e: &Event) -> String {
    let (id, pid) = (e.agent_id, e.pid);
    match e.kind.as_str() {
        "register" => format!("Agent {id} registered (pid {pid})"),
        "unregister" => format!("Agent {id} unregistered"),
        "spawn" => format!("Agent {id} spawned (pid {pid})"),
        "exec" => format!("Agent {id} exec (pid {pid})"),
        "exit" => format!("Agent {id} exited (code {})", e.exit_code),
        "crash" if e.signal != 0 => format!("Agent {id} crashed (signal {})", e.signal),
        "crash" => format!("Agent {id} crashed (code {})", e.exit_code),
        other => format!("Agent {id} {other} (pid {pid})"),
    }
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
    out
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
                timestamp_ns: 12_345_670_123_456,
                kind: "spawn".into(),
                agent_id: 102,
                pid: 44,
                exit_code: 0,
                signal: 0,
            },
            Event {
                timestamp_ns: 12_345_678_999_999,
                kind: "exit".into(),
                agent_id: 103,
                pid: 45,
                exit_code: 0,
                signal: 0,
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
            (event("crash", 0, 11), "Agent 101 crashed (signal 11)"),
            (event("crash", 3, 0), "Agent 101 crashed (code 3)"),
            (event("fault", 0, 0), "Agent 101 fault (pid 43)"),
        ] {
            assert_eq!(event_text(&e), want);
        }
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
