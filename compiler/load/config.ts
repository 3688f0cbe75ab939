// The project configuration, `.weir.yaml` at the repository root: which paths hold policies,
// what to leave out, the inventory, extra guardrails and default output formats. Found as ESLint
// and conftest find theirs: in the working folder, else in the nearest parent, never above the
// Git repository the working folder is in.
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { diagnostic, fileSpan, type Diagnostic } from '../diagnostics.js';
import { allowLocalhostModes, type AllowLocalhost } from '../ir/network/types.js';
import type { GitObjectReader } from './git.js';
import { parseYamlDocuments } from './yaml.js';

export const configNames = ['.weir.yaml', '.weir.yml'] as const;

export interface ProjectConfig {
  /** The config file, absolute. */
  file: string;
  /** Its folder: every path in the config is relative to it. */
  root: string;
  /** Policy files and folders read when a command is given no PATH. */
  policies?: string[];
  /** .gitignore-style globs of files folders are read without. */
  ignore?: string[];
  /** Inventory files or folders (default for `--inventory`). */
  inventory?: string[];
  /** Extra Guardrail files or folders. */
  guardrails?: string[];
  /** Default `--format` per command (`lint: sarif`), or one for every command that has it. */
  format?: Record<string, string>;
  /** Cilium's `--allow-localhost` the cluster runs with (build, plan, connectivity): auto (default), always or policy. */
  allowLocalhost?: AllowLocalhost;
}

/** A project config larger than this is refused (it is a few lines of paths and globs). */
export const maxConfigBytes = 64 * 1024;

const keys = ['policies', 'ignore', 'inventory', 'guardrails', 'format', 'allowLocalhost'] as const;

/** The folder holding `.weir.yaml`, searched from `cwd` upwards to the repository's top. */
export function findConfigFile(cwd: string): string | undefined {
  let dir = path.resolve(cwd);
  for (;;) {
    for (const n of configNames) if (existsSync(path.join(dir, n))) return path.join(dir, n);
    // The repository's top folder ends the search: a config above it belongs to another project.
    if (existsSync(path.join(dir, '.git'))) return undefined;
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

export interface ConfigResult {
  config?: ProjectConfig;
  diagnostics: Diagnostic[];
  /** The file as diagnostics name it, and its text (for code frames), when one was found. */
  source?: { file: string; text: string };
}

/** Reads and checks a config file (`display`: how diagnostics name it); mistakes are diagnostics naming the file and place. */
export function readConfig(file: string, display = path.basename(file)): ConfigResult {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > maxConfigBytes)
      return {
        diagnostics: [
          diagnostic(
            'config/invalid',
            'error',
            `${display} is ${size} bytes; a project config is at most ${maxConfigBytes}`,
            fileSpan(display),
          ),
        ],
      };
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return { diagnostics: [diagnostic('config/unreadable', 'error', `cannot read ${file}: ${(e as Error).message}`, fileSpan(display))] };
  }
  const r = checkConfig(file, display, text);
  return { ...r, source: { file: display, text } };
}

function checkConfig(file: string, display: string, text: string): { config?: ProjectConfig; diagnostics: Diagnostic[] } {
  const parsed = parseYamlDocuments(display, text);
  if (parsed.diagnostics.length)
    return { diagnostics: parsed.diagnostics.map((d) => ({ ...d, rule: d.rule.replace(/^load\//, 'config/') })) };
  const doc = parsed.documents[0];
  const config: ProjectConfig = { file, root: path.dirname(file) };
  if (!doc || doc.value === null) return { config, diagnostics: [] };
  const v = doc.value;
  const diagnostics: Diagnostic[] = [];
  const err = (p: (string | number)[], message: string, key = false) =>
    diagnostics.push(diagnostic('config/invalid', 'error', message, doc.locate(p, { key })));
  if (typeof v !== 'object' || Array.isArray(v)) {
    err([], `${display} must be a mapping of ${keys.join(', ')}`);
    return { diagnostics };
  }
  const o = v as Record<string, unknown>;
  const strings = (k: string): string[] | undefined => {
    const x = o[k];
    if (x === undefined) return undefined;
    if (typeof x === 'string') return [x];
    if (Array.isArray(x) && x.every((s) => typeof s === 'string')) return x as string[];
    err([k], `\`${k}\` must be a path or a list of paths`);
    return undefined;
  };
  for (const k of Object.keys(o))
    if (!(keys as readonly string[]).includes(k)) {
      const near = keys.find((x) => x.toLowerCase() === k.toLowerCase() || x.startsWith(k.slice(0, 4)));
      err([k], `unknown key \`${k}\` in ${display}; known: ${keys.join(', ')}${near ? ` (did you mean \`${near}\`?)` : ''}`, true);
    }
  for (const k of ['policies', 'ignore', 'inventory', 'guardrails'] as const) {
    const l = strings(k);
    if (l) config[k] = l;
  }
  const f = o['format'];
  if (typeof f === 'string') config.format = { '*': f };
  else if (f !== null && typeof f === 'object' && !Array.isArray(f) && Object.values(f).every((x) => typeof x === 'string'))
    config.format = f as Record<string, string>;
  else if (f !== undefined) err(['format'], '`format` must be a format name, or a mapping of command to format (`lint: sarif`)');
  const al = o['allowLocalhost'];
  if (typeof al === 'string' && (allowLocalhostModes as readonly string[]).includes(al)) config.allowLocalhost = al as AllowLocalhost;
  else if (al !== undefined)
    err(['allowLocalhost'], `\`allowLocalhost\` must be one of ${allowLocalhostModes.join(', ')} (Cilium's --allow-localhost)`);
  return diagnostics.length ? { diagnostics } : { config, diagnostics };
}

/**
 * The project config a commit holds at the repository's top (`.weir.yaml`, else `.weir.yml`), read
 * through `reader` from the commit's tree: what the controller compiles a commit with. None when
 * the commit has no config.
 */
export async function configAtCommit(
  reader: GitObjectReader,
  repo: string,
  tree: string,
  names: readonly string[] = configNames,
): Promise<ConfigResult> {
  const found = await reader.files(tree, names);
  const f = names.map((n) => found.find((x) => x.file === n)).find((x) => x !== undefined);
  if (!f) return { diagnostics: [] };
  const blob = await reader.read(f.oid);
  if (!blob) throw new Error(`blob ${f.oid} of ${f.file} is missing`);
  if (blob.content.length > maxConfigBytes)
    return {
      diagnostics: [
        diagnostic(
          'config/invalid',
          'error',
          `${f.file} is ${blob.content.length} bytes; a project config is at most ${maxConfigBytes}`,
          fileSpan(f.file),
        ),
      ],
    };
  const text = blob.content.toString('utf8');
  return { ...checkConfig(path.join(repo, f.file), f.file, text), source: { file: f.file, text } };
}

/**
 * The project config a revision of the repository at `repo` holds: `file` (relative to the
 * repository's top) when given, else `.weir.yaml`/`.weir.yml` at its top. None when the revision
 * has none, or does not exist (reading it reports that).
 */
export async function revisionConfig(repo: string, rev: string, file?: string): Promise<ConfigResult> {
  const { GitObjectReader } = await import('./git.js');
  const reader = new GitObjectReader(repo);
  try {
    const commit = await reader.commit(rev).catch(() => undefined);
    return commit ? await configAtCommit(reader, repo, commit.tree, file ? [file] : configNames) : { diagnostics: [] };
  } finally {
    reader.close();
  }
}

/** The project config for a command run in `cwd`, if any (named relative to `cwd` in diagnostics). */
export function projectConfig(cwd: string): ConfigResult {
  const file = findConfigFile(cwd);
  return file ? readConfig(file, path.relative(cwd, file).split(path.sep).join('/')) : { diagnostics: [] };
}

/** A command's default format from the config: its own entry, else the one for every command. */
export function configFormat(config: ProjectConfig | undefined, command: string): string | undefined {
  return config?.format?.[command] ?? config?.format?.['*'];
}
