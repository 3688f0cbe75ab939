// Generates docs/lint-rules.md from the rules' meta, so the page cannot drift from the code
// (test/lint/docs.test.ts fails when the committed page differs).
import { rules } from './registry.js';
import { schemaRules } from './schema.js';

const anchor = (id: string) => id.replace(/[^a-z0-9]+/g, '-');

export function rulesMarkdown(): string {
  const out: string[] = [];
  out.push('# weir lint rules', '');
  out.push('<!-- Generated from each rule\'s `meta` by `npm run docs:lint-rules`; do not edit by hand. -->', '');
  out.push('`weir lint` reports three kinds of findings: loader diagnostics (`load/*`: unreadable or hostile files, unknown kinds), schema diagnostics (`schema/*`: structure checked against `schemas/*.schema.json`), and the rules below. Guardrails add `guardrail/<name>` findings of your own (see `policies/guardrails/`).', '');
  out.push('| rule | severity | fixable | kinds | what it finds |', '|---|---|---|---|---|');
  for (const r of rules) out.push(`| [\`${r.meta.id}\`](#${anchor(r.meta.id)}) | ${r.meta.severity} | ${r.meta.fixable ? 'yes' : 'no'} | ${r.meta.kinds.join(', ')} | ${r.meta.description.replace(/\|/g, '\\|')} |`);
  out.push('');
  for (const r of rules) {
    out.push(`## ${r.meta.id}`, '');
    out.push(`Severity: **${r.meta.severity}**. Fixable: ${r.meta.fixable ? 'yes (the diagnostic carries the replacement; SARIF `fixes`)' : 'no'}.${r.meta.needsInventory ? ' Needs an inventory (`--inventory`, or an Inventory among the linted files).' : ''}`, '');
    out.push(r.meta.description, '');
    out.push(`**Why:** ${r.meta.rationale}`, '');
    if (r.meta.example) out.push('Triggered by:', '', '```yaml', r.meta.example, '```', '');
  }
  out.push('## Schema diagnostics', '');
  out.push('| id | meaning |', '|---|---|');
  for (const s of schemaRules) out.push(`| \`${s.id}\` | ${s.description} |`);
  out.push('');
  return out.join('\n');
}
