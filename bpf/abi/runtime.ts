// Byte encoders for the runtime maps, in the layouts of bpf/include/weir_runtime.h.
// test/runtime/layout.test.ts checks `runtimeLayouts` against the BTF of bpf/build/wrt_runtime.bpf.o.
import { K, type KHook, type KSelector, type LoweredRuntimeNode } from '../../compiler/lower/runtime/hooks.js';

/** Struct sizes and member offsets (bytes) as the C compiler lays them out. */
export const runtimeLayouts = {
  wrt_match_arg: { size: 40, members: { index: 0, op: 1, nvals: 2, set_id: 4, vals: 8 } },
  wrt_pid_filter: { size: 20, members: { flags: 0, nvals: 1, vals: 4 } },
  wrt_ns_filter: { size: 20, members: { kind: 0, flags: 1, nvals: 2, vals: 4 } },
  wrt_cap_filter: { size: 16, members: { kind: 0, not_in: 1, mask: 8 } },
  wrt_action: { size: 8, members: { action: 0, arg: 4 } },
  wrt_selector: { size: 336, members: { n_args: 0, n_pids: 1, n_actions: 2, bin_op: 3, bin_set: 4, flags: 8, args: 16, pids: 216, ns: 256, cap: 296, actions: 312 } },
  wrt_hook_key: { size: 8, members: { syscall_nr: 0, index: 4 } },
  wrt_hook: { size: 1712, members: { policy_id: 0, hook_id: 4, n_args: 8, n_selectors: 9, flags: 10, scope_set: 12, arg_src: 16, arg_type: 21, sel: 32 } },
  wrt_policy: { size: 8, members: { mode: 0, flags: 4 } },
  wrt_str_key: { size: 264, members: { len: 0, set_id: 4, str: 8 } },
  wrt_str_key_a: { size: 72, members: { len: 0, set_id: 4, str: 8 } },
  wrt_str_key_b: { size: 136, members: { len: 0, set_id: 4, str: 8 } },
  wrt_lpm_key: { size: 260, members: { prefixlen: 0, set_id: 4, str: 8 } },
  wrt_num_key: { size: 16, members: { set_id: 0, value: 8 } },
  wrt_node_info: { size: 32, members: { host_ns: 0 } },
  wrt_proc: { size: 288, members: { pid: 0, ppid: 4, uid: 8, flags: 12, exec_ktime: 16, binary_len: 24, binary: 32 } },
  wrt_stats: { size: 40, members: { calls: 0, matches: 8, signals: 16, events: 24, events_lost: 32 } },
  wrt_event_hdr: { size: 304, members: { kind: 0, action: 1, flags: 2, n_args: 3, policy_id: 4, hook_id: 8, syscall_nr: 12, pid: 16, tid: 20, ppid: 24, uid: 28, ktime: 32, signal: 40, binary_len: 44, binary: 48 } },
  wrt_event_exec: { size: 568, members: { hdr: 0, args_len: 304, args: 312 } },
  wrt_event_call: { size: 1648, members: { hdr: 0, arg_type: 304, str_len: 312, argv: 328, strs: 368 } },
  wrt_event_exit: { size: 312, members: { hdr: 0, exit_code: 304 } },
} as const;

export const STR_MAX = 256;
/** String set size classes (bytes of the string), as WRT_STR_CLASS_A / _B. */
export const STR_CLASS_A = 64;
export const STR_CLASS_B = 128;
export const LPM_STR_MAX = 252;

export type Record2 = readonly [Uint8Array, Uint8Array];

/** One runtime map image: which inner map it fills, its shape and records. */
export interface RuntimeMapImage {
  /** Logical name: the outer slot map it goes behind. */
  name: 'wrt_hooks' | 'wrt_policies' | 'wrt_str_a' | 'wrt_str_b' | 'wrt_str' | 'wrt_prefix' | 'wrt_postfix' | 'wrt_num';
  type: 'hash' | 'array' | 'lpm_trie';
  keyType: string;
  valueType: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  records: Record2[];
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

export function encodeHookKey(nr: number, index: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(nr >>> 0, 0);
  b.writeUInt32LE(index, 4);
  return b;
}

function encodeSelector(b: Buffer, off: number, s: KSelector): void {
  const L = runtimeLayouts.wrt_selector.members;
  b[off + L.n_args] = Math.min(s.args.length, 5);
  b[off + L.n_pids] = Math.min(s.pids.length, 2);
  b[off + L.n_actions] = Math.min(s.actions.length, 3);
  let flags = 0;
  if (s.bin) {
    b[off + L.bin_op] = s.bin.op;
    b.writeUInt32LE(s.bin.setId, off + L.bin_set);
    flags |= K.SEL.binaries | (s.bin.followChildren ? K.SEL.followChildren : 0);
  }
  b.writeUInt32LE(flags, off + L.flags);
  s.args.forEach((m, i) => {
    const o = off + L.args + i * runtimeLayouts.wrt_match_arg.size;
    b[o] = m.index;
    b[o + 1] = m.op;
    b[o + 2] = m.vals.length;
    b.writeUInt32LE(m.setId, o + 4);
    m.vals.forEach((v, j) => b.writeBigUInt64LE(BigInt.asUintN(64, v), o + 8 + j * 8));
  });
  s.pids.forEach((p, i) => {
    const o = off + L.pids + i * runtimeLayouts.wrt_pid_filter.size;
    b[o] = p.flags;
    b[o + 1] = p.vals.length;
    p.vals.forEach((v, j) => b.writeUInt32LE(v >>> 0, o + 4 + j * 4));
  });
  s.ns.forEach((n, i) => {
    const o = off + L.ns + i * runtimeLayouts.wrt_ns_filter.size;
    b[o] = n.kind;
    b[o + 1] = n.flags;
    b[o + 2] = n.vals.length;
    n.vals.forEach((v, j) => b.writeUInt32LE(v >>> 0, o + 4 + j * 4));
  });
  if (s.cap) {
    b[off + L.cap] = s.cap.kind;
    b[off + L.cap + 1] = s.cap.notIn ? 1 : 0;
    b.writeBigUInt64LE(s.cap.mask, off + L.cap + 8);
  }
  s.actions.forEach((a, i) => {
    const o = off + L.actions + i * 8;
    b.writeUInt32LE(a.action, o);
    b.writeInt32LE(a.arg, o + 4);
  });
}

export function encodeHook(h: KHook): Buffer {
  const L = runtimeLayouts.wrt_hook.members;
  const b = Buffer.alloc(runtimeLayouts.wrt_hook.size);
  b.writeUInt32LE(h.policyId, L.policy_id);
  b.writeUInt32LE(h.hookId, L.hook_id);
  b[L.n_args] = Math.min(h.args.length, 5);
  b[L.n_selectors] = Math.min(h.selectors.length, 5);
  b.writeUInt16LE(h.scoped ? K.HOOK.scoped : 0, L.flags);
  b.writeUInt32LE(h.scopeSet, L.scope_set);
  h.args.slice(0, 5).forEach((a, i) => {
    b[L.arg_src + i] = a.src;
    b[L.arg_type + i] = a.type;
  });
  // The lowering enforces the limits; slicing here only keeps a bug from writing past a struct.
  h.selectors.slice(0, 5).forEach((s, i) => encodeSelector(b, L.sel + i * runtimeLayouts.wrt_selector.size, { ...s, args: s.args.slice(0, 5), pids: s.pids.slice(0, 2), ns: s.ns.slice(0, 2), actions: s.actions.slice(0, 3) }));
  return b;
}

export function decodeHook(key: Uint8Array, value: Uint8Array): KHook {
  const k = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  const b = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const L = runtimeLayouts.wrt_hook.members;
  const nArgs = b[L.n_args]!;
  const selectors: KSelector[] = [];
  for (let i = 0; i < b[L.n_selectors]!; i++) {
    const off = L.sel + i * runtimeLayouts.wrt_selector.size;
    const S = runtimeLayouts.wrt_selector.members;
    const flags = b.readUInt32LE(off + S.flags);
    const s: KSelector = { args: [], pids: [], ns: [], actions: [] };
    for (let j = 0; j < b[off + S.n_args]!; j++) {
      const o = off + S.args + j * 40;
      const n = b[o + 2]!;
      s.args.push({ index: b[o]!, op: b[o + 1]!, setId: b.readUInt32LE(o + 4), vals: Array.from({ length: n }, (_, x) => b.readBigUInt64LE(o + 8 + x * 8)) });
    }
    if (flags & K.SEL.binaries) s.bin = { op: b[off + S.bin_op]!, setId: b.readUInt32LE(off + S.bin_set), ...(flags & K.SEL.followChildren ? { followChildren: true } : {}) };
    for (let j = 0; j < b[off + S.n_pids]!; j++) {
      const o = off + S.pids + j * 20;
      s.pids.push({ flags: b[o]!, vals: Array.from({ length: b[o + 1]! }, (_, x) => b.readUInt32LE(o + 4 + x * 4)) });
    }
    for (let j = 0; j < 2; j++) {
      const o = off + S.ns + j * 20;
      if (b[o]) s.ns.push({ kind: b[o]!, flags: b[o + 1]!, vals: Array.from({ length: b[o + 2]! }, (_, x) => b.readUInt32LE(o + 4 + x * 4)) });
    }
    if (b[off + S.cap]) s.cap = { kind: b[off + S.cap]!, notIn: b[off + S.cap + 1] === 1, mask: b.readBigUInt64LE(off + S.cap + 8) };
    for (let j = 0; j < b[off + S.n_actions]!; j++) s.actions.push({ action: b.readUInt32LE(off + S.actions + j * 8), arg: b.readInt32LE(off + S.actions + j * 8 + 4) });
    selectors.push(s);
  }
  return {
    syscallNr: k.readUInt32LE(0),
    index: k.readUInt32LE(4),
    policyId: b.readUInt32LE(L.policy_id),
    hookId: b.readUInt32LE(L.hook_id),
    scoped: (b.readUInt16LE(L.flags) & K.HOOK.scoped) !== 0,
    scopeSet: b.readUInt32LE(L.scope_set),
    args: Array.from({ length: nArgs }, (_, i) => ({ src: b[L.arg_src + i]!, type: b[L.arg_type + i]! })),
    selectors,
  };
}

/** The size class of a string's bytes: its key is len, set id and the bytes zero-padded to the class. */
export function strClass(byteLength: number): 'wrt_str_a' | 'wrt_str_b' | 'wrt_str' {
  return byteLength <= STR_CLASS_A ? 'wrt_str_a' : byteLength <= STR_CLASS_B ? 'wrt_str_b' : 'wrt_str';
}

/** wrt_str_key (or _a/_b by size class): len, set id, zero-padded bytes. */
export function encodeStrKey(setId: number, s: string | Uint8Array): Buffer {
  const bytes = typeof s === 'string' ? Buffer.from(s) : Buffer.from(s);
  const cls = strClass(Math.min(bytes.length, STR_MAX - 1));
  const b = Buffer.alloc(cls === 'wrt_str_a' ? runtimeLayouts.wrt_str_key_a.size : cls === 'wrt_str_b' ? runtimeLayouts.wrt_str_key_b.size : runtimeLayouts.wrt_str_key.size);
  const n = Math.min(bytes.length, STR_MAX - 1);
  b.writeUInt32LE(n, 0);
  b.writeUInt32LE(setId, 4);
  bytes.copy(b, 8, 0, n);
  return b;
}

/** wrt_lpm_key for a prefix (or an already reversed postfix). */
export function encodeLpmKey(setId: number, s: string | Uint8Array): Buffer {
  const bytes = typeof s === 'string' ? Buffer.from(s) : Buffer.from(s);
  const n = Math.min(bytes.length, LPM_STR_MAX);
  const b = Buffer.alloc(runtimeLayouts.wrt_lpm_key.size);
  b.writeUInt32LE(32 + n * 8, 0);
  b.writeUInt32LE(setId, 4);
  bytes.copy(b, 8, 0, n);
  return b;
}

export function reverseBytes(s: string): Buffer {
  return Buffer.from(s).reverse();
}

export function encodeNumKey(setId: number, v: bigint): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(setId, 0);
  b.writeBigUInt64LE(BigInt.asUintN(64, v), 8);
  return b;
}

const one = Uint8Array.of(1);

/** The eight inner-map images of one node, ready for the bundle (records sorted by the assembler). */
export function encodeRuntimeNode(l: LoweredRuntimeNode): RuntimeMapImage[] {
  const hooks: Record2[] = l.hooks.map((h) => [encodeHookKey(h.syscallNr, h.index), encodeHook(h)]);
  const policies: Record2[] = l.policies.map((p) => {
    const v = Buffer.alloc(8);
    v.writeUInt32LE(p.mode === 'monitor' ? K.MODE.monitor : K.MODE.enforce, 0);
    return [u32(p.id), v];
  });
  const str: Record<'wrt_str_a' | 'wrt_str_b' | 'wrt_str', Record2[]> = { wrt_str_a: [], wrt_str_b: [], wrt_str: [] };
  for (const [id, vals] of l.strSets) for (const v of new Set(vals)) str[strClass(Math.min(Buffer.byteLength(v), STR_MAX - 1))].push([encodeStrKey(id, v), one]);
  const prefix: Record2[] = [];
  for (const [id, vals] of l.prefixSets) for (const v of new Set(vals)) prefix.push([encodeLpmKey(id, v), one]);
  const postfix: Record2[] = [];
  for (const [id, vals] of l.postfixSets) for (const v of new Set(vals)) postfix.push([encodeLpmKey(id, reverseBytes(v)), one]);
  const num: Record2[] = [];
  for (const [id, vals] of l.numSets) for (const v of new Set(vals)) num.push([encodeNumKey(id, v), one]);
  return [
    { name: 'wrt_hooks', type: 'hash', keyType: 'wrt_hook_key', valueType: 'wrt_hook', keySize: 8, valueSize: runtimeLayouts.wrt_hook.size, maxEntries: 256, records: hooks },
    { name: 'wrt_policies', type: 'array', keyType: '__u32', valueType: 'wrt_policy', keySize: 4, valueSize: 8, maxEntries: 256, records: policies },
    { name: 'wrt_str_a', type: 'hash', keyType: 'wrt_str_key_a', valueType: '__u8', keySize: runtimeLayouts.wrt_str_key_a.size, valueSize: 1, maxEntries: 4096, records: str.wrt_str_a },
    { name: 'wrt_str_b', type: 'hash', keyType: 'wrt_str_key_b', valueType: '__u8', keySize: runtimeLayouts.wrt_str_key_b.size, valueSize: 1, maxEntries: 4096, records: str.wrt_str_b },
    { name: 'wrt_str', type: 'hash', keyType: 'wrt_str_key', valueType: '__u8', keySize: runtimeLayouts.wrt_str_key.size, valueSize: 1, maxEntries: 4096, records: str.wrt_str },
    { name: 'wrt_prefix', type: 'lpm_trie', keyType: 'wrt_lpm_key', valueType: '__u8', keySize: runtimeLayouts.wrt_lpm_key.size, valueSize: 1, maxEntries: 4096, records: prefix },
    { name: 'wrt_postfix', type: 'lpm_trie', keyType: 'wrt_lpm_key', valueType: '__u8', keySize: runtimeLayouts.wrt_lpm_key.size, valueSize: 1, maxEntries: 4096, records: postfix },
    { name: 'wrt_num', type: 'hash', keyType: 'wrt_num_key', valueType: '__u8', keySize: 16, valueSize: 1, maxEntries: 4096, records: num },
  ];
}
