import { describe, expect, it } from 'vitest';
import { requiresRemoved } from '../../../compiler/lint/rules/requires-removed.js';
import { check, cnp, where } from '../harness.js';

const cases: { name: string; yaml: string; expect: string[] }[] = [
  { name: 'fromEndpoints is fine', yaml: cnp('endpointSelector: {}\ningress:\n- fromEndpoints: [{matchLabels: {env: prod}}]'), expect: [] },
  {
    name: 'fromRequires',
    yaml: cnp('endpointSelector: {}\ningress:\n- fromRequires:\n  - matchLabels: {env: prod}'),
    expect: ['cilium/requires-removed@9:5'],
  },
  {
    name: 'toRequires in egress of the second specs entry',
    yaml: 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p}\nspecs:\n- endpointSelector: {}\n- endpointSelector: {}\n  egress:\n  - toRequires: [{matchLabels: {env: prod}}]\n',
    expect: ['cilium/requires-removed@8:5'],
  },
];

describe('cilium/requires-removed', () => {
  it.each(cases)('$name', ({ yaml, expect: want }) => {
    expect(check(requiresRemoved, yaml).map(where)).toEqual(want);
  });
});
