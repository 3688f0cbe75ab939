/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Entry programs for hooks on kernel functions, feeding the engine (engine.h) like the syscall tracepoint does:
 * each finds its attach site in its BPF cookie (the compiler numbers a node's sites; their hooks are keyed
 * WRT_SITE_BASE + site), puts the call's argument words in s->regs and dispatches.
 *
 *   wrt_kprobe        kprobe on a kernel function: arguments from pt_regs, kernel pointers
 *   wrt_kprobe_sys    kprobe on a syscall's function (__x64_sys_*): the user registers it is passed
 *   wrt_kprobe_stash  kprobe paired with a kretprobe: keeps the arguments for the return
 *   wrt_kprobe_sys_stash  the same for a syscall's function (the syscall's arguments)
 *   wrt_kretprobe     kretprobe: the kept arguments and the return value (regs[7], WRT_ARG_SRC_RET)
 *   wrt_raw_tp        raw tracepoint: the TP_PROTO arguments
 *   wrt_test_engine   raw tracepoint program for BPF_PROG_TEST_RUN over the same tables (see below)
 *
 * They load wherever kprobe and raw tracepoint programs do. Override needs bpf_override_return, which only
 * kernels with CONFIG_BPF_KPROBE_OVERRIDE offer: its entry is in wrt_override.bpf.c; fentry, fexit, fmod_ret
 * and LSM entries are in wrt_fentry.bpf.c. Include once, after engine.h.
 */
#ifndef WEIR_RUNTIME_KENTRY_H
#define WEIR_RUNTIME_KENTRY_H

#include <linux/ptrace.h>
#include <bpf/bpf_tracing.h>

/* Arguments kept from a function's entry for its return probe, per thread. */
struct wrt_kret_args {
	__u64 raw[6];
	__u32 syscall; /* kept by wrt_kprobe_sys_stash: the syscall's arguments, pointers to user memory */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct wrt_kret_args);
} wrt_kret SEC(".maps");

static __always_inline int kentry_dispatch(struct wrt_scratch *s, __u64 cookie)
{
	s->regs_done = 1;
	return wrt_engine_dispatch(s, WRT_SITE_BASE + (__u32)cookie, 0);
}

SEC("kprobe")
int wrt_kprobe(struct pt_regs *ctx)
{
	struct wrt_scratch *s = wrt_engine_begin(-1);
	if (!s)
		return 0;
	s->regs[0] = PT_REGS_PARM1(ctx);
	s->regs[1] = PT_REGS_PARM2(ctx);
	s->regs[2] = PT_REGS_PARM3(ctx);
	s->regs[3] = PT_REGS_PARM4(ctx);
	s->regs[4] = PT_REGS_PARM5(ctx);
	s->regs[5] = s->regs[6] = s->regs[7] = 0;
	s->kfunc = 1;
	return kentry_dispatch(s, bpf_get_attach_cookie(ctx));
}

SEC("kprobe")
int wrt_kprobe_sys(struct pt_regs *ctx)
{
	struct wrt_scratch *s = wrt_engine_begin(-1);
	if (!s)
		return 0;
	wrt_syscall_regs((const void *)PT_REGS_PARM1(ctx), s->regs);
	s->regs[6] = s->regs[7] = 0;
	return kentry_dispatch(s, bpf_get_attach_cookie(ctx));
}

SEC("kprobe")
int wrt_kprobe_stash(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct wrt_kret_args a = {
		.raw = { PT_REGS_PARM1(ctx), PT_REGS_PARM2(ctx), PT_REGS_PARM3(ctx), PT_REGS_PARM4(ctx), PT_REGS_PARM5(ctx), 0 },
	};
	bpf_map_update_elem(&wrt_kret, &id, &a, BPF_ANY);
	return 0;
}

SEC("kprobe")
int wrt_kprobe_sys_stash(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct wrt_kret_args a = {};
	wrt_syscall_regs((const void *)PT_REGS_PARM1(ctx), a.raw);
	a.syscall = 1;
	bpf_map_update_elem(&wrt_kret, &id, &a, BPF_ANY);
	return 0;
}

SEC("kretprobe")
int wrt_kretprobe(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct wrt_kret_args *a = bpf_map_lookup_elem(&wrt_kret, &id);
	struct wrt_scratch *s = wrt_engine_begin(-1);
	if (!a || !s)
		return 0;
	for (int i = 0; i < 6; i++)
		s->regs[i] = a->raw[i];
	s->regs[6] = 0;
	s->regs[7] = PT_REGS_RC(ctx);
	s->kfunc = !a->syscall;
	bpf_map_delete_elem(&wrt_kret, &id);
	return kentry_dispatch(s, bpf_get_attach_cookie(ctx));
}

SEC("raw_tracepoint")
int wrt_raw_tp(struct bpf_raw_tracepoint_args *ctx)
{
	struct wrt_scratch *s = wrt_engine_begin(-1);
	if (!s)
		return 0;
	/* The raw tracepoints weir hooks take at most 3 arguments (sched_process_exec: p, old_pid, bprm). */
	s->regs[0] = ctx->args[0];
	s->regs[1] = ctx->args[1];
	s->regs[2] = ctx->args[2];
	s->regs[3] = s->regs[4] = s->regs[5] = s->regs[6] = s->regs[7] = 0;
	s->kfunc = 1;
	return kentry_dispatch(s, bpf_get_attach_cookie(ctx));
}

/*
 * wrt_test_engine's context (BPF_PROG_TEST_RUN passes up to 12 words):
 *   args[0]     the site (the hooks of WRT_SITE_BASE + site run)
 *   args[1]     flags: bit 0 the arguments are a kernel function's; bits 8 + i: argument i is a descriptor of
 *               the test process, replaced by its struct file; bits 16 + i: by its struct socket; bits 24 + i:
 *               by the socket's struct sock (real kernel objects, as a kprobe would be given them)
 *   args[2..7]  the argument words, args[8] the return value
 * Returns the Override errno the call's hooks chose (0: none); matches and events are counted in wrt_stats.
 */
SEC("raw_tracepoint")
int wrt_test_engine(struct bpf_raw_tracepoint_args *ctx)
{
	struct wrt_scratch *s = wrt_engine_begin(-1);
	if (!s)
		return 0;
	__u64 flags = ctx->args[1];
	/* ctx cannot be indexed by a variable: the words are copied first. */
	__u64 words[6] = { ctx->args[2], ctx->args[3], ctx->args[4], ctx->args[5], ctx->args[6], ctx->args[7] };
	for (int i = 0; i < 6; i++) {
		__u64 v = words[i];
		if (flags & (0x01010100ull << i)) {
			const struct file___wrt *f = wrt_fd_file((__s64)v);
			v = (__u64)(long)f;
			if (f && (flags & (0x01010000ull << i)))
				v = (__u64)(long)BPF_CORE_READ(f, private_data);
			if (v && (flags & (0x01000000ull << i)))
				v = (__u64)(long)BPF_CORE_READ((const struct socket___wrt *)(long)v, sk);
		}
		s->regs[i] = v;
	}
	s->regs[6] = 0;
	s->regs[7] = ctx->args[8];
	s->kfunc = flags & 1;
	kentry_dispatch(s, ctx->args[0]);
	return s->override;
}

#endif /* WEIR_RUNTIME_KENTRY_H */
