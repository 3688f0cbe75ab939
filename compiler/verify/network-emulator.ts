// weir's one model of the network datapath: the endpoint program's lookups over map images, written
// from the C program's contract, not from the compiler. The ipcache and policy maps are LPM tries
// (longest matching prefix wins, exactly as the kernel's trie does over the key bytes after
// prefixlen); the policy lookup is done for the peer's identity and for identity 0 and the winner
// is deny first, then higher precedence, then the longer prefix. `weir verify` builds it from a
// bundle, the kernel replay from one node's images, the agent from what it applies (plus the
// addresses its DNS proxy learns at run time).
import type { ReadBundle } from '../bundle/io.js';
import type { BundleManifest } from '../bundle/types.js';
import type { L7Rules } from '../ir/network/types.js';
import { formatAddress, parseAddress } from '../model/cidr.js';
import { imageRecords, type MapImage } from '../../bpf/abi/image.js';
import {
  decodeIpcacheKey,
  decodeIpcacheValue,
  decodePolicyKey,
  decodePolicyValue,
  encodePolicyKey,
  ipcacheLookupKey,
  netLayouts,
  splitLpmKey,
  WEIR_DIR_EGRESS,
  WEIR_EP_AUDIT,
  WEIR_EP_EGRESS_ENFORCED,
  WEIR_EP_INGRESS_ENFORCED,
  WEIR_FLAG_AUDIT,
  WEIR_ID_UNKNOWN,
  WEIR_ID_WORLD,
  WEIR_POLICY_PREFIX_FULL,
  WEIR_VERDICT_DENY,
  WEIR_VERDICT_REDIRECT,
  type EndpointTableEntry,
  type IpcacheKey,
  policyExempt,
  type PolicyKey,
  type PolicyValue,
} from '../../bpf/abi/net.js';

/** An LPM trie over fixed-size keys whose first 4 bytes are the prefix length in bits of the rest. */
export class LpmTrie<V> {
  private readonly byLen = new Map<number, Map<string, V>>();
  private lens: number[] = [];
  constructor(private readonly dataBytes: number) {}

  private static masked(data: Uint8Array, bits: number): string {
    let s = '';
    for (let i = 0; i < data.length; i++) {
      const keep = Math.max(0, Math.min(8, bits - 8 * i));
      const b = data[i]! & ((0xff << (8 - keep)) & 0xff);
      s += (b < 16 ? '0' : '') + b.toString(16);
    }
    return s;
  }

  insert(key: Uint8Array, value: V): void {
    const { prefixlen: bits, data } = splitLpmKey(key);
    let m = this.byLen.get(bits);
    if (!m) {
      this.byLen.set(bits, (m = new Map()));
      this.lens = [...this.byLen.keys()].sort((a, b) => b - a);
    }
    m.set(LpmTrie.masked(data.subarray(0, this.dataBytes), bits), value);
  }

  /** Longest-prefix match of the key's data (the key's own prefixlen bounds the match, as in the kernel). */
  lookup(key: Uint8Array): { value: V; prefixlen: number } | undefined {
    const { prefixlen: max, data } = splitLpmKey(key);
    const d = data.subarray(0, this.dataBytes);
    for (const len of this.lens) {
      if (len > max) continue;
      const v = this.byLen.get(len)!.get(LpmTrie.masked(d, len));
      if (v !== undefined) return { value: v, prefixlen: len };
    }
    return undefined;
  }

  values(): V[] {
    const out: V[] = [];
    for (const m of this.byLen.values()) out.push(...m.values());
    return out;
  }

  get size(): number {
    let n = 0;
    for (const m of this.byLen.values()) n += m.size;
    return n;
  }
}

/** An endpoint as the datapath sees it: its row of the bundle's endpoints table. */
export type EmulatedEndpoint = EndpointTableEntry;

export interface EmulatedVerdict {
  verdict: 'allow' | 'deny';
  /** The winning entry's verdict class. */
  /** `exempt`: ICMPv6 neighbour/listener discovery, passed before any policy lookup. */
  action: 'allow' | 'deny' | 'redirect' | 'default-deny' | 'not-enforced' | 'exempt';
  audit: boolean;
  cookie: number;
  l7?: L7Rules;
  /** The winning map entry, as the datapath found it. */
  entry?: { key: PolicyKey; value: PolicyValue; matchedPrefixlen: number };
}

type PolicyEntry = { key: PolicyKey; value: PolicyValue };
type IpcacheEntry = { key: IpcacheKey; identity: number };

/** An ipcache entry learned at run time (toFQDNs): a host address until `expires` (ms since the epoch). */
export interface LearnedAddress {
  address: string;
  family: 4 | 6;
  addr: Uint8Array;
  identity: number;
  expires: number;
}

/** An image with its records, as the agent and the kernel replay hold them. */
export interface ImageBytes {
  image: MapImage;
  bytes: Uint8Array;
}

/** What the emulator reads of a bundle: its nodes' images, their blobs, its tables. */
export type EmulatorSource = Pick<ReadBundle, 'blob' | 'table'> & { manifest: Pick<BundleManifest, 'nodes'> };

/** Decoding depends on the bytes and the sizes the manifest declares (checked before decoding). */
const imageKey = (img: MapImage) => `${img.name}/${img.digest}/${img.keySize}/${img.valueSize}/${img.entries}`;

const label = (img: MapImage) => `map image ${img.name}${img.endpoint ? ` (${img.endpoint})` : ''}`;

const structsOf: Record<string, readonly [key: number, value: number]> = {
  policy: [netLayouts.weir_policy_key.size, netLayouts.weir_policy_value.size],
  ipcache: [netLayouts.weir_ipcache_key.size, netLayouts.weir_ipcache_value.size],
};

/** The struct sizes and record count a policy or ipcache image must have before its bytes are decoded. */
function checkImage(img: MapImage, bytes: Uint8Array): void {
  const want = structsOf[img.name];
  if (!want) return; // not an image the emulator reads
  if (img.keySize !== want[0] || img.valueSize !== want[1])
    throw new Error(`${img.name} image has key/value sizes ${img.keySize}/${img.valueSize}; weir_net.h says ${want[0]}/${want[1]}`);
  const size = img.keySize + img.valueSize;
  if (bytes.length !== size * img.entries)
    throw new Error(`${label(img)} is ${bytes.length} bytes; ${img.entries} records of ${size} bytes expected`);
}

export class DatapathEmulator {
  readonly endpoints: EmulatedEndpoint[];
  private readonly policies = new Map<string, LpmTrie<PolicyEntry>>();
  private readonly ipcaches = new Map<string, LpmTrie<IpcacheEntry>>();
  private readonly l7 = new Map<number, L7Rules>();
  /** Decoded images by content, shared with the emulator a later apply builds (only changed images are decoded). */
  private readonly decoded: Map<string, LpmTrie<PolicyEntry> | LpmTrie<IpcacheEntry>>;
  /** Run-time ipcache entries per node, by address; they outlive a new set of images. */
  private readonly learned: Map<string, Map<string, LearnedAddress>>;

  /**
   * Every node of a bundle. `previous`, an emulator this one replaces, lends its decoded images (only
   * changed images are decoded) and hands over its learned addresses.
   */
  constructor(bundle: EmulatorSource, previous?: DatapathEmulator) {
    this.decoded = new Map();
    this.learned = previous?.learned ?? new Map();
    this.endpoints = bundle.table<EmulatedEndpoint[]>('endpoints') ?? [];
    for (const s of bundle.table<({ id: number } & L7Rules)[]>('l7_rules') ?? []) {
      const { id, ...rules } = s;
      this.l7.set(id, rules);
    }
    for (const n of bundle.manifest.nodes)
      for (const m of n.maps) {
        if (m.name === 'policy' && m.endpoint)
          this.policies.set(`${n.node}/${m.endpointId}`, this.policyTrie(m, bundle.blob(m.digest), previous));
        if (m.name === 'ipcache') this.ipcaches.set(n.node, this.ipcacheTrie(m, bundle.blob(m.digest), previous));
      }
  }

  /**
   * One node's images as the agent applies them, with the bundle's tables (endpoints, l7_rules).
   * Every image is checked (sizes, whole records) before anything is decoded, and a policy image
   * needs its endpoint's row (whose endpoint id it is looked up by) unless there is no endpoints
   * table at all (the kernel replay, which places each endpoint itself).
   */
  static fromImages(
    node: string,
    images: readonly ImageBytes[],
    tables: ReadonlyMap<string, unknown> = new Map(),
    previous?: DatapathEmulator,
  ): DatapathEmulator {
    const endpoints = tables.get('endpoints') as EmulatedEndpoint[] | undefined;
    const rows = new Map((endpoints ?? []).map((e) => [e.endpoint, e]));
    const blobs = new Map<string, Uint8Array>();
    const maps: MapImage[] = [];
    for (const { image, bytes } of images) checkImage(image, bytes);
    for (const { image, bytes } of images) {
      blobs.set(image.digest, bytes);
      if (image.name !== 'policy') maps.push(image);
      else {
        const row = rows.get(image.endpoint ?? '');
        if (!row && endpoints) throw new Error(`policy image for ${image.endpoint ?? '?'} has no row in the endpoints table`);
        const endpointId = row?.endpointId ?? image.endpointId;
        if (endpointId === undefined) throw new Error(`${label(image)} names no endpoint id`);
        maps.push({ ...image, endpoint: image.endpoint ?? `#${endpointId}`, endpointId });
      }
    }
    return new DatapathEmulator(
      { manifest: { nodes: [{ node, maps }] }, blob: (d) => blobs.get(d)!, table: <T>(name: string) => tables.get(name) as T | undefined },
      previous,
    );
  }

  private reuse<T extends LpmTrie<PolicyEntry> | LpmTrie<IpcacheEntry>>(
    m: MapImage,
    previous: DatapathEmulator | undefined,
    build: () => T,
  ): T {
    const k = imageKey(m);
    const t = (this.decoded.get(k) ?? previous?.decoded.get(k) ?? build()) as T;
    this.decoded.set(k, t);
    return t;
  }

  private policyTrie(m: MapImage, blob: Uint8Array, previous?: DatapathEmulator): LpmTrie<PolicyEntry> {
    return this.reuse(m, previous, () => {
      const t = new LpmTrie<PolicyEntry>(netLayouts.weir_policy_key.size - 4);
      for (const [k, v] of imageRecords(m, blob)) t.insert(k, { key: decodePolicyKey(k), value: decodePolicyValue(v) });
      return t;
    });
  }

  private ipcacheTrie(m: MapImage, blob: Uint8Array, previous?: DatapathEmulator): LpmTrie<IpcacheEntry> {
    return this.reuse(m, previous, () => {
      const t = new LpmTrie<IpcacheEntry>(netLayouts.weir_ipcache_key.size - 4);
      for (const [k, v] of imageRecords(m, blob)) t.insert(k, { key: decodeIpcacheKey(k), identity: decodeIpcacheValue(v).identity });
      return t;
    });
  }

  /** The policy entries of an endpoint (for class derivation and dumps). */
  entriesOf(
    ep: Pick<EmulatedEndpoint, 'node' | 'endpointId'>,
  ): { identity: number; direction: number; protocol: number; port: number; prefixlen: number }[] {
    const t = this.policies.get(`${ep.node}/${ep.endpointId}`);
    if (!t) return [];
    return t.values().map((e) => ({
      identity: e.key.identity,
      direction: e.key.direction,
      protocol: e.key.protocol,
      port: e.key.port,
      prefixlen: e.key.prefixlen,
    }));
  }

  /** The entries of a node's ipcache image: prefix and identity. */
  ipcacheOf(node: string): IpcacheEntry[] {
    return this.ipcaches.get(node)?.values() ?? [];
  }

  endpoint(key: string): EmulatedEndpoint | undefined {
    return this.endpoints.find((e) => e.endpoint === key);
  }

  /** The ipcache's identity for an address on a node (a learned address first, until it expires); world (2) when nothing matches. */
  identityOf(node: string, address: string, now = Date.now()): number {
    const a = parseAddress(address);
    if (!a) return WEIR_ID_WORLD;
    const l = this.learned.get(node)?.get(formatAddress(a.family, a.addr));
    if (l && l.expires > now) return l.identity;
    return this.ipcaches.get(node)?.lookup(ipcacheLookupKey(a.family, a.addr))?.value.identity ?? WEIR_ID_WORLD;
  }

  /** toFQDNs: an answered address joins the node's ipcache under `identity` until `expires`. */
  learn(node: string, address: string, identity: number, expires: number): void {
    const a = parseAddress(address);
    if (!a) throw new Error(`learned address ${JSON.stringify(address)} is not an IPv4 or IPv6 address`);
    const canonical = formatAddress(a.family, a.addr);
    let m = this.learned.get(node);
    if (!m) this.learned.set(node, (m = new Map()));
    m.set(canonical, { address: canonical, family: a.family, addr: a.addr, identity, expires });
  }

  /** Drops learned addresses whose TTL has passed; returns how many. */
  expire(now = Date.now()): number {
    let n = 0;
    for (const m of this.learned.values()) for (const [k, l] of m) if (l.expires <= now) m.delete(k), n++;
    return n;
  }

  /** The addresses learned on a node (expired ones included until expire() drops them). */
  learnedOn(node: string): LearnedAddress[] {
    return [...(this.learned.get(node)?.values() ?? [])];
  }

  /** The datapath's decision for one direction at one endpoint. */
  decide(
    ep: Pick<EmulatedEndpoint, 'node' | 'endpointId' | 'flags'>,
    direction: number,
    peer: number,
    protocol: number,
    port: number,
  ): EmulatedVerdict {
    if (policyExempt(protocol, port)) return { verdict: 'allow', action: 'exempt', audit: false, cookie: 0 };
    const trie = this.policies.get(`${ep.node}/${ep.endpointId}`);
    let win: { key: PolicyKey; value: PolicyValue; matchedPrefixlen: number } | undefined;
    if (trie) {
      const k = { prefixlen: WEIR_POLICY_PREFIX_FULL, identity: peer, direction, protocol, port };
      const a = trie.lookup(encodePolicyKey(k));
      const b = peer !== WEIR_ID_UNKNOWN ? trie.lookup(encodePolicyKey({ ...k, identity: WEIR_ID_UNKNOWN })) : undefined;
      const wrap = (x: typeof a) => (x ? { ...x.value, matchedPrefixlen: x.prefixlen } : undefined);
      const A = wrap(a);
      const B = wrap(b);
      if (A && B) {
        const ad = A.value.verdict === WEIR_VERDICT_DENY;
        const bd = B.value.verdict === WEIR_VERDICT_DENY;
        if (ad !== bd) win = ad ? A : B;
        else if (A.value.precedence !== B.value.precedence) win = A.value.precedence > B.value.precedence ? A : B;
        else win = A.matchedPrefixlen >= B.matchedPrefixlen ? A : B;
      } else win = A ?? B;
    }
    const enforcedBit = direction === WEIR_DIR_EGRESS ? WEIR_EP_EGRESS_ENFORCED : WEIR_EP_INGRESS_ENFORCED;
    const epAudit = (ep.flags & WEIR_EP_AUDIT) !== 0;
    if (!win) {
      if (!(ep.flags & enforcedBit)) return { verdict: 'allow', action: 'not-enforced', audit: false, cookie: 0 };
      return epAudit
        ? { verdict: 'allow', action: 'default-deny', audit: true, cookie: 0 }
        : { verdict: 'deny', action: 'default-deny', audit: false, cookie: 0 };
    }
    const v = win.value;
    const audit = (v.flags & WEIR_FLAG_AUDIT) !== 0 || epAudit;
    if (v.verdict === WEIR_VERDICT_DENY) return { verdict: audit ? 'allow' : 'deny', action: 'deny', audit, cookie: v.cookie, entry: win };
    if (v.verdict === WEIR_VERDICT_REDIRECT) {
      const l7 = this.l7.get(v.proxyPort);
      return {
        verdict: 'allow',
        action: 'redirect',
        audit: (v.flags & WEIR_FLAG_AUDIT) !== 0,
        cookie: v.cookie,
        ...(l7 ? { l7 } : {}),
        entry: win,
      };
    }
    return { verdict: 'allow', action: 'allow', audit: (v.flags & WEIR_FLAG_AUDIT) !== 0, cookie: v.cookie, entry: win };
  }
}
