// Many policies on one syscall: no cap, and the binary prefilter. The walk tables are checked as built
// (which hooks a call by a given binary visits), then the kernel and the image evaluator run the same
// 42 policies on sys_openat and must agree, call by call, on the verdict and on which hooks posted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KernelCaseRunner } from '../../bpf/runtime/cases.js';
import { K } from '../../bpf/abi/runtime.js';
import { loadSources } from '../../compiler/load/index.js';
import { compileRuntime } from '../../compiler/lower/runtime/index.js';
import { RuntimeImageEvaluator } from '../../compiler/verify/runtime-emulator.js';
import { skipKernel } from '../kernel-env.js';
import { localCaps } from './helpers.js';

const b = (s: string) => `/wrt/pf/${s}`;

/** name, matchBinaries (YAML flow, or '' for none), extra selector text, policy mode, args and matchArgs. */
const specs: [string, string, string?, ('monitor' | 'enforce')?, [string, string]?][] = [
  ...Array.from({ length: 30 }, (_, i) => [`in-${i}`, `[{operator: In, values: ["${b(`b${i}`)}"]}]`] as [string, string]),
  ['prefix-b1', `[{operator: Prefix, values: ["${b('b1')}"]}]`],
  ['prefix-all', `[{operator: Prefix, values: ["${b('')}"]}]`],
  ['postfix-b2', `[{operator: Postfix, values: ["/b2"]}]`],
  ['postfix-25-or-5', `[{operator: Postfix, values: ["b25", "5"]}]`],
  ['notin-b3', `[{operator: NotIn, values: ["${b('b3')}"]}]`],
  ['no-binaries', ''],
  [
    'mixed',
    `[{operator: In, values: ["${b('b4')}"]}]`,
    `    - matchArgs: [{index: 1, operator: Prefix, values: [/etc/]}]
      matchBinaries: [{operator: Postfix, values: ["/b5"]}]`,
  ],
  ['follow-children', `[{operator: In, values: ["${b('b6')}"], followChildren: true}]`],
  ['monitor-kill-b7', `[{operator: In, values: ["${b('b7')}"]}]`, undefined, 'monitor'],
  ['kill-b8', `[{operator: In, values: ["${b('b8')}"]}]`],
  // Other arguments than its neighbours in the walk: the engine reads them afresh, and theirs again after it.
  ['other-args', '', undefined, undefined, ['[{index: 1, type: string}]', '[{index: 1, operator: Postfix, values: [hostname]}]']],
  // Only a numeric filter: nothing to index, every call visits it.
  ['numeric-only', '', undefined, undefined, ['[{index: 0, type: int}]', '[{index: 0, operator: Equal, values: ["-100"]}]']],
];

function policies(): string {
  return specs
    .map(([name, bins, extra, mode, argSpec]) => {
      const kill = name.includes('kill') ? '\n      matchActions: [{action: Sigkill}]' : '';
      return `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: wrt-pf-${name}}
spec:
${mode ? `  options: [{name: policy-mode, value: ${mode}}]\n` : ''}  kprobes:
  - call: sys_openat
    syscall: true
    args: ${argSpec?.[0] ?? '[{index: 0, type: int}, {index: 1, type: string}, {index: 2, type: int}]'}
    selectors:
    - matchArgs: ${argSpec?.[1] ?? '[{index: 1, operator: Prefix, values: [/etc/]}]'}${bins ? `\n      matchBinaries: ${bins}` : ''}${kill}
${extra ?? ''}`;
    })
    .join('\n---\n');
}

const loaded = loadSources([{ file: 'pf.yaml', bytes: Buffer.from(policies()) }]);
// Confined: every hook is scoped to a cgroup set that only ever holds the probe's own cgroup.
const compiled = compileRuntime(loaded.documents, [{ name: 'local', caps: localCaps }], { confine: true });
const node = compiled.nodes[0]!;
const hookOf = (name: string) => node.lowered.table.find((t) => t.policy === `wrt-pf-${name}`)!.hookId;
// Not indexable on the binary: indexed on the path (register 1), which every selector of theirs filters...
const byPath = ['notin-b3', 'no-binaries', 'mixed', 'follow-children', 'other-args'];
// ...but for this one, visited by every call.
const open = ['numeric-only'];
const ids = (names: string[]) => names.map(hookOf).sort((x, y) => x - y);

describe('many hooks on one syscall', () => {
  it('all 42 policies lower on one node with no per-syscall limit; the capacity is stated per map', () => {
    expect(loaded.diagnostics).toEqual([]);
    expect([...compiled.diagnostics, ...node.diagnostics].filter((d) => d.severity === 'error')).toEqual([]);
    expect(node.lowered.hooks.filter((h) => h.syscallNr === 257)).toHaveLength(specs.length);
    expect(node.lowered.capacity.find((c) => c.map === 'wrt_hooks')).toEqual({ map: 'wrt_hooks', used: 42, limit: K.CAPACITY.hooks });
  });

  it('the open list holds exactly the hooks no prefilter can rule out', () => {
    const [call] = node.lowered.calls;
    expect(call).toMatchObject({ syscallNr: 257, flags: K.CALL.fwd | K.CALL.rev | K.CALL.argFwd | K.CALL.argRev, argReg: 1 });
    const list = node.lowered.lists.slice(call!.openStart, call!.openStart + call!.openCount);
    expect(list).toEqual(ids(open));
  });

  it.each([
    ['/etc/hostname', ['notin-b3', 'no-binaries', 'mixed', 'follow-children', 'other-args']],
    ['/etc/passwd', ['notin-b3', 'no-binaries', 'mixed', 'follow-children']],
    ['/var/wrt-pf-hostname', ['other-args']],
    ['/tmp/wrt-pf-none', []],
  ])('a call on %s visits only the path-indexed hooks whose values can match it', (p, names) => {
    const ev = new RuntimeImageEvaluator(node.images, node.lowered.table);
    const visited = ev.visited(257, '/usr/bin/cat', [-100, p, 0]);
    expect(visited.filter((id) => ids(byPath).includes(id)).sort((x, y) => x - y)).toEqual(ids(names));
  });

  it.each([
    [b('b0'), ['in-0', 'prefix-all']],
    [b('b1'), ['in-1', 'prefix-b1', 'prefix-all']],
    [b('b12'), ['in-12', 'prefix-b1', 'prefix-all']],
    [b('b2'), ['in-2', 'prefix-all', 'postfix-b2']],
    [b('b25'), ['in-25', 'prefix-all', 'postfix-25-or-5']],
    [b('b5'), ['in-5', 'prefix-all', 'postfix-25-or-5']],
    [b(''), ['prefix-all']],
    ['/usr/bin/cat', []],
  ])('a call by %s visits the open hooks and only the indexed hooks its binary can match', (binary, names) => {
    const ev = new RuntimeImageEvaluator(node.images, node.lowered.table);
    const visited = ev.visited(257, binary, [-100, '/etc/hostname', 0]);
    const indexed = visited.filter((id) => !open.map(hookOf).includes(id) && !ids(byPath).includes(id));
    expect(visited.slice(0, open.length).sort((x, y) => x - y)).toEqual(open.map(hookOf).sort((x, y) => x - y));
    expect(indexed.sort((x, y) => x - y)).toEqual(names.map(hookOf).sort((x, y) => x - y));
  });
});

describe.skipIf(skipKernel())('many hooks on one syscall: kernel vs image evaluator', () => {
  let runner: KernelCaseRunner;
  const scopeSets = [...new Set(node.lowered.hooks.map((h) => h.scopeSet))];
  beforeAll(() => {
    runner = new KernelCaseRunner(node.images, node.lowered.attach);
  });
  afterAll(() => runner?.close());

  const binaries = ['b0', 'b1', 'b12', 'b2', 'b25', 'b3', 'b4', 'b5', 'b6', 'b7', 'b8', 'b29', ''].map(b).concat(['/usr/bin/cat']);
  it.each(binaries)('%s: same verdict and same posting hooks', async (binary) => {
    const ev = new RuntimeImageEvaluator(node.images, node.lowered.table);
    const got: string[] = [];
    const want: string[] = [];
    for (const path of ['/etc/hostname', '/var/wrt-pf-hostname', '/tmp/wrt-pf-none']) {
      const k = await runner.run({ binary, nr: 257, args: [-100, path, 0], scopeSets });
      const e = ev.evaluate({ binary, inScope: () => true }, 257, [-100, path, 0]);
      got.push(`${path}: ${k.verdict} ${JSON.stringify(k.hookIds)}`);
      const posted = e.matches
        .filter((m) => m.posted)
        .map((m) => m.hookId)
        .sort((x, y) => x - y);
      want.push(`${path}: ${e.verdict} ${JSON.stringify(posted)}`);
    }
    expect(got).toEqual(want);
    // Every binary but one that no policy admits posts for /etc/ (notin-b3 and no-binaries admit every one).
    expect(want[0]).not.toMatch(/allow/);
  });

  it('a binary with a Sigkill policy in enforce mode is killed; the same in monitor mode only posts', async () => {
    expect((await runner.run({ binary: b('b8'), nr: 257, args: [-100, '/etc/hostname', 0], scopeSets })).verdict).toBe('kill');
    const m = await runner.run({ binary: b('b7'), nr: 257, args: [-100, '/etc/hostname', 0], scopeSets });
    expect(m.verdict).toBe('post');
    expect(m.hookIds).toContain(hookOf('monitor-kill-b7'));
  });
});
