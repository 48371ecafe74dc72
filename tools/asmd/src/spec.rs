// SPDX-License-Identifier: GPL-2.0

//! Agent spec files: `DIR/*.toml`, one agent each.
//!
//! ```toml
//! id = 100
//! name = "crashy"
//! command = ["/bin/sh", "-c", "sleep 0.5; exit 3"]
//! # sh forks and execs sleep: without ProcessSpawn the module kills it.
//! capabilities = ["FsBasic", "ProcessSpawn"]  # default: none
//! scope = "/srv/agents/crashy"      # default: no scope
//! auto_restart = 3                  # default: 0
//! risk = "high"                     # minimal | limited | high; default: limited
//! user = "crashy"                   # name or uid; default: "nobody"
//! group = "agents"                  # name or gid; default: the user's primary group
//! llm_burst = 5                     # LLM token bucket: 1 to 10000; default: 30
//! llm_refill = 1                    # requests per second, 1 to 10000; default: 10
//! # Other specs of the directory, by name (a string) or id (an integer);
//! # a table gives the kind: required (the default), optional or peer,
//! # and an optional one the signal the agent gets when it ends.
//! depends_on = ["db", 102, { name = "cache", kind = "optional", signal = "SIGUSR1" }]
//! start_timeout = 30                # s to wait for the required ones; default: 30
//!
//! [limits]                          # default: follow the module's defaults
//! cpu_quota_ms = 200
//! mem = "64M"                       # bytes, or K/M/G, any case (powers of 1024)
//! syscall_rate = 1000
//! watchdog_ms = 1500                # each may also be "none"
//!
//! [recovery]                        # either a preset ...
//! preset = "strict"                 # default | permissive | strict
//! # ... or per-fault actions: cpu_quota, memory, syscall_flood, crash,
//! # capability_violation, unresponsive = "log"|"throttle"|"kill"|"restart"
//! ```
//!
//! Unknown keys are errors, so a typo cannot silently drop a limit. Every
//! value is checked here against the ABI's rules, so that a spec that passes
//! `asmd --check` is one the module accepts: `risk = "unacceptable"` is
//! rejected here, as the module would refuse the agent.
//!
//! `user` and `group` are resolved here too, through [`Accounts`], so that
//! an unknown user is a spec error and not a failed start. Without `user`
//! an agent runs as `nobody`: running one as root must be written down.
//!
//! `llm_burst` and `llm_refill` set the agent's LLM token bucket with an
//! `ASM_PATCH_SET_LLM_RATE` patch once it is registered; with only one of
//! them, the other is the module's default.
//!
//! `depends_on` is parsed here, entry by entry, a `signal` checked as the
//! module checks it (an optional entry only, one of `DEP_SIGNALS`); what
//! it names is checked against the other specs once every file is read
//! (`crate::depends`): another spec of the directory, named once, and no
//! cycle.

use asm_abi::{
    action_allowed, dep_kind_name, dep_signal_name, parse_dep_kind, parse_dep_signal, parse_preset,
    parse_risk, parse_size, risk_name, text_name, AsmFaultPolicy, AsmPatch, AsmRegister,
    ASM_ACTION_KILL, ASM_ACTION_LOG, ASM_ACTION_RESTART, ASM_ACTION_THROTTLE, ASM_DEP_OPTIONAL,
    ASM_DEP_REQUIRED, ASM_FAULT_CAPABILITY, ASM_FAULT_CPU_QUOTA, ASM_FAULT_CRASH, ASM_FAULT_MEMORY,
    ASM_FAULT_SYSCALL_FLOOD, ASM_FAULT_UNRESPONSIVE, ASM_FP_SET_ACTIONS, ASM_FP_SET_LIMITS,
    ASM_ID_MAX, ASM_LIMIT_NONE32, ASM_LIMIT_NONE64, ASM_LLM_BURST_DEFAULT, ASM_LLM_BURST_MAX,
    ASM_LLM_REFILL_DEFAULT, ASM_LLM_REFILL_MAX, ASM_NAME_LEN, ASM_PATCH_SET_LLM_RATE,
    ASM_PRESET_NONE, ASM_RISK_DEFAULT, ASM_RISK_LIMITED, ASM_RISK_UNACCEPTABLE, ASM_SCOPE_LEN,
    ASM_TARGET_CGROUP, CAPABILITIES, DEP_KINDS, DEP_SIGNALS, PRESET_NAMES,
};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};
use toml::Spanned;

/// An agent's limits as the ABI takes them: 0 follows the module's
/// defaults, `ASM_LIMIT_NONE32`/`ASM_LIMIT_NONE64` is no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    /// CPU time per one-second window, in ms.
    pub cpu_quota_ms: u32,
    /// Resident memory, in bytes.
    pub mem_limit_bytes: u64,
    /// System calls per second.
    pub syscall_rate: u32,
    /// Longest time between two heartbeats, in ms.
    pub watchdog_ms: u32,
}

/// An agent's recovery actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery {
    /// An `ASM_PRESET_*` value.
    Preset(u32),
    /// An `ASM_ACTION_*` per `ASM_FAULT_*` index; 0 follows the defaults.
    Actions([u8; 8]),
}

/// An agent's LLM token bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LlmRate {
    /// Its size, 1 to `ASM_LLM_BURST_MAX` requests.
    pub burst: u32,
    /// Requests added per second, 1 to `ASM_LLM_REFILL_MAX`.
    pub refill: u32,
}

/// One validated spec file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The file it came from.
    pub file: PathBuf,
    /// The agent id, 1 to `ASM_ID_MAX`.
    pub id: u32,
    /// 1 to 31 printable ASCII characters.
    pub name: String,
    /// Program and arguments; the program is searched in `PATH`.
    pub command: Vec<String>,
    /// `ASM_CAP_*` bits.
    pub capabilities: u64,
    /// Absolute path, or `None`.
    pub scope: Option<String>,
    /// Restart budget.
    pub auto_restart: u32,
    /// An `ASM_RISK_*` value: Minimal, Limited or High, or
    /// `ASM_RISK_DEFAULT` (taken as Limited) when the spec has no `risk`.
    pub risk_level: u32,
    /// `Some` when the spec sets at least one limit.
    pub limits: Option<Limits>,
    /// `Some` when the spec sets a preset or at least one action.
    pub recovery: Option<Recovery>,
    /// `Some` when the spec sets `llm_burst` or `llm_refill` (the other
    /// then has the module's default).
    pub llm_rate: Option<LlmRate>,
    /// Whom the agent runs as.
    pub run_as: RunAs,
    /// The `depends_on` entries, in the file's order.
    pub depends_on: Vec<Dependency>,
    /// How long the agent's start waits for its required dependencies to
    /// be Active, in seconds.
    pub start_timeout_s: u32,
}

/// How a `depends_on` entry names the other spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DepTarget {
    /// By its `name` (a string).
    Name(String),
    /// By its `id` (an integer).
    Id(u32),
}

impl fmt::Display for DepTarget {
    /// As the spec writes it: `"db"` or `102`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => write!(f, "{name:?}"),
            Self::Id(id) => write!(f, "{id}"),
        }
    }
}

/// One `depends_on` entry: the spec's agent depends on another one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// The other spec, as written.
    pub target: DepTarget,
    /// An `ASM_DEP_*` kind.
    pub kind: u32,
    /// An optional entry's signal for the agent when the other one ends
    /// (one of `DEP_SIGNALS`); 0 for none, and for the other kinds.
    pub signal: u32,
    /// The entry's line in the spec file.
    pub line: usize,
    /// The other spec's agent id: set by `depends::check` (0 until then
    /// for an entry by name).
    pub id: u32,
}

impl Dependency {
    /// `required`, `optional` or `peer`, as a spec writes them.
    pub fn kind_name(&self) -> String {
        text_name(dep_kind_name(self.kind).unwrap_or("?"))
    }

    /// The name of the entry's signal (`SIGUSR1`); `None` without one.
    pub fn signal_name(&self) -> Option<&'static str> {
        dep_signal_name(self.signal)
    }
}

/// The default of `start_timeout`, in seconds.
pub const START_TIMEOUT_DEFAULT_S: u32 = 30;
/// The largest `start_timeout`, in seconds.
pub const START_TIMEOUT_MAX_S: u32 = 3600;

/// The user and group an agent runs as, resolved when the spec is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    /// The uid; never `u32::MAX`, which set*id(2) take as "unchanged".
    pub uid: u32,
    /// The gid; never `u32::MAX`.
    pub gid: u32,
    /// How the log shows the user: `nobody (65534)`.
    pub user: String,
    /// How the log shows the group: `nogroup (65534)`, or
    /// `65534 (primary group of nobody)`.
    pub group: String,
}

/// `nobody`'s ids when the passwd database has no such user.
pub const NOBODY_ID: u32 = 65534;

/// The passwd and group databases, as the spec's `user` and `group` need
/// them (`sys::SystemAccounts` asks the C library; the tests use a table).
pub trait Accounts {
    /// uid and primary gid of user `name`.
    fn user_by_name(&self, name: &str) -> Result<Option<(u32, u32)>, String>;
    /// Name and primary gid of the user with `uid`.
    fn user_by_uid(&self, uid: u32) -> Result<Option<(String, u32)>, String>;
    /// gid of group `name`.
    fn group_by_name(&self, name: &str) -> Result<Option<u32>, String>;
}

/// `s` as a numeric id, if it is all digits: `Ok(None)` for a name.
/// `u32::MAX` is refused: set*id(2) take it as "leave unchanged", which
/// would leave the agent running as asmd's user, root.
fn numeric_id(s: &str, what: &str) -> Result<Option<u32>, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match s.parse::<u32>() {
        Ok(id) if id != u32::MAX => Ok(Some(id)),
        _ => Err(format!("{what} {s} is out of range 0..={}", u32::MAX - 1)),
    }
}

/// Resolves a spec's `user` and `group` (`None`: not in the spec). The
/// default user is `nobody`, or uid and gid 65534 where the passwd database
/// has no `nobody`; the default group is the user's primary group. An
/// unknown name, or a uid without a passwd entry and no `group`, is an
/// error naming the key.
pub fn resolve_run_as(
    user: Option<&str>,
    group: Option<&str>,
    accounts: &dyn Accounts,
) -> Result<RunAs, String> {
    let (uid, primary, user_label) = match user {
        None => match accounts.user_by_name("nobody")? {
            Some((uid, gid)) => (uid, Some(gid), format!("nobody ({uid}) (default)")),
            None => (
                NOBODY_ID,
                Some(NOBODY_ID),
                format!("{NOBODY_ID} (default; no user nobody)"),
            ),
        },
        Some(u) => match numeric_id(u, "user")? {
            Some(uid) => match accounts.user_by_uid(uid)? {
                Some((name, gid)) => (uid, Some(gid), format!("{name} ({uid})")),
                None => (uid, None, uid.to_string()),
            },
            None => match accounts.user_by_name(u)? {
                Some((uid, gid)) => (uid, Some(gid), format!("{u} ({uid})")),
                None => return Err(format!("user = {u:?}: no such user")),
            },
        },
    };
    if uid == u32::MAX {
        return Err(format!(
            "user = {:?}: uid {uid} cannot be used",
            user.unwrap_or("nobody")
        ));
    }
    let (gid, group_label) = match group {
        Some(g) => match numeric_id(g, "group")? {
            Some(gid) => (gid, gid.to_string()),
            None => match accounts.group_by_name(g)? {
                Some(gid) => (gid, format!("{g} ({gid})")),
                None => return Err(format!("group = {g:?}: no such group")),
            },
        },
        None => match primary {
            Some(gid) => (
                gid,
                format!("{gid} (primary group of {})", user.unwrap_or("nobody")),
            ),
            None => {
                return Err(format!(
                    "user = \"{uid}\" has no passwd entry, hence no primary group: \
                     add group = \"NAME-OR-GID\""
                ))
            }
        },
    };
    if gid == u32::MAX {
        return Err(format!("group: gid {gid} cannot be used"));
    }
    Ok(RunAs {
        uid,
        gid,
        user: user_label,
        group: group_label,
    })
}

/// Fault keys of `[recovery]`, in `ASM_FAULT_*` order.
const FAULT_KEYS: [(&str, u32); 6] = [
    ("cpu_quota", ASM_FAULT_CPU_QUOTA),
    ("memory", ASM_FAULT_MEMORY),
    ("syscall_flood", ASM_FAULT_SYSCALL_FLOOD),
    ("crash", ASM_FAULT_CRASH),
    ("capability_violation", ASM_FAULT_CAPABILITY),
    ("unresponsive", ASM_FAULT_UNRESPONSIVE),
];

/// Action names of `[recovery]` ("default" is left out: omit the key).
const ACTIONS: [(&str, u8); 4] = [
    ("log", ASM_ACTION_LOG),
    ("throttle", ASM_ACTION_THROTTLE),
    ("kill", ASM_ACTION_KILL),
    ("restart", ASM_ACTION_RESTART),
];

// ---------------------------------------------------------------------------
// The file as written. Each field's deserializer checks its value, so that
// toml reports the error with the value's position.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    #[serde(deserialize_with = "de_id")]
    id: u32,
    #[serde(deserialize_with = "de_name")]
    name: String,
    #[serde(deserialize_with = "de_command")]
    command: Vec<String>,
    #[serde(default, deserialize_with = "de_capabilities")]
    capabilities: u64,
    #[serde(default, deserialize_with = "de_scope")]
    scope: Option<String>,
    #[serde(default, deserialize_with = "de_auto_restart")]
    auto_restart: u32,
    #[serde(default = "default_risk", deserialize_with = "de_risk")]
    risk: u32,
    #[serde(default)]
    limits: Option<RawLimits>,
    #[serde(default)]
    recovery: Option<RawRecovery>,
    #[serde(default)]
    user: Option<Spanned<String>>,
    #[serde(default)]
    group: Option<Spanned<String>>,
    #[serde(default, deserialize_with = "de_llm_burst")]
    llm_burst: Option<u32>,
    #[serde(default, deserialize_with = "de_llm_refill")]
    llm_refill: Option<u32>,
    #[serde(default)]
    depends_on: Vec<Spanned<RawDep>>,
    #[serde(
        default = "default_start_timeout",
        deserialize_with = "de_start_timeout"
    )]
    start_timeout: u32,
}

/// One `depends_on` entry as written: `"name"`, `id`, or a table
/// `{ name = "name" | id = id, kind = "required" | "optional" | "peer",
/// signal = "SIGUSR1" | "USR1" | 10 }` (a signal with kind optional only).
#[derive(Debug)]
struct RawDep {
    target: DepTarget,
    kind: u32,
    signal: u32,
}

impl<'de> Deserialize<'de> for RawDep {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawDep;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a spec's name (a string), its id (an integer), \
                     or a table { name = ... or id = ..., kind = ... }",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawDep, E> {
                Ok(RawDep {
                    target: DepTarget::Name(v.to_owned()),
                    kind: ASM_DEP_REQUIRED,
                    signal: 0,
                })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawDep, E> {
                Ok(RawDep {
                    target: DepTarget::Id(dep_id(v).map_err(E::custom)?),
                    kind: ASM_DEP_REQUIRED,
                    signal: 0,
                })
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawDep, E> {
                self.visit_i64(i64::try_from(v).unwrap_or(i64::MAX))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<RawDep, A::Error> {
                const KEYS: &[&str] = &["name", "id", "kind", "signal"];
                let mut target = None;
                let mut kind = None;
                let mut signal = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "name" | "id" => {
                            let t = if key == "name" {
                                DepTarget::Name(map.next_value::<String>()?)
                            } else {
                                DepTarget::Id(
                                    dep_id(map.next_value::<i64>()?).map_err(de::Error::custom)?,
                                )
                            };
                            if target.replace(t).is_some() {
                                return Err(de::Error::custom(
                                    "a depends_on table takes name or id, not both",
                                ));
                            }
                        }
                        "kind" => {
                            let s = map.next_value::<String>()?;
                            kind = Some(parse_dep_kind_key(&s).map_err(de::Error::custom)?);
                        }
                        "signal" => signal = Some(map.next_value::<DepSignal>()?.0),
                        other => return Err(de::Error::unknown_field(other, KEYS)),
                    }
                }
                let target = target.ok_or_else(|| {
                    de::Error::custom("a depends_on table needs name = \"...\" or id = ...")
                })?;
                let kind = kind.unwrap_or(ASM_DEP_REQUIRED);
                // The module refuses it on the other kinds (EINVAL): an
                // agent stopped with its dependency has nothing to catch.
                if signal.is_some() && kind != ASM_DEP_OPTIONAL {
                    return Err(de::Error::custom(
                        "a depends_on signal only applies to kind = \"optional\"",
                    ));
                }
                Ok(RawDep {
                    target,
                    kind,
                    signal: signal.unwrap_or(0),
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// A `depends_on` entry's `signal`, as asmctl's `--signal` takes it: a
/// name with or without `SIG` (any case) or the number, as a string or an
/// integer; only the signals the module lets an edge send.
struct DepSignal(u32);

impl<'de> Deserialize<'de> for DepSignal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DepSignal;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a signal's name (\"SIGUSR1\") or number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DepSignal, E> {
                parse_dep_signal(v)
                    .map(DepSignal)
                    .ok_or_else(|| E::custom(bad_signal(&format!("{v:?}"))))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DepSignal, E> {
                u32::try_from(v)
                    .ok()
                    .filter(|&n| dep_signal_name(n).is_some())
                    .map(DepSignal)
                    .ok_or_else(|| E::custom(bad_signal(&v.to_string())))
            }
        }
        d.deserialize_any(V)
    }
}

/// The error for a `signal` value (as written) no edge may send.
fn bad_signal(written: &str) -> String {
    let known: Vec<&str> = DEP_SIGNALS.iter().map(|(_, n)| *n).collect();
    format!(
        "depends_on signal {written} is not one a dependency's end sends (known: {}, with or \
         without SIG, or their numbers)",
        known.join(", ")
    )
}

/// A `depends_on` id: 1 to `ASM_ID_MAX`, as a spec's own `id`.
fn dep_id(id: i64) -> Result<u32, String> {
    u32::try_from(id)
        .ok()
        .filter(|id| (1..=ASM_ID_MAX).contains(id))
        .ok_or_else(|| format!("depends_on id {id} is out of range 1..={ASM_ID_MAX}"))
}

/// The `ASM_DEP_*` kind of `kind = "s"` (any case).
fn parse_dep_kind_key(s: &str) -> Result<u32, String> {
    parse_dep_kind(s).ok_or_else(|| {
        let known: Vec<String> = DEP_KINDS.iter().map(|(_, n)| text_name(n)).collect();
        format!(
            "unknown dependency kind {s:?} (known: {})",
            known.join(", ")
        )
    })
}

fn default_start_timeout() -> u32 {
    START_TIMEOUT_DEFAULT_S
}

fn de_start_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let v = RawValue::deserialize(d)?;
    match v {
        RawValue::Str(s) => Err(format!("start_timeout {s:?} is not a number of seconds")),
        RawValue::Int(n) => u32::try_from(n)
            .ok()
            .filter(|n| (1..=START_TIMEOUT_MAX_S).contains(n))
            .ok_or_else(|| {
                format!("start_timeout {n} is out of range 1..={START_TIMEOUT_MAX_S} (seconds)")
            }),
    }
    .map_err(de::Error::custom)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    #[serde(default, deserialize_with = "de_limit32")]
    cpu_quota_ms: Option<u32>,
    #[serde(default, deserialize_with = "de_mem")]
    mem: Option<u64>,
    #[serde(default, deserialize_with = "de_limit32")]
    syscall_rate: Option<u32>,
    #[serde(default, deserialize_with = "de_limit32")]
    watchdog_ms: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecovery {
    #[serde(default, deserialize_with = "de_preset")]
    preset: Option<u32>,
    #[serde(default, deserialize_with = "de_windowed_action")]
    cpu_quota: Option<u8>,
    #[serde(default, deserialize_with = "de_action")]
    memory: Option<u8>,
    #[serde(default, deserialize_with = "de_windowed_action")]
    syscall_flood: Option<u8>,
    #[serde(default, deserialize_with = "de_action")]
    crash: Option<u8>,
    #[serde(default, deserialize_with = "de_action")]
    capability_violation: Option<u8>,
    #[serde(default, deserialize_with = "de_action")]
    unresponsive: Option<u8>,
}

fn de_id<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let id = i64::deserialize(d)?;
    u32::try_from(id)
        .ok()
        .filter(|id| (1..=ASM_ID_MAX).contains(id))
        .ok_or_else(|| de::Error::custom(format!("id {id} is out of range 1..={ASM_ID_MAX}")))
}

fn de_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let name = String::deserialize(d)?;
    check_name(&name).map_err(de::Error::custom)?;
    Ok(name)
}

/// The kernel's rule for names: 1 to `ASM_NAME_LEN - 1` printable ASCII.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() >= ASM_NAME_LEN {
        return Err(format!(
            "name must have 1 to {} characters, not {}",
            ASM_NAME_LEN - 1,
            name.len()
        ));
    }
    if !name.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(format!(
            "name {name:?} has a character that is not printable ASCII"
        ));
    }
    Ok(())
}

fn de_command<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let command = Vec::<String>::deserialize(d)?;
    match command.first() {
        None => return Err(de::Error::custom("command must not be empty")),
        Some(prog) if prog.is_empty() => {
            return Err(de::Error::custom("command's program must not be empty"))
        }
        _ => {}
    }
    if command.iter().any(|a| a.contains('\0')) {
        return Err(de::Error::custom("command has a NUL character"));
    }
    Ok(command)
}

fn de_capabilities<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let names = Vec::<String>::deserialize(d)?;
    let mut bits = 0;
    for name in &names {
        let cap = CAPABILITIES
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = CAPABILITIES.iter().map(|c| c.name).collect();
                de::Error::custom(format!(
                    "unknown capability {name:?} (known: {})",
                    known.join(", ")
                ))
            })?;
        bits |= cap.bit;
    }
    Ok(bits)
}

fn de_scope<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let scope = String::deserialize(d)?;
    if !scope.starts_with('/') {
        return Err(de::Error::custom(format!(
            "scope {scope:?} is not an absolute path"
        )));
    }
    if scope.len() >= ASM_SCOPE_LEN || scope.contains('\0') {
        return Err(de::Error::custom(format!(
            "scope must be at most {} bytes without NUL",
            ASM_SCOPE_LEN - 1
        )));
    }
    Ok(Some(scope))
}

fn de_auto_restart<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = i64::deserialize(d)?;
    u32::try_from(n).map_err(|_| {
        de::Error::custom(format!("auto_restart {n} is out of range 0..={}", u32::MAX))
    })
}

fn default_risk() -> u32 {
    ASM_RISK_DEFAULT
}

fn de_risk<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let s = String::deserialize(d)?;
    parse_risk_key(&s).map_err(de::Error::custom)
}

/// The `ASM_RISK_*` value of `risk = "s"` (any case). Unacceptable is an
/// error: the module refuses such an agent.
fn parse_risk_key(s: &str) -> Result<u32, String> {
    match parse_risk(s) {
        Some(ASM_RISK_UNACCEPTABLE) => Err(
            "risk = \"unacceptable\" is prohibited: such an agent is never registered".to_owned(),
        ),
        Some(risk) => Ok(risk),
        None => Err(format!(
            "unknown risk level {s:?} (known: minimal, limited, high)"
        )),
    }
}

/// A limit value as written: an integer or a string.
enum RawValue {
    Int(i64),
    Str(String),
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a positive integer or a string")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawValue, E> {
                Ok(RawValue::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawValue, E> {
                i64::try_from(v)
                    .map(RawValue::Int)
                    .map_err(|_| E::custom(format!("{v} is too large")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawValue, E> {
                Ok(RawValue::Str(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

fn de_limit32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let v = RawValue::deserialize(d)?;
    parse_limit32(&v).map(Some).map_err(de::Error::custom)
}

fn parse_limit32(v: &RawValue) -> Result<u32, String> {
    match v {
        RawValue::Str(s) if s == "none" => Ok(ASM_LIMIT_NONE32),
        RawValue::Str(s) => Err(format!("{s:?} is not a number or \"none\"")),
        RawValue::Int(n) => u32::try_from(*n)
            .ok()
            .filter(|n| *n > 0 && *n < ASM_LIMIT_NONE32)
            .ok_or_else(|| {
                format!(
                    "{n} is out of range 1..={} (leave the key out for the default, \
                     or say \"none\")",
                    ASM_LIMIT_NONE32 - 1
                )
            }),
    }
}

fn de_llm_burst<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let v = RawValue::deserialize(d)?;
    parse_llm_rate("llm_burst", &v, ASM_LLM_BURST_MAX)
        .map(Some)
        .map_err(de::Error::custom)
}

fn de_llm_refill<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let v = RawValue::deserialize(d)?;
    parse_llm_rate("llm_refill", &v, ASM_LLM_REFILL_MAX)
        .map(Some)
        .map_err(de::Error::custom)
}

/// `llm_burst` or `llm_refill` (`key`): an integer from 1 to `max`, the
/// bound the module checks too. There is no "none": the bucket always
/// limits.
fn parse_llm_rate(key: &str, v: &RawValue, max: u32) -> Result<u32, String> {
    match v {
        RawValue::Str(s) => Err(format!("{key} {s:?} is not a number")),
        RawValue::Int(n) => u32::try_from(*n)
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                format!(
                    "{key} {n} is out of range 1..={max} \
                     (leave the key out for the module's default)"
                )
            }),
    }
}

fn de_mem<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v = RawValue::deserialize(d)?;
    let bytes = match v {
        RawValue::Str(s) if s == "none" => return Ok(Some(ASM_LIMIT_NONE64)),
        RawValue::Str(s) => parse_size(&s).map_err(|e| format!("{s:?} is {e}")),
        RawValue::Int(n) => u64::try_from(n).map_err(|_| format!("{n} is negative")),
    }
    .map_err(de::Error::custom)?;
    if bytes == 0 || bytes == ASM_LIMIT_NONE64 {
        return Err(de::Error::custom(
            "mem must be more than 0 bytes (leave the key out for the default, or say \"none\")",
        ));
    }
    Ok(Some(bytes))
}

fn de_preset<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let s = String::deserialize(d)?;
    parse_preset(&s).map(Some).ok_or_else(|| {
        de::Error::custom(format!(
            "unknown preset {s:?} (known: {})",
            PRESET_NAMES[1..].join(", ")
        ))
    })
}

fn parse_action(s: &str, windowed: bool) -> Result<u8, String> {
    let names: Vec<&str> = ACTIONS.iter().map(|(n, _)| *n).collect();
    let (_, action) = ACTIONS
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(s))
        .ok_or_else(|| format!("unknown action {s:?} (known: {})", names.join(", ")))?;
    // Any fault that is counted per window may be throttled; the rule is
    // asm_abi's, looked up for one such fault and one other.
    let fault = if windowed {
        ASM_FAULT_CPU_QUOTA
    } else {
        ASM_FAULT_CRASH
    };
    if !action_allowed(fault, *action) {
        return Err(format!(
            "action {s:?} is only for cpu_quota and syscall_flood"
        ));
    }
    Ok(*action)
}

fn de_windowed_action<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    let s = String::deserialize(d)?;
    parse_action(&s, true).map(Some).map_err(de::Error::custom)
}

fn de_action<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    let s = String::deserialize(d)?;
    parse_action(&s, false).map(Some).map_err(de::Error::custom)
}

// ---------------------------------------------------------------------------

/// Line number (from 1) of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    let at = at.min(text.len());
    text.as_bytes()[..at]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Parses and checks the spec in `text`, read from `file`, resolving its
/// `user` and `group` through `accounts`. The error names the file, the
/// line when there is one, and the key or value.
pub fn parse(text: &str, file: &Path, accounts: &dyn Accounts) -> Result<Spec, String> {
    let raw: RawSpec = toml::from_str(text).map_err(|e| {
        // A missing key has no position of its own.
        match e.span() {
            Some(span) if !e.message().starts_with("missing field") => {
                format!(
                    "{}:{}: {}",
                    file.display(),
                    line_of(text, span.start),
                    e.message()
                )
            }
            _ => format!("{}: {}", file.display(), e.message()),
        }
    })?;

    let limits = raw.limits.and_then(|l| {
        let set = l.cpu_quota_ms.is_some()
            || l.mem.is_some()
            || l.syscall_rate.is_some()
            || l.watchdog_ms.is_some();
        set.then(|| Limits {
            cpu_quota_ms: l.cpu_quota_ms.unwrap_or(0),
            mem_limit_bytes: l.mem.unwrap_or(0),
            syscall_rate: l.syscall_rate.unwrap_or(0),
            watchdog_ms: l.watchdog_ms.unwrap_or(0),
        })
    });

    let recovery = match raw.recovery {
        None => None,
        Some(r) => {
            let per_fault = [
                r.cpu_quota,
                r.memory,
                r.syscall_flood,
                r.crash,
                r.capability_violation,
                r.unresponsive,
            ];
            let any = per_fault.iter().any(Option::is_some);
            match r.preset {
                Some(_) if any => {
                    return Err(format!(
                        "{}: [recovery]: preset cannot be combined with per-fault actions",
                        file.display()
                    ))
                }
                Some(preset) => Some(Recovery::Preset(preset)),
                None if any => {
                    let mut actions = [0u8; 8];
                    for ((_, fault), action) in FAULT_KEYS.iter().zip(per_fault) {
                        actions[*fault as usize] = action.unwrap_or(0);
                    }
                    Some(Recovery::Actions(actions))
                }
                None => None,
            }
        }
    };

    // The error is about the key that named what could not be found: the
    // group when it is the group, else the user.
    let run_as = resolve_run_as(
        raw.user.as_ref().map(|u| u.get_ref().as_str()),
        raw.group.as_ref().map(|g| g.get_ref().as_str()),
        accounts,
    )
    .map_err(|e| {
        let key = if e.starts_with("group") {
            raw.group.as_ref()
        } else {
            raw.user.as_ref()
        };
        match key {
            Some(k) => format!("{}:{}: {e}", file.display(), line_of(text, k.span().start)),
            None => format!("{}: {e}", file.display()),
        }
    })?;

    let llm_rate = match (raw.llm_burst, raw.llm_refill) {
        (None, None) => None,
        (burst, refill) => Some(LlmRate {
            burst: burst.unwrap_or(ASM_LLM_BURST_DEFAULT),
            refill: refill.unwrap_or(ASM_LLM_REFILL_DEFAULT),
        }),
    };

    let depends_on = raw
        .depends_on
        .into_iter()
        .map(|dep| {
            let line = line_of(text, dep.span().start);
            let RawDep {
                target,
                kind,
                signal,
            } = dep.into_inner();
            let id = match target {
                DepTarget::Id(id) => id,
                DepTarget::Name(_) => 0,
            };
            Dependency {
                target,
                kind,
                signal,
                line,
                id,
            }
        })
        .collect();

    Ok(Spec {
        file: file.to_owned(),
        id: raw.id,
        name: raw.name,
        command: raw.command,
        capabilities: raw.capabilities,
        scope: raw.scope,
        auto_restart: raw.auto_restart,
        risk_level: raw.risk,
        limits,
        recovery,
        llm_rate,
        run_as,
        depends_on,
        start_timeout_s: raw.start_timeout,
    })
}

/// Reads every `*.toml` in `dir` (by file name; hidden files are skipped),
/// checks each, and checks that no two use the same id. Returns the specs,
/// or every error found.
pub fn load_dir(dir: &Path, accounts: &dyn Accounts) -> Result<Vec<Spec>, Vec<String>> {
    let io_err = |path: &Path, e: std::io::Error| {
        format!("{}: {}", path.display(), crate::sys::Errno::from_io(&e))
    };
    let entries = std::fs::read_dir(dir).map_err(|e| vec![io_err(dir, e)])?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| vec![io_err(dir, e)])?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || !name.ends_with(".toml") {
            continue;
        }
        files.push(entry.path());
    }
    files.sort();
    if files.is_empty() {
        return Err(vec![format!("{}: no *.toml spec files", dir.display())]);
    }

    let mut specs = Vec::new();
    let mut errors = Vec::new();
    for path in files {
        match std::fs::read_to_string(&path) {
            Ok(text) => match parse(&text, &path, accounts) {
                Ok(spec) => specs.push(spec),
                Err(e) => errors.push(e),
            },
            Err(e) => errors.push(io_err(&path, e)),
        }
    }
    errors.extend(duplicate_ids(&specs));
    // What depends_on names is looked up among the specs: only once every
    // file was read, so that a broken file is not also "unknown".
    if errors.is_empty() {
        errors.extend(crate::depends::check(&mut specs));
    }
    if errors.is_empty() {
        Ok(specs)
    } else {
        Err(errors)
    }
}

/// An error for every spec whose id an earlier one already uses.
pub fn duplicate_ids(specs: &[Spec]) -> Vec<String> {
    let mut seen: BTreeMap<u32, &Path> = BTreeMap::new();
    let mut errors = Vec::new();
    for spec in specs {
        if let Some(first) = seen.get(&spec.id) {
            errors.push(format!(
                "{}: id {} is already used by {}",
                spec.file.display(),
                spec.id,
                first.display()
            ));
        } else {
            seen.insert(spec.id, &spec.file);
        }
    }
    errors
}

impl Spec {
    /// `agent 100 (crashy)`, how the log names the agent.
    pub fn label(&self) -> String {
        format!("agent {} ({})", self.id, self.name)
    }

    /// The `ASM_IOC_REGISTER` request for this agent's cgroup, open as
    /// `cgroup_fd`.
    pub fn register_request(&self, cgroup_fd: i32) -> AsmRegister {
        let mut req = AsmRegister::new();
        req.agent_id = self.id;
        req.target = ASM_TARGET_CGROUP;
        req.cgroup_fd = cgroup_fd;
        req.capabilities = self.capabilities;
        req.auto_restart = self.auto_restart;
        req.risk_level = self.risk_level;
        // Both were checked against the same bounds when parsed.
        let _ = req.set_name(self.name.as_bytes());
        let _ = req.set_scope(self.scope.as_deref().unwrap_or("").as_bytes());
        req
    }

    /// The `ASM_IOC_SET_FAULT_POLICY` request, if the spec sets limits or
    /// actions.
    pub fn fault_policy(&self) -> Option<AsmFaultPolicy> {
        let mut p = AsmFaultPolicy::new(self.id, 0);
        if let Some(l) = self.limits {
            p.flags |= ASM_FP_SET_LIMITS;
            p.cpu_quota_ms = l.cpu_quota_ms;
            p.mem_limit_bytes = l.mem_limit_bytes;
            p.syscall_rate = l.syscall_rate;
            p.watchdog_ms = l.watchdog_ms;
        }
        match self.recovery {
            Some(Recovery::Preset(preset)) => {
                p.flags |= ASM_FP_SET_ACTIONS;
                p.preset = preset;
            }
            Some(Recovery::Actions(actions)) => {
                p.flags |= ASM_FP_SET_ACTIONS;
                p.preset = ASM_PRESET_NONE;
                p.actions = actions;
            }
            None => {}
        }
        (p.flags != 0).then_some(p)
    }

    /// The `ASM_IOC_PATCH_POLICY` request that sets the agent's LLM token
    /// bucket, if the spec sets it.
    pub fn llm_rate_patch(&self) -> Option<AsmPatch> {
        self.llm_rate.map(|rate| {
            let mut p = AsmPatch::new(self.id, ASM_PATCH_SET_LLM_RATE);
            p.llm_burst = rate.burst;
            p.llm_refill = rate.refill;
            p
        })
    }

    /// One line for `asmd --check`.
    pub fn summary(&self) -> String {
        let mut s = format!("{}: {}: command", self.label(), self.file.display());
        for arg in &self.command {
            let _ = write!(s, " {}", shell_quote(arg));
        }
        let caps: Vec<&str> = CAPABILITIES
            .iter()
            .filter(|c| self.capabilities & c.bit != 0)
            .map(|c| c.name)
            .collect();
        let caps = if caps.is_empty() {
            "none".to_owned()
        } else {
            caps.join(",")
        };
        let risk = match self.risk_level {
            ASM_RISK_DEFAULT => format!(
                "{} (default)",
                risk_name(ASM_RISK_LIMITED).unwrap_or("Limited")
            ),
            r => risk_name(r).unwrap_or("?").to_owned(),
        };
        let _ = write!(
            s,
            "; capabilities {caps}; scope {}; auto_restart {}; risk {risk}; user {}; group {}",
            self.scope.as_deref().unwrap_or("none"),
            self.auto_restart,
            self.run_as.user,
            self.run_as.group
        );
        match self.limits {
            None => s.push_str("; limits default"),
            Some(l) => {
                let n32 = |v: u32| match v {
                    0 => "default".to_owned(),
                    ASM_LIMIT_NONE32 => "none".to_owned(),
                    v => v.to_string(),
                };
                let mem = match l.mem_limit_bytes {
                    0 => "default".to_owned(),
                    ASM_LIMIT_NONE64 => "none".to_owned(),
                    v => v.to_string(),
                };
                let _ = write!(
                    s,
                    "; limits cpu_quota_ms={} mem={} syscall_rate={} watchdog_ms={}",
                    n32(l.cpu_quota_ms),
                    mem,
                    n32(l.syscall_rate),
                    n32(l.watchdog_ms)
                );
            }
        }
        match self.llm_rate {
            None => s.push_str("; llm default"),
            Some(r) => {
                let _ = write!(s, "; llm burst {} refill {}/s", r.burst, r.refill);
            }
        }
        match self.recovery {
            None => s.push_str("; recovery default"),
            Some(Recovery::Preset(p)) => {
                let name = PRESET_NAMES.get(p as usize).copied().unwrap_or("?");
                let _ = write!(s, "; recovery preset {name}");
            }
            Some(Recovery::Actions(actions)) => {
                s.push_str("; recovery");
                for (key, fault) in FAULT_KEYS {
                    let a = actions[fault as usize];
                    let name = ACTIONS
                        .iter()
                        .find(|(_, v)| *v == a)
                        .map_or("default", |(n, _)| *n);
                    let _ = write!(s, " {key}={name}");
                }
            }
        }
        if !self.depends_on.is_empty() {
            s.push_str("; depends_on");
            for (i, dep) in self.depends_on.iter().enumerate() {
                let sep = if i == 0 { " " } else { ", " };
                let _ = write!(s, "{sep}{} {}", dep.target, dep.kind_name());
                if let Some(signal) = dep.signal_name() {
                    let _ = write!(s, " ({signal})");
                }
            }
            let _ = write!(s, "; start_timeout {} s", self.start_timeout_s);
        }
        s
    }
}

/// `arg` as a shell would need it quoted (for display only).
fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Specs for other modules' tests.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// Every name resolves to nobody: the specs here have no `user`.
    pub(crate) struct Nobody;

    impl Accounts for Nobody {
        fn user_by_name(&self, _: &str) -> Result<Option<(u32, u32)>, String> {
            Ok(Some((65534, 65534)))
        }
        fn user_by_uid(&self, _: u32) -> Result<Option<(String, u32)>, String> {
            Ok(None)
        }
        fn group_by_name(&self, _: &str) -> Result<Option<u32>, String> {
            Ok(None)
        }
    }

    /// Spec `d/<name>.toml` with agent `id`, the `depends_on` value `deps`
    /// ("" for none), then the lines `more` (tables).
    pub(crate) fn spec_with(id: u32, name: &str, deps: &str, more: &str) -> Spec {
        let mut text = format!("id = {id}\nname = \"{name}\"\ncommand = [\"true\"]\n");
        if !deps.is_empty() {
            let _ = writeln!(text, "depends_on = {deps}");
        }
        text.push_str(more);
        parse(&text, Path::new(&format!("d/{name}.toml")), &Nobody).unwrap()
    }

    /// Spec `d/<name>.toml` with agent `id` and the `depends_on` value
    /// `deps` ("" for none).
    pub(crate) fn spec(id: u32, name: &str, deps: &str) -> Spec {
        spec_with(id, name, deps, "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use asm_abi::{
        ASM_CAP_FS_BASIC, ASM_CAP_LLM_ACCESS, ASM_CAP_PROCESS_SPAWN, ASM_PRESET_STRICT,
        ASM_RISK_HIGH, ASM_RISK_MINIMAL,
    };

    /// A passwd and group database of a few entries.
    struct Table;

    impl Accounts for Table {
        fn user_by_name(&self, name: &str) -> Result<Option<(u32, u32)>, String> {
            Ok(match name {
                "root" => Some((0, 0)),
                "nobody" => Some((65534, 65534)),
                "agent" => Some((1001, 1002)),
                _ => None,
            })
        }
        fn user_by_uid(&self, uid: u32) -> Result<Option<(String, u32)>, String> {
            Ok(match uid {
                0 => Some(("root".into(), 0)),
                1001 => Some(("agent".into(), 1002)),
                _ => None,
            })
        }
        fn group_by_name(&self, name: &str) -> Result<Option<u32>, String> {
            Ok(match name {
                "root" => Some(0),
                "agents" => Some(2000),
                "4242" => Some(7),
                _ => None,
            })
        }
    }

    /// A system without a `nobody` user.
    struct NoNobody;

    impl Accounts for NoNobody {
        fn user_by_name(&self, _: &str) -> Result<Option<(u32, u32)>, String> {
            Ok(None)
        }
        fn user_by_uid(&self, _: u32) -> Result<Option<(String, u32)>, String> {
            Ok(None)
        }
        fn group_by_name(&self, _: &str) -> Result<Option<u32>, String> {
            Ok(None)
        }
    }

    fn p(text: &str) -> Result<Spec, String> {
        parse(text, Path::new("specs/a.toml"), &Table)
    }

    fn ids(s: &Spec) -> (u32, u32) {
        (s.run_as.uid, s.run_as.gid)
    }

    #[test]
    fn run_as_defaults_to_nobody() {
        let s = p("id = 1\nname = \"a\"\ncommand = [\"true\"]\n").unwrap();
        assert_eq!(ids(&s), (65534, 65534));
        assert!(
            s.summary()
                .contains("; user nobody (65534) (default); group 65534 (primary group of nobody)"),
            "{}",
            s.summary()
        );
        let s = parse(
            "id = 1\nname = \"a\"\ncommand = [\"true\"]\n",
            Path::new("a.toml"),
            &NoNobody,
        )
        .unwrap();
        assert_eq!(ids(&s), (NOBODY_ID, NOBODY_ID));
        // A group alone keeps the default user.
        let s = p("id = 1\nname = \"a\"\ncommand = [\"true\"]\ngroup = \"agents\"\n").unwrap();
        assert_eq!(ids(&s), (65534, 2000));
    }

    #[test]
    fn run_as_names_and_numbers() {
        let with = |kv: &str| {
            p(&format!(
                "id = 1\nname = \"a\"\ncommand = [\"true\"]\n{kv}\n"
            ))
        };
        assert_eq!(ids(&with("user = \"root\"").unwrap()), (0, 0));
        assert_eq!(ids(&with("user = \"0\"").unwrap()), (0, 0));
        assert_eq!(ids(&with("user = \"agent\"").unwrap()), (1001, 1002));
        assert_eq!(ids(&with("user = \"1001\"").unwrap()), (1001, 1002));
        assert_eq!(
            ids(&with("user = \"agent\"\ngroup = \"agents\"").unwrap()),
            (1001, 2000)
        );
        assert_eq!(
            ids(&with("user = \"agent\"\ngroup = \"0\"").unwrap()),
            (1001, 0)
        );
        // All digits is an id, even where a group has that name.
        assert_eq!(
            ids(&with("user = \"4242\"\ngroup = \"4242\"").unwrap()),
            (4242, 4242)
        );
        let s = with("user = \"root\"\ngroup = \"root\"").unwrap();
        assert!(
            s.summary().contains("; user root (0); group root (0)"),
            "{}",
            s.summary()
        );
    }

    #[test]
    fn run_as_errors_name_the_key() {
        let with = |kv: &str| {
            p(&format!(
                "id = 1\nname = \"a\"\ncommand = [\"true\"]\n{kv}\n"
            ))
        };
        assert_eq!(
            with("user = \"mallory\"").unwrap_err(),
            "specs/a.toml:4: user = \"mallory\": no such user"
        );
        assert_eq!(
            with("user = \"agent\"\ngroup = \"wheel\"").unwrap_err(),
            "specs/a.toml:5: group = \"wheel\": no such group"
        );
        let e = with("user = \"4242\"").unwrap_err();
        assert!(
            e.starts_with("specs/a.toml:4: user = \"4242\" has no passwd entry"),
            "{e}"
        );
        assert!(e.contains("add group ="), "{e}");
        // -1 would leave the ids unchanged: root.
        let e = with("user = \"4294967295\"\ngroup = \"1\"").unwrap_err();
        assert!(e.contains("user 4294967295 is out of range"), "{e}");
        let e = with("user = \"agent\"\ngroup = \"4294967295\"").unwrap_err();
        assert!(
            e.starts_with("specs/a.toml:5: group 4294967295 is out of range"),
            "{e}"
        );
        let e = with("user = \"99999999999\"").unwrap_err();
        assert!(e.contains("out of range"), "{e}");
        for bad in ["user = 0", "user = \"\"", "group = []"] {
            let e = with(bad).unwrap_err();
            assert!(e.starts_with("specs/a.toml:4: "), "{bad}: {e}");
        }
        let e = p("id = 1\nname = \"a\"\ncommand = [\"true\"]\nuser = \"\"\n").unwrap_err();
        assert!(e.contains("no such user"), "{e}");
    }

    const GOOD: &str = r#"
id = 100
name = "crashy"
command = ["/bin/sh", "-c", "sleep 0.5; exit 3"]
capabilities = ["FsBasic", "LlmAccess", "ProcessSpawn"]
scope = "/srv/agents"
auto_restart = 3
risk = "high"

[limits]
mem = "64M"
watchdog_ms = 1500
syscall_rate = "none"

[recovery]
crash = "restart"
cpu_quota = "throttle"
"#;

    #[test]
    fn good_spec() {
        let s = p(GOOD).unwrap();
        assert_eq!(s.id, 100);
        assert_eq!(s.name, "crashy");
        assert_eq!(s.command, ["/bin/sh", "-c", "sleep 0.5; exit 3"]);
        assert_eq!(
            s.capabilities,
            ASM_CAP_FS_BASIC | ASM_CAP_LLM_ACCESS | ASM_CAP_PROCESS_SPAWN
        );
        assert_eq!(s.scope.as_deref(), Some("/srv/agents"));
        assert_eq!(s.auto_restart, 3);
        assert_eq!(s.risk_level, ASM_RISK_HIGH);
        assert_eq!(
            s.limits,
            Some(Limits {
                cpu_quota_ms: 0,
                mem_limit_bytes: 64 << 20,
                syscall_rate: ASM_LIMIT_NONE32,
                watchdog_ms: 1500,
            })
        );
        let mut actions = [0; 8];
        actions[ASM_FAULT_CRASH as usize] = ASM_ACTION_RESTART;
        actions[ASM_FAULT_CPU_QUOTA as usize] = ASM_ACTION_THROTTLE;
        assert_eq!(s.recovery, Some(Recovery::Actions(actions)));

        let fp = s.fault_policy().unwrap();
        assert_eq!(fp.agent_id, 100);
        assert_eq!(fp.flags, ASM_FP_SET_LIMITS | ASM_FP_SET_ACTIONS);
        assert_eq!(fp.mem_limit_bytes, 64 << 20);
        assert_eq!(fp.watchdog_ms, 1500);
        assert_eq!(fp.actions, actions);

        let r = s.register_request(7);
        assert_eq!(
            (r.agent_id, r.target, r.cgroup_fd),
            (100, ASM_TARGET_CGROUP, 7)
        );
        assert_eq!((r.capabilities, r.auto_restart), (s.capabilities, 3));
        assert_eq!(r.risk_level, ASM_RISK_HIGH);
        assert_eq!(&r.name[..7], b"crashy\0");
        assert_eq!(&r.scope[..12], b"/srv/agents\0");
        let summary = s.summary();
        assert!(
            summary.contains("command /bin/sh -c 'sleep 0.5; exit 3'"),
            "{summary}"
        );
        assert!(
            summary.contains("; capabilities FsBasic,LlmAccess,ProcessSpawn;"),
            "{summary}"
        );
        assert!(
            summary.contains("; auto_restart 3; risk High;"),
            "{summary}"
        );
    }

    fn with_risk(value: &str) -> Result<Spec, String> {
        p(&format!(
            "id = 1\nname = \"a\"\ncommand = [\"true\"]\nrisk = {value}\n"
        ))
    }

    #[test]
    fn risk_levels() {
        for (value, want, shown) in [
            ("\"minimal\"", ASM_RISK_MINIMAL, "risk Minimal"),
            ("\"limited\"", ASM_RISK_LIMITED, "risk Limited"),
            ("\"high\"", ASM_RISK_HIGH, "risk High"),
            ("\"High\"", ASM_RISK_HIGH, "risk High"),
            ("\"MINIMAL\"", ASM_RISK_MINIMAL, "risk Minimal"),
        ] {
            let s = with_risk(value).unwrap();
            assert_eq!(s.risk_level, want, "{value}");
            assert_eq!(s.register_request(3).risk_level, want, "{value}");
            let summary = s.summary();
            assert!(summary.contains(shown), "{value}: {summary}");
            // The risk level is REGISTER's alone, not the fault policy's.
            assert_eq!(s.fault_policy(), None, "{value}");
        }
    }

    #[test]
    fn risk_defaults_to_asm_risk_default() {
        let s = p("id = 1\nname = \"a\"\ncommand = [\"true\"]\n").unwrap();
        assert_eq!(s.risk_level, ASM_RISK_DEFAULT);
        assert_eq!(ASM_RISK_DEFAULT, 0);
        assert_eq!(s.register_request(3).risk_level, ASM_RISK_DEFAULT);
        let summary = s.summary();
        assert!(summary.contains("; risk Limited (default);"), "{summary}");
    }

    #[test]
    fn risk_unacceptable_is_rejected() {
        for value in ["\"unacceptable\"", "\"Unacceptable\""] {
            let e = with_risk(value).unwrap_err();
            assert_eq!(
                e,
                "specs/a.toml:4: risk = \"unacceptable\" is prohibited: \
                 such an agent is never registered",
                "{value}"
            );
        }
    }

    #[test]
    fn risk_unknown_is_rejected() {
        for value in ["\"medium\"", "\"default\"", "\"\"", "\"none\""] {
            let e = with_risk(value).unwrap_err();
            assert!(
                e.starts_with("specs/a.toml:4: unknown risk level"),
                "{value}: {e}"
            );
            assert!(
                e.contains("(known: minimal, limited, high)"),
                "{value}: {e}"
            );
        }
        // Not a number either: the ABI value is not the spec's spelling.
        for value in ["2", "true", "[\"high\"]"] {
            let e = with_risk(value).unwrap_err();
            assert!(
                e.starts_with("specs/a.toml:4: invalid type"),
                "{value}: {e}"
            );
        }
    }

    #[test]
    fn minimal_spec_has_defaults_and_no_policy() {
        let s = p("id = 1\nname = \"a\"\ncommand = [\"true\"]\n").unwrap();
        assert_eq!((s.capabilities, s.auto_restart), (0, 0));
        assert_eq!((s.scope.clone(), s.limits, s.recovery), (None, None, None));
        assert_eq!(s.fault_policy(), None);
        // An empty table sets nothing either.
        let s = p("id = 1\nname = \"a\"\ncommand = [\"true\"]\n[limits]\n[recovery]\n").unwrap();
        assert_eq!(s.fault_policy(), None);
    }

    #[test]
    fn preset() {
        let s = p("id = 1\nname = \"a\"\ncommand = [\"true\"]\n[recovery]\npreset = \"strict\"\n")
            .unwrap();
        assert_eq!(s.recovery, Some(Recovery::Preset(ASM_PRESET_STRICT)));
        let fp = s.fault_policy().unwrap();
        assert_eq!(
            (fp.flags, fp.preset),
            (ASM_FP_SET_ACTIONS, ASM_PRESET_STRICT)
        );
        let e = p("id = 1\nname = \"a\"\ncommand = [\"true\"]\n[recovery]\npreset = \"strict\"\ncrash = \"log\"\n")
            .unwrap_err();
        assert!(e.contains("preset cannot be combined"), "{e}");
        let e = p("id = 1\nname = \"a\"\ncommand = [\"true\"]\n[recovery]\npreset = \"none\"\n")
            .unwrap_err();
        assert!(e.contains("unknown preset \"none\""), "{e}");
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let e = p("id = 1\nname = \"a\"\ncommand = [\"true\"]\nrestarts = 3\n").unwrap_err();
        assert!(
            e.starts_with("specs/a.toml:4: unknown field `restarts`"),
            "{e}"
        );
        let e = p("id = 1\nname = \"a\"\ncommand = [\"true\"]\n[limits]\ncpu = 5\n").unwrap_err();
        assert!(e.starts_with("specs/a.toml:5: unknown field `cpu`"), "{e}");
        let e = p("id = 1\nname = \"a\"\ncommand = [\"true\"]\n[recovery]\noom = \"kill\"\n")
            .unwrap_err();
        assert!(e.contains("unknown field `oom`"), "{e}");
    }

    #[test]
    fn bad_id() {
        for id in ["0", "-1", "2147483648", "\"100\"", "1.5"] {
            let e = p(&format!("id = {id}\nname = \"a\"\ncommand = [\"true\"]\n")).unwrap_err();
            assert!(e.starts_with("specs/a.toml:1: "), "{id}: {e}");
        }
        let e = p("id = 0\nname = \"a\"\ncommand = [\"true\"]\n").unwrap_err();
        assert!(e.contains("id 0 is out of range 1..=2147483647"), "{e}");
        assert!(p("id = 2147483647\nname = \"a\"\ncommand = [\"true\"]\n").is_ok());
        let e = p("name = \"a\"\ncommand = [\"true\"]\n").unwrap_err();
        assert_eq!(e, "specs/a.toml: missing field `id`");
    }

    #[test]
    fn bad_name_command_caps_scope() {
        let base = |extra: &str| format!("id = 1\n{extra}\n");
        let cases = [
            ("name = \"\"\ncommand = [\"x\"]", "1 to 31 characters"),
            (
                "name = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\ncommand = [\"x\"]",
                "1 to 31 characters",
            ),
            ("name = \"a\\tb\"\ncommand = [\"x\"]", "not printable"),
            ("name = \"é\"\ncommand = [\"x\"]", "not printable"),
            ("name = \"a\"\ncommand = []", "must not be empty"),
            ("name = \"a\"\ncommand = \"/bin/true\"", "invalid type"),
            (
                "name = \"a\"\ncommand = [\"x\"]\ncapabilities = [\"FS_BASIC\"]",
                "unknown capability \"FS_BASIC\"",
            ),
            (
                "name = \"a\"\ncommand = [\"x\"]\nscope = \"rel\"",
                "not an absolute path",
            ),
            (
                "name = \"a\"\ncommand = [\"x\"]\nauto_restart = -1",
                "auto_restart -1",
            ),
        ];
        for (text, want) in cases {
            let e = p(&base(text)).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn mem_takes_a_size() {
        let spec = |mem: &str| {
            p(&format!(
                "id = 1\nname = \"a\"\ncommand = [\"x\"]\n[limits]\nmem = {mem}\n"
            ))
        };
        assert_eq!(
            spec("1048576").unwrap().limits.unwrap().mem_limit_bytes,
            1 << 20
        );
        assert_eq!(
            spec("\"2G\"").unwrap().limits.unwrap().mem_limit_bytes,
            2 << 30
        );
        assert_eq!(
            spec("\"none\"").unwrap().limits.unwrap().mem_limit_bytes,
            ASM_LIMIT_NONE64
        );
        // asm_abi::parse_size: K, M or G in either case.
        for (mem, bytes) in [
            ("\"64K\"", 64 << 10),
            ("\"64m\"", 64 << 20),
            ("\"1g\"", 1 << 30),
        ] {
            assert_eq!(
                spec(mem).unwrap().limits.unwrap().mem_limit_bytes,
                bytes,
                "{mem}"
            );
        }
        for bad in ["0", "-5", "\"64MB\"", "\"0K\"", "1.5"] {
            let e = spec(bad).unwrap_err();
            assert!(e.starts_with("specs/a.toml:5: "), "{bad}: {e}");
        }
        for (bad, want) in [
            (
                "\"64MB\"",
                "\"64MB\" is not a size (bytes, or a number with K, M or G)",
            ),
            ("\"64 M\"", "\"64 M\" is not a size"),
            ("\"17179869184G\"", "\"17179869184G\" is too large"),
            (
                "\"99999999999999999999\"",
                "\"99999999999999999999\" is too large",
            ),
        ] {
            let e = spec(bad).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
    }

    #[test]
    fn limits_and_actions_are_checked() {
        let spec = |table: &str, kv: &str| {
            p(&format!(
                "id = 1\nname = \"a\"\ncommand = [\"x\"]\n[{table}]\n{kv}\n"
            ))
        };
        assert!(spec("limits", "cpu_quota_ms = 0").is_err());
        assert!(spec("limits", "cpu_quota_ms = 4294967295").is_err());
        assert!(spec("limits", "watchdog_ms = \"soon\"").is_err());
        assert_eq!(
            spec("limits", "cpu_quota_ms = \"none\"")
                .unwrap()
                .limits
                .unwrap()
                .cpu_quota_ms,
            ASM_LIMIT_NONE32
        );
        assert!(spec("recovery", "syscall_flood = \"throttle\"").is_ok());
        // As JSON documents name it, too.
        assert!(spec("recovery", "memory = \"Kill\"").is_ok());
        let e = spec("recovery", "crash = \"throttle\"").unwrap_err();
        assert!(e.contains("only for cpu_quota and syscall_flood"), "{e}");
        let e = spec("recovery", "memory = \"reboot\"").unwrap_err();
        assert!(e.contains("unknown action \"reboot\""), "{e}");
        assert!(spec("recovery", "memory = \"default\"").is_err());
    }

    fn with_llm(kv: &str) -> Result<Spec, String> {
        p(&format!(
            "id = 1\nname = \"a\"\ncommand = [\"true\"]\n{kv}\n"
        ))
    }

    #[test]
    fn llm_rate_keys() {
        // Neither: no patch, the module's bucket (30, 10/s) stays.
        let s = with_llm("").unwrap();
        assert_eq!((s.llm_rate, s.llm_rate_patch()), (None, None));
        assert!(s.summary().contains("; llm default;"), "{}", s.summary());
        // Both.
        let s = with_llm("llm_burst = 3\nllm_refill = 1").unwrap();
        assert_eq!(
            s.llm_rate,
            Some(LlmRate {
                burst: 3,
                refill: 1
            })
        );
        let patch = s.llm_rate_patch().unwrap();
        assert_eq!(
            (patch.agent_id, patch.op, patch.value),
            (1, ASM_PATCH_SET_LLM_RATE, 0)
        );
        assert_eq!((patch.llm_burst, patch.llm_refill), (3, 1));
        assert_eq!(
            (patch.cpu_quota_ms, patch.mem_limit_bytes, patch.scope[0]),
            (0, 0, 0)
        );
        assert!(
            s.summary().contains("; llm burst 3 refill 1/s;"),
            "{}",
            s.summary()
        );
        // Either alone: the other is the module's default.
        let s = with_llm("llm_burst = 3").unwrap();
        assert_eq!(
            s.llm_rate,
            Some(LlmRate {
                burst: 3,
                refill: ASM_LLM_REFILL_DEFAULT
            })
        );
        let s = with_llm("llm_refill = 100").unwrap();
        assert_eq!(
            s.llm_rate,
            Some(LlmRate {
                burst: ASM_LLM_BURST_DEFAULT,
                refill: 100
            })
        );
        // The bounds themselves.
        let s = with_llm("llm_burst = 10000\nllm_refill = 10000").unwrap();
        assert_eq!(
            s.llm_rate,
            Some(LlmRate {
                burst: ASM_LLM_BURST_MAX,
                refill: ASM_LLM_REFILL_MAX
            })
        );
        // The bucket is not a fault-policy limit.
        assert_eq!(s.fault_policy(), None);
    }

    #[test]
    fn llm_rate_out_of_range_names_key_and_bound() {
        for (kv, want) in [
            (
                "llm_burst = 0",
                "specs/a.toml:4: llm_burst 0 is out of range 1..=10000",
            ),
            (
                "llm_burst = 10001",
                "specs/a.toml:4: llm_burst 10001 is out of range 1..=10000",
            ),
            (
                "llm_refill = -1",
                "specs/a.toml:4: llm_refill -1 is out of range 1..=10000",
            ),
            (
                "llm_refill = 4294967297",
                "specs/a.toml:4: llm_refill 4294967297 is out of range 1..=10000",
            ),
            (
                "llm_burst = \"none\"",
                "specs/a.toml:4: llm_burst \"none\" is not a number",
            ),
        ] {
            let e = with_llm(kv).unwrap_err();
            assert!(e.starts_with(want), "{kv}: {e}");
        }
        for bad in ["llm_refill = 1.5", "llm_burst = true"] {
            let e = with_llm(bad).unwrap_err();
            assert!(e.starts_with("specs/a.toml:4: "), "{bad}: {e}");
        }
        // Not a [limits] key.
        let e = with_llm("[limits]\nllm_burst = 3").unwrap_err();
        assert!(e.contains("unknown field `llm_burst`"), "{e}");
    }

    fn with_deps(kv: &str) -> Result<Spec, String> {
        p(&format!(
            "id = 1\nname = \"a\"\ncommand = [\"true\"]\n{kv}\n"
        ))
    }

    #[test]
    fn depends_on_forms() {
        use asm_abi::{ASM_DEP_OPTIONAL, ASM_DEP_PEER};
        let s = with_deps("").unwrap();
        assert!(s.depends_on.is_empty());
        assert_eq!(s.start_timeout_s, START_TIMEOUT_DEFAULT_S);
        assert!(!s.summary().contains("depends_on"), "{}", s.summary());

        let s = with_deps(
            "depends_on = [\"db\", 102, { name = \"cache\", kind = \"optional\" },\n\
             { id = 7, kind = \"PEER\" }, { name = \"log\" }]\nstart_timeout = 5",
        )
        .unwrap();
        let got: Vec<(DepTarget, u32, usize, u32)> = s
            .depends_on
            .iter()
            .map(|d| (d.target.clone(), d.kind, d.line, d.id))
            .collect();
        assert_eq!(
            got,
            [
                (DepTarget::Name("db".into()), ASM_DEP_REQUIRED, 4, 0),
                (DepTarget::Id(102), ASM_DEP_REQUIRED, 4, 102),
                (DepTarget::Name("cache".into()), ASM_DEP_OPTIONAL, 4, 0),
                (DepTarget::Id(7), ASM_DEP_PEER, 5, 7),
                (DepTarget::Name("log".into()), ASM_DEP_REQUIRED, 5, 0),
            ]
        );
        assert_eq!(s.start_timeout_s, 5);
        assert!(
            s.summary().ends_with(
                "; depends_on \"db\" required, 102 required, \"cache\" optional, 7 peer, \
                 \"log\" required; start_timeout 5 s"
            ),
            "{}",
            s.summary()
        );
        assert!(with_deps("depends_on = []").unwrap().depends_on.is_empty());
        let s = with_deps("start_timeout = 3600").unwrap();
        assert_eq!(s.start_timeout_s, START_TIMEOUT_MAX_S);
    }

    #[test]
    fn depends_on_signals() {
        // As asmctl's --signal takes them: with or without SIG, any case,
        // or the number (a string or an integer).
        for (value, want) in [
            ("\"SIGUSR1\"", 10),
            ("\"usr1\"", 10),
            ("\"SigTerm\"", 15),
            ("\"12\"", 12),
            ("28", 28),
            ("1", 1),
        ] {
            let s = with_deps(&format!(
                "depends_on = [{{ name = \"cache\", kind = \"optional\", signal = {value} }}]"
            ))
            .unwrap();
            let d = &s.depends_on[0];
            assert_eq!((d.kind, d.signal), (ASM_DEP_OPTIONAL, want), "{value}");
        }
        // The key's order does not matter.
        let s =
            with_deps("depends_on = [\"db\", { signal = \"HUP\", kind = \"optional\", id = 7 }]")
                .unwrap();
        let got: Vec<(u32, u32)> = s.depends_on.iter().map(|d| (d.kind, d.signal)).collect();
        assert_eq!(got, [(ASM_DEP_REQUIRED, 0), (ASM_DEP_OPTIONAL, 1)]);
        assert_eq!(s.depends_on[1].signal_name(), Some("SIGHUP"));
        assert_eq!(s.depends_on[0].signal_name(), None);
        assert!(
            s.summary()
                .ends_with("; depends_on \"db\" required, 7 optional (SIGHUP); start_timeout 30 s"),
            "{}",
            s.summary()
        );

        let known = "(known: SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM, SIGWINCH, with \
                     or without SIG, or their numbers)";
        for (value, written) in [
            ("\"KILL\"", "\"KILL\""),
            ("\"SIGSTOP\"", "\"SIGSTOP\""),
            ("\"9\"", "\"9\""),
            ("9", "9"),
            ("0", "0"),
            ("-10", "-10"),
            ("4294967306", "4294967306"),
            ("\"\"", "\"\""),
        ] {
            let e = with_deps(&format!(
                "depends_on = [{{ name = \"cache\", kind = \"optional\", signal = {value} }}]"
            ))
            .unwrap_err();
            let want = format!(
                "specs/a.toml:4: depends_on signal {written} is not one a dependency's end sends \
                 {known}"
            );
            assert!(e.starts_with(&want), "{value}: {e}");
        }
        for entry in [
            "{ name = \"db\", signal = \"USR1\" }",
            "{ name = \"db\", kind = \"required\", signal = \"USR1\" }",
            "{ signal = 10, id = 2, kind = \"peer\" }",
        ] {
            let e = with_deps(&format!("depends_on = [{entry}]")).unwrap_err();
            assert!(
                e.starts_with(
                    "specs/a.toml:4: a depends_on signal only applies to kind = \"optional\""
                ),
                "{entry}: {e}"
            );
        }
        for bad in ["signal = true", "signal = 1.5", "signal = [\"USR1\"]"] {
            let e = with_deps(&format!(
                "depends_on = [{{ name = \"db\", kind = \"optional\", {bad} }}]"
            ))
            .unwrap_err();
            assert!(e.starts_with("specs/a.toml:4: "), "{bad}: {e}");
        }
    }

    #[test]
    fn depends_on_errors_name_the_line_and_the_problem() {
        for (kv, want) in [
            (
                "depends_on = [{ name = \"db\", kind = \"weak\" }]",
                "specs/a.toml:4: unknown dependency kind \"weak\" \
                 (known: required, optional, peer)",
            ),
            (
                "depends_on = [{ name = \"db\", id = 2 }]",
                "specs/a.toml:4: a depends_on table takes name or id, not both",
            ),
            (
                "depends_on = [{ kind = \"peer\" }]",
                "specs/a.toml:4: a depends_on table needs name = \"...\" or id = ...",
            ),
            (
                "depends_on = [0]",
                "specs/a.toml:4: depends_on id 0 is out of range 1..=2147483647",
            ),
            (
                "depends_on = [{ id = 2147483648 }]",
                "specs/a.toml:4: depends_on id 2147483648 is out of range 1..=2147483647",
            ),
            (
                "depends_on = [{ name = \"db\", type = \"peer\" }]",
                "specs/a.toml:4: unknown field `type`, expected one of `name`, `id`, `kind`, \
                 `signal`",
            ),
            (
                "start_timeout = 0",
                "specs/a.toml:4: start_timeout 0 is out of range 1..=3600 (seconds)",
            ),
            (
                "start_timeout = 3601",
                "specs/a.toml:4: start_timeout 3601 is out of range 1..=3600 (seconds)",
            ),
            (
                "start_timeout = \"30s\"",
                "specs/a.toml:4: start_timeout \"30s\" is not a number of seconds",
            ),
        ] {
            let e = with_deps(kv).unwrap_err();
            assert!(e.starts_with(want), "{kv}: {e}");
        }
        // Not a list, or an entry of another type.
        for kv in [
            "depends_on = \"db\"",
            "depends_on = [true]",
            "depends_on = [1.5]",
            "depends_on = [[\"db\"]]",
            "start_timeout = 1.5",
        ] {
            let e = with_deps(kv).unwrap_err();
            assert!(e.starts_with("specs/a.toml:4: "), "{kv}: {e}");
        }
        // The kind is a table key, not a spec key.
        let e = with_deps("kind = \"optional\"").unwrap_err();
        assert!(e.contains("unknown field `kind`"), "{e}");
    }

    #[test]
    fn load_dir_checks_depends_on_once_every_file_is_valid() {
        let dir = std::env::temp_dir().join(format!("asmd-spec-deps-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let w = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
        w("a.toml", "id = 1\nname = \"a\"\ncommand = [\"x\"]\n");
        w(
            "b.toml",
            "id = 2\nname = \"b\"\ncommand = [\"x\"]\ndepends_on = [\"a\"]\n",
        );
        w(
            "c.toml",
            "id = 3\nname = \"c\"\ncommand = [\"x\"]\ndepends_on = [{ id = 2, kind = \"optional\" }]\n",
        );
        let specs = load_dir(&dir, &Table).unwrap();
        let ids: Vec<Vec<u32>> = specs
            .iter()
            .map(|s| s.depends_on.iter().map(|d| d.id).collect())
            .collect();
        assert_eq!(ids, [vec![], vec![1], vec![2]]);

        // A broken file is reported alone: what names it is not "unknown".
        w("a.toml", "id = 1\nname = \"a\"\n");
        let errors = load_dir(&dir, &Table).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("missing field `command`"), "{errors:?}");

        // A cycle is an error of the set.
        w(
            "a.toml",
            "id = 1\nname = \"a\"\ncommand = [\"x\"]\ndepends_on = [3]\n",
        );
        let errors = load_dir(&dir, &Table).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains(
                "a.toml: depends_on forms a cycle: agent 1 (a) -> agent 3 (c) -> agent 2 (b) \
                 -> agent 1 (a) ("
            ),
            "{errors:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn duplicate_id_across_files() {
        let a = parse(
            "id = 7\nname = \"a\"\ncommand = [\"x\"]\n",
            Path::new("d/a.toml"),
            &Table,
        )
        .unwrap();
        let b = parse(
            "id = 7\nname = \"b\"\ncommand = [\"x\"]\n",
            Path::new("d/b.toml"),
            &Table,
        )
        .unwrap();
        let c = parse(
            "id = 8\nname = \"c\"\ncommand = [\"x\"]\n",
            Path::new("d/c.toml"),
            &Table,
        )
        .unwrap();
        assert_eq!(
            duplicate_ids(&[a, b, c]),
            vec!["d/b.toml: id 7 is already used by d/a.toml".to_owned()]
        );
    }

    #[test]
    fn load_dir_sorts_skips_and_collects_errors() {
        let dir = std::env::temp_dir().join(format!("asmd-spec-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let w = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
        w("b.toml", "id = 2\nname = \"b\"\ncommand = [\"x\"]\n");
        w("a.toml", "id = 1\nname = \"a\"\ncommand = [\"x\"]\n");
        w("notes.txt", "not a spec");
        w(".a.toml.swp", "not a spec");
        let specs = load_dir(&dir, &Table).unwrap();
        assert_eq!(specs.iter().map(|s| s.id).collect::<Vec<_>>(), [1, 2]);

        w("c.toml", "id = 1\nname = \"c\"\ncommand = [\"x\"]\n");
        w(
            "d.toml",
            "id = 4\nname = \"d\"\ncommand = [\"x\"]\nbogus = 1\n",
        );
        let errors = load_dir(&dir, &Table).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].contains("d.toml:4: unknown field `bogus`"),
            "{errors:?}"
        );
        assert!(
            errors[1].contains("c.toml: id 1 is already used by"),
            "{errors:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();

        let errors = load_dir(&dir, &Table).unwrap_err();
        assert!(
            errors[0].contains("No such file or directory (ENOENT)"),
            "{errors:?}"
        );
    }

    #[test]
    fn quoting_for_display() {
        assert_eq!(shell_quote("/bin/sh"), "/bin/sh");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
