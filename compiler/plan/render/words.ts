// Shared wording of plan renderers: how a decision and its rule read to a reviewer.
import type { Decision, RuleRef } from '../probe.js';
import type { Change, Plan, RevisionInfo } from '../model.js';

export function shortCommit(c: string | undefined): string {
  return c ? c.slice(0, 7) : '';
}

export function revisionLabel(r: RevisionInfo): string {
  return r.commit && r.ref !== r.commit ? `${r.ref} (${shortCommit(r.commit)})` : r.commit ? shortCommit(r.commit) : r.ref;
}

export function ruleText(r: RuleRef | undefined): string {
  if (!r) return '';
  const name = r.namespace ? `${r.namespace}/${r.policy}` : r.policy;
  return `${name} ${r.file}:${r.line}${r.commit ? ` @${shortCommit(r.commit)}` : ''}`;
}

/** `allow by ns/policy file:line`, `deny (default deny)`, `deny, audit (passes) by ...`, `allow +L7 GET /x by ...`. */
export function decisionText(d: Decision): string {
  const mode = d.verdict === 'deny' && d.audit ? 'deny in audit mode (passes, logged)' : d.verdict;
  const l7 = d.l7 ? ` with L7 ${d.l7}` : '';
  if (d.rule) return `${mode}${l7} by ${ruleText(d.rule)}`;
  return d.verdict === 'deny' ? `${mode} (default deny: no rule allows it)` : `${mode}${l7} (no policy selects the endpoint)`;
}

export function changeTitle(c: Change): string {
  return `${c.src} => ${c.dst} : ${c.protocol} ${c.ports}`;
}

export function useText(c: Change): string {
  if (c.observedFlows > 0) return `${c.observedFlows} observed flow(s)`;
  if (c.inUse === 'inventory') return 'the destination declares this port';
  return '';
}

export function headline(p: Plan): string {
  const s = p.summary;
  const parts = [`${s.newlyDenied} newly denied`, `${s.newlyAllowed} newly allowed`, `${s.changedL7} changed L7`, `${s.changedAudit} changed audit/enforce`];
  if (s.runtimeChanges) parts.push(`${s.runtimeChanges} runtime change(s)`);
  return parts.join(', ');
}
