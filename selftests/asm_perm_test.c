// SPDX-License-Identifier: GPL-2.0
/*
 * asm_perm_test - who may do what on /dev/asm (KTAP).
 *
 * Runs as root on a freshly loaded asm.ko (test_perm.sh reloads it) and
 * forks children that drop to uid/gid 65534 (65533 for "another user"),
 * open /dev/asm themselves and report the errno of each request:
 *
 *   - registering another process or a cgroup, granting ASM_CAP_ADMIN or
 *     choosing an id needs CAP_SYS_ADMIN: EPERM without it;
 *   - registering oneself with an allocated id needs nothing; the agent's
 *     owner is the caller's euid;
 *   - neither the agent nor another process of its user may unregister it
 *     while it runs (EPERM); its user may once its processes are gone;
 *     another user never (ESRCH: it does not see it); root may unregister
 *     any agent;
 *   - reading (LIST, GET_INFO, JSON, /proc/agentsys/status) needs nothing,
 *     and shows a user only their own agents: root's are ESRCH to them.
 *
 * Agent ids: 5100 (root's, a sleeping child registered by pid), 5101 to 5103
 * (must never exist); uid 65534's agents get allocated ids.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include "asm_util.h"

#define NOBODY		65534
#define OTHER_USER	65533

#define ID_ROOT		5100
#define ID_NEVER	5101
#define ID_NEVER_CG	5102
#define ID_NEVER_ADM	5103

#define CGROUP_DIR	CGROUP_ROOT "/asm-perm-test"

#define NR_CASES	12

static pid_t root_agent, root_other;
static int have_cgroup;
static char jbuf[1 << 18];

/* In a child: drop to @uid and open /dev/asm; reports the open's errno. */
static int child_open_as(int wfd, uid_t uid)
{
	int fd;

	drop_to(uid);
	fd = asm_open();
	child_report(wfd, fd < 0 ? errno : 0);
	if (fd < 0)
		_exit(122);
	return fd;
}

static int expect_child_status(int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 121)
		return ktap_fail_msg("child could not drop privileges");
	if (WIFEXITED(status) && WEXITSTATUS(status) == 122)
		return ktap_fail_msg("child could not open " ASM_DEVICE_PATH);
	return ktap_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			   "child ended with status 0x%x", status);
}

/* --- /dev/asm ------------------------------------------------------------- */

static void open_only(int wfd, void *arg)
{
	(void)arg;
	close(child_open_as(wfd, NOBODY));
}

static void test_device(void)
{
	struct stat st;
	int r, status;

	ktap_case_start();
	if (ktap_expect(stat(ASM_DEVICE_PATH, &st) == 0, "stat %s: %s", ASM_DEVICE_PATH,
			strerror(errno))) {
		ktap_expect(S_ISCHR(st.st_mode), "%s is not a character device", ASM_DEVICE_PATH);
		ktap_expect((st.st_mode & 07777) == 0666, "%s mode %04o, expected 0666",
			    ASM_DEVICE_PATH, st.st_mode & 07777);
	}
	if (!run_child(open_only, NULL, &r, 1, &status))
		ktap_expect(r == 0, "uid %d: open O_RDWR: %s", NOBODY, errname(r));
	else
		expect_child_status(status);
	ktap_case_end("/dev/asm is a character device of mode 0666, open for uid 65534");
}

/* --- what needs CAP_SYS_ADMIN ---------------------------------------------- */

static void reg_root_pid(int wfd, void *arg)
{
	int fd = child_open_as(wfd, NOBODY);

	(void)arg;
	child_report(wfd, call_errno(asm_register_pid(fd, ID_NEVER, root_other, "perm-pid",
						      NULL)));
}

static void reg_own_child(int wfd, void *arg)
{
	int fd = child_open_as(wfd, NOBODY);
	pid_t g;

	(void)arg;
	g = sleeper_start();	/* same uid, its own child */
	child_report(wfd, call_errno(asm_register_pid(fd, ID_NEVER, g, "perm-own", NULL)));
	sleeper_stop(g);
}

static void reg_cgroup(int wfd, void *arg)
{
	int fd = child_open_as(wfd, NOBODY), dfd;
	struct asm_register r;

	(void)arg;
	dfd = open(CGROUP_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		child_report(wfd, -errno);
		return;
	}
	reg_init(&r, ID_NEVER_CG, ASM_TARGET_CGROUP, 0, "perm-cg");
	r.cgroup_fd = dfd;
	child_report(wfd, call_errno(ioctl(fd, ASM_IOC_REGISTER, &r)));
}

static void reg_self_admin(int wfd, void *arg)
{
	int fd = child_open_as(wfd, NOBODY);
	__u32 id = 0;

	(void)arg;
	child_report(wfd, call_errno(asm_register_self(fd, ID_NEVER_ADM,
						       ASM_CAP_FS_BASIC | ASM_CAP_ADMIN,
						       "perm-admin", NULL)));
	/* Not an agent now: a plain request (allocated id) is not EBUSY. */
	child_report(wfd, call_errno(asm_register_self(fd, 0, ASM_CAP_FS_BASIC,
						       "perm-admin", &id)));
	child_report(wfd, (int)id);
}

/* Run @fn as uid 65534 and expect EPERM for its (first) request. */
static void expect_eperm(void (*fn)(int, void *), int nres, const char *what)
{
	int r[3] = { KID_NO_RESULT, KID_NO_RESULT, KID_NO_RESULT }, status;

	if (run_child(fn, NULL, r, nres, &status)) {
		expect_child_status(status);
		ktap_fail_msg("%s: child did not report", what);
		return;
	}
	ktap_expect(r[0] == 0, "open: %s", errname(r[0]));
	if (r[1] < 0)
		ktap_fail_msg("%s: setup failed: %s", what, errname(-r[1]));
	else
		ktap_expect(r[1] == EPERM, "%s: expected EPERM, got %s", what, errname(r[1]));
	expect_child_status(status);
}

static void expect_absent(__u32 id)
{
	struct asm_agent_info info;

	if (!asm_get_info(asm_fd, id, &info)) {
		ktap_fail_msg("agent %u exists (owner %u, pid %d)", id, info.owner_uid, info.pid);
		asm_unregister(asm_fd, id);
	} else {
		ktap_expect(errno == ESRCH, "GET_INFO %u: expected ESRCH, got %s", id,
			    errname(errno));
	}
}

static void test_needs_sys_admin(void)
{
	int r[4], status;

	ktap_case_start();
	expect_eperm(reg_root_pid, 2, "ASM_TARGET_PID of a root process");
	expect_absent(ID_NEVER);
	ktap_case_end("uid 65534: ASM_TARGET_PID of a root-owned process -> EPERM");

	ktap_case_start();
	expect_eperm(reg_own_child, 2, "ASM_TARGET_PID of its own child");
	expect_absent(ID_NEVER);
	ktap_case_end("uid 65534: ASM_TARGET_PID of its own child -> EPERM");

	if (have_cgroup) {
		ktap_case_start();
		expect_eperm(reg_cgroup, 2, "ASM_TARGET_CGROUP");
		expect_absent(ID_NEVER_CG);
		ktap_case_end("uid 65534: ASM_TARGET_CGROUP -> EPERM");
	} else {
		ktap_case_skip("no cgroup v2 hierarchy at " CGROUP_ROOT,
			       "uid 65534: ASM_TARGET_CGROUP -> EPERM");
	}

	ktap_case_start();
	if (run_child(reg_self_admin, NULL, r, 4, &status)) {
		ktap_fail_msg("child did not report");
	} else {
		ktap_expect(r[0] == 0, "open: %s", errname(r[0]));
		ktap_expect(r[1] == EPERM, "self with ASM_CAP_ADMIN: expected EPERM, got %s",
			    errname(r[1]));
		ktap_expect(r[2] == 0, "then self without Admin: expected success, got %s",
			    errname(r[2]));
		ktap_expect(r[3] >= ASM_ID_ALLOC_MIN, "allocated id %d below %d", r[3],
			    ASM_ID_ALLOC_MIN);
		if (r[3] > 0)
			asm_unregister(asm_fd, r[3]);
	}
	expect_child_status(status);
	expect_absent(ID_NEVER_ADM);
	ktap_case_end("uid 65534: self-registration with ASM_CAP_ADMIN -> EPERM");
}

/* --- unregistering --------------------------------------------------------- */

static void unreg_as(int wfd, void *arg)
{
	const __u32 *a = arg;	/* { uid, id } */
	int fd = child_open_as(wfd, a[0]);

	child_report(wfd, call_errno(asm_unregister(fd, a[1])));
}

/* Unregister @id as @uid in a child; returns the errno (0 on success). */
static int unregister_as(uid_t uid, __u32 id)
{
	__u32 a[2] = { uid, id };
	int r[2], status;

	if (run_child(unreg_as, a, r, 2, &status)) {
		expect_child_status(status);
		return KID_NO_RESULT;
	}
	ktap_expect(r[0] == 0, "uid %u open: %s", uid, errname(r[0]));
	return r[1];
}

static void test_unregister_root_agent(void)
{
	struct asm_agent_info info;
	int e;

	ktap_case_start();
	/* Root's agent is not there for another user. */
	e = unregister_as(NOBODY, ID_ROOT);
	ktap_expect(e == ESRCH, "UNREGISTER %d as uid %d: expected ESRCH, got %s", ID_ROOT,
		    NOBODY, errname(e));
	if (ktap_expect_ok(asm_get_info(asm_fd, ID_ROOT, &info), "GET_INFO of root's agent after"))
		ktap_expect(info.pid == root_agent && info.owner_uid == 0,
			    "root's agent changed: pid %d owner %u", info.pid, info.owner_uid);
	ktap_case_end("uid 65534: UNREGISTER of root's agent -> ESRCH, agent still there");
}

/* Reads need no privilege, and show another user nothing of root's agent. */
static void reads_as_nobody(int wfd, void *arg)
{
	int fd = child_open_as(wfd, NOBODY), pfd;
	struct asm_agent_info info;
	__u32 ids[64], count = 99;
	static char buf[1 << 16];
	char id[16];
	ssize_t n, got = 0;

	(void)arg;
	snprintf(id, sizeof(id), "%d", ID_ROOT);
	child_report(wfd, call_errno(asm_list(fd, ids, 64, &count)));
	child_report(wfd, count == 0);
	child_report(wfd, asm_get_info(fd, ID_ROOT, &info) ? errno : 0);
	child_report(wfd, asm_get_json(fd, ASM_IOC_GET_TELEMETRY_JSON, 0, jbuf,
				       sizeof(jbuf) - 1) < 0 ? errno : 0);
	child_report(wfd, strstr(jbuf, id) == NULL);
	child_report(wfd, asm_get_json(fd, ASM_IOC_GET_AGENT_INFO_JSON, ID_ROOT, jbuf,
				       sizeof(jbuf) - 1) < 0 ? errno : 0);
	pfd = open("/proc/agentsys/status", O_RDONLY | O_CLOEXEC);
	if (pfd >= 0) {
		while ((n = read(pfd, buf + got, sizeof(buf) - 1 - got)) > 0)
			got += n;
		buf[got] = 0;
		close(pfd);
	}
	child_report(wfd, pfd < 0 ? errno : got > 0 ? 0 : EIO);
	child_report(wfd, strstr(buf, "Per-Agent Metrics") && !strstr(buf, id));
}

static void test_reads(void)
{
	int r[9], status;

	ktap_case_start();
	if (run_child(reads_as_nobody, NULL, r, 9, &status)) {
		expect_child_status(status);
		ktap_fail_msg("child did not report");
	} else {
		ktap_expect(r[0] == 0, "open: %s", errname(r[0]));
		ktap_expect(r[1] == 0, "LIST: %s", errname(r[1]));
		ktap_expect(r[2] == 1, "LIST shows root's agent to uid %d", NOBODY);
		ktap_expect(r[3] == ESRCH, "GET_INFO of root's agent: expected ESRCH, got %s",
			    errname(r[3]));
		ktap_expect(r[4] == 0, "GET_TELEMETRY_JSON: %s", errname(r[4]));
		ktap_expect(r[5] == 1, "the telemetry JSON names root's agent %d", ID_ROOT);
		ktap_expect(r[6] == ESRCH, "GET_AGENT_INFO_JSON of root's agent: expected ESRCH, got %s",
			    errname(r[6]));
		ktap_expect(r[7] == 0, "read /proc/agentsys/status: %s", errname(r[7]));
		ktap_expect(r[8] == 1, "/proc/agentsys/status shows root's agent %d", ID_ROOT);
	}
	ktap_case_end("uid 65534: reads need no privilege and do not show root's agent");
}

/*
 * The self-registered user agent: the kid registers itself (allocated id),
 * reports, waits for go, then tries to unregister its own agent (an agent
 * cannot end its own supervision) and reports again; then waits to exit.
 */
static void user_agent_kid(int wfd, int cmd_rfd, void *arg)
{
	struct asm_agent_info info;
	int fd = child_open_as(wfd, NOBODY);
	__u32 id = 0;

	(void)arg;
	child_report(wfd, call_errno(asm_register_self(fd, 0,
						       ASM_CAP_FS_BASIC | ASM_CAP_NET_CLIENT,
						       "perm-user", &id)));
	child_report(wfd, (int)id);
	child_report(wfd, asm_get_info(fd, id, &info) ? -errno : (int)info.owner_uid);
	if (kid_wait_go(cmd_rfd))
		return;
	child_report(wfd, call_errno(asm_unregister(fd, id)));
	child_report(wfd, asm_get_info(fd, id, &info) ? errno : 0);
	kid_wait_go(cmd_rfd);
}

/* GET_INFO of @id as @uid in a child; returns the errno (0 on success). */
static void info_as(int wfd, void *arg)
{
	const __u32 *a = arg;	/* { uid, id } */
	struct asm_agent_info info;
	int fd = child_open_as(wfd, a[0]);

	child_report(wfd, call_errno(asm_get_info(fd, a[1], &info)));
}

static int get_info_as(uid_t uid, __u32 id)
{
	__u32 a[2] = { uid, id };
	int r[2], status;

	if (run_child(info_as, a, r, 2, &status)) {
		expect_child_status(status);
		return KID_NO_RESULT;
	}
	return r[1];
}

static void test_user_agent(void)
{
	struct asm_agent_info info;
	struct kid k;
	int r0, r1, e;
	__u32 id;

	kid_start(&k, user_agent_kid, NULL);

	ktap_case_start();
	r0 = kid_result(&k);
	ktap_expect(r0 == 0, "open: %s", errname(r0));
	r0 = kid_result(&k);
	id = kid_result(&k);
	r1 = kid_result(&k);
	ktap_expect(r0 == 0, "self-registration as uid %d: %s", NOBODY, errname(r0));
	ktap_expect(id >= ASM_ID_ALLOC_MIN, "allocated id %u below %d", id, ASM_ID_ALLOC_MIN);
	ktap_expect(r1 == NOBODY, "owner_uid seen by the user: expected %d, got %d", NOBODY, r1);
	if (ktap_expect_ok(asm_get_info(asm_fd, id, &info), "GET_INFO as root")) {
		ktap_expect_u64(info.owner_uid, NOBODY, "owner_uid seen by root");
		ktap_expect_u64(info.pid, k.pid, "pid");
		ktap_expect_u64(info.capabilities, ASM_CAP_FS_BASIC | ASM_CAP_NET_CLIENT,
				"capabilities");
	}
	ktap_case_end("uid 65534: self-registration without Admin -> 0, allocated id, owner_uid 65534");

	ktap_case_start();
	e = unregister_as(OTHER_USER, id);
	ktap_expect(e == ESRCH, "UNREGISTER as uid %d: expected ESRCH, got %s", OTHER_USER,
		    errname(e));
	e = get_info_as(OTHER_USER, id);
	ktap_expect(e == ESRCH, "GET_INFO as uid %d: expected ESRCH, got %s", OTHER_USER,
		    errname(e));
	if (ktap_expect_ok(asm_get_info(asm_fd, id, &info), "GET_INFO after"))
		ktap_expect_u64(info.pid, k.pid, "pid after");
	ktap_case_end("uid 65533: UNREGISTER and GET_INFO of uid 65534's agent -> ESRCH");

	ktap_case_start();
	kid_go(&k);
	r0 = kid_result(&k);
	r1 = kid_result(&k);
	ktap_expect(r0 == EPERM, "UNREGISTER by the agent itself: expected EPERM, got %s",
		    errname(r0));
	ktap_expect(r1 == 0, "GET_INFO after: expected the agent, got %s", errname(r1));
	e = unregister_as(NOBODY, id);
	ktap_expect(e == EPERM,
		    "UNREGISTER by another process of its user while it runs: expected EPERM, got %s",
		    errname(e));
	kid_go(&k);
	expect_child_status(kid_finish(&k));
	e = unregister_as(NOBODY, id);
	ktap_expect(e == 0, "UNREGISTER by its owner once it ended: %s", errname(e));
	ktap_case_end("uid 65534: neither the agent nor its user unregister it while it runs (EPERM); its user can once it ended");
}

/* A uid-65534 child that registers itself and exits; reports its id. */
static void self_then_exit(int wfd, void *arg)
{
	int fd = child_open_as(wfd, NOBODY);
	__u32 id = 0;

	(void)arg;
	child_report(wfd, call_errno(asm_register_self(fd, 0, ASM_CAP_FS_BASIC,
						       "perm-gone", &id)));
	child_report(wfd, (int)id);
}

/* The id of an ended agent of uid 65534, 0 if it could not be made. */
static __u32 user_agent_gone(void)
{
	int r[3] = { KID_NO_RESULT, KID_NO_RESULT, KID_NO_RESULT }, status;

	if (run_child(self_then_exit, NULL, r, 3, &status)) {
		expect_child_status(status);
		ktap_fail_msg("child registering itself did not report");
		return 0;
	}
	ktap_expect(r[0] == 0, "open: %s", errname(r[0]));
	if (!ktap_expect(r[1] == 0, "self-registration: %s", errname(r[1])))
		return 0;
	return r[2];
}

static void test_unregister_by_others(void)
{
	struct asm_agent_info info;
	__u32 id;
	int e;

	ktap_case_start();
	id = user_agent_gone();
	if (id) {
		e = unregister_as(NOBODY, id);
		ktap_expect(e == 0, "UNREGISTER of its ended agent by another process of uid %d: %s",
			    NOBODY, errname(e));
		ktap_expect_err(asm_get_info(asm_fd, id, &info), ESRCH, "GET_INFO after");
	}
	ktap_case_end("uid 65534: UNREGISTER of its ended agent from another process -> 0");

	ktap_case_start();
	id = user_agent_gone();
	if (id) {
		ktap_expect_ok(asm_unregister(asm_fd, id), "root: UNREGISTER uid 65534's agent");
		ktap_expect_err(asm_get_info(asm_fd, id, &info), ESRCH, "GET_INFO after");
	}
	ktap_expect_ok(asm_unregister(asm_fd, ID_ROOT), "root: UNREGISTER its own agent");
	ktap_expect_err(asm_get_info(asm_fd, ID_ROOT, &info), ESRCH, "GET_INFO of root's after");
	ktap_case_end("root: UNREGISTER of any agent -> 0");
}

int main(void)
{
	asm_test_begin(NR_CASES);
	have_cgroup = !cgroup_make(CGROUP_DIR);

	root_agent = sleeper_start();
	root_other = sleeper_start();
	if (asm_register_pid(asm_fd, ID_ROOT, root_agent, "perm-root", NULL))
		ktap_bail("REGISTER root's agent: %s", strerror(errno));

	test_device();				/* 1 */
	test_needs_sys_admin();			/* 4 */
	test_unregister_root_agent();		/* 1 */
	test_reads();				/* 1 */
	test_user_agent();			/* 3 */
	test_unregister_by_others();		/* 2 */

	sleeper_stop(root_agent);
	sleeper_stop(root_other);
	if (have_cgroup)
		rmdir(CGROUP_DIR);
	close(asm_fd);
	ktap_finish();
}
