// Pod scoping for the runtime datapath: a TracingPolicyNamespaced or a TracingPolicy with a podSelector
// matches only processes in the cgroups of the pods it selects. The agent learns its node's pods (pod
// UID, labels, container IDs) from the Kubernetes API or a PodList file, finds their cgroups in the
// cgroup v2 tree as the kubelet lays them out (systemd and cgroupfs drivers), and keeps each policy's
// scope set equal to those cgroup ids: filled into a new bundle before its swap, then followed by
// polling the tree as containers start and stop.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { matchesMap, parseSelector } from '../../compiler/model/selector.js';
import type { ScopeTableEntry } from '../../compiler/lower/runtime/hooks.js';

export type { ScopeTableEntry } from '../../compiler/lower/runtime/hooks.js';

export interface PodInfo {
  namespace: string;
  name: string;
  /** metadata.uid: the kubelet names the pod's cgroup after it. */
  uid: string;
  labels: Record<string, string>;
  /** Container IDs without the runtime prefix (`containerd://` etc.). */
  containerIds: string[];
  node?: string;
}

/** Where the agent's pod list comes from (re-read on every poll). */
export type PodSource = () => Promise<PodInfo[]>;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** Pods of a PodList (`kubectl get pods -o json`), a List, or an array of Pod objects; `where` names the source in errors. */
export function podsFromList(doc: unknown, where: string): PodInfo[] {
  const items = Array.isArray(doc) ? doc : isObj(doc) && Array.isArray(doc['items']) ? doc['items'] : undefined;
  if (!items) throw new Error(`${where}: expected a PodList (an object with items) or an array of Pods`);
  const out: PodInfo[] = [];
  items.forEach((p, i) => {
    if (!isObj(p) || (p['kind'] !== undefined && p['kind'] !== 'Pod')) return;
    const md = isObj(p['metadata']) ? p['metadata'] : {};
    const name = str(md['name']);
    const uid = str(md['uid']);
    if (!name || !uid) throw new Error(`${where}: item ${i} needs metadata.name and metadata.uid`);
    const labels: Record<string, string> = {};
    if (isObj(md['labels'])) for (const [k, v] of Object.entries(md['labels'])) if (typeof v === 'string') labels[k] = v;
    const st = isObj(p['status']) ? p['status'] : {};
    const containerIds: string[] = [];
    for (const key of ['containerStatuses', 'initContainerStatuses', 'ephemeralContainerStatuses']) {
      const list = st[key];
      if (!Array.isArray(list)) continue;
      for (const c of list) {
        const id = isObj(c) ? str(c['containerID']) : undefined;
        if (id) containerIds.push(id.replace(/^[a-z-]+:\/\//, ''));
      }
    }
    const spec = isObj(p['spec']) ? p['spec'] : {};
    const node = str(spec['nodeName']);
    out.push({ namespace: str(md['namespace']) ?? 'default', name, uid, labels, containerIds, ...(node ? { node } : {}) });
  });
  return out;
}

/** The cgroup v2 mount point: /sys/fs/cgroup on a unified host, /sys/fs/cgroup/unified on a hybrid one. */
export function cgroup2Root(mountinfo = readMountinfo()): string | undefined {
  for (const line of mountinfo.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!pre || !post || post.split(' ')[0] !== 'cgroup2') continue;
    const f = pre.split(' ');
    if (f[3] === '/') return f[4];
  }
  return undefined;
}

function readMountinfo(): string {
  try {
    return readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return '';
  }
}

// The kubelet's pod cgroup: `pod<uid>` (cgroupfs driver) or `kubepods[-<qos>]-pod<uid with _>.slice` (systemd driver).
const podDir = /^(?:kubepods(?:-[a-z]+)?-)?pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?$/;
// A container's cgroup: `<runtime>-<id>.scope` (systemd driver) or the bare 64-hex id (cgroupfs driver).
const containerDir = /^(?:(?:cri-containerd|crio|docker|libpod)-)?([0-9a-f]{64})(?:\.scope)?$/;

export interface CgroupIndex {
  /** Pod UID → the cgroup ids of its pod cgroup and everything below it. */
  pods: Map<string, bigint[]>;
  /** Container ID → its cgroup id and everything below it. */
  containers: Map<string, bigint[]>;
}

/** Walks the cgroup v2 tree under `root` for the kubelet's pod and container cgroups. */
export function scanCgroups(root: string, maxDepth = 8): CgroupIndex {
  const pods = new Map<string, bigint[]>();
  const containers = new Map<string, bigint[]>();
  const walk = (dir: string, depth: number, into: bigint[][]): void => {
    let names: string[];
    try {
      names = readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return; // removed while walking
    }
    for (const n of names) {
      const p = path.join(dir, n);
      let id: bigint;
      try {
        id = statSync(p, { bigint: true }).ino; // a cgroup v2 directory's inode number is its cgroup id
      } catch {
        continue;
      }
      const sinks = [...into];
      const pm = podDir.exec(n);
      if (pm) {
        const uid = pm[1]!.replace(/_/g, '-');
        const list = pods.get(uid) ?? [];
        pods.set(uid, list);
        sinks.push(list);
      }
      const cm = containerDir.exec(n);
      if (cm) {
        const list = containers.get(cm[1]!) ?? [];
        containers.set(cm[1]!, list);
        sinks.push(list);
      }
      for (const s of sinks) s.push(id);
      if (depth < maxDepth) walk(p, depth + 1, sinks);
    }
  };
  walk(root, 1, []);
  return { pods, containers };
}

export interface ScopeStatus {
  policy: string;
  scopeSet: number;
  /** `namespace/name` of the node's pods the policy selects. */
  pods: string[];
  /** Cgroup ids in the policy's scope now. */
  cgroups: number;
  /** Selected pods none of whose cgroups were found (not started yet, or another cgroup layout). */
  unresolved: string[];
  /** resolved: every selected pod has cgroups; unresolved: some do not; no-pods: it selects no pod of this node. */
  state: 'resolved' | 'unresolved' | 'no-pods' | 'no-pod-source';
}

/** The pods of `pods` a scope selects: its namespace (if namespaced), then its podSelector. */
export function selectedPods(scope: ScopeTableEntry, pods: readonly PodInfo[]): PodInfo[] {
  const sel = scope.podSelector === undefined ? undefined : parseSelector(scope.podSelector).selector;
  return pods.filter(
    (p) => (scope.namespace === undefined || p.namespace === scope.namespace) && (sel === undefined || matchesMap(sel, p.labels)),
  );
}

export interface PodScoperOptions {
  /** Absent: no pod source was configured, and every pod-scoped policy is reported as such. */
  pods?: PodSource;
  /** The cgroup v2 directory to search (default: the cgroup2 mount). */
  cgroupRoot?: string;
  /** How often pods and cgroups are re-read (default 250 ms: a new container is in scope within a second). */
  intervalMs?: number;
  /** Puts cgroup ids into (or out of) a scope set of the generation in service. */
  setScope: (scopeSet: number, ids: readonly bigint[], present: boolean) => void;
  onError?: (err: Error) => void;
}

export class PodScoper {
  #scopes: ScopeTableEntry[] = [];
  /** What the generation in service holds, per scope set. */
  #current = new Map<number, Set<bigint>>();
  #status: ScopeStatus[] = [];
  #pods: PodInfo[] = [];
  /** Cgroup id → the pod whose pod or container cgroup it is (every pod of the node, as of the last scan). */
  #byCgroup = new Map<bigint, { namespace: string; name: string }>();
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  readonly root: string | undefined;

  constructor(private readonly opts: PodScoperOptions) {
    this.root = opts.cgroupRoot ?? cgroup2Root();
  }

  /** Re-reads the pod list (the cgroup tree is read synchronously by resolve). */
  async refreshPods(): Promise<void> {
    if (this.opts.pods) this.#pods = await this.opts.pods();
  }

  /**
   * The cgroup ids of every scope set of a bundle, from the pods and cgroups as they are now; the
   * datapath writes them into the new generation before its swap, then calls commit().
   */
  resolve(scopes: readonly ScopeTableEntry[]): { sets: Map<number, bigint[]>; status: ScopeStatus[] } {
    const index = this.root ? scanCgroups(this.root) : { pods: new Map<string, bigint[]>(), containers: new Map<string, bigint[]>() };
    const byCgroup = new Map<bigint, { namespace: string; name: string }>();
    for (const p of this.#pods) {
      const pod = { namespace: p.namespace, name: p.name };
      for (const id of index.pods.get(p.uid) ?? []) byCgroup.set(id, pod);
      for (const c of p.containerIds) for (const id of index.containers.get(c) ?? []) byCgroup.set(id, pod);
    }
    this.#byCgroup = byCgroup;
    const sets = new Map<number, bigint[]>();
    const status: ScopeStatus[] = [];
    for (const s of scopes) {
      const ids = new Set<bigint>();
      const unresolved: string[] = [];
      const pods = selectedPods(s, this.#pods);
      for (const p of pods) {
        const found = [...(index.pods.get(p.uid) ?? []), ...p.containerIds.flatMap((c) => index.containers.get(c) ?? [])];
        if (found.length === 0) unresolved.push(`${p.namespace}/${p.name}`);
        for (const id of found) ids.add(id);
      }
      sets.set(
        s.scopeSet,
        [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
      );
      status.push({
        policy: s.policy,
        scopeSet: s.scopeSet,
        pods: pods.map((p) => `${p.namespace}/${p.name}`),
        cgroups: ids.size,
        unresolved,
        state: !this.opts.pods ? 'no-pod-source' : pods.length === 0 ? 'no-pods' : unresolved.length > 0 ? 'unresolved' : 'resolved',
      });
    }
    return { sets, status };
  }

  /** Records what the swapped-in generation holds (from resolve) as the base of later updates. */
  commit(scopes: readonly ScopeTableEntry[], resolved: { sets: Map<number, bigint[]>; status: ScopeStatus[] }): void {
    this.#scopes = [...scopes];
    this.#current = new Map([...resolved.sets].map(([k, v]) => [k, new Set(v)]));
    this.#status = resolved.status;
  }

  /** One poll: re-resolve against the pods and cgroups now and apply the difference to the generation in service. */
  async tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      await this.refreshPods();
      const r = this.resolve(this.#scopes);
      for (const [set, ids] of r.sets) {
        const have = this.#current.get(set) ?? new Set<bigint>();
        const want = new Set(ids);
        const add = ids.filter((id) => !have.has(id));
        const remove = [...have].filter((id) => !want.has(id));
        if (add.length) this.opts.setScope(set, add, true);
        if (remove.length) this.opts.setScope(set, remove, false);
        this.#current.set(set, want);
      }
      this.#status = r.status;
    } catch (err) {
      this.opts.onError?.(err as Error);
    } finally {
      this.#busy = false;
    }
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.tick(), this.opts.intervalMs ?? 250);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * The pod a process runs in: by the cgroup id its event carries (also after the process is gone),
   * else by the kubelet's pod cgroup in /proc/PID/cgroup, matched to the pod list by UID.
   */
  podOf(pid: number, cgroupId?: bigint): { namespace: string; name: string } | undefined {
    const byId = cgroupId !== undefined ? this.#byCgroup.get(cgroupId) : undefined;
    if (byId) return byId;
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    } catch {
      return undefined;
    }
    for (const part of text.split(/[\n/]/)) {
      const m = podDir.exec(part);
      if (!m) continue;
      const uid = m[1]!.replace(/_/g, '-');
      const p = this.#pods.find((x) => x.uid === uid);
      if (p) return { namespace: p.namespace, name: p.name };
    }
    return undefined;
  }

  /** Per pod-scoped policy of the bundle in force: the pods it selects and whether their cgroups are in its scope. */
  status(): ScopeStatus[] {
    return this.#status;
  }
}

/** Pods from a PodList file (JSON or YAML), re-read on every call. */
export function podsFromFile(file: string): PodSource {
  return async () => {
    const { parse } = await import('yaml');
    return podsFromList(parse(readFileSync(file, 'utf8')) as unknown, file);
  };
}

/** Pods of `node` from the Kubernetes API (in-cluster or kubeconfig). */
export async function podsFromKube(node: string): Promise<PodSource> {
  const { CoreV1Api, KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  kc.loadFromDefault();
  const core = kc.makeApiClient(CoreV1Api);
  return async () => {
    const list = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` });
    return podsFromList(JSON.parse(JSON.stringify(list)) as unknown, `pods of node ${node} from the Kubernetes API`);
  };
}
