// The network datapath's ABI: the structs of bpf/include/weir_net.h (checked against the BTF of
// endpoint.bpf.o by check.ts at build time), its constants, and the encoders and decoders of every
// key, value and ring-buffer record the compiler, the verifiers, the loader and the agent exchange.
import {
  bytes,
  field as f,
  getBig,
  getBytes,
  getInt,
  setBytes,
  setInt,
  structCodec,
  type FieldLayout,
  type StructLayout,
} from './layouts.js';

export type { FieldLayout, StructLayout } from './layouts.js';

/** The weir_net.h structs (x86_64, little-endian host order; `_be` fields are network order). */
export const netLayouts = {
  weir_policy_key: {
    size: 12,
    fields: { prefixlen: f(0, 4), identity: f(4, 4), direction: f(8, 1), protocol: f(9, 1), dport_be: f(10, 2, { be: true }) },
  },
  weir_policy_value: {
    size: 16,
    fields: {
      verdict: f(0, 1),
      auth: f(1, 1),
      flags: f(2, 1),
      pad0: f(3, 1),
      proxy_port: f(4, 2),
      pad1: f(6, 2),
      precedence: f(8, 4),
      cookie: f(12, 4),
    },
  },
  weir_ipcache_key: { size: 24, fields: { prefixlen: f(0, 4), family: f(4, 1), pad: f(5, 3), addr: f(8, 16) } },
  weir_ipcache_value: { size: 8, fields: { identity: f(0, 4), flags: f(4, 4) } },
  weir_endpoint_value: { size: 16, fields: { endpoint_id: f(0, 4), identity: f(4, 4), flags: f(8, 4), pad: f(12, 4) } },
  weir_net_event: {
    size: 72,
    fields: {
      ts_ns: f(0, 8),
      cookie: f(8, 4),
      endpoint_id: f(12, 4),
      src_identity: f(16, 4),
      dst_identity: f(20, 4),
      verdict: f(24, 1),
      direction: f(25, 1),
      protocol: f(26, 1),
      family: f(27, 1),
      reason: f(28, 1),
      audit: f(29, 1),
      pad: f(30, 2),
      sport: f(32, 2),
      dport: f(34, 2),
      saddr: f(36, 16),
      daddr: f(52, 16),
    },
  },
  weir_prefilter_value: { size: 8, fields: { cookie: f(0, 4), flags: f(4, 4) } },
} as const satisfies Record<string, StructLayout>;

export type NetStruct = keyof typeof netLayouts;

// Constants mirrored from weir_net.h (test/network/encode.test.ts checks them against the header text).
export const WEIR_NET_ABI_VERSION = 1;
export const WEIR_ID_UNKNOWN = 0;
export const WEIR_ID_HOST = 1;
export const WEIR_ID_WORLD = 2;
export const WEIR_ID_REMOTE_NODE = 6;
export const WEIR_ID_WORLD_IPV4 = 9;
export const WEIR_ID_WORLD_IPV6 = 10;
export const WEIR_DIR_INGRESS = 0;
export const WEIR_DIR_EGRESS = 1;
export const WEIR_VERDICT_ALLOW = 0;
export const WEIR_VERDICT_DENY = 1;
export const WEIR_VERDICT_REDIRECT = 2;
export const WEIR_FLAG_AUDIT = 0x1;
export const WEIR_AUTH_NONE = 0;
export const WEIR_AUTH_DISABLED = 1;
export const WEIR_AUTH_REQUIRED = 2;
export const WEIR_EP_INGRESS_ENFORCED = 0x1;
export const WEIR_EP_EGRESS_ENFORCED = 0x2;
export const WEIR_EP_AUDIT = 0x4;
export const WEIR_REASON_POLICY_DENY = 1;
export const WEIR_REASON_DEFAULT_DENY = 2;
export const WEIR_REASON_PREFILTER = 3;
export const WEIR_POLICY_PREFIX_MIN = 40;
export const WEIR_POLICY_PREFIX_PROTO = 48;
export const WEIR_POLICY_PREFIX_FULL = 64;
export const WEIR_IPCACHE_PREFIX_V4 = 64;
export const WEIR_IPCACHE_PREFIX_V6 = 160;
export const WEIR_POLICY_MAX_ENTRIES_DEFAULT = 16384;
export const WEIR_IPCACHE_MAX_ENTRIES = 512000;
export const WEIR_PREFILTER_MAX_ENTRIES = 65536;
export const WEIR_ENDPOINTS_MAX = 4096;
export const WEIR_MARK_MAGIC_TO_PROXY = 0x0200;
export const WEIR_MARK_MAGIC_MASK = 0x0f00;
export const WEIR_STAT_ALLOWED = 0;
export const WEIR_STAT_DROPPED = 1;
export const WEIR_STAT_AUDITED = 2;
export const WEIR_STAT_REDIRECTED = 3;
export const WEIR_STAT_EVENTS_LOST = 4;
export const WEIR_STAT_PREFILTERED = 5;
export const WEIR_STAT_MAX = 8;
export const WEIR_CFG_NO_VERDICT_CACHE = 0x1;
export const WEIR_CFG_NO_CONNTRACK = 0x2;
/** weir_ipcache_value.flags bit 0: the entry was learned from DNS (toFQDNs) and expires. */
export const WEIR_IPCACHE_FLAG_FQDN = 0x1;

/**
 * ICMPv6 types the endpoint program passes before any policy lookup (icmp6_policy_exempt in
 * bpf/net/endpoint.bpf.c), as Cilium does: IPv6 cannot work without them. Multicast listener
 * discovery (130-132, 143) and router and neighbour discovery and redirect (133-137).
 */
export const ICMPV6_POLICY_EXEMPT_TYPES: ReadonlySet<number> = new Set([130, 131, 132, 133, 134, 135, 136, 137, 143]);
export const IPPROTO_ICMPV6 = 58;

/** Whether the datapath passes this packet before policy (ICMPv6 neighbour and listener discovery). */
export function policyExempt(protocol: number, icmpType: number): boolean {
  return protocol === IPPROTO_ICMPV6 && ICMPV6_POLICY_EXEMPT_TYPES.has(icmpType);
}

export interface PolicyKey {
  /** 40 (any protocol), 48 (protocol, any port) or 48 + n (top n bits of the port). */
  prefixlen: number;
  identity: number;
  direction: number;
  protocol: number;
  /** Port in host order; encoded big-endian as dport_be. */
  port: number;
}

export interface PolicyValue {
  verdict: number;
  auth: number;
  flags: number;
  proxyPort: number;
  precedence: number;
  cookie: number;
}

export interface IpcacheKey {
  /** Address bits (0..32 for IPv4, 0..128 for IPv6); the encoder adds the 32 family bits. */
  bits: number;
  family: 4 | 6;
  addr: Uint8Array;
}

export interface IpcacheValue {
  identity: number;
  flags: number;
}

export interface EndpointValue {
  endpointId: number;
  identity: number;
  flags: number;
}

export interface PrefilterValue {
  cookie: number;
  flags: number;
}

/** A row of the bundle's `endpoints` table: the weir_endpoint_value of an endpoint and where it lives. */
export interface EndpointTableEntry {
  endpoint: string;
  endpointId: number;
  identity: number;
  flags: number;
  ips: string[];
  node: string;
}

const IK = netLayouts.weir_ipcache_key.fields;
const NE = netLayouts.weir_net_event.fields;

/**
 * struct bpf_lpm_trie_key: every LPM key (weir_policy_key, weir_ipcache_key, wrt_lpm_key) starts with a
 * host-order u32 prefix length counting bits of the data after it.
 */
const LPM_PREFIXLEN: FieldLayout = f(0, 4);

/** An LPM key's prefix length and the data its bits count over (no copy). */
export function splitLpmKey(key: Uint8Array): { prefixlen: number; data: Uint8Array } {
  return { prefixlen: getInt(bytes(key), LPM_PREFIXLEN), data: key.subarray(LPM_PREFIXLEN.size) };
}

const policyKey = structCodec<PolicyKey>(netLayouts.weir_policy_key, {
  prefixlen: 'prefixlen',
  identity: 'identity',
  direction: 'direction',
  protocol: 'protocol',
  port: 'dport_be',
});
const policyValue = structCodec<PolicyValue>(netLayouts.weir_policy_value, {
  verdict: 'verdict',
  auth: 'auth',
  flags: 'flags',
  proxyPort: 'proxy_port',
  precedence: 'precedence',
  cookie: 'cookie',
});
const ipcacheValue = structCodec<IpcacheValue>(netLayouts.weir_ipcache_value, { identity: 'identity', flags: 'flags' });
const endpointValue = structCodec<EndpointValue>(netLayouts.weir_endpoint_value, {
  endpointId: 'endpoint_id',
  identity: 'identity',
  flags: 'flags',
});
const prefilterValue = structCodec<PrefilterValue>(netLayouts.weir_prefilter_value, { cookie: 'cookie', flags: 'flags' });

export const encodePolicyKey = (k: PolicyKey): Buffer => policyKey.encode(k);
/** Writes a policy key at `off` of a larger buffer (whole map images are encoded in place, without a Buffer per record). */
export const writePolicyKey = (b: Buffer, off: number, k: PolicyKey): void => policyKey.write(b, off, k);
export const decodePolicyKey = (key: Uint8Array): PolicyKey => policyKey.decode(key);

export const encodePolicyValue = (v: PolicyValue): Buffer => policyValue.encode(v);
/** Writes a policy value at `off`; the padding bytes are left as they are (zero in a fresh buffer). */
export const writePolicyValue = (b: Buffer, off: number, v: PolicyValue): void => policyValue.write(b, off, v);
export const decodePolicyValue = (value: Uint8Array): PolicyValue => policyValue.decode(value);

export function encodeIpcacheKey(k: IpcacheKey): Buffer {
  const b = Buffer.alloc(netLayouts.weir_ipcache_key.size);
  writeIpcacheKey(b, 0, k);
  return b;
}

/** Writes an ipcache key at `off` of a zeroed buffer. */
export function writeIpcacheKey(b: Buffer, off: number, k: IpcacheKey): void {
  setInt(b, IK.prefixlen, 32 + k.bits, off);
  setInt(b, IK.family, k.family, off);
  setBytes(b, IK.addr, k.addr.subarray(0, k.family === 4 ? 4 : 16), off);
}

export function decodeIpcacheKey(key: Uint8Array): IpcacheKey {
  const b = bytes(key);
  const family = getInt(b, IK.family) === 6 ? 6 : 4;
  return { bits: getInt(b, IK.prefixlen) - 32, family, addr: Uint8Array.from(getBytes(b, IK.addr, 0, family === 4 ? 4 : 16)) };
}

/** The full-length key an address is looked up with (host prefix). */
export function ipcacheLookupKey(family: 4 | 6, addr: Uint8Array): Buffer {
  return encodeIpcacheKey({ bits: family === 4 ? 32 : 128, family, addr });
}

export const encodeIpcacheValue = (v: IpcacheValue): Buffer => ipcacheValue.encode(v);
export const writeIpcacheValue = (b: Buffer, off: number, v: IpcacheValue): void => ipcacheValue.write(b, off, v);
export const decodeIpcacheValue = (value: Uint8Array): IpcacheValue => ipcacheValue.decode(value);

export const encodeEndpointValue = (v: EndpointValue): Buffer => endpointValue.encode(v);
export const decodeEndpointValue = (value: Uint8Array): EndpointValue => endpointValue.decode(value);

export const encodePrefilterValue = (v: PrefilterValue): Buffer => prefilterValue.encode(v);
export const decodePrefilterValue = (value: Uint8Array): PrefilterValue => prefilterValue.decode(value);

/**
 * weir_state's value: not read by the programs, it records the bundle in force so that it survives the
 * agent: a u16 length, then that many bytes of JSON, in a value of STATE_VALUE_SIZE bytes.
 */
export const STATE_VALUE_SIZE = 256;
const STATE_LEN: FieldLayout = f(0, 2);
const STATE_TEXT: FieldLayout = f(2, STATE_VALUE_SIZE - 2);

export function encodeStateValue(applied: { digest: string; revision: string }): Buffer {
  const text = Buffer.from(JSON.stringify(applied));
  if (text.length > STATE_TEXT.size) throw new Error(`recordApplied: digest and revision exceed ${STATE_TEXT.size} bytes`);
  const v = Buffer.alloc(STATE_VALUE_SIZE);
  setInt(v, STATE_LEN, text.length);
  setBytes(v, STATE_TEXT, text);
  return v;
}

export function decodeStateValue(value: Uint8Array | undefined): { digest: string; revision: string } | undefined {
  if (!value) return undefined;
  const b = bytes(value);
  const len = getInt(b, STATE_LEN);
  if (len === 0) return undefined;
  return JSON.parse(getBytes(b, STATE_TEXT, 0, len).toString()) as { digest: string; revision: string };
}

export interface NetEvent {
  tsNs: bigint;
  cookie: number;
  endpointId: number;
  srcIdentity: number;
  dstIdentity: number;
  verdict: number;
  direction: 'ingress' | 'egress';
  protocol: number;
  family: 4 | 6;
  reason: 'policy-deny' | 'default-deny' | 'prefilter' | `unknown(${number})`;
  audit: boolean;
  sport: number;
  dport: number;
  saddr: string;
  daddr: string;
}

const reasons: Record<number, NetEvent['reason']> = {
  [WEIR_REASON_POLICY_DENY]: 'policy-deny',
  [WEIR_REASON_DEFAULT_DENY]: 'default-deny',
  [WEIR_REASON_PREFILTER]: 'prefilter',
};

/** Decodes a struct weir_net_event from the ring buffer. */
export function decodeNetEvent(record: Uint8Array): NetEvent {
  const b = bytes(record);
  const family = getInt(b, NE.family) === 6 ? 6 : 4;
  const r = getInt(b, NE.reason);
  return {
    tsNs: getBig(b, NE.ts_ns),
    cookie: getInt(b, NE.cookie),
    endpointId: getInt(b, NE.endpoint_id),
    srcIdentity: getInt(b, NE.src_identity),
    dstIdentity: getInt(b, NE.dst_identity),
    verdict: getInt(b, NE.verdict),
    direction: getInt(b, NE.direction) === WEIR_DIR_EGRESS ? 'egress' : 'ingress',
    protocol: getInt(b, NE.protocol),
    family,
    reason: reasons[r] ?? `unknown(${r})`,
    audit: getInt(b, NE.audit) === 1,
    sport: getInt(b, NE.sport),
    dport: getInt(b, NE.dport),
    saddr: formatAddr(getBytes(b, NE.saddr), family),
    daddr: formatAddr(getBytes(b, NE.daddr), family),
  };
}

/** An event's address: dotted quad, or IPv6 groups with the first run of zero groups as `::`. */
export function formatAddr(a: Uint8Array, family: 4 | 6): string {
  if (family === 4) return `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push((((a[i] ?? 0) << 8) | (a[i + 1] ?? 0)).toString(16));
  return parts.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}
