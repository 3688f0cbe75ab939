// The agent's emulated datapath over compiled bundles: IPv6 pods and IPv6 toFQDNs answers are
// decided as IPv4 ones are, an apply is all or nothing, and learned addresses outlive a new bundle.
import { beforeAll, describe, expect, it } from 'vitest';
import { EmulatorDatapath } from '../../controller/agent/emulated-datapath.js';
import type { ApplyInput, Flow } from '../../controller/agent/datapath.js';
import { nodeManifest } from '../../controller/bundle/codec.js';
import { ProjectCompiler } from '../../controller/reconcile/compiler.js';

// Dual-stack pods on one node: the same last octet in 10.200.0.0/24 and fd00:200::/64.
const pod = (name: string, labels: string, n: number) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: default, labels: {${labels}}}
spec: {nodeName: node-1}
status: {podIPs: [{ip: 10.200.0.${n}}, {ip: "fd00:200::${n}"}]}
`;
const pods = [
  pod('deathstar', 'org: empire, class: deathstar', 10),
  pod('tiefighter', 'org: empire, class: tiefighter', 11),
  pod('xwing', 'org: alliance, class: xwing', 12),
].join('---\n');

const landing = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: rule1, namespace: default}
spec:
  endpointSelector: {matchLabels: {org: empire, class: deathstar}}
  ingress:
  - fromEndpoints: [{matchLabels: {org: empire}}]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]
  ingressDeny:
  - fromEndpoints: [{matchLabels: {org: empire, class: tiefighter}}]
    toPorts: [{ports: [{port: "9090", protocol: TCP}]}]
`;

const toFqdn = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api-access, namespace: default}
spec:
  endpointSelector: {matchLabels: {class: xwing}}
  egress:
  - toFQDNs: [{matchName: api.example.com}]
    toPorts: [{ports: [{port: "443", protocol: TCP}]}]
`;

async function compile(policies: string[], revision: string): Promise<ApplyInput> {
  const files = [
    { file: 'pods.yaml', bytes: Buffer.from(pods) },
    ...policies.map((p, i) => ({ file: `policy-${i}.yaml`, bytes: Buffer.from(p) })),
  ];
  const r = await new ProjectCompiler().compileFiles(files, revision);
  if (!r.bundle) throw new Error(JSON.stringify(r.diagnostics));
  const nm = nodeManifest(r.bundle.manifest, r.bundle.digest, 'node-1');
  const tables = new Map<string, unknown>(
    nm.manifest.tables.map((t) => [t.name, JSON.parse(new TextDecoder().decode(r.bundle!.blobs.get(t.digest)!)) as unknown]),
  );
  return {
    digest: r.bundle.digest,
    manifest: nm.manifest,
    images: nm.manifest.maps.map((image) => ({ image, bytes: Buffer.from(r.bundle!.blobs.get(image.digest)!) })),
    tables,
  };
}

const v4 = (n: number) => `10.200.0.${n}`;
const v6 = (n: number) => `fd00:200::${n}`;

describe('emulated datapath', () => {
  let bundle: ApplyInput;
  let fqdn: ApplyInput;
  beforeAll(async () => {
    bundle = await compile([landing], 'landing');
    fqdn = await compile([landing, toFqdn], 'fqdn');
  });

  it('decides IPv6 flows between pods exactly as the IPv4 ones', async () => {
    const dp = new EmulatorDatapath('node-1');
    await dp.apply(bundle);
    const flows: [from: number, to: number, port: number][] = [];
    for (const from of [10, 11, 12])
      for (const to of [10, 11, 12]) for (const port of [80, 8080, 9090]) if (from !== to) flows.push([from, to, port]);
    for (const [from, to, port] of flows) {
      const a = await dp.verdict({ src: v4(from), dst: v4(to), protocol: 'TCP', port });
      const b = await dp.verdict({ src: v6(from), dst: v6(to), protocol: 'TCP', port });
      expect(b, `${from} -> ${to} :${port}`).toEqual(a);
    }
    expect(await dp.verdict({ src: v6(11), dst: v6(10), protocol: 'TCP', port: 80 })).toMatchObject({
      verdict: 'allow',
      reason: 'policy-allow',
    });
    expect(await dp.verdict({ src: v6(12), dst: v6(10), protocol: 'TCP', port: 80 })).toEqual({
      verdict: 'deny',
      endpoint: 'default/deathstar',
      direction: 'ingress',
      reason: 'default-deny',
    });
    expect(await dp.verdict({ src: v6(11), dst: v6(10), protocol: 'TCP', port: 9090 })).toMatchObject({
      verdict: 'deny',
      endpoint: 'default/deathstar',
      direction: 'ingress',
      reason: 'policy-deny',
    });
    // However an address is spelled, it is the same endpoint and the same identity.
    expect(await dp.verdict({ src: 'fd00:200:0:0:0:0:0:11', dst: 'FD00:0200::0010', protocol: 'TCP', port: 80 })).toEqual(
      await dp.verdict({ src: v6(11), dst: v6(10), protocol: 'TCP', port: 80 }),
    );
    expect(dp.identityOf(v6(11))).toBe(dp.identityOf(v4(11)));
    expect(dp.identityOf(v6(11))).not.toBe(dp.identityOf(v6(12)));
    expect(dp.identityOf('2001:db8::99')).toBe(2);
  });

  it('learns IPv6 toFQDNs answers as IPv4 ones, until their TTL', async () => {
    const dp = new EmulatorDatapath('node-1');
    await dp.apply(fqdn);
    const xwing = (src: string, dst: string): Flow => ({ src, dst, protocol: 'TCP', port: 443 });
    expect((await dp.verdict(xwing(v6(12), '2001:db8::7'))).verdict).toBe('deny');
    const identity = (fqdn.tables.get('fqdn_selectors') as { identity: number }[])[0]!.identity;
    // As the DNS parser spells an AAAA answer; the flow names it compressed.
    dp.learnFqdn('2001:db8:0:0:0:0:0:7', identity, 2);
    dp.learnFqdn('203.0.113.7', identity, 2);
    expect(dp.identityOf('2001:db8::7')).toBe(identity);
    expect(await dp.verdict(xwing(v6(12), '2001:db8::7'))).toMatchObject({ verdict: 'allow', reason: 'policy-allow' });
    expect(await dp.verdict(xwing(v4(12), '203.0.113.7'))).toMatchObject({ verdict: 'allow', reason: 'policy-allow' });
    expect((await dp.verdict(xwing(v6(12), '2001:db8::8'))).verdict).toBe('deny');
    expect((await dp.verdict({ ...xwing(v6(12), '2001:db8::7'), port: 80 })).verdict).toBe('deny');
    expect(
      dp
        .learnedAddresses()
        .map((l) => l.address)
        .sort(),
    ).toEqual(['2001:db8::7', '203.0.113.7']);
    // A new bundle keeps what was learned.
    await dp.apply({ ...fqdn, digest: `${fqdn.digest}-again` });
    expect((await dp.verdict(xwing(v6(12), '2001:db8::7'))).verdict).toBe('allow');
    expect(dp.expireFqdn(Date.now() + 1000)).toBe(0);
    expect(dp.expireFqdn(Date.now() + 2500)).toBe(2);
    expect((await dp.verdict(xwing(v6(12), '2001:db8::7'))).verdict).toBe('deny');
    expect(() => dp.learnFqdn('not-an-address', identity, 2)).toThrow(/not an IPv4 or IPv6 address/);
  });

  it('an image unchanged since the last apply (same digest and shape) is not decoded again', async () => {
    const dp = new EmulatorDatapath('node-1');
    await dp.apply(bundle);
    const allowed = await dp.verdict({ src: v6(11), dst: v6(10), protocol: 'TCP', port: 80 });
    // Bytes that would decide otherwise (all zero: a /0 allow of nothing) under the same digest: the decoded image is reused.
    const zeroed = {
      ...bundle,
      digest: `${bundle.digest}-2`,
      images: bundle.images.map((i) => (i.image.name === 'policy' ? { ...i, bytes: Buffer.alloc(i.bytes.length) } : i)),
    };
    await dp.apply(zeroed);
    expect(await dp.verdict({ src: v6(11), dst: v6(10), protocol: 'TCP', port: 80 })).toEqual(allowed);
    // A fresh datapath decodes them, and decides otherwise.
    const fresh = new EmulatorDatapath('node-1');
    await fresh.apply(zeroed);
    expect(await fresh.verdict({ src: v6(11), dst: v6(10), protocol: 'TCP', port: 80 })).not.toEqual(allowed);
  });

  it('under audit mode the agent answers a would-be drop as allowed and audited, as the kernel passes it', async () => {
    const audited = landing.replace(
      'metadata: {name: rule1, namespace: default}',
      'metadata: {name: rule1, namespace: default, annotations: {weir.dev/audit: "true"}}',
    );
    const input = await compile([audited], 'audit');
    const dp = new EmulatorDatapath('node-1');
    await dp.apply(input);
    expect(await dp.verdict({ src: v6(11), dst: v6(10), protocol: 'TCP', port: 9090 })).toMatchObject({
      verdict: 'allow',
      endpoint: 'default/deathstar',
      direction: 'ingress',
      reason: 'policy-deny',
      audit: true,
    });
    expect(await dp.verdict({ src: v6(12), dst: v6(10), protocol: 'TCP', port: 80 })).toEqual({
      verdict: 'allow',
      endpoint: 'default/deathstar',
      direction: 'ingress',
      reason: 'default-deny',
      audit: true,
    });
    // What the policy allows is answered as before.
    expect(await dp.verdict({ src: v6(11), dst: v6(10), protocol: 'TCP', port: 80 })).toMatchObject({
      verdict: 'allow',
      reason: 'policy-allow',
    });
    const { DatapathEmulator } = await import('../../compiler/verify/network-emulator.js');
    const model = DatapathEmulator.fromImages('node-1', input.images, input.tables);
    const deathstar = model.endpoint('default/deathstar')!;
    expect(model.decide(deathstar, 0, model.identityOf('node-1', v6(11)), 6, 9090)).toMatchObject({
      verdict: 'allow',
      action: 'deny',
      audit: true,
    });
  });

  it('an apply is all or nothing: a bad image leaves the bundle in force', async () => {
    const dp = new EmulatorDatapath('node-1');
    await dp.apply(bundle);
    const before = await dp.verdict({ src: v6(12), dst: v6(10), protocol: 'TCP', port: 80 });
    const policy = fqdn.images.findIndex((i) => i.image.name === 'policy');
    const broken = { ...fqdn, images: fqdn.images.map((i, n) => (n === policy ? { ...i, bytes: i.bytes.subarray(1) } : i)) };
    await expect(dp.apply(broken)).rejects.toThrow(/records of 28 bytes expected/);
    const sized = {
      ...fqdn,
      images: fqdn.images.map((i, n) => (n === policy ? { ...i, image: { ...i.image, keySize: 16, valueSize: 12 } } : i)),
    };
    await expect(dp.apply(sized)).rejects.toThrow('policy image has key/value sizes 16/12; weir_net.h says 12/16');
    const orphan = { ...fqdn, tables: new Map([...fqdn.tables, ['endpoints', []]]) };
    await expect(dp.apply(orphan)).rejects.toThrow(/has no row in the endpoints table/);
    expect(dp.current()).toBe(bundle.digest);
    expect(await dp.verdict({ src: v6(12), dst: v6(10), protocol: 'TCP', port: 80 })).toEqual(before);
  });
});
