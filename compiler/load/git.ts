// Reads revisions straight from Git's object store through one long-lived `git cat-file --batch`:
// a revision name resolves to its commit, trees are listed level by level (pipelined, each
// distinct tree read once), blobs are read once per id. A plan reads two revisions through one
// reader, so the head's unchanged folders and files cost nothing, and no process is started per
// step (rev-parse, ls-tree and cat-file each cost a fork of a large Node process before).
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Socket } from 'node:net';

/**
 * Options every git command runs with: a repository's own configuration must not make weir run
 * programs (signature verification's gpg.program, hooks, fsmonitor) or use the ext:: and fd::
 * transports, which run commands or read descriptors named in a URL.
 */
export const gitHardening: readonly string[] = [
  '-c',
  'log.showSignature=false',
  '-c',
  'core.hooksPath=/dev/null',
  '-c',
  'protocol.ext.allow=never',
  '-c',
  'protocol.fd.allow=never',
  '-c',
  'core.fsmonitor=false',
];

/** Environment of git commands: never prompt for credentials (a poll must fail, not hang). */
export function gitEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '/bin/false',
    SSH_ASKPASS: '/bin/false',
    GIT_SSH_COMMAND: process.env['GIT_SSH_COMMAND'] ?? 'ssh -o BatchMode=yes',
  };
}

/** A git command that failed: its exit code or system error code (EMFILE, ENOMEM, ...) and git's own message. */
export class GitCommandError extends Error {
  constructor(
    message: string,
    readonly code: string | number | undefined,
    readonly stderr: string,
  ) {
    super(message);
  }
}

/**
 * Runs `git ARGS` (with gitHardening) in `cwd` and returns stdout. Every failure is a rejected
 * promise, including a spawn that fails for lack of descriptors or memory: never an 'error' event.
 */
export function runGit(args: readonly string[], cwd: string, opts: { timeoutMs?: number; maxBuffer?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    let child: ReturnType<typeof execFile>;
    try {
      child = execFile(
        'git',
        [...gitHardening, ...args],
        {
          cwd,
          env: gitEnv(),
          encoding: 'utf8',
          timeout: opts.timeoutMs ?? 120_000,
          maxBuffer: opts.maxBuffer ?? 16 << 20,
          killSignal: 'SIGKILL',
        },
        (err, stdout, stderr) => {
          if (!err) return resolve(stdout);
          const e = err as NodeJS.ErrnoException & { killed?: boolean };
          const code = typeof e.code === 'string' || typeof e.code === 'number' ? e.code : undefined;
          const first = String(stderr).trim().split('\n').filter(Boolean).pop() ?? '';
          const what = e.killed
            ? `timed out after ${opts.timeoutMs ?? 120_000} ms`
            : typeof code === 'string'
              ? `${e.message}`
              : first || e.message;
          reject(new GitCommandError(`git ${args[0]}: ${what}`, code, String(stderr)));
        },
      );
    } catch (err) {
      // A synchronous spawn failure (EMFILE, EAGAIN) on some platforms.
      const e = err as NodeJS.ErrnoException;
      return reject(new GitCommandError(`git ${args[0]}: ${e.message}`, e.code, ''));
    }
    child.stdin?.end();
    child.on('error', () => undefined); // reported through the callback
  });
}

export interface GitObject {
  oid: string;
  type: string;
  content: Buffer;
}

interface Pending {
  name: string;
  resolve: (o: GitObject | undefined) => void;
  reject: (e: Error) => void;
}

/** A file of a revision's tree: its path from the repository root, blob id and mode. */
export interface TreeFile {
  file: string;
  oid: string;
  mode: string;
}

/**
 * One `git cat-file` process. Revision names are resolved once per reader (a reader stands for one
 * point in time): something that follows a moving branch takes a new reader per read.
 */
export class GitObjectReader {
  private child: ChildProcessWithoutNullStreams | undefined;
  private readonly pending: Pending[] = [];
  private chunks: Buffer[] = [];
  private len = 0;
  /** The header of the object being received, once read. */
  private header: { oid: string; type: string; size: number } | undefined;
  private failed: Error | undefined;
  private readonly objects = new Map<string, Promise<GitObject | undefined>>();

  /** Plain --batch (no --batch-command): one request per line, answered one write each. */
  private legacy = false;
  private answered = false;
  private flushing = false;
  private outbox = '';

  constructor(private readonly repo: string) {}

  private request(name: string): string {
    return this.legacy ? `${name}\n` : `contents ${name}\n`;
  }

  private start(): ChildProcessWithoutNullStreams {
    if (this.child) return this.child;
    // --batch-command --buffer (Git 2.36+): answers are written in large blocks at each `flush`
    // instead of one write per object, which costs a Node read per object (~80 µs) otherwise.
    const args = this.legacy ? ['cat-file', '--batch'] : ['cat-file', '--batch-command', '--buffer'];
    const child = spawn('git', [...gitHardening, ...args], { cwd: this.repo, env: gitEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdout.on('data', (c: Buffer) => {
      if (this.child === child) this.onData(c);
    });
    const fail = (e: Error) => {
      this.failed = e;
      for (const p of this.pending.splice(0)) p.reject(e);
    };
    child.on('error', (e) => fail(new Error(`cannot run git cat-file in ${this.repo}: ${e.message}`)));
    child.on('close', (code) => {
      // A process ended by close() may report after a new one has started: it no longer speaks for this reader.
      if (this.child !== child) return;
      this.child = undefined;
      if (code === 129 && !this.legacy && !this.answered) {
        // An older Git without --batch-command: ask again the plain way.
        this.legacy = true;
        this.chunks = [];
        this.len = 0;
        const again = this.start();
        for (const p of this.pending) again.stdin.write(this.request(p.name));
        return;
      }
      if (this.pending.length) fail(new Error(`git cat-file in ${this.repo} exited with ${code}${stderr ? `: ${stderr.trim()}` : ''}`));
    });
    child.stdin.on('error', () => {}); // reported by 'close' with git's own message
    this.child = child;
    return child;
  }

  /** Keeps this process alive only while an answer is awaited: an idle reader never holds the process open. */
  private hold(on: boolean): void {
    const c = this.child;
    if (!c) return;
    for (const h of [c, c.stdin as unknown as Socket, c.stdout as unknown as Socket, c.stderr as unknown as Socket]) {
      if (on) h.ref();
      else h.unref();
    }
  }

  /**
   * Output is kept as the chunks it arrived in and joined once per object, when the whole object
   * is there: joining on every chunk would copy a megabyte blob once per 64 KB read.
   */
  private onData(chunk: Buffer): void {
    this.answered = true;
    this.chunks.push(chunk);
    this.len += chunk.length;
    for (;;) {
      const p = this.pending[0];
      if (!p) return;
      if (!this.header) {
        const buf = this.joined();
        const nl = buf.indexOf(0x0a);
        if (nl < 0) return;
        const header = buf.toString('latin1', 0, nl);
        this.rest(buf, nl + 1);
        // `<name> missing` / `<name> ambiguous`: no content follows.
        if (header.endsWith(' missing') || header.endsWith(' ambiguous')) {
          this.pending.shift();
          this.settle();
          p.resolve(undefined);
          continue;
        }
        const [oid, type, sizeText] = header.split(' ');
        const size = Number(sizeText);
        if (!oid || !type || !Number.isSafeInteger(size)) {
          this.failed = new Error(`git cat-file: unexpected output ${JSON.stringify(header.slice(0, 80))}`);
          for (const q of this.pending.splice(0)) q.reject(this.failed);
          this.child?.kill();
          return;
        }
        this.header = { oid, type, size };
      }
      const { oid, type, size } = this.header;
      if (this.len < size + 1) return;
      const buf = this.joined();
      const content = buf.subarray(0, size);
      this.rest(buf, size + 1);
      this.header = undefined;
      this.pending.shift();
      this.settle();
      p.resolve({ oid, type, content });
    }
  }

  private joined(): Buffer {
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks, this.len)];
    return this.chunks[0]!;
  }

  private rest(buf: Buffer, from: number): void {
    const r = buf.subarray(from);
    this.chunks = r.length ? [r] : [];
    this.len = r.length;
  }

  private settle(): void {
    if (this.pending.length === 0) this.hold(false);
  }

  /**
   * An object by any name `git cat-file` accepts (`main^{commit}`, a blob id), or undefined when it
   * does not exist. Requests are pipelined in order; with `keep`, the answer is remembered (trees
   * and commits, which a second revision shares; blobs are cached by their parses instead).
   */
  read(name: string, keep = false): Promise<GitObject | undefined> {
    let r = this.objects.get(name);
    if (r) return r;
    if (/[\n\r\0]/.test(name)) return Promise.resolve(undefined);
    r = new Promise<GitObject | undefined>((resolve, reject) => {
      if (this.failed) return reject(this.failed);
      this.start();
      if (this.pending.length === 0) this.hold(true);
      this.pending.push({ name, resolve, reject });
      // Requests of one turn go out in one write (one syscall, not one per object), followed by
      // a flush so that they are answered together.
      this.outbox += this.request(name);
      if (!this.flushing) {
        this.flushing = true;
        queueMicrotask(() => {
          this.flushing = false;
          const out = this.outbox + (this.legacy ? '' : 'flush\n');
          this.outbox = '';
          this.child?.stdin.write(out);
        });
      }
    });
    if (keep) this.objects.set(name, r);
    return r;
  }

  /** The commit a revision names (`HEAD`, a branch, tag or id), or undefined. */
  async commit(rev: string): Promise<{ oid: string; tree: string } | undefined> {
    const c = await this.read(`${rev}^{commit}`, true);
    if (!c || c.type !== 'commit') return undefined;
    const m = /^tree ([0-9a-f]+)$/m.exec(c.content.toString('latin1', 0, Math.min(c.content.length, 200)));
    return m ? { oid: c.oid, tree: m[1]! } : undefined;
  }

  /**
   * Files of a tree, recursively, whose path is one of `paths` or below one (`.` or none: all),
   * sorted by path. Submodules are skipped; symbolic links are listed as Git stores them (blobs).
   */
  async files(tree: string, paths: readonly string[] = []): Promise<TreeFile[]> {
    const specs = paths.map((p) => p.replace(/^\.\/|\/+$/g, '')).filter((p) => p !== '.' && p !== '');
    const wanted = (p: string) => specs.length === 0 || specs.some((s) => p === s || p.startsWith(`${s}/`));
    // A folder is entered when it can hold a wanted path: it is under a spec, or a spec is under it.
    const enter = (dir: string) => specs.length === 0 || specs.some((s) => dir === s || dir.startsWith(`${s}/`) || s.startsWith(`${dir}/`));
    const out: TreeFile[] = [];
    const walk = async (oid: string, prefix: string): Promise<void> => {
      const t = await this.read(oid, true);
      if (!t || t.type !== 'tree') throw new Error(`git tree ${oid} (${prefix || '/'}) cannot be read`);
      const subtrees: Promise<void>[] = [];
      for (const e of parseTree(t.content, oid.length / 2)) {
        const p = prefix ? `${prefix}/${e.name}` : e.name;
        if (e.mode === '40000') {
          if (enter(p)) subtrees.push(walk(e.oid, p));
        } else if (e.mode !== '160000' && wanted(p)) out.push({ file: p, oid: e.oid, mode: e.mode });
      }
      await Promise.all(subtrees);
    };
    await walk(tree, '');
    return out.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0));
  }

  /** Ends the `git cat-file` process (it also ends when this process does). */
  close(): void {
    this.child?.stdin.end();
    this.child = undefined;
    // Answers still owed would come from the ended process: refuse them, and start clean.
    for (const p of this.pending.splice(0)) p.reject(new Error(`git reader for ${this.repo} was closed`));
    this.outbox = '';
    this.chunks = [];
    this.len = 0;
    this.header = undefined;
  }
}

/** Entries of a raw tree object: `<mode> <name>\0<id bytes>` repeated. */
export function parseTree(content: Buffer, idBytes: number): { mode: string; name: string; oid: string }[] {
  const out: { mode: string; name: string; oid: string }[] = [];
  let off = 0;
  while (off < content.length) {
    const sp = content.indexOf(0x20, off);
    const nul = content.indexOf(0x00, sp + 1);
    if (sp < 0 || nul < 0 || nul + 1 + idBytes > content.length) throw new Error('malformed git tree object');
    out.push({
      mode: content.toString('latin1', off, sp),
      name: content.toString('utf8', sp + 1, nul),
      oid: content.toString('hex', nul + 1, nul + 1 + idBytes),
    });
    off = nul + 1 + idBytes;
  }
  return out;
}

/**
 * The top level of the work tree holding `cwd`, or undefined outside one. One `git rev-parse`
 * (started directly: every weir command asks this, and simple-git costs tens of milliseconds to load).
 */
export function gitTopLevel(cwd: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('git', [...gitHardening, 'rev-parse', '--show-toplevel'], { cwd, encoding: 'utf8' }, (err, out) =>
      resolve(err ? undefined : out.trim() || undefined),
    );
  });
}
