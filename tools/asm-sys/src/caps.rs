// SPDX-License-Identifier: GPL-2.0

//! Giving up every capability before an agent's exec: the launchers (asmd's
//! child, `asmctl run`'s) call [`drop_capabilities`] so that an agent's
//! powers are its ASM capabilities alone, whoever it runs as.
//!
//! System calls only, no allocation: asmd's child runs it between `fork`
//! and `exec`, where nothing else is safe. That is why it is written here
//! with `prctl` and `capset` rather than with a capabilities crate, whose
//! sets are heap collections.

use crate::Errno;

/// The calling thread's errno, read directly (nothing else runs).
fn errno() -> Errno {
    // SAFETY: the thread's errno location is always valid.
    Errno(unsafe { *libc::__errno_location() })
}

/// prctl's unused arguments, which PR_CAP_AMBIENT wants 0: unsigned long,
/// as the kernel reads them.
const ZERO: libc::c_ulong = 0;

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit sets, as two [`CapData`].
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`: one 32-bit half of each set.
#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Empties the calling thread's capability bounding set (so that no exec
/// gives any capability back, a uid 0 exec included), its ambient set and
/// its effective, permitted and inheritable sets: [`drop_bounding_set`],
/// then [`clear_capabilities`].
pub fn drop_capabilities() -> Result<(), Errno> {
    drop_bounding_set()?;
    clear_capabilities()
}

/// Empties the bounding and ambient sets. A launcher that changes the uid
/// calls it first, while it still has `CAP_SETPCAP`.
///
/// The bounding set needs `CAP_SETPCAP` to change. A process without it
/// whose uids are not root keeps the set as it is: under no_new_privs,
/// which the launchers set, it gives an exec nothing. A process with a
/// root uid fails (`EPERM`): the agent would keep root's powers, so it
/// must not start.
pub fn drop_bounding_set() -> Result<(), Errno> {
    let mut cap: libc::c_ulong = 0;
    loop {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, ZERO, ZERO, ZERO) } == 0 {
            cap += 1;
            continue;
        }
        match errno() {
            // Past the last capability this kernel knows.
            e if e.0 == libc::EINVAL && cap > 0 => break,
            e if e.0 == libc::EPERM && cap == 0 && !root_uid() => break,
            e => return Err(e),
        }
    }
    let clear_all = libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong;
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_CAP_AMBIENT, clear_all, ZERO, ZERO, ZERO) } < 0 {
        return Err(errno());
    }
    Ok(())
}

/// Whether any of the real, effective and saved uids is 0.
fn root_uid() -> bool {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: getresuid writes the three locals.
    unsafe { libc::getresuid(&mut r, &mut e, &mut s) != 0 || r == 0 || e == 0 || s == 0 }
}

/// Empties the effective, permitted and inheritable sets (allowed without
/// any capability: a process may always drop what it has).
pub fn clear_capabilities() -> Result<(), Errno> {
    let header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let none = CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    };
    let data = [none; 2];
    // SAFETY: capset reads the header and the two data structs, locals
    // that outlive the call; their layout is the kernel's (repr(C)).
    if unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) } < 0 {
        return Err(errno());
    }
    Ok(())
}
