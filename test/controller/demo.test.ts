// `weir demo` is the README's main command: it must succeed on a fresh machine, tell the story,
// and leave nothing behind, also when interrupted.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';
import * as path from 'node:path';
import { projectRoot } from './harness.js';
import { skipKernel } from '../kernel-env.js';
import { cgroup2Root } from '../../controller/agent/pod-scope.js';

function runDemo(
  args: string[],
  onLine?: (line: string, kill: (s: NodeJS.Signals) => void) => void,
): Promise<{ code: number | null; out: string; err: string }> {
  const child = spawn(process.execPath, [path.join(projectRoot, 'bin/weir.js'), 'demo', ...args], {
    env: { ...process.env, WEIR_FROM_SOURCE: '1', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    for (const l of d.toString().split('\n')) onLine?.(l, (s) => child.kill(s));
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out, err })));
}

/** 1-based line of the first line of a bundled file containing `text`. */
function lineOf(file: string, text: string): number {
  return (
    readFileSync(path.join(projectRoot, file), 'utf8')
      .split('\n')
      .findIndex((l) => l.includes(text)) + 1
  );
}

/** YAML documents under policies/ (lists count once per item, as the loader unpacks them). */
function bundledDocuments(): number {
  let n = 0;
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name));
      else if (/\.ya?ml$/.test(e.name))
        for (const doc of parseAllDocuments(readFileSync(path.join(d, e.name), 'utf8'))) {
          const v = doc.toJS() as { kind?: string; items?: unknown[] } | null;
          if (v) n += v.kind === 'List' && v.items ? v.items.length : 1;
        }
    }
  };
  walk(path.join(projectRoot, 'policies'));
  return n;
}

function bundledPods(): number {
  return (parse(readFileSync(path.join(projectRoot, 'policies/inventory.yaml'), 'utf8')) as { spec: { pods: unknown[] } }).spec.pods.length;
}

describe('weir demo', () => {
  it('tells the whole story on the emulator and cleans up', async () => {
    const r = await runDemo(['--emulator']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/mode: emulator datapath .*--emulator/);
    // Step 0: the bundled policies/ went through lint, build, verify and the PolicyTest suites, with real counts.
    expect(r.out).toMatch(/^0\. The bundled policy repository$/m);
    const stage = (name: string) => new RegExp(`^   ✓ ${name} +(.*)$`, 'm').exec(r.out)?.[1];
    const lint = /^(\d+) documents in (\d+) files \((\d+) guardrails applied\): 0 errors, \d+ warnings?/.exec(stage('lint') ?? '');
    expect(lint, r.out).not.toBeNull();
    expect(Number(lint![1])).toBe(bundledDocuments());
    expect(Number(lint![3])).toBe(3);
    const build = /^2 nodes, (\d+) endpoints, \d+ identities, \d+ map images with (\d+) map entries/.exec(stage('build') ?? '');
    expect(build, r.out).not.toBeNull();
    expect(Number(build![1])).toBe(bundledPods());
    expect(Number(build![2])).toBeGreaterThan(0);
    const verify = /^evaluator vs datapath emulator: (\d+) equivalence classes over (\d+) endpoints, 0 mismatches/.exec(
      stage('verify') ?? '',
    );
    expect(verify, r.out).not.toBeNull();
    expect(Number(verify![1])).toBeGreaterThan(100);
    const tests = /^PolicyTest: (\d+) cases in (\d+) suites: (\d+) passed, 0 failed/.exec(stage('test') ?? '');
    expect(tests, r.out).not.toBeNull();
    expect(Number(tests![2])).toBe(readdirSync(path.join(projectRoot, 'policies/tests')).filter((f) => f.endsWith('.yaml')).length);
    expect(tests![3]).toBe(tests![1]);
    expect(r.out).not.toMatch(/^ {3}✗/m);
    // The live story runs on the bundled Star Wars files and the inventory's addresses.
    expect(r.out).toMatch(/seeded from .*\/policies:/);
    expect(r.out).toMatch(/node-1 runs deathstar 10\.244\.1\.12, tiefighter 10\.244\.1\.10, xwing 10\.244\.1\.11/);
    const ruleLine = lineOf('policies/network/starwars/deathstar.yaml', '- fromEndpoints:');
    expect(r.out).toContain(
      `tiefighter → deathstar TCP/80    allowed  by CiliumNetworkPolicy/default/rule1 (policies/network/starwars/deathstar.yaml:${ruleLine})`,
    );
    expect(r.out).toMatch(/xwing +→ deathstar TCP\/80 +dropped +default deny: ingress of default\/deathstar/);
    expect(r.out).toMatch(
      /xwing +→ deathstar TCP\/80 +allowed \(changed\) +by CiliumNetworkPolicy\/default\/alliance-landing \(policies\/network\/starwars\/alliance-landing\.yaml:11\)/,
    );
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
  it.skipIf(noKernel)(
    'as root, enforces in the kernel: connections on the wire match the verdicts (needs root and npm run build)',
    async () => {
      const r = await runDemo([]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/mode: kernel datapath.*the inventory's addresses/);
      expect(r.out).toMatch(/^ {3}✓ test +PolicyTest: \d+ cases/m);
      expect(r.out).toMatch(/tiefighter → deathstar TCP\/80 +allowed .*\[on the wire: connected\]/);
      expect(r.out).toMatch(/xwing +→ deathstar TCP\/80 +dropped .*\[on the wire: no connection\]/);
      expect(r.out).toMatch(/xwing +→ deathstar TCP\/80 +allowed \(changed\).*\[on the wire: connected\]/);
      expect(r.out).not.toMatch(/MISMATCH/);
      expect(r.out).toMatch(/wdemo-cat public\.txt +read/);
      expect(r.out).toMatch(/wdemo-cat protected\/death-star-plans\.txt killed by SIGKILL/);
      if (cgroup2Root()) {
        // Pod-scoped: killed in the deathstar pod's cgroup, not on the host, and the kill is on the event stream.
        expect(r.out).toMatch(/TracingPolicyNamespaced, podSelector class=deathstar, Sigkill/);
        expect(r.out).toMatch(/killed by SIGKILL .* in pod default\/deathstar/);
        expect(r.out).toMatch(/on the host: wdemo-cat protected\/… +read/);
        expect(r.out).toMatch(/^ +☠️ +killed default\/deathstar\S* \S+wdemo-cat .*__x64_sys_openat .*\[protect-plans\]$/m);
      }
      const { execFileSync } = await import('node:child_process');
      expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toMatch(new RegExp(`wdemo-[0-9a-f]{4}-${'\\d+'}-deathstar`));
    },
    120_000,
  );
});
