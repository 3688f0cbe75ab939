// The network commands end to end through their Command modules: exit codes and output shapes.
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CommandIO } from '../../cli/command.js';
import { buildCommand } from '../../cli/build.js';
import { verifyCommand } from '../../cli/verify.js';
import { explainCommand } from '../../cli/explain.js';
import { testCommand } from '../../cli/test.js';

const root = path.resolve(import.meta.dirname, '../..');
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function io(cwd = root): CommandIO & { out: string; err: string } {
  const x = {
    out: '',
    err: '',
    cwd,
    env: { NO_COLOR: '1' },
    isTTY: false,
    stdout: (s: string) => void (x.out += s),
    stderr: (s: string) => void (x.err += s),
  };
  return x;
}

describe('weir build / verify / explain / test', () => {
  it('builds the examples, then verify passes', async () => {
    const d = await mkdtemp(path.join(tmpdir(), 'weirnet-cli-'));
    dirs.push(d);
    const b = io();
    expect(await buildCommand.run(['policies/network', '--inventory', 'policies/inventory.yaml', '--out', d, '--format', 'json'], b)).toBe(
      0,
    );
    const summary = JSON.parse(b.out) as { ok: boolean; nodes: number; endpoints: number };
    expect(summary).toMatchObject({ ok: true, nodes: 2, endpoints: 13 });
    const v = io();
    expect(await verifyCommand.run([d, '--format', 'json'], v)).toBe(0);
    const rep = JSON.parse(v.out) as { ok: boolean; reproducible: boolean; semantic: { classes: number; mismatches: unknown[] } };
    expect(rep.ok).toBe(true);
    expect(rep.reproducible).toBe(true);
    expect(rep.semantic.classes).toBeGreaterThan(1000);
    expect(rep.semantic.mismatches).toEqual([]);
  }, 60_000);

  it('verify exits 2 on a directory that is not a bundle', async () => {
    const v = io();
    expect(await verifyCommand.run([path.join(root, 'policies')], v)).toBe(2);
    expect(v.err).toMatch(/cannot read bundle/);
  });

  it('build exits 1 with file:line diagnostics for a bad policy', async () => {
    const d = await mkdtemp(path.join(root, '.weirnet-cli-'));
    dirs.push(d);
    await writeFile(
      path.join(d, 'p.yaml'),
      'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x, namespace: default}\nspec:\n  endpointSelector: {}\n  ingress:\n  - fromEndpoints: [{matchLabels: {app: web}}]\n    toPorts: [{ports: [{port: "99999"}]}]\n',
    );
    const b = io();
    expect(
      await buildCommand.run([path.relative(root, d), '--inventory', 'policies/inventory.yaml', '--out', path.join(d, 'out')], b),
    ).toBe(1);
    expect(b.err).toMatch(/p\.yaml:8:\d+: error: port 99999 is outside 0-65535 \[network\/invalid-port\]/);
  });

  it('build goes on when a named port is declared by no pod: the rule matches nothing, as in Cilium', async () => {
    const d = await mkdtemp(path.join(root, '.weirnet-cli-'));
    dirs.push(d);
    await writeFile(
      path.join(d, 'p.yaml'),
      'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x, namespace: default}\nspec:\n  endpointSelector: {}\n  ingress:\n  - fromEndpoints: [{matchLabels: {app: web}}]\n    toPorts: [{ports: [{port: nosuch}]}]\n',
    );
    const b = io();
    expect(
      await buildCommand.run([path.relative(root, d), '--inventory', 'policies/inventory.yaml', '--out', path.join(d, 'out')], b),
    ).toBe(0);
    expect(b.err).not.toMatch(/error/);
  });

  it('explain names the deciding rule and map entry', async () => {
    const e = io();
    expect(
      await explainCommand.run(
        [
          '--from',
          'default/xwing',
          '--to',
          'default/deathstar-6fb5694d48-5hmds',
          '--port',
          '80/TCP',
          '--format',
          'json',
          'policies/network',
          '--inventory',
          'policies/inventory.yaml',
        ],
        e,
      ),
    ).toBe(0);
    const x = JSON.parse(e.out) as { verdict: string; steps: { direction: string; reason: string }[] };
    expect(x.verdict).toBe('deny');
    expect(x.steps.map((s) => [s.direction, s.reason])).toEqual([
      ['egress', 'not-enforced'],
      ['ingress', 'default-deny'],
    ]);
    await expect(explainCommand.run(['--from', 'nonsense', '--to', 'x/y', '--port', '80'], io())).rejects.toThrow(/not a peer/);
    const dump = io();
    expect(
      await explainCommand.run(['--endpoint', 'default/tiefighter', 'policies/network', '--inventory', 'policies/inventory.yaml'], dump),
    ).toBe(0);
    expect(dump.out).toMatch(/^Endpoint default\/tiefighter .*egress enforced\)\nPOLICY +DIRECTION +IDENTITY/);
    expect(dump.out).toMatch(/Allow +Egress +266 .* 80\/TCP +64 /);
  });

  it('test: the repository suites pass and the JSON shape is exact', async () => {
    const t = io();
    expect(await testCommand.run(['--format', 'json'], t)).toBe(0);
    const r = JSON.parse(t.out) as { passed: number; failed: number; cases: Record<string, unknown>[] };
    expect(Object.keys(r)).toEqual(['passed', 'failed', 'cases']);
    expect(r.failed).toBe(0);
    expect(r.passed).toBeGreaterThanOrEqual(70);
    expect(Object.keys(r.cases[0]!)).toEqual(['file', 'name', 'expect', 'actual', 'ok']);
  }, 60_000);

  it('test: a failing case exits 1; junit names it; runtime cases without the runtime compiler are errors', async () => {
    const d = await mkdtemp(path.join(root, '.weirnet-cli-'));
    dirs.push(d);
    await mkdir(d, { recursive: true });
    await writeFile(
      path.join(d, 't.yaml'),
      `apiVersion: weir.dev/v1alpha1
kind: PolicyTest
metadata: {name: t}
spec:
  policies: [../policies/network/]
  inventory: ../policies/inventory.yaml
  cases:
  - name: wrong on purpose
    from: {workload: default/xwing}
    to: {workload: default/deathstar-6fb5694d48-5hmds}
    port: 80
    expect: allow
  - name: still right
    from: {workload: default/tiefighter}
    to: {workload: default/deathstar-6fb5694d48-5hmds}
    port: 80
    expect: allow
`,
    );
    const t = io();
    expect(await testCommand.run([path.relative(root, d), '--format', 'junit'], t)).toBe(1);
    expect(t.out).toMatch(
      /<testcase classname="[^"]*t\.yaml" name="wrong on purpose" time="[\d.]+">\s*<failure message="expected allow, got deny">/,
    );
    expect(t.out).toMatch(/tests="2" failures="1"/);
  });
});
