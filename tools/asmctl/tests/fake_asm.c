// SPDX-License-Identifier: GPL-2.0
/*
 * A stand-in for the asm module, loaded into asmctl with LD_PRELOAD by
 * tests/fake.rs: opening /dev/asm gives /dev/null, and the ioctls on that
 * fd answer as Documentation/uapi.rst says the module does.  The request
 * numbers and structs come from include/uapi/linux/asm.h itself, so the
 * Rust side's numbers and layouts are checked against the header's macros.
 *
 * Agents: 100 (live), 101 (live, restarted), 102 (exited), then 999 and
 * 5000 to 5069, listed but gone by the time they are queried (ESRCH).  The
 * list is longer, and every JSON document claims to need more room
 * (JSON_ROOM), than asmctl's first buffers, so its ERANGE retries must grow
 * them by what the answer says.  FAKE_ASM_ERRNO=N makes REGISTER and UNREGISTER fail with errno N;
 * FAKE_ASM_LOG=path records each REGISTER/UNREGISTER request there.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <linux/asm.h>

static int fake_fd = -1;

struct agent {
	__u32 id, state, nr_processes, auto_restart, restart_count;
	__s32 pid;
	__u64 caps;
	const char *name, *scope, *state_name, *caps_json;
};

static const struct agent agents[] = {
	{ 100, ASM_STATE_ACTIVE, 1, 3, 0, 42,
	  ASM_CAP_FS_BASIC | ASM_CAP_FS_EXTENDED, "fs_monitor", "/tmp/ws/",
	  "Active", "[\"FsBasic\",\"FsExtended\"]" },
	{ 101, ASM_STATE_RESTARTED, 2, 5, 2, 43, ASM_CAP_NET_CLIENT,
	  "net_agent", "", "Restarted", "[\"NetClient\"]" },
	{ 102, ASM_STATE_EXITED, 0, 0, 0, 0, 0, "audio_ctrl", "", "Exited",
	  "[]" },
};
static const __u32 listed_ids[] = { 100, 101, 102, 999 };
#define NR_AGENTS (sizeof(agents) / sizeof(agents[0]))
#define NR_VANISHED 70
#define NR_LISTED (sizeof(listed_ids) / sizeof(listed_ids[0]) + NR_VANISHED)
#define JSON_ROOM 20000

static __u64 boottime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static const struct agent *find(__u32 id)
{
	for (size_t i = 0; i < NR_AGENTS; i++)
		if (agents[i].id == id)
			return &agents[i];
	return NULL;
}

static int fail(int e)
{
	errno = e;
	return -1;
}

static int agent_json(const struct agent *a, char *buf, size_t room)
{
	/* Last activity 5 s ago, so asminfo shows "5 seconds ago". */
	return snprintf(buf, room,
		"{\"agent_id\":%u,\"pid\":%d,\"name\":\"%s\",\"state\":\"%s\","
		"\"capabilities\":%s,\"scope\":\"%s\",\"auto_restart\":%s,"
		"\"max_restarts\":%u,\"restart_count\":%u,\"owner_uid\":0,"
		"\"nr_processes\":%u,\"spawn_count\":1,\"exit_count\":0,"
		"\"crash_count\":0,\"fault_count\":0,\"exec_count\":1,"
		"\"cpu_time_us\":125000,\"memory_bytes\":4096000,"
		"\"last_exit_code\":0,\"registered_ns\":1000000,"
		"\"last_activity_ns\":%llu}",
		a->id, a->pid, a->name, a->state_name, a->caps_json, a->scope,
		a->auto_restart ? "true" : "false", a->auto_restart,
		a->restart_count, a->nr_processes,
		(unsigned long long)(boottime_ns() - 5000000000ull));
}

static const char telemetry[] =
	"{\"system\":{\"total_agents_spawned\":3,\"total_agents_exited\":2,"
	"\"total_crashes\":1,\"total_faults\":1,\"total_restarts\":0,"
	"\"active_agents\":1,\"registered_agents\":1,\"total_syscalls\":812,"
	"\"events_total\":9,\"events_dropped\":0},"
	"\"agents\":{\"100\":{\"spawn_count\":3,\"exit_count\":2,"
	"\"crash_count\":1,\"fault_count\":1,\"cpu_time_us\":5210,"
	"\"memory_bytes\":1220608}},"
	"\"recent_events\":["
	"{\"timestamp_ns\":12345000000,\"type\":\"spawn\",\"agent_id\":100,"
	"\"pid\":42,\"exit_code\":0,\"signal\":0},"
	"{\"timestamp_ns\":12345678901,\"type\":\"crash\",\"agent_id\":100,"
	"\"pid\":43,\"exit_code\":0,\"signal\":11}]}";

static int do_json(struct asm_json *j, int is_telemetry)
{
	char doc[4096];
	int len;

	if (j->reserved[0] || j->reserved[1])
		return fail(EINVAL);
	if (is_telemetry) {
		if (j->agent_id)
			return fail(EINVAL);
		len = snprintf(doc, sizeof(doc), "%s", telemetry);
	} else {
		const struct agent *a = find(j->agent_id);

		if (!a)
			return fail(ESRCH);
		len = agent_json(a, doc, sizeof(doc));
	}
	if (j->len < JSON_ROOM) {
		j->len = JSON_ROOM;
		return fail(ERANGE);
	}
	memcpy((void *)(unsigned long)j->buf, doc, len);
	j->len = len;
	return 0;
}

static int do_list(struct asm_list *l)
{
	__u32 *ids = (__u32 *)(unsigned long)l->ids;
	__u32 known = sizeof(listed_ids) / sizeof(listed_ids[0]);

	if (l->reserved[0] || l->reserved[1])
		return fail(EINVAL);
	for (__u32 i = 0; i < NR_LISTED && i < l->capacity; i++)
		ids[i] = i < known ? listed_ids[i] : 5000 + (i - known);
	l->count = NR_LISTED;
	return l->count > l->capacity ? fail(ERANGE) : 0;
}

static int do_info(struct asm_agent_info *info)
{
	const struct agent *a = find(info->agent_id);
	__u32 id = info->agent_id;

	if (!a)
		return fail(ESRCH);
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	info->version = ASM_ABI_VERSION;
	info->agent_id = id;
	info->state = a->state;
	info->pid = a->pid;
	info->nr_processes = a->nr_processes;
	info->auto_restart = a->auto_restart;
	info->restart_count = a->restart_count;
	info->capabilities = a->caps;
	strcpy(info->name, a->name);
	strcpy(info->scope, a->scope);
	return 0;
}

static void log_line(const char *fmt, ...)
{
	const char *path = getenv("FAKE_ASM_LOG");
	va_list ap;
	FILE *f;

	if (!path || !(f = fopen(path, "a")))
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

static int forced_errno(void)
{
	const char *e = getenv("FAKE_ASM_ERRNO");

	return e ? atoi(e) : 0;
}

static int do_register(struct asm_register *r)
{
	struct stat st;
	int cgroup_is_dir = 0;

	if (r->flags || r->reserved[0] || r->reserved[3] ||
	    r->name[ASM_NAME_LEN - 1] || r->scope[ASM_SCOPE_LEN - 1] ||
	    (r->capabilities & ~ASM_CAP_ALL))
		return fail(EINVAL);
	if (r->target == ASM_TARGET_CGROUP)
		cgroup_is_dir = fstat(r->cgroup_fd, &st) == 0 &&
				S_ISDIR(st.st_mode);
	log_line("register caller=%d id=%u target=%u pid=%d cgroup_dir=%d "
		 "caps=%llu auto_restart=%u name=%s scope=%s\n",
		 getpid(), r->agent_id, r->target, r->pid, cgroup_is_dir,
		 (unsigned long long)r->capabilities, r->auto_restart,
		 r->name, r->scope);
	if (forced_errno())
		return fail(forced_errno());
	if (!r->agent_id)
		r->agent_id = ASM_ID_ALLOC_MIN;
	if (r->target == ASM_TARGET_SELF)
		r->pid = getpid();
	return 0;
}

int ioctl(int fd, unsigned long request, ...)
{
	static int (*real)(int, unsigned long, ...);
	va_list ap;
	void *arg;
	__u32 *head;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd != fake_fd || fake_fd < 0) {
		if (!real)
			real = dlsym(RTLD_NEXT, "ioctl");
		return real(fd, request, arg);
	}
	/* Every argument starts with size and version. */
	head = arg;
	if (head[1] != ASM_ABI_VERSION)
		return fail(EINVAL);
	switch (request) {
	case ASM_IOC_REGISTER:
		if (head[0] != sizeof(struct asm_register))
			return fail(EINVAL);
		return do_register(arg);
	case ASM_IOC_UNREGISTER: {
		struct asm_unregister *u = arg;

		if (u->size != sizeof(*u) || u->flags || u->reserved[0])
			return fail(EINVAL);
		log_line("unregister id=%u\n", u->agent_id);
		if (forced_errno())
			return fail(forced_errno());
		return find(u->agent_id) ? 0 : fail(ESRCH);
	}
	case ASM_IOC_LIST:
		if (head[0] != sizeof(struct asm_list))
			return fail(EINVAL);
		return do_list(arg);
	case ASM_IOC_GET_INFO:
		if (head[0] != sizeof(struct asm_agent_info))
			return fail(EINVAL);
		return do_info(arg);
	case ASM_IOC_GET_TELEMETRY_JSON:
	case ASM_IOC_GET_AGENT_INFO_JSON:
		if (head[0] != sizeof(struct asm_json))
			return fail(EINVAL);
		return do_json(arg, request == ASM_IOC_GET_TELEMETRY_JSON);
	}
	return fail(ENOTTY);
}

/*
 * std may open files through any of these; /dev/asm becomes /dev/null,
 * whose fd the ioctl() above then answers for.
 */
static int fake_openat(const char *sym, int dirfd, const char *path,
		       int flags, mode_t mode)
{
	int (*real)(int, const char *, int, ...) = dlsym(RTLD_NEXT, sym);

	if (!strcmp(path, ASM_DEVICE_PATH)) {
		fake_fd = real(AT_FDCWD, "/dev/null", flags);
		return fake_fd;
	}
	return real(dirfd, path, flags, mode);
}

/* The mode argument is there only with O_CREAT or O_TMPFILE. */
#define MODE_ARG(flags, mode)						\
	do {								\
		va_list ap;						\
									\
		va_start(ap, flags);					\
		mode = (flags & (O_CREAT | O_TMPFILE)) ?		\
			va_arg(ap, mode_t) : 0;				\
		va_end(ap);						\
	} while (0)

int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode;

	MODE_ARG(flags, mode);
	return fake_openat("openat", dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode;

	MODE_ARG(flags, mode);
	return fake_openat("openat64", dirfd, path, flags, mode);
}

int open(const char *path, int flags, ...)
{
	mode_t mode;

	MODE_ARG(flags, mode);
	return fake_openat("openat", AT_FDCWD, path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
	mode_t mode;

	MODE_ARG(flags, mode);
	return fake_openat("openat64", AT_FDCWD, path, flags, mode);
}
