// Enforcement, as Cilium decides it per endpoint: a direction is default-deny once a rule selecting
// the endpoint has rules in it (enableDefaultDeny aside); when only audit-mode policies enforce it,
// would-be drops are reported, and an endpoint selected only by audit-mode policies is in audit mode.
import type { Inventory } from '../../inventory/model.js';
import type { CompileCache } from './cache.js';
import type { Enforcer } from './parse.js';
import type { PodTables, SelectorCache } from './selectorcache.js';
import type { IREndpoint, IRRule } from './types.js';

/** The endpoints of the inventory's pods, in pod order, with their enforcement state. */
export function endpointsOf(
  inv: Inventory,
  tables: PodTables,
  selectors: SelectorCache,
  enforcers: readonly Enforcer[],
  rules: readonly IRRule[],
  cache: CompileCache | undefined,
): IREndpoint[] {
  const { podKeys, podIds } = tables;
  // Subject lists are shared between the rules of one selector: each distinct list is visited once.
  const podCount = inv.pods.length;
  const ingress = new Int32Array(podCount);
  const egress = new Int32Array(podCount);
  const ingressEnforcing = new Int32Array(podCount);
  const egressEnforcing = new Int32Array(podCount);
  const nonAudit = new Uint8Array(podCount);
  for (const e of enforcers) {
    const idx = selectors.indices(selectors.subjects(e.subject));
    const count = e.direction === 'ingress' ? ingress : egress;
    const enforcing = e.direction === 'ingress' ? ingressEnforcing : egressEnforcing;
    for (const i of idx) {
      count[i]!++;
      if (!e.audit) enforcing[i]!++, (nonAudit[i] = 1);
    }
  }
  const nonAuditSubjects = new Set<readonly string[]>();
  for (const r of rules)
    if (!r.audit && !nonAuditSubjects.has(r.subjects)) {
      nonAuditSubjects.add(r.subjects);
      for (const i of selectors.indices(r.subjects)) nonAudit[i] = 1;
    }
  const nodeCounters = new Map<string, number>();
  // An endpoint equal to the one the previous compile against these tables built is that object:
  // a second compile (the plan's head) allocates only the endpoints whose state changed.
  const prevEndpoints = cache?.pods?.tables === tables ? cache.pods.endpoints : undefined;
  const endpoints: IREndpoint[] = inv.pods.map((p, i) => {
    const key = podKeys[i]!;
    const n = (nodeCounters.get(p.node) ?? 0) + 1;
    nodeCounters.set(p.node, n);
    const ing = ingress[i]!;
    const egr = egress[i]!;
    const ingressEnforced = ing > 0;
    const egressEnforced = egr > 0;
    const ingressAuditOnly = ing > 0 && ingressEnforcing[i] === 0;
    const egressAuditOnly = egr > 0 && egressEnforcing[i] === 0;
    const auditMode = (ing > 0 || egr > 0) && !nonAudit[i];
    const prev = prevEndpoints?.[i];
    if (
      prev &&
      prev.endpointId === n &&
      prev.ingressEnforced === ingressEnforced &&
      prev.egressEnforced === egressEnforced &&
      prev.ingressAuditOnly === ingressAuditOnly &&
      prev.egressAuditOnly === egressAuditOnly &&
      prev.auditMode === auditMode
    )
      return prev;
    return {
      key,
      namespace: p.namespace,
      name: p.name,
      node: p.node,
      ips: p.ips,
      identity: podIds[i]!,
      endpointId: n,
      ingressEnforced,
      egressEnforced,
      ingressAuditOnly,
      egressAuditOnly,
      auditMode,
    };
  });
  if (cache?.pods) cache.pods.endpoints = endpoints;
  return endpoints;
}
