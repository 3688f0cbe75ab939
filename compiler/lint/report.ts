// Renders lint diagnostics for people (text with code frames), machines (JSON report, SARIF 2.1.0)
// and GitHub Actions (workflow-command annotations).
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Diagnostic, Severity } from '../diagnostics.js';
import type { IgnoredInput } from '../load/index.js';
import { terminalSafe } from '../escape.js';
import { describeCode, projectUrl, type GuardrailInfo } from './codes.js';

/** SARIF's base id for the repository root: result URIs are relative to it. */
export const srcroot = '%SRCROOT%';
/** The partialFingerprints key weir writes (versioned: a new scheme gets a new key). */
export const fingerprintKey = 'weirFingerprint/v1';

export type ReportFormat = 'text' | 'json' | 'sarif' | 'github';
export const reportFormats: readonly ReportFormat[] = ['text', 'json', 'sarif', 'github'];

export interface LintRun {
  diagnostics: readonly Diagnostic[];
  files: readonly string[];
  documents: number;
  commit?: string;
  /** File texts, for code frames. */
  sources: ReadonlyMap<string, string>;
  version: string;
  /** Documents and files that are not policies or inventory (RBAC, other tools' objects, Helm templates): counted, not reported one by one. */
  ignored?: readonly IgnoredInput[];
  /**
   * Where the files are: `prefix` leads from the repository root (SARIF's %SRCROOT%) to the folder
   * the diagnostics' paths are relative to; `cwd` is that folder; `uri` the repository's address.
   */
  repository?: { prefix: string; cwd: string; uri?: string };
  /** Guardrails of the run, for the descriptors of their `guardrail/<name>` findings. */
  guardrails?: readonly GuardrailInfo[];
}

/** `; 12 ignored, not policies or inventory: ClusterRole ×3, Application, …`, or nothing. */
function ignoredText(run: LintRun): string {
  const ignored = run.ignored ?? [];
  if (ignored.length === 0) return '';
  const byWhat = new Map<string, number>();
  for (const i of ignored) {
    // Kinds read better without their API versions in a summary.
    const what = i.what.replace(/ \(.*\)$/, '');
    byWhat.set(what, (byWhat.get(what) ?? 0) + 1);
  }
  const kinds = [...byWhat].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const shown = kinds.slice(0, 4).map(([w, n]) => (n > 1 ? `${w} ×${n}` : w));
  return `; ${ignored.length} ignored, not policies or inventory: ${shown.join(', ')}${kinds.length > 4 ? ', …' : ''}`;
}

export function counts(diags: readonly Diagnostic[]): Record<Severity, number> {
  const c: Record<Severity, number> = { error: 0, warning: 0, info: 0 };
  for (const d of diags) c[d.severity]++;
  return c;
}

const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;

// --- text ---------------------------------------------------------------------------------

interface Paint {
  red(s: string): string;
  yellow(s: string): string;
  blue(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

const ansi = (code: number) => (s: string) => `\x1b[${code}m${s}\x1b[0m`;
const colors: Paint = { red: ansi(31), yellow: ansi(33), blue: ansi(34), dim: ansi(2), bold: ansi(1) };
const plain: Paint = { red: (s) => s, yellow: (s) => s, blue: (s) => s, dim: (s) => s, bold: (s) => s };

/** The offending line(s) with one line of context and a caret underline, TypeScript-style. */
export function codeFrame(text: string | readonly string[], d: Diagnostic, paint: Paint = plain): string {
  // Callers with many findings in one file pass its lines, split once (splitting per finding is quadratic).
  const lines = typeof text === 'string' ? text.split(/\r?\n/) : text;
  const first = Math.max(1, d.line - 1);
  const last = Math.min(lines.length, d.endLine > d.line ? Math.min(d.endLine, d.line + 2) : d.line);
  const width = String(last).length;
  const out: string[] = [];
  for (let n = first; n <= last; n++) {
    const src = terminalSafe((lines[n - 1] ?? '').replace(/\t/g, ' '));
    const marker = n >= d.line && n <= Math.max(d.line, Math.min(d.endLine, last)) ? '>' : ' ';
    out.push(`${marker} ${String(n).padStart(width)} | ${src}`);
    if (n === d.line) {
      const start = d.column - 1;
      const end = d.endLine === d.line && d.endColumn > d.column ? d.endColumn - 1 : Math.max(start + 1, src.trimEnd().length);
      const caret = ' '.repeat(start) + '^'.repeat(Math.max(1, Math.min(end, src.length || start + 1) - start));
      out.push(`  ${' '.repeat(width)} | ${paint.red(caret)}`);
    }
  }
  return out.join('\n');
}

export function formatText(run: LintRun, opts: { color: boolean; quiet?: boolean }): string {
  const paint = opts.color ? colors : plain;
  const out: string[] = [];
  const split = new Map<string, string[]>();
  const linesOf = (file: string): string[] | undefined => {
    let l = split.get(file);
    if (!l) {
      const text = run.sources.get(file);
      if (text === undefined) return undefined;
      split.set(file, (l = text.split(/\r?\n/)));
    }
    return l;
  };
  for (const d of run.diagnostics) {
    if (opts.quiet && d.severity !== 'error') continue;
    const sev = d.severity === 'error' ? paint.red('error') : d.severity === 'warning' ? paint.yellow('warning') : paint.blue('info');
    out.push(
      `${paint.bold(terminalSafe(`${d.file}:${d.line}:${d.column}`))} ${sev} ${terminalSafe(d.message)} ${paint.dim(`[${terminalSafe(d.rule)}]`)}`,
    );
    const lines = d.line >= 1 ? linesOf(d.file) : undefined;
    if (lines) out.push(codeFrame(lines, d, paint));
    if (d.fix) out.push(`  ${paint.dim('fix:')} ${terminalSafe(d.fix.description)}`);
    out.push('');
  }
  const c = counts(run.diagnostics);
  const summary = `${plural(c.error, 'error')}, ${plural(c.warning, 'warning')} in ${plural(run.files.length, 'file')} (${plural(run.documents, 'document')}${ignoredText(run)})${run.commit ? ` at ${run.commit.slice(0, 12)}` : ''}`;
  out.push(c.error > 0 ? paint.red(summary) : summary);
  return `${out.join('\n')}\n`;
}

// --- JSON ---------------------------------------------------------------------------------

export interface LintReport {
  apiVersion: 'weir.dev/v1alpha1';
  kind: 'LintReport';
  commit?: string;
  summary: { files: number; documents: number; errors: number; warnings: number; infos: number; ignored?: number };
  files: string[];
  diagnostics: Diagnostic[];
}

export function lintReport(run: LintRun): LintReport {
  const c = counts(run.diagnostics);
  return {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'LintReport',
    ...(run.commit ? { commit: run.commit } : {}),
    summary: {
      files: run.files.length,
      documents: run.documents,
      errors: c.error,
      warnings: c.warning,
      infos: c.info,
      ...(run.ignored?.length ? { ignored: run.ignored.length } : {}),
    },
    files: [...run.files],
    diagnostics: [...run.diagnostics],
  };
}

export function formatJson(run: LintRun): string {
  return `${JSON.stringify(lintReport(run), null, 2)}\n`;
}

// --- SARIF 2.1.0 --------------------------------------------------------------------------

const sarifLevel: Record<Severity, 'error' | 'warning' | 'note'> = { error: 'error', warning: 'warning', info: 'note' };
const severityRank: Record<Severity, number> = { error: 0, warning: 1, info: 2 };

/** The file's URI relative to the repository root, or undefined when it lies outside it. */
function rootRelativeUri(file: string, prefix: string): string | undefined {
  const joined = path.posix.normalize(path.posix.join(prefix, file.split(path.sep).join('/')));
  if (joined === '..' || joined.startsWith('../') || path.posix.isAbsolute(joined)) return undefined;
  return joined.split('/').map(encodeURIComponent).join('/');
}

/**
 * A fingerprint that survives reruns and lines moving: the rule, the file and the text of the
 * flagged line (whitespace collapsed), plus how many identical ones came before it in the file.
 */
function fingerprints(run: LintRun, uris: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return run.diagnostics.map((d, i) => {
    const line = run.sources.get(d.file)?.split(/\r?\n/)[d.line - 1];
    const text = line !== undefined && line.trim() !== '' ? line.trim().replace(/\s+/g, ' ') : d.message;
    const key = `${d.rule}\0${uris[i]}\0${text}`;
    const n = seen.get(key) ?? 0;
    seen.set(key, n + 1);
    return `${createHash('sha256').update(key).digest('hex').slice(0, 32)}:${n}`;
  });
}

export function formatSarif(run: LintRun): string {
  const prefix = run.repository?.prefix ?? '';
  const ids = [...new Set(run.diagnostics.map((d) => d.rule))].sort();
  const index = new Map(ids.map((id, i) => [id, i]));
  // A stage code's severity depends on where it is raised: its default is the strongest seen.
  const level = new Map<string, Severity>();
  for (const d of run.diagnostics) {
    const l = level.get(d.rule);
    if (l === undefined || severityRank[d.severity] < severityRank[l]) level.set(d.rule, d.severity);
  }
  const relUris = run.diagnostics.map((d) => rootRelativeUri(d.file, prefix));
  const location = (d: Diagnostic, i: number) => {
    const rel = relUris[i];
    return rel !== undefined
      ? { uri: rel, uriBaseId: srcroot }
      : { uri: pathToFileURL(path.resolve(run.repository?.cwd ?? '.', d.file)).href };
  };
  const prints = fingerprints(
    run,
    relUris.map((u, i) => u ?? run.diagnostics[i]!.file),
  );
  const provenance =
    run.repository?.uri && run.commit
      ? [{ repositoryUri: run.repository.uri, revisionId: run.commit, mappedTo: { uriBaseId: srcroot } }]
      : undefined;
  const sarif = {
    $schema: 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'weir',
            version: run.version,
            ...(/^\d+\.\d+\.\d+/.test(run.version) ? { semanticVersion: run.version } : {}),
            informationUri: projectUrl,
            rules: ids.map((id) => {
              const r = describeCode(id, run.guardrails ?? []);
              return {
                id,
                name: id
                  .replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) => (c ?? '').toUpperCase())
                  .replace(/^./, (c) => c.toUpperCase()),
                shortDescription: { text: r.short },
                fullDescription: { text: r.full },
                help: { text: r.help.text, markdown: r.help.markdown },
                helpUri: r.helpUri,
                defaultConfiguration: { level: sarifLevel[level.get(id) ?? r.level] },
                properties: { tags: r.tags },
              };
            }),
          },
        },
        ...(provenance ? { versionControlProvenance: provenance } : {}),
        columnKind: 'utf16CodeUnits',
        results: run.diagnostics.map((d, i) => ({
          ruleId: d.rule,
          ruleIndex: index.get(d.rule)!,
          level: sarifLevel[d.severity],
          message: { text: d.message },
          locations: [
            {
              physicalLocation: {
                artifactLocation: location(d, i),
                region: {
                  startLine: d.line,
                  startColumn: d.column,
                  endLine: d.endLine,
                  endColumn: Math.max(d.endColumn, d.endLine === d.line ? d.column + 1 : 1),
                },
              },
            },
          ],
          partialFingerprints: { [fingerprintKey]: prints[i]! },
          ...(d.fix?.replacement !== undefined
            ? {
                fixes: [
                  {
                    description: { text: d.fix.description },
                    artifactChanges: [
                      {
                        artifactLocation: location(d, i),
                        replacements: [
                          {
                            deletedRegion: { startLine: d.line, startColumn: d.column, endLine: d.endLine, endColumn: d.endColumn },
                            insertedContent: { text: d.fix.replacement },
                          },
                        ],
                      },
                    ],
                  },
                ],
              }
            : {}),
        })),
      },
    ],
  };
  return `${JSON.stringify(sarif, null, 2)}\n`;
}

// --- GitHub Actions annotations -----------------------------------------------------------

// Line breaks are the workflow command's own escapes; every other control character (ESC, which the log viewer interprets) is shown, not sent.
const escapeData = (s: string) => terminalSafe(s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A'));
const escapeProperty = (s: string) => escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

export function formatGithub(run: LintRun): string {
  const lines = run.diagnostics.map((d) => {
    const cmd = d.severity === 'error' ? 'error' : d.severity === 'warning' ? 'warning' : 'notice';
    const props = [
      `file=${escapeProperty(d.file)}`,
      `line=${d.line}`,
      `col=${d.column}`,
      `endLine=${d.endLine}`,
      ...(d.endLine === d.line ? [`endColumn=${d.endColumn}`] : []),
      `title=${escapeProperty(`weir ${d.rule}`)}`,
    ];
    return `::${cmd} ${props.join(',')}::${escapeData(d.message)}`;
  });
  const c = counts(run.diagnostics);
  lines.push(
    `weir lint: ${plural(c.error, 'error')}, ${plural(c.warning, 'warning')} in ${plural(run.files.length, 'file')}${ignoredText(run)}`,
  );
  return `${lines.join('\n')}\n`;
}

export function render(format: ReportFormat, run: LintRun, opts: { color: boolean; quiet?: boolean }): string {
  switch (format) {
    case 'json':
      return formatJson(run);
    case 'sarif':
      return formatSarif(run);
    case 'github':
      return formatGithub(run);
    default:
      return formatText(run, opts);
  }
}
