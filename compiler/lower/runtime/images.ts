// The runtime compiler's contribution to `weir build`: per node, the eight runtime inner-map images
// (hooks, policy modes, string sets in three size classes, prefix / postfix / numeric sets) lowered for that node's capabilities,
// and one bundle table `runtime_hooks` mapping hook ids (the events' cookies) to policy, file:line, commit.
import type { ImageProducer } from '../../producer.js';
import type { ImageDraft, TableDraft } from '../../bundle/assemble.js';
import type { Diagnostic } from '../../diagnostics.js';
import { capabilitiesFromLabels } from './capabilities.js';
import { compileRuntime } from './index.js';

export const imageProducer: ImageProducer = {
  name: 'runtime',
  produce(ctx) {
    const nodes = new Map<string, ImageDraft[]>();
    const tables: TableDraft[] = [];
    const diagnostics: Diagnostic[] = [];
    if (!ctx.documents.some((d) => d.family === 'runtime')) return { output: { nodes, tables }, diagnostics };
    const targets = ctx.nodes.map((name) => ({
      name,
      caps: capabilitiesFromLabels(ctx.inventory.nodes.find((n) => n.name === name)?.labels ?? {}).caps,
    }));
    const r = compileRuntime(ctx.documents, targets);
    diagnostics.push(...r.diagnostics);
    const hookTables: Record<string, unknown> = {};
    for (const n of r.nodes) {
      diagnostics.push(...n.diagnostics);
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
      };
    }
    tables.push({ name: 'runtime_hooks', value: hookTables });
    return { output: { nodes, tables }, diagnostics };
  },
};
