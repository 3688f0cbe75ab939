// fromRequires/toRequires: deprecated upstream, and weir does not compile them.
import { ciliumKinds, ciliumSections } from '../cilium.js';
import type { LintRule } from '../rule.js';

export const requiresRemoved: LintRule = {
  meta: {
    id: 'cilium/requires-removed',
    severity: 'error',
    description: 'A rule uses `fromRequires` or `toRequires`.',
    rationale:
      'Cilium deprecated `fromRequires`/`toRequires` (1.17) and removed them: they add a requirement to every other rule selecting the same endpoint, a non-local effect that reviewers miss. weir does not compile them; express the requirement in each rule’s own `fromEndpoints`/`toEndpoints` (matchExpressions), or use a deny rule.',
    fixable: false,
    kinds: ciliumKinds,
    example: 'ingress: [{fromRequires: [{matchLabels: {env: prod}}]}]',
  },
  check(ctx) {
    for (const { section, path } of ciliumSections(ctx.doc))
      for (const f of ['fromRequires', 'toRequires'])
        if (f in section)
          ctx.report(
            [...path, f],
            `\`${f}\` was removed from Cilium and is not compiled by weir; add the required labels to this rule's ${f === 'fromRequires' ? 'fromEndpoints' : 'toEndpoints'} instead`,
            { key: true },
          );
  },
};
