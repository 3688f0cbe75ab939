// Prints a condition AST back to Falco syntax; parseCondition(printCondition(e)) equals e up to positions.
import type { Expr, FieldLike, StringValue, TransformerArg, Value } from './ast.js';

// A value libsinsp reads back as the same bare string (its BareStr, minus the \b it skips as a blank).
const bareOk = /^[^()"' \t\n\v\f\r\b=,]+$/;
// A field argument libsinsp reads back bare (its FieldArgBareStr, minus \b).
const bareArgOk = /^[^\]["' \t\n\v\f\r\b]+$/;

export function printCondition(e: Expr): string {
  switch (e.kind) {
    case 'and':
      // A nested `and` or an `or` under `and` came from parentheses; keep them so the tree shape survives.
      return e.children.map((c) => (c.kind === 'and' || c.kind === 'or' ? `(${printCondition(c)})` : printCondition(c))).join(' and ');
    case 'or':
      return e.children.map((c) => (c.kind === 'or' ? `(${printCondition(c)})` : printCondition(c))).join(' or ');
    case 'not':
      return e.child.kind === 'and' || e.child.kind === 'or' ? `not (${printCondition(e.child)})` : `not ${printCondition(e.child)}`;
    case 'identifier':
      return e.name;
    case 'check': {
      const left = printField(e.left);
      if (e.op === 'exists') return `${left} exists`;
      return `${left} ${e.op}${e.modifier ? ` ${e.modifier}` : ''} ${printValue(e.right!)}`;
    }
  }
}

export function printField(f: FieldLike): string {
  const arg =
    f.arg === undefined ? '' : `[${f.argQuote !== undefined || !bareArgOk.test(f.arg) ? quote(f.arg, f.argQuote ?? '"') : f.arg}]`;
  if (f.kind === 'field') return f.name + arg;
  return `${f.name}(${f.args.map(printTransformerArg).join(', ')})${arg}`;
}

function printTransformerArg(a: TransformerArg): string {
  if (a.kind === 'tlist') return `(${a.items.map(printTransformerArg).join(', ')})`;
  // An unquoted value among transformer arguments is a number.
  if (a.kind === 'value') return a.quote === undefined ? a.value : quote(a.value, a.quote);
  return printField(a);
}

export function printValue(v: Value): string {
  switch (v.kind) {
    case 'value':
      return printString(v);
    case 'list':
      return `(${v.items.map(printString).join(', ')})`;
    case 'listref':
      return v.name;
    default:
      return printField(v);
  }
}

export function printString(v: Pick<StringValue, 'value' | 'quote'>): string {
  if (v.quote === undefined && bareOk.test(v.value)) return v.value;
  return quote(v.value, v.quote ?? '"');
}

/**
 * Quotes a string so that libsinsp's lexer reads back the same characters: backslash, the quote and control
 * characters are escaped, and a backslash that would stand right before the closing quote is written \x5c
 * (libsinsp ends a string only at a quote that no backslash precedes).
 */
export function quote(s: string, q: '"' | "'"): string {
  let out = q;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') out += i === s.length - 1 ? '\\x5c' : '\\\\';
    else if (c === q) out += '\\' + q;
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (c === '\b') out += '\\b';
    else if (c === '\f') out += '\\f';
    else if (c < ' ' || c === '\x7f') out += '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0');
    else out += c;
  }
  return out + q;
}
