// Syscall hooks lower to the tracepoint the kernel really has: the table's name where the kernel keeps it,
// the SYSCALL_DEFINE name where it renamed it (uname → newuname), checked over the whole x86_64 table
// against a recorded tracepoint list and, where readable, this machine's tracefs.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { syscallNumbers, syscallTracepoint, tableSyscall, unimplementedSyscalls } from '../../compiler/ir/runtime/syscalls.js';
import { compileText, localCaps, projectRoot } from './helpers.js';

const recorded = readFileSync(path.join(projectRoot, 'test/fixtures/syscall-tracepoints-x86_64.txt'), 'utf8')
  .split('\n')
  .filter((l) => l && !l.startsWith('#'));
const tracefs = ['/sys/kernel/tracing/events/syscalls', '/sys/kernel/debug/tracing/events/syscalls'].find((d) => existsSync(d));
const live = tracefs
  ? readdirSync(tracefs)
      .filter((d) => d.startsWith('sys_enter_'))
      .map((d) => d.slice('sys_enter_'.length))
  : undefined;

// Present only with a kernel option, or removed by newer kernels: the node's probed list decides.
const configDependent = new Set([
  'init_module',
  'finit_module',
  'delete_module',
  'kexec_load',
  'kexec_file_load',
  'lookup_dcookie',
  'uselib',
  '_sysctl',
]);

function checkTable(list: readonly string[]): string[] {
  const have = new Set(list);
  const problems: string[] = [];
  for (const name of Object.keys(syscallNumbers)) {
    const tp = syscallTracepoint(name);
    if (unimplementedSyscalls.has(name)) {
      if (have.has(tp)) problems.push(`${name} is listed as unimplemented but sys_enter_${tp} exists`);
    } else if (!have.has(tp) && !configDependent.has(name)) problems.push(`${name}: no sys_enter_${tp}`);
  }
  return problems;
}

const kprobe = (call: string) => `
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: t}
spec:
  kprobes:
  - call: ${call}
    syscall: true
`;
const tracepoint = (event: string) => `
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: t}
spec:
  tracepoints:
  - subsystem: syscalls
    event: ${event}
`;

describe('syscall tracepoint names', () => {
  it("every syscall of the table has its tracepoint in the recorded kernel list, under the kernel's name", () => {
    expect(checkTable(recorded)).toEqual([]);
  });

  it.skipIf(!live)("and in this machine's tracefs", () => {
    expect(checkTable(live!)).toEqual([]);
  });

  it('every syscall of the table compiles against the recorded node list, or is refused with the reason', () => {
    const caps = { ...localCaps, syscalls: recorded };
    for (const name of Object.keys(syscallNumbers)) {
      const r = compileText(kprobe(`sys_${name}`), caps);
      const tp = syscallTracepoint(name);
      if (recorded.includes(tp)) {
        expect(r.errors, name).toEqual([]);
        expect(r.nodes[0]!.lowered.attach, name).toEqual([`syscalls/sys_enter_${tp}`]);
        expect(r.nodes[0]!.lowered.hooks[0]!.syscallNr, name).toBe(syscallNumbers[name]);
      } else {
        expect(r.errors, name).toHaveLength(1);
        expect(r.errors[0], name).toMatch(
          unimplementedSyscalls.has(name)
            ? /is not implemented on x86_64/
            : new RegExp(`the node has no syscalls/sys_enter_${tp} tracepoint`),
        );
      }
    }
  });

  it('uname is hooked at sys_enter_newuname, whichever name the policy uses', () => {
    for (const call of ['sys_uname', '__x64_sys_uname', 'sys_newuname', '__x64_sys_newuname']) {
      const r = compileText(kprobe(call));
      expect(r.errors, call).toEqual([]);
      expect(r.nodes[0]!.lowered.attach).toEqual(['syscalls/sys_enter_newuname']);
      expect(r.nodes[0]!.lowered.hooks[0]!.syscallNr).toBe(63);
    }
    const t = compileText(tracepoint('sys_enter_newuname'));
    expect(t.errors).toEqual([]);
    expect(t.nodes[0]!.lowered.hooks[0]!.syscallNr).toBe(63);
    expect(compileText(tracepoint('sys_enter_uname')).errors).toEqual([
      expect.stringContaining("the kernel's tracepoint for uname is syscalls/sys_enter_newuname"),
    ]);
    expect(compileText(kprobe('sys_umount2')).nodes[0]!.lowered.attach).toEqual(['syscalls/sys_enter_umount']);
  });

  it('a node without the tracepoint refuses the hook naming the kernel name', () => {
    const r = compileText(kprobe('sys_uname'), { ...localCaps, syscalls: ['openat'] });
    expect(r.errors).toEqual([
      expect.stringContaining("node local: the node has no syscalls/sys_enter_newuname tracepoint (the kernel's name for uname)"),
    ]);
    expect(compileText(kprobe('sys_tuxcall')).errors).toEqual([expect.stringContaining('tuxcall is not implemented on x86_64')]);
  });

  it('maps kernel names back to the table', () => {
    expect(tableSyscall('newuname')).toBe('uname');
    expect(tableSyscall('sendfile64')).toBe('sendfile');
    expect(tableSyscall('openat')).toBe('openat');
    expect(tableSyscall('nosuch')).toBeUndefined();
  });
});
