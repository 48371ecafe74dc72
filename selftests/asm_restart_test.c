// SPDX-License-Identifier: GPL-2.0
/*
 * asm_restart_test - restart verdicts and the generic netlink events
 * (KTAP).
 *
 * The test is its own small launcher: it listens to the "asm" family's
 * "events" group, registers a cgroup agent with a restart budget of 2 and
 * starts a process in the cgroup that exits with code 3.  Each crash must
 * come with a "recovery" verdict while restarts are left (the test then
 * starts the process again, which the module counts as a restart when it
 * joins) and with "failed" once the budget is spent.  Every event must
 * arrive over netlink, in order, numbered without gaps.
 *
 * Agent id 5400, cgroup /sys/fs/cgroup/asm-restart-test.
 */
#define _GNU_SOURCE

#include "asm_genl.h"
#include "asm_util.h"

#define CGROUP_DIR	CGROUP_ROOT "/asm-restart-test"
#define AGENT		5400
#define BUDGET		2

static struct asm_ev_reader nl;

static __u64 next_seq;
static int seq_gaps;

/* Waits for the agent's next event of @type; others are skipped. */
static int wait_event(__u32 type, struct asm_ev *ev)
{
	while (!asm_ev_next(&nl, ev, 20000)) {
		if (next_seq && ev->seq != next_seq)
			seq_gaps++;
		next_seq = ev->seq + 1;
		if (ev->agent == AGENT && ev->type == type)
			return 0;
	}
	ktap_msg("no event of type %u within 20 s", type);
	return -1;
}

/* Starts `exit 3` in the agent's cgroup; returns its pid. */
static pid_t start_crasher(void)
{
	pid_t pid = fork();
	int fd;

	if (pid)
		return pid;
	fd = open(CGROUP_DIR "/cgroup.procs", O_WRONLY);
	if (fd < 0 || write(fd, "0", 1) != 1)
		_exit(100);
	close(fd);
	usleep(200000);
	_exit(3);
}

/* An ASM_REGISTER_RESTART request for agent @id: 0 or the errno. */
static int restart_req(__u32 id)
{
	struct asm_register r;

	memset(&r, 0, sizeof(r));
	r.size = sizeof(r);
	r.version = ASM_ABI_VERSION;
	r.agent_id = id;
	r.flags = ASM_REGISTER_RESTART;
	return ioctl(asm_fd, ASM_IOC_REGISTER, &r) ? errno : 0;
}

/* A child that restarts agent @arg's and reports how, then exits 3. */
static void restart_child(int wfd, void *arg)
{
	child_report(wfd, restart_req(*(__u32 *)arg));
	_exit(3);
}

static void nobody_restart(int wfd, void *arg)
{
	drop_to(65534);
	child_report(wfd, restart_req(*(__u32 *)arg));
}

/* The process agent PROC_AGENT waits in Recovery after each crash. */
static void wait_state(__u32 id, __u32 state)
{
	struct asm_agent_info info;
	int i;

	for (i = 0; i < 500; i++) {
		if (!asm_get_info(asm_fd, id, &info) && info.state == state)
			return;
		usleep(10000);
	}
}

#define PROC_AGENT	5401

/*
 * A process agent (registered by pid, budget 1) is restarted by a new
 * process of its launcher asking ASM_REGISTER_RESTART: once, then the
 * budget is spent.  The refusals change nothing.
 */
static void process_restart(void)
{
	struct asm_agent_info info;
	struct asm_register r;
	__u32 id = PROC_AGENT, cg = PROC_AGENT + 1;
	int res, status;
	pid_t pid;

	ktap_case_start();
	ktap_expect_u64(restart_req(id), ESRCH, "RESTART of an unknown agent");
	pid = fork();
	if (pid == 0) {
		usleep(300000);
		_exit(3);
	}
	reg_init(&r, id, ASM_TARGET_PID, pid, "proc-restart");
	r.auto_restart = 1;
	ktap_expect_ok(ioctl(asm_fd, ASM_IOC_REGISTER, &r), "register the process agent, budget 1");
	ktap_expect_u64(restart_req(id), EBUSY, "RESTART while it runs");
	waitpid(pid, &status, 0);
	wait_state(id, ASM_STATE_RECOVERY);
	ktap_expect_ok(asm_get_info(asm_fd, id, &info), "info");
	ktap_expect_u64(info.state, ASM_STATE_RECOVERY, "in Recovery after the crash");
	ktap_expect_ok(run_child(nobody_restart, &id, &res, 1, &status), "child as nobody");
	ktap_expect_u64(res, EPERM, "nobody's RESTART");
	reg_init(&r, id, ASM_TARGET_SELF, 0, "proc-restart");
	r.flags = ASM_REGISTER_RESTART;
	ktap_expect_err(ioctl(asm_fd, ASM_IOC_REGISTER, &r), EINVAL,
			"RESTART with a name and capabilities");
	reg_init(&r, cg, ASM_TARGET_CGROUP, 0, "cg");
	r.cgroup_fd = open(CGROUP_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ktap_expect_ok(ioctl(asm_fd, ASM_IOC_REGISTER, &r), "register a cgroup agent");
	close(r.cgroup_fd);
	ktap_expect_u64(restart_req(cg), EINVAL, "RESTART of a cgroup agent");
	ktap_expect_ok(asm_unregister(asm_fd, cg), "unregister the cgroup agent");
	ktap_expect_ok(asm_get_info(asm_fd, id, &info), "info");
	ktap_expect_u64(info.restart_count, 0, "the refusals restarted nothing");
	ktap_expect_ok(run_child(restart_child, &id, &res, 1, &status), "the launcher's new process");
	ktap_expect_u64(res, 0, "RESTART by root's new process");
	wait_state(id, ASM_STATE_FAILED);
	ktap_expect_ok(asm_get_info(asm_fd, id, &info), "info");
	ktap_expect_u64(info.restart_count, 1, "one restart counted");
	ktap_expect_u64(info.crashes, 2, "two crashes");
	ktap_expect_u64(info.state, ASM_STATE_FAILED, "failed: the budget is spent");
	ktap_expect_u64(restart_req(id), EBUSY, "RESTART of a failed agent");
	ktap_expect_ok(asm_unregister(asm_fd, id), "unregister");
	ktap_case_end("ASM_REGISTER_RESTART restarts a process agent in Recovery, root only, within its budget");
}

#define WD_AGENT	5403

/* A child that restarts agent @arg's, reports how, runs 1.5 s, then exits 3. */
static void restart_stay_child(int wfd, void *arg)
{
	child_report(wfd, restart_req(*(__u32 *)arg));
	usleep(1500000);
	_exit(3);
}

/* WD_AGENT's first process: once told to, one heartbeat, then a crash. */
static void heartbeat_then_crash(int res_wfd, int cmd_rfd, void *arg)
{
	struct asm_heartbeat hb;

	(void)res_wfd;
	(void)arg;
	if (kid_wait_go(cmd_rfd))
		_exit(4);
	memset(&hb, 0, sizeof(hb));
	hb.size = sizeof(hb);
	hb.version = ASM_ABI_VERSION;
	_exit(ioctl(asm_fd, ASM_IOC_HEARTBEAT, &hb) ? 5 : 3);
}

/*
 * A process agent with a watchdog crashes after its heartbeat and waits in
 * Recovery; silent past the watchdog, the sampler finds it unresponsive,
 * whose action (restart) has no process to end.  The restart that follows
 * must neither be refused nor killed for that stale verdict.
 */
static void recovery_watchdog(void)
{
	struct asm_fault_policy p;
	struct asm_agent_info info;
	struct asm_register r;
	__u32 id = WD_AGENT;
	int res = -1, status = -1, i;
	struct kid k;
	__u64 faults;

	ktap_case_start();
	kid_start(&k, heartbeat_then_crash, NULL);
	reg_init(&r, id, ASM_TARGET_PID, k.pid, "wd-recovery");
	r.auto_restart = 1;
	ktap_expect_ok(ioctl(asm_fd, ASM_IOC_REGISTER, &r), "register the process agent, budget 1");
	fp_init(&p, id, ASM_FP_SET_LIMITS);
	p.watchdog_ms = 1000;
	ktap_expect_ok(ioctl(asm_fd, ASM_IOC_SET_FAULT_POLICY, &p), "1 s watchdog");
	kid_go(&k);
	status = kid_finish(&k);
	ktap_expect(WIFEXITED(status) && WEXITSTATUS(status) == 3,
		    "the first process sent its heartbeat and crashed (status %#x)", status);
	wait_state(id, ASM_STATE_RECOVERY);
	ktap_expect_ok(asm_get_info(asm_fd, id, &info), "info");
	ktap_expect_u64(info.state, ASM_STATE_RECOVERY, "in Recovery after the crash");
	faults = info.faults;
	for (i = 0; i < 60 && !asm_get_info(asm_fd, id, &info) && info.faults == faults; i++)
		usleep(100000);
	ktap_expect(info.faults > faults, "a watchdog fault while in Recovery (%llu faults, %llu before)",
		    (unsigned long long)info.faults, (unsigned long long)faults);
	ktap_expect_u64(info.state, ASM_STATE_RECOVERY, "still in Recovery");
	ktap_expect_ok(run_child(restart_stay_child, &id, &res, 1, &status),
		       "the launcher's new process");
	ktap_expect_u64(res, 0, "RESTART");
	ktap_expect(WIFEXITED(status) && WEXITSTATUS(status) == 3,
		    "the restarted process ran its 1.5 s and exited 3 (status %#x), not killed", status);
	ktap_expect_ok(asm_get_info(asm_fd, id, &info), "info");
	ktap_expect_u64(info.restart_count, 1, "one restart counted");
	ktap_expect_ok(asm_unregister(asm_fd, id), "unregister");
	ktap_case_end("a watchdog fault while the agent waits in Recovery neither refuses nor kills its restart");
}

int main(void)
{
	struct asm_agent_info info;
	struct asm_register r;
	struct asm_ev ev;
	int dfd, round, status;
	pid_t pid;

	ktap_header(6);
	asm_fd = asm_open();
	if (asm_fd < 0)
		ktap_bail("open %s: %s", ASM_DEVICE_PATH, strerror(errno));
	if (cgroup_make(CGROUP_DIR))
		ktap_bail("no cgroup v2 directory %s", CGROUP_DIR);

	ktap_case_start();
	ktap_expect_ok(asm_ev_open(&nl), "join the events group of family " ASM_GENL_NAME);
	ktap_case_end("root joins the \"%s\" family's \"%s\" group (CAP_NET_ADMIN)",
		      ASM_GENL_NAME, ASM_GENL_MCGRP_EVENTS);

	ktap_case_start();
	dfd = open(CGROUP_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	reg_init(&r, AGENT, ASM_TARGET_CGROUP, 0, "crashy");
	r.cgroup_fd = dfd;
	r.auto_restart = BUDGET;
	ktap_expect_ok(ioctl(asm_fd, ASM_IOC_REGISTER, &r), "register the cgroup agent");
	close(dfd);
	if (!wait_event(ASM_EV_REGISTER, &ev))
		ktap_expect_u64(ev.agent, AGENT, "register event's agent");
	ktap_case_end("registering is announced over netlink");

	ktap_case_start();
	pid = start_crasher();
	if (wait_event(ASM_EV_SPAWN, &ev))
		ktap_bail("the first process did not join");
	for (round = 0; round <= BUDGET; round++) {
		/* A restart's spawn event came before its "restarted" event. */
		if (wait_event(ASM_EV_CRASH, &ev))
			break;
		ktap_expect_u64(ev.exit_code, 3, "crash exit code");
		if (wait_event(ASM_EV_FAULT, &ev))
			break;
		ktap_expect_u64(ev.fault, ASM_FAULT_CRASH, "fault type");
		ktap_expect_u64(ev.action, 0, "a fault event carries no action");
		waitpid(pid, &status, 0);
		if (round == BUDGET)
			break;
		if (wait_event(ASM_EV_RECOVERY, &ev))
			break;
		ktap_expect_u64(ev.value, round, "restarts so far");
		ktap_expect_u64(ev.limit, BUDGET, "budget");
		asm_get_info(asm_fd, AGENT, &info);
		ktap_expect_u64(info.state, ASM_STATE_RECOVERY, "state while awaiting the restart");
		pid = start_crasher();
		if (wait_event(ASM_EV_RESTARTED, &ev))
			break;
		ktap_expect_u64(ev.value, round + 1, "restart counted when the process joins");
	}
	ktap_expect(round == BUDGET, "%d restarts (%d)", BUDGET, round);
	if (!wait_event(ASM_EV_FAILED, &ev)) {
		ktap_expect_u64(ev.value, BUDGET, "restarts at failure");
		ktap_expect_u64(ev.limit, BUDGET, "budget at failure");
	}
	ktap_expect_ok(asm_get_info(asm_fd, AGENT, &info), "agent info");
	ktap_expect_u64(info.state, ASM_STATE_FAILED, "state");
	ktap_expect_u64(info.restart_count, BUDGET, "restart_count");
	ktap_expect_u64(info.crashes, BUDGET + 1, "crashes");
	ktap_case_end("a crash-looping agent gets %d restart verdicts, then fails", BUDGET);

	ktap_case_start();
	ktap_expect(seq_gaps == 0, "%d gaps in the event numbers", seq_gaps);
	ktap_expect_ok(asm_unregister(asm_fd, AGENT), "unregister");
	if (!wait_event(ASM_EV_UNREGISTER, &ev))
		ktap_expect_u64(ev.agent, AGENT, "unregister event's agent");
	ktap_case_end("every event arrived, in order, numbered without gaps");
	process_restart();
	recovery_watchdog();
	rmdir(CGROUP_DIR);
	ktap_finish();
}
