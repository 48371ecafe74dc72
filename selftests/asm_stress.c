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
 *   asm_stress unload SECONDS
 *	delete_module("asm", O_NONBLOCK) every 20 ms until it succeeds or
 *	SECONDS have passed: what `rmmod` does, without an exec per try.
 *	Any open file of the module (/dev/asm, a debugfs file of a reader)
 *	makes a try EBUSY, and under TCG one exec of rmmod took seconds while
 *	twenty readers left it hardly a moment when none had a file open.
 *	Exits 0 once unloaded, 3 if it stayed in use, 1 on another error.
 *   asm_stress read PROGRESS files HOLD DIR... | read PROGRESS ioctl HOLD
 *	a reader, until killed, a round every half second, the number of
 *	its rounds written to PROGRESS.  HOLD is a file that exists while
 *	the module is about to go ("-": none).  "files" reads every file in
 *	each DIR (/proc/agentsys, debugfs asm) but probe_cost (a benchmark)
 *	and runs across insmod and rmmod (a missing file is skipped); while
 *	HOLD exists it reads only the DIRs under /proc: an open debugfs file
 *	pins the module (rmmod is EBUSY), /proc's removal waits for its
 *	readers instead.  "ioctl" reads what the tools read through /dev/asm
 *	(the telemetry document, the list, and of up to 16 listed agents a
 *	round their info, JSON document, history and limits), but nothing
 *	while HOLD exists; a round counts once the telemetry document was
 *	read.  A shell loop of `cat` and `asmctl` costs an exec per view: 20
 *	such readers alone filled a TCG guest.
 *
 * Prints KTAP diagnostics ("# ...") and exits 0 when everything held, 1
 * otherwise.  Run as root with the module loaded.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <sys/syscall.h>

#include "asm_util.h"

/* The registry's documented maximum (Documentation/uapi.rst). */
#define MAX_AGENTS	4096
/* Agents an ioctl reader reads in detail per round, the next ones each
 * round: with 64 (256 ioctls a round) two readers of uid 65534, starved
 * among 40 readers, made no round in a 35 s cycle. */
#define PER_ROUND	16
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

/* Reads every file in @dir but probe_cost. */
static void read_dir(const char *dir)
{
	static char buf[1 << 16];
	struct dirent *d;
	DIR *dp = opendir(dir);
	int fd;

	if (!dp)
		return;
	while ((d = readdir(dp))) {
		if (d->d_name[0] == '.' || !strcmp(d->d_name, "probe_cost"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, d->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
	}
	closedir(dp);
}

/* The ioctl views, with /dev/asm open only for the round (an open file
 * pins the module); 0 once the telemetry document was read. */
static int read_ioctls(unsigned long round)
{
	static char doc[8 << 20];	/* the telemetry document of 4096 agents */
	static __u32 ids[MAX_AGENTS];
	static struct asm_window w[60];
	struct asm_agent_info info;
	struct asm_fault_policy fp;
	struct asm_history h;
	__u32 count = 0, i, n;
	int ret;

	asm_fd = asm_open();
	if (asm_fd < 0)
		return -1;
	ret = asm_get_json(asm_fd, ASM_IOC_GET_TELEMETRY_JSON, 0, doc, sizeof(doc) - 1) < 0;
	if (asm_list(asm_fd, ids, MAX_AGENTS, &count) == 0 && count) {
		for (i = 0, n = count < PER_ROUND ? count : PER_ROUND; i < n; i++) {
			__u32 id = ids[(round * PER_ROUND + i) % count];

			asm_get_info(asm_fd, id, &info);
			asm_get_json(asm_fd, ASM_IOC_GET_AGENT_INFO_JSON, id, doc, sizeof(doc) - 1);
			memset(&h, 0, sizeof(h));
			h.size = sizeof(h);
			h.version = ASM_ABI_VERSION;
			h.agent_id = id;
			h.windows = (__u64)(uintptr_t)w;
			h.capacity = 60;
			ioctl(asm_fd, ASM_IOC_GET_HISTORY, &h);
			fp_init(&fp, id, 0);
			ioctl(asm_fd, ASM_IOC_GET_FAULT_POLICY, &fp);
		}
	}
	close(asm_fd);
	asm_fd = -1;
	return ret;
}

static int do_read(const char *progress, const char *what, const char *hold, char **dirs,
		   int ndirs)
{
	int ioctls = !strcmp(what, "ioctl"), i;
	unsigned long round = 0, tries = 0;
	char tmp[4096];
	int held;
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.new", progress);
	if (ioctls ? ndirs != 0 : strcmp(what, "files") || ndirs == 0)
		return 2;
	for (;; usleep(500000)) {
		/* Held unless HOLD is surely absent. */
		held = strcmp(hold, "-") && (access(hold, F_OK) == 0 || errno != ENOENT);
		if (ioctls) {
			if (held || read_ioctls(tries++))
				continue;
		} else {
			for (i = 0; i < ndirs; i++)
				if (!held || !strncmp(dirs[i], "/proc/", 6))
					read_dir(dirs[i]);
		}
		round++;
		/* Renamed over the count: a reader of it never finds it empty. */
		f = fopen(tmp, "w");
		if (f) {
			fprintf(f, "%lu\n", round);
			if (!fclose(f))
				rename(tmp, progress);
		}
	}
}

static int do_unload(int seconds)
{
	uint64_t start = now_ns(CLOCK_MONOTONIC), end = start + seconds * 1000000000ULL;
	unsigned long tries = 0;

	for (;;) {
		tries++;
		if (!syscall(__NR_delete_module, "asm", O_NONBLOCK)) {
			printf("# unloaded at try %lu, after %.1f s\n", tries,
			       (now_ns(CLOCK_MONOTONIC) - start) / 1e9);
			return 0;
		}
		if (errno != EBUSY && errno != EAGAIN) {
			printf("# delete_module(asm): %s\n", strerror(errno));
			return 1;
		}
		if (now_ns(CLOCK_MONOTONIC) >= end) {
			printf("# delete_module(asm): still in use after %lu tries in %d s\n",
			       tries, seconds);
			return 3;
		}
		usleep(20000);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2)
		goto usage;
	if (!strcmp(argv[1], "unload") && argc == 3)
		return do_unload(atoi(argv[2]));
	/* A reader opens /dev/asm only for its rounds, if at all. */
	if (!strcmp(argv[1], "read") && argc >= 5)
		return do_read(argv[2], argv[3], argv[4], argv + 5, argc - 5);
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
	fprintf(stderr, "usage: asm_stress register DIR ID0 N | check ID0 N | unregister DIR ID0 N | "
		"unload SECONDS | read PROGRESS files HOLD DIR... | read PROGRESS ioctl HOLD\n");
	return 2;
}
