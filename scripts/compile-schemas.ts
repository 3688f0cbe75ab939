// Writes schemas/compiled/: the validators of schemas/*.schema.json as ajv standalone modules
// (compiler/lint/schema-compile.ts), so that a fresh weir process does not compile the schemas.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { schemaDir } from '../compiler/lint/schema.js';
import { compiledDir, compiledFiles } from '../compiler/lint/schema-compile.js';

const dir = schemaDir();
const out = compiledDir(dir);
mkdirSync(out, { recursive: true });
const files = compiledFiles(dir);
let changed = 0;
for (const [name, text] of files) {
  let old: string | undefined;
  try {
    old = readFileSync(join(out, name), 'utf8');
  } catch {
    old = undefined;
  }
  if (old !== text) {
    writeFileSync(join(out, name), text);
    changed++;
  }
}
for (const f of readdirSync(out))
  if (!files.has(f)) {
    rmSync(join(out, f));
    changed++;
  }
process.stderr.write(`schemas/compiled: ${files.size - 1} validators, ${changed} file(s) written or removed\n`);
