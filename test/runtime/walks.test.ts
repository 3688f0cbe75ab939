// The walk tables as built: which hooks are indexed, on what, and the lists an LPM lookup returns.
import { describe, expect, it } from 'vitest';
import { K, type KHook, type KSelector } from '../../bpf/abi/runtime.js';
import { argumentKeys, binaryKeys, buildWalks } from '../../compiler/lower/runtime/walks.js';
import { compileText } from './helpers.js';

const sets = {
  strSets: new Map<number, string[]>([
    [1, ['/usr/bin/nc']],
    [2, ['x'.repeat(251)]],
    [3, ['x'.repeat(252)]],
  ]),
  prefixSets: new Map<number, string[]>([
    [10, ['/usr/']],
    [11, ['/usr/bin/']],
    [12, ['/etc/']],
  ]),
  postfixSets: new Map<number, string[]>([[20, ['/nc', 'sh']]]),
};
const sel = (s: Partial<KSelector>): KSelector => ({ args: [], pids: [], ns: [], actions: [], ...s });
const hook = (hookId: number, selectors: KSelector[], syscallNr = 59): KHook => ({
  syscallNr,
  policyId: hookId,
  hookId,
  scopeSet: 0,
  scoped: false,
  args: [
    { src: 0, type: K.ARG.string },
    { src: 1, type: K.ARG.uint64 },
  ],
  selectors,
});

describe('binary and argument prefilter keys', () => {
  it('exact values carry their NUL, prefixes do not, postfixes are reversed', () => {
    expect(binaryKeys(hook(0, [sel({ bin: { op: K.OP.Equal, setId: 1 } })]), sets)).toEqual({
      rev: false,
      keys: [Buffer.from('/usr/bin/nc\0')],
    });
    expect(binaryKeys(hook(0, [sel({ bin: { op: K.OP.Postfix, setId: 20 } })]), sets)).toEqual({
      rev: true,
      keys: [Buffer.from('cn/'), Buffer.from('hs')],
    });
  });

  it('a hook stays unindexed when a selector could match without a positive value of one direction', () => {
    const unindexed: KSelector[][] = [
      [], // no selectors: every call
      [sel({ bin: { op: K.OP.Equal, setId: 1 } }), sel({})], // one selector without binaries
      [sel({ bin: { op: K.OP.NotEqual, setId: 1 } })],
      [sel({ bin: { op: K.OP.Equal, setId: 1, followChildren: true } })],
      [sel({ bin: { op: K.OP.Prefix, setId: 10 } }), sel({ bin: { op: K.OP.Postfix, setId: 20 } })], // two directions
      [sel({ bin: { op: K.OP.Equal, setId: 3 } })], // 252 bytes and the NUL do not fit an LPM key
    ];
    for (const s of unindexed) expect(binaryKeys(hook(0, s), sets), JSON.stringify(s)).toBeUndefined();
    expect(binaryKeys(hook(0, [sel({ bin: { op: K.OP.Equal, setId: 2 } })]), sets)?.keys[0]).toHaveLength(252);
  });

  it('argument keys need a positive string filter on the register in every selector', () => {
    const onPath = sel({ args: [{ index: 0, op: K.OP.Prefix, vals: [], setId: 12 }] });
    expect(argumentKeys(hook(0, [onPath]), 0, sets)).toEqual({ rev: false, keys: [Buffer.from('/etc/')] });
    expect(argumentKeys(hook(0, [onPath]), 1, sets)).toBeUndefined();
    expect(argumentKeys(hook(0, [onPath, sel({ args: [{ index: 1, op: K.OP.Equal, vals: [3n], setId: 0 }] })]), 0, sets)).toBeUndefined();
    expect(argumentKeys(hook(0, [sel({ args: [{ index: 0, op: K.OP.NotPrefix, vals: [], setId: 12 }] })]), 0, sets)).toBeUndefined();
  });
});

describe('buildWalks', () => {
  it('gives each key the hooks of every key that starts it, and leaves the rest to the open list', () => {
    const hooks = [
      hook(0, [sel({ bin: { op: K.OP.Prefix, setId: 10 } })]), // /usr/
      hook(1, [sel({ bin: { op: K.OP.Prefix, setId: 11 } })]), // /usr/bin/
      hook(2, [sel({ bin: { op: K.OP.Equal, setId: 1 } })]), // /usr/bin/nc exactly
      hook(3, [sel({ bin: { op: K.OP.Postfix, setId: 20 } })]),
      hook(4, [sel({ args: [{ index: 0, op: K.OP.Prefix, vals: [], setId: 12 }] })]),
      hook(5, [sel({ bin: { op: K.OP.NotEqual, setId: 1 } })]),
      hook(6, [sel({})], 257),
    ];
    const w = buildWalks(hooks, sets);
    const [execve, openat] = w.calls;
    expect(execve).toEqual({
      syscallNr: 59,
      openStart: 0,
      openCount: 1,
      indexId: 0,
      flags: K.CALL.fwd | K.CALL.rev | K.CALL.argFwd,
      argReg: 0,
    });
    expect(openat).toMatchObject({ syscallNr: 257, indexId: 4, flags: 0, openCount: 1 });
    expect(w.lists.slice(execve!.openStart, execve!.openStart + execve!.openCount)).toEqual([5]);
    const list = (setId: number, key: string) => {
      const e = w.binIndex.find((x) => x.setId === setId && x.key.equals(Buffer.from(key)))!;
      return w.lists.slice(e.start, e.start + e.count);
    };
    expect(list(K.IDX.fwd, '/usr/')).toEqual([0]);
    expect(list(K.IDX.fwd, '/usr/bin/')).toEqual([0, 1]);
    expect(list(K.IDX.fwd, '/usr/bin/nc\0')).toEqual([0, 1, 2]);
    expect(list(K.IDX.rev, 'cn/')).toEqual([3]);
    expect(list(K.IDX.argFwd, '/etc/')).toEqual([4]);
    expect(w.lists.slice(openat!.openStart, openat!.openStart + openat!.openCount)).toEqual([6]);
  });
});

describe('capacity', () => {
  it('a policy that does not fit the node is refused whole, naming the full map; the others load', () => {
    const kprobe = '  - {call: sys_openat, syscall: true, args: [{index: 1, type: string}]}\n';
    const text = Array.from(
      { length: 205 },
      (_, i) =>
        `apiVersion: cilium.io/v1alpha1\nkind: TracingPolicy\nmetadata: {name: cap-${String(i).padStart(3, '0')}}\nspec:\n  kprobes:\n${kprobe.repeat(5)}`,
    ).join('---\n');
    const r = compileText(text);
    // 205 policies of 5 hooks on one syscall: 1,025 hooks, one more than wrt_hooks holds.
    expect(r.errors).toEqual([
      expect.stringMatching(
        /runtime\/capacity: node local: policy cap-204 does not fit: wrt_hooks would hold 1025 entries, the map holds 1024 \(weir_runtime\.h/,
      ),
    ]);
    const n = r.nodes[0]!.lowered;
    expect([n.policies.length, n.hooks.length]).toEqual([204, 1020]);
    expect(n.capacity.find((c) => c.map === 'wrt_hooks')).toEqual({ map: 'wrt_hooks', used: 1020, limit: K.CAPACITY.hooks });
    expect(n.calls[0]).toMatchObject({ syscallNr: 257, openCount: 1020 });
  });
});
