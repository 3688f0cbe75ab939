/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Map definitions of the network datapath, shared by endpoint.bpf.c and prefilter.bpf.c.
 * Layouts come from weir_net.h only (bpf/abi/net.ts states them for TypeScript). The loader (bpf/net/loader.ts) creates and pins these
 * maps itself and hands them to libbpf with bpf_map__reuse_fd, so both objects share them.
 * Every swappable map is an inner map behind an outer map-of-maps slot.
 */
#ifndef WEIR_NET_MAPS_H
#define WEIR_NET_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "weir_net.h"

/* Per-endpoint policy: outer hash endpoint_id -> LPM trie. */
struct weir_policy_inner {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, WEIR_POLICY_MAX_ENTRIES_DEFAULT);
	__type(key, struct weir_policy_key);
	__type(value, struct weir_policy_value);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, WEIR_ENDPOINTS_MAX);
	__type(key, __u32);
	__array(values, struct weir_policy_inner);
} weir_policy SEC(".maps");

/* ipcache: a one-slot array of maps, so a whole new ipcache replaces the old in one update. */
struct weir_ipcache_inner {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, WEIR_IPCACHE_MAX_ENTRIES);
	__type(key, struct weir_ipcache_key);
	__type(value, struct weir_ipcache_value);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct weir_ipcache_inner);
} weir_ipcache SEC(".maps");

/* Host-side veth ifindex -> endpoint. Written per endpoint by the agent, not swapped. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, WEIR_ENDPOINTS_MAX);
	__type(key, __u32);
	__type(value, struct weir_endpoint_value);
} weir_endpoints SEC(".maps");

/* XDP prefilter CIDR deny list, one-slot array of maps as the ipcache. */
struct weir_prefilter_inner {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, WEIR_PREFILTER_MAX_ENTRIES);
	__type(key, struct weir_ipcache_key);
	__type(value, struct weir_prefilter_value);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct weir_prefilter_inner);
} weir_prefilter SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} weir_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, WEIR_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} weir_net_stats SEC(".maps");

/*
 * Verdict cache: the winner of the two policy lookups, keyed by the kernel id of the policy inner map
 * in service plus the lookup key. Inner maps are immutable once in service (the loader always builds a
 * fresh map and swaps the slot), and map ids are not reused, so an entry can never be stale: a swap
 * changes the id and old entries simply age out of the LRU. Per CPU, so no cross-CPU contention.
 */
struct weir_verdict_key {
	__u32 map_id;
	__u32 identity;
	__u8 direction;
	__u8 protocol;
	__u16 dport_be;
};

struct weir_verdict {
	__u8 found; /* 0: no entry matched (default deny applies where enforced) */
	/* 1 once this CPU's slot was written: inserting a key on one CPU zero-fills the other CPUs'
	 * slots, which must read as a miss, not as "no entry matched". */
	__u8 valid;
	__u8 pad[2];
	struct weir_policy_value value;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct weir_verdict_key);
	__type(value, struct weir_verdict);
} weir_verdicts SEC(".maps");

/*
 * Connection tracking, per endpoint: a flow the policy allowed at an endpoint (either direction) lets
 * the packets of the reverse tuple through at that endpoint without a policy lookup, as Cilium's CT
 * lets replies through. Forward packets are still judged by policy on every packet, so a swap that
 * revokes a flow stops it. Shared across CPUs (a reply may arrive on another CPU); LRU ages flows out.
 */
struct weir_ct_key {
	__u32 endpoint_id;
	__u8 family;
	__u8 protocol;
	__u16 pad;
	__u16 sport;
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct weir_ct_key);
	__type(value, __u64);
} weir_ct SEC(".maps");

/* Datapath switches (array index 0), written by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} weir_net_config SEC(".maps");

/*
 * Every weir_net.h layout by value, so that the object's BTF carries the full structs (clang
 * emits only forward declarations for the pointer-typed key/value of map definitions).
 * bpf/abi/check.ts (run by bpf/build.mjs) compares bpf/abi/net.ts's netLayouts with them.
 */
const volatile struct {
	struct weir_policy_key policy_key;
	struct weir_policy_value policy_value;
	struct weir_ipcache_key ipcache_key;
	struct weir_ipcache_value ipcache_value;
	struct weir_endpoint_value endpoint_value;
	struct weir_net_event net_event;
	struct weir_prefilter_value prefilter_value;
} weir_layouts __attribute__((used)) = {};

static __always_inline void weir_count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&weir_net_stats, &idx);
	if (c)
		*c += 1;
}

#endif /* WEIR_NET_MAPS_H */
