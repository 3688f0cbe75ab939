// Builds documents from YAML text for rule tables, and runs one rule or the whole lint stage on them.
import type { Diagnostic } from '../../compiler/diagnostics.js';
import type { Inventory } from '../../compiler/inventory/index.js';
import { loadInventory } from '../../compiler/inventory/index.js';
import { lintDocuments } from '../../compiler/lint/index.js';
import { runRule, type LintRule } from '../../compiler/lint/rule.js';
import { loadSources, type LoadResult } from '../../compiler/load/index.js';

export function load(yaml: string, file = 'policy.yaml'): LoadResult {
  return loadSources([{ file, bytes: new TextEncoder().encode(yaml) }]);
}

/** Runs one rule over every document of the YAML (a multi-document stream is one run). */
export function check(rule: LintRule, yaml: string, inventory?: Inventory): Diagnostic[] {
  const { documents, diagnostics } = load(yaml);
  if (diagnostics.some((d) => d.severity === 'error'))
    throw new Error(`test YAML does not load: ${diagnostics.map((d) => d.message).join('; ')}`);
  return documents.flatMap((d) => runRule(rule, d, inventory, documents));
}

/** Everything lint reports (loader + schema + rules + guardrails). */
export function lintAll(yaml: string, inventory?: Inventory): Diagnostic[] {
  const r = load(yaml);
  return [...r.diagnostics, ...lintDocuments(r.documents, { prior: r.diagnostics, ...(inventory ? { inventory } : {}) })];
}

export function inventoryFrom(yaml: string): Inventory {
  return loadInventory(load(yaml, 'inventory.yaml').documents).inventory;
}

/** `rule@line:col` for compact expectations. */
export const where = (d: Diagnostic) => `${d.rule}@${d.line}:${d.column}`;

export const cnp = (spec: string, extra = '') => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: p
  namespace: default
${extra}spec:
${spec
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
`;

export const tracing = (spec: string) => `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: t
spec:
${spec
  .split('\n')
  .map((l) => `  ${l}`)
  .join('\n')}
`;
