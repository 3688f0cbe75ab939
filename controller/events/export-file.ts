// Tetragon's export file: JSON lines appended to one file, rotated when the next line would pass the
// size limit (Tetragon's --export-file-max-size-mb, default 10) into `<name>-<UTC time>.<ext>` backups
// named as Tetragon's rotation names them, keeping the newest --export-file-max-backups (default 5).
import { closeSync, fstatSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import * as path from 'node:path';

export interface ExportFileOptions {
  /** Rotate before a write would make the file larger than this (default 10 MiB). */
  maxBytes?: number;
  /** Rotated files kept, newest first; older ones are deleted (default 5; 0 keeps none). */
  maxBackups?: number;
  /** File mode of a new export file (default 0600: events name processes and arguments). */
  mode?: number;
  now?: () => Date;
}

export class ExportFile {
  #fd: number;
  #size: number;
  readonly #maxBytes: number;
  readonly #maxBackups: number;
  readonly #mode: number;
  readonly #now: () => Date;

  constructor(
    readonly file: string,
    opts: ExportFileOptions = {},
  ) {
    this.#maxBytes = opts.maxBytes ?? 10 << 20;
    this.#maxBackups = opts.maxBackups ?? 5;
    this.#mode = opts.mode ?? 0o600;
    this.#now = opts.now ?? (() => new Date());
    this.#fd = openSync(file, 'a', this.#mode);
    this.#size = fstatSync(this.#fd).size;
  }

  /** Appends one line (newline included); a line is never split across files. */
  write(line: string): void {
    const bytes = Buffer.from(line);
    if (this.#size > 0 && this.#size + bytes.length > this.#maxBytes) this.rotate();
    writeSync(this.#fd, bytes);
    this.#size += bytes.length;
  }

  /** `tetragon.log` → `tetragon-2006-01-02T15-04-05.000.log`, then a fresh file; old backups pruned. */
  rotate(): void {
    closeSync(this.#fd);
    const ext = path.extname(this.file);
    const base = this.file.slice(0, this.file.length - ext.length);
    const stamp = this.#now().toISOString().slice(0, 23).replace(/:/g, '-');
    let target = `${base}-${stamp}${ext}`;
    for (let i = 1; backupExists(target); i++) target = `${base}-${stamp}.${i}${ext}`;
    renameSync(this.file, target);
    this.#fd = openSync(this.file, 'a', this.#mode);
    this.#size = 0;
    for (const old of this.backups().slice(this.#maxBackups)) unlinkSync(old);
  }

  /** Rotated files of this export file, newest first. */
  backups(): string[] {
    const dir = path.dirname(this.file);
    const ext = path.extname(this.file);
    const stem = path.basename(this.file, ext);
    const re = new RegExp(`^${escapeRe(stem)}-\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\d-\\d\\d\\.\\d{3}(\\.\\d+)?${escapeRe(ext)}$`);
    return readdirSync(dir)
      .filter((n) => re.test(n))
      .sort()
      .reverse()
      .map((n) => path.join(dir, n));
  }

  close(): void {
    closeSync(this.#fd);
  }
}

function backupExists(p: string): boolean {
  try {
    closeSync(openSync(p, 'r'));
    return true;
  } catch {
    return false;
  }
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
