import { describe, expect, it } from 'vitest';
import type { LintRule } from '../../../compiler/lint/rule.js';
import {
  ciliumDnsOnIngress,
  ciliumFqdnSelector,
  ciliumHostPolicyL7,
  ciliumIcmpWithPorts,
  ciliumL7Ports,
  ciliumL7RuleTypes,
  ciliumCidrSetSource,
  ciliumListener,
  ciliumNoRuleSections,
  ciliumPortRequired,
  ciliumServerNames,
  ciliumSubjectSelector,
  ciliumServicesWithPorts,
  ciliumTooManyPorts,
} from '../../../compiler/lint/rules/cilium-sanitize.js';
import { check, cnp, lintAll, where } from '../harness.js';

interface Case {
  name: string;
  yaml: string;
  expect: string[];
  message?: RegExp;
}

const ports = (n: number) => Array.from({ length: n }, (_, i) => `{port: "${1000 + i}", protocol: TCP}`).join(', ');
const fields = (n: number) => Array.from({ length: n }, () => '{type: 8}').join(', ');

const table: { rule: LintRule; severity: 'error' | 'warning' | 'info'; cases: Case[] }[] = [
  {
    rule: ciliumIcmpWithPorts,
    severity: 'error',
    cases: [
      {
        name: 'icmps and toPorts in one rule',
        yaml: cnp(
          'endpointSelector: {}\negress:\n- toEndpoints: [{}]\n  icmps: [{fields: [{type: 8}]}]\n  toPorts: [{ports: [{port: "80"}]}]',
        ),
        expect: ['cilium/icmp-with-ports@11:5'],
        message: /"The ICMPs block may only be present without ToPorts"\); write two rules with the same peers/,
      },
      {
        name: 'toPorts first: points at icmps',
        yaml: cnp('endpointSelector: {}\ningress:\n- toPorts: [{ports: [{port: "80"}]}]\n  icmps: [{fields: [{type: 8}]}]'),
        expect: ['cilium/icmp-with-ports@10:5'],
      },
      {
        name: 'deny sections too',
        yaml: cnp('endpointSelector: {}\ningressDeny:\n- icmps: [{fields: [{type: 8}]}]\n  toPorts: [{ports: [{port: "80"}]}]'),
        expect: ['cilium/icmp-with-ports@10:5'],
      },
      {
        name: 'separate rules are accepted',
        yaml: cnp('endpointSelector: {}\negress:\n- icmps: [{fields: [{type: 8}]}]\n- toPorts: [{ports: [{port: "80"}]}]'),
        expect: [],
      },
      {
        name: 'empty toPorts does not count',
        yaml: cnp('endpointSelector: {}\negress:\n- icmps: [{fields: [{type: 8}]}]\n  toPorts: []'),
        expect: [],
      },
    ],
  },
  {
    rule: ciliumServicesWithPorts,
    severity: 'info',
    cases: [
      {
        name: 'toServices with toPorts',
        yaml: cnp(
          'endpointSelector: {}\negress:\n- toServices: [{k8sService: {serviceName: api, namespace: default}}]\n  toPorts: [{ports: [{port: "443"}]}]',
        ),
        expect: ['cilium/services-with-ports@10:5'],
        message: /"Combining ToServices and ToPorts is not supported yet"\).*select the service's pods with `toEndpoints`/,
      },
      {
        name: 'toServices alone',
        yaml: cnp('endpointSelector: {}\negress:\n- toServices: [{k8sService: {serviceName: api, namespace: default}}]'),
        expect: [],
      },
    ],
  },
  {
    rule: ciliumDnsOnIngress,
    severity: 'error',
    cases: [
      {
        name: 'DNS rules on ingress',
        yaml: cnp(
          'endpointSelector: {}\ningress:\n- toPorts:\n  - ports: [{port: "53", protocol: ANY}]\n    rules:\n      dns: [{matchPattern: "*"}]',
        ),
        expect: ['cilium/dns-on-ingress@12:9'],
        message: /"DNS rules are not allowed on ingress"\).*put the DNS rule on the egress rule of the clients/,
      },
      {
        name: 'DNS rules on egress',
        yaml: cnp(
          'endpointSelector: {}\negress:\n- toPorts:\n  - ports: [{port: "53", protocol: ANY}]\n    rules:\n      dns: [{matchPattern: "*"}]',
        ),
        expect: [],
      },
      {
        name: 'HTTP rules on ingress',
        yaml: cnp(
          'endpointSelector: {}\ningress:\n- toPorts:\n  - ports: [{port: "80", protocol: TCP}]\n    rules:\n      http: [{method: GET}]',
        ),
        expect: [],
      },
    ],
  },
  {
    rule: ciliumTooManyPorts,
    severity: 'error',
    cases: [
      { name: '40 ports', yaml: cnp(`endpointSelector: {}\negress:\n- toPorts:\n  - ports: [${ports(40)}]`), expect: [] },
      {
        name: '41 ports: the 41st is flagged',
        yaml: cnp(
          `endpointSelector: {}\negress:\n- toPorts:\n  - ports:\n${Array.from({ length: 41 }, (_, i) => `    - {port: "${2000 + i}"}`).join('\n')}`,
        ),
        expect: ['cilium/too-many-ports@51:9'],
        message: /lists 41 ports; Cilium refuses more than 40 in one entry \("too many ports, the max is 40"\): split them/,
      },
      {
        name: 'deny ports too',
        yaml: cnp(`endpointSelector: {}\negressDeny:\n- toPorts:\n  - ports: [${ports(45)}]`),
        expect: ['cilium/too-many-ports@10:1255'],
      },
      { name: '40 ICMP fields', yaml: cnp(`endpointSelector: {}\negress:\n- icmps: [{fields: [${fields(40)}]}]`), expect: [] },
      {
        name: '41 ICMP fields',
        yaml: cnp(`endpointSelector: {}\negress:\n- icmps: [{fields: [${fields(41)}]}]`),
        expect: ['cilium/too-many-ports@9:463'],
        message: /"too many types, the max is 40"/,
      },
    ],
  },
  {
    rule: ciliumL7RuleTypes,
    severity: 'error',
    cases: [
      {
        name: 'http and dns in one rules block',
        yaml: cnp(
          'endpointSelector: {}\negress:\n- toPorts:\n  - ports: [{port: "80", protocol: TCP}]\n    rules:\n      http: [{method: GET}]\n      dns: [{matchPattern: "*"}]',
        ),
        expect: ['cilium/l7-rule-types@13:9'],
        message:
          /names `http` and `dns`; Cilium refuses .*"multiple L7 protocol rule types specified in single rule"\): write one toPorts entry per protocol/,
      },
      {
        name: 'http and kafka',
        yaml: cnp(
          'endpointSelector: {}\ningress:\n- toPorts:\n  - ports: [{port: "80", protocol: TCP}]\n    rules: {kafka: [{topic: t}], http: [{method: GET}]}',
        ),
        expect: ['cilium/l7-rule-types@11:36'],
      },
      {
        name: 'http and l7proto',
        yaml: cnp(
          'endpointSelector: {}\ningress:\n- toPorts:\n  - ports: [{port: "80", protocol: TCP}]\n    rules: {http: [{}], l7proto: r2d2}',
        ),
        expect: ['cilium/l7-rule-types@11:27'],
      },
      {
        name: 'l7 without l7proto',
        yaml: cnp('endpointSelector: {}\ningress:\n- toPorts:\n  - ports: [{port: "80", protocol: TCP}]\n    rules: {l7: [{cmd: READ}]}'),
        expect: ['cilium/l7-rule-types@11:15'],
        message: /'l7' may only be specified when a 'l7proto' is also specified/,
      },
      {
        name: 'one type',
        yaml: cnp(
          'endpointSelector: {}\ningress:\n- toPorts:\n  - ports: [{port: "80", protocol: TCP}]\n    rules: {l7proto: r2d2, l7: [{cmd: READ}]}',
        ),
        expect: [],
      },
    ],
  },
  {
    rule: ciliumL7Ports,
    severity: 'error',
    cases: [
      {
        name: 'DNS rules without ports',
        yaml: cnp('endpointSelector: {}\negress:\n- toPorts:\n  - rules:\n      dns: [{matchPattern: "*"}]'),
        expect: ['cilium/l7-ports@11:9'],
        message: /"port 53 must be specified for DNS rules"\): add `ports: \[\{port: "53", protocol: ANY\}\]`/,
      },
      {
        name: 'DNS rules on a range',
        yaml: cnp(
          'endpointSelector: {}\negress:\n- toPorts:\n  - ports: [{port: "53", endPort: 54, protocol: ANY}]\n    rules: {dns: [{matchPattern: "*"}]}',
        ),
        expect: ['cilium/l7-ports@10:28'],
        message: /"DNS rules do not support port ranges"/,
      },
      {
        name: 'HTTP on port 0',
        yaml: cnp(
          'endpointSelector: {}\ningress:\n- toPorts:\n  - ports: [{port: "0", protocol: TCP}]\n    rules: {http: [{method: GET}]}',
        ),
        expect: ['cilium/l7-ports@10:22'],
        message: /"L7 rules can not be used when a port is 0"\): list the ports/,
      },
      {
        name: 'port 0 without L7 rules is every port',
        yaml: cnp('endpointSelector: {}\ningress:\n- toPorts:\n  - ports: [{port: "0", protocol: TCP}]'),
        expect: [],
      },
      {
        name: 'DNS on port 53',
        yaml: cnp(
          'endpointSelector: {}\negress:\n- toPorts:\n  - ports: [{port: "53", protocol: ANY}]\n    rules: {dns: [{matchPattern: "*"}]}',
        ),
        expect: [],
      },
    ],
  },
  {
    rule: ciliumServerNames,
    severity: 'error',
    cases: [
      {
        name: 'serverNames with HTTP rules, no TLS termination',
        yaml: cnp(
          'endpointSelector: {}\negress:\n- toPorts:\n  - ports: [{port: "443", protocol: TCP}]\n    serverNames: [api.example]\n    rules: {http: [{method: GET}]}',
        ),
        expect: ['cilium/server-names@11:7'],
        message: /"ServerNames are not allowed with L7 rules without TLS termination"\): add `terminatingTLS`/,
      },
      {
        name: 'with terminatingTLS',
        yaml: cnp(
          'endpointSelector: {}\negress:\n- toPorts:\n  - ports: [{port: "443", protocol: TCP}]\n    serverNames: [api.example]\n    terminatingTLS: {secret: {name: s}}\n    rules: {http: [{method: GET}]}',
        ),
        expect: [],
      },
      {
        name: 'empty server name',
        yaml: cnp('endpointSelector: {}\negress:\n- toPorts:\n  - ports: [{port: "443", protocol: TCP}]\n    serverNames: [a.example, ""]'),
        expect: ['cilium/server-names@11:32'],
        message: /"empty server name is not allowed"/,
      },
    ],
  },
  {
    rule: ciliumListener,
    severity: 'error',
    cases: [
      {
        name: 'listener on ingress',
        yaml: cnp(
          'endpointSelector: {}\ningress:\n- toPorts:\n  - ports: [{port: "80", protocol: TCP}]\n    listener: {envoyConfig: {kind: CiliumEnvoyConfig, name: c}, name: l}',
        ),
        expect: ['cilium/listener@11:7'],
        message: /"Listener is not allowed on ingress"/,
      },
      {
        name: 'listener with L7 rules',
        yaml: cnp(
          'endpointSelector: {}\negress:\n- toPorts:\n  - ports: [{port: "80", protocol: TCP}]\n    listener: {envoyConfig: {kind: CiliumEnvoyConfig, name: c}, name: l}\n    rules: {http: [{method: GET}]}',
        ),
        expect: ['cilium/listener@12:7'],
        message: /"Listener is not allowed with L7 rules"/,
      },
      {
        name: 'listener on egress',
        yaml: cnp(
          'endpointSelector: {}\negress:\n- toPorts:\n  - ports: [{port: "80", protocol: TCP}]\n    listener: {envoyConfig: {kind: CiliumEnvoyConfig, name: c}, name: l}',
        ),
        expect: [],
      },
    ],
  },
  {
    rule: ciliumHostPolicyL7,
    severity: 'error',
    cases: [
      {
        name: 'HTTP rules in a host policy (ingress)',
        yaml: cnp('nodeSelector: {}\ningress:\n- toPorts:\n  - ports: [{port: "80", protocol: TCP}]\n    rules: {http: [{method: GET}]}'),
        expect: ['cilium/host-policy-l7@11:15'],
        message: /"L7 policy is not supported on host ingress yet"\): enforce the L7 rules in a policy for the pods/,
      },
      {
        name: 'HTTP rules in a host policy (egress)',
        yaml: cnp('nodeSelector: {}\negress:\n- toPorts:\n  - ports: [{port: "80", protocol: TCP}]\n    rules: {http: [{method: GET}]}'),
        expect: ['cilium/host-policy-l7@11:15'],
        message: /"L7 protocol HTTP is not supported on host egress yet"/,
      },
      {
        name: 'generic l7 rules on host egress are accepted (Cilium counts HTTP and Kafka there)',
        yaml: cnp(
          'nodeSelector: {}\negress:\n- toPorts:\n  - ports: [{port: "6379", protocol: TCP}]\n    rules: {l7proto: redis, l7: [{cmd: GET}]}',
        ),
        expect: [],
      },
      {
        name: 'l7proto without l7 rules is no L7 rule (L7Rules.IsEmpty does not look at it)',
        yaml: cnp('nodeSelector: {}\ningress:\n- toPorts:\n  - ports: [{port: "6379", protocol: TCP}]\n    rules: {l7proto: redis}'),
        expect: [],
      },
      {
        name: 'DNS rules on host egress are accepted',
        yaml: cnp(
          'nodeSelector: {}\negress:\n- toPorts:\n  - ports: [{port: "53", protocol: ANY}]\n    rules: {dns: [{matchPattern: "*"}]}',
        ),
        expect: [],
      },
      {
        name: 'the same rules for pods',
        yaml: cnp(
          'endpointSelector: {}\ningress:\n- toPorts:\n  - ports: [{port: "80", protocol: TCP}]\n    rules: {http: [{method: GET}]}',
        ),
        expect: [],
      },
      {
        name: 'only the host rule of specs',
        yaml: `apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: p}
specs:
- endpointSelector: {}
  ingress: [{toPorts: [{ports: [{port: "80", protocol: TCP}], rules: {http: [{}]}}]}]
- nodeSelector: {}
  ingress: [{toPorts: [{ports: [{port: "80", protocol: TCP}], rules: {http: [{}]}}]}]
`,
        expect: ['cilium/host-policy-l7@8:71'],
      },
    ],
  },
  {
    rule: ciliumNoRuleSections,
    severity: 'warning',
    cases: [
      {
        name: 'a rule with a selector and nothing else',
        yaml: cnp('endpointSelector: {matchLabels: {app: web}}'),
        expect: ['cilium/no-rule-sections@6:1'],
        message: /"rule must have at least one of Ingress, IngressDeny, Egress, EgressDeny"\); write `ingress: \[\{\}\]`/,
      },
      {
        name: 'an ingressDeny section is a section',
        yaml: cnp('endpointSelector: {}\ningressDeny: [{fromEntities: [world]}]'),
        expect: [],
      },
    ],
  },
  {
    rule: ciliumSubjectSelector,
    severity: 'error',
    cases: [
      {
        name: 'both selectors',
        yaml: cnp('endpointSelector: {}\nnodeSelector: {}\ningress: [{}]'),
        expect: ['cilium/subject-selector@8:3'],
        message: /"rule cannot have both EndpointSelector and NodeSelector"\): a rule selects pods or nodes/,
      },
      {
        name: 'neither',
        yaml: cnp('ingress: [{}]'),
        expect: ['cilium/subject-selector@6:1'],
        message: /"rule must have one of EndpointSelector or NodeSelector"\); write `endpointSelector: \{\}`/,
      },
      { name: 'a host policy', yaml: cnp('nodeSelector: {}\ningress: [{}]'), expect: [] },
      { name: 'an endpoint policy', yaml: cnp('endpointSelector: {}\ningress: [{}]'), expect: [] },
    ],
  },
  {
    rule: ciliumCidrSetSource,
    severity: 'error',
    cases: [
      {
        name: 'cidr and cidrGroupRef',
        yaml: cnp('endpointSelector: {}\negress:\n- toCIDRSet: [{cidr: 10.0.0.0/8, cidrGroupRef: offices}]'),
        expect: ['cilium/cidr-set-source@9:36'],
        message:
          /gives `cidr` and `cidrGroupRef`: Cilium refuses more than one \("more than one of cidr, cidrGroupRef, or cidrGroupSelector may not be set"\)/,
      },
      {
        name: 'no source',
        yaml: cnp('endpointSelector: {}\ningress:\n- fromCIDRSet: [{except: [10.0.0.0/9]}]'),
        expect: ['cilium/cidr-set-source@9:19'],
        message: /"one of cidr, cidrGroupRef, or cidrGroupSelector is required"/,
      },
      { name: 'a group alone', yaml: cnp('endpointSelector: {}\negress:\n- toCIDRSet: [{cidrGroupRef: offices}]'), expect: [] },
    ],
  },
  {
    rule: ciliumPortRequired,
    severity: 'error',
    cases: [
      {
        name: 'TCP without a port',
        yaml: cnp('endpointSelector: {}\negress:\n- toPorts: [{ports: [{protocol: TCP}]}]'),
        expect: ['cilium/port-required@9:24'],
        message: /this TCP port entry gives no port: Cilium refuses it \("port must be specified"\); write `port: "0"`/,
      },
      { name: 'VRRP has no ports', yaml: cnp('endpointSelector: {}\negress:\n- toPorts: [{ports: [{protocol: VRRP}]}]'), expect: [] },
      { name: 'port 0', yaml: cnp('endpointSelector: {}\negress:\n- toPorts: [{ports: [{port: "0", protocol: TCP}]}]'), expect: [] },
    ],
  },
  {
    rule: ciliumFqdnSelector,
    severity: 'error',
    cases: [
      {
        name: 'matchName and matchPattern in one toFQDNs entry',
        yaml: cnp('endpointSelector: {}\negress:\n- toFQDNs: [{matchName: api.example.com, matchPattern: "*.example.com"}]'),
        expect: ['cilium/fqdn-selector@9:44'],
        message: /"only one of MatchName or MatchPattern is allowed in an FQDNSelector"\); write one entry for each/,
      },
      {
        name: 'one each',
        yaml: cnp('endpointSelector: {}\negress:\n- toFQDNs: [{matchName: api.example.com}, {matchPattern: "*.example.com"}]'),
        expect: [],
      },
      {
        name: 'both in a DNS rule are allowed',
        yaml: cnp(
          'endpointSelector: {}\negress:\n- toPorts:\n  - ports: [{port: "53", protocol: ANY}]\n    rules: {dns: [{matchName: a.example, matchPattern: "*.example"}]}',
        ),
        expect: [],
      },
    ],
  },
];

for (const { rule, severity, cases } of table)
  describe(rule.meta.id, () => {
    it.each(cases)('$name', ({ yaml, expect: want, message }) => {
      const got = check(rule, yaml);
      expect(got.map(where)).toEqual(want);
      if (message) expect(got[0]?.message).toMatch(message);
      for (const d of got) expect(d.severity).toBe(severity);
    });
  });

describe('Cilium rule validation through the whole lint stage', () => {
  it('toFQDNs with another peer kind is refused (cilium/peer-kinds)', () => {
    const got = lintAll(cnp('endpointSelector: {}\negress:\n- toFQDNs: [{matchName: a.example}]\n  toCIDR: [10.0.0.0/8]'));
    expect(got.filter((d) => d.severity === 'error').map(where)).toEqual(['cilium/peer-kinds@10:5']);
    expect(got.find((d) => d.rule === 'cilium/peer-kinds')?.message).toContain('"Combining ToFQDNs and ToCIDR is not supported yet"');
  });

  it('a policy the agent accepts gets none of these findings', () => {
    const ids = new Set(table.map((t) => t.rule.meta.id));
    const got = lintAll(
      cnp(`endpointSelector: {matchLabels: {app: a}}
egress:
- toEndpoints: [{matchLabels: {app: dns}}]
  toPorts:
  - ports: [{port: "53", protocol: ANY}]
    rules: {dns: [{matchPattern: "*.example"}]}
- toFQDNs: [{matchPattern: "*.example"}]
  toPorts: [{ports: [${ports(40)}]}]
- toEndpoints: [{}]
  icmps: [{fields: [{type: 8}]}]
ingress:
- fromEndpoints: [{}]
  toPorts:
  - ports: [{port: "80", protocol: TCP}]
    rules: {http: [{method: GET}]}`),
    );
    expect(got.filter((d) => ids.has(d.rule))).toEqual([]);
  });
});
