// SPDX-License-Identifier: GPL-2.0

//! A [`Plan`] made real through the `landlock` crate: the ruleset built
//! from it, ready to be enforced on the process that is about to exec the
//! agent.
//!
//! The crate works best effort (its default `CompatLevel`): it asks the
//! kernel for its ABI once, when the ruleset is built, drops the rights
//! and scopes that ABI lacks, and says at `restrict_self` whether what is
//! enforced is all that was asked for ([`Outcome`]).
//!
//! Building and enforcing are two steps on purpose. Building opens every
//! rule's path and allocates; enforcing makes system calls only. asmd
//! builds in the daemon and enforces in the forked child, which may only
//! make system calls; asmctl builds before it registers itself, so that
//! opening the rules' paths is not something the agent did.

use crate::report::{Asked, Outcome, Report};
use crate::rules::{file_rights, Plan};
use crate::sys;
use landlock::{PathBeneath, RulesetAttr, RulesetCreated, RulesetCreatedAttr, RulesetError};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, IntoRawFd, OwnedFd};

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

    /// `what` failed in the `landlock` crate: the errno of the system call
    /// behind `e`, or `EINVAL` with the crate's words when no call failed
    /// (a right or rule it refused).
    fn landlock(what: String, e: &RulesetError) -> Self {
        match errno_of(e) {
            Some(errno) => Self::new(what, errno),
            None => Self::new(format!("{what}: {e}"), libc::EINVAL),
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

/// The errno of the failed system call behind a crate error, if one
/// failed. Allocates nothing, so a forked child may call it.
fn errno_of(e: &RulesetError) -> Option<i32> {
    // The crate's errors are `#[error(transparent)]` wrappers down to the
    // one that holds the `io::Error`: `source()` skips them.
    let source = std::error::Error::source(e)?;
    source.downcast_ref::<io::Error>()?.raw_os_error()
}

/// A built ruleset, not enforced yet.
#[derive(Debug)]
pub struct Ruleset {
    /// The crate's ruleset: its fd (none without Landlock) and what the
    /// running kernel's ABI made of the plan.
    created: RulesetCreated,
    /// The `O_PATH` fds of the rules that are not optional (the scope, the
    /// program's directory), held open so that their dentries stay cached:
    /// on file systems whose lookups make a new inode for an uncached
    /// dentry (9p without a cache, as virtme-ng shares the host's files),
    /// a rule on an inode nobody pins no longer matches the next lookup.
    pinned: Vec<OwnedFd>,
    asked: Asked,
}

impl Ruleset {
    /// Creates the ruleset of `plan` and adds its rules. Each rule's path
    /// is opened `O_PATH | O_CLOEXEC` and closed once its rule is in; an
    /// optional path that does not exist is skipped. Without Landlock in
    /// the kernel the paths are still opened (a missing scope is an error
    /// either way), and the ruleset enforces nothing.
    pub fn build(plan: &Plan) -> Result<Self, Error> {
        let creating =
            |e: RulesetError| Error::landlock("creating the Landlock ruleset".into(), &e);
        let mut ruleset = landlock::Ruleset::default();
        if !plan.handled_fs.is_empty() {
            ruleset = ruleset.handle_access(plan.handled_fs).map_err(creating)?;
        }
        if !plan.handled_net.is_empty() {
            ruleset = ruleset.handle_access(plan.handled_net).map_err(creating)?;
        }
        if !plan.scoped.is_empty() {
            ruleset = ruleset.scope(plan.scoped).map_err(creating)?;
        }
        let mut created = ruleset.create().map_err(creating)?;
        let mut asked = Asked {
            fs: !plan.handled_fs.is_empty(),
            fs_rules: 0,
            net: plan.handled_net,
            scoped: plan.scoped,
        };
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
            // only. The crate would drop the others itself, but then call
            // the ruleset partially enforced.
            let is_dir = file.metadata().map(|m| m.is_dir()).map_err(|e| {
                Error::new(
                    format!("fstat of {}", rule.path.display()),
                    e.raw_os_error().unwrap_or(libc::EIO),
                )
            })?;
            let access = if is_dir {
                rule.access
            } else {
                rule.access & file_rights()
            };
            if access.is_empty() {
                continue;
            }
            created = created
                .add_rule(PathBeneath::new(file.as_fd(), access))
                .map_err(|e| {
                    let what = format!("landlock_add_rule for {}", rule.path.display());
                    Error::landlock(what, &e)
                })?;
            asked.fs_rules += 1;
            // The system set's paths are in use anyway; the rest is pinned.
            if !rule.optional {
                pinned.push(OwnedFd::from(file));
            }
        }
        Ok(Self {
            created,
            pinned,
            asked,
        })
    }

    /// Sets `PR_SET_NO_NEW_PRIVS` and enforces the ruleset on the calling
    /// thread, and so on the program it execs and everything that program
    /// starts. Returns what was enforced, or the errno on failure.
    ///
    /// Makes system calls only, no allocation: a child forked from a
    /// multi-threaded process may call it between fork and exec. Read in
    /// the source of `landlock` 0.4.8, `RulesetCreated::restrict_self` is
    /// `prctl(PR_SET_NO_NEW_PRIVS)` (and `PR_GET_NO_NEW_PRIVS` if that
    /// fails), `landlock_restrict_self(fd, 0)` when the ruleset has an fd,
    /// and `close` of that fd; its state is plain `Copy` data, its result a
    /// plain struct, its errors `io::Error::last_os_error()` (an errno, no
    /// box), so nothing is allocated or freed. It takes the ruleset by
    /// value: it gets a `dup` of the fd (`try_clone`, `F_DUPFD_CLOEXEC`),
    /// so that this ruleset stays whole in a parent that calls it for
    /// several children, or none.
    ///
    /// The pinned fds lose `FD_CLOEXEC`, so that the program exec'd next
    /// keeps them (and their dentries cached): an agent starts with one
    /// `O_PATH` fd per pinned rule, which grants nothing the ruleset does
    /// not.
    pub fn restrict_self(&self) -> Result<Outcome, i32> {
        let created = self
            .created
            .try_clone()
            .map_err(|e| e.raw_os_error().unwrap_or(libc::EBADF))?;
        let status = created
            .restrict_self()
            .map_err(|e| errno_of(&e).unwrap_or(libc::EINVAL))?;
        for pin in &self.pinned {
            sys::keep_across_exec(pin.as_fd())?;
        }
        Ok(Outcome::from(&status))
    }

    /// What the ruleset restricts once enforced with `outcome`.
    pub fn report(&self, outcome: Outcome) -> Report {
        Report::new(&self.asked, outcome)
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

    #[test]
    fn crate_errors_without_a_failed_call_say_why() {
        // A ruleset that handles nothing is refused before any system call.
        let e = landlock::Ruleset::default().create().unwrap_err();
        assert_eq!(errno_of(&e), None);
        let e = Error::landlock("creating the Landlock ruleset".into(), &e);
        assert_eq!(e.errno(), libc::EINVAL);
        assert!(
            e.what().starts_with("creating the Landlock ruleset: "),
            "{e}"
        );
    }
}
