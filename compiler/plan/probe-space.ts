// Every value that can split the probe space, read from the IR after resolution (what lowering
// writes into map keys), not from the policy text: port ranges of the rules, the prefixes of
// every CIDR identity (toCIDR, CIDR sets and their exceptions, cidrGroupRef, ipBlock), FQDN
// selectors and the reserved entities rules name. Probing one representative per resulting
// class is exact for the compiled policies.
import type { IdentityKind } from '../identity/allocate.js';
import { formatPrefix } from '../model/cidr.js';
import type { NetworkIR } from '../ir/network/types.js';
import { PROTO } from '../ir/network/types.js';
import type { PortRange } from './connset.js';

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
          if (id.fqdnSelector) fqdns.add(id.fqdnSelector.replace(/^match(Name|Pattern):/, '').toLowerCase().replace(/\.$/, ''));
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
