// SPDX-License-Identifier: GPL-2.0
/*
 * asm_abi_test - malformed and valid ioctls on /dev/asm (KTAP).
 *
 * Run as root on a freshly loaded asm.ko (test_abi.sh reloads it).  Every
 * malformed request is built from a valid one with a single field broken, so
 * the errno can only come from that field.  The telemetry JSON's "system"
 * object and the agent id list are recorded before the failing calls and
 * compared afterwards: a failed call changes nothing, not even the event
 * counters.
 *
 * Agent ids used: 4100 (witness, a sleeping child registered by pid), 4200
 * (what the malformed REGISTER requests would create), 4242 (valid path),
 * 4300 and 4400 (self-registering children), 12345 (never registered).
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <sys/stat.h>

#include "asm_util.h"

#define ID_WITNESS	4100
#define ID_VICTIM	4200
#define ID_VALID	4242
#define ID_DUP		4300
#define ID_BUSY		4400
#define ID_UNKNOWN	12345

#define NR_CASES	60

static pid_t witness, victim;
static __u32 list_ids[256];
static char jbuf[1 << 18];

/* --- snapshot of what a failed call must not change ----------------------- */

struct snapshot {
	char system[2048];
	__u32 ids[256];
	__u32 count;
};

static int take_snapshot(struct snapshot *s)
{
	const char *p, *q;

	memset(s, 0, sizeof(*s));
	if (asm_get_json(asm_fd, ASM_IOC_GET_TELEMETRY_JSON, 0, jbuf, sizeof(jbuf) - 1) < 0)
		return ktap_fail_msg("GET_TELEMETRY_JSON: %s", errname(errno));
	p = strstr(jbuf, "\"system\":{");
	q = p ? strchr(p, '}') : NULL;
	if (!q || q - p + 1 >= (long)sizeof(s->system))
		return ktap_fail_msg("telemetry JSON has no flat \"system\" object");
	memcpy(s->system, p, q - p + 1);
	if (asm_list(asm_fd, s->ids, 256, &s->count))
		return ktap_fail_msg("LIST: %s", errname(errno));
	return 1;
}

/* --- the base (valid) request of each ioctl ------------------------------- */

union asm_arg {
	struct asm_register reg;
	struct asm_unregister unreg;
	struct asm_list list;
	struct asm_agent_info info;
	struct asm_json json;
	char raw[1024];
};

static void base_register(union asm_arg *a)
{
	reg_init(&a->reg, ID_VICTIM, ASM_TARGET_PID, victim, "abi-victim");
}

static void base_unregister(union asm_arg *a)
{
	unreg_init(&a->unreg, ID_WITNESS);
}

static void base_list(union asm_arg *a)
{
	list_init(&a->list, list_ids, 256);
}

static void base_info(union asm_arg *a)
{
	info_init(&a->info, ID_WITNESS);
}

static void base_telemetry(union asm_arg *a)
{
	json_init(&a->json, 0, jbuf, sizeof(jbuf) - 1);
}

static void base_agent_json(union asm_arg *a)
{
	json_init(&a->json, ID_WITNESS, jbuf, sizeof(jbuf) - 1);
}

struct field {
	size_t off, len;
};

#define FIELD(type, member) { offsetof(type, member), sizeof(((type *)0)->member) }

struct ioc {
	const char *name;
	unsigned long cmd;
	__u32 size;
	void (*init)(union asm_arg *a);
	struct field reserved[6];	/* len 0 ends the list */
};

static const struct ioc iocs[] = {
	{ "REGISTER", ASM_IOC_REGISTER, sizeof(struct asm_register), base_register,
	  { FIELD(struct asm_register, reserved0), FIELD(struct asm_register, reserved[0]),
	    FIELD(struct asm_register, reserved[1]), FIELD(struct asm_register, reserved[2]) } },
	{ "UNREGISTER", ASM_IOC_UNREGISTER, sizeof(struct asm_unregister), base_unregister,
	  { FIELD(struct asm_unregister, flags), FIELD(struct asm_unregister, reserved[0]),
	    FIELD(struct asm_unregister, reserved[1]) } },
	{ "LIST", ASM_IOC_LIST, sizeof(struct asm_list), base_list,
	  { FIELD(struct asm_list, reserved[0]), FIELD(struct asm_list, reserved[1]) } },
	{ "GET_INFO", ASM_IOC_GET_INFO, sizeof(struct asm_agent_info), base_info,
	  { FIELD(struct asm_agent_info, reserved[0]), FIELD(struct asm_agent_info, reserved[1]),
	    FIELD(struct asm_agent_info, reserved[2]) } },
	{ "GET_TELEMETRY_JSON", ASM_IOC_GET_TELEMETRY_JSON, sizeof(struct asm_json),
	  base_telemetry,
	  { FIELD(struct asm_json, reserved[0]), FIELD(struct asm_json, reserved[1]) } },
	{ "GET_AGENT_INFO_JSON", ASM_IOC_GET_AGENT_INFO_JSON, sizeof(struct asm_json),
	  base_agent_json,
	  { FIELD(struct asm_json, reserved[0]), FIELD(struct asm_json, reserved[1]) } },
};

/*
 * Put things back when a request that should have failed did not: forget
 * an agent made of the victim, bring back the witness.
 */
static void repair(void)
{
	struct asm_agent_info info;

	if (!asm_get_info(asm_fd, ID_VICTIM, &info))
		asm_unregister(asm_fd, ID_VICTIM);
	if (asm_get_info(asm_fd, ID_WITNESS, &info) && errno == ESRCH)
		asm_register_pid(asm_fd, ID_WITNESS, witness, "abi-witness", NULL);
}

static void set_u32(union asm_arg *a, size_t off, __u32 v)
{
	memcpy(a->raw + off, &v, sizeof(v));
}

static void set_field(union asm_arg *a, const struct field *f, __u64 v)
{
	if (f->len == sizeof(__u32))
		set_u32(a, f->off, (__u32)v);
	else
		memcpy(a->raw + f->off, &v, sizeof(v));
}

/* One ioctl with @a; expect -1/@err. */
static void expect_ioc(const struct ioc *c, union asm_arg *a, int err, const char *what)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "%s %s", c->name, what);
	ktap_expect_err(ioctl(asm_fd, c->cmd, a), err, msg);
	repair();
}

static void test_common_checks(const struct ioc *c)
{
	static const __u32 versions[] = { 0, ASM_ABI_VERSION + 1, 0xffffffff };
	const __u32 sizes[] = { 0, c->size - 8, c->size + 8, c->size * 2 };
	union asm_arg a;
	char what[64];
	unsigned int i;

	ktap_case_start();
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		c->init(&a);
		a.reg.size = sizes[i];		/* size is the first field of every struct */
		snprintf(what, sizeof(what), "size %u", sizes[i]);
		expect_ioc(c, &a, EINVAL, what);
	}
	ktap_case_end("%s: wrong size -> EINVAL", c->name);

	ktap_case_start();
	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		c->init(&a);
		a.reg.version = versions[i];	/* and version the second */
		snprintf(what, sizeof(what), "version %u", versions[i]);
		expect_ioc(c, &a, EINVAL, what);
	}
	ktap_case_end("%s: wrong version -> EINVAL", c->name);

	ktap_case_start();
	for (i = 0; c->reserved[i].len; i++) {
		c->init(&a);
		set_field(&a, &c->reserved[i], 1);
		snprintf(what, sizeof(what), "reserved word at offset %zu = 1", c->reserved[i].off);
		expect_ioc(c, &a, EINVAL, what);
		c->init(&a);
		set_field(&a, &c->reserved[i], 1ull << (c->reserved[i].len * 8 - 1));
		snprintf(what, sizeof(what), "reserved word at offset %zu top bit", c->reserved[i].off);
		expect_ioc(c, &a, EINVAL, what);
	}
	ktap_case_end("%s: non-zero reserved -> EINVAL", c->name);

	ktap_case_start();
	ktap_expect_err(ioctl(asm_fd, c->cmd, NULL), EFAULT, "NULL argument");
	repair();
	ktap_expect_err(ioctl(asm_fd, c->cmd, (void *)16), EFAULT, "argument (void *)16");
	repair();
	ktap_case_end("%s: bad argument pointer -> EFAULT", c->name);
}

/* --- REGISTER field checks ------------------------------------------------ */

static void reg_expect(struct asm_register *r, int err, const char *what)
{
	ktap_expect_err(ioctl(asm_fd, ASM_IOC_REGISTER, r), err, what);
	repair();
}

static void test_register_checks(void)
{
	static const char *const ctrl_names[] = { "ab\x01" "c", "ab\tc", "ab\nc", "ab\x7f", "\x1b[0m" };
	static const __u64 bad_caps[] = { 1ull << 20, 1ull << 8, 1ull << 63, ~0ull };
	static const __u32 bad_targets[] = { 7, 3, 0xffffffff };
	static const __u32 bad_ids[] = { (__u32)ASM_ID_MAX + 1, 0xffffffff };
	struct asm_register r;
	pid_t gone = dead_pid();
	unsigned int i;
	int dirfd;

	ktap_case_start();
	base_register((union asm_arg *)&r);
	r.name[0] = '\0';
	reg_expect(&r, EINVAL, "empty name");
	ktap_case_end("REGISTER: empty name -> EINVAL");

	ktap_case_start();
	base_register((union asm_arg *)&r);
	memset(r.name, 'a', sizeof(r.name));
	reg_expect(&r, EINVAL, "32 name bytes without NUL");
	ktap_case_end("REGISTER: name without NUL -> EINVAL");

	ktap_case_start();
	for (i = 0; i < sizeof(ctrl_names) / sizeof(ctrl_names[0]); i++) {
		char what[64];

		base_register((union asm_arg *)&r);
		snprintf(r.name, sizeof(r.name), "%s", ctrl_names[i]);
		snprintf(what, sizeof(what), "name with control byte (variant %u)", i);
		reg_expect(&r, EINVAL, what);
	}
	ktap_case_end("REGISTER: name with a control character -> EINVAL");

	ktap_case_start();
	base_register((union asm_arg *)&r);
	snprintf(r.scope, sizeof(r.scope), "tmp/ws");
	reg_expect(&r, EINVAL, "scope tmp/ws");
	base_register((union asm_arg *)&r);
	snprintf(r.scope, sizeof(r.scope), "./ws");
	reg_expect(&r, EINVAL, "scope ./ws");
	ktap_case_end("REGISTER: relative scope -> EINVAL");

	ktap_case_start();
	base_register((union asm_arg *)&r);
	memset(r.scope, 'a', sizeof(r.scope));
	r.scope[0] = '/';
	reg_expect(&r, EINVAL, "256 scope bytes without NUL");
	ktap_case_end("REGISTER: scope without NUL -> EINVAL");

	ktap_case_start();
	for (i = 0; i < sizeof(bad_caps) / sizeof(bad_caps[0]); i++) {
		char what[64];

		base_register((union asm_arg *)&r);
		r.capabilities = ASM_CAP_FS_BASIC | bad_caps[i];
		snprintf(what, sizeof(what), "capabilities 0x%llx", (unsigned long long)r.capabilities);
		reg_expect(&r, EINVAL, what);
	}
	ktap_case_end("REGISTER: unknown capability bit -> EINVAL");

	ktap_case_start();
	base_register((union asm_arg *)&r);
	r.flags = 1;
	reg_expect(&r, EINVAL, "flags 1");
	base_register((union asm_arg *)&r);
	r.flags = 0x80000000;
	reg_expect(&r, EINVAL, "flags 0x80000000");
	ktap_case_end("REGISTER: flags != 0 -> EINVAL");

	ktap_case_start();
	for (i = 0; i < sizeof(bad_targets) / sizeof(bad_targets[0]); i++) {
		char what[64];

		base_register((union asm_arg *)&r);
		r.target = bad_targets[i];
		snprintf(what, sizeof(what), "target %u", bad_targets[i]);
		reg_expect(&r, EINVAL, what);
	}
	ktap_case_end("REGISTER: unknown target -> EINVAL");

	ktap_case_start();
	base_register((union asm_arg *)&r);
	r.target = ASM_TARGET_SELF;	/* keeps pid = victim */
	reg_expect(&r, EINVAL, "SELF with pid set");
	ktap_case_end("REGISTER: pid != 0 with ASM_TARGET_SELF -> EINVAL");

	ktap_case_start();
	base_register((union asm_arg *)&r);
	r.target = ASM_TARGET_SELF;
	r.pid = 0;
	r.cgroup_fd = asm_fd;		/* an open fd: only "not 0" is wrong */
	reg_expect(&r, EINVAL, "SELF with cgroup_fd set");
	base_register((union asm_arg *)&r);
	r.cgroup_fd = asm_fd;
	reg_expect(&r, EINVAL, "PID with cgroup_fd set");
	ktap_case_end("REGISTER: cgroup_fd != 0 without ASM_TARGET_CGROUP -> EINVAL");

	ktap_case_start();
	base_register((union asm_arg *)&r);
	r.pid = gone;
	reg_expect(&r, ESRCH, "PID of a reaped child");
	ktap_case_end("REGISTER: ASM_TARGET_PID of a pid that does not exist -> ESRCH");

	ktap_case_start();
	for (i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		char what[64];

		base_register((union asm_arg *)&r);
		r.agent_id = bad_ids[i];
		snprintf(what, sizeof(what), "agent_id 0x%x", bad_ids[i]);
		reg_expect(&r, EINVAL, what);
	}
	ktap_case_end("REGISTER: agent_id > ASM_ID_MAX -> EINVAL");

	ktap_case_start();
	base_register((union asm_arg *)&r);
	r.target = ASM_TARGET_CGROUP;
	r.pid = 0;
	r.cgroup_fd = -1;
	reg_expect(&r, EBADF, "cgroup_fd -1");
	base_register((union asm_arg *)&r);
	r.target = ASM_TARGET_CGROUP;
	r.pid = 0;
	r.cgroup_fd = 1000;		/* not open */
	reg_expect(&r, EBADF, "cgroup_fd 1000 (not open)");
	ktap_case_end("REGISTER: ASM_TARGET_CGROUP with a closed fd -> EBADF");

	/*
	 * cgroup_get_from_fd() answers EBADF for a directory that is not a
	 * cgroup v2 one; uapi.rst names ENOTDIR.  Either says "not a cgroup".
	 */
	ktap_case_start();
	dirfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	base_register((union asm_arg *)&r);
	r.target = ASM_TARGET_CGROUP;
	r.pid = 0;
	r.cgroup_fd = dirfd;
	{
		int ret = ioctl(asm_fd, ASM_IOC_REGISTER, &r);
		int e = errno;

		ktap_expect(ret == -1 && (e == EBADF || e == ENOTDIR),
			    "cgroup_fd of /: expected EBADF or ENOTDIR, got %s",
			    ret ? errname(e) : "success");
		repair();
	}
	close(dirfd);
	ktap_case_end("REGISTER: ASM_TARGET_CGROUP with a non-cgroup directory -> EBADF/ENOTDIR");

	ktap_case_start();
	base_register((union asm_arg *)&r);
	r.agent_id = ID_WITNESS;
	reg_expect(&r, EEXIST, "victim with the witness's id");
	ktap_case_end("REGISTER: ASM_TARGET_PID with a taken id -> EEXIST");

	ktap_case_start();
	base_register((union asm_arg *)&r);
	r.pid = witness;
	reg_expect(&r, EBUSY, "witness (already an agent) under a new id");
	base_register((union asm_arg *)&r);
	r.pid = witness;
	r.agent_id = 0;
	reg_expect(&r, EBUSY, "witness (already an agent) with id 0");
	ktap_case_end("REGISTER: ASM_TARGET_PID of a process already in an agent -> EBUSY");
}

/* --- other failing or read-only requests ---------------------------------- */

static void test_unknown_commands(void)
{
	union asm_arg a;

	ktap_case_start();
	base_telemetry(&a);
	ktap_expect_err(ioctl(asm_fd, _IOWR(ASM_IOC_MAGIC, 0x7f, struct asm_json), &a), ENOTTY,
			"_IOWR(0xBA, 0x7f, struct asm_json)");
	base_telemetry(&a);
	ktap_expect_err(ioctl(asm_fd, _IOWR(ASM_IOC_MAGIC, 0x00, struct asm_json), &a), ENOTTY,
			"_IOWR(0xBA, 0x00, struct asm_json)");
	base_register(&a);
	ktap_expect_err(ioctl(asm_fd, _IOWR(0xBB, 0x01, struct asm_register), &a), ENOTTY,
			"_IOWR(0xBB, 0x01, struct asm_register)");
	repair();
	ktap_case_end("unknown ioctl command -> ENOTTY");

	/* A known number with another size encoded is another command. */
	ktap_case_start();
	memset(&a, 0, sizeof(a));
	base_unregister(&a);
	ktap_expect_err(ioctl(asm_fd, _IOWR(ASM_IOC_MAGIC, 0x01, struct asm_unregister), &a),
			ENOTTY, "_IOWR(0xBA, 0x01, struct asm_unregister)");
	repair();
	base_info(&a);
	ktap_expect_err(ioctl(asm_fd, _IOR(ASM_IOC_MAGIC, 0x04, struct asm_agent_info), &a),
			ENOTTY, "_IOR(0xBA, 0x04, struct asm_agent_info)");
	ktap_case_end("known ioctl number with another size or direction -> ENOTTY");
}

static void test_unknown_agent(void)
{
	struct asm_agent_info info;

	ktap_case_start();
	ktap_expect_err(asm_get_info(asm_fd, ID_UNKNOWN, &info), ESRCH, "GET_INFO 12345");
	ktap_case_end("GET_INFO of an unknown agent -> ESRCH");

	ktap_case_start();
	ktap_expect_err(asm_unregister(asm_fd, ID_UNKNOWN), ESRCH, "UNREGISTER 12345");
	ktap_case_end("UNREGISTER of an unknown agent -> ESRCH");

	ktap_case_start();
	ktap_expect_err(asm_get_json(asm_fd, ASM_IOC_GET_AGENT_INFO_JSON, ID_UNKNOWN, jbuf,
				     sizeof(jbuf) - 1), ESRCH, "GET_AGENT_INFO_JSON 12345");
	ktap_expect_err(asm_get_json(asm_fd, ASM_IOC_GET_AGENT_INFO_JSON, 0, jbuf,
				     sizeof(jbuf) - 1), ESRCH, "GET_AGENT_INFO_JSON 0");
	ktap_case_end("GET_AGENT_INFO_JSON of an unknown agent -> ESRCH");
}

/*
 * A 1-byte buffer: ERANGE, nothing written, len = the size needed; a retry
 * with that size gets a document of exactly that length.  A document can
 * grow between the calls only if something happens; nothing does here, but
 * allow two more rounds before calling it a failure.
 */
static void test_json_erange(unsigned long cmd, __u32 id, const char *name, const char *needle)
{
	struct asm_json j;
	char one[2];
	int round;

	ktap_case_start();
	for (round = 0; round < 3; round++) {
		__u32 needed;
		int ret, e;

		one[0] = '#';
		one[1] = '#';
		json_init(&j, id, one, 1);
		ret = ioctl(asm_fd, cmd, &j);
		e = errno;
		if (!ktap_expect(ret == -1 && e == ERANGE, "%s with len 1: expected ERANGE, got %s",
				 name, ret ? errname(e) : "success"))
			break;
		ktap_expect(one[0] == '#' && one[1] == '#', "%s wrote to the buffer on ERANGE", name);
		needed = j.len;
		if (!ktap_expect(needed > 1 && needed < sizeof(jbuf),
				 "%s: ERANGE len %u is not a plausible size", name, needed))
			break;
		memset(jbuf, '#', needed + 1);
		json_init(&j, id, jbuf, needed);
		ret = ioctl(asm_fd, cmd, &j);
		if (ret && errno == ERANGE && round < 2)
			continue;	/* the document grew meanwhile */
		if (!ktap_expect_ok(ret, "retry with the needed size"))
			break;
		ktap_expect_u64(j.len, needed, "len of the retry");
		ktap_expect(jbuf[needed] == '#', "%s wrote past len", name);
		jbuf[needed] = '\0';
		ktap_expect(strlen(jbuf) == needed, "%s: the document holds a NUL", name);
		ktap_expect(jbuf[0] == '{' && jbuf[needed - 1] == '}' && strstr(jbuf, needle),
			    "%s: not a {...} document holding %s: %.80s", name, needle, jbuf);
		break;
	}
	ktap_case_end("%s: 1-byte buffer -> ERANGE with len, retry with len succeeds", name);
}

static void test_reads(__u32 nr_agents)
{
	struct asm_list l;
	union asm_arg a;
	__u32 count = 0;
	int ret, e;

	test_json_erange(ASM_IOC_GET_TELEMETRY_JSON, 0, "GET_TELEMETRY_JSON", "\"system\":{");
	test_json_erange(ASM_IOC_GET_AGENT_INFO_JSON, ID_WITNESS, "GET_AGENT_INFO_JSON",
			 "\"agent_id\":4100,");

	ktap_case_start();
	list_init(&l, NULL, 0);
	ret = ioctl(asm_fd, ASM_IOC_LIST, &l);
	e = errno;
	ktap_expect(ret == -1 && e == ERANGE, "LIST capacity 0: expected ERANGE, got %s",
		    ret ? errname(e) : "success");
	ktap_expect_u64(l.count, nr_agents, "count with capacity 0");
	list_ids[0] = 0xdeadbeef;
	list_init(&l, list_ids, 0);
	ret = ioctl(asm_fd, ASM_IOC_LIST, &l);
	e = errno;
	ktap_expect(ret == -1 && e == ERANGE, "LIST capacity 0 with a buffer: expected ERANGE, got %s",
		    ret ? errname(e) : "success");
	ktap_expect(list_ids[0] == 0xdeadbeef, "LIST capacity 0 wrote an id");
	ret = asm_list(asm_fd, list_ids, 256, &count);
	ktap_expect_ok(ret, "LIST capacity 256");
	ktap_expect_u64(count, nr_agents, "count with capacity 256");
	ktap_case_end("LIST: capacity 0 while agents exist -> ERANGE with count");

	ktap_case_start();
	base_telemetry(&a);
	a.json.agent_id = ID_WITNESS;
	ktap_expect_err(ioctl(asm_fd, ASM_IOC_GET_TELEMETRY_JSON, &a), EINVAL, "agent_id 4100");
	base_telemetry(&a);
	a.json.agent_id = 1;
	ktap_expect_err(ioctl(asm_fd, ASM_IOC_GET_TELEMETRY_JSON, &a), EINVAL, "agent_id 1");
	ktap_case_end("GET_TELEMETRY_JSON: agent_id != 0 -> EINVAL");

	ktap_case_start();
	base_list(&a);
	a.list.ids = 16;
	ktap_expect_err(ioctl(asm_fd, ASM_IOC_LIST, &a), EFAULT, "LIST ids (void *)16");
	base_telemetry(&a);
	a.json.buf = 16;
	ktap_expect_err(ioctl(asm_fd, ASM_IOC_GET_TELEMETRY_JSON, &a), EFAULT,
			"GET_TELEMETRY_JSON buf (void *)16");
	base_agent_json(&a);
	a.json.buf = 16;
	ktap_expect_err(ioctl(asm_fd, ASM_IOC_GET_AGENT_INFO_JSON, &a), EFAULT,
			"GET_AGENT_INFO_JSON buf (void *)16");
	ktap_case_end("buffer pointer inside the argument not accessible -> EFAULT");
}

/* --- requests that change state ------------------------------------------ */

/* Child A of the duplicate-id case: registers itself, then holds on. */
struct hold_arg {
	int hold_fd;
};

static void dup_holder(int wfd, void *arg)
{
	struct hold_arg *h = arg;
	char c;

	child_report(wfd, call_errno(asm_register_self(asm_fd, ID_DUP, ASM_CAP_FS_BASIC,
						       "abi-dup-a", NULL)));
	close(wfd);
	/* Until the parent closes its end. */
	if (read(h->hold_fd, &c, 1) < 0)
		_exit(1);
	_exit(0);
}

static void dup_second(int wfd, void *arg)
{
	(void)arg;
	child_report(wfd, call_errno(asm_register_self(asm_fd, ID_DUP, ASM_CAP_FS_BASIC,
						       "abi-dup-b", NULL)));
}

static void test_duplicate_id(void)
{
	struct hold_arg h;
	int hold[2], res[2], status, e = -1, got;
	pid_t a;

	ktap_case_start();
	if (pipe(hold) || pipe(res))
		ktap_bail("pipe: %s", strerror(errno));
	fflush(stdout);
	a = fork();
	if (a < 0)
		ktap_bail("fork: %s", strerror(errno));
	if (a == 0) {
		close(hold[1]);
		close(res[0]);
		h.hold_fd = hold[0];
		dup_holder(res[1], &h);
	}
	close(hold[0]);
	close(res[1]);
	got = read(res[0], &e, sizeof(e));
	close(res[0]);
	if (ktap_expect(got == sizeof(e) && e == 0, "first self-registration with id %d: %s",
			ID_DUP, got == sizeof(e) ? errname(e) : "no report")) {
		int r;

		if (run_child(dup_second, NULL, &r, 1, &status))
			ktap_fail_msg("second child did not report");
		else
			ktap_expect(r == EEXIST, "second self-registration with id %d: expected EEXIST, got %s",
				    ID_DUP, errname(r));
	}
	close(hold[1]);			/* lets A exit */
	waitpid(a, &status, 0);
	ktap_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "holder ended with status 0x%x",
		    status);
	ktap_expect_ok(asm_unregister(asm_fd, ID_DUP), "UNREGISTER of the holder's agent");
	ktap_case_end("REGISTER: duplicate id from another process -> EEXIST");
}

/*
 * Child of the EBUSY case: registers itself, then tries again (another id,
 * id 0) and has a child of its own (a member by fork) try too.
 */
static void busy_child(int wfd, void *arg)
{
	int e, status;
	pid_t g;

	(void)arg;
	child_report(wfd, call_errno(asm_register_self(asm_fd, ID_BUSY, ASM_CAP_FS_BASIC,
						       "abi-busy", NULL)));
	child_report(wfd, call_errno(asm_register_self(asm_fd, ID_BUSY + 1, ASM_CAP_FS_BASIC,
						       "abi-busy-2", NULL)));
	child_report(wfd, call_errno(asm_register_self(asm_fd, 0, ASM_CAP_FS_BASIC,
						       "abi-busy-3", NULL)));
	g = fork();
	if (g == 0)
		_exit(call_errno(asm_register_self(asm_fd, ID_BUSY + 2, ASM_CAP_FS_BASIC,
						   "abi-busy-4", NULL)));
	e = -1;
	if (g > 0 && waitpid(g, &status, 0) == g && WIFEXITED(status))
		e = WEXITSTATUS(status);
	child_report(wfd, e);
}

static void test_busy_self(void)
{
	struct asm_agent_info info;
	int r[4], status, i;

	ktap_case_start();
	if (run_child(busy_child, NULL, r, 4, &status)) {
		ktap_fail_msg("child did not report");
	} else {
		ktap_expect(r[0] == 0, "first self-registration: %s", errname(r[0]));
		ktap_expect(r[1] == EBUSY, "again with id %d: expected EBUSY, got %s", ID_BUSY + 1,
			    errname(r[1]));
		ktap_expect(r[2] == EBUSY, "again with id 0: expected EBUSY, got %s", errname(r[2]));
		ktap_expect(r[3] == EBUSY, "its forked child: expected EBUSY, got %s", errname(r[3]));
	}
	for (i = 1; i <= 2; i++) {
		if (!ktap_expect_err(asm_get_info(asm_fd, ID_BUSY + i, &info), ESRCH,
				     i == 1 ? "GET_INFO of the 2nd id" : "GET_INFO of the 3rd id"))
			asm_unregister(asm_fd, ID_BUSY + i);
	}
	if (r[0] == 0)
		ktap_expect_ok(asm_unregister(asm_fd, ID_BUSY), "UNREGISTER of the child's agent");
	ktap_case_end("REGISTER: a process already in an agent registers itself -> EBUSY");
}

static void test_valid(__u32 base_count)
{
	const __u64 caps = ASM_CAP_FS_BASIC | ASM_CAP_NET_CLIENT | ASM_CAP_LLM_ACCESS;
	static const char long_name[] = "abcdefghijklmnopqrstuvwxyz-0123";	/* 31 chars */
	pid_t p1 = sleeper_start(), p2 = sleeper_start(), p3 = sleeper_start();
	struct asm_agent_info info;
	struct asm_register r;
	__u32 alloc_id = 0, count = 0, i, ids[8];
	uint64_t t0, t1;
	int ret, ok;

	/* Register a child by pid. */
	ktap_case_start();
	reg_init(&r, ID_VALID, ASM_TARGET_PID, p1, "abi-valid");
	r.capabilities = caps;
	r.auto_restart = 2;
	snprintf(r.scope, sizeof(r.scope), "/tmp/asm-abi/");
	t0 = now_ns(CLOCK_BOOTTIME);
	ret = ioctl(asm_fd, ASM_IOC_REGISTER, &r);
	t1 = now_ns(CLOCK_BOOTTIME);
	ok = ktap_expect_ok(ret, "REGISTER child by pid as 4242");
	if (ok) {
		ktap_expect_u64(r.agent_id, ID_VALID, "agent_id out");
		ktap_expect_u64(r.pid, p1, "pid out");
	}
	ktap_case_end("REGISTER: ASM_TARGET_PID of a child as 4242 -> 0");

	ktap_case_start();
	ret = asm_get_info(asm_fd, ID_VALID, &info);
	if (ktap_expect_ok(ret, "GET_INFO 4242")) {
		ktap_expect_u64(info.agent_id, ID_VALID, "agent_id");
		ktap_expect(!strcmp(info.name, "abi-valid"), "name: expected abi-valid, got %.32s",
			    info.name);
		ktap_expect(!strcmp(info.scope, "/tmp/asm-abi/"), "scope: got %.256s", info.scope);
		ktap_expect_u64(info.capabilities, caps, "capabilities");
		ktap_expect_u64(info.pid, p1, "pid");
		ktap_expect_u64(info.state, ASM_STATE_SPAWNED, "state");
		ktap_expect_u64(info.owner_uid, 0, "owner_uid");
		ktap_expect_u64(info.nr_processes, 1, "nr_processes");
		ktap_expect_u64(info.auto_restart, 2, "auto_restart");
		ktap_expect_u64(info.restart_count, 0, "restart_count");
		ktap_expect_u64(info.spawns, 1, "spawns");
		ktap_expect_u64(info.exits, 0, "exits");
		ktap_expect_u64(info.crashes, 0, "crashes");
		ktap_expect_u64(info.faults, 0, "faults");
		ktap_expect_u64(info.execs, 0, "execs");
		ktap_expect_u64(info.risk_level, ASM_RISK_LIMITED, "risk_level (the default)");
		ktap_expect(info.registered_ns >= t0 && info.registered_ns <= t1,
			    "registered_ns %llu not within the REGISTER call [%llu, %llu]",
			    (unsigned long long)info.registered_ns, (unsigned long long)t0,
			    (unsigned long long)t1);
		ktap_expect(info.last_activity_ns >= info.registered_ns,
			    "last_activity_ns %llu < registered_ns",
			    (unsigned long long)info.last_activity_ns);
	}
	ktap_case_end("GET_INFO: name, capabilities, pid, state Spawned, spawns 1");

	ktap_case_start();
	if (ktap_expect(asm_get_json(asm_fd, ASM_IOC_GET_AGENT_INFO_JSON, ID_VALID, jbuf,
				     sizeof(jbuf) - 1) > 0,
			"GET_AGENT_INFO_JSON 4242: %s", errname(errno))) {
		ktap_expect(jbuf[0] == '{', "document does not start with {");
		json_expect_num(jbuf, "agent_id", ID_VALID);
		json_expect_num(jbuf, "pid", p1);
		json_expect(jbuf, "name", "\"abi-valid\"");
		json_expect(jbuf, "state", "\"Spawned\"");
		json_expect(jbuf, "capabilities", "[\"FsBasic\",\"NetClient\",\"LlmAccess\"]");
		json_expect(jbuf, "scope", "\"/tmp/asm-abi/\"");
		json_expect(jbuf, "auto_restart", "true");
		json_expect_num(jbuf, "max_restarts", 2);
		json_expect_num(jbuf, "restart_count", 0);
		json_expect_num(jbuf, "owner_uid", 0);
		json_expect_num(jbuf, "nr_processes", 1);
		json_expect_num(jbuf, "spawn_count", 1);
		json_expect_num(jbuf, "exit_count", 0);
		json_expect_num(jbuf, "crash_count", 0);
		json_expect_num(jbuf, "fault_count", 0);
		json_expect_num(jbuf, "exec_count", 0);
		json_expect_num(jbuf, "last_exit_code", 0);
		if (!ktap_case_ok)
			ktap_msg("document: %.400s", jbuf);
	}
	ktap_case_end("GET_AGENT_INFO_JSON: the same agent as JSON");

	/* Let the kernel pick the id. */
	ktap_case_start();
	ret = asm_register_pid(asm_fd, 0, p2, "abi-alloc", &alloc_id);
	if (ktap_expect_ok(ret, "REGISTER with agent_id 0"))
		ktap_expect(alloc_id >= ASM_ID_ALLOC_MIN && alloc_id <= ASM_ID_MAX &&
			    alloc_id != ID_WITNESS && alloc_id != ID_VALID,
			    "allocated id %u not in [%u, %u] or taken", alloc_id,
			    ASM_ID_ALLOC_MIN, ASM_ID_MAX);
	ktap_expect(!asm_get_info(asm_fd, alloc_id, &info) && info.pid == p2,
		    "GET_INFO of the allocated id %u does not show pid %d", alloc_id, (int)p2);
	ktap_case_end("REGISTER: agent_id 0 allocates an id >= 1000");

	/* The largest id and the longest name are valid. */
	ktap_case_start();
	reg_init(&r, ASM_ID_MAX, ASM_TARGET_PID, p3, long_name);
	ret = ioctl(asm_fd, ASM_IOC_REGISTER, &r);
	if (ktap_expect_ok(ret, "REGISTER id ASM_ID_MAX, 31-char name")) {
		ktap_expect(!asm_get_info(asm_fd, ASM_ID_MAX, &info) && !strcmp(info.name, long_name),
			    "GET_INFO of ASM_ID_MAX: %s, name %.32s", errname(errno), info.name);
		ktap_expect_ok(asm_unregister(asm_fd, ASM_ID_MAX), "UNREGISTER ASM_ID_MAX");
	}
	ktap_case_end("REGISTER: agent_id ASM_ID_MAX and a 31-character name -> 0");

	/* Ascending ids; a short array gets the first ones and ERANGE. */
	ktap_case_start();
	ret = asm_list(asm_fd, list_ids, 256, &count);
	if (ktap_expect_ok(ret, "LIST") &&
	    ktap_expect_u64(count, base_count + 2, "count")) {
		int seen = 0;

		for (i = 0; i < count; i++) {
			if (i)
				ktap_expect(list_ids[i - 1] < list_ids[i], "ids not ascending at %u: %u %u",
					    i, list_ids[i - 1], list_ids[i]);
			seen |= (list_ids[i] == ID_WITNESS) | (list_ids[i] == ID_VALID) << 1 |
				(list_ids[i] == alloc_id) << 2;
		}
		ktap_expect(seen == 7, "LIST misses one of %u %u %u", ID_WITNESS, ID_VALID, alloc_id);
		memset(ids, 0, sizeof(ids));
		ret = asm_list(asm_fd, ids, 1, &count);
		ktap_expect(ret == -1 && errno == ERANGE, "LIST capacity 1: expected ERANGE");
		ktap_expect_u64(count, base_count + 2, "count with capacity 1");
		ktap_expect_u64(ids[0], list_ids[0], "first id with capacity 1");
		ktap_expect_u64(ids[1], 0, "ids[1] written with capacity 1");
	}
	ktap_case_end("LIST: ascending ids; capacity 1 -> ERANGE with the first id");

	/* Unregister: the agents go, their processes stay. */
	ktap_case_start();
	ktap_expect_ok(asm_unregister(asm_fd, ID_VALID), "UNREGISTER 4242");
	ktap_expect_ok(asm_unregister(asm_fd, alloc_id), "UNREGISTER allocated id");
	ktap_expect_err(asm_get_info(asm_fd, ID_VALID, &info), ESRCH, "GET_INFO 4242 after");
	ktap_expect_err(asm_get_info(asm_fd, alloc_id, &info), ESRCH, "GET_INFO allocated after");
	ktap_expect_err(asm_unregister(asm_fd, ID_VALID), ESRCH, "UNREGISTER 4242 again");
	ktap_expect(kill(p1, 0) == 0 && proc_state(p1) == 'S', "pid %d did not survive", (int)p1);
	ktap_expect(kill(p2, 0) == 0 && proc_state(p2) == 'S', "pid %d did not survive", (int)p2);
	ktap_case_end("UNREGISTER both -> GET_INFO ESRCH, processes keep running");

	sleeper_stop(p1);
	sleeper_stop(p2);
	sleeper_stop(p3);
}

int main(void)
{
	struct snapshot before, after;
	unsigned int i;
	__u32 base_count = 0;
	__u32 ids[256];

	signal(SIGPIPE, SIG_IGN);
	ktap_header(NR_CASES);
	if (geteuid() != 0) {
		printf("# SKIP must run as root\n");
		exit(KSFT_SKIP);
	}
	asm_fd = asm_open();
	if (asm_fd < 0)
		ktap_bail("open %s: %s", ASM_DEVICE_PATH, strerror(errno));
	if (asm_list(asm_fd, ids, 256, &base_count))
		ktap_bail("LIST: %s", strerror(errno));
	for (i = 0; i < base_count; i++)
		if (ids[i] >= ID_WITNESS && ids[i] <= ID_UNKNOWN)
			ktap_bail("agent %u exists already: run on a fresh module", ids[i]);

	witness = sleeper_start();
	victim = sleeper_start();
	if (asm_register_pid(asm_fd, ID_WITNESS, witness, "abi-witness", NULL))
		ktap_bail("REGISTER witness: %s", strerror(errno));

	if (!take_snapshot(&before))
		ktap_bail("cannot read the state before the malformed calls");

	for (i = 0; i < sizeof(iocs) / sizeof(iocs[0]); i++)
		test_common_checks(&iocs[i]);		/* 24 cases */
	test_unknown_commands();			/* 2 */
	test_unknown_agent();				/* 3 */
	test_register_checks();				/* 16 */
	test_reads(base_count + 1);			/* 5 */

	ktap_case_start();
	if (take_snapshot(&after)) {
		ktap_expect(!strcmp(before.system, after.system),
			    "system object changed:\n#  before %s\n#  after  %s", before.system,
			    after.system);
		ktap_expect(before.count == after.count &&
			    !memcmp(before.ids, after.ids, before.count * sizeof(__u32)),
			    "agent list changed: %u ids before, %u after", before.count, after.count);
	}
	ktap_case_end("failed and read-only calls change nothing (system object, agent list)");

	test_duplicate_id();				/* 1 */
	test_busy_self();				/* 1 */
	test_valid(base_count + 1);			/* 7 */

	asm_unregister(asm_fd, ID_WITNESS);
	sleeper_stop(witness);
	sleeper_stop(victim);
	close(asm_fd);
	ktap_finish();
}
