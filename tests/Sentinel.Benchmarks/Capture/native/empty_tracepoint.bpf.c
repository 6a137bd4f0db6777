// SPDX-License-Identifier: GPL-2.0
/* The reference costs: programs that do nothing, on the per-syscall tracepoints (empty_enter/empty_exit) and on
 * the BTF raw tracepoints every syscall passes (empty_btf_enter/empty_btf_exit). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tracepoint/syscalls/sys_enter_move_pages")
int empty_enter(void *ctx) { return 0; }

SEC("tracepoint/syscalls/sys_exit_move_pages")
int empty_exit(void *ctx) { return 0; }

SEC("tp_btf/sys_enter")
int empty_btf_enter(void *ctx) { return 0; }

SEC("tp_btf/sys_exit")
int empty_btf_exit(void *ctx) { return 0; }
