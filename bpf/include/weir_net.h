/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Network datapath map layouts: the single source of truth.
 *
 * The compiler (compiler/lower) encodes map images in exactly these layouts and
 * a test checks its encoders against the BTF of the compiled objects. Change a
 * layout here, bump WEIR_NET_ABI_VERSION, and the encoders must follow.
 *
 * All multi-byte fields are host byte order (little-endian on x86_64) unless
 * the name ends in _be, which marks network byte order as on the wire.
 */
#ifndef WEIR_NET_H
#define WEIR_NET_H

#include <linux/types.h>

#define WEIR_NET_ABI_VERSION 1

/* Reserved identities, numbered as Cilium numbers them. */
#define WEIR_ID_UNKNOWN        0 /* in a policy key: any peer identity */
#define WEIR_ID_HOST           1
#define WEIR_ID_WORLD          2
#define WEIR_ID_UNMANAGED      3
#define WEIR_ID_HEALTH         4
#define WEIR_ID_INIT           5
#define WEIR_ID_REMOTE_NODE    6
#define WEIR_ID_KUBE_APISERVER 7
#define WEIR_ID_INGRESS        8
#define WEIR_ID_WORLD_IPV4     9
#define WEIR_ID_WORLD_IPV6     10
#define WEIR_ID_GLOBAL_MIN     256
/* CIDR identities live in the local scope, as in Cilium (bit 24). */
#define WEIR_ID_LOCAL_SCOPE    (1u << 24)

/* Direction of traffic relative to the endpoint. */
#define WEIR_DIR_INGRESS 0
#define WEIR_DIR_EGRESS  1

/* Verdicts in a policy value. */
#define WEIR_VERDICT_ALLOW    0
#define WEIR_VERDICT_DENY     1
#define WEIR_VERDICT_REDIRECT 2 /* allowed at L3/L4, L7 rules apply (proxy_port) */

/* Flags in a policy value. */
#define WEIR_FLAG_AUDIT 0x1 /* policy in audit mode: a would-be drop is allowed and reported */

/* Authentication requirement (Cilium authentication.mode). */
#define WEIR_AUTH_NONE     0
#define WEIR_AUTH_DISABLED 1
#define WEIR_AUTH_REQUIRED 2 /* "required" (mutual) */

/*
 * Policy LPM trie key, one trie per endpoint.
 * prefixlen counts bits after the prefixlen field:
 *   32 (identity) + 8 (direction) are always matched: prefixlen >= 40;
 *   40        = any protocol, any port;
 *   48        = this protocol, any port;
 *   48 + n    = this protocol, ports whose top n bits match dport_be (range split into prefix blocks).
 * A rule for any peer uses identity WEIR_ID_UNKNOWN; the datapath looks up both
 * the peer's identity and 0 and picks the winner (deny first, then higher
 * precedence, then the longer prefix).
 */
struct weir_policy_key {
	__u32 prefixlen;
	__u32 identity;
	__u8 direction;
	__u8 protocol; /* IPPROTO_*; 0 = any */
	__u16 dport_be; /* network byte order so that prefixes cover the high bits first */
};

struct weir_policy_value {
	__u8 verdict;   /* WEIR_VERDICT_* */
	__u8 auth;      /* WEIR_AUTH_* */
	__u8 flags;     /* WEIR_FLAG_* */
	__u8 pad0;
	__u16 proxy_port; /* L7 proxy port for REDIRECT, host order */
	__u16 pad1;
	__u32 precedence; /* higher wins among non-deny entries */
	__u32 cookie;     /* rule cookie: index into the bundle's cookie table */
};

/*
 * ipcache LPM trie: address to security identity.
 * prefixlen counts bits after the prefixlen field: 32 (family + pad) + address bits.
 */
struct weir_ipcache_key {
	__u32 prefixlen;
	__u8 family; /* 4 or 6 */
	__u8 pad[3];
	__u8 addr[16]; /* IPv4 in the first 4 bytes */
};

struct weir_ipcache_value {
	__u32 identity;
	__u32 flags; /* bit 0: learned from DNS (FQDN), expires */
};

/* Endpoint table: host-side ifindex of the endpoint's veth to its policy slot. */
struct weir_endpoint_value {
	__u32 endpoint_id; /* key into the policy outer map */
	__u32 identity;    /* the endpoint's own security identity */
	__u32 flags;       /* bit 0: ingress enforced, bit 1: egress enforced */
	__u32 pad;
};
#define WEIR_EP_INGRESS_ENFORCED 0x1
#define WEIR_EP_EGRESS_ENFORCED  0x2

/* Event emitted to the ring buffer for drops and audits. */
struct weir_net_event {
	__u64 ts_ns;
	__u32 cookie;
	__u32 endpoint_id;
	__u32 src_identity;
	__u32 dst_identity;
	__u8 verdict;   /* WEIR_VERDICT_* that was enforced (DENY for drops) */
	__u8 direction;
	__u8 protocol;
	__u8 family;
	__u8 reason;    /* WEIR_REASON_* */
	__u8 audit;     /* 1 when a drop was turned into allow by audit mode */
	__u16 pad;
	__u16 sport;    /* host order */
	__u16 dport;    /* host order */
	__u8 saddr[16];
	__u8 daddr[16];
};
#define WEIR_REASON_POLICY_DENY    1 /* an explicit deny rule */
#define WEIR_REASON_DEFAULT_DENY   2 /* direction enforced and no rule allows */
#define WEIR_REASON_PREFILTER      3 /* XDP CIDR deny list */

/* Capacities; per-endpoint policy capacity is configurable at build time. */
#define WEIR_POLICY_MAX_ENTRIES_DEFAULT 16384
#define WEIR_IPCACHE_MAX_ENTRIES        512000
#define WEIR_ENDPOINTS_MAX              4096

/* ---- Additions (ABI version 1, additive only) ---- */

/* Policy key prefix length that matches every field (identity, direction, protocol, port). */
#define WEIR_POLICY_PREFIX_FULL 64
#define WEIR_POLICY_PREFIX_MIN  40
/* ipcache key prefix lengths for host addresses: 32 (family + pad) + address bits. */
#define WEIR_IPCACHE_PREFIX_V4  64
#define WEIR_IPCACHE_PREFIX_V6  160

/*
 * ICMP and ICMPv6: the policy key's dport_be carries the ICMP type as a port
 * number (htons(type)), as Cilium's icmps rules become L4 "ports" of protocol ICMP.
 */

/* Endpoint flag: policy audit mode for the whole endpoint (Cilium PolicyAuditMode):
 * default-deny drops are allowed and reported. */
#define WEIR_EP_AUDIT 0x4

/* skb->mark for an L7 redirect verdict, as Cilium marks traffic to its proxy:
 * magic 0x0200 in the low 16 bits, the proxy port in the high 16 bits. */
#define WEIR_MARK_MAGIC_TO_PROXY 0x0200
#define WEIR_MARK_MAGIC_MASK     0x0F00

/* XDP prefilter: CIDR deny list, an LPM trie keyed by struct weir_ipcache_key
 * (the packet's source address). */
struct weir_prefilter_value {
	__u32 cookie; /* rule cookie reported with the drop */
	__u32 flags;  /* reserved */
};
#define WEIR_PREFILTER_MAX_ENTRIES 65536

/* Per-CPU counters of the network datapath (array indices of weir_net_stats). */
#define WEIR_STAT_ALLOWED     0
#define WEIR_STAT_DROPPED     1
#define WEIR_STAT_AUDITED     2
#define WEIR_STAT_REDIRECTED  3
#define WEIR_STAT_EVENTS_LOST 4
#define WEIR_STAT_PREFILTERED 5
#define WEIR_STAT_MAX         8

/* weir_net_config[0] flags. */
#define WEIR_CFG_NO_VERDICT_CACHE 0x1 /* always run both policy lookups (debugging, benchmarks) */
#define WEIR_CFG_NO_CONNTRACK     0x2 /* judge every packet by policy alone, replies included (verification) */

#endif /* WEIR_NET_H */
