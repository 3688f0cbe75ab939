// The input validation every stage applies, so that lint, build, plan and the controller agree on
// what is invalid: each kind's schema (field names, types, lengths such as metadata.name's 253)
// and the syntax of every label selector (keys and values as Kubernetes defines them; `app\0` or
// an emoji value is not a label). Stages add their own checks on top (the compilers know what weir
// can enforce); none accepts what this refuses.
import { diagnostic, type Diagnostic } from './diagnostics.js';
import type { LintRule } from './lint/rule.js';
import { runRule } from './lint/rule.js';
import { ciliumPeerKinds } from './lint/rules/cilium-peer-kinds.js';
import { ciliumSanitizeRules } from './lint/rules/cilium-sanitize.js';
import { tetragonOperatorType } from './lint/rules/tetragon-operator-type.js';
import { tetragonRemoved } from './lint/rules/tetragon-removed.js';
import { validateDocument } from './lint/schema.js';
import type { NodePath, PolicyDocument } from './load/index.js';
import { parseSelector } from './model/selector.js';

import { isObj } from './model/value.js';

/** Keys whose value is one label selector, and keys whose value is a list of them. */
const selectorKeys = new Set(['endpointSelector', 'podSelector', 'namespaceSelector', 'selector']);
const selectorListKeys = new Set(['fromEndpoints', 'toEndpoints']);

/** Label selector problems of a network policy document, as the network compiler reports them (network/invalid-selector, same place). */
export function selectorDiagnostics(doc: PolicyDocument): Diagnostic[] {
  if (doc.family !== 'network') return [];
  const out: Diagnostic[] = [];
  const commit = doc.provenance.commit ? { commit: doc.provenance.commit } : {};
  const check = (v: unknown, path: NodePath) => {
    for (const p of parseSelector(v).problems) {
      const key = p.path.length > 0 && typeof p.path[p.path.length - 1] === 'string' && p.path[0] === 'matchLabels';
      out.push(diagnostic('network/invalid-selector', 'error', p.message, doc.locate([...path, ...p.path], { key }), commit));
    }
  };
  const walk = (v: unknown, path: NodePath, depth: number): void => {
    if (depth > 64) return;
    if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, [...path, i], depth + 1));
      return;
    }
    if (!isObj(v)) return;
    for (const [k, x] of Object.entries(v)) {
      // `selector` is a label selector only inside a k8sServiceSelector.
      if (selectorKeys.has(k) && (k !== 'selector' || path[path.length - 1] === 'k8sServiceSelector')) check(x, [...path, k]);
      else if (selectorListKeys.has(k) && Array.isArray(x)) x.forEach((s, i) => check(s, [...path, k, i]));
      else walk(x, [...path, k], depth + 1);
    }
  };
  walk(doc.value['spec'], ['spec'], 0);
  walk(doc.value['specs'], ['specs'], 0);
  return out;
}

/** Schema and selector diagnostics of one document (lint shows all; build, plan and the controller refuse on the errors). */
export function validateDocumentInputs(doc: PolicyDocument): Diagnostic[] {
  return [...validateDocument(doc), ...selectorDiagnostics(doc)];
}

/**
 * The lint rules that state what Cilium's or Tetragon's agent refuses though the CRD schema lets it
 * through (the agent would enforce nothing of the policy): the stages that compile refuse it too.
 */
const agentRejections: readonly LintRule[] = [ciliumPeerKinds, ...ciliumSanitizeRules, tetragonRemoved, tetragonOperatorType].filter(
  (r) => r.meta.severity === 'error' && !r.meta.needsInventory,
);

/** The agent rejections of one document (lint reports them through its rule set). */
function agentRejectionErrors(doc: PolicyDocument): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const r of agentRejections) if (r.meta.kinds.includes(doc.kind)) out.push(...runRule(r, doc, undefined));
  return out;
}

/** The errors of validateDocumentInputs and the agents' rejections over documents, for the stages that refuse to compile them. */
export function inputErrors(documents: readonly PolicyDocument[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const d of documents) {
    // A parsed value found valid once stays valid: rebuilds and a plan's second revision share the
    // values of unchanged files, so only what changed is validated again.
    if (validValues.has(d.value)) continue;
    const errors = [...validateDocumentInputs(d), ...agentRejectionErrors(d)].filter((x) => x.severity === 'error');
    if (errors.length === 0) validValues.add(d.value);
    else out.push(...errors);
  }
  return out;
}

const validValues = new WeakSet<object>();

/** Diagnostics of `extra` that do not repeat one of `have` (same rule at the same place). */
export function withoutRepeats(have: readonly Diagnostic[], extra: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set(have.map((d) => `${d.rule}@${d.file}:${d.line}:${d.column}`));
  return extra.filter((d) => !seen.has(`${d.rule}@${d.file}:${d.line}:${d.column}`));
}
