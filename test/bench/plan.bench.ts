// `npm run bench -- plan`: weir plan for 1,000 policies and 10,000 pods after a one-file change,
// end to end (both revisions read from Git, compiled, probed, diffed, rendered as JSON). Peer, in
// the same run: the full two-revision rebuild from scratch that a connectivity diff tool such as
// np-guard netpol-analyzer's `diff` performs (both revisions loaded and compiled independently,
// every pair of peers probed), whose rows `diff-type, source, destination, ref1, ref2,
// workloads-diff-info` weir's text format reproduces.
import { performance } from 'node:perf_hooks';
import { main } from '../../compiler/cli/main.js';
import type { CommandIO } from '../../compiler/cli/command.js';
import { loadRevision, newRevisionCache } from '../../compiler/plan/revision.js';
import { buildPlan } from '../../compiler/plan/plan.js';
import type { Plan } from '../../compiler/plan/model.js';
import type { BenchReport } from './report.js';
import { TestRepo } from '../plan/repo.js';
import { generateCluster } from '../plan/scale.js';

export default async function bench(): Promise<BenchReport> {
  const namespaces = 100;
  const appsPerNs = 10;
  const replicas = 10;
  const cluster = generateCluster({ namespaces, appsPerNs, replicas });
  const repo = new TestRepo('weirplan-bench-');
  try {
    repo.commit({ name: 'base', message: 'base', write: cluster.files });
    repo.commit({ name: 'head', message: 'one policy changes its port', write: cluster.oneFileChange });
    let out = '';
    const io: CommandIO = { stdout: (s) => (out += s), stderr: () => {}, cwd: repo.dir, env: { NO_COLOR: '1' }, isTTY: false };
    const argv = ['plan', '--base', 'base', '--head', 'head', '--format', 'json', '--fail-on', 'never', '--quiet'];
    await main(argv, io); // warm-up: module loading and JIT
    out = '';
    const t0 = performance.now();
    const code = await main(argv, io);
    const e2eMs = performance.now() - t0;
    if (code !== 0) throw new Error(`weir plan exited ${code}`);
    const plan = JSON.parse(out) as Plan;
    if (plan.changes.length === 0) throw new Error('the one-file change produced no plan rows: the bench would measure nothing');

    // The stages of weir's run: load + compile both revisions (sharing unchanged blobs), then plan.
    const cache = newRevisionCache();
    const t1 = performance.now();
    const b = await loadRevision(['.'], repo.dir, { ref: 'base', rev: 'base' }, undefined, cache);
    const h = await loadRevision(['.'], repo.dir, { ref: 'head', rev: 'head' }, undefined, cache);
    const compileMs = performance.now() - t1;
    const t2 = performance.now();
    buildPlan({ base: b.model, head: h.model });
    const planStageMs = performance.now() - t2;

    // Peer: both revisions from scratch (no sharing), every pair probed. Probing all ~1,000²
    // pairs takes many minutes here, so it runs over a slice of source workloads, scaled up.
    const t3 = performance.now();
    const pb = await loadRevision(['.'], repo.dir, { ref: 'base', rev: 'base' });
    const ph = await loadRevision(['.'], repo.dir, { ref: 'head', rev: 'head' });
    const peerCompileMs = performance.now() - t3;
    const slice = 5;
    const keep = new Set(pb.model.workloads.slice(0, slice));
    const t4 = performance.now();
    buildPlan({ base: pb.model, head: ph.model, fullProbeLimit: Infinity, sourceFilter: (w) => keep.has(w) });
    const sliceMs = performance.now() - t4;
    const workloads = pb.model.workloads.length;
    const peerProbeMs = (sliceMs * workloads) / slice;
    const peerMs = peerCompileMs + peerProbeMs;
    return {
      name: 'plan',
      setup: `${cluster.policies} CiliumNetworkPolicies, ${cluster.pods} pods (${workloads} workloads in ${namespaces} namespaces, a 1.7 MB Inventory), one policy file changed (its port); ${plan.changes.length} plan rows. The peer's all-pairs probing is measured over ${slice} of ${workloads} source workloads and scaled linearly. Shared 2-core machine.`,
      figures: [
        {
          metric: 'weir plan end to end after a one-file change (Git read, load, compile, probe, diff, JSON)',
          value: e2eMs,
          unit: 'ms',
          peer: { name: 'full two-revision rebuild from scratch, every pair probed (np-guard diff model)', value: peerMs },
          ratio: e2eMs / peerMs,
          goal: '< 1000 ms',
          met: e2eMs < 1000,
        },
        {
          metric: 'of which: load and compile both revisions (unchanged blobs and inventory shared)',
          value: compileMs,
          unit: 'ms',
          peer: { name: 'load and compile both revisions independently', value: peerCompileMs },
          ratio: compileMs / peerCompileMs,
        },
        {
          metric: 'of which: plan stage (probe pairs whose rules changed, diff, observed impact)',
          value: planStageMs,
          unit: 'ms',
          peer: { name: 'probe every pair of both revisions (scaled from a slice)', value: peerProbeMs },
          ratio: planStageMs / peerProbeMs,
          goal: '< 1000 ms',
          met: planStageMs < 1000,
        },
      ],
    };
  } finally {
    repo.dispose();
  }
}
