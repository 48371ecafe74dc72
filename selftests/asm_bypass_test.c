// SPDX-License-Identifier: GPL-2.0
/*
 * asm_bypass_test - attacks on supervision itself (KTAP).
 *
 * Each case performs an attack an unprivileged user or an agent would try
 * against the rules of Documentation/policy.rst ("Threat model") and fails
 * if the attack works:
 *
 *   identity   chosen ids and restart budgets are root's; a user's agents
 *              are limited (max_agents_per_uid) and reclaimed once ended;
 *   opens      O_TRUNC and O_CREAT opens are writes; a chroot or a bind
 *              mount in a new mount namespace does not rename a file into
 *              the scope; other processes' /proc entries are not in the
 *              always-readable set;
 *   membership a clone3(CLONE_INTO_CGROUP) child and a self-registered
 *              process moved into a cgroup agent's cgroup belong to the
 *              cgroup agent; threads an agent creates while it registers
 *              are all traced (the open checks run at their syscalls);
 *   visibility the events multicast group needs CAP_NET_ADMIN, and
 *              /proc/agentsys/compliance shows a user only their agents;
 *   floods     refusals of one user and an agent's own reports cannot push
 *              entries out of the audit trail.
 *
 * Runs as root on a freshly loaded asm.ko; attackers are forked children,
 * as root or uid 65534.  Agent ids are allocated; files live under
 * /tmp/asm-bypass; cgroup /sys/fs/cgroup/asm-bypass.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <linux/futex.h>
#include <linux/sched.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>

#include "asm_genl.h"
#include "asm_util.h"

#define NOBODY		65534
#define DIR		"/tmp/asm-bypass"
#define WS		DIR "/ws"		/* the agents' scope */
#define OUTSIDE		DIR "/outside"		/* outside every scope */
#define JAIL		DIR "/jail"		/* holds a fake copy of WS */
#define VICTIM		"/etc/asm-bypass-victim"
#define CREATED		"/etc/asm-bypass-created"
#define CGROUP_ROOT	"/sys/fs/cgroup"
#define CGROUP_DIR	CGROUP_ROOT "/asm-bypass"
#define PARAMS		"/sys/module/asm/parameters/"

#define NR_CASES	17

/* --- small helpers ------------------------------------------------------- */

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, got = 0;

	if (fd < 0)
		return -errno;
	while (got < (ssize_t)len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += n;
	buf[got] = 0;
	close(fd);
	return 0;
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : st.st_size;
}

static int killed_by_sigkill(int status)
{
	return ktap_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			   "expected death by SIGKILL, status 0x%x", status);
}

static void reg_self(struct asm_register *r, __u64 caps, const char *scope)
{
	reg_init(r, 0, ASM_TARGET_SELF, 0, "bypass");
	r->capabilities = caps;
	snprintf(r->scope, sizeof(r->scope), "%s", scope ? scope : "");
}

/*
 * An attacker: a child that becomes @uid (0: stays root), registers itself
 * as an agent with @caps and @scope (allocated id, reported first), then
 * runs @fn, which reports its results.  Returns the child's wait status;
 * *id gets the agent id (0 if the registration failed) and res[] the
 * results (KID_NO_RESULT where none came).
 */
struct attack {
	uid_t uid;
	__u64 caps;
	const char *scope;
	void (*fn)(int wfd, const void *arg);
	const void *arg;
};

static void attacker(int wfd, void *arg)
{
	const struct attack *a = arg;
	struct asm_register r;
	int fd;

	if (a->uid)
		drop_to(a->uid);
	fd = asm_open();
	reg_self(&r, a->caps, a->scope);
	if (fd < 0 || ioctl(fd, ASM_IOC_REGISTER, &r)) {
		child_report(wfd, -errno);
		_exit(122);
	}
	close(fd);
	child_report(wfd, (int)r.agent_id);
	a->fn(wfd, a->arg);
}

static int run_attack(const struct attack *a, __u32 *id, int *res, int nres)
{
	int all[9], status, i;

	for (i = 0; i < 9; i++)
		all[i] = KID_NO_RESULT;
	run_child(attacker, (void *)a, all, nres + 1, &status);
	*id = all[0] > 0 ? (__u32)all[0] : 0;
	if (!*id)
		ktap_fail_msg("the attacker could not register: %s", errname(-all[0]));
	for (i = 0; i < nres; i++)
		res[i] = all[i + 1];
	return status;
}

/* A child that stays alive until killed; registers nothing. */
static pid_t idle_child(void)
{
	return sleeper_start();
}

/* --- identity -------------------------------------------------------------- */

static void reg_chosen(int wfd, void *arg)
{
	struct asm_register r;
	int fd;

	(void)arg;
	drop_to(NOBODY);
	fd = asm_open();
	reg_init(&r, 710, ASM_TARGET_SELF, 0, "squat-spec");	/* an asmd spec id */
	child_report(wfd, call_errno(ioctl(fd, ASM_IOC_REGISTER, &r)));
	reg_init(&r, 5700, ASM_TARGET_SELF, 0, "squat-range");	/* in the allocated range */
	child_report(wfd, call_errno(ioctl(fd, ASM_IOC_REGISTER, &r)));
	reg_init(&r, 0, ASM_TARGET_SELF, 0, "restart-me");
	r.auto_restart = 3;
	child_report(wfd, call_errno(ioctl(fd, ASM_IOC_REGISTER, &r)));
}

/* 1: a user cannot take an id (asmd's or another) nor a restart budget. */
static void test_chosen_ids(void)
{
	struct asm_agent_info info;
	int r[3], status;
	pid_t p;

	ktap_case_start();
	if (run_child(reg_chosen, NULL, r, 3, &status)) {
		ktap_fail_msg("child did not report (status 0x%x)", status);
	} else {
		ktap_expect(r[0] == EPERM, "uid %d REGISTER id 710: expected EPERM, got %s",
			    NOBODY, errname(r[0]));
		ktap_expect(r[1] == EPERM, "uid %d REGISTER id 5700: expected EPERM, got %s",
			    NOBODY, errname(r[1]));
		ktap_expect(r[2] == EPERM, "uid %d REGISTER auto_restart 3: expected EPERM, got %s",
			    NOBODY, errname(r[2]));
	}
	ktap_expect_err(asm_get_info(asm_fd, 710, &info), ESRCH, "GET_INFO 710");
	/* Root's registration of that id is untouched by the attempt. */
	p = idle_child();
	ktap_expect_ok(asm_register_pid(asm_fd, 710, p, "root-spec", NULL), "root REGISTER 710");
	asm_unregister(asm_fd, 710);
	sleeper_stop(p);
	ktap_case_end("uid 65534: chosen ids and restart budgets -> EPERM; root's id 710 stays free");
}

/* Registers itself as uid 65534, reports, stays until the pipe closes. */
static void user_agent(int wfd, int cmd_rfd, void *arg)
{
	struct asm_register r;
	int fd;

	(void)arg;
	drop_to(NOBODY);
	fd = asm_open();
	reg_self(&r, ASM_CAP_FS_BASIC, NULL);
	child_report(wfd, ioctl(fd, ASM_IOC_REGISTER, &r) ? -errno : (int)r.agent_id);
	kid_wait_go(cmd_rfd);
}

/* 2: a user's agents are limited; root's registrations still work. */
static void test_per_uid_limit(void)
{
	struct kid k[4];
	int r[4], i;
	pid_t p;
	__u32 id;

	ktap_case_start();
	if (!ktap_expect_ok(write_file(PARAMS "max_agents_per_uid", "3"),
			    "set max_agents_per_uid")) {
		ktap_case_end("per-uid limit");
		return;
	}
	for (i = 0; i < 4; i++) {
		kid_start(&k[i], user_agent, NULL);
		r[i] = kid_result(&k[i]);
	}
	for (i = 0; i < 3; i++)
		ktap_expect(r[i] > 0, "agent %d of uid %d: %s", i + 1, NOBODY, errname(-r[i]));
	ktap_expect(r[3] == -EDQUOT, "4th agent of uid %d: expected EDQUOT, got %s", NOBODY,
		    r[3] < 0 ? errname(-r[3]) : "success");
	p = idle_child();
	ktap_expect_ok(asm_register_pid(asm_fd, 0, p, "root-after", &id),
		       "root REGISTER with the user at its limit");
	asm_unregister(asm_fd, id);
	sleeper_stop(p);
	/* Later kids hold copies of earlier kids' pipes: last first. */
	for (i = 3; i >= 0; i--) {
		kid_go(&k[i]);
		kid_finish(&k[i]);
		if (r[i] > 0)
			asm_unregister(asm_fd, r[i]);
	}
	write_file(PARAMS "max_agents_per_uid", "64");
	ktap_case_end("max_agents_per_uid 3: the 4th agent of uid 65534 -> EDQUOT, root unaffected");
}

static void exit_now(int wfd, const void *arg)
{
	(void)wfd;
	(void)arg;
}

/* 3: an ended agent of a user is forgotten; root's is kept. */
static void test_reclaim(void)
{
	struct attack user = { NOBODY, ASM_CAP_FS_BASIC, NULL, exit_now, NULL };
	struct attack root = { 0, ASM_CAP_FS_BASIC, NULL, exit_now, NULL };
	const struct asm_audit_entry *e;
	struct asm_agent_info info;
	__u32 uid_id, root_id;
	uint64_t deadline;
	int gone = 0;

	ktap_case_start();
	write_file(PARAMS "reclaim_ms", "300");
	run_attack(&user, &uid_id, NULL, 0);
	run_attack(&root, &root_id, NULL, 0);
	deadline = now_ns(CLOCK_MONOTONIC) + 5000000000ull;
	while (uid_id && !gone && now_ns(CLOCK_MONOTONIC) < deadline) {
		gone = asm_get_info(asm_fd, uid_id, &info) && errno == ESRCH;
		usleep(100000);
	}
	ktap_expect(gone, "uid %d's ended agent %u still registered after 5 s", NOBODY, uid_id);
	e = last_entry(ASM_AUDIT_UNREGISTER, uid_id);
	ktap_expect(e && e->op == ASM_UNREGISTER_RECLAIMED, "no reclaim entry in the audit trail");
	ktap_expect_ok(asm_get_info(asm_fd, root_id, &info), "root's ended agent kept");
	asm_unregister(asm_fd, root_id);
	write_file(PARAMS "reclaim_ms", "60000");
	ktap_case_end("reclaim_ms 300: uid 65534's ended agent is reclaimed and audited, root's kept");
}

/* --- opens ----------------------------------------------------------------- */

static void open_flags(int wfd, const void *arg)
{
	const char *path = arg;
	int fd;

	/* O_RDONLY, but O_TRUNC (or O_CREAT) changes the file. */
	fd = open(path, !strcmp(path, VICTIM) ? O_RDONLY | O_TRUNC : O_RDONLY | O_CREAT, 0644);
	child_report(wfd, fd < 0 ? errno : 0);
}

/* 4, 5: read-only opens that truncate or create are writes. */
static void test_open_writes(const char *path, const char *what)
{
	struct attack a = { 0, ASM_CAP_FS_BASIC, WS, open_flags, path };
	const struct asm_audit_entry *e;
	int r = KID_NO_RESULT, status;
	__u32 id;

	ktap_case_start();
	status = run_attack(&a, &id, &r, 1);
	killed_by_sigkill(status);
	ktap_expect(r == KID_NO_RESULT, "the agent went on after its open (%s)", errname(r));
	e = last_entry(ASM_AUDIT_VIOLATION, id);
	ktap_expect(e && e->op == ASM_VIOLATION_FILE && !strncmp(e->detail, "write ", 6),
		    "no write violation audited (%s)", e ? e->detail : "none");
	asm_unregister(asm_fd, id);
	unlink(CREATED);
	ktap_case_end("%s", what);
}

/* Writes a byte to WS/stolen as the agent sees it; reports the errno. */
static void write_stolen(int wfd)
{
	int fd = open(WS "/stolen", O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd >= 0 && write(fd, "x", 1) != 1)
		fd = -1;
	child_report(wfd, fd < 0 ? errno : 0);
}

static void chroot_write(int wfd, const void *arg)
{
	(void)arg;
	/* A user namespace gives it CAP_SYS_CHROOT over its own view. */
	if (unshare(CLONE_NEWUSER) || chroot(JAIL) || chdir("/")) {
		child_report(wfd, -errno);
		return;
	}
	child_report(wfd, 0);
	/* The jail's WS is a directory outside the real WS. */
	write_stolen(wfd);
}

static void bind_write(int wfd, const void *arg)
{
	(void)arg;
	/* Its own mount namespace: OUTSIDE mounted over its scope. */
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) ||
	    mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount(OUTSIDE, WS, NULL, MS_BIND, NULL)) {
		child_report(wfd, -errno);
		return;
	}
	child_report(wfd, 0);
	write_stolen(wfd);
}

/* 6, 7: a rearranged view does not bring an outside file into the scope. */
static void test_view(void (*fn)(int, const void *), const char *real, const char *what)
{
	struct attack a = { NOBODY, ASM_CAP_FS_BASIC, WS, fn, NULL };
	int r[2] = { KID_NO_RESULT, KID_NO_RESULT }, status;
	const struct asm_audit_entry *e;
	__u32 id;

	ktap_case_start();
	unlink(real);
	status = run_attack(&a, &id, r, 2);
	if (r[0] < 0 && r[0] != KID_NO_RESULT) {
		ktap_fail_msg("setting up the view failed: %s", errname(-r[0]));
	} else {
		killed_by_sigkill(status);
		ktap_expect(r[1] == KID_NO_RESULT, "the open in the rearranged view went on (%s)",
			    errname(r[1]));
		ktap_expect(file_size(real) <= 0, "%s got the agent's byte", real);
		e = last_entry(ASM_AUDIT_VIOLATION, id);
		ktap_expect(e && e->op == ASM_VIOLATION_FILE, "no file violation audited");
	}
	if (id)
		asm_unregister(asm_fd, id);
	unlink(real);
	ktap_case_end("%s", what);
}

static void proc_reads(int wfd, const void *arg)
{
	const pid_t *other = arg;
	char path[64];
	int fd;

	fd = open("/proc/self/status", O_RDONLY);
	child_report(wfd, fd < 0 ? errno : 0);
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)*other);
	fd = open(path, O_RDONLY);
	child_report(wfd, fd < 0 ? errno : 0);
}

/* 8: its own /proc entries are readable, another process's are not. */
static void test_proc(void)
{
	pid_t other = idle_child();
	struct attack a = { 0, ASM_CAP_FS_BASIC, WS, proc_reads, &other };
	int r[2] = { KID_NO_RESULT, KID_NO_RESULT }, status;
	const struct asm_audit_entry *e;
	char want[64];
	__u32 id;

	ktap_case_start();
	status = run_attack(&a, &id, r, 2);
	ktap_expect(r[0] == 0, "/proc/self/status: %s", errname(r[0]));
	killed_by_sigkill(status);
	ktap_expect(r[1] == KID_NO_RESULT, "the agent read /proc/%d/environ and went on",
		    (int)other);
	snprintf(want, sizeof(want), "read /proc/%d/environ", (int)other);
	e = last_entry(ASM_AUDIT_VIOLATION, id);
	ktap_expect(e && !strcmp(e->detail, want), "audited '%s', expected '%s'",
		    e ? e->detail : "nothing", want);
	asm_unregister(asm_fd, id);
	sleeper_stop(other);
	ktap_case_end("/proc/self is readable; /proc/<another process>/environ kills the agent");
}

/* Below 4 GiB (a static, non-PIE program): int $0x80 passes 32-bit pointers. */
static char compat_path[64] = OUTSIDE "/compat";

static void compat_open(int wfd, const void *arg)
{
	long ret;

	(void)arg;
	/* The i386 open(2) (number 5) from a 64-bit process. */
	asm volatile("int $0x80"
		     : "=a"(ret)
		     : "a"(5L), "b"(compat_path), "c"((long)(O_WRONLY | O_CREAT)), "d"(0644L)
		     : "memory");
	child_report(wfd, ret < 0 ? (int)-ret : 0);
}

/* 9: a compat (int $0x80) open is judged like a native one. */
static void test_compat_open(void)
{
	struct attack a = { 0, ASM_CAP_FS_BASIC, WS, compat_open, NULL };
	int r = KID_NO_RESULT, status;
	const struct asm_audit_entry *e;
	__u32 id;

	ktap_case_start();
	if (!ktap_expect((uintptr_t)compat_path < (1ull << 32), "path above 4 GiB: not a static program")) {
		ktap_case_end("compat open");
		return;
	}
	unlink(compat_path);
	status = run_attack(&a, &id, &r, 1);
	killed_by_sigkill(status);
	ktap_expect(r == KID_NO_RESULT, "the compat open outside the scope went on (%s)", errname(r));
	e = last_entry(ASM_AUDIT_VIOLATION, id);
	ktap_expect(e && e->op == ASM_VIOLATION_FILE, "no file violation audited");
	asm_unregister(asm_fd, id);
	unlink(compat_path);
	ktap_case_end("an int $0x80 open outside the scope kills the agent");
}

/* --- membership ------------------------------------------------------------ */

static int have_cgroup;

static void cgroup_setup(void)
{
	struct statfs sfs;

	if (statfs(CGROUP_ROOT, &sfs) || (unsigned long)sfs.f_type != 0x63677270)
		return;
	if (mkdir(CGROUP_DIR, 0755) && errno != EEXIST)
		return;
	have_cgroup = 1;
}

static __u32 reg_cgroup(void)
{
	struct asm_register r;
	int dfd = open(CGROUP_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	reg_init(&r, 0, ASM_TARGET_CGROUP, 0, "bypass-cg");
	r.cgroup_fd = dfd;
	if (dfd < 0 || ioctl(asm_fd, ASM_IOC_REGISTER, &r)) {
		ktap_msg("REGISTER cgroup: %s", strerror(errno));
		r.agent_id = 0;
	}
	if (dfd >= 0)
		close(dfd);
	return r.agent_id;
}

static __u32 nr_processes(__u32 id)
{
	struct asm_agent_info info;

	return asm_get_info(asm_fd, id, &info) ? ~0u : info.nr_processes;
}

/*
 * 16: threads made while their process joins.  A thread copies its
 * creator's syscall tracepoint bit when it is made; one made while the
 * process registers may copy it before the join sets it and be linked
 * after the join's walk of the threads (the fork probe gives it the bit,
 * asm_probe_fork()).  A thread without the bit escapes the open checks
 * and is not counted.
 *
 * The bits must be off to begin with: the first agent's registration
 * turns the syscall tracepoints on, which gives every thread of the
 * system its bit, until the sampler's next sweep takes them from the
 * tasks of no agent.  So root first registers an idle holder (it makes no
 * system call: the count below stays the racer's) and waits for that
 * sweep.  Then the attacker (an unprivileged user) registers itself while
 * four threads make threads as fast as they can; then each thread, alone,
 * makes THREAD_CALLS system calls, and the count of agents' system calls
 * must grow by at least that much.  A thread that makes its calls before
 * the registration is the control: it adds none.
 */
#define SPAWNERS	4
#define PER_SPAWNER	40
#define THREAD_CALLS	500
#define RACE_ROUNDS	5
#define RACE_UID	60100	/* not 65534: case 14 used up its audit rate */

struct race_thread {
	atomic_int go, done;
	uint64_t made_from, made_to;	/* its pthread_create(), in ns */
};

static struct race_thread race[SPAWNERS][PER_SPAWNER];
static atomic_int race_made[SPAWNERS];

static void futex_wait(atomic_int *w)
{
	while (!atomic_load(w))
		syscall(SYS_futex, w, FUTEX_WAIT, 0, NULL, NULL, 0);
}

static void futex_set(atomic_int *w)
{
	atomic_store(w, 1);
	syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

static void *race_worker(void *arg)
{
	struct race_thread *t = arg;
	int i;

	futex_wait(&t->go);
	for (i = 0; i < THREAD_CALLS; i++)
		syscall(SYS_getppid);
	futex_set(&t->done);
	return NULL;
}

static void *race_spawner(void *arg)
{
	int s = (int)(long)arg, n;
	pthread_t t;

	for (n = 0; n < PER_SPAWNER; n++) {
		race[s][n].made_from = now_ns(CLOCK_MONOTONIC);
		if (pthread_create(&t, NULL, race_worker, &race[s][n]))
			break;
		race[s][n].made_to = now_ns(CLOCK_MONOTONIC);
		pthread_detach(t);
		atomic_store(&race_made[s], n + 1);
	}
	return NULL;
}

static int race_made_all(void)
{
	int s, n = 0;

	for (s = 0; s < SPAWNERS; s++)
		n += atomic_load(&race_made[s]);
	return n;
}

static long long agent_syscalls(int fd)
{
	static char doc[1 << 16];
	long long n = -1;

	if (asm_get_json(fd, ASM_IOC_GET_TELEMETRY_JSON, 0, doc, sizeof(doc) - 1) < 0 ||
	    json_num(doc, "total_syscalls", &n))
		return -1;
	return n;
}

/* The sweeps the sampler made, or -1. */
static long sampler_sweeps(void)
{
	uint64_t ticks, total_ns, sweeps, sweep_ns;

	return asm_sampler_read(&ticks, &total_ns, &sweeps, &sweep_ns) ? -1 : (long)sweeps;
}

/* Reports: the agent id (or -errno), threads made, those whose making
 * overlapped the registration's ioctl, untraced threads, and the count a
 * thread's calls added before the registration (the control: 0, as it is
 * no agent's). */
static void thread_racer(int wfd, void *arg)
{
	struct race_thread control = { 0 };
	int fd, s, n, during = 0, untraced = 0;
	uint64_t from, to;
	pthread_t spawners[SPAWNERS], t;
	long long before, after, counted;
	struct asm_register r;

	(void)arg;
	alarm(120);
	drop_to(RACE_UID);
	fd = asm_open();
	if (fd < 0 || pthread_create(&t, NULL, race_worker, &control))
		_exit(123);
	before = agent_syscalls(fd);
	futex_set(&control.go);
	futex_wait(&control.done);
	after = agent_syscalls(fd);
	counted = before < 0 || after < 0 ? -1 : after - before;
	pthread_join(t, NULL);
	for (s = 0; s < SPAWNERS; s++)
		if (pthread_create(&spawners[s], NULL, race_spawner, (void *)(long)s))
			_exit(123);
	/* Registered while the spawners are under way. */
	while (atomic_load(&race_made[0]) < 4 && atomic_load(&race_made[1]) < PER_SPAWNER)
		sched_yield();
	reg_self(&r, ASM_CAP_FS_BASIC, WS);
	from = now_ns(CLOCK_MONOTONIC);
	n = ioctl(fd, ASM_IOC_REGISTER, &r) ? -errno : (int)r.agent_id;
	to = now_ns(CLOCK_MONOTONIC);
	child_report(wfd, n);
	for (s = 0; s < SPAWNERS; s++)
		pthread_join(spawners[s], NULL);
	for (s = 0; s < SPAWNERS; s++) {
		for (n = 0; n < atomic_load(&race_made[s]); n++) {
			before = agent_syscalls(fd);
			futex_set(&race[s][n].go);
			futex_wait(&race[s][n].done);
			after = agent_syscalls(fd);
			untraced += before < 0 || after - before < THREAD_CALLS;
			during += race[s][n].made_from < to && race[s][n].made_to > from;
		}
	}
	child_report(wfd, race_made_all());
	child_report(wfd, during);
	child_report(wfd, untraced);
	child_report(wfd, (int)counted);
	_exit(0);
}

static void test_thread_join_race(void)
{
	int res[5], status, round, made = 0, during = 0;
	long sweeps, deadline;
	__u32 holder_id = 0;
	pid_t holder;

	ktap_case_start();
	sweeps = sampler_sweeps();
	holder = idle_child();
	if (!ktap_expect_ok(asm_register_pid(asm_fd, 0, holder, "race-holder", &holder_id),
			    "REGISTER of the idle holder") ||
	    !ktap_expect(sweeps >= 0, "%s: no sweep count", ASM_SAMPLER_PATH))
		goto out;
	/* The sweep that the first agent's tracepoints made due. */
	for (deadline = 0; sampler_sweeps() <= sweeps && deadline < 100; deadline++)
		usleep(100000);
	if (!ktap_expect(sampler_sweeps() > sweeps, "no sweep within 10 s of the first agent "
			 "(sweeps %ld): the threads' bits were never off", sweeps))
		goto out;
	for (round = 0; round < RACE_ROUNDS; round++) {
		memset(race, 0, sizeof(race));
		memset(race_made, 0, sizeof(race_made));
		if (run_child(thread_racer, NULL, res, 5, &status)) {
			ktap_fail_msg("round %d: the attacker did not report (status 0x%x)", round,
				      status);
			break;
		}
		if (!ktap_expect(res[0] > 0, "round %d: REGISTER of itself: %s", round,
				 errname(-res[0])))
			break;
		asm_unregister(asm_fd, res[0]);
		made += res[1];
		during += res[2];
		ktap_expect(res[3] == 0, "round %d: %d of %d threads made no counted system call",
			    round, res[3], res[1]);
		ktap_expect(res[4] == 0, "round %d: before the registration, a thread's %d calls "
			    "added %d to the agents' count", round, THREAD_CALLS, res[4]);
	}
	ktap_msg("%d threads, %d of them made while the registration's ioctl ran", made, during);
	ktap_expect(during > 0, "no thread was made during a registration: the race was not run");
out:
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	if (holder_id)
		asm_unregister(asm_fd, holder_id);
	ktap_case_end("uid %d makes threads while it registers itself: every thread is traced",
		      RACE_UID);
}

/* 10: clone3(CLONE_INTO_CGROUP) from outside puts a member in the agent. */
static void test_clone_into_cgroup(void)
{
	struct clone_args args;
	__u32 id;
	int dfd;
	pid_t pid;

	ktap_case_start();
	if (!have_cgroup) {
		ktap_fail_msg("no cgroup v2 hierarchy at " CGROUP_ROOT);
		ktap_case_end("clone3(CLONE_INTO_CGROUP)");
		return;
	}
	id = reg_cgroup();
	dfd = open(CGROUP_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	memset(&args, 0, sizeof(args));
	args.flags = CLONE_INTO_CGROUP;
	args.exit_signal = SIGCHLD;
	args.cgroup = dfd;
	fflush(stdout);
	pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0) {
		pause();
		_exit(0);
	}
	ktap_expect(pid > 0, "clone3: %s", strerror(errno));
	usleep(100000);
	ktap_expect_u64(nr_processes(id), 1, "processes of the cgroup agent");
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	ktap_expect_u64(nr_processes(id), 0, "processes after its exit");
	close(dfd);
	asm_unregister(asm_fd, id);
	ktap_case_end("a clone3(CLONE_INTO_CGROUP) child of a non-member joins the cgroup agent");
}

/* 11: a self-registered process moved into a cgroup agent leaves its own. */
static void test_move_into_cgroup(void)
{
	struct kid k;
	char pid[16];
	__u32 cg, own;
	int r;

	ktap_case_start();
	if (!have_cgroup) {
		ktap_fail_msg("no cgroup v2 hierarchy at " CGROUP_ROOT);
		ktap_case_end("moved into a cgroup agent");
		return;
	}
	cg = reg_cgroup();
	kid_start(&k, user_agent, NULL);
	r = kid_result(&k);
	own = r > 0 ? r : 0;
	ktap_expect(own, "self-registration: %s", errname(-r));
	snprintf(pid, sizeof(pid), "%d", (int)k.pid);
	ktap_expect_ok(write_file(CGROUP_DIR "/cgroup.procs", pid), "move into the cgroup");
	ktap_expect_u64(nr_processes(cg), 1, "processes of the cgroup agent");
	ktap_expect_u64(nr_processes(own), 0, "processes left in its own agent");
	kid_finish(&k);
	ktap_expect_u64(nr_processes(cg), 0, "cgroup agent's processes after its exit");
	asm_unregister(asm_fd, own);
	asm_unregister(asm_fd, cg);
	ktap_case_end("a self-registered process moved into a cgroup agent's cgroup becomes its member");
}

/* --- visibility ------------------------------------------------------------ */

/* Reports whether the family resolved, then the subscription's errno. */
static void subscribe(int wfd, void *arg)
{
	__u32 group = 0;
	__u16 family;
	int fd, ret;

	if (*(uid_t *)arg)
		drop_to(*(uid_t *)arg);
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	child_report(wfd, fd >= 0 && !asm_genl_resolve(fd, &family, &group));
	ret = setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group));
	child_report(wfd, call_errno(ret));
}

/* 12: the events group is CAP_NET_ADMIN's, like the proc connector's. */
static void test_events_group(void)
{
	uid_t nobody = NOBODY, root = 0;
	int r[2], status;

	ktap_case_start();
	if (!run_child(subscribe, &nobody, r, 2, &status)) {
		ktap_expect(r[0] == 1, "uid %d could not resolve the family", NOBODY);
		ktap_expect(r[1] == EPERM, "uid %d joined the events group: %s", NOBODY,
			    errname(r[1]));
	} else {
		ktap_fail_msg("child did not report (status 0x%x)", status);
	}
	if (!run_child(subscribe, &root, r, 2, &status))
		ktap_expect(r[1] == 0, "root could not join the events group: %s", errname(r[1]));
	else
		ktap_fail_msg("root child did not report");
	ktap_case_end("uid 65534: NETLINK_ADD_MEMBERSHIP of the events group -> EPERM; root joins");
}

static void read_compliance(int wfd, void *arg)
{
	static char buf[1 << 16];
	char want[32];

	drop_to(NOBODY);
	snprintf(want, sizeof(want), "Agent ID: %u\n", *(__u32 *)arg);
	child_report(wfd, read_file("/proc/agentsys/compliance", buf, sizeof(buf)));
	child_report(wfd, strstr(buf, want) != NULL);
	child_report(wfd, strstr(buf, "Total Agents:       0") != NULL);
}

/* 13: the compliance report shows a user only their agents. */
static void test_compliance_view(void)
{
	pid_t p = idle_child();
	int r[3], status;
	__u32 id;

	ktap_case_start();
	ktap_expect_ok(asm_register_pid(asm_fd, 0, p, "root-private", &id), "root REGISTER");
	if (!run_child(read_compliance, &id, r, 3, &status)) {
		ktap_expect(r[0] == 0, "read: %s", errname(-r[0]));
		ktap_expect(r[1] == 0, "uid %d sees root's agent %u", NOBODY, id);
		ktap_expect(r[2] == 1, "uid %d's report counts agents it cannot see", NOBODY);
	} else {
		ktap_fail_msg("child did not report");
	}
	asm_unregister(asm_fd, id);
	sleeper_stop(p);
	ktap_case_end("uid 65534: /proc/agentsys/compliance does not show root's agent");
}

/* --- floods ---------------------------------------------------------------- */

#define FLOOD	100

/* Refused registrations (a chosen id), each an audited refusal. */
static void refusal_flood(int wfd, void *arg)
{
	struct asm_register r;
	int fd, i, eperm = 0;

	(void)arg;
	drop_to(NOBODY);
	fd = asm_open();
	for (i = 0; i < FLOOD; i++) {
		reg_init(&r, 6000 + i, ASM_TARGET_SELF, 0, "flood");
		eperm += ioctl(fd, ASM_IOC_REGISTER, &r) && errno == EPERM;
	}
	child_report(wfd, eperm);
}

/* 14: a user's refused requests cannot flush the trail. */
static void test_refusal_flood(void)
{
	struct asm_audit_read before, after;
	pid_t p = idle_child();
	int r, status, n, i, from_user = 0, reg_kept = 0;
	__u32 id;

	ktap_case_start();
	ktap_expect_ok(asm_register_pid(asm_fd, 0, p, "flood-target", &id), "root REGISTER");
	read_trail(&before);
	if (run_child(refusal_flood, NULL, &r, 1, &status))
		ktap_fail_msg("child did not report");
	else
		ktap_expect(r == FLOOD, "%d of %d registrations refused with EPERM", r, FLOOD);
	n = read_trail(&after);
	for (i = 0; i < n; i++) {
		if (trail[i].seq >= before.next_seq && trail[i].uid == NOBODY)
			from_user++;
		if (trail[i].kind == ASM_AUDIT_REGISTER && trail[i].agent_id == id)
			reg_kept = 1;
	}
	ktap_expect(from_user <= ASM_AUDIT_LIMIT_BURST, "%d refusals of uid %d kept, limit %d",
		    from_user, NOBODY, ASM_AUDIT_LIMIT_BURST);
	ktap_expect(from_user > 0, "no refusal of uid %d kept at all", NOBODY);
	ktap_expect(after.suppressed - before.suppressed >= FLOOD - ASM_AUDIT_LIMIT_BURST,
		    "suppressed grew by %llu", (unsigned long long)(after.suppressed - before.suppressed));
	ktap_expect(reg_kept, "the registration entry was pushed out");
	asm_unregister(asm_fd, id);
	sleeper_stop(p);
	ktap_case_end("uid 65534: %d refused registrations keep at most %d entries; the rest are counted",
		      FLOOD, ASM_AUDIT_LIMIT_BURST);
}

static void decision_flood(int wfd, const void *arg)
{
	struct asm_note n;
	int fd = asm_open(), i, ok = 0, again = 0;

	(void)arg;
	for (i = 0; i < 2 * ASM_AUDIT_LIMIT_BURST; i++) {
		memset(&n, 0, sizeof(n));
		n.size = sizeof(n);
		n.version = ASM_ABI_VERSION;
		snprintf(n.text, sizeof(n.text), "decision %d", i);
		if (!ioctl(fd, ASM_IOC_DECISION, &n))
			ok++;
		else if (errno == EAGAIN)
			again++;
	}
	child_report(wfd, ok);
	child_report(wfd, again);
}

/* 15: an agent reporting decisions in a loop is held to its rate. */
static void test_decision_flood(void)
{
	struct attack a = { 0, ASM_CAP_FS_BASIC, NULL, decision_flood, NULL };
	int r[2] = { KID_NO_RESULT, KID_NO_RESULT };
	struct asm_compliance c;
	__u32 id;

	ktap_case_start();
	run_attack(&a, &id, r, 2);
	ktap_expect(r[0] == ASM_AUDIT_LIMIT_BURST, "%d decisions accepted, limit %d", r[0],
		    ASM_AUDIT_LIMIT_BURST);
	ktap_expect(r[1] == ASM_AUDIT_LIMIT_BURST, "%d decisions refused with EAGAIN", r[1]);
	memset(&c, 0, sizeof(c));
	c.size = sizeof(c);
	c.version = ASM_ABI_VERSION;
	c.agent_id = id;
	if (ktap_expect_ok(ioctl(asm_fd, ASM_IOC_GET_COMPLIANCE, &c), "GET_COMPLIANCE"))
		ktap_expect_u64(c.decisions, ASM_AUDIT_LIMIT_BURST, "decisions counted");
	asm_unregister(asm_fd, id);
	ktap_case_end("an agent's %d decisions: %d audited, the rest EAGAIN", 2 * ASM_AUDIT_LIMIT_BURST,
		      ASM_AUDIT_LIMIT_BURST);
}

static void setup_files(void)
{
	int fd;

	mkdir(DIR, 0755);
	mkdir(WS, 0777);
	mkdir(OUTSIDE, 0777);
	chmod(WS, 0777);
	chmod(OUTSIDE, 0777);
	/* The jail holds its own /tmp/asm-bypass/ws, outside the real one. */
	mkdir(JAIL, 0755);
	mkdir(JAIL "/tmp", 0755);
	mkdir(JAIL DIR, 0755);
	mkdir(JAIL WS, 0777);
	chmod(JAIL WS, 0777);
	fd = open(VICTIM, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "keep", 4) != 4)
		ktap_bail("create %s: %s", VICTIM, strerror(errno));
	close(fd);
	unlink(CREATED);
}

int main(void)
{
	__u32 ids[64], count = 0;

	asm_test_begin(NR_CASES);
	setup_files();
	cgroup_setup();

	test_chosen_ids();				/* 1 */
	test_per_uid_limit();				/* 2 */
	test_reclaim();					/* 3 */
	test_open_writes(VICTIM, "O_RDONLY|O_TRUNC of a file in the readable set is a write");
	test_open_writes(CREATED, "O_RDONLY|O_CREAT of a new file in the readable set is a write");
	test_view(chroot_write, JAIL WS "/stolen",
		  "uid 65534 in a user namespace: chroot does not rename a file into the scope");
	test_view(bind_write, OUTSIDE "/stolen",
		  "uid 65534 in its own mount namespace: a bind mount over the scope does not widen it");
	test_proc();					/* 8 */
	test_compat_open();				/* 9 */
	test_clone_into_cgroup();			/* 10 */
	test_move_into_cgroup();			/* 11 */
	test_events_group();				/* 12 */
	test_compliance_view();				/* 13 */
	test_refusal_flood();				/* 14 */
	test_decision_flood();				/* 15 */
	test_thread_join_race();			/* 16 */

	/* 17: nothing registered by the attacks is left behind. */
	ktap_case_start();
	ktap_expect_ok(asm_list(asm_fd, ids, 64, &count), "LIST");
	ktap_expect_u64(count, 0, "agents left");
	ktap_case_end("no agent left after the attacks");

	unlink(VICTIM);
	if (have_cgroup)
		rmdir(CGROUP_DIR);
	close(asm_fd);
	ktap_finish();
}
