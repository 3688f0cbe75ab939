// schemas/compiled/: the ajv standalone validators a fresh process loads instead of compiling the
// schemas. They must be what `npm run schemas:compile` makes from the schemas as they are now, give
// the same errors as ajv compiling in the process, and never serve once a schema has changed.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openValidators, schemaDir } from '../../compiler/lint/schema.js';
import { compiledDir, compiledFiles, newAjv, schemaId, schemaNames } from '../../compiler/lint/schema-compile.js';

const dir = schemaDir();
const temps: string[] = [];
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

// Documents with errors of every keyword the diagnostics read (additionalProperties, required, type, enum, const, anyOf).
const samples: [string, unknown][] = [
  [
    'cilium-network-policy',
    { apiVersion: 'cilium.io/v2', kind: 'CiliumNetworkPolicy', metadata: { name: 'a' }, spec: { egres: [], endpointSelector: 'x' } },
  ],
  ['cilium-network-policy', { apiVersion: 'cilium.io/v3', kind: 'CiliumNetworkPolicy', metadata: {} }],
  [
    'network-policy',
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'a' },
      spec: { podSelector: {}, policyTypes: ['Sideways'] },
    },
  ],
  [
    'tracing-policy',
    { apiVersion: 'cilium.io/v1alpha1', kind: 'TracingPolicy', metadata: { name: 'a' }, spec: { kprobes: [{ call: 1, syscal: true }] } },
  ],
  ['inventory', { apiVersion: 'weir.dev/v1alpha1', kind: 'Inventory', metadata: { name: 'i' }, spec: { pods: 'none', nodes: [{}] } }],
];

describe('precompiled schema validators', () => {
  it('are what npm run schemas:compile makes from the schemas now (else run it)', () => {
    const want = compiledFiles(dir);
    const have = readdirSync(compiledDir(dir)).sort();
    expect(have, 'files in schemas/compiled: run npm run schemas:compile').toEqual([...want.keys()].sort());
    for (const [name, text] of want)
      expect(
        readFileSync(path.join(compiledDir(dir), name), 'utf8') === text,
        `schemas/compiled/${name} is stale: run npm run schemas:compile`,
      ).toBe(true);
    expect(openValidators(dir).precompiled).toBe(true);
  });

  it('give the same verdicts and error objects as ajv compiling in the process', () => {
    const pre = openValidators(dir);
    const ajv = newAjv(dir);
    for (const [name, doc] of samples) {
      const a = pre.get(name);
      const b = ajv.getSchema(schemaId(name))!;
      expect(a(doc)).toBe(false);
      expect(b(doc)).toBe(false);
      expect(a.errors!.length).toBeGreaterThan(0);
      expect(a.errors).toEqual(b.errors);
    }
    expect(schemaNames(dir).length).toBeGreaterThan(10);
  });

  it('are not used once a schema differs from what they were made from: ajv compiles the schema as it is', () => {
    const copy = mkdtempSync(path.join(tmpdir(), 'weir-schemas-'));
    temps.push(copy);
    cpSync(dir, copy, { recursive: true });
    expect(openValidators(copy).precompiled).toBe(true);
    const file = path.join(copy, 'label-selector.schema.json');
    const s = JSON.parse(readFileSync(file, 'utf8')) as { properties: Record<string, unknown> };
    s.properties['extra'] = { type: 'string' };
    writeFileSync(file, JSON.stringify(s));
    const v = openValidators(copy);
    expect(v.precompiled).toBe(false);
    expect(v.get('label-selector')({ extra: 'x' })).toBe(true);
    expect(openValidators(dir).get('label-selector')({ extra: 'x' })).toBe(false);
  });
});
