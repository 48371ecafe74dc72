// SPDX-License-Identifier: GPL-2.0
/*
 * fork_bench - the cost of fork + exit + wait, or of a system call, for
 * bench_fork.sh.
 *
 *	fork_bench [-s|-o|-p] [-n ITER]
 *
 * Forks a child that _exit(0)s at once and waits for it, ITER times (default
 * 2000) after a short warm-up, and prints the mean over the ITER rounds
 * (CLOCK_MONOTONIC):
 *
 *	ns_per_fork <value>
 *
 * With -s it calls getppid() (through syscall(2), so no C library cache
 * answers) ITER times instead and prints ns_per_syscall.  With -o it opens
 * and closes /etc/passwd ITER times and prints ns_per_open (for an agent,
 * every open is checked against its policy).  With -p, run as an agent, it
 * records ITER profiled operations (ASM_IOC_PROFILE RECORD, the round trip
 * an agent pays to report one) and prints ns_per_profile.
 *
 * A benchmark, not a test: it prints a figure and exits 0 unless a fork or
 * a wait fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/asm.h>

#define WARMUP	50

static int fork_once(void)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(0);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	return 0;
}

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	unsigned long long t0 = 0, t1;
	long iter = 2000, i;
	char *end;
	int opt;

	int syscalls = 0, opens = 0, profiles = 0, fd;

	while ((opt = getopt(argc, argv, "sopn:")) != -1) {
		if (opt == 's' || opt == 'o' || opt == 'p') {
			syscalls = opt == 's';
			opens = opt == 'o';
			profiles = opt == 'p';
			continue;
		}
		if (opt != 'n')
			goto usage;
		iter = strtol(optarg, &end, 10);
		if (*end || end == optarg || iter <= 0)
			goto usage;
	}
	if (optind != argc)
		goto usage;

	if (syscalls) {
		for (i = 0; i < WARMUP; i++)
			syscall(SYS_getppid);
		t0 = now_ns();
		for (i = 0; i < iter; i++)
			syscall(SYS_getppid);
		t1 = now_ns();
		printf("ns_per_syscall %.1f\n", (double)(t1 - t0) / iter);
		return 0;
	}

	if (profiles) {
		struct asm_profile p;

		fd = open(ASM_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "fork_bench: open %s: %s\n", ASM_DEVICE_PATH, strerror(errno));
			return 1;
		}
		memset(&p, 0, sizeof(p));
		p.size = sizeof(p);
		p.version = ASM_ABI_VERSION;
		p.cmd = ASM_PROFILE_RECORD;
		strcpy(p.op, "bench");
		p.duration_ns = 1000;
		p.success = 1;
		for (i = 0; i < WARMUP + iter; i++) {
			if (i == WARMUP)
				t0 = now_ns();
			if (ioctl(fd, ASM_IOC_PROFILE, &p)) {
				fprintf(stderr, "fork_bench: ASM_IOC_PROFILE: %s (run it as an agent)\n",
					strerror(errno));
				return 1;
			}
		}
		t1 = now_ns();
		printf("ns_per_profile %.1f\n", (double)(t1 - t0) / iter);
		return 0;
	}

	if (opens) {
		for (i = 0; i < WARMUP + iter; i++) {
			if (i == WARMUP)
				t0 = now_ns();
			fd = open("/etc/passwd", O_RDONLY);
			if (fd < 0) {
				fprintf(stderr, "fork_bench: open: %s\n", strerror(errno));
				return 1;
			}
			close(fd);
		}
		t1 = now_ns();
		printf("ns_per_open %.1f\n", (double)(t1 - t0) / iter);
		return 0;
	}

	for (i = 0; i < WARMUP; i++)
		if (fork_once())
			goto fail;
	t0 = now_ns();
	for (i = 0; i < iter; i++)
		if (fork_once())
			goto fail;
	t1 = now_ns();
	printf("ns_per_fork %llu\n", (t1 - t0) / (unsigned long long)iter);
	return 0;
fail:
	fprintf(stderr, "fork_bench: fork/wait failed: %s\n", strerror(errno));
	return 1;
usage:
	fprintf(stderr, "usage: fork_bench [-s|-o|-p] [-n ITER]\n");
	return 2;
}
