// SPDX-License-Identifier: GPL-2.0
/*
 * asm_policy_test - capabilities, scope, hot patches, the audit trail and
 * compliance scores (KTAP).
 *
 * Each case registers a "kid" (a forked child that runs requests from a
 * pipe: open, connect, listen, fork+exec, patch, exit) as an agent with
 * some policy, has it act inside and outside that policy, and checks what
 * the module did (the kid's wait status, whether the operation happened)
 * and what it recorded (ASM_IOC_GET_AUDIT, GET_INFO, GET_COMPLIANCE,
 * /proc/agentsys/compliance).
 *
 * Agent ids: 5400 to 5410.  Files live under /tmp/asm-policy.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "asm_util.h"

#define DIR		"/tmp/asm-policy"
#define WS		DIR "/ws"

enum op {
	OP_OPEN_W = 1,	/* arg: path; creates it and writes one byte */
	OP_OPEN_R,	/* arg: path */
	OP_CONNECT,	/* num: port on 127.0.0.1 */
	OP_LISTEN,	/* an AF_INET socket on 127.0.0.1, any port */
	OP_EXEC,	/* fork, exec /bin/true in the child; result: status */
	OP_PATCH,	/* num: patch op, num2: value; on its own agent */
	OP_FORK_EXIT,	/* num: a forked child's exit code */
	OP_DECISION,	/* arg: text */
	OP_EXIT,	/* num: exit code */
	OP_UNREGISTER,	/* its own agent */
	OP_EXEC_ORPHAN,	/* a grandchild, orphaned first, execs /bin/true */
};

struct req {
	int op;
	long num, num2;
	__u32 id;
	char arg[128];
};

struct pkid {
	pid_t pid;
	int req_fd, res_fd;
};

static int patch_self(__u32 id, __u32 op, __u64 value)
{
	struct asm_patch p;
	int fd = asm_open();
	int ret;

	patch_init(&p, id, op);
	p.value = value;
	ret = ioctl(fd, ASM_IOC_PATCH_POLICY, &p) ? errno : 0;
	close(fd);
	return ret;
}

static int do_req(const struct req *r)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct asm_note n;
	int fd, ret, status;
	pid_t pid;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	switch (r->op) {
	case OP_OPEN_W:
	case OP_OPEN_R:
		fd = open(r->arg, r->op == OP_OPEN_W ? O_WRONLY | O_CREAT | O_TRUNC : O_RDONLY,
			  0644);
		if (fd < 0)
			return errno;
		if (r->op == OP_OPEN_W && write(fd, "x", 1) != 1)
			ret = errno;
		else
			ret = 0;
		close(fd);
		return ret;
	case OP_CONNECT:
	case OP_LISTEN:
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			return errno;
		sa.sin_port = htons(r->num);
		if (r->op == OP_CONNECT)
			ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		else
			ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ?: listen(fd, 1);
		ret = ret ? errno : 0;
		close(fd);
		return ret;
	case OP_EXEC:
	case OP_FORK_EXIT:
		pid = fork();
		if (pid < 0)
			return errno;
		if (pid == 0) {
			if (r->op == OP_EXEC)
				execl("/bin/true", "true", (char *)NULL);
			_exit(r->num);
		}
		if (waitpid(pid, &status, 0) != pid)
			return errno;
		return status;
	case OP_PATCH:
		return patch_self(r->id, r->num, r->num2);
	case OP_DECISION:
		memset(&n, 0, sizeof(n));
		n.size = sizeof(n);
		n.version = ASM_ABI_VERSION;
		snprintf(n.text, sizeof(n.text), "%s", r->arg);
		fd = asm_open();
		ret = ioctl(fd, ASM_IOC_DECISION, &n) ? errno : 0;
		close(fd);
		return ret;
	case OP_EXIT:
		_exit(r->num);
	case OP_UNREGISTER:
		fd = asm_open();
		ret = asm_unregister(fd, r->id) ? errno : 0;
		close(fd);
		return ret;
	case OP_EXEC_ORPHAN:
		pid = fork();
		if (pid < 0)
			return errno;
		if (pid == 0) {
			/* The grandchild is reparented before it execs. */
			if (fork() == 0) {
				usleep(200000);
				execl("/bin/true", "true", (char *)NULL);
				_exit(127);
			}
			_exit(0);
		}
		waitpid(pid, &status, 0);
		usleep(2000000);
		return 0;
	}
	return EINVAL;
}

static void pkid_start(struct pkid *k)
{
	int req[2], res[2];

	if (pipe(req) || pipe(res))
		ktap_bail("pipe: %s", strerror(errno));
	fflush(stdout);
	k->pid = fork();
	if (k->pid < 0)
		ktap_bail("fork: %s", strerror(errno));
	if (k->pid == 0) {
		struct req r;

		close(req[1]);
		close(res[0]);
		while (read(req[0], &r, sizeof(r)) == sizeof(r)) {
			int v = do_req(&r);

			if (write(res[1], &v, sizeof(v)) != sizeof(v))
				_exit(1);
		}
		_exit(0);
	}
	close(req[0]);
	close(res[1]);
	k->req_fd = req[1];
	k->res_fd = res[0];
}

#define KID_DEAD	(-1000)

/* Runs one request; its result, KID_DEAD if the kid died meanwhile. */
static int pkid_do(struct pkid *k, int op, long num, long num2, const char *arg)
{
	struct req r = { .op = op, .num = num, .num2 = num2 };
	struct pollfd p = { .fd = k->res_fd, .events = POLLIN };
	int v;

	if (arg)
		snprintf(r.arg, sizeof(r.arg), "%s", arg);
	r.id = 0;
	if (write(k->req_fd, &r, sizeof(r)) != sizeof(r))
		return KID_DEAD;
	if (poll(&p, 1, 20000) != 1)
		ktap_bail("kid %d: no answer to request %d", (int)k->pid, op);
	if (read(k->res_fd, &v, sizeof(v)) != sizeof(v))
		return KID_DEAD;
	return v;
}

/* A request that carries the kid's agent id (patches, unregister). */
static int pkid_req_id(struct pkid *k, int what, __u32 id, __u32 op, __u64 value)
{
	struct req r = { .op = what, .num = op, .num2 = value, .id = id };
	int v;

	if (write(k->req_fd, &r, sizeof(r)) != sizeof(r) ||
	    read(k->res_fd, &v, sizeof(v)) != sizeof(v))
		return KID_DEAD;
	return v;
}

static int pkid_patch(struct pkid *k, __u32 id, __u32 op, __u64 value)
{
	return pkid_req_id(k, OP_PATCH, id, op, value);
}

/* Reaps the kid; returns its wait status. */
static int pkid_end(struct pkid *k)
{
	int status = -1;

	close(k->req_fd);
	close(k->res_fd);
	waitpid(k->pid, &status, 0);
	return status;
}

/*
 * Waits up to 10 s for a kid the module is killing, pipes still open (a
 * kid that sees them closed exits by itself); returns its wait status, -1
 * if it did not end.
 */
static int pkid_wait(struct pkid *k)
{
	uint64_t end = now_ns(CLOCK_MONOTONIC) + 10000000000ull;
	int status = -1;

	while (now_ns(CLOCK_MONOTONIC) < end) {
		if (waitpid(k->pid, &status, WNOHANG) == k->pid)
			break;
		usleep(20000);
		status = -1;
	}
	if (status == -1) {
		kill(k->pid, SIGKILL);
		waitpid(k->pid, NULL, 0);
	}
	close(k->req_fd);
	close(k->res_fd);
	return status;
}

static int killed_by_sigkill(int status)
{
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

/* Registers kid @k as agent @id with @caps, @scope and @risk. */
static int reg_kid(struct pkid *k, __u32 id, __u64 caps, const char *scope, __u32 risk)
{
	struct asm_register r;

	reg_init(&r, id, ASM_TARGET_PID, k->pid, "policy-kid");
	r.capabilities = caps;
	r.risk_level = risk;
	snprintf(r.scope, sizeof(r.scope), "%s", scope ? scope : "");
	return ioctl(asm_fd, ASM_IOC_REGISTER, &r);
}

static int patch(__u32 id, __u32 op, __u64 value, const char *scope, __u64 *seq)
{
	struct asm_patch p;
	int ret;

	patch_init(&p, id, op);
	p.value = value;
	if (scope)
		snprintf(p.scope, sizeof(p.scope), "%s", scope);
	ret = ioctl(asm_fd, ASM_IOC_PATCH_POLICY, &p);
	if (seq)
		*seq = p.audit_seq;
	return ret;
}

/* Agent @id logs violations and crashes (one request sets every action). */
static int set_actions_log(__u32 id)
{
	struct asm_fault_policy p;

	memset(&p, 0, sizeof(p));
	p.size = sizeof(p);
	p.version = ASM_ABI_VERSION;
	p.agent_id = id;
	p.flags = ASM_FP_SET_ACTIONS;
	p.actions[ASM_FAULT_CAPABILITY] = ASM_ACTION_LOG;
	p.actions[ASM_FAULT_CRASH] = ASM_ACTION_LOG;
	return ioctl(asm_fd, ASM_IOC_SET_FAULT_POLICY, &p);
}

static void get_info(__u32 id, struct asm_agent_info *info)
{
	if (asm_get_info(asm_fd, id, info))
		ktap_msg("GET_INFO %u: %s", id, strerror(errno));
}

static int get_compliance(__u32 id, struct asm_compliance *c)
{
	memset(c, 0, sizeof(*c));
	c->size = sizeof(*c);
	c->version = ASM_ABI_VERSION;
	c->agent_id = id;
	return ioctl(asm_fd, ASM_IOC_GET_COMPLIANCE, c);
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : st.st_size;
}

/* 1: a scoped agent writes inside its scope and dies opening outside. */
static void test_scope(void)
{
	const __u32 id = 5400;
	const struct asm_audit_entry *e;
	struct asm_agent_info info;
	struct pkid k;
	int v, status;

	ktap_case_start();
	unlink(DIR "/outside");
	pkid_start(&k);
	ktap_expect_ok(reg_kid(&k, id, ASM_CAP_FS_BASIC, WS, 0), "register scoped kid");
	v = pkid_do(&k, OP_OPEN_W, 0, 0, WS "/inside");
	ktap_expect_u64(v, 0, "write inside the scope");
	ktap_expect_u64(file_size(WS "/inside"), 1, "size of the file written inside");
	v = pkid_do(&k, OP_OPEN_R, 0, 0, "/etc/passwd");
	ktap_expect_u64(v, 0, "read of the system set (/etc)");
	v = pkid_do(&k, OP_OPEN_W, 0, 0, DIR "/outside");
	ktap_expect(v == KID_DEAD, "open outside the scope returned %d to the kid", v);
	status = pkid_wait(&k);
	ktap_expect(killed_by_sigkill(status), "kid status 0x%x, want SIGKILL", status);
	/* Detected when open() returns: the file exists, nothing was written. */
	ktap_expect_u64(file_size(DIR "/outside"), 0, "bytes written outside");
	get_info(id, &info);
	ktap_expect_u64(info.state, ASM_STATE_FAILED, "state");
	ktap_expect(info.faults >= 1, "faults %llu", (unsigned long long)info.faults);
	e = last_entry(ASM_AUDIT_VIOLATION, id);
	ktap_expect(e != NULL, "no violation in the audit trail");
	if (e) {
		ktap_expect_u64(e->op, ASM_VIOLATION_FILE, "violation type");
		ktap_expect_u64(e->new_value, ASM_ACTION_KILL, "action");
		ktap_expect(strstr(e->detail, DIR "/outside") != NULL, "detail '%s'", e->detail);
		ktap_expect(e->pid == k.pid, "audited pid %d, kid %d", e->pid, (int)k.pid);
	}
	asm_unregister(asm_fd, id);
	ktap_case_end("scope: write inside works, an open outside kills the agent, audited");
}

/* 2: narrowing the scope of a running agent applies at its next open. */
static void test_scope_patch(void)
{
	const __u32 id = 5401;
	const struct asm_audit_entry *e;
	struct pkid k;
	__u64 seq = 0;
	int v, status;

	ktap_case_start();
	pkid_start(&k);
	ktap_expect_ok(reg_kid(&k, id, ASM_CAP_FS_BASIC, WS, 0), "register");
	ktap_expect_u64(pkid_do(&k, OP_OPEN_W, 0, 0, WS "/sub/a"), 0, "write in ws/sub");
	ktap_expect_u64(pkid_do(&k, OP_OPEN_W, 0, 0, WS "/b"), 0, "write in ws");
	ktap_expect_ok(patch(id, ASM_PATCH_UPDATE_SCOPE, 0, WS "/sub", &seq), "narrow scope");
	e = last_entry(ASM_AUDIT_PATCH, id);
	ktap_expect(e && e->seq == seq && e->result == 0 &&
		    strstr(e->detail, "\"" WS "\" -> \"" WS "/sub\""),
		    "patch entry: %s", e ? e->detail : "none");
	ktap_expect_u64(pkid_do(&k, OP_OPEN_W, 0, 0, WS "/sub/a"), 0, "write in the new scope");
	v = pkid_do(&k, OP_OPEN_W, 0, 0, WS "/b");
	ktap_expect(v == KID_DEAD, "write in the old scope returned %d", v);
	status = pkid_wait(&k);
	ktap_expect(killed_by_sigkill(status), "kid status 0x%x", status);
	/* Widening is the administrator's only: its owner (root here) is. */
	ktap_expect_ok(patch(id, ASM_PATCH_UPDATE_SCOPE, 0, "/tmp", NULL), "root widens");
	asm_unregister(asm_fd, id);
	ktap_case_end("a narrowed scope applies to the running agent at once");
}

/* 3: removing NetClient makes the next connect a violation, not done. */
static void test_netclient(void)
{
	const __u32 id = 5402;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const struct asm_audit_entry *e;
	socklen_t len = sizeof(sa);
	int ls, c1, c2, v, status;
	struct pkid k;

	ktap_case_start();
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 8) ||
	    getsockname(ls, (struct sockaddr *)&sa, &len))
		ktap_bail("listener: %s", strerror(errno));
	pkid_start(&k);
	ktap_expect_ok(reg_kid(&k, id, ASM_CAP_NET_CLIENT, NULL, 0), "register");
	v = pkid_do(&k, OP_CONNECT, ntohs(sa.sin_port), 0, NULL);
	ktap_expect_u64(v, 0, "connect with NetClient");
	ktap_expect_ok(patch(id, ASM_PATCH_REMOVE_CAPABILITY, ASM_CAP_NET_CLIENT, NULL, NULL),
		       "remove NetClient");
	v = pkid_do(&k, OP_CONNECT, ntohs(sa.sin_port), 0, NULL);
	ktap_expect(v == KID_DEAD, "connect without NetClient returned %d", v);
	status = pkid_wait(&k);
	ktap_expect(killed_by_sigkill(status), "kid status 0x%x", status);
	c1 = accept(ls, NULL, NULL);
	c2 = accept(ls, NULL, NULL);
	ktap_expect(c1 >= 0, "the first connect did not arrive");
	ktap_expect(c2 < 0 && errno == EAGAIN, "the refused connect arrived");
	if (c1 >= 0)
		close(c1);
	if (c2 >= 0)
		close(c2);
	close(ls);
	e = last_entry(ASM_AUDIT_VIOLATION, id);
	ktap_expect(e && e->op == ASM_VIOLATION_CONNECT && strstr(e->detail, "AF_INET"),
		    "violation entry: %s", e ? e->detail : "none");
	asm_unregister(asm_fd, id);
	ktap_case_end("NetClient removed from a running agent: its next connect is a violation");
}

/* 4: listen without NetServer, exec without ProcessSpawn. */
static void test_listen_exec(void)
{
	struct pkid k;
	int v, status;

	ktap_case_start();
	pkid_start(&k);
	ktap_expect_ok(reg_kid(&k, 5403, ASM_CAP_PROCESS_SPAWN, NULL, 0), "register");
	v = pkid_do(&k, OP_EXEC, 0, 0, NULL);
	ktap_expect(v == 0, "exec with ProcessSpawn: status 0x%x", v);
	v = pkid_do(&k, OP_LISTEN, 0, 0, NULL);
	ktap_expect(v == KID_DEAD, "listen without NetServer returned %d", v);
	status = pkid_wait(&k);
	ktap_expect(killed_by_sigkill(status), "listen kid status 0x%x", status);
	asm_unregister(asm_fd, 5403);

	pkid_start(&k);
	ktap_expect_ok(reg_kid(&k, 5404, ASM_CAP_NET_SERVER, NULL, 0), "register");
	ktap_expect_u64(pkid_do(&k, OP_LISTEN, 0, 0, NULL), 0, "listen with NetServer");
	/* The exec'ing child dies at once; the kid when the sampler runs. */
	v = pkid_do(&k, OP_EXEC, 0, 0, NULL);
	ktap_expect(v == KID_DEAD || killed_by_sigkill(v),
		    "exec without ProcessSpawn returned %d", v);
	status = pkid_wait(&k);
	ktap_expect(killed_by_sigkill(status), "exec kid status 0x%x", status);
	ktap_expect(last_entry(ASM_AUDIT_VIOLATION, 5404) &&
		    last_entry(ASM_AUDIT_VIOLATION, 5404)->op == ASM_VIOLATION_EXEC,
		    "no exec violation audited");
	{
		/* Its launcher learns what it tried from the agent's JSON. */
		static char doc[8192];
		const char *lv;
		char detail[256] = "";

		ktap_expect(asm_get_json(asm_fd, ASM_IOC_GET_AGENT_INFO_JSON, 5404, doc,
					 sizeof(doc)) > 0, "agent JSON");
		lv = json_find(doc, "last_violation");
		ktap_expect(lv && json_expect(lv, "type", "\"Exec\"") &&
			    !json_raw(lv, "detail", detail, sizeof(detail)) &&
			    strstr(detail, "/true\""),
			    "last_violation names the program: %s", detail);
	}
	asm_unregister(asm_fd, 5404);

	/* Forked in, then orphaned: its exec is still the agent's spawn. */
	pkid_start(&k);
	ktap_expect_ok(reg_kid(&k, 5410, 0, NULL, 0), "register");
	v = pkid_do(&k, OP_EXEC_ORPHAN, 0, 0, NULL);
	status = pkid_wait(&k);
	ktap_expect(killed_by_sigkill(status), "orphan-exec kid status 0x%x (result %d)", status, v);
	ktap_expect(last_entry(ASM_AUDIT_VIOLATION, 5410) &&
		    last_entry(ASM_AUDIT_VIOLATION, 5410)->op == ASM_VIOLATION_EXEC,
		    "no orphan exec violation audited");
	asm_unregister(asm_fd, 5410);
	ktap_case_end("listen without NetServer and exec without ProcessSpawn kill the agent");
}

/* 5: Admin is never granted; an agent cannot widen itself. */
static void test_escalation(void)
{
	const __u32 id = 5405;
	const struct asm_audit_entry *e;
	struct asm_agent_info info;
	struct pkid k;
	__u64 seq = 0;

	ktap_case_start();
	pkid_start(&k);
	ktap_expect_ok(reg_kid(&k, id, ASM_CAP_FS_BASIC | ASM_CAP_AUDIO_CONTROL, NULL, 0),
		       "register");
	ktap_expect_err(patch(id, ASM_PATCH_ADD_CAPABILITY, ASM_CAP_ADMIN, NULL, &seq), EPERM,
			"root grants Admin");
	e = last_entry(ASM_AUDIT_ESCALATION, id);
	ktap_expect(e && e->seq == seq && e->result == -EPERM,
		    "escalation entry seq %llu result %d",
		    e ? (unsigned long long)e->seq : 0ULL, e ? e->result : 0);
	ktap_expect_u64(pkid_patch(&k, id, ASM_PATCH_ADD_CAPABILITY, ASM_CAP_NET_CLIENT), EPERM,
			"the agent adds NetClient to itself");
	e = last_entry(ASM_AUDIT_PATCH, id);
	ktap_expect(e && e->result == -EPERM && e->pid == k.pid, "refused self-patch not audited");
	ktap_expect_u64(pkid_patch(&k, id, ASM_PATCH_SET_AUTO_RESTART, 5), EPERM,
			"the agent raises its restart budget");
	ktap_expect_u64(pkid_patch(&k, id, ASM_PATCH_REMOVE_CAPABILITY, ASM_CAP_AUDIO_CONTROL), 0,
			"the agent drops AudioControl");
	ktap_expect_u64(pkid_req_id(&k, OP_UNREGISTER, id, 0, 0), EPERM,
			"the agent unregisters itself");
	get_info(id, &info);
	ktap_expect_u64(info.capabilities, ASM_CAP_FS_BASIC, "capabilities after");
	ktap_expect_u64(info.auto_restart, 0, "auto_restart after");
	pkid_end(&k);
	asm_unregister(asm_fd, id);
	ktap_case_end("Admin is refused and audited; an agent can narrow but not widen itself");
}

/* 6: an unprivileged user who does not own the agent cannot patch it. */
static void test_unprivileged(void)
{
	const __u32 id = 5406;
	struct asm_agent_info info;
	int res[2], v[3] = { -1, -1, -1 };
	struct pkid k;
	pid_t pid;

	ktap_case_start();
	pkid_start(&k);
	ktap_expect_ok(reg_kid(&k, id, ASM_CAP_FS_BASIC | ASM_CAP_NET_CLIENT, NULL, 0),
		       "register");
	if (pipe(res))
		ktap_bail("pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		int out[3];

		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(2);
		out[0] = patch(id, ASM_PATCH_REMOVE_CAPABILITY, ASM_CAP_NET_CLIENT, NULL, NULL)
				 ? errno : 0;
		out[1] = patch(id, ASM_PATCH_ADD_CAPABILITY, ASM_CAP_NET_SERVER, NULL, NULL)
				 ? errno : 0;
		out[2] = patch(id, ASM_PATCH_SET_AUTO_RESTART, 0, NULL, NULL) ? errno : 0;
		_exit(write(res[1], out, sizeof(out)) == sizeof(out) ? 0 : 1);
	}
	close(res[1]);
	if (read(res[0], v, sizeof(v)) != sizeof(v))
		ktap_msg("the unprivileged child reported nothing");
	close(res[0]);
	waitpid(pid, NULL, 0);
	/* Root's agent is not there for another user: ESRCH, nothing changes. */
	ktap_expect_u64(v[0], ESRCH, "nobody narrows");
	ktap_expect_u64(v[1], ESRCH, "nobody widens");
	ktap_expect_u64(v[2], ESRCH, "nobody sets auto-restart");
	get_info(id, &info);
	ktap_expect_u64(info.capabilities, ASM_CAP_FS_BASIC | ASM_CAP_NET_CLIENT, "capabilities");
	pkid_end(&k);
	asm_unregister(asm_fd, id);
	ktap_case_end("an unprivileged user cannot patch an agent it does not own");
}

/* 7: an Unacceptable agent is refused, and the refusal audited. */
static void test_unacceptable(void)
{
	const struct asm_audit_entry *e;
	struct asm_agent_info info;
	struct pkid k;

	ktap_case_start();
	pkid_start(&k);
	ktap_expect_err(reg_kid(&k, 5407, 0, NULL, ASM_RISK_UNACCEPTABLE), EPERM,
			"register Unacceptable");
	ktap_expect_err(asm_get_info(asm_fd, 5407, &info), ESRCH, "not registered");
	e = last_entry(ASM_AUDIT_REGISTER, 5407);
	ktap_expect(e && e->result == -EPERM && e->new_value == ASM_RISK_UNACCEPTABLE,
		    "refusal not audited");
	ktap_expect_ok(reg_kid(&k, 5407, 0, NULL, ASM_RISK_HIGH), "register High");
	get_info(5407, &info);
	ktap_expect_u64(info.risk_level, ASM_RISK_HIGH, "risk level");
	ktap_expect_err(patch(5407, ASM_PATCH_SET_RISK, ASM_RISK_UNACCEPTABLE, NULL, NULL), EPERM,
			"patch to Unacceptable");
	ktap_expect_ok(patch(5407, ASM_PATCH_SET_RISK, ASM_RISK_MINIMAL, NULL, NULL),
		       "patch to Minimal");
	get_info(5407, &info);
	ktap_expect_u64(info.risk_level, ASM_RISK_MINIMAL, "risk level after");
	pkid_end(&k);
	asm_unregister(asm_fd, 5407);
	ktap_case_end("risk levels: Unacceptable refused and audited, others patchable");
}

/* 8: sensitive paths and decisions are logged; the trail is chained. */
static void test_logged_events(void)
{
	const __u32 id = 5408;
	const struct asm_audit_entry *e;
	struct asm_sensitive s;
	struct asm_compliance c;
	struct asm_audit_read r;
	struct asm_note n;
	struct pkid k;
	int i, count;

	ktap_case_start();
	memset(&s, 0, sizeof(s));
	s.size = sizeof(s);
	s.version = ASM_ABI_VERSION;
	s.op = ASM_SENSITIVE_ADD;
	snprintf(s.path, sizeof(s.path), "%s", DIR "/secret");
	ktap_expect_ok(ioctl(asm_fd, ASM_IOC_SENSITIVE, &s), "mark sensitive");
	ktap_expect_u64(s.count, 1, "paths marked");
	s.count = 0;
	ktap_expect_err(ioctl(asm_fd, ASM_IOC_SENSITIVE, &s), EEXIST, "mark twice");
	pkid_start(&k);
	ktap_expect_ok(reg_kid(&k, id, ASM_CAP_FS_BASIC, NULL, 0), "register");
	ktap_expect_u64(pkid_do(&k, OP_OPEN_R, 0, 0, DIR "/secret/data"), 0, "read secret");
	ktap_expect_u64(pkid_do(&k, OP_OPEN_R, 0, 0, DIR "/other"), 0, "read other");
	ktap_expect_u64(pkid_do(&k, OP_DECISION, 0, 0, "approved request 42"), 0, "decision");
	e = last_entry(ASM_AUDIT_SENSITIVE, id);
	ktap_expect(e && !strcmp(e->detail, DIR "/secret/data"), "sensitive entry: %s",
		    e ? e->detail : "none");
	e = last_entry(ASM_AUDIT_DECISION, id);
	ktap_expect(e && !strcmp(e->detail, "approved request 42") && e->pid == k.pid,
		    "decision entry: %s", e ? e->detail : "none");
	ktap_expect_ok(get_compliance(id, &c), "GET_COMPLIANCE");
	ktap_expect_u64(c.sensitive, 1, "sensitive opens");
	ktap_expect_u64(c.decisions, 1, "decisions");
	ktap_expect_u64(c.violations, 0, "violations");
	memset(&n, 0, sizeof(n));
	n.size = sizeof(n);
	n.version = ASM_ABI_VERSION;
	snprintf(n.text, sizeof(n.text), "not an agent");
	ktap_expect_err(ioctl(asm_fd, ASM_IOC_DECISION, &n), ESRCH, "decision from a non-agent");
	s.op = ASM_SENSITIVE_REMOVE;
	s.count = 0;
	ktap_expect_ok(ioctl(asm_fd, ASM_IOC_SENSITIVE, &s), "unmark");
	ktap_expect_u64(s.count, 0, "paths marked after");
	pkid_end(&k);
	asm_unregister(asm_fd, id);

	count = read_trail(&r);
	ktap_expect(count > 0 && r.next_seq == r.first_seq + count, "trail: %d entries, %llu..%llu",
		    count, (unsigned long long)r.first_seq, (unsigned long long)r.next_seq);
	for (i = 1; i < count; i++) {
		if (trail[i].seq != trail[i - 1].seq + 1 ||
		    memcmp(trail[i].prev_hash, trail[i - 1].hash, ASM_AUDIT_HASH_LEN)) {
			ktap_fail_msg("entry %llu does not chain to %llu",
				      (unsigned long long)trail[i].seq,
				      (unsigned long long)trail[i - 1].seq);
			break;
		}
	}
	ktap_case_end("sensitive opens and decisions are logged; entries chain by hash");
}

/* Reads /proc/agentsys/compliance into @buf. */
static void read_proc_compliance(char *buf, size_t len)
{
	int fd = open("/proc/agentsys/compliance", O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);

	buf[n > 0 ? n : 0] = 0;
	if (fd >= 0)
		close(fd);
}

/*
 * 9: a scripted scenario gives the score the formula predicts: 4 clean
 * exits (3 children and the kid), 1 crash, 2 violations (logged, not
 * killed), 1 oversight action:
 *   1000 - 2 * 150 - 1 * 50 + 1 * 25 + 4 * 10 = 715: REVIEW_NEEDED.
 */
static void test_score(void)
{
	const __u32 id = 5409;
	struct asm_compliance c;
	static char buf[65536];
	char want[128], *block;
	struct asm_note n;
	struct pkid k;
	int i, status;

	ktap_case_start();
	pkid_start(&k);
	ktap_expect_ok(reg_kid(&k, id, 0, NULL, ASM_RISK_HIGH), "register");
	ktap_expect_ok(set_actions_log(id), "log violations and crashes");
	ktap_expect_ok(get_compliance(id, &c), "GET_COMPLIANCE");
	ktap_expect_u64(c.score, 1000, "score of a new agent");
	for (i = 0; i < 3; i++)
		ktap_expect_u64(pkid_do(&k, OP_FORK_EXIT, 0, 0, NULL), 0, "clean child");
	ktap_expect_u64(pkid_do(&k, OP_FORK_EXIT, 1, 0, NULL), 1 << 8, "crashing child");
	for (i = 0; i < 2; i++)
		ktap_expect_u64(pkid_do(&k, OP_OPEN_R, 0, 0, DIR "/other"), 0, "logged violation");
	memset(&n, 0, sizeof(n));
	n.size = sizeof(n);
	n.version = ASM_ABI_VERSION;
	n.agent_id = id;
	n.kind = ASM_OVERSIGHT_REVIEW;
	snprintf(n.text, sizeof(n.text), "weekly review");
	ktap_expect_ok(ioctl(asm_fd, ASM_IOC_OVERSIGHT, &n), "oversight review");
	pkid_do(&k, OP_EXIT, 0, 0, NULL);
	status = pkid_end(&k);
	ktap_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "kid status 0x%x", status);
	ktap_expect_ok(get_compliance(id, &c), "GET_COMPLIANCE");
	ktap_expect_u64(c.clean_exits, 4, "clean exits");
	ktap_expect_u64(c.crashes, 1, "crashes");
	ktap_expect_u64(c.violations, 2, "violations");
	ktap_expect_u64(c.oversight, 1, "oversight");
	ktap_expect_u64(c.score, 715, "score");
	ktap_expect_u64(c.status, ASM_REVIEW_NEEDED, "status");
	ktap_expect_u64(c.risk_level, ASM_RISK_HIGH, "risk level");
	read_proc_compliance(buf, sizeof(buf));
	snprintf(want, sizeof(want), "Agent ID: %u\n", id);
	block = strstr(buf, want);
	ktap_expect(block != NULL, "agent %u not in /proc/agentsys/compliance", id);
	if (block) {
		ktap_expect(strstr(block, "  Risk Level:       High\n") &&
			    strstr(block, "  Violations:       2\n") &&
			    strstr(block, "  Human Oversight:  1\n") &&
			    strstr(block, "  Compliance Score: 71.5%\n") &&
			    strstr(block, "  Status:           REVIEW_NEEDED\n"),
			    "/proc block:\n%.400s", block);
	}
	asm_unregister(asm_fd, id);
	ktap_case_end("scenario: the score and status are the formula's (715, REVIEW_NEEDED)");
}

int main(void)
{
	ktap_header(9);
	/* A kid the module killed must not take the test down with it. */
	signal(SIGPIPE, SIG_IGN);
	asm_fd = asm_open();
	if (asm_fd < 0)
		ktap_bail("open %s: %s", ASM_DEVICE_PATH, strerror(errno));
	if (mkdir(DIR, 0755) && errno != EEXIST)
		ktap_bail("mkdir %s: %s", DIR, strerror(errno));
	mkdir(WS, 0755);
	mkdir(WS "/sub", 0755);
	mkdir(DIR "/secret", 0755);
	close(open(DIR "/secret/data", O_WRONLY | O_CREAT, 0644));
	close(open(DIR "/other", O_WRONLY | O_CREAT, 0644));
	test_scope();
	test_scope_patch();
	test_netclient();
	test_listen_exec();
	test_escalation();
	test_unprivileged();
	test_unacceptable();
	test_logged_events();
	test_score();
	ktap_finish();
}
