// Validates and normalizes one CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy or NetworkPolicy
// document into parsed rules (Cilium's api.Rule after sanitizing): selectors namespace-scoped,
// ports and ICMP types numbered, L7 rules checked, and the CIDRs and FQDN selectors that will need
// identities collected. Everything weir cannot honour exactly is an error at its file:line.
import { diagnostic, type Diagnostic } from '../../diagnostics.js';
import type { Inventory } from '../../inventory/model.js';
import type { PolicyDocument } from '../../load/index.js';
import { formatPrefix, parsePrefix, prefixContains, type Prefix } from '../../model/cidr.js';
import { LABEL_NAMESPACE_LABELS, parseSelector, scopePeerToNamespace, scopeToNamespace, type Selector } from '../../model/selector.js';
import { asArray as arr, isObj, type Obj } from '../../model/value.js';
import { ruleOrigin, type Path } from './origins.js';
import type { Direction, L7Rules, RuleOrigin } from './types.js';
import { PROTO } from './types.js';

const entityNames = [
  'all',
  'world',
  'world-ipv4',
  'world-ipv6',
  'cluster',
  'host',
  'remote-node',
  'kube-apiserver',
  'health',
  'init',
  'ingress',
  'unmanaged',
  'none',
] as const;
export type Entity = (typeof entityNames)[number];

/** A port as written: a number, a range, or a name resolved against the pods later. */
export interface PortSpec {
  protocols: number[];
  port: number | string;
  endPort?: number;
  path: Path;
}

export interface CidrSpec {
  prefix: Prefix;
  except: Prefix[];
  /** A NetworkPolicy ipBlock: it covers pod addresses too (a Cilium CIDR rule selects no cluster endpoint). */
  pods?: true;
}

export interface PeerSpec {
  any: boolean;
  /** Endpoint selectors, already namespace-scoped. */
  selectors: Selector[];
  cidrs: CidrSpec[];
  entities: Entity[];
  /** Services (namespace/name) whose backends are the peers. */
  services: { namespace: string; name?: string; selector?: Selector }[];
  fqdns: string[];
}

export interface ParsedRule {
  doc: PolicyDocument;
  origin: RuleOrigin;
  direction: Direction;
  deny: boolean;
  audit: boolean;
  subject: Selector;
  peer: PeerSpec;
  /** Undefined: all ports and protocols. */
  ports?: PortSpec[];
  l7?: L7Rules;
  auth: number;
}

/** A direction some rule selecting `subject` makes default-deny (Cilium's enforcement). */
export interface Enforcer {
  subject: Selector;
  direction: Direction;
  audit: boolean;
  policy: string;
}

/** What one document contributes; cookies are local to the document (1, 2, ...). */
export interface DocumentRules {
  parsed: ParsedRule[];
  enforcers: Enforcer[];
  origins: RuleOrigin[];
  /** CIDRs and FQDN selectors the document's peers need identities for. */
  prefixes: Prefix[];
  fqdns: string[];
  /** NetworkPolicy ipBlocks: identities are refined to lie wholly inside or outside each. */
  ipBlocks: CidrSpec[];
  diagnostics: Diagnostic[];
}

const icmpTypes: Record<string, Record<string, number>> = {
  IPv4: {
    EchoReply: 0,
    DestinationUnreachable: 3,
    Redirect: 5,
    EchoRequest: 8,
    RouterAdvertisement: 9,
    RouterSelection: 10,
    TimeExceeded: 11,
    ParameterProblem: 12,
    Timestamp: 13,
    TimestampReply: 14,
  },
  IPv6: {
    DestinationUnreachable: 1,
    PacketTooBig: 2,
    TimeExceeded: 3,
    ParameterProblem: 4,
    EchoRequest: 128,
    EchoReply: 129,
    RouterSolicitation: 133,
    RouterAdvertisement: 134,
    NeighborSolicitation: 135,
    NeighborAdvertisement: 136,
  },
};

const fqdnNameRe = /^[-a-zA-Z0-9_]+(\.[-a-zA-Z0-9_]+)*\.?$/;
const fqdnPatternRe = /^(\*|(\*\*\.)?[-a-zA-Z0-9_*]+(\.[-a-zA-Z0-9_*]+)*\.?)$/;

/** A `network/<rule>` error at `path` of `d`, citing the document's commit (else `commit`). */
export function networkError(
  d: PolicyDocument,
  rule: string,
  message: string,
  path: Path,
  key: boolean,
  commit: string | undefined,
): Diagnostic {
  return diagnostic(
    `network/${rule}`,
    'error',
    message,
    d.locate(path, { key }),
    d.provenance.commit ? { commit: d.provenance.commit } : commit ? { commit } : {},
  );
}

/** Parses one network document; `commit` stands in for a document read from no revision. Never throws. */
export function parseDocument(d: PolicyDocument, inv: Inventory, commit: string | undefined): DocumentRules {
  return new DocumentParser(d, inv, commit).parse();
}

class DocumentParser {
  private readonly out: DocumentRules = { parsed: [], enforcers: [], origins: [], prefixes: [], fqdns: [], ipBlocks: [], diagnostics: [] };

  constructor(
    private readonly d: PolicyDocument,
    private readonly inv: Inventory,
    private readonly commit: string | undefined,
  ) {}

  parse(): DocumentRules {
    const d = this.d;
    const v = d.value;
    const md = isObj(v['metadata']) ? v['metadata'] : {};
    const ann = isObj(md['annotations']) ? md['annotations'] : {};
    const audit = ann['weir.dev/audit'] === 'true' || ann['weir.dev/audit'] === true;
    if (d.kind === 'NetworkPolicy') this.k8s(audit);
    else this.cilium(audit);
    return this.out;
  }

  private err(rule: string, message: string, path: Path, key = false): void {
    this.out.diagnostics.push(networkError(this.d, rule, message, path, key, this.commit));
  }

  private newOrigin(path: Path): RuleOrigin {
    const o = ruleOrigin(this.d, path, this.out.origins.length + 1, this.d.provenance.commit ?? this.commit);
    this.out.origins.push(o);
    return o;
  }

  private selectorAt(v: unknown, path: Path): Selector {
    const { selector, problems } = parseSelector(v);
    for (const p of problems)
      this.err(
        'invalid-selector',
        p.message,
        [...path, ...p.path],
        p.path.length > 0 && typeof p.path[p.path.length - 1] === 'string' && p.path[0] === 'matchLabels',
      );
    return selector;
  }

  private prefixAt(v: unknown, path: Path): Prefix | undefined {
    const p = typeof v === 'string' ? parsePrefix(v) : undefined;
    if (!p || (typeof v === 'string' && !v.includes('/'))) {
      this.err('invalid-cidr', `${JSON.stringify(v)} is not a CIDR (write a.b.c.d/n or x::/n)`, path);
      return undefined;
    }
    return p;
  }

  /** A CIDR with its exceptions (toCIDRSet, ipBlock), each exception inside it. */
  private cidrSetAt(cidr: unknown, except: unknown, path: Path): CidrSpec | undefined {
    const pr = this.prefixAt(cidr, [...path, 'cidr']);
    if (!pr) return undefined;
    const out: Prefix[] = [];
    arr(except).forEach((e, j) => {
      const ep = this.prefixAt(e, [...path, 'except', j]);
      if (!ep) return;
      if (!prefixContains(pr, ep))
        return this.err('invalid-cidr', `except ${formatPrefix(ep)} is not inside ${formatPrefix(pr)}`, [...path, 'except', j]);
      out.push(ep);
      this.out.prefixes.push(ep);
    });
    this.out.prefixes.push(pr);
    return { prefix: pr, except: out };
  }

  /** One group per toPorts entry (its L7 rules apply to its own ports only) plus one for icmps. */
  private portsAt(toPorts: unknown, icmps: unknown, base: Path, deny: boolean): { ports?: PortSpec[]; l7?: L7Rules }[] {
    if (toPorts === undefined && icmps === undefined) return [{}];
    const groups: { ports: PortSpec[]; l7?: L7Rules }[] = [];
    arr(toPorts).forEach((tp, i) => {
      const ports: PortSpec[] = [];
      let l7: L7Rules | undefined;
      const tpo = isObj(tp) ? tp : {};
      const tpath = [...base, 'toPorts', i];
      const list = arr(tpo['ports']);
      if (list.length === 0) ports.push({ protocols: [PROTO.TCP, PROTO.UDP, PROTO.SCTP], port: 0, path: tpath });
      list.forEach((p, j) => {
        const po = isObj(p) ? p : {};
        const ppath = [...tpath, 'ports', j];
        const proto = String(po['protocol'] ?? 'ANY').toUpperCase();
        const protocols =
          proto === 'ANY'
            ? [PROTO.TCP, PROTO.UDP, PROTO.SCTP]
            : proto === 'TCP'
              ? [PROTO.TCP]
              : proto === 'UDP'
                ? [PROTO.UDP]
                : proto === 'SCTP'
                  ? [PROTO.SCTP]
                  : undefined;
        if (!protocols)
          return this.err('invalid-port', `protocol ${JSON.stringify(po['protocol'])} is not TCP, UDP, SCTP or ANY (ICMP goes in icmps)`, [
            ...ppath,
            'protocol',
          ]);
        const spec = this.portSpec(po['port'], po['endPort'], ppath);
        if (spec) ports.push({ ...spec, protocols });
      });
      for (const unsupported of ['serverNames', 'listener', 'originatingTLS', 'terminatingTLS'])
        if (tpo[unsupported] !== undefined)
          this.err(
            'unsupported',
            `toPorts.${unsupported} is not supported by weir's datapath; the policy cannot be honoured exactly`,
            [...tpath, unsupported],
            true,
          );
      const rules = tpo['rules'];
      if (isObj(rules)) {
        if (deny) this.err('invalid-l7', 'deny rules cannot carry L7 rules (Cilium rejects them)', [...tpath, 'rules'], true);
        else l7 = this.l7At(rules, [...tpath, 'rules']);
      }
      if (ports.length > 0) groups.push({ ports, ...(l7 ? { l7 } : {}) });
    });
    const icmpPorts: PortSpec[] = [];
    arr(icmps).forEach((ic, i) => {
      arr((isObj(ic) ? ic : {})['fields']).forEach((fld, j) => {
        const fo = isObj(fld) ? fld : {};
        const fam = String(fo['family'] ?? 'IPv4');
        const path = [...base, 'icmps', i, 'fields', j];
        if (fam !== 'IPv4' && fam !== 'IPv6')
          return this.err('invalid-port', `ICMP family ${JSON.stringify(fam)} is not IPv4 or IPv6`, [...path, 'family']);
        const t = fo['type'];
        const n =
          typeof t === 'number'
            ? t
            : typeof t === 'string' && /^\d+$/.test(t)
              ? Number(t)
              : typeof t === 'string'
                ? icmpTypes[fam]![t]
                : undefined;
        if (n === undefined || n < 0 || n > 255)
          return this.err('invalid-port', `ICMP type ${JSON.stringify(t)} is not a number 0-255 or a known type name`, [...path, 'type']);
        icmpPorts.push({ protocols: [fam === 'IPv4' ? PROTO.ICMP : PROTO.ICMPV6], port: n, path });
      });
    });
    if (icmpPorts.length > 0) groups.push({ ports: icmpPorts });
    return groups;
  }

  private portSpec(port: unknown, endPort: unknown, path: Path): Omit<PortSpec, 'protocols'> | undefined {
    let p: number | string;
    if (port === undefined || port === null) p = 0;
    else if (typeof port === 'number') p = port;
    else if (typeof port === 'string' && /^\d+$/.test(port)) p = Number(port);
    else if (typeof port === 'string') {
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(port) || port.length > 15 || !/[a-z]/.test(port)) {
        this.err(
          'invalid-port',
          `port ${JSON.stringify(port)} is neither a number nor a valid port name (IANA service name: 1-15 lowercase letters, digits, '-')`,
          [...path, 'port'],
        );
        return undefined;
      }
      p = port;
    } else {
      this.err('invalid-port', `port ${JSON.stringify(port)} is not a number or a port name`, [...path, 'port']);
      return undefined;
    }
    if (typeof p === 'number' && (!Number.isInteger(p) || p < 0 || p > 65535)) {
      this.err('invalid-port', `port ${p} is outside 0-65535`, [...path, 'port']);
      return undefined;
    }
    let e: number | undefined;
    if (endPort !== undefined && endPort !== null) {
      e = Number(endPort);
      if (typeof p === 'string') {
        this.err('invalid-port', 'endPort cannot be used with a named port', [...path, 'endPort']);
        return undefined;
      }
      if (!Number.isInteger(e) || e < p || e > 65535 || p === 0) {
        this.err('invalid-port', `endPort ${String(endPort)} must be a number between port (${p}) and 65535`, [...path, 'endPort']);
        return undefined;
      }
    }
    return { port: p, ...(e !== undefined ? { endPort: e } : {}), path };
  }

  private l7At(rules: Obj, path: Path): L7Rules | undefined {
    const out: L7Rules = {};
    const checkRegex = (v: unknown, p: Path, what: string): string | undefined => {
      if (v === undefined) return undefined;
      if (typeof v !== 'string') return void this.err('invalid-l7', `${what} must be a string (a regular expression)`, p);
      try {
        new RegExp(`^(?:${v})$`);
      } catch (e) {
        return void this.err('invalid-l7', `${what} ${JSON.stringify(v)} is not a valid regular expression: ${(e as Error).message}`, p);
      }
      return v;
    };
    if (rules['http'] !== undefined)
      out.http = arr(rules['http']).map((h, i) => {
        const ho = isObj(h) ? h : {};
        const hp = [...path, 'http', i];
        const method = checkRegex(ho['method'], [...hp, 'method'], 'method');
        const pth = checkRegex(ho['path'], [...hp, 'path'], 'path');
        const headers = [
          ...arr(ho['headers']).map(String),
          ...arr(ho['headerMatches']).map((m) => (isObj(m) ? `${String(m['name'])}: ${String(m['value'] ?? '')}` : '')),
        ];
        return {
          ...(method !== undefined ? { method } : {}),
          ...(pth !== undefined ? { path: pth } : {}),
          ...(typeof ho['host'] === 'string' ? { host: ho['host'] } : {}),
          ...(headers.length ? { headers } : {}),
        };
      });
    if (rules['dns'] !== undefined)
      out.dns = arr(rules['dns']).flatMap((r, i): { matchName?: string; matchPattern?: string }[] => {
        const ro = isObj(r) ? r : {};
        const rp = [...path, 'dns', i];
        if (typeof ro['matchName'] === 'string') {
          if (!fqdnNameRe.test(ro['matchName']))
            return (this.err('invalid-fqdn', `matchName ${JSON.stringify(ro['matchName'])} is not a DNS name`, [...rp, 'matchName']), []);
          return [{ matchName: ro['matchName'] }];
        }
        if (typeof ro['matchPattern'] === 'string') {
          if (!fqdnPatternRe.test(ro['matchPattern']))
            return (
              this.err(
                'invalid-fqdn',
                `matchPattern ${JSON.stringify(ro['matchPattern'])} is not a DNS pattern (letters, digits, '-', '.', '*')`,
                [...rp, 'matchPattern'],
              ),
              []
            );
          return [{ matchPattern: ro['matchPattern'] }];
        }
        this.err('invalid-fqdn', 'a DNS rule needs matchName or matchPattern', rp);
        return [];
      });
    if (rules['kafka'] !== undefined)
      out.kafka = arr(rules['kafka']).map((k) => Object.fromEntries(Object.entries(isObj(k) ? k : {}).map(([a, b]) => [a, String(b)])));
    for (const k of Object.keys(rules))
      if (!['http', 'dns', 'kafka'].includes(k))
        this.err(
          'unsupported',
          ['http', 'dns', 'kafka'].includes(k.toLowerCase())
            ? `L7 key "${k}" must be lower case: write "${k.toLowerCase()}" (the API server drops unknown fields, so "${k}" would silently carry no rules)`
            : `L7 protocol "${k}" is not supported (http, dns and kafka are)`,
          [...path, k],
          true,
        );
    return out;
  }

  private peerAt(r: Obj, path: Path, direction: Direction, deny: boolean, ns: string | undefined): PeerSpec | undefined {
    const p: PeerSpec = { any: false, selectors: [], cidrs: [], entities: [], services: [], fqdns: [] };
    const pre = direction === 'ingress' ? 'from' : 'to';
    let l3 = false;
    const epKey = `${pre}Endpoints`;
    if (r[epKey] !== undefined) {
      l3 = true;
      arr(r[epKey]).forEach((s, i) => {
        const sel = this.selectorAt(s, [...path, epKey, i]);
        p.selectors.push(ns ? scopePeerToNamespace(sel, ns) : sel);
      });
    }
    for (const k of [`${pre}CIDR`, `${pre}CIDRSet`]) {
      if (r[k] === undefined) continue;
      l3 = true;
      arr(r[k]).forEach((c, i) => {
        if (k.endsWith('Set')) {
          const co = isObj(c) ? c : {};
          if (co['cidrGroupRef'] !== undefined) {
            const g = this.inv.cidrGroups.find((x) => x.name === co['cidrGroupRef']);
            if (!g)
              return this.err(
                'unknown-cidr-group',
                `CIDR group ${JSON.stringify(co['cidrGroupRef'])} is not in the inventory; add it under cidrGroups`,
                [...path, k, i, 'cidrGroupRef'],
              );
            for (const gc of g.cidrs) {
              const gp = parsePrefix(gc);
              if (gp) p.cidrs.push({ prefix: gp, except: [] }), this.out.prefixes.push(gp);
            }
            return;
          }
          const set = this.cidrSetAt(co['cidr'], co['except'], [...path, k, i]);
          if (set) p.cidrs.push(set);
        } else {
          const pr = this.prefixAt(c, [...path, k, i]);
          if (pr) p.cidrs.push({ prefix: pr, except: [] }), this.out.prefixes.push(pr);
        }
      });
    }
    const entKey = `${pre}Entities`;
    if (r[entKey] !== undefined) {
      l3 = true;
      arr(r[entKey]).forEach((e, i) => {
        if (typeof e !== 'string' || !(entityNames as readonly string[]).includes(e))
          return this.err('invalid-entity', `entity ${JSON.stringify(e)} is not one of ${entityNames.join(', ')}`, [...path, entKey, i]);
        p.entities.push(e as Entity);
      });
    }
    if (direction === 'egress' && r['toServices'] !== undefined) {
      l3 = true;
      if (deny) this.err('unsupported', 'toServices in egressDeny is not supported', [...path, 'toServices'], true);
      arr(r['toServices']).forEach((s, i) => {
        const so = isObj(s) ? s : {};
        const k = isObj(so['k8sService']) ? so['k8sService'] : undefined;
        const ks = isObj(so['k8sServiceSelector']) ? so['k8sServiceSelector'] : undefined;
        if (k) p.services.push({ namespace: String(k['namespace'] ?? ns ?? 'default'), name: String(k['serviceName'] ?? '') });
        else if (ks)
          p.services.push({
            namespace: String(ks['namespace'] ?? ns ?? 'default'),
            selector: this.selectorAt(ks['selector'], [...path, 'toServices', i, 'k8sServiceSelector', 'selector']),
          });
        else this.err('invalid-service', 'a toServices entry needs k8sService or k8sServiceSelector', [...path, 'toServices', i]);
      });
    }
    if (direction === 'egress' && r['toFQDNs'] !== undefined) {
      l3 = true;
      if (deny) this.err('unsupported', 'toFQDNs in egressDeny is not supported by Cilium', [...path, 'toFQDNs'], true);
      arr(r['toFQDNs']).forEach((f, i) => {
        const fo = isObj(f) ? f : {};
        // Cilium refuses a selector with both (it is not a union): never pick one of them silently.
        if (
          typeof fo['matchName'] === 'string' &&
          fo['matchName'] !== '' &&
          typeof fo['matchPattern'] === 'string' &&
          fo['matchPattern'] !== ''
        )
          return this.err(
            'invalid-fqdn',
            'a toFQDNs entry gives both matchName and matchPattern, which Cilium refuses ("only one of MatchName or MatchPattern is allowed in an FQDNSelector"); write two entries',
            [...path, 'toFQDNs', i, 'matchPattern'],
          );
        if (typeof fo['matchName'] === 'string') {
          if (!fqdnNameRe.test(fo['matchName']))
            return this.err('invalid-fqdn', `matchName ${JSON.stringify(fo['matchName'])} is not a DNS name`, [
              ...path,
              'toFQDNs',
              i,
              'matchName',
            ]);
          p.fqdns.push(`matchName:${fo['matchName'].toLowerCase().replace(/\.$/, '')}`);
        } else if (typeof fo['matchPattern'] === 'string') {
          if (!fqdnPatternRe.test(fo['matchPattern']))
            return this.err(
              'invalid-fqdn',
              `matchPattern ${JSON.stringify(fo['matchPattern'])} is not a DNS pattern (letters, digits, '-', '.', '*')`,
              [...path, 'toFQDNs', i, 'matchPattern'],
            );
          p.fqdns.push(`matchPattern:${fo['matchPattern'].toLowerCase().replace(/\.$/, '')}`);
        } else this.err('invalid-fqdn', 'a toFQDNs entry needs matchName or matchPattern', [...path, 'toFQDNs', i]);
      });
      this.out.fqdns.push(...p.fqdns);
    }
    for (const k of [`${pre}Requires`, `${pre}Groups`, `${pre}Nodes`])
      if (r[k] !== undefined) {
        this.err('unsupported', `${k} is not supported by weir's compiler; the policy cannot be honoured exactly`, [...path, k], true);
        return undefined;
      }
    // A rule with only ports applies to every peer; a rule with neither peers nor ports selects nothing
    // but still switches the direction to default deny (Cilium's `ingress: [{}]`).
    if (!l3) p.any = r['toPorts'] !== undefined || r['icmps'] !== undefined;
    return p;
  }

  /** CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy: `spec` and each of `specs`. */
  private cilium(audit: boolean): void {
    const d = this.d;
    const v = d.value;
    const ns = d.kind === 'CiliumNetworkPolicy' ? (d.namespace ?? 'default') : undefined;
    const specs: { spec: Obj; path: Path }[] = [];
    if (isObj(v['spec'])) specs.push({ spec: v['spec'], path: ['spec'] });
    arr(v['specs']).forEach((s, i) => isObj(s) && specs.push({ spec: s, path: ['specs', i] }));
    if (specs.length === 0) this.err('empty-policy', `${d.kind} ${d.name} has neither spec nor specs`, []);
    for (const { spec, path } of specs) {
      if (spec['nodeSelector'] !== undefined) {
        this.err(
          'unsupported',
          'nodeSelector (host policies) is not supported: weir enforces on pod endpoints only',
          [...path, 'nodeSelector'],
          true,
        );
        continue;
      }
      if (spec['endpointSelector'] === undefined) {
        this.err('missing-selector', 'a rule needs an endpointSelector ({} selects every endpoint in scope)', path);
        continue;
      }
      const sel = this.selectorAt(spec['endpointSelector'], [...path, 'endpointSelector']);
      const subject = ns ? scopeToNamespace(sel, ns) : sel;
      const edd = isObj(spec['enableDefaultDeny']) ? spec['enableDefaultDeny'] : {};
      for (const [key, direction, deny] of [
        ['ingress', 'ingress', false],
        ['ingressDeny', 'ingress', true],
        ['egress', 'egress', false],
        ['egressDeny', 'egress', true],
      ] as const) {
        const list = spec[key];
        if (list === undefined) continue;
        if (list === null) {
          this.out.diagnostics.push(
            diagnostic(
              'network/empty-rule-list',
              'warning',
              `${key} is empty (null): it adds no rules and does not make ${direction} default-deny; write \`${key}: [{}]\` to deny all ${direction}, or remove the key`,
              d.locate([...path, key], { key: true }),
              d.provenance.commit ? { commit: d.provenance.commit } : {},
            ),
          );
          continue;
        }
        if (!Array.isArray(list)) {
          this.err('invalid-rule', `${key} must be a list of rules`, [...path, key]);
          continue;
        }
        if (list.length > 0 && edd[direction] !== false) this.out.enforcers.push({ subject, direction, audit, policy: d.name });
        list.forEach((r, i) => {
          const rpath = [...path, key, i];
          const ro = isObj(r) ? r : {};
          const peer = this.peerAt(ro, rpath, direction, deny, ns);
          if (!peer) return;
          const groups = this.portsAt(ro['toPorts'], ro['icmps'], rpath, deny);
          const authMode = isObj(ro['authentication']) ? ro['authentication']['mode'] : undefined;
          if (authMode !== undefined && authMode !== 'required' && authMode !== 'disabled')
            this.err('invalid-auth', `authentication.mode ${JSON.stringify(authMode)} is not "required" or "disabled"`, [
              ...rpath,
              'authentication',
              'mode',
            ]);
          const origin = this.newOrigin(rpath);
          for (const g of groups)
            this.out.parsed.push({
              doc: d,
              origin,
              direction,
              deny,
              audit,
              subject,
              peer,
              ...(g.ports ? { ports: g.ports } : {}),
              ...(g.l7 ? { l7: g.l7 } : {}),
              auth: authMode === 'required' ? 2 : authMode === 'disabled' ? 1 : 0,
            });
        });
      }
    }
  }

  /** Kubernetes NetworkPolicy, as Cilium translates it (namespaceSelector on namespace labels). */
  private k8s(audit: boolean): void {
    const d = this.d;
    const spec = isObj(d.value['spec']) ? d.value['spec'] : {};
    const ns = d.namespace ?? 'default';
    const subject = scopeToNamespace(this.selectorAt(spec['podSelector'] ?? {}, ['spec', 'podSelector']), ns);
    // The API server's defaulting: without policyTypes (absent or empty) a policy is Ingress, and
    // Egress too when it has egress rules (`egress: []` alone isolates nothing).
    const given = arr(spec['policyTypes']);
    const types = given.length > 0 ? given.map(String) : ['Ingress', ...(arr(spec['egress']).length > 0 ? ['Egress'] : [])];
    for (const t of types)
      if (t !== 'Ingress' && t !== 'Egress')
        this.err('invalid-rule', `policyType ${JSON.stringify(t)} is not Ingress or Egress`, ['spec', 'policyTypes']);
    for (const [key, direction, typ] of [
      ['ingress', 'ingress', 'Ingress'],
      ['egress', 'egress', 'Egress'],
    ] as const) {
      if (!types.includes(typ)) {
        // A direction policyTypes leaves out enforces nothing, but the API server validates its ports all the same.
        arr(spec[key]).forEach((r, i) =>
          arr(isObj(r) ? r['ports'] : undefined).forEach((p, j) => {
            const po = isObj(p) ? p : {};
            this.portSpec(po['port'], po['endPort'], ['spec', key, i, 'ports', j]);
          }),
        );
        continue;
      }
      this.out.enforcers.push({ subject, direction, audit, policy: d.name });
      arr(spec[key]).forEach((r, i) => {
        const ro = isObj(r) ? r : {};
        const rpath: Path = ['spec', key, i];
        const peersKey = direction === 'ingress' ? 'from' : 'to';
        const list = arr(ro[peersKey]);
        const peer: PeerSpec = { any: list.length === 0, selectors: [], cidrs: [], entities: [], services: [], fqdns: [] };
        list.forEach((p, j) => {
          const po = isObj(p) ? p : {};
          const ppath = [...rpath, peersKey, j];
          if (po['ipBlock'] !== undefined) {
            const ib = isObj(po['ipBlock']) ? po['ipBlock'] : {};
            const set = this.cidrSetAt(ib['cidr'], ib['except'], [...ppath, 'ipBlock']);
            // The API server refuses an except that is not a strict subset of cidr (here: all of it): such a policy never exists.
            const whole = set?.except.find((e) => e.bits === set.prefix.bits);
            if (set && whole) {
              const j = arr(ib['except']).findIndex((e) => typeof e === 'string' && parsePrefix(e)?.bits === whole.bits);
              return this.err(
                'invalid-cidr',
                `except ${formatPrefix(whole)} is all of cidr ${formatPrefix(set.prefix)}: Kubernetes requires a strict subset`,
                [...ppath, 'ipBlock', 'except', Math.max(j, 0)],
              );
            }
            if (set) {
              const block: CidrSpec = { ...set, pods: true };
              peer.cidrs.push(block);
              this.out.ipBlocks.push(block);
            }
            return;
          }
          const hasNs = po['namespaceSelector'] !== undefined;
          const hasPod = po['podSelector'] !== undefined;
          if (!hasNs && !hasPod) return this.err('invalid-rule', 'a peer needs podSelector, namespaceSelector or ipBlock', ppath);
          const podSel = hasPod ? this.selectorAt(po['podSelector'], [...ppath, 'podSelector']) : { requirements: [] };
          if (!hasNs) return void peer.selectors.push(scopeToNamespace(podSel, ns));
          // namespaceSelector becomes requirements on the namespace-label labels, as Cilium translates it.
          const nsSel = this.selectorAt(po['namespaceSelector'], [...ppath, 'namespaceSelector']);
          peer.selectors.push({
            requirements: [...podSel.requirements, ...nsSel.requirements.map((q) => ({ ...q, key: LABEL_NAMESPACE_LABELS + q.key }))],
          });
        });
        let ports: PortSpec[] | undefined;
        const plist = arr(ro['ports']);
        if (plist.length > 0) {
          ports = [];
          plist.forEach((p, j) => {
            const po = isObj(p) ? p : {};
            const ppath = [...rpath, 'ports', j];
            const proto = String(po['protocol'] ?? 'TCP').toUpperCase();
            const pn = proto === 'TCP' ? PROTO.TCP : proto === 'UDP' ? PROTO.UDP : proto === 'SCTP' ? PROTO.SCTP : undefined;
            if (pn === undefined)
              return this.err('invalid-port', `protocol ${JSON.stringify(po['protocol'])} is not TCP, UDP or SCTP`, [...ppath, 'protocol']);
            const s = this.portSpec(po['port'], po['endPort'], ppath);
            if (s) ports!.push({ ...s, protocols: [pn] });
          });
        }
        this.out.parsed.push({
          doc: d,
          origin: this.newOrigin(rpath),
          direction,
          deny: false,
          audit,
          subject,
          peer,
          ...(ports ? { ports } : {}),
          auth: 0,
        });
      });
    }
  }
}
