// Cilium's rule sanitizing (pkg/policy/api, IngressRule/EgressRule sanitize) refuses one rule that
// names peers of two kinds: the policy is accepted by the API server and rejected by every agent.
import { ciliumKinds, ciliumSections } from '../cilium.js';
import type { LintRule } from '../rule.js';

/** The L3 peer fields Cilium counts per direction (deny sections share them). */
const ingressPeers = ['fromEndpoints', 'fromCIDR', 'fromCIDRSet', 'fromEntities', 'fromNodes', 'fromGroups'] as const;
const egressPeers = ['toEndpoints', 'toCIDR', 'toCIDRSet', 'toEntities', 'toServices', 'toFQDNs', 'toGroups', 'toNodes'] as const;

export const ciliumPeerKinds: LintRule = {
  meta: {
    id: 'cilium/peer-kinds',
    severity: 'error',
    description:
      'One ingress or egress rule names peers of two kinds (e.g. `fromEndpoints` with `fromCIDR`, `toEndpoints` with `toEntities`).',
    rationale:
      'Cilium\'s agent sanitizes every rule before it enforces it and refuses "Combining FromEndpoints and FromCIDR is not supported yet": the CRD schema lets such a policy in, and then no node enforces it. Two rules (list items) with one peer kind each mean the same and are accepted.',
    fixable: false,
    kinds: ciliumKinds,
    example: 'ingress:\n- fromEndpoints: [{matchLabels: {app: web}}]\n  fromCIDR: [10.0.0.0/8]',
  },
  check(ctx) {
    for (const { dir, section, path } of ciliumSections(ctx.doc)) {
      // In the order the rule writes them: the second kind is the one to move to a rule of its own.
      const peers: readonly string[] = dir.startsWith('ingress') ? ingressPeers : egressPeers;
      const fields = Object.keys(section).filter(
        (f) => peers.includes(f) && Array.isArray(section[f]) && (section[f] as unknown[]).length > 0,
      );
      if (fields.length < 2) continue;
      const [first, second] = fields as [string, string];
      ctx.report(
        [...path, second],
        `this rule combines \`${first}\` and \`${second}\`, which Cilium refuses when it applies the policy ("Combining ${first[0]!.toUpperCase()}${first.slice(1)} and ${second[0]!.toUpperCase()}${second.slice(1)} is not supported yet"); split it into two rules, one per peer kind`,
        { key: true },
      );
    }
  },
};
