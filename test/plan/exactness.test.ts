// The plan's shortcuts (pairs limited to endpoints whose rules changed, per-pair port classes,
// classes and protocols with equal rule coverage probed once) must give exactly what probing
// every pair over every class of every policy value gives. Checked on the golden sequence and
// on the bundled examples (star-wars, tenant-jobs) with edits.
import { cpSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildPlan, type RevisionModel } from '../../compiler/plan/plan.js';
import { closeRevisionCache, loadRevision, newRevisionCache } from '../../compiler/plan/revision.js';
import { TestRepo } from './repo.js';
import { steps } from './sequence.js';

const root = path.resolve(import.meta.dirname, '../..');

/** The same revision without the compiler's hints: global classes, every pair. */
function naive(m: RevisionModel): RevisionModel {
  const { portCuts: _p, endpointFingerprints: _f, ...rest } = m;
  return rest;
}

async function compare(repo: TestRepo, paths: string[], base: string, head: string): Promise<{ rows: number; shortcut: boolean }> {
  const cache = newRevisionCache();
  const b = await loadRevision(paths, repo.dir, { ref: base, rev: base }, undefined, cache);
  const h = await loadRevision(paths, repo.dir, { ref: head, rev: head }, undefined, cache);
  closeRevisionCache(cache);
  expect(b.model.info.status, JSON.stringify(b.model.info.diagnostics.slice(0, 3))).toBe('ok');
  expect(h.model.info.status, JSON.stringify(h.model.info.diagnostics.slice(0, 3))).toBe('ok');
  const fast = buildPlan({ base: b.model, head: h.model, fullProbeLimit: 0 });
  const full = buildPlan({ base: naive(b.model), head: naive(h.model), fullProbeLimit: Infinity });
  // An inventory change (a renamed label) puts every workload in play: no shortcut then.
  const shortcut = /probed only/.test(fast.notes.join(' '));
  expect(shortcut || b.model.inventoryDigest !== h.model.inventoryDigest).toBe(true);
  expect(fast.changes).toEqual(full.changes);
  expect(fast.connectivityDiff).toEqual(full.connectivityDiff);
  return { rows: full.changes.length, shortcut };
}

describe('plan shortcuts are exact', () => {
  const repos: TestRepo[] = [];
  afterAll(() => repos.forEach((r) => r.dispose()));

  it('on every step of the golden sequence', async () => {
    const repo = new TestRepo();
    repos.push(repo);
    for (const s of steps) repo.commit(s);
    let rows = 0;
    let shortcuts = 0;
    for (let i = 1; i < steps.length; i++) {
      const r = await compare(repo, ['apps', 'network'], steps[i - 1]!.name, steps[i]!.name);
      rows += r.rows;
      shortcuts += Number(r.shortcut);
    }
    expect(rows).toBeGreaterThan(5);
    expect(shortcuts).toBe(5);
  });

  it('on the bundled examples with a port changed, a rule deleted and an L7 rule edited', async () => {
    const repo = new TestRepo();
    repos.push(repo);
    cpSync(path.join(root, 'policies/inventory.yaml'), path.join(repo.dir, 'inventory.yaml'));
    cpSync(path.join(root, 'policies/network'), path.join(repo.dir, 'network'), { recursive: true });
    repo.commit({ name: 'examples', message: 'bundled examples' });
    const kafka = readFileSync(path.join(root, 'policies/network/tenant-jobs/kafka.yaml'), 'utf8');
    const deathstar = readFileSync(path.join(root, 'policies/network/starwars/deathstar.yaml'), 'utf8');
    const editedKafka = kafka.replace(/9092/, '9093');
    const editedDeathstar = deathstar.replace(/\/v1\/request-landing/, '/v2/request-landing');
    expect(editedKafka).not.toBe(kafka);
    expect(editedDeathstar).not.toBe(deathstar);
    repo.commit({
      name: 'edited',
      message: 'edits',
      write: { 'network/tenant-jobs/kafka.yaml': editedKafka, 'network/starwars/deathstar.yaml': editedDeathstar },
      remove: ['network/tenant-jobs/elasticsearch.yaml'],
    });
    const r = await compare(repo, ['.'], 'examples', 'edited');
    expect(r).toMatchObject({ shortcut: true });
    expect(r.rows).toBeGreaterThan(0);
  });
});
