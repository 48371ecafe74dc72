// SPDX-License-Identifier: GPL-2.0
/*
 * views_bench - what reading the module's views costs with many agents, and
 * what an unprivileged reader in a loop costs everyone else.
 *
 *   views_bench N [TASKS]
 *
 * Starts TASKS processes that are no agent's (default 0; each pauses until
 * the end), registers N cgroup agents (empty cgroups under
 * /sys/fs/cgroup/asm-views-bench, ids 20000..), then prints, each the median
 * of 9 runs:
 *
 *   status_read_us_root    one read of /proc/agentsys/status as root (N agents shown)
 *   status_read_us_nobody  the same as uid 65534 (none of them shown)
 *   get_info_us            one ASM_IOC_GET_INFO of one agent
 *   fork_us_quiet          fork+exit+wait of a child
 *   fork_us_reader         the same while a uid-65534 process reads
 *                          /proc/agentsys/status in a loop
 *   ratio fork_reader/fork_quiet
 *   sampler_tick_us        the sampler's mean tick over those runs (debugfs
 *                          asm/sampler), with the ticks it made
 *   sampler_sweep_us       its last sweep of every task, and how many it made
 *
 * A benchmark, not a test: it exits non-zero only when it cannot run.  Run as
 * root on a freshly loaded asm.ko; it unregisters its agents at the end.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "asm_util.h"

#define DIR	"/sys/fs/cgroup/asm-views-bench"
#define ID0	20000
#define RUNS	9

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t median(uint64_t *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	return v[n / 2];
}

static char buf[1 << 22];

static void read_status(void)
{
	int fd = open("/proc/agentsys/status", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		ktap_bail("open status: %s", strerror(errno));
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
}

/* ns per call of @fn, over @iter calls. */
static uint64_t time_ns(void (*fn)(void), int iter)
{
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	int i;

	for (i = 0; i < iter; i++)
		fn();
	return (now_ns(CLOCK_MONOTONIC) - t0) / iter;
}

static void get_info(void)
{
	struct asm_agent_info info;

	if (asm_get_info(asm_fd, ID0, &info))
		ktap_bail("GET_INFO: %s", strerror(errno));
}

static void fork_once(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
}

/* The sampler's ticks, their total time and its last sweep's, so far. */
static void sampler_cost(uint64_t *ticks, uint64_t *total_ns, uint64_t *sweeps,
			 uint64_t *sweep_ns)
{
	if (asm_sampler_read(ticks, total_ns, sweeps, sweep_ns))
		ktap_bail("read debugfs asm/sampler (mount debugfs)");
}

static void drop_to_nobody(void)
{
	if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
		ktap_bail("drop privileges: %s", strerror(errno));
}

/* The status read time as uid 65534, measured in a child. */
static uint64_t status_as_nobody(int iter)
{
	uint64_t v = 0;
	int p[2];
	pid_t pid;

	if (pipe(p))
		ktap_bail("pipe");
	pid = fork();
	if (pid == 0) {
		drop_to_nobody();
		v = time_ns(read_status, iter);
		if (write(p[1], &v, sizeof(v)) != sizeof(v))
			_exit(1);
		_exit(0);
	}
	if (read(p[0], &v, sizeof(v)) != sizeof(v))
		ktap_bail("no figure from the uid-65534 child");
	waitpid(pid, NULL, 0);
	close(p[0]);
	close(p[1]);
	return v;
}

int main(int argc, char **argv)
{
	uint64_t root[RUNS], nobody[RUNS], info[RUNS], quiet[RUNS], busy[RUNS];
	uint64_t ticks0, total0, ticks1, total1, sweeps, sweep_ns;
	int n = argc > 1 ? atoi(argv[1]) : 0, tasks = argc > 2 ? atoi(argv[2]) : 0;
	pid_t *idle = calloc(tasks > 0 ? tasks : 1, sizeof(pid_t));
	int i, dfd;
	struct asm_register r;
	char path[128];
	pid_t reader;

	if (n <= 0 || tasks < 0 || !idle)
		ktap_bail("usage: views_bench N [TASKS]");
	for (i = 0; i < tasks; i++) {
		idle[i] = fork();
		if (idle[i] < 0)
			ktap_bail("fork of idle task %d: %s", i, strerror(errno));
		if (idle[i] == 0) {
			for (;;)
				pause();
		}
	}
	asm_fd = asm_open();
	if (asm_fd < 0)
		ktap_bail("open %s: %s", ASM_DEVICE_PATH, strerror(errno));
	if (mkdir(DIR, 0755) && errno != EEXIST)
		ktap_bail("mkdir %s: %s", DIR, strerror(errno));
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), DIR "/a%d", i);
		if (mkdir(path, 0755) && errno != EEXIST)
			ktap_bail("mkdir %s: %s", path, strerror(errno));
		dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		reg_init(&r, ID0 + i, ASM_TARGET_CGROUP, 0, "views-bench");
		r.cgroup_fd = dfd;
		if (dfd < 0 || ioctl(asm_fd, ASM_IOC_REGISTER, &r))
			ktap_bail("register agent %d: %s", i, strerror(errno));
		close(dfd);
	}
	/* The first tick after the registrations sweeps every task. */
	sleep(2);
	sampler_cost(&ticks0, &total0, &sweeps, &sweep_ns);
	for (i = 0; i < RUNS; i++) {
		root[i] = time_ns(read_status, 20);
		nobody[i] = status_as_nobody(20);
		info[i] = time_ns(get_info, 200);
		quiet[i] = time_ns(fork_once, 200);
	}
	fflush(stdout);
	reader = fork();
	if (reader == 0) {
		drop_to_nobody();
		for (;;)
			read_status();
	}
	for (i = 0; i < RUNS; i++)
		busy[i] = time_ns(fork_once, 200);
	kill(reader, SIGKILL);
	waitpid(reader, NULL, 0);
	sampler_cost(&ticks1, &total1, &sweeps, &sweep_ns);

	printf("agents %d\n", n);
	printf("status_read_us_root %.1f\n", median(root, RUNS) / 1000.0);
	printf("status_read_us_nobody %.1f\n", median(nobody, RUNS) / 1000.0);
	printf("get_info_us %.1f\n", median(info, RUNS) / 1000.0);
	printf("fork_us_quiet %.1f\n", median(quiet, RUNS) / 1000.0);
	printf("fork_us_reader %.1f\n", median(busy, RUNS) / 1000.0);
	printf("ratio fork_reader/fork_quiet %.3f\n",
	       (double)median(busy, RUNS) / (double)median(quiet, RUNS));
	printf("sampler_tick_us %.1f over %" PRIu64 " ticks\n",
	       ticks1 > ticks0 ? (total1 - total0) / 1000.0 / (ticks1 - ticks0) : 0.0,
	       ticks1 - ticks0);
	printf("sampler_sweep_us %.1f (%" PRIu64 " sweeps)\n", sweep_ns / 1000.0, sweeps);
	printf("tasks %d\n", tasks);

	for (i = 0; i < n; i++) {
		asm_unregister(asm_fd, ID0 + i);
		snprintf(path, sizeof(path), DIR "/a%d", i);
		rmdir(path);
	}
	rmdir(DIR);
	for (i = 0; i < tasks; i++)
		kill(idle[i], SIGKILL);
	for (i = 0; i < tasks; i++)
		waitpid(idle[i], NULL, 0);
	return 0;
}
