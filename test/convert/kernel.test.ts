// Kernel end to end (root): a Falco rule converted by weir, compiled by the runtime compiler and loaded into the
// real runtime programs. A test binary built into this test's own temp dir (prefix wcv) reads a fixture under
// a test prefix: the converted rule posts the event, and with --enforce it kills the binary. Nothing else is
// affected: the policy is scoped to files under the temp dir and to the binary's name (proc.name, unique to
// this run), and no pin is made.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { RuntimeDatapath, defaultRuntimeObject } from '../../bpf/runtime/loader.js';
import { decodeRecord, type DecodedEvent } from '../../controller/events/tetragon.js';
import { isFalcoRules, loadSources } from '../../compiler/load/index.js';
import { convertFalco, type ConvertOptions } from '../../compiler/convert/falco/index.js';
import { compileRuntime } from '../../compiler/lower/runtime/index.js';
import { capabilityProfiles } from '../../compiler/lower/runtime/capabilities.js';
import { skipKernel } from '../kernel-env.js';
import { run, tempDir } from '../runtime/helpers.js';

const projectRoot = path.resolve(import.meta.dirname, '../..');
const enc = new TextEncoder();

const rule = (bin: string, prefix: string) => `- rule: Read secret under the test prefix
  desc: a converted Falco rule, scoped to the test binary
  condition: >
    evt.type in (open, openat) and fd.name startswith ${prefix}
    and proc.name = ${path.basename(bin)}
  output: secret read (file=%fd.name proc=%proc.name)
  priority: CRITICAL
`;

describe.skipIf(skipKernel())('a converted Falco rule in the kernel', () => {
  let dir = '';
  let bin = '';
  let dp: RuntimeDatapath;
  const records: DecodedEvent[] = [];
  let rb: { consume(): number; close(): void };

  beforeAll(() => {
    if (!existsSync(defaultRuntimeObject)) throw new Error(`${defaultRuntimeObject} missing: run npm run build`);
    dir = tempDir('wcv-k');
    // A name of its own (comm keeps 15 characters): the policy names the binary by it.
    bin = path.join(dir, `wcv${process.pid}`);
    execFileSync('cc', ['-O2', '-o', bin, path.join(projectRoot, 'bpf/runtime/wrt-probe.c')]);
    mkdirSync(path.join(dir, 'protected'));
    writeFileSync(path.join(dir, 'protected', 'secret.txt'), 'secret\n');
    writeFileSync(path.join(dir, 'open.txt'), 'open\n');
    dp = RuntimeDatapath.open();
    rb = dp.events((b) => {
      const e = decodeRecord(b);
      if (e && e.binary === bin) records.push(e);
    });
  });

  afterAll(() => {
    rb?.close();
    dp?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const convertAndApply = (opts: ConvertOptions) => {
    const l = loadSources([{ file: 'wcv-rules.yaml', bytes: enc.encode(rule(bin, `${dir}/protected/`)) }]);
    const c = convertFalco(l.documents.filter(isFalcoRules), l.sources, opts);
    expect(c.diagnostics).toEqual([]);
    expect(c.reports[0]!.verdict).toBe('exact');
    const docs = loadSources(
      c.policies.map((p) => ({
        file: `${p.policy.metadata.name}.yaml`,
        bytes: enc.encode(stringify(p.policy, { aliasDuplicateObjects: false })),
      })),
    ).documents;
    const r = compileRuntime(docs, [{ name: 'local', caps: capabilityProfiles['tracepoint-only']! }]);
    const errors = [...r.diagnostics, ...r.nodes.flatMap((n) => n.diagnostics)].filter((d) => d.severity === 'error');
    expect(errors).toEqual([]);
    const n = r.nodes[0]!;
    dp.apply(n.images, n.lowered.attach);
    return c;
  };
  const drain = () => {
    rb.consume();
    return records.splice(0).filter((e) => e.kind === 'call');
  };

  it('posts the event when the test binary reads under the prefix, and stays quiet elsewhere', async () => {
    const c = convertAndApply({});
    expect(c.reports[0]!.action).toBe('Post');
    drain();
    const other = await run(bin, ['open', path.join(dir, 'open.txt')]);
    expect(other).toMatchObject({ code: 0, signal: null, stdout: 'opened 1\n' });
    expect(drain()).toHaveLength(0);
    const read = await run(bin, ['open', path.join(dir, 'protected', 'secret.txt'), '2']);
    expect(read).toMatchObject({ code: 0, signal: null, stdout: 'opened 2\n' });
    const evs = drain();
    expect(evs).toHaveLength(2);
    expect(evs.every((e) => e.binary === bin)).toBe(true);
  });

  it('kills the test binary in enforce mode (--enforce priority>=CRITICAL)', async () => {
    const c = convertAndApply({ enforce: { minPriority: 'CRITICAL', rules: new Set() } });
    expect(c.reports[0]!.action).toBe('Sigkill');
    drain();
    const ok = await run(bin, ['open', path.join(dir, 'open.txt')]);
    expect(ok).toMatchObject({ code: 0, signal: null });
    const killed = await run(bin, ['open', path.join(dir, 'protected', 'secret.txt')]);
    expect(killed.signal).toBe('SIGKILL');
    expect(killed.stdout).toBe('');
    expect(drain()).toHaveLength(1);
  });
});
