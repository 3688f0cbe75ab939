// The bundle store: content addressing, atomic writes, a full disk as a clear error with nothing
// half-written; the Git source follows force pushes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { simpleGit } from 'simple-git';
import { bundleFromManifest, sha256 } from '../../compiler/bundle/assemble.js';
import { BundleStore, StoreFullError } from '../../controller/bundle/store.js';
import { GitSource } from '../../controller/reconcile/source.js';
import type { BundleManifest } from '../../compiler/bundle/types.js';

function bundleWith(blob: Buffer) {
  const digest = sha256(blob);
  const manifest: BundleManifest = {
    apiVersion: 'weir.dev/v1alpha1',
    kind: 'Bundle',
    source: { paths: ['.'] },
    compiler: { version: 't' },
    abi: { digest: '0'.repeat(64), version: 1 },
    nodes: [],
    tables: [{ name: 'big', digest, mediaType: 'application/json' }],
  };
  return bundleFromManifest(manifest, new Map([[digest, blob]]));
}

describe('bundle store', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'weir-store-'));
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  it('stores blobs under their digest and refuses bytes that do not match', async () => {
    const s = new BundleStore(path.join(dir, 'a'));
    const b = bundleWith(Buffer.from('[1,2,3]'));
    await s.putBundle(b, 'sig');
    const [d] = [...b.blobs.keys()];
    expect((await s.getBlob(d!))?.toString()).toBe('[1,2,3]');
    expect((await s.getManifest(b.digest))?.signature).toBe('sig');
    await expect(s.putBlob(d!, Buffer.from('[1,2,4]'))).rejects.toThrow(/does not match/);
    expect(() => s.blobPath('../../etc/passwd')).toThrow(/not a sha256/);
  });

  const root = process.getuid?.() === 0;
  it.skipIf(!root)('reports a full disk as StoreFullError and leaves no partial file (needs root for a tiny tmpfs)', async () => {
    const mnt = path.join(dir, 'tiny');
    await fs.mkdir(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'weir-test-tmpfs', mnt]);
    try {
      const s = new BundleStore(mnt);
      const b = bundleWith(Buffer.alloc(256 * 1024, 0x61));
      const err = await s.putBundle(b, 'sig').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreFullError);
      expect((err as Error).message).toMatch(/out of space.*last good bundle stays in force/);
      const blobs = await fs.readdir(path.join(mnt, 'blobs', 'sha256')).catch(() => []);
      expect(blobs).toEqual([]);
      expect(await s.getManifest(b.digest)).toBeUndefined();
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});

describe('Git source', () => {
  it('follows a force-pushed branch and says so', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'weir-src-'));
    try {
      const repo = path.join(dir, 'repo');
      await fs.mkdir(repo);
      const git = simpleGit(repo);
      await git.init(['--initial-branch=main', '--quiet']);
      await git.addConfig('user.email', 't@weir.invalid').addConfig('user.name', 't');
      await git.commit('one', { '--allow-empty': null });
      const src = new GitSource(repo, 'main', path.join(dir, 'state'));
      const first = await src.poll(undefined);
      expect(first?.forcePushed).toBe(false);
      expect(await src.poll(first!.commit)).toBeUndefined();
      await git.commit('two', { '--allow-empty': null });
      const two = await src.poll(first!.commit);
      expect(two?.subject).toBe('two');
      await git.raw(['reset', '--hard', '--quiet', first!.commit]);
      await git.commit('rewritten', { '--allow-empty': null });
      const rewritten = await src.poll(two!.commit);
      expect(rewritten).toMatchObject({ forcePushed: true, subject: 'rewritten' });
      await expect(new GitSource(repo, 'nope', path.join(dir, 'state')).poll(undefined)).rejects.toThrow(/cannot fetch branch nope/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
