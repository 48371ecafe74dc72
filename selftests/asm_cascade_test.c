// SPDX-License-Identifier: GPL-2.0
/*
 * asm_cascade_test - what the end of an agent does to its dependents
 * (Documentation/deps.rst, "When a dependency ends"), KTAP.
 *
 * Agent 7001 ("a") is a cgroup agent with a restart budget of 1, so the
 * test can restart it as a launcher would.  Sleeping children are agents
 * 7002 ("b", requires a), 7003 ("c", requires b: the chain a <- b <- c),
 * 7004 ("d", optional on a, with SIGUSR1) and 7005 ("e", a peer of a).
 * c ignores SIGTERM.  Every event is read from the "events" netlink group.
 *
 *   1. refusals: a signal on a Required edge, SIGKILL on an Optional one;
 *   2. a crashes with a restart left: b is held (not stopped), d gets
 *      SIGUSR1, and once the test restarts a nothing is stopped, even
 *      after the hold is over;
 *   3. a crashes again and ends Failed: c is stopped before b, c's
 *      SIGTERM is ignored and it gets SIGKILL after cascade_term_ms, b
 *      then SIGTERM; both end Exited with no crash counted, each with a
 *      cascade audit entry; d and e keep running;
 *   4. a dependency left in Recovery (nobody restarts it) stops its
 *      dependents once cascade_hold_ms is over;
 *   5. a dependency that exits cleanly stops its dependents at once;
 *   6. an unprivileged owner's cascade stops only what the owner could
 *      stop: nobody's agent cannot require root's agent nor have it
 *      signalled (ESRCH: nobody does not see it), and nobody's own edges
 *      stop nobody's own agents.
 */
#define _GNU_SOURCE
#include "asm_genl.h"
#include "asm_util.h"

#define CGROUP_DIR	CGROUP_ROOT "/asm-cascade-test"
#define CGROUP_DIR2	CGROUP_ROOT "/asm-cascade-test2"
#define NOBODY		65534
#define A		7001
#define B		7002
#define C		7003
#define D		7004
#define E		7005
#define TERM_MS		800
#define HOLD_MS		1500
#define NR_CASES	6

static struct asm_ev_reader nl;

/* Every event read so far, in order. */
static struct asm_ev log_ev[4096];
static int nr_log;

/*
 * The index in the log of the first event of @type of @agent at or after
 * @from, reading more for up to @ms; -1 if none came.
 */
static int ev_find(__u32 type, __u32 agent, int from, int ms)
{
	uint64_t deadline = now_ns(CLOCK_MONOTONIC) + (uint64_t)ms * 1000000;
	uint64_t now;
	int i;

	for (i = from;;) {
		for (; i < nr_log; i++)
			if (log_ev[i].type == type && log_ev[i].agent == agent)
				return i;
		now = now_ns(CLOCK_MONOTONIC);
		if (nr_log == (int)(sizeof(log_ev) / sizeof(log_ev[0])) || now >= deadline ||
		    asm_ev_next(&nl, &log_ev[nr_log], (int)((deadline - now + 999999) / 1000000)))
			return -1;
		nr_log++;
	}
}

/* Reads every event for @ms. */
static void ev_drain(int ms)
{
	ev_find(0, 0, nr_log, ms);
}

/* Whether an event of @type of @agent is in the log at or after @from. */
static int ev_seen(__u32 type, __u32 agent, int from)
{
	return ev_find(type, agent, from, 0) >= 0;
}

/* A member process: what it does on a command byte, and its signals. */
struct member {
	pid_t pid;
	__u32 id;		/* the agent it registered itself as */
	int cmd;		/* write end: 'q' exits 0, 'c' exits 3 */
	int usr1;		/* read end: one byte per SIGUSR1 */
};

static int usr1_wfd = -1;

static void on_usr1(int sig)
{
	(void)sig;
	if (write(usr1_wfd, "u", 1) != 1)
		_exit(101);
}

/*
 * Starts a member: in the cgroup v2 directory @cgroup unless NULL,
 * ignoring SIGTERM when @ignore_term, and registering itself as an agent
 * of user nobody when @as_nobody.  Returns once it runs.
 */
static struct member member_start(const char *cgroup, int ignore_term, int as_nobody)
{
	int cmd[2], usr1[2], ready[2];
	struct member m;
	char c;

	if (pipe(cmd) || pipe(usr1) || pipe(ready))
		ktap_bail("pipe: %s", strerror(errno));
	m.pid = fork();
	if (m.pid < 0)
		ktap_bail("fork: %s", strerror(errno));
	if (m.pid == 0) {
		close(cmd[1]);
		close(usr1[0]);
		close(ready[0]);
		usr1_wfd = usr1[1];
		signal(SIGUSR1, on_usr1);
		if (ignore_term)
			signal(SIGTERM, SIG_IGN);
		m.id = 0;
		if (cgroup) {
			char procs[128];
			int fd;

			snprintf(procs, sizeof(procs), "%s/cgroup.procs", cgroup);
			fd = open(procs, O_WRONLY);
			if (fd < 0 || write(fd, "0", 1) != 1)
				_exit(100);
			close(fd);
		}
		if (as_nobody) {
			drop_to(NOBODY);
			/* A user's registration: the kernel picks the id. */
			if (asm_register_self(asm_fd, 0, 0, "nobodys", &m.id))
				_exit(104);
		}
		if (write(ready[1], &m.id, sizeof(m.id)) != sizeof(m.id))
			_exit(102);
		for (;;) {
			ssize_t n = read(cmd[0], &c, 1);

			if (n == 1 && c == 'q')
				_exit(0);
			if (n == 1 && c == 'c')
				_exit(3);
			if (n == 0)
				_exit(0);
		}
	}
	close(cmd[0]);
	close(usr1[1]);
	close(ready[1]);
	if (read(ready[0], &m.id, sizeof(m.id)) != sizeof(m.id)) {
		int status = 0;

		waitpid(m.pid, &status, 0);
		ktap_bail("member %d did not start: status %#x", (int)m.pid, status);
	}
	close(ready[0]);
	m.cmd = cmd[1];
	m.usr1 = usr1[0];
	return m;
}

/* Whether @m reported a SIGUSR1 within @ms. */
static int member_got_usr1(const struct member *m, int ms)
{
	struct pollfd p = { m->usr1, POLLIN, 0 };
	char u;

	return poll(&p, 1, ms) == 1 && read(m->usr1, &u, 1) == 1;
}

/* Has @m exit with @how ('q' or 'c') and reaps it. */
static void member_end(struct member *m, char how)
{
	if (write(m->cmd, &how, 1) != 1)
		ktap_msg("command to %d: %s", (int)m->pid, strerror(errno));
	waitpid(m->pid, NULL, 0);
	m->pid = 0;
}

/* Whether @m still runs (it is not reaped: a zombie has ended). */
static int member_alive(const struct member *m)
{
	char st = proc_state(m->pid);

	return st != 0 && st != 'Z' && st != 'X';
}

/* Reaps @m; returns its wait status, or -1. */
static int member_reap(struct member *m, int ms)
{
	uint64_t deadline = now_ns(CLOCK_MONOTONIC) + (uint64_t)ms * 1000000;
	int status;

	while (now_ns(CLOCK_MONOTONIC) < deadline) {
		if (waitpid(m->pid, &status, WNOHANG) == m->pid) {
			m->pid = 0;
			return status;
		}
		usleep(10000);
	}
	return -1;
}

static void member_kill(struct member *m)
{
	if (m->pid > 0) {
		kill(m->pid, SIGKILL);
		waitpid(m->pid, NULL, 0);
	}
	m->pid = 0;
	close(m->cmd);
	close(m->usr1);
}

static int deps_add(__u32 dependent, __u32 dependency, __u32 kind, __u32 sig)
{
	struct asm_deps d;

	memset(&d, 0, sizeof(d));
	d.size = sizeof(d);
	d.version = ASM_ABI_VERSION;
	d.op = ASM_DEP_ADD;
	d.kind = kind;
	d.dependent = dependent;
	d.dependency = dependency;
	d.signal = sig;
	return ioctl(asm_fd, ASM_IOC_DEPS, &d);
}

static int register_cgroup(__u32 id, const char *cgroup, const char *name, __u32 budget)
{
	struct asm_register r;
	int dfd = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret;

	reg_init(&r, id, ASM_TARGET_CGROUP, 0, name);
	r.cgroup_fd = dfd;
	r.auto_restart = budget;
	ret = ioctl(asm_fd, ASM_IOC_REGISTER, &r);
	close(dfd);
	return ret;
}

static __u32 state_of(__u32 id)
{
	struct asm_agent_info info;

	if (asm_get_info(asm_fd, id, &info))
		return 99;
	return info.state;
}

static void set_param(const char *name, int value)
{
	char path[128], buf[32];
	int fd, n;

	snprintf(path, sizeof(path), "/sys/module/asm/parameters/%s", name);
	n = snprintf(buf, sizeof(buf), "%d", value);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, buf, n) != n)
		ktap_bail("set %s: %s", path, strerror(errno));
	close(fd);
}

static struct member ma, mb, mc, md, me;

/* Case 2: a crashes with a restart left; the test restarts it. */
static void held_while_restarting(void)
{
	int from = nr_log, i;

	ktap_case_start();
	member_end(&ma, 'c');
	i = ev_find(ASM_EV_RECOVERY, A, from, 10000);
	ktap_expect(i >= 0, "a is in Recovery");
	i = ev_find(ASM_EV_DEP_HELD, B, from, 5000);
	ktap_expect(i >= 0, "b is held while a is in Recovery");
	if (i >= 0) {
		ktap_expect_u64(log_ev[i].value, A, "the held event names a");
		ktap_expect_u64(log_ev[i].limit, HOLD_MS, "and the hold in ms");
	}
	i = ev_find(ASM_EV_DEP_LOST, D, from, 5000);
	ktap_expect(i >= 0, "d, optional, is told that a ended");
	if (i >= 0)
		ktap_expect_u64(log_ev[i].signal, SIGUSR1, "with the edge's signal");
	ktap_expect(member_got_usr1(&md, 5000), "d's process got SIGUSR1");
	/* The launcher restarts a within the hold. */
	ma = member_start(CGROUP_DIR, 0, 0);
	ktap_expect(ev_find(ASM_EV_RESTARTED, A, from, 5000) >= 0, "a restarted");
	ev_drain(HOLD_MS + 700);
	ktap_expect(!ev_seen(ASM_EV_CASCADE, B, from) && !ev_seen(ASM_EV_CASCADE, C, from),
		    "no cascade, even after the hold is over");
	ktap_expect(member_alive(&mb) && member_alive(&mc) && member_alive(&md),
		    "b, c and d run");
	ktap_expect(!ev_seen(ASM_EV_DEP_HELD, C, from), "c, which requires b only, was not held");
	ktap_case_end("a Required dependency in Recovery holds its dependents; its restart releases them");
}

/* Case 3: a crashes with no restart left: the chain is stopped. */
static void chain_stopped(void)
{
	struct asm_agent_info info;
	const struct asm_audit_entry *e;
	int from = nr_log, c_term, c_kill, b_term, c_exit, b_exit, i;
	__u64 crashes_before;

	ktap_case_start();
	ktap_expect_ok(asm_get_info(asm_fd, C, &info), "c's info");
	crashes_before = info.crashes;
	member_end(&ma, 'c');
	ktap_expect(ev_find(ASM_EV_FAILED, A, from, 10000) >= 0, "a failed: no restart left");
	c_term = ev_find(ASM_EV_CASCADE, C, from, 5000);
	ktap_expect(c_term >= 0, "c is stopped first");
	if (c_term >= 0) {
		ktap_expect_u64(log_ev[c_term].signal, SIGTERM, "with SIGTERM");
		ktap_expect_u64(log_ev[c_term].value, A, "because of a");
		ktap_expect_u64(log_ev[c_term].limit, TERM_MS, "grace");
	}
	c_kill = ev_find(ASM_EV_CASCADE, C, c_term + 1, 5000);
	ktap_expect(c_kill > c_term, "c ignored SIGTERM and gets SIGKILL");
	if (c_kill > c_term)
		ktap_expect_u64(log_ev[c_kill].signal, SIGKILL, "the second signal");
	c_exit = ev_find(ASM_EV_EXIT, C, from, 5000);
	b_term = ev_find(ASM_EV_CASCADE, B, from, 5000);
	b_exit = ev_find(ASM_EV_EXIT, B, from, 5000);
	ktap_expect(c_exit > c_kill && b_term > c_exit && b_exit > b_term,
		    "order: c SIGTERM %d, c SIGKILL %d, c exit %d, b SIGTERM %d, b exit %d",
		    c_term, c_kill, c_exit, b_term, b_exit);
	ktap_expect(!ev_seen(ASM_EV_CRASH, B, from) && !ev_seen(ASM_EV_CRASH, C, from),
		    "no crash event of b or c");
	ktap_expect_u64(member_reap(&mb, 5000) & 0x7f, SIGTERM, "b ended by SIGTERM");
	ktap_expect_u64(member_reap(&mc, 5000) & 0x7f, SIGKILL, "c ended by SIGKILL");
	ktap_expect_u64(state_of(B), ASM_STATE_EXITED, "b's state");
	ktap_expect_u64(state_of(C), ASM_STATE_EXITED, "c's state");
	ktap_expect_ok(asm_get_info(asm_fd, C, &info), "c's info");
	ktap_expect_u64(info.crashes, crashes_before, "c's crashes");
	for (i = B; i <= C; i++) {
		e = last_entry(ASM_AUDIT_CASCADE, i);
		ktap_expect(e != NULL, "agent %d has a cascade audit entry", i);
		if (e) {
			ktap_expect_u64(e->old_value, A, "whose end started it");
			ktap_expect_u64(e->new_value, TERM_MS, "the grace");
			ktap_msg("audit: %s", e->detail);
		}
	}
	ktap_expect(member_alive(&md) && member_alive(&me), "d (optional) and e (peer) run");
	ktap_expect(member_got_usr1(&md, 5000), "d got SIGUSR1 again");
	ktap_expect(!ev_seen(ASM_EV_CASCADE, D, from) && !ev_seen(ASM_EV_CASCADE, E, from),
		    "no cascade of d or e");
	ktap_case_end("a dependency that failed stops the chain, dependents first, and no stop is a crash");
}

/* Case 4: nobody restarts a dependency in Recovery. */
static void hold_expires(void)
{
	struct member a2, b2;
	int from = nr_log, held, stop;

	ktap_case_start();
	ktap_expect_ok(register_cgroup(A + 10, CGROUP_DIR2, "a2", 1), "register a2 (cgroup, 1 restart)");
	a2 = member_start(CGROUP_DIR2, 0, 0);
	b2 = member_start(NULL, 0, 0);
	ktap_expect_ok(asm_register_pid(asm_fd, B + 10, b2.pid, "b2", NULL), "register b2");
	ktap_expect_ok(deps_add(B + 10, A + 10, ASM_DEP_REQUIRED, 0), "b2 requires a2");
	member_end(&a2, 'c');
	held = ev_find(ASM_EV_DEP_HELD, B + 10, from, 5000);
	stop = ev_find(ASM_EV_CASCADE, B + 10, from, HOLD_MS + 5000);
	ktap_expect(held >= 0 && stop > held, "b2 was held (%d), then stopped (%d)", held, stop);
	ktap_expect_u64(state_of(A + 10), ASM_STATE_RECOVERY, "a2 is still in Recovery");
	ktap_expect_u64(member_reap(&b2, 5000) & 0x7f, SIGTERM, "b2 ended by SIGTERM");
	ktap_expect_u64(state_of(B + 10), ASM_STATE_EXITED, "b2's state");
	ktap_expect_ok(asm_unregister(asm_fd, A + 10), "unregister a2");
	ktap_expect_ok(asm_unregister(asm_fd, B + 10), "unregister b2");
	member_kill(&a2);
	member_kill(&b2);
	ktap_case_end("a dependency still in Recovery after cascade_hold_ms stops its dependents");
}

/* Case 5: a clean exit. */
static void clean_exit(void)
{
	struct member a3, b3;
	int from = nr_log, stop;

	ktap_case_start();
	a3 = member_start(NULL, 0, 0);
	b3 = member_start(NULL, 0, 0);
	ktap_expect_ok(asm_register_pid(asm_fd, A + 20, a3.pid, "a3", NULL), "register a3");
	ktap_expect_ok(asm_register_pid(asm_fd, B + 20, b3.pid, "b3", NULL), "register b3");
	ktap_expect_ok(deps_add(B + 20, A + 20, ASM_DEP_REQUIRED, 0), "b3 requires a3");
	member_end(&a3, 'q');
	stop = ev_find(ASM_EV_CASCADE, B + 20, from, 5000);
	ktap_expect(stop >= 0, "b3 is stopped");
	ktap_expect(!ev_seen(ASM_EV_DEP_HELD, B + 20, from), "without a hold");
	ktap_expect_u64(member_reap(&b3, 5000) & 0x7f, SIGTERM, "b3 ended by SIGTERM");
	ktap_expect_u64(state_of(A + 20), ASM_STATE_EXITED, "a3 exited");
	ktap_expect_ok(asm_unregister(asm_fd, A + 20), "unregister a3");
	ktap_expect_ok(asm_unregister(asm_fd, B + 20), "unregister b3");
	member_kill(&a3);
	member_kill(&b3);
	ktap_case_end("a dependency that exits cleanly stops its dependents at once");
}

/* Case 6: nobody's two agents, and root's agent e. */
static struct member n1, n2;

/* In a child as nobody: which edges nobody may add. */
static void nobody_edges(int wfd, void *arg)
{
	(void)arg;
	drop_to(NOBODY);
	/* Its agent may not require root's: that narrows root's agent. */
	child_report(wfd, call_errno(deps_add(n1.id, E, ASM_DEP_REQUIRED, 0)));
	/* Nor may an Optional edge have root's agent signalled. */
	child_report(wfd, call_errno(deps_add(E, n1.id, ASM_DEP_OPTIONAL, SIGTERM)));
	/* Its own two agents: allowed. */
	child_report(wfd, call_errno(deps_add(n2.id, n1.id, ASM_DEP_REQUIRED, 0)));
}

static void unprivileged(void)
{
	int res[3], status, from = nr_log;

	ktap_case_start();
	n1 = member_start(NULL, 0, 1);
	n2 = member_start(NULL, 0, 1);
	ktap_expect_ok(run_child(nobody_edges, NULL, res, 3, &status), "the child as nobody");
	/* Root's agent is not even seen by nobody. */
	ktap_expect_u64(res[0], ESRCH, "nobody: its agent requires root's -> ESRCH");
	ktap_expect_u64(res[1], ESRCH, "nobody: root's agent gets its signal -> ESRCH");
	ktap_expect_u64(res[2], 0, "nobody: one of its agents requires the other");
	member_end(&n1, 'q');
	ktap_expect(ev_find(ASM_EV_CASCADE, n2.id, from, 5000) >= 0,
		    "nobody's agent that exits stops nobody's dependent");
	ktap_expect_u64(member_reap(&n2, 5000) & 0x7f, SIGTERM, "which ends by SIGTERM");
	ktap_expect(member_alive(&md) && member_alive(&me), "root's agents run");
	ktap_expect(!ev_seen(ASM_EV_CASCADE, E, from), "no cascade of root's agent");
	asm_unregister(asm_fd, n1.id);
	asm_unregister(asm_fd, n2.id);
	member_kill(&n1);
	member_kill(&n2);
	ktap_case_end("an unprivileged owner's edges stop only its own agents");
}

int main(void)
{
	int i;

	asm_test_begin(NR_CASES);
	if (cgroup_make(CGROUP_DIR) || cgroup_make(CGROUP_DIR2))
		ktap_bail("no cgroup v2 directories %s and %s", CGROUP_DIR, CGROUP_DIR2);
	if (asm_ev_open(&nl))
		ktap_bail("cannot join the events group: %s", strerror(errno));
	set_param("cascade_term_ms", TERM_MS);
	set_param("cascade_hold_ms", HOLD_MS);

	ktap_case_start();
	ktap_expect_ok(register_cgroup(A, CGROUP_DIR, "a", 1), "register a (cgroup, 1 restart)");
	ma = member_start(CGROUP_DIR, 0, 0);
	mb = member_start(NULL, 0, 0);
	mc = member_start(NULL, 1, 0);
	md = member_start(NULL, 0, 0);
	me = member_start(NULL, 0, 0);
	ktap_expect_ok(asm_register_pid(asm_fd, B, mb.pid, "b", NULL), "register b");
	ktap_expect_ok(asm_register_pid(asm_fd, C, mc.pid, "c", NULL), "register c");
	ktap_expect_ok(asm_register_pid(asm_fd, D, md.pid, "d", NULL), "register d");
	ktap_expect_ok(asm_register_pid(asm_fd, E, me.pid, "e", NULL), "register e");
	ktap_expect_err(deps_add(B, A, ASM_DEP_REQUIRED, SIGUSR1), EINVAL,
			"a signal on a Required edge");
	ktap_expect_err(deps_add(D, A, ASM_DEP_OPTIONAL, SIGKILL), EINVAL,
			"SIGKILL on an Optional edge");
	ktap_expect_err(deps_add(D, A, ASM_DEP_OPTIONAL, 64), EINVAL, "signal 64");
	ktap_expect_ok(deps_add(B, A, ASM_DEP_REQUIRED, 0), "b requires a");
	ktap_expect_ok(deps_add(C, B, ASM_DEP_REQUIRED, 0), "c requires b");
	ktap_expect_ok(deps_add(D, A, ASM_DEP_OPTIONAL, SIGUSR1), "d is optional on a, SIGUSR1");
	ktap_expect_ok(deps_add(E, A, ASM_DEP_PEER, 0), "e is a's peer");
	ktap_case_end("edges with and without a signal; the refused signals");

	held_while_restarting();
	chain_stopped();
	hold_expires();
	clean_exit();
	unprivileged();

	for (i = A; i <= E; i++)
		asm_unregister(asm_fd, i);
	member_kill(&ma);
	member_kill(&mb);
	member_kill(&mc);
	member_kill(&md);
	member_kill(&me);
	rmdir(CGROUP_DIR);
	rmdir(CGROUP_DIR2);
	set_param("cascade_term_ms", 5000);
	set_param("cascade_hold_ms", 30000);
	ktap_finish();
}
