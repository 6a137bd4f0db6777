// SPDX-License-Identifier: GPL-2.0
/* The reference cost: a program on the same tracepoints that does nothing. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tracepoint/syscalls/sys_enter_move_pages")
int empty_enter(void *ctx) { return 0; }

SEC("tracepoint/syscalls/sys_exit_move_pages")
int empty_exit(void *ctx) { return 0; }
