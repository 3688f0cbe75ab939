// Transport between agents and the controller: HTTPS with mutual TLS, or a bearer token over
// TLS; plain HTTP only when bound to loopback and explicitly allowed (tests, the demo).
import * as http from 'node:http';
import * as https from 'node:https';
import { readFileSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface TlsFiles {
  cert: string;
  key: string;
  /** CA that signs the peer's certificate; on a server it turns on client-certificate checks (mTLS). */
  ca?: string;
}

export interface TransportOptions {
  tls?: TlsFiles;
  /** Bearer token shared by controller and agents (simple mode). */
  token?: string;
  /** Allows plain HTTP; refused unless the address is loopback. */
  insecureLoopback?: boolean;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

export class TransportError extends Error {}

/** Validates the combination before anything listens or connects. */
export function checkTransport(host: string, opts: TransportOptions): void {
  if (!opts.tls) {
    if (!opts.insecureLoopback) throw new TransportError(`no TLS configured: pass --tls-cert/--tls-key (and --tls-ca for mutual TLS), or --insecure-loopback to use plain HTTP on loopback`);
    if (!isLoopback(host)) throw new TransportError(`plain HTTP is only allowed on loopback, not on ${host}; configure TLS`);
  }
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => Promise<void> | void;

export interface Listening {
  server: http.Server;
  url: string;
  close(): Promise<void>;
}

function tokenOk(req: http.IncomingMessage, token: string): boolean {
  const h = req.headers['authorization'] ?? '';
  const m = /^Bearer (.+)$/.exec(h);
  if (!m) return false;
  const a = Buffer.from(m[1]!);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Serves `handler`; requests to paths in `open` skip authentication (health and metrics). */
export async function listen(host: string, port: number, opts: TransportOptions, handler: Handler, open: (path: string) => boolean = () => false): Promise<Listening> {
  checkTransport(host, opts);
  const wrapped = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 8 << 20) {
        res.writeHead(413).end();
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      const p = (req.url ?? '/').split('?')[0]!;
      if (!open(p)) {
        const peerCertOk = opts.tls?.ca !== undefined && (req.socket as import('node:tls').TLSSocket).authorized === true;
        if (opts.token !== undefined ? !tokenOk(req, opts.token) && !peerCertOk : opts.tls?.ca !== undefined && !peerCertOk) {
          res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'unauthenticated: present the bearer token or a client certificate signed by the configured CA' }));
          return;
        }
      }
      Promise.resolve(handler(req, res, Buffer.concat(chunks))).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: (err as Error).message }));
      });
    });
  };
  const server = opts.tls
    ? https.createServer({ cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key), ...(opts.tls.ca ? { ca: readFileSync(opts.tls.ca), requestCert: true, rejectUnauthorized: opts.token === undefined } : {}) }, wrapped)
    : http.createServer(wrapped);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `${opts.tls ? 'https' : 'http'}://${h}:${addr.port}`;
  return {
    server,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

export interface ClientResponse {
  status: number;
  /** The body, decompressed. */
  body: Buffer;
  /** Bytes as they crossed the wire. */
  wireBytes: number;
  contentType?: string;
}

/** A small HTTP(S) client with keep-alive, TLS client certificates and a bearer token. */
export class Client {
  private readonly agent: http.Agent;
  private readonly base: URL;
  /** Bytes received in response bodies as they crossed the wire (compressed), for the bench's transfer figures. */
  bytesReceived = 0;

  constructor(baseUrl: string, private readonly opts: TransportOptions & { tlsServerName?: string }) {
    this.base = new URL(baseUrl);
    checkTransport(this.base.hostname.replace(/^\[|\]$/g, ''), { ...opts, ...(this.base.protocol === 'https:' && !opts.tls ? { tls: { cert: '', key: '' } } : {}) });
    this.agent =
      this.base.protocol === 'https:'
        ? new https.Agent({ keepAlive: true, ...(opts.tls?.ca ? { ca: readFileSync(opts.tls.ca) } : {}), ...(opts.tls?.cert ? { cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) } : {}), ...(opts.tlsServerName ? { servername: opts.tlsServerName } : {}) })
        : new http.Agent({ keepAlive: true });
  }

  request(method: string, path: string, body?: unknown, timeoutMs = 30_000, signal?: AbortSignal): Promise<ClientResponse> {
    const url = new URL(path, this.base);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        url,
        {
          method,
          agent: this.agent,
          timeout: timeoutMs,
          ...(signal ? { signal } : {}),
          headers: { 'accept-encoding': 'gzip', ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}), ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const wire = Buffer.concat(chunks);
            this.bytesReceived += wire.length;
            try {
              const body = res.headers['content-encoding'] === 'gzip' ? gunzipSync(wire, { maxOutputLength: 256 << 20 }) : wire;
              const contentType = res.headers['content-type'];
              resolve({ status: res.statusCode ?? 0, body, wireBytes: wire.length, ...(contentType ? { contentType } : {}) });
            } catch (err) {
              reject(new Error(`${method} ${url.pathname}: bad gzip body (${(err as Error).message})`));
            }
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname}: no answer within ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** GET a streaming endpoint: `onLine` gets each line as it arrives; resolves when the server ends the stream. */
  stream(path: string, onLine: (line: string) => void, signal?: AbortSignal): Promise<{ status: number; error?: string }> {
    const url = new URL(path, this.base);
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method: 'GET', agent: this.agent, ...(signal ? { signal } : {}), headers: { ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}) } }, (res) => {
        let rest = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          rest += c;
          let i: number;
          while ((i = rest.indexOf('\n')) >= 0) {
            if (res.statusCode === 200) onLine(rest.slice(0, i));
            rest = rest.slice(i + 1);
          }
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, ...(res.statusCode !== 200 ? { error: rest.trim() } : {}) }));
        res.on('error', reject);
      });
      req.on('error', (err) => (signal?.aborted ? resolve({ status: 0 }) : reject(err)));
      req.end();
    });
  }

  async json<T>(method: string, path: string, body?: unknown, timeoutMs?: number, signal?: AbortSignal): Promise<{ status: number; value: T | undefined }> {
    const r = await this.request(method, path, body, timeoutMs, signal);
    if (r.body.length === 0) return { status: r.status, value: undefined };
    return { status: r.status, value: JSON.parse(r.body.toString('utf8')) as T };
  }

  close(): void {
    this.agent.destroy();
  }
}
