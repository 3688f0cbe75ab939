// Security identities as Cilium allocates them: one identity per distinct set of
// identity-relevant labels (pod labels through Cilium's default label filter, plus namespace,
// namespace labels, service account and cluster), reserved identities 1..10, global identities
// from 256, and CIDR / FQDN identities in the local scope (bit 24). Numbering is deterministic:
// global identities are assigned in the sorted order of their label sets, so the same inventory
// always yields the same numbers.
import type { Inventory, Pod } from '../inventory/model.js';
import { comparePrefix, formatPrefix, hostPrefix, parseAddress, parsePrefix, prefixContains, type Prefix } from '../model/cidr.js';
import { LABEL_CLUSTER, LABEL_NAMESPACE, LABEL_NAMESPACE_LABELS, LABEL_SERVICE_ACCOUNT } from '../model/selector.js';

export const ID_ANY = 0;
export const reservedIdentities = {
  host: 1,
  world: 2,
  unmanaged: 3,
  health: 4,
  init: 5,
  'remote-node': 6,
  'kube-apiserver': 7,
  ingress: 8,
  'world-ipv4': 9,
  'world-ipv6': 10,
} as const;
export type ReservedName = keyof typeof reservedIdentities;
export const ID_GLOBAL_MIN = 256;
export const ID_LOCAL_SCOPE = 1 << 24;

/** A label as Cilium keeps it: source (`k8s`, `reserved`, `cidr`, `fqdn`), key and value. */
export interface Label {
  source: string;
  key: string;
  value: string;
}

export type IdentityKind = 'reserved' | 'endpoint' | 'cidr' | 'fqdn';

export interface Identity {
  id: number;
  kind: IdentityKind;
  /** Sorted `source:key=value` strings, as `cilium identity list` prints them. */
  labels: string[];
  /** k8s labels by key, for selector matching. */
  k8s: Map<string, string>;
  /** Reserved label names this identity carries (`world` for CIDR identities). */
  reserved: Set<string>;
  namespace?: string;
  prefix?: Prefix;
  fqdnSelector?: string;
}

// Cilium's default identity label filter (pkg/labelsfilter): labels whose keys match these
// prefixes carry no identity; everything else does.
const excludedLabelPrefixes = [
  'io.kubernetes',
  'kubernetes.io',
  'statefulset.kubernetes.io/pod-name',
  'apps.kubernetes.io/pod-index',
  'batch.kubernetes.io/job-completion-index',
  'batch.kubernetes.io/controller-uid',
  'k8s.io',
  'pod-template-generation',
  'pod-template-hash',
  'controller-revision-hash',
  'annotation',
  'etcd_node',
  'controller-uid',
];
const excludedLabelPattern = /beta\.kubernetes\.io/;

/** Whether a pod label takes part in the identity (Cilium's default label filter). */
export function isIdentityLabel(key: string): boolean {
  let r = identityLabelMemo.get(key);
  if (r === undefined) {
    r = !excludedLabelPattern.test(key) && !excludedLabelPrefixes.some((p) => key.startsWith(p));
    // Label keys repeat across every pod; bounded so a long-running controller cannot grow it without limit.
    if (identityLabelMemo.size < 65536) identityLabelMemo.set(key, r);
  }
  return r;
}
const identityLabelMemo = new Map<string, boolean>();

export function endpointLabels(pod: Pod, nsLabels: Record<string, string>, cluster: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of Object.entries(pod.labels)) if (isIdentityLabel(k)) m.set(k, v);
  m.set(LABEL_NAMESPACE, pod.namespace);
  m.set(LABEL_SERVICE_ACCOUNT, pod.serviceAccount);
  m.set(LABEL_CLUSTER, cluster);
  for (const [k, v] of Object.entries(nsLabels)) m.set(LABEL_NAMESPACE_LABELS + k, v);
  return m;
}

function labelKey(m: Map<string, string>): string {
  return [...m.entries()]
    .map(([k, v]) => `k8s:${k}=${v}`)
    .sort()
    .join(';');
}

/**
 * A Kubernetes NetworkPolicy ipBlock: every address in `prefix` outside `except`. Unlike a Cilium
 * CIDR rule it covers pod addresses too, so identities are refined to lie wholly inside or outside it.
 */
export interface IpBlock {
  prefix: Prefix;
  except: readonly Prefix[];
}

/** One text per distinct block (`10.0.0.0/16 except 10.0.5.0/24,...`), as identity labels show it. */
export function ipBlockKey(b: IpBlock): string {
  const ex = b.except.map(formatPrefix).sort();
  return ex.length ? `${formatPrefix(b.prefix)} except ${[...new Set(ex)].join(',')}` : formatPrefix(b.prefix);
}

/** The block an ipBlockKey text names, or undefined for a text it does not write. */
export function ipBlockFromKey(text: string): IpBlock | undefined {
  const [cidr, except] = text.split(' except ');
  const prefix = cidr === undefined ? undefined : parsePrefix(cidr);
  const ex = except === undefined ? [] : except.split(',').map((x) => parsePrefix(x));
  if (!prefix || ex.some((x) => x === undefined)) return undefined;
  return { prefix, except: ex as Prefix[] };
}

/** Whether an address lies in the block (in its CIDR and in none of its exceptions). */
export function ipBlockContains(b: IpBlock, address: string): boolean {
  const a = parseAddress(address);
  return a !== undefined && blockHas(b, hostPrefix(a.family, a.addr));
}

/** Whether a pod with these addresses is inside the block: it has one identity, so all of them must be. */
export function ipBlockHoldsPod(b: IpBlock, addresses: readonly string[]): boolean {
  return addresses.length > 0 && addresses.every((a) => ipBlockContains(b, a));
}

const blockHas = (b: IpBlock, host: Prefix): boolean => prefixContains(b.prefix, host) && !b.except.some((x) => prefixContains(x, host));

export interface IdentityAllocation {
  identities: Identity[];
  byId: Map<number, Identity>;
  /** Pod key (`ns/name`) to identity number (built on first use). */
  podIdentity: Map<string, number>;
  /** Identity number of each pod of the inventory, in its order. */
  podIds: Int32Array;
  /** CIDR identity by formatted prefix. */
  cidrIdentity: Map<string, number>;
  /** FQDN selector identity by selector string (`matchName:x` / `matchPattern:y`). */
  fqdnIdentity: Map<string, number>;
  /** Endpoint identities wholly inside each ipBlock (by ipBlockKey), ascending. */
  ipBlockMembers: Map<string, number[]>;
}

function reservedIdentity(name: string, id: number): Identity {
  return { id, kind: 'reserved', labels: [`reserved:${name}`], k8s: new Map(), reserved: new Set([name]) };
}

/** Allocates all identities for an inventory plus the CIDR prefixes and FQDN selectors the policies use. */
export function allocateIdentities(
  inv: Inventory,
  prefixes: readonly Prefix[],
  fqdnSelectors: readonly string[],
  ipBlocks: readonly IpBlock[] = [],
): IdentityAllocation {
  const identities: Identity[] = Object.entries(reservedIdentities).map(([n, id]) => reservedIdentity(n, id));
  const nsLabels = new Map(inv.namespaces.map((n) => [n.name, n.labels]));
  const byLabels = new Map<string, { labels: Map<string, string>; pods: number[]; namespace: string }>();
  // Replicas repeat one label set: a pod whose labels, namespace and service account read the
  // same (in the same order) as an earlier pod's shares its entry without building and sorting
  // its labels again. Equal sets written in another order still meet at labelKey.
  const seen = new Map<string, { labels: Map<string, string>; pods: number[]; namespace: string }>();
  inv.pods.forEach((p, index) => {
    // JSON quotes every text, so no label text can make two different sets read alike.
    const raw = JSON.stringify([p.namespace, p.serviceAccount, p.labels]);
    let e = seen.get(raw);
    if (!e) {
      const l = endpointLabels(p, nsLabels.get(p.namespace) ?? {}, inv.cluster);
      const k = labelKey(l);
      e = byLabels.get(k);
      if (!e) byLabels.set(k, (e = { labels: l, pods: [], namespace: p.namespace }));
      seen.set(raw, e);
    }
    e.pods.push(index);
  });
  const podIds = new Int32Array(inv.pods.length);
  const blocks = [...new Map(ipBlocks.map((b) => [ipBlockKey(b), b])).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const ipBlockMembers = new Map<string, number[]>(blocks.map(([k]) => [k, []]));
  // Pods sharing labels but not ipBlock membership are split: each part carries the `ipblock:`
  // labels of the blocks it lies in. A label set whose pods all agree keeps its labels as they are.
  // A pod has one identity for all its addresses: it is inside a block only when every address is,
  // so a block never allows an address it leaves out (lint network/ipblock-splits-pod warns).
  const parts: { key: string; labels: Map<string, string>; pods: number[]; namespace: string; inside: string[] }[] = [];
  for (const [k, e] of byLabels) {
    if (blocks.length === 0) {
      parts.push({ key: k, labels: e.labels, pods: e.pods, namespace: e.namespace, inside: [] });
      continue;
    }
    const byMembership = new Map<string, { pods: number[]; inside: string[] }>();
    for (const i of e.pods) {
      const hosts = inv.pods[i]!.ips.flatMap((ip) => {
        const a = parseAddress(ip);
        return a ? [hostPrefix(a.family, a.addr)] : [];
      });
      const inside = blocks.filter(([, b]) => hosts.length > 0 && hosts.every((h) => blockHas(b, h))).map(([bk]) => bk);
      const m = inside.join('\n');
      const g = byMembership.get(m);
      if (g) g.pods.push(i);
      else byMembership.set(m, { pods: [i], inside });
    }
    for (const g of byMembership.values()) {
      const key = byMembership.size === 1 ? k : [...k.split(';'), ...g.inside.map((b) => `ipblock:${b}`)].sort().join(';');
      parts.push({ key, labels: e.labels, pods: g.pods, namespace: e.namespace, inside: g.inside });
    }
  }
  let next = ID_GLOBAL_MIN;
  for (const e of parts.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    const id = next++;
    identities.push({ id, kind: 'endpoint', labels: e.key.split(';'), k8s: e.labels, reserved: new Set(), namespace: e.namespace });
    for (const i of e.pods) podIds[i] = id;
    for (const b of e.inside) ipBlockMembers.get(b)!.push(id);
  }
  const cidrIdentity = new Map<string, number>();
  let local = ID_LOCAL_SCOPE + 1;
  const uniq = new Map<string, Prefix>();
  for (const p of prefixes) uniq.set(formatPrefix(p), p);
  for (const p of [...uniq.values()].sort(comparePrefix)) {
    const s = formatPrefix(p);
    const id = local++;
    cidrIdentity.set(s, id);
    identities.push({
      id,
      kind: 'cidr',
      labels: [`cidr:${s}`, 'reserved:world'],
      k8s: new Map(),
      reserved: new Set(['world', p.family === 4 ? 'world-ipv4' : 'world-ipv6']),
      prefix: p,
    });
  }
  const fqdnIdentity = new Map<string, number>();
  for (const s of [...new Set(fqdnSelectors)].sort()) {
    const id = local++;
    fqdnIdentity.set(s, id);
    identities.push({
      id,
      kind: 'fqdn',
      labels: [`fqdn:${s}`, 'reserved:world'],
      k8s: new Map(),
      reserved: new Set(['world']),
      fqdnSelector: s,
    });
  }
  let podIdentity: Map<string, number> | undefined;
  const allocation = {
    identities,
    byId: new Map(identities.map((i) => [i.id, i])),
    podIds,
    cidrIdentity,
    fqdnIdentity,
    ipBlockMembers,
  } as IdentityAllocation;
  Object.defineProperty(allocation, 'podIdentity', {
    enumerable: true,
    get: () => (podIdentity ??= new Map(inv.pods.map((p, i) => [`${p.namespace}/${p.name}`, podIds[i]!]))),
  });
  return allocation;
}
