import { describe, expect, it } from 'vitest';
import { reservedLabel } from '../../../compiler/lint/rules/reserved-label.js';
import { check, cnp, where } from '../harness.js';

const cases: { name: string; yaml: string; expect: string[]; message?: RegExp }[] = [
  { name: 'reserved:init is fine', yaml: cnp('endpointSelector:\n  matchLabels: {"reserved:init": ""}'), expect: [] },
  {
    name: 'reserved:host in a peer is fine',
    yaml: cnp('endpointSelector: {}\ningress:\n- fromEndpoints: [{matchLabels: {"reserved:host": ""}}]'),
    expect: [],
  },
  {
    name: 'reserved.init',
    yaml: cnp('endpointSelector:\n  matchLabels:\n    "reserved.init": ""'),
    expect: ['cilium/reserved-label@9:7'],
    message: /reserved:init/,
  },
  {
    name: 'unknown reserved name',
    yaml: cnp('endpointSelector:\n  matchLabels: {"reserved:wrold": ""}'),
    expect: ['cilium/reserved-label@8:19'],
    message: /not a reserved identity/,
  },
];

describe('cilium/reserved-label', () => {
  it.each(cases)('$name', ({ yaml, expect: want, message }) => {
    const got = check(reservedLabel, yaml);
    expect(got.map(where)).toEqual(want);
    if (message) expect(got[0]?.message).toMatch(message);
  });
});
