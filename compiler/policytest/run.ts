// Runs PolicyTest documents (format in DESIGN.md). Network cases are answered by the reference
// evaluator over the compiled IR; runtime cases (`process:`) by the runtime image evaluator
// (compiler/policytest/runtime.ts). `spec.policies` entries are paths relative to
// the test file or inline policy documents; `spec.inventory` is a path or an inline Inventory
// spec, so a suite can carry its own fixtures without them leaking into the repository's build.
import type { AllowLocalhost } from '../ir/network/types.js';
import { terminalSafeDeep } from '../escape.js';
import * as path from 'node:path';
import { diagnostic, formatLocation, type Diagnostic } from '../diagnostics.js';
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
  /** Seconds the case took. */
  time?: number;
  /** The errors of the test's policies or inventory, when the case could not run because they do not compile. */
  compileErrors?: Diagnostic[];
}

export interface TestRun {
  results: CaseResult[];
  diagnostics: Diagnostic[];
  /** Seconds spent per test file (loading and compiling its policies included). */
  fileTimes?: Map<string, number>;
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
  if (typeof v['fqdn'] === 'string')
    return typeof v['ip'] === 'string'
      ? { fqdn: v['fqdn'], ip: v['ip'] }
      : 'an fqdn peer needs the ip it resolved to: {fqdn: NAME, ip: ADDRESS}';
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
export async function runPolicyTests(
  paths: readonly string[],
  opts: { root: string; kernel?: boolean; allowLocalhost?: AllowLocalhost },
): Promise<TestRun> {
  const loaded = await loadPolicies(paths, { root: opts.root });
  const diagnostics: Diagnostic[] = [...loaded.diagnostics];
  const results: CaseResult[] = [];
  const compiled = new Map<string, { ir: NetworkIR; documents: PolicyDocument[]; inventory: Inventory; diagnostics: Diagnostic[] }>();
  const fileTimes = new Map<string, number>();
  for (const test of loaded.documents.filter((d) => d.kind === 'PolicyTest')) {
    const started = performance.now();
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
        else
          diagnostics.push(
            diagnostic('policytest/invalid', 'error', `inline policy ${i} has no known kind`, test.locate(['spec', 'policies', i])),
          );
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
        const d = inlineDocument(
          test,
          { apiVersion: 'weir.dev/v1alpha1', kind: 'Inventory', metadata: { name: 'inline' }, spec: invSpec },
          ['spec', 'inventory'],
        );
        const r = loadInventory(d ? [{ ...d, locate: (p, o) => test.locate(['spec', 'inventory', ...p.slice(1)], o) }] : []);
        inventory = r.inventory;
        diags.push(...r.diagnostics);
      }
      const fromDocs = loadInventory(docs.filter((d) => d.family === 'workload'));
      inventory = mergeInventories(inventory, fromDocs.inventory);
      const comp = compileNetwork(docs, inventory, {
        ...(loaded.commit ? { commit: loaded.commit } : {}),
        ...(opts.allowLocalhost ? { allowLocalhost: opts.allowLocalhost } : {}),
      });
      c = { ir: comp.ir, documents: docs, inventory, diagnostics: [...diags, ...comp.diagnostics] };
      compiled.set(key, c);
      diagnostics.push(...c.diagnostics);
    }
    const compileErrors = c.diagnostics.filter((d) => d.severity === 'error');
    const broken = compileErrors.length > 0;
    if (cases.length === 0) fail(`PolicyTest ${test.name} has no cases`);
    const runtimeCases: RuntimeCaseInput[] = [];
    cases.forEach((raw, i) => {
      const cv = isObj(raw) ? raw : {};
      const name = typeof cv['name'] === 'string' ? cv['name'] : `case ${i + 1}`;
      const expect = String(cv['expect'] ?? '');
      const line = test.locate(['spec', 'cases', i]).line;
      if (cv['process'] !== undefined) return void runtimeCases.push({ name, index: i, value: cv, line });
      const base = { file, name, expect, line };
      if (broken)
        return void results.push({
          ...base,
          actual: 'error',
          ok: false,
          detail: 'the policies or inventory of this test do not compile (see diagnostics)',
          time: 0,
          compileErrors,
        });
      const caseStarted = performance.now();
      const timed = (r: CaseResult) => void results.push({ ...r, time: (performance.now() - caseStarted) / 1000 });
      if (expect !== 'allow' && expect !== 'deny')
        return void timed({
          ...base,
          actual: 'error',
          ok: false,
          detail: `expect must be allow or deny for a network case, not ${JSON.stringify(cv['expect'])}`,
        });
      const from = peerOf(cv['from']);
      const to = peerOf(cv['to']);
      if (typeof from === 'string' || typeof to === 'string')
        return void timed({
          ...base,
          actual: 'error',
          ok: false,
          detail: typeof from === 'string' ? `from: ${from}` : `to: ${to as string}`,
        });
      const port = Number(cv['port'] ?? 0);
      const http = isObj(cv['http'])
        ? {
            method: String(cv['http']['method'] ?? 'GET'),
            path: String(cv['http']['path'] ?? '/'),
            ...(typeof cv['http']['host'] === 'string' ? { host: cv['http']['host'] } : {}),
            ...(isObj(cv['http']['headers'])
              ? { headers: Object.fromEntries(Object.entries(cv['http']['headers']).map(([k, v]) => [k, String(v)])) }
              : {}),
          }
        : undefined;
      const flow: Flow = { from, to, protocol: String(cv['protocol'] ?? 'TCP'), port, ...(http ? { http } : {}) };
      const v = evaluateFlow(c.ir, flow);
      if (v.error) return void timed({ ...base, actual: 'error', ok: false, detail: v.error });
      let ok = v.verdict === expect;
      let detail = describe(v);
      if (typeof cv['audit'] === 'boolean' && cv['audit'] !== v.audit) {
        ok = false;
        detail += `; expected audit ${String(cv['audit'])}`;
      }
      timed({ ...base, actual: v.verdict, ok, detail });
    });
    if (runtimeCases.length) {
      const batchStarted = performance.now();
      const rs = await runRuntimeCases(
        { file, root: opts.root, documents: c.documents, inventory: c.inventory, test, ...(opts.kernel ? { kernel: true } : {}) },
        runtimeCases,
      );
      // The runtime cases of a test run as one batch: each is charged an equal share of it.
      const each = (performance.now() - batchStarted) / 1000 / Math.max(1, rs.length);
      rs.forEach((r, i) => results.push({ file, ...r, line: runtimeCases[i]?.line ?? 0, time: each }));
    }
    fileTimes.set(file, (fileTimes.get(file) ?? 0) + (performance.now() - started) / 1000);
  }
  return { results, diagnostics, fileTimes };
}

export function toJson(run: TestRun): string {
  const passed = run.results.filter((r) => r.ok).length;
  return (
    JSON.stringify(
      {
        passed,
        failed: run.results.length - passed,
        cases: run.results.map((r) => ({ file: r.file, name: r.name, expect: r.expect, actual: r.actual, ok: r.ok })),
      },
      null,
      2,
    ) + '\n'
  );
}

/** Characters XML 1.0 cannot carry at all (C0 controls but tab/LF/CR, U+FFFE/U+FFFF, lone surrogates) become visible escapes. */
const xmlSafe = (s: string) =>
  s.replace(
    /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`,
  );
const xmlText = (s: string) => xmlSafe(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#13;');
const xmlAttr = (s: string) => xmlText(s).replace(/"/g, '&quot;').replace(/\t/g, '&#9;').replace(/\n/g, '&#10;');
/** Seconds as Surefire writes them (junit-10.xsd's SUREFIRE_TIME: digits, at most three decimals). */
const seconds = (t: number | undefined) => (Number.isFinite(t) && (t ?? 0) > 0 ? (t as number) : 0).toFixed(3);

interface JunitCase {
  name: string;
  classname: string;
  time: number;
  failure?: { message: string; body: string };
  error?: { type: string; message: string; body: string };
}

/**
 * JUnit XML as Jenkins' junit-10.xsd and the common CI readers take it: one testsuite per test file
 * with tests/failures/errors/skipped/time, a wrong verdict as <failure>, a case that could not run
 * (policies that do not compile, a malformed case) as <error>, and error diagnostics of files that
 * produced no case (unreadable or malformed tests) as an errored case of their own.
 */
export function toJunit(run: TestRun): string {
  const suites = new Map<string, JunitCase[]>();
  const add = (file: string, c: JunitCase) => suites.set(file, [...(suites.get(file) ?? []), c]);
  const attached = new Set<Diagnostic>();
  for (const r of run.results) {
    const where = `${r.file}:${r.line ?? 1}`;
    const c: JunitCase = { name: r.name, classname: r.file, time: r.time ?? 0 };
    if (r.compileErrors) {
      for (const d of r.compileErrors) attached.add(d);
      c.error = {
        type: 'compile',
        message: 'the policies or inventory of this test do not compile',
        body: [`${where}: ${r.detail ?? ''}`, ...r.compileErrors.map((d) => `${formatLocation(d)}: ${d.message} [${d.rule}]`)].join('\n'),
      };
    } else if (r.actual === 'error')
      c.error = { type: 'invalid-case', message: r.detail ?? 'the case could not run', body: `${where}: ${r.detail ?? ''}` };
    else if (!r.ok) c.failure = { message: `expected ${r.expect}, got ${r.actual}`, body: `${where}: ${r.detail ?? ''}` };
    add(r.file, c);
  }
  for (const d of run.diagnostics) {
    if (d.severity !== 'error' || attached.has(d)) continue;
    add(d.file, {
      name: `${d.rule} at line ${d.line}`,
      classname: d.file,
      time: 0,
      error: { type: d.rule, message: d.message, body: `${formatLocation(d)}: ${d.message} [${d.rule}]` },
    });
  }
  const count = (cs: JunitCase[]) => ({
    tests: cs.length,
    failures: cs.filter((c) => c.failure).length,
    errors: cs.filter((c) => c.error).length,
  });
  const all = [...suites.values()].flat();
  const total = count(all);
  const suiteTime = (file: string, cs: JunitCase[]) => run.fileTimes?.get(file) ?? cs.reduce((t, c) => t + c.time, 0);
  const totalTime = [...suites].reduce((t, [f, cs]) => t + suiteTime(f, cs), 0);
  const out = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="weir test" tests="${total.tests}" failures="${total.failures}" errors="${total.errors}" time="${seconds(totalTime)}">`,
  ];
  for (const [file, cs] of suites) {
    const n = count(cs);
    out.push(
      `  <testsuite name="${xmlAttr(file)}" tests="${n.tests}" failures="${n.failures}" errors="${n.errors}" skipped="0" time="${seconds(suiteTime(file, cs))}" file="${xmlAttr(file)}">`,
    );
    for (const c of cs) {
      out.push(`    <testcase classname="${xmlAttr(c.classname)}" name="${xmlAttr(c.name)}" time="${seconds(c.time)}">`);
      if (c.failure) out.push(`      <failure message="${xmlAttr(c.failure.message)}">${xmlText(c.failure.body)}</failure>`);
      if (c.error)
        out.push(`      <error message="${xmlAttr(c.error.message)}" type="${xmlAttr(c.error.type)}">${xmlText(c.error.body)}</error>`);
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
  const lines = run.results.map((c) =>
    c.ok
      ? `${g('PASS')} ${c.file}: ${c.name}`
      : `${r('FAIL')} ${c.file}:${c.line ?? 1}: ${c.name}: expected ${c.expect}, got ${c.actual}${c.detail ? ` (${c.detail})` : ''}`,
  );
  const passed = run.results.filter((c) => c.ok).length;
  lines.push(`${passed} passed, ${run.results.length - passed} failed`);
  return lines.join('\n') + '\n';
}
