// Reads the policy documents of a commit straight from Git (ls-tree + one cat-file --batch),
// keeping parsed documents by (file, blob id): a commit that changes one file re-parses one file.
import { spawn } from 'node:child_process';
import { simpleGit } from 'simple-git';
import { diagnostic, type Diagnostic } from '../../compiler/diagnostics.js';
import { loadSources, type PolicyDocument } from '../../compiler/load/index.js';

const yamlFile = /\.ya?ml$/i;

/** Reads many blobs through one `git cat-file --batch`. */
function catBlobs(repo: string, shas: string[]): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    const out = new Map<string, Buffer>();
    if (shas.length === 0) return resolve(out);
    const child = spawn('git', ['cat-file', '--batch'], { cwd: repo, stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`git cat-file exited with ${code}`));
      const all = Buffer.concat(chunks);
      let o = 0;
      for (const sha of shas) {
        const nl = all.indexOf(0x0a, o);
        const header = all.subarray(o, nl).toString();
        const size = Number(header.split(' ')[2]);
        out.set(sha, all.subarray(nl + 1, nl + 1 + size));
        o = nl + 1 + size + 1;
      }
      resolve(out);
    });
    child.stdin.end(shas.join('\n') + '\n');
  });
}


export class GitDocuments {
  /** Files with diagnostics are not cached, so their diagnostics always name the current commit. */
  private readonly parsed = new Map<string, PolicyDocument[]>();

  async read(root: string, rev: string, paths: string[]): Promise<{ documents: PolicyDocument[]; diagnostics: Diagnostic[]; commit: string } | { error: Diagnostic }> {
    const git = simpleGit(root);
    let commit = /^[0-9a-f]{40}$/.test(rev) ? rev : '';
    if (!commit) commit = (await git.raw(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`]).catch(() => '')).trim();
    if (!commit) return { error: diagnostic('load/unknown-revision', 'error', `${rev} is not a commit of ${root}`, { file: '.', line: 1, column: 1, endLine: 1, endColumn: 1 }) };
    const tree = await git.raw(['ls-tree', '-r', '-z', '--full-tree', commit, '--', ...paths]);
    const entries = tree
      .split('\0')
      .filter(Boolean)
      .map((line) => {
        const tab = line.indexOf('\t');
        const [, type, sha] = line.slice(0, tab).split(' ');
        return { type, sha: sha!, file: line.slice(tab + 1) };
      })
      .filter((e) => e.type === 'blob' && yamlFile.test(e.file));
    const key = (e: { file: string; sha: string }) => `${e.file}\0${e.sha}`;
    const missing = entries.filter((e) => !this.parsed.has(key(e)));
    const bytes = await catBlobs(root, [...new Set(missing.map((e) => e.sha))]);
    const documents: PolicyDocument[] = [];
    const diagnostics: Diagnostic[] = [];
    if (this.parsed.size > 20_000) this.parsed.clear();
    for (const e of entries) {
      const cached = this.parsed.get(key(e));
      if (cached) {
        documents.push(...cached);
        continue;
      }
      const r = loadSources([{ file: e.file, bytes: bytes.get(e.sha)! }], commit);
      documents.push(...r.documents);
      diagnostics.push(...r.diagnostics);
      if (r.diagnostics.length === 0) this.parsed.set(key(e), r.documents);
    }
    return { documents, diagnostics, commit };
  }
}
