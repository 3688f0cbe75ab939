// `description` belongs to the rule (spec.description), not to the object or its metadata.
import { ciliumKinds } from '../cilium.js';
import { isObj } from '../../model/value.js';
import type { LintRule } from '../rule.js';

export const descriptionPlacement: LintRule = {
  meta: {
    id: 'cilium/description-outside-spec',
    severity: 'error',
    description: '`description` is written at the top level of the object or in `metadata` instead of inside `spec`.',
    rationale:
      'api.Rule carries `description`; the CiliumNetworkPolicy object and ObjectMeta do not. The API server rejects (strict field validation) or silently drops the unknown field, so the text never reaches `cilium policy get` or Hubble.',
    fixable: false,
    kinds: ciliumKinds,
    example: 'kind: CiliumNetworkPolicy\ndescription: "allow the frontend"\nspec: {...}',
  },
  check(ctx) {
    const v = ctx.doc.value;
    const target = isObj(v['spec'])
      ? '`spec.description`'
      : Array.isArray(v['specs'])
        ? '`description` of each entry of `specs`'
        : '`spec.description`';
    if ('description' in v)
      ctx.report(['description'], `\`description\` is not a field of ${ctx.doc.kind}; move it to ${target}`, { key: true });
    const meta = v['metadata'];
    if (isObj(meta) && 'description' in meta)
      ctx.report(
        ['metadata', 'description'],
        `\`metadata.description\` is not an ObjectMeta field; move it to ${target} (or make it an annotation)`,
        { key: true },
      );
  },
};
