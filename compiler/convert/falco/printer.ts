// Prints a condition AST back to Falco syntax; parseCondition(printCondition(e)) equals e up to positions.
import type { Expr, FieldLike, StringValue, Value } from './ast.js';

const bareOk = /^[^ \b\t\n\r(),="']+$/;

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
      const mod = e.modifier ? ` ${e.modifier}` : '';
      if (e.op === 'exists') return `${left}${mod} exists`;
      return `${left}${mod} ${e.op} ${printValue(e.right!)}`;
    }
  }
}

export function printField(f: FieldLike): string {
  if (f.kind === 'field') {
    if (f.arg === undefined) return f.name;
    const needsQuote = f.argQuote !== undefined || f.arg === '' || /[ \b\t\n\r[\]"']/.test(f.arg);
    return `${f.name}[${needsQuote ? quote(f.arg, f.argQuote ?? '"') : f.arg}]`;
  }
  return `${f.name}(${f.args.map((a) => (a.kind === 'value' ? printString(a) : printField(a))).join(', ')})`;
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
  if (v.quote === undefined && bareOk.test(v.value) && !looksLikeTransformer(v.value)) return v.value;
  return quote(v.value, v.quote ?? '"');
}

// A bare `tolower(` would be read back as a transformer call.
function looksLikeTransformer(s: string): boolean {
  return /^(?:tolower|toupper|b64|basename|len|join|concat|getopt|val)\(/.test(s);
}

export function quote(s: string, q: '"' | "'"): string {
  let out = q;
  for (const c of s) {
    if (c === '\\') out += '\\\\';
    else if (c === q) out += '\\' + q;
    else if (c === '\n') out += '\\n';
    else if (c === '\r') out += '\\r';
    else if (c === '\t') out += '\\t';
    else if (c === '\b') out += '\\b';
    else if (c === '\f') out += '\\f';
    else out += c;
  }
  return out + q;
}
