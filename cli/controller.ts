// `weir controller`: follow a Git branch, compile, sign, store and roll out bundles to agents.
import { parseArgs } from 'node:util';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { UsageError, type Command } from './command.js';
import { generateSigningKey, loadSigningKey, privateKeyPem, publicKeyPem, type SigningKey } from '../controller/bundle/sign.js';
import { CompilerUnavailable, openCompiler, type Compiler } from '../controller/reconcile/compiler.js';
import { Controller } from '../controller/reconcile/controller.js';
import { SourceRefused } from '../controller/reconcile/source.js';
import { makeLogger } from '../controller/reconcile/log.js';
import { serveController } from '../controller/reconcile/api.js';
import { checkServerAuth, TransportError, type TransportOptions } from '../controller/transport/http.js';
import {
  nodeTokensFrom,
  parseCount,
  parseDuration,
  parseListen,
  transportFlags,
  transportFrom,
  untilSignal,
  webhookSecretFrom,
} from './flags.js';
import { allowLocalhostOption } from './inputs.js';

const usage = `usage: weir controller --repo PATH|URL [options]

  --repo PATH|URL          Git repository to follow (local path or URL)
  --kubernetes             take policies and inventory from the cluster instead (in-cluster or
                           kubeconfig credentials) and write status to a PolicyRollout
  --rollout NS/NAME        the PolicyRollout to write (default weir-system/policies)
  --branch NAME            branch (default main)
  --path P                 policy path inside the repository (repeatable; default: policies)
  --state-dir DIR          state, bundle store and Git mirror (default .weir/controller)
  --listen HOST:PORT       API address (default 127.0.0.1:8470; port 0 picks one)
  --poll DURATION          fetch interval (default 30s; 0 disables, webhook only)
  --key FILE               ed25519 private key (PEM) that signs bundles
  --key-secret NS/NAME     read the key from a Kubernetes Secret (data key ed25519.key)
  --generate-key           create --key FILE if it does not exist (and FILE.pub)
  --canary NODE            canary node (repeatable); default: the first --canary-count live nodes
  --canary-count N         default 1
  --max-drop-increase F    largest allowed rise of a canary's drop rate, 0..1 (default 0.05)
  --gate-timeout DURATION  how long to wait for the canaries (default 30s)
  --freshness DURATION     how long a signed timestamp stays valid (default 15m): an agent that hears
                           no fresher one keeps its bundle and reports weir_agent_bundle_stale 1
  --tls-cert/--tls-key/--tls-ca FILE   TLS (with --tls-ca: clients present certificates signed by that CA;
                           a node's certificate names it in its CN or a DNS SAN)
  --token-file FILE        operator bearer token (status, webhook)
  --node-tokens FILE       per-node bearer tokens, lines "NODE TOKEN": each speaks for its node only
  --allow-node NAME        a node that may register besides those of the inventory (repeatable)
  --allow-localhost MODE   as Cilium's flag: auto or always (default: the node's host reaches the
                           pods of its node) or policy (the host needs a rule)
  --webhook-secret-file F  secret of signed Git host webhooks (X-Hub-Signature-256)
  --max-connections N      open connections in total (default 4096)
  --max-connections-per-client N   open connections from one address (default 256)
  --insecure-loopback      plain HTTP, allowed on loopback only

The controller does not start without an authentication method (--tls-ca, --token-file or
--node-tokens), on any address.

Prints one JSON line {"url", "keyId", "publicKey"} on stdout once listening; logs go to stderr.`;

export const controllerCommand: Command = {
  name: 'controller',
  summary: 'follow a Git branch and roll signed bundles out to node agents',
  usage,
  async run(argv, io) {
    let v;
    try {
      v = parseArgs({
        args: argv,
        options: {
          repo: { type: 'string' },
          kubernetes: { type: 'boolean', default: false },
          rollout: { type: 'string', default: 'weir-system/policies' },
          branch: { type: 'string', default: 'main' },
          path: { type: 'string', multiple: true },
          'state-dir': { type: 'string', default: '.weir/controller' },
          listen: { type: 'string', default: '127.0.0.1:8470' },
          poll: { type: 'string' },
          key: { type: 'string' },
          'key-secret': { type: 'string' },
          'generate-key': { type: 'boolean' },
          canary: { type: 'string', multiple: true },
          'canary-count': { type: 'string' },
          'max-drop-increase': { type: 'string' },
          'gate-timeout': { type: 'string' },
          freshness: { type: 'string' },
          'node-tokens': { type: 'string' },
          'allow-node': { type: 'string', multiple: true },
          'allow-localhost': { type: 'string' },
          'webhook-secret-file': { type: 'string' },
          'max-connections': { type: 'string' },
          'max-connections-per-client': { type: 'string' },
          ...transportFlags,
        },
        allowPositionals: false,
      }).values;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (!v.repo && !v.kubernetes) throw new UsageError('--repo (or --kubernetes) is required');
    const rolloutRef = /^([a-z0-9-]+)\/([a-z0-9.-]+)$/.exec(v.rollout);
    if (!rolloutRef) throw new UsageError(`--rollout ${v.rollout}: expected NAMESPACE/NAME`);
    if (!v.key && !v['key-secret']) throw new UsageError('--key FILE (or --key-secret NS/NAME) is required: bundles are always signed');
    const { host, port } = parseListen(v.listen, '--listen');
    const nodeTokens = v['node-tokens'] ? nodeTokensFrom(path.resolve(io.cwd, v['node-tokens'])) : undefined;
    const transport: TransportOptions = {
      ...transportFrom(v),
      ...(nodeTokens ? { nodeTokens } : {}),
      ...(v['webhook-secret-file'] ? { webhookSecret: webhookSecretFrom(path.resolve(io.cwd, v['webhook-secret-file'])) } : {}),
      limits: {
        maxConnections: parseCount(v['max-connections'], '--max-connections', 4096),
        maxConnectionsPerClient: parseCount(v['max-connections-per-client'], '--max-connections-per-client', 256),
      },
    };
    for (const n of v['allow-node'] ?? [])
      if (!/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/i.test(n)) throw new UsageError(`--allow-node: ${JSON.stringify(n)} is not a node name`);
    const maxDrop = v['max-drop-increase'] === undefined ? 0.05 : Number(v['max-drop-increase']);
    if (!(maxDrop >= 0 && maxDrop <= 1)) throw new UsageError('--max-drop-increase must be a number between 0 and 1');
    const canaryCount = v['canary-count'] === undefined ? 1 : Number(v['canary-count']);
    if (!Number.isInteger(canaryCount) || canaryCount < 0) throw new UsageError('--canary-count must be a whole number');

    // A controller that cannot compile would fail every commit: it does not start, and says why.
    let compiler: Compiler;
    try {
      const allowLocalhost = allowLocalhostOption(v['allow-localhost'], undefined);
      compiler = openCompiler(allowLocalhost ? { allowLocalhost } : {});
    } catch (err) {
      if (!(err instanceof CompilerUnavailable)) throw err;
      io.stderr(`weir controller: cannot start: ${err.message}\n`);
      return 2;
    }
    // Nor without a way to tell its clients apart (checked before a key is generated or a port opened).
    try {
      checkServerAuth(transport);
    } catch (err) {
      io.stderr(`weir controller: cannot start: ${(err as Error).message}\n`);
      return 2;
    }

    let key: SigningKey;
    try {
      if (v['key-secret']) {
        const { keyFromSecret } = await import('../controller/kube/secret.js');
        key = await keyFromSecret(v['key-secret']);
      } else {
        const file = path.resolve(io.cwd, v.key!);
        if (v['generate-key']) {
          try {
            await fs.access(file);
          } catch {
            const k = generateSigningKey();
            await fs.mkdir(path.dirname(file), { recursive: true });
            await fs.writeFile(file, privateKeyPem(k), { mode: 0o600 });
            await fs.writeFile(`${file}.pub`, publicKeyPem(k));
          }
        }
        key = await loadSigningKey(file);
      }
    } catch (err) {
      io.stderr(`weir controller: ${(err as Error).message}\n`);
      return 2;
    }

    const logger = makeLogger('weir-controller');
    // URLs (scheme://, scp-like user@host:path, helper::address) are passed as written, for GitSource to allow or refuse; anything else is a path.
    const repo = v.kubernetes
      ? 'kubernetes'
      : /^[a-zA-Z][a-zA-Z0-9+.-]*:(\/\/|:)/.test(v.repo!) || /^[^/]*@[^/]*:/.test(v.repo!) || v.repo!.startsWith('-')
        ? v.repo!
        : path.resolve(io.cwd, v.repo!);
    // In Kubernetes mode the informers feed the controller and a writer reports on the PolicyRollout.
    let kube:
      | {
          source: import('../controller/kube/kube-source.js').KubeSource;
          kc: import('@kubernetes/client-node').KubeConfig;
          writer?: import('../controller/kube/status-writer.js').PolicyRolloutWriter;
        }
      | undefined;
    let controllerRef: Controller | undefined;
    if (v.kubernetes) {
      const { KubeSource } = await import('../controller/kube/kube-source.js');
      const { defaultKubeConfig } = await import('../controller/kube/secret.js');
      const kc = defaultKubeConfig();
      const source = new KubeSource(
        kc,
        () => void controllerRef?.trigger('watch'),
        (kind, err) => logger.warn({ kind, error: (err as Error).message }, 'watch failed; retrying'),
      );
      kube = { source, kc };
      try {
        await source.start();
      } catch (err) {
        io.stderr(`weir controller: cannot reach the Kubernetes API: ${(err as Error).message}\n`);
        return 2;
      }
    }
    let c: Controller;
    try {
      c = new Controller({
        ...(kube ? { source: kube.source } : {}),
        repo,
        branch: v.branch,
        paths: v.path?.length ? v.path : ['policies'],
        stateDir: path.resolve(io.cwd, v['state-dir']),
        compiler,
        key,
        logger,
        pollIntervalMs: parseDuration(v.poll, '--poll', 30_000),
        ...(v.canary ? { canaries: v.canary } : {}),
        ...(v['allow-node'] ? { allowNodes: v['allow-node'] } : {}),
        canaryCount,
        maxDropRateIncrease: maxDrop,
        gateTimeoutMs: parseDuration(v['gate-timeout'], '--gate-timeout', 30_000),
        freshnessMs: parseDuration(v.freshness, '--freshness', 15 * 60_000),
      });
    } catch (err) {
      if (!(err instanceof SourceRefused)) throw err;
      io.stderr(`weir controller: --repo ${v.repo ?? ''} --branch ${v.branch}: ${err.message}\n`);
      await kube?.source.stop();
      return 2;
    }
    let server;
    try {
      server = await serveController(c, host, port, transport, { onReject: rejectLog(logger) });
    } catch (err) {
      io.stderr(
        `weir controller: ${err instanceof TransportError ? err.message : `cannot listen on ${v.listen}: ${(err as Error).message}`}\n`,
      );
      return 2;
    }
    io.stdout(JSON.stringify({ url: server.url, keyId: key.keyId, publicKey: publicKeyPem(key) }) + '\n');
    controllerRef = c;
    await c.start();
    if (kube) {
      const { PolicyRolloutWriter } = await import('../controller/kube/status-writer.js');
      kube.writer = new PolicyRolloutWriter(kube.kc, c, rolloutRef[1]!, rolloutRef[2]!);
      kube.writer.start();
    }
    const sig = await untilSignal();
    logger.info({ signal: sig }, 'shutting down');
    await kube?.writer?.stop();
    await c.stop();
    await kube?.source.stop();
    await server.close();
    return 0;
  },
};

/** Refused connections and requests, logged at most once a second per reason with a count (a flood must not flood the log). */
function rejectLog(logger: import('pino').Logger): (reason: string, client: string) => void {
  const counts = new Map<string, { n: number; last: number; client: string }>();
  return (reason, client) => {
    const c = counts.get(reason) ?? { n: 0, last: 0, client };
    c.n++;
    c.client = client;
    counts.set(reason, c);
    const now = Date.now();
    if (now - c.last >= 1000) {
      logger.warn({ reason, client: c.client, count: c.n }, 'refused a connection or request');
      c.n = 0;
      c.last = now;
    }
  };
}
