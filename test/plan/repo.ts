// A policy repository built commit by commit in a temporary folder, with fixed author, committer
// and dates so every commit hash (and so every golden plan) is identical from run to run.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

export interface Step {
  name: string;
  message: string;
  write?: Record<string, string>;
  remove?: string[];
}

export class TestRepo {
  readonly dir: string;
  private n = 0;
  constructor(prefix = 'weirplan-repo-') {
    this.dir = mkdtempSync(path.join(tmpdir(), prefix));
    this.git('init', '-q', '-b', 'main');
  }

  git(...args: string[]): string {
    const when = `2026-01-01T00:${String(this.n).padStart(2, '0')}:00Z`;
    return execFileSync('git', ['-c', 'user.name=weir test', '-c', 'user.email=test@weir.invalid', '-c', 'commit.gpgsign=false', ...args], {
      cwd: this.dir,
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_DATE: when,
        GIT_COMMITTER_DATE: when,
        GIT_CONFIG_GLOBAL: '/dev/null',
        GIT_CONFIG_SYSTEM: '/dev/null',
      },
    });
  }

  /** Applies a step's edits and commits them; returns the commit hash. */
  commit(step: Step): string {
    for (const [f, text] of Object.entries(step.write ?? {})) {
      const abs = path.join(this.dir, f);
      mkdirSync(path.dirname(abs), { recursive: true });
      writeFileSync(abs, text);
    }
    for (const f of step.remove ?? []) rmSync(path.join(this.dir, f));
    this.git('add', '-A');
    this.n++;
    this.git('commit', '-q', '--allow-empty', '-m', step.message);
    this.git('tag', step.name);
    return this.git('rev-parse', 'HEAD').trim();
  }

  /** Packs the objects, as a clone (what CI checks out) has them. */
  pack(): void {
    this.git('repack', '-a', '-d', '-q');
    this.git('prune-packed');
  }

  write(file: string, text: string): void {
    const abs = path.join(this.dir, file);
    mkdirSync(path.dirname(abs), { recursive: true });
    writeFileSync(abs, text);
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
