// SPDX-License-Identifier: GPL-2.0
/*
 * gw_bench - what the kernel path of the LLM gateway adds to a request.
 *
 *   gw_bench ADDR ROUNDS AGENTS
 *
 * ADDR is asm-mock-llm's address (HOST:PORT); asm-gateway must be running
 * with its local provider at http://ADDR/local.  Prints, for ROUNDS
 * sequential requests each:
 *   - "direct": an HTTP POST of the OpenAI-compatible request straight to
 *     the mock's local endpoint (what an agent calling the provider itself
 *     pays), one TCP connection per request, as asm-gateway's client may;
 *   - "kernel": ASM_IOC_LLM_REQUEST from an agent, through the module's
 *     queue, netlink to asm-gateway, its HTTP call to the same endpoint,
 *     and back;
 * their p50 and p99 latency, the difference, and then the throughput of
 * AGENTS agents (forked processes, one agent each) asking at once for
 * ROUNDS requests each.
 *
 *   gw_bench --instant ROUNDS
 *
 * measures the module's own share: ROUNDS sequential requests through the
 * kernel to a helper of its own that answers each at once (no HTTP, no
 * asm-gateway; none may be registered).
 *
 * A benchmark, not a test: it exits non-zero only when it cannot run.  Run
 * as root with the module loaded.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <poll.h>

#include "asm_util.h"
#include "asm_gw.h"

#define ID	7500

static struct sockaddr_in mock;
static char host[64];

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t pct(uint64_t *v, int n, int p)
{
	int i = (n * p + 99) / 100 - 1;

	return v[i < 0 ? 0 : i];
}

/* One request straight to the mock; returns 0 on an HTTP 200. */
static int direct(void)
{
	static const char body[] =
		"{\"model\":\"local-test\",\"max_tokens\":16,\"temperature\":0.7,"
		"\"messages\":[{\"role\":\"user\",\"content\":\"bench\"}]}";
	char req[512], resp[4096];
	int fd, n, len, got = 0;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&mock, sizeof(mock)))
		return -1;
	len = snprintf(req, sizeof(req),
		       "POST /local/v1/chat/completions HTTP/1.1\r\nHost: %s\r\n"
		       "Content-Type: application/json\r\nContent-Length: %zu\r\n"
		       "Connection: close\r\n\r\n%s", host, sizeof(body) - 1, body);
	if (write(fd, req, len) != len) {
		close(fd);
		return -1;
	}
	while ((n = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
		got += n;
	close(fd);
	resp[got] = 0;
	return strncmp(resp, "HTTP/1.1 200", 12) ? -1 : 0;
}

/* One request through the kernel; returns 0 on an answer. */
static int through_kernel(void)
{
	static const char doc[] = "{\"prompt\":\"bench\",\"max_tokens\":16}";
	struct asm_llm_request r;
	char resp[4096];

	llm_init(&r, 0, doc, sizeof(doc) - 1, resp, sizeof(resp));
	return ioctl(asm_fd, ASM_IOC_LLM_REQUEST, &r) > 0 ? 0 : -1;
}

static void series(const char *what, int (*fn)(void), int rounds, uint64_t *lat)
{
	int i;

	for (i = 0; i < rounds; i++) {
		uint64_t t = now_ns(CLOCK_MONOTONIC);

		if (fn()) {
			fprintf(stderr, "gw_bench: %s request %d failed: %s\n", what, i,
				strerror(errno));
			exit(1);
		}
		lat[i] = now_ns(CLOCK_MONOTONIC) - t;
	}
	qsort(lat, rounds, sizeof(*lat), cmp_u64);
	printf("%s: %d requests, p50 %.3f ms, p99 %.3f ms\n", what, rounds,
	       pct(lat, rounds, 50) / 1e6, pct(lat, rounds, 99) / 1e6);
}

/* ROUNDS requests through the kernel, each timed once the bucket let it
 * through (an empty bucket is waited out, untimed); prints the p50 and p99
 * as @what and leaves @lat sorted. */
static void kernel_series(const char *what, int rounds, uint64_t *lat)
{
	int i;

	for (i = 0; i < rounds; i++) {
		uint64_t s = now_ns(CLOCK_MONOTONIC);

		while (through_kernel()) {
			if (errno != EAGAIN) {
				perror("gw_bench: kernel request");
				_exit(1);
			}
			usleep(20000);
			s = now_ns(CLOCK_MONOTONIC);
		}
		lat[i] = now_ns(CLOCK_MONOTONIC) - s;
	}
	qsort(lat, rounds, sizeof(*lat), cmp_u64);
	printf("%s: %d requests, p50 %.3f ms, p99 %.3f ms\n", what, rounds,
	       pct(lat, rounds, 50) / 1e6, pct(lat, rounds, 99) / 1e6);
}

static int register_self(__u32 id, __u64 caps)
{
	struct asm_register r;

	reg_init(&r, id, ASM_TARGET_SELF, 0, "gw-bench");
	r.capabilities = caps;
	return ioctl(asm_fd, ASM_IOC_REGISTER, &r);
}

/* The instant helper: registers, then answers every request it pulls at
 * once; reports its REGISTER answer on @ready. */
static void instant_helper(int ready)
{
	static struct pulled p;
	static struct nl_msg note;
	int cmd = nl_socket(), ev = nl_socket(), ret;
	struct pollfd pfd = { .fd = ev, .events = POLLIN };
	__u32 provider = ASM_LLM_LOCAL;

	if (cmd < 0 || ev < 0 ||
	    setsockopt(ev, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &gateway_group,
		       sizeof(gateway_group)))
		_exit(1);
	ret = gw_register(cmd);
	if (write(ready, &ret, sizeof(ret)) != sizeof(ret) || ret)
		_exit(1);
	for (;;) {
		if (poll(&pfd, 1, 200) > 0)
			recv(ev, &note, sizeof(note), MSG_DONTWAIT);
		while (gw_pull(cmd, &p) == 1)
			gw_complete(cmd, p.id, 0, provider, "instant", &provider, 1, 0);
	}
}

/* gw_bench --instant ROUNDS. */
static int instant(int rounds)
{
	uint64_t *lat = calloc(rounds, sizeof(*lat));
	int p[2], ret = -1, status, fd = nl_socket();
	pid_t helper, agent;

	if (!lat || fd < 0 || pipe(p))
		return 1;
	ret = asm_genl_resolve_group(fd, &family, ASM_GENL_MCGRP_GATEWAY, &gateway_group);
	close(fd);
	if (ret) {
		fprintf(stderr, "gw_bench: resolving the gateway group: %s\n", strerror(-ret));
		return 1;
	}
	helper = fork();
	if (helper == 0)
		instant_helper(p[1]);
	if (read(p[0], &ret, sizeof(ret)) != sizeof(ret) || ret) {
		fprintf(stderr, "gw_bench: the instant helper did not register: %s\n",
			strerror(-ret));
		kill(helper, SIGKILL);
		return 1;
	}
	agent = fork();
	if (agent == 0) {
		if (register_self(ID + 2000, ASM_CAP_LLM_ACCESS)) {
			perror("register");
			_exit(1);
		}
		kernel_series("kernel, instant helper", rounds, lat);
		fflush(stdout);
		_exit(0);
	}
	waitpid(agent, &status, 0);
	kill(helper, SIGKILL);
	waitpid(helper, NULL, 0);
	/* Another run on the same module load registers the id again. */
	asm_unregister(asm_fd, ID + 2000);
	return WIFEXITED(status) && !WEXITSTATUS(status) ? 0 : 1;
}

int main(int argc, char **argv)
{
	int rounds, agents, i, failed = 0;
	uint64_t *direct_lat, *kernel_lat, t;
	char *colon;
	volatile int *fails;

	if (argc == 3 && !strcmp(argv[1], "--instant")) {
		rounds = atoi(argv[2]);
		if (rounds < 1 || rounds > 100000)
			return 2;
		asm_fd = asm_open();
		if (asm_fd < 0) {
			perror("/dev/asm");
			return 1;
		}
		return instant(rounds);
	}
	if (argc != 4 || !(colon = strchr(argv[1], ':'))) {
		fprintf(stderr, "usage: gw_bench HOST:PORT ROUNDS AGENTS | --instant ROUNDS\n");
		return 2;
	}
	snprintf(host, sizeof(host), "%s", argv[1]);
	*colon = 0;
	mock.sin_family = AF_INET;
	mock.sin_port = htons(atoi(colon + 1));
	if (inet_pton(AF_INET, argv[1], &mock.sin_addr) != 1) {
		fprintf(stderr, "gw_bench: %s is not an IPv4 address\n", argv[1]);
		return 2;
	}
	rounds = atoi(argv[2]);
	agents = atoi(argv[3]);
	if (rounds < 1 || rounds > 100000 || agents < 1 || agents > 1000) {
		fprintf(stderr, "gw_bench: ROUNDS 1-100000, AGENTS 1-1000\n");
		return 2;
	}
	asm_fd = asm_open();
	if (asm_fd < 0) {
		perror("/dev/asm");
		return 1;
	}
	direct_lat = calloc(rounds, sizeof(*direct_lat));
	kernel_lat = calloc(rounds, sizeof(*kernel_lat));
	fails = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!direct_lat || !kernel_lat || fails == MAP_FAILED)
		return 1;

	/* The sequential series, in an agent of its own (the bucket: 30 at
	 * once, 10 a second; the series waits when it is empty). */
	if (fork() == 0) {
		/* NetClient: the direct series connects to the mock itself. */
		if (register_self(ID, ASM_CAP_LLM_ACCESS | ASM_CAP_NET_CLIENT)) {
			perror("register");
			_exit(1);
		}
		series("direct", direct, rounds, direct_lat);
		kernel_series("kernel", rounds, kernel_lat);
		printf("added by the kernel path: p50 %.3f ms, p99 %.3f ms\n",
		       ((double)pct(kernel_lat, rounds, 50) - pct(direct_lat, rounds, 50)) / 1e6,
		       ((double)pct(kernel_lat, rounds, 99) - pct(direct_lat, rounds, 99)) / 1e6);
		fflush(stdout);
		_exit(0);
	}
	{
		int status;

		wait(&status);
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			fprintf(stderr, "gw_bench: the sequential series failed (status %#x)\n",
				status);
			return 1;
		}
	}

	/* AGENTS agents at once, each at most its burst (30) of requests. */
	if (rounds > 30)
		rounds = 30;
	t = now_ns(CLOCK_MONOTONIC);
	for (i = 0; i < agents; i++) {
		if (fork() == 0) {
			int j;

			if (register_self(ID + 1 + i, ASM_CAP_LLM_ACCESS))
				_exit(1);
			for (j = 0; j < rounds; j++)
				if (through_kernel())
					__atomic_fetch_add(fails, 1, __ATOMIC_RELAXED);
			_exit(0);
		}
	}
	for (i = 0; i < agents; i++) {
		int status;

		wait(&status);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			failed++;
	}
	t = now_ns(CLOCK_MONOTONIC) - t;
	printf("%d agents x %d requests at once: %.1f requests/s, %d failed, %d agents failed\n",
	       agents, rounds, agents * rounds / (t / 1e9), *fails, failed);
	return 0;
}
