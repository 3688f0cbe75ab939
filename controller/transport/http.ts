// Transport between agents and the controller: HTTPS with mutual TLS, or a bearer token over
// TLS; plain HTTP only when bound to loopback and explicitly allowed (tests, the demo).
// The server side is built to stay up under hostile clients: connections are bounded per client
// and in total, every phase of a request has a deadline, credentials are checked before a byte of
// the body is read, and each route has its own body cap.
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import type * as tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface TlsFiles {
  /** Certificate and key: required to serve; optional for a client (then no client certificate is presented). */
  cert?: string;
  key?: string;
  /** CA that signs the peer's certificate; on a server it turns on client-certificate checks (mTLS). */
  ca?: string;
}

export interface ServerLimits {
  /** Open connections in total; more are closed as they arrive. */
  maxConnections: number;
  /** Open connections from one client address. */
  maxConnectionsPerClient: number;
  /** From connect (or TLS handshake) to the end of the request headers. */
  headersTimeoutMs: number;
  /** From connect to the end of the request body. */
  requestTimeoutMs: number;
  /** A connection with no traffic for this long is closed (long-polls answer well within it). */
  idleTimeoutMs: number;
  /** A kept-alive connection between requests. */
  keepAliveTimeoutMs: number;
}

export const defaultServerLimits: ServerLimits = {
  maxConnections: 4096,
  maxConnectionsPerClient: 256,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 90_000,
  keepAliveTimeoutMs: 30_000,
};

export interface TransportOptions {
  tls?: TlsFiles;
  /** Client: the bearer token to present. Server: the operator token (status, webhook). */
  token?: string;
  /** Server: per-node bearer tokens, node name → token; a request with one acts as that node only. */
  nodeTokens?: ReadonlyMap<string, string>;
  /** Server: HMAC-SHA256 secret of Git host webhooks (X-Hub-Signature-256). */
  webhookSecret?: string;
  /** Allows plain HTTP; refused unless the address is loopback. */
  insecureLoopback?: boolean;
  limits?: Partial<ServerLimits>;
}

/** A literal loopback address (127.0.0.0/8, ::1, ::ffff:127.x) or `localhost`; never a name that merely starts with 127. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (net.isIPv6(h)) {
    if (h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
    const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return m !== null && m[1]!.startsWith('127.');
  }
  return false;
}

export class TransportError extends Error {}

/** Validates the combination before anything listens or connects. */
export function checkTransport(host: string, opts: TransportOptions): void {
  if (!opts.tls) {
    if (!opts.insecureLoopback)
      throw new TransportError(
        `no TLS configured: pass --tls-cert/--tls-key (and --tls-ca for mutual TLS), or --insecure-loopback to use plain HTTP on loopback`,
      );
    if (!isLoopback(host)) throw new TransportError(`plain HTTP is only allowed on loopback, not on ${host}; configure TLS`);
  }
}

/** A server that hands out anything but health and metrics must authenticate its clients, on any address. */
export function checkServerAuth(opts: TransportOptions): void {
  const mtls = opts.tls?.ca !== undefined;
  const tokens = opts.token !== undefined || (opts.nodeTokens?.size ?? 0) > 0;
  if (!mtls && !tokens)
    throw new TransportError(
      'no authentication method: pass --tls-ca (agents present certificates signed by that CA) or --token-file/--node-tokens (bearer tokens); the controller does not serve unauthenticated clients, on loopback either',
    );
}

/** Who sent a request, from its credential. */
export interface Principal {
  /** How it authenticated. */
  via: 'token' | 'node-token' | 'certificate' | 'webhook-signature';
  /** May read status and ring the webhook. */
  operator: boolean;
  /** Node names the credential speaks for (certificate CN/SAN, or the node of a per-node token). */
  nodes: readonly string[];
}

export type Handler = (
  req: http.IncomingMessage,
  res: http.ServerResponse,
  body: Buffer,
  principal: Principal | undefined,
) => Promise<void> | void;

export interface Route {
  /** No credential needed (health, metrics). */
  open?: boolean;
  /** Largest body accepted, in bytes (0: none). */
  maxBody: number;
  /** The body is not kept: it is read only to check a webhook signature, then dropped. */
  discardBody?: boolean;
  /** A valid X-Hub-Signature-256 over the body authenticates this route. */
  webhook?: boolean;
}

export interface ServeOptions {
  /** What a path accepts; default: authenticated, no body over 1 MiB. */
  route?: (method: string, path: string) => Route;
  /** Called when a connection is refused or a request is cut (for logs and metrics). */
  onReject?: (
    reason: 'connections' | 'client-connections' | 'unauthenticated' | 'body-too-large' | 'timeout' | 'socket-error',
    client: string,
  ) => void;
}

export interface Listening {
  server: http.Server;
  url: string;
  close(): Promise<void>;
}

const bearer = (req: http.IncomingMessage): Buffer | undefined => {
  const m = /^Bearer (\S+)$/.exec(req.headers['authorization'] ?? '');
  return m ? Buffer.from(m[1]!) : undefined;
};

const tokenHash = (t: Buffer | string) => createHash('sha256').update(t).digest();

/** Names a client certificate speaks for: its DNS SANs and CN (`system:node:NAME` as Kubernetes node certificates spell it). */
export function certificateNames(cert: tls.PeerCertificate | undefined): string[] {
  if (!cert || Object.keys(cert).length === 0) return [];
  const names = new Set<string>();
  const cn = cert.subject?.CN;
  for (const c of Array.isArray(cn) ? cn : cn ? [cn] : []) names.add(c.startsWith('system:node:') ? c.slice('system:node:'.length) : c);
  for (const part of (cert.subjectaltname ?? '').split(/,\s*/)) if (part.startsWith('DNS:')) names.add(part.slice(4));
  return [...names];
}

/** A Kubernetes node's client certificate: CN `system:node:NAME` or organisation `system:nodes`. */
export function isNodeCertificate(cert: tls.PeerCertificate): boolean {
  const list = (v: string | string[] | undefined) => (Array.isArray(v) ? v : v ? [v] : []);
  return list(cert.subject?.CN).some((c) => c.startsWith('system:node:')) || list(cert.subject?.O).includes('system:nodes');
}

/** Serves `handler`; `serve` says per path whether it is open and how large a body it takes. */
export async function listen(
  host: string,
  port: number,
  opts: TransportOptions,
  handler: Handler,
  serve: ((path: string) => boolean) | ServeOptions = () => false,
): Promise<Listening> {
  checkTransport(host, opts);
  const so: ServeOptions = typeof serve === 'function' ? { route: (_m, p) => ({ open: serve(p), maxBody: 1 << 20 }) } : serve;
  const routeOf = so.route ?? ((): Route => ({ maxBody: 1 << 20 }));
  const limits: ServerLimits = { ...defaultServerLimits, ...opts.limits };
  const reject = (reason: Parameters<NonNullable<ServeOptions['onReject']>>[0], client: string) => so.onReject?.(reason, client);
  // Token comparison by hash: equal-length digests compared in constant time, one map probe per request.
  const operatorHash = opts.token !== undefined ? tokenHash(opts.token) : undefined;
  const nodeByToken = new Map<string, string>();
  for (const [node, t] of opts.nodeTokens ?? []) nodeByToken.set(tokenHash(t).toString('hex'), node);

  // A server with no authentication method at all (the agent's local endpoint, test fakes) checks nothing; the controller refuses that configuration (checkServerAuth).
  const authConfigured =
    operatorHash !== undefined || nodeByToken.size > 0 || opts.tls?.ca !== undefined || opts.webhookSecret !== undefined;

  const principalOf = (req: http.IncomingMessage): Principal | undefined => {
    const t = bearer(req);
    if (t) {
      const h = tokenHash(t);
      if (operatorHash && timingSafeEqual(h, operatorHash)) return { via: 'token', operator: true, nodes: [] };
      const node = nodeByToken.get(h.toString('hex'));
      if (node !== undefined) return { via: 'node-token', operator: false, nodes: [node] };
    }
    const sock = req.socket as tls.TLSSocket;
    // `authorized` alone is not enough: a resumed TLS session without a client certificate reports it true.
    const cert = opts.tls?.ca !== undefined && sock.authorized === true ? sock.getPeerCertificate() : undefined;
    if (cert && cert.raw !== undefined && Object.keys(cert).length > 0)
      // A node's kubelet certificate (the cluster CA signs one for every node) speaks for its node only.
      return { via: 'certificate', operator: !isNodeCertificate(cert), nodes: certificateNames(cert) };
    return undefined;
  };

  const refuse = (req: http.IncomingMessage, res: http.ServerResponse, status: number, error: string) => {
    const body = JSON.stringify({ error });
    // The rest of the request is never read: the connection goes once the answer is out.
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(body, () => req.socket.destroy());
  };

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    req.socket.setTimeout(limits.idleTimeoutMs);
    const client = req.socket.remoteAddress ?? '?';
    const p = (req.url ?? '/').split('?')[0]!;
    const declaredRoute = routeOf(req.method ?? 'GET', p);
    const route = authConfigured ? declaredRoute : { ...declaredRoute, open: true };
    let principal = route.open ? undefined : principalOf(req);
    const hmac =
      !route.open && !principal && route.webhook && opts.webhookSecret !== undefined ? createHmac('sha256', opts.webhookSecret) : undefined;
    if (!route.open && !principal && !hmac) {
      reject('unauthenticated', client);
      return refuse(req, res, 401, 'unauthenticated: present the bearer token or a client certificate signed by the configured CA');
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (!(declared <= route.maxBody)) {
      reject('body-too-large', client);
      return refuse(req, res, 413, `request body over ${route.maxBody} bytes for ${p}`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let cut = false;
    req.on('data', (c: Buffer) => {
      if (cut) return;
      size += c.length;
      if (size > route.maxBody) {
        cut = true;
        reject('body-too-large', client);
        return refuse(req, res, 413, `request body over ${route.maxBody} bytes for ${p}`);
      }
      if (hmac) hmac.update(c);
      if (!route.discardBody) chunks.push(c);
    });
    req.on('error', () => reject('socket-error', client));
    req.on('end', () => {
      if (cut) return;
      if (hmac) {
        const sig = /^sha256=([0-9a-f]{64})$/.exec(String(req.headers['x-hub-signature-256'] ?? ''));
        const mac = hmac.digest();
        if (!sig || !timingSafeEqual(Buffer.from(sig[1]!, 'hex'), mac)) {
          reject('unauthenticated', client);
          return refuse(req, res, 401, 'unauthenticated: the webhook signature (X-Hub-Signature-256) does not match the configured secret');
        }
        principal = { via: 'webhook-signature', operator: false, nodes: [] };
      }
      Promise.resolve(handler(req, res, Buffer.concat(chunks), principal)).catch((err: unknown) => {
        if (res.destroyed) return;
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: (err as Error).message }));
      });
    });
  };

  const serverOptions: http.ServerOptions = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, limits.headersTimeoutMs / 4)),
  };
  let server: http.Server;
  if (opts.tls) {
    if (!opts.tls.cert || !opts.tls.key) throw new TransportError('serving TLS needs --tls-cert and --tls-key');
    server = https.createServer(
      {
        ...serverOptions,
        cert: readFileSync(opts.tls.cert),
        key: readFileSync(opts.tls.key),
        handshakeTimeout: limits.headersTimeoutMs,
        ...(opts.tls.ca
          ? {
              ca: readFileSync(opts.tls.ca),
              requestCert: true,
              rejectUnauthorized: opts.token === undefined && (opts.nodeTokens?.size ?? 0) === 0,
            }
          : {}),
      },
      onRequest,
    );
    server.on('secureConnection', (s: tls.TLSSocket) => {
      s.setTimeout(limits.headersTimeoutMs);
      s.on('timeout', () => s.destroy());
      s.on('error', () => undefined);
    });
    server.on('tlsClientError', (_e, s) => s.destroy());
  } else {
    server = http.createServer(serverOptions, onRequest);
  }
  server.maxConnections = limits.maxConnections;
  const perClient = new Map<string, number>();
  server.on('connection', (sock: net.Socket) => {
    const client = sock.remoteAddress ?? '?';
    const n = (perClient.get(client) ?? 0) + 1;
    perClient.set(client, n);
    sock.once('close', () => {
      const left = (perClient.get(client) ?? 1) - 1;
      if (left <= 0) perClient.delete(client);
      else perClient.set(client, left);
    });
    // A socket error (reset, EMFILE on a read) ends that connection only.
    sock.on('error', () => reject('socket-error', client));
    if (n > limits.maxConnectionsPerClient) {
      reject('client-connections', client);
      sock.destroy();
      return;
    }
    // Until a request arrives the connection gets the header deadline; after, the idle timeout.
    sock.setTimeout(limits.headersTimeoutMs);
    sock.on('timeout', () => {
      reject('timeout', client);
      sock.destroy();
    });
  });
  server.on('drop', (d?: { remoteAddress?: string }) => reject('connections', d?.remoteAddress ?? '?'));
  server.on('clientError', (_err, sock) => {
    if (!sock.destroyed) sock.destroy();
  });
  await new Promise<void>((resolve, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(port, host, () => {
      server.off('error', rejectListen);
      resolve();
    });
  });
  // After listening, an accept error (EMFILE, ENFILE, ENOMEM) is logged by the caller's onReject; it never ends the process.
  server.on('error', () => reject('socket-error', '-'));
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
  headers: http.IncomingHttpHeaders;
}

/** A small HTTP(S) client with keep-alive, TLS client certificates and a bearer token. */
export class Client {
  private readonly agent: http.Agent;
  private readonly base: URL;
  /** Bytes received in response bodies as they crossed the wire (compressed), for the bench's transfer figures. */
  bytesReceived = 0;

  constructor(
    baseUrl: string,
    private readonly opts: TransportOptions & { tlsServerName?: string },
  ) {
    this.base = new URL(baseUrl);
    checkTransport(this.base.hostname, { ...opts, ...(this.base.protocol === 'https:' && !opts.tls ? { tls: {} } : {}) });
    this.agent =
      this.base.protocol === 'https:'
        ? new https.Agent({
            keepAlive: true,
            ...(opts.tls?.ca ? { ca: readFileSync(opts.tls.ca) } : {}),
            ...(opts.tls?.cert && opts.tls.key ? { cert: readFileSync(opts.tls.cert), key: readFileSync(opts.tls.key) } : {}),
            ...(opts.tlsServerName ? { servername: opts.tlsServerName } : {}),
          })
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
          headers: {
            'accept-encoding': 'gzip',
            ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}),
            ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}),
          },
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
              resolve({
                status: res.statusCode ?? 0,
                body,
                wireBytes: wire.length,
                headers: res.headers,
                ...(contentType ? { contentType } : {}),
              });
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
      const req = mod.request(
        url,
        {
          method: 'GET',
          agent: this.agent,
          ...(signal ? { signal } : {}),
          headers: { ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}) },
        },
        (res) => {
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
        },
      );
      req.on('error', (err) => (signal?.aborted ? resolve({ status: 0 }) : reject(err)));
      req.end();
    });
  }

  async json<T>(
    method: string,
    path: string,
    body?: unknown,
    timeoutMs?: number,
    signal?: AbortSignal,
  ): Promise<{ status: number; value: T | undefined }> {
    const r = await this.request(method, path, body, timeoutMs, signal);
    if (r.body.length === 0) return { status: r.status, value: undefined };
    return { status: r.status, value: JSON.parse(r.body.toString('utf8')) as T };
  }

  close(): void {
    this.agent.destroy();
  }
}
