// Kernel (root): pod-scoped Sigkill through the agent's kernel datapath. Cgroups made by the test under a
// cgroup of its own stand in for the kubelet's pod cgroups (cgroupfs layout); the probe binary is
// copied into the test's temp dir and is the only binary the policy may kill.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipKernel } from '../kernel-env.js';
import { defaultRuntimeObject } from '../../bpf/runtime/loader.js';
import { cgroup2Root, type PodInfo } from '../../controller/agent/pod-scope.js';
import { KernelDatapath } from '../../controller/agent/kernel-datapath.js';
import { RuntimeEventExport } from '../../controller/agent/events-export.js';
import { imageBlob } from '../../compiler/bundle/assemble.js';
import type { MapImage } from '../../bpf/abi/image.js';
import { decodeRuntimeEvent } from '../../bpf/abi/runtime.js';
import type { NodeManifest } from '../../controller/bundle/codec.js';
import { buildProbe, compileText, tempDir } from './helpers.js';

const cgRoot = cgroup2Root();
const noKernel = skipKernel() || !existsSync(defaultRuntimeObject) || !cgRoot;

const policy = (bin: string, target: string) => `
apiVersion: cilium.io/v1alpha1
kind: TracingPolicyNamespaced
metadata:
  name: kill-in-pod
  namespace: shop
spec:
  podSelector:
    matchLabels:
      app: web
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - index: 0
      type: int
    - index: 1
      type: string
    selectors:
    - matchArgs:
      - index: 1
        operator: Equal
        values: ["${target}"]
      matchBinaries:
      - operator: In
        values: ["${bin}"]
      matchActions:
      - action: Sigkill
`;

const uid = (n: number) => `0000000${n}-aaaa-bbbb-cccc-${String(n).padStart(12, '0')}`;
const cid = (n: number) => String(n).repeat(64).slice(0, 64);

/** Runs the probe inside `cg` (or where the test runs, for the host): the shell moves itself, then execs it. */
function runIn(cg: string | undefined, bin: string, file: string): Promise<NodeJS.Signals | number | null> {
  const script = cg ? `echo $$ > '${cg}/cgroup.procs' && exec '${bin}' open '${file}'` : `exec '${bin}' open '${file}'`;
  return new Promise((resolve, reject) => {
    const c = spawn('/bin/sh', ['-c', script], { stdio: 'ignore' });
    const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
    c.on('error', reject);
    c.on('exit', (code, signal) => {
      clearTimeout(t);
      resolve(signal ?? code);
    });
  });
}

function removeTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) removeTree(path.join(dir, e.name));
  rmdirSync(dir);
}

describe.skipIf(noKernel)('pod-scoped runtime policy in the agent (root, cgroup v2)', () => {
  let dir = '';
  let bin = '';
  let target = '';
  let testCg = '';
  let dp: KernelDatapath;
  // Events name their pod by the cgroup id they carry alone: /proc is not read (procfs off).
  const events = new RuntimeEventExport({ node: 'podscope', procfs: false, podOf: (pid, cgroupId) => dp.podOf(pid, cgroupId) });
  const lines: string[] = [];
  events.follow({}, (l) => lines.push(l));
  const records: Buffer[] = [];
  const encode = events.record.bind(events);
  events.record = (rec: Buffer) => {
    records.push(Buffer.from(rec));
    encode(rec);
  };
  const pinDir = `/sys/fs/bpf/wps-${process.pid}`;
  const pods: PodInfo[] = [];
  const containerCg = (podUid: string, c: string) => path.join(testCg, 'kubepods', 'burstable', `pod${podUid}`, c);

  beforeAll(async () => {
    dir = tempDir();
    bin = buildProbe(dir);
    target = path.join(dir, 'secret.txt');
    writeFileSync(target, 'x\n');
    testCg = path.join(cgRoot!, `weir-podscope-${process.pid}-${Math.random().toString(16).slice(2, 8)}`);
    // Pod web-1 (selected) and api-1 (other labels) have running containers; web-2 (selected) starts later.
    mkdirSync(containerCg(uid(1), cid(1)), { recursive: true });
    mkdirSync(containerCg(uid(2), cid(2)), { recursive: true });
    pods.push(
      { namespace: 'shop', name: 'web-1', uid: uid(1), labels: { app: 'web' }, containerIds: [cid(1)] },
      { namespace: 'shop', name: 'api-1', uid: uid(2), labels: { app: 'api' }, containerIds: [cid(2)] },
      { namespace: 'shop', name: 'web-2', uid: uid(3), labels: { app: 'web' }, containerIds: [] },
    );
    dp = await KernelDatapath.open('podscope', { pinDir, pods: async () => pods, cgroupRoot: testCg, scopeIntervalMs: 100, events });
    const r = compileText(policy(bin, target));
    expect(r.errors).toEqual([]);
    const n = r.nodes[0]!;
    const images = n.images.map((img) => {
      const bytes = imageBlob(img.records);
      const image: MapImage = {
        name: img.name,
        keyType: img.keyType,
        valueType: img.valueType,
        type: img.type as MapImage['type'],
        keySize: img.keySize,
        valueSize: img.valueSize,
        maxEntries: img.maxEntries,
        entries: img.records.length,
        digest: 'x',
      };
      return { image, bytes: Buffer.from(bytes) };
    });
    const tables = new Map<string, unknown>([
      [
        'runtime_hooks',
        { podscope: { attach: n.lowered.attach, policies: n.lowered.policies, hooks: n.lowered.table, scopes: n.lowered.scopes } },
      ],
    ]);
    await dp.apply({ digest: 'd1', manifest: {} as NodeManifest, images, tables });
  }, 60_000);

  afterAll(async () => {
    await dp?.close();
    rmSync(pinDir, { recursive: true, force: true });
    rmSync(`${pinDir}-runtime`, { recursive: true, force: true });
    if (testCg) {
      for (let i = 0; i < 20 && existsSync(testCg); i++) {
        try {
          removeTree(testCg);
        } catch {
          await new Promise((r) => setTimeout(r, 100)); // a killed process leaves its cgroup a moment later
        }
      }
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reports the selected pods and which are not resolved yet', () => {
    expect(dp.runtimeScopes()).toEqual([
      {
        policy: 'shop/kill-in-pod',
        scopeSet: expect.any(Number),
        pods: ['shop/web-1', 'shop/web-2'],
        cgroups: 2,
        unresolved: ['shop/web-2'],
        state: 'unresolved',
      },
    ]);
  });

  it('kills the binary in the selected pod, not in the other pod nor on the host', async () => {
    expect(await runIn(containerCg(uid(1), cid(1)), bin, target)).toBe('SIGKILL');
    expect(await runIn(containerCg(uid(2), cid(2)), bin, target)).toBe(0);
    expect(await runIn(undefined, bin, target)).toBe(0);
    // The kill's event names the pod though the process is gone when it is read.
    events.drain();
    const kills = lines
      .map((l) => JSON.parse(l) as { process_kprobe?: { process: { pod?: { namespace: string; name: string } }; action?: string } })
      .filter((o) => o.process_kprobe?.action === 'KPROBE_ACTION_SIGKILL');
    expect(kills.length).toBeGreaterThan(0);
    expect(kills[0]!.process_kprobe!.process.pod).toMatchObject({ namespace: 'shop', name: 'web-1' });
    // The record carries the cgroup the process ran in: the pod's container cgroup.
    const calls = records.map(decodeRuntimeEvent).filter((e) => e?.kind === 'call' && e.signal === 9);
    expect(calls.map((e) => e!.cgroupId)).toContain(statSync(containerCg(uid(1), cid(1)), { bigint: true }).ino);
  }, 30_000);

  it('enforces in a pod cgroup created after the policy within a second', async () => {
    const cg = containerCg(uid(3), cid(3));
    mkdirSync(cg, { recursive: true });
    const t0 = Date.now();
    let outcome: NodeJS.Signals | number | null = null;
    while (Date.now() - t0 < 1000) {
      if (dp.runtimeScopes()[0]?.state === 'resolved') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    outcome = await runIn(cg, bin, target);
    expect(Date.now() - t0).toBeLessThan(1500);
    expect(outcome).toBe('SIGKILL');
    expect(dp.runtimeScopes()[0]).toMatchObject({ state: 'resolved', unresolved: [], cgroups: 4 });
    expect(statSync(cg).isDirectory()).toBe(true);
  }, 30_000);

  it('takes a removed container out of scope', async () => {
    const cg = containerCg(uid(3), cid(3));
    for (let i = 0; i < 20; i++) {
      try {
        rmdirSync(cg);
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await new Promise((r) => setTimeout(r, 400));
    expect(dp.runtimeScopes()[0]).toMatchObject({ state: 'resolved', cgroups: 3 });
  }, 30_000);
});
