// Cilium's allow-localhost: with the default (`auto`, which Cilium turns into `always` under
// Kubernetes) the node's host reaches the pods of its node whatever their ingress policy (kubelet
// probes), a deny naming the host still wins, and a remote node is not the host. With `policy` the
// host needs a rule like any peer. The compiled maps (read by the datapath emulator), the reference
// evaluator and the bundle's manifest all say so.
import { describe, expect, it } from 'vitest';
import { assembleBundle } from '../../compiler/bundle/assemble.js';
import { buildFromDocuments } from '../../compiler/build.js';
import { reservedIdentities } from '../../compiler/identity/allocate.js';
import { evaluateFlow } from '../../compiler/ir/network/evaluate.js';
import { compileNetwork, loadInventory } from '../../compiler/ir/network/index.js';
import type { AllowLocalhost } from '../../compiler/ir/network/types.js';
import { lowerNetwork } from '../../compiler/lower/network/images.js';
import { DatapathEmulator } from '../../compiler/verify/network-emulator.js';
import { verifyNetwork } from '../../compiler/verify/verify.js';
import { WEIR_DIR_INGRESS } from '../../bpf/abi/net.js';
import { ProjectCompiler } from '../../controller/reconcile/compiler.js';
import { sha256 } from '../../compiler/bundle/assemble.js';
import { explainFlow, renderExplanation } from '../../compiler/explain/explain.js';
import { docs } from './helpers.js';

const inventory = loadInventory(
  docs(
    'inventory.yaml',
    `apiVersion: weir.dev/v1alpha1
kind: Inventory
metadata: {name: t}
spec:
  nodes: [{name: n1, ips: [192.168.1.10]}, {name: n2, ips: [192.168.1.11]}]
  namespaces: [{name: shop}]
  pods:
  - {namespace: shop, name: web, labels: {app: web}, ips: [10.0.1.5], node: n1, ports: [{name: http, port: 8080}]}
  - {namespace: shop, name: client, labels: {app: client}, ips: [10.0.2.5], node: n2}
`,
  ),
).inventory;

// web admits only the client: the kubelet's readiness probe from the node is not named.
const webPolicy = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
`;
const hostDeny = `---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: no-host, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingressDeny:
  - fromEntities: [host]
    toPorts: [{ports: [{port: "9090", protocol: TCP}]}]
`;

async function compiled(policies: string, allowLocalhost?: AllowLocalhost) {
  const documents = docs('policy.yaml', policies);
  const r = await buildFromDocuments(documents, inventory, {
    source: { paths: ['policy.yaml'] },
    ...(allowLocalhost ? { allowLocalhost } : {}),
  });
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const bundle = r.bundle!;
  const view = {
    manifest: bundle.manifest,
    blob: (d: string) => bundle.blobs.get(d)!,
    table: <T>(n: string) => {
      const t = bundle.manifest.tables.find((x) => x.name === n);
      return t ? (JSON.parse(new TextDecoder().decode(bundle.blobs.get(t.digest)!)) as T) : undefined;
    },
  };
  const emu = new DatapathEmulator(view);
  const web = emu.endpoint('shop/web')!;
  /** What web's policy map does with TCP from an address to a port, as the datapath on web's node looks it up. */
  const datapath = (from: string, port: number) => emu.decide(web, WEIR_DIR_INGRESS, emu.identityOf(web.node, from), 6, port);
  const evaluator = (from: string, port: number) =>
    evaluateFlow(r.ir, { from: { ip: from }, to: { workload: 'shop/web' }, protocol: 'TCP', port });
  return { r, bundle, view, emu, datapath, evaluator };
}

describe('allow-localhost', () => {
  it('default (auto): a kubelet-like probe from the node reaches its pod; the compiled map allows it', async () => {
    const { datapath, evaluator, emu, bundle } = await compiled(webPolicy);
    expect(emu.identityOf('n1', '192.168.1.10')).toBe(reservedIdentities.host);
    const probe = datapath('192.168.1.10', 8080);
    expect(probe.verdict).toBe('allow');
    expect(probe.entry?.key.identity).toBe(reservedIdentities.host);
    expect(probe.cookie).toBe(0); // no policy rule allowed it
    expect(datapath('192.168.1.10', 9999).verdict).toBe('allow'); // every port, as Cilium's L3 entry
    const ev = evaluator('192.168.1.10', 8080);
    expect([ev.verdict, ev.reason]).toEqual(['allow', 'allow-localhost']);
    // The other node is a remote node, not the host: its probe needs a rule.
    expect(emu.identityOf('n1', '192.168.1.11')).toBe(reservedIdentities['remote-node']);
    expect(datapath('192.168.1.11', 8080).verdict).toBe('deny');
    expect(evaluator('192.168.1.11', 8080).verdict).toBe('deny');
    // Policy still decides everyone else.
    expect(datapath('10.0.2.5', 8080).verdict).toBe('allow');
    expect(datapath('10.0.2.5', 9999).verdict).toBe('deny');
    expect(bundle.manifest.source.allowLocalhost).toBeUndefined();
  });

  it('policy: the host needs a rule like any other peer; the manifest records the mode', async () => {
    const { datapath, evaluator, bundle } = await compiled(webPolicy, 'policy');
    const probe = datapath('192.168.1.10', 8080);
    expect([probe.verdict, probe.action]).toEqual(['deny', 'default-deny']);
    const ev = evaluator('192.168.1.10', 8080);
    expect([ev.verdict, ev.reason]).toEqual(['deny', 'default-deny']);
    expect(datapath('10.0.2.5', 8080).verdict).toBe('allow');
    expect(bundle.manifest.source.allowLocalhost).toBe('policy');
  });

  it('always is auto', async () => {
    const a = await compiled(webPolicy);
    const b = await compiled(webPolicy, 'always');
    expect([...b.bundle.blobs.keys()].sort()).toEqual([...a.bundle.blobs.keys()].sort());
  });

  it('a deny rule naming the host wins over allow-localhost, on its ports only', async () => {
    const { datapath, evaluator } = await compiled(webPolicy + hostDeny);
    expect(datapath('192.168.1.10', 9090).verdict).toBe('deny');
    expect(evaluator('192.168.1.10', 9090).verdict).toBe('deny');
    expect(datapath('192.168.1.10', 8080).verdict).toBe('allow');
  });

  it('an endpoint without ingress policy gets no host entry (everything passes already)', async () => {
    const { emu } = await compiled(webPolicy);
    const client = emu.endpoint('shop/client')!;
    expect(emu.entriesOf(client)).toEqual([]);
    expect(emu.entriesOf(emu.endpoint('shop/web')!).filter((e) => e.identity === reservedIdentities.host)).toHaveLength(1);
    expect(emu.decide(client, WEIR_DIR_INGRESS, reservedIdentities.host, 6, 80).action).toBe('not-enforced');
  });

  it.each(['auto', 'policy'] as const)('evaluator and emulator agree on every class (%s)', async (mode) => {
    const { r, view } = await compiled(webPolicy + hostDeny, mode);
    const report = verifyNetwork(r.ir, view);
    expect(report.problems).toEqual([]);
    expect(report.mismatches).toEqual([]);
    expect(report.classes).toBeGreaterThan(0);
  });

  it('the IR says the mode only when it is policy (bytes of default builds are what they were)', () => {
    const d = docs('policy.yaml', webPolicy);
    expect(compileNetwork(d, inventory).ir.localhostNeedsPolicy).toBeUndefined();
    expect(compileNetwork(d, inventory, { allowLocalhost: 'policy' }).ir.localhostNeedsPolicy).toBe(true);
    const lowered = lowerNetwork(compileNetwork(d, inventory, { allowLocalhost: 'policy' }).ir);
    const b = assembleBundle([lowered.output], { source: { paths: [] }, compilerVersion: 't', abi: { digest: '', version: 1 } });
    expect(b.manifest.nodes.length).toBe(2);
  });

  it('the controller builds with the mode it was started with, the same maps as weir build', async () => {
    const files = (text: string) => [{ file: 'policy.yaml', bytes: new TextEncoder().encode(text) }];
    const inv = `apiVersion: weir.dev/v1alpha1
kind: Inventory
metadata: {name: t}
spec:
  nodes: [{name: n1, ips: [192.168.1.10]}]
  namespaces: [{name: shop}]
  pods: [{namespace: shop, name: web, labels: {app: web}, ips: [10.0.1.5], node: n1}]
`;
    const text = `${inv}---\n${webPolicy}`;
    const blobs = async (c: ProjectCompiler) => {
      const r = await c.compileFiles(files(text), 'r');
      expect(r.ok).toBe(true);
      return { source: r.bundle!.manifest.source, digests: [...r.bundle!.blobs.values()].map((b) => sha256(b)).sort() };
    };
    const auto = await blobs(new ProjectCompiler());
    const policy = await blobs(new ProjectCompiler({ allowLocalhost: 'policy' }));
    expect(auto.source.allowLocalhost).toBeUndefined();
    expect(policy.source.allowLocalhost).toBe('policy');
    expect(policy.digests).not.toEqual(auto.digests);
  });

  it('explain names allow-localhost, not a default-deny, and shows the host entry', async () => {
    const { r } = await compiled(webPolicy);
    const x = explainFlow(r.ir, r.lowered, { from: { entity: 'host' }, to: { workload: 'shop/web' }, protocol: 'TCP', port: 8080 });
    expect(x.verdict).toBe('allow');
    const text = renderExplanation(r.ir, x);
    expect(text).toContain("rule:      none needed: the node's host reaches the pods of its node (Cilium's allow-localhost");
    expect(text).toContain('{identity 1, ingress, ANY, prefixlen 40} -> allow');
    expect(text).not.toContain('default-deny');
  });

  it('audit-mode policies: the evaluator and the maps name the same decision for the host', async () => {
    // web's ingress is enforced only by an audit-mode policy while an enforcing policy also selects
    // it (so web is not in audit mode): the host allow is the enforcing decision. client's policies
    // are all in audit mode: the audit policy's rule is the one named.
    const audit = `---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: watch, namespace: shop, annotations: {weir.dev/audit: "true"}}
spec:
  endpointSelector: {}
  ingress:
  - toPorts: [{ports: [{port: "1000", endPort: 1100, protocol: TCP}]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web-out, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  egressDeny: [{toEntities: [world]}]
`;
    for (const mode of ['auto', 'policy'] as const) {
      const { r, view } = await compiled(audit.slice(4), mode);
      const report = verifyNetwork(r.ir, view);
      expect(report.mismatches).toEqual([]);
      expect(report.problems).toEqual([]);
    }
  });
});
