// weir's runtime events against Tetragon's schema: every kind weir emits, read with a strict protojson
// reader over Tetragon's vendored .proto files (test/corpus/tetragon-api), beside real Tetragon events
// of the same kinds. The `weir` provenance object inside process_kprobe / process_tracepoint is the one addition.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { K as runtimeK, runtimeLayouts } from '../../bpf/abi/runtime.js';
import type { HookTableEntry } from '../../compiler/lower/runtime/hooks.js';
import { decodeRecord, signalName, TetragonEncoder } from '../../controller/events/tetragon.js';
import { checkProtojson, loadProtos } from '../protojson.js';
import { projectRoot } from './helpers.js';

const api = path.join(projectRoot, 'test/corpus/tetragon-api');
const schema = loadProtos(['tetragon', 'events', 'capabilities', 'bpf'].map((f) => path.join(api, `${f}.proto`)));
const weirAddition = [
  'GetEventsResponse.process_kprobe.weir',
  'GetEventsResponse.process_tracepoint.weir',
  'GetEventsResponse.process_lsm.weir',
];
const check = (o: unknown) => checkProtojson(schema, 'GetEventsResponse', o, 'GetEventsResponse', weirAddition);

const samples: { name: string; event: Record<string, unknown> }[] = [
  ...readFileSync(path.join(api, 'events.json'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l, i) => ({ name: `events.json:${i + 1}`, event: JSON.parse(l) as Record<string, unknown> })),
  {
    name: 'process-kprobe-sample.json',
    event: JSON.parse(readFileSync(path.join(api, 'process-kprobe-sample.json'), 'utf8')) as Record<string, unknown>,
  },
  {
    name: 'process-exit-sample.json',
    event: JSON.parse(readFileSync(path.join(api, 'process-exit-sample.json'), 'utf8')) as Record<string, unknown>,
  },
];

const offsets = <F extends string>(s: { fields: Record<F, { offset: number }> }) =>
  Object.fromEntries(Object.entries<{ offset: number }>(s.fields).map(([k, v]) => [k, v.offset])) as Record<F, number>;
const H = offsets(runtimeLayouts.wrt_event_hdr);
const C = offsets(runtimeLayouts.wrt_event_call);

function record(
  kind: 1 | 2 | 3,
  o: {
    pid: number;
    ppid: number;
    binary: string;
    exitCode?: number;
    action?: number;
    hookId?: number;
    /** The record's syscall number (kernel-function entries record -1). */
    nr?: number;
    args?: ({ s: string; t?: number } | { i: bigint; t: number })[];
  },
): Buffer {
  const b = Buffer.alloc(kind === 3 ? runtimeLayouts.wrt_event_call.size : runtimeLayouts.wrt_event_exit.size);
  b[H.kind] = kind;
  b[H.action] = o.action ?? 0;
  b[H.flags] = 4;
  b[H.n_args] = o.args?.length ?? 0;
  b.writeUInt32LE(o.hookId ?? 0, H.hook_id);
  b.writeInt32LE(kind === 3 ? (o.nr ?? 257) : 0, H.syscall_nr);
  b.writeUInt32LE(o.pid, H.pid);
  b.writeUInt32LE(o.pid, H.tid);
  b.writeUInt32LE(o.ppid, H.ppid);
  b.writeUInt32LE(1000, H.uid);
  b.writeBigUInt64LE(5_000_000_123n + BigInt(o.pid), H.ktime);
  b.writeUInt32LE(Buffer.byteLength(o.binary), H.binary_len);
  b.write(o.binary, H.binary);
  if (kind === 2 && 'exit_code' in runtimeLayouts.wrt_event_exit.fields)
    b.writeUInt32LE(o.exitCode ?? 0, (runtimeLayouts.wrt_event_exit.fields as Record<string, { offset: number }>)['exit_code']!.offset);
  (o.args ?? []).forEach((a, i) => {
    if ('s' in a) {
      b[C.arg_type + i] = a.t ?? 5;
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
    policy: 'every-type',
    namespace: 'shop',
    call: 'sys_openat',
    attach: 'syscalls/sys_enter_openat',
    eventKind: 'process_kprobe',
    file: 'p.yaml',
    line: 4,
    column: 3,
    tags: ['t'],
    args: [
      { index: 0, type: 'int', label: 'dirfd' },
      { index: 1, type: 'string' },
      { index: 2, type: 'uint32' },
      { index: 3, type: 'syscall64' },
      { index: 4, type: 'size_t' },
    ],
  },
  {
    hookId: 1,
    policy: 'tp',
    call: 'syscalls/sys_enter_mount',
    attach: 'syscalls/sys_enter_mount',
    eventKind: 'process_tracepoint',
    file: 'p.yaml',
    line: 9,
    column: 1,
    tags: [],
    args: [],
  },
  {
    hookId: 2,
    policy: 'kfn',
    call: 'tcp_close',
    attach: 'fexit/tcp_close',
    site: 0x40000000 + 7,
    returnArg: 'int',
    eventKind: 'process_kprobe',
    file: 'k.yaml',
    line: 3,
    column: 3,
    tags: [],
    args: [{ index: 1, type: 'int', label: 'timeout' }],
  },
  {
    hookId: 3,
    policy: 'lsm',
    call: 'file_open',
    attach: 'lsm/file_open',
    site: 0x40000000 + 9,
    eventKind: 'process_lsm',
    file: 'l.yaml',
    line: 5,
    column: 3,
    message: 'open under /etc',
    tags: ['fs'],
    args: [{ index: 0, type: 'string' }],
  },
  {
    hookId: 4,
    policy: 'kfn',
    call: 'security_file_open',
    attach: 'kprobe/security_file_open',
    site: 0x40000000 + 11,
    returnArg: 'int',
    eventKind: 'process_kprobe',
    file: 'k.yaml',
    line: 9,
    column: 3,
    tags: [],
    args: [{ index: 0, type: 'string' }],
  },
  {
    hookId: 5,
    policy: 'kinds',
    call: 'security_bprm_check',
    attach: 'kprobe/security_bprm_check',
    site: 0x40000000 + 13,
    eventKind: 'process_kprobe',
    file: 'k.yaml',
    line: 20,
    column: 3,
    tags: [],
    args: [
      { index: 0, type: 'file', label: 'f' },
      { index: 1, type: 'path' },
      { index: 2, type: 'linux_binprm' },
      { index: 3, type: 'char_buf' },
      { index: 4, type: 'sock' },
    ],
  },
  {
    hookId: 6,
    policy: 'kinds',
    call: 'cap_capable',
    attach: 'kprobe/cap_capable',
    site: 0x40000000 + 15,
    eventKind: 'process_kprobe',
    file: 'k.yaml',
    line: 30,
    column: 3,
    tags: [],
    args: [
      { index: 0, type: 'cred' },
      { index: 1, type: 'capability' },
      { index: 2, type: 'module' },
      { index: 3, type: 'fd' },
      { index: 4, type: 'bpf_map' },
    ],
  },
];

function events() {
  const enc = new TetragonEncoder({
    nodeName: 'node-1',
    table,
    bootTimeNs: 1_700_000_000_000_000_000n,
    podOf: (pid) => (pid >= 200 ? { namespace: 'shop', name: 'web-1' } : undefined),
  });
  const line = (b: Buffer) => JSON.parse(enc.jsonLine(b)!) as Record<string, Record<string, unknown>>;
  const shell = line(record(1, { pid: 100, ppid: 1, binary: '/bin/sh' }));
  const exec = line(record(1, { pid: 200, ppid: 100, binary: '/usr/bin/cat' }));
  const kprobe = line(
    record(3, {
      pid: 200,
      ppid: 100,
      binary: '/usr/bin/cat',
      action: 3,
      args: [{ i: -100n, t: 1 }, { s: '/etc/shadow' }, { i: 4294967295n, t: 2 }, { i: 59n, t: 3 }, { i: 0n, t: 4 }],
    }),
  );
  const tracepoint = line(record(3, { pid: 200, ppid: 100, binary: '/usr/bin/cat', hookId: 1 }));
  const exit = line(record(2, { pid: 200, ppid: 100, binary: '/usr/bin/cat', exitCode: 24 }));
  const exitClean = line(record(2, { pid: 100, ppid: 1, binary: '/bin/sh', exitCode: 0 }));
  // Kernel-function sites: a return probe (its value after the declared arguments), an LSM hook, and an
  // entry-time kprobe whose returnArg is not read; their entry programs record no syscall number (-1).
  const fexit = line(
    record(3, {
      pid: 200,
      ppid: 100,
      binary: '/usr/bin/cat',
      hookId: 2,
      nr: -1,
      action: 1,
      args: [
        { i: 0n, t: 1 },
        { i: -104n, t: 1 },
      ],
    }),
  );
  const lsm = line(record(3, { pid: 200, ppid: 100, binary: '/usr/bin/cat', hookId: 3, nr: -1, action: 4, args: [{ s: '/etc/passwd' }] }));
  const kfnEntry = line(record(3, { pid: 200, ppid: 100, binary: '/usr/bin/cat', hookId: 4, nr: -1, args: [{ s: '/etc/passwd' }] }));
  const unknownSite = line(record(3, { pid: 200, ppid: 100, binary: '/usr/bin/cat', hookId: 99, nr: -1 }));
  const A = runtimeK.ARG;
  const kinds = line(
    record(3, {
      pid: 200,
      ppid: 100,
      binary: '/usr/bin/cat',
      hookId: 5,
      nr: -1,
      args: [
        { s: '/etc/shadow', t: A.file },
        { s: '/etc', t: A.path },
        { s: '/usr/bin/cat', t: A.linux_binprm },
        { s: 'hi', t: A.char_buf | (4 << 5) },
        { i: 0xffff888012345678n, t: A.sock },
      ],
    }),
  );
  const kinds2 = line(
    record(3, {
      pid: 200,
      ppid: 100,
      binary: '/usr/bin/cat',
      hookId: 6,
      nr: -1,
      args: [
        { i: 0xffff888012345678n, t: A.cred },
        { i: 21n, t: A.capability },
        { s: 'nf_tables', t: A.module },
        { s: '', t: A.fd },
        { s: 'wrt_events', t: A.bpf_map },
      ],
    }),
  );
  return { shell, exec, kprobe, tracepoint, exit, exitClean, fexit, lsm, kfnEntry, unknownSite, kinds, kinds2 };
}

describe('Tetragon protojson conformance', () => {
  it('the strict reader accepts the real Tetragon events and refuses what protojson never writes', () => {
    expect(samples.length).toBeGreaterThanOrEqual(5);
    for (const s of samples) expect(check(s.event), s.name).toEqual([]);
    expect(check({ process_exit: { process: { exec_id: 'x', cwd: '' }, status: 0 } })).toEqual([
      'GetEventsResponse.process_exit.process.cwd: empty string is omitted by protojson',
      'GetEventsResponse.process_exit.status: zero uint32 is omitted by protojson',
    ]);
    expect(check({ process_kprobe: { args: [{ size_arg: 5 }], foo: 1 } })).toEqual([
      'GetEventsResponse.process_kprobe.args[0].size_arg: uint64 must be a decimal string, not 5',
      'GetEventsResponse.process_kprobe.foo: ProcessKprobe has no field foo',
    ]);
  });

  it("every event kind weir emits conforms, with weir's provenance the one addition", () => {
    for (const [kind, o] of Object.entries(events())) expect(check(o), kind).toEqual([]);
  });

  it('process trees join: parent_exec_id, parents on exec, kprobe and exit, tid, pod', () => {
    const e = events();
    const shellId = (e.shell['process_exec']!['process'] as { exec_id: string }).exec_id;
    expect(e.exec['process_exec']).toMatchObject({
      process: { pid: 200, tid: 200, uid: 1000, parent_exec_id: shellId, pod: { namespace: 'shop', name: 'web-1' } },
      parent: { exec_id: shellId },
    });
    expect(e.kprobe['process_kprobe']).toMatchObject({
      process: { parent_exec_id: shellId },
      parent: { exec_id: shellId, binary: '/bin/sh' },
    });
    expect(e.exit['process_exit']).toMatchObject({ parent: { exec_id: shellId }, signal: 'SIGXCPU' });
  });

  it('arguments by declared type as Tetragon writes them', () => {
    expect(events().kprobe['process_kprobe']!['args']).toEqual([
      { int_arg: -100, label: 'dirfd' },
      { string_arg: '/etc/shadow' },
      { uint_arg: 4294967295 },
      { syscall_id: { id: 59, abi: 'x64' } },
      { size_arg: '0' },
    ]);
  });

  it('zero values are omitted: no status on a clean exit, no cwd or arguments when unknown, no empty args', () => {
    const e = events();
    expect(e.exitClean['process_exit']).not.toHaveProperty('status');
    expect(e.exitClean['process_exit']!['process']).not.toHaveProperty('cwd');
    expect(e.exitClean['process_exit']!['process']).not.toHaveProperty('arguments');
    expect(e.tracepoint['process_tracepoint']).not.toHaveProperty('args');
  });

  it('signals by name, 16 to 31 included', () => {
    expect([16, 17, 24, 27, 30, 31, 34, 40].map(signalName)).toEqual([
      'SIGSTKFLT',
      'SIGCHLD',
      'SIGXCPU',
      'SIGPROF',
      'SIGPWR',
      'SIGSYS',
      'SIGRTMIN+0',
      'SIGRTMIN+6',
    ]);
  });

  it('weir fills the fields Tetragon users query, as the real events do', () => {
    const real = samples.find((s) => s.name === 'process-kprobe-sample.json')!.event['process_kprobe'] as Record<
      string,
      Record<string, unknown>
    >;
    const ours = events().kprobe['process_kprobe'] as Record<string, Record<string, unknown>>;
    for (const k of ['exec_id', 'pid', 'uid', 'binary', 'flags', 'start_time', 'pod', 'parent_exec_id']) {
      expect(real['process']).toHaveProperty(k);
      expect(ours['process'], k).toHaveProperty(k);
    }
    for (const k of ['process', 'parent', 'function_name', 'args', 'action']) expect(ours, k).toHaveProperty(k);
  });

  it('kernel-function events: function_name is the kernel function or LSM hook, a return probe carries `return`', () => {
    const e = events();
    expect(e.fexit).toEqual({
      process_kprobe: expect.objectContaining({
        function_name: 'tcp_close',
        args: [{ int_arg: 0, label: 'timeout' }],
        return: { int_arg: -104 },
        action: 'KPROBE_ACTION_POST',
        return_action: 'KPROBE_ACTION_POST',
        policy_name: 'kfn',
      }),
      node_name: 'node-1',
      time: expect.any(String),
    });
    // Proto field order (the parent exited before, so none here).
    expect(Object.keys(e.fexit['process_kprobe']!)).toEqual([
      'process',
      'function_name',
      'args',
      'return',
      'action',
      'policy_name',
      'return_action',
      'weir',
    ]);
    expect(e.lsm).toEqual({
      process_lsm: expect.objectContaining({
        function_name: 'file_open',
        args: [{ string_arg: '/etc/passwd' }],
        action: 'KPROBE_ACTION_SIGNAL',
        policy_name: 'lsm',
        message: 'open under /etc',
        tags: ['fs'],
      }),
      node_name: 'node-1',
      time: expect.any(String),
    });
    expect(e.lsm['process_lsm']).not.toHaveProperty('return');
    // At entry the return value is not read: no `return`, no return_action.
    expect(e.kfnEntry['process_kprobe']).toMatchObject({ function_name: 'security_file_open', args: [{ string_arg: '/etc/passwd' }] });
    expect(e.kfnEntry['process_kprobe']).not.toHaveProperty('return');
    expect(e.kfnEntry['process_kprobe']).not.toHaveProperty('return_action');
    // A record of a site the table does not know names no syscall (the entry programs record none).
    expect(e.unknownSite['process_kprobe']).not.toHaveProperty('function_name');
    expect(JSON.stringify(e)).not.toMatch(/syscall_-1/);
  });

  it('the fast JSON line and the object form agree on kernel-function, return and LSM events', () => {
    const enc = () => new TetragonEncoder({ nodeName: 'n', table, bootTimeNs: 1n });
    const a = enc();
    const b = enc();
    for (const r of [
      record(3, {
        pid: 5,
        ppid: 1,
        binary: '/bin/x',
        hookId: 2,
        nr: -1,
        args: [
          { i: 3n, t: 1 },
          { i: -1n, t: 1 },
        ],
      }),
      record(3, { pid: 5, ppid: 1, binary: '/bin/x', hookId: 3, nr: -1, args: [{ s: '/etc/shadow' }] }),
      record(3, { pid: 5, ppid: 1, binary: '/bin/x', hookId: 4, nr: -1, args: [{ s: '/etc/shadow' }] }),
      record(3, { pid: 5, ppid: 1, binary: '/bin/x', hookId: 99, nr: -1 }),
    ])
      expect(a.jsonLine(r)).toBe(JSON.stringify(b.encode(decodeRecord(r)!)));
  });

  it('kernel argument types as Tetragon reports them, and never a kernel address', () => {
    const e = events();
    expect(e.kinds['process_kprobe']!['args']).toEqual([
      { file_arg: { path: '/etc/shadow' }, label: 'f' },
      { path_arg: { path: '/etc' } },
      { linux_binprm_arg: { path: '/usr/bin/cat' } },
      { bytes_arg: Buffer.from('hi').toString('base64') },
      { sock_arg: {} },
    ]);
    expect(e.kinds2['process_kprobe']!['args']).toEqual([
      { process_credentials_arg: {} },
      { capability_arg: { value: 21, name: 'CAP_SYS_ADMIN' } },
      { module_arg: { name: 'nf_tables' } },
      { file_arg: {} },
      { bpf_map_arg: { MapName: 'wrt_events' } },
    ]);
    expect(JSON.stringify([e.kinds, e.kinds2])).not.toMatch(/18446612|ffff888/);
  });
});
