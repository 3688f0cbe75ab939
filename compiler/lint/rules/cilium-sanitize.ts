// The rest of Cilium's rule validation (pkg/policy/api, the ingress/egress rule, PortRule and
// L7Rules checks every agent runs before it enforces a policy): combinations the CRD schema lets
// through and the agent then refuses, so that no node enforces the policy. Each rule names what the
// agent says and how to write the policy so that it is accepted.
import type { NodePath } from '../../load/index.js';
import { asArray, isObj, type Obj } from '../../model/value.js';
import { ciliumKinds, ciliumRules, ciliumSections, portRules, type Direction } from '../cilium.js';
import type { LintRule } from '../rule.js';

/** Cilium's limit on the ports of one toPorts entry, and on the fields of one icmps entry. */
export const maxPorts = 40;
export const maxIcmpFields = 40;

const nonEmpty = (v: unknown): boolean => Array.isArray(v) && v.length > 0;

/** The L7 rule types a `rules` block names, as Cilium counts them (a present list counts, even empty). */
function l7Types(rules: Obj): string[] {
  // In the order the block writes them: the later one is the one to move to an entry of its own.
  return Object.keys(rules).filter((k) =>
    k === 'l7proto' ? typeof rules[k] === 'string' && rules[k] !== '' : ['http', 'kafka', 'dns'].includes(k) && rules[k] !== null,
  );
}

/**
 * Whether a `rules` block holds any L7 rule (Cilium's L7Rules.IsEmpty, negated): HTTP, Kafka, DNS or
 * generic `l7` rules. `l7proto` alone is no rule (IsEmpty does not look at it).
 */
export function hasL7(rules: unknown): rules is Obj {
  if (!isObj(rules)) return false;
  return nonEmpty(rules['http']) || nonEmpty(rules['kafka']) || nonEmpty(rules['dns']) || nonEmpty(rules['l7']);
}

/** The later of two keys of an object, in the order written: the one to move to a rule of its own. */
function later(o: Obj, a: string, b: string): string {
  const keys = Object.keys(o);
  return keys.indexOf(a) > keys.indexOf(b) ? a : b;
}

const isZeroPort = (p: unknown): boolean => p === 0 || (typeof p === 'string' && /^0+$/.test(p));

export const ciliumIcmpWithPorts: LintRule = {
  meta: {
    id: 'cilium/icmp-with-ports',
    severity: 'error',
    description: 'One ingress or egress rule has both `icmps` and `toPorts`.',
    rationale:
      'Cilium\'s agent refuses such a rule ("The ICMPs block may only be present without ToPorts. Define a separate rule to use ToPorts."), so no node enforces the policy. Two rules (list items), one with the ICMP fields and one with the ports, with the same peers, mean what was intended and are accepted.',
    fixable: false,
    kinds: ciliumKinds,
    example: 'egress:\n- toEndpoints: [{}]\n  icmps: [{fields: [{type: 8}]}]\n  toPorts: [{ports: [{port: "80"}]}]',
  },
  check(ctx) {
    for (const { section, path } of ciliumSections(ctx.doc)) {
      if (!nonEmpty(section['icmps']) || !nonEmpty(section['toPorts'])) continue;
      ctx.report(
        [...path, later(section, 'icmps', 'toPorts')],
        'this rule has both `icmps` and `toPorts`, which Cilium refuses when it applies the policy ("The ICMPs block may only be present without ToPorts"); write two rules with the same peers, one with `icmps` and one with `toPorts`',
        { key: true },
      );
    }
  },
};

export const ciliumServicesWithPorts: LintRule = {
  meta: {
    id: 'cilium/services-with-ports',
    // The newest releases accept the rule and enforce it as written, as weir does: a note, not a warning.
    severity: 'info',
    description: 'One egress rule has both `toServices` and `toPorts`.',
    rationale:
      'What Cilium does with this rule depends on the release: some refuse it ("Combining ToServices and ToPorts is not supported yet") so that no node enforces the policy, older ones applied the ports to every destination instead of the service\'s backends, and the newest enforce it as written. `toEndpoints` selecting the service\'s pods, with `toPorts`, means the same on every release.',
    fixable: false,
    kinds: ciliumKinds,
    example: 'egress:\n- toServices: [{k8sService: {serviceName: api, namespace: default}}]\n  toPorts: [{ports: [{port: "443"}]}]',
  },
  check(ctx) {
    for (const { dir, section, path } of ciliumSections(ctx.doc)) {
      if (!dir.startsWith('egress') || !nonEmpty(section['toServices']) || !nonEmpty(section['toPorts'])) continue;
      ctx.report(
        [...path, 'toPorts'],
        'this rule combines `toServices` with `toPorts`: depending on the release, Cilium refuses it ("Combining ToServices and ToPorts is not supported yet") or, in older releases, allows these ports to every destination; select the service\'s pods with `toEndpoints` and keep `toPorts`, or drop `toPorts` from the `toServices` rule',
        { key: true },
      );
    }
  },
};

export const ciliumDnsOnIngress: LintRule = {
  meta: {
    id: 'cilium/dns-on-ingress',
    severity: 'error',
    description: 'DNS (`rules.dns`) L7 rules on an ingress rule.',
    rationale:
      'Cilium\'s DNS proxy only sees the DNS requests an endpoint sends: the agent refuses DNS rules on ingress ("DNS rules are not allowed on ingress"), so no node enforces the policy. DNS rules belong on the egress rule of the clients, towards the DNS server on port 53.',
    fixable: false,
    kinds: ciliumKinds,
    example: 'ingress:\n- toPorts: [{ports: [{port: "53", protocol: ANY}], rules: {dns: [{matchPattern: "*"}]}}]',
  },
  check(ctx) {
    for (const { portRule, path, dir } of portRules(ctx.doc)) {
      const rules = portRule['rules'];
      if (!dir.startsWith('ingress') || !isObj(rules) || !nonEmpty(rules['dns'])) continue;
      ctx.report(
        [...path, 'rules', 'dns'],
        'Cilium refuses DNS rules on ingress ("DNS rules are not allowed on ingress"): its DNS proxy only sees the requests an endpoint sends; put the DNS rule on the egress rule of the clients, towards the DNS server on port 53',
        { key: true },
      );
    }
  },
};

export const ciliumTooManyPorts: LintRule = {
  meta: {
    id: 'cilium/too-many-ports',
    severity: 'error',
    description: `One \`toPorts\` entry lists more than ${maxPorts} ports, or one \`icmps\` entry more than ${maxIcmpFields} fields.`,
    rationale: `Cilium limits a PortRule to ${maxPorts} ports and an ICMP rule to ${maxIcmpFields} fields; the agent refuses a policy beyond that ("too many ports, the max is ${maxPorts}"), so no node enforces it. Split the list over several \`toPorts\` (or \`icmps\`) entries, or use \`endPort\` ranges.`,
    fixable: false,
    kinds: ciliumKinds,
    example: 'toPorts: [{ports: [{port: "1"}, {port: "2"}, ... 41 ports]}]',
  },
  check(ctx) {
    for (const { portRule, path } of portRules(ctx.doc)) {
      const n = asArray(portRule['ports']).length;
      if (n > maxPorts)
        ctx.report(
          [...path, 'ports', maxPorts],
          `this toPorts entry lists ${n} ports; Cilium refuses more than ${maxPorts} in one entry ("too many ports, the max is ${maxPorts}"): split them over several toPorts entries, or use endPort ranges`,
        );
    }
    for (const { section, path } of ciliumSections(ctx.doc))
      asArray(section['icmps']).forEach((icmp, i) => {
        const n = isObj(icmp) ? asArray(icmp['fields']).length : 0;
        if (n > maxIcmpFields)
          ctx.report(
            [...path, 'icmps', i, 'fields', maxIcmpFields],
            `this icmps entry lists ${n} fields; Cilium refuses more than ${maxIcmpFields} in one entry ("too many types, the max is ${maxIcmpFields}"): split them over several icmps entries`,
          );
      });
  },
};

export const ciliumL7RuleTypes: LintRule = {
  meta: {
    id: 'cilium/l7-rule-types',
    severity: 'error',
    description: 'One `rules` block names several L7 protocols (`http`, `kafka`, `dns`, `l7proto`), or `l7` without `l7proto`.',
    rationale:
      'A port is redirected to one L7 parser. Cilium\'s agent refuses a rules block of two types ("multiple L7 protocol rule types specified in single rule") and generic `l7` rules without the `l7proto` that names their parser, so no node enforces the policy. Use one toPorts entry per protocol, each with its own ports.',
    fixable: false,
    kinds: ciliumKinds,
    example: 'toPorts: [{ports: [{port: "80", protocol: TCP}], rules: {http: [{method: GET}], dns: [{matchPattern: "*"}]}}]',
  },
  check(ctx) {
    for (const { portRule, path } of portRules(ctx.doc)) {
      const rules = portRule['rules'];
      if (!isObj(rules)) continue;
      if (rules['l7'] !== undefined && rules['l7'] !== null && !(typeof rules['l7proto'] === 'string' && rules['l7proto'] !== ''))
        ctx.report(
          [...path, 'rules', 'l7'],
          "Cilium refuses `l7` rules without `l7proto` (\"'l7' may only be specified when a 'l7proto' is also specified\"): name the parser in `l7proto`",
          { key: true },
        );
      if (!hasL7(rules)) continue;
      const types = l7Types(rules);
      if (types.length < 2) continue;
      ctx.report(
        [...path, 'rules', types[1]!],
        `this rules block names ${types.map((t) => `\`${t}\``).join(' and ')}; Cilium refuses more than one L7 protocol in one rule ("multiple L7 protocol rule types specified in single rule"): write one toPorts entry per protocol, each with its own ports`,
        { key: true },
      );
    }
  },
};

export const ciliumL7Ports: LintRule = {
  meta: {
    id: 'cilium/l7-ports',
    severity: 'error',
    description: 'L7 rules on port 0 (every port), DNS rules without ports, or DNS rules on a port range.',
    rationale:
      'Cilium redirects the ports of an L7 rule to a proxy listener, which needs them spelled out: the agent refuses L7 rules when a port is 0 ("L7 rules can not be used when a port is 0"), DNS rules without ports ("port 53 must be specified for DNS rules") and DNS rules on a range ("DNS rules do not support port ranges"), so no node enforces the policy.',
    fixable: false,
    kinds: ciliumKinds,
    example: 'toPorts: [{rules: {dns: [{matchPattern: "*"}]}}]',
  },
  check(ctx) {
    for (const { portRule, path } of portRules(ctx.doc)) {
      const rules = portRule['rules'];
      if (!hasL7(rules)) continue;
      const ports = asArray(portRule['ports']);
      const dns = nonEmpty(rules['dns']);
      if (dns && ports.length === 0)
        ctx.report(
          [...path, 'rules', 'dns'],
          'Cilium refuses DNS rules without ports ("port 53 must be specified for DNS rules"): add `ports: [{port: "53", protocol: ANY}]` to this toPorts entry',
          { key: true },
        );
      ports.forEach((p, i) => {
        if (!isObj(p)) return;
        if (isZeroPort(p['port']))
          ctx.report(
            [...path, 'ports', i, 'port'],
            'Cilium refuses L7 rules on port 0, i.e. every port ("L7 rules can not be used when a port is 0"): list the ports the L7 rules are for',
          );
        const start =
          typeof p['port'] === 'number'
            ? p['port']
            : typeof p['port'] === 'string' && /^\d+$/.test(p['port'])
              ? Number(p['port'])
              : undefined;
        if (dns && start !== undefined && typeof p['endPort'] === 'number' && p['endPort'] > start)
          ctx.report(
            [...path, 'ports', i, 'endPort'],
            'Cilium refuses DNS rules on a port range ("DNS rules do not support port ranges"): give the DNS server\'s port alone, usually 53',
            { key: true },
          );
      });
    }
  },
};

export const ciliumServerNames: LintRule = {
  meta: {
    id: 'cilium/server-names',
    severity: 'error',
    description: '`serverNames` together with L7 rules but without `terminatingTLS`, or an empty server name.',
    rationale:
      'Without TLS termination the proxy only sees the TLS handshake, not the requests: Cilium refuses server names with L7 rules unless `terminatingTLS` is set ("ServerNames are not allowed with L7 rules without TLS termination"), and refuses an empty server name ("empty server name is not allowed"), so no node enforces the policy.',
    fixable: false,
    kinds: ciliumKinds,
    example: 'toPorts: [{ports: [{port: "443", protocol: TCP}], serverNames: [api.example], rules: {http: [{method: GET}]}}]',
  },
  check(ctx) {
    for (const { portRule, path } of portRules(ctx.doc)) {
      const names = asArray(portRule['serverNames']);
      if (names.length > 0 && hasL7(portRule['rules']) && portRule['terminatingTLS'] === undefined)
        ctx.report(
          [...path, 'serverNames'],
          'Cilium refuses `serverNames` with L7 rules unless the proxy terminates TLS ("ServerNames are not allowed with L7 rules without TLS termination"): add `terminatingTLS`, or move the L7 rules to an entry without `serverNames`',
          { key: true },
        );
      names.forEach((n, i) => {
        if (n === '')
          ctx.report(
            [...path, 'serverNames', i],
            'Cilium refuses an empty server name ("empty server name is not allowed"): remove it or name the server',
          );
      });
    }
  },
};

export const ciliumListener: LintRule = {
  meta: {
    id: 'cilium/listener',
    severity: 'error',
    description: 'A `listener` on an ingress rule, or a `listener` together with L7 rules.',
    rationale:
      'Cilium only redirects egress traffic to a custom Envoy listener, and the listener replaces Cilium\'s own L7 enforcement: the agent refuses a listener on ingress ("Listener is not allowed on ingress") and a listener with L7 rules ("Listener is not allowed with L7 rules"), so no node enforces the policy.',
    fixable: false,
    kinds: ciliumKinds,
    example:
      'ingress:\n- toPorts: [{ports: [{port: "80", protocol: TCP}], listener: {envoyConfig: {kind: CiliumEnvoyConfig, name: c}, name: l}}]',
  },
  check(ctx) {
    for (const { portRule, path, dir } of portRules(ctx.doc)) {
      if (portRule['listener'] === undefined || portRule['listener'] === null) continue;
      if (dir.startsWith('ingress'))
        ctx.report(
          [...path, 'listener'],
          'Cilium refuses a listener on ingress ("Listener is not allowed on ingress"): custom Envoy listeners are only for egress traffic; redirect on the egress rule of the clients',
          { key: true },
        );
      else if (hasL7(portRule['rules']))
        ctx.report(
          [...path, 'rules'],
          'Cilium refuses L7 rules together with a listener ("Listener is not allowed with L7 rules"): the listener\'s own Envoy configuration decides; remove `rules` or the listener',
          { key: true },
        );
    }
  },
};

/** L7 rule types a host policy may carry, per direction (DNS on host egress only). */
/**
 * The L7 rule types Cilium refuses in a host policy: every one on ingress; on egress HTTP and Kafka
 * (its L7 count), not DNS nor generic `l7` rules.
 */
function hostL7Refused(dir: Direction, rules: Obj): string[] {
  const types = l7Types(rules).filter((t) => (t === 'l7proto' ? nonEmpty(rules['l7']) : nonEmpty(rules[t])));
  return dir.startsWith('egress') ? types.filter((t) => t === 'http' || t === 'kafka') : types;
}

export const ciliumHostPolicyL7: LintRule = {
  meta: {
    id: 'cilium/host-policy-l7',
    severity: 'error',
    description: 'A host policy (`nodeSelector`) with L7 rules: any on ingress, HTTP or Kafka rules on egress.',
    rationale:
      'Cilium\'s proxy does not sit in front of the host\'s own traffic: the agent refuses L7 rules in a host policy ("L7 policy is not supported on host ingress yet", and HTTP or Kafka on host egress), so no node enforces the policy. Enforce the L7 rules on the pods instead, or keep the host policy at ports.',
    fixable: false,
    kinds: ciliumKinds,
    example: 'nodeSelector: {}\ningress:\n- toPorts: [{ports: [{port: "80", protocol: TCP}], rules: {http: [{method: GET}]}}]',
  },
  check(ctx) {
    const hostRules = new Set(
      ciliumRules(ctx.doc)
        .filter(({ rule }) => isObj(rule['nodeSelector']))
        .map(({ path }) => key(path)),
    );
    if (hostRules.size === 0) return;
    for (const { portRule, path, dir } of portRules(ctx.doc)) {
      const rulePath = path.slice(0, path.indexOf(dir));
      if (!hostRules.has(key(rulePath)) || !hasL7(portRule['rules'])) continue;
      const refused = hostL7Refused(dir, portRule['rules'] as Obj);
      if (refused.length === 0) continue;
      const ingress = dir.startsWith('ingress');
      const name = refused[0] === 'l7proto' ? 'generic L7' : refused[0]!.toUpperCase();
      ctx.report(
        [...path, 'rules', refused[0]!],
        `Cilium refuses ${name} rules in a host policy (nodeSelector) on ${ingress ? 'ingress' : 'egress'} (${ingress ? '"L7 policy is not supported on host ingress yet"' : `"L7 protocol ${name} is not supported on host egress yet"`}): enforce the L7 rules in a policy for the pods, or keep this host policy at ports`,
        { key: true },
      );
    }
  },
};

export const ciliumNoRuleSections: LintRule = {
  meta: {
    id: 'cilium/no-rule-sections',
    severity: 'warning',
    description: 'A rule (`spec` or an item of `specs`) with no `ingress`, `ingressDeny`, `egress` or `egressDeny`.',
    rationale:
      'Such a rule selects endpoints and enforces nothing. The newest Cilium agent refuses it ("rule must have at least one of Ingress, IngressDeny, Egress, EgressDeny"); older ones accept it and change nothing. Write `ingress: [{}]` (or `egress: [{}]`) to make the direction default-deny, or remove the rule.',
    fixable: false,
    kinds: ciliumKinds,
    example: 'spec:\n  endpointSelector: {matchLabels: {app: web}}',
  },
  check(ctx) {
    for (const { rule, path } of ciliumRules(ctx.doc)) {
      // A section written but empty (`egress:`) is cilium/null-section's.
      if (['ingress', 'ingressDeny', 'egress', 'egressDeny'].some((k) => k in rule)) continue;
      ctx.report(
        path,
        'this rule has no `ingress`, `ingressDeny`, `egress` or `egressDeny`: it enforces nothing, and the newest Cilium agent refuses it ("rule must have at least one of Ingress, IngressDeny, Egress, EgressDeny"); write `ingress: [{}]` to make ingress default-deny, or remove the rule',
        { key: true },
      );
    }
  },
};

export const ciliumSubjectSelector: LintRule = {
  meta: {
    id: 'cilium/subject-selector',
    severity: 'error',
    description: 'A rule (`spec` or an item of `specs`) has neither `endpointSelector` nor `nodeSelector`, or both.',
    rationale:
      'A rule selects either endpoints (pods) or nodes (a host policy). Cilium\'s agent refuses a rule with neither ("rule must have one of EndpointSelector or NodeSelector") or both ("rule cannot have both EndpointSelector and NodeSelector"), so no node enforces the policy. Write `endpointSelector: {}` to select every endpoint in scope.',
    fixable: false,
    kinds: ciliumKinds,
    example: 'spec:\n  endpointSelector: {}\n  nodeSelector: {}\n  ingress: [{}]',
  },
  check(ctx) {
    for (const { rule, path } of ciliumRules(ctx.doc)) {
      const ep = rule['endpointSelector'] !== undefined && rule['endpointSelector'] !== null;
      const node = rule['nodeSelector'] !== undefined && rule['nodeSelector'] !== null;
      if (ep && node)
        ctx.report(
          [...path, later(rule, 'endpointSelector', 'nodeSelector')],
          'Cilium refuses a rule with both `endpointSelector` and `nodeSelector` ("rule cannot have both EndpointSelector and NodeSelector"): a rule selects pods or nodes; write two rules',
          { key: true },
        );
      else if (!ep && !node)
        ctx.report(
          path,
          'this rule selects nothing: Cilium refuses a rule without `endpointSelector` or `nodeSelector` ("rule must have one of EndpointSelector or NodeSelector"); write `endpointSelector: {}` to select every endpoint in scope',
          { key: true },
        );
    }
  },
};

export const ciliumCidrSetSource: LintRule = {
  meta: {
    id: 'cilium/cidr-set-source',
    severity: 'error',
    description: 'A `fromCIDRSet`/`toCIDRSet` entry gives none, or more than one, of `cidr`, `cidrGroupRef` and `cidrGroupSelector`.',
    rationale:
      'Each CIDR set entry names its addresses one way. Cilium\'s agent refuses an entry with none ("one of cidr, cidrGroupRef, or cidrGroupSelector is required") or several ("more than one of cidr, cidrGroupRef, or cidrGroupSelector may not be set"), so no node enforces the policy. Write one entry per source.',
    fixable: false,
    kinds: ciliumKinds,
    example: 'toCIDRSet: [{cidr: 10.0.0.0/8, cidrGroupRef: offices}]',
  },
  check(ctx) {
    for (const { section, path } of ciliumSections(ctx.doc))
      for (const f of ['fromCIDRSet', 'toCIDRSet'])
        asArray(section[f]).forEach((set, i) => {
          if (!isObj(set)) return;
          const given = ['cidr', 'cidrGroupRef', 'cidrGroupSelector'].filter(
            (k) => set[k] !== undefined && set[k] !== null && set[k] !== '',
          );
          if (given.length === 1) return;
          ctx.report(
            given.length === 0 ? [...path, f, i] : [...path, f, i, given[1]!],
            given.length === 0
              ? 'this CIDR set entry names no addresses: Cilium refuses it ("one of cidr, cidrGroupRef, or cidrGroupSelector is required"); give `cidr`, `cidrGroupRef` or `cidrGroupSelector`'
              : `this CIDR set entry gives ${given.map((g) => `\`${g}\``).join(' and ')}: Cilium refuses more than one ("more than one of cidr, cidrGroupRef, or cidrGroupSelector may not be set"); write one entry for each`,
            { key: given.length > 0 },
          );
        });
  },
};

/** Protocols without ports (Cilium's extended IP protocols): their port may be omitted. */
const portless = new Set(['VRRP', 'IGMP']);

export const ciliumPortRequired: LintRule = {
  meta: {
    id: 'cilium/port-required',
    severity: 'error',
    description: 'A `ports` entry gives no `port` (for a protocol that has ports).',
    rationale:
      'Cilium\'s agent refuses a port entry without a port ("port must be specified"), so no node enforces the policy; only protocols without ports (VRRP, IGMP) may omit it. Write `port: "0"` for every port of the protocol.',
    fixable: false,
    kinds: ciliumKinds,
    example: 'toPorts: [{ports: [{protocol: TCP}]}]',
  },
  check(ctx) {
    for (const { portRule, path } of portRules(ctx.doc))
      asArray(portRule['ports']).forEach((p, i) => {
        if (!isObj(p) || (p['port'] !== undefined && p['port'] !== null && p['port'] !== '')) return;
        const proto = typeof p['protocol'] === 'string' ? p['protocol'].toUpperCase() : 'ANY';
        if (portless.has(proto)) return;
        ctx.report(
          [...path, 'ports', i],
          `this ${proto} port entry gives no port: Cilium refuses it ("port must be specified"); write \`port: "0"\` for every ${proto} port, or the port meant`,
        );
      });
  },
};

export const ciliumFqdnSelector: LintRule = {
  meta: {
    id: 'cilium/fqdn-selector',
    severity: 'error',
    description: 'A `toFQDNs` entry gives both `matchName` and `matchPattern`.',
    rationale:
      'In `toFQDNs` the two are exclusive (in DNS rules they are not): Cilium\'s agent refuses an entry with both ("only one of MatchName or MatchPattern is allowed in an FQDNSelector"), so no node enforces the policy. Write one entry for the name and one for the pattern.',
    fixable: false,
    kinds: ciliumKinds,
    example: 'toFQDNs: [{matchName: api.example.com, matchPattern: "*.example.com"}]',
  },
  check(ctx) {
    for (const { section, path } of ciliumSections(ctx.doc))
      asArray(section['toFQDNs']).forEach((f, i) => {
        if (!isObj(f)) return;
        const has = (k: string) => typeof f[k] === 'string' && f[k] !== '';
        if (has('matchName') && has('matchPattern'))
          ctx.report(
            [...path, 'toFQDNs', i, later(f, 'matchName', 'matchPattern')],
            'this toFQDNs entry gives both `matchName` and `matchPattern`: Cilium refuses it ("only one of MatchName or MatchPattern is allowed in an FQDNSelector"); write one entry for each',
            { key: true },
          );
      });
  },
};

const key = (p: NodePath): string => p.join('\u0000');

/** For the catalogue: every rule of this module. */
export const ciliumSanitizeRules: readonly LintRule[] = [
  ciliumIcmpWithPorts,
  ciliumServicesWithPorts,
  ciliumDnsOnIngress,
  ciliumTooManyPorts,
  ciliumL7RuleTypes,
  ciliumL7Ports,
  ciliumServerNames,
  ciliumListener,
  ciliumHostPolicyL7,
  ciliumSubjectSelector,
  ciliumNoRuleSections,
  ciliumCidrSetSource,
  ciliumPortRequired,
  ciliumFqdnSelector,
];
