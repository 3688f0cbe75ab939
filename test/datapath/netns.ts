// A node with pods for kernel end-to-end tests: one "node" network namespace holding the host side of each
// pod's veth (routing between them), one namespace per pod. Everything carries the `wdp-e` prefix plus a
// random suffix and is removed in teardown; leftovers of earlier runs are removed on start.
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import readline from 'node:readline';

const here = import.meta.dirname;

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Removes namespaces and pins left by earlier runs with this prefix (e.g. `wdp-e`). */
export function removeLeftovers(prefix: string): void {
  const list = sh('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '');
  for (const ns of list) if (ns.startsWith(prefix)) execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  for (const p of readdirSync('/sys/fs/bpf')) if (p.startsWith(prefix)) rmSync(`/sys/fs/bpf/${p}`, { recursive: true, force: true });
}

export interface PodSpec {
  name: string;
  /** Listening HTTP ports. */
  ports: number[];
  /** Raw TCP echo ports (for long-lived sessions). */
  echoPorts?: number[];
  /**
   * The pod's address (e.g. from an inventory). Routed as Cilium routes pods: a /32 on eth0, default
   * route via 169.254.1.1 (the host-side veth), a /32 route per pod in the node. Without it, pod i
   * gets 10.77.i.2/24 behind 10.77.i.1.
   */
  ip?: string;
}

export interface Pod {
  name: string;
  netns: string;
  /** Host-side veth name (in the node namespace). */
  hostIf: string;
  ip: string;
  /** Outgoing TCP connect from inside the pod. */
  connect(host: string, port: number, timeoutMs?: number): Promise<{ ok: boolean; ms: number; error?: string }>;
  http(
    host: string,
    port: number,
    method: string,
    path: string,
    timeoutMs?: number,
  ): Promise<{ ok: boolean; status?: number; body?: string; error?: string }>;
  /** One TCP connection held open, a byte every intervalMs; `echoes` are the ms offsets of the echoes. */
  session(host: string, port: number, durationMs: number, intervalMs: number): Promise<{ ok: boolean; echoes: number[]; error?: string }>;
}

export class Topology {
  readonly id = randomBytes(2).toString('hex');
  readonly prefix: string;
  readonly nodeNs: string;
  readonly pinDir: string;
  readonly pods: Pod[] = [];
  readonly #procs: ChildProcessWithoutNullStreams[] = [];

  constructor(prefix = 'wdp-e') {
    this.prefix = prefix;
    this.nodeNs = `${prefix}${this.id}-node`;
    this.pinDir = `/sys/fs/bpf/${prefix}${this.id}`;
  }

  /** Creates the node namespace and one namespace + veth per pod (pod i: 10.77.i.2/24 via 10.77.i.1). */
  async create(specs: PodSpec[]): Promise<void> {
    const inNode = (...a: string[]) => sh('ip', ['netns', 'exec', this.nodeNs, ...a]);
    sh('ip', ['netns', 'add', this.nodeNs]);
    inNode('ip', 'link', 'set', 'lo', 'up');
    inNode('sysctl', '-q', '-w', 'net.ipv4.ip_forward=1');
    for (const [i, s] of specs.entries()) {
      const n = i + 1;
      const ns = `${this.prefix}${this.id}-${s.name.slice(0, 4)}`;
      const hostIf = `wdp-${this.id}-h${n}`;
      const peer = `wdp-${this.id}-p${n}`;
      sh('ip', ['netns', 'add', ns]);
      sh('ip', ['-n', this.nodeNs, 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', peer, 'netns', ns]);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      sh('ip', ['-n', ns, 'link', 'set', peer, 'name', 'eth0']);
      if (s.ip) {
        sh('ip', ['-n', this.nodeNs, 'addr', 'add', '169.254.1.1/32', 'dev', hostIf]);
        sh('ip', ['-n', this.nodeNs, 'link', 'set', hostIf, 'up']);
        sh('ip', ['-n', this.nodeNs, 'route', 'add', `${s.ip}/32`, 'dev', hostIf]);
        sh('ip', ['-n', ns, 'addr', 'add', `${s.ip}/32`, 'dev', 'eth0']);
        sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
        sh('ip', ['-n', ns, 'route', 'add', '169.254.1.1', 'dev', 'eth0', 'scope', 'link']);
        sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0']);
      } else {
        sh('ip', ['-n', this.nodeNs, 'addr', 'add', `10.77.${n}.1/24`, 'dev', hostIf]);
        sh('ip', ['-n', this.nodeNs, 'link', 'set', hostIf, 'up']);
        sh('ip', ['-n', ns, 'addr', 'add', `10.77.${n}.2/24`, 'dev', 'eth0']);
        sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
        sh('ip', ['-n', ns, 'route', 'add', 'default', 'via', `10.77.${n}.1`]);
      }
      const proc = spawn(
        'ip',
        [
          'netns',
          'exec',
          ns,
          process.execPath,
          resolve(here, 'pod-agent.mjs'),
          s.name,
          ...s.ports.map(String),
          ...(s.echoPorts ?? []).map((p) => `e${p}`),
        ],
        { stdio: ['pipe', 'pipe', 'pipe'] },
      );
      this.#procs.push(proc);
      const lines = readline.createInterface({ input: proc.stdout });
      const waiting = new Map<number, (r: never) => void>();
      let nextId = 0;
      const ready = new Promise<void>((res, rej) => {
        proc.on('exit', (code) => rej(new Error(`pod ${s.name} exited with ${code}`)));
        lines.on('line', (l) => {
          const msg = JSON.parse(l) as { ready?: string; id?: number };
          if (msg.ready) return res();
          const w = waiting.get(msg.id ?? -1);
          if (w) waiting.delete(msg.id!), w(msg as never);
        });
      });
      const send = <T>(cmd: object) =>
        new Promise<T>((res) => {
          const id = nextId++;
          waiting.set(id, res as (r: never) => void);
          proc.stdin.write(JSON.stringify({ id, ...cmd }) + '\n');
        });
      await ready;
      this.pods.push({
        name: s.name,
        netns: ns,
        hostIf,
        ip: s.ip ?? `10.77.${n}.2`,
        connect: (host, port, timeoutMs = 250) => send({ op: 'connect', host, port, timeoutMs }),
        http: (host, port, method, path, timeoutMs = 1000) => send({ op: 'http', host, port, method, path, timeoutMs }),
        session: (host, port, durationMs, intervalMs) => send({ op: 'session', host, port, durationMs, intervalMs }),
      });
    }
  }

  pod(name: string): Pod {
    const p = this.pods.find((x) => x.name === name);
    if (!p) throw new Error(`no pod ${name}`);
    return p;
  }

  /** Runs a command inside the node namespace without changing the mount namespace (bpffs stays visible). */
  inNode(cmd: string, args: string[]): string {
    return sh('nsenter', [`--net=/run/netns/${this.nodeNs}`, '--', cmd, ...args]);
  }

  destroy(): void {
    for (const p of this.#procs) if (p.exitCode === null && p.pid) process.kill(p.pid);
    for (const p of this.pods) execFileSync('ip', ['netns', 'del', p.netns], { stdio: 'ignore' });
    if (sh('ip', ['netns', 'list']).includes(this.nodeNs)) execFileSync('ip', ['netns', 'del', this.nodeNs], { stdio: 'ignore' });
    if (existsSync(this.pinDir)) rmSync(this.pinDir, { recursive: true, force: true });
  }
}

/** Removes root-namespace links left by earlier runs whose names match (e.g. /^wdp-[0-9a-f]{4}-x0$/). */
export function removeLeftoverLinks(pattern: RegExp): void {
  for (const line of sh('ip', ['-o', 'link', 'show']).split('\n')) {
    const name = line.split(': ')[1]?.split('@')[0];
    if (name && pattern.test(name)) execFileSync('ip', ['link', 'del', name], { stdio: 'ignore' });
  }
}
