// The GitOps controller: follows a branch, compiles each new commit, signs and stores the
// bundle, and rolls it out canary-first behind a health gate with automatic rollback.
// One reconcile runs at a time; a webhook or a poll during a rollout is remembered and
// handled right after it, so the branch head always wins.
import { EventEmitter } from 'node:events';
import { createHmac } from 'node:crypto';
import * as path from 'node:path';
import type { Logger } from 'pino';
import type { Diagnostic } from '../../compiler/diagnostics.js';
import type { NodeFeatures } from '../agent/datapath.js';
import { BundleStore, StoreFullError } from '../bundle/store.js';
import { TransientFault } from './faults.js';
import { signDigest, type SigningKey } from '../bundle/sign.js';
import { manifestDelta, nodeManifest, parseNodeManifest, parseTimestamp, timestampBytes, type NodeTimestamp } from '../bundle/codec.js';
import { sha256 } from '../../compiler/bundle/assemble.js';
import { verifyDigest } from '../bundle/sign.js';
import { canonicalJson } from '../../compiler/bundle/assemble.js';
import { parseManifest } from '../../compiler/bundle/io.js';
import type { BundleManifest } from '../../compiler/bundle/types.js';
import type { CompileResult, Compiler } from './compiler.js';
import { capabilitiesFromReport, describeProbedMissing, type ProbedNodeCapabilities } from '../../compiler/lower/runtime/capabilities.js';
import { evaluateGate } from './gate.js';
import { faultAdvice, transientCode } from './faults.js';
import { ControllerMetrics } from './metrics.js';
import { GitSource, type PolicySource } from './source.js';
import { loadState, saveState, type BundleRef, type PersistedState, type RolloutPhase } from './state.js';

export interface ControllerOptions {
  repo: string;
  branch: string;
  paths: string[];
  stateDir: string;
  compiler: Compiler;
  /** Where policies come from; default: the Git branch `repo`/`branch`. */
  source?: PolicySource;
  key: SigningKey;
  logger: Logger;
  pollIntervalMs?: number;
  /** Canary node names; when empty, `canaryCount` live nodes in an order keyed by the signing key (see canaryOrder). */
  canaries?: string[];
  /**
   * Nodes allowed to register besides those of the compiled inventory (and, in Kubernetes mode, the
   * cluster's pods' nodes): an explicit allow list, and the nodes that hold per-node tokens.
   */
  allowNodes?: string[];
  canaryCount?: number;
  /** Largest allowed rise of a canary's drop rate (fraction, 0.05 = 5 points). */
  maxDropRateIncrease?: number;
  gateTimeoutMs?: number;
  rolloutTimeoutMs?: number;
  /** A node not heard from for this long is unreachable (not chosen as canary). */
  nodeStaleMs?: number;
  /**
   * How long a signed timestamp stays valid (default 15 minutes): an agent that hears no fresher
   * one keeps its bundle but reports itself stale, and refuses a desired bundle whose timestamp expired.
   */
  freshnessMs?: number;
  /**
   * A node's capability report recompiles the commit at most once per this window (default one minute); a change
   * reported within it is counted as a flap and applied when the window ends.
   */
  capabilityRecompileMs?: number;
}

export type NodeState = 'pending' | 'applying' | 'applied' | 'failed' | 'unreachable';

export interface NodeStatus {
  node: string;
  features?: NodeFeatures;
  lastSeen: number;
  applied?: BundleRef;
  failedDigest?: string;
  error?: string;
  dropRate?: number;
  maps?: { name: string; endpoint?: string; entries: number }[];
  timings?: { loadMs: number; swapMs: number; totalMs?: number };
}

/** A signed timestamp as it crosses the wire: the statement's canonical bytes (base64) and its signature. */
export interface SignedTimestamp {
  statement: string;
  signature: string;
}

/** What a node is told to run: the bundle, its signed node view, and a fresh signed timestamp for it. */
export interface DesiredDocument extends BundleRef {
  sequence: number;
  manifest: string;
  signature: string;
  timestamp: SignedTimestamp;
}

export interface AgentReport {
  applied?: BundleRef;
  failed?: { digest: string; error: string };
  dropRate?: number;
  maps?: NodeStatus['maps'];
  timings?: NodeStatus['timings'];
}

export class Controller extends EventEmitter {
  readonly store: BundleStore;
  readonly metrics = new ControllerMetrics();
  readonly source: PolicySource;
  state: PersistedState = { desired: {} };
  phase: RolloutPhase = 'Idle';
  diagnostics: Diagnostic[] = [];
  forcePushes = 0;
  /** Where the time of the last reconcile went (fetch, compile, canary gate, whole rollout). */
  timings: { fetchMs?: number; compileMs?: number; canaryMs?: number; rolloutMs?: number } = {};
  readonly nodes = new Map<string, NodeStatus>();
  private readonly signatures = new Map<string, string>();
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly log: Logger;

  constructor(readonly opts: ControllerOptions) {
    super();
    this.setMaxListeners(0);
    this.store = new BundleStore(path.join(opts.stateDir, 'store'));
    this.source = opts.source ?? new GitSource(opts.repo, opts.branch, opts.stateDir);
    this.log = opts.logger;
    this.allowed = new Set(opts.allowNodes ?? []);
    // Node counts by state are computed when /metrics is read: once per scrape, not once per report.
    this.metrics.nodeCounts = () => {
      const counts: Record<NodeState, number> = { pending: 0, applying: 0, applied: 0, failed: 0, unreachable: 0 };
      for (const n of this.nodes.values()) counts[this.nodeState(n)]++;
      return counts;
    };
    this.metrics.heldNodes = () => Object.entries(this.state.held ?? {}).map(([node, h]) => ({ node, rule: h.rule }));
  }

  async start(): Promise<void> {
    const learned = this.state.sequence ?? 0;
    const { recovered, ...loaded } = await loadState(this.opts.stateDir);
    this.state = loaded;
    if (recovered) {
      this.recovered = recovered;
      this.log.error({ recovered }, 'controller state repaired');
    }
    // Nodes that registered before the state was read may have proven a later step.
    this.state.sequence = Math.max(this.state.sequence ?? 0, learned);
    // State written before rollout steps were numbered: number what is desired now.
    if (this.state.lastGood && this.state.lastGood.sequence === undefined) this.state.lastGood = this.issue(this.state.lastGood);
    for (const [n, r] of Object.entries(this.state.desired)) if (r.sequence === undefined) this.state.desired[n] = this.issue(r);
    if (this.state.current) this.phase = this.state.current.phase;
    // The nodes of the last compiled inventory may register before the next compile.
    const latest = this.state.current ?? this.state.lastGood;
    const stored = latest ? await this.store.getManifest(latest.digest) : undefined;
    if (stored) this.learnInventory(parseManifest(stored.bytes));
    this.log.info({ lastSeenCommit: this.state.lastSeenCommit, lastGood: this.state.lastGood }, 'controller state loaded');
    this.trigger('start');
    const every = this.opts.pollIntervalMs ?? 30_000;
    if (every > 0) this.timer = setInterval(() => this.trigger('poll'), every);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const t of this.capabilityTimers.values()) clearTimeout(t);
    this.capabilityTimers.clear();
    this.emit('change');
    this.emit('desired');
    await this.running?.catch(() => undefined);
  }

  /** Requests a fetch now (webhook, poll); coalesced while a reconcile runs; nothing once stopped. */
  trigger(why: string): Promise<void> {
    // A stopped controller writes nothing more (its state directory may be going away).
    if (this.stopped) return Promise.resolve();
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.reconcile(why);
          this.retryMs = 0;
          delete this.fault;
        } catch (err) {
          // Back to the phase of the rollout in force: a failed fetch or compile crash is not progress.
          this.phase = this.state.current?.phase ?? 'Idle';
          const code = transientCode(err);
          const message = (err as Error).message;
          if (code) {
            // Out of descriptors, memory or disk: nothing was marked done; try again until it passes.
            this.fault = { code, message: `${message}; ${faultAdvice(code)}`, since: this.fault?.since ?? new Date().toISOString() };
            this.fail(undefined, this.fault.message);
            this.scheduleRetry();
          } else this.fail(undefined, message);
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** A transient fault in force (EMFILE, ENOMEM, ENOSPC): /healthz reports it until a reconcile succeeds. */
  fault: { code: string; message: string; since: string } | undefined;
  private retryMs = 0;
  private retryTimer: NodeJS.Timeout | undefined;

  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer) return;
    this.retryMs = Math.min(this.retryMs ? this.retryMs * 2 : 500, 30_000);
    this.log.warn({ retryInMs: this.retryMs, fault: this.fault?.code }, 'transient fault; retrying');
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.trigger('retry');
    }, this.retryMs);
    this.retryTimer.unref?.();
  }

  /** Waits for the current reconcile (tests and the demo). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  desiredFor(node: string): BundleRef | undefined {
    // A held node keeps what it was given (nothing, if it never had a bundle): never a later bundle it was refused.
    if (this.state.held?.[node]) return this.state.desired[node];
    return this.state.desired[node] ?? this.state.lastGood;
  }

  /** The next rollout step for `ref`: a new, higher sequence number, even for content nodes ran before. */
  private issue(ref: BundleRef): BundleRef & { sequence: number } {
    const sequence = (this.state.sequence ?? 0) + 1;
    this.state.sequence = sequence;
    this.metrics.sequence.set(sequence);
    return { revision: ref.revision, digest: ref.digest, sequence };
  }

  /** A signed statement that `manifest` (at `sequence`) is what `node` should run, valid for the freshness window. */
  timestamp(node: string, manifest: string, sequence: number): SignedTimestamp {
    const issuedAt = Date.now();
    const t: NodeTimestamp = {
      kind: 'NodeTimestamp',
      node,
      manifest,
      sequence,
      issuedAt,
      expires: issuedAt + (this.opts.freshnessMs ?? 15 * 60_000),
    };
    const bytes = timestampBytes(t);
    return { statement: bytes.toString('base64'), signature: signDigest(this.opts.key, sha256(bytes)) };
  }

  /**
   * An agent proves the step it runs with the last timestamp this controller signed for it. After
   * the controller lost its state it continues numbering above that step, so its next bundle is
   * not refused as a downgrade; a node cannot push the counter with a number it was never given.
   */
  private learnSequence(node: string, proof: SignedTimestamp | undefined): void {
    if (!proof) return;
    try {
      const bytes = Buffer.from(proof.statement, 'base64');
      if (!verifyDigest(this.opts.key.publicKey, sha256(bytes), proof.signature)) return;
      const t = parseTimestamp(bytes);
      if (t.node !== node || t.sequence <= (this.state.sequence ?? 0)) return;
      this.log.warn(
        { node, sequence: t.sequence, had: this.state.sequence ?? 0 },
        'a node runs a later rollout step than this controller remembers; numbering continues above it',
      );
      this.state.sequence = t.sequence;
      this.metrics.sequence.set(t.sequence);
    } catch {
      // not a timestamp of ours: ignored
    }
  }

  /**
   * Node views by node-manifest digest and by (bundle, node). They are derived data: ed25519
   * signatures are deterministic, so after a restart the same bytes and signature come back;
   * they live in memory only, which keeps fsyncs off the path from commit to applied.
   */
  private readonly nodeViewsByDigest = new Map<string, { bytes: Buffer; signature: string }>();
  private readonly nodeViews = new Map<string, string>();
  private readonly fullManifests = new Map<string, BundleManifest>();

  /** The node's signed view of its desired bundle (cut and signed on first use). */
  async nodeDesired(node: string): Promise<DesiredDocument | undefined> {
    const d = this.desiredFor(node);
    if (!d) return undefined;
    const sequence = d.sequence ?? 0;
    const key = `${d.digest}/${sequence}/${d.revision}/${node}`;
    let digest = this.nodeViews.get(key);
    if (!digest) {
      let full = this.fullManifests.get(d.digest);
      if (!full) {
        const stored = await this.store.getManifest(d.digest);
        if (!stored) return undefined;
        full = parseManifest(stored.bytes);
        if (this.fullManifests.size > 16) this.fullManifests.clear();
        this.fullManifests.set(d.digest, full);
      }
      const nm = nodeManifest(full, d.digest, node, { sequence, revision: d.revision });
      if (this.nodeViewsByDigest.size > 100_000) this.nodeViewsByDigest.clear();
      this.nodeViewsByDigest.set(nm.digest, { bytes: nm.bytes, signature: signDigest(this.opts.key, nm.digest) });
      this.nodeViews.set(key, nm.digest);
      digest = nm.digest;
    }
    const view = this.nodeViewsByDigest.get(digest);
    if (!view) {
      this.nodeViews.delete(key);
      return this.nodeDesired(node);
    }
    return {
      revision: d.revision,
      digest: d.digest,
      sequence,
      manifest: digest,
      signature: view.signature,
      timestamp: this.timestamp(node, digest, sequence),
    };
  }

  /** The delta from one node view to another of the same node, when both are in memory. */
  manifestDeltaBytes(base: string, target: string): { bytes: Buffer; signature: string } | undefined {
    const b = this.nodeViewsByDigest.get(base);
    const t = this.nodeViewsByDigest.get(target);
    if (!b || !t) return undefined;
    const bm = parseNodeManifest(b.bytes);
    const tm = parseNodeManifest(t.bytes);
    if (bm.node !== tm.node) return undefined;
    return { bytes: Buffer.from(canonicalJson(manifestDelta(bm, base, tm, target))), signature: t.signature };
  }

  /** A manifest by digest: a node view from memory, else a bundle manifest from the store. */
  async manifestBytes(digest: string): Promise<{ bytes: Buffer; signature: string } | undefined> {
    return this.nodeViewsByDigest.get(digest) ?? (await this.store.getManifest(digest));
  }

  /** Whether `node` may register: in the compiled inventory, on the allow list, or holding a per-node token. */
  knownNode(node: string): boolean {
    return this.allowed.has(node) || this.inventoryNodes.has(node);
  }

  /** Node names of the inventory the latest bundle was compiled for. */
  private inventoryNodes = new Set<string>();
  private readonly allowed: ReadonlySet<string>;

  private learnInventory(m: BundleManifest): void {
    this.inventoryNodes = new Set(m.nodes.map((n) => n.node));
  }

  /** A node of the compiled inventory reported other runtime capabilities than it was compiled for: compile again. */
  private readonly recompileFor = new Set<string>();
  /** The last compile succeeded with no runtime policies: what nodes report cannot change its bundle. */
  private runtimeFree = false;
  /** The runtime capabilities (capabilityKey) each node was last compiled for; absent: its inventory labels. */
  private compiledWith = new Map<string, string>();

  /** The runtime capabilities each registered node's agent probed (the compiler lowers each node for its own). */
  nodeCapabilities(): Record<string, ProbedNodeCapabilities> {
    const out: Record<string, ProbedNodeCapabilities> = {};
    for (const n of [...this.nodes.values()].sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0)))
      if (n.features?.runtime) out[n.node] = capabilitiesFromReport(n.features.runtime);
    return out;
  }

  register(node: string, features: NodeFeatures | undefined, applied: BundleRef | undefined, proof?: SignedTimestamp): void {
    this.learnSequence(node, proof);
    const known = this.nodes.get(node);
    const n = known ?? { node, lastSeen: Date.now() };
    const previous = known?.features ? capabilityKey(known.features) : undefined;
    if (features) n.features = features;
    if (applied) n.applied = applied;
    n.lastSeen = Date.now();
    this.nodes.set(node, n);
    if (features) {
      const key = capabilityKey(features);
      // The agent probes once per start: a report that changes again within the node's recompile window is a flap.
      const last = this.capabilityRecompiles.get(node);
      const window = this.opts.capabilityRecompileMs ?? 60_000;
      if (previous !== undefined && key !== previous && last !== undefined && Date.now() - last < window) {
        this.metrics.capabilityFlaps.inc({ node });
        this.log.warn(
          { node, recompileInMs: last + window - Date.now() },
          'node reports other runtime capabilities again within its recompile window (a flap); its report then is applied when the window ends',
        );
      }
      if (key !== (this.compiledWith.get(node) ?? '')) this.capabilitiesChanged(node);
    }
    if (!known) this.log.info({ node, applied: applied?.revision }, 'node registered');
    this.emit('change');
  }

  /** When each node's capability report last recompiled, and the recompiles waiting for a node's window to end. */
  private readonly capabilityRecompiles = new Map<string, number>();
  private readonly capabilityTimers = new Map<string, NodeJS.Timeout>();

  /**
   * A node reports other capabilities than it was compiled for: the commit is compiled again, at most once per node
   * per window. A change within the window (counted and logged as a flap by register) is applied when the window
   * ends, from the node's report then: a node alternating its reports cannot make the controller compile on every
   * registration.
   */
  private capabilitiesChanged(node: string): void {
    const window = this.opts.capabilityRecompileMs ?? 60_000;
    const last = this.capabilityRecompiles.get(node);
    const now = Date.now();
    if (last !== undefined && now - last < window) {
      const wait = last + window - now;
      if (!this.capabilityTimers.has(node)) {
        const t = setTimeout(() => {
          this.capabilityTimers.delete(node);
          if (capabilityKey(this.nodes.get(node)?.features) !== (this.compiledWith.get(node) ?? '')) this.capabilitiesChanged(node);
        }, wait);
        t.unref?.();
        this.capabilityTimers.set(node, t);
      }
      return;
    }
    this.capabilityRecompiles.set(node, now);
    this.recompileFor.add(node);
    if (!this.runtimeFree && (this.inventoryNodes.has(node) || this.running)) {
      this.log.info(
        { node, probed: this.nodes.get(node)?.features?.runtime !== undefined },
        'node reports other runtime capabilities than compiled for; compiling again',
      );
      void this.trigger('capabilities');
    }
  }

  touch(node: string): void {
    const n = this.nodes.get(node);
    if (n) n.lastSeen = Date.now();
  }

  report(node: string, r: AgentReport): void {
    const n = this.nodes.get(node) ?? { node, lastSeen: Date.now() };
    n.lastSeen = Date.now();
    if (r.applied) {
      n.applied = r.applied;
      delete n.failedDigest;
      delete n.error;
    }
    if (r.failed) {
      n.failedDigest = r.failed.digest;
      n.error = r.failed.error;
      this.log.warn({ node, digest: r.failed.digest, error: r.failed.error }, 'node failed to apply');
    }
    if (r.dropRate !== undefined) n.dropRate = r.dropRate;
    if (r.maps) n.maps = r.maps;
    if (r.timings) n.timings = r.timings;
    this.nodes.set(node, n);
    this.emit('change');
  }

  nodeState(n: NodeStatus): NodeState {
    const desired = this.desiredFor(n.node);
    if (Date.now() - n.lastSeen > (this.opts.nodeStaleMs ?? 90_000)) return 'unreachable';
    if (desired && n.failedDigest === desired.digest) return 'failed';
    if (!desired) return n.applied ? 'applied' : 'pending';
    return n.applied?.digest === desired.digest ? 'applied' : 'applying';
  }

  status(): unknown {
    return {
      repository: this.opts.repo,
      branch: this.opts.branch,
      phase: this.phase,
      compiler: this.opts.compiler.name,
      keyId: this.opts.key.keyId,
      lastSeenCommit: this.state.lastSeenCommit ?? null,
      current: this.state.current ?? null,
      lastGood: this.state.lastGood ?? null,
      lastError: this.state.lastError ?? null,
      health: this.health(),
      recovered: this.recovered ?? null,
      forcePushes: this.forcePushes,
      timings: this.timings,
      diagnostics: this.diagnostics,
      // Nodes kept on their last bundle because their probed capabilities refuse the latest commit, and why.
      held: Object.entries(this.state.held ?? {}).map(([node, h]) => ({ node, ...h, keeps: this.state.desired[node] ?? null })),
      nodes: [...this.nodes.values()]
        .sort((a, b) => a.node.localeCompare(b.node))
        .map((n) => ({
          node: n.node,
          state: this.nodeState(n),
          desired: this.desiredFor(n.node) ?? null,
          applied: n.applied ?? null,
          error: n.error ?? null,
          dropRate: n.dropRate ?? null,
          lastSeen: new Date(n.lastSeen).toISOString(),
          maps: n.maps ?? [],
          timings: n.timings ?? null,
          datapath: n.features?.datapath ?? null,
          held: this.state.held?.[n.node]?.reason ?? null,
          // Where this node's runtime capabilities come from: its agent's probe, else the inventory's labels.
          capabilities: n.features?.runtime
            ? { source: 'probe', lacks: describeProbedMissing(capabilitiesFromReport(n.features.runtime)) }
            : { source: 'label' },
        })),
    };
  }

  /** The last write of state.json failed: it is retried before anything else, and /healthz says so meanwhile. */
  private unsaved = false;
  /** What loading state.json had to repair, shown in status. */
  recovered: string | undefined;

  private async persist(): Promise<void> {
    try {
      await saveState(this.opts.stateDir, this.state);
      this.unsaved = false;
    } catch (err) {
      this.unsaved = true;
      const code = transientCode(err);
      throw code ? new TransientFault(`cannot write ${path.join(this.opts.stateDir, 'state.json')}: ${(err as Error).message}`, code) : err;
    }
  }

  /** Healthy unless a fault is in force; each reason says what to do. */
  health(): { ok: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (this.fault) reasons.push(`since ${this.fault.since}: ${this.fault.message}`);
    if (this.unsaved && !this.fault)
      reasons.push(`the controller state could not be written to ${this.opts.stateDir}; check the disk (retried by itself)`);
    return { ok: reasons.length === 0, reasons };
  }

  private fail(revision: string | undefined, message: string): void {
    this.state.lastError = { ...(revision ? { revision } : {}), message, at: new Date().toISOString() };
    this.log.error({ revision, error: message }, 'reconcile failed');
    this.emit('change');
  }

  private setPhase(p: RolloutPhase): void {
    this.phase = p;
    if (this.state.current) this.state.current.phase = p;
    this.log.info({ phase: p, revision: this.state.current?.revision }, 'rollout phase');
    this.emit('change');
    // What nodes should run changes only with a phase: long-polls wait for this, not for every report.
    this.emit('desired');
  }

  private async reconcile(why: string): Promise<void> {
    // State that could not be written before (a full disk) is written first.
    if (this.unsaved) await this.persist();
    const cur = this.state.current;
    // Reconciles run one at a time: a rollout found in Canary or Rolling was interrupted.
    if (cur && (cur.phase === 'Canary' || cur.phase === 'Rolling')) {
      await this.resumeRollout(cur);
      if (this.stopped) return;
    }
    const tf = performance.now();
    const update = await this.source.poll(this.state.lastSeenCommit);
    this.timings = { fetchMs: performance.now() - tf };
    // Nodes that reported other capabilities: the same commit is compiled again for them.
    const recompile = [...this.recompileFor].filter((n) => this.inventoryNodes.has(n));
    this.recompileFor.clear();
    let revision: string;
    if (update) {
      if (update.forcePushed) {
        this.forcePushes++;
        this.log.warn({ commit: update.commit, previous: this.state.lastSeenCommit }, 'branch was force-pushed; following the new head');
      }
      revision = update.commit;
      this.log.info({ revision, subject: update.subject, why }, 'new commit');
    } else if (recompile.length > 0 && this.state.lastSeenCommit && !this.runtimeFree) {
      revision = this.state.lastSeenCommit;
      this.log.info({ revision, nodes: recompile }, 'compiling again for the capabilities nodes reported');
    } else return;
    this.phase = 'Compiling';
    this.emit('change');
    const t0 = performance.now();
    const nodeCapabilities = this.nodeCapabilities();
    this.compiledWith = new Map([...this.nodes.values()].map((n) => [n.node, capabilityKey(n.features)]));
    let result = await this.source.compile(this.opts.compiler, revision, this.opts.paths, { nodeCapabilities });
    // Refused only by what nodes' own probes reported: the commit goes to the other nodes, those are held.
    const held = heldBy(result, nodeCapabilities);
    if (held.size > 0) {
      const rest = await this.source.compile(this.opts.compiler, revision, this.opts.paths, {
        nodeCapabilities,
        heldNodes: [...held.keys()],
      });
      if (rest.ok && rest.bundle)
        result = { ...rest, diagnostics: [...result.diagnostics.filter((d) => d.node !== undefined), ...rest.diagnostics] };
      else held.clear();
    }
    this.metrics.compileSeconds.observe((performance.now() - t0) / 1000);
    this.timings.compileMs = performance.now() - t0;
    this.diagnostics = result.diagnostics;
    this.runtimeFree = result.bundle !== undefined && !result.bundle.manifest.tables.some((t) => t.name === 'runtime_hooks');
    if (!result.ok || !result.bundle) {
      this.state.lastSeenCommit = revision;
      this.metrics.compileFailures.inc();
      const errors = result.diagnostics.filter((d) => d.severity === 'error');
      const first = errors[0];
      this.phase = 'CompileFailed';
      this.fail(
        revision,
        `commit ${revision.slice(0, 12)} does not compile (${errors.length} error${errors.length === 1 ? '' : 's'})${first ? `: ${first.file}:${first.line}:${first.column}: ${first.message} [${first.rule}]` : ''}; it is not rolled out, the last good bundle stays in force`,
      );
      await this.persist();
      return;
    }
    const bundle = result.bundle;
    this.hold(revision, held);
    const signature = signDigest(this.opts.key, bundle.digest);
    try {
      await this.store.putBundle(bundle, signature);
    } catch (err) {
      // The commit is not marked as seen: a full store is retried (with backoff) until space returns.
      if (err instanceof StoreFullError) throw new TransientFault(`commit ${revision.slice(0, 12)}: ${err.message}`, 'ENOSPC');
      throw err;
    }
    this.state.lastSeenCommit = revision;
    this.signatures.set(bundle.digest, signature);
    this.fullManifests.set(bundle.digest, bundle.manifest);
    this.learnInventory(bundle.manifest);
    let size = bundle.manifestBytes.length;
    for (const b of bundle.blobs.values()) size += b.length;
    this.metrics.bundleBytes.set(size);
    const ref: BundleRef = { revision, digest: bundle.digest };
    if (this.state.lastGood?.digest === bundle.digest) {
      // Same bundle (a commit that changed nothing the nodes see): nothing to roll out.
      const issued = this.issue(ref);
      this.state.current = { ...issued, phase: 'Complete', startedAt: new Date().toISOString(), finishedAt: new Date().toISOString() };
      this.state.lastGood = issued;
      for (const n of Object.keys(this.state.desired)) if (!this.state.held?.[n]) this.state.desired[n] = issued;
      this.setPhase('Complete');
      await this.persist();
      this.emit('change');
      return;
    }
    await this.rollout(ref);
  }

  /**
   * Marks the nodes this commit holds (each keeps the bundle it was given: its desired reference is pinned) and
   * releases the nodes it no longer holds (they take part in this rollout).
   */
  private hold(revision: string, held: ReadonlyMap<string, Diagnostic>): void {
    const before = this.state.held ?? {};
    const now: NonNullable<PersistedState['held']> = {};
    for (const [node, d] of held) {
      const pin = this.state.desired[node] ?? (before[node] ? undefined : this.state.lastGood);
      if (pin) this.state.desired[node] = pin;
      now[node] = { revision, rule: d.rule, reason: d.message, since: before[node]?.since ?? new Date().toISOString() };
      this.log.warn(
        { node, revision, keeps: pin?.revision ?? null, reason: d.message },
        'node held on its last bundle: its probed capabilities refuse this commit; the other nodes get it',
      );
    }
    for (const node of Object.keys(before))
      if (!held.has(node)) this.log.info({ node, revision }, 'node no longer held: its capabilities run this commit');
    if (Object.keys(now).length) this.state.held = now;
    else delete this.state.held;
  }

  /** Keys the canary order: derived from the signing key, so nobody without it can predict which node is picked. */
  private get canarySecret(): Buffer {
    return createHmac('sha256', this.opts.key.privateKey.export({ type: 'pkcs8', format: 'der' }))
      .update('weir canary order')
      .digest();
  }

  private liveNodes(): string[] {
    const stale = this.opts.nodeStaleMs ?? 90_000;
    return [...this.nodes.values()]
      .filter((n) => Date.now() - n.lastSeen <= stale && !this.state.held?.[n.node])
      .map((n) => n.node)
      .sort();
  }

  private async waitFor<T>(check: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v !== undefined || this.stopped) return v;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, Math.min(left, 1000));
        const self = this;
        function done(): void {
          clearTimeout(t);
          self.off('change', done);
          resolve();
        }
        this.on('change', done);
      });
    }
  }

  private async rollout(candidate: BundleRef): Promise<void> {
    const started = performance.now();
    const ref = this.issue(candidate);
    const live = this.liveNodes();
    const canaries = this.opts.canaries?.length
      ? this.opts.canaries.filter((c) => live.includes(c))
      : canaryOrder(live, this.canarySecret).slice(0, this.opts.canaryCount ?? 1);
    const baseline: Record<string, number> = {};
    for (const c of canaries) baseline[c] = this.nodes.get(c)?.dropRate ?? 0;
    this.state.current = { ...ref, phase: 'Canary', startedAt: new Date().toISOString(), canaries, baseline };
    this.log.info({ revision: ref.revision, digest: ref.digest, canaries }, 'rollout: canary phase');
    for (const c of canaries) this.state.desired[c] = ref;
    this.setPhase('Canary');
    await this.persist();
    await this.canaryGate(ref, canaries, baseline, started);
  }

  /**
   * A rollout left in Canary or Rolling (the process was killed, or its state could not be
   * written) resumes where it stopped: the same step, canaries and baseline, so a restart neither
   * re-rolls nor skips the gate.
   */
  private async resumeRollout(cur: NonNullable<PersistedState['current']>): Promise<void> {
    const ref = { revision: cur.revision, digest: cur.digest, sequence: cur.sequence ?? this.issue(cur).sequence };
    this.log.warn({ revision: ref.revision, phase: cur.phase }, 'resuming an interrupted rollout');
    this.phase = cur.phase;
    if (cur.phase === 'Canary') {
      const canaries =
        cur.canaries ??
        Object.entries(this.state.desired)
          .filter(([, r]) => r.digest === cur.digest)
          .map(([n]) => n);
      await this.canaryGate(ref, canaries, cur.baseline ?? {}, performance.now());
    } else await this.rollingPhase(ref, performance.now());
  }

  private async canaryGate(
    ref: BundleRef & { sequence: number },
    canaries: string[],
    baseline: Record<string, number>,
    started: number,
  ): Promise<void> {
    const current = this.state.current!;
    const previous = this.state.lastGood?.digest === ref.digest ? undefined : this.state.lastGood;
    const gate = await this.waitFor(() => {
      const g = evaluateGate(
        ref.digest,
        canaries.map((c) => {
          const n = this.nodes.get(c);
          return {
            node: c,
            ...(n?.applied ? { appliedDigest: n.applied.digest } : {}),
            ...(n?.failedDigest ? { failedDigest: n.failedDigest } : {}),
            ...(n?.error ? { error: n.error } : {}),
            ...(n?.dropRate !== undefined ? { dropRate: n.dropRate } : {}),
          };
        }),
        new Map(Object.entries(baseline)),
        this.opts.maxDropRateIncrease ?? 0.05,
      );
      return g.result === 'wait' ? undefined : g;
    }, this.opts.gateTimeoutMs ?? 30_000);
    if (this.stopped) return;
    if (!gate || gate.result === 'fail') {
      const reason =
        gate?.result === 'fail'
          ? gate.reason
          : `canary gate timed out after ${this.opts.gateTimeoutMs ?? 30_000} ms waiting for ${canaries.filter((c) => this.nodes.get(c)?.applied?.digest !== ref.digest).join(', ')}`;
      // Back to the last good content as a new, higher step: the canaries' agents refuse anything older than what they ran.
      const back = previous ? this.issue(previous) : undefined;
      for (const c of canaries) {
        if (back) this.state.desired[c] = back;
        else delete this.state.desired[c];
      }
      current.finishedAt = new Date().toISOString();
      this.setPhase('RolledBack');
      this.fail(
        ref.revision,
        `rollout of ${ref.revision.slice(0, 12)} stopped at the canary gate and rolled back${previous ? ` to ${previous.revision.slice(0, 12)}` : ''}: ${reason}`,
      );
      this.metrics.rollouts.inc({ result: 'rolled_back' });
      this.metrics.rolloutSeconds.observe({ result: 'rolled_back' }, (performance.now() - started) / 1000);
      await this.persist();
      return;
    }
    // The canaries vouch for the bundle: it becomes the last good one and goes everywhere.
    this.state.lastGood = ref;
    for (const n of this.liveNodes()) this.state.desired[n] = ref;
    for (const n of Object.keys(this.state.desired)) if (!this.state.held?.[n]) this.state.desired[n] = ref;
    this.timings.canaryMs = performance.now() - started;
    this.setPhase('Rolling');
    await this.persist();
    await this.rollingPhase(ref, started);
  }

  private async rollingPhase(ref: BundleRef, started: number): Promise<void> {
    const current = this.state.current!;
    const done = await this.waitFor(() => {
      const pending = this.liveNodes().filter(
        (n) => this.nodes.get(n)?.applied?.digest !== ref.digest && this.nodes.get(n)?.failedDigest !== ref.digest,
      );
      return pending.length === 0 ? true : undefined;
    }, this.opts.rolloutTimeoutMs ?? 120_000);
    if (this.stopped) return;
    this.timings.rolloutMs = performance.now() - started;
    const failed = this.liveNodes().filter((n) => this.nodes.get(n)?.applied?.digest !== ref.digest);
    current.finishedAt = new Date().toISOString();
    if (done && failed.length === 0) {
      this.setPhase('Complete');
      delete this.state.lastError;
      this.metrics.rollouts.inc({ result: 'complete' });
      this.metrics.rolloutSeconds.observe({ result: 'complete' }, (performance.now() - started) / 1000);
    } else {
      this.setPhase('Degraded');
      this.fail(
        ref.revision,
        `rollout of ${ref.revision.slice(0, 12)} passed the canary gate but ${failed.length} node(s) did not apply it: ${failed.map((n) => `${n}${this.nodes.get(n)?.error ? ` (${this.nodes.get(n)!.error})` : ''}`).join(', ')}`,
      );
      this.metrics.rollouts.inc({ result: 'degraded' });
    }
    await this.persist();
  }
}

/**
 * The nodes a failed compile holds, with the first refusal of each: when every error is a capability refusal of a
 * node whose agent's probe decided (the runtime producer names it); any other error (a label-decided node included)
 * holds nothing, the commit does not compile.
 */
function heldBy(r: CompileResult, probed: Readonly<Record<string, unknown>>): Map<string, Diagnostic> {
  const held = new Map<string, Diagnostic>();
  if (r.ok) return held;
  const errors = r.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length === 0 || !errors.every((d) => d.node !== undefined && probed[d.node] !== undefined)) return held;
  for (const d of errors) if (!held.has(d.node!)) held.set(d.node!, d);
  return held;
}

/** What decides a node's compile: its probed capabilities (not the probe's wording of why one is missing); '' for labels. */
function capabilityKey(f: NodeFeatures | undefined): string {
  return f?.runtime ? canonicalJson(capabilitiesFromReport(f.runtime).caps) : '';
}

/**
 * Live nodes in canary order: by HMAC-SHA256(secret, name). A name cannot steer a node to the
 * front (a node called "0-evil" is as likely to be last as first), and the order is stable
 * across restarts because the secret is derived from the signing key.
 */
export function canaryOrder(nodes: readonly string[], secret: Buffer): string[] {
  const rank = new Map(nodes.map((n) => [n, createHmac('sha256', secret).update(n).digest('hex')]));
  return [...nodes].sort((a, b) => (rank.get(a)! < rank.get(b)! ? -1 : rank.get(a)! > rank.get(b)! ? 1 : 0));
}
