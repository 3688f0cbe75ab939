// Hubble flows as `hubble observe -o json` prints them (one JSON object per line, either the
// flow itself or `{"flow": {...}}`). Malformed lines are counted with their reason, never dropped silently.
import type { Protocol } from '../plan/connset.js';
import { jsonObject, obj, parseLines, str, type Malformed, type ParseResult } from './jsonlines.js';

export type { Malformed, ParseResult } from './jsonlines.js';

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
  const j = jsonObject(text, line);
  if ('malformed' in j) return j.malformed;
  const top = j.top;
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
