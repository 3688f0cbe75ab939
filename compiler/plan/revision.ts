// Loads one side of a plan: policies from a Git revision (work tree untouched) or the work tree,
// compiled with the network compiler into a RevisionModel the plan can probe.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { diagnostic, fileSpan, hasErrors, sortDiagnostics, type Diagnostic } from '../diagnostics.js';
import { loadPolicies, loadSources, type LoadResult, type PolicyDocument } from '../load/index.js';
import type { RevisionInfo } from './model.js';
import { compileRevision } from './network.js';
import type { RevisionModel } from './plan.js';

export interface RevisionRequest {
  /** Git revision, or undefined for the work tree. */
  rev?: string;
  /** How the user named it, for headings (`main`, `worktree`). */
  ref: string;
}

export interface InventoryInput {
  /** Path as given, for messages. */
  file: string;
  documents: PolicyDocument[];
  diagnostics: Diagnostic[];
  text: string;
}

/** Reads `--inventory FILE` once; both revisions are compiled against the same cluster. */
export async function readInventory(file: string, cwd: string): Promise<InventoryInput> {
  const abs = path.resolve(cwd, file);
  let bytes: Uint8Array;
  try {
    bytes = await fs.readFile(abs);
  } catch (e) {
    return { file, documents: [], diagnostics: [diagnostic('plan/inventory-unreadable', 'error', `cannot read inventory ${file}: ${(e as Error).message}`, fileSpan(file))], text: '' };
  }
  const r = loadSources([{ file, bytes }]);
  return { file, documents: r.documents, diagnostics: r.diagnostics, text: Buffer.from(bytes).toString('utf8') };
}

export async function loadRevision(paths: readonly string[], root: string, req: RevisionRequest, inventory?: InventoryInput): Promise<{ model: RevisionModel; load: LoadResult }> {
  const load = await loadPolicies(paths, { root, ...(req.rev ? { rev: req.rev } : {}) });
  const docs = load.documents;
  // Without --inventory the workloads come from the manifests beside the policies, at this revision.
  const inventoryDocs = inventory ? inventory.documents : docs.filter((d) => d.family === 'workload' || d.kind === 'Inventory');
  // A revision whose policies do not load still has workloads: keep them so the plan does not
  // report every workload as added or removed.
  const compiled = await compileRevision(hasErrors(load.diagnostics) ? docs.filter((d) => d.family !== 'network') : docs, inventoryDocs, inventory?.file);
  const diagnostics = sortDiagnostics([...(inventory?.diagnostics ?? []), ...load.diagnostics, ...compiled.diagnostics]);
  const failed = hasErrors(diagnostics) || !compiled.oracle;
  const info: RevisionInfo = {
    ref: req.ref,
    ...(load.commit ? { commit: load.commit } : {}),
    status: failed ? 'failed' : 'ok',
    policies: docs.filter((d) => d.family === 'network' || d.family === 'runtime').length,
    files: load.files.length,
    errors: diagnostics.filter((d) => d.severity === 'error').length,
    warnings: diagnostics.filter((d) => d.severity === 'warning').length,
    diagnostics,
  };
  const digest = createHash('sha256')
    .update(inventory ? inventory.text : JSON.stringify(inventoryDocs.map((d) => d.value)))
    .digest('hex');
  return {
    load,
    model: {
      info,
      documents: docs,
      workloads: compiled.workloads ?? [],
      ...(compiled.oracle && !failed ? { oracle: compiled.oracle } : {}),
      ...(compiled.portCuts ? { portCuts: compiled.portCuts } : {}),
      ...(compiled.endpointFingerprints ? { endpointFingerprints: compiled.endpointFingerprints } : {}),
      inventoryDigest: digest,
    },
  };
}
