// SPDX-License-Identifier: Apache-2.0
/*
 * Test fixture for libbpf-ts: a tc program that answers from a map-in-map slot (so a
 * test run shows which inner map is live) and a tracepoint program that reports to a
 * ring buffer. Not part of the datapath.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

struct fixture_inner {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} fixture_inner_tpl SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct fixture_inner);
} fixture_outer SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} fixture_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096 * 4);
} fixture_events SEC(".maps");

struct fixture_event {
	__u32 tgid;
	__u32 magic;
};

/* Returns inner[skb->len] from the map in slot 0: 1000 when the slot is empty, 1001 when the key is missing. */
SEC("tc")
int fixture_tc(struct __sk_buff *skb)
{
	__u32 zero = 0, len = skb->len;
	void *inner = bpf_map_lookup_elem(&fixture_outer, &zero);
	if (!inner)
		return 1000;
	__u32 *v = bpf_map_lookup_elem(inner, &len);
	return v ? *v : 1001;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int fixture_tp(void *ctx)
{
	__u32 zero = 0;
	__u32 *target = bpf_map_lookup_elem(&fixture_config, &zero);
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (!target || *target != tgid)
		return 0;
	struct fixture_event *e = bpf_ringbuf_reserve(&fixture_events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->tgid = tgid;
	e->magic = 0x77646570; /* "wdep" */
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* Rejected by the verifier on purpose (a map value used without its NULL check): tests the log tail. */
SEC("tc")
int fixture_rejected(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u32 *v = bpf_map_lookup_elem(&fixture_inner_tpl, &zero);
	return *v;
}

/* Anchor the event layout in BTF (locals alone are not emitted). */
struct fixture_event *fixture_event_btf_anchor __attribute__((unused));

char LICENSE[] SEC("license") = "GPL";
