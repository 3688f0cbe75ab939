// Hook lowering: runtime IR + one node's capabilities → the kernel hooks, selectors and sets that the
// syscall-entry handler (bpf/runtime/wrt_runtime.bpf.c) evaluates. A syscall kprobe becomes the
// syscalls/sys_enter_<name> tracepoint; what the node (or weir's handler) cannot do is an error naming
// the node and the reason, never a quiet downgrade.
import { diagnostic, type Diagnostic, type Span } from '../../diagnostics.js';
import type { NodeCapabilities } from './capabilities.js';
import type { Hook, MatchArg, RuntimeIR, Selector } from '../../ir/runtime/compile.js';
import { limits } from '../../ir/runtime/compile.js';
import { syscallNumbers, syscallTracepoint, tableSyscall, unimplementedSyscalls } from '../../ir/runtime/syscalls.js';
import {
  encodeRuntimeNode,
  K,
  kernelSites,
  siteNumber,
  type KHook,
  type KMatchArg,
  type KSelector,
  type RuntimeRecords,
} from '../../../bpf/abi/runtime.js';
import { buildWalks, capacityUse, type NodeCapacity } from './walks.js';
import { errorInjectable } from '../../../bpf/runtime/error-injection.js';
import { socketOperators } from '../../ir/runtime/compile.js';
import { kernelArgTypes, lowerSocketMatch, syscallArgTypes, type AddrKey, type ArgClass, type NewSet } from './kernel-args.js';

// The kernel records (KHook, KSelector, KMatchArg) and the weir_runtime.h constants (K) are the ABI's.
export type { KHook, KMatchArg, KSelector } from '../../../bpf/abi/runtime.js';

/** Bundle table row: what a hook id (the events' cookie) points back to. */
export interface HookTableEntry {
  hookId: number;
  policy: string;
  namespace?: string;
  call: string;
  /**
   * Where it is attached: a tracepoint (`syscalls/sys_enter_openat`, `raw_syscalls/sys_enter`) or, for kernel
   * functions, the attach type chosen for this node and the function (`fentry/security_file_open`,
   * `kprobe/security_inode_mkdir`, `kretprobe/tcp_connect`, `lsm/file_open`).
   */
  attach: string;
  /** Hooks on kernel functions: the wrt_hook_key number of their attach site (WRT_SITE_BASE + site). */
  site?: number;
  /** The return value's type, for a return probe. */
  returnArg?: string;
  /** ignore.callNotFound: the agent skips the hook when the node's kernel lacks the function. */
  optional?: boolean;
  /** Tetragon's event kind for it (BPF LSM hooks: process_lsm, as Tetragon reports its lsmhooks). */
  eventKind: 'process_kprobe' | 'process_tracepoint' | 'process_lsm';
  file: string;
  line: number;
  column: number;
  commit?: string;
  message?: string;
  tags: string[];
  args: { index: number; type: string; label?: string }[];
  /** For a namespaced / podSelector policy: the numeric set the agent fills with its pods' cgroup ids. */
  scopeSet?: number;
  /** Scoped only because the lowering confined it (LowerOptions.confine), not by its pods. */
  confined?: boolean;
}

/** A node's kernel records (encoded by bpf/abi/runtime.ts) with the names, attach points and hook table around them. */
export interface LoweredRuntimeNode extends RuntimeRecords {
  node: string;
  policies: { id: number; name: string; mode: 'enforce' | 'monitor' }[];
  /** Tracepoints to attach: `syscalls/sys_enter_openat`, `raw_syscalls/sys_enter`. */
  attach: string[];
  table: HookTableEntry[];
  /** Pod-scoped policies: the set the agent fills with the cgroup ids of the pods they select. */
  scopes?: ScopeTableEntry[];
  /** The node's capacity, map by map (entries used and the map's size): the only bound on what loads together. */
  capacity: NodeCapacity[];
}

/** Bundle table row: which pods a scope set stands for (the agent resolves them to cgroup ids). */
export interface ScopeTableEntry {
  scopeSet: number;
  /** `namespace/name` of a TracingPolicyNamespaced, else the name. */
  policy: string;
  /** A TracingPolicyNamespaced selects pods of its namespace only. */
  namespace?: string;
  /** The policy's podSelector as written (absent: every pod of the namespace, or of the node). */
  podSelector?: Record<string, unknown>;
}

const compatPrefix = /^__(ia32|x32)_(compat_)?sys_/;
const syscallPrefix = /^(__x64_sys_|__arm64_sys_|__se_sys_|__do_sys_|ksys_|sys_)/;

/** The table syscall a kprobe `call` names (`sys_openat`, `__x64_sys_openat`, `__x64_sys_newuname`), or undefined. */
export function syscallName(call: string): string | undefined {
  if (compatPrefix.test(call)) return undefined;
  const m = syscallPrefix.exec(call);
  return tableSyscall(m ? call.slice(m[0].length) : call);
}

/** Why the node has no sys_enter tracepoint for a table syscall, or undefined when it has one. */
function missingTracepoint(name: string, caps: NodeCapabilities): string | undefined {
  const tp = syscallTracepoint(name);
  if (unimplementedSyscalls.has(name))
    return `${name} is not implemented on x86_64 (sys_ni_syscall): no kernel has a syscalls/sys_enter_${tp} tracepoint`;
  if (caps.syscalls && !caps.syscalls.includes(tp))
    return `the node has no syscalls/sys_enter_${tp} tracepoint${tp !== name ? ` (the kernel's name for ${name})` : ''}`;
  return undefined;
}

/** Lowers every policy for one node. Errors are per node: another node may compile the same policy. */
export interface LowerOptions {
  /**
   * Scope every policy, also cluster-wide ones, to a cgroup set: nothing matches until cgroups are added.
   * `weir test --kernel` uses it so that only its probe process can ever meet a policy under test.
   */
  confine?: boolean;
}

export function lowerRuntime(
  ir: RuntimeIR,
  node: string,
  caps: NodeCapabilities,
  opts: LowerOptions = {},
): { lowered: LoweredRuntimeNode; diagnostics: Diagnostic[] } {
  const out: LoweredRuntimeNode = {
    node,
    hooks: [],
    policies: [],
    strSets: new Map(),
    prefixSets: new Map(),
    postfixSets: new Map(),
    numSets: new Map(),
    calls: [],
    lists: [],
    binIndex: [],
    attach: [],
    table: [],
    capacity: [],
  };
  const diagnostics: Diagnostic[] = [];
  let nextSet = 1;
  const accepted: Accepted[] = [];
  const siteOwners = new Map<number, string>();
  const sorted = [...ir.policies].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : (a.namespace ?? '').localeCompare(b.namespace ?? ''),
  );
  for (const policy of sorted) {
    const errs: Diagnostic[] = [];
    const warns: Diagnostic[] = [];
    const err = (span: Span, message: string, rule = 'runtime/node-capability') =>
      errs.push(
        diagnostic(
          rule,
          'error',
          `node ${node}: ${message}`,
          span,
          policy.provenance.commit === undefined ? {} : { commit: policy.provenance.commit },
        ),
      );
    if (policy.enforcers)
      err(
        policy.enforcers,
        "spec.enforcers needs Tetragon's enforcer program (fmod_ret or bpf_override_return on syscall entry); weir enforces with Sigkill/Signal from its syscall handler instead: use matchActions Sigkill",
        'runtime/unsupported-hook',
      );
    const pending: Accepted['hooks'] = [];
    const pendingSets: Accepted['sets'] = [];
    const newSet = ((kind: 'str' | 'prefix' | 'postfix' | 'num' | 'addr', values: (string | bigint)[] | AddrKey[]): number => {
      const id = nextSet++;
      pendingSets.push({ kind, id, values } as (typeof pendingSets)[number]);
      return id;
    }) as NewSet;
    const podScoped = policy.kind === 'TracingPolicyNamespaced' || policy.podSelector !== undefined;
    const scoped = podScoped || opts.confine === true;
    const scopeSet = scoped ? newSet('num', []) : 0;
    for (const hook of policy.hooks) {
      const target = lowerTarget(hook, caps, (span, m, rule) => err(span, m, rule));
      if (!target) continue;
      if (target.site) {
        const n = siteNumber(target.attach);
        const owner = siteOwners.get(n) ?? target.attach;
        if (owner !== target.attach)
          err(
            hook.span,
            `attach points ${owner} and ${target.attach} have the same site number ${n}; rename neither can fix it: split the policies across nodes`,
            'runtime/site-collision',
          );
        siteOwners.set(n, owner);
      }
      for (const u of hook.unsupported)
        err(
          u.span,
          u.key === 'returnArgAction'
            ? 'returnArgAction: weir takes Post (the default) and TrackSock/UntrackSock (no effect) only'
            : `${u.key} is not supported by weir's runtime engine`,
          'runtime/unsupported-hook',
        );
      const types = target.kernel ? kernelArgTypes : syscallArgTypes;
      const args: KHook['args'] = [];
      const layout: ArgLayout = { pos: new Map(), cls: [], ret: -1 };
      for (const a of hook.args) {
        const t = types[a.type];
        if (t === undefined) {
          err(
            a.span,
            target.kernel
              ? `argument type ${a.type} has no reader in weir (kernel functions: ${Object.keys(kernelArgTypes).join(', ')})`
              : `argument type ${a.type} is not read by weir's syscall handler (it reads int, uint32, int64, uint64, size_t, string); ${a.type === 'fd' || a.type === 'file' || a.type === 'path' ? 'resolving fds and kernel file structs needs a hook on a kernel function (a `full` node)' : 'use one of those'}`,
            'runtime/unsupported-arg-type',
          );
          continue;
        }
        const src = target.argSrc(a.index);
        if (src === undefined) {
          err(
            a.span,
            `argument index ${a.index} is not a syscall argument of ${target.attach} (${target.indexHelp})`,
            'runtime/arg-index-range',
          );
          continue;
        }
        layout.pos.set(a.index, args.length);
        layout.cls.push(t.cls);
        args.push({ src, type: t.type });
      }
      hook.args.forEach((a) => {
        if (a.sizeArgIndex === undefined) return;
        const at = layout.pos.get(a.index);
        const sizePos = layout.pos.get(a.sizeArgIndex);
        if (at === undefined) return;
        if (a.type !== 'char_buf')
          return err(a.span, `sizeArgIndex applies to char_buf arguments, not ${a.type}`, 'runtime/unsupported-arg-type');
        if (sizePos === undefined)
          return err(
            a.span,
            `sizeArgIndex ${a.sizeArgIndex + 1} names argument ${a.sizeArgIndex}, which this hook does not declare; declare it (type size_t or int) so that it is read`,
            'runtime/arg-index-range',
          );
        args[at]!.type |= (sizePos + 1) << K.ARG_SIZE_SHIFT;
      });
      if (hook.returnArg) {
        const t = kernelArgTypes[hook.returnArg.type];
        // A kernel-function hook without matchReturnArgs is evaluated at entry. Its returnArg is named in the
        // hook table; the entry's events do not carry the return value (no return probe is paired with it).
        if (!target.returnSite && target.kernel) {
          if (t === undefined)
            err(hook.returnArg.span, `returnArg type ${hook.returnArg.type} has no reader in weir`, 'runtime/unsupported-arg-type');
        } else if (!target.returnSite)
          err(
            hook.returnArg.span,
            `return: true / returnArg: ${hook.call} is hooked at ${target.attach}, which sees the call's entry only; return values are read on kernel functions`,
            'runtime/unsupported-hook',
          );
        else if (t === undefined)
          err(hook.returnArg.span, `returnArg type ${hook.returnArg.type} has no reader in weir`, 'runtime/unsupported-arg-type');
        else if (args.length >= K.MAX.args)
          err(
            hook.returnArg.span,
            `${args.length} args and the return value: a hook reads at most ${K.MAX.args} values`,
            'runtime/too-many-args',
          );
        else {
          layout.ret = args.length;
          layout.cls.push(t.cls);
          args.push({ src: K.ARG_SRC_RET, type: t.type });
        }
      }
      const selectors: KSelector[] = [];
      for (const s of hook.selectors) {
        const ks = lowerSelector(
          s,
          hook,
          target,
          layout,
          caps,
          newSet,
          (span, m, rule) => err(span, m, rule),
          (span, m, rule) => warns.push(diagnostic(rule, 'warning', `node ${node}: ${m}`, span)),
        );
        if (ks) selectors.push(ks);
      }
      pending.push({
        hook: { syscallNr: target.nr, policyId: 0, hookId: 0, scopeSet, scoped, args, selectors },
        attach: target.attach,
        site: target.site,
        entry: {
          hookId: 0,
          policy: policy.name,
          ...(policy.namespace === undefined ? {} : { namespace: policy.namespace }),
          call: hook.call,
          attach: target.attach,
          eventKind: hook.kind === 'kprobe' ? 'process_kprobe' : hook.kind === 'lsm' ? 'process_lsm' : 'process_tracepoint',
          file: policy.provenance.file,
          line: hook.span.line,
          column: hook.span.column,
          ...(policy.provenance.commit === undefined ? {} : { commit: policy.provenance.commit }),
          ...(hook.message === undefined ? {} : { message: hook.message }),
          tags: hook.tags,
          args: hook.args.map((a) => ({ index: a.index, type: a.type, ...(a.label === undefined ? {} : { label: a.label }) })),
          ...(hook.returnArg && (target.returnSite || target.kernel) ? { returnArg: hook.returnArg.type } : {}),
          ...(hook.optional ? { optional: true } : {}),
          ...(scoped ? { scopeSet } : {}),
          ...(scoped && !podScoped ? { confined: true } : {}),
        },
      });
    }
    diagnostics.push(...warns);
    if (errs.length > 0) {
      // A policy compiles for a node whole or not at all.
      diagnostics.push(...errs);
      continue;
    }
    accepted.push({
      policy: { name: policy.namespace ? `${policy.namespace}/${policy.name}` : policy.name, mode: policy.mode },
      span: policy.span,
      ...(policy.provenance.commit === undefined ? {} : { commit: policy.provenance.commit }),
      ...(podScoped
        ? {
            scope: {
              scopeSet,
              policy: policy.namespace ? `${policy.namespace}/${policy.name}` : policy.name,
              ...(policy.kind === 'TracingPolicyNamespaced' && policy.namespace !== undefined ? { namespace: policy.namespace } : {}),
              ...(policy.podSelector === undefined ? {} : { podSelector: policy.podSelector }),
            },
          }
        : {}),
      sets: pendingSets,
      hooks: pending,
    });
  }
  // Capacity: the node's maps, and nothing else, bound what loads together. Policies are taken in
  // order; one that does not fit is refused whole, naming the map that is full.
  const refuse = (a: Accepted, over: NodeCapacity) =>
    diagnostics.push(
      diagnostic(
        'runtime/capacity',
        'error',
        `node ${node}: policy ${a.policy.name} does not fit: ${over.map} would hold ${over.used} entries, the map holds ${over.limit} (weir_runtime.h WRT_CAP_* / WRT_MAX_POLICIES)`,
        a.span,
        a.commit === undefined ? {} : { commit: a.commit },
      ),
    );
  // Hooks and policies are counted as they come; the maps the walks and sets fill are checked on the whole.
  const fits: Accepted[] = [];
  let hookCount = 0;
  for (const a of accepted) {
    if (fits.length + 1 > K.CAPACITY.policies) refuse(a, { map: 'wrt_policies', used: fits.length + 1, limit: K.CAPACITY.policies });
    else if (hookCount + a.hooks.length > K.CAPACITY.hooks)
      refuse(a, { map: 'wrt_hooks', used: hookCount + a.hooks.length, limit: K.CAPACITY.hooks });
    else {
      fits.push(a);
      hookCount += a.hooks.length;
    }
  }
  for (;;) {
    const lowered = assemble(node0(), fits);
    const over = lowered.capacity.find((c) => c.used > c.limit);
    if (!over) return { lowered, diagnostics };
    refuse(fits.pop()!, over);
  }

  function node0(): LoweredRuntimeNode {
    return {
      ...out,
      strSets: new Map(),
      prefixSets: new Map(),
      postfixSets: new Map(),
      numSets: new Map(),
      policies: [],
      hooks: [],
      table: [],
    };
  }
}

/** A policy lowered for a node, before hook ids and policy ids are given. */
interface Accepted {
  policy: { name: string; mode: 'enforce' | 'monitor' };
  span: Span;
  commit?: string;
  scope?: ScopeTableEntry;
  sets: (
    | { kind: 'str' | 'prefix' | 'postfix' | 'num'; id: number; values: (string | bigint)[] }
    | { kind: 'addr'; id: number; values: AddrKey[] }
  )[];
  /** `site`: a hook on a kernel function, keyed by its attach site's number rather than a syscall's. */
  hooks: { hook: KHook; attach: string; site: boolean; entry: HookTableEntry }[];
}

/** The node's records from its accepted policies: ids in order, the walks, the capacity used. */
function assemble(out: LoweredRuntimeNode, accepted: readonly Accepted[]): LoweredRuntimeNode {
  const attach = new Set<string>();
  // Attach sites of kernel-function hooks are numbered by kernelSites (as the agent attaches them).
  const sites = new Map(
    kernelSites(accepted.flatMap((a) => a.hooks.filter((p) => p.site).map((p) => p.attach))).map((s) => [s.attach, s.site]),
  );
  delete out.scopes;
  delete out.addrSets;
  for (const a of accepted) {
    const policyId = out.policies.length;
    out.policies.push({ id: policyId, ...a.policy });
    if (a.scope) (out.scopes ??= []).push(a.scope);
    for (const s of a.sets) {
      if (s.kind === 'addr') {
        (out.addrSets ??= new Map()).set(s.id, s.values);
        continue;
      }
      const m =
        s.kind === 'str' ? out.strSets : s.kind === 'prefix' ? out.prefixSets : s.kind === 'postfix' ? out.postfixSets : out.numSets;
      (m as Map<number, (string | bigint)[]>).set(s.id, s.values);
    }
    for (const p of a.hooks) {
      const hookId = out.hooks.length;
      const nr = p.site ? K.SITE_BASE + sites.get(p.attach)! : p.hook.syscallNr;
      out.hooks.push({ ...p.hook, syscallNr: nr, policyId, hookId });
      out.table.push({ ...p.entry, hookId, ...(p.site ? { site: nr } : {}) });
      attach.add(p.attach);
    }
  }
  const w = buildWalks(
    out.hooks,
    out as { strSets: Map<number, string[]>; prefixSets: Map<number, string[]>; postfixSets: Map<number, string[]> },
  );
  out.calls = w.calls;
  out.lists = w.lists;
  out.binIndex = w.binIndex;
  out.attach = [...attach].sort();
  const images = encodeRuntimeNode(out);
  const setEntries = Object.fromEntries(
    images.filter((i) => /^wrt_(str|prefix|postfix|num)/.test(i.name)).map((i) => [i.name, i.records.length]),
  );
  out.capacity = capacityUse({ ...out, setEntries });
  return out;
}

interface Target {
  nr: number;
  attach: string;
  argSrc: (index: number) => number | undefined;
  indexHelp: string;
  /** A kernel-function site (keyed by site number, not syscall number). */
  site: boolean;
  /** Arguments are read with the kernel-function readers (kernel structs), not as syscall registers. */
  kernel: boolean;
  /** Evaluated when the function returns: the return value is readable. */
  returnSite: boolean;
  /** Override can change the result here (a kprobe on an error-injectable function, or an LSM hook). */
  override: boolean;
}

/** Positions of a hook's values in wrt_hook.arg_src: by function argument index, and the return value's. */
interface ArgLayout {
  pos: Map<number, number>;
  cls: ArgClass[];
  ret: number;
}

const hasOverride = (hook: Hook) => hook.selectors.some((s) => s.matchActions.some((a) => a.action === 'Override'));
const hasReturnMatch = (hook: Hook) => hook.selectors.some((s) => s.matchReturnArgs.length > 0);

/**
 * The attach point of a hook on a kernel function for this node: BPF LSM for lsmhooks; for kprobes, fentry/fexit
 * where the node has them, else kprobe/kretprobe; a kprobe whenever Override is used (bpf_override_return, on
 * error-injectable functions only). Whatever the node cannot do is an error naming what is missing.
 */
function kernelTarget(hook: Hook, caps: NodeCapabilities, err: (span: Span, m: string, rule?: string) => void): Target | undefined {
  const base = { nr: 0, site: true, kernel: true, argSrc: (i: number) => (i <= 5 ? i : undefined), indexHelp: 'indexes 0 to 5' };
  if (hook.kind === 'lsm') {
    if (!caps.lsm) {
      err(
        hook.span,
        `LSM hook ${hook.call} needs BPF LSM (bpf in the node's active LSM list, lsm programs attaching), which this node lacks`,
      );
      return undefined;
    }
    if (hook.returnArg) {
      err(
        hook.returnArg.span,
        `LSM hook ${hook.call}: an LSM program decides the hook's result and sees no return value`,
        'runtime/unsupported-hook',
      );
      return undefined;
    }
    return { ...base, attach: `lsm/${hook.call}`, returnSite: false, override: true };
  }
  const fn = hook.call;
  // Selectors on the return value are evaluated when the function returns; otherwise at entry (a return
  // value named by returnArg is then not read).
  const ret = hasReturnMatch(hook);
  if (hasOverride(hook)) {
    if (ret) {
      err(
        hook.span,
        `${fn}: Override changes the result at the function's entry, but this hook is evaluated at its return (return: true / matchReturnArgs); split it into two hooks`,
        'runtime/unsupported-hook',
      );
      return undefined;
    }
    // fmod_ret programs may change the result of any security_* function (the verifier allows them there
    // besides the error-injection list); they need fentry support.
    if (fn.startsWith('security_') && caps.fentry) return { ...base, attach: `fmod_ret/${fn}`, returnSite: false, override: true };
    if (!caps.override || !caps.kprobeAttach) {
      err(
        hook.span,
        `Override on ${fn} needs bpf_override_return on an attached kprobe, which this node lacks (${caps.kprobeAttach ? 'no error-injection support' : 'kprobes do not attach'})`,
      );
      return undefined;
    }
    if (!errorInjectable(fn, caps.errorInjection)) {
      err(
        hook.span,
        `Override on ${fn}: the function is not in the node's error-injection list${fn.startsWith('security_') ? ' and the node has no fentry support for an fmod_ret program' : ''} (${caps.errorInjection ? "the node's /sys/kernel/debug/error_injection/list" : "weir's built-in list; the agent reports the node's own"}); the kernel refuses bpf_override_return elsewhere`,
        'runtime/override-not-injectable',
      );
      return undefined;
    }
    return { ...base, attach: `kprobe_override/${fn}`, returnSite: false, override: true };
  }
  if (caps.fentry) return { ...base, attach: `${ret ? 'fexit' : 'fentry'}/${fn}`, returnSite: ret, override: false };
  if (caps.kprobeAttach) return { ...base, attach: `${ret ? 'kretprobe' : 'kprobe'}/${fn}`, returnSite: ret, override: false };
  err(
    hook.span,
    `kprobe on kernel function ${fn} needs kprobe or fentry attach, which this node lacks (kprobe programs ${caps.kprobes ? 'load but cannot attach' : 'do not load'}); hook the syscall instead (syscall: true) where one fits`,
  );
  return undefined;
}

function lowerTarget(hook: Hook, caps: NodeCapabilities, err: (span: Span, m: string, rule?: string) => void): Target | undefined {
  const tracepointNeeded = (attach: string): boolean => {
    if (!caps.tracepoints) {
      err(hook.span, `${hook.call} lowers to the ${attach} tracepoint, but the node cannot attach tracepoint programs`);
      return false;
    }
    return true;
  };
  if (hook.kind === 'kprobe' && hook.allSyscalls) {
    if (!caps.rawSyscalls) {
      err(hook.span, 'a generated_syscalls list hooks every syscall at raw_syscalls/sys_enter, which cannot be attached on this node');
      return undefined;
    }
    return {
      nr: K.NR_ANY,
      attach: 'raw_syscalls/sys_enter',
      argSrc: () => undefined,
      indexHelp: 'a hook on every syscall reads no arguments',
      site: false,
      kernel: false,
      returnSite: false,
      override: false,
    };
  }
  if (hook.kind === 'kprobe') {
    if (compatPrefix.test(hook.call)) {
      err(
        hook.span,
        `${hook.call} is a 32-bit compat syscall entry; the syscalls/sys_enter_* tracepoints weir uses report the native 64-bit table only`,
        'runtime/unsupported-hook',
      );
      return undefined;
    }
    const name = syscallName(hook.call);
    if (hook.syscall || (name !== undefined && syscallPrefix.test(hook.call))) {
      if (name === undefined) {
        err(hook.span, `${hook.call} is not a syscall of the x86_64 table`, 'runtime/unknown-hook');
        return undefined;
      }
      if (!hook.syscall) {
        err(
          hook.span,
          `${hook.call} is a syscall: set \`syscall: true\` so that its arguments are read from the syscall's registers`,
          'runtime/syscall-flag',
        );
        return undefined;
      }
      // Override needs the syscall's function: a kprobe on __x64_sys_<name>, whose arguments are read through the
      // pt_regs it is passed. Every syscall entry point is error-injectable.
      const fn = `__x64_sys_${syscallTracepoint(name)}`;
      const sysFn = { nr: 0, argSrc: (i: number) => (i <= 5 ? i : undefined), indexHelp: 'indexes 0 to 5', site: true, kernel: true };
      if (hasOverride(hook) && caps.override && caps.kprobeAttach) {
        if (hasReturnMatch(hook)) {
          err(
            hook.span,
            `${hook.call}: Override acts at the call's entry, matchReturnArgs at its return; split the hook`,
            'runtime/unsupported-hook',
          );
          return undefined;
        }
        if (!errorInjectable(fn, caps.errorInjection)) {
          err(hook.span, `Override on ${hook.call}: ${fn} is not in the node's error-injection list`, 'runtime/override-not-injectable');
          return undefined;
        }
        return { ...sysFn, attach: `kprobe_override/${fn}`, returnSite: false, override: true };
      }
      // The return value, or arguments only the kernel-function readers resolve (fd, char_buf), need a hook on the
      // syscall's function where the node has one: fentry/fexit where available, else kprobe/kretprobe.
      const needsFn = hook.returnArg !== undefined || hook.args.some((a) => !(a.type in syscallArgTypes) && a.type in kernelArgTypes);
      if (needsFn && (caps.fentry || caps.kprobeAttach)) {
        const ret = hook.returnArg !== undefined || hasReturnMatch(hook);
        const kind = caps.fentry ? (ret ? 'fexit' : 'fentry') : ret ? 'kretprobe' : 'kprobe';
        return { ...sysFn, attach: `${kind}/${fn}`, returnSite: ret, override: false };
      }
      // Otherwise weir hooks syscalls at the sys_enter tracepoint: it exists on every node with tracepoints, and
      // the handler reads arguments from its stable layout.
      const attach = `syscalls/sys_enter_${syscallTracepoint(name)}`;
      const missing = missingTracepoint(name, caps);
      if (missing) {
        err(hook.span, missing);
        return undefined;
      }
      if (!tracepointNeeded(attach)) return undefined;
      return {
        nr: syscallNumbers[name]!,
        attach,
        argSrc: (i) => (i <= 5 ? i : undefined),
        indexHelp: 'indexes 0 to 5',
        ...syscallSite,
      };
    }
    return kernelTarget(hook, caps, err);
  }
  if (hook.kind === 'tracepoint') {
    if (hook.subsystem === 'syscalls' && hook.event?.startsWith('sys_enter_')) {
      const event = hook.event.slice('sys_enter_'.length);
      const name = tableSyscall(event);
      if (name === undefined) {
        err(hook.span, `${hook.call}: ${event} is not a syscall of the x86_64 table`, 'runtime/unknown-hook');
        return undefined;
      }
      if (syscallTracepoint(name) !== event) {
        err(
          hook.span,
          `${hook.call}: the kernel's tracepoint for ${name} is syscalls/sys_enter_${syscallTracepoint(name)}`,
          'runtime/unknown-hook',
        );
        return undefined;
      }
      const missing = missingTracepoint(name, caps);
      if (missing) {
        err(hook.span, missing);
        return undefined;
      }
      const nr = syscallNumbers[name]!;
      if (!tracepointNeeded(hook.call)) return undefined;
      // Format fields: 0-3 common, 4 __syscall_nr, 5.. the syscall's arguments.
      return {
        nr,
        attach: hook.call,
        argSrc: (i) => (i === 4 ? K.ARG_SRC_NR : i >= 5 && i <= 10 ? i - 5 : undefined),
        indexHelp: 'field 4 is __syscall_nr, fields 5 to 10 the arguments',
        ...syscallSite,
      };
    }
    if (hook.subsystem === 'raw_syscalls' && hook.event === 'sys_enter') {
      if (!caps.rawSyscalls) {
        err(hook.span, 'raw_syscalls/sys_enter cannot be attached on this node');
        return undefined;
      }
      return {
        nr: K.NR_ANY,
        attach: hook.call,
        argSrc: (i) => (i === 4 ? K.ARG_SRC_NR : undefined),
        indexHelp: 'field 4 is the syscall id; field 5 (args array) is not read',
        ...syscallSite,
      };
    }
    if (hook.raw) {
      // A raw tracepoint passes the kernel's own arguments (struct pointers), read like a kernel function's.
      if (!caps.tracepoints) {
        err(hook.span, `raw tracepoint ${hook.call} cannot be attached: the node cannot attach tracepoint programs`);
        return undefined;
      }
      return {
        nr: 0,
        attach: `raw_tp/${hook.event}`,
        argSrc: (i) => (i <= 5 ? i : undefined),
        indexHelp: "indexes 0 to 5, the tracepoint's TP_PROTO arguments",
        site: true,
        kernel: true,
        returnSite: false,
        override: false,
      };
    }
    err(
      hook.span,
      `tracepoint ${hook.call}: weir's handler reads syscalls/sys_enter_* and raw_syscalls/sys_enter layouts only (other tracepoints as raw: true)`,
      'runtime/unsupported-hook',
    );
    return undefined;
  }
  if (hook.kind === 'lsm') return kernelTarget(hook, caps, err);
  err(
    hook.span,
    caps.uprobes
      ? `${hook.kind} ${hook.call}: weir has no uprobe program yet`
      : `${hook.kind} ${hook.call} needs uprobes, which this node lacks`,
    caps.uprobes ? 'runtime/unsupported-hook' : 'runtime/node-capability',
  );
  return undefined;
}

const syscallSite = { site: false, kernel: false, returnSite: false, override: false } as const;

function parseNumber(s: string): bigint | undefined {
  const t = s.trim();
  if (!/^-?(0x[0-9a-fA-F]+|0o?[0-7]+|\d+)$/.test(t)) return undefined;
  const neg = t.startsWith('-');
  const body = neg ? t.slice(1) : t;
  const v = body.startsWith('0x')
    ? BigInt(body)
    : body.length > 1 && body.startsWith('0')
      ? BigInt('0o' + body.replace(/^0o?/, ''))
      : BigInt(body);
  return BigInt.asUintN(64, neg ? -v : v);
}

function lowerSelector(
  s: Selector,
  hook: Hook,
  target: Target,
  layout: ArgLayout,
  caps: NodeCapabilities,
  newSet: NewSet,
  err: (span: Span, m: string, rule?: string) => void,
  warn: (span: Span, m: string, rule: string) => void,
): KSelector | undefined {
  const attach = target.attach;
  const ks: KSelector = { args: [], pids: [], ns: [], actions: [] };
  for (const u of s.unsupported) err(u.span, `${u.key} is not evaluated by weir's runtime engine`, 'runtime/unsupported-selector');
  if (s.matchArgs.length + s.matchReturnArgs.length > K.MAX.matchArgs)
    err(s.span, `matchArgs and matchReturnArgs together: at most ${K.MAX.matchArgs} per selector`, 'runtime/too-many-match-args');
  for (const m of [...s.matchArgs, ...s.matchReturnArgs]) {
    const ret = m.index === -1;
    const pos = ret ? layout.ret : (layout.pos.get(m.index) ?? -1);
    if (pos < 0) {
      // A missing argument is reported on the arg; a return value needs a return probe.
      if (ret && !hook.returnArg)
        err(
          m.span,
          'matchReturnArgs needs `return: true` and a returnArg: the hook must be a return probe',
          'runtime/unsupported-selector',
        );
      continue;
    }
    const cls = layout.cls[pos]!;
    const type = hook.args.find((a) => a.index === m.index)?.type ?? hook.returnArg?.type ?? '';
    if (socketOperators.has(m.operator)) {
      if (cls !== 'sock') {
        err(
          m.span,
          `operator ${m.operator} applies to sock, skb, sockaddr and socket arguments of kernel functions; ${ret ? 'the return value' : `argument ${m.index}`} is ${type}`,
          'runtime/operator-type',
        );
        continue;
      }
      const km = lowerSocketMatch(m, pos, newSet, err);
      if (km) ks.args.push(km);
      continue;
    }
    if (cls === 'sock' || cls === 'report') {
      err(
        m.span,
        cls === 'sock'
          ? `operator ${m.operator} does not apply to ${type} arguments: use Family, Protocol, State, SAddr/DAddr, SPort/DPort (and their Not forms)`
          : `${type} arguments are reported in events, not compared: no operator applies to them`,
        'runtime/operator-type',
      );
      continue;
    }
    const km = lowerMatchArg(m, pos, cls, newSet, err);
    if (km) ks.args.push(km);
  }
  const b = s.matchBinaries[0];
  if (b) {
    const kind = b.operator.includes('Prefix') ? 'prefix' : b.operator.includes('Postfix') ? 'postfix' : 'str';
    const op = {
      In: K.OP.Equal,
      NotIn: K.OP.NotEqual,
      Prefix: K.OP.Prefix,
      NotPrefix: K.OP.NotPrefix,
      Postfix: K.OP.Postfix,
      NotPostfix: K.OP.NotPostfix,
    }[b.operator];
    ks.bin = { op, setId: newSet(kind, b.values), ...(b.followChildren ? { followChildren: true } : {}) };
  }
  for (const p of s.matchPIDs) {
    if (p.followForks && p.isNamespacePID)
      // Tetragon's own examples set both; the handler compares the calling process's namespace pid itself.
      warn(
        p.span,
        "matchPIDs followForks with isNamespacePID: weir compares the namespace pid of the calling process itself (its table does not keep ancestors' namespace pids); for the common NotIn [0, 1] filters this is the same",
        'runtime/follow-forks-namespace',
      );
    ks.pids.push({
      flags:
        (p.operator === 'NotIn' ? K.PID.notIn : 0) | (p.isNamespacePID ? K.PID.namespacePid : 0) | (p.followForks ? K.PID.followForks : 0),
      vals: p.values,
    });
  }
  for (const n of s.matchNamespaces) {
    const kind = K.NS[n.namespace];
    if (kind === undefined) {
      err(
        n.span,
        `matchNamespaces ${n.namespace} is not read by weir's handler (it reads Uts, Ipc, Mnt, Pid, PidForChildren, Net, Cgroup, User)`,
        'runtime/unsupported-selector',
      );
      continue;
    }
    const host = n.values.includes('host_ns');
    ks.ns.push({
      kind,
      flags: (n.operator === 'NotIn' ? K.NS_FLAG.notIn : 0) | (host ? K.NS_FLAG.hostNs : 0),
      vals: n.values.filter((v): v is number => v !== 'host_ns'),
    });
  }
  const c = s.matchCapabilities[0];
  if (c) {
    let mask = 0n;
    for (const v of c.values) mask |= 1n << BigInt(v);
    // isNamespaceCapability: as Tetragon, a task in the host's user namespace never matches the filter.
    ks.cap = { kind: K.CAP[c.type], notIn: c.operator === 'NotIn', mask, ...(c.isNamespaceCapability ? { namespace: true } : {}) };
  }
  for (const a of s.matchActions) {
    // Socket tracking only attributes later socket events; weir attributes them to the calling process (warned in the IR).
    if (a.action === 'TrackSock' || a.action === 'UntrackSock') continue;
    if (a.action === 'Override' && target.override) {
      ks.actions.push({ action: K.ACTION.Override, arg: a.argError ?? -1 });
      continue;
    }
    if (a.action === 'Override') {
      err(
        a.span,
        `Override cannot be lowered: ${hook.call} is hooked at ${attach}, and a tracepoint cannot change a syscall's return value${caps.override ? '' : '; the node also lacks bpf_override_return (no kprobe attach)'}. Use Sigkill, or run on a node with kprobe override and an override-capable kprobe`,
        'runtime/node-capability',
      );
      continue;
    }
    if ((a.action === 'Sigkill' || a.action === 'Signal') && !caps.sendSignal) {
      err(a.span, `${a.action} needs bpf_send_signal, which this node lacks`);
      continue;
    }
    ks.actions.push({ action: K.ACTION[a.action], arg: a.argSig ?? 0 });
  }
  return ks;
}

function lowerMatchArg(
  m: MatchArg,
  pos: number,
  cls: ArgClass,
  newSet: NewSet,
  err: (span: Span, m: string, rule?: string) => void,
): KMatchArg | undefined {
  const op = K.OP[m.operator];
  if (cls === 'str') {
    const max = m.operator.includes('fix') ? 252 : 255;
    for (let i = 0; i < m.values.length; i++) {
      const v = m.values[i]!;
      if (Buffer.byteLength(v) > max) {
        err(
          m.valueSpans[i] ?? m.span,
          `string value of ${Buffer.byteLength(v)} bytes; ${m.operator} compares at most ${max} bytes (the handler reads 255 bytes of a string, an LPM key holds 252)`,
          'runtime/string-too-long',
        );
        return undefined;
      }
    }
    if (m.operator === 'Equal' || m.operator === 'NotEqual') return { index: pos, op, vals: [], setId: newSet('str', m.values) };
    if (m.operator === 'Prefix' || m.operator === 'NotPrefix') return { index: pos, op, vals: [], setId: newSet('prefix', m.values) };
    if (m.operator === 'Postfix' || m.operator === 'NotPostfix') return { index: pos, op, vals: [], setId: newSet('postfix', m.values) };
    err(
      m.span,
      `operator ${m.operator} compares numbers; argument ${m.index} is a string (use Equal, Prefix or Postfix)`,
      'runtime/operator-type',
    );
    return undefined;
  }
  if (m.operator.includes('Prefix') || m.operator.includes('Postfix')) {
    err(m.span, `operator ${m.operator} compares strings; argument ${m.index} is a number`, 'runtime/operator-type');
    return undefined;
  }
  const nums: bigint[] = [];
  const ranges: bigint[] = [];
  for (let i = 0; i < m.values.length; i++) {
    const raw = m.values[i]!;
    if (m.operator === 'InRange' || m.operator === 'NotInRange') {
      const [lo, hi] = raw.split(':').map((x) => parseNumber(x));
      if (lo === undefined || hi === undefined) {
        err(m.valueSpans[i] ?? m.span, `${m.operator} values are ranges written low:high, not ${JSON.stringify(raw)}`, 'runtime/bad-value');
        return undefined;
      }
      ranges.push(lo, hi);
      continue;
    }
    // syscall names in InMap lists (type: syscalls) become their numbers.
    const sys = syscallName(raw);
    const n =
      parseNumber(raw) ??
      (m.operator === 'InMap' || m.operator === 'NotInMap' ? (sys === undefined ? undefined : BigInt(syscallNumbers[sys]!)) : undefined);
    if (n === undefined) {
      err(
        m.valueSpans[i] ?? m.span,
        compatPrefix.test(raw)
          ? `${raw} is a 32-bit compat syscall; the x86_64 tracepoints never report it`
          : `${JSON.stringify(raw)} is not a number (argument ${m.index} is numeric)`,
        'runtime/bad-value',
      );
      return undefined;
    }
    nums.push(n);
  }
  const cap = limits.valuesPerNumericOperator;
  switch (m.operator) {
    case 'GreaterThan':
    case 'LessThan':
      if (nums.length !== 1) {
        err(m.span, `${m.operator} takes exactly one value`, 'runtime/too-many-values');
        return undefined;
      }
      return { index: pos, op, vals: nums, setId: 0 };
    case 'Mask':
      if (nums.length > cap) {
        err(m.span, `Mask takes at most ${cap} values (Tetragon's limit)`, 'runtime/too-many-values');
        return undefined;
      }
      return { index: pos, op, vals: nums, setId: 0 };
    case 'InRange':
    case 'NotInRange':
      if (ranges.length > cap) {
        err(m.span, `${m.operator} takes at most ${cap / 2} ranges`, 'runtime/too-many-values');
        return undefined;
      }
      return { index: pos, op, vals: ranges, setId: 0 };
    case 'Equal':
    case 'NotEqual':
      // Up to 4 values inline; more go to a numeric set (same semantics, a hash lookup).
      if (nums.length <= cap) return { index: pos, op, vals: nums, setId: 0 };
      return { index: pos, op: m.operator === 'Equal' ? K.OP.InMap : K.OP.NotInMap, vals: [], setId: newSet('num', nums) };
    default:
      return { index: pos, op, vals: [], setId: newSet('num', nums) };
  }
}
