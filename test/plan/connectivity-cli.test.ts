// `weir connectivity` on a repository built here: np-guard `list` lines in every format, from the
// work tree and from a Git revision, and its errors. Goldens under test/golden/plan/.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import type { CommandIO } from '../../cli/command.js';
import { TestRepo } from './repo.js';
import { steps } from './sequence.js';

const goldenDir = path.resolve(import.meta.dirname, '../golden/plan');
const update = process.env['UPDATE_GOLDEN'] === '1';

async function run(argv: string[], cwd: string) {
  let stdout = '';
  let stderr = '';
  const io: CommandIO = { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), cwd, env: {}, isTTY: false };
  return { code: await main(argv, io), stdout, stderr };
}

function golden(name: string, actual: string): void {
  const file = path.join(goldenDir, name);
  if (update || !existsSync(file)) {
    if (!update && process.env['CI'] === 'true') throw new Error(`golden file ${name} is missing; run UPDATE_GOLDEN=1 and commit it`);
    mkdirSync(goldenDir, { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  expect(actual, `${name} differs; if intended, run UPDATE_GOLDEN=1 and review the diff`).toBe(readFileSync(file, 'utf8'));
}

describe('weir connectivity', () => {
  const repo = new TestRepo();
  beforeAll(() => {
    for (const s of steps.slice(0, 4)) repo.commit(s); // up to the L7 rule
  });
  afterAll(() => repo.dispose());

  it.each(['txt', 'csv', 'md', 'json', 'dot'])('prints np-guard list format %s', async (format) => {
    const r = await run(['connectivity', 'apps', 'network', '--format', format], repo.dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    golden(`connectivity.${format}`, r.stdout);
  });

  it('reads the work tree by default and a revision with --rev, with identical results at HEAD', async () => {
    const wt = await run(['connectivity', '.'], repo.dir);
    const rev = await run(['connectivity', '.', '--rev', 'HEAD'], repo.dir);
    expect(wt.code).toBe(0);
    expect(rev.stdout).toBe(wt.stdout);
    expect(wt.stdout).toContain('shop/frontend[Deployment] => shop/backend[Deployment] : TCP 8080\n');
    expect(wt.stdout).toContain('shop/backend[Deployment] => shop/db[StatefulSet] : TCP 5432\n');
    expect(wt.stdout).toContain('shop/db[StatefulSet] => 0.0.0.0-255.255.255.255[External] : All Connections\n');
    expect(wt.stdout).not.toContain('=> shop/db[StatefulSet] : All');
    const initial = await run(['connectivity', '.', '--rev', 'initial'], repo.dir);
    expect(initial.stdout).toContain('shop/frontend[Deployment] => shop/backend[Deployment] : All Connections\n');
  });

  it('fails clearly on a missing revision, a bad format and broken policies', async () => {
    const missing = await run(['connectivity', '.', '--rev', 'nope'], repo.dir);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/revision `nope` does not exist/);
    const bad = await run(['connectivity', '--format', 'xml'], repo.dir);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--format must be one of txt, csv, md, json, dot/);
    repo.write(
      'network/broken.yaml',
      'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: b, namespace: shop}\nspec:\n  endpointSelector: {matchLabels: {app: db}}\n  ingress:\n  - fromCIDR: [not-a-cidr]\n',
    );
    const broken = await run(['connectivity', '.'], repo.dir);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/network\/broken.yaml:7:\d+: error: .*not-a-cidr/);
  });
});

describe('weir connectivity without workloads', () => {
  const repo = new TestRepo();
  afterAll(() => repo.dispose());
  it('warns that there is nothing to list instead of printing an empty answer that looks clean', async () => {
    repo.commit({
      name: 'only-policy',
      message: 'a policy, no workloads',
      write: {
        'network/p.yaml':
          'apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny, namespace: shop}\nspec: {podSelector: {}}\n',
      },
    });
    const r = await run(['connectivity', '.'], repo.dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      '.:1:1: warning: no workloads found beside the policies (no Pod, workload manifest or Inventory pod): connectivity is only computed between workloads, so there is nothing to list; pass --inventory FILE or DIR [plan/empty-inventory]\n',
    );
  });
});
