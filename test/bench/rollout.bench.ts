// `npm run bench -- rollout`: commit to applied on 50 agents, each a separate process on loopback
// with the emulator datapath, and the bytes each agent downloads for a one-policy change.
//  - latency: git commit → webhook → fetch, compile, sign, canary (1 node) + gate → the other 49;
//    per agent, the time until the controller holds its "applied" report. p50/p95 over all agents
//    and rounds. Peers (quoted, not measured here): Cilium's < 5 s policy convergence; Argo CD
//    polls Git every 3 minutes by default, so a commit waits 90 s on average before any sync starts.
//  - transfer: bytes an agent downloaded (its own counter) for a one-policy change, against the
//    whole bundle that agent would download from scratch (its node manifest plus every blob it names),
//    both as bytes on the wire (the controller gzips content when that is smaller), measured in this run.
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { simpleGit } from 'simple-git';
import type { BenchReport, Figure } from './report.js';
import { parseManifest } from '../../compiler/bundle/io.js';
import { nodeManifest, parseNodeManifest } from '../../controller/bundle/codec.js';
import { generateSigningKey, publicKeyPem } from '../../controller/bundle/sign.js';
import { Controller } from '../../controller/reconcile/controller.js';
import { silentLogger } from '../../controller/reconcile/log.js';
import { ProjectCompiler } from '../../controller/reconcile/compiler.js';
import { serveController } from '../../controller/reconcile/api.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NODES = 50;
const PODS_PER_NODE = 20;
const APPS = 50;
const ROUNDS = 6;

function inventory(): string {
  const docs: string[] = [];
  for (let i = 0; i < NODES * PODS_PER_NODE; i++) {
    const app = Math.floor(i / PODS_PER_NODE) % APPS;
    docs.push(
      `apiVersion: v1\nkind: Pod\nmetadata: {name: svc-${app}-${i}, namespace: prod, labels: {app: svc-${app}}}\nspec: {nodeName: node-${String(i % NODES).padStart(2, '0')}}\nstatus: {podIP: 10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}}\n`,
    );
  }
  return docs.join('---\n');
}

function policy(app: number, extraPort: boolean): string {
  return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: svc-${app}, namespace: prod}
spec:
  endpointSelector: {matchLabels: {app: svc-${app}}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: svc-${(app + APPS - 1) % APPS}}}]
    toPorts: [{ports: [{port: "8080", protocol: TCP}${extraPort ? ', {port: "8443", protocol: TCP}' : ''}]}]
  - fromEndpoints: [{matchLabels: {app: svc-${(app + 1) % APPS}}}]
    toPorts: [{ports: [{port: "9090", protocol: TCP}]}]
  egress:
  - toEndpoints: [{matchLabels: {app: svc-${(app + 1) % APPS}}}]
`;
}

/** The agent bundled into one file by esbuild (tsx's own dependency): 50 processes start in seconds. */
async function agentEntry(): Promise<{ argv: string[]; dir?: string }> {
  let dir: string | undefined;
  try {
    const esbuild = (await import('esbuild')) as typeof import('esbuild');
    // Under the project (test-artifacts/ is ignored by Git): the bundled agent finds weir's
    // package.json above itself (compiler/project.ts) and koffi in node_modules, as from dist/.
    await fs.mkdir(path.join(root, 'test-artifacts'), { recursive: true });
    dir = await fs.mkdtemp(path.join(root, 'test-artifacts', 'rollout-agent-'));
    const entry = path.join(dir, 'agent-entry.ts');
    await fs.writeFile(
      entry,
      `import { agentCommand } from ${JSON.stringify(path.join(root, 'cli/agent.ts'))};\nimport { processIO } from ${JSON.stringify(path.join(root, 'cli/command.ts'))};\nprocess.exitCode = await agentCommand.run(process.argv.slice(2), processIO());\n`,
    );
    const out = path.join(dir, 'agent.mjs');
    await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: out,
      logLevel: 'silent',
      external: ['koffi'],
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    });
    return { argv: [out], dir };
  } catch {
    if (dir) await fs.rm(dir, { recursive: true, force: true });
    return { argv: [path.join(root, 'bin/weir.js'), 'agent'] };
  }
}

/** Bytes on the wire as the controller serves content: gzip when it is smaller (controller/reconcile/api.ts). */
function wireSize(b: Buffer): number {
  return b.length > 256 ? Math.min(b.length, gzipSync(b, { level: 6 }).length) : b.length;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

export default async function rolloutBench(): Promise<BenchReport> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'weir-bench-rollout-'));
  const children: ChildProcess[] = [];
  let agentDir: string | undefined;
  let controller: Controller | undefined;
  let server: Awaited<ReturnType<typeof serveController>> | undefined;
  try {
    const repo = path.join(dir, 'repo');
    await fs.mkdir(path.join(repo, 'policies'), { recursive: true });
    const git = simpleGit(repo);
    await git.init(['--initial-branch=main', '--quiet']);
    await git.addConfig('user.email', 'bench@weir.invalid').addConfig('user.name', 'bench');
    await fs.writeFile(path.join(repo, 'policies/pods.yaml'), inventory());
    for (let a = 0; a < APPS; a++) await fs.writeFile(path.join(repo, `policies/svc-${a}.yaml`), policy(a, false));
    await git.add(['-A']);
    await git.commit('baseline');

    const key = generateSigningKey();
    await fs.writeFile(path.join(dir, 'trust.pem'), publicKeyPem(key));
    controller = new Controller({
      repo,
      branch: 'main',
      paths: ['policies'],
      stateDir: path.join(dir, 'controller'),
      compiler: new ProjectCompiler(),
      key,
      logger: silentLogger(),
      pollIntervalMs: 0,
      canaryCount: 1,
      maxDropRateIncrease: 1,
      gateTimeoutMs: 30_000,
      rolloutTimeoutMs: 60_000,
    });
    // Each agent holds its own node's token; the bench rings the webhook with the operator token.
    const operatorToken = randomBytes(24).toString('hex');
    const nodeTokens = new Map(
      Array.from({ length: NODES }, (_, n) => [`node-${String(n).padStart(2, '0')}`, randomBytes(24).toString('hex')] as [string, string]),
    );
    for (const [node, t] of nodeTokens) await fs.writeFile(path.join(dir, `${node}.token`), t, { mode: 0o600 });
    server = await serveController(controller, '127.0.0.1', 0, { insecureLoopback: true, token: operatorToken, nodeTokens });
    const ctl = controller;
    const agent = await agentEntry();
    agentDir = agent.dir;
    const cmd = agent.argv;
    // WEIR_BENCH_AGENT_NODE_ARGS: extra node flags for the agents, e.g. `--cpu-prof --cpu-prof-dir=DIR` to profile them.
    const nodeArgs = (process.env['WEIR_BENCH_AGENT_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
    const agentUrls = new Map<string, string>();
    for (let n = 0; n < NODES; n++) {
      const node = `node-${String(n).padStart(2, '0')}`;
      const child = spawn(
        process.execPath,
        [
          ...nodeArgs,
          ...cmd,
          '--node',
          node,
          '--controller',
          server.url,
          '--trust',
          path.join(dir, 'trust.pem'),
          '--state-dir',
          path.join(dir, node),
          '--long-poll',
          '20s',
          '--insecure-loopback',
          '--token-file',
          path.join(dir, `${node}.token`),
        ],
        { env: { ...process.env, WEIR_FROM_SOURCE: '1', WEIR_LOG_LEVEL: 'error' }, stdio: ['ignore', 'pipe', 'inherit'] },
      );
      children.push(child);
      child.stdout!.once('data', (d: Buffer) =>
        agentUrls.set(node, String((JSON.parse(d.toString().split('\n')[0]!) as { url: string }).url)),
      );
    }
    const appliedAt = new Map<string, number>();
    let target = '';
    ctl.on('change', () => {
      for (const n of ctl.nodes.values())
        if (n.applied?.revision === target && !appliedAt.has(n.node)) appliedAt.set(n.node, performance.now());
    });
    const waitAll = async (rev: string, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if ([...ctl.nodes.values()].filter((n) => n.applied?.revision === rev).length === NODES) return;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error(
        `not all ${NODES} agents applied ${rev.slice(0, 8)} within ${timeoutMs} ms (${ctl.phase}; ${JSON.stringify((ctl.status() as { lastError: unknown }).lastError)})`,
      );
    };
    await ctl.start();
    await ctl.idle();
    const rev0 = ctl.state.lastSeenCommit!;
    await waitAll(rev0, 120_000);
    while (agentUrls.size < NODES) await new Promise((r) => setTimeout(r, 50));

    const downloaded = async () => {
      const out = new Map<string, number>();
      await Promise.all(
        [...agentUrls].map(async ([node, url]) => {
          const text = await (await fetch(`${url}/metrics`)).text();
          out.set(node, Number(/^weir_agent_downloaded_bytes_total (\d+)/m.exec(text)?.[1] ?? 0));
        }),
      );
      return out;
    };

    const latencies: number[] = [];
    const deltaBytes: number[] = [];
    const wholeBytes: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await fs.writeFile(path.join(repo, 'policies/svc-7.yaml'), policy(7, round % 2 === 0));
      await git.add(['-A']);
      await git.commit(`round ${round}: ${round % 2 === 0 ? 'open' : 'close'} 8443 on svc-7`);
      const rev = (await git.revparse(['HEAD'])).trim();
      const before = await downloaded();
      appliedAt.clear();
      target = rev;
      const t0 = performance.now();
      await fetch(`${server.url}/v1/webhook`, { method: 'POST', headers: { authorization: `Bearer ${operatorToken}` } });
      await waitAll(rev, 60_000);
      await ctl.idle();
      for (const t of appliedAt.values()) latencies.push(t - t0);
      if (process.env['WEIR_BENCH_VERBOSE'])
        console.error(`round ${round}`, JSON.stringify(ctl.timings), 'max', Math.max(...[...appliedAt.values()].map((t) => t - t0)));
      const after = await downloaded();
      for (const [node, b] of after) deltaBytes.push(b - (before.get(node) ?? 0));
      if (process.env['WEIR_BENCH_VERBOSE'])
        console.error(
          'bytes by node',
          JSON.stringify(
            [...after]
              .map(([n, b]) => [n, b - (before.get(n) ?? 0)])
              .sort((x, y) => (y[1] as number) - (x[1] as number))
              .slice(0, 6),
          ),
        );
      if (round === 0) {
        // The whole bundle per node, for the same revision: its node manifest plus every blob it names.
        const full = parseManifest((await ctl.store.getManifest(ctl.state.lastGood!.digest))!.bytes);
        for (const n of agentUrls.keys()) {
          const nm = nodeManifest(full, ctl.state.lastGood!.digest, n);
          let size = wireSize(nm.bytes);
          const m = parseNodeManifest(nm.bytes);
          for (const d of new Set([...m.maps.map((x) => x.digest), ...m.tables.map((x) => x.digest)]))
            size += wireSize((await ctl.store.getBlob(d))!);
          wholeBytes.push(size);
        }
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const p50 = quantile(latencies, 0.5);
    const p95 = quantile(latencies, 0.95);
    const wholeMean = mean(wholeBytes);
    const deltaMean = mean(deltaBytes);
    const deltaMax = Math.max(...deltaBytes);
    const figures: Figure[] = [
      {
        metric: 'commit to applied, p50 (50 agents)',
        value: p50,
        unit: 'ms',
        peer: { name: 'Cilium policy convergence (quoted: < 5 s)', value: 5000 },
        ratio: p50 / 5000,
        goal: '< 3000 ms at p95',
        met: p95 < 3000,
      },
      {
        metric: 'commit to applied, p95 (50 agents)',
        value: p95,
        unit: 'ms',
        peer: { name: 'Argo CD default Git poll (quoted: 180 s; 90 s mean wait)', value: 90_000 },
        ratio: p95 / 90_000,
        goal: '< 3000 ms',
        met: p95 < 3000,
      },
      {
        metric: 'bytes per agent for a one-policy change (mean)',
        value: deltaMean,
        unit: 'B',
        peer: { name: 'whole bundle per agent (mean, same run)', value: wholeMean },
        ratio: deltaMean / wholeMean,
        goal: '< 10% of the whole bundle',
        met: deltaMean / wholeMean < 0.1,
      },
      {
        metric: 'bytes per agent for a one-policy change (worst agent)',
        value: deltaMax,
        unit: 'B',
        peer: { name: 'whole bundle per agent (mean, same run)', value: wholeMean },
        ratio: deltaMax / wholeMean,
        goal: '< 10% of the whole bundle',
        met: deltaMax / wholeMean < 0.1,
      },
    ];
    return {
      name: 'rollout',
      setup: `load average ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} CPUs (shared machine); ${NODES} agent processes (emulator datapath) on loopback, ${NODES * PODS_PER_NODE} pods, ${APPS} CiliumNetworkPolicies; ${ROUNDS} one-policy commits (svc-7 opens/closes a port), each announced by webhook; canary 1 node, then the rest; ${latencies.length} samples`,
      figures,
    };
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
    await controller?.stop();
    await server?.close();
    await fs.rm(dir, { recursive: true, force: true });
    if (agentDir) await fs.rm(agentDir, { recursive: true, force: true });
  }
}
