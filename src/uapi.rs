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
    pub(crate) reserved: [u64; 4],
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
    pub(crate) reserved0: u32,
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
    pub(crate) reserved: [u64; 4],
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
