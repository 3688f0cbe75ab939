// The controller's durable state: what was compiled, what is desired where, what was last good.
// Written atomically after every transition so a restart resumes instead of re-rolling.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

export interface BundleRef {
  revision: string;
  digest: string;
  /** The signed rollout step this reference was issued at (controller/bundle/codec.ts NodeManifest.sequence). */
  sequence?: number;
}

export type RolloutPhase = 'Idle' | 'Compiling' | 'Canary' | 'Rolling' | 'Complete' | 'RolledBack' | 'CompileFailed' | 'Degraded';

export interface PersistedState {
  /** Last commit of the branch the controller has processed (compiled, whatever the outcome). */
  lastSeenCommit?: string;
  lastGood?: BundleRef;
  /** The bundle of the latest rollout, whether it completed or was rolled back. */
  current?: BundleRef & { phase: RolloutPhase; startedAt: string; finishedAt?: string };
  lastError?: { revision?: string; message: string; at: string };
  desired: Record<string, BundleRef>;
  /** Highest rollout step issued: every change of what a node should run gets the next number. */
  sequence?: number;
}

export function emptyState(): PersistedState {
  return { desired: {} };
}

export async function loadState(dir: string): Promise<PersistedState> {
  try {
    const s = JSON.parse(await fs.readFile(path.join(dir, 'state.json'), 'utf8')) as PersistedState;
    return { ...emptyState(), ...s };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
    throw new Error(`${path.join(dir, 'state.json')}: unreadable controller state (${(err as Error).message}); move it aside to start fresh`);
  }
}

export async function saveState(dir: string, s: PersistedState): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, 'state.json');
  const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
  await fs.writeFile(tmp, JSON.stringify(s, null, 2) + '\n');
  await fs.rename(tmp, file);
}
