// The agent's local endpoint: /healthz, /metrics, and /v1/verdict (ask the datapath about a flow).
import { listen, sendJson, type Listening, type TransportOptions } from '../transport/http.js';
import type { Agent } from './agent.js';
import type { Flow } from './datapath.js';
import type { RuntimeEventExport } from './events-export.js';
import { filterFromQuery } from '../events/filter.js';

export async function serveAgent(
  agent: Agent,
  host: string,
  port: number,
  transport: TransportOptions,
  events?: RuntimeEventExport,
): Promise<Listening> {
  return listen(
    host,
    port,
    transport,
    async (req, res, body) => {
      const p = (req.url ?? '/').split('?')[0];
      if (p === '/v1/events' && req.method === 'GET') {
        // Tetragon JSON lines as they happen, filtered by ?namespace=&pod=&policy=&type= (repeatable).
        if (!events) return sendJson(res, 404, { error: `the ${agent.opts.datapath.kind} datapath has no runtime events` });
        res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
        res.flushHeaders();
        const stop = events.follow(
          filterFromQuery(new URL(req.url ?? '/', 'http://agent').searchParams),
          (line) => void res.write(line),
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
        const f = JSON.parse(body.toString('utf8') || '{}') as Flow;
        return sendJson(res, 200, await agent.opts.datapath.verdict({ ...f, protocol: f.protocol ?? 'TCP' }));
      }
      sendJson(res, 404, { error: 'not found' });
    },
    () => true,
  );
}
