// `weir demo`: the whole loop on one machine. A Git repository, a controller and an agent; the
// connections the policy allows and drops; a commit, its plan, the hot swap and the new verdicts.
// As root with the kernel datapath built it enforces on veth pairs (netns.ts); otherwise it
// tells the same story on the emulator datapath and says so. Everything it creates lives under
// one temporary directory (and, in kernel mode, namespaces named wdemo-*), removed on exit and on Ctrl-C.
import { promises as fs, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as os from 'node:os';
import * as path from 'node:path';
import { simpleGit } from 'simple-git';
import type { CommandIO } from '../../cli/command.js';
import { useColor } from '../../cli/command.js';
import { Agent } from '../agent/agent.js';
import { compactLine } from '../events/tetragon.js';
import type { Datapath, Verdict } from '../agent/datapath.js';
import { EmulatorDatapath } from '../agent/emulated-datapath.js';
import { generateSigningKey, publicKeyPem } from '../bundle/sign.js';
import { openCompiler } from '../reconcile/compiler.js';
import { Controller } from '../reconcile/controller.js';
import { silentLogger } from '../reconcile/log.js';
import { serveController } from '../reconcile/api.js';
import { Client, type Listening } from '../transport/http.js';
import { demoFlows, scenarioChange, scenarioPods, scenarioRule } from './scenario.js';
import { bundledRoot, checkBundled, storyFiles, starWarsPods, type StarWarsPods } from './bundled.js';
import { createEnvironment, type KernelEnvironment } from './netns.js';
import { objectPath } from '../../bpf/paths.js';
import type { RuleOrigin } from '../../compiler/ir/network/types.js';
import type { EndpointTableEntry } from '../../compiler/lower/network/images.js';
import { buildPlan } from '../../compiler/plan/plan.js';
import { renderText } from '../../compiler/plan/render/text.js';
import { closeRevisionCache, loadRevision, newRevisionCache, warnEmptyPaths } from '../../compiler/plan/revision.js';

export interface DemoOptions {
  /** Force the emulator even where the kernel datapath could run. */
  emulator: boolean;
  /** Keep the temporary directory (its path is printed). */
  keep: boolean;
}

interface Painter {
  bold(s: string): string;
  dim(s: string): string;
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
}

function painter(on: boolean): Painter {
  const wrap = (a: number, b: number) => (s: string) => (on ? `\x1b[${a}m${s}\x1b[${b}m` : s);
  return { bold: wrap(1, 22), dim: wrap(2, 22), green: wrap(32, 39), red: wrap(31, 39), yellow: wrap(33, 39) };
}

/** Why the kernel datapath cannot run here, or undefined when it can. */
export function kernelUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not running as root, so no BPF programs can be loaded';
  if (!existsSync('/sys/fs/bpf')) return 'bpffs is not mounted at /sys/fs/bpf (scripts/setup.sh mounts it)';
  // bpf/paths.ts knows where the objects are, from the sources or from dist/.
  if (!existsSync(objectPath('endpoint.bpf.o'))) return 'the BPF objects are not built (run `npm run build`)';
  return undefined;
}

export async function runDemo(io: CommandIO, opts: DemoOptions): Promise<number> {
  const p = painter(useColor(io));
  const out = (s = '') => io.stdout(s + '\n');
  const step = (n: number, s: string) => out(`\n${p.bold(`${n}. ${s}`)}`);
  const cleanups: (() => Promise<void>)[] = [];
  let interrupted = false;
  const cleanup = async () => {
    while (cleanups.length) await cleanups.pop()!().catch(() => undefined);
  };
  const dirs: string[] = [];
  const onSignal = () => {
    interrupted = true;
    io.stderr('\nweir demo: interrupted, cleaning up\n');
    // The story may still be writing into its directory (a git child recreates the directories of
    // the objects it writes): remove it once more after the rest stopped, until it stays gone.
    void cleanup()
      .then(() => removeUntilGone(dirs))
      .finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  cleanups.push(async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  });

  try {
    const kernelWhyNot = opts.emulator ? 'the emulator was asked for (--emulator)' : kernelUnavailable();
    out(p.bold('weir demo') + " — from a Git commit to enforcement, with Cilium's Star Wars pods");
    // The live story starts from the project's own policies/ (the Star Wars policies and the
    // inventory); only where they cannot be found (an install without them) the scenario's own files stand in.
    const root = bundledRoot();
    let pods: StarWarsPods | undefined;
    let podsWhyNot: string | undefined;
    if (root) {
      try {
        pods = await starWarsPods(root);
      } catch (err) {
        podsWhyNot = (err as Error).message;
      }
    } else podsWhyNot = 'the bundled policies/ folder was not found beside weir';
    const names: Record<string, string> = pods?.names ?? { deathstar: 'deathstar', tiefighter: 'tiefighter', xwing: 'xwing' };
    // The kernel environment is built first; any failure falls back to the emulator with the reason.
    let env: KernelEnvironment | undefined;
    let kernelError: string | undefined;
    if (!kernelWhyNot) {
      try {
        env = await createEnvironment(pods?.podsYaml ?? scenarioPods);
        cleanups.push(() => env!.destroy());
      } catch (err) {
        kernelError = (err as Error).message.split('\n')[0];
      }
    }
    const modeNote = env
      ? "kernel datapath: tc programs on veth pairs in network namespaces wdemo-*, one per pod, with the inventory's addresses"
      : `emulator datapath (the same map images and lookup, in TypeScript): ${kernelWhyNot ?? `the kernel datapath is unavailable: ${kernelError}`}`;
    out(p.dim(`   mode: ${modeNote}`));

    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wdemo-'));
    if (!opts.keep) {
      dirs.push(dir);
      cleanups.push(() => fs.rm(dir, { recursive: true, force: true }));
    }

    // 0. The bundled repository through the compiler, in process.
    step(0, 'The bundled policy repository');
    if (root) {
      out(p.dim(`   ${path.join(root, 'policies')}  (weir lint, weir build, weir verify, weir test on it)`));
      for (const l of await checkBundled(root, dir))
        out(`   ${l.ok ? p.green('✓') : p.red('✗')} ${l.stage.padEnd(6)} ${l.ok ? l.text : p.red(l.text)}`);
    } else out(`   ${p.yellow('–')} ${podsWhyNot}; the story below uses the demo's own copy of the Star Wars policy`);

    // 1. The policy repository.
    step(1, 'A policy repository in Git');
    const repo = path.join(dir, 'repo');
    await fs.mkdir(path.join(repo, 'policies'), { recursive: true });
    const git = simpleGit(repo);
    await git.init(['--initial-branch=main', '--quiet']);
    await git.addConfig('user.email', 'demo@weir.invalid').addConfig('user.name', 'weir demo');
    const firstMessage = 'Only the Empire may land on the deathstar';
    let changePath = 'policies/alliance-landing.yaml';
    if (root && pods) {
      for (const f of storyFiles) {
        await fs.mkdir(path.dirname(path.join(repo, f)), { recursive: true });
        await fs.copyFile(path.join(root, f), path.join(repo, f));
      }
      changePath = 'policies/network/starwars/alliance-landing.yaml';
    } else {
      await fs.writeFile(path.join(repo, 'policies/pods.yaml'), scenarioPods);
      await fs.writeFile(path.join(repo, 'policies/rule1.yaml'), scenarioRule);
    }
    await git.add(['-A']);
    await git.commit(firstMessage);
    const rev1 = (await git.revparse(['HEAD'])).trim();
    out(`   ${repo}  ${p.dim(`(commit ${rev1.slice(0, 7)} "${firstMessage}")`)}`);
    if (root && pods) {
      out(p.dim(`   seeded from ${path.join(root, 'policies')}:`));
      out(p.dim(`   policies/inventory.yaml                        the example cluster; node-1 runs ${pods.summary}`));
      out(
        p.dim(
          '   policies/network/starwars/deathstar.yaml       CiliumNetworkPolicy rule1: ingress to deathstar from org=empire on TCP/80 (HTTP POST /v1/request-landing)',
        ),
      );
      out(
        p.dim(
          '   policies/network/starwars/empire-egress.yaml   CiliumNetworkPolicy empire-egress: tiefighters may reach the deathstar on http and DNS',
        ),
      );
    } else {
      out(p.dim('   policies/pods.yaml   deathstar 10.200.0.10, tiefighter 10.200.0.11, xwing 10.200.0.12'));
      out(p.dim('   policies/rule1.yaml  CiliumNetworkPolicy rule1: ingress to deathstar from org=empire on TCP/80'));
    }

    // 2. Controller and agent.
    step(2, 'A controller follows the branch; an agent enforces on node-1');
    const key = generateSigningKey();
    const compiler = openCompiler();
    const controller = new Controller({
      repo,
      branch: 'main',
      paths: ['policies'],
      stateDir: path.join(dir, 'controller'),
      compiler,
      key,
      logger: silentLogger(),
      pollIntervalMs: 0,
      canaryCount: 1,
      maxDropRateIncrease: 1,
      gateTimeoutMs: 15_000,
    });
    // The demo's own credentials: an operator token (webhook) and node-1's token, both random per run.
    const operatorToken = randomBytes(24).toString('hex');
    const nodeToken = randomBytes(24).toString('hex');
    const operator = { authorization: `Bearer ${operatorToken}` };
    const server: Listening = await serveController(controller, '127.0.0.1', 0, {
      insecureLoopback: true,
      token: operatorToken,
      nodeTokens: new Map([['node-1', nodeToken]]),
    });
    cleanups.push(() => server.close());
    cleanups.push(() => controller.stop());
    const datapath: Datapath = env ? env.datapath : new EmulatorDatapath('node-1');
    const agent = new Agent({
      node: 'node-1',
      client: new Client(server.url, { insecureLoopback: true, token: nodeToken }),
      trustedKey: key.publicKey,
      stateDir: path.join(dir, 'agent'),
      datapath,
      logger: silentLogger(),
      longPollMs: 10_000,
    });
    cleanups.push(() => agent.stop());
    out(`   controller  ${server.url}  ${p.dim(`compiler ${compiler.name}, signing key ${key.keyId} (ed25519)`)}`);
    out(`   agent       node-1  ${p.dim(`${datapath.kind} datapath, trusts ${publicKeyPem(key).split('\n')[1]!.slice(0, 16)}…`)}`);
    await controller.start();
    await agent.start();
    const applied1 = await waitApplied(agent, rev1, 30_000);
    if (!applied1) return fail(io, controller, 'the first bundle was not applied within 30 s');
    const st1 = controller.status() as { nodes: { timings: { totalMs?: number; swapMs: number } | null }[] };
    out(
      `   ${p.green('✓')} commit ${rev1.slice(0, 7)} compiled, signed, applied on node-1 ${p.dim(`(download+verify+swap ${fmtMs(st1.nodes[0]?.timings?.totalMs)}, swap ${fmtMs(st1.nodes[0]?.timings?.swapMs)})`)}`,
    );

    // 3. Verdicts.
    step(3, 'Connections');
    const tables1 = await tablesOf(controller, agent.applied!.digest);
    const before = await showVerdicts(out, p, datapath, tables1, env, names);
    // Honest about L7: the demo runs no proxy, so rule1's HTTP match is not what decides here.
    if (root && pods)
      out(
        p.dim(
          "   (rule1's HTTP rule, POST /v1/request-landing, is for an L7 proxy, which the demo does not run: these are the L3/L4 verdicts)",
        ),
      );

    // 4. A change, its plan, the hot swap.
    step(4, 'A policy change is committed');
    await fs.writeFile(path.join(repo, changePath), scenarioChange);
    await git.add(['-A']);
    await git.commit('Let the Alliance land on port 80');
    const rev2 = (await git.revparse(['HEAD'])).trim();
    out(`   commit ${rev2.slice(0, 7)} "Let the Alliance land on port 80"  ${p.dim(`+ ${changePath}`)}`);
    out(p.bold('\n   Plan') + p.dim(` (weir plan --base ${rev1.slice(0, 7)} --head ${rev2.slice(0, 7)})`));
    for (const l of (await planText(repo, rev1, rev2)).split('\n')) out(`   ${l}`);

    step(5, 'The controller is told by webhook; the agent swaps the maps');
    const t0 = performance.now();
    await fetch(`${server.url}/v1/webhook`, { method: 'POST', headers: operator });
    const applied2 = await waitApplied(agent, rev2, 30_000);
    if (!applied2) return fail(io, controller, 'the second bundle was not applied within 30 s');
    const st2 = controller.status() as {
      nodes: { timings: { swapMs: number } | null; maps: { name: string; endpoint?: string; entries: number }[] }[];
    };
    out(
      `   ${p.green('✓')} commit ${rev2.slice(0, 7)} in force ${fmtMs(performance.now() - t0)} after the webhook ${p.dim(`(swap ${fmtMs(st2.nodes[0]?.timings?.swapMs)}; maps: ${mapsText(st2.nodes[0]?.maps ?? [])})`)}`,
    );
    const tables2 = await tablesOf(controller, agent.applied!.digest);
    const after = await showVerdicts(out, p, datapath, tables2, env, names, before);

    // 6. Runtime enforcement.
    step(6, 'Runtime enforcement: kill a binary that reads a protected file');
    if (env) {
      await runtimeStep({ out, p, dir, repo, git, agent, server, env, deathstar: names['deathstar'] ?? 'deathstar', operator });
    } else {
      out(
        `   ${p.yellow('–')} unavailable on the emulator: runtime programs attach to kernel tracepoints (run as root after \`npm run build\`)`,
      );
    }

    const changed = after.filter((v, i) => v !== before[i]).length;
    out(
      `\n${p.bold('Done.')} ${changed} connection${changed === 1 ? '' : 's'} changed verdict after the swap, with no gap in enforcement. ${p.dim(opts.keep ? `Kept ${dir}.` : 'Cleaned up.')}`,
    );
    out(p.dim('Next: weir controller --help, weir agent --help, docs/controller.md'));
    return interrupted ? 130 : 0;
  } catch (err) {
    io.stderr(`weir demo: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await cleanup();
  }
}

/**
 * Kernel mode: a TracingPolicy that Sigkills a copy of cat (under the demo's own directory) opening a
 * protected file. With cgroup v2 it is pod-scoped (TracingPolicyNamespaced, podSelector): the agent
 * puts the deathstar pod's cgroup in its scope, the same binary on the host is left alone, and the
 * kill arrives on the agent's event stream.
 */
async function runtimeStep(c: {
  out: (s?: string) => void;
  p: Painter;
  dir: string;
  repo: string;
  git: ReturnType<typeof simpleGit>;
  agent: Agent;
  server: Listening;
  env: KernelEnvironment;
  deathstar: string;
  operator: Record<string, string>;
}): Promise<void> {
  const { out, p, dir } = c;
  const bin = path.join(dir, 'bin', 'wdemo-cat');
  await fs.mkdir(path.dirname(bin), { recursive: true });
  await fs.copyFile('/bin/cat', bin);
  await fs.chmod(bin, 0o755);
  await fs.mkdir(path.join(dir, 'protected'), { recursive: true });
  await fs.writeFile(path.join(dir, 'protected', 'death-star-plans.txt'), 'exhaust port, 2 m wide\n');
  await fs.writeFile(path.join(dir, 'public.txt'), 'hello from the public file\n');
  const podCg = c.env.runtime?.cgroupOf(c.deathstar);
  const scope = podCg
    ? `\nkind: TracingPolicyNamespaced\nmetadata:\n  name: protect-plans\n  namespace: default\nspec:\n  podSelector:\n    matchLabels: {class: deathstar}`
    : `\nkind: TracingPolicy\nmetadata:\n  name: protect-plans\nspec:`;
  const policy = `# Kill the demo's copy of cat when it opens anything under ${dir}/protected/${podCg ? ', in the deathstar pod only' : ''}.
apiVersion: cilium.io/v1alpha1${scope}
  kprobes:
  - call: sys_openat
    syscall: true
    args: [{index: 0, type: int}, {index: 1, type: string}]
    selectors:
    - matchArgs:
      - {index: 1, operator: Prefix, values: ["${dir}/protected/"]}
      matchBinaries:
      - {operator: In, values: ["${bin}"]}
      matchActions:
      - {action: Sigkill}
`;
  await fs.writeFile(path.join(c.repo, 'policies/protect-plans.yaml'), policy);
  await c.git.add(['-A']);
  await c.git.commit('Kill wdemo-cat when it opens the plans');
  const rev = (await c.git.revparse(['HEAD'])).trim();
  await fetch(`${c.server.url}/v1/webhook`, { method: 'POST', headers: c.operator });
  if (!(await waitApplied(c.agent, rev, 30_000))) {
    out(`   ${p.yellow('–')} the TracingPolicy commit ${rev.slice(0, 7)} was not applied: ${c.agent.lastError ?? 'no report'}`);
    return;
  }
  out(
    `   commit ${rev.slice(0, 7)} "Kill wdemo-cat when it opens the plans"  ${p.dim(`+ policies/protect-plans.yaml (${podCg ? 'TracingPolicyNamespaced, podSelector class=deathstar' : 'TracingPolicy'}, Sigkill)`)}`,
  );
  const streamed: string[] = [];
  const stopFollowing = c.env.runtime?.events.follow({ policies: ['protect-plans'] }, (l) => streamed.push(l));
  // In the pod: the shell joins the pod's container cgroup, then becomes wdemo-cat.
  const run = (file: string, cg: string | undefined = podCg) =>
    new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }>((resolve) => {
      const child = cg
        ? spawn('/bin/sh', ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$1" "$2"', cg, bin, file], { stdio: ['ignore', 'pipe', 'ignore'] })
        : spawn(bin, [file], { stdio: ['ignore', 'pipe', 'ignore'] });
      let stdout = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.on('exit', (code, signal) => resolve({ code, signal, stdout }));
    });
  const pub = await run(path.join(dir, 'public.txt'));
  out(
    `   wdemo-cat public.txt                    ${pub.code === 0 ? p.green('read') : p.red(`exit ${pub.code ?? pub.signal}`)}  ${p.dim(JSON.stringify(pub.stdout.trim()))}`,
  );
  const secret = await run(path.join(dir, 'protected', 'death-star-plans.txt'));
  const killed = secret.signal === 'SIGKILL';
  out(
    `   wdemo-cat protected/death-star-plans.txt ${killed ? p.red('killed by SIGKILL') : p.yellow(`not killed (exit ${secret.code ?? secret.signal})`)}  ${p.dim(killed ? `before it read a byte (stdout ${JSON.stringify(secret.stdout)})${podCg ? ` in pod default/${c.deathstar}` : ''}` : 'the runtime datapath did not enforce')}`,
  );
  if (!podCg) return;
  const host = await run(path.join(dir, 'protected', 'death-star-plans.txt'), ''); // '' : not in a pod
  out(
    `   on the host: wdemo-cat protected/…       ${host.code === 0 ? p.green('read') : p.red(`exit ${host.code ?? host.signal}`)}  ${p.dim("outside the policy's pods: not in its scope")}`,
  );
  await new Promise((r) => setTimeout(r, 200)); // the ring buffer's poller delivers the event
  stopFollowing?.();
  const kills = streamed
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((o) => (o['process_kprobe'] as { action?: string } | undefined)?.action === 'KPROBE_ACTION_SIGKILL');
  out(`   event stream (weir events -o compact):`);
  for (const o of kills.slice(0, 3)) out(`     ${compactLine(o)}`);
  if (kills.length === 0) out(`     ${p.yellow('–')} no kill event arrived`);
}

/** Non-empty maps by name, the empty ones (pods of the inventory with no policy) only counted. */
function mapsText(maps: { name: string; endpoint?: string; entries: number }[]): string {
  const full = maps.filter((m) => m.entries > 0).map((m) => `${m.endpoint ?? m.name} ${m.entries}`);
  const empty = maps.length - full.length;
  return full.join(', ') + (empty ? `, ${empty} empty endpoint map${empty === 1 ? '' : 's'}` : '');
}

function fmtMs(ms: number | undefined): string {
  if (ms === undefined) return '?';
  return ms < 1 ? `${ms.toFixed(2)} ms` : ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function fail(io: CommandIO, c: Controller, what: string): number {
  const s = c.status() as { phase: string; lastError: { message: string } | null };
  io.stderr(`weir demo: ${what} (phase ${s.phase}${s.lastError ? `: ${s.lastError.message}` : ''})\n`);
  return 1;
}

async function waitApplied(agent: Agent, rev: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (agent.applied?.revision === rev) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

interface Tables {
  cookies: RuleOrigin[];
  endpoints: EndpointTableEntry[];
}

async function tablesOf(c: Controller, digest: string): Promise<Tables> {
  const m = await c.store.getManifest(digest);
  const manifest = JSON.parse(m!.bytes.toString()) as { tables: { name: string; digest: string }[] };
  // Node-specific tables are named NAME@NODE; the demo reads all nodes' rows together.
  const get = async (name: string) => {
    const rows: unknown[] = [];
    for (const t of manifest.tables.filter((x) => x.name === name || x.name.startsWith(`${name}@`)))
      rows.push(...(JSON.parse((await c.store.getBlob(t.digest))!.toString()) as unknown[]));
    return rows;
  };
  return { cookies: (await get('cookies')) as RuleOrigin[], endpoints: (await get('endpoints')) as EndpointTableEntry[] };
}

type Env = { verdictOnWire?: (from: string, to: string, port: number) => Promise<'allow' | 'deny'> } | undefined;

async function showVerdicts(
  out: (s?: string) => void,
  p: Painter,
  dp: Datapath,
  t: Tables,
  env: Env,
  names: Record<string, string>,
  previous?: string[],
): Promise<string[]> {
  const podOf = (short: string) => names[short] ?? short;
  const ipOf = (short: string) => t.endpoints.find((e) => e.endpoint === `default/${podOf(short)}`)?.ips[0] ?? '0.0.0.0';
  const results: string[] = [];
  for (const [i, f] of demoFlows.entries()) {
    const v: Verdict = await dp.verdict({ src: ipOf(f.from), dst: ipOf(f.to), protocol: 'TCP', port: f.port });
    const wire = env?.verdictOnWire ? await env.verdictOnWire(podOf(f.from), podOf(f.to), f.port) : undefined;
    const word = v.verdict === 'allow' ? p.green('allowed') : p.red('dropped');
    const cookie = v.cookie ? t.cookies.find((c) => c.cookie === v.cookie) : undefined;
    const why =
      v.verdict === 'allow'
        ? cookie
          ? `by ${cookie.policy} (${cookie.file}:${cookie.line})`
          : 'no policy selects the endpoint'
        : v.reason === 'default-deny'
          ? `default deny: ${v.direction} of ${v.endpoint} is enforced and no rule allows it`
          : `denied by ${cookie?.policy ?? 'a deny rule'}`;
    const changed = previous && previous[i] !== v.verdict ? p.yellow(' (changed)') : '';
    const onWire = wire
      ? wire === v.verdict
        ? p.dim(` [on the wire: ${wire === 'allow' ? 'connected' : 'no connection'}]`)
        : p.red(` [MISMATCH on the wire: ${wire === 'allow' ? 'connected' : 'no connection'}]`)
      : '';
    out(`   ${f.from.padEnd(10)} → ${f.to.padEnd(9)} TCP/${String(f.port).padEnd(5)} ${word}${changed}  ${p.dim(why)}${onWire}`);
    results.push(v.verdict);
  }
  return results;
}

/** What `weir plan --base BASE --head HEAD policies` prints for the change, or why there is no plan. */
async function planText(repo: string, base: string, head: string): Promise<string> {
  try {
    const paths = ['policies'];
    const cache = newRevisionCache();
    const [b, h] = await Promise.all([
      loadRevision(paths, repo, { ref: base, rev: base }, undefined, cache),
      loadRevision(paths, repo, { ref: head, rev: head }, undefined, cache),
    ]).finally(() => closeRevisionCache(cache));
    warnEmptyPaths(paths, b.load, h);
    const failed = [b.model.info, h.model.info].find((i) => i.status === 'failed');
    if (failed) {
      const d = failed.diagnostics.find((x) => x.severity === 'error');
      return `(plan unavailable: ${d ? `${d.message} [${d.rule}]` : `${failed.ref} does not compile`}; the verdicts below show the change)`;
    }
    return renderText(buildPlan({ base: b.model, head: h.model }), { color: false }).trimEnd();
  } catch (err) {
    return `(plan unavailable: ${(err as Error).message.split('\n')[0]})`;
  }
}

/** Removes `dirs`, again while a child process still writing into one of them recreates it (at most 2 s). */
async function removeUntilGone(dirs: readonly string[]): Promise<void> {
  for (let i = 0; i < 40; i++) {
    await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
    await new Promise((r) => setTimeout(r, 50));
    const left = await Promise.all(
      dirs.map((d) =>
        fs.stat(d).then(
          () => true,
          () => false,
        ),
      ),
    );
    if (!left.includes(true)) return;
  }
}
