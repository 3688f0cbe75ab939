// Node identity: a credential speaks for the node it names (certificate CN/SAN, per-node token) and
// only for a node the controller knows; every report is checked field by field; the canary is not
// chosen by name, and a drop rate that is not a fraction fails the gate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fs, readFileSync } from 'node:fs';
import * as https from 'node:https';
import * as path from 'node:path';
import { generateSigningKey } from '../../controller/bundle/sign.js';
import { serveController } from '../../controller/reconcile/api.js';
import { ProjectCompiler } from '../../controller/reconcile/compiler.js';
import { canaryOrder, Controller } from '../../controller/reconcile/controller.js';
import { evaluateGate } from '../../controller/reconcile/gate.js';
import { silentLogger } from '../../controller/reconcile/log.js';
import { Client, type Listening } from '../../controller/transport/http.js';
import { empireOnly, pods, workspace, type Workspace } from './harness.js';
import { pki } from './pki.js';

describe('node identity', () => {
  let ws: Workspace;
  let c: Controller;
  let server: Listening;
  let pkiDir: string;
  const operatorToken = 'operator-token-0123456789abcdef';
  const tokens = new Map([
    ['node-a', 'node-a-token-0123456789abcdef'],
    ['node-b', 'node-b-token-0123456789abcdef'],
  ]);
  const clients: Client[] = [];
  const f = (n: string) => path.join(pkiDir, n);
  const client = (opts: { token?: string; cert?: string }) => {
    const cl = new Client(server.url, {
      tls: { ca: f('ca.crt'), ...(opts.cert ? { cert: f(`${opts.cert}.crt`), key: f(`${opts.cert}.key`) } : {}) },
      ...(opts.token ? { token: opts.token } : {}),
    });
    clients.push(cl);
    return cl;
  };

  beforeAll(async () => {
    ws = await workspace();
    pkiDir = path.join(ws.dir, 'pki');
    await fs.mkdir(pkiDir);
    await pki(pkiDir, ['node-c', '0-evil']);
    await ws.commit({ 'policies/pods.yaml': pods, 'policies/rule1.yaml': empireOnly }, 'empire may land');
    c = new Controller({
      repo: ws.repo,
      branch: 'main',
      paths: ['policies'],
      stateDir: path.join(ws.dir, 'controller'),
      compiler: new ProjectCompiler(),
      key: generateSigningKey(),
      logger: silentLogger(),
      pollIntervalMs: 0,
    });
    server = await serveController(c, '127.0.0.1', 0, {
      tls: { cert: f('server.crt'), key: f('server.key'), ca: f('ca.crt') },
      token: operatorToken,
      nodeTokens: tokens,
    });
    await c.start();
    await c.idle();
  }, 60_000);

  afterAll(async () => {
    for (const cl of clients) cl.close();
    await c?.stop();
    await server?.close();
    await ws?.cleanup();
  });

  const register = (cl: Client, node: string) =>
    cl.json<{ error?: string }>('POST', `/v1/nodes/${node}/register`, {
      features: { datapath: 'emulator', btf: false, mapInMap: true, lpmTrie: true, hooks: [] },
    });

  it('a per-node token registers its own node and no other', async () => {
    const a = client({ token: tokens.get('node-a')! });
    expect((await register(a, 'node-a')).status).toBe(200);
    const other = await register(a, 'node-b');
    expect(other.status).toBe(403);
    expect(other.value?.error).toMatch(/not node node-b's \(it names node-a\)/);
    expect((await a.json('POST', '/v1/nodes/node-b/status', { dropRate: 0 })).status).toBe(403);
    expect(c.nodes.has('node-b')).toBe(false);
  });

  it("a client certificate speaks for the node in its CN/SAN: node-c's cannot report as node-a", async () => {
    const cc = client({ cert: 'node-c' });
    expect((await register(cc, 'node-c')).status).toBe(200);
    const r = await cc.json<{ error?: string }>('POST', '/v1/nodes/node-a/status', { dropRate: 1 });
    expect(r.status).toBe(403);
    expect(c.nodes.get('node-a')?.dropRate).toBeUndefined();
  });

  it('a node the controller does not know is refused even with a valid certificate (a fake 0-evil cannot join)', async () => {
    const evil = client({ cert: '0-evil' });
    const r = await register(evil, '0-evil');
    expect(r.status).toBe(403);
    expect(r.value?.error).toMatch(/node 0-evil is not in the inventory or the allow list/);
    expect(c.nodes.has('0-evil')).toBe(false);
  });

  it('the operator token reads status but speaks for no node; no credential gets 401', async () => {
    const op = client({ token: operatorToken });
    expect((await op.request('GET', '/v1/status')).status).toBe(200);
    expect((await register(op, 'node-a')).status).toBe(403);
    const none = client({});
    expect((await none.request('GET', '/v1/status')).status).toBe(401);
    const rn = await register(none, 'node-a');
    expect(rn.status).toBe(401);
    const nodeA = client({ token: tokens.get('node-a')! });
    expect((await nodeA.request('GET', '/v1/status')).status).toBe(403);
  });

  it.each([
    ['a drop rate that is a string', { dropRate: 'NaN-bypass' }, /dropRate/],
    ['a drop rate above 1', { dropRate: 1.5 }, /dropRate/],
    ['a negative map entry count', { maps: [{ name: 'policy', entries: -1 }] }, /entries/],
    ['a digest that is not hex', { applied: { revision: 'r', digest: 'zz' } }, /digest/],
    ['an unknown field', { dropRate: 0, bypass: true }, /additional properties/],
    ['a body that is not JSON', 'not json', /not JSON/],
  ])('refuses a report with %s (400) and keeps what it knew', async (_what, body, want) => {
    const a = client({ token: tokens.get('node-a')! });
    const before = JSON.stringify(c.nodes.get('node-a'));
    const r =
      typeof body === 'string'
        ? await rawPost(server.url, f('ca.crt'), tokens.get('node-a')!, '/v1/nodes/node-a/status', body)
        : await a.json<{ error: string }>('POST', '/v1/nodes/node-a/status', body);
    expect(r.status).toBe(400);
    expect(r.value?.error).toMatch(want);
    expect(JSON.stringify(c.nodes.get('node-a'))).toBe(before);
  });

  it('accepts a well-formed report', async () => {
    const a = client({ token: tokens.get('node-a')! });
    const r = await a.json('POST', '/v1/nodes/node-a/status', {
      dropRate: 0.25,
      maps: [{ name: 'policy', endpoint: 'default/deathstar', entries: 3 }],
      timings: { loadMs: 1, swapMs: 0.5 },
    });
    expect(r.status).toBe(200);
    expect(c.nodes.get('node-a')?.dropRate).toBe(0.25);
  });
});

/** A POST whose body is not JSON (Client only sends JSON). */
function rawPost(
  url: string,
  ca: string,
  token: string,
  p: string,
  text: string,
): Promise<{ status: number; value: { error: string } | undefined }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(p, url),
      {
        method: 'POST',
        ca: readFileSync(ca),
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, value: JSON.parse(Buffer.concat(chunks).toString()) as { error: string } }),
        );
      },
    );
    req.on('error', reject);
    req.end(text);
  });
}

describe('canary choice and gate', () => {
  it('orders nodes by a keyed hash: a name cannot put a node first, and one key gives one order', () => {
    const nodes = ['0-evil', 'node-a', 'node-b', 'node-c'];
    let evilFirst = 0;
    for (let i = 0; i < 200; i++) {
      const secret = Buffer.from(`secret-${i}`);
      const order = canaryOrder(nodes, secret);
      expect([...order].sort()).toEqual(nodes);
      expect(canaryOrder([...nodes].reverse(), secret)).toEqual(order);
      if (order[0] === '0-evil') evilFirst++;
    }
    // By name it would be first every time; by keyed hash about a quarter of the time.
    expect(evilFirst).toBeGreaterThan(20);
    expect(evilFirst).toBeLessThan(100);
  });

  it('a canary drop rate that is NaN or out of range fails the gate', () => {
    const d = 'a'.repeat(64);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, -0.5, 2]) {
      const g = evaluateGate(d, [{ node: 'node-a', appliedDigest: d, dropRate: bad }], new Map(), 0.05);
      expect(g.result).toBe('fail');
    }
    expect(evaluateGate(d, [{ node: 'node-a', appliedDigest: d, dropRate: 0.01 }], new Map(), 0.05).result).toBe('pass');
  });
});
