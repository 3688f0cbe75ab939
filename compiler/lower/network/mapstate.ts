// Per-endpoint policy map state, as Cilium's MapState: LPM entries keyed by
// {peer identity (0 = any), direction, protocol, port prefix}. The datapath looks up the peer's
// identity and identity 0 and keeps the winner (deny first, then higher precedence, then the
// longer prefix), so the entries are built to make that pick equal the IR's meaning:
// - an identity's entries already fold in every wildcard rule at the same point, and carry a
//   higher precedence than wildcard entries of the same verdict class;
// - within one identity, an entry is emitted for every port segment whose resolved value
//   differs from the coarser entry that would otherwise be the longest match.
import { reservedIdentities } from '../../identity/allocate.js';
import { ruleIndex } from '../../ir/network/rules.js';
import type { IREndpoint, IRRule, L7Rules, NetworkIR } from '../../ir/network/types.js';
import {
  WEIR_DIR_EGRESS,
  WEIR_DIR_INGRESS,
  WEIR_FLAG_AUDIT,
  WEIR_POLICY_PREFIX_MIN,
  WEIR_POLICY_PREFIX_PROTO,
  WEIR_VERDICT_ALLOW,
  WEIR_VERDICT_DENY,
  WEIR_VERDICT_REDIRECT,
  type PolicyKey,
  type PolicyValue,
} from '../../../bpf/abi/net.js';

const HOST_IDENTITY = reservedIdentities.host;

export interface MapEntry {
  key: PolicyKey;
  value: PolicyValue;
}

/**
 * Precedences. Deny entries are compared only with deny entries, the rest among themselves.
 * Entries from enforcing policies outrank entries that only audit-mode policies produce, and an
 * entry for a specific peer identity (which folds in the wildcard rules) outranks the wildcard
 * entry of the same class by one.
 */
export const PRECEDENCE = {
  auditDefault: 0,
  auditRedirect: 2,
  auditAllow: 4,
  redirect: 6,
  allow: 8,
  deny: 2,
} as const;

/** Interns L7 rule sets; the id is the policy value's proxy_port and the l7_rules table key. */
export class L7Registry {
  private readonly ids = new Map<string, number>();
  readonly sets: { id: number; rules: L7Rules }[] = [];
  intern(rules: L7Rules): number {
    const k = JSON.stringify(rules);
    let id = this.ids.get(k);
    if (id === undefined) {
      id = this.sets.length + 1;
      this.ids.set(k, id);
      this.sets.push({ id, rules });
    }
    return id;
  }
}

/** A pseudo rule for a direction enforced only by audit-mode policies: anything unmatched is allowed and reported. */
interface AuditDefault {
  auditDefault: true;
}
type AnyRule = IRRule | AuditDefault;
const isAuditDefault = (r: AnyRule): r is AuditDefault => 'auditDefault' in r;

interface Simple {
  kind: 'deny' | 'allow' | 'redirect';
  cookie: number;
  auth: number;
  rules: IRRule[];
}

/**
 * The L7 rules a redirect enforces: every rule's, per protocol in rule order (a protocol's key
 * first appears where its first rule does). Lowering's own reading, apart from the evaluator's.
 */
function redirectRules(rules: readonly IRRule[]): L7Rules {
  const out: L7Rules = {};
  for (const { l7 } of rules) {
    if (!l7) continue;
    if (l7.http) (out.http ??= []).push(...l7.http);
    if (l7.dns) (out.dns ??= []).push(...l7.dns);
    if (l7.kafka) (out.kafka ??= []).push(...l7.kafka);
  }
  return out;
}

/** Cilium's resolution at one point: deny first, then a plain allow, then the union of L7 rules. */
function simple(rs: readonly IRRule[]): Simple | undefined {
  if (rs.length === 0) return undefined;
  // The lowest cookie of a policy's rules; the host allow (cookie 0) names a rule only when alone.
  const min = (l: IRRule[]) => {
    const c = l.reduce((m, r) => (r.cookie > 0 && r.cookie < m ? r.cookie : m), Infinity);
    return c === Infinity ? 0 : c;
  };
  const auth = (l: IRRule[]) => l.reduce((m, r) => Math.max(m, r.auth), 0);
  const deny = rs.filter((r) => r.deny);
  if (deny.length) return { kind: 'deny', cookie: min(deny), auth: 0, rules: deny };
  const plain = rs.filter((r) => !r.l7);
  if (plain.length) return { kind: 'allow', cookie: min(plain), auth: auth([...rs]), rules: plain };
  return { kind: 'redirect', cookie: min([...rs]), auth: auth([...rs]), rules: [...rs] };
}

export interface DirectionMode {
  /** Every policy selecting the endpoint is in audit mode: entries are built as if enforcing and WEIR_EP_AUDIT turns drops into reports. */
  auditMode: boolean;
  /** The direction is default-deny by an enforcing (non-audit) policy. */
  enforcedByEnforcing: boolean;
}

function combine(rs: readonly AnyRule[], specific: boolean, l7: L7Registry, mode: DirectionMode): PolicyValue | undefined {
  const b = specific ? 1 : 0;
  const real = rs.filter((r): r is IRRule => !isAuditDefault(r));
  const pseudo = real.length !== rs.length;
  const value = (x: Simple, tierAllow: number, tierRedirect: number, flags: number, cookie: number): PolicyValue =>
    x.kind === 'allow'
      ? { verdict: WEIR_VERDICT_ALLOW, auth: x.auth, flags, proxyPort: 0, precedence: tierAllow + b, cookie }
      : {
          verdict: WEIR_VERDICT_REDIRECT,
          auth: x.auth,
          flags,
          proxyPort: l7.intern(redirectRules(x.rules)),
          precedence: tierRedirect + b,
          cookie,
        };
  if (mode.auditMode) {
    const c = simple(real);
    if (!c) return undefined;
    if (c.kind === 'deny')
      return {
        verdict: WEIR_VERDICT_DENY,
        auth: 0,
        flags: WEIR_FLAG_AUDIT,
        proxyPort: 0,
        precedence: PRECEDENCE.deny + b,
        cookie: c.cookie,
      };
    return value(c, PRECEDENCE.allow, PRECEDENCE.redirect, 0, c.cookie);
  }
  const e = simple(real.filter((r) => !r.audit));
  const a = simple(real);
  if (e?.kind === 'deny')
    return { verdict: WEIR_VERDICT_DENY, auth: 0, flags: 0, proxyPort: 0, precedence: PRECEDENCE.deny + b, cookie: e.cookie };
  if (e)
    return a?.kind === 'deny'
      ? value(e, PRECEDENCE.allow, PRECEDENCE.redirect, WEIR_FLAG_AUDIT, a.cookie)
      : value(e, PRECEDENCE.allow, PRECEDENCE.redirect, 0, e.cookie);
  if (mode.enforcedByEnforcing) return undefined;
  if (a?.kind === 'deny')
    return {
      verdict: WEIR_VERDICT_ALLOW,
      auth: 0,
      flags: WEIR_FLAG_AUDIT,
      proxyPort: 0,
      precedence: PRECEDENCE.auditAllow + b,
      cookie: a.cookie,
    };
  if (a) return value(a, PRECEDENCE.auditAllow, PRECEDENCE.auditRedirect, 0, a.cookie);
  if (pseudo)
    return { verdict: WEIR_VERDICT_ALLOW, auth: 0, flags: WEIR_FLAG_AUDIT, proxyPort: 0, precedence: PRECEDENCE.auditDefault, cookie: 0 };
  return undefined;
}

const sameValue = (a: PolicyValue | undefined, b: PolicyValue | undefined) =>
  a === b ||
  (!!a &&
    !!b &&
    a.verdict === b.verdict &&
    a.auth === b.auth &&
    a.flags === b.flags &&
    a.proxyPort === b.proxyPort &&
    a.precedence === b.precedence &&
    a.cookie === b.cookie);

/** Splits [lo, hi] into aligned power-of-two blocks: (port, prefix bits of the 16-bit port). */
export function portBlocks(lo: number, hi: number): { port: number; bits: number }[] {
  const out: { port: number; bits: number }[] = [];
  let p = lo;
  while (p <= hi) {
    let size = p === 0 ? 65536 : p & -p;
    while (p + size - 1 > hi) size >>= 1;
    out.push({ port: p, bits: 16 - Math.log2(size) });
    p += size;
  }
  return out;
}

const ruleCovers = (r: AnyRule, proto: number, port: number) =>
  isAuditDefault(r) || !r.ports || r.ports.some((p) => p.protocol === proto && p.lo <= port && port <= p.hi);

/** Entries for one key identity in one direction. `cover` decides where entries exist; `value` rules decide what they say. */
function entriesFor(
  identity: number,
  direction: number,
  cover: readonly AnyRule[],
  value: readonly AnyRule[],
  specific: boolean,
  l7: L7Registry,
  mode: DirectionMode,
  out: MapEntry[],
): void {
  const hasL3 = cover.some((r) => isAuditDefault(r) || !r.ports);
  let v3: PolicyValue | undefined;
  if (hasL3) {
    v3 = combine(
      value.filter((r) => isAuditDefault(r) || !r.ports),
      specific,
      l7,
      mode,
    );
    if (v3) out.push({ key: { prefixlen: WEIR_POLICY_PREFIX_MIN, identity, direction, protocol: 0, port: 0 }, value: v3 });
  }
  const protos = new Set<number>();
  for (const r of value) if (!isAuditDefault(r)) for (const p of r.ports ?? []) protos.add(p.protocol);
  for (const proto of [...protos].sort((a, b) => a - b)) {
    const bounds = new Set<number>([0, 65536]);
    for (const r of value)
      if (!isAuditDefault(r)) for (const p of r.ports ?? []) if (p.protocol === proto) bounds.add(p.lo), bounds.add(p.hi + 1);
    const b = [...bounds].sort((x, y) => x - y);
    const segs: { lo: number; hi: number; v: PolicyValue }[] = [];
    for (let i = 0; i + 1 < b.length; i++) {
      const a = b[i]!;
      if (!hasL3 && !cover.some((r) => !isAuditDefault(r) && r.ports && ruleCovers(r, proto, a))) continue;
      const v = combine(
        value.filter((r) => ruleCovers(r, proto, a)),
        specific,
        l7,
        mode,
      );
      if (!v || (hasL3 && sameValue(v, v3))) continue;
      const last = segs[segs.length - 1];
      if (last && last.hi + 1 === a && sameValue(last.v, v)) last.hi = b[i + 1]! - 1;
      else segs.push({ lo: a, hi: b[i + 1]! - 1, v });
    }
    for (const s of segs)
      for (const blk of portBlocks(s.lo, s.hi))
        out.push({
          key: { prefixlen: WEIR_POLICY_PREFIX_PROTO + blk.bits, identity, direction, protocol: proto, port: blk.port },
          value: s.v,
        });
  }
}

/**
 * Cilium's allow-localhost (`auto`/`always`): an L3 allow of the node's host on ingress, inserted
 * into every endpoint's map state beside the policy's rules, so a deny naming the host still wins.
 * It names no policy (cookie 0) and does not make the direction enforced.
 */
const localhostIngress: IRRule = Object.freeze({
  cookie: 0,
  direction: 'ingress',
  deny: false,
  audit: false,
  subjects: [],
  peers: [HOST_IDENTITY],
  auth: 0,
}) as IRRule;

export interface MapStateOptions {
  /** Cilium's `--allow-localhost=policy`: no implicit host allow. */
  localhostNeedsPolicy?: boolean;
}

/** The complete map state of one endpoint (both directions), sorted by key bytes order. */
export function endpointMapState(ep: IREndpoint, rules: readonly IRRule[], l7: L7Registry, opts: MapStateOptions = {}): MapEntry[] {
  const out: MapEntry[] = [];
  const ruleNo = new Map<IRRule, number>();
  rules.forEach((r, i) => ruleNo.set(r, i));
  ruleNo.set(localhostIngress, -1);
  for (const [dir, dnum] of [
    ['ingress', WEIR_DIR_INGRESS],
    ['egress', WEIR_DIR_EGRESS],
  ] as const) {
    const rs = rules.filter((r) => r.direction === dir);
    // Where ingress is not enforced every peer passes already: the host allow would change nothing.
    if (dir === 'ingress' && ep.ingressEnforced && !opts.localhostNeedsPolicy) rs.push(localhostIngress);
    const wildcard: AnyRule[] = rs.filter((r) => r.peers === 'any');
    const enforced = dir === 'ingress' ? ep.ingressEnforced : ep.egressEnforced;
    const auditOnly = dir === 'ingress' ? ep.ingressAuditOnly : ep.egressAuditOnly;
    // With the endpoint in audit mode the datapath's WEIR_EP_AUDIT covers default-deny drops.
    if (enforced && auditOnly && !ep.auditMode) wildcard.push({ auditDefault: true });
    const mode: DirectionMode = { auditMode: ep.auditMode, enforcedByEnforcing: enforced && !auditOnly };
    const specific = new Map<number, IRRule[]>();
    for (const r of rs)
      if (r.peers !== 'any')
        for (const id of r.peers) {
          const l = specific.get(id);
          if (l) l.push(r);
          else specific.set(id, [r]);
        }
    entriesFor(0, dnum, wildcard, wildcard, false, l7, mode, out);
    // Peer identities selected by the same rules get the same entries but for the identity in
    // the key (entriesFor reads the identity nowhere else): compute them once per rule list.
    const byRules = new Map<string, MapEntry[]>();
    for (const id of [...specific.keys()].sort((a, b) => a - b)) {
      const own = specific.get(id)!;
      const k = own.map((r) => ruleNo.get(r)!).join(',');
      let tmpl = byRules.get(k);
      if (!tmpl) {
        tmpl = [];
        entriesFor(id, dnum, own, [...own, ...wildcard], true, l7, mode, tmpl);
        byRules.set(k, tmpl);
      }
      for (const e of tmpl) out.push({ key: { ...e.key, identity: id }, value: e.value });
    }
  }
  return out;
}

/** Rules per subject endpoint, in IR order (the IR's shared index). */
export function rulesBySubject(ir: NetworkIR): Map<string, IRRule[]> {
  return ruleIndex(ir).all;
}
