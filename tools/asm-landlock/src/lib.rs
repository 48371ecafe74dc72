// SPDX-License-Identifier: GPL-2.0

//! Prevention by Landlock: the ruleset an ASM agent runs under, derived
//! from its capabilities (`ASM_CAP_*` bits) and scope, so that what the
//! module would detect as a capability violation is refused before it
//! happens.
//!
//! The crate root ties the steps together: [`abi_version`] asks the kernel
//! which Landlock it has, [`resolve_program`] finds the file the agent's
//! exec will run, [`derive`] turns all three into a [`Plan`] (pure, see
//! `rules.rs`), [`Ruleset::build`] makes the ruleset and
//! [`Ruleset::restrict_self`] enforces it. [`prepare`] does all but the
//! last; [`apply`] does everything, for a caller that execs next.
//!
//! A kernel without Landlock is not an error: the callers warn and go on,
//! and the module still detects the violations.

mod abi;
mod program;
mod rules;
mod ruleset;
mod sys;

pub use abi::{fs, net};
pub use program::resolve_program;
pub use rules::{
    derive, fs_restricted, PathRule, Plan, CAP_FS_BASIC, CAP_FS_EXTENDED, CAP_NET_CLIENT,
    CAP_NET_SERVER, SYSTEM_DEVICES, SYSTEM_READ_ONLY,
};
pub use ruleset::{Error, Report, Ruleset};

use std::ffi::OsStr;
use std::path::Path;

/// A ruleset ready to be enforced, or no Landlock in this kernel.
#[derive(Debug)]
pub enum Prepared {
    /// Built; enforce it with [`Ruleset::restrict_self`].
    Ready(Ruleset),
    /// The kernel has no Landlock (`ENOSYS`), or it is not enabled
    /// (`EOPNOTSUPP`, missing from `lsm=`).
    Unsupported,
}

/// What [`apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The calling thread is now restricted as the report says.
    Applied(Report),
    /// The kernel has no Landlock; nothing was done.
    Unsupported,
}

/// The running kernel's Landlock ABI version; `None` without Landlock.
pub fn abi_version() -> Result<Option<u32>, Error> {
    match sys::abi_version() {
        Ok(v) => Ok(Some(v)),
        Err(libc::ENOSYS | libc::EOPNOTSUPP) => Ok(None),
        Err(e) => Err(Error::new("querying the Landlock ABI version", e)),
    }
}

/// Builds the ruleset of an agent with `capabilities` and `scope` (`None`
/// or empty: no scope) that is about to exec `program` (searched in `PATH`
/// like execvp). Nothing is enforced yet.
pub fn prepare(
    capabilities: u64,
    scope: Option<&Path>,
    program: &OsStr,
) -> Result<Prepared, Error> {
    let Some(abi) = abi_version()? else {
        return Ok(Prepared::Unsupported);
    };
    let program = resolve_program(program);
    let plan = derive(capabilities, scope, program.as_deref(), abi);
    Ruleset::build(&plan).map(Prepared::Ready)
}

/// [`prepare`], then enforce the ruleset on the calling thread: for a
/// caller that execs `program` next.
pub fn apply(capabilities: u64, scope: Option<&Path>, program: &OsStr) -> Result<Status, Error> {
    match prepare(capabilities, scope, program)? {
        Prepared::Unsupported => Ok(Status::Unsupported),
        Prepared::Ready(ruleset) => {
            ruleset
                .restrict_self()
                .map_err(|e| Error::new("landlock_restrict_self", e))?;
            let report = *ruleset.report();
            ruleset.keep_pins();
            Ok(Status::Applied(report))
        }
    }
}
