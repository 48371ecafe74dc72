// SPDX-License-Identifier: GPL-2.0

//! The system layer asmctl and asmd share: `/dev/asm` with a safe method
//! per ioctl ([`Device`]), the errno of a failed call with its C name and
//! text ([`Errno`]), and opening the cgroup directory a cgroup agent is
//! registered with ([`open_dir`]), and giving up every capability before
//! an agent's exec ([`drop_capabilities`]).
//!
//! `asm-abi` says what the bytes are; this crate makes the calls. Each
//! tool's own `sys` module re-exports what it uses from here next to the
//! system calls only it makes (asmctl: the clock, sessions, exec; asmd:
//! netlink, signals, spawning agents), so the rest of each tool still
//! reaches the kernel through one module and can be tested without the
//! asm module.

mod caps;
mod device;
mod errno;

pub use caps::{clear_capabilities, drop_bounding_set, drop_capabilities};
pub use device::{Collected, Device};
pub use errno::{cvt, Errno, Text};

use std::fs::OpenOptions;
use std::os::fd::OwnedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Opens a cgroup v2 directory for `ASM_TARGET_CGROUP` (O_RDONLY |
/// O_DIRECTORY; std adds O_CLOEXEC).
pub fn open_dir(path: &Path) -> Result<OwnedFd, Errno> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(path)
        .map(OwnedFd::from)
        .map_err(|e| Errno::from_io(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_dir_takes_directories_only() {
        assert!(open_dir(&std::env::temp_dir()).is_ok());
        let file = std::env::temp_dir().join(format!("asm-sys-file-{}", std::process::id()));
        std::fs::write(&file, "").unwrap();
        assert_eq!(open_dir(&file).unwrap_err(), Errno(libc::ENOTDIR));
        std::fs::remove_file(&file).unwrap();
        assert_eq!(
            open_dir(Path::new("/nonexistent/asm")).unwrap_err(),
            Errno(libc::ENOENT)
        );
    }
}
