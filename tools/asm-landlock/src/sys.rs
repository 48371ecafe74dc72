// SPDX-License-Identifier: GPL-2.0

//! The system calls: the three Landlock calls, `PR_SET_NO_NEW_PRIVS`,
//! `access(X_OK)`, and opening the `O_PATH` fds rules are made from.
//!
//! This is the only file with `unsafe`. Failures are returned as the raw
//! errno, read right after the failing call.

use crate::abi::{PathBeneathAttr, RulesetAttr, CREATE_RULESET_VERSION, RULE_PATH_BENEATH};
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The calling thread's errno after a failed call.
fn errno() -> i32 {
    // Reading errno allocates nothing, so this is fine in a forked child.
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// `landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)`:
/// the ABI version. `ENOSYS` (not built in) or `EOPNOTSUPP` (not enabled
/// at boot) mean no Landlock.
pub fn abi_version() -> Result<u32, i32> {
    // SAFETY: a NULL attribute with size 0 and the version flag reads and
    // writes no memory.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    if rc < 0 {
        return Err(errno());
    }
    u32::try_from(rc).map_err(|_| libc::EINVAL)
}

/// `landlock_create_ruleset(attr)`: a new ruleset, its fd close-on-exec
/// (the kernel always sets `O_CLOEXEC` on it).
pub fn create_ruleset(attr: &RulesetAttr) -> Result<OwnedFd, i32> {
    // SAFETY: `attr` is a readable `struct landlock_ruleset_attr` prefix of
    // the size passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::from_ref(attr),
            std::mem::size_of::<RulesetAttr>(),
            0u32,
        )
    };
    if rc < 0 {
        return Err(errno());
    }
    let fd = i32::try_from(rc).map_err(|_| libc::EBADF)?;
    // SAFETY: the kernel just returned this fd and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `landlock_add_rule(ruleset, LANDLOCK_RULE_PATH_BENEATH, attr)`.
pub fn add_path_rule(ruleset: BorrowedFd<'_>, attr: &PathBeneathAttr) -> Result<(), i32> {
    // SAFETY: `attr` is a readable `struct landlock_path_beneath_attr`;
    // the kernel only reads it and the fd in it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset.as_raw_fd(),
            RULE_PATH_BENEATH,
            std::ptr::from_ref(attr),
            0u32,
        )
    };
    if rc < 0 {
        return Err(errno());
    }
    Ok(())
}

/// `prctl(PR_SET_NO_NEW_PRIVS)`, which `landlock_restrict_self` needs from
/// a caller without `CAP_SYS_ADMIN`, then `landlock_restrict_self`.
///
/// Makes system calls only (no allocation, no lock), so a child forked from
/// a multi-threaded process may call it.
pub fn restrict_self(ruleset: BorrowedFd<'_>) -> Result<(), i32> {
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integers only.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as libc::c_ulong, 0, 0, 0) };
    if rc < 0 {
        return Err(errno());
    }
    // SAFETY: a ruleset fd and no flags; no memory is passed.
    let rc = unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_raw_fd(), 0u32) };
    if rc < 0 {
        return Err(errno());
    }
    Ok(())
}

/// Clears `FD_CLOEXEC` on `fd`: the next exec keeps it. No allocation.
pub fn keep_across_exec(fd: BorrowedFd<'_>) -> Result<(), i32> {
    // SAFETY: F_SETFD with integer flags on a valid fd.
    let rc = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, 0) };
    if rc < 0 {
        return Err(errno());
    }
    Ok(())
}

/// Opens `path` with `O_PATH | O_CLOEXEC` (std adds `O_CLOEXEC`), the fd
/// a rule is made from; `O_PATH` needs no permission on the file itself.
pub fn open_path(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(path)
}

/// `access(path, X_OK)`: whether exec would be allowed to try `path`.
pub fn is_executable(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a NUL-terminated path.
    unsafe { libc::access(c.as_ptr(), libc::X_OK) == 0 }
}
