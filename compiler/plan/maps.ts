// Per-node map deltas between two bundles (`weir build --out DIR` of each revision): entries
// added, removed and changed per map image, and the head image's headroom against max_entries.
// Records are compared by key bytes, as the kernel map sees them.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { BundleManifest, MapImage } from '../bundle/types.js';
import type { MapDelta, Plan } from './model.js';
import type { Bundle } from '../bundle/assemble.js';
import { MapStateCache } from '../lower/network/images.js';
import { verifyNetwork } from '../verify/index.js';
import type { RevisionModel } from './plan.js';

export type BlobReader = (digest: string) => Promise<Uint8Array | undefined>;

export function dirBlobReader(dir: string): BlobReader {
  return async (digest) => {
    try {
      return await fs.readFile(path.join(dir, 'blobs', 'sha256', digest));
    } catch {
      return undefined;
    }
  };
}

export async function readManifest(dir: string): Promise<BundleManifest> {
  return JSON.parse(await fs.readFile(path.join(dir, 'manifest.json'), 'utf8')) as BundleManifest;
}

/** Splits a blob of sorted key‖value records into key → value (hex). */
function records(img: MapImage, blob: Uint8Array | undefined): Map<string, string> {
  const m = new Map<string, string>();
  if (!blob) return m;
  const size = img.keySize + img.valueSize;
  for (let off = 0; off + size <= blob.byteLength; off += size) {
    m.set(
      Buffer.from(blob.subarray(off, off + img.keySize)).toString('hex'),
      Buffer.from(blob.subarray(off + img.keySize, off + size)).toString('hex'),
    );
  }
  return m;
}

export async function diffBundles(
  base: BundleManifest,
  head: BundleManifest,
  readBase: BlobReader,
  readHead: BlobReader,
): Promise<MapDelta[]> {
  const key = (node: string, m: MapImage) => `${node}|${m.name}|${m.endpoint ?? ''}`;
  const index = (b: BundleManifest) => {
    const out = new Map<string, { node: string; img: MapImage }>();
    for (const n of b.nodes) for (const m of n.maps) out.set(key(n.node, m), { node: n.node, img: m });
    return out;
  };
  const bi = index(base);
  const hi = index(head);
  const out: MapDelta[] = [];
  for (const k of [...new Set([...bi.keys(), ...hi.keys()])].sort()) {
    const b = bi.get(k);
    const h = hi.get(k);
    const ref = (h ?? b)!;
    let added = 0;
    let removed = 0;
    let changed = 0;
    if (!b || !h || b.img.digest !== h.img.digest) {
      const br = b ? records(b.img, await readBase(b.img.digest)) : new Map<string, string>();
      const hr = h ? records(h.img, await readHead(h.img.digest)) : new Map<string, string>();
      for (const [rk, v] of hr) {
        const old = br.get(rk);
        if (old === undefined) added++;
        else if (old !== v) changed++;
      }
      for (const rk of br.keys()) if (!hr.has(rk)) removed++;
    }
    if (b && h && added + removed + changed === 0) continue;
    const after = h?.img.entries ?? 0;
    const max = ref.img.maxEntries;
    out.push({
      node: ref.node,
      map: ref.img.name,
      ...(ref.img.endpoint ? { endpoint: ref.img.endpoint } : {}),
      before: b?.img.entries ?? 0,
      after,
      added,
      removed,
      changed,
      maxEntries: max,
      headroom: max > 0 ? (max - after) / max : 0,
    });
  }
  return out;
}

/** Map deltas and the head's verification from two in-memory builds (`weir plan --maps`). */
export async function planMaps(
  base: RevisionModel,
  head: RevisionModel,
): Promise<{ maps: MapDelta[]; verification?: Plan['verification'] }> {
  if (!base.build || !head.build) return { maps: [] };
  // One map-state memo for both builds: endpoints whose rules did not change are lowered once.
  const cache = new MapStateCache();
  const b = await base.build(cache);
  const h = await head.build(cache);
  const errors = h.diagnostics
    .filter((d) => d.severity === 'error')
    .map((d) => `${d.file}:${d.line}:${d.column}: ${d.message} [${d.rule}]`);
  if (!b.bundle || !h.bundle)
    return {
      maps: [],
      verification: {
        endpoints: 0,
        classes: 0,
        mismatches: 0,
        problems: [],
        errors: errors.length ? errors : ['the base bundle could not be built'],
      },
    };
  const reader =
    (bundle: Bundle): BlobReader =>
    async (d) =>
      bundle.blobs.get(d);
  const maps = await diffBundles(b.bundle.manifest, h.bundle.manifest, reader(b.bundle), reader(h.bundle));
  const hb = h.bundle;
  const report = verifyNetwork(h.ir, {
    manifest: hb.manifest,
    blob: (d) => {
      const x = hb.blobs.get(d);
      if (!x) throw new Error(`blob ${d} missing from the head bundle`);
      return x;
    },
    table: <T>(name: string) => {
      const t = hb.manifest.tables.find((x) => x.name === name);
      const x = t ? hb.blobs.get(t.digest) : undefined;
      return x ? (JSON.parse(new TextDecoder().decode(x)) as T) : undefined;
    },
  });
  return {
    maps,
    verification: {
      endpoints: report.endpoints,
      classes: report.classes,
      mismatches: report.mismatches.length,
      problems: report.problems.slice(0, 20),
      errors,
    },
  };
}
