// The YAML fast path must agree with the `yaml` package exactly (values, document indexes, spans,
// and locate() for every node, key and value) wherever it does not hand over; checked on the
// corpus, the bundled policies and random documents.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { FastParser } from '../../compiler/load/fastyaml.js';
import { defaultLimits, parseYamlDocuments, type NodePath } from '../../compiler/load/yaml.js';
import { corpusDir } from '../upstream-corpus.js';

const root = path.resolve(import.meta.dirname, '../..');

function* walk(d: string): Generator<string> {
  for (const e of readdirSync(d).sort()) {
    const p = path.join(d, e);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (/\.ya?ml$/.test(e)) yield p;
  }
}

function paths(v: unknown, pre: NodePath = [], out: NodePath[] = []): NodePath[] {
  out.push(pre);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...pre, i], out));
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) paths((v as Record<string, unknown>)[k], [...pre, k], out);
  return out;
}

/** Every observable of the parse, for comparing the two paths. */
function observe(file: string, text: string, fast: boolean): unknown {
  const r = parseYamlDocuments(file, text, defaultLimits, { fast });
  return {
    diagnostics: r.diagnostics,
    documents: r.documents.map((d) => ({
      index: d.index,
      value: d.value,
      span: d.span,
      located: paths(d.value).map((p) => [p, d.locate(p), d.locate(p, { key: true })]),
    })),
  };
}

function agree(file: string, text: string): boolean {
  const withPositions = new FastParser(text, defaultLimits.maxDepth).parse();
  // The value-only mode (what loading uses) takes and gives up on exactly the same texts, with the same values and root ranges.
  const valuesOnly = new FastParser(text, defaultLimits.maxDepth, false).parse();
  expect(valuesOnly === undefined, file).toBe(withPositions === undefined);
  if (withPositions)
    expect(
      valuesOnly!.map((d) => d.root && [d.root.value, d.root.start, d.root.end]),
      file,
    ).toEqual(withPositions.map((d) => d.root && [d.root.value, d.root.start, d.root.end]));
  const usedFast = withPositions !== undefined;
  if (usedFast) expect(observe(file, text, true), file).toEqual(observe(file, text, false));
  return usedFast;
}

describe('YAML fast path', () => {
  it('agrees with yaml on the bundled policies and test fixtures, and takes most of them', () => {
    let fast = 0;
    let all = 0;
    for (const dir of ['policies', 'test/lint/fixtures'])
      for (const f of walk(path.join(root, dir))) {
        all++;
        if (agree(f, readFileSync(f, 'utf8'))) fast++;
      }
    expect(fast / all).toBeGreaterThan(0.7);
  });

  it('agrees with yaml on the Cilium and Tetragon corpus', () => {
    let fast = 0;
    let all = 0;
    for (const dir of ['cilium', 'tetragon'])
      for (const f of walk(path.join(corpusDir, dir))) {
        all++;
        if (agree(f, readFileSync(f, 'utf8'))) fast++;
      }
    expect(fast).toBeGreaterThan(all * 0.9);
  });

  const edge: [string, string][] = [
    ['empty documents keep their index', 'a: 1\n---\n---\nb: 2\n'],
    ['comment prelude before ---', '# c\n---\na: 1\n'],
    ['trailing ---', 'a: 1\n---\n'],
    ['null values at the end of nested collections', 'a:\n  b:\n  - c:\n'],
    ['sequence at the same indentation as its key', 'a:\n- 1\n- x: 2\n  y: [3, "4"]\nb: {c: d, e: [f]}\n'],
    ['quoted keys and values', `"k:x": 'it''s'\n'y': "z" # c\n`],
    ['scalars of every core type', 'a: [1, -2, 3.5, 1e3, true, False, null, ~, yes, "1", 0.5e-3, +7]\n'],
  ];
  it.each(edge)('%s', (_, text) => {
    expect(agree('edge.yaml', text)).toBe(true);
  });

  const handOver: [string, string][] = [
    ['anchors and aliases', 'a: &x 1\nb: *x\n'],
    ['block scalars', 'a: |\n  text\n'],
    ['multi-line plain scalars', 'a: one\n  two\n'],
    ['escapes in double quotes', 'a: "x\\ny"\n'],
    ['duplicate keys', 'a: 1\na: 2\n'],
    ['tabs', 'a:\t1\n'],
    ['octal and hex', 'a: 0o17\n'],
    ['flow collections over several lines', 'a: [1,\n  2]\n'],
    ['tags', 'a: !!str 1\n'],
    ['comments after a block collection (yaml attributes them intricately)', 'a:\n  b: 1\n  # x\n # y\n# z\n'],
  ];
  it.each(handOver)('hands %s over to yaml', (_, text) => {
    expect(new FastParser(text, defaultLimits.maxDepth).parse()).toBeUndefined();
    expect(new FastParser(text, defaultLimits.maxDepth, false).parse()).toBeUndefined();
  });

  it('agrees with yaml on random documents in block and flow style', () => {
    const key = fc.oneof(
      fc.constantFrom('a', 'spec', 'k8s:app', 'x-y.z/w', 'on', '1x', 'with space'),
      fc.string({ minLength: 1, maxLength: 6 }),
    );
    const scalar = fc.oneof(
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.boolean(),
      fc.constant(null),
      fc.string({ maxLength: 12 }),
      fc.constantFrom('true', '1.0', '-', 'a: b', '#x', 'x #y', "it's", '"q"', ''),
    );
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        scalar,
        fc.array(tie('node'), { maxLength: 4 }),
        fc.dictionary(key, tie('node'), { maxKeys: 4 }),
      ),
    })).node;
    let fast = 0;
    fc.assert(
      fc.property(
        fc.array(fc.dictionary(key, value, { minKeys: 1, maxKeys: 5 }), { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        (docs, flow) => {
          const text = docs.map((d) => stringify(d, flow ? { collectionStyle: 'flow', lineWidth: 0 } : { lineWidth: 0 })).join('---\n');
          if (agree('random.yaml', text)) fast++;
        },
      ),
      { numRuns: 300, seed: 42 },
    );
    expect(fast).toBeGreaterThan(30);
  });
});
