// Soak of the controller's front door on loopback, bounded in time (about a minute): 20,000
// connections opened in waves from many loopback source addresses and left idle, and 100
// unauthenticated 8 MiB bodies sent at once, against a `weir controller` process. It must stay up,
// keep answering an authenticated client, and stay under 200 MiB resident (peak, VmHWM).
// Peer: the same controller at rest before the flood.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateSigningKey, privateKeyPem } from '../../controller/bundle/sign.js';
import type { BenchReport } from './report.js';

const CONNECTIONS = 20_000;
const WAVE = 4_000;
const BODIES = 100;
const BODY_BYTES = 8 << 20;
const RSS_GOAL_MIB = 200;
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const rssMiB = (pid: number, field: 'VmRSS' | 'VmHWM') =>
  Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

export default async function soakBench(): Promise<BenchReport> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'weir-soak-'));
  const keyFile = path.join(dir, 'signing.pem');
  await fs.writeFile(keyFile, privateKeyPem(generateSigningKey()), { mode: 0o600 });
  const token = randomBytes(24).toString('hex');
  await fs.writeFile(path.join(dir, 'operator.token'), token, { mode: 0o600 });
  const repo = path.join(dir, 'repo');
  await fs.mkdir(repo);
  await new Promise<void>((resolve, reject) =>
    spawn('git', ['init', '-q', '-b', 'main', repo]).on('exit', (c) => (c === 0 ? resolve() : reject(new Error('git init failed')))),
  );
  const child = spawn(
    process.execPath,
    [
      path.join(root, 'bin/weir.js'),
      'controller',
      '--repo',
      repo,
      '--state-dir',
      path.join(dir, 'state'),
      '--listen',
      '127.0.0.1:0',
      '--poll',
      '0',
      '--key',
      keyFile,
      '--insecure-loopback',
      '--token-file',
      path.join(dir, 'operator.token'),
    ],
    { env: { ...process.env, WEIR_FROM_SOURCE: '1', WEIR_LOG_LEVEL: 'error' }, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const deadline = Date.now() + 120_000;
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(String((JSON.parse(out.split('\n')[0]!) as { url: string }).url));
      });
      child.on('exit', (code) => reject(new Error(`controller exited with ${code}`)));
    });
    const port = Number(new URL(url).port);
    const pid = child.pid!;
    const atRest = rssMiB(pid, 'VmRSS');
    const authed = async () => (await fetch(`${url}/v1/status`, { headers: { authorization: `Bearer ${token}` } })).status;

    // 1. Idle connections in waves from 64 source addresses; each wave stays open until the next starts.
    let opened = 0;
    let refused = 0;
    let alive = true;
    let open: net.Socket[] = [];
    for (let done = 0; done < CONNECTIONS && Date.now() < deadline; done += WAVE) {
      const wave = await Promise.all(
        Array.from(
          { length: Math.min(WAVE, CONNECTIONS - done) },
          (_, i) =>
            new Promise<net.Socket | undefined>((resolve) => {
              const s = net.connect({ port, host: '127.0.0.1', localAddress: `127.0.${10 + ((done + i) % 64)}.${1 + ((done + i) % 250)}` });
              s.once('connect', () => resolve(s));
              s.once('error', () => resolve(undefined));
              s.on('error', () => undefined);
              s.on('close', () => refused++);
            }),
        ),
      );
      for (const s of open) s.destroy();
      open = wave.filter((s): s is net.Socket => s !== undefined);
      opened += open.length;
      alive = alive && child.exitCode === null;
    }
    const answeredDuringIdleFlood = await authed();
    for (const s of open) s.destroy();

    // 2. Unauthenticated 8 MiB bodies, all at once.
    const body = Buffer.alloc(BODY_BYTES, 0x20);
    const statuses = await Promise.all(
      Array.from(
        { length: BODIES },
        (_, i) =>
          new Promise<number>((resolve) => {
            const s = net.connect({ port, host: '127.0.0.1', localAddress: `127.0.9.${1 + (i % 250)}` });
            let head = '';
            s.on('data', (d: Buffer) => (head += d.toString('latin1')));
            s.on('error', () => undefined);
            s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0)));
            s.on('connect', () => {
              s.write(
                `POST /v1/nodes/node-${i}/status HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${BODY_BYTES}\r\n\r\n`,
              );
              s.write(body);
              s.end();
            });
          }),
      ),
    );
    const peak = rssMiB(pid, 'VmHWM');
    const answeredAfter = await authed();
    alive = alive && child.exitCode === null;
    const ok = alive && answeredDuringIdleFlood === 200 && answeredAfter === 200;
    return {
      name: 'soak',
      setup: `weir controller process on loopback (load average ${os.loadavg()[0]!.toFixed(1)}, ${os.cpus().length} CPUs); ${CONNECTIONS.toLocaleString('en-US')} idle connections in waves of ${WAVE.toLocaleString('en-US')} from 8,000 loopback source addresses, then ${BODIES} unauthenticated ${BODY_BYTES >> 20} MiB bodies at once; ${opened.toLocaleString('en-US')} connections accepted, ${refused.toLocaleString('en-US')} closed by the server's limits or by the client; bodies answered ${[...new Set(statuses)].join('/')}; controller alive and serving: ${ok}`,
      figures: [
        {
          metric: 'controller peak RSS during the soak',
          value: peak,
          unit: 'MiB',
          peer: { name: 'same controller at rest', value: atRest },
          ratio: peak / atRest,
          goal: `< ${RSS_GOAL_MIB} MiB, alive, authenticated status 200`,
          met: ok && peak < RSS_GOAL_MIB,
        },
        { metric: 'unauthenticated 8 MiB bodies refused with 401', value: statuses.filter((s) => s === 401).length, unit: `of ${BODIES}` },
      ],
    };
  } finally {
    child.kill('SIGKILL');
    await fs.rm(dir, { recursive: true, force: true });
  }
}
