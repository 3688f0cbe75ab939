// The bundled policies/ compiled by the controller's compiler, as node-1's agent receives them: the
// ApplyInput the kernel agent tests apply.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { ApplyInput } from '../../controller/agent/datapath.js';
import { nodeManifest } from '../../controller/bundle/codec.js';
import { ProjectCompiler } from '../../controller/reconcile/compiler.js';

const root = path.resolve(import.meta.dirname, '../..');

function files(dir: string): { file: string; bytes: Buffer }[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => /\.ya?ml$/.test(f) && statSync(path.join(dir, f)).isFile())
    .map((f) => ({ file: f, bytes: readFileSync(path.join(dir, f)) }));
}

/** The bundle of the repository's policies/ for `node` (default node-1), decoded as the agent applies it. */
export async function bundledInput(node = 'node-1'): Promise<ApplyInput> {
  const r = await new ProjectCompiler().compileFiles(files(path.join(root, 'policies')), 'bundled');
  if (!r.bundle) throw new Error(JSON.stringify(r.diagnostics.slice(0, 3)));
  const b = r.bundle;
  const nm = nodeManifest(b.manifest, b.digest, node);
  const tables = new Map<string, unknown>(
    nm.manifest.tables.map((t) => [t.name, JSON.parse(new TextDecoder().decode(b.blobs.get(t.digest)!)) as unknown]),
  );
  return {
    digest: b.digest,
    manifest: nm.manifest,
    images: nm.manifest.maps.map((image) => ({ image, bytes: Buffer.from(b.blobs.get(image.digest)!) })),
    tables,
  };
}
