// SPDX-License-Identifier: GPL-2.0

//! The asmd binary on a host without the module: command-line errors, spec
//! checking and the single-instance lock, which all happen before asmd
//! touches `/dev/asm`.

use std::fs::{self, File};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn asmd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_asmd"))
        .args(args)
        .output()
        .expect("run asmd")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh directory for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("asmd-cli-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, name: &str, body: &str) -> &Self {
        fs::write(self.0.join(name), body).unwrap();
        self
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

const CRASHY: &str =
    "id = 100\nname = \"crashy\"\ncommand = [\"sh\", \"-c\", \"exit 3\"]\nauto_restart = 3\n";

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["--spec"],
        &["--spec", "a", "--bogus"],
        &["extra"],
    ] {
        let out = asmd(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.starts_with("error: "), "{err}");
        assert!(
            err.ends_with("For more information, try '--help'.\n"),
            "{err}"
        );
    }
    let out = asmd(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for option in [
        "--spec <DIR>",
        "--log-dir <DIR>",
        "--lock <PATH>",
        "--check",
        "--completions <SHELL>",
    ] {
        assert!(help.contains(option), "{option}: {help}");
    }
    let out = asmd(&["--version"]);
    assert_eq!(
        (out.status.code(), text(&out.stdout)),
        (Some(0), format!("asmd {}\n", env!("CARGO_PKG_VERSION")))
    );
}

/// The completion scripts load in their shells, and the man page is
/// rendered by man.
#[test]
fn completions_and_man_page() {
    let out = asmd(&["--completions", "bash"]);
    assert_eq!(out.status.code(), Some(0));
    let script = text(&out.stdout);
    assert!(script.contains("complete -F _asmd"), "{script}");
    let dir = Scratch::new("man");
    dir.write("asmd.bash", &script);
    let out = Command::new("bash")
        .arg("-c")
        .arg(
            "source \"$1/asmd.bash\" && COMP_WORDS=(asmd --lo) COMP_CWORD=1 && \
             _asmd asmd --lo asmd && echo \"${COMPREPLY[*]}\"",
        )
        .arg("bash")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        text(&out.stdout).trim(),
        "--log-dir --lock",
        "{}",
        text(&out.stderr)
    );
    let out = asmd(&["--man-page", dir.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = fs::read_to_string(dir.join("asmd.8")).unwrap();
    assert!(page.contains("\n.TH asmd 8 "), "{page}");
    match Command::new("man")
        .args(["-l", "-P", "cat"])
        .arg(dir.join("asmd.8"))
        .output()
    {
        Ok(out) => {
            let shown = text(&out.stdout);
            assert!(shown.contains("--log-dir"), "{shown}");
            assert!(shown.contains("/sys/fs/cgroup/agentsys/"), "{shown}");
        }
        Err(e) => asm_testutil::skip("rendering asmd.8", &format!("man: {e}")),
    }
}

#[test]
fn check_prints_one_line_per_agent() {
    let dir = Scratch::new("good");
    dir.write("b.toml", CRASHY).write(
        "a.toml",
        "id = 7\nname = \"w\"\ncommand = [\"true\"]\n[limits]\nwatchdog_ms = 1500\n",
    );
    let out = asmd(&["--check", "--spec", dir.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with("asmd: agent 7 (w): "), "{stdout}");
    assert!(lines[0].contains("watchdog_ms=1500"), "{stdout}");
    assert!(
        lines[1].starts_with("asmd: agent 100 (crashy): "),
        "{stdout}"
    );
    assert!(lines[1].contains("command sh -c 'exit 3'"), "{stdout}");
    assert!(lines[1].contains("auto_restart 3"), "{stdout}");
    assert!(lines[2].contains("2 spec file(s)"), "{stdout}");
}

#[test]
fn check_names_file_line_and_key_and_exits_1() {
    let dir = Scratch::new("bad");
    dir.write("crashy.toml", CRASHY)
        .write(
            "typo.toml",
            "id = 5\nname = \"t\"\ncommand = [\"true\"]\nrestart_limit = 3\n",
        )
        .write("dup.toml", "id = 100\nname = \"d\"\ncommand = [\"true\"]\n");
    let out = asmd(&["--check", "--spec", dir.path()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let typo = format!(
        "asmd: error: {}:4: unknown field `restart_limit`",
        dir.join("typo.toml").display()
    );
    assert!(err.contains(&typo), "{err}");
    let dup = format!(
        "asmd: error: {}: id 100 is already used by {}",
        dir.join("dup.toml").display(),
        dir.join("crashy.toml").display()
    );
    // Files are read in name order: crashy.toml before dup.toml.
    assert!(err.contains(&dup), "{err}");
    assert!(text(&out.stdout).is_empty());

    // Without --check the same specs stop asmd before it does anything.
    let lock = dir.join("asmd.lock");
    let out = asmd(&["--spec", dir.path(), "--lock", lock.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!lock.exists());
}

#[test]
fn empty_or_missing_spec_dir() {
    let dir = Scratch::new("empty");
    let out = asmd(&["--check", "--spec", dir.path()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no *.toml spec files"));
    let out = asmd(&["--check", "--spec", &format!("{}/nope", dir.path())]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("No such file or directory (ENOENT)"));
}

#[test]
fn second_instance_is_refused_by_the_lock() {
    let dir = Scratch::new("lock");
    dir.write("crashy.toml", CRASHY);
    let lock_path = dir.join("asmd.lock");
    let held = File::create(&lock_path).unwrap();
    // SAFETY: flock on an fd we own.
    let rc = unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    assert_eq!(rc, 0);

    let logs = dir.join("logs");
    let out = asmd(&[
        "--spec",
        dir.path(),
        "--lock",
        lock_path.to_str().unwrap(),
        "--log-dir",
        logs.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "asmd: error: another asmd is running (lock {})\n",
            lock_path.display()
        )
    );
    // It stopped before anything else.
    assert!(!Path::new(&logs).exists());
    assert!(text(&out.stdout).is_empty());
}

#[test]
fn check_resolves_user_and_group_and_refuses_unknown_ones() {
    let dir = Scratch::new("users");
    dir.write(
        "root.toml",
        "id = 1\nname = \"r\"\ncommand = [\"true\"]\nuser = \"root\"\n",
    )
    .write(
        "default.toml",
        "id = 2\nname = \"d\"\ncommand = [\"true\"]\n",
    );
    let out = asmd(&["--check", "--spec", dir.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("(r): "), "{stdout}");
    assert!(
        stdout.contains("; user root (0); group 0 (primary group of root)"),
        "{stdout}"
    );
    // Without `user`: nobody, whatever its ids on this host.
    assert!(stdout.contains("; user nobody ("), "{stdout}");

    dir.write(
        "bad.toml",
        "id = 3\nname = \"b\"\ncommand = [\"true\"]\nuser = \"no-such-user-asmd\"\n",
    );
    let out = asmd(&["--check", "--spec", dir.path()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let want = format!(
        "asmd: error: {}:4: user = \"no-such-user-asmd\": no such user",
        dir.join("bad.toml").display()
    );
    assert!(err.contains(&want), "{err}");
}

#[test]
fn check_prints_the_start_order_of_dependent_specs() {
    let dir = Scratch::new("deps");
    // c depends on b, b on a: in file order c would come first.
    dir.write(
        "a-app.toml",
        "id = 3\nname = \"app\"\ncommand = [\"true\"]\ndepends_on = [\"db\", { id = 1, kind = \"optional\" }]\n",
    )
    .write(
        "b-db.toml",
        "id = 2\nname = \"db\"\ncommand = [\"true\"]\ndepends_on = [1]\nstart_timeout = 10\n",
    )
    .write("c-disk.toml", "id = 1\nname = \"disk\"\ncommand = [\"true\"]\n");
    let out = asmd(&["--check", "--spec", dir.path()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    assert!(
        lines[0].ends_with("; depends_on \"db\" required, 1 optional; start_timeout 30 s"),
        "{stdout}"
    );
    assert!(
        lines[1].ends_with("; depends_on 1 required; start_timeout 10 s"),
        "{stdout}"
    );
    assert_eq!(
        lines[3],
        "asmd: start order: agent 1 (disk), agent 2 (db), agent 3 (app)"
    );
    assert!(lines[4].contains("3 spec file(s)"), "{stdout}");
}

#[test]
fn a_dependency_cycle_stops_asmd_before_it_does_anything() {
    let dir = Scratch::new("cycle");
    dir.write(
        "x.toml",
        "id = 1\nname = \"x\"\ncommand = [\"true\"]\ndepends_on = [\"y\"]\n",
    )
    .write(
        "y.toml",
        "id = 2\nname = \"y\"\ncommand = [\"true\"]\ndepends_on = [{ name = \"x\", kind = \"peer\" }]\n",
    )
    .write(
        "z.toml",
        "id = 3\nname = \"z\"\ncommand = [\"true\"]\ndepends_on = [\"z\", \"w\"]\n",
    );
    let want = [
        format!(
            "asmd: error: {}: depends_on forms a cycle: agent 1 (x) -> agent 2 (y) -> agent 1 (x) \
             ({}, {})",
            dir.join("x.toml").display(),
            dir.join("x.toml").display(),
            dir.join("y.toml").display()
        ),
        format!(
            "asmd: error: {}:4: depends_on \"z\": a spec cannot depend on itself",
            dir.join("z.toml").display()
        ),
        format!(
            "asmd: error: {}:4: depends_on \"w\": no spec has this name",
            dir.join("z.toml").display()
        ),
    ];
    let out = asmd(&["--check", "--spec", dir.path()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    for line in &want {
        assert!(err.lines().any(|l| l == line), "{line}\n{err}");
    }
    assert!(text(&out.stdout).is_empty());

    // Without --check: exit 1 before the lock, the module or any agent.
    let lock = dir.join("asmd.lock");
    let out = asmd(&["--spec", dir.path(), "--lock", lock.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("depends_on forms a cycle"));
    assert!(!lock.exists());
}
