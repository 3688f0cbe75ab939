// Prometheus metrics of the controller, on a registry of its own (several controllers can share a process in tests).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class ControllerMetrics {
  readonly registry = new Registry();
  readonly compileSeconds = new Histogram({
    name: 'weir_controller_compile_seconds',
    help: 'Time to lint, build and verify one commit',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly rolloutSeconds = new Histogram({
    name: 'weir_controller_rollout_seconds',
    help: 'Time from a compiled bundle to applied on every reachable node',
    labelNames: ['result'],
    buckets: [0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60],
    registers: [this.registry],
  });
  /** Node counts by state, read when /metrics is scraped (never per report: 20,000 nodes would make registration quadratic). */
  nodeCounts: () => Record<string, number> = () => ({});
  readonly nodes: Gauge<'state'> = new Gauge({
    name: 'weir_controller_nodes',
    help: 'Nodes by state',
    labelNames: ['state'],
    registers: [this.registry],
    collect: () => {
      for (const [state, n] of Object.entries(this.nodeCounts())) this.nodes.set({ state }, n);
    },
  });
  readonly bundleBytes = new Gauge({
    name: 'weir_controller_bundle_bytes',
    help: 'Size of the latest bundle (manifest plus blobs)',
    registers: [this.registry],
  });
  readonly rollouts = new Counter({
    name: 'weir_controller_rollouts_total',
    help: 'Rollouts by outcome',
    labelNames: ['result'],
    registers: [this.registry],
  });
  readonly sequence = new Gauge({
    name: 'weir_controller_rollout_sequence',
    help: 'Highest signed rollout step issued (agents refuse steps below the one they run)',
    registers: [this.registry],
  });
  /** Nodes held on their last bundle, read when /metrics is scraped: node and the rule of the refusal. */
  heldNodes: () => { node: string; rule: string }[] = () => [];
  readonly held: Gauge<'node' | 'rule'> = new Gauge({
    name: 'weir_controller_node_held',
    help: 'Nodes held on their last bundle because their probed capabilities refuse the latest commit (1 per node, by rule)',
    labelNames: ['node', 'rule'],
    registers: [this.registry],
    collect: () => {
      this.held.reset();
      for (const h of this.heldNodes()) this.held.set({ node: h.node, rule: h.rule }, 1);
    },
  });
  readonly capabilityFlaps = new Counter({
    name: 'weir_controller_capability_flaps_total',
    help: 'Capability reports that changed again within the recompile window of the same node (applied when it ends)',
    labelNames: ['node'],
    registers: [this.registry],
  });
  readonly compileFailures = new Counter({
    name: 'weir_controller_compile_failures_total',
    help: 'Commits that did not compile',
    registers: [this.registry],
  });
}
