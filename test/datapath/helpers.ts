// Shared by the datapath tests: make sure bpf/build is current before a test loads objects.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
let built = false;

export function ensureBuilt(): void {
  if (built) return;
  execFileSync(process.execPath, [resolve(root, 'bpf/build.mjs'), 'net', 'probe', 'test', '--no-layout-check'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  built = true;
}
