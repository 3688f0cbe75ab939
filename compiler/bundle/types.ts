// The bundle: a content-addressed, deterministic set of map images plus a manifest.
// On disk: BUNDLE/manifest.json and BUNDLE/blobs/sha256/<hex>. The controller signs
// sha256(manifest.json bytes) with ed25519 into BUNDLE/manifest.sig (base64).

import type { MapImage } from '../../bpf/abi/image.js';

// The map image is the datapath ABI's (bpf/abi/image.ts); the bundle carries it.
export type { MapImage, MapType } from '../../bpf/abi/image.js';

export interface NodeImages {
  /** Node name from the inventory. */
  node: string;
  maps: MapImage[];
}

export interface BundleManifest {
  apiVersion: 'weir.dev/v1alpha1';
  kind: 'Bundle';
  /** `allowLocalhost: policy` when built with Cilium's `--allow-localhost=policy` (the default, `auto`, is not written). */
  source: { revision?: string; paths: string[]; inventory?: string; allowLocalhost?: 'policy' };
  compiler: { version: string };
  /** sha256 of the datapath ABI (the C headers' layouts), so agents refuse bundles built for another ABI. */
  abi: { digest: string; version: number };
  nodes: NodeImages[];
  /** Non-map documents (cookie table, FQDN selectors, L7 rules) as JSON blobs by digest. */
  tables: { name: string; digest: string; mediaType: 'application/json' }[];
}
