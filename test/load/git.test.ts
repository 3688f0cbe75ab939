// The one-process Git reader behind `weir plan`: revisions to commits, recursive tree listings
// with path filters (as `git ls-tree -r` lists them), blobs of any size, missing names.
import { execFileSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { GitObjectReader } from '../../compiler/load/git.js';
import { readRevision } from '../../compiler/load/index.js';
import { TestRepo } from '../plan/repo.js';

const repo = new TestRepo('weir-gitreader-');
const big = `# ${'x'.repeat(70)}\n`.repeat(5000); // ~370 KB: arrives in many pipe reads
const first = repo.commit({
  name: 'one',
  message: 'one',
  write: {
    'a.yaml': 'a: 1\n',
    'network/ns-1/p.yaml': 'p: 1\n',
    'network/ns-2/q.yml': 'q: 2\n',
    'network/notes.txt': 'n\n',
    'networks/x.yaml': 'x: 1\n',
    '.hidden/h.yaml': 'h: 1\n',
    'big.yaml': big,
  },
});
repo.commit({ name: 'two', message: 'two', write: { 'network/ns-1/p.yaml': 'p: 2\n' }, remove: ['a.yaml'] });
afterAll(() => repo.dispose());

function lsTree(rev: string, ...paths: string[]): string[] {
  return execFileSync('git', ['ls-tree', '-r', '-z', '--name-only', '--full-tree', rev, '--', ...paths], {
    cwd: repo.dir,
    encoding: 'utf8',
  })
    .split('\0')
    .filter(Boolean)
    .sort();
}

describe('GitObjectReader', () => {
  it('resolves revisions to commits and lists trees as ls-tree does, with folder filters', async () => {
    const r = new GitObjectReader(repo.dir);
    try {
      const c = await r.commit('one');
      expect(c?.oid).toBe(first);
      const all = await r.files(c!.tree);
      expect(all.map((f) => f.file)).toEqual(lsTree('one'));
      // `network` selects that folder, not `networks`; a file path selects the file.
      expect((await r.files(c!.tree, ['network'])).map((f) => f.file)).toEqual(lsTree('one', 'network'));
      expect((await r.files(c!.tree, ['network/ns-2/q.yml', './a.yaml'])).map((f) => f.file)).toEqual(['a.yaml', 'network/ns-2/q.yml']);
      expect(await r.commit('no-such-branch')).toBeUndefined();
      expect(await r.read('one\nHEAD')).toBeUndefined();
      const blob = await r.read(all.find((f) => f.file === 'big.yaml')!.oid);
      expect(blob?.type).toBe('blob');
      expect(blob?.content.toString()).toBe(big);
    } finally {
      r.close();
    }
  });

  it('reads a revision, skipping what the caller already has, and names a missing revision', async () => {
    const r = new GitObjectReader(repo.dir);
    try {
      const two = await readRevision(repo.dir, 'two', ['.'], { reader: r, have: (file) => file === 'big.yaml' });
      if ('error' in two) throw new Error(two.error.message);
      expect(two.files.map((f) => f.file)).toEqual(['big.yaml', 'network/ns-1/p.yaml', 'network/ns-2/q.yml', 'networks/x.yaml']);
      expect(two.files[0]!.bytes).toBeUndefined();
      expect(Buffer.from(two.files[1]!.bytes!).toString()).toBe('p: 2\n');
      const missing = await readRevision(repo.dir, 'nope', ['.'], { reader: r });
      expect('error' in missing && missing.error.rule).toBe('load/missing-revision');
    } finally {
      r.close();
    }
  });

  it('reads again after close, from a new process (the old one no longer answers for it)', async () => {
    const r = new GitObjectReader(repo.dir);
    const c = await r.commit('one');
    r.close();
    const blob = await r.read((await r.files(c!.tree, ['a.yaml']))[0]!.oid);
    expect(blob?.content.toString()).toBe('a: 1\n');
    const pending = r.read('HEAD:networks/x.yaml');
    r.close();
    await expect(pending).rejects.toThrow(/closed/);
    expect((await r.read('two:network/ns-1/p.yaml'))?.content.toString()).toBe('p: 2\n');
    // Closed and asked again in the same turn: the unsent request of the closed one is not sent.
    const dropped = r.read('one:a.yaml');
    r.close();
    const asked = r.read('one:big.yaml');
    await expect(dropped).rejects.toThrow(/closed/);
    expect((await asked)?.content.toString()).toBe(big);
    r.close();
  });

  it('reports a folder that is not a repository as an error, not a crash', async () => {
    const r = await readRevision('/', 'HEAD', ['.']);
    expect('error' in r).toBe(true);
  });
});
