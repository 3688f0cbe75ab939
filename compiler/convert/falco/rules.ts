// The Falco rules loader: collects lists, macros and rules from rules files in order, applies appends and
// overrides as Falco's rule_loader does, then compiles every condition (parse, list substitution, macro
// expansion, exceptions) into one resolved AST per rule. Every mistake is a diagnostic at file:line:col.
import { diagnostic, type Diagnostic, type Span } from '../../diagnostics.js';
import type { FalcoRulesDocument } from '../../load/index.js';
import { isObj } from '../../model/value.js';
import type { Expr, StringValue, TransformerArg, Value } from './ast.js';
import { parseCondition } from './parser.js';
import { printString } from './printer.js';
import { LineIndex, mapScalar, MappedText } from './source-text.js';

/** The engine version whose condition grammar and rule schema weir implements. */
export const supportedEngineVersion = '0.57.0';

export const priorities = ['EMERGENCY', 'ALERT', 'CRITICAL', 'ERROR', 'WARNING', 'NOTICE', 'INFORMATIONAL', 'DEBUG'] as const;
export type Priority = (typeof priorities)[number];

export interface Origin {
  file: string;
  line: number;
  column: number;
  /** Index of the item in its file. */
  index: number;
}

export interface FalcoList {
  name: string;
  items: string[];
  origin: Origin;
}

export interface FalcoMacro {
  name: string;
  condition: MappedText;
  origin: Origin;
}

export interface FalcoException {
  name: string;
  fields: string | string[];
  comps?: string | string[];
  values: unknown[];
  span: Span;
}

export interface FalcoRule {
  name: string;
  condition: MappedText;
  output: string;
  desc: string;
  priority: Priority;
  source: string;
  enabled: boolean;
  tags: string[];
  exceptions: FalcoException[];
  warnEvttypes: boolean;
  skipIfUnknownFilter: boolean;
  origin: Origin;
}

export interface RequiredPlugin {
  name: string;
  version: string;
  alternatives: { name: string; version: string }[];
}

export interface FalcoRuleset {
  lists: Map<string, FalcoList>;
  macros: Map<string, FalcoMacro>;
  /** In definition order (Falco evaluates and reports in this order). */
  rules: Map<string, FalcoRule>;
  requiredEngineVersion?: string;
  requiredPlugins: RequiredPlugin[];
  /** Definitions seen per kind, counting redefinitions (what a reviewer counts in the files). */
  counts: { rules: number; macros: number; lists: number };
  diagnostics: Diagnostic[];
}

/** Collects the items of rules files in the order given (Falco loads files in command-line order). */
export function collectRules(docs: readonly FalcoRulesDocument[], sources: ReadonlyMap<string, string>): FalcoRuleset {
  const rs: FalcoRuleset = {
    lists: new Map(),
    macros: new Map(),
    rules: new Map(),
    requiredPlugins: [],
    counts: { rules: 0, macros: 0, lists: 0 },
    diagnostics: [],
  };
  for (const doc of docs) {
    const file = doc.provenance.file;
    const src = sources.get(file) ?? '';
    const lines = new LineIndex(src);
    doc.items.forEach((item, i) => collectItem(rs, doc, src, lines, item, i));
  }
  return rs;
}

const ruleAppendKeys = new Set(['condition', 'output', 'desc', 'tags', 'exceptions']);
const ruleReplaceKeys = new Set([
  'condition',
  'output',
  'desc',
  'priority',
  'tags',
  'exceptions',
  'enabled',
  'warn_evttypes',
  'skip-if-unknown-filter',
]);

function collectItem(rs: FalcoRuleset, doc: FalcoRulesDocument, src: string, lines: LineIndex, item: unknown, i: number): void {
  const at = (path: (string | number)[], key = false) => doc.locate([i, ...path], { key });
  const err = (rule: string, message: string, span: Span, severity: 'error' | 'warning' = 'error') =>
    rs.diagnostics.push(diagnostic(rule, severity, message, span));
  if (!isObj(item)) {
    err(
      'falco/bad-item',
      'rules file item is not a mapping; each item is a `rule`, `macro`, `list`, `required_engine_version` or `required_plugin_versions`',
      at([]),
    );
    return;
  }
  const o = item;
  const span = at([]);
  const origin: Origin = { file: span.file, line: span.line, column: span.column, index: i };
  const text = (key: string): MappedText | undefined => {
    const v = o[key];
    if (typeof v !== 'string') return undefined;
    const s = at([key]);
    const start = lines.offset(s.line, s.column);
    const end = lines.offset(s.endLine, s.endColumn);
    return MappedText.lazy(v, s.file, () => mapScalar(src, start, end, v) ?? new Int32Array(v.length + 1).fill(start), lines);
  };
  if ('required_engine_version' in o) {
    const v = o['required_engine_version'];
    const version = normaliseEngineVersion(v);
    if (!version)
      err(
        'falco/engine-version',
        `required_engine_version \`${String(v)}\` is not a version (write e.g. 0.57.0)`,
        at(['required_engine_version']),
      );
    else {
      if (compareVersions(version, supportedEngineVersion) > 0)
        err(
          'falco/engine-version',
          `rules require engine version ${version}; weir implements the Falco engine ${supportedEngineVersion}. Falco refuses such a file; weir converts what it understands, check the report`,
          at(['required_engine_version']),
        );
      if (!rs.requiredEngineVersion || compareVersions(version, rs.requiredEngineVersion) > 0) rs.requiredEngineVersion = version;
    }
    return;
  }
  if ('required_plugin_versions' in o) {
    const v = o['required_plugin_versions'];
    if (!Array.isArray(v))
      return void err('falco/bad-item', '`required_plugin_versions` must be a list of {name, version}', at(['required_plugin_versions']));
    for (const p of v) {
      if (!p || typeof p !== 'object') continue;
      const r = p as Record<string, unknown>;
      const alts = Array.isArray(r['alternatives'])
        ? (r['alternatives'] as Record<string, unknown>[]).map((a) => ({ name: String(a['name']), version: String(a['version']) }))
        : [];
      rs.requiredPlugins.push({ name: String(r['name']), version: String(r['version']), alternatives: alts });
    }
    return;
  }
  const kind = 'rule' in o ? 'rule' : 'macro' in o ? 'macro' : 'list' in o ? 'list' : undefined;
  if (!kind) {
    err(
      'falco/bad-item',
      `unknown rules file item with keys ${Object.keys(o).join(', ')}; expected rule, macro, list, required_engine_version or required_plugin_versions`,
      span,
      'warning',
    );
    return;
  }
  const name = o[kind];
  if (typeof name !== 'string' || name === '') return void err('falco/bad-item', `\`${kind}\` needs a name`, at([kind]));
  const legacyAppend = o['append'] === true;
  const override = o['override'];
  if (legacyAppend && override !== undefined)
    return void err(
      'falco/bad-override',
      `${kind} \`${name}\`: \`append\` and \`override\` cannot be used together`,
      at(['override'], true),
    );
  const overrides: Record<string, 'append' | 'replace'> = {};
  if (override !== undefined) {
    if (!isObj(override)) return void err('falco/bad-override', '`override` must map keys to `append` or `replace`', at(['override']));
    for (const [k, mode] of Object.entries(override)) {
      if (mode !== 'append' && mode !== 'replace')
        return void err(
          'falco/bad-override',
          `override of \`${k}\` must be \`append\` or \`replace\`, not \`${String(mode)}\``,
          at(['override', k]),
        );
      if (!(k in o))
        return void err('falco/bad-override', `${kind} \`${name}\` overrides \`${k}\` but has no \`${k}\` key`, at(['override', k], true));
      overrides[k] = mode;
    }
  }
  if (kind === 'list') {
    rs.counts.lists++;
    const items = o['items'];
    if (!Array.isArray(items)) return void err('falco/missing-key', `list \`${name}\` has no \`items\` sequence`, at(['list']));
    const values = items.map((x) => String(x));
    const prev = rs.lists.get(name);
    const mode = legacyAppend ? 'append' : overrides['items'];
    if (mode) {
      if (!prev)
        return void err(
          'falco/unknown-list',
          `list \`${name}\` is appended to or overridden but no list by that name was defined before`,
          at(['list']),
        );
      prev.items = mode === 'append' ? [...prev.items, ...values] : values;
      return;
    }
    rs.lists.set(name, { name, items: values, origin });
    return;
  }
  if (kind === 'macro') {
    rs.counts.macros++;
    const cond = text('condition');
    if (!cond) return void err('falco/missing-key', `macro \`${name}\` has no \`condition\` string`, at(['macro']));
    const prev = rs.macros.get(name);
    const mode = legacyAppend ? 'append' : overrides['condition'];
    if (mode) {
      if (!prev)
        return void err(
          'falco/unknown-macro',
          `macro \`${name}\` is appended to or overridden but no macro by that name was defined before`,
          at(['macro']),
        );
      prev.condition = mode === 'append' ? prev.condition.concat(MappedText.synthetic(' ', cond), cond) : cond;
      return;
    }
    rs.macros.set(name, { name, condition: cond, origin });
    return;
  }
  // rule
  rs.counts.rules++;
  const prev = rs.rules.get(name);
  const keys = Object.keys(o).filter((k) => k !== 'rule' && k !== 'append' && k !== 'override');
  const enabledOnly = !legacyAppend && override === undefined && keys.length === 1 && keys[0] === 'enabled';
  if (legacyAppend || override !== undefined || enabledOnly) {
    if (!prev)
      return void err(
        'falco/unknown-rule',
        `rule \`${name}\` is ${enabledOnly ? 'enabled/disabled' : 'appended to or overridden'} but no rule by that name was defined before; define it first or check the spelling`,
        at(['rule']),
      );
    if (enabledOnly) {
      prev.enabled = o['enabled'] !== false;
      return;
    }
    for (const k of keys) {
      const mode = legacyAppend ? 'append' : overrides[k];
      if (!mode) {
        err('falco/bad-override', `rule \`${name}\`: key \`${k}\` is not listed in \`override\`; it is ignored`, at([k], true), 'warning');
        continue;
      }
      if (legacyAppend && !ruleAppendKeys.has(k)) continue;
      if (mode === 'append' && !ruleAppendKeys.has(k)) {
        err(
          'falco/bad-override',
          `rule \`${name}\`: \`${k}\` cannot be appended; allowed: ${[...ruleAppendKeys].join(', ')}`,
          at(['override', k]),
        );
        continue;
      }
      if (mode === 'replace' && !ruleReplaceKeys.has(k)) {
        err(
          'falco/bad-override',
          `rule \`${name}\`: \`${k}\` cannot be replaced; allowed: ${[...ruleReplaceKeys].join(', ')}`,
          at(['override', k]),
        );
        continue;
      }
      applyRuleKey(prev, k, mode, o, text, at, rs);
    }
    return;
  }
  const cond = text('condition');
  for (const k of ['condition', 'output', 'desc', 'priority']) {
    if (!(k in o)) return void err('falco/missing-key', `rule \`${name}\` has no \`${k}\``, at(['rule']));
  }
  if (!cond) return void err('falco/missing-key', `rule \`${name}\`: \`condition\` must be a string`, at(['condition']));
  const priority = parsePriority(o['priority']);
  if (!priority)
    return void err(
      'falco/bad-priority',
      `rule \`${name}\`: priority \`${String(o['priority'])}\` is not one of ${priorities.join(', ')}`,
      at(['priority']),
    );
  const rule: FalcoRule = {
    name,
    condition: cond,
    output: String(o['output'] ?? ''),
    desc: String(o['desc'] ?? ''),
    priority,
    source: typeof o['source'] === 'string' ? o['source'] : 'syscall',
    enabled: o['enabled'] !== false,
    tags: Array.isArray(o['tags']) ? o['tags'].map(String) : [],
    exceptions: parseExceptions(o['exceptions'], (p) => at(['exceptions', ...p]), rs),
    warnEvttypes: o['warn_evttypes'] !== false,
    skipIfUnknownFilter: o['skip-if-unknown-filter'] === true,
    origin,
  };
  // Redefining a rule replaces it in place, as Falco does.
  rs.rules.set(name, rule);
}

function applyRuleKey(
  rule: FalcoRule,
  k: string,
  mode: 'append' | 'replace',
  o: Record<string, unknown>,
  text: (key: string) => MappedText | undefined,
  at: (path: (string | number)[], key?: boolean) => Span,
  rs: FalcoRuleset,
): void {
  const v = o[k];
  switch (k) {
    case 'condition': {
      const c = text('condition');
      if (c) rule.condition = mode === 'append' ? rule.condition.concat(MappedText.synthetic(' ', c), c) : c;
      return;
    }
    case 'output':
      rule.output = mode === 'append' ? `${rule.output} ${String(v)}` : String(v);
      return;
    case 'desc':
      rule.desc = mode === 'append' ? `${rule.desc} ${String(v)}` : String(v);
      return;
    case 'tags': {
      const t = Array.isArray(v) ? v.map(String) : [];
      rule.tags = mode === 'append' ? [...rule.tags, ...t] : t;
      return;
    }
    case 'exceptions': {
      const ex = parseExceptions(v, (p) => at(['exceptions', ...p]), rs);
      if (mode === 'replace') rule.exceptions = ex;
      else
        for (const e of ex) {
          // Appending an exception of an existing name appends its values (Falco's behaviour).
          const same = rule.exceptions.find((x) => x.name === e.name);
          if (same) same.values = [...same.values, ...e.values];
          else rule.exceptions.push(e);
        }
      return;
    }
    case 'priority': {
      const p = parsePriority(v);
      if (p) rule.priority = p;
      else
        rs.diagnostics.push(
          diagnostic('falco/bad-priority', 'error', `priority \`${String(v)}\` is not one of ${priorities.join(', ')}`, at(['priority'])),
        );
      return;
    }
    case 'enabled':
      rule.enabled = v !== false;
      return;
    case 'warn_evttypes':
      rule.warnEvttypes = v !== false;
      return;
    case 'skip-if-unknown-filter':
      rule.skipIfUnknownFilter = v === true;
      return;
  }
}

function parseExceptions(v: unknown, at: (p: (string | number)[]) => Span, rs: FalcoRuleset): FalcoException[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    rs.diagnostics.push(diagnostic('falco/bad-exception', 'error', '`exceptions` must be a list', at([])));
    return [];
  }
  const out: FalcoException[] = [];
  v.forEach((e, k) => {
    if (!e || typeof e !== 'object') return;
    const r = e as Record<string, unknown>;
    const fields = r['fields'];
    if (typeof r['name'] !== 'string' || (typeof fields !== 'string' && !Array.isArray(fields))) {
      rs.diagnostics.push(diagnostic('falco/bad-exception', 'error', 'an exception needs a `name` and `fields`', at([k])));
      return;
    }
    const comps = r['comps'];
    out.push({
      name: r['name'],
      fields: typeof fields === 'string' ? fields : fields.map(String),
      ...(comps === undefined ? {} : { comps: typeof comps === 'string' ? comps : (comps as unknown[]).map(String) }),
      values: Array.isArray(r['values']) ? r['values'] : [],
      span: at([k]),
    });
  });
  return out;
}

function parsePriority(v: unknown): Priority | undefined {
  if (typeof v !== 'string') return undefined;
  const u = v.toUpperCase();
  if (u === 'INFO') return 'INFORMATIONAL';
  return (priorities as readonly string[]).includes(u) ? (u as Priority) : undefined;
}

/** `0.57.0`, or the old integer form `10` meaning 0.10.0. */
export function normaliseEngineVersion(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return `0.${v}.0`;
  if (typeof v === 'string' && /^\d+\.\d+\.\d+$/.test(v.trim())) return v.trim();
  if (typeof v === 'string' && /^\d+$/.test(v.trim())) return `0.${v.trim()}.0`;
  return undefined;
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/** The condition of a rule with its exceptions appended as `and not (...)`, the text Falco compiles. */
export function conditionWithExceptions(rule: FalcoRule): MappedText {
  if (rule.exceptions.length === 0) return rule.condition;
  let out = MappedText.synthetic('(', rule.condition).concat(
    rule.condition,
    MappedText.synthetic(')', rule.condition, rule.condition.text.length),
  );
  for (const ex of rule.exceptions) {
    const t = exceptionText(ex);
    if (t === undefined) continue;
    const anchor = MappedText.synthetic(t, rule.condition);
    // Anchor exception text at the exception's YAML node so errors point there.
    const located = spanAnchored(t, ex.span, rule.condition);
    out = out.concat(MappedText.synthetic(' and not (', anchor), located, MappedText.synthetic(')', anchor));
  }
  return out;
}

function spanAnchored(text: string, span: Span, like: MappedText): MappedText {
  return like.anchoredAt(text, span);
}

/** Builds the condition of one exception: `f in (v...)` for a single field, `(f1 c1 v1 and f2 c2 v2) or ...` for tuples. */
export function exceptionText(ex: FalcoException): string | undefined {
  if (ex.values.length === 0) return undefined;
  const val = (v: unknown): string =>
    Array.isArray(v) ? `(${v.map((x) => printString({ value: String(x) })).join(', ')})` : printString({ value: String(v) });
  if (typeof ex.fields === 'string') {
    const comp = typeof ex.comps === 'string' ? ex.comps : 'in';
    return `${ex.fields} ${comp} (${ex.values.map((v) => printString({ value: String(v) })).join(', ')})`;
  }
  const fields = ex.fields;
  const comps = Array.isArray(ex.comps) ? ex.comps : fields.map(() => '=');
  const rows = ex.values
    .filter(Array.isArray)
    .map((row) => `(${fields.map((f, j) => `${f} ${comps[j] ?? '='} ${val(row[j])}`).join(' and ')})`);
  return rows.length === 0 ? undefined : rows.join(' or ');
}

export interface CompiledRule {
  rule: FalcoRule;
  /** The resolved condition (macros expanded, lists substituted); undefined when it does not compile. */
  expr?: Expr;
  /** The full condition text with exceptions, for reports. */
  text: string;
  /** Why Falco would skip this rule at load time (skip-if-unknown-filter). */
  skipped?: string;
  diagnostics: Diagnostic[];
}

/** Parses and resolves every macro and rule. Macros may refer to any macro of the ruleset (Falco resolves after loading). */
export function compileRules(rs: FalcoRuleset): { rules: CompiledRule[]; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const parsedMacros = new Map<string, { expr?: Expr; text: MappedText }>();
  for (const m of rs.macros.values()) {
    const r = parseCondition(m.condition.text);
    if (r.ok) parsedMacros.set(m.name, { expr: r.expr, text: m.condition });
    else {
      parsedMacros.set(m.name, { text: m.condition });
      diagnostics.push(
        diagnostic('falco/syntax', 'error', `macro \`${m.name}\`: ${r.error.message}`, m.condition.span(r.error.start, r.error.end)),
      );
    }
  }
  const resolvedMacros = new Map<string, Expr | null>();
  const resolving = new Set<string>();
  const resolveMacro = (name: string, diags: Diagnostic[], useSpan: Span): Expr | undefined => {
    const done = resolvedMacros.get(name);
    if (done !== undefined) return done ?? undefined;
    const pm = parsedMacros.get(name)!;
    if (!pm.expr) return undefined;
    if (resolving.has(name)) {
      diags.push(
        diagnostic('falco/macro-cycle', 'error', `macro \`${name}\` refers to itself through ${[...resolving].join(' → ')}`, useSpan),
      );
      return undefined;
    }
    resolving.add(name);
    const local: Diagnostic[] = [];
    const r = resolve(pm.expr, pm.text, local);
    resolving.delete(name);
    diags.push(...local);
    resolvedMacros.set(name, local.some((d) => d.severity === 'error') ? null : r);
    return local.some((d) => d.severity === 'error') ? undefined : r;
  };
  const substitute = (v: Value, text: MappedText, diags: Diagnostic[]): Value => {
    if (v.kind === 'listref') {
      const l = rs.lists.get(v.name);
      diags.push(
        diagnostic(
          'falco/list-outside-parens',
          'error',
          l
            ? `list \`${v.name}\` is used outside parentheses; write \`(${v.name})\``
            : `\`${v.name}\` after a list operator must be a list in parentheses, e.g. \`(${v.name})\``,
          text.span(v.start, v.end),
        ),
      );
      return v;
    }
    if (v.kind !== 'list') return v;
    const items: StringValue[] = [];
    for (const it of v.items) {
      const l = it.quote === undefined ? rs.lists.get(it.value) : undefined;
      if (l) for (const x of expandList(l, rs.lists, new Set())) items.push({ ...listItemValue(x), start: it.start, end: it.end });
      else items.push(it);
    }
    return { ...v, items };
  };
  const resolve = (e: Expr, text: MappedText, diags: Diagnostic[]): Expr => {
    switch (e.kind) {
      case 'and':
      case 'or':
        return { ...e, children: e.children.map((c) => resolve(c, text, diags)) };
      case 'not':
        return { ...e, child: resolve(e.child, text, diags) };
      case 'identifier': {
        if (!parsedMacros.has(e.name)) {
          const hint = rs.lists.has(e.name)
            ? ` (\`${e.name}\` is a list; use it after an operator, e.g. \`proc.name in (${e.name})\`)`
            : '';
          diags.push(
            diagnostic('falco/undefined-macro', 'error', `undefined macro \`${e.name}\` used in filter${hint}`, text.span(e.start, e.end)),
          );
          return e;
        }
        const m = resolveMacro(e.name, diags, text.span(e.start, e.end));
        if (!m) {
          if (!diags.some((d) => d.severity === 'error'))
            diags.push(
              diagnostic(
                'falco/broken-macro',
                'error',
                `macro \`${e.name}\` does not compile (see its diagnostic)`,
                text.span(e.start, e.end),
              ),
            );
          return e;
        }
        return m;
      }
      case 'check':
        return e.right ? { ...e, right: substitute(e.right, text, diags) } : e;
    }
  };
  const rules: CompiledRule[] = [];
  for (const rule of rs.rules.values()) {
    const text = conditionWithExceptions(rule);
    const diags: Diagnostic[] = [];
    const r = parseCondition(text.text);
    if (!r.ok) {
      diags.push(diagnostic('falco/syntax', 'error', `rule \`${rule.name}\`: ${r.error.message}`, text.span(r.error.start, r.error.end)));
      rules.push({ rule, text: text.text, diagnostics: diags });
      continue;
    }
    const expr = rule.source === 'syscall' ? resolve(r.expr, text, diags) : r.expr;
    let ok = !diags.some((d) => d.severity === 'error');
    let skipped: string | undefined;
    if (ok && rule.source === 'syscall') {
      const unknown = unknownFields(expr);
      if (unknown.length > 0 && rule.skipIfUnknownFilter)
        skipped = `skip-if-unknown-filter: the condition uses ${unknown.join(', ')}, unknown to the syscall source; Falco skips the rule`;
      else if (unknown.length > 0) {
        // The resolved tree mixes macro texts, so the rule's condition is the place we can name exactly.
        diags.push(
          diagnostic(
            'falco/unknown-field',
            'error',
            `rule \`${rule.name}\` uses ${unknown.join(', ')}, not a field of the syscall source; Falco refuses the rule (set skip-if-unknown-filter: true to skip it)`,
            rule.condition.span(0, 0),
          ),
        );
        ok = false;
      }
    }
    rules.push({ rule, ...(ok ? { expr } : {}), ...(skipped ? { skipped } : {}), text: text.text, diagnostics: diags });
  }
  for (const r of rules) diagnostics.push(...r.diagnostics);
  return { rules, diagnostics: dedupe(diagnostics) };
}

/** Field classes of Falco's syscall source (libsinsp filterchecks and the container plugin). */
const syscallFieldClasses = new Set([
  'evt',
  'proc',
  'thread',
  'fd',
  'fdlist',
  'user',
  'group',
  'container',
  'k8s',
  'syscall',
  'fs',
  'span',
  'mesos',
  'marathon',
  'evtin',
  'proc_group',
]);

function unknownFields(e: Expr): string[] {
  const out = new Set<string>();
  const field = (f: TransformerArg) => {
    if (f.kind === 'field') {
      if (!syscallFieldClasses.has(f.name.slice(0, f.name.indexOf('.')))) out.add(f.name);
    } else if (f.kind === 'transformer') f.args.forEach(field);
    else if (f.kind === 'tlist') f.items.forEach(field);
  };
  const walk = (x: Expr) => {
    if (x.kind === 'and' || x.kind === 'or') x.children.forEach(walk);
    else if (x.kind === 'not') walk(x.child);
    else if (x.kind === 'check') {
      field(x.left);
      if (x.right && (x.right.kind === 'field' || x.right.kind === 'transformer')) field(x.right);
    }
  };
  walk(e);
  return [...out].sort();
}

/**
 * A list item as Falco reads it: the item's text goes into the condition as written (Falco substitutes list
 * names textually), so an item written with quotes, such as '"75-system-updat"', is a quoted string.
 */
function listItemValue(item: string): Pick<StringValue, 'kind' | 'value' | 'quote'> {
  const q = item[0];
  if ((q === '"' || q === "'") && item.length >= 2 && item.endsWith(q)) {
    const r = parseCondition(`a.b = ${item}`);
    if (r.ok && r.expr.kind === 'check' && r.expr.right?.kind === 'value' && r.expr.right.end === item.length + 6)
      return { kind: 'value', value: r.expr.right.value, quote: q };
  }
  return { kind: 'value', value: item };
}

/** List-in-list: an item naming a list expands to that list's items (Falco resolves nested lists when compiling). */
function expandList(l: FalcoList, lists: ReadonlyMap<string, FalcoList>, seen: Set<string>): string[] {
  if (seen.has(l.name)) return [];
  seen.add(l.name);
  const out: string[] = [];
  for (const it of l.items) {
    const inner = lists.get(it);
    if (inner && inner !== l) out.push(...expandList(inner, lists, seen));
    else out.push(it);
  }
  return out;
}

function dedupe(ds: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return ds.filter((d) => {
    const k = `${d.file}:${d.line}:${d.column}:${d.rule}:${d.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
