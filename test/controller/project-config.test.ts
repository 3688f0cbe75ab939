// The controller compiles a commit as weir build and plan do in its work tree: the commit's own
// .weir.yaml leaves out the files of its ignore list (an action, RBAC, a kustomization beside the
// policies) and names the cluster's allow-localhost; a broken config refuses the commit at its place.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ProjectCompiler } from '../../controller/reconcile/compiler.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const inventory = `apiVersion: weir.dev/v1alpha1
kind: Inventory
metadata: {name: t}
spec:
  nodes: [{name: n1, ips: [192.168.1.10]}]
  namespaces: [{name: shop}]
  pods: [{namespace: shop, name: web, labels: {app: web}, ips: [10.0.1.5], node: n1}]
`;
const policy = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress: [{fromEndpoints: [{matchLabels: {app: client}}]}]
`;
// A GitHub Actions workflow beside the policies (YAML that is no policy: reported, not an error).
const action = `name: weir
on: [pull_request]
jobs: {plan: {runs-on: ubuntu-latest, steps: [{uses: actions/checkout@v4}]}}
`;
// A policy template a CI job renders: not YAML until rendered, an error unless ignored.
const template = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: {{ .Name }}-web
spec:
  endpointSelector:
    matchLabels: {{- toYaml .Selector | nindent 6 }}
`;

function repo(files: Record<string, string>): { root: string; commit: string } {
  const root = mkdtempSync(path.join(tmpdir(), 'weir-ctlcfg-'));
  dirs.push(root);
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    writeFileSync(path.join(root, f), text);
  }
  const git = (...a: string[]) =>
    execFileSync('git', a, { cwd: root, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' } });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'policies');
  return { root, commit: git('rev-parse', 'HEAD').trim() };
}

const base = { 'inventory.yaml': inventory, 'policies/web.yaml': policy, 'policies/.github/workflows/weir.yaml': action };

describe('the controller reads the commit’s .weir.yaml', () => {
  it('leaves out what its ignore list names, as weir build does', async () => {
    const without = repo({ ...base, 'policies/ci/cnp.yaml': template });
    const refused = await new ProjectCompiler().compile({ root: without.root, commit: without.commit, paths: ['.'] });
    expect(refused.ok).toBe(false);
    expect(refused.diagnostics.some((d) => d.file === 'policies/ci/cnp.yaml' && d.severity === 'error')).toBe(true);

    const withCfg = repo({ ...base, 'policies/ci/cnp.yaml': template, '.weir.yaml': 'ignore: [policies/ci/]\n' });
    const r = await new ProjectCompiler().compile({ root: withCfg.root, commit: withCfg.commit, paths: ['.'] });
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(r.ok).toBe(true);
  });

  it('takes its allowLocalhost unless the controller was started with one', async () => {
    const c = repo({ ...base, '.weir.yaml': 'allowLocalhost: policy\n' });
    const byConfig = await new ProjectCompiler().compile({ root: c.root, commit: c.commit, paths: ['.'] });
    expect(byConfig.ok).toBe(true);
    expect(byConfig.bundle!.manifest.source.allowLocalhost).toBe('policy');
    const byFlag = await new ProjectCompiler({ allowLocalhost: 'always' }).compile({ root: c.root, commit: c.commit, paths: ['.'] });
    expect(byFlag.bundle!.manifest.source.allowLocalhost).toBeUndefined();
  });

  it('refuses a commit whose .weir.yaml is broken, naming the file and place', async () => {
    const c = repo({ ...base, '.weir.yaml': 'ignore: [x]\nallowLocalhost: sometimes\n' });
    const r = await new ProjectCompiler().compile({ root: c.root, commit: c.commit, paths: ['.'] });
    expect(r.ok).toBe(false);
    expect(r.diagnostics).toMatchObject([{ rule: 'config/invalid', severity: 'error', file: '.weir.yaml', line: 2 }]);
    expect(r.diagnostics[0]!.message).toMatch(/allowLocalhost/);
    // A config that is not a few lines of paths is refused before it is parsed.
    const big = repo({ ...base, '.weir.yaml': `ignore: [x]\n${'#'.repeat(70_000)}\n` });
    const rb = await new ProjectCompiler().compile({ root: big.root, commit: big.commit, paths: ['.'] });
    expect(rb.ok).toBe(false);
    expect(rb.diagnostics[0]!.message).toMatch(/^\.weir\.yaml is 70013 bytes; a project config is at most 65536$/);
  });
});
