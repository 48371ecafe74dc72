// SPDX-License-Identifier: GPL-2.0

//! Checks the Rust mirror against the C header it mirrors.
//!
//! `layout.c` is compiled with the host's `cc` against
//! `include/uapi/linux/asm.h` and prints one line per struct size, field
//! offset, array length and constant; this test builds the same lines from the Rust
//! definitions and requires the two sets to be equal, so a field added,
//! moved or resized on either side fails here.

use asm_abi::*;
use core::mem::{offset_of, size_of};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// The lines `layout.c` should print, keyed by everything but the value.
fn rust_lines() -> BTreeMap<String, String> {
    let mut lines = BTreeMap::new();
    let mut put = |key: String, value: String| {
        assert!(lines.insert(key.clone(), value).is_none(), "{key} twice");
    };
    macro_rules! size {
        ($t:ty, $c:literal) => {
            put(format!("size {}", $c), size_of::<$t>().to_string())
        };
    }
    macro_rules! off {
        ($t:ty, $c:literal, $($f:ident),+) => {
            $(put(
                format!("offset {}.{}", $c, stringify!($f)),
                offset_of!($t, $f).to_string(),
            );)+
        };
    }
    macro_rules! consts {
        ($($c:ident),+) => {
            $(put(format!("const {}", stringify!($c)), u64::from($c).to_string());)+
        };
    }

    size!(AsmRegister, "asm_register");
    off!(
        AsmRegister,
        "asm_register",
        size,
        version,
        agent_id,
        target,
        pid,
        cgroup_fd,
        capabilities,
        auto_restart,
        flags,
        name,
        scope,
        risk_level,
        reserved0,
        reserved
    );
    size!(AsmUnregister, "asm_unregister");
    off!(
        AsmUnregister,
        "asm_unregister",
        size,
        version,
        agent_id,
        flags,
        reserved
    );
    size!(AsmList, "asm_list");
    off!(AsmList, "asm_list", size, version, ids, capacity, count, reserved);
    size!(AsmAgentInfo, "asm_agent_info");
    off!(
        AsmAgentInfo,
        "asm_agent_info",
        size,
        version,
        agent_id,
        state,
        pid,
        owner_uid,
        nr_processes,
        auto_restart,
        restart_count,
        risk_level,
        capabilities,
        spawns,
        exits,
        crashes,
        faults,
        execs,
        cpu_us,
        mem_bytes,
        last_exit_code,
        registered_ns,
        last_activity_ns,
        name,
        scope,
        reserved
    );
    size!(AsmJson, "asm_json");
    off!(AsmJson, "asm_json", size, version, agent_id, len, buf, reserved);
    size!(AsmFaultPolicy, "asm_fault_policy");
    off!(
        AsmFaultPolicy,
        "asm_fault_policy",
        size,
        version,
        agent_id,
        flags,
        cpu_quota_ms,
        syscall_rate,
        watchdog_ms,
        preset,
        mem_limit_bytes,
        actions,
        reserved
    );
    size!(AsmHeartbeat, "asm_heartbeat");
    off!(
        AsmHeartbeat,
        "asm_heartbeat",
        size,
        version,
        agent_id,
        flags,
        reserved
    );
    size!(AsmWindow, "asm_window");
    off!(
        AsmWindow,
        "asm_window",
        start_ns,
        cpu_ns,
        rss_bytes,
        syscalls,
        io_ops
    );
    size!(AsmHistory, "asm_history");
    off!(
        AsmHistory,
        "asm_history",
        size,
        version,
        agent_id,
        count,
        windows,
        capacity,
        window_ms,
        cpu_ns,
        syscalls,
        io_ops,
        rss_bytes,
        rss_peak_bytes,
        throttled,
        reserved0,
        reserved
    );
    size!(AsmPatch, "asm_patch");
    off!(
        AsmPatch,
        "asm_patch",
        size,
        version,
        agent_id,
        op,
        value,
        cpu_quota_ms,
        syscall_rate,
        watchdog_ms,
        reserved0,
        mem_limit_bytes,
        scope,
        audit_seq,
        llm_burst,
        llm_refill,
        reserved
    );
    size!(AsmAuditEntry, "asm_audit_entry");
    off!(
        AsmAuditEntry,
        "asm_audit_entry",
        seq,
        time_ns,
        kind,
        op,
        agent_id,
        uid,
        pid,
        result,
        old_value,
        new_value,
        detail,
        prev_hash,
        hash
    );
    size!(AsmAuditRead, "asm_audit_read");
    off!(
        AsmAuditRead,
        "asm_audit_read",
        size,
        version,
        from_seq,
        entries,
        capacity,
        count,
        first_seq,
        next_seq,
        dropped,
        suppressed,
        trail,
        reserved0
    );
    size!(AsmCompliance, "asm_compliance");
    off!(
        AsmCompliance,
        "asm_compliance",
        size,
        version,
        agent_id,
        risk_level,
        events,
        violations,
        oversight,
        decisions,
        sensitive,
        clean_exits,
        crashes,
        score,
        status,
        llm_requests,
        reserved
    );
    size!(AsmNote, "asm_note");
    off!(AsmNote, "asm_note", size, version, agent_id, kind, text, audit_seq, reserved);
    size!(AsmSensitive, "asm_sensitive");
    off!(
        AsmSensitive,
        "asm_sensitive",
        size,
        version,
        op,
        index,
        count,
        reserved0,
        path,
        reserved
    );
    size!(AsmLlmRequest, "asm_llm_request");
    off!(
        AsmLlmRequest,
        "asm_llm_request",
        size,
        version,
        request,
        response,
        request_len,
        response_len,
        flags,
        written,
        request_id,
        reserved
    );
    size!(AsmDepEdge, "asm_dep_edge");
    off!(
        AsmDepEdge,
        "asm_dep_edge",
        dependent,
        dependency,
        kind,
        signal
    );
    size!(AsmDeps, "asm_deps");
    off!(
        AsmDeps, "asm_deps", size, version, op, kind, dependent, dependency, capacity, count,
        edges, audit_seq, signal, reserved
    );
    size!(AsmProfile, "asm_profile");
    off!(
        AsmProfile,
        "asm_profile",
        size,
        version,
        cmd,
        agent_id,
        op,
        token,
        duration_ns,
        success,
        index,
        total,
        successes,
        kept,
        ops,
        min_ns,
        max_ns,
        avg_ns,
        p50_ns,
        p95_ns,
        p99_ns,
        reserved
    );
    let policy = AsmFaultPolicy::new(0, 0);
    put(
        "length asm_fault_policy.actions".into(),
        policy.actions.len().to_string(),
    );

    consts!(
        ASM_ABI_VERSION,
        ASM_ID_ALLOC_MIN,
        ASM_ID_MAX,
        ASM_CAP_FS_BASIC,
        ASM_CAP_FS_EXTENDED,
        ASM_CAP_NET_CLIENT,
        ASM_CAP_NET_SERVER,
        ASM_CAP_AUDIO_CONTROL,
        ASM_CAP_LLM_ACCESS,
        ASM_CAP_PROCESS_SPAWN,
        ASM_CAP_ADMIN,
        ASM_CAP_ALL,
        ASM_TARGET_SELF,
        ASM_TARGET_PID,
        ASM_TARGET_CGROUP,
        ASM_STATE_SPAWNED,
        ASM_STATE_ACTIVE,
        ASM_STATE_FAULT,
        ASM_STATE_RECOVERY,
        ASM_STATE_RESTARTED,
        ASM_STATE_EXITED,
        ASM_STATE_FAILED,
        ASM_EV_REGISTER,
        ASM_EV_UNREGISTER,
        ASM_EV_SPAWN,
        ASM_EV_EXEC,
        ASM_EV_EXIT,
        ASM_EV_CRASH,
        ASM_EV_FAULT,
        ASM_EV_ACTION,
        ASM_EV_RELEASE,
        ASM_EV_RECOVERY,
        ASM_EV_RESTARTED,
        ASM_EV_FAILED,
        ASM_EV_LLM,
        ASM_EV_CASCADE,
        ASM_EV_DEP_HELD,
        ASM_EV_DEP_LOST,
        ASM_FAULT_CPU_QUOTA,
        ASM_FAULT_MEMORY,
        ASM_FAULT_SYSCALL_FLOOD,
        ASM_FAULT_CRASH,
        ASM_FAULT_CAPABILITY,
        ASM_FAULT_UNRESPONSIVE,
        ASM_ACTION_DEFAULT,
        ASM_ACTION_LOG,
        ASM_ACTION_THROTTLE,
        ASM_ACTION_KILL,
        ASM_ACTION_RESTART,
        ASM_PRESET_NONE,
        ASM_PRESET_DEFAULT,
        ASM_PRESET_PERMISSIVE,
        ASM_PRESET_STRICT,
        ASM_LIMIT_NONE32,
        ASM_LIMIT_NONE64,
        ASM_FP_SET_LIMITS,
        ASM_FP_SET_ACTIONS,
        ASM_FP_EFFECTIVE,
        ASM_WINDOW_MS,
        ASM_GENL_VERSION,
        ASM_CMD_UNSPEC,
        ASM_CMD_EVENT,
        ASM_CMD_GW_REGISTER,
        ASM_CMD_GW_NOTIFY,
        ASM_CMD_GW_PULL,
        ASM_CMD_GW_COMPLETE,
        ASM_A_UNSPEC,
        ASM_A_PAD,
        ASM_A_SEQ,
        ASM_A_TIMESTAMP_NS,
        ASM_A_EVENT_TYPE,
        ASM_A_AGENT_ID,
        ASM_A_PID,
        ASM_A_EXIT_CODE,
        ASM_A_SIGNAL,
        ASM_A_FAULT,
        ASM_A_ACTION,
        ASM_A_VALUE,
        ASM_A_LIMIT,
        ASM_A_REQ_ID,
        ASM_A_UID,
        ASM_A_CAPS,
        ASM_A_PROMPT,
        ASM_A_SYSTEM,
        ASM_A_MAX_TOKENS,
        ASM_A_TEMPERATURE,
        ASM_A_PROVIDER,
        ASM_A_TIMEOUT_MS,
        ASM_A_STATUS,
        ASM_A_TEXT,
        ASM_A_TOKENS_USED,
        ASM_A_FALLBACK,
        ASM_A_TRIED,
        ASM_A_MAX,
        ASM_IOC_MAGIC,
        ASM_IOC_REGISTER,
        ASM_IOC_UNREGISTER,
        ASM_IOC_LIST,
        ASM_IOC_GET_INFO,
        ASM_IOC_GET_TELEMETRY_JSON,
        ASM_IOC_GET_AGENT_INFO_JSON,
        ASM_IOC_SET_FAULT_POLICY,
        ASM_IOC_GET_FAULT_POLICY,
        ASM_IOC_HEARTBEAT,
        ASM_IOC_GET_HISTORY,
        ASM_RISK_DEFAULT,
        ASM_RISK_MINIMAL,
        ASM_RISK_LIMITED,
        ASM_RISK_HIGH,
        ASM_RISK_UNACCEPTABLE,
        ASM_PATCH_ADD_CAPABILITY,
        ASM_PATCH_REMOVE_CAPABILITY,
        ASM_PATCH_UPDATE_SCOPE,
        ASM_PATCH_SET_AUTO_RESTART,
        ASM_PATCH_SET_LIMITS,
        ASM_PATCH_SET_RISK,
        ASM_PATCH_SET_LLM_RATE,
        ASM_LLM_BURST_MAX,
        ASM_LLM_REFILL_MAX,
        ASM_LLM_BURST_DEFAULT,
        ASM_LLM_REFILL_DEFAULT,
        ASM_VIOLATION_FILE,
        ASM_VIOLATION_CONNECT,
        ASM_VIOLATION_LISTEN,
        ASM_VIOLATION_EXEC,
        ASM_OVERSIGHT_REVIEW,
        ASM_OVERSIGHT_APPROVE,
        ASM_OVERSIGHT_REJECT,
        ASM_OVERSIGHT_STOP,
        ASM_AUDIT_REGISTER,
        ASM_AUDIT_UNREGISTER,
        ASM_AUDIT_PATCH,
        ASM_AUDIT_ESCALATION,
        ASM_AUDIT_FAULT_POLICY,
        ASM_AUDIT_VIOLATION,
        ASM_AUDIT_DECISION,
        ASM_AUDIT_SENSITIVE,
        ASM_AUDIT_OVERSIGHT,
        ASM_AUDIT_EXIT,
        ASM_AUDIT_SENSITIVE_SET,
        ASM_AUDIT_LLM,
        ASM_AUDIT_TRAIL_POLICY,
        ASM_AUDIT_TRAIL_LLM,
        ASM_COMPLIANT,
        ASM_REVIEW_NEEDED,
        ASM_NON_COMPLIANT,
        ASM_SCORE_MAX,
        ASM_SCORE_VIOLATION,
        ASM_SCORE_CRASH,
        ASM_SCORE_OVERSIGHT,
        ASM_SCORE_CLEAN_EXIT,
        ASM_SENSITIVE_ADD,
        ASM_SENSITIVE_REMOVE,
        ASM_SENSITIVE_GET,
        ASM_IOC_PATCH_POLICY,
        ASM_IOC_GET_AUDIT,
        ASM_IOC_GET_COMPLIANCE,
        ASM_IOC_OVERSIGHT,
        ASM_IOC_DECISION,
        ASM_IOC_SENSITIVE,
        ASM_VIOLATION_LLM,
        ASM_LLM_MAX_TOKENS_MAX,
        ASM_LLM_TIMEOUT_MAX_MS,
        ASM_LLM_ANY,
        ASM_LLM_CLAUDE,
        ASM_LLM_GPT4,
        ASM_LLM_GEMINI,
        ASM_LLM_LOCAL,
        ASM_LLM_SUBMIT,
        ASM_LLM_COLLECT,
        ASM_IOC_LLM_REQUEST,
        ASM_AUDIT_DEPENDENCY,
        ASM_AUDIT_CASCADE,
        ASM_DEP_REQUIRED,
        ASM_DEP_OPTIONAL,
        ASM_DEP_PEER,
        ASM_DEP_ADD,
        ASM_DEP_REMOVE,
        ASM_DEP_LIST,
        ASM_IOC_DEPS,
        ASM_PROFILE_DURATION_MAX,
        ASM_PROFILE_BEGIN,
        ASM_PROFILE_END,
        ASM_PROFILE_RECORD,
        ASM_PROFILE_STATS,
        ASM_IOC_PROFILE
    );
    // usize has no From into u64, so the lengths and counts go by hand.
    put("const ASM_NAME_LEN".into(), ASM_NAME_LEN.to_string());
    put("const ASM_SCOPE_LEN".into(), ASM_SCOPE_LEN.to_string());
    put("const ASM_FAULT_TYPES".into(), ASM_FAULT_TYPES.to_string());
    put(
        "const ASM_HISTORY_WINDOWS".into(),
        ASM_HISTORY_WINDOWS.to_string(),
    );
    put(
        "const ASM_AUDIT_DETAIL_LEN".into(),
        ASM_AUDIT_DETAIL_LEN.to_string(),
    );
    put(
        "const ASM_AUDIT_HASH_LEN".into(),
        ASM_AUDIT_HASH_LEN.to_string(),
    );
    put(
        "const ASM_AUDIT_ENTRIES".into(),
        ASM_AUDIT_ENTRIES.to_string(),
    );
    put(
        "const ASM_AUDIT_LLM_ENTRIES".into(),
        ASM_AUDIT_LLM_ENTRIES.to_string(),
    );
    put("const ASM_NOTE_LEN".into(), ASM_NOTE_LEN.to_string());
    put(
        "const ASM_SENSITIVE_MAX".into(),
        ASM_SENSITIVE_MAX.to_string(),
    );
    put(
        "const ASM_LLM_REQUEST_MAX".into(),
        ASM_LLM_REQUEST_MAX.to_string(),
    );
    put(
        "const ASM_LLM_PROMPT_MAX".into(),
        ASM_LLM_PROMPT_MAX.to_string(),
    );
    put(
        "const ASM_LLM_SYSTEM_MAX".into(),
        ASM_LLM_SYSTEM_MAX.to_string(),
    );
    put(
        "const ASM_LLM_TEXT_MAX".into(),
        ASM_LLM_TEXT_MAX.to_string(),
    );
    put(
        "const ASM_DEP_EDGES_MAX".into(),
        ASM_DEP_EDGES_MAX.to_string(),
    );
    put(
        "const ASM_DEP_EDGES_PER_UID".into(),
        ASM_DEP_EDGES_PER_UID.to_string(),
    );
    put(
        "const ASM_PROFILE_OP_LEN".into(),
        ASM_PROFILE_OP_LEN.to_string(),
    );
    put(
        "const ASM_PROFILE_OPS_MAX".into(),
        ASM_PROFILE_OPS_MAX.to_string(),
    );
    put(
        "const ASM_PROFILE_SAMPLES".into(),
        ASM_PROFILE_SAMPLES.to_string(),
    );
    put(
        "const ASM_LLM_RESPONSE_MIN".into(),
        ASM_LLM_RESPONSE_MIN.to_string(),
    );
    put("string ASM_DEVICE_PATH".into(), ASM_DEVICE_PATH.to_string());
    put("string ASM_GENL_NAME".into(), ASM_GENL_NAME.to_string());
    put(
        "string ASM_GENL_MCGRP_EVENTS".into(),
        ASM_GENL_MCGRP_EVENTS.to_string(),
    );
    lines
}

/// Runs `cc` on `layout.c`, or returns `None` when there is no `cc`.
fn c_lines() -> Option<BTreeMap<String, String>> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let include = manifest.join("../../include/uapi");
    let exe = asm_testutil::tmpdir(env!("CARGO_TARGET_TMPDIR")).join("asm-layout");
    let cc = match Command::new("cc")
        .args(["-std=gnu11", "-Wall", "-Werror", "-I"])
        .arg(&include)
        .arg(manifest.join("tests/layout.c"))
        .arg("-o")
        .arg(&exe)
        .status()
    {
        Ok(status) => status,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("running cc: {e}"),
    };
    assert!(cc.success(), "cc failed on layout.c: {cc}");
    let out = Command::new(&exe).output().expect("running asm-layout");
    assert!(out.status.success(), "asm-layout: {}", out.status);
    let text = String::from_utf8(out.stdout).expect("asm-layout printed UTF-8");
    let mut lines = BTreeMap::new();
    for line in text.lines() {
        let (key, value) = line.rsplit_once(' ').expect("'KIND NAME VALUE'");
        assert!(
            lines.insert(key.to_string(), value.to_string()).is_none(),
            "{key} twice in layout.c"
        );
    }
    Some(lines)
}

#[test]
fn rust_layout_matches_c_header() {
    let Some(c) = c_lines() else {
        return asm_testutil::skip("rust_layout_matches_c_header", "no `cc` on this host");
    };
    let rust = rust_lines();
    let mut diffs = Vec::new();
    for key in c.keys().chain(rust.keys().filter(|k| !c.contains_key(*k))) {
        let (cv, rv) = (c.get(key), rust.get(key));
        if cv != rv {
            diffs.push(format!("{key}: C {cv:?}, Rust {rv:?}"));
        }
    }
    assert!(diffs.is_empty(), "mismatches:\n{}", diffs.join("\n"));
}
