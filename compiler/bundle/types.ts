// The bundle: a content-addressed, deterministic set of map images plus a manifest.
// On disk: BUNDLE/manifest.json and BUNDLE/blobs/sha256/<hex>. The controller signs
// sha256(manifest.json bytes) with ed25519 into BUNDLE/manifest.sig (base64).

/** BPF map type names as bpftool prints them. */
export type MapType = 'lpm_trie' | 'hash' | 'array' | 'hash_of_maps' | 'array_of_maps';

/** One map image: sorted key‖value records, stored once by digest. */
export interface MapImage {
  /** Logical map name, e.g. `policy`, `ipcache`, `endpoints`, `fqdn_selectors`, `l7_rules`, or a runtime map. */
  name: string;
  /** Which C struct layouts the records follow (names from bpf/include). */
  keyType: string;
  valueType: string;
  type: MapType;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  entries: number;
  /** sha256 hex of the blob (records concatenated, sorted by key bytes). */
  digest: string;
  /** For per-endpoint maps: the endpoint the image belongs to (`ns/pod`) and its endpoint id. */
  endpoint?: string;
  endpointId?: number;
}

export interface NodeImages {
  /** Node name from the inventory. */
  node: string;
  maps: MapImage[];
}

export interface BundleManifest {
  apiVersion: 'weir.dev/v1alpha1';
  kind: 'Bundle';
  source: { revision?: string; paths: string[]; inventory?: string };
  compiler: { version: string };
  /** sha256 of the datapath ABI (the C headers' layouts), so agents refuse bundles built for another ABI. */
  abi: { digest: string; version: number };
  nodes: NodeImages[];
  /** Non-map documents (cookie table, FQDN selectors, L7 rules) as JSON blobs by digest. */
  tables: { name: string; digest: string; mediaType: 'application/json' }[];
}
