// Test harness: a throwaway Git repository with the Star Wars scenario, and the controller and
// agents as separate `weir` processes on loopback.
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { simpleGit } from 'simple-git';
import { generateSigningKey, privateKeyPem, publicKeyPem, signDigest, type SigningKey } from '../../controller/bundle/sign.js';
import { sha256 } from '../../compiler/bundle/assemble.js';
import { timestampBytes } from '../../controller/bundle/codec.js';
import type { SignedTimestamp } from '../../controller/reconcile/controller.js';

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const pods = `apiVersion: v1
kind: Pod
metadata: {name: deathstar, namespace: default, labels: {org: empire, class: deathstar}}
spec: {nodeName: node-a}
status: {podIP: 10.0.0.10}
---
apiVersion: v1
kind: Pod
metadata: {name: tiefighter, namespace: default, labels: {org: empire, class: tiefighter}}
spec: {nodeName: node-b}
status: {podIP: 10.0.0.11}
---
apiVersion: v1
kind: Pod
metadata: {name: xwing, namespace: default, labels: {org: alliance, class: xwing}}
spec: {nodeName: node-c}
status: {podIP: 10.0.0.12}
`;

export const empireOnly = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: rule1, namespace: default}
spec:
  endpointSelector: {matchLabels: {org: empire, class: deathstar}}
  ingress:
  - fromEndpoints: [{matchLabels: {org: empire}}]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]
`;

export const empireAndAlliance =
  empireOnly +
  `  - fromEndpoints: [{matchLabels: {org: alliance}}]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]
`;

/** A commit that compiles but drops everything: what the canary gate is for. */
export const denyAll = `apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: lockdown}
spec:
  endpointSelector: {}
  ingressDeny:
  - fromEntities: [all]
`;

export const traffic = [
  { src: '10.0.0.11', dst: '10.0.0.10', protocol: 'TCP', port: 80 },
  { src: '10.0.0.12', dst: '10.0.0.10', protocol: 'TCP', port: 80 },
  { src: '10.0.0.10', dst: '10.0.0.11', protocol: 'TCP', port: 80 },
  { src: '10.0.0.12', dst: '10.0.0.11', protocol: 'TCP', port: 80 },
  { src: '10.0.0.10', dst: '10.0.0.12', protocol: 'TCP', port: 80 },
  { src: '10.0.0.11', dst: '10.0.0.12', protocol: 'TCP', port: 80 },
];

export interface Workspace {
  dir: string;
  repo: string;
  keyFile: string;
  pubFile: string;
  trafficFile: string;
  /** The operator's bearer token (status, webhook) and the file `--token-file` reads it from. */
  operatorToken: string;
  operatorTokenFile: string;
  /** `--node-tokens` file of the controller: one token per node of `tokenNodes`. */
  nodeTokensFile: string;
  /** The file an agent's `--token-file` reads its own node's token from. */
  nodeTokenFile(node: string): string;
  /** Headers of an operator request. */
  auth: Record<string, string>;
  commit(files: Record<string, string | null>, message: string): Promise<string>;
  cleanup(): Promise<void>;
}

/** Nodes the workspace issues tokens for. */
export const tokenNodes = ['node-a', 'node-b', 'node-c', 'node-1'];

export async function workspace(): Promise<Workspace> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'weir-ctl-'));
  const repo = path.join(dir, 'repo');
  await fs.mkdir(path.join(repo, 'policies'), { recursive: true });
  const git = simpleGit(repo);
  await git.init(['--initial-branch=main', '--quiet']);
  await git.addConfig('user.email', 'test@weir.invalid').addConfig('user.name', 'weir test');
  const key = generateSigningKey();
  const keyFile = path.join(dir, 'signing.pem');
  const pubFile = path.join(dir, 'signing.pub');
  await fs.writeFile(keyFile, privateKeyPem(key), { mode: 0o600 });
  await fs.writeFile(pubFile, publicKeyPem(key));
  const trafficFile = path.join(dir, 'traffic.json');
  await fs.writeFile(trafficFile, JSON.stringify(traffic));
  const secret = () => randomBytes(24).toString('hex');
  const operatorToken = secret();
  const operatorTokenFile = path.join(dir, 'operator.token');
  await fs.writeFile(operatorTokenFile, operatorToken, { mode: 0o600 });
  const nodeTokens = new Map(tokenNodes.map((n) => [n, secret()]));
  const nodeTokensFile = path.join(dir, 'node-tokens');
  await fs.writeFile(nodeTokensFile, [...nodeTokens].map(([n, t]) => `${n} ${t}\n`).join(''), { mode: 0o600 });
  for (const [n, t] of nodeTokens) await fs.writeFile(path.join(dir, `${n}.token`), t, { mode: 0o600 });
  return {
    dir,
    repo,
    keyFile,
    pubFile,
    trafficFile,
    operatorToken,
    operatorTokenFile,
    nodeTokensFile,
    nodeTokenFile: (node) => path.join(dir, `${node}.token`),
    auth: { authorization: `Bearer ${operatorToken}` },
    async commit(files, message) {
      for (const [f, text] of Object.entries(files)) {
        const abs = path.join(repo, f);
        if (text === null) await fs.rm(abs, { force: true });
        else {
          await fs.mkdir(path.dirname(abs), { recursive: true });
          await fs.writeFile(abs, text);
        }
      }
      await git.add(['-A']);
      await git.commit(message, { '--allow-empty': null });
      return (await git.revparse(['HEAD'])).trim();
    },
    cleanup: () => fs.rm(dir, { recursive: true, force: true }),
  };
}

export interface Proc {
  child: ChildProcess;
  first: Record<string, unknown>;
  stderr: () => string;
  stdoutLines: () => string[];
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `weir <args>` from sources and waits for its first JSON line on stdout. */
export function startWeir(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Proc> {
  const child = spawn(process.execPath, [path.join(projectRoot, 'bin/weir.js'), ...args], {
    cwd: opts.cwd ?? projectRoot,
    env: { ...process.env, WEIR_FROM_SOURCE: '1', WEIR_LOG_LEVEL: process.env['WEIR_LOG_LEVEL'] ?? 'warn', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let out = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`weir ${args[0]} did not start within ${opts.timeoutMs ?? 30_000} ms:\n${err}`));
    }, opts.timeoutMs ?? 30_000);
    let resolved = false;
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (!resolved && nl >= 0) {
        resolved = true;
        clearTimeout(t);
        resolve({
          child,
          first: JSON.parse(out.slice(0, nl)) as Record<string, unknown>,
          stderr: () => err,
          stdoutLines: () => out.split('\n').filter(Boolean),
          async kill(signal: NodeJS.Signals = 'SIGTERM') {
            if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
            child.kill(signal);
            return exited;
          },
        });
      }
    });
    child.on('exit', (code) => {
      if (!resolved) {
        clearTimeout(t);
        reject(new Error(`weir ${args[0]} exited with ${code} before it was ready:\n${err}`));
      }
    });
  });
}

export async function getJson<T>(url: string, init?: RequestInit): Promise<T> {
  const r = await fetch(url, init);
  return (await r.json()) as T;
}

export async function until<T>(what: string, f: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface StatusDoc {
  phase: string;
  lastSeenCommit: string | null;
  lastGood: { revision: string; digest: string } | null;
  current: { revision: string; digest: string; phase: string } | null;
  lastError: { revision?: string; message: string } | null;
  nodes: {
    node: string;
    state: string;
    applied: { revision: string; digest: string } | null;
    desired: { revision: string } | null;
    error: string | null;
    dropRate: number | null;
  }[];
}

/** A controller timestamp for `node` and a node view, as Controller.timestamp signs it (for fake controllers). */
export function signedTimestamp(
  key: SigningKey,
  node: string,
  manifest: string,
  sequence: number,
  opts: { issuedAt?: number; validMs?: number } = {},
): SignedTimestamp {
  const issuedAt = opts.issuedAt ?? Date.now();
  const bytes = timestampBytes({
    kind: 'NodeTimestamp',
    node,
    manifest,
    sequence,
    issuedAt,
    expires: issuedAt + (opts.validMs ?? 15 * 60_000),
  });
  return { statement: bytes.toString('base64'), signature: signDigest(key, sha256(bytes)) };
}
