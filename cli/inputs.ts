// What the commands read from their command lines, in one place: the arguments, the policy paths
// (work tree or `--rev`), the inventory, the `--format` choice and where the output goes. Every
// command keeps its own options and messages; the logic behind them is written once here.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { gitTopLevel } from '../compiler/load/git.js';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { defaultInventory, defaultPolicyPaths } from '../compiler/build.js';
import { formatLocation } from '../compiler/diagnostics.js';
import { projectConfig, type ProjectConfig } from '../compiler/load/config.js';
import { allowLocalhostModes, type AllowLocalhost } from '../compiler/ir/network/types.js';
import { UsageError } from './command.js';

type Options = NonNullable<ParseArgsConfig['options']>;

/** `node:util` parseArgs with positionals allowed (every command takes PATHs or a BUNDLE). */
export function parseCommandLine<const O extends Options>(argv: string[], options: O) {
  return parseArgs<{ args: string[]; allowPositionals: true; options: O }>({ args: argv, allowPositionals: true, options });
}

/** `--format` (or another flag) checked against its choices; a usage error (exit 2) names them. */
export function choice<const T extends string>(
  flag: string,
  value: string | undefined,
  allowed: readonly T[],
  wording: 'or' | 'one of' = 'or',
): T {
  if (value !== undefined && (allowed as readonly string[]).includes(value)) return value as T;
  const list = wording === 'or' ? `${allowed.slice(0, -1).join(', ')} or ${allowed[allowed.length - 1]}` : `one of ${allowed.join(', ')}`;
  throw new UsageError(wording === 'or' ? `${flag} must be ${list}, not ${value}` : `${flag} must be ${list}, not \`${value}\``);
}

/**
 * The network commands' inputs (build, explain): PATHs (default policies/ when present), the
 * inventory (the flag, else PATH/inventory.yaml or policies/inventory.yaml) and `--rev`.
 */
export function networkInputs(
  cwd: string,
  positionals: string[],
  values: { rev?: string | undefined; inventory?: string[] | undefined },
): { paths: string[]; inventory: string[]; rev: { rev?: string } } {
  const paths = defaultPolicyPaths(cwd, positionals);
  return { paths, inventory: defaultInventory(cwd, values.inventory, paths), rev: values.rev ? { rev: values.rev } : {} };
}

/** The repository top level containing `cwd` (Git paths are relative to it), or undefined outside Git. */
export async function repositoryRoot(cwd: string): Promise<string | undefined> {
  return gitTopLevel(cwd);
}

/** Paths given on the command line, relative to cwd, re-expressed relative to the repository root. */
export function pathsFromRoot(paths: readonly string[], cwd: string, root: string): string[] {
  return paths.map((p) => {
    const rel = path.relative(root, path.resolve(cwd, p));
    return rel === '' ? '.' : rel.split(path.sep).join('/');
  });
}

/** Machine output to `--output FILE` (parent folders created) or, without it or with `-`, to stdout. */
export async function writeOutput(text: string, output: string | undefined, cwd: string, stdout: (s: string) => void): Promise<void> {
  if (!output || output === '-') {
    stdout(text);
    return;
  }
  const abs = path.resolve(cwd, output);
  await fs.mkdir(path.dirname(abs), { recursive: true });
  await fs.writeFile(abs, text);
}

/** The bytes of an input named on the command line (`--flows`: maybe gzip), or undefined when unreadable. */
export async function readInput(file: string, cwd: string): Promise<Uint8Array | undefined> {
  try {
    return await fs.readFile(path.resolve(cwd, file));
  } catch {
    return undefined;
  }
}

/** A text input named on the command line (`--events`), or undefined when unreadable. */
export async function readTextInput(file: string, cwd: string): Promise<string | undefined> {
  try {
    return await fs.readFile(path.resolve(cwd, file), 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * The project config (.weir.yaml, found from `cwd` upwards) for a command; its mistakes are printed
 * with their place and the command stops (undefined: exit 2). No config is `{}`.
 */
export function commandConfig(cwd: string, stderr: (s: string) => void): { config?: ProjectConfig } | undefined {
  const cfg = projectConfig(cwd);
  if (cfg.diagnostics.some((d) => d.severity === 'error')) {
    for (const d of cfg.diagnostics) stderr(`${formatLocation(d)}: error: ${d.message} [${d.rule}]\n`);
    return undefined;
  }
  return cfg.config ? { config: cfg.config } : {};
}

/** `--allow-localhost` (Cilium's flag of that name), else the config's `allowLocalhost`; undefined is `auto`. */
export function allowLocalhostOption(flag: string | undefined, config: ProjectConfig | undefined): AllowLocalhost | undefined {
  if (flag !== undefined) return choice('--allow-localhost', flag, allowLocalhostModes, 'one of');
  return config?.allowLocalhost;
}

/** The config's ignore globs for a loader, relative to the config's folder. */
export function configIgnore(config: ProjectConfig | undefined): { ignore?: readonly string[]; ignoreBase?: string } {
  return config?.ignore ? { ignore: config.ignore, ignoreBase: config.root } : {};
}
