// The controller refuses to start without an authentication method (mutual TLS or tokens), on any
// address, loopback included: TLS alone encrypts but lets anyone read status, register and ring the webhook.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CommandIO } from '../../cli/command.js';
import { main } from '../../cli/main.js';
import { generateSigningKey } from '../../controller/bundle/sign.js';
import { serveController } from '../../controller/reconcile/api.js';
import { ProjectCompiler } from '../../controller/reconcile/compiler.js';
import { Controller } from '../../controller/reconcile/controller.js';
import { silentLogger } from '../../controller/reconcile/log.js';
import { TransportError } from '../../controller/transport/http.js';
import { pki } from './pki.js';

function io(cwd: string): CommandIO & { out: string; err: string } {
  const o = { out: '', err: '', cwd, env: {}, isTTY: false } as CommandIO & { out: string; err: string };
  o.stdout = (s) => void (o.out += s);
  o.stderr = (s) => void (o.err += s);
  return o;
}

describe('a controller without client authentication', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'weir-noauth-'));
    await pki(dir);
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  const controller = () =>
    new Controller({
      repo: dir,
      branch: 'main',
      paths: ['policies'],
      stateDir: path.join(dir, 'state'),
      compiler: new ProjectCompiler(),
      key: generateSigningKey(),
      logger: silentLogger(),
      pollIntervalMs: 0,
    });

  it.each([
    ['plain HTTP on loopback', { insecureLoopback: true }],
    ['TLS without --tls-ca or a token', { tls: { cert: path.join(os.tmpdir(), 'x.crt'), key: path.join(os.tmpdir(), 'x.key') } }],
  ])('is refused before it listens: %s', async (_what, transport) => {
    await expect(serveController(controller(), '127.0.0.1', 0, transport)).rejects.toThrow(TransportError);
    await expect(serveController(controller(), '127.0.0.1', 0, transport)).rejects.toThrow(/no authentication method/);
  });

  it('weir controller exits 2 and says why, on loopback and with TLS, and writes no key', async () => {
    for (const flags of [
      ['--insecure-loopback'],
      ['--tls-cert', path.join(dir, 'server.crt'), '--tls-key', path.join(dir, 'server.key'), '--listen', '127.0.0.1:0'],
    ]) {
      const x = io(dir);
      const code = await Promise.race([
        main(
          [
            'controller',
            '--repo',
            dir,
            '--key',
            'signing.key',
            '--generate-key',
            '--listen',
            '127.0.0.1:0',
            '--state-dir',
            'state',
            ...flags,
          ],
          x,
        ),
        new Promise<string>((r) => setTimeout(() => r('still running: it started'), 5000)),
      ]);
      expect(code).toBe(2);
      expect(x.err).toMatch(/^weir controller: cannot start: no authentication method: pass --tls-ca .* or --token-file\/--node-tokens/);
      expect(x.out).toBe('');
      expect(existsSync(path.join(dir, 'signing.key'))).toBe(false);
    }
  });

  it('starts with mutual TLS alone', async () => {
    const s = await serveController(controller(), '127.0.0.1', 0, {
      tls: { cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key'), ca: path.join(dir, 'ca.crt') },
    });
    await s.close();
  });
});
