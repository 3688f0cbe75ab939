// `weir demo` is the README's main command: it must succeed on a fresh machine, tell the story,
// and leave nothing behind, also when interrupted.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from './harness.js';
import { skipKernel } from '../kernel-env.js';

function runDemo(args: string[], onLine?: (line: string, kill: (s: NodeJS.Signals) => void) => void): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [path.join(projectRoot, 'bin/weir.js'), 'demo', ...args], { env: { ...process.env, WEIR_FROM_SOURCE: '1', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    for (const l of d.toString().split('\n')) onLine?.(l, (s) => child.kill(s));
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out, err })));
}

describe('weir demo', () => {
  it('tells the whole story on the emulator and cleans up', async () => {
    const r = await runDemo(['--emulator']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/mode: emulator datapath .*--emulator/);
    expect(r.out).toMatch(/tiefighter → deathstar TCP\/80 +allowed +by CiliumNetworkPolicy\/default\/rule1 \(policies\/rule1\.yaml:11\)/);
    expect(r.out).toMatch(/xwing +→ deathstar TCP\/80 +dropped +default deny: ingress of default\/deathstar/);
    expect(r.out).toMatch(/xwing +→ deathstar TCP\/80 +allowed \(changed\) +by CiliumNetworkPolicy\/default\/alliance-landing/);
    expect(r.out).toMatch(/Plan/);
    expect(r.out).toMatch(/1 connection changed verdict after the swap/);
    const dir = /(\/tmp\/wdemo-[A-Za-z0-9]+)\/repo/.exec(r.out)?.[1];
    expect(dir).toBeDefined();
    expect(existsSync(dir!)).toBe(false);
  }, 60_000);

  it('cleans up and exits 130 on Ctrl-C', async () => {
    let sent = false;
    const r = await runDemo(['--emulator'], (line, kill) => {
      if (!sent && line.startsWith('2.')) {
        sent = true;
        kill('SIGINT');
      }
    });
    expect(sent).toBe(true);
    expect(r.code).toBe(130);
    expect(r.err).toMatch(/interrupted, cleaning up/);
    const dir = /(\/tmp\/wdemo-[A-Za-z0-9]+)\/repo/.exec(r.out)?.[1];
    expect(existsSync(dir!)).toBe(false);
  }, 60_000);

  const noKernel = skipKernel() || !existsSync(path.join(projectRoot, 'bpf/build/endpoint.bpf.o'));
  it.skipIf(noKernel)('as root, enforces in the kernel: connections on the wire match the verdicts (needs root and npm run build)', async () => {
    const r = await runDemo([]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/mode: kernel datapath/);
    expect(r.out).toMatch(/tiefighter → deathstar TCP\/80 +allowed .*\[on the wire: connected\]/);
    expect(r.out).toMatch(/xwing +→ deathstar TCP\/80 +dropped .*\[on the wire: no connection\]/);
    expect(r.out).toMatch(/xwing +→ deathstar TCP\/80 +allowed \(changed\).*\[on the wire: connected\]/);
    expect(r.out).not.toMatch(/MISMATCH/);
    expect(r.out).toMatch(/wdemo-cat public\.txt +read/);
    expect(r.out).toMatch(/wdemo-cat protected\/death-star-plans\.txt killed by SIGKILL/);
    const { execFileSync } = await import('node:child_process');
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toMatch(new RegExp(`wdemo-[0-9a-f]{4}-${'\\d+'}-deathstar`));
  }, 120_000);
});
