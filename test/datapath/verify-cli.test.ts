// `weir build` then `weir verify --kernel` on the bundled example policies: every equivalence class the
// emulator used runs through the real program, and the kernel agrees with the emulator on all of them.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import type { CommandIO } from '../../cli/command.js';
import { skipKernel } from '../kernel-env.js';
import { ensureBuilt } from './helpers.js';

const root = resolve(import.meta.dirname, '../..');

describe.skipIf(skipKernel())('weir verify --kernel on the bundled examples', () => {
  const out = mkdtempSync(join(tmpdir(), 'wdp-verify-cli-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('agrees with the emulator on every class of policies/network', async () => {
    ensureBuilt();
    let stdout = '';
    let stderr = '';
    const io: CommandIO = { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s), cwd: root, env: { NO_COLOR: '1' }, isTTY: false };
    const bundle = join(out, 'bundle');
    expect(await main(['build', 'policies/network', '--inventory', 'policies/inventory.yaml', '--out', bundle, '--quiet'], io)).toBe(0);
    stdout = '';
    const code = await main(['verify', bundle, '--kernel', '--format', 'json'], io);
    const report = JSON.parse(stdout) as {
      ok: boolean;
      semantic: { classes: number };
      kernel: { ok: boolean; classes: number; mismatches: unknown[]; skipped?: string };
    };
    expect(stderr).not.toMatch(/MISMATCH/);
    expect(report.kernel.skipped).toBeUndefined();
    expect(report.kernel.mismatches).toEqual([]);
    expect(report.kernel.ok).toBe(true);
    // Every class the emulator judged also ran in the kernel.
    expect(report.kernel.classes).toBe(report.semantic.classes);
    expect(code).toBe(0);
  }, 120_000);
});
