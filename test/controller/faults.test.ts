// The controller after faults: a rollout interrupted in Canary (the process killed) resumes its
// gate on restart; a state.json that is not JSON, or holds {"desired": null}, is moved aside and
// the controller continues from the branch head; a full disk is reported on /healthz with what to
// do, leaves no temporary file, and the commit is rolled out by itself once space returns.
import { afterEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Agent } from '../../controller/agent/agent.js';
import { EmulatorDatapath } from '../../controller/agent/emulated-datapath.js';
import { generateSigningKey } from '../../controller/bundle/sign.js';
import { serveController } from '../../controller/reconcile/api.js';
import { ProjectCompiler } from '../../controller/reconcile/compiler.js';
import { Controller } from '../../controller/reconcile/controller.js';
import { silentLogger } from '../../controller/reconcile/log.js';
import { Client, type Listening } from '../../controller/transport/http.js';
import { empireOnly, pods, until, workspace, type Workspace } from './harness.js';

const token = 'node-a-token-0123456789abcdef';
const key = generateSigningKey();
const compiler = new ProjectCompiler();

describe('controller state after faults', () => {
  let ws: Workspace | undefined;
  const stops: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
    await ws?.cleanup();
  });

  const start = async (stateDir: string, opts: { gateTimeoutMs?: number } = {}) => {
    const c = new Controller({
      repo: ws!.repo,
      branch: 'main',
      paths: ['policies'],
      stateDir,
      compiler,
      key,
      logger: silentLogger(),
      pollIntervalMs: 0,
      canaries: ['node-a'],
      gateTimeoutMs: opts.gateTimeoutMs ?? 60_000,
    });
    const server = await serveController(c, '127.0.0.1', 0, {
      insecureLoopback: true,
      token: ws!.operatorToken,
      nodeTokens: new Map([['node-a', token]]),
    });
    stops.push(
      () => server.close(),
      () => c.stop(),
    );
    return { c, server };
  };
  const get = (s: Listening, p: string) => fetch(`${s.url}${p}`, { headers: { authorization: `Bearer ${ws!.operatorToken}` } });

  it('a rollout killed in Canary resumes its gate after a restart and completes', async () => {
    ws = await workspace();
    const rev = await ws.commit({ 'policies/pods.yaml': pods, 'policies/rule1.yaml': empireOnly }, 'one');
    const stateDir = path.join(ws.dir, 'controller');
    const first = await start(stateDir);
    // node-a is live but applies nothing: the rollout waits at the canary gate.
    const silent = new Client(first.server.url, { insecureLoopback: true, token });
    expect((await silent.json('POST', '/v1/nodes/node-a/register', { features: { datapath: 'emulator' } })).status).toBe(200);
    silent.close();
    void first.c.start();
    await until(
      'canary phase on disk',
      async () => JSON.parse(await fs.readFile(path.join(stateDir, 'state.json'), 'utf8')).current?.phase === 'Canary',
    );
    // The process dies here: nothing after the Canary write happens.
    await first.c.stop();
    await first.server.close();

    const second = await start(stateDir);
    const agent = new Agent({
      node: 'node-a',
      client: new Client(second.server.url, { insecureLoopback: true, token }),
      trustedKey: key.publicKey,
      stateDir: path.join(ws.dir, 'agent'),
      datapath: new EmulatorDatapath('node-a'),
      logger: silentLogger(),
      longPollMs: 300,
    });
    stops.push(() => agent.stop());
    await agent.start();
    await second.c.start();
    await until('rollout complete', async () => second.c.phase === 'Complete', 30_000);
    expect(second.c.state.current).toMatchObject({ revision: rev, phase: 'Complete' });
    expect(agent.applied?.revision).toBe(rev);
  }, 60_000);

  it.each([
    ['not JSON', '{"desired": {'],
    ['{"desired": null}', '{"desired": null}'],
    ['a lastGood of the wrong shape', '{"desired": {}, "lastGood": {"revision": 1, "digest": "x"}}'],
  ])('a state.json that is %s is moved aside; the controller serves and reconciles from the branch head', async (_what, text) => {
    ws = await workspace();
    const rev = await ws.commit({ 'policies/pods.yaml': pods, 'policies/rule1.yaml': empireOnly }, 'one');
    const stateDir = path.join(ws.dir, 'controller');
    await fs.mkdir(stateDir, { recursive: true });
    await fs.writeFile(path.join(stateDir, 'state.json'), text);
    const { c, server } = await start(stateDir);
    await c.start();
    await c.idle();
    expect(c.phase).toBe('Complete');
    expect(c.state.lastSeenCommit).toBe(rev);
    expect(c.recovered).toMatch(/state\.json was unreadable .* moved to .*state\.json\.invalid-/);
    expect((await fs.readdir(stateDir)).some((f) => f.startsWith('state.json.invalid-'))).toBe(true);
    const st = await get(server, '/v1/status');
    expect(st.status).toBe(200);
    expect(((await st.json()) as { recovered: string }).recovered).toMatch(/moved to/);
    const reg = await fetch(`${server.url}/v1/nodes/node-a/register`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(reg.status).toBe(200);
    expect((await get(server, '/healthz')).status).toBe(200);
  });

  const root = process.getuid?.() === 0;
  it.skipIf(!root)(
    'a full disk is reported on /healthz with what to do, leaves no temporary file, and the commit rolls out once space returns (needs root for a tmpfs)',
    async () => {
      ws = await workspace();
      const rev = await ws.commit({ 'policies/pods.yaml': pods, 'policies/rule1.yaml': empireOnly }, 'one');
      const stateDir = path.join(ws.dir, 'tiny');
      await fs.mkdir(stateDir);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=12k', 'weir-test-tmpfs', stateDir]);
      stops.push(async () => execFileSync('umount', ['-l', stateDir]));
      const { c, server } = await start(stateDir);
      await c.start();
      await until('the fault on /healthz', async () => (await get(server, '/healthz')).status === 503);
      const h = (await (await get(server, '/healthz')).json()) as { reasons: string[] };
      expect(h.reasons.join('\n')).toMatch(/out of space|ENOSPC/);
      expect(h.reasons.join('\n')).toMatch(/free space .*retries by itself/);
      expect(c.state.lastSeenCommit).toBeUndefined();
      const files = execFileSync('find', [stateDir, '-name', '*.tmp*'], { encoding: 'utf8' }).trim();
      expect(files).toBe('');
      execFileSync('mount', ['-o', 'remount,size=8m', stateDir]);
      await until('rolled out once space returned', async () => c.phase === 'Complete' && c.state.lastSeenCommit === rev, 40_000);
      expect((await get(server, '/healthz')).status).toBe(200);
      expect(existsSync(path.join(stateDir, 'state.json'))).toBe(true);
    },
    60_000,
  );
});
