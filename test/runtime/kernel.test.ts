// Kernel end to end (root): the real programs with compiled images, a test binary in our own temp dir.
import { existsSync, mkdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeDatapath, defaultRuntimeObject } from '../../bpf/runtime/loader.js';
import { decodeRecord, TetragonEncoder, compactLine, type DecodedEvent } from '../../controller/events/tetragon.js';
import { streamEvents } from '../../controller/events/stream.js';
import { skipKernel } from '../kernel-env.js';
import { loadPolicies } from '../../compiler/load/index.js';
import { compileRuntime } from '../../compiler/lower/runtime/index.js';
import { imageBlob } from '../../compiler/bundle/assemble.js';
import { RuntimeImageEvaluator } from '../../compiler/verify/runtime-emulator.js';
import { buildProbe, compileText, localCaps, run, spawnLoop, tempDir } from './helpers.js';
import { tetragonCorpus } from '../upstream-corpus.js';

function readlinkSafe(p: string): string {
  try {
    return readlinkSync(p);
  } catch {
    return '';
  }
}

const sigkillPolicy = (name: string, bin: string, prefix: string, mode = 'enforce') => `
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: ${name}
spec:
  options:
  - name: policy-mode
    value: ${mode}
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - index: 0
      type: int
    - index: 1
      type: string
    - index: 2
      type: int
    selectors:
    - matchArgs:
      - index: 1
        operator: Prefix
        values: ["${prefix}"]
      matchBinaries:
      - operator: In
        values: ["${bin}"]
      matchActions:
      - action: Sigkill
`;

describe.skipIf(skipKernel())('runtime programs in the kernel', () => {
  let dir = '';
  let bin = '';
  let dp: RuntimeDatapath;
  const records: DecodedEvent[] = [];
  let rb: { consume(): number; close(): void };

  beforeAll(() => {
    if (!existsSync(defaultRuntimeObject)) throw new Error(`${defaultRuntimeObject} missing: run npm run build`);
    dir = tempDir();
    bin = buildProbe(dir);
    mkdirSync(path.join(dir, 'protected'));
    writeFileSync(path.join(dir, 'protected', 'secret.txt'), 'secret\n');
    writeFileSync(path.join(dir, 'open.txt'), 'open\n');
    dp = RuntimeDatapath.open();
    rb = dp.events((b) => {
      const e = decodeRecord(b);
      if (e && e.binary === bin) records.push(e);
    });
  });

  afterAll(() => {
    rb?.close();
    dp?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const apply = (text: string) => {
    const r = compileText(text);
    expect(r.errors).toEqual([]);
    const n = r.nodes[0]!;
    dp.apply(n.images, n.lowered.attach);
    return n;
  };
  const drainAll = (xs: DecodedEvent[]) => xs.splice(0);
  const drain = () => {
    rb.consume();
    const out = records.splice(0);
    return out;
  };

  it('Sigkills the scoped binary when it opens a file under the protected prefix, with a KPROBE_ACTION_SIGKILL event', async () => {
    const node = apply(sigkillPolicy('wrt-protect', bin, `${dir}/protected/`));
    drain();
    const ok = await run(bin, ['open', path.join(dir, 'open.txt')]);
    expect(ok).toMatchObject({ code: 0, signal: null, stdout: 'opened 1\n' });
    const killed = await run(bin, ['open', path.join(dir, 'protected', 'secret.txt')]);
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.stdout).toBe('');
    const all = drain();
    const evs = all.filter((e) => e.kind === 'call');
    expect(evs).toHaveLength(1);
    records.push(...all.filter((e) => e.kind === 'exit'));
    const enc = new TetragonEncoder({ nodeName: 'local', table: node.lowered.table });
    for (const e of all.filter((x) => x.kind === 'exec' && x.pid === killed.pid)) enc.encode(e);
    const json = enc.encode(evs[0]!) as { process_kprobe: Record<string, unknown> };
    expect(json.process_kprobe).toMatchObject({
      policy_name: 'wrt-protect',
      action: 'KPROBE_ACTION_SIGKILL',
      function_name: '__x64_sys_openat',
      args: [{ int_arg: -100 }, { string_arg: path.join(dir, 'protected', 'secret.txt') }, { int_arg: 0 }],
      // argv captured by the exec program: the process is dead before anyone could read /proc.
      process: { pid: killed.pid, binary: bin, arguments: `open ${path.join(dir, 'protected', 'secret.txt')}` },
      weir: { file: 'policy.yaml', line: 11 }, // the kprobes entry (line 1 of the text is empty)
    });
    expect(compactLine(json)).toContain('killed');
    expect(dp.stats()).toMatchObject({ signals: 1 });
    // Its exit event says how it ended, as Tetragon's process_exit does.
    const exit = records.length ? records : (rb.consume(), records);
    const ex = drainAll(exit).find((e) => e.kind === 'exit' && e.pid === killed.pid);
    const pe = ex && (enc.encode(ex) as { process_exit: unknown }).process_exit;
    expect(pe).toMatchObject({ signal: 'SIGKILL', process: { pid: killed.pid } });
    expect(pe).not.toHaveProperty('status'); // exit status 0 is omitted, as Tetragon's protojson writes it
  });

  it('in monitor mode only posts: the binary lives, the event carries the would-be action', async () => {
    const node = apply(sigkillPolicy('wrt-protect-monitor', bin, `${dir}/protected/`, 'monitor'));
    drain();
    const signalsBefore = dp.stats().signals;
    // One consumer per ring buffer (they share its consumer position): the stream replaces the test's for now.
    rb.close();
    const lines: string[] = [];
    const stop = streamEvents(dp, {
      nodeName: 'local',
      table: node.lowered.table,
      format: 'compact',
      policyEventsOnly: true,
      write: (l) => lines.push(l),
    });
    const r = await run(bin, ['open', path.join(dir, 'protected', 'secret.txt'), '3']);
    expect(r).toMatchObject({ code: 0, signal: null, stdout: 'opened 3\n' });
    stop();
    rb = dp.events((b) => {
      const e = decodeRecord(b);
      if (e && e.binary === bin) records.push(e);
    });
    const ours = lines.filter((l) => l.includes(bin));
    expect(ours).toHaveLength(3);
    expect(dp.stats().signals).toBe(signalsBefore); // monitor mode sent none
    expect(ours[0]).toBe(
      `☠️  would-kill ${bin} __x64_sys_openat -100 ${path.join(dir, 'protected', 'secret.txt')} 0 (monitor) [wrt-protect-monitor]\n`,
    );
  });

  it('does not touch other binaries: a different copy of the same program opening the same file survives', async () => {
    apply(sigkillPolicy('wrt-protect', bin, `${dir}/protected/`));
    const other = path.join(dir, 'other-probe');
    writeFileSync(other, '');
    rmSync(other);
    const { copyFileSync, chmodSync } = await import('node:fs');
    copyFileSync(bin, other);
    chmodSync(other, 0o755);
    const r = await run(other, ['open', path.join(dir, 'protected', 'secret.txt')]);
    expect(r).toMatchObject({ code: 0, signal: null });
  });

  it('posts sys_mount and sys_pivot_root events for the binary in its own mount namespace', async () => {
    const scope = (name: string, call: string) => `
apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: ${name}}
spec:
  kprobes:
  - call: ${call}
    syscall: true
    args:
    - {index: 0, type: string}
    - {index: 1, type: string}
    selectors:
    - matchBinaries:
      - {operator: In, values: ["${bin}"]}
`;
    apply(scope('wrt-mount', 'sys_mount') + '---\n' + scope('wrt-pivot', 'sys_pivot_root'));
    drain();
    const mnt = path.join(dir, 'mnt');
    mkdirSync(mnt, { recursive: true });
    const r = await run(bin, ['mount', mnt]);
    expect(r.code).toBe(0);
    const evs = drain().filter((e) => e.kind === 'call');
    const mounts = evs.filter((e) => e.args[1]?.str === mnt);
    expect(mounts.map((e) => e.args[0]?.str)).toEqual(expect.arrayContaining(['wrt-tmpfs', mnt]));
    expect(mounts.length).toBeGreaterThanOrEqual(2);
  });

  it('the upstream examples sys_mount.yaml and sys_pivot_root.yaml (unchanged) post events for the binary in its own mount namespace', async () => {
    const loaded = await loadPolicies([path.join(tetragonCorpus, 'sys_mount.yaml'), path.join(tetragonCorpus, 'sys_pivot_root.yaml')], {
      root: tetragonCorpus,
    });
    const r = compileRuntime(loaded.documents, [{ name: 'local', caps: localCaps }]);
    expect(r.nodes[0]!.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const n = r.nodes[0]!;
    dp.apply(n.images, n.lowered.attach);
    drain();
    const mnt = path.join(dir, 'mnt-example');
    mkdirSync(mnt, { recursive: true });
    const res = await run(bin, ['mount', mnt]);
    expect(res.code).toBe(0);
    const evs = drain().filter((e) => e.kind === 'call' && e.pid === res.pid);
    const enc = new TetragonEncoder({ nodeName: 'local', table: n.lowered.table });
    const byPolicy = evs.map((e) => (enc.encode(e) as { process_kprobe: { policy_name: string; args: unknown[] } }).process_kprobe);
    // sys_mount: the make-private mount and the tmpfs mount; sys_pivot_root: its matchPIDs NotIn 0/1 (namespace pids) holds.
    expect(byPolicy.filter((k) => k.policy_name === 'syscalls').map((k) => k.args)).toEqual([
      [{ string_arg: 'none' }, { string_arg: '/' }],
      [{ string_arg: 'wrt-tmpfs' }, { string_arg: mnt }],
    ]);
    expect(byPolicy.filter((k) => k.policy_name === 'sys-pivot-root').map((k) => k.args)).toEqual([
      [{ string_arg: mnt }, { string_arg: mnt }],
    ]);
  });

  it('matchNamespaces Mnt NotIn host_ns sees the unshared mount namespace; In host_ns does not', async () => {
    const ns = (name: string, op: string) => `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: ${name}}
spec:
  kprobes:
  - call: sys_mount
    syscall: true
    args: [{index: 1, type: string}]
    selectors:
    - matchNamespaces:
      - {namespace: Mnt, operator: ${op}, values: [host_ns]}
      matchBinaries:
      - {operator: In, values: ["${bin}"]}
`;
    apply(ns('wrt-ns-in', 'In') + '---\n' + ns('wrt-ns-notin', 'NotIn'));
    drain();
    const mnt = path.join(dir, 'mnt-ns');
    mkdirSync(mnt, { recursive: true });
    const res = await run(bin, ['mount', mnt]);
    expect(res.code).toBe(0);
    const evs = drain().filter((e) => e.kind === 'call' && e.pid === res.pid);
    // Both mounts happen after unshare(CLONE_NEWNS): only the NotIn-host policy (hook id 1) posts.
    expect(evs.map((e) => e.hookId)).toEqual([1, 1]);
  });

  it('string Equal sets in each size class (<=64, <=128, <=255 bytes) match in the kernel as in the evaluator', async () => {
    const long = (n: number) => path.join(dir, 'protected', 'f'.repeat(n - path.join(dir, 'protected').length - 1));
    const files = [long(60), long(100), long(200)];
    for (const f of files) writeFileSync(f, 'x');
    const text = `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: wrt-classes}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args: [{index: 0, type: int}, {index: 1, type: string}]
    selectors:
    - matchArgs:
      - {index: 1, operator: Equal, values: [${files.map((f) => JSON.stringify(f)).join(', ')}]}
      matchBinaries:
      - {operator: In, values: ["${bin}"]}
      matchActions:
      - {action: Sigkill}
`;
    const n = apply(text);
    expect(Object.fromEntries(n.images.filter((i) => i.name.startsWith('wrt_str')).map((i) => [i.name, i.records.length]))).toEqual({
      wrt_str_a: 2,
      wrt_str_b: 1,
      wrt_str: 1,
    }); // class A also holds the binary path
    const ev = new RuntimeImageEvaluator(n.images, n.lowered.table);
    for (const f of [...files, `${files[1]}x`]) {
      const kernel = await run(bin, ['open', f]);
      const images = ev.evaluate({ binary: bin }, 257, [-100, f]).verdict;
      expect([f.length, kernel.signal === 'SIGKILL' ? 'kill' : 'allow']).toEqual([f.length, images]);
    }
    expect(ev.evaluate({ binary: bin }, 257, [-100, files[2]!]).verdict).toBe('kill');
  });

  it('matchCapabilities and matchPIDs are evaluated in the kernel (root has CAP_SYS_ADMIN; pid 1 is not us)', async () => {
    const sel = (name: string, filter: string) => `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: ${name}}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args: [{index: 0, type: int}, {index: 1, type: string}]
    selectors:
    - matchArgs: [{index: 1, operator: Prefix, values: ["${dir}/protected/"]}]
      matchBinaries: [{operator: In, values: ["${bin}"]}]
${filter}
      matchActions: [{action: Sigkill}]
`;
    const target = path.join(dir, 'protected', 'secret.txt');
    const cases: [string, string][] = [
      ['      matchCapabilities: [{type: Effective, operator: In, values: [CAP_SYS_ADMIN]}]', 'kill'],
      ['      matchCapabilities: [{type: Effective, operator: NotIn, values: [CAP_SYS_ADMIN]}]', 'allow'],
      ['      matchPIDs: [{operator: NotIn, values: [1]}]', 'kill'],
      ['      matchPIDs: [{operator: In, values: [1]}]', 'allow'],
      ['      matchPIDs: [{operator: NotIn, isNamespacePID: true, values: [1]}]', 'kill'],
    ];
    for (const [filter, want] of cases) {
      const text = sel('wrt-filters', filter);
      const r = compileText(text);
      if (r.errors.length) {
        // matchPIDs In [1] with Sigkill is refused without the annotation: the compiler's guard, not the kernel.
        expect(r.errors.join('\n')).toMatch(/host-wide-kill: Sigkill here would signal init/);
        continue;
      }
      apply(text);
      const res = await run(bin, ['open', target]);
      expect([filter, res.signal === 'SIGKILL' ? 'kill' : 'allow']).toEqual([filter, want]);
    }
  });

  it('matchBinaries followChildren: a process started by the named binary (a shell copy in our dir) is matched too', async () => {
    const { copyFileSync, chmodSync } = await import('node:fs');
    const sh = path.join(dir, 'wrt-sh');
    copyFileSync('/bin/sh', sh);
    chmodSync(sh, 0o755);
    const target = path.join(dir, 'protected', 'secret.txt');
    const pol = (follow: boolean) => `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: wrt-children}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args: [{index: 0, type: int}, {index: 1, type: string}]
    selectors:
    - matchArgs: [{index: 1, operator: Prefix, values: ["${dir}/protected/"]}]
      matchBinaries: [{operator: In, values: ["${sh}"], followChildren: ${follow}}]
      matchActions: [{action: Sigkill}]
`;
    // "; exit 0" keeps the shell alive as the parent (no exec-in-place of the last command).
    const viaShell = () => run(sh, ['-c', `${bin} open ${target}; exit 0`]);
    apply(pol(false));
    expect(await viaShell()).toMatchObject({ code: 0, signal: null });
    const n = apply(pol(true));
    const r = await viaShell();
    expect(r).toMatchObject({ code: 0, stdout: '' }); // the shell lives; its child was killed before printing
    const ev = new RuntimeImageEvaluator(n.images, n.lowered.table);
    expect(ev.evaluate({ binary: bin, ancestors: [sh] }, 257, [-100, target]).verdict).toBe('kill');
    expect(ev.evaluate({ binary: bin, ancestors: ['/bin/bash'] }, 257, [-100, target]).verdict).toBe('allow');
    const evs = drain().filter((e) => e.kind === 'call');
    expect(evs.some((e) => e.binary === bin && e.action === 3)).toBe(true);
  });

  it('a process that started before weir loaded is known from /proc and matched by matchBinaries', async () => {
    const target = path.join(dir, 'protected', 'secret.txt');
    const stop = path.join(dir, 'stop-early');
    const loop = spawnLoop(bin, ['loop', target, stop]);
    // Wait until the child has really exec'd the probe (its /proc/PID/exe), then load a late instance.
    for (let i = 0; i < 100 && readlinkSafe(`/proc/${loop.pid}/exe`) !== bin; i++) await new Promise((r) => setTimeout(r, 20));
    const late = RuntimeDatapath.open(); // a second, independent instance: its table starts from /proc
    try {
      const r = compileText(sigkillPolicy('wrt-early', bin, `${dir}/protected/`));
      late.apply(r.nodes[0]!.images, r.nodes[0]!.lowered.attach);
      const exit = await Promise.race([loop.exited, new Promise<null>((res) => setTimeout(() => res(null), 5000))]);
      expect(exit?.signal).toBe('SIGKILL');
    } finally {
      writeFileSync(stop, '');
      late.close();
    }
  });

  it("applies a bundle's blobs (as the agent receives them) and refuses a bad one before touching the maps in service", async () => {
    const r = compileText(sigkillPolicy('wrt-bundle', bin, `${dir}/protected/`));
    const n = r.nodes[0]!;
    const blobs = n.images.map((img) => ({ image: img, bytes: imageBlob(img.records) }));
    const stats = dp.applyBundle(blobs, n.lowered.attach);
    expect(stats.entries).toMatchObject({ wrt_hooks: 1, wrt_policies: 1, wrt_prefix: 1, wrt_str_a: 1, wrt_str_b: 0, wrt_str: 0 });
    const gen = dp.generation;
    const bad = blobs.map((b) => (b.image.name === 'wrt_hooks' ? { ...b, bytes: b.bytes.subarray(0, b.bytes.length - 3) } : b));
    expect(() => dp.applyBundle(bad, n.lowered.attach)).toThrow(/wrt_hooks: \d+ bytes is not a whole number of 1716-byte records/);
    expect(() => dp.applyBundle(blobs, ['sched/sched_switch'])).toThrow(/^runtime attach point sched\/sched_switch: /);
    expect(dp.generation).toBe(gen);
    const killed = await run(bin, ['open', path.join(dir, 'protected', 'secret.txt')]);
    expect(killed.signal).toBe('SIGKILL');
  });

  it('a process the binary filter rejected (cached in its process entry) is killed once a policy naming it is swapped in', async () => {
    const target = path.join(dir, 'protected', 'secret.txt');
    const stop = path.join(dir, 'stop-cache');
    // Two generations whose only hook rejects this binary: the handler caches the rejection per process.
    apply(sigkillPolicy('wrt-other1', '/nonexistent/wrt-other', `${dir}/protected/`));
    const loop = spawnLoop(bin, ['loop', target, stop]);
    try {
      await new Promise((r) => setTimeout(r, 200));
      apply(sigkillPolicy('wrt-other2', '/nonexistent/wrt-other', `${dir}/protected/`));
      await new Promise((r) => setTimeout(r, 200));
      expect(await Promise.race([loop.exited, new Promise<null>((r) => setTimeout(() => r(null), 100))])).toBeNull(); // still running
      // Same hook id, same slot parity as the first generation: a stale cache entry would spare it.
      apply(sigkillPolicy('wrt-cache-kill', bin, `${dir}/protected/`));
      const exit = await Promise.race([loop.exited, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
      expect(exit?.signal).toBe('SIGKILL');
    } finally {
      writeFileSync(stop, '');
    }
  });

  it('swapping the policy while the binary loops changes behaviour at one point: posts, then a kill, never mixed', async () => {
    const target = path.join(dir, 'protected', 'secret.txt');
    const stop = path.join(dir, 'stop');
    const v1 = apply(sigkillPolicy('wrt-v1', bin, `${dir}/protected/`, 'monitor'));
    drain();
    const loop = spawnLoop(bin, ['loop', target, stop]);
    await new Promise((r) => setTimeout(r, 300));
    const before = drain().filter((e) => e.kind === 'call');
    expect(before.length).toBeGreaterThan(10);
    const v2 = apply(sigkillPolicy('wrt-v2', bin, `${dir}/protected/`));
    const exit = await Promise.race([loop.exited, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
    writeFileSync(stop, '');
    expect(exit?.signal).toBe('SIGKILL');
    const after = drain().filter((e) => e.kind === 'call');
    // Every event is whole: monitor events from v1 (post only) then exactly one enforce kill from v2.
    const seq = [...before, ...after].map((e) => (e.monitor ? 'v1' : 'v2'));
    const firstV2 = seq.indexOf('v2');
    expect(firstV2).toBeGreaterThan(0);
    expect(seq.slice(firstV2)).toEqual(['v2']);
    expect(v1.lowered.table[0]!.policy).toBe('wrt-v1');
    expect(v2.lowered.table[0]!.policy).toBe('wrt-v2');
  });
});
