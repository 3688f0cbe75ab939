// Lint, build, plan and the controller's compiler agree on what is invalid: a label key with a NUL,
// an emoji label value, a 4 MB metadata.name and a matchArgs index of 2^64 are refused by every
// stage (they share compiler/validate.ts and the runtime compiler's checks), and so is what Cilium's or
// Tetragon's agent refuses though the CRD schema lets it through.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CommandIO } from '../../cli/command.js';
import { main } from '../../cli/main.js';
import { ProjectCompiler } from '../../controller/reconcile/compiler.js';

const pods = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default, labels: {app: web}}
spec: {nodeName: node-a}
status: {podIP: 10.0.0.10}
`;
const cnp = (name: string, key: string, value: string) => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ${name}, namespace: default}
spec:
  endpointSelector: {matchLabels: {${JSON.stringify(key)}: web}}
  ingress: [{fromEndpoints: [{matchLabels: {app: ${JSON.stringify(value)}}}]}]
`;
const cases: [string, string, RegExp][] = [
  ['a label key with a NUL', cnp('a', 'app\u0000', 'web'), /network\/invalid-selector/],
  ['an emoji label value', cnp('a', 'app', '\u{1F600}'), /network\/invalid-selector/],
  ['a 4 MB metadata.name', cnp('a'.repeat(4 << 20), 'app', 'web'), /schema\/invalid/],
  [
    'a matchArgs index of 2^64',
    `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: t}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - {index: 1, type: string}
    selectors:
    - matchArgs:
      - {index: 18446744073709551616, operator: Equal, values: ["/x"]}
`,
    /arg-index/,
  ],
  [
    "icmps and toPorts in one rule (Cilium's agent refuses it)",
    `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: icmp, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - icmps: [{fields: [{type: 8}]}]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]
`,
    /cilium\/icmp-with-ports/,
  ],
  [
    "two peer kinds in one rule (Cilium's agent refuses it)",
    `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: kinds, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: web}}
  egress:
  - toEndpoints: [{matchLabels: {app: db}}]
    toCIDR: [10.1.0.0/16]
`,
    /cilium\/peer-kinds/,
  ],
  [
    "an action Tetragon's CRD no longer accepts",
    `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: fd}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - {index: 1, type: string}
    selectors:
    - matchActions:
      - {action: FollowFD, argFd: 0, argName: 1}
`,
    /tetragon\/removed/,
  ],
];

function io(cwd: string): CommandIO & { out: string; err: string } {
  const o = { out: '', err: '', cwd, env: {}, isTTY: false } as CommandIO & { out: string; err: string };
  o.stdout = (s) => void (o.out += s);
  o.stderr = (s) => void (o.err += s);
  return o;
}

describe('every stage refuses the same invalid input', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'weir-agree-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(cases)(
    '%s',
    async (name, policy, rule) => {
      const repo = path.join(dir, name.replace(/\W+/g, '-'));
      mkdirSync(path.join(repo, 'policies'), { recursive: true });
      const git = (...a: string[]) =>
        execFileSync('git', ['-c', 'user.email=t@weir.invalid', '-c', 'user.name=t', '-c', 'commit.gpgsign=false', ...a], {
          cwd: repo,
          stdio: 'pipe',
        });
      git('init', '-q', '-b', 'main');
      writeFileSync(path.join(repo, 'policies/pods.yaml'), pods);
      git('add', '-A');
      git('commit', '-q', '-m', 'base');
      writeFileSync(path.join(repo, 'policies/p.yaml'), policy);
      git('add', '-A');
      git('commit', '-q', '-m', 'head');

      const lint = io(repo);
      expect(await main(['lint', 'policies', '--format', 'json'], lint)).toBe(1);
      expect(lint.out).toMatch(rule);
      const build = io(repo);
      expect(await main(['build', 'policies', '--out', path.join(repo, 'out')], build)).toBe(1);
      expect(build.out + build.err).toMatch(rule);
      const plan = io(repo);
      expect(await main(['plan', '--base', 'HEAD~1', '--head', 'HEAD', 'policies', '--format', 'json'], plan)).toBe(1);
      expect(plan.out).toMatch(rule);
      const controller = await new ProjectCompiler().compileFiles(
        [
          { file: 'pods.yaml', bytes: Buffer.from(pods) },
          { file: 'p.yaml', bytes: Buffer.from(policy) },
        ],
        'r',
      );
      expect(controller.ok).toBe(false);
      expect(controller.diagnostics.map((d) => d.rule).join(' ')).toMatch(rule);
    },
    120_000,
  );
});
