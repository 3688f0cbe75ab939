// Shared wording of plan renderers: how a decision and its rule read to a reviewer.
import { ruleText, shortCommit, type Decision } from '../probe.js';
import type { Change, Plan, RevisionInfo } from '../model.js';
import { displayKey } from '../diff.js';

export function revisionLabel(r: RevisionInfo): string {
  if (!r.commit) return r.ref;
  // A ref that is already a (short) hash needs no repetition.
  return r.commit.startsWith(r.ref) ? shortCommit(r.commit) : `${r.ref} (${shortCommit(r.commit)})`;
}

/** `allow by ns/policy file:line`, `deny (default deny)`, `deny, audit (passes) by ...`, `allow +L7 GET /x by ...`. */
export function decisionText(d: Decision): string {
  const mode = d.verdict === 'deny' && d.audit ? 'deny in audit mode (passes, logged)' : d.verdict;
  const l7 = d.l7 ? ` with L7 ${d.l7}` : '';
  const block = d.ipBlock ? ` (ipBlock ${d.ipBlock.block} covers ${d.ipBlock.pod} at ${d.ipBlock.address})` : '';
  if (d.rule) return `${mode}${l7} by ${ruleText(d.rule)}${block}`;
  if (d.reason === 'allow-localhost') return `${mode} (the host reaches the pods of its own node: Cilium's allow-localhost)`;
  if (d.reason === 'host-network') return `${mode} (both sides are on the host network: no endpoint enforces)`;
  return d.verdict === 'deny' ? `${mode} (default deny: no rule allows it)` : `${mode}${l7} (no policy selects the endpoint)`;
}

/** The after side of a change, naming the policies that switched a default deny on. */
export function afterText(c: Change): string {
  if (!c.enforcedBy?.length || c.after.rule) return decisionText(c.after);
  return `${c.after.audit ? 'deny in audit mode (passes, logged)' : 'deny'} (default deny: no rule allows it; switched on by ${c.enforcedBy.map(ruleText).join(', ')})`;
}

/** `y/b moved from 10.0.2.12 to 10.0.9.12, out of ipBlock 10.0.2.0/24 of x/p policy.yaml:8 @abc1234` (or `into`), or nothing. */
export function addressMoveText(c: Change): string {
  const m = c.addressMove;
  if (!m) return '';
  return `${m.pod} moved from ${m.before.join(', ') || 'no address'} to ${m.after.join(', ') || 'no address'}, ${m.direction === 'into' ? 'into' : 'out of'} ipBlock ${m.block} of ${ruleText(m.rule)}`;
}

export function changeTitle(c: Change): string {
  return `${c.src} => ${c.dst} : ${c.protocol} ${c.ports}${c.betweenReplicas ? ' (between replicas)' : ''}`;
}

/** Rows that differ only by protocol, shown as one line (`All Connections`, `TCP 53,UDP 53`). */
export interface ChangeGroup {
  first: Change;
  rows: Change[];
  title: string;
  connections: string;
  breaking: boolean;
  observedFlows: number;
}

export function groupChanges(changes: readonly Change[]): ChangeGroup[] {
  const groups = new Map<string, ChangeGroup>();
  for (const c of changes) {
    const k = displayKey(c);
    const g = groups.get(k);
    if (g) {
      g.rows.push(c);
      g.breaking ||= c.breaking;
      g.observedFlows += c.observedFlows;
    } else groups.set(k, { first: c, rows: [c], title: '', connections: '', breaking: c.breaking, observedFlows: c.observedFlows });
  }
  for (const g of groups.values()) {
    const all = g.rows.length === 3 && g.first.ports === '1-65535';
    g.connections = all ? 'All Connections' : g.rows.map((r) => `${r.protocol} ${r.ports}`).join(',');
    if (g.first.betweenReplicas) g.connections += ' (between replicas)';
    g.title = `${g.first.src} => ${g.first.dst} : ${g.connections}`;
  }
  return [...groups.values()];
}

export function groupUseText(g: ChangeGroup): string {
  const drops = g.rows.reduce((n, r) => n + (r.observedDrops ?? 0), 0);
  if (drops > 0) return `${g.observedFlows} observed flow(s), ${drops} of them now refused`;
  if (g.observedFlows > 0) return `${g.observedFlows} observed flow(s)`;
  const inv = g.rows.find((r) => r.inUse === 'inventory');
  if (!inv) return '';
  return inv.ports.includes('-')
    ? `the destination declares a ${inv.protocol} port in ${inv.ports}`
    : `the destination declares ${inv.protocol} ${inv.ports}`;
}

export function useText(c: Change): string {
  if (c.observedFlows > 0) return `${c.observedFlows} observed flow(s)`;
  if (c.inUse === 'inventory') return 'the destination declares this port';
  return '';
}

export function headline(p: Plan): string {
  const s = p.summary;
  const parts = [
    `${s.newlyDenied} newly denied`,
    `${s.newlyAllowed} newly allowed`,
    `${s.changedL7} changed L7`,
    `${s.changedAudit} changed audit/enforce`,
  ];
  if (s.runtimeChanges) parts.push(`${s.runtimeChanges} runtime change(s)`);
  return parts.join(', ');
}

/** `4 skipped` or `12 skipped (9 replies)`: replies are among the skipped lines, and said. */
export function flowSkips(f: NonNullable<Plan['flows']>): string {
  const replies = f.replies ?? 0;
  return `${f.skipped} skipped${replies ? ` (${replies} repl${replies === 1 ? 'y' : 'ies'})` : ''}`;
}

/** `; 3 agent_event, 1 lost_events counted apart`, or nothing. */
export function otherEventsText(f: NonNullable<Plan['flows']>): string {
  const other = Object.entries(f.otherEvents ?? {});
  return other.length ? `; ${other.map(([k, n]) => `${n} ${k}`).join(', ')} counted apart` : '';
}
