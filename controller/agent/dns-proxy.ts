// The agent's DNS proxy (UDP): forwards lookups to the upstream resolver, refuses names the DNS
// rules do not allow, and teaches the datapath the answered addresses (A and AAAA) of FQDN selectors.
import * as dgram from 'node:dgram';
import type { Logger } from 'pino';
import { parseDns, refusedReply, TYPE_A, TYPE_AAAA } from './dns.js';
import { FqdnPolicy, type LearnedAddress } from './fqdn.js';

export interface FqdnSink {
  /** Maps `ip` to `identity` until `ttlSeconds` pass. */
  learnFqdn(ip: string, identity: number, ttlSeconds: number): void;
}

export interface DnsProxyOptions {
  listen: { host: string; port: number };
  upstream: { host: string; port: number };
  /** The tables of the bundle in force (fqdn_selectors, l7_rules), read per query. */
  tables: () => ReadonlyMap<string, unknown> | undefined;
  sink: FqdnSink;
  logger: Logger;
  /** Floor for learned TTLs (Cilium's --tofqdns-min-ttl); default 0: the answer's TTL. */
  minTtlSeconds?: number;
  onLearn?: (l: LearnedAddress) => void;
}

export class DnsProxy {
  private socket: dgram.Socket | undefined;
  readonly learned: LearnedAddress[] = [];
  refused = 0;

  constructor(private readonly opts: DnsProxyOptions) {}

  async start(): Promise<{ host: string; port: number }> {
    const s = dgram.createSocket(opts4(this.opts.listen.host));
    this.socket = s;
    s.on(
      'message',
      (msg, rinfo) =>
        void this.handle(msg, rinfo).catch((err: unknown) =>
          this.opts.logger.warn({ error: (err as Error).message }, 'dns proxy: bad message'),
        ),
    );
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(this.opts.listen.port, this.opts.listen.host, () => resolve());
    });
    const a = s.address();
    return { host: a.address, port: a.port };
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => (this.socket ? this.socket.close(() => r()) : r()));
  }

  private async handle(query: Buffer, rinfo: dgram.RemoteInfo): Promise<void> {
    const q = parseDns(query);
    const policy = new FqdnPolicy(this.opts.tables());
    const name = q.questions[0]?.name ?? '';
    if (policy.proxied && !policy.allows(name)) {
      this.refused++;
      this.socket!.send(refusedReply(query), rinfo.port, rinfo.address);
      return;
    }
    const answer = await this.forward(query);
    if (policy.proxied) {
      const r = parseDns(answer);
      for (const a of r.answers) {
        if ((a.type !== TYPE_A && a.type !== TYPE_AAAA) || !a.data) continue; // IPv4 and IPv6 answers alike
        // A CNAME chain answers for the question's name: match the name the client asked for too.
        const selectors = new Map([...policy.match(a.name), ...policy.match(name)].map((x) => [x.identity, x]));
        for (const sel of selectors.values()) {
          const ttl = Math.max(a.ttl, this.opts.minTtlSeconds ?? 0);
          this.opts.sink.learnFqdn(a.data, sel.identity, ttl);
          const l = { ip: a.data, identity: sel.identity, selector: sel.selector, name, expiresAt: Date.now() + ttl * 1000 };
          this.learned.push(l);
          this.opts.onLearn?.(l);
        }
      }
    }
    this.socket!.send(answer, rinfo.port, rinfo.address);
  }

  private forward(query: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const up = dgram.createSocket(opts4(this.opts.upstream.host));
      const t = setTimeout(() => {
        up.close();
        reject(new Error(`upstream ${this.opts.upstream.host}:${this.opts.upstream.port} did not answer within 2 s`));
      }, 2000);
      up.once('message', (m) => {
        clearTimeout(t);
        up.close();
        resolve(m);
      });
      up.send(query, this.opts.upstream.port, this.opts.upstream.host);
    });
  }
}

function opts4(host: string): dgram.SocketType {
  return host.includes(':') ? 'udp6' : 'udp4';
}
