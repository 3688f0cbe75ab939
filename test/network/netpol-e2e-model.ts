// The model of Kubernetes' NetworkPolicy e2e suite (kubernetes/kubernetes
// test/e2e/network/netpol, commit 008b3652959ca58af8be3fb5b6ecfe9ae7638282): namespaces x, y, z,
// pods a, b, c serving 80/81 over TCP, UDP and SCTP, and its Reachability truth table.
import { stringify } from 'yaml';
import { expect } from 'vitest';
import { assembleBundle } from '../../compiler/bundle/assemble.js';
import { evaluateFlow } from '../../compiler/ir/network/evaluate.js';
import { compileNetwork, loadInventory, type NetworkIR } from '../../compiler/ir/network/index.js';
import { lowerNetwork } from '../../compiler/lower/network/images.js';
import { verifyNetwork } from '../../compiler/verify/verify.js';
import { docs } from './helpers.js';

export const nss = ['x', 'y', 'z'];
export const podNames = ['a', 'b', 'c'];
export const podIp = (ns: string, pod: string) => `10.0.${nss.indexOf(ns) + 1}.${podNames.indexOf(pod) + 10}`;

/** The upstream model: namespaces x, y, z labelled ns=<name>, pods a, b, c labelled pod=<name>, serving 80/81 over TCP, UDP, SCTP. */
export const modelInventory = {
  apiVersion: 'weir.dev/v1alpha1',
  kind: 'Inventory',
  metadata: { name: 'netpol-e2e' },
  spec: {
    nodes: [{ name: 'n1', ips: ['192.168.0.1'] }],
    // kubernetes.io/metadata.name is not listed: weir adds it to every namespace, as the API server does.
    namespaces: nss.map((n) => ({ name: n, labels: { ns: n } as Record<string, string> })),
    pods: nss.flatMap((ns) =>
      podNames.map((p) => ({
        namespace: ns,
        name: p,
        ips: [podIp(ns, p)],
        node: 'n1',
        labels: { pod: p } as Record<string, string>,
        ports: ['TCP', 'UDP', 'SCTP'].flatMap((proto) =>
          [80, 81].map((port) => ({ name: `serve-${port}-${proto.toLowerCase()}`, port, protocol: proto })),
        ),
      })),
    ),
  },
};

export function compile(policies: object[], inventory: object = modelInventory): NetworkIR {
  const inv = loadInventory(docs('inventory.yaml', stringify(inventory)));
  expect(inv.diagnostics).toEqual([]);
  const { ir, diagnostics } = compileNetwork(docs('policies.yaml', policies.map((p) => stringify(p)).join('---\n')), inv.inventory);
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return ir;
}

/** The compiled maps, read by verify's datapath emulator, agree with the reference evaluator. */
export function expectMapsAgree(ir: NetworkIR): void {
  const b = assembleBundle([lowerNetwork(ir).output], { source: { paths: [] }, compilerVersion: 't', abi: { digest: '', version: 1 } });
  const report = verifyNetwork(ir, {
    manifest: b.manifest,
    blob: (d) => b.blobs.get(d)!,
    table: <T>(n: string) => {
      const t = b.manifest.tables.find((x) => x.name === n);
      return t ? (JSON.parse(new TextDecoder().decode(b.blobs.get(t.digest)!)) as T) : undefined;
    },
  });
  expect(report.problems).toEqual([]);
  expect(report.mismatches.slice(0, 3)).toEqual([]);
}

/** Upstream's egress NetworkPolicy on pods labelled pod=a in namespace x (GenNetworkPolicyWithNameAndPodMatchLabel + SetSpecEgressRules). */
export const egressPolicy = (name: string, to: object[]) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name, namespace: 'x' },
  spec: { podSelector: { matchLabels: { pod: 'a' } }, policyTypes: ['Egress'], egress: [{ to }] },
});

/** Upstream's Reachability: every pair connected by default; `denyAllFrom` then `allow` as the test sets them. */
export function reachability(opts: {
  denyAllFrom?: string;
  deny?: [string, string][];
  allow?: [string, string][];
}): (from: string, to: string) => boolean {
  return (from, to) => {
    if (opts.allow?.some(([f, t]) => f === from && t === to)) return true;
    if (opts.deny?.some(([f, t]) => f === from && t === to)) return false;
    return from !== opts.denyAllFrom;
  };
}

/** Upstream's Reachability, built by the same calls: every pair connected, then Expect/ExpectPeer/ExpectAllIngress/ExpectAllEgress in order. */
export class Reachability {
  private readonly ops: ((from: string, to: string, v: boolean) => boolean)[] = [];
  private at(match: (from: string, to: string) => boolean, connected: boolean): this {
    this.ops.push((f, t, v) => (match(f, t) ? connected : v));
    return this;
  }
  expect(from: string, to: string, connected: boolean): this {
    return this.at((f, t) => f === from && t === to, connected);
  }
  /** A peer is a namespace and optionally a pod; an empty peer matches every pod. */
  expectPeer(from: { ns?: string; pod?: string }, to: { ns?: string; pod?: string }, connected: boolean): this {
    const m = (p: { ns?: string; pod?: string }, key: string) =>
      (p.ns === undefined || key.startsWith(`${p.ns}/`)) && (p.pod === undefined || key.endsWith(`/${p.pod}`));
    return this.at((f, t) => m(from, f) && m(to, t), connected);
  }
  expectAllIngress(pod: string, connected: boolean): this {
    return this.at((_, t) => t === pod, connected);
  }
  expectAllEgress(pod: string, connected: boolean): this {
    return this.at((f) => f === pod, connected);
  }
  readonly get = (from: string, to: string): boolean => this.ops.reduce((v, op) => op(from, to, v), true);
}

/** What a ValidateOrFail probes: one destination port over one protocol. */
export interface Probe {
  protocol: 'TCP' | 'UDP' | 'SCTP';
  port: 80 | 81;
}

/** The model with a namespace's or a pod's labels merged with `labels` (AddNamespaceLabel, AddPodLabels). */
export function relabelled(target: { ns: string; pod?: string }, labels: Record<string, string>): typeof modelInventory {
  const inv = structuredClone(modelInventory);
  if (target.pod === undefined) {
    const n = inv.spec.namespaces.find((x) => x.name === target.ns)!;
    n.labels = { ...n.labels, ...labels };
  } else {
    const p = inv.spec.pods.find((x) => x.namespace === target.ns && x.name === target.pod)!;
    p.labels = { ...p.labels, ...labels };
  }
  return inv;
}

/**
 * Probes `probe` (TCP/80 unless given) between every ordered pair of distinct pods (upstream ignores
 * a pod's traffic to itself), by workload and by the destination's address, then checks the maps.
 */
export function expectReachability(
  ir: NetworkIR,
  expected: (from: string, to: string) => boolean,
  probe: Probe = { protocol: 'TCP', port: 80 },
): void {
  const pods = nss.flatMap((ns) => podNames.map((p) => `${ns}/${p}`));
  const wrong: string[] = [];
  for (const from of pods)
    for (const to of pods) {
      if (from === to) continue;
      const v = evaluateFlow(ir, { from: { workload: from }, to: { workload: to }, ...probe });
      const byIp = evaluateFlow(ir, { from: { workload: from }, to: { ip: podIp(...(to.split('/') as [string, string])) }, ...probe });
      const want = expected(from, to) ? 'allow' : 'deny';
      if (v.verdict !== want || byIp.verdict !== want)
        wrong.push(`${probe.protocol}/${probe.port} ${from} -> ${to}: expected ${want}, got ${v.verdict} (by address ${byIp.verdict})`);
    }
  expect(wrong).toEqual([]);
  expectMapsAgree(ir);
}
