// .weir.yaml, the project configuration: found as ESLint and conftest find theirs, checked with
// places, and applied by `weir lint` (policies, ignore, inventory, guardrails, format), connectivity,
// build and plan (ignore, allowLocalhost). And weir's own
// repository, a GitOps repository like any other, lints clean with no arguments.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import type { CommandIO } from '../../cli/command.js';
import { configFormat, findConfigFile, readConfig } from '../../compiler/load/config.js';

const temps: string[] = [];
afterAll(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })));
function tree(files: Record<string, string>): string {
  const d = mkdtempSync(path.join(tmpdir(), 'weir-config-'));
  temps.push(d);
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(d, f)), { recursive: true });
    writeFileSync(path.join(d, f), text);
  }
  return d;
}

async function run(argv: string[], cwd: string) {
  let stdout = '';
  let stderr = '';
  const io: CommandIO = { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), cwd, env: {}, isTTY: false };
  return { code: await main(argv, io), stdout, stderr };
}

const cnp = (name: string, extra = '') =>
  `apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: ${name}, namespace: shop}\nspec:\n  endpointSelector: {matchLabels: {app: ${name}}}\n${extra}`;

describe('.weir.yaml: where it is found', () => {
  it('in the working folder or the nearest parent, not above the repository', () => {
    const d = tree({
      '.weir.yaml': 'policies: [p]\n',
      'repo/.git/HEAD': 'ref: refs/heads/main\n',
      'repo/a/b/x.txt': '',
      'plain/c/x.txt': '',
    });
    expect(findConfigFile(path.join(d, 'plain/c'))).toBe(path.join(d, '.weir.yaml'));
    expect(findConfigFile(path.join(d, 'repo/a/b'))).toBeUndefined();
    writeFileSync(path.join(d, 'repo/.weir.yml'), 'ignore: [x]\n');
    expect(findConfigFile(path.join(d, 'repo/a/b'))).toBe(path.join(d, 'repo/.weir.yml'));
  });

  it('reads every key, a path or a list, formats per command or for all', () => {
    const d = tree({
      '.weir.yaml':
        'policies: network\nignore: [vendor/, "**/*.tmpl.yaml"]\ninventory: cluster/\nguardrails: [guardrails]\nformat: {lint: sarif}\n',
    });
    const r = readConfig(path.join(d, '.weir.yaml'));
    expect(r.diagnostics).toEqual([]);
    expect(r.config).toMatchObject({
      root: d,
      policies: ['network'],
      ignore: ['vendor/', '**/*.tmpl.yaml'],
      inventory: ['cluster/'],
      guardrails: ['guardrails'],
    });
    expect([configFormat(r.config, 'lint'), configFormat(r.config, 'connectivity')]).toEqual(['sarif', undefined]);
    const all = readConfig(path.join(tree({ '.weir.yml': 'format: json\n' }), '.weir.yml'));
    expect(configFormat(all.config, 'connectivity')).toBe('json');
  });

  it('mistakes are errors at their place', () => {
    const d = tree({ '.weir.yaml': 'policy: [p]\nignore: {a: 1}\nformat: [x]\n' });
    const r = readConfig(path.join(d, '.weir.yaml'));
    expect(r.config).toBeUndefined();
    expect(r.diagnostics.map((x) => `${x.rule}@${x.line}:${x.column} ${x.message}`)).toEqual([
      'config/invalid@1:1 unknown key `policy` in .weir.yaml; known: policies, ignore, inventory, guardrails, format, allowLocalhost (did you mean `policies`?)',
      'config/invalid@2:9 `ignore` must be a path or a list of paths',
      'config/invalid@3:9 `format` must be a format name, or a mapping of command to format (`lint: sarif`)',
    ]);
  });
});

describe('weir lint with a .weir.yaml', () => {
  const repo = () =>
    tree({
      '.git/HEAD': 'ref: refs/heads/main\n',
      '.weir.yaml': 'policies: [network]\nignore: [network/drafts/]\nguardrails: guardrails\nformat: {lint: json}\n',
      'network/api.yaml': cnp('api', '  ingress:\n  - fromEntities: [world]\n'),
      'network/drafts/wip.yaml': 'kind: [broken\n',
      'guardrails/no-world.yaml': `apiVersion: weir.dev/v1alpha1\nkind: Guardrail\nmetadata: {name: no-world}\nspec:\n  kinds: [CiliumNetworkPolicy]\n  severity: warning\n  message: world may not reach pods\n  rule: "!has(object.spec.ingress) || !object.spec.ingress.exists(r, has(r.fromEntities) && r.fromEntities.exists(e, e == 'world'))"\n`,
      'docs/readme.md': '# not policies\n',
    });

  it('no arguments: the configured paths, less the ignored ones, with its guardrails and format', async () => {
    const d = repo();
    const r = await run(['lint'], path.join(d, 'docs'));
    const report = JSON.parse(r.stdout) as {
      summary: { files: number; warnings: number; errors: number };
      files: string[];
      diagnostics: { rule: string; file: string }[];
    };
    expect(report.files).toEqual(['network/api.yaml']);
    expect(report.diagnostics.map((x) => `${x.rule} ${x.file}`)).toEqual(['guardrail/no-world network/api.yaml']);
    expect(r.code).toBe(0);
  });

  it('an ignored folder named on the command line is read; --format wins over the config', async () => {
    const d = repo();
    const r = await run(['lint', 'network/drafts', '--format', 'text'], d);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/network\/drafts\/wip\.yaml:\d+:\d+ error/);
  });

  it('a broken config is an error of the run, at its place', async () => {
    const d = repo();
    writeFileSync(path.join(d, '.weir.yaml'), 'policies: [network]\nformats: json\n');
    const r = await run(['lint', '--format', 'text'], d);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      '.weir.yaml:2:1 error unknown key `formats` in .weir.yaml; known: policies, ignore, inventory, guardrails, format, allowLocalhost (did you mean `format`?) [config/invalid]',
    );
  });
});

describe("weir's own repository", () => {
  it("lints with no arguments without an error: other tools' files are counted, not reported", async () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const r = await run(['lint', '--format', 'json'], root);
    const report = JSON.parse(r.stdout) as {
      summary: { errors: number; ignored: number };
      diagnostics: { rule: string; severity: string; file: string }[];
    };
    expect(report.diagnostics.filter((x) => x.severity === 'error')).toEqual([]);
    expect(r.code).toBe(0);
    // action.yml, RBAC, kustomizations, Argo CD and Flux objects are among the ignored documents.
    expect(report.summary.ignored).toBeGreaterThan(20);
    expect(report.diagnostics.filter((x) => x.rule === 'load/unknown-kind' || x.rule === 'load/missing-kind')).toEqual([]);
  }, 60_000);
});

describe('weir connectivity with a .weir.yaml', () => {
  it('reads the configured paths and inventory, less the ignored ones, in the configured format', async () => {
    const d = tree({
      '.git/HEAD': 'ref: refs/heads/main\n',
      '.weir.yaml': 'policies: [network]\nignore: [network/old/]\ninventory: cluster\nformat: {connectivity: csv}\n',
      'network/deny.yaml':
        'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: shop}\nspec: {podSelector: {}, policyTypes: [Ingress]}\n',
      'network/old/broken.yaml': 'kind: [\n',
      'cluster/pods.json': JSON.stringify({
        kind: 'PodList',
        apiVersion: 'v1',
        items: [
          {
            metadata: {
              name: 'web-0',
              namespace: 'shop',
              labels: { app: 'web' },
              ownerReferences: [{ kind: 'StatefulSet', name: 'web', controller: true }],
            },
            status: { podIP: '10.0.0.1' },
          },
        ],
      }),
    });
    const r = await run(['connectivity'], d);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('src,dst,conn\nshop/web[StatefulSet],0.0.0.0-255.255.255.255[External],All Connections\n');
  });
});

// A GitOps repository as it comes: policies beside a composite action, RBAC, a kustomization, a
// Flux object and policy templates a CI job renders, which are not YAML until rendered. .weir.yaml's ignore
// list (and allowLocalhost) applies to build and plan as it does to lint.
const gitops: Record<string, string> = {
  '.weir.yaml': 'ignore: [ci/]\nallowLocalhost: policy\n',
  'policies/web.yaml': cnp('web', '  ingress:\n  - fromEndpoints: [{matchLabels: {app: client}}]\n'),
  'policies/inventory.yaml':
    'apiVersion: weir.dev/v1alpha1\nkind: Inventory\nmetadata: {name: c}\nspec:\n  nodes: [{name: n1, ips: [192.168.1.10]}]\n  namespaces: [{name: shop}]\n  pods:\n  - {namespace: shop, name: web, labels: {app: web}, ips: [10.0.0.1], node: n1}\n  - {namespace: shop, name: client, labels: {app: client}, ips: [10.0.0.2], node: n1}\n',
  'action.yml': 'name: policy checks\nruns:\n  using: composite\n  steps:\n  - run: weir lint\n    shell: bash\n',
  'deploy/rbac.yaml':
    'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\nrules:\n- apiGroups: [""]\n  resources: [pods]\n  verbs: [get, list]\n',
  'kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [deploy/rbac.yaml]\n',
  'flux/sync.yaml':
    'apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: policies, namespace: flux-system}\nspec: {interval: 5m, path: ./policies, prune: true, sourceRef: {kind: GitRepository, name: policies}}\n',
  // Policies a CI job renders from Go templates (no Chart.yaml: not a chart weir knows to skip).
  'ci/templates/cnp.yaml':
    'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: {{ .Name }}-web\nspec:\n  endpointSelector:\n    matchLabels: {{- toYaml .Selector | nindent 6 }}\n',
};

describe('weir build and weir plan with a .weir.yaml', () => {
  it('build: a GitOps repository builds with the config, and its ignore list is what makes it build', async () => {
    const d = tree(gitops);
    const r = await run(['build', '.', '--inventory', 'policies/inventory.yaml', '--out', 'out', '--format', 'json'], d);
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const manifest = JSON.parse((await import('node:fs')).readFileSync(path.join(d, 'out', 'manifest.json'), 'utf8'));
    expect(manifest.source.allowLocalhost).toBe('policy');
    // The command line wins over the config.
    const flag = await run(['build', '.', '--inventory', 'policies/inventory.yaml', '--out', 'out2', '--allow-localhost', 'auto'], d);
    expect(flag.code).toBe(0);
    expect(JSON.parse((await import('node:fs')).readFileSync(path.join(d, 'out2', 'manifest.json'), 'utf8')).source.allowLocalhost).toBe(
      undefined,
    );
    // Without the ignore list the templates are YAML errors and nothing is built.
    writeFileSync(path.join(d, '.weir.yaml'), 'allowLocalhost: policy\n');
    const bare = await run(['build', '.', '--inventory', 'policies/inventory.yaml', '--out', 'out3'], d);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toMatch(/ci\/templates\/cnp\.yaml:\d+:\d+: error: YAML syntax error/);
  });

  it('build: a broken config stops the run at its place (exit 2); a wrong --allow-localhost is a usage error', async () => {
    const d = tree({ ...gitops, '.weir.yaml': 'allowLocalhost: sometimes\n' });
    const r = await run(['build', '.', '--out', 'out'], d);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      ".weir.yaml:1:17: error: `allowLocalhost` must be one of auto, always, policy (Cilium's --allow-localhost) [config/invalid]",
    );
    const u = await run(['build', '.', '--out', 'out', '--allow-localhost', 'never'], tree(gitops));
    expect(u.code).toBe(2);
    expect(u.stderr).toContain('--allow-localhost must be one of auto, always, policy');
  });

  it('plan: both revisions are read without the ignored files, with the configured allow-localhost', async () => {
    const { TestRepo } = await import('../plan/repo.js');
    const repo = new TestRepo('weir-gitops-');
    temps.push(repo.dir);
    repo.commit({ name: 'base', message: 'base', write: gitops });
    repo.commit({
      name: 'head',
      message: 'web admits the client on 8080 only',
      write: {
        'policies/web.yaml': cnp(
          'web',
          '  ingress:\n  - fromEndpoints: [{matchLabels: {app: client}}]\n    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]\n  - fromEntities: [host]\n    toPorts: [{ports: [{port: "8080", protocol: TCP}]}]\n',
        ),
        'ci/templates/svc.yaml': 'kind: Service\nmetadata:\n  name: {{ .Name }}\n  labels: {{- toYaml .Labels | nindent 4 }}\n',
      },
    });
    const r = await run(['plan', '--base', 'base', '--head', 'head', '--format', 'json', '--fail-on', 'never', '--quiet'], repo.dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan.base.status).not.toBe('failed');
    expect(plan.head.status).not.toBe('failed');
    expect(JSON.stringify(plan)).not.toContain('ci/templates');
    // Under allowLocalhost: policy the host is a peer like any other: the rule naming it newly
    // allows it. With the default the host reached web all along, so that rule changes nothing.
    type Change = { src: string; dst: string; category: string; protocol: string; ports: string };
    const hostChanges = (p: { changes: Change[] }) =>
      p.changes.filter((c) => c.src === 'host[Entity]').map((c) => `${c.category} ${c.dst} ${c.protocol} ${c.ports}`);
    expect(hostChanges(plan)).toEqual(['newly-allowed shop/web[Pod] TCP 8080']);
    const auto = await run(
      ['plan', '--base', 'base', '--head', 'head', '--format', 'json', '--fail-on', 'never', '--quiet', '--allow-localhost', 'auto'],
      repo.dir,
    );
    expect(auto.code).toBe(0);
    expect(hostChanges(JSON.parse(auto.stdout))).toEqual([]);
    // Without the ignore list the head's templates fail the plan.
    repo.commit({ name: 'bare', message: 'no ignore', write: { '.weir.yaml': 'allowLocalhost: policy\n' } });
    const bare = await run(['plan', '--base', 'base', '--head', 'bare', '--format', 'json', '--fail-on', 'never', '--quiet'], repo.dir);
    expect(bare.code).not.toBe(0);
  });

  it('plan: each revision is read with its own .weir.yaml, so an ignore list that hides a policy shows as its removal', async () => {
    const { TestRepo } = await import('../plan/repo.js');
    const repo = new TestRepo('weir-gitops-');
    temps.push(repo.dir);
    const files = { ...gitops, '.weir.yaml': 'ignore: [ci/]\nallowLocalhost: policy\n' };
    repo.commit({ name: 'base', message: 'base', write: files });
    // The head changes no policy: it only adds policies/web.yaml to the ignore list.
    repo.commit({
      name: 'head',
      message: 'tidy the config',
      write: { '.weir.yaml': 'ignore: [ci/, policies/web*]\nallowLocalhost: policy\n' },
    });
    const r = await run(['plan', '--base', 'base', '--head', 'head', '--format', 'json', '--fail-on', 'never', '--quiet'], repo.dir);
    expect(r.stderr).toBe('');
    const plan = JSON.parse(r.stdout) as { changes: { src: string; dst: string; category: string }[] };
    // web's ingress policy is gone at the head: what it denied is newly allowed, and the plan says so.
    expect(plan.changes.some((c) => c.category === 'newly-allowed' && c.dst === 'shop/web[Pod]')).toBe(true);
    // A broken config at a revision stops the plan naming the revision and the place.
    repo.commit({ name: 'broken', message: 'oops', write: { '.weir.yaml': 'allowLocalhost: sometimes\n' } });
    repo.commit({ name: 'fixed', message: 'fixed', write: { '.weir.yaml': 'ignore: [ci/]\n' } });
    const b = await run(['plan', '--base', 'broken', '--head', 'fixed', '--quiet'], repo.dir);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/^broken:\.weir\.yaml:1:17: error: `allowLocalhost` must be one of/m);
  });
});
