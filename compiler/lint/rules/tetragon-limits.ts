// Tetragon's kernel selector encoding has fixed capacities; a policy beyond them fails to load.
import { hookName, tracingHooks, tracingKinds } from '../cilium.js';
import { asArray, isObj } from '../../model/value.js';
import { tetragonLimits } from '../../model/tetragon-limits.js';
import type { LintRule } from '../rule.js';

export const tetragonSelectorLimits: LintRule = {
  meta: {
    id: 'tetragon/selector-limits',
    severity: 'error',
    description: `A hook has more than ${tetragonLimits.selectorsPerHook} selectors, or a selector more than ${tetragonLimits.matchArgsPerSelector} matchArgs, ${tetragonLimits.actionsPerSelector} matchActions or ${tetragonLimits.matchBinariesPerSelector} matchBinaries.`,
    rationale:
      'Tetragon encodes selectors into fixed-size BPF maps; beyond these capacities the policy is refused when it is loaded (on the node, long after review). Split the hook into several policies or merge values into one filter.',
    fixable: false,
    kinds: tracingKinds,
    example: 'selectors: [{matchBinaries: [{operator: In, values: [/bin/a]}, {operator: In, values: [/bin/b]}]}]',
  },
  check(ctx) {
    for (const { hook, path } of tracingHooks(ctx.doc)) {
      const selectors = asArray(hook['selectors']);
      const name = hookName(hook);
      if (selectors.length > tetragonLimits.selectorsPerHook)
        ctx.report(
          [...path, 'selectors', tetragonLimits.selectorsPerHook],
          `${name} has ${selectors.length} selectors; Tetragon accepts at most ${tetragonLimits.selectorsPerHook} per hook`,
        );
      selectors.forEach((s, i) => {
        if (!isObj(s)) return;
        const check = (field: string, max: number, what: string) => {
          const n = asArray(s[field]).length;
          if (n > max)
            ctx.report([...path, 'selectors', i, field, max], `selector ${i} of ${name} has ${n} ${what}; Tetragon accepts at most ${max}`);
        };
        check('matchArgs', tetragonLimits.matchArgsPerSelector, 'matchArgs');
        check('matchActions', tetragonLimits.actionsPerSelector, 'matchActions');
        check('matchBinaries', tetragonLimits.matchBinariesPerSelector, 'matchBinaries (put all paths in one values list)');
      });
    }
  },
};
