// SPDX-License-Identifier: GPL-2.0
/* Process lifecycle for Sentinel's process tree: fork (new processes only, not threads), exec and exit
 * (when the whole thread group is gone). Raw tracepoints, so we get the task_struct pointers; the
 * records go into their own ring buffer so a fork storm cannot crowd out move_pages events. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "proctree.h"

char LICENSE[] SEC("license") = "GPL";

#define S_ISUID 04000
#define S_ISGID 02000

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} proc_events SEC(".maps");

/* [0] records dropped because the ring buffer was full. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} proc_lost SEC(".maps");

static __always_inline struct snt_proc_event *reserve(__u32 kind)
{
	struct snt_proc_event *e = bpf_ringbuf_reserve(&proc_events, sizeof(*e), 0);
	if (!e) {
		__u32 zero = 0;
		__u64 *lost = bpf_map_lookup_elem(&proc_lost, &zero);
		if (lost)
			*lost += 1;
		return NULL;
	}
	e->magic = SNT_PROC_MAGIC;
	e->kind = kind;
	e->time_ns = bpf_ktime_get_boot_ns();
	e->exit_code = 0;
	e->flags = 0;
	e->args_len = 0;
	e->filename[0] = 0;
	e->args[0] = 0;
	return e;
}

/* No wakeups: a fork storm would cost one per record. Userspace reads every few ms, and before it enriches
 * a move_pages event, so records never trail the calls they precede. */
static __always_inline void submit(struct snt_proc_event *e)
{
	bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
}

/* Identity, credentials, namespaces and cgroup of the process `task` belongs to. */
static __always_inline void fill_task(struct snt_proc_event *e, struct task_struct *task)
{
	struct task_struct *leader = BPF_CORE_READ(task, group_leader);
	struct task_struct *parent = BPF_CORE_READ(leader, real_parent);

	e->pid = BPF_CORE_READ(task, tgid);
	e->start_ns = BPF_CORE_READ(leader, start_boottime);
	e->ppid = BPF_CORE_READ(parent, tgid);
	e->parent_start_ns = BPF_CORE_READ(parent, group_leader, start_boottime);
	e->uid = BPF_CORE_READ(task, cred, uid.val);
	e->euid = BPF_CORE_READ(task, cred, euid.val);
	e->gid = BPF_CORE_READ(task, cred, gid.val);
	e->mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	/* The pid namespace the task is in is the last level of its struct pid. */
	struct pid *tpid = BPF_CORE_READ(task, thread_pid);
	unsigned int level = BPF_CORE_READ(tpid, level);
	struct upid upid;
	e->pid_ns = 0;
	if (level < 32 && !bpf_core_read(&upid, sizeof(upid), &tpid->numbers[level]))
		e->pid_ns = BPF_CORE_READ(upid.ns, ns.inum);
	e->cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
}

/* sched_process_fork(struct task_struct *parent, struct task_struct *child) */
SEC("raw_tracepoint/sched_process_fork")
int handle_fork(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *child = (struct task_struct *)ctx->args[1];

	if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
		return 0; /* a new thread, not a new process */
	struct snt_proc_event *e = reserve(SNT_PROC_FORK);
	if (!e)
		return 0;
	fill_task(e, child);
	submit(e);
	return 0;
}

/* sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm); runs in the new
 * image, after the credentials and comm were switched. */
SEC("raw_tracepoint/sched_process_exec")
int handle_exec(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)ctx->args[0];
	struct linux_binprm *bprm = (struct linux_binprm *)ctx->args[2];

	struct snt_proc_event *e = reserve(SNT_PROC_EXEC);
	if (!e)
		return 0;
	fill_task(e, task);
	bpf_probe_read_kernel_str(&e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename));

	umode_t mode = BPF_CORE_READ(bprm, file, f_inode, i_mode);
	if (mode & S_ISUID)
		e->flags |= SNT_PROC_SETUID_EXE;
	if (mode & S_ISGID)
		e->flags |= SNT_PROC_SETGID_EXE;

	/* argv lives on the new stack; the new mm is current's. */
	unsigned long arg_start = BPF_CORE_READ(task, mm, arg_start);
	unsigned long arg_end = BPF_CORE_READ(task, mm, arg_end);
	unsigned long len = arg_end - arg_start;
	if (len > SNT_PROC_ARGS_LEN)
		len = SNT_PROC_ARGS_LEN;
	if (len > 0 && !bpf_probe_read_user(&e->args, len, (void *)arg_start))
		e->args_len = len;
	submit(e);
	return 0;
}

/* sched_process_exit(struct task_struct *p, bool group_dead): report only when the group is gone. */
SEC("raw_tracepoint/sched_process_exit")
int handle_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct task_struct *task = (struct task_struct *)ctx->args[0];

	if (!(bool)ctx->args[1])
		return 0;
	struct snt_proc_event *e = reserve(SNT_PROC_EXIT);
	if (!e)
		return 0;
	fill_task(e, task);
	e->exit_code = BPF_CORE_READ(task, exit_code);
	submit(e);
	return 0;
}
