/* SPDX-License-Identifier: GPL-2.0 */
/*
 * asm_util.h - helpers shared by the ASM ioctl selftests: valid requests,
 * helper processes, flat JSON lookups.
 */
#ifndef ASM_SELFTEST_UTIL_H
#define ASM_SELFTEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/asm.h>

#include "ktap.h"

static int asm_fd = -1;

static inline int asm_open(void)
{
	return open(ASM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
}

/* --- valid requests ------------------------------------------------------ */

static inline void reg_init(struct asm_register *r, __u32 id, __u32 target, pid_t pid,
		     const char *name)
{
	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->version = ASM_ABI_VERSION;
	r->agent_id = id;
	r->target = target;
	r->pid = pid;
	r->capabilities = ASM_CAP_FS_BASIC;
	snprintf(r->name, sizeof(r->name), "%s", name);
}

static inline void unreg_init(struct asm_unregister *u, __u32 id)
{
	memset(u, 0, sizeof(*u));
	u->size = sizeof(*u);
	u->version = ASM_ABI_VERSION;
	u->agent_id = id;
}

static inline void list_init(struct asm_list *l, __u32 *ids, __u32 capacity)
{
	memset(l, 0, sizeof(*l));
	l->size = sizeof(*l);
	l->version = ASM_ABI_VERSION;
	l->ids = (__u64)(uintptr_t)ids;
	l->capacity = capacity;
}

static inline void info_init(struct asm_agent_info *i, __u32 id)
{
	memset(i, 0, sizeof(*i));
	i->size = sizeof(*i);
	i->version = ASM_ABI_VERSION;
	i->agent_id = id;
}

static inline void patch_init(struct asm_patch *p, __u32 id, __u32 op)
{
	memset(p, 0, sizeof(*p));
	p->size = sizeof(*p);
	p->version = ASM_ABI_VERSION;
	p->agent_id = id;
	p->op = op;
}

static inline void fp_init(struct asm_fault_policy *p, __u32 id, __u32 flags)
{
	memset(p, 0, sizeof(*p));
	p->size = sizeof(*p);
	p->version = ASM_ABI_VERSION;
	p->agent_id = id;
	p->flags = flags;
}

/* An LLM request with @flags, document @doc (NULL: none) and response
 * buffer @resp (NULL: none). */
static inline void llm_init(struct asm_llm_request *r, __u32 flags, const char *doc,
			    size_t doc_len, char *resp, __u32 resp_len)
{
	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->version = ASM_ABI_VERSION;
	r->flags = flags;
	if (doc) {
		r->request = (__u64)(uintptr_t)doc;
		r->request_len = doc_len;
	}
	if (resp) {
		r->response = (__u64)(uintptr_t)resp;
		r->response_len = resp_len;
	}
}

static inline void json_init(struct asm_json *j, __u32 id, char *buf, __u32 len)
{
	memset(j, 0, sizeof(*j));
	j->size = sizeof(*j);
	j->version = ASM_ABI_VERSION;
	j->agent_id = id;
	j->len = len;
	j->buf = (__u64)(uintptr_t)buf;
}

/* --- one-call wrappers (return the ioctl's result, errno set) ----------- */

static inline int asm_register_pid(int fd, __u32 id, pid_t pid, const char *name, __u32 *out_id)
{
	struct asm_register r;
	int ret;

	reg_init(&r, id, ASM_TARGET_PID, pid, name);
	ret = ioctl(fd, ASM_IOC_REGISTER, &r);
	if (!ret && out_id)
		*out_id = r.agent_id;
	return ret;
}

static inline int asm_register_self(int fd, __u32 id, __u64 caps, const char *name, __u32 *out_id)
{
	struct asm_register r;
	int ret;

	reg_init(&r, id, ASM_TARGET_SELF, 0, name);
	r.capabilities = caps;
	ret = ioctl(fd, ASM_IOC_REGISTER, &r);
	if (!ret && out_id)
		*out_id = r.agent_id;
	return ret;
}

static inline int asm_unregister(int fd, __u32 id)
{
	struct asm_unregister u;

	unreg_init(&u, id);
	return ioctl(fd, ASM_IOC_UNREGISTER, &u);
}

static inline int asm_get_info(int fd, __u32 id, struct asm_agent_info *info)
{
	info_init(info, id);
	return ioctl(fd, ASM_IOC_GET_INFO, info);
}

/* ASM_IOC_LIST; returns the ioctl's result, *count is set on 0 and ERANGE. */
static inline int asm_list(int fd, __u32 *ids, __u32 capacity, __u32 *count)
{
	struct asm_list l;
	int ret;

	list_init(&l, ids, capacity);
	ret = ioctl(fd, ASM_IOC_LIST, &l);
	if (!ret || errno == ERANGE)
		*count = l.count;
	return ret;
}

/*
 * Fetch a JSON document into @buf (room for @cap bytes plus a NUL); returns
 * its length, or -1 with errno set.
 */
static inline long asm_get_json(int fd, unsigned long cmd, __u32 id, char *buf, size_t cap)
{
	struct asm_json j;

	json_init(&j, id, buf, cap);
	if (ioctl(fd, cmd, &j))
		return -1;
	if (j.len > cap) {
		errno = EOVERFLOW;
		return -1;
	}
	buf[j.len] = '\0';
	return j.len;
}

/* --- flat JSON lookups (compact documents, as the module writes them) ---- */

/* The value of the first "key": in @doc, or NULL. */
static inline const char *json_find(const char *doc, const char *key)
{
	char pat[128];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(doc, pat);
	return p ? p + strlen(pat) : NULL;
}

static inline int json_num(const char *doc, const char *key, long long *out)
{
	const char *p = json_find(doc, key);
	char *end;

	if (!p)
		return -1;
	errno = 0;
	*out = strtoll(p, &end, 10);
	if (errno || end == p)
		return -1;
	return 0;
}

/* The raw value text of "key" (up to the next ',' or '}' outside a string or array). */
static inline int json_raw(const char *doc, const char *key, char *out, size_t outlen)
{
	const char *p = json_find(doc, key);
	int in_str = 0, depth = 0;
	size_t n = 0;

	if (!p)
		return -1;
	for (; *p && n + 1 < outlen; p++) {
		if (!in_str && !depth && (*p == ',' || *p == '}'))
			break;
		if (*p == '"' && (n == 0 || p[-1] != '\\'))
			in_str = !in_str;
		else if (!in_str && *p == '[')
			depth++;
		else if (!in_str && *p == ']')
			depth--;
		out[n++] = *p;
	}
	out[n] = '\0';
	return 0;
}

/* Expect "key":<raw value> in @doc, e.g. json_expect(doc, "state", "\"Spawned\""). */
static inline int json_expect(const char *doc, const char *key, const char *want)
{
	char got[512];

	if (json_raw(doc, key, got, sizeof(got)))
		return ktap_fail_msg("JSON has no \"%s\"", key);
	if (strcmp(got, want))
		return ktap_fail_msg("JSON \"%s\": expected %s, got %s", key, want, got);
	return 1;
}

static inline int json_expect_num(const char *doc, const char *key, long long want)
{
	char s[32];

	snprintf(s, sizeof(s), "%lld", want);
	return json_expect(doc, key, s);
}

/* --- helper processes ---------------------------------------------------- */

/* The state letter of /proc/PID/stat ('S', 'R', 'Z', ...), '?' if unknown. */
static inline char proc_state(pid_t pid)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return '?';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

/* debugfs asm/sampler (debugfs mounted at its usual place). */
#define ASM_SAMPLER_PATH	"/sys/kernel/debug/asm/sampler"

/*
 * The sampler's ticks, their total time, its sweeps and its last sweep's
 * time, so far; 0, or -1 when the file cannot be read.
 */
static inline int asm_sampler_read(uint64_t *ticks, uint64_t *total_ns, uint64_t *sweeps,
				   uint64_t *sweep_ns)
{
	unsigned long long t, tn, s, sn;
	FILE *f = fopen(ASM_SAMPLER_PATH, "re");
	int n;

	if (!f)
		return -1;
	n = fscanf(f, "ticks %llu total_ns %llu last_ns %*s max_ns %*s sweeps %llu last_sweep_ns %llu",
		   &t, &tn, &s, &sn);
	fclose(f);
	if (n != 4)
		return -1;
	*ticks = t;
	*total_ns = tn;
	*sweeps = s;
	*sweep_ns = sn;
	return 0;
}

static inline uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/*
 * A sleeper is a child that blocks in pause() at once: once it sleeps it
 * makes no system call, so it can be an agent without moving any counter.
 * Returns its pid after it is asleep; bails out when it cannot.
 */
static inline pid_t sleeper_start(void)
{
	uint64_t deadline;
	int ready[2];
	pid_t pid;
	char c;

	if (pipe(ready))
		ktap_bail("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		ktap_bail("fork: %s", strerror(errno));
	if (pid == 0) {
		close(ready[0]);
		if (write(ready[1], "x", 1) != 1)
			_exit(1);
		close(ready[1]);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		ktap_bail("sleeper %d did not start", (int)pid);
	close(ready[0]);
	deadline = now_ns(CLOCK_MONOTONIC) + 10ull * 1000000000ull;
	while (proc_state(pid) != 'S') {
		if (now_ns(CLOCK_MONOTONIC) > deadline)
			ktap_bail("sleeper %d does not sleep", (int)pid);
		usleep(1000);
	}
	return pid;
}

static inline void sleeper_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* A pid that no process has: a child that has exited and been reaped. */
static inline pid_t dead_pid(void)
{
	pid_t pid = fork();

	if (pid < 0)
		ktap_bail("fork: %s", strerror(errno));
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return pid;
}

/*
 * Run @fn in a forked child and return what it wrote to the result pipe
 * (@n ints); the child's exit status goes to *status.  Returns 0 when the
 * child reported all @n results.
 */
static inline int run_child(void (*fn)(int wfd, void *arg), void *arg, int *res, int n, int *status)
{
	int p[2];
	ssize_t got = 0, r;
	pid_t pid;

	if (pipe(p))
		ktap_bail("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		ktap_bail("fork: %s", strerror(errno));
	if (pid == 0) {
		close(p[0]);
		fn(p[1], arg);
		_exit(0);
	}
	close(p[1]);
	while (got < (ssize_t)(n * sizeof(int))) {
		r = read(p[0], (char *)res + got, n * sizeof(int) - got);
		if (r <= 0)
			break;
		got += r;
	}
	close(p[0]);
	waitpid(pid, status, 0);
	return got == (ssize_t)(n * sizeof(int)) ? 0 : -1;
}

/* In a child of run_child(): report one result. */
static inline void child_report(int wfd, int val)
{
	if (write(wfd, &val, sizeof(val)) != sizeof(val))
		_exit(120);
}

/*
 * A kid is a child that reports ints on a result pipe and waits for "go"
 * bytes on a command pipe, for cases where the parent checks something
 * between the child's steps.
 */
struct kid {
	pid_t pid;
	int res_fd;	/* parent reads results */
	int cmd_fd;	/* parent writes go bytes */
};

static inline void kid_start(struct kid *k, void (*fn)(int res_wfd, int cmd_rfd, void *arg),
			     void *arg)
{
	int res[2], cmd[2];

	if (pipe(res) || pipe(cmd))
		ktap_bail("pipe: %s", strerror(errno));
	fflush(stdout);
	k->pid = fork();
	if (k->pid < 0)
		ktap_bail("fork: %s", strerror(errno));
	if (k->pid == 0) {
		close(res[0]);
		close(cmd[1]);
		fn(res[1], cmd[0], arg);
		_exit(0);
	}
	close(res[1]);
	close(cmd[0]);
	k->res_fd = res[0];
	k->cmd_fd = cmd[1];
}

#define KID_NO_RESULT	(-1000)

/* The kid's next result, KID_NO_RESULT if it exited without one. */
static inline int kid_result(struct kid *k)
{
	int v;

	if (read(k->res_fd, &v, sizeof(v)) != sizeof(v))
		return KID_NO_RESULT;
	return v;
}

static inline void kid_go(struct kid *k)
{
	if (write(k->cmd_fd, "g", 1) != 1)
		ktap_msg("kid %d: cannot send go", (int)k->pid);
}

/* In the kid: wait for the parent's go (0), or for the parent to close (-1). */
static inline int kid_wait_go(int cmd_rfd)
{
	char c;

	return read(cmd_rfd, &c, 1) == 1 ? 0 : -1;
}

/* Close the pipes (a waiting kid sees -1) and reap the kid; returns its status. */
static inline int kid_finish(struct kid *k)
{
	int status = -1;

	close(k->cmd_fd);
	close(k->res_fd);
	waitpid(k->pid, &status, 0);
	return status;
}

/* The errno of a call that returned @ret: 0 on success. */
static inline int call_errno(int ret)
{
	return ret ? errno : 0;
}

static inline const char *errname(int e)
{
	const char *s;

	if (!e)
		return "success";
	s = strerrorname_np(e);
	return s ? s : "?";
}

/* In a child: become @uid/@uid with no supplementary groups, or exit 121. */
static inline void drop_to(uid_t uid)
{
	if (setgroups(0, NULL) || setgid(uid) || setuid(uid) ||
	    geteuid() != uid || getegid() != uid || getuid() != uid)
		_exit(121);
}

/*
 * The start of a test program that needs root and a freshly loaded module:
 * the KTAP header, a skip when not root, asm_fd open, a bail-out when
 * agents exist already.
 */
static inline void asm_test_begin(int nr_cases)
{
	__u32 ids[64], count = 0;

	signal(SIGPIPE, SIG_IGN);
	ktap_header(nr_cases);
	if (geteuid() != 0) {
		printf("# SKIP must run as root\n");
		exit(KSFT_SKIP);
	}
	asm_fd = asm_open();
	if (asm_fd < 0)
		ktap_bail("open %s: %s", ASM_DEVICE_PATH, strerror(errno));
	if (asm_list(asm_fd, ids, 64, &count))
		ktap_bail("LIST: %s", strerror(errno));
	if (count)
		ktap_bail("%u agents exist already (first %u): run on a freshly loaded module",
			  count, ids[0]);
}

/* --- the audit trail (needs root) --------------------------------------- */

static struct asm_audit_entry trail[ASM_AUDIT_ENTRIES] __attribute__((unused));

/* Reads audit trail @which (enum asm_audit_trail) into @buf, room for @cap
 * entries; returns the entries, or -errno. */
static inline int read_trail_of(__u32 which, struct asm_audit_entry *buf, __u32 cap,
				struct asm_audit_read *out)
{
	struct asm_audit_read r;

	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.version = ASM_ABI_VERSION;
	r.entries = (__u64)(uintptr_t)buf;
	r.capacity = cap;
	r.trail = which;
	if (ioctl(asm_fd, ASM_IOC_GET_AUDIT, &r))
		return -errno;
	if (out)
		*out = r;
	return r.count;
}

/* Reads the whole policy trail kept into trail[]; returns the entries, -1 on
 * error. */
static inline int read_trail(struct asm_audit_read *out)
{
	int n = read_trail_of(ASM_AUDIT_TRAIL_POLICY, trail, ASM_AUDIT_ENTRIES, out);

	if (n < 0) {
		ktap_msg("GET_AUDIT: %s", strerror(-n));
		return -1;
	}
	return n;
}

/* The newest entry of @kind about @id, NULL if none. */
static inline const struct asm_audit_entry *last_entry(__u32 kind, __u32 id)
{
	int n = read_trail(NULL), i;

	for (i = n - 1; i >= 0; i--)
		if (trail[i].kind == kind && trail[i].agent_id == id)
			return &trail[i];
	return NULL;
}

#define CGROUP_ROOT	"/sys/fs/cgroup"

/*
 * Makes the cgroup v2 directory @dir (under CGROUP_ROOT), mounting cgroup2
 * there first when it is still sysfs's empty directory.  Returns 0, or -1
 * when the machine has no cgroup v2 hierarchy.
 */
static inline int cgroup_make(const char *dir)
{
	const unsigned long cgroup2_magic = 0x63677270, sysfs_magic = 0x62656572;
	struct statfs sfs;

	if (statfs(CGROUP_ROOT, &sfs))
		return -1;
	if ((unsigned long)sfs.f_type == sysfs_magic &&
	    mount("none", CGROUP_ROOT, "cgroup2", 0, NULL))
		return -1;
	if (statfs(CGROUP_ROOT, &sfs) || (unsigned long)sfs.f_type != cgroup2_magic)
		return -1;
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -1;
	return 0;
}

#endif /* ASM_SELFTEST_UTIL_H */
