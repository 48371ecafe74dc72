// SPDX-License-Identifier: GPL-2.0
/*
 * fork_bench - the cost of fork + exit + wait, or of a system call, for
 * bench_fork.sh.
 *
 *	fork_bench [-s|-o|-p|-e|-c] [-n ITER]
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
 * an agent pays to report one) and prints ns_per_profile.  With -e the child
 * execs /bin/true (ns_per_exec: a fork, an exec and an exit); with -c it
 * makes ITER TCP connections to a listener of its own on 127.0.0.1 and
 * accepts and closes each (ns_per_connect).
 *
 * A benchmark, not a test: it prints a figure and exits 0 unless a fork or
 * a wait fails.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
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

static int execs;

static int fork_once(void)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (execs)
			execl("/bin/true", "true", (char *)NULL);
		_exit(execs ? 127 : 0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	return 0;
}

/* One TCP connection to @addr: connect, accept, close both. */
static int connect_once(int listener, const struct sockaddr_in *addr)
{
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), a;

	if (c < 0)
		return -1;
	if (connect(c, (const struct sockaddr *)addr, sizeof(*addr))) {
		close(c);
		return -1;
	}
	a = accept(listener, NULL, NULL);
	close(c);
	if (a < 0)
		return -1;
	close(a);
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

	int syscalls = 0, opens = 0, profiles = 0, connects = 0, fd;

	while ((opt = getopt(argc, argv, "sopecn:")) != -1) {
		if (opt != 'n') {
			syscalls = opt == 's';
			opens = opt == 'o';
			profiles = opt == 'p';
			execs = opt == 'e';
			connects = opt == 'c';
			if (opt == '?')
				goto usage;
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

	if (connects) {
		struct sockaddr_in addr = { .sin_family = AF_INET };
		socklen_t len = sizeof(addr);
		int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof(addr)) ||
		    getsockname(l, (struct sockaddr *)&addr, &len) || listen(l, 16)) {
			fprintf(stderr, "fork_bench: listener: %s\n", strerror(errno));
			return 1;
		}
		for (i = 0; i < WARMUP + iter; i++) {
			if (i == WARMUP)
				t0 = now_ns();
			if (connect_once(l, &addr)) {
				fprintf(stderr, "fork_bench: connect: %s\n", strerror(errno));
				return 1;
			}
		}
		t1 = now_ns();
		printf("ns_per_connect %.1f\n", (double)(t1 - t0) / iter);
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
	printf("%s %llu\n", execs ? "ns_per_exec" : "ns_per_fork",
	       (t1 - t0) / (unsigned long long)iter);
	return 0;
fail:
	fprintf(stderr, "fork_bench: fork/wait failed: %s\n", strerror(errno));
	return 1;
usage:
	fprintf(stderr, "usage: fork_bench [-s|-o|-p|-e|-c] [-n ITER]\n");
	return 2;
}
