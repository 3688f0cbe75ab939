// SPDX-License-Identifier: Apache-2.0
/*
 * weir runtime: entry programs for kernel functions that need BTF-typed attach (fentry, fexit, fmod_ret) or
 * BPF LSM, on the engine (engine.h) as the kprobe entries of kentry.h. The agent sets each program's attach
 * target (bpf_program__set_attach_target) to a site's function or LSM hook and its BPF cookie to the site
 * number, and shares the engine's maps with wrt_runtime.bpf.o (bpf_map__reuse_fd by name). These programs load
 * only where the kernel offers the attach type (the capability probe's fentry and lsm), hence their own object.
 * Arguments come from bpf_get_func_arg: the function's arity is only known at attach. A syscall's function
 * (__x64_sys_*) takes the user registers as its one argument: wrt_fentry_sys/wrt_fexit_sys read the syscall's
 * arguments from them, as wrt_kprobe_sys does.
 */
#include "engine.h"

char LICENSE[] SEC("license") = "GPL";

static __always_inline struct wrt_scratch *begin(void *ctx)
{
	struct wrt_scratch *s = wrt_engine_begin(-1);
	if (!s)
		return NULL;
	for (__u32 i = 0; i < 6; i++) {
		__u64 v = 0;
		bpf_get_func_arg(ctx, i, &v); /* beyond the function's arity: an error, v stays 0 */
		s->regs[i & 7] = v;
	}
	s->regs[6] = s->regs[7] = 0;
	s->regs_done = 1;
	s->kfunc = 1;
	return s;
}

/* A syscall's function: the syscall's arguments (user memory, not kernel pointers) from its pt_regs. */
static __always_inline struct wrt_scratch *begin_sys(void *ctx)
{
	struct wrt_scratch *s = wrt_engine_begin(-1);
	if (!s)
		return NULL;
	__u64 regs = 0;
	bpf_get_func_arg(ctx, 0, &regs);
	wrt_syscall_regs((const void *)regs, s->regs);
	s->regs[6] = s->regs[7] = 0;
	s->regs_done = 1;
	return s;
}

SEC("fentry")
int wrt_fentry_sys(void *ctx)
{
	struct wrt_scratch *s = begin_sys(ctx);
	if (s)
		wrt_engine_dispatch(s, WRT_SITE_BASE + (__u32)bpf_get_attach_cookie(ctx), 0);
	return 0;
}

SEC("fexit")
int wrt_fexit_sys(void *ctx)
{
	struct wrt_scratch *s = begin_sys(ctx);
	if (!s)
		return 0;
	__u64 ret = 0;
	bpf_get_func_ret(ctx, &ret);
	s->regs[7] = ret;
	wrt_engine_dispatch(s, WRT_SITE_BASE + (__u32)bpf_get_attach_cookie(ctx), 0);
	return 0;
}

SEC("fentry")
int wrt_fentry(void *ctx)
{
	struct wrt_scratch *s = begin(ctx);
	if (s)
		wrt_engine_dispatch(s, WRT_SITE_BASE + (__u32)bpf_get_attach_cookie(ctx), 0);
	return 0;
}

SEC("fexit")
int wrt_fexit(void *ctx)
{
	struct wrt_scratch *s = begin(ctx);
	if (!s)
		return 0;
	__u64 ret = 0;
	bpf_get_func_ret(ctx, &ret);
	s->regs[7] = ret;
	wrt_engine_dispatch(s, WRT_SITE_BASE + (__u32)bpf_get_attach_cookie(ctx), 0);
	return 0;
}

/* fmod_ret on a security_* function and BPF LSM: the Override a hook chose is the call's result. */
SEC("fmod_ret")
int wrt_fmod_ret(void *ctx)
{
	struct wrt_scratch *s = begin(ctx);
	if (!s)
		return 0;
	wrt_engine_dispatch(s, WRT_SITE_BASE + (__u32)bpf_get_attach_cookie(ctx), 0);
	return s->override;
}

SEC("lsm")
int wrt_lsm(void *ctx)
{
	struct wrt_scratch *s = begin(ctx);
	if (!s)
		return 0;
	wrt_engine_dispatch(s, WRT_SITE_BASE + (__u32)bpf_get_attach_cookie(ctx), 0);
	return s->override;
}
