// Real upstream policies (cilium/cilium examples/policies, in test/corpus/cilium): the compiler
// never crashes on them, every problem is a positioned diagnostic, and what compiles verifies.
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { assembleBundle } from '../../compiler/bundle/assemble.js';
import { loadPolicies } from '../../compiler/load/index.js';
import { lowerNetwork } from '../../compiler/lower/network/images.js';
import { compileNetwork, loadInventory } from '../../compiler/ir/network/index.js';
import { bundleClasses } from '../../compiler/verify/classes.js';
import { verifyNetwork } from '../../compiler/verify/verify.js';
import { ciliumCorpus as corpus } from '../upstream-corpus.js';

const root = path.resolve(import.meta.dirname, '../..');

describe('upstream Cilium example policies (test/corpus/cilium)', () => {
  it('compile without crashing, with positioned diagnostics, and verify', async () => {
    const loaded = await loadPolicies([path.relative(root, corpus)], { root });
    const network = loaded.documents.filter((d) => d.family === 'network');
    expect(network.length).toBeGreaterThan(50);
    const inv = await loadPolicies(['policies/inventory.yaml'], { root });
    const { inventory } = loadInventory([...inv.documents, ...loaded.documents.filter((d) => d.family === 'workload')]);
    const { ir, diagnostics } = compileNetwork(network, inventory);
    for (const d of diagnostics) {
      expect(d.file).toMatch(/corpus\/cilium\//);
      expect(d.line).toBeGreaterThan(0);
      expect(d.message.length).toBeGreaterThan(10);
    }
    // Removed or host-only features are refused, never approximated.
    expect(diagnostics.some((d) => d.rule === 'network/unsupported')).toBe(true);
    const lowered = lowerNetwork(ir);
    const b = assembleBundle([lowered.output], { source: { paths: [] }, compilerVersion: 't', abi: { digest: '', version: 1 } });
    const rb = {
      manifest: b.manifest,
      blob: (d: string) => b.blobs.get(d)!,
      table: <T>(n: string) => {
        const t = b.manifest.tables.find((x) => x.name === n);
        return t ? (JSON.parse(new TextDecoder().decode(b.blobs.get(t.digest)!)) as T) : undefined;
      },
    };
    const report = verifyNetwork(ir, rb);
    expect(report.mismatches).toEqual([]);
    // The classes exported for kernel replay carry the fields compiler/verify/kernel.ts reads.
    const classes = bundleClasses(rb, ir);
    expect(classes.length).toBeGreaterThan(100);
    expect(Object.keys(classes[0]!)).toEqual(
      expect.arrayContaining(['endpointId', 'direction', 'peerIdentity', 'protocol', 'port', 'expected']),
    );
  }, 120_000);
});
