// SPDX-License-Identifier: GPL-2.0
/*
 * The attach floor for the runtime benchmark (test/bench/runtime.bench.ts): a program that does
 * nothing, on the same tracepoint weir's handler uses. What it costs per call is what any BPF
 * program on a syscall tracepoint costs on this kernel (the perf trace record built for each call,
 * the syscall-trace slow path) before weir's handler does any work. Never loaded by the agent.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tracepoint/syscalls/sys_enter_openat")
int wrt_floor(void *ctx)
{
	return 0;
}
