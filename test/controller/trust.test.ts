// An agent never applies an unsigned, tampered or mismatched bundle, and keeps the last good one.
// A fake controller serves the bundle and flips bytes on request; the agent runs in process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bundleFromManifest, canonicalJson, sha256, type Bundle } from '../../compiler/bundle/assemble.js';
import { Agent } from '../../controller/agent/agent.js';
import { EmulatorDatapath } from '../../controller/agent/emulated-datapath.js';
import {
  applyBlobDelta,
  applyManifestDelta,
  BLOB_DELTA_MEDIA_TYPE,
  blobDelta,
  manifestDelta,
  nodeManifest,
  type BlobDelta,
} from '../../controller/bundle/codec.js';
import { generateSigningKey, signDigest, type SigningKey } from '../../controller/bundle/sign.js';
import { ProjectCompiler } from '../../controller/reconcile/compiler.js';
import { silentLogger } from '../../controller/reconcile/log.js';
import { Client, listen, sendJson, type Listening } from '../../controller/transport/http.js';
import { empireAndAlliance, empireOnly, pods, signedTimestamp } from './harness.js';
import type { SignedTimestamp } from '../../controller/reconcile/controller.js';

const compiler = new ProjectCompiler();

async function compile(policy: string): Promise<Bundle> {
  const r = await compiler.compileFiles(
    [
      { file: 'pods.yaml', bytes: Buffer.from(pods) },
      { file: 'rule.yaml', bytes: Buffer.from(policy) },
    ],
    'r',
  );
  if (!r.bundle) throw new Error(JSON.stringify(r.diagnostics));
  return r.bundle;
}

const good = await compile(empireOnly);
const next = await compile(empireAndAlliance);

describe('agent trust', () => {
  const key = generateSigningKey();
  const other = generateSigningKey();
  let dir: string;
  let server: Listening;
  let reports: unknown[] = [];
  const served = new Map<string, Buffer>(); // path → bytes
  let agent: Agent;
  let dp: EmulatorDatapath;
  let deltaMode: 'off' | 'on' | 'corrupt' = 'off';
  let deltasServed = 0;

  /** Rollout steps: every publish is a newer one, as the controller numbers them. */
  let step = 0;
  /** Serves the bundle's blobs and node's signed view; returns the desired document for it, with node-a's timestamp. */
  const publish = (b: Bundle, node = 'node-a', signer: SigningKey = key) => {
    const sequence = ++step;
    const nm = nodeManifest(b.manifest, b.digest, node, { sequence, revision: `r-${sequence}` });
    served.set(`/v1/manifests/${nm.digest}`, nm.bytes);
    for (const [d, bytes] of b.blobs) served.set(`/v1/blobs/sha256/${d}`, Buffer.from(bytes));
    return {
      digest: b.digest,
      manifest: nm.digest,
      signature: signDigest(signer, nm.digest),
      bytes: nm.bytes,
      sequence,
      timestamp: signedTimestamp(signer, 'node-a', nm.digest, sequence),
    };
  };

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'weir-trust-'));
    server = await listen('127.0.0.1', 0, { insecureLoopback: true }, (req, res, body) => {
      const p = (req.url ?? '').split('?')[0]!;
      if (p.endsWith('/status')) {
        reports.push(JSON.parse(body.toString()));
        return sendJson(res, 200, { ok: true });
      }
      const b = served.get(p);
      if (!b) return sendJson(res, 404, {});
      // Blob deltas as the controller serves them (controller/reconcile/api.ts), or corrupted.
      const q = new URL(req.url ?? '/', 'http://x').searchParams;
      const base = q.get('base') ? served.get(`/v1/blobs/sha256/${q.get('base')}`) : undefined;
      if (deltaMode !== 'off' && base) {
        const d = blobDelta(base, q.get('base')!, b, p.slice(p.lastIndexOf('/') + 1), Number(q.get('record')));
        if (d) {
          if (deltaMode === 'corrupt') d.ops = d.ops.filter((op) => typeof op !== 'string');
          deltasServed++;
          return void res.writeHead(200, { 'content-type': BLOB_DELTA_MEDIA_TYPE }).end(JSON.stringify(d));
        }
      }
      res.writeHead(200).end(b);
    });
    dp = new EmulatorDatapath('node-a');
    agent = new Agent({
      node: 'node-a',
      client: new Client(server.url, { insecureLoopback: true }),
      trustedKey: key.publicKey,
      stateDir: dir,
      datapath: dp,
      logger: silentLogger(),
    });
  });
  afterAll(async () => {
    await server.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const xwingToDeathstar = () => dp.verdict({ src: '10.0.0.12', dst: '10.0.0.10', protocol: 'TCP', port: 80 });

  it('applies a correctly signed bundle', async () => {
    const d = publish(good);
    await agent.reconcile({ revision: 'r1', ...d });
    expect(agent.applied?.digest).toBe(good.digest);
    expect((await xwingToDeathstar()).verdict).toBe('deny');
  });

  type Desired = { digest: string; manifest: string; signature: string; timestamp: SignedTimestamp };
  const refusals: [string, () => Desired, RegExp][] = [
    ['a signature by another key', () => publish(next, 'node-a', other), /no valid signature from the trusted key/],
    ['no signature', () => ({ ...publish(next), signature: '' }), /no valid signature/],
    [
      'a manifest with a flipped byte',
      () => {
        const d = publish(next);
        const bytes = Buffer.from(d.bytes);
        bytes[bytes.length - 5]! ^= 0x01;
        served.set(`/v1/manifests/${d.manifest}`, bytes);
        return d;
      },
      /does not match its digest/,
    ],
    [
      'a map image with a flipped byte',
      () => {
        const d = publish(next);
        const img = next.manifest.nodes.find((n) => n.node === 'node-a')!.maps.find((m) => m.name === 'policy')!;
        const bytes = Buffer.from(next.blobs.get(img.digest)!);
        bytes[0]! ^= 0x80;
        served.set(`/v1/blobs/sha256/${img.digest}`, bytes);
        return d;
      },
      /blob [0-9a-f]{12} does not match its digest/,
    ],
    ['a validly signed view cut for another node (replay)', () => publish(next, 'node-b'), /is for node node-b, not node-a/],
    [
      'a validly signed view of another bundle (replay)',
      () => ({ ...publish(next), digest: good.digest.replace(/^./, 'f') }),
      /belongs to bundle/,
    ],
    [
      'a bundle built for another datapath ABI',
      () => publish(bundleFromManifest({ ...next.manifest, abi: { digest: '0'.repeat(64), version: 9 } }, next.blobs)),
      /built for datapath ABI 000000000000/,
    ],
  ];

  for (const [what, make, error] of refusals) {
    it(`refuses ${what} and keeps the last good state`, async () => {
      reports = [];
      const { digest, manifest, signature, timestamp } = make();
      const d = { digest, manifest, signature, timestamp };
      await agent.reconcile({ revision: 'r2', ...d });
      expect(agent.applied?.digest).toBe(good.digest);
      expect(agent.lastError).toMatch(error);
      expect(reports).toContainEqual({ failed: { digest: d.digest, error: expect.stringMatching(error) as unknown } });
      expect((await xwingToDeathstar()).verdict).toBe('deny');
      expect(dp.current()).toBe(good.digest);
    });
  }

  it('downloads only the blobs it lacks for a one-policy change', async () => {
    const d = publish(next);
    const before = agent.downloadedBytes;
    await agent.reconcile({ revision: 'r3', digest: d.digest, manifest: d.manifest, signature: d.signature, timestamp: d.timestamp });
    expect(agent.applied?.digest).toBe(next.digest);
    expect((await xwingToDeathstar()).verdict).toBe('allow');
    const policy = next.manifest.nodes.find((n) => n.node === 'node-a')!.maps.find((m) => m.name === 'policy')!;
    const cookies = next.manifest.tables.find((t) => t.name === 'cookies')!;
    // node-a's manifest, its new policy image and the new cookie table; the ipcache and endpoints are unchanged.
    expect(agent.downloadedBytes - before).toBe(
      d.bytes.length + next.blobs.get(policy.digest)!.length + next.blobs.get(cookies.digest)!.length,
    );
  });

  it('a manifest delta rebuilds the signed node manifest byte for byte, and is small', () => {
    const a = nodeManifest(good.manifest, good.digest, 'node-a');
    const b = nodeManifest(next.manifest, next.digest, 'node-a');
    const delta = manifestDelta(a.manifest, a.digest, b.manifest, b.digest);
    expect(delta.maps.put.map((m) => m.name)).toEqual(['policy']);
    expect(delta.maps.remove).toEqual([]);
    const rebuilt = applyManifestDelta(a.manifest, delta);
    expect(sha256(rebuilt)).toBe(b.digest);
    expect(canonicalJson(delta).length).toBeLessThan(b.bytes.length);
  });

  it('fetches a changed image and table as deltas against the ones it holds', async () => {
    const third = await compile(
      empireAndAlliance
        .replace('port: "80", protocol: TCP}]}]\n`', 'port: "8080", protocol: TCP}]}]\n`')
        .replace(/(alliance\}\}\]\n {4}toPorts: \[\{ports: \[\{port: )"80"/, '$1"8080"'),
    );
    const d = publish(third);
    const policy = third.manifest.nodes.find((n) => n.node === 'node-a')!.maps.find((m) => m.name === 'policy')!;
    expect(agent.applied?.digest).toBe(next.digest);
    deltaMode = 'on';
    deltasServed = 0;
    const before = agent.downloadedBytes;
    await agent.reconcile({ revision: 'r4', digest: d.digest, manifest: d.manifest, signature: d.signature, timestamp: d.timestamp });
    deltaMode = 'off';
    expect(agent.applied?.digest).toBe(third.digest);
    expect(deltasServed).toBeGreaterThanOrEqual(1);
    expect(agent.downloadedBytes).toBeGreaterThan(before);
    expect((await xwingToDeathstar()).verdict).toBe('deny');
    expect((await dp.verdict({ src: '10.0.0.12', dst: '10.0.0.10', protocol: 'TCP', port: 8080 })).verdict).toBe('allow');
    // What the store holds is the signed image itself, not the delta.
    expect(sha256((await agent.store.getBlob(policy.digest))!)).toBe(policy.digest);
  });

  it('falls back to the whole blob when a delta does not rebuild the signed digest', async () => {
    const d = publish(next);
    await fs.rm(path.join(dir, 'store'), { recursive: true, force: true }); // forget next's blobs
    deltaMode = 'corrupt';
    deltasServed = 0;
    await agent.reconcile({ revision: 'r5', digest: d.digest, manifest: d.manifest, signature: d.signature, timestamp: d.timestamp });
    deltaMode = 'off';
    expect(deltasServed).toBeGreaterThanOrEqual(1);
    expect(agent.applied?.digest).toBe(next.digest);
    expect((await xwingToDeathstar()).verdict).toBe('allow');
  });

  it('blob deltas rebuild map images and JSON tables byte for byte, and refuse malformed ones', () => {
    const img = (b: Bundle) => b.manifest.nodes.find((n) => n.node === 'node-a')!.maps.find((m) => m.name === 'policy')!;
    const a = img(good);
    const b = img(next);
    const base = Buffer.from(good.blobs.get(a.digest)!);
    const target = Buffer.from(next.blobs.get(b.digest)!);
    const d = blobDelta(base, a.digest, target, b.digest, a.keySize + a.valueSize)!;
    expect(applyBlobDelta(base, d).equals(target)).toBe(true);
    expect(d.ops.some((op) => Array.isArray(op))).toBe(true); // the unchanged records are copied, not sent
    const cookies = (x: Bundle) => x.manifest.tables.find((t) => t.name === 'cookies')!.digest;
    const cb = Buffer.from(good.blobs.get(cookies(good))!);
    const ct = Buffer.from(next.blobs.get(cookies(next))!);
    const j = blobDelta(cb, cookies(good), ct, cookies(next), 0)!;
    expect(applyBlobDelta(cb, j).equals(ct)).toBe(true);
    expect(j.ops.some((op) => Array.isArray(op))).toBe(true); // the unchanged rows are copied
    // Sizes that do not divide, non-canonical JSON and copies outside the base are refused.
    expect(blobDelta(base, a.digest, target, b.digest, base.length + 1)).toBeUndefined();
    expect(blobDelta(Buffer.from('[ 1 ]'), 'x', Buffer.from('[1]'), 'y', 0)).toBeUndefined();
    const bad: BlobDelta = { ...d, ops: [[0, base.length]] };
    expect(() => applyBlobDelta(base, bad)).toThrow(/outside the base/);
    expect(() => applyBlobDelta(base, { ...d, ops: ['AAAA'] })).toThrow(/whole number of records/);
  });
});
