import { describe, expect, it } from 'vitest';
import { cidrCoversPods } from '../../../compiler/lint/rules/cidr-covers-pods.js';
import { check, cnp, inventoryFrom, where } from '../harness.js';

const inventory = inventoryFrom(`apiVersion: weir.dev/v1alpha1
kind: Inventory
metadata: {name: inv}
spec:
  namespaces: [{name: default, labels: {}}, {name: shop, labels: {team: shop}}]
  pods:
  - {namespace: default, name: web, labels: {app: web}, ips: [10.0.0.1], node: n1}
  - {namespace: shop, name: cart, labels: {app: cart}, ips: [10.0.1.2], node: n1}
`);

const subject = 'endpointSelector: {matchLabels: {app: web}}\n';
const cases: { name: string; yaml: string; expect: string[]; message?: RegExp }[] = [
  { name: 'a CIDR outside the pod addresses', yaml: cnp(subject + 'egress:\n- toCIDR: [203.0.113.0/24]'), expect: [] },
  {
    name: 'toCIDR over the pod network',
    yaml: cnp(subject + 'egress:\n- toCIDR: [10.0.0.0/16]'),
    expect: ['cilium/cidr-covers-pods@9:14'],
    message:
      /covers the addresses of 2 pods of the inventory \(default\/web, shop\/cart\); Cilium does not match cluster endpoints by CIDR.*toEndpoints/,
  },
  {
    name: 'fromCIDR over one pod address',
    yaml: cnp(subject + 'ingress:\n- fromCIDR: [10.0.1.2/32]'),
    expect: ['cilium/cidr-covers-pods@9:16'],
    message: /1 pod of the inventory \(shop\/cart\).*fromEndpoints/,
  },
  {
    name: 'a CIDRSet whose except removes every pod',
    yaml: cnp(subject + 'egress:\n- toCIDRSet: [{cidr: 10.0.0.0/16, except: [10.0.0.0/24, 10.0.1.0/24]}]'),
    expect: [],
  },
  {
    name: 'a CIDRSet covering a pod past its except',
    yaml: cnp(subject + 'egressDeny:\n- toCIDRSet: [{cidr: 10.0.0.0/16, except: [10.0.0.0/24]}]'),
    expect: ['cilium/cidr-covers-pods@9:24'],
    message: /shop\/cart/,
  },
  {
    name: 'a NetworkPolicy ipBlock is not judged (it covers pods)',
    yaml: 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n, namespace: shop}\nspec:\n  podSelector: {}\n  egress:\n  - to: [{ipBlock: {cidr: 10.0.0.0/16}}]\n',
    expect: [],
  },
];

describe('cilium/cidr-covers-pods', () => {
  it.each(cases)('$name', ({ yaml, expect: want, message }) => {
    const got = check(cidrCoversPods, yaml, inventory);
    expect(got.map(where)).toEqual(want);
    if (message) expect(got[0]?.message).toMatch(message);
  });
  it('needs an inventory', () => {
    expect(check(cidrCoversPods, cnp(subject + 'egress:\n- toCIDR: [10.0.0.0/16]'))).toEqual([]);
  });
});
