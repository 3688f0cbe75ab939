// The plan's view of the network compiler (compiler/ir/network): compile a revision, list its
// workloads, and answer probes with the reference evaluator. This is the only file of the plan
// that knows the compiler's shapes; everything else speaks Peer / Probe / Decision.
import { diagnostic, fileSpan, type Diagnostic } from '../diagnostics.js';
import type { AllowLocalhost, IREndpoint, NetworkIR, IRRule, L7Rules } from '../ir/network/types.js';
import type { Identity } from '../identity/allocate.js';
import type { PolicyDocument } from '../load/index.js';
import { compileNetwork, evaluate, loadInventory, type Flow, type FlowPeer } from '../ir/network/index.js';
import { endpointsByKey, ipBlockMatch } from '../ir/network/evaluate.js';
import { ruleIndex } from '../ir/network/rules.js';
import type { Protocol } from './connset.js';
import { addressRange, bigToIp, type IpRangePeer, type Peer, type WorkloadPeer } from './peers.js';
import type { Decision, Oracle, PairRules, RulePorts, RuleRef } from './probe.js';
import { workloadsOf } from './workloads.js';
import { buildFromDocuments, type BuildResult } from '../build.js';
import type { MapStateCache } from '../lower/network/images.js';
import type { CompileCache } from '../ir/network/compile.js';
import { directionalRanges, probeSpaceOf, type ProbeSpace } from './probe-space.js';

export interface CompiledRevision {
  /** Builds this revision's bundle (map images per node) on demand: `weir plan --maps`. */
  build?: (cache: MapStateCache) => Promise<BuildResult>;
  oracle?: Oracle;
  workloads: WorkloadPeer[];
  space: ProbeSpace;
  /** The inventory's nodes and their addresses. */
  nodes?: readonly { name: string; ips: readonly string[] }[];
  /** External sources and destinations as np-guard lists them (`weir connectivity`), computed on demand. */
  listRanges?: () => { ingress: IpRangePeer[]; egress: IpRangePeer[] };
  diagnostics: Diagnostic[];
  portCuts?: (src: Peer, dst: Peer) => PairRules;
  endpointFingerprints?: EndpointFingerprints;
  fingerprintTable?: object;
  /** A pod's (`ns/name`) addresses in this revision's inventory. */
  podAddresses?: (pod: string) => readonly string[] | undefined;
}

/** Per endpoint (`ns/pod`), its rules and enforcement per direction as comparable texts. */
export interface EndpointFingerprints {
  get(endpoint: string): { ingress: string; egress: string } | undefined;
}

/**
 * A host-network workload is its node to Cilium: the host on that node, a remote node elsewhere
 * (one spread over several nodes has no node of its own: it is a remote node to every pod).
 */
function hostSide(p: WorkloadPeer, other: Peer): FlowPeer {
  return { entity: other.type === 'workload' && other.node !== undefined && other.node !== p.node ? 'remote-node' : 'host' };
}

function flowPeer(p: Peer, other: Peer, taken: ReadonlySet<string>): FlowPeer {
  switch (p.type) {
    case 'workload':
      return p.hostNetwork ? hostSide(p, other) : { workload: p.pod };
    case 'ip':
      return { ip: bigToIp(p.family, externalAddress(p, taken)) };
    case 'entity':
      return { entity: p.entity };
    case 'fqdn':
      return { fqdn: p.probeName ?? p.fqdn, ip: p.ip };
  }
}

/**
 * The address that speaks for an external range: its first one that no pod or node holds. A pod's
 * address is that pod to the datapath (its identity, its policies), never the external range
 * around it, which CIDR rules and ipBlocks cut alike. A range held wholly by pods and nodes (no
 * external address) keeps its first address.
 */
function externalAddress(p: IpRangePeer, taken: ReadonlySet<string>): bigint {
  for (let a = p.start; a <= p.end; a++) if (!taken.has(`${p.family}:${a}`)) return a;
  return p.start;
}

/** Addresses of the inventory's pods and nodes, as `family:integer` keys. */
function takenAddresses(inv: { pods: readonly { ips: readonly string[] }[]; nodes: readonly { ips: readonly string[] }[] }): Set<string> {
  const out = new Set<string>();
  for (const x of [...inv.pods, ...inv.nodes])
    for (const ip of x.ips) {
      const r = addressRange(ip);
      if (r) out.add(`${r.family}:${r.start}`);
    }
  return out;
}

function ruleRef(r: { policy: string; namespace?: string; file: string; line: number; commit?: string }): RuleRef {
  // The compiler names policies `Kind/ns/name`; a reviewer reads kind, namespace and name apart.
  const parts = r.policy.split('/');
  const kind = parts.length > 1 ? parts[0]! : undefined;
  return {
    policy: parts[parts.length - 1]!,
    ...(kind ? { kind } : {}),
    ...(r.namespace ? { namespace: r.namespace } : {}),
    file: r.file,
    line: r.line,
    ...(r.commit ? { commit: r.commit } : {}),
  };
}

/** L7 rules as a reviewer reads them: `HTTP GET /api/.*; DNS *.example.com; Kafka produce orders`. */
function l7Text(l7: L7Rules | undefined): string | undefined {
  if (!l7) return undefined;
  const parts: string[] = [];
  for (const h of l7.http ?? [])
    parts.push(
      ['HTTP', h.method ?? '*', h.path ?? '/*', h.host ? `host ${h.host}` : '', ...(h.headers ?? []).map((x) => `header ${x}`)]
        .filter(Boolean)
        .join(' '),
    );
  for (const d of l7.dns ?? []) parts.push(`DNS ${d.matchName ?? d.matchPattern ?? '*'}`);
  for (const k of l7.kafka ?? [])
    parts.push(
      ['Kafka', k.role ?? k.apiKey ?? '*', k.topic ? `topic ${k.topic}` : '', k.clientID ? `client ${k.clientID}` : '']
        .filter(Boolean)
        .join(' '),
    );
  // An empty rule list still redirects to the proxy (it then allows nothing at L7).
  return parts.length ? parts.join('; ') : 'proxy, no L7 rule';
}

const protocolOf: Record<number, Protocol | undefined> = { 6: 'TCP', 17: 'UDP', 132: 'SCTP' };

const localhost: Decision = Object.freeze({ verdict: 'allow', audit: false, reason: 'allow-localhost' });
const hostToHost: Decision = Object.freeze({ verdict: 'allow', audit: false, reason: 'host-network' });

/**
 * Ports named by each endpoint's rules per direction, with the rule: the only values that can
 * split its decisions, so a pair is probed over its own (usually few) classes.
 */
function portCutsOf(ir: NetworkIR): (src: Peer, dst: Peer) => PairRules {
  // Each endpoint's port list is written when a pair first asks, from the IR's shared rule index.
  const index = ruleIndex(ir);
  const memo = { egress: new Map<string, RulePorts[]>(), ingress: new Map<string, RulePorts[]>() };
  const portsOf = (direction: 'egress' | 'ingress', endpoint: string): RulePorts[] => {
    let c = memo[direction].get(endpoint);
    if (c) return c;
    c = [];
    for (const r of index.of(endpoint, direction))
      for (const p of r.ports ?? []) {
        const protocol = protocolOf[p.protocol];
        if (protocol) c.push({ protocol, lo: p.lo, hi: p.hi, rule: r.cookie });
      }
    memo[direction].set(endpoint, c);
    return c;
  };
  return (src, dst) => ({
    ports: [
      ...(src.type === 'workload' ? portsOf('egress', src.pod) : []),
      ...(dst.type === 'workload' ? portsOf('ingress', dst.pod) : []),
    ],
  });
}

/** Label text per identity, per identity list (the plan's two revisions share one allocation). */
const labelTexts = new WeakMap<readonly Identity[], Map<number, string>>();

function identityLabelTexts(ids: readonly Identity[]): Map<number, string> {
  let m = labelTexts.get(ids);
  if (!m) labelTexts.set(ids, (m = new Map(ids.map((i) => [i.id, i.labels.join(',')]))));
  return m;
}

/** Peer lists by identity labels, memoized per resolved peer list (one identity allocation each). */
const peerTexts = new WeakMap<readonly number[], string>();

/**
 * Per endpoint and direction, its rules and enforcement with peers named by identity labels (numbers
 * may shift). Each distinct rule text gets a small number from `ruleIds`, which both revisions of a
 * plan share, so an endpoint's fingerprint is a short list of numbers rather than its rules' JSON.
 */
function fingerprints(ir: NetworkIR, ruleIds: Map<string, number>): EndpointFingerprints {
  let labels: Map<number, string> | undefined;
  const peersText = (peers: readonly number[]): string => {
    let t = peerTexts.get(peers);
    if (t === undefined) {
      labels ??= identityLabelTexts(ir.identities);
      t = JSON.stringify(peers.map((p) => labels!.get(p) ?? String(p)).sort());
      peerTexts.set(peers, t);
    }
    return t;
  };
  const idOf = (r: IRRule): number => {
    const t = JSON.stringify([r.deny, r.audit, r.ports ?? null, r.l7 ?? null, r.auth]) + (r.peers === 'any' ? '"any"' : peersText(r.peers));
    let id = ruleIds.get(t);
    if (id === undefined) ruleIds.set(t, (id = ruleIds.size + 1));
    return id;
  };
  // Rule numbers per rule object, and each endpoint's list written on demand from the IR's shared
  // rule index: the plan asks for one representative pod per workload, not every pod.
  const index = ruleIndex(ir);
  const numbers = new Map<IRRule, number>();
  const ids = (endpoint: string, direction: 'ingress' | 'egress'): string => {
    const l: number[] = [];
    for (const r of index.of(endpoint, direction)) {
      let n = numbers.get(r);
      if (n === undefined) numbers.set(r, (n = idOf(r)));
      l.push(n);
    }
    return l.sort((a, b) => a - b).join(',');
  };
  let endpoints: Pick<Map<string, IREndpoint>, 'get'> | undefined;
  const out = new Map<string, { ingress: string; egress: string }>();
  return {
    get(key: string) {
      let f = out.get(key);
      if (f) return f;
      endpoints ??= endpointsByKey(ir);
      const e = endpoints.get(key);
      if (!e) return undefined;
      const mode = `${e.auditMode ? 1 : 0}`;
      f = {
        ingress: `${e.ingressEnforced ? 1 : 0}${e.ingressAuditOnly ? 1 : 0}${mode}|${ids(e.key, 'ingress')}`,
        egress: `${e.egressEnforced ? 1 : 0}${e.egressAuditOnly ? 1 : 0}${mode}|${ids(e.key, 'egress')}`,
      };
      out.set(key, f);
      return f;
    },
  };
}

const objectIds = new WeakMap<object, number>();
let nextObjectId = 0;

/**
 * Identifies a revision's inventory documents by their parsed values: both sides of a plan hold
 * the same value objects for an unchanged file (RevisionCache shares parses by blob), so this
 * finds the shared inventory without serializing megabytes of cluster state. Documents equal in
 * content but parsed apart get another key: only a cache miss.
 */
export function inventoryKey(docs: readonly PolicyDocument[]): string {
  return docs
    .map((d) => {
      const v = d.value as object;
      let id = objectIds.get(v);
      if (id === undefined) objectIds.set(v, (id = ++nextObjectId));
      return `${d.provenance.file}#${d.provenance.docIndex}#${d.provenance.listIndex ?? ''}#${id}`;
    })
    .join('|');
}

export async function compileRevision(
  docs: PolicyDocument[],
  inventoryDocs: PolicyDocument[],
  inventoryFile?: string,
  inventories: Map<string, unknown> = new Map(),
  cache?: CompileCache,
  ruleIds: Map<string, number> = new Map(),
  allowLocalhost?: AllowLocalhost,
): Promise<CompiledRevision> {
  // Both sides of a plan usually share one inventory: load it (and group its pods) once.
  const invKey = inventoryKey(inventoryDocs);
  let cached = inventories.get(invKey) as { inv: ReturnType<typeof loadInventory>; workloads: WorkloadPeer[] } | undefined;
  if (!cached) {
    const inv = loadInventory(inventoryDocs);
    cached = { inv, workloads: workloadsOf(inv.inventory.pods, inv.inventory.hostNetworkPods) };
    inventories.set(invKey, cached);
  }
  const inv = cached.inv;
  const commit = docs.find((d) => d.provenance.commit)?.provenance.commit;
  const mode = allowLocalhost ? { allowLocalhost } : {};
  const { ir, diagnostics } = compileNetwork(docs, inv.inventory, { ...(commit ? { commit } : {}), ...(cache ? { cache } : {}), ...mode });
  const all = [...inv.diagnostics, ...diagnostics];
  if (cached.workloads.length === 0)
    all.push(
      diagnostic(
        'plan/empty-inventory',
        'warning',
        `no workloads found${inventoryFile ? ` in ${inventoryFile}` : ' beside the policies'} (no Pod, workload manifest or Inventory pod): connectivity is only computed between workloads, so there is nothing to list; pass --inventory FILE or DIR`,
        fileSpan(inventoryFile ?? '.'),
      ),
    );
  // Thousands of probes end in a handful of distinct decisions: each is built once (decisions are
  // never written to after this) and its rule reference once per rule.
  const decisions = new Map<string, Decision>();
  const refs = new Map<number, RuleRef>();
  const l7Texts = new WeakMap<object, string | undefined>();
  let taken: Set<string> | undefined;
  const oracle: Oracle = (p) => {
    taken ??= takenAddresses(inv.inventory);
    const from = flowPeer(p.src, p.dst, taken);
    // Replicas of one workload: from its representative pod to another of its pods.
    const to = p.src === p.dst && p.dst.type === 'workload' && p.dst.replica ? { workload: p.dst.replica } : flowPeer(p.dst, p.src, taken);
    // Between two host-network workloads no endpoint stands: nothing enforces (host firewall is not modelled).
    if ('entity' in from && 'entity' in to && p.src.type === 'workload' && p.dst.type === 'workload') return hostToHost;
    const flow: Flow = { from, to, protocol: p.protocol, port: p.port, ...(p.http ? { http: p.http } : {}) };
    const r = evaluate(ir, flow);
    // Cilium lets the host reach the endpoints on its own node unless it runs with --allow-localhost=policy;
    // the evaluator knows (a deny rule naming the host still wins, and is shown as such).
    if (!ir.localhostNeedsPolicy && 'entity' in from && from.entity === 'host' && 'workload' in to && r.verdict === 'allow' && !r.audit)
      return localhost;
    let l7: string | undefined;
    if (r.l7) {
      if (l7Texts.has(r.l7)) l7 = l7Texts.get(r.l7);
      else l7Texts.set(r.l7, (l7 = l7Text(r.l7)));
    }
    const step = r.rule ? r.steps.find((x) => x.rule?.cookie === r.rule!.cookie) : undefined;
    const block = step ? ipBlockMatch(ir, r.rule!.cookie, step.direction === 'egress' ? flow.to : flow.from) : undefined;
    const key = `${r.verdict}|${r.audit ? 1 : 0}|${r.rule?.cookie ?? 0}|${l7 ?? ''}${block ? `|${block.pod}|${block.address}` : ''}`;
    let d = decisions.get(key);
    if (d) return d;
    d = { verdict: r.verdict === 'allow' ? 'allow' : 'deny', audit: Boolean(r.audit) };
    if (l7) d.l7 = l7;
    if (r.rule) {
      let ref = refs.get(r.rule.cookie);
      if (!ref) refs.set(r.rule.cookie, (ref = ruleRef(r.rule)));
      d.rule = ref;
    }
    if (block) d.ipBlock = block;
    decisions.set(key, Object.freeze(d));
    return d;
  };
  const build = (cache: MapStateCache) =>
    buildFromDocuments(docs, inv.inventory, { source: { paths: [] }, ...(commit ? { commit } : {}), cache, ...mode });
  const space = probeSpaceOf(
    ir,
    cached.workloads.flatMap((w) => (w.ports ?? []).map((p) => p.port)),
  );
  return {
    build,
    oracle,
    workloads: cached.workloads,
    nodes: inv.inventory.nodes,
    space,
    listRanges: () => directionalRanges(ir),
    diagnostics: all,
    portCuts: portCutsOf(ir),
    endpointFingerprints: fingerprints(ir, ruleIds),
    fingerprintTable: ruleIds,
    podAddresses: podAddressesOf(inv.inventory.pods),
  };
}

/** A pod's addresses by `ns/name`, indexed on first use (only a plan with address moves asks). */
function podAddressesOf(
  pods: readonly { namespace: string; name: string; ips: string[] }[],
): (pod: string) => readonly string[] | undefined {
  let index: Map<string, readonly string[]> | undefined;
  return (pod) => {
    index ??= new Map(pods.map((p) => [`${p.namespace}/${p.name}`, p.ips]));
    return index.get(pod);
  };
}
