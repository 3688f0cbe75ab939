// Smaller holes: the loopback check reads addresses, not prefixes (127.attacker.example is a
// name); an agent with --tls-ca alone verifies the controller; 20,000 registrations take linear
// time (node counts are computed when /metrics is read).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { transportFrom } from '../../cli/flags.js';
import { generateSigningKey } from '../../controller/bundle/sign.js';
import { ProjectCompiler } from '../../controller/reconcile/compiler.js';
import { Controller } from '../../controller/reconcile/controller.js';
import { silentLogger } from '../../controller/reconcile/log.js';
import { checkTransport, Client, isLoopback, listen, sendJson } from '../../controller/transport/http.js';
import { pki } from './pki.js';

describe('loopback check', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['[::1]', true],
    ['::ffff:127.0.0.1', true],
    ['localhost', true],
    ['127.attacker.example', false],
    ['127.0.0.1.nip.io', false],
    ['10.0.0.1', false],
    ['::ffff:10.0.0.1', false],
  ])('%s → %s', (host, want) => {
    expect(isLoopback(host)).toBe(want);
  });

  it('plain HTTP to a name that starts with 127. is refused', () => {
    expect(() => checkTransport('127.attacker.example', { insecureLoopback: true })).toThrow(/only allowed on loopback/);
    expect(() => new Client('http://127.attacker.example:8470', { insecureLoopback: true })).toThrow(/only allowed on loopback/);
  });
});

describe('agent with --tls-ca and a token, no client certificate', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'weir-tlsca-'));
    await pki(dir);
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  it('verifies the controller against the CA (and refuses a server the CA did not sign)', async () => {
    const token = 'a-long-enough-operator-token-0123';
    await fs.writeFile(path.join(dir, 'token'), token);
    const t = transportFrom({ 'tls-ca': path.join(dir, 'ca.crt'), 'token-file': path.join(dir, 'token') });
    expect(t.tls).toEqual({ ca: path.join(dir, 'ca.crt') });
    const s = await listen(
      '127.0.0.1',
      0,
      { tls: { cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') }, token },
      (_q, res) => sendJson(res, 200, { ok: true }),
    );
    try {
      const c = new Client(s.url, t);
      expect((await c.json('GET', '/v1/status')).status).toBe(200);
      c.close();
      const rogue = new Client(s.url, transportFrom({ 'tls-ca': path.join(dir, 'rogue-ca.crt'), 'token-file': path.join(dir, 'token') }));
      await expect(rogue.request('GET', '/v1/status')).rejects.toThrow(/certificate/);
      rogue.close();
    } finally {
      await s.close();
    }
  });
});

describe('registrations at scale', () => {
  it('20,000 registrations take linear time, and /metrics counts them', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'weir-reg-'));
    const c = new Controller({
      repo: dir,
      branch: 'main',
      paths: ['policies'],
      stateDir: dir,
      compiler: new ProjectCompiler(),
      key: generateSigningKey(),
      logger: silentLogger(),
      pollIntervalMs: 0,
    });
    try {
      const t0 = performance.now();
      for (let i = 0; i < 20_000; i++)
        c.register(`node-${i}`, { datapath: 'emulator', btf: false, mapInMap: true, lpmTrie: true, hooks: [] }, undefined);
      const ms = performance.now() - t0;
      expect(ms).toBeLessThan(3000);
      expect(await c.metrics.registry.metrics()).toMatch(/weir_controller_nodes\{state="pending"\} 20000/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
