// Kernel mode of the demo, runtime side: each pod gets a cgroup laid out as the kubelet's cgroupfs
// driver lays it out (kubepods/pod<uid>/<container id>) under a cgroup of the demo's own
// (<cgroup2>/wdemo-<id>-<pid>), so the agent's pod scoping finds it as it would on a node.
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmdirSync } from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { cgroup2Root, type PodInfo } from '../agent/pod-scope.js';

export interface PodCgroups {
  root: string;
  pods: PodInfo[];
  /** The container cgroup of a pod (by name): a process written into its cgroup.procs runs "in the pod". */
  cgroupOf(pod: string): string | undefined;
  destroy(): void;
}

function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeTree(path.join(dir, e.name));
  rmdirSync(dir);
}

/** Undefined when there is no cgroup v2 hierarchy to make them in. */
export function createPodCgroups(podsYaml: string, prefix = 'wdemo'): PodCgroups | undefined {
  const base = cgroup2Root();
  if (!base) return undefined;
  for (const n of readdirSync(base)) {
    const m = new RegExp(`^${prefix}-[0-9a-f]{4}-(\\d+)$`).exec(n);
    if (!m) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch {
      try {
        removeTree(path.join(base, n)); // a dead run's
      } catch {
        /* still busy */
      }
    }
  }
  const root = path.join(base, `${prefix}-${randomBytes(2).toString('hex')}-${process.pid}`);
  const docs = parseAllDocuments(podsYaml).map(
    (d) => d.toJS() as { metadata: { name: string; namespace?: string; labels?: Record<string, string> } },
  );
  const dirs = new Map<string, string>();
  const pods: PodInfo[] = docs.map((d) => {
    const uid = randomUUID();
    const cid = randomBytes(32).toString('hex');
    const dir = path.join(root, 'kubepods', `pod${uid}`, cid);
    mkdirSync(dir, { recursive: true });
    dirs.set(d.metadata.name, dir);
    return {
      namespace: d.metadata.namespace ?? 'default',
      name: d.metadata.name,
      uid,
      labels: d.metadata.labels ?? {},
      containerIds: [cid],
    };
  });
  return {
    root,
    pods,
    cgroupOf: (pod) => dirs.get(pod),
    destroy: () => {
      try {
        removeTree(root);
      } catch {
        /* a process is still leaving: the next run removes it */
      }
    },
  };
}
