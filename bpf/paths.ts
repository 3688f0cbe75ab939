// Where the compiled BPF objects live: bpf/build/ beside the sources, also when running from dist/.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

/** bpf/build/ of the project (WEIR_BPF_OBJECTS overrides). */
export function objectsDir(): string {
  const env = process.env['WEIR_BPF_OBJECTS'];
  if (env) return env;
  const beside = join(here, 'build');
  // Compiled to dist/bpf/: the objects stay in the source tree's bpf/build.
  const fromDist = join(here, '..', '..', 'bpf', 'build');
  return existsSync(beside) || !existsSync(fromDist) ? beside : fromDist;
}

export function objectPath(name: string): string {
  return join(objectsDir(), name);
}
