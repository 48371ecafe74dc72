// SPDX-License-Identifier: GPL-2.0

//! End-to-end runs of the governance commands (policy, patch, audit,
//! oversight, decision, sensitive, deps, profile, compliance) and `llm` against `fake_asm.c`, the
//! stand-in for the module `fake.rs` also uses: the requests go through
//! the real `asm-sys` ioctls with the numbers and structs of the C header,
//! and what the stand-in received is checked in its log.
//!
//! The audit trail is a file of raw `struct asm_audit_entry` records that
//! the stand-in serves; the tests write it, hashed and chained with
//! `asm_abi` as the kernel does.
//!
//! Skipped with a note when the host has no `cc` to build the stand-in.

mod common;

use asm_abi::{
    AsmAuditEntry, ASM_AUDIT_LLM, ASM_AUDIT_PATCH, ASM_AUDIT_REGISTER, ASM_LLM_GEMINI,
    ASM_PATCH_SET_RISK,
};
use common::{asmctl_path, link, run_env, Ran};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Builds the stand-in once per test binary (under a name of its own, so
/// that `fake.rs` building it at the same time does not race with us);
/// `None` without `cc`.
fn fake_lib() -> Option<&'static Path> {
    static LIB: OnceLock<Option<PathBuf>> = OnceLock::new();
    LIB.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let lib = asm_testutil::tmpdir(env!("CARGO_TARGET_TMPDIR")).join("libfake_asm_audit.so");
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

/// A file in the test's scratch directory, removed first.
fn scratch(name: &str) -> PathBuf {
    let path = asm_testutil::tmpdir(env!("CARGO_TARGET_TMPDIR")).join(format!("fake-audit-{name}"));
    let _ = std::fs::remove_file(&path);
    path
}

/// Runs `program` with the stand-in loaded, in UTC, and `env` added.
fn fake_run(lib: &Path, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut all = vec![("LD_PRELOAD", lib.to_str().unwrap()), ("TZ", "UTC")];
    all.extend_from_slice(env);
    run_env(program, args, &all)
}

fn asmctl(lib: &Path, args: &[&str], env: &[(&str, &str)]) -> Ran {
    fake_run(lib, asmctl_path(), args, env)
}

fn ok(stdout: &str) -> Ran {
    (0, stdout.into(), String::new())
}

fn failed(stderr: &str) -> Ran {
    (1, String::new(), format!("Error: {stderr}\n"))
}

/// Writes `entries` where the stand-in serves them from, as raw structs.
fn write_entries(path: &Path, entries: &[AsmAuditEntry]) {
    let mut bytes = Vec::new();
    for e in entries {
        bytes.extend_from_slice(&e.hashed_bytes());
        bytes.extend_from_slice(&e.hash);
    }
    std::fs::write(path, bytes).unwrap();
}

/// Writes `n` entries from seq `first` of agent 100 (pid 4242), one a
/// second from 2025-11-26 13:26:34 UTC, chained as the kernel chains them
/// from `prev`, where the stand-in serves them; `fill` sets each entry's
/// kind and values. Returns the entries.
fn write_chain(
    path: &Path,
    first: u64,
    n: u64,
    mut prev: [u8; 32],
    fill: impl Fn(u64, &mut AsmAuditEntry),
) -> Vec<AsmAuditEntry> {
    let entries: Vec<AsmAuditEntry> = (first..first + n)
        .map(|seq| {
            let mut e = AsmAuditEntry::ZERO;
            e.seq = seq;
            e.time_ns = (1_764_163_594 + seq) * 1_000_000_000;
            e.agent_id = 100;
            e.pid = 4242;
            fill(seq, &mut e);
            e.prev_hash = prev;
            e.hash = e.compute_hash();
            prev = e.hash;
            e
        })
        .collect();
    write_entries(path, &entries);
    entries
}

/// Writes an LLM trail of `n` entries from seq 0: request 17 + seq of
/// agent 100, answered by gemini, but every third one timed out.
fn write_llm_trail(path: &Path, n: u64) -> Vec<AsmAuditEntry> {
    write_chain(path, 0, n, [0; 32], |seq, e| {
        e.kind = ASM_AUDIT_LLM;
        let id = 17 + seq;
        if seq % 3 == 2 {
            e.result = -libc::ETIMEDOUT;
            e.new_value = 30_000_000;
            e.set_detail(format!("request {id}: ETIMEDOUT").as_bytes())
                .unwrap();
        } else {
            e.op = ASM_LLM_GEMINI;
            (e.old_value, e.new_value) = (12, 2_400);
            e.set_detail(format!("request {id}: ok via gemini").as_bytes())
                .unwrap();
        }
    })
}

/// Writes a policy trail of `n` entries from seq `first`: a registration,
/// then risk patches.
fn write_trail(path: &Path, first: u64, n: u64) -> Vec<AsmAuditEntry> {
    let prev = [if first == 0 { 0 } else { 0x5a }; 32];
    write_chain(path, first, n, prev, |seq, e| {
        if seq == first {
            e.kind = ASM_AUDIT_REGISTER;
            e.new_value = 2;
            e.set_detail(b"fs_monitor").unwrap();
        } else {
            e.kind = ASM_AUDIT_PATCH;
            e.op = ASM_PATCH_SET_RISK;
            (e.old_value, e.new_value) = (2, 3);
        }
    })
}

#[test]
fn policy_of_an_agent() {
    let Some(lib) = fake_lib() else { return };
    // Agent 100 follows the default CPU quota (500 ms per window), has no
    // syscall rate limit and a memory limit of its own.
    let want = "\
Policy for Agent 100:
=====================
Capabilities:
  - FsBasic
  - FsExtended

Scope:
  Path: /tmp/ws/

Auto-Restart: Yes
Max Restarts: 3
Current Restarts: 0
Risk Level: Limited

Resource Limits:
  CPU Quota:     500000 μs
  Memory Limit:  104857600 bytes
  Syscall Rate:  unlimited
";
    assert_eq!(asmctl(lib, &["policy", "100"], &[]), ok(want));
    assert_eq!(fake_run(lib, &link("asmpolicy"), &["100"], &[]), ok(want));
    let (code, out, err) = asmctl(lib, &["policy", "101", "--json"], &[]);
    assert_eq!((code, err.as_str()), (0, ""));
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["risk_level"], "High");
    assert_eq!(doc["limits"]["syscall_rate"], 1000);
    assert_eq!(doc["limits"]["mem_limit_bytes"], serde_json::Value::Null);
    assert_eq!(
        asmctl(lib, &["policy", "999"], &[]),
        failed("no agent with id 999")
    );
}

#[test]
fn info_shows_the_risk_level() {
    let Some(lib) = fake_lib() else { return };
    let (code, out, _) = asmctl(lib, &["info", "101"], &[]);
    assert_eq!(code, 0);
    assert!(
        out.contains("\nRestart Count:   2\nRisk Level:      High\n"),
        "{out}"
    );
}

#[test]
fn compliance_report() {
    let Some(lib) = fake_lib() else { return };
    let trail = scratch("compliance.bin");
    write_trail(&trail, 0, 150);
    let want = |events: u64| {
        format!(
            "\
EU AI Act Compliance Report
===========================

Timestamp:          TIME
Total Agents:       3
Total Events:       {events}
Policy Violations:  2
System Compliance:  90.2%

Risk Level Distribution:
  Minimal:          1
  Limited:          1
  High:             1
  Unacceptable:     0

Agent Compliance Details:
-------------------------

Agent ID: 100
  Risk Level:       Limited
  Events Logged:    45
  Violations:       0
  Human Oversight:  2
  Compliance Score: 100%
  Status:           COMPLIANT
  LLM Requests:     0

Agent ID: 101
  Risk Level:       High
  Events Logged:    30
  Violations:       2
  Human Oversight:  1
  Compliance Score: 70.5%
  Status:           REVIEW_NEEDED
  LLM Requests:     17

Agent ID: 102
  Risk Level:       Minimal
  Events Logged:    4
  Violations:       0
  Human Oversight:  0
  Compliance Score: 100%
  Status:           COMPLIANT
  LLM Requests:     0
"
        )
    };
    // The timestamp is now; everything else is fixed.
    let run = |program: &Path, env: &[(&str, &str)]| {
        let (code, out, err) = fake_run(lib, program, &[], env);
        assert_eq!((code, err.as_str()), (0, ""));
        let line = out.lines().nth(3).unwrap().to_string();
        let secs: u64 = line
            .strip_prefix("Timestamp:")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(secs > 1_700_000_000, "{line}");
        out.replace(&line, "Timestamp:          TIME")
    };
    // Where the trail can be read, its length; else the agents' counts.
    assert_eq!(
        run(
            &link("compliance"),
            &[("FAKE_ASM_AUDIT", trail.to_str().unwrap())]
        ),
        want(150)
    );
    assert_eq!(run(&link("compliance"), &[]), want(79));

    let (code, out, err) = asmctl(lib, &["compliance", "--json"], &[]);
    assert_eq!((code, err.as_str()), (0, ""));
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["total_agents"], 3);
    assert_eq!(doc["system_score"], 902);
    assert_eq!(doc["agents"][1]["status"], "ReviewNeeded");
    assert_eq!(doc["agents"][1]["crashes"], 1);
    assert_eq!(doc["agents"][1]["llm_requests"], 17);
    assert_eq!(doc["risk_levels"]["minimal"], 1);

    // --min-score: a check on the system score (902), after the report,
    // which stays one document on stdout.
    let (code, out, err) = asmctl(lib, &["compliance", "--json", "--min-score", "903"], &[]);
    assert_eq!(
        (code, err.as_str()),
        (3, "asmctl: the system compliance score 902 is below 903\n")
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["system_score"],
        902
    );
    let (code, _, err) = asmctl(lib, &["compliance", "--min-score", "902"], &[]);
    assert_eq!((code, err.as_str()), (0, ""));
    let (code, _, err) = fake_run(lib, &link("compliance"), &["--min-score", "1000"], &[]);
    assert_eq!(code, 3, "{err}");
}

#[test]
fn patches() {
    let Some(lib) = fake_lib() else { return };
    let log = scratch("patch.log");
    let log_env = [("FAKE_ASM_LOG", log.to_str().unwrap())];
    assert_eq!(
        asmctl(lib, &["patch", "100", "add-cap", "NetClient"], &log_env),
        ok("agent 100: added NetClient (audit #42)\n")
    );
    assert_eq!(
        asmctl(lib, &["patch", "100", "scope", "/tmp/safe_zone/"], &log_env),
        ok("agent 100: scope set to /tmp/safe_zone/ (audit #42)\n")
    );
    assert_eq!(
        asmctl(lib, &["patch", "100", "risk", "high"], &log_env),
        ok("agent 100: risk level set to High (audit #42)\n")
    );
    // The limits not given go back as the agent has them (its own
    // settings: CPU quota default, syscall rate none, 100M memory).
    assert_eq!(
        asmctl(
            lib,
            &["patch", "100", "limits", "--watchdog-ms", "900"],
            &log_env
        ),
        ok("agent 100: limits set: watchdog 900 ms (audit #42)\n")
    );
    assert_eq!(
        asmctl(lib, &["patch", "100", "llm-rate", "3", "1"], &log_env),
        ok("agent 100: LLM rate set to burst 3, refill 1/s (audit #42)\n")
    );
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "\
patch id=100 op=1 value=4 cpu=0 rate=0 watchdog=0 mem=0 scope=
patch id=100 op=3 value=0 cpu=0 rate=0 watchdog=0 mem=0 scope=/tmp/safe_zone/
patch id=100 op=6 value=3 cpu=0 rate=0 watchdog=0 mem=0 scope=
patch id=100 op=5 value=0 cpu=0 rate=4294967295 watchdog=900 mem=104857600 scope=
patch id=100 op=7 burst=3 refill=1
"
    );
    // Raising the bucket is widening: the owner gets EPERM.
    assert_eq!(
        asmctl(
            lib,
            &["patch", "100", "llm-rate", "60", "20"],
            &[("FAKE_ASM_ERRNO", "1")]
        ),
        failed(
            "not permitted: widening a policy needs CAP_SYS_ADMIN from outside the agent; \
             its owner may only narrow it"
        )
    );
    // Out of bounds never reaches the kernel.
    let (code, out, err) = asmctl(lib, &["patch", "100", "llm-rate", "10001", "1"], &[]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.starts_with("error: invalid value '10001' for '<BURST>': 10001 is not in 1..=10000\n"),
        "{err}"
    );
    assert_eq!(
        asmctl(lib, &["patch", "100", "add-cap", "Admin"], &[]),
        failed("not permitted: Admin can never be granted by a patch; the attempt is audited")
    );
    assert_eq!(
        asmctl(
            lib,
            &["patch", "100", "auto-restart", "9"],
            &[("FAKE_ASM_ERRNO", "1")]
        ),
        failed(
            "not permitted: widening a policy needs CAP_SYS_ADMIN from outside the agent; \
             its owner may only narrow it"
        )
    );
    assert_eq!(
        asmctl(lib, &["patch", "999", "risk", "minimal"], &[]),
        failed("no agent with id 999")
    );
}

#[test]
fn register_with_a_risk_level() {
    let Some(lib) = fake_lib() else { return };
    let log = scratch("register.log");
    let log_env = [("FAKE_ASM_LOG", log.to_str().unwrap())];
    assert_eq!(
        asmctl(
            lib,
            &["register", "--pid", "42", "--name", "n", "--risk", "high"],
            &log_env
        ),
        ok("1000\n")
    );
    assert_eq!(
        asmctl(
            lib,
            &[
                "register",
                "--pid",
                "42",
                "--name",
                "n",
                "--risk",
                "unacceptable"
            ],
            &log_env
        ),
        failed("risk level Unacceptable is prohibited: agent not registered")
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains(" name=n scope= risk=high\n"), "{logged}");
    assert!(logged.contains(" risk=unacceptable\n"), "{logged}");
}

#[test]
fn audit_trail_listed_exported_and_verified() {
    let Some(lib) = fake_lib() else { return };
    let trail = scratch("trail.bin");
    write_trail(&trail, 40, 3);
    let env = [("FAKE_ASM_AUDIT", trail.to_str().unwrap())];
    assert_eq!(
        asmctl(lib, &["audit"], &env),
        ok("\
Audit trail: seq 40..42 kept, next seq 43, dropped: 40 (overflow), suppressed: 0 (rate limit)
SEQ  TIME                 KIND      AGENT  UID/PID  OP/RESULT    OLD->NEW         DETAIL
 40  2025-11-26 13:27:14  register    100  0/4242   -/ok         risk Limited     fs_monitor
 41  2025-11-26 13:27:15  patch       100  0/4242   set_risk/ok  Limited -> High  -
 42  2025-11-26 13:27:16  patch       100  0/4242   set_risk/ok  Limited -> High  -
")
    );
    // Times are local: two hours east of UTC (POSIX writes it UTC-2).
    let env_east = [env[0], ("TZ", "UTC-2")];
    let (code, out, _) = asmctl(lib, &["audit", "--from", "41"], &env_east);
    assert_eq!(code, 0);
    assert!(out.contains("\n 41  2025-11-26 15:27:15  patch "), "{out}");
    assert!(!out.contains(" 40  "), "{out}");

    let (code, out, err) = asmctl(lib, &["audit", "--json", "--from", "42"], &env);
    assert_eq!((code, err.as_str()), (0, ""));
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (doc["first_seq"].clone(), doc["dropped"].clone()),
        (40.into(), 40.into())
    );
    assert_eq!(doc["entries"].as_array().unwrap().len(), 1);
    assert_eq!(doc["entries"][0]["kind"], "Patch");

    assert_eq!(
        asmctl(lib, &["audit", "verify"], &env),
        ok("audit trail OK: 3 entries, seq 40..42\n")
    );
    let export = scratch("export.json");
    let export_arg = format!("--export={}", export.display());
    assert_eq!(
        asmctl(lib, &["audit", &export_arg], &env),
        ok(&format!(
            "exported 3 entries, seq 40..42 to {}\n",
            export.display()
        ))
    );
    let file = export.to_str().unwrap();
    assert_eq!(
        asmctl(lib, &["audit", "verify", file], &[]),
        ok("audit trail OK: 3 entries, seq 40..42\n")
    );
    // One edited field, in the file anyone could change.
    let text = std::fs::read_to_string(&export).unwrap();
    std::fs::write(
        &export,
        text.replacen("\"new_value\": 3", "\"new_value\": 1", 1),
    )
    .unwrap();
    assert_eq!(
        asmctl(lib, &["audit", "verify", file], &[]),
        (
            3,
            "audit trail BROKEN at seq 41: hash mismatch: the entry was edited\n".into(),
            String::new()
        )
    );
    assert_eq!(
        asmctl(lib, &["audit", "verify", "/nonexistent/x.json"], &[]),
        failed("cannot read /nonexistent/x.json: No such file or directory (os error 2)")
    );
    // Reading the trail needs CAP_SYS_ADMIN.
    assert_eq!(
        asmctl(lib, &["audit"], &[]),
        failed("not permitted: reading the audit trail needs CAP_SYS_ADMIN")
    );
}

#[test]
fn llm_trail_listed_and_verified() {
    let Some(lib) = fake_lib() else { return };
    let policy = scratch("policy-of-llm.bin");
    write_trail(&policy, 0, 2);
    let llm = scratch("llm-trail.bin");
    let mut entries = write_llm_trail(&llm, 3);
    let env = [
        ("FAKE_ASM_AUDIT", policy.to_str().unwrap()),
        ("FAKE_ASM_AUDIT_LLM", llm.to_str().unwrap()),
    ];
    assert_eq!(
        asmctl(lib, &["audit", "--trail", "llm"], &env),
        ok("\
LLM audit trail: seq 0..2 kept, next seq 3, dropped: 0 (overflow), suppressed: 0 (rate limit)
SEQ  TIME                 KIND         AGENT  UID/PID  OP/RESULT    OLD->NEW            DETAIL
  0  2025-11-26 13:26:34  llm_request    100  0/4242   gemini/ok    12 tokens, 2 ms     request 17: ok via gemini
  1  2025-11-26 13:26:35  llm_request    100  0/4242   gemini/ok    12 tokens, 2 ms     request 18: ok via gemini
  2  2025-11-26 13:26:36  llm_request    100  0/4242   -/ETIMEDOUT  0 tokens, 30000 ms  request 19: ETIMEDOUT
")
    );
    let (code, out, err) = asmctl(lib, &["audit", "--trail", "llm", "--json"], &env);
    assert_eq!((code, err.as_str()), (0, ""));
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["trail"], "Llm");
    assert_eq!(doc["entries"][2]["kind"], "LlmRequest");
    assert_eq!(doc["entries"][2]["result"], -libc::ETIMEDOUT);
    // Each trail verifies as its own chain, both from seq 0.
    assert_eq!(
        asmctl(lib, &["audit", "verify", "--trail", "llm"], &env),
        ok("LLM audit trail OK: 3 entries, seq 0..2\n")
    );
    assert_eq!(
        asmctl(lib, &["audit", "verify"], &env),
        ok("audit trail OK: 2 entries, seq 0..1\n")
    );
    // An export of the LLM trail verifies as a file too.
    let export = scratch("llm-export.json");
    let export_arg = format!("--export={}", export.display());
    assert_eq!(
        asmctl(lib, &["audit", "--trail", "llm", &export_arg], &env).0,
        0
    );
    assert_eq!(
        asmctl(lib, &["audit", "verify", export.to_str().unwrap()], &[]),
        ok("audit trail OK: 3 entries, seq 0..2\n")
    );
    // A token count changed after the kernel wrote it.
    entries[1].old_value = 1;
    write_entries(&llm, &entries);
    assert_eq!(
        asmctl(lib, &["audit", "verify", "--trail", "llm"], &env),
        (
            3,
            "LLM audit trail BROKEN at seq 1: hash mismatch: the entry was edited\n".into(),
            String::new()
        )
    );
    // The trail asked for is the one read: the policy one alone is there.
    assert_eq!(
        asmctl(lib, &["audit", "--trail", "llm"], &env[..1]),
        failed("not permitted: reading the audit trail needs CAP_SYS_ADMIN")
    );
}

/// `tools/examples/llm_request.py --submit N`, its SUBMIT and COLLECT
/// structs as the stand-in reads them; skipped without python3.
#[test]
fn python_example_submits_polls_and_collects() {
    let Some(lib) = fake_lib() else { return };
    let python = Path::new("/usr/bin/python3");
    if !python.exists() {
        return asm_testutil::skip(
            "python_example_submits_polls_and_collects",
            "no /usr/bin/python3",
        );
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/llm_request.py");
    let script = script.to_str().unwrap();
    let log = scratch("submit.log");
    let agent = [
        ("FAKE_ASM_LOG", log.to_str().unwrap()),
        ("FAKE_ASM_AGENT", "100"),
    ];
    assert_eq!(
        fake_run(lib, python, &[script, "--submit", "3", "hi"], &agent),
        ok("\
request 100: provider Local, result ok
request 101: provider Local, result ok
request 102: provider Local, result ok
")
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert_eq!(logged.lines().count(), 3, "{logged}");
    assert!(
        logged.starts_with("llm submit {\"agent_id\": 0, \"prompt\": \"hi (1)\""),
        "{logged}"
    );
    // A refused submission and a request that timed out: both reported,
    // exit status 1.
    let burst = [agent[1], ("FAKE_ASM_LLM_BURST", "2")];
    assert_eq!(
        fake_run(lib, python, &[script, "--submit", "3", "mock:hang"], &burst),
        (
            1,
            "\
submit 3: EAGAIN, not queued
request 100: provider none, result ETIMEDOUT
request 101: provider none, result ETIMEDOUT
"
            .into(),
            String::new()
        )
    );
}

#[test]
fn oversight_and_decisions() {
    let Some(lib) = fake_lib() else { return };
    let log = scratch("notes.log");
    let log_env = [("FAKE_ASM_LOG", log.to_str().unwrap())];
    assert_eq!(
        asmctl(
            lib,
            &["oversight", "101", "review", "--note", "checked its output"],
            &log_env
        ),
        ok("agent 101: reviewed (audit #43)\n")
    );
    assert_eq!(
        asmctl(lib, &["oversight", "101", "stop"], &log_env),
        ok("agent 101: stopped (audit #43)\n")
    );
    let agent = [log_env[0], ("FAKE_ASM_AGENT", "100")];
    assert_eq!(
        asmctl(lib, &["decision", "chose", "plan", "B"], &agent),
        ok("agent 100: decision recorded (audit #44)\n")
    );
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "\
oversight id=101 kind=1 text=checked its output
oversight id=101 kind=4 text=
decision id=100 kind=0 text=chose plan B
"
    );
    assert_eq!(
        asmctl(lib, &["decision", "x"], &[]),
        failed("this process does not belong to an agent")
    );
    assert_eq!(
        asmctl(
            lib,
            &["oversight", "100", "approve"],
            &[("FAKE_ASM_ERRNO", "1")]
        ),
        failed(
            "not permitted: human oversight needs CAP_SYS_ADMIN, from a process outside the agent"
        )
    );
    assert_eq!(
        asmctl(lib, &["oversight", "999", "approve"], &[]),
        failed("no agent with id 999")
    );
}

#[test]
fn sensitive_paths() {
    let Some(lib) = fake_lib() else { return };
    assert_eq!(
        asmctl(lib, &["sensitive"], &[]),
        ok("Sensitive paths (2 of 8):\n  /etc/shadow\n  /srv/keys\n")
    );
    assert_eq!(
        asmctl(lib, &["sensitive", "list", "--json", "--pretty"], &[]),
        ok("{\n  \"max\": 8,\n  \"paths\": [\n    \"/etc/shadow\",\n    \"/srv/keys\"\n  ]\n}\n")
    );
    let log = scratch("sensitive.log");
    let log_env = [("FAKE_ASM_LOG", log.to_str().unwrap())];
    assert_eq!(
        asmctl(lib, &["sensitive", "add", "/srv/db"], &log_env),
        ok("/srv/db: marked sensitive (3 of 8 paths marked)\n")
    );
    assert_eq!(
        asmctl(lib, &["sensitive", "remove", "/srv/keys"], &log_env),
        ok("/srv/keys: no longer sensitive (1 of 8 paths marked)\n")
    );
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "sensitive op=1 path=/srv/db\nsensitive op=2 path=/srv/keys\n"
    );
    for (errno, want) in [
        ("17", "/srv/db is already marked sensitive"),
        ("28", "no room: at most 8 paths can be marked sensitive"),
        (
            "1",
            "not permitted: changing the sensitive paths needs CAP_SYS_ADMIN",
        ),
    ] {
        assert_eq!(
            asmctl(
                lib,
                &["sensitive", "add", "/srv/db"],
                &[("FAKE_ASM_ERRNO", errno)]
            ),
            failed(want),
            "{errno}"
        );
    }
    assert_eq!(
        asmctl(
            lib,
            &["sensitive", "remove", "/x"],
            &[("FAKE_ASM_ERRNO", "2")]
        ),
        failed("/x is not marked sensitive")
    );
}

#[test]
fn dependency_graph_views() {
    let Some(lib) = fake_lib() else { return };
    assert_eq!(
        asmctl(lib, &["deps"], &[]),
        ok("101 -> 100 (required)\n102 -> 101 (optional, SIGUSR1)\n")
    );
    assert_eq!(
        asmctl(lib, &["deps", "list"], &[]),
        asmctl(lib, &["deps"], &[])
    );
    assert_eq!(
        asmctl(lib, &["deps", "102"], &[]),
        ok("agent 102\n\
            └─ 101 (optional, SIGUSR1)\n\
            \x20  └─ 100 (required)\n\
            dependents: none\n\
            stops with: none\n")
    );
    assert_eq!(
        asmctl(lib, &["deps", "100"], &[]),
        ok("agent 100: no dependencies\n\
            dependents: 101 (required)\n\
            stops with: 101\n")
    );
    let edges = r#"[
    {
      "dependency": 100,
      "dependent": 101,
      "kind": "Required",
      "signal": null
    },
    {
      "dependency": 101,
      "dependent": 102,
      "kind": "Optional",
      "signal": 10
    }
  ]"#;
    assert_eq!(
        asmctl(lib, &["deps", "--json", "--pretty"], &[]),
        ok(&format!("{{\n  \"edges\": {edges}\n}}\n"))
    );
    let (code, out, _) = asmctl(lib, &["deps", "101", "--json"], &[]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        doc,
        serde_json::json!({
            "agent": 101,
            "dependencies": [100],
            "dependents": [102],
            "chain": [100],
            "cascade": [],
            "edges": serde_json::from_str::<serde_json::Value>(edges).unwrap(),
        })
    );
    assert_eq!(
        asmctl(lib, &["deps", "999"], &[]),
        failed("no agent with id 999")
    );
    // More edges than asmctl's first buffer: it asks again with more room.
    let (code, out, _) = asmctl(lib, &["deps"], &[("FAKE_ASM_DEPS_EXTRA", "100")]);
    assert_eq!((code, out.lines().count()), (0, 102));
    assert!(out.ends_with("\n5099 -> 100 (peer)\n"), "{out}");
    let (_, out, _) = asmctl(lib, &["deps", "100"], &[("FAKE_ASM_DEPS_EXTRA", "100")]);
    assert!(out.ends_with("5099 (peer)\nstops with: 101\n"), "{out}");

    // asminfo's lines; none from a module without the graph.
    let (code, out, _) = fake_run(lib, &link("asminfo"), &["101"], &[]);
    assert_eq!(code, 0);
    assert!(
        out.contains(
            "\nRisk Level:      High\nDependencies:    100 (required)\n\
             Dependents:      102 (optional, SIGUSR1)\n\nTelemetry:\n"
        ),
        "{out}"
    );
    let (code, out, _) = fake_run(
        lib,
        &link("asminfo"),
        &["101"],
        &[("FAKE_ASM_NO_DEPS", "1")],
    );
    assert_eq!(code, 0);
    assert!(
        out.contains("\nRisk Level:      High\n\nTelemetry:\n"),
        "{out}"
    );
    assert_eq!(
        asmctl(lib, &["deps"], &[("FAKE_ASM_NO_DEPS", "1")]),
        failed("/dev/asm does not know this request: asmctl and the asm module differ in version")
    );
}

#[test]
fn dependency_changes() {
    let Some(lib) = fake_lib() else { return };
    let log = scratch("deps.log");
    let log_env = [("FAKE_ASM_LOG", log.to_str().unwrap())];
    assert_eq!(
        asmctl(
            lib,
            &["deps", "add", "102", "100", "--kind", "optional"],
            &log_env
        ),
        ok("agent 102: optional dependency on agent 100 added (audit #45)\n")
    );
    assert_eq!(
        asmctl(
            lib,
            &["deps", "add", "102", "100", "--json", "--pretty"],
            &log_env
        ),
        ok(
            "{\n  \"audit_seq\": 45,\n  \"dependency\": 100,\n  \"dependent\": 102,\n  \
            \"kind\": \"Required\",\n  \"op\": \"Add\",\n  \"signal\": null\n}\n"
        )
    );
    assert_eq!(
        asmctl(
            lib,
            &["deps", "add", "102", "100", "--kind", "optional", "--signal", "usr2"],
            &log_env
        ),
        ok("agent 102: optional dependency on agent 100 added, SIGUSR2 when it ends (audit #45)\n")
    );
    assert_eq!(
        asmctl(
            lib,
            &[
                "deps",
                "add",
                "102",
                "100",
                "--kind=optional",
                "--signal=1",
                "--json",
                "--pretty"
            ],
            &log_env
        ),
        ok(
            "{\n  \"audit_seq\": 45,\n  \"dependency\": 100,\n  \"dependent\": 102,\n  \
            \"kind\": \"Optional\",\n  \"op\": \"Add\",\n  \"signal\": 1\n}\n"
        )
    );
    // Refused before the request: the log has no line of it.
    let (code, out, err) = asmctl(
        lib,
        &[
            "deps", "add", "102", "100", "--kind", "optional", "--signal", "KILL",
        ],
        &log_env,
    );
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(
        err.starts_with("error: invalid value 'KILL' for '--signal <SIG>': "),
        "{err}"
    );
    assert_eq!(
        asmctl(lib, &["deps", "remove", "101", "100"], &log_env),
        ok("agent 101: dependency on agent 100 removed (audit #46)\n")
    );
    assert_eq!(
        asmctl(
            lib,
            &["deps", "remove", "101", "100", "--pretty", "--json"],
            &log_env
        ),
        ok(
            "{\n  \"audit_seq\": 46,\n  \"dependency\": 100,\n  \"dependent\": 101,\n  \
            \"op\": \"Remove\"\n}\n"
        )
    );
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "deps op=1 dependent=102 dependency=100 kind=2 signal=0\n\
         deps op=1 dependent=102 dependency=100 kind=1 signal=0\n\
         deps op=1 dependent=102 dependency=100 kind=2 signal=12\n\
         deps op=1 dependent=102 dependency=100 kind=2 signal=1\n\
         deps op=2 dependent=101 dependency=100 kind=0 signal=0\n\
         deps op=2 dependent=101 dependency=100 kind=0 signal=0\n"
    );
    // The stand-in's rules: 100 <- 101 <- 102 already.
    for (args, want) in [
        (
            &["deps", "add", "100", "102"][..],
            "adding 100 -> 102 would close a cycle: 102 already depends on 100, directly or not",
        ),
        (
            &["deps", "add", "100", "101", "--kind", "peer"],
            "agents 100 and 101 already have an edge (in one direction or the other)",
        ),
        (&["deps", "add", "101", "999"], "no agent with id 999"),
        (&["deps", "remove", "999", "100"], "no agent with id 999"),
        (
            &["deps", "remove", "102", "100"],
            "agent 102 does not depend on agent 100",
        ),
    ] {
        assert_eq!(asmctl(lib, args, &[]), failed(want), "{args:?}");
    }
    for (args, errno, want) in [
        (
            &["deps", "add", "102", "100"][..],
            "1",
            "not permitted: adding a dependency needs the right to narrow the policy of both \
             agents (their owner, or CAP_SYS_ADMIN), from a process in no agent",
        ),
        (
            &["deps", "remove", "101", "100"],
            "1",
            "not permitted: removing a dependency needs CAP_SYS_ADMIN, from a process in no agent",
        ),
        (
            &["deps", "add", "102", "100"],
            "28",
            "no room: the asm module keeps at most 1024 dependency edges, of which users \
             without CAP_SYS_ADMIN add three quarters",
        ),
        // A module from before edge signals refuses the field.
        (
            &[
                "deps", "add", "102", "100", "--kind", "optional", "--signal", "USR1",
            ],
            "22",
            "the asm module refused the edge's signal (SIGUSR1): it may be from before \
             dependency signals",
        ),
    ] {
        assert_eq!(
            asmctl(lib, args, &[("FAKE_ASM_ERRNO", errno)]),
            failed(want),
            "{args:?}"
        );
    }
    // With --json the error is a document on stdout.
    assert_eq!(
        asmctl(lib, &["deps", "add", "100", "102", "--json"], &[]),
        (
            1,
            "{\"error\":\"adding 100 -> 102 would close a cycle: 102 already depends on 100, \
             directly or not\"}\n"
                .into(),
            String::new()
        )
    );
}

const AGENT_100_OPS: &str = "\
OP        SAMPLES    OK%     MIN     AVG     P50     P95     P99     MAX
llm:call        1    0.0   2.50s   2.50s   2.50s   2.50s   2.50s   2.50s
db.query     1000   99.9   800µs  3.20ms  1.20ms  30.5ms  45.0ms  45.0ms
fetch          40   95.0  2.00ms  6.51ms  5.00ms  12.0ms  15.0ms  15.0ms
parse          40  100.0   120µs   311µs   250µs   950µs   990µs   990µs
";

#[test]
fn profile_views() {
    let Some(lib) = fake_lib() else { return };
    // Every agent asmctl can see: 102 has no operation, the rest of the
    // list is gone (ESRCH).
    assert_eq!(
        asmctl(lib, &["profile"], &[]),
        ok("\
AGENT  OP        SAMPLES    OK%     MIN     AVG     P50     P95     P99     MAX
100    llm:call        1    0.0   2.50s   2.50s   2.50s   2.50s   2.50s   2.50s
100    db.query     1000   99.9   800µs  3.20ms  1.20ms  30.5ms  45.0ms  45.0ms
100    fetch          40   95.0  2.00ms  6.51ms  5.00ms  12.0ms  15.0ms  15.0ms
100    parse          40  100.0   120µs   311µs   250µs   950µs   990µs   990µs
101    fetch          10   50.0  1.00ms  5.50ms  5.00ms  10.0ms  10.0ms  10.0ms
")
    );
    assert_eq!(asmctl(lib, &["profile", "100"], &[]), ok(AGENT_100_OPS));
    assert_eq!(
        asmctl(lib, &["profile", "100", "db.query"], &[]),
        ok("\
Agent:         100
Operation:     db.query
Samples:       1000
Kept:          100
Succeeded:     999 (99.9%)
Min:           800µs
Max:           45.0ms
Avg:           3.20ms
Median (p50):  1.20ms
p95:           30.5ms
p99:           45.0ms
")
    );
    assert_eq!(
        asmctl(lib, &["profile", "--all", "fetch"], &[]),
        ok("\
Agents:        every agent you can see
Operation:     fetch
Samples:       50
Kept:          50
Succeeded:     43 (86.0%)
Min:           1.00ms
Max:           15.0ms
Avg:           6.31ms
Median (p50):  5.00ms
p95:           12.0ms
p99:           15.0ms
")
    );
    assert_eq!(
        asmctl(lib, &["profile", "102"], &[]),
        ok("agent 102 has no profiled operations\n")
    );

    // --json: the same figures, durations in ns.
    let json = |args: &[&str]| {
        let (code, out, err) = asmctl(lib, args, &[]);
        assert_eq!((code, err.as_str()), (0, ""), "{args:?}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()
    };
    let db_query = serde_json::json!({
        "agent": 100, "op": "db.query", "total": 1000, "successes": 999,
        "success_rate": 0.999, "kept": 100, "min_ns": 800_000, "max_ns": 45_000_000,
        "avg_ns": 3_200_000, "p50_ns": 1_200_000, "p95_ns": 30_500_000, "p99_ns": 45_000_000,
    });
    assert_eq!(json(&["profile", "100", "db.query", "--json"]), db_query);
    let agent = json(&["profile", "100", "--json"]);
    let names: Vec<&str> = agent
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["op"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["llm:call", "db.query", "fetch", "parse"]);
    assert_eq!(agent[1], db_query);
    let all = json(&["profile", "--json"]);
    assert_eq!(all.as_array().unwrap().len(), 5);
    assert_eq!(all[1], db_query);
    assert_eq!(
        (&all[4]["agent"], &all[4]["op"]),
        (&101.into(), &"fetch".into())
    );
    assert_eq!(
        json(&["profile", "--all", "fetch", "--json"]),
        serde_json::json!({
            "agent": null, "op": "fetch", "total": 50, "successes": 43,
            "success_rate": 0.86, "kept": 50, "min_ns": 1_000_000, "max_ns": 15_000_000,
            "avg_ns": 6_309_876, "p50_ns": 5_000_000, "p95_ns": 12_000_000,
            "p99_ns": 15_000_000,
        })
    );
    assert_eq!(asmctl(lib, &["profile", "102", "--json"], &[]), ok("[]\n"));

    for (args, want) in [
        (&["profile", "999"][..], "no agent with id 999"),
        (&["profile", "999", "fetch"], "no agent with id 999"),
        (
            &["profile", "100", "nope"],
            "agent 100 has no operation nope",
        ),
        (
            &["profile", "102", "fetch"],
            "agent 102 has no operation fetch",
        ),
        (
            &["profile", "--all", "nope"],
            "no agent you can see has an operation nope",
        ),
    ] {
        assert_eq!(asmctl(lib, args, &[]), failed(want), "{args:?}");
    }
    assert_eq!(
        asmctl(lib, &["profile", "100", "nope", "--json"], &[]),
        (
            1,
            "{\"error\":\"agent 100 has no operation nope\"}\n".into(),
            String::new()
        )
    );

    // asminfo's three slowest; none for an agent without operations, nor
    // from a module without profiling.
    let (code, out, _) = fake_run(lib, &link("asminfo"), &["100"], &[]);
    assert_eq!(code, 0);
    assert!(
        out.ends_with(
            "\nLast Activity:   5 seconds ago\n\nSlowest Operations:\n\
             \x20 llm:call  p95 2.50s   p99 2.50s   (1 sample)\n\
             \x20 db.query  p95 30.5ms  p99 45.0ms  (1000 samples)\n\
             \x20 fetch     p95 12.0ms  p99 15.0ms  (40 samples)\n"
        ),
        "{out}"
    );
    let no_profile = [("FAKE_ASM_NO_PROFILE", "1")];
    let (code, out, _) = fake_run(lib, &link("asminfo"), &["100"], &no_profile);
    assert_eq!(code, 0);
    assert!(out.ends_with("\nLast Activity:   5 seconds ago\n"), "{out}");
    let (code, out, _) = fake_run(lib, &link("asminfo"), &["102"], &[]);
    assert_eq!(code, 0);
    assert!(!out.contains("Slowest"), "{out}");
    assert_eq!(
        asmctl(lib, &["profile"], &no_profile),
        failed("/dev/asm does not know this request: asmctl and the asm module differ in version")
    );
}

#[test]
fn profile_samples() {
    let Some(lib) = fake_lib() else { return };
    let log = scratch("profile.log");
    let log_path = log.to_str().unwrap();
    let agent = [("FAKE_ASM_AGENT", "7701"), ("FAKE_ASM_LOG", log_path)];
    // record: silent; --failed records a failure.
    assert_eq!(
        asmctl(lib, &["profile", "record", "step", "1.5ms"], &agent),
        ok("")
    );
    assert_eq!(
        asmctl(
            lib,
            &["profile", "record", "--failed", "llm:call", "2s"],
            &agent
        ),
        ok("")
    );
    // time: the command's output and status are its own; the sample's
    // success is whether it exited 0.
    assert_eq!(
        asmctl(
            lib,
            &[
                "profile",
                "time",
                "nap",
                "--",
                "sh",
                "-c",
                "echo hi; exit 3"
            ],
            &agent
        ),
        (3, "hi\n".into(), String::new())
    );
    assert_eq!(
        asmctl(lib, &["profile", "time", "nap", "true"], &agent),
        ok("")
    );
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "profile record agent=7701 op=step duration=1500000 success=1\n\
         profile record agent=7701 op=llm:call duration=2000000000 success=0\n\
         profile begin agent=7701\n\
         profile end agent=7701 op=nap success=0\n\
         profile begin agent=7701\n\
         profile end agent=7701 op=nap success=1\n"
    );

    // Outside an agent: refused, and the command does not run.
    let esrch = "the caller is not a process of an agent: only an agent's processes record \
                 its operations";
    assert_eq!(
        asmctl(lib, &["profile", "record", "step", "1ms"], &[]),
        failed(esrch)
    );
    let marker = scratch("profile-marker");
    let marker_arg = marker.to_str().unwrap();
    assert_eq!(
        asmctl(
            lib,
            &["profile", "time", "x", "--", "touch", marker_arg],
            &[]
        ),
        failed(esrch)
    );
    assert!(!marker.exists(), "the command ran outside an agent");

    // The 33rd name: the message, and the command's status if it failed.
    let full = [("FAKE_ASM_AGENT", "7701"), ("FAKE_ASM_ERRNO", "28")];
    let enospc = "no room: the agent has 32 operation names already, and new is not one of \
                  them (those keep recording)";
    assert_eq!(
        asmctl(lib, &["profile", "record", "new", "1ms"], &full),
        failed(enospc)
    );
    assert_eq!(
        asmctl(lib, &["profile", "time", "new", "--", "true"], &full),
        failed(enospc)
    );
    assert_eq!(
        asmctl(
            lib,
            &["profile", "time", "new", "--", "sh", "-c", "exit 4"],
            &full
        ),
        (4, String::new(), format!("Error: {enospc}\n"))
    );
    // A command that cannot run: 127, as a shell says, and no sample.
    let (code, out, err) = asmctl(
        lib,
        &["profile", "time", "x", "--", "/nonexistent/cmd"],
        &[("FAKE_ASM_AGENT", "7701")],
    );
    assert_eq!((code, out.as_str()), (127, ""));
    assert_eq!(
        err,
        "Error: cannot run '/nonexistent/cmd': No such file or directory\n"
    );
    // A bad name or duration never reaches the module: exit status 2.
    let (code, _, err) = asmctl(lib, &["profile", "record", "a b", "1ms"], &agent);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = asmctl(lib, &["profile", "record", "step", "1h"], &agent);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn llm_requests() {
    let Some(lib) = fake_lib() else { return };
    let log = scratch("llm.log");
    let agent = [
        ("FAKE_ASM_LOG", log.to_str().unwrap()),
        ("FAKE_ASM_AGENT", "100"),
    ];
    let response = r#"{"provider":"Gemini","text":"fake says \"4\"\nbye","tokens_used":12,"duration_us":1234567,"was_fallback":true}"#;
    assert_eq!(
        asmctl(lib, &["llm", "what", "is", "2+2?"], &agent),
        (
            0,
            "fake says \"4\"\nbye\n".into(),
            "(provider gemini, 12 tokens, 1235 ms, fallback)\n".into()
        )
    );
    assert_eq!(
        asmctl(
            lib,
            &[
                "llm",
                "--json",
                "--provider",
                "claude",
                "--temperature",
                "0.25",
                "--max-tokens",
                "64",
                "--timeout-ms",
                "5000",
                "--system",
                "be \"brief\"",
                "--",
                "-a\tb"
            ],
            &agent
        ),
        ok(&format!("{response}\n"))
    );
    // The documents asmctl built, with a 64 KiB response buffer.
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        r#"llm response_len=65536 {"prompt":"what is 2+2?"}
llm response_len=65536 {"max_tokens":64,"preferred_provider":"Claude","prompt":"-a\tb","system_message":"be \"brief\"","temperature":0.25,"timeout_ms":5000}
"#
    );
    assert_eq!(
        asmctl(lib, &["llm", "hi"], &[]),
        failed(
            "not allowed: this process is not in an agent with LlmAccess (or the agent id is not yours)"
        )
    );
    for (errno, msg) in [
        (
            libc::EAGAIN,
            "rate limited: the agent's token bucket is empty; retry later",
        ),
        (
            libc::ENOTCONN,
            "no gateway helper is running (start asm-gateway)",
        ),
        (
            libc::ETIMEDOUT,
            "timed out: no answer within 30000 ms (--timeout-ms sets the limit)",
        ),
        (
            libc::EIO,
            "every provider failed (or the gateway helper answered malformed text or went away)",
        ),
    ] {
        let errno = errno.to_string();
        let env = [agent[1], ("FAKE_ASM_ERRNO", errno.as_str())];
        assert_eq!(asmctl(lib, &["llm", "hi"], &env), failed(msg), "{errno}");
    }
    let etimedout = libc::ETIMEDOUT.to_string();
    let env = [agent[1], ("FAKE_ASM_ERRNO", etimedout.as_str())];
    assert_eq!(
        asmctl(lib, &["llm", "hi", "--timeout-ms", "250"], &env),
        failed("timed out: no answer within 250 ms (--timeout-ms sets the limit)")
    );
    let env = [agent[1], ("FAKE_ASM_LLM_NEED", "70000")];
    assert_eq!(
        asmctl(lib, &["llm", "hi"], &env),
        failed(
            "the answer did not fit: it needed 70000 bytes, the response buffer holds 65536 (the answer is lost)"
        )
    );
    // With --json the error is a document on stdout.
    let eagain = libc::EAGAIN.to_string();
    let env = [agent[1], ("FAKE_ASM_ERRNO", eagain.as_str())];
    assert_eq!(
        asmctl(lib, &["llm", "--json", "hi"], &env),
        (
            1,
            "{\"error\":\"rate limited: the agent's token bucket is empty; retry later\"}\n".into(),
            String::new()
        )
    );
}
