// The kernel datapath: issue #4's NetDatapath (bpf/net/loader.ts) with pinned outer maps under
// /sys/fs/bpf/wag-<node>, fresh inner maps filled by batch updates and swapped per slot.
// Verdict questions are answered by a shadow emulator over the same images; the kernel itself
// enforces real packets on the attached veths.
import type { ApplyInput, ApplyReport, Datapath, Flow, NodeFeatures, Verdict } from './datapath.js';
import { EmulatorDatapath } from './emulated-datapath.js';
import type { MapImage } from '../../compiler/bundle/types.js';
import { sha256 } from '../../compiler/bundle/assemble.js';
import { encodeIpcacheKey, encodeIpcacheValue } from '../../bpf/abi/net.js';
import { parseAddress } from '../../compiler/model/cidr.js';

/** weir_ipcache_value flag: the entry was learned from DNS (toFQDNs) and expires. */
const IPCACHE_FLAG_FQDN = 1;

interface NetDatapathLike {
  applyImages(images: { image: unknown; bytes: Buffer }[]): { maps: { name: string; endpoint?: string; entries: number }[]; timings: { loadMs: number; swapMs: number } };
  attachEndpoint(iface: string, ep: { endpointId: number; identity: number; flags: number }): { close(): void };
  setEndpoint(ifindex: number, ep: { endpointId: number; identity: number; flags: number }): void;
  stats(): { allowed: number; dropped: number };
  close(): void;
}

/** bpf/runtime/loader.ts RuntimeDatapath, loaded lazily like the network datapath. */
interface RuntimeDatapathLike {
  applyBundle(images: { image: { name: string; type: string; keyType: string; valueType: string; keySize: number; valueSize: number; maxEntries: number }; bytes: Uint8Array }[], attach: readonly string[]): { entries: Record<string, number> };
  close(): void;
}

export interface KernelOptions {
  pinDir?: string;
  /** Host-side interface of each local endpoint (`ns/pod` → ifname). */
  interfaces?: Record<string, string>;
}

export class KernelDatapath implements Datapath {
  readonly kind = 'kernel' as const;
  private readonly shadow: EmulatorDatapath;
  private readonly attached = new Map<string, { close(): void }>();
  private digest: string | undefined;
  private runtime: RuntimeDatapathLike | undefined;
  /** The bundle's ipcache image, to which learned toFQDNs addresses are added. */
  private ipcacheBase: { image: MapImage; bytes: Buffer } | undefined;

  private constructor(private readonly node: string, private readonly net: NetDatapathLike, private readonly opts: KernelOptions) {
    this.shadow = new EmulatorDatapath(node);
  }

  static async open(node: string, opts: KernelOptions = {}): Promise<KernelDatapath> {
    // Loaded lazily: the agent runs with the emulator on machines without libbpf or root.
    const modPath = '../../bpf/net/loader.js';
    const mod = (await import(modPath)) as { NetDatapath: { open(o: { pinDir?: string }): NetDatapathLike } };
    const pinDir = opts.pinDir ?? `/sys/fs/bpf/wag-${node.replace(/[^a-z0-9-]/gi, '').slice(0, 40)}`;
    return new KernelDatapath(node, mod.NetDatapath.open({ pinDir }), { ...opts, pinDir });
  }

  async features(): Promise<NodeFeatures> {
    const { release } = await import('node:os');
    return { datapath: 'kernel', kernel: release(), btf: true, mapInMap: true, lpmTrie: true, hooks: ['tc', 'xdp', 'tracepoint'] };
  }

  current(): string | undefined {
    return this.digest;
  }

  async apply(input: ApplyInput): Promise<ApplyReport> {
    // Runtime images (wrt_*, issue #5) go to the runtime programs; the rest to the network datapath.
    const isRuntime = (i: { image: { name: string } }) => i.image.name.startsWith('wrt_');
    const r = this.net.applyImages(input.images.filter((i) => !isRuntime(i)));
    const runtimeImages = input.images.filter(isRuntime);
    if (runtimeImages.length > 0) {
      if (!this.runtime) {
        const rmod = '../../bpf/runtime/loader.js';
        const m = (await import(rmod)) as { RuntimeDatapath: { open(o: { pinDir?: string }): RuntimeDatapathLike } };
        // Pinned beside the network maps: a restarted agent adopts the runtime maps, links and generation.
        this.runtime = m.RuntimeDatapath.open(this.opts.pinDir ? { pinDir: `${this.opts.pinDir}-runtime` } : {});
      }
      const hooks = (input.tables.get('runtime_hooks') ?? {}) as Record<string, { attach?: string[] } | undefined>;
      const rs = this.runtime.applyBundle(runtimeImages, hooks[this.node]?.attach ?? []);
      for (const [name, entries] of Object.entries(rs.entries)) r.maps.push({ name, entries });
    }
    const table = (input.tables.get('endpoints') ?? []) as { endpoint: string; endpointId: number; identity: number; flags: number }[];
    for (const e of table) {
      const iface = this.opts.interfaces?.[e.endpoint];
      if (!iface) continue;
      const spec = { endpointId: e.endpointId, identity: e.identity, flags: e.flags };
      if (!this.attached.has(e.endpoint)) this.attached.set(e.endpoint, this.net.attachEndpoint(iface, spec));
    }
    await this.shadow.apply(input);
    this.digest = input.digest;
    this.ipcacheBase = input.images.find((i) => i.image.name === 'ipcache');
    if (this.shadow.learned.size > 0) this.swapIpcache(); // learned addresses survive a new bundle
    return { maps: r.maps.map((m) => ({ name: m.name, ...(m.endpoint ? { endpoint: m.endpoint } : {}), entries: m.entries })), timings: { loadMs: r.timings.loadMs, swapMs: r.timings.swapMs } };
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
    const rec = base.image.keySize + base.image.valueSize;
    const byKey = new Map<string, [Buffer, Buffer]>();
    for (let o = 0; o + rec <= base.bytes.length; o += rec) {
      const k = base.bytes.subarray(o, o + base.image.keySize);
      byKey.set(k.toString('hex'), [k, base.bytes.subarray(o + base.image.keySize, o + rec)]);
    }
    for (const [ip, l] of this.shadow.learned) {
      const a = parseAddress(ip);
      if (l.expires <= Date.now() || !a) continue;
      const k = encodeIpcacheKey({ bits: a.family === 4 ? 32 : 128, family: a.family, addr: a.addr });
      byKey.set(k.toString('hex'), [k, encodeIpcacheValue({ identity: l.identity, flags: IPCACHE_FLAG_FQDN })]);
    }
    const records = [...byKey.values()].sort(([a], [b]) => Buffer.compare(a, b));
    const bytes = Buffer.concat(records.flatMap(([k, v]) => [k, v]));
    this.net.applyImages([{ image: { ...base.image, entries: records.length, digest: sha256(bytes) }, bytes }]);
  }

  stats(): { allowed: number; dropped: number } {
    return this.net.stats();
  }

  async close(): Promise<void> {
    // Links and pinned maps are left in place on purpose: enforcement outlives the agent.
    this.net.close();
    this.runtime?.close(); // pinned like the network maps: runtime enforcement outlives the agent too
  }

  toString(): string {
    return `kernel(${this.node})`;
  }
}
