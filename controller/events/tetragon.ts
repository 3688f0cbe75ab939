// Ring-buffer records of weir's runtime programs → Tetragon-compatible JSON lines (the shape of
// `tetra getevents -o json`: process_exec, process_exit, process_kprobe / process_tracepoint with
// policy_name, action and args), plus weir's provenance, and a compact one-line format like
// `tetra getevents -o compact`. The records are decoded by bpf/abi/runtime.ts.
import { readFileSync, readlinkSync } from 'node:fs';
import type { HookTableEntry } from '../../compiler/lower/runtime/hooks.js';
import { decodeCallArgs, decodeEventHead, decodeRuntimeEvent, isCallRecord, K, type DecodedEvent } from '../../bpf/abi/runtime.js';

export type { DecodedEvent } from '../../bpf/abi/runtime.js';

const ACTION_NAMES: Record<number, string> = { [K.ACTION.Post]: 'KPROBE_ACTION_POST', [K.ACTION.NoPost]: 'KPROBE_ACTION_NOPOST', [K.ACTION.Sigkill]: 'KPROBE_ACTION_SIGKILL', [K.ACTION.Signal]: 'KPROBE_ACTION_SIGNAL', [K.ACTION.Override]: 'KPROBE_ACTION_OVERRIDE' };
const signalNames: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 4: 'SIGILL', 5: 'SIGTRAP', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE', 9: 'SIGKILL', 10: 'SIGUSR1', 11: 'SIGSEGV', 12: 'SIGUSR2', 13: 'SIGPIPE', 14: 'SIGALRM', 15: 'SIGTERM', 31: 'SIGSYS' };
const ARG = K.ARG;

/** Decodes one ring-buffer record (bpf/abi/runtime.ts); undefined for a record of unknown kind or size. */
export const decodeRecord = decodeRuntimeEvent;

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
    if (isCallRecord(record)) return this.#callLine(record);
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
    const h = decodeEventHead(b)!;
    let pj = this.#procJson.get(h.pid);
    const cached = this.#procs.get(h.pid);
    if (!pj || pj.info !== cached) {
      const ev = decodeRecord(b)!;
      const info = this.#process(ev, false);
      pj = { info, json: JSON.stringify(info) };
      this.#procJson.set(h.pid, pj);
      if (this.#procJson.size > 65536) this.#procJson.delete(this.#procJson.keys().next().value as number);
    }
    const f = this.#hookFrag(h.hookId, h.policyId, h.syscallNr);
    let args = '';
    decodeCallArgs(b).forEach(({ type, value, str }, i) => {
      let a: string;
      if (type === ARG.string) a = `{"string_arg":${JSON.stringify(str)}`;
      else if (type === ARG.int) a = `{"int_arg":${Number(BigInt.asIntN(64, value))}`;
      else if (type === ARG.int64) a = `{"long_arg":"${BigInt.asIntN(64, value)}"`;
      else a = `{"size_arg":"${value}"`;
      const label = f.labels[i];
      if (label) a += `,"label":${JSON.stringify(label)}`;
      args += (i ? ',' : '') + a + '}';
    });
    const monitor = (h.flags & K.EVF.monitor) !== 0;
    const action = ACTION_NAMES[h.action] ?? 'KPROBE_ACTION_UNKNOWN';
    const parent = this.#procs.get(h.ppid);
    let parentJson = '';
    if (parent) {
      let pp = this.#procJson.get(h.ppid);
      if (!pp || pp.info !== parent) {
        pp = { info: parent, json: JSON.stringify(parent) };
        this.#procJson.set(h.ppid, pp);
      }
      parentJson = `,"parent":${pp.json}`;
    }
    return `${f.head}${pj.json}${parentJson}${f.where},"args":[${args}],"action":"${action}"${f.tail}${monitor ? ',"mode":"monitor"' : ''}}},"node_name":${JSON.stringify(this.#opts.nodeName)},"time":"${this.#timeNs(h.ktime)}"}`;
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
