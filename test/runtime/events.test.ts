// Ring-buffer records → Tetragon JSON and compact lines, from records built in the C layouts.
import { describe, expect, it } from 'vitest';
import { runtimeLayouts } from '../../bpf/abi/runtime.js';
import type { HookTableEntry } from '../../compiler/lower/runtime/hooks.js';
import { compactLine, decodeRecord, TetragonEncoder } from '../../controller/events/tetragon.js';

const offsets = <F extends string>(s: { fields: Record<F, { offset: number }> }) =>
  Object.fromEntries(Object.entries<{ offset: number }>(s.fields).map(([k, v]) => [k, v.offset])) as Record<F, number>;
const H = offsets(runtimeLayouts.wrt_event_hdr);
const C = offsets(runtimeLayouts.wrt_event_call);

function callRecord(o: {
  pid: number;
  action: number;
  flags?: number;
  hookId?: number;
  args: ({ s: string } | { i: bigint; t: number })[];
  binary: string;
}): Buffer {
  const b = Buffer.alloc(runtimeLayouts.wrt_event_call.size);
  b[H.kind] = 3;
  b[H.action] = o.action;
  b[H.flags] = (o.flags ?? 0) | 4;
  b[H.n_args] = o.args.length;
  b.writeUInt32LE(o.hookId ?? 0, H.hook_id);
  b.writeInt32LE(257, H.syscall_nr);
  b.writeUInt32LE(o.pid, H.pid);
  b.writeUInt32LE(o.pid, H.tid);
  b.writeUInt32LE(1, H.ppid);
  b.writeBigUInt64LE(5_000_000_123n, H.ktime);
  b.writeUInt32LE(Buffer.byteLength(o.binary), H.binary_len);
  b.write(o.binary, H.binary);
  o.args.forEach((a, i) => {
    if ('s' in a) {
      b[C.arg_type + i] = 5;
      b.writeUInt16LE(Buffer.byteLength(a.s), C.str_len + i * 2);
      b.write(a.s, C.strs + i * 256);
    } else {
      b[C.arg_type + i] = a.t;
      b.writeBigUInt64LE(BigInt.asUintN(64, a.i), C.argv + i * 8);
    }
  });
  return b;
}

const table: HookTableEntry[] = [
  {
    hookId: 0,
    policy: 'protect-shadow',
    namespace: 'default',
    call: 'sys_openat',
    attach: 'syscalls/sys_enter_openat',
    eventKind: 'process_kprobe',
    file: 'policies/runtime/protect-shadow.yaml',
    line: 10,
    column: 5,
    commit: 'abc123',
    message: 'read of password hashes',
    tags: ['credential-access'],
    args: [
      { index: 0, type: 'int', label: 'dirfd' },
      { index: 1, type: 'string', label: 'pathname' },
      { index: 2, type: 'int' },
    ],
  },
  {
    hookId: 1,
    policy: 'tp',
    call: 'syscalls/sys_enter_mount',
    attach: 'syscalls/sys_enter_mount',
    eventKind: 'process_tracepoint',
    file: 'p.yaml',
    line: 3,
    column: 1,
    tags: [],
    args: [{ index: 5, type: 'string' }],
  },
];

describe('Tetragon events', () => {
  const enc = () => new TetragonEncoder({ nodeName: 'node-1', table, bootTimeNs: 1_700_000_000_000_000_000n });
  const kill = callRecord({
    pid: 4242,
    action: 3,
    binary: '/usr/bin/cat',
    args: [{ i: -100n, t: 1 }, { s: '/etc/shadow' }, { i: 0n, t: 1 }],
  });

  it('a Sigkill on a syscall kprobe is a process_kprobe with KPROBE_ACTION_SIGKILL, args by type, provenance', () => {
    const o = enc().encode(decodeRecord(kill)!);
    expect(o).toEqual({
      process_kprobe: {
        process: expect.objectContaining({ pid: 4242, binary: '/usr/bin/cat', uid: 0, flags: 'procFS' }),
        function_name: '__x64_sys_openat',
        args: [{ int_arg: -100, label: 'dirfd' }, { string_arg: '/etc/shadow', label: 'pathname' }, { int_arg: 0 }],
        action: 'KPROBE_ACTION_SIGKILL',
        policy_name: 'protect-shadow',
        message: 'read of password hashes',
        tags: ['credential-access'],
        weir: { file: 'policies/runtime/protect-shadow.yaml', line: 10, commit: 'abc123', hook_id: 0, attach: 'syscalls/sys_enter_openat' },
      },
      node_name: 'node-1',
      time: '2023-11-14T22:13:25.000000123Z',
    });
  });

  it('the fast JSON line is byte-identical to JSON.stringify of the object form, for kprobe, tracepoint and monitor events', () => {
    const recs = [
      kill,
      callRecord({ pid: 7, action: 1, flags: 1, binary: '/bin/mount', hookId: 1, args: [{ s: 'with "quotes" and \\ and é' }] }),
      callRecord({
        pid: 8,
        action: 1,
        binary: '/x',
        args: [
          { i: -5n, t: 3 },
          { i: 2n ** 64n - 1n, t: 4 },
          { i: 7n, t: 2 },
        ],
      }),
    ];
    for (const r of recs) {
      const a = enc();
      const b = enc();
      expect(a.jsonLine(r)).toBe(JSON.stringify(b.encode(decodeRecord(r)!)));
    }
  });

  it('monitor events say so, and the compact line names the verdict and the policy', () => {
    const e = enc();
    const mon = JSON.parse(
      e.jsonLine(
        callRecord({
          pid: 9,
          action: 3,
          flags: 1,
          binary: '/usr/bin/cat',
          args: [{ i: -100n, t: 1 }, { s: '/etc/shadow' }, { i: 0n, t: 1 }],
        }),
      )!,
    );
    expect(mon.process_kprobe.weir.mode).toBe('monitor');
    expect(compactLine(mon)).toBe('☠️  would-kill /usr/bin/cat __x64_sys_openat -100 /etc/shadow 0 (monitor) [protect-shadow]');
    const tp = JSON.parse(e.jsonLine(callRecord({ pid: 7, action: 1, binary: '/bin/mount', hookId: 1, args: [{ s: 'tmpfs' }] }))!);
    expect(tp.process_tracepoint).toMatchObject({
      subsys: 'syscalls',
      event: 'sys_enter_mount',
      action: 'KPROBE_ACTION_POST',
      policy_name: 'tp',
    });
    expect(compactLine(tp)).toBe('⁉️  syscall /bin/mount syscalls/sys_enter_mount tmpfs [tp]');
  });

  it("a call from a process whose parent was seen exec'ing carries the parent, in both encodings", () => {
    const mk = (pid: number, ppid: number, bin: string) => {
      const b = Buffer.alloc(runtimeLayouts.wrt_event_exit.size);
      b[H.kind] = 1;
      b[H.flags] = 4;
      b.writeUInt32LE(pid, H.pid);
      b.writeUInt32LE(ppid, H.ppid);
      b.writeUInt32LE(bin.length, H.binary_len);
      b.write(bin, H.binary);
      return b;
    };
    const a = enc();
    const b = enc();
    for (const e of [a, b]) {
      e.jsonLine(mk(100, 1, '/bin/bash'));
      e.jsonLine(mk(4242, 100, '/usr/bin/cat'));
    }
    const rec = Buffer.from(kill);
    rec.writeUInt32LE(100, H.ppid);
    const line = a.jsonLine(rec)!;
    expect(line).toBe(JSON.stringify(b.encode(decodeRecord(rec)!)));
    expect(JSON.parse(line).process_kprobe.parent).toMatchObject({ pid: 100, binary: '/bin/bash' });
  });

  it('exec and exit records pair up by exec_id; unknown kinds and short records are ignored', () => {
    const e = enc();
    const hdr = (kind: number) => {
      const b = Buffer.alloc(runtimeLayouts.wrt_event_exit.size);
      b[H.kind] = kind;
      b[H.flags] = 4;
      b.writeUInt32LE(55, H.pid);
      b.writeUInt32LE(4, H.binary_len);
      b.write('/bin', H.binary);
      return b;
    };
    const exec = JSON.parse(e.jsonLine(hdr(1))!);
    const exit = JSON.parse(e.jsonLine(hdr(2))!);
    expect(exec.process_exec.process.binary).toBe('/bin');
    expect(exit.process_exit.process.exec_id).toBe(exec.process_exec.process.exec_id);
    expect(compactLine(exec)).toBe('🚀 process /bin');
    expect(e.jsonLine(hdr(9))).toBeUndefined();
    expect(e.jsonLine(Buffer.alloc(10))).toBeUndefined();
  });
});
