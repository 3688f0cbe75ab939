// The attach point per node of hooks on kernel functions in every plan rendering: JSON and text had it; the PR
// comment (markdown) and the HTML report show it too, with every author- or cluster-controlled string escaped.
import { describe, expect, it } from 'vitest';
import { loadSources } from '../../compiler/load/index.js';
import type { Plan, RevisionInfo } from '../../compiler/plan/model.js';
import { renderHtml } from '../../compiler/plan/render/html.js';
import { renderMarkdown } from '../../compiler/plan/render/markdown.js';
import { runtimeAttachPoints } from '../../compiler/plan/runtime.js';

const fileOpen = `apiVersion: cilium.io/v1alpha1
kind: TracingPolicy
metadata: {name: file-open}
spec:
  kprobes:
  - call: security_file_open
    syscall: false
    args: [{index: 0, type: file}]
    selectors:
    - matchArgs: [{index: 0, operator: Prefix, values: ["/etc/"]}]
  lsmhooks:
  - hook: bprm_check_security
    args: [{index: 0, type: linux_binprm}]
    selectors:
    - matchArgs: [{index: 0, operator: Equal, values: ["/usr/bin/x"]}]
`;

const rev = (ref: string): RevisionInfo => ({ ref, status: 'ok', policies: 1, files: 1, errors: 0, warnings: 0, diagnostics: [] });
const plan = (runtimeAttach: Plan['runtimeAttach']): Plan => ({
  apiVersion: 'weir.dev/v1alpha1',
  kind: 'Plan',
  base: rev('base'),
  head: rev('head'),
  summary: {
    newlyDenied: 0,
    newlyAllowed: 0,
    changedL7: 0,
    changedAudit: 0,
    connectivity: { added: 0, removed: 0, changed: 0 },
    workloadsAdded: [],
    workloadsRemoved: [],
    runtimeChanges: 0,
    breaking: 0,
  },
  breaking: false,
  changes: [],
  connectivityDiff: [],
  graph: { before: [], after: [] },
  runtime: [],
  ...(runtimeAttach ? { runtimeAttach } : {}),
  maps: [],
  notes: [],
});

const attachOf = () =>
  runtimeAttachPoints(loadSources([{ file: 'policies/open.yaml', bytes: Buffer.from(fileOpen) }]).documents, [
    { name: 'node-full', labels: { 'weir.dev/runtime-profile': 'full' } },
    {
      name: 'node-kprobe',
      labels: { 'weir.dev/runtime-capabilities': 'tracepoints,rawSyscalls,kprobes,kprobeAttach,lsm,sendSignal,ringbuf,mapInMap' },
    },
  ]);

describe('plan renderings name the runtime attach point per node', () => {
  it('markdown: a row per node and hook with the attach point chosen', () => {
    const a = attachOf();
    expect(a.map((x) => `${x.node} ${x.attach}`)).toEqual([
      'node-full fentry/security_file_open',
      'node-full lsm/bprm_check_security',
      'node-kprobe kprobe/security_file_open',
      'node-kprobe lsm/bprm_check_security',
    ]);
    const md = renderMarkdown(plan(a));
    expect(md).toContain('<summary><b>Runtime attach points on kernel functions (4)</b></summary>');
    expect(md).toContain('| node | profile | policy | call | attach point | rule |');
    expect(md).toContain('| node-full | full | file-open | security_file_open | `fentry/security_file_open` | `policies/open.yaml:6` |');
    expect(md).toContain('| node-full | full | file-open | bprm_check_security | `lsm/bprm_check_security` | `policies/open.yaml:12` |');
    expect(md).toContain('| node-kprobe | custom | file-open | security_file_open | `kprobe/security_file_open` |');
    expect(renderMarkdown(plan(undefined))).not.toContain('Runtime attach points');
  });

  it('HTML: a table per node and hook with the attach point chosen', () => {
    const html = renderHtml(plan(attachOf()));
    expect(html).toContain('<h2>Runtime attach points on kernel functions (4)</h2>');
    expect(html).toContain(
      '<tr><td>node-full</td><td>full</td><td>file-open</td><td>security_file_open</td><td><code>fentry/security_file_open</code></td><td>policies/open.yaml:6</td></tr>',
    );
    expect(html).toContain('<td><code>kprobe/security_file_open</code></td>');
    expect(renderHtml(plan(undefined))).not.toContain('Runtime attach points');
  });

  it('escapes what authors and clusters control', () => {
    const hostile = '</td><img src=x onerror=alert(1)> | `x` [a](https://evil.example)';
    const p = plan([
      { node: hostile, profile: 'full', policy: hostile, call: hostile, attach: `fentry/${hostile}`, file: hostile, line: 1 },
    ]);
    const html = renderHtml(p);
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;/td&gt;&lt;img src=x onerror=alert(1)&gt;');
    const md = renderMarkdown(p);
    const row = md.split('\n').find((l) => l.includes('onerror'))!;
    // Outside code spans (where markdown renders nothing) no tag or link survives.
    const prose = row.replace(/``[^`]*(`[^`]+)*``/g, '');
    expect(prose).toContain('&lt;img');
    expect(prose).not.toContain('<img');
    expect(prose).not.toContain('](https://');
    // Six cells: no author text opened another.
    expect(row.replace(/\\\|/g, '').split('|').length).toBe(8);
  });
});
