// SPDX-License-Identifier: Apache-2.0
/*
 * weir runtime: entry programs for kernel functions that need BTF-typed attach (fentry, fexit, fmod_ret) or
 * BPF LSM. The agent sets each program's attach target (bpf_program__set_attach_target) to the function or
 * LSM hook of a site and its BPF cookie to the site number, then loads it: these programs load only where
 * the kernel offers the attach type (the capability probe's fentry and lsm), so this object is apart from
 * wrt_kprobe.bpf.c, whose programs load everywhere. Each records its site and arguments in wrt_kentry as the
 * kprobe entries do (bpf_get_func_arg: the function's arity is only known at attach).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "weir_runtime.h"
#include "wrt_args.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wrt_kentry);
} wrt_kentry_map SEC(".maps");

/* The errno an fmod_ret or LSM entry returns for a site whose selector chose Override (0: let the call run). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __s32);
} wrt_verdict SEC(".maps");

static __always_inline struct wrt_kentry *record(void *ctx, __u32 flags)
{
	__u32 zero = 0;
	struct wrt_kentry *e = bpf_map_lookup_elem(&wrt_kentry_map, &zero);
	if (!e)
		return NULL;
	e->site = (__u32)bpf_get_attach_cookie(ctx);
	e->flags = flags;
	for (__u32 i = 0; i < 6; i++) {
		__u64 v = 0;
		bpf_get_func_arg(ctx, i, &v); /* beyond the function's arity: an error, v stays 0 */
		e->raw[i] = v;
	}
	return e;
}

static __always_inline int verdict(void)
{
	__u32 zero = 0;
	__s32 *v = bpf_map_lookup_elem(&wrt_verdict, &zero);
	return v ? *v : 0;
}

SEC("fentry")
int wrt_fentry(void *ctx)
{
	record(ctx, 0);
	return 0;
}

SEC("fexit")
int wrt_fexit(void *ctx)
{
	struct wrt_kentry *e = record(ctx, WRT_KENTRY_RETURN);
	__u64 ret = 0;
	bpf_get_func_ret(ctx, &ret);
	if (e)
		e->ret = (__s64)ret;
	return 0;
}

SEC("fmod_ret")
int wrt_fmod_ret(void *ctx)
{
	record(ctx, 0);
	return verdict();
}

SEC("lsm")
int wrt_lsm(void *ctx)
{
	record(ctx, 0);
	return verdict();
}
