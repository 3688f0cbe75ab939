// Step 0 of `weir demo`: the project's own policy repository (`policies/`) through the compiler's
// in-process stages, as `weir lint`, `weir build`, `weir verify` and `weir test` run them. Each
// stage reports its real counts; a stage that fails says so and the demo goes on.
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { buildFromSources, defaultInventory } from '../../compiler/build.js';
import { readBundle, writeBundle } from '../../compiler/bundle/io.js';
import { sortDiagnostics, type Diagnostic } from '../../compiler/diagnostics.js';
import { loadInventory } from '../../compiler/inventory/index.js';
import type { NetworkIR } from '../../compiler/ir/network/types.js';
import { lintDocuments } from '../../compiler/lint/index.js';
import { counts } from '../../compiler/lint/report.js';
import { loadPolicies } from '../../compiler/load/index.js';
import { runPolicyTests } from '../../compiler/policytest/run.js';
import { projectRoot } from '../../compiler/project.js';
import { verifyNetwork } from '../../compiler/verify/verify.js';

/** The project root holding the bundled `policies/` (from the sources or from dist/), or undefined. */
export function bundledRoot(): string | undefined {
  const root = projectRoot();
  return existsSync(path.join(root, 'policies', 'inventory.yaml')) ? root : undefined;
}

export interface StageLine {
  stage: 'lint' | 'build' | 'verify' | 'test';
  ok: boolean;
  text: string;
}

const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
const ms = (t0: number) => `${(performance.now() - t0).toFixed(0)} ms`;
const first = (d: Diagnostic | undefined) => (d ? `${d.file}:${d.line}:${d.column}: ${d.message} [${d.rule}]` : '');

/** Lint, build (with the inventory), verify (evaluator vs emulator) and test the bundled policies. */
export async function checkBundled(root: string, scratch: string): Promise<StageLine[]> {
  const lines: StageLine[] = [];
  const guard = async (stage: StageLine['stage'], f: () => Promise<StageLine>) => {
    try {
      lines.push(await f());
    } catch (err) {
      lines.push({ stage, ok: false, text: `failed: ${(err as Error).message.split('\n')[0]}` });
    }
  };

  await guard('lint', async () => {
    const t0 = performance.now();
    const loaded = await loadPolicies(['policies'], { root });
    const diags: Diagnostic[] = [...loaded.diagnostics];
    const inv = loadInventory(loaded.documents);
    diags.push(...inv.diagnostics);
    const guardrails = loaded.documents.filter((d) => d.kind === 'Guardrail');
    diags.push(...lintDocuments(loaded.documents, { prior: diags, guardrails, inventory: inv.inventory }));
    const seen = new Set<string>();
    const unique = sortDiagnostics(
      diags.filter((d) =>
        seen.has(`${d.file}:${d.line}:${d.column}:${d.rule}`) ? false : (seen.add(`${d.file}:${d.line}:${d.column}:${d.rule}`), true),
      ),
    );
    const c = counts(unique);
    const firstError = unique.find((d) => d.severity === 'error');
    return {
      stage: 'lint',
      ok: c.error === 0,
      text: `${plural(loaded.documents.length, 'document')} in ${plural(loaded.files.length, 'file')} (${plural(guardrails.length, 'guardrail')} applied): ${plural(c.error, 'error')}, ${plural(c.warning, 'warning')}${firstError ? ` — first: ${first(firstError)}` : ''} (${ms(t0)})`,
    };
  });

  let built: { dir: string; ir: NetworkIR } | undefined;
  await guard('build', async () => {
    const t0 = performance.now();
    const paths = ['policies'];
    const r = await buildFromSources({ paths, inventory: defaultInventory(root, undefined, paths), root });
    const errors = r.diagnostics.filter((d) => d.severity === 'error');
    if (!r.bundle)
      return {
        stage: 'build',
        ok: false,
        text: `no bundle: ${plural(errors.length, 'error')}${errors[0] ? ` — first: ${first(errors[0])}` : ''}`,
      };
    const dir = path.join(scratch, 'bundled-bundle');
    await writeBundle(dir, r.bundle);
    built = { dir, ir: r.ir };
    const nodes = r.bundle.manifest.nodes;
    const maps = nodes.reduce((n, x) => n + x.maps.length, 0);
    const entries = nodes.reduce((n, x) => n + x.maps.reduce((m, y) => m + y.entries, 0), 0);
    return {
      stage: 'build',
      ok: true,
      text:
        `${plural(nodes.length, 'node')}, ${plural(r.ir.endpoints.length, 'endpoint')}, ${plural(r.ir.identities.length, 'identity')}, ${plural(maps, 'map image')} with ${plural(entries, 'map entry')}`
          .replace('identitys', 'identities')
          .replace('entrys', 'entries') + ` (${ms(t0)})`,
    };
  });

  await guard('verify', async () => {
    if (!built) return { stage: 'verify', ok: false, text: 'skipped: there is no bundle to verify' };
    const t0 = performance.now();
    const rep = verifyNetwork(built.ir, await readBundle(built.dir));
    const ok = rep.mismatches.length === 0 && rep.problems.length === 0;
    return {
      stage: 'verify',
      ok,
      text: `evaluator vs datapath emulator: ${plural(rep.classes, 'equivalence class')} over ${plural(rep.endpoints, 'endpoint')}, ${plural(rep.mismatches.length, 'mismatch').replace('mismatchs', 'mismatches')}${rep.problems.length ? `, ${plural(rep.problems.length, 'problem')}: ${rep.problems[0]}` : ''} (${ms(t0)})`.replace(
        'classs',
        'classes',
      ),
    };
  });

  await guard('test', async () => {
    const t0 = performance.now();
    const run = await runPolicyTests(['policies/tests'], { root });
    const passed = run.results.filter((r) => r.ok).length;
    const failed = run.results.length - passed;
    const errors = run.diagnostics.filter((d) => d.severity === 'error');
    const suites = new Set(run.results.map((r) => r.file)).size;
    const firstFail = run.results.find((r) => !r.ok);
    return {
      stage: 'test',
      ok: failed === 0 && errors.length === 0,
      text: `PolicyTest: ${plural(run.results.length, 'case')} in ${plural(suites, 'suite')}: ${passed} passed, ${failed} failed${errors.length ? `, ${plural(errors.length, 'error')}` : ''}${firstFail ? ` — first failure: ${firstFail.file}${firstFail.line ? `:${firstFail.line}` : ''} ${firstFail.name} (expected ${firstFail.expect}, got ${firstFail.actual})` : ''} (${ms(t0)})`,
    };
  });
  await fs.rm(path.join(scratch, 'bundled-bundle'), { recursive: true, force: true });
  return lines;
}

/** The Star Wars files of the bundled repository the live story starts from (paths relative to the project root). */
export const storyFiles = [
  'policies/inventory.yaml',
  'policies/network/starwars/deathstar.yaml',
  'policies/network/starwars/empire-egress.yaml',
];

export interface StarWarsPods {
  /** The pods of node-1 in the Star Wars namespace as Pod manifests (what netns.ts builds namespaces from). */
  podsYaml: string;
  /** Short name in the story (deathstar, tiefighter, xwing) → pod name in the inventory. */
  names: Record<string, string>;
  /** `deathstar 10.244.1.12, …` for the output. */
  summary: string;
}

/** node-1's Star Wars pods from the bundled inventory, the deathstar first (netns.ts serves on the first pod). */
export async function starWarsPods(root: string): Promise<StarWarsPods> {
  const inv = parse(await fs.readFile(path.join(root, 'policies/inventory.yaml'), 'utf8')) as {
    spec: { pods: { namespace: string; name: string; labels?: Record<string, string>; ips: string[]; node?: string }[] };
  };
  const names: Record<string, string> = {};
  const docs: string[] = [];
  const parts: string[] = [];
  for (const short of ['deathstar', 'tiefighter', 'xwing']) {
    const pod = inv.spec.pods.find((p) => p.namespace === 'default' && p.node === 'node-1' && p.labels?.['class'] === short);
    if (!pod || !pod.ips[0]) throw new Error(`policies/inventory.yaml has no ${short} pod on node-1 in the default namespace`);
    names[short] = pod.name;
    parts.push(`${short} ${pod.ips[0]}`);
    docs.push(
      `apiVersion: v1\nkind: Pod\nmetadata: {name: ${pod.name}, namespace: default, labels: ${JSON.stringify(pod.labels ?? {})}}\nspec: {nodeName: node-1}\nstatus: {podIP: ${pod.ips[0]}}\n`,
    );
  }
  return { podsYaml: docs.join('---\n'), names, summary: parts.join(', ') };
}
