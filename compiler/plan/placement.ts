// Places the endpoints of observed Hubble flows on the plan's peers, the way Cilium decided them:
// by pod name; else by the identity a pod-named flow of the same export showed, or by the
// identity's `k8s:` labels (a proxy's connection carries the pod's identity from the node's
// address); else by reserved identity (`host` is the observing node, never the world); else by
// address (a pod's, a node's: the host or a remote node, never the world; any other IPv4 or
// IPv6 address is an external peer).
import type { FlowEndpoint, ObservedFlow } from '../observed/index.js';
import { addressRange, peerName, type Peer, type WorkloadPeer } from './peers.js';

/** Reserved identities a flow endpoint may carry that stand as peers of their own. */
const entityNames = ['host', 'remote-node', 'kube-apiserver', 'health', 'init', 'ingress', 'unmanaged'] as const;

export interface PlacementContext {
  /** `ns/pod` of every pod of the inventory → its workload. */
  pods: Map<string, WorkloadPeer>;
  ips: Map<string, WorkloadPeer>;
  /** Node addresses → node name. */
  nodeIps: Map<string, string>;
  byWorkload: Map<string, WorkloadPeer>;
  workloads: readonly WorkloadPeer[];
  /** Identity numbers of the export → the workload a pod-named flow showed them on. */
  identities: Map<number, WorkloadPeer>;
}

export function placementContext(
  workloads: readonly WorkloadPeer[],
  nodes: readonly { name: string; ips: readonly string[] }[],
  flows: readonly ObservedFlow[],
): PlacementContext {
  const ctx: PlacementContext = {
    pods: new Map(),
    ips: new Map(),
    nodeIps: new Map(),
    byWorkload: new Map(),
    workloads,
    identities: new Map(),
  };
  for (const w of workloads) {
    ctx.pods.set(w.pod, w);
    for (const p of w.members ?? []) ctx.pods.set(p, w);
    ctx.byWorkload.set(peerName(w), w);
    // Host-network pods use their node's addresses: those stand for the node, not for them.
    if (!w.hostNetwork) for (const ip of w.ips ?? []) ctx.ips.set(ip, w);
  }
  for (const n of nodes) for (const ip of n.ips) ctx.nodeIps.set(ip, n.name);
  for (const f of flows)
    for (const e of [f.src, f.dst])
      if (e.identity !== undefined && e.identity > 255 && e.namespace && e.pod) {
        const w = ctx.pods.get(`${e.namespace}/${e.pod}`);
        if (w && !ctx.identities.has(e.identity)) ctx.identities.set(e.identity, w);
      }
  return ctx;
}

/** The workload whose labels a flow endpoint carries (in its namespace), the most specific first. */
function byLabels(e: FlowEndpoint, ctx: PlacementContext): WorkloadPeer | undefined {
  if (!e.namespace || Object.keys(e.labels).length === 0) return undefined;
  let best: WorkloadPeer | undefined;
  for (const w of ctx.workloads) {
    if (w.hostNetwork || w.namespace !== e.namespace) continue;
    const entries = Object.entries(w.labels);
    if (entries.length === 0 || !entries.every(([k, v]) => e.labels[k] === v)) continue;
    if (!best || entries.length > Object.keys(best.labels).length) best = w;
  }
  return best;
}

/**
 * The peer an observed endpoint stands for; `side` says which end of the flow it is (the host
 * reaching a pod is `host` as a source; an API server on the host is `kube-apiserver` as a
 * destination). Undefined when the export does not say enough (no pod, identity or address).
 */
export function placeEndpoint(e: FlowEndpoint, flow: ObservedFlow, side: 'src' | 'dst', ctx: PlacementContext): Peer | undefined {
  if (e.namespace && e.pod) {
    const w = ctx.pods.get(`${e.namespace}/${e.pod}`);
    if (w) return w.hostNetwork ? w : { ...w, pod: `${e.namespace}/${e.pod}` };
  }
  if (e.namespace && e.workload) {
    const w = ctx.byWorkload.get(`${e.namespace}/${e.workload.name}[${e.workload.kind}]`);
    if (w) return w;
  }
  const reserved = e.reserved ?? [];
  const entity = (side === 'dst' && reserved.includes('kube-apiserver') ? ['kube-apiserver'] : entityNames).find((n) =>
    reserved.includes(n),
  );
  // A pod's identity (k8s labels, no reserved one): the pod, wherever the packet came from.
  if (!entity || Object.keys(e.labels).length > 0) {
    const learned = e.identity !== undefined ? ctx.identities.get(e.identity) : undefined;
    if (learned) return learned;
    const w = byLabels(e, ctx);
    if (w) return w;
  }
  if (entity) return { type: 'entity', entity };
  if (e.ip) {
    const w = ctx.ips.get(e.ip);
    if (w) return w;
    // A node's address is the host or a remote node (an L7 proxy connects from it), never the world.
    const node = ctx.nodeIps.get(e.ip);
    if (node !== undefined)
      return { type: 'entity', entity: flow.node === undefined || sameNode(flow.node, node) ? 'host' : 'remote-node' };
    const r = addressRange(e.ip);
    if (r !== undefined && !e.pod) return { type: 'ip', ...r };
  }
  return undefined;
}

/** Hubble names nodes `cluster/node` where the inventory says `node`. */
export function sameNode(a: string, b: string): boolean {
  return a === b || a.endsWith(`/${b}`) || b.endsWith(`/${a}`);
}

/**
 * Both ends of a flow. The observing node's host reaching a pod on another node arrives there as a
 * remote node (allow-localhost is for the node's own pods only).
 */
export function placeFlow(flow: ObservedFlow, ctx: PlacementContext): { src?: Peer; dst?: Peer } {
  let src = placeEndpoint(flow.src, flow, 'src', ctx);
  const dst = placeEndpoint(flow.dst, flow, 'dst', ctx);
  if (
    src?.type === 'entity' &&
    src.entity === 'host' &&
    dst?.type === 'workload' &&
    dst.node !== undefined &&
    flow.node !== undefined &&
    !sameNode(flow.node, dst.node)
  )
    src = { type: 'entity', entity: 'remote-node' };
  return { ...(src ? { src } : {}), ...(dst ? { dst } : {}) };
}
