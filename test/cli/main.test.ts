import { describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import type { CommandIO } from '../../cli/command.js';

function io(): CommandIO & { out: string; err: string } {
  const o = { out: '', err: '', cwd: process.cwd(), env: {}, isTTY: false } as CommandIO & { out: string; err: string };
  o.stdout = (s) => void (o.out += s);
  o.stderr = (s) => void (o.err += s);
  return o;
}

describe('weir CLI dispatch', () => {
  it('prints usage and exits 2 without a command', async () => {
    const x = io();
    expect(await main([], x)).toBe(2);
    expect(x.out).toContain('usage: weir <command>');
    expect(x.out).toContain('lint');
  });

  it('rejects an unknown command with exit 2 and names it', async () => {
    const x = io();
    expect(await main(['frobnicate'], x)).toBe(2);
    expect(x.err).toContain('unknown command `frobnicate`');
  });

  it('prints the package version', async () => {
    const x = io();
    expect(await main(['--version'], x)).toBe(0);
    expect(x.out.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
