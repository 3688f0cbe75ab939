// Validators for weir's SARIF output: the official OASIS SARIF 2.1.0 schema (vendored under
// test/schemas/sarif, draft-04, so ajv-draft-04) and Microsoft's SARIF Multitool with the
// SARIF and GitHub code-scanning rule sets.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import AjvDraft04 from 'ajv-draft-04';
import type { ValidateFunction } from 'ajv';

const schemaFile = path.resolve(import.meta.dirname, '../schemas/sarif/sarif-schema-2.1.0.json');

// The schema's string formats, strictly: an absolute URI has a scheme; a reference resolves.
const formats = {
  uri: (s: string) => /^[a-z][a-z0-9+.-]*:/i.test(s) && URL.canParse(s) && !/\s/.test(s),
  'uri-reference': (s: string) => URL.canParse(s, 'file:///base/') && !/\s/.test(s),
  'date-time': (s: string) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) && !Number.isNaN(Date.parse(s)),
};

let compiled: ValidateFunction | undefined;

/** Schema errors of a SARIF log (empty when valid). */
export function sarifSchemaErrors(log: unknown): string[] {
  const validate = (compiled ??= new AjvDraft04.default({ allErrors: true, strict: false, formats }).compile(
    JSON.parse(readFileSync(schemaFile, 'utf8')) as object,
  ));
  if (validate(log)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}

/** The SARIF Multitool binary for this platform, from the @microsoft/sarif-multitool dev dependency. */
export function multitool(): string {
  const require = createRequire(import.meta.url);
  return require('@microsoft/sarif-multitool') as string;
}

/** Errors and warnings the SARIF Multitool (`validate`, rule kinds Sarif and Gh) reports for a log. */
export function multitoolFindings(log: string): string[] {
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-sarif-mt-'));
  try {
    const input = path.join(dir, 'in.sarif');
    const output = path.join(dir, 'out.sarif');
    writeFileSync(input, log);
    const r = spawnSync(
      multitool(),
      ['validate', input, '--rule-kind', 'Sarif;Gh', '--level', 'Error;Warning', '--output', output, '--log', 'ForceOverwrite', '--quiet'],
      {
        // The tool's globalization needs ICU otherwise; nothing it checks depends on culture.
        env: { ...process.env, DOTNET_SYSTEM_GLOBALIZATION_INVARIANT: '1', DOTNET_CLI_TELEMETRY_OPTOUT: '1' },
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    // It exits non-zero when it reports errors; no output file means it could not run at all.
    if (r.error || !existsSync(output))
      throw new Error(`SARIF Multitool did not run (exit ${r.status}): ${r.error?.message ?? ''}${r.stdout}${r.stderr}`);
    const out = JSON.parse(readFileSync(output, 'utf8')) as {
      runs: { results?: { ruleId: string; level?: string; message: { id?: string; arguments?: string[]; text?: string } }[] }[];
    };
    return (out.runs[0]?.results ?? []).map(
      (r) => `${r.level ?? 'warning'} ${r.ruleId} ${JSON.stringify(r.message.arguments ?? r.message.text)}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
