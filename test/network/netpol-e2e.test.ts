// Ports of Kubernetes' NetworkPolicy e2e tests (kubernetes/kubernetes
// test/e2e/network/netpol/network_policy.go at commit 008b3652959ca58af8be3fb5b6ecfe9ae7638282)
// over the full x/y/z × a/b/c model: each test's policies and Reachability, probed on every
// port and protocol the upstream test probes (ValidateOrFail's ToPort and Protocol) through the
// reference evaluator, by workload and by address, and checked against the compiled maps.
// The three ipBlock tests are in ipblock.test.ts; with them, all 48 upstream tests are ported
// (the last test here checks the titles against the upstream list).
// Upstream starts only the pods a test needs; over the full model, pods it leaves out (x/c, z/a
// below) get the verdict the policy gives their peers of the same labels and namespace.
// A test that creates, updates or deletes a policy, or relabels a namespace or pod, between two
// ValidateOrFail calls is a build per state: the policies and inventory at that point.
// Every upstream test carries feature.NetworkPolicy; the SCTP context also carries
// feature.SCTPConnectivity (a cluster whose nodes carry SCTP): weir compiles SCTP like any protocol,
// so those three are ported too. "[LinuxOnly]" (agnhost on Windows) does not apply to a compiler.
// Upstream ignores a pod's traffic to itself (ignoreLoopback), and so do these probes.
// Below the ports, marked "beyond upstream": what the suite leaves untested over the same model
// (endPort, policyTypes defaulting, egress named ports that differ between pods).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evaluateFlow } from '../../compiler/ir/network/evaluate.js';
import { compile, expectMapsAgree, expectReachability, modelInventory, Reachability, relabelled } from './netpol-e2e-model.js';

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

  it('should enforce policy based on any PodSelectors', () => {
    const ir = compile([
      policy(
        'allow-ns-x-pod-b-c',
        'x',
        { matchLabels: { pod: 'a' } },
        { ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }, { podSelector: { matchLabels: { pod: 'c' } } }] }] },
      ),
    ]);
    expectReachability(ir, new Reachability().expectAllIngress('x/a', false).expect('x/b', 'x/a', true).expect('x/c', 'x/a', true).get);
  });

  it('should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector', () => {
    const ir = compile([fromYa('allow-ns-y-pod-a-via-namespace-pod-selector')]);
    expectReachability(ir, new Reachability().expectAllIngress('x/a', false).expect('y/a', 'x/a', true).get);
  });

  it('should enforce policy based on Ports', () => {
    const ir = compile([fromNsYOnPort('allow-client-a-via-ns-selector', 81, 'TCP')]);
    const r = new Reachability()
      .expectPeer({ ns: 'x' }, { ns: 'x', pod: 'a' }, false)
      .expectPeer({ ns: 'y' }, { ns: 'x', pod: 'a' }, true)
      .expectPeer({ ns: 'z' }, { ns: 'x', pod: 'a' }, false);
    expectReachability(ir, r.get, TCP81);
  });

  it('should enforce multiple, stacked policies with overlapping podSelectors', () => {
    const port81 = fromNsYOnPort('allow-client-a-via-ns-selector', 81, 'TCP');
    const allow = new Reachability()
      .expectPeer({ ns: 'x' }, { ns: 'x', pod: 'a' }, false)
      .expectPeer({ ns: 'y' }, { ns: 'x', pod: 'a' }, true)
      .expectPeer({ ns: 'z' }, { ns: 'x', pod: 'a' }, false);
    const first = compile([port81]);
    expectReachability(first, allow.get, TCP81);
    expectReachability(first, new Reachability().expectAllIngress('x/a', false).get, TCP80);
    // CreatePolicy: a second policy allows port 80 from namespace y as well.
    const second = compile([port81, fromNsYOnPort('allow-client-a-via-ns-selector-80', 80, 'TCP')]);
    expectReachability(second, allow.get, TCP80);
  });

  it('should support allow-all policy', () => {
    const ir = compile([policy('allow-all', 'x', { matchLabels: {} }, { ingress: [{}] })]);
    expectReachability(ir, new Reachability().get, TCP80);
    expectReachability(ir, new Reachability().get, TCP81);
  });

  it('should allow ingress access on one named port', () => {
    const ir = compile([policy('allow-all', 'x', { matchLabels: {} }, { ingress: [{ ports: [{ port: 'serve-81-tcp' }] }] })]);
    expectReachability(ir, new Reachability().get, TCP81);
    expectReachability(ir, new Reachability().expectPeer({}, { ns: 'x' }, false).get, TCP80);
  });

  it('should allow ingress access from namespace on one named port', () => {
    const ir = compile([
      policy(
        'allow-client-a-via-ns-selector-80',
        'x',
        { matchLabels: { pod: 'a' } },
        {
          ingress: [
            { from: [{ namespaceSelector: { matchLabels: { [NS_KEY]: 'y' } } }], ports: [{ port: 'serve-80-tcp', protocol: 'TCP' }] },
          ],
        },
      ),
    ]);
    const r = new Reachability()
      .expectPeer({ ns: 'x' }, { ns: 'x', pod: 'a' }, false)
      .expectPeer({ ns: 'z' }, { ns: 'x', pod: 'a' }, false);
    expectReachability(ir, r.get, TCP80);
    expectReachability(ir, new Reachability().expectAllIngress('x/a', false).get, TCP81);
  });

  it('should allow egress access on one named port', () => {
    const ir = compile([policy('allow-egress', 'x', { matchLabels: {} }, { egress: [{ ports: [{ port: 'serve-80-tcp' }] }] })]);
    expectReachability(ir, new Reachability().get, TCP80);
    expectReachability(ir, new Reachability().expectPeer({ ns: 'x' }, {}, false).get, TCP81);
  });

  it('should enforce updated policy', () => {
    const allowAll = compile([policy('allow-all-mutate-to-deny-all', 'x', { matchLabels: {} }, { ingress: [{}] })]);
    expectReachability(allowAll, new Reachability().get, TCP81);
    // UpdatePolicy: the same policy with no ingress rule.
    const denyAll = compile([policy('allow-all-mutate-to-deny-all', 'x', { matchLabels: {} }, { ingress: [] })]);
    expectReachability(denyAll, new Reachability().expectPeer({}, { ns: 'x' }, false).get, TCP81);
  });

  it('should allow ingress access from updated namespace', () => {
    const p = policy(
      'allow-client-a-via-ns-selector',
      'x',
      { matchLabels: { pod: 'a' } },
      { ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns2: 'updated' } } }] }] },
    );
    expectReachability(compile([p]), new Reachability().expectAllIngress('x/a', false).get, TCP80);
    // AddNamespaceLabel y ns2=updated: the inventory changes, the policy does not.
    const relabel = compile([p], relabelled({ ns: 'y' }, { ns2: 'updated' }));
    expectReachability(relabel, new Reachability().expectAllIngress('x/a', false).expectPeer({ ns: 'y' }, {}, true).get, TCP80);
  });

  it('should allow ingress access from updated pod', () => {
    const p = policy(
      'allow-client-a-via-pod-selector',
      'x',
      { matchLabels: { pod: 'a' } },
      { ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b', pod2: 'updated' } } }] }] },
    );
    expectReachability(compile([p]), new Reachability().expectAllIngress('x/a', false).get, TCP80);
    // AddPodLabels x/b pod=b,pod2=updated.
    const relabel = compile([p], relabelled({ ns: 'x', pod: 'b' }, { pod: 'b', pod2: 'updated' }));
    expectReachability(relabel, new Reachability().expectAllIngress('x/a', false).expect('x/b', 'x/a', true).get, TCP80);
  });

  it('should deny ingress from pods on other namespaces', () => {
    const ir = compile([policy('deny-empty-policy', 'x', {}, { ingress: [{ from: [{ podSelector: { matchLabels: {} } }] }] })]);
    expectReachability(ir, new Reachability().expectPeer({ ns: 'y' }, { ns: 'x' }, false).expectPeer({ ns: 'z' }, { ns: 'x' }, false).get);
  });

  it('should deny ingress access to updated pod', () => {
    const p = policy('deny-ingress-via-label-selector', 'x', { matchLabels: { target: 'isolated' } }, { ingress: [] });
    expectReachability(compile([p]), new Reachability().get, TCP80);
    // AddPodLabels x/a target=isolated.
    const relabel = compile([p], relabelled({ ns: 'x', pod: 'a' }, { target: 'isolated' }));
    expectReachability(relabel, new Reachability().expectAllIngress('x/a', false).get, TCP80);
  });

  it('should deny egress from pods based on PodSelector', () => {
    const ir = compile([policy('deny-egress-pod-a', 'x', { matchLabels: { pod: 'a' } }, { egress: [] })]);
    expectReachability(ir, new Reachability().expectAllEgress('x/a', false).get);
  });

  it('should deny egress from all pods in a namespace', () => {
    const ir = compile([policy('deny-egress-ns-x', 'x', {}, { egress: [] })]);
    expectReachability(ir, new Reachability().expectPeer({ ns: 'x' }, {}, false).get);
  });

  it('should work with Ingress, Egress specified together', () => {
    const ir = compile([
      policy(
        'allow-client-a-via-pod-selector',
        'x',
        { matchLabels: { pod: 'a' } },
        { ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }], egress: [{ ports: [{ port: 80 }] }] },
      ),
    ]);
    expectReachability(ir, new Reachability().expectAllIngress('x/a', false).expect('x/b', 'x/a', true).get, TCP80);
    const r81 = new Reachability().expectAllIngress('x/a', false).expectAllEgress('x/a', false).expect('x/b', 'x/a', true);
    expectReachability(ir, r81.get, TCP81);
  });

  it('should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)', () => {
    const fromXa = {
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { [NS_KEY]: 'x' } }, podSelector: { matchLabels: { pod: 'a' } } }] }],
    };
    const ir = compile([
      policy(
        'allow-to-ns-y-pod-a',
        'x',
        { matchLabels: { pod: 'a' } },
        { egress: [{ to: [{ namespaceSelector: { matchLabels: { [NS_KEY]: 'y' } }, podSelector: { matchLabels: { pod: 'a' } } }] }] },
      ),
      policy('allow-from-xa-on-ya-match-selector', 'y', { matchLabels: { pod: 'a' } }, fromXa),
      policy('allow-from-xa-on-yb-match-selector', 'y', { matchLabels: { pod: 'b' } }, fromXa),
    ]);
    const r = new Reachability()
      .expectPeer({ ns: 'x', pod: 'a' }, {}, false)
      .expectPeer({}, { ns: 'y', pod: 'a' }, false)
      .expectPeer({ ns: 'x', pod: 'a' }, { ns: 'y', pod: 'a' }, true)
      .expectPeer({}, { ns: 'y', pod: 'b' }, false);
    expectReachability(ir, r.get);
  });

  it('should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector', () => {
    const ir = compile([
      policy(
        'allow-to-ns-y-pod-a',
        'x',
        { matchLabels: { pod: 'a' } },
        { egress: [{ to: [{ namespaceSelector: { matchLabels: { [NS_KEY]: 'y' } }, podSelector: { matchLabels: { pod: 'a' } } }] }] },
      ),
    ]);
    expectReachability(ir, new Reachability().expectAllEgress('x/a', false).expect('x/a', 'y/a', true).get);
  });

  it('should enforce ingress policy allowing any port traffic to a server on a specific protocol', () => {
    const ir = compile([
      policy('allow-ingress-by-proto', 'x', { matchLabels: { pod: 'a' } }, { ingress: [{ ports: [{ protocol: 'TCP' }] }] }),
    ]);
    expectReachability(ir, new Reachability().get, TCP80);
    expectReachability(ir, new Reachability().expectPeer({}, { ns: 'x', pod: 'a' }, false).get, { protocol: 'UDP', port: 80 });
  });

  it('should enforce multiple ingress policies with ingress allow-all policy taking precedence', () => {
    const port80 = policy('allow-ingress-port-80', 'x', { matchLabels: {} }, { ingress: [{ ports: [{ port: 80 }] }] });
    expectReachability(compile([port80]), new Reachability().expectPeer({}, { ns: 'x' }, false).get, TCP81);
    // CreatePolicy: an allow-all ingress policy beside it.
    const both = compile([port80, policy('allow-ingress', 'x', { matchLabels: {} }, { ingress: [{}] })]);
    expectReachability(both, new Reachability().get, TCP81);
  });

  it('should enforce multiple egress policies with egress allow-all policy taking precedence', () => {
    const port80 = policy('allow-egress-port-80', 'x', { matchLabels: {} }, { egress: [{ ports: [{ port: 80 }] }] });
    expectReachability(compile([port80]), new Reachability().expectPeer({ ns: 'x' }, {}, false).get, TCP81);
    // CreatePolicy: an allow-all egress policy beside it.
    const both = compile([port80, policy('allow-egress', 'x', { matchLabels: {} }, { egress: [{}] })]);
    expectReachability(both, new Reachability().get, TCP81);
  });

  it('should stop enforcing policies after they are deleted', () => {
    const ir = compile([policy('deny-all', 'x', {}, { ingress: [], egress: [] })]);
    expectReachability(ir, new Reachability().expectPeer({ ns: 'x' }, {}, false).expectPeer({}, { ns: 'x' }, false).get, TCP80);
    // cleanNetworkPolicies: the same inventory with no policy.
    expectReachability(compile([]), new Reachability().get, TCP80);
  });

  it('should enforce policies to check ingress and egress policies can be controlled independently based on PodSelector', () => {
    const allowEgress = policy('allow-egress-for-target', 'x', { matchLabels: { pod: 'a' } }, { egress: [{}] });
    expectReachability(compile([allowEgress]), new Reachability().get, TCP80);
    // CreatePolicy: deny all ingress to x/a beside it.
    const both = compile([allowEgress, policy('deny-ingress-via-label-selector', 'x', { matchLabels: { pod: 'a' } }, { ingress: [] })]);
    expectReachability(both, new Reachability().expectAllIngress('x/a', false).get, TCP80);
  });

  it("should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the plugin doesn't support SCTP", () => {
    const ir = compile([
      policy('deny-ingress', 'x', {}, { ingress: [] }),
      policy(
        'allow-only-sctp-ingress-on-port-81',
        'x',
        { matchLabels: { pod: 'a' } },
        { ingress: [{ ports: [{ port: 81, protocol: 'SCTP' }] }] },
      ),
    ]);
    expectReachability(ir, new Reachability().expectPeer({}, { ns: 'x' }, false).get, TCP81);
    // Beyond upstream (which starts no SCTP server here): SCTP/81 to x/a is what the rule allows.
    expectReachability(ir, new Reachability().expectPeer({}, { ns: 'x' }, false).expectAllIngress('x/a', true).get, {
      protocol: 'SCTP',
      port: 81,
    });
  });

  it("should properly isolate pods that are selected by a policy allowing SCTP, even if the plugin doesn't support SCTP", () => {
    const ir = compile([
      policy(
        'allow-only-sctp-ingress-on-port-80',
        'x',
        { matchLabels: { pod: 'a' } },
        { ingress: [{ ports: [{ port: 80, protocol: 'SCTP' }] }] },
      ),
    ]);
    expectReachability(ir, new Reachability().expectAllIngress('x/a', false).get, TCP81);
  });

  it('should not allow access by TCP when a policy specifies only UDP', () => {
    const ir = compile([
      policy(
        'allow-only-udp-ingress-on-port-81',
        'x',
        { matchLabels: { pod: 'a' } },
        { ingress: [{ ports: [{ port: 81, protocol: 'UDP' }] }] },
      ),
    ]);
    expectReachability(ir, new Reachability().expectAllIngress('x/a', false).get, TCP81);
  });

  it('should enforce policy to allow traffic based on NamespaceSelector with MatchLabels using default ns label', () => {
    // The model's namespaces do not list kubernetes.io/metadata.name: weir adds it, as the API server does.
    expect(modelInventory.spec.namespaces.some((n) => NS_KEY in n.labels)).toBe(false);
    const ir = compile([
      policy(
        'allow-client-a-via-ns-selector-for-immutable-ns-label',
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

  it('should enforce policy based on NamespaceSelector with MatchExpressions using default ns label', () => {
    const ir = compile([
      policy(
        'allow-ns-y-match-selector-for-immutable-ns-label',
        'x',
        { matchLabels: { pod: 'a' } },
        { egress: [{ to: [{ namespaceSelector: { matchExpressions: [{ key: NS_KEY, operator: 'NotIn', values: ['y'] }] } }] }] },
      ),
    ]);
    expectReachability(ir, new Reachability().expectPeer({ ns: 'x', pod: 'a' }, { ns: 'y' }, false).get);
  });
});

// The same three tests run over UDP and over SCTP in their own upstream contexts.
for (const protocol of ['UDP', 'SCTP'] as const) {
  describe(`Kubernetes NetworkPolicy e2e: NetworkPolicy between server and client using ${protocol}`, () => {
    it("should support a 'default-deny-ingress' policy", () => {
      const ir = compile([policy('deny-all', 'x', {}, { ingress: [] })]);
      expectReachability(ir, new Reachability().expectPeer({}, { ns: 'x' }, false).get, { protocol, port: 80 });
      // The probe is by protocol: the same policy denies TCP as well (default-deny-ingress above).
    });

    it('should enforce policy based on Ports', () => {
      const ir = compile([fromNsYOnPort('allow-ingress-on-port-81-ns-x', 81, protocol)]);
      const r = new Reachability()
        .expectPeer({ ns: 'x' }, { ns: 'x', pod: 'a' }, false)
        .expectPeer({ ns: 'z' }, { ns: 'x', pod: 'a' }, false);
      expectReachability(ir, r.get, { protocol, port: 81 });
    });

    it('should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector', () => {
      const ir = compile([fromYa('allow-ns-y-pod-a-via-namespace-pod-selector')]);
      expectReachability(ir, new Reachability().expectAllIngress('x/a', false).expect('y/a', 'x/a', true).get, { protocol, port: 80 });
    });
  });
}

// Not an upstream test: network_policy.go @ 008b3652 has no endPort test (port ranges are GA and
// untested there); the same model and probes, over a range whose ends are 81 and 82.
describe('NetworkPolicy endPort over the e2e model (beyond upstream)', () => {
  it('a port range from 81 to 82 allows 81 and not 80', () => {
    const ir = compile([
      policy('allow-81-82', 'x', { matchLabels: { pod: 'a' } }, { ingress: [{ ports: [{ port: 81, endPort: 82, protocol: 'TCP' }] }] }),
    ]);
    expectReachability(ir, new Reachability().get, TCP81);
    expectReachability(ir, new Reachability().expectAllIngress('x/a', false).get, TCP80);
    expectReachability(ir, new Reachability().expectAllIngress('x/a', false).get, { protocol: 'UDP', port: 81 });
  });
});

// Not upstream tests: the API server's defaulting of policyTypes (SetDefaults_NetworkPolicy in
// pkg/apis/networking/v1/defaults.go), which the e2e suite never leaves to it. Without policyTypes,
// absent or empty, a policy is Ingress, and Egress too only when it has egress rules.
describe('NetworkPolicy policyTypes defaulting over the e2e model (beyond upstream)', () => {
  const spec = (s: object) => ({
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: 'p', namespace: 'x' },
    spec: s,
  });

  it('no policyTypes and `egress: []`: ingress is isolated, egress is not', () => {
    const ir = compile([spec({ podSelector: { matchLabels: { pod: 'a' } }, egress: [] })]);
    expectReachability(ir, new Reachability().expectAllIngress('x/a', false).get);
  });

  it('`policyTypes: []` is no policyTypes: ingress is isolated', () => {
    const ir = compile([spec({ podSelector: { matchLabels: { pod: 'a' } }, policyTypes: [], ingress: [] })]);
    expectReachability(ir, new Reachability().expectAllIngress('x/a', false).get);
  });

  it('no policyTypes and egress rules: both directions are isolated', () => {
    const ir = compile([spec({ podSelector: { matchLabels: { pod: 'a' } }, egress: [{ ports: [{ port: 81 }] }] })]);
    expectReachability(ir, new Reachability().expectAllIngress('x/a', false).expectAllEgress('x/a', false).get, TCP80);
    expectReachability(ir, new Reachability().expectAllIngress('x/a', false).get, TCP81);
  });
});

// Not an upstream test (every pod of the e2e model gives a name the same number): an egress rule
// to any peer resolves a named port on each destination pod, as Kubernetes defines it.
describe('NetworkPolicy egress named ports per destination (beyond upstream)', () => {
  it('a name two pods give different numbers allows each pod at its own number, and no external address', () => {
    const inv = structuredClone(modelInventory);
    inv.spec.pods.find((p) => p.namespace === 'y' && p.name === 'a')!.ports.push({ name: 'web', port: 8080, protocol: 'TCP' });
    inv.spec.pods.find((p) => p.namespace === 'y' && p.name === 'b')!.ports.push({ name: 'web', port: 9090, protocol: 'TCP' });
    const ir = compile(
      [policy('egress-web', 'x', { matchLabels: { pod: 'a' } }, { egress: [{ ports: [{ port: 'web' }, { port: 81 }] }] })],
      inv,
    );
    const v = (to: object, port: number) => evaluateFlow(ir, { from: { workload: 'x/a' }, to: to as never, protocol: 'TCP', port }).verdict;
    expect([
      v({ workload: 'y/a' }, 8080),
      v({ workload: 'y/a' }, 9090),
      v({ workload: 'y/b' }, 9090),
      v({ workload: 'y/b' }, 8080),
    ]).toEqual(['allow', 'deny', 'allow', 'deny']);
    expect([v({ ip: '203.0.113.1' }, 8080), v({ ip: '203.0.113.1' }, 81), v({ workload: 'z/c' }, 81)]).toEqual(['deny', 'allow', 'allow']);
    expectMapsAgree(ir);
  });
});

/** Every test of network_policy.go @ 008b3652, by context: 42 over TCP, 3 over UDP, 3 over SCTP. */
const UPSTREAM_TITLES = [
  "should support a 'default-deny-ingress' policy",
  "should support a 'default-deny-all' policy",
  'should enforce policy to allow traffic from pods within server namespace based on PodSelector',
  'should enforce policy to allow ingress traffic for a target',
  'should enforce policy to allow ingress traffic from pods in all namespaces',
  'should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector',
  'should enforce policy based on PodSelector with MatchExpressions',
  'should enforce policy based on NamespaceSelector with MatchExpressions',
  'should enforce policy based on PodSelector or NamespaceSelector',
  'should enforce policy based on PodSelector and NamespaceSelector',
  'should enforce policy based on Multiple PodSelectors and NamespaceSelectors',
  'should enforce policy based on any PodSelectors',
  'should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector',
  'should enforce policy based on Ports',
  'should enforce multiple, stacked policies with overlapping podSelectors',
  'should support allow-all policy',
  'should allow ingress access on one named port',
  'should allow ingress access from namespace on one named port',
  'should allow egress access on one named port',
  'should enforce updated policy',
  'should allow ingress access from updated namespace',
  'should allow ingress access from updated pod',
  'should deny ingress from pods on other namespaces',
  'should deny ingress access to updated pod',
  'should deny egress from pods based on PodSelector',
  'should deny egress from all pods in a namespace',
  'should work with Ingress, Egress specified together',
  'should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)',
  'should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector',
  'should enforce ingress policy allowing any port traffic to a server on a specific protocol',
  'should enforce multiple ingress policies with ingress allow-all policy taking precedence',
  'should enforce multiple egress policies with egress allow-all policy taking precedence',
  'should stop enforcing policies after they are deleted',
  'should allow egress access to server in CIDR block',
  'should enforce except clause while egress access to server in CIDR block',
  'should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed',
  'should enforce policies to check ingress and egress policies can be controlled independently based on PodSelector',
  "should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the plugin doesn't support SCTP",
  "should properly isolate pods that are selected by a policy allowing SCTP, even if the plugin doesn't support SCTP",
  'should not allow access by TCP when a policy specifies only UDP',
  'should enforce policy to allow traffic based on NamespaceSelector with MatchLabels using default ns label',
  'should enforce policy based on NamespaceSelector with MatchExpressions using default ns label',
];
const PER_PROTOCOL_TITLES = [
  "should support a 'default-deny-ingress' policy",
  'should enforce policy based on Ports',
  'should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector',
];

describe('the port covers the upstream suite', () => {
  it('all 48 upstream tests have a port of the same title', () => {
    expect(UPSTREAM_TITLES.length + 2 * PER_PROTOCOL_TITLES.length).toBe(48);
    const titles = ['netpol-e2e.test.ts', 'ipblock.test.ts']
      .map((f) => readFileSync(new URL(f, import.meta.url), 'utf8'))
      .flatMap((text) => [...text.matchAll(/^ +it\((['"])(.+?)\1, /gm)].map((m) => m[2]!));
    expect(UPSTREAM_TITLES.filter((t) => !titles.includes(t))).toEqual([]);
    // The UDP and SCTP context's titles are registered in the loop over both protocols, beside their TCP ports.
    expect(PER_PROTOCOL_TITLES.filter((t) => titles.filter((x) => x === t).length !== 2)).toEqual([]);
  });
});

const TCP80 = { protocol: 'TCP', port: 80 } as const;
const TCP81 = { protocol: 'TCP', port: 81 } as const;

/** Ingress to x/a from namespace y on one port and protocol (the "based on Ports" tests). */
function fromNsYOnPort(name: string, port: number, protocol: string) {
  return policy(
    name,
    'x',
    { matchLabels: { pod: 'a' } },
    { ingress: [{ from: [{ namespaceSelector: { matchLabels: { [NS_KEY]: 'y' } } }], ports: [{ port, protocol }] }] },
  );
}

/** Ingress to x/a from pod a of namespace y (namespaceSelector and podSelector in one peer). */
function fromYa(name: string) {
  return policy(
    name,
    'x',
    { matchLabels: { pod: 'a' } },
    { ingress: [{ from: [{ namespaceSelector: { matchLabels: { [NS_KEY]: 'y' } }, podSelector: { matchLabels: { pod: 'a' } } }] }] },
  );
}
