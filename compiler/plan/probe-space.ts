// Every value that can split the probe space, read from the IR after resolution (what lowering
// writes into map keys), not from the policy text: port ranges of the rules, the prefixes of
// every CIDR identity (toCIDR, CIDR sets and their exceptions, cidrGroupRef, ipBlock), FQDN
// selectors and the reserved entities rules name. Probing one representative per resulting
// class is exact for the compiled policies.
import type { IdentityKind } from '../identity/allocate.js';
import { reservedIdentities } from '../identity/allocate.js';
import { formatPrefix, parsePrefix } from '../model/cidr.js';
import type { NetworkIR } from '../ir/network/types.js';
import { PROTO } from '../ir/network/types.js';
import type { PortRange } from './connset.js';
import { addressSpace, cidrRange, compareBig, type AddressRange, type IpRangePeer } from './peers.js';

export interface ProbeSpace {
  ports: PortRange[];
  cidrs: string[];
  fqdns: string[];
  entities: string[];
}

/** Entities that stand for address space (probed as external ranges, not as entity peers). */
const entityIsAddressSpace = new Set(['world', 'world-ipv4', 'world-ipv6']);

/** What each identity kind adds to the probe space; `satisfies` makes a new kind a compile error here. */
const contributes = {
  reserved: 'entity',
  endpoint: 'workload',
  cidr: 'prefix',
  fqdn: 'fqdn',
} as const satisfies Record<IdentityKind, 'entity' | 'workload' | 'prefix' | 'fqdn'>;

export const probeSpaceKinds: Readonly<Record<IdentityKind, string>> = contributes;

const spaces = new WeakMap<NetworkIR, ProbeSpace>();

/**
 * The probe space of a compiled revision. `namedPorts` adds the container ports the inventory
 * declares (named ports resolve to them per destination pod).
 */
export function probeSpaceOf(ir: NetworkIR, namedPorts: Iterable<number> = []): ProbeSpace {
  let s = spaces.get(ir);
  if (!s) {
    const ports: PortRange[] = [];
    const seenPorts = new Set<string>();
    const peerIds = new Set<number>();
    for (const r of ir.rules) {
      if (r.peers !== 'any') for (const id of r.peers) peerIds.add(id);
      for (const p of r.ports ?? []) {
        // ICMP types are their own protocol's classes; they never split TCP/UDP/SCTP ports.
        if (p.protocol === PROTO.ICMP || p.protocol === PROTO.ICMPV6) continue;
        const k = `${p.lo}-${p.hi}`;
        if (seenPorts.has(k)) continue;
        seenPorts.add(k);
        ports.push({ lo: p.lo, hi: p.hi });
      }
    }
    const cidrs = new Set<string>();
    const fqdns = new Set<string>();
    const entities = new Set<string>();
    for (const id of ir.identities) {
      switch (contributes[id.kind]) {
        case 'prefix':
          // Every CIDR identity, also those only written as an `except`: its boundary splits the range.
          if (id.prefix) cidrs.add(formatPrefix(id.prefix));
          break;
        case 'fqdn':
          if (id.fqdnSelector)
            fqdns.add(
              id.fqdnSelector
                .replace(/^match(Name|Pattern):/, '')
                .toLowerCase()
                .replace(/\.$/, ''),
            );
          break;
        case 'entity':
          if (peerIds.has(id.id)) for (const name of id.reserved) if (!entityIsAddressSpace.has(name)) entities.add(name);
          break;
        case 'workload':
          break; // pods are peers of their own (every workload of the inventory)
      }
    }
    s = { ports, cidrs: [...cidrs].sort(), fqdns: [...fqdns].sort(), entities: [...entities].sort() };
    spaces.set(ir, s);
  }
  const extra = [...namedPorts];
  if (extra.length === 0) return s;
  return { ...s, ports: [...extra.map((p) => ({ lo: p, hi: p })), ...s.ports] };
}

const directional = new WeakMap<NetworkIR, { ingress: IpRangePeer[]; egress: IpRangePeer[] }>();

/**
 * The external address ranges np-guard lists, per direction: sources cut where the set of ingress
 * rules whose peers hold the address changes, destinations likewise for egress rules. An address
 * is held by the identity the ipcache gives it (the longest CIDR prefix, else world), so an
 * ipBlock with exceptions cuts at its own edges only, as np-guard's disjoint IP blocks do, and
 * neighbouring ranges always differ in some rule. The IPv6 space is listed when some CIDR
 * identity is IPv6.
 */
export function directionalRanges(ir: NetworkIR): { ingress: IpRangePeer[]; egress: IpRangePeer[] } {
  const hit = directional.get(ir);
  if (hit) return hit;
  const cidrIds = new Set(ir.identities.filter((i) => i.kind === 'cidr').map((i) => i.id));
  const prefixes = { 4: [] as Painted[], 6: [] as Painted[] };
  for (const e of ir.ipcache) {
    if (!cidrIds.has(e.identity)) continue;
    const r = cidrRange(e.prefix);
    const p = parsePrefix(e.prefix);
    if (r && p) prefixes[r.family].push({ ...r, bits: p.bits, id: e.identity });
  }
  const painted = { 4: paint(prefixes[4], 4), 6: prefixes[6].length ? paint(prefixes[6], 6) : undefined };
  const ranges = (direction: 'ingress' | 'egress'): IpRangePeer[] => {
    const rulesOf = new Map<number, string>();
    const sig = (id: number): string => {
      let s = rulesOf.get(id);
      if (s === undefined) {
        const l: number[] = [];
        ir.rules.forEach((r, i) => {
          if (r.direction === direction && r.peers !== 'any' && r.peers.includes(id)) l.push(i);
        });
        rulesOf.set(id, (s = l.join(',')));
      }
      return s;
    };
    const out: IpRangePeer[] = [];
    for (const family of [4, 6] as const) {
      const pf = painted[family];
      if (!pf) continue;
      const { bounds, ids } = pf;
      let last: IpRangePeer | undefined;
      for (let i = 0; i < ids.length; i++) {
        if (last && sig(ids[i - 1]!) === sig(ids[i]!)) last.end = bounds[i + 1]! - 1n;
        else out.push((last = { type: 'ip', family, start: bounds[i]!, end: bounds[i + 1]! - 1n }));
      }
    }
    return out;
  };
  const r = { ingress: ranges('ingress'), egress: ranges('egress') };
  directional.set(ir, r);
  return r;
}

interface Painted extends AddressRange {
  bits: number;
  id: number;
}

/** The identity of each elementary interval of a family's space: shorter prefixes painted first, longer ones over them. */
function paint(prefixes: Painted[], family: 4 | 6): { bounds: bigint[]; ids: number[] } {
  const cuts = new Set<bigint>([0n, addressSpace(family)]);
  for (const p of prefixes) cuts.add(p.start).add(p.end + 1n);
  const bounds = [...cuts].sort(compareBig);
  const ids = new Array<number>(bounds.length - 1).fill(reservedIdentities.world);
  const at = new Map(bounds.map((b, i) => [b, i]));
  for (const p of [...prefixes].sort((a, b) => a.bits - b.bits)) for (let i = at.get(p.start)!; i < at.get(p.end + 1n)!; i++) ids[i] = p.id;
  return { bounds, ids };
}
