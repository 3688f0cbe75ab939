// Diagnostics are data: every stage returns them instead of throwing for a user's mistake.

export type Severity = 'error' | 'warning' | 'info';

/** A 1-based, inclusive-start / exclusive-end position range in one file. */
export interface Span {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

export interface SuggestedFix {
  description: string;
  /** Replacement text for the diagnostic's span, when the fix is mechanical. */
  replacement?: string;
}

export interface Diagnostic extends Span {
  /** Stable id: a lint rule id (`cilium/l7-on-non-tcp`) or a stage code (`load/yaml-syntax`). */
  rule: string;
  severity: Severity;
  message: string;
  /** Git commit the file was read from, when loaded from a revision. */
  commit?: string;
  fix?: SuggestedFix;
  /** The node a per-node refusal is about, where its agent's probe decided (the controller holds that node alone). */
  node?: string;
}

export function diagnostic(rule: string, severity: Severity, message: string, span: Span, extra?: Partial<Diagnostic>): Diagnostic {
  return { rule, severity, message, ...span, ...extra };
}

/** A span for a whole file when no better place exists (unreadable files, missing paths). */
export function fileSpan(file: string): Span {
  return { file, line: 1, column: 1, endLine: 1, endColumn: 1 };
}

export function hasErrors(diags: readonly Diagnostic[]): boolean {
  return diags.some((d) => d.severity === 'error');
}

const severityOrder: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/** Deterministic order: file, line, column, rule. */
export function sortDiagnostics(diags: Diagnostic[]): Diagnostic[] {
  return diags.sort(
    (a, b) =>
      (a.file < b.file ? -1 : a.file > b.file ? 1 : 0) ||
      a.line - b.line ||
      a.column - b.column ||
      severityOrder[a.severity] - severityOrder[b.severity] ||
      (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0),
  );
}

export function formatLocation(d: Span): string {
  return `${d.file}:${d.line}:${d.column}`;
}
