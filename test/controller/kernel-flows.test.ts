// Kernel (root): the endpoint programs' drops on the wire exported as Hubble flows by the agent's kernel
// datapath, and that export read back by the plan's flow reader (`weir plan --flows`). Pods are
// namespaces wfl-* on veth pairs made by the test (controller/demo/netns.ts), torn down in afterAll.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skipKernel } from '../kernel-env.js';
import { createPodNetwork, type PodNetwork } from '../../controller/demo/netns.js';
import { scenarioPods, scenarioRule } from '../../controller/demo/scenario.js';
import { KernelDatapath } from '../../controller/agent/kernel-datapath.js';
import { FlowExport } from '../../controller/agent/events-export.js';
import { ExportFile } from '../../controller/events/export-file.js';
import { buildFromSources } from '../../compiler/build.js';
import { nodeManifest } from '../../controller/bundle/codec.js';
import { parseHubbleFlows } from '../../compiler/observed/hubble.js';
import { projectRoot } from './harness.js';

const noKernel = skipKernel() || !existsSync(path.join(projectRoot, 'bpf/build/endpoint.bpf.o'));

describe.skipIf(noKernel)('Hubble flows from the kernel datapath (root)', () => {
  let net: PodNetwork;
  let dp: KernelDatapath;
  const dir = mkdtempSync(path.join(tmpdir(), 'weir-flows-'));
  const file = path.join(dir, 'flows.log');

  beforeAll(async () => {
    writeFileSync(path.join(dir, 'pods.yaml'), scenarioPods);
    writeFileSync(path.join(dir, 'rule1.yaml'), scenarioRule);
    const r = await buildFromSources({ paths: ['rule1.yaml', 'pods.yaml'], inventory: [], root: dir });
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const b = r.bundle!;
    const { manifest } = nodeManifest(b.manifest, b.digest, 'node-1');
    net = await createPodNetwork(scenarioPods, 'wfl');
    dp = await KernelDatapath.open('node-1', {
      pinDir: net.pinDir,
      interfaces: net.interfaces,
      flows: new FlowExport(new ExportFile(file)),
    });
    net.onDestroy.push(() => dp.close());
    const blob = (d: string) => Buffer.from(b.blobs.get(d)!);
    await dp.apply({
      digest: b.digest,
      manifest,
      images: manifest.maps.map((image) => ({ image, bytes: blob(image.digest) })),
      tables: new Map(manifest.tables.map((t) => [t.name, JSON.parse(blob(t.digest).toString('utf8')) as unknown])),
    });
  }, 120_000);

  afterAll(async () => {
    await net?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a drop on the wire is a DROPPED Hubble flow with pods, labels, identity, reason and policy, read by the plan', async () => {
    expect(await net.verdictOnWire('tiefighter', 'deathstar', 80)).toBe('allow');
    expect(await net.verdictOnWire('xwing', 'deathstar', 80)).toBe('deny');
    await new Promise((r) => setTimeout(r, 300)); // the ring buffer's poller writes the export
    const text = readFileSync(file, 'utf8');
    const lines = text
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { flow: Record<string, unknown> });
    const drop = lines.find((l) => (l.flow['source'] as { pod_name?: string }).pod_name === 'xwing');
    expect(drop?.flow).toMatchObject({
      verdict: 'DROPPED',
      drop_reason_desc: 'POLICY_DENIED',
      IP: { source: '10.200.0.12', destination: '10.200.0.10', ipVersion: 'IPv4' },
      l4: { TCP: { destination_port: 80 } },
      source: { namespace: 'default', pod_name: 'xwing', labels: expect.arrayContaining(['k8s:org=alliance']) },
      destination: { namespace: 'default', pod_name: 'deathstar', labels: expect.arrayContaining(['k8s:class=deathstar']) },
      traffic_direction: 'INGRESS',
      node_name: 'node-1',
    });
    expect(typeof (drop!.flow['source'] as { identity: number }).identity).toBe('number');
    // What `weir plan --flows` reads of it.
    const parsed = parseHubbleFlows(text);
    expect(parsed.malformed).toEqual([]);
    expect(parsed.items.find((f) => f.src.pod === 'xwing')).toMatchObject({
      verdict: 'DROPPED',
      protocol: 'TCP',
      port: 80,
      src: { namespace: 'default', pod: 'xwing', labels: { org: 'alliance' } },
      dst: { namespace: 'default', pod: 'deathstar', labels: { org: 'empire', class: 'deathstar' } },
      isReply: false,
    });
  }, 60_000);
});
