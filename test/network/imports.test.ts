// The compiler's import structure: compiler/model sits below every stage, lowering and the
// reference evaluator read the IR independently, and no module imports itself through others.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const importRe = /(?:import|export)\s[^;]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/gs;

/** Relative imports of every module under compiler/, as repository paths. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.ts')) {
        const text = readFileSync(path.join(root, rel), 'utf8');
        const out: string[] = [];
        for (const m of text.matchAll(importRe)) {
          const spec = m[1] ?? m[2]!;
          if (spec.startsWith('.')) out.push(path.posix.normalize(path.posix.join(path.posix.dirname(rel), spec)).replace(/\.js$/, '.ts'));
        }
        graph.set(rel, out);
      }
    }
  };
  walk('compiler');
  return graph;
}

describe('compiler imports', () => {
  const graph = importGraph();

  it('compiler/model imports nothing above it', () => {
    const up = [...graph].flatMap(([f, ts]) =>
      f.startsWith('compiler/model/') ? ts.filter((t) => !t.startsWith('compiler/model/')).map((t) => `${f} -> ${t}`) : [],
    );
    expect(up).toEqual([]);
  });

  it('lowering and the reference evaluator do not import each other', () => {
    const evaluator = 'compiler/ir/network/evaluate.ts';
    const crossing = [...graph].flatMap(([f, ts]) =>
      ts
        .filter((t) => (f.startsWith('compiler/lower/') && t === evaluator) || (f === evaluator && t.startsWith('compiler/lower/')))
        .map((t) => `${f} -> ${t}`),
    );
    expect(crossing).toEqual([]);
  });

  it('has no import cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string): void => {
      state.set(f, 'open');
      stack.push(f);
      for (const t of graph.get(f) ?? []) {
        if (!graph.has(t)) continue;
        if (state.get(t) === 'open') cycles.push([...stack.slice(stack.indexOf(t)), t].join(' -> '));
        else if (!state.has(t)) visit(t);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of graph.keys()) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });
});
