// The bundle on disk: DIR/manifest.json and DIR/blobs/sha256/<hex>. writeBundle writes files in
// a fixed order with fixed bytes; readBundle checks every blob's digest as it reads it.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { manifestDigests, sha256, type Bundle } from './assemble.js';
import type { BundleManifest } from './types.js';

/** Parses manifest.json bytes; `source` names them in the error when they are not a weir bundle manifest. */
export function parseManifest(bytes: Uint8Array, source = 'the manifest'): BundleManifest {
  const m = JSON.parse(new TextDecoder().decode(bytes)) as BundleManifest;
  if (m.apiVersion !== 'weir.dev/v1alpha1' || m.kind !== 'Bundle' || !Array.isArray(m.nodes) || !Array.isArray(m.tables)) {
    throw new Error(`${source} is not a weir Bundle manifest (apiVersion weir.dev/v1alpha1, kind Bundle)`);
  }
  return m;
}

export async function writeBundle(dir: string, bundle: Bundle): Promise<void> {
  const blobDir = path.join(dir, 'blobs', 'sha256');
  await rm(path.join(dir, 'blobs'), { recursive: true, force: true });
  await rm(path.join(dir, 'manifest.sig'), { force: true });
  await mkdir(blobDir, { recursive: true });
  for (const digest of [...bundle.blobs.keys()].sort()) await writeFile(path.join(blobDir, digest), bundle.blobs.get(digest)!);
  await writeFile(path.join(dir, 'manifest.json'), bundle.manifestBytes);
}

export interface ReadBundle {
  manifest: BundleManifest;
  manifestBytes: Uint8Array;
  /** The blob with this sha256 digest; throws if it is missing or its bytes do not hash to it. */
  blob(digest: string): Uint8Array;
  /** A JSON table by name, parsed. */
  table<T = unknown>(name: string): T | undefined;
}

export async function readBundle(dir: string): Promise<ReadBundle> {
  const manifestBytes = new Uint8Array(await readFile(path.join(dir, 'manifest.json')));
  const manifest = parseManifest(manifestBytes, `${dir}/manifest.json`);
  const blobs = new Map<string, Uint8Array>();
  for (const d of manifestDigests(manifest)) {
    if (!/^[0-9a-f]{64}$/.test(d)) throw new Error(`manifest names an invalid digest ${JSON.stringify(d)}`);
    const b = new Uint8Array(await readFile(path.join(dir, 'blobs', 'sha256', d)));
    if (sha256(b) !== d) throw new Error(`blob ${d} does not match its digest (corrupt bundle)`);
    blobs.set(d, b);
  }
  return {
    manifest,
    manifestBytes,
    blob(digest) {
      const b = blobs.get(digest);
      if (!b) throw new Error(`blob ${digest} is not in the bundle`);
      return b;
    },
    table<T>(name: string): T | undefined {
      const t = manifest.tables.find((x) => x.name === name);
      return t ? (JSON.parse(new TextDecoder().decode(blobs.get(t.digest)!)) as T) : undefined;
    },
  };
}
