// What crosses the wire between controller and agents: each node's own signed view of a bundle
// (node manifests), manifest deltas and blob deltas. The bundle itself, its canonical JSON and
// sha256 are compiler/bundle's; the views here are serialized with the same canonical JSON.
import type { BundleManifest, MapImage } from '../../compiler/bundle/types.js';
import { canonicalJson, sha256 } from '../../compiler/bundle/assemble.js';

/** Canonical JSON bytes (sorted keys, no whitespace): what node views and deltas are sent and signed as. */
function canonicalBytes(v: unknown): Buffer {
  return Buffer.from(canonicalJson(v), 'utf8');
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
  /**
   * Signed rollout step, monotonic across the controller's life: an agent refuses a view with a
   * lower sequence than the one it applied (a replayed older bundle), so a rollback is a new,
   * higher-numbered view of the old content. 0: a local view, never sent to an agent.
   */
  sequence: number;
  /** The revision (commit) this view rolls out, signed with it (the desired document's label is not). */
  revision: string;
  source: BundleManifest['source'];
  compiler: BundleManifest['compiler'];
  abi: BundleManifest['abi'];
  maps: MapImage[];
  tables: BundleManifest['tables'];
}

/** What a rollout step stamps on a node view. */
export interface ViewStamp {
  sequence: number;
  revision: string;
}

export function nodeManifest(
  m: BundleManifest,
  bundleDigest: string,
  node: string,
  stamp: ViewStamp = { sequence: 0, revision: m.source.revision ?? '' },
): { manifest: NodeManifest; bytes: Buffer; digest: string } {
  const tables = m.tables
    .filter((t) => !t.name.includes('@') || t.name.endsWith(`@${node}`))
    .map((t) => ({ ...t, name: t.name.split('@')[0]! }));
  // Sorted by (name, endpoint) and name, so a view can be rebuilt from a delta (manifestDelta).
  const maps = [...nodeMaps(m, node)].sort((a, b) => mapKey(a).localeCompare(mapKey(b)));
  tables.sort((a, b) => a.name.localeCompare(b.name));
  const manifest: NodeManifest = {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'NodeBundle',
    bundle: bundleDigest,
    node,
    sequence: stamp.sequence,
    revision: stamp.revision,
    source: m.source,
    compiler: m.compiler,
    abi: m.abi,
    maps,
    tables,
  };
  const bytes = canonicalBytes(manifest);
  return { manifest, bytes, digest: sha256(bytes) };
}

export function mapKey(m: MapImage): string {
  return `${m.name}\u0000${m.endpoint ?? ''}`;
}

export function parseNodeManifest(bytes: Buffer): NodeManifest {
  const m = JSON.parse(bytes.toString('utf8')) as NodeManifest;
  if (
    m === null ||
    typeof m !== 'object' ||
    m.apiVersion !== 'weir.dev/v1alpha1' ||
    m.kind !== 'NodeBundle' ||
    !Array.isArray(m.maps) ||
    !Array.isArray(m.tables) ||
    typeof m.node !== 'string' ||
    typeof m.bundle !== 'string'
  ) {
    throw new Error('not a weir node bundle manifest (apiVersion weir.dev/v1alpha1, kind NodeBundle)');
  }
  if (!Number.isSafeInteger(m.sequence) || m.sequence < 0 || typeof m.revision !== 'string')
    throw new Error('node bundle manifest without a signed sequence number and revision');
  return m;
}

/**
 * A signed statement that a node view is still what the controller wants: it bounds how long an
 * agent trusts a bundle without hearing a fresher one (TUF's timestamp role against freeze attacks).
 */
export interface NodeTimestamp {
  kind: 'NodeTimestamp';
  node: string;
  /** Digest of the node view still desired, and its sequence. */
  manifest: string;
  sequence: number;
  /** Milliseconds since the epoch, controller clock. */
  issuedAt: number;
  expires: number;
}

export function timestampBytes(t: NodeTimestamp): Buffer {
  return canonicalBytes(t);
}

export function parseTimestamp(bytes: Buffer): NodeTimestamp {
  const t = JSON.parse(bytes.toString('utf8')) as NodeTimestamp;
  if (
    t === null ||
    typeof t !== 'object' ||
    t.kind !== 'NodeTimestamp' ||
    typeof t.node !== 'string' ||
    !/^[0-9a-f]{64}$/.test(String(t.manifest)) ||
    !Number.isSafeInteger(t.sequence) ||
    !Number.isSafeInteger(t.issuedAt) ||
    !Number.isSafeInteger(t.expires)
  ) {
    throw new Error('not a weir node timestamp');
  }
  return t;
}

/** What changed from one node manifest to the next: a few hundred bytes instead of the whole map list. */
export interface NodeManifestDelta {
  kind: 'NodeBundleDelta';
  base: string;
  target: string;
  set: Pick<NodeManifest, 'bundle' | 'sequence' | 'revision' | 'source' | 'compiler' | 'abi'>;
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
    set: {
      bundle: target.bundle,
      sequence: target.sequence,
      revision: target.revision,
      source: target.source,
      compiler: target.compiler,
      abi: target.abi,
    },
    maps: {
      remove: [...bm.keys()].filter((k) => !tm.has(k)),
      put: [...tm].filter(([k, m]) => bm.get(k) !== JSON.stringify(m)).map(([, m]) => m),
    },
    tables: { remove: [...bt.keys()].filter((k) => !tt.has(k)), put: [...tt.values()].filter((t) => bt.get(t.name) !== t.digest) },
  };
}

const isRecord = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);
const isStrings = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');

/** Rebuilds the target manifest bytes from the base and a delta; throws on a malformed delta. The caller checks the digest. */
export function applyManifestDelta(base: NodeManifest, d: NodeManifestDelta): Buffer {
  // The delta comes off the wire: its shape is checked before it is used (the digest check comes after).
  const ok =
    isRecord(d) &&
    d.kind === 'NodeBundleDelta' &&
    isRecord(d.set) &&
    isRecord(d.maps) &&
    isRecord(d.tables) &&
    isStrings(d.maps.remove) &&
    Array.isArray(d.maps.put) &&
    d.maps.put.every((m) => isRecord(m) && typeof m.name === 'string') &&
    isStrings(d.tables.remove) &&
    Array.isArray(d.tables.put) &&
    d.tables.put.every((t) => isRecord(t) && typeof t.name === 'string');
  if (!ok) throw new Error('malformed manifest delta');
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
  return canonicalBytes(manifest);
}

/**
 * A blob rebuilt from the one the node already holds for the same map or table: runs of the base's
 * units ([start, count]) and literal units. Units are fixed-size records (`record` bytes: map
 * images, sorted key‖value records) or, with `record` 0, the elements of a JSON array table (the
 * bundle's tables are canonical JSON arrays: cookies, endpoints, identities). A one-policy change
 * touches a few records of an endpoint's policy image and a few rows of a table, so this is what
 * crosses the wire instead of the whole blob; the agent checks the rebuilt bytes against the signed
 * digest, as for any blob, and fetches the whole blob when they differ.
 */
export interface BlobDelta {
  kind: 'BlobDelta';
  base: string;
  target: string;
  record: number;
  /** [start, count] copies base units; a string is literal units: base64 records, or JSON array elements. */
  ops: ([number, number] | string)[];
}

export const BLOB_DELTA_MEDIA_TYPE = 'application/vnd.weir.blob-delta+json';
/** Largest record a delta may use (weir's map records are tens of bytes; runtime string keys ~260). */
const MAX_DELTA_RECORD = 4096;

/** The units of a blob: fixed-size records, or the canonical text of each element of a canonical JSON array. */
function deltaUnits(b: Buffer, record: number): string[] | undefined {
  if (record > 0) {
    if (b.length % record !== 0) return undefined;
    const out: string[] = [];
    for (let o = 0; o < b.length; o += record) out.push(b.toString('latin1', o, o + record));
    return out;
  }
  let v: unknown;
  try {
    v = JSON.parse(b.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(v)) return undefined;
  const out = v.map((e) => canonicalJson(e));
  // Only a canonical array can be rebuilt byte for byte from its elements.
  return `[${out.join(',')}]` === b.toString('utf8') ? out : undefined;
}

/** The delta from `base` to `target` (`record` bytes per unit, 0 for JSON array elements); undefined when it does not apply. */
export function blobDelta(base: Buffer, baseDigest: string, target: Buffer, targetDigest: string, record: number): BlobDelta | undefined {
  if (!Number.isInteger(record) || record < 0 || record > MAX_DELTA_RECORD) return undefined;
  const bu = deltaUnits(base, record);
  const tu = bu && deltaUnits(target, record);
  if (!bu || !tu) return undefined;
  const at = new Map<string, number>();
  for (let i = bu.length - 1; i >= 0; i--) at.set(bu[i]!, i);
  const ops: BlobDelta['ops'] = [];
  let literal: string[] = [];
  const flush = () => {
    if (literal.length) ops.push(record > 0 ? Buffer.from(literal.join(''), 'latin1').toString('base64') : literal.join(','));
    literal = [];
  };
  for (const u of tu) {
    const i = at.get(u);
    if (i === undefined) {
      literal.push(u);
      continue;
    }
    flush();
    const last = ops[ops.length - 1];
    if (Array.isArray(last) && last[0] + last[1] === i) last[1]++;
    else ops.push([i, 1]);
  }
  flush();
  return { kind: 'BlobDelta', base: baseDigest, target: targetDigest, record, ops };
}

/** Rebuilds the target blob from the base and a delta; throws on a malformed delta. The caller checks the digest. */
export function applyBlobDelta(base: Buffer, d: BlobDelta, maxBytes = 256 << 20): Buffer {
  const record = d.record;
  if (d.kind !== 'BlobDelta' || !Number.isInteger(record) || record < 0 || record > MAX_DELTA_RECORD || !Array.isArray(d.ops))
    throw new Error('malformed blob delta');
  const units = deltaUnits(base, record);
  if (!units) throw new Error("the base blob does not split into the delta's units");
  const parts: string[] = [];
  let size = 0;
  for (const op of d.ops) {
    let part: string;
    if (typeof op === 'string') {
      if (record > 0) {
        const lit = Buffer.from(op, 'base64');
        if (lit.length === 0 || lit.length % record !== 0) throw new Error('blob delta literal is not a whole number of records');
        part = lit.toString('latin1');
      } else {
        const els: unknown = JSON.parse(`[${op}]`);
        part = (els as unknown[]).map((e) => canonicalJson(e)).join(',');
      }
    } else if (
      Array.isArray(op) &&
      op.length === 2 &&
      Number.isInteger(op[0]) &&
      Number.isInteger(op[1]) &&
      op[0] >= 0 &&
      op[1] >= 1 &&
      op[0] + op[1] <= units.length
    ) {
      part = units.slice(op[0], op[0] + op[1]).join(record > 0 ? '' : ',');
    } else throw new Error('blob delta copies units outside the base blob');
    size += part.length;
    if (size > maxBytes) throw new Error(`blob delta rebuilds more than ${maxBytes} bytes`);
    parts.push(part);
  }
  return record > 0 ? Buffer.from(parts.join(''), 'latin1') : Buffer.from(`[${parts.join(',')}]`, 'utf8');
}
