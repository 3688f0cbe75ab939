// `weir connectivity`: the effective connectivity of one revision in np-guard's `list` format.
import { renderConnectivity, type ListFormat } from '../compiler/plan/connectivity.js';
import { connectivityOf } from '../compiler/plan/plan.js';
import { loadRevision, readInventory } from '../compiler/plan/revision.js';
import { formatLocation } from '../compiler/diagnostics.js';
import * as path from 'node:path';
import { configFormat, projectConfig } from '../compiler/load/config.js';
import { rebase } from '../compiler/load/index.js';
import type { Command } from './command.js';
import { choice, parseCommandLine, pathsFromRoot, repositoryRoot, writeOutput } from './inputs.js';

const formats: readonly ListFormat[] = ['txt', 'csv', 'md', 'json', 'dot'];

const usage = `usage: weir connectivity [PATH...] [--rev REV] [--inventory FILE] [--format txt|csv|md|json|dot] [--output FILE]

Lists every allowed (source, destination, connections) of the policies under PATH (default .), one line per
pair, in np-guard netpol-analyzer's \`list\` format (\`ns/name[Kind] => ns/name[Kind] : TCP 8080,UDP 53\`,
external ranges as \`0.0.0.0-255.255.255.255[External]\`), so the two tools can be compared.

  --rev REV         read PATH at a Git revision (the work tree is not touched)
  --inventory FILE  cluster inventory (a file or a folder); default: workload manifests found under PATH
  --format F        txt (default), csv, md, json, dot

Where a Kubernetes NetworkPolicy ipBlock allows a pair by covering a pod's address, txt says so on an
indented line below the pair (ipBlock, policy, file:line, pod and address), md in a list below the
table and json in the line's ipBlocks; csv and dot keep np-guard's columns.

A .weir.yaml in this folder or above sets the defaults: policies, ignore, inventory, format.`;

export const connectivityCommand: Command = {
  name: 'connectivity',
  summary: 'list the effective connectivity of one revision',
  usage,
  async run(argv, io) {
    const { values, positionals } = parseCommandLine(argv, {
      rev: { type: 'string' },
      inventory: { type: 'string' },
      format: { type: 'string', short: 'o' },
      output: { type: 'string' },
      quiet: { type: 'boolean', short: 'q', default: false },
    });
    // .weir.yaml gives the defaults: policy paths, ignore globs, the inventory and the format.
    const cfg = projectConfig(io.cwd);
    if (cfg.diagnostics.some((d) => d.severity === 'error')) {
      for (const d of cfg.diagnostics) io.stderr(`${formatLocation(d)}: error: ${d.message} [${d.rule}]\n`);
      return 2;
    }
    const config = cfg.config;
    const format = choice('--format', values.format ?? configFormat(config, 'connectivity') ?? 'txt', formats, 'one of');
    const root = values.rev ? await repositoryRoot(io.cwd) : io.cwd;
    if (!root) {
      io.stderr(`weir connectivity: --rev needs a Git repository, and ${io.cwd} is not inside one\n`);
      return 2;
    }
    const given = positionals.length ? positionals : config?.policies ? config.policies.map((p) => path.resolve(config.root, p)) : ['.'];
    const paths = pathsFromRoot(given, io.cwd, root);
    const inventoryPath =
      values.inventory ?? (config?.inventory?.length === 1 ? path.resolve(config.root, config.inventory[0]!) : undefined);
    const inventory = inventoryPath ? await readInventory(inventoryPath, io.cwd) : undefined;
    const ignore = config?.ignore ? rebase(config.ignore, config.root, root) : undefined;
    const { model } = await loadRevision(
      paths,
      root,
      {
        ref: values.rev ?? 'worktree',
        ...(values.rev ? { rev: values.rev } : {}),
        ...(ignore ? { ignore } : {}),
        ...(config?.allowLocalhost ? { allowLocalhost: config.allowLocalhost } : {}),
      },
      inventory,
    );
    const errors = model.info.diagnostics.filter((d) => d.severity === 'error');
    if (model.info.status === 'failed') {
      for (const d of errors.slice(0, 20)) io.stderr(`${formatLocation(d)}: error: ${d.message} [${d.rule}]\n`);
      io.stderr(`weir connectivity: ${errors.length} error(s); fix them (see \`weir lint\`) before computing connectivity\n`);
      return model.info.diagnostics.some((d) => d.rule === 'load/missing-revision') ? 2 : 1;
    }
    // Warnings (no workloads at all, ...) go to stderr: an empty list must never pass for a clean one.
    if (!values.quiet)
      for (const d of model.info.diagnostics.filter((x) => x.severity === 'warning'))
        io.stderr(`${formatLocation(d)}: warning: ${d.message} [${d.rule}]\n`);
    await writeOutput(renderConnectivity(connectivityOf(model), format), values.output, io.cwd, io.stdout);
    return 0;
  },
};
