// BPF map and program type numbers (uapi linux/bpf.h) with the names bpftool prints.

export const mapTypes = {
  hash: 1,
  array: 2,
  prog_array: 3,
  perf_event_array: 4,
  percpu_hash: 5,
  percpu_array: 6,
  stack_trace: 7,
  cgroup_array: 8,
  lru_hash: 9,
  lru_percpu_hash: 10,
  lpm_trie: 11,
  array_of_maps: 12,
  hash_of_maps: 13,
  devmap: 14,
  sockmap: 15,
  cpumap: 16,
  xskmap: 17,
  sockhash: 18,
  queue: 22,
  stack: 23,
  sk_storage: 24,
  devmap_hash: 25,
  ringbuf: 27,
  inode_storage: 28,
  task_storage: 29,
  bloom_filter: 30,
  user_ringbuf: 31,
} as const;
export type MapTypeName = keyof typeof mapTypes;

export const progTypes = {
  socket_filter: 1,
  kprobe: 2,
  sched_cls: 3,
  sched_act: 4,
  tracepoint: 5,
  xdp: 6,
  perf_event: 7,
  cgroup_skb: 8,
  cgroup_sock: 9,
  sock_ops: 13,
  sk_skb: 14,
  cgroup_device: 15,
  sk_msg: 16,
  raw_tracepoint: 17,
  cgroup_sock_addr: 18,
  flow_dissector: 22,
  cgroup_sysctl: 23,
  raw_tracepoint_writable: 24,
  cgroup_sockopt: 25,
  tracing: 26,
  struct_ops: 27,
  ext: 28,
  lsm: 29,
  sk_lookup: 30,
  syscall: 31,
} as const;
export type ProgTypeName = keyof typeof progTypes;

export function mapTypeName(n: number): MapTypeName | `unknown(${number})` {
  for (const [k, v] of Object.entries(mapTypes)) if (v === n) return k as MapTypeName;
  return `unknown(${n})`;
}

export function progTypeName(n: number): ProgTypeName | `unknown(${number})` {
  for (const [k, v] of Object.entries(progTypes)) if (v === n) return k as ProgTypeName;
  return `unknown(${n})`;
}

/** bpf_map_update_elem flags. */
export const BPF_ANY = 0;
export const BPF_NOEXIST = 1;
export const BPF_EXIST = 2;
/** Map creation flags. */
export const BPF_F_NO_PREALLOC = 1;
export const BPF_F_RDONLY_PROG = 1 << 7;
