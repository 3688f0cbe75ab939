// Reads an inventory from weir's Inventory documents, `kubectl get -A -o yaml` Lists and the
// application manifests a repository keeps beside its policies (pods come from workload
// templates, named `ns/name[Kind]` as np-guard does), so a CI dry run needs no live cluster.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { diagnostic, fileSpan, type Diagnostic, type Span } from '../diagnostics.js';
import { kindInfo } from '../load/kinds.js';
import { loadPolicies, type LoadOptions, type PolicyDocument } from '../load/index.js';
import { parseAddress } from '../model/cidr.js';
import { asArray as arr, isObj, type Obj } from '../model/value.js';
import { emptyInventory, podKey, type Inventory, type NamedPort, type Origin, type Pod } from './model.js';

export interface InventoryResult {
  inventory: Inventory;
  diagnostics: Diagnostic[];
}

const workloadKinds = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob', 'ReplicationController']);

const obj = (v: unknown): Obj => (isObj(v) ? v : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function labelsOf(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(obj(v))) if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') out[k] = String(x);
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
  return keys.length === 3 && keys[0] === 'name' && keys[1] === 'port' && keys[2] === 'protocol' && typeof x['name'] === 'string' && x['name'] !== '' && typeof x['port'] === 'number' && (x['protocol'] === 'TCP' || x['protocol'] === 'UDP' || x['protocol'] === 'SCTP');
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

/**
 * Builds the inventory from already-loaded documents (family `weir` Inventory and family
 * `workload`); other documents are ignored. Never throws for bad input: it reports diagnostics.
 */
export function loadInventory(documents: readonly PolicyDocument[]): InventoryResult {
  const inv = emptyInventory();
  const diagnostics: Diagnostic[] = [];
  const err = (rule: string, message: string, span: Span, commit?: string) =>
    diagnostics.push(diagnostic(`inventory/${rule}`, 'error', message, span, commit ? { commit } : {}));

  const addPod = (d: PolicyDocument, path: (string | number)[], p: Pod) => {
    inv.pods.push({ ...p, origin: originOf(d, path) });
  };

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
        inv.nodes.push({ name, labels: labelsOf(no['labels']), ips: arr(no['ips']).filter((x): x is string => typeof x === 'string'), origin: originOf(d, ['spec', 'nodes', i]) });
      });
      arr(spec['pods']).forEach((p, i) => {
        const po = obj(p);
        const name = str(po['name']);
        if (!name) return err('missing-name', 'pod entry has no name: add `name:`', d.locate(['spec', 'pods', i]));
        const ports: NamedPort[] = asIs(po['ports'], isNamedPort) ?? arr(po['ports']).flatMap((x) => {
          const xo = obj(x);
          const pn = str(xo['name']);
          const port = xo['port'] ?? xo['containerPort'];
          return pn && typeof port === 'number' ? [{ name: pn, port, protocol: (str(xo['protocol']) ?? 'TCP').toUpperCase() }] : [];
        });
        addPod(d, ['spec', 'pods', i], {
          namespace: str(po['namespace']) ?? 'default',
          name,
          labels: stringMap(po['labels']) ?? labelsOf(po['labels']),
          ips: asIs(po['ips'], (x): x is string => typeof x === 'string') ?? arr(po['ips']).filter((x): x is string => typeof x === 'string'),
          node: str(po['node']) ?? '',
          serviceAccount: str(po['serviceAccount']) ?? 'default',
          ports,
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
            return { ...(str(xo['name']) ? { name: str(xo['name'])! } : {}), port: Number(xo['port'] ?? 0), ...(xo['targetPort'] !== undefined ? { targetPort: xo['targetPort'] as number | string } : {}), protocol: (str(xo['protocol']) ?? 'TCP').toUpperCase() };
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
        inv.cidrGroups.push({ name, labels: labelsOf(go['labels']), cidrs: arr(go['cidrs']).filter((x): x is string => typeof x === 'string'), origin: originOf(d, ['spec', 'cidrGroups', i]) });
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
        const ips = arr(st['podIPs'])
          .map((x) => str(obj(x)['ip']))
          .filter((x): x is string => !!x);
        if (ips.length === 0 && str(st['podIP'])) ips.push(str(st['podIP'])!);
        // Host-network pods share the node's address and identity; they are not endpoints.
        if (spec['hostNetwork'] === true) break;
        addPod(d, [], {
          namespace: ns,
          name: d.name,
          labels: labelsOf(md['labels']),
          ips,
          node: str(spec['nodeName']) ?? '',
          serviceAccount: str(spec['serviceAccountName']) ?? str(spec['serviceAccount']) ?? 'default',
          ports: portsOfContainers(spec['containers']),
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
            return { ...(str(xo['name']) ? { name: str(xo['name'])! } : {}), port: Number(xo['port'] ?? 0), ...(xo['targetPort'] !== undefined ? { targetPort: xo['targetPort'] as number | string } : {}), protocol: (str(xo['protocol']) ?? 'TCP').toUpperCase() };
          }),
          clusterIPs: [...arr(spec['clusterIPs']), spec['clusterIP']].filter((x): x is string => typeof x === 'string' && x !== 'None'),
          backendIPs: [],
          origin: originOf(d, []),
        });
        break;
      }
      case 'CiliumCIDRGroup':
        inv.cidrGroups.push({ name: d.name, labels: labelsOf(md['labels']), cidrs: arr(spec['externalCIDRs']).filter((x): x is string => typeof x === 'string'), origin: originOf(d, []) });
        break;
      default:
        if (workloadKinds.has(d.kind)) {
          // A workload contributes one representative pod built from its template (np-guard's model).
          const tmpl = d.kind === 'CronJob' ? obj(obj(obj(spec['jobTemplate'])['spec'])['template']) : obj(spec['template']);
          const tpath = d.kind === 'CronJob' ? ['spec', 'jobTemplate', 'spec', 'template'] : ['spec', 'template'];
          const tmd = obj(tmpl['metadata']);
          const tspec = obj(tmpl['spec']);
          if (tspec['hostNetwork'] === true) break;
          addPod(d, tpath, {
            namespace: ns,
            name: `${d.name}[${d.kind}]`,
            labels: labelsOf(tmd['labels']),
            ips: [],
            node: str(tspec['nodeName']) ?? '',
            serviceAccount: str(tspec['serviceAccountName']) ?? 'default',
            ports: portsOfContainers(tspec['containers']),
          });
        }
    }
  }
  finish(inv, diagnostics);
  return { inventory: inv, diagnostics };
}

/** Fills implied objects (namespaces, a default node), sorts, and reports contradictions. */
function finish(inv: Inventory, diagnostics: Diagnostic[]): void {
  const at = (o: Origin | undefined): Span => (o ? { file: o.file, line: o.line, column: o.column, endLine: o.line, endColumn: o.column } : { file: '<inventory>', line: 1, column: 1, endLine: 1, endColumn: 1 });
  const defaultNode = inv.nodes.length === 1 ? inv.nodes[0]!.name : 'node-1';
  for (const p of inv.pods) if (!p.node) p.node = defaultNode;
  const nodeNames = new Set(inv.nodes.map((n) => n.name));
  for (const p of inv.pods)
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
  for (const p of inv.pods) if (!nsNames.has(p.namespace)) nsNames.set(p.namespace, undefined), inv.namespaces.push({ name: p.namespace, labels: {} });
  for (const n of inv.namespaces) n.labels['kubernetes.io/metadata.name'] = n.name;

  const seenPod = new Map<string, Pod>();
  for (const p of inv.pods) {
    const k = podKey(p);
    if (seenPod.has(k)) diagnostics.push(diagnostic('inventory/duplicate-pod', 'error', `pod ${k} is declared twice (first at ${fmt(seenPod.get(k)!.origin)}); remove one`, at(p.origin)));
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
    if (prev) diagnostics.push(diagnostic('inventory/duplicate-ip', 'error', `${ownerName(owner)} and ${ownerName(prev)} both have IP ${ip}; an address belongs to one endpoint, fix the inventory`, at(origin)));
    else ipOwner.set(ip, owner);
  };
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

/** A JSON inventory object as a document (JSON carries no positions: places point at line 1). */
function jsonDocument(file: string, value: Obj, docIndex: number, listIndex?: number): PolicyDocument | undefined {
  const kind = typeof value['kind'] === 'string' ? value['kind'] : '';
  const info = kindInfo(kind);
  if (!info) return undefined;
  const md = obj(value['metadata']);
  const span = { file, line: 1, column: 1, endLine: 1, endColumn: 1 };
  return {
    kind,
    apiVersion: str(value['apiVersion']) ?? '',
    family: info.family,
    name: str(md['name']) ?? '',
    ...(info.namespaced ? { namespace: str(md['namespace']) ?? 'default' } : {}),
    value,
    provenance: { file, line: 1, column: 1, docIndex, ...(listIndex === undefined ? {} : { listIndex }) },
    span,
    locate: () => span,
  };
}

/**
 * Loads inventory files or folders (weir Inventory, kubectl Lists, manifests) from disk or a
 * revision. Files ending in .json (\`kubectl get -A -o json\`) are parsed as JSON, which is much
 * faster than YAML for large clusters.
 */
export async function readInventory(paths: readonly string[], opts: LoadOptions = {}): Promise<InventoryResult> {
  const jsonPaths = paths.filter((p) => p.toLowerCase().endsWith('.json'));
  const yamlPaths = paths.filter((p) => !p.toLowerCase().endsWith('.json'));
  const documents: PolicyDocument[] = [];
  const diagnostics: Diagnostic[] = [];
  if (yamlPaths.length) {
    const loaded = await loadPolicies(yamlPaths, opts);
    documents.push(...loaded.documents);
    diagnostics.push(...loaded.diagnostics);
  }
  const root = opts.root ?? process.cwd();
  for (const p of jsonPaths) {
    const file = p.split(path.sep).join('/');
    let text: string;
    try {
      text = opts.rev ? await (await import('simple-git')).simpleGit(root).show([`${opts.rev}:${file}`]) : await readFile(path.resolve(root, file), 'utf8');
    } catch (e) {
      diagnostics.push(diagnostic('inventory/unreadable', 'error', `cannot read inventory ${file}${opts.rev ? ` at ${opts.rev}` : ''}: ${(e as Error).message.split('\n')[0]}`, fileSpan(file)));
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      diagnostics.push(diagnostic('inventory/bad-json', 'error', `${file} is not valid JSON: ${(e as Error).message}`, fileSpan(file)));
      continue;
    }
    const items = isObj(value) && Array.isArray(value['items']) && typeof value['kind'] === 'string' && value['kind'].endsWith('List') ? value['items'] : [value];
    items.forEach((it, i) => {
      const d = isObj(it) ? jsonDocument(file, it, 0, items.length > 1 || it !== value ? i : undefined) : undefined;
      if (d) documents.push(d);
    });
  }
  const r = loadInventory(documents);
  return { inventory: r.inventory, diagnostics: [...diagnostics, ...r.diagnostics] };
}
