// `npm run bench -- plan`: weir plan for 1,000 policies and 10,000 pods after a one-file change,
// end to end (both revisions read from Git, compiled, probed, diffed, rendered). Peer, in the
// same run: the full two-revision rebuild from scratch that a connectivity diff tool such as
// np-guard netpol-analyzer's `diff` performs (every pair of both revisions probed), whose rows
// `diff-type, source, destination, ref1, ref2, workloads-diff-info` the text format reproduces.
import { performance } from 'node:perf_hooks';
import { main } from '../../compiler/cli/main.js';
import type { CommandIO } from '../../compiler/cli/command.js';
import { loadRevision } from '../../compiler/plan/revision.js';
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
    // Warm-up (module loading, JIT), then the measured run.
    await main(['plan', '--base', 'base', '--head', 'head', '--format', 'json', '--fail-on', 'never', '--quiet'], io);
    out = '';
    const t0 = performance.now();
    const code = await main(['plan', '--base', 'base', '--head', 'head', '--format', 'json', '--fail-on', 'never', '--quiet'], io);
    const planMs = performance.now() - t0;
    if (code !== 0) throw new Error(`weir plan exited ${code}`);
    const plan = JSON.parse(out) as Plan;
    if (plan.summary.newlyDenied + plan.summary.newlyAllowed === 0) throw new Error('the one-file change produced no plan rows: the bench measures nothing');

    // Peer: both revisions compiled from scratch and every pair probed (no affected-endpoint pruning).
    // Probing all 1,000² pairs takes minutes, so it runs over a slice of sources and is scaled up.
    const t1 = performance.now();
    const [b, h] = await Promise.all([loadRevision(['.'], repo.dir, { ref: 'base', rev: 'base' }), loadRevision(['.'], repo.dir, { ref: 'head', rev: 'head' })]);
    const compileMs = performance.now() - t1;
    const slice = 20;
    const keep = new Set(b.model.workloads.slice(0, slice).map((w) => `${w.namespace}/${w.name}`));
    const t2 = performance.now();
    buildPlan({ base: b.model, head: h.model, fullProbeLimit: Infinity, sourceFilter: (w) => keep.has(`${w.namespace}/${w.name}`) });
    const sliceMs = performance.now() - t2;
    const workloads = b.model.workloads.length;
    const fullMs = compileMs + (sliceMs * workloads) / slice;
    return {
      name: 'plan',
      setup: `${cluster.policies} CiliumNetworkPolicies, ${cluster.pods} pods (${workloads} workloads in ${namespaces} namespaces), one policy file changed; plan rows: ${plan.changes.length}. Peer measured over ${slice} of ${workloads} source workloads and scaled linearly.`,
      figures: [
        {
          metric: 'weir plan after a one-file change (both revisions from Git, compile, probe, diff, JSON)',
          value: planMs,
          unit: 'ms',
          peer: { name: 'full two-revision rebuild from scratch, every pair probed (np-guard diff model)', value: fullMs },
          ratio: planMs / fullMs,
          goal: '< 1000 ms',
          met: planMs < 1000,
        },
      ],
    };
  } finally {
    repo.dispose();
  }
}
