// docs/lint-rules.md is generated from rule meta; a rule change without `npm run docs:lint-rules` fails here.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { rulesMarkdown } from '../../compiler/lint/docs.js';
import { rules } from '../../compiler/lint/index.js';

describe('docs/lint-rules.md', () => {
  it('is up to date with the rules (run `npm run docs:lint-rules`)', () => {
    const committed = readFileSync(path.resolve(import.meta.dirname, '../../docs/lint-rules.md'), 'utf8');
    expect(committed).toBe(rulesMarkdown());
  });
  it('every rule has a unique id, a rationale, and a table test file', () => {
    const ids = rules.map((r) => r.meta.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of rules) {
      expect(r.meta.id).toMatch(/^[a-z0-9]+\/[a-z0-9-]+$/);
      expect(r.meta.rationale.length).toBeGreaterThan(40);
      expect(r.meta.kinds.length).toBeGreaterThan(0);
    }
    const tests = readFileSync(path.resolve(import.meta.dirname, 'rules/tetragon.test.ts'), 'utf8');
    for (const r of rules.filter((x) => x.meta.id.startsWith('tetragon/'))) expect(tests).toContain(`describe('${r.meta.id}'`);
  });
});
