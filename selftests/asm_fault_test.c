// SPDX-License-Identifier: GPL-2.0
/*
 * asm_fault_test - resource limits, fault detection and recovery actions
 * (KTAP).
 *
 * Each case forks a kid that registers itself as an agent, waits while the
 * parent sets the agent's limits and actions, then misbehaves: it holds
 * too much memory, spins, floods the kernel with syscalls, or stops
 * sending heartbeats.  The parent checks what the module did (the kid's
 * wait status, its CPU time in /proc) and what it recorded (the history
 * ioctl and the agent's JSON document).
 *
 * Agent ids: 5300 to 5309.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/syscall.h>

#include "asm_util.h"

#define MB		(1024ULL * 1024)
#define SLACK_MS	200	/* two 100 ms throttle ticks: one tick plus the
				 * latency of signals under emulation */

enum kid_mode { KID_MEM, KID_SPIN, KID_FLOOD, KID_HEARTBEAT };

struct kid_spec {
	__u32 id;
	enum kid_mode mode;
	long param;	/* MB, ms of spinning or flooding, heartbeats */
	long linger_ms;	/* sleep before a clean exit */
};

static uint64_t mono_ms(void)
{
	return now_ns(CLOCK_MONOTONIC) / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void kid_agent(int res, int cmd, void *arg)
{
	struct kid_spec *s = arg;
	struct asm_heartbeat hb;
	__u32 id;
	uint64_t end;
	long i;
	char *p;
	int fd = asm_open();

	if (fd < 0 || asm_register_self(fd, s->id, 0, "fault-kid", &id)) {
		child_report(res, -errno);
		_exit(1);
	}
	child_report(res, (int)id);
	if (kid_wait_go(cmd))
		_exit(0);
	switch (s->mode) {
	case KID_MEM:
		p = mmap(NULL, s->param * MB, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			_exit(2);
		memset(p, 0x5a, s->param * MB);
		break;
	case KID_SPIN:
		end = mono_ms() + s->param;
		while (mono_ms() < end)
			;
		break;
	case KID_FLOOD:
		end = mono_ms() + s->param;
		while (mono_ms() < end)
			for (i = 0; i < 1000; i++)
				syscall(SYS_getppid);
		break;
	case KID_HEARTBEAT:
		for (i = 0; i < s->param; i++) {
			memset(&hb, 0, sizeof(hb));
			hb.size = sizeof(hb);
			hb.version = ASM_ABI_VERSION;
			if (ioctl(fd, ASM_IOC_HEARTBEAT, &hb) || hb.agent_id != id)
				_exit(3);
			sleep_ms(200);
		}
		break;
	}
	child_report(res, 0);
	sleep_ms(s->linger_ms);
	_exit(0);
}

static int set_limits(__u32 id, __u32 cpu_ms, __u32 rate, __u32 wd_ms, __u64 mem)
{
	struct asm_fault_policy p;

	fp_init(&p, id, ASM_FP_SET_LIMITS);
	p.cpu_quota_ms = cpu_ms;
	p.syscall_rate = rate;
	p.watchdog_ms = wd_ms;
	p.mem_limit_bytes = mem;
	return ioctl(asm_fd, ASM_IOC_SET_FAULT_POLICY, &p);
}

static int set_action(__u32 id, int fault, int action)
{
	struct asm_fault_policy p;

	fp_init(&p, id, ASM_FP_SET_ACTIONS);
	p.actions[fault] = action;
	return ioctl(asm_fd, ASM_IOC_SET_FAULT_POLICY, &p);
}

static int set_preset(__u32 id, __u32 preset)
{
	struct asm_fault_policy p;

	fp_init(&p, id, ASM_FP_SET_ACTIONS);
	p.preset = preset;
	return ioctl(asm_fd, ASM_IOC_SET_FAULT_POLICY, &p);
}

static int get_history(__u32 id, struct asm_history *h, struct asm_window *w, __u32 cap)
{
	memset(h, 0, sizeof(*h));
	h->size = sizeof(*h);
	h->version = ASM_ABI_VERSION;
	h->agent_id = id;
	h->windows = (__u64)(uintptr_t)w;
	h->capacity = cap;
	return ioctl(asm_fd, ASM_IOC_GET_HISTORY, h);
}

static char jbuf[16384];

static const char *agent_doc(__u32 id)
{
	if (asm_get_json(asm_fd, ASM_IOC_GET_AGENT_INFO_JSON, id, jbuf, sizeof(jbuf)) < 0) {
		ktap_msg("agent %u JSON: %s", id, strerror(errno));
		jbuf[0] = 0;
	}
	return jbuf;
}

/* Waits up to @ms for the kid to end; returns its status, -1 if it did not. */
static int wait_kid(struct kid *k, long ms)
{
	uint64_t end = mono_ms() + ms;
	int status;

	while (mono_ms() < end) {
		if (waitpid(k->pid, &status, WNOHANG) == k->pid) {
			k->pid = -1;
			return status;
		}
		sleep_ms(50);
	}
	return -1;
}

/* Ends the kid however it is, and forgets its agent. */
static void kid_end(struct kid *k, __u32 id)
{
	if (k->pid > 0) {
		kill(k->pid, SIGKILL);
		kid_finish(k);
	} else {
		close(k->cmd_fd);
		close(k->res_fd);
	}
	asm_unregister(asm_fd, id);
}

/* utime + stime of @pid in ms, -1 if it cannot be read. */
static long cpu_ms_of(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		return -1;
	return (long)((ut + st) * 1000 / sysconf(_SC_CLK_TCK));
}

/* The first recorded fault's fields in the agent's document. */
static void expect_fault(const char *doc, const char *type, const char *action,
			 long long limit, long long *observed)
{
	const char *f = json_find(doc, "recent_faults");
	char want[64];

	if (!ktap_expect(f, "a recent_faults list in %s", doc))
		return;
	snprintf(want, sizeof(want), "\"%s\"", type);
	json_expect(f, "type", want);
	snprintf(want, sizeof(want), "\"%s\"", action);
	json_expect(f, "action", want);
	json_expect_num(f, "limit", limit);
	if (json_num(f, "observed", observed))
		*observed = -1;
}

static void test_policy_abi(void)
{
	struct asm_fault_policy p, saved;
	struct asm_heartbeat hb;

	ktap_case_start();
	fp_init(&p, 0, 0);
	ktap_expect_ok(ioctl(asm_fd, ASM_IOC_GET_FAULT_POLICY, &p), "get defaults");
	ktap_expect_u64(p.actions[ASM_FAULT_CPU_QUOTA], ASM_ACTION_THROTTLE, "default cpu action");
	ktap_expect_u64(p.actions[ASM_FAULT_MEMORY], ASM_ACTION_KILL, "default memory action");
	ktap_expect_u64(p.actions[ASM_FAULT_SYSCALL_FLOOD], ASM_ACTION_THROTTLE, "default flood action");
	ktap_expect_u64(p.actions[ASM_FAULT_CRASH], ASM_ACTION_RESTART, "default crash action");
	ktap_expect_u64(p.actions[ASM_FAULT_CAPABILITY], ASM_ACTION_KILL, "default capability action");
	ktap_expect_u64(p.actions[ASM_FAULT_UNRESPONSIVE], ASM_ACTION_RESTART, "default watchdog action");
	ktap_expect_u64(p.watchdog_ms, 30000, "default watchdog timeout");
	ktap_expect_u64(p.cpu_quota_ms + p.syscall_rate + p.mem_limit_bytes, 0, "no default limits");
	ktap_case_end("defaults are the user guide's table, no limits, a 30 s watchdog");

	ktap_case_start();
	saved = p;
	ktap_expect_ok(set_preset(0, ASM_PRESET_STRICT), "strict defaults");
	fp_init(&p, 0, 0);
	ioctl(asm_fd, ASM_IOC_GET_FAULT_POLICY, &p);
	ktap_expect_u64(p.actions[ASM_FAULT_CPU_QUOTA], ASM_ACTION_KILL, "strict cpu action");
	ktap_expect_u64(p.actions[ASM_FAULT_CRASH], ASM_ACTION_KILL, "strict crash action");
	ktap_expect_u64(p.watchdog_ms, 30000, "limits untouched by an actions change");
	ktap_expect_ok(set_preset(0, ASM_PRESET_PERMISSIVE), "permissive defaults");
	ioctl(asm_fd, ASM_IOC_GET_FAULT_POLICY, &p);
	ktap_expect_u64(p.actions[ASM_FAULT_MEMORY], ASM_ACTION_LOG, "permissive memory action");
	ktap_expect_ok(set_preset(0, ASM_PRESET_DEFAULT), "default preset");
	ioctl(asm_fd, ASM_IOC_GET_FAULT_POLICY, &p);
	ktap_expect(!memcmp(p.actions, saved.actions, sizeof(p.actions)), "default preset restores the table");
	ktap_case_end("presets strict, permissive and default set the defaults' actions");

	ktap_case_start();
	fp_init(&p, 0, 0);
	ktap_expect_err(ioctl(asm_fd, ASM_IOC_SET_FAULT_POLICY, &p), EINVAL, "no SET flag");
	fp_init(&p, 0, 1U << 5);
	ktap_expect_err(ioctl(asm_fd, ASM_IOC_SET_FAULT_POLICY, &p), EINVAL, "unknown flag");
	fp_init(&p, 0, ASM_FP_SET_ACTIONS);
	p.preset = 9;
	ktap_expect_err(ioctl(asm_fd, ASM_IOC_SET_FAULT_POLICY, &p), EINVAL, "unknown preset");
	p.preset = ASM_PRESET_STRICT;
	p.actions[ASM_FAULT_MEMORY] = ASM_ACTION_LOG;
	ktap_expect_err(ioctl(asm_fd, ASM_IOC_SET_FAULT_POLICY, &p), EINVAL, "preset and actions");
	ktap_expect_err(set_action(0, ASM_FAULT_MEMORY, ASM_ACTION_THROTTLE), EINVAL, "throttle memory");
	ktap_expect_err(set_action(0, ASM_FAULT_CRASH, ASM_ACTION_THROTTLE), EINVAL, "throttle a crash");
	ktap_expect_err(set_action(0, ASM_FAULT_CPU_QUOTA, 7), EINVAL, "unknown action");
	fp_init(&p, 0, ASM_FP_SET_ACTIONS);
	memcpy(p.actions, saved.actions, sizeof(p.actions));
	p.actions[ASM_FAULT_CPU_QUOTA] = ASM_ACTION_DEFAULT;
	ktap_expect_err(ioctl(asm_fd, ASM_IOC_SET_FAULT_POLICY, &p), EINVAL, "defaults without a cpu action");
	fp_init(&p, 0, ASM_FP_SET_ACTIONS);
	p.cpu_quota_ms = 5;
	ktap_expect_err(ioctl(asm_fd, ASM_IOC_SET_FAULT_POLICY, &p), EINVAL, "a limit without SET_LIMITS");
	fp_init(&p, 0, ASM_FP_SET_LIMITS);
	p.reserved[3] = 1;
	ktap_expect_err(ioctl(asm_fd, ASM_IOC_SET_FAULT_POLICY, &p), EINVAL, "reserved field");
	ktap_expect_err(set_limits(5309, 10, 0, 0, 0), ESRCH, "unknown agent");
	fp_init(&p, 0, 0);
	ioctl(asm_fd, ASM_IOC_GET_FAULT_POLICY, &p);
	ktap_expect(!memcmp(p.actions, saved.actions, sizeof(p.actions)) && p.watchdog_ms == 30000 &&
		    p.cpu_quota_ms == 0, "refused requests changed nothing");
	memset(&hb, 0, sizeof(hb));
	hb.size = sizeof(hb);
	hb.version = ASM_ABI_VERSION;
	ktap_expect_err(ioctl(asm_fd, ASM_IOC_HEARTBEAT, &hb), ESRCH, "heartbeat from a non-agent");
	ktap_case_end("bad policy requests and a stranger's heartbeat are refused");
}

static void test_agent_policy(void)
{
	struct kid_spec spec = { 5300, KID_SPIN, 0, 0 };
	struct asm_fault_policy p;
	struct kid k;

	ktap_case_start();
	kid_start(&k, kid_agent, &spec);
	ktap_expect_u64(kid_result(&k), 5300, "kid agent id");
	ktap_expect_ok(set_limits(5300, 250, ASM_LIMIT_NONE32, 0, 64 * MB), "agent limits");
	ktap_expect_ok(set_action(5300, ASM_FAULT_MEMORY, ASM_ACTION_LOG), "agent memory action");
	fp_init(&p, 5300, 0);
	ioctl(asm_fd, ASM_IOC_GET_FAULT_POLICY, &p);
	ktap_expect_u64(p.cpu_quota_ms, 250, "own cpu quota");
	ktap_expect_u64(p.syscall_rate, ASM_LIMIT_NONE32, "own syscall rate: none");
	ktap_expect_u64(p.watchdog_ms, 0, "own watchdog: default");
	ktap_expect_u64(p.actions[ASM_FAULT_MEMORY], ASM_ACTION_LOG, "own memory action");
	ktap_expect_u64(p.actions[ASM_FAULT_CPU_QUOTA], ASM_ACTION_DEFAULT, "own cpu action: default");
	fp_init(&p, 5300, ASM_FP_EFFECTIVE);
	ioctl(asm_fd, ASM_IOC_GET_FAULT_POLICY, &p);
	ktap_expect_u64(p.watchdog_ms, 30000, "effective watchdog");
	ktap_expect_u64(p.syscall_rate, 0, "effective syscall rate: none");
	ktap_expect_u64(p.actions[ASM_FAULT_CPU_QUOTA], ASM_ACTION_THROTTLE, "effective cpu action");
	agent_doc(5300);
	json_expect_num(jbuf, "cpu_quota_ms", 250);
	json_expect(jbuf, "syscall_rate", "null");
	json_expect(jbuf, "memory", "\"Log\"");
	kid_end(&k, 5300);
	ktap_case_end("an agent's own limits and actions, resolved against the defaults");
}

static void test_history(void)
{
	struct kid_spec spec = { 5301, KID_SPIN, 2500, 10000 };
	struct asm_window w[ASM_HISTORY_WINDOWS];
	struct asm_history h;
	unsigned int i;
	__u64 cpu = 0;
	struct kid k;

	ktap_case_start();
	kid_start(&k, kid_agent, &spec);
	ktap_expect_u64(kid_result(&k), 5301, "kid agent id");
	kid_go(&k);
	kid_result(&k);
	sleep_ms(1500);
	ktap_expect_ok(get_history(5301, &h, w, ASM_HISTORY_WINDOWS), "history");
	ktap_expect(h.count >= 3 && h.count <= ASM_HISTORY_WINDOWS, "3 or more windows (%u)", h.count);
	ktap_expect_u64(h.window_ms, ASM_WINDOW_MS, "window length");
	for (i = 0; i < h.count; i++) {
		cpu += w[i].cpu_ns;
		if (i)
			ktap_expect(w[i].start_ns > w[i - 1].start_ns, "windows in time order");
	}
	ktap_expect(cpu >= 1000000000ULL, "windows hold the spinning (%llu ms)",
		    (unsigned long long)cpu / 1000000);
	ktap_expect(h.cpu_ns >= cpu, "lifetime CPU %llu >= windows' %llu",
		    (unsigned long long)h.cpu_ns, (unsigned long long)cpu);
	ktap_expect(h.syscalls > 0 && h.rss_peak_bytes >= h.rss_bytes && h.rss_bytes > 0,
		    "syscalls %llu, rss %llu, peak %llu", (unsigned long long)h.syscalls,
		    (unsigned long long)h.rss_bytes, (unsigned long long)h.rss_peak_bytes);
	ktap_expect_ok(get_history(5301, &h, w, 2), "history, room for 2");
	ktap_expect_u64(h.count, 2, "newest 2 windows");
	ktap_expect_ok(get_history(5301, &h, NULL, 0), "history, no room");
	ktap_expect_u64(h.count, 0, "no window");
	h.reserved[0] = 1;
	ktap_expect_err(ioctl(asm_fd, ASM_IOC_GET_HISTORY, &h), EINVAL, "reserved field");
	ktap_expect_err(get_history(5309, &h, w, 1), ESRCH, "unknown agent");
	kid_end(&k, 5301);
	ktap_case_end("the sampler keeps one-second windows of CPU, memory and syscalls");
}

static void test_memory_kill(void)
{
	struct kid_spec spec = { 5302, KID_MEM, 96, 20000 };
	long long observed = -1;
	struct kid k;
	int status;

	ktap_case_start();
	kid_start(&k, kid_agent, &spec);
	ktap_expect_u64(kid_result(&k), 5302, "kid agent id");
	ktap_expect_ok(set_limits(5302, 0, 0, 0, 32 * MB), "32 MiB memory limit");
	kid_go(&k);
	status = wait_kid(&k, 15000);
	ktap_expect(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		    "the hog is killed by SIGKILL (status %#x)", status);
	agent_doc(5302);
	expect_fault(jbuf, "Memory", "Kill", 32 * MB, &observed);
	ktap_expect(observed > (long long)(32 * MB), "observed size %lld > limit", observed);
	ktap_msg("memory hog killed at %lld bytes", observed);
	json_expect(jbuf, "state", "\"Failed\"");
	json_expect_num(jbuf, "crash_count", 0);
	kid_end(&k, 5302);
	ktap_case_end("a memory hog over its limit is killed, its size recorded");
}

static void test_cpu_throttle(void)
{
	struct kid_spec spec = { 5303, KID_SPIN, 6000, 15000 };
	struct asm_window w[ASM_HISTORY_WINDOWS];
	const __u32 quota = 100;
	long long observed = -1;
	struct asm_history h;
	long before, after;
	uint64_t end;
	struct kid k;

	ktap_case_start();
	kid_start(&k, kid_agent, &spec);
	ktap_expect_u64(kid_result(&k), 5303, "kid agent id");
	ktap_expect_ok(set_limits(5303, quota, 0, 0, 0), "100 ms CPU quota");
	kid_go(&k);
	/* Detected at the end of the first window, throttled from the second. */
	sleep_ms(2500);
	before = cpu_ms_of(k.pid);
	sleep_ms(2000);
	after = cpu_ms_of(k.pid);
	ktap_expect(before >= 0 && after - before <= 2 * (quota + SLACK_MS),
		    "/proc: %ld ms of CPU in 2 s while throttled (quota %u ms/s)",
		    after - before, quota);
	ktap_expect_ok(get_history(5303, &h, w, 3), "history");
	ktap_expect_u64(h.throttled, 1, "throttled");
	ktap_expect(h.count == 3, "3 windows");
	if (h.count == 3) {
		ktap_msg("last windows: %llu %llu %llu ms of CPU",
			 (unsigned long long)w[0].cpu_ns / 1000000,
			 (unsigned long long)w[1].cpu_ns / 1000000,
			 (unsigned long long)w[2].cpu_ns / 1000000);
		ktap_expect(w[1].cpu_ns / 1000000 <= quota + SLACK_MS &&
			    w[2].cpu_ns / 1000000 <= quota + SLACK_MS,
			    "throttled windows within quota + %d ms", SLACK_MS);
	}
	agent_doc(5303);
	expect_fault(jbuf, "CpuQuota", "Throttle", quota, &observed);
	ktap_expect(observed > quota, "observed %lld ms > quota", observed);
	json_expect(jbuf, "throttled", "true");
	/* It stops spinning at 6 s: a whole window under quota lifts it. */
	end = mono_ms() + 6000;
	do {
		sleep_ms(250);
		get_history(5303, &h, w, 1);
	} while (h.throttled && mono_ms() < end);
	ktap_expect_u64(h.throttled, 0, "throttle lifted once it behaves");
	ktap_expect(kill(k.pid, 0) == 0, "the agent still runs");
	kid_end(&k, 5303);
	ktap_case_end("a CPU spinner over its quota is throttled to it, then released");
}

static void test_syscall_flood(void)
{
	struct kid_spec spec = { 5304, KID_FLOOD, 2500, 0 };
	long long observed = -1;
	struct kid k;
	int status;

	ktap_case_start();
	kid_start(&k, kid_agent, &spec);
	ktap_expect_u64(kid_result(&k), 5304, "kid agent id");
	ktap_expect_ok(set_limits(5304, 0, 2000, 0, 0), "2000/s syscall rate");
	ktap_expect_ok(set_action(5304, ASM_FAULT_SYSCALL_FLOOD, ASM_ACTION_LOG), "log floods");
	kid_go(&k);
	status = wait_kid(&k, 15000);
	ktap_expect(status == 0, "the flooder exits normally (status %#x)", status);
	agent_doc(5304);
	expect_fault(jbuf, "SyscallFlood", "Log", 2000, &observed);
	json_expect(jbuf, "unit", "\"PerSecond\"");
	ktap_expect(observed > 2000, "observed rate %lld/s > 2000/s", observed);
	ktap_msg("syscall flood detected at %lld syscalls/s", observed);
	kid_end(&k, 5304);
	ktap_case_end("a syscall flooder is detected with its rate");
}

static void test_watchdog(void)
{
	struct kid_spec spec = { 5305, KID_HEARTBEAT, 15, 20000 };
	long long observed = -1;
	struct kid k;
	int status;

	ktap_case_start();
	kid_start(&k, kid_agent, &spec);
	ktap_expect_u64(kid_result(&k), 5305, "kid agent id");
	ktap_expect_ok(set_limits(5305, 0, 0, 1500, 0), "1.5 s watchdog");
	kid_go(&k);
	/* Heartbeats every 200 ms for 3 s: alive past the timeout. */
	sleep_ms(2500);
	ktap_expect(waitpid(k.pid, &status, WNOHANG) == 0, "alive while it sends heartbeats");
	ktap_expect_u64(kid_result(&k), 0, "heartbeats accepted");
	status = wait_kid(&k, 8000);
	ktap_expect(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		    "silent agent ended by SIGKILL (status %#x)", status);
	agent_doc(5305);
	expect_fault(jbuf, "Unresponsive", "Restart", 1500, &observed);
	ktap_expect(observed > 1500, "silent for %lld ms > 1500", observed);
	/* Its restart budget is 0: ended for good (test_restart restarts). */
	json_expect(jbuf, "state", "\"Failed\"");
	kid_end(&k, 5305);
	ktap_case_end("an agent that stops heartbeating is ended by its restart action");
}

static void test_permissive(void)
{
	struct kid_spec spec = { 5306, KID_MEM, 64, 2500 };
	long long observed = -1;
	struct kid k;
	int status;

	ktap_case_start();
	kid_start(&k, kid_agent, &spec);
	ktap_expect_u64(kid_result(&k), 5306, "kid agent id");
	ktap_expect_ok(set_limits(5306, 0, 0, 0, 16 * MB), "16 MiB memory limit");
	ktap_expect_ok(set_preset(5306, ASM_PRESET_PERMISSIVE), "permissive agent");
	kid_go(&k);
	status = wait_kid(&k, 15000);
	ktap_expect(status == 0, "the hog lives and exits normally (status %#x)", status);
	agent_doc(5306);
	expect_fault(jbuf, "Memory", "Log", 16 * MB, &observed);
	ktap_expect(observed > (long long)(16 * MB), "observed %lld bytes", observed);
	json_expect(jbuf, "state", "\"Exited\"");
	kid_end(&k, 5306);
	ktap_case_end("with the permissive preset the same hog is only logged");
}

int main(void)
{
	ktap_header(10);
	asm_fd = asm_open();
	if (asm_fd < 0)
		ktap_bail("open %s: %s", ASM_DEVICE_PATH, strerror(errno));
	test_policy_abi();
	test_agent_policy();
	test_history();
	test_memory_kill();
	test_cpu_throttle();
	test_syscall_flood();
	test_watchdog();
	test_permissive();
	ktap_finish();
}
