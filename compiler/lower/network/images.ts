// Lowers the network IR to map images per node: the ipcache LPM (per node, since a node's own
// addresses are `host` there and `remote-node` elsewhere), one policy LPM per local endpoint
// (identical map states are computed and stored once), and the JSON tables the agent and the
// tools read (rule cookies, endpoints, identities, FQDN selectors, L7 rule sets).
import { createHash } from 'node:crypto';
import { diagnostic, type Diagnostic } from '../../diagnostics.js';
import { reservedIdentities } from '../../identity/allocate.js';
import type { IREndpoint, IRRule, L7Rules, NetworkIR } from '../../ir/network/types.js';
import { parsePrefix } from '../../model/cidr.js';
import { sha256, type ImageDraft, type ProducerOutput } from '../../bundle/assemble.js';
import {
  netLayouts,
  WEIR_EP_AUDIT,
  WEIR_EP_EGRESS_ENFORCED,
  WEIR_EP_INGRESS_ENFORCED,
  WEIR_IPCACHE_MAX_ENTRIES,
  WEIR_POLICY_MAX_ENTRIES_DEFAULT,
  writeIpcacheKey,
  writeIpcacheValue,
  writePolicyKey,
  writePolicyValue,
  type EndpointTableEntry,
} from '../../../bpf/abi/net.js';
import { keyOrder } from '../../../bpf/abi/image.js';
import { endpointMapState, L7Registry, rulesBySubject, type MapEntry } from './mapstate.js';

export interface LowerOptions {
  /** Capacity of each endpoint's policy map (WEIR_POLICY_MAX_ENTRIES_DEFAULT unless configured). */
  policyMaxEntries?: number;
}

/** The bundle's `endpoints` table row is the datapath ABI's (the agent attaches endpoints from it). */
export type { EndpointTableEntry } from '../../../bpf/abi/net.js';

export interface LoweredNetwork {
  output: ProducerOutput;
  diagnostics: Diagnostic[];
  /** Map state per endpoint key, for explain, golden dumps and verification. */
  mapStates: Map<string, MapEntry[]>;
  l7: L7Registry;
  endpointTable: EndpointTableEntry[];
}

export function endpointFlags(ep: IREndpoint): number {
  // A direction enforced only by audit-mode policies is not enforced in the datapath (an audit
  // default entry reports instead), unless the whole endpoint is in audit mode (WEIR_EP_AUDIT).
  const ing = ep.ingressEnforced && (ep.auditMode || !ep.ingressAuditOnly);
  const egr = ep.egressEnforced && (ep.auditMode || !ep.egressAuditOnly);
  return (ing ? WEIR_EP_INGRESS_ENFORCED : 0) | (egr ? WEIR_EP_EGRESS_ENFORCED : 0) | (ep.auditMode ? WEIR_EP_AUDIT : 0);
}

/** Memo of map states across builds (incremental rebuilds reuse unchanged endpoint states). */
export class MapStateCache {
  readonly states = new Map<string, CachedState>();
  /** The identities table of the last identity allocation (frozen: the bundle serializes it once). */
  identities?: { src: NetworkIR['identities']; value: readonly unknown[] };
  /** Rule signature → small number, stable across builds, so endpoint signatures stay short. */
  readonly ruleIds = new Map<string, number>();
  /** Next rule id: ids are never reused, so a pruned signature cannot alias a live one. */
  nextRuleId = 0;
  /** Per-node ipcache images of the last build, valid while the shared image and its node slots are unchanged. */
  ipcache?: {
    src: NetworkIR['ipcache'];
    baseBlob: Buffer;
    nodeSlots: { off: number; node: string }[];
    key: string;
    byNode: Map<string, { blob: Buffer; digest: string; draft?: ImageDraft }>;
  };
  /**
   * Each endpoint's policy-map draft of the last build, frozen. An endpoint whose image is unchanged
   * hands over the very same draft, so the bundle assembler reuses whole nodes (their images and
   * manifest bytes) when all of a node's drafts are the ones it saw last time.
   */
  drafts: ImageDraft[] = [];
  /** The endpoints table of the last build, frozen, in endpoint order. */
  endpointTable?: readonly Readonly<EndpointTableEntry>[];
  /** Rule signatures by the parts compile shares between builds (peers, ports, L7 objects). */
  readonly ruleSigs = new WeakMap<object, Map<string, number>>();
  readonly anyPeerSigs = new Map<string, number>();
  readonly objectIds = new WeakMap<object, number>();
  objectCount = 0;
  /** The JSON tables of the last build as deep-frozen copies, handed over again while equal. */
  readonly tables = new Map<string, unknown>();
}

/** Structural equality of JSON-like values (plain objects, arrays, primitives): equal values serialize alike. */
function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b) || Object.getPrototypeOf(a) !== Object.prototype || Object.getPrototypeOf(b) !== Object.prototype) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka)
    if (!Object.hasOwn(b, k) || !jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

/**
 * A table value the bundle serializes once per content: the last build's frozen copy while the
 * new value is equal to it (the assembler memoizes frozen tables by object), else a frozen copy.
 */
function stableTable<T>(cache: MapStateCache, name: string, value: T): T {
  if (value !== null && typeof value === 'object' && Object.isFrozen(value)) return value;
  const prev = cache.tables.get(name);
  if (prev !== undefined && jsonEqual(prev, value)) return prev as T;
  const copy = deepFreeze(structuredClone(value));
  cache.tables.set(name, copy);
  return copy;
}

/** The policy map image of one map state: keys sorted by bytes, key‖value records, written in one buffer. */
function policyBlob(entries: readonly MapEntry[]): Uint8Array {
  const pk = netLayouts.weir_policy_key.size;
  const rec = pk + netLayouts.weir_policy_value.size;
  const n = entries.length;
  const keys = Buffer.alloc(n * pk);
  for (let i = 0; i < n; i++) writePolicyKey(keys, i * pk, entries[i]!.key);
  const order = keyOrder(keys, pk, n);
  const out = new Uint8Array(n * rec);
  const ob = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  for (let j = 0; j < n; j++) {
    const i = order[j]!;
    // A byte loop: Buffer#copy costs more than 12 bytes are worth.
    for (let b = 0; b < pk; b++) ob[j * rec + b] = keys[i * pk + b]!;
    writePolicyValue(ob, j * rec + pk, entries[i]!.value);
  }
  return out;
}

/**
 * One computed map state. Its redirect entries carry state-local L7 ids (1..n, in the order the
 * state interned them); each build maps them to the bundle's ids and re-encodes only when that
 * mapping changed, so a cached state stays valid across builds.
 */
interface CachedState {
  entries: MapEntry[];
  l7Sets: L7Rules[];
  encoded?: { mapping: string; entries: MapEntry[]; blob: Uint8Array; digest: string };
}

/** A short content hash of a rule: endpoint signatures join these, so they stay small at scale. */
function ruleSignature(r: IRRule): string {
  return createHash('sha1')
    .update(JSON.stringify([r.cookie, r.direction, r.deny, r.audit, r.auth, r.peers, r.ports ?? null, r.l7 ?? null]))
    .digest('base64');
}

export function lowerNetwork(ir: NetworkIR, opts: LowerOptions = {}, cache: MapStateCache = new MapStateCache()): LoweredNetwork {
  const max = opts.policyMaxEntries ?? WEIR_POLICY_MAX_ENTRIES_DEFAULT;
  const diagnostics: Diagnostic[] = [];
  const l7 = new L7Registry();
  const bySubject = rulesBySubject(ir);
  const ruleSig = new Map<IRRule, number>();
  // compile hands out rules whose peers, ports and L7 objects are shared between builds (only the
  // rule object and its cookie are new), so a signature is found by those objects and the scalars
  // without serializing the peer list again.
  const objectId = (o: object | undefined): number => {
    if (!o) return 0;
    let id = cache.objectIds.get(o);
    if (id === undefined) cache.objectIds.set(o, (id = ++cache.objectCount));
    return id;
  };
  const sigOf = (r: IRRule) => {
    let s = ruleSig.get(r);
    if (s === undefined) {
      const short = `${r.cookie}|${r.direction}|${r.deny ? 1 : 0}|${r.audit ? 1 : 0}|${r.auth}|${objectId(r.ports)}|${objectId(r.l7)}`;
      let byPeers = r.peers === 'any' ? cache.anyPeerSigs : cache.ruleSigs.get(r.peers);
      if (!byPeers) cache.ruleSigs.set(r.peers as readonly number[], (byPeers = new Map()));
      s = byPeers.get(short);
      if (s === undefined) {
        const full = ruleSignature(r);
        s = cache.ruleIds.get(full);
        if (s === undefined) cache.ruleIds.set(full, (s = cache.nextRuleId++));
        byPeers.set(short, s);
      }
      ruleSig.set(r, s);
    }
    return s;
  };

  const mapStates = new Map<string, MapEntry[]>();
  const perNode = new Map<string, ImageDraft[]>();
  const endpointTable: EndpointTableEntry[] = [];
  const pk = netLayouts.weir_policy_key.size;
  const pv = netLayouts.weir_policy_value.size;
  const local = new Map<string, { entries: MapEntry[]; blob: Uint8Array; digest: string }>();
  const prevDrafts = cache.drafts;
  const drafts: ImageDraft[] = [];
  const prevTable = cache.endpointTable;
  // The last build's frozen table is handed over again (and serialized once) while every row is equal.
  let tableSame = prevTable !== undefined && prevTable.length === ir.endpoints.length;
  const encode = (entries: MapEntry[]) => {
    const blob = policyBlob(entries);
    return { blob, digest: sha256(blob) };
  };

  for (let epIndex = 0; epIndex < ir.endpoints.length; epIndex++) {
    const ep = ir.endpoints[epIndex]!;
    const rules = bySubject.get(ep.key) ?? [];
    const flags = endpointFlags(ep);
    const sig = `${flags}|${ep.ingressAuditOnly ? 1 : 0}${ep.egressAuditOnly ? 1 : 0}${ir.localhostNeedsPolicy ? 'P' : ''}|${rules.map(sigOf).join(',')}`;
    let st = local.get(sig);
    if (!st) {
      let cached = cache.states.get(sig);
      if (!cached) {
        const reg = new L7Registry();
        cached = {
          entries: endpointMapState(ep, rules, reg, ir.localhostNeedsPolicy ? { localhostNeedsPolicy: true } : {}),
          l7Sets: reg.sets.map((x) => x.rules),
        };
        cache.states.set(sig, cached);
      }
      // Bundle-wide L7 ids, interned in endpoint order exactly as a fresh build would.
      const ids = cached.l7Sets.map((r) => l7.intern(r));
      const mapping = ids.join(',');
      if (!cached.encoded || cached.encoded.mapping !== mapping) {
        const entries = ids.every((id, i) => id === i + 1)
          ? cached.entries
          : cached.entries.map((e) =>
              e.value.proxyPort ? { key: e.key, value: { ...e.value, proxyPort: ids[e.value.proxyPort - 1]! } } : e,
            );
        cached.encoded = { mapping, entries, ...encode(entries) };
      }
      st = { entries: cached.encoded.entries, blob: cached.encoded.blob, digest: cached.encoded.digest };
      local.set(sig, st);
    }
    mapStates.set(ep.key, st.entries);
    if (st.entries.length > max) {
      const byCookie = new Map<number, number>();
      for (const e of st.entries) byCookie.set(e.value.cookie, (byCookie.get(e.value.cookie) ?? 0) + 1);
      const top = [...byCookie].sort((a, b) => b[1] - a[1]).slice(0, 3);
      const o = ir.origins[(top[0]?.[0] ?? 1) - 1];
      const names = top.map(([c, n]) => `${ir.origins[c - 1]?.policy ?? 'default'} (${n} entries)`).join(', ');
      diagnostics.push(
        diagnostic(
          'lower/policy-map-capacity',
          'error',
          `endpoint ${ep.key} needs ${st.entries.length} policy map entries, over the capacity of ${max}; largest contributors: ${names}. Narrow their selectors or port ranges, or raise --policy-map-size`,
          o
            ? { file: o.file, line: o.line, column: o.column, endLine: o.line, endColumn: o.column }
            : { file: '<inventory>', line: 1, column: 1, endLine: 1, endColumn: 1 },
        ),
      );
    }
    let draft = prevDrafts[epIndex];
    if (
      !draft ||
      draft.blob !== st.blob ||
      draft.digest !== st.digest ||
      draft.image.endpoint !== ep.key ||
      draft.image.endpointId !== ep.endpointId ||
      draft.image.maxEntries !== max
    ) {
      const image = Object.freeze({
        name: 'policy',
        keyType: 'weir_policy_key',
        valueType: 'weir_policy_value',
        type: 'lpm_trie',
        keySize: pk,
        valueSize: pv,
        maxEntries: max,
        endpoint: ep.key,
        endpointId: ep.endpointId,
      } as const);
      draft = Object.freeze({ image, records: [], blob: st.blob, digest: st.digest });
    }
    drafts.push(draft);
    const list = perNode.get(ep.node);
    if (list) list.push(draft);
    else perNode.set(ep.node, [draft]);
    if (tableSame) {
      const row = prevTable![epIndex]!;
      tableSame =
        row.endpoint === ep.key &&
        row.endpointId === ep.endpointId &&
        row.identity === ep.identity &&
        row.flags === flags &&
        row.node === ep.node &&
        sameStrings(row.ips, ep.ips);
      if (!tableSame) for (let j = 0; j < epIndex; j++) endpointTable.push(prevTable![j]!);
    }
    if (!tableSame)
      endpointTable.push({ endpoint: ep.key, endpointId: ep.endpointId, identity: ep.identity, flags, ips: ep.ips, node: ep.node });
  }
  const endpointsValue = tableSame ? prevTable! : freezeEndpointTable(endpointTable);
  cache.endpointTable = endpointsValue;

  // The memo keeps what this build used and nothing else, so a controller that follows Git for
  // months holds the states of its current bundle, not of every commit it has seen.
  for (const sig of cache.states.keys()) if (!local.has(sig)) cache.states.delete(sig);
  const usedIds = new Set(ruleSig.values());
  for (const [full, id] of cache.ruleIds) if (!usedIds.has(id)) cache.ruleIds.delete(full);

  const nodes = [...new Set([...ir.nodes, ...ir.endpoints.map((e) => e.node)])].sort();
  if (ir.ipcache.length > WEIR_IPCACHE_MAX_ENTRIES)
    diagnostics.push(
      diagnostic(
        'lower/ipcache-capacity',
        'error',
        `the ipcache needs ${ir.ipcache.length} entries, over its capacity of ${WEIR_IPCACHE_MAX_ENTRIES}`,
        { file: '<inventory>', line: 1, column: 1, endLine: 1, endColumn: 1 },
      ),
    );
  // Every node's ipcache has the same keys; only node addresses differ in value (host here,
  // remote-node elsewhere). Sort once, then patch the values per node.
  const ks = netLayouts.weir_ipcache_key.size;
  const vs = netLayouts.weir_ipcache_value.size;
  // A frozen ipcache (the compiler reuses it while the identity allocation stays) is encoded once.
  if (!(cache.ipcache && cache.ipcache.src === ir.ipcache && Object.isFrozen(ir.ipcache))) {
    const n = ir.ipcache.length;
    const ipKeys = Buffer.alloc(n * ks);
    ir.ipcache.forEach((e, i) => {
      const p = parsePrefix(e.prefix)!;
      writeIpcacheKey(ipKeys, i * ks, { bits: p.bits, family: p.family, addr: p.addr });
    });
    const baseBlob = Buffer.alloc(n * (ks + vs));
    const nodeSlots: { off: number; node: string }[] = [];
    keyOrder(ipKeys, ks, n).forEach((i, j) => {
      const off = j * (ks + vs);
      const e = ir.ipcache[i]!;
      for (let b = 0; b < ks; b++) baseBlob[off + b] = ipKeys[i * ks + b]!;
      writeIpcacheValue(baseBlob, off + ks, { identity: e.identity, flags: 0 });
      if (e.node !== undefined) nodeSlots.push({ off: off + ks, node: e.node });
    });
    // The node slots are the only bytes that differ between nodes: the hash of everything before
    // the first slot is computed once and forked per node. Across incremental builds the images
    // are reused while the shared image and its slots are unchanged.
    const key = `${sha256(baseBlob)}|${nodeSlots.map((x) => `${x.off}:${x.node}`).join(',')}`;
    cache.ipcache = { src: ir.ipcache, baseBlob, nodeSlots, key, byNode: cache.ipcache?.key === key ? cache.ipcache.byNode : new Map() };
  }
  const { baseBlob, nodeSlots } = cache.ipcache;
  const first = nodeSlots.length ? nodeSlots[0]!.off : baseBlob.length;
  const ipImages = cache.ipcache.byNode;
  let prefixHash: ReturnType<typeof createHash> | undefined;
  for (const node of nodes) {
    let img = ipImages.get(node);
    if (!img) {
      // Buffer.from(buffer) copies element by element; allocUnsafe + copy is a memcpy.
      const blob = Buffer.allocUnsafe(baseBlob.length);
      baseBlob.copy(blob, 0);
      for (const slot of nodeSlots)
        writeIpcacheValue(blob, slot.off, {
          identity: slot.node === node ? reservedIdentities.host : reservedIdentities['remote-node'],
          flags: 0,
        });
      prefixHash ??= createHash('sha256').update(baseBlob.subarray(0, first));
      img = { blob, digest: prefixHash.copy().update(blob.subarray(first)).digest('hex') };
      ipImages.set(node, img);
    }
    img.draft ??= Object.freeze({
      image: Object.freeze({
        name: 'ipcache',
        keyType: 'weir_ipcache_key',
        valueType: 'weir_ipcache_value',
        type: 'lpm_trie',
        keySize: ks,
        valueSize: vs,
        maxEntries: WEIR_IPCACHE_MAX_ENTRIES,
      } as const),
      records: [],
      blob: img.blob,
      digest: img.digest,
    });
    const list = perNode.get(node);
    if (list) list.push(img.draft);
    else perNode.set(node, [img.draft]);
  }
  cache.drafts = drafts;

  const tables = [
    { name: 'cookies', value: stableTable(cache, 'cookies', ir.origins) },
    { name: 'endpoints', value: endpointsValue },
    { name: 'identities', value: identitiesTable(ir, cache) },
    { name: 'fqdn_selectors', value: stableTable(cache, 'fqdn_selectors', ir.fqdnSelectors) },
    {
      name: 'l7_rules',
      value: stableTable(
        cache,
        'l7_rules',
        l7.sets.map((s) => ({ id: s.id, ...s.rules })),
      ),
    },
  ];
  return { output: { nodes: perNode, tables }, diagnostics, mapStates, l7, endpointTable: endpointsValue as EndpointTableEntry[] };
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Frozen rows with their own copy of the addresses (the inventory's arrays stay the inventory's). */
function freezeEndpointTable(rows: EndpointTableEntry[]): readonly Readonly<EndpointTableEntry>[] {
  for (const r of rows) {
    if (Object.isFrozen(r)) continue;
    r.ips = Object.freeze([...r.ips]) as string[];
    Object.freeze(r);
  }
  return Object.freeze(rows);
}

/** The identities table; unchanged between incremental builds of one inventory, so it is reused and frozen. */
function identitiesTable(ir: NetworkIR, cache: MapStateCache): readonly unknown[] {
  if (cache.identities?.src !== ir.identities)
    cache.identities = {
      src: ir.identities,
      value: Object.freeze(ir.identities.map((i) => ({ identity: i.id, kind: i.kind, labels: i.labels }))),
    };
  return cache.identities.value;
}
