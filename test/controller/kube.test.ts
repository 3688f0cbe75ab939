// The Kubernetes adapter against a fake API server with list/watch semantics: policies and
// pods come from the cluster, a change arrives by watch and is rolled out, the PolicyRollout
// status carries observedGeneration and kstatus conditions, and a 410 Gone makes the informers
// relist without losing later changes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { KubeConfig } from '@kubernetes/client-node';
import { Agent } from '../../controller/agent/agent.js';
import { EmulatorDatapath } from '../../controller/agent/emulated-datapath.js';
import { generateSigningKey } from '../../controller/bundle/sign.js';
import { Controller } from '../../controller/reconcile/controller.js';
import { silentLogger } from '../../controller/reconcile/log.js';
import { ProjectCompiler } from '../../controller/reconcile/compiler.js';
import { serveController } from '../../controller/reconcile/api.js';
import { KubeSource } from '../../controller/kube/kube-source.js';
import { PolicyRolloutWriter } from '../../controller/kube/status-writer.js';
import { Client, type Listening } from '../../controller/transport/http.js';
import { FakeApiServer } from './fake-apiserver.js';
import { empireAndAlliance, empireOnly, until } from './harness.js';

const pods = [
  { name: 'deathstar', labels: { org: 'empire', class: 'deathstar' }, ip: '10.0.0.10' },
  { name: 'tiefighter', labels: { org: 'empire', class: 'tiefighter' }, ip: '10.0.0.11' },
  { name: 'xwing', labels: { org: 'alliance', class: 'xwing' }, ip: '10.0.0.12' },
];

const cnp = (yaml: string) => parseAllDocuments(yaml)[0]!.toJS() as { metadata: { name: string; namespace?: string } };

describe('Kubernetes adapter (fake API server)', () => {
  const api = new FakeApiServer();
  let dir: string;
  let controller: Controller;
  let source: KubeSource;
  let writer: PolicyRolloutWriter;
  let server: Listening;
  let agent: Agent;
  const dp = new EmulatorDatapath('node-1');
  const rolloutPath = '/apis/weir.dev/v1alpha1/policyrollouts';

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'weir-kube-'));
    for (const [p, k] of [
      ['/api/v1/pods', 'PodList'],
      ['/api/v1/namespaces', 'NamespaceList'],
      ['/apis/networking.k8s.io/v1/networkpolicies', 'NetworkPolicyList'],
      ['/apis/cilium.io/v2/ciliumnetworkpolicies', 'CiliumNetworkPolicyList'],
      ['/apis/cilium.io/v2/ciliumclusterwidenetworkpolicies', 'CiliumClusterwideNetworkPolicyList'],
      ['/apis/cilium.io/v1alpha1/tracingpolicies', 'TracingPolicyList'],
      [rolloutPath, 'PolicyRolloutList'],
    ] as const)
      api.collection(p, k);
    await api.start();
    api.apply('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default' } });
    for (const p of pods)
      api.apply('/api/v1/pods', {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: p.name, namespace: 'default', labels: p.labels },
        spec: { nodeName: 'node-1' },
        status: { podIP: p.ip },
      });
    api.apply('/apis/cilium.io/v2/ciliumnetworkpolicies', {
      ...cnp(empireOnly),
      apiVersion: 'cilium.io/v2',
      kind: 'CiliumNetworkPolicy',
    } as never);
    api.apply(rolloutPath, {
      apiVersion: 'weir.dev/v1alpha1',
      kind: 'PolicyRollout',
      metadata: { name: 'policies', namespace: 'weir-system' },
      spec: { canary: { count: 1 } },
    });

    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: api.url, skipTLSVerify: true }],
      users: [{ name: 'u', token: 'test-token' }],
      contexts: [{ name: 'c', cluster: 'fake', user: 'u' }],
      currentContext: 'c',
    });
    const key = generateSigningKey();
    source = new KubeSource(kc, () => void controller?.trigger('watch'));
    controller = new Controller({
      repo: 'kubernetes',
      branch: '-',
      paths: ['cluster'],
      stateDir: path.join(dir, 'controller'),
      compiler: new ProjectCompiler(),
      source,
      key,
      logger: silentLogger(),
      pollIntervalMs: 0,
      maxDropRateIncrease: 1,
    });
    await source.start();
    const nodeToken = 'node-1-token-for-the-kube-test';
    server = await serveController(controller, '127.0.0.1', 0, { insecureLoopback: true, nodeTokens: new Map([['node-1', nodeToken]]) });
    writer = new PolicyRolloutWriter(kc, controller, 'weir-system', 'policies', 50);
    writer.start();
    await controller.start();
    agent = new Agent({
      node: 'node-1',
      client: new Client(server.url, { insecureLoopback: true, token: nodeToken }),
      trustedKey: key.publicKey,
      stateDir: path.join(dir, 'agent'),
      datapath: dp,
      logger: silentLogger(),
      longPollMs: 5000,
    });
    await agent.start();
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await writer?.stop();
    await controller?.stop();
    await source?.stop();
    await server?.close();
    await api.stop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const xwingToDeathstar = async () => (await dp.verdict({ src: '10.0.0.12', dst: '10.0.0.10', protocol: 'TCP', port: 80 })).verdict;
  const rolloutStatus = () =>
    api.get(rolloutPath, 'weir-system', 'policies')?.['status'] as
      | { observedGeneration: number; phase: string; revision?: string; conditions: { type: string; status: string; message: string }[] }
      | undefined;

  it('compiles what the cluster holds and applies it', async () => {
    await until('agent applied', async () => agent.applied !== undefined);
    expect(await xwingToDeathstar()).toBe('deny');
    expect((await dp.verdict({ src: '10.0.0.11', dst: '10.0.0.10', protocol: 'TCP', port: 80 })).verdict).toBe('allow');
    expect(api.log.some((l) => l.startsWith('GET /api/v1/pods?') && l.includes('watch=true'))).toBe(true);
  });

  it('writes Ready with observedGeneration to the PolicyRollout', async () => {
    const st = await until('Ready=True', async () => {
      const s = rolloutStatus();
      return s?.conditions.find((c) => c.type === 'Ready')?.status === 'True' ? s : undefined;
    });
    expect(st.observedGeneration).toBe(1);
    expect(st.phase).toBe('Complete');
    expect(st.revision).toBe(agent.applied!.revision);
  });

  it('rolls out a policy change that arrives by watch', async () => {
    const before = agent.applied!.revision;
    api.apply('/apis/cilium.io/v2/ciliumnetworkpolicies', {
      ...cnp(empireAndAlliance),
      apiVersion: 'cilium.io/v2',
      kind: 'CiliumNetworkPolicy',
    } as never);
    await until('new revision applied', async () => agent.applied !== undefined && agent.applied.revision !== before);
    expect(await xwingToDeathstar()).toBe('allow');
    await until(
      'status follows',
      async () => rolloutStatus()?.revision === agent.applied!.revision && rolloutStatus()?.phase === 'Complete',
    );
  });

  it('relists after 410 Gone and still sees later changes', async () => {
    const before = agent.applied!.revision;
    api.compact(); // closes every watch; re-watching from the old resourceVersion gets 410
    await until(
      'a 410-driven relist',
      async () => api.log.filter((l) => l.startsWith('GET /apis/cilium.io/v2/ciliumnetworkpolicies') && !l.includes('watch=')).length >= 2,
      15_000,
    );
    expect(api.goneServed).toBeGreaterThan(0);
    api.apply('/apis/cilium.io/v2/ciliumnetworkpolicies', {
      ...cnp(empireOnly),
      apiVersion: 'cilium.io/v2',
      kind: 'CiliumNetworkPolicy',
    } as never);
    await until('change after relist applied', async () => agent.applied!.revision !== before, 15_000);
    expect(await xwingToDeathstar()).toBe('deny');
  });

  it('a spec change bumps generation; the status observes it', async () => {
    const obj = api.get(rolloutPath, 'weir-system', 'policies')!;
    api.apply(rolloutPath, { ...obj, spec: { canary: { count: 2 } } });
    expect(api.get(rolloutPath, 'weir-system', 'policies')!.metadata.generation).toBe(2);
    controller.emit('change');
    await until('observedGeneration 2', async () => rolloutStatus()?.observedGeneration === 2);
  });
});
