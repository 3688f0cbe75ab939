// Diff of two connectivity matrices probed over the same classes: per-probe decision changes
// (newly denied / allowed, changed L7, changed audit/enforce, each with its deciding rule),
// and np-guard's connection-level diff (changed, added, removed, new or removed workloads).
import { formatConnections, isEmpty, protocols, type ConnectionSet, type PortRange } from './connset.js';
import { betweenReplicas, compareLines, connectionSet, type ConnectivityMatrix, type PairDecisions } from './connectivity.js';
import type { Change, ChangeCategory, ConnectivityDiffRow } from './model.js';
import { peerName, peerNamespace, type Peer } from './peers.js';
import { decisionKey, passes, type Decision } from './probe.js';

export function categorize(before: Decision, after: Decision): ChangeCategory | undefined {
  const b = passes(before);
  const a = passes(after);
  if (b && !a) return 'newly-denied';
  if (!b && a) return 'newly-allowed';
  if (!b && !a) return undefined;
  if ((before.l7 ?? '') !== (after.l7 ?? '')) return 'changed-l7';
  if (before.audit !== after.audit) return 'changed-audit';
  return undefined;
}

/** Rows with equal keys differ only by protocol: renderers show them as one line, summaries count them once. */
export function displayKey(c: Change): string {
  return [c.category, c.src, c.dst, c.ports, decisionKey(c.before), ruleKey(c.before), decisionKey(c.after), ruleKey(c.after)].join('|');
}

function ruleKey(d: Decision): string {
  const r = d.rule;
  return r ? `${r.file}:${r.line}:${r.policy}` : '';
}

function portsText(lo: number, hi: number): string {
  return lo === hi ? String(lo) : `${lo}-${hi}`;
}

/** A decision for a pair a revision does not have (a peer that does not exist there). */
const absent: Decision = { verdict: 'deny', audit: false };

export function diffDecisions(base: ConnectivityMatrix, head: ConnectivityMatrix): Change[] {
  const out: Change[] = [];
  const keys = new Set([...base.pairs.keys(), ...head.pairs.keys()]);
  for (const k of keys) {
    const b = base.pairs.get(k);
    const h = head.pairs.get(k);
    // A workload that exists on one side only is a workload change, reported by the connectivity diff.
    if (!b || !h) continue;
    // Both revisions probe a pair over the same classes (the plan unions their cuts).
    const classes = h.classes;
    if (b.classes.length !== classes.length) throw new Error(`internal: pair ${k} was probed over different classes in the two revisions`);
    protocols.forEach((protocol, pi) => {
      let run: { cat: ChangeCategory; lo: number; hi: number; before: Decision; after: Decision; key: string } | undefined;
      const flush = () => {
        if (!run) return;
        out.push(changeRow(h, run.cat, protocol, run.lo, run.hi, run.before, run.after));
        run = undefined;
      };
      classes.forEach((c: PortRange, ci) => {
        const before = b.decisions[pi * classes.length + ci] ?? absent;
        const after = h.decisions[pi * classes.length + ci] ?? absent;
        const cat = categorize(before, after);
        if (!cat) return flush();
        const key = `${cat}|${decisionKey(before)}|${ruleKey(before)}|${decisionKey(after)}|${ruleKey(after)}`;
        if (run && run.key === key && run.hi + 1 === c.lo) run.hi = c.hi;
        else {
          flush();
          run = { cat, lo: c.lo, hi: c.hi, before, after, key };
        }
      });
      flush();
    });
  }
  return out.sort(compareChanges);
}

function changeRow(
  p: PairDecisions,
  category: ChangeCategory,
  protocol: Change['protocol'],
  lo: number,
  hi: number,
  before: Decision,
  after: Decision,
): Change {
  const sn = peerNamespace(p.src);
  const dn = peerNamespace(p.dst);
  return {
    category,
    src: peerName(p.src),
    dst: peerName(p.dst),
    ...(sn ? { srcNamespace: sn } : {}),
    ...(dn ? { dstNamespace: dn } : {}),
    ...(betweenReplicas(p.src, p.dst) ? { betweenReplicas: true as const } : {}),
    protocol,
    ports: portsText(lo, hi),
    before,
    after,
    observedFlows: 0,
    breaking: false,
  };
}

const categoryRank: Record<ChangeCategory, number> = { 'newly-denied': 0, 'newly-allowed': 1, 'changed-l7': 2, 'changed-audit': 3 };

export function compareChanges(a: Change, b: Change): number {
  return (
    categoryRank[a.category] - categoryRank[b.category] ||
    compareLines(a, b) ||
    protocols.indexOf(a.protocol) - protocols.indexOf(b.protocol) ||
    Number(a.ports.split('-')[0]) - Number(b.ports.split('-')[0])
  );
}

/** np-guard `diff`: one row per pair whose allowed connection set differs. */
export function diffConnectivity(base: ConnectivityMatrix, head: ConnectivityMatrix): ConnectivityDiffRow[] {
  const basePeers = new Set(base.peers.map(peerName));
  const headPeers = new Set(head.peers.map(peerName));
  const rows: ConnectivityDiffRow[] = [];
  const keys = new Set([...base.pairs.keys(), ...head.pairs.keys()]);
  for (const k of keys) {
    const b = base.pairs.get(k);
    const h = head.pairs.get(k);
    const p = (h ?? b)!;
    const bs: ConnectionSet = b ? connectionSet(b) : {};
    const hs: ConnectionSet = h ? connectionSet(h) : {};
    const r1 = formatConnections(bs);
    const r2 = formatConnections(hs);
    if (r1 === r2) continue;
    const diffType = isEmpty(bs) ? 'added' : isEmpty(hs) ? 'removed' : 'changed';
    rows.push({
      diffType,
      source: peerName(p.src),
      destination: peerName(p.dst),
      ref1: r1,
      ref2: r2,
      workloadsDiffInfo: workloadInfo(p.src, p.dst, basePeers, headPeers),
    });
  }
  const rank = { changed: 0, added: 1, removed: 2 } as const;
  return rows.sort(
    (a, b) =>
      rank[a.diffType] - rank[b.diffType] || compareLines({ src: a.source, dst: a.destination }, { src: b.source, dst: b.destination }),
  );
}

function workloadInfo(src: Peer, dst: Peer, basePeers: Set<string>, headPeers: Set<string>): string {
  const notes: string[] = [];
  if (betweenReplicas(src, dst)) notes.push('between replicas');
  for (const p of [src, dst]) {
    if (p.type !== 'workload') continue;
    const n = peerName(p);
    if (!basePeers.has(n) && headPeers.has(n)) notes.push(`workload ${n} added`);
    if (basePeers.has(n) && !headPeers.has(n)) notes.push(`workload ${n} removed`);
  }
  return notes.join(', ');
}

export type DiffFormat = 'txt' | 'csv' | 'md';

/** np-guard's diff rendering, so the two tools' outputs can be compared line by line. */
export function renderConnectivityDiff(
  rows: readonly ConnectivityDiffRow[],
  format: DiffFormat,
  refs: [string, string] = ['ref1', 'ref2'],
): string {
  const [r1, r2] = refs;
  const csv = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  switch (format) {
    case 'txt':
      return `Connectivity diff:\n${rows.map((r) => `diff-type: ${r.diffType}, source: ${r.source}, destination: ${r.destination}, ${r1}: ${r.ref1}, ${r2}: ${r.ref2}${r.workloadsDiffInfo ? `, workloads-diff-info: ${r.workloadsDiffInfo}` : ''}\n`).join('')}`;
    case 'csv':
      return `diff-type,source,destination,${r1},${r2},workloads-diff-info\n${rows.map((r) => [r.diffType, r.source, r.destination, r.ref1, r.ref2, r.workloadsDiffInfo].map(csv).join(',') + '\n').join('')}`;
    case 'md':
      return `| diff-type | source | destination | ${r1} | ${r2} | workloads-diff-info |\n|-----------|--------|-------------|------|------|---------------------|\n${rows.map((r) => `| ${r.diffType} | ${r.source} | ${r.destination} | ${r.ref1} | ${r.ref2} | ${r.workloadsDiffInfo} |\n`).join('')}`;
  }
}
