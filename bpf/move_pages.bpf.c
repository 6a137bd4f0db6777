// SPDX-License-Identifier: GPL-2.0
/* move_pages(2) capture. One event per call, emitted at exit and joined with the entry kept per thread.
 * Three attach strategies share the same enter/exit logic; userspace loads the first that attaches:
 *   1. kprobe/kretprobe on the syscall entry points (native and ia32);
 *   2. syscalls/sys_{enter,exit}_move_pages, plus raw_syscalls for compat calls, which the per-syscall
 *      tracepoints never see;
 *   3. raw_syscalls alone, for native and compat calls. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "sentinel.h"

char LICENSE[] SEC("license") = "GPL";

#define TS_COMPAT 0x0002 /* arch/x86/include/asm/thread_info.h */
/* Wake the reader only once this much is pending; below it the reader's poll timeout bounds latency. */
#define RECORD_SLOT (sizeof(struct snt_move_pages_event) + 8) /* + the ring's record header */
#define WAKEUP_BYTES (64 * RECORD_SLOT)

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

/* One slot per thread. LRU, so the slots of threads that died (mid-call or not) are recycled, never leaked. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct snt_move_pages_entry);
} inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct snt_move_pages_entry);
} entry_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SNT_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 which)
{
	__u64 *value = bpf_map_lookup_elem(&counters, &which);
	if (value)
		*value += 1;
}

static __always_inline bool task_is_compat(void)
{
	return bpf_get_current_task_btf()->thread_info.status & TS_COMPAT;
}

/* Reads min(n, SNT_MAX_COPIED) user pointers. A compat caller's array holds 32-bit pointers. */
static __always_inline bool read_pages(__u64 *dst, __u64 user_array, __u32 n, bool compat)
{
	if (!user_array || !n)
		return false;
	if (n > SNT_MAX_COPIED)
		return false; /* for the verifier: callers already clamp */
	if (!compat)
		return bpf_probe_read_user(dst, n * sizeof(__u64), (void *)user_array) == 0;

	__u32 *narrow = (__u32 *)dst;
	if (bpf_probe_read_user(narrow, n * sizeof(__u32), (void *)user_array))
		return false;
	/* Widen in place from the top down, so no 32-bit entry is overwritten before it is read. */
	for (int i = SNT_MAX_COPIED - 1; i >= 0; i--)
		dst[i] = i < n ? narrow[i] : 0;
	return true;
}

static __always_inline bool read_ints(__s32 *dst, __u64 user_array, __u32 n)
{
	if (!user_array || !n || n > SNT_MAX_COPIED)
		return false;
	return bpf_probe_read_user(dst, n * sizeof(__s32), (void *)user_array) == 0;
}

/* The thread's slot in inflight. A thread reuses its slot across calls: an in-place write is far cheaper
 * than a hash update, which allocates a new element every time. */
static __always_inline struct snt_move_pages_entry *thread_slot(__u32 tid)
{
	struct snt_move_pages_entry *e = bpf_map_lookup_elem(&inflight, &tid);
	if (e)
		return e;
	__u32 zero = 0;
	struct snt_move_pages_entry *blank = bpf_map_lookup_elem(&entry_scratch, &zero);
	if (!blank)
		return NULL;
	blank->enter_ns = 0;
	bpf_map_update_elem(&inflight, &tid, blank, BPF_NOEXIST);
	return bpf_map_lookup_elem(&inflight, &tid);
}

static __always_inline int on_enter(__s64 pid, __u64 count_arg, __u64 pages, __u64 nodes, __u64 status,
				    __s64 flags, bool compat)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct snt_move_pages_entry *e = thread_slot(tid);
	if (!e)
		return 0;

	if (compat) {
		count(SNT_CNT_COMPAT);
		/* A 32-bit caller's registers hold 32-bit values; drop sign-extension garbage. */
		count_arg = (__u32)count_arg;
		pages = (__u32)pages;
		nodes = (__u32)nodes;
		status = (__u32)status;
	}
	e->enter_ns = bpf_ktime_get_ns();
	e->target_pid = (__s32)pid;
	e->count = count_arg;
	e->pages = pages;
	e->nodes = nodes;
	e->status = status;
	e->flags = (__s32)flags;
	e->compat = compat;
	e->copied = count_arg < SNT_MAX_COPIED ? count_arg : SNT_MAX_COPIED;
	e->copies = 0;
	if (read_pages(e->pages_at_entry, pages, e->copied, compat))
		e->copies |= SNT_COPY_PAGES_ENTRY;
	if (read_ints(e->nodes_at_entry, nodes, e->copied))
		e->copies |= SNT_COPY_NODES_ENTRY;
	return 0;
}

/* The task is a trusted BTF pointer: plain loads (CO-RE relocated) instead of a helper call per field. */
static __always_inline void fill_context(struct snt_move_pages_event *ev)
{
	struct task_struct *task = bpf_get_current_task_btf();
	const struct cred *cred = task->cred;
	__u64 id = bpf_get_current_pid_tgid();

	ev->pid = id >> 32;
	ev->tid = (__u32)id;
	ev->ppid = task->real_parent->tgid;
	ev->uid = cred->uid.val;
	ev->euid = cred->euid.val;
	ev->gid = cred->gid.val;
	/* kernel_cap_t is a u64 since 6.3 and u32[2] before: the same 8 bytes either way. */
	bpf_core_read(&ev->cap_effective, sizeof(ev->cap_effective), &cred->cap_effective);
	ev->mnt_ns = task->nsproxy->mnt_ns->ns.inum;
	/* The pid namespace the task lives in: numbers[] indexed by its level (a variable offset, so a read). */
	struct pid *pid = task->thread_pid;
	struct upid upid;
	bpf_core_read(&upid, sizeof(upid), &pid->numbers[pid->level & 0x1f]);
	ev->pid_ns = BPF_CORE_READ(upid.ns, ns.inum);
	ev->cgroup_id = bpf_get_current_cgroup_id();
	ev->cpu = bpf_get_smp_processor_id();
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
}

static __always_inline int on_exit(__s64 ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct snt_move_pages_entry *e = bpf_map_lookup_elem(&inflight, &tid);
	if (!e || !e->enter_ns) {
		count(SNT_CNT_NO_ENTRY);
		return 0;
	}

	struct snt_move_pages_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		count(SNT_CNT_LOST);
		e->enter_ns = 0;
		return 0;
	}

	ev->magic = SNT_RECORD_MAGIC;
	ev->size = sizeof(*ev);
	ev->exit_ns = bpf_ktime_get_ns();
	ev->enter_ns = e->enter_ns;
	ev->ret = ret;
	ev->target_pid = e->target_pid;
	ev->count = e->count;
	ev->pages = e->pages;
	ev->nodes = e->nodes;
	ev->status = e->status;
	ev->flags = e->flags;
	ev->compat = e->compat;
	ev->copied = e->copied;
	ev->pad = 0;
	fill_context(ev);

	__u8 copies = e->copies;
	__builtin_memcpy(ev->pages_at_entry, e->pages_at_entry, sizeof(ev->pages_at_entry));
	__builtin_memcpy(ev->nodes_at_entry, e->nodes_at_entry, sizeof(ev->nodes_at_entry));
	/* The same entries again: a difference is TOCTOU evidence (the array changed during the call). */
	if (read_pages(ev->pages_at_exit, e->pages, e->copied, e->compat))
		copies |= SNT_COPY_PAGES_EXIT;
	if (read_ints(ev->nodes_at_exit, e->nodes, e->copied))
		copies |= SNT_COPY_NODES_EXIT;
	if (read_ints(ev->status_at_exit, e->status, e->copied))
		copies |= SNT_COPY_STATUS_EXIT;
	ev->copies = copies;
	e->enter_ns = 0; /* consumed: an exit without a fresh entry must not join this one */

	/* Batch wakeups (~1.8 us each): wake the reader only when this record takes the backlog across
	 * WAKEUP_BYTES. A reader that is awake drains without being told (the ring polls readable while data
	 * is pending), and one that sleeps found the ring empty, so the crossing always reaches it. */
	__u64 pending = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	bool crossing = pending >= WAKEUP_BYTES && pending < WAKEUP_BYTES + RECORD_SLOT;
	bpf_ringbuf_submit(ev, crossing ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
	count(SNT_CNT_SUBMITTED);
	return 0;
}

/* The x86_64 syscall ABI passes arguments in di, si, dx, r10, r8, r9. */
static __always_inline int enter_native_regs(struct pt_regs *regs)
{
	return on_enter(BPF_CORE_READ(regs, di), BPF_CORE_READ(regs, si), BPF_CORE_READ(regs, dx),
			BPF_CORE_READ(regs, r10), BPF_CORE_READ(regs, r8), BPF_CORE_READ(regs, r9), false);
}

/* The i386 ABI passes arguments in bx, cx, dx, si, di, bp. */
static __always_inline int enter_compat_regs(struct pt_regs *regs)
{
	return on_enter((__s32)BPF_CORE_READ(regs, bx), BPF_CORE_READ(regs, cx), BPF_CORE_READ(regs, dx),
			BPF_CORE_READ(regs, si), BPF_CORE_READ(regs, di), (__s32)BPF_CORE_READ(regs, bp), true);
}

/* ---- strategy 1: kprobes on the syscall wrappers (which take the user pt_regs) ---- */

SEC("kprobe/__x64_sys_move_pages")
int BPF_KPROBE(kprobe_enter, struct pt_regs *regs)
{
	return enter_native_regs(regs);
}

SEC("kretprobe/__x64_sys_move_pages")
int BPF_KRETPROBE(kprobe_exit, long ret)
{
	return on_exit(ret);
}

SEC("kprobe/__ia32_sys_move_pages")
int BPF_KPROBE(kprobe_enter_compat, struct pt_regs *regs)
{
	return enter_compat_regs(regs);
}

SEC("kretprobe/__ia32_sys_move_pages")
int BPF_KRETPROBE(kprobe_exit_compat, long ret)
{
	return on_exit(ret);
}

/* ---- strategy 2: the per-syscall tracepoints (native calls only) ---- */

SEC("tracepoint/syscalls/sys_enter_move_pages")
int tracepoint_enter(struct trace_event_raw_sys_enter *ctx)
{
	return on_enter(ctx->args[0], ctx->args[1], ctx->args[2], ctx->args[3], ctx->args[4], ctx->args[5], false);
}

SEC("tracepoint/syscalls/sys_exit_move_pages")
int tracepoint_exit(struct trace_event_raw_sys_exit *ctx)
{
	return on_exit(ctx->ret);
}

/* ---- raw_syscalls: compat calls for strategy 2, everything for strategy 3 ---- */

static __always_inline int raw_enter(struct bpf_raw_tracepoint_args *ctx, bool native_too)
{
	long id = ctx->args[1];
	if (id != SNT_NR_MOVE_PAGES_X64 && id != SNT_NR_MOVE_PAGES_IA32)
		return 0;
	bool compat = task_is_compat();
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	if (compat && id == SNT_NR_MOVE_PAGES_IA32)
		return enter_compat_regs(regs);
	if (native_too && !compat && id == SNT_NR_MOVE_PAGES_X64)
		return enter_native_regs(regs);
	return 0;
}

static __always_inline int raw_exit(struct bpf_raw_tracepoint_args *ctx, bool native_too)
{
	/* Runs on every syscall exit: the cheap compat test first, the register read only if it can matter. */
	bool compat = task_is_compat();
	if (!compat && !native_too)
		return 0;
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	long id = BPF_CORE_READ(regs, orig_ax);
	if ((compat && id == SNT_NR_MOVE_PAGES_IA32) || (native_too && !compat && id == SNT_NR_MOVE_PAGES_X64))
		return on_exit(ctx->args[1]);
	return 0;
}

SEC("raw_tracepoint/sys_enter")
int raw_enter_compat(struct bpf_raw_tracepoint_args *ctx)
{
	return raw_enter(ctx, false);
}

SEC("raw_tracepoint/sys_exit")
int raw_exit_compat(struct bpf_raw_tracepoint_args *ctx)
{
	return raw_exit(ctx, false);
}

SEC("raw_tracepoint/sys_enter")
int raw_enter_all(struct bpf_raw_tracepoint_args *ctx)
{
	return raw_enter(ctx, true);
}

SEC("raw_tracepoint/sys_exit")
int raw_exit_all(struct bpf_raw_tracepoint_args *ctx)
{
	return raw_exit(ctx, true);
}
