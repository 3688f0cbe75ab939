// Runtime events out of the agent without a kernel: the export file's rotation and limits, the encoder
// feeding file and followers, and `weir events` following an agent's /v1/events with filters.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runtimeLayouts } from '../../bpf/abi/runtime.js';
import type { HookTableEntry } from '../../compiler/lower/runtime/hooks.js';
import { ExportFile } from '../../controller/events/export-file.js';
import { matchesFilter } from '../../controller/events/filter.js';
import { RuntimeEventExport } from '../../controller/agent/events-export.js';
import { serveAgent } from '../../controller/agent/server.js';
import type { Agent } from '../../controller/agent/agent.js';
import { eventsCommand } from '../../cli/events.js';

const dir = mkdtempSync(path.join(tmpdir(), 'weir-events-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('export file', () => {
  it('rotates before a line would pass the size limit, names backups as Tetragon does, keeps max backups', () => {
    const file = path.join(dir, 'tetragon.log');
    let t = Date.parse('2026-01-02T03:04:05.006Z');
    const f = new ExportFile(file, { maxBytes: 100, maxBackups: 2, now: () => new Date((t += 1000)) });
    const line = (i: number) => `${JSON.stringify({ i, pad: 'x'.repeat(30) })}\n`; // 48 bytes
    for (let i = 0; i < 9; i++) f.write(line(i));
    f.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const names = readdirSync(dir)
      .filter((n) => n.startsWith('tetragon'))
      .sort();
    expect(names).toEqual(['tetragon-2026-01-02T03-04-08.006.log', 'tetragon-2026-01-02T03-04-09.006.log', 'tetragon.log']);
    // Two lines per file, never split; the oldest two rotations were deleted.
    expect(readFileSync(path.join(dir, names[0]!), 'utf8')).toBe(line(4) + line(5));
    expect(readFileSync(path.join(dir, names[1]!), 'utf8')).toBe(line(6) + line(7));
    expect(readFileSync(file, 'utf8')).toBe(line(8));
  });
});

const offsets = <F extends string>(s: { fields: Record<F, { offset: number }> }) =>
  Object.fromEntries(Object.entries<{ offset: number }>(s.fields).map(([k, v]) => [k, v.offset])) as Record<F, number>;
const H = offsets(runtimeLayouts.wrt_event_hdr);
const call = (pid: number, hookId: number) => {
  const b = Buffer.alloc(runtimeLayouts.wrt_event_call.size);
  b[H.kind] = 3;
  b[H.action] = 3;
  b[H.flags] = 4;
  b.writeUInt32LE(hookId, H.hook_id);
  b.writeInt32LE(257, H.syscall_nr);
  b.writeUInt32LE(pid, H.pid);
  b.writeUInt32LE(pid, H.tid);
  b.writeUInt32LE(4, H.binary_len);
  b.write('/bin', H.binary);
  return b;
};
const table: HookTableEntry[] = [
  {
    hookId: 0,
    policy: 'kill-in-pod',
    namespace: 'shop',
    call: 'sys_openat',
    attach: 'syscalls/sys_enter_openat',
    eventKind: 'process_kprobe',
    file: 'p.yaml',
    line: 1,
    column: 1,
    tags: [],
    args: [],
  },
  {
    hookId: 1,
    policy: 'other',
    call: 'sys_openat',
    attach: 'syscalls/sys_enter_openat',
    eventKind: 'process_kprobe',
    file: 'q.yaml',
    line: 1,
    column: 1,
    tags: [],
    args: [],
  },
];
const pods = (pid: number) =>
  pid < 100 ? { namespace: 'shop', name: 'web-1' } : pid < 200 ? { namespace: 'bank', name: 'vault' } : undefined;

describe('agent event export', () => {
  it('writes every event to the export file and each follower what its filter passes', () => {
    const file = path.join(dir, 'agent.log');
    const x = new RuntimeEventExport({ node: 'n1', file: new ExportFile(file), podOf: pods, procfs: false });
    let onRecord: ((b: Buffer) => void) | undefined;
    x.attach({ events: (cb) => ((onRecord = cb), { consume: () => 0, close: () => undefined }) }, table);
    const shop: string[] = [];
    const other: string[] = [];
    x.follow({ namespaces: ['shop'] }, (l) => shop.push(l));
    x.follow({ policies: ['other'], types: ['PROCESS_KPROBE'] }, (l) => other.push(l));
    onRecord!(call(10, 0));
    onRecord!(call(150, 1));
    onRecord!(call(300, 0));
    x.close();
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { process_kprobe: { policy_name: string; process: { pod?: { name: string } } } });
    expect(lines.map((l) => [l.process_kprobe.policy_name, l.process_kprobe.process.pod?.name ?? null])).toEqual([
      ['kill-in-pod', 'web-1'],
      ['other', 'vault'],
      ['kill-in-pod', null],
    ]);
    expect(shop.map((l) => JSON.parse(l).process_kprobe.process.pid)).toEqual([10]);
    expect(other.map((l) => JSON.parse(l).process_kprobe.process.pid)).toEqual([150]);
  });

  it('filters match pods by name or namespace/name', () => {
    const o = { process_exec: { process: { pod: { namespace: 'shop', name: 'web-1' } } } };
    expect(matchesFilter(o, { pods: ['shop/web-1'] })).toBe(true);
    expect(matchesFilter(o, { pods: ['web-1'] })).toBe(true);
    expect(matchesFilter(o, { pods: ['bank/web-1'] })).toBe(false);
    expect(matchesFilter(o, { types: ['process_exit'] })).toBe(false);
  });

  it("weir events follows an agent's /v1/events with filters, -o json and -o compact", async () => {
    const x = new RuntimeEventExport({ node: 'n1', podOf: pods, procfs: false });
    let onRecord: ((b: Buffer) => void) | undefined;
    x.attach({ events: (cb) => ((onRecord = cb), { consume: () => 0, close: () => undefined }) }, table);
    const fakeAgent = { opts: { node: 'n1', datapath: { kind: 'kernel' } }, applied: undefined, lastError: undefined } as unknown as Agent;
    const server = await serveAgent(fakeAgent, '127.0.0.1', 0, { insecureLoopback: true }, x);
    try {
      const run = async (args: string[]) => {
        const out: string[] = [];
        const done = eventsCommand.run(['--agent', server.url, '--insecure-loopback', ...args], {
          stdout: (s) => out.push(s),
          stderr: (s) => out.push(`ERR ${s}`),
          cwd: dir,
          env: {},
          isTTY: false,
        });
        return { out, done };
      };
      const json = await run(['--namespace', 'shop']);
      const compact = await run(['-o', 'compact', '--policy', 'other']);
      await new Promise((r) => setTimeout(r, 300)); // both followers connected
      onRecord!(call(10, 0));
      onRecord!(call(150, 1));
      await new Promise((r) => setTimeout(r, 200));
      x.close(); // the agent stops: streams end, weir events exits
      expect(await json.done).toBe(0);
      expect(await compact.done).toBe(0);
      expect(json.out.map((l) => JSON.parse(l).process_kprobe.process.pid)).toEqual([10]);
      expect(compact.out).toEqual(['☠️  killed bank/vault /bin __x64_sys_openat  [other]\n']);
    } finally {
      await server.close();
    }
  });

  it('refuses a datapath without runtime events and bad flags', async () => {
    const fakeAgent = { opts: { node: 'n1', datapath: { kind: 'emulator' } } } as unknown as Agent;
    const server = await serveAgent(fakeAgent, '127.0.0.1', 0, { insecureLoopback: true });
    try {
      const out: string[] = [];
      const code = await eventsCommand.run(['--agent', server.url, '--insecure-loopback'], {
        stdout: (s) => out.push(s),
        stderr: (s) => out.push(s),
        cwd: dir,
        env: {},
        isTTY: false,
      });
      expect(code).toBe(2);
      expect(out.join('')).toContain('HTTP 404 {"error":"the emulator datapath has no runtime events"}');
    } finally {
      await server.close();
    }
    await expect(
      eventsCommand.run(['--agent', 'http://127.0.0.1:1', '--insecure-loopback', '--event-types', 'process_bogus'], {
        stdout: () => undefined,
        stderr: () => undefined,
        cwd: dir,
        env: {},
        isTTY: false,
      }),
    ).rejects.toThrow('--event-types: process_bogus is not one of');
  });
});
