// Equivalence classes of (endpoint, direction, peer identity, protocol, port): within a class
// every packet gets the same verdict, because no rule or map entry has a boundary inside it.
// Classes come from the policies' own values (rule port ranges, peer identities) and from the
// images' entries, plus one identity no rule names ("any other peer").
import type { ReadBundle } from '../bundle/io.js';
import type { NetworkIR } from '../ir/network/types.js';
import { PROTO } from '../ir/network/types.js';
import { formatAddress, parsePrefix } from '../model/cidr.js';
import { DatapathEmulator, type EmulatedEndpoint } from './network-emulator.js';

export interface EquivalenceClass {
  endpoint: string;
  endpointId: number;
  node: string;
  direction: 'ingress' | 'egress';
  peerIdentity: number;
  /** An address the node's ipcache maps to peerIdentity (undefined for FQDN identities, learnt at run time). */
  peerAddress?: string;
  protocol: number;
  port: number;
  /** The verdict the datapath must give (from the emulator over the images). */
  expected: 'allow' | 'deny';
  action: 'allow' | 'deny' | 'redirect' | 'default-deny' | 'not-enforced' | 'exempt';
  audit: boolean;
  cookie: number;
  /** For redirect: the policy value's proxy_port (the L7 rule set id). */
  proxyPort?: number;
}

/** Protocols probed: the L4 ones policies name, ICMP, and one protocol no rule names (GRE). */
export const probedProtocols = [PROTO.TCP, PROTO.UDP, PROTO.SCTP, PROTO.ICMP, PROTO.ICMPV6, 47];

export interface ClassSpace {
  identities: number[];
  ports: Map<number, number[]>;
}

function addBoundary(ports: Map<number, Set<number>>, proto: number, lo: number, hi: number): void {
  const s = ports.get(proto) ?? new Set<number>([0, 1, 65535]);
  for (const p of [lo - 1, lo, hi, hi + 1]) if (p >= 0 && p <= 65535) s.add(p);
  ports.set(proto, s);
}

/** The probe points for one endpoint: identities and per-protocol ports. */
export function classSpace(
  entries: { identity: number; protocol: number; port: number; prefixlen: number }[],
  extraIdentities: number[],
  extraRanges: { protocol: number; lo: number; hi: number }[],
  sentinel: number,
): ClassSpace {
  const ids = new Set<number>([sentinel, 1, 2, ...extraIdentities]);
  const ports = new Map<number, Set<number>>();
  for (const p of probedProtocols) ports.set(p, new Set([0, 1, 8, 80, 65535]));
  for (const e of entries) {
    if (e.identity !== 0) ids.add(e.identity);
    if (e.prefixlen > 48) {
      const size = 2 ** (64 - e.prefixlen);
      addBoundary(ports, e.protocol, e.port, e.port + size - 1);
    }
  }
  for (const r of extraRanges) addBoundary(ports, r.protocol, r.lo, r.hi);
  return { identities: [...ids].sort((a, b) => a - b), ports: new Map([...ports].map(([k, v]) => [k, [...v].sort((a, b) => a - b)])) };
}

/** An address that the node's ipcache maps to `identity`, found by probing the emulator. */
export function addressFor(emu: DatapathEmulator, node: string, identity: number, candidates: Map<number, string[]>): string | undefined {
  for (const a of candidates.get(identity) ?? []) if (emu.identityOf(node, a) === identity) return a;
  return undefined;
}

/** Candidate addresses per identity from the bundle's tables and ipcache prefixes. */
export function addressCandidates(bundle: Pick<ReadBundle, 'manifest' | 'blob' | 'table'>, emu: DatapathEmulator): Map<number, string[]> {
  const m = new Map<number, string[]>();
  const add = (id: number, a: string) => {
    const l = m.get(id) ?? [];
    l.push(a);
    m.set(id, l);
  };
  for (const e of emu.endpoints) for (const ip of e.ips) add(e.identity, ip);
  const ids = bundle.table<{ identity: number; kind: string; labels: string[] }[]>('identities') ?? [];
  for (const i of ids)
    for (const l of i.labels)
      if (l.startsWith('cidr:')) {
        const p = parsePrefix(l.slice(5));
        if (!p) continue;
        // First, last and middle addresses: one of them is not shadowed by a longer prefix.
        const last = Uint8Array.from(p.addr);
        for (let bit = p.bits; bit < p.addr.length * 8; bit++) last[bit >> 3] = last[bit >> 3]! | (0x80 >> (bit & 7));
        const mid = Uint8Array.from(p.addr);
        if (p.bits < p.addr.length * 8) mid[p.bits >> 3] = mid[p.bits >> 3]! | (0x80 >> (p.bits & 7));
        add(i.identity, formatAddress(p.family, p.addr));
        add(i.identity, formatAddress(p.family, mid));
        add(i.identity, formatAddress(p.family, last));
      }
  for (const w of ['198.51.100.77', '192.0.2.77', '100.64.0.77', '2001:db8::77']) add(2, w);
  return m;
}

/** Classes of every endpoint in a bundle, with the verdict the images give (for kernel replay). */
export function bundleClasses(bundle: Pick<ReadBundle, 'manifest' | 'blob' | 'table'>, ir?: NetworkIR): EquivalenceClass[] {
  const emu = new DatapathEmulator(bundle);
  const cands = addressCandidates(bundle, emu);
  // Node addresses: host on their own node, remote-node elsewhere.
  const nodeIps = new Map<string, string[]>();
  if (ir) for (const e of ir.ipcache) if (e.node) nodeIps.set(e.node, [...(nodeIps.get(e.node) ?? []), e.prefix.split('/')[0]!]);
  const sentinel = 0xfffff0;
  const out: EquivalenceClass[] = [];
  for (const n of bundle.manifest.nodes)
    for (const m of n.maps) {
      if (m.name !== 'policy' || !m.endpoint) continue;
      const ep = emu.endpoints.find((e) => e.endpoint === m.endpoint && e.node === n.node);
      if (!ep) continue;
      out.push(...endpointClasses(emu, ep, cands, nodeIps, sentinel, ir));
    }
  return out;
}

export function endpointClasses(
  emu: DatapathEmulator,
  ep: EmulatedEndpoint,
  cands: Map<number, string[]>,
  nodeIps: Map<string, string[]>,
  sentinel: number,
  ir?: NetworkIR,
): EquivalenceClass[] {
  const entries = emu.entriesOf(ep);
  const extraIds: number[] = [];
  const extraRanges: { protocol: number; lo: number; hi: number }[] = [];
  if (ir)
    for (const r of ir.rules)
      if (r.subjects.includes(ep.endpoint)) {
        if (r.peers !== 'any') extraIds.push(...r.peers);
        for (const p of r.ports ?? []) extraRanges.push(p);
      }
  const space = classSpace(entries, extraIds, extraRanges, sentinel);
  const out: EquivalenceClass[] = [];
  for (const [direction, dnum] of [
    ['ingress', 0],
    ['egress', 1],
  ] as const)
    for (const peer of space.identities) {
      let peerAddress: string | undefined;
      if (peer === 1) peerAddress = nodeIps.get(ep.node)?.[0];
      else if (peer === 6) peerAddress = [...nodeIps].find(([n]) => n !== ep.node)?.[1][0];
      else peerAddress = addressFor(emu, ep.node, peer === sentinel ? 2 : peer, cands);
      for (const [protocol, ports] of space.ports)
        for (const port of ports) {
          const d = emu.decide(ep, dnum, peer, protocol, port);
          out.push({
            endpoint: ep.endpoint,
            endpointId: ep.endpointId,
            node: ep.node,
            direction,
            peerIdentity: peer,
            ...(peerAddress && peer !== sentinel ? { peerAddress } : {}),
            protocol,
            port,
            expected: d.verdict,
            action: d.action,
            audit: d.audit,
            cookie: d.cookie,
            ...(d.action === 'redirect' && d.entry ? { proxyPort: d.entry.value.proxyPort } : {}),
          });
        }
    }
  return out;
}
