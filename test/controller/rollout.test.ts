// End to end on loopback: a real Git repository, the controller and three agents as separate
// processes (emulator datapath). Commit → applied everywhere; a commit that does not compile is
// never rolled out; a lockdown commit is stopped at the canary gate and rolled back; a restarted
// controller does not re-roll; a SIGKILLed agent adopts its last bundle and reconciles.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as path from 'node:path';
import {
  denyAll,
  empireAndAlliance,
  empireOnly,
  getJson,
  pods,
  startWeir,
  until,
  workspace,
  type Proc,
  type StatusDoc,
  type Workspace,
} from './harness.js';

describe('controller and agents on loopback', () => {
  let ws: Workspace;
  let ctl: Proc;
  let url: string;
  const agents = new Map<string, Proc>();
  const stateDir = () => path.join(ws.dir, 'controller');

  const startController = async (listen = '127.0.0.1:0') => {
    ctl = await startWeir([
      'controller',
      '--repo',
      ws.repo,
      '--branch',
      'main',
      '--path',
      'policies',
      '--state-dir',
      stateDir(),
      '--listen',
      listen,
      '--poll',
      '0',
      '--key',
      ws.keyFile,
      '--gate-timeout',
      '8s',
      '--max-drop-increase',
      '0.2',
      '--insecure-loopback',
      '--token-file',
      ws.operatorTokenFile,
      '--node-tokens',
      ws.nodeTokensFile,
      '--canary',
      'node-a',
    ]);
    url = String(ctl.first['url']);
  };
  const startAgent = async (node: string) => {
    const p = await startWeir([
      'agent',
      '--node',
      node,
      '--controller',
      url,
      '--trust',
      ws.pubFile,
      '--state-dir',
      path.join(ws.dir, node),
      '--traffic',
      ws.trafficFile,
      '--events',
      path.join(ws.dir, `${node}.events.jsonl`),
      '--long-poll',
      '5s',
      '--insecure-loopback',
      '--token-file',
      ws.nodeTokenFile(node),
    ]);
    agents.set(node, p);
    return p;
  };
  const status = () => getJson<StatusDoc>(`${url}/v1/status`, { headers: ws.auth });
  const webhook = () => fetch(`${url}/v1/webhook`, { method: 'POST', headers: ws.auth });
  const verdict = async (node: string, src: string, dst: string, port = 80) =>
    (
      await getJson<{ verdict: string; reason: string }>(`${String(agents.get(node)!.first['url'])}/v1/verdict`, {
        method: 'POST',
        body: JSON.stringify({ src, dst, port, protocol: 'TCP' }),
      })
    ).verdict;
  const allApplied = (rev: string) =>
    until(`all nodes at ${rev.slice(0, 8)}`, async () => {
      const s = await status();
      return s.nodes.length === 3 && s.nodes.every((n) => n.applied?.revision === rev) ? s : undefined;
    });

  beforeAll(async () => {
    ws = await workspace();
    await ws.commit({ 'policies/pods.yaml': pods, 'policies/rule1.yaml': empireOnly }, 'empire may land');
    await startController();
    await Promise.all(['node-a', 'node-b', 'node-c'].map(startAgent));
  }, 90_000);

  afterAll(async () => {
    for (const a of agents.values()) await a.kill('SIGKILL');
    await ctl?.kill('SIGKILL');
    await ws?.cleanup();
  });

  let rev1 = '';
  let rev2 = '';
  it('rolls the first commit out to every node and enforces it', async () => {
    rev1 = (await status()).lastSeenCommit ?? '';
    expect(rev1).toMatch(/^[0-9a-f]{40}$/);
    const s = await allApplied(rev1);
    expect(s.phase).toBe('Complete');
    expect(await verdict('node-a', '10.0.0.11', '10.0.0.10')).toBe('allow'); // tiefighter → deathstar
    expect(await verdict('node-a', '10.0.0.12', '10.0.0.10')).toBe('deny'); // xwing → deathstar
  });

  it('applies a new commit after the webhook, canary first', async () => {
    rev2 = await ws.commit({ 'policies/rule1.yaml': empireAndAlliance }, 'alliance may land too');
    const t0 = Date.now();
    expect((await webhook()).status).toBe(202);
    const s = await allApplied(rev2);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(s.phase).toBe('Complete');
    expect(await verdict('node-a', '10.0.0.12', '10.0.0.10')).toBe('allow');
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/weir_controller_rollouts_total\{result="complete"\} [1-9]/);
    expect(metrics).toMatch(/weir_controller_nodes\{state="applied"\} 3/);
  });

  it('never rolls out a commit that does not compile, and says where it fails', async () => {
    const bad = await ws.commit(
      { 'policies/broken.yaml': 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x\nspec: [\n' },
      'broken yaml',
    );
    await webhook();
    const s = await until('compile failure in status', async () => {
      const st = await status();
      return st.lastSeenCommit === bad && st.phase === 'CompileFailed' ? st : undefined;
    });
    expect(s.lastError?.message).toMatch(/does not compile/);
    expect(s.lastError?.message).toMatch(/policies\/broken\.yaml:\d+:\d+/);
    expect(s.nodes.every((n) => n.applied?.revision === rev2)).toBe(true);
  });

  let rev3 = '';
  it('stops a lockdown commit at the canary gate and rolls the canary back', async () => {
    rev3 = await ws.commit({ 'policies/broken.yaml': null, 'policies/lockdown.yaml': denyAll }, 'lock everything down');
    await webhook();
    const s = await until('rollback', async () => {
      const st = await status();
      return st.current?.revision === rev3 && st.phase === 'RolledBack' ? st : undefined;
    });
    expect(s.lastError?.message).toMatch(/canary node-a: drop rate rose from 0\.0% to 33\.3%/);
    expect(s.lastGood?.revision).toBe(rev2);
    // The canary returns to the last good bundle; the others never saw the bad one.
    const back = await allApplied(rev2);
    expect(back.nodes.map((n) => n.desired?.revision)).toEqual([rev2, rev2, rev2]);
    expect(await verdict('node-a', '10.0.0.12', '10.0.0.10')).toBe('allow');
    const events = await import('node:fs').then((fs) => fs.readFileSync(path.join(ws.dir, 'node-b.events.jsonl'), 'utf8'));
    expect(events).not.toContain(rev3);
  });

  it('does not re-roll anything after a controller restart', async () => {
    const before = await status();
    await ctl.kill('SIGTERM');
    await startController(new URL(url).host); // same port: the agents reconnect on their own
    const after = await until('agents re-registered', async () => {
      const st = await status();
      return st.nodes.length === 3 && st.nodes.every((n) => n.applied?.revision === rev2) ? st : undefined;
    });
    expect(after.lastSeenCommit).toBe(before.lastSeenCommit);
    expect(after.phase).toBe('RolledBack');
    expect(after.current?.revision).toBe(rev3);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).not.toMatch(/weir_controller_rollouts_total\{result="complete"\} [1-9]/);
  });

  it('a SIGKILLed agent adopts its bundle on restart and reconciles to the new one', async () => {
    await agents.get('node-b')!.kill('SIGKILL');
    const rev4 = await ws.commit({ 'policies/lockdown.yaml': null, 'policies/rule1.yaml': empireOnly }, 'back to empire only');
    await webhook();
    await until('node-a at rev4', async () => (await status()).nodes.find((n) => n.node === 'node-a')?.applied?.revision === rev4).catch(
      async (e: Error) => {
        throw new Error(`${e.message}\n${JSON.stringify(await status(), null, 1).slice(0, 3000)}\n${ctl.stderr().slice(-2000)}`);
      },
    );
    const b = await startAgent('node-b');
    await allApplied(rev4);
    const events = (await import('node:fs')).readFileSync(path.join(ws.dir, 'node-b.events.jsonl'), 'utf8');
    const types = events
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; revision?: string });
    expect(types.filter((e) => e.type === 'bundle-adopted').map((e) => e.revision)).toContain(rev2);
    expect(types.at(-1)?.type === 'bundle-applied' || types.some((e) => e.type === 'bundle-applied' && e.revision === rev4)).toBe(true);
    expect(await verdict('node-a', '10.0.0.12', '10.0.0.10')).toBe('deny');
    void b;
  });
});
