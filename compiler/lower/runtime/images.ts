// The runtime compiler's contribution to `weir build`: per node, the eight runtime inner-map images
// (hooks, policy modes, string sets in three size classes, prefix / postfix / numeric sets) lowered for that node's capabilities,
// and one bundle table `runtime_hooks` mapping hook ids (the events' cookies) to policy, file:line, commit.
import type { ImageProducer } from '../../producer.js';
import type { ImageDraft, TableDraft } from '../../bundle/assemble.js';
import type { Diagnostic } from '../../diagnostics.js';
import { capabilitiesFromLabels, describeProbedMissing, type CapabilitySource } from './capabilities.js';
import { compileRuntime } from './index.js';

const capabilityRules = new Set(['runtime/node-capability', 'runtime/override-not-injectable']);

export const imageProducer: ImageProducer = {
  name: 'runtime',
  produce(ctx) {
    const nodes = new Map<string, ImageDraft[]>();
    const tables: TableDraft[] = [];
    const diagnostics: Diagnostic[] = [];
    if (!ctx.documents.some((d) => d.family === 'runtime')) return { output: { nodes, tables }, diagnostics };
    // A node's agent's probe decides when it reported one; else the inventory's labels (`weir build/plan` in CI).
    // A node the controller holds on its last bundle gets no runtime images here: never a partial set for it.
    const held = new Set(ctx.heldNodes ?? []);
    const targets = ctx.nodes
      .filter((name) => !held.has(name))
      .map((name) => {
        const probed = ctx.nodeCapabilities?.[name];
        if (probed) return { name, caps: probed.caps, decided: { source: 'probe' } as CapabilitySource, probed };
        const fromLabels = capabilitiesFromLabels(ctx.inventory.nodes.find((n) => n.name === name)?.labels ?? {});
        return { name, caps: fromLabels.caps, decided: { source: 'label', profile: fromLabels.profile } as CapabilitySource };
      });
    const r = compileRuntime(ctx.documents, targets);
    diagnostics.push(...r.diagnostics);
    const hookTables: Record<string, unknown> = {};
    r.nodes.forEach((n, i) => {
      const t = targets[i]!;
      // What the node lacks, as its probe reported it: a hook it cannot run is refused naming both.
      const said = t.probed
        ? `; capabilities reported by the node's agent probe, which lacks ${describeProbedMissing(t.probed)}${t.probed.errorInjectionNotListed ? ` (its error-injection list of ${t.probed.errorInjectionNotListed} functions was too long to report by name: weir's built-in list stands for it)` : ''}`
        : '';
      diagnostics.push(
        ...n.diagnostics.map((d) =>
          said && d.severity === 'error' && capabilityRules.has(d.rule) ? { ...d, message: d.message + said, node: t.name } : d,
        ),
      );
      nodes.set(
        n.node,
        n.images.map((img) => ({
          image: {
            name: img.name,
            keyType: img.keyType,
            valueType: img.valueType,
            type: img.type,
            keySize: img.keySize,
            valueSize: img.valueSize,
            maxEntries: img.maxEntries,
          },
          records: img.records,
        })),
      );
      hookTables[n.node] = {
        attach: n.lowered.attach,
        policies: n.lowered.policies,
        hooks: n.lowered.table,
        capacity: n.lowered.capacity,
        ...(n.lowered.scopes ? { scopes: n.lowered.scopes } : {}),
        capabilities: t.decided,
      };
    });
    tables.push({ name: 'runtime_hooks', value: hookTables });
    return { output: { nodes, tables }, diagnostics };
  },
};
