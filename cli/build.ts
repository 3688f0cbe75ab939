// `weir build`: policies + inventory → a verified-by-construction, content-addressed bundle.
import * as path from 'node:path';
import { buildFromSources } from '../compiler/build.js';
import type { Bundle } from '../compiler/bundle/assemble.js';
import { writeBundle } from '../compiler/bundle/io.js';
import { formatDiagnostic } from '../compiler/explain/format.js';
import { UsageError, type Command } from './command.js';
import { allowLocalhostOption, choice, commandConfig, configIgnore, networkInputs, parseCommandLine } from './inputs.js';

const usage = `usage: weir build [PATH...] [--rev REV] [--inventory FILE]... --out DIR
                  [--policy-map-size N] [--allow-localhost auto|always|policy] [--format text|json] [--quiet]

Compiles the network policies under PATH (default: policies/) against the inventory into map
images per node (ipcache, one policy LPM per endpoint) plus tables (rule cookies, endpoints,
identities, FQDN selectors, L7 rules), and writes the bundle to DIR
(manifest.json + blobs/sha256/<hex>). The same input always gives byte-identical output.

  --rev REV            read the policies from this Git revision (work tree untouched)
  --inventory FILE     weir Inventory, \`kubectl get -A -o yaml\` output or manifests
                       (default: PATH/inventory.yaml or policies/inventory.yaml)
  --out DIR            where to write the bundle
  --policy-map-size N  capacity of each endpoint's policy map (default 16384)
  --allow-localhost M  as Cilium's flag: auto or always (default: the node's host reaches the pods
                       of its node, e.g. kubelet probes) or policy (the host needs a rule)
  --format json        print a JSON summary on stdout

A .weir.yaml in this folder or above supplies \`ignore\` (files folders are read without) and
\`allowLocalhost\`.`;

export const buildCommand: Command = {
  name: 'build',
  summary: 'compile policies and inventory into a bundle of map images',
  usage,
  async run(argv, io) {
    const { values, positionals } = parseCommandLine(argv, {
      rev: { type: 'string' },
      inventory: { type: 'string', multiple: true },
      out: { type: 'string', short: 'o' },
      'policy-map-size': { type: 'string' },
      'allow-localhost': { type: 'string' },
      format: { type: 'string', default: 'text' },
      quiet: { type: 'boolean', short: 'q', default: false },
    });
    if (!values.out) throw new UsageError('--out DIR is required');
    choice('--format', values.format, ['text', 'json']);
    let policyMaxEntries: number | undefined;
    if (values['policy-map-size'] !== undefined) {
      policyMaxEntries = Number(values['policy-map-size']);
      if (!Number.isInteger(policyMaxEntries) || policyMaxEntries < 1) throw new UsageError('--policy-map-size must be a positive integer');
    }
    const cfg = commandConfig(io.cwd, io.stderr);
    if (!cfg) return 2;
    const allowLocalhost = allowLocalhostOption(values['allow-localhost'], cfg.config);
    const { paths, inventory, rev } = networkInputs(io.cwd, positionals, values);
    const t0 = performance.now();
    const r = await buildFromSources({
      paths,
      inventory,
      root: io.cwd,
      ...rev,
      ...(policyMaxEntries ? { policyMaxEntries } : {}),
      ...configIgnore(cfg.config),
      ...(allowLocalhost ? { allowLocalhost } : {}),
    });
    for (const d of r.diagnostics) if (!values.quiet || d.severity === 'error') io.stderr(formatDiagnostic(d) + '\n');
    if (!r.bundle) {
      io.stderr(`weir build: not writing a bundle: ${r.diagnostics.filter((d) => d.severity === 'error').length} error(s)\n`);
      if (values.format === 'json') io.stdout(JSON.stringify({ ok: false, diagnostics: r.diagnostics }, null, 2) + '\n');
      return 1;
    }
    const out = path.resolve(io.cwd, values.out);
    await writeBundle(out, r.bundle);
    const ms = performance.now() - t0;
    const maps = r.bundle.manifest.nodes.reduce((n, x) => n + x.maps.length, 0);
    const digest = r.bundle.digest;
    if (values.format === 'json')
      io.stdout(
        JSON.stringify(
          {
            ok: true,
            bundle: values.out,
            digest: `sha256:${digest}`,
            nodes: r.bundle.manifest.nodes.length,
            endpoints: r.ir.endpoints.length,
            identities: r.ir.identities.length,
            maps,
            blobs: r.bundle.blobs.size,
            diagnostics: r.diagnostics,
          },
          null,
          2,
        ) + '\n',
      );
    else if (!values.quiet) {
      io.stderr(
        `weir build: ${values.out}: ${r.bundle.manifest.nodes.length} node(s), ${r.ir.endpoints.length} endpoint(s), ${r.ir.identities.length} identities, ${maps} map image(s) in ${r.bundle.blobs.size} blob(s), manifest sha256:${digest.slice(0, 16)} (${ms.toFixed(0)} ms)\n`,
      );
      for (const line of runtimeCapacityLines(r.bundle)) io.stderr(`weir build: ${line}\n`);
    }
    return 0;
  },
};

/** Per node with runtime policies: how much of each runtime map its images use (the node's capacity). */
function runtimeCapacityLines(b: Bundle): string[] {
  const t = b.manifest.tables.find((x) => x.name === 'runtime_hooks');
  const blob = t && b.blobs.get(t.digest);
  if (!blob) return [];
  const nodes = JSON.parse(Buffer.from(blob).toString('utf8')) as Record<
    string,
    { policies?: unknown[]; hooks?: unknown[]; capacity?: { map: string; used: number; limit: number }[] }
  >;
  return Object.entries(nodes)
    .filter(([, n]) => (n.hooks?.length ?? 0) > 0)
    .map(
      ([node, n]) =>
        `runtime on ${node}: ${n.policies?.length ?? 0} policies, ${n.hooks?.length ?? 0} hooks; map capacity used: ${(n.capacity ?? [])
          .filter((c) => c.used > 0)
          .map((c) => `${c.map} ${c.used}/${c.limit}`)
          .join(', ')}`,
    );
}
