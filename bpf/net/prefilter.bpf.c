// SPDX-License-Identifier: Apache-2.0
/*
 * XDP prefilter: drops packets whose source address is in the CIDR deny list before
 * they reach the stack (Cilium's prefilter), and reports each drop to the ring buffer.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "weir_net.h"
#include "maps.h"

SEC("xdp")
int weir_prefilter_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	struct weir_ipcache_key k = {};
	__u8 daddr[16] = {};
	__u8 proto;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end)
			return XDP_PASS;
		k.prefixlen = WEIR_IPCACHE_PREFIX_V4;
		k.family = 4;
		__builtin_memcpy(k.addr, &ip->saddr, 4);
		__builtin_memcpy(daddr, &ip->daddr, 4);
		proto = ip->protocol;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end)
			return XDP_PASS;
		k.prefixlen = WEIR_IPCACHE_PREFIX_V6;
		k.family = 6;
		__builtin_memcpy(k.addr, &ip6->saddr, 16);
		__builtin_memcpy(daddr, &ip6->daddr, 16);
		proto = ip6->nexthdr;
	} else {
		return XDP_PASS;
	}
	__u32 zero = 0;
	void *deny = bpf_map_lookup_elem(&weir_prefilter, &zero);
	if (!deny)
		return XDP_PASS;
	struct weir_prefilter_value *v = bpf_map_lookup_elem(deny, &k);
	if (!v)
		return XDP_PASS;
	weir_count(WEIR_STAT_PREFILTERED);
	struct weir_net_event *e = bpf_ringbuf_reserve(&weir_events, sizeof(*e), 0);
	if (e) {
		__builtin_memset(e, 0, sizeof(*e));
		e->ts_ns = bpf_ktime_get_ns();
		e->cookie = v->cookie;
		e->src_identity = WEIR_ID_WORLD;
		e->verdict = WEIR_VERDICT_DENY;
		e->direction = WEIR_DIR_INGRESS;
		e->protocol = proto;
		e->family = k.family;
		e->reason = WEIR_REASON_PREFILTER;
		__builtin_memcpy(e->saddr, k.addr, 16);
		__builtin_memcpy(e->daddr, daddr, 16);
		bpf_ringbuf_submit(e, 0);
	} else {
		weir_count(WEIR_STAT_EVENTS_LOST);
	}
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
