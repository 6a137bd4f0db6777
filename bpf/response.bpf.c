// SPDX-License-Identifier: GPL-2.0
/* In-kernel response to move_pages, evaluated at sys_enter with no round trip to userspace.
 * A call is acted on when its caller was marked by a verdict (pid + start time) or a kernel policy matches.
 * The action is a signal (bpf_send_signal, delivered before the call returns to user space) or, where the kernel
 * allows it, a refusal of the call itself: bpf_override_return(-EPERM) on the kprobe path, or -EPERM from the
 * task_movememory LSM hook for a killed caller's cross-process call.
 * the host's pid 1, the agent and allowlisted callers are never signalled;
 * kills are rate-limited per second.
 * Most calls match nothing: that path is one config load when nothing is installed, and otherwise only the
 * policies' argument tests, with no helper call. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "response.h"

char LICENSE[] SEC("license") = "GPL";

#define TS_COMPAT 0x0002
#define NR_MOVE_PAGES_X64 279
#define NR_MOVE_PAGES_IA32 317 /* seccomp in the 64-bit table: compat is told by the task */
#define SIGKILL 9
#define EPERM 1

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct snt_resp_config);
} resp_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct snt_policy_set);
} policy_sets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct snt_verdict);
} verdicts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, char[SNT_RESP_COMM_LEN]);
	__type(value, __u8);
} allow_comm SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u64); /* inode number of the executable */
	__type(value, __u8);
} allow_exe SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u64); /* cgroup v2 id */
	__type(value, __u8);
} allow_cgroup SEC(".maps");

/* Threads killed at sys_enter whose call names a pid: the LSM hook refuses that call. The value is the thread's
 * start time, so a reused tid is never refused. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} deny_pending SEC(".maps");

/* Never used by a program: updating a map-in-map makes the kernel wait for every running BPF program
 * (synchronize_rcu), which is how userspace knows no run still reads the policy set it is about to overwrite. */
struct grace_inner_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
};
struct grace_inner_map grace_inner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct grace_inner_map);
} grace SEC(".maps");

/* [0] = start of the current one-second window, [1] = kills in it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} kill_budget SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 << 10);
} resp_events SEC(".maps");

struct call {
	__s32 target;
	__s32 flags;
	__u64 count;
	bool compat;
};

/* What one action needs to be carried out and reported. */
struct hit {
	__u32 action;
	__u32 signal;
	__u32 rule;
	__u32 generation;
	__u8 source;
};

/* The caller, fetched piece by piece: a call that matches no policy needs none of it. */
struct caller {
	struct task_struct *task;
	char comm[SNT_RESP_COMM_LEN]; /* 8-aligned: compared as two u64s */
	__u32 tgid;
	bool have_comm;
};

static __always_inline struct task_struct *caller_task(struct caller *who)
{
	if (!who->task)
		who->task = bpf_get_current_task_btf();
	return who->task;
}

static __always_inline __u32 caller_tgid(struct caller *who)
{
	if (!who->tgid)
		who->tgid = bpf_get_current_pid_tgid() >> 32;
	return who->tgid;
}

static __always_inline const char *caller_comm(struct caller *who)
{
	if (!who->have_comm) {
		bpf_get_current_comm(who->comm, SNT_RESP_COMM_LEN);
		who->have_comm = true;
	}
	return who->comm;
}

static __always_inline bool comm_equal(const char *a, const char *b)
{
	return *(const __u64 *)a == *(const __u64 *)b && *(const __u64 *)(a + 8) == *(const __u64 *)(b + 8);
}

/* The call's own arguments are tested first: they cost no helper call and reject most calls. */
static __always_inline bool policy_matches(const struct snt_policy *p, const struct call *c, struct caller *who,
					   const struct snt_resp_config *cfg)
{
	__u32 f = p->fields;
	if ((f & SNT_PF_FLAGS) && ((__u32)c->flags & p->flags_all) != p->flags_all)
		return false;
	if ((f & SNT_PF_MIN_COUNT) && c->count < p->min_count)
		return false;
	if ((f & SNT_PF_COMPAT) && !c->compat)
		return false;
	if (f & SNT_PF_TARGET) {
		bool self = c->target == 0 || (__u32)c->target == caller_tgid(who);
		if (self != (p->target == 1))
			return false;
	}
	if (f & (SNT_PF_UID | SNT_PF_EUID | SNT_PF_CAPS_LACKING | SNT_PF_CAPS_HAVING)) {
		const struct cred *cred = caller_task(who)->cred;
		if ((f & SNT_PF_UID) && cred->uid.val != p->uid)
			return false;
		if ((f & SNT_PF_EUID) && cred->euid.val != p->euid)
			return false;
		__u64 caps = 0;
		bpf_core_read(&caps, sizeof(caps), &cred->cap_effective);
		if ((f & SNT_PF_CAPS_LACKING) && (caps & p->caps) == p->caps)
			return false;
		if ((f & SNT_PF_CAPS_HAVING) && (caps & p->caps) != p->caps)
			return false;
	}
	if (f & SNT_PF_NAMESPACE) {
		bool container = caller_task(who)->nsproxy->mnt_ns->ns.inum != cfg->host_mnt_ns;
		if (container != (p->ns == 1))
			return false;
	}
	if ((f & SNT_PF_COMM) && !comm_equal(caller_comm(who), p->comm))
		return false;
	return true;
}

static __always_inline bool protected_caller(__u32 tgid, const struct snt_resp_config *cfg, struct task_struct *task,
					     const char *comm)
{
	if (tgid == 1 || tgid == cfg->agent_pid)
		return true;
	if (bpf_map_lookup_elem(&allow_comm, comm))
		return true;
	__u64 cgroup = bpf_get_current_cgroup_id();
	if (bpf_map_lookup_elem(&allow_cgroup, &cgroup))
		return true;
	__u64 ino = BPF_CORE_READ(task, mm, exe_file, f_inode, i_ino);
	return ino && bpf_map_lookup_elem(&allow_exe, &ino);
}

static __always_inline bool take_kill_token(const struct snt_resp_config *cfg)
{
	__u32 k0 = 0, k1 = 1;
	__u64 *window = bpf_map_lookup_elem(&kill_budget, &k0);
	__u64 *used = bpf_map_lookup_elem(&kill_budget, &k1);
	if (!window || !used)
		return false;
	__u64 now = bpf_ktime_get_ns();
	if (now - *window >= 1000000000ULL) {
		*window = now;
		*used = 0;
	}
	return __sync_fetch_and_add(used, 1) < cfg->kills_per_second;
}

static __always_inline void report(const struct hit *h, const struct call *c, struct task_struct *task,
				   const char *comm, __u8 result, long error, bool denied)
{
	struct snt_resp_event *ev = bpf_ringbuf_reserve(&resp_events, sizeof(*ev), 0);
	if (!ev)
		return;
	const struct cred *cred = task->cred;
	__u64 id = bpf_get_current_pid_tgid();
	ev->magic = SNT_RESP_MAGIC;
	ev->size = sizeof(*ev);
	ev->time_ns = bpf_ktime_get_ns();
	ev->start_ns = task->group_leader->start_boottime;
	ev->count = c->count;
	bpf_core_read(&ev->cap_effective, sizeof(ev->cap_effective), &cred->cap_effective);
	ev->mnt_ns = task->nsproxy->mnt_ns->ns.inum;
	ev->cgroup_id = bpf_get_current_cgroup_id();
	ev->pid = id >> 32;
	ev->tid = (__u32)id;
	ev->uid = cred->uid.val;
	ev->euid = cred->euid.val;
	ev->target_pid = c->target;
	ev->flags = c->flags;
	ev->rule = h->rule;
	ev->signal = h->signal;
	ev->error = error;
	ev->source = h->source;
	ev->action = h->action;
	ev->result = result;
	ev->compat = c->compat;
	ev->denied = denied;
	ev->pad[0] = ev->pad[1] = ev->pad[2] = 0;
	ev->generation = h->generation;
	__builtin_memcpy(ev->comm, comm, SNT_RESP_COMM_LEN);
	bpf_ringbuf_submit(ev, 0);
}

/* A killed thread's call that names a pid reaches the task_movememory hook, which refuses it. */
static __always_inline bool deny_at_lsm(const struct hit *h, const struct call *c, struct task_struct *task)
{
	if (h->action != SNT_ACT_KILL || c->target == 0)
		return false;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 start = task->start_boottime;
	return bpf_map_update_elem(&deny_pending, &tid, &start, BPF_ANY) == 0;
}

/* Returns true when the call should be refused (only the kprobe path can refuse it here). */
static __always_inline bool act(const struct hit *h, const struct call *c, struct caller *who,
				const struct snt_resp_config *cfg, bool can_deny)
{
	__u8 result;
	long error = 0;
	struct task_struct *task = caller_task(who);
	const char *comm = caller_comm(who);
	bool enforce = cfg->mode == SNT_MODE_ENFORCE && h->action != SNT_ACT_AUDIT;
	if (protected_caller(caller_tgid(who), cfg, task, comm))
		result = SNT_RES_PROTECTED;
	else if (!enforce)
		result = SNT_RES_AUDITED;
	else if (!take_kill_token(cfg))
		result = SNT_RES_RATE_LIMITED;
	else {
		error = bpf_send_signal(h->action == SNT_ACT_KILL ? SIGKILL : h->signal);
		result = error ? SNT_RES_SIGNAL_FAILED : SNT_RES_SIGNALLED;
	}
	bool acted = result == SNT_RES_SIGNALLED || result == SNT_RES_SIGNAL_FAILED;
	bool deny = can_deny && acted;
	bool lsm_denied = !can_deny && cfg->lsm_deny && result == SNT_RES_SIGNALLED && deny_at_lsm(h, c, task);
	report(h, c, task, comm, result, error, deny || lsm_denied);
	return deny;
}

static __always_inline bool respond(struct call *c, bool can_deny)
{
	__u32 zero = 0;
	struct snt_resp_config *cfg = bpf_map_lookup_elem(&resp_config, &zero);
	if (!cfg || !cfg->mode || !(cfg->policies | cfg->verdicts))
		return false;
	struct caller who = {};
	struct hit h = {};

	if (cfg->verdicts) {
		__u32 tgid = caller_tgid(&who);
		struct snt_verdict *v = bpf_map_lookup_elem(&verdicts, &tgid);
		if (v && v->start_ticks == caller_task(&who)->group_leader->start_boottime / SNT_RESP_NS_PER_TICK) {
			h.action = v->action;
			h.signal = v->signal;
			h.rule = v->rule;
			h.source = SNT_SRC_VERDICT;
			return act(&h, c, &who, cfg, can_deny);
		}
	}

	/* Userspace never rewrites a set a run may still be reading: after each flip it waits for every running
	 * program to finish (see the grace map) before the next reload writes the now-inactive set. */
	__u32 index = cfg->active & 1;
	struct snt_policy_set *set = bpf_map_lookup_elem(&policy_sets, &index);
	if (!set)
		return false;
	__u32 count = set->count;
	for (int i = 0; i < SNT_RESP_MAX_POLICIES; i++) {
		if (i >= count)
			break;
		struct snt_policy *p = &set->policies[i];
		if (!policy_matches(p, c, &who, cfg))
			continue;
		h.action = p->action;
		h.signal = p->signal;
		h.rule = p->rule;
		h.generation = set->generation;
		h.source = SNT_SRC_POLICY;
		return act(&h, c, &who, cfg, can_deny);
	}
	return false;
}

/* ---- signal path: the syscall tracepoints (every kernel with BPF tracepoints and bpf_send_signal) ---- */

SEC("tracepoint/syscalls/sys_enter_move_pages")
int response_enter(struct trace_event_raw_sys_enter *ctx)
{
	struct call c = {
		.target = (__s32)ctx->args[0],
		.count = ctx->args[1],
		.flags = (__s32)ctx->args[5],
		.compat = false,
	};
	respond(&c, false);
	return 0;
}

/* 32-bit callers never reach the per-syscall tracepoint: catch them on raw sys_enter, by number + TS_COMPAT. */
SEC("raw_tracepoint/sys_enter")
int response_enter_compat(struct bpf_raw_tracepoint_args *ctx)
{
	if (ctx->args[1] != NR_MOVE_PAGES_IA32)
		return 0;
	if (!(bpf_get_current_task_btf()->thread_info.status & TS_COMPAT))
		return 0;
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	struct call c = {
		.target = (__s32)BPF_CORE_READ(regs, bx),
		.count = (__u32)BPF_CORE_READ(regs, cx),
		.flags = (__s32)BPF_CORE_READ(regs, bp),
		.compat = true,
	};
	respond(&c, false);
	return 0;
}

/* ---- deny path, LSM: with the signal path above, a killed caller's call that names a pid is refused at the
 * task_movememory hook before any page moves (needs CONFIG_BPF_LSM, "bpf" in the active LSMs, and a kernel
 * that lets LSM programs load: lockdown=integrity refuses them). A pid-0 call never reaches the hook. ---- */

SEC("lsm/task_movememory")
int BPF_PROG(response_lsm_deny, struct task_struct *target, int ret)
{
	if (ret)
		return ret; /* an earlier program already refused it */
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *start = bpf_map_lookup_elem(&deny_pending, &tid);
	if (!start || *start != bpf_get_current_task_btf()->start_boottime)
		return 0;
	bpf_map_delete_elem(&deny_pending, &tid);
	return -EPERM;
}

/* ---- deny path, kprobes on the syscall wrappers, refusing the call before it runs (needs
 * CONFIG_BPF_KPROBE_OVERRIDE; the wrappers are on the error-injection list) ---- */

SEC("kprobe/__x64_sys_move_pages")
int BPF_KPROBE(response_deny, struct pt_regs *regs)
{
	struct call c = {
		.target = (__s32)BPF_CORE_READ(regs, di),
		.count = BPF_CORE_READ(regs, si),
		.flags = (__s32)BPF_CORE_READ(regs, r9),
		.compat = false,
	};
	if (respond(&c, true))
		bpf_override_return(ctx, -EPERM);
	return 0;
}

SEC("kprobe/__ia32_sys_move_pages")
int BPF_KPROBE(response_deny_compat, struct pt_regs *regs)
{
	struct call c = {
		.target = (__s32)BPF_CORE_READ(regs, bx),
		.count = (__u32)BPF_CORE_READ(regs, cx),
		.flags = (__s32)BPF_CORE_READ(regs, bp),
		.compat = true,
	};
	if (respond(&c, true))
		bpf_override_return(ctx, -EPERM);
	return 0;
}
