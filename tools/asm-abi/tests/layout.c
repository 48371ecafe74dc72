// SPDX-License-Identifier: GPL-2.0
/*
 * Prints what the C compiler makes of include/uapi/linux/asm.h: the size
 * and every field offset of each struct, the length of the arrays whose
 * length is not a named constant, and every constant.  layout.rs
 * compiles this and compares each line with the Rust mirror.
 */
#include <stddef.h>
#include <stdio.h>
#include <linux/asm.h>

#define SIZE(t) printf("size %s %zu\n", #t, sizeof(struct t))
#define OFF(t, f) printf("offset %s.%s %zu\n", #t, #f, offsetof(struct t, f))
#define CONST(c) printf("const %s %llu\n", #c, (unsigned long long)(c))

int main(void)
{
	SIZE(asm_register);
	OFF(asm_register, size);
	OFF(asm_register, version);
	OFF(asm_register, agent_id);
	OFF(asm_register, target);
	OFF(asm_register, pid);
	OFF(asm_register, cgroup_fd);
	OFF(asm_register, capabilities);
	OFF(asm_register, auto_restart);
	OFF(asm_register, flags);
	OFF(asm_register, name);
	OFF(asm_register, scope);
	OFF(asm_register, risk_level);
	OFF(asm_register, reserved0);
	OFF(asm_register, reserved);

	SIZE(asm_unregister);
	OFF(asm_unregister, size);
	OFF(asm_unregister, version);
	OFF(asm_unregister, agent_id);
	OFF(asm_unregister, flags);
	OFF(asm_unregister, reserved);

	SIZE(asm_list);
	OFF(asm_list, size);
	OFF(asm_list, version);
	OFF(asm_list, ids);
	OFF(asm_list, capacity);
	OFF(asm_list, count);
	OFF(asm_list, reserved);

	SIZE(asm_agent_info);
	OFF(asm_agent_info, size);
	OFF(asm_agent_info, version);
	OFF(asm_agent_info, agent_id);
	OFF(asm_agent_info, state);
	OFF(asm_agent_info, pid);
	OFF(asm_agent_info, owner_uid);
	OFF(asm_agent_info, nr_processes);
	OFF(asm_agent_info, auto_restart);
	OFF(asm_agent_info, restart_count);
	OFF(asm_agent_info, risk_level);
	OFF(asm_agent_info, capabilities);
	OFF(asm_agent_info, spawns);
	OFF(asm_agent_info, exits);
	OFF(asm_agent_info, crashes);
	OFF(asm_agent_info, faults);
	OFF(asm_agent_info, execs);
	OFF(asm_agent_info, cpu_us);
	OFF(asm_agent_info, mem_bytes);
	OFF(asm_agent_info, last_exit_code);
	OFF(asm_agent_info, registered_ns);
	OFF(asm_agent_info, last_activity_ns);
	OFF(asm_agent_info, name);
	OFF(asm_agent_info, scope);
	OFF(asm_agent_info, reserved);

	SIZE(asm_json);
	OFF(asm_json, size);
	OFF(asm_json, version);
	OFF(asm_json, agent_id);
	OFF(asm_json, len);
	OFF(asm_json, buf);
	OFF(asm_json, reserved);

	SIZE(asm_fault_policy);
	OFF(asm_fault_policy, size);
	OFF(asm_fault_policy, version);
	OFF(asm_fault_policy, agent_id);
	OFF(asm_fault_policy, flags);
	OFF(asm_fault_policy, cpu_quota_ms);
	OFF(asm_fault_policy, syscall_rate);
	OFF(asm_fault_policy, watchdog_ms);
	OFF(asm_fault_policy, preset);
	OFF(asm_fault_policy, mem_limit_bytes);
	OFF(asm_fault_policy, actions);
	OFF(asm_fault_policy, reserved);

	SIZE(asm_heartbeat);
	OFF(asm_heartbeat, size);
	OFF(asm_heartbeat, version);
	OFF(asm_heartbeat, agent_id);
	OFF(asm_heartbeat, flags);
	OFF(asm_heartbeat, reserved);

	SIZE(asm_window);
	OFF(asm_window, start_ns);
	OFF(asm_window, cpu_ns);
	OFF(asm_window, rss_bytes);
	OFF(asm_window, syscalls);
	OFF(asm_window, io_ops);

	SIZE(asm_history);
	OFF(asm_history, size);
	OFF(asm_history, version);
	OFF(asm_history, agent_id);
	OFF(asm_history, count);
	OFF(asm_history, windows);
	OFF(asm_history, capacity);
	OFF(asm_history, window_ms);
	OFF(asm_history, cpu_ns);
	OFF(asm_history, syscalls);
	OFF(asm_history, io_ops);
	OFF(asm_history, rss_bytes);
	OFF(asm_history, rss_peak_bytes);
	OFF(asm_history, throttled);
	OFF(asm_history, reserved0);
	OFF(asm_history, reserved);

	SIZE(asm_patch);
	OFF(asm_patch, size);
	OFF(asm_patch, version);
	OFF(asm_patch, agent_id);
	OFF(asm_patch, op);
	OFF(asm_patch, value);
	OFF(asm_patch, cpu_quota_ms);
	OFF(asm_patch, syscall_rate);
	OFF(asm_patch, watchdog_ms);
	OFF(asm_patch, reserved0);
	OFF(asm_patch, mem_limit_bytes);
	OFF(asm_patch, scope);
	OFF(asm_patch, audit_seq);
	OFF(asm_patch, reserved);

	SIZE(asm_audit_entry);
	OFF(asm_audit_entry, seq);
	OFF(asm_audit_entry, time_ns);
	OFF(asm_audit_entry, kind);
	OFF(asm_audit_entry, op);
	OFF(asm_audit_entry, agent_id);
	OFF(asm_audit_entry, uid);
	OFF(asm_audit_entry, pid);
	OFF(asm_audit_entry, result);
	OFF(asm_audit_entry, old_value);
	OFF(asm_audit_entry, new_value);
	OFF(asm_audit_entry, detail);
	OFF(asm_audit_entry, prev_hash);
	OFF(asm_audit_entry, hash);

	SIZE(asm_audit_read);
	OFF(asm_audit_read, size);
	OFF(asm_audit_read, version);
	OFF(asm_audit_read, from_seq);
	OFF(asm_audit_read, entries);
	OFF(asm_audit_read, capacity);
	OFF(asm_audit_read, count);
	OFF(asm_audit_read, first_seq);
	OFF(asm_audit_read, next_seq);
	OFF(asm_audit_read, dropped);
	OFF(asm_audit_read, reserved);

	SIZE(asm_compliance);
	OFF(asm_compliance, size);
	OFF(asm_compliance, version);
	OFF(asm_compliance, agent_id);
	OFF(asm_compliance, risk_level);
	OFF(asm_compliance, events);
	OFF(asm_compliance, violations);
	OFF(asm_compliance, oversight);
	OFF(asm_compliance, decisions);
	OFF(asm_compliance, sensitive);
	OFF(asm_compliance, clean_exits);
	OFF(asm_compliance, crashes);
	OFF(asm_compliance, score);
	OFF(asm_compliance, status);
	OFF(asm_compliance, reserved);

	SIZE(asm_note);
	OFF(asm_note, size);
	OFF(asm_note, version);
	OFF(asm_note, agent_id);
	OFF(asm_note, kind);
	OFF(asm_note, text);
	OFF(asm_note, audit_seq);
	OFF(asm_note, reserved);

	SIZE(asm_sensitive);
	OFF(asm_sensitive, size);
	OFF(asm_sensitive, version);
	OFF(asm_sensitive, op);
	OFF(asm_sensitive, index);
	OFF(asm_sensitive, count);
	OFF(asm_sensitive, reserved0);
	OFF(asm_sensitive, path);
	OFF(asm_sensitive, reserved);
	/* Array lengths: a resized array moves no offset after it. */
	printf("length asm_fault_policy.actions %zu\n",
	       sizeof(((struct asm_fault_policy *)0)->actions));

	CONST(ASM_ABI_VERSION);
	CONST(ASM_NAME_LEN);
	CONST(ASM_SCOPE_LEN);
	CONST(ASM_ID_ALLOC_MIN);
	CONST(ASM_ID_MAX);
	CONST(ASM_CAP_FS_BASIC);
	CONST(ASM_CAP_FS_EXTENDED);
	CONST(ASM_CAP_NET_CLIENT);
	CONST(ASM_CAP_NET_SERVER);
	CONST(ASM_CAP_AUDIO_CONTROL);
	CONST(ASM_CAP_LLM_ACCESS);
	CONST(ASM_CAP_PROCESS_SPAWN);
	CONST(ASM_CAP_ADMIN);
	CONST(ASM_CAP_ALL);
	CONST(ASM_TARGET_SELF);
	CONST(ASM_TARGET_PID);
	CONST(ASM_TARGET_CGROUP);
	CONST(ASM_STATE_SPAWNED);
	CONST(ASM_STATE_ACTIVE);
	CONST(ASM_STATE_FAULT);
	CONST(ASM_STATE_RECOVERY);
	CONST(ASM_STATE_RESTARTED);
	CONST(ASM_STATE_EXITED);
	CONST(ASM_STATE_FAILED);
	CONST(ASM_EV_REGISTER);
	CONST(ASM_EV_UNREGISTER);
	CONST(ASM_EV_SPAWN);
	CONST(ASM_EV_EXEC);
	CONST(ASM_EV_EXIT);
	CONST(ASM_EV_CRASH);
	CONST(ASM_EV_FAULT);
	CONST(ASM_EV_ACTION);
	CONST(ASM_EV_RELEASE);
	CONST(ASM_EV_RECOVERY);
	CONST(ASM_EV_RESTARTED);
	CONST(ASM_EV_FAILED);
	CONST(ASM_FAULT_CPU_QUOTA);
	CONST(ASM_FAULT_MEMORY);
	CONST(ASM_FAULT_SYSCALL_FLOOD);
	CONST(ASM_FAULT_CRASH);
	CONST(ASM_FAULT_CAPABILITY);
	CONST(ASM_FAULT_UNRESPONSIVE);
	CONST(ASM_FAULT_TYPES);
	CONST(ASM_ACTION_DEFAULT);
	CONST(ASM_ACTION_LOG);
	CONST(ASM_ACTION_THROTTLE);
	CONST(ASM_ACTION_KILL);
	CONST(ASM_ACTION_RESTART);
	CONST(ASM_PRESET_NONE);
	CONST(ASM_PRESET_DEFAULT);
	CONST(ASM_PRESET_PERMISSIVE);
	CONST(ASM_PRESET_STRICT);
	CONST(ASM_LIMIT_NONE32);
	CONST(ASM_LIMIT_NONE64);
	CONST(ASM_FP_SET_LIMITS);
	CONST(ASM_FP_SET_ACTIONS);
	CONST(ASM_FP_EFFECTIVE);
	CONST(ASM_WINDOW_MS);
	CONST(ASM_HISTORY_WINDOWS);
	CONST(ASM_GENL_VERSION);
	CONST(ASM_CMD_UNSPEC);
	CONST(ASM_CMD_EVENT);
	CONST(ASM_CMD_GW_REGISTER);
	CONST(ASM_CMD_GW_NOTIFY);
	CONST(ASM_CMD_GW_PULL);
	CONST(ASM_CMD_GW_COMPLETE);
	CONST(ASM_A_UNSPEC);
	CONST(ASM_A_PAD);
	CONST(ASM_A_SEQ);
	CONST(ASM_A_TIMESTAMP_NS);
	CONST(ASM_A_EVENT_TYPE);
	CONST(ASM_A_AGENT_ID);
	CONST(ASM_A_PID);
	CONST(ASM_A_EXIT_CODE);
	CONST(ASM_A_SIGNAL);
	CONST(ASM_A_FAULT);
	CONST(ASM_A_ACTION);
	CONST(ASM_A_VALUE);
	CONST(ASM_A_LIMIT);
	CONST(ASM_A_REQ_ID);
	CONST(ASM_A_UID);
	CONST(ASM_A_CAPS);
	CONST(ASM_A_PROMPT);
	CONST(ASM_A_SYSTEM);
	CONST(ASM_A_MAX_TOKENS);
	CONST(ASM_A_TEMPERATURE);
	CONST(ASM_A_PROVIDER);
	CONST(ASM_A_TIMEOUT_MS);
	CONST(ASM_A_STATUS);
	CONST(ASM_A_TEXT);
	CONST(ASM_A_TOKENS_USED);
	CONST(ASM_A_FALLBACK);
	CONST(ASM_A_TRIED);
	CONST(ASM_A_MAX);
	CONST(ASM_IOC_MAGIC);
	CONST(ASM_IOC_REGISTER);
	CONST(ASM_IOC_UNREGISTER);
	CONST(ASM_IOC_LIST);
	CONST(ASM_IOC_GET_INFO);
	CONST(ASM_IOC_GET_TELEMETRY_JSON);
	CONST(ASM_IOC_GET_AGENT_INFO_JSON);
	CONST(ASM_IOC_SET_FAULT_POLICY);
	CONST(ASM_IOC_GET_FAULT_POLICY);
	CONST(ASM_IOC_HEARTBEAT);
	CONST(ASM_IOC_GET_HISTORY);
	CONST(ASM_RISK_DEFAULT);
	CONST(ASM_RISK_MINIMAL);
	CONST(ASM_RISK_LIMITED);
	CONST(ASM_RISK_HIGH);
	CONST(ASM_RISK_UNACCEPTABLE);
	CONST(ASM_PATCH_ADD_CAPABILITY);
	CONST(ASM_PATCH_REMOVE_CAPABILITY);
	CONST(ASM_PATCH_UPDATE_SCOPE);
	CONST(ASM_PATCH_SET_AUTO_RESTART);
	CONST(ASM_PATCH_SET_LIMITS);
	CONST(ASM_PATCH_SET_RISK);
	CONST(ASM_VIOLATION_FILE);
	CONST(ASM_VIOLATION_CONNECT);
	CONST(ASM_VIOLATION_LISTEN);
	CONST(ASM_VIOLATION_EXEC);
	CONST(ASM_OVERSIGHT_REVIEW);
	CONST(ASM_OVERSIGHT_APPROVE);
	CONST(ASM_OVERSIGHT_REJECT);
	CONST(ASM_OVERSIGHT_STOP);
	CONST(ASM_AUDIT_REGISTER);
	CONST(ASM_AUDIT_UNREGISTER);
	CONST(ASM_AUDIT_PATCH);
	CONST(ASM_AUDIT_ESCALATION);
	CONST(ASM_AUDIT_FAULT_POLICY);
	CONST(ASM_AUDIT_VIOLATION);
	CONST(ASM_AUDIT_DECISION);
	CONST(ASM_AUDIT_SENSITIVE);
	CONST(ASM_AUDIT_OVERSIGHT);
	CONST(ASM_AUDIT_EXIT);
	CONST(ASM_AUDIT_SENSITIVE_SET);
	CONST(ASM_AUDIT_DETAIL_LEN);
	CONST(ASM_AUDIT_HASH_LEN);
	CONST(ASM_AUDIT_ENTRIES);
	CONST(ASM_COMPLIANT);
	CONST(ASM_REVIEW_NEEDED);
	CONST(ASM_NON_COMPLIANT);
	CONST(ASM_SCORE_MAX);
	CONST(ASM_SCORE_VIOLATION);
	CONST(ASM_SCORE_CRASH);
	CONST(ASM_SCORE_OVERSIGHT);
	CONST(ASM_SCORE_CLEAN_EXIT);
	CONST(ASM_NOTE_LEN);
	CONST(ASM_SENSITIVE_MAX);
	CONST(ASM_SENSITIVE_ADD);
	CONST(ASM_SENSITIVE_REMOVE);
	CONST(ASM_SENSITIVE_GET);
	CONST(ASM_IOC_PATCH_POLICY);
	CONST(ASM_IOC_GET_AUDIT);
	CONST(ASM_IOC_GET_COMPLIANCE);
	CONST(ASM_IOC_OVERSIGHT);
	CONST(ASM_IOC_DECISION);
	CONST(ASM_IOC_SENSITIVE);
	/* Strings: each a line of its own for an exact comparison. */
	printf("string ASM_DEVICE_PATH %s\n", ASM_DEVICE_PATH);
	printf("string ASM_GENL_NAME %s\n", ASM_GENL_NAME);
	printf("string ASM_GENL_MCGRP_EVENTS %s\n", ASM_GENL_MCGRP_EVENTS);
	return 0;
}
