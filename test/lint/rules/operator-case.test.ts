import { describe, expect, it } from 'vitest';
import { operatorCase } from '../../../compiler/lint/rules/operator-case.js';
import { check, cnp, where } from '../harness.js';

const cases: { name: string; yaml: string; expect: string[]; fix?: string }[] = [
  { name: 'In is fine', yaml: cnp('endpointSelector:\n  matchExpressions: [{key: env, operator: In, values: [prod]}]'), expect: [] },
  {
    name: 'all four operators',
    yaml: cnp(
      'endpointSelector:\n  matchExpressions:\n  - {key: a, operator: NotIn, values: [x]}\n  - {key: b, operator: Exists}\n  - {key: c, operator: DoesNotExist}',
    ),
    expect: [],
  },
  {
    name: 'lower-case in on the subject',
    yaml: cnp('endpointSelector:\n  matchExpressions:\n  - key: env\n    operator: in\n    values: [prod]'),
    expect: ['cilium/operator-case@10:17'],
    fix: 'In',
  },
  {
    name: 'quoted notin in a peer',
    yaml: cnp(
      'endpointSelector: {}\ningress:\n- fromEndpoints:\n  - matchExpressions:\n    - {key: env, operator: "notin", values: [dev]}',
    ),
    expect: ['cilium/operator-case@11:30'],
    fix: 'NotIn',
  },
  {
    name: 'unknown operator, no fix',
    yaml: cnp('endpointSelector:\n  matchExpressions: [{key: env, operator: Equals, values: [prod]}]'),
    expect: ['cilium/operator-case@8:45'],
  },
  {
    name: 'NetworkPolicy podSelector and namespaceSelector',
    yaml: 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n, namespace: default}\nspec:\n  podSelector:\n    matchExpressions: [{key: app, operator: in, values: [a]}]\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchExpressions: [{key: team, operator: exists}]\n',
    expect: ['cilium/operator-case@6:45', 'cilium/operator-case@10:50'],
  },
];

describe('cilium/operator-case', () => {
  it.each(cases)('$name', ({ yaml, expect: want, fix }) => {
    const got = check(operatorCase, yaml);
    expect(got.map(where)).toEqual(want);
    if (fix) expect(got[0]?.fix?.replacement).toBe(fix);
  });
  it('names the right spelling', () => {
    const [d] = check(operatorCase, cnp('endpointSelector:\n  matchExpressions: [{key: env, operator: doesnotexist}]'));
    expect(d?.message).toContain('`DoesNotExist`');
  });
});
