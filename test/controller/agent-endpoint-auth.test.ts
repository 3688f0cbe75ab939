// The agent's endpoint off loopback: served only over TLS with client authentication (certificates
// signed by the CA the operator names, or a bearer token); `weir events` with --ca/--cert/--key or
// --token-file streams, and says why when the agent, its certificate or its CA refuses it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkAgentListen, serveAgent } from '../../controller/agent/server.js';
import type { Agent } from '../../controller/agent/agent.js';
import type { RuntimeEventExport } from '../../controller/agent/events-export.js';
import { Client, TransportError, type Listening, type TransportOptions } from '../../controller/transport/http.js';
import { eventsCommand } from '../../cli/events.js';
import { agentCommand } from '../../cli/agent.js';
import { pki } from './pki.js';
import { startWeir } from './harness.js';
import { generateKeyPairSync } from 'node:crypto';

const line = JSON.stringify({ process_exec: { process: { pid: 42, binary: '/bin/true' } }, node_name: 'n1', time: '2026-01-01T00:00:00Z' });

/** An event source that sends one line to each follower, then ends its stream. */
function oneEvent(): RuntimeEventExport {
  return {
    follow: (_f: unknown, onLine: (l: string) => void, onEnd: () => void) => {
      setTimeout(() => {
        onLine(line + '\n');
        onEnd();
      }, 50);
      return () => undefined;
    },
  } as unknown as RuntimeEventExport;
}

const fakeAgent = {
  opts: { node: 'n1', datapath: { kind: 'kernel', verdict: async () => ({ verdict: 'allow' }) } },
  applied: undefined,
  lastError: undefined,
  registry: { contentType: 'text/plain', metrics: async () => 'weir_agent_up 1\n' },
} as unknown as Agent;

async function events(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await eventsCommand.run(args, {
    stdout: (s) => out.push(s),
    stderr: (s) => err.push(s),
    cwd: '/',
    env: {},
    isTTY: false,
  });
  return { code, out: out.join(''), err: err.join('') };
}

describe('agent endpoint authentication', () => {
  let dir: string;
  const f = (n: string) => path.join(dir, n);
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'weir-agent-auth-'));
    await pki(dir, ['agent', 'reader']);
    await fs.writeFile(f('token'), 'events-reader-token-0123456789\n');
    await fs.writeFile(f('wrong-token'), 'not-the-token-0123456789abcdef\n');
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  it('refuses a non-loopback listener without TLS and client authentication, before it listens', async () => {
    const tls = (): TransportOptions => ({ tls: { cert: f('server.crt'), key: f('server.key') } });
    expect(() => checkAgentListen('0.0.0.0', {})).toThrow(/not a loopback address.*no TLS is configured; no client authentication/);
    expect(() => checkAgentListen('10.1.2.3', tls())).toThrow(
      /^--listen 10\.1\.2\.3 is not a loopback address.*; no client authentication is configured$/,
    );
    expect(() => checkAgentListen('10.1.2.3', { token: 'x'.repeat(20) })).toThrow(/no TLS is configured$/);
    expect(() => checkAgentListen('127.example', {})).toThrow(TransportError);
    expect(() => checkAgentListen('127.0.0.1', { tls: { ca: f('ca.crt') } })).toThrow(/--listen-client-ca needs --listen-cert/);
    expect(() => checkAgentListen('10.1.2.3', { tls: { cert: f('server.crt'), key: f('server.key'), ca: f('ca.crt') } })).not.toThrow();
    expect(() => checkAgentListen('10.1.2.3', { ...tls(), token: 'x'.repeat(20) })).not.toThrow();
    expect(() => checkAgentListen('127.0.0.1', {})).not.toThrow();
    await expect(serveAgent(fakeAgent, '0.0.0.0', 0, {}, oneEvent())).rejects.toThrow(/not a loopback address/);

    // weir agent says so and exits 2 before it opens a datapath or contacts the controller.
    const err: string[] = [];
    const code = await agentCommand.run(
      ['--controller', 'http://127.0.0.1:1', '--insecure-loopback', '--trust', f('none.pem'), '--listen', '0.0.0.0:0'],
      { stdout: () => undefined, stderr: (s) => err.push(s), cwd: dir, env: {}, isTTY: false },
    );
    expect(code).toBe(2);
    expect(err.join('')).toMatch(
      /^weir agent: --listen 0\.0\.0\.0 is not a loopback address: .*--listen-client-ca and\/or --listen-token-file/,
    );
    await expect(
      agentCommand.run(['--controller', 'http://127.0.0.1:1', '--trust', 'x', '--listen-cert', f('server.crt')], {
        stdout: () => undefined,
        stderr: () => undefined,
        cwd: dir,
        env: {},
        isTTY: false,
      }),
    ).rejects.toThrow('--listen-cert and --listen-key go together');
  });

  describe('client certificates signed by the CA the operator names', () => {
    let s: Listening;
    beforeAll(async () => {
      s = await serveAgent(
        fakeAgent,
        '127.0.0.1',
        0,
        { tls: { cert: f('server.crt'), key: f('server.key'), ca: f('ca.crt') } },
        oneEvent(),
      );
    });
    afterAll(() => s.close());

    it('streams to a client with a certificate the CA signed', async () => {
      expect(s.url).toMatch(/^https:/);
      const r = await events(['--agent', s.url, '--ca', f('ca.crt'), '--cert', f('reader.crt'), '--key', f('reader.key')]);
      expect(r).toEqual({ code: 0, out: line + '\n', err: '' });
      const c = await events(['--agent', s.url, '--ca', f('ca.crt'), '--cert', f('reader.crt'), '--key', f('reader.key'), '-o', 'compact']);
      expect(c.code).toBe(0);
      expect(c.out).toContain('/bin/true');
    });

    it('refuses a client without a certificate, or with one from another CA', async () => {
      const none = await events(['--agent', s.url, '--ca', f('ca.crt')]);
      expect(none.code).toBe(2);
      expect(none.out).toBe('');
      expect(none.err).toMatch(
        /^weir events: https:\/\/127\.0\.0\.1:\d+: TLS: the agent requires a client certificate: pass --cert and --key/,
      );
      const rogue = await events(['--agent', s.url, '--ca', f('ca.crt'), '--cert', f('rogue.crt'), '--key', f('rogue.key')]);
      expect(rogue.code).toBe(2);
      expect(rogue.out).toBe('');
      expect(rogue.err).toMatch(
        /^weir events: https:\/\/127\.0\.0\.1:\d+: TLS: the agent (closed the connection: it most likely )?refused the client certificate in --cert /,
      );
      expect(rogue.err).toContain(`--cert ${f('rogue.crt')} (not signed by the CA it trusts)`);
    });

    it('a client that trusts another CA refuses the agent', async () => {
      const r = await events(['--agent', s.url, '--ca', f('rogue-ca.crt'), '--cert', f('reader.crt'), '--key', f('reader.key')]);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toContain(`TLS: the agent's certificate is not signed by the CA in --ca ${f('rogue-ca.crt')}`);
    });

    it('--tls-server-name checks the name of a certificate shared by every agent', async () => {
      const args = ['--agent', s.url, '--ca', f('ca.crt'), '--cert', f('reader.crt'), '--key', f('reader.key')];
      expect((await events([...args, '--tls-server-name', 'localhost'])).code).toBe(0);
      const r = await events([...args, '--tls-server-name', 'weir-agent.weir-system.svc']);
      expect(r.code).toBe(2);
      expect(r.err).toContain("TLS: the agent's certificate does not name this host; pass --tls-server-name with a name it has");
    });

    it('status and verdict need the certificate too', async () => {
      const c = new Client(s.url, { tls: { ca: f('ca.crt') } });
      try {
        await expect(c.json('GET', '/v1/status')).rejects.toThrow();
        await expect(c.json('POST', '/v1/verdict', { src: '10.0.0.1', dst: '10.0.0.2', port: 80 })).rejects.toThrow();
      } finally {
        c.close();
      }
      const ok = new Client(s.url, { tls: { ca: f('ca.crt'), cert: f('reader.crt'), key: f('reader.key') } });
      try {
        expect((await ok.json('GET', '/v1/status')).value).toMatchObject({ node: 'n1' });
      } finally {
        ok.close();
      }
    });
  });

  describe('bearer token over TLS', () => {
    let s: Listening;
    beforeAll(async () => {
      s = await serveAgent(
        fakeAgent,
        '127.0.0.1',
        0,
        { tls: { cert: f('server.crt'), key: f('server.key') }, token: 'events-reader-token-0123456789' },
        oneEvent(),
      );
    });
    afterAll(() => s.close());

    it('streams to a client with the token', async () => {
      const r = await events(['--agent', s.url, '--ca', f('ca.crt'), '--token-file', f('token')]);
      expect(r).toEqual({ code: 0, out: line + '\n', err: '' });
    });

    it('refuses a client without the token or with another one: 401, exit 2', async () => {
      for (const args of [[], ['--token-file', f('wrong-token')]]) {
        const r = await events(['--agent', s.url, '--ca', f('ca.crt'), ...args]);
        expect(r.code).toBe(2);
        expect(r.out).toBe('');
        expect(r.err).toMatch(
          /^weir events: https:\/\/127\.0\.0\.1:\d+: HTTP 401: the agent refused the request: unauthenticated: .* \(pass --token-file, or --cert\/--key signed by the CA of its --listen-client-ca\)\n$/,
        );
      }
    });

    it('health and metrics stay open; status and verdict answer 401 without the token', async () => {
      const anon = new Client(s.url, { tls: { ca: f('ca.crt') } });
      const op = new Client(s.url, { tls: { ca: f('ca.crt') }, token: 'events-reader-token-0123456789' });
      try {
        expect((await anon.request('GET', '/healthz')).status).toBe(200);
        expect((await anon.request('GET', '/metrics')).body.toString()).toBe('weir_agent_up 1\n');
        expect((await anon.request('GET', '/v1/status')).status).toBe(401);
        expect((await anon.request('POST', '/v1/verdict', { src: '10.0.0.1', dst: '10.0.0.2', port: 80 })).status).toBe(401);
        expect((await op.json('GET', '/v1/status')).value).toMatchObject({ node: 'n1' });
        expect(await op.json('POST', '/v1/verdict', { src: '10.0.0.1', dst: '10.0.0.2', port: 80 })).toEqual({
          status: 200,
          value: { verdict: 'allow' },
        });
        expect((await op.request('POST', '/v1/verdict', { pad: 'x'.repeat(20_000) })).status).toBe(413);
      } finally {
        anon.close();
        op.close();
      }
    });
  });

  it('with both a client CA and a token, either serves; a certificate of another CA gets 401', async () => {
    const s = await serveAgent(
      fakeAgent,
      '127.0.0.1',
      0,
      { tls: { cert: f('server.crt'), key: f('server.key'), ca: f('ca.crt') }, token: 'events-reader-token-0123456789' },
      oneEvent(),
    );
    try {
      const base = ['--agent', s.url, '--ca', f('ca.crt')];
      expect(await events([...base, '--cert', f('reader.crt'), '--key', f('reader.key')])).toEqual({ code: 0, out: line + '\n', err: '' });
      expect(await events([...base, '--token-file', f('token')])).toEqual({ code: 0, out: line + '\n', err: '' });
      const rogue = await events([...base, '--cert', f('rogue.crt'), '--key', f('rogue.key')]);
      expect(rogue.code).toBe(2);
      expect(rogue.err).toContain('HTTP 401: the agent refused the request: unauthenticated');
    } finally {
      await s.close();
    }
  });

  it('a weir agent process serves its endpoint with the --listen-* flags', async () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    await fs.writeFile(f('trust.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    const agent = await startWeir([
      'agent',
      '--node',
      'n1',
      '--controller',
      'http://127.0.0.1:1',
      '--insecure-loopback',
      '--trust',
      f('trust.pem'),
      '--state-dir',
      f('state'),
      '--listen',
      '127.0.0.1:0',
      '--listen-cert',
      f('server.crt'),
      '--listen-key',
      f('server.key'),
      '--listen-client-ca',
      f('ca.crt'),
    ]);
    try {
      const url = String(agent.first['url']);
      expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const reader = ['--agent', url, '--ca', f('ca.crt'), '--cert', f('reader.crt'), '--key', f('reader.key')];
      // authenticated: the agent answers (its emulator datapath has no runtime events)
      const ok = await events(reader);
      expect(ok.code).toBe(2);
      expect(ok.err).toContain('HTTP 404 {"error":"the emulator datapath has no runtime events"}');
      const anon = await events(['--agent', url, '--ca', f('ca.crt')]);
      expect(anon.code).toBe(2);
      expect(anon.err).toContain('TLS: the agent requires a client certificate: pass --cert and --key');
    } finally {
      expect(await agent.kill()).toBe(0);
    }
  });

  it('weir events refuses plain HTTP off loopback and bad flags (exit 2 or usage error)', async () => {
    const r = await events(['--agent', 'http://192.0.2.1:8471', '--insecure-loopback']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('plain HTTP is only allowed on loopback');
    await expect(events(['--agent', 'https://127.0.0.1:1', '--cert', f('reader.crt')])).rejects.toThrow('--cert and --key go together');
  });
});
