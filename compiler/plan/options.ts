// Shared plumbing of `weir plan` and `weir connectivity`: repository root and output.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { simpleGit } from 'simple-git';

/** The repository top level containing `cwd` (Git paths are relative to it), or cwd outside Git. */
export async function repositoryRoot(cwd: string): Promise<string | undefined> {
  try {
    const top = (await simpleGit(cwd).revparse(['--show-toplevel'])).trim();
    return top || undefined;
  } catch {
    return undefined;
  }
}

/** Paths given on the command line, relative to cwd, re-expressed relative to the repository root. */
export function pathsFromRoot(paths: readonly string[], cwd: string, root: string): string[] {
  return paths.map((p) => {
    const rel = path.relative(root, path.resolve(cwd, p));
    return rel === '' ? '.' : rel.split(path.sep).join('/');
  });
}

export async function writeOutput(text: string, output: string | undefined, cwd: string, stdout: (s: string) => void): Promise<void> {
  if (!output || output === '-') {
    stdout(text);
    return;
  }
  const abs = path.resolve(cwd, output);
  await fs.mkdir(path.dirname(abs), { recursive: true });
  await fs.writeFile(abs, text);
}
