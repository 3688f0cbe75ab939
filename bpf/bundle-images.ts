// Reads a bundle's map images from disk (BUNDLE/manifest.json + blobs/sha256/<hex>) for the datapath,
// checking every blob against its digest. The bundle format is compiler/bundle/types.ts.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BundleManifest } from '../compiler/bundle/types.js';
import type { LoadedImage } from './datapath.js';

export interface NodeImages {
  node: string;
  images: LoadedImage[];
}

export class BundleReadError extends Error {
  override readonly name = 'BundleReadError';
}

export function readManifest(bundleDir: string): BundleManifest {
  const path = join(bundleDir, 'manifest.json');
  if (!existsSync(path)) throw new BundleReadError(`${path}: no such file; is ${bundleDir} a bundle (weir build --out DIR)?`);
  let m: unknown;
  try {
    m = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new BundleReadError(`${path}: not JSON (${(e as Error).message})`);
  }
  const man = m as Partial<BundleManifest>;
  if (man.kind !== 'Bundle' || !Array.isArray(man.nodes)) throw new BundleReadError(`${path}: not a weir bundle manifest (kind Bundle with nodes expected)`);
  return m as BundleManifest;
}

export function readBlob(bundleDir: string, digest: string): Buffer {
  const path = join(bundleDir, 'blobs', 'sha256', digest);
  if (!existsSync(path)) throw new BundleReadError(`${path}: blob missing from the bundle`);
  const bytes = readFileSync(path);
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== digest) throw new BundleReadError(`${path}: content hashes to ${actual}, not ${digest} (corrupted or truncated blob)`);
  return bytes;
}

/** The images of every node (or only `node`), with verified bytes. */
export function readNodeImages(bundleDir: string, node?: string): NodeImages[] {
  const man = readManifest(bundleDir);
  const nodes = node ? man.nodes.filter((n) => n.node === node) : man.nodes;
  if (node && nodes.length === 0) throw new BundleReadError(`${bundleDir}: no node ${node} in the bundle (nodes: ${man.nodes.map((n) => n.node).join(', ')})`);
  const cache = new Map<string, Buffer>();
  return nodes.map((n) => ({
    node: n.node,
    images: n.maps.map((image) => {
      let bytes = cache.get(image.digest);
      if (!bytes) cache.set(image.digest, (bytes = readBlob(bundleDir, image.digest)));
      return { image, bytes };
    }),
  }));
}
