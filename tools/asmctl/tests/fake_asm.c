// SPDX-License-Identifier: GPL-2.0
/*
 * A stand-in for the asm module, loaded into asmctl with LD_PRELOAD by
 * tests/fake.rs: opening /dev/asm gives /dev/null, and the ioctls on that
 * fd answer as Documentation/uapi.rst says the module does.  The request
 * numbers and structs come from include/uapi/linux/asm.h itself, so the
 * Rust side's numbers and layouts are checked against the header's macros.
 *
 * Agents: 100 (live), 101 (live, restarted, throttled), 102 (exited), then
 * 999 and 5000 to 5069, listed but gone by the time they are queried
 * (ESRCH).  The list is longer, and every JSON document claims to need more
 * room (JSON_ROOM), than asmctl's first buffers, so its ERANGE retries must
 * grow them by what the answer says.  Only 101's document has the fault
 * detector's fields and the gateway's "llm" object; 100's and 102's are
 * those of a module from before them.
 *
 * Each agent has its own fault policy over the defaults, and sampler
 * windows (60 for 100, 3 for 101, none for 102).  The requests are checked
 * strictly: a SET must leave every field its flags do not cover zero.
 *
 * The telemetry's ten events cover every way asmstatus words one: agent
 * 100 crashes and is restarted (recovery, spawn, restarted), agent 101 is
 * throttled, then a kill action ends it (an exit by signal 9, failed), and
 * agent 100's LLM request is answered.
 *
 * Dependencies: 101 requires 100, and 102 would like 101 (optional, with
 * SIGUSR1 when it ends).
 * FAKE_ASM_DEPS_EXTRA=N lists N more edges (5000 + i, gone since, as peers
 * of 100), more than asmctl's first buffer holds; FAKE_ASM_NO_DEPS makes
 * ASM_IOC_DEPS unknown (ENOTTY), as for a module from before it.  ADD and
 * REMOVE check the rules (EEXIST, ELOOP, ENOENT, ESRCH, and the module's
 * signals: on an Optional ADD only, one of seven) against these edges and
 * change nothing.
 *
 * Profiling: agent 100 reported fetch, parse, db.query and llm:call (in
 * that order), 101 fetch, 102 nothing; the aggregate of fetch is over 100
 * and 101.  The figures are canned, and STATS checks its fields as the
 * module does.  FAKE_ASM_NO_PROFILE makes ASM_IOC_PROFILE unknown
 * (ENOTTY), as for a module from before it.
 *
 * FAKE_ASM_ERRNO=N makes REGISTER, UNREGISTER, SET_FAULT_POLICY,
 * PATCH_POLICY, OVERSIGHT, DECISION, SENSITIVE ADD/REMOVE, DEPS
 * ADD/REMOVE and PROFILE RECORD/END fail with errno N; FAKE_ASM_LOG=path
 * records each of those requests there;
 * FAKE_ASM_AGENT=N makes the caller a process of agent N for HEARTBEAT,
 * DECISION, LLM_REQUEST and PROFILE BEGIN/END/RECORD (which also fail
 * with FAKE_ASM_ERRNO and log to FAKE_ASM_LOG; BEGIN logs too).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/asm.h>

static int fake_fd = -1;

/* Limits and actions as struct asm_fault_policy carries them. */
struct policy {
	__u32 cpu_quota_ms, syscall_rate, watchdog_ms;
	__u64 mem_limit_bytes;
	__u8 actions[8];
};

/* The user guide's table, a CPU quota and a watchdog; no memory limit. */
static const struct policy defaults = {
	500, 0, 30000, 0,
	{ 0, ASM_ACTION_THROTTLE, ASM_ACTION_KILL, ASM_ACTION_THROTTLE,
	  ASM_ACTION_RESTART, ASM_ACTION_KILL, ASM_ACTION_RESTART, 0 },
};

struct agent {
	__u32 id, state, nr_processes, auto_restart, restart_count;
	__s32 pid;
	__u64 caps, mem_bytes, faults;
	const char *name, *scope, *state_name, *caps_json;
	struct policy policy;	/* its own settings */
	/* Sampler: windows kept; per-window CPU ms and syscalls grow by. */
	__u32 windows, cpu_step_ms, syscall_step, throttled;
	const char *fault_json;	/* the fault detector's fields, or NULL */
	const char *llm_json;	/* the gateway's "llm" member, or NULL */
};

static const struct agent agents[] = {
	{ 100, ASM_STATE_ACTIVE, 1, 3, 0, 42,
	  ASM_CAP_FS_BASIC | ASM_CAP_FS_EXTENDED, 4096000, 0, "fs_monitor",
	  "/tmp/ws/", "Active", "[\"FsBasic\",\"FsExtended\"]",
	  { 0, ASM_LIMIT_NONE32, 0, 100 << 20,
	    { 0, 0, ASM_ACTION_LOG, 0, 0, 0, 0, 0 } },
	  60, 5, 2, 0, NULL, NULL },
	{ 101, ASM_STATE_RESTARTED, 2, 5, 2, 43, ASM_CAP_NET_CLIENT,
	  52428800, 3, "net_agent", "", "Restarted", "[\"NetClient\"]",
	  { 200, 1000, 5000, 0,
	    { 0, 0, ASM_ACTION_LOG, 0, ASM_ACTION_KILL, 0, 0, 0 } },
	  3, 400, 500, 1,
	  "\"throttled\":true,"
	  "\"limits\":{\"cpu_quota_ms\":200,\"mem_limit_bytes\":null,"
	  "\"syscall_rate\":1000,\"watchdog_ms\":5000},"
	  "\"actions\":{\"cpu_quota\":\"Throttle\",\"memory\":\"Log\","
	  "\"syscall_flood\":\"Throttle\",\"crash\":\"Kill\","
	  "\"capability_violation\":\"Kill\",\"unresponsive\":\"Restart\"},"
	  "\"recent_faults\":[{\"timestamp_ns\":13000000000,"
	  "\"type\":\"CpuQuota\",\"observed\":950,\"limit\":200,"
	  "\"unit\":\"Milliseconds\",\"action\":\"Throttle\"},"
	  "{\"timestamp_ns\":13500000000,\"type\":\"SyscallFlood\","
	  "\"observed\":1500,\"limit\":1000,\"unit\":\"PerSecond\","
	  "\"action\":\"Throttle\"}],",
	  "\"llm\":{\"requests\":17,\"tokens_used\":4242,"
	  "\"rate_limited\":3,\"failures\":1,\"bucket\":{\"tokens\":12,"
	  "\"burst\":30,\"refill_per_s\":10}}," },
	{ 102, ASM_STATE_EXITED, 0, 0, 0, 0, 0, 0, 0, "audio_ctrl", "",
	  "Exited", "[]", { 0 }, 0, 0, 0, 0, NULL, NULL },
};
static const __u32 listed_ids[] = { 100, 101, 102, 999 };
#define NR_AGENTS (sizeof(agents) / sizeof(agents[0]))
#define NR_VANISHED 70
#define NR_LISTED (sizeof(listed_ids) / sizeof(listed_ids[0]) + NR_VANISHED)
#define JSON_ROOM 20000

static __u64 boottime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static const struct agent *find(__u32 id)
{
	for (size_t i = 0; i < NR_AGENTS; i++)
		if (agents[i].id == id)
			return &agents[i];
	return NULL;
}

static int fail(int e)
{
	errno = e;
	return -1;
}

static int agent_json(const struct agent *a, char *buf, size_t room)
{
	/* Last activity 5 s ago, so asminfo shows "5 seconds ago". */
	return snprintf(buf, room,
		"{\"agent_id\":%u,\"pid\":%d,\"name\":\"%s\",\"state\":\"%s\","
		"\"capabilities\":%s,\"scope\":\"%s\",\"auto_restart\":%s,"
		"\"max_restarts\":%u,\"restart_count\":%u,\"owner_uid\":0,"
		"\"nr_processes\":%u,\"spawn_count\":1,\"exit_count\":0,"
		"\"crash_count\":0,\"fault_count\":%llu,\"exec_count\":1,"
		"\"cpu_time_us\":125000,\"memory_bytes\":%llu,"
		"\"last_exit_code\":0,\"registered_ns\":1000000,%s%s"
		"\"last_activity_ns\":%llu}",
		a->id, a->pid, a->name, a->state_name, a->caps_json, a->scope,
		a->auto_restart ? "true" : "false", a->auto_restart,
		a->restart_count, a->nr_processes,
		(unsigned long long)a->faults,
		(unsigned long long)a->mem_bytes,
		a->fault_json ? a->fault_json : "",
		a->llm_json ? a->llm_json : "",
		(unsigned long long)(boottime_ns() - 5000000000ull));
}

static const char telemetry[] =
	"{\"system\":{\"total_agents_spawned\":3,\"total_agents_exited\":2,"
	"\"total_crashes\":1,\"total_faults\":1,\"total_restarts\":1,"
	"\"active_agents\":1,\"registered_agents\":1,\"total_syscalls\":812,"
	"\"events_total\":9,\"events_dropped\":0},"
	"\"agents\":{\"100\":{\"spawn_count\":3,\"exit_count\":2,"
	"\"crash_count\":1,\"fault_count\":1,\"cpu_time_us\":5210,"
	"\"memory_bytes\":1220608}},"
	"\"recent_events\":["
	"{\"timestamp_ns\":12345678901,\"type\":\"Crash\",\"agent_id\":100,"
	"\"pid\":43,\"exit_code\":0,\"signal\":11},"
	"{\"timestamp_ns\":12345678902,\"type\":\"Recovery\",\"agent_id\":100,"
	"\"pid\":0,\"exit_code\":0,\"signal\":0,\"restarts\":0,"
	"\"max_restarts\":3},"
	"{\"timestamp_ns\":12500000000,\"type\":\"Spawn\",\"agent_id\":100,"
	"\"pid\":44,\"exit_code\":0,\"signal\":0},"
	"{\"timestamp_ns\":12500000100,\"type\":\"Restarted\","
	"\"agent_id\":100,\"pid\":44,\"exit_code\":0,\"signal\":0,"
	"\"restarts\":1,\"max_restarts\":3},"
	"{\"timestamp_ns\":13000000000,\"type\":\"Fault\",\"agent_id\":101,"
	"\"pid\":43,\"exit_code\":0,\"signal\":0,\"fault\":\"CpuQuota\","
	"\"observed\":950,\"limit\":200,\"unit\":\"Milliseconds\"},"
	"{\"timestamp_ns\":13000000100,\"type\":\"Action\",\"agent_id\":101,"
	"\"pid\":43,\"exit_code\":0,\"signal\":0,\"fault\":\"CpuQuota\","
	"\"action\":\"Throttle\"},"
	"{\"timestamp_ns\":14000000000,\"type\":\"Release\",\"agent_id\":101,"
	"\"pid\":43,\"exit_code\":0,\"signal\":0,\"fault\":\"CpuQuota\"},"
	"{\"timestamp_ns\":15000000000,\"type\":\"Exit\",\"agent_id\":101,"
	"\"pid\":43,\"exit_code\":0,\"signal\":9},"
	"{\"timestamp_ns\":15000000100,\"type\":\"Failed\",\"agent_id\":101,"
	"\"pid\":0,\"exit_code\":0,\"signal\":0,\"restarts\":2,"
	"\"max_restarts\":5},"
	"{\"timestamp_ns\":16000000000,\"type\":\"LlmRequest\","
	"\"agent_id\":100,\"pid\":44,\"exit_code\":0,\"signal\":0,"
	"\"provider\":\"Claude\",\"result\":0,\"tokens_used\":12,"
	"\"duration_us\":35120}]}";

static int do_json(struct asm_json *j, int is_telemetry)
{
	char doc[4096];
	int len;

	if (j->reserved[0] || j->reserved[1])
		return fail(EINVAL);
	if (is_telemetry) {
		if (j->agent_id)
			return fail(EINVAL);
		len = snprintf(doc, sizeof(doc), "%s", telemetry);
	} else {
		const struct agent *a = find(j->agent_id);

		if (!a)
			return fail(ESRCH);
		len = agent_json(a, doc, sizeof(doc));
	}
	if (j->len < JSON_ROOM) {
		j->len = JSON_ROOM;
		return fail(ERANGE);
	}
	memcpy((void *)(unsigned long)j->buf, doc, len);
	j->len = len;
	return 0;
}

static int do_list(struct asm_list *l)
{
	__u32 *ids = (__u32 *)(unsigned long)l->ids;
	__u32 known = sizeof(listed_ids) / sizeof(listed_ids[0]);

	if (l->reserved[0] || l->reserved[1])
		return fail(EINVAL);
	for (__u32 i = 0; i < NR_LISTED && i < l->capacity; i++)
		ids[i] = i < known ? listed_ids[i] : 5000 + (i - known);
	l->count = NR_LISTED;
	return l->count > l->capacity ? fail(ERANGE) : 0;
}

/* Risk levels: 100 Limited, 101 High, 102 Minimal. */
static __u32 risk_of(__u32 id)
{
	switch (id) {
	case 100:
		return ASM_RISK_LIMITED;
	case 101:
		return ASM_RISK_HIGH;
	default:
		return ASM_RISK_MINIMAL;
	}
}

static int do_info(struct asm_agent_info *info)
{
	const struct agent *a = find(info->agent_id);
	__u32 id = info->agent_id;

	if (!a)
		return fail(ESRCH);
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	info->version = ASM_ABI_VERSION;
	info->agent_id = id;
	info->state = a->state;
	info->pid = a->pid;
	info->nr_processes = a->nr_processes;
	info->auto_restart = a->auto_restart;
	info->restart_count = a->restart_count;
	info->capabilities = a->caps;
	info->mem_bytes = a->mem_bytes;
	info->faults = a->faults;
	info->risk_level = risk_of(id);
	strcpy(info->name, a->name);
	strcpy(info->scope, a->scope);
	return 0;
}

static void log_line(const char *fmt, ...)
{
	const char *path = getenv("FAKE_ASM_LOG");
	va_list ap;
	FILE *f;

	if (!path || !(f = fopen(path, "a")))
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

static int forced_errno(void)
{
	const char *e = getenv("FAKE_ASM_ERRNO");

	return e ? atoi(e) : 0;
}

static int do_register(struct asm_register *r)
{
	struct stat st;
	int cgroup_is_dir = 0;

	if (r->flags || r->reserved0 || r->reserved[0] || r->reserved[2] ||
	    r->risk_level > ASM_RISK_UNACCEPTABLE ||
	    r->name[ASM_NAME_LEN - 1] || r->scope[ASM_SCOPE_LEN - 1] ||
	    (r->capabilities & ~ASM_CAP_ALL))
		return fail(EINVAL);
	if (r->target == ASM_TARGET_CGROUP)
		cgroup_is_dir = fstat(r->cgroup_fd, &st) == 0 &&
				S_ISDIR(st.st_mode);
	log_line("register caller=%d id=%u target=%u pid=%d cgroup_dir=%d "
		 "caps=%llu auto_restart=%u name=%s scope=%s%s\n",
		 getpid(), r->agent_id, r->target, r->pid, cgroup_is_dir,
		 (unsigned long long)r->capabilities, r->auto_restart,
		 r->name, r->scope,
		 r->risk_level == ASM_RISK_DEFAULT ? "" :
		 r->risk_level == ASM_RISK_UNACCEPTABLE ? " risk=unacceptable" :
		 r->risk_level == ASM_RISK_HIGH ? " risk=high" :
		 r->risk_level == ASM_RISK_MINIMAL ? " risk=minimal" :
		 " risk=limited");
	/* Prohibited: refused (and, in the module, audited). */
	if (r->risk_level == ASM_RISK_UNACCEPTABLE)
		return fail(EPERM);
	if (forced_errno())
		return fail(forced_errno());
	if (!r->agent_id)
		r->agent_id = ASM_ID_ALLOC_MIN;
	if (r->target == ASM_TARGET_SELF)
		r->pid = getpid();
	return 0;
}

static int all_zero(const void *p, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			return 0;
	return 1;
}

/* An agent's limit of 0 or an action of DEFAULT follows the defaults. */
static __u32 resolve32(__u32 own, __u32 def)
{
	if (own == ASM_LIMIT_NONE32)
		return 0;
	return own ? own : def;
}

static int do_get_policy(struct asm_fault_policy *p)
{
	const struct agent *a = NULL;
	const struct policy *src = &defaults;

	if ((p->flags & ~ASM_FP_EFFECTIVE) || p->preset ||
	    !all_zero(p->actions, sizeof(p->actions)) ||
	    !all_zero(p->reserved, sizeof(p->reserved)))
		return fail(EINVAL);
	if (p->agent_id) {
		a = find(p->agent_id);
		if (!a)
			return fail(ESRCH);
		src = &a->policy;
	} else if (p->flags & ASM_FP_EFFECTIVE) {
		/* The defaults have nothing to resolve. */
		return fail(EINVAL);
	}
	p->cpu_quota_ms = src->cpu_quota_ms;
	p->syscall_rate = src->syscall_rate;
	p->watchdog_ms = src->watchdog_ms;
	p->mem_limit_bytes = src->mem_limit_bytes;
	memcpy(p->actions, src->actions, sizeof(p->actions));
	if (a && (p->flags & ASM_FP_EFFECTIVE)) {
		p->cpu_quota_ms = resolve32(src->cpu_quota_ms,
					    defaults.cpu_quota_ms);
		p->syscall_rate = resolve32(src->syscall_rate,
					    defaults.syscall_rate);
		p->watchdog_ms = resolve32(src->watchdog_ms,
					   defaults.watchdog_ms);
		p->mem_limit_bytes =
			src->mem_limit_bytes == ASM_LIMIT_NONE64 ? 0 :
			src->mem_limit_bytes ? src->mem_limit_bytes :
			defaults.mem_limit_bytes;
		for (int f = ASM_FAULT_CPU_QUOTA; f < ASM_FAULT_TYPES; f++)
			if (!p->actions[f])
				p->actions[f] = defaults.actions[f];
	}
	p->flags = 0;
	return 0;
}

/* The rules of the header's struct asm_fault_policy comment. */
static int actions_valid(const __u8 *actions, int is_defaults)
{
	if (actions[0] || actions[7])
		return 0;
	for (int f = ASM_FAULT_CPU_QUOTA; f < ASM_FAULT_TYPES; f++) {
		if (actions[f] > ASM_ACTION_RESTART)
			return 0;
		if (is_defaults && actions[f] == ASM_ACTION_DEFAULT)
			return 0;
		if (actions[f] == ASM_ACTION_THROTTLE &&
		    f != ASM_FAULT_CPU_QUOTA && f != ASM_FAULT_SYSCALL_FLOOD)
			return 0;
	}
	return 1;
}

static int do_set_policy(const struct asm_fault_policy *p)
{
	const __u8 *a = p->actions;

	if (!p->flags ||
	    (p->flags & ~(ASM_FP_SET_LIMITS | ASM_FP_SET_ACTIONS)) ||
	    !all_zero(p->reserved, sizeof(p->reserved)))
		return fail(EINVAL);
	/* Strict: what the flags do not cover must be left zero. */
	if (!(p->flags & ASM_FP_SET_LIMITS) &&
	    (p->cpu_quota_ms || p->syscall_rate || p->watchdog_ms ||
	     p->mem_limit_bytes))
		return fail(EINVAL);
	if (!(p->flags & ASM_FP_SET_ACTIONS) &&
	    (p->preset || !all_zero(a, sizeof(p->actions))))
		return fail(EINVAL);
	if ((p->flags & ASM_FP_SET_ACTIONS) && p->preset > ASM_PRESET_STRICT)
		return fail(EINVAL);
	if ((p->flags & ASM_FP_SET_ACTIONS) && p->preset &&
	    !all_zero(a, sizeof(p->actions)))
		return fail(EINVAL);
	if ((p->flags & ASM_FP_SET_ACTIONS) && !p->preset &&
	    !actions_valid(a, !p->agent_id))
		return fail(EINVAL);
	if (p->agent_id && !find(p->agent_id))
		return fail(ESRCH);
	log_line("set_policy id=%u flags=%u cpu=%u mem=%llu rate=%u "
		 "watchdog=%u preset=%u actions=%u,%u,%u,%u,%u,%u\n",
		 p->agent_id, p->flags, p->cpu_quota_ms,
		 (unsigned long long)p->mem_limit_bytes, p->syscall_rate,
		 p->watchdog_ms, p->preset, a[1], a[2], a[3], a[4], a[5], a[6]);
	if (forced_errno())
		return fail(forced_errno());
	return 0;
}

static int do_heartbeat(struct asm_heartbeat *b)
{
	const char *agent = getenv("FAKE_ASM_AGENT");

	if (b->flags || !all_zero(b->reserved, sizeof(b->reserved)))
		return fail(EINVAL);
	if (!agent)
		return fail(ESRCH);
	b->agent_id = atoi(agent);
	return 0;
}

/* Window @k (0: the oldest kept) of agent @a. */
static void fill_window(const struct agent *a, __u32 k, struct asm_window *w)
{
	w->start_ns = 1000000000000ull + k * 1000000000ull;
	w->cpu_ns = (__u64)(k + 1) * a->cpu_step_ms * 1000000ull;
	w->rss_bytes = a->mem_bytes + k * 4096ull;
	w->syscalls = (__u64)(k + 1) * a->syscall_step;
	w->io_ops = k % 7;
}

static int do_history(struct asm_history *h)
{
	struct asm_window *w = (void *)(unsigned long)h->windows;
	const struct agent *a = find(h->agent_id);
	__u32 n;

	if (!all_zero(h->reserved, sizeof(h->reserved)) ||
	    (h->capacity && !w))
		return fail(EINVAL);
	if (!a)
		return fail(ESRCH);
	n = h->capacity < a->windows ? h->capacity : a->windows;
	/* The newest n, oldest first. */
	for (__u32 i = 0; i < n; i++)
		fill_window(a, a->windows - n + i, &w[i]);
	h->count = n;
	h->window_ms = ASM_WINDOW_MS;
	h->cpu_ns = 125000000ull * a->windows;
	h->syscalls = 9000ull * a->windows;
	h->io_ops = 300ull * a->windows;
	/* RSS at the last sample: that of the newest window. */
	h->rss_bytes = a->windows ?
		a->mem_bytes + (a->windows - 1) * 4096ull : 0;
	h->rss_peak_bytes = a->mem_bytes * 2;
	h->throttled = a->throttled;
	h->reserved0 = 0;
	return 0;
}

/*
 * The ABI of the audit trail and compliance report.  PATCH_POLICY
 * refuses to grant Admin and checks SET_LLM_RATE's bounds;
 * GET_AUDIT serves the raw struct asm_audit_entry records of the file
 * FAKE_ASM_AUDIT, or FAKE_ASM_AUDIT_LLM for the LLM trail (EPERM without
 * it, as for a caller without CAP_SYS_ADMIN); two paths are marked
 * sensitive.
 */
static int do_patch(struct asm_patch *p)
{
	if (p->reserved0 || !all_zero(p->reserved, sizeof(p->reserved)) ||
	    p->audit_seq || p->scope[ASM_SCOPE_LEN - 1] ||
	    p->op < ASM_PATCH_ADD_CAPABILITY ||
	    p->op > ASM_PATCH_SET_LLM_RATE)
		return fail(EINVAL);
	if (p->op != ASM_PATCH_SET_LIMITS &&
	    (p->cpu_quota_ms || p->syscall_rate || p->watchdog_ms ||
	     p->mem_limit_bytes))
		return fail(EINVAL);
	if (p->op != ASM_PATCH_UPDATE_SCOPE && p->scope[0])
		return fail(EINVAL);
	if (p->op != ASM_PATCH_SET_LLM_RATE && (p->llm_burst || p->llm_refill))
		return fail(EINVAL);
	if (p->op == ASM_PATCH_SET_LLM_RATE &&
	    (p->value || p->llm_burst < 1 || p->llm_burst > ASM_LLM_BURST_MAX ||
	     p->llm_refill < 1 || p->llm_refill > ASM_LLM_REFILL_MAX))
		return fail(EINVAL);
	if (!find(p->agent_id))
		return fail(ESRCH);
	if (p->op == ASM_PATCH_SET_LLM_RATE)
		log_line("patch id=%u op=%u burst=%u refill=%u\n", p->agent_id,
			 p->op, p->llm_burst, p->llm_refill);
	else
		log_line("patch id=%u op=%u value=%llu cpu=%u rate=%u "
			 "watchdog=%u mem=%llu scope=%s\n", p->agent_id, p->op,
			 (unsigned long long)p->value, p->cpu_quota_ms,
			 p->syscall_rate, p->watchdog_ms,
			 (unsigned long long)p->mem_limit_bytes, p->scope);
	if (p->op == ASM_PATCH_ADD_CAPABILITY && (p->value & ASM_CAP_ADMIN))
		return fail(EPERM);
	if (forced_errno())
		return fail(forced_errno());
	p->audit_seq = 42;
	return 0;
}

static int do_audit(struct asm_audit_read *r)
{
	struct asm_audit_entry *out = (void *)(unsigned long)r->entries;
	const char *path;
	struct asm_audit_entry e;
	int have = 0;
	FILE *f;

	if (r->reserved0 || r->trail > ASM_AUDIT_TRAIL_LLM || !r->capacity)
		return fail(EINVAL);
	path = getenv(r->trail == ASM_AUDIT_TRAIL_LLM ? "FAKE_ASM_AUDIT_LLM" :
							"FAKE_ASM_AUDIT");
	if (!path)
		return fail(EPERM);
	f = fopen(path, "r");
	if (!f)
		return fail(EIO);
	r->count = 0;
	r->first_seq = r->next_seq = 0;
	while (fread(&e, sizeof(e), 1, f) == 1) {
		if (!have)
			r->first_seq = e.seq;
		have = 1;
		r->next_seq = e.seq + 1;
		if (e.seq >= r->from_seq && r->count < r->capacity)
			out[r->count++] = e;
	}
	fclose(f);
	r->dropped = r->first_seq;
	return 0;
}

static int do_compliance(struct asm_compliance *c)
{
	__u32 id = c->agent_id;

	if (!all_zero(c->reserved, sizeof(c->reserved)))
		return fail(EINVAL);
	if (!find(id))
		return fail(ESRCH);
	memset(c, 0, sizeof(*c));
	c->size = sizeof(*c);
	c->version = ASM_ABI_VERSION;
	c->agent_id = id;
	c->risk_level = risk_of(id);
	c->score = ASM_SCORE_MAX;
	c->status = ASM_COMPLIANT;
	if (id == 100) {
		c->events = 45;
		c->oversight = 2;
	} else if (id == 101) {
		/* 1000 - 2 * 150 - 50 + 25 + 3 * 10 */
		c->llm_requests = 17;
		c->events = 30;
		c->violations = 2;
		c->crashes = 1;
		c->oversight = 1;
		c->clean_exits = 3;
		c->score = 705;
		c->status = ASM_REVIEW_NEEDED;
	} else {
		c->events = 4;
		c->clean_exits = 1;
	}
	return 0;
}

static int do_note(struct asm_note *n, int decision)
{
	const char *agent = getenv("FAKE_ASM_AGENT");

	if (!all_zero(n->reserved, sizeof(n->reserved)) || n->audit_seq ||
	    n->text[ASM_NOTE_LEN - 1])
		return fail(EINVAL);
	if (decision) {
		if (n->agent_id || n->kind)
			return fail(EINVAL);
		if (!agent)
			return fail(ESRCH);
		n->agent_id = atoi(agent);
	} else {
		if (n->kind < ASM_OVERSIGHT_REVIEW ||
		    n->kind > ASM_OVERSIGHT_STOP)
			return fail(EINVAL);
		if (!find(n->agent_id))
			return fail(ESRCH);
	}
	log_line("%s id=%u kind=%u text=%s\n",
		 decision ? "decision" : "oversight", n->agent_id, n->kind,
		 n->text);
	if (forced_errno())
		return fail(forced_errno());
	n->audit_seq = decision ? 44 : 43;
	return 0;
}

/*
 * ASM_LLM_SUBMIT and ASM_LLM_COLLECT, for tools/examples/llm_request.py
 * --submit: each submitted request (ids from 100) is finished at once;
 * FAKE_ASM_LLM_BURST=N refuses submissions after the first N with EAGAIN,
 * as an empty bucket does, and a prompt containing "mock:hang" ends with
 * ETIMEDOUT, collected with its id set.  /dev/null, which stands for the
 * device, always polls readable.
 */
#define FAKE_LLM_MAX 16
static struct {
	__u64 id;
	int hang, collected;
} submitted[FAKE_LLM_MAX];
static unsigned int nr_submitted;

static int do_llm_submit(struct asm_llm_request *r)
{
	const char *burst = getenv("FAKE_ASM_LLM_BURST");
	const char *doc = (const char *)(uintptr_t)r->request;

	if (r->response || r->response_len || !r->request_len ||
	    r->request_len > ASM_LLM_REQUEST_MAX)
		return fail(EINVAL);
	if (!getenv("FAKE_ASM_AGENT"))
		return fail(EPERM);
	if ((burst && nr_submitted >= (unsigned int)atoi(burst)) ||
	    nr_submitted >= FAKE_LLM_MAX)
		return fail(EAGAIN);
	log_line("llm submit %.*s\n", (int)r->request_len, doc);
	submitted[nr_submitted].id = 100 + nr_submitted;
	submitted[nr_submitted].hang =
		memmem(doc, r->request_len, "mock:hang", 9) != NULL;
	r->request_id = submitted[nr_submitted++].id;
	return 0;
}

static int do_llm_collect(struct asm_llm_request *r)
{
	static const char answer[] =
		"{\"provider\":\"Local\",\"text\":\"fake\",\"tokens_used\":3,"
		"\"duration_us\":900,\"was_fallback\":false}";
	unsigned int i;

	if (r->request || r->request_len ||
	    r->response_len < ASM_LLM_RESPONSE_MIN)
		return fail(EINVAL);
	for (i = 0; i < nr_submitted; i++)
		if (!submitted[i].collected &&
		    (!r->request_id || r->request_id == submitted[i].id))
			break;
	if (i == nr_submitted)
		return fail(r->request_id ? ENOENT : EAGAIN);
	submitted[i].collected = 1;
	r->request_id = submitted[i].id;
	if (submitted[i].hang)
		return fail(ETIMEDOUT);
	memcpy((void *)(uintptr_t)r->response, answer, sizeof(answer) - 1);
	r->written = sizeof(answer) - 1;
	return r->written;
}

/*
 * An LLM request: the caller must be an agent's (FAKE_ASM_AGENT, else
 * EPERM, as for one without LlmAccess).  The request document is logged
 * as given; the answer is fixed, with a quote and a newline that the
 * response document escapes.  FAKE_ASM_LLM_NEED=N answers ENOSPC with
 * written = N, as when the response does not fit.
 */
static int do_llm(struct asm_llm_request *r)
{
	static const char answer[] =
		"{\"provider\":\"Gemini\",\"text\":\"fake says \\\"4\\\"\\nbye\","
		"\"tokens_used\":12,\"duration_us\":1234567,\"was_fallback\":true}";
	const char *need = getenv("FAKE_ASM_LLM_NEED");

	if (r->version == ASM_ABI_VERSION && !r->written &&
	    all_zero(r->reserved, sizeof(r->reserved))) {
		if (r->flags == ASM_LLM_SUBMIT && !r->request_id)
			return do_llm_submit(r);
		if (r->flags == ASM_LLM_COLLECT)
			return do_llm_collect(r);
	}
	if (r->version != ASM_ABI_VERSION || r->flags || r->written ||
	    r->request_id || !all_zero(r->reserved, sizeof(r->reserved)) ||
	    !r->request_len || r->request_len > ASM_LLM_REQUEST_MAX ||
	    r->response_len < ASM_LLM_RESPONSE_MIN)
		return fail(EINVAL);
	log_line("llm response_len=%u %.*s\n", r->response_len,
		 (int)r->request_len, (const char *)(uintptr_t)r->request);
	if (forced_errno())
		return fail(forced_errno());
	if (!getenv("FAKE_ASM_AGENT"))
		return fail(EPERM);
	r->request_id = 7;
	if (need) {
		r->written = atoi(need);
		return fail(ENOSPC);
	}
	if (sizeof(answer) - 1 > r->response_len)
		return fail(ENOSPC);
	memcpy((void *)(uintptr_t)r->response, answer, sizeof(answer) - 1);
	r->written = sizeof(answer) - 1;
	return r->written;
}

static const char *const sensitive_paths[] = { "/etc/shadow", "/srv/keys" };
#define NR_SENSITIVE 2u

static int do_sensitive(struct asm_sensitive *s)
{
	if (s->reserved0 || !all_zero(s->reserved, sizeof(s->reserved)) ||
	    s->count || s->path[ASM_SCOPE_LEN - 1])
		return fail(EINVAL);
	switch (s->op) {
	case ASM_SENSITIVE_GET:
		if (s->path[0])
			return fail(EINVAL);
		s->count = NR_SENSITIVE;
		if (s->index >= NR_SENSITIVE)
			return fail(ENOENT);
		strcpy(s->path, sensitive_paths[s->index]);
		return 0;
	case ASM_SENSITIVE_ADD:
	case ASM_SENSITIVE_REMOVE:
		if (s->index || s->path[0] != '/')
			return fail(EINVAL);
		log_line("sensitive op=%u path=%s\n", s->op, s->path);
		if (forced_errno())
			return fail(forced_errno());
		s->count = s->op == ASM_SENSITIVE_ADD ? NR_SENSITIVE + 1 :
							NR_SENSITIVE - 1;
		return 0;
	}
	return fail(EINVAL);
}

static const struct asm_dep_edge dep_edges[] = {
	{ 101, 100, ASM_DEP_REQUIRED, 0 },
	{ 102, 101, ASM_DEP_OPTIONAL, SIGUSR1 },
};

/* Whether an Optional edge may send @sig, as the module checks it. */
static int dep_signal_ok(__u32 sig)
{
	switch (sig) {
	case SIGHUP: case SIGINT: case SIGQUIT: case SIGUSR1: case SIGUSR2:
	case SIGTERM: case SIGWINCH:
		return 1;
	}
	return 0;
}
#define NR_DEP_EDGES (sizeof(dep_edges) / sizeof(dep_edges[0]))

/* Whether @from reaches @to along the edges (which have no cycle). */
static int dep_reaches(__u32 from, __u32 to)
{
	if (from == to)
		return 1;
	for (size_t i = 0; i < NR_DEP_EDGES; i++)
		if (dep_edges[i].dependent == from &&
		    dep_reaches(dep_edges[i].dependency, to))
			return 1;
	return 0;
}

static int do_deps(struct asm_deps *d)
{
	struct asm_dep_edge *out = (void *)(uintptr_t)d->edges;
	const char *extra = getenv("FAKE_ASM_DEPS_EXTRA");
	__u32 n_extra = extra ? atoi(extra) : 0, count = 0;

	if (!all_zero(d->reserved, sizeof(d->reserved)) || d->count ||
	    d->audit_seq)
		return fail(EINVAL);
	if (d->op == ASM_DEP_LIST) {
		if (d->kind || d->dependent || d->dependency || d->signal)
			return fail(EINVAL);
		for (size_t i = 0; i < NR_DEP_EDGES; i++, count++)
			if (count < d->capacity)
				out[count] = dep_edges[i];
		for (__u32 i = 0; i < n_extra; i++, count++)
			if (count < d->capacity)
				out[count] = (struct asm_dep_edge){
					5000 + i, 100, ASM_DEP_PEER, 0 };
		d->count = count;
		return 0;
	}
	if ((d->op != ASM_DEP_ADD && d->op != ASM_DEP_REMOVE) ||
	    (d->op == ASM_DEP_ADD &&
	     (d->kind < ASM_DEP_REQUIRED || d->kind > ASM_DEP_PEER)) ||
	    (d->op == ASM_DEP_REMOVE && d->kind) || d->capacity || d->edges ||
	    d->dependent == d->dependency ||
	    (d->signal && (d->kind != ASM_DEP_OPTIONAL ||
			   !dep_signal_ok(d->signal))))
		return fail(EINVAL);
	if (!find(d->dependent) || !find(d->dependency))
		return fail(ESRCH);
	log_line("deps op=%u dependent=%u dependency=%u kind=%u signal=%u\n",
		 d->op, d->dependent, d->dependency, d->kind, d->signal);
	if (forced_errno())
		return fail(forced_errno());
	for (size_t i = 0; i < NR_DEP_EDGES; i++) {
		const struct asm_dep_edge *e = &dep_edges[i];
		int same = e->dependent == d->dependent &&
			   e->dependency == d->dependency;
		int reversed = e->dependent == d->dependency &&
			       e->dependency == d->dependent;

		if (d->op == ASM_DEP_ADD && (same || reversed))
			return fail(EEXIST);
		if (d->op == ASM_DEP_REMOVE && same) {
			d->audit_seq = 46;
			return 0;
		}
	}
	if (d->op == ASM_DEP_REMOVE)
		return fail(ENOENT);
	if (dep_reaches(d->dependency, d->dependent))
		return fail(ELOOP);
	d->audit_seq = 45;
	return 0;
}

struct op_stats {
	__u32 agent;
	const char *name;
	__u64 total, successes;
	__u32 kept;
	__u64 min, max, avg, p50, p95, p99;
};

static const struct op_stats op_stats[] = {
	{ 100, "fetch", 40, 38, 40, 2000000, 15000000, 6512345, 5000000,
	  12000000, 15000000 },
	{ 100, "parse", 40, 40, 40, 120000, 990000, 310500, 250000, 950000,
	  990000 },
	{ 100, "db.query", 1000, 999, 100, 800000, 45000000, 3200000, 1200000,
	  30500000, 45000000 },
	{ 100, "llm:call", 1, 0, 1, 2500000000ull, 2500000000ull,
	  2500000000ull, 2500000000ull, 2500000000ull, 2500000000ull },
	{ 101, "fetch", 10, 5, 10, 1000000, 10000000, 5500000, 5000000,
	  10000000, 10000000 },
};
#define NR_OP_STATS (sizeof(op_stats) / sizeof(op_stats[0]))

/* fetch over 100 and 101. */
static const struct op_stats fetch_all = {
	0, "fetch", 50, 43, 50, 1000000, 15000000, 6309876, 5000000, 12000000,
	15000000 };

/* The name in @op: 1 (0 if @empty_ok) to 31 characters of
 * [A-Za-z0-9_.:-], NUL-padded, as the module checks it. */
static int op_ok(const char *op, int empty_ok)
{
	size_t len = strnlen(op, ASM_PROFILE_OP_LEN);

	if (len == ASM_PROFILE_OP_LEN || (!len && !empty_ok))
		return 0;
	for (size_t i = len; i < ASM_PROFILE_OP_LEN; i++)
		if (op[i])
			return 0;
	for (size_t i = 0; i < len; i++)
		if (!(op[i] >= 'a' && op[i] <= 'z') &&
		    !(op[i] >= 'A' && op[i] <= 'Z') &&
		    !(op[i] >= '0' && op[i] <= '9') && !strchr("_.:-", op[i]))
			return 0;
	return 1;
}

static __u64 monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void put_stats(struct asm_profile *p, const struct op_stats *o)
{
	p->total = o->total;
	p->successes = o->successes;
	p->kept = o->kept;
	p->min_ns = o->min;
	p->max_ns = o->max;
	p->avg_ns = o->avg;
	p->p50_ns = o->p50;
	p->p95_ns = o->p95;
	p->p99_ns = o->p99;
}

static int profile_stats(struct asm_profile *p)
{
	const struct op_stats *found = NULL;
	__u32 ops = 0;

	if (p->token || p->duration_ns || p->success)
		return fail(EINVAL);
	if (!p->agent_id) {
		if (!p->op[0] || p->index)
			return fail(EINVAL);
		if (strcmp(p->op, fetch_all.name))
			return fail(ENOENT);
		put_stats(p, &fetch_all);
		return 0;
	}
	if (p->op[0] && p->index)
		return fail(EINVAL);
	if (!find(p->agent_id))
		return fail(ESRCH);
	for (size_t i = 0; i < NR_OP_STATS; i++) {
		if (op_stats[i].agent != p->agent_id)
			continue;
		if (!found && (p->op[0] ? !strcmp(p->op, op_stats[i].name) :
					  ops == p->index))
			found = &op_stats[i];
		ops++;
	}
	if (!found)
		return fail(ENOENT);
	put_stats(p, found);
	p->ops = ops;
	memset(p->op, 0, sizeof(p->op));
	strcpy(p->op, found->name);
	return 0;
}

static int do_profile(struct asm_profile *p)
{
	__u64 outs = p->total | p->successes | p->kept | p->ops | p->min_ns |
		     p->max_ns | p->avg_ns | p->p50_ns | p->p95_ns | p->p99_ns;
	const char *agent = getenv("FAKE_ASM_AGENT");
	__u64 now = monotonic_ns();

	if (!all_zero(p->reserved, sizeof(p->reserved)) || outs ||
	    !op_ok(p->op, 1))
		return fail(EINVAL);
	if (p->cmd == ASM_PROFILE_STATS)
		return profile_stats(p);
	if (p->cmd < ASM_PROFILE_BEGIN || p->cmd > ASM_PROFILE_RECORD ||
	    p->agent_id || p->index || p->success > 1)
		return fail(EINVAL);
	if (!agent)
		return fail(ESRCH);
	if (p->cmd == ASM_PROFILE_BEGIN) {
		if (p->op[0] || p->token || p->duration_ns || p->success)
			return fail(EINVAL);
		log_line("profile begin agent=%s\n", agent);
		p->token = now;
		return 0;
	}
	if (!p->op[0])
		return fail(EINVAL);
	if (p->cmd == ASM_PROFILE_END) {
		if (p->duration_ns || !p->token || p->token > now)
			return fail(EINVAL);
		log_line("profile end agent=%s op=%s success=%u\n", agent,
			 p->op, p->success);
		if (forced_errno())
			return fail(forced_errno());
		p->duration_ns = now - p->token;
		return 0;
	}
	if (p->token || p->duration_ns > ASM_PROFILE_DURATION_MAX)
		return fail(EINVAL);
	log_line("profile record agent=%s op=%s duration=%llu success=%u\n",
		 agent, p->op, (unsigned long long)p->duration_ns, p->success);
	if (forced_errno())
		return fail(forced_errno());
	return 0;
}

int ioctl(int fd, unsigned long request, ...)
{
	static int (*real)(int, unsigned long, ...);
	va_list ap;
	void *arg;
	__u32 *head;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd != fake_fd || fake_fd < 0) {
		if (!real)
			real = dlsym(RTLD_NEXT, "ioctl");
		return real(fd, request, arg);
	}
	/* Every argument starts with size and version. */
	head = arg;
	if (head[1] != ASM_ABI_VERSION)
		return fail(EINVAL);
	switch (request) {
	case ASM_IOC_REGISTER:
		if (head[0] != sizeof(struct asm_register))
			return fail(EINVAL);
		return do_register(arg);
	case ASM_IOC_UNREGISTER: {
		struct asm_unregister *u = arg;

		if (u->size != sizeof(*u) || u->flags || u->reserved[0])
			return fail(EINVAL);
		log_line("unregister id=%u\n", u->agent_id);
		if (forced_errno())
			return fail(forced_errno());
		return find(u->agent_id) ? 0 : fail(ESRCH);
	}
	case ASM_IOC_LIST:
		if (head[0] != sizeof(struct asm_list))
			return fail(EINVAL);
		return do_list(arg);
	case ASM_IOC_GET_INFO:
		if (head[0] != sizeof(struct asm_agent_info))
			return fail(EINVAL);
		return do_info(arg);
	case ASM_IOC_GET_TELEMETRY_JSON:
	case ASM_IOC_GET_AGENT_INFO_JSON:
		if (head[0] != sizeof(struct asm_json))
			return fail(EINVAL);
		return do_json(arg, request == ASM_IOC_GET_TELEMETRY_JSON);
	case ASM_IOC_GET_FAULT_POLICY:
		if (head[0] != sizeof(struct asm_fault_policy))
			return fail(EINVAL);
		return do_get_policy(arg);
	case ASM_IOC_SET_FAULT_POLICY:
		if (head[0] != sizeof(struct asm_fault_policy))
			return fail(EINVAL);
		return do_set_policy(arg);
	case ASM_IOC_HEARTBEAT:
		if (head[0] != sizeof(struct asm_heartbeat))
			return fail(EINVAL);
		return do_heartbeat(arg);
	case ASM_IOC_GET_HISTORY:
		if (head[0] != sizeof(struct asm_history))
			return fail(EINVAL);
		return do_history(arg);
	case ASM_IOC_PATCH_POLICY:
		if (head[0] != sizeof(struct asm_patch))
			return fail(EINVAL);
		return do_patch(arg);
	case ASM_IOC_GET_AUDIT:
		if (head[0] != sizeof(struct asm_audit_read))
			return fail(EINVAL);
		return do_audit(arg);
	case ASM_IOC_GET_COMPLIANCE:
		if (head[0] != sizeof(struct asm_compliance))
			return fail(EINVAL);
		return do_compliance(arg);
	case ASM_IOC_OVERSIGHT:
	case ASM_IOC_DECISION:
		if (head[0] != sizeof(struct asm_note))
			return fail(EINVAL);
		return do_note(arg, request == ASM_IOC_DECISION);
	case ASM_IOC_SENSITIVE:
		if (head[0] != sizeof(struct asm_sensitive))
			return fail(EINVAL);
		return do_sensitive(arg);
	case ASM_IOC_LLM_REQUEST:
		if (head[0] != sizeof(struct asm_llm_request))
			return fail(EINVAL);
		return do_llm(arg);
	case ASM_IOC_DEPS:
		if (getenv("FAKE_ASM_NO_DEPS"))
			break;
		if (head[0] != sizeof(struct asm_deps))
			return fail(EINVAL);
		return do_deps(arg);
	case ASM_IOC_PROFILE:
		if (getenv("FAKE_ASM_NO_PROFILE"))
			break;
		if (head[0] != sizeof(struct asm_profile))
			return fail(EINVAL);
		return do_profile(arg);
	}
	return fail(ENOTTY);
}

/*
 * std may open files through any of these; /dev/asm becomes /dev/null,
 * whose fd the ioctl() above then answers for.
 */
static int fake_openat(const char *sym, int dirfd, const char *path,
		       int flags, mode_t mode)
{
	int (*real)(int, const char *, int, ...) = dlsym(RTLD_NEXT, sym);

	/*
	 * An O_PATH open (asmctl run's Landlock rule for the device) gives no
	 * handle to make requests on: it must not replace the device's fd.
	 */
	if (!strcmp(path, ASM_DEVICE_PATH) && !(flags & O_PATH)) {
		fake_fd = real(AT_FDCWD, "/dev/null", flags);
		return fake_fd;
	}
	return real(dirfd, path, flags, mode);
}

/* The mode argument is there only with O_CREAT or O_TMPFILE. */
#define MODE_ARG(flags, mode)						\
	do {								\
		va_list ap;						\
									\
		va_start(ap, flags);					\
		mode = (flags & (O_CREAT | O_TMPFILE)) ?		\
			va_arg(ap, mode_t) : 0;				\
		va_end(ap);						\
	} while (0)

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode;

	MODE_ARG(flags, mode);
	return fake_openat("openat", dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode;

	MODE_ARG(flags, mode);
	return fake_openat("openat64", dirfd, path, flags, mode);
}

int open(const char *path, int flags, ...)
{
	mode_t mode;

	MODE_ARG(flags, mode);
	return fake_openat("openat", AT_FDCWD, path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	mode_t mode;

	MODE_ARG(flags, mode);
	return fake_openat("openat64", AT_FDCWD, path, flags, mode);
}
