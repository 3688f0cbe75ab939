// Property: for random policies over random inventories, the reference evaluator and the
// datapath emulator over the lowered images agree on every equivalence class.
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { assembleBundle } from '../../compiler/bundle/assemble.js';
import { lowerNetwork } from '../../compiler/lower/network/images.js';
import { compileNetwork, loadInventory } from '../../compiler/ir/network/index.js';
import { verifyNetwork } from '../../compiler/verify/verify.js';
import { docs } from './helpers.js';

const apps = ['web', 'db', 'job', 'cache'];
const namespaces = ['a', 'b'];

const inventoryArb = fc
  .array(
    fc.record({
      ns: fc.constantFrom(...namespaces),
      app: fc.constantFrom(...apps),
      tier: fc.constantFrom('front', 'back', undefined),
      node: fc.constantFrom('n1', 'n2'),
      named: fc.boolean(),
    }),
    { minLength: 2, maxLength: 7 },
  )
  .map((pods) => ({
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Inventory',
    metadata: { name: 'gen' },
    spec: {
      nodes: [
        { name: 'n1', ips: ['192.168.9.1'] },
        { name: 'n2', ips: ['192.168.9.2'] },
      ],
      namespaces: [
        { name: 'a', labels: { team: 'red' } },
        { name: 'b', labels: { team: 'blue' } },
      ],
      pods: pods.map((p, i) => ({
        namespace: p.ns,
        name: `${p.app}-${i}`,
        labels: { app: p.app, ...(p.tier ? { tier: p.tier } : {}) },
        ips: [`10.9.${i >> 8}.${(i & 255) + 1}`],
        node: p.node,
        ...(p.named ? { ports: [{ name: 'svc', port: 7000 + i }] } : {}),
      })),
    },
  }));

const portArb = fc.oneof(
  fc.record({ port: fc.constantFrom('80', '443', '0', '8080', 'svc'), protocol: fc.constantFrom('TCP', 'UDP', 'ANY') }),
  fc.record({
    port: fc.integer({ min: 1000, max: 1100 }).map(String),
    endPort: fc.integer({ min: 1100, max: 1300 }),
    protocol: fc.constantFrom('TCP', 'UDP'),
  }),
);
const l7Arb = fc.option(
  fc.record({
    http: fc.array(fc.record({ method: fc.constantFrom('GET', 'POST'), path: fc.constantFrom('/a', '/b/.*') }), {
      minLength: 1,
      maxLength: 2,
    }),
  }),
  { nil: undefined },
);
const peerArb = fc.oneof(
  fc.record({
    fromEndpoints: fc.array(
      fc.oneof(
        fc.constant({}),
        fc.record({ matchLabels: fc.record({ app: fc.constantFrom(...apps) }) }),
        fc.record({
          matchLabels: fc.record({
            tier: fc.constantFrom('front', 'back'),
            'k8s:io.kubernetes.pod.namespace': fc.constantFrom(...namespaces),
          }),
        }),
      ),
      { minLength: 1, maxLength: 2 },
    ),
  }),
  fc.record({ fromEntities: fc.subarray(['world', 'cluster', 'host', 'remote-node', 'all'], { minLength: 1, maxLength: 2 }) }),
  fc.record({ fromCIDRSet: fc.constant([{ cidr: '203.0.113.0/24', except: ['203.0.113.128/25'] }]) }),
  fc.constant({}),
);

function toEgress(r: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) out[k.startsWith('from') ? 'to' + k.slice(4) : k] = v;
  return out;
}

const ruleArb = (deny: boolean) =>
  fc
    .record({
      peer: peerArb,
      ports: fc.option(fc.array(portArb, { minLength: 1, maxLength: 2 }), { nil: undefined }),
      l7: deny ? fc.constant(undefined) : l7Arb,
    })
    .map(({ peer, ports, l7 }) => {
      const r: Record<string, unknown> = { ...peer };
      if (ports)
        r['toPorts'] = [
          { ports, ...(l7 && !ports.some((p) => p.protocol !== 'TCP' || p.port === 'svc' || 'endPort' in p) ? { rules: l7 } : {}) },
        ];
      return r;
    });

const policyArb = fc.record({
  ns: fc.constantFrom(...namespaces),
  sel: fc.oneof(fc.constant({}), fc.record({ matchLabels: fc.record({ app: fc.constantFrom(...apps) }) })),
  ingress: fc.option(fc.array(ruleArb(false), { maxLength: 2 }), { nil: undefined }),
  ingressDeny: fc.option(fc.array(ruleArb(true), { minLength: 1, maxLength: 1 }), { nil: undefined }),
  egress: fc.option(fc.array(ruleArb(false), { maxLength: 2 }), { nil: undefined }),
  egressDeny: fc.option(fc.array(ruleArb(true), { minLength: 1, maxLength: 1 }), { nil: undefined }),
  audit: fc.boolean(),
  noDefaultDeny: fc.boolean(),
});

describe('evaluator and datapath emulator agree (fast-check)', () => {
  it('on every equivalence class of random policies and inventories', () => {
    fc.assert(
      fc.property(
        inventoryArb,
        fc.array(policyArb, { minLength: 1, maxLength: 4 }),
        fc.constantFrom('auto', 'policy'),
        (inv, pols, mode) => {
          const policyDocs = pols.map((p, i) => ({
            apiVersion: 'cilium.io/v2',
            kind: 'CiliumNetworkPolicy',
            metadata: { name: `p${i}`, namespace: p.ns, ...(p.audit ? { annotations: { 'weir.dev/audit': 'true' } } : {}) },
            spec: {
              endpointSelector: p.sel,
              ...(p.noDefaultDeny ? { enableDefaultDeny: { ingress: false } } : {}),
              ...(p.ingress ? { ingress: p.ingress } : {}),
              ...(p.ingressDeny ? { ingressDeny: p.ingressDeny } : {}),
              ...(p.egress ? { egress: p.egress.map(toEgress) } : {}),
              ...(p.egressDeny ? { egressDeny: p.egressDeny.map(toEgress) } : {}),
            },
          }));
          const text = policyDocs.map((d) => stringify(d)).join('---\n');
          const inventory = loadInventory(docs('inv.yaml', stringify(inv))).inventory;
          // Both of Cilium's allow-localhost behaviours: the host reaches local pods (auto), or needs policy.
          const { ir, diagnostics } = compileNetwork(docs('p.yaml', text), inventory, { allowLocalhost: mode as 'auto' | 'policy' });
          const errors = diagnostics.filter((d) => d.severity === 'error' && d.rule !== 'network/unknown-named-port');
          expect(errors).toEqual([]);
          const lowered = lowerNetwork(ir);
          const b = assembleBundle([lowered.output], { source: { paths: [] }, compilerVersion: 't', abi: { digest: '', version: 1 } });
          const report = verifyNetwork(ir, {
            manifest: b.manifest,
            blob: (d) => b.blobs.get(d)!,
            table: <T>(n: string) => {
              const t = b.manifest.tables.find((x) => x.name === n);
              return t ? (JSON.parse(new TextDecoder().decode(b.blobs.get(t.digest)!)) as T) : undefined;
            },
          });
          expect(report.problems).toEqual([]);
          expect(report.mismatches.slice(0, 3)).toEqual([]);
          expect(report.classes).toBeGreaterThan(0);
        },
      ),
      {
        numRuns: Number(process.env['WEIR_PROPERTY_RUNS'] ?? 40),
        seed: process.env['WEIR_PROPERTY_SEED'] ? Number(process.env['WEIR_PROPERTY_SEED']) : undefined,
      },
    );
  }, 120_000);
});
