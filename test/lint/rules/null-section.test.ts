import { describe, expect, it } from 'vitest';
import { nullSection } from '../../../compiler/lint/rules/null-section.js';
import { check, cnp, where } from '../harness.js';

const cases: { name: string; yaml: string; expect: string[]; message?: RegExp }[] = [
  { name: 'egress: [{}] is the default-deny idiom', yaml: cnp('endpointSelector: {}\negress:\n- {}'), expect: [] },
  { name: 'fromEndpoints: [{}] allows all', yaml: cnp('endpointSelector: {}\ningress:\n- fromEndpoints:\n  - {}'), expect: [] },
  {
    name: 'egress with no value',
    yaml: cnp('endpointSelector: {}\negress:'),
    expect: ['cilium/null-section@8:3'],
    message: /does not enable egress default-deny/,
  },
  {
    name: 'ingressDeny with no value',
    yaml: cnp('endpointSelector: {}\ningressDeny:'),
    expect: ['cilium/null-section@8:3'],
    message: /ingress default-deny/,
  },
  {
    name: 'fromEndpoints with no value',
    yaml: cnp('endpointSelector: {}\ningress:\n- fromEndpoints:\n  toPorts: [{ports: [{port: "80"}]}]'),
    expect: ['cilium/null-section@9:5'],
    message: /fromEndpoints: \[\{\}\]/,
  },
];

describe('cilium/null-section', () => {
  it.each(cases)('$name', ({ yaml, expect: want, message }) => {
    const got = check(nullSection, yaml);
    expect(got.map(where)).toEqual(want);
    if (message) expect(got[0]?.message).toMatch(message);
  });
});
