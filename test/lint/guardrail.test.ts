// Guardrails: CEL rules over documents, the bundled examples, and broken guardrails reported, not thrown.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkGuardrails, compileGuardrails, lintDocuments } from '../../compiler/lint/index.js';
import { loadPolicies } from '../../compiler/load/index.js';
import { cnp, load, where } from './harness.js';

const root = path.resolve(import.meta.dirname, '../..');

const guardrail = (spec: string) => `apiVersion: weir.dev/v1alpha1
kind: Guardrail
metadata: {name: g}
spec:
${spec
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
`;

describe('guardrails', () => {
  it('a false rule is a finding at the configured path with the message filled in', () => {
    const g = load(
      guardrail(
        'match: {kinds: [CiliumNetworkPolicy]}\nrule: "!has(object.spec.egress)"\nmessage: "{{kind}} {{ref}} must not have egress rules"\npath: [spec, egress]',
      ),
      'g.yaml',
    );
    const p = load(cnp('endpointSelector: {}\negress:\n- toEntities: [world]'));
    const diags = lintDocuments(p.documents, { guardrails: g.documents });
    expect(diags.map(where)).toEqual(['guardrail/g@9:3']);
    expect(diags[0]!.message).toBe('CiliumNetworkPolicy default/p must not have egress rules [guardrail g, g.yaml:1]');
    expect(diags[0]!.severity).toBe('error');
  });

  it('match.kinds, match.namespaces and match.when limit where a rule applies', () => {
    const rule = (match: string) => load(guardrail(`match: ${match}\nrule: "false"\nmessage: no`)).documents;
    const docs = load(cnp('endpointSelector: {}')).documents;
    const n = (match: string) => checkGuardrails(compileGuardrails(rule(match)).guardrails, docs).length;
    expect(n('{kinds: [CiliumNetworkPolicy]}')).toBe(1);
    expect(n('{kinds: [NetworkPolicy]}')).toBe(0);
    expect(n('{namespaces: [default]}')).toBe(1);
    expect(n('{namespaces: [prod]}')).toBe(0);
    expect(n('{when: "has(object.spec.ingress)"}')).toBe(0);
    expect(n('{when: "object.metadata.name == \'p\'"}')).toBe(1);
  });

  it('integers compare as CEL ints and strings extensions are available', () => {
    const g = load(
      guardrail(
        'rule: "object.spec.ingress.all(r, r.toPorts.all(p, p.ports.all(x, x.endPort < 1024)))"\nmessage: high ports\nseverity: warning',
      ),
    ).documents;
    const p = load(cnp('endpointSelector: {}\ningress:\n- toPorts: [{ports: [{port: "80", endPort: 8080}]}]')).documents;
    const d = checkGuardrails(compileGuardrails(g).guardrails, p);
    expect(d.map((x) => [x.rule, x.severity])).toEqual([['guardrail/g', 'warning']]);
    const s = load(guardrail('rule: "object.metadata.name.lowerAscii().startsWith(\'p\')"\nmessage: m')).documents;
    expect(checkGuardrails(compileGuardrails(s).guardrails, p)).toEqual([]);
  });

  it('a CEL syntax error is a diagnostic on the guardrail; an evaluation error is a finding, never a throw', () => {
    const bad = load(guardrail('rule: "object.spec.("\nmessage: m'), 'bad.yaml').documents;
    const c = compileGuardrails(bad);
    expect(c.guardrails).toEqual([]);
    expect(c.diagnostics.map(where)).toEqual(['guardrail/invalid@5:9']);
    expect(c.diagnostics[0]!.message).toMatch(/cannot parse the CEL rule/);
    const missing = load(guardrail('rule: "object.spec.nothing.here == 1"\nmessage: m')).documents;
    const d = checkGuardrails(compileGuardrails(missing).guardrails, load(cnp('endpointSelector: {}')).documents);
    expect(d).toHaveLength(1);
    expect(d[0]!.message).toMatch(/could not be evaluated/);
  });

  it('bundled examples in policies/guardrails: clean on policies/, and each catches its mistake', async () => {
    const g = await loadPolicies(['policies/guardrails'], { root });
    expect(g.diagnostics).toEqual([]);
    const compiled = compileGuardrails(g.documents);
    expect(compiled.diagnostics).toEqual([]);
    expect(compiled.guardrails.map((x) => x.name).sort()).toEqual(['egress-world-needs-ports', 'no-world-ssh', 'scoped-kill']);
    const bad = load(
      [
        cnp('endpointSelector: {}\ningress:\n- fromEntities: [world]\n  toPorts: [{ports: [{port: "22", protocol: TCP}]}]'),
        cnp('endpointSelector: {}\negress:\n- toEntities: [world]'),
        'apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata: {name: k}\nspec:\n  kprobes:\n  - call: sys_openat\n    selectors:\n    - matchActions: [{action: Sigkill}]\n',
        cnp(
          'endpointSelector: {}\ningress:\n- fromEntities: [world]\n  toPorts: [{ports: [{port: "443", protocol: TCP}]}]\negress:\n- toEntities: [world]\n  toPorts: [{ports: [{port: "443"}]}]',
        ),
      ].join('---\n'),
    ).documents;
    const d = checkGuardrails(compiled.guardrails, bad);
    expect(d.map((x) => `${x.rule}@${x.line}`)).toEqual([
      'guardrail/no-world-ssh@9',
      'guardrail/egress-world-needs-ports@20',
      'guardrail/scoped-kill@27',
    ]);
  });
});
