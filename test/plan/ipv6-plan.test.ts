// The plan probes IPv6 external peers as it probes IPv4 ones: a change to an IPv6 CIDR rule is a
// change of the plan, named by its range and by the rule on each side.
import { describe, expect, it } from 'vitest';
import { loadSources } from '../../compiler/load/index.js';
import { compileRevision } from '../../compiler/plan/network.js';
import { buildPlan } from '../../compiler/plan/plan.js';
import { connectivityOf } from '../../compiler/plan/plan.js';

const inventory = `apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: default, labels: {app: web}}
spec: {containers: [{name: c, image: x}]}
status: {podIP: 10.1.2.3, podIPs: [{ip: 10.1.2.3}, {ip: "fd00:10::3"}]}
`;

const policy = (cidr: string, port: number) => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: out, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: web}}
  egress:
  - toCIDR: ["${cidr}"]
    toPorts: [{ports: [{port: "${port}", protocol: TCP}]}]
`;

async function revision(name: string, text: string) {
  const docs = loadSources([
    { file: 'inventory.yaml', bytes: new TextEncoder().encode(inventory) },
    { file: 'policy.yaml', bytes: new TextEncoder().encode(text) },
  ]).documents;
  const r = await compileRevision(
    docs.filter((d) => d.family === 'network'),
    docs.filter((d) => d.family === 'workload'),
  );
  expect(r.diagnostics).toEqual([]);
  const network = docs.filter((d) => d.family === 'network');
  return {
    ...r,
    documents: network,
    inventoryDigest: 'inventory',
    info: { ref: name, commit: name, status: 'ok' as const, policies: 1, files: 2, errors: 0, warnings: 0, diagnostics: [] },
  };
}

describe('IPv6 external peers in the plan', () => {
  it('reports a port moved on an IPv6 CIDR rule as newly denied and newly allowed, on the IPv6 range only', async () => {
    const base = await revision('main', policy('2001:db8::/32', 443));
    const head = await revision('HEAD', policy('2001:db8::/32', 8443));
    const plan = buildPlan({ base, head });
    const lines = plan.changes.map((c) => `${c.category} ${c.src} => ${c.dst} ${c.protocol} ${c.ports}`);
    expect(lines).toEqual([
      'newly-denied default/web-0[Pod] => 2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff[External] TCP 443',
      'newly-allowed default/web-0[Pod] => 2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff[External] TCP 8443',
    ]);
    expect(plan.notes.join('\n')).not.toMatch(/IPv6/);
  });

  it('lists IPv6 ranges in connectivity, cut at the rule and apart from the IPv4 space', async () => {
    const r = await revision('HEAD', policy('2001:db8::/32', 443));
    const text = connectivityOf(r).map((l) => `${l.src} => ${l.dst}`);
    expect(text).toContain('default/web-0[Pod] => 2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff[External]');
    expect(text.some((l) => l.includes('0.0.0.0-255.255.255.255[External]') && l.startsWith('default/web-0'))).toBe(false);
  });
});
