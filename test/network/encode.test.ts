import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as enc from '../../bpf/abi/net.js';
import { abiInfoOf } from '../../bpf/abi/digest.js';
import { abiInfo } from '../../compiler/bundle/abi-stamp.js';

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
    for (const n of [
      'WEIR_DIR_INGRESS',
      'WEIR_DIR_EGRESS',
      'WEIR_VERDICT_ALLOW',
      'WEIR_VERDICT_DENY',
      'WEIR_VERDICT_REDIRECT',
      'WEIR_FLAG_AUDIT',
      'WEIR_AUTH_REQUIRED',
      'WEIR_EP_INGRESS_ENFORCED',
      'WEIR_EP_EGRESS_ENFORCED',
      'WEIR_POLICY_MAX_ENTRIES_DEFAULT',
      'WEIR_ENDPOINTS_MAX',
      'WEIR_IPCACHE_MAX_ENTRIES',
    ] as const) {
      expect((enc as unknown as Record<string, number>)[n], n).toBe(define(n));
    }
  });

  it("every WEIR_* constant the ABI mirrors is the header's", () => {
    // Stated in the header's comments rather than defined.
    const commented = ['WEIR_IPCACHE_FLAG_FQDN', 'WEIR_POLICY_PREFIX_PROTO'];
    const mirrored = Object.entries(enc).filter(([n, v]) => n.startsWith('WEIR_') && typeof v === 'number' && !commented.includes(n));
    expect(mirrored.length).toBeGreaterThan(40);
    for (const [n, v] of mirrored) expect(v, n).toBe(define(n));
    expect(header).toMatch(/__u32 flags; \/\* bit 0: learned from DNS \(FQDN\), expires \*\//);
    expect(enc.WEIR_IPCACHE_FLAG_FQDN).toBe(1);
    expect(header).toMatch(/ \* {3}48 {8}= this protocol, any port;/);
    expect(enc.WEIR_POLICY_PREFIX_PROTO).toBe(48);
  });
});

describe('ABI digest', () => {
  it("is the header's sha256 and WEIR_NET_ABI_VERSION, and any change to the header changes it", () => {
    const a = abiInfoOf(header);
    expect(a.version).toBe(define('WEIR_NET_ABI_VERSION'));
    expect(a).toEqual(abiInfo());
    expect(abiInfoOf(header.replace('WEIR_NET_ABI_VERSION 1', 'WEIR_NET_ABI_VERSION 2'))).toMatchObject({ version: 2 });
    expect(abiInfoOf(`${header} `).digest).not.toBe(a.digest);
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
  it('IPv6 ipcache keys, LPM key halves and prefilter values', () => {
    const addr = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...new Array<number>(11).fill(0), 7]);
    const k = enc.ipcacheLookupKey(6, addr);
    expect(k.toString('hex')).toBe('a0000000' + '06000000' + '20010db8000000000000000000000007');
    expect(enc.decodeIpcacheKey(k)).toEqual({ bits: 128, family: 6, addr });
    const { prefixlen, data } = enc.splitLpmKey(k);
    expect([prefixlen, data.length, data[0]]).toEqual([enc.WEIR_IPCACHE_PREFIX_V6, 20, 6]);
    const pv = { cookie: 9, flags: 1 };
    expect(enc.encodePrefilterValue(pv).toString('hex')).toBe('09000000' + '01000000');
    expect(enc.decodePrefilterValue(enc.encodePrefilterValue(pv))).toEqual(pv);
  });
  it('the bundle in force round-trips through weir_state, and a too long one is refused', () => {
    const applied = { digest: 'a'.repeat(64), revision: 'main@1234' };
    const v = enc.encodeStateValue(applied);
    expect(v.length).toBe(enc.STATE_VALUE_SIZE);
    expect(enc.decodeStateValue(v)).toEqual(applied);
    expect(enc.decodeStateValue(Buffer.alloc(enc.STATE_VALUE_SIZE))).toBeUndefined();
    expect(() => enc.encodeStateValue({ digest: 'x'.repeat(300), revision: '' })).toThrow(/exceed 254 bytes/);
  });
  it("net events decode at the layout's offsets, IPv6 addresses compressed", () => {
    const l = enc.netLayouts.weir_net_event;
    const b = Buffer.alloc(l.size);
    b.writeBigUInt64LE(123n, l.fields.ts_ns.offset);
    b.writeUInt32LE(77, l.fields.cookie.offset);
    b[l.fields.family.offset] = 6;
    b[l.fields.reason.offset] = enc.WEIR_REASON_POLICY_DENY;
    b[l.fields.direction.offset] = enc.WEIR_DIR_EGRESS;
    b.writeUInt16LE(443, l.fields.dport.offset);
    b.set([0xfd, 0, 2, 0], l.fields.saddr.offset);
    b[l.fields.saddr.offset + 15] = 0x12;
    b[l.fields.daddr.offset + 15] = 1;
    expect(enc.decodeNetEvent(b)).toMatchObject({
      tsNs: 123n,
      cookie: 77,
      family: 6,
      reason: 'policy-deny',
      direction: 'egress',
      dport: 443,
      saddr: 'fd00:200::12',
      daddr: '::1',
    });
    b[l.fields.reason.offset] = 9;
    expect(enc.decodeNetEvent(b).reason).toBe('unknown(9)');
  });
});
