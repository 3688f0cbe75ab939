import { describe, expect, it } from 'vitest';
import { ciliumPeerKinds } from '../../../compiler/lint/rules/cilium-peer-kinds.js';
import { check, cnp, where } from '../harness.js';

const cases: { name: string; yaml: string; expect: string[]; message?: RegExp }[] = [
  {
    name: 'one peer kind per rule',
    yaml: cnp('endpointSelector: {}\ningress:\n- fromEndpoints: [{}]\n- fromCIDR: [10.0.0.0/8]'),
    expect: [],
  },
  {
    name: 'fromEndpoints with fromCIDR',
    yaml: cnp('endpointSelector: {}\ningress:\n- fromEndpoints: [{}]\n  fromCIDR: [10.0.0.0/8]'),
    expect: ['cilium/peer-kinds@10:5'],
    message:
      /combines `fromEndpoints` and `fromCIDR`.*"Combining FromEndpoints and FromCIDR is not supported yet"\); split it into two rules/,
  },
  {
    name: 'toEndpoints with toEntities',
    yaml: cnp('endpointSelector: {}\negress:\n- toEndpoints: [{}]\n  toEntities: [world]'),
    expect: ['cilium/peer-kinds@10:5'],
  },
  {
    name: 'toCIDR with toCIDRSet',
    yaml: cnp('endpointSelector: {}\negress:\n- toCIDR: [1.1.1.1/32]\n  toCIDRSet: [{cidr: 10.0.0.0/8}]'),
    expect: ['cilium/peer-kinds@10:5'],
  },
  {
    name: 'deny sections too',
    yaml: cnp('endpointSelector: {}\negressDeny:\n- toFQDNs: [{matchName: a.example}]\n  toEndpoints: [{}]'),
    expect: ['cilium/peer-kinds@10:5'],
  },
  { name: 'empty lists do not count', yaml: cnp('endpointSelector: {}\ningress:\n- fromEndpoints: [{}]\n  fromCIDR: []'), expect: [] },
  {
    name: 'peers with ports are one rule',
    yaml: cnp('endpointSelector: {}\negress:\n- toEntities: [world]\n  toPorts: [{ports: [{port: "443"}]}]'),
    expect: [],
  },
];

describe('cilium/peer-kinds', () => {
  it.each(cases)('$name', ({ yaml, expect: want, message }) => {
    const got = check(ciliumPeerKinds, yaml);
    expect(got.map(where)).toEqual(want);
    if (message) expect(got[0]?.message).toMatch(message);
    for (const d of got) expect(d.severity).toBe('error');
  });
});
