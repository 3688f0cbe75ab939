// Property: for random policies over random inventories, compiled by the network compiler, the real
// endpoint program (BPF_PROG_TEST_RUN) agrees with the compiler's datapath emulator on every
// equivalence class — what `weir verify --kernel` checks, on inputs nobody wrote by hand.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { assembleBundle } from '../../compiler/bundle/assemble.js';
import { readBundle, writeBundle } from '../../compiler/bundle/io.js';
import { loadSources, type PolicyDocument } from '../../compiler/load/index.js';
import { lowerNetwork } from '../../compiler/lower/network/images.js';
import { compileNetwork, loadInventory } from '../../compiler/ir/network/index.js';
import { kernelVerifyOptions } from '../../cli/verify.js';
import { formatKernelReport, verifyKernel } from '../../compiler/verify/kernel.js';
import { skipKernel } from '../kernel-env.js';
import { ensureBuilt } from './helpers.js';

function docs(file: string, text: string): PolicyDocument[] {
  const r = loadSources([{ file, bytes: new TextEncoder().encode(text) }]);
  if (r.diagnostics.length) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r.documents;
}

const apps = ['web', 'db', 'job'];
const inventoryArb = fc
  .array(fc.record({ ns: fc.constantFrom('a', 'b'), app: fc.constantFrom(...apps), node: fc.constantFrom('n1', 'n2') }), {
    minLength: 2,
    maxLength: 5,
  })
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
        labels: { app: p.app },
        ips: [`10.9.0.${i + 1}`],
        node: p.node,
      })),
    },
  }));

const portsArb = fc.option(
  fc.array(
    fc.oneof(
      fc.record({ port: fc.constantFrom('80', '443', '53', '0'), protocol: fc.constantFrom('TCP', 'UDP', 'ANY') }),
      fc.record({
        port: fc.integer({ min: 1000, max: 1100 }).map(String),
        endPort: fc.integer({ min: 1100, max: 1400 }),
        protocol: fc.constantFrom('TCP', 'UDP', 'SCTP'),
      }),
    ),
    { minLength: 1, maxLength: 2 },
  ),
  { nil: undefined },
);
const peerArb = fc.oneof(
  fc.record({
    fromEndpoints: fc.constantFrom(
      [{}],
      [{ matchLabels: { app: 'web' } }],
      [{ matchLabels: { app: 'db', 'k8s:io.kubernetes.pod.namespace': 'b' } }],
    ),
  }),
  fc.record({ fromEntities: fc.subarray(['world', 'cluster', 'host', 'all'], { minLength: 1, maxLength: 2 }) }),
  fc.record({ fromCIDRSet: fc.constant([{ cidr: '203.0.113.0/24', except: ['203.0.113.128/25'] }]) }),
);
const ruleArb = (l7: boolean) =>
  fc.record({ peer: peerArb, ports: portsArb, http: fc.boolean() }).map(({ peer, ports, http }) => ({
    ...peer,
    ...(ports
      ? {
          toPorts: [
            {
              ports,
              ...(l7 && http && ports.every((p) => p.protocol === 'TCP' && !('endPort' in p) && p.port !== '0')
                ? { rules: { http: [{ method: 'GET', path: '/a' }] } }
                : {}),
            },
          ],
        }
      : {}),
  }));
const toEgress = (r: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(r).map(([k, v]) => [k.startsWith('from') ? 'to' + k.slice(4) : k, v]));
const policyArb = fc.record({
  ns: fc.constantFrom('a', 'b'),
  app: fc.option(fc.constantFrom(...apps), { nil: undefined }),
  ingress: fc.option(fc.array(ruleArb(true), { minLength: 1, maxLength: 2 }), { nil: undefined }),
  ingressDeny: fc.option(fc.array(ruleArb(false), { minLength: 1, maxLength: 1 }), { nil: undefined }),
  egress: fc.option(fc.array(ruleArb(true), { minLength: 1, maxLength: 2 }), { nil: undefined }),
  audit: fc.boolean(),
});

describe.skipIf(skipKernel())('kernel agrees with the emulator on random compiled policies', () => {
  it('on every equivalence class (fast-check)', async () => {
    ensureBuilt();
    await fc.assert(
      fc.asyncProperty(inventoryArb, fc.array(policyArb, { minLength: 1, maxLength: 3 }), async (inv, pols) => {
        const text = pols
          .map((p, i) =>
            stringify({
              apiVersion: 'cilium.io/v2',
              kind: 'CiliumNetworkPolicy',
              metadata: { name: `p${i}`, namespace: p.ns, ...(p.audit ? { annotations: { 'weir.dev/audit': 'true' } } : {}) },
              spec: {
                endpointSelector: p.app ? { matchLabels: { app: p.app } } : {},
                ...(p.ingress ? { ingress: p.ingress } : {}),
                ...(p.ingressDeny ? { ingressDeny: p.ingressDeny } : {}),
                ...(p.egress ? { egress: p.egress.map(toEgress) } : {}),
              },
            }),
          )
          .join('---\n');
        const inventory = loadInventory(docs('inv.yaml', stringify(inv))).inventory;
        const { ir, diagnostics } = compileNetwork(docs('p.yaml', text), inventory);
        expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
        const bundle = assembleBundle([lowerNetwork(ir).output], {
          source: { paths: [] },
          compilerVersion: 't',
          abi: { digest: '', version: 1 },
        });
        const dir = mkdtempSync(join(tmpdir(), 'wdp-prop-'));
        try {
          await writeBundle(dir, bundle);
          const rb = await readBundle(dir);
          const { classes, endpointFlags, count } = kernelVerifyOptions(rb, ir);
          const r = await verifyKernel(dir, { classes, endpointFlags });
          if (!r.ok) throw new Error(`${formatKernelReport(r)}\npolicies:\n${text}`);
          expect(r.classes).toBe(count);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      {
        numRuns: Number(process.env['WEIR_KERNEL_PROPERTY_RUNS'] ?? 5),
        seed: process.env['WEIR_PROPERTY_SEED'] ? Number(process.env['WEIR_PROPERTY_SEED']) : 7,
      },
    );
  }, 180_000);
});
