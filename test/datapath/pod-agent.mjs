// A "pod": runs inside a network namespace (ip netns exec NS node pod-agent.mjs NAME PORT...), serves HTTP
// on the given ports and makes outgoing TCP connections and HTTP requests on command (JSON lines on stdin).
import http from 'node:http';
import net from 'node:net';
import readline from 'node:readline';

const [name = 'pod', ...ports] = process.argv.slice(2);
const servers = [];
// Dual stack where the namespace has IPv6 (IPv4 arrives mapped), else IPv4 only.
const listen = (s, port) =>
  new Promise((r) => {
    s.once('error', () => s.listen(port, '0.0.0.0', r));
    s.listen(port, '::', r);
  });
// `eN`: a raw TCP echo server on port N (for long-lived sessions); plain N: HTTP.
for (const e of ports.filter((x) => x.startsWith('e'))) {
  const s = net.createServer((c) => c.on('data', (d) => c.write(d)).on('error', () => {}));
  servers.push(listen(s, Number(e.slice(1))));
}
for (const p of ports.filter((x) => !x.startsWith('e')).map(Number)) {
  const s = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/request-landing') res.end('Ship landed');
      else res.end(`${name}:${p} ${req.method} ${req.url}`);
    });
  });
  servers.push(listen(s, p));
}
await Promise.all(servers);
process.stdout.write(JSON.stringify({ ready: name }) + '\n');

function connect(host, port, timeoutMs) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const sock = net.connect({ host, port });
    const done = (ok, error) => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ ok, ms: Number(process.hrtime.bigint() - t0) / 1e6, ...(error ? { error } : {}) });
    };
    const timer = setTimeout(() => done(false, 'timeout'), timeoutMs);
    sock.on('connect', () => done(true));
    sock.on('error', (e) => done(false, e.code ?? e.message));
  });
}

function request(host, port, method, path, timeoutMs) {
  return new Promise((resolve) => {
    const req = http.request({ host, port, method, path, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ ok: true, status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ ok: false, error: e.message }));
    req.end();
  });
}

// One connection kept open for durationMs, a byte sent every intervalMs; returns when each echo came back.
function session(host, port, durationMs, intervalMs) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const echoes = [];
    const sock = net.connect({ host, port });
    let timer;
    const finish = (ok, error) => {
      clearInterval(timer);
      sock.destroy();
      resolve({ ok, echoes, ...(error ? { error } : {}) });
    };
    sock.on('connect', () => {
      timer = setInterval(() => sock.write('x'), intervalMs);
      setTimeout(() => finish(true), durationMs);
    });
    sock.on('data', (d) => {
      for (let i = 0; i < d.length; i++) echoes.push(Date.now() - t0);
    });
    sock.on('error', (e) => finish(false, e.code ?? e.message));
  });
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  const cmd = JSON.parse(line);
  const r =
    cmd.op === 'http'
      ? await request(cmd.host, cmd.port, cmd.method, cmd.path, cmd.timeoutMs)
      : cmd.op === 'session'
        ? await session(cmd.host, cmd.port, cmd.durationMs, cmd.intervalMs)
        : await connect(cmd.host, cmd.port, cmd.timeoutMs);
  process.stdout.write(JSON.stringify({ id: cmd.id, ...r }) + '\n');
});
rl.on('close', () => process.exit(0));
