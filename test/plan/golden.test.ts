// Golden plans (text, markdown, json) for a sequence of commits on a repository built here:
// add a default-deny, open a port, add an L7 rule, delete a policy, rename a label so a selector
// stops matching, add a Sigkill rule. Regenerate with UPDATE_GOLDEN=1 and review the diff.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import type { CommandIO } from '../../cli/command.js';
import type { Plan } from '../../compiler/plan/model.js';
import { TestRepo } from './repo.js';
import { renderMarkdown } from '../../compiler/plan/render/markdown.js';
import { events, flows, steps } from './sequence.js';

const root = path.resolve(import.meta.dirname, '../..');
const goldenDir = path.join(root, 'test/golden/plan');
const update = process.env['UPDATE_GOLDEN'] === '1';

async function run(argv: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CommandIO = { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), cwd, env: { NO_COLOR: '1' }, isTTY: false };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

function golden(name: string, actual: string): void {
  const file = path.join(goldenDir, name);
  if (update || !existsSync(file)) {
    mkdirSync(goldenDir, { recursive: true });
    writeFileSync(file, actual);
    if (!update && process.env['CI'] === 'true') throw new Error(`golden file ${name} is missing; run UPDATE_GOLDEN=1 and commit it`);
    return;
  }
  expect(actual, `${name} differs from the golden file; if the change is intended, run UPDATE_GOLDEN=1 and review the diff`).toBe(
    readFileSync(file, 'utf8'),
  );
}

const schema = JSON.parse(readFileSync(path.join(root, 'schemas/plan.schema.json'), 'utf8')) as object;
const validate = new Ajv.default({ allErrors: true, strict: false }).compile(schema);

describe('golden plans over a commit sequence', () => {
  const repo = new TestRepo();
  beforeAll(() => {
    for (const s of steps) repo.commit(s);
    repo.write('observed/flows.jsonl', flows);
    repo.write('observed/events.jsonl', events);
  });
  afterAll(() => repo.dispose());

  const plans = new Map<string, Plan>();
  steps.slice(1).forEach((step, i) => {
    const base = steps[i]!.name;
    const nn = String(i + 1).padStart(2, '0');
    it(`${nn} ${step.name}: ${step.message}`, async () => {
      // The runtime folder only exists from the last step on; naming it earlier would (rightly) warn.
      const paths = step.name === 'sigkill' ? ['apps', 'network', 'tracing'] : ['apps', 'network'];
      const common = [
        'plan',
        ...paths,
        '--base',
        base,
        '--head',
        step.name,
        '--flows',
        'observed/flows.jsonl',
        '--events',
        'observed/events.jsonl',
        '--maps',
        '--fail-on',
        'never',
      ];
      // One CLI run writes the text to stdout and the full JSON beside it; the markdown comment
      // is rendered from that JSON (the same Plan object the CLI renders).
      const jsonFile = `observed/plan-${nn}.json`;
      const text = await run([...common, '--format', 'text', '--json', jsonFile], repo.dir);
      expect(text.stderr).not.toMatch(/internal error/);
      expect(text.code).toBe(0);
      const jsonText = readFileSync(path.join(repo.dir, jsonFile), 'utf8');
      const plan = JSON.parse(jsonText) as Plan;
      expect(validate(plan), JSON.stringify(validate.errors)).toBe(true);
      plans.set(step.name, plan);
      golden(`${nn}-${step.name}.json`, jsonText);
      golden(`${nn}-${step.name}.txt`, text.stdout);
      golden(`${nn}-${step.name}.md`, renderMarkdown(plan));
    });
  });

  it('says what each step does, in effect', () => {
    const p = (n: string) => plans.get(n)!;
    // default-deny: ingress to every shop workload is now denied, the rule is the new NetworkPolicy.
    const dd = p('default-deny');
    expect(dd.summary.newlyDenied).toBeGreaterThan(0);
    expect(
      dd.changes.find(
        (c) => c.src === 'shop/frontend[Deployment]' && c.dst === 'shop/backend[Deployment]' && c.category === 'newly-denied',
      ),
    ).toBeDefined();
    expect(dd.breaking).toBe(true); // frontend → backend 8080 is observed
    // open-port: frontend → backend TCP 8080 newly allowed by backend-from-frontend.
    const op = p('open-port').changes.filter((c) => c.category === 'newly-allowed');
    expect(op.map((c) => `${c.src} => ${c.dst} ${c.protocol} ${c.ports}`)).toEqual([
      'shop/frontend[Deployment] => shop/backend[Deployment] TCP 8080',
    ]);
    expect(op[0]!.after.rule).toMatchObject({ policy: 'backend-from-frontend', file: 'network/backend.yaml' });
    expect(p('open-port').breaking).toBe(false);
    // l7-rule: the same connection, now filtered by HTTP rules; the observed POST /admin/reindex
    // would be refused by the proxy, so the L7 change breaks live traffic.
    const l7 = p('l7-rule');
    expect(l7.changes.map((c) => c.category)).toEqual(['changed-l7']);
    expect(l7.changes[0]).toMatchObject({ observedFlows: 2, observedDrops: 1, inUse: 'observed', breaking: true });
    expect(l7.flows!.dropped).toMatchObject([
      { src: 'shop/frontend[Deployment]', dst: 'shop/backend[Deployment]', port: 8080, after: { verdict: 'deny' } },
    ]);
    // delete-policy: backend → db 5432 newly denied, observed, breaking.
    const del = p('delete-policy').changes.find((c) => c.src === 'shop/backend[Deployment]' && c.dst === 'shop/db[StatefulSet]');
    expect(del).toMatchObject({ category: 'newly-denied', protocol: 'TCP', ports: '5432', inUse: 'observed', breaking: true });
    expect(del!.before.rule).toMatchObject({ policy: 'db-from-backend', file: 'network/db.yaml' });
    // rename-label: the backend's selector no longer matches the frontend.
    const rn = p('rename-label').changes.filter((c) => c.category === 'newly-denied');
    expect(rn.map((c) => `${c.src} => ${c.dst}`)).toContain('shop/frontend[Deployment] => shop/backend[Deployment]');
    // sigkill: no network change; cat reading /etc/shadow would now be killed.
    const sk = p('sigkill');
    expect(sk.changes).toEqual([]);
    expect(sk.runtime).toMatchObject([
      { policy: 'no-shadow-reads', call: 'sys_openat', before: 'allow', after: 'kill', file: 'tracing/shadow.yaml' },
    ]);
    expect(sk.events).toMatchObject({ wouldKill: 1, evaluated: 2 });
    expect(sk.breaking).toBe(true);
    // Map deltas: deleting the db policy shrinks the db endpoint's policy map; the head verifies.
    const dm = p('delete-policy').maps.find((m) => m.map === 'policy' && m.endpoint?.startsWith('shop/db'));
    expect(dm).toBeDefined();
    expect(dm!.removed).toBeGreaterThan(0);
    expect(dm!.headroom).toBeGreaterThan(0.9);
    expect(p('delete-policy').verification).toMatchObject({ mismatches: 0, problems: [], errors: [] });
    // Malformed flow lines are counted in every plan, never dropped silently.
    expect(sk.flows).toMatchObject({ total: 5, malformed: 1 });
  });

  it('prints the same markdown from the CLI as the golden comment', async () => {
    const md = await run(
      [
        'plan',
        'apps',
        'network',
        '--base',
        'l7-rule',
        '--head',
        'delete-policy',
        '--flows',
        'observed/flows.jsonl',
        '--events',
        'observed/events.jsonl',
        '--maps',
        '--format',
        'markdown',
        '--fail-on',
        'never',
      ],
      repo.dir,
    );
    expect(md.stdout).toBe(readFileSync(path.join(goldenDir, '04-delete-policy.md'), 'utf8'));
  });

  it('exits 1 on a breaking change with --fail-on breaking, 0 with never', async () => {
    expect(
      (
        await run(
          ['plan', 'apps', 'network', '--base', 'open-port', '--head', 'delete-policy', '--flows', 'observed/flows.jsonl', '--quiet'],
          repo.dir,
        )
      ).code,
    ).toBe(1);
    expect((await run(['plan', 'apps', 'network', '--base', 'default-deny', '--head', 'open-port', '--quiet'], repo.dir)).code).toBe(0);
    expect(
      (await run(['plan', 'apps', 'network', '--base', 'default-deny', '--head', 'open-port', '--fail-on', 'any', '--quiet'], repo.dir))
        .code,
    ).toBe(1);
  });

  it('reports usage mistakes with exit 2', async () => {
    const noBase = await run(['plan'], repo.dir);
    expect(noBase.code).toBe(2);
    expect(noBase.stderr).toMatch(/--base REV is required/);
    const both = await run(['plan', '--base', 'initial', '--head', 'sigkill', '--worktree'], repo.dir);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--head and --worktree are exclusive/);
    const fmt = await run(['plan', '--base', 'initial', '--format', 'yaml'], repo.dir);
    expect(fmt.stderr).toMatch(/--format must be one of text, markdown, json, html/);
    const flows = await run(['plan', '--base', 'initial', '--flows', 'no-such.jsonl'], repo.dir);
    expect(flows.code).toBe(2);
    expect(flows.stderr).toMatch(/cannot read --flows no-such.jsonl/);
  });

  it('warns about a path that holds no policy instead of reporting no change', async () => {
    const r = await run(['plan', 'netwrok', '--base', 'initial', '--head', 'open-port', '--fail-on', 'never'], repo.dir);
    expect(r.stdout).toContain('    netwrok:1:1: warning: netwrok holds no YAML file in either revision; check the path [plan/empty-path]');
  });

  it('rejects a base revision that does not exist with a clear message', async () => {
    const r = await run(['plan', '--base', 'no-such-branch', '--quiet'], repo.dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/base revision `no-such-branch` does not exist/);
  });

  it('plans uncommitted edits with --worktree without touching them', async () => {
    repo.write(
      'network/extra.yaml',
      'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: extra, namespace: shop}\nspec:\n  endpointSelector: {matchLabels: {app: db}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {app: web}}]\n    toPorts: [{ports: [{port: "5432", protocol: TCP}]}]\n',
    );
    const r = await run(['plan', 'apps', 'network', '--base', 'HEAD', '--worktree', '--format', 'json', '--fail-on', 'never'], repo.dir);
    const plan = JSON.parse(r.stdout) as Plan;
    expect(plan.head.ref).toBe('worktree');
    expect(plan.changes.map((c) => `${c.category} ${c.src} => ${c.dst} ${c.ports}`)).toEqual([
      'newly-allowed shop/frontend[Deployment] => shop/db[StatefulSet] 5432',
    ]);
    expect(repo.git('status', '--porcelain')).toBe('?? network/extra.yaml\n?? observed/\n');
    expect(readFileSync(path.join(repo.dir, 'network/extra.yaml'), 'utf8')).toContain('name: extra');
  });

  it('shows the head findings when the base does not compile', async () => {
    const r = new TestRepo();
    try {
      r.commit({
        name: 'broken',
        message: 'broken',
        write: {
          'apps/shop.yaml': steps[0]!.write!['apps/shop.yaml']!,
          'network/bad.yaml':
            'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: bad, namespace: shop}\nspec: [not, a, mapping\n',
        },
      });
      r.commit({ name: 'fixed', message: 'fixed', write: { 'network/bad.yaml': steps[0]!.write!['network/db.yaml']! } });
      const out = await run(['plan', '--base', 'broken', '--head', 'fixed', '--fail-on', 'never'], r.dir);
      expect(out.code).toBe(0);
      expect(out.stdout).toMatch(/base broken FAILED: 1 error\(s\)\n {4}network\/bad.yaml:\d+:\d+: YAML syntax error/);
      expect(out.stdout).toMatch(/no connectivity diff; the head's findings and connectivity graph are shown/);
      expect(out.stdout).not.toMatch(/Workloads added/);
    } finally {
      r.dispose();
    }
  });
});

describe('plan with --inventory', () => {
  it('compiles both revisions against one inventory file given apart from the policies', async () => {
    const repo = new TestRepo();
    try {
      for (const s of steps.slice(0, 3)) repo.commit(s);
      repo.write('cluster/inventory.yaml', steps[0]!.write!['apps/shop.yaml']!);
      const r = await run(
        [
          'plan',
          'network',
          '--base',
          'default-deny',
          '--head',
          'open-port',
          '--inventory',
          'cluster/inventory.yaml',
          '--format',
          'json',
          '--fail-on',
          'never',
        ],
        repo.dir,
      );
      expect(r.code).toBe(0);
      const plan = JSON.parse(r.stdout) as Plan;
      expect(plan.changes.map((c) => `${c.category} ${c.src} => ${c.dst} ${c.protocol} ${c.ports}`)).toEqual([
        'newly-allowed shop/frontend[Deployment] => shop/backend[Deployment] TCP 8080',
      ]);
      const missing = await run(
        ['plan', 'network', '--base', 'default-deny', '--inventory', 'nope.yaml', '--format', 'json', '--fail-on', 'never'],
        repo.dir,
      );
      expect(JSON.parse(missing.stdout).head.diagnostics[0]).toMatchObject({ rule: 'plan/inventory-unreadable', file: 'nope.yaml' });
      expect(missing.code).toBe(1);
    } finally {
      repo.dispose();
    }
  });
});
