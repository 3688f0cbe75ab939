// The controller's HTTP API: agents register, long-poll their desired bundle, fetch blobs by
// digest and report; operators read /v1/status and /metrics; Git hosts call /v1/webhook.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { listen, sendJson, type Listening, type TransportOptions } from '../transport/http.js';
import type { AgentReport, Controller } from './controller.js';
import type { NodeFeatures } from '../agent/datapath.js';
import type { BundleRef } from './state.js';
import { BLOB_DELTA_MEDIA_TYPE, blobDelta } from '../bundle/codec.js';

const nodeName = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/i;

export async function serveController(c: Controller, host: string, port: number, transport: TransportOptions): Promise<Listening> {
  return listen(host, port, transport, (req, res, body) => route(c, req, res, body), (p) => p === '/healthz' || p === '/metrics');
}

function parseJson<T>(body: Buffer): T | undefined {
  try {
    return body.length ? (JSON.parse(body.toString('utf8')) as T) : undefined;
  } catch {
    return undefined;
  }
}

async function route(c: Controller, req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://x');
  const p = url.pathname;
  const m = req.method ?? 'GET';
  if (p === '/healthz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
  if (p === '/metrics') {
    const text = await c.metrics.registry.metrics();
    return void res.writeHead(200, { 'content-type': c.metrics.registry.contentType }).end(text);
  }
  if (p === '/v1/status' && m === 'GET') return sendJson(res, 200, c.status());
  if (p === '/v1/webhook' && m === 'POST') {
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
    const node = decodeURIComponent(mm[1]!);
    if (!nodeName.test(node)) return sendJson(res, 400, { error: `invalid node name ${JSON.stringify(node)}` });
    const what = mm[2]!;
    if (what === 'register' && m === 'POST') {
      const r = parseJson<{ features?: NodeFeatures; applied?: BundleRef }>(body);
      c.register(node, r?.features, r?.applied);
      return sendJson(res, 200, { desired: await desiredDoc(c, node) });
    }
    if (what === 'status' && m === 'POST') {
      const r = parseJson<AgentReport>(body);
      if (!r) return sendJson(res, 400, { error: 'status body must be JSON' });
      c.report(node, r);
      return sendJson(res, 200, { ok: true });
    }
    if (what === 'desired' && m === 'GET') return longPoll(c, node, url, req, res);
  }
  sendJson(res, 404, { error: `no route ${m} ${p}` });
}

async function desiredDoc(c: Controller, node: string): Promise<(BundleRef & { manifest: string; signature: string }) | null> {
  return (await c.nodeDesired(node)) ?? null;
}

/** Answers as soon as the node's desired digest differs from `current`, or 204 after `waitMs`. */
async function longPoll(c: Controller, node: string, url: URL, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  const current = url.searchParams.get('current') ?? '';
  const waitMs = Math.min(Number(url.searchParams.get('waitMs') ?? 25_000) || 0, 60_000);
  c.touch(node);
  const differs = () => {
    const d = c.desiredFor(node);
    return d !== undefined && d.digest !== current;
  };
  if (!differs() && waitMs > 0) {
    await new Promise<void>((resolve) => {
      const t = setTimeout(finish, waitMs);
      function onChange(): void {
        if (differs()) finish();
      }
      function finish(): void {
        clearTimeout(t);
        c.off('change', onChange);
        res.off('close', finish);
        resolve();
      }
      c.on('change', onChange);
      // res 'close' fires when the client goes away; req 'close' fires once the body is read.
      res.on('close', finish);
    });
  }
  c.touch(node);
  if (res.destroyed) return;
  if (!differs()) return void res.writeHead(204).end();
  sendJson(res, 200, await desiredDoc(c, node));
}

/** Blob deltas by base>target/record (null: the whole blob is as small); immutable like the blobs. */
const deltas = new Map<string, Buffer | null>();

// Content is immutable by digest, so its gzip form is computed once and served to every agent.
const gzipped = new Map<string, Buffer>();

function sendContent(req: IncomingMessage, res: ServerResponse, digest: string, bytes: Buffer, type: string): void {
  const headers: Record<string, string | number> = { 'content-type': type, 'cache-control': 'public, max-age=31536000, immutable', etag: `"${digest}"` };
  if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')) && bytes.length > 256) {
    let gz = gzipped.get(digest);
    if (!gz) {
      if (gzipped.size > 4096) gzipped.clear();
      gz = gzipSync(bytes, { level: 6 });
      gzipped.set(digest, gz);
    }
    if (gz.length < bytes.length) return void res.writeHead(200, { ...headers, 'content-encoding': 'gzip', 'content-length': gz.length }).end(gz);
  }
  res.writeHead(200, { ...headers, 'content-length': bytes.length }).end(bytes);
}
