// A selector that matches no pod of the inventory is almost always a typo or a stale label.
import { endpointLabels } from '../../identity/allocate.js';
import type { Inventory } from '../../inventory/index.js';
import type { NodePath } from '../../load/index.js';
import {
  isReservedSelector,
  matchesLabels,
  parseSelector,
  scopePeerToNamespace,
  scopeToNamespace,
  type Selector,
} from '../../model/selector.js';
import { asArray, isObj, type Obj } from '../../model/value.js';
import { ciliumKinds, ciliumSelectors } from '../cilium.js';
import type { LintRule } from '../rule.js';

/** The labels each pod's identity carries, as the compiler matches selectors against them (per inventory). */
const podLabelsMemo = new WeakMap<Inventory, Map<string, string>[]>();
function podLabels(inv: Inventory): Map<string, string>[] {
  let l = podLabelsMemo.get(inv);
  if (!l) {
    const nsLabels = new Map(inv.namespaces.map((n) => [n.name, n.labels]));
    podLabelsMemo.set(inv, (l = inv.pods.map((p) => endpointLabels(p, nsLabels.get(p.namespace) ?? {}, inv.cluster))));
  }
  return l;
}

/** Whether some pod's identity matches the selector. */
function selectsPod(s: Selector, inv: Inventory): boolean {
  return podLabels(inv).some((labels) => matchesLabels(s, (r) => (r.source === 'reserved' ? undefined : labels.get(r.key))));
}

export const selectorNoMatch: LintRule = {
  meta: {
    id: 'selector/no-match',
    severity: 'warning',
    description: 'An endpoint or pod selector matches no pod of the inventory (`--inventory`).',
    rationale:
      'A selector that selects nothing makes its rule inert: an allow rule allows nothing (traffic the author meant to allow is dropped by default-deny), a subject selector enforces nothing. It is usually a misspelt label or a workload that was renamed.',
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
    const candidates: { selector: Obj; path: NodePath; what: string; peer: boolean }[] = [];
    if (doc.kind === 'NetworkPolicy') {
      const spec = doc.value['spec'];
      if (isObj(spec) && isObj(spec['podSelector']))
        candidates.push({ selector: spec['podSelector'], path: ['spec', 'podSelector'], what: 'podSelector', peer: false });
      if (isObj(spec))
        for (const dir of ['ingress', 'egress'] as const)
          asArray(spec[dir]).forEach((r, i) => {
            const peers = dir === 'ingress' ? 'from' : 'to';
            if (isObj(r))
              asArray(r[peers]).forEach((p, j) => {
                // Peers with a namespaceSelector select across namespaces by namespace labels; skip them.
                if (isObj(p) && isObj(p['podSelector']) && !('namespaceSelector' in p))
                  candidates.push({
                    selector: p['podSelector'],
                    path: ['spec', dir, i, peers, j, 'podSelector'],
                    what: `${peers} podSelector`,
                    peer: false,
                  });
              });
          });
    } else {
      for (const s of ciliumSelectors(doc))
        if (s.role === 'subject' || s.field === 'fromEndpoints' || s.field === 'toEndpoints')
          candidates.push({
            selector: s.selector,
            path: s.path,
            what: s.role === 'subject' ? 'endpointSelector' : s.field!,
            peer: s.role !== 'subject',
          });
    }
    for (const c of candidates) {
      const { selector, problems } = parseSelector(c.selector);
      // An empty selector selects everything in scope; reserved labels and other label sources are
      // not pods, and a misspelt operator is cilium/operator-case's finding, not this rule's.
      if (
        selector.requirements.length === 0 ||
        isReservedSelector(selector) ||
        problems.some((p) => p.kind === 'source' || p.kind === 'operator')
      )
        continue;
      const scoped = ns === undefined ? selector : c.peer ? scopePeerToNamespace(selector, ns) : scopeToNamespace(selector, ns);
      if (selectsPod(scoped, inv)) continue;
      const scope = scoped === selector ? 'in any namespace' : `in namespace ${ns}`;
      ctx.report(c.path, `${c.what} matches no pod of the inventory ${scope}; check the labels (or the inventory)`);
    }
  },
};
