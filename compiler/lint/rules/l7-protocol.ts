// L7 rules are enforced by a proxy that only sees TCP streams (DNS aside).
import { ciliumKinds, portRules } from '../cilium.js';
import { asArray, isObj } from '../../model/value.js';
import type { LintRule } from '../rule.js';

export const l7Protocol: LintRule = {
  meta: {
    id: 'cilium/l7-on-non-tcp',
    severity: 'error',
    description:
      'HTTP, Kafka or generic L7 rules on a port whose protocol is not TCP (ANY and an omitted protocol included), or DNS rules on a protocol other than UDP/TCP/ANY.',
    rationale:
      'Cilium redirects L7 traffic to Envoy (HTTP, Kafka, l7proto) or its DNS proxy. Envoy only terminates TCP: the agent refuses HTTP, Kafka and generic L7 rules on any port whose protocol is not exactly TCP ("L7 rules can only apply to TCP (not ANY) except for DNS rules"; an omitted protocol is ANY), and no node enforces the policy.',
    fixable: false,
    kinds: ciliumKinds,
    example: 'toPorts: [{ports: [{port: "80", protocol: UDP}], rules: {http: [{method: GET}]}}]',
  },
  check(ctx) {
    for (const { portRule, path } of portRules(ctx.doc)) {
      const rules = portRule['rules'];
      if (!isObj(rules)) continue;
      const l7 = ['http', 'kafka', 'l7', 'l7proto'].filter(
        (k) => k in rules && !(Array.isArray(rules[k]) && (rules[k] as unknown[]).length === 0),
      );
      // Cilium exempts every port of an entry with DNS rules from the TCP check.
      const dns = 'dns' in rules;
      asArray(portRule['ports']).forEach((p, i) => {
        if (!isObj(p)) return;
        const given = typeof p['protocol'] === 'string';
        const proto = given ? (p['protocol'] as string).toUpperCase() : 'ANY';
        if (l7.length > 0 && !dns && proto !== 'TCP')
          ctx.report(
            given ? [...path, 'ports', i, 'protocol'] : [...path, 'ports', i],
            `${l7.join('/')} rules need \`protocol: TCP\`, but this port is ${given ? proto : 'ANY (no protocol given)'}; Envoy only parses TCP, so Cilium refuses the rule ("L7 rules can only apply to TCP (not ${proto}) except for DNS rules"): write \`protocol: TCP\``,
          );
        if (dns && !['UDP', 'TCP', 'ANY'].includes(proto))
          ctx.report([...path, 'ports', i, 'protocol'], `DNS rules need UDP or TCP, but this port is ${proto}`);
      });
    }
  },
};
