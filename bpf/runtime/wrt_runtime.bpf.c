// SPDX-License-Identifier: Apache-2.0
/*
 * weir runtime enforcement: process tracking and the generic syscall-entry
 * handler that evaluates TracingPolicy selectors from maps.
 *
 * One object, short programs:
 *   wrt_exec / wrt_fork / wrt_exit   sched_process_* tracepoints: pid -> binary table
 *   wrt_sys_enter                     attached to every syscalls/sys_enter_<name>
 *                                     a policy hooks (the agent attaches it once per name)
 *   wrt_raw_sys_enter                 raw_syscalls/sys_enter, for hooks on every syscall
 * Both syscall entries hand the call to the engine (engine.h), which walks the syscall's hooks:
 * one program per attach point, however many policies hook it. The entries of hooks on kernel
 * functions (kprobe, kretprobe, raw tracepoint: kentry.h) feed the same engine and maps.
 *
 * Policy state lives in inner maps behind ARRAY_OF_MAPS slots [0] and [1];
 * wrt_active holds the generation in service. The agent fills the other slot
 * completely, then flips wrt_active in one update: a syscall reads the
 * generation once and sees the old policy or the new one, never a mix.
 */
#include "engine.h"
#include "kentry.h"

char LICENSE[] SEC("license") = "GPL"; /* bpf_probe_read_user_str and bpf_send_signal are GPL-only */

/* Tracepoint contexts (layouts from /sys/kernel/tracing/events/.../format). */
struct wrt_sys_enter_ctx {
	__u64 common;
	__s32 nr;       /* __syscall_nr; for raw_syscalls/sys_enter the low half of `long id` */
	__u32 pad;
	__u64 args[6];  /* offset 16 in both */
};
struct wrt_exec_ctx { __u64 common; __u32 filename_loc; __s32 pid; __s32 old_pid; };
struct wrt_fork_ctx { __u64 common; __u32 parent_comm_loc; __s32 parent_pid; __u32 child_comm_loc; __s32 child_pid; };
struct wrt_exit_ctx { __u64 common; char comm[16]; __s32 pid; __s32 prio; __u8 group_dead; };

/* Exposes the layouts in the object's BTF so the TS encoders can be checked against them. */
struct wrt_btf_anchor {
	struct wrt_event_exec exec[0];
	struct wrt_event_exit exit[0];
	struct wrt_event_call call[0];
	struct wrt_call call_walk[0];
	struct wrt_span span[0];
	struct wrt_hook hook[0];
	struct wrt_policy policy[0];
	struct wrt_str_key str_key[0];
	struct wrt_str_key_a str_key_a[0];
	struct wrt_str_key_b str_key_b[0];
	struct wrt_lpm_key lpm_key[0];
	struct wrt_num_key num_key[0];
	struct wrt_node_info node_info[0];
	struct wrt_proc proc[0];
	struct wrt_stats stats[0];
};
/* Zero-length members: complete types in BTF (a pointer alone may leave a forward declaration), no bytes. */
struct wrt_btf_anchor *_wrt_btf_anchor __attribute__((unused));

/* ---- process tracking ---- */

SEC("tracepoint/sched/sched_process_exec")
int wrt_exec(struct wrt_exec_ctx *ctx)
{
	struct wrt_scratch *s = scratch();
	if (!s)
		return 0;
	struct wrt_proc *p = &s->proc;
	struct task_struct *t = (struct task_struct *)bpf_get_current_task();
	__u32 pid = ctx->pid;
	__builtin_memset(p->binary, 0, sizeof(p->binary));
	long n = bpf_probe_read_kernel_str(p->binary, sizeof(p->binary), (char *)ctx + (ctx->filename_loc & 0xffff));
	p->binary_len = n > 0 ? n - 1 : 0;
	p->pid = pid;
	p->ppid = BPF_CORE_READ(t, real_parent, tgid);
	p->uid = (__u32)bpf_get_current_uid_gid();
	p->flags = 0;
	p->pad = 0;
	p->exec_ktime = bpf_ktime_get_ns();
	bpf_map_update_elem(&wrt_procs, &pid, p, BPF_ANY);

	struct wrt_event_exec *e = bpf_ringbuf_reserve(&wrt_events, sizeof(*e), 0);
	struct wrt_stats *st = stats();
	if (!e) {
		if (st)
			st->events_lost++;
		return 0;
	}
	if (st)
		st->events++;
	__builtin_memset(&e->hdr, 0, sizeof(e->hdr) - sizeof(e->hdr.binary));
	fill_hdr(&e->hdr, WRT_EV_EXEC, p);
	/* argv as the new image sees it (the process may be killed before anyone reads /proc). */
	struct mm_struct *mm = BPF_CORE_READ(t, mm);
	unsigned long start = BPF_CORE_READ(mm, arg_start), end = BPF_CORE_READ(mm, arg_end);
	__u32 len = end > start ? end - start : 0;
	if (len > WRT_STR_MAX - 1)
		len = WRT_STR_MAX - 1;
	e->args_len = 0;
	e->pad = 0;
	/* & 0xff: a bound the verifier can see (255 bytes at most). */
	if (bpf_probe_read_user(e->args, len & 0xff, (void *)start) == 0)
		e->args_len = len & 0xff;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("tracepoint/sched/sched_process_fork")
int wrt_fork(struct wrt_fork_ctx *ctx)
{
	__u32 parent = bpf_get_current_pid_tgid() >> 32;
	__u32 child = ctx->child_pid;
	struct wrt_proc *pp = bpf_map_lookup_elem(&wrt_procs, &parent);
	struct wrt_scratch *s = scratch();
	if (!pp || !s)
		return 0;
	bpf_probe_read_kernel(&s->proc, sizeof(s->proc), pp);
	s->proc.pid = child;
	s->proc.ppid = parent;
	bpf_map_update_elem(&wrt_procs, &child, &s->proc, BPF_ANY);
	return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int wrt_exit(struct wrt_exit_ctx *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id;
	struct wrt_proc *p = bpf_map_lookup_elem(&wrt_procs, &tid);
	if (!p)
		return 0;
	/* One exit event per process: when the last thread leaves and only for a process we saw exec. */
	if (ctx->group_dead && tid == (__u32)(id >> 32)) {
		struct wrt_event_exit *e = bpf_ringbuf_reserve(&wrt_events, sizeof(*e), 0);
		struct wrt_stats *st = stats();
		if (st) {
			if (e)
				st->events++;
			else
				st->events_lost++;
		}
		if (e) {
			__builtin_memset(&e->hdr, 0, sizeof(e->hdr) - sizeof(e->hdr.binary));
			fill_hdr(&e->hdr, WRT_EV_EXIT, p);
			/* do_exit() stores the wait status before this tracepoint: code << 8, or the killing signal. */
			e->exit_code = BPF_CORE_READ((struct task_struct *)bpf_get_current_task(), exit_code);
			e->pad = 0;
			bpf_ringbuf_submit(e, 0);
		}
	}
	bpf_map_delete_elem(&wrt_procs, &tid);
	return 0;
}

/* ---- syscall entry ---- */

static __always_inline int handle(struct wrt_sys_enter_ctx *ctx, __u32 key, __u32 evflags)
{
	struct wrt_scratch *s = wrt_engine_begin(ctx->nr);
	if (!s)
		return 0;
	/* The argument registers are copied by the first hook that gets past its filters (a call the
	 * binary filter rejects never needs them). */
	s->args_at = (__u64)(long)ctx + 16;
	return wrt_engine_dispatch(s, key, evflags);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int wrt_sys_enter(struct wrt_sys_enter_ctx *ctx)
{
	return handle(ctx, (__u32)ctx->nr, 0);
}

SEC("tracepoint/raw_syscalls/sys_enter")
int wrt_raw_sys_enter(struct wrt_sys_enter_ctx *ctx)
{
	return handle(ctx, WRT_NR_ANY, WRT_EVF_RAW_TP);
}
