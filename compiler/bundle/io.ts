// The bundle on disk: DIR/manifest.json and DIR/blobs/sha256/<hex>. writeBundle writes files in
// a fixed order with fixed bytes; readBundle checks every blob's digest as it reads it.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { sha256, type Bundle } from './assemble.js';
import type { BundleManifest } from './types.js';

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
  const manifest = JSON.parse(new TextDecoder().decode(manifestBytes)) as BundleManifest;
  if (manifest.apiVersion !== 'weir.dev/v1alpha1' || manifest.kind !== 'Bundle') throw new Error(`${dir}/manifest.json is not a weir Bundle manifest`);
  const digests = new Set<string>();
  for (const n of manifest.nodes) for (const m of n.maps) digests.add(m.digest);
  for (const t of manifest.tables) digests.add(t.digest);
  const blobs = new Map<string, Uint8Array>();
  for (const d of [...digests].sort()) {
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
