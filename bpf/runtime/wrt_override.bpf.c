// SPDX-License-Identifier: Apache-2.0
/*
 * weir runtime: the kprobe entry of sites with Override, on the engine (engine.h). bpf_override_return exists
 * only in kernels built with CONFIG_BPF_KPROBE_OVERRIDE and works only on error-injectable functions (the
 * compiler checks the node's list), so this entry is apart from kentry.h's, which load everywhere. The agent
 * shares the engine's maps with wrt_runtime.bpf.o (bpf_map__reuse_fd by name).
 */
#include <linux/ptrace.h>
#include "engine.h"
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

static __always_inline int run(struct pt_regs *ctx, struct wrt_scratch *s)
{
	s->regs[6] = s->regs[7] = 0;
	s->regs_done = 1;
	wrt_engine_dispatch(s, WRT_SITE_BASE + (__u32)bpf_get_attach_cookie(ctx), 0);
	if (s->override)
		bpf_override_return(ctx, (unsigned long)(long)s->override);
	return 0;
}

/* A kernel function: its arguments from pt_regs. */
SEC("kprobe")
int wrt_kprobe_override(struct pt_regs *ctx)
{
	struct wrt_scratch *s = wrt_engine_begin(-1);
	if (!s)
		return 0;
	s->regs[0] = PT_REGS_PARM1(ctx);
	s->regs[1] = PT_REGS_PARM2(ctx);
	s->regs[2] = PT_REGS_PARM3(ctx);
	s->regs[3] = PT_REGS_PARM4(ctx);
	s->regs[4] = PT_REGS_PARM5(ctx);
	s->regs[5] = 0;
	s->kfunc = 1;
	return run(ctx, s);
}

/* A syscall's function (__x64_sys_*): the syscall's arguments from the user registers it is passed. */
SEC("kprobe")
int wrt_kprobe_sys_override(struct pt_regs *ctx)
{
	struct wrt_scratch *s = wrt_engine_begin(-1);
	if (!s)
		return 0;
	wrt_syscall_regs((const void *)PT_REGS_PARM1(ctx), s->regs);
	return run(ctx, s);
}
