// `egress:` with nothing under it is null, not an empty list: Kubernetes drops it, and the rule
// means the opposite of what its author wrote (no default-deny; or a peer list that allows nothing).
import { ciliumKinds, ciliumRules, ciliumSections, directions } from '../cilium.js';
import type { LintRule } from '../rule.js';

const peerFields = [
  'fromEndpoints',
  'toEndpoints',
  'fromEntities',
  'toEntities',
  'fromCIDR',
  'toCIDR',
  'fromCIDRSet',
  'toCIDRSet',
  'toFQDNs',
  'toServices',
  'fromNodes',
  'toNodes',
  'toPorts',
];

export const nullSection: LintRule = {
  meta: {
    id: 'cilium/null-section',
    severity: 'warning',
    description: 'A rule section (`ingress`, `egress`, ...) or a peer list (`fromEndpoints`, ...) is written with no value, i.e. null.',
    rationale:
      'The API server prunes null fields of a CRD. `egress:` alone therefore adds no egress rule and does not turn on egress default-deny (write `egress: [{}]` for that); `fromEndpoints:` alone leaves a rule with no peer, which allows nothing (write `fromEndpoints: [{}]` to allow every endpoint).',
    fixable: false,
    kinds: ciliumKinds,
    example: 'spec: {endpointSelector: {matchLabels: {role: restricted}}, egress: }',
  },
  check(ctx) {
    for (const { rule, path } of ciliumRules(ctx.doc))
      for (const dir of directions)
        if (dir in rule && rule[dir] === null)
          ctx.report(
            [...path, dir],
            `\`${dir}:\` has no value, so Kubernetes drops it: this policy adds no ${dir.replace('Deny', ' deny')} rule and does not enable ${dir.startsWith('ingress') ? 'ingress' : 'egress'} default-deny; write \`${dir}: [{}]\` to deny all ${dir.startsWith('ingress') ? 'ingress' : 'egress'}`,
            { key: true },
          );
    for (const { section, path } of ciliumSections(ctx.doc))
      for (const f of peerFields)
        if (f in section && section[f] === null)
          ctx.report(
            [...path, f],
            `\`${f}:\` has no value, so Kubernetes drops it and this rule ${f === 'toPorts' ? 'has no port restriction' : 'has no peer of that kind'}; write \`${f}: [{}]\` to mean "all"${f === 'toPorts' ? '' : ', or remove the line'}`,
            { key: true },
          );
  },
};
