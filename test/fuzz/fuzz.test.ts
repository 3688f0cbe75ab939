// The fuzz suite, briefly: a few cases per parser and CLI entry on every `npm test` (seconds). The
// long run is `npm run fuzz` (test/fuzz/run.ts), which records its crash and hang counts in
// bench/fuzz.json. The seed is fixed (WEIR_FUZZ_SEED picks another), so a failure here reproduces.
import { describe, expect, it } from 'vitest';
import { cliTargets, fuzzTarget, parserTargets } from './targets.js';

const seed = Number(process.env['WEIR_FUZZ_SEED'] ?? 20260101);

describe('fuzz (brief)', () => {
  it.each(parserTargets.map((t) => [t.name, t] as const))('parser %s: no crash, no hang', async (_name, t) => {
    const r = await fuzzTarget(t, 25, seed, 10_000);
    expect(r.failures, `seed ${seed}`).toEqual([]);
    expect(r.crashes + r.hangs).toBe(0);
  });

  it.each(cliTargets.map((t) => [t.name, t] as const))(
    '%s: no internal error, no hang',
    async (_name, t) => {
      const r = await fuzzTarget(t, 2, seed, 30_000);
      expect(r.failures, `seed ${seed}`).toEqual([]);
    },
    120_000,
  );
});

describe('fuzz regressions', () => {
  // Found by `npm run fuzz`: manifest deltas off the wire with parts missing or of the wrong type
  // threw TypeErrors inside applyManifestDelta; they are now refused as malformed.
  it.each([
    '{"kind":"NodeBundleDelta","base":"a","target":"b","set":{"bundle":"c","sequence":2,"revision":"r"},"maps":{"remove":[],"put":[]},"tables":{"remove":[],"put":{"7":false}}}',
    '{"kind":"NodeBundleDelta","base":"a","target":"b","set":{"bundle":"c","sequence":2,"revision":"r"},"maps":false,"tables":{"remove":[],"put":[]}}',
    '{"kind":"NodeBundleDelta","base":"a","target":"b","set":{"bundle":"c","sequence":2,"revision":"r"},"maps":{"remove":[],"put":[]}}',
    '{"kind":"NodeBundleDelta","base":"a","target":"b","set":{},"maps":{"remove":[1],"put":[]},"tables":{"remove":[],"put":[]}}',
  ])('manifest delta %s', async (text) => {
    const t = parserTargets.find((x) => x.name === 'manifest-delta')!;
    const err = await Promise.resolve()
      .then(() => t.run(text))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toBe('malformed manifest delta');
  });
});
