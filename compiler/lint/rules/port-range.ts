// Port numbers, names and ranges as Cilium's PortProtocol.Sanitize accepts them.
import { ciliumKinds, portRules } from '../cilium.js';
import { asArray, isObj } from '../../model/value.js';
import type { LintRule } from '../rule.js';

const portNameRe = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const portRange: LintRule = {
  meta: {
    id: 'cilium/port-range',
    severity: 'error',
    description: 'A port is out of range, a named port is malformed or has an endPort, or endPort is below port.',
    rationale:
      'Cilium sanitizes ports: numbers must be 0-65535, names must be IANA service names (lower case, at most 15 characters), a range needs a numeric start and endPort >= port. A policy failing this is not imported.',
    fixable: false,
    kinds: ciliumKinds,
    example: 'ports: [{port: "8080", endPort: 80, protocol: TCP}]',
  },
  check(ctx) {
    for (const { portRule, path } of portRules(ctx.doc))
      asArray(portRule['ports']).forEach((p, i) => {
        if (!isObj(p)) return;
        const at = [...path, 'ports', i];
        const raw = p['port'];
        const end = p['endPort'];
        let num: number | undefined;
        if (typeof raw === 'number') num = raw;
        else if (typeof raw === 'string' && /^\d+$/.test(raw)) num = Number(raw);
        else if (typeof raw === 'string') {
          if (raw.length > 15 || !portNameRe.test(raw))
            ctx.report(
              [...at, 'port'],
              `\`${raw}\` is neither a port number nor a valid port name (lower-case letters, digits and '-', at most 15 characters)`,
            );
          if (end !== undefined) ctx.report([...at, 'endPort'], `endPort needs a numeric port; \`${raw}\` is a named port`);
          return;
        }
        if (num !== undefined && (num < 0 || num > 65535)) ctx.report([...at, 'port'], `port ${num} is outside 0-65535`);
        if (typeof end === 'number' && num !== undefined && end !== 0 && end < num)
          ctx.report([...at, 'endPort'], `endPort ${end} is below port ${num}; the range would be empty`);
      });
  },
};
