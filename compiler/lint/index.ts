// The lint stage: schema validation, the rule registry, and guardrails over loaded documents.
// Pure: documents (+ inventory, guardrails) in, sorted diagnostics out.
import { sortDiagnostics, type Diagnostic } from '../diagnostics.js';
import type { Inventory } from '../inventory/index.js';
import type { PolicyDocument } from '../load/index.js';
import { checkGuardrails, compileGuardrails } from './guardrail.js';
import { rules as allRules } from './registry.js';
import { runRule, type LintRule } from './rule.js';
import { validateDocument } from './schema.js';

export type { LintRule, RuleMeta, RuleContext } from './rule.js';
export { rules } from './registry.js';
export { schemaRules, validateAgainst } from './schema.js';
export { compileGuardrails, checkGuardrails } from './guardrail.js';

export interface LintOptions {
  inventory?: Inventory;
  /** Guardrail documents to apply in addition to those among `documents`. */
  guardrails?: readonly PolicyDocument[];
  /** Diagnostics already reported (e.g. by the loader); schema errors at the same place are dropped. */
  prior?: readonly Diagnostic[];
  rules?: readonly LintRule[];
}

const at = (d: Diagnostic) => `${d.file}:${d.line}:${d.column}`;

/** Lints documents; a rule or schema finding at a place already diagnosed is not repeated. */
export function lintDocuments(documents: readonly PolicyDocument[], opts: LintOptions = {}): Diagnostic[] {
  const out: Diagnostic[] = [];
  const ruleSet = opts.rules ?? allRules;
  const byKind = new Map<string, LintRule[]>();
  for (const r of ruleSet) for (const k of r.meta.kinds) byKind.set(k, [...(byKind.get(k) ?? []), r]);
  const taken = new Set((opts.prior ?? []).map(at));
  for (const doc of documents) {
    const ruleDiags: Diagnostic[] = [];
    for (const r of byKind.get(doc.kind) ?? []) {
      if (r.meta.needsInventory && !opts.inventory) continue;
      ruleDiags.push(...runRule(r, doc, opts.inventory, documents));
    }
    for (const d of ruleDiags) taken.add(at(d));
    out.push(...ruleDiags);
    // A named rule explains a mistake better than the schema's generic message at the same node.
    for (const d of validateDocument(doc)) if (!taken.has(at(d))) out.push(d);
  }
  const g = compileGuardrails([...documents, ...(opts.guardrails ?? [])]);
  out.push(...g.diagnostics, ...checkGuardrails(g.guardrails, documents));
  return sortDiagnostics(out);
}
