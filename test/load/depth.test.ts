// Nesting 10,000 levels deep reports the documented depth limit (load/too-deep), in flow and JSON
// style alike, instead of the parser's "Maximum call stack size exceeded".
import { describe, expect, it } from 'vitest';
import { parseYamlDocuments } from '../../compiler/load/yaml.js';

describe('hostile depth', () => {
  const head = 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: a}\n';
  it.each([
    ['flow sequences', `${head}spec: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`],
    ['flow mappings', `${head}spec: ${'{a: '.repeat(10_000)}1${'}'.repeat(10_000)}\n`],
    [
      'JSON',
      `{"apiVersion":"cilium.io/v2","kind":"CiliumNetworkPolicy","metadata":{"name":"a"},"spec":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`,
    ],
  ])('%s', (_what, text) => {
    const r = parseYamlDocuments('deep.yaml', text);
    expect(r.documents).toEqual([]);
    expect(r.diagnostics.map((d) => `${d.rule} ${d.message}`)).toEqual(['load/too-deep document nests deeper than 64 levels']);
  });
});
