// Inventories in every form a cluster's state comes in: typed lists in YAML and JSON side by side,
// multi-document manifests of every workload kind, live pods in every state, and workload names
// taken from ownerReferences (never from the shape of a pod's name).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadInventory, readInventory } from '../../compiler/inventory/load.js';
import { loadPolicies, loadSources } from '../../compiler/load/index.js';
import { workloadsOf } from '../../compiler/plan/workloads.js';
import { connectivityCommand } from '../../cli/connectivity.js';
import type { CommandIO } from '../../cli/command.js';

const temps: string[] = [];
afterAll(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })));
function dir(files: Record<string, string>): string {
  const d = mkdtempSync(path.join(tmpdir(), 'weir-inv-forms-'));
  temps.push(d);
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(d, f)), { recursive: true });
    writeFileSync(path.join(d, f), text);
  }
  return d;
}
const inv = (yaml: string) => loadInventory(loadSources([{ file: 'inv.yaml', bytes: new TextEncoder().encode(yaml) }]).documents);
const names = (r: ReturnType<typeof inv>) =>
  workloadsOf(r.inventory.pods, r.inventory.hostNetworkPods).map(
    (w) => `${w.namespace}/${w.name}[${w.kind}]${w.hostNetwork ? ' host' : ''}`,
  );
const owned = (kind: string, name: string, controller = true) =>
  `ownerReferences: [{apiVersion: apps/v1, kind: ${kind}, name: ${name}, controller: ${controller}}]`;
const pod = (name: string, meta: string, spec = '{containers: [{name: c}]}', status = '{podIP: 10.0.0.9, hostIP: 192.168.0.1}') =>
  `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: shop, labels: {app: ${name.split('-')[0]}}, ${meta}}\nspec: ${spec}\nstatus: ${status}\n`;

describe('inventory readers: the forms a cluster dump comes in', () => {
  const namespaces = 'kind: NamespaceList\napiVersion: v1\nitems:\n- metadata: {name: shop, labels: {team: a}}\n- metadata: {name: ops}\n';
  const pods = JSON.stringify({
    kind: 'PodList',
    apiVersion: 'v1',
    items: [
      {
        metadata: {
          name: 'web-7d9f8c6b5d-x2k9p',
          namespace: 'shop',
          labels: { app: 'web', 'pod-template-hash': '7d9f8c6b5d' },
          ownerReferences: [{ kind: 'ReplicaSet', name: 'web-7d9f8c6b5d', controller: true }],
        },
        spec: { nodeName: 'n1', containers: [{ name: 'c', ports: [{ name: 'http', containerPort: 8080 }] }] },
        status: { podIP: '10.0.0.1', podIPs: [{ ip: '10.0.0.1' }] },
      },
      {
        metadata: {
          name: 'agent-4hx2q',
          namespace: 'ops',
          labels: { app: 'agent' },
          ownerReferences: [{ kind: 'DaemonSet', name: 'agent', controller: true }],
        },
        spec: { nodeName: 'n1', hostNetwork: true, containers: [{ name: 'c' }] },
        status: { podIP: '192.168.0.1', hostIP: '192.168.0.1' },
      },
    ],
  });
  const manifests = [
    'apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db, namespace: shop}\nspec: {template: {metadata: {labels: {app: db}}, spec: {containers: [{name: pg, ports: [{name: pg, containerPort: 5432}]}]}}}\n',
    'apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: logs, namespace: ops}\nspec: {template: {metadata: {labels: {app: logs}}, spec: {containers: [{name: c}]}}}\n',
    'apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: cache, namespace: shop}\nspec: {template: {metadata: {labels: {app: cache}}, spec: {containers: [{name: c}]}}}\n',
    'apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate, namespace: shop}\nspec: {template: {metadata: {labels: {app: migrate}}, spec: {containers: [{name: c}]}}}\n',
    'apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: report, namespace: shop}\nspec: {jobTemplate: {spec: {template: {metadata: {labels: {app: report}}, spec: {containers: [{name: c}]}}}}}\n',
    'apiVersion: v1\nkind: ReplicationController\nmetadata: {name: legacy}\nspec: {template: {metadata: {labels: {app: legacy}}, spec: {containers: [{name: c}]}}}\n',
    'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec: {template: {metadata: {labels: {app: web}}, spec: {containers: [{name: c}]}}}\n',
  ].join('---\n');

  it('typed lists in YAML and JSON side by side, and a multi-document manifest of every workload kind', async () => {
    const d = dir({ 'ns.yaml': namespaces, 'pods.json': pods, 'apps.yml': manifests, 'README.md': '# cluster\n', 'notes.txt': 'x' });
    const r = await readInventory(['.'], { root: d });
    expect(r.diagnostics.filter((x) => x.severity !== 'info')).toEqual([]);
    expect(r.inventory.namespaces.map((n) => [n.name, n.labels['team'] ?? ''])).toEqual([
      ['default', ''],
      ['ops', ''],
      ['shop', 'a'],
    ]);
    // The Deployment's live pod stands for it (its template adds no second pod); the host-network
    // DaemonSet pod is a workload, not an endpoint.
    expect(names(r)).toEqual([
      'default/legacy[ReplicationController]',
      'ops/agent[DaemonSet] host',
      'ops/logs[DaemonSet]',
      'shop/cache[ReplicaSet]',
      'shop/db[StatefulSet]',
      'shop/migrate[Job]',
      'shop/report[CronJob]',
      'shop/web[Deployment]',
    ]);
    expect(r.inventory.pods.map((p) => p.name)).toContain('web-7d9f8c6b5d-x2k9p');
    expect(r.inventory.pods.map((p) => p.name)).not.toContain('web[Deployment]');
    expect(r.inventory.hostNetworkPods?.map((p) => [p.name, p.owner])).toEqual([['agent-4hx2q', { kind: 'DaemonSet', name: 'agent' }]]);
    // Files weir does not read are reported once, as info, never skipped in silence.
    const info = r.diagnostics.filter((x) => x.severity === 'info');
    expect(info.map((x) => [x.rule, x.file])).toEqual([['load/not-read', '.']]);
    expect(info[0]!.message).toBe(
      '2 files under . are not read (weir reads .yaml, .yml and .json files): README.md, notes.txt; list them under `ignore` in .weir.yaml to leave them out',
    );
  });

  it('pods in every state: without IP, pending, host network, without namespace, finished', () => {
    const r = inv(
      [
        pod('pending-a', owned('Job', 'pending'), '{containers: [{name: c}]}', '{phase: Pending}'),
        pod('noip-b', owned('DaemonSet', 'noip'), '{nodeName: n2, containers: [{name: c}]}', '{}'),
        pod(
          'etcd-n1',
          'ownerReferences: [{apiVersion: v1, kind: Node, name: n1, controller: true}]',
          '{nodeName: n1, hostNetwork: true, containers: [{name: c}]}',
          '{podIP: 192.168.0.1}',
        ),
        'apiVersion: v1\nkind: Pod\nmetadata: {name: bare, labels: {app: bare}}\nspec: {containers: [{name: c}]}\nstatus: {podIP: 10.0.0.5}\n',
        pod('done-x', owned('Job', 'done'), '{containers: [{name: c}]}', '{phase: Succeeded, podIP: 10.0.0.7}'),
        pod('new-y', owned('DaemonSet', 'new'), '{containers: [{name: c}]}', '{phase: Running, podIP: 10.0.0.7}'),
        'apiVersion: v1\nkind: Node\nmetadata: {name: n1}\nstatus: {addresses: [{type: InternalIP, address: 192.168.0.1}]}\n',
      ].join('---\n'),
    );
    expect(r.diagnostics).toEqual([]);
    expect(names(r)).toEqual([
      'default/bare[Pod]',
      'shop/done[Job]',
      'shop/etcd-n1[Pod] host',
      'shop/new[DaemonSet]',
      'shop/noip[DaemonSet]',
      'shop/pending[Job]',
    ]);
    const byName = new Map([...r.inventory.pods, ...(r.inventory.hostNetworkPods ?? [])].map((p) => [p.name, p]));
    expect(byName.get('pending-a')!.ips).toEqual([]);
    expect(byName.get('noip-b')!.node).toBe('n2');
    expect(byName.get('bare')!.namespace).toBe('default');
    // A finished pod gave its address back: the running pod holds it, and no duplicate is reported.
    expect(byName.get('done-x')!.ips).toEqual([]);
    expect(byName.get('new-y')!.ips).toEqual(['10.0.0.7']);
    // The host-network pod shares the node's address without claiming it.
    expect(byName.get('etcd-n1')!.ips).toEqual(['192.168.0.1']);
  });

  it.each<[string, string, string]>([
    [
      'a ReplicaSet whose Deployment is absent keeps its own name',
      pod('api-5c9dd7c9c-r66p2', owned('ReplicaSet', 'api-5c9dd7c9c')),
      'shop/api-5c9dd7c9c[ReplicaSet]',
    ],
    [
      'the ReplicaSet object names its Deployment, which is present',
      [
        pod('api-5c9dd7c9c-r66p2', owned('ReplicaSet', 'api-5c9dd7c9c')),
        `apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {name: api-5c9dd7c9c, namespace: shop, ${owned('Deployment', 'api')}}\nspec: {template: {metadata: {labels: {app: api}}}}\n`,
        'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: shop}\nspec: {template: {metadata: {labels: {app: api}}}}\n',
      ].join('---\n'),
      'shop/api[Deployment]',
    ],
    [
      'pod-template-hash ties the ReplicaSet to a Deployment of the input',
      [
        `apiVersion: v1\nkind: Pod\nmetadata: {name: api-5c9dd7c9c-r66p2, namespace: shop, labels: {app: api, pod-template-hash: 5c9dd7c9c}, ${owned('ReplicaSet', 'api-5c9dd7c9c')}}\nspec: {}\n`,
        'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, namespace: shop}\nspec: {template: {metadata: {labels: {app: api}}}}\n',
      ].join('---\n'),
      'shop/api[Deployment]',
    ],
    // The pod's name looks like a DaemonSet's pod; its owner says Job.
    [
      'a Job pod is named after its Job',
      pod('ingress-nginx-admission-create-hp47w', owned('Job', 'ingress-nginx-admission-create')),
      'shop/ingress-nginx-admission-create[Job]',
    ],
    [
      'a Job of a CronJob in the input is the CronJob',
      [
        pod('report-28123-abcde', owned('Job', 'report-28123')),
        `apiVersion: batch/v1\nkind: Job\nmetadata: {name: report-28123, namespace: shop, ${owned('CronJob', 'report')}}\nspec: {template: {metadata: {labels: {app: report}}}}\n`,
        'apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: report, namespace: shop}\nspec: {jobTemplate: {spec: {template: {metadata: {labels: {app: report}}}}}}\n',
      ].join('---\n'),
      'shop/report[CronJob]',
    ],
    ['an owner that is not the controller does not name the pod', pod('solo', owned('ReplicaSet', 'other', false)), 'shop/solo[Pod]'],
    [
      'an owner reference without kind names the pod, as a Pod',
      pod('p-1', 'ownerReferences: [{name: internal, controller: true}]'),
      'shop/internal[Pod]',
    ],
    ['a StatefulSet pod', pod('db-0', owned('StatefulSet', 'db')), 'shop/db[StatefulSet]'],
  ])('%s', (_, yaml, want) => {
    expect(names(inv(yaml))).toEqual([want]);
  });

  it('`weir connectivity` lists host-network pods and Jobs by their owners', async () => {
    const d = dir({
      'pods.yaml': [
        pod('ingress-nginx-admission-create-hp47w', owned('Job', 'ingress-nginx-admission-create')),
        pod(
          'etcd-minikube',
          'ownerReferences: [{apiVersion: v1, kind: Node, name: minikube, controller: true}]',
          '{nodeName: minikube, hostNetwork: true}',
          '{podIP: 192.168.49.2}',
        ),
      ].join('---\n'),
    });
    const x: CommandIO & { out: string; err: string } = {
      out: '',
      err: '',
      cwd: d,
      isTTY: false,
      env: {},
      stdout: (s) => void (x.out += s),
      stderr: (s) => void (x.err += s),
    };
    expect(await connectivityCommand.run(['.'], x)).toBe(0);
    expect(x.out).toBe(
      [
        '0.0.0.0-255.255.255.255[External] => shop/etcd-minikube[Pod] : All Connections',
        '0.0.0.0-255.255.255.255[External] => shop/ingress-nginx-admission-create[Job] : All Connections',
        'shop/etcd-minikube[Pod] => 0.0.0.0-255.255.255.255[External] : All Connections',
        'shop/etcd-minikube[Pod] => shop/ingress-nginx-admission-create[Job] : All Connections',
        'shop/ingress-nginx-admission-create[Job] => 0.0.0.0-255.255.255.255[External] : All Connections',
        'shop/ingress-nginx-admission-create[Job] => shop/etcd-minikube[Pod] : All Connections',
        '',
      ].join('\n'),
    );
  });
});

describe('input folders: what is read and what is left out', () => {
  it('Helm charts and kustomizations are left out (counted), never read as policies', async () => {
    const d = dir({
      'chart/Chart.yaml': 'apiVersion: v2\nname: app\nversion: 1.0.0\n',
      'chart/values.yaml': 'replicas: 2\n',
      'kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nresources: [policy.yaml]\n',
      'chart/templates/deploy.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n',
      'policy.yaml': 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p}\nspec: {endpointSelector: {}}\n',
    });
    const r = await loadPolicies(['.'], { root: d });
    expect(r.diagnostics).toEqual([]);
    expect(r.documents.map((x) => x.name)).toEqual(['p']);
    expect(r.ignored.map((i) => `${i.file} ${i.what}`).sort()).toEqual([
      'chart/Chart.yaml Helm chart metadata',
      'chart/templates/deploy.yaml Helm chart template (not rendered)',
      'chart/values.yaml not a Kubernetes object',
      'kustomization.yaml Kustomize configuration',
    ]);
  });

  it('ignore globs leave files out without a word; a file named on its own is always read', async () => {
    const d = dir({
      'a/bad.yaml': 'kind: [\n',
      'a/notes.md': 'x',
      'b/p.yaml': 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p}\nspec: {endpointSelector: {}}\n',
    });
    const r = await loadPolicies(['.'], { root: d, ignore: ['a/'] });
    expect(r.diagnostics).toEqual([]);
    expect(r.files).toEqual(['b/p.yaml']);
    const named = await loadPolicies(['a/notes.md'], { root: d });
    expect(named.files).toEqual(['a/notes.md']);
  });
});
