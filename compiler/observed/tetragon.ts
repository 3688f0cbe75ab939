// Tetragon events as `tetra getevents -o json` or the export file writes them: one JSON object
// per line keyed by event type (process_exec, process_kprobe, process_tracepoint, ...).
import { jsonObject, obj, parseLines, str, type Malformed, type ParseResult } from './jsonlines.js';

export interface ObservedEvent {
  line: number;
  time?: string;
  type: string;
  node?: string;
  namespace?: string;
  pod?: string;
  workload?: string;
  podLabels: Record<string, string>;
  binary: string;
  arguments?: string;
  /** Hook that fired: a kprobe function (`__x64_sys_openat`, `security_file_open`) or `subsys/event`. */
  call?: string;
  /** Argument values in hook order: numbers, strings (paths, buffers) or null when unknown. */
  args: (number | string | null)[];
  /** Action Tetragon reported (KPROBE_ACTION_SIGKILL, ...), if any. */
  action?: string;
  policy?: string;
}

const eventTypes = ['process_exec', 'process_exit', 'process_kprobe', 'process_tracepoint', 'process_uprobe', 'process_lsm'] as const;

/** An argument that is no value at all (a number beyond any integer type, such as 1e400): the line is malformed. */
class BadArg {
  constructor(readonly reason: string) {}
}

/** Tetragon args are tagged unions (`int_arg`, `string_arg`, `file_arg.path`, ...); keep the value. */
function argValue(v: unknown): number | string | null | BadArg {
  const a = obj(v);
  if (!a) return null;
  for (const [k, x] of Object.entries(a)) {
    if (k === 'label') continue;
    if (typeof x === 'number') return Number.isFinite(x) ? x : new BadArg(`${k} is not a finite number`);
    // Integers beyond 2^53 stay exact as decimal strings (the evaluator reads them as 64-bit values).
    if (typeof x === 'string')
      return /^-?\d+$/.test(x) && k.endsWith('int_arg')
        ? x.replace(/^-?0*/, '').length > 20
          ? new BadArg(`${k} ${x.slice(0, 24)}… does not fit 64 bits`)
          : Number.isSafeInteger(Number(x))
            ? Number(x)
            : x
        : x;
    const inner = obj(x);
    if (inner) {
      const p = str(inner['path']) ?? str(inner['name']);
      if (p) return p;
    }
  }
  return null;
}

export function parseTetragonEvent(text: string, line: number): ObservedEvent | Malformed {
  const j = jsonObject(text, line);
  if ('malformed' in j) return j.malformed;
  const top = j.top;
  const type = eventTypes.find((t) => obj(top[t]));
  if (!type) return { line, reason: `no known event type (${eventTypes.join(', ')})` };
  const ev = obj(top[type])!;
  const proc = obj(ev['process']);
  const binary = str(proc?.['binary']);
  if (!binary) return { line, reason: `${type} without process.binary` };
  const pod = obj(proc?.['pod']);
  const labels: Record<string, string> = {};
  for (const [k, x] of Object.entries(obj(pod?.['pod_labels']) ?? {})) if (typeof x === 'string') labels[k] = x;
  const call = str(ev['function_name']) ?? (str(ev['subsys']) && str(ev['event']) ? `${str(ev['subsys'])}/${str(ev['event'])}` : undefined);
  const values = Array.isArray(ev['args']) ? ev['args'].map(argValue) : [];
  const bad = values.findIndex((x) => x instanceof BadArg);
  if (bad >= 0) return { line, reason: `args[${bad}]: ${(values[bad] as BadArg).reason}` };
  return {
    line,
    ...(str(top['time']) ? { time: str(top['time']) } : {}),
    type,
    ...(str(top['node_name']) ? { node: str(top['node_name']) } : {}),
    ...(str(pod?.['namespace']) ? { namespace: str(pod?.['namespace']) } : {}),
    ...(str(pod?.['name']) ? { pod: str(pod?.['name']) } : {}),
    ...(str(pod?.['workload']) ? { workload: str(pod?.['workload']) } : {}),
    podLabels: labels,
    binary,
    ...(str(proc?.['arguments']) ? { arguments: str(proc?.['arguments']) } : {}),
    ...(call ? { call } : {}),
    args: values as (number | string | null)[],
    ...(str(ev['action']) ? { action: str(ev['action']) } : {}),
    ...(str(ev['policy_name']) ? { policy: str(ev['policy_name']) } : {}),
  };
}

export function parseTetragonEvents(text: string): ParseResult<ObservedEvent> {
  return parseLines<ObservedEvent>(text, parseTetragonEvent, (r): r is ObservedEvent => 'binary' in r);
}
