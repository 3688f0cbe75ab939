// Loads one side of a plan: policies from a Git revision (work tree untouched) or the work tree,
// compiled with the network compiler into a RevisionModel the plan can probe.
import { createHash } from 'node:crypto';
import { diagnostic, fileSpan, hasErrors, sortDiagnostics, type Diagnostic } from '../diagnostics.js';
import { inputErrors, withoutRepeats } from '../validate.js';
import { buildRuntimeIR } from '../ir/runtime/compile.js';
import {
  loadPolicies,
  loadSources,
  readRevision,
  readWorkTree,
  type LoadResult,
  type PolicyDocument,
  type RevisionFile,
} from '../load/index.js';
import { GitObjectReader } from '../load/git.js';
import type { RevisionInfo } from './model.js';
import { compileRevision, inventoryKey } from './network.js';
import { CompileCache } from '../ir/network/compile.js';
import type { AllowLocalhost } from '../ir/network/types.js';
import type { RevisionModel } from './plan.js';

export interface RevisionRequest {
  /** Git revision, or undefined for the work tree. */
  rev?: string;
  /** Files folders are read without (the project config's ignore globs, as a test of root-relative paths). */
  ignore?: readonly string[] | ((file: string) => boolean);
  /** How the user named it, for headings (`main`, `worktree`). */
  ref: string;
  /** Cilium's `--allow-localhost` (default `auto`: the host reaches the pods of its node). */
  allowLocalhost?: AllowLocalhost;
}

export interface InventoryInput {
  /** Path as given, for messages. */
  file: string;
  documents: PolicyDocument[];
  diagnostics: Diagnostic[];
  text: string;
}

/**
 * Reads `--inventory FILE|DIR` once; both revisions are compiled against the same cluster. A
 * folder is read as a policy folder is (YAML and JSON side by side, typed lists, manifests).
 */
export async function readInventory(file: string, cwd: string): Promise<InventoryInput> {
  const r = await readWorkTree(cwd, [file], { maxFileBytes: 1 << 30 });
  const missing = r.diagnostics.find((d) => d.rule === 'load/missing-path' || d.rule === 'load/unreadable');
  if (missing)
    return {
      file,
      documents: [],
      diagnostics: [diagnostic('plan/inventory-unreadable', 'error', `cannot read inventory ${file}: ${missing.message}`, fileSpan(file))],
      text: '',
    };
  const loaded = loadSources(r.files, undefined, { maxFileBytes: 1 << 30 });
  return {
    file,
    documents: loaded.documents,
    diagnostics: sortDiagnostics([...r.diagnostics, ...loaded.diagnostics]),
    text: r.files.map((f) => `${f.file}\0${Buffer.from(f.bytes).toString('utf8')}`).join('\0'),
  };
}

/**
 * Shared by the two sides of a plan: a file unchanged between the revisions (same blob) is
 * parsed once, and an unchanged inventory is loaded once.
 */
export interface RevisionCache {
  blobs: Map<string, LoadResult>;
  inventories: Map<string, unknown>;
  /** The network compiler's memo: the head reuses the base's parse and resolution of unchanged documents. */
  compile: CompileCache;
  /** Rule texts → numbers, shared so both revisions' endpoint fingerprints compare. */
  ruleIds: Map<string, number>;
  /** One `git cat-file --batch` per repository for every revision read. */
  readers: Map<string, GitObjectReader>;
}

export function newRevisionCache(): RevisionCache {
  return { blobs: new Map(), inventories: new Map(), compile: new CompileCache(), ruleIds: new Map(), readers: new Map() };
}

/** Ends the cache's `git cat-file` processes (idle ones never hold this process open, but each is a process). */
export function closeRevisionCache(cache: RevisionCache): void {
  for (const r of cache.readers.values()) r.close();
  cache.readers.clear();
}

const blobKey = (oid: string, file: string) => `${oid}:${file}`;

/** Parses one file for `commit`, reusing the documents parsed for another commit with the same blob. */
function loadCached(f: RevisionFile, commit: string | undefined, cache: RevisionCache): LoadResult {
  const key = blobKey(f.oid, f.file);
  const hit = cache.blobs.get(key);
  if (!hit) {
    const r = loadSources([{ file: f.file, bytes: f.bytes!, ...(f.named ? { named: true } : {}) }], commit);
    cache.blobs.set(key, r);
    return r;
  }
  if (hit.commit === commit) return hit;
  // Same content, other commit (or the work tree, no commit): only the provenance's commit differs.
  const withCommit = <T extends { commit?: string }>(x: T): T => {
    const y = { ...x };
    if (commit) y.commit = commit;
    else delete y.commit;
    return y;
  };
  return {
    documents: hit.documents.map((d) => ({ ...d, provenance: withCommit(d.provenance) })),
    diagnostics: hit.diagnostics.map(withCommit),
    files: hit.files,
    ...(commit ? { commit } : {}),
    sources: hit.sources,
    ignored: hit.ignored,
  };
}

/** Git's blob id of some bytes (what `git hash-object` prints): equal ids mean equal content. */
function blobId(bytes: Uint8Array): string {
  return createHash('sha1').update(`blob ${bytes.byteLength}\0`).update(bytes).digest('hex');
}

/**
 * The work tree (`weir plan --worktree`), each file keyed by the blob id Git would give it, so an
 * unchanged file reuses the base revision's parse and compile like a committed one does.
 */
async function loadWorkTree(
  paths: readonly string[],
  root: string,
  cache: RevisionCache,
  ignore?: readonly string[] | ((file: string) => boolean),
): Promise<LoadResult> {
  const r = await readWorkTree(root, paths, {}, ignore);
  const parts = r.files.map((f) =>
    loadCached({ file: f.file, oid: blobId(f.bytes), bytes: f.bytes, ...(f.named ? { named: true } : {}) }, undefined, cache),
  );
  return {
    documents: parts.flatMap((p) => p.documents),
    diagnostics: sortDiagnostics([...r.diagnostics, ...parts.flatMap((p) => p.diagnostics)]),
    files: r.files.map((f) => f.file),
    sources: new Map(parts.flatMap((p) => [...p.sources])),
    ignored: [...r.ignored, ...parts.flatMap((p) => p.ignored)],
  };
}

async function loadAt(
  paths: readonly string[],
  root: string,
  rev: string,
  cache: RevisionCache,
  ignore?: readonly string[] | ((file: string) => boolean),
): Promise<LoadResult> {
  let reader = cache.readers.get(root);
  if (!reader) cache.readers.set(root, (reader = new GitObjectReader(root)));
  // Blobs parsed for the other revision (same id, same path) are not read again.
  const r = await readRevision(root, rev, paths, {
    reader,
    keepBlobs: true,
    have: (file, oid) => cache.blobs.has(blobKey(oid, file)),
    ...(ignore ? { ignore } : {}),
  });
  if ('error' in r) return { documents: [], diagnostics: [r.error], files: [], sources: new Map(), ignored: [] };
  const parts = r.files.map((f) => loadCached(f, r.commit, cache));
  return {
    documents: parts.flatMap((p) => p.documents),
    diagnostics: sortDiagnostics([...r.diagnostics, ...parts.flatMap((p) => p.diagnostics)]),
    files: r.files.map((f) => f.file),
    commit: r.commit,
    sources: new Map(parts.flatMap((p) => [...p.sources])),
    ignored: [...r.ignored, ...parts.flatMap((p) => p.ignored)],
  };
}

/** One revision, compiled. With a shared `cache` (both sides of a plan), the caller ends it with closeRevisionCache. */
export async function loadRevision(
  paths: readonly string[],
  root: string,
  req: RevisionRequest,
  inventory?: InventoryInput,
  shared?: RevisionCache,
): Promise<{ model: RevisionModel; load: LoadResult }> {
  const cache = shared ?? newRevisionCache();
  // Paths outside the repository go through loadPolicies (it reports them); inside, revisions and the
  // work tree are read file by file against the shared cache.
  const inside = paths.every((p) => !p.startsWith('..'));
  const load = !inside
    ? await loadPolicies(paths, { root, ...(req.rev ? { rev: req.rev } : {}) })
    : req.rev
      ? await loadAt(paths, root, req.rev, cache, req.ignore).finally(() => shared || closeRevisionCache(cache))
      : await loadWorkTree(paths, root, cache, req.ignore);
  const docs = load.documents;
  // Without --inventory the workloads come from the manifests beside the policies, at this revision.
  const inventoryDocs = inventory ? inventory.documents : docs.filter((d) => d.family === 'workload' || d.kind === 'Inventory');
  // A revision whose policies do not load still has workloads: keep them so the plan does not
  // report every workload as added or removed.
  const compiled = await compileRevision(
    hasErrors(load.diagnostics) ? docs.filter((d) => d.family !== 'network') : docs,
    inventoryDocs,
    inventory?.file,
    cache.inventories,
    cache.compile,
    cache.ruleIds,
    req.allowLocalhost,
  );
  const compiledDiagnostics = [...load.diagnostics, ...compiled.diagnostics];
  // What build refuses, the plan's head fails on too: input validation (schema, selectors) and the runtime compiler's errors.
  const policies = docs.filter((d) => d.family === 'network' || d.family === 'runtime' || d.family === 'psp');
  compiledDiagnostics.push(...withoutRepeats(compiledDiagnostics, inputErrors(policies)));
  compiledDiagnostics.push(
    ...withoutRepeats(
      compiledDiagnostics,
      buildRuntimeIR(policies).diagnostics.filter((d) => d.severity === 'error'),
    ),
  );
  const diagnostics = sortDiagnostics([...(inventory?.diagnostics ?? []), ...compiledDiagnostics]);
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
  // Both sides usually share the inventory documents (same parsed values): then their key is
  // equal and nothing is hashed. Only when the keys differ does the plan read the digest, which
  // hashes the documents' content once per key.
  const key = `digest:${inventory ? inventory.file : inventoryKey(inventoryDocs)}`;
  const digest = (): string => {
    let d = cache.inventories.get(key) as string | undefined;
    if (d === undefined) {
      d = createHash('sha256')
        .update(inventory ? inventory.text : JSON.stringify(inventoryDocs.map((x) => x.value)))
        .digest('hex');
      cache.inventories.set(key, d);
    }
    return d;
  };
  const model: RevisionModel = {
    info,
    documents: docs,
    workloads: compiled.workloads ?? [],
    space: compiled.space,
    ...(compiled.listRanges ? { listRanges: compiled.listRanges } : {}),
    ...(compiled.nodes ? { nodes: compiled.nodes } : {}),
    ...(compiled.oracle && !failed ? { oracle: compiled.oracle } : {}),
    ...(compiled.build && !failed ? { build: compiled.build } : {}),
    ...(compiled.portCuts ? { portCuts: compiled.portCuts } : {}),
    ...(compiled.endpointFingerprints ? { endpointFingerprints: compiled.endpointFingerprints } : {}),
    ...(compiled.fingerprintTable ? { fingerprintTable: compiled.fingerprintTable } : {}),
    ...(compiled.podAddresses ? { podAddresses: compiled.podAddresses } : {}),
    inventoryKey: key,
    inventoryDigest: '',
  };
  Object.defineProperty(model, 'inventoryDigest', { enumerable: true, get: digest });
  return { load, model };
}

/**
 * A misspelled path must not read as "no change": warn (on the head) about every path that holds
 * no YAML file in either revision.
 */
export function warnEmptyPaths(paths: readonly string[], base: LoadResult, head: { model: RevisionModel; load: LoadResult }): void {
  const has = (files: readonly string[], p: string) => files.some((f) => f === p || f.startsWith(`${p.replace(/\/$/, '')}/`));
  for (const p of paths) {
    if (p === '.' || has(base.files, p) || has(head.load.files, p)) continue;
    head.model.info.diagnostics.push(
      diagnostic('plan/empty-path', 'warning', `${p} holds no YAML file in either revision; check the path`, fileSpan(p)),
    );
    head.model.info.warnings++;
  }
}
