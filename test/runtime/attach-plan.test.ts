// The agent's attach plan for kernel-function sites (bpf/runtime/loader.ts attachPlan): for a bundle compiled
// for a `full` node, every site the compiler can choose has an entry program, object and attach call; nothing
// is refused. The attaching itself is in kernel-entries.test.ts and pin.test.ts (where this kernel allows it).
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { attachPlan, kernelSymbols, siteEntries, siteSymbol } from '../../bpf/runtime/loader.js';
import { siteNumber } from '../../bpf/abi/runtime.js';
import { capabilityProfiles } from '../../compiler/lower/runtime/capabilities.js';
import { compileText } from './helpers.js';

const everyKind = `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: every-kind}
spec:
  kprobes:
  - call: tcp_connect
    syscall: false
    args: [{index: 0, type: sock}]
    selectors:
    - matchArgs: [{index: 0, operator: DPort, values: ["22"]}]
  - call: tcp_close
    syscall: false
    return: true
    args: [{index: 0, type: sock}]
    returnArg: {index: 0, type: int}
    selectors:
    - matchReturnArgs: [{index: 0, operator: LessThan, values: ["0"]}]
  - call: security_bprm_check
    syscall: false
    selectors:
    - matchActions: [{action: Override, argError: -1}]
  - call: should_failslab
    syscall: false
    selectors:
    - matchActions: [{action: Override, argError: -12}]
  - call: sys_openat
    syscall: true
    args: [{index: 1, type: string}]
    selectors:
    - matchArgs: [{index: 1, operator: Prefix, values: ["/etc/shadow"]}]
      matchActions: [{action: Override, argError: -1}]
  lsmhooks:
  - hook: file_open
    args: [{index: 0, type: file}]
    selectors:
    - matchArgs: [{index: 0, operator: Prefix, values: ["/etc/"]}]
  tracepoints:
  - subsystem: sched
    event: sched_process_exec
    raw: true
    args: [{index: 2, type: linux_binprm}]
    selectors:
    - matchArgs: [{index: 0, operator: Equal, values: ["/usr/bin/x"]}]
`;

const plain = (plan: ReturnType<typeof attachPlan>) =>
  plan.map((s) => ({ key: s.key, object: s.entry.object, how: s.entry.how, entry: s.entry.entry, target: s.target, cookie: s.cookie }));

describe('the agent attach plan of kernel-function sites', () => {
  it('a full node: fentry, fexit, fmod_ret, Override kprobes, LSM and raw tracepoints, each with its site number as cookie', () => {
    const r = compileText(everyKind, capabilityProfiles['full']!);
    expect(r.errors).toEqual([]);
    const attach = r.nodes[0]!.lowered.attach;
    const c = (a: string) => BigInt(siteNumber(a));
    expect(plain(attachPlan(attach))).toEqual([
      {
        key: 'fentry/tcp_connect',
        object: 'btf',
        how: 'trace',
        entry: 'wrt_fentry',
        target: 'tcp_connect',
        cookie: c('fentry/tcp_connect'),
      },
      { key: 'fexit/tcp_close', object: 'btf', how: 'trace', entry: 'wrt_fexit', target: 'tcp_close', cookie: c('fexit/tcp_close') },
      {
        key: 'fmod_ret/security_bprm_check',
        object: 'btf',
        how: 'trace',
        entry: 'wrt_fmod_ret',
        target: 'security_bprm_check',
        cookie: c('fmod_ret/security_bprm_check'),
      },
      {
        key: 'kprobe_override/__x64_sys_openat',
        object: 'override',
        how: 'kprobe',
        entry: 'wrt_kprobe_sys_override',
        target: '__x64_sys_openat',
        cookie: c('kprobe_override/__x64_sys_openat'),
      },
      {
        key: 'kprobe_override/should_failslab',
        object: 'override',
        how: 'kprobe',
        entry: 'wrt_kprobe_override',
        target: 'should_failslab',
        cookie: c('kprobe_override/should_failslab'),
      },
      { key: 'lsm/file_open', object: 'btf', how: 'lsm', entry: 'wrt_lsm', target: 'file_open', cookie: c('lsm/file_open') },
      {
        key: 'raw_tp/sched_process_exec',
        object: 'runtime',
        how: 'raw_tp',
        entry: 'wrt_raw_tp',
        target: 'sched_process_exec',
        cookie: c('raw_tp/sched_process_exec'),
      },
    ]);
  });

  it('a kprobe node: kprobe, and a kretprobe with its stash kprobe attached first under <site>#entry', () => {
    const plan = attachPlan(['kprobe/tcp_connect', 'kretprobe/tcp_close', 'kretprobe/__x64_sys_openat', 'syscalls/sys_enter_openat']);
    expect(plain(plan).map(({ key, how, entry }) => [key, how, entry])).toEqual([
      ['kprobe/tcp_connect', 'kprobe', 'wrt_kprobe'],
      ['kretprobe/__x64_sys_openat#entry', 'kprobe', 'wrt_kprobe_sys_stash'],
      ['kretprobe/__x64_sys_openat', 'kretprobe', 'wrt_kretprobe'],
      ['kretprobe/tcp_close#entry', 'kprobe', 'wrt_kprobe_stash'],
      ['kretprobe/tcp_close', 'kretprobe', 'wrt_kretprobe'],
    ]);
    expect(plan.filter((s) => s.stash).map((s) => s.site)).toEqual(['kretprobe/__x64_sys_openat', 'kretprobe/tcp_close']);
  });

  it("a syscall's function under fentry/fexit: the entries that read the syscall's arguments from its user registers", () => {
    expect(siteEntries('fentry', '__x64_sys_openat')).toEqual({ object: 'btf', how: 'trace', entry: 'wrt_fentry_sys' });
    expect(siteEntries('fexit', '__x64_sys_openat')).toEqual({ object: 'btf', how: 'trace', entry: 'wrt_fexit_sys' });
    expect(siteEntries('fexit', 'tcp_close')).toEqual({ object: 'btf', how: 'trace', entry: 'wrt_fexit' });
    // A full node hooks a syscall needing its return value at the syscall's function with fexit.
    const r = compileText(
      `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: open-ret}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    return: true
    args: [{index: 1, type: string}]
    returnArg: {index: 0, type: int}
    selectors:
    - matchReturnArgs: [{index: 0, operator: LessThan, values: ["0"]}]
`,
      capabilityProfiles['full']!,
    );
    expect(r.errors).toEqual([]);
    expect(plain(attachPlan(r.nodes[0]!.lowered.attach)).map((s) => [s.key, s.entry])).toEqual([
      ['fexit/__x64_sys_openat', 'wrt_fexit_sys'],
    ]);
  });

  it('every attach kind the compiler emits has an entry program; others are refused by name', () => {
    for (const kind of ['kprobe', 'kretprobe', 'kprobe_override', 'fentry', 'fexit', 'fmod_ret', 'lsm', 'raw_tp'])
      expect(siteEntries(kind, 'x')).not.toHaveProperty('refused');
    expect(siteEntries('uprobe', '/bin/sh:main')).toEqual({
      refused: "not a syscall tracepoint, and weir's runtime has no entry program for uprobe sites (uprobe//bin/sh:main)",
    });
    expect(() => attachPlan(['uprobe/main'])).toThrow(
      "runtime attach point uprobe/main: not a syscall tracepoint, and weir's runtime has no entry program for uprobe sites",
    );
    expect(() => attachPlan(['fentry/tcp_connect; rm'])).toThrow(
      'runtime attach point fentry/tcp_connect; rm: fentry/tcp_connect; rm is not an attach point',
    );
  });

  it('ignore.callNotFound: the symbol each site kind needs, read from a kallsyms file', () => {
    expect(siteSymbol('kprobe', 'tcp_connect')).toBe('tcp_connect');
    expect(siteSymbol('fexit', '__x64_sys_openat')).toBe('__x64_sys_openat');
    expect(siteSymbol('lsm', 'file_open')).toBe('bpf_lsm_file_open');
    expect(siteSymbol('raw_tp', 'sched_process_exec')).toBeUndefined();
    const dir = mkdtempSync(path.join(tmpdir(), 'wrt-ksyms-'));
    try {
      const f = path.join(dir, 'kallsyms');
      writeFileSync(f, 'ffffffff81577b40 T bpf_lsm_file_open\nffffffff8207e680 T tcp_connect\nffffffffc0a01000 t nf_hook\t[nf_tables]\n');
      expect([...kernelSymbols(f)]).toEqual(['bpf_lsm_file_open', 'tcp_connect', 'nf_hook']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
