// SPDX-License-Identifier: GPL-2.0

//! End-to-end runs of asmctl against `fake_asm.c`, a stand-in for the
//! module preloaded into the process: every command goes through the real
//! `asm-sys` ioctls (request numbers and structs as the C header defines
//! them, the ERANGE retries, ESRCH for a vanished agent), `run` really
//! execs its command in the registered process, and each fault-policy
//! change is checked field by field in what the stand-in received.
//!
//! Skipped with a note when the host has no `cc` to build the stand-in
//! (a failure in CI: `asm_testutil::skip`).

mod common;

use common::{asmctl_path, link, run_env, Ran};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Builds the stand-in once per test binary; `None` without `cc`.
fn fake_lib() -> Option<&'static Path> {
    static LIB: OnceLock<Option<PathBuf>> = OnceLock::new();
    LIB.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let lib = asm_testutil::tmpdir(env!("CARGO_TARGET_TMPDIR")).join("libfake_asm.so");
        let status = Command::new("cc")
            .args(["-std=gnu11", "-Wall", "-Werror", "-shared", "-fPIC", "-I"])
            .arg(manifest.join("../../include/uapi"))
            .arg(manifest.join("tests/fake_asm.c"))
            .arg("-o")
            .arg(&lib)
            .arg("-ldl")
            .status();
        match status {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                asm_testutil::skip("the fake-module runs", "no `cc` on this host");
                None
            }
            Err(e) => panic!("running cc: {e}"),
            Ok(status) => {
                assert!(status.success(), "cc failed on fake_asm.c: {status}");
                Some(lib)
            }
        }
    })
    .as_deref()
}

/// A log file for the stand-in, fresh for each test.
fn log_path(test: &str) -> PathBuf {
    let path = asm_testutil::tmpdir(env!("CARGO_TARGET_TMPDIR")).join(format!("fake-{test}.log"));
    let _ = std::fs::remove_file(&path);
    path
}

/// Runs `program` with the stand-in loaded and `env` added.
fn fake_run(lib: &Path, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut all = vec![("LD_PRELOAD", lib.to_str().unwrap())];
    all.extend_from_slice(env);
    run_env(program, args, &all)
}

/// What the stand-in logged.
fn log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn ok(stdout: &str) -> Ran {
    (0, stdout.into(), String::new())
}

fn failed(stderr: &str) -> Ran {
    (1, String::new(), format!("Error: {stderr}\n"))
}

#[test]
fn status_table_and_json() {
    let Some(lib) = fake_lib() else { return };
    let want = "\
Agent Supervision Module - System Status
========================================

System Metrics:
  Total Spawns:     3
  Total Exits:      2
  Total Crashes:    1
  Total Faults:     1
  Total Restarts:   1
  Active Agents:    1
  Total Syscalls:   812
  Events Dropped:   0

Recent Events (last 10):
  [16000] Agent 100 LLM request answered by claude (12 tokens, 35 ms)
  [15000] Agent 101 failed (2 of 5 restarts used)
  [15000] Agent 101 ended by signal 9 (pid 43)
  [14000] Agent 101 throttle lifted (CPU quota)
  [13000] Agent 101 action: throttle (CPU quota)
  [13000] Agent 101 fault: CPU quota exceeded (observed 950 ms, limit 200 ms)
  [12500] Agent 100 restarted (restart 1 of 3)
  [12500] Agent 100 spawned (pid 44)
  [12345] Agent 100 awaits a restart (restart 1 of 3)
  [12345] Agent 100 crashed (signal 11)
";
    assert_eq!(fake_run(lib, asmctl_path(), &["status"], &[]), ok(want));
    assert_eq!(fake_run(lib, &link("asmstatus"), &[], &[]), ok(want));

    let (code, out, err) = fake_run(lib, asmctl_path(), &["status", "--json"], &[]);
    assert_eq!((code, err.as_str()), (0, ""));
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["system"]["total_syscalls"], 812);
    assert_eq!(doc["agents"]["100"]["memory_bytes"], 1220608);
    assert_eq!(doc["recent_events"][0]["signal"], 11);
    // The restart events' fields reach --json as the module wrote them.
    assert_eq!(doc["recent_events"][3]["type"], "Restarted");
    assert_eq!(doc["recent_events"][3]["restarts"], 1);
    assert_eq!(doc["recent_events"][8]["max_restarts"], 5);
    // So do the LLM request's.
    assert_eq!(doc["recent_events"][9]["type"], "LlmRequest");
    assert_eq!(doc["recent_events"][9]["provider"], "Claude");
    assert_eq!(doc["recent_events"][9]["duration_us"], 35120);
    // Not on a terminal: one line. --pretty (before or after the
    // command): one member per line, two-space indent.
    assert_eq!(out.lines().count(), 1, "{out}");
    for args in [
        &["status", "--json", "--pretty"][..],
        &["--pretty", "-j", "status"],
    ] {
        let (_, out, _) = fake_run(lib, asmctl_path(), args, &[]);
        assert!(
            out.starts_with("{\n  \"agents\": {\n    \"100\": {\n"),
            "{out}"
        );
    }
}

#[test]
fn list_tables() {
    let Some(lib) = fake_lib() else { return };
    let active = "\
Active Agents:
ID    PID   Name              Capabilities        Restarts
----  ----  ----------------  ------------------  --------
100   42    fs_monitor        FsBasic,FsExtended  0
101   43    net_agent         NetClient           2
";
    assert_eq!(fake_run(lib, asmctl_path(), &["list"], &[]), ok(active));
    assert_eq!(fake_run(lib, &link("asmlist"), &[], &[]), ok(active));
    // 999 is listed by LIST but gone by GET_INFO: skipped, not an error.
    assert_eq!(
        fake_run(lib, asmctl_path(), &["list", "--all"], &[]),
        ok("\
Agents:
ID    PID   Name              Capabilities        Restarts  State
----  ----  ----------------  ------------------  --------  ---------
100   42    fs_monitor        FsBasic,FsExtended  0         Active
101   43    net_agent         NetClient           2         Restarted
102   -     audio_ctrl        -                   0         Exited
")
    );
}

#[test]
fn list_json() {
    let Some(lib) = fake_lib() else { return };
    for (args, ids) in [
        (&["list", "--json"][..], &[100, 101][..]),
        (&["list", "--all", "--json"], &[100, 101, 102]),
    ] {
        let (code, out, err) = fake_run(lib, asmctl_path(), args, &[]);
        assert_eq!((code, err.as_str()), (0, ""), "{args:?}");
        let docs: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
        let got: Vec<_> = docs.iter().map(|d| d["agent_id"].clone()).collect();
        assert_eq!(got, ids, "{args:?}");
        assert_eq!(
            docs[0]["capabilities"],
            serde_json::json!(["FsBasic", "FsExtended"])
        );
    }
}

#[test]
fn info_table_json_and_missing_agent() {
    let Some(lib) = fake_lib() else { return };
    let want = "\
Agent Information:
==================
Agent ID:        100
PID:             42
Name:            fs_monitor
State:           Active
Capabilities:    FsBasic, FsExtended
Scope:           /tmp/ws/
Auto-Restart:    Yes (max 3)
Restart Count:   0
Risk Level:      Limited
Dependencies:    none
Dependents:      101 (required)

Telemetry:
  Spawn Count:   1
  Exit Count:    0
  Crash Count:   0
  Fault Count:   0
  CPU Time:      125000 μs
  Memory:        4096000 bytes

Last Activity:   5 seconds ago

Slowest Operations:
  llm:call  p95 2.50s   p99 2.50s   (1 sample)
  db.query  p95 30.5ms  p99 45.0ms  (1000 samples)
  fetch     p95 12.0ms  p99 15.0ms  (40 samples)
";
    assert_eq!(
        fake_run(lib, asmctl_path(), &["info", "100"], &[]),
        ok(want)
    );
    assert_eq!(fake_run(lib, &link("asminfo"), &["100"], &[]), ok(want));

    let (code, out, _) = fake_run(lib, asmctl_path(), &["info", "101", "--json"], &[]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["state"], "Restarted");

    assert_eq!(
        fake_run(lib, asmctl_path(), &["info", "999"], &[]),
        failed("no agent with id 999")
    );
    assert_eq!(
        fake_run(lib, asmctl_path(), &["info", "999", "--json"], &[]),
        (
            1,
            "{\"error\":\"no agent with id 999\"}\n".into(),
            String::new()
        )
    );
}

#[test]
fn run_registers_its_child_which_becomes_the_command() {
    let Some(lib) = fake_lib() else { return };
    let log_file = log_path("run");
    let logged = [("FAKE_ASM_LOG", log_file.to_str().unwrap())];
    // The scope exists (Landlock needs it) and holds the stand-in's log,
    // which it writes once the ruleset is in force.
    let scope = asm_testutil::tmpdir(env!("CARGO_TARGET_TMPDIR"));
    let scope = scope.to_str().unwrap();
    let args = [
        "run",
        "--name",
        "demo",
        "--cap",
        "fs_basic,NET_CLIENT",
        "--scope",
        scope,
        "--auto-restart",
        "2",
        "--",
        "sh",
        "-c",
        "echo $$",
    ];
    let (code, out, err) = fake_run(lib, asmctl_path(), &args, &logged);
    assert_eq!((code, after_landlock(&err)), (0, "asmctl: agent 1000\n"));
    // FsBasic in a scope, NetClient: what the report says is restricted.
    if let Some(abi) = asm_testutil::landlock_abi() {
        assert!(err.contains(": filesystem restricted ("), "{err}");
        if abi >= 4 {
            assert!(
                err.contains("TCP connect allowed, TCP bind denied"),
                "{err}"
            );
        }
    }
    // The shell has the pid that was registered: the child asmctl forked
    // registers itself, then execs.
    let pid = out.trim();
    assert_eq!(
        log(&log_file),
        format!(
            "register caller={pid} id=0 target=0 pid=0 cgroup_dir=0 caps=5 \
             auto_restart=2 name=demo scope={scope}\n"
        )
    );

    // A chosen id is not announced, and --quiet hides an allocated one.
    // (The stand-in knows neither 4242 nor 1000: asmctl, which waits for
    // the agent's last process, finds it gone and ends with the command.)
    // (Without a scope for the stand-in, Landlock would keep the dynamic
    // loader from preloading it into `true`.)
    for args in [
        &[
            "run",
            "--no-landlock",
            "--name",
            "a",
            "--id",
            "4242",
            "--",
            "true",
        ][..],
        &["run", "--no-landlock", "--quiet", "--name", "a", "true"],
    ] {
        let quiet = args.contains(&"--quiet");
        let notice = "asmctl: notice: agent 4242 has no capabilities: it may read only the \
                      system files, exec nothing it forked (ProcessSpawn), connect (NetClient), \
                      listen (NetServer) or ask for LLM completions (LlmAccess)\n";
        let expected = (0, String::new(), if quiet { "" } else { notice }.to_owned());
        assert_eq!(
            fake_run(lib, asmctl_path(), args, &[]),
            expected,
            "{args:?}"
        );
    }
}

/// `pid sid NoNewPrivs` of the shell `run` execs, as it prints them.
const WHO: &str = "set -- $(cat /proc/$$/stat); \
                   echo $1 $6 $(awk '/^NoNewPrivs:/ { print $2 }' /proc/$$/status)";

#[test]
fn run_makes_a_new_session_with_no_new_privs() {
    let Some(lib) = fake_lib() else { return };
    let log_file = log_path("session");
    let logged = [("FAKE_ASM_LOG", log_file.to_str().unwrap())];
    let words = |out: &str| out.split_whitespace().map(String::from).collect::<Vec<_>>();

    // The registered pid is the command's and leads its own session. No
    // Landlock, no_new_privs all the same.
    let args = [
        "run",
        "--no-landlock",
        "-q",
        "--name",
        "a",
        "--",
        "sh",
        "-c",
        WHO,
    ];
    let (code, out, err) = fake_run(lib, asmctl_path(), &args, &logged);
    assert_eq!((code, err.as_str()), (0, ""), "{out}");
    let w = words(&out);
    assert_eq!(w.len(), 3, "{out}");
    assert_eq!(w[0], w[1], "the command leads its own session: {out}");
    assert_eq!(w[2], "1", "NoNewPrivs: {out}");
    assert!(log(&log_file).starts_with(&format!("register caller={} ", w[0])));

    // --keep-tty: the session (and terminal) of whoever ran asmctl.
    let args = [
        "run",
        "--no-landlock",
        "--keep-tty",
        "-q",
        "--name",
        "a",
        "--",
        "sh",
        "-c",
        WHO,
    ];
    let (code, out, _) = fake_run(lib, asmctl_path(), &args, &[]);
    assert_eq!(code, 0);
    let w = words(&out);
    // SAFETY: getsid(0) only reads the caller's session id.
    let ours = unsafe { libc::getsid(0) };
    assert_eq!(w[1], ours.to_string(), "{out}");
    assert_ne!(w[0], w[1], "{out}");
    assert_eq!(w[2], "1", "NoNewPrivs: {out}");
}

#[test]
fn run_as_a_group_leader_passes_signals_and_the_status_on() {
    use std::os::unix::process::CommandExt;
    let Some(lib) = fake_lib() else { return };
    let log_file = log_path("session-fork");
    let leader = |script: &str| {
        let mut c = Command::new(asmctl_path());
        c.args([
            "run",
            "--no-landlock",
            "-q",
            "--name",
            "a",
            "--",
            "sh",
            "-c",
            script,
        ])
        .env("LD_PRELOAD", lib)
        .env("FAKE_ASM_LOG", &log_file)
        .process_group(0)
        .stdout(Stdio::piped());
        c
    };
    // A job of an interactive shell leads its process group: the child
    // asmctl forks (the agent) makes the session all the same.
    let out = leader(&format!("{WHO}; exit 3")).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8(out.stdout).unwrap();
    let w: Vec<&str> = text.split_whitespace().collect();
    assert_eq!(w.len(), 3, "{text}");
    assert_eq!(w[0], w[1], "the command leads its own session: {text}");
    assert_eq!(w[2], "1", "NoNewPrivs: {text}");
    assert!(log(&log_file).starts_with(&format!("register caller={} ", w[0])));

    // SIGTERM to asmctl (the job) reaches the agent; the status says so.
    let mut child = leader("echo $$; exec sleep 30").spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let agent: i32 = line.trim().parse().unwrap();
    assert_ne!(agent as u32, child.id());
    // SAFETY: kill takes integers only.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + libc::SIGTERM));
    // SAFETY: kill with signal 0 only checks that the process exists.
    assert_ne!(unsafe { libc::kill(agent, 0) }, 0, "agent {agent} survived");
}

/// `run`'s stderr after its first line, which must say what Landlock
/// enforces (the report, with the scopes from ABI 6), or warn that the
/// host kernel has no Landlock.
fn after_landlock(err: &str) -> &str {
    let (first, rest) = err.split_once('\n').unwrap_or((err, ""));
    let said = match asm_testutil::landlock_abi() {
        // (The crate enforces a newer kernel's Landlock as the newest ABI
        // it knows, 10; before 6 there are no scopes, and so only part of
        // what asmctl asks for.)
        Some(abi) if abi >= 6 => {
            let abi = abi.min(10);
            first.starts_with(&format!("asmctl: Landlock ABI {abi}, fully enforced: "))
                && first.ends_with(", signals scoped, abstract unix sockets scoped")
        }
        Some(abi) => {
            first.starts_with(&format!("asmctl: Landlock ABI {abi}, partially enforced: "))
        }
        None => {
            first
                == "asmctl: warning: the kernel has no Landlock: running without it \
                    (the module still detects violations)"
        }
    };
    assert!(said, "no line about Landlock first: {err}");
    rest
}

/// Needs Landlock: `make check` runs it in the VM
/// ([`asm_testutil::LANDLOCK_LIVE`]).
#[test]
fn landlock_live_run_enforces_unless_told_not_to() {
    let Some(lib) = fake_lib() else { return };
    if asm_testutil::landlock_abi().is_none() {
        return asm_testutil::skip(
            "landlock_live_run_enforces_unless_told_not_to",
            "the kernel has no Landlock",
        );
    }
    let dir = asm_testutil::tmpdir(env!("CARGO_TARGET_TMPDIR")).join("fake-landlock");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("scope")).unwrap();
    let (inside, outside) = (dir.join("scope/file"), dir.join("file"));
    // $PPID is asmctl, outside the agent's sandbox: from ABI 6 the agent
    // may not signal it, not even with signal 0.
    let script = format!(
        "echo in > {}; echo out > {} 2>/dev/null || echo refused; \
         kill -0 $PPID 2>/dev/null || echo kill-refused",
        inside.display(),
        outside.display()
    );
    let scope = dir.join("scope");
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "--name", "a", "--id", "4242", "--cap", "FsBasic"];
        args.extend_from_slice(&["--scope", scope.to_str().unwrap()]);
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "sh", "-c", &script]);
        fake_run(lib, asmctl_path(), &args, &[])
    };
    // The scope is writable, the rest of the filesystem is not. (stderr
    // has the dynamic loader's complaint: the stand-in it is told to
    // preload is outside the scope as well.)
    let (code, out, _) = run(&[]);
    let scoped = asm_testutil::landlock_abi().is_some_and(|abi| abi >= 6);
    let expected = if scoped {
        "refused\nkill-refused\n"
    } else {
        "refused\n"
    };
    assert_eq!((code, out.as_str()), (0, expected));
    assert!(inside.exists() && !outside.exists());
    // --no-landlock: only the module would see the write.
    assert_eq!(run(&["--no-landlock"]), ok(""));
    assert!(outside.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_failures() {
    let Some(lib) = fake_lib() else { return };
    let marker = asm_testutil::tmpdir(env!("CARGO_TARGET_TMPDIR")).join("fake-run-marker");
    let _ = std::fs::remove_file(&marker);
    let eexist = libc::EEXIST.to_string();
    let (code, out, err) = fake_run(
        lib,
        asmctl_path(),
        &[
            "run",
            "--name",
            "a",
            "--id",
            "100",
            "--",
            "touch",
            marker.to_str().unwrap(),
        ],
        &[("FAKE_ASM_ERRNO", &eexist)],
    );
    assert_eq!(
        (code, out.as_str(), after_landlock(&err)),
        (1, "", "Error: agent id 100 is already taken\n")
    );
    assert!(
        !marker.exists(),
        "the command ran although registration failed"
    );

    assert_eq!(
        fake_run(
            lib,
            asmctl_path(),
            &["run", "--name", "a", "--quiet", "--", "/nonexistent/cmd"],
            &[]
        ),
        (
            127,
            String::new(),
            "Error: cannot run '/nonexistent/cmd': No such file or directory\n".into()
        )
    );
}

#[test]
fn register_pid_and_cgroup() {
    let Some(lib) = fake_lib() else { return };
    let log_file = log_path("register");
    let logged = [("FAKE_ASM_LOG", log_file.to_str().unwrap())];
    let cgroup = asm_testutil::tmpdir(env!("CARGO_TARGET_TMPDIR"));
    let args = [
        "register",
        "--pid",
        "42",
        "--name",
        "n",
        "--cap",
        "Admin",
        "--auto-restart",
        "1",
    ];
    assert_eq!(fake_run(lib, asmctl_path(), &args, &logged), ok("1000\n"));
    let args = [
        "register",
        "--cgroup",
        cgroup.to_str().unwrap(),
        "--name=c",
        "--id=7",
    ];
    assert_eq!(fake_run(lib, asmctl_path(), &args, &logged), ok("7\n"));
    let log = log(&log_file);
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert!(
        lines[0]
            .ends_with(" id=0 target=1 pid=42 cgroup_dir=0 caps=128 auto_restart=1 name=n scope="),
        "{log}"
    );
    // The fd passed was an open directory.
    assert!(
        lines[1].ends_with(" id=7 target=2 pid=0 cgroup_dir=1 caps=0 auto_restart=0 name=c scope="),
        "{log}"
    );

    assert_eq!(
        fake_run(
            lib,
            asmctl_path(),
            &["register", "--cgroup", "/nonexistent", "--name", "c"],
            &[]
        ),
        failed("cannot open cgroup /nonexistent: No such file or directory")
    );
}

#[test]
fn register_errors_name_the_problem() {
    let Some(lib) = fake_lib() else { return };
    let pid = ["register", "--pid", "42", "--name", "n"];
    for (errno, msg) in [
        (
            libc::EPERM,
            "permission denied: registering another process needs CAP_SYS_ADMIN",
        ),
        (libc::EBUSY, "the process already belongs to an agent"),
        (libc::ESRCH, "no process with pid 42"),
        (
            libc::ENOSPC,
            "no room for another agent (4096 registered, or no free id)",
        ),
    ] {
        let errno = errno.to_string();
        assert_eq!(
            fake_run(lib, asmctl_path(), &pid, &[("FAKE_ASM_ERRNO", &errno)]),
            failed(msg)
        );
    }
}

#[test]
fn unregister() {
    let Some(lib) = fake_lib() else { return };
    let log_file = log_path("unregister");
    let logged = [("FAKE_ASM_LOG", log_file.to_str().unwrap())];
    assert_eq!(
        fake_run(lib, asmctl_path(), &["unregister", "100"], &logged),
        ok("")
    );
    assert_eq!(log(&log_file), "unregister id=100\n");
    assert_eq!(
        fake_run(lib, asmctl_path(), &["unregister", "5"], &[]),
        failed("no agent with id 5")
    );
    let eperm = libc::EPERM.to_string();
    assert_eq!(
        fake_run(
            lib,
            asmctl_path(),
            &["unregister", "100"],
            &[("FAKE_ASM_ERRNO", &eperm)]
        ),
        failed(
            "permission denied: only the agent's owner or CAP_SYS_ADMIN can unregister agent 100"
        )
    );
}

/// Checks that `ran` is asmctl's refusal of its command line, saying `msg`.
fn expect_usage(ran: Ran, msg: &str) {
    let (code, out, err) = ran;
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(
        err.starts_with("error: ") && err.contains(msg),
        "{err:?} does not say {msg:?}"
    );
}

/// Runs asmctl with `args` and parses its stdout as JSON, which it must be.
fn fake_json(lib: &Path, args: &[&str]) -> Value {
    let (code, out, err) = fake_run(lib, asmctl_path(), args, &[]);
    assert_eq!((code, err.as_str()), (0, ""), "{args:?}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}\n{out}"))
}

#[test]
fn info_with_the_fault_detector_fields() {
    let Some(lib) = fake_lib() else { return };
    let (code, out, err) = fake_run(lib, &link("asminfo"), &["101"], &[]);
    assert_eq!((code, err.as_str()), (0, ""));
    let (guide, fault_detector) = out.split_once("Last Activity:").unwrap();
    assert!(guide.contains("\nState:           Restarted\n"), "{out}");
    assert!(guide.contains("\n  Fault Count:   3\n"), "{out}");
    assert_eq!(
        fault_detector,
        "   5 seconds ago

Limits:
  CPU Quota:     200 ms per window
  Memory Limit:  none
  Syscall Rate:  1000/s
  Watchdog:      5000 ms
  Throttled:     Yes

Recovery:
  CPU Quota:             throttle
  Memory Limit:          log
  Syscall Flood:         throttle
  Crash:                 kill
  Capability Violation:  kill
  Unresponsive:          restart

Recent Faults:
  [13500] syscall flood (observed 1500/s, limit 1000/s) -> throttle
  [13000] CPU quota exceeded (observed 950 ms, limit 200 ms) -> throttle

LLM:
  Requests:      17
  Tokens Used:   4242
  Rate Limited:  3
  Failures:      1
  Bucket:        12 of 30 tokens, refill 10/s

Slowest Operations:
  fetch  p95 10.0ms  p99 10.0ms  (10 samples)
"
    );
    // The document as the module wrote it.
    let doc = fake_json(lib, &["info", "101", "--json"]);
    assert_eq!(doc["limits"]["mem_limit_bytes"], Value::Null);
    assert_eq!(doc["recent_faults"][1]["unit"], "PerSecond");
    assert_eq!(
        doc["llm"],
        json!({"requests": 17, "tokens_used": 4242, "rate_limited": 3, "failures": 1,
               "bucket": {"tokens": 12, "burst": 30, "refill_per_s": 10}})
    );

    // A document without the fields (an older module): no sections.
    let (code, out, _) = fake_run(lib, asmctl_path(), &["info", "102"], &[]);
    assert_eq!(code, 0);
    assert!(out.ends_with("\nLast Activity:   5 seconds ago\n"), "{out}");
}

#[test]
fn history_table_json_and_errors() {
    let Some(lib) = fake_lib() else { return };
    assert_eq!(
        fake_run(lib, asmctl_path(), &["history", "101"], &[]),
        ok("\
History of agent 101 (1000 ms windows, oldest first):
TIME(s)  CPU(ms)   CPU%    RSS(B)  SYSCALLS  IO_OPS
     -2      400   40.0  52428800       500       0
     -1      800   80.0  52432896      1000       1
      0     1200  120.0  52436992      1500       2

Totals:
  CPU Time:      375000 μs
  Syscalls:      27000
  IO Ops:        900
  RSS Now:       52436992 bytes
  RSS Peak:      104857600 bytes
  Throttled:     Yes

Last 3 windows:
  CPU:           80.0%
  Syscalls/s:    1000.0
")
    );

    // Asked with capacity 60: every window the sampler keeps, oldest first.
    let (code, out, _) = fake_run(lib, asmctl_path(), &["history", "100"], &[]);
    assert_eq!(code, 0);
    let rows: Vec<&str> = out.lines().skip(2).take_while(|l| !l.is_empty()).collect();
    assert_eq!(rows.len(), 60);
    assert!(
        rows[0].starts_with("    -59        5   0.5  4096000"),
        "{out}"
    );
    assert!(
        rows[59].starts_with("      0      300  30.0  4337664"),
        "{out}"
    );
    // Windows 50..=59: 51..=60 times 5 ms and 2 syscalls.
    assert!(
        out.ends_with("Last 10 windows:\n  CPU:           27.8%\n  Syscalls/s:    111.0\n"),
        "{out}"
    );

    let doc = fake_json(lib, &["history", "100", "--json"]);
    assert_eq!(doc["agent_id"], 100);
    assert_eq!(doc["window_ms"], 1000);
    assert_eq!(doc["throttled"], false);
    assert_eq!(doc["rss_peak_bytes"], 8192000);
    let windows = doc["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 60);
    assert_eq!(
        windows[59],
        json!({"start_ns": 1_059_000_000_000u64, "cpu_ns": 300_000_000,
               "rss_bytes": 4337664, "syscalls": 120, "io_ops": 3})
    );
    for key in ["cpu_ns", "syscalls", "io_ops", "rss_bytes"] {
        assert!(doc[key].is_u64(), "{key}: {doc}");
    }
    let doc = fake_json(lib, &["history", "102", "--json"]);
    assert_eq!(doc["windows"], json!([]));

    assert_eq!(
        fake_run(lib, asmctl_path(), &["history", "999"], &[]),
        failed("no agent with id 999")
    );
    assert_eq!(
        fake_run(lib, asmctl_path(), &["history", "999", "--json"], &[]),
        (
            1,
            "{\"error\":\"no agent with id 999\"}\n".into(),
            String::new()
        )
    );
}

#[test]
fn top_once_and_json() {
    let Some(lib) = fake_lib() else { return };
    // 999 and 5000.. are listed but gone: left out.
    assert_eq!(
        fake_run(lib, asmctl_path(), &["top", "--once"], &[]),
        ok("\
ID   NAME        STATE       CPU%   RSS  SYSCALLS/s  FAULTS  LLM_REQS  LLM_TOKENS  THROTTLED
100  fs_monitor  Active      30.0  3.9M         120       0         -           -  no
101  net_agent   Restarted  120.0   50M        1500       3        17        4242  yes
102  audio_ctrl  Exited         -    0B           -       0         -           -  no
")
    );
    // --json is one frame even without --once.
    let doc = fake_json(lib, &["top", "--json", "--once"]);
    assert_eq!(
        doc,
        json!([
            {"agent_id": 100, "name": "fs_monitor", "state": "Active",
             "cpu_percent": 30.0, "rss_bytes": 4096000, "syscalls_per_s": 120.0,
             "faults": 0, "llm_requests": null, "llm_tokens": null,
             "throttled": false},
            {"agent_id": 101, "name": "net_agent", "state": "Restarted",
             "cpu_percent": 120.0, "rss_bytes": 52428800, "syscalls_per_s": 1500.0,
             "faults": 3, "llm_requests": 17, "llm_tokens": 4242, "throttled": true},
            {"agent_id": 102, "name": "audio_ctrl", "state": "Exited",
             "cpu_percent": null, "rss_bytes": 0, "syscalls_per_s": null,
             "faults": 0, "llm_requests": null, "llm_tokens": null,
             "throttled": false}
        ])
    );
    expect_usage(
        fake_run(lib, asmctl_path(), &["top", "--interval", "0"], &[]),
        "invalid value '0' for '--interval <SECONDS>': expected 0.1 to 86400 seconds",
    );
}

/// Starts `asmctl top` with the stand-in and its stdout on a pipe.
fn spawn_top(lib: &Path, args: &[&str]) -> std::process::Child {
    Command::new(asmctl_path())
        .args(args)
        .env("LD_PRELOAD", lib)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits up to 10 s for `child` to exit by itself; kills it and fails if
/// it does not.
fn wait_exit(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("asmctl top did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn top_refreshes_without_escapes_on_a_pipe() {
    let Some(lib) = fake_lib() else { return };
    let mut child = spawn_top(lib, &["top", "--interval", "0.1"]);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut frames = Vec::new();
    let mut frame = String::new();
    // Three frames: at least two refreshes.
    while frames.len() < 3 {
        let Some(line) = lines.next() else {
            panic!("top exited early after {frames:?}")
        };
        let line = line.unwrap();
        if line.is_empty() && frame.contains("ID ") {
            frames.push(std::mem::take(&mut frame));
        } else {
            frame.push_str(&line);
            frame.push('\n');
        }
    }
    // Closing the pipe ends it, successfully, at its next refresh.
    drop(lines);
    assert!(wait_exit(&mut child).success());
    assert!(frames.iter().all(|f| !f.contains('\x1b')), "{frames:?}");
    assert!(
        frames[0].starts_with("Every 0.1 s; Ctrl-C quits.\n\nID   NAME "),
        "{frames:?}"
    );
    assert!(frames[0].contains("\n101  net_agent   Restarted  120.0"));
    assert_eq!(frames[1], frames[0]);
}

#[test]
fn limits_of_an_agent_and_the_defaults() {
    let Some(lib) = fake_lib() else { return };
    assert_eq!(
        fake_run(lib, asmctl_path(), &["limits", "100"], &[]),
        ok("\
Limits of agent 100:
LIMIT         SETTING                 EFFECTIVE
CPU Quota     default                 500 ms per window
Memory Limit  104857600 bytes (100M)  104857600 bytes (100M)
Syscall Rate  none                    none
Watchdog      default                 30000 ms
")
    );
    assert_eq!(
        fake_run(lib, asmctl_path(), &["limits", "--default"], &[]),
        ok("\
Default limits:
LIMIT         VALUE
CPU Quota     500 ms per window
Memory Limit  none
Syscall Rate  none
Watchdog      30000 ms
")
    );
    assert_eq!(
        fake_json(lib, &["limits", "100", "--json"]),
        json!({"agent_id": 100,
               "limits": {"cpu_quota_ms": "Default", "mem_limit_bytes": 104857600,
                          "syscall_rate": null, "watchdog_ms": "Default"},
               "effective": {"cpu_quota_ms": 500, "mem_limit_bytes": 104857600,
                             "syscall_rate": null, "watchdog_ms": 30000}})
    );
    assert_eq!(
        fake_json(lib, &["limits", "--default", "--json"]),
        json!({"agent_id": 0,
               "limits": {"cpu_quota_ms": 500, "mem_limit_bytes": null,
                          "syscall_rate": null, "watchdog_ms": 30000}})
    );
    assert_eq!(
        fake_run(lib, asmctl_path(), &["limits", "5"], &[]),
        failed("no agent with id 5")
    );
    assert_eq!(
        fake_run(lib, asmctl_path(), &["limits", "5", "--json"], &[]),
        (
            1,
            "{\"error\":\"no agent with id 5\"}\n".into(),
            String::new()
        )
    );
}

#[test]
fn limits_change_only_what_is_given() {
    let Some(lib) = fake_lib() else { return };
    let log_file = log_path("limits");
    let logged = [("FAKE_ASM_LOG", log_file.to_str().unwrap())];
    for args in [
        // 100 has cpu 0 (default), mem 100M, rate none, watchdog 0.
        &["limits", "100", "--mem", "2G"][..],
        &[
            "limits",
            "100",
            "--cpu-quota-ms=250",
            "--syscall-rate",
            "default",
        ],
        &["limits", "100", "--watchdog-ms", "none", "--mem", "none"],
        // The defaults: none is 0.
        &[
            "limits",
            "--default",
            "--cpu-quota-ms",
            "none",
            "--mem",
            "512K",
        ],
    ] {
        assert_eq!(
            fake_run(lib, asmctl_path(), args, &logged),
            ok(""),
            "{args:?}"
        );
    }
    assert_eq!(
        log(&log_file),
        "\
set_policy id=100 flags=1 cpu=0 mem=2147483648 rate=4294967295 watchdog=0 preset=0 actions=0,0,0,0,0,0
set_policy id=100 flags=1 cpu=250 mem=104857600 rate=0 watchdog=0 preset=0 actions=0,0,0,0,0,0
set_policy id=100 flags=1 cpu=0 mem=18446744073709551615 rate=4294967295 watchdog=4294967295 preset=0 actions=0,0,0,0,0,0
set_policy id=0 flags=1 cpu=0 mem=524288 rate=0 watchdog=30000 preset=0 actions=0,0,0,0,0,0
"
    );
}

#[test]
fn limits_errors() {
    let Some(lib) = fake_lib() else { return };
    let set = ["limits", "100", "--cpu-quota-ms", "100"];
    let set_defaults = ["limits", "--default", "--watchdog-ms", "1000"];
    for (args, errno, msg) in [
        (&set[..], libc::EPERM, "permission denied: the owner of agent 100 may only lower its limits; anything else needs CAP_SYS_ADMIN"),
        (&set_defaults, libc::EPERM, "permission denied: changing the default policy needs CAP_SYS_ADMIN"),
        (&set, libc::EINVAL, "the asm module rejected these limits"),
    ] {
        let errno = errno.to_string();
        assert_eq!(
            fake_run(lib, asmctl_path(), args, &[("FAKE_ASM_ERRNO", &errno)]),
            failed(msg),
            "{args:?}"
        );
    }
    assert_eq!(
        fake_run(lib, asmctl_path(), &["limits", "5", "--mem", "1M"], &[]),
        failed("no agent with id 5")
    );
    // Bad values never reach the device.
    let log_file = log_path("limits-errors");
    let logged = [("FAKE_ASM_LOG", log_file.to_str().unwrap())];
    for (args, msg) in [
        (
            &["limits", "100", "--mem", "12Q"][..],
            "invalid value '12Q' for '--mem <SIZE>': expected bytes, or a number with K, M or G",
        ),
        (
            &["limits", "100", "--cpu-quota-ms", "0"],
            "invalid value '0' for '--cpu-quota-ms <N>': use none for no limit, or default",
        ),
        (
            &["limits", "--default", "--syscall-rate", "default"],
            "--syscall-rate: 'default' applies to an agent only (give the defaults a value or none)",
        ),
        (&["limits", "--mem", "1G"], "the following required arguments were not provided:\n  <ID|--default>"),
    ] {
        expect_usage(fake_run(lib, asmctl_path(), args, &logged), msg);
    }
    assert_eq!(log(&log_file), "");
}

#[test]
fn recovery_of_an_agent_and_the_defaults() {
    let Some(lib) = fake_lib() else { return };
    assert_eq!(
        fake_run(lib, asmctl_path(), &["recovery", "101"], &[]),
        ok("\
Recovery actions of agent 101:
FAULT                 SETTING  EFFECTIVE
CPU Quota             default  throttle
Memory Limit          log      log
Syscall Flood         default  throttle
Crash                 kill     kill
Capability Violation  default  kill
Unresponsive          default  restart
")
    );
    assert_eq!(
        fake_run(lib, asmctl_path(), &["recovery", "--default"], &[]),
        ok("\
Default recovery actions:
FAULT                 ACTION
CPU Quota             throttle
Memory Limit          kill
Syscall Flood         throttle
Crash                 restart
Capability Violation  kill
Unresponsive          restart
")
    );
    assert_eq!(
        fake_json(lib, &["recovery", "100", "--json"]),
        json!({"agent_id": 100,
               "actions": {"cpu_quota": "Default", "memory": "Log",
                           "syscall_flood": "Default", "crash": "Default",
                           "capability_violation": "Default", "unresponsive": "Default"},
               "effective": {"cpu_quota": "Throttle", "memory": "Log",
                             "syscall_flood": "Throttle", "crash": "Restart",
                             "capability_violation": "Kill", "unresponsive": "Restart"}})
    );
    let doc = fake_json(lib, &["recovery", "--default", "--json"]);
    assert_eq!(doc["agent_id"], 0);
    assert_eq!(doc["actions"]["memory"], "Kill");
    assert!(doc.get("effective").is_none(), "{doc}");
}

#[test]
fn recovery_changes() {
    let Some(lib) = fake_lib() else { return };
    let log_file = log_path("recovery");
    let logged = [("FAKE_ASM_LOG", log_file.to_str().unwrap())];
    for args in [
        // 101 has memory log and crash kill of its own.
        &[
            "recovery",
            "101",
            "--crash",
            "restart",
            "--cpu-quota",
            "log",
        ][..],
        &["recovery", "101", "--memory", "default"],
        &["recovery", "100", "--preset", "permissive"],
        &[
            "recovery",
            "--default",
            "--unresponsive",
            "kill",
            "--syscall-flood",
            "log",
        ],
        &["recovery", "--default", "--preset=default"],
    ] {
        assert_eq!(
            fake_run(lib, asmctl_path(), args, &logged),
            ok(""),
            "{args:?}"
        );
    }
    assert_eq!(
        log(&log_file),
        "\
set_policy id=101 flags=2 cpu=0 mem=0 rate=0 watchdog=0 preset=0 actions=1,1,0,4,0,0
set_policy id=101 flags=2 cpu=0 mem=0 rate=0 watchdog=0 preset=0 actions=0,0,0,3,0,0
set_policy id=100 flags=2 cpu=0 mem=0 rate=0 watchdog=0 preset=2 actions=0,0,0,0,0,0
set_policy id=0 flags=2 cpu=0 mem=0 rate=0 watchdog=0 preset=0 actions=2,3,1,4,3,3
set_policy id=0 flags=2 cpu=0 mem=0 rate=0 watchdog=0 preset=1 actions=0,0,0,0,0,0
"
    );
}

#[test]
fn recovery_errors() {
    let Some(lib) = fake_lib() else { return };
    let eperm = libc::EPERM.to_string();
    assert_eq!(
        fake_run(
            lib,
            asmctl_path(),
            &["recovery", "100", "--preset", "strict"],
            &[("FAKE_ASM_ERRNO", &eperm)]
        ),
        failed("permission denied: changing the recovery actions of agent 100 needs CAP_SYS_ADMIN")
    );
    assert_eq!(
        fake_run(
            lib,
            asmctl_path(),
            &["recovery", "--default", "--crash", "log"],
            &[("FAKE_ASM_ERRNO", &eperm)]
        ),
        failed("permission denied: changing the default policy needs CAP_SYS_ADMIN")
    );
    for args in [
        &["recovery", "5"][..],
        &["recovery", "5", "--crash", "log"],
        &["recovery", "5", "--preset", "strict"],
    ] {
        assert_eq!(
            fake_run(lib, asmctl_path(), args, &[]),
            failed("no agent with id 5"),
            "{args:?}"
        );
    }
    let log_file = log_path("recovery-errors");
    let logged = [("FAKE_ASM_LOG", log_file.to_str().unwrap())];
    for (args, msg) in [
        (
            &["recovery", "100", "--memory", "throttle"][..],
            "invalid value 'throttle' for '--memory <A>': throttle applies to --cpu-quota and --syscall-flood only",
        ),
        (
            &["recovery", "100", "--preset", "strict", "--memory", "kill"],
            "the argument '--preset <PRESET>' cannot be used with",
        ),
        (
            &["recovery", "100", "--crash", "reboot"],
            "invalid value 'reboot' for '--crash <A>': known: log, throttle, kill, restart, default",
        ),
        (
            &["recovery", "--default", "--crash", "default"],
            "'default' applies to an agent only (the defaults need an action for every fault)",
        ),
    ] {
        expect_usage(fake_run(lib, asmctl_path(), args, &logged), msg);
    }
    assert_eq!(log(&log_file), "");
}

#[test]
fn heartbeat() {
    let Some(lib) = fake_lib() else { return };
    assert_eq!(
        fake_run(
            lib,
            asmctl_path(),
            &["heartbeat"],
            &[("FAKE_ASM_AGENT", "101")]
        ),
        ok("heartbeat: agent 101\n")
    );
    assert_eq!(
        fake_run(lib, asmctl_path(), &["heartbeat"], &[]),
        failed("this process does not belong to an agent")
    );
}
