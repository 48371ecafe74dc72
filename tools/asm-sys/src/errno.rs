// SPDX-License-Identifier: GPL-2.0

//! [`Errno`]: why a system call failed, with its C name and its
//! strerror(3) text.

use std::ffi::CStr;
use std::fmt;
use std::io;

/// A failed system call's errno.
///
/// It displays as the strerror(3) text and the C name ("No such process
/// (ESRCH)"), which is what asmd logs; [`Errno::text`] is the text alone
/// ("No such process"), which is what asmctl prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// The errno of a failed std I/O call. Errors std makes up itself
    /// carry no errno; EIO is the closest.
    pub fn from_io(e: &io::Error) -> Self {
        Errno(e.raw_os_error().unwrap_or(libc::EIO))
    }

    /// The calling thread's errno after a failed libc call.
    pub fn last() -> Self {
        Self::from_io(&io::Error::last_os_error())
    }

    /// The C name of the errno, for the ones the tools are likely to meet.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            libc::EPERM => "EPERM",
            libc::ENOENT => "ENOENT",
            libc::ESRCH => "ESRCH",
            libc::EINTR => "EINTR",
            libc::EIO => "EIO",
            libc::E2BIG => "E2BIG",
            libc::ENOEXEC => "ENOEXEC",
            libc::EBADF => "EBADF",
            libc::ECHILD => "ECHILD",
            libc::EAGAIN => "EAGAIN",
            libc::ENOMEM => "ENOMEM",
            libc::EACCES => "EACCES",
            libc::EFAULT => "EFAULT",
            libc::EBUSY => "EBUSY",
            libc::EEXIST => "EEXIST",
            libc::ENODEV => "ENODEV",
            libc::ENOTDIR => "ENOTDIR",
            libc::EISDIR => "EISDIR",
            libc::EINVAL => "EINVAL",
            libc::EMFILE => "EMFILE",
            libc::ENOTTY => "ENOTTY",
            libc::ETXTBSY => "ETXTBSY",
            libc::ENOSPC => "ENOSPC",
            libc::EROFS => "EROFS",
            libc::ERANGE => "ERANGE",
            libc::ELOOP => "ELOOP",
            libc::ENAMETOOLONG => "ENAMETOOLONG",
            libc::EOPNOTSUPP => "EOPNOTSUPP",
            libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
            libc::ENOBUFS => "ENOBUFS",
            libc::ENOTCONN => "ENOTCONN",
            libc::ETIMEDOUT => "ETIMEDOUT",
            _ => return None,
        })
    }

    /// The strerror(3) text, without the "(os error N)" suffix std adds;
    /// `None` if the C library has none.
    pub fn description(self) -> Option<String> {
        let mut buf = [0u8; 128];
        // SAFETY: `buf` is writable for `buf.len()` bytes, and the XSI
        // strerror_r the libc crate binds writes at most that many.
        let rc = unsafe { libc::strerror_r(self.0, buf.as_mut_ptr().cast(), buf.len()) };
        match CStr::from_bytes_until_nul(&buf) {
            Ok(text) if rc == 0 => Some(text.to_string_lossy().into_owned()),
            _ => None,
        }
    }

    /// Displays as the text alone, e.g. "No such process", or "error N"
    /// if the C library has none: for messages to people who need no C
    /// name (asmctl's).
    pub fn text(self) -> Text {
        Text(self)
    }
}

impl fmt::Display for Errno {
    /// The strerror(3) text and the C name, e.g. "No such process
    /// (ESRCH)", or the number when the name is not known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.description() {
            Some(text) => f.write_str(&text)?,
            None => f.write_str("error")?,
        }
        match self.name() {
            Some(name) => write!(f, " ({name})"),
            None => write!(f, " (errno {})", self.0),
        }
    }
}

/// An [`Errno`] that displays as its text alone; see [`Errno::text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Text(Errno);

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.description() {
            Some(text) => f.write_str(&text),
            None => write!(f, "error {}", self.0 .0),
        }
    }
}

/// Converts a libc return value to a `Result`, taking errno on -1.
pub fn cvt(rc: libc::c_int) -> Result<libc::c_int, Errno> {
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(rc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_with_the_name_or_alone() {
        assert_eq!(
            Errno(libc::ENOENT).to_string(),
            "No such file or directory (ENOENT)"
        );
        assert!(Errno(4095).to_string().ends_with("(errno 4095)"));
        assert_eq!(Errno(libc::ESRCH).text().to_string(), "No such process");
    }

    #[test]
    fn names_are_the_c_names() {
        assert_eq!(Errno(libc::EACCES).name(), Some("EACCES"));
        assert_eq!(Errno(libc::ENOTTY).name(), Some("ENOTTY"));
        // ASM_IOC_DEPS: an edge that would close a cycle.
        assert_eq!(Errno(libc::ELOOP).name(), Some("ELOOP"));
        assert_eq!(Errno(4095).name(), None);
        // Every name is listed once, under its own value.
        let names: Vec<&str> = (1..200).filter_map(|n| Errno(n).name()).collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(names.len(), unique.len(), "{names:?}");
    }

    #[test]
    fn errno_of_io_errors_and_failed_calls() {
        let e = io::Error::from_raw_os_error(libc::EBUSY);
        assert_eq!(Errno::from_io(&e), Errno(libc::EBUSY));
        assert_eq!(
            Errno::from_io(&io::Error::other("made up")),
            Errno(libc::EIO)
        );
        // SAFETY: close(-1) touches no memory; it fails with EBADF.
        let rc = unsafe { libc::close(-1) };
        assert_eq!(cvt(rc), Err(Errno(libc::EBADF)));
        assert_eq!(cvt(0), Ok(0));
    }
}
