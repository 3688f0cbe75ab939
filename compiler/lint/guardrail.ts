// Guardrails: an organisation's own rules over policy documents (weir.dev/v1alpha1 Guardrail),
// written in CEL as Kubernetes ValidatingAdmissionPolicy does, and evaluated with @bufbuild/cel.
import { celEnv, isCelError, parse, plan, type CelInput } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import type { Diagnostic, Severity } from '../diagnostics.js';
import type { NodePath, PolicyDocument } from '../load/index.js';
import { asArray, isObj } from '../model/value.js';

export interface Guardrail {
  name: string;
  description?: string;
  kinds: string[];
  namespaces: string[];
  when?: (bindings: Record<string, CelInput>) => unknown;
  rule: (bindings: Record<string, CelInput>) => unknown;
  message: string;
  path: NodePath;
  severity: Severity;
  source: PolicyDocument;
}

const env = celEnv({ funcs: strings });

/** Plain YAML values as CEL values: maps for objects, int for integral numbers (so `port == 22` works). */
export function toCel(v: unknown): CelInput {
  if (v === null || v === undefined) return null;
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (Array.isArray(v)) return v.map(toCel);
  if (typeof v === 'object') {
    const m = new Map<string, CelInput>();
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) m.set(k, toCel(x));
    return m;
  }
  return String(v);
}

function compile(expr: string): { fn?: (b: Record<string, CelInput>) => unknown; error?: string } {
  try {
    const p = plan(env, parse(expr));
    return { fn: (b) => p(b) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** Reads Guardrail documents; a broken guardrail is a diagnostic on the guardrail file, never a crash. */
export function compileGuardrails(docs: readonly PolicyDocument[]): { guardrails: Guardrail[]; diagnostics: Diagnostic[] } {
  const guardrails: Guardrail[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const doc of docs) {
    if (doc.kind !== 'Guardrail') continue;
    const spec = doc.value['spec'];
    if (!isObj(spec) || typeof spec['rule'] !== 'string' || typeof spec['message'] !== 'string') continue; // the schema reports it
    const bad = (path: NodePath, message: string) =>
      diagnostics.push({ rule: 'guardrail/invalid', severity: 'error', message, ...doc.locate(path) });
    const rule = compile(spec['rule']);
    if (rule.error) bad(['spec', 'rule'], `guardrail ${doc.name}: cannot parse the CEL rule: ${rule.error}`);
    const match = isObj(spec['match']) ? spec['match'] : {};
    let when: ReturnType<typeof compile> = {};
    if (typeof match['when'] === 'string') {
      when = compile(match['when']);
      if (when.error) bad(['spec', 'match', 'when'], `guardrail ${doc.name}: cannot parse the CEL condition: ${when.error}`);
    }
    if (rule.error || when.error) continue;
    const sev = spec['severity'];
    guardrails.push({
      name: doc.name,
      ...(typeof spec['description'] === 'string' ? { description: spec['description'] } : {}),
      kinds: asArray(match['kinds']).map(String),
      namespaces: asArray(match['namespaces']).map(String),
      ...(when.fn ? { when: when.fn } : {}),
      rule: rule.fn!,
      message: spec['message'],
      path: asArray(spec['path']).filter((s): s is string | number => typeof s === 'string' || typeof s === 'number'),
      severity: sev === 'warning' || sev === 'info' ? sev : 'error',
      source: doc,
    });
  }
  return { guardrails, diagnostics };
}

function fill(msg: string, doc: PolicyDocument): string {
  const ref = doc.namespace ? `${doc.namespace}/${doc.name}` : doc.name;
  return msg.replace(/\{\{\s*(name|namespace|kind|ref)\s*\}\}/g, (_, k: string) =>
    k === 'name' ? doc.name : k === 'kind' ? doc.kind : k === 'ref' ? ref : (doc.namespace ?? ''),
  );
}

/** Evaluates every guardrail on every document it matches. */
export function checkGuardrails(guardrails: readonly Guardrail[], docs: readonly PolicyDocument[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const doc of docs) {
    if (doc.family !== 'network' && doc.family !== 'runtime' && doc.family !== 'psp') continue;
    let bindings: Record<string, CelInput> | undefined;
    for (const g of guardrails) {
      if (g.kinds.length > 0 && !g.kinds.includes(doc.kind)) continue;
      if (g.namespaces.length > 0 && !g.namespaces.includes(doc.namespace ?? '')) continue;
      bindings ??= { object: toCel(doc.value), namespace: doc.namespace ?? '', kind: doc.kind, name: doc.name };
      const at = g.source.provenance;
      const id = `guardrail/${g.name}`;
      const commit = doc.provenance.commit ? { commit: doc.provenance.commit } : {};
      if (g.when) {
        const w = g.when(bindings);
        if (isCelError(w)) {
          out.push({
            rule: id,
            severity: 'error',
            message: `guardrail ${g.name} (${at.file}:${at.line}): its condition failed on this document: ${w.message}`,
            ...doc.span,
            ...commit,
          });
          continue;
        }
        if (w !== true) continue;
      }
      const r = g.rule(bindings);
      if (r === true) continue;
      const why = isCelError(r) ? ` (the rule could not be evaluated: ${r.message})` : '';
      out.push({
        rule: id,
        severity: g.severity,
        message: `${fill(g.message, doc)}${why} [guardrail ${g.name}, ${at.file}:${at.line}]`,
        ...(g.path.length > 0 ? doc.locate(g.path) : doc.locate([], {})),
        ...commit,
      });
    }
  }
  return out;
}
