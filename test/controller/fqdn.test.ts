// toFQDNs at run time with a real DNS server: dnsmasq in a network namespace of the test, the
// agent's DNS proxy in front of it. With a DNS rule the answered address (A or AAAA) is learned under
// the selector's identity, allows the connection, and expires with the TTL; a name outside the DNS
// rules is refused; without a DNS rule nothing is learned (as upstream).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { skipKernel } from '../kernel-env.js';
import { projectRoot } from './harness.js';
import { dnsPatternRegex } from '../../controller/agent/fqdn.js';
import { parseDns, refusedReply } from '../../controller/agent/dns.js';

describe('DNS names and patterns', () => {
  it('matchPattern follows Cilium: * stays inside one label, a lone * allows all', () => {
    expect(dnsPatternRegex('*.example.com').test('api.example.com')).toBe(true);
    expect(dnsPatternRegex('*.example.com').test('a.b.example.com')).toBe(false);
    expect(dnsPatternRegex('*.example.com').test('example.com')).toBe(false);
    expect(dnsPatternRegex('*').test('anything.at.all')).toBe(true);
  });
  it('parses a query and builds a REFUSED reply for it', () => {
    // id 0x1234, RD, one question api.example.com A IN
    const labels = Buffer.concat([
      ...'api.example.com'.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
      Buffer.from([0]),
    ]);
    const q = Buffer.concat([Buffer.from('123401000001000000000000', 'hex'), labels, Buffer.from('00010001', 'hex')]);
    const m = parseDns(q);
    expect(m.questions).toEqual([{ name: 'api.example.com', type: 1 }]);
    const r = parseDns(refusedReply(q));
    expect(r).toMatchObject({ id: 0x1234, rcode: 5, questions: [{ name: 'api.example.com', type: 1 }], answers: [] });
    expect(r.flags & 0x8000).toBe(0x8000);
  });
});

const noNetns = skipKernel() || !existsSync('/usr/sbin/dnsmasq');

describe.skipIf(noNetns)('toFQDNs with dnsmasq in a network namespace (root)', () => {
  const ns = `wag-${randomBytes(2).toString('hex')}-${process.pid}-dns`;
  let dnsmasq: ChildProcess | undefined;
  const run = (scenario: string): Record<string, unknown> => {
    const out = execFileSync(
      'ip',
      [
        'netns',
        'exec',
        ns,
        process.execPath,
        '--import',
        'tsx',
        path.join(projectRoot, 'test/controller/fqdn-netns-helper.ts'),
        '5353',
        scenario,
      ],
      { cwd: projectRoot, encoding: 'utf8', timeout: 60_000 },
    );
    return JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, unknown>;
  };

  beforeAll(async () => {
    execFileSync('ip', ['netns', 'add', ns]);
    execFileSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    dnsmasq = spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        '/usr/sbin/dnsmasq',
        '--no-daemon',
        '--port=5353',
        '--listen-address=127.0.0.1',
        '--bind-interfaces',
        '--no-resolv',
        '--no-hosts',
        '--address=/api.example.com/203.0.113.7',
        '--address=/api.example.com/2001:db8::7',
        '--local-ttl=2',
        `--pid-file=${path.join(os.tmpdir(), `${ns}.pid`)}`,
      ],
      { stdio: 'ignore' },
    );
    await new Promise((r) => setTimeout(r, 500));
  });

  afterAll(() => {
    if (dnsmasq?.pid) dnsmasq.kill('SIGTERM');
    try {
      execFileSync('ip', ['netns', 'del', ns]);
    } catch {
      // already gone
    }
  });

  it('learns the answer under the selector identity, refuses names outside the DNS rules, expires with the TTL', () => {
    const r = run('dns-rule');
    const sel = (r['fqdnSelectors'] as { identity: number; selector: string }[])[0]!;
    expect(sel.selector).toBe('matchName:api.example.com');
    expect(r['before']).toBe('deny');
    expect(r['answer']).toEqual([{ address: '203.0.113.7', ttl: 2 }]);
    expect(r['learned']).toEqual([{ ip: '203.0.113.7', identity: sel.identity, selector: 'matchName:api.example.com' }]);
    expect(r['after']).toBe('allow');
    expect(r['otherAddress']).toBe('deny');
    expect(r['refused']).toBe('EREFUSED');
    expect(r['expired']).toBe(1);
    expect(r['afterTtl']).toBe('deny');
    expect(r['before6']).toBe('deny');
    expect(r['answer6']).toEqual([{ address: '2001:db8::7', ttl: 2 }]);
    expect(r['learned6']).toEqual([{ ip: '2001:db8:0:0:0:0:0:7', identity: sel.identity, selector: 'matchName:api.example.com' }]);
    expect(r['after6']).toBe('allow');
    expect(r['otherAddress6']).toBe('deny');
    expect(r['expired6']).toBe(1);
    expect(r['afterTtl6']).toBe('deny');
  }, 90_000);

  it('learns nothing without a DNS rule, as upstream', () => {
    const r = run('no-dns-rule');
    expect(r['answer']).toEqual([{ address: '203.0.113.7', ttl: 2 }]);
    expect(r['learned']).toEqual([]);
    expect(r['after']).toBe('deny');
  }, 90_000);
});

describe.skipIf(skipKernel() || !existsSync(path.join(projectRoot, 'bpf/build/endpoint.bpf.o')))(
  'toFQDNs in the kernel ipcache (root, npm run build)',
  () => {
    it('a learned address joins the kernel ipcache under the selector identity and leaves it at expiry', async () => {
      const { createPodNetwork } = await import('../../controller/demo/netns.js');
      const { scenarioPods } = await import('../../controller/demo/scenario.js');
      const { KernelDatapath } = await import('../../controller/agent/kernel-datapath.js');
      const { ProjectCompiler } = await import('../../controller/reconcile/compiler.js');
      const { nodeManifest } = await import('../../controller/bundle/codec.js');
      const net = await createPodNetwork(scenarioPods, 'wag');
      try {
        // xwing may reach api.example.com on 80 only; the test's "DNS answer" is the deathstar's address.
        const policy = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api-access, namespace: default}
spec:
  endpointSelector: {matchLabels: {class: xwing}}
  egress:
  - toFQDNs: [{matchName: api.example.com}]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]
`;
        const r = await new ProjectCompiler().compileFiles(
          [
            { file: 'pods.yaml', bytes: Buffer.from(scenarioPods) },
            { file: 'policy.yaml', bytes: Buffer.from(policy) },
          ],
          'fqdn-kernel',
        );
        expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
        expect(r.bundle?.digest).toMatch(/^[0-9a-f]{64}$/);
        const nm = nodeManifest(r.bundle!.manifest, r.bundle!.digest, 'node-1');
        const tables = new Map<string, unknown>(
          nm.manifest.tables.map((t) => [t.name, JSON.parse(new TextDecoder().decode(r.bundle!.blobs.get(t.digest)!)) as unknown]),
        );
        const dp = await KernelDatapath.open('node-1', { pinDir: net.pinDir, interfaces: net.interfaces });
        net.onDestroy.push(() => dp.close());
        await dp.apply({
          digest: r.bundle!.digest,
          manifest: nm.manifest,
          images: nm.manifest.maps.map((image) => ({ image, bytes: Buffer.from(r.bundle!.blobs.get(image.digest)!) })),
          tables,
        });
        const identity = (tables.get('fqdn_selectors') as { identity: number }[])[0]!.identity;
        // The kernel's ipcache in service, read back through the pin: what the programs look an address up in.
        const { BpfMap } = await import('../../bpf/libbpf-ts/index.js');
        const { decodeIpcacheValue, ipcacheLookupKey, WEIR_IPCACHE_FLAG_FQDN } = await import('../../bpf/abi/net.js');
        const { parseAddress } = await import('../../compiler/model/cidr.js');
        const inKernel = (address: string) => {
          using outer = BpfMap.openPinned(path.join(net.pinDir, 'weir_ipcache'));
          using inner = outer.openInner(0)!;
          const a = parseAddress(address)!;
          const v = inner.lookup(ipcacheLookupKey(a.family, a.addr));
          return v ? decodeIpcacheValue(v) : undefined;
        };
        // An AAAA answer, spelled as the DNS parser spells it: the kernel ipcache gets its /128 and loses it at expiry.
        dp.learnFqdn('2001:db8:0:0:0:0:0:7', identity, 1);
        expect(inKernel('2001:db8::7')).toEqual({ identity, flags: WEIR_IPCACHE_FLAG_FQDN });
        expect(inKernel('2001:db8::8')?.identity).not.toBe(identity);
        expect(await dp.verdict({ src: '10.200.0.12', dst: '2001:db8::7', protocol: 'TCP', port: 80 })).toMatchObject({
          verdict: 'allow',
          reason: 'policy-allow',
        });
        await new Promise((res) => setTimeout(res, 1100));
        expect(dp.expireFqdn()).toBe(1);
        expect(inKernel('2001:db8::7')?.identity).not.toBe(identity);
        expect(await net.verdictOnWire('xwing', 'deathstar', 80)).toBe('deny');
        dp.learnFqdn('10.200.0.10', identity, 2);
        expect(inKernel('10.200.0.10')).toEqual({ identity, flags: WEIR_IPCACHE_FLAG_FQDN });
        expect(await net.verdictOnWire('xwing', 'deathstar', 80)).toBe('allow');
        expect(await net.verdictOnWire('xwing', 'deathstar', 8080)).toBe('deny');
        await new Promise((res) => setTimeout(res, 2100));
        expect(dp.expireFqdn()).toBe(1);
        expect(await net.verdictOnWire('xwing', 'deathstar', 80)).toBe('deny');
      } finally {
        await net.destroy();
      }
    }, 90_000);
  },
);
