// SPDX-License-Identifier: GPL-2.0
/*
 * asm_fuzz - a structure-aware fuzzer of the /dev/asm ioctls and the "asm"
 * generic netlink family, and random valid sequences of requests (KTAP).
 *
 *   asm_fuzz [-n OPS] [-s SEED] [-w WORKERS]
 *
 * OPS is shared out: 90 per cent ioctl requests, 6 netlink commands
 * (asm_fuzz_nl.h: a root worker that plays the gateway helper for
 * requesters it forks, and a uid 65534 one), 4 steps of sequences
 * (asm_fuzz_seq.h: two root workers and two of other users).
 *
 * WORKERS ioctl workers (default 4; every other one as uid 65534) each make
 * their share of requests.  A request starts from a valid template of its
 * struct (size, version, a known agent id, a command or op in range) and
 * gets 0 to 4 mutations: a field set to a boundary value (0, 1, -1, the
 * largest values, an id just registered or never), random bytes, the size
 * or version off by one, a reserved field set, and its user pointers (the
 * buffers of LIST, the JSON documents, HISTORY, GET_AUDIT, DEPS LIST and
 * LLM_REQUEST) pointed at NULL, an unmapped page, a read-only page, the
 * last bytes before an unmapped page, a kernel address or a valid buffer.
 * The argument itself is sometimes such a pointer too, and the request
 * number sometimes one of the module's with another size or an unknown
 * one.  Between requests a worker sometimes forks a child that registers
 * itself, works as an agent (heartbeats, decisions, profile records, an
 * exec) and exits or crashes, so that registrations, exits and
 * unregistrations race with the requests.
 *
 * A seed makes a run reproducible (each worker's stream is seed + its
 * index, seed + 100 and up for the netlink workers, seed + 200 and up for
 * the sequence workers; the interleaving of workers is not).  A failed
 * check prints the worker, its stream and step and the command line that
 * replays the run.  The test passes when every worker made its operations
 * with every checked answer as documented, every LLM request ended as the
 * helper completed it, the module and the family still answer, no helper
 * or request is left, and the event totals add up (total = kept +
 * dropped); the caller (test_fuzz.sh, and the VM's dmesg gate) checks that
 * the kernel reported nothing.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#include "asm_util.h"

#define NOBODY		65534
#define ID_BASE		8800	/* the agents this program registers */
#define ID_SPAN		16
#define SCRATCH		(1 << 20)
#define DOC_ROOM	(32 << 20)	/* the telemetry of 4096 agents fits */

static uint64_t rng;

static uint64_t next(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

static uint64_t below(uint64_t n)
{
	return n ? next() % n : 0;
}

/* Pages: a writable scratch buffer, a read-only page, an unmapped one. */
static char *scratch, *ro_page, *hole;
static long page;

static void map_pages(void)
{
	char *p;

	page = sysconf(_SC_PAGESIZE);
	scratch = mmap(NULL, SCRATCH, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	p = mmap(NULL, 3 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (scratch == MAP_FAILED || p == MAP_FAILED)
		ktap_bail("mmap: %s", strerror(errno));
	ro_page = p;
	hole = p + 2 * page;
	if (mprotect(ro_page, page, PROT_READ) || munmap(hole, page))
		ktap_bail("mprotect/munmap: %s", strerror(errno));
}

/* A user pointer worth trying, for a buffer of @len bytes. */
static uint64_t some_pointer(size_t len)
{
	switch (below(8)) {
	case 0:
		return 0;
	case 1:
		return (uint64_t)(uintptr_t)hole;
	case 2:
		return (uint64_t)(uintptr_t)ro_page;
	case 3:
		/* The end of the writable page just before the hole. */
		return (uint64_t)(uintptr_t)(hole - 1 - below(len < (size_t)page ? len : (size_t)page));
	case 4:
		return 0xffff888000000000ULL + below(1 << 20);
	case 5:
		return next();
	default:
		return (uint64_t)(uintptr_t)(scratch + below(SCRATCH / 2));
	}
}

/* A value for a 32-bit field: a boundary, an id, or random. */
static uint32_t some_u32(void)
{
	static const uint32_t edges[] = {
		0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 31, 32, 63, 64, 100, 255, 256,
		1000, 1023, 1024, 4095, 4096, 65535, 65536, 0x7fffffff,
		0x80000000, 0xfffffffe, 0xffffffff,
	};

	switch (below(4)) {
	case 0:
		return edges[below(sizeof(edges) / sizeof(edges[0]))];
	case 1:
		return ID_BASE + below(ID_SPAN);
	case 2:
		return ASM_ID_ALLOC_MIN + below(64);
	default:
		return (uint32_t)next();
	}
}

/* One request: its number, its struct's size and where its pointers are. */
struct req {
	unsigned long cmd;
	size_t size;
	int ptr_off[2];	/* offsets of __u64 user pointers, -1 for none */
	int ptr_len[2];	/* their buffers' lengths */
	int field_off;	/* the command or op field, -1 for none */
	int field_max;	/* its largest valid value */
	int id_off;	/* the agent id field, -1 for none */
};

#define R(c, s, p0, l0, p1, l1, f, fmax, id) \
	{ c, sizeof(struct s), { p0, p1 }, { l0, l1 }, f, fmax, id }
#define OFF(s, m) ((int)offsetof(struct s, m))

static const struct req reqs[] = {
	R(ASM_IOC_REGISTER, asm_register, -1, 0, -1, 0, OFF(asm_register, target), 2,
	  OFF(asm_register, agent_id)),
	R(ASM_IOC_UNREGISTER, asm_unregister, -1, 0, -1, 0, -1, 0, OFF(asm_unregister, agent_id)),
	R(ASM_IOC_LIST, asm_list, OFF(asm_list, ids), 4096, -1, 0, -1, 0, -1),
	R(ASM_IOC_GET_INFO, asm_agent_info, -1, 0, -1, 0, -1, 0, OFF(asm_agent_info, agent_id)),
	R(ASM_IOC_GET_TELEMETRY_JSON, asm_json, OFF(asm_json, buf), 65536, -1, 0, -1, 0,
	  OFF(asm_json, agent_id)),
	R(ASM_IOC_GET_AGENT_INFO_JSON, asm_json, OFF(asm_json, buf), 65536, -1, 0, -1, 0,
	  OFF(asm_json, agent_id)),
	R(ASM_IOC_SET_FAULT_POLICY, asm_fault_policy, -1, 0, -1, 0, OFF(asm_fault_policy, flags),
	  3, OFF(asm_fault_policy, agent_id)),
	R(ASM_IOC_GET_FAULT_POLICY, asm_fault_policy, -1, 0, -1, 0, -1, 0,
	  OFF(asm_fault_policy, agent_id)),
	R(ASM_IOC_HEARTBEAT, asm_heartbeat, -1, 0, -1, 0, -1, 0, -1),
	R(ASM_IOC_GET_HISTORY, asm_history, OFF(asm_history, windows), 65536, -1, 0, -1, 0,
	  OFF(asm_history, agent_id)),
	R(ASM_IOC_PATCH_POLICY, asm_patch, -1, 0, -1, 0, OFF(asm_patch, op), 12,
	  OFF(asm_patch, agent_id)),
	R(ASM_IOC_GET_AUDIT, asm_audit_read, OFF(asm_audit_read, entries), 65536, -1, 0, -1, 0, -1),
	R(ASM_IOC_GET_COMPLIANCE, asm_compliance, -1, 0, -1, 0, -1, 0,
	  OFF(asm_compliance, agent_id)),
	R(ASM_IOC_OVERSIGHT, asm_note, -1, 0, -1, 0, OFF(asm_note, kind), 4, OFF(asm_note, agent_id)),
	R(ASM_IOC_DECISION, asm_note, -1, 0, -1, 0, -1, 0, OFF(asm_note, agent_id)),
	R(ASM_IOC_SENSITIVE, asm_sensitive, -1, 0, -1, 0, OFF(asm_sensitive, op), 3, -1),
	R(ASM_IOC_LLM_REQUEST, asm_llm_request, OFF(asm_llm_request, request), 4096,
	  OFF(asm_llm_request, response), 4096, OFF(asm_llm_request, flags), 2, -1),
	R(ASM_IOC_DEPS, asm_deps, OFF(asm_deps, edges), 4096, -1, 0, OFF(asm_deps, op), 3,
	  OFF(asm_deps, dependent)),
	R(ASM_IOC_PROFILE, asm_profile, -1, 0, -1, 0, OFF(asm_profile, cmd), 4,
	  OFF(asm_profile, agent_id)),
};

#define NR_REQS ((int)(sizeof(reqs) / sizeof(reqs[0])))

/* The argument buffer: a valid template of @r, then mutations. */
static void build(const struct req *r, unsigned char *arg)
{
	uint32_t v;
	int i, n;

	memset(arg, 0, r->size);
	((uint32_t *)arg)[0] = r->size;
	((uint32_t *)arg)[1] = ASM_ABI_VERSION;
	if (r->field_off >= 0) {
		v = 1 + below(r->field_max);
		memcpy(arg + r->field_off, &v, 4);
	}
	if (r->id_off >= 0) {
		v = ID_BASE + below(ID_SPAN);
		memcpy(arg + r->id_off, &v, 4);
	}
	for (i = 0; i < 2; i++) {
		uint64_t p = (uint64_t)(uintptr_t)(scratch + below(SCRATCH / 2));

		if (r->ptr_off[i] >= 0)
			memcpy(arg + r->ptr_off[i], &p, 8);
	}
	/* A capacity-like field right after a pointer is often next. */
	if (r->cmd == ASM_IOC_REGISTER) {
		struct asm_register *reg = (void *)arg;

		reg->target = ASM_TARGET_SELF;
		reg->risk_level = below(5);
		snprintf(reg->name, sizeof(reg->name), "fz%u", (unsigned)below(100));
	}
	n = below(5);
	while (n--) {
		size_t off = below(r->size) & ~3UL;

		switch (below(6)) {
		case 0:
			v = some_u32();
			if (off + 4 <= r->size)
				memcpy(arg + off, &v, 4);
			break;
		case 1:
			arg[below(r->size)] = next();
			break;
		case 2:
			((uint32_t *)arg)[below(2)] += below(2) ? 1 : -1;
			break;
		case 3:
			for (i = 0; i < 2; i++) {
				uint64_t p = some_pointer(r->ptr_len[i]);

				if (r->ptr_off[i] >= 0)
					memcpy(arg + r->ptr_off[i], &p, 8);
			}
			break;
		case 4:
			if (r->field_off >= 0) {
				v = below(r->field_max + 3);
				memcpy(arg + r->field_off, &v, 4);
			}
			break;
		default:
			/* The tail (reserved fields, mostly) set. */
			arg[r->size - 1 - below(16 < r->size ? 16 : r->size)] = next() | 1;
			break;
		}
	}
}

/* A process that registers itself and behaves like an agent a while. */
static void agent_child(void)
{
	struct asm_heartbeat hb;
	struct asm_register r;
	int i;

	memset(&hb, 0, sizeof(hb));
	hb.size = sizeof(hb);
	hb.version = ASM_ABI_VERSION;
	reg_init(&r, below(2) ? 0 : ID_BASE + below(ID_SPAN), ASM_TARGET_SELF, 0, "fzagent");
	r.capabilities = below(256) & ~ASM_CAP_ADMIN;
	r.auto_restart = below(3);
	if (ioctl(asm_fd, ASM_IOC_REGISTER, &r))
		_exit(0);
	for (i = 0; i < 8; i++) {
		ioctl(asm_fd, ASM_IOC_HEARTBEAT, &hb);
		if (below(4) == 0 && fork() == 0)
			_exit(below(2));
	}
	if (below(4) == 0)
		execl("/bin/true", "true", (char *)NULL);
	if (below(3) == 0)
		raise(SIGSEGV);
	_exit(below(2) * 3);
}

/* One worker: @ops requests from stream @seed; returns how many it made. */
static long worker(long ops, uint64_t seed)
{
	unsigned char arg[1024] __attribute__((aligned(8)));
	long i, done = 0;

	rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	for (i = 0; i < ops; i++) {
		const struct req *r = &reqs[below(NR_REQS)];
		unsigned long cmd = r->cmd;
		void *p = arg;

		build(r, arg);
		switch (below(40)) {
		case 0:
			p = hole;
			break;
		case 1:
			p = ro_page;
			break;
		case 2:
			/* The struct straddles the end of the mapping. */
			p = hole - r->size / 2;
			memcpy(p, arg, r->size / 2);
			break;
		case 3:
			cmd = (cmd & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT)) |
			      ((unsigned long)below(2048) << _IOC_SIZESHIFT);
			break;
		case 4:
			cmd = _IOWR(ASM_IOC_MAGIC, 0x14 + below(8), struct asm_json);
			break;
		case 5:
			if (fork() == 0)
				agent_child();
			break;
		}
		if (r->cmd == ASM_IOC_REGISTER) {
			/*
			 * A registration of the caller makes the worker an
			 * agent, which its next requests would break the
			 * policy of: made by a child that exits at once.
			 */
			if (fork() == 0) {
				ioctl(asm_fd, cmd, p);
				_exit(0);
			}
		} else {
			ioctl(asm_fd, cmd, p);
		}
		done++;
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
	while (wait(NULL) > 0)
		;
	return done;
}

#include "asm_fuzz_nl.h"
#include "asm_fuzz_seq.h"

enum { ROLE_IOCTL, ROLE_NETLINK, ROLE_SEQUENCE };

/* The workers besides the ioctl ones: role, uid, stream offset. */
static const struct {
	int role, uid, stream;
} others[] = {
	{ ROLE_NETLINK, 0, 100 },
	{ ROLE_NETLINK, NOBODY, 101 },
	/* Unprivileged users of their own: 65534's audit rate is the ioctl
	 * workers'. */
	{ ROLE_SEQUENCE, 0, 200 },
	{ ROLE_SEQUENCE, 60001, 201 },
	{ ROLE_SEQUENCE, 0, 202 },
	{ ROLE_SEQUENCE, 60002, 203 },
};

#define NR_OTHERS	((int)(sizeof(others) / sizeof(others[0])))

/*
 * The share of the ops each kind of worker takes, in per cent: a netlink
 * command costs a few ioctl requests (the round trip, the groups' reads),
 * a step of a sequence some twenty (its agents' forks and round trips).
 */
#define SHARE_NETLINK	6
#define SHARE_SEQUENCE	4

static long share(long ops, int role)
{
	long nl = ops * SHARE_NETLINK / 100, seq = ops * SHARE_SEQUENCE / 100;

	return role == ROLE_NETLINK ? nl : role == ROLE_SEQUENCE ? seq : ops - nl - seq;
}

static int count_role(int role)
{
	int i, n = 0;

	for (i = 0; i < NR_OTHERS; i++)
		n += others[i].role == role;
	return n;
}

/* Runs one worker in a child, which reports on @wfd. */
static int seq_index;	/* the sequence workers' own index, for their ids */

static void run_worker(int wfd, int role, int index, int uid, long ops, uint64_t seed)
{
	struct fz_report rep;

	memset(&rep, 0, sizeof(rep));
	rep.role = role;
	rep.index = index;
	/* A sequence worker keeps root as its saved uid (asm_fuzz_seq.h). */
	if (uid && role == ROLE_SEQUENCE) {
		if (setgroups(0, NULL) || setresgid(uid, uid, uid) || setresuid(uid, uid, 0))
			_exit(121);
	} else if (uid) {
		drop_to(uid);
	}
	if (role == ROLE_IOCTL) {
		uint64_t start = now_ns(CLOCK_MONOTONIC);

		rep.made = worker(ops, seed);
		rep.want = ops;
		ktap_msg("ioctl worker %d (uid %d): %ld requests; %llu s (%llu ms CPU)", index, uid,
			 rep.made, (unsigned long long)(now_ns(CLOCK_MONOTONIC) - start) / 1000000000,
			 (unsigned long long)now_ns(CLOCK_PROCESS_CPUTIME_ID) / 1000000);
	} else if (role == ROLE_NETLINK) {
		nl_worker(index, uid, ops, seed, &rep);
	} else {
		seq_worker(seq_index++, uid, ops, seed, &rep);
	}
	if (write(wfd, &rep, sizeof(rep)) != sizeof(rep))
		_exit(1);
	_exit(0);
}

int main(int argc, char **argv)
{
	long ops = 50000, per, sums[3][5] = { { 0 } };
	uint64_t seed = 1;
	int workers = 4, opt, i, status, fds[2], nlfd;
	struct fz_report rep;
	struct nl_answer a;
	static struct nl_msg m;
	__u32 group;
	pid_t pid;
	char *doc;
	long long t, d;

	while ((opt = getopt(argc, argv, "n:s:w:")) != -1) {
		switch (opt) {
		case 'n': ops = atol(optarg); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'w': workers = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: asm_fuzz [-n OPS] [-s SEED] [-w WORKERS]\n");
			return 2;
		}
	}
	asm_test_begin(5);
	map_pages();
	fz_run_seed = seed;
	fz_ops = ops;
	ktap_msg("seed %llu, %ld ops: %ld ioctl requests over %d workers, %ld netlink commands "
		 "over %d, %ld sequence steps over %d", (unsigned long long)seed, ops,
		 share(ops, ROLE_IOCTL), workers, share(ops, ROLE_NETLINK), count_role(ROLE_NETLINK),
		 share(ops, ROLE_SEQUENCE), count_role(ROLE_SEQUENCE));
	outcomes = mmap(NULL, OUTCOMES * sizeof(*outcomes), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (outcomes == MAP_FAILED || pipe(fds))
		ktap_bail("mmap/pipe: %s", strerror(errno));

	fflush(stdout);
	for (i = 0; i < workers + NR_OTHERS; i++) {
		int role = i < workers ? ROLE_IOCTL : others[i - workers].role;
		int uid = i < workers ? (i % 2 ? NOBODY : 0) : others[i - workers].uid;
		uint64_t s = seed + (i < workers ? i : others[i - workers].stream);

		per = share(ops, role) / (role == ROLE_IOCTL ? workers : count_role(role));
		pid = fork();
		if (pid < 0)
			ktap_bail("fork: %s", strerror(errno));
		if (pid == 0) {
			close(fds[0]);
			run_worker(fds[1], role, i, uid, per, s);
		}
		if (role == ROLE_SEQUENCE)
			seq_index++;
	}
	close(fds[1]);
	while (read(fds[0], &rep, sizeof(rep)) == sizeof(rep)) {
		sums[rep.role][0] += rep.made;
		sums[rep.role][1] += rep.want;
		sums[rep.role][2] += rep.fails;
		sums[rep.role][3] += rep.a;
		sums[rep.role][4] += rep.b;
	}
	while (wait(&status) > 0)
		;

	ktap_case_start();
	per = share(ops, ROLE_IOCTL) / workers * workers;
	ktap_expect(sums[ROLE_IOCTL][0] == per, "%ld of %ld requests made", sums[ROLE_IOCTL][0], per);
	ktap_case_end("%ld fuzzed ioctl requests from %d workers (seed %llu)", sums[ROLE_IOCTL][0],
		      workers, (unsigned long long)seed);

	ktap_case_start();
	ktap_expect(sums[ROLE_NETLINK][0] == sums[ROLE_NETLINK][1] && sums[ROLE_NETLINK][1],
		    "%ld of %ld netlink commands made", sums[ROLE_NETLINK][0],
		    sums[ROLE_NETLINK][1]);
	ktap_expect(sums[ROLE_NETLINK][2] - sums[ROLE_NETLINK][4] == 0,
		    "%ld netlink answers not as documented (above)",
		    sums[ROLE_NETLINK][2] - sums[ROLE_NETLINK][4]);
	ktap_case_end("%ld fuzzed netlink commands, answered as documented (seed %llu)",
		      sums[ROLE_NETLINK][0], (unsigned long long)seed);

	ktap_case_start();
	ktap_expect(sums[ROLE_NETLINK][3] > 0, "no LLM request's end was checked");
	ktap_expect(sums[ROLE_NETLINK][4] == 0, "%ld requests did not end as completed (above)",
		    sums[ROLE_NETLINK][4]);
	ktap_case_end("%ld LLM requests ended as the helper completed them (seed %llu)",
		      sums[ROLE_NETLINK][3], (unsigned long long)seed);

	ktap_case_start();
	ktap_expect(sums[ROLE_SEQUENCE][0] >= sums[ROLE_SEQUENCE][1] && sums[ROLE_SEQUENCE][1],
		    "%ld of %ld sequence steps made", sums[ROLE_SEQUENCE][0],
		    sums[ROLE_SEQUENCE][1]);
	ktap_expect(sums[ROLE_SEQUENCE][4] > 0, "no sequence got to its end");
	ktap_expect(sums[ROLE_SEQUENCE][2] == 0, "%ld valid steps failed (above)",
		    sums[ROLE_SEQUENCE][2]);
	ktap_case_end("%ld sequences (%ld steps) from %d workers, every step as documented "
		      "(seed %llu)", sums[ROLE_SEQUENCE][3], sums[ROLE_SEQUENCE][0],
		      count_role(ROLE_SEQUENCE), (unsigned long long)seed);

	ktap_case_start();
	/* Root's agents stay registered: up to 4096 of them in the document. */
	doc = malloc(DOC_ROOM + 1);
	if (!doc)
		ktap_bail("no memory for the telemetry document");
	doc[0] = '\0';
	ktap_expect(asm_get_json(asm_fd, ASM_IOC_GET_TELEMETRY_JSON, 0, doc, DOC_ROOM) > 0,
		    "the telemetry document: %s", strerror(errno));
	if (!json_num(doc, "events_total", &t) && !json_num(doc, "events_dropped", &d))
		ktap_expect(t - d >= 0 && t - d <= 1024, "events: total %lld, dropped %lld", t, d);
	else
		ktap_fail_msg("no event totals in %.200s", doc);
	free(doc);
	/* The family answers, and the helper's socket went with its worker. */
	nlfd = nl_socket();
	if (nlfd < 0 || asm_genl_resolve_group(nlfd, &family, ASM_GENL_MCGRP_GATEWAY, &group)) {
		ktap_fail_msg("the \"asm\" family: %s", strerror(errno));
	} else {
		msg_init(&m, ASM_CMD_GW_PULL, NLM_F_ACK);
		m.n.nlmsg_seq = 1;
		nl_send(nlfd, &m, m.n.nlmsg_len, 1, &a);
		ktap_expect(a.got_err && a.err == EPERM, "GW_PULL from no helper: %s",
			    a.got_err ? errname(a.err) : "no answer");
	}
	if (nlfd >= 0)
		close(nlfd);
	/* Every requester is gone: nothing is left in flight. */
	nlfd = open("/proc/agentsys/gateway_status", O_RDONLY | O_CLOEXEC);
	doc = malloc(65536);
	if (nlfd < 0 || !doc || (t = read(nlfd, doc, 65535)) <= 0) {
		ktap_fail_msg("/proc/agentsys/gateway_status: %s", strerror(errno));
	} else {
		doc[t] = '\0';
		ktap_expect(strstr(doc, "not registered") && strstr(doc, "In Flight:          0\n"),
			    "gateway_status after the run: %.200s", doc);
	}
	free(doc);
	if (nlfd >= 0)
		close(nlfd);
	for (i = 0; i < ID_SPAN; i++)
		asm_unregister(asm_fd, ID_BASE + i);
	for (i = SEQ_BASE; i < REQ_BASE + REQ_SPAN; i++)
		asm_unregister(asm_fd, i);
	ktap_case_end("the module and its family answer afterwards, its event totals add up, "
		      "no helper and no request is left");
	ktap_finish();
}
