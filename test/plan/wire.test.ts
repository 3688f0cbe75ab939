// The plan against the wire: the bundled pods as network namespaces under the endpoint programs of
// their two nodes, a base and a head commit applied in turn, a bounded set of flows probed with real
// TCP connects under each. The flows whose wire result changed are exactly the flows `weir plan`
// reports as newly denied or allowed — here a CIDR-group narrowing and a cut between replicas.
import { cpSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetDatapath, type LoadedImage } from '../../bpf/net/loader.js';
import { nodeManifest } from '../../controller/bundle/codec.js';
import { ProjectCompiler } from '../../controller/reconcile/compiler.js';
import type { EndpointTableEntry } from '../../bpf/abi/net.js';
import { isRuntimeImage } from '../../bpf/abi/runtime-check.js';
import { ipv4ToInt } from '../../compiler/model/cidr.js';
import type { Change } from '../../compiler/plan/model.js';
import { buildPlan } from '../../compiler/plan/plan.js';
import { closeRevisionCache, loadRevision, newRevisionCache } from '../../compiler/plan/revision.js';
import { ensureBuilt } from '../datapath/helpers.js';
import { Topology, removeLeftovers } from '../datapath/netns.js';
import { skipKernel } from '../kernel-env.js';
import { TestRepo } from './repo.js';

const root = path.resolve(import.meta.dirname, '../..');
const PREFIX = 'wpw-';

/** Pods of the bundled inventory in play (ns/name as the inventory has it), plus a host in the partner range. */
const pods = [
  { key: 'default/tiefighter', short: 'tief', ip: '10.244.1.10', node: 'node-1', peer: 'default/tiefighter[Pod]', ports: [80] },
  { key: 'default/xwing', short: 'xwin', ip: '10.244.1.11', node: 'node-1', peer: 'default/xwing[Pod]', ports: [80] },
  {
    key: 'default/deathstar-6fb5694d48-8vx7k',
    short: 'dsb',
    ip: '10.244.1.12',
    node: 'node-1',
    peer: 'default/deathstar[Deployment]',
    ports: [80],
  },
  {
    key: 'default/deathstar-6fb5694d48-5hmds',
    short: 'dsa',
    ip: '10.244.2.10',
    node: 'node-2',
    peer: 'default/deathstar[Deployment]',
    ports: [80],
  },
  {
    key: 'tenant-jobs/crawler-6b9f4d7c5-x8z1c',
    short: 'craw',
    ip: '10.244.1.21',
    node: 'node-1',
    peer: 'tenant-jobs/crawler[Deployment]',
    ports: [80],
  },
  { key: 'world', short: 'wrld', ip: '203.0.113.10', node: '', peer: '', ports: [8443, 8444, 8450] },
];
const flows: [from: string, to: string, port: number][] = [
  ['craw', 'wrld', 8443],
  ['craw', 'wrld', 8444],
  ['craw', 'wrld', 8450],
  ['dsb', 'dsa', 80],
  ['tief', 'dsa', 80],
  ['tief', 'dsb', 80],
  ['xwin', 'dsa', 80],
];

function yamlFiles(dir: string): { file: string; bytes: Buffer }[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => !f.startsWith('.git') && /\.ya?ml$/.test(f) && statSync(path.join(dir, f)).isFile())
    .map((f) => ({ file: f, bytes: readFileSync(path.join(dir, f)) }));
}

/** Whether a plan change covers the flow (same source, destination peer and TCP port). */
function covers(c: Change, from: (typeof pods)[number], to: (typeof pods)[number], port: number): boolean {
  if (c.protocol !== 'TCP' || c.src !== from.peer) return false;
  if (to.peer) {
    if (c.dst !== to.peer) return false;
  } else {
    const m = /^(\d+\.\d+\.\d+\.\d+)-(\d+\.\d+\.\d+\.\d+)\[External\]$/.exec(c.dst);
    const ip = ipv4ToInt(to.ip)!;
    if (!m || ip < ipv4ToInt(m[1]!)! || ip > ipv4ToInt(m[2]!)!) return false;
  }
  const [lo, hi = lo] = c.ports.split('-').map(Number);
  return port >= lo! && port <= hi!;
}

describe.skipIf(skipKernel())('plan against the wire', () => {
  const repo = new TestRepo('weirplan-wire-');
  const topo = new Topology(PREFIX);
  const dps = new Map<string, NetDatapath>();
  const bundles: Record<'base' | 'head', Map<string, { images: LoadedImage[]; endpoints: EndpointTableEntry[] }>> = {
    base: new Map(),
    head: new Map(),
  };
  let changes: Change[] = [];

  beforeAll(async () => {
    ensureBuilt();
    removeLeftovers(PREFIX);
    cpSync(path.join(root, 'policies'), repo.dir, { recursive: true });
    repo.git('add', '-A');
    repo.git('commit', '-qm', 'base');
    const compiler = new ProjectCompiler();
    const compile = async (side: 'base' | 'head') => {
      const r = await compiler.compileFiles(yamlFiles(repo.dir), side);
      if (!r.bundle) throw new Error(JSON.stringify(r.diagnostics.slice(0, 3)));
      const b = r.bundle;
      for (const node of ['node-1', 'node-2']) {
        const nm = nodeManifest(b.manifest, b.digest, node).manifest;
        const table = (name: string) =>
          JSON.parse(new TextDecoder().decode(b.blobs.get(nm.tables.find((t) => t.name === name)!.digest)!)) as unknown;
        const endpoints = (table('endpoints') as EndpointTableEntry[]).filter((e) => e.node === node);
        const images = nm.maps
          .filter((image) => !isRuntimeImage(image.name))
          .map((image) => ({ image, bytes: Buffer.from(b.blobs.get(image.digest)!) }));
        bundles[side].set(node, { images, endpoints });
      }
    };
    await compile('base');
    // The head: partner-api narrowed to 8443, and the Death Star admits tie fighters only (not its own replicas).
    const edit = (file: string, from: RegExp, to: string) => {
      const abs = path.join(repo.dir, file);
      const text = readFileSync(abs, 'utf8');
      const edited = text.replace(from, to);
      if (edited === text) throw new Error(`edit of ${file} did not apply`);
      writeFileSync(abs, edited);
    };
    edit('network/tenant-jobs/workers.yaml', /\n\s+endPort: 8450\n/, '\n');
    edit('network/starwars/deathstar.yaml', /(- fromEndpoints:\n\s+- matchLabels:\n(\s+)org: empire\n)/, '$1$2class: tiefighter\n');
    repo.git('commit', '-qam', 'head');
    await compile('head');

    const cache = newRevisionCache();
    const b = await loadRevision(['.'], repo.dir, { ref: 'HEAD~1', rev: 'HEAD~1' }, undefined, cache);
    const h = await loadRevision(['.'], repo.dir, { ref: 'HEAD', rev: 'HEAD' }, undefined, cache);
    closeRevisionCache(cache);
    changes = buildPlan({ base: b.model, head: h.model }).changes;

    await topo.create(pods.map((p) => ({ name: p.short, ip: p.ip, ports: p.ports })));
    for (const node of ['node-1', 'node-2']) {
      const pinDir = `${topo.pinDir}-${node}`;
      const dp = NetDatapath.open({ pinDir });
      dps.set(node, dp);
      dp.applyImages(bundles.base.get(node)!.images);
      const endpoints = pods
        .filter((p) => p.node === node)
        .map((p) => {
          const e = bundles.base.get(node)!.endpoints.find((x) => x.endpoint === p.key);
          if (!e) throw new Error(`${p.key} is not an endpoint of ${node} in the bundle`);
          return { ifname: topo.pod(p.short).hostIf, endpointId: e.endpointId, identity: e.identity, flags: e.flags };
        });
      topo.inNode(process.execPath, [
        '--import',
        'tsx',
        path.resolve(root, 'test/datapath/attach-helper.ts'),
        pinDir,
        JSON.stringify(endpoints),
      ]);
    }
  }, 120_000);

  afterAll(() => {
    for (const dp of dps.values()) dp.close();
    topo.destroy();
    for (const node of ['node-1', 'node-2']) rmSync(`${topo.pinDir}-${node}`, { recursive: true, force: true });
    repo.dispose();
  });

  const probe = async (): Promise<boolean[]> => {
    const out: boolean[] = [];
    for (const [from, to, port] of flows) out.push((await topo.pod(from).connect(topo.pod(to).ip, port, 700)).ok);
    return out;
  };

  it('the flows whose wire verdict changed are the flows the plan reports', async () => {
    const before = await probe();
    for (const [node, dp] of dps) dp.applyImages(bundles.head.get(node)!.images);
    const after = await probe();
    const byShort = new Map(pods.map((p) => [p.short, p]));
    const rows = flows.map(([from, to, port], i) => {
      const wire = before[i] === after[i] ? 'same' : after[i] ? 'newly-allowed' : 'newly-denied';
      const planned = changes.find(
        (c) => (c.category === 'newly-allowed' || c.category === 'newly-denied') && covers(c, byShort.get(from)!, byShort.get(to)!, port),
      );
      return `${from} -> ${to}:${port} wire ${wire}, plan ${planned?.category ?? 'same'}`;
    });
    // Both sides agree on every probed flow...
    for (const r of rows) expect(r, rows.join('\n')).toMatch(/wire (\S+), plan \1$/);
    // ...and the probe set does exercise both blind spots and a control that stays allowed.
    expect(rows).toContain('craw -> wrld:8444 wire newly-denied, plan newly-denied');
    expect(rows).toContain('dsb -> dsa:80 wire newly-denied, plan newly-denied');
    expect(rows).toContain('craw -> wrld:8443 wire same, plan same');
    expect(rows).toContain('tief -> dsa:80 wire same, plan same');
    expect(before[flows.findIndex(([f, t]) => f === 'tief' && t === 'dsa')]).toBe(true);
    expect(before[flows.findIndex(([f, t]) => f === 'xwin' && t === 'dsa')]).toBe(false);
  }, 120_000);
});
