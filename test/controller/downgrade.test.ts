// Rollback and freeze attacks (TUF's terms): every node view carries a signed, monotonic rollout
// step and the revision; an agent refuses a step older than the one it applied (also after a
// restart), takes a rollback only as a newer step of the old content, refuses a desired bundle
// whose signed timestamp expired, and reports on /metrics how stale the bundle in force is.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Bundle } from '../../compiler/bundle/assemble.js';
import { Agent, type DesiredDoc } from '../../controller/agent/agent.js';
import { EmulatorDatapath } from '../../controller/agent/emulated-datapath.js';
import { nodeManifest } from '../../controller/bundle/codec.js';
import { generateSigningKey, signDigest } from '../../controller/bundle/sign.js';
import { serveController } from '../../controller/reconcile/api.js';
import { ProjectCompiler } from '../../controller/reconcile/compiler.js';
import { Controller } from '../../controller/reconcile/controller.js';
import { silentLogger } from '../../controller/reconcile/log.js';
import { Client, listen, sendJson, type Listening } from '../../controller/transport/http.js';
import { empireAndAlliance, empireOnly, pods, signedTimestamp, workspace } from './harness.js';

const compiler = new ProjectCompiler();
async function compile(policy: string): Promise<Bundle> {
  const r = await compiler.compileFiles(
    [
      { file: 'pods.yaml', bytes: Buffer.from(pods) },
      { file: 'rule.yaml', bytes: Buffer.from(policy) },
    ],
    'r',
  );
  if (!r.bundle) throw new Error(JSON.stringify(r.diagnostics));
  return r.bundle;
}

const good = await compile(empireOnly);
const next = await compile(empireAndAlliance);

describe('rollout steps and freshness at the agent', () => {
  const key = generateSigningKey();
  let dir: string;
  let server: Listening;
  const served = new Map<string, Buffer>();
  const agents: Agent[] = [];
  const dp = new EmulatorDatapath('node-a');
  const newAgent = () => {
    const a = new Agent({
      node: 'node-a',
      client: new Client(server.url, { insecureLoopback: true }),
      trustedKey: key.publicKey,
      stateDir: dir,
      datapath: dp,
      logger: silentLogger(),
      longPollMs: 200,
    });
    agents.push(a);
    return a;
  };

  /** The signed desired document of `b` at rollout step `sequence`, with a timestamp valid for `validMs`. */
  const desired = (b: Bundle, sequence: number, revision: string, validMs = 60_000, issuedAt = Date.now()): DesiredDoc => {
    const nm = nodeManifest(b.manifest, b.digest, 'node-a', { sequence, revision });
    served.set(`/v1/manifests/${nm.digest}`, nm.bytes);
    for (const [d, bytes] of b.blobs) served.set(`/v1/blobs/sha256/${d}`, Buffer.from(bytes));
    return {
      revision: `label-${revision}`,
      digest: b.digest,
      sequence,
      manifest: nm.digest,
      signature: signDigest(key, nm.digest),
      timestamp: signedTimestamp(key, 'node-a', nm.digest, sequence, { issuedAt, validMs }),
    };
  };

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'weir-downgrade-'));
    server = await listen('127.0.0.1', 0, { insecureLoopback: true }, (req, res) => {
      const p = (req.url ?? '').split('?')[0]!;
      if (p.endsWith('/status')) return sendJson(res, 200, { ok: true });
      const b = served.get(p);
      if (!b) return sendJson(res, 404, {});
      res.writeHead(200).end(b);
    });
  });
  afterAll(async () => {
    await server.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const xwingToDeathstar = async () => (await dp.verdict({ src: '10.0.0.12', dst: '10.0.0.10', protocol: 'TCP', port: 80 })).verdict;

  it('applies step 5 and reports the signed revision, not the label of the desired document', async () => {
    const a = newAgent();
    await a.reconcile(desired(next, 5, 'commit-5'));
    expect(a.applied).toEqual({ revision: 'commit-5', digest: next.digest, sequence: 5 });
    expect(await xwingToDeathstar()).toBe('allow');
  });

  it('refuses a replayed, validly signed older step and keeps step 5 in force', async () => {
    const a = agents[0]!;
    await a.reconcile(desired(good, 3, 'commit-3'));
    expect(a.lastError).toMatch(/rollout step 3, older than step 5 in force \(a replayed or downgraded bundle\)/);
    expect(a.applied?.digest).toBe(next.digest);
    expect(await xwingToDeathstar()).toBe('allow');
  });

  it('still refuses it after a restart: the highest step is persisted', async () => {
    const b = newAgent();
    await b.start();
    await b.stop();
    expect(b.highest).toBe(5);
    await b.reconcile(desired(good, 4, 'commit-4'));
    expect(b.lastError).toMatch(/older than step 5/);
    expect(await xwingToDeathstar()).toBe('allow');
  });

  it('takes a rollback as a newer step of the old content', async () => {
    const b = agents[1]!;
    await b.reconcile(desired(good, 6, 'commit-3'));
    expect(b.applied).toEqual({ revision: 'commit-3', digest: good.digest, sequence: 6 });
    expect(await xwingToDeathstar()).toBe('deny');
  });

  it('refuses a desired bundle whose signed timestamp expired (freeze), and one without a timestamp', async () => {
    const b = agents[1]!;
    await b.reconcile(desired(next, 7, 'commit-7', 1000, Date.now() - 60_000));
    expect(b.lastError).toMatch(/timestamp expired at .* \(a replayed or withheld answer: freeze\)/);
    expect(b.applied?.sequence).toBe(6);
    const { timestamp: _drop, ...bare } = desired(next, 8, 'commit-8');
    await b.reconcile(bare);
    expect(b.lastError).toMatch(/no signed timestamp/);
    expect(b.applied?.sequence).toBe(6);
  });

  it('reports staleness on /metrics once the last timestamp for the bundle in force expires', async () => {
    const b = agents[1]!;
    await b.reconcile(desired(next, 9, 'commit-9', 300));
    expect(b.applied?.sequence).toBe(9);
    let text = await b.registry.metrics();
    expect(text).toMatch(/^weir_agent_bundle_stale 0$/m);
    expect(text).toMatch(/^weir_agent_rollout_sequence 9$/m);
    await new Promise((r) => setTimeout(r, 400));
    text = await b.registry.metrics();
    expect(text).toMatch(/^weir_agent_bundle_stale 1$/m);
    expect(Number(/^weir_agent_bundle_confirmed_age_seconds (\S+)$/m.exec(text)?.[1])).toBeGreaterThan(0.3);
    expect(await xwingToDeathstar()).toBe('allow'); // enforcement stays
  });
});

describe('rollout steps at the controller', () => {
  it('numbers every step, rolls back as a newer step, and continues above the step a node proves after losing its state', async () => {
    const ws = await workspace();
    const key = generateSigningKey();
    const token = 'node-a-token-0123456789abcdef';
    const mk = () =>
      new Controller({
        repo: ws.repo,
        branch: 'main',
        paths: ['policies'],
        stateDir: path.join(ws.dir, 'controller'),
        compiler,
        key,
        logger: silentLogger(),
        pollIntervalMs: 0,
        canaries: ['node-a'],
        gateTimeoutMs: 20_000,
      });
    let c = mk();
    let server = await serveController(c, '127.0.0.1', 0, { insecureLoopback: true, nodeTokens: new Map([['node-a', token]]) });
    const dp = new EmulatorDatapath('node-a');
    const agentFor = (url: string) =>
      new Agent({
        node: 'node-a',
        client: new Client(url, { insecureLoopback: true, token }),
        trustedKey: key.publicKey,
        stateDir: path.join(ws.dir, 'agent'),
        datapath: dp,
        logger: silentLogger(),
        longPollMs: 300,
      });
    const until = async (f: () => boolean) => {
      for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 50));
      expect(f()).toBe(true);
    };
    let agent = agentFor(server.url);
    try {
      await ws.commit({ 'policies/pods.yaml': pods, 'policies/rule1.yaml': empireOnly }, 'one');
      await c.start();
      await agent.start();
      await until(() => agent.applied?.revision === c.state.lastGood?.revision && c.phase === 'Complete');
      const first = agent.highest;
      expect(first).toBeGreaterThanOrEqual(1);
      await ws.commit({ 'policies/rule1.yaml': empireAndAlliance }, 'two');
      await c.trigger('test');
      await until(() => c.phase === 'Complete' && agent.highest > first);
      const second = agent.highest;
      // The controller forgets everything (state and store); the agent proves step `second`.
      await c.stop();
      await server.close();
      await agent.stop();
      await fs.rm(path.join(ws.dir, 'controller'), { recursive: true, force: true });
      c = mk();
      server = await serveController(c, '127.0.0.1', 0, { insecureLoopback: true, nodeTokens: new Map([['node-a', token]]) });
      agent = agentFor(server.url);
      await agent.start();
      await until(() => (c.state.sequence ?? 0) >= second);
      await c.start();
      await ws.commit({ 'policies/rule1.yaml': empireOnly }, 'three');
      await c.trigger('test');
      await until(() => agent.applied?.revision === c.state.lastGood?.revision && c.phase === 'Complete' && agent.highest > second);
      expect(agent.lastError).toBeUndefined();
    } finally {
      await agent.stop();
      await c.stop();
      await server.close();
      await ws.cleanup();
    }
  }, 90_000);
});
