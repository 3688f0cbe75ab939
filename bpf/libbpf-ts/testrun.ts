// BPF_PROG_TEST_RUN: run a loaded program on a synthesized packet (or context) without attaching it.
import { BpfError } from './errors.js';
import { native } from './native.js';

export interface TestRunOptions {
  /** The packet, from the Ethernet header on (tc and XDP programs). */
  data?: Uint8Array;
  /** Program context (e.g. a struct __sk_buff image for tc programs: mark, ifindex, ...). */
  ctx?: Uint8Array;
  /** Run the program this many times (duration is the average per run). */
  repeat?: number;
  /** Capacity for the packet the program leaves behind; defaults to data length + 256. */
  dataOutSize?: number;
  ctxOutSize?: number;
}

export interface TestRunResult {
  /** The program's return value (TC_ACT_*, XDP_*). */
  retval: number;
  /** Average ns per run as the kernel measured it. */
  durationNs: number;
  dataOut: Buffer;
  ctxOut?: Buffer;
}

export function testRun(progFd: number, opts: TestRunOptions, what = `prog fd ${progFd}`): TestRunResult {
  const n = native();
  const dataOut = Buffer.alloc(opts.dataOutSize ?? (opts.data ? opts.data.length + 256 : 0));
  // ctxOutSize 0: no context out (raw tracepoint programs refuse one, and any repeat count but 0).
  const ctxOut = opts.ctx && opts.ctxOutSize !== 0 ? Buffer.alloc(opts.ctxOutSize ?? opts.ctx.length) : undefined;
  const o = {
    sz: n.sizes.testRunOpts,
    data_in: opts.data ?? null,
    data_out: dataOut.length > 0 ? dataOut : null,
    data_size_in: opts.data?.length ?? 0,
    data_size_out: dataOut.length,
    ctx_in: opts.ctx ?? null,
    ctx_out: ctxOut ?? null,
    ctx_size_in: opts.ctx?.length ?? 0,
    ctx_size_out: ctxOut?.length ?? 0,
    retval: 0,
    repeat: opts.repeat ?? 1,
    duration: 0,
    flags: 0,
    cpu: 0,
    batch_size: 0,
  };
  const r = n.bpf_prog_test_run_opts(progFd, o) as number;
  if (r < 0)
    throw new BpfError(
      `bpf_prog_test_run_opts(${what})`,
      -r,
      [],
      -r === 22 ? 'the packet or context does not suit this program type' : undefined,
    );
  return {
    retval: o.retval,
    durationNs: o.duration,
    dataOut: dataOut.subarray(0, o.data_size_out),
    ...(ctxOut ? { ctxOut: ctxOut.subarray(0, o.ctx_size_out) } : {}),
  };
}
