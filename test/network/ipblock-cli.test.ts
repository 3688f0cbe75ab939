// `weir plan` and `weir connectivity` on a policy repository whose NetworkPolicy ipBlock covers
// pod addresses: a plan whose only change is the inventory (one pod's address moves out of the
// block, another's into it) says so as the reason of each change, and connectivity names the
// ipBlock, its rule and the pod address below the pairs it allows.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import Ajv from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandIO } from '../../cli/command.js';
import { main } from '../../cli/main.js';
import type { Plan } from '../../compiler/plan/model.js';
import { TestRepo } from '../plan/repo.js';

async function run(argv: string[], cwd: string) {
  let stdout = '';
  let stderr = '';
  const io: CommandIO = { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), cwd, env: {}, isTTY: false };
  return { code: await main(argv, io), stdout, stderr };
}

const policy = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-block, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to:
    - ipBlock: {cidr: 10.0.2.0/24, except: [10.0.2.11/32]}
`;

const inventory = (b: string, c: string) => `apiVersion: weir.dev/v1alpha1
kind: Inventory
metadata: {name: inv}
spec:
  nodes: [{name: n1, ips: [192.168.0.1]}]
  namespaces: [{name: x}, {name: y}]
  pods:
  - {namespace: x, name: a, labels: {pod: a}, ips: [10.0.1.10], node: n1}
  - {namespace: y, name: b, labels: {pod: b}, ips: [${b}], node: n1, ports: [{name: http, port: 80}]}
  - {namespace: y, name: c, labels: {pod: c}, ips: [${c}], node: n1, ports: [{name: http, port: 80}]}
`;

const schema = JSON.parse(readFileSync(path.resolve(import.meta.dirname, '../../schemas/plan.schema.json'), 'utf8')) as object;
const validate = new Ajv.default({ allErrors: true, strict: false }).compile(schema);

describe('ipBlock over pod addresses in plan and connectivity', () => {
  const repo = new TestRepo('weir-ipblock-cli-');
  let base = '';
  let head = '';
  beforeAll(() => {
    // y/b is in the block and y/c outside it; then y/b moves out and y/c in. The policy never changes.
    base = repo.commit({
      name: 'base',
      message: 'base',
      write: { 'policy.yaml': policy, 'inventory.yaml': inventory('10.0.2.12', '10.0.3.12') },
    });
    head = repo.commit({ name: 'moved', message: 'addresses move', write: { 'inventory.yaml': inventory('10.0.9.12', '10.0.2.13') } });
  });
  afterAll(() => repo.dispose());

  it('the plan gives an address move that changes an ipBlock verdict as the reason of the change', async () => {
    const r = await run(['plan', '--base', 'base', '--head', 'moved', '--quiet'], repo.dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(1); // y/b declares port 80: losing it breaks traffic in use
    const [b, h] = [base.slice(0, 7), head.slice(0, 7)];
    expect(r.stdout).toContain(
      [
        '! x/a[Pod] => y/b[Pod] : All Connections',
        `      before: allow by x/egress-block policy.yaml:8 @${b} (ipBlock 10.0.2.0/24 except 10.0.2.11/32 covers y/b at 10.0.2.12)`,
        '      after:  deny (default deny: no rule allows it)',
        `      reason: y/b moved from 10.0.2.12 to 10.0.9.12, out of ipBlock 10.0.2.0/24 except 10.0.2.11/32 of x/egress-block policy.yaml:8 @${b}`,
      ].join('\n'),
    );
    expect(r.stdout).toContain(
      [
        '  x/a[Pod] => y/c[Pod] : All Connections',
        '      before: deny (default deny: no rule allows it)',
        `      after:  allow by x/egress-block policy.yaml:8 @${h} (ipBlock 10.0.2.0/24 except 10.0.2.11/32 covers y/c at 10.0.2.13)`,
        `      reason: y/c moved from 10.0.3.12 to 10.0.2.13, into ipBlock 10.0.2.0/24 except 10.0.2.11/32 of x/egress-block policy.yaml:8 @${h}`,
      ].join('\n'),
    );

    const json = await run(['plan', '--base', 'base', '--head', 'moved', '--quiet', '--format', 'json'], repo.dir);
    const plan = JSON.parse(json.stdout) as Plan;
    expect(validate(plan), JSON.stringify(validate.errors)).toBe(true);
    const moves = plan.changes.map((c) => [c.category, c.dst, c.addressMove && { ...c.addressMove, rule: c.addressMove.rule.line }]);
    expect(moves).toContainEqual([
      'newly-denied',
      'y/b[Pod]',
      { pod: 'y/b', before: ['10.0.2.12'], after: ['10.0.9.12'], block: '10.0.2.0/24 except 10.0.2.11/32', direction: 'out', rule: 8 },
    ]);
    expect(moves).toContainEqual([
      'newly-allowed',
      'y/c[Pod]',
      { pod: 'y/c', before: ['10.0.3.12'], after: ['10.0.2.13'], block: '10.0.2.0/24 except 10.0.2.11/32', direction: 'into', rule: 8 },
    ]);

    const md = await run(['plan', '--base', 'base', '--head', 'moved', '--quiet', '--format', 'markdown'], repo.dir);
    expect(md.stdout).toContain('reason: y/b moved from 10.0.2.12 to 10.0.9.12, out of ipBlock 10.0.2.0/24 except 10.0.2.11/32');
    const html = await run(['plan', '--base', 'base', '--head', 'moved', '--quiet', '--format', 'html'], repo.dir);
    expect(html.stdout).toContain('"reason":"y/c moved from 10.0.3.12 to 10.0.2.13, into ipBlock 10.0.2.0/24 except 10.0.2.11/32 of');
  });

  it('a move that keeps the pod inside the block is no change', async () => {
    repo.commit({
      name: 'inside',
      message: 'y/c moves within the block',
      write: { 'inventory.yaml': inventory('10.0.9.12', '10.0.2.200') },
    });
    const r = await run(['plan', '--base', 'moved', '--head', 'inside', '--quiet', '--format', 'json'], repo.dir);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as Plan).changes).toEqual([]);
  });

  it('connectivity names the ipBlock, its rule and the pod address below the pair it allows', async () => {
    const txt = await run(['connectivity', '.', '--rev', 'base'], repo.dir);
    expect(txt.code).toBe(0);
    const lines = txt.stdout.split('\n');
    const at = lines.indexOf('x/a[Pod] => y/b[Pod] : All Connections');
    expect(at).toBeGreaterThanOrEqual(0);
    expect(lines[at + 1]).toBe(
      `    ipBlock 10.0.2.0/24 except 10.0.2.11/32 of x/egress-block policy.yaml:8 @${base.slice(0, 7)} covers y/b at 10.0.2.12`,
    );
    // y/c is outside the block: x/a reaches nothing else, and only the one pair carries an ipBlock line.
    expect(lines.filter((l) => l.startsWith('x/a[Pod] => y/'))).toEqual(['x/a[Pod] => y/b[Pod] : All Connections']);
    expect(lines.filter((l) => l.startsWith('    '))).toHaveLength(1);

    const json = await run(['connectivity', '.', '--rev', 'base', '--format', 'json'], repo.dir);
    const rows = JSON.parse(json.stdout) as {
      src: string;
      dst: string;
      ipBlocks?: { pod: string; address: string; block: string; rule: object }[];
    }[];
    expect(rows.find((l) => l.dst === 'y/b[Pod]' && l.src === 'x/a[Pod]')!.ipBlocks).toEqual([
      {
        pod: 'y/b',
        address: '10.0.2.12',
        block: '10.0.2.0/24 except 10.0.2.11/32',
        rule: { policy: 'egress-block', kind: 'NetworkPolicy', namespace: 'x', file: 'policy.yaml', line: 8, commit: base },
      },
    ]);
    expect(rows.filter((l) => l.ipBlocks)).toHaveLength(1);

    const md = await run(['connectivity', '.', '--rev', 'base', '--format', 'md'], repo.dir);
    expect(md.stdout).toContain(
      `- x/a[Pod] to y/b[Pod]: ipBlock 10.0.2.0/24 except 10.0.2.11/32 of x/egress-block policy.yaml:8 @${base.slice(0, 7)} covers y/b at 10.0.2.12`,
    );
  });
});

describe('external ranges in connectivity and plan', () => {
  const repo = new TestRepo('weir-range-probe-');
  afterAll(() => repo.dispose());

  it('a range is probed at an address no pod holds: a pod at its first address does not stand for it', async () => {
    // Cilium's toCIDR selects no pod: y/b (10.0.2.0) stays denied, the external rest of 10.0.2.0/24 is allowed.
    repo.commit({
      name: 'cidr',
      message: 'cidr',
      write: {
        'policy.yaml': `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: to-cidr, namespace: x}
spec:
  endpointSelector: {matchLabels: {pod: a}}
  egress:
  - toCIDR: [10.0.2.0/24]
`,
        'inventory.yaml': inventory('10.0.2.0', '10.0.3.12'),
      },
    });
    const r = await run(['connectivity', '.'], repo.dir);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('x/a[Pod]'))).toEqual([
      'x/a[Pod] => 10.0.2.0-10.0.2.255[External] : All Connections',
    ]);
  });
});
