// A recursive-descent parser for Falco conditions that accepts exactly what libsinsp's filter/parser.cpp
// accepts (its own test cases are checked in test/convert/libsinsp.test.ts):
//   Expr      ::= OrExpr;  OrExpr ::= AndExpr ('or' (' ' AndExpr | '(' Expr ')'))*
//   AndExpr   ::= NotExpr ('and' (' ' NotExpr | '(' Expr ')'))*;  NotExpr ::= ('not' Space+)* ('not(' Expr ')' | Check)
//   Check     ::= '(' Expr ')' | Field Condition | Transformer Condition | Identifier
//   Transformer ::= Name '(' TrArg (',' TrArg)* ')' ('[' FieldArg ']')?   with Name one of tolower toupper b64
//                   basename len join concat getopt;  TrArg ::= Transformer | Field | QuotedStr | Number | TrList
//   TrList    ::= '(' ((Field | Transformer | QuotedStr | Number) (',' ...)*)? ')'
//   Condition ::= 'exists' | NumOp (Number | TrOrVal) | StrOp (StrValue | TrOrVal)
//               | StrOp Quantifier List | ListOp (List | TrOrVal)     with TrOrVal ::= Transformer | 'val(' Field ')'
// Word operators and quantifiers need a blank after them; `in`, `intersects`, `pmatch` and `exists` do not.
// It never throws for bad input: it returns the first error with its offsets in the condition text.
import {
  modifiers,
  numOperators,
  transformerNames,
  type CheckExpr,
  type Expr,
  type FieldExpr,
  type FieldLike,
  type ListValue,
  type NotExpr,
  type Operator,
  type Quote,
  type StringValue,
  type TransformerArg,
  type TransformerExpr,
  type TransformerList,
  type TransformerName,
  type Value,
} from './ast.js';

export interface ParseError {
  message: string;
  start: number;
  end: number;
}

export type ParseResult = { ok: true; expr: Expr } | { ok: false; error: ParseError };

const maxDepth = 100;
// libsinsp's blanks between tokens; `not` and field arguments use POSIX [:space:] instead (no \b, with \v \f).
const isBlank = (c: string | undefined) => c === ' ' || c === '\t' || c === '\b' || c === '\r' || c === '\n';
const notRe = /not[ \t\n\v\f\r]+/y;
const identRe = /[a-zA-Z]+[a-zA-Z0-9_]*/y;
const fieldNameRe = /[a-zA-Z]+[a-zA-Z0-9_]*(?:\.[a-zA-Z]+[a-zA-Z0-9_]*)+/y;
const fieldArgBareRe = /[^\]["' \t\n\v\f\r]+/y;
const hexRe = /0[xX][0-9a-fA-F]+/y;
const numRe = /[+-]?[0-9]+\.?[0-9]*(?:[eE][+-][0-9]+)?/y;
const bareRe = /[^()"' \t\n\v\f\r=,]+/y;
const alnum = /[a-zA-Z0-9]/;
const symbolStrOps: readonly Operator[] = ['==', '=', '!='];
const wordStrOps: readonly Operator[] = [
  'glob',
  'iglob',
  'contains',
  'icontains',
  'bcontains',
  'startswith',
  'bstartswith',
  'endswith',
  'regex',
];
const listOps: readonly Operator[] = ['intersects', 'in', 'pmatch'];

class Failure extends Error {
  constructor(readonly error: ParseError) {
    super(error.message);
  }
}

/** Parses one condition string. */
export function parseCondition(input: string): ParseResult {
  const p = new Parser(input);
  try {
    return { ok: true, expr: p.parseAll() };
  } catch (e) {
    if (e instanceof Failure) return { ok: false, error: e.error };
    throw e;
  }
}

class Parser {
  private pos = 0;
  private depth = 0;
  constructor(private readonly input: string) {}

  parseAll(): Expr {
    if (this.input.length === 0) this.fail('the condition is empty', 0, 0);
    const e = this.parseOr();
    this.skipBlank();
    if (this.pos < this.input.length) {
      const tok = this.peekToken();
      if (tok === ')') this.fail('unbalanced parenthesis: `)` has no matching `(`', this.pos, this.pos + 1);
      this.fail(`unexpected \`${tok}\`; expected \`and\`, \`or\` or the end of the condition`, this.pos, this.pos + tok.length);
    }
    return e;
  }

  private fail(message: string, start = this.pos, end = start + 1): never {
    throw new Failure({ message, start, end: Math.min(Math.max(end, start), this.input.length) });
  }

  /** The next token, for messages: a word, a quoted string's start, or one character. */
  private peekToken(): string {
    const rest = this.input.slice(this.pos, this.pos + 40);
    const m = /^(?:[a-zA-Z0-9_.\-/*[\]]+|\S)/.exec(rest);
    return m ? m[0] : '';
  }

  private skipBlank(): boolean {
    const from = this.pos;
    while (isBlank(this.input[this.pos])) this.pos++;
    return this.pos > from;
  }

  private lex(re: RegExp): string | undefined {
    re.lastIndex = this.pos;
    const m = re.exec(this.input);
    if (!m) return undefined;
    this.pos = re.lastIndex;
    return m[0];
  }

  private lexStr(s: string): boolean {
    if (!this.input.startsWith(s, this.pos)) return false;
    this.pos += s.length;
    return true;
  }

  /** A word that must be followed by at least one blank (consumed), as libsinsp's `"contains "`. */
  private lexWordBlank(word: string): boolean {
    if (!this.input.startsWith(word, this.pos)) return false;
    const save = this.pos;
    this.pos += word.length;
    if (this.skipBlank()) return true;
    this.pos = save;
    return false;
  }

  private enter(start: number): void {
    if (++this.depth > maxDepth) this.fail(`condition nests deeper than ${maxDepth} levels`, start);
  }

  private parseOr(): Expr {
    this.skipBlank();
    const start = this.pos;
    const children = [this.parseAnd()];
    this.skipBlank();
    while (this.input.startsWith('or', this.pos)) {
      const kw = this.pos;
      this.pos += 2;
      if (this.skipBlank()) children.push(this.parseAnd());
      else if (this.input[this.pos] === '(') {
        children.push(this.parseEmbedded(this.pos++));
        const save = this.pos;
        this.skipBlank();
        // libsinsp takes `or(...)` as the whole operand of `or`: an `and` cannot follow it.
        if (this.input.startsWith('and', this.pos))
          this.fail(
            '`and` cannot follow `or(...)` (libsinsp reads the parenthesis as the whole operand); write `or (` with a blank',
            this.pos,
            this.pos + 3,
          );
        this.pos = save;
      } else if (this.pos >= this.input.length)
        this.fail('the condition ends where a check, macro name or `(` was expected', this.pos, this.pos);
      else this.fail('expected a blank or `(` after `or`', kw, this.pos + 1);
      this.skipBlank();
    }
    return children.length === 1 ? children[0]! : { kind: 'or', children, start, end: children[children.length - 1]!.end };
  }

  private parseAnd(): Expr {
    this.skipBlank();
    const start = this.pos;
    const children = [this.parseNot()];
    this.skipBlank();
    while (this.input.startsWith('and', this.pos)) {
      const kw = this.pos;
      this.pos += 3;
      if (this.skipBlank()) children.push(this.parseNot());
      else if (this.input[this.pos] === '(') children.push(this.parseEmbedded(this.pos++));
      else if (this.pos >= this.input.length)
        this.fail('the condition ends where a check, macro name or `(` was expected', this.pos, this.pos);
      else this.fail('expected a blank or `(` after `and`', kw, this.pos + 1);
      this.skipBlank();
    }
    return children.length === 1 ? children[0]! : { kind: 'and', children, start, end: children[children.length - 1]!.end };
  }

  private parseNot(): Expr {
    this.skipBlank();
    const nots: number[] = [];
    const depth = this.depth;
    for (;;) {
      const at = this.pos;
      if (this.lex(notRe) !== undefined) {
        this.enter(at);
        nots.push(at);
        continue;
      }
      break;
    }
    let child: Expr;
    if (this.input.startsWith('not(', this.pos)) {
      const at = this.pos;
      this.enter(at);
      nots.push(at);
      this.pos += 3;
      child = this.parseEmbedded(this.pos++);
    } else child = this.parseCheck();
    this.depth = depth;
    for (let i = nots.length - 1; i >= 0; i--) child = { kind: 'not', child, start: nots[i]!, end: child.end } satisfies NotExpr;
    return child;
  }

  /** After `(`: an expression and its `)`. */
  private parseEmbedded(open: number): Expr {
    this.enter(open);
    const inner = this.parseOr();
    this.skipBlank();
    if (this.input[this.pos] !== ')') {
      if (this.pos >= this.input.length) this.fail('unbalanced parenthesis: this `(` is never closed', open, open + 1);
      const tok = this.peekToken();
      this.fail(`unexpected \`${tok}\`; expected \`)\`, \`and\` or \`or\``, this.pos, this.pos + tok.length);
    }
    this.pos++;
    this.depth--;
    return inner;
  }

  private parseCheck(): Expr {
    this.skipBlank();
    const start = this.pos;
    if (this.pos >= this.input.length) this.fail('the condition ends where a check, macro name or `(` was expected', start, start);
    if (this.input[this.pos] === '(') {
      this.pos++;
      return this.parseEmbedded(start);
    }
    const field = this.lex(fieldNameRe);
    if (field !== undefined) return this.parseCondition(this.parseFieldRest(field, start), start);
    const tr = this.lexTransformerName();
    if (tr) return this.parseCondition(this.parseTransformerRest(tr, start), start);
    const ident = this.lex(identRe);
    if (ident !== undefined) {
      if (ident === 'val' && this.input[this.pos] === '(')
        this.fail('`val(...)` names a field on the right of an operator only (e.g. `proc.name = val(proc.pname)`)', start, this.pos + 1);
      if (this.input[this.pos] === '[')
        this.fail(`\`${ident}\` is not a field name (fields have a dot, e.g. proc.aname[2])`, start, this.pos);
      if (this.input[this.pos] === '(')
        this.fail(
          `\`${ident}\` is not a transformer (${transformerNames.join(', ')}); a transformer takes no blank before \`(\``,
          start,
          this.pos + 1,
        );
      return { kind: 'identifier', name: ident, start, end: this.pos };
    }
    const tok = this.peekToken();
    if (tok === ')') this.fail('unbalanced parenthesis: `)` has no matching `(`', start, start + 1);
    this.fail(`unexpected \`${tok}\`; expected a field, a macro name, \`not\` or \`(\``, start, start + tok.length);
  }

  /** A transformer name immediately followed by `(` (consumed). */
  private lexTransformerName(): TransformerName | undefined {
    for (const name of transformerNames) {
      if (this.input.startsWith(name + '(', this.pos)) {
        this.pos += name.length + 1;
        return name;
      }
    }
    return undefined;
  }

  private parseFieldRest(name: string, start: number): FieldExpr {
    const a = this.parseOptionalArg(name);
    return { kind: 'field', name, ...a, start, end: this.pos };
  }

  /** `[arg]` right after a field or a transformer's `)`: a quoted string or a bare string, no blanks. */
  private parseOptionalArg(of: string): { arg?: string; argQuote?: Quote } {
    if (this.input[this.pos] !== '[') return {};
    const open = this.pos++;
    let arg: string | undefined;
    let argQuote: Quote | undefined;
    const q = this.input[this.pos];
    if (q === '"' || q === "'") {
      argQuote = q;
      arg = this.lexQuoted();
    } else {
      arg = this.lex(fieldArgBareRe);
      if (arg === undefined)
        this.fail(
          this.input[this.pos] === ']'
            ? `empty argument in \`${of}[]\``
            : `expected an argument in \`${of}[...]\`: a quoted string or a bare string without blanks`,
          open,
          this.pos + 1,
        );
    }
    if (this.input[this.pos] !== ']') this.fail(`\`${of}[\` is not closed with \`]\``, open, this.pos + 1);
    this.pos++;
    return { arg, ...(argQuote ? { argQuote } : {}) };
  }

  /** After `name(`: the arguments, `)`, and an optional `[arg]`. */
  private parseTransformerRest(name: TransformerName, start: number): TransformerExpr {
    this.enter(start);
    const args: TransformerArg[] = [];
    this.skipBlank();
    for (;;) {
      args.push(this.parseTransformerArg(name));
      this.skipBlank();
      if (this.input[this.pos] !== ',') break;
      this.pos++;
    }
    if (this.input[this.pos] !== ')') {
      if (this.pos >= this.input.length) this.fail(`unbalanced parenthesis: \`${name}(\` is never closed`, start, start + name.length + 1);
      this.fail(`expected \`,\` or \`)\` in \`${name}(...)\``, this.pos, this.pos + 1);
    }
    this.pos++;
    const a = this.parseOptionalArg(`${name}(...)`);
    this.depth--;
    return { kind: 'transformer', name, args, ...a, start, end: this.pos };
  }

  private parseTransformerArg(of: TransformerName): TransformerArg {
    this.skipBlank();
    const start = this.pos;
    const num = this.lex(hexRe) ?? this.lex(numRe);
    if (num !== undefined) return { kind: 'value', value: num, start, end: this.pos };
    const q = this.input[this.pos];
    if (q === '"' || q === "'") return { kind: 'value', value: this.lexQuoted(), quote: q, start, end: this.pos };
    if (q === '(') {
      this.pos++;
      return this.parseTransformerList(of, start);
    }
    const tr = this.lexTransformerName();
    if (tr) return this.parseTransformerRest(tr, start);
    const f = this.lex(fieldNameRe);
    if (f !== undefined) return this.parseFieldRest(f, start);
    if (this.input.startsWith('val(', this.pos)) this.fail('`val(...)` cannot be nested in a transformer', start, start + 4);
    this.fail(
      `\`${of}(\` expects a field, a transformer, a quoted string, a number or a list in parentheses`,
      start,
      start + Math.max(this.peekToken().length, 1),
    );
  }

  /** After the `(` of a transformer's list argument: fields, transformers, quoted strings and numbers. */
  private parseTransformerList(of: TransformerName, start: number): TransformerList {
    const items: (FieldLike | StringValue)[] = [];
    this.skipBlank();
    if (this.input[this.pos] !== ')') {
      for (;;) {
        this.skipBlank();
        const at = this.pos;
        const f = this.lex(fieldNameRe);
        const tr = f === undefined ? this.lexTransformerName() : undefined;
        const q = this.input[this.pos];
        if (f !== undefined) items.push(this.parseFieldRest(f, at));
        else if (tr) items.push(this.parseTransformerRest(tr, at));
        else if (q === '"' || q === "'") items.push({ kind: 'value', value: this.lexQuoted(), quote: q, start: at, end: this.pos });
        else {
          const num = this.lex(hexRe) ?? this.lex(numRe);
          if (num === undefined)
            this.fail(
              `a list in \`${of}(...)\` holds fields, transformers, quoted strings and numbers`,
              at,
              at + Math.max(this.peekToken().length, 1),
            );
          items.push({ kind: 'value', value: num, start: at, end: this.pos });
        }
        this.skipBlank();
        if (this.input[this.pos] !== ',') break;
        this.pos++;
      }
    }
    if (this.input[this.pos] !== ')') {
      if (this.pos >= this.input.length)
        this.fail(`unbalanced parenthesis: this \`(\` in \`${of}(...)\` is never closed`, start, start + 1);
      this.fail(`expected \`,\` or \`)\` in the list of \`${of}(...)\``, this.pos, this.pos + 1);
    }
    this.pos++;
    return { kind: 'tlist', items, start, end: this.pos };
  }

  private parseCondition(left: FieldLike, start: number): CheckExpr {
    const afterLeft = this.pos;
    this.skipBlank();
    if (this.lexStr('exists')) return { kind: 'check', left, op: 'exists', start, end: this.pos };
    const opStart = this.pos;
    for (const op of numOperators) {
      if (this.lexStr(op)) {
        const right = this.parseNumValue();
        return { kind: 'check', left, op, right, start, end: right.end };
      }
    }
    for (const op of [...symbolStrOps, ...wordStrOps]) {
      const word = wordStrOps.includes(op);
      if (!(word ? this.lexWordBlank(op) : this.lexStr(op))) continue;
      // A quantifier needs a blank on both sides and a list (or list name) after it, not a boolean keyword.
      const hadBlank = word || this.skipBlank();
      const save = this.pos;
      if (hadBlank) {
        const modifier = modifiers.find((m) => this.lexWordBlank(m));
        if (modifier && this.listValueFollows() && !this.boolKeywordFollows()) {
          const right = this.parseListValue(`${op} ${modifier}`);
          return { kind: 'check', left, op, modifier, right, start, end: right.end };
        }
        this.pos = save;
      }
      const right = this.parseStrValue();
      return { kind: 'check', left, op, right, start, end: right.end };
    }
    for (const op of listOps) {
      if (this.lexStr(op)) {
        const right = this.parseListValueOrTransformer(op);
        return { kind: 'check', left, op, right, start, end: right.end };
      }
    }
    const tok = this.peekToken();
    if (tok === '' || tok === ')' || tok === 'and' || tok === 'or')
      this.fail(
        `\`${this.input.slice(start, afterLeft)}\` needs an operator and a value (e.g. \`= value\` or \`exists\`)`,
        start,
        afterLeft,
      );
    const op = [...symbolStrOps, ...wordStrOps, ...listOps, 'exists'].find((o) => this.input.startsWith(o, opStart));
    if (op && wordStrOps.includes(op as Operator)) this.fail(`\`${op}\` needs a blank after it`, opStart, opStart + op.length + 1);
    this.fail(`unknown operator \`${tok}\``, opStart, opStart + tok.length);
  }

  private listValueFollows(): boolean {
    if (this.input[this.pos] === '(') return true;
    identRe.lastIndex = this.pos;
    return identRe.exec(this.input) !== null;
  }

  private boolKeywordFollows(): boolean {
    return ['and', 'or', 'not'].some((kw) => this.input.startsWith(kw, this.pos) && !alnum.test(this.input[this.pos + kw.length] ?? ''));
  }

  private parseNumValue(): Value {
    this.skipBlank();
    const start = this.pos;
    const tr = this.tryTransformerOrVal();
    if (tr) return tr;
    const v = this.lex(hexRe) ?? this.lex(numRe);
    if (v === undefined)
      this.fail(
        this.pos >= this.input.length ? 'the condition ends where a number was expected' : 'expected a number',
        start,
        start + this.peekToken().length,
      );
    return { kind: 'value', value: v, start, end: this.pos };
  }

  private parseStrValue(): Value {
    this.skipBlank();
    return this.tryTransformerOrVal() ?? this.parseStrLiteral();
  }

  /** After a quantifier: a list in parentheses or a list name. */
  private parseListValue(after: string): Value {
    this.skipBlank();
    const start = this.pos;
    const list = this.tryList(after);
    if (list) return list;
    const name = this.lex(identRe);
    if (name !== undefined) return { kind: 'listref', name, start, end: this.pos };
    this.fail(`\`${after}\` expects a list in parentheses or a list name`, start, start + 1);
  }

  private parseListValueOrTransformer(op: string): Value {
    this.skipBlank();
    const start = this.pos;
    const list = this.tryList(op);
    if (list) return list;
    const tr = this.tryTransformerOrVal();
    if (tr) return tr;
    const name = this.lex(identRe);
    if (name !== undefined) return { kind: 'listref', name, start, end: this.pos };
    if (this.pos >= this.input.length) this.fail(`the condition ends where the list after \`${op}\` was expected`, start, start);
    this.fail(`\`${op}\` expects a list in parentheses, e.g. \`${op} (a, b)\``, start, start + this.peekToken().length);
  }

  private tryList(after: string): ListValue | undefined {
    const start = this.pos;
    if (this.input[this.pos] !== '(') return undefined;
    this.pos++;
    const items: StringValue[] = [];
    this.skipBlank();
    if (this.input[this.pos] !== ')' && this.pos < this.input.length) {
      for (;;) {
        this.skipBlank();
        items.push(this.parseStrLiteral());
        this.skipBlank();
        if (this.input[this.pos] !== ',') break;
        this.pos++;
      }
    }
    if (this.input[this.pos] !== ')') {
      if (this.pos >= this.input.length) this.fail(`unbalanced parenthesis: the list after \`${after}\` is never closed`, start, start + 1);
      this.fail(`expected \`,\` or \`)\` in the list after \`${after}\``, this.pos, this.pos + 1);
    }
    this.pos++;
    return { kind: 'list', items, start, end: this.pos };
  }

  /** A transformer, or `val(field)`, on the right of an operator. */
  private tryTransformerOrVal(): TransformerExpr | undefined {
    const start = this.pos;
    if (this.lexStr('val(')) {
      this.enter(start);
      this.skipBlank();
      const at = this.pos;
      const f = this.lex(fieldNameRe);
      if (f === undefined)
        this.fail('`val(...)` takes exactly one field (no transformer, no value)', start, this.pos + Math.max(this.peekToken().length, 1));
      const field = this.parseFieldRest(f, at);
      this.skipBlank();
      if (this.input[this.pos] !== ')') this.fail('`val(...)` takes exactly one field; expected `)`', this.pos, this.pos + 1);
      this.pos++;
      const a = this.parseOptionalArg('val(...)');
      this.depth--;
      return { kind: 'transformer', name: 'val', args: [field], ...a, start, end: this.pos };
    }
    const tr = this.lexTransformerName();
    return tr ? this.parseTransformerRest(tr, start) : undefined;
  }

  private parseStrLiteral(): StringValue {
    const start = this.pos;
    const c = this.input[this.pos];
    if (c === '"' || c === "'") {
      const value = this.lexQuoted();
      return { kind: 'value', value, quote: c, start, end: this.pos };
    }
    const v = this.lex(bareRe);
    if (v === undefined) {
      if (this.pos >= this.input.length) this.fail('the condition ends where a value was expected', start, start);
      this.fail(`expected a value, found \`${this.peekToken()}\``, start, start + this.peekToken().length);
    }
    return { kind: 'value', value: v, start, end: this.pos };
  }

  /**
   * A quoted string, as libsinsp lexes it: it ends at the first quote not preceded by a backslash (so `"a\\"`
   * does not end there), then the escapes are decoded: \b \f \n \r \t \\ \/ \xHH, \" in "..." and \' in '...';
   * `\ ` gives a backslash (libsinsp keeps it for old rules); any other escape is an error.
   */
  private lexQuoted(): string {
    const start = this.pos;
    const q = this.input[this.pos]!;
    let end = this.pos + 1;
    while (end < this.input.length && !(this.input[end] === q && this.input[end - 1] !== '\\')) end++;
    if (end >= this.input.length) this.fail(`unterminated string: the ${q} quote is never closed`, start, start + 1);
    let out = '';
    for (let i = start + 1; i < end; i++) {
      const c = this.input[i]!;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const n = this.input[++i]!;
      const simple = escapes[n];
      if (simple !== undefined) out += simple;
      else if (n === '"' || n === "'") {
        if (n !== q) this.fail(`\\${n} is not an escape inside ${q}-quoted strings; write ${n} as it is`, i - 1, i + 1);
        out += n;
      } else if (n === 'x') {
        const hex = this.input.slice(i + 1, i + 3);
        if (i + 2 >= end || !/^[0-9a-fA-F]{2}$/.test(hex))
          this.fail(`\\x needs two hex digits (\\x00 to \\xff)`, i - 1, Math.min(i + 3, end));
        out += String.fromCharCode(parseInt(hex, 16));
        i += 2;
      } else
        this.fail(`unsupported escape \\${n}; libsinsp knows \\b \\f \\n \\r \\t \\\\ \\/ \\xHH and the quote's own \\${q}`, i - 1, i + 1);
    }
    this.pos = end + 1;
    return out;
  }
}

const escapes: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', '\\': '\\', ' ': '\\', '/': '/' };
