// A recursive-descent parser for Falco conditions, following the grammar of libsinsp's filter/parser.h:
//   Expr ::= OrExpr;  OrExpr ::= AndExpr ('or' AndExpr)*;  AndExpr ::= NotExpr ('and' NotExpr)*
//   NotExpr ::= ('not')* Check;  Check ::= Field Condition | Transformer Condition | Identifier | '(' Expr ')'
// It never throws for bad input: it returns the first error with its offsets in the condition text.
import {
  listOperators,
  transformerNames,
  type CheckExpr,
  type Expr,
  type FieldExpr,
  type FieldLike,
  type ListOperator,
  type ListValue,
  type Modifier,
  type Operator,
  type Quote,
  type StringValue,
  type TransformerExpr,
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
const blank = /[ \t\b\n\r]/y;
const identRe = /[a-zA-Z]+[a-zA-Z0-9_]*/y;
const fieldNameRe = /[a-zA-Z]+[a-zA-Z0-9_]*(?:\.[a-zA-Z]+[a-zA-Z0-9_]*)+/y;
const fieldArgBareRe = /[^ \b\t\n\r[\]"']+/y;
const hexRe = /0[xX][0-9a-zA-Z]+/y;
const numRe = /[+-]?[0-9]+\.?[0-9]*(?:[eE][+-][0-9]+)?/y;
const bareRe = /[^ \b\t\n\r(),="']+/y;
const wordChar = /[a-zA-Z0-9_]/;
const modifiers: readonly Modifier[] = ['oneof', 'anyof', 'allof'];
// Longest first, so `<=` wins over `<` and `==` over `=`.
const symbolOps: readonly Operator[] = ['==', '!=', '<=', '>=', '=', '<', '>'];
const wordOps: readonly Operator[] = ['exists', 'intersects', 'icontains', 'bcontains', 'contains', 'bstartswith', 'startswith', 'endswith', 'iglob', 'glob', 'regex', 'pmatch', 'in'];
const numOps = new Set<Operator>(['<', '<=', '>', '>=']);

class Failure extends Error {
  constructor(readonly error: ParseError) {
    super(error.message);
  }
}

/** Parses one condition string. */
export function parseCondition(input: string): ParseResult {
  const p = new Parser(input);
  try {
    const expr = p.parseAll();
    return { ok: true, expr };
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
    const e = this.parseOr();
    this.skipBlank();
    if (this.pos < this.input.length) {
      const tok = this.peekToken();
      if (tok === ')') this.fail(`unbalanced parenthesis: \`)\` has no matching \`(\``, this.pos, this.pos + 1);
      this.fail(`unexpected \`${tok}\`; expected \`and\`, \`or\` or the end of the condition`, this.pos, this.pos + tok.length);
    }
    return e;
  }

  private fail(message: string, start = this.pos, end = start + 1): never {
    throw new Failure({ message, start, end: Math.min(Math.max(end, start), Math.max(this.input.length, start)) });
  }

  private peekToken(): string {
    const rest = this.input.slice(this.pos);
    const m = /^(?:[^ \t\b\n\r()]+|.)/.exec(rest);
    return m ? m[0] : '';
  }

  private skipBlank(): boolean {
    let any = false;
    for (;;) {
      blank.lastIndex = this.pos;
      if (!blank.test(this.input)) return any;
      this.pos = blank.lastIndex;
      any = true;
    }
  }

  private lex(re: RegExp): string | undefined {
    re.lastIndex = this.pos;
    const m = re.exec(this.input);
    if (!m) return undefined;
    this.pos = re.lastIndex;
    return m[0];
  }

  /** A keyword such as `and`: the word, then a blank or `(` (or, where allowed, the end). */
  private keyword(word: string, allowEnd = false): boolean {
    if (!this.input.startsWith(word, this.pos)) return false;
    const next = this.input[this.pos + word.length];
    if (next === undefined ? !allowEnd : !(next === '(' || /[ \t\b\n\r]/.test(next))) return false;
    this.pos += word.length;
    return true;
  }

  private enter(start: number): void {
    if (++this.depth > maxDepth) this.fail(`condition nests deeper than ${maxDepth} levels`, start);
  }

  private parseOr(): Expr {
    this.enter(this.pos);
    this.skipBlank();
    const start = this.pos;
    const children = [this.parseAnd()];
    for (;;) {
      const save = this.pos;
      this.skipBlank();
      if (!this.keyword('or', true)) {
        this.pos = save;
        break;
      }
      children.push(this.parseAnd());
    }
    this.depth--;
    return children.length === 1 ? children[0]! : { kind: 'or', children, start, end: children[children.length - 1]!.end };
  }

  private parseAnd(): Expr {
    this.skipBlank();
    const start = this.pos;
    const children = [this.parseNot()];
    for (;;) {
      const save = this.pos;
      this.skipBlank();
      if (!this.keyword('and', true)) {
        this.pos = save;
        break;
      }
      children.push(this.parseNot());
    }
    return children.length === 1 ? children[0]! : { kind: 'and', children, start, end: children[children.length - 1]!.end };
  }

  private parseNot(): Expr {
    this.skipBlank();
    const start = this.pos;
    if (this.keyword('not')) {
      this.enter(start);
      const child = this.parseNot();
      this.depth--;
      return { kind: 'not', child, start, end: child.end };
    }
    return this.parseCheck();
  }

  private parseCheck(): Expr {
    this.skipBlank();
    const start = this.pos;
    if (this.pos >= this.input.length) this.fail('the condition ends where a check, macro name or `(` was expected', start, start);
    if (this.input[this.pos] === '(') {
      this.pos++;
      const inner = this.parseOr();
      this.skipBlank();
      if (this.input[this.pos] !== ')') {
        if (this.pos >= this.input.length) this.fail('unbalanced parenthesis: this `(` is never closed', start, start + 1);
        const tok = this.peekToken();
        this.fail(`unexpected \`${tok}\`; expected \`)\`, \`and\` or \`or\``, this.pos, this.pos + tok.length);
      }
      this.pos++;
      return inner;
    }
    const tr = this.tryTransformer();
    if (tr) return this.parseCondition(tr, start);
    const field = this.lex(fieldNameRe);
    if (field !== undefined) return this.parseCondition(this.parseFieldRest(field, start), start);
    const ident = this.lex(identRe);
    if (ident !== undefined) {
      if (this.input[this.pos] === '[') this.fail(`\`${ident}\` is not a field name (fields have a dot, e.g. proc.aname[2])`, start, this.pos);
      return { kind: 'identifier', name: ident, start, end: this.pos };
    }
    const tok = this.peekToken();
    if (tok === ')') this.fail('unbalanced parenthesis: `)` has no matching `(`', start, start + 1);
    this.fail(`unexpected \`${tok}\`; expected a field, a macro name, \`not\` or \`(\``, start, start + tok.length);
  }

  private parseFieldRest(name: string, start: number): FieldExpr {
    if (this.input[this.pos] !== '[') return { kind: 'field', name, start, end: this.pos };
    const open = this.pos;
    this.pos++;
    let arg: string | undefined;
    let argQuote: Quote | undefined;
    const q = this.input[this.pos];
    if (q === '"' || q === "'") {
      argQuote = q;
      arg = this.lexQuoted();
    } else {
      arg = this.lex(fieldArgBareRe);
      if (arg === undefined) this.fail(`empty argument in \`${name}[]\``, open, this.pos + 1);
    }
    if (this.input[this.pos] !== ']') this.fail(`\`${name}[\` is not closed with \`]\``, open, this.pos);
    this.pos++;
    return { kind: 'field', name, arg, ...(argQuote ? { argQuote } : {}), start, end: this.pos };
  }

  /** `tolower(`, `val(`, ... followed by arguments and `)`. */
  private tryTransformer(): TransformerExpr | undefined {
    const start = this.pos;
    identRe.lastIndex = this.pos;
    const m = identRe.exec(this.input);
    if (!m || this.input[identRe.lastIndex] !== '(' || !(transformerNames as readonly string[]).includes(m[0])) return undefined;
    const name = m[0] as TransformerName;
    this.pos = identRe.lastIndex + 1;
    this.enter(start);
    const args: (FieldLike | StringValue)[] = [];
    for (;;) {
      this.skipBlank();
      if (this.input[this.pos] === ')' && args.length > 0) break;
      const argStart = this.pos;
      const inner = this.tryTransformer();
      if (inner) args.push(inner);
      else {
        const f = this.lex(fieldNameRe);
        if (f !== undefined) args.push(this.parseFieldRest(f, argStart));
        else if (this.input[this.pos] === '"' || this.input[this.pos] === "'") {
          const quote = this.input[this.pos] as Quote;
          const value = this.lexQuoted();
          args.push({ kind: 'value', value, quote, start: argStart, end: this.pos });
        } else this.fail(`\`${name}(\` expects a field${name === 'val' ? '' : ', a transformer or a quoted string'} as argument`, argStart, argStart + this.peekToken().length);
      }
      this.skipBlank();
      if (this.input[this.pos] === ',') {
        this.pos++;
        continue;
      }
      if (this.input[this.pos] === ')') break;
      if (this.pos >= this.input.length) this.fail(`unbalanced parenthesis: \`${name}(\` is never closed`, start, start + name.length + 1);
      this.fail(`expected \`,\` or \`)\` in \`${name}(...)\``, this.pos, this.pos + 1);
    }
    this.pos++;
    this.depth--;
    if (name === 'val' && (args.length !== 1 || args[0]!.kind !== 'field')) this.fail('`val(...)` takes exactly one field', start, this.pos);
    return { kind: 'transformer', name, args, start, end: this.pos };
  }

  private parseCondition(left: FieldLike, start: number): CheckExpr {
    const afterLeft = this.pos;
    this.skipBlank();
    let modifier: Modifier | undefined;
    for (const m of modifiers) if (this.keyword(m)) modifier = m;
    if (modifier) this.skipBlank();
    const opStart = this.pos;
    const op = this.lexOperator();
    if (!op) {
      const tok = this.peekToken();
      if (tok === '' || tok === ')' || tok === 'and' || tok === 'or') this.fail(`\`${this.input.slice(start, afterLeft)}\` needs an operator and a value (e.g. \`= value\` or \`exists\`)`, start, afterLeft);
      this.fail(`unknown operator \`${tok}\``, opStart, opStart + tok.length);
    }
    if (op === 'exists') return { kind: 'check', left, ...(modifier ? { modifier } : {}), op, start, end: this.pos };
    this.skipBlank();
    const right = (listOperators as readonly string[]).includes(op) ? this.parseListValue(op as ListOperator) : numOps.has(op) ? this.parseNumValue() : this.parseStrValue();
    return { kind: 'check', left, ...(modifier ? { modifier } : {}), op, right, start, end: right.end };
  }

  private lexOperator(): Operator | undefined {
    for (const op of symbolOps) {
      if (this.input.startsWith(op, this.pos)) {
        this.pos += op.length;
        return op;
      }
    }
    for (const op of wordOps) {
      if (this.input.startsWith(op, this.pos)) {
        const next = this.input[this.pos + op.length];
        if (next !== undefined && wordChar.test(next)) continue;
        this.pos += op.length;
        return op;
      }
    }
    return undefined;
  }

  private parseListValue(op: ListOperator): Value {
    const start = this.pos;
    if (this.input[this.pos] === '(') {
      this.pos++;
      const items: StringValue[] = [];
      this.skipBlank();
      if (this.input[this.pos] === ')') {
        this.pos++;
        return { kind: 'list', items, start, end: this.pos } satisfies ListValue;
      }
      for (;;) {
        this.skipBlank();
        items.push(this.parseStrLiteral());
        this.skipBlank();
        if (this.input[this.pos] === ',') {
          this.pos++;
          continue;
        }
        if (this.input[this.pos] === ')') {
          this.pos++;
          return { kind: 'list', items, start, end: this.pos };
        }
        if (this.pos >= this.input.length) this.fail(`unbalanced parenthesis: the list after \`${op}\` is never closed`, start, start + 1);
        this.fail(`expected \`,\` or \`)\` in the list after \`${op}\``, this.pos, this.pos + 1);
      }
    }
    const tr = this.tryTransformer();
    if (tr) return tr;
    const name = this.lex(identRe);
    if (name !== undefined) return { kind: 'listref', name, start, end: this.pos };
    this.fail(`\`${op}\` expects a list in parentheses, e.g. \`${op} (a, b)\``, start, start + this.peekToken().length);
  }

  private parseNumValue(): Value {
    const start = this.pos;
    const tr = this.tryTransformer();
    if (tr) return tr;
    const v = this.lex(hexRe) ?? this.lex(numRe);
    if (v === undefined) this.fail('expected a number', start, start + this.peekToken().length);
    return { kind: 'value', value: v, start, end: this.pos };
  }

  private parseStrValue(): Value {
    const tr = this.tryTransformer();
    if (tr) return tr;
    return this.parseStrLiteral();
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

  /** A quoted string: content up to the unescaped closing quote, with libsinsp's escapes decoded. */
  private lexQuoted(): string {
    const start = this.pos;
    const q = this.input[this.pos]!;
    let i = this.pos + 1;
    let out = '';
    while (i < this.input.length) {
      const c = this.input[i]!;
      if (c === q) {
        this.pos = i + 1;
        return out;
      }
      if (c === '\\' && i + 1 < this.input.length) {
        const n = this.input[i + 1]!;
        const decoded = escapes[n];
        // An unknown escape keeps its backslash, so `\.` in a pattern survives.
        out += decoded ?? '\\' + n;
        i += 2;
        continue;
      }
      out += c;
      i++;
    }
    this.fail(`unterminated string: the ${q} quote is never closed`, start, start + 1);
  }
}

const escapes: Record<string, string> = { '"': '"', "'": "'", '\\': '\\', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
