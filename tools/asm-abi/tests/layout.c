// SPDX-License-Identifier: GPL-2.0
/*
 * Prints what the C compiler makes of include/uapi/linux/asm.h: the size
 * and every field offset of each struct, and every constant.  layout.rs
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
	OFF(asm_agent_info, reserved0);
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
	CONST(ASM_IOC_MAGIC);
	CONST(ASM_IOC_REGISTER);
	CONST(ASM_IOC_UNREGISTER);
	CONST(ASM_IOC_LIST);
	CONST(ASM_IOC_GET_INFO);
	CONST(ASM_IOC_GET_TELEMETRY_JSON);
	CONST(ASM_IOC_GET_AGENT_INFO_JSON);
	/* A string: print it as a line of its own for an exact comparison. */
	printf("string ASM_DEVICE_PATH %s\n", ASM_DEVICE_PATH);
	return 0;
}
