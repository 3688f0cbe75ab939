// The controller's view of the compiler: one call from (repository, commit) to a bundle or diagnostics.
// The controller never compiles by itself; it asks a Compiler. `projectCompiler()` binds the
// project's compiler (issue #3's compiler/bundle) when it exports a bundle builder, and otherwise
// the seed compiler in this folder, which covers the demo's subset and says so in the manifest.
import type { Diagnostic } from '../../compiler/diagnostics.js';
import type { Bundle } from '../bundle/codec.js';
import type { SourceFile } from '../../compiler/load/index.js';

export interface CompileRequest {
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

export interface Compiler {
  readonly name: string;
  compile(req: CompileRequest): Promise<CompileResult>;
  /** Compiles files already in memory (objects read from a cluster); `revision` names them. */
  compileFiles?(files: SourceFile[], revision: string): Promise<CompileResult>;
}

/** The shape we accept from compiler/bundle once issue #3 exports it. */
type ProjectBuild = (req: CompileRequest) => Promise<CompileResult>;

export async function projectCompiler(): Promise<Compiler> {
  try {
    const modPath = '../../compiler/bundle/index.js';
    const mod = (await import(modPath)) as Record<string, unknown>;
    const build = mod['compileForController'];
    if (typeof build === 'function') return { name: 'weir', compile: build as ProjectBuild };
  } catch {
    // compiler/bundle has no index yet: fall through to the seed compiler.
  }
  const { SeedCompiler } = await import('./seed-compiler.js');
  return new SeedCompiler();
}
