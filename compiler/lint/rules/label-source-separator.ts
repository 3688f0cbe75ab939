// `k8s.io.kubernetes.pod.namespace` was meant as `k8s:io.kubernetes.pod.namespace`: the source prefix takes a colon.
import { ciliumKinds, ciliumSelectors, selectorKeys } from '../cilium.js';
import type { LintRule } from '../rule.js';

const sources = ['k8s', 'any', 'container', 'unspec'];

export const labelSourceSeparator: LintRule = {
  meta: {
    id: 'cilium/label-source-separator',
    severity: 'error',
    description: 'A selector label key starts with a label source followed by `.` instead of `:` (e.g. `k8s.io.kubernetes.pod.namespace`).',
    rationale:
      'Cilium separates the label source from the key with a colon (`k8s:io.kubernetes.pod.namespace`). With a dot the whole string becomes the key of a k8s label that no pod carries, so the selector silently matches nothing and traffic is dropped.',
    fixable: true,
    kinds: ciliumKinds,
    example: 'matchLabels: {"k8s.io.kubernetes.pod.namespace": kube-system}',
  },
  check(ctx) {
    for (const { selector, path } of ciliumSelectors(ctx.doc))
      for (const k of selectorKeys(selector, path)) {
        const src = sources.find((s) => k.key.startsWith(`${s}.io.`));
        if (!src) continue;
        const fixed = `${src}:${k.key.slice(src.length + 1)}`;
        ctx.report(k.path, `label key \`${k.key}\` uses \`${src}.\` where the label source needs a colon: write \`${fixed}\``, {
          key: k.isMapKey,
          fix: { description: `rename the key to ${fixed}`, replacement: fixed },
        });
      }
  },
};
