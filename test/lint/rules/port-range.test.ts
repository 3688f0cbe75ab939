import { describe, expect, it } from 'vitest';
import { portRange } from '../../../compiler/lint/rules/port-range.js';
import { check, cnp, where } from '../harness.js';

const ports = (p: string) => cnp(`endpointSelector: {}\ningress:\n- toPorts:\n  - ports:\n    - ${p}`);

const cases: { name: string; yaml: string; expect: string[]; message?: RegExp }[] = [
  { name: 'numeric string', yaml: ports('{port: "8080", protocol: TCP}'), expect: [] },
  { name: 'range', yaml: ports('{port: "8000", endPort: 8080, protocol: TCP}'), expect: [] },
  { name: 'named port', yaml: ports('{port: http-alt, protocol: TCP}'), expect: [] },
  { name: 'out of range', yaml: ports('{port: "70000"}'), expect: ['cilium/port-range@11:16'], message: /outside 0-65535/ },
  {
    name: 'endPort below port',
    yaml: ports('{port: "8080", endPort: 80}'),
    expect: ['cilium/port-range@11:33'],
    message: /below port 8080/,
  },
  { name: 'named port with endPort', yaml: ports('{port: http, endPort: 90}'), expect: ['cilium/port-range@11:31'], message: /named port/ },
  { name: 'bad port name', yaml: ports('{port: HTTP_Alt}'), expect: ['cilium/port-range@11:16'], message: /valid port name/ },
];

describe('cilium/port-range', () => {
  it.each(cases)('$name', ({ yaml, expect: want, message }) => {
    const got = check(portRange, yaml);
    expect(got.map(where)).toEqual(want);
    if (message) expect(got[0]?.message).toMatch(message);
  });
});
