// The loader under hostile and broken input: every case yields one clear diagnostic with file and
// place, and the run goes on with the other files.
import { execFileSync } from 'node:child_process';
import { promises as fsp, mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { loadPolicies, loadSources } from '../../compiler/load/index.js';

const temps: string[] = [];
afterAll(() => temps.forEach((t) => rmSync(t, { recursive: true, force: true })));
function tempDir(): string {
  const d = mkdtempSync(path.join(tmpdir(), 'weirlint-load-'));
  temps.push(d);
  return d;
}

const src = (text: string | Uint8Array, file = 'f.yaml') =>
  loadSources([{ file, bytes: typeof text === 'string' ? new TextEncoder().encode(text) : text }]);
const brief = (r: ReturnType<typeof src>) => r.diagnostics.map((d) => `${d.rule}@${d.file}:${d.line}:${d.column}`);
const cnp = (name: string) =>
  `apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: ${name}}\nspec:\n  endpointSelector: {}\n`;

describe('loader: hostile input', () => {
  it('alias bomb (billion laughs) is refused, not expanded', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++)
      lines.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(',')}]`,
      );
    const t = performance.now();
    const r = src(`${lines.join('\n')}\n`, 'bomb.yaml');
    expect(performance.now() - t).toBeLessThan(2000);
    expect(brief(r)).toEqual(['load/yaml-alias-limit@bomb.yaml:1:1']);
    expect(r.documents).toEqual([]);
  });

  it('a 100 MB file is rejected by its size without being read', async () => {
    const dir = tempDir();
    const big = path.join(dir, 'big.yaml');
    writeFileSync(big, '');
    truncateSync(big, 100 * 1024 * 1024); // sparse: no 100 MB written to disk
    writeFileSync(path.join(dir, 'ok.yaml'), cnp('ok'));
    const read = vi.spyOn(fsp, 'readFile');
    try {
      const r = await loadPolicies(['.'], { root: dir });
      expect(brief(r)).toEqual(['load/file-too-large@big.yaml:1:1']);
      expect(r.diagnostics[0]!.message).toContain('104857600 bytes');
      expect(read.mock.calls.map((c) => path.basename(String(c[0])))).toEqual(['ok.yaml']);
      expect(r.documents.map((d) => d.name)).toEqual(['ok']);
    } finally {
      read.mockRestore();
    }
  });

  it('deep nesting is refused past the limit, and absurd depth does not overflow the stack', () => {
    const deep = (n: number) => `${'['.repeat(n)}1${']'.repeat(n)}\n`;
    expect(brief(src(deep(65), 'deep.yaml'))).toEqual(['load/too-deep@deep.yaml:1:1']);
    expect(brief(src(deep(60), 'ok.yaml'))).toEqual(['load/not-an-object@ok.yaml:1:1']);
    const block = Array.from({ length: 100 }, (_, i) => `${'  '.repeat(i)}k${i}:`).join('\n') + ' 1\n';
    expect(brief(src(block, 'block.yaml'))).toEqual(['load/too-deep@block.yaml:1:1']);
    const r = src(deep(20000), 'absurd.yaml');
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]!.rule).toMatch(/^load\/(too-deep|yaml-syntax)$/);
  });

  it('invalid UTF-8 is reported at its line and column', () => {
    const bytes = new Uint8Array([...new TextEncoder().encode('kind: x\nmetadata:\n  name: caf'), 0xc3, 0x28, 0x0a]);
    const r = src(bytes, 'latin.yaml');
    expect(brief(r)).toEqual(['load/invalid-utf8@latin.yaml:3:12']);
    expect(r.diagnostics[0]!.message).toMatch(/invalid UTF-8 byte 0xc3 at byte offset 29/);
  });

  it('a UTF-8 BOM is accepted and positions stay 1-based from the first character', () => {
    const r = src(new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(cnp('bom'))]));
    expect(r.diagnostics).toEqual([]);
    expect(r.documents[0]!.locate(['kind'])).toMatchObject({ line: 2, column: 7 });
  });

  it('duplicate keys are a syntax error at the duplicate', () => {
    expect(brief(src('kind: A\nkind: B\n', 'dup.yaml'))).toEqual(['load/yaml-syntax@dup.yaml:2:1']);
  });
});

describe('loader: documents', () => {
  it('missing kind, unknown kind and wrong apiVersion each get one diagnostic; good documents survive', () => {
    const r = src(
      `metadata: {name: a}\n---\napiVersion: cilium.io/v2\nkind: Gadget\n---\napiVersion: cilium.io/v1\nkind: CiliumNetworkPolicy\nmetadata: {name: b}\n---\n${cnp('c')}`,
      'k.yaml',
    );
    expect(brief(r)).toEqual(['load/missing-kind@k.yaml:1:1', 'load/unknown-kind@k.yaml:4:7', 'load/unknown-apiversion@k.yaml:6:13']);
    expect(r.documents.map((d) => d.name)).toEqual(['b', 'c']);
  });

  it("other tools' objects and non-Kubernetes YAML are ignored quietly, counted; near misses still warn", () => {
    const r = src(
      [
        'apiVersion: x/v1\nkind: Gadget\nmetadata: {name: g}\n',
        'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: r}\n',
        'apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: app}\n',
        'name: Deploy policies\nruns: {using: composite, steps: []}\n',
        'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicys\nmetadata: {name: typo}\n',
        'apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: in}\n',
      ].join('---\n'),
      'g.yaml',
    );
    expect(brief(r)).toEqual(['load/unknown-kind@g.yaml:17:7']);
    expect(r.diagnostics[0]!.message).toContain('did you mean `CiliumNetworkPolicy`?');
    expect(r.ignored.map((i) => `${i.file}:${i.line} ${i.what}`)).toEqual([
      'g.yaml:1 Gadget (x/v1)',
      'g.yaml:5 ClusterRole (rbac.authorization.k8s.io/v1)',
      'g.yaml:9 Application (argoproj.io/v1alpha1)',
      'g.yaml:13 not a Kubernetes object',
      'g.yaml:20 Ingress (networking.k8s.io/v1)',
    ]);
  });

  it("typed lists (PodList, NamespaceList) give their items the list's kind and apiVersion", () => {
    const list =
      'kind: PodList\napiVersion: v1\nitems:\n- metadata: {name: p, namespace: x}\n  spec: {}\n- kind: Pod\n  apiVersion: v1\n  metadata: {name: q}\n';
    const r = src(list, 'pods.yaml');
    expect(r.diagnostics).toEqual([]);
    expect(r.documents.map((d) => [d.kind, d.apiVersion, d.name, d.namespace, d.provenance.line, d.value['kind']])).toEqual([
      ['Pod', 'v1', 'p', 'x', 4, 'Pod'],
      ['Pod', 'v1', 'q', undefined, 6, 'Pod'],
    ]);
    const ns = src('{"kind": "NamespaceList", "apiVersion": "v1", "items": [{"metadata": {"name": "default"}}]}', 'ns.json');
    expect(ns.documents.map((d) => [d.kind, d.name])).toEqual([['Namespace', 'default']]);
  });

  it('JSON: parsed with positions found on demand; syntax errors at their place; foreign JSON ignored', () => {
    const r = src(
      '{\n  "apiVersion": "cilium.io/v2",\n  "kind": "CiliumNetworkPolicy",\n  "metadata": {"name": "j"},\n  "spec": {"endpointSelector": {}}\n}\n',
      'p.json',
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.documents[0]!.locate(['spec', 'endpointSelector'], { key: true })).toMatchObject({ file: 'p.json', line: 5, column: 12 });
    expect(brief(src('{"kind": "Pod",\n "apiVersion": }', 'bad.json'))).toEqual(['load/json-syntax@bad.json:2:16']);
    for (const [text, what] of [
      ['{"compilerOptions": {}}', 'not a Kubernetes object'],
      ['[{"src": "a"}]', 'not a Kubernetes object'],
      ['{ // comments\n "compilerOptions": {} }', 'not a Kubernetes object (not JSON)'],
    ] as const) {
      const x = src(text, 'other.json');
      expect([x.diagnostics, x.documents, x.ignored.map((i) => i.what)]).toEqual([[], [], [what]]);
    }
  });

  it('multi-document files: provenance lines, document indexes and spans per document', () => {
    const r = src(`# leading comment\n${cnp('one')}---\n---\n${cnp('two')}`, 'multi.yaml');
    expect(r.diagnostics).toEqual([]);
    expect(r.documents.map((d) => [d.name, d.provenance.line, d.provenance.docIndex])).toEqual([
      ['one', 2, 0],
      ['two', 9, 2],
    ]);
    expect(r.documents[1]!.locate(['spec', 'endpointSelector'], { key: true })).toMatchObject({
      line: 13,
      column: 3,
      endLine: 13,
      endColumn: 19,
    });
    expect(r.documents[1]!.locate(['metadata', 'name'])).toMatchObject({ line: 11, column: 18 });
  });

  it('Lists are unpacked; each item keeps its own position and index', () => {
    const list = `apiVersion: v1\nkind: List\nitems:\n- apiVersion: networking.k8s.io/v1\n  kind: NetworkPolicy\n  metadata: {name: a, namespace: x}\n  spec: {podSelector: {}}\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: p, namespace: x}\n`;
    const r = src(list, 'list.yaml');
    expect(r.diagnostics).toEqual([]);
    expect(r.documents.map((d) => [d.kind, d.namespace, d.provenance.line, d.provenance.listIndex])).toEqual([
      ['NetworkPolicy', 'x', 4, 0],
      ['Pod', 'x', 8, 1],
    ]);
    expect(r.documents[0]!.locate(['spec', 'podSelector'])).toMatchObject({ line: 7, column: 23 });
  });

  it('locate falls back to the nearest existing ancestor', () => {
    const [d] = src(cnp('x')).documents;
    expect(d!.locate(['spec', 'ingress', 3, 'toPorts'])).toMatchObject({ line: 5, column: 3 });
  });
});

describe('loader: paths and revisions', () => {
  const gitEnv = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' };
  function repo(): { dir: string; git: (...a: string[]) => string } {
    const dir = tempDir();
    const git = (...a: string[]) => execFileSync('git', a, { cwd: dir, env: gitEnv }).toString().trim();
    git('init', '-q', '-b', 'main');
    return { dir, git };
  }

  it('missing paths are diagnostics and the other paths still load', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'a.yaml'), cnp('a'));
    const r = await loadPolicies(['nope', 'a.yaml'], { root: dir });
    expect(brief(r)).toEqual(['load/missing-path@nope:1:1']);
    expect(r.documents.map((d) => d.name)).toEqual(['a']);
  });

  it('folders are walked in name order, hidden folders and non-YAML files skipped', async () => {
    const dir = tempDir();
    mkdirSync(path.join(dir, 'b'));
    mkdirSync(path.join(dir, '.hidden'));
    writeFileSync(path.join(dir, 'b', 'z.yml'), cnp('z'));
    writeFileSync(path.join(dir, 'a.yaml'), cnp('a'));
    writeFileSync(path.join(dir, '.hidden', 'h.yaml'), cnp('h'));
    writeFileSync(path.join(dir, 'notes.txt'), 'kind: x');
    const r = await loadPolicies(['.'], { root: dir });
    expect(r.files).toEqual(['a.yaml', 'b/z.yml']);
  });

  it('--rev reads committed blobs without touching the work tree', async () => {
    const { dir, git } = repo();
    mkdirSync(path.join(dir, 'net'));
    writeFileSync(path.join(dir, 'net', 'p.yaml'), cnp('committed'));
    git('add', '.');
    git('commit', '-q', '-m', 'one');
    const commit = git('rev-parse', 'HEAD');
    writeFileSync(path.join(dir, 'net', 'p.yaml'), cnp('edited'));
    writeFileSync(path.join(dir, 'net', 'new.yaml'), cnp('untracked'));
    const before = git('status', '--porcelain');
    const r = await loadPolicies(['net'], { root: dir, rev: 'HEAD' });
    expect(r.commit).toBe(commit);
    expect(r.documents.map((d) => [d.name, d.provenance.file, d.provenance.commit])).toEqual([['committed', 'net/p.yaml', commit]]);
    expect(git('status', '--porcelain')).toBe(before);
    const wt = await loadPolicies(['net'], { root: dir });
    expect(wt.documents.map((d) => d.name)).toEqual(['untracked', 'edited']);
  });

  it('--rev: missing revision and paths outside the repository are diagnostics', async () => {
    const { dir, git } = repo();
    writeFileSync(path.join(dir, 'p.yaml'), cnp('p'));
    git('add', '.');
    git('commit', '-q', '-m', 'one');
    const missing = await loadPolicies(['.'], { root: dir, rev: 'v9.9.9' });
    expect(missing.diagnostics.map((d) => d.rule)).toEqual(['load/missing-revision']);
    expect(missing.diagnostics[0]!.message).toContain('`v9.9.9`');
    const outside = await loadPolicies(['../elsewhere', 'p.yaml'], { root: dir, rev: 'HEAD' });
    expect(outside.diagnostics.map((d) => d.rule)).toEqual(['load/outside-repository']);
    expect(outside.documents.map((d) => d.name)).toEqual(['p']);
  });

  it('--rev: a huge committed blob is rejected by size', async () => {
    const { dir, git } = repo();
    writeFileSync(path.join(dir, 'p.yaml'), `# ${'x'.repeat(2000)}\n${cnp('p')}`);
    git('add', '.');
    git('commit', '-q', '-m', 'one');
    const r = await loadPolicies(['.'], { root: dir, rev: 'HEAD', limits: { maxFileBytes: 1000 } });
    expect(r.diagnostics.map((d) => `${d.rule}@${d.file}`)).toEqual(['load/file-too-large@p.yaml']);
  });
});
