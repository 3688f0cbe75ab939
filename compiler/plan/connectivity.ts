// Effective connectivity of one revision: every ordered pair of peers probed over every
// (protocol, port class), then folded into np-guard netpol-analyzer `list` lines.
import { addPorts, formatConnections, isEmpty, protocols, type ConnectionSet, type PortRange, type Protocol } from './connset.js';
import { compareBig, comparePeers, peerName, peerNamespace, type Peer } from './peers.js';
import { passes, ruleText, type Decision, type Oracle, type RuleRef } from './probe.js';
import { mdText, terminalSafe } from '../escape.js';

/** The decisions for one ordered pair over its port classes, indexed [protocol index * classes.length + class index]. */
export interface PairDecisions {
  src: Peer;
  dst: Peer;
  classes: PortRange[];
  decisions: Decision[];
}

/**
 * The probe space of one pair: its port classes, and the protocols that its rules tell apart
 * (protocols in one group are decided alike, so one probe answers for the group).
 */
export interface PairSpace {
  classes: PortRange[];
  groups?: Protocol[][];
  /** Per protocol, for each class the index of the class whose probe answers it (its first equal). */
  repr?: Partial<Record<Protocol, number[]>>;
}

export type ClassesFor = (src: Peer, dst: Peer) => PairSpace;

export interface ConnectivityMatrix {
  peers: Peer[];
  /** The shared classes when every pair uses the same ones (else empty: each pair has its own). */
  classes: PortRange[];
  pairs: Map<string, PairDecisions>;
}

export function pairKey(src: Peer, dst: Peer): string {
  return `${peerName(src)} => ${peerName(dst)}`;
}

/** Restricts probing: to pairs touching `focus` peers, and/or to pairs `only` accepts. */
export interface PairFilter {
  focus?: ReadonlySet<Peer>;
  only?: (src: Peer, dst: Peer) => boolean;
}

/** Whether a pair is one workload to itself: two of its replicas (probed from one pod to another). */
export function betweenReplicas(src: Peer, dst: Peer): boolean {
  return src === dst && src.type === 'workload' && src.replica !== undefined;
}

/**
 * The ordered pairs worth probing: different peers (or two replicas of one workload), at least one
 * side a workload, FQDNs only as destinations.
 */
export function candidatePairs(peers: readonly Peer[], filter: PairFilter = {}): [Peer, Peer][] {
  const out: [Peer, Peer][] = [];
  const ok = (src: Peer, dst: Peer) =>
    (src !== dst || betweenReplicas(src, dst)) &&
    src.type !== 'fqdn' &&
    (src.type === 'workload' || dst.type === 'workload') &&
    (!filter.only || filter.only(src, dst));
  if (filter.focus) {
    // Pairs touching the focus only: linear in peers, not quadratic.
    const focus = peers.filter((p) => filter.focus!.has(p));
    for (const f of focus)
      for (const x of peers) {
        if (ok(f, x)) out.push([f, x]);
        if (x !== f && !filter.focus.has(x) && ok(x, f)) out.push([x, f]);
      }
    return out;
  }
  for (const src of peers) for (const dst of peers) if (ok(src, dst)) out.push([src, dst]);
  return out;
}

export function probePair(oracle: Oracle, src: Peer, dst: Peer, space: PairSpace): PairDecisions {
  const { classes } = space;
  const decisions: Decision[] = new Array(protocols.length * classes.length);
  for (const group of space.groups ?? protocols.map((p) => [p])) {
    const protocol = group[0]!;
    const pi = protocols.indexOf(protocol);
    const repr = space.repr?.[protocol];
    classes.forEach((c, ci) => {
      const r = repr?.[ci] ?? ci;
      const d = r < ci ? decisions[pi * classes.length + r]! : oracle({ src, dst, protocol, port: c.lo });
      for (const p of group) decisions[protocols.indexOf(p) * classes.length + ci] = d;
    });
  }
  return { src, dst, classes, decisions };
}

export function computeConnectivity(
  oracle: Oracle,
  peers: readonly Peer[],
  classes: PortRange[] | ClassesFor,
  filter: PairFilter | ((src: Peer, dst: Peer) => boolean) = {},
): ConnectivityMatrix {
  const sorted = [...peers].sort(comparePeers);
  const pairs = new Map<string, PairDecisions>();
  const of: ClassesFor = typeof classes === 'function' ? classes : () => ({ classes });
  for (const [src, dst] of candidatePairs(sorted, typeof filter === 'function' ? { only: filter } : filter))
    pairs.set(pairKey(src, dst), probePair(oracle, src, dst, of(src, dst)));
  return { peers: sorted, classes: typeof classes === 'function' ? [] : classes, pairs };
}

/** The allowed connection set of one pair: the union of the classes whose decision passes. */
export function connectionSet(p: PairDecisions): ConnectionSet {
  const classes = p.classes;
  const set: ConnectionSet = {};
  protocols.forEach((proto: Protocol, pi) => {
    classes.forEach((c, ci) => {
      if (passes(p.decisions[pi * classes.length + ci]!)) addPorts(set, proto, c.lo, c.hi);
    });
  });
  return set;
}

export interface ConnLine {
  src: string;
  dst: string;
  conn: string;
  /** Namespaces for graph clustering; undefined for external peers. */
  srcNamespace?: string;
  dstNamespace?: string;
  /** Between two replicas of one workload (np-guard lists distinct workloads only). */
  betweenReplicas?: true;
  /** NetworkPolicy ipBlocks that allow some of the connections by covering a pod address of a peer, with their rule. */
  ipBlocks?: IpBlockAllow[];
}

/** An allowed connection a NetworkPolicy ipBlock decides: the block, the pod address it covers and the rule. */
export interface IpBlockAllow {
  block: string;
  pod: string;
  address: string;
  rule: RuleRef;
}

/** The distinct ipBlock matches among a pair's allowing decisions, in a stable order. */
function ipBlocksOf(p: PairDecisions): IpBlockAllow[] {
  const out = new Map<string, IpBlockAllow>();
  for (const d of new Set(p.decisions))
    if (d.ipBlock && d.rule && passes(d))
      out.set(`${d.rule.file}:${d.rule.line}|${d.ipBlock.block}|${d.ipBlock.pod}|${d.ipBlock.address}`, { ...d.ipBlock, rule: d.rule });
  return [...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
}

/** `ipBlock 10.0.2.0/24 of x/p policy.yaml:8 @abc1234 covers y/c at 10.0.2.13`. */
export function ipBlockAllowText(b: IpBlockAllow): string {
  return `ipBlock ${b.block} of ${ruleText(b.rule)} covers ${b.pod} at ${b.address}`;
}

/**
 * One line per allowed pair. Adjacent external ranges that connect identically to the same
 * workload are merged into one range, as np-guard does, so the line count stays readable.
 */
export function connectivityLines(m: ConnectivityMatrix): ConnLine[] {
  interface Row {
    src: Peer;
    dst: Peer;
    conn: string;
  }
  const rows: Row[] = [];
  for (const p of m.pairs.values()) {
    const set = connectionSet(p);
    if (isEmpty(set)) continue;
    rows.push({ src: p.src, dst: p.dst, conn: formatConnections(set) });
  }
  return mergeRanges(rows).map(toLine).sort(compareLines);
}

/**
 * np-guard's `list` lines: one per allowed pair, external ranges as given (np-guard prints each
 * range of its IP-block cut, even where neighbours connect alike). Variants of one workload
 * (same owner, other labels) print under the workload's name when they connect alike, as
 * np-guard prints them; where they differ they keep their own names (np-guard refuses such input).
 */
export function listLines(m: ConnectivityMatrix): ConnLine[] {
  interface Row {
    src: Peer;
    dst: Peer;
    conn: string;
    ipBlocks: IpBlockAllow[];
  }
  const rows: Row[] = [];
  for (const p of m.pairs.values()) {
    const set = connectionSet(p);
    if (!isEmpty(set)) rows.push({ src: p.src, dst: p.dst, conn: formatConnections(set), ipBlocks: ipBlocksOf(p) });
  }
  const split = new Set<string>();
  const shown = (p: Peer): string =>
    p.type === 'workload' && p.variantOf !== undefined && !split.has(`${p.namespace}/${p.variantOf}[${p.kind}]`)
      ? `${p.namespace}/${p.variantOf}[${p.kind}]`
      : peerName(p);
  for (;;) {
    // A printed pair two rows disagree on (or one row has and another lacks) splits its variants apart.
    const seen = new Map<string, { conn: string; peers: Peer[] }>();
    const counts = new Map<string, number>();
    for (const r of rows) {
      const k = `${shown(r.src)} => ${shown(r.dst)}`;
      const s = seen.get(k);
      if (!s) seen.set(k, { conn: r.conn, peers: [r.src, r.dst] });
      else {
        if (s.conn !== r.conn) s.conn = '\0conflict';
        s.peers.push(r.src, r.dst);
      }
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    const variantsOf = new Map<string, number>();
    for (const p of m.peers)
      if (p.type === 'workload' && p.variantOf !== undefined)
        variantsOf.set(`${p.namespace}/${p.variantOf}[${p.kind}]`, (variantsOf.get(`${p.namespace}/${p.variantOf}[${p.kind}]`) ?? 0) + 1);
    let changed = false;
    for (const [k, s] of seen) {
      // Every variant on a side must agree: as many rows as the variants behind the printed names.
      const [a, b] = k.split(' => ') as [string, string];
      // Between variants of one workload np-guard prints nothing: nothing to agree on.
      if (a === b || (s.conn !== '\0conflict' && counts.get(k) === (variantsOf.get(a) ?? 1) * (variantsOf.get(b) ?? 1))) continue;
      for (const p of s.peers)
        if (p.type === 'workload' && p.variantOf !== undefined) {
          const n = `${p.namespace}/${p.variantOf}[${p.kind}]`;
          if (!split.has(n)) split.add(n), (changed = true);
        }
    }
    if (!changed) break;
  }
  const out = new Map<string, ConnLine>();
  for (const r of rows) {
    const src = shown(r.src);
    const dst = shown(r.dst);
    if (src === dst) continue;
    const sn = peerNamespace(r.src);
    const dn = peerNamespace(r.dst);
    // Variants printed as one workload share the line: their ipBlock matches are listed together.
    const blocks = [...(out.get(`${src} => ${dst}`)?.ipBlocks ?? []), ...r.ipBlocks];
    out.set(`${src} => ${dst}`, {
      src,
      dst,
      conn: r.conn,
      ...(sn ? { srcNamespace: sn } : {}),
      ...(dn ? { dstNamespace: dn } : {}),
      ...(blocks.length ? { ipBlocks: blocks } : {}),
    });
  }
  return [...out.values()].sort(compareLines);
}

function toLine(r: { src: Peer; dst: Peer; conn: string }): ConnLine {
  const sn = peerNamespace(r.src);
  const dn = peerNamespace(r.dst);
  return {
    src: peerName(r.src),
    dst: peerName(r.dst),
    conn: r.conn,
    ...(sn ? { srcNamespace: sn } : {}),
    ...(dn ? { dstNamespace: dn } : {}),
    ...(betweenReplicas(r.src, r.dst) ? { betweenReplicas: true as const } : {}),
  };
}

export function compareLines(a: { src: string; dst: string }, b: { src: string; dst: string }): number {
  return a.src < b.src ? -1 : a.src > b.src ? 1 : a.dst < b.dst ? -1 : a.dst > b.dst ? 1 : 0;
}

function mergeRanges<R extends { src: Peer; dst: Peer; conn: string }>(rows: R[]): R[] {
  const out: R[] = [];
  const groups = new Map<string, R[]>();
  for (const r of rows) {
    const ipSide = r.src.type === 'ip' ? 'src' : r.dst.type === 'ip' ? 'dst' : undefined;
    if (!ipSide) {
      out.push(r);
      continue;
    }
    const other = ipSide === 'src' ? r.dst : r.src;
    const k = `${ipSide}|${peerName(other)}|${r.conn}`;
    const g = groups.get(k);
    if (g) g.push(r);
    else groups.set(k, [r]);
  }
  for (const g of groups.values()) {
    const ipOf = (r: R) => (r.src.type === 'ip' ? r.src : (r.dst as Extract<Peer, { type: 'ip' }>));
    g.sort((a, b) => ipOf(a).family - ipOf(b).family || compareBig(ipOf(a).start, ipOf(b).start));
    let cur: R | undefined;
    for (const r of g) {
      if (cur && ipOf(cur).family === ipOf(r).family && ipOf(cur).end + 1n === ipOf(r).start) {
        const merged = { type: 'ip' as const, family: ipOf(cur).family, start: ipOf(cur).start, end: ipOf(r).end };
        cur = cur.src.type === 'ip' ? { ...cur, src: merged } : { ...cur, dst: merged };
      } else {
        if (cur) out.push(cur);
        cur = r;
      }
    }
    if (cur) out.push(cur);
  }
  return out;
}

export type ListFormat = 'txt' | 'csv' | 'md' | 'json' | 'dot';

/** The connection text, marked where the line is between replicas of one workload. */
export function connText(l: ConnLine): string {
  return l.betweenReplicas ? `${l.conn} (between replicas)` : l.conn;
}

/** A CSV field: quoted where it holds a quote, comma or line break; control characters shown, not sent. */
function csvCell(s: string): string {
  const t = terminalSafe(s);
  return /[",\r\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
}

/** Renders `weir connectivity` output in np-guard's `list` formats. */
export function renderConnectivity(lines: readonly ConnLine[], format: ListFormat): string {
  switch (format) {
    case 'txt':
      // An ipBlock that covers a pod address is said on indented lines below its pair (np-guard's lines stay as they are).
      return lines
        .map(
          (l) =>
            `${terminalSafe(l.src)} => ${terminalSafe(l.dst)} : ${connText(l)}\n${(l.ipBlocks ?? []).map((b) => `    ${terminalSafe(ipBlockAllowText(b))}\n`).join('')}`,
        )
        .join('');
    case 'csv':
      return `src,dst,conn\n${lines.map((l) => `${csvCell(l.src)},${csvCell(l.dst)},${csvCell(connText(l))}\n`).join('')}`;
    case 'md': {
      const blocks = lines.flatMap((l) => (l.ipBlocks ?? []).map((b) => `- ${mdText(`${l.src} to ${l.dst}: ${ipBlockAllowText(b)}`)}\n`));
      return `| src | dst | conn |\n|-----|-----|------|\n${lines.map((l) => `| ${mdText(l.src)} | ${mdText(l.dst)} | ${mdText(connText(l))} |\n`).join('')}${blocks.length ? `\nNetworkPolicy ipBlocks that cover pod addresses:\n\n${blocks.join('')}` : ''}`;
    }
    case 'json':
      return `${JSON.stringify(
        lines.map((l) => ({
          src: l.src,
          dst: l.dst,
          conn: l.conn,
          ...(l.betweenReplicas ? { betweenReplicas: true } : {}),
          ...(l.ipBlocks ? { ipBlocks: l.ipBlocks } : {}),
        })),
        null,
        2,
      )}\n`;
    case 'dot':
      return renderDot(lines);
  }
}

function dotId(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function renderDot(lines: readonly ConnLine[]): string {
  const byNs = new Map<string, Set<string>>();
  const external = new Set<string>();
  for (const l of lines) {
    for (const [name, ns] of [
      [l.src, l.srcNamespace],
      [l.dst, l.dstNamespace],
    ] as const) {
      if (ns) {
        const s = byNs.get(ns) ?? new Set<string>();
        s.add(name);
        byNs.set(ns, s);
      } else external.add(name);
    }
  }
  const out: string[] = ['digraph {'];
  for (const ns of [...byNs.keys()].sort()) {
    out.push(`\tsubgraph ${dotId(`cluster_${ns}`)} {`);
    for (const n of [...byNs.get(ns)!].sort())
      out.push(`\t\t${dotId(n)} [label=${dotId(n.slice(ns.length + 1))} color="blue" fontcolor="blue"]`);
    out.push(`\t\tlabel=${dotId(ns)}`, '\t}');
  }
  for (const n of [...external].sort()) out.push(`\t${dotId(n)} [label=${dotId(n)} color="red2" fontcolor="red2"]`);
  for (const l of lines) out.push(`\t${dotId(l.src)} -> ${dotId(l.dst)} [label=${dotId(connText(l))} color="gold2" fontcolor="darkgreen"]`);
  out.push('}');
  return `${out.join('\n')}\n`;
}
