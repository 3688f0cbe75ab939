import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as enc from '../../bpf/abi/net.js';

const header = readFileSync(path.resolve(import.meta.dirname, '../../bpf/include/weir_net.h'), 'utf8');
const define = (name: string): number => {
  const m = new RegExp(`#define\\s+${name}\\s+(0x[0-9a-fA-F]+|\\d+)`).exec(header);
  if (!m) throw new Error(`weir_net.h has no #define ${name}`);
  return Number(m[1]);
};

describe('netLayouts', () => {
  it('fields tile each struct without overlap and within its size', () => {
    for (const [name, l] of Object.entries(enc.netLayouts)) {
      const fields = Object.values(l.fields as Record<string, enc.FieldLayout>).sort((a, b) => a.offset - b.offset);
      let end = 0;
      for (const fl of fields) {
        expect(fl.offset, name).toBeGreaterThanOrEqual(end);
        end = fl.offset + fl.size;
      }
      expect(end, name).toBeLessThanOrEqual(l.size);
    }
  });

  it('constants agree with weir_net.h', () => {
    for (const n of ['WEIR_DIR_INGRESS', 'WEIR_DIR_EGRESS', 'WEIR_VERDICT_ALLOW', 'WEIR_VERDICT_DENY', 'WEIR_VERDICT_REDIRECT', 'WEIR_FLAG_AUDIT', 'WEIR_AUTH_REQUIRED', 'WEIR_EP_INGRESS_ENFORCED', 'WEIR_EP_EGRESS_ENFORCED', 'WEIR_POLICY_MAX_ENTRIES_DEFAULT', 'WEIR_ENDPOINTS_MAX', 'WEIR_IPCACHE_MAX_ENTRIES'] as const) {
      expect((enc as unknown as Record<string, number>)[n], n).toBe(define(n));
    }
  });
});

describe('encoders', () => {
  it('policy key: host-order prefixlen and identity, network-order port', () => {
    const b = enc.encodePolicyKey({ prefixlen: 64, identity: 0x01020304, direction: 1, protocol: 6, port: 80 });
    expect(b.toString('hex')).toBe('40000000' + '04030201' + '01' + '06' + '0050');
    expect(enc.decodePolicyKey(b)).toEqual({ prefixlen: 64, identity: 0x01020304, direction: 1, protocol: 6, port: 80 });
  });
  it('policy value round-trips', () => {
    const v = { verdict: 2, auth: 2, flags: 1, proxyPort: 7, precedence: 5, cookie: 42 };
    const b = enc.encodePolicyValue(v);
    expect(b.toString('hex')).toBe('02020100' + '0700' + '0000' + '05000000' + '2a000000');
    expect(enc.decodePolicyValue(b)).toEqual(v);
  });
  it('ipcache key carries 32 family bits in the prefix length', () => {
    const b = enc.encodeIpcacheKey({ bits: 24, family: 4, addr: Uint8Array.from([10, 0, 1, 0]) });
    expect(b.readUInt32LE(0)).toBe(56);
    expect([...b.subarray(8, 12)]).toEqual([10, 0, 1, 0]);
    expect(b.length).toBe(24);
    expect(enc.decodeIpcacheKey(b)).toEqual({ bits: 24, family: 4, addr: Uint8Array.from([10, 0, 1, 0]) });
  });
  it('endpoint value round-trips', () => {
    const v = { endpointId: 3, identity: 300, flags: 3 };
    expect(enc.decodeEndpointValue(enc.encodeEndpointValue(v))).toEqual(v);
  });
});
