// The conversion reports a reviewer reads: per rule (or PSP field) what became policy, what is broader and why,
// and what cannot be converted and why. Text for people, JSON for tools; both deterministic.
import { formatLocation, type Diagnostic } from '../diagnostics.js';
import type { FalcoConversion } from './falco/index.js';
import type { PspConversion } from './psp.js';

const verdictWord = { exact: 'exact', broader: 'broader', 'not-convertible': 'not convertible', disabled: 'disabled' } as const;

export function falcoReportJson(c: FalcoConversion): string {
  return (
    JSON.stringify(
      {
        kind: 'FalcoConversionReport',
        counts: c.ruleset.counts,
        requiredEngineVersion: c.ruleset.requiredEngineVersion ?? null,
        requiredPlugins: c.ruleset.requiredPlugins,
        totals: c.totals,
        blockers: c.blockers,
        rules: c.reports,
        diagnostics: c.diagnostics,
      },
      null,
      2,
    ) + '\n'
  );
}

export function falcoReportText(c: FalcoConversion): string {
  const out: string[] = [];
  for (const r of c.reports) {
    const act = r.action ? ` (${r.action})` : '';
    out.push(`${r.file}:${r.line}: ${verdictWord[r.verdict]}${act}: ${r.rule}`);
    if (r.policies.length > 0) out.push(`    policies: ${r.policies.join(', ')}`);
    for (const why of r.reasons) out.push(`    - ${why}`);
    if (r.blockedBy.length > 0) out.push(`    blocked by: ${r.blockedBy.join('; ')}`);
    for (const n of r.notes) out.push(`    note: ${n}`);
  }
  if (c.blockers.length > 0) {
    out.push('');
    out.push('what kept rules from an exact conversion (rules, most frequent first):');
    const w = Math.max(...c.blockers.map((b) => String(b.rules).length));
    for (const b of c.blockers) out.push(`  ${String(b.rules).padStart(w)}  ${b.feature}`);
  }
  const t = c.totals;
  const k = c.ruleset.counts;
  out.push('');
  out.push(`loaded ${k.rules} rules, ${k.macros} macros, ${k.lists} lists`);
  out.push(
    `${t.rules} rules: ${t.exact} exact, ${t.broader} broader, ${t['not-convertible']} not convertible, ${t.disabled} disabled; ${t.policies} ${t.policies === 1 ? 'TracingPolicy' : 'TracingPolicies'}`,
  );
  return out.join('\n') + '\n';
}

export function pspReportText(c: PspConversion): string {
  const out = [`${c.source}:`];
  for (const f of c.fields)
    out.push(
      `  ${f.field}: ${f.verdict === 'admission-only' ? 'not enforceable at runtime' : f.verdict === 'partial' ? 'runtime (partial)' : 'runtime'}${f.policies.length ? ` → ${f.policies.join(', ')}` : ''}\n      ${f.detail}`,
    );
  const n = (v: string) => c.fields.filter((f) => f.verdict === v).length;
  out.push(
    `${c.fields.length} fields: ${n('runtime')} runtime, ${n('partial')} partial, ${n('admission-only')} admission-only; ${c.policies.length} ${c.policies.length === 1 ? 'TracingPolicy' : 'TracingPolicies'}`,
  );
  return out.join('\n') + '\n';
}

export function pspReportJson(cs: PspConversion[]): string {
  return (
    JSON.stringify(
      {
        kind: 'PspConversionReport',
        sources: cs.map((c) => ({ source: c.source, fields: c.fields, policies: c.policies.map((p) => p.metadata.name) })),
      },
      null,
      2,
    ) + '\n'
  );
}

export function formatDiagnostic(d: Diagnostic): string {
  return `${formatLocation(d)}: ${d.severity}: ${d.message} [${d.rule}]`;
}
