// Follows a branch of a Git repository (local path or URL) in a bare mirror owned by the controller.
// Force pushes are accepted (the branch head is the desired state) and reported.
// Every git command runs hardened (compiler/load/git.ts gitHardening: no hooks, no signature
// programs, no ext::/fd:: transports); URLs are checked against an allow list before git sees them,
// and user values go after `--` so none becomes an option.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { runGit } from '../../compiler/load/git.js';
import { transientCode } from './faults.js';
import type { CompileInputs, CompileResult, Compiler } from './compiler.js';

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
  compile(compiler: Compiler, revision: string, paths: string[], inputs?: CompileInputs): Promise<CompileResult>;
}

/** Transports a repository URL may use. `ext::` and `fd::` (which run commands or read descriptors) and every other remote helper are refused. */
export const allowedTransports = ['https', 'http', 'ssh', 'git+ssh', 'ssh+git', 'file'] as const;

/** Only these protocols may be used by the fetch itself (redirects and submodules included). */
const protocolAllowList = [
  '-c',
  'protocol.allow=never',
  ...['https', 'http', 'ssh', 'file'].flatMap((p) => ['-c', `protocol.${p}.allow=always`]),
];

export class SourceRefused extends Error {
  override name = 'SourceRefused';
}

/** Where a repository string points: a local path, or a URL with an allowed transport; throws SourceRefused otherwise. */
export function classifyRepository(url: string): { kind: 'local'; path: string } | { kind: 'remote'; transport: string } {
  if (url.length === 0 || url.length > 4096 || /[\u0000-\u001f\u007f]/.test(url))
    throw new SourceRefused('the repository is empty, too long or contains control characters');
  if (url.startsWith('-')) throw new SourceRefused(`repository ${JSON.stringify(url)} starts with "-": it would be read as a git option`);
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(url);
  if (scheme) {
    const t = scheme[1]!.toLowerCase();
    if (!(allowedTransports as readonly string[]).includes(t))
      throw new SourceRefused(`transport ${t}:// is not allowed (allowed: ${allowedTransports.join(', ')})`);
    return { kind: 'remote', transport: t };
  }
  // `helper::address` is a remote helper (ext::, fd::, ...): never allowed.
  const helper = /^([a-zA-Z][a-zA-Z0-9+.-]*)::/.exec(url);
  if (helper) throw new SourceRefused(`transport ${helper[1]}:: is not allowed (allowed: ${allowedTransports.join(', ')})`);
  if (path.isAbsolute(url)) return { kind: 'local', path: url };
  // scp-like ssh: [user@]host:path
  if (/^([a-zA-Z0-9._-]+@)?[a-zA-Z0-9.-]+:[^:]/.test(url) && !url.includes('::')) return { kind: 'remote', transport: 'ssh' };
  throw new SourceRefused(
    `repository ${JSON.stringify(url)} is neither an absolute path nor a URL with an allowed transport (${allowedTransports.join(', ')})`,
  );
}

/** A branch name git accepts and that cannot be read as an option or a refspec. */
export function checkBranch(branch: string): void {
  const bad =
    branch.length === 0 ||
    branch.length > 255 ||
    branch.startsWith('-') ||
    branch.startsWith('/') ||
    branch.endsWith('/') ||
    branch.endsWith('.lock') ||
    branch.includes('..') ||
    branch.includes('//') ||
    branch.includes('@{') ||
    /[\u0000-\u0020\u007f~^:?*[\\]/.test(branch);
  if (bad) throw new SourceRefused(`branch ${JSON.stringify(branch)} is not a valid branch name`);
}

/** A failed git answer that means "no": resolved as ''; a transient fault (EMFILE, ENOMEM) is passed on. */
const orEmpty = (err: unknown): string => {
  if (transientCode(err)) throw err;
  return '';
};

export class GitSource implements PolicySource {
  /** Where commits are read from: the repository itself when it is a local path, else a bare mirror. */
  readonly mirror: string;
  private readonly local: boolean;

  constructor(
    readonly url: string,
    readonly branch: string,
    workDir: string,
  ) {
    const where = classifyRepository(url);
    checkBranch(branch);
    // A local repository is read in place (objects are immutable; the branch ref is read, never
    // written): no fetch and no copy on the path from commit to rollout.
    this.local = where.kind === 'local';
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

  /**
   * The bare mirror, created on first use: a partial clone without blobs (`--filter=blob:none`;
   * a server that does not allow filters sends everything), so only the blobs a compile reads
   * are fetched. A half-made mirror (no HEAD, or an interrupted clone) is removed and made again.
   */
  private async ensureMirror(): Promise<void> {
    try {
      await fs.access(path.join(this.mirror, 'HEAD'));
      const origin = (await runGit(['config', '--get', 'remote.origin.url'], this.mirror).catch(orEmpty)).trim();
      if (origin === this.url) return;
      // The repository changed (--repo edited): point the mirror at it.
      await runGit(['config', 'remote.origin.url', this.url], this.mirror);
      return;
    } catch (err) {
      if (transientCode(err)) throw err;
    }
    await fs.rm(this.mirror, { recursive: true, force: true });
    await fs.mkdir(path.dirname(this.mirror), { recursive: true });
    const tmp = `${this.mirror}.tmp-${process.pid}`;
    await fs.rm(tmp, { recursive: true, force: true });
    try {
      await runGit(
        [
          ...protocolAllowList,
          'clone',
          '--bare',
          '--quiet',
          '--no-tags',
          '--filter=blob:none',
          '--single-branch',
          '--branch',
          this.branch,
          '--',
          this.url,
          tmp,
        ],
        path.dirname(this.mirror),
        { timeoutMs: 600_000 },
      );
      await fs.rename(tmp, this.mirror);
    } catch (err) {
      await fs.rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  /** Fetches the branch; returns the new head when it differs from the last one seen. */
  async poll(lastSeen: string | undefined): Promise<SourceUpdate | undefined> {
    let commit: string;
    const dir = this.local ? this.url : this.mirror;
    const git = (args: string[]) => runGit(args, dir);
    if (this.local) {
      // A loose ref is one small file: read it without spawning git (packed refs fall back to rev-parse).
      commit =
        (await this.looseRef()) ??
        (await git(['rev-parse', '--verify', '--quiet', '--end-of-options', `refs/heads/${this.branch}^{commit}`]).catch(orEmpty)).trim();
      if (!commit)
        throw new Error(
          `cannot fetch branch ${this.branch} of ${this.url}: no such branch in that repository; check the path and the branch name`,
        );
    } else {
      const ref = `refs/weir/${this.branch}`;
      try {
        await this.ensureMirror();
        await runGit(
          [
            ...protocolAllowList,
            'fetch',
            '--quiet',
            '--no-tags',
            '--no-write-fetch-head',
            '--',
            'origin',
            `+refs/heads/${this.branch}:${ref}`,
          ],
          this.mirror,
          { timeoutMs: 600_000 },
        );
      } catch (err) {
        if (transientCode(err)) throw err;
        throw new Error(
          `cannot fetch branch ${this.branch} of ${this.url}: ${(err as Error).message.trim().split('\n')[0]}; check the URL, the branch name and credentials`,
        );
      }
      commit = (await git(['rev-parse', '--verify', '--end-of-options', `${ref}^{commit}`])).trim();
    }
    // Only what the controller recorded counts as seen: a commit it could not store is offered again.
    const prev = lastSeen;
    if (commit === prev) return undefined;
    let forcePushed = false;
    if (prev && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(prev)) {
      // `merge-base --is-ancestor` answers by exit code; the merge base itself says the same.
      const base = (await git(['merge-base', '--', prev, commit]).catch(orEmpty)).trim();
      forcePushed = base !== prev;
    }
    const subject = (await git(['log', '-1', '--no-show-signature', '--format=%s', commit, '--'])).trim();
    return { commit, forcePushed, subject };
  }

  compile(compiler: Compiler, revision: string, paths: string[], inputs: CompileInputs = {}): Promise<CompileResult> {
    return compiler.compile({ ...inputs, root: this.mirror, commit: revision, paths });
  }
}
