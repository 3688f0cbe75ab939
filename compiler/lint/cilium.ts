// Walks the parts of Cilium and Kubernetes network policies that rules look at, with their paths.
import type { NodePath, PolicyDocument } from '../load/index.js';
import { asArray, isObj, type Obj } from '../model/value.js';

/** The api.Rule values of a CiliumNetworkPolicy / Clusterwide: `spec` and each of `specs`. */
export function ciliumRules(doc: PolicyDocument): { rule: Obj; path: NodePath }[] {
  const out: { rule: Obj; path: NodePath }[] = [];
  const v = doc.value;
  if (isObj(v['spec'])) out.push({ rule: v['spec'], path: ['spec'] });
  asArray(v['specs']).forEach((r, i) => {
    if (isObj(r)) out.push({ rule: r, path: ['specs', i] });
  });
  return out;
}

export type Direction = 'ingress' | 'ingressDeny' | 'egress' | 'egressDeny';
export const directions: readonly Direction[] = ['ingress', 'ingressDeny', 'egress', 'egressDeny'];

/** Every ingress/egress (deny) section of every rule of a Cilium policy. */
export function ciliumSections(doc: PolicyDocument): { dir: Direction; section: Obj; path: NodePath; rulePath: NodePath }[] {
  const out: { dir: Direction; section: Obj; path: NodePath; rulePath: NodePath }[] = [];
  for (const { rule, path } of ciliumRules(doc))
    for (const dir of directions)
      asArray(rule[dir]).forEach((s, i) => {
        if (isObj(s)) out.push({ dir, section: s, path: [...path, dir, i], rulePath: path });
      });
  return out;
}

/** Peer selector fields of a section, by direction. */
export const peerSelectorFields = ['fromEndpoints', 'toEndpoints', 'fromRequires', 'toRequires', 'fromNodes', 'toNodes'] as const;

/** Every label selector in a Cilium policy (subject and peers), with its path. */
export function ciliumSelectors(
  doc: PolicyDocument,
): { selector: Obj; path: NodePath; role: 'subject' | 'node' | 'peer'; field?: string }[] {
  const out: { selector: Obj; path: NodePath; role: 'subject' | 'node' | 'peer'; field?: string }[] = [];
  for (const { rule, path } of ciliumRules(doc)) {
    if (isObj(rule['endpointSelector']))
      out.push({ selector: rule['endpointSelector'], path: [...path, 'endpointSelector'], role: 'subject' });
    if (isObj(rule['nodeSelector'])) out.push({ selector: rule['nodeSelector'], path: [...path, 'nodeSelector'], role: 'node' });
  }
  for (const { section, path } of ciliumSections(doc))
    for (const f of peerSelectorFields)
      asArray(section[f]).forEach((s, i) => {
        if (isObj(s)) out.push({ selector: s, path: [...path, f, i], role: 'peer', field: f });
      });
  return out;
}

/** Every label key of a selector (matchLabels keys and matchExpressions keys) with the path to point at. */
export function selectorKeys(sel: Obj, path: NodePath): { key: string; path: NodePath; isMapKey: boolean }[] {
  const out: { key: string; path: NodePath; isMapKey: boolean }[] = [];
  if (isObj(sel['matchLabels']))
    for (const k of Object.keys(sel['matchLabels'])) out.push({ key: k, path: [...path, 'matchLabels', k], isMapKey: true });
  asArray(sel['matchExpressions']).forEach((e, i) => {
    if (isObj(e) && typeof e['key'] === 'string')
      out.push({ key: e['key'], path: [...path, 'matchExpressions', i, 'key'], isMapKey: false });
  });
  return out;
}

/** Each toPorts entry of each section, with its ports and L7 rules. */
export function portRules(doc: PolicyDocument): { portRule: Obj; path: NodePath; dir: Direction }[] {
  const out: { portRule: Obj; path: NodePath; dir: Direction }[] = [];
  for (const { dir, section, path } of ciliumSections(doc))
    asArray(section['toPorts']).forEach((p, i) => {
      if (isObj(p)) out.push({ portRule: p, path: [...path, 'toPorts', i], dir });
    });
  return out;
}

export const ciliumKinds = ['CiliumNetworkPolicy', 'CiliumClusterwideNetworkPolicy'] as const;
export const tracingKinds = ['TracingPolicy', 'TracingPolicyNamespaced'] as const;

/** Every hook (kprobe, tracepoint, uprobe, lsmhook, usdt) of a TracingPolicy, with its path. */
export function tracingHooks(doc: PolicyDocument): { hook: Obj; path: NodePath; type: string }[] {
  const out: { hook: Obj; path: NodePath; type: string }[] = [];
  const spec = doc.value['spec'];
  if (!isObj(spec)) return out;
  for (const type of ['kprobes', 'tracepoints', 'uprobes', 'lsmhooks', 'usdts'])
    asArray(spec[type]).forEach((h, i) => {
      if (isObj(h)) out.push({ hook: h, path: ['spec', type, i], type });
    });
  return out;
}

/** A short name for a hook in messages: its call, event or hook name. */
export function hookName(h: Obj): string {
  for (const k of ['call', 'event', 'hook', 'name', 'path']) if (typeof h[k] === 'string') return h[k];
  return 'hook';
}
