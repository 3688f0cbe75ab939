// A selector that matches no pod of the inventory is almost always a typo or a stale label.
import { ciliumKinds, ciliumSelectors } from '../cilium.js';
import { asArray, isObj, type Obj } from '../../model/value.js';
import type { NodePath } from '../../load/index.js';
import type { LintRule } from '../rule.js';
import { compileSelector, selectPods } from '../selector.js';

export const selectorNoMatch: LintRule = {
  meta: {
    id: 'selector/no-match',
    severity: 'warning',
    description: 'An endpoint or pod selector matches no pod of the inventory (`--inventory`).',
    rationale: 'A selector that selects nothing makes its rule inert: an allow rule allows nothing (traffic the author meant to allow is dropped by default-deny), a subject selector enforces nothing. It is usually a misspelt label or a workload that was renamed.',
    fixable: false,
    kinds: [...ciliumKinds, 'NetworkPolicy'],
    needsInventory: true,
    example: 'endpointSelector: {matchLabels: {app: frontnd}}',
  },
  check(ctx) {
    const inv = ctx.inventory;
    if (!inv || inv.pods.length === 0) return;
    const doc = ctx.doc;
    const ns = doc.kind === 'CiliumClusterwideNetworkPolicy' ? undefined : (doc.namespace ?? 'default');
    const candidates: { selector: Obj; path: NodePath; what: string }[] = [];
    if (doc.kind === 'NetworkPolicy') {
      const spec = doc.value['spec'];
      if (isObj(spec) && isObj(spec['podSelector'])) candidates.push({ selector: spec['podSelector'], path: ['spec', 'podSelector'], what: 'podSelector' });
      if (isObj(spec))
        for (const dir of ['ingress', 'egress'] as const)
          asArray(spec[dir]).forEach((r, i) => {
            const peers = dir === 'ingress' ? 'from' : 'to';
            if (isObj(r))
              asArray(r[peers]).forEach((p, j) => {
                // Peers with a namespaceSelector select across namespaces by namespace labels; skip them.
                if (isObj(p) && isObj(p['podSelector']) && !('namespaceSelector' in p)) candidates.push({ selector: p['podSelector'], path: ['spec', dir, i, peers, j, 'podSelector'], what: `${peers} podSelector` });
              });
          });
    } else {
      for (const s of ciliumSelectors(doc))
        if (s.role === 'subject' || s.field === 'fromEndpoints' || s.field === 'toEndpoints') candidates.push({ selector: s.selector, path: s.path, what: s.role === 'subject' ? 'endpointSelector' : s.field! });
    }
    for (const c of candidates) {
      const compiled = compileSelector(c.selector);
      if (compiled.empty || !compiled.podsOnly) continue;
      if (selectPods(c.selector, inv, ns).length > 0) continue;
      const scope = ns === undefined || compiled.mentionsNamespace ? 'in any namespace' : `in namespace ${ns}`;
      ctx.report(c.path, `${c.what} matches no pod of the inventory ${scope}; check the labels (or the inventory)`);
    }
  },
};
