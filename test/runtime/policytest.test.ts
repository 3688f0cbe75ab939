// weir test runtime cases: the image evaluator answers them, and with --kernel the real programs too.
import { describe, expect, it } from 'vitest';
import { runPolicyTests } from '../../compiler/policytest/run.js';
import { skipKernel } from '../kernel-env.js';
import { projectRoot } from './helpers.js';

const files = ['policies/tests/runtime-protect-shadow.yaml', 'policies/tests/runtime-kernel.yaml'];

describe('runtime PolicyTest cases', () => {
  it('pass against the image evaluator, with the deciding policy and line in the detail', async () => {
    const run = await runPolicyTests(files, { root: projectRoot });
    expect(run.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(run.results.map((r) => [r.name, r.actual, r.ok])).toEqual([
      ['cat may not read shadow', 'kill', true],
      ['less may not read gshadow either', 'kill', true],
      ['cat may read hosts', 'allow', true],
      ['the shadow-utils binary itself may read shadow', 'allow', true],
      ['the policy is namespaced, a kube-system pod is out of scope', 'allow', true],
      ['mounts are posted, never enforced', 'post', true],
      ['pivot_root is posted', 'post', true],
      ['the uploader is killed reading shadow', 'kill', true],
      ['the uploader is killed reading a private key directory entry', 'kill', true],
      ['the uploader may read public certificates', 'allow', true],
      ['the server opening a key read-only is not reported (Mask on write flags)', 'allow', true],
      ['the server opening a key for writing is reported (images only under --kernel; it would write)', 'post', true],
      ['the cron helper gets SIGUSR1 when it opens crontab', 'signal', true],
    ]);
    expect(run.results[0]!.detail).toMatch(/decided by protect-shadow \(policies\/runtime\/protect-shadow\.yaml:10\)/);
  });

  it('a wrong expectation fails with the actual verdict', async () => {
    const { runRuntimeCases } = await import('../../compiler/policytest/runtime.js');
    const run = await runPolicyTests(['policies/tests/runtime-kernel.yaml'], { root: projectRoot });
    expect(run.results.every((r) => r.ok)).toBe(true);
    const rs = await runRuntimeCases(
      {
        file: 'x.yaml',
        root: projectRoot,
        documents: [],
        inventory: { namespaces: [], pods: [], services: [], nodes: [], cidrGroups: [], cluster: 'default' },
        test: undefined as never,
      },
      [
        {
          name: 'no policies: allow, not kill',
          index: 0,
          line: 1,
          value: { process: { binary: '/bin/cat' }, call: 'sys_openat', args: [-100, '/etc/shadow', 0], expect: 'kill' },
        },
        { name: 'bad call', index: 1, line: 2, value: { process: { binary: '/bin/cat' }, call: 'sys_frob', expect: 'kill' } },
        { name: 'bad expect', index: 2, line: 3, value: { process: { binary: '/bin/cat' }, call: 'sys_openat', expect: 'deny' } },
      ],
    );
    expect(rs.map((r) => [r.actual, r.ok])).toEqual([
      ['allow', false],
      ['error', false],
      ['error', false],
    ]);
    expect(rs[1]!.detail).toMatch(/is neither a syscall .* nor a kernel function or LSM hook a policy hooks on node local/);
  });

  describe.skipIf(skipKernel())('--kernel', () => {
    it('the real programs agree with the evaluator on every case they can run', async () => {
      const run = await runPolicyTests(files, { root: projectRoot, kernel: true });
      expect(run.results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.detail}`)).toEqual([]);
      const byName = new Map(run.results.map((r) => [r.name, r.detail ?? '']));
      expect(byName.get('the uploader is killed reading shadow')).toMatch(
        /^kernel: kill \(probe pid \d+ was killed; 1 event\(s\)\); images: kill/,
      );
      expect(byName.get('the uploader may read public certificates')).toMatch(/^kernel: allow/);
      expect(byName.get('the cron helper gets SIGUSR1 when it opens crontab')).toMatch(/^kernel: signal \(probe pid \d+ got SIGUSR1\)/);
      expect(byName.get('pivot_root is posted')).toMatch(/^kernel: post/);
      // Namespaced policy: the probe runs in a cgroup of its own, put in the policy's scope as the agent would a pod's.
      expect(byName.get('cat may not read shadow')).toMatch(/^kernel: kill .*images: kill/);
      expect(byName.get('the policy is namespaced, a kube-system pod is out of scope')).toMatch(/^kernel: allow/);
      expect(byName.get('the server opening a key for writing is reported (images only under --kernel; it would write)')).toMatch(
        /images only: open with write/,
      );
    });
  });
});
