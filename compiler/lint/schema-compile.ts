// The JSON Schemas of schemas/ as validators, two ways with one set of ajv options: compiled by ajv
// in the process (about 170 ms per kind on a cold start), or ahead of time as ajv standalone modules
// in schemas/compiled/ (`npm run schemas:compile`, also run by `npm run build`), which a fresh
// process loads in milliseconds. schemas/compiled/index.json records the digest of the schemas the
// modules were made from; a module is used only while that digest matches the schemas beside it, so
// an edited schema is never checked by a stale module (test/lint/schema-compiled.test.ts fails then).
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Ajv, Options } from 'ajv';

const require = createRequire(import.meta.url);

/** verbose: diagnostics read each error's `data` and `parentSchema`. */
export const ajvOptions: Options = { allErrors: true, strict: false, verbose: true };

export const schemaId = (name: string): string => `https://weir.dev/schemas/${name}.schema.json`;

/** Names (file name without .schema.json) of the schemas in `dir`, sorted. */
export function schemaNames(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.schema.json'))
    .sort()
    .map((f) => f.slice(0, -'.schema.json'.length));
}

/** sha256 over every schema's name and bytes: a compiled module embeds what it refers to, so any schema counts. */
export function schemasDigest(dir: string): string {
  const h = createHash('sha256');
  for (const n of schemaNames(dir))
    h.update(`${n}\0`)
      .update(readFileSync(join(dir, `${n}.schema.json`)))
      .update('\0');
  return h.digest('hex');
}

/** An ajv instance holding every schema of `dir` (ajv is loaded only when this runs). */
export function newAjv(dir: string, extra: Options = {}): Ajv {
  const { Ajv: AjvClass } = require('ajv') as { Ajv: typeof Ajv };
  const ajv = new AjvClass({ ...ajvOptions, ...extra });
  for (const n of schemaNames(dir)) ajv.addSchema(JSON.parse(readFileSync(join(dir, `${n}.schema.json`), 'utf8')) as object);
  return ajv;
}

export const compiledDir = (dir: string): string => join(dir, 'compiled');

export interface CompiledIndex {
  /** What made the modules. */
  generator: string;
  ajv: string;
  /** schemasDigest of the schemas they were made from. */
  schemasSha256: string;
  schemas: string[];
}

/** The files of schemas/compiled/ for the schemas in `dir`: one CommonJS module per schema, and index.json. */
export function compiledFiles(dir: string): Map<string, string> {
  const standaloneCode = (require('ajv/dist/standalone') as { default: (ajv: Ajv, refs: unknown) => string }).default;
  const ajvVersion = (require('ajv/package.json') as { version: string }).version;
  const names = schemaNames(dir);
  const out = new Map<string, string>();
  for (const n of names) {
    // A fresh instance per schema, so each module holds only the validators its schema reaches.
    const ajv = newAjv(dir, { code: { source: true } });
    const v = ajv.getSchema(schemaId(n));
    if (!v) throw new Error(`schema ${n}: no $id ${schemaId(n)}`);
    out.set(
      `${n}.cjs`,
      `// Generated from schemas/${n}.schema.json by \`npm run schemas:compile\` (ajv ${ajvVersion} standalone code); do not edit.\n${standaloneCode(ajv, v)}\n`,
    );
  }
  const index: CompiledIndex = {
    generator: 'npm run schemas:compile',
    ajv: ajvVersion,
    schemasSha256: schemasDigest(dir),
    schemas: names,
  };
  out.set('index.json', `${JSON.stringify(index, null, 2)}\n`);
  return out;
}
