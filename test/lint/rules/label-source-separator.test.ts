import { describe, expect, it } from 'vitest';
import { labelSourceSeparator } from '../../../compiler/lint/rules/label-source-separator.js';
import { check, cnp, where } from '../harness.js';

const cases: { name: string; yaml: string; expect: string[]; fix?: string }[] = [
  {
    name: 'k8s: prefix is fine',
    yaml: cnp('endpointSelector:\n  matchLabels: {"k8s:io.kubernetes.pod.namespace": kube-system}'),
    expect: [],
  },
  {
    name: 'unprefixed key is fine',
    yaml: cnp('endpointSelector:\n  matchLabels: {io.kubernetes.pod.namespace: kube-system, app.kubernetes.io/name: x}'),
    expect: [],
  },
  {
    name: 'k8s.io. in matchLabels points at the key',
    yaml: cnp('endpointSelector: {}\negress:\n- toEndpoints:\n  - matchLabels:\n      "k8s.io.kubernetes.pod.namespace": kube-system'),
    expect: ['cilium/label-source-separator@11:9'],
    fix: 'k8s:io.kubernetes.pod.namespace',
  },
  {
    name: 'k8s.io. in matchExpressions points at the key value',
    yaml: cnp('endpointSelector:\n  matchExpressions:\n  - key: k8s.io.kubernetes.pod.namespace\n    operator: Exists'),
    expect: ['cilium/label-source-separator@9:12'],
    fix: 'k8s:io.kubernetes.pod.namespace',
  },
  {
    name: 'any.io. too',
    yaml: cnp('endpointSelector:\n  matchLabels: {any.io.cilium.k8s.policy.serviceaccount: sa}'),
    expect: ['cilium/label-source-separator@8:19'],
    fix: 'any:io.cilium.k8s.policy.serviceaccount',
  },
];

describe('cilium/label-source-separator', () => {
  it.each(cases)('$name', ({ yaml, expect: want, fix }) => {
    const got = check(labelSourceSeparator, yaml);
    expect(got.map(where)).toEqual(want);
    if (fix) expect(got[0]?.fix?.replacement).toBe(fix);
  });
});
