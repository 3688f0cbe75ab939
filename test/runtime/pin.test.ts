// Pinned runtime state outlives the agent: a restarted agent adopts maps, links and generation.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeDatapath } from '../../bpf/runtime/loader.js';
import { skipKernel } from '../kernel-env.js';
import { copyFileSync, chmodSync } from 'node:fs';
import { buildProbe, compileText, run, tempDir } from './helpers.js';
import { capabilityProfiles } from '../../compiler/lower/runtime/capabilities.js';

const policy = (bin: string, prefix: string, mode: string) => `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: wrt-pin-${mode}}
spec:
  options: [{name: policy-mode, value: ${mode}}]
  kprobes:
  - call: sys_openat
    syscall: true
    args: [{index: 0, type: int}, {index: 1, type: string}]
    selectors:
    - matchArgs: [{index: 1, operator: Prefix, values: ["${prefix}"]}]
      matchBinaries: [{operator: In, values: ["${bin}"]}]
      matchActions: [{action: Sigkill}]
`;

describe.skipIf(skipKernel())('pinned runtime state', () => {
  let dir = '';
  let bin = '';
  const pinDir = `/sys/fs/bpf/wrt-${process.pid}-${Math.random().toString(16).slice(2, 8)}`;

  beforeAll(() => {
    // Leftovers of earlier runs (their pid is gone) are removed by prefix.
    for (const d of readdirSync('/sys/fs/bpf')) {
      const m = /^wrt-(\d+)-/.exec(d);
      if (!m || Number(m[1]) === process.pid) continue;
      try {
        process.kill(Number(m[1]), 0);
      } catch {
        rmSync(path.join('/sys/fs/bpf', d), { recursive: true, force: true });
      }
    }
    dir = tempDir();
    bin = buildProbe(dir);
    mkdirSync(path.join(dir, 'protected'));
    writeFileSync(path.join(dir, 'protected', 's'), 'x');
  });

  afterAll(() => {
    if (existsSync(pinDir)) RuntimeDatapath.open({ pinDir }).destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps enforcing after the agent closes, and a new agent adopts, swaps and removes it', async () => {
    const target = path.join(dir, 'protected', 's');
    const enforce = compileText(policy(bin, `${dir}/protected/`, 'enforce')).nodes[0]!;
    const a = RuntimeDatapath.open({ pinDir });
    a.apply(enforce.images, enforce.lowered.attach);
    const gen = a.generation;
    a.close(); // the agent exits; pins remain
    expect(readdirSync(pinDir)).toEqual(
      expect.arrayContaining(['wrt_active', 'wrt_hooks_slots', 'link-syscalls-sys_enter_openat', 'link-sched-sched_process_exec']),
    );
    expect((await run(bin, ['open', target])).signal).toBe('SIGKILL');

    const b = RuntimeDatapath.open({ pinDir }); // restarted agent
    expect(b.generation).toBe(gen);
    expect((await run(bin, ['open', target])).signal).toBe('SIGKILL');
    const monitor = compileText(policy(bin, `${dir}/protected/`, 'monitor')).nodes[0]!;
    b.apply(monitor.images, monitor.lowered.attach);
    expect(b.generation).toBe(gen ^ 1);
    expect(await run(bin, ['open', target])).toMatchObject({ code: 0, signal: null });
    b.apply(enforce.images, enforce.lowered.attach);
    expect((await run(bin, ['open', target])).signal).toBe('SIGKILL');
    b.destroy();
    expect(existsSync(pinDir)).toBe(false);
    expect(await run(bin, ['open', target])).toMatchObject({ code: 0, signal: null });
  });

  // Kernel-function sites are pinned like tracepoints: a raw tracepoint site (it attaches on this kernel) keeps
  // enforcing after the agent exits, is adopted by the next agent (not attached twice) and unpinned when removed.
  it('pins a kernel-function site (raw_tp), adopts it on restart and unpins it when a bundle drops it', async () => {
    const sitePins = `${pinDir}-site`;
    const victim = path.join(dir, 'wrt-pin-victim');
    copyFileSync('/bin/true', victim);
    chmodSync(victim, 0o755);
    const exec = compileText(
      `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: wrt-pin-exec
  annotations: {weir.dev/allow-host-wide-kill: "true"}
spec:
  tracepoints:
  - subsystem: sched
    event: sched_process_exec
    raw: true
    args: [{index: 2, type: linux_binprm}]
    selectors:
    - matchArgs: [{index: 0, operator: Equal, values: ["${victim}"]}]
      matchActions: [{action: Sigkill}]
`,
      capabilityProfiles['tracepoint-only']!,
    ).nodes[0]!;
    expect(exec.lowered.attach).toEqual(['raw_tp/sched_process_exec']);
    try {
      const a = RuntimeDatapath.open({ pinDir: sitePins });
      expect(a.apply(exec.images, exec.lowered.attach).attached).toEqual(['raw_tp/sched_process_exec']);
      a.close();
      expect(readdirSync(sitePins)).toContain('link-raw_tp-sched_process_exec');
      expect((await run(victim, [])).signal).toBe('SIGKILL'); // no agent: the pinned link enforces

      const b = RuntimeDatapath.open({ pinDir: sitePins });
      // Adopted: the same site is not attached again, and still enforces after the swap.
      expect(b.apply(exec.images, exec.lowered.attach)).toMatchObject({ attached: [], detached: [] });
      expect((await run(victim, [])).signal).toBe('SIGKILL');
      const none = b.apply([], []);
      expect(none.detached).toEqual(['raw_tp/sched_process_exec']);
      expect(readdirSync(sitePins)).not.toContain('link-raw_tp-sched_process_exec');
      expect(await run(victim, [])).toMatchObject({ code: 0, signal: null });
      b.destroy();
      expect(existsSync(sitePins)).toBe(false);
    } finally {
      if (existsSync(sitePins)) RuntimeDatapath.open({ pinDir: sitePins }).destroy();
    }
  });
});
