// A Cilium CIDR rule never matches cluster endpoints: a CIDR that covers pod addresses does not
// apply to those pods, unlike a Kubernetes NetworkPolicy ipBlock.
import { ipBlockContains } from '../../identity/allocate.js';
import type { Inventory } from '../../inventory/index.js';
import { parsePrefix, type Prefix } from '../../model/cidr.js';
import { asArray, isObj } from '../../model/value.js';
import { ciliumKinds, ciliumSections } from '../cilium.js';
import type { LintRule } from '../rule.js';

/** `ns/name` of the pods with an address in `prefix` minus `except`. */
function podsIn(inv: Inventory, prefix: Prefix, except: Prefix[]): string[] {
  return inv.pods.filter((p) => p.ips.some((ip) => ipBlockContains({ prefix, except }, ip))).map((p) => `${p.namespace}/${p.name}`);
}

export const cidrCoversPods: LintRule = {
  meta: {
    id: 'cilium/cidr-covers-pods',
    severity: 'warning',
    description: 'A `fromCIDR`/`toCIDR`/`fromCIDRSet`/`toCIDRSet` prefix covers addresses of pods in the inventory (`--inventory`).',
    rationale:
      'Cilium applies CIDR rules only to peers outside the cluster: a pod whose address lies in the CIDR is matched by its identity, never by the CIDR, so the rule neither allows nor denies it. A Kubernetes NetworkPolicy ipBlock does cover pod addresses, so policies migrated from another CNI break silently. Select those pods by labels (`toEndpoints`/`fromEndpoints`) instead.',
    fixable: false,
    kinds: ciliumKinds,
    needsInventory: true,
    example: 'toCIDR: [10.0.0.0/8]   # the pod network',
  },
  check(ctx) {
    const inv = ctx.inventory;
    if (!inv || inv.pods.length === 0) return;
    for (const { section, path } of ciliumSections(ctx.doc)) {
      const report = (field: string, i: number, cidr: unknown, except: unknown) => {
        const prefix = typeof cidr === 'string' ? parsePrefix(cidr, { strict: true }) : undefined;
        if (!prefix) return;
        const ex = asArray(except)
          .flatMap((e) => (typeof e === 'string' ? [parsePrefix(e, { strict: true })] : []))
          .filter((p): p is Prefix => p !== undefined);
        const pods = podsIn(inv, prefix, ex);
        if (pods.length === 0) return;
        const peers = field.startsWith('from') ? 'fromEndpoints' : 'toEndpoints';
        const named = pods.slice(0, 3).join(', ') + (pods.length > 3 ? `, and ${pods.length - 3} more` : '');
        ctx.report(
          typeof except === 'undefined' && !field.endsWith('Set') ? [...path, field, i] : [...path, field, i, 'cidr'],
          `${field} \`${cidr as string}\` covers the addresses of ${pods.length} pod${pods.length === 1 ? '' : 's'} of the inventory (${named}); Cilium does not match cluster endpoints by CIDR, so this rule does not apply to them: select them by labels with ${peers}`,
        );
      };
      for (const f of ['fromCIDR', 'toCIDR']) asArray(section[f]).forEach((c, i) => report(f, i, c, undefined));
      for (const f of ['fromCIDRSet', 'toCIDRSet'])
        asArray(section[f]).forEach((set, i) => {
          if (isObj(set)) report(f, i, set['cidr'], set['except']);
        });
    }
  },
};
