// Kernel (root): the exact conversions of falcosecurity/rules (stable, incubating, sandbox) loaded together
// into one runtime instance, as one node would run them, and one of them posting for a test binary: a copy
// of `ln`, in this test's own temp dir, makes a symlink to /etc/shadow inside that temp dir ("Create Symlink
// Over Sensitive Files"). Every converted action is Post: nothing is killed; the symlink is removed with the
// temp dir.
import { copyFileSync, existsSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { decodeRuntimeEvent, K, type DecodedEvent } from '../../bpf/abi/runtime.js';
import { RuntimeDatapath } from '../../bpf/runtime/loader.js';
import { convertFalco } from '../../compiler/convert/falco/index.js';
import { isFalcoRules, loadSources } from '../../compiler/load/index.js';
import { capabilityProfiles } from '../../compiler/lower/runtime/capabilities.js';
import { compileRuntime } from '../../compiler/lower/runtime/index.js';
import { skipKernel } from '../kernel-env.js';
import { falcoCorpus, falcoRuleFiles } from '../upstream-corpus.js';
import { run, tempDir } from './helpers.js';

async function exactSet() {
  const l = loadSources(
    await Promise.all(falcoRuleFiles.map(async (f) => ({ file: f, bytes: await fs.readFile(path.join(falcoCorpus, f)) }))),
  );
  const c = convertFalco(l.documents.filter(isFalcoRules), l.sources, {});
  const docs = loadSources(
    c.policies.map((p) => ({
      file: `${p.policy.metadata.name}.yaml`,
      bytes: Buffer.from(stringify(p.policy, { aliasDuplicateObjects: false })),
    })),
  );
  const r = compileRuntime(docs.documents, [{ name: 'local', caps: capabilityProfiles['tracepoint-only']! }]);
  return { conversion: c, node: r.nodes[0]!, errors: [...r.diagnostics, ...r.nodes[0]!.diagnostics].filter((d) => d.severity === 'error') };
}

const ln = ['/usr/bin/ln', '/bin/ln'].find((p) => existsSync(p));

describe.skipIf(skipKernel() || !ln)('the exact conversions of falcosecurity/rules, loaded together in the kernel', () => {
  let dir = '';
  let dp: RuntimeDatapath | undefined;
  let rb: { consume(): number; close(): void } | undefined;
  const events: DecodedEvent[] = [];
  let set: Awaited<ReturnType<typeof exactSet>>;

  beforeAll(async () => {
    dir = tempDir('wrt-falco');
    set = await exactSet();
    dp = RuntimeDatapath.open();
    rb = dp.events((b) => {
      const e = decodeRuntimeEvent(b);
      if (e?.kind === 'call') events.push(e);
    });
  });
  afterAll(() => {
    rb?.close();
    dp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every exact policy builds and loads on one node, in one generation', () => {
    expect(set.errors).toEqual([]);
    const exact = set.conversion.reports.filter((r) => r.verdict === 'exact').length;
    expect(exact).toBeGreaterThan(5);
    expect(set.node.lowered.policies).toHaveLength(set.conversion.policies.length);
    // Post only: loading the set unconfined cannot kill anything.
    for (const h of set.node.lowered.hooks)
      for (const s of h.selectors) for (const a of s.actions) expect([K.ACTION.Post, K.ACTION.NoPost]).toContain(a.action);
    const st = dp!.apply(set.node.images, set.node.lowered.attach);
    expect(st.entries['wrt_policies']).toBe(set.node.lowered.policies.length);
    expect(st.entries['wrt_hooks']).toBe(set.node.lowered.hooks.length);
    expect(st.attached).toEqual(
      expect.arrayContaining(['syscalls/sys_enter_symlinkat', 'syscalls/sys_enter_ptrace', 'syscalls/sys_enter_bpf']),
    );
  });

  it('"Create Symlink Over Sensitive Files" posts for a copied ln making a symlink to /etc/shadow in the temp dir; a harmless target does not', async () => {
    const bin = path.join(dir, 'ln');
    copyFileSync(ln!, bin);
    events.length = 0;
    const bad = await run(bin, ['-s', '/etc/shadow', path.join(dir, 'shadow-link')]);
    const good = await run(bin, ['-s', path.join(dir, 'nothing'), path.join(dir, 'plain-link')]);
    expect([bad.code, good.code]).toEqual([0, 0]);
    rb!.consume();
    const table = set.node.lowered.table;
    const mine = events.filter((e) => e.pid === bad.pid || e.pid === good.pid);
    expect(mine.map((e) => [e.pid === bad.pid ? 'bad' : 'good', table[e.hookId]?.policy, e.binary, e.action, e.monitor])).toEqual([
      ['bad', 'falco-create-symlink-over-sensitive-files', bin, K.ACTION.Post, false],
    ]);
    expect(table[mine[0]!.hookId]).toMatchObject({
      file: 'falco-create-symlink-over-sensitive-files.yaml',
      call: expect.stringMatching(/symlink/),
    });
  });
});
