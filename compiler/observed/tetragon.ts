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

/** Tetragon args are tagged unions (`int_arg`, `string_arg`, `file_arg.path`, ...); keep the value. */
function argValue(v: unknown): number | string | null {
  const a = obj(v);
  if (!a) return null;
  for (const [k, x] of Object.entries(a)) {
    if (k === 'label') continue;
    if (typeof x === 'number') return x;
    if (typeof x === 'string') return /^-?\d+$/.test(x) && k.endsWith('int_arg') ? Number(x) : x;
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
    args: Array.isArray(ev['args']) ? ev['args'].map(argValue) : [],
    ...(str(ev['action']) ? { action: str(ev['action']) } : {}),
    ...(str(ev['policy_name']) ? { policy: str(ev['policy_name']) } : {}),
  };
}

export function parseTetragonEvents(text: string): ParseResult<ObservedEvent> {
  return parseLines<ObservedEvent>(text, parseTetragonEvent, (r): r is ObservedEvent => 'binary' in r);
}
