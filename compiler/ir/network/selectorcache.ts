// The selector cache, as Cilium's: each distinct label selector resolved once to the identities it
// selects, and a subject selector to the endpoints (pods) it applies to; FQDN selectors become
// the regular expressions the DNS proxy matches. Per-pod tables index the inventory by identity.
import type { Identity, IdentityAllocation } from '../../identity/allocate.js';
import type { Inventory, Pod } from '../../inventory/model.js';
import { LABEL_NAMESPACE, matchesIdentity, type Selector } from '../../model/selector.js';

export interface PodTables {
  endpointIds: Identity[];
  cidrIds: Identity[];
  reservedPool: Identity[];
  /** `ns/name` per pod, in inventory order; pods are handled by index from here on. */
  podKeys: string[];
  podIndex: Map<string, number>;
  podIds: Int32Array;
  podsByIdentity: Map<number, Pod[]>;
  podIdxByIdentity: Map<number, number[]>;
  /** Endpoint identities by namespace: a namespace-scoped selector (every CNP selector) looks at its own. */
  idsByNamespace: Map<string, Identity[]>;
  /** Container port names any pod declares. */
  portNames: Set<string>;
}

/** The selector cache's memo of one identity allocation (kept in the compile cache while it stays). */
export interface Selections {
  alloc: IdentityAllocation;
  sel: Map<string, number[]>;
  subj: Map<Selector, string[]>;
  idx: WeakMap<readonly string[], number[]>;
}

export function podTables(inv: Inventory, alloc: IdentityAllocation): PodTables {
  const podKeys = inv.pods.map((p) => `${p.namespace}/${p.name}`);
  const podIndex = new Map<string, number>();
  podKeys.forEach((k, i) => podIndex.set(k, i));
  const podIds = alloc.podIds;
  const podsByIdentity = new Map<number, Pod[]>();
  const podIdxByIdentity = new Map<number, number[]>();
  const portNames = new Set<string>();
  inv.pods.forEach((p, i) => {
    const id = podIds[i]!;
    const l = podsByIdentity.get(id);
    if (l) l.push(p), podIdxByIdentity.get(id)!.push(i);
    else podsByIdentity.set(id, [p]), podIdxByIdentity.set(id, [i]);
    for (const np of p.ports) portNames.add(np.name);
  });
  const endpointIds = alloc.identities.filter((i) => i.kind === 'endpoint');
  const idsByNamespace = new Map<string, Identity[]>();
  for (const i of endpointIds) {
    const l = idsByNamespace.get(i.namespace ?? '');
    if (l) l.push(i);
    else idsByNamespace.set(i.namespace ?? '', [i]);
  }
  return {
    endpointIds,
    cidrIds: alloc.identities.filter((i) => i.kind === 'cidr'),
    reservedPool: alloc.identities.filter((i) => i.kind === 'reserved'),
    podKeys,
    podIndex,
    podIds,
    podsByIdentity,
    podIdxByIdentity,
    idsByNamespace,
    portNames,
  };
}

export class SelectorCache {
  private readonly sel: Map<string, number[]>;
  /** Pod indices of a subject list (same inventory order while the allocation, hence the inventory, stays). */
  private readonly subjIdx: WeakMap<readonly string[], number[]>;
  private readonly subj: Map<Selector, string[]>;
  /**
   * Cluster-wide selectors (CCNP subjects, namespaceSelector peers) narrow their pool through an
   * index of endpoint identities by one `key In (values)` requirement, built on first use.
   */
  private labelIndex: Map<string, Map<string, Identity[]>> | undefined;

  constructor(
    private readonly tables: PodTables,
    memo: Selections,
  ) {
    this.sel = memo.sel;
    this.subjIdx = memo.idx;
    this.subj = memo.subj;
  }

  /** endpointIds is in ascending id order, so the narrowed pool, sorted by id, keeps the order the filter gives. */
  private labelPool(s: Selector): Identity[] | undefined {
    const q = s.requirements.find((x) => x.source === 'k8s' && x.operator === 'In');
    if (!q) return undefined;
    if (!this.labelIndex) {
      const index = new Map<string, Map<string, Identity[]>>();
      for (const i of this.tables.endpointIds)
        for (const [k, v] of i.k8s) {
          let byValue = index.get(k);
          if (!byValue) index.set(k, (byValue = new Map()));
          const l = byValue.get(v);
          if (l) l.push(i);
          else byValue.set(v, [i]);
        }
      this.labelIndex = index;
    }
    const byValue = this.labelIndex.get(q.key);
    const values = [...new Set(q.values)];
    const pool = values.flatMap((v) => byValue?.get(v) ?? []);
    return values.length > 1 ? pool.sort((a, b) => a.id - b.id) : pool;
  }

  /** The identities a selector selects, ascending. */
  identities(s: Selector): number[] {
    const k = JSON.stringify(s.requirements);
    let r = this.sel.get(k);
    if (!r) {
      const reserved = s.requirements.some((q) => q.source === 'reserved');
      const nsReq = s.requirements.find((q) => q.source === 'k8s' && q.key === LABEL_NAMESPACE && q.operator === 'In');
      const { reservedPool, idsByNamespace, endpointIds } = this.tables;
      const pool: Identity[] = reserved
        ? reservedPool
        : nsReq
          ? nsReq.values.flatMap((ns) => idsByNamespace.get(ns) ?? [])
          : (this.labelPool(s) ?? endpointIds);
      r = pool.filter((i) => matchesIdentity(s, i)).map((i) => i.id);
      if (nsReq && nsReq.values.length > 1) r.sort((a, b) => a - b);
      this.sel.set(k, r);
    }
    return r;
  }

  /** The endpoints (`ns/pod`) a subject selector applies to; one list object per selector, shared by its rules. */
  subjects(s: Selector): string[] {
    let r = this.subj.get(s);
    if (!r) {
      const idx = this.identities(s).flatMap((id) => this.tables.podIdxByIdentity.get(id) ?? []);
      r = idx.map((i) => this.tables.podKeys[i]!);
      this.subjIdx.set(r, idx);
      this.subj.set(s, r);
    }
    return r;
  }

  /** Pod indices of a subject list; each distinct list is looked up once. */
  indices(subjects: readonly string[]): number[] {
    let r = this.subjIdx.get(subjects);
    if (!r) this.subjIdx.set(subjects, (r = subjects.map((k) => this.tables.podIndex.get(k)!)));
    return r;
  }
}

/** Anchored regex for an FQDN selector, with Cilium's wildcard rules (`*` within a label, a lone `*` matches all). */
export function fqdnRegex(selector: string): string {
  const [kind, raw] = [selector.slice(0, selector.indexOf(':')), selector.slice(selector.indexOf(':') + 1)];
  const name = raw.toLowerCase().replace(/\.$/, '');
  if (kind === 'matchName') return `^${name.replace(/\./g, '\\.')}$`;
  if (name === '*') return '^.*$';
  let body = name;
  let lead = '';
  if (body.startsWith('**.')) {
    lead = '(?:[-a-z0-9_]+\\.)+';
    body = body.slice(3);
  }
  return `^${lead}${body
    .split('.')
    .map((l) =>
      l
        .replace(/[-_]/g, (c) => c)
        .split('*')
        .map((s) => s.replace(/[.]/g, '\\.'))
        .join('[-a-z0-9_]*'),
    )
    .join('\\.')}$`;
}
