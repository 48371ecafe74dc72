// SPDX-License-Identifier: GPL-2.0

//! The parts of `include/uapi/linux/landlock.h` this crate uses: the access
//! rights, which ABI version introduced each, and the two structs the
//! system calls take.
//!
//! The ABI version is what `landlock_create_ruleset(NULL, 0,
//! LANDLOCK_CREATE_RULESET_VERSION)` returns. A ruleset may only handle the
//! rights the running kernel knows (an unknown bit is `EINVAL`), so every
//! mask here is taken through [`fs_rights`] or [`net_rights`] first.

use core::mem::size_of;

/// `LANDLOCK_CREATE_RULESET_VERSION`: ask for the ABI version.
pub const CREATE_RULESET_VERSION: u32 = 1 << 0;
/// `LANDLOCK_RULE_PATH_BENEATH`: `landlock_add_rule` takes a
/// [`PathBeneathAttr`].
pub const RULE_PATH_BENEATH: u32 = 1;

/// Filesystem access rights (`LANDLOCK_ACCESS_FS_*`).
pub mod fs {
    /// Execute a file.
    pub const EXECUTE: u64 = 1 << 0;
    /// Open a file with write access.
    pub const WRITE_FILE: u64 = 1 << 1;
    /// Open a file with read access.
    pub const READ_FILE: u64 = 1 << 2;
    /// Open a directory or list its content.
    pub const READ_DIR: u64 = 1 << 3;
    /// Remove an empty directory or rename one.
    pub const REMOVE_DIR: u64 = 1 << 4;
    /// Unlink or rename a file.
    pub const REMOVE_FILE: u64 = 1 << 5;
    /// Create (or rename or link) a character device.
    pub const MAKE_CHAR: u64 = 1 << 6;
    /// Create (or rename) a directory.
    pub const MAKE_DIR: u64 = 1 << 7;
    /// Create (or rename or link) a regular file.
    pub const MAKE_REG: u64 = 1 << 8;
    /// Create (or rename or link) a UNIX domain socket.
    pub const MAKE_SOCK: u64 = 1 << 9;
    /// Create (or rename or link) a named pipe.
    pub const MAKE_FIFO: u64 = 1 << 10;
    /// Create (or rename or link) a block device.
    pub const MAKE_BLOCK: u64 = 1 << 11;
    /// Create (or rename or link) a symbolic link.
    pub const MAKE_SYM: u64 = 1 << 12;
    /// Link or rename a file from or to a different directory (ABI 2).
    pub const REFER: u64 = 1 << 13;
    /// Truncate a regular file, `open(O_TRUNC)` included (ABI 3).
    pub const TRUNCATE: u64 = 1 << 14;
    /// `ioctl(2)` on an opened character or block device (ABI 5).
    pub const IOCTL_DEV: u64 = 1 << 15;

    /// The rights of ABI 1, all of them bits 0 to 12.
    pub(crate) const ABI_1: u64 = (1 << 13) - 1;
    /// The rights a rule on a file that is not a directory may grant: the
    /// kernel refuses the others (`EINVAL`) on such a rule.
    pub const FILE: u64 = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV;
}

/// Network access rights (`LANDLOCK_ACCESS_NET_*`, ABI 4).
pub mod net {
    /// `bind(2)` a TCP socket to a port.
    pub const BIND_TCP: u64 = 1 << 0;
    /// `connect(2)` a TCP socket to a port.
    pub const CONNECT_TCP: u64 = 1 << 1;
}

/// Every filesystem right ABI version `abi` knows (0 for 0: no Landlock).
/// ABI 6 and later add no filesystem right this crate handles.
pub fn fs_rights(abi: u32) -> u64 {
    let mut rights = 0;
    if abi >= 1 {
        rights |= fs::ABI_1;
    }
    if abi >= 2 {
        rights |= fs::REFER;
    }
    if abi >= 3 {
        rights |= fs::TRUNCATE;
    }
    if abi >= 5 {
        rights |= fs::IOCTL_DEV;
    }
    rights
}

/// Every network right ABI version `abi` knows (none before ABI 4).
pub fn net_rights(abi: u32) -> u64 {
    if abi >= 4 {
        net::BIND_TCP | net::CONNECT_TCP
    } else {
        0
    }
}

/// `struct landlock_ruleset_attr` up to `handled_access_net`. Kernels
/// before ABI 4 know only `handled_access_fs`; they accept the longer
/// struct as long as the field they do not know is zero, which it is for
/// them (see [`net_rights`]). ABI 6's `scoped` is left out: it is not used.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RulesetAttr {
    /// The filesystem rights the ruleset restricts.
    pub handled_access_fs: u64,
    /// The network rights the ruleset restricts.
    pub handled_access_net: u64,
}
const _: () = assert!(size_of::<RulesetAttr>() == 16);

/// `struct landlock_path_beneath_attr`, packed as in the header.
#[repr(C, packed)]
#[derive(Debug, Clone, Copy)]
pub struct PathBeneathAttr {
    /// The rights granted on the file hierarchy under `parent_fd`.
    pub allowed_access: u64,
    /// An fd of the hierarchy's root, typically opened with `O_PATH`.
    pub parent_fd: i32,
}
const _: () = assert!(size_of::<PathBeneathAttr>() == 12);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_grow_with_the_abi() {
        assert_eq!(fs_rights(0), 0);
        assert_eq!(fs_rights(1), 0x1fff);
        assert_eq!(fs_rights(2), 0x3fff);
        assert_eq!(fs_rights(3), 0x7fff);
        assert_eq!(fs_rights(4), 0x7fff);
        assert_eq!(fs_rights(5), 0xffff);
        assert_eq!(fs_rights(6), 0xffff);
        assert_eq!(fs_rights(7), 0xffff);
        assert_eq!(net_rights(3), 0);
        assert_eq!(net_rights(4), 0b11);
        assert_eq!(net_rights(6), 0b11);
    }
}
