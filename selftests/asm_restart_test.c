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

int main(void)
{
	struct asm_agent_info info;
	struct asm_register r;
	struct asm_ev ev;
	int dfd, round, status;
	pid_t pid;

	ktap_header(4);
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
	rmdir(CGROUP_DIR);
	ktap_finish();
}
