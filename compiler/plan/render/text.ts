// Terminal rendering of a plan: impact first (breaking, observed traffic), then each change with
// the rule on each side, then np-guard's diff columns so the two tools' outputs map line by line.
import { renderConnectivityDiff } from '../diff.js';
import { categoryTitle, changeCategories, type Plan } from '../model.js';
import {
  addressMoveText,
  afterText,
  decisionText,
  flowSkips,
  groupChanges,
  groupUseText,
  headline,
  otherEventsText,
  revisionLabel,
} from './words.js';
import { terminalSafeDeep } from '../../escape.js';

export interface TextOptions {
  color?: boolean;
  /** Rows shown per category before eliding (the JSON output always has everything). Default 50. */
  limit?: number;
}

export function renderText(plan: Plan, opts: TextOptions = {}): string {
  // Author text cannot act on the terminal: control characters and escapes are shown, then weir adds its colours.
  const p = terminalSafeDeep(plan);
  const limit = opts.limit ?? 50;
  const paint = (code: string, s: string) => (opts.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const out: string[] = [];
  out.push(`weir plan: ${revisionLabel(p.base)} -> ${revisionLabel(p.head)}`);
  for (const r of [p.base, p.head])
    if (r.status === 'failed')
      out.push(paint('31', `  ${r === p.base ? 'base' : 'head'} ${r.ref} FAILED: ${r.errors} error(s)`) + firstErrors(r.diagnostics));
  const findings = p.head.diagnostics.filter((d) => d.severity !== 'info');
  if (findings.length && p.head.status === 'ok')
    out.push(`  head findings: ${p.head.errors} error(s), ${p.head.warnings} warning(s)${findingList(findings, limit)}`);
  out.push('');
  if (p.breaking) out.push(paint('1;31', `BREAKING: ${p.summary.breaking} change(s) deny or kill traffic that is in use`), '');
  if (p.flows) {
    const f = p.flows;
    out.push(
      `Observed flows (${f.file}): ${f.total} line(s), ${f.evaluated} evaluated, ${flowSkips(f)}, ${f.malformed} malformed${otherEventsText(f)}`,
    );
    out.push(
      paint(f.wouldDrop > 0 ? '1;31' : '32', `  ${f.wouldDrop} observed flow(s) would now be dropped`) +
        (f.wouldAllow ? `, ${f.wouldAllow} previously denied would now pass` : '') +
        (f.deniedByBoth ? `, ${f.deniedByBoth} denied by both revisions` : ''),
    );
    for (const d of f.dropped.slice(0, limit))
      out.push(
        `  line ${d.line}: ${d.src} => ${d.dst} : ${d.protocol} ${d.port}${d.request ? ` ${d.request}` : ''}  now ${decisionText(d.after)}`,
      );
    for (const m of f.malformedSamples) out.push(`  malformed line ${m.line}: ${m.reason}`);
    out.push('');
  }
  if (p.events) {
    const e = p.events;
    out.push(
      `Observed process events (${e.file}): ${e.total} line(s), ${e.evaluated} evaluated, ${e.skipped} skipped, ${e.malformed} malformed`,
    );
    out.push(
      paint(e.wouldKill > 0 ? '1;31' : '32', `  ${e.wouldKill} observed event(s) would now be killed`) +
        (e.wouldSignal ? `, ${e.wouldSignal} signalled` : ''),
    );
    for (const a of e.affected.slice(0, limit))
      out.push(
        `  line ${a.line}: ${a.namespace ?? ''}${a.pod ? `/${a.pod}` : ''} ${a.binary} ${a.call}: ${a.before} -> ${a.after}${a.rule ? ` by ${a.rule}` : ''}`,
      );
    for (const m of e.malformedSamples) out.push(`  malformed line ${m.line}: ${m.reason}`);
    out.push('');
  }
  out.push(`Summary: ${headline(p)}`);
  const cd = p.summary.connectivity;
  out.push(`Connectivity: ${cd.added} added, ${cd.removed} removed, ${cd.changed} changed pair(s)`);
  if (p.summary.workloadsAdded.length) out.push(`Workloads added: ${p.summary.workloadsAdded.join(', ')}`);
  if (p.summary.workloadsRemoved.length) out.push(`Workloads removed: ${p.summary.workloadsRemoved.join(', ')}`);
  for (const cat of changeCategories) {
    const rows = groupChanges(p.changes.filter((c) => c.category === cat));
    if (rows.length === 0) continue;
    out.push('', paint('1', `${categoryTitle[cat]} (${rows.length})`));
    for (const g of rows.slice(0, limit)) {
      const mark = g.breaking ? paint('31', '!') : ' ';
      out.push(`${mark} ${g.title}`);
      out.push(`      before: ${decisionText(g.first.before)}`);
      out.push(`      after:  ${afterText(g.first)}`);
      const move = addressMoveText(g.first);
      if (move) out.push(`      reason: ${move}`);
      const use = groupUseText(g);
      if (use) out.push(`      in use: ${use}`);
    }
    if (rows.length > limit) out.push(`  ... ${rows.length - limit} more (use --format json for all)`);
  }
  if (p.runtime.length) {
    out.push('', paint('1', `Runtime enforcement (${p.runtime.length})`));
    for (const r of p.runtime.slice(0, limit))
      out.push(
        `  ${r.namespace ? `${r.namespace}/` : ''}${r.policy} ${r.call}${r.binaries.length ? ` binaries ${r.binaries.join(',')}` : ''}${r.paths.length ? ` paths ${r.paths.join(',')}` : ''}: ${r.before} -> ${r.after}  ${r.file}:${r.line}`,
      );
  }
  if (p.runtimeAttach?.length) {
    out.push('', paint('1', `Runtime attach points on kernel functions (${p.runtimeAttach.length})`));
    for (const a of p.runtimeAttach.slice(0, limit))
      out.push(`  ${a.node} (${a.profile}): ${a.policy} ${a.call} -> ${a.attach}  ${a.file}:${a.line}`);
  }
  if (p.maps.length) {
    out.push('', paint('1', 'Map deltas (node map endpoint: before -> after entries, +added -removed ~changed, headroom)'));
    for (const m of p.maps.slice(0, limit))
      out.push(
        `  ${m.node} ${m.map}${m.endpoint ? ` ${m.endpoint}` : ''}: ${m.before} -> ${m.after} (+${m.added} -${m.removed} ~${m.changed}), ${(m.headroom * 100).toFixed(1)}% of ${m.maxEntries} free`,
      );
  }
  if (p.verification) {
    const v = p.verification;
    const ok = v.mismatches === 0 && v.problems.length === 0 && v.errors.length === 0;
    out.push(
      '',
      paint(
        ok ? '32' : '1;31',
        `Head bundle verification: ${v.endpoints} endpoint(s), ${v.classes} equivalence class(es), ${v.mismatches} mismatch(es) between the evaluator and the datapath emulator${ok ? '' : ' FAILED'}`,
      ),
    );
    for (const x of [...v.errors, ...v.problems].slice(0, limit)) out.push(`  ${x}`);
  }
  if (p.connectivityDiff.length) {
    out.push('');
    const body = renderConnectivityDiff(p.connectivityDiff.slice(0, limit * 4), 'txt', [p.base.ref, p.head.ref]).trimEnd();
    out.push(body);
    if (p.connectivityDiff.length > limit * 4)
      out.push(`... ${p.connectivityDiff.length - limit * 4} more rows (use --format json for all)`);
  }
  for (const n of p.notes) out.push('', `note: ${n}`);
  if (p.changes.length === 0 && p.connectivityDiff.length === 0 && p.runtime.length === 0) out.push('', 'No change in effective policy.');
  return `${out.join('\n')}\n`;
}

function findingList(diags: Plan['head']['diagnostics'], limit: number): string {
  return diags
    .slice(0, limit)
    .map((d) => `\n    ${d.file}:${d.line}:${d.column}: ${d.severity}: ${d.message} [${d.rule}]`)
    .join('');
}

function firstErrors(diags: Plan['base']['diagnostics']): string {
  return diags
    .filter((d) => d.severity === 'error')
    .slice(0, 5)
    .map((d) => `\n    ${d.file}:${d.line}:${d.column}: ${d.message} [${d.rule}]`)
    .join('');
}
