// The kernel and the image evaluator agree, operator by operator: every selector below runs in the real
// handler (the probe binary takes each selector's binary identity) and in the evaluator over the same images.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KernelCaseRunner } from '../../bpf/runtime/cases.js';
import { RuntimeImageEvaluator } from '../../compiler/verify/runtime-emulator.js';
import { skipKernel } from '../kernel-env.js';
import { loadSources } from '../../compiler/load/index.js';
import { compileRuntime } from '../../compiler/lower/runtime/index.js';
import { localCaps } from './helpers.js';

const selectors: [string, string][] = [
  ['path Equal', '{index: 1, operator: Equal, values: [/etc/hostname]}'],
  ['path NotEqual', '{index: 1, operator: NotEqual, values: [/etc/hostname, /etc/passwd]}'],
  ['path Prefix', '{index: 1, operator: Prefix, values: [/etc/, /proc/self/]}'],
  ['path NotPrefix', '{index: 1, operator: NotPrefix, values: [/etc/]}'],
  ['path Postfix', '{index: 1, operator: Postfix, values: [name, status]}'],
  ['path NotPostfix', '{index: 1, operator: NotPostfix, values: [name]}'],
  ['flags Mask', '{index: 2, operator: Mask, values: ["0x80000"]}'],
  ['flags GreaterThan', '{index: 2, operator: GT, values: ["0"]}'],
  ['flags LessThan', '{index: 2, operator: LT, values: ["2048"]}'],
  ['flags InRange', '{index: 2, operator: InRange, values: ["1:4096"]}'],
  ['dfd NotInRange', '{index: 0, operator: NotInRange, values: ["-200:-1"]}'],
  ['flags Equal (inline)', '{index: 2, operator: Equal, values: ["0", "524288"]}'],
  ['flags Equal (set of 6)', '{index: 2, operator: Equal, values: ["1", "2", "3", "2048", "5", "6"]}'],
  ['dfd Equal negative', '{index: 0, operator: Equal, values: ["-100"]}'],
];

const calls: [number, string, number][] = [
  [-100, '/etc/hostname', 0],
  [-100, '/etc/passwd', 0x80000],
  [-100, '/proc/self/status', 0x800],
  [3, '/usr/lib/os-release', 0],
  [-100, '/tmp/wrt-no-such-name', 0x80800],
];

const bin = (i: number) => `/wrt/diff/sel-${i}`;

function policies(): string {
  const docs: string[] = [];
  for (let p = 0; p * 5 < selectors.length; p++) {
    const sels = selectors.slice(p * 5, p * 5 + 5).map(
      ([, m], j) => `    - matchArgs: [${m}]
      matchBinaries: [{operator: In, values: ["${bin(p * 5 + j)}"]}]
      matchActions: [{action: Sigkill}]`,
    );
    docs.push(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: wrt-diff-${p}}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args: [{index: 0, type: int}, {index: 1, type: string}, {index: 2, type: int}]
    selectors:
${sels.join('\n')}
`);
  }
  return docs.join('---\n');
}

describe.skipIf(skipKernel())('kernel vs image evaluator, per operator', () => {
  let runner: KernelCaseRunner;
  // Confined: every hook is scoped to a cgroup set that only ever holds the probe's own cgroup.
  const loaded = loadSources([{ file: 'diff.yaml', bytes: Buffer.from(policies()) }]);
  const compiled = compileRuntime(loaded.documents, [{ name: 'local', caps: localCaps }], { confine: true });
  const node = compiled.nodes[0]!;
  const scopeSets = [...new Set(node.lowered.hooks.map((h) => h.scopeSet))];

  beforeAll(() => {
    expect([...compiled.diagnostics, ...node.diagnostics].filter((d) => d.severity === 'error')).toEqual([]);
    expect(node.lowered.hooks.every((h) => h.scoped)).toBe(true);
    runner = new KernelCaseRunner(node.images, node.lowered.attach);
  });
  afterAll(() => runner?.close());

  it.each(selectors.map(([name], i) => [name, i] as const))('%s', async (_name, i) => {
    const ev = new RuntimeImageEvaluator(node.images, node.lowered.table);
    const got: string[] = [];
    const want: string[] = [];
    for (const [dfd, path, flags] of calls) {
      const k = await runner.run({ binary: bin(i), nr: 257, args: [dfd, path, flags], scopeSets });
      const e = ev.evaluate({ binary: bin(i), inScope: () => true }, 257, [dfd, path, flags]);
      got.push(`${path} ${flags}: ${k.verdict}`);
      want.push(`${path} ${flags}: ${e.verdict}`);
    }
    expect(got).toEqual(want);
    // Each operator is exercised both ways by these calls.
    expect(new Set(want.map((w) => w.split(': ')[1])).size).toBe(2);
  });
});
