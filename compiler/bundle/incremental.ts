// Incremental `weir build` for watch loops, the controller and CI re-runs: keeps the parsed
// documents per file, the inventory and the per-endpoint map states between builds, so a
// one-policy change re-parses one file and re-lowers only the endpoints whose rules changed.
// The output is byte-identical to a fresh build of the same input (tested).
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { hasErrors, sortDiagnostics, type Diagnostic } from '../diagnostics.js';
import { loadInventory, readInventory } from '../inventory/load.js';
import type { Inventory } from '../inventory/model.js';
import { loadPolicies, loadSources, type PolicyDocument } from '../load/index.js';
import { MapStateCache } from '../lower/network/images.js';
import { CompileCache } from '../ir/network/compile.js';
import { buildFromDocuments, extraProducers, mergeInventories, type BuildResult } from '../build.js';
import type { ImageProducer } from '../producer.js';

export interface NetworkBuilderOptions {
  paths: string[];
  inventory: string[];
  root: string;
  policyMaxEntries?: number;
  producers?: readonly ImageProducer[];
}

export class NetworkBuilder {
  private readonly byFile = new Map<string, { documents: PolicyDocument[]; diagnostics: Diagnostic[] }>();
  private inventory?: Inventory;
  private inventoryDiagnostics: Diagnostic[] = [];
  private readonly cache = new MapStateCache();
  private readonly compileCache = new CompileCache();

  constructor(private readonly opts: NetworkBuilderOptions) {}

  /** Builds; `changed` (paths relative to root) are re-read, everything else comes from the previous build. */
  async build(changed?: readonly string[]): Promise<BuildResult> {
    if (!this.inventory || !changed) {
      this.byFile.clear();
      const loaded = await loadPolicies(this.opts.paths, { root: this.opts.root });
      for (const f of loaded.files) this.byFile.set(f, { documents: [], diagnostics: [] });
      for (const d of loaded.documents) this.byFile.get(d.provenance.file)?.documents.push(d);
      for (const x of loaded.diagnostics)
        (this.byFile.get(x.file) ?? this.byFile.set(x.file, { documents: [], diagnostics: [] }).get(x.file)!).diagnostics.push(x);
      const inv = await readInventory(this.opts.inventory, { root: this.opts.root });
      const extra = loadInventory(loaded.documents.filter((d) => d.family === 'workload'));
      this.inventory = mergeInventories(inv.inventory, extra.inventory);
      this.inventoryDiagnostics = [...inv.diagnostics, ...extra.diagnostics];
    } else {
      for (const f of changed) {
        const file = f.split(path.sep).join('/');
        let bytes: Uint8Array;
        try {
          bytes = new Uint8Array(await readFile(path.resolve(this.opts.root, file)));
        } catch {
          this.byFile.delete(file);
          continue;
        }
        const r = loadSources([{ file, bytes }]);
        this.byFile.set(file, { documents: r.documents, diagnostics: r.diagnostics });
      }
    }
    const files = [...this.byFile.keys()].sort();
    const documents = files
      .flatMap((f) => this.byFile.get(f)!.documents)
      .filter((d) => d.family === 'network' || d.family === 'runtime' || d.family === 'psp');
    const r = await buildFromDocuments(documents, this.inventory, {
      ...(this.opts.policyMaxEntries ? { policyMaxEntries: this.opts.policyMaxEntries } : {}),
      source: { paths: this.opts.paths, ...(this.opts.inventory.length ? { inventory: this.opts.inventory.join(',') } : {}) },
      producers: this.opts.producers ?? extraProducers,
      cache: this.cache,
      compileCache: this.compileCache,
    });
    const diagnostics = sortDiagnostics([
      ...files.flatMap((f) => this.byFile.get(f)!.diagnostics),
      ...this.inventoryDiagnostics,
      ...r.diagnostics,
    ]);
    return { ...r, diagnostics, ...(hasErrors(diagnostics) ? { bundle: undefined } : {}) };
  }
}
