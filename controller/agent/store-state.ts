// The agent's record of what is in force, next to its local blob store; written after a swap.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { BundleRef } from '../reconcile/state.js';

export async function readApplied(dir: string): Promise<BundleRef | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(dir, 'applied.json'), 'utf8')) as BundleRef;
  } catch {
    return undefined;
  }
}

export async function writeApplied(dir: string, ref: BundleRef & { manifest: string }): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, 'applied.json');
  await fs.writeFile(`${file}.tmp`, JSON.stringify(ref) + '\n');
  await fs.rename(`${file}.tmp`, file);
}
