// ICMPv6 neighbour and listener discovery pass regardless of policy, as in Cilium: without them no
// IPv6 traffic works at all. The endpoint program, the datapath model and the reference evaluator
// agree, under BPF_PROG_TEST_RUN and on the wire with IPv6 addresses on the veths.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ICMPV6_POLICY_EXEMPT_TYPES, policyExempt } from '../../bpf/abi/net.js';
import { NetDatapath } from '../../bpf/net/loader.js';
import { IPPROTO } from '../../bpf/packet.js';
import { evaluateFlow } from '../../compiler/ir/network/evaluate.js';
import { compileNetwork, loadInventory } from '../../compiler/ir/network/index.js';
import { loadSources } from '../../compiler/load/index.js';
import { skipKernel } from '../kernel-env.js';
import { ipcacheImage, policyImage, run, type PolicyEntry } from './fixtures.js';
import { ensureBuilt } from './helpers.js';
import { Topology, removeLeftovers } from './netns.js';

const root = resolve(import.meta.dirname, '../..');
const { TCP, ICMPV6 } = IPPROTO;

/** The types the C function icmp6_policy_exempt accepts, read from its source. */
function exemptTypesInC(): Set<number> {
  const src = readFileSync(resolve(root, 'bpf/net/endpoint.bpf.c'), 'utf8');
  const body = /icmp6_policy_exempt\(__u8 type\)\s*\{([^}]*)\}/.exec(src)?.[1];
  if (!body) throw new Error('icmp6_policy_exempt not found in endpoint.bpf.c');
  const out = new Set<number>();
  for (const m of body.matchAll(/type >= (\d+) && type <= (\d+)/g)) for (let t = Number(m[1]); t <= Number(m[2]); t++) out.add(t);
  for (const m of body.matchAll(/type == (\d+)/g)) out.add(Number(m[1]));
  return out;
}

describe('ICMPv6 exempt from policy: one list, two readings', () => {
  it('the ABI list is the C program list', () => {
    expect([...exemptTypesInC()].sort((a, b) => a - b)).toEqual([...ICMPV6_POLICY_EXEMPT_TYPES].sort((a, b) => a - b));
    expect([...ICMPV6_POLICY_EXEMPT_TYPES].sort((a, b) => a - b)).toEqual([130, 131, 132, 133, 134, 135, 136, 137, 143]);
  });

  it('the reference evaluator allows neighbour discovery under default deny, and nothing else', () => {
    const text = `apiVersion: weir.dev/v1alpha1
kind: Inventory
metadata: {name: v6}
spec:
  namespaces: [{name: shop}]
  pods:
  - {namespace: shop, name: a, labels: {app: a}, ips: ["fd00:77:1::2"], node: node-1}
  - {namespace: shop, name: b, labels: {app: b}, ips: ["fd00:77:2::2"], node: node-1}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: b-only-from-a, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: b}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: a}}]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]
`;
    const docs = loadSources([{ file: 'v6.yaml', bytes: Buffer.from(text) }]).documents;
    const inv = loadInventory(docs.filter((d) => d.kind === 'Inventory'));
    const { ir, diagnostics } = compileNetwork(
      docs.filter((d) => d.family === 'network'),
      inv.inventory,
    );
    expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const flow = (type: number) =>
      evaluateFlow(ir, { from: { ip: 'fd00:99::1' }, to: { workload: 'shop/b' }, protocol: 'ICMPv6', port: type });
    for (let t = 0; t < 256; t++) {
      const v = flow(t);
      expect(v.verdict, `ICMPv6 type ${t}`).toBe(policyExempt(ICMPV6, t) ? 'allow' : 'deny');
      if (v.verdict === 'allow') expect(v.reason).toBe('icmpv6-exempt');
    }
  });
});

describe.skipIf(skipKernel())('ICMPv6 exempt from policy in the endpoint program', () => {
  let dp: NetDatapath;
  beforeAll(() => {
    ensureBuilt();
    dp = NetDatapath.open();
    // Ingress and egress enforced, nothing allowed: every other packet is a default deny.
    dp.setEndpoint(1, { endpointId: 9, identity: 400, flags: 3 });
    dp.applyImages([ipcacheImage([['fd00::2/128', 401]]), policyImage(9, [])]);
  });
  afterAll(() => dp?.close());

  it('passes router/neighbour discovery and MLD both ways and drops echo and other types (BPF_PROG_TEST_RUN)', () => {
    for (let t = 0; t < 256; t++) {
      const want = ICMPV6_POLICY_EXEMPT_TYPES.has(t) ? 'allow' : 'drop';
      expect(run(dp, 'ingress', { saddr: 'fd00::2', daddr: 'fd00::10', protocol: ICMPV6, dport: t }).verdict, `ingress type ${t}`).toBe(
        want,
      );
      expect(run(dp, 'egress', { saddr: 'fd00::10', daddr: 'fd00::2', protocol: ICMPV6, dport: t }).verdict, `egress type ${t}`).toBe(want);
    }
  });
});

describe.skipIf(skipKernel())('IPv6 on the wire under default deny (netns, veth)', () => {
  const topo = new Topology('wdp-6');
  let dp: NetDatapath;
  const A = 256;
  const B = 257;

  beforeAll(async () => {
    ensureBuilt();
    removeLeftovers('wdp-6');
    await topo.create([
      { name: 'a6', ports: [80] },
      { name: 'b6', ports: [80, 81] },
    ]);
    topo.inNode('sysctl', ['-q', '-w', 'net.ipv6.conf.all.forwarding=1']);
    for (const [i, p] of topo.pods.entries()) {
      const n = i + 1;
      topo.inNode('ip', ['-6', 'addr', 'add', `fd00:77:${n}::1/64`, 'dev', p.hostIf, 'nodad']);
      topo.inNode('ip', ['netns', 'exec', p.netns, 'ip', '-6', 'addr', 'add', `fd00:77:${n}::2/64`, 'dev', 'eth0', 'nodad']);
      topo.inNode('ip', ['netns', 'exec', p.netns, 'ip', '-6', 'route', 'add', 'default', 'via', `fd00:77:${n}::1`, 'dev', 'eth0']);
    }
    dp = NetDatapath.open({ pinDir: topo.pinDir });
    const rules = (peer: number): PolicyEntry[] => [
      { prefixlen: 64, identity: peer, direction: 'ingress', protocol: TCP, port: 80, verdict: 'allow', cookie: 1 },
      { prefixlen: 64, identity: peer, direction: 'egress', protocol: TCP, port: 80, verdict: 'allow', cookie: 2 },
    ];
    dp.applyImages([
      ipcacheImage([
        ['fd00:77:1::2/128', A],
        ['fd00:77:2::2/128', B],
        ['fd00:77::/32', 1], // the node's own addresses: host
      ]),
      policyImage(1, rules(B)),
      policyImage(2, rules(A)),
    ]);
    const endpoints = [
      { ifname: topo.pod('a6').hostIf, endpointId: 1, identity: A, flags: 3 },
      { ifname: topo.pod('b6').hostIf, endpointId: 2, identity: B, flags: 3 },
    ];
    topo.inNode(process.execPath, [
      '--import',
      'tsx',
      resolve(root, 'test/datapath/attach-helper.ts'),
      topo.pinDir,
      JSON.stringify(endpoints),
    ]);
  }, 60_000);

  afterAll(() => {
    dp?.close();
    topo.destroy();
  });

  it('a TCP connection the policy allows works over IPv6 (neighbour discovery passes both endpoints)', async () => {
    // Neither pod has the node's link-layer address yet: the connect needs NS/NA through both programs.
    const r = await topo.pod('a6').connect('fd00:77:2::2', 80, 3000);
    expect(r, JSON.stringify(r)).toMatchObject({ ok: true });
  });

  it('a port the policy does not allow stays denied over IPv6', async () => {
    const r = await topo.pod('a6').connect('fd00:77:2::2', 81, 500);
    expect(r.ok).toBe(false);
  });
});
