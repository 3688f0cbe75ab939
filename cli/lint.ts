// `weir lint`: load policies (work tree or a Git revision), validate, run the rules and guardrails,
// and report with file:line:col. Exit 0 clean (warnings allowed), 1 errors found, 2 usage/internal.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { sortDiagnostics, type Diagnostic } from '../compiler/diagnostics.js';
import { loadInventory, readInventory, type Inventory } from '../compiler/inventory/index.js';
import { lintDocuments } from '../compiler/lint/index.js';
import { counts, render, reportFormats, type LintRun, type ReportFormat } from '../compiler/lint/report.js';
import { loadPolicies, type PolicyDocument } from '../compiler/load/index.js';
import { UsageError, useColor, type Command } from './command.js';
import { parseCommandLine, pathsFromRoot, repositoryRoot } from './inputs.js';

const usage = `usage: weir lint [PATH...] [--rev REV] [--inventory FILE] [--guardrails PATH] [--format text|json|sarif|github] [--output FILE] [--quiet]

Checks policies (CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy, NetworkPolicy, TracingPolicy,
PodSecurityPolicy, weir Inventory/PolicyTest/Guardrail) and prints every finding with file:line:col.

  PATH              files or folders (default: .)
  --rev REV         read PATHs from this Git revision of the repository instead of the work tree
  --inventory FILE  inventory for selector checks (default: Inventory documents among PATHs)
  --guardrails PATH extra Guardrail files or folders (Guardrails among PATHs always apply)
  --format F        text (default), json (schemas/lint-report.schema.json), sarif (2.1.0), github (annotations)
  --output FILE     write the report to FILE instead of stdout
  --quiet           text: errors only

Exit status: 0 no errors, 1 errors found, 2 usage or internal error.`;

async function weirVersion(): Promise<string> {
  for (const rel of ['../package.json', '../../../package.json']) {
    try {
      return (JSON.parse(await fs.readFile(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      /* next layout */
    }
  }
  return 'unknown';
}

export const lintCommand: Command = {
  name: 'lint',
  summary: 'check policies and report diagnostics with file:line:col',
  usage,
  async run(argv, io) {
    const { values, positionals } = parseCommandLine(argv, {
      rev: { type: 'string' },
      inventory: { type: 'string' },
      guardrails: { type: 'string', multiple: true },
      format: { type: 'string', default: 'text' },
      output: { type: 'string', short: 'o' },
      quiet: { type: 'boolean', short: 'q', default: false },
    });
    const format = values.format as ReportFormat;
    if (!reportFormats.includes(format)) throw new UsageError(`unknown --format \`${values.format}\`; use one of ${reportFormats.join(', ')}`);
    let root = io.cwd;
    let paths = positionals.length > 0 ? positionals : ['.'];
    // With --rev, paths are read relative to the repository's top level, wherever the user stands.
    if (values.rev !== undefined) {
      const top = await repositoryRoot(io.cwd);
      if (!top) throw new UsageError(`--rev needs a Git repository, and ${io.cwd} is not inside one`);
      root = top;
      paths = pathsFromRoot(paths, io.cwd, top);
    }
    const loadOpts = { root, ...(values.rev !== undefined ? { rev: values.rev } : {}) };
    const loaded = await loadPolicies(paths, loadOpts);
    const diagnostics: Diagnostic[] = [...loaded.diagnostics];

    let inventory: Inventory | undefined;
    if (values.inventory !== undefined) {
      const r = await readInventory([values.inventory], { root: io.cwd });
      diagnostics.push(...r.diagnostics);
      inventory = r.inventory;
    } else if (loaded.documents.some((d) => d.kind === 'Inventory')) {
      const r = loadInventory(loaded.documents);
      diagnostics.push(...r.diagnostics);
      inventory = r.inventory;
    }
    let guardrails: PolicyDocument[] = [];
    for (const g of values.guardrails ?? []) {
      const r = await loadPolicies([g], { root: io.cwd });
      diagnostics.push(...r.diagnostics);
      guardrails = guardrails.concat(r.documents.filter((d) => d.kind === 'Guardrail'));
      for (const [f, t] of r.sources) loaded.sources.set(f, t);
    }
    diagnostics.push(...lintDocuments(loaded.documents, { prior: diagnostics, guardrails, ...(inventory ? { inventory } : {}) }));
    const run: LintRun = {
      diagnostics: sortDiagnostics(dedupe(diagnostics)),
      files: loaded.files,
      documents: loaded.documents.length,
      ...(loaded.commit ? { commit: loaded.commit } : {}),
      sources: loaded.sources,
      version: await weirVersion(),
      ignored: loaded.ignored,
    };
    const text = render(format, run, { color: values.output === undefined && format === 'text' && useColor({ ...io, isTTY: io.isTTY }), quiet: values.quiet });
    if (values.output !== undefined) {
      await fs.writeFile(path.resolve(io.cwd, values.output), text);
      if (!values.quiet) {
        const c = counts(run.diagnostics);
        io.stderr(`weir lint: ${c.error} error(s), ${c.warning} warning(s); report written to ${values.output}\n`);
      }
    } else io.stdout(text);
    return counts(run.diagnostics).error > 0 ? 1 : 0;
  },
};

/** The inventory may be among the linted files: its loader diagnostics must not appear twice. */
function dedupe(diags: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diags.filter((d) => {
    const k = `${d.rule}|${d.file}|${d.line}|${d.column}|${d.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
