// SPDX-License-Identifier: GPL-2.0

//! Rust mirror of include/uapi/linux/asm.h: the ioctl structs, numbers and
//! constants, with a compile-time size check per struct.

use core::mem::size_of;
use kernel::types::{AsBytes, FromBytes};

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

/// `enum asm_target`.
pub(crate) const TARGET_SELF: u32 = 0;
/// Another process.
pub(crate) const TARGET_PID: u32 = 1;
/// Every task of a cgroup.
pub(crate) const TARGET_CGROUP: u32 = 2;

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
    pub(crate) reserved: [u64; 2],
}

/// Room for an audit entry's text, with its NUL.
pub(crate) const AUDIT_DETAIL_LEN: usize = 192;
/// SHA-256.
pub(crate) const AUDIT_HASH_LEN: usize = 32;
/// Entries the kernel keeps.
pub(crate) const AUDIT_ENTRIES: usize = 256;

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
    pub(crate) reserved: [u64; 1],
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
    pub(crate) reserved: [u64; 2],
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

pub(crate) const FAULT_TYPES: usize = 7;
pub(crate) const LIMIT_NONE32: u32 = u32::MAX;
pub(crate) const LIMIT_NONE64: u64 = u64::MAX;
pub(crate) const FP_SET_LIMITS: u32 = 1 << 0;
pub(crate) const FP_SET_ACTIONS: u32 = 1 << 1;
pub(crate) const FP_EFFECTIVE: u32 = 1 << 2;
pub(crate) const PRESET_NONE: u32 = 0;
pub(crate) const PRESET_DEFAULT: u32 = 1;
pub(crate) const PRESET_PERMISSIVE: u32 = 2;
pub(crate) const PRESET_STRICT: u32 = 3;
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

const IOC_MAGIC: u32 = 0xBA;

const fn ioc(dir: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | (IOC_MAGIC << 8) | nr
}
const IOC_WRITE: u32 = 1;
const IOC_READWRITE: u32 = 3;

/// `ASM_IOC_REGISTER`.
pub(crate) const IOC_REGISTER: u32 = ioc(IOC_READWRITE, 1, size_of::<Register>());
/// `ASM_IOC_UNREGISTER`.
pub(crate) const IOC_UNREGISTER: u32 = ioc(IOC_WRITE, 2, size_of::<Unregister>());
/// `ASM_IOC_LIST`.
pub(crate) const IOC_LIST: u32 = ioc(IOC_READWRITE, 3, size_of::<List>());
/// `ASM_IOC_GET_INFO`.
pub(crate) const IOC_GET_INFO: u32 = ioc(IOC_READWRITE, 4, size_of::<AgentInfo>());
/// `ASM_IOC_GET_TELEMETRY_JSON`.
pub(crate) const IOC_GET_TELEMETRY_JSON: u32 = ioc(IOC_READWRITE, 5, size_of::<Json>());
/// `ASM_IOC_GET_AGENT_INFO_JSON`.
pub(crate) const IOC_GET_AGENT_INFO_JSON: u32 = ioc(IOC_READWRITE, 6, size_of::<Json>());
/// `ASM_IOC_SET_FAULT_POLICY`.
pub(crate) const IOC_SET_FAULT_POLICY: u32 = ioc(IOC_WRITE, 7, size_of::<FaultPolicy>());
/// `ASM_IOC_GET_FAULT_POLICY`.
pub(crate) const IOC_GET_FAULT_POLICY: u32 = ioc(IOC_READWRITE, 8, size_of::<FaultPolicy>());
/// `ASM_IOC_HEARTBEAT`.
pub(crate) const IOC_HEARTBEAT: u32 = ioc(IOC_READWRITE, 9, size_of::<Heartbeat>());
/// `ASM_IOC_GET_HISTORY`.
pub(crate) const IOC_GET_HISTORY: u32 = ioc(IOC_READWRITE, 10, size_of::<History>());
/// `ASM_IOC_PATCH_POLICY`.
pub(crate) const IOC_PATCH_POLICY: u32 = ioc(IOC_READWRITE, 0x0b, size_of::<Patch>());
/// `ASM_IOC_GET_AUDIT`.
pub(crate) const IOC_GET_AUDIT: u32 = ioc(IOC_READWRITE, 0x0c, size_of::<AuditRead>());
/// `ASM_IOC_GET_COMPLIANCE`.
pub(crate) const IOC_GET_COMPLIANCE: u32 = ioc(IOC_READWRITE, 0x0d, size_of::<Compliance>());
/// `ASM_IOC_OVERSIGHT`.
pub(crate) const IOC_OVERSIGHT: u32 = ioc(IOC_READWRITE, 0x0e, size_of::<Note>());
/// `ASM_IOC_DECISION`.
pub(crate) const IOC_DECISION: u32 = ioc(IOC_READWRITE, 0x0f, size_of::<Note>());
/// `ASM_IOC_SENSITIVE`.
pub(crate) const IOC_SENSITIVE: u32 = ioc(IOC_READWRITE, 0x10, size_of::<Sensitive>());

/// `enum asm_patch_op`.
pub(crate) const PATCH_ADD_CAPABILITY: u32 = 1;
pub(crate) const PATCH_REMOVE_CAPABILITY: u32 = 2;
pub(crate) const PATCH_UPDATE_SCOPE: u32 = 3;
pub(crate) const PATCH_SET_AUTO_RESTART: u32 = 4;
pub(crate) const PATCH_SET_LIMITS: u32 = 5;
pub(crate) const PATCH_SET_RISK: u32 = 6;

/// `enum asm_sensitive_op`.
pub(crate) const SENSITIVE_ADD: u32 = 1;
pub(crate) const SENSITIVE_REMOVE: u32 = 2;
pub(crate) const SENSITIVE_GET: u32 = 3;

/// Capability bits the probes check.
pub(crate) const CAP_FS_BASIC: u64 = 1 << 0;
pub(crate) const CAP_FS_EXTENDED: u64 = 1 << 1;
pub(crate) const CAP_NET_CLIENT: u64 = 1 << 2;
pub(crate) const CAP_NET_SERVER: u64 = 1 << 3;
pub(crate) const CAP_PROCESS_SPAWN: u64 = 1 << 6;
