// Compiles CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and NetworkPolicy documents plus
// an inventory into the network IR. Three passes, as Cilium's repository + selector cache do:
// parse every rule (collecting the CIDRs and FQDN selectors that need identities), allocate
// identities, then resolve selectors to identity sets and named ports to numbers.
import { diagnostic, sortDiagnostics, type Diagnostic } from '../../diagnostics.js';
import { allocateIdentities, ID_ANY, LABEL_NAMESPACE, LABEL_NAMESPACE_LABELS, reservedIdentities, type Identity, type IdentityAllocation } from '../../identity/allocate.js';
import type { Inventory, Pod } from '../../inventory/model.js';
import type { PolicyDocument } from '../../load/index.js';
import { comparePrefix, formatPrefix, hostPrefix, ipv4ToInt, parseAddress, parsePrefix, prefixContains, type Prefix } from '../../model/cidr.js';
import { matchesIdentity, matchesMap, parseSelector, scopeToNamespace, type Selector } from '../../model/selector.js';
import type { Direction, FqdnSelector, IREndpoint, IRRule, IpcacheEntry, L7Rules, NetworkIR, PortRange, RuleOrigin } from './types.js';
import { PROTO } from './types.js';

export interface CompileOptions {
  /** Commit the policies were read from (recorded in rule cookies). */
  commit?: string;
  /** Memo shared across compiles of the same inventory (incremental rebuilds). */
  cache?: CompileCache;
}

/** Identity allocation depends only on the inventory and the CIDR/FQDN sets; reuse it while they stay. */
export class CompileCache {
  inventory?: Inventory;
  key?: string;
  alloc?: IdentityAllocation;
  /**
   * Parse results per document (cookies local to the document), keyed by its parsed value: copies of
   * a document read at another commit (same blob, `weir plan`'s two revisions) share the value
   * object and so the parse; the commit they cite is patched in when they are handed out.
   */
  readonly docs = new WeakMap<object, DocParse>();
  /** Resolved rules per parsed rule, valid for one identity allocation (cookie filled in per build). */
  readonly resolved = new WeakMap<object, { alloc: IdentityAllocation; rules: IRRule[]; diagnostics: Diagnostic[] }>();
  /** Selector → identities and subject selector → endpoints, valid for one identity allocation. */
  selections?: { alloc: IdentityAllocation; sel: Map<string, number[]>; subj: Map<object, string[]>; idx: WeakMap<readonly string[], number[]> };
  /** The ipcache entries of one identity allocation (they depend on nothing else). */
  ipcache?: { alloc: IdentityAllocation; entries: IpcacheEntry[] };
  /** Per-pod tables of one inventory and allocation. */
  pods?: { alloc: IdentityAllocation; inv: Inventory; tables: PodTables; endpoints?: IREndpoint[] };
}

interface DocParse {
  inv: Inventory;
  /** Where the parsed document was: a value shared by another place is parsed again. */
  file: string;
  docIndex: number;
  listIndex: number | undefined;
  commit: string | undefined;
  parsed: ParsedRule[];
  enforcers: Enforcer[];
  origins: RuleOrigin[];
  prefixes: Prefix[];
  fqdns: string[];
  diagnostics: Diagnostic[];
}

export interface CompileResult {
  ir: NetworkIR;
  diagnostics: Diagnostic[];
}

type Path = (string | number)[];
type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

const entityNames = ['all', 'world', 'world-ipv4', 'world-ipv6', 'cluster', 'host', 'remote-node', 'kube-apiserver', 'health', 'init', 'ingress', 'unmanaged', 'none'] as const;
type Entity = (typeof entityNames)[number];

/** A port as written: a number, a range, or a name resolved against the pods later. */
interface PortSpec {
  protocols: number[];
  port: number | string;
  endPort?: number;
  path: Path;
}

interface CidrSpec {
  prefix: Prefix;
  except: Prefix[];
}

interface PeerSpec {
  any: boolean;
  /** Endpoint selectors, already namespace-scoped. */
  selectors: Selector[];
  cidrs: CidrSpec[];
  entities: Entity[];
  /** Services (namespace/name) whose backends are the peers. */
  services: { namespace: string; name?: string; selector?: Selector }[];
  fqdns: string[];
}

interface ParsedRule {
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

interface Enforcer {
  subject: Selector;
  direction: Direction;
  audit: boolean;
  policy: string;
}

const icmpTypes: Record<string, Record<string, number>> = {
  IPv4: { EchoReply: 0, DestinationUnreachable: 3, Redirect: 5, EchoRequest: 8, RouterAdvertisement: 9, RouterSelection: 10, TimeExceeded: 11, ParameterProblem: 12, Timestamp: 13, TimestampReply: 14 },
  IPv6: { DestinationUnreachable: 1, PacketTooBig: 2, TimeExceeded: 3, ParameterProblem: 4, EchoRequest: 128, EchoReply: 129, RouterSolicitation: 133, RouterAdvertisement: 134, NeighborSolicitation: 135, NeighborAdvertisement: 136 },
};

const fqdnNameRe = /^[-a-zA-Z0-9_]+(\.[-a-zA-Z0-9_]+)*\.?$/;
const fqdnPatternRe = /^(\*|(\*\*\.)?[-a-zA-Z0-9_*]+(\.[-a-zA-Z0-9_*]+)*\.?)$/;

/** Anchored regex for an FQDN selector, with Cilium's wildcard rules (`*` within a label, a lone `*` matches all). */
export function fqdnRegex(selector: string): string {
  const [kind, raw] = [selector.slice(0, selector.indexOf(':')), selector.slice(selector.indexOf(':') + 1)];
  const name = raw.toLowerCase().replace(/\.$/, '');
  if (kind === 'matchName') return `^${name.replace(/\./g, '\\.')}$`;
  if (name === '*') return '^.*$';
  let body = name;
  let lead = '';
  if (body.startsWith('**.')) {
    lead = '(?:[-a-z0-9_]+\\.)+';
    body = body.slice(3);
  }
  return `^${lead}${body
    .split('.')
    .map((l) => l.replace(/[-_]/g, (c) => c).split('*').map((s) => s.replace(/[.]/g, '\\.')).join('[-a-z0-9_]*'))
    .join('\\.')}$`;
}

export function compileNetworkDocs(docs: readonly PolicyDocument[], inv: Inventory, opts: CompileOptions = {}): CompileResult {
  // The parse pass writes to these; they point at one document's accumulators while it is parsed.
  let diagnostics: Diagnostic[] = [];
  let parsed: ParsedRule[] = [];
  let enforcers: Enforcer[] = [];
  let origins: RuleOrigin[] = [];
  let prefixes: Prefix[] = [];
  let fqdns: string[] = [];
  const G = { diagnostics, enforcers, origins, prefixes, fqdns };
  /** Every parsed rule of the build with the cookie offset of its document. */
  const work: { pr: ParsedRule; offset: number }[] = [];
  const cache = opts.cache;

  const err = (d: PolicyDocument, rule: string, message: string, path: Path, key = false) =>
    diagnostics.push(diagnostic(`network/${rule}`, 'error', message, d.locate(path, { key }), d.provenance.commit ? { commit: d.provenance.commit } : opts.commit ? { commit: opts.commit } : {}));

  const network = docs.filter((d) => d.family === 'network').slice();
  // Deterministic cookies whatever the load order: file, document, list index.
  network.sort((a, b) => (a.provenance.file < b.provenance.file ? -1 : a.provenance.file > b.provenance.file ? 1 : 0) || a.provenance.docIndex - b.provenance.docIndex || (a.provenance.listIndex ?? 0) - (b.provenance.listIndex ?? 0));

  const newOrigin = (d: PolicyDocument, path: Path): RuleOrigin => {
    const ns = d.kind === 'CiliumClusterwideNetworkPolicy' ? undefined : (d.namespace ?? 'default');
    const commit = d.provenance.commit ?? opts.commit;
    const o = lazyOrigin(
      {
        cookie: origins.length + 1,
        policy: `${d.kind}/${ns ? ns + '/' : ''}${d.name}`,
        kind: d.kind,
        name: d.name,
        ...(ns ? { namespace: ns } : {}),
        file: d.provenance.file,
        ...(commit ? { commit } : {}),
        path: path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join(''),
      },
      { doc: d, path },
    );
    origins.push(o);
    return o;
  };

  const selectorAt = (d: PolicyDocument, v: unknown, path: Path): Selector => {
    const { selector, problems } = parseSelector(v);
    for (const p of problems) err(d, 'invalid-selector', p.message, [...path, ...p.path], p.path.length > 0 && typeof p.path[p.path.length - 1] === 'string' && p.path[0] === 'matchLabels');
    return selector;
  };

  const prefixAt = (d: PolicyDocument, v: unknown, path: Path): Prefix | undefined => {
    const p = typeof v === 'string' ? parsePrefix(v) : undefined;
    if (!p || (typeof v === 'string' && !v.includes('/'))) {
      err(d, 'invalid-cidr', `${JSON.stringify(v)} is not a CIDR (write a.b.c.d/n or x::/n)`, path);
      return undefined;
    }
    return p;
  };

  /** One group per toPorts entry (its L7 rules apply to its own ports only) plus one for icmps. */
  const portsAt = (d: PolicyDocument, toPorts: unknown, icmps: unknown, base: Path, deny: boolean): { ports?: PortSpec[]; l7?: L7Rules }[] => {
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
        const protocols = proto === 'ANY' ? [PROTO.TCP, PROTO.UDP, PROTO.SCTP] : proto === 'TCP' ? [PROTO.TCP] : proto === 'UDP' ? [PROTO.UDP] : proto === 'SCTP' ? [PROTO.SCTP] : undefined;
        if (!protocols) return err(d, 'invalid-port', `protocol ${JSON.stringify(po['protocol'])} is not TCP, UDP, SCTP or ANY (ICMP goes in icmps)`, [...ppath, 'protocol']);
        const spec = portSpec(d, po['port'], po['endPort'], ppath);
        if (spec) ports.push({ ...spec, protocols });
      });
      for (const unsupported of ['serverNames', 'listener', 'originatingTLS', 'terminatingTLS'])
        if (tpo[unsupported] !== undefined) err(d, 'unsupported', `toPorts.${unsupported} is not supported by weir's datapath; the policy cannot be honoured exactly`, [...tpath, unsupported], true);
      const rules = tpo['rules'];
      if (isObj(rules)) {
        if (deny) err(d, 'invalid-l7', 'deny rules cannot carry L7 rules (Cilium rejects them)', [...tpath, 'rules'], true);
        else l7 = l7At(d, rules, [...tpath, 'rules']);
      }
      if (ports.length > 0) groups.push({ ports, ...(l7 ? { l7 } : {}) });
    });
    const icmpPorts: PortSpec[] = [];
    arr(icmps).forEach((ic, i) => {
      arr((isObj(ic) ? ic : {})['fields']).forEach((fld, j) => {
        const fo = isObj(fld) ? fld : {};
        const fam = String(fo['family'] ?? 'IPv4');
        const path = [...base, 'icmps', i, 'fields', j];
        if (fam !== 'IPv4' && fam !== 'IPv6') return err(d, 'invalid-port', `ICMP family ${JSON.stringify(fam)} is not IPv4 or IPv6`, [...path, 'family']);
        const t = fo['type'];
        const n = typeof t === 'number' ? t : typeof t === 'string' && /^\d+$/.test(t) ? Number(t) : typeof t === 'string' ? icmpTypes[fam]![t] : undefined;
        if (n === undefined || n < 0 || n > 255) return err(d, 'invalid-port', `ICMP type ${JSON.stringify(t)} is not a number 0-255 or a known type name`, [...path, 'type']);
        icmpPorts.push({ protocols: [fam === 'IPv4' ? PROTO.ICMP : PROTO.ICMPV6], port: n, path });
      });
    });
    if (icmpPorts.length > 0) groups.push({ ports: icmpPorts });
    return groups;
  };

  const portSpec = (d: PolicyDocument, port: unknown, endPort: unknown, path: Path): Omit<PortSpec, 'protocols'> | undefined => {
    let p: number | string;
    if (port === undefined || port === null) p = 0;
    else if (typeof port === 'number') p = port;
    else if (typeof port === 'string' && /^\d+$/.test(port)) p = Number(port);
    else if (typeof port === 'string') {
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(port) || port.length > 15 || !/[a-z]/.test(port)) {
        err(d, 'invalid-port', `port ${JSON.stringify(port)} is neither a number nor a valid port name (IANA service name: 1-15 lowercase letters, digits, '-')`, [...path, 'port']);
        return undefined;
      }
      p = port;
    } else {
      err(d, 'invalid-port', `port ${JSON.stringify(port)} is not a number or a port name`, [...path, 'port']);
      return undefined;
    }
    if (typeof p === 'number' && (!Number.isInteger(p) || p < 0 || p > 65535)) {
      err(d, 'invalid-port', `port ${p} is outside 0-65535`, [...path, 'port']);
      return undefined;
    }
    let e: number | undefined;
    if (endPort !== undefined && endPort !== null) {
      e = Number(endPort);
      if (typeof p === 'string') {
        err(d, 'invalid-port', 'endPort cannot be used with a named port', [...path, 'endPort']);
        return undefined;
      }
      if (!Number.isInteger(e) || e < p || e > 65535 || p === 0) {
        err(d, 'invalid-port', `endPort ${String(endPort)} must be a number between port (${p}) and 65535`, [...path, 'endPort']);
        return undefined;
      }
    }
    return { port: p, ...(e !== undefined ? { endPort: e } : {}), path };
  };

  const l7At = (d: PolicyDocument, rules: Obj, path: Path): L7Rules | undefined => {
    const out: L7Rules = {};
    const checkRegex = (v: unknown, p: Path, what: string): string | undefined => {
      if (v === undefined) return undefined;
      if (typeof v !== 'string') return void err(d, 'invalid-l7', `${what} must be a string (a regular expression)`, p);
      try {
        new RegExp(`^(?:${v})$`);
      } catch (e) {
        return void err(d, 'invalid-l7', `${what} ${JSON.stringify(v)} is not a valid regular expression: ${(e as Error).message}`, p);
      }
      return v;
    };
    if (rules['http'] !== undefined)
      out.http = arr(rules['http']).map((h, i) => {
        const ho = isObj(h) ? h : {};
        const hp = [...path, 'http', i];
        const method = checkRegex(ho['method'], [...hp, 'method'], 'method');
        const pth = checkRegex(ho['path'], [...hp, 'path'], 'path');
        const headers = [...arr(ho['headers']).map(String), ...arr(ho['headerMatches']).map((m) => (isObj(m) ? `${String(m['name'])}: ${String(m['value'] ?? '')}` : ''))];
        return { ...(method !== undefined ? { method } : {}), ...(pth !== undefined ? { path: pth } : {}), ...(typeof ho['host'] === 'string' ? { host: ho['host'] } : {}), ...(headers.length ? { headers } : {}) };
      });
    if (rules['dns'] !== undefined)
      out.dns = arr(rules['dns']).flatMap((r, i): { matchName?: string; matchPattern?: string }[] => {
        const ro = isObj(r) ? r : {};
        const rp = [...path, 'dns', i];
        if (typeof ro['matchName'] === 'string') {
          if (!fqdnNameRe.test(ro['matchName'])) return err(d, 'invalid-fqdn', `matchName ${JSON.stringify(ro['matchName'])} is not a DNS name`, [...rp, 'matchName']), [];
          return [{ matchName: ro['matchName'] }];
        }
        if (typeof ro['matchPattern'] === 'string') {
          if (!fqdnPatternRe.test(ro['matchPattern'])) return err(d, 'invalid-fqdn', `matchPattern ${JSON.stringify(ro['matchPattern'])} is not a DNS pattern (letters, digits, '-', '.', '*')`, [...rp, 'matchPattern']), [];
          return [{ matchPattern: ro['matchPattern'] }];
        }
        err(d, 'invalid-fqdn', 'a DNS rule needs matchName or matchPattern', rp);
        return [];
      });
    if (rules['kafka'] !== undefined) out.kafka = arr(rules['kafka']).map((k) => Object.fromEntries(Object.entries(isObj(k) ? k : {}).map(([a, b]) => [a, String(b)])));
    for (const k of Object.keys(rules))
      if (!['http', 'dns', 'kafka'].includes(k))
        err(d, 'unsupported', ['http', 'dns', 'kafka'].includes(k.toLowerCase()) ? `L7 key "${k}" must be lower case: write "${k.toLowerCase()}" (the API server drops unknown fields, so "${k}" would silently carry no rules)` : `L7 protocol "${k}" is not supported (http, dns and kafka are)`, [...path, k], true);
    return out;
  };

  const peerAt = (d: PolicyDocument, r: Obj, path: Path, direction: Direction, deny: boolean, ns: string | undefined): PeerSpec | undefined => {
    const p: PeerSpec = { any: false, selectors: [], cidrs: [], entities: [], services: [], fqdns: [] };
    const pre = direction === 'ingress' ? 'from' : 'to';
    let l3 = false;
    const epKey = `${pre}Endpoints`;
    if (r[epKey] !== undefined) {
      l3 = true;
      arr(r[epKey]).forEach((s, i) => {
        const sel = selectorAt(d, s, [...path, epKey, i]);
        p.selectors.push(ns ? scopeToNamespace(sel, ns) : sel);
      });
    }
    for (const k of [`${pre}CIDR`, `${pre}CIDRSet`]) {
      if (r[k] === undefined) continue;
      l3 = true;
      arr(r[k]).forEach((c, i) => {
        if (k.endsWith('Set')) {
          const co = isObj(c) ? c : {};
          if (co['cidrGroupRef'] !== undefined) {
            const g = inv.cidrGroups.find((x) => x.name === co['cidrGroupRef']);
            if (!g) return err(d, 'unknown-cidr-group', `CIDR group ${JSON.stringify(co['cidrGroupRef'])} is not in the inventory; add it under cidrGroups`, [...path, k, i, 'cidrGroupRef']);
            for (const gc of g.cidrs) {
              const gp = parsePrefix(gc);
              if (gp) p.cidrs.push({ prefix: gp, except: [] }), prefixes.push(gp);
            }
            return;
          }
          const pr = prefixAt(d, co['cidr'], [...path, k, i, 'cidr']);
          if (!pr) return;
          const except: Prefix[] = [];
          arr(co['except']).forEach((e, j) => {
            const ep = prefixAt(d, e, [...path, k, i, 'except', j]);
            if (!ep) return;
            if (!prefixContains(pr, ep)) return err(d, 'invalid-cidr', `except ${formatPrefix(ep)} is not inside ${formatPrefix(pr)}`, [...path, k, i, 'except', j]);
            except.push(ep);
            prefixes.push(ep);
          });
          p.cidrs.push({ prefix: pr, except });
          prefixes.push(pr);
        } else {
          const pr = prefixAt(d, c, [...path, k, i]);
          if (pr) p.cidrs.push({ prefix: pr, except: [] }), prefixes.push(pr);
        }
      });
    }
    const entKey = `${pre}Entities`;
    if (r[entKey] !== undefined) {
      l3 = true;
      arr(r[entKey]).forEach((e, i) => {
        if (typeof e !== 'string' || !(entityNames as readonly string[]).includes(e)) return err(d, 'invalid-entity', `entity ${JSON.stringify(e)} is not one of ${entityNames.join(', ')}`, [...path, entKey, i]);
        p.entities.push(e as Entity);
      });
    }
    if (direction === 'egress' && r['toServices'] !== undefined) {
      l3 = true;
      if (deny) err(d, 'unsupported', 'toServices in egressDeny is not supported', [...path, 'toServices'], true);
      arr(r['toServices']).forEach((s, i) => {
        const so = isObj(s) ? s : {};
        const k = isObj(so['k8sService']) ? so['k8sService'] : undefined;
        const ks = isObj(so['k8sServiceSelector']) ? so['k8sServiceSelector'] : undefined;
        if (k) p.services.push({ namespace: String(k['namespace'] ?? ns ?? 'default'), name: String(k['serviceName'] ?? '') });
        else if (ks) p.services.push({ namespace: String(ks['namespace'] ?? ns ?? 'default'), selector: selectorAt(d, ks['selector'], [...path, 'toServices', i, 'k8sServiceSelector', 'selector']) });
        else err(d, 'invalid-service', 'a toServices entry needs k8sService or k8sServiceSelector', [...path, 'toServices', i]);
      });
    }
    if (direction === 'egress' && r['toFQDNs'] !== undefined) {
      l3 = true;
      if (deny) err(d, 'unsupported', 'toFQDNs in egressDeny is not supported by Cilium', [...path, 'toFQDNs'], true);
      arr(r['toFQDNs']).forEach((f, i) => {
        const fo = isObj(f) ? f : {};
        if (typeof fo['matchName'] === 'string') {
          if (!fqdnNameRe.test(fo['matchName'])) return err(d, 'invalid-fqdn', `matchName ${JSON.stringify(fo['matchName'])} is not a DNS name`, [...path, 'toFQDNs', i, 'matchName']);
          p.fqdns.push(`matchName:${fo['matchName'].toLowerCase().replace(/\.$/, '')}`);
        } else if (typeof fo['matchPattern'] === 'string') {
          if (!fqdnPatternRe.test(fo['matchPattern'])) return err(d, 'invalid-fqdn', `matchPattern ${JSON.stringify(fo['matchPattern'])} is not a DNS pattern (letters, digits, '-', '.', '*')`, [...path, 'toFQDNs', i, 'matchPattern']);
          p.fqdns.push(`matchPattern:${fo['matchPattern'].toLowerCase().replace(/\.$/, '')}`);
        } else err(d, 'invalid-fqdn', 'a toFQDNs entry needs matchName or matchPattern', [...path, 'toFQDNs', i]);
      });
      fqdns.push(...p.fqdns);
    }
    for (const k of [`${pre}Requires`, `${pre}Groups`, `${pre}Nodes`])
      if (r[k] !== undefined) {
        err(d, 'unsupported', `${k} is not supported by weir's compiler; the policy cannot be honoured exactly`, [...path, k], true);
        return undefined;
      }
    // A rule with only ports applies to every peer; a rule with neither peers nor ports selects nothing
    // but still switches the direction to default deny (Cilium's `ingress: [{}]`).
    if (!l3) p.any = r['toPorts'] !== undefined || r['icmps'] !== undefined;
    return p;
  };

  for (const d of network) {
    let entry = cache?.docs.get(d.value);
    const commit = d.provenance.commit ?? opts.commit;
    if (!entry || entry.inv !== inv || entry.file !== d.provenance.file || entry.docIndex !== d.provenance.docIndex || entry.listIndex !== d.provenance.listIndex) {
      diagnostics = [];
      parsed = [];
      enforcers = [];
      origins = [];
      prefixes = [];
      fqdns = [];
      parseDocument(d);
      entry = { inv, file: d.provenance.file, docIndex: d.provenance.docIndex, listIndex: d.provenance.listIndex, commit, parsed, enforcers, origins, prefixes, fqdns, diagnostics };
      cache?.docs.set(d.value, entry);
    }
    const offset = G.origins.length;
    const recommit = entry.commit !== commit;
    for (const o of entry.origins) G.origins.push(originAt(o, o.cookie + offset, recommit ? commit : o.commit));
    for (const pr of entry.parsed) work.push({ pr, offset });
    G.enforcers.push(...entry.enforcers);
    G.prefixes.push(...entry.prefixes);
    G.fqdns.push(...entry.fqdns);
    for (const x of entry.diagnostics) G.diagnostics.push(recommit ? withCommit(x, commit) : x);
  }
  ({ diagnostics, enforcers, origins, prefixes, fqdns } = G);

  function parseDocument(d: PolicyDocument): void {
    const v = d.value;
    const md = isObj(v['metadata']) ? v['metadata'] : {};
    const ann = isObj(md['annotations']) ? md['annotations'] : {};
    const audit = ann['weir.dev/audit'] === 'true' || ann['weir.dev/audit'] === true;
    if (d.kind === 'NetworkPolicy') {
      compileK8s(d, audit);
      return;
    }
    const ns = d.kind === 'CiliumNetworkPolicy' ? (d.namespace ?? 'default') : undefined;
    const specs: { spec: Obj; path: Path }[] = [];
    if (isObj(v['spec'])) specs.push({ spec: v['spec'], path: ['spec'] });
    arr(v['specs']).forEach((s, i) => isObj(s) && specs.push({ spec: s, path: ['specs', i] }));
    if (specs.length === 0) err(d, 'empty-policy', `${d.kind} ${d.name} has neither spec nor specs`, []);
    for (const { spec, path } of specs) {
      if (spec['nodeSelector'] !== undefined) {
        err(d, 'unsupported', 'nodeSelector (host policies) is not supported: weir enforces on pod endpoints only', [...path, 'nodeSelector'], true);
        continue;
      }
      if (spec['endpointSelector'] === undefined) {
        err(d, 'missing-selector', 'a rule needs an endpointSelector ({} selects every endpoint in scope)', path);
        continue;
      }
      const sel = selectorAt(d, spec['endpointSelector'], [...path, 'endpointSelector']);
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
          diagnostics.push(
            diagnostic('network/empty-rule-list', 'warning', `${key} is empty (null): it adds no rules and does not make ${direction} default-deny; write \`${key}: [{}]\` to deny all ${direction}, or remove the key`, d.locate([...path, key], { key: true }), d.provenance.commit ? { commit: d.provenance.commit } : {}),
          );
          continue;
        }
        if (!Array.isArray(list)) {
          err(d, 'invalid-rule', `${key} must be a list of rules`, [...path, key]);
          continue;
        }
        if (list.length > 0 && edd[direction] !== false) enforcers.push({ subject, direction, audit, policy: d.name });
        list.forEach((r, i) => {
          const rpath = [...path, key, i];
          const ro = isObj(r) ? r : {};
          const peer = peerAt(d, ro, rpath, direction, deny, ns);
          if (!peer) return;
          const groups = portsAt(d, ro['toPorts'], ro['icmps'], rpath, deny);
          const authMode = isObj(ro['authentication']) ? ro['authentication']['mode'] : undefined;
          if (authMode !== undefined && authMode !== 'required' && authMode !== 'disabled') err(d, 'invalid-auth', `authentication.mode ${JSON.stringify(authMode)} is not "required" or "disabled"`, [...rpath, 'authentication', 'mode']);
          const origin = newOrigin(d, rpath);
          for (const g of groups)
            parsed.push({
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

  function compileK8s(d: PolicyDocument, audit: boolean): void {
    const spec = isObj(d.value['spec']) ? d.value['spec'] : {};
    const ns = d.namespace ?? 'default';
    const subject = scopeToNamespace(selectorAt(d, spec['podSelector'] ?? {}, ['spec', 'podSelector']), ns);
    const types = Array.isArray(spec['policyTypes']) ? spec['policyTypes'].map(String) : ['Ingress', ...(spec['egress'] !== undefined ? ['Egress'] : [])];
    for (const t of types) if (t !== 'Ingress' && t !== 'Egress') err(d, 'invalid-rule', `policyType ${JSON.stringify(t)} is not Ingress or Egress`, ['spec', 'policyTypes']);
    for (const [key, direction, typ] of [
      ['ingress', 'ingress', 'Ingress'],
      ['egress', 'egress', 'Egress'],
    ] as const) {
      if (!types.includes(typ)) continue;
      enforcers.push({ subject, direction, audit, policy: d.name });
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
            const pr = prefixAt(d, ib['cidr'], [...ppath, 'ipBlock', 'cidr']);
            if (!pr) return;
            const except: Prefix[] = [];
            arr(ib['except']).forEach((e, k) => {
              const ep = prefixAt(d, e, [...ppath, 'ipBlock', 'except', k]);
              if (!ep) return;
              if (!prefixContains(pr, ep)) return err(d, 'invalid-cidr', `except ${formatPrefix(ep)} is not inside ${formatPrefix(pr)}`, [...ppath, 'ipBlock', 'except', k]);
              except.push(ep);
              prefixes.push(ep);
            });
            prefixes.push(pr);
            peer.cidrs.push({ prefix: pr, except });
            return;
          }
          const hasNs = po['namespaceSelector'] !== undefined;
          const hasPod = po['podSelector'] !== undefined;
          if (!hasNs && !hasPod) return err(d, 'invalid-rule', 'a peer needs podSelector, namespaceSelector or ipBlock', ppath);
          const podSel = hasPod ? selectorAt(d, po['podSelector'], [...ppath, 'podSelector']) : { requirements: [] };
          if (!hasNs) return void peer.selectors.push(scopeToNamespace(podSel, ns));
          // namespaceSelector becomes requirements on the namespace-label labels, as Cilium translates it.
          const nsSel = selectorAt(d, po['namespaceSelector'], [...ppath, 'namespaceSelector']);
          peer.selectors.push({ requirements: [...podSel.requirements, ...nsSel.requirements.map((q) => ({ ...q, key: LABEL_NAMESPACE_LABELS + q.key }))] });
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
            if (pn === undefined) return err(d, 'invalid-port', `protocol ${JSON.stringify(po['protocol'])} is not TCP, UDP or SCTP`, [...ppath, 'protocol']);
            const s = portSpec(d, po['port'], po['endPort'], ppath);
            if (s) ports!.push({ ...s, protocols: [pn] });
          });
        }
        parsed.push({ doc: d, origin: newOrigin(d, rpath), direction, deny: false, audit, subject, peer, ...(ports ? { ports } : {}), auth: 0 });
      });
    }
  }

  // ---- pass 2: identities ----
  for (const s of inv.services) if (!s.selector) for (const ip of s.backendIPs) {
    const a = parseAddress(ip);
    if (a) prefixes.push(hostPrefix(a.family, a.addr));
  }
  const allocKey = JSON.stringify([prefixes.map(formatPrefix).sort(), [...fqdns].sort()]);
  const alloc = cache && cache.inventory === inv && cache.key === allocKey && cache.alloc ? cache.alloc : allocateIdentities(inv, prefixes, fqdns);
  if (cache) Object.assign(cache, { inventory: inv, key: allocKey, alloc });
  // Per-pod tables depend only on the inventory and the allocation: a second compile against
  // them (the plan's head, an incremental build) takes them as they are.
  const tables = cache?.pods?.alloc === alloc && cache.pods.inv === inv ? cache.pods.tables : podTables(inv, alloc);
  if (cache && cache.pods?.tables !== tables) cache.pods = { alloc, inv, tables };
  const { endpointIds, cidrIds, podKeys, podIndex, podIds, podsByIdentity, podIdxByIdentity, idsByNamespace, reservedPool, portNames } = tables;

  // ---- pass 3: resolve ----
  if (!cache?.selections || cache.selections.alloc !== alloc) {
    if (cache) cache.selections = { alloc, sel: new Map(), subj: new Map(), idx: new WeakMap() };
  }
  const selCache = cache?.selections?.sel ?? new Map<string, number[]>();
  // Cluster-wide selectors (CCNP subjects, namespaceSelector peers) narrow their pool through an
  // index of endpoint identities by one `key In (values)` requirement. endpointIds is in
  // ascending id order, so the narrowed pool, sorted by id, keeps the order the filter gives.
  let labelIndex: Map<string, Map<string, Identity[]>> | undefined;
  const labelPool = (s: Selector): Identity[] | undefined => {
    const q = s.requirements.find((x) => x.source === 'k8s' && x.operator === 'In');
    if (!q) return undefined;
    if (!labelIndex) {
      labelIndex = new Map();
      for (const i of endpointIds)
        for (const [k, v] of i.k8s) {
          let byValue = labelIndex.get(k);
          if (!byValue) labelIndex.set(k, (byValue = new Map()));
          const l = byValue.get(v);
          if (l) l.push(i);
          else byValue.set(v, [i]);
        }
    }
    const byValue = labelIndex.get(q.key);
    const values = [...new Set(q.values)];
    const pool = values.flatMap((v) => byValue?.get(v) ?? []);
    return values.length > 1 ? pool.sort((a, b) => a.id - b.id) : pool;
  };
  const selectIdentities = (s: Selector): number[] => {
    const k = JSON.stringify(s.requirements);
    let r = selCache.get(k);
    if (!r) {
      const reserved = s.requirements.some((q) => q.source === 'reserved');
      const nsReq = s.requirements.find((q) => q.source === 'k8s' && q.key === LABEL_NAMESPACE && q.operator === 'In');
      const pool: Identity[] = reserved ? reservedPool : nsReq ? nsReq.values.flatMap((ns) => idsByNamespace.get(ns) ?? []) : (labelPool(s) ?? endpointIds);
      r = pool.filter((i) => matchesIdentity(s, i)).map((i) => i.id);
      if (nsReq && nsReq.values.length > 1) r.sort((a, b) => a - b);
      selCache.set(k, r);
    }
    return r;
  };
  /** Pod indices of a subject list (same inventory order while the allocation, hence the inventory, stays). */
  const subjIdx = cache?.selections?.idx ?? new WeakMap<readonly string[], number[]>();
  const subjCache = (cache?.selections?.subj ?? new Map<object, string[]>()) as Map<Selector, string[]>;
  const subjectsOf = (s: Selector): string[] => {
    let r = subjCache.get(s);
    if (!r) {
      const idx = selectIdentities(s).flatMap((id) => podIdxByIdentity.get(id) ?? []);
      r = idx.map((i) => podKeys[i]!);
      subjIdx.set(r, idx);
      subjCache.set(s, r);
    }
    return r;
  };
  const entityCache = new Map<Entity, number[] | 'any'>();
  const entityIds = (e: Entity): number[] | 'any' => {
    let r = entityCache.get(e);
    if (!r) entityCache.set(e, (r = entityIdsUncached(e)));
    return r;
  };
  const entityIdsUncached = (e: Entity): number[] | 'any' => {
    const R = reservedIdentities;
    switch (e) {
      case 'all':
        return 'any';
      case 'none':
        return [];
      case 'world':
        return [R.world, R['world-ipv4'], R['world-ipv6'], ...cidrIds.map((i) => i.id), ...alloc.fqdnIdentity.values()];
      case 'world-ipv4':
        return [R['world-ipv4'], R.world, ...cidrIds.filter((i) => i.prefix!.family === 4).map((i) => i.id)];
      case 'world-ipv6':
        return [R['world-ipv6'], R.world, ...cidrIds.filter((i) => i.prefix!.family === 6).map((i) => i.id)];
      case 'cluster':
        return [R.host, R['remote-node'], R.health, R.init, R.unmanaged, R['kube-apiserver'], R.ingress, ...endpointIds.map((i) => i.id)];
      default:
        return [R[e]];
    }
  };
  const cidrIdentities = (c: CidrSpec): number[] => {
    const out: number[] = [];
    for (const i of cidrIds) if (prefixContains(c.prefix, i.prefix!) && !c.except.some((x) => prefixContains(x, i.prefix!))) out.push(i.id);
    if (c.prefix.bits === 0) out.push(reservedIdentities.world, c.prefix.family === 4 ? reservedIdentities['world-ipv4'] : reservedIdentities['world-ipv6'], ...alloc.fqdnIdentity.values());
    return out;
  };
  const peerCache = new Map<PeerSpec, number[] | 'any'>();
  const resolvePeers = (p: PeerSpec): number[] | 'any' => {
    let r = peerCache.get(p);
    if (!r) peerCache.set(p, (r = resolvePeersUncached(p)));
    return r;
  };
  const resolvePeersUncached = (p: PeerSpec): number[] | 'any' => {
    if (p.any || p.entities.includes('all')) return 'any';
    const ids = new Set<number>();
    for (const s of p.selectors) for (const id of selectIdentities(s)) ids.add(id);
    for (const c of p.cidrs) for (const id of cidrIdentities(c)) ids.add(id);
    for (const e of p.entities) for (const id of entityIds(e) as number[]) ids.add(id);
    for (const f of p.fqdns) ids.add(alloc.fqdnIdentity.get(f)!);
    for (const s of p.services) {
      const svcs = inv.services.filter((x) => x.namespace === s.namespace && (s.name ? x.name === s.name : s.selector ? matchesMap(s.selector, x.labels) : false));
      for (const svc of svcs) {
        if (svc.selector) {
          for (const pod of inv.pods) if (pod.namespace === svc.namespace && Object.entries(svc.selector).every(([k, v]) => pod.labels[k] === v)) ids.add(alloc.podIdentity.get(`${pod.namespace}/${pod.name}`)!);
        } else
          for (const ip of svc.backendIPs) {
            const a = parseAddress(ip);
            if (a) ids.add(alloc.cidrIdentity.get(formatPrefix(hostPrefix(a.family, a.addr)))!);
          }
      }
    }
    return [...ids].sort((a, b) => a - b);
  };

  const protoNum = (s: string): number => (s === 'UDP' ? PROTO.UDP : s === 'SCTP' ? PROTO.SCTP : PROTO.TCP);

  const rules: IRRule[] = [];
  for (const { pr, offset } of work) {
    const cookie = pr.origin.cookie + offset;
    const hit = cache?.resolved.get(pr);
    if (hit && hit.alloc === alloc) {
      for (const r of hit.rules) rules.push({ ...r, cookie });
      diagnostics.push(...hit.diagnostics);
      continue;
    }
    const r0 = rules.length;
    const d0 = diagnostics.length;
    resolveRule(pr, cookie);
    cache?.resolved.set(pr, { alloc, rules: rules.slice(r0), diagnostics: diagnostics.slice(d0) });
  }

  function resolveRule(pr: ParsedRule, cookie: number): void {
    const subjects = subjectsOf(pr.subject);
    const peers = resolvePeers(pr.peer);
    const base = { cookie, direction: pr.direction, deny: pr.deny, audit: pr.audit, auth: pr.auth, ...(pr.l7 ? { l7: pr.l7 } : {}) };
    if (!pr.ports) {
      rules.push({ ...base, subjects, peers });
      return;
    }
    const numeric: PortRange[] = [];
    const named: PortSpec[] = [];
    for (const ps of pr.ports) {
      if (typeof ps.port === 'string') named.push(ps);
      else for (const protocol of ps.protocols) numeric.push(ps.port === 0 ? { protocol, lo: 0, hi: protocol === PROTO.ICMP || protocol === PROTO.ICMPV6 ? 255 : 65535 } : { protocol, lo: ps.port, hi: ps.endPort ?? ps.port });
    }
    for (const ps of named)
      if (!portNames.has(ps.port as string))
        err(pr.doc, 'unknown-named-port', `no pod in the inventory declares a container port named "${String(ps.port)}"; name the port in the pod spec or use a number`, [...ps.path, 'port']);
    if (named.length === 0) {
      rules.push({ ...base, subjects, peers, ports: numeric });
      return;
    }
    // Named ports resolve on the destination: the endpoint itself for ingress, each peer for egress.
    const resolveOn = (pods: readonly Pod[]): PortRange[] => {
      const out: PortRange[] = [];
      for (const ps of named)
        for (const pod of pods)
          for (const np of pod.ports) if (np.name === ps.port && ps.protocols.includes(protoNum(np.protocol))) out.push({ protocol: protoNum(np.protocol), lo: np.port, hi: np.port });
      return out;
    };
    const groups = new Map<string, { ports: PortRange[]; subjects: string[]; peers: number[] | 'any' }>();
    const add = (ports: PortRange[], subj: string[], peer: number[] | 'any') => {
      const uniq = dedupeRanges([...numeric, ...ports]);
      const k = JSON.stringify(uniq) + (pr.direction === 'ingress' ? '' : JSON.stringify(peer));
      const g = groups.get(k);
      if (!g) groups.set(k, { ports: uniq, subjects: subj, peers: peer });
      else if (pr.direction === 'ingress') g.subjects.push(...subj);
    };
    if (pr.direction === 'ingress') {
      for (const s of subjects) add(resolveOn([inv.pods[podIndex.get(s)!]!]), [s], peers);
    } else if (peers === 'any') add(resolveOn(inv.pods), subjects, 'any');
    else {
      const byPorts = new Map<string, { ports: PortRange[]; ids: number[] }>();
      for (const id of peers) {
        const ports = dedupeRanges(resolveOn(podsByIdentity.get(id) ?? []));
        const k = JSON.stringify(ports);
        const e = byPorts.get(k);
        if (e) e.ids.push(id);
        else byPorts.set(k, { ports, ids: [id] });
      }
      for (const { ports, ids } of byPorts.values()) add(ports, subjects, ids);
    }
    for (const g of groups.values()) if (g.ports.length > 0 && g.subjects.length > 0) rules.push({ ...base, subjects: g.subjects, peers: g.peers, ports: g.ports });
  }

  // ---- endpoints, enforcement, ipcache ----
  // Subject lists are shared between the rules of one selector: each distinct list is visited once.
  const podCount = inv.pods.length;
  const indicesOf = (subjects: readonly string[]): number[] => {
    let r = subjIdx.get(subjects);
    if (!r) subjIdx.set(subjects, (r = subjects.map((k) => podIndex.get(k)!)));
    return r;
  };
  const ingress = new Int32Array(podCount);
  const egress = new Int32Array(podCount);
  const ingressEnforcing = new Int32Array(podCount);
  const egressEnforcing = new Int32Array(podCount);
  const nonAudit = new Uint8Array(podCount);
  for (const e of enforcers) {
    const idx = indicesOf(subjectsOf(e.subject));
    const count = e.direction === 'ingress' ? ingress : egress;
    const enforcing = e.direction === 'ingress' ? ingressEnforcing : egressEnforcing;
    for (const i of idx) {
      count[i]!++;
      if (!e.audit) enforcing[i]!++, (nonAudit[i] = 1);
    }
  }
  const nonAuditSubjects = new Set<readonly string[]>();
  for (const r of rules)
    if (!r.audit && !nonAuditSubjects.has(r.subjects)) {
      nonAuditSubjects.add(r.subjects);
      for (const i of indicesOf(r.subjects)) nonAudit[i] = 1;
    }
  const nodeCounters = new Map<string, number>();
  // An endpoint equal to the one the previous compile against these tables built is that object:
  // a second compile (the plan's head) allocates only the endpoints whose state changed.
  const prevEndpoints = cache?.pods?.tables === tables ? cache.pods.endpoints : undefined;
  const endpoints: IREndpoint[] = inv.pods.map((p, i) => {
    const key = podKeys[i]!;
    const n = (nodeCounters.get(p.node) ?? 0) + 1;
    nodeCounters.set(p.node, n);
    const ing = ingress[i]!;
    const egr = egress[i]!;
    const ingressEnforced = ing > 0;
    const egressEnforced = egr > 0;
    const ingressAuditOnly = ing > 0 && ingressEnforcing[i] === 0;
    const egressAuditOnly = egr > 0 && egressEnforcing[i] === 0;
    const auditMode = (ing > 0 || egr > 0) && !nonAudit[i];
    const prev = prevEndpoints?.[i];
    if (prev && prev.endpointId === n && prev.ingressEnforced === ingressEnforced && prev.egressEnforced === egressEnforced && prev.ingressAuditOnly === ingressAuditOnly && prev.egressAuditOnly === egressAuditOnly && prev.auditMode === auditMode) return prev;
    return {
      key,
      namespace: p.namespace,
      name: p.name,
      node: p.node,
      ips: p.ips,
      identity: podIds[i]!,
      endpointId: n,
      ingressEnforced,
      egressEnforced,
      ingressAuditOnly,
      egressAuditOnly,
      auditMode,
    };
  });
  if (cache?.pods) cache.pods.endpoints = endpoints;

  // The ipcache depends only on the inventory and the identity allocation: reused while both stay.
  // Frozen, so later stages may memoize on it (lower encodes a frozen ipcache once).
  const ipcache = cache?.ipcache?.alloc === alloc ? cache.ipcache.entries : (Object.freeze(ipcacheEntries()) as IpcacheEntry[]);
  if (cache) cache.ipcache = { alloc, entries: ipcache };

  function ipcacheEntries(): IpcacheEntry[] {
    // Sorted as comparePrefix orders prefixes: IPv4 first, by address then length. IPv4 entries
    // sort by one number (address * 64 + length) and pod addresses are parsed without allocating.
    const v4: { e: IpcacheEntry; k: number }[] = [];
    const v6: { e: IpcacheEntry; p: Prefix }[] = [];
    const taken = new Set<string>();
    const add = (ip: string, e: (prefix: string) => IpcacheEntry) => {
      const n = ipv4ToInt(ip);
      if (n !== undefined) {
        const s = `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/32`;
        if (taken.has(s)) return;
        taken.add(s);
        v4.push({ e: e(s), k: n * 64 + 32 });
        return;
      }
      const a = parseAddress(ip);
      if (!a) return;
      const hp = hostPrefix(a.family, a.addr);
      const s = formatPrefix(hp);
      if (taken.has(s)) return;
      taken.add(s);
      v6.push({ e: e(s), p: hp });
    };
    inv.pods.forEach((p, i) => {
      for (const ip of p.ips) add(ip, (prefix) => ({ prefix, identity: podIds[i]! }));
    });
    for (const n of inv.nodes) for (const ip of n.ips) add(ip, (prefix) => ({ prefix, identity: reservedIdentities['remote-node'], node: n.name }));
    for (const i of cidrIds) {
      const s = formatPrefix(i.prefix!);
      if (taken.has(s)) continue;
      const p = i.prefix!;
      if (p.family === 4) v4.push({ e: { prefix: s, identity: i.id }, k: (((p.addr[0]! * 256 + p.addr[1]!) * 256 + p.addr[2]!) * 256 + p.addr[3]!) * 64 + p.bits });
      else v6.push({ e: { prefix: s, identity: i.id }, p });
    }
    v4.sort((a, b) => a.k - b.k);
    v6.sort((a, b) => comparePrefix(a.p, b.p));
    return [...v4.map((x) => x.e), ...v6.map((x) => x.e)];
  }

  const fqdnSelectors: FqdnSelector[] = [...alloc.fqdnIdentity].map(([selector, identity]) => ({
    selector,
    identity,
    regex: fqdnRegex(selector),
    cookies: [...new Set(work.filter((w) => w.pr.peer.fqdns.includes(selector)).map((w) => w.pr.origin.cookie + w.offset))],
  }));

  const ir: NetworkIR = {
    identities: alloc.identities,
    endpoints,
    rules,
    ipcache,
    origins,
    fqdnSelectors,
    nodes: inv.nodes.map((n) => n.name),
    ...(opts.commit ? { revision: opts.commit } : {}),
  };
  // Endpoints are in pod order: their index by key is the pod index, shared by every compile
  // against this inventory. Not enumerable: the IR's data stays what it was.
  Object.defineProperty(ir, 'endpointIndex', { value: podIndex, enumerable: false });
  return { ir, diagnostics: sortDiagnostics(diagnostics) };
}

interface PodTables {
  endpointIds: Identity[];
  cidrIds: Identity[];
  reservedPool: Identity[];
  /** `ns/name` per pod, in inventory order; pods are handled by index from here on. */
  podKeys: string[];
  podIndex: Map<string, number>;
  podIds: Int32Array;
  podsByIdentity: Map<number, Pod[]>;
  podIdxByIdentity: Map<number, number[]>;
  /** Endpoint identities by namespace: a namespace-scoped selector (every CNP selector) looks at its own. */
  idsByNamespace: Map<string, Identity[]>;
  /** Container port names any pod declares. */
  portNames: Set<string>;
}

function podTables(inv: Inventory, alloc: IdentityAllocation): PodTables {
  const podKeys = inv.pods.map((p) => `${p.namespace}/${p.name}`);
  const podIndex = new Map<string, number>();
  podKeys.forEach((k, i) => podIndex.set(k, i));
  const podIds = alloc.podIds;
  const podsByIdentity = new Map<number, Pod[]>();
  const podIdxByIdentity = new Map<number, number[]>();
  const portNames = new Set<string>();
  inv.pods.forEach((p, i) => {
    const id = podIds[i]!;
    const l = podsByIdentity.get(id);
    if (l) l.push(p), podIdxByIdentity.get(id)!.push(i);
    else podsByIdentity.set(id, [p]), podIdxByIdentity.set(id, [i]);
    for (const np of p.ports) portNames.add(np.name);
  });
  const endpointIds = alloc.identities.filter((i) => i.kind === 'endpoint');
  const idsByNamespace = new Map<string, Identity[]>();
  for (const i of endpointIds) {
    const l = idsByNamespace.get(i.namespace ?? '');
    if (l) l.push(i);
    else idsByNamespace.set(i.namespace ?? '', [i]);
  }
  return {
    endpointIds,
    cidrIds: alloc.identities.filter((i) => i.kind === 'cidr'),
    reservedPool: alloc.identities.filter((i) => i.kind === 'reserved'),
    podKeys,
    podIndex,
    podIds,
    podsByIdentity,
    podIdxByIdentity,
    idsByNamespace,
    portNames,
  };
}

/** Where a rule's place is found: its document and path, located on first read. */
interface LazySpan {
  doc: PolicyDocument;
  path: Path;
  span?: { line: number; column: number };
}

const originSpans = new WeakMap<RuleOrigin, LazySpan>();

/**
 * A rule origin whose line and column are located when first read: locating rebuilds the
 * positions of the document, and a compile names thousands of rules of which only a finding, an
 * explanation or a bundle's cookie table reads the place. Own enumerable getters, so the origin
 * serializes, clones and compares as the plain object it stands for (key order as before).
 */
function lazyOrigin(f: Omit<RuleOrigin, 'line' | 'column'>, lazy: LazySpan): RuleOrigin {
  const at = () => (lazy.span ??= lazy.doc.locate(lazy.path));
  const o: RuleOrigin = {
    cookie: f.cookie,
    policy: f.policy,
    kind: f.kind,
    name: f.name,
    ...(f.namespace !== undefined ? { namespace: f.namespace } : {}),
    file: f.file,
    get line() {
      return at().line;
    },
    get column() {
      return at().column;
    },
    ...(f.commit !== undefined ? { commit: f.commit } : {}),
    path: f.path,
  };
  originSpans.set(o, lazy);
  return o;
}

/** The same origin under another cookie and commit, sharing its (lazily located) place. */
function originAt(o: RuleOrigin, cookie: number, commit: string | undefined): RuleOrigin {
  const lazy = originSpans.get(o);
  const f = { cookie, policy: o.policy, kind: o.kind, name: o.name, ...(o.namespace !== undefined ? { namespace: o.namespace } : {}), file: o.file, ...(commit ? { commit } : {}), path: o.path };
  if (lazy) return lazyOrigin(f, lazy);
  const c: RuleOrigin = { ...o, cookie };
  if (commit) c.commit = commit;
  else delete c.commit;
  return c;
}

function withCommit(d: Diagnostic, commit: string | undefined): Diagnostic {
  const { commit: _old, ...rest } = d;
  void _old;
  return commit ? { ...rest, commit } : rest;
}

function dedupeRanges(r: PortRange[]): PortRange[] {
  const m = new Map<string, PortRange>();
  for (const x of r) m.set(`${x.protocol}/${x.lo}/${x.hi}`, x);
  return [...m.values()].sort((a, b) => a.protocol - b.protocol || a.lo - b.lo || a.hi - b.hi);
}

export function mergeL7(a: L7Rules | undefined, b: L7Rules): L7Rules {
  if (!a) return b;
  return {
    ...(a.http || b.http ? { http: [...(a.http ?? []), ...(b.http ?? [])] } : {}),
    ...(a.dns || b.dns ? { dns: [...(a.dns ?? []), ...(b.dns ?? [])] } : {}),
    ...(a.kafka || b.kafka ? { kafka: [...(a.kafka ?? []), ...(b.kafka ?? [])] } : {}),
  };
}

export { ID_ANY, LABEL_NAMESPACE };
