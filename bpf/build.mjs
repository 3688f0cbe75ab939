#!/usr/bin/env node
// Compiles every bpf/**/*.bpf.c with clang -target bpf into bpf/build/, skipping up-to-date objects.
// `node bpf/build.mjs [--force] [DIR...]`: DIRs (relative to bpf/, e.g. `net probe`) limit the build.
// Every source is attempted; the exit code is 1 if any failed, so one broken program cannot hide another.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const bpfDir = dirname(fileURLToPath(import.meta.url));
const out = join(bpfDir, 'build');
mkdirSync(out, { recursive: true });
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const sources = readdirSync(bpfDir, { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.bpf.c'))
  .filter((f) => only.length === 0 || only.some((d) => f.startsWith(d.replace(/\/?$/, '/'))))
  .sort()
  .map((f) => join(bpfDir, f));
// Any header under bpf/ (bpf/include and program-local ones like bpf/net/maps.h) makes every object stale.
const headers = readdirSync(bpfDir, { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.h') && !f.startsWith('build/') && !f.startsWith('libbpf-ts/'))
  .map((f) => join(bpfDir, f));
const newestHeader = Math.max(0, ...headers.map((h) => statSync(h).mtimeMs));
const failed = [];
for (const src of sources) {
  const obj = join(out, basename(src).replace(/\.c$/, '.o'));
  if (existsSync(obj) && statSync(obj).mtimeMs > Math.max(statSync(src).mtimeMs, newestHeader) && !process.argv.includes('--force'))
    continue;
  const args = [
    '-O2',
    '-g',
    '-Wall',
    '-Werror',
    '-target',
    'bpf',
    '-D__TARGET_ARCH_x86',
    '-I',
    join(bpfDir, 'include'),
    '-I',
    '/usr/include/x86_64-linux-gnu',
    '-c',
    src,
    '-o',
    obj,
  ];
  try {
    execFileSync('clang', args, { stdio: ['ignore', 'inherit', 'inherit'] });
    console.error(`bpf build: ${basename(obj)}`);
  } catch {
    failed.push(relative(bpfDir, src));
  }
}
if (failed.length > 0) {
  console.error(`bpf build: clang failed on ${failed.join(', ')}`);
  process.exit(1);
}
// The ABI's layout tables must agree with the objects just compiled (bpf/abi/check.ts: netLayouts
// against endpoint.bpf.o, runtimeLayouts against wrt_runtime.bpf.o).
if (
  (existsSync(join(out, 'endpoint.bpf.o')) || existsSync(join(out, 'wrt_runtime.bpf.o'))) &&
  !process.argv.includes('--no-layout-check')
) {
  try {
    execFileSync(process.execPath, ['--import', 'tsx', join(bpfDir, 'abi', 'check.ts'), out], {
      stdio: ['ignore', 'inherit', 'inherit'],
      cwd: join(bpfDir, '..'),
    });
  } catch {
    process.exit(1);
  }
}
