// Ring-buffer records of weir's runtime programs → Tetragon-compatible JSON lines (the shape of
// `tetra getevents -o json`: process_exec, process_exit, process_kprobe / process_tracepoint / process_lsm
// with policy_name, action and args, and a return probe's value as `return`), plus weir's provenance, and a compact one-line format like
// `tetra getevents -o compact`. The records are decoded by bpf/abi/runtime.ts.
import { readFileSync, readlinkSync } from 'node:fs';
import type { HookTableEntry } from '../../compiler/lower/runtime/hooks.js';
import { decodeCallArgs, decodeEventHead, decodeRuntimeEvent, isCallRecord, K, type DecodedEvent } from '../../bpf/abi/runtime.js';
import { capabilityNames } from '../../compiler/ir/runtime/compile.js';

export type { DecodedEvent } from '../../bpf/abi/runtime.js';

const ACTION_NAMES: Record<number, string> = {
  [K.ACTION.Post]: 'KPROBE_ACTION_POST',
  [K.ACTION.NoPost]: 'KPROBE_ACTION_NOPOST',
  [K.ACTION.Sigkill]: 'KPROBE_ACTION_SIGKILL',
  [K.ACTION.Signal]: 'KPROBE_ACTION_SIGNAL',
  [K.ACTION.Override]: 'KPROBE_ACTION_OVERRIDE',
};
// Linux x86_64 signal numbers, named as Tetragon writes process_exit.signal.
const signalNames: Record<number, string> = {
  1: 'SIGHUP',
  2: 'SIGINT',
  3: 'SIGQUIT',
  4: 'SIGILL',
  5: 'SIGTRAP',
  6: 'SIGABRT',
  7: 'SIGBUS',
  8: 'SIGFPE',
  9: 'SIGKILL',
  10: 'SIGUSR1',
  11: 'SIGSEGV',
  12: 'SIGUSR2',
  13: 'SIGPIPE',
  14: 'SIGALRM',
  15: 'SIGTERM',
  16: 'SIGSTKFLT',
  17: 'SIGCHLD',
  18: 'SIGCONT',
  19: 'SIGSTOP',
  20: 'SIGTSTP',
  21: 'SIGTTIN',
  22: 'SIGTTOU',
  23: 'SIGURG',
  24: 'SIGXCPU',
  25: 'SIGXFSZ',
  26: 'SIGVTALRM',
  27: 'SIGPROF',
  28: 'SIGWINCH',
  29: 'SIGIO',
  30: 'SIGPWR',
  31: 'SIGSYS',
};

/** A signal's name as Tetragon writes it (real-time signals as SIGRTMIN+n). */
export function signalName(sig: number): string {
  return signalNames[sig] ?? (sig >= 34 && sig <= 64 ? `SIGRTMIN+${sig - 34}` : `SIG${sig}`);
}
const ARG = K.ARG;

/** Decodes one ring-buffer record (bpf/abi/runtime.ts); undefined for a record of unknown kind or size. */
export const decodeRecord = decodeRuntimeEvent;

/** tetragon.Process as protojson writes it (proto field order; empty strings omitted; pid, uid, auid, tid are wrappers). */
export interface ProcessInfo {
  exec_id: string;
  pid: number;
  uid: number;
  cwd?: string;
  binary: string;
  arguments?: string;
  flags: string;
  start_time: string;
  auid?: number;
  pod?: { namespace: string; name: string; workload?: string };
  parent_exec_id?: string;
  tid: number;
}

export interface EncoderOptions {
  nodeName: string;
  /** The bundle's hook table (hook id → policy, call, file:line, commit). */
  table: readonly HookTableEntry[];
  /** Read arguments and cwd from /proc (the agent); off in benchmarks and replay. */
  procfs?: boolean;
  /** Boot time in ns since the epoch, to turn ktime into wall-clock time. */
  bootTimeNs?: bigint;
  /** pid and cgroup id (of the event) → pod, from the agent's cgroup mapping. */
  podOf?: (pid: number, cgroupId?: bigint) => ProcessInfo['pod'] | undefined;
}

function bootTimeNs(): bigint {
  const up = BigInt(Math.round(performance.timeOrigin * 1e6 + performance.now() * 1e6)) - process.hrtime.bigint();
  return up;
}

/** Turns decoded records into Tetragon JSON objects, keeping a small process cache (exec → exit). */
export class TetragonEncoder {
  #opts: EncoderOptions;
  readonly #boot: bigint;
  readonly #procs = new Map<number, ProcessInfo>();

  constructor(opts: EncoderOptions) {
    this.#opts = opts;
    this.#boot = opts.bootTimeNs ?? bootTimeNs();
  }

  /** A new bundle's hook table (hook ids are per bundle); the process cache stays. */
  setTable(table: readonly HookTableEntry[]): void {
    this.#opts = { ...this.#opts, table };
    this.#hookFrags.clear();
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
      let auid: number | undefined;
      if (this.#opts.procfs) {
        try {
          if (ev.arguments === undefined)
            args = readFileSync(`/proc/${ev.pid}/cmdline`).toString('utf8').split('\0').slice(1).filter(Boolean).join(' ');
          cwd = readlinkSync(`/proc/${ev.pid}/cwd`);
          if (!ev.binaryKnown) binary = readlinkSync(`/proc/${ev.pid}/exe`);
          auid = Number(readFileSync(`/proc/${ev.pid}/loginuid`, 'utf8'));
        } catch {
          /* gone already */
        }
      }
      // The parent as weir saw it exec, or (the agent) as /proc has it for processes older than weir.
      const parent = this.#parentOf(ev.ppid);
      // exec_id: Tetragon's is base64(node:ktime:pid); same idea, so that exec and exit pair up.
      p = this.#info(
        {
          exec_id: Buffer.from(`${this.#opts.nodeName}:${ev.ktime}:${ev.pid}`).toString('base64'),
          pid: ev.pid,
          uid: ev.uid,
          cwd,
          binary,
          arguments: args,
          flags: fromExec ? 'execve' : 'procFS',
          start_time: this.#time(ev.ktime),
          ...(auid !== undefined && Number.isFinite(auid) ? { auid } : {}),
          ...(parent ? { parent_exec_id: parent.exec_id } : {}),
          tid: ev.pid,
        },
        ev.cgroupId,
      );
      this.#remember(p);
    }
    return p;
  }

  /** A ProcessInfo in proto field order with empty strings left out, as protojson writes it. */
  #info(o: Omit<ProcessInfo, 'pod'>, cgroupId?: bigint): ProcessInfo {
    const pod = this.#opts.podOf?.(o.pid, cgroupId);
    return {
      exec_id: o.exec_id,
      pid: o.pid,
      uid: o.uid,
      ...(o.cwd ? { cwd: o.cwd } : {}),
      binary: o.binary,
      ...(o.arguments ? { arguments: o.arguments } : {}),
      flags: o.flags,
      start_time: o.start_time,
      ...(o.auid !== undefined ? { auid: o.auid } : {}),
      ...(pod ? { pod } : {}),
      ...(o.parent_exec_id ? { parent_exec_id: o.parent_exec_id } : {}),
      tid: o.tid,
    };
  }

  #remember(p: ProcessInfo): void {
    this.#procs.set(p.pid, p);
    if (this.#procs.size > 65536) this.#procs.delete(this.#procs.keys().next().value as number);
  }

  /** The parent process: seen by weir, or read from /proc (flags procFS) when the agent reads procfs. */
  #parentOf(ppid: number): ProcessInfo | undefined {
    const seen = this.#procs.get(ppid);
    if (seen || !this.#opts.procfs || ppid <= 0) return seen;
    try {
      const stat = readFileSync(`/proc/${ppid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Field 22 (index 19 after the comm) is the start time in clock ticks since boot (USER_HZ 100).
      const ktime = BigInt(f[19] ?? '0') * 10_000_000n;
      const status = readFileSync(`/proc/${ppid}/status`, 'utf8');
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      const grand = this.#procs.get(Number(f[1] ?? 0));
      let cwd = '';
      let binary = '';
      try {
        cwd = readlinkSync(`/proc/${ppid}/cwd`);
        binary = readlinkSync(`/proc/${ppid}/exe`);
      } catch {
        /* a kernel thread */
      }
      const args = readFileSync(`/proc/${ppid}/cmdline`).toString('utf8').split('\0').slice(1).filter(Boolean).join(' ');
      const p = this.#info({
        exec_id: Buffer.from(`${this.#opts.nodeName}:${ktime}:${ppid}`).toString('base64'),
        pid: ppid,
        uid,
        cwd,
        binary,
        arguments: args,
        flags: 'procFS',
        start_time: this.#time(ktime),
        ...(grand ? { parent_exec_id: grand.exec_id } : {}),
        tid: ppid,
      });
      this.#remember(p);
      return p;
    } catch {
      return undefined;
    }
  }

  /** The Tetragon JSON object for one record (undefined if it is not an event kind Tetragon has). */
  encode(ev: DecodedEvent): Record<string, unknown> | undefined {
    const time = this.#timeNs(ev.ktime);
    const node_name = this.#opts.nodeName;
    if (ev.kind === 'exec') {
      const process = this.#process(ev, true);
      const parent = this.#procs.get(ev.ppid);
      return { process_exec: { process, ...(parent ? { parent } : {}) }, node_name, time };
    }
    if (ev.kind === 'exit') {
      const process = this.#process(ev, false);
      const parent = this.#procs.get(ev.ppid);
      this.#procs.delete(ev.pid);
      const code = ev.exitCode ?? 0;
      const sig = code & 0x7f;
      const status = (code >> 8) & 0xff;
      return {
        process_exit: {
          process,
          ...(parent ? { parent } : {}),
          ...(sig ? { signal: signalName(sig) } : {}),
          ...(status ? { status } : {}),
        },
        node_name,
        time,
      };
    }
    const hook = this.#opts.table[ev.hookId];
    const args = ev.args.map((a, i) => JSON.parse(argJson(a.type, a.value, a.str, hook?.args[i])) as Record<string, unknown>);
    // A return probe's value is read after the declared arguments: Tetragon reports it as `return`.
    const ret = hook && returnSite(hook) && args.length > hook.args.length ? args.splice(hook.args.length, 1)[0] : undefined;
    const body: Record<string, unknown> = { process: this.#process(ev, false) };
    // The parent as Tetragon reports it, when its exec was seen (processes older than weir have none).
    const parent = this.#parentOf(ev.ppid);
    if (parent) body['parent'] = parent;
    const kind = eventKindOf(hook);
    if (kind !== 'process_tracepoint') {
      const fn = functionName(hook, ev.syscallNr);
      if (fn) body['function_name'] = fn;
    } else {
      const [subsys, event] = (hook?.attach ?? 'syscalls/unknown').split('/');
      body['subsys'] = subsys;
      body['event'] = event;
    }
    if (args.length) body['args'] = args;
    if (ret) body['return'] = ret;
    body['action'] = ACTION_NAMES[ev.action] ?? 'KPROBE_ACTION_UNKNOWN';
    body['policy_name'] = hook?.policy ?? `policy-${ev.policyId}`;
    if (hook && returnSite(hook)) body['return_action'] = ACTION_NAMES[K.ACTION.Post];
    if (hook?.message) body['message'] = hook.message;
    if (hook && hook.tags.length) body['tags'] = hook.tags;
    // weir's own fields: where the rule lives, and whether enforcement was suppressed by monitor mode.
    body['weir'] = {
      file: hook?.file,
      line: hook?.line,
      commit: hook?.commit,
      hook_id: ev.hookId,
      attach: hook?.attach,
      ...(ev.monitor ? { mode: 'monitor' } : {}),
    };
    return { [kind]: body, node_name, time };
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

  readonly #hookFrags = new Map<
    number,
    { head: string; where: string; tail: string; args: readonly HookTableEntry['args'][number][]; ret: boolean }
  >();
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
    const kind = eventKindOf(hook);
    let where = '';
    if (kind !== 'process_tracepoint') {
      const fn = functionName(hook, nr);
      if (fn) where = `,"function_name":${JSON.stringify(fn)}`;
    } else {
      const [subsys, event] = (hook?.attach ?? 'syscalls/unknown').split('/');
      where = `,"subsys":${JSON.stringify(subsys)},"event":${JSON.stringify(event)}`;
    }
    const head = `{"${kind}":{"process":`;
    const ret = hook !== undefined && returnSite(hook);
    let tail = `,"policy_name":${JSON.stringify(hook?.policy ?? `policy-${policyId}`)}`;
    if (ret) tail += `,"return_action":"${ACTION_NAMES[K.ACTION.Post]}"`;
    if (hook?.message) tail += `,"message":${JSON.stringify(hook.message)}`;
    if (hook && hook.tags.length) tail += `,"tags":${JSON.stringify(hook.tags)}`;
    const weir = JSON.stringify({ file: hook?.file, line: hook?.line, commit: hook?.commit, hook_id: hookId, attach: hook?.attach });
    tail += `,"weir":${weir.slice(0, -1)}`;
    f = { head, where, tail, args: hook ? hook.args : [], ret };
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
    let ret = '';
    decodeCallArgs(b).forEach(({ type, value, str }, i) => {
      if (f.ret && i === f.args.length) ret = `,"return":${argJson(type, value, str, undefined)}`;
      else args += (i ? ',' : '') + argJson(type, value, str, f.args[i]);
    });
    const monitor = (h.flags & K.EVF.monitor) !== 0;
    const action = ACTION_NAMES[h.action] ?? 'KPROBE_ACTION_UNKNOWN';
    const parent = this.#parentOf(h.ppid);
    let parentJson = '';
    if (parent) {
      let pp = this.#procJson.get(h.ppid);
      if (!pp || pp.info !== parent) {
        pp = { info: parent, json: JSON.stringify(parent) };
        this.#procJson.set(h.ppid, pp);
      }
      parentJson = `,"parent":${pp.json}`;
    }
    return `${f.head}${pj.json}${parentJson}${f.where}${args ? `,"args":[${args}]` : ''}${ret},"action":"${action}"${f.tail}${monitor ? ',"mode":"monitor"' : ''}}},"node_name":${JSON.stringify(this.#opts.nodeName)},"time":"${this.#timeNs(h.ktime)}"}`;
  }
}

/** Tetragon's event kind for a hook's events (process_kprobe when the hook is unknown to this table). */
function eventKindOf(hook: HookTableEntry | undefined): HookTableEntry['eventKind'] {
  return hook?.eventKind ?? 'process_kprobe';
}

/** A hook evaluated when its function returns (kretprobe, fexit), whose value Tetragon reports as `return`. */
function returnSite(hook: HookTableEntry): boolean {
  return hook.returnArg !== undefined && /^(kretprobe|fexit)\//.test(hook.attach);
}

/**
 * function_name as Tetragon writes it: the kernel function (or LSM hook) hooked; a syscall's by its x86_64
 * entry symbol. A record whose hook this table lacks names a syscall by number, a kernel function (the entry
 * programs record no syscall number, -1) not at all.
 */
function functionName(hook: HookTableEntry | undefined, nr: number): string | undefined {
  if (!hook) return nr >= 0 ? `syscall_${nr}` : undefined;
  return hook.call.startsWith('__x64_') || !hook.call.startsWith('sys_') ? hook.call : `__x64_${hook.call}`;
}

/** A protojson object from [key, JSON value] pairs, leaving out empty strings (protojson omits zero values). */
const jsonObject = (fields: [string, string | undefined][]): string =>
  `{${fields
    .filter(([, v]) => v !== undefined && v !== '""')
    .map(([k, v]) => `"${k}":${v}`)
    .join(',')}}`;

/**
 * One KprobeArgument as protojson writes it: the oneof member by the argument's type as Tetragon reports it
 * (uint32 → uint_arg, syscall64 → syscall_id {id, abi}, a file/fd/kiocb → file_arg {path}, path/dentry →
 * path_arg, linux_binprm → linux_binprm_arg, char_buf → bytes_arg, ...), 64-bit integers as strings, then the
 * label. Kernel structs whose facts the record does not carry (sock, skb, sockaddr, cred, ...) are their empty
 * message: never a kernel address.
 */
function argJson(type: number, value: bigint, str: string | undefined, declared: { type: string; label?: string } | undefined): string {
  const A = ARG;
  const s = JSON.stringify(str ?? '');
  let a: string;
  switch (type) {
    case A.string:
      a = `"string_arg":${s}`;
      break;
    case A.int:
      a = `"int_arg":${Number(BigInt.asIntN(32, value))}`;
      break;
    case A.uint32:
      a = `"uint_arg":${Number(BigInt.asUintN(32, value))}`;
      break;
    case A.int64:
      if (declared?.type === 'syscall64') {
        // Tetragon's syscall64: the number, and the ABI (bit 30 set: x32; weir reads the native x86_64 table).
        const raw = BigInt.asUintN(64, value);
        const id = Number(raw & 0xbfffffffn);
        a = `"syscall_id":{${id ? `"id":${id},` : ''}"abi":"${raw & 0x40000000n ? 'x32' : 'x64'}"}`;
      } else a = `"long_arg":"${BigInt.asIntN(64, value)}"`;
      break;
    case A.file:
    case A.fd:
    case A.kiocb:
      a = `"file_arg":${jsonObject([['path', s]])}`;
      break;
    case A.path:
    case A.dentry:
      a = `"path_arg":${jsonObject([['path', s]])}`;
      break;
    case A.linux_binprm:
      a = `"linux_binprm_arg":${jsonObject([['path', s]])}`;
      break;
    case A.char_buf:
    case A.iov_iter:
      a = `"bytes_arg":"${Buffer.from(str ?? '', 'utf8').toString('base64')}"`;
      break;
    case A.module:
    case A.load_info:
      a = `"module_arg":${jsonObject([['name', s]])}`;
      break;
    case A.bpf_map:
      a = `"bpf_map_arg":${jsonObject([['MapName', s]])}`;
      break;
    case A.net_device:
      a = `"net_dev_arg":${jsonObject([['name', s]])}`;
      break;
    case A.capability: {
      const n = Number(BigInt.asIntN(32, value));
      a = `"capability_arg":${jsonObject([
        ['value', String(n)],
        ['name', capabilityNames[n] ? JSON.stringify(capabilityNames[n]) : undefined],
      ])}`;
      break;
    }
    case A.sock:
    case A.socket:
      a = '"sock_arg":{}';
      break;
    case A.skb:
      a = '"skb_arg":{}';
      break;
    case A.sockaddr:
      a = '"sockaddr_arg":{}';
      break;
    case A.cred:
      a = '"process_credentials_arg":{}';
      break;
    case A.user_namespace:
      a = '"user_ns_arg":{}';
      break;
    case A.bpf_attr:
      a = '"bpf_attr_arg":{}';
      break;
    case A.perf_event:
      a = '"perf_event_arg":{}';
      break;
    case A.nop:
      a = '';
      break;
    default:
      a = `"size_arg":"${BigInt.asUintN(64, value)}"`;
  }
  if (declared?.label) a += `${a ? ',' : ''}"label":${JSON.stringify(declared.label)}`;
  return `{${a}}`;
}

/** `tetra getevents -o compact`-style line for a Tetragon JSON object. */
export function compactLine(o: Record<string, unknown>): string {
  const proc = (p: ProcessInfo | undefined) =>
    `${p?.pod ? `${p.pod.namespace}/${p.pod.name} ` : ''}${p?.binary ?? '?'}${p?.arguments ? ' ' + p.arguments : ''}`;
  if (o['process_exec']) return `🚀 process ${proc((o['process_exec'] as { process: ProcessInfo }).process)}`;
  if (o['process_exit']) {
    const e = o['process_exit'] as { process: ProcessInfo; status?: number; signal?: string };
    return `💥 exit    ${proc(e.process)} ${e.signal ?? e.status ?? 0}`;
  }
  const w = o['weir'] as { dropped_events?: unknown; reason?: unknown } | undefined;
  if (w && typeof w.dropped_events === 'number')
    return `⚠️  dropped ${w.dropped_events} events (${String(w.reason ?? 'the reader fell behind')})`;
  const body = (o['process_kprobe'] ?? o['process_lsm'] ?? o['process_tracepoint']) as Record<string, unknown> | undefined;
  if (!body) return JSON.stringify(o);
  const fn = (body['function_name'] as string | undefined) ?? `${body['subsys']}/${body['event']}`;
  const args = ((body['args'] as Record<string, unknown>[]) ?? [])
    .map((a) => {
      const v = Object.entries(a).find(([k]) => k !== 'label')?.[1];
      if (v === null || typeof v !== 'object') return String(v ?? '');
      const o = v as Record<string, unknown>;
      return String(o['path'] ?? o['name'] ?? o['MapName'] ?? o['id'] ?? '');
    })
    .join(' ');
  const action = String(body['action']);
  const monitor = (body['weir'] as { mode?: string } | undefined)?.mode === 'monitor';
  const icon = action === 'KPROBE_ACTION_SIGKILL' ? '☠️ ' : action === 'KPROBE_ACTION_SIGNAL' ? '📶' : '⁉️ ';
  const verb =
    action === 'KPROBE_ACTION_SIGKILL'
      ? monitor
        ? 'would-kill'
        : 'killed'
      : action === 'KPROBE_ACTION_SIGNAL'
        ? monitor
          ? 'would-signal'
          : 'signal'
        : 'syscall';
  const mode = monitor ? ' (monitor)' : '';
  return `${icon} ${verb} ${proc(body['process'] as ProcessInfo)} ${fn} ${args}${mode} [${body['policy_name']}]`;
}
