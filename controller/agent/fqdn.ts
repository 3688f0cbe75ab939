// toFQDNs at run time, as Cilium's DNS proxy does it: names answered to an endpoint are matched
// against the bundle's FQDN selectors, and each address goes into the ipcache under the
// selector's identity for the answer's TTL. Learning happens only where a DNS L7 rule sends the
// lookup through the proxy; without one (upstream: no redirect) nothing is learned. A name the
// DNS rules do not allow is refused, as Cilium's proxy refuses it.
export interface FqdnSelectorRow {
  selector: string;
  identity: number;
  /** Anchored regular expression over the answered name (without the trailing dot). */
  regex: string;
}

interface DnsRuleRow {
  matchName?: string;
  matchPattern?: string;
}

export interface LearnedAddress {
  ip: string;
  identity: number;
  selector: string;
  name: string;
  expiresAt: number;
}

/** Cilium's DNS matchPattern: `*` is any run of name characters without a dot; a lone `*` allows all. */
export function dnsPatternRegex(p: string): RegExp {
  const s = p.toLowerCase().replace(/\.$/, '');
  if (s === '*') return /^.*$/;
  return new RegExp(
    `^${s
      .split('*')
      .map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('[-a-z0-9_]*')}$`,
  );
}

export class FqdnPolicy {
  readonly selectors: { row: FqdnSelectorRow; re: RegExp }[];
  readonly dnsRules: RegExp[];

  constructor(tables: ReadonlyMap<string, unknown> | undefined) {
    const sel = (tables?.get('fqdn_selectors') ?? []) as FqdnSelectorRow[];
    this.selectors = sel.map((row) => ({ row, re: new RegExp(row.regex, 'i') }));
    const l7 = (tables?.get('l7_rules') ?? []) as { dns?: DnsRuleRow[] }[];
    this.dnsRules = l7
      .flatMap((s) => s.dns ?? [])
      .map((r) =>
        r.matchName !== undefined
          ? new RegExp(
              `^${r.matchName
                .toLowerCase()
                .replace(/\.$/, '')
                .replace(/[.+?^${}()|[\]\\]/g, '\\$&')}$`,
            )
          : dnsPatternRegex(r.matchPattern ?? '*'),
      );
  }

  /** True when some DNS rule sends lookups through the proxy. */
  get proxied(): boolean {
    return this.dnsRules.length > 0;
  }

  allows(name: string): boolean {
    const n = name.toLowerCase().replace(/\.$/, '');
    return this.dnsRules.some((r) => r.test(n));
  }

  /** Selectors whose pattern matches `name`. */
  match(name: string): FqdnSelectorRow[] {
    const n = name.toLowerCase().replace(/\.$/, '');
    return this.selectors.filter((s) => s.re.test(n) || s.re.test(`${n}.`)).map((s) => s.row);
  }
}
