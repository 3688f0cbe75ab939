// Shared helpers of the runtime tests: compile TracingPolicy text, build the test binary.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSources } from '../../compiler/load/index.js';
import { capabilityProfiles, type NodeCapabilities } from '../../compiler/lower/runtime/capabilities.js';
import { compileRuntime, type RuntimeCompileResult } from '../../compiler/lower/runtime/index.js';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const localCaps: NodeCapabilities = capabilityProfiles['tracepoint-only']!;

export function compileText(
  text: string,
  caps: NodeCapabilities = localCaps,
  file = 'policy.yaml',
): RuntimeCompileResult & { errors: string[] } {
  const loaded = loadSources([{ file, bytes: Buffer.from(text) }]);
  const r = compileRuntime(loaded.documents, [{ name: 'local', caps }]);
  const all = [...loaded.diagnostics, ...r.diagnostics, ...r.nodes.flatMap((n) => n.diagnostics)];
  return { ...r, errors: all.filter((d) => d.severity === 'error').map((d) => `${d.line}:${d.column} ${d.rule}: ${d.message}`) };
}

/** A fresh temp dir with our prefix; leftovers of earlier runs (older than this process) are removed first. */
export function tempDir(prefix = 'wrt-t'): string {
  for (const d of readdirSync(tmpdir())) {
    if (!d.startsWith(`${prefix}-`)) continue;
    const pid = Number(d.slice(prefix.length + 1).split('-')[0]);
    if (pid && pid !== process.pid) {
      try {
        process.kill(pid, 0);
      } catch {
        rmSync(path.join(tmpdir(), d), { recursive: true, force: true });
      }
    }
  }
  return mkdtempSync(path.join(tmpdir(), `${prefix}-${process.pid}-`));
}

/** Compiles bpf/runtime/wrt-probe.c into dir; returns its path. */
export function buildProbe(dir: string): string {
  const out = path.join(dir, 'wrt-probe');
  execFileSync('cc', ['-O2', '-o', out, path.join(projectRoot, 'bpf/runtime/wrt-probe.c')]);
  return out;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  pid: number;
}

export function run(bin: string, args: string[], timeoutMs = 10_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const c = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const t = setTimeout(() => c.kill('SIGTERM'), timeoutMs);
    c.on('error', reject);
    c.on('exit', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stdout, pid: c.pid ?? 0 });
    });
  });
}

/** Starts a long-running child; `exited` resolves with its exit status. */
export function spawnLoop(
  bin: string,
  args: string[],
): { pid: number; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const c = spawn(bin, args, { stdio: 'ignore' });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    c.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { pid: c.pid ?? 0, exited };
}
