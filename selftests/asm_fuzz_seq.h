/* SPDX-License-Identifier: GPL-2.0 */
/*
 * asm_fuzz_seq.h - asm_fuzz's sequence workers: random valid sequences of
 * requests about agents the worker owns, each step checked against what
 * Documentation/uapi.rst, policy.rst and deps.rst say must happen.
 *
 * A sequence forks two agent processes (kids that act on command: a
 * heartbeat, a decision, a fork, a patch or an oversight note from inside,
 * an exit, a crash), registers them (by pid from root, or themselves),
 * and then takes its steps in a random order: narrowing patches (from the
 * owner and from the agent itself), widening ones (root: applied; another
 * owner and the agent itself: EPERM; ASM_CAP_ADMIN: always EPERM), limits
 * and actions (SET_FAULT_POLICY: root sets a permissive policy, so that
 * the defaults the ioctl workers fuzz cannot end its agents; another owner
 * may lower limits only), oversight notes, decisions, heartbeats, dependency
 * edges (added, the reverse one EEXIST, listed, removed), forks, and from
 * root a cgroup agent on a directory under /sys/fs/cgroup that processes
 * are moved into and out of.  It ends its agents (an exit, a crash, an
 * oversight stop), checks their state, and unregisters them.
 *
 * An unprivileged worker keeps root as its saved uid and takes each
 * sequence as the next of SEQ_UIDS users (the kids give it up); its
 * requests are that user's, without capabilities.
 *
 * Legitimate refusals end a sequence early without failing it: EAGAIN
 * (an unprivileged user's audit rate), EDQUOT and ENOSPC (the agents and
 * edges the ioctl workers hold), and a kid that is gone (the fuzzed
 * defaults' actions).  Agents with ids the ioctl workers aim at (the
 * first allocated ones) may be changed under a step: a failed check about
 * one is counted as a race, not a failure.
 */
#ifndef ASM_FUZZ_SEQ_H
#define ASM_FUZZ_SEQ_H

#define SEQ_BASE	9200	/* root sequences' agent ids: 9200 + 64 * worker */
#define KID_GONE	(-2000)
/* An unprivileged worker's users: its uid + SEQ_UID_STEP * 0..SEQ_UIDS-1. */
#define SEQ_UIDS	16
#define SEQ_UID_STEP	100

/* Commands a kid takes. */
enum {
	K_HEARTBEAT = 'h', K_DECISION = 'd', K_FORK = 'f', K_NARROW = 'n', K_WIDEN = 'w',
	K_OVERSIGHT = 'o', K_REGISTER = 'r', K_EXIT = 'x', K_CRASH = 'c', K_ID = 'i',
};

struct seq_kid {
	pid_t pid;
	int cmd_fd, res_fd;
	__u32 id;
	__u64 caps;
	int alive;
	int moved;	/* moved to a cgroup agent: no longer its agent's */
};

static void kid_put(int fd, long v)
{
	if (write(fd, &v, sizeof(v)) != sizeof(v))
		_exit(3);
}

/* A kid's loop: one result per command. */
static void seq_kid_main(int cmd, int res, __u64 caps)
{
	struct asm_heartbeat hb;
	struct asm_patch p;
	struct asm_note n;
	__u32 id = 0;
	pid_t pid;
	char c;

	while (read(cmd, &c, 1) == 1) {
		switch (c) {
		case K_REGISTER:
			if (read(cmd, &id, sizeof(id)) != sizeof(id))
				_exit(3);
			kid_put(res, asm_register_self(asm_fd, id, caps, "fzseq", &id) ? -errno : (long)id);
			break;
		case K_ID:
			if (read(cmd, &id, sizeof(id)) != sizeof(id))
				_exit(3);
			kid_put(res, 0);
			break;
		case K_HEARTBEAT:
			memset(&hb, 0, sizeof(hb));
			hb.size = sizeof(hb);
			hb.version = ASM_ABI_VERSION;
			kid_put(res, ioctl(asm_fd, ASM_IOC_HEARTBEAT, &hb) ? -errno : (long)hb.agent_id);
			break;
		case K_DECISION:
			memset(&n, 0, sizeof(n));
			n.size = sizeof(n);
			n.version = ASM_ABI_VERSION;
			snprintf(n.text, sizeof(n.text), "fuzz decision");
			kid_put(res, ioctl(asm_fd, ASM_IOC_DECISION, &n) ? -errno : (long)n.agent_id);
			break;
		case K_FORK:
			pid = fork();
			if (pid == 0)
				_exit(0);
			waitpid(pid, NULL, 0);
			kid_put(res, pid > 0 ? 0 : -errno);
			break;
		case K_NARROW:
		case K_WIDEN:
			patch_init(&p, id, c == K_NARROW ? ASM_PATCH_REMOVE_CAPABILITY :
				   ASM_PATCH_ADD_CAPABILITY);
			if (read(cmd, &p.value, sizeof(p.value)) != sizeof(p.value))
				_exit(3);
			kid_put(res, ioctl(asm_fd, ASM_IOC_PATCH_POLICY, &p) ? -errno : 0);
			break;
		case K_OVERSIGHT:
			memset(&n, 0, sizeof(n));
			n.size = sizeof(n);
			n.version = ASM_ABI_VERSION;
			n.agent_id = id;
			n.kind = ASM_OVERSIGHT_REVIEW;
			snprintf(n.text, sizeof(n.text), "self review");
			kid_put(res, ioctl(asm_fd, ASM_IOC_OVERSIGHT, &n) ? -errno : 0);
			break;
		case K_EXIT:
			_exit(0);
		case K_CRASH:
			raise(SIGSEGV);
			_exit(9);
		}
	}
	_exit(0);
}

static int kid_spawn(struct seq_kid *k, __u64 caps)
{
	int cmd[2], res[2];

	memset(k, 0, sizeof(*k));
	if (pipe(cmd) || pipe(res))
		return -1;
	k->pid = fork();
	if (k->pid < 0)
		return -1;
	if (k->pid == 0) {
		uid_t u = getuid();

		close(cmd[1]);
		close(res[0]);
		/* An unprivileged worker's kid gives up the saved root too. */
		if (u && setresuid(u, u, u))
			_exit(3);
		seq_kid_main(cmd[0], res[1], caps);
	}
	close(cmd[0]);
	close(res[1]);
	k->cmd_fd = cmd[1];
	k->res_fd = res[0];
	k->caps = caps;
	k->alive = 1;
	return 0;
}

/* Sends @c (and @extra) to @k; returns its result, or KID_GONE. */
static long kid_do(struct seq_kid *k, char c, const void *extra, size_t len)
{
	struct pollfd p = { .fd = 0, .events = POLLIN };
	long v;

	if (!k->alive || write(k->cmd_fd, &c, 1) != 1 ||
	    (len && write(k->cmd_fd, extra, len) != (ssize_t)len))
		goto gone;
	p.fd = k->res_fd;
	if (poll(&p, 1, 20000) <= 0 || read(k->res_fd, &v, sizeof(v)) != sizeof(v))
		goto gone;
	return v;
gone:
	k->alive = 0;
	return KID_GONE;
}

/* Ends @k: its pipes closed, reaped; returns its wait status. */
static int kid_end(struct seq_kid *k, char how)
{
	int status = 0;

	if (k->pid <= 0)
		return 0;
	if (how == 'k')
		kill(k->pid, SIGKILL);
	else if (how && k->alive && write(k->cmd_fd, &how, 1) != 1)
		kill(k->pid, SIGKILL);
	close(k->cmd_fd);
	close(k->res_fd);
	waitpid(k->pid, &status, 0);
	k->pid = 0;
	k->alive = 0;
	return status;
}

struct seq_worker {
	int uid, index;
	uid_t cur_uid;	/* the user of this sequence */
	long steps, budget;
	long sequences, completed, refused, races, gone;
	long cgroups;
};

/* An id the ioctl workers aim at: a check about it may lose a race. */
static int seq_contested(__u32 id)
{
	return (id >= ASM_ID_ALLOC_MIN && id < ASM_ID_ALLOC_MIN + 64) ||
	       (id >= ID_BASE && id < ID_BASE + ID_SPAN) || id == 4095 || id == 4096;
}

static struct seq_worker *sw;
static __u32 seq_cur_id;

/* A failed check: a failure, or a race for a contested id. */
#define SEQ_FAIL(...)							\
	do {								\
		if (seq_contested(seq_cur_id))				\
			sw->races++;					\
		else							\
			fz_fail(__VA_ARGS__);				\
	} while (0)

/* A step's result: 0 or -errno.  Returns 1 to go on. */
static int seq_step(long got, long want, const char *what)
{
	sw->steps++;
	fz_step = sw->steps;
	if (got == KID_GONE) {
		sw->gone++;
		return 0;
	}
	if (got == want)
		return 1;
	/* An unprivileged user's audit rate, a race with an exit. */
	if (got == -EAGAIN && sw->uid) {
		sw->refused++;
		return 0;
	}
	SEQ_FAIL("agent %u: %s: expected %s, got %s", seq_cur_id, what,
		 want < 0 ? errname(-want) : "success",
		 got < 0 ? errname(-got) : "a success");
	return 0;
}

static long ioc(unsigned long cmd, void *arg)
{
	return ioctl(asm_fd, cmd, arg) ? -errno : 0;
}

static long seq_patch(__u32 id, __u32 op, __u64 value)
{
	struct asm_patch p;

	patch_init(&p, id, op);
	if (op == ASM_PATCH_SET_LLM_RATE) {
		p.llm_burst = value >> 32;
		p.llm_refill = (__u32)value;
	} else {
		p.value = value;
	}
	return ioc(ASM_IOC_PATCH_POLICY, &p);
}

static long seq_note(__u32 id, __u32 kind)
{
	struct asm_note n;

	memset(&n, 0, sizeof(n));
	n.size = sizeof(n);
	n.version = ASM_ABI_VERSION;
	n.agent_id = id;
	n.kind = kind;
	snprintf(n.text, sizeof(n.text), "fuzz oversight %u", kind);
	return ioc(ASM_IOC_OVERSIGHT, &n);
}

static long seq_deps(__u32 op, __u32 a, __u32 b, __u32 kind)
{
	struct asm_deps d;

	memset(&d, 0, sizeof(d));
	d.size = sizeof(d);
	d.version = ASM_ABI_VERSION;
	d.op = op;
	d.kind = kind;
	d.dependent = a;
	d.dependency = b;
	return ioc(ASM_IOC_DEPS, &d);
}

/* The agent's info, or -errno. */
static long seq_info(__u32 id, struct asm_agent_info *i)
{
	return asm_get_info(asm_fd, id, i) ? -errno : 0;
}

/* Waits up to 5 s for agent @id to have @n processes; returns its state. */
static int seq_settle(__u32 id, __u32 n, struct asm_agent_info *i)
{
	int t;

	for (t = 0; t < 500; t++) {
		if (seq_info(id, i))
			return -1;
		if (i->nr_processes == n)
			return i->state;
		usleep(10000);
	}
	return -1;
}

/* Registers kid @k: by pid (root) or itself.  Returns 1 to go on. */
static int seq_register(struct seq_kid *k, __u32 id)
{
	struct asm_agent_info i;
	struct asm_register r;
	long got;

	seq_cur_id = id;
	if (!sw->uid && below(2)) {
		reg_init(&r, id, ASM_TARGET_PID, k->pid, "fzseq");
		r.capabilities = k->caps;
		got = ioc(ASM_IOC_REGISTER, &r);
		if (got == -ENOSPC) {
			sw->refused++;
			return 0;
		}
		if (!seq_step(got, 0, "REGISTER by pid"))
			return 0;
		got = kid_do(k, K_ID, &id, sizeof(id));
	} else {
		if (sw->uid)
			id = 0;
		got = kid_do(k, K_REGISTER, &id, sizeof(id));
		if (got == -ENOSPC || got == -EDQUOT) {
			sw->refused++;
			return 0;
		}
		if (got > 0) {
			id = got;
			seq_cur_id = id;
			got = 0;
		}
		if (!seq_step(got, 0, "REGISTER of itself"))
			return 0;
	}
	k->id = id;
	if (!seq_step(seq_info(id, &i), 0, "GET_INFO of the agent just registered"))
		return 0;
	if (i.owner_uid != (__u32)sw->cur_uid || i.capabilities != k->caps ||
	    i.state != ASM_STATE_SPAWNED || i.nr_processes != 1) {
		SEQ_FAIL("agent %u just registered: owner %u caps %#llx state %u processes %u",
			 id, i.owner_uid, (unsigned long long)i.capabilities, i.state, i.nr_processes);
		return 0;
	}
	return 1;
}

/* The cgroup part (root): a cgroup agent, processes moved in and out. */
static void seq_cgroup(struct seq_kid *b, int may_move_b)
{
	char dir[128], path[160], s[32];
	struct asm_agent_info i;
	struct asm_register r;
	__u32 id = SEQ_BASE + 64 * sw->index + 60 + below(4);
	pid_t sl;
	int fd, pfd;
	long got;

	snprintf(dir, sizeof(dir), CGROUP_ROOT "/asm_fuzz.%d.%ld", sw->index, sw->sequences);
	if (cgroup_make(dir))
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		goto out;
	seq_cur_id = id;
	asm_unregister(asm_fd, id);
	reg_init(&r, id, ASM_TARGET_CGROUP, 0, "fzcg");
	r.cgroup_fd = fd;
	got = ioc(ASM_IOC_REGISTER, &r);
	close(fd);
	if (got == -ENOSPC || !seq_step(got, 0, "REGISTER of a cgroup"))
		goto out;
	sw->cgroups++;
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	sl = fork();
	if (sl == 0) {
		for (;;)
			pause();
	}
	pfd = open(path, O_WRONLY | O_CLOEXEC);
	snprintf(s, sizeof(s), "%d", (int)sl);
	got = pfd >= 0 && write(pfd, s, strlen(s)) > 0 ? 0 : -errno;
	if (seq_step(got, 0, "moving a process into the cgroup")) {
		if (seq_settle(id, 1, &i) != ASM_STATE_ACTIVE)
			SEQ_FAIL("cgroup agent %u with a process moved in: state %u, %u processes",
				 id, i.state, i.nr_processes);
	}
	/* A process agent's member moved in leaves its agent for the cgroup's. */
	if (may_move_b && b->alive && below(2)) {
		snprintf(s, sizeof(s), "%d", (int)b->pid);
		got = write(pfd, s, strlen(s)) > 0 ? 0 : -errno;
		if (seq_step(got, 0, "moving an agent's process into the cgroup")) {
			if (seq_settle(id, 2, &i) < 0)
				SEQ_FAIL("cgroup agent %u: %u processes, not 2", id, i.nr_processes);
			seq_cur_id = b->id;
			if (seq_settle(b->id, 0, &i) < 0)
				SEQ_FAIL("agent %u: its process moved to a cgroup agent, still %u",
					 b->id, i.nr_processes);
			seq_cur_id = id;
		}
		b->moved = 1;
	}
	if (pfd >= 0)
		close(pfd);
	/* Everything out again: the agent has no process left. */
	pfd = open(CGROUP_ROOT "/cgroup.procs", O_WRONLY | O_CLOEXEC);
	if (pfd >= 0) {
		snprintf(s, sizeof(s), "%d", (int)sl);
		got = write(pfd, s, strlen(s)) > 0 ? 0 : -errno;
		if (b->alive && b->moved) {
			snprintf(s, sizeof(s), "%d", (int)b->pid);
			if (write(pfd, s, strlen(s)) <= 0)
				got = -errno;
		}
		close(pfd);
		if (seq_step(got, 0, "moving the processes out of the cgroup") &&
		    seq_settle(id, 0, &i) < 0)
			SEQ_FAIL("cgroup agent %u: %u processes after they moved out", id,
				 i.nr_processes);
	}
	kill(sl, SIGKILL);
	waitpid(sl, NULL, 0);
	seq_step(asm_unregister(asm_fd, id) ? -errno : 0, 0, "UNREGISTER of the cgroup agent");
out:
	rmdir(dir);
}

/* The limits an unprivileged owner lowers: far below any sane default. */
static long seq_lower_limits(__u32 id)
{
	struct asm_fault_policy p, e;
	long got;

	fp_init(&p, id, ASM_FP_SET_LIMITS);
	p.cpu_quota_ms = 900;
	p.syscall_rate = 1000000;
	p.watchdog_ms = 600000;
	p.mem_limit_bytes = 1ULL << 32;
	got = ioc(ASM_IOC_SET_FAULT_POLICY, &p);
	if (got != -EPERM)
		return got;
	/* Lower than the defaults (which the ioctl workers fuzz) only. */
	fp_init(&e, id, ASM_FP_EFFECTIVE);
	if (ioc(ASM_IOC_GET_FAULT_POLICY, &e))
		return got;
	if ((e.cpu_quota_ms && e.cpu_quota_ms < p.cpu_quota_ms) ||
	    (e.syscall_rate && e.syscall_rate < p.syscall_rate) ||
	    (e.watchdog_ms && e.watchdog_ms < p.watchdog_ms) ||
	    (e.mem_limit_bytes && e.mem_limit_bytes < p.mem_limit_bytes))
		return 0;	/* not lower: EPERM was right */
	return got;
}

/* One sequence. */
static void seq_one(void)
{
	static const __u64 user_caps[] = { ASM_CAP_FS_BASIC, ASM_CAP_FS_EXTENDED,
		ASM_CAP_NET_CLIENT, ASM_CAP_NET_SERVER, ASM_CAP_AUDIO_CONTROL,
		ASM_CAP_PROCESS_SPAWN };
	struct seq_kid a, b;
	struct asm_agent_info i;
	struct asm_fault_policy fp;
	__u64 caps = ASM_CAP_FS_BASIC, bit, missing;
	int root = !sw->uid, step, nsteps, edge = 0, k, status, want;
	__u32 burst = ASM_LLM_BURST_DEFAULT, refill = ASM_LLM_REFILL_DEFAULT;
	__u32 base = SEQ_BASE + 64 * sw->index + 2 * (sw->sequences % 29);
	long got;

	sw->sequences++;
	/* Each user has its own audit rate (32 registrations and
	 * unregistrations a minute): an unprivileged worker takes its
	 * sequences in turn as SEQ_UIDS users, or most would end at it. */
	if (sw->uid) {
		sw->cur_uid = sw->uid + SEQ_UID_STEP * (sw->sequences % SEQ_UIDS);
		if (setresuid(-1, 0, -1) || setresuid(sw->cur_uid, sw->cur_uid, 0))
			fz_fail("setresuid(%u): %s", sw->cur_uid, strerror(errno));
	}
	for (k = 1; k < 6; k++)
		if (below(2))
			caps |= user_caps[k];
	memset(&b, 0, sizeof(b));
	if (kid_spawn(&a, caps))
		return;
	if (root) {
		asm_unregister(asm_fd, base);
		asm_unregister(asm_fd, base + 1);
	}
	if (!seq_register(&a, base) || kid_spawn(&b, ASM_CAP_FS_BASIC) ||
	    !seq_register(&b, base + 1))
		goto end;
	seq_cur_id = a.id;

	/* Limits and actions first: the fuzzed defaults must not end it. */
	if (root) {
		fp_init(&fp, a.id, ASM_FP_SET_LIMITS | ASM_FP_SET_ACTIONS);
		fp.preset = ASM_PRESET_PERMISSIVE;
		fp.mem_limit_bytes = ASM_LIMIT_NONE64;
		fp.cpu_quota_ms = fp.syscall_rate = fp.watchdog_ms = ASM_LIMIT_NONE32;
		if (!seq_step(ioc(ASM_IOC_SET_FAULT_POLICY, &fp), 0,
			      "SET_FAULT_POLICY permissive, no limits, by root"))
			goto end;
	} else {
		if (!seq_step(seq_lower_limits(a.id), 0, "SET_FAULT_POLICY lowering the limits"))
			goto end;
		fp_init(&fp, a.id, ASM_FP_SET_ACTIONS);
		fp.preset = ASM_PRESET_PERMISSIVE;
		if (!seq_step(ioc(ASM_IOC_SET_FAULT_POLICY, &fp), -EPERM,
			      "SET_FAULT_POLICY of the actions by the owner"))
			goto end;
	}

	nsteps = 4 + below(10);
	for (step = 0; step < nsteps && sw->steps < sw->budget; step++) {
		seq_cur_id = a.id;
		switch (below(11)) {
		case 0:	/* narrowing, by the owner */
			bit = caps & ~ASM_CAP_FS_BASIC;
			if (!bit)
				break;
			bit &= -bit;
			if (!seq_step(seq_patch(a.id, ASM_PATCH_REMOVE_CAPABILITY, bit), 0,
				      "PATCH removing a capability, by the owner"))
				goto end;
			caps &= ~bit;
			if (!seq_step(seq_info(a.id, &i), 0, "GET_INFO after a patch"))
				goto end;
			if (i.capabilities != caps)
				SEQ_FAIL("agent %u: caps %#llx after a patch, expected %#llx", a.id,
					 (unsigned long long)i.capabilities, (unsigned long long)caps);
			break;
		case 1:	/* narrowing, by the agent itself */
			bit = caps & ~ASM_CAP_FS_BASIC;
			if (!bit)
				break;
			bit &= ~(bit - 1);
			if (!seq_step(kid_do(&a, K_NARROW, &bit, sizeof(bit)), 0,
				      "PATCH removing a capability, by the agent itself"))
				goto end;
			caps &= ~bit;
			break;
		case 2:	/* widening: root from outside only */
			missing = ASM_CAP_ALL & ~ASM_CAP_ADMIN & ~ASM_CAP_LLM_ACCESS & ~caps;
			if (!missing)
				break;
			bit = missing & -missing;
			/* From the agent itself: refused, whoever owns it. */
			if (!seq_step(kid_do(&a, K_WIDEN, &bit, sizeof(bit)), -EPERM,
				      "PATCH adding a capability, by the agent"))
				goto end;
			want = root ? 0 : -EPERM;
			if (!seq_step(seq_patch(a.id, ASM_PATCH_ADD_CAPABILITY, bit), want,
				      root ? "PATCH adding a capability, by root" :
				      "PATCH adding a capability, by an unprivileged owner"))
				goto end;
			if (root)
				caps |= bit;
			if (!seq_step(seq_info(a.id, &i), 0, "GET_INFO after a patch"))
				goto end;
			if (i.capabilities != caps)
				SEQ_FAIL("agent %u: caps %#llx after a widening, expected %#llx", a.id,
					 (unsigned long long)i.capabilities, (unsigned long long)caps);
			break;
		case 3:
			if (!seq_step(seq_patch(a.id, ASM_PATCH_ADD_CAPABILITY, ASM_CAP_ADMIN), -EPERM,
				      "PATCH granting Admin"))
				goto end;
			break;
		case 4:	/* the LLM bucket lowered, the risk level set */
			burst = 1 + below(burst);
			refill = 1 + below(refill);
			if (!seq_step(seq_patch(a.id, ASM_PATCH_SET_LLM_RATE,
						(__u64)burst << 32 | refill), 0,
				      "PATCH lowering the LLM bucket, by the owner"))
				goto end;
			if (!seq_step(seq_patch(a.id, ASM_PATCH_SET_RISK, 1 + below(3)),
				      root ? 0 : -EPERM, "PATCH of the risk level"))
				goto end;
			break;
		case 5:	/* oversight: root from outside only */
			if (!seq_step(seq_note(a.id, 1 + below(3)), root ? 0 : -EPERM,
				      "OVERSIGHT review/approve/reject"))
				goto end;
			if (!seq_step(kid_do(&a, K_OVERSIGHT, NULL, 0), -EPERM,
				      "OVERSIGHT by the agent itself"))
				goto end;
			break;
		case 6:
			got = kid_do(&a, K_DECISION, NULL, 0);
			if (got == -EAGAIN) {	/* the agent's own audit rate */
				sw->refused++;
				break;
			}
			if (!seq_step(got, a.id, "DECISION by the agent"))
				goto end;
			break;
		case 7:
			if (!seq_step(kid_do(&a, K_HEARTBEAT, NULL, 0), a.id, "HEARTBEAT by the agent"))
				goto end;
			break;
		case 8:	/* a fork, counted */
			if (!seq_step(kid_do(&a, K_FORK, NULL, 0), 0, "a fork by the agent"))
				goto end;
			if (!seq_step(seq_info(a.id, &i), 0, "GET_INFO after a fork"))
				goto end;
			if (i.spawns < 2 || i.exits < 1 || i.nr_processes != 1)
				SEQ_FAIL("agent %u after a fork and its exit: spawns %llu exits %llu "
					 "processes %u", a.id, (unsigned long long)i.spawns,
					 (unsigned long long)i.exits, i.nr_processes);
			break;
		case 9:	/* dependencies */
			if (edge)
				break;
			k = 1 + below(3);
			got = seq_deps(ASM_DEP_ADD, a.id, b.id, k);
			if (got == -EDQUOT || got == -ENOSPC || (got == -EAGAIN && !root)) {
				sw->refused++;
				break;
			}
			if (!seq_step(got, 0, "DEPS ADD"))
				goto end;
			edge = 1;
			seq_step(seq_deps(ASM_DEP_ADD, b.id, a.id, 1 + below(3)), -EEXIST,
				 "DEPS ADD of the reverse edge");
			seq_step(seq_deps(ASM_DEP_ADD, a.id, a.id, k), -EINVAL, "DEPS ADD of a loop");
			if (below(2)) {
				got = seq_deps(ASM_DEP_REMOVE, a.id, b.id, 0);
				if (seq_step(got, root ? 0 : -EPERM, "DEPS REMOVE") && root)
					edge = 0;
			}
			break;
		case 10:
			/* b's process leaving b would end b, and a cascade a. */
			if (root && below(3) == 0)
				seq_cgroup(&b, !edge);
			break;
		}
	}
	if (sw->steps >= sw->budget)
		goto end;

	/* The end: the dependent first (a Required edge would cascade). */
	seq_cur_id = a.id;
	k = below(3);
	if (k == 2 && root) {
		if (!seq_step(seq_note(a.id, ASM_OVERSIGHT_STOP), 0, "OVERSIGHT stop"))
			goto end;
		kid_end(&a, 0);
	} else {
		status = kid_end(&a, k == 1 ? K_CRASH : K_EXIT);
		if (k == 1 && !(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV))
			goto end;
		if (k != 1 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
			goto end;
	}
	want = k == 2 && root ? ASM_STATE_FAILED : k == 1 ? (root ? ASM_STATE_FAULT : -1) :
	       ASM_STATE_EXITED;
	got = seq_settle(a.id, 0, &i);
	if (got < 0)
		SEQ_FAIL("agent %u: processes left after its last one ended", a.id);
	else if (want >= 0 && got != want)
		SEQ_FAIL("agent %u ended by %s: state %ld, expected %d", a.id,
			 k == 2 ? "an oversight stop" : k == 1 ? "a crash" : "an exit", got, want);
	else if (want < 0 && (got == ASM_STATE_EXITED || got == ASM_STATE_ACTIVE))
		SEQ_FAIL("agent %u crashed: state %ld", a.id, got);
	if (!root && b.id && b.alive && !b.moved) {
		seq_cur_id = b.id;
		seq_step(asm_unregister(asm_fd, b.id) ? -errno : 0, -EPERM,
			 "UNREGISTER by the owner while it has processes");
	}
	sw->completed++;
end:
	kid_end(&a, 'k');
	kid_end(&b, 'k');
	if (a.id) {
		seq_cur_id = a.id;
		got = asm_unregister(asm_fd, a.id) ? -errno : 0;
		if (got != -EAGAIN || root)
			seq_step(got, 0, "UNREGISTER once its processes are gone");
		if (!got)
			seq_step(seq_info(a.id, &i), -ESRCH, "GET_INFO after UNREGISTER");
	}
	if (b.id) {
		seq_cur_id = b.id;
		got = asm_unregister(asm_fd, b.id) ? -errno : 0;
		if (got != -EAGAIN || root)
			seq_step(got, 0, "UNREGISTER of the second agent");
	}
}

static void seq_worker(int index, int uid, long steps, uint64_t seed, struct fz_report *rep)
{
	uint64_t start = now_ns(CLOCK_MONOTONIC);
	struct seq_worker w;

	memset(&w, 0, sizeof(w));
	w.uid = uid;
	w.index = index;
	w.budget = steps;
	sw = &w;
	rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	fz_seed = seed;
	fz_who = uid ? "sequence worker (unprivileged)" : "sequence worker (root)";
	while (w.steps < steps)
		seq_one();
	ktap_msg("sequence worker %d (uid %d): %ld sequences (%ld to their end), %ld steps; %ld "
		 "refused (rates, quotas), %ld kids gone, %ld races, %ld cgroup agents; %llu s",
		 index, uid, w.sequences, w.completed, w.steps, w.refused, w.gone, w.races, w.cgroups,
		 (unsigned long long)(now_ns(CLOCK_MONOTONIC) - start) / 1000000000);
	rep->made = w.steps;
	rep->want = steps;
	rep->fails = fz_fails;
	rep->a = w.sequences;
	rep->b = w.completed;
}

#endif /* ASM_FUZZ_SEQ_H */
