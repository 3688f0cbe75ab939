// Semantic verification (level 2 of DESIGN.md): the reference evaluator over the IR and the
// datapath emulator over the bundle's images must agree on every equivalence class.
import type { ReadBundle } from '../bundle/io.js';
import { evaluateDirection } from '../ir/network/evaluate.js';
import type { IRRule, L7Rules, NetworkIR } from '../ir/network/types.js';
import { rulesBySubject } from '../lower/network/mapstate.js';
import { addressCandidates, endpointClasses, type EquivalenceClass } from './classes.js';
import { DatapathEmulator } from './network-emulator.js';

export interface Mismatch {
  class: EquivalenceClass;
  evaluator: { verdict: 'allow' | 'deny'; audit: boolean; redirect: boolean; cookie: number; l7?: L7Rules };
  emulator: { verdict: 'allow' | 'deny'; audit: boolean; redirect: boolean; cookie: number; l7?: L7Rules };
  what: string;
}

export interface VerifyReport {
  endpoints: number;
  classes: number;
  mismatches: Mismatch[];
  /** Structural problems (endpoint in the IR without an image, or the reverse). */
  problems: string[];
}

const l7Key = (l?: L7Rules) =>
  l
    ? JSON.stringify({
        http: (l.http ?? []).map((x) => JSON.stringify(x)).sort(),
        dns: (l.dns ?? []).map((x) => JSON.stringify(x)).sort(),
        kafka: (l.kafka ?? []).map((x) => JSON.stringify(x)).sort(),
      })
    : '';

export function verifyNetwork(
  ir: NetworkIR,
  bundle: Pick<ReadBundle, 'manifest' | 'blob' | 'table'>,
  opts: { maxMismatches?: number } = {},
): VerifyReport {
  const emu = new DatapathEmulator(bundle);
  const cands = addressCandidates(bundle, emu);
  const nodeIps = new Map<string, string[]>();
  for (const e of ir.ipcache) if (e.node) nodeIps.set(e.node, [...(nodeIps.get(e.node) ?? []), e.prefix.split('/')[0]!]);
  const bySubject = rulesBySubject(ir);
  const problems: string[] = [];
  const mismatches: Mismatch[] = [];
  const max = opts.maxMismatches ?? 50;
  let classes = 0;
  const sentinel = 0xfffff0;
  const done = new Set<string>();
  for (const irEp of ir.endpoints) {
    const ep = emu.endpoints.find((e) => e.endpoint === irEp.key);
    if (!ep) {
      problems.push(`endpoint ${irEp.key} is in the IR but not in the bundle's endpoint table`);
      continue;
    }
    if (ep.identity !== irEp.identity)
      problems.push(`endpoint ${irEp.key}: identity ${ep.identity} in the bundle, ${irEp.identity} in the IR`);
    const rules: IRRule[] = bySubject.get(irEp.key) ?? [];
    const cls = endpointClasses(emu, ep, cands, nodeIps, sentinel, { ...ir, rules });
    for (const c of cls) {
      classes++;
      const ev = evaluateDirection(ir, irEp, c.direction, c.peerIdentity, c.protocol, c.port);
      const em = emu.decide(ep, c.direction === 'ingress' ? 0 : 1, c.peerIdentity, c.protocol, c.port);
      const a = {
        verdict: ev.verdict,
        audit: ev.audit,
        redirect: ev.l7 !== undefined,
        cookie: ev.rule?.cookie ?? 0,
        ...(ev.l7 ? { l7: ev.l7 } : {}),
      };
      const b = {
        verdict: em.verdict,
        audit: em.audit,
        redirect: em.action === 'redirect',
        cookie: em.cookie,
        ...(em.l7 ? { l7: em.l7 } : {}),
      };
      const diffs: string[] = [];
      if (a.verdict !== b.verdict) diffs.push('verdict');
      if (a.audit !== b.audit) diffs.push('audit');
      if (a.redirect !== b.redirect) diffs.push('redirect');
      if (a.cookie !== b.cookie) diffs.push('rule');
      if (a.redirect && b.redirect && l7Key(a.l7) !== l7Key(b.l7)) diffs.push('l7 rules');
      if (diffs.length && mismatches.length < max) {
        const k = `${c.endpoint}|${c.direction}|${c.peerIdentity}|${c.protocol}|${c.port}`;
        if (!done.has(k)) mismatches.push({ class: c, evaluator: a, emulator: b, what: diffs.join(', ') }), done.add(k);
      }
    }
  }
  for (const e of emu.endpoints)
    if (!ir.endpoints.some((x) => x.key === e.endpoint)) problems.push(`endpoint ${e.endpoint} is in the bundle but not in the IR`);
  return { endpoints: ir.endpoints.length, classes, mismatches, problems };
}
