// Hubble flows as `hubble observe -o json` prints them (one JSON object per line, either the
// flow itself or `{"flow": {...}}`). Malformed lines are counted with their reason, never dropped silently.
import type { Protocol } from '../plan/connset.js';

export interface FlowEndpoint {
  namespace?: string;
  pod?: string;
  ip?: string;
  labels: Record<string, string>;
  /** First owner workload Hubble reports ({name, kind}), when it does. */
  workload?: { name: string; kind: string };
  /** Reserved identity name (`world`, `host`, ...) taken from `reserved:` labels. */
  reserved?: string;
}

export interface ObservedFlow {
  /** 1-based line in the input. */
  line: number;
  time?: string;
  verdict: string;
  src: FlowEndpoint;
  dst: FlowEndpoint;
  protocol?: Protocol;
  port?: number;
  isReply: boolean;
  http?: { method?: string; url?: string };
}

export interface Malformed {
  line: number;
  reason: string;
}

export interface ParseResult<T> {
  items: T[];
  total: number;
  malformed: Malformed[];
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Hubble labels are `source:key=value` strings; keep k8s ones by key, reserved ones by name. */
function endpoint(v: unknown, ip: string | undefined): FlowEndpoint {
  const o = obj(v) ?? {};
  const labels: Record<string, string> = {};
  let reserved: string | undefined;
  for (const l of Array.isArray(o['labels']) ? o['labels'] : []) {
    if (typeof l !== 'string') continue;
    const colon = l.indexOf(':');
    const source = colon >= 0 ? l.slice(0, colon) : '';
    const kv = colon >= 0 ? l.slice(colon + 1) : l;
    const eq = kv.indexOf('=');
    const key = eq >= 0 ? kv.slice(0, eq) : kv;
    if (source === 'reserved') reserved ??= key;
    else if (source === 'k8s' || source === '') labels[key] = eq >= 0 ? kv.slice(eq + 1) : '';
  }
  const wl = Array.isArray(o['workloads']) ? obj(o['workloads'][0]) : undefined;
  const name = str(wl?.['name']);
  const kind = str(wl?.['kind']);
  return {
    ...(str(o['namespace']) ? { namespace: str(o['namespace']) } : {}),
    ...(str(o['pod_name']) ? { pod: str(o['pod_name']) } : {}),
    ...(ip ? { ip } : {}),
    labels,
    ...(name && kind ? { workload: { name, kind } } : {}),
    ...(reserved ? { reserved } : {}),
  };
}

export function parseHubbleFlow(text: string, line: number): ObservedFlow | Malformed {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return { line, reason: `not JSON: ${(e as Error).message}` };
  }
  const top = obj(v);
  if (!top) return { line, reason: 'not a JSON object' };
  const f = obj(top['flow']) ?? top;
  const ip = obj(f['IP']);
  if (!obj(f['source']) && !obj(f['destination']) && !ip) return { line, reason: 'no source, destination or IP: not a Hubble flow' };
  const l4 = obj(f['l4']);
  let protocol: Protocol | undefined;
  let port: number | undefined;
  for (const p of ['TCP', 'UDP', 'SCTP'] as const) {
    const x = obj(l4?.[p]);
    if (x) {
      protocol = p;
      const dp = x['destination_port'];
      if (typeof dp === 'number') port = dp;
    }
  }
  const l7 = obj(f['l7']);
  const http = obj(l7?.['http']);
  return {
    line,
    ...(str(f['time'] ?? top['time']) ? { time: str(f['time'] ?? top['time']) } : {}),
    verdict: str(f['verdict']) ?? 'VERDICT_UNKNOWN',
    src: endpoint(f['source'], str(ip?.['source'])),
    dst: endpoint(f['destination'], str(ip?.['destination'])),
    ...(protocol ? { protocol } : {}),
    ...(port !== undefined ? { port } : {}),
    isReply: f['is_reply'] === true,
    ...(http ? { http: { ...(str(http['method']) ? { method: str(http['method']) } : {}), ...(str(http['url']) ? { url: str(http['url']) } : {}) } } : {}),
  };
}

/** Parses JSON lines; blank lines are ignored, everything else is a flow or counted as malformed. */
export function parseHubbleFlows(text: string): ParseResult<ObservedFlow> {
  return parseLines<ObservedFlow>(text, parseHubbleFlow, (r): r is ObservedFlow => 'verdict' in r);
}

export function parseLines<T>(text: string, parse: (line: string, n: number) => T | Malformed, isItem: (r: T | Malformed) => r is T): ParseResult<T> {
  const items: T[] = [];
  const malformed: Malformed[] = [];
  let total = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!.trim();
    if (l === '') continue;
    total++;
    const r = parse(l, i + 1);
    if (isItem(r)) items.push(r);
    else malformed.push(r);
  }
  return { items, total, malformed };
}
