// The pre-1.14 `auth: {type: ...}` field became `authentication: {mode: ...}`.
import { ciliumKinds, ciliumSections } from '../cilium.js';
import { isObj } from '../../model/value.js';
import type { LintRule } from '../rule.js';

export const authRenamed: LintRule = {
  meta: {
    id: 'cilium/auth-renamed',
    severity: 'error',
    description: 'A rule uses the old `auth: {type: ...}` field instead of `authentication: {mode: ...}`.',
    rationale:
      'Cilium 1.14 renamed the field; the current CRD has no `auth`, so the API server prunes it and the rule silently requires no mutual authentication.',
    fixable: false,
    kinds: ciliumKinds,
    example: 'egress: [{toEndpoints: [{}], auth: {type: spire}}]',
  },
  check(ctx) {
    for (const { section, path } of ciliumSections(ctx.doc))
      if ('auth' in section) {
        const t = isObj(section['auth']) ? section['auth']['type'] : undefined;
        const mode = t === 'spire' ? 'required' : t === 'null' || t === undefined ? 'disabled' : String(t);
        ctx.report(
          [...path, 'auth'],
          `\`auth\` was renamed to \`authentication\` in Cilium 1.14; write \`authentication: {mode: ${mode}}\``,
          { key: true },
        );
      }
  },
};
