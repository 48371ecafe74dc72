// SPDX-License-Identifier: GPL-2.0

//! Runs the built asmctl binary the way a user does: under its alias
//! names, with bad command lines, and without the asm module, checking
//! stdout, stderr and the exit status of each.
//!
//! The checks that need `/dev/asm` to be absent are skipped, with a note,
//! on a host where the module is loaded; the selftests cover that case.

mod common;

use common::{asmctl_path, link, run_env, Ran};
use std::path::Path;

fn run(program: &Path, args: &[&str]) -> Ran {
    run_env(program, args, &[])
}

fn asmctl(args: &[&str]) -> Ran {
    run(asmctl_path(), args)
}

fn no_module() -> bool {
    if Path::new("/dev/asm").exists() {
        asm_testutil::skip("the no-module checks", "/dev/asm exists");
        return false;
    }
    true
}

const NO_MODULE: &str = "Error: /dev/asm not found: is the asm module loaded?\n";

#[test]
fn help_goes_to_stdout() {
    let (code, out, err) = asmctl(&["help"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(out.starts_with("Usage: asmctl COMMAND [ARGS]\n"), "{out}");
    // Every alias and its own --help reach the same text.
    for name in ["asmstatus", "asmlist", "asminfo", "asmpolicy", "compliance"] {
        assert_eq!(
            run(&link(name), &["--help"]),
            (0, out.clone(), String::new())
        );
    }
}

#[test]
fn usage_errors_exit_2() {
    for (args, msg) in [
        (&[][..], "missing command"),
        (&["bogus"], "unknown command 'bogus'"),
        (&["list", "--bogus"], "unknown option '--bogus' for list"),
        (&["history"], "history needs an agent id"),
        (
            &["top", "--interval", "fast"],
            "invalid interval 'fast' (expected 0.1 to 86400 seconds)",
        ),
        (
            &["limits", "100", "--mem", "lots"],
            "invalid size 'lots' for --mem (expected bytes, or a number with K, M or G)",
        ),
        (
            &["recovery", "100", "--crash", "throttle"],
            "--crash cannot be throttle: throttle applies to --cpu-quota and --syscall-flood only",
        ),
        (
            &["heartbeat", "--json"],
            "unknown option '--json' for heartbeat",
        ),
        (
            &["profile", "record", "a/b", "1ms"],
            "invalid operation name 'a/b' (expected 1 to 31 characters of A-Z, a-z, 0-9, '_', \
             '.', ':' and '-')",
        ),
        (
            &["profile", "record", "step", "5"],
            "invalid duration '5' (expected a number with a unit: ns, us, ms or s, e.g. 950us \
             or 1.5ms)",
        ),
    ] {
        assert_eq!(
            asmctl(args),
            (
                2,
                String::new(),
                format!("Error: {msg}\nRun 'asmctl help' for usage.\n")
            ),
            "{args:?}"
        );
    }
    // asminfo is `asmctl info`: it needs the id.
    assert_eq!(
        run(&link("asminfo"), &[]),
        (
            2,
            String::new(),
            "Error: info needs an agent id\nRun 'asmctl help' for usage.\n".into()
        )
    );
}

#[test]
fn aliases_reach_their_command() {
    if !no_module() {
        return;
    }
    // Each gets as far as opening /dev/asm, which only a valid command does.
    for (name, args) in [
        ("asmstatus", &[][..]),
        ("asmlist", &["--all"]),
        ("asminfo", &["100"]),
        ("asmpolicy", &["100"]),
        ("compliance", &[]),
    ] {
        assert_eq!(
            run(&link(name), args),
            (1, String::new(), NO_MODULE.into()),
            "{name}"
        );
    }
}

#[test]
fn json_errors_go_to_stdout() {
    if !no_module() {
        return;
    }
    let want = "{\"error\":\"/dev/asm not found: is the asm module loaded?\"}\n";
    for args in [
        &["status", "--json"][..],
        &["list", "--json"],
        &["info", "7", "--json"],
        &["history", "7", "--json"],
        &["top", "--json"],
        &["limits", "7", "--json"],
        &["recovery", "--default", "--json"],
        &["policy", "7", "--json"],
        &["compliance", "--json"],
        &["audit", "--json"],
        &["sensitive", "--json"],
        &["deps", "--json"],
        &["deps", "7", "--json"],
        &["deps", "add", "7", "8", "--json"],
        &["profile", "--json"],
        &["profile", "7", "--json"],
        &["profile", "7", "step", "--json"],
        &["profile", "--all", "step", "--json"],
    ] {
        assert_eq!(asmctl(args), (1, want.into(), String::new()), "{args:?}");
    }
}

#[test]
fn new_commands_need_the_module() {
    if !no_module() {
        return;
    }
    for args in [
        &["history", "7"][..],
        &["top", "--once"],
        &["limits", "--default", "--mem", "1G"],
        &["recovery", "7", "--preset", "strict"],
        &["heartbeat"],
        &["patch", "7", "risk", "high"],
        &["audit", "verify"],
        &["oversight", "7", "review"],
        &["decision", "done"],
        &["sensitive", "add", "/etc/shadow"],
        &["deps"],
        &["deps", "7"],
        &["deps", "add", "7", "8", "--kind", "optional"],
        &["deps", "remove", "7", "8"],
        &["profile"],
        &["profile", "7"],
        &["profile", "7", "step"],
        &["profile", "--all", "step"],
        &["profile", "record", "step", "1ms"],
        &["profile", "time", "step", "--", "true"],
    ] {
        assert_eq!(
            asmctl(args),
            (1, String::new(), NO_MODULE.into()),
            "{args:?}"
        );
    }
}

#[test]
fn run_checks_capabilities_before_opening_the_device() {
    let (code, out, err) = asmctl(&["run", "--name", "a", "--cap", "Foo", "--", "true"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.starts_with("Error: unknown capability 'Foo' (known: FsBasic, FsExtended, "),
        "{err}"
    );
}

#[test]
fn run_does_not_exec_when_registration_fails() {
    if !no_module() {
        return;
    }
    let marker = asm_testutil::tmpdir(env!("CARGO_TARGET_TMPDIR")).join("run-marker");
    let _ = std::fs::remove_file(&marker);
    let marker_arg = marker.to_str().unwrap();
    assert_eq!(
        asmctl(&["run", "--name", "a", "--", "touch", marker_arg]),
        (1, String::new(), NO_MODULE.into())
    );
    assert!(
        !marker.exists(),
        "the command ran although registration failed"
    );
}
