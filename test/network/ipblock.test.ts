// A NetworkPolicy ipBlock covers every address in its CIDR outside its exceptions, pod addresses
// included. The three ipBlock tests of Kubernetes' NetworkPolicy e2e suite
// (kubernetes/kubernetes test/e2e/network/netpol/network_policy.go at commit
// 008b3652959ca58af8be3fb5b6ecfe9ae7638282) over the x/y/z × a/b/c model, and a property test
// that the compiled maps (the datapath emulator) and the reference evaluator agree with the
// block's reading of each pod address.
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { explainFlow, renderExplanation } from '../../compiler/explain/explain.js';
import { ipBlockContains } from '../../compiler/identity/allocate.js';
import { evaluateFlow } from '../../compiler/ir/network/evaluate.js';
import { compileNetwork, loadInventory } from '../../compiler/ir/network/index.js';
import { lowerNetwork } from '../../compiler/lower/network/images.js';
import { parsePrefix } from '../../compiler/model/cidr.js';
import { compileRevision } from '../../compiler/plan/network.js';
import { decisionText } from '../../compiler/plan/render/words.js';
import { docs } from './helpers.js';
import { compile, egressPolicy, expectMapsAgree, expectReachability, modelInventory, podIp, reachability } from './netpol-e2e-model.js';

describe('Kubernetes NetworkPolicy e2e: ipBlock (network_policy.go @ 008b3652)', () => {
  it('should allow egress access to server in CIDR block', () => {
    const ir = compile([egressPolicy('allow-client-a-via-cidr-egress-rule', [{ ipBlock: { cidr: `${podIp('y', 'b')}/32` } }])]);
    expectReachability(ir, reachability({ denyAllFrom: 'x/a', allow: [['x/a', 'y/b']] }));
  });

  it('should enforce except clause while egress access to server in CIDR block', () => {
    // makeLargeCIDRForIP: the /4 around x/b's address.
    const ir = compile([
      egressPolicy('allow-client-a-via-cidr-egress-rule', [{ ipBlock: { cidr: '0.0.0.0/4', except: [`${podIp('x', 'b')}/32`] } }]),
    ]);
    expectReachability(ir, reachability({ deny: [['x/a', 'x/b']] }));
  });

  it('should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed', () => {
    const first = compile([
      egressPolicy('allow-client-a-via-cidr-egress-rule', [{ ipBlock: { cidr: '0.0.0.0/4', except: [`${podIp('x', 'b')}/32`] } }]),
    ]);
    expectReachability(first, reachability({ deny: [['x/a', 'x/b']] }));
    // UpdatePolicy: the policy of the same name now allows only x/b's address.
    const updated = compile([egressPolicy('allow-client-a-via-cidr-egress-rule', [{ ipBlock: { cidr: `${podIp('x', 'b')}/32` } }])]);
    expectReachability(updated, reachability({ denyAllFrom: 'x/a', allow: [['x/a', 'x/b']] }));
  });

  it('ipBlock matches pods as sources too (ingress), and pods sharing labels are told apart by address', () => {
    const ir = compile([
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'from-block', namespace: 'x' },
        spec: {
          podSelector: { matchLabels: { pod: 'a' } },
          ingress: [{ from: [{ ipBlock: { cidr: '10.0.2.0/24', except: ['10.0.2.11/32'] } }] }],
        },
      },
    ]);
    // y/a and y/c are inside, y/b (10.0.2.11) is excepted; z/a shares y/a's pod label but not its namespace.
    expectReachability(ir, reachability({ deny: ['x/b', 'x/c', 'y/b', 'z/a', 'z/b', 'z/c'].map((f) => [f, 'x/a'] as [string, string]) }));
  });

  it('a dual-stack pod with one address outside the block is outside it: no address the block leaves out is allowed', () => {
    // y/b gets an IPv6 address too; the IPv4 block covers only its IPv4 address. Kubernetes would allow
    // x/a -> 10.0.2.11 and deny x/a -> fd00::2:11; weir has one identity for y/b and denies both.
    const inv = structuredClone(modelInventory);
    inv.spec.pods.find((p) => p.namespace === 'y' && p.name === 'b')!.ips.push('fd00::2:11');
    const ir = compile([egressPolicy('allow-client-a-via-cidr-egress-rule', [{ ipBlock: { cidr: '10.0.2.0/24' } }])], inv);
    const to = (peer: object) => evaluateFlow(ir, { from: { workload: 'x/a' }, to: peer as never, protocol: 'TCP', port: 80 }).verdict;
    expect([to({ workload: 'y/b' }), to({ ip: podIp('y', 'b') }), to({ ip: 'fd00::2:11' })]).toEqual(['deny', 'deny', 'deny']);
    // Its single-stack neighbours stay inside.
    expect([to({ workload: 'y/a' }), to({ workload: 'y/c' })]).toEqual(['allow', 'allow']);
    expectMapsAgree(ir);
  });

  it('an except that is all of its cidr is refused, as the API server refuses it', () => {
    const inv = loadInventory(docs('inventory.yaml', stringify(modelInventory))).inventory;
    const policy = egressPolicy('p', [{ ipBlock: { cidr: '10.0.2.0/24', except: ['10.0.2.128/25', '10.0.2.0/24'] } }]);
    const { diagnostics } = compileNetwork(docs('policies.yaml', stringify(policy)), inv);
    expect(diagnostics.map((d) => `${d.severity} ${d.rule} ${d.file}:${d.line}:${d.column} ${d.message}`)).toEqual([
      'error network/invalid-cidr policies.yaml:18:17 except 10.0.2.0/24 is all of cidr 10.0.2.0/24: Kubernetes requires a strict subset',
    ]);
  });

  it('explain names the ipBlock and the pod address it covers', () => {
    const ir = compile([
      egressPolicy('allow-client-a-via-cidr-egress-rule', [{ ipBlock: { cidr: '10.0.2.0/24', except: [`${podIp('y', 'b')}/32`] } }]),
    ]);
    const x = explainFlow(ir, lowerNetwork(ir), { from: { workload: 'x/a' }, to: { workload: 'y/c' }, protocol: 'TCP', port: 80 });
    expect(x.verdict).toBe('allow');
    expect(x.steps[0]!.ipBlock).toEqual({ pod: 'y/c', address: podIp('y', 'c'), block: '10.0.2.0/24 except 10.0.2.11/32' });
    expect(renderExplanation(ir, x)).toContain(
      '    ipBlock:   y/c has address 10.0.2.12 in ipBlock 10.0.2.0/24 except 10.0.2.11/32 (a NetworkPolicy ipBlock covers pod addresses)\n',
    );
    const excepted = explainFlow(ir, lowerNetwork(ir), { from: { workload: 'x/a' }, to: { workload: 'y/b' }, protocol: 'TCP', port: 80 });
    expect(excepted.verdict).toBe('deny');
    expect(excepted.steps[0]!.ipBlock).toBeUndefined();
  });

  it('the plan names the ipBlock and the pod address with the deciding rule', async () => {
    const policy = egressPolicy('allow-client-a-via-cidr-egress-rule', [
      { ipBlock: { cidr: '10.0.2.0/24', except: [`${podIp('y', 'b')}/32`] } },
    ]);
    const rev = await compileRevision(docs('policies.yaml', stringify(policy)), docs('inventory.yaml', stringify(modelInventory)));
    const peer = (key: string) => rev.workloads.find((w) => `${w.namespace}/${w.name}` === key)!;
    const d = rev.oracle!({ src: peer('x/a'), dst: peer('y/c'), protocol: 'TCP', port: 80 });
    expect(d.ipBlock).toEqual({ pod: 'y/c', address: podIp('y', 'c'), block: '10.0.2.0/24 except 10.0.2.11/32' });
    expect(decisionText(d)).toBe(
      'allow by x/allow-client-a-via-cidr-egress-rule policies.yaml:13 (ipBlock 10.0.2.0/24 except 10.0.2.11/32 covers y/c at 10.0.2.12)',
    );
    const excepted = rev.oracle!({ src: peer('x/a'), dst: peer('y/b'), protocol: 'TCP', port: 80 });
    expect(excepted.verdict).toBe('deny');
    expect(excepted.ipBlock).toBeUndefined();
  });

  it('a Cilium CIDR rule keeps Cilium semantics: it selects no pod', () => {
    const ir = compile([
      {
        apiVersion: 'cilium.io/v2',
        kind: 'CiliumNetworkPolicy',
        metadata: { name: 'cidr', namespace: 'x' },
        spec: { endpointSelector: { matchLabels: { pod: 'a' } }, egress: [{ toCIDR: [`${podIp('y', 'b')}/32`] }] },
      },
    ]);
    expect(evaluateFlow(ir, { from: { workload: 'x/a' }, to: { workload: 'y/b' }, protocol: 'TCP', port: 80 }).verdict).toBe('deny');
    expect(evaluateFlow(ir, { from: { workload: 'x/a' }, to: { ip: '203.0.113.1' }, protocol: 'TCP', port: 80 }).verdict).toBe('deny');
    expectMapsAgree(ir);
  });
});

describe('ipBlock identity refinement (fast-check)', () => {
  /** The network of `10.9.octet.low` at `bits`, written canonically. */
  const net = (octet: number, low: number, bits: number): string => {
    const n = ((10 << 24) | (9 << 16) | (octet << 8) | low) >>> 0;
    const m = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    const a = (n & m) >>> 0;
    return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${bits}`;
  };
  const blockArb = fc
    .record({
      octet: fc.integer({ min: 0, max: 3 }),
      low: fc.integer({ min: 0, max: 255 }),
      bits: fc.constantFrom(22, 24, 26, 28, 30, 32),
      except: fc.array(
        fc.record({ octet: fc.integer({ min: 0, max: 3 }), low: fc.integer({ min: 0, max: 255 }), extra: fc.integer({ min: 1, max: 8 }) }),
        { maxLength: 2 },
      ),
    })
    .map(({ octet, low, bits, except }) => {
      const cidr = net(octet, low, bits);
      // Each exception is a strict subset of the block (as the API server requires): the block's address
      // with some low bits of another, at a longer length (a /32 block has none).
      const ex = except
        .filter((e) => bits + e.extra <= 32)
        .map((e) => {
          const eb = bits + e.extra;
          const keep = (0xffffffff << (32 - bits)) >>> 0;
          const mixed =
            ((((10 << 24) | (9 << 16) | (octet << 8) | low) & keep) | (((10 << 24) | (9 << 16) | (e.octet << 8) | e.low) & ~keep)) >>> 0;
          return net((mixed >>> 8) & 255, mixed & 255, eb);
        });
      return { cidr, except: [...new Set(ex)] };
    });
  const podArb = fc.record({
    ns: fc.constantFrom('a', 'b'),
    app: fc.constantFrom('web', 'db'),
    octet: fc.integer({ min: 0, max: 3 }),
    low: fc.integer({ min: 1, max: 254 }),
    // Dual-stack: an IPv6 address too, which no (IPv4) block covers.
    v6: fc.boolean(),
  });

  it('the maps and the evaluator allow exactly the pods whose addresses are all in cidr minus except', () => {
    fc.assert(
      fc.property(
        fc.array(podArb, { minLength: 2, maxLength: 10 }),
        fc.array(blockArb, { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        (pods, blocks, ingress) => {
          const ips = [...new Set(pods.map((p) => `10.9.${p.octet}.${p.low}`))];
          const inventory = {
            apiVersion: 'weir.dev/v1alpha1',
            kind: 'Inventory',
            metadata: { name: 'gen' },
            spec: {
              nodes: [{ name: 'n1', ips: ['192.168.9.1'] }],
              namespaces: [{ name: 'a' }, { name: 'b' }, { name: 'probe' }],
              pods: [
                { namespace: 'probe', name: 'subject', labels: { app: 'subject' }, ips: ['172.16.0.1'], node: 'n1' },
                ...ips.map((ip, i) => ({
                  namespace: pods[i]!.ns,
                  name: `p${i}`,
                  labels: { app: pods[i]!.app },
                  ips: pods[i]!.v6 ? [ip, `fd00::${i + 1}`] : [ip],
                  node: 'n1',
                })),
              ],
            },
          };
          const peers = blocks.map((b) => ({ ipBlock: b.except.length ? b : { cidr: b.cidr } }));
          const ir = compile(
            [
              {
                apiVersion: 'networking.k8s.io/v1',
                kind: 'NetworkPolicy',
                metadata: { name: 'blocks', namespace: 'probe' },
                spec: {
                  podSelector: {},
                  policyTypes: [ingress ? 'Ingress' : 'Egress'],
                  ...(ingress ? { ingress: [{ from: peers }] } : { egress: [{ to: peers }] }),
                },
              },
            ],
            inventory,
          );
          ips.forEach((ip, i) => {
            // A pod has one identity: it is inside a block only when all its addresses are.
            const inside =
              !pods[i]!.v6 &&
              blocks.some((b) => ipBlockContains({ prefix: parsePrefix(b.cidr)!, except: b.except.map((x) => parsePrefix(x)!) }, ip));
            const pod = { workload: `${pods[i]!.ns}/p${i}` };
            const subject = { workload: 'probe/subject' };
            const v = evaluateFlow(
              ir,
              ingress ? { from: pod, to: subject, protocol: 'TCP', port: 80 } : { from: subject, to: pod, protocol: 'TCP', port: 80 },
            );
            expect(`${ip} ${v.verdict}`).toBe(`${ip} ${inside ? 'allow' : 'deny'}`);
          });
          expectMapsAgree(ir);
        },
      ),
      {
        numRuns: Number(process.env['WEIR_PROPERTY_RUNS'] ?? 40),
        seed: process.env['WEIR_PROPERTY_SEED'] ? Number(process.env['WEIR_PROPERTY_SEED']) : undefined,
      },
    );
  }, 120_000);
});
