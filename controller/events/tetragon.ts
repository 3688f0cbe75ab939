// Ring-buffer records of weir's runtime programs → Tetragon-compatible JSON lines (the shape of
// `tetra getevents -o json`: process_exec, process_exit, process_kprobe / process_tracepoint with
// policy_name, action and args), plus weir's provenance, and a compact one-line format like
// `tetra getevents -o compact`. Layouts: bpf/include/weir_runtime.h (offsets in bpf/abi/runtime.ts).
import { readFileSync, readlinkSync } from 'node:fs';
import type { HookTableEntry } from '../../compiler/lower/runtime/hooks.js';
import { runtimeLayouts } from '../../bpf/abi/runtime.js';

export const EV = { exec: 1, exit: 2, call: 3 } as const;
const ACTION_NAMES: Record<number, string> = { 1: 'KPROBE_ACTION_POST', 2: 'KPROBE_ACTION_NOPOST', 3: 'KPROBE_ACTION_SIGKILL', 4: 'KPROBE_ACTION_SIGNAL', 5: 'KPROBE_ACTION_OVERRIDE' };
const FLAG_MONITOR = 1;
const signalNames: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 4: 'SIGILL', 5: 'SIGTRAP', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE', 9: 'SIGKILL', 10: 'SIGUSR1', 11: 'SIGSEGV', 12: 'SIGUSR2', 13: 'SIGPIPE', 14: 'SIGALRM', 15: 'SIGTERM', 31: 'SIGSYS' };
const FLAG_BINARY_KNOWN = 4;
const ARG = { int: 1, uint32: 2, int64: 3, uint64: 4, string: 5 };

export interface DecodedEvent {
  kind: 'exec' | 'exit' | 'call';
  action: number;
  monitor: boolean;
  policyId: number;
  hookId: number;
  syscallNr: number;
  pid: number;
  tid: number;
  ppid: number;
  uid: number;
  ktime: bigint;
  signal: number;
  binary: string;
  binaryKnown: boolean;
  args: { type: number; value: bigint; str?: string }[];
  /** exit events: the wait status (status << 8 | signal). */
  exitCode?: number;
  /** exec events: argv[1..] joined by spaces, as Tetragon's process.arguments. */
  arguments?: string;
}

const H = runtimeLayouts.wrt_event_hdr.members;
const C = runtimeLayouts.wrt_event_call.members;

function cstr(b: Buffer, off: number, max: number, len?: number): string {
  let end = off + (len !== undefined ? Math.min(len, max) : max);
  if (len === undefined) {
    const z = b.indexOf(0, off);
    if (z >= 0 && z < end) end = z;
  }
  return b.toString('utf8', off, end);
}

/** Decodes one ring-buffer record; undefined for a record of unknown kind or size. */
export function decodeRecord(b: Buffer): DecodedEvent | undefined {
  if (b.length < runtimeLayouts.wrt_event_hdr.size) return undefined;
  const kind = b[H.kind];
  if (kind !== EV.exec && kind !== EV.exit && kind !== EV.call) return undefined;
  const flags = b[H.flags]!;
  const known = (flags & FLAG_BINARY_KNOWN) !== 0;
  const ev: DecodedEvent = {
    kind: kind === EV.exec ? 'exec' : kind === EV.exit ? 'exit' : 'call',
    action: b[H.action]!,
    monitor: (flags & FLAG_MONITOR) !== 0,
    policyId: b.readUInt32LE(H.policy_id),
    hookId: b.readUInt32LE(H.hook_id),
    syscallNr: b.readInt32LE(H.syscall_nr),
    pid: b.readUInt32LE(H.pid),
    tid: b.readUInt32LE(H.tid),
    ppid: b.readUInt32LE(H.ppid),
    uid: b.readUInt32LE(H.uid),
    ktime: b.readBigUInt64LE(H.ktime),
    signal: b.readInt32LE(H.signal),
    binary: known ? cstr(b, H.binary, 256, b.readUInt32LE(H.binary_len)) : cstr(b, H.binary, 16),
    binaryKnown: known,
    args: [],
  };
  if (kind === EV.exec && b.length >= runtimeLayouts.wrt_event_exec.size) {
    const X = runtimeLayouts.wrt_event_exec.members;
    const n = Math.min(b.readUInt32LE(X.args_len), 256);
    ev.arguments = b.toString('utf8', X.args, X.args + n).split('\0').slice(1).filter((a) => a !== '').join(' ');
  }
  if (kind === EV.exit && b.length >= runtimeLayouts.wrt_event_exit.size) ev.exitCode = b.readInt32LE(runtimeLayouts.wrt_event_exit.members.exit_code);
  if (kind === EV.call && b.length >= runtimeLayouts.wrt_event_call.size) {
    const n = Math.min(b[H.n_args]!, 5);
    for (let i = 0; i < n; i++) {
      const type = b[C.arg_type + i]!;
      const value = b.readBigUInt64LE(C.argv + i * 8);
      if (type === ARG.string) ev.args.push({ type, value, str: cstr(b, C.strs + i * 256, 255, b.readUInt16LE(C.str_len + i * 2)) });
      else ev.args.push({ type, value });
    }
  }
  return ev;
}

export interface ProcessInfo {
  exec_id: string;
  pid: number;
  uid: number;
  cwd: string;
  binary: string;
  arguments: string;
  flags: string;
  start_time: string;
  tid?: number;
  parent_exec_id?: string;
  pod?: { namespace: string; name: string; workload?: string };
}

export interface EncoderOptions {
  nodeName: string;
  /** The bundle's hook table (hook id → policy, call, file:line, commit). */
  table: readonly HookTableEntry[];
  /** Read arguments and cwd from /proc (the agent); off in benchmarks and replay. */
  procfs?: boolean;
  /** Boot time in ns since the epoch, to turn ktime into wall-clock time. */
  bootTimeNs?: bigint;
  /** pid → pod, from the agent's cgroup mapping. */
  podOf?: (pid: number) => ProcessInfo['pod'] | undefined;
}

function bootTimeNs(): bigint {
  const up = BigInt(Math.round(performance.timeOrigin * 1e6 + performance.now() * 1e6)) - process.hrtime.bigint();
  return up;
}

/** Turns decoded records into Tetragon JSON objects, keeping a small process cache (exec → exit). */
export class TetragonEncoder {
  readonly #opts: EncoderOptions;
  readonly #boot: bigint;
  readonly #procs = new Map<number, ProcessInfo>();

  constructor(opts: EncoderOptions) {
    this.#opts = opts;
    this.#boot = opts.bootTimeNs ?? bootTimeNs();
  }

  #time(ktime: bigint): string {
    return new Date(Number((this.#boot + ktime) / 1_000_000n)).toISOString();
  }

  #process(ev: DecodedEvent, fromExec: boolean): ProcessInfo {
    let p = this.#procs.get(ev.pid);
    if (!p || fromExec) {
      let args = ev.arguments ?? '';
      let cwd = '';
      let binary = ev.binary;
      if (this.#opts.procfs) {
        try {
          if (ev.arguments === undefined) args = readFileSync(`/proc/${ev.pid}/cmdline`).toString('utf8').split('\0').slice(1).filter(Boolean).join(' ');
          cwd = readlinkSync(`/proc/${ev.pid}/cwd`);
          if (!ev.binaryKnown) binary = readlinkSync(`/proc/${ev.pid}/exe`);
        } catch {
          /* gone already */
        }
      }
      // exec_id: Tetragon's is base64(node:ktime:pid); same idea, so that exec and exit pair up.
      p = {
        exec_id: Buffer.from(`${this.#opts.nodeName}:${ev.ktime}:${ev.pid}`).toString('base64'),
        pid: ev.pid,
        uid: ev.uid,
        cwd,
        binary,
        arguments: args,
        flags: fromExec ? 'execve' : 'procFS',
        start_time: this.#time(ev.ktime),
      };
      const pod = this.#opts.podOf?.(ev.pid);
      if (pod) p.pod = pod;
      this.#procs.set(ev.pid, p);
      if (this.#procs.size > 65536) this.#procs.delete(this.#procs.keys().next().value as number);
    }
    return p;
  }

  /** The Tetragon JSON object for one record (undefined if it is not an event kind Tetragon has). */
  encode(ev: DecodedEvent): Record<string, unknown> | undefined {
    const time = this.#timeNs(ev.ktime);
    const node_name = this.#opts.nodeName;
    if (ev.kind === 'exec') {
      const parent = this.#procs.get(ev.ppid);
      return { process_exec: { process: this.#process(ev, true), ...(parent ? { parent } : {}) }, node_name, time };
    }
    if (ev.kind === 'exit') {
      const process = this.#process(ev, false);
      this.#procs.delete(ev.pid);
      const code = ev.exitCode ?? 0;
      const sig = code & 0x7f;
      return { process_exit: { process, ...(sig ? { signal: signalNames[sig] ?? `SIG${sig}` } : {}), status: (code >> 8) & 0xff }, node_name, time };
    }
    const hook = this.#opts.table[ev.hookId];
    const args = ev.args.map((a, i) => {
      const label = hook?.args[i]?.label;
      const o: Record<string, unknown> =
        a.type === ARG.string ? { string_arg: a.str ?? '' }
        : a.type === ARG.int ? { int_arg: Number(BigInt.asIntN(64, a.value)) }
        : a.type === ARG.int64 ? { long_arg: BigInt.asIntN(64, a.value).toString() }
        : { size_arg: a.value.toString() };
      if (label) o['label'] = label;
      return o;
    });
    const body: Record<string, unknown> = { process: this.#process(ev, false) };
    // The parent as Tetragon reports it, when its exec was seen (processes older than weir have none).
    const parent = this.#procs.get(ev.ppid);
    if (parent) body['parent'] = parent;
    const isKprobe = hook?.eventKind !== 'process_tracepoint';
    if (isKprobe) body['function_name'] = hook ? (hook.call.startsWith('__x64_') || !hook.call.startsWith('sys_') ? hook.call : `__x64_${hook.call}`) : `syscall_${ev.syscallNr}`;
    else {
      const [subsys, event] = (hook?.attach ?? 'syscalls/unknown').split('/');
      body['subsys'] = subsys;
      body['event'] = event;
    }
    body['args'] = args;
    body['action'] = ACTION_NAMES[ev.action] ?? 'KPROBE_ACTION_UNKNOWN';
    body['policy_name'] = hook?.policy ?? `policy-${ev.policyId}`;
    if (hook?.message) body['message'] = hook.message;
    if (hook && hook.tags.length) body['tags'] = hook.tags;
    // weir's own fields: where the rule lives, and whether enforcement was suppressed by monitor mode.
    body['weir'] = { file: hook?.file, line: hook?.line, commit: hook?.commit, hook_id: ev.hookId, attach: hook?.attach, ...(ev.monitor ? { mode: 'monitor' } : {}) };
    return { [isKprobe ? 'process_kprobe' : 'process_tracepoint']: body, node_name, time };
  }

  /**
   * One JSON line per record, byte-identical to JSON.stringify(encode(decodeRecord(record))).
   * Call events (the hot path) are written straight from the record: per-hook and per-process
   * fragments are cached strings, so an event costs a few reads, its string args and one concat.
   */
  jsonLine(record: Buffer): string | undefined {
    if (record.length >= runtimeLayouts.wrt_event_call.size && record[H.kind] === EV.call) return this.#callLine(record);
    const ev = decodeRecord(record);
    if (!ev) return undefined;
    const o = this.encode(ev);
    return o ? JSON.stringify(o) : undefined;
  }

  readonly #hookFrags = new Map<number, { head: string; where: string; tail: string; labels: (string | undefined)[] }>();
  readonly #procJson = new Map<number, { info: ProcessInfo; json: string }>();
  #second = -1n;
  #secondIso = '';

  /** RFC 3339 with nanoseconds, as Tetragon prints it; the date part is cached per second. */
  #timeNs(ktime: bigint): string {
    const t = this.#boot + ktime;
    const sec = t / 1_000_000_000n;
    if (sec !== this.#second) {
      this.#second = sec;
      this.#secondIso = new Date(Number(sec) * 1000).toISOString().slice(0, 19);
    }
    return `${this.#secondIso}.${(t % 1_000_000_000n).toString().padStart(9, '0')}Z`;
  }

  #hookFrag(hookId: number, policyId: number, nr: number) {
    let f = this.#hookFrags.get(hookId);
    if (f) return f;
    const hook = this.#opts.table[hookId];
    const isKprobe = hook?.eventKind !== 'process_tracepoint';
    let where: string;
    if (isKprobe) where = `,"function_name":${JSON.stringify(hook ? (hook.call.startsWith('__x64_') || !hook.call.startsWith('sys_') ? hook.call : `__x64_${hook.call}`) : `syscall_${nr}`)}`;
    else {
      const [subsys, event] = (hook?.attach ?? 'syscalls/unknown').split('/');
      where = `,"subsys":${JSON.stringify(subsys)},"event":${JSON.stringify(event)}`;
    }
    const head = `{"${isKprobe ? 'process_kprobe' : 'process_tracepoint'}":{"process":`;
    let tail = `,"policy_name":${JSON.stringify(hook?.policy ?? `policy-${policyId}`)}`;
    if (hook?.message) tail += `,"message":${JSON.stringify(hook.message)}`;
    if (hook && hook.tags.length) tail += `,"tags":${JSON.stringify(hook.tags)}`;
    const weir = JSON.stringify({ file: hook?.file, line: hook?.line, commit: hook?.commit, hook_id: hookId, attach: hook?.attach });
    tail += `,"weir":${weir.slice(0, -1)}`;
    f = { head, where, tail, labels: hook ? hook.args.map((a) => a.label) : [] };
    this.#hookFrags.set(hookId, f);
    return f;
  }

  #callLine(b: Buffer): string | undefined {
    const pid = b.readUInt32LE(H.pid);
    const ktime = b.readBigUInt64LE(H.ktime);
    let pj = this.#procJson.get(pid);
    const cached = this.#procs.get(pid);
    if (!pj || pj.info !== cached) {
      const ev = decodeRecord(b)!;
      const info = this.#process(ev, false);
      pj = { info, json: JSON.stringify(info) };
      this.#procJson.set(pid, pj);
      if (this.#procJson.size > 65536) this.#procJson.delete(this.#procJson.keys().next().value as number);
    }
    const hookId = b.readUInt32LE(H.hook_id);
    const f = this.#hookFrag(hookId, b.readUInt32LE(H.policy_id), b.readInt32LE(H.syscall_nr));
    let args = '';
    const n = Math.min(b[H.n_args]!, 5);
    for (let i = 0; i < n; i++) {
      const type = b[C.arg_type + i]!;
      let a: string;
      if (type === ARG.string) a = `{"string_arg":${JSON.stringify(cstr(b, C.strs + i * 256, 255, b.readUInt16LE(C.str_len + i * 2)))}`;
      else if (type === ARG.int) a = `{"int_arg":${Number(BigInt.asIntN(64, b.readBigUInt64LE(C.argv + i * 8)))}`;
      else if (type === ARG.int64) a = `{"long_arg":"${b.readBigInt64LE(C.argv + i * 8)}"`;
      else a = `{"size_arg":"${b.readBigUInt64LE(C.argv + i * 8)}"`;
      const label = f.labels[i];
      if (label) a += `,"label":${JSON.stringify(label)}`;
      args += (i ? ',' : '') + a + '}';
    }
    const monitor = (b[H.flags]! & FLAG_MONITOR) !== 0;
    const action = ACTION_NAMES[b[H.action]!] ?? 'KPROBE_ACTION_UNKNOWN';
    const ppid = b.readUInt32LE(H.ppid);
    const parent = this.#procs.get(ppid);
    let parentJson = '';
    if (parent) {
      let pp = this.#procJson.get(ppid);
      if (!pp || pp.info !== parent) {
        pp = { info: parent, json: JSON.stringify(parent) };
        this.#procJson.set(ppid, pp);
      }
      parentJson = `,"parent":${pp.json}`;
    }
    return `${f.head}${pj.json}${parentJson}${f.where},"args":[${args}],"action":"${action}"${f.tail}${monitor ? ',"mode":"monitor"' : ''}}},"node_name":${JSON.stringify(this.#opts.nodeName)},"time":"${this.#timeNs(ktime)}"}`;
  }
}

/** `tetra getevents -o compact`-style line for a Tetragon JSON object. */
export function compactLine(o: Record<string, unknown>): string {
  const proc = (p: ProcessInfo | undefined) => `${p?.pod ? `${p.pod.namespace}/${p.pod.name} ` : ''}${p?.binary ?? '?'}${p?.arguments ? ' ' + p.arguments : ''}`;
  if (o['process_exec']) return `🚀 process ${proc((o['process_exec'] as { process: ProcessInfo }).process)}`;
  if (o['process_exit']) {
    const e = o['process_exit'] as { process: ProcessInfo; status?: number; signal?: string };
    return `💥 exit    ${proc(e.process)} ${e.signal ?? e.status ?? 0}`;
  }
  const body = (o['process_kprobe'] ?? o['process_tracepoint']) as Record<string, unknown> | undefined;
  if (!body) return JSON.stringify(o);
  const fn = (body['function_name'] as string | undefined) ?? `${body['subsys']}/${body['event']}`;
  const args = ((body['args'] as Record<string, unknown>[]) ?? []).map((a) => String(Object.values(a)[0])).join(' ');
  const action = String(body['action']);
  const monitor = (body['weir'] as { mode?: string } | undefined)?.mode === 'monitor';
  const icon = action === 'KPROBE_ACTION_SIGKILL' ? '☠️ ' : action === 'KPROBE_ACTION_SIGNAL' ? '📶' : '⁉️ ';
  const verb = action === 'KPROBE_ACTION_SIGKILL' ? (monitor ? 'would-kill' : 'killed') : action === 'KPROBE_ACTION_SIGNAL' ? (monitor ? 'would-signal' : 'signal') : 'syscall';
  const mode = monitor ? ' (monitor)' : '';
  return `${icon} ${verb} ${proc(body['process'] as ProcessInfo)} ${fn} ${args}${mode} [${body['policy_name']}]`;
}
