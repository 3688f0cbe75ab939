// The kernel datapath: the network datapath of bpf/net/loader.ts with pinned outer maps under
// /sys/fs/bpf/wag-<node>, fresh inner maps filled by batch updates and swapped per slot, and the
// runtime programs of bpf/runtime/loader.ts beside it. Verdict questions are answered by the
// emulated datapath over the same images; the kernel itself enforces real packets on the attached veths.
import { release } from 'node:os';
import type { HookTableEntry } from '../../compiler/lower/runtime/hooks.js';
import type { HubbleTables } from '../events/hubble.js';
import type { ApplyInput, ApplyReport, Datapath, Flow, NodeFeatures, Verdict } from './datapath.js';
import { EmulatorDatapath } from './emulated-datapath.js';
import { sha256 } from '../../compiler/bundle/assemble.js';
import { imageRecords, type MapImage } from '../../bpf/abi/image.js';
import { encodeIpcacheKey, encodeIpcacheValue, WEIR_IPCACHE_FLAG_FQDN, type EndpointTableEntry } from '../../bpf/abi/net.js';
import { isRuntimeImage } from '../../bpf/abi/runtime-check.js';
import { NetDatapath, type PreparedImages } from '../../bpf/net/loader.js';
import { RuntimeDatapath } from '../../bpf/runtime/loader.js';
import { probeRuntimeCapabilities } from '../../bpf/runtime/node-capabilities.js';
import type { NodeCapabilities } from '../../bpf/abi/runtime.js';
import { capabilityKeys, reportCapabilities, type ReportedCapabilities } from '../../compiler/lower/runtime/capabilities.js';
import type { FlowExport, RuntimeEventExport } from './events-export.js';
import { PodScoper, type PodSource, type ScopeStatus, type ScopeTableEntry } from './pod-scope.js';

export interface KernelOptions {
  pinDir?: string;
  /** Host-side interface of each local endpoint (`ns/pod` → ifname). */
  interfaces?: Record<string, string>;
  /** This node's pods, for pod-scoped runtime policies (absent: they are reported as having no pod source). */
  pods?: PodSource;
  /** cgroup v2 directory holding the kubelet's pod cgroups (default: the cgroup2 mount). */
  cgroupRoot?: string;
  /** How often pods and cgroups are re-read (default 250 ms). */
  scopeIntervalMs?: number;
  /** Where the runtime programs' events go (export file, /v1/events followers). */
  events?: RuntimeEventExport;
  /** Where the endpoint programs' drops, audits and redirects go, as Hubble flows. */
  flows?: FlowExport;
}

/**
 * The runtime capability probe (loads a test program per hook kind and the runtime object), reported as the
 * registration carries it. A probe that fails reports nothing usable, with the reason: the controller then refuses
 * every runtime hook this node would need, naming it, rather than assume anything.
 */
function probeOnce(): ReportedCapabilities {
  try {
    const p = probeRuntimeCapabilities();
    return reportCapabilities(p.caps, p.reasons, sha256);
  } catch (e) {
    const why = `the capability probe failed: ${(e as Error).message.split('\n')[0] ?? ''}`.slice(0, 512);
    const none = Object.fromEntries(capabilityKeys.map((k) => [k, false])) as unknown as NodeCapabilities;
    return reportCapabilities(none, Object.fromEntries(capabilityKeys.map((k) => [k, why])), sha256);
  }
}

export class KernelDatapath implements Datapath {
  readonly kind = 'kernel' as const;
  private readonly shadow: EmulatorDatapath;
  private readonly attached = new Map<string, { close(): void }>();
  private digest: string | undefined;
  private runtime: RuntimeDatapath | undefined;
  private scoper: PodScoper | undefined;
  /** The bundle's ipcache image, to which learned toFQDNs addresses are added. */
  private ipcacheBase: { image: MapImage; bytes: Buffer } | undefined;

  private constructor(
    private readonly node: string,
    private readonly net: NetDatapath,
    private readonly opts: KernelOptions,
  ) {
    this.shadow = new EmulatorDatapath(node);
  }

  static async open(node: string, opts: KernelOptions = {}): Promise<KernelDatapath> {
    const pinDir = opts.pinDir ?? `/sys/fs/bpf/wag-${node.replace(/[^a-z0-9-]/gi, '').slice(0, 40)}`;
    return new KernelDatapath(node, NetDatapath.open({ pinDir }), { ...opts, pinDir });
  }

  /** The capability probe's result, probed once: when the agent starts (its registrations carry it). */
  private probed: ReportedCapabilities | undefined;

  async features(): Promise<NodeFeatures> {
    this.probed ??= probeOnce();
    const r = this.probed;
    const hooks = ['tc', 'xdp', ...(r.tracepoints ? ['tracepoint'] : []), ...(r.kprobeAttach ? ['kprobe'] : [])];
    hooks.push(...(r.fentry ? ['fentry'] : []), ...(r.lsm ? ['lsm'] : []));
    return { datapath: 'kernel', kernel: release(), btf: true, mapInMap: true, lpmTrie: true, hooks, runtime: r };
  }

  current(): string | undefined {
    return this.digest;
  }

  async apply(input: ApplyInput): Promise<ApplyReport> {
    // Checked before any map changes: a refused bundle leaves the state in force untouched.
    const table = this.ownEndpoints(input);
    // All or nothing: the network images are validated and loaded into new inner maps first (nothing in
    // service changes), then the runtime images go to the runtime programs, where attaching a site can
    // still fail (the node's kernel refuses a program or attach): then the prepared network maps are
    // dropped and nothing of the bundle was applied. Last, the network maps are swapped in.
    const prepared = this.net.prepareImages(input.images.filter((i) => !isRuntimeImage(i.image.name)));
    try {
      return await this.#applyPrepared(input, table, prepared);
    } finally {
      prepared.discard();
    }
  }

  async #applyPrepared(
    input: ApplyInput,
    table: ReturnType<KernelDatapath['ownEndpoints']>,
    prepared: PreparedImages,
  ): Promise<ApplyReport> {
    const runtimeImages = input.images.filter((i) => isRuntimeImage(i.image.name));
    let runtimeMaps: ApplyReport['maps'] = [];
    let skippedSites: ApplyReport['skippedSites'] = [];
    if (runtimeImages.length > 0) {
      // Pinned beside the network maps: a restarted agent adopts the runtime maps, links and generation.
      this.runtime ??= RuntimeDatapath.open(this.opts.pinDir ? { pinDir: `${this.opts.pinDir}-runtime` } : {});
      const hooks = (input.tables.get('runtime_hooks') ?? {}) as Record<
        string,
        { attach?: string[]; scopes?: ScopeTableEntry[]; hooks?: HookTableEntry[] } | undefined
      >;
      const scopes = hooks[this.node]?.scopes ?? [];
      const rt = this.runtime;
      this.scoper ??= new PodScoper({
        ...(this.opts.pods ? { pods: this.opts.pods } : {}),
        ...(this.opts.cgroupRoot ? { cgroupRoot: this.opts.cgroupRoot } : {}),
        ...(this.opts.scopeIntervalMs ? { intervalMs: this.opts.scopeIntervalMs } : {}),
        setScope: (set, ids, present) => rt.setScope(set, ids, present),
      });
      if (scopes.length > 0) await this.scoper.refreshPods();
      // Resolved, written into the new generation and committed with no await between: the poll sees one or the other.
      const resolved = this.scoper.resolve(scopes);
      // A site is optional when every hook on it says ignore.callNotFound: left out where the kernel lacks it.
      const table = hooks[this.node]?.hooks ?? [];
      const optional = [...new Set(table.map((h) => h.attach))].filter((a) => table.every((h) => h.attach !== a || h.optional));
      const rs = this.runtime.applyBundle(runtimeImages, hooks[this.node]?.attach ?? [], resolved.sets, optional);
      skippedSites = rs.skipped;
      this.scoper.commit(scopes, resolved);
      if (scopes.length > 0) this.scoper.start();
      else this.scoper.stop();
      this.opts.events?.attach(this.runtime, hooks[this.node]?.hooks ?? []);
      runtimeMaps = Object.entries(rs.entries).map(([name, entries]) => ({ name, entries }));
    }
    // The rest is the network datapath's, prepared above: swapped in now.
    const r = prepared.commit();
    const maps: ApplyReport['maps'] = r.maps.map((m) => ({
      name: m.name,
      ...(m.endpoint ? { endpoint: m.endpoint } : {}),
      entries: m.entries,
    }));
    maps.push(...runtimeMaps);
    for (const e of table) {
      const iface = this.opts.interfaces?.[e.endpoint];
      if (!iface) continue;
      const spec = { endpointId: e.endpointId, identity: e.identity, flags: e.flags };
      if (!this.attached.has(e.endpoint)) this.attached.set(e.endpoint, this.net.attachEndpoint(iface, spec));
    }
    this.opts.flows?.attach(this.net, {
      node: this.node,
      endpoints: table,
      identities: (input.tables.get('identities') ?? []) as HubbleTables['identities'],
      cookies: (input.tables.get('cookies') ?? []) as HubbleTables['cookies'],
    });
    await this.shadow.apply(input);
    this.digest = input.digest;
    this.ipcacheBase = input.images.find((i) => i.image.name === 'ipcache');
    if (this.shadow.learnedAddresses().length > 0) this.swapIpcache(); // learned addresses survive a new bundle
    return {
      maps,
      timings: { loadMs: r.timings.loadMs, swapMs: r.timings.swapMs },
      ...(skippedSites.length ? { skippedSites } : {}),
    };
  }

  /**
   * This node's rows of the bundle's endpoint table. Endpoint ids repeat across nodes, so an
   * interface named for another node's pod would put that pod under the wrong policy map: refused.
   */
  private ownEndpoints(input: ApplyInput): EndpointTableEntry[] {
    const all = (input.tables.get('endpoints') ?? []) as EndpointTableEntry[];
    const mine = all.filter((e) => e.node === this.node);
    const local = new Set(mine.map((e) => e.endpoint));
    const elsewhere = Object.entries(this.opts.interfaces ?? {})
      .filter(([endpoint]) => !local.has(endpoint))
      .map(([endpoint, iface]) => ({ endpoint, iface, node: all.find((e) => e.endpoint === endpoint)?.node }))
      .filter((x): x is { endpoint: string; iface: string; node: string } => x.node !== undefined);
    if (elsewhere.length > 0)
      throw new Error(
        `the interfaces file names endpoints that this bundle places on other nodes: ${elsewhere.map((x) => `${x.endpoint} (${x.iface}) is on ${x.node}`).join('; ')}; this agent is node ${this.node}: fix --interfaces (nothing was attached or changed)`,
      );
    return mine;
  }

  async verdict(flow: Flow): Promise<Verdict> {
    return this.shadow.verdict(flow);
  }

  /** toFQDNs: the address joins the ipcache under the selector identity (a fresh ipcache swapped in). */
  learnFqdn(ip: string, identity: number, ttlSeconds: number): void {
    this.shadow.learnFqdn(ip, identity, ttlSeconds);
    this.swapIpcache();
  }

  expireFqdn(now?: number): number {
    const n = this.shadow.expireFqdn(now);
    if (n > 0) this.swapIpcache();
    return n;
  }

  /** The bundle's ipcache plus the learned addresses (flag FQDN), built fresh and swapped in one slot update. */
  private swapIpcache(): void {
    const base = this.ipcacheBase;
    if (!base) return;
    const byKey = new Map<string, [Uint8Array, Uint8Array]>();
    for (const [k, v] of imageRecords(base.image, base.bytes)) byKey.set(Buffer.from(k).toString('hex'), [k, v]);
    const now = Date.now();
    for (const l of this.shadow.learnedAddresses()) {
      if (l.expires <= now) continue;
      const k = encodeIpcacheKey({ bits: l.family === 4 ? 32 : 128, family: l.family, addr: l.addr });
      byKey.set(k.toString('hex'), [k, encodeIpcacheValue({ identity: l.identity, flags: WEIR_IPCACHE_FLAG_FQDN })]);
    }
    const records = [...byKey.values()].sort(([a], [b]) => Buffer.compare(a, b));
    const bytes = Buffer.concat(records.flat());
    this.net.applyImages([{ image: { ...base.image, entries: records.length, digest: sha256(bytes) }, bytes }]);
  }

  /** Pod-scoped runtime policies of the bundle in force and how far their pods are resolved. */
  runtimeScopes(): ScopeStatus[] {
    return this.scoper?.status() ?? [];
  }

  /** The pod a process runs in, when pods are known (events name it). */
  podOf(pid: number, cgroupId?: bigint): { namespace: string; name: string } | undefined {
    return this.scoper?.podOf(pid, cgroupId);
  }

  /** The runtime programs, once a bundle with runtime images was applied (events are read from them). */
  runtimeDatapath(): RuntimeDatapath | undefined {
    return this.runtime;
  }

  stats(): { allowed: number; dropped: number } {
    return this.net.stats();
  }

  async close(): Promise<void> {
    // Links and pinned maps are left in place on purpose: enforcement outlives the agent.
    this.scoper?.stop();
    this.opts.events?.close();
    this.opts.flows?.close();
    this.net.close();
    this.runtime?.close(); // pinned like the network maps: runtime enforcement outlives the agent too
  }

  toString(): string {
    return `kernel(${this.node})`;
  }
}
