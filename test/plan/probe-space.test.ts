// The plan's probe space comes from the compiled IR: every peer kind that can decide a verdict
// splits it, so a change through any of them shows in the plan.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileNetwork, loadInventory } from '../../compiler/ir/network/index.js';
import { loadSources } from '../../compiler/load/index.js';
import { buildPlan } from '../../compiler/plan/plan.js';
import { probeSpaceKinds, probeSpaceOf } from '../../compiler/plan/probe-space.js';
import { closeRevisionCache, loadRevision, newRevisionCache } from '../../compiler/plan/revision.js';
import { TestRepo } from './repo.js';

const root = path.resolve(import.meta.dirname, '../..');

const inventory = `apiVersion: weir.dev/v1alpha1
kind: Inventory
metadata: {name: probe-space}
spec:
  namespaces:
  - {name: shop}
  pods:
  - {namespace: shop, name: api-0, labels: {app: api}, ips: [10.0.1.10], node: node-1}
  cidrGroups:
  - {name: partners, cidrs: [198.18.0.0/24, 198.18.7.0/24]}
`;
const policies = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: every-peer-kind, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  egress:
  - toCIDR: [192.0.2.0/28]
  - toCIDRSet:
    - {cidr: 172.20.0.0/16, except: [172.20.5.0/24]}
  - toCIDRSet:
    - cidrGroupRef: partners
  - toEntities: [kube-apiserver]
  - toFQDNs: [{matchName: API.Example.com}]
  - toEndpoints: [{matchLabels: {app: api}}]
    toPorts: [{ports: [{port: "8443", endPort: 8450, protocol: TCP}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ipblock, namespace: shop}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress]
  ingress:
  - from: [{ipBlock: {cidr: 100.64.0.0/10, except: [100.64.1.0/24]}}]
`;

describe('probe space from the IR', () => {
  it('covers every peer kind the IR has', () => {
    const docs = loadSources([{ file: 'p.yaml', bytes: Buffer.from(policies) }, { file: 'inv.yaml', bytes: Buffer.from(inventory) }]).documents;
    const inv = loadInventory(docs.filter((d) => d.kind === 'Inventory'));
    const { ir, diagnostics } = compileNetwork(docs.filter((d) => d.family === 'network'), inv.inventory);
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const s = probeSpaceOf(ir);
    // Literal CIDRs, CIDR sets and their exceptions, CIDR groups and ipBlocks with except.
    expect(s.cidrs).toEqual(expect.arrayContaining(['192.0.2.0/28', '172.20.0.0/16', '172.20.5.0/24', '198.18.0.0/24', '198.18.7.0/24', '100.64.0.0/10', '100.64.1.0/24']));
    expect(s.entities).toEqual(['kube-apiserver']);
    expect(s.fqdns).toEqual(['api.example.com']);
    expect(s.ports).toEqual([{ lo: 8443, hi: 8450 }]);
    // Every identity kind of the IR has its place in the probe space (a new kind fails to compile in probe-space.ts).
    const kinds = new Set(ir.identities.map((i) => i.kind));
    for (const k of kinds) expect(probeSpaceKinds[k], k).toBeDefined();
    expect(Object.keys(probeSpaceKinds).sort()).toEqual(['cidr', 'endpoint', 'fqdn', 'reserved']);
  });
});

describe('a change through a CIDR group shows in the plan', () => {
  const repo = new TestRepo('weirplan-blind-');
  afterAll(() => repo.dispose());
  it('narrowing the partner-api group ports is newly denied traffic', async () => {
    cpSync(path.join(root, 'policies'), repo.dir, { recursive: true });
    repo.git('add', '-A');
    repo.git('commit', '-qm', 'base');
    const file = path.join(repo.dir, 'network/tenant-jobs/workers.yaml');
    const text = readFileSync(file, 'utf8');
    const narrowed = text.replace(/\n\s+endPort: 8450\n/, '\n');
    expect(narrowed).not.toBe(text);
    writeFileSync(file, narrowed);
    repo.git('commit', '-qam', 'narrow partner-api to 8443');
    const cache = newRevisionCache();
    const b = await loadRevision(['.'], repo.dir, { ref: 'HEAD~1', rev: 'HEAD~1' }, undefined, cache);
    const h = await loadRevision(['.'], repo.dir, { ref: 'HEAD', rev: 'HEAD' }, undefined, cache);
    closeRevisionCache(cache);
    expect(h.model.info.status).toBe('ok');
    const plan = buildPlan({ base: b.model, head: h.model });
    const rows = plan.changes.map((c) => `${c.category} ${c.src} => ${c.dst} ${c.ports}`);
    expect(rows, rows.join('\n')).toContain('newly-denied tenant-jobs/crawler[Deployment] => 203.0.113.0-203.0.113.255[External] 8444-8450');
  });
});
