// The Git source: `--repo URL` with a fresh state directory creates a bare partial mirror and
// follows the branch, over file:// and over smart HTTP (git http-backend on loopback, started
// here); ext::, fd::, other remote helpers, option-looking values and bad branch names are
// refused before git runs; a repository's own configuration cannot make the controller run a
// program (gpg.program through log.showSignature).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CommandIO } from '../../cli/command.js';
import { main } from '../../cli/main.js';
import { generateSigningKey } from '../../controller/bundle/sign.js';
import { ProjectCompiler } from '../../controller/reconcile/compiler.js';
import { Controller } from '../../controller/reconcile/controller.js';
import { silentLogger } from '../../controller/reconcile/log.js';
import { classifyRepository, GitSource, SourceRefused } from '../../controller/reconcile/source.js';
import { gitHttpServer, type GitHttpServer } from './git-http.js';
import { empireAndAlliance, empireOnly, pods } from './harness.js';

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.email=t@weir.invalid', '-c', 'user.name=t', '-c', 'commit.gpgsign=false', ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null' },
  }).trim();

describe('Git source over URLs', () => {
  let dir: string;
  let work: string;
  let bare: string;
  let http: GitHttpServer;
  const compiler = new ProjectCompiler();

  const commit = async (files: Record<string, string>, message: string) => {
    for (const [f, t] of Object.entries(files)) {
      await fs.mkdir(path.dirname(path.join(work, f)), { recursive: true });
      await fs.writeFile(path.join(work, f), t);
    }
    git(work, 'add', '-A');
    git(work, 'commit', '-q', '-m', message);
    git(work, 'push', '-q', '--force', bare, 'HEAD:refs/heads/main');
    return git(work, 'rev-parse', 'HEAD');
  };

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'weir-gitsrc-'));
    work = path.join(dir, 'work');
    bare = path.join(dir, 'served', 'policies.git');
    await fs.mkdir(work);
    await fs.mkdir(path.dirname(bare));
    git(dir, 'init', '-q', '--bare', bare);
    git(bare, 'config', 'uploadpack.allowFilter', 'true');
    git(work, 'init', '-q', '-b', 'main');
    await commit({ 'policies/pods.yaml': pods, 'policies/rule1.yaml': empireOnly }, 'one');
    http = await gitHttpServer(path.dirname(bare));
  });
  afterAll(async () => {
    await http?.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['file://', () => `file://${bare}`],
    ['smart HTTP', () => `${http.url}/policies.git`],
  ])('%s: a fresh state directory gets a bare mirror, follows the branch and compiles from it', async (what, url) => {
    const state = await fs.mkdtemp(path.join(dir, 'state-'));
    await fs.rm(state, { recursive: true }); // fresh: not even the folder exists
    const src = new GitSource(url(), 'main', state);
    const first = await src.poll(undefined);
    const head = git(work, 'rev-parse', 'HEAD');
    expect(first).toMatchObject({ commit: head, forcePushed: false });
    expect(git(src.mirror, 'rev-parse', '--is-bare-repository')).toBe('true');
    const r = await src.compile(compiler, head, ['policies']);
    expect(r.ok, JSON.stringify(r.diagnostics)).toBe(true);
    const two = await commit({ 'policies/rule1.yaml': empireAndAlliance, 'policies/note.yaml': `# ${what}\n` }, 'two');
    expect(await src.poll(first!.commit)).toMatchObject({ commit: two, subject: 'two', forcePushed: false });
    git(work, 'reset', '-q', '--hard', head);
    const rewritten = await commit({ 'policies/extra.yaml': `${empireOnly.replace('rule1', 'rule9')}# ${what}\n` }, 'rewritten');
    expect(await src.poll(two)).toMatchObject({ commit: rewritten, forcePushed: true });
  });

  it('smart HTTP: the mirror is a partial clone (no blobs until a compile reads them)', async () => {
    const state = path.join(dir, 'state-partial');
    const src = new GitSource(`${http.url}/policies.git`, 'main', state);
    await src.poll(undefined);
    expect(git(src.mirror, 'config', '--get', 'remote.origin.partialclonefilter')).toBe('blob:none');
    expect(http.requests.some((r) => r.includes('git-upload-pack'))).toBe(true);
  });

  it('a controller started with --repo URL and a fresh state directory rolls out the head', async () => {
    const c = new Controller({
      repo: `${http.url}/policies.git`,
      branch: 'main',
      paths: ['policies'],
      stateDir: path.join(dir, 'state-controller'),
      compiler,
      key: generateSigningKey(),
      logger: silentLogger(),
      pollIntervalMs: 0,
    });
    try {
      await c.start();
      await c.idle();
      expect(c.state.lastError).toBeUndefined();
      expect(c.state.lastSeenCommit).toBe(git(bare, 'rev-parse', 'refs/heads/main'));
      expect(c.phase).toBe('Complete');
    } finally {
      await c.stop();
    }
  });
});

describe('refused repositories and branches', () => {
  it.each([
    ['ext:: (runs a command)', 'ext::sh -c touch% /tmp/weir-pwned', /transport ext:: is not allowed/],
    ['fd::', 'fd::3', /transport fd:: is not allowed/],
    ['another remote helper', 'persistent-https::example.com/x', /is not allowed/],
    ['an unlisted scheme', 'gopher://example.com/x', /transport gopher:\/\/ is not allowed/],
    ['an option', '-oProxyCommand=touch /tmp/weir-pwned', /starts with "-"/],
    ['an upload-pack option', '--upload-pack=touch /tmp/weir-pwned', /starts with "-"/],
    ['a relative path', 'policies/repo', /neither an absolute path nor a URL/],
  ])('refuses %s', (_what, url, want) => {
    expect(() => classifyRepository(url)).toThrow(want);
    expect(() => new GitSource(url, 'main', os.tmpdir())).toThrow(SourceRefused);
  });

  it.each(['--output=/tmp/x', '-oX', 'a..b', 'a:b', 'refs with space', 'x\u0000'])('refuses branch %j', (branch) => {
    expect(() => new GitSource('https://example.com/r.git', branch, os.tmpdir())).toThrow(/not a valid branch name/);
  });

  it('weir controller exits 2 naming the refused transport', async () => {
    const d = await fs.mkdtemp(path.join(os.tmpdir(), 'weir-ext-'));
    try {
      const key = path.join(d, 'k.pem');
      await fs.writeFile(path.join(d, 'token'), 'operator-token-0123456789abcdef');
      const o = { out: '', err: '', cwd: d, env: {}, isTTY: false } as CommandIO & { out: string; err: string };
      o.stdout = (s) => void (o.out += s);
      o.stderr = (s) => void (o.err += s);
      const code = await main(
        [
          'controller',
          '--repo',
          'ext::sh -c touch% /tmp/weir-pwned',
          '--key',
          key,
          '--generate-key',
          '--insecure-loopback',
          '--token-file',
          path.join(d, 'token'),
          '--listen',
          '127.0.0.1:0',
          '--state-dir',
          path.join(d, 'state'),
        ],
        o,
      );
      expect(code).toBe(2);
      expect(o.err).toMatch(/transport ext:: is not allowed/);
    } finally {
      await fs.rm(d, { recursive: true, force: true });
    }
  });
});

describe("a repository's own configuration", () => {
  it('cannot make the controller run gpg.program (log.showSignature), however the commit is signed', async () => {
    const d = await fs.mkdtemp(path.join(os.tmpdir(), 'weir-gpgcfg-'));
    try {
      const repo = path.join(d, 'repo');
      const marker = path.join(d, 'gpg-ran');
      const fake = path.join(d, 'fake-gpg');
      await fs.writeFile(fake, `#!/bin/sh\ntouch ${marker}\nexit 1\n`, { mode: 0o755 });
      await fs.mkdir(repo);
      git(repo, 'init', '-q', '-b', 'main');
      git(repo, 'commit', '-q', '--allow-empty', '-m', 'plain');
      // A commit carrying a signature header, as a signed commit does.
      const tree = git(repo, 'rev-parse', 'HEAD^{tree}');
      const parent = git(repo, 'rev-parse', 'HEAD');
      const body = `tree ${tree}\nparent ${parent}\nauthor t <t@weir.invalid> 1700000000 +0000\ncommitter t <t@weir.invalid> 1700000000 +0000\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----\n\nsigned subject\n`;
      const signed = execFileSync('git', ['hash-object', '-t', 'commit', '-w', '--stdin'], {
        cwd: repo,
        input: body,
        encoding: 'utf8',
      }).trim();
      git(repo, 'update-ref', 'refs/heads/main', signed);
      git(repo, 'config', 'log.showSignature', 'true');
      git(repo, 'config', 'gpg.program', fake);
      git(repo, 'log', '-1', '--format=%s'); // git itself runs it for this repository
      expect(existsSync(marker)).toBe(true);
      await fs.rm(marker);
      const u = await new GitSource(repo, 'main', path.join(d, 'state')).poll(undefined);
      expect(u?.subject).toBe('signed subject');
      expect(existsSync(marker)).toBe(false);
    } finally {
      await fs.rm(d, { recursive: true, force: true });
    }
  });
});
