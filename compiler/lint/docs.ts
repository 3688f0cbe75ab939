// Generates docs/lint-rules.md from the rules' meta and the code catalogue (codes.ts), so the page
// cannot drift from the code (test/lint/docs.test.ts fails when the committed page differs). Every
// code has an explicit anchor: SARIF helpUri links point at it.
import { codeAnchor, stageAreas, stageCodes } from './codes.js';
import { rules } from './registry.js';
import { schemaRules } from './schema.js';

const cell = (s: string) => s.replace(/\|/g, '\\|');

export function rulesMarkdown(): string {
  const out: string[] = [];
  out.push('# weir lint rules', '');
  out.push("<!-- Generated from each rule's `meta` and compiler/lint/codes.ts by `npm run docs:lint-rules`; do not edit by hand. -->", '');
  out.push(
    '`weir lint` reports three kinds of findings: loader diagnostics (`load/*`: unreadable or hostile files, unknown kinds), schema diagnostics (`schema/*`: structure checked against `schemas/*.schema.json`), and the rules below. Guardrails add `guardrail/<name>` findings of your own (see [Guardrails](#guardrails)). The other stages (build, test, convert, plan) report the codes listed under [Stage diagnostics](#stage-diagnostics).',
    '',
  );
  out.push('| rule | severity | fixable | kinds | what it finds |', '|---|---|---|---|---|');
  for (const r of rules)
    out.push(
      `| [\`${r.meta.id}\`](#${codeAnchor(r.meta.id)}) | ${r.meta.severity} | ${r.meta.fixable ? 'yes' : 'no'} | ${r.meta.kinds.join(', ')} | ${cell(r.meta.description)} |`,
    );
  out.push('');
  for (const r of rules) {
    out.push(`<a id="${codeAnchor(r.meta.id)}"></a>`, '', `## ${r.meta.id}`, '');
    out.push(
      `Severity: **${r.meta.severity}**. Fixable: ${r.meta.fixable ? 'yes (the diagnostic carries the replacement; SARIF `fixes`)' : 'no'}.${r.meta.needsInventory ? ' Needs an inventory (`--inventory`, or an Inventory among the linted files).' : ''}`,
      '',
    );
    out.push(r.meta.description, '');
    out.push(`**Why:** ${r.meta.rationale}`, '');
    if (r.meta.example) out.push('Triggered by:', '', '```yaml', r.meta.example, '```', '');
  }
  out.push('## Schema diagnostics', '');
  out.push('| id | meaning |', '|---|---|');
  for (const s of schemaRules) out.push(`| <a id="${codeAnchor(s.id)}"></a>\`${s.id}\` | ${cell(s.description)} |`);
  out.push('');
  out.push('<a id="guardrails"></a>', '', '## Guardrails', '');
  out.push(
    'A `kind: Guardrail` document (see `policies/guardrails/`) is a rule of your own in CEL: `spec.match` picks the documents, `spec.rule` must hold for each, and a document where it does not is reported as `guardrail/<name>` with `spec.message` at `spec.path`. Guardrails among the linted files always apply; `--guardrails PATH` adds more.',
    '',
  );
  out.push('<a id="stage-diagnostics"></a>', '', '## Stage diagnostics', '');
  for (const a of stageAreas) {
    out.push(`### ${a.title} (\`${a.prefix}/*\`)`, '', a.help, '');
    out.push('| id | meaning |', '|---|---|');
    for (const c of stageCodes.filter((x) => x.id.startsWith(`${a.prefix}/`)))
      out.push(`| <a id="${codeAnchor(c.id)}"></a>\`${c.id}\` | ${cell(c.description)} |`);
    out.push('');
  }
  return out.join('\n');
}
