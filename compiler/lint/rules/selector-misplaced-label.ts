// `- matchLabels:` followed by a label at the same indentation: the label lands beside
// matchLabels, the selector is empty, and an empty selector selects every endpoint.
import { ciliumKinds, ciliumSelectors } from '../cilium.js';
import type { LintRule } from '../rule.js';

const selectorFields = new Set(['matchLabels', 'matchExpressions']);

export const selectorMisplacedLabel: LintRule = {
  meta: {
    id: 'cilium/selector-misplaced-label',
    severity: 'error',
    description: 'A label is written beside `matchLabels` instead of under it (an indentation slip), leaving the selector empty.',
    rationale:
      'The API server prunes the stray label and keeps an empty `matchLabels`; an empty endpoint selector selects every endpoint, so an allow rule meant for one workload allows all of them.',
    fixable: false,
    kinds: ciliumKinds,
    example: 'fromEndpoints:\n- matchLabels:\n  role: frontend',
  },
  check(ctx) {
    for (const { selector, path } of ciliumSelectors(ctx.doc)) {
      const stray = Object.keys(selector).filter((k) => !selectorFields.has(k));
      if (stray.length === 0) continue;
      const emptyLabels = selector['matchLabels'] === null || selector['matchLabels'] === undefined;
      for (const k of stray)
        ctx.report(
          [...path, k],
          `\`${k}\` is beside \`matchLabels\`, not under it${emptyLabels ? ': the selector is empty and selects every endpoint' : ''}; indent it under matchLabels`,
          { key: true },
        );
    }
  },
};
