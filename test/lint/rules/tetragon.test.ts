// Table tests of the three Tetragon rules (one table each), and the limits table they share with
// the runtime IR and convert, checked against the kernel header.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { limits as irLimits } from '../../../compiler/ir/runtime/compile.js';
import { tetragonLimits } from '../../../compiler/model/tetragon-limits.js';
import { tetragonAction } from '../../../compiler/lint/rules/tetragon-action.js';
import { tetragonArgIndex } from '../../../compiler/lint/rules/tetragon-arg-index.js';
import { tetragonSelectorLimits } from '../../../compiler/lint/rules/tetragon-limits.js';
import { check, tracing, where } from '../harness.js';

const kprobe = (selectors: string, args = '[{index: 0, type: int}, {index: 1, type: string}]') =>
  tracing(`kprobes:\n- call: sys_openat\n  syscall: true\n  args: ${args}\n  selectors:\n${selectors}`);
const bin = (p: string) => `{operator: In, values: ["${p}"]}`;

describe('tetragon/selector-limits', () => {
  const cases: { name: string; yaml: string; expect: string[] }[] = [
    { name: 'five selectors', yaml: kprobe(Array.from({ length: 5 }, () => '  - matchActions: [{action: Post}]').join('\n')), expect: [] },
    {
      name: 'six selectors: points at the sixth',
      yaml: kprobe(Array.from({ length: 6 }, () => '  - matchActions: [{action: Post}]').join('\n')),
      expect: ['tetragon/selector-limits@16:7'],
    },
    {
      name: 'two matchBinaries',
      yaml: kprobe(`  - matchBinaries:\n    - ${bin('/bin/a')}\n    - ${bin('/bin/b')}`),
      expect: ['tetragon/selector-limits@13:9'],
    },
    {
      name: 'four actions',
      yaml: kprobe('  - matchActions: [{action: Post}, {action: Post}, {action: Post}, {action: Sigkill}]'),
      expect: ['tetragon/selector-limits@11:70'],
    },
    {
      name: 'six matchArgs',
      yaml: kprobe(`  - matchArgs:\n${Array.from({ length: 6 }, () => '    - {index: 1, operator: Equal, values: [x]}').join('\n')}`),
      expect: ['tetragon/selector-limits@17:9'],
    },
  ];
  it.each(cases)('$name', ({ yaml, expect: want }) => {
    expect(check(tetragonSelectorLimits, yaml).map(where)).toEqual(want);
  });
});

describe('tetragon/arg-index', () => {
  const cases: { name: string; yaml: string; expect: string[]; message?: RegExp }[] = [
    { name: 'declared index', yaml: kprobe('  - matchArgs: [{index: 1, operator: Prefix, values: [/etc]}]'), expect: [] },
    {
      name: 'undeclared index',
      yaml: kprobe('  - matchArgs: [{index: 2, operator: Prefix, values: [/etc]}]'),
      expect: ['tetragon/arg-index@11:27'],
      message: /declares only 0, 1/,
    },
    {
      name: 'no args at all',
      yaml: kprobe('  - matchArgs: [{index: 0, operator: Equal, values: [1]}]', '[]'),
      expect: ['tetragon/arg-index@11:27'],
      message: /no arguments/,
    },
    {
      name: 'tracepoint index is a position in args',
      yaml: tracing(
        'tracepoints:\n- subsystem: raw_syscalls\n  event: sys_enter\n  args: [{index: 4, type: syscall64}]\n  selectors:\n  - matchArgs: [{index: 0, operator: InMap, values: ["list:x"]}]',
      ),
      expect: [],
    },
    {
      name: 'tracepoint index past args',
      yaml: tracing(
        'tracepoints:\n- subsystem: raw_syscalls\n  event: sys_enter\n  args: [{index: 4, type: syscall64}]\n  selectors:\n  - matchArgs: [{index: 1, operator: Equal, values: ["1"]}]',
      ),
      expect: ['tetragon/arg-index@11:27'],
      message: /position in `args`/,
    },
  ];
  it.each(cases)('$name', ({ yaml, expect: want, message }) => {
    const got = check(tetragonArgIndex, yaml);
    expect(got.map(where)).toEqual(want);
    if (message) expect(got[0]?.message).toMatch(message);
  });
});

describe('tetragon/unknown-action', () => {
  const cases: { name: string; yaml: string; expect: string[] }[] = [
    {
      name: 'known actions, any case',
      yaml: kprobe('  - matchActions: [{action: Sigkill}, {action: SigKill}, {action: post}]'),
      expect: [],
    },
    { name: 'Kill is not an action', yaml: kprobe('  - matchActions: [{action: Kill}]'), expect: ['tetragon/unknown-action@11:31'] },
    { name: 'return actions too', yaml: kprobe('  - matchReturnActions: [{action: Deny}]'), expect: ['tetragon/unknown-action@11:37'] },
  ];
  it.each(cases)('$name', ({ yaml, expect: want }) => {
    expect(check(tetragonAction, yaml).map(where)).toEqual(want);
  });
});

describe('runtime limits', () => {
  const header = readFileSync(new URL('../../../bpf/include/weir_runtime.h', import.meta.url), 'utf8');
  const define = (name: string): number => {
    const m = new RegExp(`^#define\\s+${name}\\s+(\\d+)\\b`, 'm').exec(header);
    if (!m) throw new Error(`${name} is not defined in weir_runtime.h`);
    return Number(m[1]);
  };

  it('are the numbers bpf/include/weir_runtime.h sizes its layouts with', () => {
    // One matchBinaries entry per selector is Tetragon's rule; the header has no array for it.
    const { matchBinariesPerSelector, ...kernel } = tetragonLimits;
    expect(matchBinariesPerSelector).toBe(1);
    expect({
      selectorsPerHook: define('WRT_MAX_SELECTORS'),
      matchArgsPerSelector: define('WRT_MAX_MATCH_ARGS'),
      valuesPerNumericOperator: define('WRT_MAX_VALUES'),
      actionsPerSelector: define('WRT_MAX_ACTIONS'),
      matchPIDsPerSelector: define('WRT_MAX_PID_FILTERS'),
      matchNamespacesPerSelector: define('WRT_MAX_NS_FILTERS'),
      argsPerHook: define('WRT_MAX_ARGS'),
      stringBytes: define('WRT_STR_MAX') - 1,
      lpmStringBytes: define('WRT_LPM_STR_MAX'),
    }).toStrictEqual(kernel);
  });

  it('are one table: the runtime IR reads the same one lint does', () => {
    expect(irLimits).toBe(tetragonLimits);
    expect(tetragonSelectorLimits.meta.description).toContain(`more than ${tetragonLimits.selectorsPerHook} selectors`);
  });
});

import { operatorMismatch, tetragonOperatorType } from '../../../compiler/lint/rules/tetragon-operator-type.js';
import { tetragonRemoved } from '../../../compiler/lint/rules/tetragon-removed.js';
import { tetragonMonitorAction } from '../../../compiler/lint/rules/tetragon-monitor-action.js';

describe('tetragon/operator-type', () => {
  const args =
    '[{index: 0, type: int}, {index: 1, type: string}, {index: 2, type: sock}, {index: 3, type: sockaddr}, {index: 4, type: file}]';
  const sel = (index: number, op: string, values = '["1"]') =>
    kprobe(`  - matchArgs: [{index: ${index}, operator: ${op}, values: ${values}}]`, args);
  const cases: { name: string; yaml: string; expect: string[]; message?: RegExp }[] = [
    { name: 'Prefix on a string', yaml: sel(1, 'Prefix', '[/etc]'), expect: [] },
    { name: 'Equal on an int', yaml: sel(0, 'Equal'), expect: [] },
    { name: 'DPort on a sock', yaml: sel(2, 'DPort', '["443"]'), expect: [] },
    { name: 'SAddr on a sockaddr', yaml: sel(3, 'SAddr', '["10.0.0.0/8"]'), expect: [] },
    { name: 'FileType on a file', yaml: sel(4, 'FileType', '[dir]'), expect: [] },
    {
      name: 'DPort on a string',
      yaml: sel(1, 'DPort', '["443"]'),
      expect: ['tetragon/operator-type@11:40'],
      message: /DPort reads a socket: it applies to sock, skb, socket or sockaddr arguments, not string \(argument 1 of sys_openat\)/,
    },
    { name: 'Protocol on an int', yaml: sel(0, 'Protocol', '["6"]'), expect: ['tetragon/operator-type@11:40'] },
    { name: 'Prefix on an int', yaml: sel(0, 'Prefix'), expect: ['tetragon/operator-type@11:40'], message: /never matches/ },
    {
      name: 'Mask on a string',
      yaml: sel(1, 'Mask'),
      expect: ['tetragon/operator-type@11:40'],
      message: /refuses it on a string argument/,
    },
    {
      name: 'DAddr on a sockaddr',
      yaml: sel(3, 'DAddr', '["10.0.0.1"]'),
      expect: ['tetragon/operator-type@11:40'],
      message: /only its source address/,
    },
    { name: 'Equal on a sock', yaml: sel(2, 'Equal'), expect: ['tetragon/operator-type@11:40'] },
    { name: 'FileType on a string', yaml: sel(1, 'FileType', '[dir]'), expect: ['tetragon/operator-type@11:40'] },
  ];
  it.each(cases)('$name', ({ yaml, expect: want, message }) => {
    const got = check(tetragonOperatorType, yaml);
    expect(got.map(where)).toEqual(want);
    if (message) expect(got[0]?.message).toMatch(message);
  });
  it('tracepoint operators are checked against the args position', () => {
    const tp = tracing(
      'tracepoints:\n- subsystem: syscalls\n  event: sys_enter_openat\n  args: [{index: 5, type: string}]\n  selectors:\n  - matchArgs: [{index: 0, operator: GT, values: ["1"]}]',
    );
    expect(check(tetragonOperatorType, tp).map(where)).toEqual(['tetragon/operator-type@11:40']);
    expect([
      operatorMismatch('family', 'sockaddr_un'),
      operatorMismatch('SPort', 'sockaddr_un') !== undefined,
      operatorMismatch('Mask', 'kernel_cap_t'),
      operatorMismatch('Equal', 'unknown_type'),
    ]).toEqual([undefined, true, undefined, undefined]);
  });
});

describe('tetragon/removed', () => {
  const cases: { name: string; yaml: string; expect: string[]; message?: RegExp }[] = [
    { name: 'current actions', yaml: kprobe('  - matchActions: [{action: Sigkill}, {action: Post}]'), expect: [] },
    {
      name: 'FollowFD with argFd and argName',
      yaml: kprobe('  - matchActions: [{action: FollowFD, argFd: 0, argName: 1}]'),
      expect: ['tetragon/removed@11:31', 'tetragon/removed@11:41', 'tetragon/removed@11:51'],
      message: /FollowFD \(in sys_openat\) was removed in Tetragon v1\.8 \(deprecated since v1\.4\)/,
    },
    { name: 'copyfd in any case', yaml: kprobe('  - matchReturnActions: [{action: copyfd}]'), expect: ['tetragon/removed@11:37'] },
    {
      name: 'returnArgAction Post',
      yaml: tracing('kprobes:\n- call: fd_install\n  returnArgAction: Post\n  selectors: []'),
      expect: ['tetragon/removed@8:22'],
      message: /refused since Tetragon v1\.8/,
    },
  ];
  it.each(cases)('$name', ({ yaml, expect: want, message }) => {
    const got = check(tetragonRemoved, yaml);
    expect(got.map(where)).toEqual(want);
    if (message) expect(got[0]?.message).toMatch(message);
  });
});

describe('tetragon/monitor-mode-action', () => {
  const monitor = (actions: string, mode = 'monitor') =>
    tracing(
      `options: [{name: policy-mode, value: ${mode}}]\nkprobes:\n- call: sys_openat\n  syscall: true\n  args: [{index: 1, type: string}]\n  selectors:\n  - matchActions: ${actions}`,
    );
  it.each([
    ['Sigkill in monitor mode', monitor('[{action: Sigkill}]'), ['tetragon/monitor-mode-action@12:31']],
    [
      'Signal and Override',
      monitor('[{action: Signal, argSig: 9}, {action: Override, argError: -1}]'),
      ['tetragon/monitor-mode-action@12:31', 'tetragon/monitor-mode-action@12:60'],
    ],
    ['Post in monitor mode', monitor('[{action: Post}]'), []],
    ['Sigkill in enforce mode', monitor('[{action: Sigkill}]', 'enforce'), []],
  ])('%s', (_, yaml, want) => {
    const got = check(tetragonMonitorAction, yaml);
    expect(got.map(where)).toEqual(want);
    for (const d of got)
      expect([d.severity, d.message]).toEqual(['warning', expect.stringMatching(/never runs: the policy is in monitor mode/)]);
  });
});
