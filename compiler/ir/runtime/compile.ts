// Runtime IR: TracingPolicy / TracingPolicyNamespaced documents → normalized hooks and selectors,
// with Tetragon's semantics and limits (pkg/selectors, pkg/sensors/tracing) checked at file:line:col.
import { diagnostic, type Diagnostic, type Span } from '../../diagnostics.js';
import type { NodePath } from '../../load/yaml.js';
import type { PolicyDocument, Provenance } from '../../load/document.js';
import { tetragonLimits as limits } from '../../model/tetragon-limits.js';
import { isObj } from '../../model/value.js';
import { binaryOperators, binaryReach, type BinaryOperator } from './kill-reach.js';

/** The runtime policy limits (compiler/model/tetragon-limits.ts), as lowering reads them from here. */
export { limits };

export type HookKind = 'kprobe' | 'tracepoint' | 'lsm' | 'uprobe' | 'usdt';

export const argOperators = [
  'Equal',
  'NotEqual',
  'Prefix',
  'NotPrefix',
  'Postfix',
  'NotPostfix',
  'GreaterThan',
  'LessThan',
  'Mask',
  'InRange',
  'NotInRange',
  'InMap',
  'NotInMap',
  ...socketOperatorNames(),
] as const;
/** Tetragon's socket operators: they apply to sock, skb, sockaddr and socket arguments of kernel functions. */
function socketOperatorNames() {
  return [
    'SPort',
    'NotSPort',
    'SPortPriv',
    'NotSPortPriv',
    'DPort',
    'NotDPort',
    'DPortPriv',
    'NotDPortPriv',
    'SAddr',
    'NotSAddr',
    'DAddr',
    'NotDAddr',
    'Protocol',
    'Family',
    'State',
  ] as const;
}
export const socketOperators: ReadonlySet<string> = new Set(socketOperatorNames());
export type ArgOperator = (typeof argOperators)[number];
/** Tetragon accepts these spellings too. */
const operatorAliases: Record<string, ArgOperator> = { GT: 'GreaterThan', LT: 'LessThan', In: 'Equal', NotIn: 'NotEqual' };
/** Operators of Tetragon that weir's runtime engine does not evaluate. */
const foreignOperators = new Set(['CapabilitiesGained', 'FileType', 'NotFileType']);

export { binaryOperators, type BinaryOperator } from './kill-reach.js';

export const actionNames = ['Post', 'NoPost', 'Sigkill', 'Signal', 'Override', 'TrackSock', 'UntrackSock'] as const;
export type ActionName = (typeof actionNames)[number];
/** Tetragon actions weir knows by name but does not implement (named in the diagnostic). */
const foreignActions = new Set([
  'FollowFD',
  'UnfollowFD',
  'CopyFD',
  'GetUrl',
  'DnsLookup',
  'NotifyEnforcer',
  'CleanupEnforcerNotification',
  'Set',
]);

export const namespaceKinds = ['Uts', 'Ipc', 'Mnt', 'Pid', 'PidForChildren', 'Net', 'Cgroup', 'Time', 'TimeForChildren', 'User'] as const;
export type NamespaceKind = (typeof namespaceKinds)[number];

export interface Located {
  span: Span;
}

export interface ArgSpec extends Located {
  /** Argument index: for kprobes the function argument, for tracepoints the format field. */
  index: number;
  type: string;
  label?: string;
  /** char_buf: the index (0-based, in the function's arguments) of the argument holding its size. */
  sizeArgIndex?: number;
}

export interface MatchArg extends Located {
  /** The args entry's `index` it tests (tracepoint positions are resolved to it). */
  index: number;
  operator: ArgOperator;
  /** Values as strings (numbers normalized by the lowering, which knows the arg type); `list:` values expanded. */
  values: string[];
  valueSpans: Span[];
}

export interface MatchBinaries extends Located {
  operator: BinaryOperator;
  values: string[];
  followChildren: boolean;
}

export interface MatchPIDs extends Located {
  operator: 'In' | 'NotIn';
  values: number[];
  followForks: boolean;
  isNamespacePID: boolean;
}

export interface MatchNamespaces extends Located {
  namespace: NamespaceKind;
  operator: 'In' | 'NotIn';
  /** Inode numbers, or 'host_ns'. */
  values: (number | 'host_ns')[];
}

export interface MatchCapabilities extends Located {
  type: 'Effective' | 'Inheritable' | 'Permitted';
  operator: 'In' | 'NotIn';
  /** Capability numbers (CAP_SYS_ADMIN = 21, ...). */
  values: number[];
  isNamespaceCapability: boolean;
}

export interface Action extends Located {
  action: ActionName;
  /** Signal for Signal (Sigkill: 9). */
  argSig?: number;
  /** Errno for Override. */
  argError?: number;
}

export interface Selector extends Located {
  matchArgs: MatchArg[];
  matchBinaries: MatchBinaries[];
  matchPIDs: MatchPIDs[];
  matchNamespaces: MatchNamespaces[];
  matchCapabilities: MatchCapabilities[];
  matchActions: Action[];
  /** matchReturnArgs: filters on the return value (their index is 0, the returnArg). */
  matchReturnArgs: MatchArg[];
  /** Filters the IR records but the syscall handler does not evaluate (matchReturnArgs, ...), by key. */
  unsupported: { key: string; span: Span }[];
}

export interface Hook extends Located {
  kind: HookKind;
  /** Index in its spec list (spec.kprobes[i]) for provenance. */
  listIndex: number;
  /** kprobe/lsm function, uprobe symbol; for tracepoints `subsystem/event`. */
  call: string;
  subsystem?: string;
  event?: string;
  /** kprobe `syscall: true`. */
  syscall: boolean;
  /** kprobe `return: true` (a return probe as well). */
  returnProbe: boolean;
  args: ArgSpec[];
  /** returnArg: the type the return value is read as (a return probe). */
  returnArg?: ArgSpec;
  /** ignore.callNotFound: a node whose kernel lacks the function skips the hook. */
  optional?: boolean;
  /** tracepoint `raw: true`: a raw tracepoint, its arguments the kernel's TP_PROTO ones. */
  raw?: boolean;
  /** A kprobe on `list:` of a generated_syscalls list: every syscall (raw_syscalls/sys_enter). */
  allSyscalls?: boolean;
  selectors: Selector[];
  /** Keys present in the hook the lowering must refuse (returnArg, ...). */
  unsupported: { key: string; span: Span }[];
  message?: string;
  tags: string[];
}

export interface RuntimePolicy {
  name: string;
  kind: 'TracingPolicy' | 'TracingPolicyNamespaced';
  namespace?: string;
  mode: 'enforce' | 'monitor';
  podSelector?: Record<string, unknown>;
  hooks: Hook[];
  lists: Map<string, { type: string; values: string[] }>;
  annotations: Record<string, string>;
  provenance: Provenance;
  span: Span;
  /** Spans by name for later stages' diagnostics. */
  locate: PolicyDocument['locate'];
  /** spec.enforcers present (weir has no enforcer program). */
  enforcers?: Span;
}

export interface RuntimeIR {
  policies: RuntimePolicy[];
}

/** Annotation that allows a Sigkill/Signal selector with no process scoping (matchBinaries, matchPIDs, matchNamespaces, pod scope). */
export const allowHostWideKillAnnotation = 'weir.dev/allow-host-wide-kill';

/** Linux capability names by number (CAP_CHOWN = 0, ...). */
export const capabilityNames = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/** Builds the runtime IR from every runtime-family document; diagnostics for everything that cannot be honoured. */
export function buildRuntimeIR(documents: readonly PolicyDocument[]): { ir: RuntimeIR; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const policies: RuntimePolicy[] = [];
  for (const doc of documents) {
    if (doc.family !== 'runtime') continue;
    const before = diagnostics.length;
    const p = parsePolicy(doc, diagnostics);
    // A policy with an error is not lowered at all: half a policy in the kernel is worse than none.
    if (p && !diagnostics.slice(before).some((d) => d.severity === 'error')) policies.push(p);
  }
  return { ir: { policies }, diagnostics };
}

function parsePolicy(doc: PolicyDocument, out: Diagnostic[]): RuntimePolicy | undefined {
  const commit = doc.provenance.commit;
  const at = (p: NodePath, key = false): Span => doc.locate(p, { key });
  const err = (rule: string, path: NodePath, message: string, key = false) =>
    out.push(diagnostic(rule, 'error', message, at(path, key), commit === undefined ? {} : { commit }));
  const warn = (rule: string, path: NodePath, message: string) =>
    out.push(diagnostic(rule, 'warning', message, at(path), commit === undefined ? {} : { commit }));
  const v = doc.value;
  const meta = isObj(v['metadata']) ? v['metadata'] : {};
  if (!doc.name) err('runtime/missing-name', ['metadata'], `${doc.kind} has no metadata.name; Tetragon events carry it as policy_name`);
  const spec = v['spec'];
  if (!isObj(spec)) {
    err('runtime/missing-spec', v['spec'] === undefined ? ['kind'] : ['spec'], `${doc.kind} ${doc.name} has no spec mapping`);
    return undefined;
  }
  const annotations: Record<string, string> = {};
  if (isObj(meta['annotations'])) for (const [k, a] of Object.entries(meta['annotations'])) annotations[k] = String(a);

  const known = new Set([
    'kprobes',
    'tracepoints',
    'lsmhooks',
    'uprobes',
    'usdts',
    'lists',
    'options',
    'podSelector',
    'containerSelector',
    'enforcers',
    'loader',
    'rawtps',
    'hostSelector',
  ]);
  for (const k of Object.keys(spec))
    if (!known.has(k))
      err('runtime/unknown-field', ['spec', k], `unknown field spec.${k} in ${doc.kind}; expected one of ${[...known].join(', ')}`, true);

  if (spec['loader'] === true)
    err(
      'runtime/unsupported-hook',
      ['spec', 'loader'],
      "spec.loader needs Tetragon's loader sensor (library loads from perf mmap events), which weir does not have",
    );
  if (spec['rawtps'] !== undefined)
    err(
      'runtime/unsupported-hook',
      ['spec', 'rawtps'],
      'spec.rawtps: weir hooks syscall tracepoints only (use tracepoints: syscalls/sys_enter_*)',
      true,
    );
  if (spec['hostSelector'] !== undefined)
    err(
      'runtime/unsupported-selector',
      ['spec', 'hostSelector'],
      'spec.hostSelector is not implemented: weir compiles per node from the inventory instead',
      true,
    );
  // options: [{name: policy-mode, value: enforce|monitor}]
  let mode: 'enforce' | 'monitor' = 'enforce';
  if (Array.isArray(spec['options'])) {
    spec['options'].forEach((o, i) => {
      if (!isObj(o)) return;
      if (o['name'] === 'policy-mode') {
        if (o['value'] === 'monitor' || o['value'] === 'enforce') mode = o['value'];
        else
          err(
            'runtime/bad-policy-mode',
            ['spec', 'options', i, 'value'],
            `policy-mode must be enforce or monitor, not ${JSON.stringify(o['value'])}`,
          );
      }
    });
  }

  const lists = new Map<string, { type: string; values: string[] }>();
  if (Array.isArray(spec['lists'])) {
    spec['lists'].forEach((l, i) => {
      if (!isObj(l) || typeof l['name'] !== 'string') return err('runtime/bad-list', ['spec', 'lists', i], 'a list needs a name');
      const type = typeof l['type'] === 'string' ? l['type'] : '';
      const values = Array.isArray(l['values']) ? l['values'].map(String) : [];
      if (type === 'generated_ftrace')
        err(
          'runtime/generated-list',
          ['spec', 'lists', i, 'type'],
          `list ${l['name']} is of type ${type}, which Tetragon fills from the node's kernel functions matching a pattern at load time; weir compiles lists from their values only: list the functions explicitly`,
        );
      lists.set(l['name'], { type, values });
    });
  }

  const hooks: Hook[] = [];
  const hookList = (name: 'kprobes' | 'tracepoints' | 'lsmhooks' | 'uprobes' | 'usdts', kind: HookKind) => {
    const arr = spec[name];
    if (arr === undefined) return;
    if (!Array.isArray(arr)) return err('runtime/bad-hooks', ['spec', name], `spec.${name} must be a list`);
    arr.forEach((h, i) => {
      const hook = parseHook(doc, kind, name, i, h, lists, out);
      if (hook) hooks.push(...hook);
    });
  };
  hookList('kprobes', 'kprobe');
  hookList('tracepoints', 'tracepoint');
  hookList('lsmhooks', 'lsm');
  hookList('uprobes', 'uprobe');
  hookList('usdts', 'usdt');
  if (hooks.length === 0 && !spec['enforcers'])
    warn('runtime/no-hooks', ['spec'], `${doc.kind} ${doc.name} has no kprobes, tracepoints, lsmhooks or uprobes: it does nothing`);

  const policy: RuntimePolicy = {
    name: doc.name,
    kind: doc.kind === 'TracingPolicyNamespaced' ? 'TracingPolicyNamespaced' : 'TracingPolicy',
    ...(doc.namespace === undefined ? {} : { namespace: doc.namespace }),
    mode,
    ...(isObj(spec['podSelector']) ? { podSelector: spec['podSelector'] } : {}),
    hooks,
    lists,
    annotations,
    provenance: doc.provenance,
    span: doc.span,
    locate: doc.locate,
    ...(spec['enforcers'] !== undefined ? { enforcers: at(['spec', 'enforcers'], true) } : {}),
  };
  if (policy.kind === 'TracingPolicyNamespaced' && !policy.namespace)
    err(
      'runtime/missing-namespace',
      ['metadata'],
      `TracingPolicyNamespaced ${doc.name} needs metadata.namespace: it applies to the pods of one namespace`,
    );
  checkHostWideKill(policy, out);
  return policy;
}

function parseHook(
  doc: PolicyDocument,
  kind: HookKind,
  listName: string,
  i: number,
  h: unknown,
  lists: RuntimePolicy['lists'],
  out: Diagnostic[],
): Hook[] | undefined {
  const base: NodePath = ['spec', listName, i];
  const commit = doc.provenance.commit;
  const at = (p: NodePath, key = false): Span => doc.locate([...base, ...p], { key });
  const err = (rule: string, p: NodePath, message: string, key = false) =>
    out.push(diagnostic(rule, 'error', message, at(p, key), commit === undefined ? {} : { commit }));
  if (!isObj(h)) {
    err('runtime/bad-hook', [], `${listName}[${i}] must be a mapping`);
    return undefined;
  }
  let calls: { call: string; span: Span; fromSyscallList?: boolean; allSyscalls?: boolean }[] = [];
  let subsystem: string | undefined;
  let event: string | undefined;
  if (kind === 'tracepoint') {
    subsystem = typeof h['subsystem'] === 'string' ? h['subsystem'] : undefined;
    event = typeof h['event'] === 'string' ? h['event'] : undefined;
    if (!subsystem || !event) {
      err('runtime/bad-hook', [], 'a tracepoint needs subsystem and event (e.g. subsystem: syscalls, event: sys_enter_openat)');
      return undefined;
    }
    calls = [{ call: `${subsystem}/${event}`, span: at([]) }];
  } else {
    const key = kind === 'lsm' ? 'hook' : kind === 'uprobe' ? 'symbols' : kind === 'usdt' ? 'name' : 'call';
    const c = h[key] ?? (kind === 'uprobe' ? h['symbol'] : undefined);
    const names = Array.isArray(c) ? c.map(String) : typeof c === 'string' ? [c] : [];
    if (names.length === 0) {
      err('runtime/bad-hook', [], `${listName}[${i}] needs \`${key}\``);
      return undefined;
    }
    for (const n of names) {
      if (n.startsWith('list:')) {
        const l = lists.get(n.slice(5));
        if (!l) {
          err('runtime/unknown-list', [key], `${n} names no entry of spec.lists`);
          continue;
        }
        // generated_syscalls: every syscall of the node's kernel, which is what raw_syscalls/sys_enter sees.
        if (l.type === 'generated_syscalls') calls.push({ call: 'raw_syscalls/sys_enter', span: at([key]), allSyscalls: true });
        for (const v of l.values) calls.push({ call: v, span: at([key]), fromSyscallList: l.type === 'syscalls' });
      } else calls.push({ call: n, span: at([key]) });
    }
  }
  const args: ArgSpec[] = [];
  if (Array.isArray(h['args'])) {
    if (h['args'].length > limits.argsPerHook)
      err(
        'runtime/too-many-args',
        ['args'],
        `${h['args'].length} args; weir reads at most ${limits.argsPerHook} per hook (Tetragon's limit)`,
      );
    h['args'].forEach((a, j) => {
      if (!isObj(a)) return;
      const index = a['index'];
      if (typeof index !== 'number' || !Number.isInteger(index) || index < 0)
        return err('runtime/bad-arg-index', ['args', j, 'index'], `args[${j}].index must be a non-negative integer`);
      if (kind !== 'tracepoint' && index > 5)
        return err(
          'runtime/arg-index-range',
          ['args', j, 'index'],
          `argument index ${index} is out of range: a function or syscall has arguments 0 to 5`,
        );
      if (typeof a['type'] !== 'string') return err('runtime/bad-arg-type', ['args', j], `args[${j}] needs a type (int, string, ...)`);
      if (a['resolve'] !== undefined)
        return err(
          'runtime/unsupported-arg-type',
          ['args', j, 'resolve'],
          `args[${j}].resolve follows kernel struct fields by name through the node's BTF at load time; weir compiles its argument readers ahead of time and has no reader for ${JSON.stringify(String(a['resolve']))}`,
          true,
        );
      const size = a['sizeArgIndex'];
      if (size !== undefined && (typeof size !== 'number' || !Number.isInteger(size) || size < 1 || size > 6))
        return err(
          'runtime/bad-arg-index',
          ['args', j, 'sizeArgIndex'],
          'sizeArgIndex is the 1-based index (1 to 6) of the argument holding the size',
        );
      if (a['maxData'] === true)
        out.push(
          diagnostic(
            'runtime/max-data',
            'warning',
            `args[${j}].maxData: weir reads at most 255 bytes of a buffer argument; events carry that much`,
            at(['args', j, 'maxData'], true),
            commit === undefined ? {} : { commit },
          ),
        );
      args.push({
        index,
        type: a['type'],
        ...(typeof a['label'] === 'string' ? { label: a['label'] } : {}),
        ...(typeof size === 'number' ? { sizeArgIndex: size - 1 } : {}),
        span: at(['args', j]),
      });
    });
  }
  const unsupported: Hook['unsupported'] = [];
  for (const k of ['data'] as const) if (h[k] !== undefined) unsupported.push({ key: k, span: at([k], true) });
  let returnArg: ArgSpec | undefined;
  const ra = h['returnArg'];
  if (ra !== undefined) {
    if (!isObj(ra) || typeof ra['type'] !== 'string')
      err('runtime/bad-arg-type', ['returnArg'], 'returnArg needs a type (int, sock, file, ...)');
    else if (h['return'] !== true)
      // Tetragon reads the return value only with return: true; without it returnArg is ignored.
      out.push(
        diagnostic(
          'runtime/return-arg-ignored',
          'warning',
          'returnArg without `return: true` is ignored: the return value is read by a return probe only',
          at(['returnArg'], true),
          commit === undefined ? {} : { commit },
        ),
      );
    else returnArg = { index: 0, type: ra['type'], span: at(['returnArg']) };
  }
  if (h['return'] === true && returnArg === undefined && ra === undefined)
    // Tetragon reports the return value of a return probe as an int when returnArg is not given.
    returnArg = { index: 0, type: 'int', span: at(['return'], true) };
  const raa = h['returnArgAction'];
  if (raa !== undefined && raa !== 'Post' && raa !== 'TrackSock' && raa !== 'UntrackSock')
    unsupported.push({ key: 'returnArgAction', span: at(['returnArgAction']) });
  if (raa === 'TrackSock' || raa === 'UntrackSock')
    out.push(
      diagnostic(
        'runtime/sock-tracking',
        'warning',
        `returnArgAction ${raa}: weir attributes socket events to the calling process and keeps no socket-to-process table; the action has no effect`,
        at(['returnArgAction']),
        commit === undefined ? {} : { commit },
      ),
    );
  const ignore = h['ignore'];
  if (ignore !== undefined && !(isObj(ignore) && Object.keys(ignore).every((k) => k === 'callNotFound')))
    unsupported.push({ key: 'ignore', span: at(['ignore'], true) });

  const selectors: Selector[] = [];
  if (h['selectors'] !== undefined) {
    if (!Array.isArray(h['selectors'])) err('runtime/bad-selectors', ['selectors'], 'selectors must be a list');
    else {
      if (h['selectors'].length > limits.selectorsPerHook)
        err(
          'runtime/too-many-selectors',
          ['selectors'],
          `${h['selectors'].length} selectors; a hook takes at most ${limits.selectorsPerHook} (Tetragon's limit): merge selectors or split the hook`,
        );
      h['selectors'].forEach((s, j) => {
        const sel = parseSelector(
          s,
          (p) => at(['selectors', j, ...p]),
          (p, k) => at(['selectors', j, ...p], k),
          lists,
          args,
          kind,
          out,
          commit,
        );
        if (sel) selectors.push(sel);
      });
    }
  }
  const tags = Array.isArray(h['tags']) ? h['tags'].map(String) : [];
  return calls.map(({ call, fromSyscallList, allSyscalls }) => ({
    kind,
    listIndex: i,
    call,
    ...(subsystem === undefined ? {} : { subsystem }),
    ...(event === undefined ? {} : { event }),
    syscall: h['syscall'] === true || fromSyscallList === true || allSyscalls === true,
    returnProbe: h['return'] === true,
    args,
    ...(returnArg ? { returnArg } : {}),
    ...(isObj(ignore) && ignore['callNotFound'] === true ? { optional: true } : {}),
    ...(allSyscalls ? { allSyscalls: true } : {}),
    ...(kind === 'tracepoint' && h['raw'] === true ? { raw: true } : {}),
    selectors,
    unsupported,
    ...(typeof h['message'] === 'string' ? { message: h['message'] } : {}),
    tags,
    span: at([]),
  }));
}

function parseSelector(
  s: unknown,
  at: (p: NodePath) => Span,
  atKey: (p: NodePath, key: boolean) => Span,
  lists: RuntimePolicy['lists'],
  args: ArgSpec[],
  kind: HookKind,
  out: Diagnostic[],
  commit: string | undefined,
): Selector | undefined {
  const err = (rule: string, p: NodePath, message: string, key = false) =>
    out.push(diagnostic(rule, 'error', message, atKey(p, key), commit === undefined ? {} : { commit }));
  if (!isObj(s)) {
    err('runtime/bad-selector', [], 'a selector must be a mapping of match* filters');
    return undefined;
  }
  const sel: Selector = {
    matchArgs: [],
    matchBinaries: [],
    matchPIDs: [],
    matchNamespaces: [],
    matchCapabilities: [],
    matchActions: [],
    matchReturnArgs: [],
    unsupported: [],
    span: at([]),
  };
  const known = new Set([
    'matchArgs',
    'matchBinaries',
    'matchPIDs',
    'matchNamespaces',
    'matchCapabilities',
    'matchActions',
    'matchReturnArgs',
    'matchReturnActions',
    'matchNamespaceChanges',
    'matchCapabilityChanges',
    'matchData',
  ]);
  for (const k of Object.keys(s)) {
    if (!known.has(k)) err('runtime/unknown-field', [k], `unknown selector field ${k}; expected one of ${[...known].join(', ')}`, true);
    else if (k === 'matchReturnActions' || k.endsWith('Changes') || k === 'matchData')
      sel.unsupported.push({ key: k, span: atKey([k], true) });
  }
  const list = (k: string): unknown[] => (Array.isArray(s[k]) ? (s[k] as unknown[]) : []);

  for (const key of ['matchArgs', 'matchReturnArgs'] as const) {
    const ma = list(key);
    const ret = key === 'matchReturnArgs';
    if (ma.length > limits.matchArgsPerSelector)
      err('runtime/too-many-match-args', [key], `${ma.length} ${key}; a selector takes at most ${limits.matchArgsPerSelector}`);
    ma.forEach((m, j) => {
      if (!isObj(m)) return;
      const p: NodePath = [key, j];
      const index =
        typeof m['index'] === 'number'
          ? m['index']
          : typeof m['args'] === 'object' && Array.isArray(m['args'])
            ? Number(m['args'][0])
            : NaN;
      if (!Number.isInteger(index)) return err('runtime/bad-match-arg', p, `${key} entry needs an integer index`);
      if (ret && index !== 0)
        return err('runtime/arg-index-range', [...p, 'index'], `matchReturnArgs index ${index}: the return value is index 0`);
      // Tetragon: for kprobes the index names an args entry by its index; for tracepoints it is the position in args.
      // matchReturnArgs test the return value, position -1.
      const resolved = ret ? -1 : kind === 'tracepoint' ? args[index]?.index : args.some((a) => a.index === index) ? index : undefined;
      if (resolved === undefined)
        return err(
          'runtime/arg-index-range',
          [...p, 'index'],
          kind === 'tracepoint'
            ? `matchArgs index ${index} is out of range: for a tracepoint it is the position in args, which has ${args.length} entr${args.length === 1 ? 'y' : 'ies'}`
            : `matchArgs index ${index} refers to no entry of this hook's args (declared: ${args.map((a) => a.index).join(', ') || 'none'}); declare the argument with its type`,
        );
      const rawOp = String(m['operator'] ?? '');
      if (foreignOperators.has(rawOp))
        return err(
          'runtime/unsupported-operator',
          [...p, 'operator'],
          `operator ${rawOp} is not evaluated by weir's runtime engine (it needs Tetragon's file-type and capability-change tracking)`,
        );
      const operator = (argOperators as readonly string[]).includes(rawOp) ? (rawOp as ArgOperator) : operatorAliases[rawOp];
      if (!operator)
        return err(
          'runtime/unknown-operator',
          [...p, 'operator'],
          `unknown matchArgs operator ${JSON.stringify(rawOp)}; expected one of ${argOperators.join(', ')}`,
        );
      const values: string[] = [];
      const valueSpans: Span[] = [];
      (Array.isArray(m['values']) ? m['values'] : []).forEach((val, k) => {
        const str = String(val);
        if (str.startsWith('list:')) {
          const l = lists.get(str.slice(5));
          if (!l) return err('runtime/unknown-list', [...p, 'values', k], `${str} names no entry of spec.lists`);
          for (const x of l.values) {
            values.push(x);
            valueSpans.push(at([...p, 'values', k]));
          }
        } else {
          values.push(str);
          valueSpans.push(at([...p, 'values', k]));
        }
      });
      if (values.length === 0 && !operator.endsWith('Priv'))
        return err('runtime/empty-values', p, `${key} ${operator} needs at least one value`);
      sel[key].push({ index: resolved, operator, values, valueSpans, span: at(p) });
    });
  }

  const mb = list('matchBinaries');
  if (mb.length > limits.matchBinariesPerSelector)
    err(
      'runtime/too-many-match-binaries',
      ['matchBinaries'],
      `${mb.length} matchBinaries entries; a selector takes at most ${limits.matchBinariesPerSelector} (Tetragon's limit): put all paths in one entry`,
    );
  mb.forEach((m, j) => {
    if (!isObj(m)) return;
    const op = String(m['operator'] ?? '');
    if (!(binaryOperators as readonly string[]).includes(op))
      return err(
        'runtime/unknown-operator',
        ['matchBinaries', j, 'operator'],
        `unknown matchBinaries operator ${JSON.stringify(op)}; expected one of ${binaryOperators.join(', ')}`,
      );
    const values = (Array.isArray(m['values']) ? m['values'] : []).map(String);
    if (values.length === 0) return err('runtime/empty-values', ['matchBinaries', j], 'matchBinaries needs at least one path');
    values.forEach((b, k) => {
      const max = op.includes('fix') ? limits.lpmStringBytes : limits.stringBytes;
      if (Buffer.byteLength(b) > max)
        err(
          'runtime/string-too-long',
          ['matchBinaries', j, 'values', k],
          `binary path of ${Buffer.byteLength(b)} bytes; at most ${max} bytes are compared`,
        );
    });
    sel.matchBinaries.push({
      operator: op as BinaryOperator,
      values,
      followChildren: m['followChildren'] === true,
      span: at(['matchBinaries', j]),
    });
  });

  const mp = list('matchPIDs');
  if (mp.length > limits.matchPIDsPerSelector)
    err(
      'runtime/too-many-match-pids',
      ['matchPIDs'],
      `${mp.length} matchPIDs entries; weir evaluates at most ${limits.matchPIDsPerSelector} per selector`,
    );
  mp.forEach((m, j) => {
    if (!isObj(m)) return;
    const op = m['operator'];
    if (op !== 'In' && op !== 'NotIn')
      return err(
        'runtime/unknown-operator',
        ['matchPIDs', j, 'operator'],
        `matchPIDs operator must be In or NotIn, not ${JSON.stringify(op)}`,
      );
    const values = (Array.isArray(m['values']) ? m['values'] : []).map(Number);
    if (values.some((x) => !Number.isInteger(x) || x < 0))
      return err('runtime/bad-value', ['matchPIDs', j, 'values'], 'matchPIDs values must be non-negative integers');
    if (values.length > limits.valuesPerNumericOperator)
      return err(
        'runtime/too-many-values',
        ['matchPIDs', j, 'values'],
        `${values.length} pids; at most ${limits.valuesPerNumericOperator} per matchPIDs entry`,
      );
    sel.matchPIDs.push({
      operator: op,
      values,
      followForks: m['followForks'] === true,
      isNamespacePID: m['isNamespacePID'] === true,
      span: at(['matchPIDs', j]),
    });
  });

  const mn = list('matchNamespaces');
  if (mn.length > limits.matchNamespacesPerSelector)
    err(
      'runtime/too-many-match-namespaces',
      ['matchNamespaces'],
      `${mn.length} matchNamespaces entries; weir evaluates at most ${limits.matchNamespacesPerSelector} per selector`,
    );
  mn.forEach((m, j) => {
    if (!isObj(m)) return;
    const ns = String(m['namespace'] ?? '');
    if (!(namespaceKinds as readonly string[]).includes(ns))
      return err(
        'runtime/bad-namespace',
        ['matchNamespaces', j, 'namespace'],
        `unknown namespace ${JSON.stringify(ns)}; expected one of ${namespaceKinds.join(', ')}`,
      );
    const op = m['operator'];
    if (op !== 'In' && op !== 'NotIn')
      return err('runtime/unknown-operator', ['matchNamespaces', j, 'operator'], `matchNamespaces operator must be In or NotIn`);
    const values = (Array.isArray(m['values']) ? m['values'] : []).map((x) => (String(x) === 'host_ns' ? ('host_ns' as const) : Number(x)));
    if (values.some((x) => x !== 'host_ns' && !Number.isInteger(x)))
      return err('runtime/bad-value', ['matchNamespaces', j, 'values'], 'namespace values are inode numbers or host_ns');
    if (values.length > limits.valuesPerNumericOperator)
      return err(
        'runtime/too-many-values',
        ['matchNamespaces', j, 'values'],
        `at most ${limits.valuesPerNumericOperator} namespace values`,
      );
    sel.matchNamespaces.push({ namespace: ns as NamespaceKind, operator: op, values, span: at(['matchNamespaces', j]) });
  });

  list('matchCapabilities').forEach((m, j) => {
    if (!isObj(m)) return;
    const type = (m['type'] ?? 'Effective') as string;
    if (type !== 'Effective' && type !== 'Inheritable' && type !== 'Permitted')
      return err('runtime/bad-value', ['matchCapabilities', j, 'type'], 'capability type must be Effective, Inheritable or Permitted');
    const op = m['operator'];
    if (op !== 'In' && op !== 'NotIn')
      return err('runtime/unknown-operator', ['matchCapabilities', j, 'operator'], 'matchCapabilities operator must be In or NotIn');
    const values: number[] = [];
    (Array.isArray(m['values']) ? m['values'] : []).forEach((c, k) => {
      const n = capabilityNames.indexOf(String(c));
      if (n < 0)
        err(
          'runtime/bad-value',
          ['matchCapabilities', j, 'values', k],
          `unknown capability ${JSON.stringify(c)} (expected CAP_SYS_ADMIN, CAP_NET_RAW, ...)`,
        );
      else values.push(n);
    });
    sel.matchCapabilities.push({
      type,
      operator: op,
      values,
      isNamespaceCapability: m['isNamespaceCapability'] === true,
      span: at(['matchCapabilities', j]),
    });
  });
  if (sel.matchCapabilities.length > 1)
    err('runtime/too-many-match-capabilities', ['matchCapabilities'], 'weir evaluates one matchCapabilities entry per selector');

  const acts = list('matchActions');
  if (acts.length > limits.actionsPerSelector)
    err('runtime/too-many-actions', ['matchActions'], `${acts.length} actions; a selector takes at most ${limits.actionsPerSelector}`);
  acts.forEach((a, j) => {
    if (!isObj(a)) return;
    const name = String(a['action'] ?? '');
    const canon = actionNames.find((n) => n.toLowerCase() === name.toLowerCase());
    if (!canon) {
      if (foreignActions.has(name))
        return err(
          'runtime/unsupported-action',
          ['matchActions', j, 'action'],
          `action ${name} needs Tetragon's fd/socket/enforcer tracking, which weir does not implement`,
        );
      return err(
        'runtime/unknown-action',
        ['matchActions', j, 'action'],
        `unknown action ${JSON.stringify(name)}; expected one of ${actionNames.join(', ')}`,
      );
    }
    const act: Action = { action: canon, span: at(['matchActions', j]) };
    if (canon === 'TrackSock' || canon === 'UntrackSock')
      out.push(
        diagnostic(
          'runtime/sock-tracking',
          'warning',
          `action ${canon}: weir attributes socket events to the calling process and keeps no socket-to-process table; the action has no effect`,
          atKey(['matchActions', j, 'action'], false),
          commit === undefined ? {} : { commit },
        ),
      );
    if (canon === 'Signal') {
      const sig = Number(a['argSig']);
      if (!Number.isInteger(sig) || sig < 1 || sig > 64)
        return err('runtime/bad-value', ['matchActions', j], 'Signal needs argSig, a signal number 1..64');
      act.argSig = sig;
    }
    if (canon === 'Sigkill') act.argSig = 9;
    if (canon === 'Override') {
      const e = Number(a['argError']);
      if (!Number.isInteger(e))
        return err('runtime/bad-value', ['matchActions', j], 'Override needs argError, the negative errno to return (e.g. -1)');
      act.argError = e;
    }
    sel.matchActions.push(act);
  });
  return sel;
}

/**
 * Sigkill/Signal that can reach host processes needs the override annotation. A policy not scoped
 * to pods (TracingPolicyNamespaced or a podSelector; weir does not enforce containerSelector) runs
 * on every process of the node, so each killing selector must then be narrowed by a non-host
 * matchNamespaces, matchPIDs In, or a matchBinaries set that cannot match init, the node's daemons,
 * its runtimes or a shell (binaryReach: Prefix "/", Postfix "sh" and NotIn do).
 */
function checkHostWideKill(p: RuntimePolicy, out: Diagnostic[]): void {
  if (p.annotations[allowHostWideKillAnnotation] === 'true') return;
  // In monitor mode no signal is ever sent (the event is posted): nothing host-wide can be killed.
  if (p.mode === 'monitor') return;
  if (p.kind === 'TracingPolicyNamespaced' || p.podSelector) return;
  const fix = `scope the policy to pods (TracingPolicyNamespaced or spec.podSelector) or the selector with a non-host matchNamespaces (NotIn host_ns), matchPIDs In, or matchBinaries naming specific programs, or annotate the policy ${allowHostWideKillAnnotation}: "true" if that is intended`;
  const commit = p.provenance.commit === undefined ? {} : { commit: p.provenance.commit };
  for (const h of p.hooks) {
    for (const s of h.selectors) {
      const kills = s.matchActions.filter((a) => a.action === 'Sigkill' || a.action === 'Signal');
      if (kills.length === 0) continue;
      const action = kills[0]!.action;
      if (s.matchPIDs.some((m) => m.operator === 'In' && m.values.includes(1) && !m.isNamespacePID)) {
        out.push(diagnostic('runtime/host-wide-kill', 'error', `${action} here would signal init (pid 1): ${fix}`, kills[0]!.span, commit));
        return;
      }
      const nsScoped = s.matchNamespaces.some((n) =>
        n.operator === 'NotIn' ? n.values.includes('host_ns') : !n.values.includes('host_ns'),
      );
      const pidScoped = s.matchPIDs.some((m) => m.operator === 'In');
      if (nsScoped || pidScoped) continue;
      if (s.matchBinaries.length === 0) {
        out.push(
          diagnostic(
            'runtime/host-wide-kill',
            'error',
            `${action} here would signal any process on the host that makes this call: ${fix}`,
            kills[0]!.span,
            commit,
          ),
        );
        return;
      }
      for (const b of s.matchBinaries) {
        const reach = binaryReach(b.operator, b.values);
        if (reach.length === 0) continue;
        const shown = reach.slice(0, 3).join(', ') + (reach.length > 3 ? `, … (${reach.length} in all)` : '');
        out.push(
          diagnostic(
            'runtime/host-wide-kill',
            'error',
            `${action} here would signal host processes: matchBinaries ${b.operator} ${JSON.stringify(b.values)} matches ${shown}, and the policy is not scoped to pods; ${fix}`,
            b.span,
            commit,
          ),
        );
        return;
      }
    }
  }
}
