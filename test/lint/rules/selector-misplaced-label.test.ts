import { describe, expect, it } from 'vitest';
import { selectorMisplacedLabel } from '../../../compiler/lint/rules/selector-misplaced-label.js';
import { check, cnp, where } from '../harness.js';

const cases: { name: string; yaml: string; expect: string[]; message?: RegExp }[] = [
  {
    name: 'label under matchLabels is fine',
    yaml: cnp('endpointSelector: {}\ningress:\n- fromEndpoints:\n  - matchLabels:\n      role: frontend'),
    expect: [],
  },
  {
    name: 'label beside an empty matchLabels',
    yaml: cnp('endpointSelector: {}\ningress:\n- fromEndpoints:\n  - matchLabels:\n    role: frontend'),
    expect: ['cilium/selector-misplaced-label@11:7'],
    message: /selects every endpoint/,
  },
  {
    name: 'beside the subject selector',
    yaml: cnp('endpointSelector:\n  matchLabels:\n  app: web'),
    expect: ['cilium/selector-misplaced-label@9:5'],
  },
];

describe('cilium/selector-misplaced-label', () => {
  it.each(cases)('$name', ({ yaml, expect: want, message }) => {
    const got = check(selectorMisplacedLabel, yaml);
    expect(got.map(where)).toEqual(want);
    if (message) expect(got[0]?.message).toMatch(message);
  });
});
