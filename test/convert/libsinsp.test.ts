// libsinsp's own parser and escaping cases (falcosecurity/libs, vendored as data under ./libsinsp): weir's
// condition parser accepts exactly what libsinsp accepts and rejects what it rejects, and decodes quoted
// strings to the same values.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCondition } from '../../compiler/convert/falco/parser.js';
import { printCondition } from '../../compiler/convert/falco/printer.js';
import { stripPositions } from '../../compiler/convert/falco/ast.js';

interface Case {
  suite: string;
  input: string;
  expect: 'accept' | 'reject';
  /** Upstream's test_accept also tries the input padded with blanks, and with blanks as line breaks or tabs. */
  blankVariants?: boolean;
  repeat?: number;
  value?: string;
}

const dir = path.resolve(import.meta.dirname, 'libsinsp');
const load = (f: string): Case[] => JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as Case[];
const parserCases = load('filter_parser.cases.json');
const escapingCases = load('filter_escaping.cases.json');

/** The inputs upstream's harness parses for one case. */
export function inputsOf(c: Case): string[] {
  const input = c.repeat ? c.input.repeat(c.repeat) : c.input;
  if (c.expect === 'reject' || c.blankVariants === false) return [input];
  const padded = ` ${input} `;
  const lines = padded.replaceAll(' ', '\n');
  return [input, padded, lines, lines.replaceAll('\n', '\t')];
}

function verdict(input: string): 'accept' | 'reject' {
  return parseCondition(input).ok ? 'accept' : 'reject';
}

const label = (c: Case) => `${c.suite}: ${JSON.stringify(c.input.length > 80 ? c.input.slice(0, 80) + '…' : c.input)}`;

describe('libsinsp filter_parser.ut.cpp cases', () => {
  it('covers the upstream file (561 distinct cases)', () => {
    expect(parserCases).toHaveLength(561);
    expect(parserCases.filter((c) => c.expect === 'reject').length).toBe(193);
  });
  it.each(parserCases.map((c) => [label(c), c] as const))('%s', (_, c) => {
    for (const input of inputsOf(c)) expect(verdict(input), JSON.stringify(input)).toBe(c.expect);
  });
});

describe('weir prints every accepted libsinsp case back to an equal tree', () => {
  it.each(parserCases.filter((c) => c.expect === 'accept').map((c) => [label(c), c] as const))('%s', (_, c) => {
    const r = parseCondition(c.input);
    if (!r.ok) throw new Error(r.error.message);
    const printed = printCondition(r.expr);
    const again = parseCondition(printed);
    expect(again.ok, printed).toBe(true);
    if (again.ok) expect(stripPositions(again.expr)).toEqual(stripPositions(r.expr));
  });
});

describe('libsinsp filter_escaping.ut.cpp cases (quoted values)', () => {
  it.each(escapingCases.map((c) => [label(c), c] as const))('%s', (_, c) => {
    const r = parseCondition(c.input);
    expect(r.ok ? 'accept' : 'reject').toBe(c.expect);
    if (r.ok && c.value !== undefined) {
      expect(r.expr.kind).toBe('check');
      const right = r.expr.kind === 'check' ? r.expr.right : undefined;
      expect(right?.kind === 'value' ? right.value : undefined).toBe(c.value);
    }
  });
});

describe("libsinsp's position tests: where each node starts", () => {
  // From filter_parser.ut.cpp (position_*): the offset of the check, its field and its value or list.
  it.each([
    ['proc.name exists', [0, 0, undefined]],
    ['proc.name=nginx', [0, 0, 10]],
    ['proc.aname[3]=nginx', [0, 0, 14]],
    ['proc.name =nginx', [0, 0, 11]],
    ['proc.name= nginx', [0, 0, 11]],
    ['proc.name = nginx', [0, 0, 12]],
    ['proc.name in (nginx, apache)', [0, 0, 13]],
    ['proc.name in ( nginx, apache)', [0, 0, 13]],
    ['proc.name == oneof (cat)', [0, 0, 19]],
  ] as const)('%s', (input, [check, field, value]) => {
    const r = parseCondition(input);
    if (!r.ok || r.expr.kind !== 'check') throw new Error('expected a check');
    expect([r.expr.start, r.expr.left.start, r.expr.right?.start]).toEqual([check, field, value]);
  });
  it('positions the children of not, or, and, parenthesised or not', () => {
    const not = parseCondition('not proc.name=nginx');
    expect(not.ok && not.expr.kind === 'not' && [not.expr.start, not.expr.child.start]).toEqual([0, 4]);
    for (const [input, starts] of [
      ['proc.name=nginx or proc.name=apache', [0, 0, 19]],
      ['(proc.name=nginx or proc.name=apache)', [1, 1, 20]],
      ['proc.name=nginx and proc.name=apache', [0, 0, 20]],
      ['(proc.name=nginx and proc.name=apache)', [1, 1, 21]],
    ] as const) {
      const r = parseCondition(input);
      expect(
        r.ok && (r.expr.kind === 'or' || r.expr.kind === 'and') && [r.expr.start, ...r.expr.children.map((c) => c.start)],
        input,
      ).toEqual(starts);
    }
  });
});
