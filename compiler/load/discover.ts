// Which files of a folder weir reads, the same way for the work tree and a Git revision: YAML and
// JSON files, except hidden ones, node_modules, the templates of Helm charts (Go templates, not
// YAML until rendered) and what the project's ignore globs name. Every other file is reported
// once, as info, so an input folder never loses a file in silence.
import { diagnostic, fileSpan, type Diagnostic } from '../diagnostics.js';

export type InputFormat = 'yaml' | 'json';

/** The format weir reads a file as, by its name; undefined for files weir does not read. */
export function inputFormat(file: string): InputFormat | undefined {
  const lower = file.toLowerCase();
  if (lower.endsWith('.yaml') || lower.endsWith('.yml')) return 'yaml';
  if (lower.endsWith('.json')) return 'json';
  return undefined;
}

/** A document or file that is not a policy and not an inventory object, left out on purpose (counted, not warned about). */
export interface IgnoredInput {
  file: string;
  line: number;
  /** What it is: `ClusterRole (rbac.authorization.k8s.io/v1)`, `not a Kubernetes object`, `Helm chart template`. */
  what: string;
}

/** Hidden entries and node_modules are never entered (as ESLint and Git tooling do). */
export function isSkippedEntry(name: string): boolean {
  return name.startsWith('.') || name === 'node_modules';
}

/**
 * A glob as .gitignore and ESLint write them, matched against a path relative to the project
 * root: `*` and `?` stay within one segment, `**` spans segments, a pattern without `/` matches at
 * any depth, a trailing `/` names a folder (and everything under it).
 */
export function globMatcher(pattern: string): (file: string) => boolean {
  let p = pattern.trim().replace(/^\.\//, '');
  const dirOnly = p.endsWith('/');
  p = p.replace(/\/+$/, '');
  const anchored = p.includes('/');
  let re = '';
  for (let i = 0; i < p.length; i++) {
    const c = p[i]!;
    if (c === '*' && p[i + 1] === '*') {
      // `**/` matches zero or more folders; a trailing `**` everything below.
      if (p[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  const rx = new RegExp(`^${anchored ? '' : '(?:.*/)?'}${re}${dirOnly ? '/.*' : '(?:/.*)?'}$`);
  return (file) => rx.test(file);
}

/** Compiles ignore globs into one test (empty list: nothing ignored). */
export function ignoreTest(globs: readonly string[] = []): (file: string) => boolean {
  const ms = globs.filter((g) => g.trim() !== '' && !g.trim().startsWith('#')).map(globMatcher);
  return (file) => ms.some((m) => m(file));
}

/** Files other tools find by their fixed names, which may carry an apiVersion but never a kind. */
function toolFile(file: string): string | undefined {
  const base = file.slice(file.lastIndexOf('/') + 1);
  if (base === 'Chart.yaml' || base === 'Chart.yml') return 'Helm chart metadata';
  if (base === 'kustomization.yaml' || base === 'kustomization.yml' || base === 'Kustomization') return 'Kustomize configuration';
  return undefined;
}

export interface Selection<T extends { file: string }> {
  /** Files to read, in the order given. */
  read: T[];
  /** Helm chart templates and other tools' files, ignored (counted). */
  ignored: IgnoredInput[];
  /** Files weir does not read, for the info diagnostic. */
  notRead: string[];
}

/**
 * Splits the files found under the input paths into what is read and what is not. `files` are
 * paths relative to the root, hidden entries already left out.
 */
export function selectInputs<T extends { file: string }>(
  files: readonly T[],
  ignore: (file: string) => boolean = () => false,
): Selection<T> {
  // A chart is a folder holding Chart.yaml; its templates/ are not YAML until Helm renders them.
  const charts = new Set(files.filter((f) => /(^|\/)Chart\.ya?ml$/.test(f.file)).map((f) => f.file.replace(/\/?Chart\.ya?ml$/, '')));
  const inChartTemplates = (file: string) => [...charts].some((c) => file.startsWith(c === '' ? 'templates/' : `${c}/templates/`));
  const out: Selection<T> = { read: [], ignored: [], notRead: [] };
  for (const f of files) {
    if (ignore(f.file)) continue;
    if (inChartTemplates(f.file)) {
      out.ignored.push({ file: f.file, line: 1, what: 'Helm chart template (not rendered)' });
      continue;
    }
    const tool = toolFile(f.file);
    if (tool) {
      out.ignored.push({ file: f.file, line: 1, what: tool });
      continue;
    }
    if (inputFormat(f.file)) out.read.push(f);
    else out.notRead.push(f.file);
  }
  return out;
}

/** One info finding per input path that holds files weir does not read. */
export function notReadDiagnostic(inputPath: string, files: readonly string[], commit?: string): Diagnostic | undefined {
  if (files.length === 0) return undefined;
  const shown = files.slice(0, 5).join(', ');
  const more = files.length > 5 ? `, … (${files.length - 5} more)` : '';
  const what = files.length === 1 ? `1 file under ${inputPath} is` : `${files.length} files under ${inputPath} are`;
  return diagnostic(
    'load/not-read',
    'info',
    `${what} not read (weir reads .yaml, .yml and .json files): ${shown}${more}; list them under \`ignore\` in .weir.yaml to leave them out`,
    fileSpan(inputPath),
    commit ? { commit } : {},
  );
}
