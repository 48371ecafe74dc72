// SPDX-License-Identifier: GPL-2.0

//! Helpers shared by the integration tests: running the built asmctl
//! binary, under its own name or an alias, and capturing what it printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The exit status, stdout and stderr of one run.
pub type Ran = (i32, String, String);

/// A symlink called `name` to the asmctl binary, as `make install` makes.
pub fn link(name: &str) -> PathBuf {
    // One directory per build profile: the debug and release test runs
    // share CARGO_TARGET_TMPDIR, and a link must reach this run's binary.
    let bin = Path::new(env!("CARGO_BIN_EXE_asmctl"));
    let profile = bin
        .parent()
        .and_then(|p| p.file_name())
        .map_or_else(|| "bin".into(), |p| p.to_string_lossy().into_owned());
    let dir =
        asm_testutil::tmpdir(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-links-{profile}"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    // Tests run in parallel and may race to create the same link.
    if std::fs::symlink_metadata(&path).is_err() {
        let _ = std::os::unix::fs::symlink(bin, &path);
    }
    path
}

/// Runs `program` with `args` and the extra environment `env`.
pub fn run_env(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut command = Command::new(program);
    command.args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().unwrap();
    (
        status.code().expect("exited, not killed"),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

/// The asmctl binary itself.
pub fn asmctl_path() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_asmctl"))
}
