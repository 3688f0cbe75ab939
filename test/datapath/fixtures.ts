// Images built in the tests with the compiler's weir_net.h encoders (bpf/abi/net.ts), and
// test_run helpers. PolicyEntry is the tests' readable form of one policy key/value pair.
import { createHash } from 'node:crypto';
import type { MapImage } from '../../bpf/abi/image.js';
import { imageBlob } from '../../compiler/bundle/assemble.js';
import {
  encodeIpcacheKey,
  encodeIpcacheValue,
  encodePolicyKey,
  encodePrefilterValue,
  encodePolicyValue,
  netLayouts,
  WEIR_DIR_EGRESS,
  WEIR_DIR_INGRESS,
  WEIR_FLAG_AUDIT,
  WEIR_VERDICT_ALLOW,
  WEIR_VERDICT_DENY,
  WEIR_VERDICT_REDIRECT,
} from '../../bpf/abi/net.js';
import type { LoadedImage, NetDatapath } from '../../bpf/net/loader.js';
import { parseAddr, SKB_CTX_SIZE, skbMark, synthesizePacket, type PacketSpec } from '../../bpf/packet.js';

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

const POLICY_KEY_SIZE = netLayouts.weir_policy_key.size;
const POLICY_VALUE_SIZE = netLayouts.weir_policy_value.size;
const IPCACHE_KEY_SIZE = netLayouts.weir_ipcache_key.size;
const IPCACHE_VALUE_SIZE = netLayouts.weir_ipcache_value.size;
const verdicts = { allow: WEIR_VERDICT_ALLOW, deny: WEIR_VERDICT_DENY, redirect: WEIR_VERDICT_REDIRECT } as const;

function policyRecord(e: PolicyEntry): [Buffer, Buffer] {
  return [
    encodePolicyKey({
      prefixlen: e.prefixlen,
      identity: e.identity,
      direction: e.direction === 'egress' ? WEIR_DIR_EGRESS : WEIR_DIR_INGRESS,
      protocol: e.protocol,
      port: e.port,
    }),
    encodePolicyValue({
      verdict: verdicts[e.verdict],
      auth: e.auth ?? 0,
      flags: e.audit ? WEIR_FLAG_AUDIT : 0,
      proxyPort: e.proxyPort ?? 0,
      precedence: e.precedence ?? 0,
      cookie: e.cookie ?? 0,
    }),
  ];
}

/** CIDR (`10.0.0.0/8`, `fd00::/64`, or a bare address) to an ipcache/prefilter key. */
function ipcacheKey(cidr: string): Buffer {
  const [addr = '', len] = cidr.split('/');
  const a = parseAddr(addr);
  return encodeIpcacheKey({ bits: len === undefined ? (a.family === 4 ? 32 : 128) : Number(len), family: a.family, addr: a.bytes });
}

/** Sorted key‖value records, as a bundle image stores them. */
function records(pairs: [Buffer, Buffer][]): Buffer {
  const blob = imageBlob(pairs);
  return Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
}

export function policyImage(endpointId: number, entries: PolicyEntry[], maxEntries = 16384): LoadedImage {
  const bytes = records(entries.map(policyRecord));
  return {
    image: mapImage(
      'policy',
      'weir_policy_key',
      'weir_policy_value',
      POLICY_KEY_SIZE,
      POLICY_VALUE_SIZE,
      entries.length,
      bytes,
      maxEntries,
      endpointId,
    ),
    bytes,
  };
}

export function ipcacheImage(entries: [cidr: string, identity: number][]): LoadedImage {
  const bytes = records(entries.map(([c, id]) => [ipcacheKey(c), encodeIpcacheValue({ identity: id, flags: 0 })]));
  return {
    image: mapImage(
      'ipcache',
      'weir_ipcache_key',
      'weir_ipcache_value',
      IPCACHE_KEY_SIZE,
      IPCACHE_VALUE_SIZE,
      entries.length,
      bytes,
      512000,
    ),
    bytes,
  };
}

function mapImage(
  name: string,
  keyType: string,
  valueType: string,
  keySize: number,
  valueSize: number,
  entries: number,
  bytes: Buffer,
  maxEntries: number,
  endpointId?: number,
): MapImage {
  return {
    name,
    keyType,
    valueType,
    type: 'lpm_trie',
    keySize,
    valueSize,
    maxEntries,
    entries,
    digest: createHash('sha256').update(bytes).digest('hex'),
    ...(endpointId !== undefined ? { endpointId, endpoint: `test/ep${endpointId}` } : {}),
  };
}

export interface RunResult {
  verdict: 'allow' | 'drop';
  mark: number;
}

/** Runs one direction's program on a synthesized packet; the endpoint must be registered at ifindex 1 (test_run's lo). */
export function run(dp: NetDatapath, direction: 'ingress' | 'egress', p: PacketSpec): RunResult {
  const prog = direction === 'ingress' ? dp.toEndpoint : dp.fromEndpoint;
  const r = prog.testRun({ data: synthesizePacket(p), ctx: Buffer.alloc(SKB_CTX_SIZE) });
  return { verdict: r.retval === 2 ? 'drop' : 'allow', mark: skbMark(r.ctxOut) };
}

/** A prefilter (XDP CIDR deny list) image: ipcache-style keys, {cookie, flags} values. */
export function prefilterImage(entries: [cidr: string, cookie: number][]): LoadedImage {
  const bytes = records(entries.map(([c, cookie]) => [ipcacheKey(c), encodePrefilterValue({ cookie, flags: 0 })]));
  return {
    image: mapImage(
      'prefilter',
      'weir_ipcache_key',
      'weir_prefilter_value',
      IPCACHE_KEY_SIZE,
      netLayouts.weir_prefilter_value.size,
      entries.length,
      bytes,
      65536,
    ),
    bytes,
  };
}
