// The plan document: what a policy change does in effect, who it hits and which line causes it.
// JSON renders this as is (schemas/plan.schema.json); text, markdown and HTML are views of it.
import type { Diagnostic } from '../diagnostics.js';
import type { Protocol } from './connset.js';
import type { ConnLine } from './connectivity.js';
import type { Decision, RuleRef } from './probe.js';

export type ChangeCategory = 'newly-denied' | 'newly-allowed' | 'changed-l7' | 'changed-audit';
export const changeCategories: readonly ChangeCategory[] = ['newly-denied', 'newly-allowed', 'changed-l7', 'changed-audit'];

export const categoryTitle: Record<ChangeCategory, string> = {
  'newly-denied': 'Newly denied',
  'newly-allowed': 'Newly allowed',
  'changed-l7': 'Changed L7',
  'changed-audit': 'Changed audit/enforce',
};

export interface RevisionInfo {
  /** What the user asked for (`main`, `HEAD~1`, `worktree`). */
  ref: string;
  commit?: string;
  /** `failed` when the revision did not load or compile; the plan then shows what it can. */
  status: 'ok' | 'failed';
  policies: number;
  files: number;
  errors: number;
  warnings: number;
  diagnostics: Diagnostic[];
}

/** Why a newly denied connection is believed to be in use. */
export type UseEvidence = 'observed' | 'inventory';

export interface Change {
  category: ChangeCategory;
  src: string;
  dst: string;
  srcNamespace?: string;
  dstNamespace?: string;
  /** Between two replicas of one workload (e.g. cluster members talking to each other). */
  betweenReplicas?: true;
  protocol: Protocol;
  /** Port or range, `8080` or `8000-8999`. */
  ports: string;
  before: Decision;
  after: Decision;
  /** For a new default deny (no deciding rule): the added or changed policies selecting either end. */
  enforcedBy?: RuleRef[];
  /** Observed flows that fall in this change (with --flows). */
  observedFlows: number;
  /** Of those, observed requests the head now refuses (an L7 change that breaks live traffic). */
  observedDrops?: number;
  inUse?: UseEvidence;
  breaking: boolean;
  /**
   * The inventory moved a pod's address into or out of the NetworkPolicy ipBlock that decides one
   * side (the side whose decision names it): the pod, its addresses at base and head, the block and its rule.
   */
  addressMove?: AddressMove;
}

export interface AddressMove {
  pod: string;
  before: string[];
  after: string[];
  block: string;
  /** `into` when the head's address is in the block (it decides the after side), `out` when the base's was. */
  direction: 'into' | 'out';
  rule: RuleRef;
}

/** One np-guard `diff` row: `diff-type, source, destination, ref1, ref2, workloads-diff-info`. */
export interface ConnectivityDiffRow {
  diffType: 'changed' | 'added' | 'removed';
  source: string;
  destination: string;
  ref1: string;
  ref2: string;
  workloadsDiffInfo: string;
}

export interface FlowImpact {
  /** 1-based line of the flow in the input file. */
  line: number;
  time?: string;
  src: string;
  dst: string;
  protocol: string;
  port: number;
  /** The observed HTTP request (`POST /admin/reindex`) for an L7 flow. */
  request?: string;
  before: Decision;
  after: Decision;
}

export interface ObservedFlowSummary {
  file: string;
  total: number;
  malformed: number;
  /** First malformed lines (1-based) with the reason, so they are never silently dropped. */
  malformedSamples: { line: number; reason: string }[];
  /** Agent, debug and lost events (and node status) in the export, by kind: counted apart, not flows. */
  otherEvents?: Record<string, number>;
  /** Of the skipped flows, reply packets (`is_reply`, `reply`, or the reverse of a connection seen earlier): not new connections. */
  replies?: number;
  /** Flows that weir could not place on a peer, already dropped, or that carry no L4 port (ICMP, unknown endpoints). */
  skipped: number;
  evaluated: number;
  /** Observed flows the base lets through and the head drops: the change's impact. */
  wouldDrop: number;
  /** Observed flows the base denies and the head lets through. */
  wouldAllow: number;
  /** Observed flows that both revisions deny (already dropped, or the cluster is not at the base). */
  deniedByBoth: number;
  /** The flows that would now be dropped (capped; `wouldDrop` has the full count). */
  dropped: FlowImpact[];
}

export interface EventImpact {
  line: number;
  time?: string;
  namespace?: string;
  pod?: string;
  binary: string;
  call: string;
  before: string;
  after: string;
  rule?: string;
}

export interface ObservedEventSummary {
  file: string;
  total: number;
  malformed: number;
  malformedSamples: { line: number; reason: string }[];
  skipped: number;
  evaluated: number;
  wouldKill: number;
  wouldSignal: number;
  affected: EventImpact[];
}

export interface RuntimeChange {
  policy: string;
  namespace?: string;
  call: string;
  binaries: string[];
  paths: string[];
  before: string;
  after: string;
  file: string;
  line: number;
  commit?: string;
}

export interface RuntimeAttach {
  node: string;
  /** The node's runtime profile (weir.dev/runtime-profile), `custom` for a capability list. */
  profile: string;
  policy: string;
  call: string;
  /** `fentry/security_file_open`, `kprobe/tcp_connect`, `lsm/file_open`, ... */
  attach: string;
  file: string;
  line: number;
}

export interface MapDelta {
  node: string;
  map: string;
  endpoint?: string;
  before: number;
  after: number;
  added: number;
  removed: number;
  changed: number;
  maxEntries: number;
  /** Free entries left in the head image, as a fraction of max_entries. */
  headroom: number;
}

export interface PlanSummary {
  newlyDenied: number;
  newlyAllowed: number;
  changedL7: number;
  changedAudit: number;
  connectivity: { added: number; removed: number; changed: number };
  workloadsAdded: string[];
  workloadsRemoved: string[];
  runtimeChanges: number;
  breaking: number;
  observedFlowsWouldDrop?: number;
  observedEventsWouldKill?: number;
}

export interface Plan {
  apiVersion: 'weir.dev/v1alpha1';
  kind: 'Plan';
  base: RevisionInfo;
  head: RevisionInfo;
  summary: PlanSummary;
  /** True when any change is breaking (newly denied or newly killed and in use). */
  breaking: boolean;
  changes: Change[];
  connectivityDiff: ConnectivityDiffRow[];
  /** The service graph before and after, for the HTML report. */
  graph: { before: GraphEdge[]; after: GraphEdge[] };
  flows?: ObservedFlowSummary;
  events?: ObservedEventSummary;
  runtime: RuntimeChange[];
  /** Hooks on kernel functions in the head revision: the attach point each node's capabilities chose. */
  runtimeAttach?: RuntimeAttach[];
  maps: MapDelta[];
  /** The head bundle checked against the reference evaluator (with --maps). */
  verification?: { endpoints: number; classes: number; mismatches: number; problems: string[]; errors: string[] };
  notes: string[];
}

/** An edge of the connectivity graph: one line of np-guard's connectivity list. */
export type GraphEdge = ConnLine;
