import { describe, expect, it } from 'vitest';
import { cidr } from '../../../compiler/lint/rules/cidr.js';
import { parsePrefix, prefixContains as contains } from '../../../compiler/model/cidr.js';
import { check, cnp, where } from '../harness.js';

const egress = (r: string) => cnp(`endpointSelector: {}\negress:\n- ${r}`);

const cases: { name: string; yaml: string; expect: string[]; message?: RegExp }[] = [
  { name: 'v4 and v6 CIDRs', yaml: egress('toCIDR: [10.0.0.0/8, "fd00::/64", 192.0.2.1]'), expect: [] },
  { name: 'except inside cidr', yaml: egress('toCIDRSet: [{cidr: 10.0.0.0/8, except: [10.96.0.0/12]}]'), expect: [] },
  { name: 'not a CIDR', yaml: egress('toCIDR: [10.0.0.0/33]'), expect: ['cilium/cidr@9:14'], message: /not a valid CIDR/ },
  {
    name: 'except outside cidr',
    yaml: egress('toCIDRSet:\n  - cidr: 10.0.0.0/8\n    except: [192.168.0.0/16]'),
    expect: ['cilium/cidr@11:16'],
    message: /excludes nothing/,
  },
  { name: 'except of another family', yaml: egress('toCIDRSet: [{cidr: 10.0.0.0/8, except: ["fd00::/8"]}]'), expect: ['cilium/cidr@9:45'] },
  {
    name: 'a zone is not part of a prefix',
    yaml: egress('toCIDR: ["fe80::1%eth0", "::%eth0"]'),
    expect: ['cilium/cidr@9:14', 'cilium/cidr@9:30'],
  },
  {
    name: 'leading zeros in an IPv4 octet (Go refuses them)',
    yaml: egress('toCIDR: [010.0.0.0/8, "::ffff:10.0.0.01"]'),
    expect: ['cilium/cidr@9:14', 'cilium/cidr@9:27'],
  },
  { name: 'an IPv4 address cannot start an IPv6 one', yaml: egress('toCIDR: ["1.2.3.4::/64"]'), expect: ['cilium/cidr@9:14'] },
  { name: 'fromCIDR in ingress', yaml: cnp('endpointSelector: {}\ningress:\n- fromCIDR: [300.1.1.1/32]'), expect: ['cilium/cidr@9:16'] },
];

describe('cilium/cidr', () => {
  it.each(cases)('$name', ({ yaml, expect: want, message }) => {
    const got = check(cidr, yaml);
    expect(got.map(where)).toEqual(want);
    if (message) expect(got[0]?.message).toMatch(message);
  });
  it('prefix containment across v4 and v6', () => {
    expect(contains(parsePrefix('10.0.0.0/8')!, parsePrefix('10.255.0.0/16')!)).toBe(true);
    expect(contains(parsePrefix('10.0.0.0/8')!, parsePrefix('11.0.0.0/16')!)).toBe(false);
    expect(contains(parsePrefix('fd00::/8')!, parsePrefix('fd12:3456::/32')!)).toBe(true);
    expect(contains(parsePrefix('fd00::/16')!, parsePrefix('fd01::/32')!)).toBe(false);
    expect(contains(parsePrefix('::ffff:0:0/96')!, parsePrefix('::ffff:10.0.0.1')!)).toBe(true);
    expect(parsePrefix('10.0.0.0/8x')).toBeUndefined();
  });
});
