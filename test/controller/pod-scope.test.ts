// Pod scoping without a kernel: PodList parsing, the kubelet's cgroup layouts (systemd and cgroupfs
// drivers) found in a directory tree, selection by namespace and podSelector, status of unresolved pods,
// and the scopes the compiler writes into the runtime_hooks table.
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cgroup2Root, podsFromList, PodScoper, scanCgroups, selectedPods, type PodInfo } from '../../controller/agent/pod-scope.js';
import { compileText } from '../runtime/helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'weir-podscope-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const uidA = '1a2b3c4d-0000-1111-2222-333344445555';
const uidB = '9f8e7d6c-aaaa-bbbb-cccc-ddddeeeeffff';
const cA = 'a'.repeat(64);
const cB = 'b'.repeat(64);

describe('pod list', () => {
  it('reads uid, labels and container ids without the runtime prefix', () => {
    const pods = podsFromList(
      {
        kind: 'PodList',
        items: [
          {
            kind: 'Pod',
            metadata: { name: 'web', namespace: 'shop', uid: uidA, labels: { app: 'web' } },
            spec: { nodeName: 'n1' },
            status: {
              containerStatuses: [{ containerID: `containerd://${cA}` }],
              initContainerStatuses: [{ containerID: `cri-o://${cB}` }],
            },
          },
        ],
      },
      'pods.json',
    );
    expect(pods).toEqual([{ namespace: 'shop', name: 'web', uid: uidA, labels: { app: 'web' }, containerIds: [cA, cB], node: 'n1' }]);
  });

  it('names the file and item of a pod without uid', () => {
    expect(() => podsFromList({ items: [{ metadata: { name: 'x' } }] }, 'pods.json')).toThrow(
      'pods.json: item 0 needs metadata.name and metadata.uid',
    );
    expect(() => podsFromList({}, 'pods.json')).toThrow(/pods.json: expected a PodList/);
  });
});

describe('cgroup layouts', () => {
  it('finds pods under the systemd driver (kubepods.slice, _ in the uid) and the cgroupfs driver', () => {
    const sd = path.join(dir, 'sd');
    const podA = path.join(sd, 'kubepods.slice', 'kubepods-burstable.slice', `kubepods-burstable-pod${uidA.replace(/-/g, '_')}.slice`);
    mkdirSync(path.join(podA, `cri-containerd-${cA}.scope`), { recursive: true });
    // Guaranteed QoS: the pod slice sits right under kubepods.slice.
    const podB = path.join(sd, 'kubepods.slice', `kubepods-pod${uidB.replace(/-/g, '_')}.slice`);
    mkdirSync(path.join(podB, `crio-${cB}.scope`), { recursive: true });
    const idx = scanCgroups(sd);
    expect(idx.pods.get(uidA)).toEqual([
      statSync(podA, { bigint: true }).ino,
      statSync(path.join(podA, `cri-containerd-${cA}.scope`), { bigint: true }).ino,
    ]);
    expect(idx.pods.get(uidB)).toHaveLength(2);
    expect(idx.containers.get(cB)).toEqual([statSync(path.join(podB, `crio-${cB}.scope`), { bigint: true }).ino]);

    const fs = path.join(dir, 'fs');
    mkdirSync(path.join(fs, 'kubepods', 'besteffort', `pod${uidA}`, cA), { recursive: true });
    const idx2 = scanCgroups(fs);
    expect([...idx2.pods.keys()]).toEqual([uidA]);
    expect(idx2.containers.get(cA)).toHaveLength(1);
  });

  it('reads the cgroup2 mount point from mountinfo (hybrid and unified hosts)', () => {
    expect(cgroup2Root('35 25 0:30 / /sys/fs/cgroup/unified rw,relatime shared:10 - cgroup2 cgroup2 rw\n')).toBe('/sys/fs/cgroup/unified');
    expect(cgroup2Root('35 25 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n')).toBe('/sys/fs/cgroup');
    expect(cgroup2Root('35 25 0:30 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n')).toBeUndefined();
  });
});

describe('selection and status', () => {
  const pods: PodInfo[] = [
    { namespace: 'shop', name: 'web', uid: uidA, labels: { app: 'web' }, containerIds: [] },
    { namespace: 'shop', name: 'api', uid: uidB, labels: { app: 'api' }, containerIds: [] },
    { namespace: 'bank', name: 'web', uid: '00000000-0000-0000-0000-000000000000', labels: { app: 'web' }, containerIds: [] },
  ];

  it('selects by namespace (namespaced policies) and podSelector (matchLabels, matchExpressions)', () => {
    expect(selectedPods({ scopeSet: 1, policy: 'shop/p', namespace: 'shop' }, pods).map((p) => p.name)).toEqual(['web', 'api']);
    expect(
      selectedPods({ scopeSet: 1, policy: 'p', podSelector: { matchLabels: { app: 'web' } } }, pods).map((p) => `${p.namespace}/${p.name}`),
    ).toEqual(['shop/web', 'bank/web']);
    expect(
      selectedPods(
        { scopeSet: 1, policy: 'p', podSelector: { matchExpressions: [{ key: 'app', operator: 'NotIn', values: ['web'] }] } },
        pods,
      ).map((p) => p.name),
    ).toEqual(['api']);
  });

  it('reports a policy whose pods have no cgroups, one that selects none, and one without a pod source', async () => {
    const root = path.join(dir, 'status');
    mkdirSync(path.join(root, 'kubepods', `pod${uidA}`), { recursive: true });
    const calls: [number, number, boolean][] = [];
    const s = new PodScoper({
      pods: async () => pods,
      cgroupRoot: root,
      setScope: (set, ids, present) => calls.push([set, ids.length, present]),
    });
    await s.refreshPods();
    const scopes = [
      { scopeSet: 1, policy: 'shop/all', namespace: 'shop' },
      { scopeSet: 2, policy: 'none', podSelector: { matchLabels: { app: 'db' } } },
    ];
    const r = s.resolve(scopes);
    expect(r.status).toEqual([
      { policy: 'shop/all', scopeSet: 1, pods: ['shop/web', 'shop/api'], cgroups: 1, unresolved: ['shop/api'], state: 'unresolved' },
      { policy: 'none', scopeSet: 2, pods: [], cgroups: 0, unresolved: [], state: 'no-pods' },
    ]);
    s.commit(scopes, r);
    mkdirSync(path.join(root, 'kubepods', `pod${uidB}`, cB), { recursive: true });
    await s.tick();
    expect(calls).toEqual([[1, 2, true]]);
    expect(s.status()[0]).toMatchObject({ state: 'resolved', cgroups: 3 });
    rmSync(path.join(root, 'kubepods', `pod${uidB}`), { recursive: true });
    await s.tick();
    expect(calls).toEqual([
      [1, 2, true],
      [1, 2, false],
    ]);

    const blind = new PodScoper({ cgroupRoot: root, setScope: () => undefined });
    expect(blind.resolve(scopes).status.map((x) => x.state)).toEqual(['no-pod-source', 'no-pod-source']);
  });

  it("names an event's pod by the cgroup id it carries, also when the process is gone and no policy is pod-scoped", async () => {
    const root = path.join(dir, 'by-cgroup');
    const container = path.join(root, 'kubepods.slice', `kubepods-pod${uidB.replace(/-/g, '_')}.slice`, `cri-containerd-${cB}.scope`);
    mkdirSync(container, { recursive: true });
    const s = new PodScoper({ pods: async () => pods, cgroupRoot: root, setScope: () => undefined });
    await s.tick();
    const gone = 0x3fffffff; // above pid_max: no /proc entry to read
    expect(s.podOf(gone, statSync(container, { bigint: true }).ino)).toEqual({ namespace: 'shop', name: 'api' });
    expect(s.podOf(gone, statSync(path.dirname(container), { bigint: true }).ino)).toEqual({ namespace: 'shop', name: 'api' });
    // A cgroup of no pod (the host's), and no cgroup id at all: nothing to name.
    expect(s.podOf(gone, statSync(root, { bigint: true }).ino)).toBeUndefined();
    expect(s.podOf(gone)).toBeUndefined();
  });
});

describe('compiled scopes', () => {
  it('a namespaced policy and a podSelector policy each get a scope entry with what they select', () => {
    const r = compileText(`
apiVersion: cilium.io/v1alpha1
kind: TracingPolicyNamespaced
metadata: {name: a, namespace: shop}
spec:
  podSelector: {matchLabels: {app: web}}
  kprobes:
  - call: sys_openat
    syscall: true
---
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: b}
spec:
  podSelector: {}
  kprobes:
  - call: sys_openat
    syscall: true
---
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: c}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
`);
    expect(r.errors).toEqual([]);
    const n = r.nodes[0]!.lowered;
    expect(n.scopes).toEqual([
      { scopeSet: expect.any(Number), policy: 'shop/a', namespace: 'shop', podSelector: { matchLabels: { app: 'web' } } },
      { scopeSet: expect.any(Number), policy: 'b', podSelector: {} },
    ]);
    expect(n.scopes!.map((s) => s.scopeSet)).toEqual(n.table.filter((h) => h.scopeSet !== undefined).map((h) => h.scopeSet));
  });
});
