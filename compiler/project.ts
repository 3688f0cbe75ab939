// The weir package root, found the same way from the sources and from dist/ (one level deeper).
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** weir's npm package name (its command is still `weir`). */
export const packageName = '@weir-dev/weir';

/** The folder holding weir's package.json, searched upwards from this module. */
export function projectRoot(): string {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === packageName) return (cached = dir);
    dir = path.dirname(dir);
  }
  throw new Error(`cannot find weir's package.json above ${fileURLToPath(import.meta.url)}`);
}

/** A file of the project by its path from the root, e.g. `bpf/include/weir_net.h`. */
export function projectFile(rel: string): string {
  return path.join(projectRoot(), rel);
}

export function weirVersion(): string {
  return (JSON.parse(readFileSync(projectFile('package.json'), 'utf8')) as { version: string }).version;
}
