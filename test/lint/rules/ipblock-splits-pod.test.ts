import { describe, expect, it } from 'vitest';
import { ipBlockSplitsPod } from '../../../compiler/lint/rules/ipblock-splits-pod.js';
import { check, inventoryFrom, where } from '../harness.js';

const inventory = inventoryFrom(`apiVersion: weir.dev/v1alpha1
kind: Inventory
metadata: {name: inv}
spec:
  namespaces: [{name: x, labels: {}}, {name: y, labels: {}}]
  pods:
  - {namespace: x, name: a, labels: {pod: a}, ips: [10.0.1.10], node: n1}
  - {namespace: y, name: b, labels: {pod: b}, ips: [10.0.2.12, 'fd00::2:12'], node: n1}
`);

const netpol = (peers: string) =>
  `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n, namespace: x}\nspec:\n  podSelector: {matchLabels: {pod: a}}\n  egress:\n  - to: ${peers}\n`;

describe('network/ipblock-splits-pod', () => {
  it.each([
    {
      name: 'a block over one address of a dual-stack pod',
      peers: '[{ipBlock: {cidr: 10.0.2.0/24}}]',
      want: ['network/ipblock-splits-pod@7:27'],
    },
    {
      name: 'a block whose except leaves a single-stack pod out',
      peers: '[{ipBlock: {cidr: 10.0.0.0/16, except: [10.0.2.0/24]}}]',
      want: [],
    },
    { name: 'a block over a single-stack pod', peers: '[{ipBlock: {cidr: 10.0.1.0/24}}]', want: [] },
    { name: 'a block over no pod', peers: '[{ipBlock: {cidr: 203.0.113.0/24}}]', want: [] },
  ])('$name', ({ peers, want }) => {
    expect(check(ipBlockSplitsPod, netpol(peers), inventory).map(where)).toEqual(want);
  });

  it('names the pod, the covered and the uncovered address, and what to do', () => {
    const [d] = check(ipBlockSplitsPod, netpol('[{ipBlock: {cidr: 10.0.2.0/24}}]'), inventory);
    expect(d!.message).toBe(
      'ipBlock `10.0.2.0/24` covers 10.0.2.12 of pod y/b but not fd00::2:12: weir enforces one identity per pod, so the block matches the pod on none of its addresses (Kubernetes matches 10.0.2.12); select the pod by labels instead',
    );
  });

  it('needs an inventory', () => {
    expect(check(ipBlockSplitsPod, netpol('[{ipBlock: {cidr: 10.0.2.0/24}}]'))).toEqual([]);
  });
});
