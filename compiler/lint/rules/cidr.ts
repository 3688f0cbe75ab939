// CIDRs must parse, and each `except` must lie inside its `cidr`.
import type { NodePath } from '../../load/index.js';
import { parsePrefix, prefixContains, type Prefix } from '../../model/cidr.js';
import { asArray, isObj } from '../../model/value.js';
import { ciliumKinds, ciliumSections } from '../cilium.js';
import type { LintRule, RuleContext } from '../rule.js';

function checkCidr(ctx: RuleContext, value: unknown, at: NodePath): Prefix | undefined {
  if (typeof value !== 'string') return undefined;
  const p = parsePrefix(value, { strict: true });
  if (!p) ctx.report(at, `\`${value}\` is not a valid CIDR (expected e.g. 10.0.0.0/8 or fd00::/64)`);
  return p;
}

export const cidr: LintRule = {
  meta: {
    id: 'cilium/cidr',
    severity: 'error',
    description: 'A CIDR does not parse, or an `except` prefix is not inside its `cidr`.',
    rationale:
      'Cilium refuses a policy with an unparsable CIDR. An `except` outside its `cidr` excludes nothing, which usually means the author allowed more than intended.',
    fixable: false,
    kinds: ciliumKinds,
    example: 'toCIDRSet: [{cidr: 10.0.0.0/8, except: [192.168.0.0/16]}]',
  },
  check(ctx) {
    for (const { section, path } of ciliumSections(ctx.doc)) {
      for (const f of ['fromCIDR', 'toCIDR']) asArray(section[f]).forEach((c, i) => checkCidr(ctx, c, [...path, f, i]));
      for (const f of ['fromCIDRSet', 'toCIDRSet'])
        asArray(section[f]).forEach((set, i) => {
          if (!isObj(set)) return;
          const outer = checkCidr(ctx, set['cidr'], [...path, f, i, 'cidr']);
          asArray(set['except']).forEach((e, j) => {
            const inner = checkCidr(ctx, e, [...path, f, i, 'except', j]);
            if (outer && inner && !prefixContains(outer, inner))
              ctx.report(
                [...path, f, i, 'except', j],
                `except \`${String(e)}\` is not inside cidr \`${String(set['cidr'])}\`, so it excludes nothing`,
              );
          });
        });
    }
  },
};
