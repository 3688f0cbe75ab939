// The controller's view of the compiler: one call from (repository, commit) to a bundle or diagnostics.
// The controller never compiles by itself; it asks a Compiler. `projectCompiler()` binds the
// project's compiler (issue #3's compiler/bundle) when it exports a bundle builder, and otherwise
// the seed compiler in this folder, which covers the demo's subset and says so in the manifest.
// WEIR_CONTROLLER_COMPILER=seed forces the seed compiler.
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

/** The project's compiler when it loads, else the seed compiler (which covers the demo's subset). */
export async function projectCompiler(): Promise<Compiler> {
  if (process.env['WEIR_CONTROLLER_COMPILER'] !== 'seed') {
    try {
      const { ProjectCompiler } = await import('./project-compiler.js');
      const c = new ProjectCompiler();
      // The project compiler reads the ABI header at build time; where it cannot (e.g. a dist/
      // tree without bpf/include), a compile would throw on every commit: use the seed instead.
      c.probe();
      return c;
    } catch {
      // compiler/bundle is not usable in this build: fall through to the seed compiler.
    }
  }
  const { SeedCompiler } = await import('./seed-compiler.js');
  return new SeedCompiler();
}
