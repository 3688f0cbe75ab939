// Golden files for what users read: policy map dumps (like `cilium bpf policy get`) of the
// bundled examples and `weir explain` output. Regenerate with UPDATE_GOLDEN=1.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildFromSources } from '../../compiler/build.js';
import { explainFlow, renderExplanation } from '../../compiler/explain/explain.js';
import { dumpMapState } from '../../compiler/explain/format.js';

const root = path.resolve(import.meta.dirname, '../..');
const goldenDir = path.join(root, 'test/golden/network');

function golden(name: string, actual: string): void {
  const file = path.join(goldenDir, name);
  if (process.env['UPDATE_GOLDEN'] === '1' || !existsSync(file)) {
    if (process.env['CI'] === 'true' && !existsSync(file))
      throw new Error(`golden file ${name} is missing; run UPDATE_GOLDEN=1 npx vitest run test/network/golden.test.ts`);
    mkdirSync(goldenDir, { recursive: true });
    writeFileSync(file, actual);
  }
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

describe('golden network outputs', async () => {
  const r = await buildFromSources({ paths: ['policies/network'], inventory: ['policies/inventory.yaml'], root });

  it('policy map dumps of the examples', () => {
    expect(r.diagnostics).toEqual([]);
    const text = r.ir.endpoints.map((ep) => dumpMapState(r.ir, ep.key, r.lowered.mapStates.get(ep.key) ?? [])).join('\n');
    golden('examples-policy-maps.txt', text);
  });

  it.each([
    [
      'explain-landing.txt',
      {
        from: { workload: 'default/tiefighter' },
        to: { workload: 'default/deathstar-6fb5694d48-5hmds' },
        protocol: 'TCP',
        port: 80,
        http: { method: 'POST', path: '/v1/request-landing' },
      },
    ],
    [
      'explain-xwing.txt',
      { from: { workload: 'default/xwing' }, to: { workload: 'default/deathstar-6fb5694d48-5hmds' }, protocol: 'TCP', port: 80 },
    ],
    [
      'explain-crawler-fqdn.txt',
      {
        from: { workload: 'tenant-jobs/crawler-6b9f4d7c5-x8z1c' },
        to: { fqdn: 'api.github.com', ip: '140.82.112.5' },
        protocol: 'TCP',
        port: 443,
      },
    ],
  ] as const)('%s', (name, flow) => {
    golden(name, renderExplanation(r.ir, explainFlow(r.ir, r.lowered, flow as never)));
  });
});
