// The network datapath as the agent drives it: pinned outer maps, the tc and XDP programs,
// and apply/swap of map images (fresh inner maps filled with batch updates, then one slot update each).
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { btfLayouts, netStructs } from '../abi/check.js';
import type { MapImage } from '../abi/image.js';
import { decodeU32, encodeU32, sumPerCpu } from '../abi/layouts.js';
import {
  decodeNetEvent,
  decodeStateValue,
  encodeEndpointValue,
  encodeStateValue,
  STATE_VALUE_SIZE,
  WEIR_CFG_NO_CONNTRACK,
  WEIR_CFG_NO_VERDICT_CACHE,
  WEIR_ENDPOINTS_MAX,
  WEIR_IPCACHE_MAX_ENTRIES,
  WEIR_POLICY_MAX_ENTRIES_DEFAULT,
  WEIR_PREFILTER_MAX_ENTRIES,
  WEIR_STAT_ALLOWED,
  WEIR_STAT_AUDITED,
  WEIR_STAT_DROPPED,
  WEIR_STAT_EVENTS_LOST,
  WEIR_STAT_MAX,
  WEIR_STAT_PREFILTERED,
  WEIR_STAT_REDIRECTED,
  type NetEvent,
} from '../abi/net.js';
import { objectsDir } from '../paths.js';
import {
  BpfError,
  BpfMap,
  type MapSpec,
  BpfObject,
  type BpfProgram,
  RingBuffer,
  type TcLink,
  type XdpLink,
  attachTc,
  attachXdp,
  ifindexOf,
} from '../libbpf-ts/index.js';

export type { NetEvent } from '../abi/net.js';

/** Names of the network maps as they appear in the objects and under the pin directory. */
export const netMapNames = {
  policy: 'weir_policy',
  ipcache: 'weir_ipcache',
  endpoints: 'weir_endpoints',
  prefilter: 'weir_prefilter',
  events: 'weir_events',
  stats: 'weir_net_stats',
  state: 'weir_state',
  ct: 'weir_ct',
  config: 'weir_net_config',
} as const;

/** Which C structs each image kind carries (from weir_net.h), and its swappable outer map. */
export const imageLayouts = {
  policy: { keyType: 'weir_policy_key', valueType: 'weir_policy_value', outer: 'policy' },
  ipcache: { keyType: 'weir_ipcache_key', valueType: 'weir_ipcache_value', outer: 'ipcache' },
  prefilter: { keyType: 'weir_ipcache_key', valueType: 'weir_prefilter_value', outer: 'prefilter' },
} as const;
export type ImageKind = keyof typeof imageLayouts;

export interface StructSizes {
  [struct: string]: number;
}

/** Struct sizes from the BTF of the compiled endpoint program: the datapath's own idea of the layouts. */
export function readStructSizes(objectPath: string): StructSizes {
  const btf = btfLayouts(objectPath, netStructs);
  const out: StructSizes = {};
  for (const s of netStructs) {
    const l = btf[s];
    if (!l) throw new Error(`${objectPath}: BTF has no struct ${s}; rebuild with \`npm run build\``);
    out[s] = l.size;
  }
  return out;
}

export interface DatapathOptions {
  /** bpffs directory for pins (e.g. /sys/fs/bpf/weir). Omit for scratch, unpinned maps (verification, tests). */
  pinDir?: string;
  objectsDir?: string;
  /** Default capacity of a per-endpoint policy map when an image does not say (WEIR_POLICY_MAX_ENTRIES_DEFAULT). */
  policyMaxEntries?: number;
  /** Load the XDP prefilter program too. */
  prefilter?: boolean;
}

export interface EndpointSpec {
  endpointId: number;
  identity: number;
  /** WEIR_EP_* flags: 1 ingress enforced, 2 egress enforced, 4 audit mode. */
  flags: number;
}

export interface LoadedImage {
  image: MapImage;
  bytes: Buffer;
}

export interface MapLoadReport {
  name: string;
  endpoint?: string;
  endpointId?: number;
  entries: number;
  /** Creating the inner map and filling it with batch updates. */
  loadMs: number;
  /** The slot update that put it in service. */
  swapMs: number;
}

export interface ApplyReport {
  maps: MapLoadReport[];
  timings: { validateMs: number; loadMs: number; swapMs: number; totalMs: number };
}

/** Images validated and loaded into new inner maps, not yet in service (NetDatapath.prepareImages). */
export interface PreparedImages {
  /** Swaps them in (map-in-map slot updates), in prefilter, ipcache, policy order. */
  commit(): ApplyReport;
  /** Drops them: what is in service stays. */
  discard(): void;
}

/** A bad image: nothing was touched; `image` names the offending one. */
export class ImageError extends Error {
  override readonly name = 'ImageError';
  constructor(
    readonly image: string,
    message: string,
  ) {
    super(`${image}: ${message}`);
  }
}

/** An endpoint's two tc programs on its host-side veth; close() detaches both and forgets the endpoint. */
export class EndpointAttachment implements Disposable {
  constructor(
    readonly ifindex: number,
    readonly links: TcLink[],
    private readonly dp: NetDatapath,
  ) {}

  close(): void {
    for (const l of this.links) l.close();
    this.dp.removeEndpoint(this.ifindex);
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

interface OuterSpec {
  kind: 'policy' | 'ipcache' | 'prefilter' | 'endpoints' | 'events' | 'stats' | 'state' | 'ct' | 'config';
  create: (sizes: StructSizes) => BpfMap;
}

function createDeclared(
  declared: Record<string, { type: string; keySize: number; valueSize: number; maxEntries: number }>,
  name: string,
): BpfMap {
  const d = declared[name]!;
  return BpfMap.create({ type: d.type as MapSpec['type'], name, keySize: d.keySize, valueSize: d.valueSize, maxEntries: d.maxEntries });
}

const elapsed = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

export class NetDatapath implements Disposable {
  readonly maps: {
    policy: BpfMap;
    ipcache: BpfMap;
    endpoints: BpfMap;
    prefilter: BpfMap;
    events: BpfMap;
    stats: BpfMap;
    state: BpfMap;
    ct: BpfMap;
    config: BpfMap;
  };
  readonly sizes: StructSizes;
  readonly fromEndpoint: BpfProgram;
  readonly toEndpoint: BpfProgram;
  readonly prefilterProgram?: BpfProgram;
  readonly pinDir?: string;
  readonly policyMaxEntries: number;
  readonly #objects: BpfObject[];
  readonly #config: BpfMap;

  private constructor(init: {
    maps: NetDatapath['maps'];
    sizes: StructSizes;
    objects: BpfObject[];
    from: BpfProgram;
    to: BpfProgram;
    prefilter?: BpfProgram;
    pinDir?: string;
    policyMaxEntries: number;
    config: BpfMap;
  }) {
    this.maps = init.maps;
    this.sizes = init.sizes;
    this.#objects = init.objects;
    this.fromEndpoint = init.from;
    this.toEndpoint = init.to;
    if (init.prefilter) this.prefilterProgram = init.prefilter;
    if (init.pinDir) this.pinDir = init.pinDir;
    this.policyMaxEntries = init.policyMaxEntries;
    this.#config = init.config;
  }

  /**
   * Creates (or, with pinDir, reopens what an earlier run pinned) the network maps and loads the programs
   * onto them. A pin that is not the map we expect (another owner, another ABI) is an error, never reused.
   */
  static open(opts: DatapathOptions = {}): NetDatapath {
    const dir = opts.objectsDir ?? objectsDir();
    const endpointObj = join(dir, 'endpoint.bpf.o');
    if (!existsSync(endpointObj)) throw new Error(`${endpointObj} is missing: run \`npm run build\` (needs clang) to compile bpf/`);
    const sizes = readStructSizes(endpointObj);
    const declared = (() => {
      using probe = BpfObject.open(endpointObj);
      return { [netMapNames.ct]: probe.declaredMap(netMapNames.ct), [netMapNames.config]: probe.declaredMap(netMapNames.config) };
    })();
    const policyMax = opts.policyMaxEntries ?? WEIR_POLICY_MAX_ENTRIES_DEFAULT;
    const lpm = (name: string, key: number, value: number, max: number) =>
      BpfMap.create({ type: 'lpm_trie', name, keySize: key, valueSize: value, maxEntries: max });
    const specs: Record<keyof NetDatapath['maps'], OuterSpec> = {
      policy: {
        kind: 'policy',
        create: (s) => {
          using tpl = lpm('weir_policy_tpl', s['weir_policy_key']!, s['weir_policy_value']!, 1);
          return BpfMap.create({
            type: 'hash_of_maps',
            name: netMapNames.policy,
            keySize: 4,
            valueSize: 4,
            maxEntries: WEIR_ENDPOINTS_MAX,
            innerMap: tpl,
          });
        },
      },
      ipcache: {
        kind: 'ipcache',
        create: (s) => {
          using tpl = lpm('weir_ipc_tpl', s['weir_ipcache_key']!, s['weir_ipcache_value']!, 1);
          return BpfMap.create({
            type: 'array_of_maps',
            name: netMapNames.ipcache,
            keySize: 4,
            valueSize: 4,
            maxEntries: 1,
            innerMap: tpl,
          });
        },
      },
      prefilter: {
        kind: 'prefilter',
        create: (s) => {
          using tpl = lpm('weir_pf_tpl', s['weir_ipcache_key']!, s['weir_prefilter_value']!, 1);
          return BpfMap.create({
            type: 'array_of_maps',
            name: netMapNames.prefilter,
            keySize: 4,
            valueSize: 4,
            maxEntries: 1,
            innerMap: tpl,
          });
        },
      },
      endpoints: {
        kind: 'endpoints',
        create: (s) =>
          BpfMap.create({
            type: 'hash',
            name: netMapNames.endpoints,
            keySize: 4,
            valueSize: s['weir_endpoint_value']!,
            maxEntries: WEIR_ENDPOINTS_MAX,
          }),
      },
      events: {
        kind: 'events',
        create: () => BpfMap.create({ type: 'ringbuf', name: netMapNames.events, keySize: 0, valueSize: 0, maxEntries: 1 << 20 }),
      },
      stats: {
        kind: 'stats',
        create: () => BpfMap.create({ type: 'percpu_array', name: netMapNames.stats, keySize: 4, valueSize: 8, maxEntries: WEIR_STAT_MAX }),
      },
      // Not used by the programs: the digest of the bundle in force, pinned so that it survives the agent.
      state: {
        kind: 'state',
        create: () => BpfMap.create({ type: 'array', name: netMapNames.state, keySize: 4, valueSize: STATE_VALUE_SIZE, maxEntries: 1 }),
      },
      // Pinned like the rest so that flows and switches survive an agent restart (a new program instance
      // reuses them); shapes as the object declares them.
      ct: { kind: 'ct', create: () => createDeclared(declared, netMapNames.ct) },
      config: { kind: 'config', create: () => createDeclared(declared, netMapNames.config) },
    };
    if (opts.pinDir) mkdirSync(opts.pinDir, { recursive: true });
    const maps = {} as NetDatapath['maps'];
    const objects: BpfObject[] = [];
    try {
      for (const [k, spec] of Object.entries(specs) as [keyof NetDatapath['maps'], OuterSpec][]) {
        const name = netMapNames[k];
        const fresh = spec.create(sizes);
        if (!opts.pinDir) {
          maps[k] = fresh;
          continue;
        }
        const path = join(opts.pinDir, name);
        if (existsSync(path)) {
          const pinned = openOwnedPin(path);
          const problem = shapeMismatch(pinned, fresh);
          fresh.close();
          if (problem) {
            pinned.close();
            throw new BpfError(
              `open pinned ${path}`,
              17,
              [],
              `${problem}: it belongs to something else or to another datapath ABI; remove it (rm ${path}) or use another pin directory`,
            );
          }
          maps[k] = pinned;
        } else {
          fresh.pin(path);
          maps[k] = fresh;
        }
      }
      const reuse = {
        weir_policy: maps.policy,
        weir_ipcache: maps.ipcache,
        weir_endpoints: maps.endpoints,
        weir_prefilter: maps.prefilter,
        weir_events: maps.events,
        weir_net_stats: maps.stats,
        weir_ct: maps.ct,
        weir_net_config: maps.config,
      };
      const ep = BpfObject.open(endpointObj, { reuseMaps: reuse });
      objects.push(ep);
      ep.load();
      let pf: BpfProgram | undefined;
      if (opts.prefilter) {
        const o = BpfObject.open(join(dir, 'prefilter.bpf.o'), { reuseMaps: reuse });
        objects.push(o);
        o.load();
        pf = o.program('weir_prefilter_xdp');
      }
      return new NetDatapath({
        maps,
        sizes,
        objects,
        from: ep.program('weir_from_endpoint'),
        to: ep.program('weir_to_endpoint'),
        ...(pf ? { prefilter: pf } : {}),
        ...(opts.pinDir ? { pinDir: opts.pinDir } : {}),
        policyMaxEntries: policyMax,
        config: maps.config,
      });
    } catch (e) {
      for (const o of objects) o.close();
      for (const m of Object.values(maps)) m.close();
      throw e;
    }
  }

  /**
   * Turns the per-CPU verdict cache of this datapath's endpoint programs on or off (weir_net_config).
   * Off, every packet runs both policy lookups: for debugging and to measure the lookups themselves.
   */
  setVerdictCache(enabled: boolean): void {
    this.#setConfig(WEIR_CFG_NO_VERDICT_CACHE, !enabled);
  }

  /**
   * Turns connection tracking on or off. Off, replies are judged by policy like any packet: kernel
   * verification does this, since equivalence classes are about policy, not about earlier packets.
   */
  setConntrack(enabled: boolean): void {
    this.#setConfig(WEIR_CFG_NO_CONNTRACK, !enabled);
  }

  #setConfig(bit: number, on: boolean): void {
    const v = this.#config.lookup(0);
    const cur = v ? decodeU32(v) : 0;
    this.#config.update(0, encodeU32(on ? cur | bit : cur & ~bit));
  }

  /** Records the digest (and revision) of the bundle now in force, in the pinned weir_state map. */
  recordApplied(digest: string, revision = ''): void {
    this.maps.state.update(0, encodeStateValue({ digest, revision }));
  }

  /** The bundle in force as recorded by recordApplied (also by an earlier agent process), if any. */
  applied(): { digest: string; revision: string } | undefined {
    return decodeStateValue(this.maps.state.lookup(0));
  }

  /** Registers the endpoint behind a host-side veth (weir_endpoints[ifindex]). */
  setEndpoint(ifindex: number, ep: EndpointSpec): void {
    this.maps.endpoints.update(ifindex, encodeEndpointValue(ep));
  }

  removeEndpoint(ifindex: number): void {
    this.maps.endpoints.delete(ifindex);
  }

  /** Registers the endpoint and attaches both directions' programs to its host-side veth. */
  attachEndpoint(iface: string | number, ep: EndpointSpec): EndpointAttachment {
    const ifindex = typeof iface === 'number' ? iface : ifindexOf(iface);
    this.setEndpoint(ifindex, ep);
    const links: TcLink[] = [];
    try {
      links.push(attachTc(this.fromEndpoint.fd, { ifindex, direction: 'ingress' }));
      links.push(attachTc(this.toEndpoint.fd, { ifindex, direction: 'egress' }));
    } catch (e) {
      for (const l of links) l.close();
      this.removeEndpoint(ifindex);
      throw e;
    }
    return new EndpointAttachment(ifindex, links, this);
  }

  attachPrefilter(iface: string | number): XdpLink {
    if (!this.prefilterProgram) throw new Error('the datapath was opened without the prefilter (pass {prefilter: true})');
    return attachXdp(this.prefilterProgram.fd, typeof iface === 'number' ? { ifindex: iface } : { ifname: iface });
  }

  /** Checks an image against the map it targets, touching nothing. Throws ImageError. */
  validate(li: LoadedImage): ImageKind {
    const { image, bytes } = li;
    const label = `map image ${image.name}${image.endpoint ? ` (${image.endpoint})` : ''} ${image.digest.slice(0, 12)}`;
    const kind = (Object.keys(imageLayouts) as ImageKind[]).find((k) => k === image.name);
    if (!kind)
      throw new ImageError(label, `no swappable datapath map is called ${image.name} (known: ${Object.keys(imageLayouts).join(', ')})`);
    const want = imageLayouts[kind];
    const ks = this.sizes[want.keyType]!;
    const vs = this.sizes[want.valueType]!;
    if (image.keySize !== ks || image.valueSize !== vs)
      throw new ImageError(
        label,
        `records are ${image.keySize}+${image.valueSize} bytes but the datapath's ${want.keyType}/${want.valueType} are ${ks}+${vs} bytes (bundle built for another ABI?)`,
      );
    if (image.type !== 'lpm_trie') throw new ImageError(label, `image type ${image.type}, the ${kind} inner map is an lpm_trie`);
    const rec = ks + vs;
    if (bytes.length % rec !== 0) throw new ImageError(label, `blob is ${bytes.length} bytes, not whole ${rec}-byte records (truncated?)`);
    const n = bytes.length / rec;
    if (n !== image.entries) throw new ImageError(label, `blob holds ${n} records but the manifest says ${image.entries} (truncated?)`);
    const cap = this.#capacity(kind, image);
    if (n > cap) throw new ImageError(label, `${n} entries exceed the map's capacity of ${cap}`);
    if (kind === 'policy' && image.endpointId === undefined) throw new ImageError(label, 'a policy image needs an endpointId');
    return kind;
  }

  #capacity(kind: ImageKind, image: MapImage): number {
    if (kind === 'policy') return image.maxEntries > 0 ? image.maxEntries : this.policyMaxEntries;
    if (kind === 'ipcache') return image.maxEntries > 0 ? image.maxEntries : WEIR_IPCACHE_MAX_ENTRIES;
    return image.maxEntries > 0 ? image.maxEntries : WEIR_PREFILTER_MAX_ENTRIES;
  }

  /** Builds a fresh inner map from an image with batch updates (not yet in service). */
  buildInner(li: LoadedImage): BpfMap {
    const kind = this.validate(li);
    const want = imageLayouts[kind];
    const inner = BpfMap.create({
      type: 'lpm_trie',
      name: kind === 'policy' ? `weir_pol_${li.image.endpointId}` : `weir_${kind}`,
      keySize: this.sizes[want.keyType]!,
      valueSize: this.sizes[want.valueType]!,
      maxEntries: Math.max(1, this.#capacity(kind, li.image)),
    });
    try {
      inner.updateRecords(li.bytes);
    } catch (e) {
      inner.close();
      throw e;
    }
    return inner;
  }

  /**
   * Applies images: validates all of them first (a bad one leaves everything in service untouched),
   * builds every inner map, then swaps each outer slot with one update. Each map switches atomically;
   * across maps the swaps follow one another within microseconds (ipcache first, then policies).
   */
  applyImages(images: LoadedImage[]): ApplyReport {
    return this.prepareImages(images).commit();
  }

  /**
   * The part of an apply that can fail on the bundle's account: every image validated and its inner
   * map built and filled. Nothing in service changes until commit() swaps them in; discard() drops
   * them (an agent that has more of the bundle to apply, and fails there, leaves this one untouched).
   */
  prepareImages(images: LoadedImage[]): PreparedImages {
    const t0 = process.hrtime.bigint();
    const kinds = images.map((li) => this.validate(li));
    const validateMs = elapsed(t0);
    const built: { li: LoadedImage; kind: ImageKind; inner: BpfMap; loadMs: number }[] = [];
    const tl = process.hrtime.bigint();
    try {
      for (const [i, li] of images.entries()) {
        const t = process.hrtime.bigint();
        const inner = this.buildInner(li);
        built.push({ li, kind: kinds[i]!, inner, loadMs: elapsed(t) });
      }
    } catch (e) {
      for (const b of built) b.inner.close();
      throw e;
    }
    const loadMs = elapsed(tl);
    const order: ImageKind[] = ['prefilter', 'ipcache', 'policy'];
    built.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
    let done = false;
    const release = () => {
      done = true;
      // The outer maps hold their own references; ours can go.
      for (const b of built) b.inner.close();
    };
    return {
      commit: (): ApplyReport => {
        if (done) throw new Error('prepared images were already committed or discarded');
        const ts = process.hrtime.bigint();
        const maps: MapLoadReport[] = [];
        try {
          for (const b of built) {
            const t = process.hrtime.bigint();
            this.#swap(b.kind, b.li.image, b.inner);
            maps.push({
              name: b.li.image.name,
              ...(b.li.image.endpoint ? { endpoint: b.li.image.endpoint } : {}),
              ...(b.li.image.endpointId !== undefined ? { endpointId: b.li.image.endpointId } : {}),
              entries: b.li.image.entries,
              loadMs: b.loadMs,
              swapMs: elapsed(t),
            });
          }
        } finally {
          release();
        }
        return { maps, timings: { validateMs, loadMs, swapMs: elapsed(ts), totalMs: elapsed(t0) } };
      },
      discard: () => {
        if (!done) release();
      },
    };
  }

  #swap(kind: ImageKind, image: MapImage, inner: BpfMap): void {
    if (kind === 'policy') this.maps.policy.setInner(image.endpointId!, inner);
    else if (kind === 'ipcache') this.maps.ipcache.setInner(0, inner);
    else this.maps.prefilter.setInner(0, inner);
  }

  /** Puts an already built inner map in a policy slot (for callers that build ahead, e.g. the swap benchmark). */
  swapPolicy(endpointId: number, inner: BpfMap): void {
    this.maps.policy.setInner(endpointId, inner);
  }

  /** Removes an endpoint's policy slot: its traffic then meets default deny where enforced. */
  removePolicy(endpointId: number): boolean {
    return this.maps.policy.delete(endpointId);
  }

  /** Subscribes to drop and audit events (decoded). */
  events(onEvent: (e: NetEvent) => void): RingBuffer {
    return new RingBuffer(this.maps.events, (b) => onEvent(decodeNetEvent(b)));
  }

  /** Counters summed over CPUs. */
  stats(): { allowed: number; dropped: number; audited: number; redirected: number; eventsLost: number; prefiltered: number } {
    const counter = (i: number) => {
      const v = this.maps.stats.lookup(i);
      return v ? sumPerCpu(v, 8) : 0; // one __u64 per CPU
    };
    return {
      allowed: counter(WEIR_STAT_ALLOWED),
      dropped: counter(WEIR_STAT_DROPPED),
      audited: counter(WEIR_STAT_AUDITED),
      redirected: counter(WEIR_STAT_REDIRECTED),
      eventsLost: counter(WEIR_STAT_EVENTS_LOST),
      prefiltered: counter(WEIR_STAT_PREFILTERED),
    };
  }

  close(): void {
    for (const o of this.#objects) o.close();
    for (const m of Object.values(this.maps)) m.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function openOwnedPin(path: string): BpfMap {
  const m = BpfMap.openPinned(path);
  const fdinfo = readFileSync(`/proc/self/fdinfo/${m.fd}`, 'utf8');
  if (!/^map_type:/m.test(fdinfo)) {
    m.close();
    throw new BpfError(`open pinned ${path}`, 22, [], 'the pinned object is not a map; remove it or use another pin directory');
  }
  return m;
}

function shapeMismatch(have: BpfMap, want: BpfMap): string | undefined {
  if (have.type !== want.type || have.keySize !== want.keySize || have.valueSize !== want.valueSize || have.maxEntries !== want.maxEntries)
    return `the pinned map is a ${have.type} (key ${have.keySize}, value ${have.valueSize}, max ${have.maxEntries}), expected a ${want.type} (key ${want.keySize}, value ${want.valueSize}, max ${want.maxEntries})`;
  return undefined;
}
