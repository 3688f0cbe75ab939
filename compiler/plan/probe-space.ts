// Collects, from the policies themselves, every value that can split the probe space:
// port numbers and ranges, CIDRs (and their exceptions), FQDNs and Cilium entities.
// Probing one representative per resulting class is exact for these policies.
import type { PolicyDocument } from '../load/index.js';
import type { PortRange } from './connset.js';

export interface ProbeSpace {
  ports: PortRange[];
  cidrs: string[];
  fqdns: string[];
  entities: string[];
}

const entityIsAddressSpace = new Set(['world', 'all', 'cluster', 'world-ipv4', 'world-ipv6']);

function asPort(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v);
  return undefined;
}

/** What one document contributes to the probe space (memoized by its value: both revisions of a plan share unchanged ones). */
interface DocSpace {
  ports: PortRange[];
  cidrs: string[];
  fqdns: string[];
  entities: string[];
}

const docSpaces = new WeakMap<object, DocSpace>();

function documentSpace(value: Record<string, unknown>): DocSpace {
  const hit = docSpaces.get(value);
  if (hit) return hit;
  const ports: PortRange[] = [];
  const cidrs: string[] = [];
  const fqdns: string[] = [];
  const entities: string[] = [];
  const visit = (v: unknown, key: string | undefined): void => {
    if (Array.isArray(v)) {
      if (key === 'toCIDR' || key === 'fromCIDR') for (const c of v) if (typeof c === 'string') cidrs.push(c);
      if (key === 'toEntities' || key === 'fromEntities') for (const e of v) if (typeof e === 'string' && !entityIsAddressSpace.has(e)) entities.push(e);
      for (const x of v) visit(x, key);
      return;
    }
    if (v === null || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    const port = asPort(o['port']);
    if (port !== undefined) ports.push({ lo: port, hi: asPort(o['endPort']) ?? port });
    if (typeof o['cidr'] === 'string') {
      cidrs.push(o['cidr']);
      if (Array.isArray(o['except'])) for (const c of o['except']) if (typeof c === 'string') cidrs.push(c);
    }
    if (key === 'toFQDNs') {
      if (typeof o['matchName'] === 'string') fqdns.push(o['matchName'].toLowerCase().replace(/\.$/, ''));
      // A pattern stands for the names it matches: the peer list probes one made-up name under it.
      if (typeof o['matchPattern'] === 'string') fqdns.push(o['matchPattern'].toLowerCase().replace(/\.$/, ''));
    }
    for (const k in o) visit(o[k], k);
  };
  visit(value['spec'] ?? value['specs'] ?? {}, undefined);
  // Cilium's `specs` (plural) holds a list of rules; visit it as well when both are present.
  if (value['spec'] !== undefined && value['specs'] !== undefined) visit(value['specs'], undefined);
  const s = { ports, cidrs, fqdns, entities };
  docSpaces.set(value, s);
  return s;
}

/** Walks plain policy values (already parsed YAML) and records every splitting value. */
export function collectProbeSpace(docs: readonly PolicyDocument[], namedPorts: Iterable<number> = []): ProbeSpace {
  const ports: PortRange[] = [];
  const cidrs = new Set<string>();
  const fqdns = new Set<string>();
  const entities = new Set<string>();
  for (const p of namedPorts) ports.push({ lo: p, hi: p });
  for (const d of docs) {
    if (d.family !== 'network') continue;
    const s = documentSpace(d.value);
    for (const p of s.ports) ports.push(p);
    for (const c of s.cidrs) cidrs.add(c);
    for (const f of s.fqdns) fqdns.add(f);
    for (const e of s.entities) entities.add(e);
  }
  return { ports, cidrs: [...cidrs].sort(), fqdns: [...fqdns].sort(), entities: [...entities].sort() };
}
