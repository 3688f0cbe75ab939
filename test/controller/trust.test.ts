// An agent never applies an unsigned, tampered or mismatched bundle, and keeps the last good one.
// A fake controller serves the bundle and flips bytes on request; the agent runs in process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadSources } from '../../compiler/load/index.js';
import { Agent } from '../../controller/agent/agent.js';
import { EmulatorDatapath } from '../../controller/agent/emulator.js';
import { applyManifestDelta, canonicalJson, makeBundle, manifestDelta, nodeManifest, sha256hex, type Bundle } from '../../controller/bundle/codec.js';
import { generateSigningKey, signDigest, type SigningKey } from '../../controller/bundle/sign.js';
import { compileDocuments } from '../../controller/controller/seed-compiler.js';
import { silentLogger } from '../../controller/controller/log.js';
import { Client, listen, sendJson, type Listening } from '../../controller/transport/http.js';
import { empireAndAlliance, empireOnly, pods } from './harness.js';

function compile(policy: string): Bundle {
  const loaded = loadSources([{ file: 'pods.yaml', bytes: Buffer.from(pods) }, { file: 'rule.yaml', bytes: Buffer.from(policy) }]);
  const r = compileDocuments(loaded.documents, loaded.diagnostics, { revision: 'r', paths: ['.'] });
  if (!r.bundle) throw new Error(JSON.stringify(r.diagnostics));
  return r.bundle;
}

describe('agent trust', () => {
  const key = generateSigningKey();
  const other = generateSigningKey();
  let dir: string;
  let server: Listening;
  let reports: unknown[] = [];
  const served = new Map<string, Buffer>(); // path → bytes
  let agent: Agent;
  let dp: EmulatorDatapath;

  /** Serves the bundle's blobs and node's signed view; returns the desired document for it. */
  const publish = (b: Bundle, node = 'node-a', signer: SigningKey = key) => {
    const nm = nodeManifest(b.manifest, b.digest, node);
    served.set(`/v1/manifests/${nm.digest}`, nm.bytes);
    for (const [d, bytes] of b.blobs) served.set(`/v1/blobs/sha256/${d}`, bytes);
    return { digest: b.digest, manifest: nm.digest, signature: signDigest(signer, nm.digest), bytes: nm.bytes };
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
      res.writeHead(200).end(b);
    });
    dp = new EmulatorDatapath('node-a');
    agent = new Agent({ node: 'node-a', client: new Client(server.url, { insecureLoopback: true }), trustedKey: key.publicKey, stateDir: dir, datapath: dp, logger: silentLogger() });
  });
  afterAll(async () => {
    await server.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const good = compile(empireOnly);
  const next = compile(empireAndAlliance);
  const xwingToDeathstar = () => dp.verdict({ src: '10.0.0.12', dst: '10.0.0.10', protocol: 'TCP', port: 80 });

  it('applies a correctly signed bundle', async () => {
    const d = publish(good);
    await agent.reconcile({ revision: 'r1', ...d });
    expect(agent.applied?.digest).toBe(good.digest);
    expect((await xwingToDeathstar()).verdict).toBe('deny');
  });

  type Desired = { digest: string; manifest: string; signature: string };
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
    ['a validly signed view of another bundle (replay)', () => ({ ...publish(next), digest: good.digest.replace(/^./, 'f') }), /belongs to bundle/],
    [
      'a bundle built for another datapath ABI',
      () => publish(makeBundle({ ...next.manifest, abi: { digest: '0'.repeat(64), version: 9 } }, next.blobs)),
      /built for datapath ABI 000000000000/,
    ],
  ];

  for (const [what, make, error] of refusals) {
    it(`refuses ${what} and keeps the last good state`, async () => {
      reports = [];
      const { digest, manifest, signature } = make();
      const d = { digest, manifest, signature };
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
    await agent.reconcile({ revision: 'r3', digest: d.digest, manifest: d.manifest, signature: d.signature });
    expect(agent.applied?.digest).toBe(next.digest);
    expect((await xwingToDeathstar()).verdict).toBe('allow');
    const policy = next.manifest.nodes.find((n) => n.node === 'node-a')!.maps.find((m) => m.name === 'policy')!;
    const cookies = next.manifest.tables.find((t) => t.name === 'cookies')!;
    // node-a's manifest, its new policy image and the new cookie table; the ipcache and endpoints are unchanged.
    expect(agent.downloadedBytes - before).toBe(d.bytes.length + next.blobs.get(policy.digest)!.length + next.blobs.get(cookies.digest)!.length);
  });

  it('a manifest delta rebuilds the signed node manifest byte for byte, and is small', () => {
    const a = nodeManifest(good.manifest, good.digest, 'node-a');
    const b = nodeManifest(next.manifest, next.digest, 'node-a');
    const delta = manifestDelta(a.manifest, a.digest, b.manifest, b.digest);
    expect(delta.maps.put.map((m) => m.name)).toEqual(['policy']);
    expect(delta.maps.remove).toEqual([]);
    const rebuilt = applyManifestDelta(a.manifest, delta);
    expect(sha256hex(rebuilt)).toBe(b.digest);
    expect(canonicalJson(delta).length).toBeLessThan(b.bytes.length);
  });
});
