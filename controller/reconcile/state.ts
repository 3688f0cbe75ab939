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
  current?: BundleRef & {
    phase: RolloutPhase;
    startedAt: string;
    finishedAt?: string;
    /** Canary nodes and their drop rates before the rollout: a controller restarted mid-canary resumes the same gate. */
    canaries?: string[];
    baseline?: Record<string, number>;
  };
  lastError?: { revision?: string; message: string; at: string };
  desired: Record<string, BundleRef>;
  /**
   * Nodes held on their last bundle: their agent's probe refused the latest compiled commit (the reason is the
   * compiler's diagnostic). The rollout goes to the other nodes; a held node's desired bundle stays what it was.
   */
  held?: Record<string, HeldNode>;
  /** Highest rollout step issued: every change of what a node should run gets the next number. */
  sequence?: number;
}

export interface HeldNode {
  /** The commit this node was not given. */
  revision: string;
  /** The refusal's diagnostic rule, and its message (naming the node and what its probe says it lacks). */
  rule: string;
  reason: string;
  since: string;
}

export function emptyState(): PersistedState {
  return { desired: {} };
}

const phases: readonly RolloutPhase[] = ['Idle', 'Compiling', 'Canary', 'Rolling', 'Complete', 'RolledBack', 'CompileFailed', 'Degraded'];
const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isRef = (v: unknown): v is BundleRef =>
  isObj(v) &&
  typeof v['revision'] === 'string' &&
  typeof v['digest'] === 'string' &&
  /^[0-9a-f]{64}$/.test(v['digest']) &&
  (v['sequence'] === undefined || (Number.isSafeInteger(v['sequence']) && (v['sequence'] as number) >= 0));

/** The fields of a parsed state.json that hold what they should; what was dropped is named in `problems`. */
export function normalizeState(raw: unknown): { state: PersistedState; problems: string[] } {
  if (!isObj(raw)) return { state: emptyState(), problems: ['state.json does not hold an object'] };
  const problems: string[] = [];
  const state = emptyState();
  if (typeof raw['lastSeenCommit'] === 'string' && /^[0-9a-f]{40}([0-9a-f]{24})?$|^[\x21-\x7e]{1,256}$/.test(raw['lastSeenCommit']))
    state.lastSeenCommit = raw['lastSeenCommit'];
  else if (raw['lastSeenCommit'] !== undefined) problems.push('lastSeenCommit');
  if (isRef(raw['lastGood']))
    state.lastGood = {
      revision: raw['lastGood'].revision,
      digest: raw['lastGood'].digest,
      ...(raw['lastGood'].sequence !== undefined ? { sequence: raw['lastGood'].sequence } : {}),
    };
  else if (raw['lastGood'] !== undefined) problems.push('lastGood');
  const c = raw['current'];
  if (
    isRef(c) &&
    phases.includes((c as unknown as Record<string, unknown>)['phase'] as RolloutPhase) &&
    typeof (c as unknown as Record<string, unknown>)['startedAt'] === 'string'
  ) {
    const cc = c as unknown as NonNullable<PersistedState['current']>;
    const canaries = Array.isArray(cc.canaries) && cc.canaries.every((n) => typeof n === 'string') ? cc.canaries : undefined;
    const baseline =
      isObj(cc.baseline) && Object.values(cc.baseline).every((x) => typeof x === 'number' && x >= 0 && x <= 1) ? cc.baseline : undefined;
    state.current = {
      revision: cc.revision,
      digest: cc.digest,
      ...(cc.sequence !== undefined ? { sequence: cc.sequence } : {}),
      phase: cc.phase,
      startedAt: cc.startedAt,
      ...(typeof cc.finishedAt === 'string' ? { finishedAt: cc.finishedAt } : {}),
      ...(canaries ? { canaries } : {}),
      ...(baseline ? { baseline } : {}),
    };
  } else if (c !== undefined) problems.push('current');
  const e = raw['lastError'];
  if (isObj(e) && typeof e['message'] === 'string' && typeof e['at'] === 'string')
    state.lastError = { message: e['message'], at: e['at'], ...(typeof e['revision'] === 'string' ? { revision: e['revision'] } : {}) };
  else if (e !== undefined) problems.push('lastError');
  if (isObj(raw['desired'])) {
    for (const [n, r] of Object.entries(raw['desired'])) {
      if (isRef(r))
        state.desired[n] = { revision: r.revision, digest: r.digest, ...(r.sequence !== undefined ? { sequence: r.sequence } : {}) };
      else problems.push(`desired.${n}`);
    }
  } else if (raw['desired'] !== undefined) problems.push('desired');
  if (isObj(raw['held'])) {
    for (const [n, h] of Object.entries(raw['held'])) {
      if (
        isObj(h) &&
        typeof h['revision'] === 'string' &&
        typeof h['rule'] === 'string' &&
        typeof h['reason'] === 'string' &&
        typeof h['since'] === 'string'
      )
        (state.held ??= {})[n] = { revision: h['revision'], rule: h['rule'], reason: h['reason'], since: h['since'] };
      else problems.push(`held.${n}`);
    }
  } else if (raw['held'] !== undefined) problems.push('held');
  if (Number.isSafeInteger(raw['sequence']) && (raw['sequence'] as number) >= 0) state.sequence = raw['sequence'] as number;
  else if (raw['sequence'] !== undefined) problems.push('sequence');
  return { state, problems };
}

/**
 * The persisted state. A file that cannot be read as state (not JSON, or fields of the wrong
 * shape, such as {"desired": null}) is moved aside (state.json.invalid-TIME) and what could be
 * kept is used: the controller resumes from the branch head and says so (`recovered`).
 */
export async function loadState(dir: string): Promise<PersistedState & { recovered?: string }> {
  const file = path.join(dir, 'state.json');
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
    throw err;
  }
  let raw: unknown;
  let problems: string[];
  let state: PersistedState;
  try {
    raw = JSON.parse(text);
    ({ state, problems } = normalizeState(raw));
  } catch (err) {
    state = emptyState();
    problems = [`not JSON (${(err as Error).message})`];
  }
  if (problems.length === 0) return state;
  const aside = `${file}.invalid-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  await fs.rename(file, aside);
  return {
    ...state,
    recovered: `${file} was unreadable (${problems.slice(0, 5).join(', ')}); it was moved to ${aside} and the controller continues from the branch head with what could be read`,
  };
}

/** Writes state.json atomically (temporary file, fsync, rename); on any failure the temporary file is removed. */
export async function saveState(dir: string, s: PersistedState): Promise<void> {
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, 'state.json');
  const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
  try {
    const fh = await fs.open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(JSON.stringify(s, null, 2) + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
}
