// Which endpoints a policy change can affect. A decision for (src, dst) depends only on the
// egress rules selecting src and the ingress rules selecting dst (Cilium pkg/policy resolves
// per endpoint), so a plan only needs to re-probe pairs touching an endpoint that some changed
// document selects. When a change is not understood here, every endpoint counts as affected.
import type { PolicyDocument } from '../load/index.js';
import {
  LABEL_CLUSTER,
  LABEL_NAMESPACE,
  LABEL_NAMESPACE_LABELS,
  LABEL_SERVICE_ACCOUNT,
  matchesLabels,
  parseSelector,
} from '../model/selector.js';
import type { WorkloadPeer } from './peers.js';

/** Stable identity of a document across revisions, and its content. */
export function documentKey(d: PolicyDocument): string {
  return `${d.kind}/${d.namespace ?? ''}/${d.name}`;
}

export interface DocumentChange {
  key: string;
  kind: 'added' | 'removed' | 'modified';
  base?: PolicyDocument;
  head?: PolicyDocument;
}

/** Network documents that differ in content between the two revisions (file moves are not changes). */
export function changedDocuments(
  base: readonly PolicyDocument[],
  head: readonly PolicyDocument[],
  family: PolicyDocument['family'] = 'network',
): DocumentChange[] {
  const index = (docs: readonly PolicyDocument[]) => {
    const m = new Map<string, PolicyDocument[]>();
    for (const d of docs) {
      if (d.family !== family) continue;
      const k = documentKey(d);
      const l = m.get(k);
      if (l) l.push(d);
      else m.set(k, [d]);
    }
    return m;
  };
  // Both revisions of a plan share the parsed value of an unchanged file: compare by identity
  // first and serialize only documents whose values are distinct objects.
  const same = (x: PolicyDocument[], y: PolicyDocument[]) =>
    x.length === y.length &&
    (x.every((d, i) => d.value === y[i]!.value) ||
      x.map((e) => JSON.stringify(e.value)).join('\n') === y.map((e) => JSON.stringify(e.value)).join('\n'));
  const b = index(base);
  const h = index(head);
  const out: DocumentChange[] = [];
  for (const k of new Set([...b.keys(), ...h.keys()])) {
    const x = b.get(k);
    const y = h.get(k);
    if (!x) out.push({ key: k, kind: 'added', head: y![0]! });
    else if (!y) out.push({ key: k, kind: 'removed', base: x[0]! });
    else if (!same(x, y)) out.push({ key: k, kind: 'modified', base: x[0]!, head: y[0]! });
  }
  return out.sort((p, q) => (p.key < q.key ? -1 : 1));
}

/**
 * Whether a label selector selects the workload (its pod labels and namespace); undefined when the
 * selector is not understood here (malformed, or on labels Cilium derives from the service account,
 * cluster or namespace labels, which workloads do not carry in this model).
 */
export function selects(sel: unknown, w: WorkloadPeer): boolean | undefined {
  const { selector, problems } = parseSelector(sel);
  if (problems.some((p) => p.kind !== 'label')) return undefined;
  if (
    selector.requirements.some(
      (r) => r.source === 'k8s' && (r.key === LABEL_SERVICE_ACCOUNT || r.key === LABEL_CLUSTER || r.key.startsWith(LABEL_NAMESPACE_LABELS)),
    )
  )
    return undefined;
  return matchesLabels(selector, (r) =>
    r.source === 'reserved'
      ? undefined
      : r.key === LABEL_NAMESPACE
        ? w.namespace
        : Object.hasOwn(w.labels, r.key)
          ? w.labels[r.key]
          : undefined,
  );
}

/** The subject selectors of one network document, or undefined when it has a kind of subject not modelled here. */
function subjectSelectors(d: PolicyDocument): unknown[] | undefined {
  const spec = d.value['spec'] as Record<string, unknown> | undefined;
  if (d.kind === 'NetworkPolicy') return [spec?.['podSelector'] ?? {}];
  const rules = [spec, ...(Array.isArray(d.value['specs']) ? (d.value['specs'] as unknown[]) : [])].filter(
    (r): r is Record<string, unknown> => r !== undefined && r !== null && typeof r === 'object',
  );
  const out: unknown[] = [];
  for (const r of rules) {
    if (r['nodeSelector'] !== undefined) return undefined; // host policies select nodes, not pods
    out.push(r['endpointSelector'] ?? {});
  }
  return out;
}

/**
 * The workloads selected by any changed document, on either side. Returns `all` when a change
 * cannot be attributed (unknown selector form, host policy): the caller then probes every pair.
 */
export function affectedWorkloads(changes: readonly DocumentChange[], workloads: readonly WorkloadPeer[]): Set<WorkloadPeer> | 'all' {
  const out = new Set<WorkloadPeer>();
  for (const c of changes) {
    for (const d of [c.base, c.head]) {
      if (!d) continue;
      const sels = subjectSelectors(d);
      if (!sels) return 'all';
      const namespaced = d.kind !== 'CiliumClusterwideNetworkPolicy';
      for (const w of workloads) {
        if (namespaced && w.namespace !== (d.namespace ?? 'default')) continue;
        for (const s of sels) {
          const r = selects(s, w);
          if (r === undefined) return 'all';
          if (r) out.add(w);
        }
      }
    }
  }
  return out;
}

/** Whether a network document's subject selectors select the workload (namespace-scoped like Cilium). */
export function documentSelects(d: PolicyDocument, w: WorkloadPeer): boolean {
  if (d.kind !== 'CiliumClusterwideNetworkPolicy' && w.namespace !== (d.namespace ?? 'default')) return false;
  return (subjectSelectors(d) ?? []).some((s) => selects(s, w) === true);
}
