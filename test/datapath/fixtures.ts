// Images built in the tests from weir_net.h layouts (bpf/encode-net.ts), and test_run helpers.
import { createHash } from 'node:crypto';
import type { MapImage } from '../../compiler/bundle/types.js';
import type { LoadedImage, NetDatapath } from '../../bpf/datapath.js';
import { IPCACHE_KEY_SIZE, IPCACHE_VALUE_SIZE, POLICY_KEY_SIZE, POLICY_VALUE_SIZE, type PolicyEntry, ipcacheKey, ipcacheValue, policyKey, policyValue, records } from '../../bpf/encode-net.js';
import { SKB_CTX_SIZE, SKB_MARK_OFFSET, synthesizePacket, type PacketSpec } from '../../bpf/packet.js';

export function policyImage(endpointId: number, entries: PolicyEntry[], maxEntries = 16384): LoadedImage {
  const bytes = records(entries.map((e) => [policyKey(e), policyValue(e)]));
  return { image: mapImage('policy', 'weir_policy_key', 'weir_policy_value', POLICY_KEY_SIZE, POLICY_VALUE_SIZE, entries.length, bytes, maxEntries, endpointId), bytes };
}

export function ipcacheImage(entries: [cidr: string, identity: number][]): LoadedImage {
  const bytes = records(entries.map(([c, id]) => [ipcacheKey(c), ipcacheValue(id)]));
  return { image: mapImage('ipcache', 'weir_ipcache_key', 'weir_ipcache_value', IPCACHE_KEY_SIZE, IPCACHE_VALUE_SIZE, entries.length, bytes, 512000), bytes };
}

function mapImage(name: string, keyType: string, valueType: string, keySize: number, valueSize: number, entries: number, bytes: Buffer, maxEntries: number, endpointId?: number): MapImage {
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
  return { verdict: r.retval === 2 ? 'drop' : 'allow', mark: r.ctxOut?.readUInt32LE(SKB_MARK_OFFSET) ?? 0 };
}

/** A prefilter (XDP CIDR deny list) image: ipcache-style keys, {cookie, flags} values. */
export function prefilterImage(entries: [cidr: string, cookie: number][]): LoadedImage {
  const bytes = records(entries.map(([c, cookie]) => {
    const v = Buffer.alloc(8);
    v.writeUInt32LE(cookie, 0);
    return [ipcacheKey(c), v];
  }));
  return { image: mapImage('prefilter', 'weir_ipcache_key', 'weir_prefilter_value', IPCACHE_KEY_SIZE, 8, entries.length, bytes, 65536), bytes };
}
