// `weir plan`: what a policy change does in effect compared with a base revision.
import * as path from 'node:path';
import { exportText, parseHubbleFlows, parseTetragonEvents } from '../compiler/observed/index.js';
import { dirBlobReader, diffBundles, planMaps, readManifest } from '../compiler/plan/maps.js';
import { buildPlan, type PlanInputs } from '../compiler/plan/plan.js';
import { renderHtml } from '../compiler/plan/render/html.js';
import { renderMarkdown } from '../compiler/plan/render/markdown.js';
import { renderText } from '../compiler/plan/render/text.js';
import { closeRevisionCache, loadRevision, newRevisionCache, readInventory, warnEmptyPaths } from '../compiler/plan/revision.js';
import { UsageError, useColor, type Command } from './command.js';
import { rebase } from '../compiler/load/index.js';
import { revisionConfig, type ProjectConfig } from '../compiler/load/config.js';
import { formatLocation } from '../compiler/diagnostics.js';
import {
  allowLocalhostOption,
  choice,
  commandConfig,
  parseCommandLine,
  pathsFromRoot,
  readInput,
  readTextInput,
  repositoryRoot,
  writeOutput,
} from './inputs.js';

const formats = ['text', 'markdown', 'json', 'html'] as const;
const failOn = ['breaking', 'any', 'never'] as const;

const usage = `usage: weir plan --base REV [--head REV | --worktree] [PATH...]
                 [--inventory FILE] [--flows FILE] [--events FILE]
                 [--format text|markdown|json|html] [--output FILE] [--json FILE] [--html FILE]
                 [--maps | --base-bundle DIR --head-bundle DIR] [--fail-on breaking|any|never]
                 [--allow-localhost auto|always|policy] [--quiet]

Compiles the policies under PATH (default: the whole repository) at two revisions, read from
Git without touching the work tree, and shows what changes in effect: newly denied and newly
allowed connections, changed L7 rules and audit/enforce modes, each with the deciding rule
(policy, file:line, commit) on both sides, and np-guard netpol-analyzer's diff columns.

  --base REV        revision to compare against (e.g. origin/main)
  --head REV        revision to plan (default HEAD)
  --worktree        plan the work tree instead of a commit (uncommitted edits included)
  --inventory FILE  cluster inventory (weir Inventory or kubectl -o yaml); default: the
                    workload manifests found beside the policies at each revision
  --flows FILE      Hubble flows (JSON lines): count observed flows that would now be dropped
  --events FILE     Tetragon events (JSON lines): count observed events that would now be killed
  --format F        text (default), markdown (PR comment, under 60 KB), json, html (offline report)
  --output FILE     write the rendering to FILE instead of stdout
  --json FILE       also write the full plan as JSON (never truncated)
  --html FILE       also write the offline HTML report (one compile for comment, JSON and report)
  --maps            also build both bundles: per-node map deltas, headroom, head verification
  --base-bundle DIR, --head-bundle DIR
                    bundles of both revisions (weir build --out): per-node map deltas and headroom
  --fail-on WHEN    exit 1 on a breaking change (default), on any change, or never
  --allow-localhost M  as Cilium's flag: auto or always (default: the node's host reaches the
                    pods of its node) or policy (the host needs a rule)

Each revision is read with the .weir.yaml it holds (the one found from this folder, at its path in
the repository): its \`ignore\` (files folders are read without) and \`allowLocalhost\`; --worktree
uses the file as it is now. A change to the config shows in the plan as the change it makes.`;

export const planCommand: Command = {
  name: 'plan',
  summary: 'show what a change allows, denies or kills compared with a base revision',
  usage,
  async run(argv, io) {
    const { values, positionals } = parseCommandLine(argv, {
      base: { type: 'string' },
      head: { type: 'string' },
      worktree: { type: 'boolean', default: false },
      inventory: { type: 'string' },
      flows: { type: 'string' },
      events: { type: 'string' },
      format: { type: 'string', default: 'text' },
      output: { type: 'string', short: 'o' },
      json: { type: 'string' },
      html: { type: 'string' },
      maps: { type: 'boolean', default: false },
      'base-bundle': { type: 'string' },
      'head-bundle': { type: 'string' },
      'fail-on': { type: 'string', default: 'breaking' },
      'allow-localhost': { type: 'string' },
      quiet: { type: 'boolean', short: 'q', default: false },
    });
    if (!values.base) throw new UsageError('--base REV is required (the revision to compare against, e.g. origin/main)');
    if (values.head && values.worktree)
      throw new UsageError('--head and --worktree are exclusive: plan a commit or the work tree, not both');
    const format = choice('--format', values.format, formats, 'one of');
    const fail = choice('--fail-on', values['fail-on'], failOn, 'one of');
    const log = (s: string) => {
      if (!values.quiet) io.stderr(s);
    };

    const root = await repositoryRoot(io.cwd);
    if (!root) {
      io.stderr(
        `weir plan: ${io.cwd} is not inside a Git repository; plan compares two revisions of one (use \`weir connectivity\` for a folder)\n`,
      );
      return 2;
    }
    const cfg = commandConfig(io.cwd, io.stderr);
    if (!cfg) return 2;
    // Each Git revision is read with the .weir.yaml it holds (its ignore list and allowLocalhost), so
    // a change that adds an ignore or flips allowLocalhost shows its effect; the work tree with the
    // config found from here. --allow-localhost names the cluster for both.
    const configFile = cfg.config ? path.relative(root, cfg.config.file).split(path.sep).join('/') : undefined;
    const options = (config: ProjectConfig | undefined) => {
      const ignore = config?.ignore ? rebase(config.ignore, config.root, root) : undefined;
      const allowLocalhost = allowLocalhostOption(values['allow-localhost'], config);
      return { ...(ignore ? { ignore } : {}), ...(allowLocalhost ? { allowLocalhost } : {}) };
    };
    const atRevision = async (rev: string): Promise<ReturnType<typeof options> | undefined> => {
      const r = await revisionConfig(root, rev, configFile);
      if (r.diagnostics.some((d) => d.severity === 'error')) {
        for (const d of r.diagnostics) io.stderr(`${rev}:${formatLocation(d)}: error: ${d.message} [${d.rule}]\n`);
        return undefined;
      }
      return options(r.config);
    };
    const paths = pathsFromRoot(positionals.length ? positionals : ['.'], io.cwd, root);
    const inventory = values.inventory ? await readInventory(values.inventory, io.cwd) : undefined;
    const headReq = values.worktree ? { ref: 'worktree' } : { ref: values.head ?? 'HEAD', rev: values.head ?? 'HEAD' };
    const baseOpts = await atRevision(values.base);
    const headOpts = values.worktree ? options(cfg.config) : await atRevision(values.head ?? 'HEAD');
    if (!baseOpts || !headOpts) return 2;
    log(`weir plan: compiling ${values.base} and ${headReq.ref}\n`);
    const cache = newRevisionCache();
    const [base, head] = await Promise.all([
      loadRevision(paths, root, { ref: values.base, rev: values.base, ...baseOpts }, inventory, cache),
      loadRevision(paths, root, { ...headReq, ...headOpts }, inventory, cache),
    ]).finally(() => closeRevisionCache(cache));
    for (const [side, r] of [
      ['base', base],
      ['head', head],
    ] as const) {
      const missing = r.model.info.diagnostics.find((d) => d.rule === 'load/missing-revision');
      if (missing) {
        io.stderr(
          `weir plan: ${side} ${missing.message}; fetch it first (in CI: actions/checkout with fetch-depth: 0) or name an existing branch, tag or commit\n`,
        );
        return 2;
      }
    }
    warnEmptyPaths(paths, base.load, head);
    const inputs: PlanInputs = { base: base.model, head: head.model };
    if (values.flows) {
      const bytes = await readInput(values.flows, io.cwd);
      if (!bytes) {
        io.stderr(`weir plan: cannot read --flows ${values.flows}\n`);
        return 2;
      }
      const decoded = exportText(bytes);
      if ('error' in decoded) {
        io.stderr(`weir plan: --flows ${values.flows}: ${decoded.error}\n`);
        return 2;
      }
      const parsed = parseHubbleFlows(decoded.text);
      // An export in which no line is a flow or a Hubble event is not an export: never a silent pass.
      if (parsed.total > 0 && parsed.items.length === 0 && Object.keys(parsed.otherEvents).length === 0) {
        io.stderr(
          `weir plan: --flows ${values.flows}: none of its ${parsed.total} line(s) is a Hubble flow (line ${parsed.malformed[0]!.line}: ${parsed.malformed[0]!.reason}); pass \`hubble observe -o json\` output or an exporter file\n`,
        );
        return 2;
      }
      inputs.flows = { file: values.flows, parsed };
      if (parsed.malformed.length)
        log(`weir plan: ${values.flows}: ${parsed.malformed.length} malformed line(s) of ${parsed.total}, reported in the plan\n`);
    }
    if (values.events) {
      const text = await readTextInput(values.events, io.cwd);
      if (text === undefined) {
        io.stderr(`weir plan: cannot read --events ${values.events}\n`);
        return 2;
      }
      inputs.events = { file: values.events, parsed: parseTetragonEvents(text) };
    }
    if (values['base-bundle'] || values['head-bundle']) {
      if (!values['base-bundle'] || !values['head-bundle'])
        throw new UsageError('--base-bundle and --head-bundle go together (the `weir build --out` folders of both revisions)');
      try {
        const [bm, hm] = await Promise.all([
          readManifest(path.resolve(io.cwd, values['base-bundle'])),
          readManifest(path.resolve(io.cwd, values['head-bundle'])),
        ]);
        inputs.maps = await diffBundles(
          bm,
          hm,
          dirBlobReader(path.resolve(io.cwd, values['base-bundle'])),
          dirBlobReader(path.resolve(io.cwd, values['head-bundle'])),
        );
      } catch (e) {
        io.stderr(`weir plan: cannot read the bundles: ${(e as Error).message}; pass the folders \`weir build --out\` wrote\n`);
        return 2;
      }
    }
    if (values.maps && !inputs.maps) {
      const r = await planMaps(base.model, head.model);
      inputs.maps = r.maps;
      if (r.verification) inputs.verification = r.verification;
    }
    const plan = buildPlan(inputs);
    const json = `${JSON.stringify(plan, null, 2)}\n`;
    const rendered =
      format === 'json'
        ? json
        : format === 'markdown'
          ? renderMarkdown(plan, linkBase(io.env))
          : format === 'html'
            ? renderHtml(plan)
            : renderText(plan, { color: useColor(io) && !values.output });
    await writeOutput(rendered, values.output, io.cwd, io.stdout);
    if (values.json) await writeOutput(json, values.json, io.cwd, io.stdout);
    if (values.html) await writeOutput(renderHtml(plan), values.html, io.cwd, io.stdout);
    if (head.model.info.status === 'failed') return 1;
    if (fail === 'never') return 0;
    if (fail === 'any') return plan.changes.length || plan.connectivityDiff.length || plan.runtime.length ? 1 : 0;
    return plan.breaking ? 1 : 0;
  },
};

/** In GitHub Actions, rule locations in the PR comment link to the exact line at its commit. */
function linkBase(env: NodeJS.ProcessEnv): { linkBase?: string } {
  const server = env['GITHUB_SERVER_URL'];
  const repo = env['GITHUB_REPOSITORY'];
  return server && repo ? { linkBase: `${server}/${repo}/blob` } : {};
}
