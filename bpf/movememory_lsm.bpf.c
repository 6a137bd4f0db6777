// SPDX-License-Identifier: GPL-2.0
/* Response by denial: a BPF LSM program on task_movememory refuses a move_pages(2) (or migrate_pages(2))
 * aimed at another process with EPERM, before any page moves. It needs CONFIG_BPF_LSM and "bpf" in the
 * active LSM list (lsm=...,bpf), and a kernel not locked down against LSM programs.
 * The kernel runs the hook only when the call names another process: a pid-0 (self) call never reaches it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

#define EPERM 1

/* The deny policy: callers whose real uid is a key here are refused. Userspace installs the entries. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} deny_uids SEC(".maps");

/* Calls refused so far. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} denied SEC(".maps");

SEC("lsm/task_movememory")
int BPF_PROG(deny_movememory, struct task_struct *target, int ret)
{
	if (ret)
		return ret; /* an earlier program already decided */
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	if (!bpf_map_lookup_elem(&deny_uids, &uid))
		return 0;
	__u32 zero = 0;
	__u64 *count = bpf_map_lookup_elem(&denied, &zero);
	if (count)
		__sync_fetch_and_add(count, 1);
	return -EPERM;
}
