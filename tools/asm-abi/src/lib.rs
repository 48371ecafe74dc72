// SPDX-License-Identifier: GPL-2.0

//! Rust mirror of `include/uapi/linux/asm.h`, the ABI of `/dev/asm`.
//!
//! This crate owns the byte layout of every ioctl argument, the ioctl
//! request numbers (encoded for the target architecture by nix's macros),
//! the generic netlink family's names, command and attribute numbers, and
//! the names user space shows for capability bits, agent states, fault
//! types, recovery actions, presets, risk levels, policy patches,
//! violations, oversight actions, dependency kinds, audit kinds and
//! compliance statuses. It
//! also holds the two pieces of arithmetic the header defines, so that user
//! space computes them as the kernel does: the compliance score and the
//! audit trail's hash chain, and the rule for a profiled operation's name
//! ([`profile_op_valid`]). It does no I/O: callers hand these structs to
//! `ioctl(2)` and decode the netlink messages themselves.
//! `tests/layout.rs` compiles the C header and checks that every size,
//! offset and constant here matches it.

use core::fmt;
use core::mem::size_of;

/// `ASM_ABI_VERSION`: the value of every struct's `version` field.
pub const ASM_ABI_VERSION: u32 = 1;
/// `ASM_DEVICE_PATH`: the misc device all requests go to.
pub const ASM_DEVICE_PATH: &str = "/dev/asm";

/// `ASM_NAME_LEN`: room for an agent name, including the terminating NUL.
pub const ASM_NAME_LEN: usize = 32;
/// `ASM_SCOPE_LEN`: room for a scope path, including the terminating NUL.
pub const ASM_SCOPE_LEN: usize = 256;

/// `ASM_ID_ALLOC_MIN`: the first id the kernel allocates for `agent_id == 0`.
pub const ASM_ID_ALLOC_MIN: u32 = 1000;
/// `ASM_ID_MAX`: the largest agent id.
pub const ASM_ID_MAX: u32 = 0x7fff_ffff;

/// `ASM_CAP_FS_BASIC`.
pub const ASM_CAP_FS_BASIC: u64 = 1 << 0;
/// `ASM_CAP_FS_EXTENDED`.
pub const ASM_CAP_FS_EXTENDED: u64 = 1 << 1;
/// `ASM_CAP_NET_CLIENT`.
pub const ASM_CAP_NET_CLIENT: u64 = 1 << 2;
/// `ASM_CAP_NET_SERVER`.
pub const ASM_CAP_NET_SERVER: u64 = 1 << 3;
/// `ASM_CAP_AUDIO_CONTROL`.
pub const ASM_CAP_AUDIO_CONTROL: u64 = 1 << 4;
/// `ASM_CAP_LLM_ACCESS`.
pub const ASM_CAP_LLM_ACCESS: u64 = 1 << 5;
/// `ASM_CAP_PROCESS_SPAWN`.
pub const ASM_CAP_PROCESS_SPAWN: u64 = 1 << 6;
/// `ASM_CAP_ADMIN`: granting it needs `CAP_SYS_ADMIN`.
pub const ASM_CAP_ADMIN: u64 = 1 << 7;
/// `ASM_CAP_ALL`: every capability bit the ABI defines.
pub const ASM_CAP_ALL: u64 = (1 << 8) - 1;

/// `enum asm_risk`: REGISTER only, taken as [`ASM_RISK_LIMITED`]. Risk
/// levels are the EU AI Act's; every agent has one.
pub const ASM_RISK_DEFAULT: u32 = 0;
/// Minimal risk.
pub const ASM_RISK_MINIMAL: u32 = 1;
/// Limited risk: transparency obligations apply.
pub const ASM_RISK_LIMITED: u32 = 2;
/// High risk: strict requirements apply.
pub const ASM_RISK_HIGH: u32 = 3;
/// Prohibited: a REGISTER asking for it is refused with `EPERM`.
pub const ASM_RISK_UNACCEPTABLE: u32 = 4;

/// `enum asm_target`: register the calling process.
pub const ASM_TARGET_SELF: u32 = 0;
/// `enum asm_target`: register another process (needs `CAP_SYS_ADMIN`).
pub const ASM_TARGET_PID: u32 = 1;
/// `enum asm_target`: register a cgroup v2 (needs `CAP_SYS_ADMIN`).
pub const ASM_TARGET_CGROUP: u32 = 2;

/// `asm_register.flags`: the calling process joins the process agent
/// `agent_id`, in Recovery, as its restart (`CAP_SYS_ADMIN`, from no agent).
pub const ASM_REGISTER_RESTART: u32 = 1 << 0;

/// `enum asm_state` values, in the order of [`STATE_NAMES`].
pub const ASM_STATE_SPAWNED: u32 = 0;
/// See [`ASM_STATE_SPAWNED`].
pub const ASM_STATE_ACTIVE: u32 = 1;
/// See [`ASM_STATE_SPAWNED`].
pub const ASM_STATE_FAULT: u32 = 2;
/// See [`ASM_STATE_SPAWNED`].
pub const ASM_STATE_RECOVERY: u32 = 3;
/// See [`ASM_STATE_SPAWNED`].
pub const ASM_STATE_RESTARTED: u32 = 4;
/// See [`ASM_STATE_SPAWNED`].
pub const ASM_STATE_EXITED: u32 = 5;
/// See [`ASM_STATE_SPAWNED`].
pub const ASM_STATE_FAILED: u32 = 6;

/// `enum asm_event_type` values.
pub const ASM_EV_REGISTER: u32 = 1;
/// See [`ASM_EV_REGISTER`].
pub const ASM_EV_UNREGISTER: u32 = 2;
/// A process joined an agent (fork or attach).
pub const ASM_EV_SPAWN: u32 = 3;
/// See [`ASM_EV_REGISTER`].
pub const ASM_EV_EXEC: u32 = 4;
/// A process of an agent exited cleanly.
pub const ASM_EV_EXIT: u32 = 5;
/// A process of an agent died by a fatal signal or a non-zero code.
pub const ASM_EV_CRASH: u32 = 6;
/// A fault was detected (see the `ASM_FAULT_*` types).
pub const ASM_EV_FAULT: u32 = 7;
/// A recovery action was taken (see the `ASM_ACTION_*` values).
pub const ASM_EV_ACTION: u32 = 8;
/// A throttle was lifted.
pub const ASM_EV_RELEASE: u32 = 9;
/// The agent ended and is to be restarted: its launcher starts it again.
pub const ASM_EV_RECOVERY: u32 = 10;
/// A process joined an agent in Recovery.
pub const ASM_EV_RESTARTED: u32 = 11;
/// The agent ended for good: no restart left, or ended by a kill action.
pub const ASM_EV_FAILED: u32 = 12;
/// An LLM request the bucket let through ended: [`ASM_A_FAULT`] is the
/// provider that answered (0: none), [`ASM_A_EXIT_CODE`] 0 or the
/// request's -errno, [`ASM_A_VALUE`] the tokens used, [`ASM_A_LIMIT`] its
/// duration in microseconds.
pub const ASM_EV_LLM: u32 = 13;

/// `enum asm_fault_type`: CPU time in a window above the quota. Fault types
/// index [`AsmFaultPolicy::actions`].
pub const ASM_FAULT_CPU_QUOTA: u32 = 1;
/// Resident memory above the limit.
pub const ASM_FAULT_MEMORY: u32 = 2;
/// System calls in a window above the rate.
pub const ASM_FAULT_SYSCALL_FLOOD: u32 = 3;
/// Fatal signal or non-zero exit.
pub const ASM_FAULT_CRASH: u32 = 4;
/// Capability violation.
pub const ASM_FAULT_CAPABILITY: u32 = 5;
/// No heartbeat within the watchdog timeout.
pub const ASM_FAULT_UNRESPONSIVE: u32 = 6;
/// `ASM_FAULT_TYPES`: 1 + the highest fault type.
pub const ASM_FAULT_TYPES: usize = 7;

/// `enum asm_action`, as stored in [`AsmFaultPolicy::actions`]: per agent,
/// follow the defaults.
pub const ASM_ACTION_DEFAULT: u8 = 0;
/// Record the fault, nothing else.
pub const ASM_ACTION_LOG: u8 = 1;
/// Stop the agent for the rest of each window once it used its quota.
pub const ASM_ACTION_THROTTLE: u8 = 2;
/// `SIGKILL` every process; no restart.
pub const ASM_ACTION_KILL: u8 = 3;
/// `SIGKILL` every process, then restart.
pub const ASM_ACTION_RESTART: u8 = 4;

/// `enum asm_preset`: take [`AsmFaultPolicy::actions`] as given.
pub const ASM_PRESET_NONE: u32 = 0;
/// The user guide's table of default actions.
pub const ASM_PRESET_DEFAULT: u32 = 1;
/// Log every fault.
pub const ASM_PRESET_PERMISSIVE: u32 = 2;
/// Kill on every fault.
pub const ASM_PRESET_STRICT: u32 = 3;

/// `ASM_LIMIT_NONE32`: a per-agent `u32` limit that is "no limit", whatever
/// the defaults say.
pub const ASM_LIMIT_NONE32: u32 = 0xffff_ffff;
/// `ASM_LIMIT_NONE64`: the same for [`AsmFaultPolicy::mem_limit_bytes`].
pub const ASM_LIMIT_NONE64: u64 = 0xffff_ffff_ffff_ffff;

/// `ASM_FP_SET_LIMITS`: SET takes the four limits.
pub const ASM_FP_SET_LIMITS: u32 = 1 << 0;
/// `ASM_FP_SET_ACTIONS`: SET takes `preset` and `actions`.
pub const ASM_FP_SET_ACTIONS: u32 = 1 << 1;
/// `ASM_FP_EFFECTIVE`: GET resolves an agent's defaults (0 then means no
/// limit).
pub const ASM_FP_EFFECTIVE: u32 = 1 << 2;

/// `ASM_WINDOW_MS`: the sampler's window.
pub const ASM_WINDOW_MS: u32 = 1000;
/// `ASM_HISTORY_WINDOWS`: how many windows the sampler keeps per agent.
pub const ASM_HISTORY_WINDOWS: usize = 60;

/// `ASM_GENL_NAME`: the generic netlink family. Every event of the ring is
/// also multicast to its group [`ASM_GENL_MCGRP_EVENTS`] as one
/// [`ASM_CMD_EVENT`] message, in order, shortly after it happened.
pub const ASM_GENL_NAME: &str = "asm";
/// `ASM_GENL_VERSION`: the family's version, as in `genlmsghdr.version`.
pub const ASM_GENL_VERSION: u8 = 1;
/// `ASM_GENL_MCGRP_EVENTS`: the multicast group of the events; joining it
/// needs `CAP_NET_ADMIN`.
pub const ASM_GENL_MCGRP_EVENTS: &str = "events";
/// `ASM_GENL_MCGRP_GATEWAY`: the gateway helper's notices
/// ([`ASM_CMD_GW_NOTIFY`]); joining it needs `CAP_NET_ADMIN`.
pub const ASM_GENL_MCGRP_GATEWAY: &str = "gateway";

/// `enum asm_genl_cmd`, as in `genlmsghdr.cmd`: unused.
pub const ASM_CMD_UNSPEC: u8 = 0;
/// Kernel to user, multicast: one event.
pub const ASM_CMD_EVENT: u8 = 1;
/// Helper to kernel: the sending socket becomes the gateway helper.
pub const ASM_CMD_GW_REGISTER: u8 = 2;
/// Kernel to helper, multicast to [`ASM_GENL_MCGRP_GATEWAY`]: a request is
/// queued.
pub const ASM_CMD_GW_NOTIFY: u8 = 3;
/// Helper to kernel: the oldest queued request (the reply's attributes).
pub const ASM_CMD_GW_PULL: u8 = 4;
/// Helper to kernel: the answer to a request it pulled.
pub const ASM_CMD_GW_COMPLETE: u8 = 5;

/// `enum asm_genl_attr`, as in `nla_type`: unused.
pub const ASM_A_UNSPEC: u16 = 0;
/// Padding that aligns the 64-bit attributes.
pub const ASM_A_PAD: u16 = 1;
/// u64: numbers the events from 0 since the module loaded; a gap means
/// events were lost.
pub const ASM_A_SEQ: u16 = 2;
/// u64: `CLOCK_BOOTTIME` of the event, in nanoseconds.
pub const ASM_A_TIMESTAMP_NS: u16 = 3;
/// u32: an `ASM_EV_*` value.
pub const ASM_A_EVENT_TYPE: u16 = 4;
/// u32: the agent.
pub const ASM_A_AGENT_ID: u16 = 5;
/// s32: the process, in the initial pid namespace; 0 if none.
pub const ASM_A_PID: u16 = 6;
/// s32: the exit code (0-255) of [`ASM_EV_EXIT`] and [`ASM_EV_CRASH`]; 0
/// or the request's -errno of [`ASM_EV_LLM`].
pub const ASM_A_EXIT_CODE: u16 = 7;
/// s32: the signal that ended the process, for [`ASM_EV_CRASH`] and for an
/// [`ASM_EV_EXIT`] caused by a kill or restart action; 0 if none.
pub const ASM_A_SIGNAL: u16 = 8;
/// u32: an `ASM_FAULT_*` value; for [`ASM_EV_LLM`], the `asm_llm_provider`
/// that answered (0: none).
pub const ASM_A_FAULT: u16 = 9;
/// u32: an `ASM_ACTION_*` value.
pub const ASM_A_ACTION: u16 = 10;
/// u64: the observed value of [`ASM_EV_FAULT`]; the restart count of
/// [`ASM_EV_RECOVERY`], [`ASM_EV_RESTARTED`] and [`ASM_EV_FAILED`]; the
/// tokens used of [`ASM_EV_LLM`].
pub const ASM_A_VALUE: u16 = 11;
/// u64: the limit of [`ASM_EV_FAULT`]; the restart budget of the restart
/// events; the duration of [`ASM_EV_LLM`]'s request, in microseconds.
pub const ASM_A_LIMIT: u16 = 12;
/// u64: a gateway request's number.
pub const ASM_A_REQ_ID: u16 = 13;
/// u32: the requesting agent's owner (effective uid).
pub const ASM_A_UID: u16 = 14;
/// u64: the requesting agent's capabilities.
pub const ASM_A_CAPS: u16 = 15;
/// Binary, UTF-8: the prompt.
pub const ASM_A_PROMPT: u16 = 16;
/// Binary, UTF-8: the system message.
pub const ASM_A_SYSTEM: u16 = 17;
/// u32: the request's max_tokens.
pub const ASM_A_MAX_TOKENS: u16 = 18;
/// u32: the request's temperature, in thousandths.
pub const ASM_A_TEMPERATURE: u16 = 19;
/// u32: an `asm_llm_provider` (the preference in a pull, the answering one
/// in a completion).
pub const ASM_A_PROVIDER: u16 = 20;
/// u32: the request's timeout.
pub const ASM_A_TIMEOUT_MS: u16 = 21;
/// u32: 0, or the errno (EIO, ETIMEDOUT) the request fails with.
pub const ASM_A_STATUS: u16 = 22;
/// Binary, UTF-8: the answer's text.
pub const ASM_A_TEXT: u16 = 23;
/// u32: tokens the answer used.
pub const ASM_A_TOKENS_USED: u16 = 24;
/// Flag: a fallback provider answered.
pub const ASM_A_FALLBACK: u16 = 25;
/// Binary: the u32 providers tried, in order.
pub const ASM_A_TRIED: u16 = 26;
/// `ASM_A_MAX`: the highest attribute.
pub const ASM_A_MAX: u16 = ASM_A_TRIED;

/// `enum asm_llm_provider`: no preference (requests only).
pub const ASM_LLM_ANY: u32 = 0;
/// Anthropic's Claude.
pub const ASM_LLM_CLAUDE: u32 = 1;
/// OpenAI's GPT-4.
pub const ASM_LLM_GPT4: u32 = 2;
/// Google's Gemini.
pub const ASM_LLM_GEMINI: u32 = 3;
/// A local, OpenAI-compatible server.
pub const ASM_LLM_LOCAL: u32 = 4;
/// `ASM_LLM_PROMPT_MAX`: a prompt's maximum, in bytes.
pub const ASM_LLM_PROMPT_MAX: usize = 32768;
/// `ASM_LLM_SYSTEM_MAX`: a system message's maximum, in bytes.
pub const ASM_LLM_SYSTEM_MAX: usize = 8192;
/// `ASM_LLM_TEXT_MAX`: an answer's maximum ([`ASM_A_TEXT`]), in bytes.
pub const ASM_LLM_TEXT_MAX: usize = 32768;
/// `ASM_LLM_REQUEST_MAX`: a request document's maximum, in bytes.
pub const ASM_LLM_REQUEST_MAX: usize = 65536;
/// `ASM_LLM_MAX_TOKENS_MAX`: the largest `max_tokens` of a request.
pub const ASM_LLM_MAX_TOKENS_MAX: u32 = 100_000;
/// `ASM_LLM_TIMEOUT_MAX_MS`: the largest `timeout_ms` of a request.
pub const ASM_LLM_TIMEOUT_MAX_MS: u32 = 600_000;
/// `ASM_LLM_RESPONSE_MIN`: the smallest response buffer, in bytes.
pub const ASM_LLM_RESPONSE_MIN: usize = 256;
/// The most providers [`ASM_A_TRIED`] may list.
pub const ASM_LLM_TRIED_MAX: usize = 64;
/// `ASM_LLM_SUBMIT`: [`AsmLlmRequest::flags`]: queue the request and return
/// at once with its `request_id` (`response` and `response_len` 0).
pub const ASM_LLM_SUBMIT: u32 = 1 << 0;
/// `ASM_LLM_COLLECT`: [`AsmLlmRequest::flags`]: take a finished request of
/// the same open file (`request_id` in: the one wanted, 0 for any; out: the
/// one taken), its response document or its errno; `EAGAIN` while
/// unfinished, `ENOENT` for one unknown or already collected.
pub const ASM_LLM_COLLECT: u32 = 1 << 1;

/// `ASM_IOC_MAGIC`: the ioctl type byte.
pub const ASM_IOC_MAGIC: u32 = 0xBA;

// The request numbers are `_IOWR`/`_IOW` as the kernel's headers define
// them for the architecture we are built for: nix's `request_code_*` macros
// pick the `_IOC` layout (the generic one of x86, arm, arm64 and riscv, or
// the one of mips, powerpc and sparc, whose direction bits differ). The
// macros expand to plain integer arithmetic, so the numbers stay `const`.
// Their type is the C library's (`c_ulong`, or `c_int` with musl); the
// encoding fits 32 bits on every architecture, so the cast to the `u32`
// used here keeps every bit.

/// `_IOC_SIZEBITS` of the architectures with the narrowest size field
/// (mips, powerpc, sparc: 13 bits; 14 elsewhere).
const IOC_SIZE_BITS: u32 = 13;

/// `code`, the request number of an argument of `size` bytes, once `size`
/// is known to fit: the `_IOC` macros (C and nix alike) silently mask a
/// size too large for the field, and this refuses one at compile time
/// instead, on every architecture.
const fn request(code: u32, size: usize) -> u32 {
    assert!(size < (1 << IOC_SIZE_BITS));
    code
}

/// `_IOW(ASM_IOC_MAGIC, nr, T)`.
macro_rules! iow {
    ($nr:expr, $t:ty) => {
        request(
            nix::request_code_write!(ASM_IOC_MAGIC, $nr, size_of::<$t>()) as u32,
            size_of::<$t>(),
        )
    };
}

/// `_IOWR(ASM_IOC_MAGIC, nr, T)`.
macro_rules! iowr {
    ($nr:expr, $t:ty) => {
        request(
            nix::request_code_readwrite!(ASM_IOC_MAGIC, $nr, size_of::<$t>()) as u32,
            size_of::<$t>(),
        )
    };
}

/// `ASM_IOC_REGISTER`: `_IOWR(0xBA, 0x01, struct asm_register)`.
pub const ASM_IOC_REGISTER: u32 = iowr!(0x01, AsmRegister);
/// `ASM_IOC_UNREGISTER`: `_IOW(0xBA, 0x02, struct asm_unregister)`.
pub const ASM_IOC_UNREGISTER: u32 = iow!(0x02, AsmUnregister);
/// `ASM_IOC_LIST`: `_IOWR(0xBA, 0x03, struct asm_list)`.
pub const ASM_IOC_LIST: u32 = iowr!(0x03, AsmList);
/// `ASM_IOC_GET_INFO`: `_IOWR(0xBA, 0x04, struct asm_agent_info)`.
pub const ASM_IOC_GET_INFO: u32 = iowr!(0x04, AsmAgentInfo);
/// `ASM_IOC_GET_TELEMETRY_JSON`: `_IOWR(0xBA, 0x05, struct asm_json)`.
pub const ASM_IOC_GET_TELEMETRY_JSON: u32 = iowr!(0x05, AsmJson);
/// `ASM_IOC_GET_AGENT_INFO_JSON`: `_IOWR(0xBA, 0x06, struct asm_json)`.
pub const ASM_IOC_GET_AGENT_INFO_JSON: u32 = iowr!(0x06, AsmJson);
/// `ASM_IOC_SET_FAULT_POLICY`: `_IOW(0xBA, 0x07, struct asm_fault_policy)`.
pub const ASM_IOC_SET_FAULT_POLICY: u32 = iow!(0x07, AsmFaultPolicy);
/// `ASM_IOC_GET_FAULT_POLICY`: `_IOWR(0xBA, 0x08, struct asm_fault_policy)`.
pub const ASM_IOC_GET_FAULT_POLICY: u32 = iowr!(0x08, AsmFaultPolicy);
/// `ASM_IOC_HEARTBEAT`: `_IOWR(0xBA, 0x09, struct asm_heartbeat)`.
pub const ASM_IOC_HEARTBEAT: u32 = iowr!(0x09, AsmHeartbeat);
/// `ASM_IOC_GET_HISTORY`: `_IOWR(0xBA, 0x0a, struct asm_history)`.
pub const ASM_IOC_GET_HISTORY: u32 = iowr!(0x0a, AsmHistory);
/// `ASM_IOC_PATCH_POLICY`: `_IOWR(0xBA, 0x0b, struct asm_patch)`.
pub const ASM_IOC_PATCH_POLICY: u32 = iowr!(0x0b, AsmPatch);
/// `ASM_IOC_GET_AUDIT`: `_IOWR(0xBA, 0x0c, struct asm_audit_read)`.
pub const ASM_IOC_GET_AUDIT: u32 = iowr!(0x0c, AsmAuditRead);
/// `ASM_IOC_GET_COMPLIANCE`: `_IOWR(0xBA, 0x0d, struct asm_compliance)`.
pub const ASM_IOC_GET_COMPLIANCE: u32 = iowr!(0x0d, AsmCompliance);
/// `ASM_IOC_OVERSIGHT`: `_IOWR(0xBA, 0x0e, struct asm_note)`.
pub const ASM_IOC_OVERSIGHT: u32 = iowr!(0x0e, AsmNote);
/// `ASM_IOC_DECISION`: `_IOWR(0xBA, 0x0f, struct asm_note)`.
pub const ASM_IOC_DECISION: u32 = iowr!(0x0f, AsmNote);
/// `ASM_IOC_SENSITIVE`: `_IOWR(0xBA, 0x10, struct asm_sensitive)`.
pub const ASM_IOC_SENSITIVE: u32 = iowr!(0x10, AsmSensitive);
/// `ASM_IOC_LLM_REQUEST`: `_IOWR(0xBA, 0x11, struct asm_llm_request)`.
pub const ASM_IOC_LLM_REQUEST: u32 = iowr!(0x11, AsmLlmRequest);
/// `ASM_IOC_DEPS`: `_IOWR(0xBA, 0x12, struct asm_deps)`.
pub const ASM_IOC_DEPS: u32 = iowr!(0x12, AsmDeps);
/// `ASM_IOC_PROFILE`: `_IOWR(0xBA, 0x13, struct asm_profile)`.
pub const ASM_IOC_PROFILE: u32 = iowr!(0x13, AsmProfile);

/// A string that does not fit a fixed `char[]` field of the ABI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StrError {
    /// Longer than the field minus its NUL; carries the maximum length.
    TooLong(usize),
    /// Contains a NUL byte, which would cut it short in the kernel.
    Nul,
}

impl fmt::Display for StrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StrError::TooLong(max) => write!(f, "longer than {max} bytes"),
            StrError::Nul => f.write_str("contains a NUL byte"),
        }
    }
}

/// Copies `src` into a zeroed `char[]` field, keeping room for the NUL.
fn set_cstr<const N: usize>(dst: &mut [u8; N], src: &[u8]) -> Result<(), StrError> {
    if src.contains(&0) {
        return Err(StrError::Nul);
    }
    if src.len() >= N {
        return Err(StrError::TooLong(N - 1));
    }
    *dst = [0; N];
    dst[..src.len()].copy_from_slice(src);
    Ok(())
}

/// The bytes of a `char[]` field up to its first NUL (or all of them if the
/// kernel left none, so a malformed reply cannot make us read past it).
fn get_cstr(src: &[u8]) -> &[u8] {
    let end = src.iter().position(|&b| b == 0).unwrap_or(src.len());
    &src[..end]
}

/// `struct asm_register`: the `ASM_IOC_REGISTER` argument.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsmRegister {
    /// `sizeof(struct asm_register)`.
    pub size: u32,
    /// [`ASM_ABI_VERSION`].
    pub version: u32,
    /// In: the id to use, or 0 to have one allocated. Out: the agent's id.
    pub agent_id: u32,
    /// One of the `ASM_TARGET_*` values.
    pub target: u32,
    /// In: the process for [`ASM_TARGET_PID`], else 0. Out: the registered
    /// process in the caller's pid namespace (0 for a cgroup).
    pub pid: i32,
    /// An open fd of the cgroup v2 directory for [`ASM_TARGET_CGROUP`], else 0.
    pub cgroup_fd: i32,
    /// `ASM_CAP_*` bits.
    pub capabilities: u64,
    /// How many restarts the agent may have (0: none).
    pub auto_restart: u32,
    /// Must be 0.
    pub flags: u32,
    /// NUL-terminated name, 1 to `ASM_NAME_LEN - 1` printable characters.
    pub name: [u8; ASM_NAME_LEN],
    /// NUL-terminated absolute path, or empty for no scope.
    pub scope: [u8; ASM_SCOPE_LEN],
    /// One of the `ASM_RISK_*` values; [`ASM_RISK_DEFAULT`] is Limited. An
    /// Unacceptable agent is refused with `EPERM` (and the refusal is
    /// audited).
    pub risk_level: u32,
    /// Must be 0.
    pub reserved0: u32,
    /// Must be 0.
    pub reserved: [u64; 3],
}

const _: () = assert!(size_of::<AsmRegister>() == 360);

impl AsmRegister {
    /// A zeroed request with `size` and `version` filled in.
    pub const fn new() -> Self {
        Self {
            size: size_of::<Self>() as u32,
            version: ASM_ABI_VERSION,
            agent_id: 0,
            target: ASM_TARGET_SELF,
            pid: 0,
            cgroup_fd: 0,
            capabilities: 0,
            auto_restart: 0,
            flags: 0,
            name: [0; ASM_NAME_LEN],
            scope: [0; ASM_SCOPE_LEN],
            risk_level: ASM_RISK_DEFAULT,
            reserved0: 0,
            reserved: [0; 3],
        }
    }

    /// Sets `name`; the kernel checks that it is non-empty and printable.
    pub fn set_name(&mut self, name: &[u8]) -> Result<(), StrError> {
        set_cstr(&mut self.name, name)
    }

    /// Sets `scope`; the kernel checks that it is absolute.
    pub fn set_scope(&mut self, scope: &[u8]) -> Result<(), StrError> {
        set_cstr(&mut self.scope, scope)
    }
}

impl Default for AsmRegister {
    fn default() -> Self {
        Self::new()
    }
}

/// `struct asm_unregister`: the `ASM_IOC_UNREGISTER` argument.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsmUnregister {
    /// `sizeof(struct asm_unregister)`.
    pub size: u32,
    /// [`ASM_ABI_VERSION`].
    pub version: u32,
    /// The agent to forget; its processes keep running.
    pub agent_id: u32,
    /// Must be 0.
    pub flags: u32,
    /// Must be 0.
    pub reserved: [u64; 2],
}

const _: () = assert!(size_of::<AsmUnregister>() == 32);

impl AsmUnregister {
    /// A request to unregister `agent_id`, with `size` and `version` filled in.
    pub const fn new(agent_id: u32) -> Self {
        Self {
            size: size_of::<Self>() as u32,
            version: ASM_ABI_VERSION,
            agent_id,
            flags: 0,
            reserved: [0; 2],
        }
    }
}

/// `struct asm_list`: the `ASM_IOC_LIST` argument.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsmList {
    /// `sizeof(struct asm_list)`.
    pub size: u32,
    /// [`ASM_ABI_VERSION`].
    pub version: u32,
    /// User pointer to an array of `capacity` `u32` agent ids.
    pub ids: u64,
    /// Entries `ids` has room for.
    pub capacity: u32,
    /// Out: how many agents there are; above `capacity` the call fails with
    /// `ERANGE` after writing the first `capacity` ids.
    pub count: u32,
    /// Must be 0.
    pub reserved: [u64; 2],
}

const _: () = assert!(size_of::<AsmList>() == 40);

impl AsmList {
    /// A request for up to `capacity` ids written to `ids` (a user pointer),
    /// with `size` and `version` filled in.
    pub const fn new(ids: u64, capacity: u32) -> Self {
        Self {
            size: size_of::<Self>() as u32,
            version: ASM_ABI_VERSION,
            ids,
            capacity,
            count: 0,
            reserved: [0; 2],
        }
    }
}

/// `struct asm_agent_info`: the `ASM_IOC_GET_INFO` argument.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsmAgentInfo {
    /// `sizeof(struct asm_agent_info)`.
    pub size: u32,
    /// [`ASM_ABI_VERSION`].
    pub version: u32,
    /// In: the agent. Every other field is out.
    pub agent_id: u32,
    /// One of the `ASM_STATE_*` values.
    pub state: u32,
    /// The registered process in the caller's pid namespace, or 0.
    pub pid: i32,
    /// Effective uid of whoever registered the agent.
    pub owner_uid: u32,
    /// Live processes of the agent now.
    pub nr_processes: u32,
    /// Restart budget.
    pub auto_restart: u32,
    /// Restarts so far.
    pub restart_count: u32,
    /// One of the `ASM_RISK_*` values (never [`ASM_RISK_DEFAULT`]).
    pub risk_level: u32,
    /// `ASM_CAP_*` bits.
    pub capabilities: u64,
    /// Processes that joined the agent.
    pub spawns: u64,
    /// Processes of the agent that exited, cleanly or not.
    pub exits: u64,
    /// Exits by fatal signal or with a non-zero code.
    pub crashes: u64,
    /// Faults detected (a crash is a fault).
    pub faults: u64,
    /// Successful `execve()` calls by the agent's processes.
    pub execs: u64,
    /// CPU time of all its processes, live and exited, in microseconds.
    pub cpu_us: u64,
    /// Resident memory of its live processes, in bytes.
    pub mem_bytes: u64,
    /// wait(2)-style status of the last process exit.
    pub last_exit_code: i64,
    /// `CLOCK_BOOTTIME` when registered, in nanoseconds.
    pub registered_ns: u64,
    /// `CLOCK_BOOTTIME` of its last lifecycle event, in nanoseconds.
    pub last_activity_ns: u64,
    /// The agent's name, NUL-terminated.
    pub name: [u8; ASM_NAME_LEN],
    /// Its scope path, NUL-terminated ("" for none).
    pub scope: [u8; ASM_SCOPE_LEN],
    /// The cgroup v2 id of a cgroup agent; 0 for a process agent.
    pub cgroup_id: u64,
    /// Must be 0 on input.
    pub reserved: [u64; 3],
}

const _: () = assert!(size_of::<AsmAgentInfo>() == 448);

impl AsmAgentInfo {
    /// A query for `agent_id`, with `size` and `version` filled in.
    pub const fn new(agent_id: u32) -> Self {
        Self {
            size: size_of::<Self>() as u32,
            version: ASM_ABI_VERSION,
            agent_id,
            state: 0,
            pid: 0,
            owner_uid: 0,
            nr_processes: 0,
            auto_restart: 0,
            restart_count: 0,
            risk_level: 0,
            capabilities: 0,
            spawns: 0,
            exits: 0,
            crashes: 0,
            faults: 0,
            execs: 0,
            cpu_us: 0,
            mem_bytes: 0,
            last_exit_code: 0,
            registered_ns: 0,
            last_activity_ns: 0,
            name: [0; ASM_NAME_LEN],
            scope: [0; ASM_SCOPE_LEN],
            cgroup_id: 0,
            reserved: [0; 3],
        }
    }

    /// The name's bytes, without the NUL.
    pub fn name(&self) -> &[u8] {
        get_cstr(&self.name)
    }

    /// The scope's bytes, without the NUL (empty for no scope).
    pub fn scope(&self) -> &[u8] {
        get_cstr(&self.scope)
    }
}

/// `struct asm_json`: the argument of `ASM_IOC_GET_TELEMETRY_JSON` and
/// `ASM_IOC_GET_AGENT_INFO_JSON`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsmJson {
    /// `sizeof(struct asm_json)`.
    pub size: u32,
    /// [`ASM_ABI_VERSION`].
    pub version: u32,
    /// The agent for GET_AGENT_INFO_JSON; 0 for GET_TELEMETRY_JSON.
    pub agent_id: u32,
    /// In: room at `buf`. Out: the document's length (also on `ERANGE`,
    /// where it is the room needed).
    pub len: u32,
    /// User pointer the JSON document (no NUL) is written to.
    pub buf: u64,
    /// Must be 0.
    pub reserved: [u64; 2],
}

const _: () = assert!(size_of::<AsmJson>() == 40);

impl AsmJson {
    /// A request for `agent_id`'s document (0 for telemetry) written to
    /// `buf` (a user pointer) with room for `len` bytes.
    pub const fn new(agent_id: u32, buf: u64, len: u32) -> Self {
        Self {
            size: size_of::<Self>() as u32,
            version: ASM_ABI_VERSION,
            agent_id,
            len,
            buf,
            reserved: [0; 2],
        }
    }
}

/// `struct asm_fault_policy`: the argument of `ASM_IOC_SET_FAULT_POLICY` and
/// `ASM_IOC_GET_FAULT_POLICY`, an agent's (or the defaults') limits and
/// recovery actions.
///
/// For an agent a limit of 0 and an action of [`ASM_ACTION_DEFAULT`] follow
/// the defaults, and [`ASM_LIMIT_NONE32`]/[`ASM_LIMIT_NONE64`] is no limit.
/// In the defaults 0 is no limit and every action must be set.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsmFaultPolicy {
    /// `sizeof(struct asm_fault_policy)`.
    pub size: u32,
    /// [`ASM_ABI_VERSION`].
    pub version: u32,
    /// The agent, or 0 for the defaults every agent follows.
    pub agent_id: u32,
    /// SET: [`ASM_FP_SET_LIMITS`] and/or [`ASM_FP_SET_ACTIONS`] (at least
    /// one). GET: 0 or [`ASM_FP_EFFECTIVE`].
    pub flags: u32,
    /// CPU time per [`ASM_WINDOW_MS`] window, in ms (all threads).
    pub cpu_quota_ms: u32,
    /// System calls per second.
    pub syscall_rate: u32,
    /// Heartbeat timeout of an agent that sent a heartbeat, in ms.
    pub watchdog_ms: u32,
    /// SET with [`ASM_FP_SET_ACTIONS`]: one of the `ASM_PRESET_*` values;
    /// with [`ASM_PRESET_NONE`] `actions` is taken as given. GET: 0.
    pub preset: u32,
    /// Resident memory of all its processes, in bytes.
    pub mem_limit_bytes: u64,
    /// An `ASM_ACTION_*` value per `ASM_FAULT_*` type; `[0]` and `[7]` are 0.
    pub actions: [u8; 8],
    /// Must be 0.
    pub reserved: [u64; 4],
}

const _: () = assert!(size_of::<AsmFaultPolicy>() == 80);

impl AsmFaultPolicy {
    /// A zeroed request for `agent_id` (0: the defaults) with `flags`, and
    /// `size` and `version` filled in.
    pub const fn new(agent_id: u32, flags: u32) -> Self {
        Self {
            size: size_of::<Self>() as u32,
            version: ASM_ABI_VERSION,
            agent_id,
            flags,
            cpu_quota_ms: 0,
            syscall_rate: 0,
            watchdog_ms: 0,
            preset: ASM_PRESET_NONE,
            mem_limit_bytes: 0,
            actions: [ASM_ACTION_DEFAULT; 8],
            reserved: [0; 4],
        }
    }
}

/// `struct asm_heartbeat`: the `ASM_IOC_HEARTBEAT` argument. The calling
/// process's agent is alive; the first heartbeat arms its watchdog.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsmHeartbeat {
    /// `sizeof(struct asm_heartbeat)`.
    pub size: u32,
    /// [`ASM_ABI_VERSION`].
    pub version: u32,
    /// Out: the caller's agent.
    pub agent_id: u32,
    /// Must be 0.
    pub flags: u32,
    /// Must be 0.
    pub reserved: [u64; 2],
}

const _: () = assert!(size_of::<AsmHeartbeat>() == 32);

impl AsmHeartbeat {
    /// A heartbeat with `size` and `version` filled in.
    pub const fn new() -> Self {
        Self {
            size: size_of::<Self>() as u32,
            version: ASM_ABI_VERSION,
            agent_id: 0,
            flags: 0,
            reserved: [0; 2],
        }
    }
}

impl Default for AsmHeartbeat {
    fn default() -> Self {
        Self::new()
    }
}

/// `struct asm_window`: one sampler window of an agent.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AsmWindow {
    /// `CLOCK_BOOTTIME` when the window began, in nanoseconds.
    pub start_ns: u64,
    /// CPU time its processes used in the window, in nanoseconds.
    pub cpu_ns: u64,
    /// Resident memory at the end of the window, in bytes.
    pub rss_bytes: u64,
    /// System calls entered in the window.
    pub syscalls: u64,
    /// Read and write system calls in the window (task I/O accounting).
    pub io_ops: u64,
}

const _: () = assert!(size_of::<AsmWindow>() == 40);

/// `struct asm_history`: the `ASM_IOC_GET_HISTORY` argument.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsmHistory {
    /// `sizeof(struct asm_history)`.
    pub size: u32,
    /// [`ASM_ABI_VERSION`].
    pub version: u32,
    /// The agent.
    pub agent_id: u32,
    /// Out: windows written to `windows`, oldest first: the newest
    /// min(`capacity`, windows kept), at most [`ASM_HISTORY_WINDOWS`].
    pub count: u32,
    /// User pointer to `capacity` [`AsmWindow`]s.
    pub windows: u64,
    /// Entries `windows` has room for (0 is allowed).
    pub capacity: u32,
    /// Out: [`ASM_WINDOW_MS`].
    pub window_ms: u32,
    /// Out: CPU time since the agent was first sampled, in nanoseconds.
    pub cpu_ns: u64,
    /// Out: system calls since then.
    pub syscalls: u64,
    /// Out: read and write system calls since then.
    pub io_ops: u64,
    /// Out: resident memory at the last sample, in bytes.
    pub rss_bytes: u64,
    /// Out: the highest resident memory sampled, in bytes.
    pub rss_peak_bytes: u64,
    /// Out: 1 while a throttle holds the agent.
    pub throttled: u32,
    /// Out: 0.
    pub reserved0: u32,
    /// Must be 0.
    pub reserved: [u64; 4],
}

const _: () = assert!(size_of::<AsmHistory>() == 112);

impl AsmHistory {
    /// A request for `agent_id`'s newest windows, written to `windows` (a
    /// user pointer) with room for `capacity`, with `size` and `version`
    /// filled in.
    pub const fn new(agent_id: u32, windows: u64, capacity: u32) -> Self {
        Self {
            size: size_of::<Self>() as u32,
            version: ASM_ABI_VERSION,
            agent_id,
            count: 0,
            windows,
            capacity,
            window_ms: 0,
            cpu_ns: 0,
            syscalls: 0,
            io_ops: 0,
            rss_bytes: 0,
            rss_peak_bytes: 0,
            throttled: 0,
            reserved0: 0,
            reserved: [0; 4],
        }
    }
}

/// `enum asm_patch_op`: add the `ASM_CAP_*` bits in [`AsmPatch::value`].
pub const ASM_PATCH_ADD_CAPABILITY: u32 = 1;
/// Remove the `ASM_CAP_*` bits in [`AsmPatch::value`].
pub const ASM_PATCH_REMOVE_CAPABILITY: u32 = 2;
/// Set the scope to [`AsmPatch::scope`] ("" for none).
pub const ASM_PATCH_UPDATE_SCOPE: u32 = 3;
/// Set the restart budget to [`AsmPatch::value`].
pub const ASM_PATCH_SET_AUTO_RESTART: u32 = 4;
/// Set the four limits, as `ASM_IOC_SET_FAULT_POLICY` does.
pub const ASM_PATCH_SET_LIMITS: u32 = 5;
/// Set the risk level to [`AsmPatch::value`]: Minimal, Limited or High.
pub const ASM_PATCH_SET_RISK: u32 = 6;
/// Set the LLM token bucket to [`AsmPatch::llm_burst`] and
/// [`AsmPatch::llm_refill`]. Its audit entry's old and new value are
/// `burst << 32 | refill` (see [`llm_rate_value`]).
pub const ASM_PATCH_SET_LLM_RATE: u32 = 7;

/// `ASM_LLM_BURST_MAX`: the largest LLM bucket, in requests.
pub const ASM_LLM_BURST_MAX: u32 = 10000;
/// `ASM_LLM_REFILL_MAX`: the fastest LLM bucket refill, in requests per
/// second.
pub const ASM_LLM_REFILL_MAX: u32 = 10000;
/// `ASM_LLM_BURST_DEFAULT`: an agent's LLM bucket until a patch sets it.
pub const ASM_LLM_BURST_DEFAULT: u32 = 30;
/// `ASM_LLM_REFILL_DEFAULT`: its refill until a patch sets it, per second.
pub const ASM_LLM_REFILL_DEFAULT: u32 = 10;

/// An LLM rate as an [`ASM_PATCH_SET_LLM_RATE`] audit entry stores it in
/// its old and new value: `burst << 32 | refill`.
pub const fn llm_rate_value(burst: u32, refill: u32) -> u64 {
    (burst as u64) << 32 | refill as u64
}

/// The `(burst, refill)` of an [`ASM_PATCH_SET_LLM_RATE`] audit value.
pub const fn llm_rate_of(value: u64) -> (u32, u32) {
    ((value >> 32) as u32, value as u32)
}

/// `enum asm_violation`: a file opened outside the policy.
pub const ASM_VIOLATION_FILE: u32 = 1;
/// `connect()` without NetClient.
pub const ASM_VIOLATION_CONNECT: u32 = 2;
/// `listen()` without NetServer.
pub const ASM_VIOLATION_LISTEN: u32 = 3;
/// An exec in a forked process without ProcessSpawn.
pub const ASM_VIOLATION_EXEC: u32 = 4;
/// An LLM request without LlmAccess, by no agent, or for another agent.
pub const ASM_VIOLATION_LLM: u32 = 5;

/// `enum asm_oversight`: a human reviewed the agent.
pub const ASM_OVERSIGHT_REVIEW: u32 = 1;
/// ... approved what it does.
pub const ASM_OVERSIGHT_APPROVE: u32 = 2;
/// ... rejected it.
pub const ASM_OVERSIGHT_REJECT: u32 = 3;
/// ... stopped it: every process gets `SIGKILL`, the agent ends Failed.
pub const ASM_OVERSIGHT_STOP: u32 = 4;

/// `enum asm_audit_kind`: a registration, or a refused one
/// (`new_value`: the risk level; `result`: the refusal's errno).
pub const ASM_AUDIT_REGISTER: u32 = 1;
/// An agent was unregistered.
pub const ASM_AUDIT_UNREGISTER: u32 = 2;
/// A policy patch (`op`: `ASM_PATCH_*`; the old and new value; `result` 0
/// or -errno).
pub const ASM_AUDIT_PATCH: u32 = 3;
/// A refused attempt to grant Admin.
pub const ASM_AUDIT_ESCALATION: u32 = 4;
/// `ASM_IOC_SET_FAULT_POLICY` (agent 0: the defaults); `op`: its flags.
pub const ASM_AUDIT_FAULT_POLICY: u32 = 5;
/// A capability violation (`op`: `ASM_VIOLATION_*`; `new_value`: the
/// action taken; `detail`: what).
pub const ASM_AUDIT_VIOLATION: u32 = 6;
/// A decision the agent reported (`ASM_IOC_DECISION`).
pub const ASM_AUDIT_DECISION: u32 = 7;
/// A path marked sensitive was opened.
pub const ASM_AUDIT_SENSITIVE: u32 = 8;
/// Human oversight (`op`: `ASM_OVERSIGHT_*`).
pub const ASM_AUDIT_OVERSIGHT: u32 = 9;
/// The agent ended (`old_value`: its syscalls; `new_value`: its execs;
/// `detail`: every count).
pub const ASM_AUDIT_EXIT: u32 = 10;
/// The sensitive paths changed.
pub const ASM_AUDIT_SENSITIVE_SET: u32 = 11;
/// An LLM request, in the LLM trail only (`op`: the `asm_llm_provider` that
/// answered, 0 for none; `result` 0 or -errno; `old_value`: the tokens
/// used; `new_value`: the duration in microseconds; `detail`: the request,
/// and the prompt's start where the module is set to record it).
pub const ASM_AUDIT_LLM: u32 = 12;
/// A dependency edge added or removed (`op`: [`ASM_DEP_ADD`] or
/// [`ASM_DEP_REMOVE`]; `old_value`: the dependency's id; `new_value`: the
/// edge's `ASM_DEP_*` kind; `result` 0 or -errno). `agent_id` is the
/// dependent.
pub const ASM_AUDIT_DEPENDENCY: u32 = 13;

/// `enum asm_audit_trail`, [`AsmAuditRead::trail`]: registrations, patches,
/// violations and the rest, [`ASM_AUDIT_ENTRIES`] kept.
pub const ASM_AUDIT_TRAIL_POLICY: u32 = 0;
/// One entry per LLM request that reached the bucket,
/// [`ASM_AUDIT_LLM_ENTRIES`] kept. Each trail is its own hash chain,
/// numbered from 0.
pub const ASM_AUDIT_TRAIL_LLM: u32 = 1;

/// `ASM_AUDIT_DETAIL_LEN`: room for an audit entry's detail, including the
/// terminating NUL.
pub const ASM_AUDIT_DETAIL_LEN: usize = 192;
/// `ASM_AUDIT_HASH_LEN`: a SHA-256 hash.
pub const ASM_AUDIT_HASH_LEN: usize = 32;
/// `ASM_AUDIT_ENTRIES`: the entries the kernel keeps.
pub const ASM_AUDIT_ENTRIES: usize = 256;
/// `ASM_AUDIT_LLM_ENTRIES`: the entries the kernel keeps in the LLM trail.
pub const ASM_AUDIT_LLM_ENTRIES: usize = 512;
/// `ASM_AUDIT_LIMIT_BURST`: entries one source (a user's refusals, an
/// agent's own reports) may add per [`ASM_AUDIT_LIMIT_WINDOW_S`].
pub const ASM_AUDIT_LIMIT_BURST: u32 = 32;
/// `ASM_AUDIT_LIMIT_WINDOW_S`: the rate limit's window, in seconds.
pub const ASM_AUDIT_LIMIT_WINDOW_S: u32 = 60;
/// `ASM_AUDIT_SUPPRESSED`: the `audit_seq` of an entry the limit kept out.
pub const ASM_AUDIT_SUPPRESSED: u64 = !0;
/// `ASM_UNREGISTER_RECLAIMED`: the op of an unregister entry made when the
/// module reclaimed an unprivileged user's ended agent.
pub const ASM_UNREGISTER_RECLAIMED: u32 = 1;

/// `enum asm_compliance_status`: score >= 900.
pub const ASM_COMPLIANT: u32 = 1;
/// 700 <= score < 900.
pub const ASM_REVIEW_NEEDED: u32 = 2;
/// score < 700.
pub const ASM_NON_COMPLIANT: u32 = 3;

/// `ASM_SCORE_MAX`: the best compliance score, in thousandths.
pub const ASM_SCORE_MAX: u32 = 1000;
/// `ASM_SCORE_VIOLATION`: what each capability violation costs.
pub const ASM_SCORE_VIOLATION: u32 = 150;
/// `ASM_SCORE_CRASH`: what each crash costs.
pub const ASM_SCORE_CRASH: u32 = 50;
/// `ASM_SCORE_OVERSIGHT`: what each human oversight action earns.
pub const ASM_SCORE_OVERSIGHT: u32 = 25;
/// `ASM_SCORE_CLEAN_EXIT`: what each clean exit earns.
pub const ASM_SCORE_CLEAN_EXIT: u32 = 10;

/// `ASM_NOTE_LEN`: room for a note or a decision, including the NUL.
pub const ASM_NOTE_LEN: usize = 128;

/// `enum asm_dep_kind`: the dependent cannot run without the dependency.
pub const ASM_DEP_REQUIRED: u32 = 1;
/// The dependent is told when the dependency ends, and runs on.
pub const ASM_DEP_OPTIONAL: u32 = 2;
/// Shown; no lifecycle effect.
pub const ASM_DEP_PEER: u32 = 3;

/// `enum asm_dep_op`: `dependent` depends on `dependency` (needs the right
/// to narrow the policy of both agents, from a process in no agent).
pub const ASM_DEP_ADD: u32 = 1;
/// That edge goes (needs `CAP_SYS_ADMIN`, from a process in no agent).
pub const ASM_DEP_REMOVE: u32 = 2;
/// Every edge the caller sees into `edges`.
pub const ASM_DEP_LIST: u32 = 3;

/// `ASM_DEP_EDGES_MAX`: the edges the module keeps (3/4 of them for users
/// without CAP_SYS_ADMIN).
pub const ASM_DEP_EDGES_MAX: usize = 1024;
/// `ASM_DEP_EDGES_PER_UID`: the edges one user without CAP_SYS_ADMIN adds.
pub const ASM_DEP_EDGES_PER_UID: usize = 64;

/// `ASM_PROFILE_OP_LEN`: room for an operation's name, including the NUL.
pub const ASM_PROFILE_OP_LEN: usize = 32;
/// `ASM_PROFILE_OPS_MAX`: operation names per agent (the next new one is
/// `ENOSPC`).
pub const ASM_PROFILE_OPS_MAX: usize = 32;
/// `ASM_PROFILE_SAMPLES`: samples kept per operation (per agent), which
/// the statistics are over.
pub const ASM_PROFILE_SAMPLES: usize = 100;
/// `ASM_PROFILE_DURATION_MAX`: the longest duration RECORD takes, one hour
/// in nanoseconds.
pub const ASM_PROFILE_DURATION_MAX: u64 = 3_600_000_000_000;

/// `enum asm_profile_cmd`: `token` := the time now (`CLOCK_MONOTONIC` ns).
pub const ASM_PROFILE_BEGIN: u32 = 1;
/// Records `op`: now - `token`, and `success`; the duration comes back in
/// `duration_ns`.
pub const ASM_PROFILE_END: u32 = 2;
/// Records `op`: `duration_ns`, and `success`.
pub const ASM_PROFILE_RECORD: u32 = 3;
/// The statistics of `op` for `agent_id` (or its `index`-th operation when
/// `op` is empty), or over every agent the caller sees (`agent_id` 0).
pub const ASM_PROFILE_STATS: u32 = 4;

/// `ASM_SENSITIVE_MAX`: how many paths can be marked sensitive.
pub const ASM_SENSITIVE_MAX: usize = 8;
/// `enum asm_sensitive_op`: mark `path` (needs `CAP_SYS_ADMIN`).
pub const ASM_SENSITIVE_ADD: u32 = 1;
/// Unmark `path` (needs `CAP_SYS_ADMIN`).
pub const ASM_SENSITIVE_REMOVE: u32 = 2;
/// Read the `index`-th marked path into `path`.
pub const ASM_SENSITIVE_GET: u32 = 3;

/// `struct asm_patch`: the `ASM_IOC_PATCH_POLICY` argument, one atomic
/// change of an agent's policy.
///
/// A patch that widens the policy needs `CAP_SYS_ADMIN` from a process that
/// is not the agent's own; one that narrows it may also come from the
/// agent's owner. [`ASM_CAP_ADMIN`] is never granted (`EPERM`, audited as
/// an escalation attempt).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsmPatch {
    /// `sizeof(struct asm_patch)`.
    pub size: u32,
    /// [`ASM_ABI_VERSION`].
    pub version: u32,
    /// The agent.
    pub agent_id: u32,
    /// One of the `ASM_PATCH_*` values.
    pub op: u32,
    /// ADD/REMOVE_CAPABILITY, SET_AUTO_RESTART, SET_RISK; else 0.
    pub value: u64,
    /// SET_LIMITS: as in [`AsmFaultPolicy`]; else 0.
    pub cpu_quota_ms: u32,
    /// SET_LIMITS: as in [`AsmFaultPolicy`]; else 0.
    pub syscall_rate: u32,
    /// SET_LIMITS: as in [`AsmFaultPolicy`]; else 0.
    pub watchdog_ms: u32,
    /// Must be 0.
    pub reserved0: u32,
    /// SET_LIMITS: as in [`AsmFaultPolicy`]; else 0.
    pub mem_limit_bytes: u64,
    /// UPDATE_SCOPE: an absolute path or ""; else all zero.
    pub scope: [u8; ASM_SCOPE_LEN],
    /// Out: the audit entry that records the patch.
    pub audit_seq: u64,
    /// SET_LLM_RATE: the bucket's size, 1 to [`ASM_LLM_BURST_MAX`]; else 0.
    pub llm_burst: u32,
    /// SET_LLM_RATE: requests added per second, 1 to
    /// [`ASM_LLM_REFILL_MAX`]; else 0.
    pub llm_refill: u32,
    /// Must be 0.
    pub reserved: [u64; 1],
}

const _: () = assert!(size_of::<AsmPatch>() == 328);

impl AsmPatch {
    /// A zeroed patch `op` of `agent_id`, with `size` and `version` filled
    /// in.
    pub const fn new(agent_id: u32, op: u32) -> Self {
        Self {
            size: size_of::<Self>() as u32,
            version: ASM_ABI_VERSION,
            agent_id,
            op,
            value: 0,
            cpu_quota_ms: 0,
            syscall_rate: 0,
            watchdog_ms: 0,
            reserved0: 0,
            mem_limit_bytes: 0,
            scope: [0; ASM_SCOPE_LEN],
            audit_seq: 0,
            llm_burst: 0,
            llm_refill: 0,
            reserved: [0; 1],
        }
    }

    /// Sets `scope`; the kernel checks that it is absolute.
    pub fn set_scope(&mut self, scope: &[u8]) -> Result<(), StrError> {
        set_cstr(&mut self.scope, scope)
    }
}

/// `struct asm_audit_entry`: one entry of the audit trail.
///
/// Each entry's `hash` is the SHA-256 of every byte before it, `prev_hash`
/// included, and `prev_hash` is the `hash` of the entry before: an entry
/// edited, removed or moved breaks the chain (see [`verify_audit_chain`]).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsmAuditEntry {
    /// 0, 1, 2, ... since the module was loaded.
    pub seq: u64,
    /// `CLOCK_REALTIME`, in nanoseconds.
    pub time_ns: u64,
    /// One of the `ASM_AUDIT_*` kinds.
    pub kind: u32,
    /// What, per `kind`.
    pub op: u32,
    /// The agent (0 for the defaults or the system).
    pub agent_id: u32,
    /// Who: effective uid in the initial user namespace; for what the
    /// kernel observed, the uid of the agent's process.
    pub uid: u32,
    /// Who: thread group id in the initial pid namespace.
    pub pid: i32,
    /// 0, or the -errno a refused request got.
    pub result: i32,
    /// The value before (per `kind`).
    pub old_value: u64,
    /// The value after (per `kind`).
    pub new_value: u64,
    /// NUL-terminated text: a path, a scope change, a note.
    pub detail: [u8; ASM_AUDIT_DETAIL_LEN],
    /// `hash` of entry `seq - 1` (zero for entry 0).
    pub prev_hash: [u8; ASM_AUDIT_HASH_LEN],
    /// SHA-256 of every byte of this entry before `hash`.
    pub hash: [u8; ASM_AUDIT_HASH_LEN],
}

const _: () = assert!(size_of::<AsmAuditEntry>() == 312);

/// How many leading bytes of an [`AsmAuditEntry`] its `hash` covers: all of
/// them up to `hash`, `prev_hash` included.
pub const AUDIT_HASHED_LEN: usize = core::mem::offset_of!(AsmAuditEntry, hash);

const _: () = assert!(AUDIT_HASHED_LEN == 280);

impl AsmAuditEntry {
    /// An all-zero entry, to fill a buffer the kernel writes into.
    pub const ZERO: Self = Self {
        seq: 0,
        time_ns: 0,
        kind: 0,
        op: 0,
        agent_id: 0,
        uid: 0,
        pid: 0,
        result: 0,
        old_value: 0,
        new_value: 0,
        detail: [0; ASM_AUDIT_DETAIL_LEN],
        prev_hash: [0; ASM_AUDIT_HASH_LEN],
        hash: [0; ASM_AUDIT_HASH_LEN],
    };

    /// The detail's bytes, without the NUL.
    pub fn detail(&self) -> &[u8] {
        get_cstr(&self.detail)
    }

    /// Sets `detail` (zeroing what follows the text).
    pub fn set_detail(&mut self, detail: &[u8]) -> Result<(), StrError> {
        set_cstr(&mut self.detail, detail)
    }

    /// The bytes `hash` covers, as they lie in memory. Built field by field
    /// in native byte order rather than by reinterpreting the struct: the
    /// struct has no padding (the layout test checks every offset), so the
    /// two are the same bytes, and this needs no `unsafe`.
    pub fn hashed_bytes(&self) -> [u8; AUDIT_HASHED_LEN] {
        let mut out = [0u8; AUDIT_HASHED_LEN];
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        put(&self.seq.to_ne_bytes());
        put(&self.time_ns.to_ne_bytes());
        put(&self.kind.to_ne_bytes());
        put(&self.op.to_ne_bytes());
        put(&self.agent_id.to_ne_bytes());
        put(&self.uid.to_ne_bytes());
        put(&self.pid.to_ne_bytes());
        put(&self.result.to_ne_bytes());
        put(&self.old_value.to_ne_bytes());
        put(&self.new_value.to_ne_bytes());
        put(&self.detail);
        put(&self.prev_hash);
        out
    }

    /// What `hash` should be: the SHA-256 of [`Self::hashed_bytes`].
    pub fn compute_hash(&self) -> [u8; ASM_AUDIT_HASH_LEN] {
        use sha2::{Digest, Sha256};
        Sha256::digest(self.hashed_bytes()).into()
    }
}

/// `struct asm_audit_read`: the `ASM_IOC_GET_AUDIT` argument. Reading a
/// trail needs `CAP_SYS_ADMIN`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsmAuditRead {
    /// `sizeof(struct asm_audit_read)`.
    pub size: u32,
    /// [`ASM_ABI_VERSION`].
    pub version: u32,
    /// The first entry wanted; older ones that are gone are skipped (so 0
    /// reads from the oldest kept).
    pub from_seq: u64,
    /// User pointer to `capacity` [`AsmAuditEntry`]s.
    pub entries: u64,
    /// Entries `entries` has room for.
    pub capacity: u32,
    /// Out: entries written, in order.
    pub count: u32,
    /// Out: the oldest entry kept.
    pub first_seq: u64,
    /// Out: the seq the next entry will get.
    pub next_seq: u64,
    /// Out: entries overwritten before anyone could keep them.
    pub dropped: u64,
    /// Out: entries the rate limits kept out of the trail (the LLM trail
    /// has none).
    pub suppressed: u64,
    /// In: which trail, [`ASM_AUDIT_TRAIL_POLICY`] or
    /// [`ASM_AUDIT_TRAIL_LLM`].
    pub trail: u32,
    /// Must be 0.
    pub reserved0: u32,
}

const _: () = assert!(size_of::<AsmAuditRead>() == 72);

impl AsmAuditRead {
    /// A read of the policy trail's entries from `from_seq` on into
    /// `entries` (a user pointer) with room for `capacity`, with `size` and
    /// `version` filled in; set `trail` for another trail.
    pub const fn new(from_seq: u64, entries: u64, capacity: u32) -> Self {
        Self {
            size: size_of::<Self>() as u32,
            version: ASM_ABI_VERSION,
            from_seq,
            entries,
            capacity,
            count: 0,
            first_seq: 0,
            next_seq: 0,
            dropped: 0,
            suppressed: 0,
            trail: ASM_AUDIT_TRAIL_POLICY,
            reserved0: 0,
        }
    }
}

/// `struct asm_compliance`: the `ASM_IOC_GET_COMPLIANCE` argument.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsmCompliance {
    /// `sizeof(struct asm_compliance)`.
    pub size: u32,
    /// [`ASM_ABI_VERSION`].
    pub version: u32,
    /// In: the agent. Every other field is out.
    pub agent_id: u32,
    /// One of the `ASM_RISK_*` values.
    pub risk_level: u32,
    /// Audit entries recorded about the agent.
    pub events: u64,
    /// Capability violations.
    pub violations: u64,
    /// Human oversight actions.
    pub oversight: u64,
    /// Decisions the agent reported.
    pub decisions: u64,
    /// Opens of paths marked sensitive.
    pub sensitive: u64,
    /// Processes that exited with code 0.
    pub clean_exits: u64,
    /// Processes that crashed (fatal signal or non-zero code).
    pub crashes: u64,
    /// 0 to [`ASM_SCORE_MAX`]: see [`compliance_score`].
    pub score: u32,
    /// One of [`ASM_COMPLIANT`], [`ASM_REVIEW_NEEDED`], [`ASM_NON_COMPLIANT`].
    pub status: u32,
    /// LLM requests the agent's bucket let through.
    pub llm_requests: u64,
    /// Must be 0 on input.
    pub reserved: [u64; 1],
}

const _: () = assert!(size_of::<AsmCompliance>() == 96);

impl AsmCompliance {
    /// A query for `agent_id`, with `size` and `version` filled in.
    pub const fn new(agent_id: u32) -> Self {
        Self {
            size: size_of::<Self>() as u32,
            version: ASM_ABI_VERSION,
            agent_id,
            risk_level: 0,
            events: 0,
            violations: 0,
            oversight: 0,
            decisions: 0,
            sensitive: 0,
            clean_exits: 0,
            crashes: 0,
            score: 0,
            status: 0,
            llm_requests: 0,
            reserved: [0; 1],
        }
    }
}

/// `struct asm_note`: the argument of `ASM_IOC_OVERSIGHT` and
/// `ASM_IOC_DECISION`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsmNote {
    /// `sizeof(struct asm_note)`.
    pub size: u32,
    /// [`ASM_ABI_VERSION`].
    pub version: u32,
    /// OVERSIGHT: the agent. DECISION: in 0, out the caller's agent.
    pub agent_id: u32,
    /// OVERSIGHT: one of the `ASM_OVERSIGHT_*` values. DECISION: 0.
    pub kind: u32,
    /// NUL-terminated, printable: the note or the decision.
    pub text: [u8; ASM_NOTE_LEN],
    /// Out: the audit entry recording it.
    pub audit_seq: u64,
    /// Must be 0.
    pub reserved: [u64; 2],
}

const _: () = assert!(size_of::<AsmNote>() == 168);

impl AsmNote {
    /// A note of `kind` about `agent_id` (both 0 for a decision), with
    /// `size` and `version` filled in.
    pub const fn new(agent_id: u32, kind: u32) -> Self {
        Self {
            size: size_of::<Self>() as u32,
            version: ASM_ABI_VERSION,
            agent_id,
            kind,
            text: [0; ASM_NOTE_LEN],
            audit_seq: 0,
            reserved: [0; 2],
        }
    }

    /// Sets `text`; the kernel checks that it is printable.
    pub fn set_text(&mut self, text: &[u8]) -> Result<(), StrError> {
        set_cstr(&mut self.text, text)
    }
}

/// `struct asm_sensitive`: the `ASM_IOC_SENSITIVE` argument. Opens of a
/// marked path (or anything under it) by agents are audited as sensitive
/// data access.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsmSensitive {
    /// `sizeof(struct asm_sensitive)`.
    pub size: u32,
    /// [`ASM_ABI_VERSION`].
    pub version: u32,
    /// One of the `ASM_SENSITIVE_*` ops.
    pub op: u32,
    /// GET: which path (0-based); else 0.
    pub index: u32,
    /// Out: paths marked now.
    pub count: u32,
    /// Must be 0.
    pub reserved0: u32,
    /// ADD/REMOVE: an absolute path; GET: out.
    pub path: [u8; ASM_SCOPE_LEN],
    /// Must be 0.
    pub reserved: [u64; 2],
}

const _: () = assert!(size_of::<AsmSensitive>() == 296);

impl AsmSensitive {
    /// A zeroed request `op` (with `index` for GET), with `size` and
    /// `version` filled in.
    pub const fn new(op: u32, index: u32) -> Self {
        Self {
            size: size_of::<Self>() as u32,
            version: ASM_ABI_VERSION,
            op,
            index,
            count: 0,
            reserved0: 0,
            path: [0; ASM_SCOPE_LEN],
            reserved: [0; 2],
        }
    }

    /// Sets `path`; the kernel checks that it is absolute.
    pub fn set_path(&mut self, path: &[u8]) -> Result<(), StrError> {
        set_cstr(&mut self.path, path)
    }

    /// The path's bytes, without the NUL.
    pub fn path(&self) -> &[u8] {
        get_cstr(&self.path)
    }
}

/// `struct asm_dep_edge`: one edge of the dependency graph, as
/// [`ASM_DEP_LIST`] writes it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AsmDepEdge {
    /// The agent that depends.
    pub dependent: u32,
    /// The agent it depends on.
    pub dependency: u32,
    /// One of the `ASM_DEP_*` kinds ([`ASM_DEP_REQUIRED`], ...).
    pub kind: u32,
    /// 0.
    pub reserved: u32,
}

const _: () = assert!(size_of::<AsmDepEdge>() == 16);

impl AsmDepEdge {
    /// The edge `dependent` -> `dependency` of `kind`.
    pub const fn new(dependent: u32, dependency: u32, kind: u32) -> Self {
        Self {
            dependent,
            dependency,
            kind,
            reserved: 0,
        }
    }
}

/// `struct asm_deps`: the `ASM_IOC_DEPS` argument, the dependency graph
/// between agents.
///
/// The edges are directed and never form a cycle (an ADD that would close
/// one fails with `ELOOP`). ADD needs the right to narrow the policy of
/// both agents (their owner, or `CAP_SYS_ADMIN`), REMOVE `CAP_SYS_ADMIN`,
/// each from a process in no agent; both are audited
/// ([`ASM_AUDIT_DEPENDENCY`]). An agent's edges go with it when it is
/// unregistered.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsmDeps {
    /// `sizeof(struct asm_deps)`.
    pub size: u32,
    /// [`ASM_ABI_VERSION`].
    pub version: u32,
    /// One of the `ASM_DEP_*` ops ([`ASM_DEP_ADD`], ...).
    pub op: u32,
    /// ADD: one of the `ASM_DEP_*` kinds; else 0.
    pub kind: u32,
    /// ADD/REMOVE: the agent that depends; LIST: 0.
    pub dependent: u32,
    /// ADD/REMOVE: the agent it depends on; LIST: 0.
    pub dependency: u32,
    /// LIST: room in `edges`, in edges; else 0.
    pub capacity: u32,
    /// In: 0. Out (LIST): the edges the caller sees, which may be more than
    /// `capacity` (then only `capacity` were written).
    pub count: u32,
    /// LIST: user pointer to `capacity` [`AsmDepEdge`]s; else 0.
    pub edges: u64,
    /// Out (ADD/REMOVE): the audit entry that records the change.
    pub audit_seq: u64,
    /// Must be 0.
    pub reserved: [u64; 2],
}

const _: () = assert!(size_of::<AsmDeps>() == 64);

impl AsmDeps {
    /// A zeroed request `op`, with `size` and `version` filled in.
    pub const fn new(op: u32) -> Self {
        Self {
            size: size_of::<Self>() as u32,
            version: ASM_ABI_VERSION,
            op,
            kind: 0,
            dependent: 0,
            dependency: 0,
            capacity: 0,
            count: 0,
            edges: 0,
            audit_seq: 0,
            reserved: [0; 2],
        }
    }

    /// [`ASM_DEP_ADD`]: `dependent` depends on `dependency`, an edge of
    /// `kind`.
    pub const fn add(dependent: u32, dependency: u32, kind: u32) -> Self {
        let mut req = Self::new(ASM_DEP_ADD);
        req.dependent = dependent;
        req.dependency = dependency;
        req.kind = kind;
        req
    }

    /// [`ASM_DEP_REMOVE`] of the edge `dependent` -> `dependency`.
    pub const fn remove(dependent: u32, dependency: u32) -> Self {
        let mut req = Self::new(ASM_DEP_REMOVE);
        req.dependent = dependent;
        req.dependency = dependency;
        req
    }

    /// [`ASM_DEP_LIST`] into `edges` (a user pointer) with room for
    /// `capacity` edges.
    pub const fn list(edges: u64, capacity: u32) -> Self {
        let mut req = Self::new(ASM_DEP_LIST);
        req.edges = edges;
        req.capacity = capacity;
        req
    }
}

/// Whether `name` is a valid operation name as the module checks it: 1 to
/// `ASM_PROFILE_OP_LEN - 1` (31) characters of `[A-Za-z0-9_.:-]`.
pub fn profile_op_valid(name: &[u8]) -> bool {
    (1..ASM_PROFILE_OP_LEN).contains(&name.len())
        && name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(b))
}

/// `struct asm_profile`: the `ASM_IOC_PROFILE` argument, an agent's
/// operations and their latency statistics (Documentation/profiling.rst).
///
/// BEGIN, END and RECORD come from a process of an agent (`ESRCH` from any
/// other) and concern that agent; STATS needs nothing but seeing the agent.
/// Every field a command does not use, and every out field, must be 0 on
/// the way in.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsmProfile {
    /// `sizeof(struct asm_profile)`.
    pub size: u32,
    /// [`ASM_ABI_VERSION`].
    pub version: u32,
    /// One of the `ASM_PROFILE_*` commands ([`ASM_PROFILE_BEGIN`], ...).
    pub cmd: u32,
    /// STATS: the agent, or 0 for the aggregate of `op` over every agent
    /// the caller sees; else 0 (the caller's own agent).
    pub agent_id: u32,
    /// END, RECORD: the operation's name, NUL-padded; STATS: a name, or
    /// empty to ask for the `index`-th operation (then filled in); BEGIN:
    /// empty.
    pub op: [u8; ASM_PROFILE_OP_LEN],
    /// BEGIN: out; END: in, as BEGIN gave it; else 0.
    pub token: u64,
    /// RECORD: in, at most [`ASM_PROFILE_DURATION_MAX`]; END: out; else 0.
    pub duration_ns: u64,
    /// END, RECORD: 1 if the operation succeeded, 0 if not; else 0.
    pub success: u32,
    /// STATS with an empty `op`: which operation, from 0; else 0.
    pub index: u32,
    /// STATS out: samples recorded since the operation's first.
    pub total: u64,
    /// STATS out: of those, the ones that succeeded.
    pub successes: u64,
    /// STATS out: the samples the statistics below are over (the last
    /// [`ASM_PROFILE_SAMPLES`] of each agent).
    pub kept: u32,
    /// STATS out: the agent's operation names (aggregate: 0).
    pub ops: u32,
    /// STATS out, as the next five: the shortest kept sample.
    pub min_ns: u64,
    /// The longest kept sample.
    pub max_ns: u64,
    /// The mean of the kept samples, rounded down.
    pub avg_ns: u64,
    /// The median, a nearest-rank percentile: the ceil(50 * n / 100)-th
    /// smallest of the n kept samples.
    pub p50_ns: u64,
    /// The ceil(95 * n / 100)-th smallest kept sample.
    pub p95_ns: u64,
    /// The ceil(99 * n / 100)-th smallest kept sample.
    pub p99_ns: u64,
    /// Must be 0.
    pub reserved: [u64; 2],
}

const _: () = assert!(size_of::<AsmProfile>() == 160);

impl AsmProfile {
    /// A zeroed request `cmd`, with `size` and `version` filled in.
    pub const fn new(cmd: u32) -> Self {
        Self {
            size: size_of::<Self>() as u32,
            version: ASM_ABI_VERSION,
            cmd,
            agent_id: 0,
            op: [0; ASM_PROFILE_OP_LEN],
            token: 0,
            duration_ns: 0,
            success: 0,
            index: 0,
            total: 0,
            successes: 0,
            kept: 0,
            ops: 0,
            min_ns: 0,
            max_ns: 0,
            avg_ns: 0,
            p50_ns: 0,
            p95_ns: 0,
            p99_ns: 0,
            reserved: [0; 2],
        }
    }

    /// [`ASM_PROFILE_BEGIN`].
    pub const fn begin() -> Self {
        Self::new(ASM_PROFILE_BEGIN)
    }

    /// [`ASM_PROFILE_END`] of the operation begun at `token`; the name goes
    /// in with [`AsmProfile::set_op`].
    pub const fn end(token: u64, success: bool) -> Self {
        let mut req = Self::new(ASM_PROFILE_END);
        req.token = token;
        req.success = success as u32;
        req
    }

    /// [`ASM_PROFILE_RECORD`] of one sample; the name goes in with
    /// [`AsmProfile::set_op`].
    pub const fn record(duration_ns: u64, success: bool) -> Self {
        let mut req = Self::new(ASM_PROFILE_RECORD);
        req.duration_ns = duration_ns;
        req.success = success as u32;
        req
    }

    /// [`ASM_PROFILE_STATS`] of `agent_id` (0: every agent the caller
    /// sees); the name goes in with [`AsmProfile::set_op`].
    pub const fn stats(agent_id: u32) -> Self {
        let mut req = Self::new(ASM_PROFILE_STATS);
        req.agent_id = agent_id;
        req
    }

    /// [`ASM_PROFILE_STATS`] of the `index`-th operation of `agent_id`
    /// (`op` empty: the kernel fills it in).
    pub const fn stats_index(agent_id: u32, index: u32) -> Self {
        let mut req = Self::stats(agent_id);
        req.index = index;
        req
    }

    /// Sets `op`. Only its length is checked here; the module refuses a
    /// name that is not [`profile_op_valid`] (`EINVAL`).
    pub fn set_op(&mut self, op: &[u8]) -> Result<(), StrError> {
        set_cstr(&mut self.op, op)
    }

    /// The operation's name, without the NUL padding.
    pub fn op(&self) -> &[u8] {
        get_cstr(&self.op)
    }
}

/// `struct asm_llm_request`: the `ASM_IOC_LLM_REQUEST` argument
/// (Documentation/gateway.rst). The documents are addressed, not embedded:
/// the caller keeps the request and response buffers alive across the call.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AsmLlmRequest {
    /// `sizeof(struct asm_llm_request)`.
    pub size: u32,
    /// [`ASM_ABI_VERSION`].
    pub version: u32,
    /// User address of the request document, `request_len` bytes.
    pub request: u64,
    /// User address of a buffer of `response_len` bytes for the response
    /// document.
    pub response: u64,
    /// 1 to [`ASM_LLM_REQUEST_MAX`].
    pub request_len: u32,
    /// At least [`ASM_LLM_RESPONSE_MIN`].
    pub response_len: u32,
    /// 0 (ask and wait), [`ASM_LLM_SUBMIT`] or [`ASM_LLM_COLLECT`].
    pub flags: u32,
    /// Out: the response document's length (also the ioctl's value); with
    /// `ENOSPC`, the size it needed.
    pub written: u32,
    /// Out: the gateway's number for the request (0 if refused before it
    /// was queued). [`ASM_LLM_COLLECT`]: in, the request to collect (0:
    /// any finished one); out, the one collected, also when it failed.
    pub request_id: u64,
    /// Must be 0.
    pub reserved: [u64; 2],
}

const _: () = assert!(size_of::<AsmLlmRequest>() == 64);

impl AsmLlmRequest {
    /// A request for the document at `request` (`request_len` bytes) with
    /// a response buffer at `response` (`response_len` bytes), with `size`
    /// and `version` filled in.
    pub const fn new(request: u64, request_len: u32, response: u64, response_len: u32) -> Self {
        Self {
            size: size_of::<Self>() as u32,
            version: ASM_ABI_VERSION,
            request,
            response,
            request_len,
            response_len,
            flags: 0,
            written: 0,
            request_id: 0,
            reserved: [0; 2],
        }
    }

    /// An [`ASM_LLM_SUBMIT`] of the document at `request` (`request_len`
    /// bytes): no response buffer, the answer is collected later.
    pub const fn submit(request: u64, request_len: u32) -> Self {
        let mut req = Self::new(request, request_len, 0, 0);
        req.flags = ASM_LLM_SUBMIT;
        req
    }

    /// An [`ASM_LLM_COLLECT`] of request `request_id` (0: any finished one)
    /// into the buffer at `response` (`response_len` bytes): no request
    /// document.
    pub const fn collect(request_id: u64, response: u64, response_len: u32) -> Self {
        let mut req = Self::new(0, 0, response, response_len);
        req.flags = ASM_LLM_COLLECT;
        req.request_id = request_id;
        req
    }
}

/// The name of an `enum asm_llm_provider` value in the gateway's documents
/// (`"claude"`, `"gpt4"`, `"gemini"`, `"local"`); `None` for
/// [`ASM_LLM_ANY`] and unknown values.
pub fn llm_provider_name(provider: u32) -> Option<&'static str> {
    name_in(&LLM_PROVIDERS, provider)
}

/// The `enum asm_llm_provider` value of a provider's document name (exact,
/// lowercase, as the kernel reads it).
pub fn parse_llm_provider(name: &str) -> Option<u32> {
    LLM_PROVIDERS
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(value, _)| *value)
}

/// The providers and their names in the gateway's documents.
pub const LLM_PROVIDERS: [(u32, &str); 4] = [
    (ASM_LLM_CLAUDE, "claude"),
    (ASM_LLM_GPT4, "gpt4"),
    (ASM_LLM_GEMINI, "gemini"),
    (ASM_LLM_LOCAL, "local"),
];

/// One capability bit and the names user space knows it by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capability {
    /// The `ASM_CAP_*` bit.
    pub bit: u64,
    /// The name in the JSON documents and the user guide, e.g. `FsBasic`.
    pub name: &'static str,
    /// The C name without its `ASM_CAP_` prefix, e.g. `FS_BASIC`.
    pub c_name: &'static str,
}

/// Every capability, in bit order (the order tools list them in).
pub const CAPABILITIES: [Capability; 8] = [
    Capability {
        bit: ASM_CAP_FS_BASIC,
        name: "FsBasic",
        c_name: "FS_BASIC",
    },
    Capability {
        bit: ASM_CAP_FS_EXTENDED,
        name: "FsExtended",
        c_name: "FS_EXTENDED",
    },
    Capability {
        bit: ASM_CAP_NET_CLIENT,
        name: "NetClient",
        c_name: "NET_CLIENT",
    },
    Capability {
        bit: ASM_CAP_NET_SERVER,
        name: "NetServer",
        c_name: "NET_SERVER",
    },
    Capability {
        bit: ASM_CAP_AUDIO_CONTROL,
        name: "AudioControl",
        c_name: "AUDIO_CONTROL",
    },
    Capability {
        bit: ASM_CAP_LLM_ACCESS,
        name: "LlmAccess",
        c_name: "LLM_ACCESS",
    },
    Capability {
        bit: ASM_CAP_PROCESS_SPAWN,
        name: "ProcessSpawn",
        c_name: "PROCESS_SPAWN",
    },
    Capability {
        bit: ASM_CAP_ADMIN,
        name: "Admin",
        c_name: "ADMIN",
    },
];

/// The bit of the capability called `s`.
///
/// Matching ignores case, `_` and `-`, and an `ASM_CAP_` prefix, so
/// `FsBasic`, `fsbasic`, `fs_basic`, `FS_BASIC` and `ASM_CAP_FS_BASIC` all
/// name the same bit: people copy names from the JSON, from shell
/// scripts and from the C header alike.
pub fn parse_capability(s: &str) -> Option<u64> {
    let folded: String = s
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect();
    let folded = folded.strip_prefix("asmcap").unwrap_or(&folded);
    CAPABILITIES
        .iter()
        .find(|cap| cap.name.eq_ignore_ascii_case(folded))
        .map(|cap| cap.bit)
}

/// The names of the known bits set in `bits`, in bit order.
pub fn capability_names(bits: u64) -> impl Iterator<Item = &'static str> {
    CAPABILITIES
        .iter()
        .filter(move |cap| bits & cap.bit != 0)
        .map(|cap| cap.name)
}

/// State names, indexed by `ASM_STATE_*` value.
pub const STATE_NAMES: [&str; 7] = [
    "Spawned",
    "Active",
    "Fault",
    "Recovery",
    "Restarted",
    "Exited",
    "Failed",
];

/// The name of `ASM_STATE_*` value `state`, or `None` for a value this ABI
/// version does not define.
pub fn state_name(state: u32) -> Option<&'static str> {
    STATE_NAMES.get(usize::try_from(state).ok()?).copied()
}

/// One fault type and the names user space knows it by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultType {
    /// The `ASM_FAULT_*` value, also the index into
    /// [`AsmFaultPolicy::actions`].
    pub value: u32,
    /// The name in the JSON documents (`recent_faults`, `actions`, events),
    /// e.g. `cpu_quota`.
    pub name: &'static str,
    /// The C name without its `ASM_FAULT_` prefix, e.g. `CPU_QUOTA`.
    pub c_name: &'static str,
}

/// Every fault type, in value order.
pub const FAULT_TYPES: [FaultType; ASM_FAULT_TYPES - 1] = [
    FaultType {
        value: ASM_FAULT_CPU_QUOTA,
        name: "cpu_quota",
        c_name: "CPU_QUOTA",
    },
    FaultType {
        value: ASM_FAULT_MEMORY,
        name: "memory",
        c_name: "MEMORY",
    },
    FaultType {
        value: ASM_FAULT_SYSCALL_FLOOD,
        name: "syscall_flood",
        c_name: "SYSCALL_FLOOD",
    },
    FaultType {
        value: ASM_FAULT_CRASH,
        name: "crash",
        c_name: "CRASH",
    },
    FaultType {
        value: ASM_FAULT_CAPABILITY,
        name: "capability_violation",
        c_name: "CAPABILITY",
    },
    FaultType {
        value: ASM_FAULT_UNRESPONSIVE,
        name: "unresponsive",
        c_name: "UNRESPONSIVE",
    },
];

/// The JSON name of `ASM_FAULT_*` value `fault`, or `None` for a value this
/// ABI version does not define.
pub fn fault_name(fault: u32) -> Option<&'static str> {
    FAULT_TYPES
        .iter()
        .find(|f| f.value == fault)
        .map(|f| f.name)
}

/// Action names, indexed by `ASM_ACTION_*` value.
pub const ACTION_NAMES: [&str; 5] = ["default", "log", "throttle", "kill", "restart"];

/// The name of `ASM_ACTION_*` value `action`, or `None` for a value this ABI
/// version does not define.
pub fn action_name(action: u8) -> Option<&'static str> {
    ACTION_NAMES.get(usize::from(action)).copied()
}

/// The `ASM_ACTION_*` value called `s` (exact, lower case, as in the JSON).
pub fn parse_action(s: &str) -> Option<u8> {
    let i = ACTION_NAMES.iter().position(|name| *name == s)?;
    u8::try_from(i).ok()
}

/// Whether `action` may be set for `fault`: throttling stops an agent for
/// the rest of a window, which only means something for the two faults
/// counted per window (CPU quota and syscall flood).
pub fn action_allowed(fault: u32, action: u8) -> bool {
    action != ASM_ACTION_THROTTLE
        || fault == ASM_FAULT_CPU_QUOTA
        || fault == ASM_FAULT_SYSCALL_FLOOD
}

/// Preset names, indexed by `ASM_PRESET_*` value.
pub const PRESET_NAMES: [&str; 4] = ["none", "default", "permissive", "strict"];

/// The `ASM_PRESET_*` value called `s`; `none` is not a preset one asks
/// for (it means "take the actions as given").
pub fn parse_preset(s: &str) -> Option<u32> {
    let i = PRESET_NAMES.iter().position(|name| *name == s)?;
    match u32::try_from(i).ok()? {
        ASM_PRESET_NONE => None,
        preset => Some(preset),
    }
}

/// Why [`parse_size`] refused a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeError {
    /// Not digits with an optional unit.
    Malformed,
    /// Well formed, but more bytes than a `u64` holds.
    TooLarge,
}

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SizeError::Malformed => "not a size (bytes, or a number with K, M or G)",
            SizeError::TooLarge => "too large",
        })
    }
}

/// A size in bytes, as `asmctl limits --mem` and asmd's `mem` take it
/// (for [`AsmFaultPolicy::mem_limit_bytes`]): one or more ASCII digits,
/// optionally followed by one unit letter, `K`, `M` or `G` in either case,
/// for 2^10, 2^20 or 2^30 bytes. Nothing else: no sign, no spaces, no
/// fraction, no `B`. Leading zeros are allowed; 0 is a size (callers that
/// refuse it say why). A value past `u64::MAX`, before or after the unit,
/// is [`SizeError::TooLarge`]; any other text [`SizeError::Malformed`].
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    let (digits, shift) = match text.as_bytes().last() {
        // An ASCII letter is one byte, so cutting it off keeps `digits` on
        // a char boundary.
        Some(b'k' | b'K') => (&text[..text.len() - 1], 10),
        Some(b'm' | b'M') => (&text[..text.len() - 1], 20),
        Some(b'g' | b'G') => (&text[..text.len() - 1], 30),
        _ => (text, 0),
    };
    // Checked by hand: u64::from_str would also take a leading '+'.
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SizeError::Malformed);
    }
    // Only digits: the parse can fail by overflow alone.
    let n: u64 = digits.parse().map_err(|_| SizeError::TooLarge)?;
    n.checked_mul(1 << shift).ok_or(SizeError::TooLarge)
}

/// The name in `table` of `value`.
fn name_in(table: &[(u32, &'static str)], value: u32) -> Option<&'static str> {
    table
        .iter()
        .find(|(v, _)| *v == value)
        .map(|(_, name)| *name)
}

/// The value in `table` called `s`, ignoring ASCII case.
fn value_in(table: &[(u32, &'static str)], s: &str) -> Option<u32> {
    table
        .iter()
        .find(|(_, name)| name.eq_ignore_ascii_case(s))
        .map(|(v, _)| *v)
}

/// Every risk level and its name, as the user guide writes it.
/// [`ASM_RISK_DEFAULT`] is no level of its own and has no name.
pub const RISK_LEVELS: [(u32, &str); 4] = [
    (ASM_RISK_MINIMAL, "Minimal"),
    (ASM_RISK_LIMITED, "Limited"),
    (ASM_RISK_HIGH, "High"),
    (ASM_RISK_UNACCEPTABLE, "Unacceptable"),
];

/// The name of `ASM_RISK_*` value `risk`, or `None` for
/// [`ASM_RISK_DEFAULT`] or a value this ABI version does not define.
pub fn risk_name(risk: u32) -> Option<&'static str> {
    name_in(&RISK_LEVELS, risk)
}

/// The `ASM_RISK_*` value called `s` (any case: `high`, `High`, `HIGH`).
pub fn parse_risk(s: &str) -> Option<u32> {
    value_in(&RISK_LEVELS, s)
}

/// Every patch op and its name in the audit trail.
pub const PATCH_OPS: [(u32, &str); 7] = [
    (ASM_PATCH_ADD_CAPABILITY, "add_capability"),
    (ASM_PATCH_REMOVE_CAPABILITY, "remove_capability"),
    (ASM_PATCH_UPDATE_SCOPE, "update_scope"),
    (ASM_PATCH_SET_AUTO_RESTART, "set_auto_restart"),
    (ASM_PATCH_SET_LIMITS, "set_limits"),
    (ASM_PATCH_SET_RISK, "set_risk"),
    (ASM_PATCH_SET_LLM_RATE, "set_llm_rate"),
];

/// The name of `ASM_PATCH_*` value `op`.
pub fn patch_op_name(op: u32) -> Option<&'static str> {
    name_in(&PATCH_OPS, op)
}

/// Every violation and its name.
pub const VIOLATIONS: [(u32, &str); 5] = [
    (ASM_VIOLATION_FILE, "file"),
    (ASM_VIOLATION_CONNECT, "connect"),
    (ASM_VIOLATION_LISTEN, "listen"),
    (ASM_VIOLATION_EXEC, "exec"),
    (ASM_VIOLATION_LLM, "llm"),
];

/// The name of `ASM_VIOLATION_*` value `violation`.
pub fn violation_name(violation: u32) -> Option<&'static str> {
    name_in(&VIOLATIONS, violation)
}

/// Every human oversight action and its name.
pub const OVERSIGHT_ACTIONS: [(u32, &str); 4] = [
    (ASM_OVERSIGHT_REVIEW, "review"),
    (ASM_OVERSIGHT_APPROVE, "approve"),
    (ASM_OVERSIGHT_REJECT, "reject"),
    (ASM_OVERSIGHT_STOP, "stop"),
];

/// The name of `ASM_OVERSIGHT_*` value `action`.
pub fn oversight_name(action: u32) -> Option<&'static str> {
    name_in(&OVERSIGHT_ACTIONS, action)
}

/// The `ASM_OVERSIGHT_*` value called `s` (any case).
pub fn parse_oversight(s: &str) -> Option<u32> {
    value_in(&OVERSIGHT_ACTIONS, s)
}

/// Every dependency kind and its name.
pub const DEP_KINDS: [(u32, &str); 3] = [
    (ASM_DEP_REQUIRED, "required"),
    (ASM_DEP_OPTIONAL, "optional"),
    (ASM_DEP_PEER, "peer"),
];

/// The name of `ASM_DEP_*` kind `kind`.
pub fn dep_kind_name(kind: u32) -> Option<&'static str> {
    name_in(&DEP_KINDS, kind)
}

/// The `ASM_DEP_*` kind called `s` (any case).
pub fn parse_dep_kind(s: &str) -> Option<u32> {
    value_in(&DEP_KINDS, s)
}

/// Every dependency op and its name (an [`ASM_AUDIT_DEPENDENCY`] entry's
/// `op` is ADD or REMOVE).
pub const DEP_OPS: [(u32, &str); 3] = [
    (ASM_DEP_ADD, "add"),
    (ASM_DEP_REMOVE, "remove"),
    (ASM_DEP_LIST, "list"),
];

/// The name of `ASM_DEP_*` op `op`.
pub fn dep_op_name(op: u32) -> Option<&'static str> {
    name_in(&DEP_OPS, op)
}

/// Every audit entry kind and its name.
pub const AUDIT_KINDS: [(u32, &str); 13] = [
    (ASM_AUDIT_REGISTER, "register"),
    (ASM_AUDIT_UNREGISTER, "unregister"),
    (ASM_AUDIT_PATCH, "patch"),
    (ASM_AUDIT_ESCALATION, "escalation"),
    (ASM_AUDIT_FAULT_POLICY, "fault_policy"),
    (ASM_AUDIT_VIOLATION, "violation"),
    (ASM_AUDIT_DECISION, "decision"),
    (ASM_AUDIT_SENSITIVE, "sensitive"),
    (ASM_AUDIT_OVERSIGHT, "oversight"),
    (ASM_AUDIT_EXIT, "exit"),
    (ASM_AUDIT_SENSITIVE_SET, "sensitive_set"),
    (ASM_AUDIT_LLM, "llm_request"),
    (ASM_AUDIT_DEPENDENCY, "dependency"),
];

/// The name of `ASM_AUDIT_*` kind `kind`.
pub fn audit_kind_name(kind: u32) -> Option<&'static str> {
    name_in(&AUDIT_KINDS, kind)
}

/// The `ASM_AUDIT_*` kind called `s` (exact, lower case, as
/// [`audit_kind_name`] writes it).
pub fn parse_audit_kind(s: &str) -> Option<u32> {
    AUDIT_KINDS
        .iter()
        .find(|(_, name)| *name == s)
        .map(|(v, _)| *v)
}

/// Every compliance status and its name, as the user guide writes it.
pub const COMPLIANCE_STATUSES: [(u32, &str); 3] = [
    (ASM_COMPLIANT, "COMPLIANT"),
    (ASM_REVIEW_NEEDED, "REVIEW_NEEDED"),
    (ASM_NON_COMPLIANT, "NON_COMPLIANT"),
];

/// The name of compliance status `status`.
pub fn compliance_status_name(status: u32) -> Option<&'static str> {
    name_in(&COMPLIANCE_STATUSES, status)
}

/// The compliance score, in thousandths, as the header defines it:
/// `1000 - 150 * violations - 50 * crashes + 25 * oversight +
/// 10 * clean_exits`, clamped to 0..=1000 (the clamp applies to the sum,
/// so oversight can make up for a violation).
pub fn compliance_score(violations: u64, crashes: u64, oversight: u64, clean_exits: u64) -> u32 {
    // Every term is below 2^72: exact in i128, whatever the counts.
    let term = |weight: u32, count: u64| i128::from(weight) * i128::from(count);
    let score = i128::from(ASM_SCORE_MAX)
        - term(ASM_SCORE_VIOLATION, violations)
        - term(ASM_SCORE_CRASH, crashes)
        + term(ASM_SCORE_OVERSIGHT, oversight)
        + term(ASM_SCORE_CLEAN_EXIT, clean_exits);
    // Clamped into 0..=1000, so the conversion cannot fail.
    u32::try_from(score.clamp(0, ASM_SCORE_MAX.into())).unwrap_or(0)
}

/// The compliance status of `score`: COMPLIANT from 900, REVIEW_NEEDED
/// from 700, NON_COMPLIANT below.
pub fn compliance_status(score: u32) -> u32 {
    match score {
        900.. => ASM_COMPLIANT,
        700.. => ASM_REVIEW_NEEDED,
        _ => ASM_NON_COMPLIANT,
    }
}

/// Why an audit trail fails [`verify_audit_chain`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainBreak {
    /// The entry's `hash` is not the hash of its bytes: a field of it was
    /// changed after the kernel wrote it.
    Edited,
    /// Its `seq` does not follow the entry before it, `prev_seq`.
    Gap {
        /// The seq of the entry before it in the trail.
        prev_seq: u64,
    },
    /// Its `prev_hash` is not the `hash` of the entry before it (whose
    /// own hash is consistent): that entry is not the one the kernel
    /// chained it to.
    Unlinked,
    /// Entry 0 has a non-zero `prev_hash`: nothing comes before entry 0.
    BadStart,
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainBreak::Edited => f.write_str("hash mismatch: the entry was edited"),
            ChainBreak::Gap { prev_seq } => write!(
                f,
                "seq gap after seq {prev_seq}: entries were removed or reordered"
            ),
            ChainBreak::Unlinked => f.write_str(
                "prev_hash mismatch: the entry before it was removed, replaced or reordered",
            ),
            ChainBreak::BadStart => {
                f.write_str("prev_hash of entry 0 is not zero: the entry was edited")
            }
        }
    }
}

/// The first place an audit trail is broken: the `seq` of the entry, as it
/// stands in the trail, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainError {
    /// The seq of the first bad entry.
    pub seq: u64,
    /// What is wrong with it.
    pub why: ChainBreak,
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at seq {}: {}", self.seq, self.why)
    }
}

/// Checks that `entries` is an unbroken piece of the audit trail, oldest
/// first: each entry's `hash` is the SHA-256 of its bytes before `hash`,
/// each `prev_hash` is the `hash` of the entry before it, and the seqs are
/// consecutive. Reports the first entry that breaks one of these.
///
/// The first entry's `prev_hash` can only be checked for entry 0 (the
/// entries before another first one are gone). A piece cut off at either
/// end looks like a shorter trail; the caller compares the ends with what
/// it expects (`first_seq`, `next_seq`).
pub fn verify_audit_chain(entries: &[AsmAuditEntry]) -> Result<(), ChainError> {
    let mut prev: Option<&AsmAuditEntry> = None;
    for e in entries {
        let broken = |why| Err(ChainError { seq: e.seq, why });
        // The entry's own hash first: an edited seq is an edit, not a gap.
        if e.compute_hash() != e.hash {
            return broken(ChainBreak::Edited);
        }
        match prev {
            None if e.seq == 0 && e.prev_hash != [0; ASM_AUDIT_HASH_LEN] => {
                return broken(ChainBreak::BadStart)
            }
            None => {}
            Some(p) if p.seq.checked_add(1) != Some(e.seq) => {
                return broken(ChainBreak::Gap { prev_seq: p.seq })
            }
            Some(p) if p.hash != e.prev_hash => return broken(ChainBreak::Unlinked),
            Some(_) => {}
        }
        prev = Some(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every request: its number, its `nr`, whether the kernel writes back
    /// (`_IOWR`) or only reads (`_IOW`), and its argument's size.
    fn requests() -> [(u32, u32, bool, usize); 19] {
        [
            (ASM_IOC_REGISTER, 0x01, true, size_of::<AsmRegister>()),
            (ASM_IOC_UNREGISTER, 0x02, false, size_of::<AsmUnregister>()),
            (ASM_IOC_LIST, 0x03, true, size_of::<AsmList>()),
            (ASM_IOC_GET_INFO, 0x04, true, size_of::<AsmAgentInfo>()),
            (ASM_IOC_GET_TELEMETRY_JSON, 0x05, true, size_of::<AsmJson>()),
            (
                ASM_IOC_GET_AGENT_INFO_JSON,
                0x06,
                true,
                size_of::<AsmJson>(),
            ),
            (
                ASM_IOC_SET_FAULT_POLICY,
                0x07,
                false,
                size_of::<AsmFaultPolicy>(),
            ),
            (
                ASM_IOC_GET_FAULT_POLICY,
                0x08,
                true,
                size_of::<AsmFaultPolicy>(),
            ),
            (ASM_IOC_HEARTBEAT, 0x09, true, size_of::<AsmHeartbeat>()),
            (ASM_IOC_GET_HISTORY, 0x0a, true, size_of::<AsmHistory>()),
            (ASM_IOC_PATCH_POLICY, 0x0b, true, size_of::<AsmPatch>()),
            (ASM_IOC_GET_AUDIT, 0x0c, true, size_of::<AsmAuditRead>()),
            (
                ASM_IOC_GET_COMPLIANCE,
                0x0d,
                true,
                size_of::<AsmCompliance>(),
            ),
            (ASM_IOC_OVERSIGHT, 0x0e, true, size_of::<AsmNote>()),
            (ASM_IOC_DECISION, 0x0f, true, size_of::<AsmNote>()),
            (ASM_IOC_SENSITIVE, 0x10, true, size_of::<AsmSensitive>()),
            (ASM_IOC_LLM_REQUEST, 0x11, true, size_of::<AsmLlmRequest>()),
            (ASM_IOC_DEPS, 0x12, true, size_of::<AsmDeps>()),
            (ASM_IOC_PROFILE, 0x13, true, size_of::<AsmProfile>()),
        ]
    }

    /// Decoded with the fields every architecture shares: `nr` in bits
    /// 0-7, the type in bits 8-15, the size from bit 16 on (13 bits at
    /// least), the direction above.
    #[test]
    fn ioctl_numbers_encode_nr_type_and_size() {
        for (request, nr, _, size) in requests() {
            assert_eq!(request & 0xff, nr, "{request:#x}");
            assert_eq!((request >> 8) & 0xff, ASM_IOC_MAGIC, "{request:#x}");
            assert_eq!(((request >> 16) & 0x1fff) as usize, size, "{request:#x}");
        }
    }

    /// The generic `_IOC` layout (x86, arm, arm64, riscv): `_IOC_WRITE` is
    /// 1 and `_IOC_READ` 2 in the top two bits, with a 14-bit size. These
    /// are the values `_IOWR`/`_IOW` give in include/uapi/linux/asm.h on
    /// x86-64, worked out by hand; tests/layout.rs also compares them with
    /// the C header compiled on the host.
    #[cfg(not(any(
        target_arch = "mips",
        target_arch = "mips32r6",
        target_arch = "mips64",
        target_arch = "mips64r6",
        target_arch = "powerpc",
        target_arch = "powerpc64",
        target_arch = "sparc64"
    )))]
    #[test]
    fn ioctl_numbers_use_the_generic_encoding() {
        // _IOWR(0xBA, 1, 360 bytes) worked out by hand.
        assert_eq!(ASM_IOC_REGISTER, 0xC168_BA01);
        assert_eq!(ASM_IOC_UNREGISTER, 0x4020_BA02);
        assert_eq!(ASM_IOC_LIST, 0xC028_BA03);
        assert_eq!(ASM_IOC_GET_INFO, 0xC1C0_BA04);
        assert_eq!(ASM_IOC_GET_TELEMETRY_JSON, 0xC028_BA05);
        assert_eq!(ASM_IOC_GET_AGENT_INFO_JSON, 0xC028_BA06);
        assert_eq!(ASM_IOC_SET_FAULT_POLICY, 0x4050_BA07);
        assert_eq!(ASM_IOC_GET_FAULT_POLICY, 0xC050_BA08);
        assert_eq!(ASM_IOC_HEARTBEAT, 0xC020_BA09);
        assert_eq!(ASM_IOC_GET_HISTORY, 0xC070_BA0A);
        assert_eq!(ASM_IOC_PATCH_POLICY, 0xC148_BA0B);
        assert_eq!(ASM_IOC_GET_AUDIT, 0xC048_BA0C);
        assert_eq!(ASM_IOC_GET_COMPLIANCE, 0xC060_BA0D);
        assert_eq!(ASM_IOC_OVERSIGHT, 0xC0A8_BA0E);
        assert_eq!(ASM_IOC_DECISION, 0xC0A8_BA0F);
        assert_eq!(ASM_IOC_SENSITIVE, 0xC128_BA10);
        assert_eq!(ASM_IOC_LLM_REQUEST, 0xC040_BA11);
        assert_eq!(ASM_IOC_DEPS, 0xC040_BA12);
        assert_eq!(ASM_IOC_PROFILE, 0xC0A0_BA13);
        for (request, _, reads, _) in requests() {
            let dir = if reads { 3 } else { 1 };
            assert_eq!(request >> 30, dir, "{request:#x}");
        }
    }

    /// The layout of mips, powerpc and sparc: three direction bits from
    /// bit 29, `_IOC_READ` 2 and `_IOC_WRITE` 4, with a 13-bit size. Only
    /// the `_IOW` numbers differ from the generic ones.
    #[cfg(any(
        target_arch = "mips",
        target_arch = "mips32r6",
        target_arch = "mips64",
        target_arch = "mips64r6",
        target_arch = "powerpc",
        target_arch = "powerpc64",
        target_arch = "sparc64"
    ))]
    #[test]
    fn ioctl_numbers_use_the_three_direction_bit_encoding() {
        assert_eq!(ASM_IOC_REGISTER, 0xC168_BA01);
        assert_eq!(ASM_IOC_UNREGISTER, 0x8020_BA02);
        assert_eq!(ASM_IOC_SET_FAULT_POLICY, 0x8050_BA07);
        for (request, _, reads, _) in requests() {
            let dir = if reads { 6 } else { 4 };
            assert_eq!(request >> 29, dir, "{request:#x}");
        }
    }

    #[test]
    fn constructors_fill_size_and_version() {
        let r = AsmRegister::new();
        assert_eq!((r.size, r.version), (360, 1));
        assert_eq!((r.risk_level, r.reserved0, r.reserved), (0, 0, [0; 3]));
        let u = AsmUnregister::new(7);
        assert_eq!((u.size, u.version, u.agent_id), (32, 1, 7));
        let l = AsmList::new(0x1000, 4);
        assert_eq!((l.size, l.version, l.ids, l.capacity), (40, 1, 0x1000, 4));
        let i = AsmAgentInfo::new(9);
        assert_eq!((i.size, i.version, i.agent_id), (448, 1, 9));
        let j = AsmJson::new(3, 0x2000, 64);
        assert_eq!(
            (j.size, j.version, j.agent_id, j.buf, j.len),
            (40, 1, 3, 0x2000, 64)
        );
        let p = AsmFaultPolicy::new(4, ASM_FP_EFFECTIVE);
        assert_eq!((p.size, p.version, p.agent_id, p.flags), (80, 1, 4, 4));
        assert_eq!((p.preset, p.actions, p.reserved), (0, [0; 8], [0; 4]));
        let b = AsmHeartbeat::new();
        assert_eq!((b.size, b.version, b.agent_id, b.flags), (32, 1, 0, 0));
        let h = AsmHistory::new(5, 0x3000, 60);
        assert_eq!(
            (h.size, h.version, h.agent_id, h.windows, h.capacity),
            (112, 1, 5, 0x3000, 60)
        );
        assert_eq!((h.count, h.reserved0, h.reserved), (0, 0, [0; 4]));
        let p = AsmPatch::new(6, ASM_PATCH_SET_RISK);
        assert_eq!((p.size, p.version, p.agent_id, p.op), (328, 1, 6, 6));
        assert_eq!(
            (p.value, p.scope, p.reserved),
            (0, [0; ASM_SCOPE_LEN], [0; 1])
        );
        assert_eq!((p.llm_burst, p.llm_refill), (0, 0));
        let a = AsmAuditRead::new(3, 0x4000, 256);
        assert_eq!(
            (a.size, a.version, a.from_seq, a.entries, a.capacity),
            (72, 1, 3, 0x4000, 256)
        );
        assert_eq!((a.trail, a.reserved0), (ASM_AUDIT_TRAIL_POLICY, 0));
        let c = AsmCompliance::new(8);
        assert_eq!(
            (c.size, c.version, c.agent_id, c.llm_requests, c.reserved),
            (96, 1, 8, 0, [0; 1])
        );
        let n = AsmNote::new(9, ASM_OVERSIGHT_STOP);
        assert_eq!((n.size, n.version, n.agent_id, n.kind), (168, 1, 9, 4));
        let s = AsmSensitive::new(ASM_SENSITIVE_GET, 2);
        assert_eq!((s.size, s.version, s.op, s.index), (296, 1, 3, 2));
        assert_eq!((s.count, s.reserved0, s.reserved), (0, 0, [0; 2]));
        let q = AsmLlmRequest::new(0x5000, 20, 0x6000, 65536);
        assert_eq!((q.size, q.version, q.flags), (64, 1, 0));
        assert_eq!(
            (q.request, q.request_len, q.response, q.response_len),
            (0x5000, 20, 0x6000, 65536)
        );
        assert_eq!((q.written, q.request_id, q.reserved), (0, 0, [0; 2]));
        let q = AsmLlmRequest::submit(0x5000, 20);
        assert_eq!((q.size, q.version, q.flags), (64, 1, ASM_LLM_SUBMIT));
        assert_eq!(
            (q.request, q.request_len, q.response, q.response_len),
            (0x5000, 20, 0, 0)
        );
        let q = AsmLlmRequest::collect(17, 0x6000, 4096);
        assert_eq!((q.flags, q.request_id), (ASM_LLM_COLLECT, 17));
        assert_eq!(
            (q.request, q.request_len, q.response, q.response_len),
            (0, 0, 0x6000, 4096)
        );
        let d = AsmDeps::add(101, 100, ASM_DEP_OPTIONAL);
        assert_eq!((d.size, d.version, d.op, d.kind), (64, 1, ASM_DEP_ADD, 2));
        assert_eq!((d.dependent, d.dependency), (101, 100));
        assert_eq!(
            (d.capacity, d.count, d.edges, d.audit_seq, d.reserved),
            (0, 0, 0, 0, [0; 2])
        );
        let d = AsmDeps::remove(101, 100);
        assert_eq!((d.op, d.kind, d.dependent, d.dependency), (2, 0, 101, 100));
        let d = AsmDeps::list(0x7000, 64);
        assert_eq!((d.size, d.op, d.edges, d.capacity), (64, 3, 0x7000, 64));
        assert_eq!((d.kind, d.dependent, d.dependency, d.count), (0, 0, 0, 0));
        let p = AsmProfile::begin();
        assert_eq!((p.size, p.version, p.cmd), (160, 1, ASM_PROFILE_BEGIN));
        assert_eq!(p, AsmProfile::new(ASM_PROFILE_BEGIN));
        let mut p = AsmProfile::end(12345, true);
        assert_eq!((p.cmd, p.token, p.success), (ASM_PROFILE_END, 12345, 1));
        assert_eq!(p.set_op(b"db.query"), Ok(()));
        assert_eq!((p.op(), &p.op[..9]), (&b"db.query"[..], &b"db.query\0"[..]));
        let p = AsmProfile::record(950_000, false);
        assert_eq!((p.cmd, p.duration_ns, p.success), (3, 950_000, 0));
        assert_eq!((p.token, p.agent_id, p.index), (0, 0, 0));
        let p = AsmProfile::stats(7701);
        assert_eq!((p.cmd, p.agent_id, p.index), (ASM_PROFILE_STATS, 7701, 0));
        let p = AsmProfile::stats_index(7701, 3);
        assert_eq!((p.cmd, p.agent_id, p.index, p.op()), (4, 7701, 3, &b""[..]));
        assert_eq!(
            (p.total, p.successes, p.kept, p.ops, p.min_ns, p.max_ns),
            (0, 0, 0, 0, 0, 0)
        );
        assert_eq!(
            (p.avg_ns, p.p50_ns, p.p95_ns, p.p99_ns, p.reserved),
            (0, 0, 0, 0, [0; 2])
        );
        let mut p = AsmProfile::stats(1);
        assert_eq!(p.set_op(&[b'a'; 32]), Err(StrError::TooLong(31)));
        assert_eq!(p.set_op(b"a\0b"), Err(StrError::Nul));
        assert_eq!(p.set_op(&[b'a'; 31]), Ok(()));
        assert_eq!(p.op().len(), 31);
        let e = AsmDepEdge::new(101, 100, ASM_DEP_PEER);
        assert_eq!(
            (e.dependent, e.dependency, e.kind, e.reserved),
            (101, 100, 3, 0)
        );
    }

    #[test]
    fn llm_rate_audit_values() {
        let v = llm_rate_value(ASM_LLM_BURST_DEFAULT, ASM_LLM_REFILL_DEFAULT);
        assert_eq!(v, 30 << 32 | 10);
        assert_eq!(llm_rate_of(v), (30, 10));
        assert_eq!(
            llm_rate_of(llm_rate_value(u32::MAX, u32::MAX)),
            (u32::MAX, u32::MAX)
        );
        assert_eq!(llm_rate_of(7), (0, 7));
    }

    #[test]
    fn llm_provider_names() {
        for (value, name) in LLM_PROVIDERS {
            assert_eq!(llm_provider_name(value), Some(name));
            assert_eq!(parse_llm_provider(name), Some(value));
        }
        assert_eq!(parse_llm_provider("gpt4"), Some(ASM_LLM_GPT4));
        assert_eq!(parse_llm_provider("Claude"), None);
        assert_eq!(parse_llm_provider("gpt-4"), None);
        assert_eq!(llm_provider_name(ASM_LLM_ANY), None);
        assert_eq!(llm_provider_name(5), None);
    }

    #[test]
    fn parse_capability_accepts_every_spelling() {
        for (s, bit) in [
            ("FsBasic", ASM_CAP_FS_BASIC),
            ("fsbasic", ASM_CAP_FS_BASIC),
            ("FSBASIC", ASM_CAP_FS_BASIC),
            ("fs_basic", ASM_CAP_FS_BASIC),
            ("FS_BASIC", ASM_CAP_FS_BASIC),
            ("ASM_CAP_FS_BASIC", ASM_CAP_FS_BASIC),
            ("fs-extended", ASM_CAP_FS_EXTENDED),
            ("NetClient", ASM_CAP_NET_CLIENT),
            ("net_server", ASM_CAP_NET_SERVER),
            ("AUDIO_CONTROL", ASM_CAP_AUDIO_CONTROL),
            ("llmaccess", ASM_CAP_LLM_ACCESS),
            ("Process_Spawn", ASM_CAP_PROCESS_SPAWN),
            ("admin", ASM_CAP_ADMIN),
        ] {
            assert_eq!(parse_capability(s), Some(bit), "{s}");
        }
        for s in ["", "Foo", "fs", "FsBasics", "asm_cap_", "all"] {
            assert_eq!(parse_capability(s), None, "{s}");
        }
    }

    #[test]
    fn capability_table_covers_all_bits_once() {
        let mut seen = 0;
        for cap in CAPABILITIES {
            assert_eq!(seen & cap.bit, 0, "{} twice", cap.name);
            seen |= cap.bit;
            // The C name is the snake_case of the display name.
            assert_eq!(parse_capability(cap.c_name), Some(cap.bit));
        }
        assert_eq!(seen, ASM_CAP_ALL);
    }

    #[test]
    fn capability_names_in_bit_order() {
        let names: Vec<_> =
            capability_names(ASM_CAP_ADMIN | ASM_CAP_FS_BASIC | (1 << 40)).collect();
        assert_eq!(names, ["FsBasic", "Admin"]);
        assert_eq!(capability_names(0).count(), 0);
    }

    #[test]
    fn state_names_match_values() {
        assert_eq!(state_name(ASM_STATE_SPAWNED), Some("Spawned"));
        assert_eq!(state_name(ASM_STATE_ACTIVE), Some("Active"));
        assert_eq!(state_name(ASM_STATE_FAULT), Some("Fault"));
        assert_eq!(state_name(ASM_STATE_RECOVERY), Some("Recovery"));
        assert_eq!(state_name(ASM_STATE_RESTARTED), Some("Restarted"));
        assert_eq!(state_name(ASM_STATE_EXITED), Some("Exited"));
        assert_eq!(state_name(ASM_STATE_FAILED), Some("Failed"));
        assert_eq!(state_name(7), None);
        assert_eq!(state_name(u32::MAX), None);
    }

    #[test]
    fn fault_action_and_preset_names() {
        for (i, fault) in FAULT_TYPES.iter().enumerate() {
            // In value order, covering 1 .. ASM_FAULT_TYPES - 1.
            assert_eq!(fault.value as usize, i + 1);
            assert_eq!(fault_name(fault.value), Some(fault.name));
        }
        assert_eq!(
            fault_name(ASM_FAULT_CAPABILITY),
            Some("capability_violation")
        );
        assert_eq!(fault_name(0), None);
        assert_eq!(fault_name(ASM_FAULT_TYPES as u32), None);

        for (s, action) in [
            ("default", ASM_ACTION_DEFAULT),
            ("log", ASM_ACTION_LOG),
            ("throttle", ASM_ACTION_THROTTLE),
            ("kill", ASM_ACTION_KILL),
            ("restart", ASM_ACTION_RESTART),
        ] {
            assert_eq!(parse_action(s), Some(action));
            assert_eq!(action_name(action), Some(s));
        }
        assert_eq!(parse_action("Kill"), None);
        assert_eq!(action_name(5), None);

        assert_eq!(parse_preset("default"), Some(ASM_PRESET_DEFAULT));
        assert_eq!(parse_preset("permissive"), Some(ASM_PRESET_PERMISSIVE));
        assert_eq!(parse_preset("strict"), Some(ASM_PRESET_STRICT));
        assert_eq!(parse_preset("none"), None);
        assert_eq!(parse_preset("lax"), None);
    }

    #[test]
    fn sizes() {
        use SizeError::{Malformed, TooLarge};
        for (text, want) in [
            ("0", Ok(0)),
            ("1", Ok(1)),
            ("4096", Ok(4096)),
            ("007", Ok(7)),
            ("4k", Ok(4 << 10)),
            ("4K", Ok(4 << 10)),
            ("64m", Ok(64 << 20)),
            ("64M", Ok(64 << 20)),
            ("2g", Ok(2 << 30)),
            ("2G", Ok(2 << 30)),
            ("16777215G", Ok(16_777_215 << 30)),
            ("17179869183G", Ok(17_179_869_183 << 30)),
            ("18446744073709551615", Ok(u64::MAX)),
            // Past u64::MAX after the unit, and before it.
            ("17179869184G", Err(TooLarge)),
            ("18014398509481984k", Err(TooLarge)),
            ("18446744073709551616", Err(TooLarge)),
            ("99999999999999999999M", Err(TooLarge)),
            ("", Err(Malformed)),
            ("K", Err(Malformed)),
            ("m", Err(Malformed)),
            ("1.5G", Err(Malformed)),
            ("+4", Err(Malformed)),
            ("-4", Err(Malformed)),
            ("4T", Err(Malformed)),
            ("4MB", Err(Malformed)),
            ("4KK", Err(Malformed)),
            ("4 M", Err(Malformed)),
            (" 4", Err(Malformed)),
            ("4 ", Err(Malformed)),
            ("0x10", Err(Malformed)),
            ("1_000", Err(Malformed)),
            // A non-ASCII digit, and a last char of more than one byte
            // (KELVIN SIGN, which lowercases to 'k').
            ("\u{664}", Err(Malformed)),
            ("4\u{212a}", Err(Malformed)),
        ] {
            assert_eq!(parse_size(text), want, "{text:?}");
        }
        assert_eq!(
            Malformed.to_string(),
            "not a size (bytes, or a number with K, M or G)"
        );
        assert_eq!(TooLarge.to_string(), "too large");
    }

    #[test]
    fn throttle_only_for_windowed_faults() {
        for fault in FAULT_TYPES {
            let windowed = [ASM_FAULT_CPU_QUOTA, ASM_FAULT_SYSCALL_FLOOD].contains(&fault.value);
            assert_eq!(action_allowed(fault.value, ASM_ACTION_THROTTLE), windowed);
            for action in [
                ASM_ACTION_DEFAULT,
                ASM_ACTION_LOG,
                ASM_ACTION_KILL,
                ASM_ACTION_RESTART,
            ] {
                assert!(action_allowed(fault.value, action));
            }
        }
    }

    #[test]
    fn strings_round_trip_and_are_bounded() {
        let mut r = AsmRegister::new();
        r.set_name(b"fs_monitor").unwrap();
        assert_eq!(&r.name[..11], b"fs_monitor\0");
        assert_eq!(r.set_name(&[b'a'; 32]), Err(StrError::TooLong(31)));
        r.set_name(&[b'a'; 31]).unwrap();
        assert_eq!(r.name[31], 0);
        assert_eq!(r.set_name(b"a\0b"), Err(StrError::Nul));
        // A shorter name clears what a longer one left behind.
        r.set_name(b"ab").unwrap();
        assert_eq!(get_cstr(&r.name), b"ab");
        assert_eq!(r.set_scope(&[b'/'; 256]), Err(StrError::TooLong(255)));

        let mut info = AsmAgentInfo::new(1);
        info.name[..3].copy_from_slice(b"abc");
        assert_eq!(info.name(), b"abc");
        assert_eq!(info.scope(), b"");
        // No NUL at all: the whole field, not a read past it.
        info.name = [b'x'; ASM_NAME_LEN];
        assert_eq!(info.name().len(), ASM_NAME_LEN);
    }

    #[test]
    fn risk_and_event_names() {
        for (s, risk) in [
            ("minimal", ASM_RISK_MINIMAL),
            ("Limited", ASM_RISK_LIMITED),
            ("HIGH", ASM_RISK_HIGH),
            ("unacceptable", ASM_RISK_UNACCEPTABLE),
        ] {
            assert_eq!(parse_risk(s), Some(risk), "{s}");
        }
        assert_eq!(parse_risk("default"), None);
        assert_eq!(parse_risk(""), None);
        assert_eq!(risk_name(ASM_RISK_MINIMAL), Some("Minimal"));
        assert_eq!(risk_name(ASM_RISK_UNACCEPTABLE), Some("Unacceptable"));
        assert_eq!(risk_name(ASM_RISK_DEFAULT), None);
        assert_eq!(risk_name(5), None);

        assert_eq!(
            patch_op_name(ASM_PATCH_ADD_CAPABILITY),
            Some("add_capability")
        );
        assert_eq!(patch_op_name(ASM_PATCH_SET_RISK), Some("set_risk"));
        assert_eq!(patch_op_name(ASM_PATCH_SET_LLM_RATE), Some("set_llm_rate"));
        assert_eq!(patch_op_name(8), None);
        let violations: Vec<_> = (1..=5).filter_map(violation_name).collect();
        assert_eq!(violations, ["file", "connect", "listen", "exec", "llm"]);
        assert_eq!(violation_name(0), None);
        for (i, name) in ["review", "approve", "reject", "stop"].iter().enumerate() {
            let value = i as u32 + 1;
            assert_eq!(oversight_name(value), Some(*name));
            assert_eq!(parse_oversight(name), Some(value));
        }
        assert_eq!(parse_oversight("Stop"), Some(ASM_OVERSIGHT_STOP));
        assert_eq!(parse_oversight("kill"), None);
        for (i, (value, name)) in AUDIT_KINDS.iter().enumerate() {
            // In value order, covering 1 ..= ASM_AUDIT_DEPENDENCY.
            assert_eq!(*value as usize, i + 1);
            assert_eq!(audit_kind_name(*value), Some(*name));
            assert_eq!(parse_audit_kind(name), Some(*value));
        }
        assert_eq!(
            audit_kind_name(ASM_AUDIT_SENSITIVE_SET),
            Some("sensitive_set")
        );
        assert_eq!(audit_kind_name(ASM_AUDIT_LLM), Some("llm_request"));
        assert_eq!(parse_audit_kind("llm_request"), Some(ASM_AUDIT_LLM));
        assert_eq!(audit_kind_name(ASM_AUDIT_DEPENDENCY), Some("dependency"));
        assert_eq!(parse_audit_kind("dependency"), Some(13));
        assert_eq!(audit_kind_name(14), None);
        assert_eq!(parse_audit_kind("Register"), None);
        assert_eq!(compliance_status_name(ASM_COMPLIANT), Some("COMPLIANT"));
        assert_eq!(
            compliance_status_name(ASM_REVIEW_NEEDED),
            Some("REVIEW_NEEDED")
        );
        assert_eq!(
            compliance_status_name(ASM_NON_COMPLIANT),
            Some("NON_COMPLIANT")
        );
        assert_eq!(compliance_status_name(0), None);
    }

    #[test]
    fn dependency_names() {
        for (i, (value, name)) in DEP_KINDS.iter().enumerate() {
            assert_eq!(*value as usize, i + 1);
            assert_eq!(dep_kind_name(*value), Some(*name));
            assert_eq!(parse_dep_kind(name), Some(*value));
        }
        assert_eq!(parse_dep_kind("Required"), Some(ASM_DEP_REQUIRED));
        assert_eq!(parse_dep_kind("PEER"), Some(ASM_DEP_PEER));
        assert_eq!(parse_dep_kind("hard"), None);
        assert_eq!(dep_kind_name(0), None);
        assert_eq!(dep_kind_name(4), None);
        assert_eq!(dep_op_name(ASM_DEP_ADD), Some("add"));
        assert_eq!(dep_op_name(ASM_DEP_REMOVE), Some("remove"));
        assert_eq!(dep_op_name(ASM_DEP_LIST), Some("list"));
        assert_eq!(dep_op_name(4), None);
    }

    #[test]
    fn profile_op_names() {
        for good in [&b"a"[..], b"db.query", b"llm:call", b"fetch-2_x", b"Z9"] {
            assert!(profile_op_valid(good), "{good:?}");
        }
        assert!(profile_op_valid(&[b'x'; 31]));
        for bad in [
            &b""[..],
            b"a b",
            b"a/b",
            b"caf\xc3\xa9",
            b"a\0",
            b"tab\t",
            b"a,b",
            &[b'x'; 32],
        ] {
            assert!(!profile_op_valid(bad), "{bad:?}");
        }
    }

    #[test]
    fn score_follows_the_header_formula() {
        // (violations, crashes, oversight, clean exits) -> score.
        for (counts, want) in [
            ((0, 0, 0, 0), 1000),
            ((1, 0, 0, 0), 850),
            ((0, 1, 0, 0), 950),
            ((1, 1, 0, 0), 800),
            ((2, 0, 0, 0), 700),
            ((2, 1, 0, 0), 650),
            // Oversight and clean exits make up for a violation...
            ((1, 0, 2, 10), 1000),
            ((1, 0, 2, 0), 900),
            ((2, 0, 1, 3), 755),
            // ... but never past the maximum, and nothing goes below 0.
            ((0, 0, 100, 100), 1000),
            ((7, 0, 0, 0), 0),
            ((6, 2, 0, 0), 0),
            ((6, 1, 0, 0), 50),
            // Counts that would overflow 64 bits in the sum.
            ((u64::MAX, u64::MAX, 0, 0), 0),
            ((0, 0, u64::MAX, u64::MAX), 1000),
            ((u64::MAX, 0, u64::MAX, u64::MAX), 0),
        ] {
            let (v, c, o, e) = counts;
            assert_eq!(compliance_score(v, c, o, e), want, "{counts:?}");
        }
    }

    #[test]
    fn status_thresholds() {
        for (score, want) in [
            (1000, ASM_COMPLIANT),
            (900, ASM_COMPLIANT),
            (899, ASM_REVIEW_NEEDED),
            (700, ASM_REVIEW_NEEDED),
            (699, ASM_NON_COMPLIANT),
            (0, ASM_NON_COMPLIANT),
        ] {
            assert_eq!(compliance_status(score), want, "{score}");
        }
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn sha256_known_answers() {
        use sha2::{Digest, Sha256};
        // FIPS 180-4 examples: the hash the kernel's crypto API computes.
        assert_eq!(
            hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(&Sha256::digest(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn hashed_bytes_are_the_memory_layout() {
        use core::mem::offset_of;
        let mut e = AsmAuditEntry::ZERO;
        e.seq = 0x0102_0304_0506_0708;
        e.time_ns = 0x1112_1314_1516_1718;
        e.kind = 0x2122_2324;
        e.op = 0x3132_3334;
        e.agent_id = 0x4142_4344;
        e.uid = 0x5152_5354;
        e.pid = 0x6162_6364;
        e.result = -2;
        e.old_value = 0x7172_7374_7576_7778;
        e.new_value = 0x8182_8384_8586_8788;
        e.set_detail(b"/etc/shadow").unwrap();
        e.prev_hash = [0xaa; ASM_AUDIT_HASH_LEN];
        e.hash = [0xbb; ASM_AUDIT_HASH_LEN];
        let b = e.hashed_bytes();
        let at = |off: usize, len: usize| &b[off..off + len];
        assert_eq!(at(offset_of!(AsmAuditEntry, seq), 8), e.seq.to_ne_bytes());
        assert_eq!(
            at(offset_of!(AsmAuditEntry, time_ns), 8),
            e.time_ns.to_ne_bytes()
        );
        assert_eq!(at(offset_of!(AsmAuditEntry, kind), 4), e.kind.to_ne_bytes());
        assert_eq!(at(offset_of!(AsmAuditEntry, op), 4), e.op.to_ne_bytes());
        assert_eq!(
            at(offset_of!(AsmAuditEntry, agent_id), 4),
            e.agent_id.to_ne_bytes()
        );
        assert_eq!(at(offset_of!(AsmAuditEntry, uid), 4), e.uid.to_ne_bytes());
        assert_eq!(at(offset_of!(AsmAuditEntry, pid), 4), e.pid.to_ne_bytes());
        assert_eq!(
            at(offset_of!(AsmAuditEntry, result), 4),
            e.result.to_ne_bytes()
        );
        assert_eq!(
            at(offset_of!(AsmAuditEntry, old_value), 8),
            e.old_value.to_ne_bytes()
        );
        assert_eq!(
            at(offset_of!(AsmAuditEntry, new_value), 8),
            e.new_value.to_ne_bytes()
        );
        assert_eq!(
            at(offset_of!(AsmAuditEntry, detail), ASM_AUDIT_DETAIL_LEN),
            e.detail
        );
        assert_eq!(at(offset_of!(AsmAuditEntry, prev_hash), 32), e.prev_hash);
        // `hash` itself is not covered.
        assert_eq!(b.len(), offset_of!(AsmAuditEntry, hash));
        assert_eq!(e.detail(), b"/etc/shadow");
    }

    /// A chain of `n` entries from `first`, linked and hashed as the
    /// kernel does.
    fn chain(first: u64, n: u64) -> Vec<AsmAuditEntry> {
        let mut prev_hash = [0; ASM_AUDIT_HASH_LEN];
        if first > 0 {
            // Entries before `first` are gone; this one pointed at one.
            prev_hash = [0x5a; ASM_AUDIT_HASH_LEN];
        }
        (first..first + n)
            .map(|seq| {
                let mut e = AsmAuditEntry::ZERO;
                e.seq = seq;
                e.time_ns = 1_764_000_000_000_000_000 + seq * 1_000_000;
                e.kind = ASM_AUDIT_PATCH;
                e.op = ASM_PATCH_ADD_CAPABILITY;
                e.agent_id = 100;
                e.pid = 42;
                e.old_value = seq;
                e.new_value = seq + 1;
                e.set_detail(format!("entry {seq}").as_bytes()).unwrap();
                e.prev_hash = prev_hash;
                e.hash = e.compute_hash();
                prev_hash = e.hash;
                e
            })
            .collect()
    }

    fn broken(entries: &[AsmAuditEntry]) -> (u64, ChainBreak) {
        let e = verify_audit_chain(entries).unwrap_err();
        (e.seq, e.why)
    }

    #[test]
    fn good_chains_verify() {
        assert_eq!(verify_audit_chain(&[]), Ok(()));
        assert_eq!(verify_audit_chain(&chain(0, 1)), Ok(()));
        assert_eq!(verify_audit_chain(&chain(0, 10)), Ok(()));
        // The trail overflowed: the first kept entry's predecessor is gone.
        assert_eq!(verify_audit_chain(&chain(300, 5)), Ok(()));
        assert_eq!(verify_audit_chain(&chain(0, 10)[4..]), Ok(()));
    }

    #[test]
    fn an_edited_field_is_found() {
        let good = chain(0, 6);
        let edits: [fn(&mut AsmAuditEntry); 13] = [
            |e| e.seq += 10,
            |e| e.time_ns += 1,
            |e| e.kind = ASM_AUDIT_DECISION,
            |e| e.op = ASM_PATCH_REMOVE_CAPABILITY,
            |e| e.agent_id = 101,
            |e| e.uid = 1000,
            |e| e.pid = 43,
            |e| e.result = -1,
            |e| e.old_value = 0,
            |e| e.new_value ^= 1 << 63,
            |e| e.detail[0] = b'E',
            // A byte after the text's NUL counts too.
            |e| e.detail[ASM_AUDIT_DETAIL_LEN - 1] = 1,
            |e| e.prev_hash[31] ^= 1,
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut entries = good.clone();
            edit(&mut entries[3]);
            let (seq, why) = broken(&entries);
            assert_eq!(why, ChainBreak::Edited, "edit {i}");
            assert_eq!(seq, entries[3].seq, "edit {i}");
        }
        let mut entries = good.clone();
        entries[5].hash[0] ^= 0x80;
        assert_eq!(broken(&entries), (5, ChainBreak::Edited));
    }

    #[test]
    fn removed_and_reordered_entries_are_found() {
        let good = chain(0, 6);
        let mut removed = good.clone();
        removed.remove(2);
        assert_eq!(broken(&removed), (3, ChainBreak::Gap { prev_seq: 1 }));

        let mut swapped = good.clone();
        swapped.swap(2, 3);
        assert_eq!(broken(&swapped), (3, ChainBreak::Gap { prev_seq: 1 }));

        let mut repeated = good.clone();
        repeated.insert(3, good[2]);
        assert_eq!(broken(&repeated), (2, ChainBreak::Gap { prev_seq: 2 }));

        // An entry removed and the ones after it renumbered, each rehashed
        // on its own: the next one still names the removed one.
        let mut renumbered = good.clone();
        renumbered.remove(2);
        for e in &mut renumbered[2..] {
            e.seq -= 1;
            e.hash = e.compute_hash();
        }
        assert_eq!(broken(&renumbered), (2, ChainBreak::Unlinked));

        // An entry replaced by a forged one with a consistent hash.
        let mut forged = good.clone();
        forged[4].set_detail(b"nothing happened").unwrap();
        forged[4].hash = forged[4].compute_hash();
        assert_eq!(broken(&forged), (5, ChainBreak::Unlinked));

        // Entry 0 always starts from a zero prev_hash.
        let mut start = chain(0, 2);
        start[0].prev_hash = [1; ASM_AUDIT_HASH_LEN];
        start[0].hash = start[0].compute_hash();
        assert_eq!(broken(&start), (0, ChainBreak::BadStart));
    }

    #[test]
    fn chain_errors_read_well() {
        let e = ChainError {
            seq: 7,
            why: ChainBreak::Gap { prev_seq: 5 },
        };
        assert_eq!(
            e.to_string(),
            "at seq 7: seq gap after seq 5: entries were removed or reordered"
        );
        assert_eq!(
            ChainBreak::Edited.to_string(),
            "hash mismatch: the entry was edited"
        );
    }
}
