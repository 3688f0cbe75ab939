// SPDX-License-Identifier: Apache-2.0
/*
 * weir runtime: the argument readers of wrt_args.h and its socket operators, alone, for BPF_PROG_TEST_RUN
 * (wrt_test_reader, a raw tracepoint program). The engine runs them for every kernel-function entry
 * (kentry.h, in wrt_runtime.bpf.o); this object lets a test read what they read (paths, socket facts,
 * capabilities) from real kernel objects of the test process and compare it with what it knows.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "weir_runtime.h"
#include "wrt_args.h"

char LICENSE[] SEC("license") = "GPL";

/* Per-CPU scratch of the readers: the path walk's buffer. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wrt_path_buf);
} wrt_path_map SEC(".maps");

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
