// The emulator datapath: keeps the map images in memory, decoded from the weir_net.h layouts,
// and answers verdicts the way the BPF program looks them up: ipcache LPM for identities, then
// the endpoint's policy LPM trie for the peer identity and for "any" (0); deny wins, then
// precedence, then the longer prefix; an enforced direction with no match is a default deny.
// An apply builds the complete new state first and replaces it with one assignment, the
// emulator's counterpart of the map-in-map slot swap.
import type { MapImage } from '../../compiler/bundle/types.js';
import type { ApplyInput, ApplyReport, Datapath, Flow, NodeFeatures, Verdict } from './datapath.js';

interface PolicyRecord {
  prefixlen: number;
  identity: number;
  direction: number;
  protocol: number;
  port: number;
  verdict: number;
  flags: number;
  precedence: number;
  cookie: number;
}

interface EndpointState {
  endpoint: string;
  endpointId: number;
  identity: number;
  flags: number;
  ips: string[];
  policy: PolicyRecord[];
}

interface State {
  digest: string;
  ipcache: { prefixlen: number; addr: number; identity: number }[];
  endpointsByIp: Map<string, EndpointState>;
}

const PROTO: Record<Flow['protocol'], number> = { TCP: 6, UDP: 17, ICMP: 1 };

function records(img: MapImage, bytes: Buffer): [Buffer, Buffer][] {
  const size = img.keySize + img.valueSize;
  if (bytes.length !== size * img.entries) throw new Error(`map image ${img.name}${img.endpoint ? ` (${img.endpoint})` : ''} is ${bytes.length} bytes; ${img.entries} records of ${size} bytes expected`);
  const out: [Buffer, Buffer][] = [];
  for (let o = 0; o < bytes.length; o += size) out.push([bytes.subarray(o, o + img.keySize), bytes.subarray(o + img.keySize, o + size)]);
  return out;
}

/** Decoding depends on the bytes and the sizes the manifest declares (checked on decode). */
const imageKey = (img: MapImage) => `${img.digest}/${img.keySize}/${img.valueSize}/${img.entries}`;

export function decodePolicy(img: MapImage, bytes: Buffer): PolicyRecord[] {
  if (img.keySize !== 12 || img.valueSize !== 16) throw new Error(`policy image has key/value sizes ${img.keySize}/${img.valueSize}; weir_net.h says 12/16`);
  return records(img, bytes).map(([k, v]) => ({
    prefixlen: k.readUInt32LE(0),
    identity: k.readUInt32LE(4),
    direction: k.readUInt8(8),
    protocol: k.readUInt8(9),
    port: k.readUInt16BE(10),
    verdict: v.readUInt8(0),
    flags: v.readUInt8(2),
    precedence: v.readUInt32LE(8),
    cookie: v.readUInt32LE(12),
  }));
}

export function decodeIpcache(img: MapImage, bytes: Buffer): State['ipcache'] {
  if (img.keySize !== 24 || img.valueSize !== 8) throw new Error(`ipcache image has key/value sizes ${img.keySize}/${img.valueSize}; weir_net.h says 24/8`);
  return records(img, bytes)
    .filter(([k]) => k.readUInt8(4) === 4)
    .map(([k, v]) => ({ prefixlen: k.readUInt32LE(0) - 32, addr: k.readUInt32BE(8), identity: v.readUInt32LE(0) }));
}

function ipv4(ip: string): number {
  const p = ip.split('.').map(Number);
  return (((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0);
}

function lookupPolicy(policy: PolicyRecord[], peer: number, direction: number, protocol: number, port: number): PolicyRecord | undefined {
  let best: PolicyRecord | undefined;
  for (const r of policy) {
    if (r.direction !== direction || (r.identity !== peer && r.identity !== 0)) continue;
    if (r.prefixlen > 40 && r.protocol !== protocol) continue;
    if (r.prefixlen > 48) {
      const bits = r.prefixlen - 48;
      const mask = bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff;
      if ((r.port & mask) !== (port & mask)) continue;
    }
    if (!best) best = r;
    else if (r.verdict === 1 && best.verdict !== 1) best = r;
    else if ((r.verdict === 1) === (best.verdict === 1) && (r.precedence > best.precedence || (r.precedence === best.precedence && r.prefixlen > best.prefixlen))) best = r;
  }
  return best;
}

export class EmulatorDatapath implements Datapath {
  readonly kind = 'emulator' as const;
  private state: State | undefined;
  private decoded = new Map<string, unknown>();
  /** Extra ipcache entries learned at run time (toFQDNs), by address, with expiry. */
  readonly learned = new Map<string, { identity: number; expires: number }>();

  constructor(private readonly node: string) {}

  async features(): Promise<NodeFeatures> {
    return { datapath: 'emulator', btf: false, mapInMap: true, lpmTrie: true, hooks: [] };
  }

  current(): string | undefined {
    return this.state?.digest;
  }

  async apply(input: ApplyInput): Promise<ApplyReport> {
    const t0 = performance.now();
    const endpointsTable = (input.tables.get('endpoints') ?? []) as { endpoint: string; endpointId: number; identity: number; flags: number; ips: string[]; node: string }[];
    let ipcache: State['ipcache'] = [];
    const endpointsByIp = new Map<string, EndpointState>();
    const maps: ApplyReport['maps'] = [];
    const rows = new Map(endpointsTable.map((e) => [e.endpoint, e]));
    // Decoded images by digest: an update decodes only the images that changed.
    const decoded = new Map<string, unknown>();
    const decode = <T>(digest: string, f: () => T): T => {
      const v = (this.decoded.get(digest) as T | undefined) ?? f();
      decoded.set(digest, v);
      return v;
    };
    for (const { image, bytes } of input.images) {
      if (image.name === 'ipcache') {
        ipcache = decode(imageKey(image), () => decodeIpcache(image, bytes));
      } else if (image.name === 'policy') {
        const ep = rows.get(image.endpoint ?? '');
        if (!ep) throw new Error(`policy image for ${image.endpoint ?? '?'} has no row in the endpoints table`);
        const st: EndpointState = { endpoint: ep.endpoint, endpointId: ep.endpointId, identity: ep.identity, flags: ep.flags, ips: ep.ips, policy: decode(imageKey(image), () => decodePolicy(image, bytes)) };
        for (const ip of ep.ips) endpointsByIp.set(ip, st);
      }
      maps.push({ name: image.name, ...(image.endpoint ? { endpoint: image.endpoint } : {}), entries: image.entries });
    }
    const t1 = performance.now();
    this.state = { digest: input.digest, ipcache, endpointsByIp }; // the swap
    this.decoded = decoded;
    return { maps, timings: { loadMs: t1 - t0, swapMs: performance.now() - t1 } };
  }

  identityOf(ip: string): number {
    const l = this.learned.get(ip);
    if (l && l.expires > Date.now()) return l.identity;
    const a = ipv4(ip);
    let best: { prefixlen: number; identity: number } | undefined;
    for (const e of this.state?.ipcache ?? []) {
      const mask = e.prefixlen === 0 ? 0 : (0xffffffff << (32 - e.prefixlen)) >>> 0;
      if (((a & mask) >>> 0) === ((e.addr & mask) >>> 0) && (!best || e.prefixlen > best.prefixlen)) best = e;
    }
    return best?.identity ?? 2; // world
  }

  async verdict(flow: Flow): Promise<Verdict> {
    const proto = PROTO[flow.protocol];
    const srcEp = this.state?.endpointsByIp.get(flow.src);
    const dstEp = this.state?.endpointsByIp.get(flow.dst);
    const srcId = this.identityOf(flow.src);
    const dstId = this.identityOf(flow.dst);
    const check = (ep: EndpointState, dir: number, peer: number): Verdict | undefined => {
      const enforced = ep.flags & (dir === 0 ? 1 : 2);
      const direction = dir === 0 ? 'ingress' : 'egress';
      const hit = lookupPolicy(ep.policy, peer, dir, proto, flow.port);
      if (hit && hit.verdict === 1) return { verdict: 'deny', endpoint: ep.endpoint, direction, reason: 'policy-deny', cookie: hit.cookie };
      if (!enforced) return undefined;
      if (!hit) return { verdict: 'deny', endpoint: ep.endpoint, direction, reason: 'default-deny' };
      return undefined;
    };
    const egress = srcEp ? check(srcEp, 1, dstId) : undefined;
    if (egress) return egress;
    const ingress = dstEp ? check(dstEp, 0, srcId) : undefined;
    if (ingress) return ingress;
    const allowedBy = dstEp && dstEp.flags & 1 ? lookupPolicy(dstEp.policy, srcId, 0, proto, flow.port) : srcEp && srcEp.flags & 2 ? lookupPolicy(srcEp.policy, dstId, 1, proto, flow.port) : undefined;
    return allowedBy ? { verdict: 'allow', reason: 'policy-allow', cookie: allowedBy.cookie } : { verdict: 'allow', reason: 'not-enforced' };
  }

  /** toFQDNs: the DNS proxy teaches an answered address; it expires with the answer's TTL. */
  learnFqdn(ip: string, identity: number, ttlSeconds: number): void {
    this.learned.set(ip, { identity, expires: Date.now() + ttlSeconds * 1000 });
  }

  /** Drops learned addresses whose TTL has passed; returns how many. */
  expireFqdn(now = Date.now()): number {
    let n = 0;
    for (const [ip, l] of this.learned) if (l.expires <= now) (this.learned.delete(ip), n++);
    return n;
  }

  async close(): Promise<void> {
    this.state = undefined;
  }

  toString(): string {
    return `emulator(${this.node})`;
  }
}
