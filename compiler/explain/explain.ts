// Explains one flow: the verdict per direction, the deciding rule (policy, file:line, commit)
// and the map entry of the lowered images that implements it, found by the datapath emulator.
import { assembleBundle } from '../bundle/assemble.js';
import { evaluateFlow, ipBlockMatch, protocolNumber, type Flow, type FlowVerdict, type IpBlockMatch } from '../ir/network/evaluate.js';
import type { NetworkIR } from '../ir/network/types.js';
import type { LoweredNetwork } from '../lower/network/images.js';
import { DatapathEmulator } from '../verify/network-emulator.js';
import type { PolicyKey, PolicyValue } from '../../bpf/abi/net.js';
import { formatPortPrefix, identityLabel } from './format.js';

export interface ExplainedStep {
  endpoint: string;
  node: string;
  endpointId: number;
  direction: 'ingress' | 'egress';
  peerIdentity: number;
  verdict: 'allow' | 'deny';
  reason: string;
  audit: boolean;
  rule?: { policy: string; file: string; line: number; commit?: string; path?: string };
  /** The entry the datapath's lookup picks (none: default verdict of the endpoint). */
  mapEntry?: { key: PolicyKey; value: PolicyValue; matchedPrefixlen: number };
  datapath: { verdict: 'allow' | 'deny'; action: string; audit: boolean };
  /** Set when the deciding rule is a NetworkPolicy ipBlock that covers the peer pod's address. */
  ipBlock?: IpBlockMatch;
}

export interface Explanation {
  flow: Flow;
  verdict: 'allow' | 'deny';
  audit: boolean;
  reason: string;
  error?: string;
  steps: ExplainedStep[];
  l7?: FlowVerdict['l7'];
}

export function explainFlow(ir: NetworkIR, lowered: LoweredNetwork, flow: Flow): Explanation {
  const v = evaluateFlow(ir, flow);
  const bundle = assembleBundle([lowered.output], { source: { paths: [] }, compilerVersion: 'explain', abi: { digest: '', version: 1 } });
  const emu = new DatapathEmulator({
    manifest: bundle.manifest,
    blob: (d) => bundle.blobs.get(d)!,
    table: <T>(n: string) => {
      const t = bundle.manifest.tables.find((x) => x.name === n);
      return t ? (JSON.parse(new TextDecoder().decode(bundle.blobs.get(t.digest)!)) as T) : undefined;
    },
  });
  const proto = protocolNumber(flow.protocol) ?? 0;
  const steps: ExplainedStep[] = v.steps.map((s) => {
    const ep = emu.endpoint(s.endpoint)!;
    const d = emu.decide(ep, s.direction === 'ingress' ? 0 : 1, s.peerIdentity, proto, flow.port);
    const o = s.rule ? ir.origins[s.rule.cookie - 1] : undefined;
    return {
      endpoint: s.endpoint,
      node: ep.node,
      endpointId: ep.endpointId,
      direction: s.direction,
      peerIdentity: s.peerIdentity,
      verdict: s.verdict,
      reason: s.reason,
      audit: s.audit,
      ...(o ? { rule: { policy: o.policy, file: o.file, line: o.line, ...(o.commit ? { commit: o.commit } : {}), path: o.path } } : {}),
      ...(d.entry ? { mapEntry: d.entry } : {}),
      datapath: { verdict: d.verdict, action: d.action, audit: d.audit },
    };
  });
  v.steps.forEach((s, i) => {
    const hit = s.rule ? ipBlockMatch(ir, s.rule.cookie, s.direction === 'egress' ? flow.to : flow.from) : undefined;
    if (hit) steps[i]!.ipBlock = hit;
  });
  return {
    flow,
    verdict: v.verdict,
    audit: v.audit,
    reason: v.reason,
    ...(v.error ? { error: v.error } : {}),
    steps,
    ...(v.l7 ? { l7: v.l7 } : {}),
  };
}

const peerText = (p: Flow['from']) =>
  'workload' in p ? p.workload : 'fqdn' in p ? `${p.fqdn} (${p.ip})` : 'cidr' in p ? p.cidr : 'ip' in p ? p.ip : `entity ${p.entity}`;

export function renderExplanation(ir: NetworkIR, x: Explanation): string {
  const f = x.flow;
  const http = f.http ? ` ${f.http.method} ${f.http.path}` : '';
  const lines = [
    `${peerText(f.from)} -> ${peerText(f.to)} ${f.port}/${String(f.protocol).toUpperCase()}${http}: ${x.verdict.toUpperCase()}${x.audit ? ' (audit: would be dropped by an audit-mode policy)' : ''}`,
  ];
  if (x.error) lines.push(`  error: ${x.error}`);
  if (x.steps.length === 0 && !x.error) lines.push('  neither side is an endpoint weir enforces on: nothing to decide');
  for (const s of x.steps) {
    lines.push(
      `  ${s.direction} at ${s.endpoint} (node ${s.node}, endpoint ${s.endpointId}), peer identity ${identityLabel(ir, s.peerIdentity)}: ${s.verdict} (${s.reason})`,
    );
    if (s.rule)
      lines.push(
        `    rule:      ${s.rule.policy} ${s.rule.path ?? ''} at ${s.rule.file}:${s.rule.line}${s.rule.commit ? ` (commit ${s.rule.commit.slice(0, 12)})` : ''}`,
      );
    else if (s.reason === 'icmpv6-exempt')
      lines.push('    rule:      none needed: ICMPv6 neighbour and listener discovery pass regardless of policy, as in Cilium');
    else
      lines.push(
        s.reason === 'allow-localhost'
          ? "    rule:      none needed: the node's host reaches the pods of its node (Cilium's allow-localhost; --allow-localhost policy turns this off)"
          : `    rule:      none matched; ${s.reason === 'not-enforced' ? 'no policy makes this direction default-deny' : 'the direction is default-deny'}`,
      );
    if (s.ipBlock)
      lines.push(
        `    ipBlock:   ${s.ipBlock.pod} has address ${s.ipBlock.address} in ipBlock ${s.ipBlock.block} (a NetworkPolicy ipBlock covers pod addresses)`,
      );
    if (s.mapEntry) {
      const k = s.mapEntry.key;
      const v = s.mapEntry.value;
      lines.push(
        `    map entry: policy map of ${s.endpoint}: {identity ${k.identity === 0 ? 'ANY(0)' : k.identity}, ${k.direction === 0 ? 'ingress' : 'egress'}, ${formatPortPrefix(k.protocol, k.port, k.prefixlen)}, prefixlen ${k.prefixlen}} -> ${['allow', 'deny', 'redirect'][v.verdict]}${v.flags & 1 ? '+audit' : ''}, precedence ${v.precedence}${v.proxyPort ? `, l7 set ${v.proxyPort}` : ''}, cookie ${v.cookie}`,
      );
    } else lines.push(`    map entry: none (the endpoint's default for this direction)`);
    if (s.datapath.action === 'redirect' && (s.reason === 'l7-allow' || s.reason === 'l7-deny'))
      lines.push(
        `    proxy:     the datapath redirects to the L7 proxy, which ${s.reason === 'l7-allow' ? 'admits the request (an HTTP rule matches)' : 'rejects the request (no HTTP rule matches)'}`,
      );
    else if (s.datapath.verdict !== s.verdict) lines.push(`    WARNING: the datapath emulator says ${s.datapath.verdict}; run weir verify`);
  }
  if (x.l7?.http) lines.push(`  L7 HTTP rules on this port: ${x.l7.http.map((h) => `${h.method ?? '*'} ${h.path ?? '*'}`).join(', ')}`);
  return lines.join('\n') + '\n';
}
