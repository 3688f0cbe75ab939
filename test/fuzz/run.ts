// `npm run fuzz [-- --runs N] [-- --seed S] [-- TARGET...]`: the long fuzz run. Each target runs in a
// child process with a wall-clock limit (a case that never returns counts as a hang instead of
// stopping the run); parsers get N cases each (default 800), CLI entries N/16. Totals and the first
// failures of each target, with the seed that reproduces them, go to bench/fuzz.json.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fuzzTarget, root, targets, type TargetResult } from './targets.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv.splice(i, 2)[1]) : dflt;
};
const runs = opt('runs', 800);
const seed = opt('seed', Math.floor(Date.now() / 1000));
const child = argv.indexOf('--child');

if (child >= 0) {
  // One target in this process: print its result as one JSON line.
  const name = argv[child + 1]!;
  const t = targets.find((x) => x.name === name)!;
  const r = await fuzzTarget(t, t.cli ? Math.max(1, Math.round(runs / 16)) : runs, seed, t.cli ? 60_000 : 10_000);
  process.stdout.write(JSON.stringify(r) + '\n');
  process.exit(0);
}

const wanted = argv.length ? targets.filter((t) => argv.some((a) => t.name.includes(a))) : targets;
const results: TargetResult[] = [];
const started = Date.now();
for (const t of wanted) {
  const limitMs = (t.cli ? 30 : 3) * 60_000;
  const r = await new Promise<TargetResult>((resolve) => {
    const p = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), '--runs', String(runs), '--seed', String(seed), '--child', t.name],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, WEIR_LOG_LEVEL: 'silent' } },
    );
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), limitMs);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as TargetResult);
      } catch {
        // Killed at the wall-clock limit, or died: a hang (or a crash of the process itself).
        resolve({
          target: t.name,
          runs: 0,
          crashes: signal === 'SIGKILL' ? 0 : 1,
          hangs: signal === 'SIGKILL' ? 1 : 0,
          failures: [
            {
              seed,
              index: -1,
              kind: signal === 'SIGKILL' ? 'hang' : 'crash',
              message: `child ${signal ?? `exit ${code}`} after ${limitMs} ms limit`,
              input: '',
            },
          ],
          ms: limitMs,
        });
      }
    });
  });
  results.push(r);
  console.log(
    `${t.name.padEnd(24)} ${String(r.runs).padStart(5)} cases  ${r.crashes} crash(es)  ${r.hangs} hang(s)  ${(r.ms / 1000).toFixed(1)} s`,
  );
  for (const f of r.failures) console.log(`    ${f.kind} at case ${f.index} (seed ${f.seed}): ${f.message}`);
}
const total = {
  cases: results.reduce((a, r) => a + r.runs, 0),
  crashes: results.reduce((a, r) => a + r.crashes, 0),
  hangs: results.reduce((a, r) => a + r.hangs, 0),
};
console.log(
  `\n${total.cases} cases over ${results.length} targets: ${total.crashes} crash(es), ${total.hangs} hang(s) in ${Math.round((Date.now() - started) / 1000)} s (seed ${seed})`,
);
mkdirSync(path.join(root, 'bench'), { recursive: true });
writeFileSync(
  path.join(root, 'bench', 'fuzz.json'),
  JSON.stringify(
    {
      date: new Date().toISOString().slice(0, 10),
      seed,
      machine: `${os.cpus().length} CPUs, load average ${os.loadavg()[0]!.toFixed(1)}`,
      ...total,
      targets: results,
    },
    null,
    2,
  ) + '\n',
);
process.exitCode = total.crashes + total.hangs > 0 ? 1 : 0;
