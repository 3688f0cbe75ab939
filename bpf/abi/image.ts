// A map image as the bundle carries it and the datapath loads it: the records of one BPF map,
// key‖value pairs of the ABI's structs sorted by key bytes, described by a manifest entry.

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

/** The key‖value records of an image's blob, without copies; throws unless the blob is whole records. */
export function imageRecords(image: Pick<MapImage, 'keySize' | 'valueSize'>, blob: Uint8Array): [Uint8Array, Uint8Array][] {
  const rec = image.keySize + image.valueSize;
  if (blob.length % rec !== 0) throw new Error(`blob of ${blob.length} bytes is not a whole number of ${rec}-byte records`);
  const out: [Uint8Array, Uint8Array][] = [];
  for (let off = 0; off < blob.length; off += rec)
    out.push([blob.subarray(off, off + image.keySize), blob.subarray(off + image.keySize, off + rec)]);
  return out;
}

/**
 * The record order of an image, for `n` keys of `keySize` bytes laid end to end: by key bytes (as
 * the bundle assembler's imageBlob sorts records), stable.
 * Keys are compared as big-endian u32 words read once, instead of a byte loop per comparison.
 */
export function keyOrder(keys: Buffer, keySize: number, n: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  if (keySize % 4 !== 0)
    return order.sort(
      (a, b) => Buffer.compare(keys.subarray(a * keySize, (a + 1) * keySize), keys.subarray(b * keySize, (b + 1) * keySize)) || a - b,
    );
  const w = keySize / 4;
  const words = new Uint32Array(n * w);
  for (let i = 0; i < n * w; i++) words[i] = keys.readUInt32BE(i * 4);
  return order.sort((a, b) => {
    for (let k = 0; k < w; k++) {
      const x = words[a * w + k]!;
      const y = words[b * w + k]!;
      if (x !== y) return x < y ? -1 : 1;
    }
    return a - b;
  });
}
