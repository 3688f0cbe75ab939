// `weir lint` end to end through the CLI entry point: formats, exit codes, golden output,
// Git revisions, bad input that must not stop the run.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CommandIO } from '../../cli/command.js';
import { main } from '../../cli/main.js';
import { validateAgainst } from '../../compiler/lint/index.js';

const root = path.resolve(import.meta.dirname, '../..');
const fixtures = path.join(import.meta.dirname, 'fixtures');
const golden = path.join(import.meta.dirname, 'golden');
const temps: string[] = [];
afterAll(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })));

async function weir(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CommandIO = { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), cwd, env: { NO_COLOR: '1' }, isTTY: false };
  const code = await main(['lint', ...args], io);
  return { code, stdout, stderr };
}

function expectGolden(name: string, text: string): void {
  const file = path.join(golden, name);
  if (process.env['UPDATE_GOLDEN'] || !existsSync(file)) writeFileSync(file, text);
  expect(text).toBe(readFileSync(file, 'utf8'));
}

describe('weir lint', () => {
  it('the bundled policies/ lint clean (exit 0)', async () => {
    const r = await weir(['policies'], root);
    expect(r.stdout).toMatch(/^0 errors, 0 warnings in \d+ files/m);
    expect(r.code).toBe(0);
  });

  it('text: code frames for every finding, bad documents do not stop the run (golden)', async () => {
    const r = await weir(['bad'], fixtures);
    expect(r.code).toBe(1);
    expectGolden('bad.txt', r.stdout);
    // one clear diagnostic per bad input, with file and place
    expect(r.stdout).toContain('bad/broken.yaml:7:1 error YAML syntax error: Flow map');
    expect(r.stdout).toContain('[load/yaml-syntax]');
    expect(r.stdout).toContain('bad/kinds.yaml:1:1 error document has no `kind`');
    expect(r.stdout).toContain('bad/kinds.yaml:5:7 warning unknown kind `Widget`');
    // the document after a broken one is still linted
    expect(r.stdout).toMatch(/bad\/broken.yaml:16:18 error .*`wrold`.*did you mean `world`/);
    expect(r.stdout).toContain('[tetragon/arg-index]');
    expect(r.stdout).toContain('[tetragon/unknown-action]');
  });

  it('json: a LintReport valid against schemas/lint-report.schema.json', async () => {
    const r = await weir(['bad', '--format', 'json'], fixtures);
    const report = JSON.parse(r.stdout) as { kind: string; summary: { errors: number; files: number }; diagnostics: { rule: string }[] };
    expect(validateAgainst('lint-report', report)).toEqual([]);
    expect(report.kind).toBe('LintReport');
    expect(report.summary.files).toBe(3);
    expect(report.summary.errors).toBe(report.diagnostics.filter((d) => (d as { severity?: string }).severity === 'error').length);
    expect(report.diagnostics.map((d) => d.rule)).toContain('cilium/operator-case');
  });

  it('sarif: 2.1.0 with rules, regions and fixes (golden)', async () => {
    const r = await weir(['bad', '--format', 'sarif'], fixtures);
    expect(r.code).toBe(1);
    const sarif = JSON.parse(r.stdout) as {
      version: string;
      runs: {
        tool: { driver: { name: string; rules: { id: string }[] } };
        results: {
          ruleId: string;
          ruleIndex: number;
          level: string;
          locations: { physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number; startColumn: number } } }[];
          fixes?: unknown[];
        }[];
      }[];
    };
    expect(sarif.version).toBe('2.1.0');
    const run = sarif.runs[0]!;
    expect(run.tool.driver.name).toBe('weir');
    for (const res of run.results) expect(run.tool.driver.rules[res.ruleIndex]!.id).toBe(res.ruleId);
    const op = run.results.find((x) => x.ruleId === 'cilium/operator-case')!;
    expect(op.level).toBe('error');
    expect(op.locations[0]!.physicalLocation).toMatchObject({
      artifactLocation: { uri: 'test/lint/fixtures/bad/mistakes.yaml', uriBaseId: '%SRCROOT%' },
      region: { startLine: 16, startColumn: 19 },
    });
    expect(op.fixes).toHaveLength(1);
    expectGolden(
      'bad.sarif',
      r.stdout.replace(/"version": "[^"]+",\n(\s+)"semanticVersion": "[^"]+",/, '"version": "X",\n$1"semanticVersion": "X",'),
    );
  });

  it('github: one workflow command per finding, properties escaped', async () => {
    const r = await weir(['bad', '--format', 'github'], fixtures);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toContain(
      '::error file=bad/mistakes.yaml,line=16,col=19,endLine=16,endColumn=21,title=weir cilium/operator-case::operator `in` must be spelled `In` (operators are case-sensitive)',
    );
    expect(lines.filter((l) => l.startsWith('::warning ')).length).toBeGreaterThan(0);
    expect(lines.at(-1)).toMatch(/^weir lint: \d+ errors, \d+ warnings? in 3 files$/);
  });

  it('--output writes the report and keeps stdout empty', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weirlint-'));
    temps.push(dir);
    const out = path.join(dir, 'report.sarif');
    const r = await weir(['bad', '--format', 'sarif', '--output', out], fixtures);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/report written to/);
    expect(JSON.parse(readFileSync(out, 'utf8')).version).toBe('2.1.0');
  });

  it('usage mistakes exit 2', async () => {
    expect((await weir(['--format', 'xml'], fixtures)).code).toBe(2);
    expect((await weir(['--bogus'], fixtures)).code).toBe(2);
  });

  it('--rev reads the committed files, reports the commit, leaves the work tree alone', async () => {
    const repo = mkdtempSync(path.join(tmpdir(), 'weirlint-git-'));
    temps.push(repo);
    const git = (...a: string[]) =>
      execFileSync('git', a, {
        cwd: repo,
        env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
      })
        .toString()
        .trim();
    git('init', '-q', '-b', 'main');
    const bad = readFileSync(path.join(fixtures, 'bad/mistakes.yaml'), 'utf8');
    writeFileSync(path.join(repo, 'p.yaml'), bad);
    git('add', 'p.yaml');
    git('commit', '-q', '-m', 'bad');
    const commit = git('rev-parse', 'HEAD');
    const fixed = bad.replace('operator: in', 'operator: In');
    writeFileSync(path.join(repo, 'p.yaml'), fixed);
    const atHead = await weir(['--rev', 'HEAD', '--format', 'json'], repo);
    const report = JSON.parse(atHead.stdout) as { commit: string; diagnostics: { rule: string; commit?: string }[] };
    expect(report.commit).toBe(commit);
    expect(report.diagnostics.filter((d) => d.rule === 'cilium/operator-case').map((d) => d.commit)).toEqual([commit]);
    const worktree = JSON.parse((await weir(['--format', 'json'], repo)).stdout) as { diagnostics: { rule: string }[] };
    expect(worktree.diagnostics.map((d) => d.rule)).not.toContain('cilium/operator-case');
    expect(readFileSync(path.join(repo, 'p.yaml'), 'utf8')).toBe(fixed);
    expect(git('status', '--porcelain')).toBe('M p.yaml');
    const missing = await weir(['--rev', 'no-such-rev'], repo);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toContain('revision `no-such-rev` does not exist');
  });

  it('--inventory enables selector checks', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weirlint-'));
    temps.push(dir);
    writeFileSync(
      path.join(dir, 'p.yaml'),
      'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: p, namespace: default}\nspec:\n  endpointSelector: {matchLabels: {app: wbe}}\n',
    );
    writeFileSync(
      path.join(dir, 'inv.yml'),
      'apiVersion: weir.dev/v1alpha1\nkind: Inventory\nmetadata: {name: i}\nspec:\n  pods: [{namespace: default, name: web, labels: {app: web}, ips: [10.0.0.1], node: n}]\n',
    );
    const without = await weir(['p.yaml'], dir);
    expect(without.stdout).not.toContain('selector/no-match');
    const withInv = await weir(['p.yaml', '--inventory', 'inv.yml'], dir);
    expect(withInv.stdout).toContain('p.yaml:5:21 warning endpointSelector matches no pod of the inventory in namespace default');
    expect(withInv.code).toBe(0);
  });
});
