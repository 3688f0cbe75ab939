// Hubble flows as exports come: `hubble observe -o json` lines and the exporter's files, either the
// flow itself or `{"flow": {...}}`, gzip-compressed or not, IPv4 or IPv6, from Cilium releases
// that mark replies with `is_reply` and older ones that write `reply`. Agent, debug and lost
// events are counted apart; malformed lines are counted with their reason, never dropped silently.
import { gunzipSync } from 'node:zlib';
import type { Protocol } from '../plan/connset.js';
import { jsonObject, obj, str, type Malformed, type ParseResult } from './jsonlines.js';

export type { Malformed, ParseResult } from './jsonlines.js';

export interface FlowEndpoint {
  namespace?: string;
  pod?: string;
  ip?: string;
  port?: number;
  /** Cilium's numeric identity, as the observing agent knew it. */
  identity?: number;
  labels: Record<string, string>;
  /** First owner workload Hubble reports ({name, kind}), when it does. */
  workload?: { name: string; kind: string };
  /** Reserved identity names (`host`, `world`, `remote-node`, `kube-apiserver`, ...) from `reserved:` labels. */
  reserved?: string[];
}

export interface ObservedFlow {
  /** 1-based line in the input. */
  line: number;
  time?: string;
  verdict: string;
  /** The node whose agent observed the flow (`host` and `remote-node` are relative to it). */
  node?: string;
  src: FlowEndpoint;
  dst: FlowEndpoint;
  protocol?: Protocol;
  port?: number;
  /** A reply packet: `is_reply`, the older `reply`, or (when neither is written) the reverse of a connection seen earlier. */
  isReply: boolean;
  /** How the reply was recognised, when it was. */
  replyBy?: 'is_reply' | 'reply' | 'reverse';
  http?: { method?: string; url?: string };
}

/** Event kinds of an export that are not flows: counted apart, neither flows nor malformed. */
export const otherEventKinds = ['agent_event', 'debug_event', 'lost_events', 'node_status'] as const;
export type OtherEventKind = (typeof otherEventKinds)[number];

export interface HubbleExport extends ParseResult<ObservedFlow> {
  /** Lines that are agent, debug or lost events (or node status), by kind. */
  otherEvents: Partial<Record<OtherEventKind, number>>;
}

/** Hubble labels are `source:key=value` strings; keep k8s ones by key, reserved ones by name. */
function endpoint(v: unknown, ip: string | undefined, port: number | undefined): FlowEndpoint {
  const o = obj(v) ?? {};
  const labels: Record<string, string> = {};
  const reserved: string[] = [];
  for (const l of Array.isArray(o['labels']) ? o['labels'] : []) {
    if (typeof l !== 'string') continue;
    const colon = l.indexOf(':');
    const source = colon >= 0 ? l.slice(0, colon) : '';
    const kv = colon >= 0 ? l.slice(colon + 1) : l;
    const eq = kv.indexOf('=');
    const key = eq >= 0 ? kv.slice(0, eq) : kv;
    if (source === 'reserved') reserved.push(key);
    else if (source === 'k8s' || source === '') labels[key] = eq >= 0 ? kv.slice(eq + 1) : '';
  }
  const wl = Array.isArray(o['workloads']) ? obj(o['workloads'][0]) : undefined;
  const name = str(wl?.['name']);
  const kind = str(wl?.['kind']);
  const identity = o['identity'];
  // The namespace of a flow seen from a proxy is only in its labels.
  const namespace = str(o['namespace']) ?? labels['io.kubernetes.pod.namespace'];
  return {
    ...(namespace ? { namespace } : {}),
    ...(str(o['pod_name']) ? { pod: str(o['pod_name']) } : {}),
    ...(ip ? { ip } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(typeof identity === 'number' && identity > 0 ? { identity } : {}),
    labels,
    ...(name && kind ? { workload: { name, kind } } : {}),
    ...(reserved.length ? { reserved } : {}),
  };
}

/** One line: a flow, another kind of event, or why it is neither. */
export function parseHubbleFlow(text: string, line: number): ObservedFlow | Malformed | { other: OtherEventKind } {
  const r = parseLine(text, line);
  return 'flow' in r ? r.flow : r;
}

/** A line, and whether its flow says outright if it is a reply (then no guess is made). */
function parseLine(text: string, line: number): { flow: ObservedFlow; stated: boolean } | Malformed | { other: OtherEventKind } {
  const j = jsonObject(text, line);
  if ('malformed' in j) return j.malformed;
  const top = j.top;
  const other = otherEventKinds.find((k) => top[k] !== undefined);
  if (other && top['flow'] === undefined) return { other };
  const f = obj(top['flow']) ?? top;
  const ip = obj(f['IP']);
  if (!obj(f['source']) && !obj(f['destination']) && !ip) return { line, reason: 'no source, destination or IP: not a Hubble flow' };
  const l4 = obj(f['l4']);
  let protocol: Protocol | undefined;
  let port: number | undefined;
  let srcPort: number | undefined;
  for (const p of ['TCP', 'UDP', 'SCTP'] as const) {
    const x = obj(l4?.[p]);
    if (x) {
      protocol = p;
      if (typeof x['destination_port'] === 'number') port = x['destination_port'];
      if (typeof x['source_port'] === 'number') srcPort = x['source_port'];
    }
  }
  const l7 = obj(f['l7']);
  const http = obj(l7?.['http']);
  // `is_reply` is a BoolValue: absent means unknown, not false. Cilium before 1.11 wrote `reply`.
  const isReply = f['is_reply'] === true || obj(f['is_reply'])?.['value'] === true;
  const reply = f['reply'] === true;
  const node = str(f['node_name']) ?? str(top['node_name']);
  const flow: ObservedFlow = {
    line,
    ...(str(f['time'] ?? top['time']) ? { time: str(f['time'] ?? top['time']) } : {}),
    verdict: str(f['verdict']) ?? 'VERDICT_UNKNOWN',
    ...(node ? { node } : {}),
    src: endpoint(f['source'], str(ip?.['source']), srcPort),
    dst: endpoint(f['destination'], str(ip?.['destination']), port),
    ...(protocol ? { protocol } : {}),
    ...(port !== undefined ? { port } : {}),
    isReply: isReply || reply,
    ...(isReply ? { replyBy: 'is_reply' as const } : reply ? { replyBy: 'reply' as const } : {}),
    ...(http
      ? {
          http: { ...(str(http['method']) ? { method: str(http['method']) } : {}), ...(str(http['url']) ? { url: str(http['url']) } : {}) },
        }
      : {}),
  };
  return { flow, stated: f['is_reply'] !== undefined || f['reply'] !== undefined };
}

/**
 * Parses an export; blank lines are ignored, everything else is a flow, another counted event or a
 * counted malformed line. A flow that does not say whether it is a reply is one when it runs
 * opposite to a connection seen earlier in the export (same addresses and ports, reversed).
 */
export function parseHubbleFlows(text: string): HubbleExport {
  const items: ObservedFlow[] = [];
  const malformed: Malformed[] = [];
  const otherEvents: HubbleExport['otherEvents'] = {};
  const seen = new Set<string>();
  const key = (proto: string, a: FlowEndpoint, b: FlowEndpoint) => `${proto}|${a.ip}|${a.port}|${b.ip}|${b.port}`;
  let total = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!.trim();
    if (l === '') continue;
    total++;
    const x = parseLine(l, i + 1);
    if ('other' in x) {
      otherEvents[x.other] = (otherEvents[x.other] ?? 0) + 1;
      continue;
    }
    if (!('flow' in x)) {
      malformed.push(x);
      continue;
    }
    const r = x.flow;
    if (r.protocol && r.src.ip && r.dst.ip && r.src.port !== undefined && r.dst.port !== undefined) {
      if (!r.isReply && !x.stated && seen.has(key(r.protocol, r.dst, r.src))) {
        r.isReply = true;
        r.replyBy = 'reverse';
      }
      if (!r.isReply) seen.add(key(r.protocol, r.src, r.dst));
    }
    items.push(r);
  }
  return { items, total, malformed, otherEvents };
}

/** gzip's magic number: an exporter's rotated file or a compressed capture. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** The text of an export file: gunzipped when it is gzip, else as UTF-8; an error names what is wrong. */
export function exportText(bytes: Uint8Array): { text: string } | { error: string } {
  let raw = bytes;
  if (isGzip(bytes)) {
    try {
      raw = gunzipSync(bytes);
    } catch (e) {
      return { error: `gzip data is damaged: ${(e as Error).message}` };
    }
  }
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(raw) };
  } catch {
    return { error: 'not UTF-8 text (a Hubble export is JSON lines, optionally gzip-compressed)' };
  }
}
