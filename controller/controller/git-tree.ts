// Reads the policy documents of a commit straight from Git (ls-tree + one cat-file --batch),
// keeping parsed documents by (file, blob id): a commit that changes one file re-parses one file.
import { simpleGit } from 'simple-git';
import { diagnostic, type Diagnostic } from '../../compiler/diagnostics.js';
import { catFileBatch, loadSources, type PolicyDocument } from '../../compiler/load/index.js';

const yamlFile = /\.ya?ml$/i;

/** Reads many blobs through the loader's one `git cat-file --batch`, keyed by blob id. */
async function catBlobs(repo: string, shas: string[]): Promise<Map<string, Buffer>> {
  const bytes = await catFileBatch(repo, shas);
  return new Map(shas.map((sha, i) => [sha, bytes[i] as Buffer]));
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
