// Runtime PolicyTest cases (`process:`, `call:`, `args:`, `expect: kill|signal|post|allow`), answered by
// the image evaluator over the map images compiled for the process's node — the bytes the kernel gets.
import { capabilitiesFromLabels } from '../lower/runtime/capabilities.js';
import { RuntimeImageEvaluator, type ArgValue, type RuntimeVerdict, type SockFacts } from '../verify/runtime-emulator.js';
import { socketValueNames } from '../lower/runtime/kernel-args.js';
import { compileRuntime, type RuntimeCompileResult } from '../lower/runtime/index.js';
import type { HookTableEntry } from '../lower/runtime/hooks.js';
import { K } from '../../bpf/abi/runtime.js';
import type { Inventory } from '../inventory/model.js';
import type { PolicyDocument } from '../load/index.js';
import { matchesMap, parseSelector } from '../model/selector.js';
import { isObj, type Obj } from '../model/value.js';

export interface RuntimeCaseInput {
  name: string;
  index: number;
  /** The case as written. */
  value: Record<string, unknown>;
  line: number;
}

export interface RuntimeContext {
  file: string;
  root: string;
  documents: readonly PolicyDocument[];
  inventory: Inventory;
  test: PolicyDocument;
  /** weir test --kernel: runtime cases also run against the real programs (root). */
  kernel?: boolean;
}

export type RunRuntimeCases = (
  ctx: RuntimeContext,
  cases: RuntimeCaseInput[],
) => Promise<{ name: string; expect: string; actual: string; ok: boolean; detail?: string }[]>;

const verdicts: readonly RuntimeVerdict[] = ['kill', 'signal', 'override', 'post', 'allow'];

/** A case's argument: numbers and strings as written; a mapping is a socket (family, protocol, state, saddr, daddr, sport, dport). */
function caseArg(a: unknown): ArgValue {
  if (typeof a === 'number' || typeof a === 'string') return a;
  if (isObj(a)) {
    const n = (k: string, names: Readonly<Record<string, number>> = {}) => {
      const v = a[k];
      return typeof v === 'number' ? v : typeof v === 'string' ? (names[v] ?? (/^\d+$/.test(v) ? Number(v) : undefined)) : undefined;
    };
    const f: SockFacts = {};
    const family = n('family', socketValueNames['Family']);
    const protocol = n('protocol', socketValueNames['Protocol']);
    const state = n('state', socketValueNames['State']);
    if (family !== undefined) f.family = family;
    if (protocol !== undefined) f.protocol = protocol;
    if (state !== undefined) f.state = state;
    if (typeof a['saddr'] === 'string') f.saddr = a['saddr'];
    if (typeof a['daddr'] === 'string') f.daddr = a['daddr'];
    const sport = n('sport');
    const dport = n('dport');
    if (sport !== undefined) f.sport = sport;
    if (dport !== undefined) f.dport = dport;
    return f;
  }
  return String(a);
}

/** Whether a policy's podSelector selects a pod with these labels (any selector when there is none). */
function podSelected(selector: Obj | undefined, labels: Record<string, string>): boolean {
  if (!selector) return true;
  const { selector: s, problems } = parseSelector(selector);
  return !problems.some((p) => p.kind !== 'label') && matchesMap(s, labels);
}

type KernelRunner = import('../../bpf/runtime/cases.js').KernelCaseRunner;

/** Inode numbers of the host's namespaces, by kind, as the case evaluator models them. */
const hostInum = (kind: number) => 0xf0000000 + kind;

/**
 * The namespaces of a case's process: a host process is in the host's; a pod's process has its own
 * mount, pid, uts, ipc, net and cgroup namespaces (so `matchNamespaces NotIn host_ns` matches it) and the host's
 * user namespace (the kubelet's default).
 */
function processNamespaces(pod: string | undefined): { hostNamespaces: Record<number, number>; namespaces?: Record<number, number> } {
  const kinds = Object.values(K.NS);
  const hostNamespaces = Object.fromEntries(kinds.map((k) => [k, hostInum(k)]));
  if (!pod) return { hostNamespaces };
  // A stable number per pod and kind, never one of the host's.
  let h = 2166136261;
  for (const c of pod) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  // A pod shares the host's user namespace (the kubelet's default, hostUsers: true).
  const own = (k: number) => (k === K.NS['User'] ? hostInum(k) : 0x10000000 + ((h + k * 7919) % 0x0fffffff));
  return { hostNamespaces, namespaces: Object.fromEntries(kinds.map((k) => [k, own(k)])) };
}

export const runRuntimeCases: RunRuntimeCases = async (ctx: RuntimeContext, cases: RuntimeCaseInput[]) => {
  // --kernel: the real programs answer too (loaded lazily: the compiler never needs libbpf otherwise).
  const kernel = ctx.kernel === true;
  const runners = new Map<string, KernelRunner>();
  try {
    return await runCases(ctx, cases, kernel, runners);
  } finally {
    for (const r of runners.values()) r.close();
  }
};

async function runCases(ctx: RuntimeContext, cases: RuntimeCaseInput[], kernel: boolean, runners: Map<string, KernelRunner>) {
  const compiled = new Map<string, RuntimeCompileResult>();
  const compileFor = (node: string, labels: Record<string, string>) => {
    let r = compiled.get(node);
    if (!r) {
      // Under --kernel every policy is confined to a cgroup set: only the probe, in its own cgroup, can meet it.
      r = compileRuntime(ctx.documents, [{ name: node, caps: capabilitiesFromLabels(labels).caps }], kernel ? { confine: true } : {});
      compiled.set(node, r);
    }
    return r;
  };
  const out: { name: string; expect: string; actual: string; ok: boolean; detail?: string }[] = [];
  for (const c of cases) out.push(await runCase(c));
  return out;

  async function runCase(c: RuntimeCaseInput) {
    const v = c.value;
    const expect = String(v['expect'] ?? '');
    const fail = (detail: string) => ({ name: c.name, expect, actual: 'error', ok: false, detail });
    if (!verdicts.includes(expect as RuntimeVerdict))
      return fail(`expect must be one of ${verdicts.join(', ')}, not ${JSON.stringify(v['expect'])}`);
    const proc = isObj(v['process']) ? v['process'] : undefined;
    if (!proc || typeof proc['binary'] !== 'string')
      return fail('process needs binary (the absolute path of the executable), e.g. {workload: default/xwing, binary: /bin/cat}');
    const call = typeof v['call'] === 'string' ? v['call'] : '';
    const args = Array.isArray(v['args']) ? (v['args'] as unknown[]).map(caseArg) : [];
    const ret = v['return'] === undefined ? undefined : caseArg(v['return']);
    // The process's pod and node from the inventory; no workload: a host process on a default node.
    const workload = typeof proc['workload'] === 'string' ? proc['workload'] : undefined;
    const [ns, podName] = workload ? (workload.split('/') as [string, string]) : ['', ''];
    const pod = workload
      ? ctx.inventory.pods.find((p) => p.namespace === ns && (p.name === podName || p.name.startsWith(`${podName}[`)))
      : undefined;
    if (workload && !pod) return fail(`workload ${workload} is not in the inventory`);
    const nodeName = typeof v['node'] === 'string' ? v['node'] : pod?.node || 'local';
    const node = ctx.inventory.nodes.find((n) => n.name === nodeName);
    const r = compileFor(nodeName, node?.labels ?? {});
    const nr0 = r.nodes[0]!;
    const errors = [...r.diagnostics, ...nr0.diagnostics].filter((d) => d.severity === 'error');
    const policies = ctx.documents.filter((d) => d.family === 'runtime');
    const scopeOf = (h: HookTableEntry | undefined): boolean => {
      if (h?.confined) return true;
      if (!h || !pod) return false;
      const doc = policies.find((d) => d.name === h.policy && (d.namespace ?? '') === (h.namespace ?? ''));
      if (!doc) return false;
      if (doc.kind === 'TracingPolicyNamespaced' && doc.namespace !== pod.namespace) return false;
      const spec = isObj(doc.value['spec']) ? doc.value['spec'] : {};
      return podSelected(isObj(spec['podSelector']) ? spec['podSelector'] : undefined, pod.labels);
    };
    const ev = new RuntimeImageEvaluator(nr0.images, nr0.lowered.table);
    const nr = ev.siteOf(call);
    if (nr === undefined)
      return fail(
        `call ${JSON.stringify(call)} is neither a syscall (sys_openat, __x64_sys_openat, syscalls/sys_enter_openat) nor a kernel function or LSM hook a policy hooks on node ${nodeName}`,
      );
    const d = ev.evaluate(
      {
        binary: proc['binary'],
        ...(typeof proc['pid'] === 'number' ? { pid: proc['pid'] } : {}),
        inScope: scopeOf,
        ...processNamespaces(pod ? `${pod.namespace}/${pod.name}` : undefined),
      },
      nr,
      args,
      ret,
    );
    const by = d.matches.map((m) => {
      const h = nr0.lowered.table[m.hookId];
      return h ? `${h.policy} (${h.file}:${h.line}${m.monitor ? ', monitor' : ''})` : `hook ${m.hookId}`;
    });
    const detail = [
      by.length ? `decided by ${by.join(', ')}` : 'no selector matched',
      errors.length
        ? `; ${errors.length} policy error(s) on node ${nodeName}, first: ${errors[0]!.file}:${errors[0]!.line}: ${errors[0]!.message}`
        : '',
    ].join('');
    if (!kernel) return { name: c.name, expect, actual: d.verdict, ok: d.verdict === expect, detail };
    const scopeSets = [
      ...new Set(
        nr0.lowered.hooks
          .filter((h) => h.scoped && (nr0.lowered.table[h.hookId]?.confined === true || scopeOf(nr0.lowered.table[h.hookId])))
          .map((h) => h.scopeSet),
      ),
    ];
    let runner = runners.get(nodeName);
    if (!runner) {
      const { KernelCaseRunner } = await import('../../bpf/runtime/cases.js');
      runner = new KernelCaseRunner(nr0.images, nr0.lowered.attach);
      runners.set(nodeName, runner);
    }
    const k = await runner.run({
      binary: proc['binary'],
      ...(typeof proc['uid'] === 'number' ? { uid: proc['uid'] } : {}),
      nr,
      args: args.map((a) => (typeof a === 'number' ? a : typeof a === 'object' ? JSON.stringify(a) : String(a))),
      scopeSets,
    });
    if (k.verdict === 'skipped')
      return { name: c.name, expect, actual: d.verdict, ok: d.verdict === expect, detail: `${detail}; images only: ${k.detail}` };
    const agree = k.verdict === d.verdict;
    return {
      name: c.name,
      expect,
      actual: k.verdict,
      ok: agree && k.verdict === expect,
      detail: `kernel: ${k.verdict} (${k.detail}); images: ${d.verdict}${agree ? '' : ' — the kernel and the image evaluator DISAGREE'}; ${detail}`,
    };
  }
}
