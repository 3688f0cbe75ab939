// Markdown for a pull-request comment: a summary table first, details folded in <details>
// blocks, the whole kept under a byte budget (GitHub rejects comments over 65,536 characters)
// with a note of what was cut. The full plan is always in the JSON output.
import { categoryTitle, changeCategories, type Plan } from '../model.js';
import type { RuleRef } from '../probe.js';
import { addressMoveText, afterText, decisionText, groupChanges, groupUseText, otherEventsText, revisionLabel } from './words.js';
import { mdCode, mdText, urlSegment } from '../../escape.js';

/** Marker the workflow uses to find and update its own comment instead of adding another. */
export const commentMarker = '<!-- weir-plan -->';
export const defaultBudget = 60 * 1024;

/** Author text in a cell or a line of prose (see mdText); code spans use mdCode. */
const cell = mdText;

export interface MarkdownOptions {
  /** Byte budget of the comment (default 60 KB). */
  budget?: number;
  /**
   * Base of source links, `https://github.com/OWNER/REPO/blob`: each rule's `file:line` becomes a
   * link to that line at its commit, so a reviewer lands on it in one click.
   */
  linkBase?: string;
}

export function renderMarkdown(p: Plan, opts: MarkdownOptions | number = {}): string {
  const o: MarkdownOptions = typeof opts === 'number' ? { budget: opts } : opts;
  const budget = o.budget ?? defaultBudget;
  const link = (text: string, rules: readonly (RuleRef | undefined)[]): string => {
    let t = cell(text);
    if (!o.linkBase) return t;
    for (const r of rules) {
      if (!r?.commit) continue;
      const at = cell(`${r.file}:${r.line}`);
      t = t.replace(at, `[${at}](${o.linkBase}/${urlSegment(r.commit)}/${r.file.split('/').map(urlSegment).join('/')}#L${r.line})`);
    }
    return t;
  };
  const head: string[] = [commentMarker, `### weir plan: ${mdCode(revisionLabel(p.base))} → ${mdCode(revisionLabel(p.head))}`, ''];
  if (p.breaking) head.push(`> [!CAUTION]`, `> **Breaking:** ${p.summary.breaking} change(s) deny or kill traffic that is in use.`, '');
  for (const r of [p.base, p.head]) {
    if (r.status !== 'failed') continue;
    head.push(`> [!WARNING]`, `> The ${r === p.base ? 'base' : 'head'} revision ${mdCode(r.ref)} failed with ${r.errors} error(s):`);
    for (const d of r.diagnostics.filter((x) => x.severity === 'error').slice(0, 5))
      head.push(`> - ${mdCode(`${d.file}:${d.line}:${d.column}`)} ${cell(d.message)} (${mdCode(d.rule)})`);
    head.push('');
  }
  const findings = p.head.diagnostics.filter((d) => d.severity !== 'info');
  if (findings.length && p.head.status === 'ok') {
    head.push(`<details><summary>Head findings: ${p.head.errors} error(s), ${p.head.warnings} warning(s)</summary>`, '');
    for (const d of findings.slice(0, 20))
      head.push(`- ${mdCode(`${d.file}:${d.line}:${d.column}`)} ${d.severity}: ${cell(d.message)} (${mdCode(d.rule)})`);
    head.push('', '</details>', '');
  }
  const s = p.summary;
  head.push('| | count |', '|---|---:|');
  if (p.flows) head.push(`| **Observed flows that would now be dropped** | **${p.flows.wouldDrop}** of ${p.flows.evaluated} |`);
  if (p.events) head.push(`| **Observed process events that would now be killed** | **${p.events.wouldKill}** of ${p.events.evaluated} |`);
  head.push(
    `| Newly denied | ${s.newlyDenied} |`,
    `| Newly allowed | ${s.newlyAllowed} |`,
    `| Changed L7 | ${s.changedL7} |`,
    `| Changed audit/enforce | ${s.changedAudit} |`,
    `| Connectivity pairs added / removed / changed | ${s.connectivity.added} / ${s.connectivity.removed} / ${s.connectivity.changed} |`,
  );
  if (s.runtimeChanges) head.push(`| Runtime enforcement changes | ${s.runtimeChanges} |`);
  if (p.verification) {
    const v = p.verification;
    const ok = v.mismatches === 0 && v.problems.length === 0 && v.errors.length === 0;
    head.push(
      `| Head bundle verification (${v.classes} classes on ${v.endpoints} endpoints) | ${ok ? '✅ 0 mismatches' : `❌ ${v.mismatches} mismatch(es), ${v.problems.length + v.errors.length} problem(s)`} |`,
    );
  }
  if (s.workloadsAdded.length || s.workloadsRemoved.length)
    head.push(`| Workloads added / removed | ${s.workloadsAdded.length} / ${s.workloadsRemoved.length} |`);
  head.push('');
  if (p.flows && (p.flows.malformed > 0 || p.flows.skipped > 0 || (p.flows.replies ?? 0) > 0))
    head.push(
      `_${cell(p.flows.file)}: ${p.flows.total} lines, ${p.flows.malformed} malformed, ${p.flows.skipped} skipped (replies, drops, ICMP or peers not in the inventory${p.flows.replies ? `; ${p.flows.replies} of them replies` : ''})${otherEventsText(p.flows)}._`,
      '',
    );

  // Sections in order of importance; each is a list of rows that may be cut.
  interface Section {
    title: string;
    open: boolean;
    header: string[];
    rows: string[];
    footer?: string[];
  }
  const sections: Section[] = [];
  if (p.flows && p.flows.dropped.length) {
    sections.push({
      title: `Observed flows that would now be dropped (${p.flows.wouldDrop})`,
      open: true,
      header: ['| line | source | destination | port | now |', '|---:|---|---|---|---|'],
      rows: p.flows.dropped.map(
        (d) =>
          `| ${d.line} | ${cell(d.src)} | ${cell(d.dst)} | ${cell(`${d.protocol} ${d.port}`)}${d.request ? ` ${mdCode(d.request)}` : ''} | ${link(decisionText(d.after), [d.after.rule])} |`,
      ),
    });
  }
  if (p.events && p.events.affected.length) {
    sections.push({
      title: `Observed process events whose outcome changes (${p.events.affected.length})`,
      open: true,
      header: ['| line | pod | binary | call | before | after |', '|---:|---|---|---|---|---|'],
      rows: p.events.affected.map(
        (a) =>
          `| ${a.line} | ${cell(`${a.namespace ?? ''}/${a.pod ?? ''}`)} | ${mdCode(a.binary)} | ${cell(a.call)} | ${a.before} | **${a.after}**${a.rule ? ` ${cell(a.rule)}` : ''} |`,
      ),
    });
  }
  for (const cat of changeCategories) {
    const rows = groupChanges(p.changes.filter((c) => c.category === cat));
    if (!rows.length) continue;
    sections.push({
      title: `${categoryTitle[cat]} (${rows.length})`,
      open: cat === 'newly-denied',
      header: ['| | source | destination | connections | before | after | in use |', '|---|---|---|---|---|---|---|'],
      rows: rows.map(
        (g) =>
          `| ${g.breaking ? '⚠️' : ''} | ${cell(g.first.src)} | ${cell(g.first.dst)} | ${cell(g.connections)} | ${link(decisionText(g.first.before), [g.first.before.rule])} | ${link(afterText(g.first), [g.first.after.rule, ...(g.first.enforcedBy ?? [])])}${g.first.addressMove ? ` (${link(`reason: ${addressMoveText(g.first)}`, [g.first.addressMove.rule])})` : ''} | ${cell(groupUseText(g))} |`,
      ),
    });
  }
  if (p.runtime.length) {
    sections.push({
      title: `Runtime enforcement (${p.runtime.length})`,
      open: true,
      header: ['| policy | call | binaries | paths | before | after | rule |', '|---|---|---|---|---|---|---|'],
      rows: p.runtime.map(
        (r) =>
          `| ${cell(`${r.namespace ? `${r.namespace}/` : ''}${r.policy}`)} | ${cell(r.call)} | ${cell(r.binaries.join(', '))} | ${cell(r.paths.join(', '))} | ${r.before} | **${r.after}** | ${o.linkBase && r.commit ? link(`${r.file}:${r.line}`, [{ policy: r.policy, file: r.file, line: r.line, commit: r.commit }]) : mdCode(`${r.file}:${r.line}`)} |`,
      ),
    });
  }
  if (p.runtimeAttach?.length) {
    sections.push({
      title: `Runtime attach points on kernel functions (${p.runtimeAttach.length})`,
      open: false,
      header: ['| node | profile | policy | call | attach point | rule |', '|---|---|---|---|---|---|'],
      rows: p.runtimeAttach.map(
        (a) =>
          `| ${cell(a.node)} | ${cell(a.profile)} | ${cell(a.policy)} | ${cell(a.call)} | ${mdCode(a.attach)} | ${mdCode(`${a.file}:${a.line}`)} |`,
      ),
    });
  }
  if (p.connectivityDiff.length) {
    sections.push({
      title: `Connectivity diff, np-guard columns (${p.connectivityDiff.length})`,
      open: false,
      header: [
        `| diff-type | source | destination | ${cell(p.base.ref)} | ${cell(p.head.ref)} | workloads-diff-info |`,
        '|---|---|---|---|---|---|',
      ],
      rows: p.connectivityDiff.map(
        (r) =>
          `| ${r.diffType} | ${cell(r.source)} | ${cell(r.destination)} | ${cell(r.ref1)} | ${cell(r.ref2)} | ${cell(r.workloadsDiffInfo)} |`,
      ),
    });
  }
  if (p.maps.length) {
    sections.push({
      title: `Map deltas (${p.maps.length})`,
      open: false,
      header: ['| node | map | endpoint | before | after | + | − | ~ | headroom |', '|---|---|---|---:|---:|---:|---:|---:|---:|'],
      rows: p.maps.map(
        (m) =>
          `| ${cell(m.node)} | ${cell(m.map)} | ${cell(m.endpoint ?? '')} | ${m.before} | ${m.after} | ${m.added} | ${m.removed} | ${m.changed} | ${(m.headroom * 100).toFixed(1)}% |`,
      ),
    });
  }
  const tail: string[] = [];
  for (const n of p.notes) tail.push(`_Note: ${cell(n)}_`, '');
  if (p.changes.length === 0 && p.connectivityDiff.length === 0 && p.runtime.length === 0) tail.push('No change in effective policy.', '');

  const bytes = (x: string) => Buffer.byteLength(x, 'utf8');
  const cutNote = (n: number) =>
    `_… ${n} row(s) cut to keep this comment under ${Math.round(budget / 1024)} KB; the full plan is in the JSON output and the HTML report artifact._`;
  let text = `${head.join('\n')}\n`;
  let used = bytes(text) + bytes(tail.join('\n')) + 400; // room for the last cut note
  let cut = 0;
  for (const sec of sections) {
    const open = `<details${sec.open ? ' open' : ''}><summary><b>${sec.title}</b></summary>\n\n${sec.header.join('\n')}\n`;
    const close = '\n</details>\n\n';
    if (used + bytes(open) + bytes(close) > budget) {
      cut += sec.rows.length;
      continue;
    }
    let body = '';
    let shown = 0;
    for (const r of sec.rows) {
      const add = `${r}\n`;
      if (used + bytes(open) + bytes(body) + bytes(add) + bytes(close) + 200 > budget) break;
      body += add;
      shown++;
    }
    const secCut = sec.rows.length - shown;
    cut += secCut;
    const piece = `${open}${body}${secCut ? `\n${cutNote(secCut)}\n` : ''}${close}`;
    text += piece;
    used += bytes(piece);
  }
  if (cut > 0) text += `${cutNote(cut)}\n\n`;
  text += tail.join('\n');
  return text.trimEnd() + '\n';
}
