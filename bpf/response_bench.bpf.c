// SPDX-License-Identifier: GPL-2.0
/* The measuring floor for the response benchmark (tests/Sentinel.Benchmarks response-overhead): a program that
 * does nothing, attached where response_enter is. Its run time under kernel.bpf_stats_enabled is what the
 * measurement itself costs (the clock reads around each run and the dispatch); nothing else loads it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tracepoint/syscalls/sys_enter_move_pages")
int response_floor(void *ctx)
{
	return 0;
}
