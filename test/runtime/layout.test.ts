// The TS encoders/decoders and the C layouts agree: sizes and offsets from the object's BTF,
// constants from the header text. A layout change in weir_runtime.h without the TS following fails here.
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Btf } from '../../bpf/libbpf-ts/index.js';
import { defaultRuntimeObject } from '../../bpf/runtime/loader.js';
import {
  decodeCall,
  decodeHook,
  decodeSpan,
  decodeLpmKey,
  decodeNumKey,
  decodePolicyMode,
  decodeRuntimeStats,
  decodeStrKey,
  encodeCall,
  encodeHook,
  encodeSpan,
  encodeLpmKey,
  encodeNodeInfo,
  encodeNumKey,
  encodePolicyMode,
  encodeProc,
  encodeStrKey,
  LPM_STR_MAX,
  runtimeLayouts,
  STR_CLASS_A,
  STR_CLASS_B,
  STR_MAX,
  K,
} from '../../bpf/abi/runtime.js';
import { compareLayouts, type FieldLayout } from '../../bpf/abi/layouts.js';
import { btfLayouts } from '../../bpf/abi/check.js';
import { limits } from '../../compiler/ir/runtime/compile.js';
import { checkRuntimeImage } from '../../bpf/abi/runtime-check.js';
import { projectRoot } from './helpers.js';

const header = readFileSync(path.join(projectRoot, 'bpf/include/weir_runtime.h'), 'utf8');
const define = (name: string): number => {
  const m = new RegExp(`#define\\s+${name}\\s+(0x[0-9a-fA-F]+|\\d+)`).exec(header);
  if (!m) throw new Error(`${name} not in weir_runtime.h`);
  return Number(m[1]);
};

describe('runtime layouts', () => {
  it.skipIf(!existsSync(defaultRuntimeObject))('match the BTF of wrt_runtime.bpf.o (build it with npm run build)', () => {
    using btf = Btf.parse(defaultRuntimeObject);
    for (const [name, want] of Object.entries(runtimeLayouts)) {
      const s = btf.struct(name);
      expect(s, `struct ${name} in BTF`).toBeDefined();
      expect(s!.size, `sizeof(struct ${name})`).toBe(want.size);
      for (const [member, l] of Object.entries<FieldLayout>(want.fields)) {
        const m = s!.members.find((x) => x.name === member);
        expect(m, `${name}.${member}`).toBeDefined();
        expect(m!.offset, `offsetof(${name}, ${member})`).toBe(l.offset);
        expect(m!.size, `sizeof(${name}.${member})`).toBe(l.size);
      }
    }
    expect(
      compareLayouts(runtimeLayouts, btfLayouts(defaultRuntimeObject, Object.keys(runtimeLayouts)), 'runtime', 'weir_runtime.h'),
    ).toEqual([]);
  });

  it.skipIf(!existsSync(defaultRuntimeObject))('the comparison names a field that moved', () => {
    const moved = {
      wrt_proc: {
        ...runtimeLayouts.wrt_proc,
        fields: { ...runtimeLayouts.wrt_proc.fields, uid: { offset: 12, size: 4 }, flags: { offset: 8, size: 4 } },
      },
    };
    expect(compareLayouts(moved, btfLayouts(defaultRuntimeObject, ['wrt_proc']), 'runtime', 'weir_runtime.h')).toEqual([
      'runtime: wrt_proc.uid is at offset 12 size 4 in TypeScript but offset 8 size 4 in BTF',
      'runtime: wrt_proc.flags is at offset 8 size 4 in TypeScript but offset 12 size 4 in BTF',
    ]);
  });

  it('constants match the header', () => {
    expect(define('WRT_NR_ANY')).toBe(K.NR_ANY);
    expect(define('WRT_ARG_SRC_NR')).toBe(K.ARG_SRC_NR);
    for (const [k, v] of Object.entries({
      INT: K.ARG.int,
      UINT32: K.ARG.uint32,
      INT64: K.ARG.int64,
      UINT64: K.ARG.uint64,
      STRING: K.ARG.string,
    }))
      expect(define(`WRT_ARG_${k}`), k).toBe(v);
    const ops: Record<string, number> = {
      EQUAL: K.OP.Equal,
      NOT_EQUAL: K.OP.NotEqual,
      PREFIX: K.OP.Prefix,
      NOT_PREFIX: K.OP.NotPrefix,
      POSTFIX: K.OP.Postfix,
      NOT_POSTFIX: K.OP.NotPostfix,
      GT: K.OP.GreaterThan,
      LT: K.OP.LessThan,
      MASK: K.OP.Mask,
      IN_RANGE: K.OP.InRange,
      NOT_IN_RANGE: K.OP.NotInRange,
      IN_MAP: K.OP.InMap,
      NOT_IN_MAP: K.OP.NotInMap,
    };
    for (const [k, v] of Object.entries(ops)) expect(define(`WRT_OP_${k}`), k).toBe(v);
    for (const [k, v] of Object.entries({
      POST: K.ACTION.Post,
      NOPOST: K.ACTION.NoPost,
      SIGKILL: K.ACTION.Sigkill,
      SIGNAL: K.ACTION.Signal,
      OVERRIDE: K.ACTION.Override,
    }))
      expect(define(`WRT_ACTION_${k}`), k).toBe(v);
    for (const [k, v] of Object.entries({
      UTS: K.NS['Uts'],
      IPC: K.NS['Ipc'],
      MNT: K.NS['Mnt'],
      PID: K.NS['Pid'],
      NET: K.NS['Net'],
      CGROUP: K.NS['Cgroup'],
      PID_FOR_CHILDREN: K.NS['PidForChildren'],
      USER: K.NS['User'],
    }))
      expect(define(`WRT_NS_${k}`), k).toBe(v);
    expect(define('WRT_SITE_BASE')).toBe(K.SITE_BASE);
    expect(define('WRT_ARG_SRC_RET')).toBe(K.ARG_SRC_RET);
    expect(define('WRT_ARG_TYPE_MASK')).toBe(K.ARG_TYPE_MASK);
    expect(define('WRT_ARG_SIZE_SHIFT')).toBe(K.ARG_SIZE_SHIFT);
    expect(define('WRT_CAP_FLAG_NAMESPACE')).toBe(K.CAP_FLAG.namespace);
    const argNames: Record<string, string> = { linux_binprm: 'BINPRM', user_namespace: 'USER_NS' };
    for (const [k, v] of Object.entries(K.ARG)) if (v >= K.ARG.file) expect(define(`WRT_ARG_${argNames[k] ?? k.toUpperCase()}`), k).toBe(v);
    for (const [k, v] of Object.entries(K.OP))
      if (v >= K.OP.SPort) expect(define(`WRT_OP_${k.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}`), k).toBe(v);
    expect(define('WRT_PID_NOT_IN')).toBe(K.PID.notIn);
    expect(define('WRT_PID_NAMESPACE_PID')).toBe(K.PID.namespacePid);
    expect(define('WRT_PID_FOLLOW_FORKS')).toBe(K.PID.followForks);
    expect(define('WRT_MODE_MONITOR')).toBe(K.MODE.monitor);
    expect(define('WRT_SEL_BINARIES')).toBe(K.SEL.binaries);
    expect(define('WRT_SEL_FOLLOW_CHILDREN')).toBe(K.SEL.followChildren);
    expect(define('WRT_HOOK_SCOPED')).toBe(K.HOOK.scoped);
    expect(define('WRT_MAX_SELECTORS')).toBe(limits.selectorsPerHook);
    expect(define('WRT_MAX_MATCH_ARGS')).toBe(limits.matchArgsPerSelector);
    expect(define('WRT_MAX_ACTIONS')).toBe(limits.actionsPerSelector);
    expect(define('WRT_MAX_VALUES')).toBe(limits.valuesPerNumericOperator);
    for (const [k, v] of Object.entries({
      HOOKS: K.CAPACITY.hooks,
      CALLS: K.CAPACITY.calls,
      LIST: K.CAPACITY.list,
      BIN_INDEX: K.CAPACITY.binIndex,
      SET: K.CAPACITY.set,
      LPM_SET: K.CAPACITY.lpmSet,
    }))
      expect(define(`WRT_CAP_${k}`), k).toBe(v);
    expect(K.CAPACITY.policies).toBe(K.MAX.policies);
    expect([define('WRT_CALL_FWD'), define('WRT_CALL_REV'), define('WRT_CALL_ARG_FWD'), define('WRT_CALL_ARG_REV')]).toEqual([
      K.CALL.fwd,
      K.CALL.rev,
      K.CALL.argFwd,
      K.CALL.argRev,
    ]);
    expect([define('WRT_IDX_FWD'), define('WRT_IDX_REV'), define('WRT_IDX_ARG_FWD'), define('WRT_IDX_ARG_REV')]).toEqual([
      K.IDX.fwd,
      K.IDX.rev,
      K.IDX.argFwd,
      K.IDX.argRev,
    ]);
    // No constant bounds the hooks of one syscall any more: the map sizes above do.
    expect(header).not.toMatch(/HOOKS_PER_CALL/);
    expect(define('WRT_LPM_STR_MAX')).toBe(limits.lpmStringBytes);
    expect(define('WRT_STR_MAX')).toBe(limits.stringBytes + 1);
    expect(define('WRT_STR_CLASS_A')).toBe(STR_CLASS_A);
    expect(define('WRT_STR_MAX')).toBe(STR_MAX);
    expect(define('WRT_LPM_STR_MAX')).toBe(LPM_STR_MAX);
    expect(define('WRT_ABI_VERSION')).toBe(K.ABI_VERSION);
    expect(define('WRT_MODE_ENFORCE')).toBe(K.MODE.enforce);
    expect(define('WRT_ARG_NONE')).toBe(K.ARG.none);
    expect(define('WRT_SEL_CGROUP_SCOPE')).toBe(K.SEL.cgroupScope);
    expect(define('WRT_NS_FLAG_NOT_IN')).toBe(K.NS_FLAG.notIn);
    expect(define('WRT_NS_FLAG_HOST_NS')).toBe(K.NS_FLAG.hostNs);
    for (const [k, v] of Object.entries({ EFFECTIVE: K.CAP.Effective, PERMITTED: K.CAP.Permitted, INHERITABLE: K.CAP.Inheritable }))
      expect(define(`WRT_CAP_${k}`), k).toBe(v);
    for (const [k, v] of Object.entries({ EXEC: K.EV.exec, EXIT: K.EV.exit, CALL: K.EV.call })) expect(define(`WRT_EV_${k}`), k).toBe(v);
    for (const [k, v] of Object.entries({ MONITOR: K.EVF.monitor, RAW_TP: K.EVF.rawTp, BINARY_KNOWN: K.EVF.binaryKnown }))
      expect(define(`WRT_EVF_${k}`), k).toBe(v);
    const max = {
      ARGS: K.MAX.args,
      SELECTORS: K.MAX.selectors,
      MATCH_ARGS: K.MAX.matchArgs,
      VALUES: K.MAX.values,
      PID_FILTERS: K.MAX.pidFilters,
      NS_FILTERS: K.MAX.nsFilters,
      ACTIONS: K.MAX.actions,
      POLICIES: K.MAX.policies,
    };
    for (const [k, v] of Object.entries(max)) expect(define(`WRT_MAX_${k}`), k).toBe(v);
    expect(define('WRT_STR_CLASS_B')).toBe(STR_CLASS_B);
  });

  it('keys and values round-trip through the encoders at the layout offsets', () => {
    const str = encodeStrKey(7, '/etc/shadow');
    expect(str.length).toBe(runtimeLayouts.wrt_str_key_a.size);
    expect(decodeStrKey(str)).toEqual({ setId: 7, bytes: Buffer.from('/etc/shadow') });
    expect(encodeStrKey(7, 'x'.repeat(100)).length).toBe(runtimeLayouts.wrt_str_key_b.size);
    expect(encodeStrKey(7, 'x'.repeat(300)).length).toBe(runtimeLayouts.wrt_str_key.size);
    const lpm = encodeLpmKey(3, '/usr/');
    expect(lpm.readUInt32LE(runtimeLayouts.wrt_lpm_key.fields.prefixlen.offset)).toBe(32 + 5 * 8);
    expect(decodeLpmKey(lpm)).toEqual({ setId: 3, bytes: Buffer.from('/usr/') });
    expect(decodeNumKey(encodeNumKey(4, -1n))).toEqual({ setId: 4, value: 2n ** 64n - 1n });
    const key = Buffer.alloc(4);
    key.writeUInt32LE(K.NR_ANY);
    const call = { syscallNr: K.NR_ANY, openStart: 3, openCount: 2, indexId: 8, flags: K.CALL.fwd | K.CALL.argRev, argReg: 1 };
    expect(decodeCall(key, encodeCall(call))).toEqual(call);
    expect(encodeCall(call).readUInt32LE(runtimeLayouts.wrt_call.fields.index_id.offset)).toBe(8);
    expect(encodeCall(call).readUInt32LE(runtimeLayouts.wrt_call.fields.arg_reg.offset)).toBe(1);
    expect(decodeSpan(encodeSpan(5, 7))).toEqual({ start: 5, count: 7 });
    expect(decodePolicyMode(encodePolicyMode('monitor'))).toBe(K.MODE.monitor);
    const proc = encodeProc({ pid: 42, ppid: 1, uid: 1000, binary: '/bin/cat' });
    const P = runtimeLayouts.wrt_proc.fields;
    expect([
      proc.readUInt32LE(P.pid.offset),
      proc.readUInt32LE(P.ppid.offset),
      proc.readUInt32LE(P.uid.offset),
      proc.readUInt32LE(P.binary_len.offset),
    ]).toEqual([42, 1, 1000, 8]);
    expect(proc.subarray(P.binary.offset, P.binary.offset + 8).toString()).toBe('/bin/cat');
    const ni = encodeNodeInfo([0, 11, 22]);
    expect([ni.readUInt32LE(4), ni.readUInt32LE(8)]).toEqual([11, 22]);
    const stats = Buffer.alloc(runtimeLayouts.wrt_stats.size * 2);
    stats.writeBigUInt64LE(3n, runtimeLayouts.wrt_stats.fields.calls.offset);
    stats.writeBigUInt64LE(4n, runtimeLayouts.wrt_stats.size + runtimeLayouts.wrt_stats.fields.calls.offset);
    stats.writeBigUInt64LE(5n, runtimeLayouts.wrt_stats.fields.events_lost.offset);
    expect(decodeRuntimeStats(stats)).toEqual({ calls: 7, matches: 0, signals: 0, events: 0, eventsLost: 5 });
    const hook = {
      policyId: 1,
      hookId: 9,
      scopeSet: 0,
      scoped: false,
      args: [{ src: 1, type: K.ARG.string }],
      selectors: [
        {
          args: [{ index: 0, op: K.OP.Prefix, vals: [], setId: 3 }],
          bin: { op: K.OP.Equal, setId: 7, followChildren: true },
          pids: [{ flags: K.PID.notIn, vals: [1, 2] }],
          ns: [{ kind: K.NS['Mnt']!, flags: K.NS_FLAG.hostNs, vals: [] }],
          cap: { kind: K.CAP.Effective, notIn: true, mask: 1n << 21n },
          actions: [{ action: K.ACTION.Signal, arg: -9 }],
        },
      ],
    };
    expect(decodeHook(encodeHook(hook))).toEqual(hook);
  });

  it('checkRuntimeImage names what is wrong with a runtime image', () => {
    expect(checkRuntimeImage({ name: 'wrt_hooks', keySize: 4, valueSize: 1712 }, 1716 * 2)).toEqual([]);
    expect(checkRuntimeImage({ name: 'wrt_hooks', keySize: 8, valueSize: 1700 }, 1716)).toEqual([
      'runtime image wrt_hooks: key/value sizes 8/1700, weir_runtime.h says 4/1712',
    ]);
    expect(checkRuntimeImage({ name: 'wrt_num', keySize: 16, valueSize: 1 }, 18)).toEqual([
      'runtime image wrt_num: 18 bytes is not a whole number of 17-byte records',
    ]);
    expect(checkRuntimeImage({ name: 'wrt_num', keySize: 16, valueSize: 1 }, 17 * 5000)).toEqual([
      "runtime image wrt_num: 5000 records exceed the map's 4096 entries",
    ]);
    expect(checkRuntimeImage({ name: 'wrt_nope', keySize: 1, valueSize: 1 }, 0)[0]).toMatch(/no runtime map has that name/);
  });
});
