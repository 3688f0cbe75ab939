// matchArgs filters an argument the hook declares in `args`; any other index reads nothing.
import { hookName, tracingHooks, tracingKinds } from '../cilium.js';
import { asArray, isObj } from '../../model/value.js';
import type { LintRule } from '../rule.js';

export const tetragonArgIndex: LintRule = {
  meta: {
    id: 'tetragon/arg-index',
    severity: 'error',
    description: 'A matchArgs `index` (or `args` entry) names an argument the hook does not declare in `args`.',
    rationale:
      'Tetragon only fetches the arguments listed in the hook’s `args`; a filter on any other index is refused when the policy is loaded ("argument not found"), so the selector never enforces anything.',
    fixable: false,
    kinds: tracingKinds,
    example: 'args: [{index: 0, type: int}]\nselectors: [{matchArgs: [{index: 1, operator: Equal, values: ["/etc/shadow"]}]}]',
  },
  check(ctx) {
    for (const { hook, path, type } of tracingHooks(ctx.doc)) {
      // For tracepoints, matchArgs.index is a position in `args`; elsewhere it is the declared arg's `index`.
      const args = asArray(hook['args']);
      const declared = new Set(
        type === 'tracepoints'
          ? args.map((_, i) => i)
          : args.flatMap((a) => (isObj(a) && typeof a['index'] === 'number' ? [a['index']] : [])),
      );
      asArray(hook['selectors']).forEach((s, i) => {
        if (!isObj(s)) return;
        asArray(s['matchArgs']).forEach((m, j) => {
          if (!isObj(m)) return;
          const at = [...path, 'selectors', i, 'matchArgs', j];
          const idx = [
            ...(typeof m['index'] === 'number' ? [{ n: m['index'], p: [...at, 'index'] }] : []),
            ...asArray(m['args']).flatMap((n, k) => (typeof n === 'number' ? [{ n, p: [...at, 'args', k] }] : [])),
          ];
          for (const { n, p } of idx)
            if (!declared.has(n))
              ctx.report(
                p,
                type === 'tracepoints'
                  ? `matchArgs index ${n} of ${hookName(hook)} is a position in \`args\`, which has ${declared.size} entr${declared.size === 1 ? 'y' : 'ies'}; add the tracepoint field to args`
                  : `matchArgs filters argument ${n} of ${hookName(hook)}, but \`args\` declares ${declared.size === 0 ? 'no arguments' : `only ${[...declared].join(', ')}`}; add {index: ${n}, type: ...} to args`,
              );
        });
      });
    }
  },
};
