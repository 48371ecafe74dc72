// SPDX-License-Identifier: GPL-2.0

//! A [`Plan`] made real: the Landlock ruleset built from it, ready to be
//! enforced on the process that is about to exec the agent, and the report
//! of what it restricts.
//!
//! Building and enforcing are two steps on purpose. Building opens every
//! rule's path and allocates; enforcing is two system calls. asmd builds in
//! the daemon and enforces in the forked child, which may only make system
//! calls; asmctl builds before it registers itself, so that opening the
//! rules' paths is not something the agent did.

use crate::abi::{self, PathBeneathAttr, RulesetAttr};
use crate::rules::Plan;
use crate::sys;
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, IntoRawFd, OwnedFd};

/// What failed and its errno.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    what: String,
    errno: i32,
}

impl Error {
    pub(crate) fn new(what: impl Into<String>, errno: i32) -> Self {
        Self {
            what: what.into(),
            errno,
        }
    }

    /// The step that failed, e.g. "opening /srv/a for a Landlock rule".
    pub fn what(&self) -> &str {
        &self.what
    }

    /// Its errno.
    pub fn errno(&self) -> i32 {
        self.errno
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = io::Error::from_raw_os_error(self.errno);
        write!(f, "{}: {e}", self.what)
    }
}

impl std::error::Error for Error {}

/// What a ruleset restricts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// The running kernel's Landlock ABI version.
    pub abi: u32,
    /// File accesses outside the rules are refused.
    pub fs_restricted: bool,
    /// How many path rules were added (system paths that do not exist are
    /// left out).
    pub fs_rules: usize,
    /// Every TCP `connect()` is refused (no NetClient).
    pub tcp_connect_denied: bool,
    /// Every TCP `bind()` is refused (no NetServer).
    pub tcp_bind_denied: bool,
}

impl Report {
    /// Whether any network access is restricted.
    pub fn net_restricted(&self) -> bool {
        self.tcp_connect_denied || self.tcp_bind_denied
    }
}

impl fmt::Display for Report {
    /// One line for a log, e.g. "Landlock ABI 6: filesystem restricted
    /// (15 rules), TCP connect denied, TCP bind allowed".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Landlock ABI {}: ", self.abi)?;
        if self.fs_restricted {
            write!(f, "filesystem restricted ({} rules)", self.fs_rules)?;
        } else {
            write!(f, "filesystem not restricted")?;
        }
        if abi::net_rights(self.abi) == 0 {
            return write!(f, ", network not restricted (needs ABI 4)");
        }
        let verdict = |denied| if denied { "denied" } else { "allowed" };
        write!(
            f,
            ", TCP connect {}, TCP bind {}",
            verdict(self.tcp_connect_denied),
            verdict(self.tcp_bind_denied)
        )
    }
}

/// A built ruleset, not enforced yet.
///
/// # Invariants
///
/// `fd` is `None` exactly when the plan restricted nothing.
#[derive(Debug)]
pub struct Ruleset {
    fd: Option<OwnedFd>,
    /// The `O_PATH` fds of the rules that are not optional (the scope, the
    /// program's directory), held open so that their dentries stay cached:
    /// on file systems whose lookups make a new inode for an uncached
    /// dentry (9p without a cache, as virtme-ng shares the host's files),
    /// a rule on an inode nobody pins no longer matches the next lookup.
    pinned: Vec<OwnedFd>,
    report: Report,
}

impl Ruleset {
    /// Creates the ruleset of `plan` and adds its rules. Each rule's path
    /// is opened `O_PATH | O_CLOEXEC` and closed once its rule is in; an
    /// optional path that does not exist is skipped.
    pub fn build(plan: &Plan) -> Result<Self, Error> {
        let mut report = Report {
            abi: plan.abi,
            fs_restricted: plan.handled_fs != 0,
            fs_rules: 0,
            tcp_connect_denied: plan.handled_net & abi::net::CONNECT_TCP != 0,
            tcp_bind_denied: plan.handled_net & abi::net::BIND_TCP != 0,
        };
        if !plan.restricts() {
            // INVARIANT: nothing restricted, no fd. Landlock refuses an
            // empty ruleset (ENOMSG) anyway.
            return Ok(Self {
                fd: None,
                pinned: Vec::new(),
                report,
            });
        }
        let attr = RulesetAttr {
            handled_access_fs: plan.handled_fs,
            handled_access_net: plan.handled_net,
        };
        let fd =
            sys::create_ruleset(&attr).map_err(|e| Error::new("landlock_create_ruleset", e))?;
        let mut pinned = Vec::new();
        for rule in &plan.rules {
            let file = match sys::open_path(&rule.path) {
                Ok(file) => file,
                Err(e) if rule.optional && e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(Error::new(
                        format!("opening {} for a Landlock rule", rule.path.display()),
                        e.raw_os_error().unwrap_or(libc::EIO),
                    ))
                }
            };
            // A rule on a file that is not a directory takes file rights
            // only; the directory rights would be EINVAL.
            let is_dir = file.metadata().map(|m| m.is_dir()).map_err(|e| {
                Error::new(
                    format!("fstat of {}", rule.path.display()),
                    e.raw_os_error().unwrap_or(libc::EIO),
                )
            })?;
            let access = if is_dir {
                rule.access
            } else {
                rule.access & abi::fs::FILE
            };
            if access == 0 {
                continue;
            }
            let attr = PathBeneathAttr {
                allowed_access: access,
                parent_fd: file.as_raw_fd(),
            };
            sys::add_path_rule(fd.as_fd(), &attr).map_err(|e| {
                Error::new(format!("landlock_add_rule for {}", rule.path.display()), e)
            })?;
            report.fs_rules += 1;
            // The system set's paths are in use anyway; the rest is pinned.
            if !rule.optional {
                pinned.push(OwnedFd::from(file));
            }
        }
        // INVARIANT: the plan restricts something and `fd` is its ruleset.
        Ok(Self {
            fd: Some(fd),
            pinned,
            report,
        })
    }

    /// What the ruleset restricts.
    pub fn report(&self) -> &Report {
        &self.report
    }

    /// Sets `PR_SET_NO_NEW_PRIVS` and enforces the ruleset on the calling
    /// thread, and so on the program it execs and everything that program
    /// starts. Does nothing (no-new-privs included) when nothing is
    /// restricted. Returns the errno on failure.
    ///
    /// Makes system calls only, no allocation: a child forked from a
    /// multi-threaded process may call it between fork and exec.
    ///
    /// The pinned fds lose `FD_CLOEXEC`, so that the program exec'd next
    /// keeps them (and their dentries cached): an agent starts with one
    /// `O_PATH` fd per pinned rule, which grants nothing the ruleset does
    /// not.
    pub fn restrict_self(&self) -> Result<(), i32> {
        let Some(fd) = &self.fd else {
            return Ok(());
        };
        sys::restrict_self(fd.as_fd())?;
        for pin in &self.pinned {
            sys::keep_across_exec(pin.as_fd())?;
        }
        Ok(())
    }

    /// For a caller that execs itself after [`Self::restrict_self`]: the
    /// pinned fds stay open when the ruleset goes.
    pub fn keep_pins(self) {
        for pin in self.pinned {
            let _ = pin.into_raw_fd();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_says_what_is_restricted() {
        let mut r = Report {
            abi: 6,
            fs_restricted: true,
            fs_rules: 14,
            tcp_connect_denied: true,
            tcp_bind_denied: false,
        };
        assert_eq!(
            r.to_string(),
            "Landlock ABI 6: filesystem restricted (14 rules), TCP connect denied, TCP bind allowed"
        );
        assert!(r.net_restricted());
        r.fs_restricted = false;
        r.tcp_connect_denied = false;
        assert!(!r.net_restricted());
        assert_eq!(
            r.to_string(),
            "Landlock ABI 6: filesystem not restricted, TCP connect allowed, TCP bind allowed"
        );
        r.abi = 3;
        assert_eq!(
            r.to_string(),
            "Landlock ABI 3: filesystem not restricted, network not restricted (needs ABI 4)"
        );
    }

    #[test]
    fn error_names_the_step_and_the_errno() {
        let e = Error::new("opening /srv/a for a Landlock rule", libc::ENOENT);
        assert_eq!(
            (e.what(), e.errno()),
            ("opening /srv/a for a Landlock rule", 2)
        );
        assert!(e
            .to_string()
            .starts_with("opening /srv/a for a Landlock rule: No such file"));
    }
}
