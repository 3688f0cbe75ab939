import { describe, expect, it } from 'vitest';
import { evaluate } from '../../compiler/ir/network/index.js';
import { compileText, smallInventory } from './helpers.js';

const w = (x: string) => ({ workload: x });
const verdict = (
  ir: Parameters<typeof evaluate>[0],
  from: object,
  to: object,
  port: number,
  protocol = 'TCP',
  http?: { method: string; path: string },
) => evaluate(ir, { from: from as never, to: to as never, protocol, port, ...(http ? { http } : {}) }).verdict;

describe('network compile + evaluate: Cilium semantics', () => {
  it('no policy: everything allowed', () => {
    const { ir } = compileText('', smallInventory);
    expect(verdict(ir, w('b/client'), w('a/db'), 5432)).toBe('allow');
  });

  it('namespace scoping of fromEndpoints in a CNP', () => {
    const { ir, diagnostics } = compileText(
      `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: p, namespace: a}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: web}}]
`,
      smallInventory,
    );
    expect(diagnostics).toEqual([]);
    expect(verdict(ir, w('a/web'), w('a/db'), 5432)).toBe('allow');
    expect(verdict(ir, w('b/web'), w('a/db'), 5432)).toBe('deny');
    expect(verdict(ir, w('b/client'), w('a/web'), 1)).toBe('allow');
  });

  it('a peer selector on namespace labels selects across namespaces; a subject stays in the policy namespace', () => {
    // Cilium's getEndpointSelector leaves a peer that names the namespace's labels unscoped; the
    // rule's own endpointSelector always applies in the policy's namespace.
    const { ir, diagnostics } = compileText(
      `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: p, namespace: a}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress:
  - fromEndpoints: [{matchLabels: {io.cilium.k8s.namespace.labels.team: blue, app: web}}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: q, namespace: a}
spec:
  endpointSelector: {matchLabels: {k8s:io.cilium.k8s.namespace.labels.team: blue}}
  ingress:
  - {}
`,
      smallInventory,
    );
    expect(diagnostics).toEqual([]);
    expect(verdict(ir, w('b/web'), w('a/db'), 5432)).toBe('allow');
    expect(verdict(ir, w('a/web'), w('a/db'), 5432)).toBe('deny');
    expect(verdict(ir, w('b/client'), w('a/db'), 5432)).toBe('deny');
    // q's subject matches pods of namespace a whose namespace is labelled team=blue: none.
    expect(verdict(ir, w('a/db'), w('b/web'), 9090)).toBe('allow');
    expect(ir.endpoints.find((e) => e.key === 'b/web')!.ingressEnforced).toBe(false);
  });

  it('deny wins over allow, and an empty ingress rule only switches on default deny', () => {
    const { ir } = compileText(
      `apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: p}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress:
  - fromEntities: [all]
  ingressDeny:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts: [{ports: [{port: "5432", protocol: TCP}]}]
---
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: q}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - {}
`,
      smallInventory,
    );
    expect(verdict(ir, w('b/client'), w('a/db'), 5432)).toBe('deny');
    expect(verdict(ir, w('b/client'), w('a/db'), 5433)).toBe('allow');
    expect(verdict(ir, w('a/web'), w('a/db'), 5432)).toBe('allow');
    expect(verdict(ir, w('b/client'), w('a/web'), 8080)).toBe('deny');
  });

  it('NetworkPolicy: namespaceSelector and podSelector in one peer are ANDed, in two peers ORed', () => {
    const and = compileText(
      `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: blue}}
      podSelector: {matchLabels: {app: client}}
`,
      smallInventory,
    ).ir;
    expect(verdict(and, w('b/client'), w('a/db'), 1)).toBe('allow');
    expect(verdict(and, w('b/web'), w('a/db'), 1)).toBe('deny');
    expect(verdict(and, w('a/web'), w('a/db'), 1)).toBe('deny');
    const or = compileText(
      `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: a}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: blue}}
    - podSelector: {matchLabels: {app: client}}
`,
      smallInventory,
    ).ir;
    expect(verdict(or, w('b/web'), w('a/db'), 1)).toBe('allow');
    expect(verdict(or, w('a/web'), w('a/db'), 1)).toBe('deny');
  });

  it('named ports resolve on the destination pod', () => {
    const { ir } = compileText(
      `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: b}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - ports: [{port: http}]
`,
      smallInventory,
    );
    expect(verdict(ir, w('b/client'), w('a/web'), 8080)).toBe('allow');
    expect(verdict(ir, w('b/client'), w('b/web'), 9090)).toBe('allow');
  });

  it('ipBlock except and endPort', () => {
    const { ir } = compileText(
      `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: b}
spec:
  podSelector: {matchLabels: {app: client}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 203.0.113.0/24, except: [203.0.113.128/25]}}]
    ports: [{port: 8000, endPort: 8010, protocol: TCP}]
`,
      smallInventory,
    );
    expect(verdict(ir, w('b/client'), { ip: '203.0.113.5' }, 8005)).toBe('allow');
    expect(verdict(ir, w('b/client'), { ip: '203.0.113.5' }, 8011)).toBe('deny');
    expect(verdict(ir, w('b/client'), { ip: '203.0.113.200' }, 8005)).toBe('deny');
    expect(verdict(ir, w('b/client'), w('a/db'), 8005)).toBe('deny');
  });

  it('validates the ports of a direction policyTypes leaves out, as the API server does', () => {
    const { diagnostics } = compileText(
      `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: p, namespace: b}
spec:
  podSelector: {}
  policyTypes: [Egress]
  ingress:
  - ports: [{port: http, endPort: 90}]
  - ports: [{port: 100, endPort: 90}]
`,
      smallInventory,
    );
    expect(diagnostics.map((d) => `${d.rule}@${d.line}:${d.column}`)).toEqual(['network/invalid-port@8:35', 'network/invalid-port@9:34']);
  });

  it('bad input gives diagnostics with positions, not a wrong map', () => {
    const { diagnostics } = compileText(
      `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: p, namespace: a}
spec:
  endpointSelector: {matchLabels: {"bad key!": x}}
  egress:
  - toCIDR: [10.0.0.300/8]
  - toEndpoints: [{}]
    toPorts: [{ports: [{port: nosuchport}]}]
  - toFQDNs: [{matchPattern: "exa mple.com"}]
  - toFQDNs: [{matchName: a.example.com, matchPattern: "*.example.com"}]
`,
      smallInventory,
    );
    const rules = diagnostics.map((d) => `${d.rule}@${d.line}`).sort();
    // Both matchName and matchPattern: Cilium refuses the entry, so weir does not pick one.
    expect(rules).toEqual(['network/invalid-cidr@7', 'network/invalid-fqdn@10', 'network/invalid-fqdn@11', 'network/invalid-selector@5']);
  });

  it('a named port no pod declares matches nothing (no error): the rule allows no port', () => {
    const { ir, diagnostics } = compileText(
      `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: p, namespace: a}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress:
  - fromEndpoints: [{}]
    toPorts: [{ports: [{port: nosuchport}, {port: "5432"}]}]
`,
      smallInventory,
    );
    expect(diagnostics).toEqual([]);
    expect(verdict(ir, w('a/web'), w('a/db'), 5432)).toBe('allow');
    for (const port of [1, 80, 8080, 65535]) expect(verdict(ir, w('a/web'), w('a/db'), port)).toBe('deny');
  });
});

describe('lowering capacity check', () => {
  it('fails with an error naming the policies that fill an endpoint map', async () => {
    const { lowerNetwork } = await import('../../compiler/lower/network/images.js');
    const { ir } = compileText(
      `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: many-ports, namespace: a}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: web}}]
    toPorts: [{ports: [{port: "1001", endPort: 1999, protocol: ANY}]}]
`,
      smallInventory,
    );
    const l = lowerNetwork(ir, { policyMaxEntries: 8 });
    expect(l.diagnostics).toHaveLength(1);
    expect(l.diagnostics[0]).toMatchObject({ rule: 'lower/policy-map-capacity', severity: 'error', file: 'policy.yaml', line: 7 });
    expect(l.diagnostics[0]!.message).toMatch(
      /endpoint a\/db needs \d+ policy map entries, over the capacity of 8; largest contributors: CiliumNetworkPolicy\/a\/many-ports/,
    );
  });

  it('evaluate names the deciding rule with file and line', () => {
    const { ir } = compileText(
      `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: p, namespace: a}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: web}}]
`,
      smallInventory,
    );
    const v = evaluate(ir, { from: { workload: 'a/web' }, to: { workload: 'a/db' }, protocol: 'TCP', port: 5432 });
    expect(v.rule).toMatchObject({ policy: 'CiliumNetworkPolicy/a/p', namespace: 'a', file: 'policy.yaml', line: 7 });
  });
});

describe('IPv6, ICMPv6 and authentication', () => {
  const inv6 = `
apiVersion: weir.dev/v1alpha1
kind: Inventory
metadata: {name: v6}
spec:
  nodes: [{name: n1, ips: ["fd00::1"]}]
  pods:
  - {namespace: a, name: web, labels: {app: web}, ips: ["fd00:10::1", 10.0.0.1], node: n1}
  - {namespace: a, name: db, labels: {app: db}, ips: ["fd00:10::2"], node: n1}
`;
  it('resolves IPv6 CIDRs, ICMPv6 types and carries authentication.mode into the map', async () => {
    const { lowerNetwork } = await import('../../compiler/lower/network/images.js');
    const { ir, diagnostics } = compileText(
      `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: p, namespace: a}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress:
  - fromCIDR: ["2001:db8::/32"]
    icmps: [{fields: [{type: EchoRequest, family: IPv6}]}]
  - fromEndpoints: [{matchLabels: {app: web}}]
    authentication: {mode: required}
    toPorts: [{ports: [{port: "5432", protocol: TCP}]}]
`,
      inv6,
    );
    expect(diagnostics).toEqual([]);
    expect(evaluate(ir, { from: { ip: '2001:db8::7' }, to: { workload: 'a/db' }, protocol: 'ICMPv6', port: 128 }).verdict).toBe('allow');
    expect(evaluate(ir, { from: { ip: '2001:db9::7' }, to: { workload: 'a/db' }, protocol: 'ICMPv6', port: 128 }).verdict).toBe('deny');
    expect(evaluate(ir, { from: { ip: '2001:db8::7' }, to: { workload: 'a/db' }, protocol: 'ICMPv6', port: 129 }).verdict).toBe('deny');
    expect(evaluate(ir, { from: { ip: 'fd00:10::1' }, to: { workload: 'a/db' }, protocol: 'TCP', port: 5432 }).verdict).toBe('allow');
    const entries = lowerNetwork(ir).mapStates.get('a/db')!;
    const web = ir.endpoints.find((e) => e.key === 'a/web')!.identity;
    expect(entries.find((e) => e.key.identity === web)?.value).toMatchObject({ verdict: 0, auth: 2 });
    expect(entries.find((e) => e.key.protocol === 58)?.key).toMatchObject({ prefixlen: 64, port: 128 });
  });
});

describe('upstream mistakes get precise diagnostics', () => {
  it('a null egress list is a warning that says it does not deny anything; HTTP in capitals is refused with the fix', () => {
    const { ir, diagnostics } = compileText(
      `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: p, namespace: a}
spec:
  endpointSelector: {matchLabels: {app: db}}
  egress:
  ingress:
  - toPorts:
    - ports: [{port: "80", protocol: TCP}]
      rules:
        HTTP: [{method: GET}]
`,
      smallInventory,
    );
    expect(diagnostics.map((d) => [d.rule, d.severity, d.line])).toEqual([
      ['network/empty-rule-list', 'warning', 6],
      ['network/unsupported', 'error', 11],
    ]);
    expect(diagnostics[1]!.message).toMatch(/must be lower case: write "http"/);
    expect(ir.endpoints.find((e) => e.key === 'a/db')!.egressEnforced).toBe(false);
  });
});
