// The reference evaluator: answers a flow straight from the IR rules, with Cilium's resolution
// rules (deny wins; an allow without L7 beats an L7 redirect on the same peer and port; a
// direction with no matching rule is denied only when some rule selecting the endpoint enforces
// it; audit mode turns would-be drops into allow-and-report). It shares no code with lowering,
// so `weir verify` comparing it with the emulator over the map images means something.
import { ipBlockContains, reservedIdentities } from '../../identity/allocate.js';
import { ipv4ToInt, parseAddress, parsePrefix, prefixContains } from '../../model/cidr.js';
import type { Direction, HttpRule, IREndpoint, IRRule, L7Rules, NetworkIR, RuleOrigin } from './types.js';
import { PROTO } from './types.js';

/** One side of a flow, as PolicyTest cases write it. */
export type FlowPeer = { workload: string } | { cidr: string } | { ip: string } | { entity: string } | { fqdn: string; ip: string };

export interface HttpRequest {
  method: string;
  path: string;
  host?: string;
  headers?: Record<string, string>;
}

export interface Flow {
  from: FlowPeer;
  to: FlowPeer;
  /** TCP, UDP, SCTP, ICMP, ICMPv6 or the protocol number. */
  protocol: string | number;
  /** Destination port (ICMP: the type). */
  port: number;
  http?: HttpRequest;
}

export interface RuleRef {
  policy: string;
  namespace?: string;
  file: string;
  line: number;
  commit?: string;
  cookie: number;
}

export type Reason =
  | 'policy-allow'
  | 'policy-deny'
  | 'default-deny'
  | 'not-enforced'
  | 'l7-allow'
  | 'l7-deny'
  | 'l7-redirect'
  | 'audit'
  | 'unresolved'
  | 'icmpv6-exempt'
  | 'allow-localhost';

/**
 * Cilium lets the ICMPv6 that IPv6 needs pass regardless of policy: multicast listener discovery
 * (types 130-132, 143) and router/neighbour discovery and redirect (133-137). Stated here from
 * Cilium's semantics, apart from the datapath's own list, so verify compares two readings.
 */
function icmpv6Exempt(protocol: number, type: number): boolean {
  return protocol === PROTO.ICMPV6 && ((type >= 130 && type <= 137) || type === 143);
}

/** The verdict of one direction at one endpoint. */
export interface DirectionVerdict {
  endpoint: string;
  direction: Direction;
  verdict: 'allow' | 'deny';
  reason: Reason;
  audit: boolean;
  /** Set when the traffic is redirected to the L7 proxy: the rules it enforces. */
  l7?: L7Rules;
  rule?: RuleRef;
  peerIdentity: number;
}

export interface FlowVerdict {
  verdict: 'allow' | 'deny';
  audit: boolean;
  l7?: L7Rules;
  rule?: RuleRef;
  reason: Reason;
  /** Egress at the source endpoint, then ingress at the destination endpoint (where they are endpoints). */
  steps: DirectionVerdict[];
  /** Set when a peer could not be resolved (unknown workload): the verdict is deny. */
  error?: string;
}

interface IpcacheHit {
  identity: number;
  node?: string;
}

interface IpcacheRow extends IpcacheHit {
  prefix: ReturnType<typeof parsePrefix> & object;
}

interface Index {
  endpoints: Pick<Map<string, IREndpoint>, 'get'>;
  /** Rules selecting each endpoint, per direction (its own index: the evaluator shares no code with lowering). */
  ingress: Map<string, IRRule[]>;
  egress: Map<string, IRRule[]>;
  /** Endpoints by address (first endpoint holding it, as the IR lists them), built on the first address peer. */
  byIp?: Map<string, IREndpoint>;
}

interface IpcacheIndex {
  /** IPv4 host entries by address as an integer (parsed without allocating); other host entries by address. */
  hosts4: Map<number, IpcacheHit>;
  hosts: Map<string, IpcacheHit>;
  /** Shorter prefixes, longest first. */
  prefixes: IpcacheRow[];
}

const ipcacheIndexes = new WeakMap<readonly object[], IpcacheIndex>();

const indexes = new WeakMap<NetworkIR, Index>();

/** Endpoints by key: the compiler's index (shared by compiles against one inventory) when the IR carries it. */
export function endpointsByKey(ir: NetworkIR): Pick<Map<string, IREndpoint>, 'get'> {
  const at = ir.endpointIndex;
  if (!at || at.size !== ir.endpoints.length) return new Map(ir.endpoints.map((e) => [e.key, e]));
  return {
    get: (k) => {
      const i = at.get(k);
      return i === undefined ? undefined : ir.endpoints[i];
    },
  };
}

function indexOf(ir: NetworkIR): Index {
  let x = indexes.get(ir);
  if (x) return x;
  const ingress = new Map<string, IRRule[]>();
  const egress = new Map<string, IRRule[]>();
  // Rules of one selector share their subject list: its endpoints' lists are looked up once per list.
  const lists = { ingress: new Map<readonly string[], IRRule[][]>(), egress: new Map<readonly string[], IRRule[][]>() };
  for (const r of ir.rules) {
    let ls = lists[r.direction].get(r.subjects);
    if (!ls) {
      const m = r.direction === 'ingress' ? ingress : egress;
      ls = r.subjects.map((s) => {
        let l = m.get(s);
        if (!l) m.set(s, (l = []));
        return l;
      });
      lists[r.direction].set(r.subjects, ls);
    }
    for (const l of ls) l.push(r);
  }
  x = { endpoints: endpointsByKey(ir), ingress, egress };
  indexes.set(ir, x);
  return x;
}

const addressKey = (family: 4 | 6, addr: Uint8Array): string => `${family}:${addr.join('.')}`;

function ipcacheOf(ir: NetworkIR): IpcacheIndex {
  const known = ipcacheIndexes.get(ir.ipcache);
  if (known) return known;
  const hosts4 = new Map<number, IpcacheHit>();
  const hosts = new Map<string, IpcacheHit>();
  const prefixes: IpcacheRow[] = [];
  for (const e of ir.ipcache) {
    // A host prefix is the longest there is: the first listed for an address wins, as in a stable longest-first sort.
    if (e.prefix.endsWith('/32')) {
      const n = ipv4ToInt(e.prefix.slice(0, -3));
      if (n !== undefined) {
        if (!hosts4.has(n)) hosts4.set(n, e.node ? { identity: e.identity, node: e.node } : { identity: e.identity });
        continue;
      }
    }
    const prefix = parsePrefix(e.prefix)!;
    const row: IpcacheRow = { prefix, identity: e.identity, ...(e.node ? { node: e.node } : {}) };
    if (prefix.bits === (prefix.family === 4 ? 32 : 128)) {
      const k = addressKey(prefix.family, prefix.addr);
      if (!hosts.has(k)) hosts.set(k, row);
    } else prefixes.push(row);
  }
  prefixes.sort((a, b) => b.prefix.bits - a.prefix.bits);
  const x = { hosts4, hosts, prefixes };
  ipcacheIndexes.set(ir.ipcache, x);
  return x;
}

export function protocolNumber(p: string | number): number | undefined {
  if (typeof p === 'number') return p;
  const u = p.toUpperCase();
  return u === 'TCP'
    ? PROTO.TCP
    : u === 'UDP'
      ? PROTO.UDP
      : u === 'SCTP'
        ? PROTO.SCTP
        : u === 'ICMP'
          ? PROTO.ICMP
          : u === 'ICMPV6'
            ? PROTO.ICMPV6
            : /^\d+$/.test(u)
              ? Number(u)
              : undefined;
}

export function ruleRef(ir: NetworkIR, cookie: number): RuleRef | undefined {
  const o: RuleOrigin | undefined = ir.origins[cookie - 1];
  if (!o) return undefined;
  // Key order policy, namespace, file, line, commit, cookie: JSON outputs compare byte for byte.
  if (o.commit)
    return o.namespace
      ? { policy: o.policy, namespace: o.namespace, file: o.file, line: o.line, commit: o.commit, cookie }
      : { policy: o.policy, file: o.file, line: o.line, commit: o.commit, cookie };
  return o.namespace
    ? { policy: o.policy, namespace: o.namespace, file: o.file, line: o.line, cookie }
    : { policy: o.policy, file: o.file, line: o.line, cookie };
}

/** Identity of an address as the ipcache resolves it (longest prefix), relative to a node. */
export function addressIdentity(ir: NetworkIR, address: string, node?: string): number {
  const { hosts4, hosts, prefixes } = ipcacheOf(ir);
  const hit = (e: IpcacheHit) => (e.node !== undefined && e.node === node ? reservedIdentities.host : e.identity);
  const n = ipv4ToInt(address);
  if (n !== undefined) {
    const exact = hosts4.get(n);
    if (exact) return hit(exact);
  }
  const a = parseAddress(address);
  if (!a) return reservedIdentities.world;
  const exact = hosts.get(addressKey(a.family, a.addr));
  if (exact) return hit(exact);
  const host = { family: a.family, addr: a.addr, bits: a.family === 4 ? 32 : 128 };
  for (const e of prefixes) if (prefixContains(e.prefix, host)) return hit(e);
  return reservedIdentities.world;
}

export function fqdnMatches(regex: string, name: string): boolean {
  return new RegExp(regex).test(name.toLowerCase().replace(/\.$/, ''));
}

/** Whether an endpoint's egress DNS rules let its DNS proxy learn `name` (toFQDNs needs this). */
export function dnsAllows(ir: NetworkIR, endpoint: string, name: string): boolean {
  for (const r of indexOf(ir).egress.get(endpoint) ?? [])
    if (!r.deny && r.l7?.dns)
      for (const d of r.l7.dns) {
        const re =
          d.matchName !== undefined
            ? `^${d.matchName.toLowerCase().replace(/\.$/, '').replace(/\./g, '\\.')}$`
            : d.matchPattern === '*'
              ? '^.*$'
              : `^${(d.matchPattern ?? '')
                  .toLowerCase()
                  .replace(/\.$/, '')
                  .split('.')
                  .map((l) => l.split('*').join('[-a-z0-9_]*'))
                  .join('\\.')}$`;
        if (fqdnMatches(re, name)) return true;
      }
  return false;
}

interface ResolvedPeer {
  endpoint?: IREndpoint;
  /** Identity as seen from a given node (host vs remote-node for node addresses). */
  identityAt(node: string | undefined): number;
  error?: string;
}

function resolvePeer(ir: NetworkIR, p: FlowPeer, other: FlowPeer): ResolvedPeer {
  const idx = indexOf(ir);
  if ('workload' in p) {
    const ep = idx.endpoints.get(p.workload);
    if (!ep)
      return { identityAt: () => reservedIdentities.world, error: `workload ${p.workload} is not in the inventory (write namespace/name)` };
    return { endpoint: ep, identityAt: () => ep.identity };
  }
  if ('entity' in p) {
    const id = (reservedIdentities as Record<string, number>)[p.entity];
    if (id === undefined)
      return {
        identityAt: () => reservedIdentities.world,
        error: `entity ${p.entity} is not a reserved identity name (${Object.keys(reservedIdentities).join(', ')})`,
      };
    return { identityAt: () => id };
  }
  if ('fqdn' in p) {
    const src = 'workload' in other ? other.workload : undefined;
    if (src && dnsAllows(ir, src, p.fqdn)) {
      const sel = ir.fqdnSelectors.find((s) => fqdnMatches(s.regex, p.fqdn));
      if (sel) return { identityAt: () => sel.identity };
    }
    return peerByAddress(ir, p.ip);
  }
  const addr = 'ip' in p ? p.ip : p.cidr.split('/')[0]!;
  return peerByAddress(ir, addr);
}

function peerByAddress(ir: NetworkIR, addr: string): ResolvedPeer {
  if (!parseAddress(addr)) return { identityAt: () => reservedIdentities.world, error: `${addr} is not an IP address` };
  const idx = indexOf(ir);
  const ep = endpointByIp(ir, idx, addr);
  if (ep) return { endpoint: ep, identityAt: () => ep.identity };
  return { identityAt: (node) => addressIdentity(ir, addr, node) };
}

/**
 * Pod index by address, per compiler endpoint index: compiles against one inventory (the plan's
 * two revisions) list their endpoints in the same pod order with the same addresses.
 */
const ipIndexes = new WeakMap<ReadonlyMap<string, number>, Map<string, number>>();

function endpointByIp(ir: NetworkIR, idx: Index, addr: string): IREndpoint | undefined {
  const at = ir.endpointIndex;
  if (at && at.size === ir.endpoints.length) {
    let m = ipIndexes.get(at);
    if (!m) {
      m = new Map();
      ir.endpoints.forEach((e, i) => {
        for (const ip of e.ips) if (!m!.has(ip)) m!.set(ip, i);
      });
      ipIndexes.set(at, m);
    }
    const i = m.get(addr);
    return i === undefined ? undefined : ir.endpoints[i];
  }
  if (!idx.byIp) {
    idx.byIp = new Map();
    for (const e of ir.endpoints) for (const ip of e.ips) if (!idx.byIp.has(ip)) idx.byIp.set(ip, e);
  }
  return idx.byIp.get(addr);
}

/** Peer lists of many identities, as sets (the plan probes thousands of peers against each list). */
const peerSets = new WeakMap<readonly number[], Set<number>>();

function hasPeer(peers: readonly number[], id: number): boolean {
  if (peers.length < 16) return peers.includes(id);
  let set = peerSets.get(peers);
  if (!set) peerSets.set(peers, (set = new Set(peers)));
  return set.has(id);
}

function portMatches(r: IRRule, protocol: number, port: number): boolean {
  if (!r.ports) return true;
  return r.ports.some((p) => p.protocol === protocol && p.lo <= port && port <= p.hi);
}

function rx(re: string, s: string): boolean {
  try {
    return new RegExp(`^(?:${re})$`).test(s);
  } catch {
    return false;
  }
}

export function httpMatches(rule: HttpRule, req: HttpRequest): boolean {
  if (rule.method !== undefined && !rx(rule.method, req.method)) return false;
  if (rule.path !== undefined && !rx(rule.path, req.path)) return false;
  if (rule.host !== undefined && !rx(rule.host, req.host ?? '')) return false;
  for (const h of rule.headers ?? []) {
    const i = h.indexOf(':');
    const name = (i < 0 ? h : h.slice(0, i)).trim().toLowerCase();
    const want = i < 0 ? undefined : h.slice(i + 1).trim();
    const have = Object.entries(req.headers ?? {}).find(([k]) => k.toLowerCase() === name)?.[1];
    if (have === undefined || (want !== undefined && want !== '' && have !== want)) return false;
  }
  return true;
}

/** Union of L7 rules, deterministic order. */
export function unionL7(list: readonly L7Rules[]): L7Rules {
  const out: L7Rules = {};
  for (const l of list) {
    if (l.http) out.http = [...(out.http ?? []), ...l.http];
    if (l.dns) out.dns = [...(out.dns ?? []), ...l.dns];
    if (l.kafka) out.kafka = [...(out.kafka ?? []), ...l.kafka];
  }
  return out;
}

type SetKind = 'deny' | 'l7-deny' | 'allow' | 'redirect' | 'l7-allow' | 'default-deny' | 'not-enforced' | 'localhost';
interface SetResult {
  kind: SetKind;
  cookie?: number;
  l7?: L7Rules;
}

const defaultDeny: SetResult = Object.freeze({ kind: 'default-deny' });
const notEnforced: SetResult = Object.freeze({ kind: 'not-enforced' });

/** Cilium's resolution over one set of rules: deny first, then a plain allow, then L7 rules, then the default. */
function evalSet(rules: readonly IRRule[], enforced: boolean, http: HttpRequest | undefined): SetResult {
  if (rules.length === 0) return enforced ? defaultDeny : notEnforced;
  // Lowest cookie of the deny rules, of the plain allows, and of all (one pass).
  let deny = Infinity;
  let plain = Infinity;
  let all = Infinity;
  for (const r of rules) {
    if (r.cookie < all) all = r.cookie;
    if (r.deny) {
      if (r.cookie < deny) deny = r.cookie;
    } else if (!r.l7 && r.cookie < plain) plain = r.cookie;
  }
  if (deny !== Infinity) return { kind: 'deny', cookie: deny };
  if (plain !== Infinity) return { kind: 'allow', cookie: plain };
  const l7 = unionL7(rules.map((r) => r.l7!));
  if (!http || !l7.http) return { kind: 'redirect', cookie: all, l7 };
  const ok = l7.http.some((h) => httpMatches(h, http));
  return { kind: ok ? 'l7-allow' : 'l7-deny', cookie: all, l7 };
}

const denies = (k: SetKind) => k === 'deny' || k === 'l7-deny' || k === 'default-deny';
const reasonOf: Record<SetKind, Reason> = {
  deny: 'policy-deny',
  'l7-deny': 'l7-deny',
  allow: 'policy-allow',
  redirect: 'l7-redirect',
  'l7-allow': 'l7-allow',
  'default-deny': 'default-deny',
  'not-enforced': 'not-enforced',
  localhost: 'allow-localhost',
};

const localhostAllow: SetResult = Object.freeze({ kind: 'localhost' });

/**
 * Cilium's allow-localhost (`auto`, `always`): the node's host reaches the endpoints of its node as
 * if an enforcing rule allowed it on every port; a deny rule naming the host still wins, and a
 * policy's own plain allow of the host is the one named. On an endpoint whose policies are all in
 * audit mode the audit-mode policies are the ones asked (the enforcing set stays not-enforced);
 * where a direction is enforced only by audit-mode policies but the endpoint is not in audit mode,
 * the host allow is the enforcing decision.
 */
function withLocalhost(x: SetResult, keepNotEnforced: boolean): SetResult {
  return x.kind === 'deny' || x.kind === 'allow' || (keepNotEnforced && x.kind === 'not-enforced') ? x : localhostAllow;
}

/**
 * The verdict of one direction at one endpoint for a peer identity, protocol and port.
 * Policies in audit mode never change what is enforced: the enforcing policies decide, and a
 * flow they let through that the audit policies would drop is allowed and reported.
 */
export function evaluateDirection(
  ir: NetworkIR,
  ep: IREndpoint,
  direction: Direction,
  peerIdentity: number,
  protocol: number,
  port: number,
  http?: HttpRequest,
): DirectionVerdict {
  if (icmpv6Exempt(protocol, port))
    return { endpoint: ep.key, direction, peerIdentity, verdict: 'allow', reason: 'icmpv6-exempt', audit: false };
  const rules: IRRule[] = [];
  let audited = false;
  for (const r of (direction === 'ingress' ? indexOf(ir).ingress : indexOf(ir).egress).get(ep.key) ?? [])
    if ((r.peers === 'any' || hasPeer(r.peers, peerIdentity)) && portMatches(r, protocol, port)) {
      rules.push(r);
      if (r.audit) audited = true;
    }
  const enforced = direction === 'ingress' ? ep.ingressEnforced : ep.egressEnforced;
  const auditOnly = direction === 'ingress' ? ep.ingressAuditOnly : ep.egressAuditOnly;
  let E = evalSet(audited ? rules.filter((r) => !r.audit) : rules, enforced && !auditOnly, http);
  let A = evalSet(rules, enforced, http);
  // The host is the node's own (a node address resolves to reserved:host on its node only).
  if (enforced && direction === 'ingress' && peerIdentity === reservedIdentities.host && !ir.localhostNeedsPolicy) {
    E = withLocalhost(E, ep.auditMode);
    A = withLocalhost(A, true);
  }
  // Built field by field (no spreads): the plan asks this thousands of times per change.
  const out = (x: SetResult, verdict: 'allow' | 'deny', audit: boolean, cookie = x.cookie): DirectionVerdict => {
    const v: DirectionVerdict = { endpoint: ep.key, direction, peerIdentity, verdict, reason: audit ? 'audit' : reasonOf[x.kind], audit };
    if (x.l7) v.l7 = x.l7;
    if (cookie) v.rule = ruleRef(ir, cookie)!;
    return v;
  };
  if (denies(E.kind)) return out(E, 'deny', false);
  if (denies(A.kind))
    return out(E.kind === 'not-enforced' ? A : E, 'allow', true, A.cookie ?? (E.kind === 'not-enforced' ? undefined : E.cookie));
  return E.kind === 'not-enforced' ? out(A, 'allow', false) : out(E, 'allow', false);
}

/** Evaluates a flow: egress policy at the source endpoint, then ingress policy at the destination. */
export function evaluateFlow(ir: NetworkIR, flow: Flow): FlowVerdict {
  const protocol = protocolNumber(flow.protocol);
  if (protocol === undefined)
    return {
      verdict: 'deny',
      audit: false,
      reason: 'unresolved',
      steps: [],
      error: `protocol ${String(flow.protocol)} is not TCP, UDP, SCTP, ICMP or ICMPv6`,
    };
  const src = resolvePeer(ir, flow.from, flow.to);
  const dst = resolvePeer(ir, flow.to, flow.from);
  const error = src.error ?? dst.error;
  if (error) return { verdict: 'deny', audit: false, reason: 'unresolved', steps: [], error };
  const steps: DirectionVerdict[] = [];
  if (src.endpoint)
    steps.push(evaluateDirection(ir, src.endpoint, 'egress', dst.identityAt(src.endpoint.node), protocol, flow.port, flow.http));
  if (dst.endpoint)
    steps.push(evaluateDirection(ir, dst.endpoint, 'ingress', src.identityAt(dst.endpoint.node), protocol, flow.port, flow.http));
  const denied = steps.find((s) => s.verdict === 'deny');
  if (denied)
    return {
      verdict: 'deny',
      audit: steps.some((s) => s.audit),
      reason: denied.reason,
      ...(denied.rule ? { rule: denied.rule } : {}),
      ...(denied.l7 ? { l7: denied.l7 } : {}),
      steps,
    };
  const decisive = [...steps].reverse().find((s) => s.rule) ?? steps[steps.length - 1];
  const l7 = [...steps].reverse().find((s) => s.l7)?.l7;
  return {
    verdict: 'allow',
    audit: steps.some((s) => s.audit),
    reason: decisive?.reason ?? 'not-enforced',
    ...(decisive?.rule ? { rule: decisive.rule } : {}),
    ...(l7 ? { l7 } : {}),
    steps,
  };
}

/** A NetworkPolicy ipBlock of a rule covering a pod peer's address. */
export interface IpBlockMatch {
  pod: string;
  address: string;
  block: string;
}

/** Which address of the pod peer an ipBlock of the rule `cookie` covers (a NetworkPolicy ipBlock matches pods by address). */
export function ipBlockMatch(ir: NetworkIR, cookie: number, peer: FlowPeer): IpBlockMatch | undefined {
  const blocks = ir.ipBlocks?.get(cookie);
  if (!blocks) return undefined;
  const idx = indexOf(ir);
  const ep = 'workload' in peer ? idx.endpoints.get(peer.workload) : 'ip' in peer ? endpointByIp(ir, idx, peer.ip) : undefined;
  if (!ep) return undefined;
  for (const address of 'ip' in peer ? [peer.ip] : ep.ips)
    for (const b of blocks) if (ipBlockContains(b.block, address)) return { pod: ep.key, address, block: b.text };
  return undefined;
}
