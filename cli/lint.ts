// `weir lint`: load policies (work tree or a Git revision), validate, run the rules and guardrails,
// and report with file:line:col. Exit 0 clean (warnings allowed), 1 errors found, 2 usage/internal.
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { sortDiagnostics, type Diagnostic } from '../compiler/diagnostics.js';
import { loadInventory, readInventory, type Inventory } from '../compiler/inventory/index.js';
import { lintDocuments } from '../compiler/lint/index.js';
import { counts, render, reportFormats, type LintRun, type ReportFormat } from '../compiler/lint/report.js';
import { loadPolicies, type PolicyDocument } from '../compiler/load/index.js';
import { configFormat, projectConfig } from '../compiler/load/config.js';
import { weirVersion } from '../compiler/project.js';
import { UsageError, useColor, type Command } from './command.js';
import { parseCommandLine, pathsFromRoot, repositoryRoot } from './inputs.js';

const usage = `usage: weir lint [PATH...] [--rev REV] [--inventory FILE] [--guardrails PATH] [--format text|json|sarif|github] [--output FILE] [--quiet]

Checks policies (CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy, NetworkPolicy, TracingPolicy,
PodSecurityPolicy, weir Inventory/PolicyTest/Guardrail) and prints every finding with file:line:col.
Other documents (RBAC, Services, Argo CD and Flux objects, Helm charts, GitHub Actions) are counted
and left out. A .weir.yaml in this folder or above (up to the repository's top) sets the defaults:
policies, ignore, inventory, guardrails, format.

  PATH              files or folders (default: .weir.yaml's policies, else .)
  --rev REV         read PATHs from this Git revision of the repository instead of the work tree
  --inventory FILE  inventory for selector checks (default: Inventory documents among PATHs)
  --guardrails PATH extra Guardrail files or folders (Guardrails among PATHs always apply)
  --format F        text (default), json (schemas/lint-report.schema.json), sarif (2.1.0), github (annotations)
  --output FILE     write the report to FILE instead of stdout
  --quiet           text: errors only

Exit status: 0 no errors, 1 errors found, 2 usage or internal error.`;

export const lintCommand: Command = {
  name: 'lint',
  summary: 'check policies and report diagnostics with file:line:col',
  usage,
  async run(argv, io) {
    const { values, positionals } = parseCommandLine(argv, {
      rev: { type: 'string' },
      inventory: { type: 'string' },
      guardrails: { type: 'string', multiple: true },
      format: { type: 'string' },
      output: { type: 'string', short: 'o' },
      quiet: { type: 'boolean', short: 'q', default: false },
    });
    const cfg = projectConfig(io.cwd);
    const config = cfg.config;
    // Paths in the config are relative to its folder.
    const fromConfig = (ps: readonly string[]) => ps.map((p) => path.resolve(config!.root, p));
    const format = (values.format ?? configFormat(config, 'lint') ?? 'text') as ReportFormat;
    if (!reportFormats.includes(format))
      throw new UsageError(
        `unknown --format \`${format}\`${values.format === undefined && config ? ` (from ${config.file})` : ''}; use one of ${reportFormats.join(', ')}`,
      );
    // Without PATHs the project's own paths are linted from its root, and named relative to it.
    const projectRun = positionals.length === 0 && config !== undefined;
    let root = projectRun ? config.root : io.cwd;
    let paths = positionals.length > 0 ? positionals : (config?.policies ?? ['.']);
    const top = await repositoryRoot(io.cwd);
    // With --rev, paths are read relative to the repository's top level, wherever the user stands.
    if (values.rev !== undefined) {
      if (!top) throw new UsageError(`--rev needs a Git repository, and ${io.cwd} is not inside one`);
      root = top;
      paths = pathsFromRoot(paths, projectRun ? config.root : io.cwd, top);
    }
    const loadOpts = {
      root,
      ...(values.rev !== undefined ? { rev: values.rev } : {}),
      ...(config?.ignore ? { ignore: config.ignore, ignoreBase: config.root } : {}),
    };
    const loaded = await loadPolicies(paths, loadOpts);
    const diagnostics: Diagnostic[] = [...cfg.diagnostics, ...loaded.diagnostics];
    if (cfg.source && cfg.diagnostics.length) loaded.sources.set(cfg.source.file, cfg.source.text);

    let inventory: Inventory | undefined;
    const inventoryPaths =
      values.inventory !== undefined ? [values.inventory] : config?.inventory ? fromConfig(config.inventory) : undefined;
    if (inventoryPaths) {
      const r = await readInventory(inventoryPaths, { root: io.cwd });
      diagnostics.push(...r.diagnostics);
      inventory = r.inventory;
    } else if (loaded.documents.some((d) => d.kind === 'Inventory')) {
      const r = loadInventory(loaded.documents);
      diagnostics.push(...r.diagnostics);
      inventory = r.inventory;
    }
    let guardrails: PolicyDocument[] = [];
    for (const g of [...(values.guardrails ?? []), ...(config?.guardrails ? fromConfig(config.guardrails) : [])]) {
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
      version: weirVersion(),
      ignored: loaded.ignored,
      repository: await repositoryInfo(root, top, loaded.commit !== undefined),
      guardrails: [...loaded.documents.filter((d) => d.kind === 'Guardrail'), ...guardrails].map((g) => {
        const spec = g.value['spec'];
        const description =
          spec !== null && typeof spec === 'object' && typeof (spec as Record<string, unknown>)['description'] === 'string'
            ? ((spec as Record<string, unknown>)['description'] as string)
            : undefined;
        return { name: g.name, file: g.provenance.file, line: g.provenance.line, ...(description !== undefined ? { description } : {}) };
      }),
    };
    const text = render(format, run, {
      color: values.output === undefined && format === 'text' && useColor({ ...io, isTTY: io.isTTY }),
      quiet: values.quiet,
    });
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

/**
 * Where the reported paths sit in the repository (SARIF URIs are relative to its root), and the
 * repository's address for a run at a commit. Outside Git the folder itself is the root.
 */
async function repositoryInfo(root: string, top: string | undefined, atCommit: boolean): Promise<LintRun['repository']> {
  if (!top) return { prefix: '', cwd: root };
  const real = await fs.realpath(root).catch(() => root);
  const prefix = path.relative(top, real).split(path.sep).join('/');
  const uri = atCommit ? await originUri(top) : undefined;
  return { prefix: prefix.startsWith('..') ? '' : prefix, cwd: root, ...(uri ? { uri } : {}) };
}

/** The `origin` remote as an absolute URI without credentials (scp-style addresses become ssh://), or undefined. */
async function originUri(top: string): Promise<string | undefined> {
  const raw = await new Promise<string>((resolve) =>
    execFile('git', ['-C', top, 'config', '--get', 'remote.origin.url'], (e, out) => resolve(e ? '' : out.trim())),
  );
  if (!raw) return undefined;
  const scp = /^([^@/:]+@)?([^/:]+):(?!\/\/)(.+)$/.exec(raw);
  try {
    const u = new URL(scp ? `ssh://${scp[2]}/${scp[3]}` : raw.startsWith('/') ? pathToFileURL(raw).href : raw);
    u.username = '';
    u.password = '';
    return u.href;
  } catch {
    return undefined;
  }
}

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
