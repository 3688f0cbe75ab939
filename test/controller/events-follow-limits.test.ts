// The agent's event streams are bounded: a reader that stops reading does not make the agent buffer
// without limit (its events are dropped and counted past maxBuffered unsent bytes, and it is told so
// when it reads again), and at most maxFollowers streams are open at once.
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { followLimits, serveAgent } from '../../controller/agent/server.js';
import type { RuntimeEventExport } from '../../controller/agent/events-export.js';
import { compactLine } from '../../controller/events/tetragon.js';

function fakeEvents() {
  const writers = new Set<(l: string) => void>();
  const events = {
    follow: (_f: unknown, w: (l: string) => void) => {
      writers.add(w);
      return () => void writers.delete(w);
    },
    get followers() {
      return writers.size;
    },
  };
  return { events: events as unknown as RuntimeEventExport, writers };
}
const agent = { opts: { datapath: { kind: 'kernel' }, node: 'n1' }, registry: {} } as never;
const saved = { ...followLimits };
afterEach(() => Object.assign(followLimits, saved));

function open(port: number): Promise<net.Socket> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1', () => {
      sock.write('GET /v1/events HTTP/1.1\r\nHost: agent\r\n\r\n');
      resolve(sock);
    });
  });
}

describe('agent event streams', () => {
  it('a reader that does not read gets its events dropped past the buffer bound, and is told how many', async () => {
    const { events, writers } = fakeEvents();
    const s = await serveAgent(agent, '127.0.0.1', 0, {}, events);
    try {
      const sock = await open(Number(new URL(s.url).port));
      sock.pause();
      await new Promise((r) => setTimeout(r, 200));
      expect(writers.size).toBe(1);
      const w = [...writers][0]!;
      const line = `${JSON.stringify({ process_kprobe: { x: 'a'.repeat(2000) } })}\n`;
      const rss0 = process.memoryUsage().rss;
      for (let i = 0; i < 100_000; i++) w(line); // 200 MB of events offered
      await new Promise((r) => setTimeout(r, 200));
      // What stays buffered is bounded by maxBuffered (plus what the kernel's socket buffers hold).
      expect(process.memoryUsage().rss - rss0).toBeLessThan(64 * 2 ** 20);
      // Reading again: the next event comes after a line that counts the dropped ones.
      const got: Buffer[] = [];
      sock.on('data', (d: Buffer) => got.push(d));
      sock.resume();
      await new Promise((r) => setTimeout(r, 300));
      w('{"process_exec":{"after":true}}\n');
      await new Promise((r) => setTimeout(r, 200));
      // (The stream is chunked HTTP/1.1: each write is its own chunk.)
      const text = Buffer.concat(got).toString('utf8');
      const counted = /\{"weir":\{"dropped_events":(\d+),"reason":"the reader fell behind"\},"node_name":"n1"\}\n/.exec(text);
      expect(counted).not.toBeNull();
      expect(Number(counted![1])).toBeGreaterThan(90_000);
      expect(text.indexOf('{"process_exec":{"after":true}}')).toBeGreaterThan(counted!.index);
      // weir events -o compact says it in one line.
      expect(compactLine(JSON.parse(counted![0]) as Record<string, unknown>)).toBe(
        `⚠️  dropped ${counted![1]} events (the reader fell behind)`,
      );
      sock.destroy();
    } finally {
      await s.close();
    }
  });

  it('refuses a stream over the limit with 503', async () => {
    followLimits.maxFollowers = 2;
    const { events } = fakeEvents();
    const s = await serveAgent(agent, '127.0.0.1', 0, {}, events);
    const socks: net.Socket[] = [];
    try {
      const port = Number(new URL(s.url).port);
      for (let i = 0; i < 2; i++) socks.push(await open(port));
      await new Promise((r) => setTimeout(r, 200));
      const r = await fetch(`${s.url}/v1/events`);
      expect(r.status).toBe(503);
      expect(await r.text()).toMatch(/2 event streams are open on this agent/);
    } finally {
      for (const x of socks) x.destroy();
      await s.close();
    }
  });
});
