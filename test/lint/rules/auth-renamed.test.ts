import { describe, expect, it } from 'vitest';
import { authRenamed } from '../../../compiler/lint/rules/auth-renamed.js';
import { check, cnp, where } from '../harness.js';

const cases: { name: string; yaml: string; expect: string[]; message?: RegExp }[] = [
  {
    name: 'authentication is fine',
    yaml: cnp('endpointSelector: {}\negress:\n- toEndpoints: [{}]\n  authentication: {mode: required}'),
    expect: [],
  },
  {
    name: 'auth type spire becomes mode required',
    yaml: cnp('endpointSelector: {}\negress:\n- toEndpoints: [{}]\n  auth:\n    type: spire'),
    expect: ['cilium/auth-renamed@10:5'],
    message: /mode: required/,
  },
  {
    name: 'auth type "null" becomes mode disabled',
    yaml: cnp('endpointSelector: {}\ningress:\n- fromEndpoints: [{}]\n  auth: {type: "null"}'),
    expect: ['cilium/auth-renamed@10:5'],
    message: /mode: disabled/,
  },
];

describe('cilium/auth-renamed', () => {
  it.each(cases)('$name', ({ yaml, expect: want, message }) => {
    const got = check(authRenamed, yaml);
    expect(got.map(where)).toEqual(want);
    if (message) expect(got[0]?.message).toMatch(message);
  });
});
