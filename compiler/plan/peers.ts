// The peers of a connectivity analysis: workloads from the inventory, disjoint external address
// ranges cut at every CIDR boundary the policies mention (the IPv4 space always, the IPv6 space
// when a policy names an IPv6 CIDR), Cilium entities and FQDNs.
// Names follow np-guard netpol-analyzer: `ns/name[Kind]`, `a.b.c.d-e.f.g.h[External]`, `fd00::-fd00::ffff[External]`.
import { formatAddress, parseAddress, parsePrefix } from '../model/cidr.js';

export interface WorkloadPeer {
  type: 'workload';
  namespace: string;
  name: string;
  /** Owner kind as np-guard prints it: Deployment, StatefulSet, DaemonSet, Pod, ... */
  kind: string;
  /** A pod of the workload (`ns/pod`) used as its representative when probing the evaluator. */
  pod: string;
  /** A second pod of the workload (`ns/pod`), when it has replicas: the destination of replica-to-replica probes. */
  replica?: string;
  labels: Record<string, string>;
  node?: string;
  /** Container ports the inventory declares: evidence that a connection to them is in use. */
  ports?: { protocol: string; port: number; name?: string }[];
  /** Pod IPs, to place observed flows that carry only addresses. */
  ips?: string[];
  /** Every pod of the workload (`ns/pod`), to place observed flows by pod name. */
  members?: string[];
  /** Runs on its node's network: Cilium sees it as the host (or remote-node from other nodes), no policy selects it. */
  hostNetwork?: boolean;
  /** Set on a variant (same owner, other labels): the owner name np-guard prints for it; `name` is then its first pod's. */
  variantOf?: string;
}

export interface IpRangePeer {
  type: 'ip';
  family: 4 | 6;
  /** Inclusive range of addresses of the family, as unsigned integers. */
  start: bigint;
  end: bigint;
}

/** An inclusive range of addresses of one family. */
export interface AddressRange {
  family: 4 | 6;
  start: bigint;
  end: bigint;
}

export interface EntityPeer {
  type: 'entity';
  /** Cilium entity name (host, remote-node, kube-apiserver, ...); `world` is an IP range instead. */
  entity: string;
}

export interface FqdnPeer {
  type: 'fqdn';
  /** The name or pattern as the policy writes it (`api.example.com`, `*.example.com`). */
  fqdn: string;
  /** A concrete name the probe asks about (the pattern with `*` filled in). */
  probeName?: string;
  /** Address the probe uses for this name (what a DNS answer would have given). */
  ip: string;
}

export type Peer = WorkloadPeer | IpRangePeer | EntityPeer | FqdnPeer;

/** Number of addresses of a family: 2^32 or 2^128. */
export function addressSpace(family: 4 | 6): bigint {
  return family === 4 ? 1n << 32n : 1n << 128n;
}

/** Address bytes (network order) as an unsigned integer. */
export function bytesToBig(addr: Uint8Array): bigint {
  let n = 0n;
  for (const b of addr) n = (n << 8n) | BigInt(b);
  return n;
}

/** An unsigned integer as the address text of its family (IPv6 compressed). */
export function bigToIp(family: 4 | 6, n: bigint): string {
  const bytes = new Uint8Array(family === 4 ? 4 : 16);
  for (let i = bytes.length - 1; i >= 0; i--) {
    bytes[i] = Number(n & 255n);
    n >>= 8n;
  }
  return formatAddress(family, bytes);
}

/** An address (`10.0.0.1`, `fd00::1`) as the one-address range; undefined for malformed text. */
export function addressRange(ip: string): AddressRange | undefined {
  const a = parseAddress(ip);
  if (!a) return undefined;
  const n = bytesToBig(a.addr);
  return { family: a.family, start: n, end: n };
}

/** Inclusive range of a CIDR or address of either family; undefined for malformed text. */
export function cidrRange(cidr: string): AddressRange | undefined {
  const p = parsePrefix(cidr);
  if (!p) return undefined;
  const width = p.family === 4 ? 32 : 128;
  const start = bytesToBig(p.addr);
  return { family: p.family, start, end: start + (1n << BigInt(width - p.bits)) - 1n };
}

/** The range an external peer's name (`a.b.c.d-e.f.g.h[External]`, `x::-y::[External]`) stands for; undefined for any other name. */
export function externalRange(name: string): AddressRange | undefined {
  const m = /^([\d.]+|[\da-fA-F:.]*:[\da-fA-F:.]*)-([\d.]+|[\da-fA-F:.]*:[\da-fA-F:.]*)\[External\]$/.exec(name);
  const a = m ? addressRange(m[1]!) : undefined;
  const b = m ? addressRange(m[2]!) : undefined;
  return a && b && a.family === b.family ? { family: a.family, start: a.start, end: b.end } : undefined;
}

/** Whether range `inner` lies wholly inside `outer` (same family). */
export function rangeWithin(inner: AddressRange, outer: AddressRange): boolean {
  return inner.family === outer.family && inner.start >= outer.start && inner.end <= outer.end;
}

/**
 * Cuts the IPv4 space (and the IPv6 space when `cidrs` name an IPv6 CIDR) into disjoint ranges at
 * every boundary of `cidrs`, so that each range is either wholly inside or wholly outside every
 * CIDR: one probe per range is exact.
 */
export function externalRanges(cidrs: Iterable<string>, exclude: Iterable<string> = []): IpRangePeer[] {
  const cuts = { 4: new Set<bigint>([0n, addressSpace(4)]), 6: new Set<bigint>([0n, addressSpace(6)]) };
  let v6 = false;
  for (const c of cidrs) {
    const r = cidrRange(c);
    if (!r) continue;
    if (r.family === 6) v6 = true;
    cuts[r.family].add(r.start).add(r.end + 1n);
  }
  const excluded = [...exclude].map(cidrRange).filter((r): r is AddressRange => r !== undefined);
  const out: IpRangePeer[] = [];
  for (const family of v6 ? ([4, 6] as const) : ([4] as const)) {
    const sorted = [...cuts[family]].sort(compareBig);
    for (let i = 0; i + 1 < sorted.length; i++) {
      const r: IpRangePeer = { type: 'ip', family, start: sorted[i]!, end: sorted[i + 1]! - 1n };
      // Ranges inside the cluster's own pod addresses are not external peers.
      if (excluded.some((x) => rangeWithin(r, x))) continue;
      out.push(r);
    }
  }
  return out;
}

export function compareBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const names = new WeakMap<Peer, string>();

/** np-guard's name of a peer (memoized: the plan asks for it for every pair). */
export function peerName(p: Peer): string {
  let n = names.get(p);
  if (n === undefined) names.set(p, (n = formatPeer(p)));
  return n;
}

function formatPeer(p: Peer): string {
  switch (p.type) {
    case 'workload':
      return `${p.namespace}/${p.name}[${p.kind}]`;
    case 'ip':
      return `${bigToIp(p.family, p.start)}-${bigToIp(p.family, p.end)}[External]`;
    case 'entity':
      return `${p.entity}[Entity]`;
    case 'fqdn':
      return `${p.fqdn}[FQDN]`;
  }
}

/** Namespace a peer is drawn in (graph clusters); external peers have none. */
export function peerNamespace(p: Peer): string | undefined {
  return p.type === 'workload' ? p.namespace : undefined;
}

/** Sort key: workloads by name, then external ranges by family and address, entities, FQDNs. */
export function comparePeers(a: Peer, b: Peer): number {
  const rank = { workload: 0, ip: 1, entity: 2, fqdn: 3 } as const;
  if (a.type !== b.type) return rank[a.type] - rank[b.type];
  if (a.type === 'ip' && b.type === 'ip') return a.family - b.family || compareBig(a.start, b.start);
  const x = peerName(a);
  const y = peerName(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
