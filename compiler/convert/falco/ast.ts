// The AST of a Falco condition, after libsinsp's `filter/ast.h`: boolean nodes, checks, fields, transformers, values.
// Every node carries [start, end) offsets into the condition text it was parsed from.

export interface Pos {
  start: number;
  end: number;
}

export type Expr = AndExpr | OrExpr | NotExpr | IdentifierExpr | CheckExpr;

export interface AndExpr extends Pos {
  kind: 'and';
  children: Expr[];
}

export interface OrExpr extends Pos {
  kind: 'or';
  children: Expr[];
}

export interface NotExpr extends Pos {
  kind: 'not';
  child: Expr;
}

/** A bare identifier in a boolean position: a macro reference. */
export interface IdentifierExpr extends Pos {
  kind: 'identifier';
  name: string;
}

export type UnaryOperator = 'exists';
export type NumOperator = '<' | '<=' | '>' | '>=';
export type StrOperator =
  | '='
  | '=='
  | '!='
  | 'contains'
  | 'icontains'
  | 'bcontains'
  | 'startswith'
  | 'bstartswith'
  | 'endswith'
  | 'glob'
  | 'iglob'
  | 'regex';
export type ListOperator = 'in' | 'intersects' | 'pmatch';
export type Operator = UnaryOperator | NumOperator | StrOperator | ListOperator;

/** List quantifiers written after a string operator: `proc.name == oneof (a, b)`, `fd.name startswith anyof l`. */
export type Modifier = 'oneof' | 'anyof' | 'allof';

export interface CheckExpr extends Pos {
  kind: 'check';
  left: FieldLike;
  op: Operator;
  /** The quantifier after a string operator; `right` is then a list or a list name. */
  modifier?: Modifier;
  /** Absent for `exists`. */
  right?: Value;
}

export type FieldLike = FieldExpr | TransformerExpr;

export interface FieldExpr extends Pos {
  kind: 'field';
  /** `proc.aname`, `container.label`. */
  name: string;
  /** The text inside `[...]`, unescaped; `quote` records whether it was quoted. */
  arg?: string;
  argQuote?: Quote;
}

export type TransformerName = 'tolower' | 'toupper' | 'b64' | 'basename' | 'len' | 'join' | 'concat' | 'getopt' | 'val';

export interface TransformerExpr extends Pos {
  kind: 'transformer';
  name: TransformerName;
  args: TransformerArg[];
  /** The argument after the closing parenthesis: `getopt(proc.args, "nt:")[t]`. */
  arg?: string;
  argQuote?: Quote;
}

/** A transformer argument: a field, a transformer, a quoted string or a number (unquoted), or a list of those. */
export type TransformerArg = FieldLike | StringValue | TransformerList;

/** `join("-", (fd.name, "x", 1))`: the members of a multi-value transformer. */
export interface TransformerList extends Pos {
  kind: 'tlist';
  items: (FieldLike | StringValue)[];
}

export type Quote = '"' | "'";

export interface StringValue extends Pos {
  kind: 'value';
  value: string;
  /** How the value was written: quoted with " or ', or bare. Kept so the printer round-trips. */
  quote?: Quote;
}

export interface ListValue extends Pos {
  kind: 'list';
  items: StringValue[];
}

/** A list name in list position (`in (shell_binaries)` is a list literal; `in shell_binaries` is a reference). */
export interface ListRef extends Pos {
  kind: 'listref';
  name: string;
}

export type Value = StringValue | ListValue | ListRef | FieldLike;

/** Transformers a check may start with or nest; `val` only stands alone on the right of an operator. */
export const transformerNames: readonly TransformerName[] = ['tolower', 'toupper', 'b64', 'basename', 'len', 'join', 'concat', 'getopt'];
export const modifiers: readonly Modifier[] = ['oneof', 'anyof', 'allof'];
export const listOperators: readonly ListOperator[] = ['in', 'intersects', 'pmatch'];
export const numOperators: readonly NumOperator[] = ['<=', '<', '>=', '>'];
/** The operators a quantifier may follow (libsinsp's string operators). */
export const strOperators: readonly StrOperator[] = [
  '==',
  '=',
  '!=',
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

/** Structural equality ignoring positions: what the round-trip test compares. */
export function stripPositions<T>(node: T): T {
  if (Array.isArray(node)) return node.map((n) => stripPositions(n)) as T;
  if (node && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) if (k !== 'start' && k !== 'end') out[k] = stripPositions(v);
    return out as T;
  }
  return node;
}
