// The agent's record of what is in force, next to its local blob store; written after a swap.
// It carries the signed rollout step the agent ran last: the agent refuses anything older, so the
// record is written durably (temporary file, fsync, rename) before the step counts as applied.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { BundleRef } from '../reconcile/state.js';
import type { SignedTimestamp } from '../reconcile/controller.js';

export interface AppliedRecord extends BundleRef {
  /** Digest of the node view applied. */
  manifest: string;
  /** Its signed sequence number: the highest this agent applied. */
  sequence: number;
  /** The last controller timestamp that confirmed it (sent back at registration). */
  proof?: SignedTimestamp;
}

/** The record, `undefined` when there is none, or `'corrupt'` when the file exists but cannot be read as one. */
export async function readApplied(dir: string): Promise<AppliedRecord | undefined | 'corrupt'> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, 'applied.json'), 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : 'corrupt';
  }
  try {
    const r = JSON.parse(text) as Partial<AppliedRecord>;
    if (typeof r.revision !== 'string' || typeof r.digest !== 'string' || typeof r.manifest !== 'string') return 'corrupt';
    return { ...r, sequence: Number.isSafeInteger(r.sequence) ? r.sequence! : 0 } as AppliedRecord;
  } catch {
    return 'corrupt';
  }
}

export async function writeApplied(dir: string, ref: AppliedRecord): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, 'applied.json');
  const tmp = `${file}.tmp`;
  const fh = await fs.open(tmp, 'w', 0o644);
  try {
    await fh.writeFile(JSON.stringify(ref) + '\n');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.rename(tmp, file);
}
