// The agent's endpoint: /healthz and /metrics (open, as the controller's), and /v1/status,
// /v1/verdict (ask the datapath about a flow) and /v1/events (runtime events as they happen), which
// need a client credential whenever one is configured. On loopback it may serve plain HTTP without
// one (a local `weir events`, the demo); on any other address it serves only over TLS with client
// authentication: certificates signed by the CA the operator names, and/or a bearer token.
import { isLoopback, listen, sendJson, TransportError, type Listening, type Route, type TransportOptions } from '../transport/http.js';
import type { Agent } from './agent.js';
import type { Flow } from './datapath.js';
import type { RuntimeEventExport } from './events-export.js';
import { filterFromQuery } from '../events/filter.js';

/** Largest /v1/verdict body: one flow. */
const verdictMaxBody = 16 << 10;

function route(method: string, p: string): Route {
  if (p === '/healthz' || p === '/metrics') return { open: true, maxBody: 0 };
  if (p === '/v1/verdict' && method === 'POST') return { maxBody: verdictMaxBody };
  return { maxBody: 0 };
}

/**
 * Refuses a listener that would hand events, status or verdicts to anyone who can reach it: a
 * non-loopback address needs a serving certificate and at least one way to authenticate clients.
 */
export function checkAgentListen(host: string, t: TransportOptions): void {
  if (t.tls?.ca !== undefined && !(t.tls.cert && t.tls.key))
    throw new TransportError('--listen-client-ca needs --listen-cert and --listen-key: client certificates are checked over TLS only');
  if (isLoopback(host)) return;
  const tls = t.tls?.cert !== undefined && t.tls.key !== undefined;
  const auth = t.tls?.ca !== undefined || t.token !== undefined;
  if (!tls || !auth)
    throw new TransportError(
      `--listen ${host} is not a loopback address: the agent serves /v1/events, /v1/status and /v1/verdict there only over TLS ` +
        `(--listen-cert/--listen-key) with client authentication (--listen-client-ca and/or --listen-token-file)` +
        `${!tls ? '; no TLS is configured' : ''}${!auth ? '; no client authentication is configured' : ''}`,
    );
}

/** Bounds of the event streams one agent serves: open streams, unsent bytes per stream, and how long one may not read. */
export const followLimits = { maxFollowers: 32, maxBuffered: 1 << 20, stallMs: 60_000 };

export async function serveAgent(
  agent: Agent,
  host: string,
  port: number,
  transport: TransportOptions,
  events?: RuntimeEventExport,
): Promise<Listening> {
  checkAgentListen(host, transport);
  return listen(
    host,
    port,
    // Plain HTTP is reachable only here, on loopback (checkAgentListen and listen's own check).
    transport.tls ? transport : { ...transport, insecureLoopback: true },
    async (req, res, body) => {
      const p = (req.url ?? '/').split('?')[0];
      if (p === '/v1/events' && req.method === 'GET') {
        // Tetragon JSON lines as they happen, filtered by ?namespace=&pod=&policy=&type= (repeatable).
        if (!events) return sendJson(res, 404, { error: `the ${agent.opts.datapath.kind} datapath has no runtime events` });
        if (events.followers >= followLimits.maxFollowers)
          return sendJson(res, 503, { error: `${followLimits.maxFollowers} event streams are open on this agent; try again later` });
        res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
        res.flushHeaders();
        // A follower that does not read is not buffered for without bound: past maxBuffered unsent bytes
        // its events are dropped (counted, and said in one line when it reads again); one that has not
        // read for stallMs is disconnected.
        let dropped = 0;
        let stalledSince: number | undefined;
        const stop = events.follow(
          filterFromQuery(new URL(req.url ?? '/', 'http://agent').searchParams),
          (line) => {
            if (res.writableLength > followLimits.maxBuffered) {
              dropped++;
              stalledSince ??= Date.now();
              if (Date.now() - stalledSince > followLimits.stallMs) res.destroy();
              return;
            }
            stalledSince = undefined;
            if (dropped > 0) {
              res.write(
                `${JSON.stringify({ weir: { dropped_events: dropped, reason: 'the reader fell behind' }, node_name: agent.opts.node })}\n`,
              );
              dropped = 0;
            }
            res.write(line);
          },
          () => res.end(),
        );
        req.socket.setTimeout(0);
        res.on('close', stop);
        return;
      }
      if (p === '/healthz') {
        // Healthy while a bundle is in force, even if the controller is away: enforcement continues.
        const ok = agent.applied !== undefined || agent.lastError === undefined;
        return sendJson(res, ok ? 200 : 503, { applied: agent.applied ?? null, lastError: agent.lastError ?? null });
      }
      if (p === '/v1/status')
        return sendJson(res, 200, {
          node: agent.opts.node,
          applied: agent.applied ?? null,
          lastError: agent.lastError ?? null,
          runtimeScopes: agent.opts.datapath.runtimeScopes?.() ?? [],
        });
      if (p === '/metrics')
        return void res.writeHead(200, { 'content-type': agent.registry.contentType }).end(await agent.registry.metrics());
      if (p === '/v1/verdict' && req.method === 'POST') {
        let f: Flow;
        try {
          f = JSON.parse(body.toString('utf8') || '{}') as Flow;
        } catch (err) {
          return sendJson(res, 400, { error: `the body is not JSON: ${(err as Error).message}` });
        }
        return sendJson(res, 200, await agent.opts.datapath.verdict({ ...f, protocol: f.protocol ?? 'TCP' }));
      }
      sendJson(res, 404, { error: 'not found' });
    },
    { route },
  );
}
