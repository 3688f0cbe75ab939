import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { assembleBundle, type ImageDraft } from '../../compiler/bundle/assemble.js';
import { NetworkBuilder } from '../../compiler/bundle/incremental.js';
import { buildFromDocuments, buildFromSources } from '../../compiler/build.js';
import { readInventory } from '../../compiler/inventory/load.js';
import { loadPolicies } from '../../compiler/load/index.js';
import { MapStateCache } from '../../compiler/lower/network/images.js';

const root = path.resolve(import.meta.dirname, '../..');
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('incremental build', () => {
  it('gives the same bytes as a fresh build after a one-policy edit', async () => {
    const d = await mkdtemp(path.join(root, '.weirnet-inc-'));
    dirs.push(d);
    await cp(path.join(root, 'policies/network'), path.join(d, 'network'), { recursive: true });
    await cp(path.join(root, 'policies/inventory.yaml'), path.join(d, 'inventory.yaml'));
    const b = new NetworkBuilder({ paths: ['network'], inventory: ['inventory.yaml'], root: d, producers: [] });
    const first = await b.build();
    expect(first.diagnostics).toEqual([]);
    const f = path.join(d, 'network/tenant-jobs/elasticsearch.yaml');
    await writeFile(f, (await readFile(f, 'utf8')).replace('port: "9200"', 'port: "9201"'));
    const inc = await b.build(['network/tenant-jobs/elasticsearch.yaml']);
    const fresh = await buildFromSources({ paths: ['network'], inventory: ['inventory.yaml'], root: d, producers: [] });
    expect(Buffer.from(inc.bundle!.manifestBytes).equals(Buffer.from(fresh.bundle!.manifestBytes))).toBe(true);
    expect(Buffer.from(inc.bundle!.manifestBytes).equals(Buffer.from(first.bundle!.manifestBytes))).toBe(false);
    expect([...inc.bundle!.blobs.keys()].sort()).toEqual([...fresh.bundle!.blobs.keys()].sort());

    // An extra rule early in file order shifts every later cookie; a new CIDR changes the identities.
    const g = path.join(d, 'network/starwars/deathstar.yaml');
    await writeFile(g, (await readFile(g, 'utf8')) + '  - fromCIDR: [198.51.100.0/24]\n');
    const inc2 = await b.build(['network/starwars/deathstar.yaml']);
    const fresh2 = await buildFromSources({ paths: ['network'], inventory: ['inventory.yaml'], root: d, producers: [] });
    expect(inc2.diagnostics).toEqual([]);
    expect(Buffer.from(inc2.bundle!.manifestBytes).equals(Buffer.from(fresh2.bundle!.manifestBytes))).toBe(true);
    expect(inc2.ir.origins.length).toBe(first.ir.origins.length + 1);
  });

  it('hands unchanged endpoints the same frozen drafts, so whole nodes are reused', async () => {
    const d = await mkdtemp(path.join(root, '.weirnet-inc-'));
    dirs.push(d);
    await cp(path.join(root, 'policies/network'), path.join(d, 'network'), { recursive: true });
    await cp(path.join(root, 'policies/inventory.yaml'), path.join(d, 'inventory.yaml'));
    const b = new NetworkBuilder({ paths: ['network'], inventory: ['inventory.yaml'], root: d, producers: [] });
    const first = await b.build();
    const again = await b.build(['network/tenant-jobs/elasticsearch.yaml']);
    // Nothing changed: every node's images are the very objects of the last build, bytes equal.
    expect(again.bundle!.manifest.nodes.map((n) => n.maps)).toEqual(first.bundle!.manifest.nodes.map((n) => n.maps));
    again.bundle!.manifest.nodes.forEach((n, i) => expect(n.maps).toBe(first.bundle!.manifest.nodes[i]!.maps));
    expect(Buffer.from(again.bundle!.manifestBytes).equals(Buffer.from(first.bundle!.manifestBytes))).toBe(true);
    expect(Object.isFrozen(again.lowered.endpointTable)).toBe(true);

    // A port change touches the endpoints of one node only; the other nodes keep their image objects.
    const f = path.join(d, 'network/tenant-jobs/elasticsearch.yaml');
    await writeFile(f, (await readFile(f, 'utf8')).replace('port: "9200"', 'port: "9201"'));
    const inc = await b.build(['network/tenant-jobs/elasticsearch.yaml']);
    const changed = inc.bundle!.manifest.nodes.filter((n, i) => n.maps !== again.bundle!.manifest.nodes[i]!.maps).map((n) => n.node);
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.length).toBeLessThan(inc.bundle!.manifest.nodes.length);
    const fresh = await buildFromSources({ paths: ['network'], inventory: ['inventory.yaml'], root: d, producers: [] });
    expect(Buffer.from(inc.bundle!.manifestBytes).equals(Buffer.from(fresh.bundle!.manifestBytes))).toBe(true);
  });

  it('never reuses a draft that is not frozen, even when it is the same object', () => {
    const image = { name: 'm', keyType: 'k', valueType: 'v', type: 'hash', keySize: 1, valueSize: 1, maxEntries: 4 } as const;
    const records: [Uint8Array, Uint8Array][] = [[Uint8Array.of(1), Uint8Array.of(2)]];
    const draft: ImageDraft = { image, records };
    const opts = { source: { paths: [] }, compilerVersion: 'test', abi: { digest: '', version: 1 } };
    const a = assembleBundle([{ nodes: new Map([['n1', [draft]]]), tables: [] }], opts);
    records.push([Uint8Array.of(3), Uint8Array.of(4)]);
    const b = assembleBundle([{ nodes: new Map([['n1', [draft]]]), tables: [] }], opts);
    expect(a.manifest.nodes[0]!.maps[0]!.entries).toBe(1);
    expect(b.manifest.nodes[0]!.maps[0]!.entries).toBe(2);
    expect(b.manifest.nodes[0]!.maps[0]!.digest).not.toBe(a.manifest.nodes[0]!.maps[0]!.digest);
    // A frozen draft with its blob is trusted: the same object gives the same node assembly.
    const frozen = Object.freeze({ image: Object.freeze({ ...image }), records: [], blob: Uint8Array.of(1, 2), digest: 'd1' });
    const c = assembleBundle([{ nodes: new Map([['n1', [frozen]]]), tables: [] }], opts);
    const e = assembleBundle([{ nodes: new Map([['n1', [frozen]]]), tables: [] }], opts);
    expect(e.manifest.nodes[0]!.maps).toBe(c.manifest.nodes[0]!.maps);
    expect(Buffer.from(e.manifestBytes).equals(Buffer.from(c.manifestBytes))).toBe(true);
  });

  it('keeps only the map states and rule ids of the last build (a long-running controller does not grow)', async () => {
    const loaded = await loadPolicies(['policies/network'], { root });
    const inv = await readInventory(['policies/inventory.yaml'], { root });
    const cache = new MapStateCache();
    const all = await buildFromDocuments(loaded.documents, inv.inventory, { source: { paths: [] }, cache, producers: [] });
    const distinct = new Set(all.lowered.mapStates.values()).size;
    expect(cache.states.size).toBe(distinct);
    expect(cache.ruleIds.size).toBeGreaterThan(0);
    // A revision with no network policy leaves nothing behind.
    await buildFromDocuments([], inv.inventory, { source: { paths: [] }, cache, producers: [] });
    expect(cache.ruleIds.size).toBe(0);
    expect(cache.states.size).toBeLessThanOrEqual(1);
    // And the next build starts over with fresh ids, byte-identical to a fresh build.
    const again = await buildFromDocuments(loaded.documents, inv.inventory, { source: { paths: [] }, cache, producers: [] });
    expect(Buffer.from(again.bundle!.manifestBytes).equals(Buffer.from(all.bundle!.manifestBytes))).toBe(true);
  });
});
