// SPDX-License-Identifier: Apache-2.0
/*
 * Per-endpoint network policy, attached with tc on the host side of an endpoint's veth
 * (as Cilium's per-endpoint program). Direction is the endpoint's point of view:
 *   weir_from_endpoint: tc ingress of the host-side veth = traffic the pod sends  (EGRESS)
 *   weir_to_endpoint:   tc egress of the host-side veth  = traffic the pod receives (INGRESS)
 *
 * Per packet: parse IPv4/IPv6 and TCP/UDP/SCTP/ICMP/ICMPv6, find the peer identity in the
 * ipcache LPM, look the endpoint's policy LPM up with the peer identity and with identity 0,
 * pick the winner (deny first, then higher precedence, then the longer prefix), enforce
 * allow / deny / audit / L7 redirect, and report drops and audits to the ring buffer.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "weir_net.h"
#include "maps.h"

#ifndef IPPROTO_ICMPV6
#define IPPROTO_ICMPV6 58
#endif
#define NEXTHDR_HOP      0
#define NEXTHDR_ROUTING  43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_DEST     60
#define NEXTHDR_AUTH     51

/* Only the field we read, relocated against the running kernel's BTF (CO-RE). */
struct bpf_map {
	__u32 id;
} __attribute__((preserve_access_index));

struct flow {
	__u8 family;
	__u8 protocol;
	__u16 sport; /* host order */
	__u16 dport; /* host order; ICMP type for ICMP/ICMPv6 */
	__u8 saddr[16];
	__u8 daddr[16];
};

static __always_inline int is_echo(__u8 proto, __u8 type)
{
	return (proto == IPPROTO_ICMP && type == 8) || (proto == IPPROTO_ICMPV6 && type == 128);
}

static __always_inline int is_echo_reply(__u8 proto, __u8 type)
{
	return (proto == IPPROTO_ICMP && type == 0) || (proto == IPPROTO_ICMPV6 && type == 129);
}

/*
 * ICMPv6 that IPv6 cannot work without passes before policy, as in Cilium: multicast listener
 * discovery (130-132, 143) and router/neighbour discovery and redirect (133-137). The same list is
 * ICMPV6_POLICY_EXEMPT_TYPES in bpf/abi/net.ts (a test compares the two).
 */
static __always_inline int icmp6_policy_exempt(__u8 type)
{
	return (type >= 130 && type <= 137) || type == 143;
}

/* Reads the L4 ports (or the ICMP type) at off; fragments after the first carry none. */
static __always_inline void parse_l4(struct __sk_buff *skb, __u32 off, struct flow *f)
{
	switch (f->protocol) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_SCTP: {
		__be16 ports[2];
		if (bpf_skb_load_bytes(skb, off, ports, sizeof(ports)) == 0) {
			f->sport = bpf_ntohs(ports[0]);
			f->dport = bpf_ntohs(ports[1]);
		}
		break;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6: {
		__u8 hdr[6]; /* type, code, checksum, echo identifier */
		if (bpf_skb_load_bytes(skb, off, hdr, sizeof(hdr)) == 0) {
			f->dport = hdr[0];
			/* Echo request and reply carry an identifier: it plays the source port, so that
			 * connection tracking can pair a reply with its request. */
			if (is_echo(f->protocol, hdr[0]) || is_echo_reply(f->protocol, hdr[0]))
				f->sport = ((__u16)hdr[4] << 8) | hdr[5];
		}
		break;
	}
	}
}

/* Returns 0 for an IP packet parsed into f, -1 for anything else (left alone). */
static __always_inline int parse(struct __sk_buff *skb, struct flow *f)
{
	__u32 off = ETH_HLEN;
	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;
		if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)) < 0)
			return -1;
		f->family = 4;
		f->protocol = ip.protocol;
		__builtin_memcpy(f->saddr, &ip.saddr, 4);
		__builtin_memcpy(f->daddr, &ip.daddr, 4);
		if (ip.frag_off & bpf_htons(0x1fff))
			return 0; /* not the first fragment: no ports */
		parse_l4(skb, off + ip.ihl * 4, f);
		return 0;
	}
	if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;
		if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)) < 0)
			return -1;
		f->family = 6;
		__builtin_memcpy(f->saddr, &ip6.saddr, 16);
		__builtin_memcpy(f->daddr, &ip6.daddr, 16);
		__u8 nh = ip6.nexthdr;
		off += sizeof(ip6);
#pragma unroll
		for (int i = 0; i < 4; i++) {
			if (nh != NEXTHDR_HOP && nh != NEXTHDR_ROUTING && nh != NEXTHDR_DEST && nh != NEXTHDR_FRAGMENT && nh != NEXTHDR_AUTH)
				break;
			__u8 ext[2];
			if (bpf_skb_load_bytes(skb, off, ext, 2) < 0)
				return -1;
			if (nh == NEXTHDR_FRAGMENT) {
				__be16 frag;
				if (bpf_skb_load_bytes(skb, off + 2, &frag, 2) < 0)
					return -1;
				if (frag & bpf_htons(0xfff8)) {
					f->protocol = ext[0];
					return 0; /* not the first fragment */
				}
				off += 8;
			} else if (nh == NEXTHDR_AUTH) {
				off += (ext[1] + 2) * 4;
			} else {
				off += (ext[1] + 1) * 8;
			}
			nh = ext[0];
		}
		f->protocol = nh;
		parse_l4(skb, off, f);
		return 0;
	}
	return -1;
}

static __always_inline __u32 peer_identity(const struct flow *f, const __u8 *addr)
{
	__u32 zero = 0;
	void *ipcache = bpf_map_lookup_elem(&weir_ipcache, &zero);
	if (!ipcache)
		return WEIR_ID_WORLD;
	struct weir_ipcache_key k = {
		.prefixlen = f->family == 4 ? WEIR_IPCACHE_PREFIX_V4 : WEIR_IPCACHE_PREFIX_V6,
		.family = f->family,
	};
	__builtin_memcpy(k.addr, addr, 16);
	struct weir_ipcache_value *v = bpf_map_lookup_elem(ipcache, &k);
	return v ? v->identity : WEIR_ID_WORLD;
}

/* Prefix length of the entry `hit` that an LPM lookup of k returned: the smallest prefixlen
 * whose lookup still returns that very entry (LPM lookups return the node's value pointer). */
static __always_inline __u32 matched_prefixlen(void *policy, struct weir_policy_key *k, const void *hit)
{
	__u32 lo = WEIR_POLICY_PREFIX_MIN, hi = WEIR_POLICY_PREFIX_FULL;
#pragma unroll
	for (int i = 0; i < 5; i++) {
		if (lo < hi) {
			__u32 mid = (lo + hi) / 2;
			k->prefixlen = mid;
			if ((unsigned long)bpf_map_lookup_elem(policy, k) == (unsigned long)hit)
				hi = mid;
			else
				lo = mid + 1;
		}
	}
	k->prefixlen = WEIR_POLICY_PREFIX_FULL;
	return hi;
}

/* Whether a beats b: deny first, then higher precedence, then the longer prefix; a on a full tie. */
static __always_inline int beats(const struct weir_policy_value *a, __u32 alen, const struct weir_policy_value *b, __u32 blen)
{
	int adeny = a->verdict == WEIR_VERDICT_DENY, bdeny = b->verdict == WEIR_VERDICT_DENY;
	if (adeny != bdeny)
		return adeny;
	if (a->precedence != b->precedence)
		return a->precedence > b->precedence;
	return alen >= blen;
}

/*
 * The policy decision for one (endpoint, peer, direction, protocol, port): the verdict cache, or the two
 * LPM lookups and the winner rule. A global function, so the verifier checks it once for all inputs
 * instead of once per path of its callers. `packed` is direction << 24 | protocol << 16 | dport_be.
 * Returns whether an entry matched (out->found).
 */
__attribute__((noinline)) int weir_policy_decide(__u32 endpoint_id, __u32 peer, __u32 packed, struct weir_verdict *out)
{
	if (!out)
		return 0;
	out->found = 0;
	void *policy = bpf_map_lookup_elem(&weir_policy, &endpoint_id);
	if (!policy)
		return 0;
	__u32 zero = 0;
	__u32 *cfg = bpf_map_lookup_elem(&weir_net_config, &zero);
	int use_cache = !(cfg && (*cfg & WEIR_CFG_NO_VERDICT_CACHE));
	struct weir_verdict_key ck = {
		.map_id = ((struct bpf_map *)policy)->id,
		.identity = peer,
		.direction = packed >> 24,
		.protocol = (packed >> 16) & 0xff,
		.dport_be = packed & 0xffff,
	};
	if (use_cache) {
		struct weir_verdict *hit = bpf_map_lookup_elem(&weir_verdicts, &ck);
		if (hit && hit->valid) {
			*out = *hit;
			return out->found;
		}
	}
	struct weir_policy_key k = {
		.prefixlen = WEIR_POLICY_PREFIX_FULL,
		.identity = peer,
		.direction = ck.direction,
		.protocol = ck.protocol,
		.dport_be = ck.dport_be,
	};
	const struct weir_policy_value *a = bpf_map_lookup_elem(policy, &k);
	const struct weir_policy_value *b = 0;
	struct weir_policy_key k0 = k;
	k0.identity = WEIR_ID_UNKNOWN;
	if (peer != WEIR_ID_UNKNOWN)
		b = bpf_map_lookup_elem(policy, &k0);
	const struct weir_policy_value *win;
	if (a && b) {
		int ad = a->verdict == WEIR_VERDICT_DENY, bd = b->verdict == WEIR_VERDICT_DENY;
		if (ad != bd || a->precedence != b->precedence) {
			win = beats(a, 0, b, 0) ? a : b;
		} else {
			__u32 alen = matched_prefixlen(policy, &k, a);
			__u32 blen = matched_prefixlen(policy, &k0, b);
			win = beats(a, alen, b, blen) ? a : b;
		}
	} else {
		win = a ? a : b;
	}
	if (win) {
		out->found = 1;
		out->value = *win;
	}
	if (use_cache) {
		out->valid = 1;
		bpf_map_update_elem(&weir_verdicts, &ck, out, BPF_ANY);
	}
	return out->found;
}

static __always_inline void report(const struct flow *f, __u32 endpoint_id, __u32 src_id, __u32 dst_id, __u8 direction,
				   __u32 cookie, __u8 reason, __u8 audit)
{
	struct weir_net_event *e = bpf_ringbuf_reserve(&weir_events, sizeof(*e), 0);
	if (!e) {
		weir_count(WEIR_STAT_EVENTS_LOST);
		return;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->cookie = cookie;
	e->endpoint_id = endpoint_id;
	e->src_identity = src_id;
	e->dst_identity = dst_id;
	e->verdict = WEIR_VERDICT_DENY;
	e->direction = direction;
	e->protocol = f->protocol;
	e->family = f->family;
	e->reason = reason;
	e->audit = audit;
	e->pad = 0;
	e->sport = f->sport;
	e->dport = f->dport;
	__builtin_memcpy(e->saddr, f->saddr, 16);
	__builtin_memcpy(e->daddr, f->daddr, 16);
	bpf_ringbuf_submit(e, 0);
}

static __always_inline void ct_key(struct weir_ct_key *k, __u32 endpoint_id, const struct flow *f, int reverse)
{
	k->endpoint_id = endpoint_id;
	k->family = f->family;
	k->protocol = f->protocol;
	k->pad = 0;
	k->sport = reverse ? f->dport : f->sport;
	k->dport = reverse ? f->sport : f->dport;
	if (reverse && is_echo_reply(f->protocol, f->dport)) {
		/* The request this answers: same identifier, the echo request type. */
		k->sport = f->sport;
		k->dport = f->protocol == IPPROTO_ICMP ? 8 : 128;
	}
	__builtin_memcpy(k->saddr, reverse ? f->daddr : f->saddr, 16);
	__builtin_memcpy(k->daddr, reverse ? f->saddr : f->daddr, 16);
}

/* Records an allowed flow at this endpoint (once: an existing entry is left as is). */
static __always_inline void ct_track(__u32 endpoint_id, const struct flow *f, int enabled)
{
	if (!enabled)
		return;
	struct weir_ct_key k;
	ct_key(&k, endpoint_id, f, 0);
	if (bpf_map_lookup_elem(&weir_ct, &k))
		return;
	__u64 now = bpf_ktime_get_ns();
	bpf_map_update_elem(&weir_ct, &k, &now, BPF_NOEXIST);
}

static __always_inline int enforce(struct __sk_buff *skb, __u8 direction)
{
	struct flow f = {};
	if (parse(skb, &f) < 0)
		return TC_ACT_OK;

	__u32 ifindex = skb->ifindex;
	struct weir_endpoint_value *ep = bpf_map_lookup_elem(&weir_endpoints, &ifindex);
	if (!ep)
		return TC_ACT_OK; /* not an endpoint we manage */
	__u32 endpoint_id = ep->endpoint_id, ep_identity = ep->identity, ep_flags = ep->flags;

	if (f.protocol == IPPROTO_ICMPV6 && icmp6_policy_exempt(f.dport)) {
		weir_count(WEIR_STAT_ALLOWED);
		return TC_ACT_OK;
	}

	__u32 zero = 0;
	__u32 *cfg = bpf_map_lookup_elem(&weir_net_config, &zero);
	int ct = !(cfg && (*cfg & WEIR_CFG_NO_CONNTRACK));
	if (ct) {
		struct weir_ct_key rk;
		ct_key(&rk, endpoint_id, &f, 1);
		if (bpf_map_lookup_elem(&weir_ct, &rk)) {
			weir_count(WEIR_STAT_ALLOWED);
			return TC_ACT_OK; /* reply of a flow allowed here */
		}
	}

	/* The peer is the destination of what the pod sends and the source of what it receives. */
	__u32 peer = peer_identity(&f, direction == WEIR_DIR_EGRESS ? f.daddr : f.saddr);
	__u32 src_id = direction == WEIR_DIR_EGRESS ? ep_identity : peer;
	__u32 dst_id = direction == WEIR_DIR_EGRESS ? peer : ep_identity;

	struct weir_verdict verdict = {};
	__u32 packed = ((__u32)direction << 24) | ((__u32)f.protocol << 16) | bpf_htons(f.dport);
	weir_policy_decide(endpoint_id, peer, packed, &verdict);
	const struct weir_policy_value *win = verdict.found ? &verdict.value : 0;
	__u32 enforced = direction == WEIR_DIR_EGRESS ? WEIR_EP_EGRESS_ENFORCED : WEIR_EP_INGRESS_ENFORCED;
	if (!win) {
		if (!(ep_flags & enforced)) {
			ct_track(endpoint_id, &f, ct);
			weir_count(WEIR_STAT_ALLOWED);
			return TC_ACT_OK;
		}
		if (ep_flags & WEIR_EP_AUDIT) {
			report(&f, endpoint_id, src_id, dst_id, direction, 0, WEIR_REASON_DEFAULT_DENY, 1);
			ct_track(endpoint_id, &f, ct);
			weir_count(WEIR_STAT_AUDITED);
			return TC_ACT_OK;
		}
		report(&f, endpoint_id, src_id, dst_id, direction, 0, WEIR_REASON_DEFAULT_DENY, 0);
		weir_count(WEIR_STAT_DROPPED);
		return TC_ACT_SHOT;
	}

	switch (win->verdict) {
	case WEIR_VERDICT_DENY:
		if ((win->flags & WEIR_FLAG_AUDIT) || (ep_flags & WEIR_EP_AUDIT)) {
			report(&f, endpoint_id, src_id, dst_id, direction, win->cookie, WEIR_REASON_POLICY_DENY, 1);
			ct_track(endpoint_id, &f, ct);
			weir_count(WEIR_STAT_AUDITED);
			return TC_ACT_OK;
		}
		report(&f, endpoint_id, src_id, dst_id, direction, win->cookie, WEIR_REASON_POLICY_DENY, 0);
		weir_count(WEIR_STAT_DROPPED);
		return TC_ACT_SHOT;
	case WEIR_VERDICT_REDIRECT:
		skb->mark = WEIR_MARK_MAGIC_TO_PROXY | ((__u32)win->proxy_port << 16);
		ct_track(endpoint_id, &f, ct);
		weir_count(WEIR_STAT_REDIRECTED);
		return TC_ACT_OK;
	default:
		ct_track(endpoint_id, &f, ct);
		weir_count(WEIR_STAT_ALLOWED);
		return TC_ACT_OK;
	}
}

SEC("tc")
int weir_from_endpoint(struct __sk_buff *skb)
{
	return enforce(skb, WEIR_DIR_EGRESS);
}

SEC("tc")
int weir_to_endpoint(struct __sk_buff *skb)
{
	return enforce(skb, WEIR_DIR_INGRESS);
}

char LICENSE[] SEC("license") = "GPL";
