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

/// Every command `asmctl --help` lists.
const COMMANDS: [&str; 24] = [
    "status",
    "list",
    "info",
    "run",
    "register",
    "unregister",
    "history",
    "top",
    "monitor",
    "metrics",
    "limits",
    "recovery",
    "heartbeat",
    "policy",
    "patch",
    "audit",
    "oversight",
    "decision",
    "llm",
    "sensitive",
    "deps",
    "profile",
    "compliance",
    "completions",
];

const ALIASES: [&str; 5] = ["asmstatus", "asmlist", "asminfo", "asmpolicy", "compliance"];

#[test]
fn help_goes_to_stdout() {
    let (code, out, err) = asmctl(&["--help"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(
        out.contains("\nUsage: asmctl [OPTIONS] <COMMAND>\n"),
        "{out}"
    );
    for command in COMMANDS {
        assert!(out.contains(&format!("\n  {command} ")), "{command}: {out}");
    }
    assert_eq!(asmctl(&["help"]), (0, out, String::new()));
    let (code, out, err) = asmctl(&["run", "--help"]);
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(
        out.contains("\nUsage: asmctl run [OPTIONS] --name <NAME> <CMD>...\n"),
        "{out}"
    );
    for option in [
        "--name <NAME>",
        "--id <ID>",
        "--cap <CAP[,CAP]>",
        "--scope <SCOPE>",
        "--auto-restart <N>",
        "--risk <RISK>",
        "--quiet",
        "--no-landlock",
        "--keep-tty",
    ] {
        assert!(out.contains(option), "{option}: {out}");
    }
    assert!(out.contains("Capabilities (any case;"), "{out}");
    assert_eq!(asmctl(&["help", "run"]), (0, out, String::new()));
    for name in ALIASES {
        let (code, out, err) = run(&link(name), &["--help"]);
        assert_eq!((code, err.as_str()), (0, ""), "{name}");
        assert!(out.contains(&format!("\nUsage: {name} ")), "{name}: {out}");
    }
}

#[test]
fn version_of_each_name() {
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        asmctl(&["--version"]),
        (0, format!("asmctl {version}\n"), String::new())
    );
    assert_eq!(
        asmctl(&["status", "--version"]),
        (0, format!("asmctl-status {version}\n"), String::new())
    );
    for name in ALIASES {
        assert_eq!(
            run(&link(name), &["--version"]),
            (0, format!("{name} {version}\n"), String::new()),
            "{name}"
        );
    }
}

/// The long options each command's help lists.
fn options_in_help(args: &[&str]) -> Vec<String> {
    let (code, out, _) = asmctl(args);
    assert_eq!(code, 0, "{args:?}");
    // The option lines: "  -j, --json  ..." or "      --mem <SIZE>  ...".
    out.lines()
        .filter(|line| line.trim_start().starts_with('-'))
        .filter_map(|line| line.split_whitespace().find(|w| w.starts_with("--")))
        .map(|w| w.trim_end_matches([',', ']']).to_string())
        .collect()
}

/// What a command's help lists is what its parser accepts: no option in
/// the help is an unknown argument to the command.
#[test]
fn help_matches_the_parser() {
    let mut commands: Vec<Vec<&str>> = COMMANDS.iter().map(|c| vec![*c]).collect();
    commands.extend([
        vec!["patch", "1", "limits"],
        vec!["audit", "verify"],
        vec!["sensitive", "list"],
        vec!["deps", "add"],
        vec!["deps", "list"],
        vec!["profile", "record"],
    ]);
    let mut checked = 0;
    for command in &commands {
        let mut help = command.clone();
        help.push("--help");
        for option in options_in_help(&help) {
            if option == "--help" || option == "--version" {
                continue;
            }
            let mut args = command.clone();
            args.push(&option);
            let (_, _, err) = asmctl(&args);
            assert!(
                !err.contains(&format!("unexpected argument '{option}'")),
                "{args:?}: {err}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} options checked");
}

#[test]
fn usage_errors_exit_2() {
    for (args, msg) in [
        (&["bogus"][..], "error: unrecognized subcommand 'bogus'"),
        (
            &["lsit"],
            "tip: some similar subcommands exist: 'limits', 'list'",
        ),
        (
            &["list", "--bogus"],
            "error: unexpected argument '--bogus' found",
        ),
        (
            &["history"],
            "error: the following required arguments were not provided:\n  <ID>",
        ),
        (
            &["top", "--interval", "fast"],
            "error: invalid value 'fast' for '--interval <SECONDS>': expected 0.1 to 86400 seconds",
        ),
        (
            &["limits", "100", "--mem", "lots"],
            "error: invalid value 'lots' for '--mem <SIZE>': expected bytes, or a number with K, \
             M or G; none or default",
        ),
        (
            &["recovery", "100", "--crash", "throttle"],
            "error: invalid value 'throttle' for '--crash <A>': throttle applies to --cpu-quota \
             and --syscall-flood only",
        ),
        (
            &["heartbeat", "--bogus"],
            "error: unexpected argument '--bogus' found",
        ),
        (
            &["run", "--json", "--name", "a", "--", "true"],
            "error: -j/--json does not apply to run: its stdout is the agent's",
        ),
        (
            &["profile", "record", "a/b", "1ms"],
            "error: invalid value 'a/b' for '<OP>': invalid operation name 'a/b' (expected 1 to \
             31 characters of A-Z, a-z, 0-9, '_', '.', ':' and '-')",
        ),
        (
            &["profile", "record", "step", "5"],
            "error: invalid value '5' for '<DURATION>': invalid duration '5' (expected a number \
             with a unit: ns, us, ms or s, e.g. 950us or 1.5ms)",
        ),
        (
            &["limits", "--default", "--mem", "default"],
            "error: --mem: 'default' applies to an agent only (give the defaults a value or \
             none)\n\nUsage: asmctl limits [OPTIONS] <ID|--default>\n",
        ),
    ] {
        let (code, out, err) = asmctl(args);
        assert_eq!((code, out.as_str()), (2, ""), "{args:?}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(err.contains(msg), "{args:?}: {err}");
        assert!(
            err.ends_with("For more information, try '--help'.\n"),
            "{args:?}: {err}"
        );
    }
    // No command: the help, on stderr, with 2.
    let (code, out, err) = asmctl(&[]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.contains("\nUsage: asmctl [OPTIONS] <COMMAND>\n"),
        "{err}"
    );
    // asminfo is `asmctl info`: it needs the id.
    let (code, out, err) = run(&link("asminfo"), &[]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("<ID>\n\nUsage: asminfo <ID>\n"), "{err}");
}

/// Runs `script` in `shell` with the completion script of `asmctl
/// completions <shell>` in the file $COMPLETIONS.
fn with_completions(shell: &str, script: &str) -> Option<String> {
    if std::process::Command::new(shell)
        .arg("-c")
        .arg("true")
        .output()
        .is_err()
    {
        asm_testutil::skip(&format!("the {shell} completions"), &format!("no {shell}"));
        return None;
    }
    let (code, completions, err) = asmctl(&["completions", shell]);
    assert_eq!((code, err.as_str()), (0, ""), "{shell}");
    let dir = asm_testutil::tmpdir(env!("CARGO_TARGET_TMPDIR"));
    let file = dir.join(format!("completions.{shell}.{}", std::process::id()));
    std::fs::write(&file, completions).unwrap();
    let out = std::process::Command::new(shell)
        .arg("-c")
        .arg(script)
        .env("COMPLETIONS", &file)
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&file);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{shell}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(stdout)
}

/// bash: the completion functions complete commands, options and values,
/// for asmctl and each alias.
#[test]
fn bash_completions() {
    let complete = |words: &str| {
        let script = format!(
            "source \"$COMPLETIONS\"; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; \
             f=$(complete -p ${{COMP_WORDS[0]}} | sed 's/.*-F \\([^ ]*\\).*/\\1/'); \
             $f ${{COMP_WORDS[0]}} \"${{COMP_WORDS[$COMP_CWORD]}}\" \
             \"${{COMP_WORDS[$COMP_CWORD - 1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\""
        );
        with_completions("bash", &script)
    };
    let Some(words) = complete("asmctl ru") else {
        return;
    };
    assert_eq!(words.trim(), "run", "{words}");
    let words = complete("asmctl run --no").unwrap();
    assert!(words.lines().any(|w| w == "--no-landlock"), "{words}");
    let words = complete("asmctl audit --trail ''").unwrap();
    assert_eq!(
        words.split_whitespace().collect::<Vec<_>>(),
        ["policy", "llm"]
    );
    let words = complete("asmctl completions ''").unwrap();
    for shell in ["bash", "zsh", "fish"] {
        assert!(words.lines().any(|w| w == shell), "{words}");
    }
    let words = complete("asmlist --a").unwrap();
    assert_eq!(words.trim(), "--all", "{words}");
}

/// zsh and fish: the scripts load, and know the commands.
#[test]
fn zsh_and_fish_completions() {
    if let Some(out) = with_completions(
        "zsh",
        "autoload -Uz compinit && compinit -u -d /dev/null; source \"$COMPLETIONS\"; \
         print -r -- ${_comps[asmctl]} ${_comps[asmstatus]}",
    ) {
        assert_eq!(out.trim(), "_asmctl _asmstatus", "{out}");
    }
    if let Some(out) = with_completions(
        "fish",
        "source $COMPLETIONS; complete -C 'asmctl ru'; complete -C 'asmctl run --no-l'",
    ) {
        assert!(out.lines().any(|l| l.starts_with("run\t")), "{out}");
        assert!(
            out.lines().any(|l| l.starts_with("--no-landlock\t")),
            "{out}"
        );
    }
}

/// The man pages: one for asmctl, one per command and one per alias, each
/// rendered by man.
#[test]
fn man_pages() {
    let dir = asm_testutil::tmpdir(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("man-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dir_arg = dir.to_str().unwrap();
    assert_eq!(
        asmctl(&["manpages", dir_arg]),
        (0, String::new(), String::new())
    );
    let mut pages = vec!["asmctl".to_string()];
    pages.extend(COMMANDS.iter().map(|c| format!("asmctl-{c}")));
    pages.extend(ALIASES.iter().map(|a| a.to_string()));
    for page in &pages {
        let file = dir.join(format!("{page}.1"));
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(&format!("\n.TH {page} 1 ")), "{page}: {text}");
    }
    let run_page = std::fs::read_to_string(dir.join("asmctl-run.1")).unwrap();
    assert!(run_page.contains("\\-\\-no\\-landlock"), "{run_page}");
    // man renders it: the options of run are in the text.
    let out = std::process::Command::new("man")
        .args(["-l", "-P", "cat"])
        .arg(dir.join("asmctl-run.1"))
        .env("MANWIDTH", "80")
        .output();
    match out {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{text}");
            assert!(text.contains("--no-landlock"), "{text}");
            assert!(text.contains("asmctl-run"), "{text}");
        }
        Err(e) => asm_testutil::skip("rendering the man pages", &format!("man: {e}")),
    }
    let _ = std::fs::remove_dir_all(&dir);
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
        err.starts_with(
            "error: invalid value 'Foo' for '--cap <CAP[,CAP]>': unknown capability 'Foo' \
             (known: FsBasic, FsExtended, "
        ),
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
