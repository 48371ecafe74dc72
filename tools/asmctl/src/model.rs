// SPDX-License-Identifier: GPL-2.0

//! The data the views show: the two JSON documents of Documentation/uapi.rst
//! as serde structs, and the conversion of `struct asm_agent_info` into the
//! same agent struct so that `list` renders one type whichever ioctl it
//! came from.
//!
//! Only the fields a table shows are declared: serde ignores the others, so
//! a module that adds fields to its documents does not break asmctl.

use asm_abi::{capability_names, state_name, AsmAgentInfo, ASM_CAP_ALL};
use serde::Deserialize;

/// `ASM_IOC_GET_TELEMETRY_JSON`'s document.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Telemetry {
    pub system: SystemMetrics,
    /// The last events, oldest first.
    pub recent_events: Vec<Event>,
}

/// The `system` object: totals since the module was loaded.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SystemMetrics {
    pub total_agents_spawned: u64,
    pub total_agents_exited: u64,
    pub total_crashes: u64,
    pub total_faults: u64,
    pub total_restarts: u64,
    pub active_agents: u64,
    pub total_syscalls: u64,
    pub events_dropped: u64,
}

/// One entry of `recent_events`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Event {
    /// `CLOCK_BOOTTIME` nanoseconds.
    pub timestamp_ns: u64,
    /// `register`, `unregister`, `spawn`, `exec`, `exit` or `crash`; kept as
    /// text so that a type added later still shows.
    #[serde(rename = "type")]
    pub kind: String,
    pub agent_id: u32,
    /// In the initial pid namespace.
    pub pid: i32,
    pub exit_code: i32,
    pub signal: i32,
}

/// `ASM_IOC_GET_AGENT_INFO_JSON`'s document.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AgentInfo {
    pub agent_id: u32,
    /// In the caller's pid namespace; 0 once the process is gone.
    pub pid: i32,
    pub name: String,
    pub state: String,
    pub capabilities: Vec<String>,
    /// "" for no scope.
    pub scope: String,
    pub auto_restart: bool,
    pub max_restarts: u32,
    pub restart_count: u32,
    pub nr_processes: u32,
    pub spawn_count: u64,
    pub exit_count: u64,
    pub crash_count: u64,
    pub fault_count: u64,
    pub cpu_time_us: u64,
    pub memory_bytes: u64,
    /// `CLOCK_BOOTTIME` nanoseconds.
    pub last_activity_ns: u64,
}

impl AgentInfo {
    /// Whether `list` shows the agent: with `all` every registered one,
    /// else those with a live process (what the guide calls active).
    pub fn listed(&self, all: bool) -> bool {
        all || self.nr_processes > 0
    }
}

impl From<&AsmAgentInfo> for AgentInfo {
    /// The fields the JSON document would carry, named as it names them.
    fn from(raw: &AsmAgentInfo) -> Self {
        let mut capabilities: Vec<String> = capability_names(raw.capabilities)
            .map(String::from)
            .collect();
        // Bits a newer module knows and this asmctl does not: show them
        // rather than hide them.
        let unknown = raw.capabilities & !ASM_CAP_ALL;
        if unknown != 0 {
            capabilities.push(format!("{unknown:#x}"));
        }
        Self {
            agent_id: raw.agent_id,
            pid: raw.pid,
            name: String::from_utf8_lossy(raw.name()).into_owned(),
            state: state_name(raw.state)
                .map_or_else(|| format!("Unknown({})", raw.state), String::from),
            capabilities,
            scope: String::from_utf8_lossy(raw.scope()).into_owned(),
            auto_restart: raw.auto_restart > 0,
            max_restarts: raw.auto_restart,
            restart_count: raw.restart_count,
            nr_processes: raw.nr_processes,
            spawn_count: raw.spawns,
            exit_count: raw.exits,
            crash_count: raw.crashes,
            fault_count: raw.faults,
            cpu_time_us: raw.cpu_us,
            memory_bytes: raw.mem_bytes,
            last_activity_ns: raw.last_activity_ns,
        }
    }
}

/// The documents exactly as Documentation/uapi.rst shows them, for the
/// tests of every view.
#[cfg(test)]
pub mod fixtures {
    pub const TELEMETRY: &str = concat!(
        r#"{"system":{"total_agents_spawned":3,"total_agents_exited":2,"#,
        r#""total_crashes":1,"total_faults":1,"total_restarts":0,"#,
        r#""active_agents":1,"registered_agents":1,"total_syscalls":812,"#,
        r#""events_total":9,"events_dropped":0},"#,
        r#""agents":{"100":{"spawn_count":3,"exit_count":2,"crash_count":1,"#,
        r#""fault_count":1,"cpu_time_us":5210,"#,
        r#""memory_bytes":1220608}},"#,
        r#""recent_events":[{"timestamp_ns":12345678901,"type":"exit","#,
        r#""agent_id":100,"pid":42,"exit_code":0,"signal":0}]}"#,
    );

    pub const AGENT_INFO: &str = concat!(
        r#"{"agent_id":100,"pid":42,"name":"fs_monitor","state":"Active","#,
        r#""capabilities":["FsBasic","FsExtended"],"scope":"/tmp/ws/","#,
        r#""auto_restart":true,"max_restarts":3,"restart_count":0,"#,
        r#""owner_uid":0,"nr_processes":1,"spawn_count":1,"exit_count":0,"#,
        r#""crash_count":0,"fault_count":0,"exec_count":1,"cpu_time_us":125000,"#,
        r#""memory_bytes":4096000,"last_exit_code":0,"#,
        r#""registered_ns":1000000,"last_activity_ns":2000000}"#,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use asm_abi::{ASM_CAP_FS_BASIC, ASM_CAP_FS_EXTENDED, ASM_STATE_ACTIVE};

    #[test]
    fn parses_the_documented_telemetry() {
        let t: Telemetry = serde_json::from_str(fixtures::TELEMETRY).unwrap();
        assert_eq!(
            t,
            Telemetry {
                system: SystemMetrics {
                    total_agents_spawned: 3,
                    total_agents_exited: 2,
                    total_crashes: 1,
                    total_faults: 1,
                    total_restarts: 0,
                    active_agents: 1,
                    total_syscalls: 812,
                    events_dropped: 0,
                },
                recent_events: vec![Event {
                    timestamp_ns: 12345678901,
                    kind: "exit".into(),
                    agent_id: 100,
                    pid: 42,
                    exit_code: 0,
                    signal: 0,
                }],
            }
        );
    }

    #[test]
    fn rejects_a_document_missing_a_field() {
        let doc = fixtures::AGENT_INFO.replace(r#""nr_processes":1,"#, "");
        let err = serde_json::from_str::<AgentInfo>(&doc).unwrap_err();
        assert!(err.to_string().contains("nr_processes"), "{err}");
    }

    /// GET_INFO and GET_AGENT_INFO_JSON describe the same agent the same way.
    #[test]
    fn binary_info_matches_the_json_document() {
        let from_json: AgentInfo = serde_json::from_str(fixtures::AGENT_INFO).unwrap();
        let mut raw = AsmAgentInfo::new(100);
        raw.state = ASM_STATE_ACTIVE;
        raw.pid = 42;
        raw.nr_processes = 1;
        raw.auto_restart = 3;
        raw.capabilities = ASM_CAP_FS_BASIC | ASM_CAP_FS_EXTENDED;
        raw.spawns = 1;
        raw.execs = 1;
        raw.cpu_us = 125000;
        raw.mem_bytes = 4096000;
        raw.registered_ns = 1000000;
        raw.last_activity_ns = 2000000;
        raw.name[..10].copy_from_slice(b"fs_monitor");
        raw.scope[..8].copy_from_slice(b"/tmp/ws/");
        assert_eq!(AgentInfo::from(&raw), from_json);
    }

    #[test]
    fn binary_info_shows_unknown_values() {
        let mut raw = AsmAgentInfo::new(5);
        raw.state = 9;
        raw.capabilities = ASM_CAP_FS_BASIC | (1 << 9);
        let info = AgentInfo::from(&raw);
        assert_eq!(info.state, "Unknown(9)");
        assert_eq!(info.capabilities, ["FsBasic", "0x200"]);
        assert!(!info.auto_restart);
    }

    #[test]
    fn list_filter() {
        let mut info: AgentInfo = serde_json::from_str(fixtures::AGENT_INFO).unwrap();
        assert!(info.listed(false));
        info.nr_processes = 0;
        assert!(!info.listed(false));
        assert!(info.listed(true));
    }
}
