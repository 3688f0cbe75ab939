// Reads the policy documents of a commit straight from Git (one `git cat-file --batch-command`
// per read, through the loader's readRevision), keeping parsed documents by (file, blob id): a
// commit that changes one file reads and parses one file. The commit's own .weir.yaml (at the
// repository's top) gives the ignore list and the cluster's allow-localhost.
import { hasErrors, type Diagnostic } from '../../compiler/diagnostics.js';
import { configAtCommit, type ProjectConfig } from '../../compiler/load/config.js';
import { GitObjectReader } from '../../compiler/load/git.js';
import { loadSources, readRevision, type PolicyDocument } from '../../compiler/load/index.js';

export class GitDocuments {
  /** Files with diagnostics are not cached, so their diagnostics always name the current commit. */
  private readonly parsed = new Map<string, PolicyDocument[]>();

  async read(
    root: string,
    rev: string,
    paths: string[],
  ): Promise<{ documents: PolicyDocument[]; diagnostics: Diagnostic[]; commit: string; config?: ProjectConfig } | { error: Diagnostic }> {
    const key = (file: string, oid: string) => `${file}\0${oid}`;
    if (this.parsed.size > 20_000) this.parsed.clear();
    // What the cache held when the files were listed: those are not read, and are taken from here
    // (a concurrent read may clear the cache meanwhile).
    const held = new Map<string, PolicyDocument[]>();
    const have = (file: string, oid: string) => {
      const docs = this.parsed.get(key(file, oid));
      if (docs) held.set(key(file, oid), docs);
      return docs !== undefined;
    };
    // A reader per read: a branch name must resolve to where it points now.
    const reader = new GitObjectReader(root);
    let config: ProjectConfig | undefined;
    let r: Awaited<ReturnType<typeof readRevision>>;
    try {
      // The commit's own .weir.yaml says which files its folders are read without, as for weir build and plan.
      const commit = await reader.commit(rev).catch(() => undefined);
      if (commit) {
        const cfg = await configAtCommit(reader, root, commit.tree);
        if (hasErrors(cfg.diagnostics)) return { documents: [], diagnostics: cfg.diagnostics, commit: commit.oid };
        config = cfg.config;
      }
      r = await readRevision(root, commit?.oid ?? rev, paths, { reader, have, ...(config?.ignore ? { ignore: config.ignore } : {}) });
    } finally {
      reader.close();
    }
    if ('error' in r) return r;
    const documents: PolicyDocument[] = [];
    const diagnostics: Diagnostic[] = [];
    for (const f of r.files) {
      const cached = held.get(key(f.file, f.oid));
      if (cached) {
        documents.push(...cached);
        continue;
      }
      const loaded = loadSources([{ file: f.file, bytes: f.bytes! }], r.commit);
      documents.push(...loaded.documents);
      diagnostics.push(...loaded.diagnostics);
      if (loaded.diagnostics.length === 0) this.parsed.set(key(f.file, f.oid), loaded.documents);
    }
    return { documents, diagnostics, commit: r.commit, ...(config ? { config } : {}) };
  }
}
