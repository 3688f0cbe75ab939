// matchExpressions operators are case-sensitive: `in` is not `In`, and Cilium rejects the policy.
import { ciliumKinds, ciliumSelectors } from '../cilium.js';
import { asArray, isObj } from '../../model/value.js';
import type { LintRule } from '../rule.js';

const operators = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

export const operatorCase: LintRule = {
  meta: {
    id: 'cilium/operator-case',
    severity: 'error',
    description: 'A matchExpressions operator is not spelled exactly In, NotIn, Exists or DoesNotExist.',
    rationale:
      'Label selector operators are case-sensitive in Kubernetes and Cilium; `in` fails selector parsing and the policy is not imported (cilium-agent logs an error and the endpoint keeps its old policy).',
    fixable: true,
    kinds: [...ciliumKinds, 'NetworkPolicy'],
    example: 'matchExpressions: [{key: env, operator: in, values: [prod]}]',
  },
  check(ctx) {
    const selectors = ciliumSelectors(ctx.doc).map((s) => ({ selector: s.selector, path: s.path }));
    if (ctx.doc.kind === 'NetworkPolicy') {
      const spec = ctx.doc.value['spec'];
      if (isObj(spec)) {
        if (isObj(spec['podSelector'])) selectors.push({ selector: spec['podSelector'], path: ['spec', 'podSelector'] });
        for (const dir of ['ingress', 'egress'] as const)
          asArray(spec[dir]).forEach((r, i) => {
            if (!isObj(r)) return;
            const peers = dir === 'ingress' ? 'from' : 'to';
            asArray(r[peers]).forEach((p, j) => {
              if (!isObj(p)) return;
              for (const f of ['podSelector', 'namespaceSelector'])
                if (isObj(p[f])) selectors.push({ selector: p[f], path: ['spec', dir, i, peers, j, f] });
            });
          });
      }
    }
    for (const { selector, path } of selectors)
      asArray(selector['matchExpressions']).forEach((e, i) => {
        if (!isObj(e) || typeof e['operator'] !== 'string') return;
        const op = e['operator'];
        if (operators.includes(op)) return;
        const right = operators.find((o) => o.toLowerCase() === op.toLowerCase());
        const at = [...path, 'matchExpressions', i, 'operator'];
        if (right)
          ctx.report(at, `operator \`${op}\` must be spelled \`${right}\` (operators are case-sensitive)`, {
            fix: { description: `replace with ${right}`, replacement: right },
          });
        else ctx.report(at, `unknown operator \`${op}\`; use one of ${operators.join(', ')}`);
      });
  },
};
