// Kernel end to end with the compiler's own output: the star-wars policies and inventory from policies/
// built into a bundle (weir build), node-1's images applied, pods at their inventory addresses, and the
// L3/L4 part of policies/tests/starwars.yaml checked with real TCP connections and HTTP requests.
// (L7 cases need the proxy: here a redirect verdict only marks the packet and lets it through.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import type { CommandIO } from '../../cli/command.js';
import { NetDatapath, type NetEvent } from '../../bpf/net/loader.js';
import { nodeImages } from '../../compiler/verify/kernel.js';
import { readBundle } from '../../compiler/bundle/io.js';
import type { EndpointTableEntry } from '../../compiler/lower/network/images.js';
import type { RingBuffer } from '../../bpf/libbpf-ts/index.js';
import { skipKernel } from '../kernel-env.js';
import { ensureBuilt } from './helpers.js';
import { Topology, removeLeftovers } from './netns.js';

const root = resolve(import.meta.dirname, '../..');

describe.skipIf(skipKernel())('bundled examples (star wars, tenant-jobs), compiled by weir build, enforced in the kernel', () => {
  const topo = new Topology('wdp-s');
  const out = mkdtempSync(join(tmpdir(), 'wdp-starwars-'));
  let dp: NetDatapath;
  let rb: RingBuffer;
  const events: NetEvent[] = [];
  const ep = new Map<string, EndpointTableEntry>();
  const pods = [
    { name: 'tiefighter', endpoint: 'default/tiefighter', ports: [80] },
    { name: 'xwing', endpoint: 'default/xwing', ports: [80] },
    { name: 'deathstar', endpoint: 'default/deathstar-6fb5694d48-8vx7k', ports: [80, 443] },
    { name: 'coredns', endpoint: 'kube-system/coredns-5d78c9869d-abcde', ports: [53] },
    { name: 'recruiter', endpoint: 'tenant-jobs/recruiter-7f8c6d5b4-k9j8h', ports: [9080, 22, 2222] },
  ];
  // A client on the Internet: not an endpoint (no programs on its veth), world to everyone.
  const outsider = { name: 'outsider', ip: '198.51.100.7', ports: [] as number[] };
  let cookies: { cookie: number; name: string; file: string; line: number }[] = [];
  const ip = (name: string) => topo.pod(name).ip;

  beforeAll(async () => {
    ensureBuilt();
    removeLeftovers('wdp-s');
    const io: CommandIO = { stdout: () => {}, stderr: () => {}, cwd: root, env: { NO_COLOR: '1' }, isTTY: false };
    const bundle = join(out, 'bundle');
    expect(await main(['build', 'policies/network', '--inventory', 'policies/inventory.yaml', '--out', bundle, '--quiet'], io)).toBe(0);
    const read = await readBundle(bundle);
    for (const row of read.table<EndpointTableEntry[]>('endpoints')!) if (row.node === 'node-1') ep.set(row.endpoint, row);
    cookies = read.table<typeof cookies>('cookies')!;
    await topo.create([...pods.map((p) => ({ name: p.name, ports: p.ports, ip: ep.get(p.endpoint)!.ips[0]! })), outsider]);
    dp = NetDatapath.open({ pinDir: topo.pinDir });
    const [node1] = nodeImages(read, 'node-1');
    const report = dp.applyImages(node1!.images);
    expect(report.maps.find((m) => m.name === 'ipcache')!.entries).toBeGreaterThan(5);
    rb = dp.events((e) => events.push(e));
    const specs = pods.map((p) => {
      const row = ep.get(p.endpoint)!;
      return { ifname: topo.pod(p.name).hostIf, endpointId: row.endpointId, identity: row.identity, flags: row.flags };
    });
    topo.inNode(process.execPath, ['--import', 'tsx', resolve(root, 'test/datapath/attach-helper.ts'), topo.pinDir, JSON.stringify(specs)]);
  }, 90_000);

  afterAll(() => {
    rb?.close();
    dp?.close();
    topo.destroy();
    rmSync(out, { recursive: true, force: true });
  });

  it('empire may land: tiefighter connects to the deathstar on TCP/80 and its POST lands', async () => {
    expect((await topo.pod('tiefighter').connect(ip('deathstar'), 80)).ok).toBe(true);
    expect(await topo.pod('tiefighter').http(ip('deathstar'), 80, 'POST', '/v1/request-landing')).toMatchObject({
      ok: true,
      status: 200,
      body: 'Ship landed',
    });
  });

  it('the alliance cannot reach the deathstar at all; the drop is reported', async () => {
    rb.consume();
    events.length = 0;
    expect(await topo.pod('xwing').connect(ip('deathstar'), 80)).toMatchObject({ ok: false, error: 'timeout' });
    rb.consume();
    const ds = ep.get('default/deathstar-6fb5694d48-8vx7k')!;
    expect(events.find((e) => e.saddr === ip('xwing'))).toMatchObject({
      reason: 'default-deny',
      cookie: 0,
      direction: 'ingress',
      endpointId: ds.endpointId,
      srcIdentity: ep.get('default/xwing')!.identity,
      dstIdentity: ds.identity,
      dport: 80,
    });
  });

  it('the deathstar is default-deny on other ports (it listens on 443, the SYN never arrives)', async () => {
    expect(await topo.pod('tiefighter').connect(ip('deathstar'), 443)).toMatchObject({ ok: false, error: 'timeout' });
  });

  it('tiefighter egress is limited to the deathstar and DNS', async () => {
    rb.consume();
    events.length = 0;
    expect(await topo.pod('tiefighter').connect(ip('xwing'), 80)).toMatchObject({ ok: false, error: 'timeout' });
    expect((await topo.pod('tiefighter').connect(ip('coredns'), 53)).ok).toBe(true);
    rb.consume();
    expect(events.find((e) => e.daddr === ip('xwing'))).toMatchObject({
      reason: 'default-deny',
      direction: 'egress',
      endpointId: ep.get('default/tiefighter')!.endpointId,
      dstIdentity: ep.get('default/xwing')!.identity,
    });
  });

  it('tenant-jobs: the Internet reaches the recruiter on its named http port, nothing else', async () => {
    expect(await topo.pod('outsider').http(ip('recruiter'), 9080, 'GET', '/jobs')).toMatchObject({ ok: true, status: 200 });
    expect(await topo.pod('outsider').connect(ip('recruiter'), 2222)).toMatchObject({ ok: false, error: 'timeout' });
  });

  it('tenant-jobs: ssh from outside is dropped (the enforcing policy decides, audit mode never weakens it) and reported', async () => {
    rb.consume();
    events.length = 0;
    expect(await topo.pod('outsider').connect(ip('recruiter'), 22)).toMatchObject({ ok: false, error: 'timeout' });
    rb.consume();
    const drop = events.find((e) => e.dport === 22 && e.saddr === outsider.ip);
    expect(drop).toMatchObject({
      audit: false,
      verdict: 1,
      direction: 'ingress',
      daddr: ip('recruiter'),
      endpointId: ep.get('tenant-jobs/recruiter-7f8c6d5b4-k9j8h')!.endpointId,
      dstIdentity: ep.get('tenant-jobs/recruiter-7f8c6d5b4-k9j8h')!.identity,
    });
    // The outsider is a CIDR identity (local scope) from the NetworkPolicy's ipBlock, as Cilium allocates.
    expect(drop!.srcIdentity).toBeGreaterThanOrEqual(1 << 24);
    // A non-zero cookie leads back to its rule in the bundle's cookie table.
    if (drop!.cookie !== 0) expect(cookies.find((c) => c.cookie === drop!.cookie)?.file).toMatch(/^policies\/network\//);
  });

  it('xwing is not selected by any policy; tiefighter answers it although its egress is enforced (replies are tracked)', async () => {
    expect((await topo.pod('xwing').connect(ip('tiefighter'), 80)).ok).toBe(true);
    expect(await topo.pod('xwing').http(ip('tiefighter'), 80, 'GET', '/')).toMatchObject({
      ok: true,
      status: 200,
      body: 'tiefighter:80 GET /',
    });
  });
});
