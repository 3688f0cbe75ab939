// The network policy IR: every policy resolved against the inventory's identities, in the
// vocabulary of Cilium's pkg/policy. Rules are per direction, per peer set, per port set;
// lowering turns them into per-endpoint map state and the evaluator answers flows from them.
import type { Identity, IpBlock } from '../../identity/allocate.js';

export type Direction = 'ingress' | 'egress';

export const PROTO = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58, SCTP: 132 } as const;
export const protoName: Record<number, string> = { 0: 'ANY', 1: 'ICMP', 6: 'TCP', 17: 'UDP', 58: 'ICMPv6', 132: 'SCTP' };

/** An inclusive port range of one protocol; for ICMP/ICMPv6 the "port" is the ICMP type. */
export interface PortRange {
  protocol: number;
  lo: number;
  hi: number;
}

export interface HttpRule {
  method?: string;
  path?: string;
  host?: string;
  headers?: string[];
}

export interface DnsRule {
  matchName?: string;
  matchPattern?: string;
}

export interface KafkaRule {
  role?: string;
  apiKey?: string;
  apiVersion?: string;
  clientID?: string;
  topic?: string;
}

/** L7 rules of one toPorts entry: the proxy enforces them (Cilium's redirect to the proxy). */
export interface L7Rules {
  http?: HttpRule[];
  dns?: DnsRule[];
  kafka?: KafkaRule[];
}

/** Where a rule came from: the rule cookie table maps a map value's cookie back to this. */
export interface RuleOrigin {
  cookie: number;
  /** `Kind/namespace/name` (`Kind/name` for cluster-wide kinds). */
  policy: string;
  kind: string;
  name: string;
  namespace?: string;
  file: string;
  line: number;
  column: number;
  commit?: string;
  /** Which rule of the policy: `ingress[0]`, `egressDeny[1]`, `specs[1].egress[0]`. */
  path: string;
}

export interface IRRule {
  cookie: number;
  direction: Direction;
  deny: boolean;
  /** From a policy in audit mode (annotation weir.dev/audit: "true"). */
  audit: boolean;
  /** Endpoints (`ns/pod`) the rule applies to. */
  subjects: string[];
  /** Peer identities (sorted), or every peer (identity 0 in the map). */
  peers: number[] | 'any';
  /** Undefined: every protocol and port (an L3-only rule). */
  ports?: PortRange[];
  l7?: L7Rules;
  /** WEIR_AUTH_*: 0 none, 1 disabled, 2 required. */
  auth: number;
}

export interface IREndpoint {
  /** `ns/pod`. */
  key: string;
  namespace: string;
  name: string;
  node: string;
  ips: string[];
  identity: number;
  /** Per-node endpoint id (1-based, in sorted order of the node's endpoints). */
  endpointId: number;
  ingressEnforced: boolean;
  egressEnforced: boolean;
  /** The direction is enforced only by policies in audit mode: a default-deny drop is allowed and reported. */
  ingressAuditOnly: boolean;
  egressAuditOnly: boolean;
  /** Every policy that selects the endpoint is in audit mode (WEIR_EP_AUDIT). */
  auditMode: boolean;
}

/** A NetworkPolicy ipBlock a rule names: its text and its prefixes, for explaining which address it covered. */
export interface IpBlockRef {
  text: string;
  block: IpBlock;
}

export interface IpcacheEntry {
  /** Formatted prefix, `10.0.0.1/32`. */
  prefix: string;
  identity: number;
  /** For node addresses: the node that owns it (host identity there, remote-node elsewhere). */
  node?: string;
}

export interface FqdnSelector {
  /** `matchName:api.example.com` or `matchPattern:*.example.com`. */
  selector: string;
  identity: number;
  /** Anchored regular expression the agent's DNS proxy matches answered names against. */
  regex: string;
  cookies: number[];
}

export interface NetworkIR {
  identities: Identity[];
  endpoints: IREndpoint[];
  rules: IRRule[];
  /** Set by the compiler: index into `endpoints` by endpoint key (not enumerable, not part of the data). */
  readonly endpointIndex?: ReadonlyMap<string, number>;
  /** Set by the compiler: the NetworkPolicy ipBlocks (as ipBlockKey writes them) of each rule cookie that has some (not enumerable). */
  readonly ipBlocks?: ReadonlyMap<number, readonly IpBlockRef[]>;
  ipcache: IpcacheEntry[];
  origins: RuleOrigin[];
  fqdnSelectors: FqdnSelector[];
  nodes: string[];
  /**
   * Cilium's `--allow-localhost=policy`: the node's host (reserved:host) reaches its own pods only
   * where policy allows it. Unset: `auto`/`always`, Cilium's behaviour under Kubernetes, where the
   * host always reaches the pods of its node (kubelet probes) unless a deny rule names it.
   */
  localhostNeedsPolicy?: boolean;
  /** Named-port map used for egress to wildcard peers: name → port numbers declared by any pod. */
  revision?: string;
}

/** Values of Cilium's `--allow-localhost` flag: `auto` (under Kubernetes: `always`), `always`, `policy`. */
export const allowLocalhostModes = ['auto', 'always', 'policy'] as const;
export type AllowLocalhost = (typeof allowLocalhostModes)[number];
