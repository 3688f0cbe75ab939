// Ports of Kubernetes' NetworkPolicy e2e tests (kubernetes/kubernetes
// test/e2e/network/netpol/network_policy.go at commit 008b3652959ca58af8be3fb5b6ecfe9ae7638282)
// over the full x/y/z × a/b/c model, TCP/80: each test's policies and Reachability, probed through
// the reference evaluator and checked against the compiled maps. The ipBlock tests are in ipblock.test.ts.
// Upstream now starts only the pods a test needs; over the full model, pods it leaves out
// (x/c, z/a below) get the verdict the policy gives their peers of the same labels and namespace.
import { describe, it } from 'vitest';
import { compile, expectReachability, Reachability } from './netpol-e2e-model.js';

const NS_KEY = 'kubernetes.io/metadata.name';

/** GenNetworkPolicyWithNameAndPodSelector / ...PodMatchLabel with SetSpecIngressRules / SetSpecEgressRules. */
function policy(name: string, ns: string, podSelector: object, rules: { ingress?: object[]; egress?: object[] }) {
  const types = [...(rules.ingress ? ['Ingress'] : []), ...(rules.egress ? ['Egress'] : [])];
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name, namespace: ns },
    spec: { podSelector, policyTypes: types, ...rules },
  };
}

describe('Kubernetes NetworkPolicy e2e (network_policy.go @ 008b3652)', () => {
  it("should support a 'default-deny-ingress' policy", () => {
    const ir = compile([policy('deny-ingress', 'x', {}, { ingress: [] })]);
    expectReachability(ir, new Reachability().expectPeer({}, { ns: 'x' }, false).get);
  });

  it("should support a 'default-deny-all' policy", () => {
    const ir = compile([policy('deny-all', 'x', {}, { ingress: [], egress: [] })]);
    expectReachability(ir, new Reachability().expectPeer({}, { ns: 'x' }, false).expectPeer({ ns: 'x' }, {}, false).get);
  });

  it('should enforce policy to allow traffic from pods within server namespace based on PodSelector', () => {
    const ir = compile([
      policy(
        'x-a-allows-x-b',
        'x',
        { matchLabels: { pod: 'a' } },
        { ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] },
      ),
    ]);
    expectReachability(ir, new Reachability().expectAllIngress('x/a', false).expect('x/b', 'x/a', true).get);
  });

  it('should enforce policy to allow ingress traffic for a target', () => {
    const ir = compile([
      policy('deny-all', 'x', {}, { ingress: [] }),
      policy('allow-all-to-a', 'x', { matchLabels: { pod: 'a' } }, { ingress: [{ from: [{ podSelector: {}, namespaceSelector: {} }] }] }),
    ]);
    expectReachability(
      ir,
      new Reachability().expectAllIngress('x/a', true).expectAllIngress('x/b', false).expectAllIngress('x/c', false).get,
    );
  });

  it('should enforce policy to allow ingress traffic from pods in all namespaces', () => {
    const ir = compile([
      policy(
        'allow-from-another-ns',
        'x',
        { matchLabels: { pod: 'a' } },
        { ingress: [{ from: [{ namespaceSelector: { matchLabels: {} } }] }] },
      ),
    ]);
    expectReachability(ir, new Reachability().get);
  });

  it('should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector', () => {
    const ir = compile([
      policy(
        'allow-client-a-via-ns-selector',
        'x',
        { matchLabels: { pod: 'a' } },
        { ingress: [{ from: [{ namespaceSelector: { matchLabels: { [NS_KEY]: 'y' } } }] }] },
      ),
    ]);
    expectReachability(
      ir,
      new Reachability().expectPeer({ ns: 'x' }, { ns: 'x', pod: 'a' }, false).expectPeer({ ns: 'z' }, { ns: 'x', pod: 'a' }, false).get,
    );
  });

  it('should enforce policy based on PodSelector with MatchExpressions', () => {
    const ir = compile([
      policy(
        'x-a-allows-x-b',
        'x',
        { matchLabels: { pod: 'a' } },
        { ingress: [{ from: [{ podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['b'] }] } }] }] },
      ),
    ]);
    expectReachability(ir, new Reachability().expectAllIngress('x/a', false).expect('x/b', 'x/a', true).get);
  });

  it('should enforce policy based on NamespaceSelector with MatchExpressions', () => {
    const ir = compile([
      policy(
        'allow-ns-y-match-selector',
        'x',
        { matchLabels: { pod: 'a' } },
        { ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: NS_KEY, operator: 'In', values: ['y'] }] } }] }] },
      ),
    ]);
    expectReachability(
      ir,
      new Reachability().expectPeer({ ns: 'x' }, { ns: 'x', pod: 'a' }, false).expectPeer({ ns: 'z' }, { ns: 'x', pod: 'a' }, false).get,
    );
  });

  it('should enforce policy based on PodSelector or NamespaceSelector', () => {
    const ir = compile([
      policy(
        'allow-ns-y-match-selector',
        'x',
        { matchLabels: { pod: 'a' } },
        {
          ingress: [
            {
              from: [
                { namespaceSelector: { matchExpressions: [{ key: NS_KEY, operator: 'NotIn', values: ['x'] }] } },
                { podSelector: { matchLabels: { pod: 'b' } } },
              ],
            },
          ],
        },
      ),
    ]);
    expectReachability(ir, new Reachability().expect('x/a', 'x/a', false).expect('x/c', 'x/a', false).get);
  });

  it('should enforce policy based on PodSelector and NamespaceSelector', () => {
    const ir = compile([
      policy(
        'allow-ns-y-podselector-and-nsselector',
        'x',
        { matchLabels: { pod: 'a' } },
        {
          ingress: [
            {
              from: [
                {
                  namespaceSelector: { matchExpressions: [{ key: NS_KEY, operator: 'NotIn', values: ['x'] }] },
                  podSelector: { matchLabels: { pod: 'b' } },
                },
              ],
            },
          ],
        },
      ),
    ]);
    expectReachability(ir, new Reachability().expectAllIngress('x/a', false).expect('y/b', 'x/a', true).expect('z/b', 'x/a', true).get);
  });

  it('should enforce policy based on Multiple PodSelectors and NamespaceSelectors', () => {
    const ir = compile([
      policy(
        'allow-ns-y-z-pod-b-c',
        'x',
        { matchLabels: { pod: 'a' } },
        {
          ingress: [
            {
              from: [
                {
                  namespaceSelector: { matchExpressions: [{ key: NS_KEY, operator: 'NotIn', values: ['x'] }] },
                  podSelector: { matchExpressions: [{ key: 'pod', operator: 'In', values: ['b', 'c'] }] },
                },
              ],
            },
          ],
        },
      ),
    ]);
    expectReachability(
      ir,
      new Reachability().expectPeer({ ns: 'x' }, { ns: 'x', pod: 'a' }, false).expect('y/a', 'x/a', false).expect('z/a', 'x/a', false).get,
    );
  });
});
