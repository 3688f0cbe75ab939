// `npm run bench -- plan`: weir plan for 1,000 policies and 10,000 pods after a one-file change,
// end to end (both revisions read from Git, compiled, probed, diffed, rendered as JSON). Peer, in
// the same run: the full two-revision rebuild from scratch that a connectivity diff tool such as
// np-guard netpol-analyzer's `diff` performs (both revisions loaded and compiled independently,
// every pair of peers probed), whose rows `diff-type, source, destination, ref1, ref2,
// workloads-diff-info` weir's text format reproduces.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { main } from '../../cli/main.js';
import type { CommandIO } from '../../cli/command.js';
import { closeRevisionCache, loadRevision, newRevisionCache } from '../../compiler/plan/revision.js';
import { buildPlan } from '../../compiler/plan/plan.js';
import type { Plan } from '../../compiler/plan/model.js';
import type { BenchReport } from './report.js';
import { TestRepo } from '../plan/repo.js';
import { generateCluster } from '../plan/scale.js';

/** CPU time of this process (user + system) in ms: on a shared, loaded machine wall time mostly measures the neighbours. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Runs `f`, returning its CPU and wall milliseconds. */
async function measure<T>(f: () => Promise<T> | T): Promise<{ cpu: number; wall: number; value: T }> {
  const c = cpuMs();
  const w = performance.now();
  const value = await f();
  return { cpu: cpuMs() - c, wall: performance.now() - w, value };
}

/** The garbage collector, reached without starting the bench with --expose-gc. */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
}

function median<T>(xs: T[], by: (x: T) => number): T {
  return [...xs].sort((a, b) => by(a) - by(b))[xs.length >> 1]!;
}

/** Wall milliseconds of `n` fresh `node bin/weir.js` processes, or undefined when the CLI is not built. */
function coldRuns(cwd: string, argv: string[], n: number): number[] | undefined {
  const root = path.resolve(import.meta.dirname, '../..');
  if (!existsSync(path.join(root, 'dist/cli/main.js'))) return undefined;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = spawnSync(process.execPath, [path.join(root, 'bin/weir.js'), ...argv], { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    if (r.status !== 0) throw new Error(`weir plan (process) exited ${r.status}: ${r.stderr}`);
    out.push(performance.now() - t);
  }
  return out.sort((a, b) => a - b);
}

export default async function bench(): Promise<BenchReport> {
  const namespaces = 100;
  const appsPerNs = 10;
  const replicas = 10;
  const cluster = generateCluster({ namespaces, appsPerNs, replicas });
  const repo = new TestRepo('weirplan-bench-');
  try {
    repo.commit({ name: 'base', message: 'base', write: cluster.files });
    repo.commit({ name: 'head', message: 'one policy changes its port', write: cluster.oneFileChange });
    repo.pack(); // as a CI checkout (a clone) holds them
    let out = '';
    const io: CommandIO = { stdout: (s) => (out += s), stderr: () => {}, cwd: repo.dir, env: { NO_COLOR: '1' }, isTTY: false };
    const argv = ['plan', '--base', 'base', '--head', 'head', '--format', 'json', '--fail-on', 'never', '--quiet'];
    await main(argv, io); // warm-up: module loading and JIT
    // Five runs, each from a collected heap (as a fresh process starts): the median is the figure.
    const runs: Awaited<ReturnType<typeof measure<number>>>[] = [];
    for (let i = 0; i < 5; i++) {
      collectGarbage();
      out = '';
      const r = await measure(() => main(argv, io));
      if (r.value !== 0) throw new Error(`weir plan exited ${r.value}`);
      runs.push(r);
    }
    const e2e = median(runs, (r) => r.wall);
    const plan = JSON.parse(out) as Plan;
    // The same plan as a user runs it: a fresh `weir plan` process (the built CLI), Node's start,
    // module loading and a cold JIT included.
    const cold = coldRuns(repo.dir, argv, 5);
    if (plan.changes.length === 0) throw new Error('the one-file change produced no plan rows: the bench would measure nothing');

    // The stages of weir's run: load + compile both revisions (sharing unchanged blobs), then plan.
    const cache = newRevisionCache();
    const compiled = await measure(
      async () =>
        [
          await loadRevision(['.'], repo.dir, { ref: 'base', rev: 'base' }, undefined, cache),
          await loadRevision(['.'], repo.dir, { ref: 'head', rev: 'head' }, undefined, cache),
        ] as const,
    );
    const [b, h] = compiled.value;
    closeRevisionCache(cache);
    const stage = await measure(() => buildPlan({ base: b.model, head: h.model }));

    // Peer: both revisions from scratch (no sharing), every pair probed. Probing all ~1,000²
    // pairs takes many minutes here, so it runs over a slice of source workloads, scaled up.
    const peerCompiled = await measure(
      async () =>
        [
          await loadRevision(['.'], repo.dir, { ref: 'base', rev: 'base' }),
          await loadRevision(['.'], repo.dir, { ref: 'head', rev: 'head' }),
        ] as const,
    );
    const [pb, ph] = peerCompiled.value;
    const slice = 5;
    const keep = new Set(pb.model.workloads.slice(0, slice));
    const sliceRun = await measure(() =>
      buildPlan({ base: pb.model, head: ph.model, fullProbeLimit: Infinity, sourceFilter: (w) => keep.has(w) }),
    );
    const workloads = pb.model.workloads.length;
    const peerProbe = (sliceRun.cpu * workloads) / slice;
    const peerTotal = peerCompiled.cpu + peerProbe;
    const wall = `in-process runs ${runs.map((r) => Math.round(r.wall)).join('/')} ms wall; stages measured apart: load+compile ${Math.round(compiled.wall)} ms, plan stage ${Math.round(stage.wall)} ms wall`;
    const coldText = cold
      ? `fresh processes ${cold.map(Math.round).join('/')} ms`
      : 'fresh processes not measured (the CLI is not built: npm run build)';
    return {
      name: 'plan',
      setup: `${cluster.policies} CiliumNetworkPolicies, ${cluster.pods} pods (${workloads} workloads in ${namespaces} namespaces, a 1.7 MB Inventory), one policy file changed (its port), the repository packed as a clone has it; ${plan.changes.length} plan rows. The goal is latency (wall time); CPU figures include V8's parallel GC threads (${wall}; ${coldText}). The peer's all-pairs probing is measured over ${slice} of ${workloads} source workloads and scaled linearly.`,
      figures: [
        {
          metric: 'weir plan end to end after a one-file change, wall time (median of 5 in-process runs, each from a collected heap)',
          value: e2e.wall,
          unit: 'ms',
          peer: { name: 'the same run, CPU time (V8 GC threads included)', value: e2e.cpu },
          ratio: e2e.wall / e2e.cpu,
          goal: '< 1000 ms',
          met: e2e.wall < 1000,
        },
        ...(cold
          ? [
              {
                metric: 'the same plan as a fresh `weir plan` process (Node start, module loading, cold JIT), wall time, median of 5',
                value: median(cold, (x) => x),
                unit: 'ms',
                peer: { name: 'the in-process run above', value: e2e.wall },
                ratio: median(cold, (x) => x) / e2e.wall,
                goal: '< 1000 ms',
                met: median(cold, (x) => x) < 1000,
              },
            ]
          : []),
        {
          metric: 'weir plan end to end after a one-file change (Git read, load, compile, probe, diff, JSON), CPU',
          value: e2e.cpu,
          unit: 'ms CPU',
          peer: { name: 'full two-revision rebuild from scratch, every pair probed (np-guard diff model)', value: peerTotal },
          ratio: e2e.cpu / peerTotal,
        },
        {
          metric: 'of which: load and compile both revisions (unchanged blobs and inventory shared)',
          value: compiled.cpu,
          unit: 'ms CPU',
          peer: { name: 'load and compile both revisions independently', value: peerCompiled.cpu },
          ratio: compiled.cpu / peerCompiled.cpu,
        },
        {
          metric: 'of which: plan stage (probe pairs whose rules changed, diff, observed impact)',
          value: stage.cpu,
          unit: 'ms CPU',
          peer: { name: 'probe every pair of both revisions (scaled from a slice)', value: peerProbe },
          ratio: stage.cpu / peerProbe,
          goal: '< 1000 ms',
          met: stage.cpu < 1000,
        },
      ],
    };
  } finally {
    repo.dispose();
  }
}
