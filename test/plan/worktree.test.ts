// `weir plan --worktree`: work-tree files are keyed by the blob id Git would give them, so an
// unchanged file reuses the base's parse (and compile) while carrying no commit, and an edited
// one is parsed anew.
import { afterAll, describe, expect, it } from 'vitest';
import { closeRevisionCache, loadRevision, newRevisionCache } from '../../compiler/plan/revision.js';
import { buildPlan } from '../../compiler/plan/plan.js';
import { TestRepo } from './repo.js';
import { generateCluster } from './scale.js';

const cluster = generateCluster({ namespaces: 3, appsPerNs: 3, replicas: 2 });
const repo = new TestRepo('weirplan-worktree-');
repo.commit({ name: 'base', message: 'base', write: cluster.files });
afterAll(() => repo.dispose());

describe('plan against the work tree', () => {
  it('shares unchanged files with the base revision and plans the edited one', async () => {
    repo.write('network/ns-0/app-2.yaml', cluster.oneFileChange['network/ns-0/app-2.yaml']!);
    const cache = newRevisionCache();
    const base = await loadRevision(['.'], repo.dir, { ref: 'base', rev: 'base' }, undefined, cache);
    const head = await loadRevision(['.'], repo.dir, { ref: 'worktree' }, undefined, cache);
    closeRevisionCache(cache);
    expect(base.model.info.status).toBe('ok');
    expect(head.model.info.status).toBe('ok');
    const byFile = (docs: typeof base.model.documents) => new Map(docs.map((d) => [`${d.provenance.file}#${d.provenance.docIndex}`, d]));
    const b = byFile(base.model.documents);
    const h = byFile(head.model.documents);
    expect([...h.keys()].sort()).toEqual([...b.keys()].sort());
    for (const [k, d] of h) {
      expect(d.provenance.commit, k).toBeUndefined();
      if (k.startsWith('network/ns-0/app-2.yaml')) expect(d.value, k).not.toBe(b.get(k)!.value);
      else expect(d.value, k).toBe(b.get(k)!.value); // the very parse of the base
    }
    // Same inventory documents: the revisions compare by key, no digest needed, and the plan
    // probes only the changed endpoint's pairs.
    expect(head.model.inventoryKey).toBe(base.model.inventoryKey);
    const plan = buildPlan({ base: base.model, head: head.model });
    expect(plan.changes.map((c) => `${c.category} ${c.dst} ${c.ports}`)).toContain('newly-allowed ns-0/app-2[Deployment] 9090');
    expect(plan.head.commit).toBeUndefined();
  });
});
