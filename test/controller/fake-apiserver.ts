// A small fake Kubernetes API server with real list/watch semantics: a global resourceVersion,
// lists that carry it, watches that stream events after a given version as JSON lines, and
// 410 Gone (an ERROR event with a Status) for a version older than the compaction point.
// Enough for client-node's informers and custom-object calls; nothing else.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

interface Obj {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    generation?: number;
    uid?: string;
    labels?: Record<string, string>;
  };
  [k: string]: unknown;
}

interface Event {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: Obj;
}

/** A collection is identified by its cluster-wide list path, e.g. /api/v1/pods. */
interface Collection {
  listKind: string;
  objects: Map<string, Obj>;
  events: Event[];
  watchers: Set<{ res: http.ServerResponse; from: number }>;
}

export class FakeApiServer {
  private rv = 100;
  private compactedRv = 0;
  private readonly collections = new Map<string, Collection>();
  private server: http.Server | undefined;
  url = '';
  /** How many watches were answered 410 Gone. */
  goneServed = 0;
  /** Requests seen, for assertions (method path?query). */
  readonly log: string[] = [];

  collection(listPath: string, listKind: string): void {
    if (!this.collections.has(listPath)) this.collections.set(listPath, { listKind, objects: new Map(), events: [], watchers: new Set() });
  }

  private key(o: Obj): string {
    return `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  }

  private emit(c: Collection, type: Event['type'], object: Obj): void {
    const ev: Event = { rv: this.rv, type, object };
    c.events.push(ev);
    for (const w of c.watchers) if (ev.rv > w.from) w.res.write(JSON.stringify({ type, object }) + '\n');
  }

  /** Creates or updates an object (bumping resourceVersion, and generation when spec changes). */
  apply(listPath: string, obj: Obj): Obj {
    const c = this.collections.get(listPath);
    if (!c) throw new Error(`no collection ${listPath}`);
    const prev = c.objects.get(this.key(obj));
    this.rv++;
    const specChanged = !prev || JSON.stringify(prev['spec']) !== JSON.stringify(obj['spec']);
    const stored: Obj = {
      ...obj,
      metadata: {
        ...obj.metadata,
        resourceVersion: String(this.rv),
        uid: prev?.metadata.uid ?? `uid-${this.rv}`,
        generation: (prev?.metadata.generation ?? 0) + (specChanged ? 1 : 0),
      },
    };
    c.objects.set(this.key(obj), stored);
    this.emit(c, prev ? 'MODIFIED' : 'ADDED', stored);
    return stored;
  }

  get(listPath: string, namespace: string | undefined, name: string): Obj | undefined {
    return this.collections.get(listPath)?.objects.get(`${namespace ?? ''}/${name}`);
  }

  /** Forgets history up to now and drops every open watch: re-watching from an old version gets 410. */
  compact(): void {
    this.compactedRv = this.rv;
    for (const c of this.collections.values()) {
      c.events = [];
      for (const w of c.watchers) w.res.end();
      c.watchers.clear();
    }
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const c of this.collections.values()) for (const w of c.watchers) w.res.end();
    await new Promise<void>((r) => {
      this.server?.close(() => r());
      this.server?.closeAllConnections();
    });
  }

  private status(res: http.ServerResponse, code: number, message: string): void {
    res.writeHead(code, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        code,
        message,
        reason: code === 404 ? 'NotFound' : code === 409 ? 'Conflict' : 'Invalid',
      }),
    );
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    this.log.push(`${req.method} ${url.pathname}${url.search}`);
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const p = url.pathname;
      const list = this.collections.get(p);
      if (list && req.method === 'GET') {
        if (url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1') {
          const from = Number(url.searchParams.get('resourceVersion') ?? 0);
          res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
          res.flushHeaders(); // a watch answers at once, then streams
          if (from < this.compactedRv) {
            this.goneServed++;
            res.end(
              JSON.stringify({
                type: 'ERROR',
                object: {
                  kind: 'Status',
                  apiVersion: 'v1',
                  status: 'Failure',
                  reason: 'Expired',
                  code: 410,
                  message: `too old resource version: ${from} (${this.compactedRv})`,
                },
              }) + '\n',
            );
            return;
          }
          for (const ev of list.events) if (ev.rv > from) res.write(JSON.stringify({ type: ev.type, object: ev.object }) + '\n');
          const w = { res, from };
          list.watchers.add(w);
          res.on('close', () => list.watchers.delete(w));
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            apiVersion: 'v1',
            kind: list.listKind,
            metadata: { resourceVersion: String(this.rv) },
            items: [...list.objects.values()],
          }),
        );
        return;
      }
      // Namespaced custom objects: /apis/G/V/namespaces/NS/PLURAL[/NAME[/status]]
      const m = /^\/apis\/([^/]+)\/([^/]+)\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?(\/status)?$/.exec(p);
      if (m) {
        const listPath = `/apis/${m[1]}/${m[2]}/${m[4]}`;
        const c = this.collections.get(listPath);
        if (!c) return this.status(res, 404, `the server could not find the requested resource ${listPath}`);
        const ns = m[3]!;
        const name = m[5];
        if (req.method === 'POST' && !name) {
          const obj = JSON.parse(body) as Obj;
          if (c.objects.has(`${ns}/${obj.metadata.name}`)) return this.status(res, 409, 'already exists');
          const stored = this.apply(listPath, { ...obj, metadata: { ...obj.metadata, namespace: ns } });
          return void res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(stored));
        }
        const cur = name ? c.objects.get(`${ns}/${name}`) : undefined;
        if (!cur) return this.status(res, 404, `${m[4]} "${name}" not found`);
        if (req.method === 'GET') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(cur));
        if (req.method === 'PUT' && m[6]) {
          const obj = JSON.parse(body) as Obj;
          if (obj.metadata.resourceVersion !== cur.metadata.resourceVersion)
            return this.status(res, 409, 'the object has been modified; please apply your changes to the latest version and try again');
          // The status subresource changes status only.
          this.rv++;
          const stored: Obj = { ...cur, status: obj['status'], metadata: { ...cur.metadata, resourceVersion: String(this.rv) } };
          c.objects.set(`${ns}/${name}`, stored);
          this.emit(c, 'MODIFIED', stored);
          return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stored));
        }
      }
      this.status(res, 404, `the server could not find the requested resource (${req.method} ${p})`);
    });
  }
}
