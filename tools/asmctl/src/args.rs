// SPDX-License-Identifier: GPL-2.0

//! The command line: which command the user asked for, the multi-call
//! aliases (`asmstatus`, `asmlist`, `asminfo`, `asmpolicy`, `compliance`),
//! and the usage text.
//!
//! Values are checked here too (a limit, a size, an action a fault cannot
//! take), so that a request that reaches the kernel is one it should accept.
//!
//! Everything a user can get wrong is checked here, before `/dev/asm` is
//! opened, so a typo never reaches the kernel.

use crate::error::Error;
use crate::profile::{check_op_name, parse_duration};
use asm_abi::{
    action_allowed, parse_action, parse_capability, parse_dep_kind, parse_dep_signal,
    parse_oversight, parse_preset, parse_risk, parse_size, ASM_ACTION_DEFAULT, ASM_AUDIT_TRAIL_LLM,
    ASM_AUDIT_TRAIL_POLICY, ASM_DEP_OPTIONAL, ASM_DEP_REQUIRED, ASM_FAULT_CAPABILITY,
    ASM_FAULT_CPU_QUOTA, ASM_FAULT_CRASH, ASM_FAULT_MEMORY, ASM_FAULT_SYSCALL_FLOOD,
    ASM_FAULT_UNRESPONSIVE, ASM_ID_MAX, ASM_LLM_BURST_MAX, ASM_LLM_MAX_TOKENS_MAX,
    ASM_LLM_PROMPT_MAX, ASM_LLM_REFILL_MAX, ASM_LLM_SYSTEM_MAX, ASM_LLM_TIMEOUT_MAX_MS,
    ASM_NAME_LEN, ASM_NOTE_LEN, ASM_PROFILE_OPS_MAX, ASM_PROFILE_OP_LEN, ASM_PROFILE_SAMPLES,
    ASM_RISK_UNACCEPTABLE, ASM_SCOPE_LEN, CAPABILITIES, DEP_KINDS, DEP_SIGNALS, LLM_PROVIDERS,
};
use std::ffi::{OsStr, OsString};
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
    /// Print the usage text.
    Help,
    /// System metrics and recent events.
    Status { json: bool },
    /// Agents with live processes, or every agent with `all`.
    List { all: bool, json: bool },
    /// One agent in detail.
    Info { id: u32, json: bool },
    /// Run `program` with `args` as a new agent, supervised.
    Run(Launch),
    /// Register another process or a cgroup.
    Register { spec: AgentSpec, target: Target },
    /// Forget an agent.
    Unregister { id: u32 },
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
    Heartbeat,
    /// Change one thing of an agent's policy.
    Patch { id: u32, change: PatchChange },
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
    Oversight { id: u32, action: u32, note: String },
    /// Record a decision of the caller's agent.
    Decision { text: String },
    /// List the sensitive paths (`change` is `None`), or change them.
    Sensitive {
        change: Option<SensitiveChange>,
        json: bool,
    },
    /// The dependency graph between agents, or a change of it.
    Deps { action: DepsAction, json: bool },
    /// Operation latencies, or a sample of the caller's agent.
    Profile { action: ProfileAction, json: bool },
    /// The EU AI Act compliance report.
    Compliance { json: bool },
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
            | Command::Compliance { json }
            | Command::Policy { json, .. }
            | Command::Llm { json, .. } => *json,
            _ => false,
        }
    }
}

/// What `llm` asks the gateway; `None` leaves a member out of the request
/// document, so the kernel's default applies.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LlmRequest {
    /// Non-empty, at most `ASM_LLM_PROMPT_MAX` bytes.
    pub prompt: String,
    /// The preferred provider's name in the documents ("claude", ...).
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

    /// Its name on the command line and in `audit --json`.
    pub fn name(self) -> &'static str {
        match self {
            Trail::Policy => "policy",
            Trail::Llm => "llm",
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

/// The `recovery` option of each fault type, in fault order.
pub const ACTION_OPTIONS: [(&str, u32); 6] = [
    ("--cpu-quota", ASM_FAULT_CPU_QUOTA),
    ("--memory", ASM_FAULT_MEMORY),
    ("--syscall-flood", ASM_FAULT_SYSCALL_FLOOD),
    ("--crash", ASM_FAULT_CRASH),
    ("--capability", ASM_FAULT_CAPABILITY),
    ("--unresponsive", ASM_FAULT_UNRESPONSIVE),
];

/// The `top` refresh interval without `--interval`.
pub const TOP_INTERVAL: Duration = Duration::from_secs(1);

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

/// The usage text for `help`.
pub fn usage() -> String {
    let caps: Vec<&str> = CAPABILITIES.iter().map(|c| c.name).collect();
    format!(
        "\
Usage: asmctl COMMAND [ARGS]
       asmstatus [--json]          same as asmctl status
       asmlist [--all] [--json]    same as asmctl list
       asminfo ID [--json]         same as asmctl info ID
       asmpolicy ID [--json]       same as asmctl policy ID
       compliance [--json]         same as asmctl compliance

Commands:
  status [--json]           system metrics and the last 10 events
  list [--all] [--json]     agents with live processes (--all: every agent)
  info ID [--json]          one agent in detail
  run --name NAME [--id ID] [--cap CAP]... [--scope PATH] [--risk RISK]
      [--auto-restart N] [--quiet] [--no-landlock] [--keep-tty] -- CMD [ARGS]...
                            run CMD as a new agent: a child registers itself,
                            then execs CMD in a new session (no controlling
                            terminal), with no_new_privs, under the Landlock
                            ruleset of its capabilities (--no-landlock:
                            without it, for debugging only; --keep-tty: keep
                            the terminal, for an interactive agent, which can
                            then also inject input into it). asmctl waits for
                            the agent's last process, restarts it while the
                            module says Recovery (--auto-restart N, root),
                            says why when the module ended it, and exits with
                            CMD's status, or 124 when the module killed it
  register (--pid PID | --cgroup PATH) --name NAME [--id ID]
      [--cap CAP]... [--scope PATH] [--auto-restart N] [--risk RISK]
                            register another process or a cgroup v2; prints the id
  unregister ID             forget an agent (its processes keep running)
  history ID [--json]       the agent's last 60 one-second windows and totals
  top [--once] [--interval SECONDS] [--json]
                            every agent's CPU, memory and syscall rate, refreshed
                            (--once or --json: one frame)
  limits (ID | --default) [--json]
                            an agent's limits (own and effective) or the defaults
  limits (ID | --default) [--cpu-quota-ms N] [--mem SIZE] [--syscall-rate N]
      [--watchdog-ms N]     change the given limits; the others keep their values
  recovery (ID | --default) [--json]
                            the action taken on each fault type
  recovery (ID | --default) (--preset PRESET | [--cpu-quota A] [--memory A]
      [--syscall-flood A] [--crash A] [--capability A] [--unresponsive A])
                            change the recovery actions
  heartbeat                 tell the kernel that the caller's agent is alive
  policy ID [--json]        the agent's policy: capabilities, scope, restarts,
                            risk level, effective limits
  patch ID add-cap CAP[,CAP]... | remove-cap CAP[,CAP]... | scope PATH|none
      | auto-restart N | risk minimal|limited|high | limits [--cpu-quota-ms N]
      [--mem SIZE] [--syscall-rate N] [--watchdog-ms N] | llm-rate BURST REFILL
                            change one thing of the agent's policy (audited)
  audit [--trail policy|llm] [--from SEQ] [--json | --export FILE]
                            an audit trail (needs CAP_SYS_ADMIN): the policy
                            trail, or the LLM requests'; --export writes it as
                            JSON to FILE
  audit verify [--trail policy|llm] [FILE]
                            check the hash chain of an export or a live trail
  oversight ID review|approve|reject|stop [--note TEXT]
                            record a human oversight action (stop: kill it)
  decision TEXT             record a decision of the caller's agent
  llm PROMPT [--provider PROVIDER] [--max-tokens N] [--temperature T]
      [--system TEXT] [--timeout-ms N] [--json]
                            ask an LLM through the kernel's gateway, as the
                            caller's agent (needs LlmAccess); prints the answer,
                            and the provider, tokens and time on stderr
                            (--json: the response document)
  sensitive [list] [--json] the paths whose opens by agents are audited
  sensitive add|remove PATH mark or unmark a path (and what is under it)
  deps [ID] [--json]        the dependency graph: every edge, or the agent's
                            dependencies as a tree, its dependents and the
                            agents that stop with it
  deps add DEPENDENT DEPENDENCY [--kind KIND] [--signal SIG] [--json]
                            make DEPENDENT depend on DEPENDENCY (audited)
  deps remove DEPENDENT DEPENDENCY [--json]
                            remove that edge (audited)
  profile [--json]          the latency of every operation of every agent
                            you can see: AGENT OP SAMPLES OK% MIN AVG P50 P95
                            P99 MAX
  profile ID [--json]       the agent's operations, slowest p95 first
  profile ID OP [--json]    one operation of the agent in detail
  profile --all OP [--json] one operation over every agent you can see
  profile record OP DURATION [--failed]
                            record one sample of OP for the caller's agent
  profile time OP [--] CMD [ARGS]...
                            run CMD and record its wall time as OP for the
                            caller's agent (failed unless CMD exits 0); exits
                            with CMD's status
  compliance [--json]       the EU AI Act compliance report
  help                      this text

Without --id the kernel allocates an id. --cap may be repeated or take a
comma-separated list. Capability names (any case; fs_basic and FS_BASIC
work too):
  {}

A limit N is a number, 'none' (no limit) or, for an agent, 'default' (follow
the defaults). SIZE is bytes, or a number with K, M or G (powers of 1024).
An action A is log, throttle (CPU quota and syscall flood only), kill,
restart or, for an agent, default. PRESET is default, permissive or strict.
RISK is minimal, limited (the default), high or unacceptable (always refused).
A patch that widens a policy needs CAP_SYS_ADMIN from outside the agent; the
agent's owner may narrow it. Admin is never granted by a patch. llm-rate sets
the agent's LLM token bucket: BURST requests at most (1 to {}), refilled by
REFILL per second (1 to {}); an agent starts with 30 and 10/s.
PROVIDER is claude, gpt4, gemini or local (a preference; the gateway may fall
back to another). --max-tokens is 1 to {}, --temperature 0 to 1 with at most
three decimals, --timeout-ms 1 to {}; left out, the kernel's defaults apply
(1000 tokens, 0.7, 30000 ms). The words of PROMPT are joined by spaces.
A dependency's KIND is required (the default: the dependent cannot run
without it, and stops with it), optional (the dependent is told when it
ends, and runs on) or peer (shown only). --signal gives an optional edge
the signal its dependent's processes get when the dependency ends: HUP, INT,
QUIT, USR1, USR2, TERM or WINCH (with or without SIG, any case, or the
number); without it they get none. Adding an edge needs the right to
narrow both agents' policies (their owner, or CAP_SYS_ADMIN), removing one
CAP_SYS_ADMIN, both from a process in no agent; an edge that would close a
cycle is refused.
An operation OP is 1 to {} characters of A-Z, a-z, 0-9, '_', '.', ':' and
'-'; an agent has at most {} of them, and each keeps its last {} samples,
which the durations are over (SAMPLES and OK% count every sample). DURATION is
a number with ns, us, ms or s (950us, 1.5ms), at most an hour. Durations are
shown with three significant digits, and in nanoseconds with --json; the
aggregate's \"agent\" is null there. record and time come from a process of
an agent, and print nothing; time exits with 1 if the sample could not be
recorded and CMD exited 0, and 127 if CMD could not be run.
",
        caps.join(", "),
        ASM_LLM_BURST_MAX,
        ASM_LLM_REFILL_MAX,
        ASM_LLM_MAX_TOKENS_MAX,
        ASM_LLM_TIMEOUT_MAX_MS,
        ASM_PROFILE_OP_LEN - 1,
        ASM_PROFILE_OPS_MAX,
        ASM_PROFILE_SAMPLES,
    )
}

/// The command a multi-call name stands for, if `argv0` is one.
pub fn alias(argv0: &OsStr) -> Option<&'static str> {
    match Path::new(argv0).file_name()?.to_str()? {
        "asmstatus" => Some("status"),
        "asmlist" => Some("list"),
        "asminfo" => Some("info"),
        "asmpolicy" => Some("policy"),
        "compliance" => Some("compliance"),
        _ => None,
    }
}

fn usage_error(msg: impl Into<String>) -> Error {
    Error::Usage(msg.into())
}

fn utf8(arg: &OsStr) -> Result<&str, Error> {
    arg.to_str()
        .ok_or_else(|| usage_error(format!("argument {arg:?} is not valid UTF-8")))
}

/// Parses the command line: `argv0` picks an alias, `args` are the rest.
pub fn parse(argv0: &OsStr, args: Vec<OsString>) -> Result<Command, Error> {
    let mut args = args.into_iter();
    let command = match alias(argv0) {
        Some(command) => command.to_string(),
        None => match args.next() {
            Some(arg) => utf8(&arg)?.to_string(),
            None => return Err(usage_error("missing command")),
        },
    };
    let mut args = Args {
        command: command.clone(),
        rest: args,
    };
    match command.as_str() {
        "help" | "--help" | "-h" => Ok(Command::Help),
        "status" => parse_status(&mut args),
        "list" => parse_list(&mut args),
        "info" => parse_info(&mut args),
        "run" => parse_run(&mut args),
        "register" => parse_register(&mut args),
        "unregister" => parse_unregister(&mut args),
        "history" => parse_history(&mut args),
        "top" => parse_top(&mut args),
        "limits" => parse_limits(&mut args),
        "recovery" => parse_recovery(&mut args),
        "heartbeat" => parse_heartbeat(&mut args),
        "policy" => parse_policy(&mut args),
        "patch" => parse_patch(&mut args),
        "audit" => parse_audit(&mut args),
        "oversight" => parse_oversight_command(&mut args),
        "decision" => parse_decision(&mut args),
        "sensitive" => parse_sensitive(&mut args),
        "deps" => parse_deps(&mut args),
        "profile" => parse_profile(&mut args),
        "compliance" => parse_compliance(&mut args),
        "llm" => parse_llm(&mut args),
        other => Err(usage_error(format!("unknown command '{other}'"))),
    }
}

/// The arguments after the command name.
struct Args {
    command: String,
    rest: std::vec::IntoIter<OsString>,
}

/// One command-line argument, classified.
enum Arg {
    /// `--opt` or `-o`, with the value of a `--opt=value`.
    Opt(String, Option<String>),
    /// An argument that is not an option (an id, or `run`'s command).
    Positional(OsString),
    /// `--`: what follows is `run`'s command, not options of ours.
    DashDash,
}

impl Args {
    fn next(&mut self) -> Result<Option<Arg>, Error> {
        let Some(arg) = self.rest.next() else {
            return Ok(None);
        };
        if arg == "--" {
            return Ok(Some(Arg::DashDash));
        }
        // "-" alone is a conventional positional (stdin), not an option.
        if arg.len() < 2 || !arg.as_encoded_bytes().starts_with(b"-") {
            return Ok(Some(Arg::Positional(arg)));
        }
        let text = utf8(&arg)?;
        Ok(Some(match text.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                Arg::Opt(name.to_string(), Some(value.to_string()))
            }
            _ => Arg::Opt(text.to_string(), None),
        }))
    }

    /// The value of option `name`: inline (`--name=x`) or the next argument.
    fn value(&mut self, name: &str, inline: Option<String>) -> Result<String, Error> {
        if let Some(value) = inline {
            return Ok(value);
        }
        match self.rest.next() {
            Some(value) => Ok(utf8(&value)?.to_string()),
            None => Err(usage_error(format!("{name} needs a value"))),
        }
    }

    fn unexpected(&self, arg: &Arg) -> Error {
        let what = match arg {
            Arg::Opt(name, _) => format!("unknown option '{name}'"),
            Arg::Positional(p) => format!("unexpected argument '{}'", p.to_string_lossy()),
            Arg::DashDash => "unexpected '--'".to_string(),
        };
        usage_error(format!("{what} for {}", self.command))
    }
}

/// Rejects `--opt=value` for a flag that takes no value.
fn flag(name: &str, inline: Option<&String>) -> Result<(), Error> {
    match inline {
        Some(_) => Err(usage_error(format!("{name} takes no value"))),
        None => Ok(()),
    }
}

fn is_help(arg: &Arg) -> bool {
    matches!(arg, Arg::Opt(name, None) if name == "-h" || name == "--help")
}

fn parse_status(args: &mut Args) -> Result<Command, Error> {
    let mut json = false;
    while let Some(arg) = args.next()? {
        match &arg {
            a if is_help(a) => return Ok(Command::Help),
            Arg::Opt(name, inline) if name == "--json" => {
                flag(name, inline.as_ref())?;
                json = true;
            }
            _ => return Err(args.unexpected(&arg)),
        }
    }
    Ok(Command::Status { json })
}

fn parse_list(args: &mut Args) -> Result<Command, Error> {
    let (mut all, mut json) = (false, false);
    while let Some(arg) = args.next()? {
        match &arg {
            a if is_help(a) => return Ok(Command::Help),
            Arg::Opt(name, inline) if name == "--json" => {
                flag(name, inline.as_ref())?;
                json = true;
            }
            Arg::Opt(name, inline) if name == "--all" || name == "-a" => {
                flag(name, inline.as_ref())?;
                all = true;
            }
            _ => return Err(args.unexpected(&arg)),
        }
    }
    Ok(Command::List { all, json })
}

fn parse_info(args: &mut Args) -> Result<Command, Error> {
    let (mut id, mut json) = (None, false);
    while let Some(arg) = args.next()? {
        match &arg {
            a if is_help(a) => return Ok(Command::Help),
            Arg::Opt(name, inline) if name == "--json" => {
                flag(name, inline.as_ref())?;
                json = true;
            }
            Arg::Positional(p) if id.is_none() => id = Some(parse_id(utf8(p)?)?),
            _ => return Err(args.unexpected(&arg)),
        }
    }
    let id = id.ok_or_else(|| usage_error("info needs an agent id"))?;
    Ok(Command::Info { id, json })
}

fn parse_unregister(args: &mut Args) -> Result<Command, Error> {
    let mut id = None;
    while let Some(arg) = args.next()? {
        match &arg {
            a if is_help(a) => return Ok(Command::Help),
            Arg::Positional(p) if id.is_none() => id = Some(parse_id(utf8(p)?)?),
            _ => return Err(args.unexpected(&arg)),
        }
    }
    let id = id.ok_or_else(|| usage_error("unregister needs an agent id"))?;
    Ok(Command::Unregister { id })
}

fn parse_history(args: &mut Args) -> Result<Command, Error> {
    let (mut id, mut json) = (None, false);
    while let Some(arg) = args.next()? {
        match &arg {
            a if is_help(a) => return Ok(Command::Help),
            Arg::Opt(name, inline) if name == "--json" => {
                flag(name, inline.as_ref())?;
                json = true;
            }
            Arg::Positional(p) if id.is_none() => id = Some(parse_id(utf8(p)?)?),
            _ => return Err(args.unexpected(&arg)),
        }
    }
    let id = id.ok_or_else(|| usage_error("history needs an agent id"))?;
    Ok(Command::History { id, json })
}

fn parse_top(args: &mut Args) -> Result<Command, Error> {
    let (mut once, mut json, mut interval) = (false, false, TOP_INTERVAL);
    while let Some(arg) = args.next()? {
        match &arg {
            a if is_help(a) => return Ok(Command::Help),
            Arg::Opt(name, inline) if name == "--json" => {
                flag(name, inline.as_ref())?;
                json = true;
            }
            Arg::Opt(name, inline) if name == "--once" => {
                flag(name, inline.as_ref())?;
                once = true;
            }
            Arg::Opt(name, inline) if name == "--interval" || name == "-n" => {
                interval = parse_interval(&args.value(name, inline.clone())?)?;
            }
            _ => return Err(args.unexpected(&arg)),
        }
    }
    // A JSON consumer wants one document, not a stream of them.
    Ok(Command::Top {
        once: once || json,
        interval,
        json,
    })
}

/// `top --interval`: seconds, fractions allowed. The lower bound keeps a
/// typo (`0.001`) from turning the view into a busy loop on the device.
fn parse_interval(text: &str) -> Result<Duration, Error> {
    match text.parse::<f64>() {
        Ok(secs) if (0.1..=86400.0).contains(&secs) => Ok(Duration::from_secs_f64(secs)),
        _ => Err(usage_error(format!(
            "invalid interval '{text}' (expected 0.1 to 86400 seconds)"
        ))),
    }
}

/// Collects the `ID | --default` operand of `limits` and `recovery`.
#[derive(Default)]
struct TargetBuilder {
    id: Option<u32>,
    defaults: bool,
}

impl TargetBuilder {
    /// Takes `arg` if it is the id or `--default`; `Ok(false)` if not.
    fn take(&mut self, arg: &Arg) -> Result<bool, Error> {
        match arg {
            Arg::Positional(p) if self.id.is_none() => self.id = Some(parse_id(utf8(p)?)?),
            Arg::Opt(name, inline) if name == "--default" => {
                flag(name, inline.as_ref())?;
                self.defaults = true;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn build(self, command: &str) -> Result<PolicyTarget, Error> {
        match (self.id, self.defaults) {
            (Some(id), false) => Ok(PolicyTarget::Agent(id)),
            (None, true) => Ok(PolicyTarget::Defaults),
            (Some(_), true) => Err(usage_error(format!(
                "{command} takes an agent id or --default, not both"
            ))),
            (None, false) => Err(usage_error(format!(
                "{command} needs an agent id or --default"
            ))),
        }
    }
}

fn parse_limits(args: &mut Args) -> Result<Command, Error> {
    let mut target = TargetBuilder::default();
    let mut changes = LimitChanges::default();
    let mut json = false;
    while let Some(arg) = args.next()? {
        if target.take(&arg)? {
            continue;
        }
        match &arg {
            a if is_help(a) => return Ok(Command::Help),
            Arg::Opt(name, inline) if name == "--json" => {
                flag(name, inline.as_ref())?;
                json = true;
            }
            Arg::Opt(name, inline) => {
                let Some((slot, max)) = limit_option(&mut changes, name) else {
                    return Err(args.unexpected(&arg));
                };
                let value = args.value(name, inline.clone())?;
                *slot = Some(parse_limit(name, &value, max)?);
            }
            _ => return Err(args.unexpected(&arg)),
        }
    }
    let target = target.build("limits")?;
    if json && !changes.is_empty() {
        return Err(usage_error("--json only applies to printing the limits"));
    }
    if target == PolicyTarget::Defaults {
        let all = [
            ("--cpu-quota-ms", changes.cpu_quota_ms),
            ("--mem", changes.mem_limit_bytes),
            ("--syscall-rate", changes.syscall_rate),
            ("--watchdog-ms", changes.watchdog_ms),
        ];
        if let Some((name, _)) = all.iter().find(|(_, l)| *l == Some(Limit::Default)) {
            return Err(usage_error(format!(
                "{name}: 'default' applies to an agent only (give the defaults a value or none)"
            )));
        }
    }
    Ok(Command::Limits {
        target,
        changes,
        json,
    })
}

/// The limit option `name` of `limits` and `patch ID limits` changes, and
/// the field's "no limit" value. The short names are what `recovery` calls
/// the same faults; accepting them here saves a trip to the usage text.
fn limit_option<'a>(
    changes: &'a mut LimitChanges,
    name: &str,
) -> Option<(&'a mut Option<Limit>, u64)> {
    let none32 = u64::from(u32::MAX);
    Some(match name {
        "--cpu-quota-ms" | "--cpu-quota" => (&mut changes.cpu_quota_ms, none32),
        "--mem" | "--memory" => (&mut changes.mem_limit_bytes, u64::MAX),
        "--syscall-rate" => (&mut changes.syscall_rate, none32),
        "--watchdog-ms" | "--watchdog" => (&mut changes.watchdog_ms, none32),
        _ => return None,
    })
}

/// Whether limit option `name` takes a size (K, M, G).
fn is_size_option(name: &str) -> bool {
    name == "--mem" || name == "--memory"
}

/// A limit: `none`, `default`, or a number below `max`, the field's "no
/// limit" value. 0 is refused: it means "default" for an agent and "none"
/// in the defaults, and the user should say which.
fn parse_limit(name: &str, text: &str, max: u64) -> Result<Limit, Error> {
    let value = match text {
        "none" => return Ok(Limit::Unlimited),
        "default" => return Ok(Limit::Default),
        // Malformed or too large, the message is the same: it shows the
        // syntax.
        _ if is_size_option(name) => parse_size(text).ok(),
        _ => text.parse::<u64>().ok(),
    };
    match value {
        Some(v) if v > 0 && v < max => Ok(Limit::Value(v)),
        Some(0) => Err(usage_error(format!(
            "invalid value '0' for {name} (use none for no limit, or default)"
        ))),
        _ if is_size_option(name) => Err(usage_error(format!(
            "invalid size '{text}' for {name} (expected bytes, or a number with K, M or G)"
        ))),
        _ => Err(usage_error(format!(
            "invalid value '{text}' for {name} (expected 1 to {}, none or default)",
            max - 1
        ))),
    }
}

fn parse_recovery(args: &mut Args) -> Result<Command, Error> {
    let mut target = TargetBuilder::default();
    let mut preset = None;
    let mut actions: Vec<(u32, u8)> = Vec::new();
    let mut json = false;
    while let Some(arg) = args.next()? {
        if target.take(&arg)? {
            continue;
        }
        match &arg {
            a if is_help(a) => return Ok(Command::Help),
            Arg::Opt(name, inline) if name == "--json" => {
                flag(name, inline.as_ref())?;
                json = true;
            }
            Arg::Opt(name, inline) if name == "--preset" => {
                let value = args.value(name, inline.clone())?;
                preset = Some(parse_preset(&value).ok_or_else(|| {
                    usage_error(format!(
                        "unknown preset '{value}' (known: default, permissive, strict)"
                    ))
                })?);
            }
            Arg::Opt(name, inline) => {
                let Some(&(_, fault)) = ACTION_OPTIONS.iter().find(|(opt, _)| opt == name) else {
                    return Err(args.unexpected(&arg));
                };
                let value = args.value(name, inline.clone())?;
                let action = parse_action(&value).ok_or_else(|| {
                    usage_error(format!(
                        "unknown action '{value}' for {name} (known: log, throttle, kill, restart, default)"
                    ))
                })?;
                if !action_allowed(fault, action) {
                    return Err(usage_error(format!(
                        "{name} cannot be {value}: throttle applies to --cpu-quota and --syscall-flood only"
                    )));
                }
                // A repeated option: the last one counts.
                actions.retain(|(f, _)| *f != fault);
                actions.push((fault, action));
            }
            _ => return Err(args.unexpected(&arg)),
        }
    }
    let target = target.build("recovery")?;
    let change = match (preset, actions.is_empty()) {
        (Some(_), false) => {
            return Err(usage_error(
                "--preset cannot be combined with per-fault actions",
            ))
        }
        (Some(preset), true) => Some(ActionChange::Preset(preset)),
        (None, false) => {
            actions.sort_unstable();
            Some(ActionChange::Actions(actions))
        }
        (None, true) => None,
    };
    if json && change.is_some() {
        return Err(usage_error("--json only applies to printing the actions"));
    }
    if let (PolicyTarget::Defaults, Some(ActionChange::Actions(actions))) = (target, &change) {
        if actions.iter().any(|(_, a)| *a == ASM_ACTION_DEFAULT) {
            return Err(usage_error(
                "'default' applies to an agent only (the defaults need an action for every fault)",
            ));
        }
    }
    Ok(Command::Recovery {
        target,
        change,
        json,
    })
}

fn parse_heartbeat(args: &mut Args) -> Result<Command, Error> {
    match args.next()? {
        None => Ok(Command::Heartbeat),
        Some(a) if is_help(&a) => Ok(Command::Help),
        Some(a) => Err(args.unexpected(&a)),
    }
}

/// Options shared by `run` and `register`, collected before validation.
#[derive(Default)]
struct SpecBuilder {
    name: Option<String>,
    id: u32,
    capabilities: u64,
    scope: String,
    auto_restart: u32,
    risk_level: u32,
}

impl SpecBuilder {
    /// Takes `arg` if it is one of the shared options; `Ok(false)` if not.
    fn take(&mut self, args: &mut Args, arg: &Arg) -> Result<bool, Error> {
        let Arg::Opt(name, inline) = arg else {
            return Ok(false);
        };
        let inline = inline.clone();
        match name.as_str() {
            "--name" => self.name = Some(args.value(name, inline)?),
            "--id" => self.id = parse_id(&args.value(name, inline)?)?,
            "--cap" => self.capabilities |= parse_caps(&args.value(name, inline)?)?,
            "--scope" => self.scope = args.value(name, inline)?,
            "--auto-restart" => {
                let value = args.value(name, inline)?;
                self.auto_restart = value.parse().map_err(|_| {
                    usage_error(format!(
                        "invalid restart count '{value}' for --auto-restart"
                    ))
                })?;
            }
            // Unacceptable is sent all the same: the kernel refuses it and
            // audits the refusal, which is the record the Act asks for.
            "--risk" => {
                let value = args.value(name, inline)?;
                self.risk_level = parse_risk(&value).ok_or_else(|| {
                    usage_error(format!(
                        "unknown risk level '{value}' (known: minimal, limited, high, unacceptable)"
                    ))
                })?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn build(self, command: &str) -> Result<AgentSpec, Error> {
        let name = self
            .name
            .ok_or_else(|| usage_error(format!("{command} needs --name")))?;
        if name.is_empty() || name.len() >= ASM_NAME_LEN {
            return Err(usage_error(format!(
                "agent name must be 1 to {} bytes long",
                ASM_NAME_LEN - 1
            )));
        }
        if self.scope.len() >= ASM_SCOPE_LEN {
            return Err(usage_error(format!(
                "scope must be at most {} bytes long",
                ASM_SCOPE_LEN - 1
            )));
        }
        if !self.scope.is_empty() && !self.scope.starts_with('/') {
            return Err(usage_error(format!(
                "scope '{}' is not an absolute path",
                self.scope
            )));
        }
        Ok(AgentSpec {
            name,
            id: self.id,
            capabilities: self.capabilities,
            scope: self.scope,
            auto_restart: self.auto_restart,
            risk_level: self.risk_level,
        })
    }
}

fn parse_run(args: &mut Args) -> Result<Command, Error> {
    let mut spec = SpecBuilder::default();
    let mut quiet = false;
    let mut no_landlock = false;
    let mut keep_tty = false;
    let mut program = None;
    while let Some(arg) = args.next()? {
        if spec.take(args, &arg)? {
            continue;
        }
        match arg {
            ref a if is_help(a) => return Ok(Command::Help),
            Arg::Opt(ref name, ref inline) if name == "--quiet" || name == "-q" => {
                flag(name, inline.as_ref())?;
                quiet = true;
            }
            Arg::Opt(ref name, ref inline) if name == "--no-landlock" => {
                flag(name, inline.as_ref())?;
                no_landlock = true;
            }
            Arg::Opt(ref name, ref inline) if name == "--keep-tty" => {
                flag(name, inline.as_ref())?;
                keep_tty = true;
            }
            // The command starts after "--", or at the first argument that
            // is not an option; its own options are not ours.
            Arg::DashDash => {
                program = args.rest.next();
                break;
            }
            Arg::Positional(p) => {
                program = Some(p);
                break;
            }
            Arg::Opt(..) => return Err(args.unexpected(&arg)),
        }
    }
    let spec = spec.build("run")?;
    let program = program.ok_or_else(|| usage_error("run needs a command after --"))?;
    Ok(Command::Run(Launch {
        spec,
        quiet,
        no_landlock,
        keep_tty,
        program,
        args: args.rest.by_ref().collect(),
    }))
}

fn parse_register(args: &mut Args) -> Result<Command, Error> {
    let mut spec = SpecBuilder::default();
    let mut target = None;
    while let Some(arg) = args.next()? {
        if spec.take(args, &arg)? {
            continue;
        }
        let new = match &arg {
            a if is_help(a) => return Ok(Command::Help),
            Arg::Opt(name, inline) if name == "--pid" => {
                let value = args.value(name, inline.clone())?;
                match value.parse::<i32>() {
                    Ok(pid) if pid > 0 => Target::Pid(pid),
                    _ => return Err(usage_error(format!("invalid pid '{value}'"))),
                }
            }
            Arg::Opt(name, inline) if name == "--cgroup" => {
                Target::Cgroup(PathBuf::from(args.value(name, inline.clone())?))
            }
            _ => return Err(args.unexpected(&arg)),
        };
        if target.replace(new).is_some() {
            return Err(usage_error("register takes one of --pid and --cgroup"));
        }
    }
    let target = target.ok_or_else(|| usage_error("register needs --pid or --cgroup"))?;
    let spec = spec.build("register")?;
    Ok(Command::Register { spec, target })
}

fn parse_policy(args: &mut Args) -> Result<Command, Error> {
    let (mut id, mut json) = (None, false);
    while let Some(arg) = args.next()? {
        match &arg {
            a if is_help(a) => return Ok(Command::Help),
            Arg::Opt(name, inline) if name == "--json" => {
                flag(name, inline.as_ref())?;
                json = true;
            }
            Arg::Positional(p) if id.is_none() => id = Some(parse_id(utf8(p)?)?),
            _ => return Err(args.unexpected(&arg)),
        }
    }
    let id = id.ok_or_else(|| usage_error("policy needs an agent id"))?;
    Ok(Command::Policy { id, json })
}

/// The changes `patch` knows, as the usage text and the errors list them.
const PATCH_CHANGES: &str = "add-cap, remove-cap, scope, auto-restart, limits, risk or llm-rate";

/// `patch ID CHANGE ARGS`: the id, the change, then what the change takes.
fn parse_patch(args: &mut Args) -> Result<Command, Error> {
    let mut words = Vec::new();
    let mut changes = LimitChanges::default();
    while let Some(arg) = args.next()? {
        match &arg {
            a if is_help(a) => return Ok(Command::Help),
            Arg::Positional(p) => words.push(utf8(p)?.to_string()),
            // Only `limits` takes options, and only after its name.
            Arg::Opt(name, inline) if words.get(1).is_some_and(|w| w == "limits") => {
                let Some((slot, max)) = limit_option(&mut changes, name) else {
                    return Err(usage_error(format!(
                        "unknown option '{name}' for patch limits \
                         (known: --cpu-quota-ms, --mem, --syscall-rate, --watchdog-ms)"
                    )));
                };
                let value = args.value(name, inline.clone())?;
                *slot = Some(parse_limit(name, &value, max)?);
            }
            _ => return Err(args.unexpected(&arg)),
        }
    }
    let mut words = words.into_iter();
    let id = parse_id(
        &words
            .next()
            .ok_or_else(|| usage_error("patch needs an agent id"))?,
    )?;
    let what = words
        .next()
        .ok_or_else(|| usage_error(format!("patch needs a change: {PATCH_CHANGES}")))?;
    let operands: Vec<String> = words.collect();
    // The one operand of the changes that take one.
    let single = |what: &str, expected: &str| -> Result<String, Error> {
        match operands.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(usage_error(format!("patch {what} needs {expected}"))),
            [_, extra, ..] => Err(usage_error(format!(
                "unexpected argument '{extra}' for patch {what}"
            ))),
        }
    };
    let change = match what.as_str() {
        "add-cap" | "remove-cap" => {
            if operands.is_empty() {
                return Err(usage_error(format!("patch {what} needs capability names")));
            }
            let bits = operands
                .iter()
                .try_fold(0, |bits, list| parse_caps(list).map(|b| bits | b))?;
            if what == "add-cap" {
                PatchChange::AddCaps(bits)
            } else {
                PatchChange::RemoveCaps(bits)
            }
        }
        "scope" => match single("scope", "a path, or none")?.as_str() {
            "none" => PatchChange::Scope(String::new()),
            path => PatchChange::Scope(check_path("scope", path)?.to_string()),
        },
        "auto-restart" => {
            let value = single("auto-restart", "a restart count")?;
            PatchChange::AutoRestart(value.parse().map_err(|_| {
                usage_error(format!(
                    "invalid restart count '{value}' for patch auto-restart"
                ))
            })?)
        }
        "risk" => {
            let value = single("risk", "a risk level: minimal, limited or high")?;
            match parse_risk(&value) {
                Some(ASM_RISK_UNACCEPTABLE) => {
                    return Err(usage_error(
                        "risk level Unacceptable is prohibited: a patch may set minimal, limited or high",
                    ))
                }
                Some(risk) => PatchChange::Risk(risk),
                None => {
                    return Err(usage_error(format!(
                        "unknown risk level '{value}' (known: minimal, limited, high)"
                    )))
                }
            }
        }
        "limits" => {
            if let Some(extra) = operands.first() {
                return Err(usage_error(format!(
                    "unexpected argument '{extra}' for patch limits"
                )));
            }
            if changes.is_empty() {
                return Err(usage_error(
                    "patch limits needs at least one of --cpu-quota-ms, --mem, --syscall-rate, --watchdog-ms",
                ));
            }
            PatchChange::Limits(changes)
        }
        "llm-rate" => match operands.as_slice() {
            [burst, refill] => PatchChange::LlmRate {
                burst: parse_rate("burst", burst, ASM_LLM_BURST_MAX)?,
                refill: parse_rate("refill", refill, ASM_LLM_REFILL_MAX)?,
            },
            [_, _, extra, ..] => {
                return Err(usage_error(format!(
                    "unexpected argument '{extra}' for patch llm-rate"
                )))
            }
            _ => {
                return Err(usage_error(
                    "patch llm-rate needs a burst and a refill: llm-rate BURST REFILL",
                ))
            }
        },
        other => {
            return Err(usage_error(format!(
                "unknown change '{other}' for patch (known: {PATCH_CHANGES})"
            )))
        }
    };
    Ok(Command::Patch { id, change })
}

/// `patch ID llm-rate`'s burst or refill (`what`): 1 to `max`, the
/// bound the kernel checks too.
fn parse_rate(what: &str, text: &str, max: u32) -> Result<u32, Error> {
    let unit = if what == "refill" {
        " requests per second"
    } else {
        " requests"
    };
    match text.parse::<u32>() {
        Ok(v) if (1..=max).contains(&v) => Ok(v),
        _ => Err(usage_error(format!(
            "invalid {what} '{text}' for patch llm-rate (expected 1 to {max}{unit})"
        ))),
    }
}

/// An absolute path that fits the ABI's path fields (`what` names it in
/// errors).
fn check_path<'a>(what: &str, path: &'a str) -> Result<&'a str, Error> {
    if path.len() >= ASM_SCOPE_LEN {
        return Err(usage_error(format!(
            "{what} must be at most {} bytes long",
            ASM_SCOPE_LEN - 1
        )));
    }
    if !path.starts_with('/') {
        return Err(usage_error(format!(
            "{what} '{path}' is not an absolute path"
        )));
    }
    Ok(path)
}

/// A note or a decision: text that fits `struct asm_note`, without the
/// control characters the kernel refuses.
fn check_text(what: &str, text: &str) -> Result<(), Error> {
    if text.len() >= ASM_NOTE_LEN {
        return Err(usage_error(format!(
            "{what} must be at most {} bytes long",
            ASM_NOTE_LEN - 1
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(usage_error(format!(
            "{what} must be printable text (no newlines or control characters)"
        )));
    }
    Ok(())
}

/// `audit [--trail T] [--from SEQ] [--json | --export FILE]` or `audit
/// verify [--trail T] [FILE]`.
fn parse_audit(args: &mut Args) -> Result<Command, Error> {
    let (mut from, mut json, mut export) = (None, false, None);
    let mut verify = false;
    let mut file = None;
    let mut trail = None;
    while let Some(arg) = args.next()? {
        match &arg {
            a if is_help(a) => return Ok(Command::Help),
            Arg::Opt(name, inline) if name == "--trail" => {
                let value = args.value(name, inline.clone())?;
                trail = Some(match value.as_str() {
                    "policy" => Trail::Policy,
                    "llm" => Trail::Llm,
                    _ => {
                        return Err(usage_error(format!(
                            "unknown trail '{value}' for --trail (known: policy, llm)"
                        )))
                    }
                });
            }
            Arg::Positional(p) if !verify && from.is_none() && !json && export.is_none() => {
                match utf8(p)? {
                    "verify" => verify = true,
                    _ => return Err(args.unexpected(&arg)),
                }
            }
            Arg::Positional(p) if verify && file.is_none() => file = Some(PathBuf::from(p)),
            Arg::Opt(name, inline) if name == "--json" && !verify => {
                flag(name, inline.as_ref())?;
                json = true;
            }
            Arg::Opt(name, inline) if name == "--from" && !verify => {
                let value = args.value(name, inline.clone())?;
                from = Some(
                    value
                        .parse::<u64>()
                        .map_err(|_| usage_error(format!("invalid seq '{value}' for --from")))?,
                );
            }
            Arg::Opt(name, inline) if name == "--export" && !verify => {
                export = Some(PathBuf::from(args.value(name, inline.clone())?));
            }
            _ if verify => {
                return Err(usage_error(format!(
                    "{} for audit verify",
                    match &arg {
                        Arg::Opt(name, _) => format!("unknown option '{name}'"),
                        _ => "unexpected argument".to_string(),
                    }
                )))
            }
            _ => return Err(args.unexpected(&arg)),
        }
    }
    if verify {
        if file.is_some() && trail.is_some() {
            return Err(usage_error(
                "--trail picks a live trail; an export is verified as it is",
            ));
        }
        return Ok(Command::AuditVerify {
            trail: trail.unwrap_or_default(),
            file,
        });
    }
    if json && export.is_some() {
        return Err(usage_error(
            "--export writes JSON to its file; leave out --json",
        ));
    }
    Ok(Command::Audit {
        trail: trail.unwrap_or_default(),
        from: from.unwrap_or(0),
        json,
        export,
    })
}

/// `oversight ID ACTION [--note TEXT]`.
fn parse_oversight_command(args: &mut Args) -> Result<Command, Error> {
    let (mut id, mut action, mut note) = (None, None, String::new());
    while let Some(arg) = args.next()? {
        match &arg {
            a if is_help(a) => return Ok(Command::Help),
            Arg::Positional(p) if id.is_none() => id = Some(parse_id(utf8(p)?)?),
            Arg::Positional(p) if action.is_none() => {
                let text = utf8(p)?;
                action = Some(parse_oversight(text).ok_or_else(|| {
                    usage_error(format!(
                        "unknown oversight action '{text}' (known: review, approve, reject, stop)"
                    ))
                })?);
            }
            Arg::Opt(name, inline) if name == "--note" => {
                note = args.value(name, inline.clone())?;
                check_text("--note", &note)?;
            }
            _ => return Err(args.unexpected(&arg)),
        }
    }
    let id = id.ok_or_else(|| usage_error("oversight needs an agent id"))?;
    let action = action
        .ok_or_else(|| usage_error("oversight needs an action: review, approve, reject or stop"))?;
    Ok(Command::Oversight { id, action, note })
}

/// `decision TEXT`: the words after the command, joined by spaces, so that
/// the text need not be quoted; after `--` a word may start with `-`.
fn parse_decision(args: &mut Args) -> Result<Command, Error> {
    let mut words = Vec::new();
    while let Some(arg) = args.next()? {
        match &arg {
            a if is_help(a) && words.is_empty() => return Ok(Command::Help),
            Arg::Positional(p) => words.push(utf8(p)?.to_string()),
            Arg::DashDash => {
                for rest in args.rest.by_ref() {
                    words.push(utf8(&rest)?.to_string());
                }
            }
            _ => return Err(args.unexpected(&arg)),
        }
    }
    let text = words.join(" ");
    if text.is_empty() {
        return Err(usage_error("decision needs a text"));
    }
    check_text("the decision", &text)?;
    Ok(Command::Decision { text })
}

/// `llm PROMPT [--provider P] [--max-tokens N] [--temperature T]
/// [--system TEXT] [--timeout-ms N] [--json]`: the words of the prompt,
/// joined by spaces as for `decision`, may come before, between or after the
/// options; after `--` every word is the prompt's, even one starting with
/// `-`.
fn parse_llm(args: &mut Args) -> Result<Command, Error> {
    let mut words = Vec::new();
    let mut request = LlmRequest::default();
    let mut json = false;
    while let Some(arg) = args.next()? {
        match &arg {
            a if is_help(a) => return Ok(Command::Help),
            Arg::Positional(p) => words.push(utf8(p)?.to_string()),
            Arg::DashDash => {
                for rest in args.rest.by_ref() {
                    words.push(utf8(&rest)?.to_string());
                }
            }
            Arg::Opt(name, inline) if name == "--json" => {
                flag(name, inline.as_ref())?;
                json = true;
            }
            Arg::Opt(name, inline) if name == "--provider" => {
                request.provider = Some(parse_provider(&args.value(name, inline.clone())?)?);
            }
            Arg::Opt(name, inline) if name == "--max-tokens" => {
                let value = args.value(name, inline.clone())?;
                request.max_tokens = Some(parse_range(name, &value, ASM_LLM_MAX_TOKENS_MAX)?);
            }
            Arg::Opt(name, inline) if name == "--temperature" => {
                request.temperature = Some(parse_temperature(&args.value(name, inline.clone())?)?);
            }
            Arg::Opt(name, inline) if name == "--timeout-ms" => {
                let value = args.value(name, inline.clone())?;
                request.timeout_ms = Some(parse_range(name, &value, ASM_LLM_TIMEOUT_MAX_MS)?);
            }
            Arg::Opt(name, inline) if name == "--system" => {
                let system = args.value(name, inline.clone())?;
                if system.len() > ASM_LLM_SYSTEM_MAX {
                    return Err(usage_error(format!(
                        "--system must be at most {ASM_LLM_SYSTEM_MAX} bytes long ({} given)",
                        system.len()
                    )));
                }
                request.system = Some(system);
            }
            _ => return Err(args.unexpected(&arg)),
        }
    }
    request.prompt = words.join(" ");
    if request.prompt.is_empty() {
        return Err(usage_error("llm needs a prompt"));
    }
    if request.prompt.len() > ASM_LLM_PROMPT_MAX {
        return Err(usage_error(format!(
            "the prompt must be at most {ASM_LLM_PROMPT_MAX} bytes long ({} given)",
            request.prompt.len()
        )));
    }
    Ok(Command::Llm { request, json })
}

/// `--provider`: a provider's name, in any case.
fn parse_provider(text: &str) -> Result<&'static str, Error> {
    let lower = text.to_ascii_lowercase();
    LLM_PROVIDERS
        .iter()
        .find(|(_, name)| *name == lower)
        .map(|(_, name)| *name)
        .ok_or_else(|| {
            let known: Vec<&str> = LLM_PROVIDERS.iter().map(|(_, name)| *name).collect();
            usage_error(format!(
                "unknown provider '{text}' (known: {})",
                known.join(", ")
            ))
        })
}

/// A count option of `llm`: 1 to `max`.
fn parse_range(name: &str, text: &str, max: u32) -> Result<u32, Error> {
    match text.parse::<u32>() {
        Ok(v) if (1..=max).contains(&v) => Ok(v),
        _ => Err(usage_error(format!(
            "invalid value '{text}' for {name} (expected 1 to {max})"
        ))),
    }
}

/// `--temperature`: 0 to 1 with at most three decimals, in thousandths.
/// Read as decimal text, never through a float, so that what the kernel
/// gets is exactly what was typed.
fn parse_temperature(text: &str) -> Result<u32, Error> {
    let bad = || {
        usage_error(format!(
            "invalid temperature '{text}' (expected 0 to 1, at most three decimals, e.g. 0.25)"
        ))
    };
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
        return Err(usage_error(format!(
            "invalid temperature '{text}': at most three decimals"
        )));
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

/// `sensitive [list] [--json]`, `sensitive add PATH`, `sensitive remove PATH`.
fn parse_sensitive(args: &mut Args) -> Result<Command, Error> {
    let mut words = Vec::new();
    let mut json = false;
    while let Some(arg) = args.next()? {
        match &arg {
            a if is_help(a) => return Ok(Command::Help),
            Arg::Opt(name, inline) if name == "--json" => {
                flag(name, inline.as_ref())?;
                json = true;
            }
            Arg::Positional(p) => words.push(utf8(p)?.to_string()),
            _ => return Err(args.unexpected(&arg)),
        }
    }
    let change = match words.as_slice() {
        [] => None,
        [list] if list == "list" => None,
        [op, path] if op == "add" || op == "remove" => {
            let path = check_path("path", path)?.to_string();
            Some(if op == "add" {
                SensitiveChange::Add(path)
            } else {
                SensitiveChange::Remove(path)
            })
        }
        [op] if op == "add" || op == "remove" => {
            return Err(usage_error(format!("sensitive {op} needs a path")))
        }
        [op, _, extra, ..] if op == "add" || op == "remove" => {
            return Err(usage_error(format!(
                "unexpected argument '{extra}' for sensitive {op}"
            )))
        }
        [list, extra, ..] if list == "list" => {
            return Err(usage_error(format!(
                "unexpected argument '{extra}' for sensitive list"
            )))
        }
        [other, ..] => {
            return Err(usage_error(format!(
                "unknown sensitive command '{other}' (known: list, add, remove)"
            )))
        }
    };
    if json && change.is_some() {
        return Err(usage_error(
            "--json only applies to listing the sensitive paths",
        ));
    }
    Ok(Command::Sensitive { change, json })
}

/// `deps [list] [ID] [--json]`, `deps add DEPENDENT DEPENDENCY [--kind
/// KIND] [--signal SIG] [--json]`, `deps remove DEPENDENT DEPENDENCY
/// [--json]`.
fn parse_deps(args: &mut Args) -> Result<Command, Error> {
    let mut words = Vec::new();
    let (mut json, mut kind, mut signal) = (false, None, None);
    while let Some(arg) = args.next()? {
        match &arg {
            a if is_help(a) => return Ok(Command::Help),
            Arg::Opt(name, inline) if name == "--json" => {
                flag(name, inline.as_ref())?;
                json = true;
            }
            Arg::Opt(name, inline) if name == "--kind" => {
                kind = Some(parse_kind(&args.value(name, inline.clone())?)?);
            }
            Arg::Opt(name, inline) if name == "--signal" => {
                signal = Some(parse_signal(&args.value(name, inline.clone())?)?);
            }
            Arg::Positional(p) => words.push(utf8(p)?.to_string()),
            _ => return Err(args.unexpected(&arg)),
        }
    }
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let is_id = |word: &str| word.bytes().all(|b| b.is_ascii_digit());
    let action = match words.as_slice() {
        [] | ["list"] => DepsAction::Show(None),
        ["list", id] => DepsAction::Show(Some(parse_id(id)?)),
        [op @ ("add" | "remove"), dependent, dependency] => {
            let (dependent, dependency) = (parse_id(dependent)?, parse_id(dependency)?);
            if dependent == dependency {
                return Err(usage_error(format!(
                    "agent {dependent} cannot depend on itself"
                )));
            }
            if *op == "add" {
                DepsAction::Add {
                    dependent,
                    dependency,
                    kind: kind.unwrap_or(ASM_DEP_REQUIRED),
                    signal: signal.unwrap_or(0),
                }
            } else {
                DepsAction::Remove {
                    dependent,
                    dependency,
                }
            }
        }
        [op @ ("add" | "remove"), _, _, extra, ..] => {
            return Err(usage_error(format!(
                "unexpected argument '{extra}' for deps {op}"
            )))
        }
        [op @ ("add" | "remove"), ..] => {
            return Err(usage_error(format!(
                "deps {op} needs two agent ids: DEPENDENT DEPENDENCY"
            )))
        }
        ["list", _, extra, ..] => {
            return Err(usage_error(format!(
                "unexpected argument '{extra}' for deps list"
            )))
        }
        [id] if is_id(id) => DepsAction::Show(Some(parse_id(id)?)),
        [id, extra, ..] if is_id(id) => {
            return Err(usage_error(format!(
                "unexpected argument '{extra}' for deps"
            )))
        }
        [other, ..] => {
            return Err(usage_error(format!(
                "unknown deps command '{other}' (known: list, add, remove, or an agent id)"
            )))
        }
    };
    if kind.is_some() && !matches!(action, DepsAction::Add { .. }) {
        return Err(usage_error("--kind only applies to deps add"));
    }
    if signal.is_some() {
        match action {
            DepsAction::Add {
                kind: ASM_DEP_OPTIONAL,
                ..
            } => {}
            // The module refuses it too (EINVAL): a dependent that stops
            // with its dependency, or a peer, has nothing to catch.
            DepsAction::Add { .. } => {
                return Err(usage_error(
                    "--signal only applies to an optional dependency (--kind optional)",
                ))
            }
            _ => return Err(usage_error("--signal only applies to deps add")),
        }
    }
    Ok(Command::Deps { action, json })
}

/// `deps add --signal`: one of the signals the module lets an optional edge
/// send, by name or number.
fn parse_signal(text: &str) -> Result<u32, Error> {
    parse_dep_signal(text).ok_or_else(|| {
        let known: Vec<&str> = DEP_SIGNALS.iter().map(|(_, name)| *name).collect();
        usage_error(format!(
            "invalid --signal '{text}': a dependency's end sends one of {} (by name, with \
             or without SIG, or by number)",
            known.join(", ")
        ))
    })
}

/// `deps add --kind`: a dependency kind's name, in any case.
fn parse_kind(text: &str) -> Result<u32, Error> {
    parse_dep_kind(text).ok_or_else(|| {
        let known: Vec<&str> = DEP_KINDS.iter().map(|(_, name)| *name).collect();
        usage_error(format!(
            "unknown dependency kind '{text}' (known: {})",
            known.join(", ")
        ))
    })
}

/// `profile [--json]`, `profile ID [OP] [--json]`, `profile --all OP
/// [--json]`, `profile record OP DURATION [--failed]`, `profile time OP
/// [--] CMD [ARGS]...`.
fn parse_profile(args: &mut Args) -> Result<Command, Error> {
    let mut words: Vec<String> = Vec::new();
    let (mut json, mut all, mut failed) = (false, false, false);
    let mut program = None;
    // `time OP` is followed by the command, whose options are not ours.
    let timing = |words: &[String]| words.len() == 2 && words[0] == "time";
    while let Some(arg) = args.next()? {
        match &arg {
            a if is_help(a) => return Ok(Command::Help),
            Arg::Opt(name, inline) if name == "--json" => {
                flag(name, inline.as_ref())?;
                json = true;
            }
            Arg::Opt(name, inline) if name == "--all" => {
                flag(name, inline.as_ref())?;
                all = true;
            }
            Arg::Opt(name, inline) if name == "--failed" => {
                flag(name, inline.as_ref())?;
                failed = true;
            }
            Arg::DashDash if words.len() == 1 && words[0] == "time" => return Err(usage_error(
                "profile time needs an operation and a command: profile time OP -- CMD [ARGS]...",
            )),
            Arg::DashDash if timing(&words) => {
                program = args.rest.next();
                if program.is_none() {
                    return Err(usage_error("profile time needs a command after --"));
                }
                break;
            }
            Arg::Positional(p) if timing(&words) => {
                program = Some(p.clone());
                break;
            }
            Arg::Positional(p) => words.push(utf8(p)?.to_string()),
            _ => return Err(args.unexpected(&arg)),
        }
    }
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let is_id = |word: &str| word.bytes().all(|b| b.is_ascii_digit());
    let op_name = |text: &str| check_op_name(text).map(|()| text.to_string());
    let action = match words.as_slice() {
        // Any name, even one of the subcommands'.
        [op] if all && !is_id(op) => ProfileAction::Aggregate(op_name(op).map_err(usage_error)?),
        ["record", op, duration] => ProfileAction::Record {
            op: op_name(op).map_err(usage_error)?,
            duration_ns: parse_duration(duration).map_err(usage_error)?,
            success: !failed,
        },
        ["record", _, _, extra, ..] => {
            return Err(usage_error(format!(
                "unexpected argument '{extra}' for profile record"
            )))
        }
        ["record", ..] => {
            return Err(usage_error(
                "profile record needs an operation and a duration: profile record OP DURATION",
            ))
        }
        ["time", op] => ProfileAction::Time {
            op: op_name(op).map_err(usage_error)?,
            program: program
                .ok_or_else(|| usage_error("profile time needs a command after the operation"))?,
            args: args.rest.by_ref().collect(),
        },
        ["time", ..] => {
            return Err(usage_error(
                "profile time needs an operation and a command: profile time OP -- CMD [ARGS]...",
            ))
        }
        [] if all => {
            return Err(usage_error(
                "profile --all needs an operation: profile --all OP",
            ))
        }
        [] => ProfileAction::All,
        [id, ..] if all && is_id(id) => {
            return Err(usage_error("profile takes an agent id or --all, not both"))
        }
        [_, extra, ..] if all => {
            return Err(usage_error(format!(
                "unexpected argument '{extra}' for profile --all"
            )))
        }
        ["0", ..] => {
            return Err(usage_error(format!(
                "invalid agent id '0' (expected 1 to {ASM_ID_MAX}; every agent's figures of an \
                 operation: profile --all OP)"
            )))
        }
        [id] if is_id(id) => ProfileAction::Agent(parse_id(id)?),
        [id, op] if is_id(id) => ProfileAction::Op {
            id: parse_id(id)?,
            op: op_name(op).map_err(usage_error)?,
        },
        [id, _, extra, ..] if is_id(id) => {
            return Err(usage_error(format!(
                "unexpected argument '{extra}' for profile"
            )))
        }
        [other, ..] => {
            return Err(usage_error(format!(
                "unknown profile command '{other}' (known: record, time, an agent id, or --all OP)"
            )))
        }
    };
    let changes = matches!(
        action,
        ProfileAction::Record { .. } | ProfileAction::Time { .. }
    );
    if failed && !matches!(action, ProfileAction::Record { .. }) {
        return Err(usage_error("--failed only applies to profile record"));
    }
    if json && changes {
        return Err(usage_error(
            "--json only applies to the statistics, not to record or time",
        ));
    }
    if all && changes {
        return Err(usage_error("--all only applies to the statistics"));
    }
    Ok(Command::Profile { action, json })
}

fn parse_compliance(args: &mut Args) -> Result<Command, Error> {
    let mut json = false;
    while let Some(arg) = args.next()? {
        match &arg {
            a if is_help(a) => return Ok(Command::Help),
            Arg::Opt(name, inline) if name == "--json" => {
                flag(name, inline.as_ref())?;
                json = true;
            }
            _ => return Err(args.unexpected(&arg)),
        }
    }
    Ok(Command::Compliance { json })
}

/// An agent id the user typed: 1 to `ASM_ID_MAX` (0 means "allocate one"
/// in the ABI, which the user asks for by leaving `--id` out).
fn parse_id(text: &str) -> Result<u32, Error> {
    match text.parse::<u32>() {
        Ok(id) if (1..=ASM_ID_MAX).contains(&id) => Ok(id),
        _ => Err(usage_error(format!(
            "invalid agent id '{text}' (expected 1 to {ASM_ID_MAX})"
        ))),
    }
}

/// A comma-separated list of capability names, as bits.
fn parse_caps(text: &str) -> Result<u64, Error> {
    text.split(',').try_fold(0, |bits, name| {
        parse_capability(name.trim())
            .map(|bit| bits | bit)
            .ok_or_else(|| {
                let known: Vec<&str> = CAPABILITIES.iter().map(|c| c.name).collect();
                usage_error(format!(
                    "unknown capability '{name}' (known: {})",
                    known.join(", ")
                ))
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use asm_abi::{ASM_CAP_FS_BASIC, ASM_CAP_LLM_ACCESS, ASM_CAP_NET_CLIENT};

    fn asmctl(args: &[&str]) -> Result<Command, Error> {
        parse(
            OsStr::new("/usr/sbin/asmctl"),
            args.iter().map(OsString::from).collect(),
        )
    }

    fn usage_msg(args: &[&str]) -> String {
        match asmctl(args) {
            Err(Error::Usage(msg)) => msg,
            other => panic!("{args:?}: expected a usage error, got {other:?}"),
        }
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
        let call = |argv0: &str, args: &[&str]| {
            parse(OsStr::new(argv0), args.iter().map(OsString::from).collect())
        };
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
        assert!(matches!(
            call("asmstatus", &["status"]),
            Err(Error::Usage(_))
        ));
        // Any other name is asmctl itself.
        assert_eq!(
            call("asmctl-test", &["status"]),
            Ok(Command::Status { json: false })
        );
        assert_eq!(alias(OsStr::new("/bin/asminfo")), Some("info"));
        assert_eq!(alias(OsStr::new("asmctl")), None);
        assert_eq!(alias(OsStr::new("asminfo/")), Some("info"));
        assert_eq!(alias(OsStr::new("")), None);
    }

    #[test]
    fn read_commands() {
        assert_eq!(asmctl(&["help"]), Ok(Command::Help));
        assert_eq!(asmctl(&["--help"]), Ok(Command::Help));
        assert_eq!(asmctl(&["list", "-h"]), Ok(Command::Help));
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
            Ok(Command::Unregister { id: 100 })
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
            })
        );
        assert_eq!(
            asmctl(&["register", "--name=n", "--cgroup", "/sys/fs/cgroup/a"]),
            Ok(Command::Register {
                spec: spec("n"),
                target: Target::Cgroup("/sys/fs/cgroup/a".into()),
            })
        );
    }

    #[test]
    fn bad_command_lines() {
        for (args, want) in [
            (&[][..], "missing command"),
            (&["frobnicate"], "unknown command 'frobnicate'"),
            (&["status", "--all"], "unknown option '--all' for status"),
            (&["status", "--json=yes"], "--json takes no value"),
            (&["list", "x"], "unexpected argument 'x' for list"),
            (&["info"], "info needs an agent id"),
            (&["info", "1", "2"], "unexpected argument '2' for info"),
            (
                &["info", "abc"],
                "invalid agent id 'abc' (expected 1 to 2147483647)",
            ),
            (
                &["info", "0"],
                "invalid agent id '0' (expected 1 to 2147483647)",
            ),
            (
                &["info", "2147483648"],
                "invalid agent id '2147483648' (expected 1 to 2147483647)",
            ),
            (&["unregister"], "unregister needs an agent id"),
            (&["run", "--name", "a"], "run needs a command after --"),
            (
                &["run", "--keep-tty=yes", "--name", "a", "true"],
                "--keep-tty takes no value",
            ),
            (
                &["run", "--name", "a", "--"],
                "run needs a command after --",
            ),
            (&["run", "--", "true"], "run needs --name"),
            (&["run", "--name"], "--name needs a value"),
            (
                &["run", "--name", "", "true"],
                "agent name must be 1 to 31 bytes long",
            ),
            (
                &["run", "--name", &"x".repeat(32), "true"],
                "agent name must be 1 to 31 bytes long",
            ),
            (
                &["run", "--name", "a", "--scope", "tmp", "true"],
                "scope 'tmp' is not an absolute path",
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
                "scope must be at most 255 bytes long",
            ),
            (
                &["run", "--name", "a", "--auto-restart", "-1", "true"],
                "invalid restart count '-1' for --auto-restart",
            ),
            (
                &["run", "--name", "a", "--pid", "1", "true"],
                "unknown option '--pid' for run",
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
                "register needs --pid or --cgroup",
            ),
            (
                &["register", "--name", "a", "--pid", "1", "--cgroup", "/x"],
                "register takes one of --pid and --cgroup",
            ),
            (
                &["register", "--name", "a", "--pid", "0"],
                "invalid pid '0'",
            ),
            (
                &["register", "--name", "a", "--pid", "x"],
                "invalid pid 'x'",
            ),
            (&["register", "--pid", "1"], "register needs --name"),
            (
                &["register", "--pid", "1", "--name", "a", "cmd"],
                "unexpected argument 'cmd' for register",
            ),
        ] {
            assert_eq!(usage_msg(args), want, "{args:?}");
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
                interval: TOP_INTERVAL,
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
        // --json implies --once.
        assert_eq!(
            asmctl(&["top", "--json", "-n", "2"]),
            Ok(Command::Top {
                once: true,
                interval: Duration::from_secs(2),
                json: true
            })
        );
        assert_eq!(asmctl(&["heartbeat"]), Ok(Command::Heartbeat));
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
                "none",
                "--watchdog-ms",
                "default",
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
            assert_eq!(
                asmctl(&["limits", "7", "--mem", text]),
                Err(usage_error(format!(
                    "invalid size '{text}' for --mem (expected bytes, or a number with K, M or G)"
                ))),
                "{text}"
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
            (&["history"][..], "history needs an agent id"),
            (
                &["history", "0"],
                "invalid agent id '0' (expected 1 to 2147483647)",
            ),
            (&["history", "1", "--all"], "unknown option '--all' for history"),
            (
                &["top", "--interval", "0"],
                "invalid interval '0' (expected 0.1 to 86400 seconds)",
            ),
            (
                &["top", "--interval", "-1"],
                "invalid interval '-1' (expected 0.1 to 86400 seconds)",
            ),
            (
                &["top", "--interval", "NaN"],
                "invalid interval 'NaN' (expected 0.1 to 86400 seconds)",
            ),
            (&["top", "--interval"], "--interval needs a value"),
            (&["top", "5"], "unexpected argument '5' for top"),
            (&["heartbeat", "100"], "unexpected argument '100' for heartbeat"),
            (&["limits"], "limits needs an agent id or --default"),
            (
                &["limits", "100", "--default"],
                "limits takes an agent id or --default, not both",
            ),
            (&["limits", "100", "101"], "unexpected argument '101' for limits"),
            (&["limits", "100", "--cpu"], "unknown option '--cpu' for limits"),
            (
                &["limits", "100", "--cpu-quota-ms", "0"],
                "invalid value '0' for --cpu-quota-ms (use none for no limit, or default)",
            ),
            (
                &["limits", "100", "--cpu-quota-ms", "1.5"],
                "invalid value '1.5' for --cpu-quota-ms (expected 1 to 4294967294, none or default)",
            ),
            (
                &["limits", "100", "--syscall-rate", "4294967295"],
                "invalid value '4294967295' for --syscall-rate (expected 1 to 4294967294, none or default)",
            ),
            (
                &["limits", "100", "--watchdog-ms", "-5"],
                "invalid value '-5' for --watchdog-ms (expected 1 to 4294967294, none or default)",
            ),
            (
                &["limits", "100", "--mem", "10X"],
                "invalid size '10X' for --mem (expected bytes, or a number with K, M or G)",
            ),
            (
                &["limits", "100", "--mem", "18446744073709551615"],
                "invalid size '18446744073709551615' for --mem (expected bytes, or a number with K, M or G)",
            ),
            (
                &["limits", "100", "--mem", "0K"],
                "invalid value '0' for --mem (use none for no limit, or default)",
            ),
            (
                &["limits", "--default", "--mem", "default"],
                "--mem: 'default' applies to an agent only (give the defaults a value or none)",
            ),
            (
                &["limits", "100", "--mem", "1G", "--json"],
                "--json only applies to printing the limits",
            ),
            (&["recovery"], "recovery needs an agent id or --default"),
            (
                &["recovery", "100", "--memory", "throttle"],
                "--memory cannot be throttle: throttle applies to --cpu-quota and --syscall-flood only",
            ),
            (
                &["recovery", "100", "--crash", "throttle"],
                "--crash cannot be throttle: throttle applies to --cpu-quota and --syscall-flood only",
            ),
            (
                &["recovery", "100", "--crash", "ignore"],
                "unknown action 'ignore' for --crash (known: log, throttle, kill, restart, default)",
            ),
            (
                &["recovery", "100", "--preset", "none"],
                "unknown preset 'none' (known: default, permissive, strict)",
            ),
            (
                &["recovery", "100", "--preset", "strict", "--crash", "log"],
                "--preset cannot be combined with per-fault actions",
            ),
            (
                &["recovery", "--default", "--crash", "default"],
                "'default' applies to an agent only (the defaults need an action for every fault)",
            ),
            (
                &["recovery", "100", "--preset", "strict", "--json"],
                "--json only applies to printing the actions",
            ),
            (&["recovery", "100", "--cpu"], "unknown option '--cpu' for recovery"),
        ] {
            assert_eq!(usage_msg(args), want, "{args:?}");
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
        assert_eq!(
            usage_msg(&["register", "--pid", "1", "--name", "a", "--risk", "low"]),
            "unknown risk level 'low' (known: minimal, limited, high, unacceptable)"
        );
    }

    #[test]
    fn patch_command() {
        let patch = |id, change| Ok(Command::Patch { id, change });
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
            (&["patch"][..], "patch needs an agent id"),
            (
                &["patch", "100"],
                "patch needs a change: add-cap, remove-cap, scope, auto-restart, limits, risk or llm-rate",
            ),
            (
                &["patch", "x", "risk", "high"],
                "invalid agent id 'x' (expected 1 to 2147483647)",
            ),
            (
                &["patch", "100", "grant", "FsBasic"],
                "unknown change 'grant' for patch (known: add-cap, remove-cap, scope, auto-restart, limits, risk or llm-rate)",
            ),
            (&["patch", "100", "add-cap"], "patch add-cap needs capability names"),
            (
                &["patch", "100", "add-cap", "Root"],
                "unknown capability 'Root' (known: FsBasic, FsExtended, NetClient, \
                 NetServer, AudioControl, LlmAccess, ProcessSpawn, Admin)",
            ),
            (&["patch", "100", "scope"], "patch scope needs a path, or none"),
            (
                &["patch", "100", "scope", "tmp/x"],
                "scope 'tmp/x' is not an absolute path",
            ),
            (
                &["patch", "100", "scope", "/a", "/b"],
                "unexpected argument '/b' for patch scope",
            ),
            (
                &["patch", "100", "auto-restart", "many"],
                "invalid restart count 'many' for patch auto-restart",
            ),
            (
                &["patch", "100", "risk", "unacceptable"],
                "risk level Unacceptable is prohibited: a patch may set minimal, limited or high",
            ),
            (
                &["patch", "100", "risk", "extreme"],
                "unknown risk level 'extreme' (known: minimal, limited, high)",
            ),
            (
                &["patch", "100", "risk"],
                "patch risk needs a risk level: minimal, limited or high",
            ),
            (
                &["patch", "100", "limits"],
                "patch limits needs at least one of --cpu-quota-ms, --mem, --syscall-rate, --watchdog-ms",
            ),
            (
                &["patch", "100", "limits", "--cpu", "5"],
                "unknown option '--cpu' for patch limits (known: --cpu-quota-ms, --mem, --syscall-rate, --watchdog-ms)",
            ),
            (
                &["patch", "100", "limits", "--mem", "0"],
                "invalid value '0' for --mem (use none for no limit, or default)",
            ),
            (
                &["patch", "100", "limits", "--memory", "lots"],
                "invalid size 'lots' for --memory (expected bytes, or a number with K, M or G)",
            ),
            (
                &["patch", "100", "limits", "5", "--mem", "1G"],
                "unexpected argument '5' for patch limits",
            ),
            // Options belong to limits, after its name.
            (
                &["patch", "100", "--mem", "1G", "limits"],
                "unknown option '--mem' for patch",
            ),
            (
                &["patch", "100", "risk", "high", "--json"],
                "unknown option '--json' for patch",
            ),
            (
                &["patch", "100", "llm-rate"],
                "patch llm-rate needs a burst and a refill: llm-rate BURST REFILL",
            ),
            (
                &["patch", "100", "llm-rate", "5"],
                "patch llm-rate needs a burst and a refill: llm-rate BURST REFILL",
            ),
            (
                &["patch", "100", "llm-rate", "5", "1", "2"],
                "unexpected argument '2' for patch llm-rate",
            ),
            (
                &["patch", "100", "llm-rate", "0", "10"],
                "invalid burst '0' for patch llm-rate (expected 1 to 10000 requests)",
            ),
            (
                &["patch", "100", "llm-rate", "10001", "10"],
                "invalid burst '10001' for patch llm-rate (expected 1 to 10000 requests)",
            ),
            (
                &["patch", "100", "llm-rate", "30", "0"],
                "invalid refill '0' for patch llm-rate (expected 1 to 10000 requests per second)",
            ),
            (
                &["patch", "100", "llm-rate", "30", "1.5"],
                "invalid refill '1.5' for patch llm-rate (expected 1 to 10000 requests per second)",
            ),
            (
                &["patch", "100", "llm-rate", "30", "10001"],
                "invalid refill '10001' for patch llm-rate (expected 1 to 10000 requests per second)",
            ),
            (
                &["patch", "100", "llm-rate", "-1", "10"],
                "unknown option '-1' for patch",
            ),
        ] {
            assert_eq!(usage_msg(args), want, "{args:?}");
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
                "invalid seq '-1' for --from",
            ),
            (&["audit", "--from"], "--from needs a value"),
            (
                &["audit", "--json", "--export", "f"],
                "--export writes JSON to its file; leave out --json",
            ),
            (&["audit", "list"], "unexpected argument 'list' for audit"),
            (
                &["audit", "--json", "verify"],
                "unexpected argument 'verify' for audit",
            ),
            (
                &["audit", "verify", "a", "b"],
                "unexpected argument for audit verify",
            ),
            (
                &["audit", "verify", "--json"],
                "unknown option '--json' for audit verify",
            ),
            (
                &["audit", "--trail", "gateway"],
                "unknown trail 'gateway' for --trail (known: policy, llm)",
            ),
            (&["audit", "--trail"], "--trail needs a value"),
            (
                &["audit", "verify", "--trail", "llm", "t.json"],
                "--trail picks a live trail; an export is verified as it is",
            ),
        ] {
            assert_eq!(usage_msg(args), want, "{args:?}");
        }
    }

    #[test]
    fn oversight_and_decision_commands() {
        assert_eq!(
            asmctl(&["oversight", "100", "approve"]),
            Ok(Command::Oversight {
                id: 100,
                action: asm_abi::ASM_OVERSIGHT_APPROVE,
                note: String::new()
            })
        );
        assert_eq!(
            asmctl(&["oversight", "--note", "rm -rf seen", "101", "stop"]),
            Ok(Command::Oversight {
                id: 101,
                action: asm_abi::ASM_OVERSIGHT_STOP,
                note: "rm -rf seen".into()
            })
        );
        assert_eq!(
            asmctl(&["decision", "chose", "plan", "B"]),
            Ok(Command::Decision {
                text: "chose plan B".into()
            })
        );
        assert_eq!(
            asmctl(&["decision", "--", "-x is safer"]),
            Ok(Command::Decision {
                text: "-x is safer".into()
            })
        );
        for (args, want) in [
            (&["oversight"][..], "oversight needs an agent id"),
            (
                &["oversight", "100"],
                "oversight needs an action: review, approve, reject or stop",
            ),
            (
                &["oversight", "100", "pause"],
                "unknown oversight action 'pause' (known: review, approve, reject, stop)",
            ),
            (
                &["oversight", "100", "review", "--note", &"n".repeat(128)],
                "--note must be at most 127 bytes long",
            ),
            (
                &["oversight", "100", "review", "--note", "two\nlines"],
                "--note must be printable text (no newlines or control characters)",
            ),
            (&["decision"], "decision needs a text"),
            (
                &["decision", &"d".repeat(128)],
                "the decision must be at most 127 bytes long",
            ),
            (
                &["decision", "--json", "x"],
                "unknown option '--json' for decision",
            ),
        ] {
            assert_eq!(usage_msg(args), want, "{args:?}");
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
            (&["sensitive", "add"][..], "sensitive add needs a path"),
            (
                &["sensitive", "add", "secrets"],
                "path 'secrets' is not an absolute path",
            ),
            (
                &["sensitive", "add", "/a", "/b"],
                "unexpected argument '/b' for sensitive add",
            ),
            (
                &["sensitive", "list", "/a"],
                "unexpected argument '/a' for sensitive list",
            ),
            (
                &["sensitive", "mark", "/a"],
                "unknown sensitive command 'mark' (known: list, add, remove)",
            ),
            (
                &["sensitive", "add", "/a", "--json"],
                "--json only applies to listing the sensitive paths",
            ),
        ] {
            assert_eq!(usage_msg(args), want, "{args:?}");
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
            asmctl(&["profile", "time", "--all", "--json"]),
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
        assert_eq!(asmctl(&["profile", "--help"]), Ok(Command::Help));
        let rule = "1 to 31 characters of A-Z, a-z, 0-9, '_', '.', ':' and '-'";
        for (args, want) in [
            (
                &["profile", "record", "step"][..],
                "profile record needs an operation and a duration: profile record OP DURATION"
                    .to_string(),
            ),
            (
                &["profile", "record", "step", "1ms", "2ms"],
                "unexpected argument '2ms' for profile record".into(),
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
                &["profile", "record", "step", "1ms", "--json"],
                "--json only applies to the statistics, not to record or time".into(),
            ),
            (
                &["profile", "record", "step", "1ms", "--all"],
                "--all only applies to the statistics".into(),
            ),
            (
                &["profile", "7701", "--failed"],
                "--failed only applies to profile record".into(),
            ),
            (
                &["profile", "time", "x", "--failed", "--", "true"],
                "--failed only applies to profile record".into(),
            ),
            (
                &["profile", "time", "x", "--json", "true"],
                "--json only applies to the statistics, not to record or time".into(),
            ),
            (
                &["profile", "time", "x"],
                "profile time needs a command after the operation".into(),
            ),
            (
                &["profile", "time", "x", "--"],
                "profile time needs a command after --".into(),
            ),
            (
                &["profile", "time", "--", "true"],
                "profile time needs an operation and a command: profile time OP -- CMD [ARGS]..."
                    .into(),
            ),
            (
                &["profile", "time"],
                "profile time needs an operation and a command: profile time OP -- CMD [ARGS]..."
                    .into(),
            ),
            (
                &["profile", "time", "a/b", "true"],
                format!("invalid operation name 'a/b' (expected {rule})"),
            ),
            (
                &["profile", "--all"],
                "profile --all needs an operation: profile --all OP".into(),
            ),
            (
                &["profile", "--all", "7701"],
                "profile takes an agent id or --all, not both".into(),
            ),
            (
                &["profile", "--all", "7701", "step"],
                "profile takes an agent id or --all, not both".into(),
            ),
            (
                &["profile", "--all", "step", "x"],
                "unexpected argument 'x' for profile --all".into(),
            ),
            (
                &["profile", "0", "step"],
                "invalid agent id '0' (expected 1 to 2147483647; every agent's figures of an \
                 operation: profile --all OP)"
                    .into(),
            ),
            (
                &["profile", "99999999999"],
                "invalid agent id '99999999999' (expected 1 to 2147483647)".into(),
            ),
            (
                &["profile", "7701", "a b"],
                format!("invalid operation name 'a b' (expected {rule})"),
            ),
            (
                &["profile", "7701", "step", "x"],
                "unexpected argument 'x' for profile".into(),
            ),
            (
                &["profile", "step"],
                "unknown profile command 'step' (known: record, time, an agent id, or --all OP)"
                    .into(),
            ),
            (
                &["profile", "--bogus"],
                "unknown option '--bogus' for profile".into(),
            ),
            (&["profile", "--json=1"], "--json takes no value".into()),
            (&["profile", "--"], "unexpected '--' for profile".into()),
        ] {
            assert_eq!(usage_msg(args), want, "{args:?}");
        }
        let help = usage();
        assert!(help.contains("\n  profile ID OP [--json]    one operation"));
        assert!(help.contains("\n  profile --all OP [--json] one operation over every agent"));
        assert!(help.contains("\n  profile record OP DURATION [--failed]\n"));
        assert!(help.contains("\n  profile time OP [--] CMD [ARGS]...\n"));
        assert!(help.contains("each keeps its last 100 samples"));
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
                "deps add needs two agent ids: DEPENDENT DEPENDENCY",
            ),
            (
                &["deps", "remove"],
                "deps remove needs two agent ids: DEPENDENT DEPENDENCY",
            ),
            (
                &["deps", "add", "1", "2", "3"],
                "unexpected argument '3' for deps add",
            ),
            (
                &["deps", "add", "7", "7"],
                "agent 7 cannot depend on itself",
            ),
            (
                &["deps", "add", "x", "7"],
                "invalid agent id 'x' (expected 1 to 2147483647)",
            ),
            (
                &["deps", "0"],
                "invalid agent id '0' (expected 1 to 2147483647)",
            ),
            (&["deps", "1", "2"], "unexpected argument '2' for deps"),
            (
                &["deps", "list", "1", "2"],
                "unexpected argument '2' for deps list",
            ),
            (
                &["deps", "link", "1", "2"],
                "unknown deps command 'link' (known: list, add, remove, or an agent id)",
            ),
            (
                &["deps", "add", "1", "2", "--kind", "hard"],
                "unknown dependency kind 'hard' (known: required, optional, peer)",
            ),
            (&["deps", "add", "1", "2", "--kind"], "--kind needs a value"),
            (
                &["deps", "remove", "1", "2", "--kind", "peer"],
                "--kind only applies to deps add",
            ),
            (
                &["deps", "100", "--kind", "peer"],
                "--kind only applies to deps add",
            ),
            (&["deps", "--all"], "unknown option '--all' for deps"),
        ] {
            assert_eq!(usage_msg(args), want, "{args:?}");
        }
        assert!(usage().contains("\n  deps [ID] [--json]  "));
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
            assert_eq!(
                usage_msg(&args),
                format!("invalid --signal '{sig}': {refused}"),
                "{sig}"
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
                "--signal only applies to deps add",
            ),
            (
                &["deps", "100", "--signal", "USR1"],
                "--signal only applies to deps add",
            ),
            (
                &[
                    "deps", "add", "102", "100", "--kind", "optional", "--signal",
                ],
                "--signal needs a value",
            ),
        ] {
            assert_eq!(usage_msg(args), want, "{args:?}");
        }
        assert!(usage().contains("deps add DEPENDENT DEPENDENCY [--kind KIND] [--signal SIG]"));
    }

    #[test]
    fn policy_and_compliance_commands() {
        let call = |argv0: &str, args: &[&str]| {
            parse(OsStr::new(argv0), args.iter().map(OsString::from).collect())
        };
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
            Ok(Command::Compliance { json: false })
        );
        assert_eq!(
            call("compliance", &["--json"]),
            Ok(Command::Compliance { json: true })
        );
        assert_eq!(alias(OsStr::new("/sbin/asmpolicy")), Some("policy"));
        assert_eq!(alias(OsStr::new("compliance")), Some("compliance"));
        assert_eq!(usage_msg(&["policy"]), "policy needs an agent id");
        assert_eq!(
            usage_msg(&["compliance", "100"]),
            "unexpected argument '100' for compliance"
        );
        assert!(matches!(
            call("asmpolicy", &[]),
            Err(Error::Usage(m)) if m == "policy needs an agent id"
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
                    provider: Some("claude"),
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
                    provider: Some("gpt4"),
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
            ("claude", "claude"),
            ("gpt4", "gpt4"),
            ("GEMINI", "gemini"),
            ("local", "local"),
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
        assert_eq!(asmctl(&["llm", "--help"]), Ok(Command::Help));
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
                "invalid temperature '{t}' (expected 0 to 1, at most three decimals, e.g. 0.25)"
            )
        };
        for (args, want) in [
            (&["llm"][..], "llm needs a prompt".to_string()),
            (&["llm", ""], "llm needs a prompt".into()),
            (&["llm", "--json"], "llm needs a prompt".into()),
            (&["llm", "--"], "llm needs a prompt".into()),
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
                "unknown provider 'openai' (known: claude, gpt4, gemini, local)".into(),
            ),
            (
                &["llm", "x", "--provider", "gpt-4"],
                "unknown provider 'gpt-4' (known: claude, gpt4, gemini, local)".into(),
            ),
            (
                &["llm", "x", "--provider"],
                "--provider needs a value".into(),
            ),
            (
                &["llm", "x", "--max-tokens", "0"],
                "invalid value '0' for --max-tokens (expected 1 to 100000)".into(),
            ),
            (
                &["llm", "x", "--max-tokens", "100001"],
                "invalid value '100001' for --max-tokens (expected 1 to 100000)".into(),
            ),
            (
                &["llm", "x", "--max-tokens", "-5"],
                "invalid value '-5' for --max-tokens (expected 1 to 100000)".into(),
            ),
            (
                &["llm", "x", "--max-tokens", "1k"],
                "invalid value '1k' for --max-tokens (expected 1 to 100000)".into(),
            ),
            (
                &["llm", "x", "--timeout-ms", "0"],
                "invalid value '0' for --timeout-ms (expected 1 to 600000)".into(),
            ),
            (
                &["llm", "x", "--timeout-ms", "600001"],
                "invalid value '600001' for --timeout-ms (expected 1 to 600000)".into(),
            ),
            (
                &["llm", "x", "--timeout-ms=99999999999"],
                "invalid value '99999999999' for --timeout-ms (expected 1 to 600000)".into(),
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
                bad_temperature("-0.1"),
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
                "invalid temperature '0.2500': at most three decimals".into(),
            ),
            (
                &["llm", "x", "--temperature", "0.1234"],
                "invalid temperature '0.1234': at most three decimals".into(),
            ),
            (
                &["llm", "x", "--system", &long_system],
                "--system must be at most 8192 bytes long (8193 given)".into(),
            ),
            (&["llm", "x", "--json=yes"], "--json takes no value".into()),
            (
                &["llm", "x", "--agent", "5"],
                "unknown option '--agent' for llm".into(),
            ),
        ] {
            assert_eq!(usage_msg(args), want, "{args:?}");
        }
    }

    #[test]
    fn usage_lists_capabilities() {
        assert!(usage().contains("  llm PROMPT [--provider PROVIDER]"));
        assert!(usage().contains("--max-tokens is 1 to 100000"));
        assert!(usage().contains(
            "work too):\n  FsBasic, FsExtended, NetClient, NetServer, AudioControl, \
             LlmAccess, ProcessSpawn, Admin\n\n"
        ));
    }
}
