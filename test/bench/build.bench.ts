// `weir build` at scale: 1,000 policies selecting 10,000 pods on 100 nodes (generated, with
// realistic label churn: several versions per app, pod-template hashes, namespace labels), full
// build wall time and peak RSS in a fresh process, and a one-policy incremental rebuild.
// Peers measured in the same run: parsing the same YAML alone (the loader floor) and, for the
// incremental rebuild, the full build. Cilium's scale report is the bar quoted beside them:
// 250 policies selecting 10k pods, an endpoint's policy enforced in under 600 ms and
// convergence under 5 s across 1,000 agents.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchReport } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
export const SIZE = { policies: 1000, pods: 10_000, nodes: 100, namespaces: 100 };

/** A deterministic pseudo-random generator (mulberry32), so every run builds the same cluster. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const apps = ['frontend', 'api', 'worker', 'cache', 'db', 'search', 'queue', 'auth', 'billing', 'mailer'];

export function generate(dir: string, size = SIZE): { policyDir: string; inventory: string; policyFiles: string[] } {
  const r = rng(42);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const policyDir = path.join(dir, 'policies');
  mkdirSync(policyDir, { recursive: true });
  // The inventory as `kubectl get -A -o json` would give it (weir's Inventory kind, in JSON).
  const pods: Record<string, unknown>[] = [];
  for (let p = 0; p < size.pods; p++) {
    const ns = p % size.namespaces;
    const app = apps[Math.floor(p / size.namespaces) % apps.length]!;
    const version = `v${1 + Math.floor(r() * 3)}`;
    const hash = Math.floor(r() * 0xffffff).toString(16);
    pods.push({
      namespace: `ns-${ns}`,
      name: `${app}-${hash}-${p}`,
      labels: {
        app,
        version,
        tier: app === 'frontend' ? 'web' : app === 'db' || app === 'cache' ? 'data' : 'backend',
        'pod-template-hash': hash,
      },
      ips: [`10.${(p >> 16) & 255}.${(p >> 8) & 255}.${p & 255}`],
      node: `node-${p % size.nodes}`,
      ports: [{ name: 'http', port: 8000 + (p % 10) }],
    });
  }
  const invDoc = {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Inventory',
    metadata: { name: 'bench' },
    spec: {
      nodes: Array.from({ length: size.nodes }, (_, n) => ({ name: `node-${n}`, ips: [`172.16.${n >> 8}.${(n & 255) + 1}`] })),
      namespaces: Array.from({ length: size.namespaces }, (_, i) => ({
        name: `ns-${i}`,
        labels: { team: `team-${i % 17}`, env: i % 3 === 0 ? 'prod' : 'staging' },
      })),
      pods,
    },
  };
  const inventory = path.join(dir, 'inventory.json');
  writeFileSync(inventory, JSON.stringify(invDoc, null, 1) + '\n');
  const policyFiles: string[] = [];
  for (let i = 0; i < size.policies; i++) {
    const ns = i % size.namespaces;
    const app = apps[Math.floor(i / size.namespaces) % apps.length]!;
    const peers = [pick(apps), pick(apps)];
    const kind = i % 50 === 7 ? 'ccnp' : i % 10 === 3 ? 'knp' : 'cnp';
    let doc: string;
    if (kind === 'knp')
      doc = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ${app}-np-${i}, namespace: ns-${ns}}
spec:
  podSelector: {matchLabels: {app: ${app}}}
  policyTypes: [Ingress]
  ingress:
  - from:
    - podSelector: {matchLabels: {app: ${peers[0]}}}
    - namespaceSelector: {matchLabels: {team: team-${i % 17}}}
      podSelector: {matchLabels: {app: ${peers[1]}}}
    ports:
    - {port: http}
    - {port: ${9000 + (i % 50)}, endPort: ${9000 + (i % 50) + 15}}
`;
    else if (kind === 'ccnp')
      doc = `apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: cluster-${i}}
spec:
  endpointSelector: {matchLabels: {tier: ${pick(['web', 'data', 'backend'])}}}
  ingressDeny:
  - fromCIDRSet: [{cidr: 198.${i % 200}.0.0/16, except: [198.${i % 200}.7.0/24]}]
  egress:
  - toEntities: [kube-apiserver]
  - toCIDR: [203.0.${i % 250}.0/24]
    toPorts: [{ports: [{port: "443", protocol: TCP}]}]
`;
    else
      doc = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ${app}-${i}, namespace: ns-${ns}${i % 13 === 0 ? ', annotations: {weir.dev/audit: "true"}' : ''}}
spec:
  endpointSelector: {matchLabels: {app: ${app}${i % 4 === 0 ? `, version: v${1 + (i % 3)}` : ''}}}
  ingress:
  - fromEndpoints:
    - matchLabels: {app: ${peers[0]}}
    - matchExpressions: [{key: app, operator: In, values: [${peers[1]}, ${pick(apps)}]}]
    toPorts:
    - ports: [{port: "${8000 + (i % 10)}", protocol: TCP}]
${i % 5 === 0 ? `      rules:\n        http: [{method: GET, path: "/api/v${i % 3}/.*"}, {method: POST, path: /submit}]\n` : ''}  egress:
  - toEndpoints: [{matchLabels: {app: ${pick(apps)}}}]
    toPorts: [{ports: [{port: "${5000 + (i % 100)}", protocol: ANY}]}]
  - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: ns-${(ns + 1) % size.namespaces}, app: ${pick(apps)}}}]
  - toEntities: [world]
    toPorts: [{ports: [{port: "443", protocol: TCP}]}]
`;
    const f = path.join(policyDir, `p-${String(i).padStart(4, '0')}.yaml`);
    writeFileSync(f, doc);
    policyFiles.push(f);
  }
  return { policyDir, inventory, policyFiles };
}

interface ChildResult {
  ms: number;
  /** CPU time (user + system) of the measured section: on a shared, loaded machine wall time mostly measures the queue. */
  cpuMs: number;
  incrementalCpuMs?: number;
  rssMiB: number;
  incrementalMs?: number;
  endpoints?: number;
  identities?: number;
  entries?: number;
  blobs?: number;
  errors?: number;
}

/** Runs in a fresh process: `parse` only loads the YAML; `build` builds, writes, then rebuilds after a one-policy edit. */
async function child(mode: string, dir: string): Promise<void> {
  const { loadPolicies } = await import('../../compiler/load/index.js');
  const rel = (p: string) => path.relative(dir, p);
  if (mode === 'parse') {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const a = await loadPolicies(['policies'], { root: dir });
    const b = JSON.parse(readFileSync(path.join(dir, 'inventory.json'), 'utf8')) as { spec: { pods: unknown[] } };
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    const out: ChildResult = {
      ms,
      cpuMs: (c.user + c.system) / 1000,
      rssMiB: process.resourceUsage().maxRSS / 1024,
      errors: a.diagnostics.length + (b.spec.pods.length === 0 ? 1 : 0),
    };
    process.stdout.write(JSON.stringify(out));
    return;
  }
  const { NetworkBuilder } = await import('../../compiler/bundle/incremental.js');
  const { writeBundle } = await import('../../compiler/bundle/io.js');
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const builder = new NetworkBuilder({ paths: ['policies'], inventory: ['inventory.json'], root: dir, producers: [] });
  const r = await builder.build();
  if (r.bundle) await writeBundle(path.join(dir, 'out'), r.bundle);
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  // One policy changes (a port), as in a typical pull request; rebuild incrementally.
  const f = path.join(dir, 'policies', 'p-0042.yaml');
  writeFileSync(f, readFileSync(f, 'utf8').replace(/port: "(\d+)", protocol: TCP/, 'port: "7777", protocol: TCP'));
  const t1 = performance.now();
  const c1 = process.cpuUsage();
  const r2 = await builder.build([rel(f)]);
  const incrementalMs = performance.now() - t1;
  const ci = process.cpuUsage(c1);
  const out: ChildResult = {
    ms,
    cpuMs: (c.user + c.system) / 1000,
    incrementalCpuMs: (ci.user + ci.system) / 1000,
    rssMiB: process.resourceUsage().maxRSS / 1024,
    incrementalMs,
    endpoints: r.ir.endpoints.length,
    identities: r.ir.identities.length,
    entries: [...r.lowered.mapStates.values()].reduce((n, e) => n + e.length, 0),
    blobs: r.bundle?.blobs.size ?? 0,
    errors: r.diagnostics.filter((d) => d.severity === 'error').length + r2.diagnostics.filter((d) => d.severity === 'error').length,
  };
  process.stdout.write(JSON.stringify(out));
}

function runChild(mode: string, dir: string): ChildResult {
  const p = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    cwd: root,
    env: { ...process.env, WEIRNET_BENCH_CHILD: mode, WEIRNET_BENCH_DIR: dir },
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (p.status !== 0) throw new Error(`bench child ${mode} failed: ${p.stderr}`);
  return JSON.parse(p.stdout) as ChildResult;
}

export default async function bench(): Promise<BenchReport> {
  const dir = mkdtempSync(path.join(tmpdir(), 'weirnet-bench-'));
  try {
    generate(dir);
    const load = loadavg()[0]!;
    const parse = runChild('parse', dir);
    const build = runChild('build', dir);
    if (build.errors) throw new Error(`the generated policies did not compile cleanly (${build.errors} errors)`);
    const cilium = 'Cilium scale report: 250 policies / 10k pods, endpoint policy enforced < 600 ms, convergence < 5 s on 1,000 agents';
    return {
      name: 'build',
      setup: `weir build of ${SIZE.policies} policies (CNP, NetworkPolicy, CCNP; L7, deny, CIDR, audit) selecting ${SIZE.pods} pods in ${SIZE.namespaces} namespaces on ${SIZE.nodes} nodes (inventory as kubectl-style JSON): ${build.identities} identities, ${build.endpoints} endpoint maps, ${build.entries} policy entries, ${build.blobs} unique blobs. Fresh process per measurement; machine load average ${load.toFixed(1)} at start (2 cores shared). Bar: ${cilium}.`,
      figures: [
        {
          metric: 'full build wall time (load, compile, lower, bundle, write)',
          value: build.ms,
          unit: 'ms',
          peer: { name: 'loading the same inputs alone (policy YAML + inventory JSON)', value: parse.ms },
          ratio: build.ms / parse.ms,
          goal: '< 3000 ms',
          met: build.ms < 3000,
        },
        // CPU time includes V8's parallel GC and compiler threads, so it exceeds wall time on two cores;
        // the issue's goals are wall time. Recorded beside it for runs on a loaded machine.
        {
          metric: 'full build CPU time (user+sys, all threads; informational)',
          value: build.cpuMs,
          unit: 'ms',
          peer: { name: 'loading the inputs alone', value: parse.cpuMs },
          ratio: build.cpuMs / parse.cpuMs,
        },
        {
          metric: 'full build peak RSS',
          value: build.rssMiB,
          unit: 'MiB',
          peer: { name: 'loading the inputs alone', value: parse.rssMiB },
          ratio: build.rssMiB / parse.rssMiB,
          goal: '< 1024 MiB',
          met: build.rssMiB < 1024,
        },
        {
          metric: 'one-policy incremental rebuild CPU time (all threads; informational)',
          value: build.incrementalCpuMs!,
          unit: 'ms',
          peer: { name: 'full build CPU time', value: build.cpuMs },
          ratio: build.incrementalCpuMs! / build.cpuMs,
        },
        {
          metric: 'one-policy incremental rebuild',
          value: build.incrementalMs!,
          unit: 'ms',
          peer: { name: 'full build', value: build.ms },
          ratio: build.incrementalMs! / build.ms,
          goal: '< 300 ms',
          met: build.incrementalMs! < 300,
        },
      ],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env['WEIRNET_BENCH_CHILD']) await child(process.env['WEIRNET_BENCH_CHILD'], process.env['WEIRNET_BENCH_DIR']!);
