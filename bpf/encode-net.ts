// Minimal encoders for the weir_net.h records, used by the datapath's own tests, benchmarks and the
// kernel verifier's sanity checks. The compiler's encoders (compiler/lower/encode.ts) are the real
// producers of images; test/datapath/layouts.test.ts checks both against the objects' BTF.
import { parseAddr } from './packet.js';

export interface PolicyEntry {
  /** Bits after the prefixlen field: 40 any proto/port, 48 any port, 48+n port prefix. */
  prefixlen: number;
  identity: number;
  direction: 'ingress' | 'egress';
  protocol: number;
  port: number;
  verdict: 'allow' | 'deny' | 'redirect';
  auth?: number;
  audit?: boolean;
  proxyPort?: number;
  precedence?: number;
  cookie?: number;
}

export const POLICY_KEY_SIZE = 12;
export const POLICY_VALUE_SIZE = 16;
export const IPCACHE_KEY_SIZE = 24;
export const IPCACHE_VALUE_SIZE = 8;
export const PREFILTER_VALUE_SIZE = 8;

export function policyKey(e: Pick<PolicyEntry, 'prefixlen' | 'identity' | 'direction' | 'protocol' | 'port'>): Buffer {
  const k = Buffer.alloc(POLICY_KEY_SIZE);
  k.writeUInt32LE(e.prefixlen, 0);
  k.writeUInt32LE(e.identity, 4);
  k[8] = e.direction === 'egress' ? 1 : 0;
  k[9] = e.protocol;
  k.writeUInt16BE(e.port, 10); // dport_be
  return k;
}

export function policyValue(e: PolicyEntry): Buffer {
  const v = Buffer.alloc(POLICY_VALUE_SIZE);
  v[0] = e.verdict === 'allow' ? 0 : e.verdict === 'deny' ? 1 : 2;
  v[1] = e.auth ?? 0;
  v[2] = e.audit ? 1 : 0;
  v.writeUInt16LE(e.proxyPort ?? 0, 4);
  v.writeUInt32LE(e.precedence ?? 0, 8);
  v.writeUInt32LE(e.cookie ?? 0, 12);
  return v;
}

/** CIDR (`10.0.0.0/8`, `fd00::/64`, or a bare address) to an ipcache/prefilter key. */
export function ipcacheKey(cidr: string): Buffer {
  const [addr = '', len] = cidr.split('/');
  const a = parseAddr(addr);
  const bits = len === undefined ? (a.family === 4 ? 32 : 128) : Number(len);
  const k = Buffer.alloc(IPCACHE_KEY_SIZE);
  k.writeUInt32LE(32 + bits, 0);
  k[4] = a.family;
  a.bytes.copy(k, 8);
  return k;
}

export function ipcacheValue(identity: number, flags = 0): Buffer {
  const v = Buffer.alloc(IPCACHE_VALUE_SIZE);
  v.writeUInt32LE(identity, 0);
  v.writeUInt32LE(flags, 4);
  return v;
}

/** Sorted key‖value records, as a bundle image stores them. */
export function records(pairs: [Buffer, Buffer][]): Buffer {
  return Buffer.concat([...pairs].sort((a, b) => Buffer.compare(a[0], b[0])).flatMap(([k, v]) => [k, v]));
}
