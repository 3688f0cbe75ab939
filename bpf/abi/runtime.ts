// The runtime datapath's ABI: the structs of bpf/include/weir_runtime.h (checked against the BTF of
// wrt_runtime.bpf.o by check.ts at build time), its constants, the kernel records the lowering produces
// (hooks, selectors, sets), and the encoders and decoders of every runtime map key, value and
// ring-buffer record.
import {
  bytes,
  field as f,
  getBig,
  getBytes,
  getCString,
  getInt,
  getString,
  offsetOf,
  setBig,
  setBytes,
  setInt,
  structCodec,
  sumPerCpu,
  type StructLayout,
} from './layouts.js';

/** The weir_runtime.h structs (x86_64). */
export const runtimeLayouts = {
  wrt_match_arg: {
    size: 40,
    fields: { index: f(0, 1), op: f(1, 1), nvals: f(2, 1), pad: f(3, 1), set_id: f(4, 4), vals: f(8, 32, { count: 4 }) },
  },
  wrt_pid_filter: { size: 20, fields: { flags: f(0, 1), nvals: f(1, 1), pad: f(2, 2), vals: f(4, 16, { count: 4 }) } },
  wrt_ns_filter: { size: 20, fields: { kind: f(0, 1), flags: f(1, 1), nvals: f(2, 1), pad: f(3, 1), vals: f(4, 16, { count: 4 }) } },
  wrt_cap_filter: { size: 16, fields: { kind: f(0, 1), not_in: f(1, 1), flags: f(2, 2), pad2: f(4, 4), mask: f(8, 8) } },
  wrt_action: { size: 8, fields: { action: f(0, 4), arg: f(4, 4, { signed: true }) } },
  wrt_selector: {
    size: 336,
    fields: {
      n_args: f(0, 1),
      n_pids: f(1, 1),
      n_actions: f(2, 1),
      bin_op: f(3, 1),
      bin_set: f(4, 4),
      flags: f(8, 4),
      pad: f(12, 4),
      args: f(16, 200, { count: 5 }),
      pids: f(216, 40, { count: 2 }),
      ns: f(256, 40, { count: 2 }),
      cap: f(296, 16),
      actions: f(312, 24, { count: 3 }),
    },
  },
  wrt_call: { size: 20, fields: { open_start: f(0, 4), open_count: f(4, 4), index_id: f(8, 4), flags: f(12, 4), arg_reg: f(16, 4) } },
  wrt_span: { size: 8, fields: { start: f(0, 4), count: f(4, 4) } },
  wrt_hook: {
    size: 1712,
    fields: {
      policy_id: f(0, 4),
      hook_id: f(4, 4),
      n_args: f(8, 1),
      n_selectors: f(9, 1),
      flags: f(10, 2),
      scope_set: f(12, 4),
      arg_src: f(16, 5, { count: 5 }),
      arg_type: f(21, 5, { count: 5 }),
      pad: f(26, 6),
      sel: f(32, 1680, { count: 5 }),
    },
  },
  wrt_policy: { size: 8, fields: { mode: f(0, 4), flags: f(4, 4) } },
  wrt_str_key: { size: 264, fields: { len: f(0, 4), set_id: f(4, 4), str: f(8, 256) } },
  wrt_str_key_a: { size: 72, fields: { len: f(0, 4), set_id: f(4, 4), str: f(8, 64) } },
  wrt_str_key_b: { size: 136, fields: { len: f(0, 4), set_id: f(4, 4), str: f(8, 128) } },
  wrt_lpm_key: { size: 260, fields: { prefixlen: f(0, 4), set_id: f(4, 4), str: f(8, 252) } },
  wrt_num_key: { size: 16, fields: { set_id: f(0, 4), pad: f(4, 4), value: f(8, 8) } },
  wrt_node_info: { size: 32, fields: { host_ns: f(0, 32, { count: 8 }) } },
  wrt_proc: {
    size: 288,
    fields: {
      pid: f(0, 4),
      ppid: f(4, 4),
      uid: f(8, 4),
      flags: f(12, 4),
      exec_ktime: f(16, 8),
      binary_len: f(24, 4),
      pad: f(28, 4),
      binary: f(32, 256),
    },
  },
  wrt_stats: { size: 40, fields: { calls: f(0, 8), matches: f(8, 8), signals: f(16, 8), events: f(24, 8), events_lost: f(32, 8) } },
  wrt_event_hdr: {
    size: 312,
    fields: {
      kind: f(0, 1),
      action: f(1, 1),
      flags: f(2, 1),
      n_args: f(3, 1),
      policy_id: f(4, 4),
      hook_id: f(8, 4),
      syscall_nr: f(12, 4, { signed: true }),
      pid: f(16, 4),
      tid: f(20, 4),
      ppid: f(24, 4),
      uid: f(28, 4),
      ktime: f(32, 8),
      cgroup_id: f(40, 8),
      signal: f(48, 4, { signed: true }),
      binary_len: f(52, 4),
      binary: f(56, 256),
    },
  },
  wrt_event_exec: { size: 576, fields: { hdr: f(0, 312), args_len: f(312, 4), pad: f(316, 4), args: f(320, 256) } },
  wrt_event_call: {
    size: 1656,
    fields: {
      hdr: f(0, 312),
      arg_type: f(312, 5, { count: 5 }),
      pad: f(317, 3),
      str_len: f(320, 10, { count: 5 }),
      pad2: f(330, 6),
      argv: f(336, 40, { count: 5 }),
      strs: f(376, 1280, { count: 5 }),
    },
  },
  wrt_event_exit: { size: 320, fields: { hdr: f(0, 312), exit_code: f(312, 4, { signed: true }), pad: f(316, 4) } },
} as const satisfies Record<string, StructLayout>;

export type RuntimeStruct = keyof typeof runtimeLayouts;

/** The structs of bpf/runtime/wrt_args.h and wrt_readers.bpf.c's test entry (checked against wrt_readers.bpf.o's BTF). */
export const kernelEntryLayouts = {
  wrt_sock_facts: {
    size: 48,
    fields: {
      family: f(0, 2),
      protocol: f(2, 2),
      sport: f(4, 2),
      dport: f(6, 2),
      state: f(8, 1),
      pad: f(9, 7),
      saddr: f(16, 16),
      daddr: f(32, 16),
    },
  },
  wrt_test_out: {
    size: 320,
    fields: { len: f(0, 4), verdict: f(4, 4, { signed: true }), facts: f(8, 48), caps: f(56, 8), str: f(64, 256) },
  },
} as const satisfies Record<string, StructLayout>;

/** wrt_test_reader's result: the string read, the socket facts, the capability set, the operator's verdict (-1: none). */
export interface TestReaderOut {
  str: string;
  verdict: number;
  caps: bigint;
  facts: { family: number; protocol: number; sport: number; dport: number; state: number; saddr: Buffer; daddr: Buffer };
}

export function decodeTestReaderOut(value: Uint8Array): TestReaderOut {
  const b = bytes(value);
  const T = kernelEntryLayouts.wrt_test_out.fields;
  const F = kernelEntryLayouts.wrt_sock_facts.fields;
  const o = T.facts.offset;
  return {
    str: getString(b, T.str, Math.min(getInt(b, T.len), STR_MAX - 1)),
    verdict: getInt(b, T.verdict),
    caps: getBig(b, T.caps),
    facts: {
      family: getInt(b, F.family, o),
      protocol: getInt(b, F.protocol, o),
      sport: getInt(b, F.sport, o),
      dport: getInt(b, F.dport, o),
      state: getInt(b, F.state, o),
      saddr: getBytes(b, F.saddr, o),
      daddr: getBytes(b, F.daddr, o),
    },
  };
}

/** A raw tracepoint test context: 12 argument words (wrt_test_reader in wrt_readers.bpf.c, wrt_test_engine in kentry.h). */
export function encodeTestReaderCtx(words: readonly (number | bigint)[]): Buffer {
  const b = Buffer.alloc(12 * 8);
  const w = f(0, 8);
  words.slice(0, 12).forEach((v, i) => setBig(b, w, BigInt.asUintN(64, BigInt(v)), i * 8));
  return b;
}

/** Constants of bpf/include/weir_runtime.h (test/runtime/layout.test.ts checks them against the header text). */
export const K = {
  ABI_VERSION: 2,
  NR_ANY: 0xffffffff,
  ARG_SRC_NR: 6,
  ARG: {
    none: 0,
    int: 1,
    uint32: 2,
    int64: 3,
    uint64: 4,
    string: 5,
    file: 6,
    path: 7,
    fd: 8,
    sock: 9,
    skb: 10,
    sockaddr: 11,
    cred: 12,
    linux_binprm: 13,
    char_buf: 14,
    nop: 15,
    dentry: 16,
    module: 17,
    load_info: 18,
    bpf_map: 19,
    kiocb: 20,
    socket: 21,
    net_device: 22,
    capability: 23,
    user_namespace: 24,
    bpf_attr: 25,
    perf_event: 26,
    iov_iter: 27,
    user_string: 28,
  },
  /** wrt_hook.arg_type: type bits, and the shift of the char_buf size argument's position + 1. */
  ARG_TYPE_MASK: 0x1f,
  ARG_SIZE_SHIFT: 5,
  /** Hooks on kernel functions are keyed by SITE_BASE + the node's attach site number. */
  SITE_BASE: 0x40000000,
  ARG_SRC_RET: 7,
  OP: {
    Equal: 1,
    NotEqual: 2,
    Prefix: 3,
    NotPrefix: 4,
    Postfix: 5,
    NotPostfix: 6,
    GreaterThan: 7,
    LessThan: 8,
    Mask: 9,
    InRange: 10,
    NotInRange: 11,
    InMap: 12,
    NotInMap: 13,
    SPort: 14,
    NotSPort: 15,
    SPortPriv: 16,
    NotSPortPriv: 17,
    DPort: 18,
    NotDPort: 19,
    DPortPriv: 20,
    NotDPortPriv: 21,
    SAddr: 22,
    NotSAddr: 23,
    DAddr: 24,
    NotDAddr: 25,
    Protocol: 26,
    Family: 27,
    State: 28,
  },
  PID: { notIn: 1, namespacePid: 2, followForks: 4 },
  NS: { Uts: 1, Ipc: 2, Mnt: 3, Pid: 4, Net: 5, Cgroup: 6, PidForChildren: 7, User: 8 } as Record<string, number>,
  NS_FLAG: { notIn: 1, hostNs: 2 },
  CAP: { Effective: 1, Permitted: 2, Inheritable: 3 },
  /** wrt_cap_filter.flags: isNamespaceCapability. */
  CAP_FLAG: { namespace: 1 },
  ACTION: { Post: 1, NoPost: 2, Sigkill: 3, Signal: 4, Override: 5 },
  MODE: { enforce: 0, monitor: 1 },
  SEL: { binaries: 1, cgroupScope: 2, followChildren: 4 },
  HOOK: { scoped: 1 },
  /** wrt_call.flags: which prefilters hold entries for the call (binary / argument, forwards / reversed). */
  CALL: { fwd: 1, rev: 2, argFwd: 4, argRev: 8 },
  /** Prefilter set ids: wrt_call.index_id + these, in the order of CALL's bits. */
  IDX: { fwd: 0, rev: 1, argFwd: 2, argRev: 3 },
  MAX: { args: 5, selectors: 5, matchArgs: 5, values: 4, pidFilters: 2, nsFilters: 2, actions: 3, policies: 1024 },
  /**
   * A node's capacity: the entries of each per-generation map (WRT_CAP_*, WRT_MAX_POLICIES). Nothing else bounds how
   * many policies and hooks load together; the lowering checks each node's images against it (runtime/capacity).
   */
  CAPACITY: { hooks: 1024, calls: 512, list: 16384, binIndex: 4096, policies: 1024, set: 4096, lpmSet: 65536 },
  /** Ring-buffer record kinds (wrt_event_hdr.kind). */
  EV: { exec: 1, exit: 2, call: 3 },
  /** wrt_event_hdr.flags. */
  EVF: { monitor: 1, rawTp: 2, binaryKnown: 4 },
} as const;

/**
 * A kernel-function site's number: its hooks' key is SITE_BASE + number and its entry program's BPF cookie
 * the number. It is a 30-bit FNV-1a hash of the attach point (`kprobe/tcp_connect`), so it stays the same
 * across policy generations (a link attached for one serves the next); the lowering refuses a collision.
 */
export function siteNumber(attach: string): number {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(attach)) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return h & 0x3fffffff;
}

/** The kernel-function sites of a node's attach list (everything but `syscalls/…` and `raw_syscalls/…`). */
export function kernelSites(attach: readonly string[]): { attach: string; kind: string; target: string; site: number }[] {
  return [...new Set(attach)]
    .filter((a) => !/^(syscalls|raw_syscalls)\//.test(a))
    .sort()
    .map((a) => ({ attach: a, kind: a.slice(0, a.indexOf('/')), target: a.slice(a.indexOf('/') + 1), site: siteNumber(a) }));
}

/** What a node's kernel lets the runtime programs do: bpf/runtime/node-capabilities.ts probes it, the lowering compiles against it. */
export interface NodeCapabilities {
  /** syscalls/* and sched/* tracepoint programs load and attach. */
  tracepoints: boolean;
  /** raw_syscalls/sys_enter attaches (hooks on every syscall). */
  rawSyscalls: boolean;
  /** kprobe programs load. */
  kprobes: boolean;
  /** kprobes attach (kprobe events or kprobe_multi exist). */
  kprobeAttach: boolean;
  fentry: boolean;
  /** BPF LSM programs load and attach (bpf in the active LSM list). */
  lsm: boolean;
  /** bpf_override_return on error-injectable functions (needs kprobe attach and CONFIG_BPF_KPROBE_OVERRIDE). */
  override: boolean;
  sendSignal: boolean;
  ringbuf: boolean;
  mapInMap: boolean;
  uprobes: boolean;
  /** Syscalls that have a sys_enter tracepoint on this node; undefined: assume every syscall of the table. */
  syscalls?: readonly string[];
  /**
   * Functions the node's kernel lists as error-injectable (/sys/kernel/debug/error_injection/list), the only
   * ones Override may target; undefined: the built-in list of a mainstream kernel (bpf/runtime/error-injection.ts).
   */
  errorInjection?: readonly string[];
}

/** WRT_STR_MAX: string bytes read per arg, NUL included. */
export const STR_MAX = 256;
/** String set size classes (bytes of the string), as WRT_STR_CLASS_A / _B. */
export const STR_CLASS_A = 64;
export const STR_CLASS_B = 128;
export const LPM_STR_MAX = 252;

// The kernel records of one node, as the lowering (compiler/lower/runtime/hooks.ts) produces them.
export interface KMatchArg {
  /** Position in the hook's args. */
  index: number;
  op: number;
  vals: bigint[];
  setId: number;
}

export interface KSelector {
  args: KMatchArg[];
  bin?: { op: number; setId: number; followChildren?: boolean };
  pids: { flags: number; vals: number[] }[];
  ns: { kind: number; flags: number; vals: number[] }[];
  cap?: { kind: number; notIn: boolean; mask: bigint; namespace?: boolean };
  actions: { action: number; arg: number }[];
}

export interface KHook {
  /** The syscall whose walk (wrt_calls) lists it, or NR_ANY; not part of the stored hook. */
  syscallNr: number;
  policyId: number;
  hookId: number;
  scopeSet: number;
  scoped: boolean;
  args: { src: number; type: number }[];
  selectors: KSelector[];
}

/** One syscall's walk (wrt_call): its open list, and where its prefilter entries are. */
export interface KCall {
  syscallNr: number;
  openStart: number;
  openCount: number;
  /** A multiple of 4; the prefilter set ids are indexId + K.IDX.*. */
  indexId: number;
  flags: number;
  /** The argument register the argument prefilter reads (0..5). */
  argReg: number;
}

/** A prefilter entry (wrt_bin_index): key bytes as the trie holds them, and its run of wrt_lists. */
export interface KBinIndexEntry {
  setId: number;
  /** A binary with its NUL, a binary prefix (forwards), or a reversed postfix. */
  key: Buffer;
  start: number;
  count: number;
}

/** What the runtime inner maps of a node hold. */
export interface RuntimeRecords {
  /** Stored by hook id. */
  hooks: KHook[];
  calls: KCall[];
  /** wrt_lists: hook ids, the runs the calls and the prefilter entries point at. */
  lists: number[];
  binIndex: KBinIndexEntry[];
  policies: { id: number; mode: 'enforce' | 'monitor' }[];
  strSets: Map<number, string[]>;
  prefixSets: Map<number, string[]>;
  postfixSets: Map<number, string[]>;
  numSets: Map<number, bigint[]>;
  /** Address sets (SAddr/DAddr CIDRs) in the prefix trie: key bytes family (4 or 6) then address, `bits` of them significant. */
  addrSets?: Map<number, { bytes: Uint8Array; bits: number }[]>;
}

export type Record2 = readonly [Uint8Array, Uint8Array];

/** One runtime map image: which inner map it fills, its shape and records. */
export interface RuntimeMapImage {
  /** Logical name: the outer slot map it goes behind. */
  name:
    | 'wrt_hooks'
    | 'wrt_calls'
    | 'wrt_lists'
    | 'wrt_bin_index'
    | 'wrt_policies'
    | 'wrt_str_a'
    | 'wrt_str_b'
    | 'wrt_str'
    | 'wrt_prefix'
    | 'wrt_postfix'
    | 'wrt_num';
  type: 'hash' | 'array' | 'lpm_trie';
  keyType: string;
  valueType: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  records: Record2[];
}

const H = runtimeLayouts.wrt_hook.fields;
const S = runtimeLayouts.wrt_selector.fields;
const MA = runtimeLayouts.wrt_match_arg.fields;
const PF = runtimeLayouts.wrt_pid_filter.fields;
const NF = runtimeLayouts.wrt_ns_filter.fields;
const CF = runtimeLayouts.wrt_cap_filter.fields;
const AC = runtimeLayouts.wrt_action.fields;
const POL = runtimeLayouts.wrt_policy.fields;
const SK = runtimeLayouts.wrt_str_key.fields;
const LK = runtimeLayouts.wrt_lpm_key.fields;
const NK = runtimeLayouts.wrt_num_key.fields;
const PROC = runtimeLayouts.wrt_proc.fields;
const NODE = runtimeLayouts.wrt_node_info.fields;
const STATS = runtimeLayouts.wrt_stats.fields;
const EH = runtimeLayouts.wrt_event_hdr.fields;
const EX = runtimeLayouts.wrt_event_exec.fields;
const EC = runtimeLayouts.wrt_event_call.fields;
const EE = runtimeLayouts.wrt_event_exit.fields;

const callCodec = structCodec<Omit<KCall, 'syscallNr'>>(runtimeLayouts.wrt_call, {
  openStart: 'open_start',
  openCount: 'open_count',
  indexId: 'index_id',
  flags: 'flags',
  argReg: 'arg_reg',
});
const spanCodec = structCodec<{ start: number; count: number }>(runtimeLayouts.wrt_span, { start: 'start', count: 'count' });

export const encodeCall = (c: KCall): Buffer => callCodec.encode(c);
export const decodeCall = (key: Uint8Array, value: Uint8Array): KCall => ({ syscallNr: decodeU32Key(key), ...callCodec.decode(value) });
export const encodeSpan = (start: number, count: number): Buffer => spanCodec.encode({ start, count });
export const decodeSpan = (value: Uint8Array): { start: number; count: number } => spanCodec.decode(value);

function encodeSelector(b: Buffer, base: number, s: KSelector): void {
  setInt(b, S.n_args, s.args.length, base);
  setInt(b, S.n_pids, s.pids.length, base);
  setInt(b, S.n_actions, s.actions.length, base);
  let flags = 0;
  if (s.bin) {
    setInt(b, S.bin_op, s.bin.op, base);
    setInt(b, S.bin_set, s.bin.setId, base);
    flags |= K.SEL.binaries | (s.bin.followChildren ? K.SEL.followChildren : 0);
  }
  setInt(b, S.flags, flags, base);
  s.args.forEach((m, i) => {
    const o = offsetOf(S.args, base, i);
    setInt(b, MA.index, m.index, o);
    setInt(b, MA.op, m.op, o);
    setInt(b, MA.nvals, m.vals.length, o);
    setInt(b, MA.set_id, m.setId, o);
    m.vals.slice(0, K.MAX.values).forEach((v, j) => setBig(b, MA.vals, v, o, j));
  });
  s.pids.forEach((p, i) => {
    const o = offsetOf(S.pids, base, i);
    setInt(b, PF.flags, p.flags, o);
    setInt(b, PF.nvals, p.vals.length, o);
    p.vals.slice(0, K.MAX.values).forEach((v, j) => setInt(b, PF.vals, v, o, j));
  });
  s.ns.forEach((n, i) => {
    const o = offsetOf(S.ns, base, i);
    setInt(b, NF.kind, n.kind, o);
    setInt(b, NF.flags, n.flags, o);
    setInt(b, NF.nvals, n.vals.length, o);
    n.vals.slice(0, K.MAX.values).forEach((v, j) => setInt(b, NF.vals, v, o, j));
  });
  if (s.cap) {
    const o = offsetOf(S.cap, base);
    setInt(b, CF.kind, s.cap.kind, o);
    setInt(b, CF.not_in, s.cap.notIn ? 1 : 0, o);
    setInt(b, CF.flags, s.cap.namespace ? K.CAP_FLAG.namespace : 0, o);
    setBig(b, CF.mask, s.cap.mask, o);
  }
  s.actions.forEach((a, i) => {
    const o = offsetOf(S.actions, base, i);
    setInt(b, AC.action, a.action, o);
    setInt(b, AC.arg, a.arg, o);
  });
}

export function encodeHook(h: Omit<KHook, 'syscallNr'>): Buffer {
  const b = Buffer.alloc(runtimeLayouts.wrt_hook.size);
  setInt(b, H.policy_id, h.policyId);
  setInt(b, H.hook_id, h.hookId);
  setInt(b, H.n_args, Math.min(h.args.length, K.MAX.args));
  setInt(b, H.n_selectors, Math.min(h.selectors.length, K.MAX.selectors));
  setInt(b, H.flags, h.scoped ? K.HOOK.scoped : 0);
  setInt(b, H.scope_set, h.scopeSet);
  h.args.slice(0, K.MAX.args).forEach((a, i) => {
    setInt(b, H.arg_src, a.src, 0, i);
    setInt(b, H.arg_type, a.type, 0, i);
  });
  // The lowering enforces the limits; slicing here only keeps a bug from writing past a struct.
  h.selectors.slice(0, K.MAX.selectors).forEach((s, i) =>
    encodeSelector(b, offsetOf(H.sel, 0, i), {
      ...s,
      args: s.args.slice(0, K.MAX.matchArgs),
      pids: s.pids.slice(0, K.MAX.pidFilters),
      ns: s.ns.slice(0, K.MAX.nsFilters),
      actions: s.actions.slice(0, K.MAX.actions),
    }),
  );
  return b;
}

function decodeSelector(b: Buffer, base: number): KSelector {
  const flags = getInt(b, S.flags, base);
  const s: KSelector = { args: [], pids: [], ns: [], actions: [] };
  for (let j = 0; j < getInt(b, S.n_args, base); j++) {
    const o = offsetOf(S.args, base, j);
    s.args.push({
      index: getInt(b, MA.index, o),
      op: getInt(b, MA.op, o),
      setId: getInt(b, MA.set_id, o),
      vals: Array.from({ length: getInt(b, MA.nvals, o) }, (_, x) => getBig(b, MA.vals, o, x)),
    });
  }
  if (flags & K.SEL.binaries)
    s.bin = {
      op: getInt(b, S.bin_op, base),
      setId: getInt(b, S.bin_set, base),
      ...(flags & K.SEL.followChildren ? { followChildren: true } : {}),
    };
  for (let j = 0; j < getInt(b, S.n_pids, base); j++) {
    const o = offsetOf(S.pids, base, j);
    s.pids.push({
      flags: getInt(b, PF.flags, o),
      vals: Array.from({ length: getInt(b, PF.nvals, o) }, (_, x) => getInt(b, PF.vals, o, x)),
    });
  }
  // Namespace filters have no count: an unused one has kind 0, as the handler reads them.
  for (let j = 0; j < K.MAX.nsFilters; j++) {
    const o = offsetOf(S.ns, base, j);
    const kind = getInt(b, NF.kind, o);
    if (kind)
      s.ns.push({
        kind,
        flags: getInt(b, NF.flags, o),
        vals: Array.from({ length: getInt(b, NF.nvals, o) }, (_, x) => getInt(b, NF.vals, o, x)),
      });
  }
  const cap = offsetOf(S.cap, base);
  if (getInt(b, CF.kind, cap))
    s.cap = {
      kind: getInt(b, CF.kind, cap),
      notIn: getInt(b, CF.not_in, cap) === 1,
      mask: getBig(b, CF.mask, cap),
      ...(getInt(b, CF.flags, cap) & K.CAP_FLAG.namespace ? { namespace: true } : {}),
    };
  for (let j = 0; j < getInt(b, S.n_actions, base); j++) {
    const o = offsetOf(S.actions, base, j);
    s.actions.push({ action: getInt(b, AC.action, o), arg: getInt(b, AC.arg, o) });
  }
  return s;
}

/** A stored hook (wrt_hooks is keyed by hook id; which syscall walks it is wrt_calls' business). */
export function decodeHook(value: Uint8Array): Omit<KHook, 'syscallNr'> {
  const b = bytes(value);
  return {
    policyId: getInt(b, H.policy_id),
    hookId: getInt(b, H.hook_id),
    scoped: (getInt(b, H.flags) & K.HOOK.scoped) !== 0,
    scopeSet: getInt(b, H.scope_set),
    args: Array.from({ length: getInt(b, H.n_args) }, (_, i) => ({ src: getInt(b, H.arg_src, 0, i), type: getInt(b, H.arg_type, 0, i) })),
    selectors: Array.from({ length: getInt(b, H.n_selectors) }, (_, i) => decodeSelector(b, offsetOf(H.sel, 0, i))),
  };
}

/** wrt_policy: the policy's mode (enforce, or monitor: enforcement actions become events). */
export function encodePolicyMode(mode: 'enforce' | 'monitor'): Buffer {
  const b = Buffer.alloc(runtimeLayouts.wrt_policy.size);
  setInt(b, POL.mode, mode === 'monitor' ? K.MODE.monitor : K.MODE.enforce);
  return b;
}

/** The WRT_MODE_* of a wrt_policy value. */
export function decodePolicyMode(value: Uint8Array): number {
  return getInt(bytes(value), POL.mode);
}

/** The size class of a string's bytes: its key is len, set id and the bytes zero-padded to the class. */
export function strClass(byteLength: number): 'wrt_str_a' | 'wrt_str_b' | 'wrt_str' {
  return byteLength <= STR_CLASS_A ? 'wrt_str_a' : byteLength <= STR_CLASS_B ? 'wrt_str_b' : 'wrt_str';
}

const strKeyStruct = { wrt_str_a: 'wrt_str_key_a', wrt_str_b: 'wrt_str_key_b', wrt_str: 'wrt_str_key' } as const;

/** wrt_str_key (or _a/_b by size class): len, set id, zero-padded bytes. */
export function encodeStrKey(setId: number, s: string | Uint8Array): Buffer {
  const src = typeof s === 'string' ? Buffer.from(s) : Buffer.from(s);
  const n = Math.min(src.length, STR_MAX - 1);
  const b = Buffer.alloc(runtimeLayouts[strKeyStruct[strClass(n)]].size);
  // The three classes share their leading fields, so wrt_str_key's offsets serve all of them.
  setInt(b, SK.len, n);
  setInt(b, SK.set_id, setId);
  b.set(src.subarray(0, n), SK.str.offset);
  return b;
}

/** A string set key of any size class: its set and the string's bytes. */
export function decodeStrKey(key: Uint8Array): { setId: number; bytes: Buffer } {
  const b = bytes(key);
  return { setId: getInt(b, SK.set_id), bytes: b.subarray(SK.str.offset, SK.str.offset + getInt(b, SK.len)) };
}

/** wrt_lpm_key for a prefix (or an already reversed postfix). */
export function encodeLpmKey(setId: number, s: string | Uint8Array): Buffer {
  const src = typeof s === 'string' ? Buffer.from(s) : Buffer.from(s);
  const n = Math.min(src.length, LPM_STR_MAX);
  const b = Buffer.alloc(runtimeLayouts.wrt_lpm_key.size);
  setInt(b, LK.prefixlen, 32 + n * 8);
  setInt(b, LK.set_id, setId);
  setBytes(b, LK.str, src.subarray(0, n));
  return b;
}

/** wrt_lpm_key with a bit-granular prefix (an address CIDR): `bits` of `data` are significant. */
export function encodeLpmKeyBits(setId: number, data: Uint8Array, bits: number): Buffer {
  const b = Buffer.alloc(runtimeLayouts.wrt_lpm_key.size);
  const n = Math.min(Math.ceil(bits / 8), LPM_STR_MAX);
  setInt(b, LK.prefixlen, 32 + Math.min(bits, n * 8));
  setInt(b, LK.set_id, setId);
  setBytes(b, LK.str, Buffer.from(data).subarray(0, n));
  return b;
}

/** A prefix trie key with its significant bits (string prefixes have whole bytes). */
export function decodeLpmKeyBits(key: Uint8Array): { setId: number; bytes: Buffer; bits: number } {
  const b = bytes(key);
  const bits = getInt(b, LK.prefixlen) - 32;
  return { setId: getInt(b, LK.set_id), bytes: getBytes(b, LK.str, 0, Math.ceil(bits / 8)), bits };
}

export function decodeLpmKey(key: Uint8Array): { setId: number; bytes: Buffer } {
  const b = bytes(key);
  return { setId: getInt(b, LK.set_id), bytes: getBytes(b, LK.str, 0, (getInt(b, LK.prefixlen) - 32) / 8) };
}

export function reverseBytes(s: string): Buffer {
  return Buffer.from(s).reverse();
}

export function encodeNumKey(setId: number, v: bigint): Buffer {
  const b = Buffer.alloc(runtimeLayouts.wrt_num_key.size);
  setInt(b, NK.set_id, setId);
  setBig(b, NK.value, v);
  return b;
}

export function decodeNumKey(key: Uint8Array): { setId: number; value: bigint } {
  const b = bytes(key);
  return { setId: getInt(b, NK.set_id), value: getBig(b, NK.value) };
}

/** A wrt_proc entry as userspace writes it (the handler's cache fields zeroed, as writers must). */
export function encodeProc(p: { pid: number; ppid?: number; uid?: number; binary: string }): Buffer {
  const b = Buffer.alloc(runtimeLayouts.wrt_proc.size);
  const bin = Buffer.from(p.binary).subarray(0, STR_MAX - 1);
  setInt(b, PROC.pid, p.pid);
  setInt(b, PROC.ppid, p.ppid ?? 0);
  setInt(b, PROC.uid, p.uid ?? 0);
  setInt(b, PROC.binary_len, bin.length);
  setBytes(b, PROC.binary, bin);
  return b;
}

/** wrt_node_info: the host's namespace inodes, indexed like WRT_NS_*. */
export function encodeNodeInfo(hostNs: readonly number[]): Buffer {
  const b = Buffer.alloc(runtimeLayouts.wrt_node_info.size);
  hostNs.slice(0, NODE.host_ns.count).forEach((v, i) => setInt(b, NODE.host_ns, v, 0, i));
  return b;
}

export interface RuntimeStats {
  calls: number;
  matches: number;
  signals: number;
  events: number;
  eventsLost: number;
}

/** wrt_stats of every CPU (one per-CPU value), summed. */
export function decodeRuntimeStats(value: Uint8Array | undefined): RuntimeStats {
  if (!value) return { calls: 0, matches: 0, signals: 0, events: 0, eventsLost: 0 };
  const slot = Math.ceil(runtimeLayouts.wrt_stats.size / 8) * 8;
  return {
    calls: sumPerCpu(value, slot, STATS.calls.offset),
    matches: sumPerCpu(value, slot, STATS.matches.offset),
    signals: sumPerCpu(value, slot, STATS.signals.offset),
    events: sumPerCpu(value, slot, STATS.events.offset),
    eventsLost: sumPerCpu(value, slot, STATS.events_lost.offset),
  };
}

const one = Uint8Array.of(1);
const u32Key = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  setInt(b, f(0, 4), n);
  return b;
};
function decodeU32Key(k: Uint8Array): number {
  return getInt(bytes(k), f(0, 4));
}

/** The inner-map images of one node, ready for the bundle (records sorted by the assembler). */
export function encodeRuntimeNode(l: RuntimeRecords): RuntimeMapImage[] {
  const hooks: Record2[] = l.hooks.map((h) => [u32Key(h.hookId), encodeHook(h)]);
  const calls: Record2[] = l.calls.map((c) => [u32Key(c.syscallNr), encodeCall(c)]);
  const lists: Record2[] = l.lists.map((id, i) => [u32Key(i), u32Key(id)]);
  const binIndex: Record2[] = l.binIndex.map((e) => [encodeLpmKey(e.setId, e.key), encodeSpan(e.start, e.count)]);
  const policies: Record2[] = l.policies.map((p) => [u32Key(p.id), encodePolicyMode(p.mode)]);
  const str: Record<'wrt_str_a' | 'wrt_str_b' | 'wrt_str', Record2[]> = { wrt_str_a: [], wrt_str_b: [], wrt_str: [] };
  for (const [id, vals] of l.strSets)
    for (const v of new Set(vals)) str[strClass(Math.min(Buffer.byteLength(v), STR_MAX - 1))].push([encodeStrKey(id, v), one]);
  const prefix: Record2[] = [];
  for (const [id, vals] of l.prefixSets) for (const v of new Set(vals)) prefix.push([encodeLpmKey(id, v), one]);
  for (const [id, cidrs] of l.addrSets ?? []) for (const c of cidrs) prefix.push([encodeLpmKeyBits(id, c.bytes, c.bits), one]);
  const postfix: Record2[] = [];
  for (const [id, vals] of l.postfixSets) for (const v of new Set(vals)) postfix.push([encodeLpmKey(id, reverseBytes(v)), one]);
  const num: Record2[] = [];
  for (const [id, vals] of l.numSets) for (const v of new Set(vals)) num.push([encodeNumKey(id, v), one]);
  const L = runtimeLayouts;
  return [
    {
      name: 'wrt_hooks',
      type: 'array',
      keyType: '__u32',
      valueType: 'wrt_hook',
      keySize: 4,
      valueSize: L.wrt_hook.size,
      maxEntries: K.CAPACITY.hooks,
      records: hooks,
    },
    {
      name: 'wrt_calls',
      type: 'hash',
      keyType: '__u32',
      valueType: 'wrt_call',
      keySize: 4,
      valueSize: L.wrt_call.size,
      maxEntries: K.CAPACITY.calls,
      records: calls,
    },
    {
      name: 'wrt_lists',
      type: 'array',
      keyType: '__u32',
      valueType: '__u32',
      keySize: 4,
      valueSize: 4,
      maxEntries: K.CAPACITY.list,
      records: lists,
    },
    {
      name: 'wrt_bin_index',
      type: 'lpm_trie',
      keyType: 'wrt_lpm_key',
      valueType: 'wrt_span',
      keySize: L.wrt_lpm_key.size,
      valueSize: L.wrt_span.size,
      maxEntries: K.CAPACITY.binIndex,
      records: binIndex,
    },
    {
      name: 'wrt_policies',
      type: 'array',
      keyType: '__u32',
      valueType: 'wrt_policy',
      keySize: 4,
      valueSize: L.wrt_policy.size,
      maxEntries: K.MAX.policies,
      records: policies,
    },
    {
      name: 'wrt_str_a',
      type: 'hash',
      keyType: 'wrt_str_key_a',
      valueType: '__u8',
      keySize: L.wrt_str_key_a.size,
      valueSize: 1,
      maxEntries: K.CAPACITY.set,
      records: str.wrt_str_a,
    },
    {
      name: 'wrt_str_b',
      type: 'hash',
      keyType: 'wrt_str_key_b',
      valueType: '__u8',
      keySize: L.wrt_str_key_b.size,
      valueSize: 1,
      maxEntries: K.CAPACITY.set,
      records: str.wrt_str_b,
    },
    {
      name: 'wrt_str',
      type: 'hash',
      keyType: 'wrt_str_key',
      valueType: '__u8',
      keySize: L.wrt_str_key.size,
      valueSize: 1,
      maxEntries: K.CAPACITY.set,
      records: str.wrt_str,
    },
    {
      name: 'wrt_prefix',
      type: 'lpm_trie',
      keyType: 'wrt_lpm_key',
      valueType: '__u8',
      keySize: L.wrt_lpm_key.size,
      valueSize: 1,
      maxEntries: K.CAPACITY.lpmSet,
      records: prefix,
    },
    {
      name: 'wrt_postfix',
      type: 'lpm_trie',
      keyType: 'wrt_lpm_key',
      valueType: '__u8',
      keySize: L.wrt_lpm_key.size,
      valueSize: 1,
      maxEntries: K.CAPACITY.lpmSet,
      records: postfix,
    },
    {
      name: 'wrt_num',
      type: 'hash',
      keyType: 'wrt_num_key',
      valueType: '__u8',
      keySize: L.wrt_num_key.size,
      valueSize: 1,
      maxEntries: K.CAPACITY.set,
      records: num,
    },
  ];
}

/** Empty images of every runtime map: their shapes, and what an idle slot gets for a map a bundle does not carry. */
export const emptyRuntimeImages: readonly RuntimeMapImage[] = encodeRuntimeNode({
  hooks: [],
  calls: [],
  lists: [],
  binIndex: [],
  policies: [],
  strSets: new Map(),
  prefixSets: new Map(),
  postfixSets: new Map(),
  numSets: new Map(),
});

// --- ring-buffer records -------------------------------------------------------------------------

/** The header every runtime ring-buffer record starts with. */
export interface RuntimeEventHead {
  kind: number;
  action: number;
  flags: number;
  nArgs: number;
  policyId: number;
  hookId: number;
  syscallNr: number;
  pid: number;
  tid: number;
  ppid: number;
  uid: number;
  ktime: bigint;
  /** The task's cgroup v2 id: which pod or container the process runs in, also after it is gone. */
  cgroupId: bigint;
  signal: number;
}

/** A record's header, or undefined for a record too short to hold one. */
export function decodeEventHead(record: Uint8Array): RuntimeEventHead | undefined {
  if (record.length < runtimeLayouts.wrt_event_hdr.size) return undefined;
  const b = bytes(record);
  return {
    kind: getInt(b, EH.kind),
    action: getInt(b, EH.action),
    flags: getInt(b, EH.flags),
    nArgs: getInt(b, EH.n_args),
    policyId: getInt(b, EH.policy_id),
    hookId: getInt(b, EH.hook_id),
    syscallNr: getInt(b, EH.syscall_nr),
    pid: getInt(b, EH.pid),
    tid: getInt(b, EH.tid),
    ppid: getInt(b, EH.ppid),
    uid: getInt(b, EH.uid),
    ktime: getBig(b, EH.ktime),
    cgroupId: getBig(b, EH.cgroup_id),
    signal: getInt(b, EH.signal),
  };
}

/** True for a whole wrt_event_call record. */
export function isCallRecord(record: Uint8Array): boolean {
  return record.length >= runtimeLayouts.wrt_event_call.size && record[EH.kind.offset] === K.EV.call;
}

/** Argument types whose value the engine reads as a string (a path, a name, bytes): engine.h arg_is_str. */
const stringArgTypes: ReadonlySet<number> = new Set([
  K.ARG.string,
  K.ARG.file,
  K.ARG.path,
  K.ARG.fd,
  K.ARG.linux_binprm,
  K.ARG.char_buf,
  K.ARG.dentry,
  K.ARG.module,
  K.ARG.load_info,
  K.ARG.bpf_map,
  K.ARG.kiocb,
  K.ARG.net_device,
  K.ARG.iov_iter,
]);

/** Whether an argument of this type (wrt_hook.arg_type, size bits included) is read as a string. */
export function argIsString(type: number): boolean {
  return stringArgTypes.has(type & K.ARG_TYPE_MASK);
}

export interface EventArg {
  /** The argument's type (K.ARG; a char_buf's size position masked off). */
  type: number;
  /** The raw 64 bits of the argument (for a string, the user pointer). */
  value: bigint;
  str?: string;
}

/** The arguments a wrt_event_call record carries (at most WRT_MAX_ARGS). */
export function decodeCallArgs(record: Uint8Array): EventArg[] {
  const b = bytes(record);
  const n = Math.min(getInt(b, EH.n_args), K.MAX.args);
  const out: EventArg[] = [];
  for (let i = 0; i < n; i++) {
    const type = getInt(b, EC.arg_type, 0, i) & K.ARG_TYPE_MASK;
    const value = getBig(b, EC.argv, 0, i);
    if (argIsString(type)) out.push({ type, value, str: getString(b, EC.strs, Math.min(getInt(b, EC.str_len, 0, i), STR_MAX - 1), 0, i) });
    else out.push({ type, value });
  }
  return out;
}

/** A record decoded whole: its header (flags and counts spelled out), the binary and what its kind carries. */
export interface DecodedEvent extends Omit<RuntimeEventHead, 'kind' | 'flags' | 'nArgs'> {
  kind: 'exec' | 'exit' | 'call';
  monitor: boolean;
  binary: string;
  binaryKnown: boolean;
  args: EventArg[];
  /** exit events: the wait status (status << 8 | signal). */
  exitCode?: number;
  /** exec events: argv[1..] joined by spaces, as Tetragon's process.arguments. */
  arguments?: string;
}

/** Decodes one ring-buffer record; undefined for a record of unknown kind or size. */
export function decodeRuntimeEvent(record: Uint8Array): DecodedEvent | undefined {
  const h = decodeEventHead(record);
  if (!h || (h.kind !== K.EV.exec && h.kind !== K.EV.exit && h.kind !== K.EV.call)) return undefined;
  const b = bytes(record);
  const known = (h.flags & K.EVF.binaryKnown) !== 0;
  const ev: DecodedEvent = {
    kind: h.kind === K.EV.exec ? 'exec' : h.kind === K.EV.exit ? 'exit' : 'call',
    action: h.action,
    monitor: (h.flags & K.EVF.monitor) !== 0,
    policyId: h.policyId,
    hookId: h.hookId,
    syscallNr: h.syscallNr,
    pid: h.pid,
    tid: h.tid,
    ppid: h.ppid,
    uid: h.uid,
    ktime: h.ktime,
    cgroupId: h.cgroupId,
    signal: h.signal,
    // A process not seen exec'ing has its comm (at most 16 bytes, NUL-terminated) as binary.
    binary: known ? getString(b, EH.binary, getInt(b, EH.binary_len)) : getCString(b, EH.binary, 16),
    binaryKnown: known,
    args: [],
  };
  if (h.kind === K.EV.exec && b.length >= runtimeLayouts.wrt_event_exec.size)
    ev.arguments = getString(b, EX.args, getInt(b, EX.args_len))
      .split('\0')
      .slice(1)
      .filter((a) => a !== '')
      .join(' ');
  if (h.kind === K.EV.exit && b.length >= runtimeLayouts.wrt_event_exit.size) ev.exitCode = getInt(b, EE.exit_code);
  if (h.kind === K.EV.call && b.length >= runtimeLayouts.wrt_event_call.size) ev.args = decodeCallArgs(b);
  return ev;
}
