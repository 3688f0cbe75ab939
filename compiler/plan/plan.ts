// Builds the plan from two compiled revisions: connectivity probed over the union of both
// probe spaces, decision changes with their rules, np-guard's diff, observed-traffic impact.
import type { PolicyDocument } from '../load/index.js';
import type { FlowEndpoint, HubbleExport, ObservedEvent, ObservedFlow, ParseResult } from '../observed/index.js';
import { placeFlow, placementContext } from './placement.js';
import { changedDocuments, affectedWorkloads, documentSelects } from './affected.js';
import type { ProbeSpace } from './probe-space.js';
import { computeConnectivity, connectivityLines, listLines, type ConnectivityMatrix, type PairFilter } from './connectivity.js';
import { diffConnectivity, diffDecisions, displayKey } from './diff.js';
import type {
  Change,
  EventImpact,
  FlowImpact,
  MapDelta,
  ObservedEventSummary,
  ObservedFlowSummary,
  Plan,
  RevisionInfo,
  RuntimeChange,
} from './model.js';
import { externalRange, externalRanges, peerName, rangeWithin, type IpRangePeer, type Peer, type WorkloadPeer } from './peers.js';
import { passes, portClasses, type Decision, type Oracle, type PairRules } from './probe.js';
import { protocols, type PortRange, type Protocol } from './connset.js';
import type { ClassesFor, PairSpace } from './connectivity.js';
import { diffRuntime, imageRuntimeOracle, runtimeAttachPoints, runtimeDecision, runtimeRules } from './runtime.js';
import type { BuildResult } from '../build.js';
import type { EndpointFingerprints } from './network.js';
import type { MapStateCache } from '../lower/network/images.js';
import { ipBlockFromKey, ipBlockHoldsPod } from '../identity/allocate.js';

/** One revision, compiled: what the plan needs from the network compiler. */
export interface RevisionModel {
  info: RevisionInfo;
  /** Builds the revision's bundle on demand (map deltas, head verification). */
  build?: (cache: MapStateCache) => Promise<BuildResult>;
  documents: PolicyDocument[];
  workloads: WorkloadPeer[];
  /** The values that split this revision's probe space, read from its compiled IR. */
  space: ProbeSpace;
  /** The inventory's nodes and their addresses (observed flows from a node address are the host or a remote node). */
  nodes?: readonly { name: string; ips: readonly string[]; labels?: Readonly<Record<string, string>> }[];
  /** External sources (ingress) and destinations (egress) as np-guard lists them, from the compiled IR. */
  listRanges?: () => { ingress: IpRangePeer[]; egress: IpRangePeer[] };
  /** Undefined when the revision failed to load or compile. */
  oracle?: Oracle;
  /** Digest of the inventory's content, to tell whether it changed between the revisions. */
  inventoryDigest: string;
  /** Equal in two revisions that hold the very same inventory documents (the digest is then not needed). */
  inventoryKey?: string;
  /**
   * The port boundaries of the rules that can decide (src, dst): egress rules of src and ingress
   * rules of dst. When given, each pair is probed over its own (usually few) classes.
   */
  portCuts?: (src: Peer, dst: Peer) => PairRules;
  /**
   * Per endpoint (`ns/pod`) and direction, a text that is equal in two revisions exactly when the
   * rules of that direction selecting the endpoint (and its enforcement state) are equal: a
   * change can only alter pairs whose source egress or destination ingress text differs.
   */
  endpointFingerprints?: EndpointFingerprints;
  /** The rule-number table the fingerprints were written with: only fingerprints of one table compare. */
  fingerprintTable?: object;
  /** A pod's (`ns/name`) addresses in this revision's inventory, to tell an address move behind an ipBlock change. */
  podAddresses?: (pod: string) => readonly string[] | undefined;
}

/** Runtime half: the decision for one observed process event under a revision, if a runtime model exists. */
export type RuntimeOracle = (e: ObservedEvent) => { action: string; rule?: string } | undefined;

export interface PlanInputs {
  base: RevisionModel;
  head: RevisionModel;
  flows?: { file: string; parsed: HubbleExport };
  events?: { file: string; parsed: ParseResult<ObservedEvent>; base?: RuntimeOracle; head?: RuntimeOracle };
  runtime?: RuntimeChange[];
  maps?: MapDelta[];
  verification?: Plan['verification'];
  /** Above this many probes per revision only pairs touching affected endpoints are probed. Default 2,000,000. */
  fullProbeLimit?: number;
  /** Probe only pairs whose source passes (benchmarks measure a slice of the full matrix). */
  sourceFilter?: (w: WorkloadPeer) => boolean;
}

const denyAll: Oracle = () => ({ verdict: 'deny', audit: false });
const cap = 200;

/** Every peer of the analysis: workloads of both revisions, external ranges, entities, FQDNs. */
function peersFor(workloads: readonly WorkloadPeer[], space: ProbeSpace): Peer[] {
  const podIps = workloads.flatMap((w) => w.ips ?? []);
  const peers: Peer[] = [...workloads, ...externalRanges(space.cidrs, podIps)];
  for (const e of space.entities) peers.push({ type: 'entity', entity: e });
  // FQDN peers get addresses from TEST-NET-2, which no policy CIDR is expected to cover.
  space.fqdns.forEach((f, i) =>
    peers.push({
      type: 'fqdn',
      fqdn: f,
      ...(f.includes('*') ? { probeName: f.replace(/\*/g, 'any') } : {}),
      ip: `198.51.100.${(i % 254) + 1}`,
    }),
  );
  return peers;
}

function union(a: ProbeSpace, b: ProbeSpace): ProbeSpace {
  const u = (x: string[], y: string[]) => [...new Set([...x, ...y])].sort();
  return { ports: [...a.ports, ...b.ports], cidrs: u(a.cidrs, b.cidrs), fqdns: u(a.fqdns, b.fqdns), entities: u(a.entities, b.entities) };
}

export function buildPlan(inp: PlanInputs): Plan {
  const { base, head } = inp;
  const notes: string[] = [];
  const space = union(base.space, head.space);
  const classes = portClasses(space.ports);
  // A workload keeps one peer object across revisions so that pair keys line up.
  const byName = new Map<string, WorkloadPeer>();
  for (const w of [...base.workloads, ...head.workloads]) if (!byName.has(peerName(w))) byName.set(peerName(w), w);
  const inBase = new Set(base.workloads.map(peerName));
  const inHead = new Set(head.workloads.map(peerName));
  const peers = peersFor([...byName.values()], space);
  const probes = peers.length * peers.length * classes.length * 3;
  const filter: PairFilter = {};
  if (probes > (inp.fullProbeLimit ?? 2_000_000)) {
    const ws = [...byName.values()];
    let affected: { ingress: Set<Peer>; egress: Set<Peer> } | 'all' = 'all';
    if ((base.inventoryKey !== undefined && base.inventoryKey === head.inventoryKey) || base.inventoryDigest === head.inventoryDigest) {
      if (base.endpointFingerprints && head.endpointFingerprints && base.fingerprintTable === head.fingerprintTable)
        affected = changedEndpoints(base.endpointFingerprints, head.endpointFingerprints, ws);
      else {
        const a = affectedWorkloads(changedDocuments(base.documents, head.documents), ws);
        if (a !== 'all') affected = { ingress: a, egress: a };
      }
    }
    if (affected !== 'all') {
      const { ingress, egress } = affected;
      const focus = new Set<Peer>([...ingress, ...egress]);
      for (const [n, w] of byName)
        if (inBase.has(n) !== inHead.has(n)) {
          focus.add(w);
          ingress.add(w);
          egress.add(w);
        }
      filter.focus = focus;
      filter.only = (s, d) => egress.has(s) || ingress.has(d);
      notes.push(
        `Large inventory: probed only the ${focus.size} workload(s) selected by changed policies (${peers.length} peers); the service graph shows those pairs only.`,
      );
    } else notes.push(`Probed all ${peers.length} peers.`);
  }
  if (inp.sourceFilter) {
    const f = inp.sourceFilter;
    const prev = filter.only;
    filter.only = (s, d) => s.type === 'workload' && f(s) && (!prev || prev(s, d));
  }
  const presentIn = (names: Set<string>) => new Set<Peer>([...byName.values()].filter((w) => names.has(peerName(w))));
  const scoped = (rev: RevisionModel, present: ReadonlySet<Peer>): Oracle => {
    const o = rev.oracle ?? denyAll;
    return (p) =>
      (p.src.type === 'workload' && !present.has(p.src)) || (p.dst.type === 'workload' && !present.has(p.dst)) ? absentDecision : o(p);
  };
  const classesFor = pairClasses(base, head, classes);
  const bm = restrict(computeConnectivity(scoped(base, presentIn(inBase)), peers, classesFor, filter), inBase);
  const hm = restrict(computeConnectivity(scoped(head, presentIn(inHead)), peers, classesFor, filter), inHead);
  if (base.info.status === 'failed')
    notes.push(
      `The base revision ${base.info.ref} failed to load or compile (${base.info.errors} error(s)), so there is no connectivity diff; the head's findings and connectivity graph are shown.`,
    );
  if (head.info.status === 'failed')
    notes.push(
      `The head revision ${head.info.ref} failed to load or compile (${head.info.errors} error(s)); fix those first (see \`weir lint\`): a revision that does not compile cannot be deployed.`,
    );

  // Against a revision that failed there is nothing true to compare: show findings, not a diff.
  const bothOk = base.info.status === 'ok' && head.info.status === 'ok';
  const changes = bothOk ? diffDecisions(bm, hm) : [];
  const connectivityDiff = bothOk ? diffConnectivity(bm, hm) : [];
  markInventoryUse(changes, [...byName.values()]);
  explainDefaultDeny(changes, changedDocuments(base.documents, head.documents), byName);
  explainAddressMoves(changes, base, head);
  const flows = inp.flows ? flowImpact(inp.flows.file, inp.flows.parsed, base, head, [...byName.values()], changes) : undefined;
  const baseRules = runtimeRules(base.documents);
  const headRules = runtimeRules(head.documents);
  const runtime = inp.runtime ?? diffRuntime(baseRules, headRules);
  const runtimeAttach = head.info.status === 'ok' ? runtimeAttachPoints(head.documents, head.nodes ?? []) : [];
  const events = inp.events
    ? eventImpact(
        inp.events.file,
        inp.events.parsed,
        inp.events.base ?? imageRuntimeOracle(base.documents) ?? ((e) => runtimeDecision(baseRules, e)),
        inp.events.head ?? imageRuntimeOracle(head.documents) ?? ((e) => runtimeDecision(headRules, e)),
      )
    : undefined;
  for (const c of changes) c.breaking = (c.category === 'newly-denied' && c.inUse !== undefined) || (c.observedDrops ?? 0) > 0;
  // Counts are of lines a reviewer reads: rows that differ only by protocol count once.
  const distinct = (rows: Change[]) => new Set(rows.map(displayKey)).size;
  const breakingCount = distinct(changes.filter((c) => c.breaking)) + (events?.wouldKill ?? 0);
  const count = (cat: Change['category']) => distinct(changes.filter((c) => c.category === cat));
  const graphOf = (m: ConnectivityMatrix) => connectivityLines(m).map((l) => ({ ...l }));
  return {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Plan',
    base: base.info,
    head: head.info,
    summary: {
      newlyDenied: count('newly-denied'),
      newlyAllowed: count('newly-allowed'),
      changedL7: count('changed-l7'),
      changedAudit: count('changed-audit'),
      connectivity: {
        added: connectivityDiff.filter((r) => r.diffType === 'added').length,
        removed: connectivityDiff.filter((r) => r.diffType === 'removed').length,
        changed: connectivityDiff.filter((r) => r.diffType === 'changed').length,
      },
      workloadsAdded: [...inHead].filter((n) => !inBase.has(n)).sort(),
      workloadsRemoved: [...inBase].filter((n) => !inHead.has(n)).sort(),
      runtimeChanges: runtime.length,
      breaking: breakingCount,
      ...(flows ? { observedFlowsWouldDrop: flows.wouldDrop } : {}),
      ...(events ? { observedEventsWouldKill: events.wouldKill } : {}),
    },
    breaking: breakingCount > 0,
    changes,
    connectivityDiff,
    graph: { before: graphOf(bm), after: graphOf(hm) },
    ...(flows ? { flows } : {}),
    ...(events ? { events } : {}),
    runtime,
    ...(runtimeAttach.length ? { runtimeAttach } : {}),
    maps: inp.maps ?? [],
    ...(inp.verification ? { verification: inp.verification } : {}),
    notes,
  };
}

const absentDecision: Decision = { verdict: 'deny', audit: false };

function changedEndpoints(
  b: NonNullable<RevisionModel['endpointFingerprints']>,
  h: NonNullable<RevisionModel['endpointFingerprints']>,
  workloads: readonly WorkloadPeer[],
): { ingress: Set<Peer>; egress: Set<Peer> } {
  return {
    ingress: new Set(workloads.filter((w) => b.get(w.pod)?.ingress !== h.get(w.pod)?.ingress)),
    egress: new Set(workloads.filter((w) => b.get(w.pod)?.egress !== h.get(w.pod)?.egress)),
  };
}

/** Per-pair classes from both revisions' rule cuts when the compiler offers them, else the global classes. */
function pairClasses(base: RevisionModel, head: RevisionModel, global: PortRange[]): PortRange[] | ClassesFor {
  // (Without the compiler's per-pair cuts every pair shares the classes of all policies.)
  const b = base.portCuts;
  const h = head.portCuts;
  if (!b || !h) return global;
  const memo = new Map<string, PairSpace>();
  return (src, dst) => {
    const x = b(src, dst).ports;
    const y = h(src, dst).ports;
    const cuts = [...x, ...y];
    const named = new Set(cuts.map((c) => c.protocol));
    // Protocols no rule of the pair names are decided alike: one probe for all of them.
    const rest = protocols.filter((p) => !named.has(p));
    const groups = [...protocols.filter((p) => named.has(p)).map((p) => [p]), ...(rest.length ? [rest] : [])];
    const text = (l: typeof x) =>
      l
        .map((c) => `${c.rule}:${c.protocol}${c.lo}-${c.hi}`)
        .sort()
        .join(',');
    const k = `${text(x)}|${text(y)}`;
    let r = memo.get(k);
    if (r) return r;
    const classes = portClasses(cuts);
    // Classes covered by the same rules (of both revisions) get the same decision in each
    // revision: probe the first of them and reuse its answer for the others.
    const repr: Partial<Record<Protocol, number[]>> = {};
    for (const p of protocols) {
      const seen = new Map<string, number>();
      repr[p] = classes.map((c, ci) => {
        const sig = `${x
          .filter((q) => q.protocol === p && q.lo <= c.lo && c.lo <= q.hi)
          .map((q) => q.rule)
          .join(',')}|${y
          .filter((q) => q.protocol === p && q.lo <= c.lo && c.lo <= q.hi)
          .map((q) => q.rule)
          .join(',')}`;
        const first = seen.get(sig);
        if (first !== undefined) return first;
        seen.set(sig, ci);
        return ci;
      });
    }
    memo.set(k, (r = { classes, groups, repr }));
    return r;
  };
}

/** Drops the pairs of workloads a revision does not have, so they read as added/removed peers. */
function restrict(m: ConnectivityMatrix, present: Set<string>): ConnectivityMatrix {
  const pairs = new Map(m.pairs);
  for (const [k, p] of m.pairs) {
    if ((p.src.type === 'workload' && !present.has(peerName(p.src))) || (p.dst.type === 'workload' && !present.has(peerName(p.dst))))
      pairs.delete(k);
  }
  return { peers: m.peers.filter((p) => p.type !== 'workload' || present.has(peerName(p))), classes: m.classes, pairs };
}

function portIn(ports: string, port: number): boolean {
  const [lo, hi] = ports.split('-').map(Number);
  return port >= lo! && port <= (hi ?? lo!);
}

/**
 * A default deny has no deciding rule: the evaluator only says no rule allows the flow. When it is
 * new, the reviewer wants the policy that switched it on: name the added or modified documents
 * that select either end (Cilium: a direction becomes default-deny once a rule selects it).
 */
function explainDefaultDeny(changes: Change[], docs: ReturnType<typeof changedDocuments>, byName: Map<string, WorkloadPeer>): void {
  const heads = docs.filter((d) => d.head).map((d) => d.head!);
  for (const c of changes) {
    if (c.category !== 'newly-denied' || c.after.rule || !passes(c.before) || c.before.rule) continue;
    const ends = [byName.get(c.dst), byName.get(c.src)].filter((w): w is WorkloadPeer => w !== undefined);
    const by = heads.filter((d) => ends.some((w) => documentSelects(d, w)));
    if (by.length)
      c.enforcedBy = by.map((d) => ({
        policy: d.name,
        kind: d.kind,
        ...(d.namespace ? { namespace: d.namespace } : {}),
        file: d.provenance.file,
        line: d.provenance.line,
        ...(d.provenance.commit ? { commit: d.provenance.commit } : {}),
      }));
  }
}

/**
 * A change one side of which a NetworkPolicy ipBlock decides, where the inventory moved the covered
 * pod's address so that the other side's address is outside that block: the move is its reason.
 */
function explainAddressMoves(changes: Change[], base: RevisionModel, head: RevisionModel): void {
  if (!base.podAddresses || !head.podAddresses) return;
  for (const c of changes) {
    if (Boolean(c.before.ipBlock) === Boolean(c.after.ipBlock)) continue;
    const direction = c.after.ipBlock ? 'into' : 'out';
    const d = direction === 'into' ? c.after : c.before;
    const m = d.ipBlock!;
    const was = base.podAddresses(m.pod);
    const is = head.podAddresses(m.pod);
    if (!d.rule || !was || !is || (was.length === is.length && was.every((a) => is.includes(a)))) continue;
    const block = ipBlockFromKey(m.block);
    if (!block || ipBlockHoldsPod(block, direction === 'into' ? was : is)) continue;
    c.addressMove = { pod: m.pod, before: [...was], after: [...is], block: m.block, direction, rule: d.rule };
  }
}

/** A newly denied connection to a port the destination declares is in use by definition of the inventory. */
function markInventoryUse(changes: Change[], workloads: readonly WorkloadPeer[]): void {
  const byName = new Map(workloads.map((w) => [peerName(w), w]));
  for (const c of changes) {
    if (c.category !== 'newly-denied') continue;
    const w = byName.get(c.dst);
    if (w?.ports?.some((p) => p.protocol.toUpperCase() === c.protocol && portIn(c.ports, p.port))) c.inUse = 'inventory';
  }
}

function peerMatches(changeSide: string, p: Peer): boolean {
  if (p.type !== 'ip') return changeSide === peerName(p);
  const r = externalRange(changeSide);
  return r !== undefined && rangeWithin({ family: p.family, start: p.start, end: p.start }, r);
}

function flowImpact(
  file: string,
  parsed: HubbleExport,
  base: RevisionModel,
  head: RevisionModel,
  workloads: readonly WorkloadPeer[],
  changes: Change[],
): ObservedFlowSummary {
  const ctx = placementContext(workloads, [...(base.nodes ?? []), ...(head.nodes ?? [])], parsed.items);
  const bo = base.oracle ?? denyAll;
  const ho = head.oracle ?? denyAll;
  let skipped = 0;
  let replies = 0;
  let evaluated = 0;
  let wouldDrop = 0;
  let wouldAllow = 0;
  let deniedByBoth = 0;
  const dropped: FlowImpact[] = [];
  for (const f of parsed.items) {
    if (f.isReply) {
      replies++;
      skipped++;
      continue;
    }
    if (f.verdict === 'DROPPED' || !f.protocol || f.port === undefined) {
      skipped++;
      continue;
    }
    const { src, dst } = placeFlow(f, ctx);
    if (!src || !dst || (src.type !== 'workload' && dst.type !== 'workload')) {
      skipped++;
      continue;
    }
    evaluated++;
    const http = httpRequest(f);
    const probe = { src, dst, protocol: f.protocol, port: f.port, ...(http ? { http } : {}) };
    const before = bo(probe);
    const after = ho(probe);
    const hit = changes.find(
      (c) => c.protocol === f.protocol && portIn(c.ports, f.port!) && peerMatches(c.src, src) && peerMatches(c.dst, dst),
    );
    if (hit) {
      hit.observedFlows++;
      if (hit.category === 'newly-denied') hit.inUse = 'observed';
    }
    // The change's impact: flows the base lets through and the head drops. Flows both revisions
    // deny are counted apart (the cluster runs something else than the base, or they are new).
    if (!passes(after) && passes(before)) {
      wouldDrop++;
      // An observed request the new L7 rules refuse is traffic in use that breaks.
      if (hit && hit.category === 'changed-l7') {
        hit.inUse = 'observed';
        hit.observedDrops = (hit.observedDrops ?? 0) + 1;
      }
      if (dropped.length < cap)
        dropped.push({
          line: f.line,
          ...(f.time ? { time: f.time } : {}),
          src: observedName(src, f.src),
          dst: observedName(dst, f.dst),
          protocol: f.protocol,
          port: f.port,
          ...(http ? { request: `${http.method} ${http.path}` } : {}),
          before,
          after,
        });
    } else if (!passes(after)) deniedByBoth++;
    else if (!passes(before)) wouldAllow++;
  }
  const other = Object.entries(parsed.otherEvents ?? {}).filter(([, n]) => (n ?? 0) > 0);
  return {
    file,
    total: parsed.total,
    malformed: parsed.malformed.length,
    malformedSamples: parsed.malformed.slice(0, 20),
    ...(other.length ? { otherEvents: Object.fromEntries(other) as Record<string, number> } : {}),
    replies,
    skipped,
    evaluated,
    wouldDrop,
    wouldAllow,
    deniedByBoth,
    dropped,
  };
}

/** The HTTP request of a Hubble L7 flow (`url` is absolute: keep its path and host). */
function httpRequest(f: ObservedFlow): { method: string; path: string; host?: string } | undefined {
  if (!f.http?.method || !f.http.url) return undefined;
  try {
    const u = new URL(f.http.url, 'http://unknown');
    return { method: f.http.method, path: `${u.pathname}${u.search}`, ...(u.host && u.host !== 'unknown' ? { host: u.host } : {}) };
  } catch {
    return { method: f.http.method, path: f.http.url };
  }
}

function observedName(p: Peer, e: FlowEndpoint): string {
  return p.type === 'ip' ? `${e.ip}[External]` : peerName(p);
}

function eventImpact(
  file: string,
  parsed: ParseResult<ObservedEvent>,
  base: RuntimeOracle | undefined,
  head: RuntimeOracle | undefined,
): ObservedEventSummary {
  let skipped = 0;
  let evaluated = 0;
  let wouldKill = 0;
  let wouldSignal = 0;
  const affected: EventImpact[] = [];
  for (const e of parsed.items) {
    if (!head || !e.call) {
      skipped++;
      continue;
    }
    evaluated++;
    const b = base?.(e)?.action ?? 'allow';
    const h = head(e);
    const after = h?.action ?? 'allow';
    if (after === b) continue;
    if (after === 'kill') wouldKill++;
    if (after === 'signal') wouldSignal++;
    if (affected.length < cap)
      affected.push({
        line: e.line,
        ...(e.time ? { time: e.time } : {}),
        ...(e.namespace ? { namespace: e.namespace } : {}),
        ...(e.pod ? { pod: e.pod } : {}),
        binary: e.binary,
        call: e.call,
        before: b,
        after,
        ...(h?.rule ? { rule: h.rule } : {}),
      });
  }
  return {
    file,
    total: parsed.total,
    malformed: parsed.malformed.length,
    malformedSamples: parsed.malformed.slice(0, 20),
    skipped,
    evaluated,
    wouldKill,
    wouldSignal,
    affected,
  };
}

/**
 * `weir connectivity`: np-guard `list` lines of one revision. External sources are the ranges cut
 * by the ingress rules' peers, external destinations those cut by the egress rules' peers, as
 * np-guard computes its IP-block peers.
 */
export function connectivityOf(rev: RevisionModel): ReturnType<typeof listLines> {
  const ranges = rev.listRanges?.() ?? { ingress: externalRanges([]), egress: externalRanges([]) };
  const peers: Peer[] = [...peersFor(rev.workloads, rev.space).filter((p) => p.type !== 'ip'), ...ranges.ingress, ...ranges.egress];
  const src = new Set<Peer>(ranges.ingress);
  const dst = new Set<Peer>(ranges.egress);
  const m = computeConnectivity(
    rev.oracle ?? denyAll,
    peers,
    pairClasses(rev, rev, portClasses(rev.space.ports)),
    (s, d) => (s.type !== 'ip' || src.has(s)) && (d.type !== 'ip' || dst.has(d)),
  );
  return listLines(m);
}
