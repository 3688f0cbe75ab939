import { describe, expect, it } from 'vitest';
import { l7Protocol } from '../../../compiler/lint/rules/l7-protocol.js';
import { check, cnp, where } from '../harness.js';

const port = (proto: string, rules: string) =>
  cnp(`endpointSelector: {}\ningress:\n- toPorts:\n  - ports:\n    - port: "80"\n      protocol: ${proto}\n    rules: ${rules}`);

const cases: { name: string; yaml: string; expect: string[] }[] = [
  { name: 'HTTP on TCP', yaml: port('TCP', '{http: [{method: GET}]}'), expect: [] },
  { name: 'HTTP on ANY: Cilium refuses (not ANY)', yaml: port('ANY', '{http: [{method: GET}]}'), expect: ['cilium/l7-on-non-tcp@12:19'] },
  {
    name: 'HTTP with no protocol is ANY',
    yaml: cnp('endpointSelector: {}\ningress:\n- toPorts:\n  - ports:\n    - port: "80"\n    rules: {http: [{method: GET}]}'),
    expect: ['cilium/l7-on-non-tcp@11:9'],
  },
  { name: 'l7proto on ANY', yaml: port('ANY', '{l7proto: r2d2, l7: [{cmd: READ}]}'), expect: ['cilium/l7-on-non-tcp@12:19'] },
  { name: 'DNS on ANY', yaml: port('ANY', '{dns: [{matchPattern: "*"}]}'), expect: [] },
  { name: 'DNS on UDP', yaml: port('UDP', '{dns: [{matchPattern: "*"}]}'), expect: [] },
  { name: 'HTTP on UDP', yaml: port('UDP', '{http: [{method: GET}]}'), expect: ['cilium/l7-on-non-tcp@12:19'] },
  { name: 'Kafka on SCTP', yaml: port('SCTP', '{kafka: [{topic: t}]}'), expect: ['cilium/l7-on-non-tcp@12:19'] },
  { name: 'DNS on SCTP', yaml: port('SCTP', '{dns: [{matchName: a.example}]}'), expect: ['cilium/l7-on-non-tcp@12:19'] },
  { name: 'empty http list is no L7', yaml: port('UDP', '{http: []}'), expect: [] },
];

describe('cilium/l7-on-non-tcp', () => {
  it.each(cases)('$name', ({ yaml, expect: want }) => {
    expect(check(l7Protocol, yaml).map(where)).toEqual(want);
  });
  it('quotes what the agent says', () => {
    const [d] = check(l7Protocol, port('ANY', '{http: [{method: GET}]}'));
    expect(d?.message).toContain('"L7 rules can only apply to TCP (not ANY) except for DNS rules"');
    expect(d?.message).toContain('write `protocol: TCP`');
  });
});
