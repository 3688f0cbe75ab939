// The project's compiler (issue #3's compiler/bundle build) behind the controller's Compiler
// interface: documents from Git by blob id (git-tree.ts), inventory from the workload manifests
// beside the policies, and the network/runtime producers' map-state and identity caches kept
// across commits, so a one-policy commit re-lowers only the endpoints it touches.
import { hasErrors, sortDiagnostics, type Diagnostic } from '../../compiler/diagnostics.js';
import { abiInfo, buildFromDocuments, compilerVersion, extraProducers, type ImageProducer } from '../../compiler/build.js';
import { diagnostic } from '../../compiler/diagnostics.js';
import { loadInventory } from '../../compiler/inventory/load.js';
import { loadSources, type PolicyDocument, type SourceFile } from '../../compiler/load/index.js';
import { MapStateCache } from '../../compiler/lower/network/images.js';
import { CompileCache } from '../../compiler/ir/network/compile.js';
import { parseManifest, sha256hex, type Bundle } from '../bundle/codec.js';
import type { CompileRequest, CompileResult, Compiler } from './compiler.js';
import { GitDocuments } from './git-tree.js';

export class ProjectCompiler implements Compiler {
  readonly name = compilerVersion();
  private readonly git = new GitDocuments();
  private readonly mapStates = new MapStateCache();
  private readonly identities = new CompileCache();
  private producers: ImageProducer[] | undefined;

  /** Throws when the compiler cannot run here (its ABI header is missing). */
  probe(): void {
    abiInfo();
  }

  async compile(req: CompileRequest): Promise<CompileResult> {
    const r = await this.git.read(req.root, req.commit, req.paths);
    if ('error' in r) return { ok: false, diagnostics: [r.error], compiler: this.name };
    return this.guarded(() => this.build(r.documents, r.diagnostics, r.commit, req.paths));
  }

  async compileFiles(files: SourceFile[], revision: string): Promise<CompileResult> {
    const loaded = loadSources(files);
    return this.guarded(() => this.build(loaded.documents, loaded.diagnostics, revision, ['cluster']));
  }

  /** A crash inside the compiler is a failed compile with a diagnostic, never a stuck controller. */
  private async guarded(f: () => Promise<CompileResult>): Promise<CompileResult> {
    try {
      return await f();
    } catch (err) {
      return { ok: false, diagnostics: [diagnostic('controller/compiler-error', 'error', `the compiler failed: ${(err as Error).message}; this is a bug in weir, not in the policies (the last good bundle stays in force)`, { file: '.', line: 1, column: 1, endLine: 1, endColumn: 1 })], compiler: this.name };
    }
  }

  private async build(documents: PolicyDocument[], loadDiagnostics: Diagnostic[], commit: string, paths: string[]): Promise<CompileResult> {
    const inv = loadInventory(documents.filter((d) => d.family === 'workload' || d.kind === 'Inventory'));
    const policyDocs = documents.filter((d) => d.family === 'network' || d.family === 'runtime' || d.family === 'psp');
    this.producers ??= await extraProducers();
    const r = await buildFromDocuments(policyDocs, inv.inventory, { source: { revision: commit, paths }, commit, producers: this.producers, cache: this.mapStates, compileCache: this.identities });
    const diagnostics = sortDiagnostics([...loadDiagnostics, ...inv.diagnostics, ...r.diagnostics]);
    if (hasErrors(diagnostics) || !r.bundle) return { ok: false, diagnostics, compiler: this.name };
    const manifestBytes = Buffer.from(r.bundle.manifestBytes);
    const blobs = new Map<string, Buffer>();
    for (const [d, b] of r.bundle.blobs) blobs.set(d, Buffer.from(b));
    const bundle: Bundle = { manifest: parseManifest(manifestBytes), manifestBytes, digest: sha256hex(manifestBytes), blobs };
    return { ok: true, diagnostics, bundle, compiler: this.name };
  }
}
