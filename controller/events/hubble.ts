// Network events of the endpoint programs (drops, audits, L7 redirects from the ring buffer) as Hubble
// flows, one `hubble observe -o json` line each ({"flow": {...}, "node_name", "time"}): source and
// destination with namespace, pod, labels and identity from the bundle's tables, verdict, drop reason,
// and the policies that decided (from the rule cookie). `weir plan --flows` and Hubble tooling read them.
import { WEIR_VERDICT_DENY, WEIR_VERDICT_REDIRECT, type EndpointTableEntry, type NetEvent } from '../../bpf/abi/net.js';

export interface HubbleTables {
  node: string;
  /** The bundle's `endpoints` table. */
  endpoints: readonly EndpointTableEntry[];
  /** The bundle's `identities` table: identity → Cilium labels (`k8s:app=web`, `reserved:world`). */
  identities: readonly { identity: number; labels: readonly string[] }[];
  /** The bundle's `cookies` table: rule cookie → the policy it came from. */
  cookies: readonly { cookie: number; kind: string; name: string; namespace?: string }[];
  /** Boot time in ns since the epoch, to turn the event's ktime into wall-clock time. */
  bootTimeNs?: bigint;
}

// Cilium's drop reasons (pkg/monitor/api): a default deny, and an explicit deny rule.
const DROP = { default: { code: 133, desc: 'POLICY_DENIED' }, deny: { code: 181, desc: 'POLICY_DENY' } };
const L4: Record<number, string> = { 6: 'TCP', 17: 'UDP', 132: 'SCTP', 1: 'ICMPv4', 58: 'ICMPv6' };

export class HubbleEncoder {
  #byIp = new Map<string, EndpointTableEntry>();
  #labels = new Map<number, readonly string[]>();
  #cookies = new Map<number, HubbleTables['cookies'][number]>();
  #t: HubbleTables;
  readonly #boot: bigint;

  constructor(t: HubbleTables) {
    this.#t = t;
    this.#boot = t.bootTimeNs ?? BigInt(Math.round(performance.timeOrigin * 1e6 + performance.now() * 1e6)) - process.hrtime.bigint();
    this.setTables(t);
  }

  /** A new bundle's tables. */
  setTables(t: HubbleTables): void {
    this.#t = t;
    this.#byIp = new Map(t.endpoints.flatMap((e) => e.ips.map((ip) => [ip, e] as const)));
    this.#labels = new Map(t.identities.map((i) => [i.identity, i.labels]));
    this.#cookies = new Map(t.cookies.map((c) => [c.cookie, c]));
  }

  #endpoint(ip: string, identity: number): Record<string, unknown> {
    const ep = this.#byIp.get(ip);
    const labels = [...(this.#labels.get(ep?.identity ?? identity) ?? [])].sort();
    const [namespace, pod] = ep ? ep.endpoint.split('/') : [];
    return {
      ...(ep ? { ID: ep.endpointId } : {}),
      identity: ep?.identity ?? identity,
      ...(namespace ? { namespace } : {}),
      ...(labels.length ? { labels } : {}),
      ...(pod ? { pod_name: pod } : {}),
    };
  }

  /** The Hubble JSON object of one event. */
  encode(e: NetEvent): Record<string, unknown> {
    const t = this.#boot + e.tsNs;
    const time = `${new Date(Number(t / 1_000_000_000n) * 1000).toISOString().slice(0, 19)}.${(t % 1_000_000_000n).toString().padStart(9, '0')}Z`;
    const verdict = e.audit
      ? 'AUDIT'
      : e.verdict === WEIR_VERDICT_DENY
        ? 'DROPPED'
        : e.verdict === WEIR_VERDICT_REDIRECT
          ? 'REDIRECTED'
          : 'FORWARDED';
    const denied = e.verdict === WEIR_VERDICT_DENY || e.audit;
    const drop = e.reason === 'default-deny' ? DROP.default : DROP.deny;
    const l4name = L4[e.protocol];
    const l4 =
      l4name === 'TCP' || l4name === 'UDP' || l4name === 'SCTP'
        ? { [l4name]: { source_port: e.sport, destination_port: e.dport } }
        : l4name
          ? { [l4name]: {} }
          : undefined;
    const origin = this.#cookies.get(e.cookie);
    const policy = origin
      ? [{ name: origin.name, ...(origin.namespace ? { namespace: origin.namespace } : {}), kind: origin.kind }]
      : undefined;
    const by = policy ? { [`${e.direction}_${denied ? 'denied' : 'allowed'}_by`]: policy } : {};
    const flow: Record<string, unknown> = {
      time,
      verdict,
      ...(denied ? { drop_reason: drop.code, drop_reason_desc: drop.desc } : {}),
      IP: { source: e.saddr, destination: e.daddr, ipVersion: e.family === 6 ? 'IPv6' : 'IPv4' },
      ...(l4 ? { l4 } : {}),
      source: this.#endpoint(e.saddr, e.srcIdentity),
      destination: this.#endpoint(e.daddr, e.dstIdentity),
      Type: 'L3_L4',
      node_name: this.#t.node,
      traffic_direction: e.direction === 'egress' ? 'EGRESS' : 'INGRESS',
      ...by,
      is_reply: false,
      Summary: `${l4name ?? `proto ${e.protocol}`} ${e.saddr}${l4name === 'TCP' || l4name === 'UDP' ? `:${e.sport}` : ''} -> ${e.daddr}${l4name === 'TCP' || l4name === 'UDP' ? `:${e.dport}` : ''} ${verdict.toLowerCase()}${denied ? ` (${drop.desc})` : ''}`,
    };
    return { flow, node_name: this.#t.node, time };
  }

  jsonLine(e: NetEvent): string {
    return JSON.stringify(this.encode(e));
  }
}
