// SPDX-License-Identifier: GPL-2.0
/*
 * asm_stress - the many-agents part of test_stress.sh: registering,
 * checking and unregistering thousands of cgroup agents through the ioctls,
 * which a shell loop of `asmctl register` cannot do in reasonable time
 * under TCG.
 *
 *   asm_stress register DIR ID0 N
 *	makes the empty cgroups DIR/a0 .. DIR/a(N-1) and registers each as
 *	cgroup agent ID0+i; then one more (DIR/extra, id ID0+N): it must fail
 *	with ENOSPC when the registry is then full (4096 agents), and succeed
 *	otherwise (it is unregistered again at once).
 *   asm_stress check ID0 N
 *	ASM_IOC_GET_INFO of each agent ID0+i: its id, its cgroup, its name;
 *	and ASM_IOC_LIST returns at least N ids.
 *   asm_stress unregister DIR ID0 N
 *	unregisters the agents and removes the cgroups.
 *
 * Prints KTAP diagnostics ("# ...") and exits 0 when everything held, 1
 * otherwise.  Run as root with the module loaded.
 */
#define _GNU_SOURCE
#include "asm_util.h"

/* The registry's documented maximum (Documentation/uapi.rst). */
#define MAX_AGENTS	4096
#define NAME		"stress-many"

static char path[4096];

static int registered(void)
{
	__u32 count = 0;

	if (asm_list(asm_fd, NULL, 0, &count) && errno != ERANGE)
		return -1;
	return count;
}

/* Registers cgroup @dir as agent @id; returns the ioctl's result. */
static int register_cgroup(const char *dir, __u32 id)
{
	struct asm_register r;
	int dfd, ret;

	if (mkdir(dir, 0755) && errno != EEXIST)
		return -1;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	reg_init(&r, id, ASM_TARGET_CGROUP, 0, NAME);
	r.cgroup_fd = dfd;
	ret = ioctl(asm_fd, ASM_IOC_REGISTER, &r);
	close(dfd);
	return ret;
}

static int do_register(const char *dir, __u32 id0, int n)
{
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	int i, before, ret, ok = 1;

	before = registered();
	if (before < 0) {
		printf("# LIST: %s\n", strerror(errno));
		return 1;
	}
	if (cgroup_make(dir)) {
		printf("# mkdir %s: %s\n", dir, strerror(errno));
		return 1;
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/a%d", dir, i);
		if (register_cgroup(path, id0 + i)) {
			printf("# register %s as agent %u (%d registered before): %s\n", path,
			       id0 + i, before + i, strerror(errno));
			return 1;
		}
	}
	printf("# registered %d cgroup agents in %llu ms (%d were registered before)\n", n,
	       (unsigned long long)((now_ns(CLOCK_MONOTONIC) - t0) / 1000000), before);

	/* One more: refused exactly when the registry is full. */
	snprintf(path, sizeof(path), "%s/extra", dir);
	ret = register_cgroup(path, id0 + n);
	if (before + n >= MAX_AGENTS) {
		if (!ret || errno != ENOSPC) {
			printf("# agent %d of %d: expected ENOSPC, got %s\n", before + n + 1,
			       MAX_AGENTS, ret ? strerror(errno) : "success");
			ok = 0;
		} else {
			printf("# agent %d: ENOSPC, as documented\n", before + n + 1);
		}
	} else if (ret) {
		printf("# agent %d (below the maximum %d): %s\n", before + n + 1, MAX_AGENTS,
		       strerror(errno));
		ok = 0;
	}
	if (!ret)
		asm_unregister(asm_fd, id0 + n);
	rmdir(path);
	return !ok;
}

static int do_check(__u32 id0, int n)
{
	struct asm_agent_info info;
	int i, bad = 0, count;

	for (i = 0; i < n; i++) {
		if (asm_get_info(asm_fd, id0 + i, &info)) {
			if (bad++ < 5)
				printf("# GET_INFO %u: %s\n", id0 + i, strerror(errno));
			continue;
		}
		if (info.agent_id != id0 + i || !info.cgroup_id ||
		    strcmp(info.name, NAME)) {
			if (bad++ < 5)
				printf("# GET_INFO %u: agent_id %u cgroup_id %llu name '%.*s'\n",
				       id0 + i, info.agent_id,
				       (unsigned long long)info.cgroup_id,
				       (int)sizeof(info.name), info.name);
		}
	}
	count = registered();
	if (count < n) {
		printf("# LIST: %d agents, expected at least %d\n", count, n);
		bad++;
	}
	if (bad)
		printf("# %d of %d agents failed GET_INFO\n", bad, n);
	return bad != 0;
}

static int do_unregister(const char *dir, __u32 id0, int n)
{
	int i, bad = 0;

	for (i = 0; i < n; i++) {
		if (asm_unregister(asm_fd, id0 + i) && bad++ < 5)
			printf("# unregister %u: %s\n", id0 + i, strerror(errno));
		snprintf(path, sizeof(path), "%s/a%d", dir, i);
		rmdir(path);
	}
	rmdir(dir);
	return bad != 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		goto usage;
	asm_fd = asm_open();
	if (asm_fd < 0) {
		printf("# open %s: %s\n", ASM_DEVICE_PATH, strerror(errno));
		return 1;
	}
	if (!strcmp(argv[1], "register") && argc == 5)
		return do_register(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (!strcmp(argv[1], "check") && argc == 4)
		return do_check(atoi(argv[2]), atoi(argv[3]));
	if (!strcmp(argv[1], "unregister") && argc == 5)
		return do_unregister(argv[2], atoi(argv[3]), atoi(argv[4]));
usage:
	fprintf(stderr, "usage: asm_stress register DIR ID0 N | check ID0 N | unregister DIR ID0 N\n");
	return 2;
}
