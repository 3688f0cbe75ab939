import { describe, expect, it } from 'vitest';
import { isFalcoRules, loadSources } from '../../compiler/load/index.js';
import { convertFalco, printCondition, type ConvertOptions } from '../../compiler/convert/falco/index.js';
import { compileRules, collectRules, exceptionText } from '../../compiler/convert/falco/rules.js';

const enc = new TextEncoder();

function load(files: Record<string, string>) {
  const l = loadSources(Object.entries(files).map(([file, text]) => ({ file, bytes: enc.encode(text) })));
  expect(l.diagnostics).toEqual([]);
  return { docs: l.documents.filter(isFalcoRules), sources: l.sources };
}
function convert(files: Record<string, string>, opts: ConvertOptions = {}) {
  const { docs, sources } = load(files);
  return convertFalco(docs, sources, opts);
}
function compiled(files: Record<string, string>) {
  const { docs, sources } = load(files);
  const rs = collectRules(docs, sources);
  return { rs, ...compileRules(rs) };
}
const at = (d: { file: string; line: number; column: number }) => `${d.file}:${d.line}:${d.column}`;

const rule = (name: string, condition: string, extra = '') =>
  `- rule: ${name}\n  desc: d\n  condition: ${condition}\n  output: o\n  priority: WARNING\n${extra}`;

describe('Falco rules loader: positions inside conditions', () => {
  it('maps an offset in a folded (>) condition to its source line and column', () => {
    const text = [
      '- rule: r',
      '  desc: d',
      '  condition: >',
      '    evt.type = open',
      '    and fd.name = /x',
      '    and not no_such_macro',
      '  output: o',
      '  priority: WARNING',
      '',
    ].join('\n');
    const c = convert({ 'r.yaml': text });
    const d = c.diagnostics.find((x) => x.rule === 'falco/undefined-macro')!;
    expect(at(d)).toBe('r.yaml:6:13');
    expect(d.endColumn).toBe(26);
    expect(d.message).toContain('undefined macro `no_such_macro`');
  });
  it('maps a literal (|) block, a plain multi-line scalar and quoted scalars exactly', () => {
    const lit = [
      '- rule: r',
      '  desc: d',
      '  condition: |',
      '    evt.type = open and',
      '      nope_a',
      '  output: o',
      '  priority: WARNING',
      '',
    ].join('\n');
    expect(at(convert({ 'a.yaml': lit }).diagnostics[0]!)).toBe('a.yaml:5:7');
    const plain = [
      '- rule: r',
      '  desc: d',
      '  condition: evt.type = open',
      '    and nope_b',
      '  output: o',
      '  priority: WARNING',
      '',
    ].join('\n');
    expect(at(convert({ 'b.yaml': plain }).diagnostics[0]!)).toBe('b.yaml:4:9');
    const dq = [
      '- rule: r',
      '  desc: d',
      '  condition: "evt.type = open and proc.name = \\"x\\"',
      '    and nope_c"',
      '  output: o',
      '  priority: WARNING',
      '',
    ].join('\n');
    expect(at(convert({ 'c.yaml': dq }).diagnostics[0]!)).toBe('c.yaml:4:9');
    const sq = [
      '- rule: r',
      '  desc: d',
      "  condition: 'evt.type = open and proc.name = ''x'' and nope_d'",
      '  output: o',
      '  priority: WARNING',
      '',
    ].join('\n');
    expect(at(convert({ 'd.yaml': sq }).diagnostics[0]!)).toBe('d.yaml:3:57');
  });
  it('points an error in appended text at the appending item', () => {
    const text = rule('r', 'evt.type = open') + '- rule: r\n  append: true\n  condition: and (proc.name = x\n';
    const d = convert({ 'e.yaml': text }).diagnostics.find((x) => x.rule === 'falco/syntax')!;
    expect(at(d)).toBe('e.yaml:8:18');
    expect(d.message).toContain('unbalanced parenthesis');
  });
});

describe('Falco rules loader: lists, macros, append and override', () => {
  it('substitutes lists, nested lists (list-in-list) and keeps quoted names literal', () => {
    const { rules } = compiled({
      'l.yaml': `- list: a\n  items: [x, y]\n- list: b\n  items: [a, z]\n${rule('r', 'evt.type = execve and proc.name in (b, "a", w)')}`,
    });
    expect(printCondition(rules[0]!.expr!)).toBe('evt.type = execve and proc.name in (x, y, z, "a", w)');
  });
  it('expands macros, including macros defined after the macro that uses them', () => {
    const { rules } = compiled({
      'm.yaml': `- macro: outer\n  condition: inner and proc.name = a\n- macro: inner\n  condition: evt.type = open\n${rule('r', 'outer')}`,
    });
    expect(printCondition(rules[0]!.expr!)).toBe('evt.type = open and proc.name = a');
  });
  it('reports a macro cycle instead of recursing forever', () => {
    const { diagnostics } = compiled({
      'c.yaml': `- macro: a\n  condition: b\n- macro: b\n  condition: a\n${rule('r', 'evt.type = open and a')}`,
    });
    expect(diagnostics.map((d) => d.rule)).toContain('falco/macro-cycle');
  });
  it('applies legacy append to lists, macros and rules in file order', () => {
    const { rules, rs } = compiled({
      'a.yaml': `- list: l\n  items: [a]\n- macro: m\n  condition: proc.name in (l)\n${rule('r', 'evt.type = execve and m')}- list: l\n  items: [b]\n  append: true\n- macro: m\n  condition: or proc.name = c\n  append: true\n- rule: r\n  condition: and fd.name = /x\n  append: true\n`,
    });
    expect(rs.lists.get('l')!.items).toEqual(['a', 'b']);
    expect(printCondition(rules[0]!.expr!)).toBe('evt.type = execve and (proc.name in (a, b) or proc.name = c) and fd.name = /x');
    expect(rs.counts).toEqual({ rules: 2, macros: 2, lists: 2 });
  });
  it('applies override append/replace per key', () => {
    const { rs, rules } = compiled({
      'o.yaml': `${rule('r', 'evt.type = execve', '  tags: [t1]\n')}- rule: r\n  condition: and proc.name = x\n  priority: CRITICAL\n  tags: [t2]\n  override:\n    condition: append\n    priority: replace\n    tags: append\n- list: l\n  items: [a]\n- list: l\n  items: [z]\n  override:\n    items: replace\n`,
    });
    const r = rs.rules.get('r')!;
    expect(r.priority).toBe('CRITICAL');
    expect(r.tags).toEqual(['t1', 't2']);
    expect(rs.lists.get('l')!.items).toEqual(['z']);
    expect(printCondition(rules[0]!.expr!)).toBe('evt.type = execve and proc.name = x');
  });
  it('refuses to append a key that cannot be appended', () => {
    const { rs } = compiled({
      'p.yaml': `${rule('r', 'evt.type = execve')}- rule: r\n  priority: ERROR\n  override:\n    priority: append\n`,
    });
    expect(rs.diagnostics.map((d) => [d.rule, at(d)])).toEqual([['falco/bad-override', 'p.yaml:9:15']]);
    expect(rs.rules.get('r')!.priority).toBe('WARNING');
  });
  it('disables a rule with an enabled-only item', () => {
    const c = convert({ 'e.yaml': `${rule('r', 'evt.type = execve')}- rule: r\n  enabled: false\n` });
    expect(c.reports[0]!.verdict).toBe('disabled');
  });
  it('expands exceptions into `and not (...)` as Falco does', () => {
    const ex = `  exceptions:\n  - name: ok_procs\n    fields: proc.name\n    values: [a, "b c"]\n  - name: pairs\n    fields: [proc.name, fd.name]\n    comps: [=, startswith]\n    values:\n    - [x, /tmp/]\n    - [y, /var/]\n`;
    const { rules } = compiled({ 'x.yaml': rule('r', 'evt.type = open', ex) });
    expect(rules[0]!.text).toBe(
      '(evt.type = open) and not (proc.name in (a, "b c")) and not ((proc.name = x and fd.name startswith /tmp/) or (proc.name = y and fd.name startswith /var/))',
    );
    expect(
      exceptionText({
        name: 'e',
        fields: ['a.b', 'c.d'],
        comps: ['in', '='],
        values: [[['p', 'q'], 'r']],
        span: { file: '', line: 1, column: 1, endLine: 1, endColumn: 1 },
      }),
    ).toBe('(a.b in (p, q) and c.d = r)');
  });
});

describe('Falco rules loader: bad input is a diagnostic at file:line:col and the other rules still convert', () => {
  const good = rule('good', 'evt.type = ptrace and proc.name = gdb');
  it.each([
    ['undefined macro', rule('bad', 'evt.type = open and nope'), 'falco/undefined-macro', 'b.yaml:3:34'],
    [
      'list used outside parentheses',
      `- list: shells\n  items: [sh]\n${rule('bad', 'evt.type = execve and proc.name in shells')}`,
      'falco/list-outside-parens',
      'b.yaml:5:49',
    ],
    [
      'list used as a macro',
      `- list: shells\n  items: [sh]\n${rule('bad', 'evt.type = execve and shells')}`,
      'falco/undefined-macro',
      'b.yaml:5:36',
    ],
    [
      'override of an unknown rule',
      '- rule: ghost\n  condition: and proc.name = x\n  override:\n    condition: append\n',
      'falco/unknown-rule',
      'b.yaml:1:9',
    ],
    ['append to an unknown macro', '- macro: ghost\n  condition: or x\n  append: true\n', 'falco/unknown-macro', 'b.yaml:1:10'],
    ['unbalanced parenthesis', rule('bad', '(evt.type = open and (proc.name = x)'), 'falco/syntax', 'b.yaml:3:14'],
    ['unsupported engine version', '- required_engine_version: 0.99.0\n', 'falco/engine-version', 'b.yaml:1:28'],
    ['missing key', '- rule: bad\n  condition: evt.type = open\n', 'falco/missing-key', 'b.yaml:1:9'],
    ['bad priority', rule('bad', 'evt.type = open').replace('WARNING', 'LOUD'), 'falco/bad-priority', 'b.yaml:5:13'],
  ])('%s', (_name, bad, ruleId, where) => {
    const c = convert({ 'a.yaml': good, 'b.yaml': bad });
    const d = c.diagnostics.find((x) => x.rule === ruleId);
    expect(d, JSON.stringify(c.diagnostics)).toBeDefined();
    expect(at(d!)).toBe(where);
    expect(d!.severity).toBe('error');
    const g = c.reports.find((r) => r.rule === 'good')!;
    expect(g.verdict).toBe('exact');
    expect(c.policies.some((p) => p.rule === 'good')).toBe(true);
  });
  it('refuses a field unknown to the syscall source, or skips the rule with skip-if-unknown-filter', () => {
    const bad = convert({ 'u.yaml': rule('u', 'evt.type = open and ka.verb = create') });
    expect(bad.diagnostics.map((d) => [d.rule, at(d)])).toEqual([['falco/unknown-field', 'u.yaml:3:14']]);
    expect(bad.reports[0]!.verdict).toBe('not-convertible');
    const skip = convert({ 'u.yaml': rule('u', 'evt.type = open and ka.verb = create', '  skip-if-unknown-filter: true\n') });
    expect(skip.diagnostics).toEqual([]);
    expect(skip.reports[0]!.verdict).toBe('disabled');
    expect(skip.reports[0]!.reasons[0]).toContain('skip-if-unknown-filter: the condition uses ka.verb');
  });
  it('reports an older engine requirement as fine and keeps the highest version', () => {
    const c = convert({ 'a.yaml': `- required_engine_version: 10\n- required_engine_version: 0.50.0\n${good}` });
    expect(c.diagnostics).toEqual([]);
    expect(c.ruleset.requiredEngineVersion).toBe('0.50.0');
  });
});
