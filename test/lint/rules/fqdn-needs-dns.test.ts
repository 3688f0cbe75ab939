import { describe, expect, it } from 'vitest';
import { fqdnNeedsDns } from '../../../compiler/lint/rules/fqdn-needs-dns.js';
import { check, cnp, where } from '../harness.js';

const fqdn = 'endpointSelector: {matchLabels: {app: crawler}}\negress:\n- toFQDNs: [{matchName: api.github.com}]';
const dnsRule =
  '- toEndpoints: [{matchLabels: {"k8s:k8s-app": kube-dns}}]\n  toPorts: [{ports: [{port: "53", protocol: ANY}], rules: {dns: [{matchPattern: "*"}]}}]';
const baseline = (selector: string, ns = 'default') =>
  `apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: dns, namespace: ${ns}}\nspec:\n  endpointSelector: ${selector}\n  egress:\n  ${dnsRule.replace(/\n/g, '\n  ')}\n`;

const cases: { name: string; yaml: string; expect: string[] }[] = [
  { name: 'DNS rule in the same policy', yaml: cnp(`${fqdn}\n${dnsRule}`), expect: [] },
  { name: 'no DNS rule anywhere', yaml: cnp(fqdn), expect: ['cilium/fqdn-without-dns-rule@9:5'] },
  { name: 'namespace baseline with an empty selector covers it', yaml: `${cnp(fqdn)}---\n${baseline('{}')}`, expect: [] },
  {
    name: 'baseline selecting other pods does not',
    yaml: `${cnp(fqdn)}---\n${baseline('{matchLabels: {app: web}}')}`,
    expect: ['cilium/fqdn-without-dns-rule@9:5'],
  },
  {
    name: 'baseline in another namespace does not',
    yaml: `${cnp(fqdn)}---\n${baseline('{}', 'other')}`,
    expect: ['cilium/fqdn-without-dns-rule@9:5'],
  },
  {
    name: 'clusterwide DNS policy covers every namespace',
    yaml: `${cnp(fqdn)}---\napiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: dns}\nspec:\n  endpointSelector: {}\n  egress:\n  ${dnsRule.replace(/\n/g, '\n  ')}\n`,
    expect: [],
  },
];

describe('cilium/fqdn-without-dns-rule', () => {
  it.each(cases)('$name', ({ yaml, expect: want }) => {
    expect(check(fqdnNeedsDns, yaml).map(where)).toEqual(want);
  });
});
