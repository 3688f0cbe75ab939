// The GitHub workflow users copy, the composite action and the project's CI: structure, and the
// inline scripts run for real on sample SARIF / JUnit / plan files.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { commentMarker } from '../../compiler/plan/render/markdown.js';

const root = path.resolve(import.meta.dirname, '../..');
interface Step {
  name?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  if?: string;
  env?: Record<string, string>;
}
const load = (f: string) =>
  parse(readFileSync(path.join(root, f), 'utf8')) as {
    on: unknown;
    jobs: Record<string, { steps: Step[] }>;
    runs: { using: string; steps: Step[] };
    inputs: Record<string, unknown>;
    permissions: Record<string, string>;
  };

const temps: string[] = [];
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'weirplan-wf-'));
  temps.push(d);
  return d;
}

/** Extracts the `node --input-type=module -e '...'` program from a run script. */
function inlineScript(run: string): string {
  const m = /node --input-type=module -e '([\s\S]*?)'/.exec(run);
  if (!m) throw new Error('no inline node script');
  return m[1]!;
}

describe('policy-pr workflow', () => {
  const wf = load('.github/workflows/policy-pr.yml');
  const steps = wf.jobs['weir']!.steps;
  const byName = (n: string) => steps.find((s) => s.name?.startsWith(n))!;

  it('checks out full history, lints to SARIF, tests to JUnit, plans against the base branch', () => {
    expect(steps[0]).toMatchObject({ uses: 'actions/checkout@v4', with: { 'fetch-depth': 0 } });
    expect(byName('Lint').run).toContain('--format sarif --output weir-lint.sarif');
    expect(steps.find((s) => s.uses?.startsWith('github/codeql-action/upload-sarif'))?.with).toMatchObject({
      sarif_file: 'weir-lint.sarif',
    });
    expect(byName('Policy tests').run).toContain('--format junit --output weir-tests.xml');
    expect(byName('Plan').run).toContain(
      '--base "origin/${GITHUB_BASE_REF}" --head HEAD --format markdown --output weir-plan.md --json weir-plan.json --html weir-plan.html',
    );
    expect(wf.permissions).toMatchObject({ 'pull-requests': 'write', 'security-events': 'write' });
  });

  it('updates one comment found by the marker the markdown renderer writes', () => {
    const script = String(byName('Post or update').with!['script']);
    expect(script).toContain(`const marker = '${commentMarker}'`);
    expect(script).toMatch(/updateComment[\s\S]*createComment/);
    expect(byName('Upload reports').with!['path']).toContain('weir-plan.html');
  });

  it('turns SARIF results into inline annotations', () => {
    const dir = tempDir();
    writeFileSync(
      path.join(dir, 'weir-lint.sarif'),
      JSON.stringify({
        runs: [
          {
            results: [
              {
                ruleId: 'cilium/l7-on-non-tcp',
                level: 'error',
                message: { text: 'L7 rules need TCP\nsee docs' },
                locations: [
                  { physicalLocation: { artifactLocation: { uri: 'policies/a.yaml' }, region: { startLine: 12, startColumn: 9 } } },
                ],
              },
            ],
          },
        ],
      }),
    );
    const out = execFileSync('node', ['--input-type=module', '-e', inlineScript(byName('Lint').run!)], { cwd: dir, encoding: 'utf8' });
    expect(out).toBe('::error file=policies/a.yaml,line=12,col=9,title=cilium/l7-on-non-tcp::L7 rules need TCP%0Asee docs\n');
  });

  it('annotates failing JUnit cases', () => {
    const dir = tempDir();
    writeFileSync(
      path.join(dir, 'weir-tests.xml'),
      '<testsuites><testsuite name="s"><testcase name="ok" file="policies/tests/a.yaml" line="3"></testcase><testcase name="empire may land" file="policies/tests/a.yaml" line="9"><failure message="expected allow, got deny"/></testcase></testsuite></testsuites>',
    );
    const out = execFileSync('node', ['--input-type=module', '-e', inlineScript(byName('Policy tests').run!)], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(out).toBe('::error file=policies/tests/a.yaml,line=9,title=empire may land::expected allow, got deny\n');
    // weir test's JUnit names the file in classname and has no line: annotate the file.
    writeFileSync(
      path.join(dir, 'weir-tests.xml'),
      '<testsuites><testsuite name="policies/tests/b.yaml"><testcase classname="policies/tests/b.yaml" name="xwing may not land"><failure message="expected deny, got allow"/></testcase></testsuite></testsuites>',
    );
    const out2 = execFileSync('node', ['--input-type=module', '-e', inlineScript(byName('Policy tests').run!)], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(out2).toBe('::error file=policies/tests/b.yaml,line=1,title=xwing may not land::expected deny, got allow\n');
  });

  it('fails the job on a breaking plan only when asked to', () => {
    const dir = tempDir();
    const plan = { head: { status: 'ok' }, breaking: true, summary: { breaking: 2 }, changes: [{}], connectivityDiff: [], runtime: [] };
    writeFileSync(path.join(dir, 'weir-plan.json'), JSON.stringify(plan));
    const verdict = inlineScript(byName('Verdict').run!);
    const run = (failOn: string) => {
      try {
        execFileSync('node', ['--input-type=module', '-e', verdict], {
          cwd: dir,
          encoding: 'utf8',
          env: { ...process.env, FAIL_ON: failOn },
        });
        return 0;
      } catch (e) {
        return (e as { status: number }).status;
      }
    };
    expect(run('breaking')).toBe(1);
    expect(run('never')).toBe(0);
  });
});

describe('composite action and project CI', () => {
  it('action.yml is a composite action running weir from its own checkout', () => {
    const a = load('action.yml');
    expect(a.runs.using).toBe('composite');
    expect(Object.keys(a.inputs)).toEqual(expect.arrayContaining(['paths', 'base', 'inventory', 'flows', 'events', 'fail-on', 'comment']));
    expect(a.runs.steps.find((s) => s.name === 'Set up weir')!.run).toContain('WEIR_BIN=$ACTION_PATH/bin/weir.js');
    expect(a.runs.steps.map((s) => s.name)).toEqual([
      'Set up Node.js',
      'Set up weir',
      'Lint',
      'Upload lint results to code scanning',
      'Policy tests',
      'Plan',
      'Post or update the plan comment',
      'Upload reports',
      'Verdict',
    ]);
  });
  it('ci.yml runs .ci/run and exercises the action on policies/', () => {
    const ci = load('.github/workflows/ci.yml');
    expect(ci.jobs['test']!.steps.some((s) => s.run?.includes('bash .ci/run'))).toBe(true);
    expect(ci.jobs['policies']!.steps.find((s) => s.uses === './')?.with).toMatchObject({ paths: 'policies' });
  });
});
