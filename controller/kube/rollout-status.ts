// The PolicyRollout status the controller writes: phase, revisions and kstatus conditions
// (Ready, Reconciling, Stalled) with observedGeneration, so Flux `wait: true` and Argo CD's
// health check read progress without custom expressions.
import type { RolloutPhase } from '../reconcile/state.js';

export interface Condition {
  type: 'Ready' | 'Reconciling' | 'Stalled';
  status: 'True' | 'False' | 'Unknown';
  observedGeneration: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export interface PolicyRolloutStatus {
  observedGeneration: number;
  phase: RolloutPhase;
  revision?: string;
  lastGoodRevision?: string;
  bundleDigest?: string;
  nodesApplied: string;
  message?: string;
  conditions: Condition[];
}

/** The controller's view, as Controller.status() reports it (the fields used here). */
export interface ControllerView {
  phase: RolloutPhase;
  current: { revision: string; digest: string } | null;
  lastGood: { revision: string } | null;
  lastError: { message: string } | null;
  nodes: { state: string }[];
  /** Nodes held on their last bundle (their probed capabilities refuse the commit) and why. */
  held?: { node: string; reason: string }[];
}

const short = (r: string | undefined) => (r ? r.slice(0, 7) : 'none');

export function rolloutStatus(v: ControllerView, generation: number, previous: Condition[] = [], now = new Date()): PolicyRolloutStatus {
  const applied = v.nodes.filter((n) => n.state === 'applied').length;
  const nodesApplied = `${applied}/${v.nodes.length}`;
  const rev = v.current?.revision;
  const good = v.lastGood?.revision;
  const cond = (type: Condition['type'], status: Condition['status'], reason: string, message: string): Condition => {
    const prev = previous.find((c) => c.type === type);
    // lastTransitionTime moves only when the status flips, as the Kubernetes API conventions ask.
    const lastTransitionTime = prev && prev.status === status ? prev.lastTransitionTime : now.toISOString();
    return { type, status, observedGeneration: generation, lastTransitionTime, reason, message };
  };
  let conditions: Condition[];
  switch (v.phase) {
    case 'Complete':
      conditions = v.held?.length
        ? [
            cond(
              'Ready',
              'False',
              'NodesHeld',
              `Revision ${short(rev)} applied on ${nodesApplied} nodes; ${v.held.length} held on their last bundle`,
            ),
            cond('Stalled', 'True', 'NodesHeld', v.held.map((h) => `${h.node} held: ${h.reason}`).join('; ')),
          ]
        : [cond('Ready', 'True', 'Applied', `Revision ${short(rev)} applied on ${nodesApplied} nodes`)];
      break;
    case 'Compiling':
    case 'Canary':
    case 'Rolling':
      conditions = [
        cond('Ready', 'False', 'Progressing', `Rolling out ${short(rev)}`),
        cond('Reconciling', 'True', v.phase, `${v.phase}: ${short(rev)} applied on ${nodesApplied} nodes`),
      ];
      break;
    case 'RolledBack':
      conditions = [
        cond('Ready', 'False', 'RolledBack', `Revision ${short(good)} in force; ${short(rev)} was rolled back`),
        cond('Stalled', 'True', 'CanaryGateFailed', v.lastError?.message ?? 'rolled back'),
      ];
      break;
    case 'CompileFailed':
      conditions = [
        cond('Ready', 'False', 'CompileFailed', `Revision ${short(good)} in force`),
        cond('Stalled', 'True', 'CompileFailed', v.lastError?.message ?? 'does not compile'),
      ];
      break;
    case 'Degraded':
      conditions = [
        cond('Ready', 'False', 'Degraded', `Revision ${short(rev)} applied on ${nodesApplied} nodes`),
        cond('Stalled', 'True', 'NodesFailed', v.lastError?.message ?? 'some nodes did not apply'),
      ];
      break;
    default:
      conditions = [
        cond('Ready', 'Unknown', 'Idle', 'No revision rolled out yet'),
        cond('Reconciling', 'True', 'Idle', 'Waiting for the first revision'),
      ];
  }
  return {
    observedGeneration: generation,
    phase: v.phase,
    ...(rev ? { revision: rev } : {}),
    ...(good ? { lastGoodRevision: good } : {}),
    ...(v.current?.digest ? { bundleDigest: v.current.digest } : {}),
    nodesApplied,
    ...(v.lastError ? { message: v.lastError.message } : {}),
    conditions,
  };
}
