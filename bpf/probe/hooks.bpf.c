// SPDX-License-Identifier: Apache-2.0
/*
 * One trivial program per hook kind. libbpf-ts's probeHooks() loads each alone and
 * tries to attach it, so an agent can report which hooks this node really offers.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("kprobe/do_nanosleep")
int probe_kprobe(void *ctx) { return 0; }

/* bpf_override_return: kernels built with CONFIG_BPF_KPROBE_OVERRIDE let kprobe programs call it. */
SEC("kprobe/do_nanosleep")
int probe_override(struct pt_regs *ctx)
{
	bpf_override_return(ctx, 0);
	return 0;
}

SEC("fentry/do_nanosleep")
int probe_fentry(void *ctx) { return 0; }

SEC("lsm/file_open")
int probe_lsm(void *ctx) { return 0; }

SEC("tracepoint/syscalls/sys_enter_nanosleep")
int probe_tracepoint(void *ctx) { return 0; }

SEC("raw_tracepoint/sched_process_exec")
int probe_raw_tracepoint(void *ctx) { return 0; }

char LICENSE[] SEC("license") = "GPL";
