// `npm run bench [-- NAME...]`: runs test/bench/*.bench.ts, prints each figure beside its peer,
// and writes bench/results.json, which the README quotes.
import { readdirSync, mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Bench, BenchReport } from './report.js';

const here = dirname(fileURLToPath(import.meta.url));
const filter = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.ts'))
  .filter((f) => filter.length === 0 || filter.some((n) => f.startsWith(n)))
  .sort();
const outFile = join(here, '..', '..', 'bench', 'results.json');
const fresh: Record<string, BenchReport> = {};
let failed = 0;
for (const f of files) {
  const mod = (await import(pathToFileURL(join(here, f)).href)) as { default: Bench };
  let r: BenchReport;
  try {
    r = await mod.default();
  } catch (e) {
    console.error(`${f}: failed: ${(e as Error).stack}`);
    failed++;
    continue;
  }
  fresh[r.name] = r;
  console.log(`\n## ${r.name}\n${r.setup}`);
  if (r.skipped) console.log(`  skipped: ${r.skipped}`);
  for (const x of r.figures) {
    const peer = x.peer ? `   peer ${x.peer.name}: ${fmt(x.peer.value)} ${x.unit}` : '';
    const ratio = x.ratio !== undefined ? `   ratio ${x.ratio.toFixed(2)}` : '';
    const goal = x.goal ? `   goal ${x.goal} ${x.met === undefined ? '' : x.met ? '(met)' : '(NOT met)'}` : '';
    if (x.value === null) console.log(`  ${x.metric}: ${x.unmeasured ?? 'not measured'}`);
    else console.log(`  ${x.metric}: ${fmt(x.value)} ${x.unit}${peer}${ratio}${goal}`);
  }
}
// Merge into what is on disk now (not at start): benchmarks run long, and others may have written meanwhile.
mkdirSync(dirname(outFile), { recursive: true });
const onDisk: Record<string, BenchReport> = existsSync(outFile)
  ? (JSON.parse(readFileSync(outFile, 'utf8')) as Record<string, BenchReport>)
  : {};
writeFileSync(outFile, JSON.stringify({ ...onDisk, ...fresh }, null, 2) + '\n');
console.log(`\nfigures written to bench/results.json`);
process.exitCode = failed > 0 ? 1 : 0;

function fmt(n: number): string {
  return Math.abs(n) >= 100 ? Math.round(n).toLocaleString('en-US') : n.toPrecision(3);
}
