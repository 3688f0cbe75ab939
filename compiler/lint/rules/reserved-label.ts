// `reserved.init` is not the reserved:init identity; reserved labels take the `reserved:` source.
import { ciliumKinds, ciliumSelectors, selectorKeys } from '../cilium.js';
import type { LintRule } from '../rule.js';

/** Cilium's reserved identities (pkg/labels): the names valid after `reserved:`. */
export const reservedNames = [
  'host',
  'remote-node',
  'world',
  'world-ipv4',
  'world-ipv6',
  'cluster',
  'health',
  'init',
  'ingress',
  'unmanaged',
  'kube-apiserver',
  'all',
  'none',
];

export const reservedLabel: LintRule = {
  meta: {
    id: 'cilium/reserved-label',
    severity: 'error',
    description: 'A selector names a reserved identity as `reserved.NAME` or `reserved:UNKNOWN`.',
    rationale:
      'Reserved identities are selected with the `reserved:` label source (`reserved:init`, `reserved:host`). `reserved.init` is an ordinary k8s label key that no endpoint has, so the rule matches nothing; an unknown reserved name matches nothing either.',
    fixable: true,
    kinds: ciliumKinds,
    example: 'matchLabels: {"reserved.init": ""}',
  },
  check(ctx) {
    for (const { selector, path } of ciliumSelectors(ctx.doc))
      for (const k of selectorKeys(selector, path)) {
        const m = /^reserved([.:])(.*)$/.exec(k.key);
        if (!m) continue;
        const name = m[2]!;
        if (m[1] === '.') {
          const fixed = `reserved:${name}`;
          ctx.report(k.path, `label key \`${k.key}\` is not a reserved identity: reserved labels use a colon, \`${fixed}\``, {
            key: k.isMapKey,
            fix: { description: `rename the key to ${fixed}`, replacement: fixed },
          });
        } else if (!reservedNames.includes(name)) {
          ctx.report(k.path, `\`reserved:${name}\` is not a reserved identity; known: ${reservedNames.join(', ')}`, { key: k.isMapKey });
        }
      }
  },
};
