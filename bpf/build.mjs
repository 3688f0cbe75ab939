#!/usr/bin/env node
// Compiles every bpf/**/*.bpf.c with clang -target bpf into bpf/build/, skipping up-to-date objects.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bpfDir = dirname(fileURLToPath(import.meta.url));
const out = join(bpfDir, 'build');
mkdirSync(out, { recursive: true });
const sources = readdirSync(bpfDir, { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.bpf.c'))
  .map((f) => join(bpfDir, f));
const headers = readdirSync(join(bpfDir, 'include')).map((h) => join(bpfDir, 'include', h));
const newestHeader = Math.max(0, ...headers.map((h) => statSync(h).mtimeMs));
for (const src of sources) {
  const obj = join(out, basename(src).replace(/\.c$/, '.o'));
  if (existsSync(obj) && statSync(obj).mtimeMs > Math.max(statSync(src).mtimeMs, newestHeader) && !process.argv.includes('--force')) continue;
  const args = ['-O2', '-g', '-Wall', '-Werror', '-target', 'bpf', '-D__TARGET_ARCH_x86', '-I', join(bpfDir, 'include'), '-I', '/usr/include/x86_64-linux-gnu', '-c', src, '-o', obj];
  try {
    execFileSync('clang', args, { stdio: ['ignore', 'inherit', 'inherit'] });
  } catch {
    console.error(`bpf build: clang failed on ${src}`);
    process.exit(1);
  }
  console.error(`bpf build: ${basename(obj)}`);
}
