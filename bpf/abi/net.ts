// Binary encoders for the network map layouts of bpf/include/weir_net.h.
// `netLayouts` states every offset once; the datapath's test checks it against the BTF of the
// compiled objects, and the encoders below write through it so the two cannot drift apart.

export interface FieldLayout {
  offset: number;
  size: number;
}

export interface StructLayout {
  size: number;
  fields: Record<string, FieldLayout>;
}

const f = (offset: number, size: number): FieldLayout => ({ offset, size });

/** Layouts of the weir_net.h structs (x86_64, little-endian host order; `_be` fields are network order). */
export const netLayouts = {
  weir_policy_key: { size: 12, fields: { prefixlen: f(0, 4), identity: f(4, 4), direction: f(8, 1), protocol: f(9, 1), dport_be: f(10, 2) } },
  weir_policy_value: {
    size: 16,
    fields: { verdict: f(0, 1), auth: f(1, 1), flags: f(2, 1), pad0: f(3, 1), proxy_port: f(4, 2), pad1: f(6, 2), precedence: f(8, 4), cookie: f(12, 4) },
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
} as const satisfies Record<string, StructLayout>;

export type NetStruct = keyof typeof netLayouts;

// Constants mirrored from weir_net.h (checked by test/network/encode.test.ts against the header text).
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
export const WEIR_POLICY_PREFIX_MIN = 40;
export const WEIR_POLICY_PREFIX_PROTO = 48;
export const WEIR_POLICY_PREFIX_FULL = 64;
export const WEIR_POLICY_MAX_ENTRIES_DEFAULT = 16384;
export const WEIR_IPCACHE_MAX_ENTRIES = 512000;
export const WEIR_ENDPOINTS_MAX = 4096;

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

type Fields<S extends NetStruct> = keyof (typeof netLayouts)[S]['fields'];

function put<S extends NetStruct>(b: Buffer, s: S, field: Fields<S>, value: number, base = 0): void {
  const l = (netLayouts[s].fields as Record<string, FieldLayout>)[field as string]!;
  if (l.size === 1) b.writeUInt8(value, base + l.offset);
  else if (l.size === 2) b.writeUInt16LE(value, base + l.offset);
  else b.writeUInt32LE(value >>> 0, base + l.offset);
}

function get<S extends NetStruct>(b: Uint8Array, s: S, field: Fields<S>): number {
  const l = (netLayouts[s].fields as Record<string, FieldLayout>)[field as string]!;
  const v = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (l.size === 1) return v.readUInt8(l.offset);
  if (l.size === 2) return v.readUInt16LE(l.offset);
  return v.readUInt32LE(l.offset);
}

export function encodePolicyKey(k: PolicyKey): Buffer {
  const b = Buffer.alloc(netLayouts.weir_policy_key.size);
  writePolicyKey(b, 0, k);
  return b;
}

/** Writes a policy key at `off` of a larger buffer (whole map images are encoded in place, without a Buffer per record). */
export function writePolicyKey(b: Buffer, off: number, k: PolicyKey): void {
  put(b, 'weir_policy_key', 'prefixlen', k.prefixlen, off);
  put(b, 'weir_policy_key', 'identity', k.identity, off);
  put(b, 'weir_policy_key', 'direction', k.direction, off);
  put(b, 'weir_policy_key', 'protocol', k.protocol, off);
  b.writeUInt16BE(k.port, off + netLayouts.weir_policy_key.fields.dport_be.offset);
}

export function decodePolicyKey(b: Uint8Array): PolicyKey {
  const v = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return {
    prefixlen: get(b, 'weir_policy_key', 'prefixlen'),
    identity: get(b, 'weir_policy_key', 'identity'),
    direction: get(b, 'weir_policy_key', 'direction'),
    protocol: get(b, 'weir_policy_key', 'protocol'),
    port: v.readUInt16BE(netLayouts.weir_policy_key.fields.dport_be.offset),
  };
}

export function encodePolicyValue(p: PolicyValue): Buffer {
  const b = Buffer.alloc(netLayouts.weir_policy_value.size);
  writePolicyValue(b, 0, p);
  return b;
}

/** Writes a policy value at `off`; the padding bytes are left as they are (zero in a fresh buffer). */
export function writePolicyValue(b: Buffer, off: number, p: PolicyValue): void {
  put(b, 'weir_policy_value', 'verdict', p.verdict, off);
  put(b, 'weir_policy_value', 'auth', p.auth, off);
  put(b, 'weir_policy_value', 'flags', p.flags, off);
  put(b, 'weir_policy_value', 'proxy_port', p.proxyPort, off);
  put(b, 'weir_policy_value', 'precedence', p.precedence, off);
  put(b, 'weir_policy_value', 'cookie', p.cookie, off);
}

export function decodePolicyValue(b: Uint8Array): PolicyValue {
  return {
    verdict: get(b, 'weir_policy_value', 'verdict'),
    auth: get(b, 'weir_policy_value', 'auth'),
    flags: get(b, 'weir_policy_value', 'flags'),
    proxyPort: get(b, 'weir_policy_value', 'proxy_port'),
    precedence: get(b, 'weir_policy_value', 'precedence'),
    cookie: get(b, 'weir_policy_value', 'cookie'),
  };
}

export function encodeIpcacheKey(k: IpcacheKey): Buffer {
  const b = Buffer.alloc(netLayouts.weir_ipcache_key.size);
  writeIpcacheKey(b, 0, k);
  return b;
}

/** Writes an ipcache key at `off` of a zeroed buffer. */
export function writeIpcacheKey(b: Buffer, off: number, k: IpcacheKey): void {
  put(b, 'weir_ipcache_key', 'prefixlen', 32 + k.bits, off);
  put(b, 'weir_ipcache_key', 'family', k.family, off);
  b.set(k.addr.subarray(0, k.family === 4 ? 4 : 16), off + netLayouts.weir_ipcache_key.fields.addr.offset);
}

export function decodeIpcacheKey(b: Uint8Array): IpcacheKey {
  const family = get(b, 'weir_ipcache_key', 'family') === 6 ? 6 : 4;
  const off = netLayouts.weir_ipcache_key.fields.addr.offset;
  return { bits: get(b, 'weir_ipcache_key', 'prefixlen') - 32, family, addr: Uint8Array.from(b.subarray(off, off + (family === 4 ? 4 : 16))) };
}

export function encodeIpcacheValue(v: IpcacheValue): Buffer {
  const b = Buffer.alloc(netLayouts.weir_ipcache_value.size);
  writeIpcacheValue(b, 0, v);
  return b;
}

export function writeIpcacheValue(b: Buffer, off: number, v: IpcacheValue): void {
  put(b, 'weir_ipcache_value', 'identity', v.identity, off);
  put(b, 'weir_ipcache_value', 'flags', v.flags, off);
}

export function decodeIpcacheValue(b: Uint8Array): IpcacheValue {
  return { identity: get(b, 'weir_ipcache_value', 'identity'), flags: get(b, 'weir_ipcache_value', 'flags') };
}

export function encodeEndpointValue(v: EndpointValue): Buffer {
  const b = Buffer.alloc(netLayouts.weir_endpoint_value.size);
  put(b, 'weir_endpoint_value', 'endpoint_id', v.endpointId);
  put(b, 'weir_endpoint_value', 'identity', v.identity);
  put(b, 'weir_endpoint_value', 'flags', v.flags);
  return b;
}

export function decodeEndpointValue(b: Uint8Array): EndpointValue {
  return { endpointId: get(b, 'weir_endpoint_value', 'endpoint_id'), identity: get(b, 'weir_endpoint_value', 'identity'), flags: get(b, 'weir_endpoint_value', 'flags') };
}

/** Encodes a u32 key (the endpoints map is keyed by ifindex or endpoint id). */
export function encodeU32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0, 0);
  return b;
}
