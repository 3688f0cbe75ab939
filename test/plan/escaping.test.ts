// Everything a policy author controls is escaped where weir shows it: the PR comment (plan
// --format markdown) gets no HTML, link or table break from an L7 path; GitHub annotations and
// terminal text get no control characters or escape sequences (a field name with ESC ] 0 ; would
// retitle the terminal).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../cli/main.js';
import type { CommandIO } from '../../cli/command.js';
import { mdCode, mdText, terminalOutput, terminalSafe } from '../../compiler/escape.js';
import { formatGithub, formatText } from '../../compiler/lint/report.js';
import { diagnostic } from '../../compiler/diagnostics.js';
import { TestRepo } from './repo.js';

function io(cwd: string): CommandIO & { out: string; err: string } {
  const o = { out: '', err: '', cwd, env: {}, isTTY: false } as CommandIO & { out: string; err: string };
  o.stdout = (s) => void (o.out += s);
  o.stderr = (s) => void (o.err += s);
  return o;
}

const pods = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default, labels: {app: web}}
spec: {nodeName: node-a}
status: {podIP: 10.0.0.10}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default, labels: {app: client}}
spec: {nodeName: node-a}
status: {podIP: 10.0.0.11}
`;
const policy = (rules: string) => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts:
    - ports: [{port: "80", protocol: TCP}]
${rules}`;
const hostile = '/x</details><img src=x onerror=alert(1)><!-- [a](https://evil.example/p) `y` |z \u001b]0;pwned\u0007';

describe('plan output escaping', () => {
  let repo: TestRepo;
  beforeAll(() => {
    repo = new TestRepo('weir-escape-');
    repo.commit({ name: 'base', message: 'base', write: { 'policies/pods.yaml': pods, 'policies/p.yaml': policy('') } });
    repo.commit({
      name: 'head',
      message: 'head',
      write: { 'policies/p.yaml': policy(`      rules:\n        http: [{method: GET, path: ${JSON.stringify(hostile)}}]\n`) },
    });
  });
  afterAll(() => repo.dispose());

  it('markdown: an L7 path cannot open HTML, a comment, a link or a new cell', async () => {
    const x = io(repo.dir);
    await main(['plan', '--base', 'base', '--head', 'head', 'policies', '--format', 'markdown'], x);
    const row = x.out.split('\n').find((l) => l.includes('onerror'));
    expect(row, x.out + x.err).toBeDefined();
    expect(row).not.toMatch(/<img|<\/details>|<!--/);
    expect(row).toContain('&lt;/details&gt;&lt;img src=x onerror=alert(1)&gt;&lt;!--');
    expect(row).not.toContain('](https://evil');
    expect(row).toContain('\\|z');
    expect(row).not.toContain('\u001b');
    // The folds weir opened are the only ones closed.
    expect(x.out.match(/<details/g)?.length).toBe(x.out.match(/<\/details>/g)?.length);
  });

  it('text: no escape sequence or control character of the author reaches the terminal', async () => {
    const x = io(repo.dir);
    await main(['plan', '--base', 'base', '--head', 'head', 'policies'], x);
    expect(x.out).toContain('onerror');
    expect(x.out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    expect(x.out).toContain('\\x1b]0;pwned\\x07');
  });
});

describe('lint output escaping', () => {
  const d = diagnostic('schema/unknown-field', 'error', 'unknown field `\u001b]0;pwned\u0007` in spec\nfake: 0 errors', {
    file: 'p.yaml',
    line: 2,
    column: 1,
    endLine: 2,
    endColumn: 5,
  });
  const run = {
    diagnostics: [d],
    files: ['p.yaml'],
    documents: 1,
    sources: new Map([['p.yaml', 'a: 1\n\u001b]0;pwned\u0007: 2\n']]),
    version: 't',
  };

  it('text: the message and the code frame show control characters instead of sending them', () => {
    const out = formatText(run, { color: false });
    expect(out).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
    expect(out).toContain('\\x1b]0;pwned\\x07');
    expect(out).toContain('\\x0afake: 0 errors'); // a line break in a message cannot fake a summary line
  });

  it('GitHub annotations: one line per finding, no escape sequence', () => {
    const out = formatGithub(run);
    const lines = out.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^::error file=p\.yaml,/);
    expect(out).not.toContain('\u001b');
    expect(lines[0]).toContain('%0Afake: 0 errors');
  });
});

describe('escaping helpers', () => {
  it('markdown text and code spans', () => {
    expect(mdText('a<b>&c|d](e)\nf')).toBe('a&lt;b&gt;&amp;c\\|d]\\(e) f');
    expect(mdCode('x`y')).toBe('``x`y``');
    expect(mdCode('`start')).toBe('`` `start ``');
    expect(mdText('shop/frontend[Deployment]')).toBe('shop/frontend[Deployment]');
  });

  it("terminal: weir's own colours pass, everything else is shown", () => {
    expect(terminalOutput('\u001b[31merror\u001b[0m ok\n')).toBe('\u001b[31merror\u001b[0m ok\n');
    expect(terminalOutput('x\u001b]0;title\u0007y')).toBe('x\\x1b]0;title\\x07y');
    expect(terminalOutput('a\u009b2Jb\u202ec')).toBe('a\\x9b2Jb\\u202ec');
    expect(terminalSafe('tab\tkept, \u001b[8mhidden')).toBe('tab\tkept, \\x1b[8mhidden');
  });
});
