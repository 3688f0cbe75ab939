// The node agent: registers, long-polls its desired bundle, downloads only the blobs it lacks,
// verifies signature and digests, applies through a Datapath and reports. Any failure leaves the
// last good state in force. On start it adopts what it applied before (from its store and, for
// the kernel datapath, the pinned maps) and reconciles with the controller.
import * as path from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import {
  applyBlobDelta,
  applyManifestDelta,
  BLOB_DELTA_MEDIA_TYPE,
  mapKey,
  parseNodeManifest,
  type BlobDelta,
  type NodeManifest,
  type NodeManifestDelta,
} from '../bundle/codec.js';
import { parseTimestamp, type NodeTimestamp } from '../bundle/codec.js';
import { abiInfo } from '../../compiler/bundle/abi-stamp.js';
import { sha256 } from '../../compiler/bundle/assemble.js';
import { verifyDigest } from '../bundle/sign.js';
import { BundleStore } from '../bundle/store.js';
import type { BundleRef } from '../reconcile/state.js';
import type { Client } from '../transport/http.js';
import type { ApplyReport, Datapath, Flow } from './datapath.js';
import { readApplied, writeApplied, type AppliedRecord } from './store-state.js';
import type { SignedTimestamp } from '../reconcile/controller.js';

export interface AgentOptions {
  node: string;
  client: Client;
  trustedKey: KeyObject;
  stateDir: string;
  datapath: Datapath;
  logger: Logger;
  /** Flows replayed after each apply to measure the drop rate the canary gate reads. */
  traffic?: Flow[];
  /** Where JSON-line events go. */
  events?: Writable;
  longPollMs?: number;
  /** Test hook: sleep this long between staging the new maps and the swap. */
  applyDelayMs?: number;
}

/** What the controller wants on this node: the bundle, and this node's signed view of it. */
export interface DesiredDoc extends BundleRef {
  /** Digest of the node manifest (controller/bundle/codec.ts nodeManifest). */
  manifest: string;
  /** ed25519 signature of the node manifest digest. */
  signature: string;
  /** A fresh signed statement that this view is still desired (see NodeTimestamp). */
  timestamp?: SignedTimestamp;
}

type AppliedRef = BundleRef & { manifest: string };

/** Clock skew tolerated between controller and agent when reading a timestamp's issue time. */
const maxSkewMs = 5 * 60_000;

export class BundleRejected extends Error {}

export class Agent {
  readonly store: BundleStore;
  readonly registry = new Registry();
  private readonly applies = new Counter({
    name: 'weir_agent_applies_total',
    help: 'Bundle applies by result',
    labelNames: ['result'],
    registers: [this.registry],
  });
  private readonly applySeconds = new Histogram({
    name: 'weir_agent_apply_seconds',
    help: 'Download, verify and swap time of one bundle',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
    registers: [this.registry],
  });
  private readonly mapEntries = new Gauge({
    name: 'weir_agent_map_entries',
    help: 'Entries per applied map image',
    labelNames: ['map', 'endpoint'],
    registers: [this.registry],
  });
  private readonly blobBytes = new Counter({
    name: 'weir_agent_downloaded_bytes_total',
    help: 'Bytes of manifests and blobs downloaded, as transferred (gzip where the controller compressed)',
    registers: [this.registry],
  });
  /** Pod-scoped runtime policies whose pods are not (all) in their scope: never silently inert. */
  private readonly scopeGauge = new Gauge({
    name: 'weir_agent_runtime_scope_cgroups',
    help: 'Cgroups in the scope of each pod-scoped runtime policy, and its selected pods without cgroups (state=unresolved)',
    labelNames: ['policy', 'state'],
    registers: [this.registry],
    collect: () => {
      this.scopeGauge.reset();
      for (const s of this.opts.datapath.runtimeScopes?.() ?? []) {
        this.scopeGauge.set({ policy: s.policy, state: 'in-scope' }, s.cgroups);
        this.scopeGauge.set({ policy: s.policy, state: 'unresolved' }, s.state === 'resolved' ? 0 : Math.max(1, s.unresolved.length));
      }
    },
  });
  private readonly sequenceGauge: Gauge = new Gauge({
    name: 'weir_agent_rollout_sequence',
    help: 'Signed rollout step in force; anything older is refused',
    registers: [this.registry],
    collect: (): void => this.sequenceGauge.set(this.highest),
  });
  private readonly ageGauge: Gauge = new Gauge({
    name: 'weir_agent_bundle_confirmed_age_seconds',
    help: 'Seconds since a signed controller timestamp last confirmed the bundle in force (-1: never)',
    registers: [this.registry],
    collect: (): void => this.ageGauge.set(this.confirmed ? (Date.now() - this.confirmed.at) / 1000 : -1),
  });
  private readonly staleGauge: Gauge = new Gauge({
    name: 'weir_agent_bundle_stale',
    help: '1 when the last signed timestamp for the bundle in force has expired: the controller is unreachable or answers are withheld (freeze); the bundle stays in force',
    registers: [this.registry],
    collect: (): void => this.staleGauge.set(this.stale() ? 1 : 0),
  });
  applied: BundleRef | undefined;
  /** Highest signed rollout step applied (persisted in applied.json): older steps are refused. */
  highest = 0;
  /** The last signed timestamp that confirmed the bundle in force: when it arrived and when it expires. */
  confirmed: { at: number; expires: number; proof: SignedTimestamp } | undefined;
  private appliedManifest: string | undefined;
  private appliedNodeManifest: NodeManifest | undefined;
  lastError: string | undefined;
  /** The last step attempted (applied or refused), so a refused one is not retried in a loop. */
  private attempted = { digest: '', sequence: 0 };
  private stopped = false;
  private abort = new AbortController();
  private loop: Promise<void> | undefined;
  private lastReport: ApplyReport | undefined;
  /** Tables of the bundle in force (the DNS proxy reads fqdn_selectors and l7_rules). */
  tables: ReadonlyMap<string, unknown> | undefined;
  private readonly log: Logger;
  downloadedBytes = 0;
  /**
   * Blobs this process hashed against their digests: those of the bundle in force and of the one
   * being applied. A one-policy update then reads and hashes only the blobs that changed instead of
   * every image of the node again (50 agents share two cores in the rollout bench).
   */
  private readonly verified = new Map<string, Buffer>();
  /** Tables parsed from verified blobs, by digest (frozen: the datapath and DNS proxy only read them). */
  private readonly parsedTables = new Map<string, unknown>();

  constructor(readonly opts: AgentOptions) {
    this.store = new BundleStore(path.join(opts.stateDir, 'store'));
    this.log = opts.logger;
  }

  private event(e: Record<string, unknown>): void {
    this.opts.events?.write(JSON.stringify({ time: new Date().toISOString(), node: this.opts.node, ...e }) + '\n');
  }

  /** Adopts the bundle applied before a restart (its blobs are local), then starts watching. */
  async start(): Promise<void> {
    const prev = await readApplied(this.opts.stateDir);
    if (prev === 'corrupt') {
      // The record of the step in force is lost: the highest step among the signed views in the store stands in for it.
      this.highest = await this.highestStored();
      this.log.error(
        { highest: this.highest },
        'applied.json is unreadable; refusing rollout steps below the highest signed view in the local store',
      );
    } else if (prev) {
      this.highest = prev.sequence;
      if (prev.proof) this.confirmed = { at: 0, expires: 0, proof: prev.proof };
      try {
        await this.applyFromStore(prev, await this.localSignature(prev.manifest), true);
        this.log.info({ revision: prev.revision, digest: prev.digest }, 'adopted the bundle in force before the restart');
      } catch (err) {
        this.log.warn({ error: (err as Error).message }, 'could not adopt the previous bundle; waiting for the controller');
      }
    }
    // The datapath's features (the kernel datapath probes its runtime capabilities here, once) go in every registration.
    const f = await this.opts.datapath.features();
    if (f.runtime)
      this.log.info(
        {
          kprobeAttach: f.runtime.kprobeAttach,
          fentry: f.runtime.fentry,
          lsm: f.runtime.lsm,
          override: f.runtime.override,
          tracepoints: f.runtime.tracepoints,
          ...(f.runtime.reasons ? { missing: f.runtime.reasons } : {}),
        },
        'runtime capabilities probed; reported to the controller',
      );
    this.loop = this.watch();
  }

  /** The highest sequence among the node views in the local store that carry a valid signature for this node. */
  private async highestStored(): Promise<number> {
    let best = 0;
    for (const digest of await this.store.manifestDigests()) {
      const m = await this.store.getManifest(digest);
      if (!m || sha256(m.bytes) !== digest || !verifyDigest(this.opts.trustedKey, digest, m.signature)) continue;
      try {
        const v = parseNodeManifest(m.bytes);
        if (v.node === this.opts.node && v.sequence > best) best = v.sequence;
      } catch {
        // not a node view
      }
    }
    return best;
  }

  /** Whether the last signed timestamp for the bundle in force has expired (or none was ever seen). */
  stale(now = Date.now()): boolean {
    return this.applied !== undefined && (!this.confirmed || now > this.confirmed.expires);
  }

  /** Verifies a signed timestamp for this node and `manifest` at `sequence`; the statement, or the reason it is refused. */
  private checkTimestamp(
    ts: SignedTimestamp | undefined,
    manifest: string,
    sequence: number | undefined,
    now = Date.now(),
  ): NodeTimestamp | string {
    if (!ts || typeof ts.statement !== 'string' || typeof ts.signature !== 'string') return 'no signed timestamp';
    const bytes = Buffer.from(ts.statement, 'base64');
    if (!verifyDigest(this.opts.trustedKey, sha256(bytes), ts.signature))
      return 'the timestamp has no valid signature from the trusted key';
    let t: NodeTimestamp;
    try {
      t = parseTimestamp(bytes);
    } catch (err) {
      return (err as Error).message;
    }
    if (t.node !== this.opts.node) return `the timestamp is for node ${t.node}`;
    if (t.manifest !== manifest || (sequence !== undefined && t.sequence !== sequence)) return 'the timestamp is for another node view';
    if (t.expires < now) return `the timestamp expired at ${new Date(t.expires).toISOString()} (a replayed or withheld answer: freeze)`;
    if (t.issuedAt > now + maxSkewMs) return `the timestamp is issued in the future (${new Date(t.issuedAt).toISOString()})`;
    return t;
  }

  private confirm(t: NodeTimestamp, proof: SignedTimestamp): void {
    this.confirmed = { at: Date.now(), expires: t.expires, proof };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await this.loop?.catch(() => undefined);
    this.opts.client.close();
  }

  private async localSignature(digest: string): Promise<string> {
    const m = await this.store.getManifest(digest);
    if (!m) throw new BundleRejected(`manifest ${digest} is not in the local store`);
    return m.signature;
  }

  private async sleep(ms: number): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
  }

  private async watch(): Promise<void> {
    let backoff = 250;
    let registered = false;
    while (!this.stopped) {
      try {
        if (!registered) {
          const r = await this.opts.client.json<{ desired: DesiredDoc | null }>(
            'POST',
            `/v1/nodes/${encodeURIComponent(this.opts.node)}/register`,
            {
              features: await this.opts.datapath.features(),
              ...(this.applied ? { applied: this.applied } : {}),
              ...(this.confirmed ? { proof: this.confirmed.proof } : {}),
            },
          );
          if (r.status !== 200) throw new Error(`register: HTTP ${r.status}`);
          registered = true;
          await this.reportState();
          const d = r.value?.desired;
          if (d && (d.digest !== this.attempted.digest || d.sequence !== this.attempted.sequence)) await this.reconcile(d);
          else if (d) this.reconfirm(d);
        }
        const wait = this.opts.longPollMs ?? 25_000;
        const r = await this.opts.client.request(
          'GET',
          `/v1/nodes/${encodeURIComponent(this.opts.node)}/desired?current=${this.attempted.digest}&sequence=${this.attempted.sequence}&waitMs=${wait}`,
          undefined,
          wait + 10_000,
          this.abort.signal,
        );
        if (r.status === 200 && r.body.length) await this.reconcile(JSON.parse(r.body.toString('utf8')) as DesiredDoc);
        else if (r.status === 204) this.reconfirmHeader(r.headers['x-weir-timestamp']);
        else throw new Error(`desired: HTTP ${r.status}`);
        backoff = 250;
      } catch (err) {
        if (this.stopped) return;
        registered = false;
        this.log.warn({ error: (err as Error).message, retryInMs: backoff }, 'controller unreachable; keeping the last good state');
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, 5_000);
      }
    }
  }

  /** Applies `desired` if it differs from what is in force; never throws for a bad bundle. */
  async reconcile(desired: DesiredDoc): Promise<void> {
    this.attempted = { digest: desired.digest, sequence: desired.sequence ?? 0 };
    if (this.applied?.digest === desired.digest && this.appliedManifest === desired.manifest) {
      this.reconfirm(desired);
      return this.reportState();
    }
    const t0 = performance.now();
    try {
      const ts = this.checkTimestamp(desired.timestamp, desired.manifest, desired.sequence);
      if (typeof ts === 'string') throw new BundleRejected(`desired bundle ${desired.digest.slice(0, 12)} refused: ${ts}`);
      const manifest = await this.download(desired);
      await this.applyFromStore(desired, desired.signature, false, manifest);
      this.confirm(ts, desired.timestamp!);
      await this.persistApplied();
      this.applySeconds.observe((performance.now() - t0) / 1000);
      this.applies.inc({ result: 'applied' });
      await this.reportState(performance.now() - t0);
    } catch (err) {
      const msg = (err as Error).message;
      this.lastError = msg;
      this.applies.inc({ result: 'refused' });
      this.log.error({ digest: desired.digest, error: msg }, 'bundle not applied; the last good state stays in force');
      this.event({ type: 'bundle-refused', digest: desired.digest, revision: desired.revision, error: msg });
      await this.opts.client
        .json('POST', `/v1/nodes/${encodeURIComponent(this.opts.node)}/status`, {
          failed: { digest: desired.digest, error: msg.slice(0, 8000) },
        })
        .catch(() => undefined);
    }
  }

  /** The controller still wants the view in force: its timestamp renews the agent's freshness. */
  private reconfirm(d: DesiredDoc): void {
    if (d.manifest !== this.appliedManifest) return;
    const t = this.checkTimestamp(d.timestamp, d.manifest, d.sequence);
    if (typeof t === 'string') this.log.warn({ reason: t }, 'ignored a timestamp');
    else this.confirm(t, d.timestamp!);
  }

  /** A 204 long-poll answer carries `statement.signature` for the view still desired. */
  private reconfirmHeader(h: string | string[] | undefined): void {
    if (typeof h !== 'string' || !this.appliedManifest) return;
    const [statement = '', signature = ''] = h.split('.');
    const proof = { statement, signature };
    const t = this.checkTimestamp(proof, this.appliedManifest, this.highest);
    if (typeof t === 'string') this.log.warn({ reason: t }, 'ignored a timestamp');
    else this.confirm(t, proof);
  }

  private async persistApplied(): Promise<void> {
    if (!this.applied || !this.appliedManifest) return;
    await writeApplied(this.opts.stateDir, {
      revision: this.applied.revision,
      digest: this.applied.digest,
      manifest: this.appliedManifest,
      sequence: this.highest,
      ...(this.confirmed ? { proof: this.confirmed.proof } : {}),
    });
  }

  private verifyManifest(ref: AppliedRef, bytes: Buffer, signature: string): NodeManifest {
    const digest = ref.manifest;
    if (sha256(bytes) !== digest)
      throw new BundleRejected(`manifest ${digest.slice(0, 12)} does not match its digest (tampered or corrupted in transit)`);
    if (!verifyDigest(this.opts.trustedKey, digest, signature))
      throw new BundleRejected(`manifest ${digest.slice(0, 12)} has no valid signature from the trusted key`);
    let m: NodeManifest;
    try {
      m = parseNodeManifest(bytes);
    } catch (err) {
      throw new BundleRejected(`manifest ${digest.slice(0, 12)}: ${(err as Error).message}`);
    }
    // A validly signed view of another node or of another bundle is a replay: refuse it.
    if (m.node !== this.opts.node) throw new BundleRejected(`manifest ${digest.slice(0, 12)} is for node ${m.node}, not ${this.opts.node}`);
    if (m.bundle !== ref.digest)
      throw new BundleRejected(
        `manifest ${digest.slice(0, 12)} belongs to bundle ${m.bundle.slice(0, 12)}, not ${ref.digest.slice(0, 12)}`,
      );
    const abi = abiInfo().digest;
    if (m.abi.digest !== abi)
      throw new BundleRejected(`bundle was built for datapath ABI ${m.abi.digest.slice(0, 12)}, this agent runs ${abi.slice(0, 12)}`);
    // An older signed step is a replay or a downgrade: a rollback arrives as a newer step of old content.
    if (m.sequence < 1) throw new BundleRejected(`manifest ${digest.slice(0, 12)} carries no rollout step (sequence 0)`);
    if (m.sequence < this.highest)
      throw new BundleRejected(
        `manifest ${digest.slice(0, 12)} is rollout step ${m.sequence}, older than step ${this.highest} in force (a replayed or downgraded bundle)`,
      );
    return m;
  }

  /** Fetches what `d` needs that is not local; returns its verified node manifest. */
  private async download(d: DesiredDoc): Promise<NodeManifest> {
    let manifest = await this.store.getManifest(d.manifest);
    if (!manifest) {
      const bytes = (await this.fetchManifestDelta(d)) ?? (await this.fetchManifest(d));
      manifest = { bytes, signature: d.signature };
    }
    const m = this.verifyManifest(d, manifest.bytes, d.signature);
    // The image this node holds for the same map (name, endpoint): the base of a record delta.
    // The blob this node holds for the same map (name, endpoint) or table: the base of a delta, with
    // its unit (record size; 0: the elements of a JSON array table).
    const held = new Map<string, { digest: string; record: number }>();
    for (const i of this.appliedNodeManifest?.maps ?? []) held.set(mapKey(i), { digest: i.digest, record: i.keySize + i.valueSize });
    for (const t of this.appliedNodeManifest?.tables ?? []) held.set(`table\u0000${t.name}`, { digest: t.digest, record: 0 });
    const need = new Map<string, { digest: string; record: number } | undefined>();
    for (const i of m.maps) need.set(i.digest, held.get(mapKey(i)));
    for (const t of m.tables) if (!need.has(t.digest)) need.set(t.digest, held.get(`table\u0000${t.name}`));
    for (const [digest, prev] of need) {
      // A blob on disk counts only if it still hashes to its digest: a corrupt one is dropped and fetched again.
      if (await this.verifiedBlob(digest)) continue;
      const base = prev && prev.digest !== digest ? this.verified.get(prev.digest) : undefined;
      const body = (base && (await this.fetchBlobDelta(digest, prev!, base))) ?? (await this.fetchBlob(digest));
      await this.store.putBlob(digest, body);
      this.verified.set(digest, body);
    }
    await this.store.putManifest(d.manifest, manifest.bytes, d.signature);
    return m;
  }

  private async fetchBlob(digest: string): Promise<Buffer> {
    const r = await this.opts.client.request('GET', `/v1/blobs/sha256/${digest}`);
    if (r.status !== 200) throw new Error(`blob ${digest}: HTTP ${r.status}`);
    this.downloadedBytes += r.wireBytes;
    this.blobBytes.inc(r.wireBytes);
    if (sha256(r.body) !== digest)
      throw new BundleRejected(`blob ${digest.slice(0, 12)} does not match its digest (tampered or corrupted in transit)`);
    return r.body;
  }

  /** The image rebuilt from the one held for the same map plus a record delta; undefined to fetch it whole. */
  private async fetchBlobDelta(digest: string, prev: { digest: string; record: number }, base: Buffer): Promise<Buffer | undefined> {
    const r = await this.opts.client.request('GET', `/v1/blobs/sha256/${digest}?base=${prev.digest}&record=${prev.record}`);
    if (r.status !== 200) return undefined;
    this.downloadedBytes += r.wireBytes;
    this.blobBytes.inc(r.wireBytes);
    if (r.contentType !== BLOB_DELTA_MEDIA_TYPE) return sha256(r.body) === digest ? r.body : undefined; // the whole blob
    try {
      const delta = JSON.parse(r.body.toString('utf8')) as BlobDelta;
      if (delta.base !== prev.digest || delta.target !== digest) return undefined;
      const bytes = applyBlobDelta(base, delta);
      return sha256(bytes) === digest ? bytes : undefined;
    } catch {
      return undefined;
    }
  }

  /** A blob of the local store, hashed against its digest once per process while it stays in use. */
  private async verifiedBlob(digest: string): Promise<Buffer | undefined> {
    const hit = this.verified.get(digest);
    if (hit) return hit;
    const bytes = await this.store.getVerifiedBlob(digest);
    if (!bytes) return undefined;
    this.verified.set(digest, bytes);
    return bytes;
  }

  /** Keeps only the blobs and tables of the bundle in force. */
  private pruneVerified(m: NodeManifest | undefined): void {
    const keep = new Set(m ? [...m.maps.map((i) => i.digest), ...m.tables.map((t) => t.digest)] : []);
    for (const d of this.verified.keys()) if (!keep.has(d)) this.verified.delete(d);
    for (const d of this.parsedTables.keys()) if (!keep.has(d)) this.parsedTables.delete(d);
  }

  private async fetchManifest(d: DesiredDoc): Promise<Buffer> {
    const r = await this.opts.client.request('GET', `/v1/manifests/${d.manifest}`);
    if (r.status !== 200) throw new Error(`manifest ${d.manifest}: HTTP ${r.status}`);
    this.downloadedBytes += r.wireBytes;
    this.blobBytes.inc(r.wireBytes);
    return r.body;
  }

  /** The new manifest rebuilt from the one in force plus a delta; undefined to fall back to the whole. */
  private async fetchManifestDelta(d: DesiredDoc): Promise<Buffer | undefined> {
    const base = this.appliedManifest;
    const local = base ? await this.store.getManifest(base) : undefined;
    if (!base || !local) return undefined;
    const r = await this.opts.client.request('GET', `/v1/manifests/${d.manifest}?base=${base}`);
    if (r.status !== 200) return undefined;
    this.downloadedBytes += r.wireBytes;
    this.blobBytes.inc(r.wireBytes);
    try {
      const delta = JSON.parse(r.body.toString('utf8')) as NodeManifestDelta;
      if (delta.kind !== 'NodeBundleDelta') return r.body; // the server sent the whole manifest
      if (delta.base !== base || delta.target !== d.manifest) return undefined;
      const bytes = applyManifestDelta(parseNodeManifest(local.bytes), delta);
      // The rebuilt bytes must hash to the signed digest; verifyManifest checks that next.
      return sha256(bytes) === d.manifest ? bytes : undefined;
    } catch {
      return undefined;
    }
  }

  /** Applies a manifest of the local store (`verified`: already checked by download, not read again). */
  private async applyFromStore(ref: AppliedRef, signature: string, adopting: boolean, verified?: NodeManifest): Promise<void> {
    let m = verified;
    if (!m) {
      const man = await this.store.getManifest(ref.manifest);
      if (!man) throw new BundleRejected(`manifest ${ref.manifest} is not in the local store`);
      m = this.verifyManifest(ref, man.bytes, signature);
    }
    let report: ApplyReport;
    let tables: Map<string, unknown>;
    try {
      const images = [];
      for (const image of m.maps) {
        const bytes = await this.verifiedBlob(image.digest);
        if (!bytes)
          throw new BundleRejected(`map image ${image.name} ${image.digest.slice(0, 12)} is missing or corrupt in the local store`);
        images.push({ image, bytes });
      }
      tables = new Map<string, unknown>();
      for (const t of m.tables) {
        let value = this.parsedTables.get(t.digest);
        if (value === undefined) {
          const bytes = await this.verifiedBlob(t.digest);
          if (!bytes) throw new BundleRejected(`table ${t.name} is missing or corrupt in the local store`);
          value = deepFreeze(JSON.parse(bytes.toString('utf8')));
          this.parsedTables.set(t.digest, value);
        }
        tables.set(t.name, value);
      }
      if (this.opts.applyDelayMs) await this.sleep(this.opts.applyDelayMs);
      report = await this.opts.datapath.apply({ digest: ref.digest, revision: ref.revision, manifest: m, images, tables });
    } catch (err) {
      // The bundle in force stays: so do its verified blobs, and nothing else.
      this.pruneVerified(this.appliedNodeManifest);
      throw err;
    }
    this.appliedNodeManifest = m;
    this.pruneVerified(m);
    // The revision reported is the signed one, never the desired document's label.
    const record: AppliedRecord = {
      revision: m.revision,
      digest: ref.digest,
      manifest: ref.manifest,
      sequence: m.sequence,
      ...(this.confirmed ? { proof: this.confirmed.proof } : {}),
    };
    await writeApplied(this.opts.stateDir, record);
    this.highest = m.sequence;
    this.applied = { revision: m.revision, digest: ref.digest, sequence: m.sequence };
    this.appliedManifest = ref.manifest;
    this.tables = tables;
    this.attempted = { digest: ref.digest, sequence: m.sequence };
    this.lastReport = report;
    delete this.lastError;
    this.mapEntries.reset();
    for (const mp of report.maps) this.mapEntries.set({ map: mp.name, endpoint: mp.endpoint ?? '' }, mp.entries);
    this.event({
      type: adopting ? 'bundle-adopted' : 'bundle-applied',
      revision: m.revision,
      digest: ref.digest,
      sequence: m.sequence,
      maps: report.maps.length,
      swapMs: report.timings.swapMs,
    });
    for (const s of report.skippedSites ?? []) this.log.warn({ site: s.site, reason: s.reason }, 'runtime site left out on this node');
    for (const s of this.opts.datapath.runtimeScopes?.() ?? []) {
      if (s.state === 'resolved') continue;
      this.log.warn(
        { policy: s.policy, state: s.state, unresolved: s.unresolved },
        'pod-scoped runtime policy matches no process until its pods are resolved',
      );
      this.event({ type: 'scope-unresolved', policy: s.policy, state: s.state, pods: s.pods, unresolved: s.unresolved });
    }
  }

  /** Replays the configured traffic sample against the datapath: the fraction dropped. */
  async dropRate(): Promise<number> {
    const flows = this.opts.traffic ?? [];
    if (flows.length === 0) return 0;
    let drops = 0;
    for (const f of flows) {
      const v = await this.opts.datapath.verdict(f);
      if (v.verdict === 'deny') {
        drops++;
        this.event({ type: 'drop', flow: f, reason: v.reason, endpoint: v.endpoint, direction: v.direction, cookie: v.cookie });
      }
    }
    return drops / flows.length;
  }

  private async reportState(totalMs?: number): Promise<void> {
    const body = {
      ...(this.applied ? { applied: this.applied } : {}),
      dropRate: await this.dropRate(),
      ...(this.lastReport
        ? { maps: this.lastReport.maps, timings: { ...this.lastReport.timings, ...(totalMs !== undefined ? { totalMs } : {}) } }
        : {}),
    };
    const r = await this.opts.client.json('POST', `/v1/nodes/${encodeURIComponent(this.opts.node)}/status`, body);
    if (r.status !== 200) throw new Error(`status: HTTP ${r.status}`);
  }
}

function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}
