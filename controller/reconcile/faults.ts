// Faults that pass by themselves: out of descriptors, memory or disk space. The controller logs
// them, keeps the state in force, and retries with backoff instead of failing the commit (or the process).

const transientCodes = new Set(['EMFILE', 'ENFILE', 'ENOMEM', 'EAGAIN', 'ENOSPC', 'EDQUOT', 'EBUSY']);

/** The system error code behind `err` (its own, its cause's, or one named in its message), if it is transient. */
export function transientCode(err: unknown): string | undefined {
  if (typeof err === 'string') return /\b(EMFILE|ENFILE|ENOMEM|EAGAIN|ENOSPC|EDQUOT|EBUSY)\b/.exec(err)?.[1];
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && transientCodes.has(code)) return code;
    const m = /\b(EMFILE|ENFILE|ENOMEM|EAGAIN|ENOSPC|EDQUOT|EBUSY)\b/.exec(String((e as { message?: unknown }).message ?? ''));
    if (m) return m[1];
  }
  return undefined;
}

/** A fault that should be retried: the work is not marked done, and the reason is shown until it passes. */
export class TransientFault extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** What to tell an operator about a transient fault. */
export function faultAdvice(code: string): string {
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return 'the disk is full: free space (the controller retries by itself)';
    case 'EMFILE':
    case 'ENFILE':
      return 'out of file descriptors (too many connections or processes): the controller retries by itself';
    default:
      return 'the system is short of resources: the controller retries by itself';
  }
}
