// The guard against host-wide kills reasons about what a binary selector can match: Prefix "/",
// Postfix "sh", NotIn and shells reach init, sshd or bash, so a policy not scoped to pods is refused
// unless annotated; specific programs are fine. `weir test` models a pod's process in its own
// namespaces, so `matchNamespaces NotIn host_ns` decides pod processes as the kernel would.
import { describe, expect, it } from 'vitest';
import { runRuntimeCases } from '../../compiler/policytest/runtime.js';
import { loadSources } from '../../compiler/load/index.js';
import { binaryReach } from '../../compiler/ir/runtime/kill-reach.js';
import { compileText } from './helpers.js';

const policy = (binaries: string, opts: { kind?: string; extra?: string; meta?: string } = {}) => `apiVersion: cilium.io/v1alpha1
kind: ${opts.kind ?? 'TracingPolicy'}
metadata:
  name: k
${opts.meta ?? ''}spec:
${opts.extra ?? ''}  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - {index: 1, type: string}
    selectors:
    - matchBinaries:
      - ${binaries}
      matchActions:
      - {action: Sigkill}
`;

describe('host-wide kill guard', () => {
  it.each([
    [
      'Prefix "/"',
      '{operator: Prefix, values: ["/"]}',
      /matchBinaries Prefix \["\/"\] matches \/sbin\/init, .*and the policy is not scoped to pods/,
    ],
    ['Prefix "/usr/"', '{operator: Prefix, values: ["/usr/"]}', /matches \/usr\/sbin\/init/],
    ['Postfix "sh"', '{operator: Postfix, values: ["sh"]}', /matches \/bin\/sh, \/bin\/bash, \/bin\/dash/],
    ['Postfix "sshd"', '{operator: Postfix, values: ["sshd"]}', /matches \/usr\/sbin\/sshd/],
    ['NotIn one program', '{operator: NotIn, values: ["/usr/bin/cat"]}', /NotIn \["\/usr\/bin\/cat"\] matches \/sbin\/init/],
    ['NotPrefix /tmp', '{operator: NotPrefix, values: ["/tmp/"]}', /matches \/sbin\/init/],
    ['In a shell', '{operator: In, values: ["/tmp/tool", "/bin/bash"]}', /In \["\/tmp\/tool","\/bin\/bash"\] matches \/bin\/bash/],
  ])('refuses a Sigkill whose binary selector %s reaches host processes', (_what, sel, want) => {
    const r = compileText(policy(sel));
    const e = r.errors.filter((x) => x.includes('runtime/host-wide-kill'));
    expect(e.length, r.errors.join('\n')).toBe(1);
    expect(e[0]).toMatch(want);
    expect(r.nodes[0]!.lowered.hooks).toHaveLength(0);
  });

  it.each([
    ['In specific programs', policy('{operator: In, values: ["/tmp/x/victim", "/opt/app/bin/uploader"]}')],
    ['Prefix inside a private folder', policy('{operator: Prefix, values: ["/tmp/weir-test/"]}')],
    ['Postfix of a program name that is no system binary', policy('{operator: Postfix, values: ["/xmrig"]}')],
    [
      'Prefix "/" in a TracingPolicyNamespaced (pods only)',
      policy('{operator: Prefix, values: ["/"]}', { kind: 'TracingPolicyNamespaced', meta: '  namespace: default\n' }),
    ],
    ['Prefix "/" with a podSelector', policy('{operator: Prefix, values: ["/"]}', { extra: '  podSelector: {matchLabels: {app: x}}\n' })],
    [
      'Prefix "/" with the explicit host-wide annotation',
      policy('{operator: Prefix, values: ["/"]}', { meta: '  annotations: {weir.dev/allow-host-wide-kill: "true"}\n' }),
    ],
  ])('accepts %s', (_what, text) => {
    expect(compileText(text).errors.filter((x) => x.includes('host-wide-kill'))).toEqual([]);
  });

  it('a containerSelector does not count as pod scope (weir does not enforce it)', () => {
    const r = compileText(policy('{operator: Prefix, values: ["/"]}', { extra: '  containerSelector: {matchLabels: {name: x}}\n' }));
    expect(r.errors.join('\n')).toMatch(/runtime\/host-wide-kill/);
  });

  it('binaryReach names what a selector covers', () => {
    expect(binaryReach('Prefix', ['/'])).toContain('/usr/sbin/sshd');
    expect(binaryReach('Postfix', ['sh'])).toEqual(expect.arrayContaining(['/bin/bash', '/bin/sh', '/usr/bin/zsh']));
    expect(binaryReach('In', ['/tmp/x'])).toEqual([]);
    expect(binaryReach('NotIn', ['/tmp/x'])).toContain('/sbin/init');
  });
});

describe('weir test: matchNamespaces NotIn host_ns', () => {
  const text = `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: containers-only}
spec:
  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - {index: 1, type: string}
    selectors:
    - matchNamespaces:
      - {namespace: Mnt, operator: NotIn, values: [host_ns]}
      matchArgs:
      - {index: 1, operator: Equal, values: ["/etc/shadow"]}
      matchActions:
      - {action: Sigkill}
`;
  const documents = loadSources([{ file: 'p.yaml', bytes: Buffer.from(text) }]).documents;
  const inventory = {
    namespaces: [],
    pods: [{ namespace: 'default', name: 'xwing', labels: {}, ips: ['10.0.0.12'], node: 'node-a', serviceAccount: 'default', ports: [] }],
    services: [],
    nodes: [{ name: 'node-a', labels: {} }],
    cidrGroups: [],
    cluster: 'default',
  };

  it('kills a pod process and leaves a host process alone', async () => {
    const rs = await runRuntimeCases({ file: 't.yaml', root: '.', documents, inventory: inventory as never, test: undefined as never }, [
      {
        name: 'pod process',
        index: 0,
        line: 1,
        value: {
          process: { workload: 'default/xwing', binary: '/bin/cat' },
          call: 'sys_openat',
          args: [-100, '/etc/shadow', 0],
          expect: 'kill',
        },
      },
      {
        name: 'host process',
        index: 1,
        line: 2,
        value: { process: { binary: '/bin/cat' }, node: 'node-a', call: 'sys_openat', args: [-100, '/etc/shadow', 0], expect: 'allow' },
      },
    ]);
    expect(rs.map((r) => [r.name, r.actual])).toEqual([
      ['pod process', 'kill'],
      ['host process', 'allow'],
    ]);
  });
});
