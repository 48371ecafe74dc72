// SPDX-License-Identifier: GPL-2.0

//! The system calls that are not Landlock's (those go through the
//! `landlock` crate): `access(X_OK)`, opening the `O_PATH` fds rules are
//! made from, and clearing `FD_CLOEXEC` on the fds an agent keeps.
//!
//! This is the only file with `unsafe`.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Clears `FD_CLOEXEC` on `fd`: the next exec keeps it. Returns the errno
/// on failure. No allocation: a forked child may call it.
pub fn keep_across_exec(fd: BorrowedFd<'_>) -> Result<(), i32> {
    // SAFETY: F_SETFD with integer flags on a valid fd.
    let rc = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, 0) };
    if rc < 0 {
        // Reading errno allocates nothing either.
        return Err(io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO));
    }
    Ok(())
}

/// Opens `path` with `O_PATH | O_CLOEXEC` (std adds `O_CLOEXEC`), the fd
/// a rule is made from; `O_PATH` needs no permission on the file itself.
/// (The crate's `PathFd` opens the same way, but keeps its fd to itself;
/// this one can be pinned and asked whether it is a directory.)
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
