/* SPDX-License-Identifier: GPL-2.0 */
/*
 * asm_fuzz_nl.h - asm_fuzz's netlink workers: the "asm" generic netlink
 * family, from root (which may become the gateway helper) and from uid
 * 65534 (which may not).
 *
 * The root worker resolves the family, joins the "events" and "gateway"
 * groups and reads them (every message must be the family's, of the
 * group's command, its attributes well formed, the events' ASM_A_SEQ
 * increasing), registers as the helper and forks requesters: agents with
 * LlmAccess that ask with short timeouts, so that GW_PULL has real
 * requests to hand out.  Each op sends one command: GW_REGISTER, GW_PULL,
 * GW_COMPLETE of a request just pulled, already answered or never given,
 * or an unknown command, built valid and then, half the time, mutated: an
 * attribute missing, of the wrong length, of an unknown type, with
 * NLA_F_NESTED, duplicated, ASM_A_STATUS and ASM_A_PROVIDER out of range,
 * ASM_A_TEXT over ASM_LLM_TEXT_MAX or not UTF-8, ASM_A_TRIED of an odd
 * length or over 64 entries, and (unchecked) the headers truncated, lying
 * about their length, of another version, flags or family, or two
 * messages in one send.  Now and then it closes the helper socket with
 * requests pulled and not answered, and registers a new one.
 *
 * What the kernel answers is checked where the documentation (and
 * genetlink's strict parsing) says what it must be; what a requester gets
 * is checked against the completion the worker sent for its request: an
 * answer, EIO or ETIMEDOUT, and EIO (or ETIMEDOUT, had its time run out)
 * for one the closed socket held.  The uid 65534 worker must get EPERM for
 * the three gateway commands and for joining either group.
 */
#ifndef ASM_FUZZ_NL_H
#define ASM_FUZZ_NL_H

#include <poll.h>

#include "asm_gw.h"

#define REQ_BASE	9600	/* the requesters' agent ids */
#define REQ_SPAN	128
#define REQ_LIVE	4	/* requesters at a time */
#define OUTCOMES	8192	/* requests tracked, by id modulo */
#define GOT_OK		1000	/* a requester's answer (else its errno) */

/* What the completion sent for a request says its requester must get. */
enum { EXP_NONE, EXP_OK, EXP_EIO, EXP_ETIMEDOUT, EXP_ORPHAN };

/* A slot is shared by the ids equal modulo OUTCOMES: a request's end is
 * checked only when both sides wrote the same id last. */
struct outcome {
	__u64 exp_id;	/* written by the worker ... */
	int expect;
	__u64 got_id;	/* ... and by the requester */
	int got;
};

static struct outcome *outcomes;	/* shared with the requesters */

/* Receives every answer the kernel queued for the command just sent. */
struct nl_answer {
	int err;	/* the NLMSG_ERROR of our seq, when got_err */
	int got_err;
	int data;	/* a GW_PULL reply came */
	__u64 req_id;	/* ... with this request */
};

static char nl_rbuf[65536] __attribute__((aligned(8)));

/*
 * Netlink to the kernel is synchronous: genetlink handles a message during
 * the sender's send(), so its answers are queued when send() returns.
 */
static void nl_drain(int fd, __u32 seq, struct nl_answer *a)
{
	struct nlmsghdr *h;
	ssize_t n;
	int rem;

	for (;;) {
		n = recv(fd, nl_rbuf, sizeof(nl_rbuf), MSG_DONTWAIT);
		if (n < 0 && errno == ENOBUFS)
			continue;
		if (n <= 0)
			return;
		for (h = (struct nlmsghdr *)nl_rbuf, rem = n; NLMSG_OK(h, rem);
		     h = NLMSG_NEXT(h, rem)) {
			if (h->nlmsg_type == NLMSG_ERROR && h->nlmsg_seq == seq && !a->got_err) {
				a->err = -((struct nlmsgerr *)NLMSG_DATA(h))->error;
				a->got_err = 1;
			} else if (h->nlmsg_type == family && h->nlmsg_seq == seq) {
				struct genlmsghdr *g = NLMSG_DATA(h);
				struct nlattr *at;
				int arem;

				if (g->cmd != ASM_CMD_GW_PULL)
					continue;
				a->data = 1;
				nla_for_each(at, (struct nlattr *)((char *)g + GENL_HDRLEN),
					     (int)(h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN)), arem)
					if (at->nla_type == ASM_A_REQ_ID && at->nla_len == NLA_HDRLEN + 8)
						memcpy(&a->req_id, nla_data(at), 8);
			}
		}
	}
}

/* The attributes of a message, kept apart so that mutations can reorder,
 * drop, duplicate and resize them before it is laid out. */
#define NL_ATTRS	12
struct nl_attr {
	__u16 type;
	int len;
	const void *data;
};

struct nl_build {
	__u8 cmd;
	int n;
	struct nl_attr a[NL_ATTRS];
	__u32 u32s[NL_ATTRS];
	__u64 u64s[NL_ATTRS];
};

static char nl_text[ASM_LLM_TEXT_MAX + 4096];
static __u32 nl_tried[100];

static void nb_put(struct nl_build *b, __u16 type, const void *data, int len)
{
	if (b->n < NL_ATTRS)
		b->a[b->n++] = (struct nl_attr){ type, len, data };
}

static void nb_u32(struct nl_build *b, __u16 type, __u32 v)
{
	b->u32s[b->n] = v;
	nb_put(b, type, &b->u32s[b->n], 4);
}

static void nb_u64(struct nl_build *b, __u16 type, __u64 v)
{
	b->u64s[b->n] = v;
	nb_put(b, type, &b->u64s[b->n], 8);
}

static struct nl_attr *nb_find(struct nl_build *b, __u16 type)
{
	int i;

	for (i = 0; i < b->n; i++)
		if ((b->a[i].type & NLA_TYPE_MASK) == type)
			return &b->a[i];
	return NULL;
}

static void nb_drop(struct nl_build *b, __u16 type)
{
	struct nl_attr *a = nb_find(b, type);

	if (a)
		*a = b->a[--b->n];
}

/* A valid GW_COMPLETE of request @id: an answer, or a failure. */
static void nb_complete(struct nl_build *b, __u64 id, __u32 status)
{
	int len = 1 + below(below(8) ? 200 : ASM_LLM_TEXT_MAX), i, ntried = below(5);

	b->cmd = ASM_CMD_GW_COMPLETE;
	b->n = 0;
	nb_u64(b, ASM_A_REQ_ID, id);
	nb_u32(b, ASM_A_STATUS, status);
	for (i = 0; i < ntried; i++)
		nl_tried[i] = 1 + below(4);
	if (!status) {
		for (i = 0; i < len; i++)
			nl_text[i] = 'a' + i % 26;
		nb_u32(b, ASM_A_PROVIDER, 1 + below(4));
		nb_put(b, ASM_A_TEXT, nl_text, len);
		nb_u32(b, ASM_A_TOKENS_USED, below(100000));
		if (below(3) == 0)
			nb_put(b, ASM_A_FALLBACK, NULL, 0);
	}
	if (ntried)
		nb_put(b, ASM_A_TRIED, nl_tried, ntried * 4);
}

/* Lays @b out in @m with sequence number @seq. */
static void nb_layout(struct nl_build *b, struct nl_msg *m, __u32 seq)
{
	int i;

	msg_init(m, b->cmd, NLM_F_ACK);
	m->n.nlmsg_seq = seq;
	for (i = 0; i < b->n; i++)
		msg_put(m, b->a[i].type, b->a[i].data, b->a[i].len);
}

/*
 * Mutations whose answer is known: the command must fail with (or, for
 * the answers a COMPLETE carries, its request must end with) what the
 * comment says.
 */
enum {
	MUT_NONE,
	MUT_NO_REQ_ID,		/* COMPLETE: EINVAL */
	MUT_NO_STATUS,		/* COMPLETE: EINVAL */
	MUT_BAD_LEN,		/* an integer of the wrong size: EINVAL */
	MUT_UNKNOWN,		/* a type past ASM_A_MAX or not taken: EINVAL */
	MUT_NESTED,		/* NLA_F_NESTED on an integer: EINVAL */
	MUT_TEXT_BIG,		/* over ASM_LLM_TEXT_MAX: refused */
	MUT_TRIED_BIG,		/* over 64 entries: refused */
	MUT_TRIED_ODD,		/* COMPLETE: EINVAL, the request EIO */
	MUT_PROVIDER,		/* answer by provider 0 or > 4: ditto */
	MUT_UTF8,		/* answer not UTF-8: ditto */
	MUT_STATUS,		/* another failure: the request EIO */
	MUT_DUP,		/* an attribute twice, same value: as valid */
	MUT_RANDOM,		/* header and layout mutations: unchecked */
	MUT_KINDS,
};

static const __u16 unknown_types[] = {
	ASM_A_UNSPEC, ASM_A_PAD, ASM_A_SEQ, ASM_A_EVENT_TYPE, ASM_A_AGENT_ID, ASM_A_UID,
	ASM_A_PROMPT, ASM_A_SYSTEM, ASM_A_TIMEOUT_MS, ASM_A_MAX + 1, ASM_A_MAX + 2, 100,
	0x3fff,
};

/* Applies mutation @kind to @b; returns 0 when it does not apply. */
static int nb_mutate(struct nl_build *b, int kind)
{
	static __u8 junk[64];
	struct nl_attr *a;
	int i;

	switch (kind) {
	case MUT_NO_REQ_ID:
	case MUT_NO_STATUS:
		if (b->cmd != ASM_CMD_GW_COMPLETE)
			return 0;
		nb_drop(b, kind == MUT_NO_REQ_ID ? ASM_A_REQ_ID : ASM_A_STATUS);
		return 1;
	case MUT_BAD_LEN:
		a = nb_find(b, below(2) ? ASM_A_REQ_ID : ASM_A_STATUS);
		if (!a) {
			nb_put(b, ASM_A_STATUS, junk, 0);
			a = &b->a[b->n - 1];
		}
		/* 0 to 12 bytes, never the right size. */
		do
			a->len = below(13);
		while (a->len == (a->type == ASM_A_REQ_ID ? 8 : 4));
		for (i = 0; i < (int)sizeof(junk); i++)
			junk[i] = next();
		a->data = junk;
		return 1;
	case MUT_UNKNOWN:
		for (i = 0; i < (int)sizeof(junk); i++)
			junk[i] = next();
		nb_put(b, unknown_types[below(sizeof(unknown_types) / sizeof(unknown_types[0]))],
		       junk, below(2) ? 4 : below(64));
		return 1;
	case MUT_NESTED:
		a = nb_find(b, ASM_A_STATUS);
		if (!a) {
			nb_u32(b, ASM_A_TOKENS_USED, 1);
			a = &b->a[b->n - 1];
		}
		a->type |= NLA_F_NESTED;
		return 1;
	case MUT_TEXT_BIG:
		for (i = 0; i < ASM_LLM_TEXT_MAX + 4096; i++)
			nl_text[i] = 'a' + i % 26;
		nb_drop(b, ASM_A_TEXT);
		nb_put(b, ASM_A_TEXT, nl_text, ASM_LLM_TEXT_MAX + 1 + below(4000));
		return 1;
	case MUT_TRIED_BIG:
		nb_drop(b, ASM_A_TRIED);
		for (i = 0; i < 100; i++)
			nl_tried[i] = 1 + below(4);
		nb_put(b, ASM_A_TRIED, nl_tried, (65 + below(36)) * 4);
		return 1;
	case MUT_TRIED_ODD:
		if (b->cmd != ASM_CMD_GW_COMPLETE)
			return 0;
		nb_drop(b, ASM_A_TRIED);
		nb_put(b, ASM_A_TRIED, nl_tried, 4 * below(4) + 1 + below(3));
		return 1;
	case MUT_PROVIDER:
	case MUT_UTF8:
		a = nb_find(b, kind == MUT_PROVIDER ? ASM_A_PROVIDER : ASM_A_TEXT);
		if (!a)
			return 0;
		if (kind == MUT_PROVIDER) {
			static const __u32 bad[] = { 0, 5, 6, 255, 0x80000000, 0xffffffff };

			b->u32s[0] = bad[below(sizeof(bad) / sizeof(bad[0]))];
			a->data = &b->u32s[0];
		} else {
			/* A lone continuation byte, or a truncated sequence. */
			nl_text[below(a->len)] = below(2) ? 0x80 : 0xc3;
			if (below(2))
				nl_text[a->len - 1] = 0xe2;
		}
		return 1;
	case MUT_STATUS:
		a = nb_find(b, ASM_A_STATUS);
		if (!a)
			return 0;
		{
			static const __u32 st[] = { 1, EINTR, EPERM, ENOENT, 0x7fffffff,
						    0xffffffff, EIO + 1000 };

			b->u32s[1] = st[below(sizeof(st) / sizeof(st[0]))];
			a->data = &b->u32s[1];
		}
		return 1;
	case MUT_DUP:
		if (!b->n)
			return 0;
		a = &b->a[below(b->n)];
		nb_put(b, a->type, a->data, a->len);
		return 1;
	}
	return 0;
}

/* Header and layout mutations of the laid-out @m; returns the bytes to
 * send.  Unchecked: the kernel must only neither crash nor hang. */
static size_t nl_mangle(struct nl_msg *m)
{
	size_t len = m->n.nlmsg_len;
	struct nlattr *a;

	switch (below(10)) {
	case 0:	/* truncated: the sent bytes end early */
		return below(len);
	case 1:	/* nlmsg_len lies, longer or shorter */
		m->n.nlmsg_len = below(2) ? len + 1 + below(64) : below(len);
		return len;
	case 2:
		m->g.version = next();
		return len;
	case 3:
		m->g.reserved = next();
		return len;
	case 4:
		m->n.nlmsg_flags = next();
		return len;
	case 5:
		m->n.nlmsg_type = below(2) ? GENL_ID_CTRL : family + 1 + below(4);
		return len;
	case 6:	/* an attribute's length past the end, or under its header */
		if (len > NLMSG_LENGTH(GENL_HDRLEN)) {
			a = (struct nlattr *)m->buf;
			a->nla_len = below(2) ? below(4) : a->nla_len + 1 + below(512);
		}
		return len;
	case 7:	/* nested garbage: an attribute holding random attributes */
		{
			int n = 4 + 4 * below(16), i;
			char *p = (char *)m + NLMSG_ALIGN(len);

			a = (struct nlattr *)p;
			a->nla_type = NLA_F_NESTED | below(ASM_A_MAX + 3);
			a->nla_len = NLA_HDRLEN + n;
			for (i = 0; i < n; i++)
				p[NLA_HDRLEN + i] = next();
			m->n.nlmsg_len = NLMSG_ALIGN(len) + NLA_ALIGN(a->nla_len);
			return m->n.nlmsg_len;
		}
	case 8:	/* two messages in one send */
		memcpy((char *)m + NLMSG_ALIGN(len), m, len);
		return NLMSG_ALIGN(len) + len;
	default:
		/* Random bytes anywhere. */
		((char *)m)[below(len)] = next();
		return len;
	}
}

/* ---- requesters ----------------------------------------------------------- */

/*
 * What the requesters' factory shares with the root netlink worker: the
 * worker sets @stop at its end; the factory counts its requesters and
 * those that failed.
 */
struct nl_shared {
	int stop;
	long requesters, failed;
};

static struct nl_shared *nl_shared;

/*
 * An agent with LlmAccess that asks 1 to 3 times with a short timeout and
 * records what each request got; exits 1 on an errno the gateway's
 * documentation does not list for a valid request.
 */
static void requester(__u32 id, uint64_t seed)
{
	static char resp[ASM_LLM_TEXT_MAX * 2 + 4096];
	static const char *const prov[] = { "", ",\"preferred_provider\":\"claude\"",
		",\"preferred_provider\":\"local\"", ",\"preferred_provider\":\"gemini\"" };
	static const int timeouts[] = { 20, 100, 300, 1000, 2000 };
	struct asm_llm_request r;
	char doc[512];
	int i, n, e, len;
	long ret;

	rng = seed;
	if (asm_register_self(asm_fd, id, ASM_CAP_LLM_ACCESS | ASM_CAP_FS_BASIC, "fzllm", NULL))
		_exit(0);	/* EEXIST, ENOSPC: nothing to ask as */
	n = 1 + below(3);
	for (i = 0; i < n; i++) {
		len = snprintf(doc, sizeof(doc),
			       "{\"prompt\":\"fz %u \\u00e9 %d\",\"timeout_ms\":%d,\"max_tokens\":%u%s%s}",
			       id, i, timeouts[below(5)], 1 + (unsigned)below(ASM_LLM_MAX_TOKENS_MAX),
			       prov[below(4)], below(4) ? "" : ",\"system_message\":\"be brief\"");
		llm_init(&r, 0, doc, len, resp, sizeof(resp));
		ret = ioctl(asm_fd, ASM_IOC_LLM_REQUEST, &r);
		e = ret < 0 ? errno : 0;
		if (r.request_id) {
			struct outcome *o = &outcomes[r.request_id % OUTCOMES];

			o->got_id = r.request_id;
			o->got = e ? e : GOT_OK;
		}
		if (e && e != ETIMEDOUT && e != EIO && e != ENOTCONN && e != EAGAIN && e != EBUSY) {
			ktap_msg("requester agent %u: request %d got %s", id, i, errname(e));
			_exit(1);
		}
	}
	_exit(0);
}

/* ---- the workers ---------------------------------------------------------- */

struct nl_worker {
	int uid;
	int cmd_fd;		/* root: the helper's socket */
	int other_fd;		/* a second socket: never the helper */
	int ev_fd, gw_fd;	/* the groups (root) */
	__u64 last_seq;
	int seq_seen;
	long events, notices, overruns;
	__u32 nlseq;
	__u64 pulled[64];	/* pulled, not answered */
	int npulled;
	__u64 answered[16];	/* answered: ENOENT from now on */
	pid_t factory;
	long orphans, outcome_fails, outcome_checked;
};

static long fz_fails;
static const char *fz_who;
static uint64_t fz_seed, fz_run_seed;
static long fz_ops, fz_step;

/* A failed expectation of a worker: says how to replay it. */
static void __attribute__((format(printf, 1, 2))) fz_fail(const char *fmt, ...)
{
	char s[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s, sizeof(s), fmt, ap);
	va_end(ap);
	ktap_msg("%s, stream %llu, step %ld: %s (replay: asm_fuzz -n %ld -s %llu)", fz_who,
		 (unsigned long long)fz_seed, fz_step, s, fz_ops, (unsigned long long)fz_run_seed);
	fz_fails++;
}

/* Reads what the groups sent; checks each message. */
static void nl_read_groups(struct nl_worker *w)
{
	int fds[2] = { w->ev_fd, w->gw_fd }, i, rem, arem;
	struct nlmsghdr *h;
	struct nlattr *a;
	ssize_t n;

	for (i = 0; i < 2; i++) {
		for (;;) {
			n = recv(fds[i], nl_rbuf, sizeof(nl_rbuf), MSG_DONTWAIT);
			if (n < 0 && errno == ENOBUFS) {
				w->overruns++;
				continue;
			}
			if (n <= 0)
				break;
			for (h = (struct nlmsghdr *)nl_rbuf, rem = n; NLMSG_OK(h, rem);
			     h = NLMSG_NEXT(h, rem)) {
				struct genlmsghdr *g = NLMSG_DATA(h);
				int want = i ? ASM_CMD_GW_NOTIFY : ASM_CMD_EVENT, seen = 0;
				__u64 seq = 0;

				if (h->nlmsg_type != family || g->cmd != want) {
					fz_fail("group %s: message type %u cmd %u", i ? "gateway" : "events",
						h->nlmsg_type, g->cmd);
					continue;
				}
				nla_for_each(a, (struct nlattr *)((char *)g + GENL_HDRLEN),
					     (int)(h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN)), arem) {
					if (a->nla_type == (i ? ASM_A_REQ_ID : ASM_A_SEQ) &&
					    a->nla_len == NLA_HDRLEN + 8) {
						memcpy(&seq, nla_data(a), 8);
						seen = 1;
					}
				}
				if (arem || !seen) {
					fz_fail("group %s: malformed attributes (%d bytes left, id %d)",
						i ? "gateway" : "events", arem, seen);
					continue;
				}
				if (i) {
					w->notices++;
					continue;
				}
				if (w->seq_seen && seq <= w->last_seq)
					fz_fail("events: seq %llu after %llu",
						(unsigned long long)seq, (unsigned long long)w->last_seq);
				w->last_seq = seq;
				w->seq_seen = 1;
				w->events++;
			}
		}
	}
}

/* Sends @len bytes of @m on @fd and collects the answers. */
static void nl_send(int fd, struct nl_msg *m, size_t len, __u32 seq, struct nl_answer *a)
{
	memset(a, 0, sizeof(*a));
	if (send(fd, m, len, 0) < 0) {
		a->err = errno;
		a->got_err = 1;
		return;
	}
	nl_drain(fd, seq, a);
}

static void nl_expect(struct nl_answer *a, int want, const char *what)
{
	if (!a->got_err)
		fz_fail("%s: no answer (expected %s)", what, errname(want));
	else if (a->err != want)
		fz_fail("%s: expected %s, got %s", what, errname(want), errname(a->err));
}

static void nl_forget(struct nl_worker *w, int i)
{
	w->answered[below(16)] = w->pulled[i];
	w->pulled[i] = w->pulled[--w->npulled];
}

static void outcome_expect(__u64 id, int expect)
{
	struct outcome *o = &outcomes[id % OUTCOMES];

	o->exp_id = id;
	o->expect = expect;
}

static int nl_open_helper(struct nl_worker *w)
{
	struct nl_build b = { .cmd = ASM_CMD_GW_REGISTER };
	static struct nl_msg m;
	struct nl_answer a;

	w->cmd_fd = nl_socket();
	if (w->cmd_fd < 0)
		return -1;
	nb_layout(&b, &m, ++w->nlseq);
	nl_send(w->cmd_fd, &m, m.n.nlmsg_len, w->nlseq, &a);
	nl_expect(&a, 0, "GW_REGISTER of a new socket once the helper's closed");
	return 0;
}

/*
 * The requesters' factory: keeps REQ_LIVE requesters alive, each a new
 * agent, until the worker says stop.  It is forked before the worker opens
 * its sockets, so that no requester holds a copy of the helper's socket
 * (closing it must close it), and the forks cost the worker nothing.
 */
static void nl_factory(uint64_t seed, pid_t worker)
{
	int live = 0, status, next_req = 0;
	pid_t pid;

	/* Not beyond its worker: the run's report pipe and stdout would stay
	 * open, and the run would wait for them. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != worker)
		_exit(1);
	rng = seed;
	for (;;) {
		while (live < REQ_LIVE && !__atomic_load_n(&nl_shared->stop, __ATOMIC_ACQUIRE)) {
			__u32 id = REQ_BASE + next_req++ % REQ_SPAN;
			uint64_t s = next();

			/* The agent a previous requester left, if any. */
			asm_unregister(asm_fd, id);
			pid = fork();
			if (pid < 0)
				break;
			if (pid == 0)
				requester(id, s);
			live++;
			__atomic_add_fetch(&nl_shared->requesters, 1, __ATOMIC_RELAXED);
		}
		if (!live)
			_exit(0);
		/* A requester ends within its requests' timeouts (2 s each). */
		if (wait(&status) < 0)
			_exit(1);
		live--;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			__atomic_add_fetch(&nl_shared->failed, 1, __ATOMIC_RELAXED);
	}
}

/* One op of the root worker. */
static void nl_root_op(struct nl_worker *w)
{
	static struct nl_msg m;
	struct nl_build b;
	struct nl_answer a;
	int kind = MUT_NONE, slot = -1, fd = w->cmd_fd, r = below(100);
	__u64 id = 0;
	size_t len;

	memset(&b, 0, sizeof(b));
	if (r < 3) {
		/* Close the helper's socket with its requests pulled. */
		int i;

		for (i = 0; i < w->npulled; i++) {
			outcome_expect(w->pulled[i], EXP_ORPHAN);
			w->orphans++;
		}
		w->npulled = 0;
		close(w->cmd_fd);
		if (nl_open_helper(w))
			fz_fail("no netlink socket: %s", strerror(errno));
		return;
	}
	if (r < 8) {
		b.cmd = ASM_CMD_GW_REGISTER;
	} else if (r < 45) {
		b.cmd = ASM_CMD_GW_PULL;
	} else if (r < 90) {
		__u32 status = 0;

		if (w->npulled && below(5)) {
			slot = below(w->npulled);
			id = w->pulled[slot];
		} else if (below(2)) {
			id = w->answered[below(16)];
		} else {
			id = (1ULL << 40) + next() % (1ULL << 40);
		}
		switch (below(6)) {
		case 0: status = EIO; break;
		case 1: status = ETIMEDOUT; break;
		}
		nb_complete(&b, id, status);
	} else {
		static const __u8 cmds[] = { ASM_CMD_UNSPEC, ASM_CMD_EVENT, ASM_CMD_GW_NOTIFY, 6, 7,
					     100, 255 };

		b.cmd = cmds[below(sizeof(cmds))];
	}
	if (below(2)) {
		kind = 1 + below(MUT_KINDS - 1);
		if (!nb_mutate(&b, kind))
			kind = MUT_NONE;
	}
	if (below(8) == 0)
		fd = w->other_fd;
	nb_layout(&b, &m, ++w->nlseq);
	len = m.n.nlmsg_len;
	if (kind == MUT_RANDOM)
		len = nl_mangle(&m);
	nl_send(fd, &m, len, w->nlseq, &a);
	if (kind == MUT_RANDOM) {
		/* Whatever it was, a pulled request stays pulled or was answered. */
		if (slot >= 0 && a.got_err && a.err != EINVAL && a.err != EPERM)
			nl_forget(w, slot);
		return;
	}

	/* What the kernel must have answered. */
	if (b.cmd != ASM_CMD_GW_REGISTER && b.cmd != ASM_CMD_GW_PULL &&
	    b.cmd != ASM_CMD_GW_COMPLETE) {
		nl_expect(&a, EOPNOTSUPP, "an unknown command");
		return;
	}
	switch (kind) {
	case MUT_NO_REQ_ID:
	case MUT_NO_STATUS:
	case MUT_BAD_LEN:
	case MUT_UNKNOWN:
	case MUT_NESTED:
		nl_expect(&a, EINVAL, "a malformed attribute set");
		return;
	case MUT_TEXT_BIG:
	case MUT_TRIED_BIG:
		if (!a.got_err || !a.err)
			fz_fail("cmd %u with an attribute over its maximum: accepted", b.cmd);
		return;
	}
	if (b.cmd == ASM_CMD_GW_REGISTER) {
		nl_expect(&a, fd == w->cmd_fd ? 0 : EBUSY,
			  fd == w->cmd_fd ? "GW_REGISTER by the helper again" :
			  "GW_REGISTER while another socket is the helper");
		return;
	}
	if (fd != w->cmd_fd) {
		if (b.cmd == ASM_CMD_GW_COMPLETE && kind != MUT_NONE && kind != MUT_DUP &&
		    kind != MUT_STATUS) {
			/* Judged malformed before the socket: EINVAL, or EPERM. */
			if (!a.got_err || (a.err != EPERM && a.err != EINVAL))
				fz_fail("a malformed GW_COMPLETE from another socket: %s",
					a.got_err ? errname(a.err) : "no answer");
			return;
		}
		nl_expect(&a, EPERM, "a gateway command from a socket that is not the helper");
		return;
	}
	if (b.cmd == ASM_CMD_GW_PULL) {
		if (a.data && a.req_id) {
			if (w->npulled < 64)
				w->pulled[w->npulled++] = a.req_id;
			else
				outcome_expect(a.req_id, EXP_NONE);
		} else if (!a.got_err || a.err != ENOENT) {
			fz_fail("GW_PULL by the helper: %s",
				a.got_err ? errname(a.err) : "no answer and no request");
		}
		return;
	}

	/* GW_COMPLETE from the helper. */
	if (slot < 0) {
		if (kind == MUT_TRIED_ODD || kind == MUT_PROVIDER || kind == MUT_UTF8) {
			if (!a.got_err || (a.err != ENOENT && a.err != EINVAL))
				fz_fail("a malformed GW_COMPLETE of request %llu never given: %s",
					(unsigned long long)id, a.got_err ? errname(a.err) : "no answer");
			return;
		}
		nl_expect(&a, ENOENT, "GW_COMPLETE of a request not pulled or already answered");
		return;
	}
	nl_forget(w, slot);
	if (!a.got_err) {
		fz_fail("GW_COMPLETE of request %llu: no answer", (unsigned long long)id);
		return;
	}
	if (a.err == ENOENT)
		return;	/* its caller gave up (its timeout) */
	if (kind == MUT_TRIED_ODD ||
	    (!*(__u32 *)nb_find(&b, ASM_A_STATUS)->data && (kind == MUT_PROVIDER || kind == MUT_UTF8))) {
		if (a.err != EINVAL)
			fz_fail("a malformed GW_COMPLETE of request %llu: expected EINVAL, got %s",
				(unsigned long long)id, errname(a.err));
		else
			outcome_expect(id, EXP_EIO);
		return;
	}
	if (a.err) {
		fz_fail("GW_COMPLETE of request %llu just pulled: %s", (unsigned long long)id,
			errname(a.err));
		return;
	}
	{
		__u32 st = *(__u32 *)nb_find(&b, ASM_A_STATUS)->data;

		outcome_expect(id, !st ? EXP_OK : st == ETIMEDOUT ? EXP_ETIMEDOUT : EXP_EIO);
	}
}

/* One op of the uid 65534 worker: every gateway command is EPERM. */
static void nl_user_op(struct nl_worker *w)
{
	static struct nl_msg m;
	static const __u8 cmds[] = { ASM_CMD_GW_REGISTER, ASM_CMD_GW_PULL, ASM_CMD_GW_COMPLETE,
				     ASM_CMD_UNSPEC, ASM_CMD_EVENT, ASM_CMD_GW_NOTIFY, 6, 200 };
	struct nl_build b;
	struct nl_answer a;
	int kind = MUT_NONE;
	size_t len;

	memset(&b, 0, sizeof(b));
	b.cmd = cmds[below(sizeof(cmds))];
	if (b.cmd == ASM_CMD_GW_COMPLETE)
		nb_complete(&b, below(2) ? below(1000) : next(), below(2) ? 0 : EIO);
	if (below(2)) {
		kind = 1 + below(MUT_KINDS - 1);
		if (!nb_mutate(&b, kind))
			kind = MUT_NONE;
	}
	nb_layout(&b, &m, ++w->nlseq);
	len = m.n.nlmsg_len;
	if (kind == MUT_RANDOM)
		len = nl_mangle(&m);
	nl_send(w->cmd_fd, &m, len, w->nlseq, &a);
	if (kind == MUT_RANDOM)
		return;
	if (b.cmd >= ASM_CMD_GW_REGISTER && b.cmd <= ASM_CMD_GW_COMPLETE &&
	    b.cmd != ASM_CMD_GW_NOTIFY)
		nl_expect(&a, EPERM, "a gateway command from uid 65534");
	else
		nl_expect(&a, EOPNOTSUPP, "an unknown command from uid 65534");
}

/* Joins group @name on @fd: 0 or an errno. */
static int nl_join(int fd, const char *name)
{
	__u32 group;
	__u16 fam;

	if (asm_genl_resolve_group(fd, &fam, name, &group))
		return ENOENT;
	return setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(group)) ?
	       errno : 0;
}

struct fz_report {
	int role;	/* ROLE_* */
	int index;
	long made, want, fails;
	long a, b, c, d;	/* role-specific figures */
};

/* The netlink worker @index: @ops ops from stream @seed, as uid @uid. */
static void nl_worker(int index, int uid, long ops, uint64_t seed, struct fz_report *rep)
{
	struct nl_worker w;
	__u32 group;
	long i;
	int e;

	uint64_t start = now_ns(CLOCK_MONOTONIC);
	pid_t self;

	(void)index;
	memset(&w, 0, sizeof(w));
	w.uid = uid;
	rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	fz_seed = seed;
	fz_who = uid ? "netlink worker (uid 65534)" : "netlink worker (root)";
	if (!uid) {
		nl_shared = mmap(NULL, sizeof(*nl_shared), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (nl_shared == MAP_FAILED) {
			fz_fail("mmap: %s", strerror(errno));
			rep->fails = fz_fails;
			return;
		}
		/* Before the sockets: see nl_factory(). */
		fflush(stdout);
		self = getpid();
		w.factory = fork();
		if (w.factory == 0)
			nl_factory(next(), self);
		if (w.factory < 0)
			fz_fail("fork: %s", strerror(errno));
	}
	w.cmd_fd = nl_socket();
	w.other_fd = nl_socket();
	w.ev_fd = nl_socket();
	w.gw_fd = nl_socket();
	if (w.cmd_fd < 0 || w.other_fd < 0 || w.ev_fd < 0 || w.gw_fd < 0 ||
	    asm_genl_resolve_group(w.cmd_fd, &family, ASM_GENL_MCGRP_GATEWAY, &group)) {
		fz_fail("cannot resolve the family: %s", strerror(errno));
		rep->fails = fz_fails;
		/* The factory ends its requesters and itself. */
		if (nl_shared)
			__atomic_store_n(&nl_shared->stop, 1, __ATOMIC_RELEASE);
		return;
	}
	/* The kernel and uapi.rst: both groups are for CAP_NET_ADMIN. */
	e = nl_join(w.ev_fd, ASM_GENL_MCGRP_EVENTS);
	if (e != (uid ? EPERM : 0))
		fz_fail("joining \"events\": %s", errname(e));
	e = nl_join(w.gw_fd, ASM_GENL_MCGRP_GATEWAY);
	if (e != (uid ? EPERM : 0))
		fz_fail("joining \"gateway\": %s", errname(e));
	if (!uid) {
		struct nl_build b = { .cmd = ASM_CMD_GW_REGISTER };
		static struct nl_msg m;
		struct nl_answer a;

		nb_layout(&b, &m, ++w.nlseq);
		nl_send(w.cmd_fd, &m, m.n.nlmsg_len, w.nlseq, &a);
		nl_expect(&a, 0, "GW_REGISTER with no helper");
	}
	for (i = 0; i < ops; i++) {
		fz_step = i;
		if (uid) {
			nl_user_op(&w);
		} else {
			nl_root_op(&w);
			nl_read_groups(&w);
		}
		rep->made++;
	}
	if (!uid && w.factory > 0) {
		/* Answer what is left until every requester is done. */
		__atomic_store_n(&nl_shared->stop, 1, __ATOMIC_RELEASE);
		for (;;) {
			struct nl_answer a;
			static struct nl_msg m;
			struct nl_build b = { .cmd = ASM_CMD_GW_PULL };
			int status;
			pid_t pid;

			nb_layout(&b, &m, ++w.nlseq);
			nl_send(w.cmd_fd, &m, m.n.nlmsg_len, w.nlseq, &a);
			if (a.data && a.req_id) {
				nb_complete(&b, a.req_id, 0);
				nb_layout(&b, &m, ++w.nlseq);
				nl_send(w.cmd_fd, &m, m.n.nlmsg_len, w.nlseq, &a);
				if (a.got_err && !a.err)
					outcome_expect(b.u64s[0], EXP_OK);
				continue;
			}
			pid = waitpid(w.factory, &status, WNOHANG);
			if (pid == w.factory) {
				if (!WIFEXITED(status) || WEXITSTATUS(status))
					fz_fail("the requesters' factory ended with status %#x", status);
				break;
			}
			usleep(10000);
		}
		if (nl_shared->failed)
			fz_fail("%ld requesters got an errno a valid request may not get (above)",
				nl_shared->failed);
		nl_read_groups(&w);
		/* Every request's end against the completion it was sent. */
		for (i = 0; i < OUTCOMES; i++) {
			struct outcome *o = &outcomes[i];
			int got = o->got;

			if (!o->expect || !got || o->exp_id != o->got_id)
				continue;
			w.outcome_checked++;
			if ((o->expect == EXP_OK && got != GOT_OK) ||
			    (o->expect == EXP_EIO && got != EIO) ||
			    (o->expect == EXP_ETIMEDOUT && got != ETIMEDOUT) ||
			    (o->expect == EXP_ORPHAN && got != EIO && got != ETIMEDOUT)) {
				w.outcome_fails++;
				fz_fail("request %llu: completed as %s, its caller got %s",
					(unsigned long long)o->exp_id,
					o->expect == EXP_OK ? "an answer" :
					o->expect == EXP_EIO ? "EIO" :
					o->expect == EXP_ETIMEDOUT ? "ETIMEDOUT" :
					"held by a closed helper socket",
					got == GOT_OK ? "an answer" : errname(got));
			}
		}
		for (i = 0; i < REQ_SPAN; i++)
			asm_unregister(asm_fd, REQ_BASE + i);
		ktap_msg("netlink worker (root): %ld requesters (agents), %ld request ends checked against "
			 "their completions, %ld held by closed helper sockets; %ld events and %ld "
			 "notices read (%ld overruns); %llu s (%llu ms CPU)", nl_shared->requesters,
			 w.outcome_checked, w.orphans, w.events, w.notices, w.overruns,
			 (unsigned long long)(now_ns(CLOCK_MONOTONIC) - start) / 1000000000,
			 (unsigned long long)now_ns(CLOCK_PROCESS_CPUTIME_ID) / 1000000);
	}
	if (uid)
		ktap_msg("netlink worker (uid 65534): %ld commands; %llu s (%llu ms CPU)", ops,
			 (unsigned long long)(now_ns(CLOCK_MONOTONIC) - start) / 1000000000,
			 (unsigned long long)now_ns(CLOCK_PROCESS_CPUTIME_ID) / 1000000);
	rep->want = ops;
	rep->fails = fz_fails;
	rep->a = w.outcome_checked;
	rep->b = w.outcome_fails;
	rep->c = w.events;
	rep->d = nl_shared ? nl_shared->requesters : 0;
}

#endif /* ASM_FUZZ_NL_H */
