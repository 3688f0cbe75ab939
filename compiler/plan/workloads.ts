// Groups inventory pods into the workloads np-guard reports (`ns/name[Kind]`). Pods built from a
// workload template already carry that name; live pods (kubectl output, Inventory pod lists) are
// grouped by namespace, labels and the owner name left after stripping generated suffixes —
// replicas with the same labels share a Cilium identity, so one representative pod is exact.
import type { WorkloadPeer } from './peers.js';

/** The fields of an inventory pod the plan reads (structurally the inventory model's Pod). */
export interface InventoryPod {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  ips: string[];
  node: string;
  ports: { name: string; port: number; protocol: string }[];
}

const templated = /^(.*)\[([A-Za-z]+)\]$/;
const replicaSetPod = /^(.+)-[a-f0-9]{6,10}-[a-z0-9]{5}$/;
const statefulSetPod = /^(.+)-\d+$/;
const bareGenerated = /^(.+)-[a-z0-9]{5}$/;

/** Owner name and kind of a pod, as far as its name tells. */
export function ownerOf(podName: string): { name: string; kind: string } {
  let m = templated.exec(podName);
  if (m) return { name: m[1]!, kind: m[2]! };
  m = replicaSetPod.exec(podName);
  if (m) return { name: m[1]!, kind: 'Deployment' };
  m = statefulSetPod.exec(podName);
  if (m) return { name: m[1]!, kind: 'StatefulSet' };
  m = bareGenerated.exec(podName);
  if (m && /\d/.test(podName.slice(-5))) return { name: m[1]!, kind: 'DaemonSet' };
  return { name: podName, kind: 'Pod' };
}

function labelKey(l: Record<string, string>): string {
  return Object.keys(l)
    .sort()
    .map((k) => `${k}=${l[k]}`)
    .join(',');
}

export function workloadsOf(pods: readonly InventoryPod[]): WorkloadPeer[] {
  const groups = new Map<string, WorkloadPeer>();
  // Replicas repeat one label set, usually written in one order: sort each distinct writing once
  // (JSON quotes every text, so no label text can make two sets read alike).
  const sorted = new Map<string, string>();
  for (const p of pods) {
    const owner = ownerOf(p.name);
    const raw = JSON.stringify(p.labels);
    let lk = sorted.get(raw);
    if (lk === undefined) sorted.set(raw, (lk = labelKey(p.labels)));
    const key = `${p.namespace}/${owner.name}[${owner.kind}]|${lk}`;
    const g = groups.get(key);
    if (g) {
      g.ips!.push(...p.ips);
      g.replica ??= `${p.namespace}/${p.name}`;
      continue;
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
    });
  }
  // Two groups with one owner name but different labels would print alike: keep them apart.
  const byName = new Map<string, WorkloadPeer[]>();
  for (const w of groups.values()) {
    const n = `${w.namespace}/${w.name}[${w.kind}]`;
    byName.set(n, [...(byName.get(n) ?? []), w]);
  }
  for (const ws of byName.values()) if (ws.length > 1) for (const w of ws) w.name = w.pod.split('/')[1]!;
  return [...groups.values()].sort((a, b) => (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1));
}
