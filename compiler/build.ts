// `weir build` as a library: load policies and inventory, compile the network IR, lower it, let
// every image producer contribute (network first, then the runtime compiler's), and assemble one
// deterministic bundle.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { hasErrors, sortDiagnostics, type Diagnostic } from './diagnostics.js';
import { inputErrors, withoutRepeats } from './validate.js';
import { loadInventory, readInventory } from './inventory/load.js';
import type { Inventory } from './inventory/model.js';
import type { AllowLocalhost, NetworkIR } from './ir/network/types.js';
import { loadPolicies, type PolicyDocument } from './load/index.js';
import { lowerNetwork, type MapStateCache, type LoweredNetwork } from './lower/network/images.js';
import { compileNetwork } from './ir/network/index.js';
import type { CompileCache } from './ir/network/compile.js';
import { weirVersion } from './project.js';
import { abiInfo } from './bundle/abi-stamp.js';
import { assembleBundle, type Bundle, type ProducerOutput } from './bundle/assemble.js';
import { imageProducer as runtimeImages } from './lower/runtime/images.js';
import type { BuildContext, ImageProducer } from './producer.js';

/** The producers beyond the network compiler that a full build runs: the runtime compiler. */
export const extraProducers: readonly ImageProducer[] = [runtimeImages];

export function compilerVersion(): string {
  return `weir/${weirVersion()}`;
}

export interface BuildOptions {
  policyMaxEntries?: number;
  /** Source description recorded in the manifest. */
  source: { revision?: string; paths: string[]; inventory?: string };
  commit?: string;
  producers?: readonly ImageProducer[];
  /** Map state memo shared across builds (incremental rebuilds). */
  cache?: MapStateCache;
  /** Identity allocation memo shared across builds of one inventory. */
  compileCache?: CompileCache;
  /** Cilium's `--allow-localhost` (default `auto`: the host reaches the pods of its node). */
  allowLocalhost?: AllowLocalhost;
  /** Capabilities the nodes' agents probed and reported, by node (the controller's): they win over the inventory's labels. */
  nodeCapabilities?: BuildContext['nodeCapabilities'];
  /** Nodes the controller holds on their last bundle (see BuildContext.heldNodes). */
  heldNodes?: BuildContext['heldNodes'];
}

export interface BuildResult {
  diagnostics: Diagnostic[];
  ir: NetworkIR;
  lowered: LoweredNetwork;
  /** Undefined when there were errors: a bundle is never built from a policy set with errors. */
  bundle?: Bundle;
}

/** The pure core of `weir build`: documents + inventory → bundle. */
export async function buildFromDocuments(
  documents: readonly PolicyDocument[],
  inventory: Inventory,
  opts: BuildOptions,
): Promise<BuildResult> {
  const { ir, diagnostics } = compileNetwork(documents, inventory, {
    ...(opts.commit ? { commit: opts.commit } : {}),
    ...(opts.compileCache ? { cache: opts.compileCache } : {}),
    ...(opts.allowLocalhost ? { allowLocalhost: opts.allowLocalhost } : {}),
  });
  const lowered = lowerNetwork(ir, opts.policyMaxEntries ? { policyMaxEntries: opts.policyMaxEntries } : {}, opts.cache);
  const diags = [...diagnostics, ...lowered.diagnostics];
  // What lint calls invalid, build refuses too (schema: names, types, lengths; selector syntax).
  diags.push(
    ...withoutRepeats(diags, inputErrors(documents.filter((d) => d.family === 'network' || d.family === 'runtime' || d.family === 'psp'))),
  );
  const ctx: BuildContext = {
    documents,
    inventory,
    nodes: inventory.nodes.map((n) => n.name).sort(),
    ...(opts.commit ? { commit: opts.commit } : {}),
    network: { ir, lowered },
    ...(opts.nodeCapabilities ? { nodeCapabilities: opts.nodeCapabilities } : {}),
    ...(opts.heldNodes?.length ? { heldNodes: opts.heldNodes } : {}),
  };
  const outputs: ProducerOutput[] = [lowered.output];
  for (const p of opts.producers ?? []) {
    const r = await p.produce(ctx);
    outputs.push(r.output);
    diags.push(...r.diagnostics);
  }
  sortDiagnostics(diags);
  if (hasErrors(diags)) return { diagnostics: diags, ir, lowered };
  const source = opts.allowLocalhost === 'policy' ? { ...opts.source, allowLocalhost: 'policy' as const } : opts.source;
  const bundle = assembleBundle(outputs, { source, compilerVersion: compilerVersion(), abi: abiInfo() });
  return { diagnostics: diags, ir, lowered, bundle };
}

export interface SourceBuildOptions {
  paths: string[];
  inventory: string[];
  root: string;
  rev?: string;
  policyMaxEntries?: number;
  producers?: readonly ImageProducer[];
  /** The project config's ignore globs (relative to `ignoreBase`, default `root`): files folders are read without. */
  ignore?: readonly string[];
  ignoreBase?: string;
  allowLocalhost?: AllowLocalhost;
}

/** Loads from the file system or a Git revision, then builds. */
export async function buildFromSources(o: SourceBuildOptions): Promise<BuildResult & { files: string[]; loadDiagnostics: Diagnostic[] }> {
  const loaded = await loadPolicies(o.paths, {
    root: o.root,
    ...(o.rev ? { rev: o.rev } : {}),
    ...(o.ignore ? { ignore: o.ignore, ...(o.ignoreBase ? { ignoreBase: o.ignoreBase } : {}) } : {}),
  });
  const inv = await readInventory(o.inventory, { root: o.root, ...(o.rev ? { rev: o.rev } : {}) });
  // Inventory objects inside the policy paths (manifests kept beside policies) count too.
  const invFromPolicies = loadInventory(loaded.documents.filter((d) => d.family === 'workload' || d.kind === 'Inventory'));
  const inventory = mergeInventories(inv.inventory, invFromPolicies.inventory);
  const policyDocs = loaded.documents.filter((d) => d.family === 'network' || d.family === 'runtime' || d.family === 'psp');
  const commit = loaded.commit;
  const r = await buildFromDocuments(policyDocs, inventory, {
    ...(o.policyMaxEntries ? { policyMaxEntries: o.policyMaxEntries } : {}),
    source: {
      ...(commit ? { revision: commit } : {}),
      paths: o.paths.map((p) => p.split(path.sep).join('/')),
      ...(o.inventory.length ? { inventory: o.inventory.join(',') } : {}),
    },
    ...(commit ? { commit } : {}),
    producers: o.producers ?? extraProducers,
    ...(o.allowLocalhost ? { allowLocalhost: o.allowLocalhost } : {}),
  });
  const loadDiagnostics = [...loaded.diagnostics, ...inv.diagnostics, ...invFromPolicies.diagnostics];
  const diagnostics = sortDiagnostics([...loadDiagnostics, ...r.diagnostics]);
  const bundle = hasErrors(diagnostics) ? undefined : r.bundle;
  return { ...r, diagnostics, ...(bundle ? { bundle } : { bundle: undefined }), files: loaded.files, loadDiagnostics };
}

export function mergeInventories(a: Inventory, b: Inventory): Inventory {
  if (b.pods.length === 0 && b.namespaces.length === 0 && b.services.length === 0 && !b.hostNetworkPods?.length) return a;
  const byKey = <T>(xs: T[], k: (x: T) => string) => [...new Map(xs.map((x) => [k(x), x])).values()];
  const hostPods = byKey([...(a.hostNetworkPods ?? []), ...(b.hostNetworkPods ?? [])], (p) => `${p.namespace}/${p.name}`);
  return {
    ...(hostPods.length
      ? { hostNetworkPods: hostPods.sort((x, y) => (`${x.namespace}/${x.name}` < `${y.namespace}/${y.name}` ? -1 : 1)) }
      : {}),
    cluster: a.cluster,
    namespaces: byKey([...a.namespaces, ...b.namespaces], (n) => n.name).sort((x, y) => (x.name < y.name ? -1 : 1)),
    pods: byKey([...a.pods, ...b.pods], (p) => `${p.namespace}/${p.name}`).sort((x, y) =>
      `${x.namespace}/${x.name}` < `${y.namespace}/${y.name}` ? -1 : 1,
    ),
    services: byKey([...a.services, ...b.services], (s) => `${s.namespace}/${s.name}`),
    nodes: byKey([...a.nodes, ...b.nodes], (n) => n.name).sort((x, y) => (x.name < y.name ? -1 : 1)),
    cidrGroups: byKey([...a.cidrGroups, ...b.cidrGroups], (g) => g.name),
  };
}

/** Default policy paths of the network commands: the arguments, else policies/ when present. */
export function defaultPolicyPaths(cwd: string, positionals: string[]): string[] {
  if (positionals.length) return positionals;
  return existsSync(path.join(cwd, 'policies')) ? ['policies'] : ['.'];
}

/** Default inventory: the flag, else PATH/inventory.yaml or policies/inventory.yaml when present. */
export function defaultInventory(cwd: string, given: string[] | undefined, policyPaths: string[]): string[] {
  if (given && given.length) return given;
  for (const p of [...policyPaths.map((x) => path.join(x, 'inventory.yaml')), 'policies/inventory.yaml'])
    if (existsSync(path.resolve(cwd, p))) return [p];
  return [];
}
