import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildFromSources } from '../../compiler/build.js';
import { readBundle, writeBundle } from '../../compiler/bundle/io.js';
import { imageRecords, sha256 } from '../../compiler/bundle/assemble.js';
import { decodePolicyKey, decodePolicyValue } from '../../bpf/abi/net.js';
import { portBlocks } from '../../compiler/lower/network/mapstate.js';

const root = path.resolve(import.meta.dirname, '../..');
const dirs: string[] = [];
const tmp = async () => {
  const d = await mkdtemp(path.join(tmpdir(), 'weirnet-bundle-'));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const build = () => buildFromSources({ paths: ['policies/network'], inventory: ['policies/inventory.yaml'], root });

async function tree(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.set(path.relative(dir, p), sha256(await readFile(p)));
    }
  };
  await walk(dir);
  return out;
}

describe('bundle', () => {
  it('is byte-identical for identical input', async () => {
    const [a, b] = [await build(), await build()];
    expect(a.diagnostics).toEqual([]);
    const [da, db] = [await tmp(), await tmp()];
    await writeBundle(da, a.bundle!);
    await writeBundle(db, b.bundle!);
    const [ta, tb] = [await tree(da), await tree(db)];
    expect(ta.size).toBeGreaterThan(10);
    expect([...ta]).toEqual([...tb]);
  });

  it('stores identical maps once and names every blob by its sha256', async () => {
    const r = await build();
    const m = r.bundle!.manifest;
    const digests = m.nodes.flatMap((n) => n.maps.map((x) => x.digest));
    expect(new Set(digests).size).toBeLessThan(digests.length);
    for (const [d, bytes] of r.bundle!.blobs) expect(sha256(bytes)).toBe(d);
    expect(m.tables.map((t) => t.name)).toEqual(['cookies', 'endpoints', 'fqdn_selectors', 'identities', 'l7_rules']);
  });

  it('round-trips through writeBundle/readBundle and refuses a tampered blob', async () => {
    const r = await build();
    const d = await tmp();
    await writeBundle(d, r.bundle!);
    const rb = await readBundle(d);
    expect(rb.manifest).toEqual(r.bundle!.manifest);
    const img = rb.manifest.nodes[0]!.maps.find((x) => x.name === 'policy' && x.entries > 0)!;
    const recs = imageRecords(img, rb.blob(img.digest));
    expect(recs.length).toBe(img.entries);
    // Records are sorted by key bytes and decode to valid keys.
    for (const [k, v] of recs) {
      expect(decodePolicyKey(k).prefixlen).toBeGreaterThanOrEqual(40);
      expect(decodePolicyValue(v).verdict).toBeLessThanOrEqual(2);
    }
    await writeFile(path.join(d, 'blobs', 'sha256', img.digest), Buffer.from('tampered'));
    await expect(readBundle(d)).rejects.toThrow(/does not match its digest/);
  });

  it('refuses to write a bundle for a policy set with errors', async () => {
    const d = await tmp();
    await writeFile(
      path.join(d, 'bad.yaml'),
      'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x, namespace: default}\nspec:\n  endpointSelector: {}\n  egress:\n  - toCIDR: [not-a-cidr]\n',
    );
    const r = await buildFromSources({ paths: [path.relative(root, d)], inventory: ['policies/inventory.yaml'], root });
    expect(r.bundle).toBeUndefined();
    expect(r.diagnostics.map((x) => [x.rule, x.line])).toEqual([['network/invalid-cidr', 7]]);
  });
});

describe('portBlocks', () => {
  it.each([
    [80, 80, [[80, 16]]],
    [0, 65535, [[0, 0]]],
    [8000, 8007, [[8000, 13]]],
    [
      8443,
      8450,
      [
        [8443, 16],
        [8444, 14],
        [8448, 15],
        [8450, 16],
      ],
    ],
  ])('%i-%i', (lo, hi, want) => {
    expect(portBlocks(lo, hi).map((b) => [b.port, b.bits])).toEqual(want);
  });
});
