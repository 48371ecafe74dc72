// SPDX-License-Identifier: GPL-2.0
/*
 * shim.c - C glue of asm.ko: registers the kernel objects whose ops tables
 * and inlines the 6.12 Rust kernel crate cannot express, and forwards every
 * call to the Rust entry points declared in shim.h.  Policy lives in Rust.
 */
#include <linux/binfmts.h>
#include <linux/capability.h>
#include <linux/cgroup.h>
#include <linux/compat.h>
#include <linux/cred.h>
#include <linux/dcache.h>
#include <linux/debugfs.h>
#include <linux/file.h>
#include <linux/fs_struct.h>
#include <linux/path.h>
#include <linux/fs.h>
#include <linux/fcntl.h>
#include <linux/net.h>
#include <linux/netlink.h>
#include <linux/notifier.h>
#include <linux/percpu.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/proc_fs.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/tracepoint.h>
#include <linux/unistd.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <crypto/sha2.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <net/genetlink.h>
#include <net/net_namespace.h>
#include <net/sock.h>
#include <net/tcp_states.h>
#include <asm/syscall.h>

#include <linux/asm.h>
#include "shim.h"

/* The layouts the Rust side mirrors (src/ffi.rs asserts the same numbers). */
static_assert(sizeof(struct asm_task_info) == 48);
static_assert(offsetof(struct asm_task_info, tgid) == 8);
static_assert(offsetof(struct asm_task_info, cgroup_id) == 16);
static_assert(offsetof(struct asm_task_info, io_ops) == 40);
static_assert(sizeof(struct asm_genl_event) == 64);
static_assert(offsetof(struct asm_genl_event, type) == 32);
static_assert(offsetof(struct asm_genl_event, action) == 56);

/*
 * Module parameters; the Rust side reads them through the accessors below
 * and decides what they mean (Documentation/policy.rst, "Identity").
 */
static unsigned int max_agents_per_uid = 64;
module_param(max_agents_per_uid, uint, 0644);
MODULE_PARM_DESC(max_agents_per_uid,
		 "Agents one user without CAP_SYS_ADMIN may have registered at once (default 64)");
static unsigned int reclaim_ms = 60000;
module_param(reclaim_ms, uint, 0644);
MODULE_PARM_DESC(reclaim_ms,
		 "How long an ended agent registered without CAP_SYS_ADMIN is kept before it is forgotten, in ms (default 60000)");

static unsigned int cascade_term_ms = 5000;
module_param(cascade_term_ms, uint, 0644);
MODULE_PARM_DESC(cascade_term_ms,
		 "How long an agent stopped by a dependency cascade has between SIGTERM and SIGKILL, in ms (default 5000)");
static unsigned int cascade_hold_ms = 30000;
module_param(cascade_hold_ms, uint, 0644);
MODULE_PARM_DESC(cascade_hold_ms,
		 "How long the dependents of an agent in Recovery wait for its restart before they are stopped, in ms (default 30000)");

unsigned int asm_param_cascade_term_ms(void)
{
	return READ_ONCE(cascade_term_ms);
}

unsigned int asm_param_cascade_hold_ms(void)
{
	return READ_ONCE(cascade_hold_ms);
}

static bool llm_audit_prompts;
module_param(llm_audit_prompts, bool, 0644);
MODULE_PARM_DESC(llm_audit_prompts,
		 "Whether the LLM audit trail keeps the start of each request's prompt (default off)");

bool asm_param_llm_audit_prompts(void)
{
	return READ_ONCE(llm_audit_prompts);
}

unsigned int asm_param_max_agents_per_uid(void)
{
	return READ_ONCE(max_agents_per_uid);
}

unsigned int asm_param_reclaim_ms(void)
{
	return READ_ONCE(reclaim_ms);
}

/* Read and write syscalls in @ioac; 0 without CONFIG_TASK_XACCT. */
static u64 asm_ioac_ops(const struct task_io_accounting *ioac)
{
#ifdef CONFIG_TASK_XACCT
	return READ_ONCE(ioac->syscr) + READ_ONCE(ioac->syscw);
#else
	return 0;
#endif
}

/*
 * CPU time and I/O operations of process @p: its signal_struct's (threads
 * that were released) plus its threads' own; with @live_only, threads that
 * are exiting are left out (their exit is accounted by the exit probe).
 * Caller holds RCU.
 */
static void asm_process_usage(struct task_struct *p, bool live_only,
			      u64 *cpu_ns, u64 *io_ops)
{
	struct task_struct *t;

	*cpu_ns = 0;
	*io_ops = asm_ioac_ops(&p->signal->ioac);
	for_each_thread(p, t) {
		if (live_only && (READ_ONCE(t->flags) & PF_EXITING))
			continue;
		*cpu_ns += READ_ONCE(t->se.sum_exec_runtime);
		*io_ops += asm_ioac_ops(&t->ioac);
	}
}

/*
 * Resident pages of @mm, summed exactly: get_mm_rss() reads the per-CPU
 * counters' global part only, which stays 0 for a small process until a
 * CPU's batch folds in.
 */
static u64 asm_mm_rss_pages(struct mm_struct *mm)
{
	return percpu_counter_sum_positive(&mm->rss_stat[MM_FILEPAGES]) +
	       percpu_counter_sum_positive(&mm->rss_stat[MM_ANONPAGES]) +
	       percpu_counter_sum_positive(&mm->rss_stat[MM_SHMEMPAGES]);
}

/* ---- tracepoint probes: extract the fields, hand them to Rust ---- */

/*
 * A new process that joined an agent is traced from its first system call,
 * whatever a sweep did: asm_task_syscall_work() for a task that has one
 * thread and has not run yet, so neither a walk of its threads nor RCU.
 * The barrier is the join's (asm_task_syscall_work()).
 */
static void asm_child_syscall_work(struct task_struct *child)
{
	smp_mb();
	if (!test_task_syscall_work(child, SYSCALL_TRACEPOINT))
		set_task_syscall_work(child, SYSCALL_TRACEPOINT);
}

static void asm_probe_fork(void *data, struct task_struct *parent,
			   struct task_struct *child)
{
	u64 cgroup = 0;
	int verdict;

	if (likely(!asm_rust_any_agent()))
		return;
	/*
	 * A new thread is not a new process, but it must reach the syscall
	 * probes as its process's other threads do: one made while its
	 * process joins an agent copied its creator's bit before the join set
	 * it, and may be linked after the join's walk of the threads.  The
	 * barrier pairs with the join's (asm_task_syscall_work()): the join
	 * stores the index, then walks; this thread is linked, then reads it.
	 */
	if (child->pid != child->tgid) {
		smp_mb();
		if (asm_rust_agent_process(child->tgid))
			set_task_syscall_work(child, SYSCALL_TRACEPOINT);
		return;
	}
	/* One RCU section for the cgroups' look and the agents'. */
	rcu_read_lock();
	/* clone3(CLONE_INTO_CGROUP) put it elsewhere than its parent. */
	if (task_dfl_cgroup(child) != task_dfl_cgroup(parent))
		cgroup = cgroup_id(task_dfl_cgroup(child));
	/* Its start time, taken by copy_process(), is the spawn's time: the
	 * probe reads no clock of its own. */
	verdict = asm_rust_on_fork(parent->tgid, child->tgid, cgroup, child->start_boottime);
	rcu_read_unlock();
	switch (verdict) {
	case ASM_FORK_MEMBER:
		asm_child_syscall_work(child);
		break;
	case ASM_FORK_KILL:
		/* It has not run yet: it dies before its first instruction. */
		kill_pid(task_tgid(child), SIGKILL, 1);
		break;
	}
}

static void asm_probe_exec(void *data, struct task_struct *p, pid_t old_pid,
			   struct linux_binprm *bprm)
{
	asm_rust_on_exec(p->tgid, bprm->filename, strlen(bprm->filename));
}

static void asm_probe_exit(void *data, struct task_struct *p)
{
	struct signal_struct *sig = p->signal;
	/* The same status wait(2) reports for the process. */
	int status = (READ_ONCE(sig->flags) & SIGNAL_GROUP_EXIT) ?
			     READ_ONCE(sig->group_exit_code) : p->exit_code;
	bool group_dead = atomic_read(&sig->live) == 0;
	u64 cpu_ns, io_ops = 0;

	/* The whole process's I/O, once, when its last thread exits. */
	if (group_dead) {
		rcu_read_lock();
		asm_process_usage(p, false, &cpu_ns, &io_ops);
		rcu_read_unlock();
	}
	asm_rust_on_exit(p->tgid, group_dead, status, p->se.sum_exec_runtime,
			 io_ops);
}

static void asm_probe_attach(void *data, struct cgroup *dst_cgrp,
			     const char *path, struct task_struct *task,
			     bool threadgroup)
{
	/* Agents are cgroup v2 directories; v1 ids are another id space. */
	u64 cpu_ns, io_ops;

	if (dst_cgrp->root != &cgrp_dfl_root)
		return;
	/* What it used before it joined is not the agent's. */
	rcu_read_lock();
	asm_process_usage(task, false, &cpu_ns, &io_ops);
	rcu_read_unlock();
	asm_rust_on_attach(cgroup_id(dst_cgrp), task->tgid, task, cpu_ns);
}

/*
 * A violation whose action ends the agent skips the system call: the
 * task gets -EPERM (it has a SIGKILL pending already), the operation is
 * not done.  The entry code re-reads the number after the tracepoint for
 * this (kernel/entry/common.c), as it does for ptrace and seccomp.
 */
static void asm_skip_syscall(struct pt_regs *regs)
{
	regs->orig_ax = -1;
	syscall_set_return_value(current, regs, -EPERM, 0);
}

/* The address family and protocol of socket @fd (AF_UNSPEC: none). */
static void asm_socket_facts(unsigned long fd, int *family, int *protocol)
{
	struct fd f = fdget(fd);
	struct socket *sock;

	*family = AF_UNSPEC;
	*protocol = 0;
	if (!fd_file(f))
		return;
	sock = sock_from_file(fd_file(f));
	if (sock && sock->sk) {
		*family = READ_ONCE(sock->sk->sk_family);
		*protocol = READ_ONCE(sock->sk->sk_protocol);
	}
	fdput(f);
}

/*
 * Every system call of an agent's task: Rust counts it and says whether the
 * call needs a look at a socket (which, and what for); the verdict may be
 * to skip the call.
 */
static void asm_probe_sys_enter(void *data, struct pt_regs *regs, long id)
{
	unsigned long args[6];
	int family, protocol;
	unsigned long fd;
	u32 check;

	if (likely(!asm_rust_may_be_agent(current->tgid)))
		return;
	syscall_get_arguments(current, regs, args);
	check = asm_rust_on_sys_enter(current->tgid, id, args, in_compat_syscall(), &fd);
	if (likely(!check))
		return;
	asm_socket_facts(fd, &family, &protocol);
	if (asm_rust_socket_verdict(current->tgid, check, fd, family, protocol) ==
	    ASM_VERDICT_SKIP)
		asm_skip_syscall(regs);
}

/*
 * Listening sockets of agents whose listen was refused.  The listen cannot
 * be undone in the tracepoint (the socket is locked by the caller), and the
 * socket may outlive its agent (passed away, or kept in an SCM_RIGHTS
 * cycle): a work item aborts it as ss -K does (diag_destroy, tcp_abort()),
 * so that the port refuses connections at once.
 */
struct asm_abort {
	struct list_head node;
	struct sock *sk;
};
static LIST_HEAD(asm_abort_list);
static DEFINE_SPINLOCK(asm_abort_lock);

static void asm_abort_fn(struct work_struct *work)
{
	struct asm_abort *a, *tmp;
	LIST_HEAD(todo);

	spin_lock_bh(&asm_abort_lock);
	list_splice_init(&asm_abort_list, &todo);
	spin_unlock_bh(&asm_abort_lock);
	list_for_each_entry_safe(a, tmp, &todo, node) {
		/* -ENOENT: it was closed meanwhile, which is what we want. */
		int err = a->sk->sk_prot->diag_destroy ?
				  a->sk->sk_prot->diag_destroy(a->sk, EPERM) : -EOPNOTSUPP;

		if (err && err != -ENOENT)
			pr_warn_ratelimited("[ASM] cannot abort a refused listener (protocol %u): %d\n",
					    a->sk->sk_protocol, err);
		sock_put(a->sk);
		kfree(a);
	}
}
static DECLARE_WORK(asm_abort_work, asm_abort_fn);

/* Has listener @sk aborted soon (process context). */
static void asm_abort_listener(struct sock *sk)
{
	struct asm_abort *a = kmalloc(sizeof(*a), GFP_ATOMIC);

	if (!a) {
		pr_warn_ratelimited("[ASM] cannot abort a refused listener: no memory\n");
		return;
	}
	sock_hold(sk);
	a->sk = sk;
	spin_lock_bh(&asm_abort_lock);
	list_add_tail(&a->node, &asm_abort_list);
	spin_unlock_bh(&asm_abort_lock);
	schedule_work(&asm_abort_work);
}

/*
 * Where every TCP connection starts, whatever system call (connect,
 * sendto/sendmsg/sendmmsg with MSG_FASTOPEN, compat calls) or io_uring
 * operation asked for it: the SYN a task sends from its own context.  Its
 * facts go to Rust; the verdict may be to refuse it, which ends the
 * connect, so no retransmission follows.
 */
static unsigned int asm_nf_local_out(void *priv, struct sk_buff *skb,
				     const struct nf_hook_state *state)
{
	struct sock *sk = state->sk;

	/*
	 * A task's own SYN is sent with bottom halves enabled.  With them
	 * disabled in task context it is a retransmission (of the write
	 * timer or of an MTU reduction that release_sock() ran for the
	 * socket's owner under the socket's spinlock, or of busy polling):
	 * not the task's act (retransmissions from softirq are not checked
	 * either), and no place to take ASM's locks.
	 */
	if (!in_task() || in_softirq() || !sk || !sk_fullsock(sk) ||
	    READ_ONCE(sk->sk_state) != TCP_SYN_SENT ||
	    likely(!asm_rust_may_be_agent(current->tgid)))
		return NF_ACCEPT;
	/*
	 * Refused like a local REJECT: tcp_connect() takes ECONNREFUSED as
	 * final, closes the socket and arms no retransmission.
	 */
	return asm_rust_net_verdict(current->tgid, ASM_NET_TCP_SYN, sk->sk_family,
				    sk->sk_protocol) ==
	       ASM_VERDICT_SKIP ? NF_DROP_ERR(-ECONNREFUSED) : NF_ACCEPT;
}

static const struct nf_hook_ops asm_nf_ops[] = {
	{
		.hook = asm_nf_local_out,
		.pf = NFPROTO_IPV4,
		.hooknum = NF_INET_LOCAL_OUT,
		.priority = NF_IP_PRI_FIRST,
	},
#if IS_ENABLED(CONFIG_IPV6)
	{
		.hook = asm_nf_local_out,
		.pf = NFPROTO_IPV6,
		.hooknum = NF_INET_LOCAL_OUT,
		.priority = NF_IP6_PRI_FIRST,
	},
#endif
};

/* Every network namespace, also those agents make, gets the hook. */
static int __net_init asm_net_init(struct net *net)
{
	return nf_register_net_hooks(net, asm_nf_ops, ARRAY_SIZE(asm_nf_ops));
}

static void __net_exit asm_net_exit(struct net *net)
{
	nf_unregister_net_hooks(net, asm_nf_ops, ARRAY_SIZE(asm_nf_ops));
}

static struct pernet_operations asm_net_ops = {
	.init = asm_net_init,
	.exit = asm_net_exit,
};
static bool asm_net_registered;

/*
 * A socket enters TCP_LISTEN (listen(2), io_uring's LISTEN, compat
 * calls): only a task's own call does that.  The listen cannot be refused
 * here; a refusing verdict has the socket aborted moments later.
 */
static void asm_probe_sock_state(void *data, const struct sock *sk,
				 const int oldstate, const int newstate)
{
	if (likely(newstate != TCP_LISTEN) || !in_task() ||
	    likely(!asm_rust_may_be_agent(current->tgid)))
		return;
	if (asm_rust_net_verdict(current->tgid, ASM_NET_TCP_LISTEN, sk->sk_family,
				 sk->sk_protocol) == ASM_VERDICT_SKIP)
		asm_abort_listener((struct sock *)sk);
}

/*
 * d_path() room per CPU (the probe runs with preemption disabled), from
 * the dynamic per-CPU allocator: the static area modules share is 8 KiB.
 */
static char __percpu *asm_path_buf;

/* Reads @fs's root consistently, as d_path() does. */
static void asm_fs_root(struct fs_struct *fs, struct path *root)
{
	unsigned int seq;

	do {
		seq = read_seqcount_begin(&fs->seq);
		*root = fs->root;
	} while (read_seqcount_retry(&fs->seq, seq));
}

/*
 * The system's view of the files: init's (pid 1's) root when the module
 * was loaded, held (path_get) until unload.  A root is a mount of one
 * namespace: a task in another mount namespace (unshare and setns move its
 * root into it) or in a chroot does not have this one.
 */
static struct path asm_sys_root;

static int asm_sys_view_init(void)
{
	struct task_struct *init;
	int ret = -ESRCH;

	rcu_read_lock();
	init = pid_task(find_pid_ns(1, &init_pid_ns), PIDTYPE_PID);
	if (init)
		get_task_struct(init);
	rcu_read_unlock();
	if (!init)
		return ret;
	task_lock(init);
	if (init->fs) {
		get_fs_root(init->fs, &asm_sys_root);
		ret = 0;
	}
	task_unlock(init);
	put_task_struct(init);
	return ret;
}

/*
 * Whether @file is named as the system names it: current has init's root
 * (so its mount namespace too), and the file is reachable from that root
 * (not a mount of another namespace reached through /proc/<pid>/root, nor
 * a detached one).  Otherwise its d_path() is an arrangement of the
 * agent's (a bind mount, a chroot), not its name.
 */
static bool asm_system_view(const struct file *file)
{
	struct path mine;

	/* Only current changes its own root. */
	rcu_read_lock();
	asm_fs_root(current->fs, &mine);
	rcu_read_unlock();
	if (!path_equal(&mine, &asm_sys_root))
		return false;
	return path_is_under(&file->f_path, &asm_sys_root);
}

/* The facts of @file, just opened by system call @nr, go to Rust. */
static void asm_open_check(const struct file *file, long nr, unsigned long *args, bool compat)
{
	unsigned int facts = 0;
	char *path;

	/* O_PATH opens give no access to the file. */
	if (file->f_mode & FMODE_PATH)
		return;
	if (file->f_mode & FMODE_WRITE)
		facts |= ASM_FILE_WRITE;
	if (file->f_mode & FMODE_CREATED)
		facts |= ASM_FILE_CREATED;
	/* Pipes, sockets, anonymous inodes: named by d_dname, not by a path. */
	if (file->f_path.dentry->d_op && file->f_path.dentry->d_op->d_dname)
		facts |= ASM_FILE_PSEUDO;
	else if (!asm_system_view(file))
		facts |= ASM_FILE_FOREIGN_VIEW;
	path = d_path(&file->f_path, this_cpu_ptr(asm_path_buf), PATH_MAX);
	/* An unnamable file (a path too long): Rust gets no name. */
	if (IS_ERR(path))
		path = NULL;
	asm_rust_on_open(current->tgid, path, path ? strlen(path) : 0, facts, nr, args,
			 compat);
}

/* A successful open: the file's facts go to Rust, which judges them. */
static void asm_probe_sys_exit(void *data, struct pt_regs *regs, long ret)
{
	long nr = syscall_get_nr(current, regs);
	bool compat = in_compat_syscall();
	unsigned long args[6];
	struct fd f;

	if (ret < 0 || !asm_rust_open_watched(current->tgid, nr, compat))
		return;
	syscall_get_arguments(current, regs, args);
	f = fdget(ret);
	if (fd_file(f))
		asm_open_check(fd_file(f), nr, args, compat);
	fdput(f);
}

/* ---- the sampler: a self-re-arming delayed work on system_wq ---- */

static void asm_sampler_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(asm_sampler_work, asm_sampler_fn);

static void asm_sampler_fn(struct work_struct *work)
{
	unsigned int ms = asm_rust_sample();

	if (ms)
		schedule_delayed_work(&asm_sampler_work, msecs_to_jiffies(ms));
}

void asm_sampler_kick(void)
{
	mod_delayed_work(system_wq, &asm_sampler_work, 0);
}

/* Runs the sampler within @ms unless it is already due: never sooner. */
void asm_sampler_ensure(unsigned int ms)
{
	schedule_delayed_work(&asm_sampler_work, msecs_to_jiffies(ms));
}

/* ---- the cascade work: re-armed while a cascade or a hold goes on ---- */

static void asm_cascade_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(asm_cascade_work, asm_cascade_fn);

static void asm_cascade_fn(struct work_struct *work)
{
	unsigned int ms = asm_rust_cascade();

	if (ms)
		schedule_delayed_work(&asm_cascade_work, msecs_to_jiffies(ms));
}

/* Any context: the exit probe calls it. */
void asm_cascade_kick(void)
{
	mod_delayed_work(system_wq, &asm_cascade_work, 0);
}

void asm_kill_current(void)
{
	kill_pid(task_tgid(current), SIGKILL, 1);
}

void asm_sha256(const void *data, unsigned int len, u8 *out)
{
	sha256(data, len, out);
}

u64 asm_real_ns(void)
{
	return ktime_get_real_ns();
}

pid_t asm_current_tgid(void)
{
	return task_tgid_nr(current);
}

/* @sig to process @tgid of the initial namespace, if it exists. */
void asm_signal_tgid(pid_t tgid, int sig)
{
	struct pid *pid;

	rcu_read_lock();
	pid = find_pid_ns(tgid, &init_pid_ns);
	/*
	 * A process's leader only: the number of a process that exited since
	 * the caller read it may be a thread of another process now.
	 */
	if (pid && pid_has_task(pid, PIDTYPE_TGID))
		kill_pid(pid, sig, 1);
	rcu_read_unlock();
}

int asm_signal_task(struct task_struct *task, int sig)
{
	/* kill_pid() takes RCU itself; PIDTYPE_TGID reaches every thread. */
	return kill_pid(task_tgid(task), sig, 1);
}

/* ---- generic netlink: the events multicast group ---- */

/*
 * The events name every agent's id and pids: like the proc connector's,
 * the group is for CAP_NET_ADMIN (checked by genetlink at subscription).
 */
enum { ASM_MCGRP_EVENTS, ASM_MCGRP_GATEWAY };

static struct genl_family asm_genl_family;

static const struct genl_multicast_group asm_genl_mcgrps[] = {
	[ASM_MCGRP_EVENTS] = { .name = ASM_GENL_MCGRP_EVENTS,
			       .flags = GENL_MCAST_CAP_NET_ADMIN },
	[ASM_MCGRP_GATEWAY] = { .name = ASM_GENL_MCGRP_GATEWAY,
				.flags = GENL_MCAST_CAP_NET_ADMIN },
};

/* What the gateway helper may send; everything else is refused. */
static const struct nla_policy asm_gw_policy[ASM_A_MAX + 1] = {
	[ASM_A_REQ_ID] = { .type = NLA_U64 },
	[ASM_A_STATUS] = { .type = NLA_U32 },
	[ASM_A_PROVIDER] = { .type = NLA_U32 },
	[ASM_A_TEXT] = { .type = NLA_BINARY, .len = ASM_LLM_TEXT_MAX },
	[ASM_A_TOKENS_USED] = { .type = NLA_U32 },
	[ASM_A_FALLBACK] = { .type = NLA_FLAG },
	[ASM_A_TRIED] = { .type = NLA_BINARY, .len = 64 * sizeof(u32) },
};

static int asm_gw_register_doit(struct sk_buff *skb, struct genl_info *info)
{
	return asm_rust_gw_register(info->snd_portid);
}

static int asm_gw_pull_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;
	u64 id = 0;
	int ret;

	msg = genlmsg_new(ASM_LLM_PROMPT_MAX + ASM_LLM_SYSTEM_MAX + 512, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &asm_genl_family, 0, ASM_CMD_GW_PULL);
	if (!hdr) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	ret = asm_rust_gw_pull(info->snd_portid, msg, &id);
	if (ret) {
		nlmsg_free(msg);
		return ret;
	}
	genlmsg_end(msg, hdr);
	ret = genlmsg_reply(msg, info);
	/* Not delivered (the helper's socket is full): the next pull gets it. */
	if (ret)
		asm_rust_gw_unpull(id);
	return ret;
}

static int asm_gw_complete_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct asm_gw_completion c = {};
	struct nlattr **a = info->attrs;

	if (GENL_REQ_ATTR_CHECK(info, ASM_A_REQ_ID) ||
	    GENL_REQ_ATTR_CHECK(info, ASM_A_STATUS))
		return -EINVAL;
	c.id = nla_get_u64(a[ASM_A_REQ_ID]);
	c.status = nla_get_u32(a[ASM_A_STATUS]);
	if (a[ASM_A_PROVIDER])
		c.provider = nla_get_u32(a[ASM_A_PROVIDER]);
	if (a[ASM_A_TOKENS_USED])
		c.tokens_used = nla_get_u32(a[ASM_A_TOKENS_USED]);
	c.fallback = nla_get_flag(a[ASM_A_FALLBACK]);
	if (a[ASM_A_TEXT]) {
		c.text = nla_data(a[ASM_A_TEXT]);
		c.text_len = nla_len(a[ASM_A_TEXT]);
	}
	if (a[ASM_A_TRIED]) {
		c.tried = nla_data(a[ASM_A_TRIED]);
		c.tried_len = nla_len(a[ASM_A_TRIED]);
	}
	return asm_rust_gw_complete(info->snd_portid, &c);
}

/* The helper's commands need CAP_NET_ADMIN (in the initial namespace). */
static const struct genl_small_ops asm_genl_ops[] = {
	{ .cmd = ASM_CMD_GW_REGISTER, .doit = asm_gw_register_doit,
	  .flags = GENL_ADMIN_PERM },
	{ .cmd = ASM_CMD_GW_PULL, .doit = asm_gw_pull_doit,
	  .flags = GENL_ADMIN_PERM },
	{ .cmd = ASM_CMD_GW_COMPLETE, .doit = asm_gw_complete_doit,
	  .flags = GENL_ADMIN_PERM },
};

static struct genl_family asm_genl_family = {
	.name = ASM_GENL_NAME,
	.version = ASM_GENL_VERSION,
	.maxattr = ASM_A_MAX,
	.policy = asm_gw_policy,
	.resv_start_op = ASM_CMD_GW_COMPLETE + 1,
	.module = THIS_MODULE,
	.small_ops = asm_genl_ops,
	.n_small_ops = ARRAY_SIZE(asm_genl_ops),
	.mcgrps = asm_genl_mcgrps,
	.n_mcgrps = ARRAY_SIZE(asm_genl_mcgrps),
};
static bool asm_genl_registered;

int asm_nla_put(struct sk_buff *skb, u16 attr, u32 len, const void *data)
{
	return nla_put(skb, attr, len, data);
}

int asm_nla_put_u64(struct sk_buff *skb, u16 attr, u64 value)
{
	return nla_put_u64_64bit(skb, attr, value, ASM_A_PAD);
}

/* Tells the helpers that request @id is queued (process context). */
void asm_gw_notify(u64 id)
{
	struct sk_buff *skb;
	void *hdr;

	if (!READ_ONCE(asm_genl_registered))
		return;
	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return;
	hdr = genlmsg_put(skb, 0, 0, &asm_genl_family, 0, ASM_CMD_GW_NOTIFY);
	if (!hdr || nla_put_u64_64bit(skb, ASM_A_REQ_ID, id, ASM_A_PAD)) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_end(skb, hdr);
	/* Nobody listening: the helper pulls what is queued when it comes. */
	genlmsg_multicast(&asm_genl_family, skb, 0, ASM_MCGRP_GATEWAY, GFP_KERNEL);
}

/* A generic netlink socket closed: if it was the helper, its requests fail. */
static int asm_netlink_event(struct notifier_block *nb, unsigned long state,
			     void *ptr)
{
	struct netlink_notify *n = ptr;

	if (state == NETLINK_URELEASE && n->protocol == NETLINK_GENERIC &&
	    net_eq(n->net, &init_net))
		asm_rust_gw_released(n->portid);
	return NOTIFY_DONE;
}

static struct notifier_block asm_netlink_nb = {
	.notifier_call = asm_netlink_event,
};
static bool asm_netlink_nb_registered;

static void asm_notify_fn(struct work_struct *work)
{
	asm_rust_notify();
}
static DECLARE_WORK(asm_notify_work, asm_notify_fn);

bool asm_genl_listening(void)
{
	return genl_has_listeners(&asm_genl_family, &init_net, ASM_MCGRP_EVENTS) > 0;
}

/* Any context: the listeners' bitmap is read under RCU. */
bool asm_notify_kick(void)
{
	if (!READ_ONCE(asm_genl_registered) || !asm_genl_listening())
		return false;
	schedule_work(&asm_notify_work);
	return true;
}

int asm_genl_send(const struct asm_genl_event *ev)
{
	struct sk_buff *skb;
	void *hdr;

	skb = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!skb)
		return -ENOMEM;
	hdr = genlmsg_put(skb, 0, 0, &asm_genl_family, 0, ASM_CMD_EVENT);
	if (!hdr)
		goto too_big;
	if (nla_put_u64_64bit(skb, ASM_A_SEQ, ev->seq, ASM_A_PAD) ||
	    nla_put_u64_64bit(skb, ASM_A_TIMESTAMP_NS, ev->timestamp_ns, ASM_A_PAD) ||
	    nla_put_u32(skb, ASM_A_EVENT_TYPE, ev->type) ||
	    nla_put_u32(skb, ASM_A_AGENT_ID, ev->agent_id) ||
	    nla_put_s32(skb, ASM_A_PID, ev->pid) ||
	    nla_put_s32(skb, ASM_A_EXIT_CODE, ev->exit_code) ||
	    nla_put_s32(skb, ASM_A_SIGNAL, ev->signal) ||
	    nla_put_u32(skb, ASM_A_FAULT, ev->fault) ||
	    nla_put_u32(skb, ASM_A_ACTION, ev->action) ||
	    nla_put_u64_64bit(skb, ASM_A_VALUE, ev->value, ASM_A_PAD) ||
	    nla_put_u64_64bit(skb, ASM_A_LIMIT, ev->limit, ASM_A_PAD))
		goto too_big;
	genlmsg_end(skb, hdr);
	/* -ESRCH: nobody listens any more; not an error. */
	return genlmsg_multicast(&asm_genl_family, skb, 0, ASM_MCGRP_EVENTS, GFP_KERNEL);
too_big:
	nlmsg_free(skb);
	return -EMSGSIZE;
}

struct asm_tp {
	const char *name;
	void *probe;
	struct tracepoint *tp;
	bool registered;
};

static struct asm_tp asm_tps[] = {
	{ "sched_process_fork", asm_probe_fork },
	{ "sched_process_exec", asm_probe_exec },
	{ "sched_process_exit", asm_probe_exit },
	{ "cgroup_attach_task", asm_probe_attach },
	{ "inet_sock_set_state", asm_probe_sock_state },
	{ "sys_enter", asm_probe_sys_enter },
	{ "sys_exit", asm_probe_sys_exit },
};
#define ASM_TP_SYS_ENTER 5
#define ASM_TP_SYS_EXIT 6

/* The tracepoints are not exported: look them up by name. */
static void asm_tp_lookup(struct tracepoint *tp, void *priv)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(asm_tps); i++)
		if (!strcmp(tp->name, asm_tps[i].name))
			asm_tps[i].tp = tp;
}

static void asm_tps_unregister(void)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(asm_tps); i++) {
		if (!asm_tps[i].registered)
			continue;
		tracepoint_probe_unregister(asm_tps[i].tp, asm_tps[i].probe, NULL);
		asm_tps[i].registered = false;
	}
	/* No probe may still run when the module text goes away. */
	tracepoint_synchronize_unregister();
}

static int asm_tps_register(void)
{
	int i, ret;

	for_each_kernel_tracepoint(asm_tp_lookup, NULL);
	for (i = 0; i < ARRAY_SIZE(asm_tps); i++) {
		if (!asm_tps[i].tp) {
			pr_err("[ASM] tracepoint %s not found\n", asm_tps[i].name);
			return -ENOENT;
		}
		/* The syscall probes are registered only while agents exist. */
		if (i == ASM_TP_SYS_ENTER || i == ASM_TP_SYS_EXIT)
			continue;
		ret = tracepoint_probe_register(asm_tps[i].tp, asm_tps[i].probe, NULL);
		if (ret) {
			pr_err("[ASM] cannot register %s: %d\n", asm_tps[i].name, ret);
			return ret;
		}
		asm_tps[i].registered = true;
	}
	return 0;
}

/*
 * The syscall tracepoints fire only for tasks whose SYSCALL_TRACEPOINT
 * work bit is set; registering a probe sets it on every task.  While ASM
 * is their only user, the sampler clears it on tasks that belong to no
 * agent (a child inherits its parent's bit at fork), so that their system
 * calls keep the fast path.
 */
static bool asm_tp_only_user(struct asm_tp *t)
{
	struct tracepoint_func *f = rcu_dereference_sched(t->tp->funcs);

	return f && f[0].func == t->probe && !f[1].func;
}

bool asm_syscall_tp_exclusive(void)
{
	bool only;

	if (!asm_tps[ASM_TP_SYS_ENTER].registered ||
	    !asm_tps[ASM_TP_SYS_EXIT].registered)
		return false;
	rcu_read_lock_sched_notrace();
	only = asm_tp_only_user(&asm_tps[ASM_TP_SYS_ENTER]) &&
	       asm_tp_only_user(&asm_tps[ASM_TP_SYS_EXIT]);
	rcu_read_unlock_sched_notrace();
	return only;
}

/*
 * Sets or clears the syscall tracepoint bit of every thread of @p (RCU).
 * The barrier orders a join's index store before the bits are read here,
 * against the sweep's clear-then-recheck (src/resources.rs).
 */
void asm_task_syscall_work(struct task_struct *p, bool on)
{
	struct task_struct *t;

	smp_mb();
	for_each_thread(p, t) {
		bool set = test_bit(SYSCALL_WORK_BIT_SYSCALL_TRACEPOINT,
				    &task_thread_info(t)->syscall_work);

		if (on && !set)
			set_task_syscall_work(t, SYSCALL_TRACEPOINT);
		else if (!on && set)
			clear_task_syscall_work(t, SYSCALL_TRACEPOINT);
	}
}

void asm_pid_syscall_work(struct pid *pid, bool on)
{
	struct task_struct *task;

	rcu_read_lock();
	task = pid_task(pid, PIDTYPE_TGID);
	if (task)
		asm_task_syscall_work(task, on);
	rcu_read_unlock();
}

/* Gives every task its bit back, as the kernel set it at registration. */
static void asm_syscall_work_restore(void)
{
	struct task_struct *p;

	rcu_read_lock();
	for_each_process(p)
		asm_task_syscall_work(p, true);
	rcu_read_unlock();
}

int asm_shim_syscall_probe(bool on)
{
	struct asm_tp *enter = &asm_tps[ASM_TP_SYS_ENTER];
	struct asm_tp *exit = &asm_tps[ASM_TP_SYS_EXIT];
	int ret = 0;

	if (on && !enter->registered) {
		/* Kept once allocated: freed at unload, after the probes. */
		if (!asm_path_buf)
			asm_path_buf = __alloc_percpu(PATH_MAX, 1);
		if (!asm_path_buf)
			return -ENOMEM;
		ret = tracepoint_probe_register(exit->tp, exit->probe, NULL);
		if (ret)
			return ret;
		exit->registered = true;
		ret = tracepoint_probe_register(enter->tp, enter->probe, NULL);
		if (ret) {
			tracepoint_probe_unregister(exit->tp, exit->probe, NULL);
			exit->registered = false;
			return ret;
		}
		enter->registered = true;
	} else if (!on && enter->registered) {
		/*
		 * Another tracer may keep the tracepoints: it needs every
		 * task's bit; without one the kernel clears them all.
		 */
		asm_syscall_work_restore();
		ret = tracepoint_probe_unregister(enter->tp, enter->probe, NULL);
		enter->registered = false;
		tracepoint_probe_unregister(exit->tp, exit->probe, NULL);
		exit->registered = false;
	}
	return ret;
}

/* ---- /dev/asm ---- */

/* Pollers of /dev/asm: woken when a submitted LLM request finishes. */
static DECLARE_WAIT_QUEUE_HEAD(asm_gw_pollq);

void asm_gw_wake_pollers(void)
{
	wake_up_interruptible_all(&asm_gw_pollq);
}

/* The open file is the owner of the LLM requests submitted through it. */
static long asm_fop_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	return asm_rust_ioctl((u64)(uintptr_t)file, cmd, arg);
}

static __poll_t asm_fop_poll(struct file *file, poll_table *wait)
{
	poll_wait(file, &asm_gw_pollq, wait);
	return asm_rust_poll((u64)(uintptr_t)file) ? EPOLLIN | EPOLLRDNORM : 0;
}

static int asm_fop_release(struct inode *inode, struct file *file)
{
	asm_rust_release((u64)(uintptr_t)file);
	return 0;
}

static const struct file_operations asm_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = asm_fop_ioctl,
	.poll = asm_fop_poll,
	.release = asm_fop_release,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice asm_miscdev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "asm",
	.fops = &asm_fops,
	/* Anyone may read telemetry and register itself; the rest is checked per ioctl. */
	.mode = 0666,
};

/* ---- /proc/agentsys and debugfs asm/ ---- */

/*
 * The credentials the /proc file was opened with, as the kernel's own /proc
 * files judge readers (a descriptor passed to another process keeps them).
 */
static u32 asm_reader_uid(struct seq_file *m)
{
	return from_kuid(&init_user_ns, m->file->f_cred->euid);
}

static bool asm_reader_admin(struct seq_file *m)
{
	return file_ns_capable(m->file, &init_user_ns, CAP_SYS_ADMIN);
}

static int asm_status_show(struct seq_file *m, void *v)
{
	return asm_rust_status_show(m, asm_reader_uid(m), asm_reader_admin(m));
}

static int asm_compliance_show(struct seq_file *m, void *v)
{
	return asm_rust_compliance_show(m, asm_reader_uid(m), asm_reader_admin(m));
}

/*
 * The two views with a section per agent start with a buffer the size
 * Rust expects (@per_agent bytes per agent the opener may see): a
 * seq_file that overflows is shown again from the start in a buffer twice
 * the size, and a view of 4096 agents would be made eight times.
 */
#define ASM_SIZED_VIEW(name, per_agent)						\
static int asm_##name##_open(struct inode *inode, struct file *file)		\
{										\
	u32 uid = from_kuid(&init_user_ns, file->f_cred->euid);			\
	bool admin = file_ns_capable(file, &init_user_ns, CAP_SYS_ADMIN);	\
										\
	return single_open_size(file, asm_##name##_show, NULL,			\
				asm_rust_view_size(per_agent, uid, admin));	\
}										\
static const struct proc_ops asm_##name##_ops = {				\
	.proc_open = asm_##name##_open,						\
	.proc_read_iter = seq_read_iter,					\
	.proc_lseek = seq_lseek,						\
	.proc_release = single_release,						\
}
ASM_SIZED_VIEW(status, 128);
ASM_SIZED_VIEW(compliance, 320);

static int asm_cloud_gateway_show(struct seq_file *m, void *v)
{
	return asm_rust_gateway_show(m, asm_reader_uid(m), asm_reader_admin(m), false);
}

static int asm_gateway_status_show(struct seq_file *m, void *v)
{
	return asm_rust_gateway_show(m, asm_reader_uid(m), asm_reader_admin(m), true);
}

static int asm_events_show(struct seq_file *m, void *v)
{
	return asm_rust_events_show(m, asm_reader_uid(m), asm_reader_admin(m));
}
DEFINE_SHOW_ATTRIBUTE(asm_events);

/*
 * debugfs asm/probe_cost: each probe path called @calls times in place, as
 * its tracepoint or hook would call it (preemption disabled around each
 * call), for the reading process as it is (no agent, a non-agent, or an
 * agent); returns the nanoseconds all the calls took.  Rust chooses the
 * paths and prints the figures (src/probe_cost.rs).
 *
 * A fork and an exit are of pids no process has (PID_MAX_LIMIT and up, as
 * deep in the process index as the highest real pids): an agent's reader
 * gets that many fake children that join and then leave it, with their
 * spawn and exit events.  The open is of the file being read, found by the
 * open check as if the reader had just opened it.
 */
#define ASM_BENCH_PID	PID_MAX_LIMIT

static noinline void asm_bench_empty(void)
{
	barrier();
}

static DEFINE_MUTEX(asm_bench_lock);

u64 asm_bench_probe(struct seq_file *m, u32 path, u32 calls)
{
	static const unsigned long open_args[6] = { AT_FDCWD, 0, O_RDONLY };
	struct pt_regs regs = *current_pt_regs();
	pid_t tgid = current->tgid;
	struct linux_binprm *bprm = NULL;
	u64 start, boot, cpu_ns, io_ops;
	bool member;
	u32 i;

	if (path == ASM_BENCH_EXEC) {
		bprm = kzalloc(sizeof(*bprm), GFP_KERNEL);
		if (!bprm)
			return 0;
		bprm->filename = "/usr/bin/true";
	}
	/* One reader at a time: two would make the same fake children. */
	mutex_lock(&asm_bench_lock);
	boot = ktime_get_boottime_ns();
	start = ktime_get_ns();
	for (i = 0; i < calls; i++) {
		preempt_disable();
		switch (path) {
		case ASM_BENCH_EMPTY:
			asm_bench_empty();
			break;
		case ASM_BENCH_SYS_ENTER:
			asm_probe_sys_enter(NULL, &regs, __NR_getpid);
			break;
		case ASM_BENCH_FORK:
			/* asm_probe_fork() with a child that is not a task; its
			 * start time, which the fork took, is the loop's (boot). */
			rcu_read_lock();
			if (task_dfl_cgroup(current) != task_dfl_cgroup(current->real_parent))
				barrier();
			member = asm_rust_any_agent() &&
				 asm_rust_on_fork(tgid, ASM_BENCH_PID + i, 0, boot) == ASM_FORK_MEMBER;
			rcu_read_unlock();
			if (member)
				asm_child_syscall_work(current);
			break;
		case ASM_BENCH_EXIT:
			/* asm_probe_exit() of the last thread of a fake child. */
			rcu_read_lock();
			asm_process_usage(current, false, &cpu_ns, &io_ops);
			rcu_read_unlock();
			asm_rust_on_exit(ASM_BENCH_PID + i, true, 0, 0, 0);
			break;
		case ASM_BENCH_EXEC:
			asm_probe_exec(NULL, current, current->pid, bprm);
			break;
		case ASM_BENCH_OPEN:
			/* asm_probe_sys_exit() after the fd lookup. */
			if (asm_rust_open_watched(tgid, __NR_openat, false))
				asm_open_check(m->file, __NR_openat, (unsigned long *)open_args,
					       false);
			break;
		case ASM_BENCH_CONNECT:
			/* A connect's entry, then its SYN at LOCAL_OUT. */
			asm_probe_sys_enter(NULL, &regs, __NR_connect);
			if (asm_rust_may_be_agent(tgid))
				asm_rust_net_verdict(tgid, ASM_NET_TCP_SYN, AF_INET, IPPROTO_TCP);
			break;
		}
		preempt_enable();
		if ((i & 1023) == 1023)
			cond_resched();
	}
	start = ktime_get_ns() - start;
	mutex_unlock(&asm_bench_lock);
	kfree(bprm);
	return start;
}

static int asm_probe_cost_show(struct seq_file *m, void *v)
{
	return asm_rust_probe_cost_show(m, current->tgid);
}
DEFINE_SHOW_ATTRIBUTE(asm_probe_cost);

static int asm_sampler_show(struct seq_file *m, void *v)
{
	return asm_rust_sampler_show(m);
}
DEFINE_SHOW_ATTRIBUTE(asm_sampler);

static struct proc_dir_entry *asm_proc_dir;
static struct dentry *asm_debugfs_dir;
static bool asm_misc_registered;

void asm_shim_exit(void)
{
	/* Stop new callers first, then wait for running probes. */
	if (asm_misc_registered)
		misc_deregister(&asm_miscdev);
	asm_misc_registered = false;
	proc_remove(asm_proc_dir);
	asm_proc_dir = NULL;
	debugfs_remove(asm_debugfs_dir);
	asm_debugfs_dir = NULL;
	/*
	 * No agent can be registered any more: the sampler stops for good (a
	 * probe's kick does nothing once it is disabled), so no sweep can
	 * clear a task's syscall tracepoint bit after the next line gave every
	 * task its bit back (another tracer may need them).
	 */
	disable_delayed_work_sync(&asm_sampler_work);
	asm_shim_syscall_probe(false);
	asm_tps_unregister();
	/* No exit probe kicks the cascade work any more. */
	disable_delayed_work_sync(&asm_cascade_work);
	if (asm_net_registered)
		unregister_pernet_subsys(&asm_net_ops);
	asm_net_registered = false;
	/* No probe queues a listener any more: abort those queued. */
	flush_work(&asm_abort_work);
	/* tracepoint_synchronize_unregister() ran: no probe uses it now. */
	free_percpu(asm_path_buf);
	asm_path_buf = NULL;
	if (asm_sys_root.mnt)
		path_put(&asm_sys_root);
	asm_sys_root.mnt = NULL;
	if (asm_netlink_nb_registered)
		netlink_unregister_notifier(&asm_netlink_nb);
	asm_netlink_nb_registered = false;
	/* Nothing records events now: the last notification, then the family. */
	if (asm_genl_registered) {
		WRITE_ONCE(asm_genl_registered, false);
		cancel_work_sync(&asm_notify_work);
		genl_unregister_family(&asm_genl_family);
	}
}

int asm_shim_init(void)
{
	int ret;

	ret = asm_sys_view_init();
	if (ret)
		return ret;
	asm_proc_dir = proc_mkdir("agentsys", NULL);
	if (!asm_proc_dir) {
		ret = -ENOMEM;
		goto err;
	}
	if (!proc_create("status", 0444, asm_proc_dir, &asm_status_ops) ||
	    !proc_create("compliance", 0444, asm_proc_dir, &asm_compliance_ops) ||
	    !proc_create_single("cloud_gateway", 0444, asm_proc_dir,
				asm_cloud_gateway_show) ||
	    !proc_create_single("gateway_status", 0444, asm_proc_dir,
				asm_gateway_status_show)) {
		ret = -ENOMEM;
		goto err;
	}
	/* debugfs is optional: its failure is not the module's. */
	asm_debugfs_dir = debugfs_create_dir("asm", NULL);
	debugfs_create_file("events", 0400, asm_debugfs_dir, NULL, &asm_events_fops);
	debugfs_create_file("probe_cost", 0400, asm_debugfs_dir, NULL, &asm_probe_cost_fops);
	debugfs_create_file("sampler", 0400, asm_debugfs_dir, NULL, &asm_sampler_fops);

	ret = genl_register_family(&asm_genl_family);
	if (ret)
		goto err;
	WRITE_ONCE(asm_genl_registered, true);
	ret = netlink_register_notifier(&asm_netlink_nb);
	if (ret)
		goto err;
	asm_netlink_nb_registered = true;
	ret = asm_tps_register();
	if (ret)
		goto err;
	ret = register_pernet_subsys(&asm_net_ops);
	if (ret)
		goto err;
	asm_net_registered = true;
	ret = misc_register(&asm_miscdev);
	if (ret)
		goto err;
	asm_misc_registered = true;
	return 0;
err:
	asm_shim_exit();
	return ret;
}

/* ---- xarray and RCU ---- */

struct xarray *asm_xa_new(void)
{
	struct xarray *xa = kmalloc(sizeof(*xa), GFP_KERNEL);

	if (xa)
		xa_init(xa);
	return xa;
}

void asm_xa_free(struct xarray *xa)
{
	if (!xa)
		return;
	xa_destroy(xa);
	kfree(xa);
}

/*
 * Entries are pointers, some tagged with 1 (xa_tag_pointer(): a bit of the
 * entry itself, not a mark replicated up the tree); readers get them
 * untagged, and the tag alone from asm_xa_tag().
 *
 * xa_load() without its own RCU section: the caller is in one (the Rust
 * side's RcuGuard), and a probe's lookup then takes one, not two.
 */
static void *asm_xa_load_rcu(struct xarray *xa, unsigned long index)
{
	XA_STATE(xas, xa, index);
	void *entry;

	RCU_LOCKDEP_WARN(!rcu_read_lock_held(), "asm_xa_load outside RCU");
	do {
		entry = xas_load(&xas);
	} while (xas_retry(&xas, entry));
	return entry;
}

void *asm_xa_load(struct xarray *xa, unsigned long index)
{
	return xa_untag_pointer(asm_xa_load_rcu(xa, index));
}

unsigned int asm_xa_tag(struct xarray *xa, unsigned long index)
{
	return xa_pointer_tag(asm_xa_load_rcu(xa, index));
}

/* Stores into an empty slot only (-EBUSY otherwise): an entry is never
 * replaced, so the Rust side always owns what it erases.  May sleep. */
int asm_xa_insert(struct xarray *xa, unsigned long index, void *entry)
{
	return xa_insert(xa, index, entry, GFP_KERNEL);
}

void *asm_xa_erase(struct xarray *xa, unsigned long index)
{
	return xa_untag_pointer(xa_erase(xa, index));
}

/* The xarray's own lock, for writers that do more under it than one store
 * (the process index: its entries and the agents' counts together). */
void asm_xa_lock(struct xarray *xa)
{
	xa_lock(xa);
}

void asm_xa_unlock(struct xarray *xa)
{
	xa_unlock(xa);
}

/* asm_xa_insert() with the lock held and @entry tagged with @tag, in one
 * walk (the load finds the slot the store then fills); never sleeps. */
int asm_xa_insert_locked(struct xarray *xa, unsigned long index, void *entry,
			 unsigned int tag)
{
	XA_STATE(xas, xa, index);

	lockdep_assert_held(&xa->xa_lock);
	do {
		if (xas_load(&xas))
			xas_set_err(&xas, -EBUSY);
		else
			xas_store(&xas, xa_tag_pointer(entry, tag));
	} while (xas_nomem(&xas, GFP_NOWAIT));
	return xas_error(&xas);
}

void *asm_xa_erase_locked(struct xarray *xa, unsigned long index)
{
	lockdep_assert_held(&xa->xa_lock);
	return xa_untag_pointer(__xa_erase(xa, index));
}

/* Erases the entry at @index only if it is @entry, whatever its tag (NULL
 * otherwise): the check and the erase in one walk, the lock held. */
void *asm_xa_erase_if_locked(struct xarray *xa, unsigned long index, void *entry)
{
	XA_STATE(xas, xa, index);

	lockdep_assert_held(&xa->xa_lock);
	if (!entry || xa_untag_pointer(xas_load(&xas)) != entry)
		return NULL;
	xas_store(&xas, NULL);
	return entry;
}

void *asm_xa_find(struct xarray *xa, unsigned long *index)
{
	return xa_untag_pointer(xa_find(xa, index, ULONG_MAX, XA_PRESENT));
}

void asm_rcu_read_lock(void)
{
	rcu_read_lock();
}

void asm_rcu_read_unlock(void)
{
	rcu_read_unlock();
}

/* The Rust side keeps a struct rcu_head as 16 opaque bytes (src/ffi.rs). */
static_assert(sizeof(struct rcu_head) == 16);
static_assert(__alignof__(struct rcu_head) <= 8);

void asm_call_rcu(struct rcu_head *head, rcu_callback_t func)
{
	call_rcu(head, func);
}

void asm_rcu_barrier(void)
{
	rcu_barrier();
}

/* ---- time, credentials, pids, cgroups ---- */

u64 asm_now_ns(void)
{
	return ktime_get_boottime_ns();
}

bool asm_capable_admin(void)
{
	return capable(CAP_SYS_ADMIN);
}

bool asm_capable_admin_noaudit(void)
{
	return ns_capable_noaudit(&init_user_ns, CAP_SYS_ADMIN);
}

/* In the initial user namespace: the same user whatever namespace asks. */
u32 asm_current_euid(void)
{
	return from_kuid(&init_user_ns, current_euid());
}

bool asm_task_group_dead(struct task_struct *task)
{
	return atomic_read(&task->signal->live) == 0;
}

struct pid *asm_current_process(pid_t *tgid)
{
	*tgid = current->tgid;
	return get_pid(task_tgid(current));
}

/* The process (thread group) @vnr names in the caller's pid namespace. */
struct pid *asm_find_process(pid_t vnr, pid_t *tgid)
{
	struct pid *vpid = find_get_pid(vnr);
	struct task_struct *task;
	struct pid *pid = NULL;

	if (!vpid)
		return NULL;
	task = get_pid_task(vpid, PIDTYPE_PID);
	put_pid(vpid);
	if (!task)
		return NULL;
	if (pid_alive(task)) {
		*tgid = task->tgid;
		pid = get_pid(task_tgid(task));
	}
	put_task_struct(task);
	return pid;
}

pid_t asm_pid_vnr(struct pid *pid)
{
	return pid_vnr(pid);
}

void asm_put_pid(struct pid *pid)
{
	put_pid(pid);
}

bool asm_pid_alive(struct pid *pid)
{
	return pid_has_task(pid, PIDTYPE_TGID);
}

bool asm_pid_group_dead(struct pid *pid)
{
	struct task_struct *task;
	bool dead = true;

	rcu_read_lock();
	task = pid_task(pid, PIDTYPE_TGID);
	if (task)
		dead = asm_task_group_dead(task);
	rcu_read_unlock();
	return dead;
}

int asm_cgroup_id_from_fd(int fd, u64 *id)
{
	struct cgroup *cgrp = cgroup_get_from_fd(fd);

	if (IS_ERR(cgrp))
		return PTR_ERR(cgrp);
	*id = cgroup_id(cgrp);
	cgroup_put(cgrp);
	return 0;
}

/* What the sampler and the views need of process @p (RCU). */
static void asm_task_info_fill(struct task_struct *p, struct asm_task_info *info)
{
	memset(info, 0, sizeof(*info));
	info->task = p;
	info->tgid = p->tgid;
	info->cgroup_id = cgroup_id(task_dfl_cgroup(p));
	/* Exiting threads are accounted by the exit probe. */
	asm_process_usage(p, true, &info->cpu_ns, &info->io_ops);
	/* task_lock keeps p->mm from being torn down under us. */
	task_lock(p);
	if (p->mm)
		info->rss_bytes = asm_mm_rss_pages(p->mm) << PAGE_SHIFT;
	task_unlock(p);
}

void asm_for_each_process(void (*cb)(void *ctx, const struct asm_task_info *info),
			  void *ctx)
{
	struct task_struct *p;
	struct asm_task_info info;

	rcu_read_lock();
	memset(&info, 0, sizeof(info));
	for_each_process(p) {
		info.task = p;
		info.tgid = p->tgid;
		info.cgroup_id = cgroup_id(task_dfl_cgroup(p));
		cb(ctx, &info);
	}
	rcu_read_unlock();
}

void asm_with_process(pid_t tgid, void (*cb)(void *ctx, const struct asm_task_info *info),
		      void *ctx)
{
	struct task_struct *p;
	struct asm_task_info info;

	rcu_read_lock();
	p = pid_task(find_pid_ns(tgid, &init_pid_ns), PIDTYPE_TGID);
	if (p) {
		asm_task_info_fill(p, &info);
		cb(ctx, &info);
	}
	rcu_read_unlock();
}

int asm_seq_write(struct seq_file *m, const void *buf, size_t len)
{
	return seq_write(m, buf, len);
}
