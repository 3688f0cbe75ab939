// Assembles map images and JSON tables from any number of producers (the network compiler,
// the runtime compiler) into one deterministic, content-addressed bundle.
import { createHash } from 'node:crypto';
import type { BundleManifest, MapImage, NodeImages } from './types.js';

/** A map image before hashing: its records (key, value) in any order. */
export interface ImageDraft {
  image: Omit<MapImage, 'digest' | 'entries'>;
  records: readonly (readonly [Uint8Array, Uint8Array])[];
  /** Precomputed blob and digest (when the producer already deduplicated identical images). */
  blob?: Uint8Array;
  digest?: string;
}

export interface TableDraft {
  name: string;
  value: unknown;
}

/** What one compiler stage contributes: images per node and bundle-wide tables. */
export interface ProducerOutput {
  nodes: Map<string, ImageDraft[]>;
  tables: TableDraft[];
}

export interface Bundle {
  manifest: BundleManifest;
  /** manifest.json bytes exactly as written (what the controller signs). */
  manifestBytes: Uint8Array;
  /** sha256 hex of manifestBytes: the bundle's name. */
  digest: string;
  /** Every blob the manifest names (map images and tables), by sha256 hex. */
  blobs: Map<string, Uint8Array>;
}

export function sha256(b: Uint8Array | string): string {
  return createHash('sha256').update(b).digest('hex');
}

/** JSON with object keys sorted, so equal values always give equal bytes. */
export function canonicalJson(v: unknown, indent = 0): string {
  // Bundle tables and the manifest run to megabytes. JSON.stringify with a property list emits
  // every object's keys in the list's order, so the sorted list of all keys in the value gives
  // canonical JSON natively, without a sorted copy of every object. Values where the two could
  // differ (integer-like keys, which JSON.stringify orders first; toJSON; boxed primitives;
  // __proto__) take the copying path, which defines the output.
  const keys = new Set<string>();
  if (collectKeys(v, keys)) {
    // JSON.stringify looks every listed key up in every object: with many distinct keys
    // (label maps) one walk that sorts each object's own keys is cheaper.
    if (keys.size <= 64) return JSON.stringify(v, [...keys].sort(), indent);
    try {
      return writeCanonical(v, ' '.repeat(Math.min(10, Math.max(0, Math.floor(indent)))), '');
    } catch (e) {
      if (e !== notCanonical) throw e;
    }
  }
  return slowCanonicalJson(v, indent);
}

/** Adds every object key under `x` to `keys`; false when the property-list path would not be exact. */
function collectKeys(x: unknown, keys: Set<string>): boolean {
  if (x === null || typeof x !== 'object') return true;
  if (Array.isArray(x)) {
    for (let i = 0; i < x.length; i++) if (!collectKeys(x[i], keys)) return false;
    return true;
  }
  if (typeof (x as { toJSON?: unknown }).toJSON === 'function' || x instanceof Number || x instanceof String || x instanceof Boolean)
    return false;
  for (const k of Object.keys(x)) {
    const c = k.charCodeAt(0);
    if ((c >= 48 && c <= 57) || k === '__proto__') return false;
    keys.add(k);
    if (!collectKeys((x as Record<string, unknown>)[k], keys)) return false;
  }
  return true;
}

const notCanonical = new Error('value needs the copying canonical JSON path');

function writeCanonical(x: unknown, gap: string, ind: string): string {
  switch (typeof x) {
    case 'string':
      return JSON.stringify(x);
    case 'number':
      return Number.isFinite(x) ? String(x) : 'null';
    case 'boolean':
      return x ? 'true' : 'false';
    case 'object':
      break;
    default:
      throw notCanonical;
  }
  if (x === null) return 'null';
  const inner = ind + gap;
  const sep = gap ? ',\n' + inner : ',';
  if (Array.isArray(x)) {
    if (x.length === 0) return '[]';
    let out = '';
    for (let i = 0; i < x.length; i++) {
      const e: unknown = x[i];
      out += (i ? sep : '') + (e === undefined ? 'null' : writeCanonical(e, gap, inner));
    }
    return gap ? `[\n${inner}${out}\n${ind}]` : `[${out}]`;
  }
  const keys = Object.keys(x).sort();
  let out = '';
  let n = 0;
  for (const k of keys) {
    const val = (x as Record<string, unknown>)[k];
    if (val === undefined) continue;
    // Integer-like keys are ordered numerically by JSON.stringify; toJSON would be called.
    const c = k.charCodeAt(0);
    if ((c >= 48 && c <= 57) || k === 'toJSON') throw notCanonical;
    out += (n++ ? sep : '') + JSON.stringify(k) + (gap ? ': ' : ':') + writeCanonical(val, gap, inner);
  }
  if (n === 0) return '{}';
  return gap ? `{\n${inner}${out}\n${ind}}` : `{${out}}`;
}

function slowCanonicalJson(v: unknown, indent: number): string {
  const norm = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(norm);
    if (x && typeof x === 'object') {
      const o: Record<string, unknown> = {};
      for (const k of Object.keys(x as object).sort()) {
        const val = (x as Record<string, unknown>)[k];
        if (val !== undefined) o[k] = norm(val);
      }
      return o;
    }
    return x;
  };
  return JSON.stringify(norm(v), null, indent);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** Records sorted by key bytes and concatenated key‖value: the blob format of a map image. */
export function imageBlob(records: readonly (readonly [Uint8Array, Uint8Array])[]): Uint8Array {
  const sorted = [...records].sort((x, y) => compareBytes(x[0], y[0]));
  let size = 0;
  for (const [k, v] of sorted) size += k.length + v.length;
  const out = new Uint8Array(size);
  let off = 0;
  for (const [k, v] of sorted) {
    out.set(k, off);
    off += k.length;
    out.set(v, off);
    off += v.length;
  }
  return out;
}

export { imageRecords } from '../../bpf/abi/image.js';

/**
 * Serialized tables by value object. A producer that passes a frozen table value promises not to
 * change it, so rebuilds that hand over the same object reuse its bytes.
 */
const frozenTables = new WeakMap<object, { bytes: Uint8Array; digest: string }>();

function tableBlob(value: unknown): { bytes: Uint8Array; digest: string } {
  const memo = value !== null && typeof value === 'object' && Object.isFrozen(value);
  const hit = memo ? frozenTables.get(value) : undefined;
  if (hit) return hit;
  const bytes = new TextEncoder().encode(canonicalJson(value));
  const r = { bytes, digest: sha256(bytes) };
  if (memo) frozenTables.set(value, r);
  return r;
}

export interface AssembleOptions {
  source: BundleManifest['source'];
  compilerVersion: string;
  abi: BundleManifest['abi'];
}

export function assembleBundle(outputs: readonly ProducerOutput[], opts: AssembleOptions): Bundle {
  const blobs = new Map<string, Uint8Array>();
  const draftsByNode = new Map<string, ImageDraft[]>();
  for (const o of outputs)
    for (const [node, drafts] of o.nodes) {
      const list = draftsByNode.get(node);
      if (list) for (const d of drafts) list.push(d);
      else draftsByNode.set(node, [...drafts]);
    }
  const prevNodes = lastNodes;
  const nextNodes = new Map<string, NodeAssembly>();
  const assemblies: NodeAssembly[] = [];
  for (const node of [...draftsByNode.keys()].sort()) {
    const drafts = draftsByNode.get(node)!;
    const prev = prevNodes.get(node);
    const asm = prev && sameDrafts(prev.drafts, drafts) ? prev : assembleNode(node, drafts, prev);
    for (let i = 0; i < drafts.length; i++) {
      const digest = asm.digests[i]!;
      if (!blobs.has(digest)) blobs.set(digest, asm.blobs[i]!);
    }
    nextNodes.set(node, asm);
    assemblies.push(asm);
  }
  lastNodes = nextNodes;
  const nodes: NodeImages[] = assemblies.map((a) => ({ node: a.node, maps: a.maps }));
  const tables: BundleManifest['tables'] = [];
  for (const o of outputs)
    for (const t of o.tables) {
      const { bytes, digest } = tableBlob(t.value);
      if (!blobs.has(digest)) blobs.set(digest, bytes);
      tables.push({ name: t.name, digest, mediaType: 'application/json' });
    }
  tables.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const manifest: BundleManifest = {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Bundle',
    source: opts.source,
    compiler: { version: opts.compilerVersion },
    abi: opts.abi,
    nodes,
    tables,
  };
  const manifestBytes = manifestJson(manifest, assemblies);
  return { manifest, manifestBytes, digest: sha256(manifestBytes), blobs };
}

/** Every blob digest a manifest names (all nodes' images and the tables), sorted. */
export function manifestDigests(m: BundleManifest): string[] {
  const set = new Set<string>();
  for (const n of m.nodes) for (const img of n.maps) set.add(img.digest);
  for (const t of m.tables) set.add(t.digest);
  return [...set].sort();
}

/**
 * The bundle of an existing manifest and its blobs, serialized as assembleBundle serializes
 * (canonical JSON, two-space indent, newline); refuses a blob that is missing or does not hash to its digest.
 */
export function bundleFromManifest(manifest: BundleManifest, blobs: ReadonlyMap<string, Uint8Array>): Bundle {
  const manifestBytes = encoder.encode(canonicalJson(manifest, 2) + '\n');
  const own = new Map<string, Uint8Array>();
  for (const d of manifestDigests(manifest)) {
    const b = blobs.get(d);
    if (!b) throw new Error(`bundle manifest names blob ${d} but no such blob was given`);
    if (sha256(b) !== d) throw new Error(`blob ${d} does not match its digest`);
    own.set(d, b);
  }
  return { manifest, manifestBytes, digest: sha256(manifestBytes), blobs: own };
}

/**
 * One node's part of an assembly: its images (sorted by name, then endpoint id, frozen), the blob
 * and digest of each draft in draft order, and its entry of the manifest as UTF-8 bytes.
 */
interface NodeAssembly {
  node: string;
  drafts: readonly ImageDraft[];
  digests: string[];
  blobs: Uint8Array[];
  maps: MapImage[];
  /** Canonical JSON of each image of `maps`, indented to its depth in the manifest. */
  texts: string[];
  bytes: Uint8Array;
}

/**
 * The last assembly's nodes. Producers hand over frozen drafts for images that did not change
 * (compiler/lower keeps them across incremental builds), so a one-policy rebuild finds most nodes'
 * drafts identical, object for object, and reuses their images and manifest bytes whole. Only the
 * last assembly is kept, so the memo never outgrows one bundle.
 */
let lastNodes = new Map<string, NodeAssembly>();

/** Same drafts, object for object; only frozen drafts with their blob attached can be trusted unchanged. */
function sameDrafts(a: readonly ImageDraft[], b: readonly ImageDraft[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const d = b[i]!;
    if (a[i] !== d || !d.blob || !d.digest || !Object.isFrozen(d) || !Object.isFrozen(d.image)) return false;
  }
  return true;
}

const mapKey = (m: MapImage) => `${m.name}\u0000${m.endpointId ?? ''}`;

function assembleNode(node: string, drafts: readonly ImageDraft[], prev: NodeAssembly | undefined): NodeAssembly {
  const digests: string[] = [];
  const blobList: Uint8Array[] = [];
  const maps: MapImage[] = [];
  for (const d of drafts) {
    let blob = d.blob;
    let digest = d.digest;
    if (!blob || !digest) {
      blob = imageBlob(d.records);
      digest = sha256(blob);
    }
    digests.push(digest);
    blobList.push(blob);
    const rec = d.image.keySize + d.image.valueSize;
    maps.push(Object.freeze({ ...d.image, entries: rec ? blob.length / rec : 0, digest }));
  }
  maps.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) || (a.endpointId ?? 0) - (b.endpointId ?? 0));
  // Images whose fields all equal last time's keep their text (images are flat objects of strings
  // and numbers: equal fields give equal text).
  const prevAt = new Map<string, number>();
  if (prev) prev.maps.forEach((m, i) => prevAt.set(mapKey(m), i));
  const texts = maps.map((m) => {
    const i = prevAt.get(mapKey(m));
    if (i !== undefined && isFlat(m) && sameImage(prev!.maps[i]!, m)) return prev!.texts[i]!;
    return canonicalJson(m, 2).replaceAll('\n', '\n        ');
  });
  const same = prev && prev.texts.length === texts.length && prev.texts.every((t, i) => t === texts[i]);
  const bytes = same
    ? prev.bytes
    : encoder.encode(
        `{\n      "maps": ${texts.length ? `[\n        ${texts.join(',\n        ')}\n      ]` : '[]'},\n      "node": ${JSON.stringify(node)}\n    }`,
      );
  return { node, drafts, digests, blobs: blobList, maps, texts, bytes };
}

const encoder = new TextEncoder();

function sameImage(a: MapImage, b: MapImage): boolean {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i]!;
    if (k !== kb[i] || (a as unknown as Record<string, unknown>)[k] !== (b as unknown as Record<string, unknown>)[k]) return false;
  }
  return true;
}

function isFlat(m: MapImage): boolean {
  for (const v of Object.values(m))
    if (v !== undefined && typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return false;
  return true;
}

/** Placeholder for the nodes array; JSON escapes NUL, so no real value can produce this text. */
const nodesMark = '\u0000weir:nodes\u0000';

/**
 * canonicalJson(manifest, 2) + '\n' as UTF-8, assembled from each node's bytes. Canonical JSON sorts
 * each object's own keys, so a sub-value serialized on its own and re-indented to its depth gives
 * the same text as the whole: nodes sit at depth 2, each node's `maps` then `node` keys (sorted),
 * images at depth 4. UTF-8 of a concatenation is the concatenation of the pieces' UTF-8.
 */
function manifestJson(manifest: BundleManifest, nodes: readonly NodeAssembly[]): Uint8Array {
  const enc = encoder;
  const parts = nodes.map((n) => n.bytes);
  const shell = canonicalJson({ ...manifest, nodes: nodesMark }, 2);
  const mark = JSON.stringify(nodesMark);
  const at = shell.indexOf(mark);
  const sep = enc.encode(',\n    ');
  const seq: Uint8Array[] = [enc.encode(shell.slice(0, at) + (parts.length ? '[\n    ' : '[]'))];
  parts.forEach((p, i) => seq.push(...(i ? [sep, p] : [p])));
  seq.push(enc.encode((parts.length ? '\n  ]' : '') + shell.slice(at + mark.length) + '\n'));
  let size = 0;
  for (const p of seq) size += p.length;
  const out = new Uint8Array(size);
  let off = 0;
  for (const p of seq) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
