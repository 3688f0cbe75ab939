// The agent's local endpoint: /healthz, /metrics, and /v1/verdict (ask the datapath about a flow).
import { listen, sendJson, type Listening, type TransportOptions } from '../transport/http.js';
import type { Agent } from './agent.js';
import type { Flow } from './datapath.js';

export async function serveAgent(agent: Agent, host: string, port: number, transport: TransportOptions): Promise<Listening> {
  return listen(host, port, transport, async (req, res, body) => {
    const p = (req.url ?? '/').split('?')[0];
    if (p === '/healthz') {
      // Healthy while a bundle is in force, even if the controller is away: enforcement continues.
      const ok = agent.applied !== undefined || agent.lastError === undefined;
      return sendJson(res, ok ? 200 : 503, { applied: agent.applied ?? null, lastError: agent.lastError ?? null });
    }
    if (p === '/v1/status') return sendJson(res, 200, { node: agent.opts.node, applied: agent.applied ?? null, lastError: agent.lastError ?? null, runtimeScopes: agent.opts.datapath.runtimeScopes?.() ?? [] });
    if (p === '/metrics') return void res.writeHead(200, { 'content-type': agent.registry.contentType }).end(await agent.registry.metrics());
    if (p === '/v1/verdict' && req.method === 'POST') {
      const f = JSON.parse(body.toString('utf8') || '{}') as Flow;
      return sendJson(res, 200, await agent.opts.datapath.verdict({ ...f, protocol: f.protocol ?? 'TCP' }));
    }
    sendJson(res, 404, { error: 'not found' });
  }, () => true);
}
