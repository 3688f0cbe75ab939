// np-guard netpol-analyzer's own test scenarios (test/corpus/np-guard, vendored with its license):
// `weir connectivity --format txt` must print np-guard's expected `list` output line for line.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { connectivityCommand } from '../../cli/connectivity.js';
import type { CommandIO } from '../../cli/command.js';

const corpus = path.resolve(__dirname, '../corpus/np-guard');
const scenarios = readdirSync(path.join(corpus, 'tests')).sort();

function io(cwd: string): CommandIO & { out: string; err: string } {
  const x: CommandIO & { out: string; err: string } = {
    out: '',
    err: '',
    cwd,
    isTTY: false,
    env: {},
    stdout: (s) => void (x.out += s),
    stderr: (s) => void (x.err += s),
  };
  return x;
}

describe('np-guard netpol-analyzer scenarios, line for line', () => {
  it('the corpus holds the scenarios SOURCE lists', () => {
    expect(scenarios).toEqual([
      'core_pods_without_host_ip',
      'example_pods_w_same_owner_and_labels_gap_with_good_match_expression',
      'minikube_resources',
      'netpol_named_port_test_2',
      'onlineboutique_workloads',
      'semanticDiff-different-topologies-policy-a-with-ipblock',
      'test_with_named_ports',
      'with_end_port_example',
    ]);
  });

  it.each(scenarios)(
    '%s',
    async (scenario) => {
      const expected = readFileSync(path.join(corpus, 'test_outputs/connlist', `${scenario}_connlist_output.txt`), 'utf8');
      const x = io(path.join(corpus, 'tests', scenario));
      const code = await connectivityCommand.run(['.', '--format', 'txt'], x);
      expect(x.err).toBe('');
      expect(code).toBe(0);
      // np-guard's files end without a newline after the last line.
      expect(x.out.trimEnd().split('\n')).toEqual(expected.trimEnd().split('\n'));
    },
    60_000,
  );
});
