import { describe, expect, it } from 'vitest';
import { parseCondition } from '../../compiler/convert/falco/parser.js';
import { printCondition } from '../../compiler/convert/falco/printer.js';
import { stripPositions, type Expr, type FieldLike, type TransformerArg, type Value } from '../../compiler/convert/falco/ast.js';

// A compact rendering of the tree so expected shapes read like the grammar.
function sx(e: Expr): string {
  switch (e.kind) {
    case 'and':
    case 'or':
      return `(${e.kind} ${e.children.map(sx).join(' ')})`;
    case 'not':
      return `(not ${sx(e.child)})`;
    case 'identifier':
      return `$${e.name}`;
    case 'check':
      return `[${fx(e.left)} ${e.op}${e.modifier ? ' ' + e.modifier : ''}${e.right ? ' ' + vx(e.right) : ''}]`;
  }
}
function fx(f: FieldLike): string {
  const arg = f.arg === undefined ? '' : `[${f.argQuote ?? ''}${f.arg}${f.argQuote ?? ''}]`;
  if (f.kind === 'field') return f.name + arg;
  return `${f.name}(${f.args.map(ax).join(',')})${arg}`;
}
function ax(a: TransformerArg): string {
  if (a.kind === 'tlist') return `{${a.items.map(ax).join(',')}}`;
  if (a.kind === 'value') return a.quote ? JSON.stringify(a.value) : `#${a.value}`;
  return fx(a);
}
function vx(v: Value): string {
  if (v.kind === 'value') return v.quote ? `${v.quote}${v.value}${v.quote}` : v.value;
  if (v.kind === 'list') return `{${v.items.map((i) => vx(i)).join(',')}}`;
  if (v.kind === 'listref') return `@${v.name}`;
  return fx(v);
}
function tree(s: string): string {
  const r = parseCondition(s);
  if (!r.ok) throw new Error(`parse failed: ${r.error.message} at ${r.error.start}`);
  // Every tree must also round-trip through the printer.
  const again = parseCondition(printCondition(r.expr));
  expect(again.ok && stripPositions(again.expr)).toEqual(stripPositions(r.expr));
  return sx(r.expr);
}
function error(s: string): { message: string; start: number; end: number } {
  const r = parseCondition(s);
  if (r.ok) throw new Error(`expected an error for ${s}`);
  return r.error;
}

describe('Falco condition parser: operators', () => {
  it.each([
    ['proc.name = bash', '[proc.name = bash]'],
    ['proc.name == bash', '[proc.name == bash]'],
    ['proc.name != bash', '[proc.name != bash]'],
    ['fd.num < 3', '[fd.num < 3]'],
    ['fd.num <= 3', '[fd.num <= 3]'],
    ['fd.num > -1', '[fd.num > -1]'],
    ['fd.num >= 0x1F', '[fd.num >= 0x1F]'],
    ['evt.rawres >= 1.5e+3', '[evt.rawres >= 1.5e+3]'],
    ['proc.name in (bash, sh)', '[proc.name in {bash,sh}]'],
    ['proc.name in ()', '[proc.name in {}]'],
    [
      'ka.req.pod.volumes.hostpath intersects (/proc, /var/run/docker.sock)',
      '[ka.req.pod.volumes.hostpath intersects {/proc,/var/run/docker.sock}]',
    ],
    ['fd.name pmatch (/etc, /usr/bin)', '[fd.name pmatch {/etc,/usr/bin}]'],
    ['proc.cmdline contains "-jar"', '[proc.cmdline contains "-jar"]'],
    ['proc.cmdline icontains JAR', '[proc.cmdline icontains JAR]'],
    ['evt.buffer bcontains CAFEBABE', '[evt.buffer bcontains CAFEBABE]'],
    ['fd.name startswith /etc/', '[fd.name startswith /etc/]'],
    ['evt.buffer bstartswith 7F454C46', '[evt.buffer bstartswith 7F454C46]'],
    ['fd.name endswith .pem', '[fd.name endswith .pem]'],
    ['fd.name glob "/etc/*.conf"', '[fd.name glob "/etc/*.conf"]'],
    ['fd.name iglob /ETC/*', '[fd.name iglob /ETC/*]'],
    ['proc.name regex "^ba.h$"', '[proc.name regex "^ba.h$"]'],
    ['container.image.repository exists', '[container.image.repository exists]'],
    ["fd.typechar='f'", "[fd.typechar = 'f']"],
    ['fd.num>=0', '[fd.num >= 0]'],
    ['proc.name in(a,b)', '[proc.name in {a,b}]'],
  ])('%s', (src, expected) => expect(tree(src)).toBe(expected));

  it('reads a list name without parentheses as a list reference (resolved later, as Falco does)', () => {
    expect(tree('proc.name in shell_binaries')).toBe('[proc.name in @shell_binaries]');
  });

  it('reads a quantifier after a string operator, over a list or a list name', () => {
    expect(tree('proc.name == oneof (cat, nginx)')).toBe('[proc.name == oneof {cat,nginx}]');
    expect(tree('fd.name startswith anyof (/proc/, /sys/)')).toBe('[fd.name startswith anyof {/proc/,/sys/}]');
    expect(tree('fd.name != allof my_list')).toBe('[fd.name != allof @my_list]');
    expect(tree('not (proc.name = oneof (a) and fd.name endswith allof (.so))')).toBe(
      '(not (and [proc.name = oneof {a}] [fd.name endswith allof {.so}]))',
    );
    expect(tree('tolower(proc.name) == oneof ()')).toBe('[tolower(proc.name) == oneof {}]');
  });

  it('reads a quantifier word that no list follows as a plain value', () => {
    expect(tree('proc.name == oneof')).toBe('[proc.name == oneof]');
    expect(tree('proc.name == anyof and fd.name exists')).toBe('(and [proc.name == anyof] [fd.name exists])');
    expect(tree('proc.name == oneof oneof')).toBe('[proc.name == oneof @oneof]');
    expect(tree('(proc.name == allof)')).toBe('[proc.name == allof]');
  });
});

describe('Falco condition parser: precedence and negation', () => {
  it('and binds tighter than or', () => {
    expect(tree('a or b and c')).toBe('(or $a (and $b $c))');
    expect(tree('a and b or c and d')).toBe('(or (and $a $b) (and $c $d))');
  });
  it('not binds tighter than and', () => {
    expect(tree('not a and b')).toBe('(and (not $a) $b)');
    expect(tree('not (a and b)')).toBe('(not (and $a $b))');
  });
  it('keeps chains of not', () => {
    expect(tree('not not a')).toBe('(not (not $a))');
    expect(tree('not not not proc.name = x')).toBe('(not (not (not [proc.name = x])))');
  });
  it('accepts not( and or( without a blank', () => {
    expect(tree('not(a)')).toBe('(not $a)');
    expect(tree('a or(b)')).toBe('(or $a $b)');
    expect(tree('a and(b or c)')).toBe('(and $a (or $b $c))');
  });
  it('flattens chains and keeps explicit grouping as nesting', () => {
    expect(tree('a and b and c')).toBe('(and $a $b $c)');
    expect(tree('(a and b) and c')).toBe('(and (and $a $b) $c)');
    expect(tree('((a))')).toBe('$a');
  });
  it('does not read a keyword inside an identifier', () => {
    expect(tree('notebook and order')).toBe('(and $notebook $order)');
  });
  it('spans newlines and tabs like blanks', () => {
    expect(tree('a\n  and\tb\r\n or c')).toBe('(or (and $a $b) $c)');
  });
});

describe('Falco condition parser: fields and transformers', () => {
  it('reads field arguments, bare and quoted', () => {
    expect(tree('proc.aname[2] = sshd')).toBe('[proc.aname[2] = sshd]');
    expect(tree('container.label[io.kubernetes.pod.name] = x')).toBe('[container.label[io.kubernetes.pod.name] = x]');
    expect(tree('k8s.pod.label["app name"] = web')).toBe('[k8s.pod.label["app name"] = web]');
  });
  it.each([
    ['tolower(proc.name) = bash', '[tolower(proc.name) = bash]'],
    ['toupper(fd.name) startswith /ETC', '[toupper(fd.name) startswith /ETC]'],
    ['b64(evt.buffer) contains abc', '[b64(evt.buffer) contains abc]'],
    ['basename(proc.exepath) = sh', '[basename(proc.exepath) = sh]'],
    ['len(proc.args) > 100', '[len(proc.args) > 100]'],
    ['tolower(basename(proc.exepath)) = sh', '[tolower(basename(proc.exepath)) = sh]'],
    ['proc.name = val(proc.pname)', '[proc.name = val(proc.pname)]'],
    ['proc.name in val(proc.pname)', '[proc.name in val(proc.pname)]'],
    ['join(",", proc.args) contains "-c"', '[join(",",proc.args) contains "-c"]'],
    ['concat(proc.name, proc.pname) = shsh', '[concat(proc.name,proc.pname) = shsh]'],
    ['getopt("-c", proc.args) exists', '[getopt("-c",proc.args) exists]'],
  ])('%s', (src, expected) => expect(tree(src)).toBe(expected));
});

describe('Falco condition parser: strings and escapes', () => {
  it('decodes escapes inside quotes', () => {
    const r = parseCondition('proc.cmdline contains "a \\"b\\" \\\\ \\n\\t end"');
    expect(r.ok && r.expr.kind === 'check' && r.expr.right?.kind === 'value' && r.expr.right.value).toBe('a "b" \\ \n\t end');
  });
  it('refuses an escape libsinsp does not know (a regex wants \\\\. inside quotes), at the backslash', () => {
    const e = error("proc.cmdline regex 'a\\.b'");
    expect(e.message).toContain('unsupported escape \\.');
    expect(e.start).toBe(21);
    expect(e.end).toBe(23);
  });
  it('decodes \\xHH, \\/ and the legacy backslash-blank; refuses the other quote escaped', () => {
    const value = (s: string) => {
      const r = parseCondition(s);
      return r.ok && r.expr.kind === 'check' && r.expr.right?.kind === 'value' ? r.expr.right.value : undefined;
    };
    expect(value('proc.name = "\\x41\\/\\ b"')).toBe('A/\\b');
    expect(error(`proc.name = 'it\\"s'`).message).toContain('not an escape inside');
    expect(error('proc.name = "\\xg1"').message).toContain('two hex digits');
  });
  it('ends a quoted string only at a quote no backslash precedes (as libsinsp)', () => {
    // `"a\\"` does not end at its last quote: the string runs on to the next unescaped quote.
    expect(tree('proc.name = "a\\\\" b"')).toBe('[proc.name = "a\\" b"]');
    expect(error('proc.name = "a\\\\" or x = "b"').message).toContain('unexpected `b`');
  });
  it('reads single quotes with escaped single quotes', () => {
    expect(tree("proc.name = 'it\\'s'")).toBe("[proc.name = 'it's']");
  });
  it('keeps quoted list items distinct from list names', () => {
    expect(tree('proc.name in ("(systemd)", "<NA>", bash)')).toBe('[proc.name in {"(systemd)","<NA>",bash}]');
  });
  it('round-trips values that need quoting when printed', () => {
    const r = parseCondition('proc.name in ("a b", "c,d", "", "x=y")');
    expect(r.ok).toBe(true);
    if (r.ok) expect(printCondition(r.expr)).toBe('proc.name in ("a b", "c,d", "", "x=y")');
  });
});

describe('Falco condition parser: positions', () => {
  it('records [start, end) of every node', () => {
    const src = 'evt.type = open and not proc.name in (a, b)';
    const r = parseCondition(src);
    expect(r.ok).toBe(true);
    if (!r.ok || r.expr.kind !== 'and') return;
    const [first, second] = r.expr.children;
    expect(src.slice(first!.start, first!.end)).toBe('evt.type = open');
    expect(src.slice(second!.start, second!.end)).toBe('not proc.name in (a, b)');
    if (second!.kind !== 'not' || second!.child.kind !== 'check') throw new Error('shape');
    const chk = second!.child;
    expect(src.slice(chk.left.start, chk.left.end)).toBe('proc.name');
    expect(src.slice(chk.right!.start, chk.right!.end)).toBe('(a, b)');
    if (chk.right!.kind !== 'list') throw new Error('shape');
    expect(src.slice(chk.right!.items[1]!.start, chk.right!.items[1]!.end)).toBe('b');
  });
});

describe('Falco condition parser: errors with offsets', () => {
  it.each([
    ['(a and b', 'unbalanced parenthesis: this `(` is never closed', 0],
    ['a and b)', 'unbalanced parenthesis: `)` has no matching `(`', 7],
    ['proc.name in (a, b', 'never closed', 13],
    ['proc.name', 'needs an operator', 0],
    ['proc.name foo bar', 'unknown operator `foo`', 10],
    ['proc.name = "abc', 'unterminated string', 12],
    ['a and', 'the condition ends where', 5],
    ['a b', 'unexpected `b`', 2],
    ['fd.num > abc', 'expected a number', 9],
    ['tolower(proc.name = x', 'expected `,` or `)`', 18],
    ['proc.aname[] = x', 'empty argument', 10],
    ['val(proc.name) = y', 'on the right of an operator only', 0],
    ['proc.name = val("x")', 'takes exactly one field', 12],
    ['proc.name = b64(val(proc.pname))', 'cannot be nested', 16],
    ['proc.name ==oneof (a)', 'unexpected `(`', 18],
    ['a or(b) and c', '`and` cannot follow `or(...)`', 8],
    ['proc.name in oneof (a)', 'unexpected `(`', 19],
    ['proc.name contains(a)', 'needs a blank after it', 10],
    ['join("-", (fd.name,)) = x', 'holds fields, transformers', 19],
    ['join("-", ((fd.name))) = x', 'holds fields, transformers', 11],
  ])('%s', (src, message, start) => {
    const e = error(src);
    expect(e.message).toContain(message);
    expect(e.start).toBe(start);
  });
  it('refuses nesting deeper than 100 levels instead of overflowing the stack', () => {
    expect(error('('.repeat(150) + 'a' + ')'.repeat(150)).message).toContain('deeper than 100');
    expect(error('not '.repeat(150) + 'a').message).toContain('deeper than 100');
  });
});

describe('Falco condition parser: arbitrary input', () => {
  it('never throws, and whatever parses round-trips through the printer', async () => {
    const fc = await import('fast-check');
    const token = fc.constantFrom(
      'proc.name',
      'fd.name',
      'evt.type',
      'a',
      'and',
      'or',
      'not',
      '(',
      ')',
      '=',
      '!=',
      'in',
      'contains',
      'exists',
      '"x y"',
      "'q'",
      '/etc/',
      ',',
      'tolower(',
      'proc.aname[2]',
      '\\',
      '"',
      ' ',
      '\n',
      '<=',
      'pmatch',
      'val(',
      'oneof',
      'anyof',
      'allof',
      'join(',
      '(',
      '"-"',
      "'a\\\\'",
      '"\\x41"',
      '1',
      '0x1F',
      'startswith',
      '==',
      '[t]',
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.array(token, { maxLength: 25 }).map((t) => t.join(' ')),
        ),
        (s) => {
          const r = parseCondition(s);
          if (!r.ok) {
            expect(r.error.start).toBeGreaterThanOrEqual(0);
            expect(r.error.start).toBeLessThanOrEqual(s.length);
            return;
          }
          const again = parseCondition(printCondition(r.expr));
          expect(again.ok && stripPositions(again.expr)).toEqual(stripPositions(r.expr));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
