// The rules selecting each endpoint, indexed once per IR and shared by lowering, verification and
// the plan's port cuts and fingerprints (not by the reference evaluator, which keeps its own so that
// `weir verify` compares two independent readings of the IR). Per-direction lists are split off on
// demand: the plan asks for a few hundred endpoints of ten thousand.
import type { Direction, IRRule, NetworkIR } from './types.js';

export interface RuleIndex {
  /** Rules per subject endpoint, in IR order. */
  all: Map<string, IRRule[]>;
  /** The rules of one direction selecting `endpoint`, in IR order. */
  of(endpoint: string, direction: Direction): readonly IRRule[];
}

const indexes = new WeakMap<NetworkIR, RuleIndex>();
const none: readonly IRRule[] = Object.freeze([]);

export function ruleIndex(ir: NetworkIR): RuleIndex {
  const known = indexes.get(ir);
  if (known) return known;
  const all = new Map<string, IRRule[]>();
  // The rules of one selector share their subject list: look its keys up once per list, not per rule.
  const lists = new Map<readonly string[], IRRule[][]>();
  for (const r of ir.rules) {
    let ls = lists.get(r.subjects);
    if (!ls) {
      ls = r.subjects.map((s) => {
        let l = all.get(s);
        if (!l) all.set(s, (l = []));
        return l;
      });
      lists.set(r.subjects, ls);
    }
    for (const l of ls) l.push(r);
  }
  const split = { ingress: new Map<string, readonly IRRule[]>(), egress: new Map<string, readonly IRRule[]>() };
  const index: RuleIndex = {
    all,
    of(endpoint, direction) {
      const m = split[direction];
      let l = m.get(endpoint);
      if (!l) {
        const rules = all.get(endpoint);
        l = rules ? rules.filter((r) => r.direction === direction) : none;
        m.set(endpoint, l);
      }
      return l;
    },
  };
  indexes.set(ir, index);
  return index;
}
