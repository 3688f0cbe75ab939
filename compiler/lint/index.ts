// The lint stage: schema validation, the rule registry, and guardrails over loaded documents.
// Pure: documents (+ inventory, guardrails) in, sorted diagnostics out.
import { sortDiagnostics, type Diagnostic } from '../diagnostics.js';
import type { Inventory } from '../inventory/index.js';
import { kindInfo } from '../load/kinds.js';
import type { PolicyDocument } from '../load/index.js';
import { isObj } from '../model/value.js';
import { checkGuardrails, compileGuardrails } from './guardrail.js';
import { rules as allRules } from './registry.js';
import { runRule, type LintRule } from './rule.js';
import { validateDocument } from './schema.js';
import { selectorDiagnostics } from '../validate.js';
import { buildRuntimeIR } from '../ir/runtime/compile.js';

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

/**
 * Policies written inline in a PolicyTest (`spec.policies: [{apiVersion, kind, ...}]`) as documents
 * of their own, located inside the test file, so they get the same checks as policy files.
 */
export function inlinePolicies(doc: PolicyDocument): PolicyDocument[] {
  if (doc.kind !== 'PolicyTest') return [];
  const spec = doc.value['spec'];
  const list = isObj(spec) ? spec['policies'] : undefined;
  if (!Array.isArray(list)) return [];
  const out: PolicyDocument[] = [];
  list.forEach((p, i) => {
    if (!isObj(p)) return;
    const v = p;
    const info = typeof v['kind'] === 'string' ? kindInfo(v['kind']) : undefined;
    if (!info) return; // the PolicyTest schema and `weir test` report what this is
    const meta = (v['metadata'] ?? {}) as Record<string, unknown>;
    const base = ['spec', 'policies', i] as const;
    const locate: PolicyDocument['locate'] = (path, opts) => doc.locate([...base, ...path], opts);
    out.push({
      kind: v['kind'] as string,
      apiVersion: typeof v['apiVersion'] === 'string' ? v['apiVersion'] : '',
      family: info.family,
      name: typeof meta['name'] === 'string' ? meta['name'] : '',
      ...(typeof meta['namespace'] === 'string' ? { namespace: meta['namespace'] } : {}),
      value: v,
      provenance: {
        ...doc.provenance,
        ...(() => {
          const s = doc.locate([...base]);
          return { line: s.line, column: s.column };
        })(),
      },
      span: locate([]),
      locate,
    });
  });
  return out;
}

/** Lints documents; a rule or schema finding at a place already diagnosed is not repeated. */
export function lintDocuments(documents: readonly PolicyDocument[], opts: LintOptions = {}): Diagnostic[] {
  const out: Diagnostic[] = [];
  const ruleSet = opts.rules ?? allRules;
  const byKind = new Map<string, LintRule[]>();
  for (const r of ruleSet) for (const k of r.meta.kinds) byKind.set(k, [...(byKind.get(k) ?? []), r]);
  const taken = new Set((opts.prior ?? []).map(at));
  for (const doc of documents) lintOne(doc, documents);
  // Inline policies of each PolicyTest form a run of their own (they are compiled together).
  for (const t of documents) {
    const inline = inlinePolicies(t);
    for (const doc of inline) lintOne(doc, inline);
  }
  function lintOne(doc: PolicyDocument, run: readonly PolicyDocument[]): void {
    const ruleDiags: Diagnostic[] = [];
    for (const r of byKind.get(doc.kind) ?? []) {
      if (r.meta.needsInventory && !opts.inventory) continue;
      // An inline test policy is judged against its test's inline inventory, which lint does not read.
      if (r.meta.needsInventory && run !== documents) continue;
      ruleDiags.push(...runRule(r, doc, opts.inventory, run));
    }
    for (const d of ruleDiags) taken.add(at(d));
    out.push(...ruleDiags);
    // A named rule explains a mistake better than the schema's generic message at the same node.
    // The input validation every stage shares (schema, then selector syntax); a rule's finding at the same place wins.
    const schema = validateDocument(doc).filter((d) => !taken.has(at(d)));
    out.push(...schema);
    const placed = new Set(schema.map(at));
    for (const d of selectorDiagnostics(doc)) if (!taken.has(at(d)) && !placed.has(at(d))) out.push(d);
    // The guard `weir build` refuses on: a Sigkill or Signal that can reach host processes. Asked of
    // the runtime compiler itself (its one home), so lint and build never disagree on a policy.
    if (doc.family === 'runtime' && schema.every((d) => d.severity !== 'error'))
      for (const d of buildRuntimeIR([doc]).diagnostics) if (d.rule === 'runtime/host-wide-kill' && !taken.has(at(d))) out.push(d);
  }
  const g = compileGuardrails([...documents, ...(opts.guardrails ?? [])]);
  out.push(...g.diagnostics, ...checkGuardrails(g.guardrails, documents));
  return sortDiagnostics(out);
}
