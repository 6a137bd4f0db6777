// SPDX-License-Identifier: GPL-2.0
/* move_pages(2) capture. One event per call, emitted at exit and joined with the entry kept per thread.
 * Four attach strategies share the same enter/exit logic; userspace loads the first that attaches:
 *   1. kprobe/kretprobe on the syscall entry points (native and ia32);
 *   2. BTF raw tracepoints on sys_enter/sys_exit that keep only the move_pages numbers (native and compat);
 *   3. syscalls/sys_{enter,exit}_move_pages, plus BTF raw tracepoints on sys_enter/sys_exit that keep only
 *      the ia32 move_pages number for compat calls, which the per-syscall tracepoints never see;
 *   4. raw_syscalls alone, for native and compat calls, on kernels without BTF raw tracepoints.
 * When the reader lags, identical calls fold into one record per CPU (see "Folding" below). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "sentinel.h"

char LICENSE[] SEC("license") = "GPL";

#define TS_COMPAT 0x0002 /* arch/x86/include/asm/thread_info.h */
#define ESRCH 3
#define EPERM 1
#define RING_BYTES (4 << 20)
/* Wake the reader only once this much is pending; below it the reader's poll timeout bounds latency. */
#define RECORD_SLOT (sizeof(struct snt_move_pages_event) + 8) /* + the ring's record header */
#define WAKEUP_BYTES (64 * RECORD_SLOT)
/* Past this backlog the reader lags: identical calls fold instead of taking a record each. A quarter of the
 * ring, so the ring still has room for the folds and for calls that cannot fold. */
#define FOLD_BACKLOG (RING_BYTES / 4)
#define FOLD_SLOTS 16 /* distinct calls that can fold at once on one CPU */

/* Set by userspace before load: capture only this process (0: every process). For exact counts on a shared
 * machine (the flood tests); a frozen constant, so the verifier drops the test when it is 0. */
const volatile __u32 only_tgid = 0;

static __always_inline bool ignored(void)
{
	return only_tgid && (bpf_get_current_pid_tgid() >> 32) != only_tgid;
}

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, RING_BYTES);
} events SEC(".maps");

/* One slot per thread, in the task itself: found through a pointer and a cache index instead of a hash, and
 * freed with the thread (mid-call or not), so nothing leaks and no live thread's slot is evicted. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct snt_call);
} inflight SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SNT_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct fold_slot {
	__u64 hash; /* of the call's identity; the record's fold_count is 0 while the slot is free */
	struct snt_move_pages_event record;
};

/* A CPU's folds. Only programs on that CPU touch them; busy keeps an interrupting flush (or a program that
 * preempted another) off a half-written slot. order[] lists the open slots oldest first (from head): a slot
 * closes only when it is flushed, and flushes go oldest first, so a FIFO is all the bookkeeping needed. */
struct fold_table {
	__u32 busy;
	__u32 open;
	__u32 head;
	__u8 order[FOLD_SLOTS];
	struct fold_slot slots[FOLD_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fold_table);
} folds SEC(".maps");

static __always_inline void count_n(__u32 which, __u64 n)
{
	__u64 *value = bpf_map_lookup_elem(&counters, &which);
	if (value)
		*value += n;
}

static __always_inline void count(__u32 which)
{
	count_n(which, 1);
}

static __always_inline bool task_is_compat(void)
{
	return bpf_get_current_task_btf()->thread_info.status & TS_COMPAT;
}

/* Reads min(n, SNT_MAX_COPIED) user pointers. A compat caller's array holds 32-bit pointers. */
static __always_inline bool read_pages(__u64 *dst, __u64 user_array, __u64 n, bool compat)
{
	if (!user_array || !n)
		return false;
	/* Keeps the bound check separate: older verifiers (Debian 12's 6.1) lose the bound when clang merges
	 * "!n || n > MAX" into one subtract-and-compare. */
	barrier_var(n);
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

static __always_inline bool read_ints(__s32 *dst, __u64 user_array, __u64 n)
{
	if (!user_array || !n)
		return false;
	barrier_var(n); /* as in read_pages */
	if (n > SNT_MAX_COPIED)
		return false;
	return bpf_probe_read_user(dst, n * sizeof(__s32), (void *)user_array) == 0;
}

/* The calling thread's slot; entry creates it (zeroed) on the thread's first call. A thread reuses it across
 * calls, writing in place. */
static __always_inline struct snt_call *thread_slot(bool create)
{
	return bpf_task_storage_get(&inflight, bpf_get_current_task_btf(), 0,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

static __always_inline int on_enter(__s64 pid, __u64 count_arg, __u64 pages, __u64 nodes, __u64 status,
				    __s64 flags, bool compat)
{
	if (ignored())
		return 0;
	struct snt_call *e = thread_slot(true);
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
	e->enter_ns = bpf_ktime_get_boot_ns();
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
	if (bpf_core_field_exists(cred->cap_effective.val))
		ev->cap_effective = cred->cap_effective.val;
	else
		bpf_core_read(&ev->cap_effective, sizeof(ev->cap_effective), &cred->cap_effective);
	ev->mnt_ns = task->nsproxy->mnt_ns->ns.inum;
	/* The pid namespace the task lives in: numbers[] indexed by its level. Level 0 (the host) is a fixed
	 * offset, so plain loads; deeper levels are a variable offset, so a read. */
	struct pid *pid = task->thread_pid;
	unsigned int level = pid->level;
	if (level == 0) {
		ev->pid_ns = pid->numbers[0].ns->ns.inum;
	} else {
		struct upid upid;
		bpf_core_read(&upid, sizeof(upid), &pid->numbers[level & 0x1f]);
		ev->pid_ns = BPF_CORE_READ(upid.ns, ns.inum);
	}
	ev->cgroup_id = bpf_get_current_cgroup_id();
	ev->cpu = bpf_get_smp_processor_id();
	/* The kernel keeps comm NUL-padded: a copy of its 16 bytes is what bpf_get_current_comm returns. */
	__builtin_memcpy(ev->comm, task->comm, sizeof(ev->comm));
}

/* These fail before the kernel reads or writes any array: nothing more to read at exit. */
static __always_inline bool failed_before_arrays(__s64 ret)
{
	return ret == -ESRCH || ret == -EPERM;
}

/* The whole record for the call in e, which exits now with ret. */
static __always_inline void build_record(struct snt_move_pages_event *ev, struct snt_call *e, __s64 ret, __u64 now)
{
	ev->magic = SNT_RECORD_MAGIC;
	ev->size = sizeof(*ev);
	ev->exit_ns = now;
	__builtin_memcpy(&ev->call, e, sizeof(ev->call)); /* the entry half, as entry left it */
	ev->ret = ret;
	ev->fold_count = 1;
	ev->fold_first_ns = now;
	ev->fold_last_ns = now;
	ev->pad = 0;
	fill_context(ev);

	if (failed_before_arrays(ret))
		return;
	/* The same entries again: a difference is TOCTOU evidence (the array changed during the call). */
	__u8 copies = e->copies;
	if (read_pages(ev->pages_at_exit, e->pages, e->copied, e->compat))
		copies |= SNT_COPY_PAGES_EXIT;
	if (read_ints(ev->nodes_at_exit, e->nodes, e->copied))
		copies |= SNT_COPY_NODES_EXIT;
	if (read_ints(ev->status_at_exit, e->status, e->copied))
		copies |= SNT_COPY_STATUS_EXIT;
	ev->call.copies = copies;
}

/* ---- Folding ----
 * Identical calls: the same tgid, target, flags and result, and the same array contents (count, compat and
 * the entry copies, hashed). The first call's full record waits in a per-CPU slot; later ones only bump its
 * count and last time. A fold is flushed to the ring once the backlog falls (by the next call on that CPU,
 * or by the reader running flush_folds on that CPU), so every call is delivered alone or inside a fold. */

static __always_inline __u64 mix(__u64 h, __u64 v)
{
	h ^= v;
	h *= 0x100000001b3ULL; /* FNV-1a's prime, over 64-bit words */
	return h;
}

static __always_inline __u64 call_hash(struct snt_call *e, __u32 tgid, __s64 ret)
{
	__u64 h = 0xcbf29ce484222325ULL;
	h = mix(h, ((__u64)tgid << 32) | (__u32)e->target_pid);
	h = mix(h, ((__u64)(__u32)e->flags << 32) | (__u32)ret);
	h = mix(h, e->count);
	h = mix(h, ((__u64)e->compat << 8) | e->copies);
	for (int i = 0; i < SNT_MAX_COPIED; i++) {
		if (i >= e->copied)
			break;
		h = mix(h, e->pages_at_entry[i]);
		h = mix(h, (__u32)e->nodes_at_entry[i]);
	}
	return h;
}

static __always_inline bool same_call(struct snt_move_pages_event *r, struct snt_call *e, __u32 tgid, __s64 ret)
{
	return r->pid == tgid && r->call.target_pid == e->target_pid && r->call.flags == e->flags && r->ret == ret &&
	       r->call.count == e->count && r->call.compat == e->compat;
}

/* Writes every open fold of this CPU to the ring in the order they opened (so a CPU's records stay in the
 * order of their first calls); stops at the first that does not fit (it and the younger ones stay open). */
static __always_inline void flush_open(struct fold_table *t)
{
	for (int i = 0; i < FOLD_SLOTS && t->open; i++) {
		struct snt_move_pages_event *r = &t->slots[t->order[t->head & (FOLD_SLOTS - 1)] & (FOLD_SLOTS - 1)].record;
		__u64 n = r->fold_count;
		if (bpf_ringbuf_output(&events, r, sizeof(*r), 0))
			return;
		r->fold_count = 0;
		t->head++;
		t->open--;
		count(SNT_CNT_SUBMITTED);
		count(SNT_CNT_FOLD_RECORDS);
		count_n(SNT_CNT_FOLDED_CALLS, n);
	}
}

/* Folds the call into this CPU's table; false if it cannot (table busy, or its slot holds another call). */
static __always_inline bool fold(struct fold_table *t, struct snt_call *e, __s64 ret, __u64 now)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u64 h = call_hash(e, tgid, ret);
	__u32 index = h & (FOLD_SLOTS - 1);
	struct fold_slot *slot = &t->slots[index];
	struct snt_move_pages_event *r = &slot->record;
	if (!r->fold_count) {
		build_record(r, e, ret, now);
		slot->hash = h;
		t->order[(t->head + t->open) & (FOLD_SLOTS - 1)] = index;
		t->open++;
		count(SNT_CNT_FOLDS_OPENED);
		return true;
	}
	if (slot->hash != h || !same_call(r, e, tgid, ret))
		return false;
	r->fold_count++;
	r->fold_last_ns = now;
	return true;
}

/* Guards t against a flush that interrupts, or a program that preempts, the one holding it. */
static __always_inline bool claim(struct fold_table *t)
{
	if (t->busy)
		return false;
	t->busy = 1;
	barrier();
	return true;
}

static __always_inline void release(struct fold_table *t)
{
	barrier();
	t->busy = 0;
}

static __always_inline int on_exit(__s64 ret)
{
	if (ignored())
		return 0;
	struct snt_call *e = thread_slot(false);
	if (!e || !e->enter_ns) {
		count(SNT_CNT_NO_ENTRY);
		return 0;
	}
	__u64 now = bpf_ktime_get_boot_ns();
	__u64 pending = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u32 zero = 0;
	struct fold_table *t = bpf_map_lookup_elem(&folds, &zero);
	if (t && (pending >= FOLD_BACKLOG || t->open) && claim(t)) {
		bool folded = pending >= FOLD_BACKLOG && fold(t, e, ret, now);
		/* The backlog fell, or this call cannot fold: the CPU's open folds go first, oldest first, so the
		 * record written next is never older than a fold still waiting on this CPU. */
		if (!folded)
			flush_open(t);
		release(t);
		if (folded) {
			e->enter_ns = 0;
			return 0;
		}
	}

	struct snt_move_pages_event *ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		count(SNT_CNT_LOST);
		e->enter_ns = 0;
		return 0;
	}
	build_record(ev, e, ret, now);
	e->enter_ns = 0; /* consumed: an exit without a fresh entry must not join this one */

	/* Batch wakeups (~1.8 us each): wake the reader only when this record takes the backlog across
	 * WAKEUP_BYTES. A reader that is awake drains without being told (the ring polls readable while data
	 * is pending), and one that sleeps found the ring empty, so the crossing always reaches it. */
	pending += RECORD_SLOT;
	bool crossing = pending >= WAKEUP_BYTES && pending < WAKEUP_BYTES + RECORD_SLOT;
	bpf_ringbuf_submit(ev, crossing ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
	count(SNT_CNT_SUBMITTED);
	return 0;
}

/* Run by the reader on each CPU that has open folds (BPF_PROG_TEST_RUN pinned to that CPU), so folds reach
 * userspace even when no further call comes. Returns 1 if the table was busy or a fold did not fit. */
SEC("raw_tp")
int flush_folds(void *ctx)
{
	__u32 zero = 0;
	struct fold_table *t = bpf_map_lookup_elem(&folds, &zero);
	if (!t || !t->open)
		return 0;
	if (!claim(t))
		return 1;
	flush_open(t);
	__u32 left = t->open;
	release(t);
	return left ? 1 : 0;
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

/* ---- strategy 2: BTF raw tracepoints for native and compat calls. They skip the per-syscall tracepoint's
 * record building (docs/BENCHMARKS.md), and run on every syscall, so the number tests come first. The
 * registers are a trusted BTF pointer here: plain loads, no helper call per register. ---- */

SEC("tp_btf/sys_enter")
int BPF_PROG(btf_enter, struct pt_regs *regs, long id)
{
	if (id == SNT_NR_MOVE_PAGES_X64) {
		if (task_is_compat())
			return 0;
		return on_enter(regs->di, regs->si, regs->dx, regs->r10, regs->r8, regs->r9, false);
	}
	if (id != SNT_NR_MOVE_PAGES_IA32 || !task_is_compat())
		return 0;
	return on_enter((__s32)regs->bx, regs->cx, regs->dx, regs->si, regs->di, (__s32)regs->bp, true);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(btf_exit, struct pt_regs *regs, long ret)
{
	long id = regs->orig_ax;
	if (id != SNT_NR_MOVE_PAGES_X64 && id != SNT_NR_MOVE_PAGES_IA32)
		return 0;
	if (task_is_compat() != (id == SNT_NR_MOVE_PAGES_IA32))
		return 0;
	return on_exit(ret);
}

/* ---- strategy 3: the per-syscall tracepoints (native calls only) ---- */

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

/* ---- compat calls for strategy 3: BTF raw tracepoints that run on every syscall, so the number test comes
 * first and costs two loads; the task's compat status then tells ia32 move_pages from 64-bit seccomp ---- */

SEC("tp_btf/sys_enter")
int BPF_PROG(compat_enter, struct pt_regs *regs, long id)
{
	if (id != SNT_NR_MOVE_PAGES_IA32 || !task_is_compat())
		return 0;
	return enter_compat_regs(regs);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(compat_exit, struct pt_regs *regs, long ret)
{
	if (regs->orig_ax != SNT_NR_MOVE_PAGES_IA32 || !task_is_compat())
		return 0;
	return on_exit(ret);
}

/* ---- strategy 4: raw_syscalls alone, for kernels without the per-syscall tracepoints or BTF raw
 * tracepoints ---- */

SEC("raw_tracepoint/sys_enter")
int raw_enter_all(struct bpf_raw_tracepoint_args *ctx)
{
	long id = ctx->args[1];
	if (id != SNT_NR_MOVE_PAGES_X64 && id != SNT_NR_MOVE_PAGES_IA32)
		return 0;
	bool compat = task_is_compat();
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	if (compat && id == SNT_NR_MOVE_PAGES_IA32)
		return enter_compat_regs(regs);
	if (!compat && id == SNT_NR_MOVE_PAGES_X64)
		return enter_native_regs(regs);
	return 0;
}

SEC("raw_tracepoint/sys_exit")
int raw_exit_all(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	long id = BPF_CORE_READ(regs, orig_ax);
	if (id != SNT_NR_MOVE_PAGES_X64 && id != SNT_NR_MOVE_PAGES_IA32)
		return 0;
	bool compat = task_is_compat();
	if ((compat && id == SNT_NR_MOVE_PAGES_IA32) || (!compat && id == SNT_NR_MOVE_PAGES_X64))
		return on_exit(ctx->args[1]);
	return 0;
}
