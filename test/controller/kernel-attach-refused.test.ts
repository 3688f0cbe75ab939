// A bundle whose runtime site the node's kernel refuses to attach, or one with a bad network image, leaves
// the bundle in force untouched: the kernel agent prepares the network maps (nothing in service changes),
// then applies the runtime images (attaching is what can still fail), and only then swaps the network maps
// in, so neither the runtime generation nor the network maps change, and the error names the site and libbpf's reason.
import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeHooks } from '../../bpf/libbpf-ts/index.js';
import type { ApplyInput } from '../../controller/agent/datapath.js';
import type { NetDatapath } from '../../bpf/net/loader.js';
import { KernelDatapath } from '../../controller/agent/kernel-datapath.js';
import { skipKernel } from '../kernel-env.js';
import { bundledInput } from './bundled-input.js';

describe.skipIf(skipKernel())('kernel agent: a runtime site the kernel refuses', () => {
  let input: ApplyInput;
  const pins: string[] = [];
  beforeAll(async () => {
    for (const d of readdirSync('/sys/fs/bpf')) if (d.startsWith('wkr-')) rmSync(`/sys/fs/bpf/${d}`, { recursive: true, force: true });
    input = await bundledInput();
  }, 60_000);
  afterAll(() => {
    for (const p of pins) rmSync(p, { recursive: true, force: true });
  });

  it('refuses the new bundle naming the site and the reason; the bundle in force stays', async (ctx) => {
    const hooks = input.tables.get('runtime_hooks') as Record<string, { attach?: string[] }>;
    expect(hooks['node-1']?.attach?.length).toBeGreaterThan(0);
    const pinDir = `/sys/fs/bpf/wkr-${randomBytes(3).toString('hex')}`;
    pins.push(pinDir, `${pinDir}-runtime`);
    const dp = await KernelDatapath.open('node-1', { pinDir });
    try {
      // Counts the network datapath's map swaps: a refused bundle must not reach them.
      const net = dp as unknown as { net: NetDatapath };
      const prepare = net.net.prepareImages.bind(net.net);
      let netSwaps = 0;
      net.net.prepareImages = (images) => {
        const p = prepare(images);
        return {
          commit: () => {
            netSwaps++;
            return p.commit();
          },
          discard: () => p.discard(),
        };
      };
      await dp.apply(input);
      expect(netSwaps).toBe(1);
      const gen = dp.runtimeDatapath()!.generation;
      const lsm = probeHooks().find((h) => h.hook === 'lsm');
      // The same bundle with a BPF LSM site added (as a full node's bundle would carry) and another digest.
      const next: ApplyInput = {
        ...input,
        digest: `sha256:${'0'.repeat(64)}`,
        tables: new Map([
          ...input.tables,
          ['runtime_hooks', { ...hooks, 'node-1': { ...hooks['node-1'], attach: [...hooks['node-1']!.attach!, 'lsm/file_open'] } }],
        ]),
      };
      if (lsm?.attaches) {
        console.warn('skipping the refusal: the capability probe finds BPF LSM attaching here');
        return ctx.skip();
      }
      await expect(dp.apply(next)).rejects.toThrow(
        /^runtime attach point lsm\/file_open not attached \(the runtime policy in force is unchanged\): bpf_object__load\(.*wrt_fentry\.bpf\.o\) failed: E[A-Z]+/,
      );
      expect(dp.current()).toBe(input.digest);
      expect(dp.runtimeDatapath()!.generation).toBe(gen);
      expect(netSwaps).toBe(1);
      expect(readdirSync(`${pinDir}-runtime`).filter((f) => f.startsWith('link-lsm'))).toEqual([]);
      // A bad network image, in a bundle whose runtime part would apply: refused before the runtime
      // generation flips (the network maps are prepared first), the bundle in force stays.
      const policy = input.images.findIndex((i) => i.image.name === 'policy');
      const badNet: ApplyInput = {
        ...input,
        digest: `sha256:${'1'.repeat(64)}`,
        images: input.images.map((i, n) => (n === policy ? { ...i, bytes: i.bytes.subarray(1) } : i)),
      };
      await expect(dp.apply(badNet)).rejects.toThrow(/policy/);
      expect(dp.current()).toBe(input.digest);
      expect(dp.runtimeDatapath()!.generation).toBe(gen);
      expect(netSwaps).toBe(1);
      // The bundle in force applies again, unchanged.
      await dp.apply(input);
      expect(dp.current()).toBe(input.digest);
    } finally {
      await dp.close();
    }
  });
});
