// Label selectors (matchLabels + matchExpressions) as Cilium's EndpointSelector reads them:
// keys may carry a source prefix (`k8s:`, `any:`, `reserved:`), namespace scoping adds
// io.kubernetes.pod.namespace, and a selector matches an identity's labels, a pod's or a plain
// label map. The one implementation of selector matching: the compiler, lint and the plan use it.
import { isObj } from './value.js';

/** Labels Cilium derives for every pod's identity (pkg/k8s/apis/cilium.io). */
export const LABEL_NAMESPACE = 'io.kubernetes.pod.namespace';
export const LABEL_SERVICE_ACCOUNT = 'io.cilium.k8s.policy.serviceaccount';
export const LABEL_CLUSTER = 'io.cilium.k8s.policy.cluster';
/** Prefix of the namespace's labels as the pod's identity carries them. */
export const LABEL_NAMESPACE_LABELS = 'io.cilium.k8s.namespace.labels.';

export type Operator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface Requirement {
  /** `reserved` requirements match reserved identities; everything else matches k8s labels. */
  source: 'k8s' | 'reserved';
  key: string;
  operator: Operator;
  values: string[];
}

export interface Selector {
  requirements: Requirement[];
}

export interface SelectorProblem {
  /** Path below the selector where the problem is. */
  path: (string | number)[];
  message: string;
  /**
   * `source` and `operator` problems leave the selector not understood (a requirement on a label
   * source that selects no endpoint, an unknown operator); the others are invalid label syntax.
   */
  kind: 'shape' | 'source' | 'operator' | 'label';
}

/** The labels a selector is matched against: an identity's k8s labels and reserved names. */
export interface SelectableLabels {
  k8s: ReadonlyMap<string, string>;
  reserved: ReadonlySet<string>;
}

const nameRe = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const dnsSubdomainRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Validates a Kubernetes qualified label key (`prefix/name`), returning why not, or undefined. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const name = slash < 0 ? key : key.slice(slash + 1);
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !dnsSubdomainRe.test(prefix.toLowerCase())))
    return `label key "${key}" has an invalid prefix: it must be a DNS subdomain (lowercase letters, digits, '-', '.')`;
  if (name.length === 0 || name.length > 63 || !nameRe.test(name))
    return `label key "${key}" is invalid: the name part must be 1-63 characters of letters, digits, '-', '_', '.', starting and ending with a letter or digit`;
  return undefined;
}

export function labelValueProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (value.length > 63 || !nameRe.test(value))
    return `label value "${value}" is invalid: at most 63 characters of letters, digits, '-', '_', '.', starting and ending with a letter or digit`;
  return undefined;
}

function splitSource(raw: string): { source: 'k8s' | 'reserved'; key: string; problem?: string } {
  const m = /^(k8s|any|reserved|container|unspec|cidr|fqdn):(.*)$/.exec(raw);
  if (!m) return { source: 'k8s', key: raw };
  if (m[1] === 'reserved') return { source: 'reserved', key: m[2]! };
  if (m[1] === 'k8s' || m[1] === 'any') return { source: 'k8s', key: m[2]! };
  return { source: 'k8s', key: m[2]!, problem: `label source "${m[1]}:" cannot select endpoints here; use k8s:, any: or reserved:` };
}

/** Parses a selector value; problems name the path below the selector. Never throws. */
export function parseSelector(v: unknown): { selector: Selector; problems: SelectorProblem[] } {
  const problems: SelectorProblem[] = [];
  const requirements: Requirement[] = [];
  if (v === null || v === undefined) return { selector: { requirements }, problems };
  if (!isObj(v)) {
    problems.push({ path: [], message: 'a selector must be a mapping with matchLabels and/or matchExpressions', kind: 'shape' });
    return { selector: { requirements }, problems };
  }
  const ml = v['matchLabels'];
  if (ml !== undefined && ml !== null) {
    if (!isObj(ml))
      problems.push({ path: ['matchLabels'], message: 'matchLabels must be a mapping of label keys to values', kind: 'shape' });
    else
      for (const [rawKey, rawVal] of Object.entries(ml)) {
        const { source, key, problem } = splitSource(rawKey);
        const value = rawVal === null || rawVal === undefined ? '' : String(rawVal);
        if (problem) problems.push({ path: ['matchLabels', rawKey], message: problem, kind: 'source' });
        else if (source === 'k8s') {
          const kp = labelKeyProblem(key);
          const vp = labelValueProblem(value);
          if (kp) problems.push({ path: ['matchLabels', rawKey], message: kp, kind: 'label' });
          if (vp) problems.push({ path: ['matchLabels', rawKey], message: vp, kind: 'label' });
        }
        requirements.push(
          source === 'reserved' ? { source, key, operator: 'Exists', values: [] } : { source, key, operator: 'In', values: [value] },
        );
      }
  }
  const me = v['matchExpressions'];
  if (me !== undefined && me !== null) {
    if (!Array.isArray(me)) problems.push({ path: ['matchExpressions'], message: 'matchExpressions must be a list', kind: 'shape' });
    else
      me.forEach((e, i) => {
        const eo = isObj(e) ? e : {};
        const rawKey = typeof eo['key'] === 'string' ? eo['key'] : '';
        const op = eo['operator'];
        const values = Array.isArray(eo['values']) ? eo['values'].map(String) : [];
        const { source, key, problem } = splitSource(rawKey);
        if (!rawKey) return problems.push({ path: ['matchExpressions', i], message: 'a match expression needs a key', kind: 'shape' });
        if (problem) return problems.push({ path: ['matchExpressions', i, 'key'], message: problem, kind: 'source' });
        if (source === 'k8s') {
          const kp = labelKeyProblem(key);
          if (kp) problems.push({ path: ['matchExpressions', i, 'key'], message: kp, kind: 'label' });
        }
        if (op !== 'In' && op !== 'NotIn' && op !== 'Exists' && op !== 'DoesNotExist')
          return problems.push({
            path: ['matchExpressions', i, 'operator'],
            message: `operator ${JSON.stringify(op)} is not one of In, NotIn, Exists, DoesNotExist`,
            kind: 'operator',
          });
        if ((op === 'In' || op === 'NotIn') && values.length === 0)
          problems.push({ path: ['matchExpressions', i], message: `operator ${op} needs at least one value`, kind: 'label' });
        if ((op === 'Exists' || op === 'DoesNotExist') && values.length > 0)
          problems.push({ path: ['matchExpressions', i, 'values'], message: `operator ${op} takes no values`, kind: 'label' });
        for (const val of values) {
          const vp = labelValueProblem(val);
          if (vp) problems.push({ path: ['matchExpressions', i, 'values'], message: vp, kind: 'label' });
        }
        requirements.push({ source, key, operator: op, values });
      });
  }
  return { selector: { requirements }, problems };
}

export function mentionsKey(s: Selector, key: string): boolean {
  return s.requirements.some((r) => r.source === 'k8s' && r.key === key);
}

export function isReservedSelector(s: Selector): boolean {
  return s.requirements.some((r) => r.source === 'reserved');
}

/** Adds `io.kubernetes.pod.namespace=ns` unless the selector already scopes the namespace (a rule's subject, a NetworkPolicy's pod selector). */
export function scopeToNamespace(s: Selector, ns: string): Selector {
  if (mentionsKey(s, LABEL_NAMESPACE) || isReservedSelector(s)) return s;
  return { requirements: [...s.requirements, { source: 'k8s', key: LABEL_NAMESPACE, operator: 'In', values: [ns] }] };
}

/**
 * A CiliumNetworkPolicy's peer selector (fromEndpoints, toEndpoints) in the policy's namespace, as
 * Cilium scopes it: a selector naming the namespace, or the namespace's labels, selects across
 * namespaces (pkg/k8s/apis/cilium.io/utils getEndpointSelector).
 */
export function scopePeerToNamespace(s: Selector, ns: string): Selector {
  if (s.requirements.some((r) => r.source === 'k8s' && r.key.startsWith(LABEL_NAMESPACE_LABELS))) return s;
  return scopeToNamespace(s, ns);
}

export function matchesLabels(s: Selector, get: (r: Requirement) => string | undefined): boolean {
  for (const r of s.requirements) {
    const v = get(r);
    switch (r.operator) {
      case 'In':
        if (v === undefined || !r.values.includes(v)) return false;
        break;
      case 'NotIn':
        if (v !== undefined && r.values.includes(v)) return false;
        break;
      case 'Exists':
        if (v === undefined) return false;
        break;
      case 'DoesNotExist':
        if (v !== undefined) return false;
        break;
    }
  }
  return true;
}

export function matchesIdentity(s: Selector, id: SelectableLabels): boolean {
  return matchesLabels(s, (r) => (r.source === 'reserved' ? (id.reserved.has(r.key) ? '' : undefined) : id.k8s.get(r.key)));
}

/** Matches a plain label map (namespace labels, node labels, service selectors). */
export function matchesMap(s: Selector, labels: Readonly<Record<string, string>>): boolean {
  return matchesLabels(s, (r) => (r.source === 'reserved' || !Object.hasOwn(labels, r.key) ? undefined : labels[r.key]));
}
