// Runtime IR and lowering: bad input gives a precise error at file:line:col; good input lowers to the right hooks.
import { describe, expect, it } from 'vitest';
import { capabilityProfiles } from '../../compiler/lower/runtime/capabilities.js';
import { K } from '../../bpf/abi/runtime.js';
import { compileText } from './helpers.js';

const policy = (hook: string, extra = '') => `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: t
${extra}spec:
  kprobes:
${hook}`;

const openat = (
  selectors: string,
  args = `    args:
    - {index: 0, type: int}
    - {index: 1, type: string}
    - {index: 2, type: int}
`,
) => `  - call: sys_openat
    syscall: true
${args}    selectors:
${selectors}`;

const scoped = `      matchBinaries:
      - {operator: In, values: [/tmp/x]}
`;

describe('runtime IR diagnostics (table)', () => {
  const cases: [string, string, RegExp][] = [
    [
      'unknown hook kind field',
      `apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata: {name: t}\nspec:\n  kprobez: []\n`,
      /^5:3 runtime\/unknown-field: unknown field spec.kprobez/,
    ],
    [
      'arg index out of range',
      policy(`  - call: sys_openat\n    syscall: true\n    args:\n    - {index: 7, type: int}\n`),
      /^10:15 runtime\/arg-index-range: argument index 7 is out of range/,
    ],
    [
      'matchArgs naming no declared arg',
      policy(openat(`    - matchArgs:\n      - {index: 4, operator: Equal, values: ["1"]}\n`)),
      /^15:17 runtime\/arg-index-range: matchArgs index 4 refers to no entry/,
    ],
    [
      'string longer than 255 bytes',
      policy(openat(`    - matchArgs:\n      - {index: 1, operator: Equal, values: ["${'a'.repeat(256)}"]}\n`)),
      /runtime\/string-too-long: node local: string value of 256 bytes/,
    ],
    [
      'six selectors',
      policy(openat(Array.from({ length: 6 }, () => `    - matchArgs:\n      - {index: 2, operator: Equal, values: ["1"]}\n`).join(''))),
      /^14:5 runtime\/too-many-selectors: 6 selectors; a hook takes at most 5/,
    ],
    [
      'six matchArgs',
      policy(
        openat(`    - matchArgs:\n${Array.from({ length: 6 }, () => `      - {index: 2, operator: Equal, values: ["1"]}\n`).join('')}`),
      ),
      /runtime\/too-many-match-args: 6 matchArgs/,
    ],
    [
      'four actions',
      policy(openat(`    - matchActions:\n${Array.from({ length: 4 }, () => `      - {action: Post}\n`).join('')}`)),
      /runtime\/too-many-actions: 4 actions/,
    ],
    [
      'two matchBinaries',
      policy(openat(`    - matchBinaries:\n      - {operator: In, values: [/a]}\n      - {operator: In, values: [/b]}\n`)),
      /runtime\/too-many-match-binaries/,
    ],
    [
      'Mask with five values',
      policy(openat(`    - matchArgs:\n      - {index: 2, operator: Mask, values: ["1","2","4","8","16"]}\n`)),
      /runtime\/too-many-values: node local: Mask takes at most 4 values/,
    ],
    [
      'GreaterThan on a string',
      policy(openat(`    - matchArgs:\n      - {index: 1, operator: GT, values: ["1"]}\n`)),
      /runtime\/operator-type: node local: operator GreaterThan compares numbers/,
    ],
    [
      'unknown operator',
      policy(openat(`    - matchArgs:\n      - {index: 1, operator: Like, values: ["x"]}\n`)),
      /^15:30 runtime\/unknown-operator: unknown matchArgs operator "Like"/,
    ],
    [
      'Override on a tracepoint-lowered syscall',
      policy(openat(`    - matchActions:\n      - {action: Override, argError: -1}\n${scoped}`)),
      /runtime\/node-capability: node local: Override cannot be lowered: sys_openat is hooked at syscalls\/sys_enter_openat/,
    ],
    [
      'LSM hook without BPF LSM',
      `apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata: {name: t}\nspec:\n  lsmhooks:\n  - hook: file_open\n`,
      /runtime\/node-capability: node local: LSM hook file_open needs BPF LSM/,
    ],
    [
      'kprobe on a kernel function without kprobe attach',
      policy(`  - call: security_file_open\n    syscall: false\n`),
      /runtime\/node-capability: node local: kprobe on kernel function security_file_open needs kprobe or fentry attach/,
    ],
    [
      'host-wide Sigkill',
      policy(openat(`    - matchActions:\n      - {action: Sigkill}\n`)),
      /runtime\/host-wide-kill: Sigkill here would signal any process on the host/,
    ],
    [
      'Sigkill on init',
      policy(openat(`    - matchPIDs:\n      - {operator: In, values: [1]}\n      matchActions:\n      - {action: Sigkill}\n`)),
      /runtime\/host-wide-kill: Sigkill here would signal init/,
    ],
    [
      'fd argument',
      policy(`  - call: sys_write\n    syscall: true\n    args:\n    - {index: 0, type: fd}\n`),
      /runtime\/unsupported-arg-type: node local: argument type fd is not read/,
    ],
    [
      'unknown syscall',
      policy(`  - call: sys_frobnicate\n    syscall: true\n`),
      /runtime\/unknown-hook: node local: sys_frobnicate is not a syscall/,
    ],
    [
      'return probe',
      policy(`  - call: sys_openat\n    syscall: true\n    return: true\n`),
      /runtime\/unsupported-hook: node local: return: true \/ returnArg: sys_openat is hooked at syscalls\/sys_enter_openat, which sees the call's entry only/,
    ],
  ];
  it.each(cases)('%s', (_name, text, want) => {
    const r = compileText(text);
    expect(
      r.errors.some((e) => want.test(e)),
      r.errors.join('\n'),
    ).toBe(true);
    expect(r.nodes[0]!.lowered.hooks).toHaveLength(0);
  });

  it('a policy in monitor mode never kills: an unscoped Sigkill there is not refused (it only posts)', () => {
    const monitor = (mode: string) =>
      `apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata:\n  name: t\nspec:\n  options: [{name: policy-mode, value: ${mode}}]\n  kprobes:\n${openat(`    - matchActions:\n      - {action: Sigkill}\n`)}`;
    expect(compileText(monitor('monitor')).errors).toEqual([]);
    expect(compileText(monitor('enforce')).errors.join('\n')).toMatch(/runtime\/host-wide-kill/);
  });

  it('the host-wide kill annotation lets an unscoped Sigkill through', () => {
    const r = compileText(
      policy(openat(`    - matchActions:\n      - {action: Sigkill}\n`), `  annotations: {weir.dev/allow-host-wide-kill: "true"}\n`),
    );
    expect(r.errors).toEqual([]);
  });

  it('Override on a syscall is refused on a tracepoint-only node and lowers to a kprobe on the syscall function on a full node', () => {
    const text = policy(openat(`    - matchActions:\n      - {action: Override, argError: -1}\n${scoped}`));
    expect(compileText(text).errors.join('\n')).toMatch(/Override cannot be lowered: sys_openat is hooked at syscalls\/sys_enter_openat/);
    const r = compileText(text, capabilityProfiles['full']!);
    expect(r.errors).toEqual([]);
    expect(r.nodes[0]!.lowered.attach).toEqual(['kprobe_override/__x64_sys_openat']);
    expect(r.nodes[0]!.lowered.hooks[0]!.selectors[0]!.actions).toEqual([{ action: K.ACTION.Override, arg: -1 }]);
  });
});

describe('hook lowering', () => {
  it.each([['sys_openat'], ['__x64_sys_openat']])(
    '%s (syscall: true) becomes syscalls/sys_enter_openat with args from registers',
    (call) => {
      const r = compileText(
        policy(`  - call: ${call}\n    syscall: true\n    args:\n    - {index: 1, type: string}\n    - {index: 3, type: uint32}\n`),
      );
      expect(r.errors).toEqual([]);
      const n = r.nodes[0]!.lowered;
      expect(n.attach).toEqual(['syscalls/sys_enter_openat']);
      expect(n.hooks[0]).toMatchObject({
        syscallNr: 257,
        hookId: 0,
        args: [
          { src: 1, type: K.ARG.string },
          { src: 3, type: K.ARG.uint32 },
        ],
      });
      expect(n.table[0]).toMatchObject({ policy: 't', attach: 'syscalls/sys_enter_openat', eventKind: 'process_kprobe', line: 7 });
      // No binary filter: the hook is in openat's open list, which every call walks.
      expect(n.calls).toEqual([{ syscallNr: 257, openStart: 0, openCount: 1, indexId: 0, flags: 0, argReg: 0 }]);
      expect(n.lists).toEqual([0]);
      expect(n.binIndex).toEqual([]);
    },
  );

  it('tracepoint args are format fields: 4 is the syscall number, 5.. the arguments; matchArgs index is the position in args', () => {
    const r = compileText(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: tp}
spec:
  tracepoints:
  - subsystem: syscalls
    event: sys_enter_openat
    args:
    - {index: 6, type: string}
    selectors:
    - matchArgs:
      - {index: 0, operator: Postfix, values: [".key"]}
`);
    expect(r.errors).toEqual([]);
    const n = r.nodes[0]!.lowered;
    expect(n.hooks[0]!.args).toEqual([{ src: 1, type: K.ARG.string }]);
    expect(n.hooks[0]!.selectors[0]!.args[0]).toMatchObject({ index: 0, op: K.OP.Postfix });
    expect([...n.postfixSets.values()]).toEqual([['.key']]);
  });

  it('raw_syscalls/sys_enter with an InMap list of syscalls hooks every syscall and matches numbers', () => {
    const r = compileText(`apiVersion: isovalent.com/v1alpha1
kind: TracingPolicy
metadata: {name: raw}
spec:
  lists:
  - {name: dups, type: syscalls, values: [sys_dup, sys_dup2]}
  tracepoints:
  - subsystem: raw_syscalls
    event: sys_enter
    args:
    - {index: 4, type: int64}
    selectors:
    - matchArgs:
      - {index: 0, operator: InMap, values: ["list:dups"]}
`);
    expect(r.errors).toEqual([]);
    const n = r.nodes[0]!.lowered;
    expect(n.attach).toEqual(['raw_syscalls/sys_enter']);
    expect(n.hooks[0]!.syscallNr).toBe(K.NR_ANY);
    expect([...n.numSets.values()]).toEqual([[32n, 33n]]);
  });

  it('monitor mode and namespaced scoping reach the images', () => {
    const r = compileText(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicyNamespaced
metadata: {name: m, namespace: team}
spec:
  options: [{name: policy-mode, value: monitor}]
  kprobes:
  - {call: sys_mount, syscall: true}
`);
    expect(r.errors).toEqual([]);
    const n = r.nodes[0]!.lowered;
    expect(n.policies).toEqual([{ id: 0, name: 'team/m', mode: 'monitor' }]);
    expect(n.hooks[0]).toMatchObject({ scoped: true });
  });

  it('a policy that fails on a node contributes nothing to it, another policy still compiles', () => {
    const r = compileText(`apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: bad}
spec:
  lsmhooks: [{hook: file_open}]
  kprobes: [{call: sys_openat, syscall: true}]
---
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: good}
spec:
  kprobes: [{call: sys_mount, syscall: true}]
`);
    expect(r.errors).toHaveLength(1);
    expect(r.nodes[0]!.lowered.table.map((h) => h.policy)).toEqual(['good']);
    expect(r.nodes[0]!.lowered.attach).toEqual(['syscalls/sys_enter_mount']);
  });

  it('is deterministic: the same input gives byte-identical images', () => {
    const text = policy(
      openat(
        `    - matchArgs:\n      - {index: 1, operator: Prefix, values: [/etc/, /root/]}\n${scoped}      matchActions:\n      - {action: Sigkill}\n`,
      ),
    );
    const a = compileText(text).nodes[0]!.images;
    const b = compileText(text).nodes[0]!.images;
    expect(Buffer.concat(a.flatMap((i) => i.records.flat()))).toEqual(Buffer.concat(b.flatMap((i) => i.records.flat())));
  });
});
