// Follows a branch of a Git repository (local path or URL) in a bare mirror owned by the controller.
// Force pushes are accepted (the branch head is the desired state) and reported.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { runGit } from '../../compiler/load/git.js';
import { transientCode } from './faults.js';

/** A failed git answer that means "no": resolved as ''; a transient fault (EMFILE, ENOMEM) is passed on. */
const orEmpty = (err: unknown): string => {
  if (transientCode(err)) throw err;
  return '';
};
import type { CompileResult, Compiler } from './compiler.js';

export interface SourceUpdate {
  commit: string;
  /** The previous head was not an ancestor of the new one. */
  forcePushed: boolean;
  subject: string;
}

/** Where the controller's policies come from: a Git branch, or the objects in a cluster. */
export interface PolicySource {
  /** A new revision since `lastSeen`, or undefined. */
  poll(lastSeen: string | undefined): Promise<SourceUpdate | undefined>;
  compile(compiler: Compiler, revision: string, paths: string[]): Promise<CompileResult>;
}

export class GitSource implements PolicySource {
  /** Where commits are read from: the repository itself when it is a local path, else a bare mirror. */
  readonly mirror: string;
  private readonly local: boolean;
  private head: string | undefined;

  constructor(readonly url: string, readonly branch: string, workDir: string) {
    // A local repository is read in place (objects are immutable; the branch ref is read, never
    // written): no fetch and no copy on the path from commit to rollout.
    this.local = path.isAbsolute(url) && !url.includes('://');
    this.mirror = this.local ? url : path.join(workDir, 'mirror.git');
  }

  private async looseRef(): Promise<string | undefined> {
    for (const gitDir of [path.join(this.url, '.git'), this.url]) {
      try {
        const v = (await fs.readFile(path.join(gitDir, 'refs', 'heads', this.branch), 'utf8')).trim();
        if (/^[0-9a-f]{40}$/.test(v)) return v;
      } catch {
        // not here
      }
    }
    return undefined;
  }

  private async ensureMirror(): Promise<void> {
    try {
      await fs.access(path.join(this.mirror, 'HEAD'));
    } catch {
      await fs.mkdir(path.dirname(this.mirror), { recursive: true });
      await runGit(['init', '--bare', '--quiet', '--', this.mirror], path.dirname(this.mirror));
    }
  }

  /** Fetches the branch; returns the new head when it differs from the last one seen. */
  async poll(lastSeen: string | undefined): Promise<SourceUpdate | undefined> {
    let commit: string;
    const dir = this.local ? this.url : this.mirror;
    const git = { raw: (args: string[]) => runGit(args, dir) };
    if (this.local) {
      // A loose ref is one small file: read it without spawning git (packed refs fall back to rev-parse).
      commit = (await this.looseRef()) ?? (await git.raw(['rev-parse', '--verify', '--quiet', `refs/heads/${this.branch}^{commit}`]).catch(orEmpty)).trim();
      if (!commit) throw new Error(`cannot fetch branch ${this.branch} of ${this.url}: no such branch in that repository; check the path and the branch name`);
    } else {
      await this.ensureMirror();
      const ref = `refs/weir/${this.branch}`;
      try {
        await git.raw(['fetch', '--quiet', '--no-tags', this.url, `+refs/heads/${this.branch}:${ref}`]);
      } catch (err) {
        if (transientCode(err)) throw err;
        throw new Error(`cannot fetch branch ${this.branch} of ${this.url}: ${(err as Error).message.trim().split('\n')[0]}; check the URL, the branch name and credentials`);
      }
      commit = (await git.raw(['rev-parse', ref])).trim();
    }
    const prev = lastSeen ?? this.head;
    this.head = commit;
    if (commit === prev) return undefined;
    let forcePushed = false;
    if (prev) {
      // `merge-base --is-ancestor` answers by exit code, which simple-git does not surface reliably.
      const base = (await git.raw(['merge-base', prev, commit]).catch(orEmpty)).trim();
      forcePushed = base !== prev;
    }
    const subject = (await git.raw(['log', '-1', '--no-show-signature', '--format=%s', commit, '--'])).trim();
    return { commit, forcePushed, subject };
  }

  compile(compiler: Compiler, revision: string, paths: string[]): Promise<CompileResult> {
    return compiler.compile({ root: this.mirror, commit: revision, paths });
  }
}
