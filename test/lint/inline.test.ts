// Policies written inline in a PolicyTest get the same rules and schema checks, at their place in
// the test file; inventory and guardrail checks stay with real policy files.
import { describe, expect, it } from 'vitest';
import { inlinePolicies, lintDocuments } from '../../compiler/lint/index.js';
import { load, where } from './harness.js';

const test = `apiVersion: weir.dev/v1alpha1
kind: PolicyTest
metadata: {name: t}
spec:
  inventory: {pods: []}
  policies:
  - ../network/
  - apiVersion: cilium.io/v2
    kind: CiliumNetworkPolicy
    metadata: {name: inline, namespace: a}
    spec:
      endpointSelector:
        matchExpressions: [{key: app, operator: in, values: [web]}]
      egres: []
  cases:
  - {name: c, from: {workload: a/web}, to: {entity: world}, port: 80, expect: deny}
`;

describe('inline policies in PolicyTests', () => {
  it('are unpacked with positions inside the test file', () => {
    const [doc] = load(test, 'tests/t.yaml').documents;
    const inline = inlinePolicies(doc!);
    expect(inline.map((d) => [d.kind, d.name, d.namespace, d.provenance.file, d.provenance.line])).toEqual([
      ['CiliumNetworkPolicy', 'inline', 'a', 'tests/t.yaml', 8],
    ]);
    expect(inline[0]!.locate(['spec', 'endpointSelector'], { key: true })).toMatchObject({ line: 12, column: 7 });
  });
  it('get rule and schema diagnostics at their lines', () => {
    const r = load(test, 'tests/t.yaml');
    expect(lintDocuments(r.documents).map(where)).toEqual([
      'cilium/no-rule-sections@11:5',
      'cilium/operator-case@13:49',
      'schema/unknown-field@14:7',
    ]);
  });
});
