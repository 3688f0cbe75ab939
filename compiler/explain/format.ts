// Human-readable renderings shared by the network commands: diagnostics, map dumps in the
// style of `cilium bpf policy get`, and peer/port parsing for command-line flows.
import { formatLocation, type Diagnostic } from '../diagnostics.js';
import type { FlowPeer } from '../ir/network/evaluate.js';
import { protoName, type NetworkIR } from '../ir/network/types.js';
import type { MapEntry } from '../lower/network/mapstate.js';
import { WEIR_FLAG_AUDIT } from '../../bpf/abi/net.js';
import { parseAddress, parsePrefix } from '../model/cidr.js';
import { reservedIdentities } from '../identity/allocate.js';

export function formatDiagnostic(d: Diagnostic): string {
  return `${formatLocation(d)}: ${d.severity}: ${d.message} [${d.rule}]${d.commit ? ` (commit ${d.commit.slice(0, 12)})` : ''}`;
}

const verdictName = ['Allow', 'Deny', 'Redirect'];

/** The port column: `80/TCP`, `8000-8007/TCP`, `ANY/TCP`, `ANY`. */
export function formatPortPrefix(protocol: number, port: number, prefixlen: number): string {
  if (prefixlen <= 40) return 'ANY';
  const p = protoName[protocol] ?? String(protocol);
  if (prefixlen <= 48) return `ANY/${p}`;
  const size = 2 ** (64 - prefixlen);
  return size === 1 ? `${port}/${p}` : `${port}-${port + size - 1}/${p}`;
}

export function identityLabel(ir: NetworkIR, id: number): string {
  if (id === 0) return 'ANY';
  const i = ir.identities.find((x) => x.id === id);
  if (!i) return String(id);
  const interesting = i.labels.filter(
    (l) =>
      !l.startsWith('k8s:io.cilium.k8s.policy.cluster') &&
      !l.startsWith('k8s:io.cilium.k8s.namespace.labels.') &&
      !l.startsWith('k8s:io.cilium.k8s.policy.serviceaccount'),
  );
  return `${id} ${interesting.join(' ')}`;
}

/** One endpoint's policy map as a table, like `cilium bpf policy get <id>`. */
export function dumpMapState(ir: NetworkIR, endpoint: string, entries: readonly MapEntry[]): string {
  const ep = ir.endpoints.find((e) => e.key === endpoint);
  const head = ep
    ? `Endpoint ${ep.key} (node ${ep.node}, endpoint id ${ep.endpointId}, identity ${ep.identity}; ingress ${ep.ingressEnforced ? (ep.ingressAuditOnly || ep.auditMode ? 'audit' : 'enforced') : 'not enforced'}, egress ${ep.egressEnforced ? (ep.egressAuditOnly || ep.auditMode ? 'audit' : 'enforced') : 'not enforced'})`
    : `Endpoint ${endpoint}`;
  const rows = [['POLICY', 'DIRECTION', 'IDENTITY', 'PORT/PROTO', 'PREFIX', 'PRECEDENCE', 'PROXY', 'AUTH', 'RULE']];
  const sorted = [...entries].sort(
    (a, b) =>
      a.key.direction - b.key.direction ||
      a.key.identity - b.key.identity ||
      a.key.protocol - b.key.protocol ||
      a.key.port - b.key.port ||
      a.key.prefixlen - b.key.prefixlen,
  );
  for (const e of sorted) {
    const o = e.value.cookie ? ir.origins[e.value.cookie - 1] : undefined;
    rows.push([
      `${verdictName[e.value.verdict] ?? e.value.verdict}${e.value.flags & WEIR_FLAG_AUDIT ? ' (audit)' : ''}`,
      e.key.direction === 0 ? 'Ingress' : 'Egress',
      identityLabel(ir, e.key.identity),
      formatPortPrefix(e.key.protocol, e.key.port, e.key.prefixlen),
      String(e.key.prefixlen),
      String(e.value.precedence),
      e.value.proxyPort ? `l7#${e.value.proxyPort}` : '-',
      e.value.auth === 2 ? 'required' : e.value.auth === 1 ? 'disabled' : '-',
      o ? `${o.policy} ${o.file}:${o.line}` : e.value.flags & WEIR_FLAG_AUDIT ? 'audit mode default' : '-',
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) =>
    r
      .map((x, c) => (c === r.length - 1 ? x : x.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd(),
  );
  return `${head}\n${lines.join('\n')}\n${entries.length === 0 ? '(no entries)\n' : ''}`;
}

/**
 * A peer as written on the command line: `ns/pod`, an address, a CIDR, a reserved entity
 * name (`world`, `host`, ...) or `fqdn:NAME@IP`.
 */
export function parsePeer(s: string): FlowPeer | string {
  if (s.startsWith('fqdn:')) {
    const [name, ip] = s.slice(5).split('@');
    if (!name || !ip || !parseAddress(ip)) return `"${s}": write fqdn:NAME@IP, e.g. fqdn:api.github.com@140.82.112.5`;
    return { fqdn: name, ip };
  }
  if (s.startsWith('entity:')) s = s.slice(7);
  if (Object.hasOwn(reservedIdentities, s)) return { entity: s };
  if (parseAddress(s)) return { ip: s };
  if (s.includes('/') && parsePrefix(s)) return { cidr: s };
  if (/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[^/]+$/.test(s)) return { workload: s };
  return `"${s}" is not a peer: write namespace/pod, an IP address, a CIDR, an entity (world, host, ...) or fqdn:NAME@IP`;
}

/** `80/TCP`, `53/udp`, `8/ICMP`, or `80` (TCP). */
export function parsePort(s: string): { port: number; protocol: string } | string {
  const m = /^(\d{1,5})(?:\/([A-Za-z0-9]+))?$/.exec(s);
  if (!m || Number(m[1]) > 65535) return `--port ${JSON.stringify(s)}: write N/PROTO, e.g. 80/TCP`;
  const protocol = (m[2] ?? 'TCP').toUpperCase();
  if (!['TCP', 'UDP', 'SCTP', 'ICMP', 'ICMPV6'].includes(protocol))
    return `--port ${JSON.stringify(s)}: protocol must be TCP, UDP, SCTP, ICMP or ICMPv6`;
  return { port: Number(m[1]), protocol: protocol === 'ICMPV6' ? 'ICMPv6' : protocol };
}
