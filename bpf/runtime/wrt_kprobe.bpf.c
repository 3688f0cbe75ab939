// SPDX-License-Identifier: Apache-2.0
/*
 * weir runtime: entry programs for hooks on kernel functions that load as kprobe / raw tracepoint programs,
 * and a test entry that runs the argument readers and the socket operators under BPF_PROG_TEST_RUN.
 *
 *   wrt_kprobe       kprobe on a kernel function: its arguments from pt_regs
 *   wrt_kretprobe    kretprobe: the return value
 *   wrt_kprobe_sys   kprobe on a syscall's function (__x64_sys_*): the syscall's arguments from the pt_regs it is passed
 *   wrt_raw_tp       raw tracepoint: the TP_PROTO arguments
 *   wrt_test_reader  raw tracepoint program for BPF_PROG_TEST_RUN (synthetic context, see below)
 *
 * Each entry finds its attach site in its BPF cookie (the compiler numbers a node's sites: hook key
 * WRT_SITE_BASE + site) and records the site and the raw arguments in the per-CPU wrt_kentry record, from which
 * the selector engine reads them with the readers of wrt_args.h. (fentry, fexit, fmod_ret and BPF LSM entries
 * are in wrt_fentry.bpf.c: they load only where the kernel offers those attach types.)
 */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "weir_runtime.h"
#include "wrt_args.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wrt_kentry);
} wrt_kentry_map SEC(".maps");

/* Per-CPU scratch of the readers: the path walk's buffer. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wrt_path_buf);
} wrt_path_map SEC(".maps");

/* Sites entered, per site (the first 64), for the agent's status and the attach tests. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} wrt_site_calls SEC(".maps");

/* The kernel's x86_64 pt_regs, as a syscall's function receives the user registers (syscall argument order). */
struct pt_regs___wrt {
	unsigned long di, si, dx, r10, r8, r9;
} __attribute__((preserve_access_index));

static __always_inline struct wrt_kentry *kentry(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&wrt_kentry_map, &zero);
}

static __always_inline void entered(__u32 site)
{
	__u32 k = site;
	__u64 *n = bpf_map_lookup_elem(&wrt_site_calls, &k);
	if (n)
		*n += 1;
}

SEC("kprobe")
int wrt_kprobe(struct pt_regs *ctx)
{
	struct wrt_kentry *e = kentry();
	if (!e)
		return 0;
	e->site = (__u32)bpf_get_attach_cookie(ctx);
	e->flags = 0;
	e->raw[0] = PT_REGS_PARM1(ctx);
	e->raw[1] = PT_REGS_PARM2(ctx);
	e->raw[2] = PT_REGS_PARM3(ctx);
	e->raw[3] = PT_REGS_PARM4(ctx);
	e->raw[4] = PT_REGS_PARM5(ctx);
	e->raw[5] = 0;
	e->ret = 0;
	entered(e->site);
	return 0;
}

SEC("kretprobe")
int wrt_kretprobe(struct pt_regs *ctx)
{
	struct wrt_kentry *e = kentry();
	if (!e)
		return 0;
	e->site = (__u32)bpf_get_attach_cookie(ctx);
	e->flags = WRT_KENTRY_RETURN;
	e->ret = (__s64)PT_REGS_RC(ctx);
	entered(e->site);
	return 0;
}

SEC("kprobe")
int wrt_kprobe_sys(struct pt_regs *ctx)
{
	struct wrt_kentry *e = kentry();
	if (!e)
		return 0;
	/* __x64_sys_<name>(const struct pt_regs *regs): the syscall's arguments are in the user registers it points at. */
	const struct pt_regs___wrt *regs = (const struct pt_regs___wrt *)PT_REGS_PARM1(ctx);
	e->site = (__u32)bpf_get_attach_cookie(ctx);
	e->flags = 0;
	e->raw[0] = BPF_CORE_READ(regs, di);
	e->raw[1] = BPF_CORE_READ(regs, si);
	e->raw[2] = BPF_CORE_READ(regs, dx);
	e->raw[3] = BPF_CORE_READ(regs, r10);
	e->raw[4] = BPF_CORE_READ(regs, r8);
	e->raw[5] = BPF_CORE_READ(regs, r9);
	e->ret = 0;
	entered(e->site);
	return 0;
}

SEC("raw_tracepoint")
int wrt_raw_tp(struct bpf_raw_tracepoint_args *ctx)
{
	struct wrt_kentry *e = kentry();
	if (!e)
		return 0;
	e->site = (__u32)bpf_get_attach_cookie(ctx);
	e->flags = 0;
	/* Raw tracepoints of interest take at most 3 arguments (sched_process_exec: p, old_pid, bprm). */
	e->raw[0] = ctx->args[0];
	e->raw[1] = ctx->args[1];
	e->raw[2] = ctx->args[2];
	e->ret = 0;
	entered(e->site);
	return 0;
}

/* ---- the test entry ---- */

/*
 * wrt_test_reader's context (BPF_PROG_TEST_RUN of a raw tracepoint program passes up to 12 words):
 *   args[0]  the argument type (WRT_ARG_FD, WRT_ARG_SOCKET via an fd, ...): what to read
 *   args[1]  the raw value (for WRT_ARG_FD and socket-through-fd: a descriptor of the test process)
 *   args[2]  a socket operator to evaluate on the facts read (0: none)
 *   args[3]  its set id (addresses: a prefix-trie set; numbers: a numeric set; 0: the inline values)
 *   args[4..7]  inline values, args[8] how many
 * The result goes to wrt_test_out[0]: the string read, or the socket facts, and the operator's verdict.
 */
struct wrt_test_out {
	__u32 len;
	__s32 verdict; /* -1: no operator */
	struct wrt_sock_facts facts;
	__u64 caps;
	char str[WRT_STR_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wrt_test_out);
} wrt_test_out SEC(".maps");

/* The test's sets, with the engine's key layouts (wrt_prefix and wrt_num images load into them as they are). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 256);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct wrt_lpm_key));
	__uint(value_size, sizeof(__u8));
} wrt_test_prefix SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__uint(key_size, sizeof(struct wrt_num_key));
	__uint(value_size, sizeof(__u8));
} wrt_test_num SEC(".maps");

struct wrt_test_scratch {
	struct wrt_lpm_key key;
	struct wrt_match_arg m;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wrt_test_scratch);
} wrt_test_scratch SEC(".maps");

SEC("raw_tracepoint")
int wrt_test_reader(struct bpf_raw_tracepoint_args *ctx)
{
	__u32 zero = 0;
	struct wrt_test_out *o = bpf_map_lookup_elem(&wrt_test_out, &zero);
	struct wrt_path_buf *pb = bpf_map_lookup_elem(&wrt_path_map, &zero);
	struct wrt_test_scratch *t = bpf_map_lookup_elem(&wrt_test_scratch, &zero);
	if (!o || !pb || !t)
		return 0;
	__u64 type = ctx->args[0], v = ctx->args[1], op = ctx->args[2];
	o->verdict = -1;
	o->len = 0;
	__builtin_memset(&o->facts, 0, sizeof(o->facts));
	switch (type) {
	case WRT_ARG_FD:
		o->len = wrt_read_fd(pb, (__s64)v, o->str);
		break;
	case WRT_ARG_SOCKET: {
		/* The socket behind a descriptor: file->private_data is its struct socket. */
		const struct file___wrt *f = wrt_fd_file((__s64)v);
		if (f)
			wrt_read_socket(BPF_CORE_READ(f, private_data), &o->facts);
		break;
	}
	case WRT_ARG_CRED: {
		struct task_struct___wrt *task = (struct task_struct___wrt *)bpf_get_current_task();
		o->caps = wrt_read_cred_caps(BPF_CORE_READ(task, cred), WRT_CAP_EFFECTIVE);
		break;
	}
	default:
		return 1;
	}
	if (op == 0)
		return 0;
	t->m.set_id = (__u32)ctx->args[3];
	t->m.nvals = (__u8)ctx->args[8];
	t->m.vals[0] = ctx->args[4];
	t->m.vals[1] = ctx->args[5];
	t->m.vals[2] = ctx->args[6];
	t->m.vals[3] = ctx->args[7];
	wrt_addr_key(&o->facts, wrt_sock_op_dst(op), &t->key, t->m.set_id);
	bool addr_hit = bpf_map_lookup_elem(&wrt_test_prefix, &t->key) != NULL;
	__u64 x = 0;
	bool set_hit = false;
	if (t->m.set_id && wrt_sock_field(op, &o->facts, &x)) {
		struct wrt_num_key nk = { .set_id = t->m.set_id, .pad = 0, .value = x };
		set_hit = bpf_map_lookup_elem(&wrt_test_num, &nk) != NULL;
	}
	o->verdict = wrt_sock_match(op, &o->facts, &t->m, addr_hit, set_hit);
	return 0;
}
