// toFQDNs only allows IPs Cilium's DNS proxy has seen answered: without a DNS rule it allows nothing.
import type { PolicyDocument } from '../../load/index.js';
import { ciliumKinds, ciliumRules, ciliumSections, portRules } from '../cilium.js';
import { asArray, isObj, type Obj } from '../../model/value.js';
import type { LintRule } from '../rule.js';

interface DnsProvider {
  namespace: string | undefined;
  /** matchLabels of the subject selector; {} selects every endpoint (of the namespace). */
  labels: Record<string, unknown>;
}

/** DNS providers by namespace (undefined: clusterwide), plus the documents that are providers. */
interface ProviderIndex {
  byNamespace: Map<string | undefined, DnsProvider[]>;
  docs: Set<PolicyDocument>;
}

const providers = new WeakMap<readonly PolicyDocument[], ProviderIndex>();

function hasDnsRule(d: PolicyDocument): boolean {
  return portRules(d).some((p) => p.dir === 'egress' && isObj(p.portRule['rules']) && 'dns' in p.portRule['rules']);
}

/** Policies of the run that send some endpoints' DNS through the proxy, with whom they select. */
function dnsProviders(docs: readonly PolicyDocument[]): ProviderIndex {
  let index = providers.get(docs);
  if (index) return index;
  index = { byNamespace: new Map(), docs: new Set() };
  const out = index;
  for (const d of docs) {
    if (!ciliumKinds.includes(d.kind as (typeof ciliumKinds)[number])) continue;
    if (!hasDnsRule(d)) continue;
    out.docs.add(d);
    for (const { rule } of ciliumRules(d)) {
      const sel = isObj(rule['endpointSelector']) ? rule['endpointSelector'] : {};
      if (asArray(sel['matchExpressions']).length > 0) continue; // too clever to reason about here
      const namespace = d.kind === 'CiliumClusterwideNetworkPolicy' ? undefined : (d.namespace ?? 'default');
      const list = out.byNamespace.get(namespace) ?? [];
      list.push({ namespace, labels: isObj(sel['matchLabels']) ? sel['matchLabels'] : {} });
      out.byNamespace.set(namespace, list);
    }
  }
  providers.set(docs, index);
  return index;
}

/** Whether a DNS policy's subject covers every endpoint this rule selects (its labels are a subset). */
function covers(p: DnsProvider, ns: string | undefined, subject: Obj): boolean {
  if (p.namespace !== undefined && p.namespace !== ns) return false;
  const mine = isObj(subject['matchLabels']) ? subject['matchLabels'] : {};
  return Object.entries(p.labels).every(([k, v]) => mine[k] === v || mine[k.replace(/^(k8s|any):/, '')] === v || mine[`k8s:${k}`] === v);
}

export const fqdnNeedsDns: LintRule = {
  meta: {
    id: 'cilium/fqdn-without-dns-rule',
    severity: 'warning',
    description:
      'A rule uses `toFQDNs`, but no policy of the run sends the selected endpoints’ DNS through the DNS proxy (`toPorts.rules.dns`).',
    rationale:
      'Cilium learns the IPs behind a name from DNS answers its proxy intercepts. Without an egress rule with `rules: {dns: [...]}` covering the same endpoints (in this policy or another one selecting them, such as a namespace baseline), no answer is seen, the FQDN selector resolves to no IP and the traffic is dropped.',
    fixable: false,
    kinds: ciliumKinds,
    example: 'egress: [{toFQDNs: [{matchName: api.example.com}]}]',
  },
  check(ctx) {
    const ns = ctx.doc.kind === 'CiliumClusterwideNetworkPolicy' ? undefined : (ctx.doc.namespace ?? 'default');
    // A policy whose own egress carries a DNS rule covers its own endpoints.
    if (hasDnsRule(ctx.doc)) return;
    const index = dnsProviders(ctx.documents);
    const dns = [...(index.byNamespace.get(ns) ?? []), ...(ns === undefined ? [] : (index.byNamespace.get(undefined) ?? []))];
    for (const { dir, section, path, rulePath } of ciliumSections(ctx.doc)) {
      if (dir !== 'egress' || asArray(section['toFQDNs']).length === 0) continue;
      let rule: unknown = ctx.doc.value;
      for (const seg of rulePath) rule = (rule as Record<string | number, unknown>)[seg];
      const subject = isObj(rule) && isObj(rule['endpointSelector']) ? rule['endpointSelector'] : {};
      if (dns.some((p) => covers(p, ns, subject))) continue;
      ctx.report(
        [...path, 'toFQDNs'],
        'toFQDNs without a DNS rule for these endpoints: add an egress rule to kube-dns with `toPorts: [{ports: [{port: "53", protocol: ANY}], rules: {dns: [{matchPattern: "*"}]}}]` (here or in a policy selecting the same endpoints), or the names never resolve to allowed IPs',
        { key: true },
      );
    }
  },
};
