// Reads an inventory from weir's Inventory documents, `kubectl get -A -o yaml` Lists and the
// application manifests a repository keeps beside its policies (pods come from workload
// templates, named `ns/name[Kind]` as np-guard does), so a CI dry run needs no live cluster.
import { diagnostic, type Diagnostic, type Span } from '../diagnostics.js';
import { loadPolicies, type LoadOptions, type PolicyDocument } from '../load/index.js';
import { parseAddress } from '../model/cidr.js';
import { asArray as arr, isObj, type Obj } from '../model/value.js';
import { emptyInventory, podKey, type Inventory, type NamedPort, type Origin, type Pod, type WorkloadRef } from './model.js';

export interface InventoryResult {
  inventory: Inventory;
  diagnostics: Diagnostic[];
}

const workloadKinds = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'ReplicationController']);

const obj = (v: unknown): Obj => (isObj(v) ? v : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function labelsOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(obj(v)))
    if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') out[k] = String(x);
  return out;
}

// A pod list of 10,000 entries is parsed into values that mostly have the model's shape already:
// those are taken as they are (nothing in the compiler writes to pod labels, addresses or ports),
// which spares the garbage collector a second copy of the inventory.

/** The array itself when every item passes `ok`. */
function asIs<T>(v: unknown, ok: (x: unknown) => x is T): T[] | undefined {
  return Array.isArray(v) && v.every(ok) ? (v as T[]) : undefined;
}

/** The object itself when it is a plain map of strings (what labelsOf would copy it to). */
function stringMap(v: unknown): Record<string, string> | undefined {
  if (!isObj(v) || Object.getPrototypeOf(v) !== Object.prototype) return undefined;
  for (const k in v) if (typeof v[k] !== 'string') return undefined;
  return v as Record<string, string>;
}

/** A port written exactly as NamedPort is: `{name, port, protocol}` in that order, protocol upper case. */
function isNamedPort(x: unknown): x is NamedPort {
  if (!isObj(x)) return false;
  const keys = Object.keys(x);
  return (
    keys.length === 3 &&
    keys[0] === 'name' &&
    keys[1] === 'port' &&
    keys[2] === 'protocol' &&
    typeof x['name'] === 'string' &&
    x['name'] !== '' &&
    typeof x['port'] === 'number' &&
    (x['protocol'] === 'TCP' || x['protocol'] === 'UDP' || x['protocol'] === 'SCTP')
  );
}

function portsOfContainers(containers: unknown): NamedPort[] {
  const out: NamedPort[] = [];
  for (const c of arr(containers))
    for (const p of arr(obj(c)['ports'])) {
      const po = obj(p);
      const name = str(po['name']);
      const port = po['containerPort'];
      if (name && typeof port === 'number') out.push({ name, port, protocol: (str(po['protocol']) ?? 'TCP').toUpperCase() });
    }
  return out;
}

/**
 * Where an inventory object was written. Line and column are computed when first read: locating
 * rebuilds the positions of the whole document (megabytes for a cluster dump), and only a
 * diagnostic ever reads them. Serializes as a plain { file, line, column }.
 */
class LazyOrigin implements Origin {
  readonly #doc: PolicyDocument;
  readonly #path: (string | number)[];
  #span: { line: number; column: number } | undefined;
  constructor(
    readonly file: string,
    doc: PolicyDocument,
    path: (string | number)[],
  ) {
    this.#doc = doc;
    this.#path = path;
  }
  private at(): { line: number; column: number } {
    return (this.#span ??= this.#doc.locate(this.#path));
  }
  get line(): number {
    return this.at().line;
  }
  get column(): number {
    return this.at().column;
  }
  toJSON(): Origin {
    return { file: this.file, line: this.line, column: this.column };
  }
}

function originOf(d: PolicyDocument, path: (string | number)[]): Origin {
  return new LazyOrigin(d.provenance.file, d, path);
}

/** `ns/Kind/name`: one controller of the input. */
const refKey = (ns: string, kind: string, name: string) => `${ns}/${kind}/${name}`;

/** The controller owner of an object as its `ownerReferences` write it (np-guard reads only `controller: true`). */
function controllerRef(md: Obj): WorkloadRef | undefined {
  for (const r of arr(md['ownerReferences'])) {
    const ro = obj(r);
    if (ro['controller'] !== true) continue;
    const name = str(ro['name']);
    if (!name) return undefined;
    // A static pod is owned by its Node: no workload (np-guard prints it as a bare Pod).
    const kind = str(ro['kind']) ?? '';
    return kind === 'Node' ? undefined : { kind: kind || 'Pod', name };
  }
  return undefined;
}

/** A workload document's pod template, and where it sits. */
function templateOf(d: PolicyDocument): { template: Obj; path: (string | number)[] } {
  const spec = obj(d.value['spec']);
  if (d.kind === 'CronJob')
    return { template: obj(obj(obj(spec['jobTemplate'])['spec'])['template']), path: ['spec', 'jobTemplate', 'spec', 'template'] };
  return { template: obj(spec['template']), path: ['spec', 'template'] };
}

/**
 * Builds the inventory from already-loaded documents (family `weir` Inventory and family
 * `workload`); other documents are ignored. Never throws for bad input: it reports diagnostics.
 *
 * Pods are named after their controller owner (`ownerReferences`), never after the shape of their
 * names; a workload manifest contributes one representative pod from its template unless live pods
 * of that workload are in the input (their labels and addresses are the real ones).
 */
export function loadInventory(documents: readonly PolicyDocument[]): InventoryResult {
  const inv = emptyInventory();
  const hostPods: Pod[] = [];
  const diagnostics: Diagnostic[] = [];
  const err = (rule: string, message: string, span: Span, commit?: string) =>
    diagnostics.push(diagnostic(`inventory/${rule}`, 'error', message, span, commit ? { commit } : {}));

  const addPod = (d: PolicyDocument, path: (string | number)[], p: Pod) => {
    (p.hostNetwork ? hostPods : inv.pods).push({ ...p, origin: originOf(d, path) });
  };

  // The controllers of the input and their own controller owners: a ReplicaSet names its
  // Deployment, a Job its CronJob, so a pod is named after the top one the input holds.
  const controllers = new Map<string, WorkloadRef | undefined>();
  for (const d of documents)
    if (workloadKinds.has(d.kind))
      controllers.set(
        refKey(d.namespace ?? str(obj(d.value['metadata'])['namespace']) ?? 'default', d.kind, d.name),
        controllerRef(obj(d.value['metadata'])),
      );
  const resolve = (ns: string, ref: WorkloadRef, labels: Record<string, string> = {}): WorkloadRef => {
    let cur = ref;
    for (let hops = 0; hops < 4; hops++) {
      const up = controllers.get(refKey(ns, cur.kind, cur.name));
      if (up && controllers.has(refKey(ns, up.kind, up.name))) {
        cur = up;
        continue;
      }
      // Without the ReplicaSet object, its name (`<deployment>-<pod-template-hash>`) ties it to a Deployment of the input.
      const hash = labels['pod-template-hash'];
      if (!up && cur.kind === 'ReplicaSet' && hash && cur.name.endsWith(`-${hash}`)) {
        const dep = cur.name.slice(0, -hash.length - 1);
        if (controllers.has(refKey(ns, 'Deployment', dep))) cur = { kind: 'Deployment', name: dep };
      }
      break;
    }
    return cur;
  };
  /** Workloads with live pods in the input: their templates add no representative pod. */
  const live = new Set<string>();
  const templates: { d: PolicyDocument; ns: string; owner: WorkloadRef }[] = [];

  for (const d of documents) {
    const v = d.value;
    const md = obj(v['metadata']);
    const spec = obj(v['spec']);
    const ns = d.namespace ?? str(md['namespace']) ?? 'default';
    if (d.kind === 'Inventory') {
      if (str(spec['cluster'])) inv.cluster = str(spec['cluster'])!;
      arr(spec['namespaces']).forEach((n, i) => {
        const no = obj(n);
        const name = str(no['name']);
        if (!name) return err('missing-name', 'namespace entry has no name: add `name:`', d.locate(['spec', 'namespaces', i]));
        inv.namespaces.push({ name, labels: labelsOf(no['labels']), origin: originOf(d, ['spec', 'namespaces', i]) });
      });
      arr(spec['nodes']).forEach((n, i) => {
        const no = obj(n);
        const name = str(no['name']);
        if (!name) return err('missing-name', 'node entry has no name: add `name:`', d.locate(['spec', 'nodes', i]));
        inv.nodes.push({
          name,
          labels: labelsOf(no['labels']),
          ips: arr(no['ips']).filter((x): x is string => typeof x === 'string'),
          origin: originOf(d, ['spec', 'nodes', i]),
        });
      });
      arr(spec['pods']).forEach((p, i) => {
        const po = obj(p);
        const name = str(po['name']);
        if (!name) return err('missing-name', 'pod entry has no name: add `name:`', d.locate(['spec', 'pods', i]));
        const ports: NamedPort[] =
          asIs(po['ports'], isNamedPort) ??
          arr(po['ports']).flatMap((x) => {
            const xo = obj(x);
            const pn = str(xo['name']);
            const port = xo['port'] ?? xo['containerPort'];
            return pn && typeof port === 'number' ? [{ name: pn, port, protocol: (str(xo['protocol']) ?? 'TCP').toUpperCase() }] : [];
          });
        const oo = obj(po['owner']);
        const owner = str(oo['name']) ? { kind: str(oo['kind']) ?? 'Pod', name: str(oo['name'])! } : undefined;
        addPod(d, ['spec', 'pods', i], {
          namespace: str(po['namespace']) ?? 'default',
          name,
          labels: stringMap(po['labels']) ?? labelsOf(po['labels']),
          ips:
            asIs(po['ips'], (x): x is string => typeof x === 'string') ?? arr(po['ips']).filter((x): x is string => typeof x === 'string'),
          node: str(po['node']) ?? '',
          serviceAccount: str(po['serviceAccount']) ?? 'default',
          ports,
          ...(owner ? { owner } : {}),
          ...(po['hostNetwork'] === true ? { hostNetwork: true } : {}),
        });
      });
      arr(spec['services']).forEach((s, i) => {
        const so = obj(s);
        const name = str(so['name']);
        if (!name) return err('missing-name', 'service entry has no name: add `name:`', d.locate(['spec', 'services', i]));
        inv.services.push({
          namespace: str(so['namespace']) ?? 'default',
          name,
          labels: labelsOf(so['labels']),
          ...(isObj(so['selector']) ? { selector: labelsOf(so['selector']) } : {}),
          ports: arr(so['ports']).map((x) => {
            const xo = obj(x);
            return {
              ...(str(xo['name']) ? { name: str(xo['name'])! } : {}),
              port: Number(xo['port'] ?? 0),
              ...(xo['targetPort'] !== undefined ? { targetPort: xo['targetPort'] as number | string } : {}),
              protocol: (str(xo['protocol']) ?? 'TCP').toUpperCase(),
            };
          }),
          clusterIPs: arr(so['clusterIPs']).filter((x): x is string => typeof x === 'string'),
          backendIPs: arr(so['backendIPs']).filter((x): x is string => typeof x === 'string'),
          origin: originOf(d, ['spec', 'services', i]),
        });
      });
      arr(spec['cidrGroups']).forEach((g, i) => {
        const go = obj(g);
        const name = str(go['name']);
        if (!name) return err('missing-name', 'cidrGroup entry has no name: add `name:`', d.locate(['spec', 'cidrGroups', i]));
        inv.cidrGroups.push({
          name,
          labels: labelsOf(go['labels']),
          cidrs: arr(go['cidrs']).filter((x): x is string => typeof x === 'string'),
          origin: originOf(d, ['spec', 'cidrGroups', i]),
        });
      });
      continue;
    }
    if (d.family !== 'workload') continue;
    switch (d.kind) {
      case 'Namespace':
        inv.namespaces.push({ name: d.name, labels: labelsOf(md['labels']), origin: originOf(d, []) });
        break;
      case 'Node': {
        const addrs = arr(obj(v['status'])['addresses'])
          .map((a) => obj(a))
          .filter((a) => a['type'] === 'InternalIP' || a['type'] === 'ExternalIP')
          .map((a) => str(a['address']))
          .filter((x): x is string => !!x);
        inv.nodes.push({ name: d.name, labels: labelsOf(md['labels']), ips: addrs, origin: originOf(d, []) });
        break;
      }
      case 'Pod': {
        const st = obj(v['status']);
        // A pending pod has no address yet: it is still a workload (its labels and ports count).
        const ips = arr(st['podIPs'])
          .map((x) => str(obj(x)['ip']))
          .filter((x): x is string => !!x);
        if (ips.length === 0 && str(st['podIP'])) ips.push(str(st['podIP'])!);
        // A finished pod (a completed Job's) has given its address back: another pod may hold it now.
        if (st['phase'] === 'Succeeded' || st['phase'] === 'Failed') ips.length = 0;
        const labels = labelsOf(md['labels']);
        const ref = controllerRef(md);
        const owner = ref ? resolve(ns, ref, labels) : undefined;
        if (owner) live.add(refKey(ns, owner.kind, owner.name));
        addPod(d, [], {
          namespace: ns,
          name: d.name,
          labels,
          ips,
          node: str(spec['nodeName']) ?? '',
          serviceAccount: str(spec['serviceAccountName']) ?? str(spec['serviceAccount']) ?? 'default',
          ports: portsOfContainers(spec['containers']),
          ...(owner ? { owner } : {}),
          ...(spec['hostNetwork'] === true ? { hostNetwork: true } : {}),
        });
        break;
      }
      case 'Service': {
        const sel = spec['selector'];
        inv.services.push({
          namespace: ns,
          name: d.name,
          labels: labelsOf(md['labels']),
          ...(isObj(sel) && Object.keys(sel).length > 0 ? { selector: labelsOf(sel) } : {}),
          ports: arr(spec['ports']).map((x) => {
            const xo = obj(x);
            return {
              ...(str(xo['name']) ? { name: str(xo['name'])! } : {}),
              port: Number(xo['port'] ?? 0),
              ...(xo['targetPort'] !== undefined ? { targetPort: xo['targetPort'] as number | string } : {}),
              protocol: (str(xo['protocol']) ?? 'TCP').toUpperCase(),
            };
          }),
          clusterIPs: [...arr(spec['clusterIPs']), spec['clusterIP']].filter((x): x is string => typeof x === 'string' && x !== 'None'),
          backendIPs: [],
          origin: originOf(d, []),
        });
        break;
      }
      case 'CiliumCIDRGroup':
        inv.cidrGroups.push({
          name: d.name,
          labels: labelsOf(md['labels']),
          cidrs: arr(spec['externalCIDRs']).filter((x): x is string => typeof x === 'string'),
          origin: originOf(d, []),
        });
        break;
      default:
        if (workloadKinds.has(d.kind)) templates.push({ d, ns, owner: resolve(ns, { kind: d.kind, name: d.name }) });
    }
  }
  // A workload contributes one representative pod built from its template (np-guard's model),
  // named `name[Kind]` after the workload it stands for; the top controller's own template first.
  templates.sort(
    (a, b) =>
      Number(b.d.kind === b.owner.kind && b.d.name === b.owner.name) - Number(a.d.kind === a.owner.kind && a.d.name === a.owner.name),
  );
  const represented = new Set<string>();
  for (const { d, ns, owner } of templates) {
    const key = refKey(ns, owner.kind, owner.name);
    if (live.has(key) || represented.has(key)) continue;
    represented.add(key);
    const { template, path: tpath } = templateOf(d);
    const tmd = obj(template['metadata']);
    const tspec = obj(template['spec']);
    addPod(d, tpath, {
      namespace: ns,
      name: `${owner.name}[${owner.kind}]`,
      labels: labelsOf(tmd['labels']),
      ips: [],
      node: str(tspec['nodeName']) ?? '',
      serviceAccount: str(tspec['serviceAccountName']) ?? 'default',
      ports: portsOfContainers(tspec['containers']),
      owner,
      ...(tspec['hostNetwork'] === true ? { hostNetwork: true } : {}),
    });
  }
  if (hostPods.length) inv.hostNetworkPods = hostPods;
  finish(inv, diagnostics);
  return { inventory: inv, diagnostics };
}

/** Fills implied objects (namespaces, a default node), sorts, and reports contradictions. */
function finish(inv: Inventory, diagnostics: Diagnostic[]): void {
  const at = (o: Origin | undefined): Span =>
    o
      ? { file: o.file, line: o.line, column: o.column, endLine: o.line, endColumn: o.column }
      : { file: '<inventory>', line: 1, column: 1, endLine: 1, endColumn: 1 };
  const defaultNode = inv.nodes.length === 1 ? inv.nodes[0]!.name : 'node-1';
  const hostPods = inv.hostNetworkPods ?? [];
  for (const p of inv.pods) if (!p.node) p.node = defaultNode;
  for (const p of hostPods) if (!p.node) p.node = defaultNode;
  const nodeNames = new Set(inv.nodes.map((n) => n.name));
  for (const p of [...inv.pods, ...hostPods])
    if (!nodeNames.has(p.node)) {
      nodeNames.add(p.node);
      inv.nodes.push({ name: p.node, labels: {}, ips: [] });
    }
  const nsNames = new Map<string, Origin | undefined>();
  const dupNs = new Set<string>();
  for (const n of inv.namespaces) {
    if (nsNames.has(n.name)) dupNs.add(n.name);
    nsNames.set(n.name, n.origin);
  }
  // Later declarations of one namespace merge their labels (an Inventory plus a manifest may both name it).
  if (dupNs.size) {
    const merged = new Map<string, Inventory['namespaces'][number]>();
    for (const n of inv.namespaces) {
      const m = merged.get(n.name);
      if (m) Object.assign(m.labels, n.labels);
      else merged.set(n.name, { ...n, labels: { ...n.labels } });
    }
    inv.namespaces = [...merged.values()];
  }
  for (const p of [...inv.pods, ...hostPods])
    if (!nsNames.has(p.namespace)) nsNames.set(p.namespace, undefined), inv.namespaces.push({ name: p.namespace, labels: {} });
  for (const n of inv.namespaces) n.labels['kubernetes.io/metadata.name'] = n.name;

  const seenPod = new Map<string, Pod>();
  const seenHostPod = new Map<string, Pod>();
  for (const p of hostPods) {
    const k = podKey(p);
    if (seenHostPod.has(k))
      diagnostics.push(
        diagnostic(
          'inventory/duplicate-pod',
          'error',
          `pod ${k} is declared twice (first at ${fmt(seenHostPod.get(k)!.origin)}); remove one`,
          at(p.origin),
        ),
      );
    else seenHostPod.set(k, p);
  }
  if (hostPods.length) inv.hostNetworkPods = [...seenHostPod.keys()].sort().map((k) => seenHostPod.get(k)!);
  for (const p of inv.pods) {
    const k = podKey(p);
    if (seenPod.has(k))
      diagnostics.push(
        diagnostic(
          'inventory/duplicate-pod',
          'error',
          `pod ${k} is declared twice (first at ${fmt(seenPod.get(k)!.origin)}); remove one`,
          at(p.origin),
        ),
      );
    else seenPod.set(k, p);
  }
  inv.pods = [...seenPod.values()];
  // Owners are named only when a finding needs it (10,000 pods, usually no finding).
  type Owner = Inventory['nodes'][number] | Pod;
  const ownerName = (o: Owner) => ('namespace' in o ? `pod ${podKey(o)}` : `node ${o.name}`);
  const ipOwner = new Map<string, Owner>();
  const claim = (ip: string, owner: Owner, origin: Origin | undefined) => {
    if (!parseAddress(ip)) {
      diagnostics.push(diagnostic('inventory/bad-ip', 'error', `${ownerName(owner)}: "${ip}" is not an IP address`, at(origin)));
      return;
    }
    const prev = ipOwner.get(ip);
    if (prev)
      diagnostics.push(
        diagnostic(
          'inventory/duplicate-ip',
          'error',
          `${ownerName(owner)} and ${ownerName(prev)} both have IP ${ip}; an address belongs to one endpoint, fix the inventory`,
          at(origin),
        ),
      );
    else ipOwner.set(ip, owner);
  };
  // Host-network pods use their node's addresses: they claim none of their own.
  for (const n of inv.nodes) for (const ip of n.ips) claim(ip, n, n.origin);
  for (const p of inv.pods) for (const ip of p.ips) claim(ip, p, p.origin);

  const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  // Sort keys are built once per object, not twice per comparison (10k pods: ~140k comparisons).
  const byNsName = <T extends { namespace: string; name: string }>(xs: T[]): T[] => {
    const keyed = xs.map((x) => ({ k: podKey(x), x }));
    keyed.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
    return keyed.map((e) => e.x);
  };
  inv.namespaces.sort(byName);
  inv.nodes.sort(byName);
  inv.cidrGroups.sort(byName);
  inv.services = byNsName(inv.services);
  // Pods sorted by the keys built above (namespace/name), not built again.
  inv.pods = [...seenPod.keys()].sort().map((k) => seenPod.get(k)!);
}

function fmt(o: Origin | undefined): string {
  return o ? `${o.file}:${o.line}:${o.column}` : 'an implied object';
}

/**
 * Loads inventory files or folders (weir Inventory, kubectl Lists and the API's typed lists in
 * YAML or JSON, manifests) from disk or a revision. Cluster dumps are large: the policy file
 * size limit does not apply to them.
 */
export async function readInventory(paths: readonly string[], opts: LoadOptions = {}): Promise<InventoryResult> {
  if (paths.length === 0) return loadInventory([]);
  const loaded = await loadPolicies(paths, { ...opts, limits: { maxFileBytes: 1 << 30, ...opts.limits } });
  const r = loadInventory(loaded.documents);
  return { inventory: r.inventory, diagnostics: [...loaded.diagnostics, ...r.diagnostics] };
}
