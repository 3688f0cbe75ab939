// `weir test`: run PolicyTest files and report per case (text, json, junit).
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { formatDiagnostic } from '../compiler/explain/format.js';
import { runPolicyTests, toJson, toJunit, toText } from '../compiler/policytest/run.js';
import { UsageError, useColor, type Command } from './command.js';
import { choice, commandConfig, parseCommandLine, writeOutput } from './inputs.js';

const usage = `usage: weir test [PATH...] [--format text|json|junit] [--output FILE] [--quiet] [--kernel]

Runs the PolicyTest documents found under PATH (default: policies/tests/). Network cases are
answered by the reference evaluator over the compiled policies; runtime cases (process:) by the
runtime compiler (--kernel, as root: also against the real BPF programs with a probe binary). JSON output: {"passed", "failed", "cases": [{"file", "name", "expect", "actual", "ok"}]}.
Exit 1 if any case fails or a test's policies do not compile.`;

export const testCommand: Command = {
  name: 'test',
  summary: 'run PolicyTest cases against the compiled policies',
  usage,
  async run(argv, io) {
    const { values, positionals } = parseCommandLine(argv, {
      format: { type: 'string', default: 'text' },
      output: { type: 'string', short: 'o' },
      quiet: { type: 'boolean', short: 'q', default: false },
      kernel: { type: 'boolean', default: false },
    });
    const format = choice('--format', values.format, ['text', 'json', 'junit']);
    const paths = positionals.length ? positionals : existsSync(path.join(io.cwd, 'policies', 'tests')) ? ['policies/tests'] : [];
    if (paths.length === 0) throw new UsageError('no PATH given and no policies/tests/ here');
    // The cluster's allow-localhost, as .weir.yaml says (the host reaching its pods is a case like any other).
    const cfg = commandConfig(io.cwd, io.stderr);
    if (!cfg) return 2;
    const allowLocalhost = cfg.config?.allowLocalhost;
    const run = await runPolicyTests(paths, {
      root: io.cwd,
      ...(values.kernel ? { kernel: true } : {}),
      ...(allowLocalhost ? { allowLocalhost } : {}),
    });
    for (const d of run.diagnostics) if (d.severity === 'error' || !values.quiet) io.stderr(formatDiagnostic(d) + '\n');
    if (run.results.length === 0) io.stderr(`weir test: no PolicyTest cases under ${paths.join(', ')}\n`);
    const text =
      format === 'json'
        ? toJson(run)
        : format === 'junit'
          ? toJunit(run)
          : toText(values.quiet ? { ...run, results: run.results.filter((r) => !r.ok) } : run, useColor(io));
    await writeOutput(text, values.output, io.cwd, io.stdout);
    const failed = run.results.some((r) => !r.ok) || run.diagnostics.some((d) => d.severity === 'error');
    return failed ? 1 : 0;
  },
};
