import { describe, expect, it } from 'vitest';
import { namedPortUndeclared } from '../../../compiler/lint/rules/named-port-undeclared.js';
import { check, cnp, inventoryFrom, where } from '../harness.js';

const inventory = inventoryFrom(`apiVersion: weir.dev/v1alpha1
kind: Inventory
metadata: {name: inv}
spec:
  pods:
  - {namespace: default, name: web, labels: {app: web}, ips: [10.0.0.1], node: n1, ports: [{name: http, port: 8080, protocol: TCP}, {name: dns, port: 53, protocol: UDP}]}
`);

const ports = (p: string) => cnp(`endpointSelector: {}\ningress:\n- toPorts:\n  - ports:\n    - ${p}`);
const netpol = (p: string) =>
  `apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n, namespace: default}\nspec:\n  podSelector: {}\n  egress:\n  - ports:\n    - ${p}\n`;

const cases: { name: string; yaml: string; expect: string[]; message?: RegExp }[] = [
  { name: 'declared name', yaml: ports('{port: http, protocol: TCP}'), expect: [] },
  { name: 'declared name, any protocol', yaml: ports('{port: dns}'), expect: [] },
  { name: 'numbers are not names', yaml: ports('{port: "8080", protocol: TCP}'), expect: [] },
  {
    name: 'typo',
    yaml: ports('{port: htpp, protocol: TCP}'),
    expect: ['network/named-port-undeclared@11:16'],
    message: /port named `htpp` \(TCP\): the rule matches no traffic/,
  },
  { name: 'declared on another protocol only', yaml: ports('{port: dns, protocol: TCP}'), expect: ['network/named-port-undeclared@11:16'] },
  { name: 'NetworkPolicy egress port', yaml: netpol('{port: metrics, protocol: TCP}'), expect: ['network/named-port-undeclared@8:14'] },
  { name: 'NetworkPolicy declared', yaml: netpol('{port: http}'), expect: [] },
];

describe('network/named-port-undeclared', () => {
  it.each(cases)('$name', ({ yaml, expect: want, message }) => {
    const got = check(namedPortUndeclared, yaml, inventory);
    expect(got.map(where)).toEqual(want);
    if (message) expect(got[0]?.message).toMatch(message);
    for (const d of got) expect(d.severity).toBe('warning');
  });
  it('needs an inventory', () => {
    expect(check(namedPortUndeclared, ports('{port: nosuch}'))).toEqual([]);
  });
});
