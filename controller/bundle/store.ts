// Content-addressed bundle store: blobs/sha256/<hex>, manifests/<hex>.json and .sig.
// Every file is written to a temporary name, fsynced and renamed, so a crash or a full
// disk leaves either the whole file or nothing: never a half-written blob under its digest.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { sha256, type Bundle } from '../../compiler/bundle/assemble.js';

/** The store's disk is full (ENOSPC/EDQUOT): reported as a status, the previous bundle stays in force. */
export class StoreFullError extends Error {
  constructor(
    readonly dir: string,
    cause: unknown,
  ) {
    super(`bundle store ${dir} is out of space; free space or point --store elsewhere (the last good bundle stays in force)`);
    this.cause = cause;
  }
}

const hexDigest = /^[0-9a-f]{64}$/;

export class BundleStore {
  constructor(readonly dir: string) {}

  blobPath(digest: string): string {
    if (!hexDigest.test(digest)) throw new Error(`not a sha256 hex digest: ${JSON.stringify(digest)}`);
    return path.join(this.dir, 'blobs', 'sha256', digest);
  }

  manifestPath(digest: string): string {
    if (!hexDigest.test(digest)) throw new Error(`not a sha256 hex digest: ${JSON.stringify(digest)}`);
    return path.join(this.dir, 'manifests', `${digest}.json`);
  }

  async hasBlob(digest: string): Promise<boolean> {
    try {
      await fs.access(this.blobPath(digest));
      return true;
    } catch {
      return false;
    }
  }

  async getBlob(digest: string): Promise<Buffer | undefined> {
    try {
      return await fs.readFile(this.blobPath(digest));
    } catch {
      return undefined;
    }
  }

  /** A blob whose bytes hash to its digest, or undefined (absent, or corrupt on disk: then it is removed so it can be fetched again). */
  async getVerifiedBlob(digest: string): Promise<Buffer | undefined> {
    const bytes = await this.getBlob(digest);
    if (!bytes) return undefined;
    if (sha256(bytes) === digest) return bytes;
    await fs.rm(this.blobPath(digest), { force: true });
    return undefined;
  }

  /** Stores bytes under their digest; refuses bytes that do not hash to `digest`. A file already there is kept only if it is intact. */
  async putBlob(digest: string, bytes: Uint8Array): Promise<void> {
    if (sha256(bytes) !== digest) throw new Error(`blob does not match digest ${digest}`);
    if (await this.getVerifiedBlob(digest)) return;
    await this.writeAtomic(this.blobPath(digest), bytes);
  }

  async putManifest(digest: string, manifestBytes: Uint8Array, signature: string): Promise<void> {
    if (sha256(manifestBytes) !== digest) throw new Error(`manifest does not match digest ${digest}`);
    // The signature goes first: a manifest present on disk is always a signed one.
    await this.writeAtomic(this.manifestPath(digest).replace(/\.json$/, '.sig'), Buffer.from(signature + '\n'));
    await this.writeAtomic(this.manifestPath(digest), manifestBytes);
  }

  async getManifest(digest: string): Promise<{ bytes: Buffer; signature: string } | undefined> {
    try {
      const bytes = await fs.readFile(this.manifestPath(digest));
      const signature = (await fs.readFile(this.manifestPath(digest).replace(/\.json$/, '.sig'), 'utf8')).trim();
      return { bytes, signature };
    } catch {
      return undefined;
    }
  }

  /** Digests of the manifests in the store. */
  async manifestDigests(): Promise<string[]> {
    const names = await fs.readdir(path.join(this.dir, 'manifests')).catch(() => [] as string[]);
    return names.filter((n) => /^[0-9a-f]{64}\.json$/.test(n)).map((n) => n.slice(0, 64));
  }

  /** Blobs first, manifest last: a reader that finds the manifest finds every blob it names. */
  async putBundle(bundle: Bundle, signature: string): Promise<void> {
    for (const [d, b] of [...bundle.blobs].sort(([a], [b]) => a.localeCompare(b))) await this.putBlob(d, b);
    await this.putManifest(bundle.digest, bundle.manifestBytes, signature);
  }

  private async writeAtomic(file: string, bytes: Uint8Array): Promise<void> {
    const tmp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      await fs.mkdir(path.dirname(file), { recursive: true });
      const fh = await fs.open(tmp, 'w', 0o644);
      try {
        await fh.writeFile(bytes);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fs.rename(tmp, file);
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOSPC' || code === 'EDQUOT') throw new StoreFullError(this.dir, err);
      throw err;
    }
  }
}
