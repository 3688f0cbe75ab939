// Every diagnostic code the sources can emit has an entry in compiler/lint/codes.ts (and so a SARIF
// descriptor with help and a documented anchor). The codes are read from the sources: quoted
// `area/name` literals, and the short names the network and inventory helpers prefix.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { allCodes, describeCode, stageAreas } from '../../compiler/lint/codes.js';

const root = path.resolve(import.meta.dirname, '../..');
const areas = [
  'load',
  'schema',
  'inventory',
  'network',
  'lower',
  'runtime',
  'policytest',
  'plan',
  'falco',
  'convert',
  'guardrail',
  'cilium',
  'tetragon',
  'selector',
];

function sources(): { file: string; text: string }[] {
  const out: { file: string; text: string }[] = [];
  for (const dir of ['compiler', 'cli', 'controller', 'bpf']) {
    for (const f of readdirSync(path.join(root, dir), { recursive: true }).map(String)) {
      if (f.endsWith('.ts') && !f.endsWith('.d.ts')) out.push({ file: `${dir}/${f}`, text: readFileSync(path.join(root, dir, f), 'utf8') });
    }
  }
  return out;
}

function emittedCodes(): Set<string> {
  const codes = new Set<string>();
  const literal = new RegExp(`['\`](${areas.join('|')})/([a-z0-9]+(?:-[a-z0-9]+)*)['\`]`, 'g');
  for (const { file, text } of sources()) {
    if (file === 'compiler/lint/codes.ts') continue;
    for (const m of text.matchAll(literal)) codes.add(`${m[1]}/${m[2]}`);
    // helpers that prefix their area: networkError(doc, 'invalid-port', ...), and in the files that
    // build `network/${rule}` or `inventory/${rule}`, their local err(['doc',] 'name', ...)
    for (const m of text.matchAll(/\bnetworkError\(\s*[\w.]+,\s*'([a-z0-9-]+)'/g)) codes.add(`network/${m[1]}`);
    for (const area of ['network', 'inventory']) {
      if (text.includes(`\`${area}/\${rule}\``))
        for (const m of text.matchAll(/\berr\(\s*(?:[\w.]+,\s*)?'([a-z0-9-]+)'/g)) codes.add(`${area}/${m[1]}`);
    }
  }
  return codes;
}

describe('diagnostic codes', () => {
  const known = new Set(allCodes());

  it('every code in the sources has a catalogue entry', () => {
    const emitted = emittedCodes();
    // the scan itself finds codes of every stage (it would pass vacuously otherwise)
    for (const c of [
      'load/yaml-syntax',
      'schema/unknown-field',
      'network/invalid-port',
      'inventory/missing-name',
      'runtime/too-many-selectors',
      'falco/macro-cycle',
      'cilium/operator-case',
    ])
      expect(emitted, c).toContain(c);
    expect(emitted.size).toBeGreaterThan(120);
    const missing = [...emitted].filter((c) => !known.has(c)).sort();
    expect(missing).toEqual([]);
  });

  it('no catalogue entry is stale, each has an area and a real description', () => {
    const emitted = emittedCodes();
    const stale = [...known].filter((c) => !emitted.has(c) && !c.startsWith('schema/')).sort();
    expect(stale).toEqual([]);
    for (const id of known) {
      const d = describeCode(id);
      expect(d.short, id).not.toMatch(/^weir check /);
      expect(d.full.length, id).toBeGreaterThan(40);
      if (!/^(cilium|tetragon|selector|schema)\//.test(id))
        expect(
          stageAreas.some((a) => id.startsWith(`${a.prefix}/`)),
          id,
        ).toBe(true);
    }
    expect(new Set(allCodes()).size).toBe(allCodes().length);
  });
});
