// `weir agent`: apply the bundles the controller wants on this node.
import { parseArgs } from 'node:util';
import { createWriteStream, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Writable } from 'node:stream';
import { UsageError, type Command } from './command.js';
import { loadPublicKey } from '../controller/bundle/sign.js';
import { Agent } from '../controller/agent/agent.js';
import type { Datapath, Flow } from '../controller/agent/datapath.js';
import type { KernelDatapath, KernelOptions } from '../controller/agent/kernel-datapath.js';
import type { FlowExport, RuntimeEventExport } from '../controller/agent/events-export.js';
import { EmulatorDatapath } from '../controller/agent/emulated-datapath.js';
import { checkAgentListen, serveAgent } from '../controller/agent/server.js';
import { makeLogger } from '../controller/reconcile/log.js';
import { Client, TransportError, type Listening, type TransportOptions } from '../controller/transport/http.js';
import { parseDuration, parseListen, readSecret, transportFlags, transportFrom, untilSignal } from './flags.js';

const usage = `usage: weir agent --controller URL --trust PUBKEY.pem [options]

  --node NAME              this node's name (default: the host name)
  --controller URL         controller API (https://..., or http://127.0.0.1:... with --insecure-loopback)
  --trust FILE             ed25519 public key (PEM) whose signatures this agent accepts
  --state-dir DIR          local blob store and applied state (default .weir/agent)
  --datapath KIND          emulator (default) or kernel
  --interfaces FILE        kernel: JSON {"ns/pod": "host-side ifname"} of the local endpoints
  --pin-dir DIR            kernel: bpffs directory for pinned maps (default /sys/fs/bpf/wag-<node>)
  --pods FILE|kube         kernel: this node's pods for pod-scoped runtime policies: a PodList file
                           (kubectl get pods -o json, re-read as it changes) or the Kubernetes API
  --export-file FILE       kernel: runtime events as Tetragon JSON lines (as tetragon --export-filename)
  --export-file-max-size-mb N   rotate the export file at N MiB (default 10)
  --export-file-max-backups N   rotated export files kept (default 5)
  --export-flows FILE      kernel: drops, audits and L7 redirects as Hubble flow JSON lines (read by weir plan --flows),
                           rotated like --export-file
  --cgroup-root DIR        kernel: cgroup v2 directory holding the kubelet's pod cgroups (default: the cgroup2 mount)
  --listen HOST:PORT       /healthz, /metrics (open), /v1/status, /v1/verdict, /v1/events (default 127.0.0.1:0);
                           an address that is not loopback needs --listen-cert/--listen-key and client authentication
  --listen-cert FILE, --listen-key FILE   serve the endpoint over TLS with this certificate and key
  --listen-client-ca FILE  clients of the endpoint present a certificate signed by this CA (mutual TLS)
  --listen-token-file FILE clients of the endpoint present this bearer token (weir events --token-file)
  --traffic FILE           flows (JSON array or lines of {src,dst,protocol,port}) replayed to measure the drop rate
  --events FILE            JSON-line events ("-" for stdout; default: none)
  --long-poll DURATION     how long one watch request waits (default 25s)
  --dns-proxy HOST:PORT    run the toFQDNs DNS proxy here (endpoints' DNS must be sent to it)
  --dns-upstream HOST:PORT resolver the proxy forwards to (default 127.0.0.1:53)
  --tls-cert/--tls-key/--tls-ca FILE, --token-file FILE, --insecure-loopback   as for weir controller`;

export async function loadTraffic(file: string): Promise<Flow[]> {
  const text = await fs.readFile(file, 'utf8');
  const t = text.trim();
  const items = t.startsWith('[')
    ? (JSON.parse(t) as unknown[])
    : t
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as unknown);
  return items.map((x, i) => {
    const f = x as Partial<Flow>;
    if (typeof f.src !== 'string' || typeof f.dst !== 'string' || typeof f.port !== 'number')
      throw new Error(`${file}: flow ${i + 1} needs src, dst (IPv4) and port`);
    return { src: f.src, dst: f.dst, port: f.port, protocol: f.protocol ?? 'TCP' };
  });
}

/** The agent endpoint's own TLS and client authentication (apart from the credentials it shows the controller). */
export function listenTransportFrom(
  v: { 'listen-cert'?: string; 'listen-key'?: string; 'listen-client-ca'?: string; 'listen-token-file'?: string },
  cwd: string,
): TransportOptions {
  const at = (f: string) => path.resolve(cwd, f);
  if ((v['listen-cert'] === undefined) !== (v['listen-key'] === undefined))
    throw new UsageError('--listen-cert and --listen-key go together');
  const token = v['listen-token-file'] ? readSecret(at(v['listen-token-file']), '--listen-token-file') : undefined;
  if (token !== undefined && /\s/.test(token)) throw new UsageError(`--listen-token-file ${v['listen-token-file']}: a token is one word`);
  const tls =
    v['listen-cert'] && v['listen-key']
      ? { cert: at(v['listen-cert']), key: at(v['listen-key']), ...(v['listen-client-ca'] ? { ca: at(v['listen-client-ca']) } : {}) }
      : v['listen-client-ca']
        ? { ca: at(v['listen-client-ca']) }
        : undefined;
  return { ...(tls ? { tls } : {}), ...(token !== undefined ? { token } : {}) };
}

export async function makeDatapath(kind: string, node: string, opts: KernelOptions = {}): Promise<Datapath> {
  if (kind === 'emulator') return new EmulatorDatapath(node);
  if (kind === 'kernel') {
    const { KernelDatapath } = await import('../controller/agent/kernel-datapath.js');
    return KernelDatapath.open(node, opts);
  }
  throw new UsageError(`--datapath must be emulator or kernel, not ${kind}`);
}

export const agentCommand: Command = {
  name: 'agent',
  summary: 'apply signed bundles from the controller on this node',
  usage,
  async run(argv, io) {
    let v;
    try {
      v = parseArgs({
        args: argv,
        options: {
          node: { type: 'string' },
          controller: { type: 'string' },
          trust: { type: 'string' },
          'state-dir': { type: 'string', default: '.weir/agent' },
          datapath: { type: 'string', default: 'emulator' },
          interfaces: { type: 'string' },
          'pin-dir': { type: 'string' },
          pods: { type: 'string' },
          'cgroup-root': { type: 'string' },
          'export-file': { type: 'string' },
          'export-file-max-size-mb': { type: 'string' },
          'export-file-max-backups': { type: 'string' },
          'export-flows': { type: 'string' },
          listen: { type: 'string', default: '127.0.0.1:0' },
          'listen-cert': { type: 'string' },
          'listen-key': { type: 'string' },
          'listen-client-ca': { type: 'string' },
          'listen-token-file': { type: 'string' },
          traffic: { type: 'string' },
          events: { type: 'string' },
          'long-poll': { type: 'string' },
          'dns-proxy': { type: 'string' },
          'dns-upstream': { type: 'string', default: '127.0.0.1:53' },
          'apply-delay': { type: 'string' },
          ...transportFlags,
        },
      }).values;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (!v.controller) throw new UsageError('--controller URL is required');
    if (!v.trust) throw new UsageError('--trust PUBKEY.pem is required: the agent applies only signed bundles');
    const node = v.node ?? os.hostname();
    const transport = transportFrom(v);
    const { host, port } = parseListen(v.listen, '--listen');
    const serving = listenTransportFrom(v, io.cwd);
    try {
      checkAgentListen(host, serving);
    } catch (err) {
      io.stderr(`weir agent: ${(err as Error).message}\n`);
      return 2;
    }
    let trustedKey;
    try {
      trustedKey = loadPublicKey(await fs.readFile(path.resolve(io.cwd, v.trust)), v.trust);
    } catch (err) {
      io.stderr(`weir agent: ${(err as Error).message}\n`);
      return 2;
    }
    let traffic: Flow[] | undefined;
    if (v.traffic) {
      try {
        traffic = await loadTraffic(path.resolve(io.cwd, v.traffic));
      } catch (err) {
        io.stderr(`weir agent: --traffic ${(err as Error).message}\n`);
        return 2;
      }
    }
    let client: Client;
    try {
      client = new Client(v.controller, transport);
    } catch (err) {
      io.stderr(`weir agent: ${err instanceof TransportError ? err.message : (err as Error).message}\n`);
      return 2;
    }
    const logger = makeLogger('weir-agent').child({ node });
    let datapath: Datapath;
    let runtimeEvents: RuntimeEventExport | undefined;
    let flows: FlowExport | undefined;
    try {
      const interfaces = v.interfaces
        ? (JSON.parse(await fs.readFile(path.resolve(io.cwd, v.interfaces), 'utf8')) as Record<string, string>)
        : undefined;
      const { podsFromFile, podsFromKube } = await import('../controller/agent/pod-scope.js');
      const pods = v.pods === 'kube' ? await podsFromKube(node) : v.pods ? podsFromFile(path.resolve(io.cwd, v.pods)) : undefined;
      if (v.datapath === 'kernel') {
        const { FlowExport, RuntimeEventExport } = await import('../controller/agent/events-export.js');
        const { ExportFile } = await import('../controller/events/export-file.js');
        const count = (flag: string, s: string | undefined, dflt: number) => {
          if (s === undefined) return dflt;
          if (!/^\d+$/.test(s)) throw new UsageError(`${flag} must be a whole number, not ${s}`);
          return Number(s);
        };
        const limits = {
          maxBytes: count('--export-file-max-size-mb', v['export-file-max-size-mb'], 10) << 20,
          maxBackups: count('--export-file-max-backups', v['export-file-max-backups'], 5),
        };
        const file = v['export-file'] ? new ExportFile(path.resolve(io.cwd, v['export-file']), limits) : undefined;
        if (v['export-flows']) flows = new FlowExport(new ExportFile(path.resolve(io.cwd, v['export-flows']), limits));
        runtimeEvents = new RuntimeEventExport({
          node,
          ...(file ? { file } : {}),
          podOf: (pid, cgroupId) => (datapath as KernelDatapath).podOf(pid, cgroupId),
        });
      } else if (v['export-file'] || v['export-flows'])
        throw new UsageError('--export-file and --export-flows need --datapath kernel (the emulator sees no packets)');
      datapath = await makeDatapath(v.datapath, node, {
        ...(interfaces ? { interfaces } : {}),
        ...(v['pin-dir'] ? { pinDir: v['pin-dir'] } : {}),
        ...(pods ? { pods } : {}),
        ...(v['cgroup-root'] ? { cgroupRoot: path.resolve(io.cwd, v['cgroup-root']) } : {}),
        ...(runtimeEvents ? { events: runtimeEvents } : {}),
        ...(flows ? { flows } : {}),
      });
    } catch (err) {
      if (err instanceof UsageError) throw err;
      io.stderr(`weir agent: the ${v.datapath} datapath is unavailable: ${(err as Error).message}\n`);
      return 2;
    }
    const events: Writable | undefined =
      v.events === '-' ? process.stdout : v.events ? createWriteStream(path.resolve(io.cwd, v.events), { flags: 'a' }) : undefined;
    const agent = new Agent({
      node,
      client,
      trustedKey,
      stateDir: path.resolve(io.cwd, v['state-dir']),
      datapath,
      logger,
      ...(traffic ? { traffic } : {}),
      ...(events ? { events } : {}),
      longPollMs: parseDuration(v['long-poll'], '--long-poll', 25_000),
      applyDelayMs: parseDuration(v['apply-delay'], '--apply-delay', 0),
    });
    let server: Listening;
    try {
      server = await serveAgent(agent, host, port, serving, runtimeEvents);
    } catch (err) {
      io.stderr(`weir agent: --listen ${v.listen}: ${(err as Error).message}\n`);
      await datapath.close();
      return 2;
    }
    logger.info({ url: server.url, datapath: datapath.kind }, 'agent listening');
    io.stdout(JSON.stringify({ node, url: server.url, datapath: datapath.kind }) + '\n');
    await agent.start();
    let proxy: import('../controller/agent/dns-proxy.js').DnsProxy | undefined;
    let sweep: NodeJS.Timeout | undefined;
    if (v['dns-proxy']) {
      const { DnsProxy } = await import('../controller/agent/dns-proxy.js');
      const dp = datapath;
      if (!dp.learnFqdn) throw new UsageError(`the ${dp.kind} datapath cannot learn FQDN addresses`);
      proxy = new DnsProxy({
        listen: parseListen(v['dns-proxy'], '--dns-proxy'),
        upstream: parseListen(v['dns-upstream'], '--dns-upstream'),
        tables: () => agent.tables,
        sink: { learnFqdn: (ip, id, ttl) => dp.learnFqdn!(ip, id, ttl) },
        logger,
        onLearn: (l) => events?.write(JSON.stringify({ time: new Date().toISOString(), node, type: 'fqdn-learned', ...l }) + '\n'),
      });
      const at = await proxy.start();
      logger.info(at, 'DNS proxy listening');
      sweep = setInterval(() => dp.expireFqdn?.(), 1000);
    }
    const sig = await untilSignal();
    if (sweep) clearInterval(sweep);
    await proxy?.stop();
    logger.info({ signal: sig }, 'shutting down; the applied state stays in force');
    await agent.stop();
    await server.close();
    await datapath.close();
    return 0;
  },
};
