// The container image (`npm run test:image`; minutes: it builds the image): scripts/build-image.sh
// makes it without a registry, then it runs here under podman: `weir --help`, `weir lint` on a
// mounted folder, and a controller and an agent from the image on loopback with mutual TLS from
// the controller's certificate made as docs/install.md's openssl alternative makes it and the agent
// presenting a kubelet-style node certificate (as deploy/ mounts it), the agent resolving the
// controller by its Service name. The agent must apply the signed bundle and answer verdicts.
// WEIR_TEST_CONTAINERFILE=1 also builds the Containerfile (on a stand-in for its Node.js base made
// from Debian packages, test/image/node-base.sh) and runs the same checks on that image.
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
const tag = `${process.pid}-${Date.now().toString(36)}`;
const work = mkdtempSync(path.join(tmpdir(), 'weir-image-test-'));
chmodSync(work, 0o755);
const containers: string[] = [];

// This machine's sandbox forbids raising resource limits (no CAP_SYS_RESOURCE) and mixes cgroup v1
// and v2, which crun refuses: runc, and limits no higher than the current ones, work.
const podmanRun = ['--runtime', 'runc', 'run', '--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=4096:4096'];

interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}
function run(cmd: string, args: string[], opts: { cwd?: string; timeout?: number } = {}): Promise<Ran> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { cwd: opts.cwd ?? root, stdio: ['ignore', 'pipe', 'pipe'], timeout: opts.timeout ?? 900_000 });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('error', (e) => resolve({ status: null, stdout, stderr: stderr + e.message }));
    c.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}
const podman = (args: string[]) => run('podman', args, { timeout: 120_000 });

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** The image scripts/build-image.sh makes. */
async function buildWithScript(image: string): Promise<void> {
  const built = await run('bash', ['scripts/build-image.sh', image]);
  if (built.status !== 0) throw new Error(`scripts/build-image.sh failed (${built.status}):\n${built.stderr.slice(-4000)}`);
}

/** The image the Containerfile makes, on a stand-in for its base. The build trusts what the host trusts (an intercepting proxy's CA). */
async function buildWithContainerfile(image: string): Promise<void> {
  const base = await run('bash', ['test/image/node-base.sh']);
  if (base.status !== 0) throw new Error(`test/image/node-base.sh failed:\n${base.stderr.slice(-4000)}`);
  const npmrc = path.join(work, 'npmrc');
  writeFileSync(npmrc, 'cafile=/etc/ssl/certs/ca-certificates.crt\n');
  const b = await run(
    'buildah',
    [
      'bud',
      '--layers',
      '--pull=never',
      '--runtime',
      'runc',
      '--network',
      'host',
      '--ulimit',
      'nofile=4096:4096',
      '--ulimit',
      'nproc=4096:4096',
      '--volume',
      '/etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro',
      '--volume',
      `${npmrc}:/usr/local/etc/npmrc:ro`,
      '--build-arg',
      `NODE_IMAGE=${base.stdout.trim()}`,
      '-f',
      'Containerfile',
      '-t',
      image,
      '.',
    ],
    { timeout: 1_800_000 },
  );
  if (b.status !== 0) throw new Error(`buildah bud -f Containerfile failed:\n${b.stdout.slice(-3000)}\n${b.stderr.slice(-3000)}`);
}

const images = [{ image: process.env['WEIR_TEST_IMAGE'] ?? 'localhost/weir:test', build: buildWithScript }];
if (process.env['WEIR_TEST_CONTAINERFILE'] === '1') images.push({ image: 'localhost/weir:containerfile', build: buildWithContainerfile });

afterAll(async () => {
  for (const c of containers) await podman(['rm', '--force', '--time', '2', c]);
  rmSync(work, { recursive: true, force: true });
});

describe.each(images)('the container image $image', ({ image, build }) => {
  const weirIn = (args: string[], mounts: string[] = []) =>
    podman([...podmanRun, '--rm', '--network', 'host', ...mounts.flatMap((m) => ['-v', m]), image, ...args]);
  let size = 0;
  beforeAll(async () => {
    await build(image);
    size = Number((await podman(['image', 'inspect', '--format', '{{.Size}}', image])).stdout.trim());
    const probe = await weirIn(['--version']);
    if (probe.status !== 0) throw new Error(`podman cannot run ${image} here (${probe.status}): ${probe.stderr}`);
  }, 2_400_000);

  it('runs weir as user 65532, with libbpf, git and the BPF objects', async () => {
    expect(size).toBeGreaterThan(50e6);
    console.log(`weir image ${image}: ${size} bytes (${(size / 1024 / 1024).toFixed(1)} MiB)`);
    const cfg = JSON.parse((await podman(['image', 'inspect', image])).stdout) as {
      Config: { Entrypoint: string[]; User: string; Labels: Record<string, string> };
    }[];
    expect(cfg[0]!.Config).toMatchObject({ Entrypoint: ['weir'], User: '65532:65532' });
    expect(cfg[0]!.Config.Labels['org.opencontainers.image.version']).toBe(pkg.version);
    const help = await weirIn(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: weir <command>/);
    expect(help.stdout).toContain('keys ');
    expect((await weirIn(['--version'])).stdout.trim()).toBe(pkg.version);
    const id = await podman([...podmanRun, '--rm', '--entrypoint', '/usr/bin/id', image, '-u']);
    expect(id.stdout.trim()).toBe('65532');
    // libbpf for the kernel datapath, git for the Git mode, the BPF objects beside weir
    const files = await podman([
      ...podmanRun,
      '--rm',
      '--entrypoint',
      '/bin/sh',
      image,
      '-c',
      'ls /usr/lib/x86_64-linux-gnu/libbpf.so.1 && git --version && ls /opt/weir/bpf/build',
    ]);
    expect(files.status, files.stderr).toBe(0);
    expect(files.stdout).toMatch(/libbpf\.so\.1[\s\S]*git version[\s\S]*endpoint\.bpf\.o[\s\S]*wrt_runtime\.bpf\.o/);
  });

  it('lints a mounted folder: clean policies exit 0, a broken file exits 1 with its place', async () => {
    const clean = await weirIn(['lint', 'policies'], [`${path.join(root, 'policies')}:/work/policies:ro`]);
    expect(clean.status, clean.stderr).toBe(0);
    expect(clean.stdout).toMatch(/^0 errors, 0 warnings in \d+ files/m);
    const dir = mkdtempSync(path.join(work, 'lint-'));
    chmodSync(dir, 0o755);
    writeFileSync(
      path.join(dir, 'bad.yaml'),
      'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: bad}\nspec:\n  endpointSelector:\n    matchExpressions: [{key: app, operator: in, values: [a]}]\n',
    );
    const bad = await weirIn(['lint', 'bad.yaml'], [`${dir}:/work:ro`]);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/bad\.yaml:6:\d+ error .*\[cilium\/operator-case\]/);
  });

  it('a controller and an agent from the image, on loopback with mutual TLS: the agent applies the signed bundle', async () => {
    const d = mkdtempSync(path.join(work, 'loop-'));
    // the policy repository the controller follows
    const repo = path.join(d, 'repo');
    cpSync(path.join(root, 'policies'), path.join(repo, 'policies'), { recursive: true });
    const git = (...a: string[]) =>
      execFileSync('git', a, {
        cwd: repo,
        env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
      });
    git('init', '-q', '-b', 'main');
    git('add', '.');
    git('commit', '-q', '-m', 'policies');
    // the pods' user owns what they read and write (Git refuses a repository of another owner)
    const chownR = (p: string) => {
      chownSync(p, 65532, 65532);
      if (statSync(p).isDirectory()) for (const e of readdirSync(p)) chownR(path.join(p, e));
    };
    chownR(d);
    // the signing key, made by `weir keys` in the image
    const keys = await weirIn(['keys', '--write-key', '/d/key.pem'], [`${d}:/d`]);
    expect(keys.status, keys.stderr).toBe(0);
    expect(keys.stdout).toMatch(/kind: Secret[\s\S]*kind: ConfigMap/);
    // certificates as docs/install.md's openssl alternative makes them
    const ssl = (...a: string[]) => execFileSync('openssl', a, { cwd: d, stdio: 'pipe' });
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
    ssl('req', '-x509', '-new', '-nodes', ...ec, '-days', '2', '-subj', '/CN=weir-ca', '-keyout', 'ca.key', '-out', 'ca.crt');
    ssl(
      'req',
      '-new',
      '-nodes',
      ...ec,
      '-subj',
      '/CN=weir-controller.weir-system.svc',
      '-keyout',
      'controller.key',
      '-out',
      'controller.csr',
    );
    writeFileSync(
      path.join(d, 'controller.ext'),
      'subjectAltName=DNS:weir-controller.weir-system.svc,DNS:weir-controller.weir-system.svc.cluster.local\nextendedKeyUsage=serverAuth\n',
    );
    ssl(
      'x509',
      '-req',
      '-in',
      'controller.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      'controller.crt',
      '-extfile',
      'controller.ext',
    );
    // the agent's credential as a kubeadm node has it: the kubelet's client certificate and key in one
    // file, CN system:node:NAME, signed by the cluster CA (which the controller trusts, as kube-root-ca.crt)
    ssl(
      'req',
      '-x509',
      '-new',
      '-nodes',
      ...ec,
      '-days',
      '2',
      '-subj',
      '/CN=kubernetes',
      '-keyout',
      'cluster-ca.key',
      '-out',
      'cluster-ca.crt',
    );
    ssl('req', '-new', '-nodes', ...ec, '-subj', '/O=system:nodes/CN=system:node:node-1', '-keyout', 'kubelet.key', '-out', 'kubelet.csr');
    writeFileSync(path.join(d, 'kubelet.ext'), 'extendedKeyUsage=clientAuth\n');
    ssl(
      'x509',
      '-req',
      '-in',
      'kubelet.csr',
      '-CA',
      'cluster-ca.crt',
      '-CAkey',
      'cluster-ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      'kubelet.crt',
      '-extfile',
      'kubelet.ext',
    );
    // an operator's client certificate from the cluster CA (a node's certificate reads no status)
    ssl('req', '-new', '-nodes', ...ec, '-subj', '/CN=weir-operator', '-keyout', 'operator.key', '-out', 'operator.csr');
    ssl(
      'x509',
      '-req',
      '-in',
      'operator.csr',
      '-CA',
      'cluster-ca.crt',
      '-CAkey',
      'cluster-ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      'operator.crt',
      '-extfile',
      'kubelet.ext',
    );
    writeFileSync(
      path.join(d, 'kubelet-client-current.pem'),
      Buffer.concat([readFileSync(path.join(d, 'kubelet.crt')), readFileSync(path.join(d, 'kubelet.key'))]),
    );
    chownR(d);
    const api = await freePort();
    const agentPort = await freePort();
    const suffix = `${tag}-${image.replace(/[^a-z0-9]+/g, '-')}`;
    const ctl = `weir-ctl-${suffix}`;
    const agent = `weir-agent-${suffix}`;
    // as deploy/ passes them: the controller trusts the cluster CA; the agent uses the kubelet's file for both and trusts weir's CA
    const tls = (who: 'controller' | 'agent') =>
      who === 'controller'
        ? ['--tls-cert', '/d/controller.crt', '--tls-key', '/d/controller.key', '--tls-ca', '/d/cluster-ca.crt']
        : ['--tls-cert', '/d/kubelet-client-current.pem', '--tls-key', '/d/kubelet-client-current.pem', '--tls-ca', '/d/ca.crt'];
    containers.push(ctl);
    const c = await podman([
      ...podmanRun,
      '-d',
      '--name',
      ctl,
      '--network',
      'host',
      '-v',
      `${d}:/d`,
      image,
      'controller',
      '--repo',
      '/d/repo',
      '--key',
      '/d/key.pem',
      '--state-dir',
      '/d/controller',
      '--listen',
      `127.0.0.1:${api}`,
      '--poll',
      '1s',
      ...tls('controller'),
    ]);
    expect(c.status, c.stderr).toBe(0);
    containers.push(agent);
    const a = await podman([
      ...podmanRun,
      '-d',
      '--name',
      agent,
      '--network',
      'host',
      '--add-host',
      'weir-controller.weir-system.svc:127.0.0.1',
      '-v',
      `${d}:/d`,
      image,
      'agent',
      '--node',
      'node-1',
      '--controller',
      `https://weir-controller.weir-system.svc:${api}`,
      '--trust',
      '/d/key.pem.pub',
      '--state-dir',
      '/d/agent',
      '--listen',
      `127.0.0.1:${agentPort}`,
      '--datapath',
      'emulator',
      ...tls('agent'),
    ]);
    expect(a.status, a.stderr).toBe(0);

    const ca = readFileSync(path.join(d, 'ca.crt'));
    const kubelet = { cert: readFileSync(path.join(d, 'kubelet.crt')), key: readFileSync(path.join(d, 'kubelet.key')) };
    const operator = { cert: readFileSync(path.join(d, 'operator.crt')), key: readFileSync(path.join(d, 'operator.key')) };
    const call = (port: number, p: string, body?: object, who = operator) =>
      new Promise<{ status: number; json: unknown }>((resolve, reject) => {
        // the controller's API is mutual TLS; the agent's local endpoint is plain HTTP on loopback
        const onResponse = (res: import('node:http').IncomingMessage) => {
          let t = '';
          res.on('data', (x: Buffer) => (t += x.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: t ? (JSON.parse(t) as unknown) : null }));
        };
        const opts = { host: '127.0.0.1', port, path: p, method: body ? 'POST' : 'GET', timeout: 5000 };
        const req =
          port === api
            ? request({ ...opts, ca, cert: who.cert, key: who.key, servername: 'weir-controller.weir-system.svc' }, onResponse)
            : httpRequest(opts, onResponse);
        req.on('error', reject);
        req.on('timeout', () => req.destroy(new Error('timeout')));
        req.end(body ? JSON.stringify(body) : undefined);
      });
    // the controller compiles and signs, the agent fetches, verifies and applies
    type Status = { phase: string; nodes: { node: string; applied: unknown }[] };
    let status: Status | undefined;
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      status = await call(api, '/v1/status')
        .then((r) => r.json as Status)
        .catch(() => undefined);
      if (status?.nodes.some((n) => n.node === 'node-1' && n.applied)) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const logs = async () =>
      `${(await podman(['logs', ctl])).stderr.slice(-3000)}\n---\n${(await podman(['logs', agent])).stderr.slice(-3000)}`;
    const node = status?.nodes.find((n) => n.node === 'node-1');
    expect(node?.applied, await logs()).toBeTruthy();
    const health = await call(agentPort, '/healthz');
    expect(health.status).toBe(200);
    expect((health.json as { applied: unknown }).applied).toEqual(node!.applied);
    // the applied bundle answers as the policies say: the empire may land, the alliance may not
    const tie = await call(agentPort, '/v1/verdict', { src: '10.244.1.10', dst: '10.244.1.12', protocol: 'TCP', port: 80 });
    const xwing = await call(agentPort, '/v1/verdict', { src: '10.244.1.11', dst: '10.244.1.12', protocol: 'TCP', port: 80 });
    expect((tie.json as { verdict: string }).verdict).toBe('allow');
    expect((xwing.json as { verdict: string }).verdict).toBe('deny');
    // node-1's certificate does not speak for node-2, nor as an operator
    const posing = await call(api, '/v1/nodes/node-2/register', { features: {} }, kubelet);
    expect(posing.status).toBe(403);
    expect((await call(api, '/v1/status', undefined, kubelet)).status).toBe(403);
    // an agent without a client certificate is turned away
    const anonymous = await new Promise<number>((resolve) => {
      const req = request(
        { host: '127.0.0.1', port: api, path: '/v1/status', ca, servername: 'weir-controller.weir-system.svc', timeout: 5000 },
        (res) => resolve(res.statusCode ?? 0),
      );
      req.on('error', () => resolve(-1));
      req.end();
    });
    expect([401, 403, -1]).toContain(anonymous);
  }, 180_000);
});
