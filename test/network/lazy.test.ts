// What the compiler now computes late or shares must read exactly as if it were computed eagerly
// and copied: rule places (file:line) located on first read, pods holding their parsed values,
// endpoints kept by a second compile against the same inventory.
import { describe, expect, it } from 'vitest';
import { CompileCache } from '../../compiler/ir/network/compile.js';
import { compileNetwork, loadInventory } from '../../compiler/ir/network/index.js';
import { docs, smallInventory } from './helpers.js';

const policy = (port: number) => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web, namespace: a}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: db}}]
    toPorts: [{ports: [{port: "${port}", protocol: TCP}]}]
  egress:
  - toEndpoints: [{matchLabels: {app: db}}]
`;

describe('rule origins located on first read', () => {
  it('serialize, clone and spread with their line and column, in the key order of a plain origin', () => {
    const inv = loadInventory(docs('inventory.yaml', smallInventory)).inventory;
    const { ir } = compileNetwork(docs('policy.yaml', policy(8080)), inv, { commit: 'c1' });
    const [ing, egr] = ir.origins;
    const plain = {
      cookie: 1,
      policy: 'CiliumNetworkPolicy/a/web',
      kind: 'CiliumNetworkPolicy',
      name: 'web',
      namespace: 'a',
      file: 'policy.yaml',
      line: 7,
      column: 5,
      commit: 'c1',
      path: 'spec.ingress[0]',
    };
    expect(JSON.parse(JSON.stringify(ing))).toEqual(plain);
    expect(Object.keys(ing!)).toEqual(Object.keys(plain));
    expect(structuredClone(ing)).toEqual(plain);
    expect({ ...egr }).toMatchObject({ cookie: 2, line: 10, column: 5, path: 'spec.egress[0]' });
  });

  it('keep their place when a second compile hands them out under another cookie and commit', () => {
    const inv = loadInventory(docs('inventory.yaml', smallInventory)).inventory;
    const cache = new CompileCache();
    const web = docs('policy.yaml', policy(8080));
    compileNetwork(web, inv, { commit: 'c1', cache });
    // Another document sorted first shifts every cookie of the cached one.
    const first = docs('a-first.yaml', policy(9090).replace('name: web', 'name: first'));
    const { ir } = compileNetwork([...first, ...web], inv, { commit: 'c2', cache });
    const reused = ir.origins.filter((o) => o.file === 'policy.yaml');
    expect(reused.map((o) => [o.cookie, o.line, o.commit])).toEqual([
      [3, 7, 'c2'],
      [4, 10, 'c2'],
    ]);
  });
});

describe('pods hold their parsed values when already in shape', () => {
  it('shares labels, addresses and ports written as the model has them, and copies the rest', () => {
    const text = `apiVersion: weir.dev/v1alpha1
kind: Inventory
metadata: {name: t}
spec:
  pods:
  - {namespace: a, name: p1, labels: {app: x}, ips: [10.0.0.1], ports: [{name: http, port: 80, protocol: TCP}]}
  - {namespace: a, name: p2, labels: {app: x, tier: 2}, ips: [10.0.0.2], ports: [{name: http, port: 80, protocol: tcp}]}
`;
    const d = docs('inv.yaml', text);
    const values = (d[0]!.value['spec'] as { pods: Record<string, unknown>[] }).pods;
    const { inventory } = loadInventory(d);
    const [p1, p2] = inventory.pods;
    expect(p1!.labels).toBe(values[0]!['labels']);
    expect(p1!.ips).toBe(values[0]!['ips']);
    expect(p1!.ports).toBe(values[0]!['ports']);
    // A number among the labels, a lower-case protocol: converted copies, the document untouched.
    expect(p2!.labels).toEqual({ app: 'x', tier: '2' });
    expect(p2!.labels).not.toBe(values[1]!['labels']);
    expect(p2!.ports).toEqual([{ name: 'http', port: 80, protocol: 'TCP' }]);
    expect((values[1]!['ports'] as { protocol: string }[])[0]!.protocol).toBe('tcp');
  });
});

describe('a second compile against the same inventory', () => {
  it('keeps the endpoints whose state did not change and builds the others as a fresh compile does', () => {
    const inv = loadInventory(docs('inventory.yaml', smallInventory)).inventory;
    const cache = new CompileCache();
    const a = compileNetwork(docs('policy.yaml', policy(8080)), inv, { cache }).ir;
    // Drop the egress rule: a/web's egress is no longer enforced, the other pods are unchanged.
    const changed = policy(8080).replace(/ {2}egress:\n.*\n$/s, '');
    const b = compileNetwork(docs('policy.yaml', changed), inv, { cache }).ir;
    const fresh = compileNetwork(docs('policy.yaml', changed), inv).ir;
    expect(b.endpoints).toEqual(fresh.endpoints);
    const web = b.endpoints.findIndex((e) => e.key === 'a/web');
    expect(b.endpoints[web]!.egressEnforced).toBe(false);
    expect(b.endpoints[web]).not.toBe(a.endpoints[web]);
    b.endpoints.forEach((e, i) => {
      if (i !== web) expect(e).toBe(a.endpoints[i]);
    });
  });
});
