// Groups inventory pods into the workloads np-guard reports (`ns/name[Kind]`): a pod belongs to
// its controller owner as `ownerReferences` say (the inventory resolves ReplicaSets to their
// Deployments and Jobs to their CronJobs when those are in the input), a pod no controller owns
// is a workload of its own (`[Pod]`). Replicas with the same labels share a Cilium identity, so
// one representative pod is exact; replicas of one owner with different labels are variants.
import type { WorkloadPeer } from './peers.js';

/** The fields of an inventory pod the plan reads (structurally the inventory model's Pod). */
export interface InventoryPod {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  ips: string[];
  node: string;
  ports: { name: string; port: number; protocol: string }[];
  owner?: { kind: string; name: string };
  hostNetwork?: boolean;
}

/** weir's name for a pod built from a workload template: `name[Kind]`. */
const templated = /^(.*)\[([A-Za-z]+)\]$/;

/** The workload of a pod: its owner, else (a template pod without one) the name it was given, else the pod itself. */
export function ownerOf(p: Pick<InventoryPod, 'name' | 'owner'>): { name: string; kind: string } {
  if (p.owner) return { name: p.owner.name, kind: p.owner.kind || 'Pod' };
  const m = templated.exec(p.name);
  if (m) return { name: m[1]!, kind: m[2]! };
  return { name: p.name, kind: 'Pod' };
}

function labelKey(l: Record<string, string>): string {
  return Object.keys(l)
    .sort()
    .map((k) => `${k}=${l[k]}`)
    .join(',');
}

/** Workloads of the pods (endpoints) and of the host-network pods, sorted by name. */
export function workloadsOf(pods: readonly InventoryPod[], hostNetworkPods: readonly InventoryPod[] = []): WorkloadPeer[] {
  const groups = new Map<string, WorkloadPeer>();
  // Replicas repeat one label set, usually written in one order: sort each distinct writing once
  // (JSON quotes every text, so no label text can make two sets read alike).
  const sorted = new Map<string, string>();
  const add = (p: InventoryPod, hostNetwork: boolean) => {
    const owner = ownerOf(p);
    const raw = JSON.stringify(p.labels);
    let lk = sorted.get(raw);
    if (lk === undefined) sorted.set(raw, (lk = labelKey(p.labels)));
    const key = `${p.namespace}/${owner.name}[${owner.kind}]|${hostNetwork ? 'host' : ''}|${lk}`;
    const g = groups.get(key);
    if (g) {
      g.ips!.push(...p.ips);
      g.members!.push(`${p.namespace}/${p.name}`);
      // A host-network workload on several nodes is a remote node to most of its peers: no single
      // node stands for it. Its replicas are the host to each other: nothing to probe between them.
      if (hostNetwork) {
        if (g.node !== p.node) delete g.node;
      } else g.replica ??= `${p.namespace}/${p.name}`;
      return;
    }
    groups.set(key, {
      type: 'workload',
      namespace: p.namespace,
      name: owner.name,
      kind: owner.kind,
      pod: `${p.namespace}/${p.name}`,
      labels: p.labels,
      node: p.node,
      ports: p.ports.map((x) => ({ protocol: x.protocol, port: x.port, name: x.name })),
      ips: [...p.ips],
      members: [`${p.namespace}/${p.name}`],
      ...(hostNetwork ? { hostNetwork: true } : {}),
    });
  };
  for (const p of pods) add(p, false);
  for (const p of hostNetworkPods) add(p, true);
  // Variants (one owner, different labels) would print alike: each is named after its first pod,
  // and remembers the workload it is a variant of (the connectivity list folds them back when
  // they connect alike, as np-guard prints them).
  const byName = new Map<string, WorkloadPeer[]>();
  for (const w of groups.values()) {
    const n = `${w.namespace}/${w.name}[${w.kind}]`;
    byName.set(n, [...(byName.get(n) ?? []), w]);
  }
  for (const ws of byName.values())
    if (ws.length > 1)
      for (const w of ws) {
        w.variantOf = w.name;
        w.name = w.pod.split('/')[1]!;
      }
  return [...groups.values()].sort((a, b) => (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1));
}
