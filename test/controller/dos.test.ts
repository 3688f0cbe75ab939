// Pre-authentication denial of service: credentials are checked before a byte of the body is read,
// bodies are capped per route, connections are bounded per client and in total, idle and slow
// connections are closed, and running out of file descriptors (EMFILE) in a git child process is
// logged and retried: the controller never dies of it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import * as net from 'node:net';
import * as path from 'node:path';
import { generateSigningKey } from '../../controller/bundle/sign.js';
import { serveController } from '../../controller/reconcile/api.js';
import { ProjectCompiler } from '../../controller/reconcile/compiler.js';
import { Controller } from '../../controller/reconcile/controller.js';
import { silentLogger } from '../../controller/reconcile/log.js';
import type { Listening } from '../../controller/transport/http.js';
import { empireAndAlliance, empireOnly, getJson, pods, projectRoot, until, workspace, type StatusDoc, type Workspace } from './harness.js';

const token = 'node-a-token-0123456789abcdef';
const webhookSecret = 'webhook-secret-0123456789abcdef';

/** A raw TCP client from `local` (a loopback source address): what it sent, and what came back. */
function raw(port: number, local = '127.0.0.1'): { sock: net.Socket; received: () => string; closed: Promise<void>; ready: Promise<void> } {
  const sock = net.connect({ port, host: '127.0.0.1', localAddress: local });
  let data = '';
  sock.on('data', (d: Buffer) => (data += d.toString('latin1')));
  sock.on('error', () => undefined);
  const closed = new Promise<void>((r) => sock.on('close', () => r()));
  const ready = new Promise<void>((r) => sock.on('connect', () => r()));
  return { sock, received: () => data, closed, ready };
}

const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

describe('pre-authentication limits', () => {
  let ws: Workspace;
  let c: Controller;
  let server: Listening;
  let port: number;
  const rejected: string[] = [];

  beforeAll(async () => {
    ws = await workspace();
    await ws.commit({ 'policies/pods.yaml': pods, 'policies/rule1.yaml': empireOnly }, 'one');
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
    server = await serveController(
      c,
      '127.0.0.1',
      0,
      {
        insecureLoopback: true,
        token: ws.operatorToken,
        nodeTokens: new Map([['node-a', token]]),
        webhookSecret,
        limits: { maxConnectionsPerClient: 8, maxConnections: 40, headersTimeoutMs: 600, requestTimeoutMs: 3000 },
      },
      { onReject: (r) => rejected.push(r) },
    );
    port = Number(new URL(server.url).port);
  });
  afterAll(async () => {
    await c?.stop();
    await server?.close();
    await ws?.cleanup();
  });

  it('answers 401 to an unauthenticated 8 MiB body before reading it, and closes the connection', async () => {
    for (const framing of ['content-length: 8388608', 'transfer-encoding: chunked']) {
      const r = raw(port, '127.0.0.2');
      await r.ready;
      r.sock.write(`POST /v1/nodes/node-a/status HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${framing}\r\n\r\n`);
      r.sock.write(framing.startsWith('content') ? Buffer.alloc(1024, 0x20) : `400\r\n${' '.repeat(1024)}\r\n`);
      // The rest of the body is never sent: a server that waits for it never answers.
      expect(await within(r.closed, 2000)).toBe(true);
      expect(r.received()).toMatch(/^HTTP\/1\.1 401 /);
    }
  });

  it('caps bodies per route (413), before reading what is declared too large', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const big = await fetch(`${server.url}/v1/nodes/node-a/register`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ features: { datapath: 'emulator', kernel: 'x'.repeat(2 << 20) } }),
    });
    expect(big.status).toBe(413);
    const r = raw(port, '127.0.0.2');
    await r.ready;
    r.sock.write(
      `POST /v1/nodes/node-a/status HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-length: ${64 << 20}\r\n\r\n`,
    );
    expect(await within(r.closed, 2000)).toBe(true);
    expect(r.received()).toMatch(/^HTTP\/1\.1 413 /);
    const getWithBody = raw(port, '127.0.0.2');
    await getWithBody.ready;
    getWithBody.sock.write(
      `GET /v1/status HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${ws.operatorToken}\r\ncontent-length: 10\r\n\r\n0123456789`,
    );
    expect(await within(getWithBody.closed, 2000)).toBe(true);
    expect(getWithBody.received()).toMatch(/^HTTP\/1\.1 413 /);
  });

  it('a Git host webhook is accepted with a valid X-Hub-Signature-256 and refused without one', async () => {
    const body = JSON.stringify({ ref: 'refs/heads/main', pad: 'x'.repeat(100_000) });
    const sig = `sha256=${createHmac('sha256', webhookSecret).update(body).digest('hex')}`;
    const ok = await fetch(`${server.url}/v1/webhook`, {
      method: 'POST',
      headers: { 'x-hub-signature-256': sig, 'content-type': 'application/json' },
      body,
    });
    expect(ok.status).toBe(202);
    const bad = await fetch(`${server.url}/v1/webhook`, {
      method: 'POST',
      headers: { 'x-hub-signature-256': sig.replace(/.$/, (c) => (c === '0' ? '1' : '0')), 'content-type': 'application/json' },
      body,
    });
    expect(bad.status).toBe(401);
    const none = await fetch(`${server.url}/v1/webhook`, { method: 'POST', body });
    expect(none.status).toBe(401);
    // A node's own token does not ring the webhook.
    const node = await fetch(`${server.url}/v1/webhook`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    expect(node.status).toBe(403);
    // The accepted webhook started a reconcile in this process: let it finish before timing connections.
    await c.idle();
  });

  it('bounds connections per client; another client is still served', async () => {
    const flood = Array.from({ length: 30 }, () => raw(port, '127.0.0.3'));
    await Promise.all(flood.map((f) => f.ready));
    await new Promise((r) => setTimeout(r, 100));
    const open = flood.filter((f) => !f.sock.destroyed && f.sock.readyState === 'open');
    expect(open.length).toBeLessThanOrEqual(8);
    expect(rejected).toContain('client-connections');
    const ok = await fetch(`${server.url}/v1/status`, { headers: { authorization: `Bearer ${ws.operatorToken}` } });
    expect(ok.status).toBe(200);
    for (const f of flood) f.sock.destroy();
  });

  it('bounds connections in total', async () => {
    const before = rejected.filter((x) => x === 'connections').length;
    const flood = Array.from({ length: 8 }, (_, i) => Array.from({ length: 8 }, () => raw(port, `127.0.1.${i + 1}`))).flat();
    await Promise.all(flood.map((f) => f.ready));
    await new Promise((r) => setTimeout(r, 150));
    expect(flood.filter((f) => !f.sock.destroyed).length).toBeLessThanOrEqual(40);
    expect(rejected.filter((x) => x === 'connections').length).toBeGreaterThan(before);
    for (const f of flood) f.sock.destroy();
  });

  it('closes idle connections and slow headers at the header deadline', async () => {
    const idle = raw(port, '127.0.0.4');
    const slow = raw(port, '127.0.0.4');
    await Promise.all([idle.ready, slow.ready]);
    slow.sock.write('GET /healthz HTTP/1.1\r\nhost: x\r\n');
    const t0 = Date.now();
    expect(await within(Promise.all([idle.closed, slow.closed]), 3000)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(2500);
  });
});

describe('out of file descriptors', () => {
  let ws: Workspace;
  let child: ReturnType<typeof spawn> | undefined;
  afterAll(async () => {
    child?.kill('SIGKILL');
    await ws?.cleanup();
  });

  it('a controller whose git child processes fail with EMFILE logs it, retries, and compiles once descriptors return', async () => {
    ws = await workspace();
    await ws.commit({ 'policies/pods.yaml': pods, 'policies/rule1.yaml': empireOnly }, 'one');
    // A small descriptor limit; connections from many source addresses use them all up.
    child = spawn(
      'prlimit',
      [
        '--nofile=90:90',
        process.execPath,
        path.join(projectRoot, 'bin/weir.js'),
        'controller',
        '--repo',
        ws.repo,
        '--state-dir',
        path.join(ws.dir, 'controller'),
        '--listen',
        '127.0.0.1:0',
        '--poll',
        '200ms',
        '--key',
        ws.keyFile,
        '--insecure-loopback',
        '--token-file',
        ws.operatorTokenFile,
        '--max-connections-per-client',
        '1000',
      ],
      { env: { ...process.env, WEIR_FROM_SOURCE: '1', WEIR_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    let out = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child!.on('exit', (code) => r(code)));
    const url = await until(
      'controller listening',
      async () => (out.includes('\n') ? String((JSON.parse(out.split('\n')[0]!) as { url: string }).url) : undefined),
      30_000,
    );
    const status = () => getJson<StatusDoc>(`${url}/v1/status`, { headers: ws.auth });
    await until('first commit compiled', async () => (await status()).phase === 'Complete');
    const p = Number(new URL(url).port);
    const flood = Array.from({ length: 150 }, (_, i) => raw(p, `127.0.2.${(i % 200) + 1}`));
    const rev2 = await ws.commit({ 'policies/rule1.yaml': empireAndAlliance }, 'two');
    await until('EMFILE logged', async () => /EMFILE/.test(err), 15_000);
    for (const f of flood) f.sock.destroy();
    const s = await until(
      'second commit compiled after descriptors return',
      async () => {
        const st = await status();
        return st.lastSeenCommit === rev2 && st.phase === 'Complete' ? st : undefined;
      },
      30_000,
    );
    expect(s.lastGood?.revision).toBe(rev2);
    expect(await within(exited, 10)).toBe(false);
    expect(err).not.toMatch(/Unhandled 'error' event/);
  }, 90_000);
});
