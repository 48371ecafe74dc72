// SPDX-License-Identifier: GPL-2.0
/*
 * asm_profile_test - operation profiling (ASM_IOC_PROFILE), KTAP.
 *
 * Children register themselves as agents 6101 and 6102 and report
 * operations with known durations; the test checks the exact statistics
 * (nearest-rank percentiles over the last 100 samples), BEGIN/END timing,
 * every refusal, the 32-name bound, the aggregate over agents, and that
 * uid 65534 neither reads root's agents' figures nor records for an agent
 * it is not in.
 */
#define _GNU_SOURCE
#include <grp.h>

#include "asm_util.h"

#define NOBODY		65534
#define NR_CASES	6

static void prof_init(struct asm_profile *p, __u32 cmd, const char *op)
{
	memset(p, 0, sizeof(*p));
	p->size = sizeof(*p);
	p->version = ASM_ABI_VERSION;
	p->cmd = cmd;
	if (op)
		snprintf(p->op, sizeof(p->op), "%s", op);
}

static int record(const char *op, __u64 ns, int ok)
{
	struct asm_profile p;

	prof_init(&p, ASM_PROFILE_RECORD, op);
	p.duration_ns = ns;
	p.success = ok;
	return call_errno(ioctl(asm_fd, ASM_IOC_PROFILE, &p));
}

static int stats(__u32 id, const char *op, __u32 index, struct asm_profile *out)
{
	prof_init(out, ASM_PROFILE_STATS, op);
	out->agent_id = id;
	out->index = index;
	return call_errno(ioctl(asm_fd, ASM_IOC_PROFILE, out));
}

/* Agent 6101: 1000 samples of op.a (the last 100 are 1000..901 us, in that
 * order; every even one succeeds), then op.b by BEGIN/END around 20 ms. */
static void agent_a(int wfd, void *arg)
{
	struct asm_profile p;
	int err = 0;

	(void)arg;
	if (asm_register_self(asm_fd, 6101, 0, "prof-a", NULL))
		_exit(122);
	for (int k = 0; k < 1000 && !err; k++) {
		__u64 us = k < 900 ? (__u64)(k * 7919 % 5000) + 1 : (__u64)(1900 - k);

		err = record("op.a", us * 1000, k % 2 == 0);
	}
	child_report(wfd, err);
	prof_init(&p, ASM_PROFILE_BEGIN, NULL);
	err = call_errno(ioctl(asm_fd, ASM_IOC_PROFILE, &p));
	usleep(20000);
	p.cmd = ASM_PROFILE_END;
	strcpy(p.op, "op.b");
	p.success = 1;
	err = err ?: call_errno(ioctl(asm_fd, ASM_IOC_PROFILE, &p));
	child_report(wfd, err);
	child_report(wfd, (int)(p.duration_ns / 1000));
}

static void test_exact(void)
{
	struct asm_profile s;
	int r[3], status;

	ktap_case_start();
	if (run_child(agent_a, NULL, r, 3, &status)) {
		ktap_fail_msg("agent 6101's child ended with status 0x%x", status);
		ktap_case_end("1000 samples give the exact statistics of the last 100");
		return;
	}
	ktap_expect(r[0] == 0, "RECORD: %s", errname(r[0]));
	if (ktap_expect(stats(6101, "op.a", 0, &s) == 0, "STATS 6101 op.a: %s", strerror(errno))) {
		ktap_expect_u64(s.total, 1000, "total");
		ktap_expect_u64(s.successes, 500, "successes");
		ktap_expect_u64(s.kept, 100, "kept");
		ktap_expect_u64(s.min_ns, 901000, "min");
		ktap_expect_u64(s.max_ns, 1000000, "max");
		ktap_expect_u64(s.avg_ns, 950500, "avg");
		ktap_expect_u64(s.p50_ns, 950000, "p50");
		ktap_expect_u64(s.p95_ns, 995000, "p95");
		ktap_expect_u64(s.p99_ns, 999000, "p99");
	}
	ktap_expect(r[1] == 0, "BEGIN/END: %s", errname(r[1]));
	ktap_expect(r[2] >= 20000 && r[2] < 5000000, "END measured %d us for a 20 ms sleep",
		    r[2]);
	if (ktap_expect(stats(6101, "op.b", 0, &s) == 0, "STATS 6101 op.b: %s", strerror(errno)))
		ktap_expect(s.total == 1 && s.kept == 1 && s.successes == 1 &&
			    s.min_ns == s.max_ns && s.p99_ns == s.min_ns &&
			    s.min_ns / 1000 == (__u64)r[2],
			    "op.b: total %llu kept %u min %llu max %llu (END said %d us)",
			    (unsigned long long)s.total, s.kept, (unsigned long long)s.min_ns,
			    (unsigned long long)s.max_ns, r[2]);
	ktap_case_end("1000 samples give the exact statistics of the last 100; BEGIN/END time "
		      "an operation");
}

/* Agent 6102: the refusals, 32 names, then 10 samples of op.a of 5 us. */
static void agent_b(int wfd, void *arg)
{
	struct asm_profile p;
	char name[40];
	int err = 0;

	(void)arg;
	if (asm_register_self(asm_fd, 6102, 0, "prof-b", NULL))
		_exit(122);
	child_report(wfd, record("", 1000, 1));
	child_report(wfd, record("has space", 1000, 1));
	child_report(wfd, record("op.a", 1000, 2));
	child_report(wfd, record("op.a", ASM_PROFILE_DURATION_MAX + 1, 1));
	prof_init(&p, ASM_PROFILE_RECORD, NULL);
	memset(p.op, 'x', sizeof(p.op));	/* no NUL */
	child_report(wfd, call_errno(ioctl(asm_fd, ASM_IOC_PROFILE, &p)));
	prof_init(&p, ASM_PROFILE_END, "op.c");
	p.token = now_ns(CLOCK_MONOTONIC) + 60ull * 1000000000ull;
	child_report(wfd, call_errno(ioctl(asm_fd, ASM_IOC_PROFILE, &p)));
	prof_init(&p, ASM_PROFILE_RECORD, "op.c");
	p.agent_id = 6101;
	child_report(wfd, call_errno(ioctl(asm_fd, ASM_IOC_PROFILE, &p)));
	for (int i = 0; i < 10 && !err; i++)
		err = record("op.a", 5000, 1);
	for (int i = 1; i < ASM_PROFILE_OPS_MAX && !err; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		err = record(name, 1, 1);
	}
	child_report(wfd, err);
	child_report(wfd, record("one.too.many", 1, 1));
	child_report(wfd, record("op.a", 5000, 1) == 0 ? 0 : -1);
}

static void test_refusals(void)
{
	static const char *const what[] = {
		"an empty name", "a name with a space", "success 2",
		"a duration over the maximum", "a name without its NUL",
		"END with a token from the future", "RECORD for another agent id",
	};
	int r[10], status;

	ktap_case_start();
	if (run_child(agent_b, NULL, r, 10, &status)) {
		ktap_fail_msg("agent 6102's child ended with status 0x%x", status);
	} else {
		for (int i = 0; i < 7; i++)
			ktap_expect(r[i] == EINVAL, "%s: %s, expected EINVAL", what[i],
				    errname(r[i]));
		ktap_expect(r[7] == 0, "10 samples and 31 more names: %s", errname(r[7]));
		ktap_expect(r[8] == ENOSPC, "a 33rd name: %s, expected ENOSPC", errname(r[8]));
		ktap_expect(r[9] == 0, "an existing name after the bound: refused");
	}
	ktap_expect(record("op.a", 1000, 1) == ESRCH,
		    "RECORD from a process of no agent: not ESRCH");
	ktap_case_end("bad names, fields, tokens and durations are EINVAL; the 33rd name "
		      "ENOSPC; a process of no agent ESRCH");
}

static void test_index(void)
{
	struct asm_profile s;

	ktap_case_start();
	if (ktap_expect(stats(6102, "", 0, &s) == 0, "STATS 6102 index 0: %s", strerror(errno)))
		ktap_expect(!strcmp(s.op, "op.a") && s.ops == ASM_PROFILE_OPS_MAX,
			    "index 0 is \"%s\" of %u operations", s.op, s.ops);
	if (ktap_expect(stats(6102, "", 31, &s) == 0, "STATS 6102 index 31: %s", strerror(errno)))
		ktap_expect(!strcmp(s.op, "n31"), "index 31 is \"%s\"", s.op);
	ktap_expect(stats(6102, "", 32, &s) == ENOENT, "index 32: not ENOENT");
	ktap_expect(stats(6102, "nope", 0, &s) == ENOENT, "an unknown operation: not ENOENT");
	ktap_expect(stats(6109, "op.a", 0, &s) == ESRCH, "an unknown agent: not ESRCH");
	ktap_expect(stats(6102, "op.a", 1, &s) == EINVAL, "a name and an index: not EINVAL");
	ktap_case_end("STATS walks an agent's operations by index; unknown ones are ENOENT");
}

static void test_aggregate(void)
{
	struct asm_profile s;

	ktap_case_start();
	if (ktap_expect(stats(0, "op.a", 0, &s) == 0, "STATS of op.a over every agent: %s",
			strerror(errno))) {
		ktap_expect_u64(s.total, 1011, "total");
		ktap_expect_u64(s.kept, 111, "kept");
		ktap_expect_u64(s.min_ns, 5000, "min");
		ktap_expect_u64(s.max_ns, 1000000, "max");
		/* 11 samples of 5 us, then 901..1000 us. */
		ktap_expect_u64(s.p50_ns, 945000, "p50");
		ktap_expect_u64(s.p95_ns, 995000, "p95");
		ktap_expect_u64(s.p99_ns, 999000, "p99");
		ktap_expect_u64(s.avg_ns, (950500ull * 100 + 5000 * 11) / 111, "avg");
	}
	ktap_expect(stats(0, "", 0, &s) == EINVAL, "an aggregate without a name: not EINVAL");
	ktap_expect(stats(0, "nope", 0, &s) == ENOENT, "an aggregate of no agent's op: not ENOENT");
	ktap_case_end("the aggregate of op.a over both agents");
}

static void nobody_reads(int wfd, void *arg)
{
	struct asm_profile s;

	(void)arg;
	drop_to(NOBODY);
	asm_fd = asm_open();
	if (asm_fd < 0)
		_exit(122);
	child_report(wfd, stats(6101, "op.a", 0, &s));
	child_report(wfd, stats(0, "op.a", 0, &s));
	child_report(wfd, record("op.a", 1000, 1));
}

static void test_user(void)
{
	int r[3], status;

	ktap_case_start();
	if (run_child(nobody_reads, NULL, r, 3, &status)) {
		ktap_fail_msg("the uid %d child ended with status 0x%x", NOBODY, status);
	} else {
		ktap_expect(r[0] == ESRCH, "STATS of root's 6101: %s, expected ESRCH",
			    errname(r[0]));
		ktap_expect(r[1] == ENOENT, "the aggregate of op.a: %s, expected ENOENT",
			    errname(r[1]));
		ktap_expect(r[2] == ESRCH, "RECORD from no agent: %s, expected ESRCH",
			    errname(r[2]));
	}
	ktap_case_end("uid 65534 reads no figure of root's agents and records for none");
}

static void test_unregister(void)
{
	struct asm_profile s;

	ktap_case_start();
	ktap_expect(asm_unregister(asm_fd, 6102) == 0, "UNREGISTER 6102: %s", strerror(errno));
	if (ktap_expect(stats(0, "op.a", 0, &s) == 0, "the aggregate: %s", strerror(errno)))
		ktap_expect(s.total == 1000 && s.kept == 100,
			    "after 6102 left: total %llu kept %u, expected 6101's 1000 and 100",
			    (unsigned long long)s.total, s.kept);
	ktap_case_end("an unregistered agent's figures leave the aggregate");
}

int main(void)
{
	asm_test_begin(NR_CASES);
	test_exact();
	test_refusals();
	test_index();
	test_aggregate();
	test_user();
	test_unregister();
	close(asm_fd);
	ktap_finish();
}
