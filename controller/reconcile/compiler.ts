// The controller's compiler: one call from (repository, commit), or from objects read from a
// cluster, to a bundle or diagnostics. It runs the project's build (compiler/build.ts) on documents
// read from Git by blob id (git-tree.ts), with the inventory from the workload manifests beside
// the policies, and keeps the producers' map-state and identity caches across commits, so a
// one-policy commit re-lowers only the endpoints it touches.
import type { AllowLocalhost } from '../../compiler/ir/network/types.js';
import { abiInfo } from '../../compiler/bundle/abi-stamp.js';
import type { Bundle } from '../../compiler/bundle/assemble.js';
import { buildFromDocuments, compilerVersion, extraProducers } from '../../compiler/build.js';
import { diagnostic, hasErrors, sortDiagnostics, type Diagnostic } from '../../compiler/diagnostics.js';
import { loadInventory } from '../../compiler/inventory/load.js';
import { CompileCache } from '../../compiler/ir/network/compile.js';
import { loadSources, type PolicyDocument, type SourceFile } from '../../compiler/load/index.js';
import { MapStateCache } from '../../compiler/lower/network/images.js';
import type { ProbedNodeCapabilities } from '../../compiler/lower/runtime/capabilities.js';
import { GitDocuments } from './git-tree.js';
import { transientCode, TransientFault } from './faults.js';

/** What the controller knows of the nodes beyond the repository: what their agents probed and reported. */
export interface CompileInputs {
  /** Runtime capabilities by node, from each registered agent's probe: they win over the inventory's labels. */
  nodeCapabilities?: Readonly<Record<string, ProbedNodeCapabilities>>;
  /** Nodes held on their last bundle (their probe refused this commit): the bundle carries no runtime images for them. */
  heldNodes?: readonly string[];
}

export interface CompileRequest extends CompileInputs {
  /** Git work tree or bare repository to read from. */
  root: string;
  /** Commit to compile (read through git, the work tree is never touched). */
  commit: string;
  /** Policy paths inside the repository (files or folders). */
  paths: string[];
}

export interface CompileResult {
  /** False when any error diagnostic was produced: such a commit is never rolled out. */
  ok: boolean;
  diagnostics: Diagnostic[];
  bundle?: Bundle;
  /** Which compiler produced the result (shown in status). */
  compiler: string;
}

/** What the controller asks to compile; ProjectCompiler is the one it runs with. */
export interface Compiler {
  readonly name: string;
  compile(req: CompileRequest): Promise<CompileResult>;
  /** Compiles files already in memory (objects read from a cluster); `revision` names them. */
  compileFiles(files: SourceFile[], revision: string, inputs?: CompileInputs): Promise<CompileResult>;
}

/** The compiler cannot run in this installation; the controller does not start without it. */
export class CompilerUnavailable extends Error {}

/** The compiler, checked before the controller starts: throws CompilerUnavailable with the reason when it cannot run here. */
export function openCompiler(opts: CompilerOptions = {}): ProjectCompiler {
  try {
    // Every build stamps its bundle with the digest of the ABI header (bpf/include): without it no commit compiles.
    abiInfo();
    return new ProjectCompiler(opts);
  } catch (err) {
    throw new CompilerUnavailable(`the policy compiler cannot run here: ${(err as Error).message}`);
  }
}

export interface CompilerOptions {
  /** Cilium's `--allow-localhost` on the cluster the bundles are for (default `auto`). */
  allowLocalhost?: AllowLocalhost;
}

export class ProjectCompiler implements Compiler {
  readonly name = compilerVersion();
  constructor(private readonly opts: CompilerOptions = {}) {}
  private readonly git = new GitDocuments();
  private readonly mapStates = new MapStateCache();
  private readonly identities = new CompileCache();

  async compile(req: CompileRequest): Promise<CompileResult> {
    const r = await this.git.read(req.root, req.commit, req.paths);
    if ('error' in r) {
      // Out of descriptors or memory says nothing about the commit: retried, not failed.
      const code = transientCode(r.error.message);
      if (code) throw new TransientFault(r.error.message, code);
      return { ok: false, diagnostics: [r.error], compiler: this.name };
    }
    // The controller's --allow-localhost names the cluster; without it, the commit's .weir.yaml may.
    const allowLocalhost = this.opts.allowLocalhost ?? r.config?.allowLocalhost;
    return this.guarded(() => this.build(r.documents, r.diagnostics, r.commit, req.paths, req, allowLocalhost));
  }

  async compileFiles(files: SourceFile[], revision: string, inputs: CompileInputs = {}): Promise<CompileResult> {
    const loaded = loadSources(files);
    return this.guarded(() => this.build(loaded.documents, loaded.diagnostics, revision, ['cluster'], inputs));
  }

  /** A crash inside the compiler is a failed compile with a diagnostic, never a stuck controller. */
  private async guarded(f: () => Promise<CompileResult>): Promise<CompileResult> {
    try {
      return await f();
    } catch (err) {
      return {
        ok: false,
        diagnostics: [
          diagnostic(
            'controller/compiler-error',
            'error',
            `the compiler failed: ${(err as Error).message}; this is a bug in weir, not in the policies (the last good bundle stays in force)`,
            { file: '.', line: 1, column: 1, endLine: 1, endColumn: 1 },
          ),
        ],
        compiler: this.name,
      };
    }
  }

  private async build(
    documents: PolicyDocument[],
    loadDiagnostics: Diagnostic[],
    commit: string,
    paths: string[],
    inputs: CompileInputs,
    allowLocalhost = this.opts.allowLocalhost,
  ): Promise<CompileResult> {
    const inv = loadInventory(documents.filter((d) => d.family === 'workload' || d.kind === 'Inventory'));
    const policyDocs = documents.filter((d) => d.family === 'network' || d.family === 'runtime' || d.family === 'psp');
    const r = await buildFromDocuments(policyDocs, inv.inventory, {
      source: { revision: commit, paths },
      commit,
      producers: extraProducers,
      cache: this.mapStates,
      compileCache: this.identities,
      ...(allowLocalhost ? { allowLocalhost } : {}),
      ...(inputs.nodeCapabilities ? { nodeCapabilities: inputs.nodeCapabilities } : {}),
      ...(inputs.heldNodes?.length ? { heldNodes: inputs.heldNodes } : {}),
    });
    const diagnostics = sortDiagnostics([...loadDiagnostics, ...inv.diagnostics, ...r.diagnostics]);
    if (hasErrors(diagnostics) || !r.bundle) return { ok: false, diagnostics, compiler: this.name };
    return { ok: true, diagnostics, bundle: r.bundle, compiler: this.name };
  }
}
