// An emulator of the network datapath's lookups over the bundle's map images, written from
// the C program's contract, not from the compiler: the ipcache and policy maps are LPM tries
// (longest matching prefix wins, exactly as the kernel's trie does over the key bytes after
// prefixlen), the policy lookup is done for the peer's identity and for identity 0 and the
// winner is deny first, then higher precedence, then the longer prefix.
import { imageRecords } from '../bundle/assemble.js';
import type { ReadBundle } from '../bundle/io.js';
import type { MapImage } from '../bundle/types.js';
import type { L7Rules } from '../ir/network/types.js';
import { parseAddress } from '../model/cidr.js';
import {
  decodeIpcacheValue,
  decodePolicyKey,
  decodePolicyValue,
  WEIR_DIR_EGRESS,
  WEIR_EP_AUDIT,
  WEIR_EP_EGRESS_ENFORCED,
  WEIR_EP_INGRESS_ENFORCED,
  WEIR_FLAG_AUDIT,
  WEIR_VERDICT_DENY,
  WEIR_VERDICT_REDIRECT,
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
    const bits = Buffer.from(key.buffer, key.byteOffset, 4).readUInt32LE(0);
    const data = key.subarray(4, 4 + this.dataBytes);
    let m = this.byLen.get(bits);
    if (!m) {
      this.byLen.set(bits, (m = new Map()));
      this.lens = [...this.byLen.keys()].sort((a, b) => b - a);
    }
    m.set(LpmTrie.masked(data, bits), value);
  }

  /** Longest-prefix match of the key's data (the key's own prefixlen bounds the match, as in the kernel). */
  lookup(key: Uint8Array): { value: V; prefixlen: number } | undefined {
    const max = Buffer.from(key.buffer, key.byteOffset, 4).readUInt32LE(0);
    const data = key.subarray(4, 4 + this.dataBytes);
    for (const len of this.lens) {
      if (len > max) continue;
      const v = this.byLen.get(len)!.get(LpmTrie.masked(data, len));
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

export interface EmulatedEndpoint {
  endpoint: string;
  endpointId: number;
  identity: number;
  flags: number;
  ips: string[];
  node: string;
}

export interface EmulatedVerdict {
  verdict: 'allow' | 'deny';
  /** The winning entry's verdict class. */
  action: 'allow' | 'deny' | 'redirect' | 'default-deny' | 'not-enforced';
  audit: boolean;
  cookie: number;
  l7?: L7Rules;
  /** The winning map entry, as the datapath found it. */
  entry?: { key: PolicyKey; value: PolicyValue; matchedPrefixlen: number };
}

function policyKeyBytes(k: PolicyKey): Uint8Array {
  const b = Buffer.alloc(12);
  b.writeUInt32LE(k.prefixlen, 0);
  b.writeUInt32LE(k.identity >>> 0, 4);
  b.writeUInt8(k.direction, 8);
  b.writeUInt8(k.protocol, 9);
  b.writeUInt16BE(k.port, 10);
  return b;
}

export class DatapathEmulator {
  readonly endpoints: EmulatedEndpoint[];
  private readonly policies = new Map<string, LpmTrie<{ key: PolicyKey; value: PolicyValue }>>();
  private readonly ipcaches = new Map<string, LpmTrie<number>>();
  private readonly l7 = new Map<number, L7Rules>();
  private readonly byDigest = new Map<string, LpmTrie<{ key: PolicyKey; value: PolicyValue }>>();

  constructor(bundle: Pick<ReadBundle, 'manifest' | 'blob' | 'table'>) {
    this.endpoints = bundle.table<EmulatedEndpoint[]>('endpoints') ?? [];
    for (const s of bundle.table<({ id: number } & L7Rules)[]>('l7_rules') ?? []) {
      const { id, ...rules } = s;
      this.l7.set(id, rules);
    }
    for (const n of bundle.manifest.nodes)
      for (const m of n.maps) {
        if (m.name === 'policy' && m.endpoint) this.policies.set(`${n.node}/${m.endpointId}`, this.policyTrie(m, bundle.blob(m.digest)));
        if (m.name === 'ipcache') {
          const t = new LpmTrie<number>(20);
          for (const [k, v] of imageRecords(m, bundle.blob(m.digest))) t.insert(k, decodeIpcacheValue(v).identity);
          this.ipcaches.set(n.node, t);
        }
      }
  }

  private policyTrie(m: MapImage, blob: Uint8Array): LpmTrie<{ key: PolicyKey; value: PolicyValue }> {
    let t = this.byDigest.get(m.digest);
    if (t) return t;
    t = new LpmTrie(8);
    for (const [k, v] of imageRecords(m, blob)) t.insert(k, { key: decodePolicyKey(k), value: decodePolicyValue(v) });
    this.byDigest.set(m.digest, t);
    return t;
  }

  /** The policy entries of an endpoint (for class derivation and dumps). */
  entriesOf(ep: EmulatedEndpoint): { identity: number; protocol: number; port: number; prefixlen: number }[] {
    const t = this.policies.get(`${ep.node}/${ep.endpointId}`);
    if (!t) return [];
    return t.values().map((e) => ({ identity: e.key.identity, protocol: e.key.protocol, port: e.key.port, prefixlen: e.key.prefixlen }));
  }

  endpoint(key: string): EmulatedEndpoint | undefined {
    return this.endpoints.find((e) => e.endpoint === key);
  }

  /** The ipcache's identity for an address on a node; world (2) when nothing matches. */
  identityOf(node: string, address: string): number {
    const a = parseAddress(address);
    const t = this.ipcaches.get(node);
    if (!a || !t) return 2;
    const k = Buffer.alloc(24);
    k.writeUInt32LE(32 + (a.family === 4 ? 32 : 128), 0);
    k.writeUInt8(a.family, 4);
    k.set(a.addr, 8);
    return t.lookup(k)?.value ?? 2;
  }

  /** The datapath's decision for one direction at one endpoint. */
  decide(ep: EmulatedEndpoint, direction: number, peer: number, protocol: number, port: number): EmulatedVerdict {
    const trie = this.policies.get(`${ep.node}/${ep.endpointId}`);
    let win: { key: PolicyKey; value: PolicyValue; matchedPrefixlen: number } | undefined;
    if (trie) {
      const k = { prefixlen: 64, identity: peer, direction, protocol, port };
      const a = trie.lookup(policyKeyBytes(k));
      const b = peer !== 0 ? trie.lookup(policyKeyBytes({ ...k, identity: 0 })) : undefined;
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
      return epAudit ? { verdict: 'allow', action: 'default-deny', audit: true, cookie: 0 } : { verdict: 'deny', action: 'default-deny', audit: false, cookie: 0 };
    }
    const v = win.value;
    const audit = (v.flags & WEIR_FLAG_AUDIT) !== 0 || epAudit;
    if (v.verdict === WEIR_VERDICT_DENY) return { verdict: audit ? 'allow' : 'deny', action: 'deny', audit, cookie: v.cookie, entry: win };
    if (v.verdict === WEIR_VERDICT_REDIRECT) {
      const l7 = this.l7.get(v.proxyPort);
      return { verdict: 'allow', action: 'redirect', audit: (v.flags & WEIR_FLAG_AUDIT) !== 0, cookie: v.cookie, ...(l7 ? { l7 } : {}), entry: win };
    }
    return { verdict: 'allow', action: 'allow', audit: (v.flags & WEIR_FLAG_AUDIT) !== 0, cookie: v.cookie, entry: win };
  }
}
