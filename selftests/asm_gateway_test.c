// SPDX-License-Identifier: GPL-2.0
/*
 * asm_gateway_test - the LLM gateway's kernel side (KTAP): ASM_IOC_LLM_REQUEST,
 * the token buckets, and the netlink channel to the helper.
 *
 * The helper here is a test double: a forked child that registers over the
 * "asm" generic netlink family, waits for GW_NOTIFY on the gateway group,
 * pulls requests and answers them by their prompt ("echo ..." is echoed,
 * "fallback ..." is answered by gpt4 after claude failed, "fail" fails
 * with EIO, "slow" is never answered).  The requesters are forked children
 * that register themselves as agents.
 *
 * Agent ids: 5600 to 5620.  The cases after the bucket's also cover
 * SET_LLM_RATE, ASM_LLM_SUBMIT/COLLECT with poll(), the LLM trail and the
 * llm_request events.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <sys/socket.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "asm_util.h"
#include "asm_gw.h"

#define ID	5600

/* Answers one pulled request by its prompt. */
static void helper_answer(int fd, struct pulled *p)
{
	__u32 tried[2] = { ASM_LLM_CLAUDE, ASM_LLM_GPT4 };
	__u32 provider = p->provider ? p->provider : ASM_LLM_LOCAL;
	char text[256];

	if (!strncmp(p->prompt, "slow", 4))
		return;
	if (!strncmp(p->prompt, "fail", 4)) {
		gw_complete(fd, p->id, EIO, 0, "", tried, 2, 0);
		return;
	}
	if (!strncmp(p->prompt, "fallback", 8)) {
		gw_complete(fd, p->id, 0, ASM_LLM_GPT4, "from gpt4", tried, 2, 1);
		return;
	}
	snprintf(text, sizeof(text), "agent %u uid %u max %u temp %u: %.150s", p->agent, p->uid,
		 p->max_tokens, p->temperature, p->prompt);
	gw_complete(fd, p->id, 0, provider, text, &provider, 1, 0);
}

/* The helper double: registers, then pulls and answers on every notice. */
static void helper_main(int ready_wfd)
{
	static struct nl_msg note;
	struct pulled *p = malloc(sizeof(*p));
	int cmd = nl_socket(), ev = nl_socket();
	struct pollfd pfd = { .fd = ev, .events = POLLIN };

	if (!p || cmd < 0 || ev < 0 ||
	    setsockopt(ev, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &gateway_group,
		       sizeof(gateway_group)))
		_exit(10);
	child_report(ready_wfd, gw_register(cmd));
	for (;;) {
		/* A notice, or a look every 200 ms in case one was missed. */
		if (poll(&pfd, 1, 200) > 0)
			recv(ev, &note, sizeof(note), MSG_DONTWAIT);
		while (gw_pull(cmd, p) == 1)
			helper_answer(cmd, p);
	}
}

static pid_t helper_pid;

/* Starts the helper; returns its REGISTER answer. */
static int helper_start(void)
{
	int p[2], v = -1000;

	if (pipe(p))
		ktap_bail("pipe: %s", strerror(errno));
	fflush(stdout);
	helper_pid = fork();
	if (helper_pid == 0) {
		close(p[0]);
		helper_main(p[1]);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &v, sizeof(v)) != sizeof(v))
		v = -1000;
	close(p[0]);
	return v;
}

static void helper_stop(void)
{
	if (helper_pid > 0) {
		kill(helper_pid, SIGKILL);
		waitpid(helper_pid, NULL, 0);
	}
	helper_pid = 0;
}

/* ---- requests ------------------------------------------------------------ */

static char response[8192];

/* One request with document @doc; returns the ioctl's value, errno in *err. */
static long llm(int fd, const char *doc, size_t doc_len, char *resp, __u32 resp_len, int *err)
{
	struct asm_llm_request r;
	long ret;

	llm_init(&r, 0, doc, doc_len, resp, resp_len);
	ret = ioctl(fd, ASM_IOC_LLM_REQUEST, &r);
	*err = ret < 0 ? errno : 0;
	if (ret >= 0 && ret < (long)resp_len)
		resp[ret] = 0;
	return ret;
}

static long ask(int fd, const char *doc, int *err)
{
	return llm(fd, doc, strlen(doc), response, sizeof(response) - 1, err);
}

/* In a child: registers itself as agent @id with @caps; 0 or an errno. */
static int become_agent(__u32 id, __u64 caps)
{
	return call_errno(asm_register_self(asm_fd, id, caps, "gw-test", NULL));
}

static uint64_t ms_since(uint64_t start)
{
	return (now_ns(CLOCK_MONOTONIC) - start) / 1000000;
}

/* ---- cases run in agents ------------------------------------------------- */

static void k_plain(int wfd, void *arg)
{
	int err;

	child_report(wfd, become_agent(*(__u32 *)arg, ASM_CAP_LLM_ACCESS));
	ask(asm_fd, "{\"prompt\":\"echo hi\"}", &err);
	child_report(wfd, err);
}

static void k_echo(int wfd, void *arg)
{
	char doc[256];
	long n;
	int err;

	(void)arg;
	child_report(wfd, become_agent(ID + 2, ASM_CAP_LLM_ACCESS));
	snprintf(doc, sizeof(doc),
		 "{\"agent_id\":%d,\"prompt\":\"echo \\u00e9t\\u00e9 \\\"q\\\"\",\"max_tokens\":42,"
		 "\"temperature\":0.25,\"preferred_provider\":\"GEMINI\",\"system_message\":null,"
		 "\"timeout_ms\":20000}", ID + 2);
	n = ask(asm_fd, doc, &err);
	child_report(wfd, err);
	child_report(wfd, n == (long)strlen(response));
	child_report(wfd, json_expect(response, "provider", "\"Gemini\"") == 1);
	child_report(wfd, strstr(response, "max 42 temp 250: echo \u00e9t\u00e9 \\\"q\\\"") != NULL);
	child_report(wfd, json_expect(response, "was_fallback", "false") == 1);
	ask(asm_fd, "{\"prompt\":\"fallback please\"}", &err);
	child_report(wfd, err);
	child_report(wfd, json_expect(response, "provider", "\"Gpt4\"") == 1 &&
			  json_expect(response, "was_fallback", "true") == 1);
	ask(asm_fd, "{\"prompt\":\"fail\"}", &err);
	child_report(wfd, err);
}

static void k_no_cap(int wfd, void *arg)
{
	int err;

	(void)arg;
	child_report(wfd, become_agent(ID + 3, ASM_CAP_FS_BASIC));
	ask(asm_fd, "{\"prompt\":\"echo hi\"}", &err);
	/* The capability fault's default action kills before this. */
	child_report(wfd, err);
}

static void k_not_agent(int wfd, void *arg)
{
	int err;

	(void)arg;
	ask(asm_fd, "{\"prompt\":\"echo hi\"}", &err);
	child_report(wfd, err);
}

static void k_claim(int wfd, void *arg)
{
	char doc[128];
	int err;

	(void)arg;
	child_report(wfd, become_agent(ID + 4, ASM_CAP_LLM_ACCESS));
	snprintf(doc, sizeof(doc), "{\"agent_id\":%d,\"prompt\":\"echo hi\"}", ID + 2);
	ask(asm_fd, doc, &err);
	child_report(wfd, err);
}

/* Requests until the first EAGAIN (at most @max); returns the successes. */
static int drain(int max, uint64_t *ms)
{
	uint64_t start = now_ns(CLOCK_MONOTONIC);
	int ok = 0, err, i;

	for (i = 0; i < max; i++) {
		ask(asm_fd, "{\"prompt\":\"echo b\"}", &err);
		if (err == EAGAIN)
			break;
		if (err)
			return -err;
		ok++;
	}
	*ms = ms_since(start);
	return ok;
}

static void k_bucket(int wfd, void *arg)
{
	uint64_t ms;
	int ok, p[2], status;
	pid_t pid;

	(void)arg;
	child_report(wfd, become_agent(ID + 5, ASM_CAP_LLM_ACCESS));
	ok = drain(200, &ms);
	child_report(wfd, ok);
	child_report(wfd, (int)ms);
	sleep(1);
	/* A second process of the same agent shares the bucket. */
	if (pipe(p))
		_exit(11);
	pid = fork();
	if (pid == 0) {
		ok = drain(200, &ms);
		if (write(p[1], &ok, sizeof(ok)) != sizeof(ok) ||
		    write(p[1], &ms, sizeof(ms)) != sizeof(ms))
			_exit(12);
		_exit(0);
	}
	if (read(p[0], &ok, sizeof(ok)) != sizeof(ok) || read(p[0], &ms, sizeof(ms)) != sizeof(ms))
		ok = -1;
	waitpid(pid, &status, 0);
	child_report(wfd, ok);
	child_report(wfd, (int)ms);
}

static void k_other(int wfd, void *arg)
{
	int err;

	(void)arg;
	child_report(wfd, become_agent(ID + 6, ASM_CAP_LLM_ACCESS));
	ask(asm_fd, "{\"prompt\":\"echo other\"}", &err);
	child_report(wfd, err);
}

static void k_timeout(int wfd, void *arg)
{
	uint64_t start;
	int err;

	(void)arg;
	child_report(wfd, become_agent(ID + 7, ASM_CAP_LLM_ACCESS));
	start = now_ns(CLOCK_MONOTONIC);
	ask(asm_fd, "{\"prompt\":\"slow\",\"timeout_ms\":500}", &err);
	child_report(wfd, err);
	child_report(wfd, (int)ms_since(start));
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void k_signal(int wfd, void *arg)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	uint64_t start;
	int err;

	(void)arg;
	child_report(wfd, become_agent(ID + 8, ASM_CAP_LLM_ACCESS));
	sigaction(SIGALRM, &sa, NULL);
	alarm(1);
	start = now_ns(CLOCK_MONOTONIC);
	ask(asm_fd, "{\"prompt\":\"slow\",\"timeout_ms\":20000}", &err);
	child_report(wfd, err);
	child_report(wfd, (int)ms_since(start));
}

/* Waits on a slow request while the parent kills the helper. */
static void k_helper_dies(int wfd, int cmd_rfd, void *arg)
{
	int err;

	(void)arg;
	child_report(wfd, become_agent(ID + 9, ASM_CAP_LLM_ACCESS));
	ask(asm_fd, "{\"prompt\":\"slow\",\"timeout_ms\":20000}", &err);
	child_report(wfd, err);
	ask(asm_fd, "{\"prompt\":\"echo again\"}", &err);
	child_report(wfd, err);
	if (kid_wait_go(cmd_rfd))
		return;
	ask(asm_fd, "{\"prompt\":\"echo back\"}", &err);
	child_report(wfd, err);
}

static void k_bad(int wfd, void *arg)
{
	static char big[ASM_LLM_REQUEST_MAX + 2];
	const char *bad[] = {
		"", "{", "{\"prompt\":\"x\"", "[1]", "{\"prompt\":1}", "{\"prompt\":\"\"}",
		"{\"prompt\":\"x\",\"prompt\":\"y\"}", "{\"prompt\":\"x\",\"nope\":1}",
		"{\"prompt\":\"x\",\"temperature\":1.5}", "{\"prompt\":\"x\",\"max_tokens\":0}",
		"{\"prompt\":\"x\",\"max_tokens\":1e3}", "{\"prompt\":\"x\",\"timeout_ms\":-1}",
		"{\"prompt\":\"x\",\"preferred_provider\":\"hal\"}", "{\"prompt\":\"\\x\"}",
		"{\"prompt\":\"\\ud800\"}", "{\"prompt\":\"a\nb\"}", "{\"prompt\":\"x\"} x",
		"{\"prompt\":{\"a\":1}}", "{\"prompt\":\"\xff\"}",
	};
	int err, i, all = 1;
	size_t len;

	(void)arg;
	child_report(wfd, become_agent(ID + 10, ASM_CAP_LLM_ACCESS));
	for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
		llm(asm_fd, bad[i], strlen(bad[i]) ? strlen(bad[i]) : 1, response, 1024, &err);
		if (err != EINVAL) {
			printf("# bad document %d: %s\n", i, errname(err));
			all = 0;
		}
	}
	child_report(wfd, all);
	/* A prompt over ASM_LLM_PROMPT_MAX, and a document over the maximum. */
	len = sprintf(big, "{\"prompt\":\"");
	memset(big + len, 'a', ASM_LLM_PROMPT_MAX + 1);
	strcpy(big + len + ASM_LLM_PROMPT_MAX + 1, "\"}");
	ask(asm_fd, big, &err);
	child_report(wfd, err);
	llm(asm_fd, big, ASM_LLM_REQUEST_MAX + 1, response, 1024, &err);
	child_report(wfd, err);
	/* Bad pointers, and a response buffer too small to be useful. */
	llm(asm_fd, (const char *)8, 20, response, 1024, &err);
	child_report(wfd, err);
	llm(asm_fd, "{\"prompt\":\"echo hi\"}", 20, (char *)8, 1024, &err);
	child_report(wfd, err);
	llm(asm_fd, "{\"prompt\":\"echo hi\"}", 20, response, 16, &err);
	child_report(wfd, err);
}

/* A root agent tries to become the helper and to mint an agent with
 * LlmAccess. */
static void k_root_agent(int wfd, void *arg)
{
	pid_t outsider = sleeper_start();
	struct asm_register r;
	int fd;

	(void)arg;
	child_report(wfd, become_agent(ID + 12, ASM_CAP_FS_BASIC));
	fd = nl_socket();
	child_report(wfd, gw_register(fd));
	reg_init(&r, ID + 13, ASM_TARGET_PID, outsider, "minted");
	r.capabilities = ASM_CAP_LLM_ACCESS;
	child_report(wfd, call_errno(ioctl(asm_fd, ASM_IOC_REGISTER, &r)));
	sleeper_stop(outsider);
}

/* ---- bucket settings, submitted requests, the LLM trail ------------------ */

static struct asm_audit_entry llm_trail[ASM_AUDIT_LLM_ENTRIES];

/* Reads the LLM trail into llm_trail[]; the entries, or -errno. */
static int read_llm_trail(void)
{
	return read_trail_of(ASM_AUDIT_TRAIL_LLM, llm_trail, ASM_AUDIT_LLM_ENTRIES, NULL);
}

/* The LLM trail's newest entry about agent @id whose text has @needle. */
static const struct asm_audit_entry *llm_entry(__u32 id, const char *needle)
{
	int n = read_llm_trail(), i;

	for (i = n - 1; i >= 0; i--)
		if (llm_trail[i].agent_id == id && strstr(llm_trail[i].detail, needle))
			return &llm_trail[i];
	return NULL;
}

/* A SET_LLM_RATE (or, to test the field checks, another op) of agent @id. */
static int set_rate(__u32 id, __u32 op, __u32 burst, __u32 refill, __u64 *seq)
{
	struct asm_patch p;
	int ret;

	patch_init(&p, id, op);
	p.llm_burst = burst;
	p.llm_refill = refill;
	if (op == ASM_PATCH_SET_RISK)
		p.value = ASM_RISK_MINIMAL;
	ret = call_errno(ioctl(asm_fd, ASM_IOC_PATCH_POLICY, &p));
	if (seq)
		*seq = p.audit_seq;
	return ret;
}

/* The agent narrows its own bucket, cannot widen it, and drains it. */
static void k_rate(int wfd, int cmd_rfd, void *arg)
{
	uint64_t ms;

	(void)arg;
	child_report(wfd, become_agent(ID + 14, ASM_CAP_LLM_ACCESS));
	child_report(wfd, set_rate(ID + 14, ASM_PATCH_SET_LLM_RATE, 100, 10, NULL));
	child_report(wfd, set_rate(ID + 14, ASM_PATCH_SET_LLM_RATE, 3, 1, NULL));
	child_report(wfd, drain(50, &ms));
	child_report(wfd, set_rate(ID + 14, ASM_PATCH_SET_LLM_RATE, 0, 1, NULL));
	child_report(wfd, set_rate(ID + 14, ASM_PATCH_SET_LLM_RATE, ASM_LLM_BURST_MAX + 1, 1, NULL));
	child_report(wfd, set_rate(ID + 14, ASM_PATCH_SET_LLM_RATE, 1, ASM_LLM_REFILL_MAX + 1, NULL));
	child_report(wfd, set_rate(ID + 14, ASM_PATCH_SET_RISK, 1, 1, NULL));
	if (kid_wait_go(cmd_rfd))
		return;
	/* The administrator made it 40, refilled at 20 per second. */
	usleep(500000);
	child_report(wfd, drain(100, &ms));
}

/* An unprivileged owner narrows its agent's bucket but cannot widen it. */
static void k_nobody_rate(int wfd, void *arg)
{
	__u32 id = 0;

	(void)arg;
	if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		_exit(13);
	child_report(wfd, call_errno(asm_register_self(asm_fd, 0, ASM_CAP_FS_BASIC, "nb", &id)));
	child_report(wfd, set_rate(id, ASM_PATCH_SET_LLM_RATE, 5, 2, NULL));
	child_report(wfd, set_rate(id, ASM_PATCH_SET_LLM_RATE, 6, 2, NULL));
	child_report(wfd, set_rate(id, ASM_PATCH_SET_LLM_RATE, 5, 3, NULL));
	child_report(wfd, set_rate(ID + 14, ASM_PATCH_SET_LLM_RATE, 1, 1, NULL));
	child_report(wfd, read_llm_trail());
	asm_unregister(asm_fd, id);
}

static int llm_submit(int fd, const char *doc, __u64 *id)
{
	struct asm_llm_request r;
	int ret;

	llm_init(&r, ASM_LLM_SUBMIT, doc, strlen(doc), NULL, 0);
	ret = call_errno(ioctl(fd, ASM_IOC_LLM_REQUEST, &r));
	*id = r.request_id;
	return ret;
}

/* Collects request @want (0: any) into response[]; its number in *got. */
static int llm_collect(int fd, __u64 want, __u64 *got)
{
	struct asm_llm_request r;
	long ret;

	llm_init(&r, ASM_LLM_COLLECT, NULL, 0, response, sizeof(response) - 1);
	r.request_id = want;
	ret = ioctl(fd, ASM_IOC_LLM_REQUEST, &r);
	*got = r.request_id;
	if (ret < 0)
		return errno;
	response[ret] = 0;
	return 0;
}

/* Misuses of the flags; the number of them that were not EINVAL. */
static int bad_flags(int fd)
{
	const char *doc = "{\"prompt\":\"echo x\"}";
	struct asm_llm_request r;
	int wrong = 0, i;

	for (i = 0; i < 4; i++) {
		llm_init(&r, 0, doc, strlen(doc), NULL, 0);
		switch (i) {
		case 0: r.flags = ASM_LLM_SUBMIT | ASM_LLM_COLLECT; break;
		case 1: r.flags = 1u << 5; break;
		/* SUBMIT with a response buffer; COLLECT with a document. */
		case 2:
			r.flags = ASM_LLM_SUBMIT;
			r.response = (__u64)(uintptr_t)response;
			r.response_len = 1024;
			break;
		case 3:
			r.flags = ASM_LLM_COLLECT;
			r.response = (__u64)(uintptr_t)response;
			r.response_len = 1024;
			break;
		}
		if (call_errno(ioctl(fd, ASM_IOC_LLM_REQUEST, &r)) != EINVAL) {
			printf("# flag misuse %d was not EINVAL\n", i);
			wrong++;
		}
	}
	return wrong;
}

/* Four requests in flight from one agent on one file, collected as they
 * finish; a timeout; a closed file's request withdrawn. */
static void k_submit(int wfd, void *arg)
{
	int fd = asm_open(), fd2 = asm_open(), err = 0, n = 0, i, bad = 0, early;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	__u64 ids[4] = { 0 }, got = 0;
	uint64_t start;

	(void)arg;
	child_report(wfd, become_agent(ID + 15, ASM_CAP_LLM_ACCESS));
	child_report(wfd, llm_collect(fd, 0, &got));
	err = llm_submit(fd, "{\"prompt\":\"slow\",\"timeout_ms\":1500}", &ids[0]);
	/* Nothing has finished: poll() must not say otherwise. */
	early = poll(&pfd, 1, 0);
	for (i = 1; i < 4 && !err; i++)
		err = llm_submit(fd, "{\"prompt\":\"echo nb\"}", &ids[i]);
	child_report(wfd, err);
	child_report(wfd, ids[0] && ids[1] > ids[0] && ids[2] > ids[1] && ids[3] > ids[2]);
	child_report(wfd, llm_collect(fd, ids[0], &got));
	child_report(wfd, llm_collect(fd2, ids[1], &got));
	start = now_ns(CLOCK_MONOTONIC);
	while (n < 3 && ms_since(start) < 10000) {
		if (poll(&pfd, 1, 10000) <= 0)
			break;
		err = llm_collect(fd, 0, &got);
		if (err == EAGAIN)
			continue;
		if (err || got == ids[0] || !strstr(response, "echo nb"))
			bad++;
		n++;
	}
	child_report(wfd, bad ? -bad : n);
	/* The slow one times out on the sampler's tick. */
	start = now_ns(CLOCK_MONOTONIC);
	poll(&pfd, 1, 10000);
	child_report(wfd, llm_collect(fd, 0, &got));
	child_report(wfd, got == ids[0]);
	child_report(wfd, (int)ms_since(start));
	child_report(wfd, llm_collect(fd, 0, &got));
	child_report(wfd, bad_flags(fd));
	/* Closing the file withdraws its request. */
	err = llm_submit(fd2, "{\"prompt\":\"slow\",\"timeout_ms\":20000}", &ids[0]);
	close(fd2);
	child_report(wfd, err);
	child_report(wfd, (int)ids[0]);
	child_report(wfd, early);
	close(fd);
}

/* Submits on the shared /dev/asm file and exits without collecting. */
static void k_share(int wfd, void *arg)
{
	__u64 id = 0;

	(void)arg;
	child_report(wfd, become_agent(ID + 16, ASM_CAP_LLM_ACCESS));
	child_report(wfd, llm_submit(asm_fd, "{\"prompt\":\"echo shared\"}", &id));
	child_report(wfd, (int)id);
}

/* A limits-only SET_FAULT_POLICY of agent @id (0: the defaults) with a
 * 10 s CPU quota. */
static int widen_limits(__u32 id)
{
	struct asm_fault_policy p;

	fp_init(&p, id, ASM_FP_SET_LIMITS);
	p.cpu_quota_ms = 10000;
	p.syscall_rate = ASM_LIMIT_NONE32;
	p.watchdog_ms = ASM_LIMIT_NONE32;
	p.mem_limit_bytes = ASM_LIMIT_NONE64;
	return call_errno(ioctl(asm_fd, ASM_IOC_SET_FAULT_POLICY, &p));
}

/* Another LLM agent, root, on the shared file tries to take request @arg's
 * answer, to widen a third agent's bucket and limits and the defaults, to
 * read the LLM trail and to forget a running agent. */
static void k_thief(int wfd, void *arg)
{
	pid_t victim = sleeper_start();
	__u64 got = 0;

	/* The running agent, registered before this process is an agent. */
	if (asm_register_pid(asm_fd, ID + 19, victim, "victim", NULL))
		_exit(14);
	child_report(wfd, become_agent(ID + 18, ASM_CAP_LLM_ACCESS));
	child_report(wfd, llm_collect(asm_fd, *(__u64 *)arg, &got));
	child_report(wfd, llm_collect(asm_fd, 0, &got));
	child_report(wfd, set_rate(ID + 14, ASM_PATCH_SET_LLM_RATE, 100, 100, NULL));
	child_report(wfd, read_llm_trail());
	child_report(wfd, widen_limits(ID + 14));
	child_report(wfd, widen_limits(0));
	child_report(wfd, call_errno(asm_unregister(asm_fd, ID + 19)));
	sleeper_stop(victim);
}

static int write_param(const char *name, const char *value)
{
	char path[128];
	int fd, ok;

	snprintf(path, sizeof(path), "/sys/module/asm/parameters/%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return errno;
	ok = write(fd, value, strlen(value)) == (ssize_t)strlen(value);
	close(fd);
	return ok ? 0 : EIO;
}

/* Two requests: the parent turns the prompt's audit on before the first
 * and off before the second. */
static void k_prompt(int wfd, int cmd_rfd, void *arg)
{
	int err;

	(void)arg;
	child_report(wfd, become_agent(ID + 17, ASM_CAP_LLM_ACCESS));
	if (kid_wait_go(cmd_rfd))
		return;
	ask(asm_fd, "{\"prompt\":\"echo secret-123\"}", &err);
	child_report(wfd, err);
	if (kid_wait_go(cmd_rfd))
		return;
	ask(asm_fd, "{\"prompt\":\"echo secret-456\"}", &err);
	child_report(wfd, err);
}

/* ---- the parent ---------------------------------------------------------- */

static long long gateway_metric(const char *label)
{
	char buf[4096], *p;
	FILE *f = fopen("/proc/agentsys/cloud_gateway", "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strstr(buf, label);
	return p ? atoll(p + strlen(label)) : -1;
}

static int resolve_gateway_group(void)
{
	int fd = nl_socket(), ret;

	if (fd < 0)
		return -errno;
	ret = asm_genl_resolve_group(fd, &family, ASM_GENL_MCGRP_GATEWAY, &gateway_group);
	close(fd);
	return ret;
}

static void unprivileged(int wfd, void *arg)
{
	int fd;

	(void)arg;
	if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		_exit(13);
	/* Nobody grants themselves the administrator's providers. */
	child_report(wfd, call_errno(asm_register_self(asm_fd, 0, ASM_CAP_LLM_ACCESS, "self", NULL)));
	fd = nl_socket();
	child_report(wfd, gw_register(fd));
	child_report(wfd, gw_complete(fd, 1, 0, ASM_LLM_LOCAL, "forged", NULL, 0, 0));
	{
		struct pulled p;

		child_report(wfd, gw_pull(fd, &p));
	}
}

int main(void)
{
	int res[16], status, ret;
	struct kid kid;

	if (getuid() != 0) {
		printf("# SKIP must run as root\n");
		return KSFT_SKIP;
	}
	asm_fd = asm_open();
	if (asm_fd < 0)
		ktap_bail("open /dev/asm: %s", strerror(errno));
	ret = resolve_gateway_group();
	if (ret)
		ktap_bail("resolving the asm family's gateway group: %s", strerror(-ret));

	ktap_header(18);

	ktap_case_start();
	ret = run_child(k_plain, &(__u32){ ID + 1 }, res, 2, &status);
	ktap_expect(!ret && res[0] == 0, "registered");
	ktap_expect(res[1] == ENOTCONN, "no helper: %s, not ENOTCONN", errname(res[1]));
	ktap_case_end("no helper registered: ENOTCONN at once");

	ktap_case_start();
	ret = run_child(unprivileged, NULL, res, 4, &status);
	ktap_expect(!ret, "the unprivileged child reported");
	ktap_expect(res[0] == EPERM, "self-registering with LlmAccess as nobody: %s",
		    errname(res[0]));
	ktap_expect(res[1] == -EPERM, "REGISTER as nobody: %d", res[1]);
	ktap_expect(res[2] == -EPERM, "COMPLETE as nobody: %d", res[2]);
	ktap_expect(res[3] == -EPERM, "PULL as nobody: %d", res[3]);
	ktap_case_end("nobody grants itself LlmAccess, registers as the helper, pulls or completes");

	ktap_case_start();
	{
		const struct asm_audit_entry *e;

		ret = run_child(k_root_agent, NULL, res, 3, &status);
		ktap_expect(!ret && res[0] == 0, "registered");
		ktap_expect(res[1] == -EPERM, "an agent's REGISTER as the helper: %d", res[1]);
		ktap_expect(res[2] == EPERM, "an agent registering another process with LlmAccess: %s",
			    errname(res[2]));
		e = last_entry(ASM_AUDIT_ESCALATION, ID + 12);
		ktap_expect(e != NULL, "the helper registration attempt is audited");
		e = last_entry(ASM_AUDIT_ESCALATION, ID + 13);
		ktap_expect(e != NULL, "the LlmAccess grant attempt is audited");
	}
	ktap_case_end("a root agent can neither become the helper nor mint an agent with LlmAccess");

	ktap_case_start();
	ret = helper_start();
	ktap_expect(ret == 0, "the helper's REGISTER: %d", ret);
	{
		int fd = nl_socket();

		ktap_expect(gw_register(fd) == -EBUSY, "a second helper is EBUSY");
		ktap_expect(gw_complete(fd, 1, 0, ASM_LLM_LOCAL, "x", NULL, 0, 0) == -EPERM,
			    "a socket that is not the helper cannot complete");
		close(fd);
	}
	ktap_case_end("one helper at a time; only it completes");

	ktap_case_start();
	ret = run_child(k_echo, NULL, res, 9, &status);
	ktap_expect(!ret && res[0] == 0, "registered");
	ktap_expect(res[1] == 0, "echo: %s", errname(res[1]));
	ktap_expect(res[2], "the ioctl returns the response's length");
	ktap_expect(res[3], "provider is the preferred gemini");
	ktap_expect(res[4], "the helper got max_tokens, temperature and the unescaped prompt");
	ktap_expect(res[5], "was_fallback false");
	ktap_expect(res[6] == 0, "fallback: %s", errname(res[6]));
	ktap_expect(res[7], "the fallback's provider and was_fallback");
	ktap_expect(res[8] == EIO, "a failing helper answer: %s, not EIO", errname(res[8]));
	ktap_case_end("requests through the helper: answer, fallback, failure");

	ktap_case_start();
	{
		long long before = gateway_metric("Failed:");
		const struct asm_audit_entry *e;

		ret = run_child(k_not_agent, NULL, res, 1, &status);
		ktap_expect(!ret && res[0] == EPERM, "a non-agent: %s", errname(res[0]));
		ret = run_child(k_no_cap, NULL, res, 2, &status);
		ktap_expect(res[0] == 0, "registered");
		ktap_expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
			    "the agent without LlmAccess was killed (capability fault)");
		e = last_entry(ASM_AUDIT_VIOLATION, ID + 3);
		ktap_expect(e && e->op == ASM_VIOLATION_LLM, "its violation is audited");
		ret = run_child(k_claim, NULL, res, 2, &status);
		ktap_expect(!ret && res[1] == EPERM, "claiming another agent: %s", errname(res[1]));
		e = last_entry(ASM_AUDIT_VIOLATION, ID + 4);
		ktap_expect(e && e->op == ASM_VIOLATION_LLM && e->old_value == ID + 2,
			    "the claim is audited");
		ktap_expect(gateway_metric("Failed:") >= before + 3, "counted as failures");
	}
	ktap_case_end("EPERM: a non-agent, an agent without LlmAccess, a claimed id");

	ktap_case_start();
	ret = run_child(k_bucket, NULL, res, 5, &status);
	ktap_expect(!ret && res[0] == 0, "registered");
	/* 30 at once, plus what 10 per second refilled meanwhile. */
	ktap_expect(res[1] >= 30 && res[1] <= 30 + res[2] / 100 + 1,
		    "burst: %d succeeded in %d ms before EAGAIN", res[1], res[2]);
	/* Its own bucket would give it 30: it shares the agent's, refilled by
	 * about 10 in the second since. */
	ktap_expect(res[3] >= 9 && res[3] <= 10 + res[4] / 100 + 2,
		    "a second later, another process of the agent: %d in %d ms", res[3], res[4]);
	ret = run_child(k_other, NULL, res, 2, &status);
	ktap_expect(!ret && res[1] == 0, "another agent's bucket is full: %s", errname(res[1]));
	ktap_case_end("token bucket: burst 30, refill 10/s, per agent, shared by its processes");

	ktap_case_start();
	ret = run_child(k_timeout, NULL, res, 3, &status);
	ktap_expect(!ret && res[1] == ETIMEDOUT, "slow: %s", errname(res[1]));
	ktap_expect(res[2] >= 450 && res[2] < 3000, "after %d ms (timeout 500)", res[2]);
	ktap_case_end("an unanswered request ends with ETIMEDOUT at its timeout");

	ktap_case_start();
	ret = run_child(k_signal, NULL, res, 3, &status);
	ktap_expect(!ret && res[1] == EINTR, "a signal: %s", errname(res[1]));
	ktap_expect(res[2] >= 900 && res[2] < 5000, "after %d ms (alarm 1 s)", res[2]);
	ktap_case_end("a signal ends a waiting request with EINTR");

	ktap_case_start();
	{
		uint64_t killed;
		int r;

		kid_start(&kid, k_helper_dies, NULL);
		r = kid_result(&kid);
		ktap_expect(r == 0, "registered");
		usleep(300000);
		killed = now_ns(CLOCK_MONOTONIC);
		helper_stop();
		r = kid_result(&kid);
		ktap_expect(r == EIO, "the waiting request: %s", errname(r));
		ktap_expect(ms_since(killed) < 1000, "within %llu ms of the kill",
			    (unsigned long long)ms_since(killed));
		r = kid_result(&kid);
		ktap_expect(r == ENOTCONN, "while no helper: %s", errname(r));
		ret = helper_start();
		ktap_expect(ret == 0, "a new helper registers: %d", ret);
		kid_go(&kid);
		r = kid_result(&kid);
		ktap_expect(r == 0, "after it: %s", errname(r));
		kid_finish(&kid);
	}
	ktap_case_end("the helper's socket closes: EIO at once, ENOTCONN, then service again");

	ktap_case_start();
	{
		long long requests = gateway_metric("Total Requests:");
		long long failed = gateway_metric("Failed:");

		ret = run_child(k_bad, NULL, res, 7, &status);
		ktap_expect(!ret && res[0] == 0, "registered");
		ktap_expect(res[1], "every malformed document is EINVAL");
		ktap_expect(res[2] == E2BIG, "a prompt over ASM_LLM_PROMPT_MAX: %s", errname(res[2]));
		ktap_expect(res[3] == E2BIG, "a document over ASM_LLM_REQUEST_MAX: %s",
			    errname(res[3]));
		ktap_expect(res[4] == EFAULT, "an unmapped request: %s", errname(res[4]));
		ktap_expect(res[5] == EFAULT, "an unmapped response buffer: %s", errname(res[5]));
		ktap_expect(res[6] == EINVAL, "a 16-byte response buffer: %s", errname(res[6]));
		ktap_expect(gateway_metric("Total Requests:") == requests + 1,
			    "only the one valid request was counted as a request");
		ktap_expect(gateway_metric("Failed:") >= failed + 22, "the rest are failures");
	}
	ktap_case_end("malformed, oversize and unmapped requests: EINVAL, E2BIG, EFAULT");

	ktap_case_start();
	{
		char buf[4096];
		FILE *f = fopen("/proc/agentsys/cloud_gateway", "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

		if (f)
			fclose(f);
		buf[n] = 0;
		ktap_expect(strstr(buf, "Cloud Gateway Metrics:\n====================\n"),
			    "the guide's heading");
		/* claude failed twice; gpt4 answered once of two; gemini once. */
		ktap_expect(strstr(buf, "\n  Claude:   0/2      (0.0%)\n"), "claude's line");
		ktap_expect(strstr(buf, "\n  GPT-4:    1/2      (50.0%)\n"), "gpt-4's line");
		ktap_expect(strstr(buf, "\n  Gemini:   1/1      (100%)\n"), "gemini's line");
		ktap_expect(strstr(buf, "\n  Local:    "), "the local line");
		ktap_expect(strstr(buf, "\nAverage Response Time: "), "the average");
		ktap_expect(gateway_metric("Fallback Used:") >= 1, "a fallback counted");
		ktap_expect(gateway_metric("Rate Limited:") >= 1, "rate limiting counted");
		if (!ktap_case_ok)
			printf("%s", buf);
	}
	ktap_case_end("/proc/agentsys/cloud_gateway in the user guide's layout");

	ktap_case_start();
	{
		char buf[8192], line[64];
		FILE *f = fopen("/proc/agentsys/gateway_status", "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

		if (f)
			fclose(f);
		buf[n] = 0;
		ktap_expect(strstr(buf, "registered (netlink port"), "the helper is shown");
		snprintf(line, sizeof(line), "\n%-8d%-20s", ID + 6, "gw-test");
		ktap_expect(strstr(buf, line), "agent %d's row", ID + 6);
		if (!ktap_case_ok)
			printf("%s", buf);
	}
	ktap_case_end("/proc/agentsys/gateway_status lists the helper and the agents' buckets");

	ktap_case_start();
	{
		const struct asm_audit_entry *e;
		static char doc[16384];
		__u64 seq = 0;
		int r[8], i;

		kid_start(&kid, k_rate, NULL);
		for (i = 0; i < 8; i++)
			r[i] = kid_result(&kid);
		ktap_expect(r[0] == 0, "registered");
		ktap_expect(r[1] == EPERM, "the agent widening its own bucket: %s", errname(r[1]));
		ktap_expect(r[2] == 0, "the agent narrowing it to 3, 1/s: %s", errname(r[2]));
		ktap_expect(r[3] >= 3 && r[3] <= 4, "then %d requests before EAGAIN", r[3]);
		ktap_expect(r[4] == EINVAL && r[5] == EINVAL && r[6] == EINVAL,
			    "burst 0, burst or refill over the maximum: %s %s %s", errname(r[4]),
			    errname(r[5]), errname(r[6]));
		ktap_expect(r[7] == EINVAL, "llm_burst with another op: %s", errname(r[7]));
		ret = set_rate(ID + 14, ASM_PATCH_SET_LLM_RATE, 40, 20, &seq);
		ktap_expect(ret == 0, "the administrator widens it to 40, 20/s: %s", errname(ret));
		e = last_entry(ASM_AUDIT_PATCH, ID + 14);
		ktap_expect(e && e->op == ASM_PATCH_SET_LLM_RATE && e->old_value == (3ull << 32 | 1) &&
				    e->new_value == (40ull << 32 | 20) && e->result == 0 &&
				    e->seq == seq,
			    "audited with the old and new values");
		ret = asm_get_json(asm_fd, ASM_IOC_GET_AGENT_INFO_JSON, ID + 14, doc, sizeof(doc));
		ktap_expect(ret > 0, "the agent's JSON");
		if (ret > 0) {
			json_expect_num(doc, "burst", 40);
			json_expect_num(doc, "refill_per_s", 20);
			json_expect_num(doc, "requests", r[3]);
			json_expect_num(doc, "llm_requests", r[3]);
		}
		kid_go(&kid);
		r[0] = kid_result(&kid);
		ktap_expect(r[0] >= 6 && r[0] <= 40, "half a second later: %d requests", r[0]);
		kid_finish(&kid);
		ret = run_child(k_nobody_rate, NULL, res, 6, &status);
		ktap_expect(!ret && res[0] == 0, "nobody registered an agent: %s", errname(res[0]));
		ktap_expect(res[1] == 0, "its owner narrows the bucket: %s", errname(res[1]));
		ktap_expect(res[2] == EPERM && res[3] == EPERM,
			    "but raises neither the burst nor the refill: %s %s", errname(res[2]),
			    errname(res[3]));
		ktap_expect(res[4] == ESRCH, "nor sees another user's agent: %s", errname(res[4]));
		ktap_expect(res[5] == -EPERM, "nor reads the LLM trail: %d", res[5]);
	}
	ktap_case_end("SET_LLM_RATE: the administrator widens, the owner and the agent only narrow");

	ktap_case_start();
	{
		const struct asm_audit_entry *e;
		char needle[64];

		ret = run_child(k_submit, NULL, res, 15, &status);
		ktap_expect(!ret && res[0] == 0, "registered");
		ktap_expect(res[1] == ENOENT, "collecting with nothing submitted: %s",
			    errname(res[1]));
		ktap_expect(res[2] == 0 && res[3], "four requests submitted at once: %s",
			    errname(res[2]));
		ktap_expect(res[4] == EAGAIN, "collecting the unanswered one: %s", errname(res[4]));
		ktap_expect(res[5] == ENOENT, "collecting through another file: %s",
			    errname(res[5]));
		ktap_expect(res[6] == 3, "the three answers collected as poll() reported them: %d",
			    res[6]);
		ktap_expect(res[7] == ETIMEDOUT && res[8], "the slow one: %s", errname(res[7]));
		ktap_expect(res[9] < 4000, "its timeout reported after %d ms", res[9]);
		ktap_expect(res[10] == ENOENT, "everything collected: %s", errname(res[10]));
		ktap_expect(res[11] == 0, "%d flag misuses were not EINVAL", res[11]);
		ktap_expect(res[12] == 0, "a request on a second file: %s", errname(res[12]));
		ktap_expect(res[14] == 0, "poll() with only an unanswered request: %d", res[14]);
		snprintf(needle, sizeof(needle), "request %d: ECANCELED", res[13]);
		e = llm_entry(ID + 15, needle);
		ktap_expect(e && e->result == -ECANCELED, "closing that file withdrew it (%s)",
			    needle);
		e = llm_entry(ID + 15, "ETIMEDOUT");
		ktap_expect(e && e->result == -ETIMEDOUT, "the timeout is in the LLM trail");
	}
	ktap_case_end("ASM_LLM_SUBMIT and COLLECT: several in flight, poll(), timeout, close");

	ktap_case_start();
	{
		__u64 got = 0;
		int err;

		ret = run_child(k_share, NULL, res, 3, &status);
		ktap_expect(!ret && res[0] == 0 && res[1] == 0, "an agent submitted on a shared file: %s",
			    errname(res[1]));
		usleep(300000);
		err = llm_collect(asm_fd, (__u64)res[2], &got);
		ktap_expect(err == EPERM, "a process of no agent collecting it: %s", errname(err));
		err = llm_collect(asm_fd, 0, &got);
		ktap_expect(err == EPERM, "or collecting any: %s", errname(err));
		got = (__u64)res[2];
		ret = run_child(k_thief, &got, res, 8, &status);
		ktap_expect(!ret && res[0] == 0, "another LLM agent registered");
		ktap_expect(res[1] == EPERM && res[2] == EPERM,
			    "another agent collecting it, or any: %s %s", errname(res[1]),
			    errname(res[2]));
		ktap_expect(res[3] == EPERM, "a root agent widening another agent's bucket: %s",
			    errname(res[3]));
		ktap_expect(res[4] == -EPERM, "a root agent reading the LLM trail: %d", res[4]);
		ktap_expect(res[5] == EPERM && res[6] == EPERM,
			    "a root agent widening another agent's limits, or the defaults: %s %s",
			    errname(res[5]), errname(res[6]));
		ktap_expect(res[7] == EPERM, "a root agent forgetting a running agent: %s",
			    errname(res[7]));
	}
	ktap_case_end("only the agent that submitted a request collects its answer; agents widen nothing");

	ktap_case_start();
	{
		static struct nl_msg ev;
		const struct asm_audit_entry *e;
		struct asm_compliance c;
		int evfd = nl_socket(), found = 0, i, n;
		__u32 events_group = 0;
		__u16 fam = 0;

		ktap_expect(evfd >= 0 && !asm_genl_resolve(evfd, &fam, &events_group) &&
				    !setsockopt(evfd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP,
						&events_group, sizeof(events_group)),
			    "subscribed to the events group");
		kid_start(&kid, k_prompt, NULL);
		res[0] = kid_result(&kid);
		res[1] = write_param("llm_audit_prompts", "Y");
		kid_go(&kid);
		res[2] = kid_result(&kid);
		res[3] = write_param("llm_audit_prompts", "N");
		kid_go(&kid);
		res[4] = kid_result(&kid);
		kid_finish(&kid);
		ktap_expect(!res[0] && !res[1] && !res[2] && !res[3] && !res[4],
			    "two requests, the parameter set and reset: %s %s %s %s %s",
			    errname(res[0]), errname(res[1]), errname(res[2]), errname(res[3]),
			    errname(res[4]));
		e = llm_entry(ID + 17, "secret-123");
		ktap_expect(e && e->kind == ASM_AUDIT_LLM && e->result == 0 &&
				    e->op == ASM_LLM_LOCAL && e->old_value > 0,
			    "llm_audit_prompts on: the entry has the prompt, provider and tokens");
		ktap_expect(!llm_entry(ID + 17, "secret-456"), "off: the prompt is not kept");
		e = llm_entry(ID + 17, "ok via local");
		ktap_expect(e && !strstr(e->detail, "prompt"), "the second request's entry: %s",
			    e ? e->detail : "none");
		n = read_llm_trail();
		for (i = 1; i < n; i++)
			if (memcmp(llm_trail[i].prev_hash, llm_trail[i - 1].hash, 32) ||
			    llm_trail[i].seq != llm_trail[i - 1].seq + 1)
				break;
		ktap_expect(n > 0 && i == n, "%d entries, chained", n);
		e = llm_entry(ID + 2, "ok via gemini");
		ktap_expect(e && e->op == ASM_LLM_GEMINI, "the first case's request is in it");
		ktap_expect(read_trail_of(2, llm_trail, 1, NULL) == -EINVAL,
			    "an unknown trail is EINVAL");
		memset(&c, 0, sizeof(c));
		c.size = sizeof(c);
		c.version = ASM_ABI_VERSION;
		c.agent_id = ID + 17;
		ret = call_errno(ioctl(asm_fd, ASM_IOC_GET_COMPLIANCE, &c));
		ktap_expect(!ret && c.llm_requests == 2, "compliance counts %llu LLM requests: %s",
			    (unsigned long long)c.llm_requests, errname(ret));
		usleep(300000);
		while (recv(evfd, &ev, sizeof(ev), MSG_DONTWAIT) > 0) {
			__u32 type = 0, agent = 0, provider = 0;
			__s32 code = -1;
			__u64 tokens = 0;
			struct nlattr *a;
			int rem;

			nla_for_each(a, (struct nlattr *)ev.buf,
				     (int)(ev.n.nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN)), rem) {
				switch (a->nla_type) {
				case ASM_A_EVENT_TYPE: type = *(__u32 *)nla_data(a); break;
				case ASM_A_AGENT_ID: agent = *(__u32 *)nla_data(a); break;
				case ASM_A_FAULT: provider = *(__u32 *)nla_data(a); break;
				case ASM_A_EXIT_CODE: code = *(__s32 *)nla_data(a); break;
				case ASM_A_VALUE: memcpy(&tokens, nla_data(a), 8); break;
				}
			}
			found += type == ASM_EV_LLM && agent == ID + 17 && code == 0 &&
				 provider == ASM_LLM_LOCAL && tokens > 0;
		}
		ktap_expect(found == 2, "%d llm_request events of the agent on netlink", found);
		close(evfd);
	}
	ktap_case_end("the LLM trail, its prompt switch, compliance and the events group");

	helper_stop();
	ktap_case_start();
	ret = run_child(k_plain, &(__u32){ ID + 11 }, res, 2, &status);
	ktap_expect(!ret && res[1] == ENOTCONN, "after the helper left: %s", errname(res[1]));
	ktap_case_end("a helper that exits leaves no stale registration");

	ktap_finish();
}
