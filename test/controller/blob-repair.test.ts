// An agent verifies every blob it reads from its store against the digest the signed manifest
// names: a blob corrupted on disk is dropped and fetched again instead of failing every later
// rollout (which would then roll back at the canary gate, one after another).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { sha256, type Bundle } from '../../compiler/bundle/assemble.js';
import { Agent, type DesiredDoc } from '../../controller/agent/agent.js';
import { EmulatorDatapath } from '../../controller/agent/emulated-datapath.js';
import { nodeManifest } from '../../controller/bundle/codec.js';
import { generateSigningKey, signDigest } from '../../controller/bundle/sign.js';
import { ProjectCompiler } from '../../controller/reconcile/compiler.js';
import { silentLogger } from '../../controller/reconcile/log.js';
import { Client, listen, sendJson, type Listening } from '../../controller/transport/http.js';
import { empireAndAlliance, empireOnly, pods, signedTimestamp } from './harness.js';

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

describe('a corrupt blob in the agent store', () => {
  const key = generateSigningKey();
  let dir: string;
  let server: Listening;
  const served = new Map<string, Buffer>();
  const fetched: string[] = [];
  let step = 0;
  const desired = (b: Bundle): DesiredDoc => {
    const sequence = ++step;
    const nm = nodeManifest(b.manifest, b.digest, 'node-a', { sequence, revision: `r${sequence}` });
    served.set(`/v1/manifests/${nm.digest}`, nm.bytes);
    for (const [d, bytes] of b.blobs) served.set(`/v1/blobs/sha256/${d}`, Buffer.from(bytes));
    return {
      revision: `r${sequence}`,
      digest: b.digest,
      sequence,
      manifest: nm.digest,
      signature: signDigest(key, nm.digest),
      timestamp: signedTimestamp(key, 'node-a', nm.digest, sequence),
    };
  };
  const agent = (dp: EmulatorDatapath) =>
    new Agent({
      node: 'node-a',
      client: new Client(server.url, { insecureLoopback: true }),
      trustedKey: key.publicKey,
      stateDir: dir,
      datapath: dp,
      logger: silentLogger(),
      longPollMs: 200,
    });

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'weir-repair-'));
    server = await listen('127.0.0.1', 0, { insecureLoopback: true }, (req, res) => {
      const p = (req.url ?? '').split('?')[0]!;
      if (p.endsWith('/status') || p.endsWith('/register')) return sendJson(res, 200, { ok: true, desired: null });
      if (p.endsWith('/desired')) return void res.writeHead(204).end();
      const b = served.get(p);
      if (!b) return sendJson(res, 404, {});
      fetched.push(p);
      res.writeHead(200).end(b);
    });
  });
  afterAll(async () => {
    await server.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('is fetched again when a later bundle names it, and that bundle applies', async () => {
    const dp1 = new EmulatorDatapath('node-a');
    const a = agent(dp1);
    await a.reconcile(desired(good));
    expect(a.applied?.digest).toBe(good.digest);
    // A map image both bundles share (the node's ipcache is unchanged), corrupted on disk after a restart.
    const mine = (b: Bundle) => b.manifest.nodes.find((n) => n.node === 'node-a')!.maps.map((m) => m.digest);
    const shared = mine(good).find((d) => mine(next).includes(d))!;
    expect(shared).toMatch(/^[0-9a-f]{64}$/);
    const file = a.store.blobPath(shared);
    const bytes = await fs.readFile(file);
    bytes[0]! ^= 0xff;
    await fs.writeFile(file, bytes);

    const dp2 = new EmulatorDatapath('node-a');
    const b = agent(dp2);
    fetched.length = 0;
    await b.reconcile(desired(next));
    expect(b.lastError).toBeUndefined();
    expect(b.applied?.digest).toBe(next.digest);
    expect(fetched).toContain(`/v1/blobs/sha256/${shared}`);
    expect(sha256(await fs.readFile(file))).toBe(shared);
    expect((await dp2.verdict({ src: '10.0.0.12', dst: '10.0.0.10', protocol: 'TCP', port: 80 })).verdict).toBe('allow');
  });
});
