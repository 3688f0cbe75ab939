// What the plan asks of a compiled revision: the decision for one (source, destination,
// protocol, port) probe, and the equivalence classes that make a finite set of probes exact.
import type { Protocol, PortRange } from './connset.js';
import { minPort, maxPort } from './connset.js';
import type { Peer } from './peers.js';

/** The policy rule that decided a verdict, enough to point a reviewer at the line. */
export interface RuleRef {
  /** Policy name (metadata.name). */
  policy: string;
  /** CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy or NetworkPolicy. */
  kind?: string;
  namespace?: string;
  file: string;
  line: number;
  commit?: string;
}

export function shortCommit(c: string | undefined): string {
  return c ? c.slice(0, 7) : '';
}

/** `ns/policy file:line @abc1234`, as plans and connectivity name a rule. */
export function ruleText(r: RuleRef | undefined): string {
  if (!r) return '';
  const name = r.namespace ? `${r.namespace}/${r.policy}` : r.policy;
  return `${name} ${r.file}:${r.line}${r.commit ? ` @${shortCommit(r.commit)}` : ''}`;
}

export interface Decision {
  verdict: 'allow' | 'deny';
  /** True when the deciding rule is in audit mode: a deny is logged but the packet passes. */
  audit: boolean;
  /** Canonical text of the L7 rules applied to the connection (HTTP/DNS/Kafka), if redirected to the proxy. */
  l7?: string;
  rule?: RuleRef;
  /** Why no policy decides: the host reaching its own node's pods (Cilium's allow-localhost), or two host-network workloads. */
  reason?: 'allow-localhost' | 'host-network';
  /** The deciding rule is a NetworkPolicy ipBlock that covers this pod address of the peer. */
  ipBlock?: { pod: string; address: string; block: string };
}

export interface Probe {
  src: Peer;
  dst: Peer;
  protocol: Protocol;
  port: number;
  /** An observed HTTP request on the connection, decided against L7 rules too. */
  http?: { method: string; path: string; host?: string };
}

export type Oracle = (probe: Probe) => Decision;

/** Whether traffic decided this way reaches its destination (an audited deny still passes). */
export function passes(d: Decision): boolean {
  return d.verdict === 'allow' || d.audit;
}

/** A key that is equal for two decisions exactly when a reviewer would see no change. */
export function decisionKey(d: Decision): string {
  return `${d.verdict}|${d.audit ? 'audit' : 'enforce'}|${d.l7 ?? ''}`;
}

/**
 * Cuts 1..65535 at every port boundary mentioned by the policies (a port p cuts before p and
 * after p; a range lo-hi before lo and after hi). Every port inside one class is treated alike
 * by every rule, so probing the first port of each class is exact.
 */
export function portClasses(values: Iterable<PortRange>): PortRange[] {
  const cuts = new Set<number>([minPort, maxPort + 1]);
  for (const v of values) {
    if (v.lo >= minPort && v.lo <= maxPort) cuts.add(v.lo);
    if (v.hi + 1 >= minPort && v.hi + 1 <= maxPort + 1) cuts.add(v.hi + 1);
  }
  const s = [...cuts].sort((a, b) => a - b);
  const out: PortRange[] = [];
  for (let i = 0; i + 1 < s.length; i++) out.push({ lo: s[i]!, hi: s[i + 1]! - 1 });
  return out;
}

/** A port range one rule names, with the rule's id in its revision: what the plan's probe space is cut by. */
export interface RulePorts {
  protocol: Protocol;
  lo: number;
  hi: number;
  rule: number;
}

/** The rules that can decide one pair (source egress, destination ingress), by the ports they name. */
export interface PairRules {
  ports: RulePorts[];
}
