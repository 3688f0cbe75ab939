// L7 rules are enforced by a proxy that only sees TCP streams (DNS aside).
import { ciliumKinds, portRules } from '../cilium.js';
import { asArray, isObj } from '../../model/value.js';
import type { LintRule } from '../rule.js';

export const l7Protocol: LintRule = {
  meta: {
    id: 'cilium/l7-on-non-tcp',
    severity: 'error',
    description: 'HTTP, Kafka or generic L7 rules on a port whose protocol is not TCP, or DNS rules on a protocol other than UDP/TCP/ANY.',
    rationale:
      'Cilium redirects L7 traffic to Envoy (HTTP, Kafka, l7proto) or its DNS proxy. Envoy only terminates TCP: Cilium rejects HTTP rules on UDP/SCTP ports, and the rule never takes effect.',
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
      const dns = 'dns' in rules;
      asArray(portRule['ports']).forEach((p, i) => {
        if (!isObj(p)) return;
        const proto = typeof p['protocol'] === 'string' ? p['protocol'].toUpperCase() : 'ANY';
        if (l7.length > 0 && proto !== 'TCP' && proto !== 'ANY')
          ctx.report(
            [...path, 'ports', i, 'protocol'],
            `${l7.join('/')} rules need TCP, but this port is ${proto}; Envoy cannot parse ${proto} traffic, so Cilium refuses the rule`,
          );
        if (dns && !['UDP', 'TCP', 'ANY'].includes(proto))
          ctx.report([...path, 'ports', i, 'protocol'], `DNS rules need UDP or TCP, but this port is ${proto}`);
      });
    }
  },
};
