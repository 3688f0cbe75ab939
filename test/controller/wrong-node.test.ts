// Endpoint ids repeat across nodes (each node numbers its own endpoints), so the kernel agent must
// attach only its own node's endpoints: an interfaces file naming another node's pod is refused
// before anything is attached or swapped.
import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApplyInput } from '../../controller/agent/datapath.js';
import { KernelDatapath } from '../../controller/agent/kernel-datapath.js';
import { skipKernel } from '../kernel-env.js';
import { bundledInput } from './bundled-input.js';

describe.skipIf(skipKernel())('kernel agent: endpoints of other nodes', () => {
  let input: ApplyInput;
  const pins: string[] = [];
  beforeAll(async () => {
    for (const d of readdirSync('/sys/fs/bpf')) if (d.startsWith('wwn-')) rmSync(`/sys/fs/bpf/${d}`, { recursive: true, force: true });
    input = await bundledInput();
  }, 60_000);
  afterAll(() => {
    for (const p of pins) rmSync(p, { recursive: true, force: true });
  });

  const open = async (interfaces: Record<string, string>) => {
    const pinDir = `/sys/fs/bpf/wwn-${randomBytes(3).toString('hex')}`;
    pins.push(pinDir, `${pinDir}-runtime`);
    return KernelDatapath.open('node-1', { pinDir, interfaces });
  };

  it('the bundle places the same endpoint id on both nodes (ids are per node)', () => {
    const rows = input.tables.get('endpoints') as { endpoint: string; endpointId: number; node: string }[];
    const ids = (node: string) => new Set(rows.filter((r) => r.node === node).map((r) => r.endpointId));
    expect([...ids('node-1')].some((id) => ids('node-2').has(id))).toBe(true);
  });

  it('refuses an interfaces file naming a pod of node-2, changing nothing', async () => {
    const rows = input.tables.get('endpoints') as { endpoint: string; node: string }[];
    const other = rows.find((r) => r.node === 'node-2')!.endpoint;
    const dp = await open({ [other]: 'wwn-missing0' });
    try {
      await expect(dp.apply(input)).rejects.toThrow(
        new RegExp(`${other.replace(/[/.-]/g, '\\$&')} \\(wwn-missing0\\) is on node-2; this agent is node node-1`),
      );
      expect(dp.current()).toBeUndefined();
    } finally {
      await dp.close();
    }
  });

  it('applies the same bundle when the interfaces file names only its own pods', async () => {
    const dp = await open({});
    try {
      await dp.apply(input);
      expect(dp.current()).toBe(input.digest);
    } finally {
      await dp.close();
    }
  });
});
