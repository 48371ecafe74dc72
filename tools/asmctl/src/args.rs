// SPDX-License-Identifier: GPL-2.0

//! The command line, on clap: which command the user asked for, the
//! multi-call aliases (`asmstatus`, `asmlist`, `asminfo`, `asmpolicy`,
//! `compliance`), the help of each command, and the completion scripts and
//! man pages made from the same definitions.
//!
//! Values are checked here (a limit, a size, an action a fault cannot take)
//! by value parsers that encode ASM's rules, and the combinations the
//! kernel would refuse by the conflicts between arguments, so that a typo
//! never reaches `/dev/asm`. clap's errors exit with 2.

use crate::profile::{check_op_name, parse_duration};
use asm_abi::{
    action_allowed, llm_provider_name, parse_action, parse_capability, parse_dep_kind,
    parse_dep_signal, parse_event_type, parse_llm_provider, parse_oversight, parse_preset,
    parse_risk, parse_size, text_name, ASM_ACTION_DEFAULT, ASM_AUDIT_TRAIL_LLM,
    ASM_AUDIT_TRAIL_POLICY, ASM_DEP_OPTIONAL, ASM_FAULT_CAPABILITY, ASM_FAULT_CPU_QUOTA,
    ASM_FAULT_CRASH, ASM_FAULT_MEMORY, ASM_FAULT_SYSCALL_FLOOD, ASM_FAULT_UNRESPONSIVE, ASM_ID_MAX,
    ASM_LLM_BURST_MAX, ASM_LLM_MAX_TOKENS_MAX, ASM_LLM_PROMPT_MAX, ASM_LLM_REFILL_MAX,
    ASM_LLM_SYSTEM_MAX, ASM_LLM_TIMEOUT_MAX_MS, ASM_NAME_LEN, ASM_NOTE_LEN, ASM_PROFILE_OPS_MAX,
    ASM_PROFILE_OP_LEN, ASM_PROFILE_SAMPLES, ASM_RISK_DEFAULT, ASM_RISK_UNACCEPTABLE,
    ASM_SCOPE_LEN, CAPABILITIES, DEP_KINDS, DEP_SIGNALS, EVENT_TYPES, LLM_PROVIDERS,
};
use clap::error::ErrorKind;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::ffi::{OsStr, OsString};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What `asmctl run` is to run, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub spec: AgentSpec,
    pub quiet: bool,
    /// Skip the Landlock ruleset (debugging only).
    pub no_landlock: bool,
    /// Keep the controlling terminal (no new session), for an interactive
    /// agent.
    pub keep_tty: bool,
    pub program: OsString,
    pub args: Vec<OsString>,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Print the completion script of `shell` for asmctl and its aliases,
    /// or for the one name given.
    Completions(clap_complete::Shell, Option<String>),
    /// Write the man pages of asmctl, its commands and its aliases to a
    /// directory.
    Manpages(PathBuf),
    /// System metrics and recent events.
    Status { json: bool },
    /// Agents with live processes, or every agent with `all`.
    List { all: bool, json: bool },
    /// One agent in detail.
    Info { id: u32, json: bool },
    /// Run `program` with `args` as a new agent, supervised.
    Run(Launch),
    /// Register another process or a cgroup.
    Register {
        spec: AgentSpec,
        target: Target,
        json: bool,
    },
    /// Forget an agent.
    Unregister { id: u32, json: bool },
    /// The sampler's windows and totals of one agent.
    History { id: u32, json: bool },
    /// Every agent's last window, once or every `interval`.
    Top {
        once: bool,
        interval: Duration,
        json: bool,
    },
    /// Print the limits (`changes` empty) or change the given ones.
    Limits {
        target: PolicyTarget,
        changes: LimitChanges,
        json: bool,
    },
    /// Print the recovery actions (`change` is `None`) or change them.
    Recovery {
        target: PolicyTarget,
        change: Option<ActionChange>,
        json: bool,
    },
    /// Tell the kernel that the caller's agent is alive.
    Heartbeat { json: bool },
    /// Change one thing of an agent's policy.
    Patch {
        id: u32,
        change: PatchChange,
        json: bool,
    },
    /// Audit trail `trail` from `from` on: printed, or written to `export`.
    Audit {
        trail: Trail,
        from: u64,
        json: bool,
        export: Option<PathBuf>,
    },
    /// Check the hash chain of an exported trail, or of the live trail
    /// `trail` (`file` is `None`).
    AuditVerify { trail: Trail, file: Option<PathBuf> },
    /// Record a human oversight action (an `ASM_OVERSIGHT_*` value).
    Oversight {
        id: u32,
        action: u32,
        note: String,
        json: bool,
    },
    /// Record a decision of the caller's agent.
    Decision { text: String, json: bool },
    /// List the sensitive paths (`change` is `None`), or change them.
    Sensitive {
        change: Option<SensitiveChange>,
        json: bool,
    },
    /// The dependency graph between agents, or a change of it.
    Deps { action: DepsAction, json: bool },
    /// Operation latencies, or a sample of the caller's agent.
    Profile { action: ProfileAction, json: bool },
    /// The EU AI Act compliance report; with `min_score`, a check that
    /// fails when the system score is below it.
    Compliance { json: bool, min_score: Option<u32> },
    /// The module's events as they happen.
    Monitor(MonitorFilter),
    /// The figures for Prometheus: printed, or served at an address.
    Metrics {
        listen: Option<std::net::SocketAddr>,
        openmetrics: bool,
        /// `--every-agent`: serving root's view is meant.
        every_agent: bool,
    },
    /// One agent's policy, as the user guide's asmpolicy shows it.
    Policy { id: u32, json: bool },
    /// An LLM request of the caller's agent through the kernel's gateway.
    Llm { request: LlmRequest, json: bool },
}

impl Command {
    /// Whether errors should be reported as JSON on stdout.
    pub fn json(&self) -> bool {
        match self {
            Command::Status { json }
            | Command::List { json, .. }
            | Command::Info { json, .. }
            | Command::History { json, .. }
            | Command::Top { json, .. }
            | Command::Limits { json, .. }
            | Command::Recovery { json, .. }
            | Command::Audit { json, .. }
            | Command::Sensitive { json, .. }
            | Command::Deps { json, .. }
            | Command::Profile { json, .. }
            | Command::Compliance { json, .. }
            | Command::Policy { json, .. }
            | Command::Llm { json, .. }
            | Command::Register { json, .. }
            | Command::Unregister { json, .. }
            | Command::Heartbeat { json }
            | Command::Patch { json, .. }
            | Command::Oversight { json, .. }
            | Command::Decision { json, .. } => *json,
            Command::Monitor(filter) => filter.json,
            _ => false,
        }
    }
}

/// Which events `monitor` prints, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorFilter {
    /// JSON lines instead of text.
    pub json: bool,
    /// Only these agents' events (none: every agent's).
    pub agents: Vec<u32>,
    /// Only events of these `ASM_EV_*` types (none: every type).
    pub types: Vec<u32>,
    /// Exit after this many events.
    pub count: Option<u64>,
}

impl MonitorFilter {
    /// Whether `agent`'s event of type `kind` is printed.
    pub fn wants(&self, agent: u32, kind: u32) -> bool {
        (self.agents.is_empty() || self.agents.contains(&agent))
            && (self.types.is_empty() || self.types.contains(&kind))
    }
}

/// What `llm` asks the gateway; `None` leaves a member out of the request
/// document, so the kernel's default applies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LlmRequest {
    /// Non-empty, at most `ASM_LLM_PROMPT_MAX` bytes.
    pub prompt: String,
    /// The preferred provider's name in the documents ("Claude", ...).
    pub provider: Option<&'static str>,
    /// 1 to `ASM_LLM_MAX_TOKENS_MAX`.
    pub max_tokens: Option<u32>,
    /// In thousandths: 0 to 1000.
    pub temperature: Option<u32>,
    /// At most `ASM_LLM_SYSTEM_MAX` bytes.
    pub system: Option<String>,
    /// 1 to `ASM_LLM_TIMEOUT_MAX_MS`.
    pub timeout_ms: Option<u32>,
}

/// Which audit trail `audit` reads: each is its own hash chain.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Trail {
    /// Registrations, patches, violations, ... (`ASM_AUDIT_TRAIL_POLICY`).
    #[default]
    Policy,
    /// One entry per LLM request (`ASM_AUDIT_TRAIL_LLM`).
    Llm,
}

impl Trail {
    /// The `asm_audit_read.trail` value.
    pub fn raw(self) -> u32 {
        match self {
            Trail::Policy => ASM_AUDIT_TRAIL_POLICY,
            Trail::Llm => ASM_AUDIT_TRAIL_LLM,
        }
    }

    /// Its name in `audit --json` (`--trail` takes `policy` or `llm`).
    pub fn name(self) -> &'static str {
        match self {
            Trail::Policy => "Policy",
            Trail::Llm => "Llm",
        }
    }
}

/// Whose fault policy `limits` and `recovery` read or change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyTarget {
    /// One agent's own settings.
    Agent(u32),
    /// The defaults every agent follows (`agent_id` 0 in the ABI).
    Defaults,
}

impl PolicyTarget {
    /// The `agent_id` of the request.
    pub fn id(self) -> u32 {
        match self {
            PolicyTarget::Agent(id) => id,
            PolicyTarget::Defaults => 0,
        }
    }
}

/// A limit as the user gave it. How it is encoded depends on the target:
/// `Unlimited` is `ASM_LIMIT_NONE*` for an agent and 0 in the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// `default`: follow the defaults (agents only).
    Default,
    /// `none`: no limit.
    Unlimited,
    /// A number, 1 to one less than the field's "none" value.
    Value(u64),
}

/// The limits `limits` changes; `None` keeps the current value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitChanges {
    pub cpu_quota_ms: Option<Limit>,
    pub mem_limit_bytes: Option<Limit>,
    pub syscall_rate: Option<Limit>,
    pub watchdog_ms: Option<Limit>,
}

impl LimitChanges {
    /// Whether no limit is to change (`limits` then prints them).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// What `recovery` changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionChange {
    /// One of the `ASM_PRESET_*` values other than `ASM_PRESET_NONE`.
    Preset(u32),
    /// `(ASM_FAULT_*, ASM_ACTION_*)` pairs; the other faults keep theirs.
    Actions(Vec<(u32, u8)>),
}

/// What `patch` changes: one `ASM_PATCH_*` op and its argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchChange {
    /// `ASM_CAP_*` bits to add.
    AddCaps(u64),
    /// `ASM_CAP_*` bits to remove.
    RemoveCaps(u64),
    /// The new scope: an absolute path, or empty for none.
    Scope(String),
    /// The new restart budget.
    AutoRestart(u32),
    /// The limits to change; the others keep their values.
    Limits(LimitChanges),
    /// The new risk level: Minimal, Limited or High.
    Risk(u32),
    /// The LLM token bucket: its size (1 to `ASM_LLM_BURST_MAX` requests)
    /// and refill (1 to `ASM_LLM_REFILL_MAX` requests per second).
    LlmRate { burst: u32, refill: u32 },
}

/// What `sensitive` changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SensitiveChange {
    /// Mark an absolute path (and everything under it) sensitive.
    Add(String),
    /// Unmark one.
    Remove(String),
}

/// What `deps` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepsAction {
    /// Every edge (`None`), or one agent's dependencies as a tree, its
    /// dependents and the agents that stop with it.
    Show(Option<u32>),
    /// `dependent` depends on `dependency`, an edge of `kind` (an
    /// `ASM_DEP_*` kind) that sends `signal` when the dependency ends (0:
    /// none; an Optional edge only).
    Add {
        dependent: u32,
        dependency: u32,
        kind: u32,
        signal: u32,
    },
    /// The edge `dependent` -> `dependency` goes.
    Remove { dependent: u32, dependency: u32 },
}

/// What `profile` does. Operation names are valid ones (1 to 31
/// characters of `[A-Za-z0-9_.:-]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileAction {
    /// Every operation of every agent the caller sees.
    All,
    /// One agent's operations, slowest p95 first.
    Agent(u32),
    /// One operation of one agent.
    Op { id: u32, op: String },
    /// One operation over every agent the caller sees.
    Aggregate(String),
    /// One sample of operation `op` of the caller's agent.
    Record {
        op: String,
        duration_ns: u64,
        success: bool,
    },
    /// Runs `program` with `args`, and records its wall time as operation
    /// `op` of the caller's agent (succeeded if it exits 0).
    Time {
        op: String,
        program: OsString,
        args: Vec<OsString>,
    },
}

/// What `run` and `register` ask the kernel to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentSpec {
    /// 1 to `ASM_NAME_LEN - 1` bytes.
    pub name: String,
    /// The requested id, or 0 for one the kernel allocates.
    pub id: u32,
    /// `ASM_CAP_*` bits.
    pub capabilities: u64,
    /// An absolute path, or empty for no scope.
    pub scope: String,
    /// Restart budget.
    pub auto_restart: u32,
    /// An `ASM_RISK_*` value; `ASM_RISK_DEFAULT` (Limited) without `--risk`.
    pub risk_level: u32,
}

/// Who becomes the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The asmctl process itself (`run`), which then execs the command.
    Caller,
    /// Another process.
    Pid(i32),
    /// Every task of a cgroup v2 directory.
    Cgroup(PathBuf),
}

/// The names asmctl answers to: itself, and one per alias.
#[derive(Parser, Debug)]
#[command(multicall = true)]
enum Applet {
    Asmctl(Asmctl),
    /// System metrics and the last 10 events (asmctl status).
    #[command(version)]
    Asmstatus(Output),
    /// Agents with live processes, or every agent (asmctl list).
    #[command(version)]
    Asmlist(AliasList),
    /// One agent in detail (asmctl info).
    #[command(version)]
    Asminfo(AliasId),
    /// One agent's policy (asmctl policy).
    #[command(version)]
    Asmpolicy(AliasId),
    /// The EU AI Act compliance report (asmctl compliance).
    #[command(version)]
    Compliance(AliasCompliance),
}

/// The command-line client of the Agent Supervision Module (/dev/asm).
///
/// Run as asmstatus, asmlist, asminfo, asmpolicy or compliance, it is
/// asmctl status, list, info, policy or compliance.
#[derive(Args, Debug)]
#[command(version, propagate_version = true, arg_required_else_help = true)]
#[command(after_long_help = ABOUT_ERRORS)]
struct Asmctl {
    #[command(subcommand)]
    command: Sub,
    #[command(flatten)]
    out: GlobalOutput,
}

// -j/--json and --pretty, before or after the command. (Not doc comments:
// a flattened struct's would become the about text of its command.)
#[derive(Args, Debug)]
struct GlobalOutput {
    /// JSON on stdout: the document, or the result of a change.
    #[arg(short, long, global = true)]
    json: bool,
    /// Indented JSON (the default on a terminal; compact otherwise).
    #[arg(long, global = true)]
    pretty: bool,
}

// The aliases' -j/--json and --pretty.
#[derive(Args, Debug)]
struct Output {
    /// Print the JSON document.
    #[arg(short, long)]
    json: bool,
    /// Indented JSON (the default on a terminal; compact otherwise).
    #[arg(long)]
    pretty: bool,
}

#[derive(Args, Debug)]
struct AliasList {
    #[command(flatten)]
    list: ListArgs,
    #[command(flatten)]
    out: Output,
}

#[derive(Args, Debug)]
struct AliasId {
    #[command(flatten)]
    id: IdArg,
    #[command(flatten)]
    out: Output,
}

#[derive(Args, Debug)]
struct AliasCompliance {
    #[command(flatten)]
    compliance: ComplianceArgs,
    #[command(flatten)]
    out: Output,
}

const ABOUT_ERRORS: &str = "\
Exit status: 0 on success; 1 when the command could not run (a request
failed: the message names the errno and what it means); 2 for a command line
asmctl refused; 3 when a check ran and failed (audit verify found the chain
broken, compliance --min-score found the score below); run: the command's
own, 124 when the module ended it, 127 when it could not be run.";

#[derive(Subcommand, Debug)]
enum Sub {
    /// System metrics and the last 10 events.
    Status,
    /// Agents with live processes (--all: every agent).
    List(ListArgs),
    /// One agent in detail.
    Info(IdArg),
    /// Run a command as a new, supervised agent.
    #[command(long_about = RUN_HELP)]
    Run(RunArgs),
    /// Register another process, or every task of a cgroup v2, as an agent;
    /// prints the id.
    Register(RegisterArgs),
    /// Forget an agent (its processes keep running).
    Unregister(IdArg),
    /// The agent's last 60 one-second windows and its totals.
    History(IdArg),
    /// Every agent's CPU, memory and syscall rate, refreshed.
    Top(TopArgs),
    /// ASM's figures for Prometheus, printed or served over HTTP.
    #[command(long_about = METRICS_HELP)]
    Metrics {
        /// Serve them at http://ADDR/metrics instead (e.g. 127.0.0.1:9464);
        /// nothing listens without it.
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
        /// Print OpenMetrics text instead of the Prometheus text format
        /// (served, the scraper's Accept header chooses).
        #[arg(long, conflicts_with = "listen")]
        openmetrics: bool,
        /// With --listen as root: serve every agent's figures (root's view)
        /// to whoever can connect to ADDR, on purpose.
        #[arg(long, requires = "listen")]
        every_agent: bool,
    },
    /// The module's events as they happen, as text or JSON lines (needs
    /// CAP_NET_ADMIN).
    #[command(long_about = MONITOR_HELP)]
    Monitor(MonitorArgs),
    /// An agent's limits (own and effective) or the defaults, or change them.
    Limits(LimitsArgs),
    /// The action taken on each fault type, or change them.
    Recovery(RecoveryArgs),
    /// Tell the kernel that the caller's agent is alive.
    Heartbeat,
    /// The agent's policy: capabilities, scope, restarts, risk level,
    /// effective limits.
    Policy(IdArg),
    /// Change one thing of an agent's policy (audited).
    Patch(PatchArgs),
    /// An audit trail, or a check of its hash chain (needs CAP_SYS_ADMIN).
    Audit(AuditArgs),
    /// Record a human oversight action on an agent (stop: kill it).
    Oversight(OversightArgs),
    /// Record a decision of the caller's agent.
    Decision(DecisionArgs),
    /// Ask an LLM through the kernel's gateway, as the caller's agent.
    Llm(LlmArgs),
    /// The paths whose opens by agents are audited, or change them.
    Sensitive(SensitiveArgs),
    /// The dependency graph between agents, or change it.
    Deps(DepsArgs),
    /// Operation latencies, or record a sample of the caller's agent.
    Profile(ProfileArgs),
    /// The EU AI Act compliance report.
    Compliance(ComplianceArgs),
    /// Print the completion script of a shell (bash, zsh, fish, ...) for
    /// asmctl and its aliases.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
        /// Only this name's script (for a completions directory, where each
        /// name has its file).
        #[arg(value_parser = APPLETS)]
        name: Option<String>,
    },
    /// Write the man pages of asmctl, its commands and its aliases to DIR.
    #[command(hide = true)]
    Manpages { dir: PathBuf },
}

#[derive(Args, Debug)]
struct ComplianceArgs {
    /// A check: exit with 3 when the system score is below SCORE (0 to
    /// 1000; 900 is COMPLIANT, 700 REVIEW_NEEDED), after the report.
    #[arg(long, value_name = "SCORE",
          value_parser = clap::value_parser!(u32).range(0..=1000))]
    min_score: Option<u32>,
}

#[derive(Args, Debug)]
struct ListArgs {
    /// Every agent, also those with no process.
    #[arg(short, long)]
    all: bool,
}

#[derive(Args, Debug)]
struct IdArg {
    /// The agent's id.
    #[arg(value_parser = agent_id)]
    id: u32,
}

// What `run` and `register` ask the kernel to create. (Not a doc comment:
// a flattened struct's would become the about text of its command.)
#[derive(Args, Debug)]
struct SpecArgs {
    #[arg(long, value_parser = agent_name,
          help = format!("The agent's name, 1 to {} bytes", ASM_NAME_LEN - 1))]
    name: String,
    /// The id to take (without it the kernel allocates one).
    #[arg(long, value_parser = agent_id)]
    id: Option<u32>,
    /// Capabilities: repeat the option or give a comma-separated list.
    #[arg(long = "cap", value_name = "CAP[,CAP]", value_parser = capabilities)]
    caps: Vec<u64>,
    /// The only directory tree the agent may touch (an absolute path).
    #[arg(long, value_parser = check_path)]
    scope: Option<String>,
    /// How often the agent is restarted after a crash (root only).
    #[arg(long, value_name = "N", default_value_t = 0)]
    auto_restart: u32,
    /// minimal, limited, high or unacceptable (which the kernel refuses,
    /// and audits).
    #[arg(long, value_parser = risk)]
    risk: Option<u32>,
}

impl SpecArgs {
    fn spec(self) -> AgentSpec {
        AgentSpec {
            name: self.name,
            id: self.id.unwrap_or(0),
            capabilities: self.caps.into_iter().fold(0, |bits, b| bits | b),
            scope: self.scope.unwrap_or_default(),
            auto_restart: self.auto_restart,
            risk_level: self.risk.unwrap_or(ASM_RISK_DEFAULT),
        }
    }
}

/// The run command's long help.
const RUN_HELP: &str = "\
Runs CMD as a new agent: a child registers itself, then execs CMD in a new
session (no controlling terminal), with no_new_privs, under the Landlock
ruleset of its capabilities. asmctl waits for the agent's last process,
restarts it while the module says Recovery (--auto-restart N, root), says
why when the module ended it, and exits with CMD's status, or 124 when the
module killed it.";

#[derive(Args, Debug)]
#[command(args_override_self = true)]
#[command(after_help = caps_help())]
struct RunArgs {
    #[command(flatten)]
    spec: SpecArgs,
    /// Print nothing but the agent's own output.
    #[arg(short, long)]
    quiet: bool,
    /// Without the Landlock ruleset and its scopes (debugging only).
    #[arg(long)]
    no_landlock: bool,
    /// Keep the controlling terminal, for an interactive agent (which can
    /// then also inject input into it).
    #[arg(long)]
    keep_tty: bool,
    /// The command and its arguments: after --, or from the first argument
    /// that is not an option.
    #[arg(value_name = "CMD", required = true, trailing_var_arg = true)]
    command: Vec<OsString>,
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
#[command(after_help = caps_help())]
struct RegisterArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    spec: SpecArgs,
}

#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
struct TargetArgs {
    /// The process to register.
    #[arg(long, value_parser = pid)]
    pid: Option<i32>,
    /// The cgroup v2 directory whose tasks become the agent.
    #[arg(long)]
    cgroup: Option<PathBuf>,
}

const METRICS_HELP: &str = "\
ASM's figures for Prometheus, in its text format (or OpenMetrics with
--openmetrics, or served to a scraper that asks for it): the system totals, and each
agent's (labelled with its id and name) CPU time, memory, processes, system
calls, spawns, exits, crashes, restarts, faults by type, compliance score
and LLM requests and tokens, with its state and risk level in asm_agent_info.
Printed once for a node_exporter textfile collector, or with --listen served
over HTTP, read from the module at most once a second. The figures are those
the caller may see: root's are every agent's, which --listen serves only
with --every-agent.";

const MONITOR_HELP: &str = "\
The module's events as they happen, from its generic netlink group: one line
each, '<seq> [<ms>] <what happened>', or with --json the event's document
(the same fields as in asmstatus --json's recent_events) with its \"seq\".
The events are numbered since the module was loaded; a gap is reported as
'lost events A to B (N)' ({\"lost\": {...}}), whichever filters are given.
Joining the group needs CAP_NET_ADMIN.";

#[derive(Args, Debug)]
struct MonitorArgs {
    /// Only this agent's events (repeat for more).
    #[arg(long = "agent", value_name = "ID", value_parser = agent_id)]
    agents: Vec<u32>,
    /// Only events of this type (repeat for more): register, spawn, exec,
    /// exit, crash, fault, action, ...
    #[arg(long = "type", value_name = "TYPE", value_parser = event_type)]
    types: Vec<u32>,
    /// Exit after this many events.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
struct TopArgs {
    /// One frame, then exit.
    #[arg(long)]
    once: bool,
    /// Seconds between frames: 0.1 to 86400.
    #[arg(short = 'n', long, value_name = "SECONDS", value_parser = interval, default_value = "1")]
    interval: Duration,
}

// The limits `limits` and `patch ID limits` change.
#[derive(Args, Debug, Default)]
#[group(id = "changes", multiple = true)]
struct LimitArgs {
    /// CPU time per one-second window, in milliseconds.
    #[arg(long, visible_alias = "cpu-quota", value_name = "N", value_parser = limit32)]
    cpu_quota_ms: Option<Limit>,
    /// Memory: bytes, or a number with K, M or G (powers of 1024).
    #[arg(long, visible_alias = "memory", value_name = "SIZE", value_parser = limit_size)]
    mem: Option<Limit>,
    /// System calls per second.
    #[arg(long, value_name = "N", value_parser = limit32)]
    syscall_rate: Option<Limit>,
    /// The longest time without a heartbeat, in milliseconds.
    #[arg(long, visible_alias = "watchdog", value_name = "N", value_parser = limit32)]
    watchdog_ms: Option<Limit>,
}

impl LimitArgs {
    fn changes(self) -> LimitChanges {
        LimitChanges {
            cpu_quota_ms: self.cpu_quota_ms,
            mem_limit_bytes: self.mem,
            syscall_rate: self.syscall_rate,
            watchdog_ms: self.watchdog_ms,
        }
    }
}

const LIMITS_HELP: &str = "\
A limit N is a number, 'none' (no limit) or, for an agent, 'default' (follow
the defaults). SIZE is bytes, or a number with K, M or G (powers of 1024).
Without a change, the limits are printed.";

// `ID | --default`, the target of `limits` and `recovery`.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
struct PolicyTargetArgs {
    /// The agent's id.
    #[arg(value_parser = agent_id)]
    id: Option<u32>,
    /// The defaults every agent follows.
    #[arg(long)]
    default: bool,
}

impl PolicyTargetArgs {
    fn target(&self) -> PolicyTarget {
        match self.id {
            Some(id) => PolicyTarget::Agent(id),
            None => PolicyTarget::Defaults,
        }
    }
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
#[command(after_help = LIMITS_HELP)]
struct LimitsArgs {
    #[command(flatten)]
    target: PolicyTargetArgs,
    #[command(flatten)]
    limits: LimitArgs,
}

const RECOVERY_HELP: &str = "\
An action A is log, throttle (CPU quota and syscall flood only), kill,
restart or, for an agent, default. PRESET is default, permissive or strict.
Without a change, the actions are printed.";

#[derive(Args, Debug)]
#[command(args_override_self = true)]
#[command(after_help = RECOVERY_HELP)]
struct RecoveryArgs {
    #[command(flatten)]
    target: PolicyTargetArgs,
    /// Every action at once: default, permissive or strict.
    #[arg(long, value_parser = preset, conflicts_with = "actions")]
    preset: Option<u32>,
    #[command(flatten)]
    actions: ActionArgs,
}

// `recovery`'s per-fault actions.
#[derive(Args, Debug)]
#[group(id = "actions", multiple = true)]
struct ActionArgs {
    /// On a CPU quota fault.
    #[arg(long, value_name = "A", value_parser = action_for(ASM_FAULT_CPU_QUOTA))]
    cpu_quota: Option<u8>,
    /// On a memory limit fault.
    #[arg(long, value_name = "A", value_parser = action_for(ASM_FAULT_MEMORY))]
    memory: Option<u8>,
    /// On a syscall flood.
    #[arg(long, value_name = "A", value_parser = action_for(ASM_FAULT_SYSCALL_FLOOD))]
    syscall_flood: Option<u8>,
    /// On a crash.
    #[arg(long, value_name = "A", value_parser = action_for(ASM_FAULT_CRASH))]
    crash: Option<u8>,
    /// On a capability violation.
    #[arg(long, value_name = "A", value_parser = action_for(ASM_FAULT_CAPABILITY))]
    capability: Option<u8>,
    /// When the watchdog finds the agent unresponsive.
    #[arg(long, value_name = "A", value_parser = action_for(ASM_FAULT_UNRESPONSIVE))]
    unresponsive: Option<u8>,
}

impl ActionArgs {
    /// The `(fault, action)` pairs given, in fault order.
    fn actions(&self) -> Vec<(u32, u8)> {
        [
            (ASM_FAULT_CPU_QUOTA, self.cpu_quota),
            (ASM_FAULT_MEMORY, self.memory),
            (ASM_FAULT_SYSCALL_FLOOD, self.syscall_flood),
            (ASM_FAULT_CRASH, self.crash),
            (ASM_FAULT_CAPABILITY, self.capability),
            (ASM_FAULT_UNRESPONSIVE, self.unresponsive),
        ]
        .into_iter()
        .filter_map(|(fault, action)| Some((fault, action?)))
        .collect()
    }
}

const PATCH_HELP: &str = "\
A patch that widens a policy needs CAP_SYS_ADMIN from outside the agent; the
agent's owner may narrow it. Admin is never granted by a patch.";

#[derive(Args, Debug)]
#[command(after_help = PATCH_HELP)]
struct PatchArgs {
    /// The agent's id.
    #[arg(value_parser = agent_id)]
    id: u32,
    #[command(subcommand)]
    change: PatchSub,
}

#[derive(Subcommand, Debug)]
enum PatchSub {
    /// Add capabilities.
    #[command(after_help = caps_help())]
    AddCap {
        /// Capability names, separated by spaces or commas.
        #[arg(value_name = "CAP", required = true, value_parser = capabilities)]
        caps: Vec<u64>,
    },
    /// Remove capabilities.
    #[command(after_help = caps_help())]
    RemoveCap {
        /// Capability names, separated by spaces or commas.
        #[arg(value_name = "CAP", required = true, value_parser = capabilities)]
        caps: Vec<u64>,
    },
    /// Set the scope: an absolute path, or none.
    Scope {
        #[arg(value_name = "PATH|none", value_parser = scope_or_none)]
        scope: String,
    },
    /// Set the restart budget.
    AutoRestart {
        #[arg(value_name = "N")]
        count: u32,
    },
    /// Set the risk level: minimal, limited or high.
    Risk {
        #[arg(value_name = "RISK", value_parser = patch_risk)]
        risk: u32,
    },
    /// Change the given limits; the others keep their values.
    #[command(after_help = LIMITS_HELP)]
    Limits {
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Set the agent's LLM token bucket (an agent starts with 30 and 10/s).
    LlmRate {
        #[arg(
            help = format!("Requests at most, 1 to {ASM_LLM_BURST_MAX}"),
            value_parser = clap::value_parser!(u32).range(1..=i64::from(ASM_LLM_BURST_MAX))
        )]
        burst: u32,
        #[arg(
            help = format!("Requests added per second, 1 to {ASM_LLM_REFILL_MAX}"),
            value_parser = clap::value_parser!(u32).range(1..=i64::from(ASM_LLM_REFILL_MAX))
        )]
        refill: u32,
    },
}

#[derive(ValueEnum, Debug, Clone, Copy)]
enum TrailArg {
    /// Registrations, patches, violations, oversight, ...
    Policy,
    /// One entry per LLM request.
    Llm,
}

impl From<TrailArg> for Trail {
    fn from(trail: TrailArg) -> Self {
        match trail {
            TrailArg::Policy => Trail::Policy,
            TrailArg::Llm => Trail::Llm,
        }
    }
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
struct AuditArgs {
    #[command(subcommand)]
    verify: Option<AuditSub>,
    /// The trail [default: policy].
    #[arg(long, value_enum, ignore_case = true)]
    trail: Option<TrailArg>,
    /// The first entry, by sequence number.
    #[arg(long, value_name = "SEQ", default_value_t = 0)]
    from: u64,
    /// Write the trail as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    export: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum AuditSub {
    /// Check the hash chain of an export (FILE) or of a live trail.
    Verify {
        /// The live trail to check [default: policy].
        #[arg(long, value_enum, ignore_case = true, conflicts_with = "file")]
        trail: Option<TrailArg>,
        /// An export of `audit --export`.
        file: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
struct OversightArgs {
    /// The agent's id.
    #[arg(value_parser = agent_id)]
    id: u32,
    /// review, approve, reject or stop.
    #[arg(value_parser = oversight_action)]
    action: u32,
    #[arg(long, value_parser = note_text, default_value = "",
          help = format!("Why, in at most {} bytes of printable text", ASM_NOTE_LEN - 1))]
    note: String,
}

#[derive(Args, Debug)]
struct DecisionArgs {
    /// The decision's words, joined by spaces (after --, a word may start
    /// with -).
    #[arg(value_name = "TEXT", required = true)]
    words: Vec<String>,
}

fn llm_help() -> String {
    format!(
        "Prints the answer, and the provider, tokens and time on stderr. The \
         caller's agent needs LlmAccess. Left out, the kernel's defaults apply \
         (1000 tokens, 0.7, 30000 ms). The prompt is at most {ASM_LLM_PROMPT_MAX} bytes."
    )
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
#[command(after_help = llm_help())]
struct LlmArgs {
    /// The prompt's words, joined by spaces (after --, a word may start
    /// with -).
    #[arg(value_name = "PROMPT", required = true)]
    words: Vec<String>,
    /// The provider to prefer (the gateway may fall back to another).
    #[arg(long, value_parser = provider)]
    provider: Option<&'static str>,
    #[arg(long, value_name = "N", help = format!("1 to {ASM_LLM_MAX_TOKENS_MAX}"),
          value_parser = clap::value_parser!(u32).range(1..=i64::from(ASM_LLM_MAX_TOKENS_MAX)))]
    max_tokens: Option<u32>,
    /// 0 to 1, with at most three decimals.
    #[arg(long, value_name = "T", value_parser = temperature)]
    temperature: Option<u32>,
    /// The system prompt.
    #[arg(long, value_name = "TEXT", value_parser = system_prompt)]
    system: Option<String>,
    #[arg(long, value_name = "N",
          help = format!("How long the kernel waits for the answer, 1 to {ASM_LLM_TIMEOUT_MAX_MS} ms"),
          value_parser = clap::value_parser!(u32).range(1..=i64::from(ASM_LLM_TIMEOUT_MAX_MS)))]
    timeout_ms: Option<u32>,
}

#[derive(Args, Debug)]
struct SensitiveArgs {
    #[command(subcommand)]
    change: Option<SensitiveSub>,
}

#[derive(Subcommand, Debug)]
enum SensitiveSub {
    /// The sensitive paths (the same as no command).
    List,
    /// Mark a path (and everything under it) sensitive.
    Add {
        #[arg(value_parser = check_path)]
        path: String,
    },
    /// Unmark a path.
    Remove {
        #[arg(value_parser = check_path)]
        path: String,
    },
}

fn deps_help() -> String {
    let kinds: Vec<String> = DEP_KINDS.iter().map(|(_, name)| text_name(name)).collect();
    let signals: Vec<&str> = DEP_SIGNALS.iter().map(|(_, name)| *name).collect();
    format!(
        "A dependency's KIND is one of {}: required (the default: the dependent \
         cannot run without it, and stops with it), optional (the dependent is told \
         when it ends, and runs on) or peer (shown only). --signal gives an optional \
         edge the signal its dependent's processes get when the dependency ends: {} \
         (with or without SIG, any case, or the number). Adding an edge needs the \
         right to narrow both agents' policies (their owner, or CAP_SYS_ADMIN), \
         removing one CAP_SYS_ADMIN, both from a process in no agent; an edge that \
         would close a cycle is refused.",
        kinds.join(", "),
        signals.join(", ")
    )
}

#[derive(Args, Debug)]
#[command(after_help = deps_help())]
struct DepsArgs {
    #[command(subcommand)]
    change: Option<DepsSub>,
    /// One agent: its dependencies as a tree, its dependents and the agents
    /// that stop with it.
    #[arg(value_parser = agent_id)]
    id: Option<u32>,
}

#[derive(Subcommand, Debug)]
enum DepsSub {
    /// Every edge, or one agent's (the same as no command).
    List {
        #[arg(value_parser = agent_id)]
        id: Option<u32>,
    },
    /// Make DEPENDENT depend on DEPENDENCY (audited).
    #[command(after_help = deps_help())]
    Add {
        #[command(flatten)]
        edge: Edge,
        /// required, optional or peer.
        #[arg(long, value_parser = dep_kind, default_value = "required")]
        kind: u32,
        /// The signal an optional edge sends when the dependency ends.
        #[arg(long, value_name = "SIG", value_parser = dep_signal)]
        signal: Option<u32>,
    },
    /// Remove the edge DEPENDENT -> DEPENDENCY (audited).
    Remove {
        #[command(flatten)]
        edge: Edge,
    },
}

#[derive(Args, Debug)]
struct Edge {
    /// The agent that depends.
    #[arg(value_parser = agent_id)]
    dependent: u32,
    /// The agent it depends on.
    #[arg(value_parser = agent_id)]
    dependency: u32,
}

fn profile_help() -> String {
    format!(
        "An operation OP is 1 to {} characters of A-Z, a-z, 0-9, '_', '.', ':' and \
         '-'; an agent has at most {} of them, and each keeps its last {} samples, \
         which the durations are over (SAMPLES and OK% count every sample). DURATION \
         is a number with ns, us, ms or s (950us, 1.5ms), at most an hour. Durations \
         are shown with three significant digits, and in nanoseconds with --json; the \
         aggregate's \"agent\" is null there. record and time come from a process of \
         an agent, and print nothing; time exits with 1 if the sample could not be \
         recorded and CMD exited 0, and 127 if CMD could not be run.",
        ASM_PROFILE_OP_LEN - 1,
        ASM_PROFILE_OPS_MAX,
        ASM_PROFILE_SAMPLES,
    )
}

#[derive(Args, Debug)]
#[command(after_help = profile_help(), args_conflicts_with_subcommands = true)]
struct ProfileArgs {
    #[command(subcommand)]
    record: Option<ProfileSub>,
    /// One agent's operations, slowest p95 first.
    #[arg(value_parser = profile_id, conflicts_with = "all")]
    id: Option<u32>,
    /// One operation of the agent, in detail.
    #[arg(value_parser = op_name, requires = "id")]
    op: Option<String>,
    /// One operation over every agent you can see.
    #[arg(long, value_name = "OP", value_parser = op_name)]
    all: Option<String>,
}

#[derive(Subcommand, Debug)]
enum ProfileSub {
    /// Record one sample of OP for the caller's agent.
    Record {
        #[arg(value_parser = op_name)]
        op: String,
        #[arg(value_parser = duration)]
        duration: u64,
        /// The operation failed.
        #[arg(long)]
        failed: bool,
    },
    /// Run CMD and record its wall time as OP for the caller's agent (failed
    /// unless CMD exits 0); exits with CMD's status.
    Time {
        #[arg(value_parser = op_name)]
        op: String,
        /// The command and its arguments.
        #[arg(value_name = "CMD", required = true, trailing_var_arg = true)]
        command: Vec<OsString>,
    },
}

/// asmctl's names: its own, then the aliases.
const APPLETS: [&str; 6] = [
    "asmctl",
    "asmstatus",
    "asmlist",
    "asminfo",
    "asmpolicy",
    "compliance",
];

/// The applet `argv0` names: its file name if that is one of the aliases,
/// `asmctl` for any other name (a renamed binary is asmctl itself).
fn applet_name(argv0: &OsStr) -> &'static str {
    let name = Path::new(argv0).file_name().and_then(OsStr::to_str);
    APPLETS
        .into_iter()
        .find(|applet| name == Some(*applet))
        .unwrap_or("asmctl")
}

/// A parsed command line: the command, and how its JSON is laid out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub command: Command,
    /// `--pretty`: indented JSON even when stdout is not a terminal.
    pub pretty: bool,
}

/// Parses the command line: `argv0` picks the alias, `args` are the rest.
/// Help and version requests are errors too, of their own kinds, as clap
/// has them: `Error::exit` prints them on stdout with status 0.
pub fn parse(argv0: &OsStr, args: Vec<OsString>) -> Result<Invocation, clap::Error> {
    let argv = std::iter::once(OsString::from(applet_name(argv0))).chain(args);
    let mut cli = applet();
    let matches = cli.try_get_matches_from_mut(argv)?;
    let applet = Applet::from_arg_matches(&matches).map_err(|e| e.format(&mut cli))?;
    invocation(applet).map_err(|msg| {
        // The error names the command the user ran in its usage line.
        let mut leaf = cli.clone();
        let mut m = &matches;
        while let Some((name, sub)) = m.subcommand() {
            let Some(next) = leaf.find_subcommand(name).cloned() else {
                break;
            };
            (leaf, m) = (next, sub);
        }
        leaf.error(ErrorKind::ArgumentConflict, msg)
    })
}

/// The clap definition of every applet.
fn applet() -> clap::Command {
    Applet::command()
}

fn invocation(applet: Applet) -> Result<Invocation, String> {
    let (command, pretty) = match applet {
        Applet::Asmctl(asmctl) => {
            let out = asmctl.out;
            (sub(asmctl.command, out.json)?, out.pretty)
        }
        Applet::Asmstatus(out) => (Command::Status { json: out.json }, out.pretty),
        Applet::Asmlist(a) => (
            Command::List {
                all: a.list.all,
                json: a.out.json,
            },
            a.out.pretty,
        ),
        Applet::Asminfo(a) => (
            Command::Info {
                id: a.id.id,
                json: a.out.json,
            },
            a.out.pretty,
        ),
        Applet::Asmpolicy(a) => (
            Command::Policy {
                id: a.id.id,
                json: a.out.json,
            },
            a.out.pretty,
        ),
        Applet::Compliance(a) => (
            Command::Compliance {
                json: a.out.json,
                min_score: a.compliance.min_score,
            },
            a.out.pretty,
        ),
    };
    Ok(Invocation { command, pretty })
}

/// Refuses -j/--json for a command whose stdout is not asmctl's to fill.
fn no_json(json: bool, command: &str, why: &str) -> Result<(), String> {
    if json {
        return Err(format!("-j/--json does not apply to {command}: {why}"));
    }
    Ok(())
}

fn sub(command: Sub, json: bool) -> Result<Command, String> {
    Ok(match command {
        Sub::Status => Command::Status { json },
        Sub::List(a) => Command::List { all: a.all, json },
        Sub::Info(a) => Command::Info { id: a.id, json },
        Sub::Run(a) => {
            no_json(json, "run", "its stdout is the agent's")?;
            let mut words = a.command.into_iter();
            // clap requires at least one word.
            let program = words.next().unwrap_or_default();
            Command::Run(Launch {
                spec: a.spec.spec(),
                quiet: a.quiet,
                no_landlock: a.no_landlock,
                keep_tty: a.keep_tty,
                program,
                args: words.collect(),
            })
        }
        Sub::Register(a) => Command::Register {
            spec: a.spec.spec(),
            target: match (a.target.pid, a.target.cgroup) {
                (Some(pid), _) => Target::Pid(pid),
                (None, Some(cgroup)) => Target::Cgroup(cgroup),
                // The group is required.
                (None, None) => return Err(String::from("register needs --pid or --cgroup")),
            },
            json,
        },
        Sub::Unregister(a) => Command::Unregister { id: a.id, json },
        Sub::History(a) => Command::History { id: a.id, json },
        Sub::Top(a) => Command::Top {
            once: a.once,
            interval: a.interval,
            json,
        },
        Sub::Metrics {
            listen,
            openmetrics,
            every_agent,
        } => {
            no_json(json, "metrics", "it prints the Prometheus text format")?;
            Command::Metrics {
                listen,
                openmetrics,
                every_agent,
            }
        }
        Sub::Monitor(a) => Command::Monitor(MonitorFilter {
            json,
            agents: a.agents,
            types: a.types,
            count: a.count,
        }),
        Sub::Limits(a) => {
            let target = a.target.target();
            let changes = a.limits.changes();
            if target == PolicyTarget::Defaults {
                let all = [
                    ("--cpu-quota-ms", changes.cpu_quota_ms),
                    ("--mem", changes.mem_limit_bytes),
                    ("--syscall-rate", changes.syscall_rate),
                    ("--watchdog-ms", changes.watchdog_ms),
                ];
                if let Some((name, _)) = all.iter().find(|(_, l)| *l == Some(Limit::Default)) {
                    return Err(format!(
                        "{name}: 'default' applies to an agent only (give the defaults a \
                         value or none)"
                    ));
                }
            }
            Command::Limits {
                target,
                changes,
                json,
            }
        }
        Sub::Recovery(a) => {
            let target = a.target.target();
            let actions = a.actions.actions();
            let change = match a.preset {
                Some(preset) => Some(ActionChange::Preset(preset)),
                None if actions.is_empty() => None,
                None => Some(ActionChange::Actions(actions)),
            };
            if let (PolicyTarget::Defaults, Some(ActionChange::Actions(actions))) =
                (target, &change)
            {
                if actions.iter().any(|(_, a)| *a == ASM_ACTION_DEFAULT) {
                    return Err(String::from(
                        "'default' applies to an agent only (the defaults need an action for \
                         every fault)",
                    ));
                }
            }
            Command::Recovery {
                target,
                change,
                json,
            }
        }
        Sub::Heartbeat => Command::Heartbeat { json },
        Sub::Policy(a) => Command::Policy { id: a.id, json },
        Sub::Patch(a) => Command::Patch {
            id: a.id,
            change: match a.change {
                PatchSub::AddCap { caps } => {
                    PatchChange::AddCaps(caps.into_iter().fold(0, |b, c| b | c))
                }
                PatchSub::RemoveCap { caps } => {
                    PatchChange::RemoveCaps(caps.into_iter().fold(0, |b, c| b | c))
                }
                PatchSub::Scope { scope } => PatchChange::Scope(scope),
                PatchSub::AutoRestart { count } => PatchChange::AutoRestart(count),
                PatchSub::Risk { risk } => PatchChange::Risk(risk),
                PatchSub::Limits { limits } => {
                    let changes = limits.changes();
                    if changes.is_empty() {
                        return Err(String::from(
                            "patch limits needs at least one of --cpu-quota-ms, --mem, \
                             --syscall-rate, --watchdog-ms",
                        ));
                    }
                    PatchChange::Limits(changes)
                }
                PatchSub::LlmRate { burst, refill } => PatchChange::LlmRate { burst, refill },
            },
            json,
        },
        Sub::Audit(a) => match a.verify {
            Some(AuditSub::Verify { trail, file }) => {
                if a.from != 0 || a.export.is_some() {
                    return Err(String::from(
                        "audit verify takes --trail or FILE; --from and --export are audit's",
                    ));
                }
                no_json(json, "audit verify", "its verdict is a line of text")?;
                let trail = trail.or(a.trail);
                if file.is_some() && trail.is_some() {
                    return Err(String::from(
                        "--trail picks a live trail; an export is verified as it is",
                    ));
                }
                Command::AuditVerify {
                    trail: trail.map_or(Trail::Policy, Trail::from),
                    file,
                }
            }
            None => {
                if a.export.is_some() {
                    no_json(json, "audit --export", "it writes the JSON to its file")?;
                }
                Command::Audit {
                    trail: a.trail.map_or(Trail::Policy, Trail::from),
                    from: a.from,
                    json,
                    export: a.export,
                }
            }
        },
        Sub::Oversight(a) => Command::Oversight {
            id: a.id,
            action: a.action,
            note: a.note,
            json,
        },
        Sub::Decision(a) => {
            let text = a.words.join(" ");
            if text.is_empty() {
                return Err(String::from("decision needs a text"));
            }
            check_text("the decision", &text)?;
            Command::Decision { text, json }
        }
        Sub::Llm(a) => {
            let prompt = a.words.join(" ");
            if prompt.is_empty() {
                return Err(String::from("llm needs a prompt"));
            }
            if prompt.len() > ASM_LLM_PROMPT_MAX {
                return Err(format!(
                    "the prompt must be at most {ASM_LLM_PROMPT_MAX} bytes long ({} given)",
                    prompt.len()
                ));
            }
            Command::Llm {
                request: LlmRequest {
                    prompt,
                    provider: a.provider,
                    max_tokens: a.max_tokens,
                    temperature: a.temperature,
                    system: a.system,
                    timeout_ms: a.timeout_ms,
                },
                json,
            }
        }
        Sub::Sensitive(a) => Command::Sensitive {
            change: match a.change {
                None | Some(SensitiveSub::List) => None,
                Some(SensitiveSub::Add { path }) => Some(SensitiveChange::Add(path)),
                Some(SensitiveSub::Remove { path }) => Some(SensitiveChange::Remove(path)),
            },
            json,
        },
        Sub::Deps(a) => deps(a, json)?,
        Sub::Profile(a) => profile(a, json)?,
        Sub::Compliance(a) => Command::Compliance {
            json,
            min_score: a.min_score,
        },
        Sub::Completions { shell, name } => {
            no_json(json, "completions", "it prints a shell script")?;
            Command::Completions(shell, name)
        }
        Sub::Manpages { dir } => Command::Manpages(dir),
    })
}

fn deps(a: DepsArgs, json: bool) -> Result<Command, String> {
    let action = match a.change {
        None => DepsAction::Show(a.id),
        Some(_) if a.id.is_some() => {
            return Err(String::from(
                "an agent id goes after list, or alone: deps ID, deps list ID",
            ))
        }
        Some(DepsSub::List { id }) => DepsAction::Show(id),
        Some(DepsSub::Add { edge, kind, signal }) => {
            if signal.is_some() && kind != ASM_DEP_OPTIONAL {
                // The module refuses it too (EINVAL): a dependent that stops
                // with its dependency, or a peer, has nothing to catch.
                return Err(String::from(
                    "--signal only applies to an optional dependency (--kind optional)",
                ));
            }
            let (dependent, dependency) = edge.ids()?;
            DepsAction::Add {
                dependent,
                dependency,
                kind,
                signal: signal.unwrap_or(0),
            }
        }
        Some(DepsSub::Remove { edge }) => {
            let (dependent, dependency) = edge.ids()?;
            DepsAction::Remove {
                dependent,
                dependency,
            }
        }
    };
    Ok(Command::Deps { action, json })
}

impl Edge {
    fn ids(&self) -> Result<(u32, u32), String> {
        if self.dependent == self.dependency {
            return Err(format!("agent {} cannot depend on itself", self.dependent));
        }
        Ok((self.dependent, self.dependency))
    }
}

fn profile(a: ProfileArgs, json: bool) -> Result<Command, String> {
    let action = match (a.record, a.all, a.id, a.op) {
        (
            Some(ProfileSub::Record {
                op,
                duration,
                failed,
            }),
            ..,
        ) => ProfileAction::Record {
            op,
            duration_ns: duration,
            success: !failed,
        },
        (Some(ProfileSub::Time { op, command }), ..) => {
            no_json(json, "profile time", "its stdout is its command's")?;
            let mut words = command.into_iter();
            ProfileAction::Time {
                op,
                // clap requires at least one word.
                program: words.next().unwrap_or_default(),
                args: words.collect(),
            }
        }
        (None, Some(op), ..) => ProfileAction::Aggregate(op),
        (None, None, Some(id), Some(op)) => ProfileAction::Op { id, op },
        (None, None, Some(id), None) => ProfileAction::Agent(id),
        (None, None, None, _) => ProfileAction::All,
    };
    Ok(Command::Profile { action, json })
}

/// Writes the completion script of `shell` for asmctl and each alias, or
/// for `only` that name.
pub fn write_completions(shell: clap_complete::Shell, only: Option<&str>, out: &mut dyn Write) {
    for mut cmd in applets() {
        let name = cmd.get_name().to_string();
        if only.is_none_or(|only| only == name) {
            clap_complete::generate(shell, &mut cmd, name, out);
        }
    }
}

/// Writes the man pages of asmctl, each of its commands and each alias to
/// `dir` (asmctl.1, asmctl-run.1, ..., asmstatus.1, ...).
pub fn write_man_pages(dir: &Path) -> io::Result<()> {
    for cmd in applets_with(without_help_commands(applet())) {
        clap_mangen::generate_to(cmd, dir)?;
    }
    Ok(())
}

/// `cmd` without the `help` command at any level: a page for `asmctl help
/// run` would repeat the one of `asmctl run`.
fn without_help_commands(cmd: clap::Command) -> clap::Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    names
        .into_iter()
        .fold(cmd.disable_help_subcommand(true), |cmd, name| {
            cmd.mut_subcommand(name, without_help_commands)
        })
}

/// asmctl and its aliases, each as a command of its own.
fn applets() -> Vec<clap::Command> {
    applets_with(applet())
}

/// The applets of the multi-call command `root`.
fn applets_with(mut root: clap::Command) -> Vec<clap::Command> {
    root.build();
    root.get_subcommands()
        .filter(|c| c.get_name() != "help")
        .map(|c| c.clone().version(env!("CARGO_PKG_VERSION")))
        .collect()
}

fn caps_help() -> String {
    let caps: Vec<&str> = CAPABILITIES.iter().map(|c| c.name).collect();
    format!(
        "Capabilities (any case; fs_basic and FS_BASIC work too): {}.",
        caps.join(", ")
    )
}

/// An agent id the user typed: 1 to `ASM_ID_MAX` (0 means "allocate one"
/// in the ABI, which the user asks for by leaving `--id` out).
fn agent_id(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(id) if (1..=ASM_ID_MAX).contains(&id) => Ok(id),
        _ => Err(format!("expected an agent id, 1 to {ASM_ID_MAX}")),
    }
}

/// `profile ID`: 0 is no agent, and the user may have meant every agent.
fn profile_id(text: &str) -> Result<u32, String> {
    agent_id(text).map_err(|e| match text {
        "0" => format!("{e} (every agent's figures of an operation: profile --all OP)"),
        _ => e,
    })
}

fn agent_name(text: &str) -> Result<String, String> {
    if text.is_empty() || text.len() >= ASM_NAME_LEN {
        return Err(format!(
            "an agent name is 1 to {} bytes long",
            ASM_NAME_LEN - 1
        ));
    }
    Ok(text.to_string())
}

/// A comma-separated list of capability names, as bits.
fn capabilities(text: &str) -> Result<u64, String> {
    text.split(',').try_fold(0, |bits, name| {
        parse_capability(name.trim())
            .map(|bit| bits | bit)
            .ok_or_else(|| {
                let known: Vec<&str> = CAPABILITIES.iter().map(|c| c.name).collect();
                format!("unknown capability '{name}' (known: {})", known.join(", "))
            })
    })
}

/// An absolute path that fits the ABI's path fields.
fn check_path(text: &str) -> Result<String, String> {
    if text.len() >= ASM_SCOPE_LEN {
        return Err(format!("at most {} bytes long", ASM_SCOPE_LEN - 1));
    }
    if !text.starts_with('/') {
        return Err("not an absolute path".to_string());
    }
    Ok(text.to_string())
}

/// `patch ID scope`: a path, or `none` (empty: no scope).
fn scope_or_none(text: &str) -> Result<String, String> {
    match text {
        "none" => Ok(String::new()),
        path => check_path(path),
    }
}

/// Unacceptable is sent all the same: the kernel refuses it and audits the
/// refusal, which is the record the Act asks for.
fn risk(text: &str) -> Result<u32, String> {
    parse_risk(text).ok_or_else(|| "known: minimal, limited, high, unacceptable".to_string())
}

/// `patch ID risk`: what a patch may set.
fn patch_risk(text: &str) -> Result<u32, String> {
    match parse_risk(text) {
        Some(ASM_RISK_UNACCEPTABLE) => Err(
            "risk level Unacceptable is prohibited: a patch may set minimal, limited or high"
                .to_string(),
        ),
        Some(risk) => Ok(risk),
        None => Err("known: minimal, limited, high".to_string()),
    }
}

fn pid(text: &str) -> Result<i32, String> {
    match text.parse::<i32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err("expected a process id".to_string()),
    }
}

/// `top --interval`: seconds, fractions allowed. The lower bound keeps a
/// typo (`0.001`) from turning the view into a busy loop on the device.
fn interval(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(secs) if (0.1..=86400.0).contains(&secs) => Ok(Duration::from_secs_f64(secs)),
        _ => Err("expected 0.1 to 86400 seconds".to_string()),
    }
}

/// A limit: `none`, `default`, or a number below `max`, the field's "no
/// limit" value. 0 is refused: it means "default" for an agent and "none"
/// in the defaults, and the user should say which.
fn limit(text: &str, value: Option<u64>, max: u64) -> Result<Limit, String> {
    // Any case: `limits --json` writes "Default".
    match text.to_ascii_lowercase().as_str() {
        "none" => return Ok(Limit::Unlimited),
        "default" => return Ok(Limit::Default),
        _ => {}
    }
    match value {
        Some(v) if v > 0 && v < max => Ok(Limit::Value(v)),
        Some(0) => Err("use none for no limit, or default".to_string()),
        _ => Err(format!("expected 1 to {}, none or default", max - 1)),
    }
}

fn limit32(text: &str) -> Result<Limit, String> {
    limit(text, text.parse().ok(), u64::from(u32::MAX))
}

/// Malformed or too large, the message is the same: it shows the syntax.
fn limit_size(text: &str) -> Result<Limit, String> {
    limit(text, parse_size(text).ok(), u64::MAX).map_err(|e| match parse_size(text) {
        Ok(0) => e,
        _ => "expected bytes, or a number with K, M or G; none or default".to_string(),
    })
}

/// The action value parser of `recovery`'s option for `fault`.
fn action_for(fault: u32) -> impl Fn(&str) -> Result<u8, String> + Clone + Send + Sync {
    move |text| {
        let action = parse_action(text)
            .ok_or_else(|| "known: log, throttle, kill, restart, default".to_string())?;
        if !action_allowed(fault, action) {
            return Err("throttle applies to --cpu-quota and --syscall-flood only".to_string());
        }
        Ok(action)
    }
}

fn preset(text: &str) -> Result<u32, String> {
    parse_preset(text).ok_or_else(|| "known: default, permissive, strict".to_string())
}

fn oversight_action(text: &str) -> Result<u32, String> {
    parse_oversight(text).ok_or_else(|| "known: review, approve, reject, stop".to_string())
}

/// A note or a decision: text that fits `struct asm_note`, without the
/// control characters the kernel refuses.
fn check_text(what: &str, text: &str) -> Result<(), String> {
    if text.len() >= ASM_NOTE_LEN {
        return Err(format!(
            "{what} must be at most {} bytes long",
            ASM_NOTE_LEN - 1
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(format!(
            "{what} must be printable text (no newlines or control characters)"
        ));
    }
    Ok(())
}

fn note_text(text: &str) -> Result<String, String> {
    check_text("a note", text).map(|()| text.to_string())
}

/// `--provider`: a provider's name, in any case.
fn provider(text: &str) -> Result<&'static str, String> {
    parse_llm_provider(text)
        .and_then(llm_provider_name)
        .ok_or_else(|| {
            let known: Vec<String> = LLM_PROVIDERS
                .iter()
                .map(|(_, name)| text_name(name))
                .collect();
            format!("known: {}", known.join(", "))
        })
}

fn system_prompt(text: &str) -> Result<String, String> {
    if text.len() > ASM_LLM_SYSTEM_MAX {
        return Err(format!(
            "at most {ASM_LLM_SYSTEM_MAX} bytes long ({} given)",
            text.len()
        ));
    }
    Ok(text.to_string())
}

/// `--temperature`: 0 to 1 with at most three decimals, in thousandths.
/// Read as decimal text, never through a float, so that what the kernel
/// gets is exactly what was typed.
fn temperature(text: &str) -> Result<u32, String> {
    let bad = || "expected 0 to 1, at most three decimals, e.g. 0.25".to_string();
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || !digits(whole)
        || !digits(frac)
        || (text.contains('.') && frac.is_empty())
    {
        return Err(bad());
    }
    if frac.len() > 3 {
        return Err("at most three decimals".to_string());
    }
    // At most three decimal digits and a whole part that must be 0 or 1:
    // anything longer is out of range, and short enough not to overflow.
    let whole: u32 = match whole.trim_start_matches('0') {
        "" => 0,
        "1" => 1,
        _ => return Err(bad()),
    };
    let frac_value: u32 = format!("{frac:0<3}").parse().map_err(|_| bad())?;
    let value = whole * 1000 + frac_value;
    if value > 1000 {
        return Err(bad());
    }
    Ok(value)
}

/// `deps add --kind`: a dependency kind's name, in any case.
fn dep_kind(text: &str) -> Result<u32, String> {
    parse_dep_kind(text).ok_or_else(|| {
        let known: Vec<String> = DEP_KINDS.iter().map(|(_, name)| text_name(name)).collect();
        format!("known: {}", known.join(", "))
    })
}

/// `deps add --signal`: one of the signals the module lets an optional edge
/// send, by name or number.
fn dep_signal(text: &str) -> Result<u32, String> {
    parse_dep_signal(text).ok_or_else(|| {
        let known: Vec<&str> = DEP_SIGNALS.iter().map(|(_, name)| *name).collect();
        format!(
            "a dependency's end sends one of {} (by name, with or without SIG, or by number)",
            known.join(", ")
        )
    })
}

/// `monitor --type`: an event type's name, in any case, with or without
/// `_` (`LlmRequest`, `llm_request`).
fn event_type(text: &str) -> Result<u32, String> {
    parse_event_type(text).ok_or_else(|| {
        let known: Vec<String> = EVENT_TYPES
            .iter()
            .map(|(_, name)| text_name(name))
            .collect();
        format!("known: {}", known.join(", "))
    })
}

fn op_name(text: &str) -> Result<String, String> {
    check_op_name(text).map(|()| text.to_string())
}

fn duration(text: &str) -> Result<u64, String> {
    parse_duration(text)
}
#[cfg(test)]
mod tests {
    use super::*;
    use asm_abi::{ASM_CAP_FS_BASIC, ASM_CAP_LLM_ACCESS, ASM_CAP_NET_CLIENT, ASM_DEP_REQUIRED};

    /// asmctl's command, or the error it prints, for `args`.
    fn call(argv0: &str, args: &[&str]) -> Result<Command, String> {
        parse(OsStr::new(argv0), args.iter().map(OsString::from).collect())
            .map(|i| i.command)
            .map_err(|e| e.to_string())
    }

    fn asmctl(args: &[&str]) -> Result<Command, String> {
        call("/usr/sbin/asmctl", args)
    }

    /// The help text `args` ask for.
    fn help(args: &[&str]) -> String {
        let argv = args.iter().map(OsString::from).collect();
        match parse(OsStr::new("asmctl"), argv) {
            Err(e) if e.kind() == ErrorKind::DisplayHelp => e.to_string(),
            other => panic!("{args:?}: expected help, got {other:?}"),
        }
    }

    /// The error asmctl prints for `args`, which must be a usage error.
    fn usage_msg(args: &[&str]) -> String {
        let argv = args.iter().map(OsString::from).collect();
        match parse(OsStr::new("asmctl"), argv) {
            Err(e) if e.exit_code() == 2 => e.to_string(),
            other => panic!("{args:?}: expected a usage error, got {other:?}"),
        }
    }

    /// Checks that the usage error of `args` says `want`.
    fn expect_usage(args: &[&str], want: &str) {
        let msg = usage_msg(args);
        assert!(
            msg.contains(want),
            "{args:?}: {msg:?} does not say {want:?}"
        );
    }

    fn spec(name: &str) -> AgentSpec {
        AgentSpec {
            name: name.into(),
            id: 0,
            capabilities: 0,
            scope: String::new(),
            auto_restart: 0,
            risk_level: asm_abi::ASM_RISK_DEFAULT,
        }
    }

    #[test]
    fn multi_call_names() {
        assert_eq!(call("asmstatus", &[]), Ok(Command::Status { json: false }));
        assert_eq!(
            call("/usr/local/bin/asmlist", &["--all"]),
            Ok(Command::List {
                all: true,
                json: false
            })
        );
        assert_eq!(
            call("./asminfo", &["100", "--json"]),
            Ok(Command::Info {
                id: 100,
                json: true
            })
        );
        // The alias consumes no argument: "status" here is a stray one.
        assert!(call("asmstatus", &["status"]).is_err());
        // Any other name is asmctl itself.
        assert_eq!(
            call("asmctl-test", &["status"]),
            Ok(Command::Status { json: false })
        );
        assert_eq!(applet_name(OsStr::new("/bin/asminfo")), "asminfo");
        assert_eq!(applet_name(OsStr::new("asmctl")), "asmctl");
        assert_eq!(applet_name(OsStr::new("asminfo/")), "asminfo");
        assert_eq!(applet_name(OsStr::new("")), "asmctl");
    }

    #[test]
    fn read_commands() {
        assert!(help(&["help"]).contains("\n  status "));
        assert!(help(&["--help"]).contains("\n  status "));
        assert!(help(&["list", "-h"]).contains("Usage: asmctl list [OPTIONS]"));
        assert_eq!(
            asmctl(&["status", "--json"]),
            Ok(Command::Status { json: true })
        );
        assert_eq!(
            asmctl(&["list"]),
            Ok(Command::List {
                all: false,
                json: false
            })
        );
        assert_eq!(
            asmctl(&["list", "--json", "--all"]),
            Ok(Command::List {
                all: true,
                json: true
            })
        );
        assert_eq!(
            asmctl(&["info", "--json", "2147483647"]),
            Ok(Command::Info {
                id: ASM_ID_MAX,
                json: true
            })
        );
        assert_eq!(
            asmctl(&["unregister", "100"]),
            Ok(Command::Unregister {
                id: 100,
                json: false
            })
        );
        assert!(asmctl(&["status", "--json"]).is_ok_and(|c| c.json()));
        assert!(asmctl(&["unregister", "1"]).is_ok_and(|c| !c.json()));
    }

    #[test]
    fn run_command() {
        assert_eq!(
            asmctl(&[
                "run",
                "--name",
                "fs_monitor",
                "--id=100",
                "--cap",
                "FsBasic",
                "--cap",
                "net_client,LLM_ACCESS",
                "--scope",
                "/tmp/ws/",
                "--auto-restart",
                "3",
                "--quiet",
                "--",
                "python3",
                "agent.py",
                "--name",
                "--",
            ]),
            Ok(Command::Run(Launch {
                spec: AgentSpec {
                    name: "fs_monitor".into(),
                    id: 100,
                    capabilities: ASM_CAP_FS_BASIC | ASM_CAP_NET_CLIENT | ASM_CAP_LLM_ACCESS,
                    scope: "/tmp/ws/".into(),
                    auto_restart: 3,
                    risk_level: 0,
                },
                quiet: true,
                no_landlock: false,
                keep_tty: false,
                program: "python3".into(),
                args: vec!["agent.py".into(), "--name".into(), "--".into()],
            }))
        );
        // Without "--" the command starts at the first non-option.
        assert_eq!(
            asmctl(&["run", "--name", "a", "sleep", "-x"]),
            Ok(Command::Run(Launch {
                spec: spec("a"),
                quiet: false,
                no_landlock: false,
                keep_tty: false,
                program: "sleep".into(),
                args: vec!["-x".into()],
            }))
        );
        assert_eq!(
            asmctl(&["run", "--no-landlock", "--name", "a", "sleep"]),
            Ok(Command::Run(Launch {
                spec: spec("a"),
                quiet: false,
                no_landlock: true,
                keep_tty: false,
                program: "sleep".into(),
                args: vec![],
            }))
        );
        assert_eq!(
            asmctl(&["run", "--name", "a", "--keep-tty", "--", "sh", "--keep-tty"]),
            Ok(Command::Run(Launch {
                spec: spec("a"),
                quiet: false,
                no_landlock: false,
                keep_tty: true,
                program: "sh".into(),
                args: vec!["--keep-tty".into()],
            }))
        );
    }

    #[test]
    fn register_command() {
        assert_eq!(
            asmctl(&["register", "--pid", "42", "--name", "n", "--cap", "admin"]),
            Ok(Command::Register {
                spec: AgentSpec {
                    capabilities: asm_abi::ASM_CAP_ADMIN,
                    ..spec("n")
                },
                target: Target::Pid(42),
                json: false,
            })
        );
        assert_eq!(
            asmctl(&["register", "--name=n", "--cgroup", "/sys/fs/cgroup/a"]),
            Ok(Command::Register {
                spec: spec("n"),
                target: Target::Cgroup("/sys/fs/cgroup/a".into()),
                json: false,
            })
        );
    }

    #[test]
    fn bad_command_lines() {
        for (args, want) in [
            (&[][..], "Usage: asmctl [OPTIONS] <COMMAND>"),
            (&["frobnicate"], "unrecognized subcommand 'frobnicate'"),
            (&["status", "--all"], "unexpected argument '--all' found"),
            (&["status", "--json=yes"], "unexpected value 'yes' for '--json' found; no more were expected"),
            (&["list", "x"], "unexpected argument 'x' found"),
            (&["info"], "the following required arguments were not provided:\n  <ID>"),
            (&["info", "1", "2"], "unexpected argument '2' found"),
            (
                &["info", "abc"],
                "invalid value 'abc' for '<ID>': expected an agent id, 1 to 2147483647",
            ),
            (
                &["info", "0"],
                "invalid value '0' for '<ID>': expected an agent id, 1 to 2147483647",
            ),
            (
                &["info", "2147483648"],
                "invalid value '2147483648' for '<ID>': expected an agent id, 1 to 2147483647",
            ),
            (&["unregister"], "the following required arguments were not provided:\n  <ID>"),
            (&["run", "--name", "a"], "the following required arguments were not provided:\n  <CMD>..."),
            (
                &["run", "--keep-tty=yes", "--name", "a", "true"],
                "unexpected value 'yes' for '--keep-tty' found; no more were expected",
            ),
            (
                &["run", "--name", "a", "--"],
                "the following required arguments were not provided:\n  <CMD>...",
            ),
            (&["run", "--", "true"], "the following required arguments were not provided:\n  --name <NAME>"),
            (&["run", "--name"], "a value is required for '--name <NAME>' but none was supplied"),
            (
                &["run", "--name", "", "true"],
                "invalid value '' for '--name <NAME>': an agent name is 1 to 31 bytes long",
            ),
            (
                &["run", "--name", &"x".repeat(32), "true"],
                "invalid value 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' for '--name <NAME>': an agent name is 1 to 31 bytes long",
            ),
            (
                &["run", "--name", "a", "--scope", "tmp", "true"],
                "invalid value 'tmp' for '--scope <SCOPE>': not an absolute path",
            ),
            (
                &[
                    "run",
                    "--name",
                    "a",
                    "--scope",
                    &format!("/{}", "x".repeat(255)),
                    "true",
                ],
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' for '--scope <SCOPE>': at most 255 bytes long",
            ),
            (
                &["run", "--name", "a", "--auto-restart", "-1", "true"],
                "unexpected argument '-1' found",
            ),
            (
                &["run", "--name", "a", "--pid", "1", "true"],
                "unexpected argument '--pid' found",
            ),
            (
                &["run", "--name", "a", "--cap", "Foo", "true"],
                "unknown capability 'Foo' (known: FsBasic, FsExtended, NetClient, \
                 NetServer, AudioControl, LlmAccess, ProcessSpawn, Admin)",
            ),
            (
                &["run", "--name", "a", "--cap", "FsBasic,", "true"],
                "unknown capability '' (known: FsBasic, FsExtended, NetClient, \
                 NetServer, AudioControl, LlmAccess, ProcessSpawn, Admin)",
            ),
            (
                &["register", "--name", "a"],
                "the following required arguments were not provided:\n  <--pid <PID>|--cgroup <CGROUP>>",
            ),
            (
                &["register", "--name", "a", "--pid", "1", "--cgroup", "/x"],
                "the argument '--pid <PID>' cannot be used with '--cgroup <CGROUP>'",
            ),
            (
                &["register", "--name", "a", "--pid", "0"],
                "invalid value '0' for '--pid <PID>': expected a process id",
            ),
            (
                &["register", "--name", "a", "--pid", "x"],
                "invalid value 'x' for '--pid <PID>': expected a process id",
            ),
            (&["register", "--pid", "1"], "the following required arguments were not provided:\n  --name <NAME>"),
            (
                &["register", "--pid", "1", "--name", "a", "cmd"],
                "unexpected argument 'cmd' found",
            ),
        ] {
            expect_usage(args, want);
        }
    }

    #[test]
    fn fault_detector_commands() {
        assert_eq!(
            asmctl(&["history", "100"]),
            Ok(Command::History {
                id: 100,
                json: false
            })
        );
        assert_eq!(
            asmctl(&["history", "--json", "7"]),
            Ok(Command::History { id: 7, json: true })
        );
        assert_eq!(
            asmctl(&["top"]),
            Ok(Command::Top {
                once: false,
                interval: Duration::from_secs(1),
                json: false
            })
        );
        assert_eq!(
            asmctl(&["top", "--interval", "0.5", "--once"]),
            Ok(Command::Top {
                once: true,
                interval: Duration::from_millis(500),
                json: false
            })
        );
        // Without --once, --json streams a frame a line.
        assert_eq!(
            asmctl(&["top", "--json", "-n", "2"]),
            Ok(Command::Top {
                once: false,
                interval: Duration::from_secs(2),
                json: true
            })
        );
        assert_eq!(
            asmctl(&["heartbeat"]),
            Ok(Command::Heartbeat { json: false })
        );
        assert!(asmctl(&["top", "--json"]).is_ok_and(|c| c.json()));
        assert!(asmctl(&["heartbeat"]).is_ok_and(|c| !c.json()));
    }

    #[test]
    fn limits_command() {
        assert_eq!(
            asmctl(&["limits", "100"]),
            Ok(Command::Limits {
                target: PolicyTarget::Agent(100),
                changes: LimitChanges::default(),
                json: false
            })
        );
        assert_eq!(
            asmctl(&["limits", "--default", "--json"]),
            Ok(Command::Limits {
                target: PolicyTarget::Defaults,
                changes: LimitChanges::default(),
                json: true
            })
        );
        assert_eq!(
            asmctl(&[
                "limits",
                "--cpu-quota-ms",
                "300",
                "--mem=1G",
                "--syscall-rate",
                "None",
                "--watchdog-ms",
                "Default",
                "100",
            ]),
            Ok(Command::Limits {
                target: PolicyTarget::Agent(100),
                changes: LimitChanges {
                    cpu_quota_ms: Some(Limit::Value(300)),
                    mem_limit_bytes: Some(Limit::Value(1 << 30)),
                    syscall_rate: Some(Limit::Unlimited),
                    watchdog_ms: Some(Limit::Default),
                },
                json: false
            })
        );
        assert_eq!(
            asmctl(&[
                "limits",
                "--default",
                "--mem",
                "none",
                "--watchdog-ms",
                "4294967294"
            ]),
            Ok(Command::Limits {
                target: PolicyTarget::Defaults,
                changes: LimitChanges {
                    mem_limit_bytes: Some(Limit::Unlimited),
                    watchdog_ms: Some(Limit::Value(u64::from(u32::MAX) - 1)),
                    ..LimitChanges::default()
                },
                json: false
            })
        );
        // asm_abi::parse_size: K, M or G in either case; too large reads
        // like malformed, with the syntax.
        for (text, bytes) in [("512k", 512 << 10), ("100M", 100 << 20), ("2g", 2 << 30)] {
            assert_eq!(
                asmctl(&["limits", "7", "--mem", text]),
                Ok(Command::Limits {
                    target: PolicyTarget::Agent(7),
                    changes: LimitChanges {
                        mem_limit_bytes: Some(Limit::Value(bytes)),
                        ..LimitChanges::default()
                    },
                    json: false
                }),
                "{text}"
            );
        }
        for text in ["17179869184G", "4 M", "4MB", "+4"] {
            expect_usage(
                &["limits", "7", "--mem", text],
                &format!(
                    "invalid value '{text}' for '--mem <SIZE>': expected bytes, or a number with \
                     K, M or G; none or default"
                ),
            );
        }
    }

    #[test]
    fn recovery_command() {
        assert_eq!(
            asmctl(&["recovery", "--default"]),
            Ok(Command::Recovery {
                target: PolicyTarget::Defaults,
                change: None,
                json: false
            })
        );
        assert_eq!(
            asmctl(&["recovery", "101", "--preset", "strict"]),
            Ok(Command::Recovery {
                target: PolicyTarget::Agent(101),
                change: Some(ActionChange::Preset(asm_abi::ASM_PRESET_STRICT)),
                json: false
            })
        );
        // In fault order whatever the option order; the last of a repeated
        // option counts.
        assert_eq!(
            asmctl(&[
                "recovery",
                "100",
                "--unresponsive",
                "kill",
                "--cpu-quota=throttle",
                "--crash",
                "log",
                "--crash",
                "default",
                "--memory",
                "restart",
            ]),
            Ok(Command::Recovery {
                target: PolicyTarget::Agent(100),
                change: Some(ActionChange::Actions(vec![
                    (ASM_FAULT_CPU_QUOTA, asm_abi::ASM_ACTION_THROTTLE),
                    (ASM_FAULT_MEMORY, asm_abi::ASM_ACTION_RESTART),
                    (ASM_FAULT_CRASH, asm_abi::ASM_ACTION_DEFAULT),
                    (ASM_FAULT_UNRESPONSIVE, asm_abi::ASM_ACTION_KILL),
                ])),
                json: false
            })
        );
        assert_eq!(
            asmctl(&[
                "recovery",
                "--default",
                "--syscall-flood",
                "throttle",
                "--capability",
                "log"
            ]),
            Ok(Command::Recovery {
                target: PolicyTarget::Defaults,
                change: Some(ActionChange::Actions(vec![
                    (ASM_FAULT_SYSCALL_FLOOD, asm_abi::ASM_ACTION_THROTTLE),
                    (ASM_FAULT_CAPABILITY, asm_abi::ASM_ACTION_LOG),
                ])),
                json: false
            })
        );
    }

    #[test]
    fn bad_fault_detector_command_lines() {
        for (args, want) in [
            (&["history"][..], "the following required arguments were not provided:\n  <ID>"),
            (
                &["history", "0"],
                "invalid value '0' for '<ID>': expected an agent id, 1 to 2147483647",
            ),
            (&["history", "1", "--all"], "unexpected argument '--all' found"),
            (
                &["top", "--interval", "0"],
                "invalid value '0' for '--interval <SECONDS>': expected 0.1 to 86400 seconds",
            ),
            (
                &["top", "--interval", "-1"],
                "unexpected argument '-1' found",
            ),
            (
                &["top", "--interval", "NaN"],
                "invalid value 'NaN' for '--interval <SECONDS>': expected 0.1 to 86400 seconds",
            ),
            (&["top", "--interval"], "a value is required for '--interval <SECONDS>' but none was supplied"),
            (&["top", "5"], "unexpected argument '5' found"),
            (&["heartbeat", "100"], "unexpected argument '100' found"),
            (&["limits"], "the following required arguments were not provided:\n  <ID|--default>"),
            (
                &["limits", "100", "--default"],
                "the argument '[ID]' cannot be used with '--default'",
            ),
            (&["limits", "100", "101"], "unexpected argument '101' found"),
            (&["limits", "100", "--cpu"], "unexpected argument '--cpu' found"),
            (
                &["limits", "100", "--cpu-quota-ms", "0"],
                "invalid value '0' for '--cpu-quota-ms <N>': use none for no limit, or default",
            ),
            (
                &["limits", "100", "--cpu-quota-ms", "1.5"],
                "invalid value '1.5' for '--cpu-quota-ms <N>': expected 1 to 4294967294, none or default",
            ),
            (
                &["limits", "100", "--syscall-rate", "4294967295"],
                "invalid value '4294967295' for '--syscall-rate <N>': expected 1 to 4294967294, none or default",
            ),
            (
                &["limits", "100", "--watchdog-ms", "-5"],
                "unexpected argument '-5' found",
            ),
            (
                &["limits", "100", "--mem", "10X"],
                "invalid value '10X' for '--mem <SIZE>': expected bytes, or a number with K, M or G; none or default",
            ),
            (
                &["limits", "100", "--mem", "18446744073709551615"],
                "invalid value '18446744073709551615' for '--mem <SIZE>': expected bytes, or a number with K, M or G; none or default",
            ),
            (
                &["limits", "100", "--mem", "0K"],
                "invalid value '0K' for '--mem <SIZE>': use none for no limit, or default",
            ),
            (
                &["limits", "--default", "--mem", "default"],
                "--mem: 'default' applies to an agent only (give the defaults a value or none)",
            ),
            (&["recovery"], "the following required arguments were not provided:\n  <ID|--default>"),
            (
                &["recovery", "100", "--memory", "throttle"],
                "invalid value 'throttle' for '--memory <A>': throttle applies to --cpu-quota and --syscall-flood only",
            ),
            (
                &["recovery", "100", "--crash", "throttle"],
                "invalid value 'throttle' for '--crash <A>': throttle applies to --cpu-quota and --syscall-flood only",
            ),
            (
                &["recovery", "100", "--crash", "ignore"],
                "invalid value 'ignore' for '--crash <A>': known: log, throttle, kill, restart, default",
            ),
            (
                &["recovery", "100", "--preset", "none"],
                "invalid value 'none' for '--preset <PRESET>': known: default, permissive, strict",
            ),
            (
                &["recovery", "100", "--preset", "strict", "--crash", "log"],
                "the argument '--preset <PRESET>' cannot be used with:\n  --cpu-quota <A>",
            ),
            (
                &["recovery", "--default", "--crash", "default"],
                "'default' applies to an agent only (the defaults need an action for every fault)",
            ),
            (&["recovery", "100", "--cpu"], "unexpected argument '--cpu' found"),
        ] {
            expect_usage(args, want);
        }
    }

    #[test]
    fn risk_option_of_run_and_register() {
        assert_eq!(
            asmctl(&["register", "--pid", "42", "--name", "n", "--risk", "high"]),
            Ok(Command::Register {
                spec: AgentSpec {
                    risk_level: asm_abi::ASM_RISK_HIGH,
                    ..spec("n")
                },
                target: Target::Pid(42),
                json: false,
            })
        );
        // Unacceptable reaches the kernel, which refuses and audits it.
        let run = asmctl(&["run", "--risk=Unacceptable", "--name", "a", "true"]);
        assert!(
            matches!(&run, Ok(Command::Run(Launch { spec, .. }))
                if spec.risk_level == asm_abi::ASM_RISK_UNACCEPTABLE),
            "{run:?}"
        );
        let run = asmctl(&["run", "--risk", "minimal", "--name", "a", "true"]);
        assert!(
            matches!(&run, Ok(Command::Run(Launch { spec, .. }))
                if spec.risk_level == asm_abi::ASM_RISK_MINIMAL),
            "{run:?}"
        );
        expect_usage(
            &["register", "--pid", "1", "--name", "a", "--risk", "low"],
            "invalid value 'low' for '--risk <RISK>': known: minimal, limited, high, unacceptable",
        );
    }

    #[test]
    fn patch_command() {
        let patch = |id, change| {
            Ok(Command::Patch {
                id,
                change,
                json: false,
            })
        };
        assert_eq!(
            asmctl(&["patch", "100", "add-cap", "FsBasic,net_client"]),
            patch(
                100,
                PatchChange::AddCaps(ASM_CAP_FS_BASIC | ASM_CAP_NET_CLIENT)
            )
        );
        // Admin is sent: the kernel refuses it and audits the attempt.
        assert_eq!(
            asmctl(&["patch", "100", "add-cap", "Admin"]),
            patch(100, PatchChange::AddCaps(asm_abi::ASM_CAP_ADMIN))
        );
        assert_eq!(
            asmctl(&["patch", "7", "remove-cap", "LlmAccess", "fs_basic"]),
            patch(
                7,
                PatchChange::RemoveCaps(ASM_CAP_LLM_ACCESS | ASM_CAP_FS_BASIC)
            )
        );
        assert_eq!(
            asmctl(&["patch", "100", "scope", "/tmp/safe_zone/"]),
            patch(100, PatchChange::Scope("/tmp/safe_zone/".into()))
        );
        assert_eq!(
            asmctl(&["patch", "100", "scope", "none"]),
            patch(100, PatchChange::Scope(String::new()))
        );
        assert_eq!(
            asmctl(&["patch", "100", "auto-restart", "5"]),
            patch(100, PatchChange::AutoRestart(5))
        );
        assert_eq!(
            asmctl(&["patch", "100", "risk", "High"]),
            patch(100, PatchChange::Risk(asm_abi::ASM_RISK_HIGH))
        );
        // The limits options of `limits`, and the names `recovery` uses.
        assert_eq!(
            asmctl(&[
                "patch",
                "100",
                "limits",
                "--cpu-quota",
                "200",
                "--memory=64M",
                "--syscall-rate",
                "none",
                "--watchdog-ms",
                "default",
            ]),
            patch(
                100,
                PatchChange::Limits(LimitChanges {
                    cpu_quota_ms: Some(Limit::Value(200)),
                    mem_limit_bytes: Some(Limit::Value(64 << 20)),
                    syscall_rate: Some(Limit::Unlimited),
                    watchdog_ms: Some(Limit::Default),
                })
            )
        );
        assert_eq!(
            asmctl(&["patch", "100", "limits", "--mem", "1G", "--watchdog", "100"]),
            patch(
                100,
                PatchChange::Limits(LimitChanges {
                    mem_limit_bytes: Some(Limit::Value(1 << 30)),
                    watchdog_ms: Some(Limit::Value(100)),
                    ..LimitChanges::default()
                })
            )
        );
        assert!(asmctl(&["patch", "1", "risk", "high"]).is_ok_and(|c| !c.json()));
        assert_eq!(
            asmctl(&["patch", "100", "llm-rate", "3", "1"]),
            patch(
                100,
                PatchChange::LlmRate {
                    burst: 3,
                    refill: 1
                }
            )
        );
        // The bounds themselves are accepted.
        assert_eq!(
            asmctl(&["patch", "100", "llm-rate", "10000", "10000"]),
            patch(
                100,
                PatchChange::LlmRate {
                    burst: asm_abi::ASM_LLM_BURST_MAX,
                    refill: asm_abi::ASM_LLM_REFILL_MAX
                }
            )
        );
    }

    #[test]
    fn bad_patch_command_lines() {
        for (args, want) in [
            (&["patch"][..], "Usage: asmctl patch [OPTIONS] <ID> <COMMAND>"),
            (
                &["patch", "100"],
                "'asmctl patch' requires a subcommand but one was not provided",
            ),
            (
                &["patch", "x", "risk", "high"],
                "invalid value 'x' for '<ID>': expected an agent id, 1 to 2147483647",
            ),
            (
                &["patch", "100", "grant", "FsBasic"],
                "unexpected argument 'grant' found",
            ),
            (&["patch", "100", "add-cap"], "the following required arguments were not provided:\n  <CAP>..."),
            (
                &["patch", "100", "add-cap", "Root"],
                "unknown capability 'Root' (known: FsBasic, FsExtended, NetClient, \
                 NetServer, AudioControl, LlmAccess, ProcessSpawn, Admin)",
            ),
            (&["patch", "100", "scope"], "the following required arguments were not provided:\n  <PATH|none>"),
            (
                &["patch", "100", "scope", "tmp/x"],
                "invalid value 'tmp/x' for '<PATH|none>': not an absolute path",
            ),
            (
                &["patch", "100", "scope", "/a", "/b"],
                "unexpected argument '/b' found",
            ),
            (
                &["patch", "100", "auto-restart", "many"],
                "invalid value 'many' for '<N>': invalid digit found in string",
            ),
            (
                &["patch", "100", "risk", "unacceptable"],
                "risk level Unacceptable is prohibited: a patch may set minimal, limited or high",
            ),
            (
                &["patch", "100", "risk", "extreme"],
                "invalid value 'extreme' for '<RISK>': known: minimal, limited, high",
            ),
            (
                &["patch", "100", "risk"],
                "the following required arguments were not provided:\n  <RISK>",
            ),
            (
                &["patch", "100", "limits"],
                "patch limits needs at least one of --cpu-quota-ms, --mem, --syscall-rate, --watchdog-ms",
            ),
            (
                &["patch", "100", "limits", "--cpu", "5"],
                "unexpected argument '--cpu' found",
            ),
            (
                &["patch", "100", "limits", "--mem", "0"],
                "invalid value '0' for '--mem <SIZE>': use none for no limit, or default",
            ),
            (
                &["patch", "100", "limits", "--memory", "lots"],
                "invalid value 'lots' for '--mem <SIZE>': expected bytes, or a number with K, M or G; none or default",
            ),
            (
                &["patch", "100", "limits", "5", "--mem", "1G"],
                "unexpected argument '5' found",
            ),
            // Options belong to limits, after its name.
            (
                &["patch", "100", "--mem", "1G", "limits"],
                "unexpected argument '--mem' found",
            ),
            (
                &["patch", "100", "llm-rate"],
                "the following required arguments were not provided:\n  <BURST>",
            ),
            (
                &["patch", "100", "llm-rate", "5"],
                "the following required arguments were not provided:\n  <REFILL>",
            ),
            (
                &["patch", "100", "llm-rate", "5", "1", "2"],
                "unexpected argument '2' found",
            ),
            (
                &["patch", "100", "llm-rate", "0", "10"],
                "invalid value '0' for '<BURST>': 0 is not in 1..=10000",
            ),
            (
                &["patch", "100", "llm-rate", "10001", "10"],
                "invalid value '10001' for '<BURST>': 10001 is not in 1..=10000",
            ),
            (
                &["patch", "100", "llm-rate", "30", "0"],
                "invalid value '0' for '<REFILL>': 0 is not in 1..=10000",
            ),
            (
                &["patch", "100", "llm-rate", "30", "1.5"],
                "invalid value '1.5' for '<REFILL>': invalid digit found in string",
            ),
            (
                &["patch", "100", "llm-rate", "30", "10001"],
                "invalid value '10001' for '<REFILL>': 10001 is not in 1..=10000",
            ),
            (
                &["patch", "100", "llm-rate", "-1", "10"],
                "unexpected argument '-1' found",
            ),
        ] {
            expect_usage(args, want);
        }
    }

    #[test]
    fn audit_commands() {
        assert_eq!(
            asmctl(&["audit"]),
            Ok(Command::Audit {
                trail: Trail::Policy,
                from: 0,
                json: false,
                export: None
            })
        );
        assert_eq!(
            asmctl(&["audit", "--json", "--from", "17"]),
            Ok(Command::Audit {
                trail: Trail::Policy,
                from: 17,
                json: true,
                export: None
            })
        );
        assert_eq!(
            asmctl(&["audit", "--export=/tmp/trail.json"]),
            Ok(Command::Audit {
                trail: Trail::Policy,
                from: 0,
                json: false,
                export: Some("/tmp/trail.json".into())
            })
        );
        assert_eq!(
            asmctl(&["audit", "--trail", "llm", "--from", "3"]),
            Ok(Command::Audit {
                trail: Trail::Llm,
                from: 3,
                json: false,
                export: None
            })
        );
        // As `audit --json` names the trail, too.
        assert!(matches!(
            asmctl(&["audit", "--trail", "Llm"]),
            Ok(Command::Audit {
                trail: Trail::Llm,
                ..
            })
        ));
        assert_eq!(
            asmctl(&["audit", "--trail=policy", "--json"]),
            Ok(Command::Audit {
                trail: Trail::Policy,
                from: 0,
                json: true,
                export: None
            })
        );
        assert_eq!(
            asmctl(&["audit", "verify"]),
            Ok(Command::AuditVerify {
                trail: Trail::Policy,
                file: None
            })
        );
        assert_eq!(
            asmctl(&["audit", "verify", "trail.json"]),
            Ok(Command::AuditVerify {
                trail: Trail::Policy,
                file: Some("trail.json".into())
            })
        );
        // --trail before or after verify.
        for args in [
            &["audit", "verify", "--trail", "llm"][..],
            &["audit", "--trail", "llm", "verify"],
        ] {
            assert_eq!(
                asmctl(args),
                Ok(Command::AuditVerify {
                    trail: Trail::Llm,
                    file: None
                }),
                "{args:?}"
            );
        }
        assert_eq!((Trail::Policy.raw(), Trail::Llm.raw()), (0, 1));
        assert!(asmctl(&["audit", "--json"]).is_ok_and(|c| c.json()));
        for (args, want) in [
            (
                &["audit", "--from", "-1"][..],
                "unexpected argument '-1' found",
            ),
            (
                &["audit", "--from"],
                "a value is required for '--from <SEQ>' but none was supplied",
            ),
            (
                &["audit", "--json", "--export", "f"],
                "-j/--json does not apply to audit --export: it writes the JSON to its file",
            ),
            (&["audit", "list"], "unrecognized subcommand 'list'"),
            (
                &["audit", "--json", "verify"],
                "-j/--json does not apply to audit verify: its verdict is a line of text",
            ),
            (
                &["audit", "verify", "a", "b"],
                "unexpected argument 'b' found",
            ),
            (
                &["audit", "verify", "--json"],
                "-j/--json does not apply to audit verify",
            ),
            (
                &["audit", "--trail", "gateway"],
                "invalid value 'gateway' for '--trail <TRAIL>'",
            ),
            (
                &["audit", "--trail"],
                "a value is required for '--trail <TRAIL>' but none was supplied",
            ),
            (
                &["audit", "verify", "--trail", "llm", "t.json"],
                "the argument '--trail <TRAIL>' cannot be used with '[FILE]'",
            ),
        ] {
            expect_usage(args, want);
        }
    }

    #[test]
    fn oversight_and_decision_commands() {
        assert_eq!(
            asmctl(&["oversight", "100", "approve"]),
            Ok(Command::Oversight {
                id: 100,
                action: asm_abi::ASM_OVERSIGHT_APPROVE,
                note: String::new(),
                json: false,
            })
        );
        assert_eq!(
            asmctl(&["oversight", "--note", "rm -rf seen", "101", "stop"]),
            Ok(Command::Oversight {
                id: 101,
                action: asm_abi::ASM_OVERSIGHT_STOP,
                note: "rm -rf seen".into(),
                json: false,
            })
        );
        assert_eq!(
            asmctl(&["decision", "chose", "plan", "B"]),
            Ok(Command::Decision {
                text: "chose plan B".into(),
                json: false,
            })
        );
        assert_eq!(
            asmctl(&["decision", "--", "-x is safer"]),
            Ok(Command::Decision {
                text: "-x is safer".into(),
                json: false,
            })
        );
        for (args, want) in [
            (&["oversight"][..], "the following required arguments were not provided:\n  <ID>"),
            (
                &["oversight", "100"],
                "the following required arguments were not provided:\n  <ACTION>",
            ),
            (
                &["oversight", "100", "pause"],
                "invalid value 'pause' for '<ACTION>': known: review, approve, reject, stop",
            ),
            (
                &["oversight", "100", "review", "--note", &"n".repeat(128)],
                "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn' for '--note <NOTE>': a note must be at most 127 bytes long",
            ),
            (
                &["oversight", "100", "review", "--note", "two\nlines"],
                "invalid value 'two",
            ),
            (&["decision"], "the following required arguments were not provided:\n  <TEXT>..."),
            (
                &["decision", &"d".repeat(128)],
                "the decision must be at most 127 bytes long",
            ),
        ] {
            expect_usage(args, want);
        }
    }

    #[test]
    fn sensitive_command() {
        let sensitive = |change, json| Ok(Command::Sensitive { change, json });
        assert_eq!(asmctl(&["sensitive"]), sensitive(None, false));
        assert_eq!(
            asmctl(&["sensitive", "list", "--json"]),
            sensitive(None, true)
        );
        assert_eq!(
            asmctl(&["sensitive", "add", "/etc/shadow"]),
            sensitive(Some(SensitiveChange::Add("/etc/shadow".into())), false)
        );
        assert_eq!(
            asmctl(&["sensitive", "remove", "/srv/keys/"]),
            sensitive(Some(SensitiveChange::Remove("/srv/keys/".into())), false)
        );
        for (args, want) in [
            (
                &["sensitive", "add"][..],
                "the following required arguments were not provided:\n  <PATH>",
            ),
            (
                &["sensitive", "add", "secrets"],
                "invalid value 'secrets' for '<PATH>': not an absolute path",
            ),
            (
                &["sensitive", "add", "/a", "/b"],
                "unexpected argument '/b' found",
            ),
            (
                &["sensitive", "list", "/a"],
                "unexpected argument '/a' found",
            ),
            (
                &["sensitive", "mark", "/a"],
                "unrecognized subcommand 'mark'",
            ),
        ] {
            expect_usage(args, want);
        }
    }

    #[test]
    fn profile_command() {
        let profile = |action, json| Ok(Command::Profile { action, json });
        assert_eq!(asmctl(&["profile"]), profile(ProfileAction::All, false));
        assert_eq!(
            asmctl(&["profile", "--json"]),
            profile(ProfileAction::All, true)
        );
        assert_eq!(
            asmctl(&["profile", "7701"]),
            profile(ProfileAction::Agent(7701), false)
        );
        let op = |id, op: &str| ProfileAction::Op { id, op: op.into() };
        assert_eq!(
            asmctl(&["profile", "--json", "7701", "db.query"]),
            profile(op(7701, "db.query"), true)
        );
        // An operation may be called as a subcommand is.
        assert_eq!(
            asmctl(&["profile", "7701", "record"]),
            profile(op(7701, "record"), false)
        );
        assert_eq!(
            asmctl(&["profile", "--all", "step"]),
            profile(ProfileAction::Aggregate("step".into()), false)
        );
        assert_eq!(
            asmctl(&["profile", "--all", "time", "--json"]),
            profile(ProfileAction::Aggregate("time".into()), true)
        );
        let record = |op: &str, duration_ns, success| ProfileAction::Record {
            op: op.into(),
            duration_ns,
            success,
        };
        assert_eq!(
            asmctl(&["profile", "record", "step", "1.5ms"]),
            profile(record("step", 1_500_000, true), false)
        );
        assert_eq!(
            asmctl(&["profile", "record", "--failed", "llm:call", "950us"]),
            profile(record("llm:call", 950_000, false), false)
        );
        let time = |op: &str, program: &str, args: &[&str]| ProfileAction::Time {
            op: op.into(),
            program: program.into(),
            args: args.iter().map(OsString::from).collect(),
        };
        assert_eq!(
            asmctl(&["profile", "time", "build", "--", "make", "-j2", "--json"]),
            profile(time("build", "make", &["-j2", "--json"]), false)
        );
        // The command starts at the first word after the operation, as
        // with run; its options are its own.
        assert_eq!(
            asmctl(&["profile", "time", "nap", "sleep", "0.2"]),
            profile(time("nap", "sleep", &["0.2"]), false)
        );
        assert_eq!(
            asmctl(&["profile", "time", "x", "--", "--", "a"]),
            profile(time("x", "--", &["a"]), false)
        );
        assert!(help(&["profile", "--help"]).contains("Usage: asmctl profile"));
        let rule = "1 to 31 characters of A-Z, a-z, 0-9, '_', '.', ':' and '-'";
        for (args, want) in [
            (
                &["profile", "record", "step"][..],
                "the following required arguments were not provided:\n  <DURATION>".to_string(),
            ),
            (
                &["profile", "record", "step", "1ms", "2ms"],
                "unexpected argument '2ms' found".into(),
            ),
            (
                &["profile", "record", "a b", "1ms"],
                format!("invalid operation name 'a b' (expected {rule})"),
            ),
            (
                &["profile", "record", &"x".repeat(32), "1ms"],
                format!(
                    "invalid operation name '{}' (expected {rule})",
                    "x".repeat(32)
                ),
            ),
            (
                &["profile", "record", "step", "5"],
                "invalid duration '5' (expected a number with a unit: ns, us, ms or s, e.g. \
                 950us or 1.5ms)"
                    .into(),
            ),
            (
                &["profile", "record", "step", "2h"],
                "invalid duration '2h' (expected a number with a unit: ns, us, ms or s, e.g. \
                 950us or 1.5ms)"
                    .into(),
            ),
            (
                &["profile", "record", "step", "3601s"],
                "invalid duration '3601s': at most 3600s (1 hour)".into(),
            ),
            (
                &["profile", "record", "step", "1ms", "--all"],
                "unexpected argument '--all' found".into(),
            ),
            (
                &["profile", "7701", "--failed"],
                "unexpected argument '--failed' found".into(),
            ),
            (
                &["profile", "time", "x", "--failed", "--", "true"],
                "unexpected argument '--failed' found".into(),
            ),
            (
                &["profile", "time", "x", "--json", "true"],
                "-j/--json does not apply to profile time: its stdout is its command's".into(),
            ),
            (
                &["profile", "time", "x"],
                "the following required arguments were not provided:\n  <CMD>...".into(),
            ),
            (
                &["profile", "time", "x", "--"],
                "the following required arguments were not provided:\n  <CMD>...".into(),
            ),
            (
                &["profile", "time", "--", "true"],
                "the following required arguments were not provided:\n  <CMD>...".into(),
            ),
            (
                &["profile", "time"],
                "the following required arguments were not provided:\n  <OP>".into(),
            ),
            (
                &["profile", "time", "a/b", "true"],
                format!("invalid operation name 'a/b' (expected {rule})"),
            ),
            (
                &["profile", "--all"],
                "a value is required for '--all <OP>' but none was supplied".into(),
            ),
            (
                &["profile", "7701", "--all", "step"],
                "the argument '[ID]' cannot be used with '--all <OP>'".into(),
            ),
            (
                &["profile", "--all", "7701", "step"],
                "invalid value 'step' for '[ID]'".into(),
            ),
            (
                &["profile", "--all", "step", "x"],
                "invalid value 'x' for '[ID]': expected an agent id, 1 to 2147483647".into(),
            ),
            (
                &["profile", "0", "step"],
                "invalid value '0' for '[ID]': expected an agent id, 1 to 2147483647 (every \
                 agent's figures of an operation: profile --all OP)"
                    .into(),
            ),
            (
                &["profile", "99999999999"],
                "invalid value '99999999999' for '[ID]': expected an agent id, 1 to 2147483647"
                    .into(),
            ),
            (
                &["profile", "7701", "a b"],
                format!("invalid operation name 'a b' (expected {rule})"),
            ),
            (
                &["profile", "7701", "step", "x"],
                "the subcommand 'x' cannot be used with:\n  [ID]".into(),
            ),
            (
                &["profile", "step"],
                "invalid value 'step' for '[ID]': expected an agent id, 1 to 2147483647".into(),
            ),
            (
                &["profile", "--bogus"],
                "unexpected argument '--bogus' found".into(),
            ),
            (
                &["profile", "--json=1"],
                "unexpected value '1' for '--json' found; no more were expected".into(),
            ),
        ] {
            expect_usage(args, &want);
        }
        let text = help(&["profile", "--help"]);
        assert!(
            text.contains("Usage: asmctl profile [OPTIONS] [ID] [OP]"),
            "{text}"
        );
        assert!(text.contains("--all <OP>"), "{text}");
        assert!(text.contains("each keeps its last 100 samples"), "{text}");
        let text = help(&["profile", "record", "--help"]);
        assert!(
            text.contains("Usage: asmctl profile record [OPTIONS] <OP> <DURATION>"),
            "{text}"
        );
        let text = help(&["profile", "time", "--help"]);
        assert!(
            text.contains("Usage: asmctl profile time [OPTIONS] <OP> <CMD>..."),
            "{text}"
        );
    }

    #[test]
    fn deps_command() {
        use asm_abi::{ASM_DEP_OPTIONAL, ASM_DEP_PEER};
        let deps = |action, json| Ok(Command::Deps { action, json });
        assert_eq!(asmctl(&["deps"]), deps(DepsAction::Show(None), false));
        assert_eq!(
            asmctl(&["deps", "list", "--json"]),
            deps(DepsAction::Show(None), true)
        );
        assert_eq!(
            asmctl(&["deps", "100"]),
            deps(DepsAction::Show(Some(100)), false)
        );
        assert_eq!(
            asmctl(&["deps", "--json", "list", "100"]),
            deps(DepsAction::Show(Some(100)), true)
        );
        let add = |dependent, dependency, kind| DepsAction::Add {
            dependent,
            dependency,
            kind,
            signal: 0,
        };
        assert_eq!(
            asmctl(&["deps", "add", "101", "100"]),
            deps(add(101, 100, ASM_DEP_REQUIRED), false)
        );
        assert_eq!(
            asmctl(&["deps", "add", "101", "100", "--kind", "optional"]),
            deps(add(101, 100, ASM_DEP_OPTIONAL), false)
        );
        assert_eq!(
            asmctl(&["deps", "add", "--kind=Peer", "101", "100", "--json"]),
            deps(add(101, 100, ASM_DEP_PEER), true)
        );
        assert_eq!(
            asmctl(&["deps", "remove", "101", "100"]),
            deps(
                DepsAction::Remove {
                    dependent: 101,
                    dependency: 100
                },
                false
            )
        );
        for (args, want) in [
            (
                &["deps", "add", "101"][..],
                "the following required arguments were not provided:\n  <DEPENDENCY>",
            ),
            (
                &["deps", "remove"],
                "the following required arguments were not provided:\n  <DEPENDENT>",
            ),
            (
                &["deps", "add", "1", "2", "3"],
                "unexpected argument '3' found",
            ),
            (
                &["deps", "add", "7", "7"],
                "agent 7 cannot depend on itself",
            ),
            (
                &["deps", "add", "x", "7"],
                "invalid value 'x' for '<DEPENDENT>': expected an agent id, 1 to 2147483647",
            ),
            (
                &["deps", "0"],
                "invalid value '0' for '[ID]': expected an agent id, 1 to 2147483647",
            ),
            (&["deps", "1", "2"], "unexpected argument '2' found"),
            (&["deps", "list", "1", "2"], "unexpected argument '2' found"),
            (&["deps", "link", "1", "2"], "unexpected argument '1' found"),
            (
                &["deps", "add", "1", "2", "--kind", "hard"],
                "invalid value 'hard' for '--kind <KIND>': known: required, optional, peer",
            ),
            (
                &["deps", "add", "1", "2", "--kind"],
                "a value is required for '--kind <KIND>' but none was supplied",
            ),
            (
                &["deps", "remove", "1", "2", "--kind", "peer"],
                "unexpected argument '--kind' found",
            ),
            (
                &["deps", "100", "--kind", "peer"],
                "unexpected argument '--kind' found",
            ),
            (&["deps", "--all"], "unexpected argument '--all' found"),
        ] {
            expect_usage(args, want);
        }
        assert!(help(&["deps", "--help"]).contains("Usage: asmctl deps [OPTIONS] [ID]"));
    }

    #[test]
    fn deps_add_signal() {
        use asm_abi::ASM_DEP_OPTIONAL;
        let optional = |signal| {
            Ok(Command::Deps {
                action: DepsAction::Add {
                    dependent: 102,
                    dependency: 100,
                    kind: ASM_DEP_OPTIONAL,
                    signal,
                },
                json: false,
            })
        };
        for (sig, want) in [
            ("USR1", 10),
            ("SIGUSR1", 10),
            ("usr2", 12),
            ("SigHup", 1),
            ("INT", 2),
            ("QUIT", 3),
            ("15", 15),
            ("SIGWINCH", 28),
        ] {
            let args = [
                "deps", "add", "102", "100", "--kind", "optional", "--signal", sig,
            ];
            assert_eq!(asmctl(&args), optional(want), "{sig}");
        }
        // Before the kind, and as --signal=SIG.
        assert_eq!(
            asmctl(&[
                "deps",
                "add",
                "--signal=TERM",
                "102",
                "100",
                "--kind=Optional"
            ]),
            optional(15)
        );
        let refused = "a dependency's end sends one of SIGHUP, SIGINT, SIGQUIT, SIGUSR1, \
                       SIGUSR2, SIGTERM, SIGWINCH (by name, with or without SIG, or by number)";
        for sig in ["KILL", "SIGKILL", "9", "STOP", "0", "64", "USR3", ""] {
            let args = [
                "deps", "add", "102", "100", "--kind", "optional", "--signal", sig,
            ];
            expect_usage(
                &args,
                &format!("invalid value '{sig}' for '--signal <SIG>': {refused}"),
            );
        }
        for (args, want) in [
            (
                &["deps", "add", "102", "100", "--signal", "USR1"][..],
                "--signal only applies to an optional dependency (--kind optional)",
            ),
            (
                &[
                    "deps", "add", "102", "100", "--kind", "peer", "--signal", "USR1",
                ],
                "--signal only applies to an optional dependency (--kind optional)",
            ),
            (
                &["deps", "remove", "102", "100", "--signal", "USR1"],
                "unexpected argument '--signal' found",
            ),
            (
                &["deps", "100", "--signal", "USR1"],
                "unexpected argument '--signal' found",
            ),
            (
                &[
                    "deps", "add", "102", "100", "--kind", "optional", "--signal",
                ],
                "a value is required for '--signal <SIG>' but none was supplied",
            ),
        ] {
            expect_usage(args, want);
        }
        let text = help(&["deps", "add", "--help"]);
        assert!(
            text.contains("Usage: asmctl deps add [OPTIONS] <DEPENDENT> <DEPENDENCY>"),
            "{text}"
        );
        assert!(text.contains("SIGHUP, SIGINT"), "{text}");
    }

    #[test]
    fn policy_and_compliance_commands() {
        assert_eq!(
            asmctl(&["policy", "100"]),
            Ok(Command::Policy {
                id: 100,
                json: false
            })
        );
        assert_eq!(
            call("/usr/bin/asmpolicy", &["--json", "7"]),
            Ok(Command::Policy { id: 7, json: true })
        );
        assert_eq!(
            asmctl(&["compliance"]),
            Ok(Command::Compliance {
                json: false,
                min_score: None
            })
        );
        assert_eq!(
            call("compliance", &["--json"]),
            Ok(Command::Compliance {
                json: true,
                min_score: None
            })
        );
        assert_eq!(applet_name(OsStr::new("/sbin/asmpolicy")), "asmpolicy");
        assert_eq!(applet_name(OsStr::new("compliance")), "compliance");
        expect_usage(
            &["policy"],
            "the following required arguments were not provided:\n  <ID>",
        );
        expect_usage(&["compliance", "100"], "unexpected argument '100' found");
        assert!(matches!(
            call("asmpolicy", &[]),
            Err(m) if m.contains("Usage: asmpolicy <ID>")
        ));
    }

    #[test]
    fn llm_command() {
        let llm = |request, json| Ok(Command::Llm { request, json });
        let prompt = |p: &str| LlmRequest {
            prompt: p.into(),
            ..LlmRequest::default()
        };
        assert_eq!(
            asmctl(&["llm", "what", "is", "2+2?"]),
            llm(prompt("what is 2+2?"), false)
        );
        assert_eq!(
            asmctl(&[
                "llm",
                "--provider",
                "Claude",
                "summarise",
                "--max-tokens=500",
                "this",
                "--temperature",
                "0.25",
                "--system",
                "be brief",
                "--timeout-ms",
                "600000",
                "--json",
            ]),
            llm(
                LlmRequest {
                    prompt: "summarise this".into(),
                    provider: Some("Claude"),
                    max_tokens: Some(500),
                    temperature: Some(250),
                    system: Some("be brief".into()),
                    timeout_ms: Some(600000),
                },
                true
            )
        );
        assert_eq!(
            asmctl(&["llm", "--provider=gpt4", "--", "-v", "--json", "means?"]),
            llm(
                LlmRequest {
                    provider: Some("Gpt4"),
                    ..prompt("-v --json means?")
                },
                false
            )
        );
        // The prompt is kept as given: quotes, newlines and all.
        assert_eq!(
            asmctl(&["llm", "say \"hi\"\n\tthen stop"]),
            llm(prompt("say \"hi\"\n\tthen stop"), false)
        );
        for (text, want) in [
            ("0", 0),
            ("1", 1000),
            ("1.0", 1000),
            ("1.000", 1000),
            ("0.7", 700),
            ("0.05", 50),
            ("0.001", 1),
            ("00.5", 500),
        ] {
            let got = asmctl(&["llm", "x", "--temperature", text]);
            assert_eq!(
                got,
                llm(
                    LlmRequest {
                        temperature: Some(want),
                        ..prompt("x")
                    },
                    false
                ),
                "{text}"
            );
        }
        for (provider, name) in [
            ("claude", "Claude"),
            ("gpt4", "Gpt4"),
            ("GEMINI", "Gemini"),
            ("local", "Local"),
        ] {
            assert!(
                matches!(
                    asmctl(&["llm", "x", "--provider", provider]),
                    Ok(Command::Llm { request, .. }) if request.provider == Some(name)
                ),
                "{provider}"
            );
        }
        assert!(asmctl(&["llm", "x", "--json"]).is_ok_and(|c| c.json()));
        assert!(help(&["llm", "--help"]).contains("Usage: asmctl llm"));
        // The limits themselves are accepted.
        let max = "p".repeat(ASM_LLM_PROMPT_MAX);
        assert!(asmctl(&["llm", &max]).is_ok());
        let system = "s".repeat(ASM_LLM_SYSTEM_MAX);
        assert!(asmctl(&["llm", "x", "--system", &system]).is_ok());
        assert!(asmctl(&["llm", "x", "--max-tokens", "100000", "--timeout-ms", "1"]).is_ok());
    }

    #[test]
    fn bad_llm_command_lines() {
        let long_prompt = "p".repeat(ASM_LLM_PROMPT_MAX + 1);
        let long_words = [
            "w".repeat(ASM_LLM_PROMPT_MAX / 2),
            "w".repeat(ASM_LLM_PROMPT_MAX / 2),
        ];
        let long_system = "s".repeat(ASM_LLM_SYSTEM_MAX + 1);
        let bad_temperature = |t: &str| {
            format!(
                "invalid value '{t}' for '--temperature <T>': expected 0 to 1, at most three \
                 decimals, e.g. 0.25"
            )
        };
        for (args, want) in [
            (&["llm"][..], "the following required arguments were not provided:\n  <PROMPT>...".to_string()),
            (&["llm", ""], "llm needs a prompt".into()),
            (&["llm", "--json"], "the following required arguments were not provided:\n  <PROMPT>...".into()),
            (&["llm", "--"], "the following required arguments were not provided:\n  <PROMPT>...".into()),
            (
                &["llm", &long_prompt],
                "the prompt must be at most 32768 bytes long (32769 given)".into(),
            ),
            // Two words of half the maximum and the space between them.
            (
                &["llm", &long_words[0], &long_words[1]],
                "the prompt must be at most 32768 bytes long (32769 given)".into(),
            ),
            (
                &["llm", "x", "--provider", "openai"],
                "invalid value 'openai' for '--provider <PROVIDER>': known: claude, gpt4, gemini, local".into(),
            ),
            (
                &["llm", "x", "--provider", "gpt-4"],
                "invalid value 'gpt-4' for '--provider <PROVIDER>': known: claude, gpt4, gemini, local".into(),
            ),
            (
                &["llm", "x", "--provider"],
                "a value is required for '--provider <PROVIDER>' but none was supplied".into(),
            ),
            (
                &["llm", "x", "--max-tokens", "0"],
                "invalid value '0' for '--max-tokens <N>': 0 is not in 1..=100000".into(),
            ),
            (
                &["llm", "x", "--max-tokens", "100001"],
                "invalid value '100001' for '--max-tokens <N>': 100001 is not in 1..=100000".into(),
            ),
            (
                &["llm", "x", "--max-tokens", "-5"],
                "unexpected argument '-5' found".into(),
            ),
            (
                &["llm", "x", "--max-tokens", "1k"],
                "invalid value '1k' for '--max-tokens <N>': invalid digit found in string".into(),
            ),
            (
                &["llm", "x", "--timeout-ms", "0"],
                "invalid value '0' for '--timeout-ms <N>': 0 is not in 1..=600000".into(),
            ),
            (
                &["llm", "x", "--timeout-ms", "600001"],
                "invalid value '600001' for '--timeout-ms <N>': 600001 is not in 1..=600000".into(),
            ),
            (
                &["llm", "x", "--timeout-ms=99999999999"],
                "invalid value '99999999999' for '--timeout-ms <N>': 99999999999 is not in 1..=600000".into(),
            ),
            (
                &["llm", "x", "--temperature", "1.5"],
                bad_temperature("1.5"),
            ),
            (
                &["llm", "x", "--temperature", "1.001"],
                bad_temperature("1.001"),
            ),
            (&["llm", "x", "--temperature", "2"], bad_temperature("2")),
            (&["llm", "x", "--temperature", "10"], bad_temperature("10")),
            (
                &["llm", "x", "--temperature", "-0.1"],
                "unexpected argument '-0' found".into(),
            ),
            (
                &["llm", "x", "--temperature", "+0.1"],
                bad_temperature("+0.1"),
            ),
            (&["llm", "x", "--temperature", ".5"], bad_temperature(".5")),
            (&["llm", "x", "--temperature", "1."], bad_temperature("1.")),
            (
                &["llm", "x", "--temperature", "1e-1"],
                bad_temperature("1e-1"),
            ),
            (
                &["llm", "x", "--temperature", "0,5"],
                bad_temperature("0,5"),
            ),
            (
                &["llm", "x", "--temperature", "nan"],
                bad_temperature("nan"),
            ),
            (&["llm", "x", "--temperature", ""], bad_temperature("")),
            (
                &["llm", "x", "--temperature", "0.2500"],
                "invalid value '0.2500' for '--temperature <T>': at most three decimals".into(),
            ),
            (
                &["llm", "x", "--temperature", "0.1234"],
                "invalid value '0.1234' for '--temperature <T>': at most three decimals".into(),
            ),
            (
                &["llm", "x", "--system", &long_system],
                "sssssssssssssssssssssssssssssssssssssssssssssssssssssssssss' for '--system <TEXT>': at most 8192 bytes long (8193 given)".into(),
            ),
            (&["llm", "x", "--json=yes"], "unexpected value 'yes' for '--json' found; no more were expected".into()),
            (
                &["llm", "x", "--agent", "5"],
                "unexpected argument '--agent' found".into(),
            ),
        ] {
            expect_usage(args, &want);
        }
    }

    #[test]
    fn usage_lists_capabilities() {
        let text = help(&["llm", "--help"]);
        assert!(
            text.contains("Usage: asmctl llm [OPTIONS] <PROMPT>..."),
            "{text}"
        );
        assert!(
            text.contains("--max-tokens <N>       1 to 100000"),
            "{text}"
        );
        for command in [
            &["run", "--help"][..],
            &["register", "--help"],
            &["patch", "1", "add-cap", "--help"],
        ] {
            let text = help(command);
            assert!(
                text.contains(
                    "FS_BASIC work too): FsBasic, FsExtended, NetClient, NetServer,\nAudioControl, \
                     LlmAccess, ProcessSpawn, Admin."
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn json_before_or_after_the_command() {
        for args in [
            &["-j", "list"][..],
            &["list", "-j"],
            &["--json", "list"],
            &["list", "--json"],
        ] {
            assert_eq!(
                asmctl(args),
                Ok(Command::List {
                    all: false,
                    json: true
                }),
                "{args:?}"
            );
        }
        // The changes have JSON results too.
        assert_eq!(
            asmctl(&["-j", "unregister", "7"]),
            Ok(Command::Unregister { id: 7, json: true })
        );
        assert!(asmctl(&["heartbeat", "-j"]).is_ok_and(|c| c.json()));
        assert!(asmctl(&["decision", "-j", "x"]).is_ok_and(|c| c.json()));
        assert!(asmctl(&["limits", "7", "--mem", "1G", "-j"]).is_ok_and(|c| c.json()));
        assert!(asmctl(&["sensitive", "add", "/a", "-j"]).is_ok_and(|c| c.json()));
        // --pretty, anywhere too.
        let pretty = |args: &[&str]| {
            let argv = args.iter().map(OsString::from).collect();
            parse(OsStr::new("asmctl"), argv).map(|i| i.pretty).unwrap()
        };
        assert!(pretty(&["--pretty", "status", "-j"]));
        assert!(pretty(&["status", "--pretty"]));
        assert!(!pretty(&["status", "-j"]));
        let argv = ["--pretty", "--json"].map(OsString::from).to_vec();
        let alias = parse(OsStr::new("asmstatus"), argv).unwrap();
        assert_eq!(
            alias,
            Invocation {
                command: Command::Status { json: true },
                pretty: true
            }
        );
        for (args, refusal) in [
            (
                &["run", "-j", "--name", "a", "true"][..],
                "run: its stdout is the agent's",
            ),
            (
                &["-j", "metrics"],
                "metrics: it prints the Prometheus text format",
            ),
            (
                &["completions", "bash", "-j"],
                "completions: it prints a shell script",
            ),
        ] {
            expect_usage(args, &format!("-j/--json does not apply to {refusal}"));
        }
        // --every-agent is only for --listen.
        expect_usage(
            &["metrics", "--every-agent"],
            "the following required arguments were not provided:\n  --listen <ADDR>",
        );
    }
}
