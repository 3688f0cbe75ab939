// The peers of a connectivity analysis: workloads from the inventory, disjoint external IPv4
// ranges cut at every CIDR boundary the policies mention, Cilium entities and FQDNs.
// Names follow np-guard netpol-analyzer: `ns/name[Kind]`, `a.b.c.d-e.f.g.h[External]`.
import { ipv4ToInt, parsePrefix } from '../model/cidr.js';

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
  /** Inclusive IPv4 range as 32-bit unsigned integers. */
  start: number;
  end: number;
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

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Inclusive [start, end] of an IPv4 CIDR or address; undefined for IPv6 (the external space is IPv4, as np-guard's) or malformed text. */
export function cidrRange(cidr: string): { start: number; end: number } | undefined {
  const p = parsePrefix(cidr);
  if (!p || p.family !== 4) return undefined;
  const start = ((p.addr[0]! * 256 + p.addr[1]!) * 256 + p.addr[2]!) * 256 + p.addr[3]!;
  return { start, end: start + 2 ** (32 - p.bits) - 1 };
}

/** The range an external peer's name (`a.b.c.d-e.f.g.h[External]`) stands for; undefined for any other name. */
export function externalRange(name: string): { start: number; end: number } | undefined {
  const m = /^([\d.]+)-([\d.]+)\[External\]$/.exec(name);
  const start = m ? ipv4ToInt(m[1]!) : undefined;
  const end = m ? ipv4ToInt(m[2]!) : undefined;
  return start === undefined || end === undefined ? undefined : { start, end };
}

/**
 * Cuts 0.0.0.0-255.255.255.255 into disjoint ranges at every boundary of `cidrs`, so that each
 * range is either wholly inside or wholly outside every CIDR: one probe per range is exact.
 */
export function externalRanges(cidrs: Iterable<string>, exclude: Iterable<string> = []): IpRangePeer[] {
  const cuts = new Set<number>([0, 2 ** 32]);
  for (const c of cidrs) {
    const r = cidrRange(c);
    if (!r) continue;
    cuts.add(r.start);
    cuts.add(r.end + 1);
  }
  const sorted = [...cuts].sort((a, b) => a - b);
  const excluded = [...exclude].map(cidrRange).filter((r): r is { start: number; end: number } => r !== undefined);
  const out: IpRangePeer[] = [];
  for (let i = 0; i + 1 < sorted.length; i++) {
    const start = sorted[i]!;
    const end = sorted[i + 1]! - 1;
    // Ranges inside the cluster's own pod addresses are not external peers.
    if (excluded.some((x) => start >= x.start && end <= x.end)) continue;
    out.push({ type: 'ip', start, end });
  }
  return out;
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
      return `${intToIp(p.start)}-${intToIp(p.end)}[External]`;
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

/** Sort key: workloads by name, then external ranges by address, entities, FQDNs. */
export function comparePeers(a: Peer, b: Peer): number {
  const rank = { workload: 0, ip: 1, entity: 2, fqdn: 3 } as const;
  if (a.type !== b.type) return rank[a.type] - rank[b.type];
  if (a.type === 'ip' && b.type === 'ip') return a.start - b.start;
  const x = peerName(a);
  const y = peerName(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
