/* SPDX-License-Identifier: GPL-2.0 */
/*
 * shim.h - the C glue asm.ko's Rust code calls, and the Rust entry points
 * the glue calls back.  src/ffi.rs mirrors this file; keep them in step.
 *
 * The glue covers what the 6.12 Rust kernel crate has no abstraction for:
 * tracepoints, procfs, debugfs, the misc device, xarray and RCU inlines and
 * task fields.  It holds no policy and no state beyond the registered
 * objects.
 */
#ifndef ASM_SHIM_H
#define ASM_SHIM_H

#include <linux/types.h>

struct task_struct;

struct seq_file;
struct sk_buff;
struct xarray;

/* One process, as asm_for_each_process() reports it. */
struct asm_task_info {
	struct task_struct *task;	/* valid during the callback only */
	pid_t tgid;
	u32 pad;
	u64 cgroup_id;		/* cgroup v2 id, 0 if none */
	u64 cpu_ns;		/* runtime of its live (not exiting) threads */
	u64 rss_bytes;		/* resident set, 0 without an mm */
	u64 io_ops;		/* read and write syscalls (task I/O accounting) */
};

/* One event for the generic netlink family (see asm.h). */
struct asm_genl_event {
	u64 seq;
	u64 timestamp_ns;
	u64 value;
	u64 limit;
	u32 type;
	u32 agent_id;
	s32 pid;
	s32 exit_code;
	s32 signal;
	u32 fault;
	u32 action;
	u32 pad;
};

/* Objects: /proc/agentsys, debugfs asm/, /dev/asm, the lifecycle probes. */
int asm_shim_init(void);
void asm_shim_exit(void);
/* Register (on) or unregister (off) the raw_syscalls:sys_enter probe. */
int asm_shim_syscall_probe(bool on);
/* Run the sampler (asm_rust_sample) now; it re-arms itself. */
void asm_sampler_kick(void);
void asm_sampler_ensure(unsigned int ms);
void asm_cascade_kick(void);
/* Whether ASM's sys_enter probe is the only user of the syscall tracepoints. */
bool asm_syscall_tp_exclusive(void);
/* Set or clear the syscall tracepoint work bit of @p's threads (under RCU). */
void asm_task_syscall_work(struct task_struct *p, bool on);
void asm_pid_syscall_work(struct pid *pid, bool on);
/* Have asm_rust_notify() run soon if anyone listens; returns whether (any context). */
bool asm_notify_kick(void);
/* Whether anyone listens to the events group. */
bool asm_genl_listening(void);
/* Multicast one event; 0 or a negative errno. */
int asm_genl_send(const struct asm_genl_event *ev);
/* Send @sig to the thread group of @task (under RCU or a task reference). */
int asm_signal_task(struct task_struct *task, int sig);

/* xarray: allocated by the glue so Rust does not need its layout. */
struct xarray *asm_xa_new(void);
void asm_xa_free(struct xarray *xa);
/* Under RCU: the entry at @index, untagged; its tag. */
void *asm_xa_load(struct xarray *xa, unsigned long index);
unsigned int asm_xa_tag(struct xarray *xa, unsigned long index);
int asm_xa_insert(struct xarray *xa, unsigned long index, void *entry);
void *asm_xa_erase(struct xarray *xa, unsigned long index);
void asm_xa_lock(struct xarray *xa);
void asm_xa_unlock(struct xarray *xa);
int asm_xa_insert_locked(struct xarray *xa, unsigned long index, void *entry,
			 unsigned int tag);
void *asm_xa_erase_locked(struct xarray *xa, unsigned long index);
void *asm_xa_erase_if_locked(struct xarray *xa, unsigned long index, void *entry);
void *asm_xa_find(struct xarray *xa, unsigned long *index);

void asm_rcu_read_lock(void);
void asm_rcu_read_unlock(void);
/* Run @func(@head) after a grace period; wait for every such callback. */
void asm_call_rcu(struct rcu_head *head, rcu_callback_t func);
void asm_rcu_barrier(void);

/* Time, credentials, pids. */
u64 asm_now_ns(void);
unsigned int asm_param_max_agents_per_uid(void);
unsigned int asm_param_reclaim_ms(void);
unsigned int asm_param_cascade_term_ms(void);
unsigned int asm_param_cascade_hold_ms(void);
bool asm_param_llm_audit_prompts(void);
bool asm_capable_admin(void);
bool asm_capable_admin_noaudit(void);
u32 asm_current_euid(void);
struct pid *asm_current_process(pid_t *tgid);
struct pid *asm_find_process(pid_t vnr, pid_t *tgid);
pid_t asm_pid_vnr(struct pid *pid);
void asm_put_pid(struct pid *pid);
bool asm_pid_alive(struct pid *pid);
bool asm_pid_group_dead(struct pid *pid);
bool asm_task_group_dead(struct task_struct *task);
int asm_cgroup_id_from_fd(int fd, u64 *id);

/*
 * Calls @cb for every process under RCU; @cb must not sleep.  Only the
 * task, tgid and cgroup_id are filled: the usage fields are 0 (the sampler
 * looks agents' processes up one by one, asm_with_process()).
 */
void asm_for_each_process(void (*cb)(void *ctx, const struct asm_task_info *info),
			  void *ctx);
/* Calls @cb for process @tgid (initial pid namespace) if it exists. */
void asm_with_process(pid_t tgid, void (*cb)(void *ctx, const struct asm_task_info *info),
		      void *ctx);

int asm_seq_write(struct seq_file *m, const void *buf, size_t len);

void asm_kill_current(void);
void asm_signal_tgid(pid_t tgid, int sig);
void asm_sha256(const void *data, unsigned int len, u8 *out);
u64 asm_real_ns(void);
pid_t asm_current_tgid(void);

/* Facts about an opened file, for asm_rust_on_open().  Mirrored in src/ffi.rs. */
#define ASM_FILE_WRITE		0x1	/* FMODE_WRITE */
#define ASM_FILE_CREATED	0x2	/* FMODE_CREATED: this open made it */
#define ASM_FILE_FOREIGN_VIEW	0x4	/* the opener's mount namespace or
					 * root is not the system's */
#define ASM_FILE_PSEUDO		0x8	/* named by d_dname: pipe, socket,
					 * anonymous inode */

/* What asm_rust_net_verdict() judges.  Mirrored in src/ffi.rs (NetHook). */
#define ASM_NET_TCP_SYN		1	/* a task sends a TCP SYN */
#define ASM_NET_TCP_LISTEN	2	/* a task's socket enters TCP_LISTEN */

/*
 * asm_rust_socket_verdict() and asm_rust_net_verdict(): let the call (the
 * packet) go, or skip it with -EPERM (drop it).
 */
#define ASM_VERDICT_ALLOW	0	/* src/ffi.rs: Verdict */
#define ASM_VERDICT_SKIP	1

/* ASM_CMD_GW_COMPLETE's attributes (asm_mod.rs: GwCompletion). */
struct asm_gw_completion {
	u64 id;
	u32 status;
	u32 provider;
	u32 tokens_used;
	u32 fallback;
	const u8 *text;
	size_t text_len;
	const u8 *tried;
	size_t tried_len;
};

int asm_nla_put(struct sk_buff *skb, u16 attr, u32 len, const void *data);
int asm_nla_put_u64(struct sk_buff *skb, u16 attr, u64 value);
void asm_gw_notify(u64 id);
void asm_gw_wake_pollers(void);

/* Rust entry points (asm_mod.rs). */
long asm_rust_ioctl(u64 file, unsigned int cmd, unsigned long arg);
bool asm_rust_poll(u64 file);
void asm_rust_release(u64 file);
int asm_rust_status_show(struct seq_file *m, u32 uid, bool admin);
int asm_rust_events_show(struct seq_file *m, u32 uid, bool admin);
int asm_rust_probe_cost_show(struct seq_file *m, pid_t tgid);
int asm_rust_sampler_show(struct seq_file *m);
/* The size a view of @per_agent bytes per agent uid @uid sees starts with. */
size_t asm_rust_view_size(size_t per_agent, u32 uid, bool admin);
/* Whether process @tgid is an agent's (exactly, unlike the filter). */
bool asm_rust_agent_process(pid_t tgid);

/* The probe paths asm_bench_probe() times.  Mirrored in src/probe_cost.rs. */
#define ASM_BENCH_EMPTY		0	/* an empty call: the loop's own cost */
#define ASM_BENCH_SYS_ENTER	1
#define ASM_BENCH_FORK		2
#define ASM_BENCH_EXIT		3
#define ASM_BENCH_EXEC		4
#define ASM_BENCH_OPEN		5
#define ASM_BENCH_CONNECT	6
u64 asm_bench_probe(struct seq_file *m, u32 path, u32 calls);
/* What asm_rust_on_fork() says of the child (src/lifecycle.rs: ForkVerdict). */
#define ASM_FORK_OUTSIDE	0
#define ASM_FORK_MEMBER		1	/* trace its system calls */
#define ASM_FORK_KILL		2	/* it could not join, or its agent is ending: kill it */
/* Under rcu_read_lock(). */
int asm_rust_on_fork(pid_t parent_tgid, pid_t child_tgid, u64 child_cgroup, u64 start_ns);
int asm_rust_gw_register(u32 portid);
void asm_rust_gw_released(u32 portid);
int asm_rust_gw_pull(u32 portid, struct sk_buff *skb, u64 *id);
void asm_rust_gw_unpull(u64 id);
int asm_rust_gw_complete(u32 portid, const struct asm_gw_completion *c);
int asm_rust_gateway_show(struct seq_file *m, u32 uid, bool admin, bool status);
void asm_rust_on_exec(pid_t tgid, const char *file, size_t len);
void asm_rust_on_exit(pid_t tgid, bool group_dead, int status, u64 runtime_ns,
		      u64 io_ops);
void asm_rust_on_attach(u64 cgroup_id, pid_t tgid, struct task_struct *task,
			u64 cpu_ns);
/* The sampler's work: returns ms until it wants to run again, 0 for never. */
unsigned int asm_rust_sample(void);
unsigned int asm_rust_cascade(void);
/* The notify work: sends the events recorded since the last call. */
void asm_rust_notify(void);
/* Whether any agent is registered: one load. */
bool asm_rust_any_agent(void);
/* Whether @tgid may be an agent's: one load for most tasks. */
bool asm_rust_may_be_agent(pid_t tgid);
/*
 * A system call of @tgid: 0, or the check (enum asm_violation) to make on
 * the socket *@fd before asm_rust_socket_verdict() decides.
 */
u32 asm_rust_on_sys_enter(pid_t tgid, long nr, const unsigned long *args,
			  bool compat, unsigned long *fd);
int asm_rust_socket_verdict(pid_t tgid, u32 check, unsigned long fd, int family,
			    int protocol);
int asm_rust_net_verdict(pid_t tgid, u32 what, int family, int protocol);
bool asm_rust_open_watched(pid_t tgid, long nr, bool compat);
void asm_rust_on_open(pid_t tgid, const char *path, size_t len,
		      unsigned int facts, long nr, const unsigned long *args,
		      bool compat);
int asm_rust_compliance_show(struct seq_file *m, u32 uid, bool admin);

#endif /* ASM_SHIM_H */
