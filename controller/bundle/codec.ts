// A bundle in memory: the manifest bytes (what is signed), its digest, and the blobs it names.
// The manifest is serialized canonically (sorted keys, no whitespace) so the same compile
// always yields the same digest, whatever the order in which the compiler built the object.
import { createHash } from 'node:crypto';
import type { BundleManifest, MapImage } from '../../compiler/bundle/types.js';


export interface Bundle {
  manifest: BundleManifest;
  /** Canonical JSON bytes of the manifest: exactly what is digested and signed. */
  manifestBytes: Buffer;
  /** sha256 hex of manifestBytes. */
  digest: string;
  /** Every blob the manifest names (map images and tables), by sha256 hex. */
  blobs: Map<string, Buffer>;
}

export function sha256hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v as Record<string, unknown>).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = canonical(x);
    }
    return out;
  }
  return v;
}

export function canonicalJson(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(canonical(v)), 'utf8');
}

/** Every digest a manifest refers to, for all nodes (or only `node`'s maps plus the shared tables). */
export function referencedDigests(m: BundleManifest, node?: string): string[] {
  const set = new Set<string>();
  for (const n of m.nodes) {
    if (node !== undefined && n.node !== node) continue;
    for (const img of n.maps) set.add(img.digest);
  }
  for (const t of m.tables) set.add(t.digest);
  return [...set].sort();
}

export function makeBundle(manifest: BundleManifest, blobs: Map<string, Buffer>): Bundle {
  const manifestBytes = canonicalJson(manifest);
  for (const d of referencedDigests(manifest)) {
    const b = blobs.get(d);
    if (!b) throw new Error(`bundle manifest names blob ${d} but the compiler produced no such blob`);
    if (sha256hex(b) !== d) throw new Error(`blob ${d} does not match its digest`);
  }
  return { manifest, manifestBytes, digest: sha256hex(manifestBytes), blobs };
}

export function parseManifest(bytes: Buffer): BundleManifest {
  const m = JSON.parse(bytes.toString('utf8')) as BundleManifest;
  if (m.apiVersion !== 'weir.dev/v1alpha1' || m.kind !== 'Bundle' || !Array.isArray(m.nodes) || !Array.isArray(m.tables)) {
    throw new Error('not a weir bundle manifest (apiVersion weir.dev/v1alpha1, kind Bundle)');
  }
  return m;
}

export function nodeMaps(m: BundleManifest, node: string): MapImage[] {
  return m.nodes.find((n) => n.node === node)?.maps ?? [];
}

/**
 * What one node receives: its own map images and tables, bound to the bundle by digest and signed
 * on its own. A node downloads a few hundred bytes of manifest instead of the whole fleet's map
 * list, and learns nothing about other nodes' policy (least privilege, as Cilium agents see
 * only their own endpoints). Tables named `NAME@NODE` are node-specific and arrive as `NAME`.
 */
export interface NodeManifest {
  apiVersion: 'weir.dev/v1alpha1';
  kind: 'NodeBundle';
  /** Digest of the whole bundle manifest this node view was cut from. */
  bundle: string;
  node: string;
  source: BundleManifest['source'];
  compiler: BundleManifest['compiler'];
  abi: BundleManifest['abi'];
  maps: MapImage[];
  tables: BundleManifest['tables'];
}

export function nodeManifest(m: BundleManifest, bundleDigest: string, node: string): { manifest: NodeManifest; bytes: Buffer; digest: string } {
  const tables = m.tables
    .filter((t) => !t.name.includes('@') || t.name.endsWith(`@${node}`))
    .map((t) => ({ ...t, name: t.name.split('@')[0]! }));
  // Sorted by (name, endpoint) and name, so a view can be rebuilt from a delta (manifestDelta).
  const maps = [...nodeMaps(m, node)].sort((a, b) => mapKey(a).localeCompare(mapKey(b)));
  tables.sort((a, b) => a.name.localeCompare(b.name));
  const manifest: NodeManifest = { apiVersion: 'weir.dev/v1alpha1', kind: 'NodeBundle', bundle: bundleDigest, node, source: m.source, compiler: m.compiler, abi: m.abi, maps, tables };
  const bytes = canonicalJson(manifest);
  return { manifest, bytes, digest: sha256hex(bytes) };
}

export function mapKey(m: MapImage): string {
  return `${m.name}\u0000${m.endpoint ?? ''}`;
}

export function parseNodeManifest(bytes: Buffer): NodeManifest {
  const m = JSON.parse(bytes.toString('utf8')) as NodeManifest;
  if (m.apiVersion !== 'weir.dev/v1alpha1' || m.kind !== 'NodeBundle' || !Array.isArray(m.maps) || !Array.isArray(m.tables)) {
    throw new Error('not a weir node bundle manifest (apiVersion weir.dev/v1alpha1, kind NodeBundle)');
  }
  return m;
}

/** What changed from one node manifest to the next: a few hundred bytes instead of the whole map list. */
export interface NodeManifestDelta {
  kind: 'NodeBundleDelta';
  base: string;
  target: string;
  set: Pick<NodeManifest, 'bundle' | 'source' | 'compiler' | 'abi'>;
  maps: { remove: string[]; put: MapImage[] };
  tables: { remove: string[]; put: NodeManifest['tables'] };
}

export function manifestDelta(base: NodeManifest, baseDigest: string, target: NodeManifest, targetDigest: string): NodeManifestDelta {
  const bm = new Map(base.maps.map((m) => [mapKey(m), JSON.stringify(m)]));
  const tm = new Map(target.maps.map((m) => [mapKey(m), m]));
  const bt = new Map(base.tables.map((t) => [t.name, t.digest]));
  const tt = new Map(target.tables.map((t) => [t.name, t]));
  return {
    kind: 'NodeBundleDelta',
    base: baseDigest,
    target: targetDigest,
    set: { bundle: target.bundle, source: target.source, compiler: target.compiler, abi: target.abi },
    maps: { remove: [...bm.keys()].filter((k) => !tm.has(k)), put: [...tm].filter(([k, m]) => bm.get(k) !== JSON.stringify(m)).map(([, m]) => m) },
    tables: { remove: [...bt.keys()].filter((k) => !tt.has(k)), put: [...tt.values()].filter((t) => bt.get(t.name) !== t.digest) },
  };
}

/** Rebuilds the target manifest bytes from the base and a delta; the caller checks the digest. */
export function applyManifestDelta(base: NodeManifest, d: NodeManifestDelta): Buffer {
  const maps = new Map(base.maps.map((m) => [mapKey(m), m]));
  for (const k of d.maps.remove) maps.delete(k);
  for (const m of d.maps.put) maps.set(mapKey(m), m);
  const tables = new Map(base.tables.map((t) => [t.name, t]));
  for (const n of d.tables.remove) tables.delete(n);
  for (const t of d.tables.put) tables.set(t.name, t);
  const manifest: NodeManifest = {
    ...base,
    ...d.set,
    maps: [...maps.values()].sort((a, b) => mapKey(a).localeCompare(mapKey(b))),
    tables: [...tables.values()].sort((a, b) => a.name.localeCompare(b.name)),
  };
  return canonicalJson(manifest);
}
