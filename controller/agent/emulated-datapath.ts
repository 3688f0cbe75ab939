// The emulated datapath: the agent's map images in weir's model of the network datapath
// (compiler/verify/network-emulator.ts), which answers a flow as the endpoint programs would: the
// source endpoint's egress lookup, then the destination endpoint's ingress lookup. An apply builds
// the complete new model first and puts it in force with one assignment, the emulator's counterpart
// of the map-in-map slot swap; images unchanged since the last apply are not decoded again.
import { formatAddress, parseAddress } from '../../compiler/model/cidr.js';
import {
  DatapathEmulator,
  type EmulatedEndpoint,
  type EmulatedVerdict,
  type LearnedAddress,
} from '../../compiler/verify/network-emulator.js';
import { WEIR_DIR_EGRESS, WEIR_DIR_INGRESS, WEIR_EP_EGRESS_ENFORCED, WEIR_EP_INGRESS_ENFORCED } from '../../bpf/abi/net.js';
import type { ApplyInput, ApplyReport, Datapath, Flow, NodeFeatures, Verdict } from './datapath.js';

const PROTO: Record<Flow['protocol'], number> = { TCP: 6, UDP: 17, ICMP: 1 };

interface State {
  digest: string | undefined;
  model: DatapathEmulator;
  /** This node's endpoints (those with a policy image) by canonical address. */
  endpointsByIp: Map<string, EmulatedEndpoint>;
}

/** An address in one spelling (IPv6 compressed), so that a flow finds its endpoint however it is written. */
function canonical(ip: string): string {
  const a = parseAddress(ip);
  return a ? formatAddress(a.family, a.addr) : ip;
}

export class EmulatorDatapath implements Datapath {
  readonly kind = 'emulator' as const;
  private state: State;

  constructor(private readonly node: string) {
    this.state = { digest: undefined, model: DatapathEmulator.fromImages(node, []), endpointsByIp: new Map() };
  }

  async features(): Promise<NodeFeatures> {
    return { datapath: 'emulator', btf: false, mapInMap: true, lpmTrie: true, hooks: [] };
  }

  current(): string | undefined {
    return this.state.digest;
  }

  async apply(input: ApplyInput): Promise<ApplyReport> {
    const t0 = performance.now();
    const model = DatapathEmulator.fromImages(this.node, input.images, input.tables, this.state.model);
    const rows = new Map(model.endpoints.map((e) => [e.endpoint, e]));
    const endpointsByIp = new Map<string, EmulatedEndpoint>();
    const maps: ApplyReport['maps'] = [];
    for (const { image } of input.images) {
      if (image.name === 'policy')
        for (const ip of rows.get(image.endpoint ?? '')?.ips ?? []) endpointsByIp.set(canonical(ip), rows.get(image.endpoint ?? '')!);
      maps.push({ name: image.name, ...(image.endpoint ? { endpoint: image.endpoint } : {}), entries: image.entries });
    }
    const t1 = performance.now();
    this.state = { digest: input.digest, model, endpointsByIp }; // the swap
    return { maps, timings: { loadMs: t1 - t0, swapMs: performance.now() - t1 } };
  }

  /** The identity the node's ipcache (learned addresses first) gives an address; world when none. */
  identityOf(ip: string): number {
    return this.state.model.identityOf(this.node, ip);
  }

  async verdict(flow: Flow): Promise<Verdict> {
    const { model, endpointsByIp } = this.state;
    const proto = PROTO[flow.protocol];
    const srcEp = endpointsByIp.get(canonical(flow.src));
    const dstEp = endpointsByIp.get(canonical(flow.dst));
    const egress = srcEp ? model.decide(srcEp, WEIR_DIR_EGRESS, this.identityOf(flow.dst), proto, flow.port) : undefined;
    if (srcEp && egress && drops(egress)) return denial(srcEp, 'egress', egress);
    const ingress = dstEp ? model.decide(dstEp, WEIR_DIR_INGRESS, this.identityOf(flow.src), proto, flow.port) : undefined;
    if (dstEp && ingress && drops(ingress)) return denial(dstEp, 'ingress', ingress);
    // Audit mode: the packet passes and the would-be drop is reported (Hubble's AUDIT verdict).
    if (srcEp && egress && audited(egress)) return auditPass(srcEp, 'egress', egress);
    if (dstEp && ingress && audited(ingress)) return auditPass(dstEp, 'ingress', ingress);
    // The allowing entry of the enforcing side (the destination's when both enforce) names the rule.
    const allowedBy =
      dstEp && dstEp.flags & WEIR_EP_INGRESS_ENFORCED ? ingress : srcEp && srcEp.flags & WEIR_EP_EGRESS_ENFORCED ? egress : undefined;
    return allowedBy?.entry
      ? { verdict: 'allow', reason: 'policy-allow', cookie: allowedBy.cookie }
      : { verdict: 'allow', reason: 'not-enforced' };
  }

  /** toFQDNs: the DNS proxy teaches an answered address (IPv4 or IPv6); it expires with the answer's TTL. */
  learnFqdn(ip: string, identity: number, ttlSeconds: number): void {
    this.state.model.learn(this.node, ip, identity, Date.now() + ttlSeconds * 1000);
  }

  /** Drops learned addresses whose TTL has passed; returns how many. */
  expireFqdn(now = Date.now()): number {
    return this.state.model.expire(now);
  }

  /** The addresses learned so far (until expireFqdn drops them). */
  learnedAddresses(): LearnedAddress[] {
    return this.state.model.learnedOn(this.node);
  }

  async close(): Promise<void> {
    this.state = { digest: undefined, model: DatapathEmulator.fromImages(this.node, []), endpointsByIp: new Map() };
  }

  toString(): string {
    return `emulator(${this.node})`;
  }
}

/** A drop the policy decides (a deny entry, or no entry where the direction is enforced), not audited. */
function drops(d: EmulatedVerdict): boolean {
  return d.verdict === 'deny';
}

/** A drop the policy would decide, let through because the endpoint or entry is in audit mode. */
function audited(d: EmulatedVerdict): boolean {
  return d.audit && (d.action === 'deny' || d.action === 'default-deny');
}

function auditPass(ep: EmulatedEndpoint, direction: 'ingress' | 'egress', d: EmulatedVerdict): Verdict {
  return {
    verdict: 'allow',
    endpoint: ep.endpoint,
    direction,
    reason: d.action === 'deny' ? 'policy-deny' : 'default-deny',
    audit: true,
    ...(d.action === 'deny' ? { cookie: d.cookie } : {}),
  };
}

function denial(ep: EmulatedEndpoint, direction: 'ingress' | 'egress', d: EmulatedVerdict): Verdict {
  return d.action === 'deny'
    ? { verdict: 'deny', endpoint: ep.endpoint, direction, reason: 'policy-deny', cookie: d.cookie }
    : { verdict: 'deny', endpoint: ep.endpoint, direction, reason: 'default-deny' };
}
