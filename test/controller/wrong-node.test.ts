// Endpoint ids repeat across nodes (each node numbers its own endpoints), so the kernel agent must
// attach only its own node's endpoints: an interfaces file naming another node's pod is refused
// before anything is attached or swapped.
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApplyInput } from '../../controller/agent/datapath.js';
import { KernelDatapath } from '../../controller/agent/kernel-datapath.js';
import { nodeManifest } from '../../controller/bundle/codec.js';
import { ProjectCompiler } from '../../controller/reconcile/compiler.js';
import { skipKernel } from '../kernel-env.js';

const root = path.resolve(import.meta.dirname, '../..');

function files(dir: string): { file: string; bytes: Buffer }[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => /\.ya?ml$/.test(f) && statSync(path.join(dir, f)).isFile())
    .map((f) => ({ file: f, bytes: readFileSync(path.join(dir, f)) }));
}

describe.skipIf(skipKernel())('kernel agent: endpoints of other nodes', () => {
  let input: ApplyInput;
  const pins: string[] = [];
  beforeAll(async () => {
    for (const d of readdirSync('/sys/fs/bpf')) if (d.startsWith('wwn-')) rmSync(`/sys/fs/bpf/${d}`, { recursive: true, force: true });
    const r = await new ProjectCompiler().compileFiles(files(path.join(root, 'policies')), 'bundled');
    if (!r.bundle) throw new Error(JSON.stringify(r.diagnostics.slice(0, 3)));
    const b = r.bundle;
    const nm = nodeManifest(b.manifest, b.digest, 'node-1');
    const tables = new Map<string, unknown>(
      nm.manifest.tables.map((t) => [t.name, JSON.parse(new TextDecoder().decode(b.blobs.get(t.digest)!)) as unknown]),
    );
    input = {
      digest: b.digest,
      manifest: nm.manifest,
      images: nm.manifest.maps.map((image) => ({ image, bytes: Buffer.from(b.blobs.get(image.digest)!) })),
      tables,
    };
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
