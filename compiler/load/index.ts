// Load policy documents from files and folders, or from a Git revision without touching the work tree.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { diagnostic, fileSpan, sortDiagnostics, type Diagnostic } from '../diagnostics.js';
import { classify, type PolicyDocument } from './document.js';
import { decodeUtf8, defaultLimits, parseYamlDocuments, type YamlLimits } from './yaml.js';
import { GitObjectReader } from './git.js';
import { mentionsKubernetes, parseJsonDocuments } from './json.js';
import { ignoreTest, inputFormat, isSkippedEntry, notReadDiagnostic, selectInputs, type IgnoredInput } from './discover.js';

export type { PolicyDocument, Provenance, FalcoRulesDocument } from './document.js';
export { isFalcoRules } from './document.js';
export { defaultLimits, parseYamlDocuments, type YamlLimits, type NodePath } from './yaml.js';
export type { IgnoredInput } from './discover.js';

export interface LoadOptions {
  /** Repository (or base) directory; file paths in provenance are relative to it. Default: cwd. */
  root?: string;
  /** Read from this Git revision of `root` instead of the file system. */
  rev?: string;
  limits?: Partial<YamlLimits>;
  /** Globs (.gitignore style) of files folders are read without. */
  ignore?: readonly string[];
  /** The folder the globs are relative to (the project config's); default: root. */
  ignoreBase?: string;
}

export interface LoadResult {
  documents: PolicyDocument[];
  diagnostics: Diagnostic[];
  /** Every file read, relative to root. */
  files: string[];
  /** Resolved commit when loaded from a revision. */
  commit?: string;
  /** Raw text of each file read, for code frames. */
  sources: Map<string, string>;
  /** Documents and files left out on purpose (RBAC, CRDs of other tools, Helm templates, ...): counted, not warned about. */
  ignored: IgnoredInput[];
}

/** One input file: its path relative to root and its bytes. */
export interface SourceFile {
  file: string;
  bytes: Uint8Array;
  /** Named on its own (not found in a folder): always read, and a file that does not parse is an error. */
  named?: boolean;
}

/** Parses already-read files into documents (pure: no I/O). */
export function loadSources(files: readonly SourceFile[], commit?: string, limits: Partial<YamlLimits> = {}): LoadResult {
  const lim = { ...defaultLimits, ...limits };
  const documents: PolicyDocument[] = [];
  const diagnostics: Diagnostic[] = [];
  const ignored: IgnoredInput[] = [];
  const sources = new Map<string, string>();
  for (const { file, bytes, named } of files) {
    if (bytes.byteLength > lim.maxFileBytes) {
      diagnostics.push(
        diagnostic(
          'load/file-too-large',
          'error',
          `file is ${bytes.byteLength} bytes; the limit is ${lim.maxFileBytes} bytes (policy files this large are almost certainly not policies)`,
          fileSpan(file),
          { commit },
        ),
      );
      continue;
    }
    const dec = decodeUtf8(file, bytes);
    if (dec.diagnostic) {
      diagnostics.push({ ...dec.diagnostic, ...(commit ? { commit } : {}) });
      continue;
    }
    const text = dec.text!;
    const json = inputFormat(file) === 'json';
    const parsed = json ? parseJsonDocuments(file, text, lim) : parseYamlDocuments(file, text, lim);
    // A .json file found in a folder that is not JSON and names no apiVersion (tsconfig with comments, JSON lines) is someone else's file.
    if (json && !named && parsed.documents.length === 0 && !mentionsKubernetes(text)) {
      ignored.push({ file, line: 1, what: 'not a Kubernetes object (not JSON)' });
      continue;
    }
    sources.set(file, text);
    for (const d of parsed.diagnostics) diagnostics.push(commit ? { ...d, commit } : d);
    for (const p of parsed.documents) {
      // A JSON array or scalar (a report, a lock file, test output) is no Kubernetes object.
      if (json && (p.value === null || typeof p.value !== 'object' || Array.isArray(p.value))) {
        ignored.push({ file, line: 1, what: 'not a Kubernetes object' });
        continue;
      }
      const c = classify(p, commit);
      documents.push(...c.documents);
      diagnostics.push(...c.diagnostics);
      ignored.push(...c.ignored);
    }
  }
  return {
    documents,
    diagnostics: sortDiagnostics(diagnostics),
    files: files.map((f) => f.file),
    ...(commit ? { commit } : {}),
    sources,
    ignored,
  };
}

/** Loads the YAML files under `paths` (files or folders), from disk or from a Git revision. */
export async function loadPolicies(paths: readonly string[], opts: LoadOptions = {}): Promise<LoadResult> {
  const root = path.resolve(opts.root ?? process.cwd());
  const inputs = paths.length > 0 ? paths : ['.'];
  const pre: Diagnostic[] = [];
  const rels: string[] = [];
  for (const p of inputs) {
    const abs = path.resolve(root, p);
    const rel = path.relative(root, abs);
    if (rel.startsWith('..') || path.isAbsolute(rel)) {
      if (opts.rev) {
        pre.push(diagnostic('load/outside-repository', 'error', `path ${p} is outside the repository ${root}`, fileSpan(p)));
        continue;
      }
    }
    rels.push(rel === '' ? '.' : rel.split(path.sep).join('/'));
  }
  if (opts.rev) {
    const r = await readRevision(root, opts.rev, rels, opts.ignore ? { ignore: rebase(opts.ignore, opts.ignoreBase, root) } : {});
    if ('error' in r) return { documents: [], diagnostics: [...pre, r.error], files: [], sources: new Map(), ignored: [] };
    const res = loadSources(r.files as SourceFile[], r.commit, opts.limits); // no `have`: every file was read
    res.diagnostics = sortDiagnostics([...pre, ...r.diagnostics, ...res.diagnostics]);
    res.ignored = [...r.ignored, ...res.ignored];
    return res;
  }
  const read = await readWorkTree(root, rels, opts.limits, opts.ignore ? rebase(opts.ignore, opts.ignoreBase, root) : undefined);
  const res = loadSources(read.files, undefined, opts.limits);
  res.diagnostics = sortDiagnostics([...pre, ...read.diagnostics, ...res.diagnostics]);
  res.ignored = [...read.ignored, ...res.ignored];
  return res;
}

/**
 * Globs written relative to `base`, as a test of paths relative to `root`. Only globs under a
 * `root` below `base` can apply; `root` above `base` prefixes them.
 */
export function rebase(globs: readonly string[], base: string | undefined, root: string): readonly string[] | ((file: string) => boolean) {
  if (!base || path.resolve(base) === path.resolve(root)) return globs;
  const test = ignoreTest(globs);
  return (file) => {
    const rel = path.relative(base, path.resolve(root, file)).split(path.sep).join('/');
    // A folder is asked about with a trailing slash: keep it (path.resolve drops it).
    return !rel.startsWith('..') && test(file.endsWith('/') ? `${rel}/` : rel);
  };
}

/** An ignore option as a test; a folder named on the command line that is itself ignored is read in full. */
function ignoreFor(ignore: readonly string[] | ((file: string) => boolean) | undefined, named: string): (file: string) => boolean {
  const test = typeof ignore === 'function' ? ignore : ignoreTest(ignore);
  if (test(`${named.replace(/\/+$/, '')}/`)) return () => false;
  return test;
}

/**
 * Reads the YAML and JSON files under `rels` (relative to `root`) from disk; missing, unreadable
 * and oversized files are findings, other files of a folder one info finding per folder. A file
 * named on its own is always read.
 */
export async function readWorkTree(
  root: string,
  rels: readonly string[],
  limits: Partial<YamlLimits> = {},
  ignore?: readonly string[] | ((file: string) => boolean),
): Promise<{ files: SourceFile[]; diagnostics: Diagnostic[]; ignored: IgnoredInput[] }> {
  const files: SourceFile[] = [];
  const pre: Diagnostic[] = [];
  const ignored: IgnoredInput[] = [];
  for (const rel of rels) {
    const abs = path.resolve(root, rel);
    let st;
    try {
      st = await fs.stat(abs);
    } catch {
      pre.push(diagnostic('load/missing-path', 'error', `no such file or folder: ${rel}`, fileSpan(rel)));
      continue;
    }
    let list = [abs];
    const named = !st.isDirectory();
    if (st.isDirectory()) {
      const sel = selectInputs(
        (await walk(abs)).map((f) => ({ file: displayPath(root, f), abs: f })),
        ignoreFor(ignore, rel),
      );
      list = sel.read.map((f) => f.abs);
      ignored.push(...sel.ignored);
      const info = notReadDiagnostic(rel, sel.notRead);
      if (info) pre.push(info);
    }
    for (const f of list) {
      const display = displayPath(root, f);
      try {
        const fst = await fs.stat(f);
        const maxBytes = { ...defaultLimits, ...limits }.maxFileBytes;
        if (fst.size > maxBytes) {
          // Do not read a huge file into memory just to reject it.
          pre.push(
            diagnostic(
              'load/file-too-large',
              'error',
              `file is ${fst.size} bytes; the limit is ${maxBytes} bytes (policy files this large are almost certainly not policies)`,
              fileSpan(display),
            ),
          );
          continue;
        }
        files.push({ file: display, bytes: await fs.readFile(f), ...(named ? { named: true } : {}) });
      } catch (e) {
        pre.push(diagnostic('load/unreadable', 'error', `cannot read file: ${(e as Error).message}`, fileSpan(display)));
      }
    }
  }
  return { files, diagnostics: pre, ignored };
}

function displayPath(root: string, abs: string): string {
  const rel = path.relative(root, abs);
  return (rel.startsWith('..') ? abs : rel).split(path.sep).join('/');
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await fs.readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    if (isSkippedEntry(e.name)) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (e.isFile()) out.push(p);
  }
  return out;
}

/** An input file of a revision: its blob id, and its bytes unless the caller already had them. */
export interface RevisionFile {
  file: string;
  oid: string;
  bytes?: Uint8Array;
  named?: boolean;
}

/**
 * Lists every input file under `paths` at `rev` (as readWorkTree chooses them) and reads the
 * bytes of those `have` does not already hold, through one `git cat-file --batch` (`reader`, which
 * a caller reading several revisions shares; with `keepBlobs` it reads each blob id once).
 */
export async function readRevision(
  repo: string,
  rev: string,
  paths: readonly string[],
  opts: {
    reader?: GitObjectReader;
    have?: (file: string, oid: string) => boolean;
    keepBlobs?: boolean;
    ignore?: readonly string[] | ((file: string) => boolean);
  } = {},
): Promise<{ files: RevisionFile[]; commit: string; diagnostics: Diagnostic[]; ignored: IgnoredInput[] } | { error: Diagnostic }> {
  const reader = opts.reader ?? new GitObjectReader(repo);
  try {
    const commit = await reader.commit(rev);
    if (!commit)
      return { error: diagnostic('load/missing-revision', 'error', `revision \`${rev}\` does not exist in ${repo}`, fileSpan(repo)) };
    const listed = await reader.files(commit.tree, paths);
    const specs = paths.map((p) => p.replace(/^\.\/|\/+$/g, '')).filter((p) => p !== '.' && p !== '');
    // A path naming one file reads it whatever its name; folders are read as readWorkTree reads them.
    const named = new Set(listed.filter((f) => specs.includes(f.file)).map((f) => f.file));
    const tests = (specs.length ? specs : ['.']).map((p) => ({ p, test: ignoreFor(opts.ignore, p) }));
    const sel = selectInputs(
      listed.filter((f) => !named.has(f.file) && !f.file.split('/').some(isSkippedEntry)),
      (file) => tests.some(({ p, test }) => (p === '.' || file.startsWith(`${p}/`)) && test(file)),
    );
    const diagnostics: Diagnostic[] = [];
    for (const p of specs.length ? specs : ['.']) {
      const under = sel.notRead.filter((f) => p === '.' || f.startsWith(`${p}/`));
      const info = notReadDiagnostic(p, under, commit.oid);
      if (info) diagnostics.push(info);
    }
    const chosen = new Set([...named, ...sel.read.map((f) => f.file)]);
    const files: RevisionFile[] = listed
      .filter((f) => chosen.has(f.file))
      .map((f) => ({ file: f.file, oid: f.oid, ...(named.has(f.file) ? { named: true } : {}) }));
    const reads = files.map((f) => (opts.have?.(f.file, f.oid) ? undefined : reader.read(f.oid, opts.keepBlobs)));
    for (let i = 0; i < files.length; i++) {
      const r = reads[i];
      if (!r) continue;
      const o = await r;
      if (!o) throw new Error(`blob ${files[i]!.oid} of ${files[i]!.file} is missing`);
      files[i]!.bytes = o.content;
    }
    return { files, commit: commit.oid, diagnostics, ignored: sel.ignored };
  } catch (e) {
    return {
      error: diagnostic('load/git-error', 'error', `cannot read revision \`${rev}\` of ${repo}: ${(e as Error).message}`, fileSpan(repo)),
    };
  } finally {
    if (!opts.reader) reader.close();
  }
}
