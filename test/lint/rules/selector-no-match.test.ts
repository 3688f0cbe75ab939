import { describe, expect, it } from 'vitest';
import { selectorNoMatch } from '../../../compiler/lint/rules/selector-no-match.js';
import { check, cnp, inventoryFrom, where } from '../harness.js';

const inventory = inventoryFrom(`apiVersion: weir.dev/v1alpha1
kind: Inventory
metadata: {name: inv}
spec:
  namespaces: [{name: default, labels: {}}, {name: shop, labels: {team: shop}}]
  pods:
  - {namespace: default, name: web, labels: {app: web, tier: front, pod-template-hash: 5d8f}, ips: [10.0.0.1], node: n1}
  - {namespace: shop, name: cart, labels: {app: cart}, ips: [10.0.0.2], node: n1, serviceAccount: cart}
`);

const cases: { name: string; yaml: string; expect: string[]; message?: RegExp }[] = [
  { name: 'subject matches a pod', yaml: cnp('endpointSelector: {matchLabels: {app: web}}'), expect: [] },
  { name: 'empty selector is not judged', yaml: cnp('endpointSelector: {}'), expect: [] },
  {
    name: 'typo in the subject',
    yaml: cnp('endpointSelector: {matchLabels: {app: wbe}}'),
    expect: ['selector/no-match@7:21'],
    message: /in namespace default/,
  },
  {
    name: 'peer in another namespace needs the namespace label',
    yaml: cnp('endpointSelector: {matchLabels: {app: web}}\negress:\n- toEndpoints: [{matchLabels: {app: cart}}]'),
    expect: ['selector/no-match@9:19'],
  },
  {
    name: 'peer with k8s:io.kubernetes.pod.namespace',
    yaml: cnp(
      'endpointSelector: {matchLabels: {app: web}}\negress:\n- toEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": shop, app: cart}}]',
    ),
    expect: [],
  },
  {
    name: 'namespace labels',
    yaml: cnp(
      'endpointSelector: {matchLabels: {app: web}}\negress:\n- toEndpoints: [{matchLabels: {io.cilium.k8s.namespace.labels.team: shop}}]',
    ),
    expect: [],
  },
  {
    name: 'service account label',
    yaml: cnp(
      'endpointSelector: {matchLabels: {app: web}}\negress:\n- toEndpoints: [{matchLabels: {"k8s:io.cilium.k8s.policy.serviceaccount": cart, "k8s:io.kubernetes.pod.namespace": shop}}]',
    ),
    expect: [],
  },
  {
    name: 'matchExpressions NotIn',
    yaml: cnp('endpointSelector: {matchExpressions: [{key: tier, operator: NotIn, values: [front]}, {key: app, operator: Exists}]}'),
    expect: ['selector/no-match@7:21'],
  },
  {
    name: 'labels outside the identity select nothing, as in the compiler',
    yaml: cnp('endpointSelector: {matchLabels: {pod-template-hash: 5d8f}}'),
    expect: ['selector/no-match@7:21'],
  },
  {
    name: 'a subject on namespace labels stays in its namespace',
    yaml: cnp('endpointSelector: {matchLabels: {io.cilium.k8s.namespace.labels.team: shop}}'),
    expect: ['selector/no-match@7:21'],
    message: /in namespace default/,
  },
  { name: 'reserved selectors are not pods', yaml: cnp('endpointSelector: {matchLabels: {"reserved:host": ""}}'), expect: [] },
  {
    name: 'clusterwide subject searches every namespace',
    yaml: 'apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: c}\nspec:\n  endpointSelector: {matchLabels: {app: cart}}\n',
    expect: [],
  },
  {
    name: 'NetworkPolicy podSelector',
    yaml: 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n, namespace: shop}\nspec:\n  podSelector: {matchLabels: {app: web}}\n',
    expect: ['selector/no-match@5:16'],
  },
];

describe('selector/no-match', () => {
  it.each(cases)('$name', ({ yaml, expect: want, message }) => {
    const got = check(selectorNoMatch, yaml, inventory);
    expect(got.map(where)).toEqual(want);
    if (message) expect(got[0]?.message).toMatch(message);
  });
  it('needs an inventory', () => {
    expect(check(selectorNoMatch, cnp('endpointSelector: {matchLabels: {app: nothing}}'))).toEqual([]);
  });
});
