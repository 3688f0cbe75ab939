import { describe, expect, it } from 'vitest';
import type { BundleManifest, MapImage } from '../../compiler/bundle/types.js';
import { diffBundles } from '../../compiler/plan/maps.js';

const rec = (k: number, v: number) => [k, 0, 0, 0, v, 0];
function image(name: string, endpoint: string | undefined, rs: number[][], digest: string): { img: MapImage; blob: Uint8Array } {
  return {
    img: {
      name,
      keyType: 'k',
      valueType: 'v',
      type: 'lpm_trie',
      keySize: 4,
      valueSize: 2,
      maxEntries: 16,
      entries: rs.length,
      digest,
      ...(endpoint ? { endpoint } : {}),
    },
    blob: Uint8Array.from(rs.flat()),
  };
}
const manifest = (maps: MapImage[]): BundleManifest => ({
  apiVersion: 'weir.dev/v1alpha1',
  kind: 'Bundle',
  source: { paths: [] },
  compiler: { version: '0' },
  abi: { digest: '', version: 1 },
  nodes: [{ node: 'n1', maps }],
  tables: [],
});

describe('map deltas between two bundles', () => {
  it('counts added, removed and changed records by key and reports headroom', async () => {
    const a = image('policy', 'shop/api', [rec(1, 1), rec(2, 1), rec(3, 1)], 'a');
    const b = image('policy', 'shop/api', [rec(1, 1), rec(2, 2), rec(4, 1), rec(5, 1)], 'b');
    const same = image('ipcache', undefined, [rec(9, 9)], 'c');
    const blobs = new Map([
      ['a', a.blob],
      ['b', b.blob],
      ['c', same.blob],
    ]);
    const read = async (d: string) => blobs.get(d);
    const deltas = await diffBundles(manifest([a.img, same.img]), manifest([b.img, same.img]), read, read);
    expect(deltas).toEqual([
      {
        node: 'n1',
        map: 'policy',
        endpoint: 'shop/api',
        before: 3,
        after: 4,
        added: 2,
        removed: 1,
        changed: 1,
        maxEntries: 16,
        headroom: 12 / 16,
      },
    ]);
  });
});
