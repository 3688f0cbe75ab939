// Kernel mode of the demo: each pod is a network namespace on a veth pair whose host ends hang on
// a bridge of their own (L2 only: no address, route or forwarding change in the host namespace).
// The agent attaches the endpoint programs to the host ends through the kernel datapath, with maps
// pinned under /sys/fs/bpf/wdemo-<id>. Connections are real TCP connects between namespaces.
// Every name carries the wdemo prefix and a random id; leftovers of dead runs are removed first.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
import type { Datapath } from '../agent/datapath.js';
import { KernelDatapath } from '../agent/kernel-datapath.js';
import { RuntimeEventExport } from '../agent/events-export.js';
import { createPodCgroups } from './pod-cgroups.js';

export interface KernelEnvironment {
  datapath: Datapath;
  verdictOnWire?: (from: string, to: string, port: number) => Promise<'allow' | 'deny'>;
  /** Pod-scoped runtime policies: each pod's container cgroup, and the node's runtime event stream. */
  runtime?: { cgroupOf(pod: string): string | undefined; events: RuntimeEventExport };
  destroy(): Promise<void>;
}

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes namespaces, bridges and pins of earlier runs (names `PREFIX-<id>-<pid>-...`) whose process is gone. */
export function removeLeftovers(prefix = 'wdemo'): void {
  const live = new Set<string>();
  for (const line of ip(['netns', 'list']).split('\n')) {
    const m = new RegExp(`^(${prefix}-([0-9a-f]{4})-(\\d+)-[a-z0-9-]+)`).exec(line);
    if (!m) continue;
    if (alive(Number(m[3]))) live.add(m[2]!);
    else ip(['netns', 'del', m[1]!]);
  }
  for (const line of ip(['-o', 'link', 'show', 'type', 'bridge']).split('\n')) {
    const m = new RegExp(`^\\d+: (${prefix}-([0-9a-f]{4})-br)[:@]`).exec(line);
    if (m && !live.has(m[2]!)) ip(['link', 'del', m[1]!]);
  }
  for (const d of existsSync('/sys/fs/bpf') ? readdirSync('/sys/fs/bpf') : []) {
    // The agent pins runtime state beside the network maps, in PINDIR-runtime.
    const m = new RegExp(`^${prefix}-([0-9a-f]{4})(-runtime)?$`).exec(d);
    if (m && !live.has(m[1]!)) rmSync(`/sys/fs/bpf/${d}`, { recursive: true, force: true });
  }
}

// Clients hang up abruptly (they only test the connect): the server ignores resets.
const serverJs = `const net=require('net');for(const p of process.argv.slice(1).map(Number))net.createServer(s=>{s.on('error',()=>{});s.end('landing granted\\n')}).listen(p,'0.0.0.0');`;
const clientJs = `const s=require('net').connect({host:process.argv[1],port:+process.argv[2]});s.setTimeout(1500,()=>process.exit(1));s.on('connect',()=>process.exit(0));s.on('error',()=>process.exit(1));`;

export interface PodNetwork {
  /** Host-side interface of each pod (`ns/name` → ifname), for the agent's --interfaces. */
  interfaces: Record<string, string>;
  pinDir: string;
  verdictOnWire(from: string, to: string, port: number): Promise<'allow' | 'deny'>;
  destroy(): Promise<void>;
  /** Extra cleanup run first by destroy (e.g. closing a datapath). */
  onDestroy: (() => Promise<void>)[];
}

/** Pods as namespaces on veth pairs bridged at L2, a TCP server on the deathstar (80, 8080). */
export async function createPodNetwork(podsYaml: string, prefix = 'wdemo'): Promise<PodNetwork> {
  removeLeftovers(prefix);
  const id = randomBytes(2).toString('hex');
  const pods = parseAllDocuments(podsYaml).map(
    (d) => d.toJS() as { metadata: { name: string; namespace?: string }; status: { podIP: string } },
  );
  const nsOf = (pod: string) => `${prefix}-${id}-${process.pid}-${pod}`;
  const bridge = `${prefix}-${id}-br`;
  const pinDir = `/sys/fs/bpf/${prefix}-${id}`;
  const children: ChildProcess[] = [];
  const onDestroy: (() => Promise<void>)[] = [];
  const destroy = async () => {
    for (const f of onDestroy) await f().catch(() => undefined);
    for (const c of children) if (c.pid && c.exitCode === null) c.kill('SIGKILL');
    for (const p of pods) {
      try {
        ip(['netns', 'del', nsOf(p.metadata.name)]); // takes the veth pair and its filters along
      } catch {
        // already gone
      }
    }
    try {
      ip(['link', 'del', bridge]);
    } catch {
      // already gone
    }
    rmSync(pinDir, { recursive: true, force: true });
    rmSync(`${pinDir}-runtime`, { recursive: true, force: true });
  };
  try {
    ip(['link', 'add', bridge, 'type', 'bridge']);
    ip(['link', 'set', bridge, 'up']);
    const interfaces: Record<string, string> = {};
    pods.forEach((p, i) => {
      const ns = nsOf(p.metadata.name);
      const host = `${prefix}-${id}-${i}`;
      const peer = `${prefix}p${id}-${i}`;
      ip(['netns', 'add', ns]);
      ip(['link', 'add', host, 'type', 'veth', 'peer', 'name', peer]);
      ip(['link', 'set', peer, 'netns', ns]);
      ip(['-n', ns, 'link', 'set', peer, 'name', 'eth0']);
      ip(['-n', ns, 'addr', 'add', `${p.status.podIP}/24`, 'dev', 'eth0']);
      ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      ip(['link', 'set', host, 'master', bridge]);
      ip(['link', 'set', host, 'up']);
      interfaces[`${p.metadata.namespace ?? 'default'}/${p.metadata.name}`] = host;
    });
    const target = pods.find((p) => p.metadata.name === 'deathstar') ?? pods[0]!;
    const server = spawn('ip', ['netns', 'exec', nsOf(target.metadata.name), process.execPath, '-e', serverJs, '80', '8080'], {
      stdio: 'ignore',
    });
    children.push(server);
    const ipOf = (pod: string) => pods.find((p) => p.metadata.name === pod)?.status.podIP ?? '0.0.0.0';
    const verdictOnWire = (from: string, to: string, port: number) =>
      new Promise<'allow' | 'deny'>((resolve) => {
        const c = spawn('ip', ['netns', 'exec', nsOf(from), process.execPath, '-e', clientJs, ipOf(to), String(port)], { stdio: 'ignore' });
        children.push(c);
        c.on('exit', (code) => resolve(code === 0 ? 'allow' : 'deny'));
      });
    // The server needs a moment to listen; a first connect before any policy is just a warm-up.
    for (
      let i = 0;
      i < 20 && (await verdictOnWire(pods.find((p) => p !== target)!.metadata.name, target.metadata.name, 80)) !== 'allow';
      i++
    )
      await new Promise((r) => setTimeout(r, 100));
    return { interfaces, pinDir, verdictOnWire, destroy, onDestroy };
  } catch (err) {
    await destroy();
    throw err;
  }
}

export async function createEnvironment(podsYaml: string): Promise<KernelEnvironment> {
  const net = await createPodNetwork(podsYaml, 'wdemo');
  try {
    const cgroups = createPodCgroups(podsYaml);
    const events = new RuntimeEventExport({ node: 'node-1', podOf: (pid, cgroupId) => datapath.podOf(pid, cgroupId) });
    const datapath: KernelDatapath = await KernelDatapath.open('node-1', {
      pinDir: net.pinDir,
      interfaces: net.interfaces,
      events,
      ...(cgroups ? { pods: async () => cgroups.pods, cgroupRoot: cgroups.root } : {}),
    });
    net.onDestroy.push(async () => {
      await datapath.close();
      cgroups?.destroy();
    });
    return {
      datapath,
      verdictOnWire: net.verdictOnWire,
      ...(cgroups ? { runtime: { cgroupOf: cgroups.cgroupOf, events } } : {}),
      destroy: net.destroy,
    };
  } catch (err) {
    await net.destroy();
    throw err;
  }
}
