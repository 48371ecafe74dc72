// SPDX-License-Identifier: GPL-2.0

//! A ring of the last values pushed, numbered from 0 since it was made: the
//! event ring and the audit trail. Its storage is allocated once, so
//! pushing never allocates and may run under a spinlock in any context.

use kernel::prelude::*;

/// The last `capacity` values pushed, oldest overwritten first.
///
/// # Invariants
///
/// `buf.len() == capacity > 0`; value number `seq` (for
/// `first_seq() <= seq < next_seq`) is at `buf[seq % capacity]`.
pub(crate) struct SeqRing<T> {
    buf: KVVec<T>,
    next_seq: u64,
}

impl<T: Copy> SeqRing<T> {
    /// An empty ring of `capacity` (at least 1) values; `fill` occupies
    /// the slots until they are pushed.
    pub(crate) fn new(capacity: usize, fill: T) -> Result<Self> {
        if capacity == 0 {
            return Err(EINVAL);
        }
        let mut buf = KVVec::with_capacity(capacity, GFP_KERNEL)?;
        for _ in 0..capacity {
            // Within the capacity just reserved: does not allocate.
            buf.push(fill, GFP_KERNEL)?;
        }
        Ok(Self { buf, next_seq: 0 })
    }

    /// How many values it can hold.
    pub(crate) fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Adds `value`, overwriting the oldest when full; returns its number.
    pub(crate) fn push(&mut self, value: T) -> u64 {
        let seq = self.next_seq;
        let at = Self::slot(seq, self.buf.len());
        if let Some(slot) = self.buf.get_mut(at) {
            *slot = value;
        }
        self.next_seq += 1;
        seq
    }

    /// The number the next value gets: values pushed so far.
    pub(crate) fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The number of the oldest value kept; also how many were overwritten.
    pub(crate) fn first_seq(&self) -> u64 {
        self.next_seq.saturating_sub(self.capacity() as u64)
    }

    /// The values numbered `from` and later that it still holds, oldest
    /// first, with their numbers.
    pub(crate) fn iter_from(&self, from: u64) -> impl Iterator<Item = (u64, &T)> {
        let len = self.buf.len();
        (from.max(self.first_seq())..self.next_seq)
            .filter_map(move |seq| self.buf.get(Self::slot(seq, len)).map(|value| (seq, value)))
    }

    /// The values it holds, oldest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.iter_from(0).map(|(_, value)| value)
    }

    /// Where value number `seq` is in a buffer of `len` (never 0): no
    /// panic path, the probes' contexts cannot take one.
    fn slot(seq: u64, len: usize) -> usize {
        // A mask where the capacity allows it (the event ring's 1024): a
        // division is dear on the probes' path.
        if len.is_power_of_two() {
            (seq & (len as u64 - 1)) as usize
        } else {
            seq.checked_rem(len as u64).unwrap_or(0) as usize
        }
    }
}
