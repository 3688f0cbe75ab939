import { describe, expect, it } from 'vitest';
import { loadSources } from '../../compiler/load/index.js';
import { parseTetragonEvents } from '../../compiler/observed/index.js';
import { diffRuntime, runtimeDecision, runtimeRules } from '../../compiler/plan/runtime.js';

const tp = (action: string, mode = '') => `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata:
  name: protect-shadow
spec:
${mode ? `  options:\n  - name: policy-mode\n    value: ${mode}\n` : ''}  kprobes:
  - call: sys_openat
    syscall: true
    args:
    - index: 1
      type: string
    selectors:
    - matchBinaries:
      - operator: In
        values: [/usr/bin/cat]
      matchArgs:
      - index: 1
        operator: Prefix
        values: [/etc/shadow]
      matchActions:
      - action: ${action}
`;
const docs = (text: string) => loadSources([{ file: 'tracing/shadow.yaml', bytes: Buffer.from(text) }]).documents;

describe('runtime enforcement diff', () => {
  it('reports post → kill with the selector line, and monitor mode as post', () => {
    const base = runtimeRules(docs(tp('Post')));
    const head = runtimeRules(docs(tp('Sigkill')));
    expect(diffRuntime(base, head)).toEqual([
      {
        policy: 'protect-shadow',
        call: 'sys_openat',
        binaries: ['/usr/bin/cat'],
        paths: ['/etc/shadow'],
        before: 'post',
        after: 'kill',
        file: 'tracing/shadow.yaml',
        line: 13,
      },
    ]);
    expect(diffRuntime([], head)[0]).toMatchObject({ before: 'allow', after: 'kill' });
    expect(diffRuntime(base, runtimeRules(docs(tp('Sigkill', 'monitor'))))).toEqual([]);
  });

  it('decides observed events by call, binary and path prefix', () => {
    const head = runtimeRules(docs(tp('Sigkill')));
    const ev = parseTetragonEvents(
      [
        {
          process_kprobe: {
            process: { binary: '/usr/bin/cat' },
            function_name: '__x64_sys_openat',
            args: [{ int_arg: -100 }, { string_arg: '/etc/shadow' }],
          },
        },
        {
          process_kprobe: {
            process: { binary: '/usr/bin/cat' },
            function_name: '__x64_sys_openat',
            args: [{ int_arg: -100 }, { string_arg: '/etc/hosts' }],
          },
        },
        {
          process_tracepoint: {
            process: { binary: '/usr/bin/cat' },
            subsys: 'syscalls',
            event: 'sys_enter_openat',
            args: [{ int_arg: -100 }, { string_arg: '/etc/shadow-' }],
          },
        },
        {
          process_kprobe: {
            process: { binary: '/bin/less' },
            function_name: '__x64_sys_openat',
            args: [{ int_arg: -100 }, { string_arg: '/etc/shadow' }],
          },
        },
      ]
        .map((x) => JSON.stringify(x))
        .join('\n'),
    ).items;
    expect(ev.map((e) => runtimeDecision(head, e)?.action)).toEqual(['kill', 'allow', 'kill', 'allow']);
    expect(runtimeDecision(head, ev[0]!)?.rule).toBe('protect-shadow tracing/shadow.yaml:13');
  });
});
