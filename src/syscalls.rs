// SPDX-License-Identifier: GPL-2.0

//! The system calls the policy looks at, by number, and the user-space
//! constants their arguments use: the one place that knows the
//! architecture's system call table. The C glue hands over raw numbers and
//! arguments (`syscall_get_nr`, `syscall_get_arguments`); what they mean is
//! decided here and in policy.rs.
//!
//! Kbuild refuses to build the module for anything but x86-64; this file
//! refuses too, so that a port starts here.

#[cfg(not(target_arch = "x86_64"))]
compile_error!("asm.ko knows the x86-64 system call table only (src/syscalls.rs)");

/// A system call the policy cares about, with where its arguments are.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Call {
    /// An open whose flags are in this argument.
    Open { flags_arg: usize },
    /// openat2(): the flags are in the `struct open_how` in user memory.
    OpenHow,
    /// creat(): O_CREAT | O_WRONLY | O_TRUNC.
    Creat,
    /// connect(fd, ...).
    Connect,
    /// A send that opens a TCP connection when its flags (in this
    /// argument) have MSG_FASTOPEN: sendto, sendmsg, sendmmsg.
    Send { flags_arg: usize },
    /// listen(fd, ...).
    Listen,
    /// Any other call.
    Other,
}

impl Call {
    /// Whether the call opens a file.
    pub(crate) fn is_open(self) -> bool {
        matches!(self, Self::Open { .. } | Self::OpenHow | Self::Creat)
    }
}

/// Native x86-64 numbers (arch/x86/entry/syscalls/syscall_64.tbl).
mod nr {
    pub(super) const OPEN: i64 = 2;
    pub(super) const CONNECT: i64 = 42;
    pub(super) const SENDTO: i64 = 44;
    pub(super) const SENDMSG: i64 = 46;
    pub(super) const LISTEN: i64 = 50;
    pub(super) const CREAT: i64 = 85;
    pub(super) const OPENAT: i64 = 257;
    pub(super) const OPEN_BY_HANDLE_AT: i64 = 304;
    pub(super) const SENDMMSG: i64 = 307;
    pub(super) const OPENAT2: i64 = 437;
}

/// The i386 numbers a compat call (a 32-bit program, or `int $0x80` from
/// a 64-bit one) uses (arch/x86/entry/syscalls/syscall_32.tbl).
mod nr32 {
    pub(super) const OPEN: i64 = 5;
    pub(super) const CREAT: i64 = 8;
    pub(super) const OPENAT: i64 = 295;
    pub(super) const OPEN_BY_HANDLE_AT: i64 = 342;
    pub(super) const SENDMMSG: i64 = 345;
    pub(super) const CONNECT: i64 = 362;
    pub(super) const LISTEN: i64 = 363;
    pub(super) const SENDTO: i64 = 369;
    pub(super) const SENDMSG: i64 = 370;
    pub(super) const OPENAT2: i64 = 437;
}

/// What call `nr` is, native or compat. The arguments are where
/// `syscall_get_arguments()` puts them for either. Compat socket calls
/// through socketcall() are `Other` (their arguments are in user memory):
/// their TCP connects and listens are caught at the protocol.
pub(crate) fn classify(nr: i64, compat: bool) -> Call {
    if compat {
        return match nr {
            nr32::OPEN => Call::Open { flags_arg: 1 },
            nr32::OPENAT | nr32::OPEN_BY_HANDLE_AT => Call::Open { flags_arg: 2 },
            nr32::OPENAT2 => Call::OpenHow,
            nr32::CREAT => Call::Creat,
            nr32::CONNECT => Call::Connect,
            nr32::SENDTO => Call::Send { flags_arg: 3 },
            nr32::SENDMSG => Call::Send { flags_arg: 2 },
            nr32::SENDMMSG => Call::Send { flags_arg: 3 },
            nr32::LISTEN => Call::Listen,
            _ => Call::Other,
        };
    }
    match nr {
        nr::OPEN => Call::Open { flags_arg: 1 },
        nr::OPENAT | nr::OPEN_BY_HANDLE_AT => Call::Open { flags_arg: 2 },
        nr::OPENAT2 => Call::OpenHow,
        nr::CREAT => Call::Creat,
        nr::CONNECT => Call::Connect,
        nr::SENDTO => Call::Send { flags_arg: 3 },
        nr::SENDMSG => Call::Send { flags_arg: 2 },
        nr::SENDMMSG => Call::Send { flags_arg: 3 },
        nr::LISTEN => Call::Listen,
        _ => Call::Other,
    }
}

/// `O_TRUNC` (include/uapi/asm-generic/fcntl.h).
pub(crate) const O_TRUNC: u64 = 0o1000;
/// `MSG_FASTOPEN` (include/linux/socket.h).
pub(crate) const MSG_FASTOPEN: u64 = 0x2000_0000;
/// `IPPROTO_TCP` and `IPPROTO_MPTCP`.
pub(crate) const IPPROTO_TCP: i32 = 6;
pub(crate) const IPPROTO_MPTCP: i32 = 262;
/// `AF_INET` and `AF_INET6`.
pub(crate) const AF_INET: i32 = 2;
pub(crate) const AF_INET6: i32 = 10;
