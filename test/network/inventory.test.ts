import { describe, expect, it } from 'vitest';
import { loadInventory } from '../../compiler/ir/network/index.js';
import { docs } from './helpers.js';

describe('inventory loader', () => {
  it('reads `kubectl get -A -o yaml` Lists (pods, namespaces, services, nodes)', () => {
    const { inventory, diagnostics } = loadInventory(
      docs(
        'kubectl.yaml',
        `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata: {name: shop, labels: {env: prod}}
- apiVersion: v1
  kind: Node
  metadata: {name: worker-1}
  status: {addresses: [{type: InternalIP, address: 172.18.0.2}, {type: Hostname, address: worker-1}]}
- apiVersion: v1
  kind: Pod
  metadata: {name: cart-5d9c, namespace: shop, labels: {app: cart, pod-template-hash: 5d9c}}
  spec:
    nodeName: worker-1
    serviceAccountName: cart
    containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]
  status: {podIP: 10.244.0.5, podIPs: [{ip: 10.244.0.5}]}
- apiVersion: v1
  kind: Service
  metadata: {name: cart, namespace: shop}
  spec: {selector: {app: cart}, ports: [{port: 80, targetPort: http}], clusterIP: 10.96.0.20}
`,
      ),
    );
    expect(diagnostics).toEqual([]);
    expect(inventory.pods).toEqual([
      expect.objectContaining({
        namespace: 'shop',
        name: 'cart-5d9c',
        ips: ['10.244.0.5'],
        node: 'worker-1',
        serviceAccount: 'cart',
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      }),
    ]);
    expect(inventory.nodes.map((n) => [n.name, n.ips])).toEqual([['worker-1', ['172.18.0.2']]]);
    expect(inventory.namespaces.find((n) => n.name === 'shop')!.labels).toEqual({ env: 'prod', 'kubernetes.io/metadata.name': 'shop' });
    expect(inventory.services[0]).toMatchObject({ name: 'cart', selector: { app: 'cart' }, clusterIPs: ['10.96.0.20'] });
  });

  it('names pods of workload templates ns/name[Kind], as np-guard does', () => {
    const { inventory } = loadInventory(
      docs(
        'app.yaml',
        `apiVersion: apps/v1
kind: Deployment
metadata: {name: frontend, namespace: shop}
spec:
  template:
    metadata: {labels: {app: frontend}}
    spec: {containers: [{name: c, ports: [{name: web, containerPort: 80}]}]}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: shop}
spec:
  jobTemplate:
    spec:
      template:
        metadata: {labels: {app: report}}
        spec: {containers: [{name: c}]}
`,
      ),
    );
    expect(inventory.pods.map((p) => `${p.namespace}/${p.name}`)).toEqual(['shop/frontend[Deployment]', 'shop/report[CronJob]']);
    expect(inventory.pods[0]!.ports).toEqual([{ name: 'web', port: 80, protocol: 'TCP' }]);
  });

  it('reports an inventory that contradicts itself, with the place', () => {
    const { diagnostics } = loadInventory(
      docs(
        'inv.yaml',
        `apiVersion: weir.dev/v1alpha1
kind: Inventory
metadata: {name: x}
spec:
  pods:
  - {namespace: a, name: p1, ips: [10.0.0.1]}
  - {namespace: a, name: p2, ips: [10.0.0.1]}
  - {namespace: a, name: p3, ips: [10.0.0.300]}
`,
      ),
    );
    expect(diagnostics.map((d) => [d.rule, d.line])).toEqual([
      ['inventory/duplicate-ip', 7],
      ['inventory/bad-ip', 8],
    ]);
    expect(diagnostics[0]!.message).toMatch(/pod a\/p2 and pod a\/p1 both have IP 10\.0\.0\.1/);
  });
});

describe('JSON inventories (kubectl get -A -o json)', () => {
  it('reads a v1 List from a .json file', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
    const path = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { readInventory } = await import('../../compiler/inventory/load.js');
    const d = await mkdtemp(path.join(tmpdir(), 'weirnet-inv-'));
    try {
      await writeFile(
        path.join(d, 'cluster.json'),
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'List',
          items: [
            {
              apiVersion: 'v1',
              kind: 'Pod',
              metadata: { name: 'p', namespace: 'x', labels: { app: 'a' } },
              spec: { nodeName: 'n' },
              status: { podIP: '10.1.1.1' },
            },
          ],
        }),
      );
      await writeFile(path.join(d, 'broken.json'), '{"kind": ');
      const r = await readInventory(['cluster.json', 'broken.json'], { root: d });
      expect(r.inventory.pods.map((p) => [p.namespace, p.name, p.ips, p.node])).toEqual([['x', 'p', ['10.1.1.1'], 'n']]);
      expect(r.diagnostics.map((x) => [x.rule, x.file, x.line, x.column])).toEqual([['load/json-syntax', 'broken.json', 1, 10]]);
    } finally {
      await rm(d, { recursive: true, force: true });
    }
  });
});
