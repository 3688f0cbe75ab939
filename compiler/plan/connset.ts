// Connection sets: which protocols and port ranges one peer may open to another,
// printed the way np-guard netpol-analyzer prints them (`TCP 8080,9090-9099,UDP 53`, `All Connections`).

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export const protocols: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

/** A closed port interval [lo, hi], 1..65535. */
export interface PortRange {
  lo: number;
  hi: number;
}

export const minPort = 1;
export const maxPort = 65535;

/** Per protocol, a sorted list of disjoint, non-adjacent port intervals. */
export type ConnectionSet = Partial<Record<Protocol, PortRange[]>>;

export function emptySet(): ConnectionSet {
  return {};
}

export function allConnections(): ConnectionSet {
  const s: ConnectionSet = {};
  for (const p of protocols) s[p] = [{ lo: minPort, hi: maxPort }];
  return s;
}

/** Adds [lo, hi] of `proto` to `set` in place, keeping intervals sorted and merged. */
export function addPorts(set: ConnectionSet, proto: Protocol, lo: number, hi: number): void {
  const list = (set[proto] ??= []);
  list.push({ lo, hi });
  list.sort((a, b) => a.lo - b.lo);
  const merged: PortRange[] = [];
  for (const r of list) {
    const last = merged[merged.length - 1];
    if (last && r.lo <= last.hi + 1) last.hi = Math.max(last.hi, r.hi);
    else merged.push({ ...r });
  }
  set[proto] = merged;
}

export function isEmpty(set: ConnectionSet): boolean {
  return protocols.every((p) => (set[p]?.length ?? 0) === 0);
}

export function isAll(set: ConnectionSet): boolean {
  return protocols.every((p) => {
    const l = set[p];
    return l !== undefined && l.length === 1 && l[0]!.lo === minPort && l[0]!.hi === maxPort;
  });
}

export function equalSets(a: ConnectionSet, b: ConnectionSet): boolean {
  return formatConnections(a) === formatConnections(b);
}

function formatRanges(list: readonly PortRange[]): string {
  return list.map((r) => (r.lo === r.hi ? String(r.lo) : `${r.lo}-${r.hi}`)).join(',');
}

/** np-guard's connection string: `All Connections`, `No Connections`, or `TCP 80,443,UDP 53`. */
export function formatConnections(set: ConnectionSet): string {
  if (isEmpty(set)) return 'No Connections';
  if (isAll(set)) return 'All Connections';
  const parts: string[] = [];
  for (const p of protocols) {
    const l = set[p];
    if (l && l.length > 0) parts.push(`${p} ${formatRanges(l)}`);
  }
  return parts.join(',');
}

/** Parses what formatConnections prints (used by tests and to read np-guard output back). */
export function parseConnections(text: string): ConnectionSet {
  const t = text.trim();
  if (t === 'No Connections') return emptySet();
  if (t === 'All Connections') return allConnections();
  const set: ConnectionSet = {};
  let proto: Protocol | undefined;
  for (const tok of t.split(',')) {
    const m = /^(?:(TCP|UDP|SCTP) )?(\d+)(?:-(\d+))?$/.exec(tok.trim());
    if (!m) throw new Error(`not a connection set: ${text}`);
    if (m[1]) proto = m[1] as Protocol;
    if (!proto) throw new Error(`port without protocol in connection set: ${text}`);
    const lo = Number(m[2]);
    addPorts(set, proto, lo, m[3] ? Number(m[3]) : lo);
  }
  return set;
}
