// Whether kernel tests can run here. Under CI=true they must: a missing capability fails instead of skipping.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface KernelEnv {
  ok: boolean;
  reason?: string;
}

let cached: KernelEnv | undefined;

export function kernelEnv(): KernelEnv {
  if (cached) return cached;
  if (process.platform !== 'linux') return (cached = { ok: false, reason: 'not Linux' });
  if (process.getuid?.() !== 0) return (cached = { ok: false, reason: 'not root: BPF programs cannot be loaded' });
  if (!existsSync('/sys/fs/bpf')) return (cached = { ok: false, reason: 'no bpffs at /sys/fs/bpf' });
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return (cached = { ok: false, reason: 'iproute2 (ip) is not installed; run scripts/setup.sh' });
  }
  return (cached = { ok: true });
}

/**
 * `describe.skipIf(skipKernel())`: true (skip) when the kernel is unavailable outside CI.
 * Under CI=true it throws, so a CI run without BPF fails loudly instead of passing empty.
 */
export function skipKernel(): boolean {
  const env = kernelEnv();
  if (env.ok) return false;
  if (process.env['CI'] === 'true') throw new Error(`kernel tests are required under CI=true but cannot run: ${env.reason}`);
  console.warn(`skipping kernel tests: ${env.reason}`);
  return true;
}
