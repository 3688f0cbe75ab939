// One real agent with the kernel datapath, as a separate process: a commit is enforced on the
// wire; the agent is SIGKILLed in the middle of applying the next one and enforcement stays
// intact (tc filters and pinned maps outlive it); restarted, it adopts the pinned state and
// reconciles to the new revision. Pods are namespaces wag-* on veth pairs bridged at L2.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { skipKernel } from '../kernel-env.js';
import { createPodNetwork, type PodNetwork } from '../../controller/demo/netns.js';
import { scenarioChange, scenarioPods, scenarioRule } from '../../controller/demo/scenario.js';
import { getJson, projectRoot, startWeir, until, workspace, type Proc, type StatusDoc, type Workspace } from './harness.js';

const noKernel = skipKernel() || !existsSync(path.join(projectRoot, 'bpf/build/endpoint.bpf.o'));

describe.skipIf(noKernel)('kernel agent (root, npm run build)', () => {
  let ws: Workspace;
  let net: PodNetwork;
  let ctl: Proc;
  let agent: Proc | undefined;
  let url = '';
  const status = () => getJson<StatusDoc>(`${url}/v1/status`, { headers: ws.auth });
  const startAgent = async (extra: string[] = []) => {
    const interfaces = path.join(ws.dir, 'interfaces.json');
    await fs.writeFile(interfaces, JSON.stringify(net.interfaces));
    agent = await startWeir([
      'agent',
      '--node',
      'node-1',
      '--controller',
      url,
      '--trust',
      ws.pubFile,
      '--state-dir',
      path.join(ws.dir, 'agent'),
      '--datapath',
      'kernel',
      '--interfaces',
      interfaces,
      '--pin-dir',
      net.pinDir,
      '--long-poll',
      '5s',
      '--insecure-loopback',
      '--token-file',
      ws.nodeTokenFile('node-1'),
      ...extra,
    ]);
  };

  beforeAll(async () => {
    ws = await workspace();
    net = await createPodNetwork(scenarioPods, 'wag');
    await ws.commit({ 'policies/pods.yaml': scenarioPods, 'policies/rule1.yaml': scenarioRule }, 'empire only');
    ctl = await startWeir([
      'controller',
      '--repo',
      ws.repo,
      '--state-dir',
      path.join(ws.dir, 'controller'),
      '--listen',
      '127.0.0.1:0',
      '--poll',
      '0',
      '--key',
      ws.keyFile,
      '--max-drop-increase',
      '1',
      '--insecure-loopback',
      '--token-file',
      ws.operatorTokenFile,
      '--node-tokens',
      ws.nodeTokensFile,
    ]);
    url = String(ctl.first['url']);
  }, 120_000);

  afterAll(async () => {
    await agent?.kill('SIGKILL');
    await ctl?.kill('SIGKILL');
    await net?.destroy();
    await ws?.cleanup();
  });

  let rev1 = '';
  it('enforces the first commit on the wire', async () => {
    await startAgent();
    rev1 = await until('applied', async () => (await status()).nodes[0]?.applied?.revision);
    expect((await status()).nodes[0]).toMatchObject({ state: 'applied', datapath: 'kernel' });
    expect(await net.verdictOnWire('tiefighter', 'deathstar', 80)).toBe('allow');
    expect(await net.verdictOnWire('xwing', 'deathstar', 80)).toBe('deny');
  }, 60_000);

  it('keeps enforcing when the agent is SIGKILLed mid-apply, and reconciles on restart', async () => {
    await agent!.kill('SIGTERM');
    await startAgent(['--apply-delay', '4s']); // stages the next bundle slowly
    await until('re-registered', async () => (await status()).nodes[0]?.applied?.revision === rev1);
    const rev2 = await ws.commit({ 'policies/alliance-landing.yaml': scenarioChange }, 'alliance may land');
    await fetch(`${url}/v1/webhook`, { method: 'POST', headers: ws.auth });
    await until('controller wants rev2', async () => (await status()).nodes[0]?.desired?.revision === rev2);
    await new Promise((r) => setTimeout(r, 1000)); // inside the apply delay: downloaded, not swapped
    await agent!.kill('SIGKILL');
    // No agent process: the pinned maps and tc filters keep the old policy in force.
    expect(await net.verdictOnWire('tiefighter', 'deathstar', 80)).toBe('allow');
    expect(await net.verdictOnWire('xwing', 'deathstar', 80)).toBe('deny');
    await startAgent();
    await until('rev2 applied after restart', async () => (await status()).nodes[0]?.applied?.revision === rev2, 30_000);
    expect(await net.verdictOnWire('xwing', 'deathstar', 80)).toBe('allow');
    expect(await net.verdictOnWire('tiefighter', 'deathstar', 8080)).toBe('deny');
  }, 90_000);
});
