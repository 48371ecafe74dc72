/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * asm.h - the user-space ABI of the Agent Supervision Module (asm.ko).
 *
 * Every request is an ioctl on /dev/asm taking a pointer to one of the
 * structs below.  Each struct starts with @size (the caller's sizeof) and
 * @version (ASM_ABI_VERSION).  The module rejects a request with -EINVAL when
 * @size or @version is not the one it knows, or when a reserved field or an
 * unknown flag bit is not zero; a rejected request changes nothing.
 * Documentation/uapi.rst lists every ioctl and errno.
 */
#ifndef _UAPI_LINUX_ASM_H
#define _UAPI_LINUX_ASM_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define ASM_ABI_VERSION		1
#define ASM_DEVICE_PATH		"/dev/asm"

#define ASM_NAME_LEN		32	/* including the terminating NUL */
#define ASM_SCOPE_LEN		256	/* including the terminating NUL */

/* Agent ids the kernel allocates when the caller asks for id 0. */
#define ASM_ID_ALLOC_MIN	1000
#define ASM_ID_MAX		0x7fffffff

/* Capabilities: stable bit values. */
#define ASM_CAP_FS_BASIC	(1ULL << 0)
#define ASM_CAP_FS_EXTENDED	(1ULL << 1)
#define ASM_CAP_NET_CLIENT	(1ULL << 2)
#define ASM_CAP_NET_SERVER	(1ULL << 3)
#define ASM_CAP_AUDIO_CONTROL	(1ULL << 4)
#define ASM_CAP_LLM_ACCESS	(1ULL << 5)
#define ASM_CAP_PROCESS_SPAWN	(1ULL << 6)
#define ASM_CAP_ADMIN		(1ULL << 7)
#define ASM_CAP_ALL		((1ULL << 8) - 1)

/*
 * What each capability lets an agent's processes do, as the kernel checks
 * it (Documentation/policy.rst has the whole model):
 *  FsBasic	open files inside the scope (anywhere without a scope);
 *  FsExtended	read files anywhere; writes stay inside the scope;
 *		without either, only the system set (read-only: /usr, /lib,
 *		/lib64, /bin, /sbin, /etc, /proc, /sys; read-write: /dev/asm,
 *		/dev/null,
 *		/dev/zero, /dev/full, /dev/random, /dev/urandom, /dev/tty);
 *  NetClient	connect() an AF_INET or AF_INET6 socket;
 *  NetServer	listen() on an AF_INET or AF_INET6 socket;
 *  ProcessSpawn exec a program in a process the agent forked (the launch:
 *		execs of a process that joined the agent, are always allowed);
 *  LlmAccess	ASM_IOC_LLM_REQUEST (granted by CAP_SYS_ADMIN only);
 *  AudioControl recorded and shown only;
 *  Admin	never granted by a patch; needs CAP_SYS_ADMIN at REGISTER.
 */

/* Risk levels (EU AI Act). */
enum asm_risk {
	ASM_RISK_DEFAULT = 0,		/* REGISTER only: Limited */
	ASM_RISK_MINIMAL = 1,
	ASM_RISK_LIMITED = 2,
	ASM_RISK_HIGH = 3,
	ASM_RISK_UNACCEPTABLE = 4,	/* prohibited: never registered */
};

/* Who an ASM_IOC_REGISTER request makes an agent of. */
enum asm_target {
	ASM_TARGET_SELF = 0,	/* the calling process (a launcher, then exec) */
	ASM_TARGET_PID = 1,	/* another process; needs CAP_SYS_ADMIN */
	ASM_TARGET_CGROUP = 2,	/* every task of a cgroup v2; needs CAP_SYS_ADMIN */
};

/* Agent states, as in the user guide's lifecycle diagram. */
enum asm_state {
	ASM_STATE_SPAWNED = 0,	/* registered, has not exec'd or forked yet */
	ASM_STATE_ACTIVE = 1,	/* running normally */
	ASM_STATE_FAULT = 2,	/* the last process crashed and the crash
				 * action is log: nothing restarts it */
	ASM_STATE_RECOVERY = 3,	/* ended by a crash or a restart action with
				 * restarts left: its launcher restarts it */
	ASM_STATE_RESTARTED = 4,	/* running again after a restart */
	ASM_STATE_EXITED = 5,	/* every process exited, the last one cleanly */
	ASM_STATE_FAILED = 6,	/* crashed with no restart left, or ended by
				 * a kill action */
};

/* Event types in the event ring (debugfs asm/events and the JSON). */
enum asm_event_type {
	ASM_EV_REGISTER = 1,
	ASM_EV_UNREGISTER = 2,
	ASM_EV_SPAWN = 3,	/* a process joined an agent (fork or attach) */
	ASM_EV_EXEC = 4,
	ASM_EV_EXIT = 5,	/* a process of an agent exited cleanly */
	ASM_EV_CRASH = 6,	/* ... by fatal signal or non-zero code */
	ASM_EV_FAULT = 7,	/* a fault was detected (see enum asm_fault_type) */
	ASM_EV_ACTION = 8,	/* a recovery action was taken (enum asm_action) */
	ASM_EV_RELEASE = 9,	/* a throttle was lifted */
	ASM_EV_RECOVERY = 10,	/* the agent ended and is to be restarted:
				 * its launcher starts it again */
	ASM_EV_RESTARTED = 11,	/* a process joined an agent in Recovery */
	ASM_EV_FAILED = 12,	/* the agent ended for good: no restart left,
				 * or ended by a kill action */
	ASM_EV_LLM = 13,	/* an LLM request the bucket let through
				 * ended: @fault is the provider that
				 * answered (0: none), @exit_code 0 or the
				 * request's -errno, @value the tokens used,
				 * @limit its duration in microseconds */
	ASM_EV_CASCADE = 14,	/* the agent is stopped because agent @value,
				 * which it requires (directly or through
				 * others), ended: @signal is SIGTERM when
				 * the stop starts, with @limit the grace in
				 * ms, and SIGKILL once the grace is over */
	ASM_EV_DEP_HELD = 15,	/* agent @value, which the agent requires,
				 * is in Recovery: the agent waits up to
				 * @limit ms for its restart */
	ASM_EV_DEP_LOST = 16,	/* agent @value, an Optional dependency,
				 * ended: @signal is the signal the agent's
				 * processes got (0: none) */
};

/* Fault types; they index asm_fault_policy.actions. */
enum asm_fault_type {
	ASM_FAULT_CPU_QUOTA = 1,	/* CPU time in a window > quota */
	ASM_FAULT_MEMORY = 2,		/* resident memory > limit */
	ASM_FAULT_SYSCALL_FLOOD = 3,	/* syscalls in a window > rate */
	ASM_FAULT_CRASH = 4,		/* fatal signal or non-zero exit */
	ASM_FAULT_CAPABILITY = 5,	/* an operation outside the policy
					 * (enum asm_violation) */
	ASM_FAULT_UNRESPONSIVE = 6,	/* no heartbeat within the timeout */
};
#define ASM_FAULT_TYPES		7	/* 1 + the highest fault type */

/* Recovery actions. */
enum asm_action {
	ASM_ACTION_DEFAULT = 0,		/* per agent: follow the defaults */
	ASM_ACTION_LOG = 1,		/* record the fault, nothing else */
	ASM_ACTION_THROTTLE = 2,	/* stop the agent for the rest of each
					 * window once it used its quota */
	ASM_ACTION_KILL = 3,		/* SIGKILL every process; no restart */
	ASM_ACTION_RESTART = 4,		/* SIGKILL every process, then restart */
};

/* Action presets of ASM_IOC_SET_FAULT_POLICY. */
enum asm_preset {
	ASM_PRESET_NONE = 0,		/* take asm_fault_policy.actions */
	ASM_PRESET_DEFAULT = 1,		/* the user guide's table */
	ASM_PRESET_PERMISSIVE = 2,	/* log every fault */
	ASM_PRESET_STRICT = 3,		/* kill on every fault */
};

/* A per-agent limit that is "no limit", whatever the defaults say. */
#define ASM_LIMIT_NONE32	0xffffffffU
#define ASM_LIMIT_NONE64	0xffffffffffffffffULL

/* asm_fault_policy.flags */
#define ASM_FP_SET_LIMITS	(1U << 0)	/* SET: take the four limits */
#define ASM_FP_SET_ACTIONS	(1U << 1)	/* SET: take @preset/@actions */
#define ASM_FP_EFFECTIVE	(1U << 2)	/* GET: resolve defaults */

/* The sampler's window and how many windows it keeps. */
#define ASM_WINDOW_MS		1000
#define ASM_HISTORY_WINDOWS	60

/**
 * struct asm_register - ASM_IOC_REGISTER argument.
 * @size:	sizeof(struct asm_register).
 * @version:	ASM_ABI_VERSION.
 * @agent_id:	in: the id to use, or 0 to have the kernel allocate one
 *		(from ASM_ID_ALLOC_MIN); out: the agent's id.
 * @target:	enum asm_target.
 * @pid:	in: ASM_TARGET_PID: the process, in the caller's pid
 *		namespace; must be 0 for the other targets.  Out: the
 *		registered process in the caller's namespace (0 for a cgroup).
 * @cgroup_fd:	ASM_TARGET_CGROUP: an open fd of the cgroup v2 directory;
 *		must be 0 for the other targets.
 * @capabilities: ASM_CAP_* bits; ASM_CAP_ADMIN needs CAP_SYS_ADMIN.
 * @auto_restart: how many restarts the agent may have (0: none).
 * @flags:	0, or ASM_REGISTER_RESTART.
 * @name:	NUL-terminated, 1 to ASM_NAME_LEN - 1 printable characters.
 * @scope:	NUL-terminated absolute path, or empty for no scope.
 * @risk_level:	enum asm_risk; ASM_RISK_DEFAULT is Limited.  An Unacceptable
 *		agent is refused with EPERM (and the refusal is audited).
 * @reserved0:	must be 0.
 * @reserved:	must be 0.
 */
/*
 * asm_register.flags: the calling process joins the existing process agent
 * @agent_id, which is in Recovery, as its restart (the module counts it
 * and the agent becomes Restarted).  Needs CAP_SYS_ADMIN from a process of
 * no agent, like a restart budget; @target is ASM_TARGET_SELF and every
 * other field but @size, @version, @agent_id and @flags is 0 or empty.
 * Errors: ESRCH (no such agent), EINVAL (a cgroup agent: those restart
 * when a process is placed in their cgroup), EBUSY (the agent is not in
 * Recovery), EPERM (no
 * CAP_SYS_ADMIN, or the caller is in an agent), EAGAIN (an unprivileged
 * caller's audit rate).
 */
#define ASM_REGISTER_RESTART	(1U << 0)

struct asm_register {
	__u32 size;
	__u32 version;
	__u32 agent_id;
	__u32 target;
	__s32 pid;
	__s32 cgroup_fd;
	__u64 capabilities;
	__u32 auto_restart;
	__u32 flags;
	char name[ASM_NAME_LEN];
	char scope[ASM_SCOPE_LEN];
	__u32 risk_level;
	__u32 reserved0;
	__u64 reserved[3];
};

/**
 * struct asm_unregister - ASM_IOC_UNREGISTER argument.
 * @size:	sizeof(struct asm_unregister).
 * @version:	ASM_ABI_VERSION.
 * @agent_id:	the agent to forget; its processes keep running.
 * @flags:	must be 0.
 * @reserved:	must be 0.
 */
struct asm_unregister {
	__u32 size;
	__u32 version;
	__u32 agent_id;
	__u32 flags;
	__u64 reserved[2];
};

/**
 * struct asm_list - ASM_IOC_LIST argument.
 * @size:	sizeof(struct asm_list).
 * @version:	ASM_ABI_VERSION.
 * @ids:	user pointer to an array of @capacity __u32 agent ids.
 * @capacity:	entries @ids has room for.
 * @count:	out: how many agents there are, in ascending id order.  When
 *		@count > @capacity the call fails with -ERANGE and @ids holds
 *		the first @capacity ids.
 * @reserved:	must be 0.
 */
struct asm_list {
	__u32 size;
	__u32 version;
	__u64 ids;
	__u32 capacity;
	__u32 count;
	__u64 reserved[2];
};

/**
 * struct asm_agent_info - ASM_IOC_GET_INFO argument.
 * @size:	sizeof(struct asm_agent_info).
 * @version:	ASM_ABI_VERSION.
 * @agent_id:	in: the agent.  Every other field is out.
 * @state:	enum asm_state.
 * @pid:	the registered process, in the caller's pid namespace (0 when
 *		it has exited or is not visible there).
 * @owner_uid:	effective uid, in the initial user namespace, of whoever
 *		registered the agent.
 * @nr_processes: live processes of the agent now.
 * @auto_restart: restart budget.
 * @restart_count: restarts so far.
 * @capabilities: ASM_CAP_* bits.
 * @spawns:	processes that joined the agent (the registered one, every
 *		forked descendant, every task attached to its cgroup).
 * @exits:	processes of the agent that exited (clean or not).
 * @crashes:	exits by fatal signal or with a non-zero code.
 * @faults:	faults detected (a crash is a fault).
 * @execs:	successful execve() calls by the agent's processes.
 * @cpu_us:	CPU time of all its processes, live and exited, in us.
 * @mem_bytes:	resident memory of its live processes, in bytes.
 * @last_exit_code: wait(2)-style status of the last process exit.
 * @risk_level:	enum asm_risk (never ASM_RISK_DEFAULT).
 * @registered_ns: CLOCK_BOOTTIME when registered.
 * @last_activity_ns: CLOCK_BOOTTIME of its last lifecycle event.
 * @name:	the agent's name.
 * @scope:	its scope path ("" for none).
 * @cgroup_id:	the cgroup v2 id (as name_to_handle_at() and statx() report
 *		it) of a cgroup agent; 0 for an agent registered by process.
 * @reserved:	must be 0 on input.
 */
struct asm_agent_info {
	__u32 size;
	__u32 version;
	__u32 agent_id;
	__u32 state;
	__s32 pid;
	__u32 owner_uid;
	__u32 nr_processes;
	__u32 auto_restart;
	__u32 restart_count;
	__u32 risk_level;
	__u64 capabilities;
	__u64 spawns;
	__u64 exits;
	__u64 crashes;
	__u64 faults;
	__u64 execs;
	__u64 cpu_us;
	__u64 mem_bytes;
	__s64 last_exit_code;
	__u64 registered_ns;
	__u64 last_activity_ns;
	char name[ASM_NAME_LEN];
	char scope[ASM_SCOPE_LEN];
	__u64 cgroup_id;
	__u64 reserved[3];
};

/**
 * struct asm_json - ASM_IOC_GET_TELEMETRY_JSON and ASM_IOC_GET_AGENT_INFO_JSON
 * argument.
 * @size:	sizeof(struct asm_json).
 * @version:	ASM_ABI_VERSION.
 * @agent_id:	GET_AGENT_INFO_JSON: the agent; GET_TELEMETRY_JSON: must be 0.
 * @len:	in: room at @buf in bytes; out: the document's length.  When
 *		the room is too small the call fails with -ERANGE, writes
 *		nothing to @buf and sets @len to the size needed.
 * @buf:	user pointer the JSON document (no NUL) is written to.
 * @reserved:	must be 0.
 */
struct asm_json {
	__u32 size;
	__u32 version;
	__u32 agent_id;
	__u32 len;
	__u64 buf;
	__u64 reserved[2];
};

/**
 * struct asm_fault_policy - ASM_IOC_SET_FAULT_POLICY and
 * ASM_IOC_GET_FAULT_POLICY argument: limits and recovery actions.
 * @size:	sizeof(struct asm_fault_policy).
 * @version:	ASM_ABI_VERSION.
 * @agent_id:	the agent, or 0 for the defaults every agent follows.
 * @flags:	SET: ASM_FP_SET_LIMITS and/or ASM_FP_SET_ACTIONS (at least
 *		one); GET: 0 or ASM_FP_EFFECTIVE (an agent's values with the
 *		defaults resolved: 0 then means no limit; for @agent_id 0
 *		the defaults either way).
 * @cpu_quota_ms: CPU time per ASM_WINDOW_MS window, in ms (all threads).
 * @syscall_rate: system calls per second.
 * @watchdog_ms: heartbeat timeout of an agent that sent a heartbeat.
 * @preset:	SET with ASM_FP_SET_ACTIONS: enum asm_preset; with
 *		ASM_PRESET_NONE @actions is taken as given.  GET: 0.
 * @mem_limit_bytes: resident memory of all its processes, in bytes.
 * @actions:	enum asm_action per enum asm_fault_type; [0] and [7] are 0.
 * @reserved:	must be 0.
 *
 * For an agent, a limit of 0 and an action of ASM_ACTION_DEFAULT follow
 * the defaults, and ASM_LIMIT_NONE32/64 is no limit.  In the defaults 0 is
 * no limit (ASM_LIMIT_NONE* is taken as 0) and every action must be set.
 * A preset copies its actions into the target; no preset makes an agent
 * follow the defaults again (set every action to ASM_ACTION_DEFAULT).
 * Throttle is valid for CPU quota and syscall flood only.
 *
 * SET: without ASM_FP_SET_LIMITS the four limits must be 0; without
 * ASM_FP_SET_ACTIONS @preset and @actions must be 0; with a preset,
 * @actions must be 0.  Changing the defaults needs CAP_SYS_ADMIN; an
 * agent's policy may be changed by CAP_SYS_ADMIN, and by the agent's owner
 * only to lower its effective limits (EPERM otherwise).  Errors: EINVAL
 * (a rule above), ESRCH (no such agent), EPERM.
 */
struct asm_fault_policy {
	__u32 size;
	__u32 version;
	__u32 agent_id;
	__u32 flags;
	__u32 cpu_quota_ms;
	__u32 syscall_rate;
	__u32 watchdog_ms;
	__u32 preset;
	__u64 mem_limit_bytes;
	__u8 actions[8];
	__u64 reserved[4];
};

/**
 * struct asm_heartbeat - ASM_IOC_HEARTBEAT argument: the calling process's
 * agent is alive.  The first heartbeat arms the agent's watchdog; ESRCH
 * when the caller is not a process of an agent.
 * @size:	sizeof(struct asm_heartbeat).
 * @version:	ASM_ABI_VERSION.
 * @agent_id:	in: 0; out: the caller's agent.
 * @flags:	must be 0.
 * @reserved:	must be 0.
 */
struct asm_heartbeat {
	__u32 size;
	__u32 version;
	__u32 agent_id;
	__u32 flags;
	__u64 reserved[2];
};

/**
 * struct asm_window - one sampler window of an agent.
 * @start_ns:	CLOCK_BOOTTIME when the window began.
 * @cpu_ns:	CPU time its processes used in the window.
 * @rss_bytes:	resident memory at the end of the window.
 * @syscalls:	system calls entered in the window.
 * @io_ops:	read and write system calls (task I/O accounting).
 */
struct asm_window {
	__u64 start_ns;
	__u64 cpu_ns;
	__u64 rss_bytes;
	__u64 syscalls;
	__u64 io_ops;
};

/**
 * struct asm_history - ASM_IOC_GET_HISTORY argument.
 * @size:	sizeof(struct asm_history).
 * @version:	ASM_ABI_VERSION.
 * @agent_id:	the agent.
 * @count:	out: windows written to @windows, oldest first: the newest
 *		min(@capacity, windows kept), at most ASM_HISTORY_WINDOWS.
 *		Only closed windows are kept; the current one is not.
 * @windows:	user pointer to @capacity struct asm_window.
 * @capacity:	entries @windows has room for (0 is allowed).
 * @window_ms:	out: ASM_WINDOW_MS.
 * @cpu_ns:	out: CPU time since the agent was first sampled.
 * @syscalls:	out: system calls since then.
 * @io_ops:	out: read and write system calls since then.
 * @rss_bytes:	out: resident memory at the last sample.
 * @rss_peak_bytes: out: the highest resident memory sampled.
 * @throttled:	out: 1 while a throttle holds the agent.
 * @reserved0:	out: 0.
 * @reserved:	must be 0.
 */
struct asm_history {
	__u32 size;
	__u32 version;
	__u32 agent_id;
	__u32 count;
	__u64 windows;
	__u32 capacity;
	__u32 window_ms;
	__u64 cpu_ns;
	__u64 syscalls;
	__u64 io_ops;
	__u64 rss_bytes;
	__u64 rss_peak_bytes;
	__u32 throttled;
	__u32 reserved0;
	__u64 reserved[4];
};

/* Policy patches (ASM_IOC_PATCH_POLICY). */
enum asm_patch_op {
	ASM_PATCH_ADD_CAPABILITY = 1,	/* @value: ASM_CAP_* bits to add */
	ASM_PATCH_REMOVE_CAPABILITY = 2, /* @value: ASM_CAP_* bits to remove */
	ASM_PATCH_UPDATE_SCOPE = 3,	/* @scope: the new scope ("" for none) */
	ASM_PATCH_SET_AUTO_RESTART = 4,	/* @value: the restart budget */
	ASM_PATCH_SET_LIMITS = 5,	/* the four limits, as SET_FAULT_POLICY */
	ASM_PATCH_SET_RISK = 6,		/* @value: Minimal, Limited or High */
	ASM_PATCH_SET_LLM_RATE = 7,	/* @llm_burst, @llm_refill: the LLM
					 * token bucket */
};

/* Bounds of an agent's LLM token bucket (ASM_PATCH_SET_LLM_RATE). */
#define ASM_LLM_BURST_MAX	10000	/* requests */
#define ASM_LLM_REFILL_MAX	10000	/* requests per second */
#define ASM_LLM_BURST_DEFAULT	30
#define ASM_LLM_REFILL_DEFAULT	10

/**
 * struct asm_patch - ASM_IOC_PATCH_POLICY argument: one atomic change of
 * an agent's policy, seen by the next check of every probe.
 * @size:	sizeof(struct asm_patch).
 * @version:	ASM_ABI_VERSION.
 * @agent_id:	the agent.
 * @op:		enum asm_patch_op.
 * @value:	ADD/REMOVE_CAPABILITY, SET_AUTO_RESTART, SET_RISK; else 0.
 * @cpu_quota_ms, @syscall_rate, @watchdog_ms, @mem_limit_bytes:
 *		SET_LIMITS: as in struct asm_fault_policy (0 follows the
 *		defaults, ASM_LIMIT_NONE* is no limit); else 0.
 * @reserved0:	must be 0.
 * @scope:	UPDATE_SCOPE: an absolute path or ""; else all zero.
 * @audit_seq:	out: the audit entry that records the patch.
 * @llm_burst:	SET_LLM_RATE: the bucket's size, 1 to ASM_LLM_BURST_MAX;
 *		else 0.
 * @llm_refill:	SET_LLM_RATE: requests added per second, 1 to
 *		ASM_LLM_REFILL_MAX; else 0.
 * @reserved:	must be 0.
 *
 * A patch that widens the policy (adds a capability, widens or removes
 * the scope, raises the restart budget, a limit, the LLM burst or
 * refill, changes the risk level) needs CAP_SYS_ADMIN, from a process of no agent.
 * One that narrows it may also come from the agent's owner, the agent
 * itself included.  ASM_CAP_ADMIN is never granted (EPERM, audited as an
 * escalation attempt).  Errors: EINVAL (a malformed patch), ESRCH (no
 * such agent), EPERM.  Applied and refused patches are both audited.
 */
struct asm_patch {
	__u32 size;
	__u32 version;
	__u32 agent_id;
	__u32 op;
	__u64 value;
	__u32 cpu_quota_ms;
	__u32 syscall_rate;
	__u32 watchdog_ms;
	__u32 reserved0;
	__u64 mem_limit_bytes;
	char scope[ASM_SCOPE_LEN];
	__u64 audit_seq;
	__u32 llm_burst;
	__u32 llm_refill;
	__u64 reserved[1];
};

/* What a capability violation was (asm_audit_entry.op, fault value). */
enum asm_violation {
	ASM_VIOLATION_FILE = 1,		/* a file opened outside the policy */
	ASM_VIOLATION_CONNECT = 2,	/* connect() without NetClient */
	ASM_VIOLATION_LISTEN = 3,	/* listen() without NetServer */
	ASM_VIOLATION_EXEC = 4,		/* exec in a forked process without
					 * ProcessSpawn */
	ASM_VIOLATION_LLM = 5,		/* an LLM request without LlmAccess,
					 * by no agent, or for another agent */
};

/* Human oversight actions (ASM_IOC_OVERSIGHT). */
enum asm_oversight {
	ASM_OVERSIGHT_REVIEW = 1,	/* a human reviewed the agent */
	ASM_OVERSIGHT_APPROVE = 2,	/* ... approved what it does */
	ASM_OVERSIGHT_REJECT = 3,	/* ... rejected it */
	ASM_OVERSIGHT_STOP = 4,		/* ... stopped it: every process gets
					 * SIGKILL, the agent ends Failed */
};

/* Audit entry kinds. */
enum asm_audit_kind {
	ASM_AUDIT_REGISTER = 1,		/* @new_value: risk level; @result: a
					 * refusal's errno */
	ASM_AUDIT_UNREGISTER = 2,	/* @op: 0 on request, or
					 * ASM_UNREGISTER_RECLAIMED;
					 * @new_value: the dependency edges
					 * that went with the agent */
	ASM_AUDIT_PATCH = 3,		/* @op: enum asm_patch_op; old and new
					 * value; @result 0 or -errno */
	ASM_AUDIT_ESCALATION = 4,	/* a refused attempt to grant Admin */
	ASM_AUDIT_FAULT_POLICY = 5,	/* SET_FAULT_POLICY (agent 0: the
					 * defaults); @op: its flags */
	ASM_AUDIT_VIOLATION = 6,	/* @op: enum asm_violation; @new_value:
					 * the action taken; @detail: what */
	ASM_AUDIT_DECISION = 7,		/* reported by the agent (DECISION) */
	ASM_AUDIT_SENSITIVE = 8,	/* a path marked sensitive was opened */
	ASM_AUDIT_OVERSIGHT = 9,	/* @op: enum asm_oversight */
	ASM_AUDIT_EXIT = 10,		/* the agent ended: @old_value its
					 * syscalls, @new_value its execs;
					 * @detail: every count */
	ASM_AUDIT_SENSITIVE_SET = 11,	/* the sensitive paths changed */
	ASM_AUDIT_LLM = 12,		/* an LLM request (in the LLM trail
					 * only): @op the provider that
					 * answered (0: none), @result 0 or
					 * -errno, @old_value the tokens used,
					 * @new_value the duration in us,
					 * @detail the request and, when the
					 * llm_audit_prompts parameter is on,
					 * the prompt's start */
	ASM_AUDIT_DEPENDENCY = 13,	/* @op: ASM_DEP_ADD or ASM_DEP_REMOVE;
					 * @old_value: the dependency's id;
					 * @new_value: enum asm_dep_kind (of
					 * the removed edge for REMOVE; 0 when
					 * none was);
					 * @result 0 or -errno */
	ASM_AUDIT_CASCADE = 14,		/* the agent was stopped by a cascade:
					 * @old_value the agent whose end
					 * started it, @new_value the grace
					 * before SIGKILL in ms */
};

/* The trails ASM_IOC_GET_AUDIT reads (asm_audit_read.trail). */
enum asm_audit_trail {
	ASM_AUDIT_TRAIL_POLICY = 0,	/* registrations, patches, violations,
					 * ...: ASM_AUDIT_ENTRIES */
	ASM_AUDIT_TRAIL_LLM = 1,	/* one entry per LLM request that
					 * reached the bucket:
					 * ASM_AUDIT_LLM_ENTRIES */
};

/*
 * The op of an ASM_AUDIT_UNREGISTER entry when the module forgot an agent
 * registered without CAP_SYS_ADMIN whose processes were all gone for the
 * reclaim_ms module parameter.
 */
#define ASM_UNREGISTER_RECLAIMED	1

#define ASM_AUDIT_DETAIL_LEN	192
#define ASM_AUDIT_HASH_LEN	32	/* SHA-256 */
#define ASM_AUDIT_ENTRIES	256	/* entries the kernel keeps */
#define ASM_AUDIT_LLM_ENTRIES	512	/* ... in the LLM trail */

/**
 * struct asm_audit_entry - one entry of the audit trail.
 * @seq:	0, 1, 2, ... since load.
 * @time_ns:	CLOCK_REALTIME.
 * @kind:	enum asm_audit_kind.
 * @op:		what, per @kind.
 * @agent_id:	the agent (0 for the defaults or the system).
 * @uid:	who: effective uid (initial user namespace); for what the
 *		kernel observed, the uid of the agent's process.
 * @pid:	who: thread group id in the initial pid namespace.
 * @result:	0, or the -errno a refused request got.
 * @old_value:	the value before (per @kind).
 * @new_value:	the value after (per @kind).
 * @detail:	NUL-terminated text: a path, a scope change, a note.
 * @prev_hash:	@hash of entry @seq - 1 (zero for entry 0).
 * @hash:	SHA-256 of every byte of this entry before @hash.
 */
struct asm_audit_entry {
	__u64 seq;
	__u64 time_ns;
	__u32 kind;
	__u32 op;
	__u32 agent_id;
	__u32 uid;
	__s32 pid;
	__s32 result;
	__u64 old_value;
	__u64 new_value;
	char detail[ASM_AUDIT_DETAIL_LEN];
	__u8 prev_hash[ASM_AUDIT_HASH_LEN];
	__u8 hash[ASM_AUDIT_HASH_LEN];
};

/**
 * struct asm_audit_read - ASM_IOC_GET_AUDIT argument.
 * @size:	sizeof(struct asm_audit_read).
 * @version:	ASM_ABI_VERSION.
 * @from_seq:	in: the first entry wanted; older ones that are gone are
 *		skipped (so 0 reads from the oldest kept).
 * @entries:	user pointer to @capacity struct asm_audit_entry.
 * @capacity:	entries @entries has room for.
 * @count:	out: entries written, in order.
 * @first_seq:	out: the oldest entry kept.
 * @next_seq:	out: the seq the next entry will get.
 * @dropped:	out: entries overwritten before anyone could keep them
 *		(first_seq: they are counted, not kept).
 * @suppressed:	out: entries the rate limits kept out of the trail, or
 *		requests they refused (EAGAIN): beyond ASM_AUDIT_LIMIT_BURST
 *		per ASM_AUDIT_LIMIT_WINDOW_S seconds for a user without
 *		CAP_SYS_ADMIN (their requests and their agents' reports) or
 *		an administrator's agent (its own reports).  The LLM
 *		trail has no rate limit (the token buckets bound it).
 * @trail:	in: enum asm_audit_trail.  Each trail is its own hash
 *		chain, numbered from 0.
 * @reserved0:	must be 0.
 *
 * Reading a trail needs CAP_SYS_ADMIN.
 */
struct asm_audit_read {
	__u32 size;
	__u32 version;
	__u64 from_seq;
	__u64 entries;
	__u32 capacity;
	__u32 count;
	__u64 first_seq;
	__u64 next_seq;
	__u64 dropped;
	__u64 suppressed;
	__u32 trail;
	__u32 reserved0;
};

/* The audit trail's rate limit per source (a user without CAP_SYS_ADMIN,
 * an administrator's agent), and the audit_seq of an entry it kept out. */
#define ASM_AUDIT_LIMIT_BURST		32
#define ASM_AUDIT_LIMIT_WINDOW_S	60
#define ASM_AUDIT_SUPPRESSED		(~0ULL)

/* Compliance statuses, from the score. */
enum asm_compliance_status {
	ASM_COMPLIANT = 1,		/* score >= 900 */
	ASM_REVIEW_NEEDED = 2,		/* 700 <= score < 900 */
	ASM_NON_COMPLIANT = 3,		/* score < 700 */
};

/*
 * The compliance score, in thousandths:
 *   1000 - 150 * violations - 50 * crashes + 25 * oversight
 *        + 10 * clean_exits, clamped to 0..1000.
 */
#define ASM_SCORE_MAX			1000
#define ASM_SCORE_VIOLATION		150
#define ASM_SCORE_CRASH			50
#define ASM_SCORE_OVERSIGHT		25
#define ASM_SCORE_CLEAN_EXIT		10

/**
 * struct asm_compliance - ASM_IOC_GET_COMPLIANCE argument.
 * @size:	sizeof(struct asm_compliance).
 * @version:	ASM_ABI_VERSION.
 * @agent_id:	in: the agent.  Every other field is out.
 * @risk_level:	enum asm_risk.
 * @events:	audit entries recorded about the agent.
 * @violations:	capability violations.
 * @oversight:	human oversight actions.
 * @decisions:	decisions the agent reported.
 * @sensitive:	opens of paths marked sensitive.
 * @clean_exits: processes that exited with code 0.
 * @crashes:	processes that crashed (fatal signal or non-zero code).
 * @score:	0..ASM_SCORE_MAX, the formula above.
 * @status:	enum asm_compliance_status.
 * @llm_requests: LLM requests the agent's bucket let through.
 * @reserved:	must be 0 on input.
 */
struct asm_compliance {
	__u32 size;
	__u32 version;
	__u32 agent_id;
	__u32 risk_level;
	__u64 events;
	__u64 violations;
	__u64 oversight;
	__u64 decisions;
	__u64 sensitive;
	__u64 clean_exits;
	__u64 crashes;
	__u32 score;
	__u32 status;
	__u64 llm_requests;
	__u64 reserved[1];
};

#define ASM_NOTE_LEN	128	/* including the terminating NUL */

/**
 * struct asm_note - ASM_IOC_OVERSIGHT and ASM_IOC_DECISION argument.
 * @size:	sizeof(struct asm_note).
 * @version:	ASM_ABI_VERSION.
 * @agent_id:	OVERSIGHT: the agent; DECISION: in 0, out the caller's agent.
 * @kind:	OVERSIGHT: enum asm_oversight; DECISION: 0.
 * @text:	NUL-terminated, printable: the note or the decision.
 * @audit_seq:	out: the audit entry recording it.
 * @reserved:	must be 0.
 *
 * OVERSIGHT needs CAP_SYS_ADMIN, from a process that is not the agent's
 * own (EPERM).  DECISION comes from a process of the agent (ESRCH when
 * the caller is none).
 */
struct asm_note {
	__u32 size;
	__u32 version;
	__u32 agent_id;
	__u32 kind;
	char text[ASM_NOTE_LEN];
	__u64 audit_seq;
	__u64 reserved[2];
};

/* Kinds of dependency edges (ASM_IOC_DEPS). */
enum asm_dep_kind {
	ASM_DEP_REQUIRED = 1,		/* the dependent needs the dependency */
	ASM_DEP_OPTIONAL = 2,		/* the dependent can do without it */
	ASM_DEP_PEER = 3,		/* the two work together */
};

enum asm_dep_op {
	ASM_DEP_ADD = 1,		/* @dependent depends on @dependency */
	ASM_DEP_REMOVE = 2,		/* that edge goes (@kind: 0) */
	ASM_DEP_LIST = 3,		/* every edge the caller sees into
					 * @edges */
};

#define ASM_DEP_EDGES_MAX	1024	/* edges the module keeps, of which
					 * users without CAP_SYS_ADMIN add
					 * at most 3/4 */
#define ASM_DEP_EDGES_PER_UID	64	/* edges one such user adds */

/**
 * struct asm_dep_edge - one edge of the dependency graph.
 * @dependent:	the agent that depends.
 * @dependency:	the agent it depends on.
 * @kind:	enum asm_dep_kind.
 * @signal:	ASM_DEP_OPTIONAL: the signal the dependent's processes get
 *		when the dependency ends (0: none); else 0.
 */
struct asm_dep_edge {
	__u32 dependent;
	__u32 dependency;
	__u32 kind;
	__u32 signal;
};

/**
 * struct asm_deps - ASM_IOC_DEPS argument: the dependency graph between
 * agents.
 * @size:	sizeof(struct asm_deps).
 * @version:	ASM_ABI_VERSION.
 * @op:		enum asm_dep_op.
 * @kind:	ADD: enum asm_dep_kind; else 0.
 * @dependent:	ADD/REMOVE: the agent that depends; LIST: 0.
 * @dependency:	ADD/REMOVE: the agent it depends on; LIST: 0.
 * @capacity:	LIST: room in @edges, in edges; else 0.
 * @count:	in: 0; out (LIST): the edges the caller sees, which may be
 *		more than @capacity (then only @capacity were written).
 * @edges:	LIST: user pointer to struct asm_dep_edge[@capacity].
 * @audit_seq:	out (ADD/REMOVE): the audit entry's sequence number.
 * @signal:	ADD of an ASM_DEP_OPTIONAL edge: the signal its dependent
 *		gets when the dependency ends, 0 for none; one of SIGHUP,
 *		SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM, SIGWINCH.  Else 0.
 * @reserved:	must be 0.
 *
 * The edges are directed, and together they never form a cycle.  ADD
 * needs the right to narrow the policy of both agents (their owner, or
 * CAP_SYS_ADMIN); REMOVE needs CAP_SYS_ADMIN; neither comes from a process
 * of an agent.  Each ADD and REMOVE that names two agents the caller sees
 * is audited, a caller's without CAP_SYS_ADMIN (or from inside an agent)
 * at that user's audit rate.  An edge belongs to the registrations of its
 * agents: it goes when either is unregistered, and never joins an agent
 * registered again under the same id.
 *
 * Errors: EINVAL (a bad field, or @dependent == @dependency), ESRCH (an
 * agent that does not exist or that the caller does not see), EPERM,
 * EAGAIN (the user's audit rate), EEXIST (ADD: the two agents already
 * have an edge, in either direction), ELOOP (ADD: the edge would close a
 * cycle), ENOENT (REMOVE: no such edge), EDQUOT (ADD: the user added
 * ASM_DEP_EDGES_PER_UID edges), ENOSPC (ADD: no room left, for users or
 * at all), ENOMEM, EFAULT.
 */
struct asm_deps {
	__u32 size;
	__u32 version;
	__u32 op;
	__u32 kind;
	__u32 dependent;
	__u32 dependency;
	__u32 capacity;
	__u32 count;
	__u64 edges;
	__u64 audit_seq;
	__u32 signal;
	__u32 reserved[3];
};

#define ASM_PROFILE_OP_LEN	32	/* an operation's name, with its NUL */
#define ASM_PROFILE_OPS_MAX	32	/* operation names per agent */
#define ASM_PROFILE_SAMPLES	100	/* samples kept per operation */
#define ASM_PROFILE_DURATION_MAX 3600000000000ULL /* 1 hour, in ns */

enum asm_profile_cmd {
	ASM_PROFILE_BEGIN = 1,		/* @token := the time now */
	ASM_PROFILE_END = 2,		/* records @op: now - @token, and
					 * @success */
	ASM_PROFILE_RECORD = 3,		/* records @op: @duration_ns, and
					 * @success */
	ASM_PROFILE_STATS = 4,		/* the statistics of @op for
					 * @agent_id, or over every agent the
					 * caller sees (@agent_id 0) */
};

/**
 * struct asm_profile - ASM_IOC_PROFILE argument: an agent's operations and
 * their latency statistics.
 * @size:	sizeof(struct asm_profile).
 * @version:	ASM_ABI_VERSION.
 * @cmd:	enum asm_profile_cmd.
 * @agent_id:	STATS: the agent, or 0 for the aggregate of @op over every
 *		agent the caller sees; else 0 (the caller's own agent).
 * @op:		END, RECORD: the operation's name, 1 to 31 characters of
 *		[A-Za-z0-9_.:-], NUL-padded; STATS: a name, or empty to ask
 *		for the @index-th operation of @agent_id (then filled in);
 *		BEGIN: empty.
 * @token:	BEGIN: out; END: in, as BEGIN gave it; else 0.
 * @duration_ns: RECORD: in, at most ASM_PROFILE_DURATION_MAX; END: out;
 *		else 0.
 * @success:	END, RECORD: 1 if the operation succeeded, 0 if not; else 0.
 * @index:	STATS with an empty @op: which operation, from 0; else 0.
 * @total:	STATS out: samples recorded since the operation's first.
 * @successes:	STATS out: of those, the ones that succeeded.
 * @kept:	STATS out: samples the statistics below are over (the last
 *		ASM_PROFILE_SAMPLES of each agent).
 * @ops:	STATS out: the agent's operation names (aggregate: 0).
 * @min_ns:	STATS out, as the next five: over the kept samples.
 * @max_ns:	STATS out.
 * @avg_ns:	STATS out: the mean, rounded down.
 * @p50_ns:	STATS out: nearest-rank percentiles: the smallest kept sample
 *		at or below which at least 50 (95, 99) per cent of them are
 *		(the ceil(p * n / 100)-th smallest of n).
 * @p95_ns:	STATS out.
 * @p99_ns:	STATS out.
 * @reserved:	must be 0.
 *
 * BEGIN, END and RECORD come from a process of an agent (ESRCH when the
 * caller is none) and concern that agent.  Durations are CLOCK_MONOTONIC
 * nanoseconds.  STATS needs nothing but seeing the agent.
 *
 * Errors: EINVAL (a bad field or name, a token from the future, a
 * duration above the maximum), ESRCH, ENOENT (STATS: no such operation, or
 * @index past the last), ENOSPC (END, RECORD: the agent has
 * ASM_PROFILE_OPS_MAX names already), ENOMEM, EFAULT.
 */
struct asm_profile {
	__u32 size;
	__u32 version;
	__u32 cmd;
	__u32 agent_id;
	char op[ASM_PROFILE_OP_LEN];
	__u64 token;
	__u64 duration_ns;
	__u32 success;
	__u32 index;
	__u64 total;
	__u64 successes;
	__u32 kept;
	__u32 ops;
	__u64 min_ns;
	__u64 max_ns;
	__u64 avg_ns;
	__u64 p50_ns;
	__u64 p95_ns;
	__u64 p99_ns;
	__u64 reserved[2];
};

#define ASM_SENSITIVE_MAX	8

enum asm_sensitive_op {
	ASM_SENSITIVE_ADD = 1,		/* mark @path (CAP_SYS_ADMIN) */
	ASM_SENSITIVE_REMOVE = 2,	/* unmark @path (CAP_SYS_ADMIN) */
	ASM_SENSITIVE_GET = 3,		/* @path := the @index-th marked path */
};

/**
 * struct asm_sensitive - ASM_IOC_SENSITIVE argument: the paths whose
 * opens by agents are logged as sensitive data access (a path marks
 * itself and everything under it).
 * @size:	sizeof(struct asm_sensitive).
 * @version:	ASM_ABI_VERSION.
 * @op:		enum asm_sensitive_op.
 * @index:	GET: which path (0-based); else 0.
 * @count:	out: paths marked now.
 * @reserved0:	must be 0.
 * @path:	ADD/REMOVE: an absolute path; GET: out.
 * @reserved:	must be 0.
 *
 * Errors: EINVAL, EPERM, EEXIST (ADD: already marked), ENOENT (REMOVE:
 * not marked; GET: @index >= @count), ENOSPC (ADD: ASM_SENSITIVE_MAX).
 */
struct asm_sensitive {
	__u32 size;
	__u32 version;
	__u32 op;
	__u32 index;
	__u32 count;
	__u32 reserved0;
	char path[ASM_SCOPE_LEN];
	__u64 reserved[2];
};

/*
 * LLM requests (ASM_IOC_LLM_REQUEST), Documentation/gateway.rst.
 *
 * The request is the user guide's JSON document: "prompt" (required, at
 * most ASM_LLM_PROMPT_MAX bytes once unescaped: E2BIG beyond),
 * "agent_id" (0 or absent: the caller's agent; another agent's id is
 * EPERM), "max_tokens" (1 to ASM_LLM_MAX_TOKENS_MAX, default 1000),
 * "temperature" (0 to 1, at most three decimals, default 0.7),
 * "preferred_provider" ("claude", "gpt4", "gemini", "local"),
 * "system_message" (at most ASM_LLM_SYSTEM_MAX bytes), "timeout_ms" (1 to
 * ASM_LLM_TIMEOUT_MAX_MS, default 30000).  Unknown or repeated members,
 * nested values and exponents are EINVAL.
 */
#define ASM_LLM_REQUEST_MAX	65536	/* the request document */
#define ASM_LLM_PROMPT_MAX	32768
#define ASM_LLM_SYSTEM_MAX	8192
#define ASM_LLM_TEXT_MAX	32768	/* an answer's text */
#define ASM_LLM_MAX_TOKENS_MAX	100000
#define ASM_LLM_TIMEOUT_MAX_MS	600000
#define ASM_LLM_RESPONSE_MIN	256	/* smallest response buffer */

enum asm_llm_provider {
	ASM_LLM_ANY = 0,	/* no preference (requests only) */
	ASM_LLM_CLAUDE = 1,
	ASM_LLM_GPT4 = 2,
	ASM_LLM_GEMINI = 3,
	ASM_LLM_LOCAL = 4,
};

/**
 * struct asm_llm_request - ASM_IOC_LLM_REQUEST argument.
 * @request: user address of the request document, @request_len bytes
 *	(1 to ASM_LLM_REQUEST_MAX).
 * @response: user address of a buffer of @response_len bytes (at least
 *	ASM_LLM_RESPONSE_MIN) for the response document: "provider", "text",
 *	"tokens_used", "duration_us", "was_fallback".
 * @flags: 0 (ask and wait), ASM_LLM_SUBMIT or ASM_LLM_COLLECT.
 * @written: out: the response document's length, also the ioctl's
 *	return value; with ENOSPC, the size it needed (the answer is lost).
 * @request_id: out: the gateway's number for the request (0 if it was
 *	refused before it was queued); ASM_LLM_COLLECT: in, the request
 *	to collect (0: any finished one), out: the one collected.
 *
 * Without flags the caller sleeps until the answer, the timeout
 * (ETIMEDOUT) or a signal (EINTR: the request is withdrawn and its token
 * spent; the call is not restarted).
 *
 * ASM_LLM_SUBMIT queues the request and returns 0 at once with its
 * @request_id (@response, @response_len and @request_id must be 0).  The request
 * belongs to the open file: poll() reports EPOLLIN while one of the
 * file's requests has finished, and ASM_LLM_COLLECT (@request 0,
 * @request_len 0) takes a finished one: its response document, or its
 * errno (EIO, ETIMEDOUT) with @request_id set.  Collecting gives EAGAIN
 * while the request (or, with @request_id 0, every request of the file)
 * is unfinished, ENOENT for an id the file did not submit or that was
 * already collected, and EPERM from a process that is not of the agent
 * that submitted it.  A submitted request's timeout is checked every
 * second.  Closing the file withdraws its requests.
 */
#define ASM_LLM_SUBMIT		(1U << 0)
#define ASM_LLM_COLLECT		(1U << 1)
struct asm_llm_request {
	__u32 size;
	__u32 version;
	__u64 request;
	__u64 response;
	__u32 request_len;
	__u32 response_len;
	__u32 flags;
	__u32 written;
	__u64 request_id;
	__u64 reserved[2];
};

/*
 * Generic netlink family ASM_GENL_NAME: every event of the ring is also
 * multicast to the group ASM_GENL_MCGRP_EVENTS as one ASM_CMD_EVENT
 * message, in order, from process context shortly after it happened.
 * Joining the group needs CAP_NET_ADMIN (the events name other users'
 * agents and processes; Documentation/uapi.rst).
 *
 * For ASM_EV_RECOVERY, ASM_EV_RESTARTED and ASM_EV_FAILED, ASM_A_VALUE is
 * the agent's restart count and ASM_A_LIMIT its restart budget.  For
 * ASM_EV_FAULT they are the observed value and the limit.  ASM_A_SEQ
 * numbers the events from 0 since load: a gap means events were lost (the
 * ring overwrote them before they were sent, or a socket buffer was full).
 */
#define ASM_GENL_NAME		"asm"
#define ASM_GENL_VERSION	1
#define ASM_GENL_MCGRP_EVENTS	"events"
#define ASM_GENL_MCGRP_GATEWAY	"gateway"

/*
 * The gateway helper's commands (all need CAP_NET_ADMIN): REGISTER makes
 * the sending socket the helper (EBUSY while another is); the kernel
 * multicasts GW_NOTIFY (ASM_A_REQ_ID) to the "gateway" group when a
 * request is queued; GW_PULL (from the helper's socket) answers with the
 * oldest queued request's attributes (ENOENT when none); GW_COMPLETE
 * answers a request the helper pulled (ASM_A_REQ_ID, ASM_A_STATUS, and on
 * success ASM_A_PROVIDER, ASM_A_TEXT, ASM_A_TOKENS_USED, ASM_A_FALLBACK;
 * ASM_A_TRIED for the per-provider figures).
 * When the helper's socket closes, its requests fail with EIO.
 */
enum asm_genl_cmd {
	ASM_CMD_UNSPEC = 0,
	ASM_CMD_EVENT = 1,	/* kernel to user, multicast: one event */
	ASM_CMD_GW_REGISTER = 2,
	ASM_CMD_GW_NOTIFY = 3,
	ASM_CMD_GW_PULL = 4,
	ASM_CMD_GW_COMPLETE = 5,
};

enum asm_genl_attr {
	ASM_A_UNSPEC = 0,
	ASM_A_PAD = 1,
	ASM_A_SEQ = 2,		/* u64 */
	ASM_A_TIMESTAMP_NS = 3,	/* u64, CLOCK_BOOTTIME */
	ASM_A_EVENT_TYPE = 4,	/* u32, enum asm_event_type */
	ASM_A_AGENT_ID = 5,	/* u32 */
	ASM_A_PID = 6,		/* s32, initial pid namespace; 0 if none */
	ASM_A_EXIT_CODE = 7,	/* s32, EXIT and CRASH */
	ASM_A_SIGNAL = 8,	/* s32, CRASH, and EXIT by a kill action */
	ASM_A_FAULT = 9,	/* u32, enum asm_fault_type */
	ASM_A_ACTION = 10,	/* u32, enum asm_action */
	ASM_A_VALUE = 11,	/* u64 */
	ASM_A_LIMIT = 12,	/* u64 */
	ASM_A_REQ_ID = 13,	/* u64: a gateway request */
	ASM_A_UID = 14,		/* u32: the agent's owner (effective uid) */
	ASM_A_CAPS = 15,	/* u64: the agent's capabilities */
	ASM_A_PROMPT = 16,	/* binary, UTF-8 */
	ASM_A_SYSTEM = 17,	/* binary, UTF-8 */
	ASM_A_MAX_TOKENS = 18,	/* u32 */
	ASM_A_TEMPERATURE = 19,	/* u32, thousandths */
	ASM_A_PROVIDER = 20,	/* u32, enum asm_llm_provider */
	ASM_A_TIMEOUT_MS = 21,	/* u32 */
	ASM_A_STATUS = 22,	/* u32: 0, or EIO or ETIMEDOUT */
	ASM_A_TEXT = 23,	/* binary, UTF-8, at most ASM_LLM_TEXT_MAX */
	ASM_A_TOKENS_USED = 24,	/* u32 */
	ASM_A_FALLBACK = 25,	/* flag: a fallback provider answered */
	ASM_A_TRIED = 26,	/* binary: u32 providers tried, in order (the
				 * last answered on success); at most 64 */
	__ASM_A_MAX,
};
#define ASM_A_MAX		(__ASM_A_MAX - 1)

#define ASM_IOC_MAGIC	0xBA

#define ASM_IOC_REGISTER		_IOWR(ASM_IOC_MAGIC, 0x01, struct asm_register)
#define ASM_IOC_UNREGISTER		_IOW(ASM_IOC_MAGIC, 0x02, struct asm_unregister)
#define ASM_IOC_LIST			_IOWR(ASM_IOC_MAGIC, 0x03, struct asm_list)
#define ASM_IOC_GET_INFO		_IOWR(ASM_IOC_MAGIC, 0x04, struct asm_agent_info)
#define ASM_IOC_GET_TELEMETRY_JSON	_IOWR(ASM_IOC_MAGIC, 0x05, struct asm_json)
#define ASM_IOC_GET_AGENT_INFO_JSON	_IOWR(ASM_IOC_MAGIC, 0x06, struct asm_json)
#define ASM_IOC_SET_FAULT_POLICY	_IOW(ASM_IOC_MAGIC, 0x07, struct asm_fault_policy)
#define ASM_IOC_GET_FAULT_POLICY	_IOWR(ASM_IOC_MAGIC, 0x08, struct asm_fault_policy)
#define ASM_IOC_HEARTBEAT		_IOWR(ASM_IOC_MAGIC, 0x09, struct asm_heartbeat)
#define ASM_IOC_GET_HISTORY		_IOWR(ASM_IOC_MAGIC, 0x0a, struct asm_history)
#define ASM_IOC_PATCH_POLICY		_IOWR(ASM_IOC_MAGIC, 0x0b, struct asm_patch)
#define ASM_IOC_GET_AUDIT		_IOWR(ASM_IOC_MAGIC, 0x0c, struct asm_audit_read)
#define ASM_IOC_GET_COMPLIANCE		_IOWR(ASM_IOC_MAGIC, 0x0d, struct asm_compliance)
#define ASM_IOC_OVERSIGHT		_IOWR(ASM_IOC_MAGIC, 0x0e, struct asm_note)
#define ASM_IOC_DECISION		_IOWR(ASM_IOC_MAGIC, 0x0f, struct asm_note)
#define ASM_IOC_SENSITIVE		_IOWR(ASM_IOC_MAGIC, 0x10, struct asm_sensitive)
#define ASM_IOC_LLM_REQUEST		_IOWR(ASM_IOC_MAGIC, 0x11, struct asm_llm_request)
#define ASM_IOC_DEPS			_IOWR(ASM_IOC_MAGIC, 0x12, struct asm_deps)
#define ASM_IOC_PROFILE			_IOWR(ASM_IOC_MAGIC, 0x13, struct asm_profile)

#endif /* _UAPI_LINUX_ASM_H */
