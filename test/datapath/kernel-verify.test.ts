// weir verify --kernel: the real program on scratch maps agrees with the expected verdict of every class,
// and a disagreement is reported with the class, the expectation and the kernel's answer.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatKernelReport, verifyKernel } from '../../compiler/verify/kernel.js';
import { IPPROTO } from '../../bpf/packet.js';
import { skipKernel } from '../kernel-env.js';
import { writeBundle } from './bundle.js';
import { ipcacheImage, policyImage, type PolicyEntry } from './fixtures.js';
import { ensureBuilt } from './helpers.js';

const { TCP, UDP, ICMP } = IPPROTO;
const ipcache: [string, number][] = [
  ['10.0.0.2/32', 301],
  ['10.0.1.0/24', 302],
  ['10.0.1.128/25', 303],
  ['fd00::2/128', 301],
];
const rules: PolicyEntry[] = [
  { prefixlen: 64, identity: 301, direction: 'ingress', protocol: TCP, port: 80, verdict: 'allow', cookie: 1 },
  { prefixlen: 64, identity: 0, direction: 'ingress', protocol: TCP, port: 22, verdict: 'deny', cookie: 2 },
  { prefixlen: 40, identity: 303, direction: 'ingress', protocol: 0, port: 0, verdict: 'allow', cookie: 3 },
  { prefixlen: 56, identity: 302, direction: 'ingress', protocol: TCP, port: 8192, verdict: 'redirect', proxyPort: 15001, cookie: 4 },
  { prefixlen: 48, identity: 0, direction: 'egress', protocol: UDP, port: 0, verdict: 'allow', cookie: 5 },
  { prefixlen: 64, identity: 2, direction: 'egress', protocol: ICMP, port: 8, verdict: 'allow', cookie: 6 },
];

describe.skipIf(skipKernel())('weir verify --kernel', () => {
  let dir: string;
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'wdp-kv-'));
    writeBundle(dir, [
      { node: 'node-a', images: [ipcacheImage(ipcache), policyImage(11, rules), policyImage(12, rules.slice(0, 2))] },
      { node: 'node-b', images: [ipcacheImage(ipcache), policyImage(21, rules.slice(3))] },
    ]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('agrees on every derived class of every node', async () => {
    const r = await verifyKernel(dir);
    expect(r.mismatches).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.nodes.map((n) => [n.node, n.endpoints])).toEqual([
      ['node-a', 2],
      ['node-b', 1],
    ]);
    expect(r.classes).toBeGreaterThan(100);
    expect(formatKernelReport(r)).toMatch(/^kernel verification passed: \d+ class\(es\)/);
  });

  it('reports a class where the emulator and the kernel disagree', async () => {
    const r = await verifyKernel(dir, {
      node: 'node-a',
      classes: () => [
        { endpointId: 11, direction: 'ingress', peerIdentity: 301, protocol: TCP, port: 80, expect: 'allow', label: 'right' },
        { endpointId: 11, direction: 'ingress', peerIdentity: 301, protocol: TCP, port: 22, expect: 'allow', label: 'wrong: deny wins' },
        {
          endpointId: 11,
          direction: 'ingress',
          peerIdentity: 302,
          protocol: TCP,
          port: 8200,
          expect: 'redirect',
          proxyPort: 15001,
          label: 'redirect block',
        },
        {
          endpointId: 11,
          direction: 'ingress',
          peerIdentity: 302,
          protocol: TCP,
          port: 8200,
          expect: 'redirect',
          proxyPort: 15009,
          label: 'wrong proxy port',
        },
      ],
    });
    expect(r.ok).toBe(false);
    expect(r.mismatches.map((m) => [m.class.label, m.kernel])).toEqual([
      ['wrong: deny wins', { verdict: 'deny' }],
      ['wrong proxy port', { verdict: 'redirect', proxyPort: 15001 }],
    ]);
    expect(formatKernelReport(r)).toContain(
      'MISMATCH node-a endpoint 11 ingress peer 301 (10.0.0.2) proto 6 port 22 [wrong: deny wins]: emulator allow, kernel deny',
    );
  });

  it('fails on a corrupted blob before loading anything', async () => {
    const bad = mkdtempSync(join(tmpdir(), 'wdp-kv-bad-'));
    try {
      const img = policyImage(11, rules);
      writeBundle(bad, [{ node: 'n', images: [img] }]);
      writeFileSync(join(bad, 'blobs', 'sha256', img.image.digest), img.bytes.subarray(0, 20));
      await expect(verifyKernel(bad)).rejects.toThrow(
        new RegExp(`blob ${img.image.digest} does not match its digest \\(corrupt bundle\\)`),
      );
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });

  it('agrees with the model on random policies (property)', async () => {
    const entry = fc.record({
      identity: fc.constantFrom(0, 2, 301, 302, 303),
      direction: fc.constantFrom('ingress' as const, 'egress' as const),
      protocol: fc.constantFrom(TCP, UDP),
      prefixBits: fc.integer({ min: 0, max: 16 }),
      port: fc.integer({ min: 0, max: 65535 }),
      verdict: fc.constantFrom('allow' as const, 'deny' as const, 'redirect' as const),
      precedence: fc.integer({ min: 0, max: 3 }),
      anyProto: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { minLength: 1, maxLength: 12 }), async (es) => {
        const seen = new Set<string>();
        const policy: PolicyEntry[] = [];
        for (const [i, e] of es.entries()) {
          const prefixlen = e.anyProto ? 40 : 48 + e.prefixBits;
          const mask = e.prefixBits === 0 ? 0 : (0xffff << (16 - e.prefixBits)) & 0xffff;
          const p: PolicyEntry = {
            prefixlen,
            identity: e.identity,
            direction: e.direction,
            protocol: e.anyProto ? 0 : e.protocol,
            port: e.anyProto ? 0 : e.port & mask,
            verdict: e.verdict,
            precedence: e.precedence,
            cookie: i + 1,
            ...(e.verdict === 'redirect' ? { proxyPort: 15000 + i } : {}),
          };
          const k = `${p.prefixlen}/${p.identity}/${p.direction}/${p.protocol}/${p.port}`;
          if (!seen.has(k)) policy.push(p), seen.add(k);
        }
        const d = mkdtempSync(join(tmpdir(), 'wdp-kv-prop-'));
        try {
          writeBundle(d, [{ node: 'p', images: [ipcacheImage(ipcache), policyImage(5, policy)] }]);
          const r = await verifyKernel(d);
          if (!r.ok) throw new Error(formatKernelReport(r));
        } finally {
          rmSync(d, { recursive: true, force: true });
        }
      }),
      { numRuns: 8, seed: 4 },
    );
  });
});
