// BpfError: every failed libbpf call becomes one, carrying the errno name and what libbpf printed meanwhile.
import { constants } from 'node:os';
import { lastErrno, native, registerCallback } from './native.js';

const errnoNames = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) if (!errnoNames.has(value)) errnoNames.set(value, name);
// ENOTSUPP (524) is kernel-internal but BPF returns it for unsupported attach types.
errnoNames.set(524, 'ENOTSUPP');

export function errnoName(errno: number): string {
  return errnoNames.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}

export class BpfError extends Error {
  override readonly name = 'BpfError';
  /** Positive errno value, e.g. 1 for EPERM. */
  readonly errno: number;
  /** Symbolic errno, e.g. `EPERM`. */
  readonly code: string;
  /** The libbpf call (and its subject) that failed, e.g. `bpf_map_update_elem(policy)`. */
  readonly op: string;
  /** libbpf's own messages (warnings and info) printed while the call ran; for a load, the verifier log tail. */
  readonly log: string[];

  constructor(op: string, errno: number, log: string[] = [], hint?: string) {
    const e = Math.abs(errno);
    const tail =
      log.length > 0
        ? `\n  libbpf: ${log
            .slice(-12)
            .map((l) => l.replace(/^libbpf: /, '').trimEnd())
            .join('\n  libbpf: ')}`
        : '';
    super(`${op} failed: ${errnoName(e)} (${strerror(e)})${hint ? `; ${hint}` : ''}${tail}`);
    this.errno = e;
    this.code = errnoName(e);
    this.op = op;
    this.log = log;
  }
}

function strerror(errno: number): string {
  const buf = Buffer.alloc(256);
  native().libbpf_strerror(-errno, buf, buf.length);
  const end = buf.indexOf(0);
  return buf.subarray(0, end < 0 ? buf.length : end).toString();
}

/** libbpf print levels. */
const LIBBPF_WARN = 0;
const LIBBPF_INFO = 1;
const LIBBPF_DEBUG = 2;

let captured: string[] = [];
let installed = false;
const sinks = new Set<(level: 'warn' | 'info' | 'debug', line: string) => void>();
const printBuf = Buffer.alloc(16 * 1024);

/** Routes libbpf's print callback into libbpf-ts, once per process. */
export function installPrint(): void {
  if (installed) return;
  installed = true;
  const n = native();
  const debug = process.env['WEIR_LIBBPF_DEBUG'] === '1';
  // va_list decays to a pointer on x86_64/arm64 argument passing, so vsnprintf can format it directly.
  const cb = registerCallback(
    ((level: number, fmt: string, ap: unknown) => {
      if (level >= LIBBPF_DEBUG && !debug && sinks.size === 0) return 0;
      const len = n.vsnprintf(printBuf, printBuf.length, fmt, ap);
      const line = printBuf.subarray(0, Math.max(0, Math.min(len, printBuf.length - 1))).toString();
      if (level <= LIBBPF_INFO) captured.push(line);
      if (captured.length > 400) captured = captured.slice(-200);
      if (debug) process.stderr.write(line);
      const lvl = level === LIBBPF_WARN ? 'warn' : level === LIBBPF_INFO ? 'info' : 'debug';
      for (const s of sinks) s(lvl, line);
      return 0;
    }) as (...args: never[]) => unknown,
    'weir_libbpf_print_fn',
  );
  n.libbpf_set_print(cb.ptr);
}

/** Subscribe to every libbpf message (e.g. to forward into the agent's logger). */
export function onLibbpfLog(sink: (level: 'warn' | 'info' | 'debug', line: string) => void): () => void {
  installPrint();
  sinks.add(sink);
  return () => sinks.delete(sink);
}

/** Runs fn with libbpf's log captured; returns its result and the lines printed meanwhile. */
export function withLog<T>(fn: () => T): { value: T; log: string[] } {
  installPrint();
  const before = captured.length;
  const value = fn();
  const log = captured.slice(before);
  return { value, log };
}

/** Calls a libbpf function returning 0 / -errno (libbpf 1.0 mode) and throws a BpfError on failure. */
export function check(op: string, fn: () => number, hint?: (errno: number) => string | undefined): number {
  const { value, log } = withLog(fn);
  if (value < 0) {
    const e = -value;
    throw new BpfError(op, e, log, hint?.(e));
  }
  return value;
}

/** Calls a libbpf function returning a pointer (NULL + errno on failure). */
export function checkPtr<T>(op: string, fn: () => T, hint?: (errno: number) => string | undefined): NonNullable<T> {
  const { value, log } = withLog(fn);
  if (value === null || value === undefined || value === 0n) {
    const e = lastErrno() || 22;
    throw new BpfError(op, e, log, hint?.(e));
  }
  return value as NonNullable<T>;
}
