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
