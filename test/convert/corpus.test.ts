// The upstream Falco rules (falcosecurity/rules) as a corpus: every condition parses, round-trips, maps to its
// exact source position, every rule compiles, and the conversion counts are pinned (the README quotes them).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isFalcoRules, loadSources, type FalcoRulesDocument } from '../../compiler/load/index.js';
import { convertFalco, parseCondition, printCondition } from '../../compiler/convert/falco/index.js';
import { stripPositions } from '../../compiler/convert/falco/ast.js';
import { LineIndex, mapScalar } from '../../compiler/convert/falco/source-text.js';
import { validateTracingPolicy } from '../../compiler/convert/tracing-policy.js';
import { falcoReportText } from '../../compiler/convert/report.js';
import { expectGolden } from './golden.js';
import { falcoCorpus as corpus, falcoRuleFiles as files } from '../upstream-corpus.js';

async function loadCorpus() {
  const l = loadSources(await Promise.all(files.map(async (f) => ({ file: f, bytes: await fs.readFile(path.join(corpus, f)) }))));
  return { ...l, docs: l.documents.filter(isFalcoRules) };
}

function conditions(doc: FalcoRulesDocument): { index: number; kind: string; name: string; condition: string }[] {
  const out: { index: number; kind: string; name: string; condition: string }[] = [];
  doc.items.forEach((it, index) => {
    const o = it as Record<string, unknown>;
    if (typeof o['condition'] === 'string')
      out.push({ index, kind: 'rule' in o ? 'rule' : 'macro', name: String(o['rule'] ?? o['macro']), condition: o['condition'] });
  });
  return out;
}

describe('Falco corpus (falcosecurity/rules: stable, incubating, sandbox)', () => {
  it('loads 93 rules, 352 macros and 163 lists from the three files without diagnostics', async () => {
    const l = await loadCorpus();
    expect(l.diagnostics).toEqual([]);
    expect(l.docs).toHaveLength(3);
    const c = convertFalco(l.docs, l.sources);
    // 352, not the 351 a `grep '^- macro:'` finds: falco-sandbox_rules.yaml:1728 writes `condition` before `macro`.
    expect(c.ruleset.counts).toEqual({ rules: 93, macros: 352, lists: 163 });
    expect(c.ruleset.requiredEngineVersion).toBe('0.57.0');
    expect(c.ruleset.requiredPlugins.map((p) => `${p.name}@${p.version}`)).toContain('container@0.4.0');
    expect(c.diagnostics).toEqual([]);
  });

  it('parses every condition, and parse(print(ast)) equals the ast for each', async () => {
    const l = await loadCorpus();
    let n = 0;
    for (const doc of l.docs) {
      for (const c of conditions(doc)) {
        const r = parseCondition(c.condition);
        expect(r.ok, `${doc.provenance.file} ${c.kind} ${c.name}: ${r.ok ? '' : r.error.message}`).toBe(true);
        if (!r.ok) continue;
        const again = parseCondition(printCondition(r.expr));
        expect(again.ok && stripPositions(again.expr), `${c.name} round-trip`).toEqual(stripPositions(r.expr));
        n++;
      }
    }
    expect(n).toBe(93 + 352);
  });

  it('maps every condition character to its exact source offset (no fallback to the scalar start)', async () => {
    const l = await loadCorpus();
    for (const doc of l.docs) {
      const src = l.sources.get(doc.provenance.file)!;
      const lines = new LineIndex(src);
      for (const c of conditions(doc)) {
        const s = doc.locate([c.index, 'condition']);
        const offs = mapScalar(src, lines.offset(s.line, s.column), lines.offset(s.endLine, s.endColumn), c.condition);
        expect(offs, `${doc.provenance.file}:${s.line} ${c.name}`).toBeDefined();
        // Each non-blank character of the condition is that character in the file.
        for (let i = 0; i < c.condition.length; i++) if (!/\s/.test(c.condition[i]!)) expect(src[offs![i]!]).toBe(c.condition[i]);
      }
    }
  });

  it('converts exactly 7 rules without --allow-broader; the other enabled rules are reported with reasons', async () => {
    const l = await loadCorpus();
    const c = convertFalco(l.docs, l.sources);
    expect(c.totals).toEqual({ rules: 93, policies: 7, exact: 7, broader: 0, 'not-convertible': 74, disabled: 12 });
    for (const r of c.reports) if (r.verdict !== 'exact') expect(r.reasons.length, r.rule).toBeGreaterThan(0);
    for (const p of c.policies) expect(validateTracingPolicy(p.policy), p.policy.metadata.name).toEqual([]);
  });

  it('with --allow-broader: 7 exact, 65 broader, 9 not convertible, 12 disabled; every policy valid', async () => {
    const l = await loadCorpus();
    const c = convertFalco(l.docs, l.sources, { allowBroader: true, enforce: { minPriority: 'CRITICAL', rules: new Set() } });
    expect(c.totals).toEqual({ rules: 93, policies: 82, exact: 7, broader: 65, 'not-convertible': 9, disabled: 12 });
    for (const p of c.policies) {
      expect(validateTracingPolicy(p.policy), p.policy.metadata.name).toEqual([]);
      const a = p.policy.metadata.annotations!;
      expect(a['weir.dev/falco-rule']).toBe(p.rule);
      expect(Number(a['weir.dev/source-line'])).toBeGreaterThan(0);
      const kill = p.policy.spec.kprobes!.some((k) => k.selectors!.some((s) => s.matchActions!.some((x) => x.action === 'Sigkill')));
      // Sigkill only on exact conversions of CRITICAL-or-worse rules.
      const rep = c.reports.find((r) => r.rule === p.rule)!;
      expect(kill).toBe(rep.verdict === 'exact' && ['EMERGENCY', 'ALERT', 'CRITICAL'].includes(rep.priority));
      if (a['weir.dev/conversion'] === 'broader') expect(a['weir.dev/over-approximation']).toBeTruthy();
    }
    const names = c.policies.map((p) => p.policy.metadata.name);
    expect(new Set(names).size).toBe(names.length);
    await expectGolden('corpus-report-broader.txt', falcoReportText(c));
    // Same input, same bytes: a second conversion is identical.
    const again = convertFalco(l.docs, l.sources, { allowBroader: true, enforce: { minPriority: 'CRITICAL', rules: new Set() } });
    expect(JSON.stringify(again.policies)).toBe(JSON.stringify(c.policies));
  });
});
