// Structural validation of every input kind against schemas/*.schema.json (ajv, precompiled: schema-compile.ts), with each error
// mapped to the YAML node it is about: an unknown field points at its key, a bad value at the value.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { compiledDir, newAjv, schemaId, schemasDigest, type CompiledIndex } from './schema-compile.js';
import type { Diagnostic } from '../diagnostics.js';
import { kindInfo } from '../load/kinds.js';
import type { NodePath, PolicyDocument } from '../load/index.js';
import { editDistance } from '../model/spelling.js';

const require = createRequire(import.meta.url);

/** Schema diagnostics, documented on the rules page beside the lint rules. */
export const schemaRules = [
  {
    id: 'schema/unknown-field',
    description: 'A field the kind does not have (often a typo or a field at the wrong level); the API server drops or rejects it.',
  },
  {
    id: 'schema/field-case',
    description:
      'A field spelled with the wrong case (`HTTP` for `http`); Go tolerates it, the API server prunes it, and whatever it restricted is lost.',
  },
  { id: 'schema/missing-field', description: 'A required field is absent.' },
  { id: 'schema/type', description: 'A value has the wrong type (a string where a list is expected, ...).' },
  {
    id: 'schema/value',
    description: 'A value outside the allowed set (enums such as protocols and entities, constants such as apiVersion).',
  },
  { id: 'schema/invalid', description: 'Any other structural constraint of the schema (minimum, length, one of several shapes).' },
] as const;

/** Finds schemas/ from the sources (compiler/lint) or the build (dist/compiler/lint). */
export function schemaDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const up of ['../../schemas', '../../../schemas']) {
    const d = join(here, up);
    if (existsSync(join(d, 'lint-report.schema.json'))) return d;
  }
  throw new Error(`weir: cannot find the schemas/ folder near ${here}; reinstall weir`);
}

interface Validators {
  get(name: string): ValidateFunction;
  /** Whether the modules of schemas/compiled/ serve (false: ajv compiles in the process). */
  precompiled: boolean;
}

/** The validators of the schemas in `dir`: its compiled modules while they match the schemas, else ajv. */
export function openValidators(dir: string): Validators {
  const compiled = compiledDir(dir);
  let index: CompiledIndex | undefined;
  try {
    index = JSON.parse(readFileSync(join(compiled, 'index.json'), 'utf8')) as CompiledIndex;
  } catch {
    index = undefined;
  }
  const precompiled = index !== undefined && index.schemasSha256 === schemasDigest(dir);
  const cache = new Map<string, ValidateFunction>();
  let ajv: ReturnType<typeof newAjv> | undefined;
  return {
    precompiled,
    get(name) {
      let v = cache.get(name);
      if (v) return v;
      if (precompiled && index!.schemas.includes(name)) v = require(join(compiled, `${name}.cjs`)) as ValidateFunction;
      else {
        ajv ??= newAjv(dir);
        v = ajv.getSchema(schemaId(name));
        if (!v) throw new Error(`weir: schema ${name} is not in schemas/`);
      }
      cache.set(name, v);
      return v;
    },
  };
}

let validators: Validators | undefined;
const validator = (name: string): ValidateFunction => (validators ??= openValidators(schemaDir())).get(name);

/** Validates a value against a named schema (for output documents such as the lint report). */
export function validateAgainst(name: string, value: unknown): string[] {
  const v = validator(name);
  if (v(value)) return [];
  return (v.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`);
}

function pointerToPath(p: string): (string | number)[] {
  if (p === '') return [];
  return p
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** The closest candidate within a small edit distance, for "did you mean". */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

function where(path: NodePath): string {
  return path.length === 0
    ? 'the document'
    : `\`${path
        .map((s) => (typeof s === 'number' ? `[${s}]` : s))
        .join('.')
        .replace(/\.\[/g, '[')}\``;
}

function toDiagnostic(doc: PolicyDocument, e: ErrorObject): { rule: string; message: string; path: NodePath; key: boolean } {
  const path = pointerToPath(e.instancePath);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const field = String(params['additionalProperty']);
      const props = Object.keys(((e.parentSchema as Record<string, unknown> | undefined)?.['properties'] as object | undefined) ?? {});
      const sameCase = props.find((p) => p.toLowerCase() === field.toLowerCase());
      if (sameCase)
        return {
          rule: 'schema/field-case',
          message: `field \`${field}\` must be spelled \`${sameCase}\`: Kubernetes field names are case-sensitive, so the API server prunes \`${field}\` and everything under it is lost`,
          path: [...path, field],
          key: true,
        };
      const guess = closest(field, props);
      return {
        rule: 'schema/unknown-field',
        message: `unknown field \`${field}\` in ${where(path)} of ${doc.kind}${guess ? `; did you mean \`${guess}\`?` : props.length > 0 && props.length <= 12 ? `; expected one of ${props.join(', ')}` : ''}`,
        path: [...path, field],
        key: true,
      };
    }
    case 'required':
      return {
        rule: 'schema/missing-field',
        message: `${where(path)} of ${doc.kind} needs the field \`${String(params['missingProperty'])}\``,
        path,
        key: path.length > 0,
      };
    case 'type':
      // A null value is a key with nothing after it: point at the key, where the author looks.
      return {
        rule: 'schema/type',
        message: `${where(path)} must be ${String(params['type']).replace(',', ' or ')}, not ${Array.isArray(e.data) ? 'a list' : e.data === null ? 'empty (null)' : typeof e.data === 'object' ? 'a mapping' : typeof e.data}`,
        path,
        key: e.data === null,
      };
    case 'enum': {
      const allowed = (params['allowedValues'] as unknown[]).map(String);
      const guess = typeof e.data === 'string' ? closest(e.data, allowed) : undefined;
      return {
        rule: 'schema/value',
        message: `${where(path)} is \`${String(e.data)}\`; allowed: ${allowed.join(', ')}${guess ? ` (did you mean \`${guess}\`?)` : ''}`,
        path,
        key: false,
      };
    }
    case 'const':
      return {
        rule: 'schema/value',
        message: `${where(path)} must be \`${String(params['allowedValue'])}\`, not \`${String(e.data)}\``,
        path,
        key: false,
      };
    case 'anyOf':
      if (path.length === 0 && doc.family === 'network')
        return { rule: 'schema/missing-field', message: `${doc.kind} needs \`spec\` or \`specs\``, path, key: false };
      return { rule: 'schema/invalid', message: `${where(path)} matches none of the allowed shapes`, path, key: false };
    default:
      return { rule: 'schema/invalid', message: `${where(path)} ${e.message ?? 'is invalid'}`, path, key: false };
  }
}

/** Most schema diagnostics reported per document: past this, they are noise around one root mistake. */
const maxPerDocument = 20;

/** Validates a document against the schema of its kind; [] for kinds without a schema. */
export function validateDocument(doc: PolicyDocument): Diagnostic[] {
  const info = kindInfo(doc.kind);
  if (!info?.schema) return [];
  const v = validator(info.schema);
  if (v(doc.value)) return [];
  const out: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const e of v.errors ?? []) {
    // anyOf branch errors ("must have required property spec") repeat what the anyOf error says.
    if (e.schemaPath.includes('/anyOf/')) continue;
    const d = toDiagnostic(doc, e);
    const span = doc.locate(d.path, { key: d.key });
    const id = `${d.rule}@${span.line}:${span.column}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({
      rule: d.rule,
      severity: 'error',
      message: d.message,
      ...span,
      ...(doc.provenance.commit ? { commit: doc.provenance.commit } : {}),
    });
    if (out.length >= maxPerDocument) break;
  }
  return out;
}
