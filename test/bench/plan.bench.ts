// `npm run bench -- plan`: weir plan for 1,000 policies and 10,000 pods after a one-file change,
// end to end (both revisions read from Git, compiled, probed, diffed, rendered as JSON). Peer, in
// the same run: the full two-revision rebuild from scratch that a connectivity diff tool such as
// np-guard netpol-analyzer's `diff` performs (both revisions loaded and compiled independently,
// every pair of peers probed), whose rows `diff-type, source, destination, ref1, ref2,
// workloads-diff-info` weir's text format reproduces.
import { performance } from 'node:perf_hooks';
import { main } from '../../compiler/cli/main.js';
import type { CommandIO } from '../../compiler/cli/command.js';
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
    out = '';
    const e2e = await measure(() => main(argv, io));
    if (e2e.value !== 0) throw new Error(`weir plan exited ${e2e.value}`);
    const plan = JSON.parse(out) as Plan;
    if (plan.changes.length === 0) throw new Error('the one-file change produced no plan rows: the bench would measure nothing');

    // The stages of weir's run: load + compile both revisions (sharing unchanged blobs), then plan.
    const cache = newRevisionCache();
    const compiled = await measure(async () => [await loadRevision(['.'], repo.dir, { ref: 'base', rev: 'base' }, undefined, cache), await loadRevision(['.'], repo.dir, { ref: 'head', rev: 'head' }, undefined, cache)] as const);
    const [b, h] = compiled.value;
    closeRevisionCache(cache);
    const stage = await measure(() => buildPlan({ base: b.model, head: h.model }));

    // Peer: both revisions from scratch (no sharing), every pair probed. Probing all ~1,000²
    // pairs takes many minutes here, so it runs over a slice of source workloads, scaled up.
    const peerCompiled = await measure(async () => [await loadRevision(['.'], repo.dir, { ref: 'base', rev: 'base' }), await loadRevision(['.'], repo.dir, { ref: 'head', rev: 'head' })] as const);
    const [pb, ph] = peerCompiled.value;
    const slice = 5;
    const keep = new Set(pb.model.workloads.slice(0, slice));
    const sliceRun = await measure(() => buildPlan({ base: pb.model, head: ph.model, fullProbeLimit: Infinity, sourceFilter: (w) => keep.has(w) }));
    const workloads = pb.model.workloads.length;
    const peerProbe = (sliceRun.cpu * workloads) / slice;
    const peerTotal = peerCompiled.cpu + peerProbe;
    const wall = `wall: end to end ${Math.round(e2e.wall)} ms, load+compile ${Math.round(compiled.wall)} ms, plan stage ${Math.round(stage.wall)} ms`;
    return {
      name: 'plan',
      setup: `${cluster.policies} CiliumNetworkPolicies, ${cluster.pods} pods (${workloads} workloads in ${namespaces} namespaces, a 1.7 MB Inventory), one policy file changed (its port), the repository packed as a clone has it; ${plan.changes.length} plan rows. Figures are CPU time of the process (the 2-core machine is shared; ${wall}). The peer's all-pairs probing is measured over ${slice} of ${workloads} source workloads and scaled linearly.`,
      figures: [
        {
          metric: 'weir plan end to end after a one-file change, wall time of one run',
          value: e2e.wall,
          unit: 'ms',
          peer: { name: 'the same run, CPU time (V8 GC threads included)', value: e2e.cpu },
          ratio: e2e.wall / e2e.cpu,
          goal: '< 1000 ms',
          met: e2e.wall < 1000,
        },
        {
          metric: 'weir plan end to end after a one-file change (Git read, load, compile, probe, diff, JSON)',
          value: e2e.cpu,
          unit: 'ms CPU',
          peer: { name: 'full two-revision rebuild from scratch, every pair probed (np-guard diff model)', value: peerTotal },
          ratio: e2e.cpu / peerTotal,
          goal: '< 1000 ms',
          met: e2e.cpu < 1000,
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
