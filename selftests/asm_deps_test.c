// SPDX-License-Identifier: GPL-2.0
/*
 * asm_deps_test - the dependency graph (ASM_IOC_DEPS), KTAP.
 *
 * Root registers sleeping children as agents 6001 to 6005 and wires them:
 * 6001 -> 6002 (required), 6002 -> 6003 (optional), 6001 -> 6004 (peer).
 * Then every refusal (a bad field, a self-edge, an unknown agent, a
 * duplicate or reversed edge, a cycle) leaves the graph as it was; LIST
 * reports what the caller sees; the attacks fail: a user without
 * CAP_SYS_ADMIN sees no root agent's edge and may not remove an edge even
 * between its own agents, and an agent's own process (root) may not
 * change the graph; unregistering an agent takes its edges along.
 */
#define _GNU_SOURCE
#include <grp.h>

#include "asm_util.h"

#define NOBODY		65534
#define NR_CASES	9

static pid_t sleepers[5];

static void deps_init(struct asm_deps *d, __u32 op)
{
	memset(d, 0, sizeof(*d));
	d->size = sizeof(*d);
	d->version = ASM_ABI_VERSION;
	d->op = op;
}

static int deps_call(__u32 op, __u32 kind, __u32 dependent, __u32 dependency, __u64 *seq)
{
	struct asm_deps d;
	int ret;

	deps_init(&d, op);
	d.kind = kind;
	d.dependent = dependent;
	d.dependency = dependency;
	ret = ioctl(asm_fd, ASM_IOC_DEPS, &d);
	if (seq)
		*seq = d.audit_seq;
	return ret;
}

/* The edges the caller sees, into @e (room for @cap); returns the count the
 * kernel reported, -errno on failure. */
static int deps_list(int fd, struct asm_dep_edge *e, __u32 cap)
{
	struct asm_deps d;

	deps_init(&d, ASM_DEP_LIST);
	d.capacity = cap;
	d.edges = (__u64)(uintptr_t)e;
	if (ioctl(fd, ASM_IOC_DEPS, &d))
		return -errno;
	return d.count;
}

static int has_edge(const struct asm_dep_edge *e, int n, __u32 a, __u32 b, __u32 kind)
{
	for (int i = 0; i < n; i++)
		if (e[i].dependent == a && e[i].dependency == b && e[i].kind == kind)
			return 1;
	return 0;
}

/* The graph is exactly the three starting edges. */
static void expect_start_graph(const char *after)
{
	struct asm_dep_edge e[8];
	int n = deps_list(asm_fd, e, 8);

	if (!ktap_expect(n == 3, "after %s: LIST gave %d edges, expected 3", after, n))
		return;
	ktap_expect(has_edge(e, n, 6001, 6002, ASM_DEP_REQUIRED) &&
		    has_edge(e, n, 6002, 6003, ASM_DEP_OPTIONAL) &&
		    has_edge(e, n, 6001, 6004, ASM_DEP_PEER),
		    "after %s: the graph changed", after);
}

static void test_add(void)
{
	const struct asm_audit_entry *a;
	__u64 seq = 0;

	ktap_case_start();
	ktap_expect(deps_call(ASM_DEP_ADD, ASM_DEP_REQUIRED, 6001, 6002, NULL) == 0,
		    "ADD 6001 -> 6002 required: %s", strerror(errno));
	ktap_expect(deps_call(ASM_DEP_ADD, ASM_DEP_OPTIONAL, 6002, 6003, &seq) == 0,
		    "ADD 6002 -> 6003 optional: %s", strerror(errno));
	ktap_expect(deps_call(ASM_DEP_ADD, ASM_DEP_PEER, 6001, 6004, NULL) == 0,
		    "ADD 6001 -> 6004 peer: %s", strerror(errno));
	expect_start_graph("three ADDs");
	a = last_entry(ASM_AUDIT_DEPENDENCY, 6001);
	if (ktap_expect(a, "no dependency audit entry for 6001"))
		ktap_expect(a->op == ASM_DEP_ADD && a->old_value == 6004 &&
			    a->new_value == ASM_DEP_PEER && a->result == 0,
			    "audit entry: op %u dependency %llu kind %llu result %d", a->op,
			    (unsigned long long)a->old_value, (unsigned long long)a->new_value,
			    a->result);
	a = last_entry(ASM_AUDIT_DEPENDENCY, 6002);
	ktap_expect(a && a->seq == seq, "ADD 6002's audit_seq %llu is not its entry's",
		    (unsigned long long)seq);
	ktap_case_end("ADD: required, optional and peer edges, listed and audited");
}

static void test_refusals(void)
{
	struct asm_deps d;

	ktap_case_start();
	ktap_expect_err(deps_call(ASM_DEP_ADD, ASM_DEP_REQUIRED, 6001, 6001, NULL),
			EINVAL, "ADD 6001 -> 6001");
	ktap_expect_err(deps_call(ASM_DEP_ADD, 0, 6003, 6004, NULL), EINVAL, "kind 0");
	ktap_expect_err(deps_call(ASM_DEP_ADD, 4, 6003, 6004, NULL), EINVAL, "kind 4");
	ktap_expect_err(deps_call(9, ASM_DEP_REQUIRED, 6003, 6004, NULL), EINVAL, "op 9");
	ktap_expect_err(deps_call(ASM_DEP_ADD, ASM_DEP_REQUIRED, 6003, 6999, NULL), ESRCH,
			"ADD 6003 -> 6999 (no such agent)");
	ktap_expect_err(deps_call(ASM_DEP_ADD, ASM_DEP_OPTIONAL, 6001, 6002, NULL),
			EEXIST, "ADD 6001 -> 6002 again, another kind");
	ktap_expect_err(deps_call(ASM_DEP_ADD, ASM_DEP_PEER, 6002, 6001, NULL), EEXIST,
			"ADD 6002 -> 6001 (the reverse)");
	deps_init(&d, ASM_DEP_ADD);
	d.kind = ASM_DEP_REQUIRED;
	d.dependent = 6003;
	d.dependency = 6005;
	d.reserved[1] = 1;
	ktap_expect_err(ioctl(asm_fd, ASM_IOC_DEPS, &d), EINVAL, "reserved not 0");
	d.reserved[1] = 0;
	d.size = sizeof(d) - 8;
	ktap_expect_err(ioctl(asm_fd, ASM_IOC_DEPS, &d), EINVAL, "a short size");
	ktap_expect_err(ioctl(asm_fd, ASM_IOC_DEPS, (void *)8), EFAULT, "a bad pointer");
	expect_start_graph("the refusals");
	ktap_case_end("ADD refuses a self-edge, a bad kind, op or field, an unknown agent and "
		      "a duplicate in either direction, changing nothing");
}

static void test_cycle(void)
{
	const struct asm_audit_entry *a;

	ktap_case_start();
	ktap_expect_err(deps_call(ASM_DEP_ADD, ASM_DEP_PEER, 6003, 6001, NULL), ELOOP,
			"ADD 6003 -> 6001 (6001 -> 6002 -> 6003)");
	expect_start_graph("the cycle");
	a = last_entry(ASM_AUDIT_DEPENDENCY, 6003);
	if (ktap_expect(a, "no audit entry for the refused edge"))
		ktap_expect(a->result == -ELOOP, "audit result %d, expected -ELOOP", a->result);
	ktap_expect(deps_call(ASM_DEP_ADD, ASM_DEP_REQUIRED, 6004, 6003, NULL) == 0,
		    "ADD 6004 -> 6003 (no cycle: 6001 -> 6004 -> 6003): %s", strerror(errno));
	ktap_expect(deps_call(ASM_DEP_REMOVE, 0, 6004, 6003, NULL) == 0, "REMOVE 6004 -> 6003: %s",
		    strerror(errno));
	ktap_case_end("an edge that closes a cycle is ELOOP and audited; the graph is unchanged");
}

static void test_list(void)
{
	struct asm_dep_edge e[3];
	struct asm_deps d;
	int n;

	ktap_case_start();
	memset(e, 0xff, sizeof(e));
	n = deps_list(asm_fd, e, 1);
	ktap_expect(n == 3, "LIST capacity 1: count %d, expected 3", n);
	ktap_expect(e[1].dependent == 0xffffffff, "LIST wrote past its capacity");
	deps_init(&d, ASM_DEP_LIST);
	d.capacity = 3;
	d.edges = 8;
	ktap_expect_err(ioctl(asm_fd, ASM_IOC_DEPS, &d), EFAULT, "LIST to address 8");
	d.edges = 0;
	d.capacity = 0;
	d.dependent = 6001;
	ktap_expect_err(ioctl(asm_fd, ASM_IOC_DEPS, &d), EINVAL, "LIST with an agent");
	ktap_case_end("LIST counts every edge, writes only its capacity, EFAULT on a bad buffer");
}

static void test_remove(void)
{
	const struct asm_audit_entry *a;

	ktap_case_start();
	ktap_expect(deps_call(ASM_DEP_ADD, ASM_DEP_PEER, 6003, 6005, NULL) == 0,
		    "ADD 6003 -> 6005: %s", strerror(errno));
	ktap_expect_err(deps_call(ASM_DEP_REMOVE, ASM_DEP_PEER, 6003, 6005, NULL), EINVAL,
			"REMOVE with a kind");
	ktap_expect_err(deps_call(ASM_DEP_REMOVE, 0, 6005, 6003, NULL), ENOENT,
			"REMOVE 6005 -> 6003 (the edge is the other way)");
	ktap_expect(deps_call(ASM_DEP_REMOVE, 0, 6003, 6005, NULL) == 0,
		    "REMOVE 6003 -> 6005: %s", strerror(errno));
	a = last_entry(ASM_AUDIT_DEPENDENCY, 6003);
	if (ktap_expect(a, "no audit entry for the REMOVE"))
		ktap_expect(a->op == ASM_DEP_REMOVE && a->old_value == 6005 &&
			    a->new_value == ASM_DEP_PEER && a->result == 0,
			    "REMOVE's audit entry: op %u dependency %llu kind %llu result %d",
			    a->op, (unsigned long long)a->old_value,
			    (unsigned long long)a->new_value, a->result);
	ktap_expect_err(deps_call(ASM_DEP_REMOVE, 0, 6003, 6005, NULL), ENOENT,
			"REMOVE 6003 -> 6005 again");
	expect_start_graph("REMOVE");
	ktap_case_end("REMOVE takes the named edge; a missing one is ENOENT");
}

/* --- attacks -------------------------------------------------------------- */

/* A child that becomes @uid (unless 0), registers itself (an allocated id)
 * and sleeps; its id goes to *id. */
static pid_t self_agent(uid_t uid, __u32 *id)
{
	int p[2];
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid == 0) {
		__u32 got = 0;
		int fd;

		if (uid)
			drop_to(uid);
		fd = asm_open();
		if (fd < 0 || asm_register_self(fd, 0, 0, "deps-user", &got))
			got = 0;
		if (write(p[1], &got, sizeof(got)) != sizeof(got))
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	if (read(p[0], id, sizeof(*id)) != sizeof(*id) || !*id) {
		close(p[0]);
		return -1;
	}
	close(p[0]);
	return pid;
}

#define FLOOD	40

/* As uid 65534: [0] ADD between root's agents, [1] ADD own -> own, [2]
 * REMOVE own -> own, [3] ADD own -> root's, [4] the edges LIST shows, [5]
 * how many of FLOOD more ADDs got EAGAIN, [6] and [7] its agents' ids. */
static void user_attacks(int wfd, void *arg)
{
	struct asm_dep_edge e[8];
	__u32 a = 0, b = 0;
	pid_t pa, pb;
	int again = 0;

	(void)arg;
	drop_to(NOBODY);
	asm_fd = asm_open();
	if (asm_fd < 0)
		_exit(122);
	child_report(wfd, call_errno(deps_call(ASM_DEP_ADD, ASM_DEP_REQUIRED, 6003, 6005, NULL)));
	pa = self_agent(0, &a);
	pb = self_agent(0, &b);
	if (pa < 0 || pb < 0)
		_exit(123);
	child_report(wfd, call_errno(deps_call(ASM_DEP_ADD, ASM_DEP_REQUIRED, a, b, NULL)));
	child_report(wfd, call_errno(deps_call(ASM_DEP_REMOVE, 0, a, b, NULL)));
	child_report(wfd, call_errno(deps_call(ASM_DEP_ADD, ASM_DEP_REQUIRED, a, 6001, NULL)));
	child_report(wfd, deps_list(asm_fd, e, 8));
	/* Each refused duplicate is audited, at the user's rate. */
	for (int i = 0; i < FLOOD; i++)
		again += deps_call(ASM_DEP_ADD, ASM_DEP_PEER, b, a, NULL) && errno == EAGAIN;
	child_report(wfd, again);
	child_report(wfd, (int)a);
	child_report(wfd, (int)b);
	sleeper_stop(pa);
	sleeper_stop(pb);
}

/* As uid 65533: the edges LIST shows. */
static void other_lists(int wfd, void *arg)
{
	struct asm_dep_edge e[8];

	(void)arg;
	drop_to(NOBODY - 1);
	asm_fd = asm_open();
	if (asm_fd < 0)
		_exit(122);
	child_report(wfd, deps_list(asm_fd, e, 8));
}

static void test_user(void)
{
	int r[8], n, status;
	__u32 x = 0;
	pid_t px;

	ktap_case_start();
	if (run_child(user_attacks, NULL, r, 8, &status)) {
		ktap_fail_msg("the uid %d child ended with status 0x%x", NOBODY, status);
	} else {
		ktap_expect(r[0] == ESRCH, "ADD between root's agents: %s, expected ESRCH",
			    errname(r[0]));
		ktap_expect(r[1] == 0, "ADD between its own agents: %s", errname(r[1]));
		ktap_expect(r[2] == EPERM, "REMOVE between its own agents: %s, expected EPERM",
			    errname(r[2]));
		ktap_expect(r[3] == ESRCH, "ADD own -> root's 6001: %s, expected ESRCH",
			    errname(r[3]));
		ktap_expect(r[4] == 1, "LIST as uid %d: %d edges, expected its own 1", NOBODY,
			    r[4]);
		ktap_expect(r[5] > 0, "%d refused ADDs in a row: none got EAGAIN", FLOOD);
		ktap_expect(asm_unregister(asm_fd, r[6]) == 0 && asm_unregister(asm_fd, r[7]) == 0,
			    "UNREGISTER the user's agents: %s", strerror(errno));
	}
	/* An edge from root's agent to another user's: that user sees neither
	 * end's pair, since it does not see root's agent. */
	px = self_agent(NOBODY - 1, &x);
	if (ktap_expect(px > 0, "uid %d's agent did not register", NOBODY - 1)) {
		ktap_expect(deps_call(ASM_DEP_ADD, ASM_DEP_REQUIRED, x, 6001, NULL) == 0,
			    "root: ADD %u -> 6001: %s", x, strerror(errno));
		if (!run_child(other_lists, NULL, &n, 1, &status))
			ktap_expect(n == 0, "uid %d sees %d edges, expected none (6001 is root's)",
				    NOBODY - 1, n);
		else
			ktap_fail_msg("the uid %d child ended with status 0x%x", NOBODY - 1, status);
		sleeper_stop(px);
		ktap_expect(asm_unregister(asm_fd, x) == 0, "UNREGISTER %u: %s", x, strerror(errno));
	}
	expect_start_graph("the other users' attempts");
	ktap_case_end("other users see and change no root agent's edge, add edges between their "
		      "own agents at their audit rate and remove none");
}

/* As root inside agent 6005: results ADD 6003 -> 6005, REMOVE 6001 -> 6002. */
static void agent_attacks(int wfd, void *arg)
{
	__u32 id = 6006;

	(void)arg;
	asm_fd = asm_open();
	if (asm_fd < 0 || asm_register_self(asm_fd, id, 0, "deps-self", NULL))
		_exit(122);
	child_report(wfd, call_errno(deps_call(ASM_DEP_ADD, ASM_DEP_REQUIRED, 6003, 6006, NULL)));
	child_report(wfd, call_errno(deps_call(ASM_DEP_REMOVE, 0, 6001, 6002, NULL)));
}

static void test_agent(void)
{
	int r[2], status;

	ktap_case_start();
	if (run_child(agent_attacks, NULL, r, 2, &status)) {
		ktap_fail_msg("the agent child ended with status 0x%x", status);
	} else {
		ktap_expect(r[0] == EPERM, "ADD from inside an agent (root): %s, expected EPERM",
			    errname(r[0]));
		ktap_expect(r[1] == EPERM, "REMOVE from inside an agent (root): %s, expected EPERM",
			    errname(r[1]));
	}
	expect_start_graph("the agent's attempts");
	ktap_expect(asm_unregister(asm_fd, 6006) == 0, "UNREGISTER 6006: %s", strerror(errno));
	ktap_case_end("a process inside an agent, even root's, changes no edge");
}

static void test_status(void)
{
	char buf[16384];
	ssize_t n;
	int fd;

	ktap_case_start();
	fd = open("/proc/agentsys/status", O_RDONLY);
	n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (fd >= 0)
		close(fd);
	if (ktap_expect(n > 0, "read /proc/agentsys/status: %s", strerror(errno))) {
		buf[n] = 0;
		ktap_expect(strstr(buf, "\nDependencies (dependent -> dependency):\n"),
			    "no Dependencies section");
		ktap_expect(strstr(buf, "\n  6001 -> 6002 (required)\n") &&
			    strstr(buf, "\n  6002 -> 6003 (optional)\n") &&
			    strstr(buf, "\n  6001 -> 6004 (peer)\n"),
			    "the status does not list the three edges");
	}
	ktap_case_end("/proc/agentsys/status lists the edges");
}

static void test_unregister(void)
{
	const struct asm_audit_entry *a;
	struct asm_dep_edge e[8];
	int n;

	ktap_case_start();
	ktap_expect(asm_unregister(asm_fd, 6002) == 0, "UNREGISTER 6002: %s", strerror(errno));
	a = last_entry(ASM_AUDIT_UNREGISTER, 6002);
	ktap_expect(a && a->new_value == 2, "6002's unregister entry counts %lld edges, expected 2",
		    a ? (long long)a->new_value : -1);
	n = deps_list(asm_fd, e, 8);
	ktap_expect(n == 1 && has_edge(e, n, 6001, 6004, ASM_DEP_PEER),
		    "after unregistering 6002: %d edges, expected only 6001 -> 6004", n);
	ktap_expect(deps_call(ASM_DEP_ADD, ASM_DEP_REQUIRED, 6003, 6001, NULL) == 0,
		    "ADD 6003 -> 6001 once 6002 is gone: %s", strerror(errno));
	ktap_case_end("unregistering an agent removes its edges");
}

int main(void)
{
	asm_test_begin(NR_CASES);
	for (int i = 0; i < 5; i++) {
		sleepers[i] = sleeper_start();
		if (asm_register_pid(asm_fd, 6001 + i, sleepers[i], "deps", NULL))
			ktap_bail("REGISTER %d: %s", 6001 + i, strerror(errno));
	}

	test_add();
	test_refusals();
	test_cycle();
	test_list();
	test_remove();
	test_user();
	test_agent();
	test_status();
	test_unregister();

	for (int i = 0; i < 5; i++)
		sleeper_stop(sleepers[i]);
	close(asm_fd);
	ktap_finish();
}
