/* SPDX-License-Identifier: Apache-2.0 */
/*
 * weir's runtime engine: selector evaluation, actions and events, shared by every entry program.
 *
 * An entry program (a syscall tracepoint; kprobe, kretprobe, raw tracepoint entries in kentry.h) does three things:
 *
 *   struct wrt_scratch *s = wrt_engine_begin(nr);      reads the generation once, resets per-call state
 *   ... make the call's six argument values available:  either s->args_at = address of six __u64 in
 *                                                       kernel memory (read lazily, only when a hook
 *                                                       gets past its binary filter), or fill
 *                                                       s->regs[0..5] (s->regs[7]: a return value)
 *                                                       and set s->regs_done = 1; s->kfunc = 1 when
 *                                                       they are a kernel function's (pointers to
 *                                                       kernel memory, read with wrt_args.h)
 *   wrt_engine_dispatch(s, key, evflags);               walks the hooks of `key` (a syscall number,
 *                                                       or WRT_NR_ANY) and runs each: selectors,
 *                                                       Sigkill / Signal, the ring-buffer event
 *
 * That is the whole boundary: `key` chooses the walk (wrt_calls: the lowering writes one entry per
 * key; an attach point that is not a syscall needs a key of its own, outside the syscall numbers),
 * s->nr is what events report as the syscall number, and `evflags` (WRT_EVF_*) is or'ed into the
 * events' flags. Everything else (maps, generations, the prefilter, argument reading, monitor mode,
 * the per-process cache) is the engine's. Include this header once per object; it includes
 * weir_runtime.h.
 */
#ifndef WEIR_RUNTIME_ENGINE_H
#define WEIR_RUNTIME_ENGINE_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "weir_runtime.h"
#include "wrt_args.h"

/* Kernel types we read, resolved against the running kernel's BTF (CO-RE): no vmlinux.h needed. */
typedef struct { __u64 val; } kernel_cap_t;
struct ns_common { unsigned int inum; } __attribute__((preserve_access_index));
struct uts_namespace { struct ns_common ns; } __attribute__((preserve_access_index));
struct ipc_namespace { struct ns_common ns; } __attribute__((preserve_access_index));
struct mnt_namespace { struct ns_common ns; } __attribute__((preserve_access_index));
struct pid_namespace { struct ns_common ns; } __attribute__((preserve_access_index));
struct net { struct ns_common ns; } __attribute__((preserve_access_index));
struct cgroup_namespace { struct ns_common ns; } __attribute__((preserve_access_index));
struct nsproxy {
	struct uts_namespace *uts_ns;
	struct ipc_namespace *ipc_ns;
	struct mnt_namespace *mnt_ns;
	struct pid_namespace *pid_ns_for_children;
	struct net *net_ns;
	struct cgroup_namespace *cgroup_ns;
} __attribute__((preserve_access_index));
struct upid { int nr; void *ns; } __attribute__((preserve_access_index));
struct pid { unsigned int level; struct upid numbers[1]; } __attribute__((preserve_access_index));
struct user_namespace { struct ns_common ns; } __attribute__((preserve_access_index));
struct cred { struct user_namespace *user_ns; kernel_cap_t cap_effective; kernel_cap_t cap_permitted; kernel_cap_t cap_inheritable; } __attribute__((preserve_access_index));
struct mm_struct { unsigned long arg_start; unsigned long arg_end; } __attribute__((preserve_access_index));
struct task_struct {
	struct mm_struct *mm;
	int tgid;
	int exit_code;
	struct task_struct *real_parent;
	struct task_struct *group_leader;
	struct pid *thread_pid;
	const struct cred *cred;
	struct nsproxy *nsproxy;
} __attribute__((preserve_access_index));

/* Inner map templates. */
struct wrt_hooks_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WRT_CAP_HOOKS);
	__uint(key_size, sizeof(__u32)); /* hook id */
	__uint(value_size, sizeof(struct wrt_hook));
};
struct wrt_calls_inner {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WRT_CAP_CALLS);
	__uint(key_size, sizeof(__u32)); /* syscall number, or WRT_NR_ANY */
	__uint(value_size, sizeof(struct wrt_call));
};
struct wrt_lists_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WRT_CAP_LIST);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32)); /* hook id */
};
struct wrt_bin_index_inner {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, WRT_CAP_BIN_INDEX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct wrt_lpm_key));
	__uint(value_size, sizeof(struct wrt_span));
};
struct wrt_policies_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, WRT_MAX_POLICIES);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct wrt_policy));
};
struct wrt_str_inner {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WRT_CAP_SET);
	__uint(key_size, sizeof(struct wrt_str_key));
	__uint(value_size, sizeof(__u8));
};
struct wrt_str_a_inner {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WRT_CAP_SET);
	__uint(key_size, sizeof(struct wrt_str_key_a));
	__uint(value_size, sizeof(__u8));
};
struct wrt_str_b_inner {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WRT_CAP_SET);
	__uint(key_size, sizeof(struct wrt_str_key_b));
	__uint(value_size, sizeof(__u8));
};
struct wrt_lpm_inner {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, WRT_CAP_LPM_SET);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct wrt_lpm_key));
	__uint(value_size, sizeof(__u8));
};
struct wrt_num_inner {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WRT_CAP_SET);
	__uint(key_size, sizeof(struct wrt_num_key));
	__uint(value_size, sizeof(__u8));
};

#define WRT_SLOTS(name, inner)                        \
	struct {                                      \
		__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS); \
		__uint(max_entries, 2);               \
		__type(key, __u32);                   \
		__array(values, struct inner);        \
	} name SEC(".maps")

WRT_SLOTS(wrt_hooks_slots, wrt_hooks_inner);
WRT_SLOTS(wrt_calls_slots, wrt_calls_inner);
WRT_SLOTS(wrt_lists_slots, wrt_lists_inner);
WRT_SLOTS(wrt_bin_index_slots, wrt_bin_index_inner);
WRT_SLOTS(wrt_policies_slots, wrt_policies_inner);
WRT_SLOTS(wrt_str_slots, wrt_str_inner);
WRT_SLOTS(wrt_str_a_slots, wrt_str_a_inner);
WRT_SLOTS(wrt_str_b_slots, wrt_str_b_inner);
WRT_SLOTS(wrt_prefix_slots, wrt_lpm_inner);
WRT_SLOTS(wrt_postfix_slots, wrt_lpm_inner);
WRT_SLOTS(wrt_num_slots, wrt_num_inner);

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} wrt_active SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wrt_node_info);
} wrt_node SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32768);
	__type(key, __u32);
	__type(value, struct wrt_proc);
} wrt_procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} wrt_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wrt_stats);
} wrt_stats SEC(".maps");

static __always_inline struct wrt_stats *stats(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&wrt_stats, &zero);
}

/* Per-CPU scratch: the 256-byte string keys and the event do not fit the 512-byte stack. */
struct wrt_scratch {
	struct wrt_event_call ev;
	struct wrt_str_key key[WRT_MAX_ARGS]; /* arg strings; serve as str and prefix keys */
	struct wrt_str_key rev[WRT_MAX_ARGS]; /* reversed arg strings for postfix (used as wrt_lpm_key) */
	struct wrt_str_key bin;               /* the process binary */
	struct wrt_str_key bin_rev;
	struct wrt_str_key anc;               /* an ancestor's binary (followChildren) */
	struct wrt_str_key anc_rev;
	struct wrt_str_key subj;              /* the string argument the prefilter indexes */
	struct wrt_str_key subj_rev;
	__u8 rev_done[8];                     /* per buffer; WRT_MAX_ARGS: bin_rev, WRT_MAX_ARGS + 1: anc_rev, 7: subj_rev */
	__u32 gen;
	__s32 nr;
	__u32 active; /* the full wrt_active counter this syscall runs under (gen is its parity) */
	__u64 args_at;   /* where the tracepoint record's six argument registers are */
	__u32 regs_done; /* regs holds them for this syscall */
	__u32 have_bin;  /* the caller is in wrt_procs: bin holds its binary */
	__u8 args_src[WRT_MAX_ARGS];  /* the argument spec (wrt_hook.arg_src / arg_type / n_args) that key[], */
	__u8 args_type[WRT_MAX_ARGS]; /* rev[] and ev hold for this call, when args_valid: hooks of one */
	__u8 args_n;                  /* syscall mostly read the same arguments, read once per call */
	__u8 args_valid;
	__u64 regs[8]; /* the syscall's argument registers, copied: ctx cannot be indexed by a variable */
	struct wrt_proc proc;
	__u32 kfunc;    /* regs are a kernel function's arguments: strings and buffers are kernel memory */
	__s32 override; /* Override chosen by a hook of this call (an errno), for the entry program; 0: none */
	struct wrt_sock_facts facts[WRT_MAX_ARGS]; /* socket arguments, as wrt_args.h reads them */
	struct wrt_path_buf path;                  /* the path walk's buffer */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wrt_scratch);
} wrt_scratch_map SEC(".maps");


static __always_inline struct wrt_scratch *scratch(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&wrt_scratch_map, &zero);
}

static __always_inline void fill_hdr(struct wrt_event_hdr *h, __u8 kind, struct wrt_proc *p)
{
	__u64 id = bpf_get_current_pid_tgid();
	h->kind = kind;
	h->pid = id >> 32;
	h->tid = (__u32)id;
	h->uid = (__u32)bpf_get_current_uid_gid();
	h->ktime = bpf_ktime_get_ns();
	h->cgroup_id = bpf_get_current_cgroup_id();
	if (p) {
		h->ppid = p->ppid;
		h->binary_len = p->binary_len;
		h->flags |= WRT_EVF_BINARY_KNOWN;
		bpf_probe_read_kernel(h->binary, sizeof(h->binary), p->binary);
	} else {
		struct task_struct *t = (struct task_struct *)bpf_get_current_task();
		h->ppid = BPF_CORE_READ(t, real_parent, tgid);
		bpf_get_current_comm(h->binary, 16);
		h->binary_len = 0;
	}
}

/* ---- selector evaluation ---- */

struct wrt_rev_ctx {
	char *dst;
	const char *src;
	__u32 len;
};

static long rev_step(__u64 i, void *data)
{
	struct wrt_rev_ctx *c = data;
	__u32 j = c->len - 1 - (__u32)i;
	if (i >= WRT_STR_MAX || j >= WRT_STR_MAX)
		return 1;
	c->dst[i] = c->src[j];
	return 0;
}

/* Reverses src[0..len) into dst (zero-padded) so that a postfix becomes an LPM prefix. */
static __always_inline void reverse_into(char *dst, const char *src, __u32 len)
{
	struct wrt_rev_ctx c = { .dst = dst, .src = src, .len = len };
	__builtin_memset(dst, 0, WRT_STR_MAX);
	if (len > WRT_STR_MAX - 1)
		len = WRT_STR_MAX - 1;
	c.len = len;
	bpf_loop(len, rev_step, &c, 0);
}

static __always_inline bool lpm_hit(void *slots, __u32 gen, struct wrt_lpm_key *k, __u32 set_id, __u32 len)
{
	void *inner = bpf_map_lookup_elem(slots, &gen);
	if (!inner)
		return false;
	k->set_id = set_id;
	if (len > WRT_LPM_STR_MAX)
		len = WRT_LPM_STR_MAX;
	k->prefixlen = 32 + len * 8;
	return bpf_map_lookup_elem(inner, k) != NULL;
}

static __always_inline bool str_hit(__u32 gen, struct wrt_str_key *k, __u32 set_id, __u32 len)
{
	/* The size class by length; the zero padding of the buffer makes its prefix the smaller key. */
	void *slots = len <= WRT_STR_CLASS_A ? (void *)&wrt_str_a_slots : len <= WRT_STR_CLASS_B ? (void *)&wrt_str_b_slots : (void *)&wrt_str_slots;
	void *inner = bpf_map_lookup_elem(slots, &gen);
	if (!inner)
		return false;
	k->set_id = set_id;
	k->len = len;
	return bpf_map_lookup_elem(inner, k) != NULL;
}

static __always_inline bool num_hit(__u32 gen, __u32 set_id, __u64 v)
{
	void *inner = bpf_map_lookup_elem(&wrt_num_slots, &gen);
	if (!inner)
		return false;
	struct wrt_num_key k = { .set_id = set_id, .pad = 0, .value = v };
	return bpf_map_lookup_elem(inner, &k) != NULL;
}

/* Argument types compared as strings (their bytes in s->key[a]), and as sockets (s->facts[a]). */
static __always_inline bool arg_is_str(__u32 type)
{
	type &= WRT_ARG_TYPE_MASK;
	return type == WRT_ARG_STRING || type == WRT_ARG_FILE || type == WRT_ARG_PATH || type == WRT_ARG_FD ||
	       type == WRT_ARG_BINPRM || type == WRT_ARG_CHAR_BUF || type == WRT_ARG_DENTRY || type == WRT_ARG_MODULE ||
	       type == WRT_ARG_LOAD_INFO || type == WRT_ARG_BPF_MAP || type == WRT_ARG_KIOCB || type == WRT_ARG_NET_DEVICE ||
	       type == WRT_ARG_IOV_ITER;
}

static __always_inline bool arg_is_sock(__u32 type)
{
	type &= WRT_ARG_TYPE_MASK;
	return type == WRT_ARG_SOCK || type == WRT_ARG_SKB || type == WRT_ARG_SOCKADDR || type == WRT_ARG_SOCKET;
}

/*
 * Reads argument `a` of a kernel-function type from its raw value `v` (a kernel pointer, or an fd): paths and
 * names into s->key[a], sockets into s->facts[a]. `size`: a char_buf's length. A global function: verified once.
 */
__noinline int fetch_kernel_arg(struct wrt_scratch *s, __u32 a, __u32 type, __u64 v, __u64 size)
{
	if (!s)
		return 0;
	asm volatile("%[a] &= 7" : [a] "+r"(a));
	if (a >= WRT_MAX_ARGS)
		return 0;
	char *out = s->key[a].str;
	__u32 len = 0;
	const void *ptr = (const void *)(long)v;
	switch (type & WRT_ARG_TYPE_MASK) {
	case WRT_ARG_FILE: len = wrt_read_file(&s->path, ptr, out); break;
	case WRT_ARG_PATH: len = wrt_read_path(&s->path, ptr, out); break;
	case WRT_ARG_FD: len = wrt_read_fd(&s->path, (__s64)v, out); break;
	case WRT_ARG_DENTRY: len = wrt_read_dentry(&s->path, ptr, out); break;
	case WRT_ARG_KIOCB: len = wrt_read_file(&s->path, BPF_CORE_READ((const struct kiocb___wrt *)ptr, ki_filp), out); break;
	case WRT_ARG_BINPRM: len = wrt_read_binprm(ptr, out); break;
	case WRT_ARG_MODULE: len = wrt_read_kstr(((const struct module___wrt *)ptr)->name, out); break;
	case WRT_ARG_BPF_MAP: len = wrt_read_kstr(((const struct bpf_map___wrt *)ptr)->name, out); break;
	case WRT_ARG_NET_DEVICE: len = wrt_read_kstr(((const struct net_device___wrt *)ptr)->name, out); break;
	case WRT_ARG_LOAD_INFO:
		/* struct load_info is not in every kernel's BTF: without it the name reads as empty. */
		if (bpf_core_type_exists(struct load_info___wrt))
			len = wrt_read_kstr(BPF_CORE_READ((const struct load_info___wrt *)ptr, name), out);
		else
			__builtin_memset(out, 0, WRT_STR_MAX);
		break;
	case WRT_ARG_CHAR_BUF:
	case WRT_ARG_IOV_ITER: {
		/* A buffer of `size` bytes (at most WRT_STR_MAX - 1), kernel or user memory as the hook's. */
		len = size > WRT_STR_MAX - 1 ? WRT_STR_MAX - 1 : (__u32)size;
		__builtin_memset(out, 0, WRT_STR_MAX);
		if (s->kfunc)
			bpf_probe_read_kernel(out, len & (WRT_STR_MAX - 1), ptr);
		else
			bpf_probe_read_user(out, len & (WRT_STR_MAX - 1), ptr);
		break;
	}
	case WRT_ARG_SOCK: wrt_read_sock(ptr, &s->facts[a]); return 0;
	case WRT_ARG_SOCKET: wrt_read_socket(ptr, &s->facts[a]); return 0;
	case WRT_ARG_SKB: wrt_read_skb(ptr, &s->facts[a]); return 0;
	case WRT_ARG_SOCKADDR: wrt_read_sockaddr(ptr, &s->facts[a]); return 0;
	default: return 0;
	}
	s->key[a].len = len;
	s->ev.str_len[a] = len;
	return 0;
}

/* A socket operator on argument `a`: addresses in the prefix trie (key: family byte, address), numbers inline or in a set. */
__noinline int match_sock(struct wrt_scratch *s, __u32 a, const struct wrt_match_arg *m)
{
	if (!s || !m)
		return 0;
	asm volatile("%[a] &= 7" : [a] "+r"(a));
	if (a >= WRT_MAX_ARGS)
		return 0;
	const struct wrt_sock_facts *f = &s->facts[a];
	__u32 op = m->op;
	bool addr_hit = false, set_hit = false;
	if (op == WRT_OP_SADDR || op == WRT_OP_NOT_SADDR || op == WRT_OP_DADDR || op == WRT_OP_NOT_DADDR) {
		/* rev[a] is free for a socket argument (it reverses strings for Postfix): the trie key goes there. */
		struct wrt_lpm_key *k = (struct wrt_lpm_key *)&s->rev[a];
		wrt_addr_key(f, wrt_sock_op_dst(op), k, m->set_id);
		addr_hit = lpm_hit(&wrt_prefix_slots, s->gen, k, m->set_id, f->family == WRT_AF_INET6 ? 17 : 5);
		s->rev_done[a] = 0;
	}
	__u64 x = 0;
	if (m->set_id && wrt_sock_field(op, f, &x))
		set_hit = num_hit(s->gen, m->set_id, x);
	return wrt_sock_match(op, f, m, addr_hit, set_hit);
}

/*
 * A string filter on buffer `key` (and its lazily reversed twin).
 *
 * The match_* functions and run_hook are global functions: the verifier checks
 * each once rather than once per call site, which keeps verification fast.
 * Their pointer arguments may be NULL as far as the verifier knows.
 */
__noinline int match_string(struct wrt_scratch *s, __u32 slot, __u32 op, __u32 set_id)
{
	if (!s)
		return 0;
	/* A bound the verifier keeps: clang may otherwise drop a mask it proves redundant. */
	asm volatile("%[i] &= 7" : [i] "+r"(slot));
	if (slot > WRT_MAX_ARGS + 1)
		return false;
	struct wrt_str_key *key = slot == WRT_MAX_ARGS + 1 ? &s->anc : slot == WRT_MAX_ARGS ? &s->bin : &s->key[slot];
	struct wrt_str_key *rev = slot == WRT_MAX_ARGS + 1 ? &s->anc_rev : slot == WRT_MAX_ARGS ? &s->bin_rev : &s->rev[slot];
	__u32 len = key->len;
	bool hit;
	if (len > WRT_STR_MAX - 1)
		return false;
	switch (op) {
	case WRT_OP_EQUAL:
	case WRT_OP_NOT_EQUAL:
		hit = str_hit(s->gen, key, set_id, len);
		key->len = len; /* the buffer keeps serving later filters */
		return op == WRT_OP_EQUAL ? hit : !hit;
	case WRT_OP_PREFIX:
	case WRT_OP_NOT_PREFIX:
		hit = lpm_hit(&wrt_prefix_slots, s->gen, (struct wrt_lpm_key *)key, set_id, len);
		key->len = len;
		return op == WRT_OP_PREFIX ? hit : !hit;
	case WRT_OP_POSTFIX:
	case WRT_OP_NOT_POSTFIX:
		if (!s->rev_done[slot]) {
			reverse_into(rev->str, key->str, len);
			s->rev_done[slot] = 1;
		}
		hit = lpm_hit(&wrt_postfix_slots, s->gen, (struct wrt_lpm_key *)rev, set_id, len);
		return op == WRT_OP_POSTFIX ? hit : !hit;
	}
	return false;
}

__noinline int match_number(__u32 op, __u32 type, __u64 x, const struct wrt_match_arg *m, __u32 gen)
{
	if (!m)
		return 0;
	bool sign = type == WRT_ARG_INT || type == WRT_ARG_INT64;
	__u8 n = m->nvals;
	bool hit = false;
	switch (op) {
	case WRT_OP_EQUAL:
	case WRT_OP_NOT_EQUAL:
		for (int i = 0; i < WRT_MAX_VALUES; i++)
			if (i < n && m->vals[i] == x)
				hit = true;
		return op == WRT_OP_EQUAL ? hit : !hit;
	case WRT_OP_GT:
		return sign ? (__s64)x > (__s64)m->vals[0] : x > m->vals[0];
	case WRT_OP_LT:
		return sign ? (__s64)x < (__s64)m->vals[0] : x < m->vals[0];
	case WRT_OP_MASK:
		for (int i = 0; i < WRT_MAX_VALUES; i++)
			if (i < n && (x & m->vals[i]))
				hit = true;
		return hit;
	case WRT_OP_IN_RANGE:
	case WRT_OP_NOT_IN_RANGE:
		for (int i = 0; i + 1 < WRT_MAX_VALUES; i += 2) {
			if (i + 1 >= n)
				break;
			if (sign ? ((__s64)x >= (__s64)m->vals[i] && (__s64)x <= (__s64)m->vals[i + 1]) : (x >= m->vals[i] && x <= m->vals[i + 1]))
				hit = true;
		}
		return op == WRT_OP_IN_RANGE ? hit : !hit;
	case WRT_OP_IN_MAP:
	case WRT_OP_NOT_IN_MAP:
		hit = num_hit(gen, m->set_id, x);
		return op == WRT_OP_IN_MAP ? hit : !hit;
	}
	return false;
}

static __always_inline __u32 ns_inum(struct task_struct *t, __u8 kind)
{
	struct nsproxy *ns = BPF_CORE_READ(t, nsproxy);
	if (!ns)
		return 0;
	switch (kind) {
	case WRT_NS_UTS: return BPF_CORE_READ(ns, uts_ns, ns.inum);
	case WRT_NS_IPC: return BPF_CORE_READ(ns, ipc_ns, ns.inum);
	case WRT_NS_MNT: return BPF_CORE_READ(ns, mnt_ns, ns.inum);
	case WRT_NS_PID_FOR_CHILDREN: return BPF_CORE_READ(ns, pid_ns_for_children, ns.inum);
	case WRT_NS_PID: {
		struct pid *p = BPF_CORE_READ(t, thread_pid);
		unsigned int level = BPF_CORE_READ(p, level);
		struct upid up = {};
		bpf_core_read(&up, sizeof(up), &p->numbers[level & 31]);
		struct pid_namespace *pns = up.ns;
		return BPF_CORE_READ(pns, ns.inum);
	}
	case WRT_NS_NET: return BPF_CORE_READ(ns, net_ns, ns.inum);
	case WRT_NS_CGROUP: return BPF_CORE_READ(ns, cgroup_ns, ns.inum);
	case WRT_NS_USER: return BPF_CORE_READ(t, cred, user_ns, ns.inum);
	}
	return 0;
}

/* The tgid as seen from the process's own pid namespace. */
static __always_inline __u32 ns_tgid(struct task_struct *t)
{
	struct pid *p = BPF_CORE_READ(t, group_leader, thread_pid);
	unsigned int level = BPF_CORE_READ(p, level);
	struct upid up = {};
	bpf_core_read(&up, sizeof(up), &p->numbers[level & 31]);
	return up.nr;
}

__noinline int match_pids(const struct wrt_pid_filter *f, __u32 tgid)
{
	if (!f)
		return 0;
	__u32 pid = tgid;
	bool hit = false;
	if (f->flags & WRT_PID_NAMESPACE_PID)
		pid = ns_tgid((struct task_struct *)bpf_get_current_task());
	for (int i = 0; i < WRT_MAX_VALUES; i++)
		if (i < f->nvals && f->vals[i] == pid)
			hit = true;
	/* followForks: a descendant (up to 4 generations, from the process table) of a listed pid matches too. */
	if (!hit && (f->flags & WRT_PID_FOLLOW_FORKS) && !(f->flags & WRT_PID_NAMESPACE_PID)) {
		__u32 cur = tgid;
		for (int g = 0; g < 4 && !hit; g++) {
			struct wrt_proc *p = bpf_map_lookup_elem(&wrt_procs, &cur);
			if (!p)
				break;
			cur = p->ppid;
			for (int i = 0; i < WRT_MAX_VALUES; i++)
				if (i < f->nvals && f->vals[i] == cur)
					hit = true;
		}
	}
	return (f->flags & WRT_PID_NOT_IN) ? !hit : hit;
}

__noinline int match_ns(const struct wrt_ns_filter *f)
{
	if (!f)
		return 0;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	__u32 inum = ns_inum(t, f->kind);
	bool hit = false;
	if (f->flags & WRT_NS_FLAG_HOST_NS) {
		__u32 zero = 0;
		struct wrt_node_info *ni = bpf_map_lookup_elem(&wrt_node, &zero);
		if (ni && inum == ni->host_ns[f->kind & 7])
			hit = true;
	}
	for (int i = 0; i < WRT_MAX_VALUES; i++)
		if (i < f->nvals && f->vals[i] == inum)
			hit = true;
	return (f->flags & WRT_NS_FLAG_NOT_IN) ? !hit : hit;
}

__noinline int match_cap(const struct wrt_cap_filter *f)
{
	if (!f)
		return 0;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	if (f->flags & WRT_CAP_FLAG_NAMESPACE) {
		/* isNamespaceCapability (as Tetragon): a task in the host's user namespace does not match; nor does
		 * any task while the host's user namespace is unknown (the agent could not read /proc/1/ns/user). */
		__u32 zero = 0;
		struct wrt_node_info *ni = bpf_map_lookup_elem(&wrt_node, &zero);
		__u32 host = ni ? ni->host_ns[WRT_NS_USER & 7] : 0;
		if (!host || BPF_CORE_READ(t, cred, user_ns, ns.inum) == host)
			return false;
	}
	__u64 caps = 0;
	if (f->kind == WRT_CAP_EFFECTIVE)
		caps = BPF_CORE_READ(t, cred, cap_effective.val);
	else if (f->kind == WRT_CAP_PERMITTED)
		caps = BPF_CORE_READ(t, cred, cap_permitted.val);
	else
		caps = BPF_CORE_READ(t, cred, cap_inheritable.val);
	bool hit = (caps & f->mask) != 0;
	return f->not_in ? !hit : hit;
}

/*
 * matchBinaries: the process's own binary, and with followChildren those of up to 4 ancestors from the
 * process table. An unknown binary (a process that exec'd before weir) matches no positive operator.
 */
__noinline int match_binary(struct wrt_scratch *s, const struct wrt_selector *sel, __u32 tgid, __u32 have_bin)
{
	if (!s || !sel)
		return 0;
	__u32 op = sel->bin_op, set = sel->bin_set, flags = sel->flags;
	bool positive = op == WRT_OP_EQUAL || op == WRT_OP_PREFIX || op == WRT_OP_POSTFIX;
	__u32 pos_op = positive ? op : op - 1;
	bool hit = have_bin && match_string(s, WRT_MAX_ARGS, pos_op, set);
	if (!hit && (flags & WRT_SEL_FOLLOW_CHILDREN)) {
		__u32 cur = tgid;
		for (int g = 0; g < 4 && !hit; g++) {
			struct wrt_proc *p = bpf_map_lookup_elem(&wrt_procs, &cur);
			if (!p || p->ppid == 0 || p->ppid == cur)
				break;
			cur = p->ppid;
			struct wrt_proc *a = bpf_map_lookup_elem(&wrt_procs, &cur);
			if (!a)
				break;
			bpf_probe_read_kernel(s->anc.str, sizeof(s->anc.str), a->binary);
			s->anc.len = a->binary_len > WRT_STR_MAX - 1 ? WRT_STR_MAX - 1 : a->binary_len;
			s->rev_done[WRT_MAX_ARGS + 1] = 0;
			hit = match_string(s, WRT_MAX_ARGS + 1, pos_op, set);
		}
	}
	return positive ? hit : !hit;
}

__noinline int match_selector(struct wrt_scratch *s, const struct wrt_hook *h, __u32 idx, __u32 tgid, __u32 have_bin)
{
	if (!s || !h || idx >= WRT_MAX_SELECTORS)
		return 0;
	const struct wrt_selector *sel = &h->sel[idx];
	if ((sel->flags & WRT_SEL_BINARIES) && !match_binary(s, sel, tgid, have_bin))
		return false;
	for (int i = 0; i < WRT_MAX_PID_FILTERS; i++)
		if (i < sel->n_pids && !match_pids(&sel->pids[i], tgid))
			return false;
	for (int i = 0; i < WRT_MAX_NS_FILTERS; i++)
		if (sel->ns[i].kind && !match_ns(&sel->ns[i]))
			return false;
	if (sel->cap.kind && !match_cap(&sel->cap))
		return false;
	for (int i = 0; i < WRT_MAX_MATCH_ARGS; i++) {
		if (i >= sel->n_args)
			break;
		const struct wrt_match_arg *m = &sel->args[i];
		__u32 a = m->index;
		if (a >= WRT_MAX_ARGS)
			return false;
		__u8 type = h->arg_type[a];
		bool ok;
		if (arg_is_str(type))
			ok = match_string(s, a, m->op, m->set_id);
		else if (arg_is_sock(type))
			ok = match_sock(s, a, m);
		else
			ok = match_number(m->op, type, s->ev.argv[a], m, s->gen);
		if (!ok)
			return false;
	}
	return true;
}

static __always_inline void load_regs(struct wrt_scratch *s)
{
	if (s->regs_done)
		return;
	/* Through probe_read, not ctx->args[i]: a program whose ctx reads go past a tracepoint's
	 * record (sys_enter_openat has 4 args, 48 bytes) is refused at attach time (EACCES).
	 * Registers beyond the syscall's arity read as junk and are never used: the compiler
	 * checks arg indexes. */
	bpf_probe_read_kernel(s->regs, 6 * sizeof(__u64), (void *)(long)s->args_at);
	s->regs[6] = s->regs[7] = 0;
	s->regs_done = 1;
}

__noinline int run_hook(struct wrt_scratch *s, const struct wrt_hook *h, __u32 evflags)
{
	if (!s || !h)
		return 0;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct wrt_event_call *ev = &s->ev;

	if (h->flags & WRT_HOOK_SCOPED) {
		if (!num_hit(s->gen, h->scope_set, bpf_get_current_cgroup_id()))
			return 0;
	}

	struct wrt_proc *p = bpf_map_lookup_elem(&wrt_procs, &tgid);
	bool have_bin = p != NULL && s->have_bin;
	/*
	 * The binary filter's verdict per process, cached in its process-table entry: `pad` holds the
	 * generation (wrt_active + 1) and `flags` a bit per hook id whose selectors all rejected this
	 * binary. A rejected call then costs one lookup instead of a 256-byte copy and the string-set
	 * lookups. Any rewrite of the entry (exec, an agent's /proc scan) zeroes both; a fork copies
	 * them with the binary they were computed for; a policy swap changes the generation.
	 */
	__u32 stamp = s->active + 1;
	__u32 bit = h->hook_id < 32 ? 1u << h->hook_id : 0;
	if (p && bit && p->pad == stamp && (p->flags & bit))
		return 0;
	/* s->bin holds the caller's binary since wrt_engine_dispatch: one copy per syscall. */

	/* Cheap filter first: when every selector names binaries and none admits this process, the
	 * call is not ours, and reading its arguments (string copies from user memory) is skipped. */
	if (h->n_selectors > 0) {
		bool any = false;
		/* followChildren looks at ancestors, whose binaries change without this entry changing. */
		bool cacheable = true;
		for (int i = 0; i < WRT_MAX_SELECTORS; i++) {
			if (i >= h->n_selectors)
				break;
			const struct wrt_selector *sel = &h->sel[i];
			if (!(sel->flags & WRT_SEL_BINARIES)) {
				any = true;
				break;
			}
			if (sel->flags & WRT_SEL_FOLLOW_CHILDREN)
				cacheable = false;
			if (match_binary(s, sel, tgid, have_bin)) {
				any = true;
				break;
			}
		}
		if (!any) {
			if (p && bit && cacheable) {
				if (p->pad != stamp) {
					p->pad = stamp;
					p->flags = 0;
				}
				p->flags |= bit;
			}
			return 0;
		}
	}

	load_regs(s);
	/* Read the hook's arguments once per call (a hook with the same argument spec as the last one read
	 * finds them in place); every selector reads these copies. */
	bool same = s->args_valid && s->args_n == h->n_args;
	for (int a = 0; a < WRT_MAX_ARGS; a++)
		if (s->args_src[a] != h->arg_src[a] || s->args_type[a] != h->arg_type[a])
			same = false;
	for (int a = 0; a < WRT_MAX_ARGS && !same; a++) {
		s->args_src[a] = h->arg_src[a];
		s->args_type[a] = h->arg_type[a];
		s->rev_done[a] = 0;
		ev->str_len[a] = 0;
		ev->arg_type[a] = a < h->n_args ? h->arg_type[a] : WRT_ARG_NONE;
		if (a >= h->n_args) {
			ev->argv[a] = 0;
			continue;
		}
		__u8 src = h->arg_src[a];
		/* src WRT_ARG_SRC_RET (7) is regs[7]: a return probe's value. */
		__u64 v = src == WRT_ARG_SRC_NR ? (__u64)(__s64)s->nr : s->regs[src & 7];
		__u8 type = h->arg_type[a];
		switch (type) {
		case WRT_ARG_INT: v = (__u64)(__s64)(__s32)v; break;
		case WRT_ARG_UINT32: v = (__u32)v; break;
		case WRT_ARG_CAPABILITY: v = (__u64)(__s64)(__s32)v; break;
		case WRT_ARG_STRING: {
			__builtin_memset(s->key[a].str, 0, WRT_STR_MAX);
			long n = s->kfunc ? bpf_probe_read_kernel_str(s->key[a].str, WRT_STR_MAX, (const char *)v)
					  : bpf_probe_read_user_str(s->key[a].str, WRT_STR_MAX, (const char *)v);
			s->key[a].len = n > 0 ? n - 1 : 0;
			ev->str_len[a] = s->key[a].len;
			break;
		}
		default:
			if (type > WRT_ARG_STRING) {
				/* char_buf: its size is the argument at position (type >> WRT_ARG_SIZE_SHIFT) - 1. */
				__u32 sp = (type >> WRT_ARG_SIZE_SHIFT) & 7;
				__u64 size = 0;
				if (sp >= 1 && sp <= WRT_MAX_ARGS) {
					__u32 j = sp - 1;
					asm volatile("%[j] &= 7" : [j] "+r"(j));
					if (j < WRT_MAX_ARGS)
						size = s->regs[h->arg_src[j] & 7];
				}
				fetch_kernel_arg(s, a, type, v, size);
			}
		}
		ev->argv[a] = v;
	}
	s->args_n = h->n_args;
	s->args_valid = 1;

	int chosen = -1;
	if (h->n_selectors == 0) {
		chosen = WRT_MAX_SELECTORS; /* no selectors: post every call */
	} else {
		for (int i = 0; i < WRT_MAX_SELECTORS; i++) {
			if (i >= h->n_selectors)
				break;
			if (match_selector(s, h, i, tgid, have_bin)) {
				chosen = i;
				break;
			}
		}
	}
	if (chosen < 0)
		return 0;
	struct wrt_stats *st = stats();
	if (st)
		st->matches++;

	__u32 mode = WRT_MODE_ENFORCE;
	void *pol = bpf_map_lookup_elem(&wrt_policies_slots, &s->gen);
	if (pol) {
		__u32 pid_key = h->policy_id;
		struct wrt_policy *pv = bpf_map_lookup_elem(pol, &pid_key);
		if (pv)
			mode = pv->mode;
	}

	bool post = true;
	__u8 action = WRT_ACTION_POST;
	__s32 sig = 0;
	if (chosen < WRT_MAX_SELECTORS) {
		const struct wrt_selector *sel = &h->sel[chosen & 7 /* bounded for the verifier */ % WRT_MAX_SELECTORS];
		for (int i = 0; i < WRT_MAX_ACTIONS; i++) {
			if (i >= sel->n_actions)
				break;
			__u32 act = sel->actions[i].action;
			if (act == WRT_ACTION_NOPOST) {
				post = false;
			} else if (act == WRT_ACTION_SIGKILL || act == WRT_ACTION_SIGNAL) {
				action = act;
				sig = sel->actions[i].arg;
			} else if (act == WRT_ACTION_OVERRIDE) {
				/* The entry program applies it (bpf_override_return, an fmod_ret or LSM result). */
				if (mode == WRT_MODE_ENFORCE && !s->override)
					s->override = sel->actions[i].arg;
				if (action == WRT_ACTION_POST)
					action = act;
			}
		}
	}
	if (sig && mode == WRT_MODE_ENFORCE) {
		bpf_send_signal(sig);
		if (st)
			st->signals++;
	}
	if (!post)
		return 0;

	struct wrt_event_hdr *hd = &ev->hdr;
	__builtin_memset(hd, 0, sizeof(*hd) - sizeof(hd->binary));
	fill_hdr(hd, WRT_EV_CALL, p);
	hd->action = action;
	hd->flags |= (mode == WRT_MODE_MONITOR ? WRT_EVF_MONITOR : 0) | (evflags & 0xff);
	hd->n_args = h->n_args;
	hd->policy_id = h->policy_id;
	hd->hook_id = h->hook_id;
	hd->syscall_nr = s->nr;
	hd->signal = mode == WRT_MODE_ENFORCE ? sig : 0;
	for (int a = 0; a < WRT_MAX_ARGS; a++) {
		if (arg_is_str(ev->arg_type[a]))
			bpf_probe_read_kernel(ev->strs[a], WRT_STR_MAX, s->key[a].str);
		else
			ev->strs[a][0] = 0;
	}
	long err = bpf_ringbuf_output(&wrt_events, ev, sizeof(*ev), 0);
	if (st) {
		if (err)
			st->events_lost++;
		else
			st->events++;
	}
	return 0;
}

/* ---- the walk ---- */

struct wrt_walk_ctx {
	__u32 start;
	__u32 evflags;
};

/* One step of a walk: the i-th hook id of a list, run. Maps are looked up again per step (the
 * callback gets no map pointers); all of them are array / per-CPU lookups but the hook's own. */
static long walk_step(__u64 i, void *data)
{
	struct wrt_walk_ctx *w = data;
	struct wrt_scratch *s = scratch();
	if (!s)
		return 1;
	__u32 gen = s->gen;
	void *lists = bpf_map_lookup_elem(&wrt_lists_slots, &gen);
	void *hooks = bpf_map_lookup_elem(&wrt_hooks_slots, &gen);
	if (!lists || !hooks)
		return 1;
	__u32 at = w->start + (__u32)i;
	__u32 *id = bpf_map_lookup_elem(lists, &at);
	if (!id)
		return 1;
	struct wrt_hook *h = bpf_map_lookup_elem(hooks, id);
	if (!h)
		return 1;
	run_hook(s, h, w->evflags);
	return 0;
}

static __always_inline void walk(__u32 start, __u32 count, __u32 evflags)
{
	struct wrt_walk_ctx w = { .start = start, .evflags = evflags };
	if (count > WRT_CAP_LIST)
		count = WRT_CAP_LIST;
	bpf_loop(count, walk_step, &w, 0);
}

/* The prefilter: the hooks whose values can admit a subject (the caller's binary, or the indexed
 * argument) read forwards (`fwd`, with its NUL) or reversed (`rev`, made on first use), from the longest
 * matching entry of wrt_bin_index. The span is copied out: the key buffers serve the selectors after. */
static __always_inline struct wrt_span index_span(struct wrt_scratch *s, struct wrt_str_key *fwd, struct wrt_str_key *rev,
						  __u32 rev_slot, __u32 set_id, bool reversed)
{
	struct wrt_span none = { 0, 0 };
	void *inner = bpf_map_lookup_elem(&wrt_bin_index_slots, &s->gen);
	if (!inner)
		return none;
	__u32 len = fwd->len;
	if (len > WRT_STR_MAX - 1)
		return none;
	struct wrt_span *span;
	if (reversed) {
		rev_slot &= 7;
		if (!s->rev_done[rev_slot]) {
			reverse_into(rev->str, fwd->str, len);
			s->rev_done[rev_slot] = 1;
		}
		struct wrt_lpm_key *k = (struct wrt_lpm_key *)rev;
		k->set_id = set_id;
		k->prefixlen = 32 + (len > WRT_LPM_STR_MAX ? WRT_LPM_STR_MAX : len) * 8;
		span = bpf_map_lookup_elem(inner, k);
	} else {
		/* Forwards the key includes the NUL after the string (the buffer is zero-padded), so that an
		 * exact value is an entry that matches that string only and not the longer ones it starts. */
		struct wrt_lpm_key *k = (struct wrt_lpm_key *)fwd;
		__u32 n = len + 1 > WRT_LPM_STR_MAX ? WRT_LPM_STR_MAX : len + 1;
		k->set_id = set_id;
		k->prefixlen = 32 + n * 8;
		span = bpf_map_lookup_elem(inner, k);
		fwd->len = len; /* the buffer keeps serving the selectors */
	}
	return span ? *span : none;
}

/* Starts an entry program's call: the scratch buffer with the generation in service read once. */
static __always_inline struct wrt_scratch *wrt_engine_begin(__s32 nr)
{
	__u32 zero = 0;
	__u32 *gen = bpf_map_lookup_elem(&wrt_active, &zero);
	struct wrt_scratch *s = scratch();
	if (!gen || !s)
		return NULL;
	s->active = *gen;
	s->gen = *gen & 1; /* read once: this call sees one generation */
	s->nr = nr;
	s->regs_done = 0;
	s->args_at = 0;
	s->args_valid = 0;
	s->kfunc = 0;
	s->override = 0;
	return s;
}

/* Runs every hook of `key` that the prefilter leaves for the calling process. */
static __always_inline int wrt_engine_dispatch(struct wrt_scratch *s, __u32 key, __u32 evflags)
{
	if (!s)
		return 0;
	void *calls = bpf_map_lookup_elem(&wrt_calls_slots, &s->gen);
	if (!calls)
		return 0;
	struct wrt_call *c = bpf_map_lookup_elem(calls, &key);
	if (!c)
		return 0;
	struct wrt_call call = *c;
	struct wrt_stats *st = stats();
	if (st)
		st->calls++;
	/* The caller's binary, copied once for the prefilter and every selector of the walk. */
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct wrt_proc *p = bpf_map_lookup_elem(&wrt_procs, &tgid);
	s->rev_done[WRT_MAX_ARGS] = 0;
	if (p) {
		bpf_probe_read_kernel(s->bin.str, sizeof(s->bin.str), p->binary);
		s->bin.len = p->binary_len > WRT_STR_MAX - 1 ? WRT_STR_MAX - 1 : p->binary_len;
		s->have_bin = 1;
	} else {
		s->bin.len = 0;
		s->have_bin = 0;
	}
	/* Binary-indexed hooks all need a positive binary match: a process weir has not seen exec meets none. */
	struct wrt_span none = { 0, 0 };
	struct wrt_span bf = p && (call.flags & WRT_CALL_FWD) ? index_span(s, &s->bin, &s->bin_rev, WRT_MAX_ARGS, call.index_id + WRT_IDX_FWD, false) : none;
	struct wrt_span br = p && (call.flags & WRT_CALL_REV) ? index_span(s, &s->bin, &s->bin_rev, WRT_MAX_ARGS, call.index_id + WRT_IDX_REV, true) : none;
	struct wrt_span af = none, ar = none;
	if (call.flags & (WRT_CALL_ARG_FWD | WRT_CALL_ARG_REV)) {
		/* The indexed argument, read as a hook reads its string arguments. */
		load_regs(s);
		__builtin_memset(s->subj.str, 0, WRT_STR_MAX);
		const char *src = (const char *)s->regs[call.arg_reg & 7];
		/* A kernel function's string arguments are kernel memory. */
		long n = s->kfunc ? bpf_probe_read_kernel_str(s->subj.str, WRT_STR_MAX, src) : bpf_probe_read_user_str(s->subj.str, WRT_STR_MAX, src);
		s->subj.len = n > 0 ? n - 1 : 0;
		s->rev_done[7] = 0;
		if (call.flags & WRT_CALL_ARG_FWD)
			af = index_span(s, &s->subj, &s->subj_rev, 7, call.index_id + WRT_IDX_ARG_FWD, false);
		if (call.flags & WRT_CALL_ARG_REV)
			ar = index_span(s, &s->subj, &s->subj_rev, 7, call.index_id + WRT_IDX_ARG_REV, true);
	}
	if (call.open_count)
		walk(call.open_start, call.open_count, evflags);
	if (bf.count)
		walk(bf.start, bf.count, evflags);
	if (br.count)
		walk(br.start, br.count, evflags);
	if (af.count)
		walk(af.start, af.count, evflags);
	if (ar.count)
		walk(ar.start, ar.count, evflags);
	return 0;
}

#endif /* WEIR_RUNTIME_ENGINE_H */
