// Where a node's runtime capabilities come from: the kernel agent probes its kernel once at start and reports the
// result in its registration; the controller compiles each node's runtime policies for what its agent reported (over
// the inventory's weir.dev/runtime-profile label), refuses a hook a node cannot run naming the node and what it
// lacks, records per node which source decided, and compiles again when a node reports other capabilities.
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { probeHooks } from '../../bpf/libbpf-ts/index.js';
import { Agent } from '../../controller/agent/agent.js';
import type { NodeFeatures } from '../../controller/agent/datapath.js';
import { EmulatorDatapath } from '../../controller/agent/emulated-datapath.js';
import { KernelDatapath } from '../../controller/agent/kernel-datapath.js';
import { generateSigningKey } from '../../controller/bundle/sign.js';
import { serveController } from '../../controller/reconcile/api.js';
import { type CompileResult, type Compiler, ProjectCompiler } from '../../controller/reconcile/compiler.js';
import { Controller } from '../../controller/reconcile/controller.js';
import { type ControllerView, rolloutStatus } from '../../controller/kube/rollout-status.js';
import { silentLogger } from '../../controller/reconcile/log.js';
import { Client } from '../../controller/transport/http.js';
import { capabilityProfiles, reportCapabilities, type ReportedCapabilities } from '../../compiler/lower/runtime/capabilities.js';
import { sha256 } from '../../compiler/bundle/assemble.js';
import { skipKernel } from '../kernel-env.js';
import { denyAll, empireOnly, pods, until, workspace, type Workspace } from './harness.js';

const key = generateSigningKey();
const token = 'node-token-0123456789abcdef0123';

const nodes = `apiVersion: v1
kind: Node
metadata: {name: node-a, labels: {weir.dev/runtime-profile: full}}
---
apiVersion: v1
kind: Node
metadata: {name: node-b, labels: {weir.dev/runtime-profile: full}}
`;

/** Needs a kernel function hook: fentry where the node has it, else kprobe; nothing on a node with neither. */
const fileOpen = `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: etc-opens}
spec:
  kprobes:
  - call: security_file_open
    syscall: false
    args:
    - {index: 0, type: file}
    selectors:
    - matchArgs:
      - {index: 0, operator: Prefix, values: [/etc/]}
`;

const emulator: NodeFeatures = { datapath: 'emulator', btf: false, mapInMap: true, lpmTrie: true, hooks: [] };
const reported = (over: Partial<ReportedCapabilities>, reasons: Record<string, string> = {}): NodeFeatures => ({
  ...emulator,
  datapath: 'kernel',
  runtime: { ...reportCapabilities({ ...capabilityProfiles['tracepoint-only']!, kprobes: false }, reasons, sha256), ...over },
});
/** A node whose kernel attaches fentry programs (and no kprobes). */
const withFentry = reported({ fentry: true });
/** A node with neither kprobe nor fentry attach, with the probe's reasons (as this development machine reports). */
const withNone = reported({}, { kprobeAttach: 'ENOTSUPP: kprobe events missing', fentry: 'EINVAL: no BTF for vmlinux' });

function runtimeHooks(r: CompileResult): Record<string, { attach: string[]; capabilities: unknown }> {
  const b = r.bundle!;
  const t = b.manifest.tables.find((x) => x.name === 'runtime_hooks')!;
  return JSON.parse(new TextDecoder().decode(b.blobs.get(t.digest)!)) as Record<string, { attach: string[]; capabilities: unknown }>;
}

describe('node capabilities in the registration', () => {
  const stops: (() => unknown)[] = [];
  let ws: Workspace | undefined;
  afterEach(async () => {
    for (const s of stops.splice(0).reverse()) await s();
    await ws?.cleanup();
    ws = undefined;
  });

  const serve = async (c: Controller) => {
    const server = await serveController(c, '127.0.0.1', 0, {
      insecureLoopback: true,
      token: ws!.operatorToken,
      nodeTokens: new Map([['node-a', token]]),
    });
    const client = new Client(server.url, { insecureLoopback: true, token });
    stops.push(
      () => server.close(),
      () => client.close(),
    );
    return client;
  };
  const controller = (compiler: Compiler = new ProjectCompiler(), capabilityRecompileMs = 0) => {
    const c = new Controller({
      repo: ws!.repo,
      branch: 'main',
      paths: ['policies'],
      stateDir: path.join(ws!.dir, 'controller'),
      compiler,
      key,
      logger: silentLogger(),
      pollIntervalMs: 0,
      // No agent applies bundles here: no node counts as live, so a rollout finishes without waiting on one.
      nodeStaleMs: -1,
      capabilityRecompileMs,
    });
    stops.push(() => c.stop());
    return c;
  };

  it('the emulated datapath reports no probe; a report is typed and bounded (unknown or oversized fields are refused)', async () => {
    ws = await workspace();
    expect((await new EmulatorDatapath('node-a').features()).runtime).toBeUndefined();
    const c = controller();
    const client = await serve(c);
    const ok = await client.json('POST', '/v1/nodes/node-a/register', { features: withNone });
    expect(ok.status).toBe(200);
    expect(c.nodes.get('node-a')?.features?.runtime).toEqual(withNone.runtime);
    const unknown = await client.json('POST', '/v1/nodes/node-a/register', {
      features: { ...withNone, runtime: { ...withNone.runtime, bpfMagic: true } },
    });
    expect(unknown.status).toBe(400);
    const notBool = await client.json('POST', '/v1/nodes/node-a/register', {
      features: { ...withNone, runtime: { ...withNone.runtime, fentry: 1 } },
    });
    expect(notBool.status).toBe(400);
    const tooMany = await client.json('POST', '/v1/nodes/node-a/register', {
      features: { ...withNone, runtime: { ...withNone.runtime, syscalls: Array.from({ length: 1025 }, (_, i) => `s${i}`) } },
    });
    expect(tooMany.status).toBe(400);
  });

  it.skipIf(skipKernel())('the kernel datapath reports the real probe of this kernel, and the controller accepts it', async () => {
    ws = await workspace();
    // Leftovers of an earlier run of this test (its own prefix) go first.
    for (const d of readdirSync('/sys/fs/bpf')) if (d.startsWith('wcp-')) rmSync(`/sys/fs/bpf/${d}`, { recursive: true, force: true });
    const pinDir = `/sys/fs/bpf/wcp-${randomBytes(3).toString('hex')}`;
    stops.push(() => {
      rmSync(pinDir, { recursive: true, force: true });
      rmSync(`${pinDir}-runtime`, { recursive: true, force: true });
    });
    const dp = await KernelDatapath.open('node-a', { pinDir });
    stops.push(() => dp.close());
    const f = await dp.features();
    const r = f.runtime!;
    // Checked against libbpf-ts's own hook probe and the active LSM list, not against a fixed expectation.
    const hooks = probeHooks();
    const attaches = (k: string) => hooks.find((h) => h.hook === k)?.attaches ?? false;
    const lsmList = existsSync('/sys/kernel/security/lsm') ? readFileSync('/sys/kernel/security/lsm', 'utf8').split(',') : [];
    expect(r.kprobeAttach).toBe(attaches('kprobe'));
    expect(r.fentry).toBe(attaches('fentry'));
    expect(r.lsm).toBe(attaches('lsm') && lsmList.includes('bpf'));
    expect(r.tracepoints).toBe(attaches('tracepoint'));
    // Every capability the probe found missing says why.
    for (const k of ['kprobeAttach', 'fentry', 'lsm'] as const) if (!r[k]) expect(r.reasons?.[k]).toMatch(/\S/);
    expect(f.hooks.includes('fentry')).toBe(r.fentry);
    // Probed once: the second registration reports the same object.
    expect((await dp.features()).runtime).toBe(r);
    console.log(`this kernel: kprobeAttach ${r.kprobeAttach}, fentry ${r.fentry}, lsm ${r.lsm}, tracepoints ${r.tracepoints}`);
    // The agent registers with it: the controller holds what this kernel's probe said.
    const c = controller();
    const client = await serve(c);
    const agent = new Agent({
      node: 'node-a',
      client,
      trustedKey: key.publicKey,
      stateDir: path.join(ws.dir, 'agent'),
      datapath: dp,
      logger: silentLogger(),
      longPollMs: 300,
    });
    stops.push(() => agent.stop());
    await agent.start();
    await until('node-a registered', async () => c.nodes.get('node-a')?.features?.runtime);
    expect(c.nodes.get('node-a')?.features).toMatchObject({ datapath: 'kernel', runtime: r });
    expect(JSON.parse(JSON.stringify(c.nodes.get('node-a')?.features?.runtime))).toEqual(JSON.parse(JSON.stringify(r)));
  });

  it('compiles for each node what its agent probed, refuses naming the node, and compiles again when a node reports other capabilities', async () => {
    ws = await workspace();
    const rev = await ws.commit({ 'policies/nodes.yaml': nodes, 'policies/file-open.yaml': fileOpen }, 'file opens');
    const inner = new ProjectCompiler();
    const results: CompileResult[] = [];
    const compiler: Compiler = {
      name: inner.name,
      compile: async (req) => {
        const r = await inner.compile(req);
        results.push(r);
        return r;
      },
      compileFiles: (files, revision, inputs) => inner.compileFiles(files, revision, inputs),
    };
    const c = controller(compiler);
    await c.start();
    await c.idle();
    // No agent reported: the inventory's labels decide (full: fentry).
    expect(results).toHaveLength(1);
    expect(results[0]!.ok).toBe(true);
    expect(runtimeHooks(results[0]!)['node-a']).toMatchObject({
      attach: ['fentry/security_file_open'],
      capabilities: { source: 'label', profile: 'full' },
    });

    // node-a's agent reports fentry: its probe decides, the same commit is compiled again.
    c.register('node-a', withFentry, undefined);
    await c.idle();
    expect(results).toHaveLength(2);
    expect(results[1]!.ok).toBe(true);
    const h = runtimeHooks(results[1]!);
    expect(h['node-a']).toMatchObject({ attach: ['fentry/security_file_open'], capabilities: { source: 'probe' } });
    expect(h['node-b']).toMatchObject({ capabilities: { source: 'label', profile: 'full' } });
    expect(c.state.lastGood?.revision).toBe(rev);

    // node-b's agent reports neither kprobe nor fentry attach: refused naming node-b and what it lacks. Only node-b is
    // held on its last bundle, never downgraded; the commit is compiled for the other nodes and rolled out to them.
    const before = c.state.lastGood!;
    c.register('node-b', withNone, undefined);
    await c.idle();
    expect(results).toHaveLength(4);
    expect(results[2]!.ok).toBe(false);
    const errors = results[2]!.diagnostics.filter((d) => d.severity === 'error');
    expect(errors.map((d) => [d.node, d.message])).toEqual([
      [
        'node-b',
        expect.stringMatching(
          /^node node-b: kprobe on kernel function security_file_open needs kprobe or fentry attach, which this node lacks .*; capabilities reported by the node's agent probe, which lacks .*kprobeAttach \(ENOTSUPP: kprobe events missing\), fentry \(EINVAL: no BTF for vmlinux\)/,
        ),
      ],
    ]);
    expect(results[3]!.ok).toBe(true);
    // The bundle for the others carries no runtime images for node-b (never a partial set), node-a's as before.
    expect(runtimeHooks(results[3]!)['node-b']).toBeUndefined();
    expect(runtimeHooks(results[3]!)['node-a']).toMatchObject({ attach: ['fentry/security_file_open'], capabilities: { source: 'probe' } });
    expect(c.phase).toBe('Complete');
    expect(c.state.lastGood?.digest).toBe(results[3]!.bundle!.digest);
    expect(c.desiredFor('node-a')?.digest).toBe(results[3]!.bundle!.digest);
    expect(c.desiredFor('node-b')).toEqual(before);
    expect(c.state.held?.['node-b']).toMatchObject({ revision: rev, rule: 'runtime/node-capability', reason: errors[0]!.message });
    const status = c.status() as {
      held: { node: string; reason: string; keeps: unknown }[];
      nodes: { node: string; held: string | null; capabilities: { source: string; lacks?: string } }[];
    };
    expect(status.held).toEqual([expect.objectContaining({ node: 'node-b', reason: errors[0]!.message, keeps: before })]);
    expect(status.nodes.find((n) => n.node === 'node-b')).toMatchObject({
      held: errors[0]!.message,
      capabilities: { source: 'probe', lacks: expect.stringContaining('fentry (EINVAL: no BTF for vmlinux)') },
    });
    expect(status.nodes.find((n) => n.node === 'node-a')?.held).toBeNull();
    const conditions = rolloutStatus(c.status() as ControllerView, 1).conditions;
    expect(conditions).toEqual([
      expect.objectContaining({ type: 'Ready', status: 'False', reason: 'NodesHeld' }),
      expect.objectContaining({
        type: 'Stalled',
        status: 'True',
        reason: 'NodesHeld',
        message: expect.stringMatching(/^node-b held: node node-b: kprobe/),
      }),
    ]);
    expect(await c.metrics.registry.metrics()).toContain('weir_controller_node_held{node="node-b",rule="runtime/node-capability"} 1');

    // A new commit (an urgent lockdown) reaches node-a; node-b stays held on its bundle.
    const lockdown = await ws.commit({ 'policies/lockdown.yaml': denyAll }, 'lockdown');
    await c.trigger('webhook');
    await c.idle();
    expect(c.state.lastGood?.revision).toBe(lockdown);
    expect(c.desiredFor('node-a')?.revision).toBe(lockdown);
    expect(c.desiredFor('node-b')).toEqual(before);
    expect(c.state.held?.['node-b']?.revision).toBe(lockdown);
    const compiled = results.length;

    // The same report again changes nothing: no compile.
    c.register('node-b', withNone, undefined);
    await c.idle();
    expect(results).toHaveLength(compiled);

    // node-b's kernel gains fentry (a new kernel): compiled again, it builds for every node, and node-b gets it.
    c.register('node-b', withFentry, undefined);
    await c.idle();
    expect(results).toHaveLength(compiled + 1);
    const last = results[compiled]!;
    expect(last.ok).toBe(true);
    expect(runtimeHooks(last)['node-b']).toMatchObject({ attach: ['fentry/security_file_open'], capabilities: { source: 'probe' } });
    expect(c.state.held).toBeUndefined();
    expect(c.desiredFor('node-b')?.digest).toBe(last.bundle!.digest);
    expect(c.phase).toBe('Complete');
    expect(await c.metrics.registry.metrics()).not.toContain('weir_controller_node_held{');
  });

  it('a held node stays held, on the bundle it had, across a controller restart', async () => {
    ws = await workspace();
    await ws.commit({ 'policies/nodes.yaml': nodes, 'policies/file-open.yaml': fileOpen }, 'file opens');
    const c = controller();
    await c.start();
    await c.idle();
    const before = c.state.lastGood!;
    c.register('node-b', withNone, undefined);
    await c.idle();
    expect(c.state.held?.['node-b']).toMatchObject({
      rule: 'runtime/node-capability',
      reason: expect.stringMatching(/^node node-b: .*capabilities reported by the node's agent probe/),
    });
    expect(c.state.lastGood?.digest).not.toBe(before.digest);
    await c.stop();
    const again = controller();
    await again.start();
    await again.idle();
    expect(again.state.held?.['node-b']).toEqual(c.state.held?.['node-b']);
    expect(again.desiredFor('node-b')).toEqual(before);
    expect(again.desiredFor('node-a')?.digest).toBe(c.state.lastGood?.digest);
    expect(await again.metrics.registry.metrics()).toContain('weir_controller_node_held{node="node-b",rule="runtime/node-capability"} 1');
  });

  it('a node-level refusal decided by an inventory label stays a compile error for the whole commit', async () => {
    ws = await workspace();
    const labelled = nodes.replace(
      '{name: node-b, labels: {weir.dev/runtime-profile: full}}',
      '{name: node-b, labels: {weir.dev/runtime-profile: tracepoint-only}}',
    );
    await ws.commit({ 'policies/nodes.yaml': labelled, 'policies/file-open.yaml': fileOpen }, 'file opens');
    const c = controller();
    // node-a's probe refuses too; node-b (no report) is refused by its label: nothing is held, nothing rolls out.
    c.register('node-a', withNone, undefined);
    await c.start();
    await c.idle();
    expect(c.phase).toBe('CompileFailed');
    expect(c.state.held).toBeUndefined();
    expect(c.state.lastGood).toBeUndefined();
    expect(c.state.lastError?.message).toMatch(/does not compile \(2 errors\)/);
  });

  it('capability recompiles are rate-limited per node: a flapping node compiles once per window, flaps counted, the last report applied after', async () => {
    ws = await workspace();
    await ws.commit({ 'policies/nodes.yaml': nodes, 'policies/file-open.yaml': fileOpen }, 'file opens');
    let compiles = 0;
    const inner = new ProjectCompiler();
    const compiler: Compiler = {
      name: inner.name,
      compile: (req) => {
        compiles++;
        return inner.compile(req);
      },
      compileFiles: (files, revision, inputs) => inner.compileFiles(files, revision, inputs),
    };
    const c = controller(compiler, 60_000);
    await c.start();
    await c.idle();
    expect(compiles).toBe(1);
    // The first change compiles at once (node-a reports fentry); the 19 alternations after it within the window do not.
    for (let i = 0; i < 20; i++) {
      c.register('node-a', i % 2 ? withNone : withFentry, undefined);
      await c.idle();
    }
    expect(compiles).toBe(2);
    expect(await c.metrics.registry.metrics()).toContain('weir_controller_capability_flaps_total{node="node-a"} 19');
    // node-b's first report is its own: not limited by node-a's window (refused by its probe: held, two compiles).
    c.register('node-b', withNone, undefined);
    await c.idle();
    expect(compiles).toBe(4);
    expect(c.state.held?.['node-b']).toMatchObject({
      rule: 'runtime/node-capability',
      reason: expect.stringMatching(/^node node-b: .*capabilities reported by the node's agent probe/),
    });
  });

  it('a change reported within the window is applied when it ends', async () => {
    ws = await workspace();
    await ws.commit({ 'policies/nodes.yaml': nodes, 'policies/file-open.yaml': fileOpen }, 'file opens');
    const c = controller(new ProjectCompiler(), 2000);
    await c.start();
    await c.idle();
    c.register('node-a', withFentry, undefined);
    await c.idle();
    // node-a then reports neither kprobe nor fentry within the window: not compiled now, held once the window ends.
    c.register('node-a', withNone, undefined);
    await c.idle();
    expect(c.state.held).toBeUndefined();
    await until('node-a held after its window', async () => c.state.held?.['node-a']);
    expect(c.state.held?.['node-a']?.rule).toBe('runtime/node-capability');
  });

  it('a commit without runtime policies is not compiled again when nodes report capabilities', async () => {
    ws = await workspace();
    await ws.commit({ 'policies/pods.yaml': pods, 'policies/rule1.yaml': empireOnly }, 'network only');
    let compiles = 0;
    const inner = new ProjectCompiler();
    const compiler: Compiler = {
      name: inner.name,
      compile: (req) => {
        compiles++;
        return inner.compile(req);
      },
      compileFiles: (files, revision, inputs) => inner.compileFiles(files, revision, inputs),
    };
    const c = controller(compiler);
    await c.start();
    await c.idle();
    expect(compiles).toBe(1);
    expect(c.state.lastGood).toBeDefined();
    c.register('node-a', withFentry, undefined);
    await c.idle();
    expect(compiles).toBe(1);
  });
});
