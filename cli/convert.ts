// `weir convert falco|psp|pss`: carry Falco rules and pod security settings over to TracingPolicies, with a
// report that says per rule what is exact, what is broader and what cannot be converted.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { hasErrors } from '../compiler/diagnostics.js';
import { isFalcoRules, loadPolicies } from '../compiler/load/index.js';
import { convertFalco, convertProfiles, type EnforceSpec } from '../compiler/convert/falco/index.js';
import { priorities, type Priority } from '../compiler/convert/falco/rules.js';
import { convertPsp, pssSpec, type PspConversion } from '../compiler/convert/psp.js';
import { falcoReportJson, falcoReportText, formatDiagnostic, pspReportJson, pspReportText } from '../compiler/convert/report.js';
import type { TracingPolicy } from '../compiler/convert/tracing-policy.js';
import { UsageError, type Command, type CommandIO } from './command.js';

const usage = `usage:
  weir convert falco FILE... [--out DIR] [--report text|json] [--output FILE] [--enforce SPEC]... [--allow-broader] [--allow-host-wide-kill] [--profile tracepoint-only|full] [--quiet]
  weir convert psp FILE... [--out DIR] [--report text|json] [--output FILE] [--enforce]
  weir convert pss baseline|restricted [--out DIR] [--report text|json] [--output FILE] [--enforce]

Writes one TracingPolicy per converted rule (file per policy with --out DIR, else a YAML stream on stdout)
and a report: per rule exact / broader / not convertible with the reasons, and totals. The report goes to
--output FILE, else to stdout when --out is given, else to stderr.

  --enforce SPEC     falco: Sigkill instead of Post for rules matching SPEC: priority>=CRITICAL or rule=NAME
                     (repeatable); psp/pss: a bare --enforce makes every policy Sigkill
  --allow-broader    falco: convert terms Tetragon cannot express as documented over-approximations
                     (the policy may fire more often than Falco); broader policies never Sigkill
  --allow-host-wide-kill
                     falco: let an enforced rule not scoped to pods or named binaries Sigkill host-wide
                     (annotated weir.dev/allow-host-wide-kill); without it such rules only Post
  --profile full     falco: the policies are for nodes labelled weir.dev/runtime-profile: full: file opens
                     (open, openat, openat2, creat) are hooked at security_file_open, whose file argument is
                     the file reached (path resolved); default tracepoint-only: the syscalls' entries
Exit codes: 0 converted, 1 the input has errors (diagnostics on stderr; the other rules still convert), 2 usage.`;

export const convertCommand: Command = {
  name: 'convert',
  summary: 'convert Falco rules, PodSecurityPolicies or Pod Security Standards to TracingPolicies',
  usage,
  async run(argv, io) {
    const [sub, ...rest] = argv;
    if (sub === 'falco') return runFalco(rest, io);
    if (sub === 'psp' || sub === 'pss') return runPsp(sub, rest, io);
    throw new UsageError(sub ? `unknown converter \`${sub}\`; expected falco, psp or pss` : 'name a converter: falco, psp or pss');
  },
};

const common = {
  out: { type: 'string' },
  report: { type: 'string', default: 'text' },
  output: { type: 'string' },
  quiet: { type: 'boolean', default: false },
} as const;

export function parseEnforce(specs: readonly string[]): EnforceSpec | undefined {
  if (specs.length === 0) return undefined;
  const rules = new Set<string>();
  let minPriority: Priority | undefined;
  for (const s of specs) {
    const p = /^priority\s*>=\s*([A-Za-z]+)$/.exec(s.trim());
    if (p) {
      const up = p[1]!.toUpperCase() === 'INFO' ? 'INFORMATIONAL' : p[1]!.toUpperCase();
      if (!(priorities as readonly string[]).includes(up))
        throw new UsageError(`--enforce ${s}: unknown priority; use one of ${priorities.join(', ')}`);
      minPriority = up as Priority;
      continue;
    }
    const r = /^rule\s*=\s*(.+)$/.exec(s.trim());
    if (r) {
      rules.add(r[1]!.trim());
      continue;
    }
    throw new UsageError(`--enforce ${s}: expected priority>=LEVEL or rule=NAME`);
  }
  return { rules, ...(minPriority ? { minPriority } : {}) };
}

async function runFalco(argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...common,
      enforce: { type: 'string', multiple: true, default: [] },
      'allow-broader': { type: 'boolean', default: false },
      'allow-host-wide-kill': { type: 'boolean', default: false },
      profile: { type: 'string', default: 'tracepoint-only' },
    },
  });
  if (positionals.length === 0) throw new UsageError('name at least one Falco rules file');
  const profile = convertProfiles.find((p) => p === values.profile);
  if (!profile) throw new UsageError(`--profile ${JSON.stringify(values.profile)}: one of ${convertProfiles.join(', ')}`);
  checkReport(values.report);
  const enforce = parseEnforce(values.enforce ?? []);
  const loaded = await loadPolicies(positionals, { root: io.cwd });
  const docs = loaded.documents.filter(isFalcoRules);
  const diags = [...loaded.diagnostics];
  for (const d of loaded.documents)
    if (!isFalcoRules(d))
      diags.push({
        rule: 'convert/not-falco',
        severity: 'warning',
        message: `${d.kind} ${d.name} is not a Falco rules file; ignored`,
        ...d.span,
      });
  const c = convertFalco(docs, loaded.sources, {
    allowBroader: values['allow-broader'] ?? false,
    allowHostWideKill: values['allow-host-wide-kill'] ?? false,
    profile,
    ...(enforce ? { enforce } : {}),
  });
  c.diagnostics.unshift(...diags);
  if (!values.quiet) for (const d of c.diagnostics) io.stderr(formatDiagnostic(d) + '\n');
  await emitPolicies(
    c.policies.map((p) => p.policy),
    values.out,
    io,
  );
  await emitReport(values.report === 'json' ? falcoReportJson(c) : falcoReportText(c), values, io);
  return hasErrors(c.diagnostics) ? 1 : 0;
}

async function runPsp(kind: 'psp' | 'pss', argv: string[], io: CommandIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...common, enforce: { type: 'boolean', default: false } },
  });
  checkReport(values.report);
  const results: PspConversion[] = [];
  let failed = false;
  if (kind === 'pss') {
    const level = positionals[0];
    if (positionals.length !== 1 || (level !== 'baseline' && level !== 'restricted'))
      throw new UsageError('weir convert pss takes one level: baseline or restricted');
    const { spec, extra } = pssSpec(level);
    const r = convertPsp(spec, `pod-security-standard/${level}`, `pss-${level}`, { enforce: values.enforce ?? false });
    r.fields.push(...extra);
    results.push(r);
  } else {
    if (positionals.length === 0) throw new UsageError('name at least one file with a PodSecurityPolicy');
    const loaded = await loadPolicies(positionals, { root: io.cwd });
    const diags = [...loaded.diagnostics];
    for (const d of loaded.documents) {
      if (d.kind !== 'PodSecurityPolicy') {
        diags.push({
          rule: 'convert/not-psp',
          severity: 'warning',
          message: `${d.kind} ${d.name} is not a PodSecurityPolicy; ignored`,
          ...d.span,
        });
        continue;
      }
      const spec = d.value['spec'];
      if (!spec || typeof spec !== 'object') {
        diags.push({ rule: 'convert/psp-no-spec', severity: 'error', message: `PodSecurityPolicy ${d.name} has no spec`, ...d.span });
        continue;
      }
      const annotations = ((d.value['metadata'] as Record<string, unknown> | undefined)?.['annotations'] ?? {}) as Record<string, string>;
      results.push(
        convertPsp(
          spec as Record<string, unknown>,
          `${d.provenance.file}:${d.provenance.line} PodSecurityPolicy/${d.name}`,
          `psp-${d.name}`,
          { enforce: values.enforce ?? false, annotations },
        ),
      );
    }
    if (!values.quiet) for (const d of diags) io.stderr(formatDiagnostic(d) + '\n');
    failed = hasErrors(diags);
  }
  for (const r of results) for (const p of r.problems) io.stderr(`weir convert: internal: ${p}\n`);
  await emitPolicies(
    results.flatMap((r) => r.policies),
    values.out,
    io,
  );
  await emitReport(values.report === 'json' ? pspReportJson(results) : results.map(pspReportText).join('\n'), values, io);
  return failed ? 1 : 0;
}

function checkReport(r: string | undefined): void {
  if (r !== 'text' && r !== 'json') throw new UsageError(`--report ${r}: expected text or json`);
}

async function emitPolicies(policies: TracingPolicy[], out: string | undefined, io: CommandIO): Promise<void> {
  if (out) {
    const dir = path.resolve(io.cwd, out);
    await fs.mkdir(dir, { recursive: true });
    for (const p of policies)
      await fs.writeFile(path.join(dir, `${p.metadata.name}.yaml`), stringify(p, { lineWidth: 0, aliasDuplicateObjects: false }));
    return;
  }
  io.stdout(policies.map((p) => stringify(p, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n'));
}

async function emitReport(text: string, values: { out?: string | undefined; output?: string | undefined }, io: CommandIO): Promise<void> {
  if (values.output) await fs.writeFile(path.resolve(io.cwd, values.output), text);
  else if (values.out) io.stdout(text);
  else io.stderr(text);
}
