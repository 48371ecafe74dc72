// SPDX-License-Identifier: GPL-2.0

//! EU AI Act style compliance: what is counted about each agent, and the
//! score and status computed from it (include/uapi/linux/asm.h documents
//! the terms).

use core::sync::atomic::AtomicU64;

use crate::uapi::ComplianceStatus;

/// What the compliance report counts about an agent.
#[derive(Default)]
pub(crate) struct ComplianceRecord {
    /// Audit entries about it.
    pub(crate) events: AtomicU64,
    pub(crate) violations: AtomicU64,
    pub(crate) oversight: AtomicU64,
    pub(crate) decisions: AtomicU64,
    pub(crate) sensitive: AtomicU64,
    /// Processes that exited with code 0.
    pub(crate) clean_exits: AtomicU64,
}

/// The score's terms, as include/uapi/linux/asm.h documents them.
pub(crate) const SCORE_MAX: i64 = 1000;
const SCORE_VIOLATION: i64 = 150;
const SCORE_CRASH: i64 = 50;
const SCORE_OVERSIGHT: i64 = 25;
const SCORE_CLEAN_EXIT: i64 = 10;

/// The compliance score in thousandths and its status.
pub(crate) fn score(
    violations: u64,
    crashes: u64,
    oversight: u64,
    clean_exits: u64,
) -> (u32, ComplianceStatus) {
    let weigh = |n: u64, w: i64| (n.min(1_000_000) as i64) * w;
    let s = (SCORE_MAX - weigh(violations, SCORE_VIOLATION) - weigh(crashes, SCORE_CRASH)
        + weigh(oversight, SCORE_OVERSIGHT)
        + weigh(clean_exits, SCORE_CLEAN_EXIT))
    .clamp(0, SCORE_MAX) as u32;
    let status = match s {
        900.. => ComplianceStatus::Compliant,
        700..=899 => ComplianceStatus::ReviewNeeded,
        _ => ComplianceStatus::NonCompliant,
    };
    (s, status)
}
