// Runs PolicyTest documents (format in DESIGN.md). Network cases are answered by the reference
// evaluator over the compiled IR; runtime cases (`process:`) by the runtime image evaluator
// (compiler/policytest/runtime.ts). `spec.policies` entries are paths relative to
// the test file or inline policy documents; `spec.inventory` is a path or an inline Inventory
// spec, so a suite can carry its own fixtures without them leaking into the repository's build.
import { terminalSafeDeep } from '../escape.js';
import * as path from 'node:path';
import { diagnostic, type Diagnostic } from '../diagnostics.js';
import { kindInfo } from '../load/kinds.js';
import { loadInventory, readInventory } from '../inventory/load.js';
import { emptyInventory, type Inventory } from '../inventory/model.js';
import { evaluateFlow, type Flow, type FlowPeer, type FlowVerdict } from '../ir/network/evaluate.js';
import type { NetworkIR } from '../ir/network/types.js';
import { loadPolicies, type PolicyDocument } from '../load/index.js';
import { compileNetwork } from '../ir/network/index.js';
import { mergeInventories } from '../build.js';
import { runRuntimeCases, type RuntimeCaseInput } from './runtime.js';
import { isObj, type Obj } from '../model/value.js';

export interface CaseResult {
  file: string;
  name: string;
  expect: string;
  actual: string;
  ok: boolean;
  /** Why the case could not run, or what decided it (rule, reason). */
  detail?: string;
  line?: number;
}

export interface TestRun {
  results: CaseResult[];
  diagnostics: Diagnostic[];
}

/** An inline policy document inside a PolicyTest, located at its place in the test file. */
function inlineDocument(test: PolicyDocument, value: Obj, at: (string | number)[]): PolicyDocument | undefined {
  const kind = typeof value['kind'] === 'string' ? value['kind'] : '';
  const info = kindInfo(kind);
  if (!info) return undefined;
  const md = isObj(value['metadata']) ? value['metadata'] : {};
  const s = test.locate(at);
  return {
    kind,
    apiVersion: String(value['apiVersion'] ?? ''),
    family: info.family,
    name: typeof md['name'] === 'string' ? md['name'] : '',
    ...(info.namespaced ? { namespace: typeof md['namespace'] === 'string' ? md['namespace'] : 'default' } : {}),
    value,
    provenance: { ...test.provenance, line: s.line, column: s.column, listIndex: Number(at[at.length - 1]) },
    span: s,
    locate: (p, o) => test.locate([...at, ...p], o),
  };
}

function peerOf(v: unknown): FlowPeer | string {
  if (!isObj(v)) return 'a peer must be a mapping: {workload: ns/pod}, {cidr}, {ip}, {entity} or {fqdn, ip}';
  if (typeof v['workload'] === 'string') return { workload: v['workload'] };
  if (typeof v['fqdn'] === 'string') return typeof v['ip'] === 'string' ? { fqdn: v['fqdn'], ip: v['ip'] } : 'an fqdn peer needs the ip it resolved to: {fqdn: NAME, ip: ADDRESS}';
  if (typeof v['cidr'] === 'string') return { cidr: v['cidr'] };
  if (typeof v['ip'] === 'string') return { ip: v['ip'] };
  if (typeof v['entity'] === 'string') return { entity: v['entity'] };
  return 'a peer needs workload, cidr, ip, entity or fqdn';
}

function describe(v: FlowVerdict): string {
  const r = v.rule ? ` by ${v.rule.policy} (${v.rule.file}:${v.rule.line})` : '';
  return `${v.verdict}${v.audit ? ' (audit)' : ''}: ${v.reason}${r}`;
}

/** Loads and runs every PolicyTest under the given paths. */
export async function runPolicyTests(paths: readonly string[], opts: { root: string; kernel?: boolean }): Promise<TestRun> {
  const loaded = await loadPolicies(paths, { root: opts.root });
  const diagnostics: Diagnostic[] = [...loaded.diagnostics];
  const results: CaseResult[] = [];
  const compiled = new Map<string, { ir: NetworkIR; documents: PolicyDocument[]; inventory: Inventory; diagnostics: Diagnostic[] }>();
  for (const test of loaded.documents.filter((d) => d.kind === 'PolicyTest')) {
    const file = test.provenance.file;
    const dir = path.posix.dirname(file);
    const spec = isObj(test.value['spec']) ? test.value['spec'] : {};
    const cases = Array.isArray(spec['cases']) ? spec['cases'] : [];
    const fail = (message: string) => diagnostics.push(diagnostic('policytest/invalid', 'error', message, test.locate(['spec'])));
    // Policies: paths relative to the test file, and inline documents.
    const policyPaths: string[] = [];
    const inline: PolicyDocument[] = [];
    (Array.isArray(spec['policies']) ? spec['policies'] : []).forEach((p, i) => {
      if (typeof p === 'string') policyPaths.push(path.posix.normalize(path.posix.join(dir, p)));
      else if (isObj(p)) {
        const d = inlineDocument(test, p, ['spec', 'policies', i]);
        if (d) inline.push(d);
        else diagnostics.push(diagnostic('policytest/invalid', 'error', `inline policy ${i} has no known kind`, test.locate(['spec', 'policies', i])));
      }
    });
    const invSpec = spec['inventory'];
    const key = JSON.stringify([file, policyPaths, invSpec, inline.length ? test.provenance.docIndex : -1]);
    let c = compiled.get(key);
    if (!c) {
      const docs: PolicyDocument[] = [...inline];
      const diags: Diagnostic[] = [];
      if (policyPaths.length) {
        const l = await loadPolicies(policyPaths, { root: opts.root });
        docs.push(...l.documents);
        diags.push(...l.diagnostics);
      }
      let inventory = emptyInventory();
      if (typeof invSpec === 'string') {
        const r = await readInventory([path.posix.normalize(path.posix.join(dir, invSpec))], { root: opts.root });
        inventory = r.inventory;
        diags.push(...r.diagnostics);
      } else if (isObj(invSpec)) {
        const d = inlineDocument(test, { apiVersion: 'weir.dev/v1alpha1', kind: 'Inventory', metadata: { name: 'inline' }, spec: invSpec }, ['spec', 'inventory']);
        const r = loadInventory(d ? [{ ...d, locate: (p, o) => test.locate(['spec', 'inventory', ...p.slice(1)], o) }] : []);
        inventory = r.inventory;
        diags.push(...r.diagnostics);
      }
      const fromDocs = loadInventory(docs.filter((d) => d.family === 'workload'));
      inventory = mergeInventories(inventory, fromDocs.inventory);
      const comp = compileNetwork(docs, inventory, loaded.commit ? { commit: loaded.commit } : {});
      c = { ir: comp.ir, documents: docs, inventory, diagnostics: [...diags, ...comp.diagnostics] };
      compiled.set(key, c);
      diagnostics.push(...c.diagnostics);
    }
    const broken = c.diagnostics.some((d) => d.severity === 'error');
    if (cases.length === 0) fail(`PolicyTest ${test.name} has no cases`);
    const runtimeCases: RuntimeCaseInput[] = [];
    cases.forEach((raw, i) => {
      const cv = isObj(raw) ? raw : {};
      const name = typeof cv['name'] === 'string' ? cv['name'] : `case ${i + 1}`;
      const expect = String(cv['expect'] ?? '');
      const line = test.locate(['spec', 'cases', i]).line;
      if (cv['process'] !== undefined) return void runtimeCases.push({ name, index: i, value: cv, line });
      const base = { file, name, expect, line };
      if (broken) return void results.push({ ...base, actual: 'error', ok: false, detail: 'the policies or inventory of this test do not compile (see diagnostics)' });
      if (expect !== 'allow' && expect !== 'deny') return void results.push({ ...base, actual: 'error', ok: false, detail: `expect must be allow or deny for a network case, not ${JSON.stringify(cv['expect'])}` });
      const from = peerOf(cv['from']);
      const to = peerOf(cv['to']);
      if (typeof from === 'string' || typeof to === 'string') return void results.push({ ...base, actual: 'error', ok: false, detail: typeof from === 'string' ? `from: ${from}` : `to: ${to as string}` });
      const port = Number(cv['port'] ?? 0);
      const http = isObj(cv['http']) ? { method: String(cv['http']['method'] ?? 'GET'), path: String(cv['http']['path'] ?? '/'), ...(typeof cv['http']['host'] === 'string' ? { host: cv['http']['host'] } : {}), ...(isObj(cv['http']['headers']) ? { headers: Object.fromEntries(Object.entries(cv['http']['headers']).map(([k, v]) => [k, String(v)])) } : {}) } : undefined;
      const flow: Flow = { from, to, protocol: String(cv['protocol'] ?? 'TCP'), port, ...(http ? { http } : {}) };
      const v = evaluateFlow(c.ir, flow);
      if (v.error) return void results.push({ ...base, actual: 'error', ok: false, detail: v.error });
      let ok = v.verdict === expect;
      let detail = describe(v);
      if (typeof cv['audit'] === 'boolean' && cv['audit'] !== v.audit) {
        ok = false;
        detail += `; expected audit ${String(cv['audit'])}`;
      }
      results.push({ ...base, actual: v.verdict, ok, detail });
    });
    if (runtimeCases.length) {
      const rs = await runRuntimeCases({ file, root: opts.root, documents: c.documents, inventory: c.inventory, test, ...(opts.kernel ? { kernel: true } : {}) }, runtimeCases);
      rs.forEach((r, i) => results.push({ file, ...r, line: runtimeCases[i]?.line ?? 0 }));
    }
  }
  return { results, diagnostics };
}

export function toJson(run: TestRun): string {
  const passed = run.results.filter((r) => r.ok).length;
  return JSON.stringify({ passed, failed: run.results.length - passed, cases: run.results.map((r) => ({ file: r.file, name: r.name, expect: r.expect, actual: r.actual, ok: r.ok })) }, null, 2) + '\n';
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function toJunit(run: TestRun): string {
  const byFile = new Map<string, CaseResult[]>();
  for (const r of run.results) byFile.set(r.file, [...(byFile.get(r.file) ?? []), r]);
  const failed = run.results.filter((r) => !r.ok).length;
  const out = [`<?xml version="1.0" encoding="UTF-8"?>`, `<testsuites name="weir test" tests="${run.results.length}" failures="${failed}">`];
  for (const [file, rs] of byFile) {
    out.push(`  <testsuite name="${xml(file)}" tests="${rs.length}" failures="${rs.filter((r) => !r.ok).length}">`);
    for (const r of rs) {
      out.push(`    <testcase classname="${xml(file)}" name="${xml(r.name)}">`);
      if (!r.ok) out.push(`      <failure message="${xml(`expected ${r.expect}, got ${r.actual}`)}">${xml(`${r.file}:${r.line ?? 1}: ${r.detail ?? ''}`)}</failure>`);
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return out.join('\n') + '\n';
}

export function toText(testRun: TestRun, color: boolean): string {
  const run = { ...testRun, results: terminalSafeDeep(testRun.results) };
  const g = (s: string) => (color ? `\x1b[32m${s}\x1b[0m` : s);
  const r = (s: string) => (color ? `\x1b[31m${s}\x1b[0m` : s);
  const lines = run.results.map((c) => (c.ok ? `${g('PASS')} ${c.file}: ${c.name}` : `${r('FAIL')} ${c.file}:${c.line ?? 1}: ${c.name}: expected ${c.expect}, got ${c.actual}${c.detail ? ` (${c.detail})` : ''}`));
  const passed = run.results.filter((c) => c.ok).length;
  lines.push(`${passed} passed, ${run.results.length - passed} failed`);
  return lines.join('\n') + '\n';
}
