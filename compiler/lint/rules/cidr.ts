// CIDRs must parse, and each `except` must lie inside its `cidr`.
import { isIP } from 'node:net';
import type { NodePath } from '../../load/index.js';
import { ciliumKinds, ciliumSections } from '../cilium.js';
import { asArray, isObj } from '../../model/value.js';
import type { LintRule, RuleContext } from '../rule.js';

export interface Prefix {
  family: 4 | 6;
  bits: bigint;
  len: number;
}

function ipBits(ip: string, family: 4 | 6): bigint {
  if (family === 4) return ip.split('.').reduce((a, o) => (a << 8n) | BigInt(Number(o)), 0n);
  const [head, tail] = ip.includes('::') ? ip.split('::') : [ip, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  // An embedded IPv4 tail counts as two groups.
  const expand = (gs: string[]) => gs.flatMap((g) => (g.includes('.') ? [(ipBits(g, 4) >> 16n).toString(16), (ipBits(g, 4) & 0xffffn).toString(16)] : [g]));
  const hs = expand(h);
  const ts = expand(t);
  const groups = tail === undefined ? hs : [...hs, ...Array(8 - hs.length - ts.length).fill('0'), ...ts];
  return groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** Parses `a.b.c.d/n`, `x::/n` or a bare address (a host prefix); undefined when invalid. */
export function parsePrefix(s: string): Prefix | undefined {
  const slash = s.indexOf('/');
  const ip = slash < 0 ? s : s.slice(0, slash);
  const family = isIP(ip);
  if (family !== 4 && family !== 6) return undefined;
  const max = family === 4 ? 32 : 128;
  const lenText = slash < 0 ? String(max) : s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText)) return undefined;
  const len = Number(lenText);
  if (len > max) return undefined;
  return { family, bits: ipBits(ip, family), len };
}

export function contains(outer: Prefix, inner: Prefix): boolean {
  if (outer.family !== inner.family || inner.len < outer.len) return false;
  const width = BigInt(outer.family === 4 ? 32 : 128);
  const shift = width - BigInt(outer.len);
  return outer.bits >> shift === inner.bits >> shift;
}

function checkCidr(ctx: RuleContext, value: unknown, at: NodePath): Prefix | undefined {
  if (typeof value !== 'string') return undefined;
  const p = parsePrefix(value);
  if (!p) ctx.report(at, `\`${value}\` is not a valid CIDR (expected e.g. 10.0.0.0/8 or fd00::/64)`);
  return p;
}

export const cidr: LintRule = {
  meta: {
    id: 'cilium/cidr',
    severity: 'error',
    description: 'A CIDR does not parse, or an `except` prefix is not inside its `cidr`.',
    rationale: 'Cilium refuses a policy with an unparsable CIDR. An `except` outside its `cidr` excludes nothing, which usually means the author allowed more than intended.',
    fixable: false,
    kinds: ciliumKinds,
    example: 'toCIDRSet: [{cidr: 10.0.0.0/8, except: [192.168.0.0/16]}]',
  },
  check(ctx) {
    for (const { section, path } of ciliumSections(ctx.doc)) {
      for (const f of ['fromCIDR', 'toCIDR']) asArray(section[f]).forEach((c, i) => checkCidr(ctx, c, [...path, f, i]));
      for (const f of ['fromCIDRSet', 'toCIDRSet'])
        asArray(section[f]).forEach((set, i) => {
          if (!isObj(set)) return;
          const outer = checkCidr(ctx, set['cidr'], [...path, f, i, 'cidr']);
          asArray(set['except']).forEach((e, j) => {
            const inner = checkCidr(ctx, e, [...path, f, i, 'except', j]);
            if (outer && inner && !contains(outer, inner)) ctx.report([...path, f, i, 'except', j], `except \`${String(e)}\` is not inside cidr \`${String(set['cidr'])}\`, so it excludes nothing`);
          });
        });
    }
  },
};
