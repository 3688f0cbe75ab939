// Runs inside the test's network namespace (see fqdn.test.ts): compiles a toFQDNs policy with the
// project compiler, applies it to an emulator datapath, puts the agent's DNS proxy in front of
// dnsmasq and reports, as JSON on stdout, what the datapath decided before and after lookups (A, then AAAA).
import { promises as dnsp } from 'node:dns';
import { nodeManifest } from '../../controller/bundle/codec.js';
import { EmulatorDatapath } from '../../controller/agent/emulated-datapath.js';
import { DnsProxy } from '../../controller/agent/dns-proxy.js';
import { ProjectCompiler } from '../../controller/reconcile/compiler.js';
import { silentLogger } from '../../controller/reconcile/log.js';
import { scenarioPods } from '../../controller/demo/scenario.js';

const [upstreamPort, scenario] = process.argv.slice(2);
const dnsRule = `  - toEntities: [world]
    toPorts: [{ports: [{port: "53", protocol: ANY}], rules: {dns: [{matchPattern: "*.example.com"}]}}]
`;
const policy = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api-access, namespace: default}
spec:
  endpointSelector: {matchLabels: {class: xwing}}
  egress:
  - toFQDNs: [{matchName: api.example.com}]
    toPorts: [{ports: [{port: "443", protocol: TCP}]}]
${scenario === 'dns-rule' ? dnsRule : ''}`;

// The scenario's pods, dual-stack: each keeps its IPv4 address and gets fd00:200::<same last octet>.
const pods = scenarioPods.replace(/status: \{podIP: (10\.200\.0\.(\d+))\}/g, 'status: {podIPs: [{ip: $1}, {ip: "fd00:200::$2"}]}');
const r = await new ProjectCompiler().compileFiles(
  [
    { file: 'pods.yaml', bytes: Buffer.from(pods) },
    { file: 'policy.yaml', bytes: Buffer.from(policy) },
  ],
  'fqdn-test',
);
if (!r.bundle) throw new Error(JSON.stringify(r.diagnostics));
const nm = nodeManifest(r.bundle.manifest, r.bundle.digest, 'node-1');
const tables = new Map<string, unknown>(
  nm.manifest.tables.map((t) => [t.name, JSON.parse(new TextDecoder().decode(r.bundle!.blobs.get(t.digest)!))]),
);
const dp = new EmulatorDatapath('node-1');
await dp.apply({
  digest: r.bundle.digest,
  manifest: nm.manifest,
  images: nm.manifest.maps.map((image) => ({ image, bytes: Buffer.from(r.bundle!.blobs.get(image.digest)!) })),
  tables,
});
const proxy = new DnsProxy({
  listen: { host: '127.0.0.1', port: 0 },
  upstream: { host: '127.0.0.1', port: Number(upstreamPort) },
  tables: () => tables,
  sink: dp,
  logger: silentLogger(),
});
const addr = await proxy.start();
const resolver = new dnsp.Resolver({ timeout: 2000, tries: 1 });
resolver.setServers([`${addr.host}:${addr.port}`]);
const xwingTo = async (ip: string) => (await dp.verdict({ src: '10.200.0.12', dst: ip, protocol: 'TCP', port: 443 })).verdict;

const out: Record<string, unknown> = { fqdnSelectors: tables.get('fqdn_selectors') };
out['before'] = await xwingTo('203.0.113.7');
out['answer'] = await resolver.resolve4('api.example.com', { ttl: true });
out['after'] = await xwingTo('203.0.113.7');
out['otherAddress'] = await xwingTo('203.0.113.8');
out['learned'] = proxy.learned.map((l) => ({ ip: l.ip, identity: l.identity, selector: l.selector }));
out['refused'] = await resolver.resolve4('evil.org').then(
  () => 'answered',
  (e: NodeJS.ErrnoException) => e.code,
);
await new Promise((res) => setTimeout(res, 3200)); // past dnsmasq's --local-ttl=2
out['expired'] = dp.expireFqdn();
out['afterTtl'] = await xwingTo('203.0.113.7');
// IPv6 the same way: an AAAA answer is learned under the selector identity (xwing's IPv6 address
// is its endpoint too) and leaves with its TTL.
const xwingTo6 = async (ip: string) => (await dp.verdict({ src: 'fd00:200::12', dst: ip, protocol: 'TCP', port: 443 })).verdict;
out['before6'] = await xwingTo6('2001:db8::7');
out['answer6'] = await resolver.resolve6('api.example.com', { ttl: true });
out['learned6'] = proxy.learned.filter((l) => l.ip.includes(':')).map((l) => ({ ip: l.ip, identity: l.identity, selector: l.selector }));
out['after6'] = await xwingTo6('2001:db8::7');
out['otherAddress6'] = await xwingTo6('2001:db8::8');
await new Promise((res) => setTimeout(res, 3200));
out['expired6'] = dp.expireFqdn();
out['afterTtl6'] = await xwingTo6('2001:db8::7');
await proxy.stop();
process.stdout.write(JSON.stringify(out) + '\n');
