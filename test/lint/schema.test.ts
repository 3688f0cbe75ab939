// Schemas of every input kind: each accepts a correct document and rejects a wrong one, and every
// schema error lands on the YAML node it is about.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { closest, validateDocument } from '../../compiler/lint/schema.js';
import { kinds } from '../../compiler/load/kinds.js';
import { load, where } from './harness.js';

const schemas = path.resolve(import.meta.dirname, '../../schemas');

function validate(yaml: string): string[] {
  const { documents, diagnostics } = load(yaml);
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return documents.flatMap((d) => validateDocument(d)).map(where);
}

const cases: { kind: string; good: string; bad: string; expect: string[] }[] = [
  {
    kind: 'CiliumNetworkPolicy',
    good: 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: a}\nspec:\n  endpointSelector: {}\n  ingress:\n  - fromEntities: [world]\n    toPorts: [{ports: [{port: "80", protocol: TCP}], rules: {http: [{method: GET, path: /}]}}]\n',
    bad: 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: a}\nspec:\n  endpointSelector: {}\n  ingres:\n  - fromEntities: [world]\n',
    expect: ['schema/unknown-field@6:3'],
  },
  {
    kind: 'CiliumClusterwideNetworkPolicy',
    good: 'apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: a}\nspec:\n  nodeSelector: {matchLabels: {role: worker}}\n  ingress:\n  - fromEntities: [cluster]\n',
    bad: 'apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: a}\n',
    expect: ['schema/missing-field@1:1'],
  },
  {
    kind: 'NetworkPolicy',
    good: 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a, namespace: b}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n  ingress:\n  - from: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]\n    ports: [{port: 80, protocol: TCP}]\n',
    bad: 'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a}\nspec:\n  podSelector: {}\n  policyTypes: [ingress]\n',
    expect: ['schema/value@6:17'],
  },
  {
    kind: 'TracingPolicy',
    good: 'apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata: {name: a}\nspec:\n  kprobes:\n  - call: sys_openat\n    syscall: true\n    args: [{index: 0, type: int}]\n',
    bad: 'apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata: {name: a}\nspec:\n  kprobes:\n  - syscall: "yes"\n',
    expect: ['schema/missing-field@6:5', 'schema/type@6:14'],
  },
  {
    kind: 'PodSecurityPolicy',
    good: 'apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: a}\nspec:\n  privileged: false\n  runAsUser: {rule: MustRunAsNonRoot}\n  seLinux: {rule: RunAsAny}\n  volumes: [configMap]\n',
    bad: 'apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: a}\nspec:\n  runAsUser: {rule: MustRunAsNoRoot}\n',
    expect: ['schema/value@5:21'],
  },
  {
    kind: 'Inventory',
    good: 'apiVersion: weir.dev/v1alpha1\nkind: Inventory\nmetadata: {name: a}\nspec:\n  pods: [{namespace: a, name: b, labels: {app: b}, ips: [10.0.0.1], node: n, ports: [{name: http, port: 80}]}]\n',
    bad: 'apiVersion: weir.dev/v1alpha1\nkind: Inventory\nmetadata: {name: a}\nspec:\n  pod: []\n',
    expect: ['schema/unknown-field@5:3'],
  },
  {
    kind: 'PolicyTest',
    good: 'apiVersion: weir.dev/v1alpha1\nkind: PolicyTest\nmetadata: {name: a}\nspec:\n  policies: [../network/]\n  cases:\n  - {name: c, from: {workload: a/b}, to: {entity: world}, protocol: TCP, port: 443, expect: allow}\n',
    bad: 'apiVersion: weir.dev/v1alpha1\nkind: PolicyTest\nmetadata: {name: a}\nspec:\n  cases:\n  - {name: c, expect: permit}\n',
    expect: ['schema/value@6:23'],
  },
  {
    kind: 'Guardrail',
    good: 'apiVersion: weir.dev/v1alpha1\nkind: Guardrail\nmetadata: {name: a}\nspec:\n  rule: "true"\n  message: m\n',
    bad: 'apiVersion: weir.dev/v1alpha1\nkind: Guardrail\nmetadata: {name: a}\nspec:\n  rule: "true"\n',
    expect: ['schema/missing-field@4:1'],
  },
];

describe('schemas', () => {
  it('every kind with a schema names a schema file that exists, and every schema file is valid JSON with an $id', () => {
    const files = readdirSync(schemas).filter((f) => f.endsWith('.schema.json'));
    for (const info of Object.values(kinds)) if (info.schema) expect(files).toContain(`${info.schema}.schema.json`);
    for (const f of files)
      expect((JSON.parse(readFileSync(path.join(schemas, f), 'utf8')) as { $id: string }).$id).toBe(`https://weir.dev/schemas/${f}`);
  });

  it.each(cases)('$kind: accepts the good document, places errors of the bad one', ({ good, bad, expect: want }) => {
    expect(validate(good)).toEqual([]);
    expect(validate(bad)).toEqual(want);
  });

  it('did you mean: close spellings, wrong case, and the allowed set when nothing is close', () => {
    const { documents } = load(
      'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: a}\nspec:\n  endpointSelector: {}\n  egres: []\n  Ingress: []\n',
    );
    const msgs = validateDocument(documents[0]!).map((d) => `${d.rule} ${d.message}`);
    expect(msgs).toEqual([
      'schema/unknown-field unknown field `egres` in `spec` of CiliumNetworkPolicy; did you mean `egress`?',
      'schema/field-case field `Ingress` must be spelled `ingress`: Kubernetes field names are case-sensitive, so the API server prunes `Ingress` and everything under it is lost',
    ]);
    expect(closest('toEndpoint', ['toEndpoints', 'toEntities'])).toBe('toEndpoints');
    expect(closest('zzz', ['toEndpoints'])).toBeUndefined();
  });

  it('a null list points at its key', () => {
    expect(validate('apiVersion: weir.dev/v1alpha1\nkind: PolicyTest\nmetadata: {name: a}\nspec:\n  cases:\n')).toEqual([
      'schema/type@5:3',
    ]);
  });

  it('no more than 20 schema diagnostics per document', () => {
    const fields = Array.from({ length: 40 }, (_, i) => `  bogus${i}: 1`).join('\n');
    expect(validate(`apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: a}\nspec:\n${fields}\n`)).toHaveLength(20);
  });
});
