// Runtime enforcement diff: for each TracingPolicy hook selector, which binaries, paths and
// calls change from allowed to posted, killed or signalled (and back), read from the policies
// (Tetragon pkg/selectors vocabulary). The runtime compiler's images are not needed for this
// view; observed process events are matched against the same selectors.
import type { PolicyDocument } from '../load/index.js';
import type { ObservedEvent } from '../observed/index.js';
import type { RuntimeAttach, RuntimeChange } from './model.js';
import { compileRuntime } from '../lower/runtime/index.js';
import { capabilitiesFromLabels } from '../lower/runtime/capabilities.js';
import { RuntimeImageEvaluator } from '../verify/runtime-emulator.js';
import { selects } from './affected.js';
import { asArray as arr, isObj, type Obj } from '../model/value.js';

/** What a selector does to a matching call, strongest first. */
export type RuntimeAction = 'kill' | 'signal' | 'override' | 'post' | 'nopost' | 'allow';
const strength: Record<RuntimeAction, number> = { kill: 5, signal: 4, override: 3, post: 2, nopost: 1, allow: 0 };

export interface RuntimeRule {
  policy: string;
  namespace?: string;
  call: string;
  binaries: string[];
  binaryOperator: string;
  paths: string[];
  pathOperator: string;
  action: RuntimeAction;
  file: string;
  line: number;
  commit?: string;
}

const obj = (v: unknown): Obj => (isObj(v) ? v : {});

function actionOf(sel: Record<string, unknown>, monitor: boolean): RuntimeAction {
  let best: RuntimeAction = 'post';
  for (const a of arr(sel['matchActions'])) {
    const name = String(obj(a)['action'] ?? '').toLowerCase();
    const act: RuntimeAction | undefined =
      name === 'sigkill'
        ? 'kill'
        : name === 'signal'
          ? 'signal'
          : name === 'override'
            ? 'override'
            : name === 'nopost'
              ? 'nopost'
              : name === 'post'
                ? 'post'
                : undefined;
    if (act && strength[act] > strength[best]) best = act;
    if (act === 'nopost' && best === 'post') best = 'nopost';
  }
  // Tetragon's policy-mode monitor keeps the events and drops the enforcement.
  if (monitor && (best === 'kill' || best === 'signal' || best === 'override')) return 'post';
  return best;
}

/** Flattens every hook selector of every runtime document into rules. */
export function runtimeRules(docs: readonly PolicyDocument[]): RuntimeRule[] {
  const out: RuntimeRule[] = [];
  for (const d of docs) {
    if (d.family !== 'runtime') continue;
    const spec = obj(d.value['spec']);
    const monitor =
      String(obj(spec['options'])['policy-mode'] ?? obj(spec['options'])['policyMode'] ?? '') === 'monitor' ||
      arr(spec['options']).some((o) => obj(o)['name'] === 'policy-mode' && obj(o)['value'] === 'monitor');
    const hooks: { call: string; selectors: unknown[]; path: (string | number)[] }[] = [];
    arr(spec['kprobes']).forEach((k, i) =>
      hooks.push({ call: String(obj(k)['call'] ?? ''), selectors: arr(obj(k)['selectors']), path: ['spec', 'kprobes', i] }),
    );
    arr(spec['tracepoints']).forEach((t, i) =>
      hooks.push({
        call: `${String(obj(t)['subsystem'] ?? '')}/${String(obj(t)['event'] ?? '')}`,
        selectors: arr(obj(t)['selectors']),
        path: ['spec', 'tracepoints', i],
      }),
    );
    arr(spec['lsmhooks']).forEach((h, i) =>
      hooks.push({ call: `lsm/${String(obj(h)['hook'] ?? '')}`, selectors: arr(obj(h)['selectors']), path: ['spec', 'lsmhooks', i] }),
    );
    for (const h of hooks) {
      const sels = h.selectors.length ? h.selectors : [{}];
      sels.forEach((s, si) => {
        const sel = obj(s);
        const bin = obj(arr(sel['matchBinaries'])[0]);
        const pathArgs = arr(sel['matchArgs'])
          .map(obj)
          .filter((a) => arr(a['values']).some((v) => typeof v === 'string' && v.startsWith('/')));
        const span = h.selectors.length ? d.locate([...h.path, 'selectors', si]) : d.locate(h.path);
        out.push({
          policy: d.name,
          ...(d.namespace ? { namespace: d.namespace } : {}),
          call: h.call,
          binaries: arr(bin['values']).map(String),
          binaryOperator: String(bin['operator'] ?? 'In'),
          paths: pathArgs.flatMap((a) => arr(a['values']).map(String)),
          pathOperator: String(pathArgs[0]?.['operator'] ?? 'Equal'),
          action: actionOf(sel, monitor),
          file: d.provenance.file,
          line: span.line,
          ...(d.provenance.commit ? { commit: d.provenance.commit } : {}),
        });
      });
    }
  }
  return out;
}

function ruleKey(r: RuntimeRule): string {
  return [r.namespace ?? '', r.policy, r.call, r.binaryOperator, r.binaries.join(','), r.pathOperator, r.paths.join(',')].join('|');
}

/** Selectors whose action differs between the revisions (absent counts as allow). */
export function diffRuntime(base: readonly RuntimeRule[], head: readonly RuntimeRule[]): RuntimeChange[] {
  const b = new Map(base.map((r) => [ruleKey(r), r]));
  const h = new Map(head.map((r) => [ruleKey(r), r]));
  const out: RuntimeChange[] = [];
  for (const k of new Set([...b.keys(), ...h.keys()])) {
    const x = b.get(k);
    const y = h.get(k);
    const before = x?.action ?? 'allow';
    const after = y?.action ?? 'allow';
    if (before === after) continue;
    const r = (y ?? x)!;
    out.push({
      policy: r.policy,
      ...(r.namespace ? { namespace: r.namespace } : {}),
      call: r.call,
      binaries: r.binaries,
      paths: r.paths,
      before,
      after,
      file: r.file,
      line: r.line,
      ...(r.commit ? { commit: r.commit } : {}),
    });
  }
  return out.sort((p, q) => (p.file + p.line < q.file + q.line ? -1 : 1));
}

/** `sys_openat`, `__x64_sys_openat`, `syscalls/sys_enter_openat` all name one syscall. */
function syscallName(call: string): string {
  return call
    .replace(/^syscalls\/sys_enter_/, '')
    .replace(/^__(x64|arm64|ia32)_sys_/, '')
    .replace(/^sys_/, '');
}

function matchesValue(op: string, want: readonly string[], have: string): boolean {
  switch (op) {
    case 'In':
    case 'Equal':
      return want.includes(have);
    case 'NotIn':
    case 'NotEqual':
      return !want.includes(have);
    case 'Prefix':
      return want.some((w) => have.startsWith(w));
    case 'NotPrefix':
      return !want.some((w) => have.startsWith(w));
    case 'Postfix':
      return want.some((w) => have.endsWith(w));
    case 'NotPostfix':
      return !want.some((w) => have.endsWith(w));
    default:
      return false;
  }
}

/** The strongest action of the rules matching an observed event, with the rule's place. */
export function runtimeDecision(rules: readonly RuntimeRule[], e: ObservedEvent): { action: string; rule?: string } | undefined {
  if (!e.call) return undefined;
  let best: RuntimeRule | undefined;
  for (const r of rules) {
    if (syscallName(r.call) !== syscallName(e.call) && r.call !== e.call) continue;
    if (r.namespace && e.namespace !== r.namespace) continue;
    if (r.binaries.length && !matchesValue(r.binaryOperator, r.binaries, e.binary)) continue;
    if (r.paths.length && !e.args.some((a) => typeof a === 'string' && matchesValue(r.pathOperator, r.paths, a))) continue;
    if (!best || strength[r.action] > strength[best.action]) best = r;
  }
  return best
    ? { action: best.action, rule: `${best.namespace ? `${best.namespace}/` : ''}${best.policy} ${best.file}:${best.line}` }
    : { action: 'allow' };
}

/**
 * Observed events decided by the runtime compiler's image evaluator (what the kernel handler
 * would do with this revision's maps), for a node with the default capability profile. Pod
 * scoping (TracingPolicyNamespaced, podSelector) uses the pod labels Tetragon reports. Returns
 * undefined when the revision's runtime policies do not compile: the caller falls back to the
 * selector reading above.
 */
export function imageRuntimeOracle(
  docs: readonly PolicyDocument[],
): ((e: ObservedEvent) => { action: string; rule?: string } | undefined) | undefined {
  const runtimeDocs = docs.filter((d) => d.family === 'runtime');
  let compiled: ReturnType<typeof compileRuntime>;
  try {
    compiled = compileRuntime(runtimeDocs, [{ name: 'plan', caps: capabilitiesFromLabels({}).caps }]);
  } catch {
    return undefined;
  }
  const node = compiled.nodes[0];
  if (!node || [...compiled.diagnostics, ...node.diagnostics].some((d) => d.severity === 'error')) return undefined;
  const ev = new RuntimeImageEvaluator(node.images, node.lowered.table);
  return (e) => {
    if (!e.call) return undefined;
    const nr = RuntimeImageEvaluator.syscallNumber(e.call);
    if (nr === undefined) return undefined;
    const inScope = (h: { policy: string; namespace?: string } | undefined): boolean => {
      if (!h) return false;
      const doc = runtimeDocs.find((d) => d.name === h.policy && (d.namespace ?? '') === (h.namespace ?? ''));
      if (!doc) return false;
      if (doc.kind === 'TracingPolicyNamespaced' && doc.namespace !== e.namespace) return false;
      const spec = obj(doc.value['spec']);
      const w = { type: 'workload' as const, namespace: e.namespace ?? '', name: e.pod ?? '', kind: 'Pod', pod: '', labels: e.podLabels };
      return selects(spec['podSelector'], w) === true;
    };
    const d = ev.evaluate(
      { binary: e.binary, inScope },
      nr,
      e.args.map((a) => a ?? 0),
    );
    const m = d.matches[d.matches.length - 1];
    const h = m ? node.lowered.table[m.hookId] : undefined;
    return { action: d.verdict, ...(h ? { rule: `${h.namespace ? `${h.namespace}/` : ''}${h.policy} ${h.file}:${h.line}` } : {}) };
  };
}

/**
 * For each node, where its hooks on kernel functions attach (fentry, kprobe, fmod_ret, BPF LSM, raw tracepoints):
 * the runtime compiler chooses per node from its capability labels, and the plan names the choice.
 */
export function runtimeAttachPoints(
  docs: readonly PolicyDocument[],
  nodes: readonly { name: string; labels?: Readonly<Record<string, string>> }[],
): RuntimeAttach[] {
  const runtimeDocs = docs.filter((d) => d.family === 'runtime');
  if (runtimeDocs.length === 0) return [];
  const targets = nodes.map((n) => ({ name: n.name, ...capabilitiesFromLabels(n.labels ?? {}) }));
  const r = compileRuntime(
    runtimeDocs,
    targets.map((t) => ({ name: t.name, caps: t.caps })),
  );
  const out: RuntimeAttach[] = [];
  r.nodes.forEach((n, i) => {
    for (const h of n.lowered.table)
      if (h.site !== undefined)
        out.push({
          node: n.node,
          profile: targets[i]!.profile,
          policy: h.namespace ? `${h.namespace}/${h.policy}` : h.policy,
          call: h.call,
          attach: h.attach,
          file: h.file,
          line: h.line,
        });
  });
  return out;
}
