// Label-selector matching against the inventory's pods, as Cilium's EndpointSelector sees a pod:
// its k8s labels plus io.kubernetes.pod.namespace, the service account, the cluster and the
// namespace's labels (io.cilium.k8s.namespace.labels.*). Only for lint's "selects nothing" check;
// the compiler has its own full selector cache.
import type { Inventory, Pod } from '../inventory/index.js';
import { asArray, isObj, type Obj } from '../model/value.js';

export const LABEL_NAMESPACE = 'io.kubernetes.pod.namespace';

/** The labels Cilium derives for a pod's security identity (source prefixes stripped). */
export function podIdentityLabels(pod: Pod, inv: Inventory): Map<string, string> {
  const m = new Map<string, string>(Object.entries(pod.labels));
  m.set(LABEL_NAMESPACE, pod.namespace);
  m.set('io.cilium.k8s.policy.serviceaccount', pod.serviceAccount || 'default');
  m.set('io.cilium.k8s.policy.cluster', inv.cluster);
  const ns = inv.namespaces.find((n) => n.name === pod.namespace);
  for (const [k, v] of Object.entries(ns?.labels ?? {})) m.set(`io.cilium.k8s.namespace.labels.${k}`, v);
  return m;
}

/** Strips a k8s:/any: source; undefined for sources that never select pods (reserved:, cidr:, fqdn:, ...). */
function podKey(raw: string): string | undefined {
  const m = /^([a-z0-9-]+):(.*)$/.exec(raw);
  if (!m) return raw;
  return m[1] === 'k8s' || m[1] === 'any' ? m[2]! : undefined;
}

export interface CompiledSelector {
  /** False when the selector can select something other than pods (reserved identities, other sources). */
  podsOnly: boolean;
  empty: boolean;
  mentionsNamespace: boolean;
  matches(labels: Map<string, string>): boolean;
}

export function compileSelector(sel: Obj): CompiledSelector {
  const tests: ((l: Map<string, string>) => boolean)[] = [];
  let podsOnly = true;
  let mentionsNamespace = false;
  const note = (k: string | undefined) => {
    if (k === undefined) podsOnly = false;
    else if (k === LABEL_NAMESPACE || k.startsWith('io.cilium.k8s.namespace.labels.')) mentionsNamespace = true;
    return k;
  };
  if (isObj(sel['matchLabels']))
    for (const [raw, v] of Object.entries(sel['matchLabels'])) {
      const k = note(podKey(raw));
      if (k !== undefined) tests.push((l) => l.get(k) === String(v));
    }
  for (const e of asArray(sel['matchExpressions'])) {
    if (!isObj(e) || typeof e['key'] !== 'string') continue;
    const k = note(podKey(e['key']));
    if (k === undefined) continue;
    const values = asArray(e['values']).map(String);
    switch (e['operator']) {
      case 'In':
        tests.push((l) => l.has(k) && values.includes(l.get(k)!));
        break;
      case 'NotIn':
        tests.push((l) => !l.has(k) || !values.includes(l.get(k)!));
        break;
      case 'Exists':
        tests.push((l) => l.has(k));
        break;
      case 'DoesNotExist':
        tests.push((l) => !l.has(k));
        break;
      default:
        podsOnly = false; // a misspelt operator is cilium/operator-case's finding, not this rule's
    }
  }
  const empty = !isObj(sel['matchLabels']) || Object.keys(sel['matchLabels']).length === 0 ? asArray(sel['matchExpressions']).length === 0 : false;
  return { podsOnly, empty, mentionsNamespace, matches: (l) => tests.every((t) => t(l)) };
}

/** Pods a selector selects; `namespace` scopes it (a namespaced policy) unless the selector names a namespace itself. */
export function selectPods(sel: Obj, inv: Inventory, namespace: string | undefined): Pod[] {
  const c = compileSelector(sel);
  return inv.pods.filter((p) => (namespace === undefined || c.mentionsNamespace || p.namespace === namespace) && c.matches(podIdentityLabels(p, inv)));
}
