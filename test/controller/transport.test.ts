// Transport: mutual TLS, bearer token over TLS, and plain HTTP only on loopback with the flag.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkTransport, Client, listen, sendJson, TransportError, type Listening } from '../../controller/transport/http.js';
import { pki } from './pki.js';

describe('transport', () => {
  let dir: string;
  const f = (n: string) => path.join(dir, n);
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'weir-tls-'));
    await pki(dir, ['agent', 'system:node:node-1']);
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  const hello = () => (_req: unknown, res: import('node:http').ServerResponse) => sendJson(res, 200, { hello: 'agent' });

  it('refuses plain HTTP without the flag, and off loopback even with it', () => {
    expect(() => checkTransport('127.0.0.1', {})).toThrow(TransportError);
    expect(() => checkTransport('0.0.0.0', { insecureLoopback: true })).toThrow(/only allowed on loopback/);
    expect(() => checkTransport('10.1.2.3', { insecureLoopback: true })).toThrow(/only allowed on loopback/);
    expect(() => checkTransport('127.0.0.1', { insecureLoopback: true })).not.toThrow();
    expect(() => new Client('http://192.0.2.1:8470', { insecureLoopback: true })).toThrow(/only allowed on loopback/);
  });

  describe('mutual TLS', () => {
    let s: Listening;
    beforeAll(async () => {
      s = await listen('127.0.0.1', 0, { tls: { cert: f('server.crt'), key: f('server.key'), ca: f('ca.crt') } }, hello());
    });
    afterAll(() => s.close());

    it('accepts an agent with a certificate from the CA', async () => {
      const c = new Client(s.url, { tls: { cert: f('agent.crt'), key: f('agent.key'), ca: f('ca.crt') } });
      const r = await c.json<{ hello: string }>('GET', '/v1/status');
      expect(r).toEqual({ status: 200, value: { hello: 'agent' } });
      c.close();
    });

    it('refuses an agent without a client certificate, or with one from another CA', async () => {
      const bare = new Client(s.url, { tls: { cert: '', key: '', ca: f('ca.crt') } });
      await expect(bare.request('GET', '/v1/status')).rejects.toThrow();
      bare.close();
      const rogue = new Client(s.url, { tls: { cert: f('rogue.crt'), key: f('rogue.key'), ca: f('ca.crt') } });
      await expect(rogue.request('GET', '/v1/status')).rejects.toThrow();
      rogue.close();
    });

    it("a node's kubelet certificate from the trusted CA speaks for its node, never as an operator", async () => {
      const seen: unknown[] = [];
      const who = await listen(
        '127.0.0.1',
        0,
        { tls: { cert: f('server.crt'), key: f('server.key'), ca: f('ca.crt') } },
        (_q, res, _b, p) => {
          seen.push(p);
          sendJson(res, 200, {});
        },
      );
      try {
        for (const name of ['system:node:node-1', 'agent']) {
          const c = new Client(who.url, { tls: { cert: f(`${name}.crt`), key: f(`${name}.key`), ca: f('ca.crt') } });
          await c.json('GET', '/v1/status');
          c.close();
        }
        expect(seen).toEqual([
          { via: 'certificate', operator: false, nodes: ['node-1'] },
          { via: 'certificate', operator: true, nodes: ['agent', 'localhost'] },
        ]);
      } finally {
        await who.close();
      }
    });

    it('the agent refuses a server whose certificate it cannot verify', async () => {
      const c = new Client(s.url, { tls: { cert: f('agent.crt'), key: f('agent.key'), ca: f('rogue-ca.crt') } });
      await expect(c.request('GET', '/v1/status')).rejects.toThrow(/certificate/);
      c.close();
    });
  });

  describe('bearer token over TLS', () => {
    let s: Listening;
    const token = 'a-long-enough-shared-token-0123456789';
    beforeAll(async () => {
      s = await listen('127.0.0.1', 0, { tls: { cert: f('server.crt'), key: f('server.key') }, token }, hello(), (p) => p === '/healthz');
    });
    afterAll(() => s.close());

    it('accepts the token and refuses a wrong or missing one', async () => {
      const ok = new Client(s.url, { tls: { cert: '', key: '', ca: f('ca.crt') }, token });
      expect((await ok.request('GET', '/v1/status')).status).toBe(200);
      const wrong = new Client(s.url, { tls: { cert: '', key: '', ca: f('ca.crt') }, token: token.replace('a', 'b') });
      const r = await wrong.request('GET', '/v1/status');
      expect(r.status).toBe(401);
      expect(r.body.toString()).toMatch(/unauthenticated/);
      const none = new Client(s.url, { tls: { cert: '', key: '', ca: f('ca.crt') } });
      expect((await none.request('GET', '/v1/status')).status).toBe(401);
      expect((await none.request('GET', '/healthz')).status).toBe(200);
      for (const c of [ok, wrong, none]) c.close();
    });
  });
});
