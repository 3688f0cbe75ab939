// A named port that no pod of the inventory declares matches nothing: Kubernetes and Cilium accept
// the policy, and the rule then allows (or denies) no traffic at all.
import { ciliumKinds, portRules } from '../cilium.js';
import { asArray, isObj, type Obj } from '../../model/value.js';
import type { NodePath } from '../../load/index.js';
import type { LintRule } from '../rule.js';

export const namedPortUndeclared: LintRule = {
  meta: {
    id: 'network/named-port-undeclared',
    severity: 'warning',
    description: 'A named port that no container of the inventory declares (`--inventory`).',
    rationale:
      'A port name is resolved against the containerPorts of the pods the rule reaches. When no pod declares the name, Kubernetes and Cilium resolve it to nothing: the policy is accepted, and its rule allows (or denies) no traffic. It is usually a typo or a port renamed in the workload.',
    fixable: false,
    kinds: [...ciliumKinds, 'NetworkPolicy'],
    needsInventory: true,
    example: 'ingress:\n- toPorts: [{ports: [{port: htpp, protocol: TCP}]}]',
  },
  check(ctx) {
    const inv = ctx.inventory;
    if (!inv || inv.pods.length === 0) return;
    const declared = new Set<string>();
    for (const p of inv.pods) for (const np of p.ports) declared.add(`${np.name}/${np.protocol.toUpperCase()}`);
    const ports: { port: Obj; path: NodePath }[] = [];
    if (ctx.doc.kind === 'NetworkPolicy') {
      const spec = ctx.doc.value['spec'];
      if (isObj(spec))
        for (const dir of ['ingress', 'egress'])
          asArray(spec[dir]).forEach((r, i) => {
            if (isObj(r)) asArray(r['ports']).forEach((p, j) => isObj(p) && ports.push({ port: p, path: ['spec', dir, i, 'ports', j] }));
          });
    } else
      for (const { portRule, path } of portRules(ctx.doc))
        asArray(portRule['ports']).forEach((p, i) => isObj(p) && ports.push({ port: p, path: [...path, 'ports', i] }));
    for (const { port, path } of ports) {
      const name = port['port'];
      if (typeof name !== 'string' || /^\d+$/.test(name) || name === '') continue;
      // Cilium's ANY and an absent protocol match the name on every protocol.
      const proto = typeof port['protocol'] === 'string' ? port['protocol'].toUpperCase() : 'ANY';
      const found = proto === 'ANY' ? ['TCP', 'UDP', 'SCTP'].some((p) => declared.has(`${name}/${p}`)) : declared.has(`${name}/${proto}`);
      if (!found)
        ctx.report(
          [...path, 'port'],
          `no container of the inventory declares a port named \`${name}\`${proto === 'ANY' ? '' : ` (${proto})`}: the rule matches no traffic; check the name against the pods' containerPorts`,
        );
    }
  },
};
