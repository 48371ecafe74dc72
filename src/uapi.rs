// SPDX-License-Identifier: GPL-2.0

//! Rust mirror of include/uapi/linux/asm.h: the ioctl structs, numbers,
//! enums and constants, with a compile-time size check per struct. Every
//! uapi enum is defined here, once, by `uapi_enum!`; the concept files add
//! their own methods to them.

use core::mem::size_of;
use kernel::ioctl::{_IOW, _IOWR};
use kernel::types::{AsBytes, FromBytes};

/// Defines a uapi enum: its values as in asm.h, conversion from the `u32`
/// that carries it in a struct (`TryFrom`, `EINVAL` for an unknown value),
/// and the names text and JSON documents use.
macro_rules! uapi_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident: $repr:ident {
            $($(#[$vmeta:meta])* $variant:ident = $value:literal => $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        #[repr($repr)]
        $vis enum $name {
            $($(#[$vmeta])* $variant = $value,)+
        }

        // Not every enum's name or raw value is used yet.
        #[allow(dead_code)]
        impl $name {
            /// The name text uses: /proc, debugfs, the kernel log and the
            /// audit summaries, and the keys of JSON records whose members
            /// are this enum's (such as an agent's `actions`).
            pub(crate) fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// The name JSON documents give as a value: the variant's own,
            /// PascalCase, as every enum value in a JSON document is.
            pub(crate) fn json(self) -> &'static str {
                match self {
                    $(Self::$variant => stringify!($variant),)+
                }
            }

            /// The value as the uapi carries it.
            pub(crate) fn raw(self) -> u32 {
                self as u32
            }

            /// The value called `name` in text or in JSON, in any case and
            /// with or without `_`: `llm_request`, `LlmRequest`, `LLM_REQUEST`.
            pub(crate) fn from_name(name: &[u8]) -> Option<Self> {
                $(if same_name(name, $text.as_bytes())
                    || same_name(name, stringify!($variant).as_bytes())
                {
                    return Some(Self::$variant);
                })+
                None
            }
        }

        impl TryFrom<u32> for $name {
            type Error = kernel::error::Error;

            fn try_from(raw: u32) -> Result<Self, Self::Error> {
                match raw {
                    $($value => Ok(Self::$variant),)+
                    _ => Err(kernel::error::code::EINVAL),
                }
            }
        }
    };
}

/// Whether `a` and `b` are one name, ignoring ASCII case and `_` (so that
/// `llm_request` is `LlmRequest`).
fn same_name(a: &[u8], b: &[u8]) -> bool {
    let mut a = a.iter().filter(|&&c| c != b'_');
    let mut b = b.iter().filter(|&&c| c != b'_');
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(y) => {}
            _ => return false,
        }
    }
}

/// ABI version every struct carries.
pub(crate) const ABI_VERSION: u32 = 1;
/// Room for a name, with its NUL.
pub(crate) const NAME_LEN: usize = 32;
/// Room for a scope path, with its NUL.
pub(crate) const SCOPE_LEN: usize = 256;
/// First id the kernel allocates.
pub(crate) const ID_ALLOC_MIN: u32 = 1000;
/// Largest agent id.
pub(crate) const ID_MAX: u32 = 0x7fff_ffff;
/// `ASM_UNREGISTER_RECLAIMED`: the op of an unregister audit entry made
/// when the module reclaimed an unprivileged user's ended agent.
pub(crate) const UNREGISTER_RECLAIMED: u32 = 1;

/// `ASM_CAP_ADMIN`.
pub(crate) const CAP_ADMIN: u64 = 1 << 7;
/// Every known capability bit.
pub(crate) const CAP_ALL: u64 = (1 << 8) - 1;
/// `ASM_REGISTER_RESTART`.
pub(crate) const REGISTER_RESTART: u32 = 1 << 0;
/// Capability names by bit, as the user guide spells them.
pub(crate) const CAP_NAMES: [&str; 8] = [
    "FsBasic",
    "FsExtended",
    "NetClient",
    "NetServer",
    "AudioControl",
    "LlmAccess",
    "ProcessSpawn",
    "Admin",
];

uapi_enum! {
    /// `enum asm_risk` (without `ASM_RISK_DEFAULT`, a request's "Limited").
    pub(crate) enum Risk: u32 {
        Minimal = 1 => "Minimal",
        Limited = 2 => "Limited",
        High = 3 => "High",
        Unacceptable = 4 => "Unacceptable",
    }
}

uapi_enum! {
    /// `enum asm_target`: who a registration makes an agent of.
    pub(crate) enum RegisterTarget: u32 {
        /// The calling process.
        Caller = 0 => "self",
        /// Another process.
        Pid = 1 => "pid",
        /// Every task of a cgroup.
        Cgroup = 2 => "cgroup",
    }
}

uapi_enum! {
    /// `enum asm_state`: the lifecycle states of the user guide's diagram.
    pub(crate) enum State: u32 {
        Spawned = 0 => "Spawned",
        Active = 1 => "Active",
        Fault = 2 => "Fault",
        Recovery = 3 => "Recovery",
        Restarted = 4 => "Restarted",
        Exited = 5 => "Exited",
        Failed = 6 => "Failed",
    }
}

uapi_enum! {
    /// `enum asm_event_type`: what happened.
    pub(crate) enum EventKind: u8 {
        Register = 1 => "register",
        Unregister = 2 => "unregister",
        Spawn = 3 => "spawn",
        Exec = 4 => "exec",
        Exit = 5 => "exit",
        Crash = 6 => "crash",
        Fault = 7 => "fault",
        Action = 8 => "action",
        Release = 9 => "release",
        Recovery = 10 => "recovery",
        Restarted = 11 => "restarted",
        Failed = 12 => "failed",
        LlmRequest = 13 => "llm_request",
        Cascade = 14 => "cascade",
        DependencyHeld = 15 => "dependency_held",
        DependencyLost = 16 => "dependency_lost",
    }
}

uapi_enum! {
    /// `enum asm_fault_type`.
    pub(crate) enum FaultKind: u8 {
        CpuQuota = 1 => "cpu_quota",
        Memory = 2 => "memory",
        SyscallFlood = 3 => "syscall_flood",
        Crash = 4 => "crash",
        CapabilityViolation = 5 => "capability_violation",
        Unresponsive = 6 => "unresponsive",
    }
}

uapi_enum! {
    /// `enum asm_action`: the recovery actions.
    pub(crate) enum Action: u8 {
        Default = 0 => "default",
        Log = 1 => "log",
        Throttle = 2 => "throttle",
        Kill = 3 => "kill",
        Restart = 4 => "restart",
    }
}

uapi_enum! {
    /// `enum asm_preset`: action presets of `ASM_IOC_SET_FAULT_POLICY`.
    pub(crate) enum Preset: u32 {
        /// Take the request's actions.
        None = 0 => "none",
        Default = 1 => "default",
        Permissive = 2 => "permissive",
        Strict = 3 => "strict",
    }
}

uapi_enum! {
    /// `enum asm_patch_op`.
    pub(crate) enum PatchOp: u32 {
        AddCapability = 1 => "add_capability",
        RemoveCapability = 2 => "remove_capability",
        UpdateScope = 3 => "update_scope",
        SetAutoRestart = 4 => "set_auto_restart",
        SetLimits = 5 => "set_limits",
        SetRisk = 6 => "set_risk",
        SetLlmRate = 7 => "set_llm_rate",
    }
}

uapi_enum! {
    /// `enum asm_violation`.
    pub(crate) enum Violation: u32 {
        File = 1 => "file",
        Connect = 2 => "connect",
        Listen = 3 => "listen",
        Exec = 4 => "exec",
        Llm = 5 => "llm",
    }
}

uapi_enum! {
    /// `enum asm_llm_provider` (without `ASM_LLM_ANY`).
    pub(crate) enum LlmProvider: u32 {
        Claude = 1 => "claude",
        Gpt4 = 2 => "gpt4",
        Gemini = 3 => "gemini",
        Local = 4 => "local",
    }
}

uapi_enum! {
    /// `enum asm_oversight`: human oversight actions.
    pub(crate) enum Oversight: u32 {
        Review = 1 => "review",
        Approve = 2 => "approve",
        Reject = 3 => "reject",
        Stop = 4 => "stop",
    }
}

uapi_enum! {
    /// `enum asm_audit_kind`.
    pub(crate) enum AuditKind: u32 {
        Register = 1 => "register",
        Unregister = 2 => "unregister",
        Patch = 3 => "patch",
        Escalation = 4 => "escalation",
        FaultPolicy = 5 => "fault_policy",
        Violation = 6 => "violation",
        Decision = 7 => "decision",
        Sensitive = 8 => "sensitive",
        Oversight = 9 => "oversight",
        Exit = 10 => "exit",
        SensitiveSet = 11 => "sensitive_set",
        LlmRequest = 12 => "llm_request",
        Dependency = 13 => "dependency",
        Cascade = 14 => "cascade",
    }
}

uapi_enum! {
    /// `enum asm_audit_trail`: the trails `ASM_IOC_GET_AUDIT` reads.
    pub(crate) enum AuditTrail: u32 {
        Policy = 0 => "policy",
        Llm = 1 => "llm",
    }
}

uapi_enum! {
    /// `enum asm_compliance_status`.
    pub(crate) enum ComplianceStatus: u32 {
        Compliant = 1 => "COMPLIANT",
        ReviewNeeded = 2 => "REVIEW_NEEDED",
        NonCompliant = 3 => "NON_COMPLIANT",
    }
}

uapi_enum! {
    /// `enum asm_sensitive_op`.
    pub(crate) enum SensitiveOp: u32 {
        Add = 1 => "add",
        Remove = 2 => "remove",
        Get = 3 => "get",
    }
}

uapi_enum! {
    /// `enum asm_dep_kind`.
    pub(crate) enum DepKind: u32 {
        Required = 1 => "required",
        Optional = 2 => "optional",
        Peer = 3 => "peer",
    }
}

uapi_enum! {
    /// `enum asm_dep_op`.
    pub(crate) enum DepOp: u32 {
        Add = 1 => "add",
        Remove = 2 => "remove",
        List = 3 => "list",
    }
}

uapi_enum! {
    /// `enum asm_profile_cmd`.
    pub(crate) enum ProfileCmd: u32 {
        Begin = 1 => "begin",
        End = 2 => "end",
        Record = 3 => "record",
        Stats = 4 => "stats",
    }
}

/// `struct asm_register`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct Register {
    pub(crate) size: u32,
    pub(crate) version: u32,
    pub(crate) agent_id: u32,
    pub(crate) target: u32,
    pub(crate) pid: i32,
    pub(crate) cgroup_fd: i32,
    pub(crate) capabilities: u64,
    pub(crate) auto_restart: u32,
    pub(crate) flags: u32,
    pub(crate) name: [u8; NAME_LEN],
    pub(crate) scope: [u8; SCOPE_LEN],
    pub(crate) risk_level: u32,
    pub(crate) reserved0: u32,
    pub(crate) reserved: [u64; 3],
}

/// `struct asm_unregister`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct Unregister {
    pub(crate) size: u32,
    pub(crate) version: u32,
    pub(crate) agent_id: u32,
    pub(crate) flags: u32,
    pub(crate) reserved: [u64; 2],
}

/// `struct asm_list`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct List {
    pub(crate) size: u32,
    pub(crate) version: u32,
    pub(crate) ids: u64,
    pub(crate) capacity: u32,
    pub(crate) count: u32,
    pub(crate) reserved: [u64; 2],
}

/// `struct asm_agent_info`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct AgentInfo {
    pub(crate) size: u32,
    pub(crate) version: u32,
    pub(crate) agent_id: u32,
    pub(crate) state: u32,
    pub(crate) pid: i32,
    pub(crate) owner_uid: u32,
    pub(crate) nr_processes: u32,
    pub(crate) auto_restart: u32,
    pub(crate) restart_count: u32,
    pub(crate) risk_level: u32,
    pub(crate) capabilities: u64,
    pub(crate) spawns: u64,
    pub(crate) exits: u64,
    pub(crate) crashes: u64,
    pub(crate) faults: u64,
    pub(crate) execs: u64,
    pub(crate) cpu_us: u64,
    pub(crate) mem_bytes: u64,
    pub(crate) last_exit_code: i64,
    pub(crate) registered_ns: u64,
    pub(crate) last_activity_ns: u64,
    pub(crate) name: [u8; NAME_LEN],
    pub(crate) scope: [u8; SCOPE_LEN],
    pub(crate) cgroup_id: u64,
    pub(crate) reserved: [u64; 3],
}

/// `struct asm_json`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct Json {
    pub(crate) size: u32,
    pub(crate) version: u32,
    pub(crate) agent_id: u32,
    pub(crate) len: u32,
    pub(crate) buf: u64,
    pub(crate) reserved: [u64; 2],
}

/// `struct asm_fault_policy`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct FaultPolicy {
    pub(crate) size: u32,
    pub(crate) version: u32,
    pub(crate) agent_id: u32,
    pub(crate) flags: u32,
    pub(crate) cpu_quota_ms: u32,
    pub(crate) syscall_rate: u32,
    pub(crate) watchdog_ms: u32,
    pub(crate) preset: u32,
    pub(crate) mem_limit_bytes: u64,
    pub(crate) actions: [u8; 8],
    pub(crate) reserved: [u64; 4],
}

/// `struct asm_heartbeat`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct Heartbeat {
    pub(crate) size: u32,
    pub(crate) version: u32,
    pub(crate) agent_id: u32,
    pub(crate) flags: u32,
    pub(crate) reserved: [u64; 2],
}

/// `struct asm_window`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub(crate) struct Window {
    pub(crate) start_ns: u64,
    pub(crate) cpu_ns: u64,
    pub(crate) rss_bytes: u64,
    pub(crate) syscalls: u64,
    pub(crate) io_ops: u64,
}

/// `struct asm_history`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct History {
    pub(crate) size: u32,
    pub(crate) version: u32,
    pub(crate) agent_id: u32,
    pub(crate) count: u32,
    pub(crate) windows: u64,
    pub(crate) capacity: u32,
    pub(crate) window_ms: u32,
    pub(crate) cpu_ns: u64,
    pub(crate) syscalls: u64,
    pub(crate) io_ops: u64,
    pub(crate) rss_bytes: u64,
    pub(crate) rss_peak_bytes: u64,
    pub(crate) throttled: u32,
    pub(crate) reserved0: u32,
    pub(crate) reserved: [u64; 4],
}

/// `struct asm_patch`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct Patch {
    pub(crate) size: u32,
    pub(crate) version: u32,
    pub(crate) agent_id: u32,
    pub(crate) op: u32,
    pub(crate) value: u64,
    pub(crate) cpu_quota_ms: u32,
    pub(crate) syscall_rate: u32,
    pub(crate) watchdog_ms: u32,
    pub(crate) reserved0: u32,
    pub(crate) mem_limit_bytes: u64,
    pub(crate) scope: [u8; SCOPE_LEN],
    pub(crate) audit_seq: u64,
    pub(crate) llm_burst: u32,
    pub(crate) llm_refill: u32,
    pub(crate) reserved: [u64; 1],
}

/// Room for an audit entry's text, with its NUL.
pub(crate) const AUDIT_DETAIL_LEN: usize = 192;
/// SHA-256.
pub(crate) const AUDIT_HASH_LEN: usize = 32;
/// Entries the kernel keeps.
pub(crate) const AUDIT_ENTRIES: usize = 256;
/// Entries the kernel keeps in the LLM trail.
pub(crate) const AUDIT_LLM_ENTRIES: usize = 512;

/// `struct asm_audit_entry`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct AuditEntry {
    pub(crate) seq: u64,
    pub(crate) time_ns: u64,
    pub(crate) kind: u32,
    pub(crate) op: u32,
    pub(crate) agent_id: u32,
    pub(crate) uid: u32,
    pub(crate) pid: i32,
    pub(crate) result: i32,
    pub(crate) old_value: u64,
    pub(crate) new_value: u64,
    pub(crate) detail: [u8; AUDIT_DETAIL_LEN],
    pub(crate) prev_hash: [u8; AUDIT_HASH_LEN],
    pub(crate) hash: [u8; AUDIT_HASH_LEN],
}

/// Bytes of an entry its hash covers: all before `hash`.
pub(crate) const AUDIT_HASHED_LEN: usize = size_of::<AuditEntry>() - AUDIT_HASH_LEN;

impl AuditEntry {
    /// The bytes its hash covers, as user space sees them.
    pub(crate) fn hashed_bytes(&self) -> &[u8] {
        // SAFETY: `AuditEntry` is `AsBytes` (plain bytes without padding,
        // its size asserted against the C layout) and `AUDIT_HASHED_LEN` is
        // less than its size.
        unsafe { core::slice::from_raw_parts((self as *const Self).cast::<u8>(), AUDIT_HASHED_LEN) }
    }
}

/// `struct asm_audit_read`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct AuditRead {
    pub(crate) size: u32,
    pub(crate) version: u32,
    pub(crate) from_seq: u64,
    pub(crate) entries: u64,
    pub(crate) capacity: u32,
    pub(crate) count: u32,
    pub(crate) first_seq: u64,
    pub(crate) next_seq: u64,
    pub(crate) dropped: u64,
    pub(crate) suppressed: u64,
    pub(crate) trail: u32,
    pub(crate) reserved0: u32,
}

/// `struct asm_compliance`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct Compliance {
    pub(crate) size: u32,
    pub(crate) version: u32,
    pub(crate) agent_id: u32,
    pub(crate) risk_level: u32,
    pub(crate) events: u64,
    pub(crate) violations: u64,
    pub(crate) oversight: u64,
    pub(crate) decisions: u64,
    pub(crate) sensitive: u64,
    pub(crate) clean_exits: u64,
    pub(crate) crashes: u64,
    pub(crate) score: u32,
    pub(crate) status: u32,
    pub(crate) llm_requests: u64,
    pub(crate) reserved: [u64; 1],
}

/// Room for a note, with its NUL.
pub(crate) const NOTE_LEN: usize = 128;

/// `struct asm_note`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct Note {
    pub(crate) size: u32,
    pub(crate) version: u32,
    pub(crate) agent_id: u32,
    pub(crate) kind: u32,
    pub(crate) text: [u8; NOTE_LEN],
    pub(crate) audit_seq: u64,
    pub(crate) reserved: [u64; 2],
}

/// Paths that can be marked sensitive.
pub(crate) const SENSITIVE_MAX: usize = 8;

/// `struct asm_sensitive`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct Sensitive {
    pub(crate) size: u32,
    pub(crate) version: u32,
    pub(crate) op: u32,
    pub(crate) index: u32,
    pub(crate) count: u32,
    pub(crate) reserved0: u32,
    pub(crate) path: [u8; SCOPE_LEN],
    pub(crate) reserved: [u64; 2],
}

/// Edges the dependency graph keeps.
pub(crate) const DEP_EDGES_MAX: usize = 1024;
/// Edges one user without `CAP_SYS_ADMIN` may have added.
pub(crate) const DEP_EDGES_PER_UID: usize = 64;

/// `struct asm_dep_edge`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct DepEdge {
    pub(crate) dependent: u32,
    pub(crate) dependency: u32,
    pub(crate) kind: u32,
    pub(crate) signal: u32,
}

/// `struct asm_deps`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct Deps {
    pub(crate) size: u32,
    pub(crate) version: u32,
    pub(crate) op: u32,
    pub(crate) kind: u32,
    pub(crate) dependent: u32,
    pub(crate) dependency: u32,
    pub(crate) capacity: u32,
    pub(crate) count: u32,
    pub(crate) edges: u64,
    pub(crate) audit_seq: u64,
    pub(crate) signal: u32,
    pub(crate) reserved: [u32; 3],
}

pub(crate) const PROFILE_OP_LEN: usize = 32;
pub(crate) const PROFILE_OPS_MAX: usize = 32;
pub(crate) const PROFILE_SAMPLES: usize = 100;
pub(crate) const PROFILE_DURATION_MAX: u64 = 3_600_000_000_000;

/// `struct asm_profile`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct Profile {
    pub(crate) size: u32,
    pub(crate) version: u32,
    pub(crate) cmd: u32,
    pub(crate) agent_id: u32,
    pub(crate) op: [u8; PROFILE_OP_LEN],
    pub(crate) token: u64,
    pub(crate) duration_ns: u64,
    pub(crate) success: u32,
    pub(crate) index: u32,
    pub(crate) total: u64,
    pub(crate) successes: u64,
    pub(crate) kept: u32,
    pub(crate) ops: u32,
    pub(crate) min_ns: u64,
    pub(crate) max_ns: u64,
    pub(crate) avg_ns: u64,
    pub(crate) p50_ns: u64,
    pub(crate) p95_ns: u64,
    pub(crate) p99_ns: u64,
    pub(crate) reserved: [u64; 2],
}

/// `struct asm_llm_request`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct LlmRequest {
    pub(crate) size: u32,
    pub(crate) version: u32,
    pub(crate) request: u64,
    pub(crate) response: u64,
    pub(crate) request_len: u32,
    pub(crate) response_len: u32,
    pub(crate) flags: u32,
    pub(crate) written: u32,
    pub(crate) request_id: u64,
    pub(crate) reserved: [u64; 2],
}

pub(crate) const LLM_REQUEST_MAX: usize = 65536;
pub(crate) const LLM_PROMPT_MAX: usize = 32768;
pub(crate) const LLM_SYSTEM_MAX: usize = 8192;
pub(crate) const LLM_TEXT_MAX: usize = 32768;
pub(crate) const LLM_MAX_TOKENS_MAX: u32 = 100_000;
pub(crate) const LLM_TIMEOUT_MAX_MS: u32 = 600_000;
pub(crate) const LLM_RESPONSE_MIN: u32 = 256;
pub(crate) const LLM_SUBMIT: u32 = 1 << 0;
pub(crate) const LLM_COLLECT: u32 = 1 << 1;
pub(crate) const LLM_BURST_MAX: u32 = 10_000;
pub(crate) const LLM_REFILL_MAX: u32 = 10_000;
pub(crate) const LLM_BURST_DEFAULT: u32 = 30;
pub(crate) const LLM_REFILL_DEFAULT: u32 = 10;

/// `enum asm_genl_attr`: the attributes the module puts in its replies.
#[derive(Clone, Copy)]
#[repr(u16)]
pub(crate) enum GenlAttr {
    AgentId = 5,
    ReqId = 13,
    Uid = 14,
    Caps = 15,
    Prompt = 16,
    System = 17,
    MaxTokens = 18,
    Temperature = 19,
    Provider = 20,
    TimeoutMs = 21,
}

pub(crate) const FAULT_TYPES: usize = 7;
pub(crate) const LIMIT_NONE32: u32 = u32::MAX;
pub(crate) const LIMIT_NONE64: u64 = u64::MAX;
pub(crate) const FP_SET_LIMITS: u32 = 1 << 0;
pub(crate) const FP_SET_ACTIONS: u32 = 1 << 1;
pub(crate) const FP_EFFECTIVE: u32 = 1 << 2;
pub(crate) const WINDOW_MS: u32 = 1000;
pub(crate) const HISTORY_WINDOWS: usize = 60;

const _: () = assert!(size_of::<Register>() == 360);
const _: () = assert!(size_of::<FaultPolicy>() == 80);
const _: () = assert!(size_of::<Heartbeat>() == 32);
const _: () = assert!(size_of::<Window>() == 40);
const _: () = assert!(size_of::<History>() == 112);
const _: () = assert!(size_of::<Unregister>() == 32);
const _: () = assert!(size_of::<List>() == 40);
const _: () = assert!(size_of::<AgentInfo>() == 448);
const _: () = assert!(size_of::<Json>() == 40);
const _: () = assert!(size_of::<Patch>() == 328);
const _: () = assert!(size_of::<AuditEntry>() == 312);
const _: () = assert!(size_of::<AuditRead>() == 72);
const _: () = assert!(size_of::<Compliance>() == 96);
const _: () = assert!(size_of::<Note>() == 168);
const _: () = assert!(size_of::<Sensitive>() == 296);
const _: () = assert!(size_of::<LlmRequest>() == 64);
const _: () = assert!(size_of::<DepEdge>() == 16);
const _: () = assert!(size_of::<Deps>() == 64);
const _: () = assert!(size_of::<Profile>() == 160);

// SAFETY: Plain integers and byte arrays with no padding (checked by the
// size assertions against the C layout): every bit pattern is valid and
// every byte is initialised.
unsafe impl FromBytes for LlmRequest {}
// SAFETY: Plain integers and byte arrays with no padding (checked by the
// size assertions against the C layout): every bit pattern is valid and
// every byte is initialised.
unsafe impl AsBytes for LlmRequest {}
// SAFETY: Plain integers and byte arrays with no padding (checked by the
// size assertions against the C layout): every bit pattern is valid and
// every byte is initialised.
unsafe impl FromBytes for Register {}
// SAFETY: As above.
unsafe impl AsBytes for Register {}
// SAFETY: As above.
unsafe impl FromBytes for Unregister {}
// SAFETY: As above.
unsafe impl FromBytes for List {}
// SAFETY: As above.
unsafe impl AsBytes for List {}
// SAFETY: As above.
unsafe impl FromBytes for AgentInfo {}
// SAFETY: As above.
unsafe impl AsBytes for AgentInfo {}
// SAFETY: As above.
unsafe impl FromBytes for Json {}
// SAFETY: As above.
unsafe impl AsBytes for Json {}

// SAFETY: As above.
unsafe impl FromBytes for FaultPolicy {}
// SAFETY: As above.
unsafe impl AsBytes for FaultPolicy {}
// SAFETY: As above.
unsafe impl FromBytes for Heartbeat {}
// SAFETY: As above.
unsafe impl AsBytes for Heartbeat {}
// SAFETY: As above.
unsafe impl AsBytes for Window {}
// SAFETY: As above.
unsafe impl FromBytes for History {}
// SAFETY: As above.
unsafe impl AsBytes for History {}
// SAFETY: As above.
unsafe impl FromBytes for Patch {}
// SAFETY: As above.
unsafe impl AsBytes for Patch {}
// SAFETY: As above.
unsafe impl AsBytes for AuditEntry {}
// SAFETY: As above.
unsafe impl FromBytes for AuditRead {}
// SAFETY: As above.
unsafe impl AsBytes for AuditRead {}
// SAFETY: As above.
unsafe impl FromBytes for Compliance {}
// SAFETY: As above.
unsafe impl AsBytes for Compliance {}
// SAFETY: As above.
unsafe impl FromBytes for Note {}
// SAFETY: As above.
unsafe impl AsBytes for Note {}
// SAFETY: As above.
unsafe impl FromBytes for Sensitive {}
// SAFETY: As above.
unsafe impl AsBytes for Sensitive {}
// SAFETY: As above.
unsafe impl AsBytes for DepEdge {}
// SAFETY: As above.
unsafe impl FromBytes for Deps {}
// SAFETY: As above.
unsafe impl AsBytes for Deps {}
// SAFETY: As above.
unsafe impl FromBytes for Profile {}
// SAFETY: As above.
unsafe impl AsBytes for Profile {}

/// `ASM_IOC_MAGIC`, the ioctl type byte.
const IOC_MAGIC: u32 = 0xBA;

/// `ASM_IOC_REGISTER`.
pub(crate) const IOC_REGISTER: u32 = _IOWR::<Register>(IOC_MAGIC, 0x01);
/// `ASM_IOC_UNREGISTER`.
pub(crate) const IOC_UNREGISTER: u32 = _IOW::<Unregister>(IOC_MAGIC, 0x02);
/// `ASM_IOC_LIST`.
pub(crate) const IOC_LIST: u32 = _IOWR::<List>(IOC_MAGIC, 0x03);
/// `ASM_IOC_GET_INFO`.
pub(crate) const IOC_GET_INFO: u32 = _IOWR::<AgentInfo>(IOC_MAGIC, 0x04);
/// `ASM_IOC_GET_TELEMETRY_JSON`.
pub(crate) const IOC_GET_TELEMETRY_JSON: u32 = _IOWR::<Json>(IOC_MAGIC, 0x05);
/// `ASM_IOC_GET_AGENT_INFO_JSON`.
pub(crate) const IOC_GET_AGENT_INFO_JSON: u32 = _IOWR::<Json>(IOC_MAGIC, 0x06);
/// `ASM_IOC_SET_FAULT_POLICY`.
pub(crate) const IOC_SET_FAULT_POLICY: u32 = _IOW::<FaultPolicy>(IOC_MAGIC, 0x07);
/// `ASM_IOC_GET_FAULT_POLICY`.
pub(crate) const IOC_GET_FAULT_POLICY: u32 = _IOWR::<FaultPolicy>(IOC_MAGIC, 0x08);
/// `ASM_IOC_HEARTBEAT`.
pub(crate) const IOC_HEARTBEAT: u32 = _IOWR::<Heartbeat>(IOC_MAGIC, 0x09);
/// `ASM_IOC_GET_HISTORY`.
pub(crate) const IOC_GET_HISTORY: u32 = _IOWR::<History>(IOC_MAGIC, 0x0a);
/// `ASM_IOC_PATCH_POLICY`.
pub(crate) const IOC_PATCH_POLICY: u32 = _IOWR::<Patch>(IOC_MAGIC, 0x0b);
/// `ASM_IOC_GET_AUDIT`.
pub(crate) const IOC_GET_AUDIT: u32 = _IOWR::<AuditRead>(IOC_MAGIC, 0x0c);
/// `ASM_IOC_GET_COMPLIANCE`.
pub(crate) const IOC_GET_COMPLIANCE: u32 = _IOWR::<Compliance>(IOC_MAGIC, 0x0d);
/// `ASM_IOC_OVERSIGHT`.
pub(crate) const IOC_OVERSIGHT: u32 = _IOWR::<Note>(IOC_MAGIC, 0x0e);
/// `ASM_IOC_DECISION`.
pub(crate) const IOC_DECISION: u32 = _IOWR::<Note>(IOC_MAGIC, 0x0f);
/// `ASM_IOC_SENSITIVE`.
pub(crate) const IOC_SENSITIVE: u32 = _IOWR::<Sensitive>(IOC_MAGIC, 0x10);
/// `ASM_IOC_LLM_REQUEST`.
pub(crate) const IOC_LLM_REQUEST: u32 = _IOWR::<LlmRequest>(IOC_MAGIC, 0x11);
/// `ASM_IOC_DEPS`.
pub(crate) const IOC_DEPS: u32 = _IOWR::<Deps>(IOC_MAGIC, 0x12);
/// `ASM_IOC_PROFILE`.
pub(crate) const IOC_PROFILE: u32 = _IOWR::<Profile>(IOC_MAGIC, 0x13);

// The numbers asm.h's _IOW/_IOWR give on x86-64 (checked by the selftests'
// asm_abi_test against the C header too).
const _: () = assert!(IOC_REGISTER == 0xc168_ba01);
const _: () = assert!(IOC_UNREGISTER == 0x4020_ba02);

/// Capability bits the probes check.
pub(crate) const CAP_FS_BASIC: u64 = 1 << 0;
pub(crate) const CAP_FS_EXTENDED: u64 = 1 << 1;
pub(crate) const CAP_NET_CLIENT: u64 = 1 << 2;
pub(crate) const CAP_NET_SERVER: u64 = 1 << 3;
pub(crate) const CAP_LLM_ACCESS: u64 = 1 << 5;
pub(crate) const CAP_PROCESS_SPAWN: u64 = 1 << 6;
