// The hand-rolled address parsers and the allocation-free prefix test against plain reference
// implementations (split and regex, mask by bytes), on random and edge-case input.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ipv4ToInt as ipToInt, parseAddress, parsePrefix, prefixContains, type Prefix } from '../../compiler/model/cidr.js';

function refV4(s: string): number[] | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    out.push(Number(p));
  }
  return out;
}

function refContains(outer: Prefix, inner: Prefix): boolean {
  if (outer.family !== inner.family || outer.bits > inner.bits) return false;
  for (let i = 0; i < inner.addr.length; i++) {
    const keep = Math.max(0, Math.min(8, outer.bits - 8 * i));
    const m = (0xff << (8 - keep)) & 0xff;
    if ((inner.addr[i]! & m) !== outer.addr[i]) return false;
  }
  return true;
}

const octet = fc.oneof(
  fc.integer({ min: 0, max: 255 }).map(String),
  fc.constantFrom('', '256', '999', '1000', '01', '007', 'a', '-1', ' 1'),
);
const v4ish = fc.oneof(
  fc.tuple(octet, octet, octet, octet).map((p) => p.join('.')),
  fc.array(octet, { minLength: 0, maxLength: 6 }).map((p) => p.join('.')),
  fc.string({ maxLength: 16 }),
);

describe('IPv4 parsing', () => {
  it('parseAddress and ipToInt agree with a split-and-regex reference', () => {
    fc.assert(
      fc.property(v4ish, (s) => {
        const want = refV4(s);
        const got = parseAddress(s);
        if (want) {
          expect(got?.family).toBe(4);
          expect([...got!.addr]).toEqual(want);
          expect(ipToInt(s)).toBe(((want[0]! * 256 + want[1]!) * 256 + want[2]!) * 256 + want[3]!);
        } else {
          expect(got === undefined || got.family === 6).toBe(true);
          expect(ipToInt(s)).toBeUndefined();
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('rejects the usual malformed forms', () => {
    for (const s of ['', '1.2.3', '1.2.3.4.', '.1.2.3', '1..2.3', '1.2.3.256', '1.2.3.4 ', '1.2.3.1234', '1.2.3.-4']) {
      expect(parseAddress(s), s).toBeUndefined();
      expect(ipToInt(s), s).toBeUndefined();
    }
    expect(ipToInt('255.255.255.255')).toBe(2 ** 32 - 1);
    expect([...parseAddress('::ffff:10.1.2.3')!.addr.slice(12)]).toEqual([10, 1, 2, 3]);
  });
});

describe('IPv6 parsing', () => {
  it('takes an embedded IPv4 address only at the end, and no zone', () => {
    expect([...parseAddress('::ffff:10.1.2.3')!.addr]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3]);
    expect(parseAddress('64:ff9b::192.0.2.1')?.family).toBe(6);
    for (const s of ['1.2.3.4::', '1.2.3.4::ff', '::1.2.3.4:ff', '::1%eth0', 'fe80::1%25eth0', '1::2::3', '1:2:3:4:5:6:7:8:9'])
      expect(parseAddress(s), s).toBeUndefined();
  });

  it('strict prefixes refuse IPv4 octets with a leading zero, in either family, and keep IPv6 groups as written', () => {
    expect(parsePrefix('010.0.0.0/8')?.bits).toBe(8);
    expect(parsePrefix('010.0.0.0/8', { strict: true })).toBeUndefined();
    expect(parsePrefix('::ffff:10.0.0.01', { strict: true })).toBeUndefined();
    expect(parsePrefix('10.0.0.0/8', { strict: true })?.bits).toBe(8);
    expect(parsePrefix('0.0.0.0/0', { strict: true })?.bits).toBe(0);
    expect(parsePrefix('fd00:0001::/32', { strict: true })?.family).toBe(6);
    expect(parsePrefix('::ffff:10.0.0.0/104', { strict: true })?.family).toBe(6);
  });
});

describe('prefixContains', () => {
  const v4Prefix = fc
    .tuple(fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 }), fc.integer({ min: 0, max: 32 }))
    .map(([a, b]) => parsePrefix(`${a.join('.')}/${b}`)!);
  const v6Prefix = fc
    .tuple(fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }), fc.integer({ min: 0, max: 128 }))
    .map(([w, b]) => parsePrefix(`${w.map((x) => x.toString(16)).join(':')}/${b}`)!);
  it('agrees with masking byte by byte (both families, related and unrelated prefixes)', () => {
    fc.assert(
      fc.property(fc.oneof(v4Prefix, v6Prefix), fc.oneof(v4Prefix, v6Prefix), fc.integer({ min: 0, max: 128 }), (a, b, cut) => {
        expect(prefixContains(a, b)).toBe(refContains(a, b));
        // A prefix of b itself (shorter) must contain it.
        const shorter = parsePrefix(
          `${b.family === 4 ? [...b.addr].join('.') : [...Array(8).keys()].map((i) => ((b.addr[2 * i]! << 8) | b.addr[2 * i + 1]!).toString(16)).join(':')}/${Math.min(cut, b.bits)}`,
        )!;
        expect(prefixContains(shorter, b)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});
