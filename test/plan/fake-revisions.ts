// Hand-made revisions for tests of the plan logic and renderers apart from the network compiler.
import type { PolicyDocument } from '../../compiler/load/index.js';
import type { RevisionModel } from '../../compiler/plan/plan.js';
import type { WorkloadPeer } from '../../compiler/plan/peers.js';
import type { Decision, Probe } from '../../compiler/plan/probe.js';

export const wl = (ns: string, name: string, ports: number[] = []): WorkloadPeer => ({
  type: 'workload',
  namespace: ns,
  name,
  kind: 'Deployment',
  pod: `${ns}/${name}[Deployment]`,
  labels: { app: name },
  ports: ports.map((port) => ({ protocol: 'TCP', port })),
});

/** An allow-list: `src>dst:port` strings; everything else is denied; rules name the file line of each entry. */
export function listRevision(ref: string, commit: string, workloads: WorkloadPeer[], allow: string[]): RevisionModel {
  const oracle = (p: Probe): Decision => {
    const s = p.src.type === 'workload' ? p.src.name : p.src.type;
    const d = p.dst.type === 'workload' ? p.dst.name : p.dst.type;
    const i = allow.findIndex((a) => {
      const m = /^(\w+)>(\w+):(\d+)$/.exec(a)!;
      return m[1] === s && m[2] === d && Number(m[3]) === p.port && p.protocol === 'TCP';
    });
    if (i >= 0)
      return {
        verdict: 'allow',
        audit: false,
        rule: {
          policy: `allow-${allow[i]!.replace(/[>:]/g, '-')}`,
          namespace: 'shop',
          file: 'policies/allow.yaml',
          line: 10 * i + 1,
          commit,
        },
      };
    return {
      verdict: 'deny',
      audit: false,
      rule: { policy: 'default-deny', namespace: 'shop', file: 'policies/deny.yaml', line: 1, commit },
    };
  };
  const ports = allow.map((a) => Number(a.split(':')[1]));
  const documents = [
    {
      kind: 'CiliumNetworkPolicy',
      family: 'network',
      name: 'x',
      namespace: 'shop',
      value: { spec: { ingress: [{ toPorts: [{ ports: ports.map((port) => ({ port })) }] }] } },
    } as unknown as PolicyDocument,
  ];
  const space = {
    ports: [...workloads.flatMap((w) => (w.ports ?? []).map((p) => p.port)), ...ports].map((p) => ({ lo: p, hi: p })),
    cidrs: [],
    fqdns: [],
    entities: [],
  };
  return {
    info: { ref, commit, status: 'ok', policies: 1, files: 1, errors: 0, warnings: 0, diagnostics: [] },
    documents,
    workloads,
    space,
    oracle,
    inventoryDigest: 'same',
  };
}
