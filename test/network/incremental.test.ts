import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildFromSources } from '../../compiler/bundle/build.js';
import { NetworkBuilder } from '../../compiler/bundle/incremental.js';

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
});
