// Rule resolution, as Cilium's l4 policy: each parsed rule's subject selector becomes its endpoints,
// its peers (selectors, CIDRs, entities, services, FQDNs) become identity sets, and named ports
// become numbers on the destination (the endpoint for ingress, each peer for egress).
import type { Diagnostic } from '../../diagnostics.js';
import { ipBlockKey, reservedIdentities, type IdentityAllocation } from '../../identity/allocate.js';
import type { Inventory, Pod } from '../../inventory/model.js';
import { formatPrefix, hostPrefix, parseAddress, prefixContains } from '../../model/cidr.js';
import { matchesMap } from '../../model/selector.js';
import type { CompileCache } from './cache.js';
import type { CidrSpec, Entity, ParsedRule, PeerSpec, PortSpec } from './parse.js';
import type { WorkItem } from './repository.js';
import { fqdnRegex, type PodTables, type SelectorCache } from './selectorcache.js';
import type { FqdnSelector, IRRule, PortRange } from './types.js';
import { PROTO } from './types.js';

export interface ResolveContext {
  inv: Inventory;
  alloc: IdentityAllocation;
  tables: PodTables;
  selectors: SelectorCache;
  cache: CompileCache | undefined;
  /** Commit cited by findings in documents read from no revision. */
  commit: string | undefined;
  /** Findings of resolution (unknown named ports) are added here. */
  diagnostics: Diagnostic[];
}

/** The IR rules of every work item, in work order; a rule resolved against this allocation before is reused. */
export function resolveRules(work: readonly WorkItem[], ctx: ResolveContext): IRRule[] {
  const r = new Resolver(ctx);
  const { cache, alloc, diagnostics } = ctx;
  const rules: IRRule[] = [];
  for (const { pr, offset } of work) {
    const cookie = pr.origin.cookie + offset;
    const hit = cache?.resolved.get(pr);
    if (hit && hit.alloc === alloc) {
      for (const x of hit.rules) rules.push({ ...x, cookie });
      diagnostics.push(...hit.diagnostics);
      continue;
    }
    const r0 = rules.length;
    const d0 = diagnostics.length;
    r.resolveRule(pr, cookie, rules);
    cache?.resolved.set(pr, { alloc, rules: rules.slice(r0), diagnostics: diagnostics.slice(d0) });
  }
  return rules;
}

/** The FQDN selectors of the allocation with their regexes and the cookies of the rules naming them. */
export function fqdnSelectors(alloc: IdentityAllocation, work: readonly WorkItem[]): FqdnSelector[] {
  return [...alloc.fqdnIdentity].map(([selector, identity]) => ({
    selector,
    identity,
    regex: fqdnRegex(selector),
    cookies: [...new Set(work.filter((w) => w.pr.peer.fqdns.includes(selector)).map((w) => w.pr.origin.cookie + w.offset))],
  }));
}

const protoNum = (s: string): number => (s === 'UDP' ? PROTO.UDP : s === 'SCTP' ? PROTO.SCTP : PROTO.TCP);

class Resolver {
  private readonly entityCache = new Map<Entity, number[] | 'any'>();
  private readonly peerCache = new Map<PeerSpec, number[] | 'any'>();

  constructor(private readonly ctx: ResolveContext) {}

  private entityIds(e: Entity): number[] | 'any' {
    let r = this.entityCache.get(e);
    if (!r) this.entityCache.set(e, (r = this.entityIdsUncached(e)));
    return r;
  }

  private entityIdsUncached(e: Entity): number[] | 'any' {
    const R = reservedIdentities;
    const { alloc } = this.ctx;
    const { cidrIds, endpointIds } = this.ctx.tables;
    switch (e) {
      case 'all':
        return 'any';
      case 'none':
        return [];
      case 'world':
        return [R.world, R['world-ipv4'], R['world-ipv6'], ...cidrIds.map((i) => i.id), ...alloc.fqdnIdentity.values()];
      case 'world-ipv4':
        return [R['world-ipv4'], R.world, ...cidrIds.filter((i) => i.prefix!.family === 4).map((i) => i.id)];
      case 'world-ipv6':
        return [R['world-ipv6'], R.world, ...cidrIds.filter((i) => i.prefix!.family === 6).map((i) => i.id)];
      case 'cluster':
        return [R.host, R['remote-node'], R.health, R.init, R.unmanaged, R['kube-apiserver'], R.ingress, ...endpointIds.map((i) => i.id)];
      default:
        return [R[e]];
    }
  }

  private cidrIdentities(c: CidrSpec): number[] {
    const out: number[] = [];
    for (const i of this.ctx.tables.cidrIds)
      if (prefixContains(c.prefix, i.prefix!) && !c.except.some((x) => prefixContains(x, i.prefix!))) out.push(i.id);
    // A NetworkPolicy ipBlock also selects the pods inside it (their identities were refined to lie wholly inside or outside).
    if (c.pods) out.push(...(this.ctx.alloc.ipBlockMembers.get(ipBlockKey(c)) ?? []));
    if (c.prefix.bits === 0)
      out.push(
        reservedIdentities.world,
        c.prefix.family === 4 ? reservedIdentities['world-ipv4'] : reservedIdentities['world-ipv6'],
        ...this.ctx.alloc.fqdnIdentity.values(),
      );
    return out;
  }

  private resolvePeers(p: PeerSpec): number[] | 'any' {
    let r = this.peerCache.get(p);
    if (!r) this.peerCache.set(p, (r = this.resolvePeersUncached(p)));
    return r;
  }

  private resolvePeersUncached(p: PeerSpec): number[] | 'any' {
    if (p.any || p.entities.includes('all')) return 'any';
    const { inv, alloc, selectors } = this.ctx;
    const ids = new Set<number>();
    for (const s of p.selectors) for (const id of selectors.identities(s)) ids.add(id);
    for (const c of p.cidrs) for (const id of this.cidrIdentities(c)) ids.add(id);
    for (const e of p.entities) for (const id of this.entityIds(e) as number[]) ids.add(id);
    for (const f of p.fqdns) ids.add(alloc.fqdnIdentity.get(f)!);
    for (const s of p.services) {
      const svcs = inv.services.filter(
        (x) => x.namespace === s.namespace && (s.name ? x.name === s.name : s.selector ? matchesMap(s.selector, x.labels) : false),
      );
      for (const svc of svcs) {
        if (svc.selector) {
          for (const pod of inv.pods)
            if (pod.namespace === svc.namespace && Object.entries(svc.selector).every(([k, v]) => pod.labels[k] === v))
              ids.add(alloc.podIdentity.get(`${pod.namespace}/${pod.name}`)!);
        } else
          for (const ip of svc.backendIPs) {
            const a = parseAddress(ip);
            if (a) ids.add(alloc.cidrIdentity.get(formatPrefix(hostPrefix(a.family, a.addr)))!);
          }
      }
    }
    return [...ids].sort((a, b) => a - b);
  }

  resolveRule(pr: ParsedRule, cookie: number, rules: IRRule[]): void {
    const { inv, tables, selectors } = this.ctx;
    const subjects = selectors.subjects(pr.subject);
    const peers = this.resolvePeers(pr.peer);
    const base = { cookie, direction: pr.direction, deny: pr.deny, audit: pr.audit, auth: pr.auth, ...(pr.l7 ? { l7: pr.l7 } : {}) };
    if (!pr.ports) {
      rules.push({ ...base, subjects, peers });
      return;
    }
    const numeric: PortRange[] = [];
    const named: PortSpec[] = [];
    for (const ps of pr.ports) {
      if (typeof ps.port === 'string') named.push(ps);
      else
        for (const protocol of ps.protocols)
          numeric.push(
            ps.port === 0
              ? { protocol, lo: 0, hi: protocol === PROTO.ICMP || protocol === PROTO.ICMPV6 ? 255 : 65535 }
              : { protocol, lo: ps.port, hi: ps.endPort ?? ps.port },
          );
    }
    // A port name no pod declares matches nothing, as in Kubernetes and Cilium (`weir lint` warns: network/named-port-undeclared).
    if (named.length === 0) {
      rules.push({ ...base, subjects, peers, ports: numeric });
      return;
    }
    // Named ports resolve on the destination: the endpoint itself for ingress, each peer for egress.
    const resolveOn = (pods: readonly Pod[]): PortRange[] => {
      const out: PortRange[] = [];
      for (const ps of named)
        for (const pod of pods)
          for (const np of pod.ports)
            if (np.name === ps.port && ps.protocols.includes(protoNum(np.protocol)))
              out.push({ protocol: protoNum(np.protocol), lo: np.port, hi: np.port });
      return out;
    };
    const groups = new Map<string, { ports: PortRange[]; subjects: string[]; peers: number[] | 'any' }>();
    const add = (ports: PortRange[], subj: string[], peer: number[] | 'any') => {
      const uniq = dedupeRanges([...numeric, ...ports]);
      const k = JSON.stringify(uniq) + (pr.direction === 'ingress' ? '' : JSON.stringify(peer));
      const g = groups.get(k);
      if (!g) groups.set(k, { ports: uniq, subjects: subj, peers: peer });
      else if (pr.direction === 'ingress') g.subjects.push(...subj);
    };
    if (pr.direction === 'ingress') {
      for (const s of subjects) add(resolveOn([inv.pods[tables.podIndex.get(s)!]!]), [s], peers);
    } else if (peers === 'any' && pr.doc.kind === 'NetworkPolicy') {
      // Kubernetes resolves a name on each destination pod (a named port is a port of the pod): an
      // egress rule to any peer allows it only towards pods that declare it, at their own number,
      // never towards addresses outside the cluster; its numeric ports go to any peer.
      if (numeric.length > 0) rules.push({ ...base, subjects, peers: 'any', ports: dedupeRanges(numeric) });
      for (const { ports, ids } of this.byNamedPorts(
        [...tables.podsByIdentity.keys()].sort((a, b) => a - b),
        resolveOn,
      ))
        if (ports.length > 0) rules.push({ ...base, subjects, peers: ids, ports });
    } else if (peers === 'any') add(resolveOn(inv.pods), subjects, 'any');
    else for (const { ports, ids } of this.byNamedPorts(peers, resolveOn)) add(ports, subjects, ids);
    for (const g of groups.values())
      if (g.ports.length > 0 && g.subjects.length > 0) rules.push({ ...base, subjects: g.subjects, peers: g.peers, ports: g.ports });
  }

  /** Peer identities grouped by the ports their pods give the rule's names. */
  private byNamedPorts(ids: readonly number[], resolveOn: (pods: readonly Pod[]) => PortRange[]): { ports: PortRange[]; ids: number[] }[] {
    const byPorts = new Map<string, { ports: PortRange[]; ids: number[] }>();
    for (const id of ids) {
      const ports = dedupeRanges(resolveOn(this.ctx.tables.podsByIdentity.get(id) ?? []));
      const k = JSON.stringify(ports);
      const e = byPorts.get(k);
      if (e) e.ids.push(id);
      else byPorts.set(k, { ports, ids: [id] });
    }
    return [...byPorts.values()];
  }
}

function dedupeRanges(r: PortRange[]): PortRange[] {
  const m = new Map<string, PortRange>();
  for (const x of r) m.set(`${x.protocol}/${x.lo}/${x.hi}`, x);
  return [...m.values()].sort((a, b) => a.protocol - b.protocol || a.lo - b.lo || a.hi - b.hi);
}
