// The plan's probe space comes from the compiled IR: every peer kind that can decide a verdict
// splits it, so a change through any of them shows in the plan.
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CommandIO } from '../../cli/command.js';
import { main } from '../../cli/main.js';
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
    const docs = loadSources([
      { file: 'p.yaml', bytes: Buffer.from(policies) },
      { file: 'inv.yaml', bytes: Buffer.from(inventory) },
    ]).documents;
    const inv = loadInventory(docs.filter((d) => d.kind === 'Inventory'));
    const { ir, diagnostics } = compileNetwork(
      docs.filter((d) => d.family === 'network'),
      inv.inventory,
    );
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const s = probeSpaceOf(ir);
    // Literal CIDRs, CIDR sets and their exceptions, CIDR groups and ipBlocks with except.
    expect(s.cidrs).toEqual(
      expect.arrayContaining([
        '192.0.2.0/28',
        '172.20.0.0/16',
        '172.20.5.0/24',
        '198.18.0.0/24',
        '198.18.7.0/24',
        '100.64.0.0/10',
        '100.64.1.0/24',
      ]),
    );
    expect(s.entities).toEqual(['kube-apiserver']);
    expect(s.fqdns).toEqual(['api.example.com']);
    expect(s.ports).toEqual([{ lo: 8443, hi: 8450 }]);
    // Every identity kind of the IR has its place in the probe space (a new kind fails to compile in probe-space.ts).
    const kinds = new Set(ir.identities.map((i) => i.kind));
    for (const k of kinds) expect(probeSpaceKinds[k], k).toBeDefined();
    expect(Object.keys(probeSpaceKinds).sort()).toEqual(['cidr', 'endpoint', 'fqdn', 'reserved']);
  });
});

async function run(argv: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CommandIO = { stdout: (x) => (stdout += x), stderr: (x) => (stderr += x), cwd, env: { NO_COLOR: '1' }, isTTY: false };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

const goldenDir = path.join(root, 'test/golden/plan/blind-spots');
function golden(name: string, actual: string): void {
  const file = path.join(goldenDir, name);
  if (process.env['UPDATE_GOLDEN'] === '1' || (!existsSync(file) && process.env['CI'] !== 'true')) {
    mkdirSync(goldenDir, { recursive: true });
    writeFileSync(file, actual);
  }
  expect(actual, `${name} differs from the golden file; if intended, run UPDATE_GOLDEN=1 and review the diff`).toBe(
    readFileSync(file, 'utf8'),
  );
}

/** The bundled policies as a repository, with one edit committed on top; returns the plan's rows. */
async function planEdit(repo: TestRepo, file: string, from: RegExp, to: string, goldenName: string): Promise<string[]> {
  cpSync(path.join(root, 'policies'), repo.dir, { recursive: true });
  repo.git('add', '-A');
  repo.git('commit', '-qm', 'base');
  const abs = path.join(repo.dir, file);
  const text = readFileSync(abs, 'utf8');
  const edited = text.replace(from, to);
  expect(edited).not.toBe(text);
  writeFileSync(abs, edited);
  repo.git('commit', '-qam', 'edit');
  const cache = newRevisionCache();
  const b = await loadRevision(['.'], repo.dir, { ref: 'HEAD~1', rev: 'HEAD~1' }, undefined, cache);
  const h = await loadRevision(['.'], repo.dir, { ref: 'HEAD', rev: 'HEAD' }, undefined, cache);
  closeRevisionCache(cache);
  expect(h.model.info.status).toBe('ok');
  const plan = buildPlan({ base: b.model, head: h.model });
  const cli = await run(['plan', '.', '--base', 'HEAD~1', '--head', 'HEAD', '--format', 'text', '--fail-on', 'never'], repo.dir);
  expect(cli.code).toBe(0);
  // Commit hashes differ from run to run (the repository is made here): the golden keeps their place.
  golden(goldenName, cli.stdout.replace(/\b[0-9a-f]{7,40}\b/g, '<commit>'));
  return plan.changes.map((c) => `${c.category} ${c.src} => ${c.dst} ${c.ports}${c.betweenReplicas ? ' (between replicas)' : ''}`);
}

describe('changes the plan used to miss', () => {
  const repos: TestRepo[] = [];
  afterAll(() => repos.forEach((r) => r.dispose()));
  const repo = () => {
    const r = new TestRepo('weirplan-blind-');
    repos.push(r);
    return r;
  };

  it('narrowing the partner-api CIDR group ports is newly denied traffic', async () => {
    const rows = await planEdit(repo(), 'network/tenant-jobs/workers.yaml', /\n\s+endPort: 8450\n/, '\n', 'cidr-group.txt');
    expect(rows).toEqual(['newly-denied tenant-jobs/crawler[Deployment] => 203.0.113.0-203.0.113.255[External] 8444-8450']);
  });

  it('cutting traffic between replicas of one workload is newly denied traffic', async () => {
    // The Death Star's ingress rule admits every empire pod, its own replicas included; narrowed to tie fighters it no longer does.
    const rows = await planEdit(
      repo(),
      'network/starwars/deathstar.yaml',
      /(- fromEndpoints:\n\s+- matchLabels:\n(\s+)org: empire\n)/,
      '$1$2class: tiefighter\n',
      'replicas.txt',
    );
    expect(rows).toEqual(['newly-denied default/deathstar[Deployment] => default/deathstar[Deployment] 80 (between replicas)']);
  });
});
