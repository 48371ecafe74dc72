// SPDX-License-Identifier: GPL-2.0

//! What the tools' tests share.
//!
//! A test that cannot run on this host (no C compiler, no generic netlink,
//! no Landlock, not root, the module loaded) says why and passes, except
//! in CI (`CI` set to `true` or `1`, as `.ci/run` sets it), where it fails:
//! there, a test that passed has run. `make check` runs the tests that need
//! Landlock in the test VM (`selftests/test_tools_landlock.sh`), whose
//! kernel has it, and leaves them out of the host's run.
//!
//! Tests write scratch files under [`tmpdir`]: the VM's tree is read-only.

use std::path::PathBuf;

/// The part of a test's name that marks it as needing Landlock: the host's
/// run leaves these out (`--skip`), the VM's runs only these.
pub const LANDLOCK_LIVE: &str = "landlock_live";

/// The running kernel's Landlock ABI version, `None` without Landlock (not
/// built in, or not in `lsm=`): for a test to skip, or to know what to
/// expect. asm-landlock itself never asks (the `landlock` crate adapts to
/// the kernel and says what it enforced).
pub fn landlock_abi() -> Option<u32> {
    // SAFETY: landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)
    // reads and writes no memory; it returns the version or -1.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32,
        )
    };
    u32::try_from(v).ok().filter(|&v| v > 0)
}

/// Whether the tests run in CI (`CI` is `true` or `1`).
pub fn ci() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true" | "1"))
}

/// Says that `test` cannot run here because of `why`, and returns so that
/// the test passes; in CI, fails the test instead.
#[track_caller]
pub fn skip(test: &str, why: &str) {
    assert!(!ci(), "{test}: {why}, and in CI no test may be skipped");
    eprintln!("# SKIP {test}: {why}");
}

/// Where a test writes scratch files: `ASM_TEST_TMPDIR` when it is set
/// (the VM's writable /tmp), else `default`, the crate's
/// `CARGO_TARGET_TMPDIR` (which `env!` gives it at build time).
pub fn tmpdir(default: &str) -> PathBuf {
    std::env::var_os("ASM_TEST_TMPDIR").map_or_else(|| PathBuf::from(default), PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_fails_only_in_ci() {
        // The test harness shares the environment between threads: this is
        // the only test of the crate that reads CI.
        let outcome = std::panic::catch_unwind(|| skip("t", "no reason"));
        assert_eq!(outcome.is_err(), ci());
    }
}
