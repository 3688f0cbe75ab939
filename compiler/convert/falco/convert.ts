// Falco rule → Tetragon TracingPolicies. The resolved condition is put in negation normal form (negation pushed
// to the leaves), the event types give the hooks (and intersects, or unions, as Falco's evttype resolver), and
// per hook each leaf is read as Falco reads it on that call (fields.ts): a selector constraint, a constant, or
// inexpressible with a reason. The formula is normalised to an OR of ANDs: each conjunct becomes one selector.
// Dropping an inexpressible leaf of a negation normal form, or widening it to what the entry hook sees of it,
// can only make the policy fire more often, which is what --allow-broader permits.
import type { CheckExpr, Expr, Operator, StringValue } from './ast.js';
import { assumptions, fieldRow, type FieldRow } from './fields.js';
import { printCondition } from './printer.js';
import type { CompiledRule, Priority } from './rules.js';
import { priorities } from './rules.js';
import {
  cloneFlagBits,
  enumArgs,
  eventClass,
  openFlagBits,
  otherConstants,
  ptraceRequests,
  syscallInfo,
  type EventClass,
  type SyscallArg,
} from './syscalls.js';
import { tetragonLimits as limits } from '../../model/tetragon-limits.js';
import {
  validateTracingPolicy,
  type ArgOperator,
  type BinaryOperator,
  type KProbeSpec,
  type MatchArg,
  type Selector,
  type TracingPolicy,
} from '../tracing-policy.js';

export interface EnforceSpec {
  /** Rules at this priority or more severe get Sigkill. */
  minPriority?: Priority;
  /** Rules named here get Sigkill. */
  rules: ReadonlySet<string>;
}

export interface ConvertOptions {
  allowBroader?: boolean;
  enforce?: EnforceSpec;
  /** Let an enforced rule that is not scoped to pods or named binaries kill host-wide (annotated for the runtime compiler). */
  allowHostWideKill?: boolean;
  /** Largest OR-of-ANDs a condition may normalise to before it is reported as too large. */
  /** Most alternatives (selectors per hook) a rule may need: 5 policies of 5 selectors by default. */
  maxConjuncts?: number;
  /**
   * The nodes' runtime profile the policies are for. `full`: the path opens (open, openat, openat2, creat) are
   * hooked at the kernel's security_file_open, whose file argument is the file the open reached (its path
   * resolved); default `tracepoint-only`: each call's entry with its arguments as passed.
   */
  profile?: ConvertProfile;
}

export type ConvertProfile = 'tracepoint-only' | 'full';
export const convertProfiles: readonly ConvertProfile[] = ['tracepoint-only', 'full'];

/** The hook of the path opens on a full node: Tetragon's file-monitoring attach point, with the file it opens. */
export const fileOpenHook = { call: 'security_file_open', args: [{ index: 0, type: 'file', names: [], path: true }] } as const satisfies {
  call: string;
  args: readonly SyscallArg[];
};

export type Verdict = 'exact' | 'broader' | 'not-convertible' | 'disabled';

export interface RuleReport {
  rule: string;
  file: string;
  line: number;
  priority: Priority;
  verdict: Verdict;
  /** Why not convertible, or which terms were over-approximated (broader). */
  reasons: string[];
  /** Semantics a reader should know even for an exact conversion. */
  notes: string[];
  /** What kept the rule from an exact conversion (the Falco features the report's summary counts). */
  blockedBy: string[];
  hooks: string[];
  policies: string[];
  action?: 'Post' | 'Sigkill';
}

export interface ConvertedPolicy {
  rule: string;
  policy: TracingPolicy;
}

export interface ConversionResult {
  policies: ConvertedPolicy[];
  reports: RuleReport[];
  totals: Record<Verdict, number> & { rules: number; policies: number };
  /** Per Falco feature, how many rules it kept from an exact conversion; most frequent first. */
  blockers: { feature: string; rules: number }[];
}

/** Counts the rules each feature kept from an exact conversion (a rule counts once per feature). */
export function blockerSummary(reports: readonly RuleReport[]): { feature: string; rules: number }[] {
  const n = new Map<string, number>();
  for (const r of reports) for (const f of new Set(r.blockedBy)) n.set(f, (n.get(f) ?? 0) + 1);
  return [...n]
    .map(([feature, rules]) => ({ feature, rules }))
    .sort((a, b) => b.rules - a.rules || (a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0));
}

type ArgRole = { role: 'path' } | { role: 'openWrite' } | { role: 'name'; name: string };
type Constraint =
  | { k: 'arg'; sel: ArgRole; op: ArgOperator; values: string[]; field: string; numeric: boolean }
  | { k: 'bin'; op: BinaryOperator; values: string[] }
  | { k: 'cap'; type: 'Effective' | 'Permitted' | 'Inheritable'; op: 'In' | 'NotIn'; values: string[] }
  | { k: 'k8sns'; values: string[] }
  | { k: 'pod' }
  | { k: 'hostns'; op: 'In' | 'NotIn' };

type Atom =
  | { a: 'evt'; names: Set<string>; neg: boolean }
  | { a: 'c'; c: Constraint; text: string; notes?: readonly string[] }
  /** Inexpressible; `feature` names what blocks it; `approx` is a broader formula --allow-broader uses instead of dropping the term. */
  | { a: 'x'; reason: string; feature: string; text: string; approx?: F }
  /** A check whose meaning depends on the call (proc.name at an exec or elsewhere, fd.* per call): resolved per hook. */
  | { a: 'dep'; text: string; byEvt: (evt: string, cls: EventClass) => F };

/** An `or` made by pushing `not` into an `and` is an exclusion (`not (a and b)`); `exclusion` keeps its text. */
type F = { t: 'true' } | { t: 'false' } | { t: 'atom'; atom: Atom } | { t: 'and'; c: F[] } | { t: 'or'; c: F[]; exclusion?: Expr };

const T: F = { t: 'true' };
const FALSE: F = { t: 'false' };
const atom = (a: Atom): F => ({ t: 'atom', atom: a });
const and = (c: F[]): F => ({ t: 'and', c });
const or = (c: F[]): F => ({ t: 'or', c });

// ---- negation normal form and leaf classification ----

// Macro bodies are shared AST objects across rules: their normal forms are computed once.
const nnfCache = new WeakMap<Expr, { pos?: F; neg?: F }>();

function nnf(e: Expr, neg: boolean): F {
  let entry = nnfCache.get(e);
  if (!entry) nnfCache.set(e, (entry = {}));
  const hit = neg ? entry.neg : entry.pos;
  if (hit) return hit;
  const f = nnfUncached(e, neg);
  if (neg) entry.neg = f;
  else entry.pos = f;
  return f;
}

function nnfUncached(e: Expr, neg: boolean): F {
  switch (e.kind) {
    case 'and':
      return neg ? { t: 'or', c: e.children.map((c) => nnf(c, true)), exclusion: e } : and(e.children.map((c) => nnf(c, false)));
    case 'or':
      return neg ? and(e.children.map((c) => nnf(c, true))) : or(e.children.map((c) => nnf(c, false)));
    case 'not':
      return nnf(e.child, !neg);
    case 'identifier':
      return atom({ a: 'x', reason: `unresolved macro ${e.name}`, feature: 'unresolved macro', text: e.name });
    case 'check':
      return leaf(e, neg);
  }
}

const eventClasses: readonly EventClass[] = ['exec', 'open', 'kopen', 'fd', 'nofd'];

/** What an operator the selectors lack is called in the report's summary. */
function operatorFeature(op: string): string {
  if (op === 'contains' || op === 'icontains' || op === 'bcontains') return 'operator contains/icontains (substring)';
  if (op === 'glob' || op === 'iglob') return 'glob pattern other than prefix* or *suffix';
  return `operator ${op}`;
}
/** Why an operator has no selector. */
function operatorReason(op: string): string {
  if (op === 'regex') return 'Tetragon has no regular-expression operator';
  if (op === 'contains' || op === 'icontains' || op === 'bcontains') return 'Tetragon has no substring operator';
  return 'no Tetragon operator matches it';
}
const transformerFeature = (name: string) => (name === 'join' ? 'transformer join() over a list' : `transformer ${name}()`);

interface LeafCtx {
  e: CheckExpr;
  neg: boolean;
  text: string;
  field: string;
  full: string;
  values: string[];
}

function leaf(e: CheckExpr, neg: boolean): F {
  const text = (neg ? 'not ' : '') + printCondition(e);
  const x = (reason: string, feature: string): F => atom({ a: 'x', reason, feature, text });
  if (e.modifier) return quantified(e, neg);
  if (e.left.kind === 'transformer') return x(`${e.left.name}(): field transformers run in userspace`, transformerFeature(e.left.name));
  const r = e.right;
  if (r && r.kind === 'transformer' && r.name !== 'val')
    return x(`${r.name}(): field transformers run in userspace`, transformerFeature(r.name));
  if (r && (r.kind === 'field' || r.kind === 'transformer'))
    return x('comparing with another field (val()) needs userspace state', 'comparison with another field (val())');
  if (r && r.kind === 'listref') return x(`list ${r.name} used without parentheses`, 'list name without parentheses');
  // An empty list: `in ()` matches nothing.
  if (r && r.kind === 'list' && r.items.length === 0) return neg ? T : FALSE;
  const field = e.left.name;
  const hasArg = e.left.arg !== undefined;
  const ctx: LeafCtx = {
    e,
    neg,
    text,
    field,
    full: hasArg ? `${field}[${e.left.arg}]` : field,
    values: !r ? [] : r.kind === 'value' ? [r.value] : (r.items as StringValue[]).map((i) => i.value),
  };
  const rows = eventClasses.map((c) => fieldRow(field, hasArg, c));
  if (rows.every((row) => row === rows[0]) && !rows.some((row) => row?.map === 'open-write' || row?.map === 'open-create'))
    return mapRow(rows[0], ctx, undefined);
  // The field means something else on some calls: resolved per hook.
  const memo = new Map<string, F>();
  return atom({
    a: 'dep',
    text,
    byEvt: (evt, cls) => {
      let f = memo.get(`${evt}|${cls}`);
      if (!f) memo.set(`${evt}|${cls}`, (f = mapRow(rows[eventClasses.indexOf(cls)], ctx, evt)));
      return f;
    },
  });
}

/**
 * A quantified check (`f OP oneof|anyof|allof (v...)`) as libsinsp evaluates it: anyof holds when OP holds for
 * some value, allof for every value, oneof for exactly one; an empty list never holds. Equality quantifiers
 * become plain `in`/`=`/`!=` checks over the value set; the others a formula of single-value checks.
 */
function quantified(e: CheckExpr, neg: boolean): F {
  const r = e.right!;
  const plain = (op: Operator, right: CheckExpr['right']): CheckExpr => ({ ...e, modifier: undefined, op, right });
  if (r.kind !== 'list') return leaf(plain(e.op, r), neg);
  const items = r.items;
  if (items.length === 0) return neg ? T : FALSE;
  const count = new Map<string, number>();
  for (const it of items) count.set(it.value, (count.get(it.value) ?? 0) + 1);
  const first = (v: string) => items.find((i) => i.value === v)!;
  const list = (vs: string[]): CheckExpr['right'] => ({ kind: 'list', items: vs.map(first), start: r.start, end: r.end });
  const distinct = [...count.keys()];
  const mod = e.modifier!;
  const n = items.length;
  if (e.op === '=' || e.op === '==' || e.op === '!=') {
    let c: CheckExpr | boolean;
    if (e.op !== '!=') {
      if (mod === 'anyof') c = plain('in', list(distinct));
      else if (mod === 'allof') c = distinct.length === 1 ? plain('=', first(distinct[0]!)) : false;
      else {
        const once = distinct.filter((v) => count.get(v) === 1);
        c = once.length ? plain('in', list(once)) : false;
      }
    } else if (mod === 'anyof') c = distinct.length >= 2 ? true : plain('!=', first(distinct[0]!));
    else if (mod === 'allof') return leaf(plain('in', list(distinct)), !neg);
    else if (n === 1) c = plain('!=', items[0]!);
    else {
      // `!= oneof`: exactly one value differs, so the field equals the value that all but one item carry.
      const w = distinct.filter((v) => count.get(v) === n - 1);
      c = w.length ? plain('in', list(w)) : false;
    }
    if (typeof c === 'boolean') return c !== neg ? T : FALSE;
    return leaf(c, neg);
  }
  const one = (v: StringValue, n1: boolean) => leaf(plain(e.op, v), n1);
  if (mod === 'anyof') return neg ? and(items.map((v) => one(v, true))) : or(items.map((v) => one(v, false)));
  if (mod === 'allof') return neg ? or(items.map((v) => one(v, true))) : and(items.map((v) => one(v, false)));
  // oneof: some value holds and the values that could hold with it do not.
  const coMatch = (a: string, b: string) =>
    e.op === 'startswith' || e.op === 'bstartswith'
      ? a.startsWith(b) || b.startsWith(a)
      : e.op === 'endswith'
        ? a.endsWith(b) || b.endsWith(a)
        : true;
  const alts = items.flatMap((v, i) => {
    if ((count.get(v.value) ?? 0) > 1) return [];
    const others = items.filter((w, j) => j !== i && coMatch(v.value, w.value));
    return [neg ? or([one(v, true), ...others.map((w) => one(w, false))]) : and([one(v, false), ...others.map((w) => one(w, true))])];
  });
  if (alts.length === 0) return neg ? T : FALSE;
  return neg ? and(alts) : or(alts);
}

/** Maps one check through its row of the field table (the call given when the row depends on it). */
function mapRow(row: FieldRow | undefined, ctx: LeafCtx, evt: string | undefined): F {
  const { e, neg, text, field, full, values } = ctx;
  const op = e.op;
  const x = (reason: string, feature: string, approx?: F): F => atom({ a: 'x', reason, feature, text, ...(approx ? { approx } : {}) });
  if (!row) return x(`${full}: no Tetragon selector filters on this field`, `field ${full}`);
  const eqOp = op === '=' || op === '==' || op === 'in';
  const note = row.assumptions?.map((a) => assumptions[a]);
  const flag = (value: boolean): F => {
    // A boolean field compared with true/false.
    const v = values[0];
    if (!(op === '=' || op === '==' || op === '!=') || (v !== 'true' && v !== 'false'))
      return x(`${full} ${op}: compare with true or false`, `${field} ${op}`);
    return ((v === String(value)) === (op !== '!=')) !== neg ? T : FALSE;
  };
  switch (row.map) {
    case 'evt.type':
      if (eqOp) return atom({ a: 'evt', names: new Set(values), neg });
      if (op === '!=') return atom({ a: 'evt', names: new Set(values), neg: !neg });
      return x(`evt.type ${op} cannot be resolved to event types`, `evt.type ${op}`);
    case 'evt.num':
      // Falco's never_true idiom: event numbers start at 1.
      if ((op === '=' || op === '==') && values[0] === '0') return neg ? T : FALSE;
      return x(`${full} ${op}: event numbers are counted in userspace`, 'evt.num');
    case 'evt.dir':
      if ((op === '=' || op === '==' || op === '!=') && (values[0] === '<' || values[0] === '>'))
        return ((values[0] === '<') === (op !== '!=')) !== neg ? T : FALSE;
      return x(`${full} ${op}: compare with < or >`, 'evt.dir');
    case 'absent':
      return neg ? T : FALSE;
    case 'false-flag':
      return flag(false);
    case 'none':
      return x(`${full}: Falco reads ${row.falco}; ${row.hook}`, row.feature);
    case 'path':
    case 'directory':
      return pathLeaf(row.map === 'directory' ? 'fd.directory' : field, full, op, values, neg, text, note);
    case 'filename': {
      // At security_file_open the open reached the file: the basename is read as Falco reads it (under the row's assumptions).
      if (row.precision === 'model') return pathLeaf('fd.filename', full, op, values, neg, text, note);
      // Falco sets fd.filename only when the open succeeds; a negated check also holds for every failed open.
      const f = pathLeaf('fd.filename', full, op, values, neg, text, note);
      const reason = `${full}: ${row.falco}; the hook sees the attempt`;
      return f.t === 'atom' && f.atom.a === 'x' ? f : x(reason, row.feature, neg ? undefined : f);
    }
    case 'opened': {
      // fd.num >= 0 (or > -1) is Falco's test that the open succeeded; the hook sees only opens that reached the file.
      const n = Number(values[0]);
      const cmp = neg ? ({ '<': '>=', '<=': '>', '>': '<=', '>=': '<' } as Record<string, string>)[op] : op;
      if (values.length === 1 && Number.isInteger(n)) {
        if ((cmp === '>=' && n <= 0) || (cmp === '>' && n <= -1)) return T;
        if ((cmp === '<' && n <= 0) || (cmp === '<=' && n <= -1)) return FALSE;
      }
      return x(`${full} ${op}: ${row.hook}`, row.feature);
    }
    case 'arg':
      return argLeaf(
        field,
        full,
        field === 'evt.arg' || field === 'evt.rawarg'
          ? (e.left.arg ?? '')
          : field.slice(field.indexOf('.arg') + (field.includes('rawarg') ? 8 : 5)),
        op,
        values,
        neg,
        text,
      );
    case 'open-write':
    case 'open-create': {
      if (evt === 'creat') return flag(false); // Falco's evt.is_open_* read the flags of open, openat and openat2 only
      const write = row.map === 'open-write';
      const v = values[0];
      if (!(op === '=' || op === '==' || op === '!=') || (v !== 'true' && v !== 'false'))
        return x(`${full} ${op}: compare with true or false`, `${field} ${op}`);
      const positive = ((v === 'true') === (op !== '!=')) !== neg;
      const bits = write ? openFlagBits['O_WRONLY']! | openFlagBits['O_RDWR']! : openFlagBits['O_CREAT']! | openFlagBits['O_TMPFILE']!;
      const mask = atom({
        a: 'c',
        c: { k: 'arg', sel: { role: 'openWrite' }, op: 'Mask', values: [String(bits)], field, numeric: true },
        text,
      });
      if (!positive) return x(`not ${field}: Tetragon has no NotMask operator`, `not ${field} (no NotMask)`);
      return write ? mask : x(`${full}: ${row.falco}; the hook sees the flags asked for`, row.feature, mask);
    }
    case 'launch':
    case 'binary':
      return procName(row, ctx, note);
    case 'container': {
      if ((op === '=' || op === '==' || op === '!=') && values[0] === 'host') {
        const isHost = (op === '!=') === neg;
        return isHost
          ? atom({ a: 'c', c: { k: 'hostns', op: 'In' }, text, notes: [assumptions.hostns] })
          : atom({ a: 'c', c: { k: 'pod' }, text, notes: [assumptions.pods] });
      }
      return x(`container.id ${op}: container ids are assigned in userspace`, 'container.id other than host');
    }
    case 'k8s.ns':
      if (eqOp && !neg) return atom({ a: 'c', c: { k: 'k8sns', values }, text });
      return x('only a positive k8s.ns.name = / in scopes a TracingPolicyNamespaced', 'k8s.ns.name other than = / in');
    case 'cap': {
      if ((op === 'contains' || eqOp) && values.every((v) => /^CAP_[A-Z_]+$/.test(v))) {
        const type = (field.slice('thread.cap_'.length)[0]!.toUpperCase() + field.slice('thread.cap_'.length + 1)) as
          | 'Effective'
          | 'Permitted'
          | 'Inheritable';
        if (values.length > 1 && op === 'contains') return x(`${field} contains with several capabilities`, `${field} contains several`);
        return atom({ a: 'c', c: { k: 'cap', type, op: neg ? 'NotIn' : 'In', values }, text });
      }
      return x(`${field} ${op}: only "contains CAP_..." maps to matchCapabilities`, `${field} ${op}`);
    }
  }
}

function pathLeaf(field: string, full: string, op: string, values: string[], neg: boolean, text: string, notes?: readonly string[]): F {
  const c = (o: ArgOperator, vals: string[]): F =>
    atom({
      a: 'c',
      c: {
        k: 'arg',
        sel: field.startsWith('evt.arg.') ? { role: 'name', name: field.slice(8) } : { role: 'path' },
        op: o,
        values: vals,
        field,
        numeric: false,
      },
      text,
      ...(notes ? { notes } : {}),
    });
  const x = (reason: string, feature: string, approx?: F): F =>
    atom({ a: 'x', reason: `${full} ${op}: ${reason}`, feature, text, ...(approx ? { approx } : {}) });
  const flip = (o: ArgOperator): ArgOperator =>
    neg
      ? (
          {
            Equal: 'NotEqual',
            Prefix: 'NotPrefix',
            Postfix: 'NotPostfix',
            NotEqual: 'Equal',
            NotPrefix: 'Prefix',
            NotPostfix: 'Postfix',
          } as Record<string, ArgOperator>
        )[o]!
      : o;
  const eq = op === '=' || op === '==' || op === 'in';
  if (field === 'fd.filename') {
    if (eq || op === '!=')
      return c(
        flip(op === '!=' ? 'NotPostfix' : 'Postfix'),
        values.map((v) => '/' + v),
      );
    return x('only = and in map a file name (as a /name suffix)', `fd.filename ${op}`);
  }
  if (field === 'fd.directory') {
    if (eq && !neg)
      return x(
        'Prefix would also match subdirectories',
        'fd.directory (no exact directory operator)',
        c(
          'Prefix',
          values.map((v) => v.replace(/\/$/, '') + '/'),
        ),
      );
    return x('a directory match has no exact Tetragon operator', 'fd.directory (no exact directory operator)');
  }
  if (eq) return c(flip('Equal'), values);
  if (op === '!=') return c(flip('NotEqual'), values);
  if (op === 'startswith') return c(flip('Prefix'), values);
  if (op === 'endswith') return c(flip('Postfix'), values);
  if (op === 'pmatch') {
    // pmatch(/etc) matches /etc itself and everything below /etc/: an Equal or a Prefix on "dir/".
    const dirs = values.map((v) => (v.length > 1 ? v.replace(/\/$/, '') : v));
    const eqv = c(flip('Equal'), dirs);
    const pre = c(
      flip('Prefix'),
      dirs.map((d) => (d.endsWith('/') ? d : d + '/')),
    );
    return neg ? and([eqv, pre]) : or([eqv, pre]);
  }
  if (op === 'glob') {
    const out: F[] = [];
    for (const v of values) {
      const wild = /[*?[]/g;
      const n = (v.match(wild) ?? []).length;
      if (n === 0) out.push(c(flip('Equal'), [v]));
      else if (n === 1 && v.endsWith('*')) out.push(c(flip('Prefix'), [v.slice(0, -1)]));
      else if (n === 1 && v.startsWith('*')) out.push(c(flip('Postfix'), [v.slice(1)]));
      else return x('only globs of the form prefix* or *suffix map to Prefix/Postfix', operatorFeature('glob'));
    }
    return out.length === 1 ? out[0]! : neg ? and(out) : or(out);
  }
  return x(operatorReason(op), operatorFeature(op));
}

const known: Record<string, number> = { ...openFlagBits, ...cloneFlagBits, ...ptraceRequests, ...otherConstants };

/** String arguments that are not paths (a symlink's target, mount's device and type). */
const plainStringArgs = new Set(['target', 'dev', 'type']);

function argLeaf(field: string, full: string, name: string, op: string, values: string[], neg: boolean, text: string): F {
  const x = (reason: string, feature: string): F => atom({ a: 'x', reason: `${full} ${op}: ${reason}`, feature, text });
  const num = (v: string): string | undefined =>
    /^-?(0x[0-9a-f]+|\d+)$/i.test(v) ? String(Number(v)) : known[v] !== undefined ? String(known[v]) : undefined;
  const nums = values.map(num);
  const sel: ArgRole = { role: 'name', name };
  const c = (o: ArgOperator, vals: string[]): F => atom({ a: 'c', c: { k: 'arg', sel, op: o, values: vals, field, numeric: true }, text });
  if (nums.some((n) => n === undefined)) {
    // evt.arg makes a path argument absolute; evt.rawarg and the arguments that are no path are as passed.
    const resolved = field.startsWith('evt.arg') && !plainStringArgs.has(name);
    if (op === '=' || op === '==' || op === 'in' || op === '!=' || op === 'startswith' || op === 'endswith')
      return pathLeaf(`evt.arg.${name}`, full, op, values, neg, text, resolved ? [assumptions.paths] : undefined);
    return x(`value ${values.join(', ')} is not a number or a known flag`, `${op} on a string argument`);
  }
  const ns = nums as string[];
  if (op === 'contains' && enumArgs.has(name)) return c(neg ? 'NotEqual' : 'Equal', ns); // an enum holds one value: contains is equality
  if (op === 'contains') {
    if (neg) return x('Tetragon has no NotMask operator', 'not ... contains FLAG (no NotMask)');
    return c('Mask', [String(ns.reduce((a, b) => a | Number(b), 0))]);
  }
  if (op === '=' || op === '==' || op === 'in') return c(neg ? 'NotEqual' : 'Equal', ns);
  if (op === '!=') return c(neg ? 'Equal' : 'NotEqual', ns);
  const n = Number(ns[0]);
  // Integer comparisons: a <= n is a < n+1; negation turns < into >=.
  const lt = (k: number) => c('LT', [String(k)]);
  const gt = (k: number) => c('GT', [String(k)]);
  switch (neg ? ({ '<': '>=', '<=': '>', '>': '<=', '>=': '<' } as Record<string, string>)[op] : op) {
    case '<':
      return lt(n);
    case '<=':
      return lt(n + 1);
    case '>':
      return gt(n);
    case '>=':
      return gt(n - 1);
  }
  return x(operatorReason(op), operatorFeature(op));
}

/** Longest comm the kernel keeps (TASK_COMM_LEN - 1): proc.name is at most this long. */
const commMax = 15;

/**
 * proc.name = / != / in, as comm: the caller's on most calls (matchBinaries Postfix "/name"); at an exec, the
 * launched program's, which the entry hook sees as the filename argument of the attempt (broader: the exec
 * may fail). The caller is never taken for the launched program.
 */
function procName(row: FieldRow, ctx: LeafCtx, notes: readonly string[] | undefined): F {
  const { e, neg, text, values } = ctx;
  const op = e.op;
  const x = (reason: string, feature: string, approx?: F): F => atom({ a: 'x', reason, feature, text, ...(approx ? { approx } : {}) });
  if (!(op === '=' || op === '==' || op === 'in' || op === '!='))
    return x(`proc.name ${op}: ${operatorReason(op)} (only =, != and in map to a binary name)`, operatorFeature(op));
  // Falco holds when comm is in the set (`member`) or not in it.
  const member = (op !== '!=') !== neg;
  // A name longer than comm, or with a slash (a basename has none), never matches; one of exactly 15
  // characters matches every name that starts with it.
  const names = values.filter((v) => v.length <= commMax && !v.includes('/'));
  if (names.length === 0) return member ? FALSE : T;
  const suffixes = names.map((v) => '/' + v);
  const bin = (o: BinaryOperator): F => atom({ a: 'c', c: { k: 'bin', op: o, values: suffixes }, text, ...(notes ? { notes } : {}) });
  const file = (o: ArgOperator): F =>
    atom({
      a: 'c',
      c: { k: 'arg', sel: { role: 'path' }, op: o, values: suffixes, field: 'proc.name', numeric: false },
      text,
      ...(notes ? { notes } : {}),
    });
  const truncated = names.filter((v) => v.length === commMax);
  if (row.map === 'launch') {
    const why = truncated.length ? `; ${truncated.join(', ')} stands for every name that starts with it (comm keeps 15 characters)` : '';
    const reason = `proc.name at execve/execveat: Falco reads the launched program once the exec succeeded; the hook sees the attempt, the filename argument${why}`;
    return x(reason, row.feature, truncated.length && member ? undefined : file(member ? 'Postfix' : 'NotPostfix'));
  }
  if (truncated.length)
    return x(
      `proc.name ${truncated.join(', ')}: comm keeps 15 characters, so Falco matches every name that starts with it`,
      'proc.name of 15 characters (truncated comm)',
      member ? undefined : bin('NotPostfix'),
    );
  return bin(member ? 'Postfix' : 'NotPostfix');
}

// ---- event types (Falco's evttype resolver on the NNF) ----

interface EvtSet {
  /** false: exactly `names`; true: every event type except `names`. */
  co: boolean;
  names: Set<string>;
}

const ALL: EvtSet = { co: true, names: new Set() };
const minus = (a: Set<string>, b: Set<string>) => new Set([...a].filter((x) => !b.has(x)));
const inter = (a: Set<string>, b: Set<string>) => new Set([...a].filter((x) => b.has(x)));
const union = (a: Set<string>, b: Set<string>) => new Set([...a, ...b]);

function evtAnd(a: EvtSet, b: EvtSet): EvtSet {
  if (!a.co && !b.co) return { co: false, names: inter(a.names, b.names) };
  if (!a.co) return { co: false, names: minus(a.names, b.names) };
  if (!b.co) return { co: false, names: minus(b.names, a.names) };
  return { co: true, names: union(a.names, b.names) };
}
function evtOr(a: EvtSet, b: EvtSet): EvtSet {
  if (!a.co && !b.co) return { co: false, names: union(a.names, b.names) };
  if (!a.co) return { co: true, names: minus(b.names, a.names) };
  if (!b.co) return { co: true, names: minus(a.names, b.names) };
  return { co: true, names: inter(a.names, b.names) };
}
const evtCache = new WeakMap<F, EvtSet>();

function evttypes(f: F): EvtSet {
  let r = evtCache.get(f);
  if (!r) evtCache.set(f, (r = evttypesUncached(f)));
  return r;
}

function evttypesUncached(f: F): EvtSet {
  switch (f.t) {
    case 'true':
      return ALL;
    case 'false':
      return { co: false, names: new Set() };
    case 'atom':
      return f.atom.a === 'evt' ? { co: f.atom.neg, names: f.atom.names } : ALL;
    case 'and':
      return f.c.map(evttypes).reduce(evtAnd, ALL);
    case 'or':
      return f.c.map(evttypes).reduce(evtOr, { co: false, names: new Set() });
  }
}

// ---- simplification and DNF ----

function mapAtoms(f: F, fn: (a: Atom) => F): F {
  switch (f.t) {
    case 'atom':
      return fn(f.atom);
    case 'and':
    case 'or':
      return { ...f, c: f.c.map((c) => mapAtoms(c, fn)) };
    default:
      return f;
  }
}

function simplify(f: F): F {
  return simplifyNode(f, simplify);
}

/** One level of simplify, for a node whose children are simplified already. */
function simplifyTop(f: F): F {
  return simplifyNode(f, (c) => c);
}

function simplifyNode(f: F, child: (c: F) => F): F {
  if (f.t !== 'and' && f.t !== 'or') return f;
  const kids: F[] = [];
  for (const c0 of f.c) {
    const c = child(c0);
    if (f.t === 'and') {
      if (c.t === 'false') return FALSE;
      if (c.t === 'true') continue;
    } else {
      if (c.t === 'true') return T;
      if (c.t === 'false') continue;
    }
    if (c.t === f.t) kids.push(...c.c);
    else kids.push(c);
  }
  if (kids.length === 0) return f.t === 'and' ? T : FALSE;
  return kids.length === 1 ? kids[0]! : { ...f, c: kids };
}

// Atoms are compared by a canonical key so duplicate conjuncts (common after macro expansion) collapse.
const atomKeys = new WeakMap<Atom, string>();
function atomKey(a: Atom): string {
  let k = atomKeys.get(a);
  if (k === undefined) {
    k = a.a === 'evt' ? `evt:${a.neg}:${[...a.names].sort().join(',')}` : a.a === 'c' ? `c:${JSON.stringify(a.c)}` : `${a.a}:${a.text}`;
    atomKeys.set(a, k);
  }
  return k;
}

/** A conjunct: the sorted ids of its atoms, and the event types it still allows (to prune contradictions early). */
interface Conj {
  ids: number[];
  key: string;
  evt: EvtSet;
}

function dnf(f: F, cap: number): Atom[][] | undefined {
  // Atoms get small integer ids by canonical key, so conjuncts merge as sorted arrays and dedupe by a string key.
  const ids = new Map<string, number>();
  const atoms: Atom[] = [];
  const r = dnfConj(f, cap, (a) => {
    const k = atomKey(a);
    let id = ids.get(k);
    if (id === undefined) {
      id = atoms.length;
      ids.set(k, id);
      atoms.push(a);
    }
    return id;
  });
  return r && r.map((c) => c.ids.map((i) => atoms[i]!));
}

function mergeIds(a: number[], b: number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const x = i < a.length ? a[i]! : Infinity;
    const y = j < b.length ? b[j]! : Infinity;
    if (x === y) {
      out.push(x);
      i++;
      j++;
    } else if (x < y) {
      out.push(x);
      i++;
    } else {
      out.push(y);
      j++;
    }
  }
  return out;
}

function dnfConj(f: F, cap: number, id: (a: Atom) => number): Conj[] | undefined {
  switch (f.t) {
    case 'true':
      return [{ ids: [], key: '', evt: ALL }];
    case 'false':
      return [];
    case 'atom': {
      const evt = f.atom.a === 'evt' ? { co: f.atom.neg, names: f.atom.names } : ALL;
      const n = id(f.atom);
      return [{ ids: [n], key: String(n), evt }];
    }
    case 'or': {
      const out = new Map<string, Conj>();
      for (const c of f.c) {
        const d = dnfConj(c, cap, id);
        if (!d) return undefined;
        for (const x of d) out.set(x.key, x);
        if (out.size > cap) return undefined;
      }
      return [...out.values()];
    }
    case 'and': {
      let acc: Conj[] = [{ ids: [], key: '', evt: ALL }];
      for (const c of f.c) {
        const d = dnfConj(c, cap, id);
        if (!d) return undefined;
        const next = new Map<string, Conj>();
        for (const a of acc)
          for (const b of d) {
            const evt = a.evt === ALL ? b.evt : b.evt === ALL ? a.evt : evtAnd(a.evt, b.evt);
            if (!evt.co && evt.names.size === 0) continue; // no event type satisfies both: drop the conjunct
            const ids = mergeIds(a.ids, b.ids);
            const key = ids.join(',');
            if (!next.has(key)) next.set(key, { ids, key, evt });
          }
        if (next.size > cap) return undefined;
        acc = [...next.values()];
      }
      return acc;
    }
  }
}

/** Upper bound of the number of conjuncts (saturating at `limit`). */
function dnfBound(f: F, limit: number): number {
  switch (f.t) {
    case 'true':
    case 'atom':
      return 1;
    case 'false':
      return 0;
    case 'or':
      return Math.min(
        limit + 1,
        f.c.reduce((n, c) => n + dnfBound(c, limit), 0),
      );
    case 'and':
      return f.c.reduce((n, c) => Math.min(limit + 1, n * dnfBound(c, limit)), 1);
  }
}

function largestExclusion(f: F): (F & { t: 'or'; exclusion: Expr }) | undefined {
  let best: (F & { t: 'or'; exclusion: Expr }) | undefined;
  const size = (x: F): number => dnfBound(x, 1 << 20);
  const walk = (x: F) => {
    if (x.t === 'or' && x.exclusion !== undefined && (!best || size(x) > size(best))) best = x as F & { t: 'or'; exclusion: Expr };
    if (x.t === 'and' || x.t === 'or') x.c.forEach(walk);
  };
  walk(f);
  return best;
}

function replaceNode(f: F, target: F, by: F): F {
  if (f === target) return by;
  if (f.t === 'and' || f.t === 'or') return { ...f, c: f.c.map((c) => replaceNode(c, target, by)) };
  return f;
}

// ---- selectors ----

interface HookSelectors {
  evt: string;
  call: string;
  /** A syscall (`sys_<name>`), or a kernel function (security_file_open on a full node). */
  syscall: boolean;
  args: Map<number, string>;
  selectors: Selector[];
  seen: Set<string>;
}

/** Arguments compared as strings: a syscall's string, a kernel file (its path). */
const stringArg = (a: SyscallArg) => a.type === 'string' || a.type === 'file';

function resolveArg(sel: ArgRole, args: readonly SyscallArg[]): SyscallArg | undefined {
  if (sel.role === 'path') return args.find((a) => a.path);
  if (sel.role === 'openWrite') return args.find((a) => a.openFlags);
  return args.find((a) => a.names.includes(sel.name));
}

function mergeBinaries(bins: { op: BinaryOperator; values: string[] }[]): { op: BinaryOperator; values: string[] } | 'empty' | undefined {
  if (bins.length === 0) return undefined;
  let cur = { op: bins[0]!.op, values: [...bins[0]!.values] };
  for (const b of bins.slice(1)) {
    const pair = `${cur.op}/${b.op}`;
    const setB = new Set(b.values);
    const setCur = new Set(cur.values);
    if (pair === 'In/In' || pair === 'Postfix/Postfix' || pair === 'Prefix/Prefix') {
      if (pair !== 'In/In' && pair !== 'Postfix/Postfix') return undefined;
      cur.values = cur.values.filter((v) => setB.has(v));
    } else if (pair === 'In/NotIn' || pair === 'Postfix/NotPostfix') cur.values = cur.values.filter((v) => !setB.has(v));
    else if (pair === 'NotIn/In' || pair === 'NotPostfix/Postfix') cur = { op: b.op, values: b.values.filter((v) => !setCur.has(v)) };
    else if (pair === 'NotIn/NotIn' || pair === 'NotPostfix/NotPostfix' || pair === 'NotPrefix/NotPrefix')
      cur.values = [...new Set([...cur.values, ...b.values])];
    else if (pair === 'In/Postfix') cur.values = cur.values.filter((v) => b.values.some((s) => v.endsWith(s)));
    else if (pair === 'In/NotPostfix') cur.values = cur.values.filter((v) => !b.values.some((s) => v.endsWith(s)));
    else if (pair === 'In/Prefix') cur.values = cur.values.filter((v) => b.values.some((s) => v.startsWith(s)));
    else if (pair === 'In/NotPrefix') cur.values = cur.values.filter((v) => !b.values.some((s) => v.startsWith(s)));
    else return undefined;
    if (cur.values.length === 0) return cur.op.startsWith('Not') ? undefined : 'empty';
  }
  return cur;
}

/** Exact merges of filters on the same argument: negative filters AND into one list, Equal lists intersect. */
function mergeMatchArgs(ms: MatchArg[]): MatchArg[] | 'empty' {
  const out: MatchArg[] = [];
  for (const m of ms) {
    const same = out.find((o) => o.index === m.index && o.operator === m.operator);
    if (
      same &&
      (m.operator === 'NotEqual' || m.operator === 'NotPrefix' || m.operator === 'NotPostfix') &&
      !/^-?\d+$/.test(m.values[0] ?? '')
    ) {
      same.values = [...new Set([...same.values, ...m.values])];
      continue;
    }
    if (same && m.operator === 'Equal') {
      same.values = same.values.filter((v) => m.values.includes(v));
      if (same.values.length === 0) return 'empty';
      continue;
    }
    out.push({ ...m, values: [...m.values] });
  }
  // A positive filter every value of which a negative filter on the same argument excludes: the selector is empty.
  const excludes = (pos: ArgOperator, v: string, neg: MatchArg): boolean =>
    neg.values.some((q) =>
      neg.operator === 'NotEqual'
        ? pos === 'Equal' && v === q
        : neg.operator === 'NotPrefix'
          ? (pos === 'Equal' || pos === 'Prefix') && v.startsWith(q)
          : neg.operator === 'NotPostfix'
            ? (pos === 'Equal' || pos === 'Postfix') && v.endsWith(q)
            : false,
    );
  for (const m of out) {
    if (m.operator !== 'Equal' && m.operator !== 'Prefix' && m.operator !== 'Postfix') continue;
    for (const n of out) if (n.index === m.index && m.values.every((v) => excludes(m.operator, v, n))) return 'empty';
  }
  return out;
}

function chunk<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

// ---- policy naming ----

export function policyName(rule: string, used: Set<string>): string {
  let base = rule
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (base === '') base = 'rule';
  base = `falco-${base}`.slice(0, 60).replace(/-+$/, '');
  let name = base;
  for (let k = 2; used.has(name); k++) name = `${base}-${k}`;
  used.add(name);
  return name;
}

function shouldEnforce(rule: CompiledRule['rule'], spec: EnforceSpec | undefined): boolean {
  if (!spec) return false;
  if (spec.rules.has(rule.name)) return true;
  if (spec.minPriority) return priorities.indexOf(rule.priority) <= priorities.indexOf(spec.minPriority);
  return false;
}

/** Converts compiled rules; rules that did not compile are reported not convertible with their diagnostics. */
export function convertRules(compiled: readonly CompiledRule[], opts: ConvertOptions = {}): ConversionResult {
  const used = new Set<string>();
  const policies: ConvertedPolicy[] = [];
  const reports: RuleReport[] = [];
  for (const cr of compiled) {
    const { rule } = cr;
    const report: RuleReport = {
      rule: rule.name,
      file: rule.origin.file,
      line: rule.origin.line,
      priority: rule.priority,
      verdict: 'not-convertible',
      reasons: [],
      notes: [],
      hooks: [],
      policies: [],
      blockedBy: [],
    };
    reports.push(report);
    if (!rule.enabled) {
      report.verdict = 'disabled';
      report.reasons.push('rule is disabled (enabled: false); Falco does not load it');
      continue;
    }
    if (cr.skipped) {
      report.verdict = 'disabled';
      report.reasons.push(cr.skipped);
      continue;
    }
    if (rule.source !== 'syscall') {
      report.reasons.push(`source ${rule.source} is a plugin event source, not syscalls; no kernel hook sees these events`);
      report.blockedBy.push(`plugin event source (${rule.source})`);
      continue;
    }
    if (!cr.expr) {
      report.reasons.push(
        ...cr.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.file}:${d.line}:${d.column}: ${d.message}`),
      );
      report.blockedBy.push('the condition does not compile');
      continue;
    }
    const r = opts.profile === 'full' ? convertFull(cr, opts, used) : convertOne(cr, opts, used);
    Object.assign(report, r.report);
    policies.push(...r.policies.map((policy) => ({ rule: rule.name, policy })));
  }
  const totals = { rules: reports.length, policies: policies.length, exact: 0, broader: 0, 'not-convertible': 0, disabled: 0 };
  for (const r of reports) totals[r.verdict]++;
  return { policies, reports, totals, blockers: blockerSummary(reports) };
}

// Macro bodies are shared subtrees across rules: their forms per call are computed once.
const specialized = new Map<string, WeakMap<F, F>>();

/** Replaces the event-type tests and the call-dependent checks of a formula by what they are on one call, simplified. */
function specialize(f: F, evt: string, cls: EventClass): F {
  let memo = specialized.get(`${evt}|${cls}`);
  if (!memo) specialized.set(`${evt}|${cls}`, (memo = new WeakMap()));
  return specializeIn(f, evt, cls, memo);
}

function specializeIn(f: F, evt: string, cls: EventClass, memo: WeakMap<F, F>): F {
  if (f.t === 'true' || f.t === 'false') return f;
  const hit = memo.get(f);
  if (hit) return hit;
  let out: F = f;
  if (f.t === 'atom') {
    const a = f.atom;
    if (a.a === 'evt') out = a.names.has(evt) !== a.neg ? T : FALSE;
    else if (a.a === 'dep') out = simplify(a.byEvt(evt, cls));
  } else {
    const c = f.c.map((x) => specializeIn(x, evt, cls, memo));
    const same = c.every((x, i) => x === f.c[i]);
    // Children already in simplified form and nothing to fold or flatten: the node is kept as it is.
    out =
      same && !c.some((x) => x.t === 'true' || x.t === 'false' || x.t === f.t) && c.length > 1 ? f : simplifyTop(same ? f : { ...f, c });
  }
  memo.set(f, out);
  return out;
}

const evtAtomCache = new WeakMap<F, readonly (Atom & { a: 'evt' })[]>();

/** The distinct event-type tests of a formula (shared subtrees are walked once). */
function evtAtomsOf(f: F): readonly (Atom & { a: 'evt' })[] {
  if (f.t === 'true' || f.t === 'false') return [];
  if (f.t === 'atom') return f.atom.a === 'evt' ? [f.atom] : [];
  let r = evtAtomCache.get(f);
  if (!r) evtAtomCache.set(f, (r = [...new Set(f.c.flatMap(evtAtomsOf))]));
  return r;
}

function collectAtoms(f: F, out: Atom[]): Atom[] {
  if (f.t === 'atom') out.push(f.atom);
  else if (f.t === 'and' || f.t === 'or') for (const c of f.c) collectAtoms(c, out);
  return out;
}

/** `dropped`: the terms a broader conversion widened or dropped (their texts, or the reason where a hook lacks an argument). */
type Outcome = { report: Partial<RuleReport>; policies: TracingPolicy[]; dropped?: ReadonlySet<string> };

/**
 * On a full node a rule's file opens go to security_file_open, unless that loses a term the syscall hooks keep:
 * the hook has no flags argument, so a rule on evt.is_open_write or evt.arg.flags keeps the syscall hooks (exact
 * Mask on the flags), and the report says why. Both forms are converted; the choice is per rule.
 */
function convertFull(cr: CompiledRule, opts: ConvertOptions, used: Set<string>): Outcome {
  // Policy names depend on the names taken so far: each form is converted against a copy, the chosen one's are taken.
  const take = (o: Outcome): Outcome => {
    for (const n of o.report.policies ?? []) used.add(n);
    return o;
  };
  const kernel = convertOne(cr, opts, new Set(used));
  if (!kernel.report.hooks?.includes(fileOpenHook.call)) return take(kernel);
  const syscall = convertOne(cr, { ...opts, profile: 'tracepoint-only' }, new Set(used));
  const ok = (o: Outcome) => o.report.verdict !== 'not-convertible';
  const lost = [...(kernel.dropped ?? [])].filter((t) => !syscall.dropped?.has(t));
  if ((ok(kernel) || !ok(syscall)) && lost.length === 0) return take(kernel);
  const why = lost.length
    ? `at security_file_open ${lost.join(', ')} would be dropped (the hook has no flags argument and reads no syscall argument)`
    : 'at security_file_open it does not convert';
  syscall.report.notes = [
    ...(syscall.report.notes ?? []),
    `profile full: the opens stay on the syscall hooks, which keep more of the rule: ${why}`,
  ];
  return take(syscall);
}

function convertOne(cr: CompiledRule, opts: ConvertOptions, used: Set<string>): Outcome {
  const rule = cr.rule;
  const blockedBy = new Set<string>();
  const fail = (reasons: string[], features: string[] = []): Outcome => {
    for (const f of features) blockedBy.add(f);
    return {
      report: { verdict: 'not-convertible' as const, reasons: [...new Set(reasons)], blockedBy: [...blockedBy].sort() },
      policies: [],
    };
  };
  const f0 = nnf(cr.expr!, false);
  const ev = evttypes(f0);
  if (ev.co)
    return fail(
      ['the condition does not restrict evt.type: Falco would evaluate it on every event, and there is no single hook for that'],
      ['no evt.type restriction'],
    );
  const evts = [...ev.names].sort();
  if (evts.length === 0)
    return fail(
      ['the condition can never be true (an empty list, or evt.type tests that contradict each other): there is nothing to enforce'],
      ['never true'],
    );
  const hookless = evts.filter((e) => !syscallInfo(e));
  if (hookless.length > 0)
    return fail([`event type ${hookless.join(', ')} is not a syscall; Tetragon has no hook for it`], ['event that is not a syscall']);
  // Per call: the formula as Falco evaluates it there; inexpressible checks fail, or (with --allow-broader)
  // are replaced by their over-approximation or by true. Either only widens a negation normal form.
  const dropped: string[] = [];
  const inexpressible: string[] = [];
  const notes = new Set<string>();
  const perHookDropped: string[] = [];
  const droppedTerms = new Set<string>();
  const cap = opts.maxConjuncts ?? 25;
  const perEvt: { evt: string; conjuncts: Atom[][] }[] = [];
  let tooLarge = false;
  // Calls on which the condition reads the same (the same event-type tests hold, the same kind of call) share one form.
  const evtAtoms = evtAtomsOf(f0);
  // On a full node the path opens are one hook on security_file_open: their fields read as the file reached.
  const clsOf = (evt: string): EventClass => (opts.profile === 'full' && eventClass(evt) === 'open' ? 'kopen' : eventClass(evt));
  const alike = new Map<string, string[]>();
  for (const evt of evts) {
    const key = `${clsOf(evt)}|${evt === 'creat'}|${evtAtoms.map((a) => (a.names.has(evt) ? 1 : 0)).join('')}`;
    alike.set(key, [...(alike.get(key) ?? []), evt]);
  }
  for (const [evt, ...same] of alike.values()) {
    const fe = specialize(f0, evt!, clsOf(evt!));
    if (fe.t === 'false') continue;
    const f1 = mapAtoms(fe, (a) => {
      if (a.a === 'c' && a.notes) for (const n of a.notes) notes.add(n);
      if (a.a !== 'x') return atom(a);
      inexpressible.push(a.reason);
      blockedBy.add(a.feature);
      if (!opts.allowBroader) return atom(a);
      droppedTerms.add(a.text);
      dropped.push(a.approx ? `${a.text} → ${a.reason} (over-approximated)` : `${a.text} dropped (${a.reason})`);
      if (a.approx) for (const b of collectAtoms(a.approx, [])) if (b.a === 'c' && b.notes) for (const n of b.notes) notes.add(n);
      return a.approx ?? T;
    });
    if (!opts.allowBroader && inexpressible.length > 0) continue;
    let f2 = simplify(f1);
    // A cheap upper bound first: far over the cap, building the OR-of-ANDs is wasted work.
    let conjuncts = dnfBound(f2, cap * 64) > cap * 64 ? undefined : dnf(f2, cap);
    // Too many alternatives: with --allow-broader, drop exclusions (`not (a and b)`) largest first; each drop only widens.
    while (!conjuncts && opts.allowBroader) {
      const ex = largestExclusion(f2);
      if (!ex) break;
      dropped.push(`not (${printCondition(ex.exclusion)}) dropped (expanding it needs more than ${cap} selectors per hook)`);
      blockedBy.add(`more than ${cap} alternatives per hook`);
      droppedTerms.add(`not (${printCondition(ex.exclusion)})`);
      f2 = simplify(replaceNode(f2, ex, T));
      conjuncts = dnfBound(f2, cap * 64) > cap * 64 ? undefined : dnf(f2, cap);
    }
    if (!conjuncts) {
      tooLarge = true;
      continue;
    }
    if (conjuncts.length > 0) for (const e of [evt!, ...same]) perEvt.push({ evt: e, conjuncts });
  }
  if (!opts.allowBroader && inexpressible.length > 0) return fail(inexpressible);
  if (tooLarge)
    return fail(
      [
        ...(opts.allowBroader ? [] : inexpressible),
        `the condition needs more than ${cap} alternatives (selectors per hook) once put in OR-of-ANDs form`,
      ],
      [`more than ${cap} alternatives per hook`],
    );
  // Group by policy scope: (namespace, pod-scoped).
  const groups = new Map<string, { ns?: string; pod: boolean; hooks: Map<string, HookSelectors> }>();
  const enforce = shouldEnforce(rule, opts.enforce);
  const dropHere = (reason: string, feature: string): boolean => {
    blockedBy.add(feature);
    if (!opts.allowBroader) return false;
    droppedTerms.add(reason);
    perHookDropped.push(reason);
    return true;
  };
  perEvt.sort((x, y) => (x.evt < y.evt ? -1 : x.evt > y.evt ? 1 : 0));
  for (const { evt, conjuncts } of perEvt) {
    const kernel = clsOf(evt) === 'kopen';
    const info = kernel ? fileOpenHook : syscallInfo(evt)!;
    if (kernel) notes.add(assumptions.reached);
    for (const conj of conjuncts) {
      const cons: Constraint[] = [];
      for (const a of conj) if (a.a === 'c') cons.push(a.c);
      let nsSet: string[] | undefined;
      let pod = false;
      for (const c of cons) {
        if (c.k === 'k8sns') nsSet = nsSet ? nsSet.filter((n) => c.values.includes(n)) : [...c.values];
        if (c.k === 'pod') pod = true;
      }
      if (nsSet && nsSet.length === 0) continue;
      // The parts of a selector that do not depend on the arguments: binaries, capabilities, namespaces.
      const bins: { op: BinaryOperator; values: string[] }[] = [];
      const sel: Selector = {};
      for (const c of cons) {
        if (c.k === 'bin') bins.push({ op: c.op, values: c.values });
        else if (c.k === 'cap') (sel.matchCapabilities ??= []).push({ type: c.type, operator: c.op, values: c.values });
        else if (c.k === 'hostns') (sel.matchNamespaces ??= []).push({ namespace: 'Mnt', operator: c.op, values: ['host_ns'] });
      }
      const mb = mergeBinaries(bins);
      if (mb === 'empty') continue;
      if (mb) sel.matchBinaries = [{ operator: mb.op, values: mb.values }];
      else if (bins.length > 0) {
        if (
          !dropHere(
            'two binary filters of different kinds cannot share the one matchBinaries of a selector',
            'two binary filters in one selector',
          )
        )
          return fail(['two binary filters of different kinds cannot share the one matchBinaries of a selector']);
        const first = bins.find((b) => !b.op.startsWith('Not')) ?? bins[0]!;
        sel.matchBinaries = [{ operator: first.op, values: first.values }];
      }
      // Keyed by the atoms it came from (their keys are cached), not by re-serialising long binary lists.
      const selKey = conj
        .filter((a) => a.a === 'c' && a.c.k !== 'arg')
        .map(atomKey)
        .sort()
        .join('\u0000');
      const args = new Map<number, string>();
      const matchArgs: MatchArg[] = [];
      const numericSplits: MatchArg[][] = [];
      for (const c of cons) {
        if (c.k !== 'arg') continue;
        const a = resolveArg(c.sel, info.args);
        const problem = !a
          ? `${c.field} cannot be matched on ${evt}: the call has no such argument`
          : stringArg(a) && c.numeric
            ? `${c.field} compares a number but the ${evt} argument is a string`
            : !stringArg(a) && !c.numeric
              ? `${c.field} compares a string but the ${evt} argument ${a.index} is numeric`
              : undefined;
        if (problem || !a) {
          if (!dropHere(problem!, `${c.field}: a hooked call has no such argument`)) return fail([problem!]);
          continue;
        }
        args.set(a.index, a.type);
        if (!stringArg(a) && c.values.length > limits.valuesPerNumericOperator) {
          // Equal over many numbers: an OR, split across selectors; NotEqual: an AND of several matchArgs.
          const parts = chunk(c.values, limits.valuesPerNumericOperator).map((values) => ({ index: a.index, operator: c.op, values }));
          if (c.op === 'Equal') numericSplits.push(parts);
          else matchArgs.push(...parts);
        } else matchArgs.push({ index: a.index, operator: c.op, values: c.values });
      }
      const variants: MatchArg[][] = numericSplits.reduce<MatchArg[][]>(
        (acc, parts) => acc.flatMap((x) => parts.map((p) => [...x, p])),
        [[]],
      );
      const merged = mergeMatchArgs(matchArgs);
      if (merged === 'empty') continue;
      if (merged.length + numericSplits.length > limits.matchArgsPerSelector && opts.allowBroader) {
        // Keep the positive filters first; each filter dropped only widens the selector.
        merged.sort((x, y) => Number(x.operator.startsWith('Not')) - Number(y.operator.startsWith('Not')));
        const keep = limits.matchArgsPerSelector - numericSplits.length;
        const cut = merged.splice(Math.max(keep, 0));
        dropHere(
          `${cut.length} argument filter(s) on ${evt} beyond Tetragon's ${limits.matchArgsPerSelector} per selector dropped`,
          `more than ${limits.matchArgsPerSelector} argument filters per selector`,
        );
      }
      for (const hook of hooksFor(groups, nsSet, pod, kernel ? info.call : evt, info.call, !kernel)) {
        for (const [k, v] of args) hook.args.set(k, v);
        for (const extra of variants) {
          const all = [...merged, ...extra];
          if (all.length > limits.matchArgsPerSelector)
            return fail(
              [`a conjunct needs ${all.length} argument filters on ${evt}; Tetragon allows ${limits.matchArgsPerSelector} per selector`],
              [`more than ${limits.matchArgsPerSelector} argument filters per selector`],
            );
          const key = `${JSON.stringify(all)}|${selKey}`;
          if (hook.seen.has(key)) continue;
          hook.seen.add(key);
          hook.selectors.push({ ...(all.length ? { matchArgs: all } : {}), ...sel, matchActions: [{ action: 'Post' }] });
        }
      }
    }
  }
  const broader = dropped.length > 0 || perHookDropped.length > 0;
  const reasons = [...new Set([...dropped, ...perHookDropped])];
  if (groups.size === 0)
    return fail(
      ['no conjunct of the condition can match any hooked event (Falco never fires it on these calls)'],
      ['never true on a hooked call'],
    );
  const hooked = [...new Set([...groups.values()].flatMap((g) => [...g.hooks.keys()]))].sort();
  const selective = [...groups.values()].every(
    (g) => g.ns !== undefined || g.pod || [...g.hooks.values()].every((h) => h.selectors.every((s) => Object.keys(s).length > 1)),
  );
  if (broader && !selective)
    return fail(
      [...reasons, 'after dropping these terms nothing selective remains: the policy would fire on every call of ' + hooked.join(', ')],
      ['nothing selective left after dropping terms'],
    );
  const out: TracingPolicy[] = [];
  let anyKill = false;
  for (const g of [...groups.values()]) {
    const hooks = [...g.hooks.values()].sort((a, b) => (a.evt < b.evt ? -1 : a.evt > b.evt ? 1 : 0));
    // A Sigkill must be scoped (pods, a namespace, or positively named binaries) unless host-wide kills are allowed.
    const scoped =
      g.pod ||
      g.ns !== undefined ||
      hooks.every((h) => h.selectors.every((s) => (s.matchBinaries ?? []).some((b) => !b.operator.startsWith('Not'))));
    const hostWide = enforce && !broader && !scoped;
    if (hostWide && !opts.allowHostWideKill)
      notes.add(
        'Sigkill withheld: the policy is not scoped to pods or named binaries, so it would kill host-wide; pass --allow-host-wide-kill to allow it',
      );
    const action = enforce && !broader && (scoped || opts.allowHostWideKill) ? 'Sigkill' : 'Post';
    if (action === 'Sigkill') anyKill = true;
    const pieces = Math.max(...hooks.map((h) => Math.ceil(Math.max(h.selectors.length, 1) / limits.selectorsPerHook)));
    for (let p = 0; p < pieces; p++) {
      const kprobes: KProbeSpec[] = [];
      for (const h of hooks) {
        const sels = h.selectors
          .slice(p * limits.selectorsPerHook, (p + 1) * limits.selectorsPerHook)
          .map((s): Selector => ({ ...s, matchActions: [{ action }] }));
        if (sels.length === 0) continue;
        const argList = [...h.args].sort((a, b) => a[0] - b[0]).map(([index, type]) => ({ index, type }));
        kprobes.push({ call: h.call, syscall: h.syscall, ...(argList.length ? { args: argList } : {}), selectors: sels });
      }
      if (kprobes.length === 0) continue;
      const name = policyName(rule.name, used);
      const annotations: Record<string, string> = {
        'weir.dev/source-file': rule.origin.file,
        'weir.dev/source-line': String(rule.origin.line),
        'weir.dev/falco-rule': rule.name,
        'weir.dev/falco-priority': rule.priority,
        'weir.dev/conversion': broader ? 'broader' : 'exact',
      };
      if (broader) annotations['weir.dev/over-approximation'] = reasons.join('; ');
      if (hostWide && opts.allowHostWideKill) annotations['weir.dev/allow-host-wide-kill'] = 'true';
      const policy: TracingPolicy = {
        apiVersion: 'cilium.io/v1alpha1',
        kind: g.ns ? 'TracingPolicyNamespaced' : 'TracingPolicy',
        metadata: { name, ...(g.ns ? { namespace: g.ns } : {}), annotations },
        spec: { ...(g.pod && !g.ns ? { podSelector: {} } : {}), kprobes },
      };
      const problems = validateTracingPolicy(policy);
      if (problems.length > 0) return fail([`internal: generated policy is not valid: ${problems.join('; ')}`]);
      out.push(policy);
    }
  }
  if (enforce && broader) notes.add('Sigkill withheld: a broader conversion would kill processes Falco would not flag');
  return {
    report: {
      verdict: broader ? 'broader' : 'exact',
      reasons,
      notes: [...notes].sort(),
      hooks: hooked,
      policies: out.map((p) => p.metadata.name),
      action: anyKill ? 'Sigkill' : 'Post',
      blockedBy: broader ? [...blockedBy].sort() : [],
    },
    policies: out,
    dropped: droppedTerms,
  };
}

function hooksFor(
  groups: Map<string, { ns?: string; pod: boolean; hooks: Map<string, HookSelectors> }>,
  nsSet: string[] | undefined,
  pod: boolean,
  evt: string,
  call: string,
  syscall: boolean,
): HookSelectors[] {
  // A namespace list becomes one namespaced policy per namespace: the conjunct's selectors go into each.
  const keys = nsSet
    ? nsSet.map((n) => ({ key: `ns:${n}|${pod}`, ns: n as string | undefined }))
    : [{ key: `cluster|${pod}`, ns: undefined }];
  return keys.map(({ key, ns }) => {
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { ...(ns !== undefined ? { ns } : {}), pod, hooks: new Map() }));
    let h = g.hooks.get(evt);
    if (!h) g.hooks.set(evt, (h = { evt, call, syscall, args: new Map(), selectors: [], seen: new Set() }));
    return h;
  });
}
