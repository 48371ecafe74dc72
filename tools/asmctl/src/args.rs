// SPDX-License-Identifier: GPL-2.0

//! The command line: which command the user asked for, the multi-call
//! aliases (`asmstatus`, `asmlist`, `asminfo`), and the usage text.
//!
//! Values are checked here too (a limit, a size, an action a fault cannot
//! take), so that a request that reaches the kernel is one it should accept.
//!
//! Everything a user can get wrong is checked here, before `/dev/asm` is
//! opened, so a typo never reaches the kernel.

use crate::error::Error;
use asm_abi::{
    action_allowed, parse_action, parse_capability, parse_preset, ASM_ACTION_DEFAULT,
    ASM_FAULT_CAPABILITY, ASM_FAULT_CPU_QUOTA, ASM_FAULT_CRASH, ASM_FAULT_MEMORY,
    ASM_FAULT_SYSCALL_FLOOD, ASM_FAULT_UNRESPONSIVE, ASM_ID_MAX, ASM_NAME_LEN, ASM_SCOPE_LEN,
    CAPABILITIES,
};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    /// Register this process, then exec `program` with `args`.
    Run {
        spec: AgentSpec,
        quiet: bool,
        program: OsString,
        args: Vec<OsString>,
    },
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
            | Command::Recovery { json, .. } => *json,
            _ => false,
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

Commands:
  status [--json]           system metrics and the last 10 events
  list [--all] [--json]     agents with live processes (--all: every agent)
  info ID [--json]          one agent in detail
  run --name NAME [--id ID] [--cap CAP]... [--scope PATH]
      [--auto-restart N] [--quiet] -- CMD [ARGS]...
                            register this process as an agent, then exec CMD
  register (--pid PID | --cgroup PATH) --name NAME [--id ID]
      [--cap CAP]... [--scope PATH] [--auto-restart N]
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
  help                      this text

Without --id the kernel allocates an id. --cap may be repeated or take a
comma-separated list. Capability names (any case; fs_basic and FS_BASIC
work too):
  {}

A limit N is a number, 'none' (no limit) or, for an agent, 'default' (follow
the defaults). SIZE is bytes, or a number with K, M or G (powers of 1024).
An action A is log, throttle (CPU quota and syscall flood only), kill,
restart or, for an agent, default. PRESET is default, permissive or strict.
",
        caps.join(", ")
    )
}

/// The command a multi-call name stands for, if `argv0` is one.
pub fn alias(argv0: &OsStr) -> Option<&'static str> {
    match Path::new(argv0).file_name()?.to_str()? {
        "asmstatus" => Some("status"),
        "asmlist" => Some("list"),
        "asminfo" => Some("info"),
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
                let (slot, max) = match name.as_str() {
                    "--cpu-quota-ms" => (&mut changes.cpu_quota_ms, u64::from(u32::MAX)),
                    "--mem" => (&mut changes.mem_limit_bytes, u64::MAX),
                    "--syscall-rate" => (&mut changes.syscall_rate, u64::from(u32::MAX)),
                    "--watchdog-ms" => (&mut changes.watchdog_ms, u64::from(u32::MAX)),
                    _ => return Err(args.unexpected(&arg)),
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

/// A limit: `none`, `default`, or a number below `max`, the field's "no
/// limit" value. 0 is refused: it means "default" for an agent and "none"
/// in the defaults, and the user should say which.
fn parse_limit(name: &str, text: &str, max: u64) -> Result<Limit, Error> {
    let value = match text {
        "none" => return Ok(Limit::Unlimited),
        "default" => return Ok(Limit::Default),
        _ if name == "--mem" => parse_size(text),
        _ => text.parse::<u64>().ok(),
    };
    match value {
        Some(v) if v > 0 && v < max => Ok(Limit::Value(v)),
        Some(0) => Err(usage_error(format!(
            "invalid value '0' for {name} (use none for no limit, or default)"
        ))),
        _ if name == "--mem" => Err(usage_error(format!(
            "invalid size '{text}' for --mem (expected bytes, or a number with K, M or G)"
        ))),
        _ => Err(usage_error(format!(
            "invalid value '{text}' for {name} (expected 1 to {}, none or default)",
            max - 1
        ))),
    }
}

/// A size in bytes: digits, optionally followed by K, M or G (any case,
/// powers of 1024). `None` if malformed or above `u64::MAX`.
pub fn parse_size(text: &str) -> Option<u64> {
    let (digits, shift) = match text.char_indices().last()? {
        (i, 'k' | 'K') => (&text[..i], 10),
        (i, 'm' | 'M') => (&text[..i], 20),
        (i, 'g' | 'G') => (&text[..i], 30),
        _ => (text, 0),
    };
    // u64::from_str would take a leading '+'; sizes are plain digits.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(1 << shift)
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
        })
    }
}

fn parse_run(args: &mut Args) -> Result<Command, Error> {
    let mut spec = SpecBuilder::default();
    let mut quiet = false;
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
    Ok(Command::Run {
        spec,
        quiet,
        program,
        args: args.rest.by_ref().collect(),
    })
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
            Ok(Command::Run {
                spec: AgentSpec {
                    name: "fs_monitor".into(),
                    id: 100,
                    capabilities: ASM_CAP_FS_BASIC | ASM_CAP_NET_CLIENT | ASM_CAP_LLM_ACCESS,
                    scope: "/tmp/ws/".into(),
                    auto_restart: 3,
                },
                quiet: true,
                program: "python3".into(),
                args: vec!["agent.py".into(), "--name".into(), "--".into()],
            })
        );
        // Without "--" the command starts at the first non-option.
        assert_eq!(
            asmctl(&["run", "--name", "a", "sleep", "-x"]),
            Ok(Command::Run {
                spec: spec("a"),
                quiet: false,
                program: "sleep".into(),
                args: vec!["-x".into()],
            })
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
    }

    #[test]
    fn sizes() {
        for (text, want) in [
            ("1", Some(1)),
            ("4096", Some(4096)),
            ("4k", Some(4096)),
            ("4K", Some(4096)),
            ("100M", Some(100 << 20)),
            ("2g", Some(2 << 30)),
            ("16777215G", Some(16777215 << 30)),
            ("17179869184G", None),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None),
            ("", None),
            ("M", None),
            ("1.5G", None),
            ("+4", None),
            ("-4", None),
            ("4T", None),
            ("4MB", None),
            ("4 M", None),
        ] {
            assert_eq!(parse_size(text), want, "{text}");
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
    fn usage_lists_capabilities() {
        assert!(usage().contains(
            "work too):\n  FsBasic, FsExtended, NetClient, NetServer, AudioControl, \
             LlmAccess, ProcessSpawn, Admin\n\n"
        ));
    }
}
