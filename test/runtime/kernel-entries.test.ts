// The entry programs of hooks on kernel functions and their argument readers, on this kernel: the kprobe and
// raw tracepoint entries go through the verifier; the readers and the socket operators run under
// BPF_PROG_TEST_RUN (a raw tracepoint program with a synthetic context) on real kernel objects of this test
// process (a file and a TCP connection behind its descriptors); attaching and the fentry/fmod_ret/LSM entries
// depend on what the capability probe finds, and skip citing it where this kernel lacks them.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTestReaderOut, encodeLpmKeyBits, encodeNumKey, encodeTestReaderCtx, K } from '../../bpf/abi/runtime.js';
import { BpfObject, probeHooks, type HookSupport } from '../../bpf/libbpf-ts/index.js';
import { objectsDir } from '../../bpf/paths.js';
import { parseCidr } from '../../compiler/lower/runtime/kernel-args.js';
import { skipKernel } from '../kernel-env.js';
import { tempDir } from './helpers.js';

const skip = skipKernel();
const kprobeObject = path.join(objectsDir(), 'wrt_kprobe.bpf.o');
const fentryObject = path.join(objectsDir(), 'wrt_fentry.bpf.o');

describe.skipIf(skip)('kernel-function entry programs on this kernel', () => {
  let hooks: HookSupport[] = [];
  let obj: BpfObject;
  let dir: string;
  let server: Server;
  let client: Socket;
  beforeAll(async () => {
    hooks = probeHooks();
    obj = BpfObject.open(kprobeObject).load();
    dir = tempDir();
    server = createServer((s) => s.on('error', () => {})).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as { port: number }).port;
    client = connect(port, '127.0.0.1');
    await new Promise((r) => client.once('connect', r));
  });
  afterAll(() => {
    client?.destroy();
    server?.close();
    obj?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const probe = (k: HookSupport['hook']) => hooks.find((h) => h.hook === k);

  const read = (words: (number | bigint)[]) => {
    const r = obj.program('wrt_test_reader').testRun({ ctx: encodeTestReaderCtx(words), ctxOutSize: 0, repeat: 0 });
    expect(r.retval).toBe(0);
    return decodeTestReaderOut(obj.map('wrt_test_out').lookup(0)!);
  };

  it('every kprobe and raw tracepoint entry passes the verifier (the whole object loaded)', () => {
    expect(
      obj
        .programs()
        .map((p) => p.name)
        .sort(),
    ).toEqual(['wrt_kprobe', 'wrt_kprobe_sys', 'wrt_kretprobe', 'wrt_raw_tp', 'wrt_test_reader']);
    for (const p of obj.programs()) expect(p.fd, p.name).toBeGreaterThan(0);
  });

  it('fd → file → path: the bounded dentry walk gives the path of a file this process opened', () => {
    const file = path.join(dir, 'a', 'deeper', 'probe.txt');
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, 'x');
    const fd = openSync(file, 'r');
    try {
      expect(read([K.ARG.fd, fd]).str).toBe(realpathSync(file));
    } finally {
      closeSync(fd);
    }
    // A descriptor that is not open reads as the empty string.
    expect(read([K.ARG.fd, 1_000_000]).str).toBe('');
  });

  it('socket behind a descriptor: family, protocol, state, addresses and ports of a real TCP connection', () => {
    const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
    const f = read([K.ARG.socket, fd]).facts;
    expect(f).toMatchObject({ family: 2, protocol: 6, state: 1, sport: client.localPort, dport: client.remotePort });
    expect([...f.daddr.subarray(0, 4)]).toEqual([127, 0, 0, 1]);
  });

  it('socket operators: inline values, numeric sets and address CIDRs in the prefix trie, as the lowering encodes them', () => {
    const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
    const op = (o: number, setId: number, vals: number[]) =>
      read([K.ARG.socket, fd, o, setId, ...[0, 1, 2, 3].map((i) => vals[i] ?? 0), vals.length]).verdict;
    const cidr = (setId: number, c: string) => {
      const k = parseCidr(c);
      if (typeof k === 'string') throw new Error(k);
      obj.map('wrt_test_prefix').update(encodeLpmKeyBits(setId, k.bytes, k.bits), Uint8Array.of(1));
    };
    cidr(1, '127.0.0.0/8');
    cidr(2, '10.0.0.0/8');
    cidr(2, '::1/128');
    obj.map('wrt_test_num').update(encodeNumKey(3, BigInt(client.remotePort!)), Uint8Array.of(1));
    expect(op(K.OP.Family, 0, [10, 2])).toBe(1);
    expect(op(K.OP.Family, 0, [10])).toBe(0);
    expect(op(K.OP.Protocol, 0, [6])).toBe(1);
    expect(op(K.OP.State, 0, [1])).toBe(1);
    expect(op(K.OP.State, 0, [10])).toBe(0);
    expect(op(K.OP.DAddr, 1, [])).toBe(1);
    expect(op(K.OP.SAddr, 1, [])).toBe(1);
    expect(op(K.OP.DAddr, 2, [])).toBe(0);
    expect(op(K.OP.NotDAddr, 2, [])).toBe(1);
    expect(op(K.OP.DPort, 3, [])).toBe(1);
    expect(op(K.OP.NotDPort, 3, [])).toBe(0);
    expect(op(K.OP.DPort, 0, [client.remotePort!])).toBe(1);
    expect(op(K.OP.NotSPort, 0, [client.localPort!])).toBe(0);
    expect(op(K.OP.SPortPriv, 0, [])).toBe(client.localPort! < 1024 ? 1 : 0);
    expect(op(K.OP.NotDPortPriv, 0, [])).toBe(client.remotePort! >= 1024 ? 1 : 0);
  });

  it("cred: the effective capability set of this process's credentials", () => {
    const status = readFileSync('/proc/self/status', 'utf8');
    const capEff = BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(status)![1]}`);
    expect(read([K.ARG.cred, 0]).caps).toBe(capEff);
  });

  it('kprobe entries attach where the capability probe says kprobes attach', (ctx) => {
    const k = probe('kprobe');
    if (!k?.attaches) {
      console.warn(`skipping kprobe attach: the capability probe found kprobe programs load=${k?.loads} attach=false (${k?.error})`);
      return ctx.skip();
    }
    const o = BpfObject.open(kprobeObject, { programs: ['wrt_kprobe'] }).load();
    try {
      o.program('wrt_kprobe').attach().close();
    } finally {
      o.close();
    }
  });

  it('fentry/fexit/fmod_ret/LSM entries are compiled; they load only where the probe finds fentry and BPF LSM', (ctx) => {
    expect(existsSync(fentryObject)).toBe(true);
    const fe = probe('fentry');
    const lsm = probe('lsm');
    if (!fe?.loads || !lsm?.loads) {
      console.warn(
        `skipping fentry/LSM load: the capability probe found fentry load=${fe?.loads} (${fe?.error ?? 'ok'}), lsm load=${lsm?.loads} (${lsm?.error ?? 'ok'})`,
      );
      return ctx.skip();
    }
    const o = BpfObject.open(fentryObject);
    try {
      o.load();
    } finally {
      o.close();
    }
  });
});
