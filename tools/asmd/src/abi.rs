// SPDX-License-Identifier: GPL-2.0

//! The parts of `include/uapi/linux/asm.h` that asmd needs and the
//! `asm-abi` crate does not export yet: the restart events and the generic
//! netlink family. The ioctl structs and the other constants come from
//! `asm-abi`.
//!
//! Only what asmd uses is here (asmd skips the other attributes). Once
//! `asm-abi` mirrors these too, this file should re-export them from there
//! instead; the values are the header's and cannot change.

/// `ASM_EV_RECOVERY`: the agent ended and is to be restarted; its launcher
/// (asmd) starts it again. `ASM_A_VALUE` is the restart count so far,
/// `ASM_A_LIMIT` the budget.
pub const ASM_EV_RECOVERY: u32 = 10;
/// `ASM_EV_RESTARTED`: a process joined an agent in Recovery; `ASM_A_VALUE`
/// is the new restart count.
pub const ASM_EV_RESTARTED: u32 = 11;
/// `ASM_EV_FAILED`: the agent ended for good (no restart left, or a kill
/// action); `ASM_A_VALUE` is its restart count.
pub const ASM_EV_FAILED: u32 = 12;

/// `ASM_GENL_NAME`: the generic netlink family of the module.
pub const ASM_GENL_NAME: &str = "asm";
/// `ASM_GENL_MCGRP_EVENTS`: the multicast group of lifecycle events.
pub const ASM_GENL_MCGRP_EVENTS: &str = "events";

/// `ASM_CMD_EVENT`: kernel to user, multicast: one event.
pub const ASM_CMD_EVENT: u8 = 1;

/// `ASM_A_SEQ`: u64, numbers the events from 0 since the module loaded.
pub const ASM_A_SEQ: u16 = 2;
/// `ASM_A_EVENT_TYPE`: u32, `enum asm_event_type`.
pub const ASM_A_EVENT_TYPE: u16 = 4;
/// `ASM_A_AGENT_ID`: u32.
pub const ASM_A_AGENT_ID: u16 = 5;
/// `ASM_A_PID`: s32, initial pid namespace; 0 if none.
pub const ASM_A_PID: u16 = 6;
/// `ASM_A_FAULT`: u32, `enum asm_fault_type`.
pub const ASM_A_FAULT: u16 = 9;
/// `ASM_A_VALUE`: u64; the restart count for the restart events.
pub const ASM_A_VALUE: u16 = 11;
/// `ASM_A_LIMIT`: u64; the restart budget for the restart events.
pub const ASM_A_LIMIT: u16 = 12;
