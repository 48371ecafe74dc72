// SPDX-License-Identifier: GPL-2.0

//! Prevention by Landlock: the ruleset an ASM agent runs under, derived
//! from its capabilities (`ASM_CAP_*` bits) and scope, so that what the
//! module would detect as a capability violation is refused before it
//! happens, and scoped so that the agent cannot signal, nor connect to an
//! abstract UNIX socket of, any process outside its sandbox.
//!
//! The crate root ties the steps together: [`resolve_program`] finds the
//! file the agent's exec will run, [`derive`] turns the agent's policy into
//! a [`Plan`] (pure, see `rules.rs`), [`Ruleset::build`] makes the ruleset
//! through the `landlock` crate and [`Ruleset::restrict_self`] enforces it,
//! best effort on older ABIs, and says what it did ([`Outcome`], which
//! [`Ruleset::report`] turns into a [`Report`]). [`prepare`] does all but
//! the last; [`apply`] does everything, for a caller that execs next.
//!
//! A kernel without Landlock is not an error: the callers warn and go on,
//! and the module still detects the violations.

mod program;
mod report;
mod rules;
mod ruleset;
mod sys;

pub use program::resolve_program;
pub use report::{Enforcement, Outcome, Report};
pub use rules::{
    derive, file_rights, fs_restricted, PathRule, Plan, CAP_FS_BASIC, CAP_FS_EXTENDED,
    CAP_NET_CLIENT, CAP_NET_SERVER, SYSTEM_DEVICES, SYSTEM_READ_ONLY, TARGET_ABI,
};
pub use ruleset::{Error, Ruleset};

use std::ffi::OsStr;
use std::path::Path;

/// What [`apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The calling thread is now restricted as the report says.
    Applied(Report),
    /// The kernel has no Landlock; nothing was enforced but
    /// `PR_SET_NO_NEW_PRIVS`.
    Unsupported,
}

/// Builds the ruleset of an agent with `capabilities` and `scope` (`None`
/// or empty: no scope) that is about to exec `program` (searched in `PATH`
/// like execvp). Nothing is enforced yet.
pub fn prepare(capabilities: u64, scope: Option<&Path>, program: &OsStr) -> Result<Ruleset, Error> {
    let program = resolve_program(program);
    Ruleset::build(&derive(capabilities, scope, program.as_deref()))
}

/// [`prepare`], then enforce the ruleset on the calling thread: for a
/// caller that execs `program` next.
pub fn apply(capabilities: u64, scope: Option<&Path>, program: &OsStr) -> Result<Status, Error> {
    let ruleset = prepare(capabilities, scope, program)?;
    let outcome = ruleset
        .restrict_self()
        .map_err(|e| Error::new("landlock_restrict_self", e))?;
    if !outcome.landlock() {
        return Ok(Status::Unsupported);
    }
    let report = ruleset.report(outcome);
    ruleset.keep_pins();
    Ok(Status::Applied(report))
}
