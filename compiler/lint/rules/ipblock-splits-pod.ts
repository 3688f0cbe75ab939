// A NetworkPolicy ipBlock that covers some but not all of a pod's addresses (a dual-stack pod with
// one family inside the block): weir gives a pod one identity for all its addresses, so it can
// match the pod on all of them or none. It matches none, never allowing an address outside the
// block; Kubernetes matches the covered address.
import { ipBlockContains } from '../../identity/allocate.js';
import { parsePrefix, type Prefix } from '../../model/cidr.js';
import { asArray, isObj } from '../../model/value.js';
import type { LintRule } from '../rule.js';

export const ipBlockSplitsPod: LintRule = {
  meta: {
    id: 'network/ipblock-splits-pod',
    severity: 'warning',
    description: 'A NetworkPolicy `ipBlock` covers some but not all addresses of a pod in the inventory (`--inventory`).',
    rationale:
      'Kubernetes matches an ipBlock per address, so a dual-stack pod whose IPv4 address is in the block is reached on IPv4 and not on IPv6. weir enforces by identity, one per pod for all its addresses: it treats the pod as outside the block, so nothing is allowed on the address the block leaves out, and the covered address is denied too. Select the pod by labels (podSelector, namespaceSelector) instead: a second block for its other address does not help, as each block is judged on its own.',
    fixable: false,
    kinds: ['NetworkPolicy'],
    needsInventory: true,
    example: 'egress:\n- to: [{ipBlock: {cidr: 10.0.2.12/32}}]   # the pod also has fd00::12',
  },
  check(ctx) {
    const inv = ctx.inventory;
    if (!inv || inv.pods.length === 0) return;
    const spec = ctx.doc.value['spec'];
    if (!isObj(spec)) return;
    for (const [dir, peers] of [
      ['ingress', 'from'],
      ['egress', 'to'],
    ] as const)
      asArray(spec[dir]).forEach((r, i) => {
        if (!isObj(r)) return;
        asArray(r[peers]).forEach((peer, j) => {
          const ib = isObj(peer) ? peer['ipBlock'] : undefined;
          if (!isObj(ib) || typeof ib['cidr'] !== 'string') return;
          const prefix = parsePrefix(ib['cidr'], { strict: true });
          if (!prefix) return;
          const except = asArray(ib['except'])
            .flatMap((e) => (typeof e === 'string' ? [parsePrefix(e, { strict: true })] : []))
            .filter((p): p is Prefix => p !== undefined);
          for (const p of inv.pods) {
            const inside = p.ips.filter((ip) => ipBlockContains({ prefix, except }, ip));
            if (inside.length === 0 || inside.length === p.ips.length) continue;
            const outside = p.ips.filter((ip) => !inside.includes(ip));
            ctx.report(
              ['spec', dir, i, peers, j, 'ipBlock', 'cidr'],
              `ipBlock \`${ib['cidr']}\` covers ${inside.join(', ')} of pod ${p.namespace}/${p.name} but not ${outside.join(', ')}: weir enforces one identity per pod, so the block matches the pod on none of its addresses (Kubernetes matches ${inside.join(', ')}); select the pod by labels instead`,
            );
          }
        });
      });
  },
};
