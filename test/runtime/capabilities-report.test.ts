// A node's capabilities as its agent reports them: the report is bounded (names checked, the error-injection list
// by name only up to its limit, always with count and digest), reads back as the capabilities the compiler lowers
// for, and a build with reported capabilities lowers each node for its own (Override against the node's own list).
import { describe, expect, it } from 'vitest';
import { sha256 } from '../../compiler/bundle/assemble.js';
import { buildFromDocuments, extraProducers } from '../../compiler/build.js';
import { loadInventory } from '../../compiler/inventory/load.js';
import { loadSources } from '../../compiler/load/index.js';
import {
  capabilitiesFromReport,
  capabilityProfiles,
  reportCapabilities,
  reportedErrorInjectionMax,
  type ProbedNodeCapabilities,
} from '../../compiler/lower/runtime/capabilities.js';

const full = capabilityProfiles['full']!;
/** A kprobe node (no fentry): Override goes through bpf_override_return on the node's own list. */
const kprobeNode = { ...full, fentry: false, lsm: false };

describe('the registration form of a probe', () => {
  it('keeps the booleans, sorts and dedupes the error-injection list, drops names the schema would refuse', () => {
    const r = reportCapabilities(
      { ...kprobeNode, syscalls: ['openat', 'execve', 'Bad Name'], errorInjection: ['b_fn', 'a_fn', 'b_fn', 'evil\nname', 'x.isra.0'] },
      { fentry: 'EINVAL: no BTF', bogus: 'ignored' },
      sha256,
    );
    expect(r.errorInjection).toEqual({ count: 3, digest: sha256('a_fn\nb_fn\nx.isra.0'), functions: ['a_fn', 'b_fn', 'x.isra.0'] });
    expect(r.syscalls).toEqual(['openat', 'execve']);
    expect(r.reasons).toEqual({ fentry: 'EINVAL: no BTF' });
    const back = capabilitiesFromReport(r);
    expect(back.caps).toEqual({ ...kprobeNode, syscalls: ['openat', 'execve'], errorInjection: ['a_fn', 'b_fn', 'x.isra.0'] });
    expect(back.errorInjectionNotListed).toBeUndefined();
  });

  it('an error-injection list over the limit goes by count and digest only, and reads back as not listed', () => {
    const many = Array.from({ length: reportedErrorInjectionMax + 1 }, (_, i) => `fn_${String(i).padStart(5, '0')}`);
    const r = reportCapabilities({ ...kprobeNode, errorInjection: many }, {}, sha256);
    expect(r.errorInjection).toEqual({ count: many.length, digest: sha256(many.join('\n')) });
    const back = capabilitiesFromReport(r);
    expect(back.caps.errorInjection).toBeUndefined();
    expect(back.errorInjectionNotListed).toBe(many.length);
  });
});

const nodes = `apiVersion: v1
kind: Node
metadata: {name: node-a, labels: {weir.dev/runtime-profile: tracepoint-only}}
---
apiVersion: v1
kind: Node
metadata: {name: node-b, labels: {weir.dev/runtime-profile: tracepoint-only}}
`;
const override = `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: fail-it}
spec:
  kprobes:
  - call: my_injectable_fn
    syscall: false
    selectors:
    - matchBinaries:
      - {operator: In, values: [/usr/bin/bash]}
      matchActions:
      - {action: Override, argError: -1}
`;

async function build(nodeCapabilities: Record<string, ProbedNodeCapabilities>) {
  const docs = loadSources([
    { file: 'nodes.yaml', bytes: Buffer.from(nodes) },
    { file: 'override.yaml', bytes: Buffer.from(override) },
  ]).documents;
  const inv = loadInventory(docs.filter((d) => d.family === 'workload' || d.kind === 'Inventory'));
  return buildFromDocuments(
    docs.filter((d) => d.family === 'runtime'),
    inv.inventory,
    { source: { paths: ['.'] }, producers: extraProducers, nodeCapabilities },
  );
}

describe('a build with reported capabilities', () => {
  const reported = (list: string[]) => capabilitiesFromReport(reportCapabilities({ ...kprobeNode, errorInjection: list }, {}, sha256));

  it("lowers Override against each node's own error-injection list, over the nodes' labels", async () => {
    const r = await build({ 'node-a': reported(['my_injectable_fn']), 'node-b': reported(['my_injectable_fn', 'other']) });
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const t = r.bundle!.manifest.tables.find((x) => x.name === 'runtime_hooks')!;
    const hooks = JSON.parse(new TextDecoder().decode(r.bundle!.blobs.get(t.digest)!)) as Record<string, { attach: string[] }>;
    expect(hooks['node-a']).toMatchObject({ attach: ['kprobe_override/my_injectable_fn'], capabilities: { source: 'probe' } });
    expect(hooks['node-b']).toMatchObject({ attach: ['kprobe_override/my_injectable_fn'], capabilities: { source: 'probe' } });
  });

  it("refuses it on a node whose list lacks the function, naming the node and that its probe decided; the other node's label decides", async () => {
    const r = await build({ 'node-a': reported(['other']) });
    const errors = r.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.rule}: ${d.message}`);
    expect(errors).toEqual([
      // node-b has no report: its tracepoint-only label decides, and says nothing of a probe.
      expect.stringMatching(
        /^runtime\/node-capability: node node-b: Override on my_injectable_fn needs bpf_override_return .*kprobes do not attach\)$/,
      ),
      expect.stringMatching(
        /^runtime\/override-not-injectable: node node-a: Override on my_injectable_fn: the function is not in the node's error-injection list \(the node's \/sys\/kernel\/debug\/error_injection\/list\).*; capabilities reported by the node's agent probe, which lacks fentry, lsm$/,
      ),
    ]);
    expect(r.bundle).toBeUndefined();
  });
});
