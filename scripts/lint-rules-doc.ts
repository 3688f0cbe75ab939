// Writes docs/lint-rules.md from the lint rules' meta: `npm run docs:lint-rules`.
import { writeFileSync } from 'node:fs';
import { rulesMarkdown } from '../compiler/lint/docs.js';

writeFileSync(new URL('../docs/lint-rules.md', import.meta.url), rulesMarkdown());
process.stdout.write('docs/lint-rules.md written\n');
