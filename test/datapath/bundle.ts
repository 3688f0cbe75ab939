// Writes a bundle directory (manifest.json + blobs/sha256/<hex>) from images, as the compiler would.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BundleManifest } from '../../compiler/bundle/types.js';
import type { LoadedImage } from '../../bpf/net/loader.js';

export function writeBundle(dir: string, nodes: { node: string; images: LoadedImage[] }[]): void {
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const n of nodes) for (const i of n.images) writeFileSync(join(dir, 'blobs', 'sha256', i.image.digest), i.bytes);
  const manifest: BundleManifest = {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Bundle',
    source: { paths: ['test'] },
    compiler: { version: 'test' },
    abi: { digest: 'test', version: 1 },
    nodes: nodes.map((n) => ({ node: n.node, maps: n.images.map((i) => i.image) })),
    tables: [],
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
}
