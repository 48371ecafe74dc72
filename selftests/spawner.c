// SPDX-License-Identifier: GPL-2.0
/*
 * spawner - a deterministic process tree for the ASM selftests.
 *
 *	spawner [-c N] [-g N] [-x N] [-k N] [-t N] [-n N] [-e CODE] [-s MS]
 *		[-w FILE]
 *
 *	-c N	N clean children, each exits 0
 *	-g N	N grandchildren per clean child (each exits 0; the child waits
 *		for them)
 *	-x N	N children that exit with code 3
 *	-k N	N children killed by SIGSEGV (default action, no core dump)
 *	-t N	N extra threads in the main process; they live until every
 *		child is done (and, with -w, until FILE is removed), then are
 *		joined (threads are not processes: they must not count as
 *		spawns or exits)
 *	-n N	N children that _exit(0) at once, forked as fast as possible
 *	-e CODE	the spawner's own exit code (default 0)
 *	-s MS	sleep MS milliseconds before exiting
 *	-w FILE	once every child is done, write the spawner's pid to FILE and
 *		wait until FILE is removed (a test can inspect a live agent);
 *		opening FILE needs the agent's FsBasic, nothing else does
 *
 * Run as the agent `asmctl run --name t --id ID -- spawner -c C -g G -x X
 * -k K -e E`, the agent's counters end at:
 *	spawns = exits = 1 + C + C*G + X + K (+ N for -n)
 *	crashes = faults = X + K + (E != 0)
 *	execs = 1 (asmctl execs the spawner; nothing here execs)
 *
 * The spawner checks how each child ended; if one did not end as planned it
 * says so on stderr and exits with code 100 (which the test then sees as a
 * wrong crash count).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_CODE_CHILD		3
#define EXIT_INTERNAL		100

static void usage(void)
{
	fprintf(stderr,
		"usage: spawner [-c N] [-g N] [-x N] [-k N] [-t N] [-n N] [-e CODE] [-s MS] [-w FILE]\n");
	exit(2);
}

static long parse_num(const char *s, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > max)
		usage();
	return v;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* fork(), retrying while the system is short of processes. */
static pid_t xfork(void)
{
	for (;;) {
		pid_t pid = fork();

		if (pid >= 0)
			return pid;
		if (errno != EAGAIN) {
			perror("spawner: fork");
			exit(EXIT_INTERNAL);
		}
		sleep_ms(1);
	}
}

/* A clean child: fork @grandchildren that exit 0, wait for them, exit 0. */
static void __attribute__((noreturn)) clean_child(long grandchildren)
{
	int status, bad = 0;
	long i;

	for (i = 0; i < grandchildren; i++)
		if (xfork() == 0)
			_exit(0);
	for (i = 0; i < grandchildren; i++) {
		if (wait(&status) < 0) {
			bad = 1;
			break;
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			bad = 1;
	}
	_exit(bad ? EXIT_INTERNAL : 0);
}

static void __attribute__((noreturn)) segv_child(void)
{
	struct rlimit rl = { 0, 0 };
	sigset_t set;

	/* No core file: neither a file nor a core_pattern pipe helper. */
	setrlimit(RLIMIT_CORE, &rl);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	signal(SIGSEGV, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, SIGSEGV);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(SIGSEGV);
	_exit(EXIT_INTERNAL);	/* not reached */
}

static pthread_mutex_t release_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t release_cond = PTHREAD_COND_INITIALIZER;
static int released;

/* A thread lives until the main thread releases it. */
static void *thread_fn(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&release_lock);
	while (!released)
		pthread_cond_wait(&release_cond, &release_lock);
	pthread_mutex_unlock(&release_lock);
	return NULL;
}

static void release_threads(pthread_t *tids, long n)
{
	long i;

	pthread_mutex_lock(&release_lock);
	released = 1;
	pthread_cond_broadcast(&release_cond);
	pthread_mutex_unlock(&release_lock);
	for (i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
}

/*
 * -n: fork @n children that exit at once, as fast as possible; reap them
 * afterwards (or earlier when fork runs out of processes).
 */
static long fast_children(long n, long *bad)
{
	long started = 0, reaped = 0;
	int status;

	while (started < n) {
		pid_t pid = fork();

		if (pid == 0)
			_exit(0);
		if (pid > 0) {
			started++;
			continue;
		}
		if (errno != EAGAIN || wait(&status) < 0) {
			perror("spawner: fork");
			exit(EXIT_INTERNAL);
		}
		reaped++;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			(*bad)++;
	}
	return started - reaped;
}

int main(int argc, char **argv)
{
	long clean = 0, grand = 0, exit3 = 0, segv = 0, threads = 0, fast = 0;
	long sleep_before_exit = 0, i, bad = 0, pending;
	long n_clean = 0, n_exit3 = 0, n_segv = 0;
	int exit_code = 0, opt, status;
	const char *wait_file = NULL;
	pthread_t *tids = NULL;

	while ((opt = getopt(argc, argv, "c:g:x:k:t:n:e:s:w:h")) != -1) {
		switch (opt) {
		case 'c': clean = parse_num(optarg, 100000); break;
		case 'g': grand = parse_num(optarg, 100000); break;
		case 'x': exit3 = parse_num(optarg, 100000); break;
		case 'k': segv = parse_num(optarg, 100000); break;
		case 't': threads = parse_num(optarg, 1000); break;
		case 'n': fast = parse_num(optarg, 1000000); break;
		case 'e': exit_code = (int)parse_num(optarg, 255); break;
		case 's': sleep_before_exit = parse_num(optarg, 86400000); break;
		case 'w': wait_file = optarg; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();

	/* Nothing buffered may be flushed twice by a child. */
	fflush(NULL);

	if (threads) {
		tids = calloc(threads, sizeof(*tids));
		if (!tids) {
			perror("spawner: calloc");
			return EXIT_INTERNAL;
		}
		for (i = 0; i < threads; i++) {
			int err = pthread_create(&tids[i], NULL, thread_fn, NULL);

			if (err) {
				fprintf(stderr, "spawner: pthread_create: %s\n", strerror(err));
				return EXIT_INTERNAL;
			}
		}
	}

	/* First, so that the reaping it may do only meets its own children. */
	pending = fast_children(fast, &bad);
	for (i = 0; i < clean; i++)
		if (xfork() == 0)
			clean_child(grand);
	for (i = 0; i < exit3; i++)
		if (xfork() == 0)
			_exit(EXIT_CODE_CHILD);
	for (i = 0; i < segv; i++)
		if (xfork() == 0)
			segv_child();
	pending += clean + exit3 + segv;

	for (i = 0; i < pending; i++) {
		if (wait(&status) < 0) {
			perror("spawner: wait");
			return EXIT_INTERNAL;
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			n_clean++;
		else if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_CODE_CHILD)
			n_exit3++;
		else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV)
			n_segv++;
		else
			bad++;
	}
	if (bad || n_clean != pending - exit3 - segv || n_exit3 != exit3 || n_segv != segv) {
		fprintf(stderr, "spawner: children ended wrongly: clean %ld exit3 %ld segv %ld other %ld\n",
			n_clean, n_exit3, n_segv, bad);
		return EXIT_INTERNAL;
	}

	if (wait_file) {
		char buf[32];
		int fd, len;

		fd = open(wait_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			perror("spawner: open wait file");
			return EXIT_INTERNAL;
		}
		len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
		if (write(fd, buf, len) != len) {
			perror("spawner: write wait file");
			return EXIT_INTERNAL;
		}
		close(fd);
		while (access(wait_file, F_OK) == 0)
			sleep_ms(20);
	}

	release_threads(tids, threads);
	free(tids);

	if (sleep_before_exit)
		sleep_ms(sleep_before_exit);
	return exit_code;
}
