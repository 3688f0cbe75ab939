// The controller's HTTP API: agents register, long-poll their desired bundle, fetch blobs by
// digest and report; operators read /v1/status and /metrics; Git hosts call /v1/webhook.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import {
  checkServerAuth,
  listen,
  sendJson,
  type Listening,
  type Principal,
  type Route,
  type ServeOptions,
  type TransportOptions,
} from '../transport/http.js';
import { validateAgainst } from '../../compiler/lint/schema.js';
import type { AgentReport, Controller, DesiredDocument, SignedTimestamp } from './controller.js';
import type { NodeFeatures } from '../agent/datapath.js';
import type { BundleRef } from './state.js';
import { BLOB_DELTA_MEDIA_TYPE, blobDelta } from '../bundle/codec.js';

const nodeName = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/i;

/** What each path accepts: health and metrics are open; bodies are capped per route. */
export function controllerRoute(method: string, p: string): Route {
  if (p === '/healthz' || p === '/metrics') return { open: true, maxBody: 0 };
  if (p === '/v1/webhook' && method === 'POST') return { maxBody: 25 << 20, discardBody: true, webhook: true };
  // A node's error-injection list goes by name (up to 4096 of them): the largest part of a registration.
  if (method === 'POST' && /^\/v1\/nodes\/[^/]+\/register$/.test(p)) return { maxBody: 1 << 20 };
  if (method === 'POST' && /^\/v1\/nodes\/[^/]+\/status$/.test(p)) return { maxBody: 4 << 20 };
  return { maxBody: 0 };
}

export async function serveController(
  c: Controller,
  host: string,
  port: number,
  transport: TransportOptions,
  serve: Omit<ServeOptions, 'route'> = {},
): Promise<Listening> {
  checkServerAuth(transport);
  return listen(host, port, transport, (req, res, body, principal) => route(c, req, res, body, principal), {
    ...serve,
    route: controllerRoute,
  });
}

/** The body as JSON, checked against a schema of schemas/: the value, or the first problem. */
function parseBody<T>(body: Buffer, schema: string): { value: T } | { error: string } {
  let v: unknown;
  try {
    v = body.length ? JSON.parse(body.toString('utf8')) : {};
  } catch (err) {
    return { error: `body is not JSON: ${(err as Error).message}` };
  }
  const problems = validateAgainst(schema, v);
  if (problems.length) return { error: `body does not match ${schema}: ${problems.slice(0, 3).join('; ')}` };
  return { value: v as T };
}

async function route(
  c: Controller,
  req: IncomingMessage,
  res: ServerResponse,
  body: Buffer,
  principal: Principal | undefined,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const p = url.pathname;
  const m = req.method ?? 'GET';
  if (p === '/healthz') {
    const h = c.health();
    if (h.ok) return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    return sendJson(res, 503, { status: 'unhealthy', reasons: h.reasons });
  }
  if (p === '/metrics') {
    const text = await c.metrics.registry.metrics();
    return void res.writeHead(200, { 'content-type': c.metrics.registry.contentType }).end(text);
  }
  if (p === '/v1/status' && m === 'GET') {
    if (!principal?.operator)
      return sendJson(res, 403, { error: 'status is for operators: present the operator token or a client certificate' });
    return sendJson(res, 200, c.status());
  }
  if (p === '/v1/webhook' && m === 'POST') {
    if (!principal?.operator && principal?.via !== 'webhook-signature')
      return sendJson(res, 403, {
        error: 'the webhook needs the operator token, a client certificate or a signature by the webhook secret',
      });
    void c.trigger('webhook');
    return sendJson(res, 202, { accepted: true });
  }
  let mm = /^\/v1\/blobs\/sha256\/([0-9a-f]{64})$/.exec(p);
  if (mm && m === 'GET') {
    const b = await c.store.getBlob(mm[1]!);
    if (!b) return sendJson(res, 404, { error: `no blob ${mm[1]}` });
    // ?base=<digest the node holds for the same map>&record=<key+value size>: a record delta when smaller.
    const base = url.searchParams.get('base');
    const record = Number(url.searchParams.get('record') ?? 'NaN');
    if (base && /^[0-9a-f]{64}$/.test(base) && base !== mm[1] && Number.isInteger(record)) {
      const key = `${base}>${mm[1]}/${record}`;
      let delta = deltas.get(key);
      if (delta === undefined) {
        const bb = await c.store.getBlob(base);
        const d = bb ? blobDelta(bb, base, b, mm[1]!, record) : undefined;
        const bytes = d ? Buffer.from(JSON.stringify(d)) : null;
        if (deltas.size > 4096) deltas.clear();
        deltas.set(key, (delta = bytes && bytes.length < b.length ? bytes : null));
      }
      if (delta) return sendContent(req, res, key, delta, BLOB_DELTA_MEDIA_TYPE);
    }
    return sendContent(req, res, mm[1]!, b, 'application/octet-stream');
  }
  mm = /^\/v1\/manifests\/([0-9a-f]{64})$/.exec(p);
  if (mm && m === 'GET') {
    const base = new URL(req.url ?? '/', 'http://x').searchParams.get('base');
    const delta = base && /^[0-9a-f]{64}$/.test(base) ? c.manifestDeltaBytes(base, mm[1]!) : undefined;
    if (delta) {
      res.setHeader('x-weir-signature', delta.signature);
      return sendContent(req, res, `${base}>${mm[1]}`, delta.bytes, 'application/vnd.weir.delta+json');
    }
    const man = await c.manifestBytes(mm[1]!);
    if (!man) return sendJson(res, 404, { error: `no manifest ${mm[1]}` });
    res.setHeader('x-weir-signature', man.signature);
    return sendContent(req, res, mm[1]!, man.bytes, 'application/json');
  }
  mm = /^\/v1\/nodes\/([^/]+)\/(register|desired|status)$/.exec(p);
  if (mm) {
    let node: string;
    try {
      node = decodeURIComponent(mm[1]!);
    } catch {
      return sendJson(res, 400, { error: 'invalid node name encoding' });
    }
    if (!nodeName.test(node)) return sendJson(res, 400, { error: `invalid node name ${JSON.stringify(node.slice(0, 300))}` });
    // A credential speaks for the node it names (certificate CN/SAN, per-node token), and only for a node the controller knows.
    if (!principal?.nodes.includes(node))
      return sendJson(res, 403, {
        error: `this credential is not node ${node}'s (it names ${principal?.nodes.length ? principal.nodes.join(', ') : 'no node'})`,
      });
    if (principal.via !== 'node-token' && !c.knownNode(node))
      return sendJson(res, 403, { error: `node ${node} is not in the inventory or the allow list of this controller` });
    const what = mm[2]!;
    if (what === 'register' && m === 'POST') {
      const r = parseBody<{ features?: NodeFeatures; applied?: BundleRef; proof?: SignedTimestamp }>(body, 'agent-register');
      if ('error' in r) return sendJson(res, 400, { error: r.error });
      c.register(node, r.value.features, r.value.applied, r.value.proof);
      return sendJson(res, 200, { desired: await desiredDoc(c, node) });
    }
    if (what === 'status' && m === 'POST') {
      const r = parseBody<AgentReport>(body, 'agent-status');
      if ('error' in r) return sendJson(res, 400, { error: r.error });
      c.report(node, r.value);
      return sendJson(res, 200, { ok: true });
    }
    if (what === 'desired' && m === 'GET') return longPoll(c, node, url, req, res);
  }
  sendJson(res, 404, { error: `no route ${m} ${p}` });
}

async function desiredDoc(c: Controller, node: string): Promise<DesiredDocument | null> {
  return (await c.nodeDesired(node)) ?? null;
}

/**
 * Answers as soon as the node's desired step differs from `current` (bundle digest) and `sequence`,
 * or 204 after `waitMs` with a fresh signed timestamp of what is desired (x-weir-timestamp headers).
 */
async function longPoll(c: Controller, node: string, url: URL, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  const current = url.searchParams.get('current') ?? '';
  const seqParam = url.searchParams.get('sequence');
  const sequence = seqParam === null ? undefined : Number(seqParam);
  const waitMs = Math.min(Math.max(Number(url.searchParams.get('waitMs') ?? 25_000) || 0, 0), 60_000);
  c.touch(node);
  const differs = () => {
    const d = c.desiredFor(node);
    return d !== undefined && (d.digest !== current || (sequence !== undefined && d.sequence !== sequence));
  };
  if (!differs() && waitMs > 0) {
    await new Promise<void>((resolve) => {
      const t = setTimeout(finish, waitMs);
      function onChange(): void {
        if (differs()) finish();
      }
      function finish(): void {
        clearTimeout(t);
        c.off('desired', onChange);
        res.off('close', finish);
        resolve();
      }
      c.on('desired', onChange);
      // res 'close' fires when the client goes away; req 'close' fires once the body is read.
      res.on('close', finish);
    });
  }
  c.touch(node);
  if (res.destroyed) return;
  if (!differs()) {
    const d = await c.nodeDesired(node);
    if (d) res.setHeader('x-weir-timestamp', `${d.timestamp.statement}.${d.timestamp.signature}`);
    return void res.writeHead(204).end();
  }
  sendJson(res, 200, await desiredDoc(c, node));
}

/** Blob deltas by base>target/record (null: the whole blob is as small); immutable like the blobs. */
const deltas = new Map<string, Buffer | null>();

// Content is immutable by digest, so its gzip form is computed once and served to every agent.
const gzipped = new Map<string, Buffer>();

function sendContent(req: IncomingMessage, res: ServerResponse, digest: string, bytes: Buffer, type: string): void {
  const headers: Record<string, string | number> = {
    'content-type': type,
    'cache-control': 'public, max-age=31536000, immutable',
    etag: `"${digest}"`,
  };
  if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')) && bytes.length > 256) {
    let gz = gzipped.get(digest);
    if (!gz) {
      if (gzipped.size > 4096) gzipped.clear();
      gz = gzipSync(bytes, { level: 6 });
      gzipped.set(digest, gz);
    }
    if (gz.length < bytes.length)
      return void res.writeHead(200, { ...headers, 'content-encoding': 'gzip', 'content-length': gz.length }).end(gz);
  }
  res.writeHead(200, { ...headers, 'content-length': bytes.length }).end(bytes);
}
