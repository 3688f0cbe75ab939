// An evaluator of runtime map images: what the syscall handler would do for a process making a call
// with given arguments. It reads the encoded images (not the IR), so a test of it is a test of
// what the kernel receives; its semantics mirror bpf/runtime/engine.h line by line, the walk included:
// a call visits its syscall's open list, then the prefilter's lists for the caller's binary and for the
// indexed string argument.
import {
  decodeCall,
  decodeHook,
  decodeLpmKey,
  decodeLpmKeyBits,
  decodeSpan,
  decodeNumKey,
  decodePolicyMode,
  decodeStrKey,
  K,
  LPM_STR_MAX,
  type KCall,
  type KHook,
  type KMatchArg,
  type RuntimeMapImage,
} from '../../bpf/abi/runtime.js';
import { decodeU32 } from '../../bpf/abi/layouts.js';
import { syscallName, type HookTableEntry } from '../lower/runtime/hooks.js';
import { syscallNumbers, tableSyscall } from '../ir/runtime/syscalls.js';
import { addressKey, argClass } from '../lower/runtime/kernel-args.js';

export type RuntimeVerdict = 'kill' | 'signal' | 'override' | 'post' | 'allow';

/**
 * A socket argument (sock, skb, sockaddr, socket) as the kernel readers see it. Family, protocol and state are
 * numbers (AF_INET 2, IPPROTO_TCP 6, TCP_SYN_SENT 2); a sockaddr has family, saddr and sport (Tetragon's SAddr/SPort).
 */
export interface SockFacts {
  family?: number;
  protocol?: number;
  state?: number;
  saddr?: string;
  daddr?: string;
  sport?: number;
  dport?: number;
}

/** An argument value: a number, a string (paths of file/path/fd/... arguments too), or a socket. */
export type ArgValue = string | number | bigint | SockFacts;

export interface ProcessFacts {
  binary: string;
  /** Binaries of the parent, grandparent, ... (matchBinaries followChildren looks at 4). */
  ancestors?: string[];
  pid?: number;
  /** pid as seen in its own pid namespace (matchPIDs isNamespacePID); default: pid. */
  nsPid?: number;
  uid?: number;
  /** Namespace inode numbers by WRT_NS_* kind; host namespaces when absent. */
  namespaces?: Partial<Record<number, number>>;
  hostNamespaces?: Partial<Record<number, number>>;
  /** Effective capabilities bitmask. */
  capEffective?: bigint;
  /** Whether the process's pod is in a scoped (namespaced / podSelector) policy's scope, by hook id. */
  inScope?: (hook: HookTableEntry | undefined) => boolean;
}

export interface RuntimeDecision {
  verdict: RuntimeVerdict;
  signal?: number;
  /** Override: the error the call returns instead. */
  errno?: number;
  /** Hooks whose selectors matched, in evaluation order. */
  matches: { hookId: number; policyId: number; selector: number; action: number; monitor: boolean; posted: boolean }[];
}

interface Prefix {
  bytes: Buffer;
  bits: number;
}

interface Sets {
  str: Map<number, Set<string>>;
  prefix: Map<number, Prefix[]>;
  postfix: Map<number, Prefix[]>;
  num: Map<number, Set<bigint>>;
}

type StoredHook = Omit<KHook, 'syscallNr'>;

export class RuntimeImageEvaluator {
  readonly #hooks = new Map<number, StoredHook>();
  readonly #calls = new Map<number, KCall>();
  readonly #lists: number[] = [];
  readonly #index = new Map<number, { key: Buffer; start: number; count: number }[]>();
  readonly #modes = new Map<number, number>();
  readonly #sets: Sets = { str: new Map(), prefix: new Map(), postfix: new Map(), num: new Map() };
  readonly #table: readonly HookTableEntry[];

  constructor(images: readonly RuntimeMapImage[], table: readonly HookTableEntry[]) {
    this.#table = table;
    const add = <T>(m: Map<number, T[]>, id: number, v: T) => {
      const a = m.get(id) ?? [];
      a.push(v);
      m.set(id, a);
    };
    for (const img of images) {
      for (const [k, v] of img.records) {
        if (img.name === 'wrt_hooks') this.#hooks.set(decodeU32(k), decodeHook(v));
        else if (img.name === 'wrt_calls') {
          const c = decodeCall(k, v);
          this.#calls.set(c.syscallNr, c);
        } else if (img.name === 'wrt_lists') this.#lists[decodeU32(k)] = decodeU32(v);
        else if (img.name === 'wrt_bin_index') {
          const { setId, bytes } = decodeLpmKey(k);
          add(this.#index, setId, { key: bytes, ...decodeSpan(v) });
        } else if (img.name === 'wrt_policies') this.#modes.set(decodeU32(k), decodePolicyMode(v));
        else if (img.name === 'wrt_str' || img.name === 'wrt_str_a' || img.name === 'wrt_str_b') {
          const { setId, bytes } = decodeStrKey(k);
          const s = this.#sets.str.get(setId) ?? new Set<string>();
          s.add(bytes.toString('latin1'));
          this.#sets.str.set(setId, s);
        } else if (img.name === 'wrt_prefix' || img.name === 'wrt_postfix') {
          const { setId, bytes, bits } = decodeLpmKeyBits(k);
          add(img.name === 'wrt_prefix' ? this.#sets.prefix : this.#sets.postfix, setId, { bytes, bits });
        } else if (img.name === 'wrt_num') {
          const { setId, value } = decodeNumKey(k);
          const s = this.#sets.num.get(setId) ?? new Set<bigint>();
          s.add(value);
          this.#sets.num.set(setId, s);
        }
      }
    }
  }

  /** Hook ids a call of syscall `nr` by `binary` visits (its walk, then raw_syscalls'), in the engine's order. */
  visited(nr: number, binary: string, args: readonly (string | number | bigint)[] = []): number[] {
    return [...this.#walk(nr, binary, args), ...this.#walk(K.NR_ANY, binary, args)].map((h) => h.hookId);
  }

  /** The hooks a call of `key` visits, in the engine's order: the open list, then the prefilter's lists. */
  #walk(key: number, binary: string, args: readonly ArgValue[]): StoredHook[] {
    const c = this.#calls.get(key);
    if (!c) return [];
    const ids = this.#lists.slice(c.openStart, c.openStart + c.openCount);
    const bin = Buffer.from(binary).subarray(0, 255);
    // The indexed argument as a hook reads a string argument: a non-string reads as the empty string.
    const raw = args[c.argReg];
    const subj = typeof raw === 'string' ? Buffer.from(raw).subarray(0, 255) : Buffer.alloc(0);
    const lookup = (setId: number, k: Buffer) => {
      let best: { key: Buffer; start: number; count: number } | undefined;
      for (const e of this.#index.get(setId) ?? [])
        if (e.key.length <= k.length && k.subarray(0, e.key.length).equals(e.key) && (!best || e.key.length > best.key.length)) best = e;
      if (best) ids.push(...this.#lists.slice(best.start, best.start + best.count));
    };
    const fwd = (b: Buffer) => Buffer.concat([b, Buffer.alloc(1)]).subarray(0, LPM_STR_MAX);
    const rev = (b: Buffer) => Buffer.from(b).reverse().subarray(0, LPM_STR_MAX);
    if (c.flags & K.CALL.fwd) lookup(c.indexId + K.IDX.fwd, fwd(bin));
    if (c.flags & K.CALL.rev) lookup(c.indexId + K.IDX.rev, rev(bin));
    if (c.flags & K.CALL.argFwd) lookup(c.indexId + K.IDX.argFwd, fwd(subj));
    if (c.flags & K.CALL.argRev) lookup(c.indexId + K.IDX.argRev, rev(subj));
    return ids.map((id) => this.#hooks.get(id)).filter((h): h is StoredHook => h !== undefined);
  }

  /** The syscall number a case's `call` names: sys_openat, __x64_sys_openat, openat, sys_enter_openat, syscalls/sys_enter_openat. */
  static syscallNumber(call: string): number | undefined {
    const tp = /^(?:syscalls\/)?sys_enter_(\w+)$/.exec(call);
    const name = tp ? tableSyscall(tp[1]!) : syscallName(call);
    return name !== undefined ? syscallNumbers[name] : undefined;
  }

  /**
   * The key a case's `call` is evaluated under: a kernel function or LSM hook that has a hook in the table (its
   * attach site: `security_file_open`, `fentry/security_file_open`, `lsm/file_open`), else the syscall number.
   */
  siteOf(call: string): number | undefined {
    const e = this.#table.find((h) => h.site !== undefined && (h.attach === call || h.attach.slice(h.attach.indexOf('/') + 1) === call));
    const byHook = this.#table.find((h) => h.site !== undefined && h.call === call);
    return e?.site ?? byHook?.site ?? RuntimeImageEvaluator.syscallNumber(call);
  }

  /** `ret`: the probed function's return value, for return probes (matchReturnArgs). */
  evaluate(proc: ProcessFacts, nr: number, args: readonly ArgValue[], ret?: ArgValue): RuntimeDecision {
    const matches: RuntimeDecision['matches'] = [];
    let verdict: RuntimeVerdict = 'allow';
    let signal: number | undefined;
    let errno: number | undefined;
    const rank: Record<RuntimeVerdict, number> = { allow: 0, post: 1, override: 2, signal: 3, kill: 4 };
    const hooks = [...this.#walk(nr, proc.binary, args), ...this.#walk(K.NR_ANY, proc.binary, args)];
    for (const h of hooks) {
      if (h.scoped && !(proc.inScope?.(this.#table[h.hookId]) ?? false)) continue;
      const values = h.args.map((a): Value => {
        const raw = a.src === K.ARG_SRC_NR ? nr : a.src === K.ARG_SRC_RET ? ret : args[a.src];
        const cls = argClass(a.type);
        if (cls === 'sock') return typeof raw === 'object' ? raw : {};
        if (cls === 'report') return 0n;
        if (cls === 'str') {
          let b = typeof raw === 'string' ? Buffer.from(raw).subarray(0, 255) : Buffer.alloc(0);
          // char_buf: as many bytes as its size argument says.
          const sizePos = (a.type >> K.ARG_SIZE_SHIFT) - 1;
          const size = sizePos >= 0 ? args[h.args[sizePos]?.src ?? -1] : undefined;
          if (typeof size === 'number' || typeof size === 'bigint') b = b.subarray(0, Math.max(0, Number(size)));
          return b;
        }
        let v =
          typeof raw === 'bigint'
            ? raw
            : typeof raw === 'number'
              ? BigInt(Math.trunc(raw))
              : typeof raw === 'string' && /^-?\d+$/.test(raw)
                ? BigInt(raw)
                : 0n;
        v = BigInt.asUintN(64, v);
        if (a.type === K.ARG.int) v = BigInt.asUintN(64, BigInt.asIntN(32, v));
        if (a.type === K.ARG.uint32) v = BigInt.asUintN(32, v);
        return v;
      });
      let chosen = -1;
      if (h.selectors.length === 0) chosen = 5;
      else chosen = h.selectors.findIndex((s) => this.#selector(s, h, values, proc));
      if (chosen < 0) continue;
      const monitor = this.#modes.get(h.policyId) === K.MODE.monitor;
      let post = true;
      let action: number = K.ACTION.Post;
      let sig = 0;
      let override: number | undefined;
      for (const a of chosen < 5 ? h.selectors[chosen]!.actions : []) {
        if (a.action === K.ACTION.NoPost) post = false;
        else if (a.action === K.ACTION.Override) {
          override = a.arg;
          if (action === K.ACTION.Post) action = a.action;
        } else if (a.action === K.ACTION.Sigkill || a.action === K.ACTION.Signal) {
          action = a.action;
          sig = a.arg;
        }
      }
      matches.push({ hookId: h.hookId, policyId: h.policyId, selector: chosen, action, monitor, posted: post });
      const v: RuntimeVerdict =
        sig && !monitor ? (sig === 9 ? 'kill' : 'signal') : override !== undefined && !monitor ? 'override' : post ? 'post' : 'allow';
      if (override !== undefined && !monitor) errno ??= override;
      if (rank[v] > rank[verdict]) {
        verdict = v;
        if (sig && !monitor) signal = sig;
      }
    }
    return { verdict, ...(signal === undefined ? {} : { signal }), ...(errno === undefined ? {} : { errno }), matches };
  }

  #string(op: number, setId: number, s: Buffer): boolean {
    switch (op) {
      case K.OP.Equal:
      case K.OP.NotEqual: {
        const hit = this.#sets.str.get(setId)?.has(s.toString('latin1')) ?? false;
        return op === K.OP.Equal ? hit : !hit;
      }
      case K.OP.Prefix:
      case K.OP.NotPrefix: {
        const hit = (this.#sets.prefix.get(setId) ?? []).some((p) => prefixHit(p, s.subarray(0, LPM_STR_MAX)));
        return op === K.OP.Prefix ? hit : !hit;
      }
      case K.OP.Postfix:
      case K.OP.NotPostfix: {
        const rev = Buffer.from(s).reverse().subarray(0, LPM_STR_MAX);
        const hit = (this.#sets.postfix.get(setId) ?? []).some((p) => prefixHit(p, rev));
        return op === K.OP.Postfix ? hit : !hit;
      }
    }
    return false;
  }

  #number(m: KMatchArg, type: number, x: bigint): boolean {
    const signed = type === K.ARG.int || type === K.ARG.int64;
    const c = (v: bigint) => (signed ? BigInt.asIntN(64, v) : v);
    const xv = c(x);
    switch (m.op) {
      case K.OP.Equal:
        return m.vals.includes(x);
      case K.OP.NotEqual:
        return !m.vals.includes(x);
      case K.OP.GreaterThan:
        return xv > c(m.vals[0]!);
      case K.OP.LessThan:
        return xv < c(m.vals[0]!);
      case K.OP.Mask:
        return m.vals.some((v) => (x & v) !== 0n);
      case K.OP.InRange:
      case K.OP.NotInRange: {
        let hit = false;
        for (let i = 0; i + 1 < m.vals.length; i += 2) if (xv >= c(m.vals[i]!) && xv <= c(m.vals[i + 1]!)) hit = true;
        return m.op === K.OP.InRange ? hit : !hit;
      }
      case K.OP.InMap:
      case K.OP.NotInMap: {
        const hit = this.#sets.num.get(m.setId)?.has(x) ?? false;
        return m.op === K.OP.InMap ? hit : !hit;
      }
    }
    return false;
  }

  /** A socket operator on a socket argument, as the engine's socket matcher. */
  #socket(m: KMatchArg, x: SockFacts): boolean {
    const inSet = (v: number | undefined): boolean =>
      v !== undefined && (m.setId ? (this.#sets.num.get(m.setId)?.has(BigInt(v)) ?? false) : m.vals.includes(BigInt(v)));
    const addr = (a: string | undefined): boolean => {
      const key = a === undefined ? undefined : addressKey(a);
      return key !== undefined && (this.#sets.prefix.get(m.setId) ?? []).some((p) => prefixHit(p, Buffer.from(key)));
    };
    const O = K.OP;
    switch (m.op) {
      case O.Family:
        return inSet(x.family);
      case O.Protocol:
        return inSet(x.protocol);
      case O.State:
        return inSet(x.state);
      case O.SPort:
      case O.NotSPort:
        return inSet(x.sport) === (m.op === O.SPort);
      case O.DPort:
      case O.NotDPort:
        return inSet(x.dport) === (m.op === O.DPort);
      case O.SPortPriv:
      case O.NotSPortPriv:
        return (x.sport !== undefined && x.sport < 1024) === (m.op === O.SPortPriv);
      case O.DPortPriv:
      case O.NotDPortPriv:
        return (x.dport !== undefined && x.dport < 1024) === (m.op === O.DPortPriv);
      case O.SAddr:
      case O.NotSAddr:
        return addr(x.saddr) === (m.op === O.SAddr);
      case O.DAddr:
      case O.NotDAddr:
        return addr(x.daddr) === (m.op === O.DAddr);
    }
    return false;
  }

  #selector(s: KHook['selectors'][number], h: StoredHook, values: Value[], proc: ProcessFacts): boolean {
    if (s.bin) {
      // As the handler: test with the positive operator over the binary (and ancestors), then negate.
      const positive = s.bin.op % 2 === 1;
      const pos = positive ? s.bin.op : s.bin.op - 1;
      const chain = [proc.binary, ...(s.bin.followChildren ? (proc.ancestors ?? []).slice(0, 4) : [])];
      const hit = chain.some((b) => this.#string(pos, s.bin!.setId, Buffer.from(b)));
      if (hit !== positive) return false;
    }
    for (const p of s.pids) {
      const pid = p.flags & K.PID.namespacePid ? (proc.nsPid ?? proc.pid ?? 0) : (proc.pid ?? 0);
      const hit = p.vals.includes(pid);
      if ((p.flags & K.PID.notIn ? !hit : hit) === false) return false;
    }
    for (const n of s.ns) {
      const inum = proc.namespaces?.[n.kind] ?? proc.hostNamespaces?.[n.kind] ?? 0;
      const hit = (n.flags & K.NS_FLAG.hostNs ? inum === (proc.hostNamespaces?.[n.kind] ?? 0) : false) || n.vals.includes(inum);
      if ((n.flags & K.NS_FLAG.notIn ? !hit : hit) === false) return false;
    }
    if (s.cap) {
      // isNamespaceCapability: a process in the host's user namespace never matches (the engine's match_cap).
      const user = K.NS['User']!;
      const hostUser = proc.hostNamespaces?.[user] ?? 0;
      if (s.cap.namespace && (!hostUser || (proc.namespaces?.[user] ?? hostUser) === hostUser)) return false;
      const hit = ((proc.capEffective ?? 0n) & s.cap.mask) !== 0n;
      if ((s.cap.notIn ? !hit : hit) === false) return false;
    }
    for (const m of s.args) {
      const v = values[m.index];
      const type = (h.args[m.index]?.type ?? 0) & K.ARG_TYPE_MASK;
      if (v === undefined) return false;
      const cls = argClass(type);
      const ok =
        cls === 'sock'
          ? this.#socket(m, v as SockFacts)
          : cls === 'str'
            ? this.#string(m.op, m.setId, v as Buffer)
            : this.#number(m, type, v as bigint);
      if (!ok) return false;
    }
    return true;
  }
}

type Value = Buffer | bigint | SockFacts;

/** Whether `key` starts with the prefix's significant bits (an LPM trie hit). */
function prefixHit(p: Prefix, key: Buffer): boolean {
  if (p.bits > key.length * 8) return false;
  const whole = p.bits >> 3;
  if (!key.subarray(0, whole).equals(p.bytes.subarray(0, whole))) return false;
  const rest = p.bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((key[whole]! ^ p.bytes[whole]!) & mask) === 0;
}
