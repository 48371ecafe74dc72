// SPDX-License-Identifier: GPL-2.0

//! A counting filter in front of the process index: while agents exist, the
//! probes of a process that is in no agent stop at one load here instead of
//! an RCU section and an xarray walk.
//!
//! Each bucket counts the indexed processes whose tgid hashes to it; a zero
//! bucket proves the process is not indexed. Buckets are changed under the
//! registry's index lock, together with the index.

use core::sync::atomic::{AtomicU32, Ordering};
use kernel::prelude::*;

/// Buckets; pids are allocated in sequence, so the low bits spread well.
const BUCKETS: usize = 4096;

/// The filter.
pub(crate) struct TgidFilter {
    buckets: KVec<AtomicU32>,
}

impl TgidFilter {
    /// An empty filter.
    pub(crate) fn new() -> Result<Self> {
        let mut buckets = KVec::with_capacity(BUCKETS, GFP_KERNEL)?;
        for _ in 0..BUCKETS {
            buckets.push(AtomicU32::new(0), GFP_KERNEL)?;
        }
        Ok(Self { buckets })
    }

    fn bucket(&self, tgid: i32) -> &AtomicU32 {
        &self.buckets[tgid.unsigned_abs() as usize % BUCKETS]
    }

    /// False when process `tgid` is certainly not in the index.
    #[inline]
    pub(crate) fn may_contain(&self, tgid: i32) -> bool {
        self.bucket(tgid).load(Ordering::Acquire) != 0
    }

    /// Counts `tgid` in, before it is stored in the index. A full barrier:
    /// an exit probe racing with the store then either sees the bucket set,
    /// or its process's exit is visible to the check that follows the store.
    pub(crate) fn add(&self, tgid: i32) {
        self.bucket(tgid).fetch_add(1, Ordering::SeqCst);
    }

    /// Counts `tgid` out, after it left the index.
    pub(crate) fn remove(&self, tgid: i32) {
        self.bucket(tgid).fetch_sub(1, Ordering::Release);
    }
}
