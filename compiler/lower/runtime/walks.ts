// The walks of one node: for each syscall its hooks (wrt_calls, wrt_lists) and the prefilter
// (wrt_bin_index) that keeps a call from visiting hooks whose values cannot admit it. The engine
// (bpf/runtime/engine.h) walks what this produces; compiler/verify/runtime-emulator.ts walks the same images.
//
// A hook is indexed on the caller's binary when every selector has a positive matchBinaries without
// followChildren, all of one direction: In / Prefix (the binary read forwards) or Postfix (read reversed);
// else on one string argument of the syscall (the register most such hooks filter) when every selector has
// a positive string matchArgs (Equal, Prefix / Postfix) on it. Its keys are its values: an exact value with
// a NUL after it (that string only), a prefix, a reversed postfix. An LPM lookup returns the longest key
// that starts the subject, so each key's list holds the hooks of every key that starts it: whichever key of
// a hook admits the subject, the hook is in the list returned. Every other hook is in its syscall's open
// list, visited on every call.
import { K, LPM_STR_MAX, type KBinIndexEntry, type KCall, type KHook } from '../../../bpf/abi/runtime.js';

export interface Walks {
  calls: KCall[];
  lists: number[];
  binIndex: KBinIndexEntry[];
}

interface BinarySets {
  strSets: ReadonlyMap<number, readonly string[]>;
  prefixSets: ReadonlyMap<number, readonly string[]>;
  postfixSets: ReadonlyMap<number, readonly string[]>;
}

/** The prefilter keys of one value filter per selector (undefined where a selector has none): all positive, one direction. */
function keysOf(
  filters: readonly ({ op: number; setId: number } | undefined)[],
  sets: BinarySets,
): { rev: boolean; keys: Buffer[] } | undefined {
  if (filters.length === 0) return undefined;
  let rev: boolean | undefined;
  const keys: Buffer[] = [];
  for (const f of filters) {
    if (!f) return undefined;
    const r = f.op === K.OP.Postfix;
    if (f.op !== K.OP.Equal && f.op !== K.OP.Prefix && !r) return undefined;
    if (rev !== undefined && rev !== r) return undefined;
    rev = r;
    const values = f.op === K.OP.Equal ? sets.strSets.get(f.setId) : r ? sets.postfixSets.get(f.setId) : sets.prefixSets.get(f.setId);
    for (const v of values ?? []) {
      const b = Buffer.from(v);
      // Keys the trie cannot hold whole (an Equal value of 252 bytes or more with its NUL, an LPM value the
      // set itself truncates) leave the hook unindexed rather than approximated.
      const key = f.op === K.OP.Equal ? Buffer.concat([b, Buffer.alloc(1)]) : r ? b.reverse() : b;
      if (key.length > LPM_STR_MAX || b.includes(0)) return undefined;
      keys.push(key);
    }
  }
  return { rev: rev ?? false, keys };
}

/** The binary prefilter keys of a hook: every selector has a positive matchBinaries without followChildren. */
export function binaryKeys(h: KHook, sets: BinarySets): { rev: boolean; keys: Buffer[] } | undefined {
  return keysOf(
    h.selectors.map((s) => (s.bin && !s.bin.followChildren ? s.bin : undefined)),
    sets,
  );
}

/** The argument prefilter keys of a hook on register `reg`: every selector has a positive string matchArgs on it. */
export function argumentKeys(h: KHook, reg: number, sets: BinarySets): { rev: boolean; keys: Buffer[] } | undefined {
  const on = (m: { index: number; op: number }) => h.args[m.index]?.src === reg && h.args[m.index]?.type === K.ARG.string;
  const positive = (m: { op: number }) => m.op === K.OP.Equal || m.op === K.OP.Prefix || m.op === K.OP.Postfix;
  return keysOf(
    h.selectors.map((s) => s.args.find((m) => on(m) && positive(m))),
    sets,
  );
}

/** The walks of a node's hooks (hook ids are their positions in `hooks`, ascending). */
export function buildWalks(hooks: readonly KHook[], sets: BinarySets): Walks {
  const bySyscall = new Map<number, KHook[]>();
  for (const h of hooks) {
    const a = bySyscall.get(h.syscallNr) ?? [];
    a.push(h);
    bySyscall.set(h.syscallNr, a);
  }
  const out: Walks = { calls: [], lists: [], binIndex: [] };
  const nrs = [...bySyscall.keys()].sort((a, b) => a - b);
  nrs.forEach((nr, i) => {
    const hs = bySyscall.get(nr)!.sort((a, b) => a.hookId - b.hookId);
    // The binary first (the engine has it at hand); the rest on the string argument most of them filter.
    const byBinary = new Map(hs.map((h) => [h.hookId, binaryKeys(h, sets)]));
    const rest = hs.filter((h) => !byBinary.get(h.hookId));
    let argReg = 0;
    let best = 0;
    for (let reg = 0; reg <= 5; reg++) {
      const n = rest.filter((h) => argumentKeys(h, reg, sets)).length;
      if (n > best) [argReg, best] = [reg, n];
    }
    const open: number[] = [];
    // Tries by K.IDX: binary forwards, binary reversed, argument forwards, argument reversed.
    const tries: Map<string, { key: Buffer; own: Set<number> }>[] = [new Map(), new Map(), new Map(), new Map()];
    for (const h of hs) {
      const b = byBinary.get(h.hookId);
      const a = b ? undefined : best > 0 ? argumentKeys(h, argReg, sets) : undefined;
      const p = b ?? a;
      if (!p) {
        open.push(h.hookId);
        continue;
      }
      const m = tries[(b ? 0 : 2) + (p.rev ? 1 : 0)]!;
      for (const key of p.keys) {
        const hex = key.toString('hex');
        const e = m.get(hex) ?? { key, own: new Set<number>() };
        e.own.add(h.hookId);
        m.set(hex, e);
      }
    }
    const indexId = 4 * i;
    const call: KCall = {
      syscallNr: nr,
      openStart: out.lists.length,
      openCount: open.length,
      indexId,
      flags: 0,
      argReg: best > 0 ? argReg : 0,
    };
    out.lists.push(...open);
    const flags = [K.CALL.fwd, K.CALL.rev, K.CALL.argFwd, K.CALL.argRev];
    tries.forEach((m, d) => {
      if (m.size === 0) return;
      call.flags |= flags[d]!;
      const entries = [...m.values()].sort((a, b) => Buffer.compare(a.key, b.key));
      for (const e of entries) {
        // The keys that start this one: each of its prefixes that is a key (at most 252 lookups).
        const ids = new Set<number>();
        for (let n = 0; n <= e.key.length; n++) for (const id of m.get(e.key.subarray(0, n).toString('hex'))?.own ?? []) ids.add(id);
        const list = [...ids].sort((a, b) => a - b);
        out.binIndex.push({ setId: indexId + d, key: e.key, start: out.lists.length, count: list.length });
        out.lists.push(...list);
      }
    });
    out.calls.push(call);
  });
  return out;
}

/** What a node's images use of each capacity-bound map, and the map's entries. */
export interface NodeCapacity {
  map: string;
  used: number;
  limit: number;
}

export function capacityUse(l: {
  hooks: readonly unknown[];
  policies: readonly unknown[];
  calls: readonly unknown[];
  lists: readonly unknown[];
  binIndex: readonly unknown[];
  setEntries: Record<string, number>;
}): NodeCapacity[] {
  return [
    { map: 'wrt_hooks', used: l.hooks.length, limit: K.CAPACITY.hooks },
    { map: 'wrt_policies', used: l.policies.length, limit: K.CAPACITY.policies },
    { map: 'wrt_calls', used: l.calls.length, limit: K.CAPACITY.calls },
    { map: 'wrt_lists', used: l.lists.length, limit: K.CAPACITY.list },
    { map: 'wrt_bin_index', used: l.binIndex.length, limit: K.CAPACITY.binIndex },
    ...Object.entries(l.setEntries).map(([map, used]) => ({
      map,
      used,
      limit: map === 'wrt_prefix' || map === 'wrt_postfix' ? K.CAPACITY.lpmSet : K.CAPACITY.set,
    })),
  ];
}
