// SPDX-License-Identifier: GPL-2.0

//! The data the views show: the two JSON documents of Documentation/uapi.rst
//! as serde structs, the conversion of `struct asm_agent_info` into the
//! same agent struct so that `list` renders one type whichever ioctl it
//! came from, and the views asmctl builds from binary replies (history,
//! top, limits, recovery, policy, compliance, audit, sensitive paths,
//! dependencies; the profiling views' is `profile::OpProfile`), each one struct for both the table and `--json`. The audit trail's JSON form
//! is also what `audit verify` reads back, so it maps to the binary entry
//! both ways.
//!
//! Only the fields a table shows are declared: serde ignores the others, so
//! a module that adds fields to its documents does not break asmctl. The
//! fault detector's and the gateway's fields are optional, so that a module
//! from before them does not break asmctl either.

use crate::args::{DepsAction, Trail};
use crate::deps::Graph;
use crate::profile::NamedStats;
use asm_abi::{
    action_name, audit_kind_name, capability_names, compliance_status_name, dep_kind_name,
    parse_audit_kind, risk_name, state_name, AsmAgentInfo, AsmAuditEntry, AsmCompliance,
    AsmDepEdge, AsmFaultPolicy, AsmHistory, AsmWindow, ASM_CAP_ALL, ASM_LIMIT_NONE32,
    ASM_LIMIT_NONE64, ASM_SCORE_MAX, FAULT_TYPES,
};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

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
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Event {
    /// `CLOCK_BOOTTIME` nanoseconds.
    pub timestamp_ns: u64,
    /// `register`, `unregister`, `spawn`, `exec`, `exit`, `crash`, `fault`,
    /// `action`, `release`, `recovery`, `restarted`, `failed`,
    /// `llm_request`, `cascade`, `dependency_held` or `dependency_lost`;
    /// kept as text so that a type added later still shows.
    #[serde(rename = "type")]
    pub kind: String,
    pub agent_id: u32,
    /// In the initial pid namespace.
    pub pid: i32,
    pub exit_code: i32,
    /// The signal that ended the process: a crash's, or an `exit`'s when
    /// the module's kill or restart action ended it; for `cascade` and
    /// `dependency_lost`, the signal the agent's processes were sent; 0 if
    /// none.
    pub signal: i32,
    /// `fault`, `action`, `release`: the fault type's JSON name (for
    /// `release`, of the throttle that was lifted).
    pub fault: Option<String>,
    /// `fault`: what was measured, in `unit`.
    pub observed: Option<u64>,
    /// `fault`: the limit it crossed, in `unit`.
    pub limit: Option<u64>,
    /// `fault`: `ms`, `bytes`, `per_s` or `status`.
    pub unit: Option<String>,
    /// `action`: the action's name.
    pub action: Option<String>,
    /// `recovery`, `restarted`, `failed`: the agent's restart count.
    pub restarts: Option<u64>,
    /// `recovery`, `restarted`, `failed`: its restart budget.
    pub max_restarts: Option<u64>,
    /// `llm_request`: the provider that answered (`claude`, `gpt4`,
    /// `gemini`, `local`); `None` (`null`) when none did.
    pub provider: Option<String>,
    /// `llm_request`: 0, or the request's -errno.
    pub result: Option<i32>,
    /// `llm_request`: tokens the answer used.
    pub tokens_used: Option<u64>,
    /// `llm_request`: how long the request took, in microseconds.
    pub duration_us: Option<u64>,
    /// `cascade`: the agent whose end stopped this one (which it requires,
    /// directly or not); `dependency_held`: its dependency in Recovery;
    /// `dependency_lost`: its Optional dependency that ended.
    pub dependency: Option<u64>,
    /// `cascade`: the grace between SIGTERM and SIGKILL; `dependency_held`:
    /// how long it waits for the dependency's restart; in ms (0 for
    /// `dependency_lost`).
    pub grace_ms: Option<u64>,
}

/// What the metrics read of the agent document's `compliance` object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Score {
    /// In thousandths.
    pub score: u64,
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
    /// Whether a throttle holds the agent now.
    pub throttled: Option<bool>,
    /// The effective limits.
    pub limits: Option<EffectiveLimits>,
    /// The effective action per fault type, keyed by the fault's JSON name.
    pub actions: Option<BTreeMap<String, String>>,
    /// The last faults, oldest first.
    pub recent_faults: Option<Vec<FaultRecord>>,
    /// The wait(2) status of the agent's last process exit.
    #[serde(default)]
    pub last_exit_code: Option<i64>,
    /// Its last capability violation; a module from before it sends none.
    #[serde(default)]
    pub last_violation: Option<LastViolation>,
    /// The risk level's name; a module from before risk levels sends none.
    #[serde(default, deserialize_with = "risk_level_field")]
    pub risk_level: Option<String>,
    /// The agent's use of the LLM gateway; a module from before the gateway
    /// sends none.
    #[serde(default)]
    pub llm: Option<LlmUsage>,
    /// `fault_count` by fault type; empty from a module before it.
    #[serde(default)]
    pub faults_by_type: BTreeMap<String, u64>,
    /// The `compliance` object's score; `None` from a module before it.
    #[serde(default)]
    pub compliance: Option<Score>,
    /// Not in the document: what asminfo read with `ASM_IOC_DEPS`; `None`
    /// where the module has no dependency graph.
    #[serde(skip)]
    pub deps: Option<AgentDeps>,
    /// Not in the document: the agent's slowest operations by p95 (at most
    /// three), as asminfo read them with `ASM_IOC_PROFILE`; `None` where
    /// the module has no profiling.
    #[serde(skip)]
    pub slowest: Option<Vec<NamedStats>>,
}

/// An agent's edges to its direct dependencies and from its direct
/// dependents, each by the other end's id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentDeps {
    pub dependencies: Vec<AsmDepEdge>,
    pub dependents: Vec<AsmDepEdge>,
}

impl AgentDeps {
    /// `id`'s neighbours in `graph`.
    pub fn of(graph: &Graph, id: u32) -> Self {
        Self {
            dependencies: graph.dependency_edges(id),
            dependents: graph.dependent_edges(id),
        }
    }
}

/// The `llm` object of the agent document. A member it lacks reads as 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LlmUsage {
    /// Requests its bucket let through.
    pub requests: u64,
    /// Tokens the answers used.
    pub tokens_used: u64,
    /// Requests the bucket refused (`EAGAIN`).
    pub rate_limited: u64,
    /// Requests let through that failed (`EIO`, `ETIMEDOUT`, ...).
    pub failures: u64,
    pub bucket: LlmBucket,
}

/// The agent's LLM token bucket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LlmBucket {
    /// Whole tokens in it now.
    pub tokens: u64,
    /// Its size.
    pub burst: u64,
    /// Tokens added per second.
    pub refill_per_s: u64,
}

/// Just the `llm` object of an agent document, for `top`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct LlmOnly {
    #[serde(default)]
    pub llm: Option<LlmUsage>,
}

/// The `limits` object of the agent document: the effective values, `None`
/// (`null`) for no limit.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EffectiveLimits {
    pub cpu_quota_ms: Option<u64>,
    pub mem_limit_bytes: Option<u64>,
    pub syscall_rate: Option<u64>,
    pub watchdog_ms: Option<u64>,
}

/// The agent document's `last_violation`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LastViolation {
    /// `file`, `connect`, `listen`, `exec` or `llm`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The start of its audit entry's detail: the path, address or program.
    pub detail: String,
}

/// One entry of the agent document's `recent_faults`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct FaultRecord {
    /// `CLOCK_BOOTTIME` nanoseconds.
    pub timestamp_ns: u64,
    /// The fault type's JSON name.
    #[serde(rename = "type")]
    pub kind: String,
    pub observed: u64,
    pub limit: u64,
    /// `ms`, `bytes`, `per_s` or `status`.
    pub unit: String,
    /// The action taken.
    pub action: String,
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
        // Bits a newer module knows and this asmctl does not are shown
        // rather than hidden.
        let capabilities = capability_list(raw.capabilities);
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
            throttled: None,
            limits: None,
            actions: None,
            recent_faults: None,
            last_exit_code: Some(raw.last_exit_code),
            last_violation: None,
            // 0 is what a module older than risk levels leaves there.
            risk_level: (raw.risk_level != 0).then(|| risk_text(raw.risk_level)),
            // GET_INFO has no gateway figures, nor these.
            llm: None,
            faults_by_type: BTreeMap::new(),
            compliance: None,
            deps: None,
            slowest: None,
        }
    }
}

/// `part` as a percentage of `whole`; `None` for an empty whole.
fn percent(part: u64, whole: u64) -> Option<f64> {
    // f64 is exact to 2^53 ns (104 days) per window: plenty.
    (whole > 0).then(|| part as f64 * 100.0 / whole as f64)
}

/// `x` rounded to one decimal, as the tables show it, so that the JSON
/// carries the same figure rather than float noise.
fn tenths(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// One sampler window, as `history --json` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    /// `CLOCK_BOOTTIME` nanoseconds.
    pub start_ns: u64,
    pub cpu_ns: u64,
    pub rss_bytes: u64,
    pub syscalls: u64,
    pub io_ops: u64,
}

impl From<&AsmWindow> for Window {
    fn from(w: &AsmWindow) -> Self {
        Self {
            start_ns: w.start_ns,
            cpu_ns: w.cpu_ns,
            rss_bytes: w.rss_bytes,
            syscalls: w.syscalls,
            io_ops: w.io_ops,
        }
    }
}

/// `asmctl history`: an agent's windows, oldest first, and its totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct History {
    pub agent_id: u32,
    pub window_ms: u32,
    pub windows: Vec<Window>,
    /// Totals since the agent was first sampled.
    pub cpu_ns: u64,
    pub syscalls: u64,
    pub io_ops: u64,
    /// At the last sample.
    pub rss_bytes: u64,
    pub rss_peak_bytes: u64,
    pub throttled: bool,
}

impl History {
    /// The view of a GET_HISTORY reply and the windows it wrote.
    pub fn new(raw: &AsmHistory, windows: &[AsmWindow]) -> Self {
        Self {
            agent_id: raw.agent_id,
            window_ms: raw.window_ms,
            windows: windows.iter().map(Window::from).collect(),
            cpu_ns: raw.cpu_ns,
            syscalls: raw.syscalls,
            io_ops: raw.io_ops,
            rss_bytes: raw.rss_bytes,
            rss_peak_bytes: raw.rss_peak_bytes,
            throttled: raw.throttled != 0,
        }
    }

    /// The length of `n` windows in nanoseconds.
    fn span_ns(&self, n: usize) -> u64 {
        (n as u64)
            .saturating_mul(u64::from(self.window_ms))
            .saturating_mul(1_000_000)
    }

    /// CPU time of window `w` as a percentage of the window (above 100 with
    /// several threads busy).
    pub fn cpu_percent(&self, w: &Window) -> Option<f64> {
        percent(w.cpu_ns, self.span_ns(1))
    }

    /// The newest `n` windows (fewer if fewer were kept).
    pub fn last(&self, n: usize) -> &[Window] {
        &self.windows[self.windows.len().saturating_sub(n)..]
    }

    /// CPU time over `windows` as a percentage of their length.
    pub fn cpu_percent_over(&self, windows: &[Window]) -> Option<f64> {
        let cpu = windows
            .iter()
            .fold(0u64, |sum, w| sum.saturating_add(w.cpu_ns));
        percent(cpu, self.span_ns(windows.len()))
    }

    /// System calls per second over `windows`.
    pub fn syscall_rate_over(&self, windows: &[Window]) -> Option<f64> {
        let calls = windows
            .iter()
            .fold(0u64, |sum, w| sum.saturating_add(w.syscalls));
        let span_ns = self.span_ns(windows.len());
        (span_ns > 0).then(|| calls as f64 * 1e9 / span_ns as f64)
    }
}

/// One row of `asmctl top`: an agent and its newest window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopRow {
    pub agent_id: u32,
    pub name: String,
    pub state: String,
    /// CPU time of the newest window as a percentage of it; `None` before
    /// the first sample.
    pub cpu_percent: Option<f64>,
    /// Resident memory now.
    pub rss_bytes: u64,
    /// System calls per second in the newest window.
    pub syscalls_per_s: Option<f64>,
    pub faults: u64,
    /// LLM requests its bucket let through; `None` from a module without
    /// the gateway's figures.
    pub llm_requests: Option<u64>,
    /// Tokens its LLM answers used; `None` likewise.
    pub llm_tokens: Option<u64>,
    pub throttled: bool,
}

impl TopRow {
    /// The row of the agent GET_INFO described as `info`, whose newest
    /// windows GET_HISTORY returned as `history` and whose agent document
    /// has `llm`.
    pub fn new(info: &AsmAgentInfo, history: &History, llm: Option<&LlmUsage>) -> Self {
        let agent = AgentInfo::from(info);
        let newest = history.last(1);
        Self {
            agent_id: agent.agent_id,
            name: agent.name,
            state: agent.state,
            cpu_percent: newest
                .first()
                .and_then(|w| history.cpu_percent(w))
                .map(tenths),
            rss_bytes: info.mem_bytes,
            syscalls_per_s: history.syscall_rate_over(newest).map(tenths),
            faults: info.faults,
            llm_requests: llm.map(|l| l.requests),
            llm_tokens: llm.map(|l| l.tokens_used),
            throttled: history.throttled,
        }
    }
}

/// A limit as a policy states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// An agent's own limit follows the defaults.
    Default,
    /// No limit.
    Unlimited,
    /// A limit, in the field's unit.
    Value(u64),
}

impl Serialize for Setting {
    /// `"Default"`, `null` (no limit, as in the agent document's `limits`)
    /// or the number.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Setting::Default => s.serialize_str("Default"),
            Setting::Unlimited => s.serialize_none(),
            Setting::Value(v) => s.serialize_u64(*v),
        }
    }
}

/// The four limits of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    pub cpu_quota_ms: Setting,
    pub mem_limit_bytes: Setting,
    pub syscall_rate: Setting,
    pub watchdog_ms: Setting,
}

impl Limits {
    /// An agent's own limits (GET without `ASM_FP_EFFECTIVE`): 0 follows
    /// the defaults, `ASM_LIMIT_NONE*` is no limit.
    pub fn own(p: &AsmFaultPolicy) -> Self {
        let own = |v: u64, none: u64| match v {
            0 => Setting::Default,
            v if v == none => Setting::Unlimited,
            v => Setting::Value(v),
        };
        let none32 = u64::from(ASM_LIMIT_NONE32);
        Self {
            cpu_quota_ms: own(p.cpu_quota_ms.into(), none32),
            mem_limit_bytes: own(p.mem_limit_bytes, ASM_LIMIT_NONE64),
            syscall_rate: own(p.syscall_rate.into(), none32),
            watchdog_ms: own(p.watchdog_ms.into(), none32),
        }
    }

    /// The defaults, or an agent's effective limits: 0 is no limit (and so
    /// is `ASM_LIMIT_NONE*`, should the module pass an agent's through).
    pub fn resolved(p: &AsmFaultPolicy) -> Self {
        let resolved = |v: u64, none: u64| match v {
            0 => Setting::Unlimited,
            v if v == none => Setting::Unlimited,
            v => Setting::Value(v),
        };
        let none32 = u64::from(ASM_LIMIT_NONE32);
        Self {
            cpu_quota_ms: resolved(p.cpu_quota_ms.into(), none32),
            mem_limit_bytes: resolved(p.mem_limit_bytes, ASM_LIMIT_NONE64),
            syscall_rate: resolved(p.syscall_rate.into(), none32),
            watchdog_ms: resolved(p.watchdog_ms.into(), none32),
        }
    }
}

/// `asmctl limits`: an agent's own and effective limits, or the defaults
/// (`agent_id` 0, no `effective`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LimitsView {
    pub agent_id: u32,
    pub limits: Limits,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective: Option<Limits>,
}

/// The action per fault type of a policy: `actions[fault]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actions(pub [u8; 8]);

impl Actions {
    /// Each fault type's JSON name and its action's name (or number, for a
    /// value this asmctl does not know), in fault order.
    pub fn named(&self) -> impl Iterator<Item = (&'static str, Result<&'static str, u8>)> + '_ {
        FAULT_TYPES.iter().map(|f| {
            let action = self.0.get(f.value as usize).copied().unwrap_or(0);
            (f.name, action_name(action).ok_or(action))
        })
    }
}

impl Serialize for Actions {
    /// `{"cpu_quota": "Throttle", ...}`, as the agent document's `actions`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(FAULT_TYPES.len()))?;
        for (fault, action) in self.named() {
            match action {
                Ok(name) => map.serialize_entry(fault, name)?,
                Err(value) => map.serialize_entry(fault, &value)?,
            }
        }
        map.end()
    }
}

/// `asmctl recovery`: an agent's own and effective actions, or the defaults
/// (`agent_id` 0, no `effective`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecoveryView {
    pub agent_id: u32,
    pub actions: Actions,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective: Option<Actions>,
}

/// A risk level's name, or `Unknown(N)` for a value this asmctl does not
/// know (0 from a module older than risk levels).
pub fn risk_text(risk: u32) -> String {
    risk_name(risk).map_or_else(|| format!("Unknown({risk})"), String::from)
}

/// The agent document's `risk_level`: the name, or the `ASM_RISK_*` number.
fn risk_level_field<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Risk {
        Name(String),
        Value(u32),
    }
    Ok(match Option::<Risk>::deserialize(d)? {
        None => None,
        Some(Risk::Name(name)) => Some(name),
        Some(Risk::Value(v)) => Some(risk_text(v)),
    })
}

/// The capability names of `bits`, and any bits this asmctl does not know
/// as one hex number, rather than hiding them.
fn capability_list(bits: u64) -> Vec<String> {
    let mut names: Vec<String> = capability_names(bits).map(String::from).collect();
    let unknown = bits & !ASM_CAP_ALL;
    if unknown != 0 {
        names.push(format!("{unknown:#x}"));
    }
    names
}

/// `asmctl policy` (`asmpolicy`): what an agent may do and its effective
/// limits, from GET_INFO and GET_FAULT_POLICY with `ASM_FP_EFFECTIVE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyView {
    pub agent_id: u32,
    pub capabilities: Vec<String>,
    /// "" for no scope, as in the agent document.
    pub scope: String,
    pub auto_restart: bool,
    pub max_restarts: u32,
    pub restart_count: u32,
    pub risk_level: String,
    /// The effective limits: `null` is no limit.
    pub limits: Limits,
}

impl PolicyView {
    /// The policy of the agent GET_INFO described as `info`, whose
    /// effective fault policy is `effective`.
    pub fn new(info: &AsmAgentInfo, effective: &AsmFaultPolicy) -> Self {
        Self {
            agent_id: info.agent_id,
            capabilities: capability_list(info.capabilities),
            scope: String::from_utf8_lossy(info.scope()).into_owned(),
            auto_restart: info.auto_restart > 0,
            max_restarts: info.auto_restart,
            restart_count: info.restart_count,
            risk_level: risk_text(info.risk_level),
            limits: Limits::resolved(effective),
        }
    }
}

/// One agent of the compliance report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentCompliance {
    pub agent_id: u32,
    pub risk_level: String,
    /// Audit entries recorded about the agent.
    pub events: u64,
    pub violations: u64,
    /// Human oversight actions.
    pub oversight: u64,
    pub decisions: u64,
    /// Opens of paths marked sensitive.
    pub sensitive: u64,
    pub clean_exits: u64,
    pub crashes: u64,
    /// 0 to 1000 (thousandths).
    pub score: u32,
    /// The score as a percentage, as the table shows it.
    pub compliance: f64,
    /// `Compliant`, `ReviewNeeded` or `NonCompliant` (the report's text
    /// writes them as the user guide does, `COMPLIANT`).
    pub status: String,
    /// LLM requests its bucket let through (0 from a module without the
    /// gateway, which leaves the field zero).
    pub llm_requests: u64,
}

impl From<&AsmCompliance> for AgentCompliance {
    fn from(c: &AsmCompliance) -> Self {
        Self {
            agent_id: c.agent_id,
            risk_level: risk_text(c.risk_level),
            events: c.events,
            violations: c.violations,
            oversight: c.oversight,
            decisions: c.decisions,
            sensitive: c.sensitive,
            clean_exits: c.clean_exits,
            crashes: c.crashes,
            score: c.score,
            compliance: f64::from(c.score) / 10.0,
            status: compliance_status_name(c.status)
                .map_or_else(|| format!("Unknown({})", c.status), String::from),
            llm_requests: c.llm_requests,
        }
    }
}

/// How many agents have each risk level (an unknown level counts in none).
/// Its keys are field names, snake_case like every key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RiskDistribution {
    pub minimal: usize,
    pub limited: usize,
    pub high: usize,
    /// Always 0: such an agent is never registered; shown because the
    /// guide's report shows it.
    pub unacceptable: usize,
}

/// `asmctl compliance`: the user guide's EU AI Act report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComplianceReport {
    /// Unix seconds when the report was made.
    pub timestamp: u64,
    pub total_agents: usize,
    /// The audit trail's `next_seq` (every entry ever recorded) where the
    /// caller may read the trail, else the sum of the agents' events.
    pub total_events: u64,
    pub policy_violations: u64,
    /// The agents' mean score in thousandths, rounded; 1000 with no agent.
    pub system_score: u32,
    /// `system_score` as a percentage, as the table shows it.
    pub system_compliance: f64,
    pub risk_levels: RiskDistribution,
    pub agents: Vec<AgentCompliance>,
}

impl ComplianceReport {
    /// The report at `timestamp` of `agents` (GET_COMPLIANCE replies);
    /// `audit_next_seq` is `None` where the trail could not be read.
    pub fn new(timestamp: u64, agents: &[AsmCompliance], audit_next_seq: Option<u64>) -> Self {
        let agents: Vec<AgentCompliance> = agents.iter().map(AgentCompliance::from).collect();
        let sum = |f: fn(&AgentCompliance) -> u64| {
            agents.iter().fold(0u64, |s, a| s.saturating_add(f(a)))
        };
        let mut risk_levels = RiskDistribution::default();
        for a in &agents {
            match a.risk_level.as_str() {
                "Minimal" => risk_levels.minimal += 1,
                "Limited" => risk_levels.limited += 1,
                "High" => risk_levels.high += 1,
                "Unacceptable" => risk_levels.unacceptable += 1,
                _ => {}
            }
        }
        let n = agents.len() as u64;
        let system_score = match n {
            0 => ASM_SCORE_MAX,
            n => {
                let total = sum(|a| a.score.into());
                // Each score is at most 1000: the mean is too.
                u32::try_from(total.saturating_add(n / 2) / n).unwrap_or(ASM_SCORE_MAX)
            }
        };
        Self {
            timestamp,
            total_agents: agents.len(),
            total_events: audit_next_seq.unwrap_or_else(|| sum(|a| a.events)),
            policy_violations: sum(|a| a.violations),
            system_score,
            system_compliance: f64::from(system_score) / 10.0,
            risk_levels,
            agents,
        }
    }
}

/// An audit trail as read: which one, the kernel's bookkeeping and the
/// entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditTrail {
    /// The policy trail or the LLM requests'.
    pub trail: Trail,
    /// The oldest entry the kernel kept.
    pub first_seq: u64,
    /// The seq the next entry will get.
    pub next_seq: u64,
    /// Entries overwritten before anyone could keep them.
    pub dropped: u64,
    /// Entries the kernel's rate limits kept out of the trail.
    pub suppressed: u64,
    /// The entries read, oldest first.
    pub entries: Vec<AsmAuditEntry>,
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of hex text `text` (either case); `None` unless it is exactly
/// `N` bytes' worth.
fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// An audit entry's kind in the export: its name, or the number for a kind
/// this asmctl does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AuditKind {
    Name(String),
    Value(u32),
}

/// An audit entry's detail in the export: the text where the field is
/// text followed by zeros, else every byte in hex, so that the export
/// always carries the bytes the hash covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AuditDetail {
    Text(String),
    Raw(RawDetail),
}

/// `{"hex": "..."}`: all `ASM_AUDIT_DETAIL_LEN` bytes of a detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDetail {
    pub hex: String,
}

/// One audit entry as `audit --json` and `audit --export` write it and
/// `audit verify FILE` reads it: every field of `struct asm_audit_entry`,
/// each in one representation only, so that the entry's bytes, and so its
/// hash, follow from the JSON and a changed field breaks the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    pub seq: u64,
    /// `CLOCK_REALTIME` nanoseconds.
    pub time_ns: u64,
    pub kind: AuditKind,
    pub op: u32,
    pub agent_id: u32,
    pub uid: u32,
    pub pid: i32,
    /// 0 or a -errno.
    pub result: i32,
    pub old_value: u64,
    pub new_value: u64,
    pub detail: AuditDetail,
    /// Hex.
    pub prev_hash: String,
    /// Hex.
    pub hash: String,
}

impl From<&AsmAuditEntry> for AuditRecord {
    fn from(e: &AsmAuditEntry) -> Self {
        let text = e.detail();
        let tail_is_zero = e.detail[text.len()..].iter().all(|&b| b == 0);
        let detail = match std::str::from_utf8(text) {
            // A field with no NUL at all is not text either.
            Ok(s) if tail_is_zero && text.len() < e.detail.len() => AuditDetail::Text(s.into()),
            _ => AuditDetail::Raw(RawDetail {
                hex: hex(&e.detail),
            }),
        };
        Self {
            seq: e.seq,
            time_ns: e.time_ns,
            kind: audit_kind_name(e.kind).map_or(AuditKind::Value(e.kind), |name| {
                AuditKind::Name(name.into())
            }),
            op: e.op,
            agent_id: e.agent_id,
            uid: e.uid,
            pid: e.pid,
            result: e.result,
            old_value: e.old_value,
            new_value: e.new_value,
            detail,
            prev_hash: hex(&e.prev_hash),
            hash: hex(&e.hash),
        }
    }
}

impl TryFrom<&AuditRecord> for AsmAuditEntry {
    /// What does not fit the ABI.
    type Error = String;

    fn try_from(r: &AuditRecord) -> Result<Self, String> {
        let mut e = AsmAuditEntry::ZERO;
        e.seq = r.seq;
        e.time_ns = r.time_ns;
        e.kind = match &r.kind {
            AuditKind::Name(name) => {
                parse_audit_kind(name).ok_or_else(|| format!("unknown kind '{name}'"))?
            }
            AuditKind::Value(v) => *v,
        };
        e.op = r.op;
        e.agent_id = r.agent_id;
        e.uid = r.uid;
        e.pid = r.pid;
        e.result = r.result;
        e.old_value = r.old_value;
        e.new_value = r.new_value;
        match &r.detail {
            AuditDetail::Text(text) => e
                .set_detail(text.as_bytes())
                .map_err(|err| format!("detail {err}"))?,
            AuditDetail::Raw(raw) => {
                e.detail = unhex(&raw.hex).ok_or("detail hex is not 192 bytes")?;
            }
        }
        e.prev_hash = unhex(&r.prev_hash).ok_or("prev_hash is not 32 bytes of hex")?;
        e.hash = unhex(&r.hash).ok_or("hash is not 32 bytes of hex")?;
        Ok(e)
    }
}

/// `asmctl audit --json`: the trail, the kernel's bookkeeping and the
/// entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditView {
    /// `Policy` or `Llm`.
    pub trail: &'static str,
    pub first_seq: u64,
    pub next_seq: u64,
    pub dropped: u64,
    pub suppressed: u64,
    pub entries: Vec<AuditRecord>,
}

impl From<&AuditTrail> for AuditView {
    fn from(t: &AuditTrail) -> Self {
        Self {
            trail: t.trail.name(),
            first_seq: t.first_seq,
            next_seq: t.next_seq,
            dropped: t.dropped,
            suppressed: t.suppressed,
            entries: t.entries.iter().map(AuditRecord::from).collect(),
        }
    }
}

/// The entries of an audit document: an export (an array of entries) or
/// the `audit --json` object (its `entries`).
pub fn audit_records(doc: serde_json::Value) -> Result<Vec<AuditRecord>, serde_json::Error> {
    let entries = match doc {
        serde_json::Value::Object(mut obj) if obj.contains_key("entries") => {
            obj.remove("entries").unwrap_or(serde_json::Value::Null)
        }
        other => other,
    };
    Vec::<AuditRecord>::deserialize(entries)
}

/// `asmctl sensitive`: the paths marked sensitive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SensitiveView {
    /// How many paths may be marked (`ASM_SENSITIVE_MAX`).
    pub max: usize,
    pub paths: Vec<String>,
}

/// A dependency kind in `deps --json`: its name, or the number for a kind
/// this asmctl does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum DepKind {
    Name(&'static str),
    Value(u32),
}

impl DepKind {
    /// `ASM_DEP_*` kind `kind`.
    pub fn of(kind: u32) -> Self {
        dep_kind_name(kind).map_or(DepKind::Value(kind), DepKind::Name)
    }
}

/// An Optional edge's signal in `deps --json`: its number, as events give
/// theirs (`SIGUSR1` is 10); `None` (`null`) for 0, none.
pub fn dep_signal(signal: u32) -> Option<u32> {
    (signal != 0).then_some(signal)
}

/// One edge in `deps --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DepEdge {
    pub dependent: u32,
    pub dependency: u32,
    pub kind: DepKind,
    /// What the dependent's processes get when the dependency ends.
    pub signal: Option<u32>,
}

/// `asmctl deps ID --json`: what the view says of the agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentDepsView {
    pub agent: u32,
    /// What it depends on directly, by id.
    pub dependencies: Vec<u32>,
    /// What depends on it directly, by id.
    pub dependents: Vec<u32>,
    /// Everything it depends on, directly or not, in start order.
    pub chain: Vec<u32>,
    /// What stops with it (its dependents through Required edges only,
    /// directly or not), in stop order.
    pub cascade: Vec<u32>,
}

/// `asmctl deps --json`: every edge the caller sees, and with an agent id
/// the agent's part of the graph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DepsView {
    pub edges: Vec<DepEdge>,
    #[serde(flatten)]
    pub agent: Option<AgentDepsView>,
}

impl DepsView {
    /// The view of `graph`, and of agent `id` in it if there is one.
    pub fn new(graph: &Graph, id: Option<u32>) -> Self {
        let ids = |pairs: Vec<(u32, u32)>| pairs.into_iter().map(|(id, _)| id).collect();
        Self {
            edges: graph
                .edges()
                .iter()
                .map(|e| DepEdge {
                    dependent: e.dependent,
                    dependency: e.dependency,
                    kind: DepKind::of(e.kind),
                    signal: dep_signal(e.signal),
                })
                .collect(),
            agent: id.map(|id| AgentDepsView {
                agent: id,
                dependencies: ids(graph.dependencies(id)),
                dependents: ids(graph.dependents(id)),
                chain: graph.chain(id),
                cascade: graph.cascade(id),
            }),
        }
    }
}

/// `asmctl deps add|remove --json`: what changed, and the audit entry that
/// records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DepChangeView {
    /// `Add` or `Remove`.
    pub op: &'static str,
    pub dependent: u32,
    pub dependency: u32,
    /// The kind of an added edge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<DepKind>,
    /// The signal of an added edge (`null`: none); not there for a
    /// removal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<Option<u32>>,
    pub audit_seq: u64,
}

impl DepChangeView {
    /// The report of `action` (`None` for a `Show`, which changes nothing).
    pub fn new(action: DepsAction, audit_seq: u64) -> Option<Self> {
        let (op, dependent, dependency, kind, signal) = match action {
            DepsAction::Show(_) => return None,
            DepsAction::Add {
                dependent,
                dependency,
                kind,
                signal,
            } => (
                "Add",
                dependent,
                dependency,
                Some(DepKind::of(kind)),
                Some(dep_signal(signal)),
            ),
            DepsAction::Remove {
                dependent,
                dependency,
            } => ("Remove", dependent, dependency, None, None),
        };
        Some(Self {
            op,
            dependent,
            dependency,
            kind,
            signal,
            audit_seq,
        })
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
        r#""recent_events":[{"timestamp_ns":12345678901,"type":"Exit","#,
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

    /// [`AGENT_INFO`] with the gateway's `llm` object.
    pub fn agent_info_with_llm() -> String {
        AGENT_INFO.replace(
            r#""last_activity_ns":2000000}"#,
            concat!(
                r#""last_activity_ns":2000000,"llm":{"requests":17,"#,
                r#""tokens_used":4242,"rate_limited":3,"failures":1,"#,
                r#""bucket":{"tokens":12,"burst":30,"refill_per_s":10}}}"#,
            ),
        )
    }

    /// [`AGENT_INFO`] with the fault detector's fields.
    pub fn agent_info_with_faults() -> String {
        AGENT_INFO.replace(
            r#""last_activity_ns":2000000}"#,
            concat!(
                r#""last_activity_ns":2000000,"throttled":true,"#,
                r#""limits":{"cpu_quota_ms":300,"mem_limit_bytes":104857600,"#,
                r#""syscall_rate":null,"watchdog_ms":30000},"#,
                r#""actions":{"cpu_quota":"Throttle","memory":"Kill","#,
                r#""syscall_flood":"Throttle","crash":"Restart","#,
                r#""capability_violation":"Kill","unresponsive":"Restart"},"#,
                r#""recent_faults":[{"timestamp_ns":1500000000,"type":"CpuQuota","#,
                r#""observed":950,"limit":300,"unit":"Milliseconds","action":"Throttle"},"#,
                r#"{"timestamp_ns":1900000000,"type":"Crash","observed":139,"#,
                r#""limit":0,"unit":"WaitStatus","action":"Restart"}]}"#,
            ),
        )
    }
}

#[cfg(test)]
pub mod tests {
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
                    kind: "Exit".into(),
                    agent_id: 100,
                    pid: 42,
                    ..Event::default()
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
    fn parses_fault_events() {
        let doc = r#"{"timestamp_ns":5,"type":"Fault","agent_id":101,"pid":43,
            "exit_code":0,"signal":0,"fault":"Memory","observed":9,"limit":8,
            "unit":"Bytes"}"#;
        let e: Event = serde_json::from_str(doc).unwrap();
        assert_eq!(e.fault.as_deref(), Some("Memory"));
        assert_eq!((e.observed, e.limit), (Some(9), Some(8)));
        assert_eq!((e.unit.as_deref(), e.action), (Some("Bytes"), None));
    }

    #[test]
    fn parses_restart_events() {
        let doc = r#"{"timestamp_ns":5,"type":"Recovery","agent_id":100,"pid":0,
            "exit_code":0,"signal":0,"restarts":1,"max_restarts":3}"#;
        let e: Event = serde_json::from_str(doc).unwrap();
        assert_eq!(e.kind, "Recovery");
        assert_eq!((e.restarts, e.max_restarts), (Some(1), Some(3)));
        assert_eq!((e.fault, e.observed, e.limit), (None, None, None));
    }

    #[test]
    fn parses_llm_events() {
        let doc = r#"{"timestamp_ns":5,"type":"LlmRequest","agent_id":100,"pid":42,
            "exit_code":0,"signal":0,"provider":"Claude","result":0,
            "tokens_used":12,"duration_us":35120}"#;
        let e: Event = serde_json::from_str(doc).unwrap();
        assert_eq!(e.kind, "LlmRequest");
        assert_eq!(
            (
                e.provider.as_deref(),
                e.result,
                e.tokens_used,
                e.duration_us
            ),
            (Some("Claude"), Some(0), Some(12), Some(35120))
        );
        // No provider answered: null.
        let doc = doc
            .replace(r#""Claude""#, "null")
            .replace(r#""result":0"#, r#""result":-110"#);
        let e: Event = serde_json::from_str(&doc).unwrap();
        assert_eq!((e.provider, e.result), (None, Some(-110)));
    }

    #[test]
    fn parses_dependency_events() {
        // As the module writes them: the two fields after "signal".
        let doc = r#"{"timestamp_ns":5,"type":"Cascade","agent_id":7002,"pid":0,
            "exit_code":0,"signal":15,"dependency":7001,"grace_ms":800}"#;
        let e: Event = serde_json::from_str(doc).unwrap();
        assert_eq!(e.kind, "Cascade");
        assert_eq!(
            (e.signal, e.dependency, e.grace_ms),
            (15, Some(7001), Some(800))
        );
        assert_eq!((e.restarts, e.limit, e.provider), (None, None, None));
        // Other events have neither.
        let doc = r#"{"timestamp_ns":5,"type":"Exit","agent_id":7002,"pid":9,
            "exit_code":0,"signal":0}"#;
        let e: Event = serde_json::from_str(doc).unwrap();
        assert_eq!((e.dependency, e.grace_ms), (None, None));
    }

    #[test]
    fn dependency_views_name_the_signal() {
        let usr1 = AsmDepEdge {
            signal: 10,
            ..AsmDepEdge::new(102, 101, asm_abi::ASM_DEP_OPTIONAL)
        };
        // 64 is no signal the module takes today: shown as the number.
        let odd = AsmDepEdge {
            signal: 64,
            ..AsmDepEdge::new(103, 101, asm_abi::ASM_DEP_OPTIONAL)
        };
        let graph = Graph::new(&[AsmDepEdge::new(101, 100, 1), usr1, odd]);
        let doc = serde_json::to_value(DepsView::new(&graph, None)).unwrap();
        let signals: Vec<&serde_json::Value> = doc["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["signal"])
            .collect();
        assert_eq!(
            signals,
            [
                &serde_json::Value::Null,
                &serde_json::json!(10),
                &serde_json::json!(64)
            ]
        );
        let add = |signal| DepsAction::Add {
            dependent: 102,
            dependency: 101,
            kind: asm_abi::ASM_DEP_OPTIONAL,
            signal,
        };
        let doc = serde_json::to_value(DepChangeView::new(add(12), 45)).unwrap();
        assert_eq!(
            doc,
            serde_json::json!({"op": "Add", "dependent": 102, "dependency": 101,
                "kind": "Optional", "signal": 12, "audit_seq": 45})
        );
        let doc = serde_json::to_value(DepChangeView::new(add(0), 45)).unwrap();
        assert_eq!(doc["signal"], serde_json::Value::Null);
        let remove = DepsAction::Remove {
            dependent: 102,
            dependency: 101,
        };
        let doc = serde_json::to_value(DepChangeView::new(remove, 46)).unwrap();
        assert_eq!(doc.get("signal"), None);
    }

    #[test]
    fn llm_usage_is_optional_and_read_whole() {
        let old: AgentInfo = serde_json::from_str(fixtures::AGENT_INFO).unwrap();
        assert_eq!(old.llm, None);
        let new: AgentInfo = serde_json::from_str(&fixtures::agent_info_with_llm()).unwrap();
        assert_eq!(
            new.llm,
            Some(LlmUsage {
                requests: 17,
                tokens_used: 4242,
                rate_limited: 3,
                failures: 1,
                bucket: LlmBucket {
                    tokens: 12,
                    burst: 30,
                    refill_per_s: 10
                }
            })
        );
        // A member missing from the object reads as 0.
        let partial: LlmOnly = serde_json::from_str(r#"{"llm":{"requests":2}}"#).unwrap();
        assert_eq!(
            partial.llm,
            Some(LlmUsage {
                requests: 2,
                ..LlmUsage::default()
            })
        );
        let none: LlmOnly = serde_json::from_str(r#"{"agent_id":1}"#).unwrap();
        assert_eq!(none.llm, None);
    }

    #[test]
    fn fault_fields_are_optional() {
        let old: AgentInfo = serde_json::from_str(fixtures::AGENT_INFO).unwrap();
        assert_eq!(
            (old.throttled, &old.limits, &old.actions, &old.recent_faults),
            (None, &None, &None, &None)
        );
        let new: AgentInfo = serde_json::from_str(&fixtures::agent_info_with_faults()).unwrap();
        assert_eq!(new.throttled, Some(true));
        assert_eq!(
            new.limits,
            Some(EffectiveLimits {
                cpu_quota_ms: Some(300),
                mem_limit_bytes: Some(104857600),
                syscall_rate: None,
                watchdog_ms: Some(30000),
            })
        );
        assert_eq!(new.actions.unwrap()["capability_violation"], "Kill");
        let faults = new.recent_faults.unwrap();
        assert_eq!(faults.len(), 2);
        assert_eq!(
            (faults[1].kind.as_str(), faults[1].observed),
            ("Crash", 139)
        );
    }

    fn window(start_s: u64, cpu_ms: u64, syscalls: u64) -> AsmWindow {
        AsmWindow {
            start_ns: start_s * 1_000_000_000,
            cpu_ns: cpu_ms * 1_000_000,
            rss_bytes: 4096,
            syscalls,
            io_ops: 1,
        }
    }

    #[test]
    fn history_rates() {
        let mut raw = AsmHistory::new(7, 0, 60);
        raw.window_ms = 1000;
        raw.throttled = 1;
        let windows: Vec<AsmWindow> = (0..12).map(|i| window(i, 100 * i, 10 * i)).collect();
        let h = History::new(&raw, &windows);
        assert!(h.throttled);
        assert_eq!(h.windows.len(), 12);
        assert_eq!(h.cpu_percent(&h.windows[5]), Some(50.0));
        let last = h.last(10);
        assert_eq!(last.len(), 10);
        assert_eq!(last[0].start_ns, 2_000_000_000);
        // Windows 2..=11: 6500 ms of CPU in 10 s, 650 syscalls.
        assert_eq!(h.cpu_percent_over(last), Some(65.0));
        assert_eq!(h.syscall_rate_over(last), Some(65.0));
        assert_eq!(h.last(100).len(), 12);
        // No windows yet, or a module that reports no window length.
        assert_eq!(h.cpu_percent_over(&[]), None);
        raw.window_ms = 0;
        assert_eq!(
            History::new(&raw, &windows).cpu_percent(&h.windows[1]),
            None
        );
    }

    #[test]
    fn top_row_from_info_and_newest_window() {
        let mut info = AsmAgentInfo::new(100);
        info.name[..2].copy_from_slice(b"ag");
        info.state = 2;
        info.mem_bytes = 4096;
        info.faults = 3;
        let mut raw = AsmHistory::new(100, 0, 1);
        raw.window_ms = 1000;
        let llm = LlmUsage {
            requests: 4,
            tokens_used: 48,
            ..LlmUsage::default()
        };
        let row = TopRow::new(
            &info,
            &History::new(&raw, &[window(9, 123, 456)]),
            Some(&llm),
        );
        assert_eq!((row.llm_requests, row.llm_tokens), (Some(4), Some(48)));
        assert_eq!(
            (row.name.as_str(), row.state.as_str(), row.faults),
            ("ag", "Fault", 3)
        );
        assert_eq!(
            (row.cpu_percent, row.syscalls_per_s),
            (Some(12.3), Some(456.0))
        );
        assert!(!row.throttled);
        // Not sampled yet: no rates rather than zeros.
        let row = TopRow::new(&info, &History::new(&raw, &[]), None);
        assert_eq!((row.cpu_percent, row.syscalls_per_s), (None, None));
        assert_eq!((row.llm_requests, row.llm_tokens), (None, None));
    }

    #[test]
    fn own_and_resolved_limits() {
        let mut p = AsmFaultPolicy::new(100, 0);
        p.cpu_quota_ms = 0;
        p.mem_limit_bytes = ASM_LIMIT_NONE64;
        p.syscall_rate = 1000;
        p.watchdog_ms = ASM_LIMIT_NONE32;
        assert_eq!(
            Limits::own(&p),
            Limits {
                cpu_quota_ms: Setting::Default,
                mem_limit_bytes: Setting::Unlimited,
                syscall_rate: Setting::Value(1000),
                watchdog_ms: Setting::Unlimited,
            }
        );
        let resolved = Limits::resolved(&p);
        assert_eq!(resolved.cpu_quota_ms, Setting::Unlimited);
        assert_eq!(resolved.mem_limit_bytes, Setting::Unlimited);
        assert_eq!(resolved.syscall_rate, Setting::Value(1000));
        assert_eq!(
            serde_json::to_value(Limits::own(&p)).unwrap(),
            serde_json::json!({"cpu_quota_ms": "Default", "mem_limit_bytes": null,
                               "syscall_rate": 1000, "watchdog_ms": null})
        );
    }

    #[test]
    fn actions_serialize_by_name() {
        let actions = Actions([0, 2, 3, 0, 4, 9, 1, 0]);
        assert_eq!(
            serde_json::to_value(actions).unwrap(),
            serde_json::json!({"cpu_quota": "Throttle", "memory": "Kill",
                               "syscall_flood": "Default", "crash": "Restart",
                               "capability_violation": 9, "unresponsive": "Log"})
        );
    }

    #[test]
    fn list_filter() {
        let mut info: AgentInfo = serde_json::from_str(fixtures::AGENT_INFO).unwrap();
        assert!(info.listed(false));
        info.nr_processes = 0;
        assert!(!info.listed(false));
        assert!(info.listed(true));
    }

    #[test]
    fn risk_level_in_the_agent_document() {
        let with = |value: &str| {
            let doc = fixtures::AGENT_INFO.replace(
                r#""nr_processes":1,"#,
                &format!(r#""nr_processes":1,"risk_level":{value},"#),
            );
            serde_json::from_str::<AgentInfo>(&doc).unwrap().risk_level
        };
        assert_eq!(with(r#""High""#), Some("High".into()));
        assert_eq!(with("1"), Some("Minimal".into()));
        assert_eq!(with("9"), Some("Unknown(9)".into()));
        assert_eq!(with("null"), None);
        let mut raw = AsmAgentInfo::new(1);
        raw.risk_level = asm_abi::ASM_RISK_LIMITED;
        assert_eq!(AgentInfo::from(&raw).risk_level, Some("Limited".into()));
    }

    /// A hashed, linked trail of `n` entries, as the kernel writes it.
    pub fn trail(n: u64) -> Vec<AsmAuditEntry> {
        let mut prev = [0; 32];
        (0..n)
            .map(|seq| {
                let mut e = AsmAuditEntry::ZERO;
                e.seq = seq;
                e.time_ns = 1_764_163_594_000_000_000 + seq;
                e.kind = asm_abi::ASM_AUDIT_PATCH;
                e.op = asm_abi::ASM_PATCH_ADD_CAPABILITY;
                e.agent_id = 100;
                e.pid = 4242;
                e.result = if seq == 1 { -1 } else { 0 };
                e.old_value = seq;
                e.new_value = seq + 1;
                e.set_detail(format!("step {seq}").as_bytes()).unwrap();
                e.prev_hash = prev;
                e.hash = e.compute_hash();
                prev = e.hash;
                e
            })
            .collect()
    }

    #[test]
    fn audit_records_round_trip() {
        let entries = trail(3);
        let doc = serde_json::to_value(entries.iter().map(AuditRecord::from).collect::<Vec<_>>())
            .unwrap();
        assert_eq!(doc[1]["kind"], "Patch");
        assert_eq!(doc[1]["detail"], "step 1");
        assert_eq!(doc[1]["result"], -1);
        assert_eq!(doc[1]["hash"], hex(&entries[1].hash));
        assert_eq!(doc[0]["prev_hash"], "0".repeat(64));
        let back: Vec<AsmAuditEntry> = audit_records(doc)
            .unwrap()
            .iter()
            .map(|r| AsmAuditEntry::try_from(r).unwrap())
            .collect();
        assert_eq!(back, entries);
    }

    #[test]
    fn odd_details_and_kinds_keep_their_bytes() {
        let mut e = trail(1)[0];
        // Not UTF-8, and bytes after the NUL: only hex carries them.
        e.detail[..4].copy_from_slice(b"a\xffb\0");
        e.detail[100] = 7;
        e.kind = 77;
        let r = AuditRecord::from(&e);
        assert_eq!(r.kind, AuditKind::Value(77));
        assert!(matches!(&r.detail, AuditDetail::Raw(raw) if raw.hex.len() == 384));
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(r#""kind":77"#), "{json}");
        let parsed: AuditRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(AsmAuditEntry::try_from(&parsed), Ok(e));
        // A kind given by number is the same entry as by name.
        let mut r = AuditRecord::from(&trail(1)[0]);
        r.kind = AuditKind::Value(asm_abi::ASM_AUDIT_PATCH);
        assert_eq!(AsmAuditEntry::try_from(&r), Ok(trail(1)[0]));
    }

    #[test]
    fn malformed_records_are_refused() {
        let good = AuditRecord::from(&trail(1)[0]);
        let bad = |edit: fn(&mut AuditRecord)| {
            let mut r = good.clone();
            edit(&mut r);
            AsmAuditEntry::try_from(&r).unwrap_err()
        };
        assert_eq!(
            bad(|r| r.kind = AuditKind::Name("reboot".into())),
            "unknown kind 'reboot'"
        );
        assert_eq!(
            bad(|r| r.detail = AuditDetail::Text("x".repeat(192))),
            "detail longer than 191 bytes"
        );
        assert_eq!(
            bad(|r| r.detail = AuditDetail::Raw(RawDetail { hex: "00".into() })),
            "detail hex is not 192 bytes"
        );
        assert_eq!(bad(|r| r.hash.truncate(62)), "hash is not 32 bytes of hex");
        assert_eq!(
            bad(|r| r.prev_hash.replace_range(0..2, "zz")),
            "prev_hash is not 32 bytes of hex"
        );
        // A field the export does not have is refused, not ignored.
        let mut doc = serde_json::to_value(vec![good]).unwrap();
        doc[0]["note"] = "x".into();
        let err = audit_records(doc).unwrap_err();
        assert!(err.to_string().contains("unknown field `note`"), "{err}");
    }

    #[test]
    fn audit_json_view_is_read_back_too() {
        let t = AuditTrail {
            trail: Trail::Llm,
            first_seq: 0,
            next_seq: 2,
            dropped: 0,
            suppressed: 0,
            entries: trail(2),
        };
        let doc = serde_json::to_value(AuditView::from(&t)).unwrap();
        assert_eq!(doc["next_seq"], 2);
        assert_eq!(doc["trail"], "Llm");
        assert_eq!(audit_records(doc).unwrap().len(), 2);
    }
}
