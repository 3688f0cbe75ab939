// Conversions checked against Falco's semantics, on both sides of the claim:
// - each conversion rule has PolicyTest cases (./semantics/*.test.yaml) written from Falco's semantics: the
//   description says whether Falco fires and why, `expect` what weir does. `weir test` runs them against the
//   converted policies; a reading of Falco's semantics (falco-semantics.ts) checks the descriptions; and the
//   verdict must fit the cases: exact when weir and Falco agree on every case, broader when weir fires
//   wherever Falco does (save a case that names a documented assumption);
// - every upstream rule (test/corpus/falco) converted exactly is re-checked on calls generated from its
//   policies; every upstream launch rule is checked on the launch cases (who launches, what is launched,
//   a failed exec).
import { promises as fs, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { isFalcoRules, loadSources } from '../../compiler/load/index.js';
import { convertFalco, type ConvertOptions, type FalcoConversion } from '../../compiler/convert/falco/index.js';
import { syscallInfo } from '../../compiler/convert/falco/syscalls.js';
import { collectRules, compileRules } from '../../compiler/convert/falco/rules.js';
import type { Expr } from '../../compiler/convert/falco/ast.js';
import type { TracingPolicy } from '../../compiler/convert/tracing-policy.js';
import { runPolicyTests } from '../../compiler/policytest/run.js';
import { compileRuntime } from '../../compiler/lower/runtime/index.js';
import { capabilityProfiles } from '../../compiler/lower/runtime/capabilities.js';
import { RuntimeImageEvaluator, type RuntimeVerdict } from '../../compiler/verify/runtime-emulator.js';
import { falcoFires, Unmodeled, type FalcoEvent } from './falco-semantics.js';
import { falcoCorpus, falcoRuleFiles } from '../upstream-corpus.js';

const enc = new TextEncoder();
const here = path.resolve(import.meta.dirname, 'semantics');

function load(files: Record<string, string | Uint8Array>) {
  const l = loadSources(Object.entries(files).map(([file, text]) => ({ file, bytes: typeof text === 'string' ? enc.encode(text) : text })));
  return { docs: l.documents.filter(isFalcoRules), sources: l.sources };
}

function convertText(files: Record<string, string | Uint8Array>, opts: ConvertOptions = {}): FalcoConversion {
  const { docs, sources } = load(files);
  const c = convertFalco(docs, sources, opts);
  expect(c.diagnostics).toEqual([]);
  return c;
}

/** The conditions Falco evaluates, by rule: macros expanded, lists substituted, exceptions appended. */
function conditions(files: Record<string, string | Uint8Array>): Map<string, Expr> {
  const { docs, sources } = load(files);
  return new Map(compileRules(collectRules(docs, sources)).rules.flatMap((r) => (r.expr ? [[r.rule.name, r.expr] as const] : [])));
}

/** Falco's parameters of a call by name, from its arguments in order. */
function namedArgs(call: string, args: readonly (string | number)[]): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const a of syscallInfo(call)?.args ?? []) if (args[a.index] !== undefined) for (const n of a.names) out[n] ??= args[a.index]!;
  return out;
}

interface Call {
  binary: string;
  pod?: { namespace: string };
  caps?: readonly string[];
  call: string;
  args: (string | number)[];
  ok: boolean;
}

const falcoEvent = (c: Call): FalcoEvent => ({
  call: c.call,
  args: namedArgs(c.call, c.args),
  ok: c.ok,
  caller: { binary: c.binary, ...(c.pod ? { pod: c.pod } : {}), ...(c.caps ? { caps: c.caps } : {}) },
});

// Linux capability numbers of the capabilities the upstream rules name.
const capNumber: Record<string, number> = { CAP_NET_RAW: 13, CAP_SYS_PTRACE: 19, CAP_SYS_ADMIN: 21 };

/** weir's verdict for a call: the runtime image evaluator over the policies compiled for a tracepoint-only node. */
function weirEvaluator(policies: readonly TracingPolicy[]): (c: Call) => RuntimeVerdict {
  const docs = loadSources(
    policies.map((p) => ({ file: `${p.metadata.name}.yaml`, bytes: enc.encode(stringify(p, { aliasDuplicateObjects: false })) })),
  ).documents;
  const r = compileRuntime(docs, [{ name: 'local', caps: capabilityProfiles['tracepoint-only']! }]);
  const n = r.nodes[0]!;
  expect([...r.diagnostics, ...n.diagnostics].filter((d) => d.severity === 'error')).toEqual([]);
  const ev = new RuntimeImageEvaluator(n.images, n.lowered.table);
  return (c) => {
    const nr = RuntimeImageEvaluator.syscallNumber(`sys_${syscallInfo(c.call)!.call.slice(4)}`);
    if (nr === undefined) throw new Error(`no syscall number for ${c.call}`);
    const scoped = (policy: string | undefined) => {
      const p = policies.find((x) => x.metadata.name === policy);
      if (!p || !c.pod) return false;
      return p.kind === 'TracingPolicyNamespaced' ? p.metadata.namespace === c.pod.namespace : true;
    };
    // A pod's process lives in namespaces of its own; a host process in the host's.
    const namespaces = c.pod ? Object.fromEntries([1, 2, 3, 4, 5, 6, 7].map((k) => [k, 4026532000 + k])) : undefined;
    const capEffective = (c.caps ?? []).reduce((m, x) => m | (1n << BigInt(capNumber[x]!)), 0n);
    return ev.evaluate(
      { binary: c.binary, ...(namespaces ? { namespaces } : {}), capEffective, inScope: (h) => scoped(h?.policy) },
      nr,
      c.args,
    ).verdict;
  };
}

// ---- hand-written cases, run with `weir test` ----

interface CaseDoc {
  name: string;
  description: string;
  process: { binary: string; workload?: string };
  call: string;
  args: (string | number)[];
  return?: number;
  expect: RuntimeVerdict;
}

const fixtures = readdirSync(here)
  .filter((f) => f.endsWith('.test.yaml'))
  .map((f) => f.slice(0, -'.test.yaml'.length))
  .sort();
/** The verdict each fixture's rule converts to (with --allow-broader). */
const verdicts: Record<string, 'exact' | 'broader'> = {
  caller: 'exact',
  container: 'exact',
  launch: 'broader',
  'no-descriptor': 'exact',
  open: 'exact',
  'open-result': 'broader',
  quantifier: 'exact',
};

describe('conversion rules: PolicyTest cases from Falco semantics, run with weir test', () => {
  let tmp = '';
  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(tmpdir(), 'wcv-sem-'));
  });
  afterAll(async () => {
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  it('has a case file and an expected verdict for every conversion rule', () => {
    expect(fixtures).toEqual(Object.keys(verdicts).sort());
  });

  it.each(fixtures)('%s', async (name) => {
    const rules = readFileSync(path.join(here, `${name}.rules.yaml`), 'utf8');
    const testText = readFileSync(path.join(here, `${name}.test.yaml`), 'utf8');
    const c = convertText({ [`${name}.rules.yaml`]: rules }, { allowBroader: true });
    const report = c.reports[0]!;
    expect(report.verdict, report.reasons.join('; ')).toBe(verdicts[name]);
    if (verdicts[name] === 'exact') expect(convertText({ [`${name}.rules.yaml`]: rules }).reports[0]!.verdict).toBe('exact');
    // weir test: the converted policies next to a copy of the PolicyTest.
    await fs.mkdir(path.join(tmp, name), { recursive: true });
    for (const p of c.policies) await fs.writeFile(path.join(tmp, name, `${p.policy.metadata.name}.yaml`), stringify(p.policy));
    await fs.writeFile(path.join(tmp, `${name}.test.yaml`), testText);
    const run = await runPolicyTests([`${name}.test.yaml`], { root: tmp });
    expect(run.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const cases = (parse(testText) as { spec: { cases: CaseDoc[] } }).spec.cases;
    expect(run.results.map((r) => [r.name, r.actual, r.ok, r.detail])).toEqual(
      cases.map((k) => [k.name, k.expect, true, expect.anything()]),
    );
    // Falco's side: each description's claim, read again from the semantics; and the verdict fits the cases.
    const expr = conditions({ [`${name}.rules.yaml`]: rules }).get(report.rule)!;
    let differs = 0;
    for (const k of cases) {
      const m = /^falco: (alert|silent)( \[assumption: (\w+)\])?\./.exec(k.description);
      expect(m, `${k.name}: the description starts with "falco: alert." or "falco: silent."`).not.toBeNull();
      const alert = m![1] === 'alert';
      const pod = k.process.workload ? { namespace: k.process.workload.split('/')[0]! } : undefined;
      const call: Call = {
        binary: k.process.binary,
        ...(pod ? { pod } : {}),
        call: k.call.replace(/^sys_/, ''),
        args: k.args,
        ok: (k.return ?? 0) >= 0,
      };
      expect(falcoFires(expr, falcoEvent(call)), `${k.name}: Falco's semantics`).toBe(alert);
      const fires = k.expect !== 'allow';
      if (fires !== alert) differs++;
      if (verdicts[name] === 'exact') expect(fires, `${k.name}: an exact conversion agrees with Falco`).toBe(alert);
      else if (alert && !m![3]) expect(fires, `${k.name}: a broader conversion fires wherever Falco does`).toBe(true);
      if (m![3])
        expect(c.reports[0]!.notes.join('\n')).toContain(m![3] === 'execfail' ? 'an exec is judged by the program it names' : m![3]);
    }
    if (verdicts[name] === 'broader')
      expect(differs, 'a broader conversion shows a case where it fires and Falco does not').toBeGreaterThan(0);
  });
});

// ---- the upstream rules ----

const upstream = Object.fromEntries(falcoRuleFiles.map((f) => [f, readFileSync(path.join(falcoCorpus, f))]));

const describeCall = (c: Call) =>
  `${c.binary}${c.pod ? ` in a pod of ${c.pod.namespace}` : ' on the host'}${c.caps?.length ? ` with ${c.caps.join(',')}` : ''}: ${c.call}(${c.args.map((a) => JSON.stringify(a)).join(', ')}) ${c.ok ? 'succeeds' : 'fails'}`;

/** Calls around what the policies name: the binaries, argument values and scopes in their selectors, and others. */
function generateCalls(policies: readonly TracingPolicy[]): Call[] {
  const out: Call[] = [];
  const ns = policies.find((p) => p.metadata.namespace)?.metadata.namespace ?? 'default';
  for (const kp of policies.flatMap((p) => p.spec.kprobes ?? [])) {
    const call = kp.call.replace(/^sys_/, '');
    const info = syscallInfo(call)!;
    const sels = kp.selectors ?? [];
    const binaries = new Set<string>(['/usr/bin/unrelated']);
    for (const s of sels)
      for (const b of s.matchBinaries ?? [])
        for (const v of b.values.slice(0, 3))
          binaries.add(b.operator.endsWith('Postfix') ? `/usr/bin${v}` : b.operator.endsWith('Prefix') ? `${v}x` : v);
    const caps = [...new Set(sels.flatMap((s) => (s.matchCapabilities ?? []).flatMap((m) => m.values)))];
    const candidates = new Map<number, (string | number)[]>();
    for (const a of info.args) candidates.set(a.index, [a.type === 'string' ? '/tmp/neutral' : 0]);
    for (const s of sels)
      for (const m of s.matchArgs ?? []) {
        const c = candidates.get(m.index)!;
        for (const v of m.values.slice(0, 3)) {
          if (typeof c[0] === 'string')
            c.push(
              m.operator.endsWith('Prefix') ? `${v}f` : m.operator.endsWith('Postfix') ? `/tmp/d${v.startsWith('/') ? '' : '/'}${v}` : v,
            );
          else if (m.operator === 'LT') c.push(Number(v) - 1, Number(v));
          else if (m.operator === 'GT') c.push(Number(v) + 1, Number(v));
          else c.push(Number(v));
        }
      }
    let combos: (string | number)[][] = [[]];
    for (let i = 0; i < 6; i++) {
      const c = [...new Set(candidates.get(i) ?? [0])].slice(0, 5);
      combos = combos.flatMap((x) => c.map((v) => [...x, v])).slice(0, 60);
    }
    for (const binary of [...binaries].slice(0, 6))
      for (const args of combos)
        for (const pod of [undefined, { namespace: ns }])
          for (const cs of caps.length ? [[], caps] : [[]])
            for (const ok of [true, false])
              out.push({ binary, ...(pod ? { pod } : {}), ...(cs.length ? { caps: cs } : {}), call, args, ok });
  }
  return out;
}

describe('upstream rules converted exactly: Falco and weir agree on generated calls', () => {
  const c = convertText(upstream);
  const exprs = conditions(upstream);
  const exact = c.reports.filter((r) => r.verdict === 'exact').map((r) => r.rule);

  it('finds the 7 exact conversions', () => expect(exact).toHaveLength(7));

  it.each(exact)('%s', (rule) => {
    const policies = c.policies.filter((p) => p.rule === rule).map((p) => p.policy);
    const weir = weirEvaluator(policies);
    const expr = exprs.get(rule)!;
    let alerts = 0;
    let silent = 0;
    for (const call of generateCalls(policies)) {
      const falco = falcoFires(expr, falcoEvent(call));
      expect(weir(call) !== 'allow', describeCall(call)).toBe(falco);
      if (falco) alerts++;
      else silent++;
    }
    expect(alerts, 'calls Falco fires on').toBeGreaterThan(0);
    expect(silent, 'calls Falco ignores').toBeGreaterThan(0);
  });
});

describe('upstream launch rules: matched on what is launched, never on the caller', () => {
  const c = convertText(upstream, { allowBroader: true });
  const exprs = conditions(upstream);
  const launches = c.reports
    .filter((r) => r.blockedBy.includes('exec outcome: the hook sees the attempt, not the launched program') && r.policies.length > 0)
    .map((r) => r.rule);

  // The launch rules that were reported exact while they matched the caller: Falco's side of each is modelled.
  const modelled = [
    'Launch Suspicious Network Tool in Container',
    'Launch Suspicious Network Tool on Host',
    'Launch Remote File Copy Tools in Container',
    'Known Cryptominer Process Executed',
    'Remove Bulk Data from Disk',
  ];

  it('covers the launch rules the upstream set converts (broader)', () => {
    expect(launches.length).toBeGreaterThanOrEqual(5);
    for (const r of modelled) expect(launches).toContain(r);
    for (const r of launches) expect(c.reports.find((x) => x.rule === r)!.verdict).toBe('broader');
  });

  it.each(launches)('%s', (rule) => {
    const policies = c.policies.filter((p) => p.rule === rule).map((p) => p.policy);
    const weir = weirEvaluator(policies);
    const expr = exprs.get(rule)!;
    const execve = policies.flatMap((p) => p.spec.kprobes ?? []).filter((k) => k.call === 'sys_execve');
    // Whoever calls exec, weir's verdict on it depends only on what is launched (and where the caller runs).
    const named = execve.flatMap((k) =>
      (k.selectors ?? []).flatMap((s) =>
        (s.matchArgs ?? []).filter((m) => m.index === 0 && m.operator === 'Postfix').flatMap((m) => m.values),
      ),
    );
    const programs = [...named.slice(0, 3).map((v) => `/usr/bin${v}`), '/usr/bin/true', '/bin/sh'];
    for (const pod of [undefined, { namespace: 'default' }])
      for (const program of programs)
        for (const ok of [true, false]) {
          const verdicts = ['/bin/bash', ...programs].map((binary) =>
            weir({ binary, ...(pod ? { pod } : {}), call: 'execve', args: [program], ok }),
          );
          expect(new Set(verdicts).size, `${rule}: exec of ${program} by different callers`).toBe(1);
        }
    if (named.length === 0) return;
    // The launch cases, where Falco's side of the rule is modelled: the parent that launches, the program that
    // launches something else, a failed exec.
    const program = `/usr/bin${named[0]}`;
    for (const pod of [undefined, { namespace: 'default' }]) {
      const launch: Call = { binary: '/bin/bash', ...(pod ? { pod } : {}), call: 'execve', args: [program], ok: true };
      let falco: boolean;
      try {
        falco = falcoFires(expr, falcoEvent(launch));
      } catch (e) {
        if (e instanceof Unmodeled && !modelled.includes(rule)) return;
        throw e;
      }
      if (!falco) continue;
      expect(weir(launch), `${rule}: ${describeCall(launch)}`).not.toBe('allow');
      const other: Call = { binary: program, ...(pod ? { pod } : {}), call: 'execve', args: ['/usr/bin/true'], ok: true };
      expect(falcoFires(expr, falcoEvent(other)), describeCall(other)).toBe(false);
      expect(weir(other), `${rule}: ${describeCall(other)}`).toBe('allow');
      const failed: Call = { ...launch, ok: false };
      expect(falcoFires(expr, falcoEvent(failed)), describeCall(failed)).toBe(false);
      expect(weir(failed), `${rule}: the hook sees the attempt: ${describeCall(failed)}`).not.toBe('allow');
      return;
    }
    throw new Error(`${rule}: no launch of ${program} that Falco fires on, in a pod or on the host`);
  });
});
