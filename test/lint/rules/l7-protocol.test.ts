import { describe, expect, it } from 'vitest';
import { l7Protocol } from '../../../compiler/lint/rules/l7-protocol.js';
import { check, cnp, where } from '../harness.js';

const port = (proto: string, rules: string) =>
  cnp(`endpointSelector: {}\ningress:\n- toPorts:\n  - ports:\n    - port: "80"\n      protocol: ${proto}\n    rules: ${rules}`);

const cases: { name: string; yaml: string; expect: string[] }[] = [
  { name: 'HTTP on TCP', yaml: port('TCP', '{http: [{method: GET}]}'), expect: [] },
  { name: 'HTTP on ANY (Cilium narrows to TCP)', yaml: port('ANY', '{http: [{method: GET}]}'), expect: [] },
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
});
