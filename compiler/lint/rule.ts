// The shape of a lint rule (after ESLint's lib/rules): static meta that documents it, and a check.
import type { Diagnostic, Severity, SuggestedFix } from '../diagnostics.js';
import type { Inventory } from '../inventory/index.js';
import type { NodePath, PolicyDocument } from '../load/index.js';

export interface RuleMeta {
  /** Stable id, `<area>/<name>`: what users put in reports, docs and suppressions. */
  id: string;
  severity: Severity;
  /** One line: what the rule finds. */
  description: string;
  /** Why it matters: the upstream behaviour the mistake runs into. */
  rationale: string;
  /** Whether the diagnostic carries a mechanical replacement. */
  fixable: boolean;
  /** Document kinds the rule looks at. */
  kinds: readonly string[];
  /** Needs an inventory (`--inventory`); skipped without one. */
  needsInventory?: boolean;
  /** A minimal document that triggers the rule, shown in the docs. */
  example?: string;
}

export interface ReportOptions {
  /** Point at the map key instead of its value. */
  key?: boolean;
  fix?: SuggestedFix;
}

export interface RuleContext {
  doc: PolicyDocument;
  /** Every document of the run, for rules whose answer depends on other policies. */
  documents: readonly PolicyDocument[];
  inventory?: Inventory;
  report(path: NodePath, message: string, opts?: ReportOptions): void;
}

export interface LintRule {
  meta: RuleMeta;
  check(ctx: RuleContext): void;
}

/** Runs one rule on one document, collecting its diagnostics. */
export function runRule(
  rule: LintRule,
  doc: PolicyDocument,
  inventory: Inventory | undefined,
  documents: readonly PolicyDocument[] = [doc],
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const ctx: RuleContext = {
    doc,
    documents,
    ...(inventory ? { inventory } : {}),
    report(path, message, opts) {
      const span = doc.locate(path, { key: opts?.key ?? false });
      out.push({
        rule: rule.meta.id,
        severity: rule.meta.severity,
        message,
        ...span,
        ...(doc.provenance.commit ? { commit: doc.provenance.commit } : {}),
        ...(opts?.fix ? { fix: opts.fix } : {}),
      });
    },
  };
  rule.check(ctx);
  return out;
}
