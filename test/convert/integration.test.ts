// Every converted policy must be something the rest of weir accepts: `weir lint` finds nothing, and the
// runtime compiler lowers it for a tracepoint-only node (this machine) and for a full-featured node.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { isFalcoRules, loadSources, type PolicyDocument } from '../../compiler/load/index.js';
import { convertFalco } from '../../compiler/convert/falco/index.js';
import { convertPsp, pssSpec } from '../../compiler/convert/psp.js';
import type { TracingPolicy } from '../../compiler/convert/tracing-policy.js';
import { lintDocuments } from '../../compiler/lint/index.js';
import { compileRuntime } from '../../compiler/lower/runtime/index.js';
import { capabilityProfiles } from '../../compiler/lower/runtime/capabilities.js';
import { falcoCorpus as corpus, falcoRuleFiles as files } from '../upstream-corpus.js';

const enc = new TextEncoder();

async function convertedPolicies(): Promise<TracingPolicy[]> {
  const out: TracingPolicy[] = [];
  const l = loadSources(await Promise.all(files.map(async (f) => ({ file: f, bytes: await fs.readFile(path.join(corpus, f)) }))));
  const c = convertFalco(l.documents.filter(isFalcoRules), l.sources, {
    allowBroader: true,
    enforce: { minPriority: 'CRITICAL', rules: new Set() },
  });
  out.push(...c.policies.map((p) => p.policy));
  const fixture = path.resolve(import.meta.dirname, 'fixtures');
  const f = loadSources([{ file: 'rules.yaml', bytes: await fs.readFile(path.join(fixture, 'rules.yaml')) }]);
  out.push(
    ...convertFalco(f.documents.filter(isFalcoRules), f.sources, {
      enforce: { rules: new Set(['Write to sensitive file']) },
      allowHostWideKill: true,
    }).policies.map((p) => p.policy),
  );
  for (const level of ['baseline', 'restricted'] as const)
    out.push(...convertPsp(pssSpec(level).spec, `pss/${level}`, `pss-${level}`, { enforce: true }).policies);
  out.push(
    ...convertPsp(
      {
        privileged: false,
        allowPrivilegeEscalation: false,
        requiredDropCapabilities: ['NET_RAW'],
        allowedCapabilities: ['NET_BIND_SERVICE'],
        runAsUser: { rule: 'MustRunAs', ranges: [{ min: 1000, max: 2000 }] },
        allowedHostPaths: [{ pathPrefix: '/var/log', readOnly: true }],
      },
      'psp',
      'psp-x',
    ).policies,
  );
  return out;
}

function asDocuments(policies: TracingPolicy[]): PolicyDocument[] {
  const l = loadSources(
    policies.map((p) => ({ file: `${p.metadata.name}.yaml`, bytes: enc.encode(stringify(p, { aliasDuplicateObjects: false })) })),
  );
  expect(l.diagnostics).toEqual([]);
  return l.documents;
}

describe('converted policies in the rest of weir', () => {
  it('lint clean (weir lint: schema and every rule)', async () => {
    const docs = asDocuments(await convertedPolicies());
    expect(docs.length).toBeGreaterThan(90);
    expect(lintDocuments(docs)).toEqual([]);
  });

  it('each compiles with the runtime compiler on a tracepoint-only node and on a full node', async () => {
    const docs = asDocuments(await convertedPolicies());
    for (const profile of ['tracepoint-only', 'full'] as const) {
      for (const d of docs) {
        const r = compileRuntime([d], [{ name: 'node-a', caps: capabilityProfiles[profile]! }]);
        const errors = [...r.diagnostics, ...r.nodes.flatMap((n) => n.diagnostics)].filter((x) => x.severity === 'error');
        expect(
          errors.map((e) => e.message),
          `${d.name} on ${profile}`,
        ).toEqual([]);
        expect(r.nodes[0]!.images.length, d.name).toBeGreaterThan(0);
      }
    }
  });

  it('every file of falcosecurity/rules converts, and its policies build together as one set on one tracepoint-only node', async () => {
    const l = loadSources(await Promise.all(files.map(async (f) => ({ file: f, bytes: await fs.readFile(path.join(corpus, f)) }))));
    expect(l.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const falco = l.documents.filter(isFalcoRules);
    expect(new Set(falco.map((d) => d.provenance.file))).toEqual(new Set(files));
    for (const allowBroader of [false, true]) {
      const c = convertFalco(falco, l.sources, { allowBroader });
      expect(c.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      const docs = asDocuments(c.policies.map((p) => p.policy));
      const r = compileRuntime(docs, [{ name: 'node-a', caps: capabilityProfiles['tracepoint-only']! }]);
      const errors = [...r.diagnostics, ...r.nodes.flatMap((n) => n.diagnostics)].filter((x) => x.severity === 'error');
      expect(
        errors.map((e) => `${e.rule}: ${e.message}`),
        `allowBroader ${allowBroader}`,
      ).toEqual([]);
      const n = r.nodes[0]!;
      // One node, every policy: all of them lowered, and several share a syscall (no per-syscall cap).
      expect(n.lowered.policies.length).toBe(docs.length);
      const perCall = new Map<number, number>();
      for (const h of n.lowered.hooks) perCall.set(h.syscallNr, (perCall.get(h.syscallNr) ?? 0) + 1);
      if (allowBroader) expect(Math.max(...perCall.values())).toBeGreaterThan(4);
      // The node's capacity is stated map by map and holds the set.
      for (const cap of n.lowered.capacity) expect(cap.used, cap.map).toBeLessThanOrEqual(cap.limit);
      expect(n.lowered.capacity.find((x) => x.map === 'wrt_hooks')!.used).toBe(n.lowered.hooks.length);
      expect(docs.length).toBeGreaterThan(allowBroader ? 50 : 5);
    }
  });
});
