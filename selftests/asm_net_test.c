// SPDX-License-Identifier: GPL-2.0
/*
 * asm_net_test - attacks on the network capabilities (KTAP).
 *
 * An agent without NetClient must not open a TCP connection, and one
 * without NetServer must not get a listening TCP socket, on AF_INET or
 * AF_INET6, whatever path it takes.  The module refuses connect(), listen()
 * and Fast Open sends at sys_enter (native and i386 calls), refuses the SYN
 * an agent's task sends at netfilter's LOCAL_OUT hook (whatever asked for
 * it: io_uring, Fast Open; in every network namespace), and judges a socket
 * that enters TCP_LISTEN at the inet_sock_set_state tracepoint.
 *
 * Each case takes one path to the network: io_uring inline, linked with a
 * send, in an io-wq worker and in the SQPOLL thread; Fast Open by
 * sendmmsg() and by io_uring; IPv6; compat calls by int $0x80; a socket
 * that outlives the agent in an AF_UNIX cycle; a new network namespace;
 * plain connect().  A forked child registers itself (ASM_TARGET_SELF,
 * FsBasic only) and attacks a loopback listener of the test.  The case
 * fails if the listener ever sees the connection (non-blocking accept,
 * polled past the SYN retransmissions at 1 s and 3 s), if the kernel
 * counts a passive open (/proc/net/snmp), if the agent is not killed by
 * SIGKILL, or if the violation is not on record (GET_INFO's faults and
 * last exit, the audit trail).
 *
 * UDP and unix sockets are outside the rule: the module checks TCP
 * connections and listening TCP sockets only (and connect() on any inet
 * socket at the system call).  The UDP case asserts that boundary: an
 * unconnected sendto() of an agent without NetClient is delivered.
 *
 * The test runs as root: agents choose their ids, 5600 to 5699, and the
 * network namespace case may unshare.  Nothing of the module stays
 * registered at the end.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/io_uring.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "asm_util.h"

/* IORING_OP_LISTEN (6.11) is newer than the build host's uapi headers. */
#define ASM_IORING_OP_LISTEN	57

/* i386 system call numbers (arch/x86/entry/syscalls/syscall_32.tbl). */
#define IA32_GETPID	20
#define IA32_CONNECT	362
#define IA32_LISTEN	363

#define ID_BASE		5600
#define NR_CASES	20

/* How long a listener must stay quiet: past the SYN retransmits at 1 s and 3 s. */
#define QUIET_MS	3500
/* How long an agent may take to register, to die, or to be served. */
#define REGISTER_MS	20000
#define DEATH_MS	10000
#define SERVE_MS	10000

#define TFO_SYSCTL	"/proc/sys/net/ipv4/tcp_fastopen"

static __u32 registered[NR_CASES + 1];
static int nr_registered;

/* --- io_uring without liburing ------------------------------------------ */

struct ring {
	int fd;
	bool sqpoll;
	unsigned int tail;	/* the SQ tail not yet published */
	unsigned int *sq_tail, *sq_mask, *sq_array;
	unsigned int *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static int uring_enter(int fd, unsigned int submit, unsigned int wait, unsigned int flags)
{
	return syscall(__NR_io_uring_enter, fd, submit, wait, flags, NULL, 0);
}

/* Sets up a ring of 8 entries with @flags; 0 or -errno. */
static int ring_init(struct ring *r, unsigned int flags)
{
	struct io_uring_params p;
	size_t sq_len, cq_len;
	char *sq, *cq;

	memset(r, 0, sizeof(*r));
	memset(&p, 0, sizeof(p));
	p.flags = flags;
	p.sq_thread_idle = 1000;
	r->fd = syscall(__NR_io_uring_setup, 8, &p);
	if (r->fd < 0)
		return -errno;
	sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned int);
	cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		if (cq_len > sq_len)
			sq_len = cq_len;
		cq_len = sq_len;
	}
	sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
		  IORING_OFF_SQ_RING);
	if (sq == MAP_FAILED)
		return -errno;
	cq = sq;
	if (!(p.features & IORING_FEAT_SINGLE_MMAP)) {
		cq = mmap(NULL, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
			  IORING_OFF_CQ_RING);
		if (cq == MAP_FAILED)
			return -errno;
	}
	r->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (r->sqes == MAP_FAILED)
		return -errno;
	r->sq_tail = (unsigned int *)(sq + p.sq_off.tail);
	r->sq_mask = (unsigned int *)(sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned int *)(sq + p.sq_off.array);
	r->cq_head = (unsigned int *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned int *)(cq + p.cq_off.tail);
	r->cq_mask = (unsigned int *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	r->tail = *r->sq_tail;
	r->sqpoll = flags & IORING_SETUP_SQPOLL;
	return 0;
}

/* The next free submission entry, zeroed. */
static struct io_uring_sqe *ring_sqe(struct ring *r)
{
	unsigned int idx = r->tail++ & *r->sq_mask;

	r->sq_array[idx] = idx;
	memset(&r->sqes[idx], 0, sizeof(r->sqes[idx]));
	return &r->sqes[idx];
}

/*
 * Hands the queued entries to the kernel without waiting for them: an
 * entry that can run at once runs inside this call (or in the SQPOLL
 * thread).  Returns what io_uring_enter() returned.
 */
static int ring_submit(struct ring *r, unsigned int n)
{
	__atomic_store_n(r->sq_tail, r->tail, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (r->sqpoll)
		return uring_enter(r->fd, 0, 0, IORING_ENTER_SQ_WAKEUP);
	return uring_enter(r->fd, n, 0, 0);
}

/* The next completion within @ms; 0, or -ETIMEDOUT. */
static int ring_cqe(struct ring *r, struct io_uring_cqe *out, int ms)
{
	uint64_t end = now_ns(CLOCK_MONOTONIC) + (uint64_t)ms * 1000000ull;
	unsigned int head;

	for (;;) {
		head = *r->cq_head;
		if (head != __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE)) {
			*out = r->cqes[head & *r->cq_mask];
			__atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
			return 0;
		}
		if (now_ns(CLOCK_MONOTONIC) > end)
			return -ETIMEDOUT;
		/* Runs the task work that posts completions. */
		uring_enter(r->fd, 0, 0, IORING_ENTER_GETEVENTS);
		usleep(2000);
	}
}

/* --- addresses, listeners, counters ------------------------------------- */

struct addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

static void addr_loopback(struct addr *a, int family, int port)
{
	memset(a, 0, sizeof(*a));
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		s6->sin6_port = htons(port);
		a->len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		s4->sin_port = htons(port);
		a->len = sizeof(*s4);
	}
}

static int addr_port(const struct addr *a)
{
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
}

/* A non-blocking loopback socket of @type on an ephemeral port; its address in @a. */
static int loopback_socket(int family, int type, bool fastopen, struct addr *a)
{
	int fd, qlen = 16;

	fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		ktap_bail("socket: %s", strerror(errno));
	addr_loopback(a, family, 0);
	if (bind(fd, (struct sockaddr *)&a->ss, a->len))
		ktap_bail("bind: %s", strerror(errno));
	if (fastopen && setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN, &qlen, sizeof(qlen)))
		ktap_bail("TCP_FASTOPEN: %s", strerror(errno));
	if (type == SOCK_STREAM && listen(fd, 16))
		ktap_bail("listen: %s", strerror(errno));
	if (getsockname(fd, (struct sockaddr *)&a->ss, &a->len))
		ktap_bail("getsockname: %s", strerror(errno));
	return fd;
}

static int listener_open(int family, bool fastopen, struct addr *a)
{
	return loopback_socket(family, SOCK_STREAM, fastopen, a);
}

/*
 * Polls listener @fd for @ms and accepts whatever arrives; returns the
 * connections accepted (each one a failure of the case, with the bytes it
 * brought).
 */
static int listener_quiet(int fd, int ms)
{
	uint64_t end = now_ns(CLOCK_MONOTONIC) + (uint64_t)ms * 1000000ull;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int conns = 0;

	for (;;) {
		int64_t left = (int64_t)(end - now_ns(CLOCK_MONOTONIC)) / 1000000;
		struct pollfd cp = { .events = POLLIN };
		char buf[256];
		ssize_t n;

		if (left <= 0)
			break;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		cp.fd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cp.fd < 0)
			continue;
		conns++;
		poll(&cp, 1, 300);
		n = recv(cp.fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		buf[n > 0 ? n : 0] = '\0';
		ktap_fail_msg("the listener accepted a connection (%zd bytes: '%s')", n, buf);
		close(cp.fd);
	}
	return conns;
}

/* A counter of the "Tcp:" lines of /proc/net/snmp (this network namespace). */
static long long tcp_mib(const char *name)
{
	char head[1024], vals[1024], *hs, *vs, *h, *v;
	long long out = -1;
	FILE *f = fopen("/proc/net/snmp", "r");

	if (!f)
		return -1;
	while (fgets(head, sizeof(head), f)) {
		if (strncmp(head, "Tcp:", 4) || !fgets(vals, sizeof(vals), f))
			continue;
		h = strtok_r(head, " \n", &hs);
		v = strtok_r(vals, " \n", &vs);
		while (h && v) {
			if (!strcmp(h, name)) {
				out = atoll(v);
				break;
			}
			h = strtok_r(NULL, " \n", &hs);
			v = strtok_r(NULL, " \n", &vs);
		}
		break;
	}
	fclose(f);
	return out;
}

/* A TCP counter moved by @want since it was @base (read once: the macro evaluates twice). */
static void expect_tcp_mib(const char *name, long long base, long long want, const char *what)
{
	long long got = tcp_mib(name) - base;

	ktap_expect(got == want, "%s: expected %lld, got %lld", what, want, got);
}

/*
 * The TCP sockets of this namespace in state @st (include/net/tcp_states.h)
 * whose local (or remote) port is @port, from /proc/net/tcp and tcp6.
 */
static int tcp_sockets(bool local, int port, int st)
{
	static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	char line[512], la[64], ra[64];
	unsigned int lport, rport, state;
	int i, n = 0;

	for (i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "r");

		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, " %*d: %63[0-9A-Fa-f]:%x %63[0-9A-Fa-f]:%x %x", la, &lport,
				   ra, &rport, &state) != 5)
				continue;
			if ((int)state == st && (int)(local ? lport : rport) == port)
				n++;
		}
		fclose(f);
	}
	return n;
}

#define TCP_SYN_SENT_STATE	2
#define TCP_LISTEN_STATE	10

/* --- sysctl ------------------------------------------------------------- */

static int sysctl_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

static int sysctl_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

static char tfo_saved[32];

static void tfo_restore(void)
{
	if (tfo_saved[0] && sysctl_write(TFO_SYSCTL, tfo_saved))
		ktap_msg("could not restore %s to %s", TFO_SYSCTL, tfo_saved);
}

/*
 * A Fast Open connection by the test (not an agent) to listener @fd at @a:
 * the client caches the server's cookie for that address, so that an
 * agent's next Fast Open SYN to it carries data (and a server would take
 * the connection on that SYN alone).
 */
static void tfo_warm(int fd, const struct addr *a)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[16];
	int c, s;

	c = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c < 0 || sendto(c, "warm", 4, MSG_FASTOPEN, (struct sockaddr *)&a->ss, a->len) != 4)
		ktap_bail("Fast Open warm-up: %s", strerror(errno));
	if (poll(&p, 1, SERVE_MS) != 1)
		ktap_bail("Fast Open warm-up: no connection");
	s = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0 || recv(s, buf, sizeof(buf), 0) != 4)
		ktap_bail("Fast Open warm-up: %s", strerror(errno));
	close(s);
	close(c);
}

/* --- agents -------------------------------------------------------------- */

/*
 * One attack: what the registered child does.  fn() runs in the agent and
 * returns 0 if the operation worked, else a positive errno; it may report
 * more on @res_fd.  It only returns if the agent is still alive.
 */
struct attack {
	__u32 id;
	__u64 caps;
	const char *name;
	int (*fn)(const struct attack *a, int res_fd);
	struct addr dst;		/* the test's listener (receiver for UDP) */
	unsigned int ring_flags;	/* IORING_SETUP_* */
	unsigned int sqe_flags;		/* IOSQE_* of the first entry */
	bool link_send;			/* IORING_OP_SEND linked after the connect */
	bool hide;			/* the socket outlives the agent (unix cycle) */
	bool any_stage;			/* refused at the call or at the protocol */
	int backlog;			/* of the agent's listen */
};

enum tag { R_REG = 1, R_DONE, R_SEND, R_PORT, R_PID, R_SERVED, R_LISTENING, R_NORT };

struct report {
	int tag, val;
};

static void report(int fd, int tag, int val)
{
	struct report r = { tag, val };

	if (write(fd, &r, sizeof(r)) != sizeof(r))
		_exit(120);
}

static const char payload[] = "exfiltrated";

/*
 * With a->hide, puts socket @s in flight in an AF_UNIX datagram pair
 * whose receiving end is in flight in itself: once the agent's fds are
 * closed nothing but the unix garbage collector can free @s, and the
 * collector runs when some unix socket is released.  The sender end goes
 * at once (its release runs the collector while the cycle is still held
 * by an fd).  Returns 0 or an errno.
 */
static int maybe_hide(const struct attack *a, int s)
{
	struct iovec iov = { (void *)"x", 1 };
	char cbuf[CMSG_SPACE(2 * sizeof(int))];
	struct msghdr m = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	int u[2], fds[2];

	if (!a->hide)
		return 0;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, u))
		return errno;
	fds[0] = s;
	fds[1] = u[1];
	memset(cbuf, 0, sizeof(cbuf));
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	if (sendmsg(u[0], &m, 0) != 1)
		return errno;
	close(u[0]);
	/* Let that collector run finish before the attack. */
	usleep(200000);
	return 0;
}

/* io_uring IORING_OP_CONNECT (plus a linked IORING_OP_SEND) to the listener. */
static int atk_uring_connect(const struct attack *a, int res_fd)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe cqe;
	struct ring r;
	int s, ret, i, n = a->link_send ? 2 : 1, conn = ETIMEDOUT;

	s = socket(a->dst.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return errno;
	ret = maybe_hide(a, s);
	if (ret)
		return ret;
	ret = ring_init(&r, a->ring_flags);
	if (ret)
		return -ret;
	sqe = ring_sqe(&r);
	sqe->opcode = IORING_OP_CONNECT;
	sqe->fd = s;
	sqe->addr = (__u64)(uintptr_t)&a->dst.ss;
	sqe->off = a->dst.len;
	sqe->flags = a->sqe_flags;
	sqe->user_data = R_DONE;
	if (a->link_send) {
		sqe->flags |= IOSQE_IO_LINK;
		sqe = ring_sqe(&r);
		sqe->opcode = IORING_OP_SEND;
		sqe->fd = s;
		sqe->addr = (__u64)(uintptr_t)payload;
		sqe->len = sizeof(payload) - 1;
		sqe->user_data = R_SEND;
	}
	ret = ring_submit(&r, n);
	if (ret < 0)
		return errno;
	for (i = 0; i < n; i++) {
		if (ring_cqe(&r, &cqe, 5000))
			break;
		if (cqe.user_data == R_SEND)
			report(res_fd, R_SEND, cqe.res);
		else
			conn = cqe.res < 0 ? -cqe.res : 0;
	}
	return conn;
}

/* io_uring IORING_OP_SENDMSG with MSG_FASTOPEN: the connection and its data in one SYN. */
static int atk_uring_sendmsg_fastopen(const struct attack *a, int res_fd)
{
	struct iovec iov = { (void *)payload, sizeof(payload) - 1 };
	struct msghdr m = {
		.msg_name = (void *)&a->dst.ss, .msg_namelen = a->dst.len,
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	struct io_uring_sqe *sqe;
	struct io_uring_cqe cqe;
	struct ring r;
	int s, ret;

	(void)res_fd;
	s = socket(a->dst.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return errno;
	ret = maybe_hide(a, s);
	if (ret)
		return ret;
	ret = ring_init(&r, 0);
	if (ret)
		return -ret;
	sqe = ring_sqe(&r);
	sqe->opcode = IORING_OP_SENDMSG;
	sqe->fd = s;
	sqe->addr = (__u64)(uintptr_t)&m;
	sqe->len = 1;
	sqe->msg_flags = MSG_FASTOPEN;
	if (ring_submit(&r, 1) < 0)
		return errno;
	if (ring_cqe(&r, &cqe, 5000))
		return ETIMEDOUT;
	return cqe.res < 0 ? -cqe.res : 0;
}

/* sendmmsg() with MSG_FASTOPEN: a connect without connect(). */
static int atk_sendmmsg_fastopen(const struct attack *a, int res_fd)
{
	struct iovec iov = { (void *)payload, sizeof(payload) - 1 };
	struct mmsghdr mm = { .msg_hdr = {
		.msg_name = (void *)&a->dst.ss, .msg_namelen = a->dst.len,
		.msg_iov = &iov, .msg_iovlen = 1,
	} };
	int s;

	(void)res_fd;
	s = socket(a->dst.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return errno;
	return sendmmsg(s, &mm, 1, MSG_FASTOPEN) == 1 ? 0 : errno;
}

/* A plain blocking connect(). */
static int atk_connect(const struct attack *a, int res_fd)
{
	int s;

	(void)res_fd;
	s = socket(a->dst.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return errno;
	return connect(s, (struct sockaddr *)&a->dst.ss, a->dst.len) ? errno : 0;
}

/* io_uring IORING_OP_LISTEN on a socket bound with bind(2); reports the port first. */
static int atk_uring_listen(const struct attack *a, int res_fd)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe cqe;
	struct addr me;
	struct ring r;
	int s, ret;

	s = socket(a->dst.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return errno;
	addr_loopback(&me, a->dst.ss.ss_family, 0);
	if (bind(s, (struct sockaddr *)&me.ss, me.len) ||
	    getsockname(s, (struct sockaddr *)&me.ss, &me.len))
		return errno;
	ret = maybe_hide(a, s);
	if (ret)
		return ret;
	report(res_fd, R_PORT, addr_port(&me));
	ret = ring_init(&r, 0);
	if (ret)
		return -ret;
	sqe = ring_sqe(&r);
	sqe->opcode = ASM_IORING_OP_LISTEN;
	sqe->fd = s;
	sqe->len = a->backlog;
	if (ring_submit(&r, 1) < 0)
		return errno;
	if (ring_cqe(&r, &cqe, 5000))
		return ETIMEDOUT;
	if (cqe.res < 0)
		return -cqe.res;
	/* Still alive and listening: give a client time to be accepted. */
	ret = accept4(s, NULL, NULL, 0);
	return ret >= 0 ? 0 : errno;
}

/*
 * Two processes of one agent: this one puts a bound socket in TCP_LISTEN
 * through io_uring and dies for it; a sibling forked before must not live
 * to see the socket listen, nor serve whoever connects.  The module kills
 * every process of the agent in the listen's tracepoint, before the
 * socket's state changes.
 *
 * The sibling's chance is made certain, not left to scheduling: both run
 * on one CPU, real-time, the sibling above this process, and a pipe write
 * linked to the listen wakes it.  So it runs the moment the listen is
 * done, before the work items the listen queued on that CPU (the sampler,
 * which kills an agent's other processes late): alive, it reads
 * SO_ACCEPTCONN and says so; killed, it dies as it wakes.
 */
static int atk_uring_listen_sibling(const struct attack *a, int res_fd)
{
	struct sched_param lo = { .sched_priority = 1 }, hi = { .sched_priority = 2 };
	struct sched_param other = { .sched_priority = 0 };
	struct io_uring_sqe *sqe;
	struct io_uring_cqe cqe;
	int s, c, ret, on, wake[2];
	socklen_t len = sizeof(on);
	struct pollfd p;
	struct addr me;
	struct ring r;
	cpu_set_t one;
	uint64_t end;
	pid_t pid;

	s = socket(a->dst.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return errno;
	addr_loopback(&me, a->dst.ss.ss_family, 0);
	if (bind(s, (struct sockaddr *)&me.ss, me.len) ||
	    getsockname(s, (struct sockaddr *)&me.ss, &me.len))
		return errno;
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	if (sched_setaffinity(0, sizeof(one), &one) || pipe2(wake, O_CLOEXEC))
		return errno;
	pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0) {
		close(wake[1]);
		report(res_fd, R_PID, getpid());
		if (sched_setscheduler(0, SCHED_FIFO, &hi))
			report(res_fd, R_NORT, errno);
		p = (struct pollfd){ .fd = wake[0], .events = POLLIN };
		poll(&p, 1, 5000);
		if (!getsockopt(s, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) && on)
			report(res_fd, R_LISTENING, 1);
		sched_setscheduler(0, SCHED_OTHER, &other);
		end = now_ns(CLOCK_MONOTONIC) + 5000000000ull;
		while (now_ns(CLOCK_MONOTONIC) < end) {
			c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
			if (c < 0)
				continue;
			if (write(c, "served", 6) == 6)
				report(res_fd, R_SERVED, 1);
			close(c);
		}
		_exit(0);
	}
	close(wake[0]);
	if (sched_setscheduler(0, SCHED_FIFO, &lo))
		return errno;
	/* The sibling waits first; the test connects in a loop meanwhile. */
	usleep(300000);
	report(res_fd, R_PORT, addr_port(&me));
	usleep(300000);
	ret = ring_init(&r, 0);
	if (ret)
		return -ret;
	sqe = ring_sqe(&r);
	sqe->opcode = ASM_IORING_OP_LISTEN;
	sqe->fd = s;
	sqe->len = 8;
	sqe->flags = IOSQE_IO_LINK;
	sqe = ring_sqe(&r);
	sqe->opcode = IORING_OP_WRITE;
	sqe->fd = wake[1];
	sqe->addr = (__u64)(uintptr_t)"!";
	sqe->len = 1;
	if (ring_submit(&r, 2) < 0)
		return errno;
	if (ring_cqe(&r, &cqe, 5000))
		return ETIMEDOUT;
	return cqe.res < 0 ? -cqe.res : 0;
}

/*
 * A 32-bit system call from this 64-bit process (int $0x80): the kernel
 * runs it as a compat call, which the sys_enter check does not classify.
 */
static long ia32_syscall(long nr, long a, long b, long c)
{
	long ret;

	asm volatile("int $0x80"
		     : "=a"(ret)
		     : "a"(nr), "b"(a), "c"(b), "d"(c)
		     : "memory", "r8", "r9", "r10", "r11");
	return ret;
}

/* Compat calls take 32-bit pointers: .bss of this static non-PIE program. */
static struct sockaddr_storage low_addr;

/* A compat connect() (i386 connect, 362). */
static int atk_compat_connect(const struct attack *a, int res_fd)
{
	long ret;
	int s;

	(void)res_fd;
	if ((uintptr_t)&low_addr >> 32)
		return EFAULT;
	s = socket(a->dst.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return errno;
	memcpy(&low_addr, &a->dst.ss, a->dst.len);
	ret = ia32_syscall(IA32_CONNECT, s, (long)(uintptr_t)&low_addr, a->dst.len);
	return ret < 0 ? -ret : 0;
}

/* A compat listen() (i386 listen, 363) on a socket bound with bind(2). */
static int atk_compat_listen(const struct attack *a, int res_fd)
{
	struct addr me;
	long ret;
	int s;

	s = socket(a->dst.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return errno;
	addr_loopback(&me, a->dst.ss.ss_family, 0);
	if (bind(s, (struct sockaddr *)&me.ss, me.len) ||
	    getsockname(s, (struct sockaddr *)&me.ss, &me.len))
		return errno;
	report(res_fd, R_PORT, addr_port(&me));
	ret = ia32_syscall(IA32_LISTEN, s, 8, 0);
	if (ret < 0)
		return -ret;
	ret = accept4(s, NULL, NULL, 0);
	return ret >= 0 ? 0 : errno;
}

/* Whether this kernel runs int $0x80 calls of a 64-bit process (IA32_EMULATION). */
static bool ia32_works(void)
{
	int status = -1;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0)
		_exit(ia32_syscall(IA32_GETPID, 0, 0, 0) == getpid() ? 0 : 1);
	if (pid < 0)
		return false;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* An unconnected UDP sendto(): outside the rule, must be delivered. */
static int atk_udp_sendto(const struct attack *a, int res_fd)
{
	int s;

	(void)res_fd;
	s = socket(a->dst.ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return errno;
	return sendto(s, payload, sizeof(payload) - 1, 0, (struct sockaddr *)&a->dst.ss,
		      a->dst.len) == sizeof(payload) - 1 ? 0 : errno;
}

/* What the test saw of one agent. */
struct run {
	pid_t pid;
	int res_fd, cmd_fd;
	int status;		/* wait status; -1 while it runs */
	int reg;		/* the registration's errno; -1 if not reported */
	bool done, sent;	/* R_DONE, R_SEND reported */
	int done_val, send_val, port;
	pid_t sibling;		/* R_PID: a second process of the agent */
	int served;		/* R_SERVED: connections it served */
	int listening;		/* R_LISTENING: it saw its socket listen, alive */
	int nort;		/* R_NORT: why it could not go real-time */
};

/* The agent: registers itself, attacks, then waits for the test to let it exit. */
static void agent_main(const struct attack *a, int res_fd, int cmd_fd)
{
	char name[ASM_NAME_LEN], c;
	int fd, val;

	/* Only the two pipes stay open: nothing of the test's sockets. */
	for (fd = 3; fd < 1024; fd++)
		if (fd != res_fd && fd != cmd_fd)
			close(fd);
	fd = asm_open();
	snprintf(name, sizeof(name), "net-%s", a->name);
	if (fd < 0 || asm_register_self(fd, a->id, a->caps, name, NULL)) {
		report(res_fd, R_REG, errno ? errno : EIO);
		_exit(1);
	}
	report(res_fd, R_REG, 0);
	val = a->fn(a, res_fd);
	report(res_fd, R_DONE, val);
	while (read(cmd_fd, &c, 1) == 1)
		;
	_exit(0);
}

/* Reads one report within @ms; false if none came (the agent ended or hangs). */
static bool run_read(struct run *r, int ms)
{
	struct pollfd p = { .fd = r->res_fd, .events = POLLIN };
	struct report rep;

	if (r->res_fd < 0 || poll(&p, 1, ms) != 1 ||
	    read(r->res_fd, &rep, sizeof(rep)) != sizeof(rep))
		return false;
	switch (rep.tag) {
	case R_REG:
		r->reg = rep.val;
		break;
	case R_DONE:
		r->done = true;
		r->done_val = rep.val;
		break;
	case R_SEND:
		r->sent = true;
		r->send_val = rep.val;
		break;
	case R_PORT:
		r->port = rep.val;
		break;
	case R_PID:
		r->sibling = rep.val;
		break;
	case R_SERVED:
		r->served++;
		break;
	case R_LISTENING:
		r->listening++;
		break;
	case R_NORT:
		r->nort = rep.val;
		break;
	}
	return true;
}

/* Forks the agent and waits for its registration; false if it failed. */
static bool agent_start(const struct attack *a, struct run *r)
{
	int res[2], cmd[2];
	uint64_t end;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	r->reg = -1;
	if (pipe2(res, O_CLOEXEC) || pipe2(cmd, O_CLOEXEC))
		ktap_bail("pipe: %s", strerror(errno));
	fflush(stdout);
	r->pid = fork();
	if (r->pid < 0)
		ktap_bail("fork: %s", strerror(errno));
	if (r->pid == 0) {
		close(res[0]);
		close(cmd[1]);
		agent_main(a, res[1], cmd[0]);
	}
	close(res[1]);
	close(cmd[0]);
	r->res_fd = res[0];
	r->cmd_fd = cmd[1];
	end = now_ns(CLOCK_MONOTONIC) + REGISTER_MS * 1000000ull;
	while (r->reg == -1 && now_ns(CLOCK_MONOTONIC) < end)
		if (!run_read(r, REGISTER_MS))
			break;
	if (r->reg == 0) {
		registered[nr_registered++] = a->id;
		return true;
	}
	return ktap_fail_msg("agent %u did not register: %s", a->id,
			     r->reg > 0 ? errname(r->reg) : "no report");
}

/* Waits up to @ms for the agent to end; kills it after.  Returns its status. */
static int agent_wait(struct run *r, int ms)
{
	uint64_t end = now_ns(CLOCK_MONOTONIC) + (uint64_t)ms * 1000000ull;

	while (r->status == -1) {
		if (waitpid(r->pid, &r->status, WNOHANG) == r->pid)
			break;
		r->status = -1;
		if (now_ns(CLOCK_MONOTONIC) > end) {
			ktap_fail_msg("agent %d still runs after %d ms", (int)r->pid, ms);
			kill(r->pid, SIGKILL);
			waitpid(r->pid, &r->status, 0);
			r->status = -2;	/* not the module's doing */
			break;
		}
		usleep(5000);
	}
	/* Whatever it reported before it ended. */
	while (run_read(r, 0))
		;
	return r->status;
}

/* Lets a living agent exit and reaps it. */
static int agent_release(struct run *r)
{
	close(r->cmd_fd);
	r->cmd_fd = -1;
	return agent_wait(r, DEATH_MS);
}

static void agent_close(struct run *r)
{
	if (r->cmd_fd >= 0)
		close(r->cmd_fd);
	if (r->res_fd >= 0)
		close(r->res_fd);
	r->cmd_fd = r->res_fd = -1;
}

/* An agent whose registration failed: let it end. */
static void agent_abandon(struct run *r)
{
	agent_close(r);
	agent_wait(r, DEATH_MS);
}

static bool killed_by_sigkill(int status)
{
	return status >= 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

/* --- what the module recorded ------------------------------------------- */

/*
 * The violations about agent @id: their number, the newest in *last, and
 * in *other (if not NULL) how many are not of type @op.
 */
static int violations(__u32 id, __u32 op, const struct asm_audit_entry **last, int *other)
{
	int n = read_trail(NULL), i, count = 0;

	*last = NULL;
	if (other)
		*other = 0;
	if (n < 0)
		ktap_fail_msg("the audit trail cannot be read");
	for (i = 0; i < n; i++) {
		if (trail[i].kind != ASM_AUDIT_VIOLATION || trail[i].agent_id != id)
			continue;
		count++;
		*last = &trail[i];
		if (other && trail[i].op != op)
			(*other)++;
	}
	return count;
}

/* GET_INFO once the agent's exit is counted (the probe may lag the reaper). */
static void info_after_exit(__u32 id, struct asm_agent_info *info)
{
	uint64_t end = now_ns(CLOCK_MONOTONIC) + 5000000000ull;

	for (;;) {
		if (asm_get_info(asm_fd, id, info)) {
			ktap_fail_msg("GET_INFO %u: %s", id, errname(errno));
			memset(info, 0, sizeof(*info));
			return;
		}
		if (info->exits >= 1 || now_ns(CLOCK_MONOTONIC) > end)
			return;
		usleep(10000);
	}
}

static void unregister(__u32 id)
{
	ktap_expect_ok(asm_unregister(asm_fd, id), "root unregisters the agent");
}

/*
 * The verdict on an attack the module must stop.  @op is the violation
 * (ASM_VIOLATION_CONNECT or _LISTEN); @via and @family are what its audit
 * detail must name: where it was caught ("TCP SYN" at netfilter, "connect
 * fd" at the system call, "TCP_LISTEN" at the tracepoint; NULL: anywhere)
 * and "(AF_INET)" or "(AF_INET6)".  @listener is -1 when there is none to
 * watch.
 */
static void expect_stopped(const struct attack *a, struct run *r, int listener,
			   long long passive0, __u32 op, const char *via, const char *family)
{
	const struct asm_audit_entry *e;
	struct asm_agent_info info;
	int status, n, other;

	status = agent_wait(r, DEATH_MS);
	ktap_expect(killed_by_sigkill(status), "agent status 0x%x, want SIGKILL", status);
	if (a->hide && op == ASM_VIOLATION_LISTEN)
		ktap_msg("after the agent's death: %d listening socket(s) on its port %d",
			 tcp_sockets(true, r->port, TCP_LISTEN_STATE), r->port);
	else if (a->hide)
		ktap_msg("after the agent's death: %d socket(s) in SYN_SENT to port %d",
			 tcp_sockets(false, addr_port(&a->dst), TCP_SYN_SENT_STATE),
			 addr_port(&a->dst));
	/* Killed in the call, it never reports; if it does, not a success. */
	ktap_expect(!(r->done && r->done_val == 0), "the attack worked in the agent");
	if (r->done)
		ktap_msg("the agent saw its attack fail with %s before it died",
			 errname(r->done_val));
	ktap_expect(!(r->sent && r->send_val > 0), "the linked send sent %d bytes", r->send_val);
	if (listener >= 0) {
		n = listener_quiet(listener, QUIET_MS);
		ktap_expect_u64(n, 0, "connections accepted");
	}
	expect_tcp_mib("PassiveOpens", passive0, 0, "TCP passive opens");
	info_after_exit(a->id, &info);
	ktap_expect(info.faults >= 1, "faults %llu, want >= 1", (unsigned long long)info.faults);
	ktap_expect_u64(info.last_exit_code, SIGKILL, "last exit status");
	ktap_expect_u64(info.state, ASM_STATE_FAILED, "state");
	n = violations(a->id, op, &e, &other);
	ktap_expect(n >= 1, "no violation of agent %u in the audit trail", a->id);
	ktap_expect_u64(other, 0, "violations of another type");
	if (e) {
		ktap_expect(e->pid == r->pid, "audited pid %d, agent %d", e->pid, (int)r->pid);
		ktap_expect((!via || strstr(e->detail, via)) && strstr(e->detail, family),
			    "audit detail '%s', want '%s' and '%s'", e->detail, via ? via : "",
			    family);
		ktap_msg("%d violation(s), the last: %s", n, e->detail);
	}
	agent_close(r);
	unregister(a->id);
}

/* --- the cases ----------------------------------------------------------- */

/*
 * A connection attempt of an agent without NetClient that the system call
 * check does not see (io_uring): its SYN is refused at LOCAL_OUT and the
 * agent is killed.  With @fastopen the listener is a
 * Fast Open server whose cookie the client has cached.
 */
static void syn_case(struct attack *a, int family, bool fastopen, const char *what)
{
	long long passive0;
	struct run r;
	int l;

	ktap_case_start();
	l = listener_open(family, fastopen, &a->dst);
	if (fastopen)
		tfo_warm(l, &a->dst);
	passive0 = tcp_mib("PassiveOpens");
	if (agent_start(a, &r))
		expect_stopped(a, &r, l, passive0, ASM_VIOLATION_CONNECT,
			       a->any_stage ? NULL : "TCP SYN",
			       family == AF_INET6 ? "(AF_INET6)" : "(AF_INET)");
	else
		agent_abandon(&r);
	close(l);
	ktap_case_end("%s", what);
}

static struct attack base(int n, const char *name, int (*fn)(const struct attack *, int))
{
	struct attack a = {
		.id = ID_BASE + n, .caps = ASM_CAP_FS_BASIC, .name = name, .fn = fn, .backlog = 8,
	};

	return a;
}

/* 1 */
static void test_uring_connect(void)
{
	struct attack a = base(1, "uring-connect", atk_uring_connect);

	syn_case(&a, AF_INET, false,
			   "io_uring CONNECT (IPv4) without NetClient: dropped, agent killed, audited");
}

/* 2 */
static void test_uring_connect_send(void)
{
	struct attack a = base(2, "uring-link-send", atk_uring_connect);

	a.link_send = true;
	syn_case(&a, AF_INET, false,
			   "io_uring CONNECT linked with SEND: no connection, no data");
}

/* 3 */
static void test_sendmmsg_fastopen(void)
{
	struct attack a = base(3, "sendmmsg-tfo", atk_sendmmsg_fastopen);
	long long passive0, active0;
	struct run r;
	int l;

	ktap_case_start();
	l = listener_open(AF_INET, true, &a.dst);
	tfo_warm(l, &a.dst);
	passive0 = tcp_mib("PassiveOpens");
	active0 = tcp_mib("ActiveOpens");
	if (agent_start(&a, &r)) {
		expect_stopped(&a, &r, l, passive0, ASM_VIOLATION_CONNECT, "connect fd",
			       "(AF_INET)");
		/* Skipped at sys_enter: not even a SYN was made. */
		expect_tcp_mib("ActiveOpens", active0, 0, "TCP active opens");
	} else {
		agent_abandon(&r);
	}
	close(l);
	ktap_case_end("sendmmsg() with MSG_FASTOPEN (cookie cached): skipped, agent killed");
}

/* 4 */
static void test_uring_connect6(void)
{
	struct attack a = base(4, "uring-connect6", atk_uring_connect);

	syn_case(&a, AF_INET6, false,
			   "io_uring CONNECT (IPv6, ::1) without NetClient: dropped, agent killed");
}

/*
 * A listen by an agent without NetServer on a socket it bound: it is
 * killed (the listen itself is not refused), and once it is gone its port
 * refuses connections: nobody got to accept one.
 */
/*
 * What connects to @there get within 3 s: 0 if one completes, else the
 * first one's errno (ETIMEDOUT: no answer).  Three at once, non-blocking:
 * past the first, a listener's SYN queue is full and it answers with SYN
 * cookies.
 */
static int port_answer(const struct addr *there)
{
	uint64_t end = now_ns(CLOCK_MONOTONIC) + 3000000000ull;
	int c[3], err[3], i, left = 3, result;
	struct pollfd p[3];

	for (i = 0; i < 3; i++) {
		c[i] = socket(there->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		err[i] = connect(c[i], (struct sockaddr *)&there->ss, there->len) ? errno : 0;
		if (err[i] == EINPROGRESS)
			err[i] = ETIMEDOUT;
		else
			left--;
		p[i].fd = err[i] == ETIMEDOUT ? c[i] : -1;
		p[i].events = POLLOUT;
	}
	while (left && now_ns(CLOCK_MONOTONIC) < end) {
		if (poll(p, 3, 100) <= 0)
			continue;
		for (i = 0; i < 3; i++) {
			socklen_t len = sizeof(err[i]);

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			getsockopt(c[i], SOL_SOCKET, SO_ERROR, &err[i], &len);
			p[i].fd = -1;
			left--;
		}
	}
	result = err[0];
	for (i = 0; i < 3; i++) {
		if (!err[i])
			result = 0;
		close(c[i]);
	}
	return result;
}

static void listen_case(struct attack *a, int family, const char *what)
{
	int err;
	long long passive0;
	struct addr there;
	struct run r;

	ktap_case_start();
	addr_loopback(&a->dst, family, 0);
	passive0 = tcp_mib("PassiveOpens");
	if (agent_start(a, &r)) {
		/* Reads R_PORT too (the agent reports it before the listen). */
		expect_stopped(a, &r, -1, passive0, ASM_VIOLATION_LISTEN,
			       a->any_stage ? NULL : "TCP_LISTEN",
			       family == AF_INET6 ? "(AF_INET6)" : "(AF_INET)");
		ktap_expect(r.port > 0, "the agent reported no port");
		if (r.port > 0) {
			addr_loopback(&there, family, r.port);
			err = port_answer(&there);
			/*
			 * A socket hidden in a cycle outlives the agent until the
			 * unix collector runs: it may still listen, but no
			 * connection may complete on it (no answer is fine).
			 */
			if (a->hide && err == ETIMEDOUT)
				ktap_msg("no answer from the agent's port: its socket outlived it");
			ktap_expect(err == ECONNREFUSED || (a->hide && err == ETIMEDOUT),
				    "connect to the agent's port: %s, want %s", errname(err),
				    errname(ECONNREFUSED));
			expect_tcp_mib("PassiveOpens", passive0, 0, "TCP passive opens after the connect");
		}
	} else {
		agent_abandon(&r);
	}
	ktap_case_end("%s", what);
}

/* 5 */
static void test_uring_listen(void)
{
	struct attack a = base(5, "uring-listen", atk_uring_listen);

	listen_case(&a, AF_INET, "io_uring LISTEN without NetServer: agent killed, the port refuses");
}

/* 6 */
static void test_uring_connect_allowed(void)
{
	struct attack a = base(6, "uring-netclient", atk_uring_connect);
	struct pollfd p = { .events = POLLIN };
	const struct asm_audit_entry *e;
	struct asm_agent_info info;
	long long passive0;
	char buf[64] = "";
	struct run r;
	int l, s = -1, status, nv;
	ssize_t n = -1;

	ktap_case_start();
	a.caps |= ASM_CAP_NET_CLIENT;
	a.link_send = true;
	l = listener_open(AF_INET, false, &a.dst);
	passive0 = tcp_mib("PassiveOpens");
	if (agent_start(&a, &r)) {
		p.fd = l;
		if (poll(&p, 1, SERVE_MS) == 1)
			s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		ktap_expect(s >= 0, "the listener got no connection from the agent");
		if (s >= 0) {
			p.fd = s;
			if (poll(&p, 1, SERVE_MS) == 1)
				n = recv(s, buf, sizeof(buf) - 1, MSG_DONTWAIT);
			buf[n > 0 ? n : 0] = '\0';
			ktap_expect(!strcmp(buf, payload), "received '%s' (%zd)", buf, n);
			close(s);
		}
		while (!r.done && run_read(&r, SERVE_MS))
			;
		ktap_expect(r.done && r.done_val == 0, "the agent's connect: %s",
			    r.done ? errname(r.done_val) : "no report");
		ktap_expect(r.sent && r.send_val == sizeof(payload) - 1, "the agent's send: %d",
			    r.send_val);
		status = agent_release(&r);
		ktap_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			    "agent status 0x%x, want exit 0", status);
		expect_tcp_mib("PassiveOpens", passive0, 1, "TCP passive opens");
		info_after_exit(a.id, &info);
		ktap_expect_u64(info.faults, 0, "faults");
		nv = violations(a.id, 0, &e, NULL);
		ktap_expect_u64(nv, 0, "violations");
		agent_close(&r);
		unregister(a.id);
	} else {
		agent_abandon(&r);
	}
	close(l);
	ktap_case_end("io_uring CONNECT with NetClient: accepted, data arrives, no fault");
}

/* 7 */
static void test_plain_connect(void)
{
	struct attack a = base(7, "connect", atk_connect);
	long long passive0, active0;
	struct run r;
	int l;

	ktap_case_start();
	l = listener_open(AF_INET, false, &a.dst);
	passive0 = tcp_mib("PassiveOpens");
	active0 = tcp_mib("ActiveOpens");
	if (agent_start(&a, &r)) {
		expect_stopped(&a, &r, l, passive0, ASM_VIOLATION_CONNECT, "connect fd",
			       "(AF_INET)");
		/* connect() gets EPERM before the kernel makes a SYN. */
		ktap_expect(!r.done || r.done_val == EPERM, "connect() returned %s",
			    errname(r.done_val));
		expect_tcp_mib("ActiveOpens", active0, 0, "TCP active opens");
	} else {
		agent_abandon(&r);
	}
	close(l);
	ktap_case_end("plain connect() refused at the system call, before any SYN");
}

/* 8 */
static void test_uring_connect_async(void)
{
	struct attack a = base(8, "uring-async", atk_uring_connect);

	a.sqe_flags = IOSQE_ASYNC;
	syn_case(&a, AF_INET, false,
			   "io_uring CONNECT forced to an io-wq worker (IOSQE_ASYNC): dropped");
}

/* 9 */
static void test_uring_connect_sqpoll(void)
{
	struct attack a = base(9, "uring-sqpoll", atk_uring_connect);

	a.ring_flags = IORING_SETUP_SQPOLL;
	syn_case(&a, AF_INET, false,
			   "io_uring CONNECT from the SQPOLL thread: dropped, agent killed");
}

/* 10 */
static void test_uring_sendmsg_fastopen6(void)
{
	struct attack a = base(10, "uring-tfo6", atk_uring_sendmsg_fastopen);

	syn_case(&a, AF_INET6, true,
			   "io_uring SENDMSG MSG_FASTOPEN (IPv6, cookie cached): SYN+data dropped");
}

/* 11 */
static void test_compat_connect(void)
{
	struct attack a = base(11, "compat-connect", atk_compat_connect);

	if (!ia32_works()) {
		ktap_case_skip("no IA32 emulation", "compat connect() (int $0x80)");
		return;
	}
	/* Refused at sys_enter (i386 table) or its SYN at LOCAL_OUT: either will do. */
	a.any_stage = true;
	syn_case(&a, AF_INET, false, "compat connect() (int $0x80): refused, agent killed");
}

/* 12 */
static void test_compat_listen(void)
{
	struct attack a = base(12, "compat-listen", atk_compat_listen);

	if (!ia32_works()) {
		ktap_case_skip("no IA32 emulation", "compat listen() (int $0x80)");
		return;
	}
	/* Refused at sys_enter (i386 table) or judged at TCP_LISTEN. */
	a.any_stage = true;
	listen_case(&a, AF_INET, "compat listen() (int $0x80): agent killed, the port refuses");
}

/*
 * Releases a unix socket while something is in flight: the kernel then
 * runs its unix garbage collector, which frees what a dead agent left in
 * a cycle (so that no later case meets it).
 */
static void unix_gc_kick(void)
{
	int u[2];

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, u))
		return;
	close(u[0]);
	close(u[1]);
	usleep(200000);
}

/*
 * 13: the connecting socket outlives the agent, in flight in an
 * unreferenced AF_UNIX cycle.  The agent dies at its first SYN; were the
 * socket left in SYN_SENT, the retransmission timer (1 s) would send the
 * SYN again from softirq context, where no agent is current, and the
 * connection would carry the data the Fast Open sendmsg queued.
 */
static void test_unix_cycle_connect(void)
{
	struct attack a = base(13, "cycle-connect", atk_uring_sendmsg_fastopen);

	a.hide = true;
	syn_case(&a, AF_INET, false,
		 "socket kept alive in an AF_UNIX cycle: no retransmitted SYN connects it");
	unix_gc_kick();
}

/*
 * 14: the same for a listening socket: the kernel would complete
 * handshakes on it after the agent's death.  No connection may complete:
 * the port refuses, or does not answer.
 */
static void test_unix_cycle_listen(void)
{
	struct attack a = base(14, "cycle-listen", atk_uring_listen);

	a.hide = true;
	listen_case(&a, AF_INET,
		    "listening socket kept alive in an AF_UNIX cycle: no connection completes");
	unix_gc_kick();
}

/* 15: the same over IPv6, whose SYN-ACKs leave through ip6_xmit(). */
static void test_unix_cycle_listen6(void)
{
	struct attack a = base(15, "cycle-listen6", atk_uring_listen);

	a.hide = true;
	listen_case(&a, AF_INET6,
		    "IPv6 listening socket kept alive in an AF_UNIX cycle: no connection completes");
	unix_gc_kick();
}

/*
 * 16: the same with backlog 0: past the first SYN the SYN queue is full,
 * so the listener answers with SYN cookies, whose SYN-ACKs belong to no
 * socket.
 */
static void test_unix_cycle_listen_cookies(void)
{
	struct attack a = base(16, "cycle-listen0", atk_uring_listen);

	a.hide = true;
	a.backlog = 0;
	listen_case(&a, AF_INET,
		    "backlog-0 listener in an AF_UNIX cycle (SYN cookies): no connection completes");
	unix_gc_kick();
}

/*
 * 17: the listen kills the process that made it and the agent's other
 * processes, before the socket listens: a sibling that spins on accept()
 * must neither see the socket listen nor get to serve a client.  (Killed
 * later, by the sampler, it served one in a loaded VM.)  The test
 * connects in a loop from before the listen; a connection the kernel
 * completes meanwhile is not the failure (the listen is not refused), a
 * byte served by the agent is.
 */
static void test_listen_sibling(void)
{
	struct attack a = base(17, "listen-sibling", atk_uring_listen_sibling);
	int c, conns = 0, status = -1;
	struct addr there;
	uint64_t end;
	char buf[16];
	struct run r;
	ssize_t n;

	ktap_case_start();
	addr_loopback(&a.dst, AF_INET, 0);
	if (!agent_start(&a, &r)) {
		agent_abandon(&r);
		ktap_case_end("listen: a sibling process of the agent never sees the socket listen, serves nobody");
		return;
	}
	while (!r.port && run_read(&r, REGISTER_MS))
		;
	ktap_expect(r.port > 0, "the agent reported no port");
	addr_loopback(&there, AF_INET, r.port);
	end = now_ns(CLOCK_MONOTONIC) + 3000000000ull;
	while (r.port > 0 && now_ns(CLOCK_MONOTONIC) < end) {
		struct pollfd p = { .events = POLLOUT };
		int err = -1;
		socklen_t len = sizeof(err);

		/* Non-blocking: a full backlog must not stall the loop. */
		c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		p.fd = c;
		if (!connect(c, (struct sockaddr *)&there.ss, there.len) ||
		    (errno == EINPROGRESS && poll(&p, 1, 500) == 1 &&
		     !getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &len) && !err)) {
			conns++;
			p.events = POLLIN;
			n = poll(&p, 1, 500) == 1 ? recv(c, buf, sizeof(buf), MSG_DONTWAIT) : 0;
			ktap_expect(n <= 0, "the agent served a client (%zd bytes)", n);
		}
		close(c);
	}
	if (conns)
		ktap_msg("%d connection(s) completed by the kernel while the agent died", conns);
	expect_stopped(&a, &r, -1, tcp_mib("PassiveOpens"), ASM_VIOLATION_LISTEN, "TCP_LISTEN",
		       "(AF_INET)");
	ktap_expect_u64(r.served, 0, "connections the agent served");
	ktap_expect(!r.nort, "the sibling could not go real-time: %s", strerror(r.nort));
	ktap_expect_u64(r.listening, 0, "reports of the sibling that saw its socket listen");
	ktap_expect(r.sibling > 0, "the sibling reported no pid");
	if (r.sibling > 0) {
		end = now_ns(CLOCK_MONOTONIC) + DEATH_MS * 1000000ull;
		while (waitpid(r.sibling, &status, WNOHANG) != r.sibling &&
		       now_ns(CLOCK_MONOTONIC) < end)
			usleep(10000);
		ktap_expect(killed_by_sigkill(status), "sibling status 0x%x, want SIGKILL", status);
		if (status == -1) {
			kill(r.sibling, SIGKILL);
			waitpid(r.sibling, NULL, 0);
		}
	}
	ktap_case_end("listen: a sibling process of the agent never sees the socket listen, serves nobody; both are killed");
}

/* Brings up lo in the current network namespace. */
static int lo_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (s < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	ret = ioctl(s, SIOCGIFFLAGS, &ifr);
	if (!ret) {
		ifr.ifr_flags |= IFF_UP;
		ret = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
	return ret;
}

/*
 * 18: a network namespace made after the module loaded has the hook too.
 * The test (not the agent) moves into a new namespace with only lo; the
 * agent it forks there attacks a listener of that namespace.
 */
static void test_netns(void)
{
	struct attack a = base(18, "netns", atk_uring_connect);
	int saved = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);

	if (saved < 0 || unshare(CLONE_NEWNET)) {
		ktap_case_skip("no new network namespace",
			       "io_uring CONNECT in a new network namespace: dropped");
		if (saved >= 0)
			close(saved);
		return;
	}
	if (lo_up())
		ktap_bail("lo up in the new namespace: %s", strerror(errno));
	syn_case(&a, AF_INET, false,
			   "io_uring CONNECT in a new network namespace: dropped, agent killed");
	if (setns(saved, CLONE_NEWNET))
		ktap_bail("back to the first network namespace: %s", strerror(errno));
	close(saved);
}

/* 19: the boundary: UDP is not checked. */
static void test_udp(void)
{
	struct attack a = base(19, "udp", atk_udp_sendto);
	struct pollfd p = { .events = POLLIN };
	const struct asm_audit_entry *e;
	struct asm_agent_info info;
	char buf[64] = "";
	struct run r;
	int u, status, nv;
	ssize_t n = -1;

	ktap_case_start();
	u = loopback_socket(AF_INET, SOCK_DGRAM, false, &a.dst);
	if (agent_start(&a, &r)) {
		p.fd = u;
		if (poll(&p, 1, SERVE_MS) == 1)
			n = recv(u, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		buf[n > 0 ? n : 0] = '\0';
		ktap_expect(!strcmp(buf, payload), "received '%s' (%zd)", buf, n);
		while (!r.done && run_read(&r, SERVE_MS))
			;
		ktap_expect(r.done && r.done_val == 0, "the agent's sendto: %s",
			    r.done ? errname(r.done_val) : "no report");
		status = agent_release(&r);
		ktap_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			    "agent status 0x%x, want exit 0", status);
		info_after_exit(a.id, &info);
		ktap_expect_u64(info.faults, 0, "faults");
		nv = violations(a.id, 0, &e, NULL);
		ktap_expect_u64(nv, 0, "violations");
		agent_close(&r);
		unregister(a.id);
	} else {
		agent_abandon(&r);
	}
	close(u);
	ktap_case_end("boundary: a UDP sendto() of an agent without NetClient is delivered");
}

/* 20 */
static void test_nothing_left(void)
{
	struct asm_agent_info info;
	__u32 ids[64], count = 0;
	int i;

	ktap_case_start();
	for (i = 0; i < nr_registered; i++)
		ktap_expect_err(asm_get_info(asm_fd, registered[i], &info), ESRCH,
				"GET_INFO of an unregistered agent");
	ktap_expect_ok(asm_list(asm_fd, ids, 64, &count), "LIST");
	ktap_expect_u64(count, 0, "agents registered");
	ktap_case_end("every agent of the test is unregistered, none is left");
}

int main(void)
{
	ktap_header(NR_CASES);
	signal(SIGPIPE, SIG_IGN);
	/* An agent's own children come back to the test when it dies. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (geteuid())
		ktap_bail("must run as root");
	asm_fd = asm_open();
	if (asm_fd < 0)
		ktap_bail("open %s: %s", ASM_DEVICE_PATH, strerror(errno));
	/* Fast Open as client and server, for the test's namespace only. */
	if (sysctl_read(TFO_SYSCTL, tfo_saved, sizeof(tfo_saved)) || sysctl_write(TFO_SYSCTL, "3"))
		ktap_bail("%s: %s", TFO_SYSCTL, strerror(errno));
	atexit(tfo_restore);
	test_uring_connect();
	test_uring_connect_send();
	test_sendmmsg_fastopen();
	test_uring_connect6();
	test_uring_listen();
	test_uring_connect_allowed();
	test_plain_connect();
	test_uring_connect_async();
	test_uring_connect_sqpoll();
	test_uring_sendmsg_fastopen6();
	test_compat_connect();
	test_compat_listen();
	test_unix_cycle_connect();
	test_unix_cycle_listen();
	test_unix_cycle_listen6();
	test_unix_cycle_listen_cookies();
	test_listen_sibling();
	test_netns();
	test_udp();
	test_nothing_left();
	ktap_finish();
}
