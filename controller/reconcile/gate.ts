// The canary health gate: every canary applied the new bundle and its drop rate did not jump.
export interface CanaryReport {
  node: string;
  /** Digest the node last applied, and the digest of its last failed attempt. */
  appliedDigest?: string;
  failedDigest?: string;
  error?: string;
  /** Fraction of observed flows dropped, measured after the last apply. */
  dropRate?: number;
}

export type GateResult = { result: 'pass' } | { result: 'wait'; waitingFor: string[] } | { result: 'fail'; reason: string };

export function evaluateGate(
  digest: string,
  canaries: CanaryReport[],
  baseline: ReadonlyMap<string, number>,
  maxDropRateIncrease: number,
): GateResult {
  const waitingFor: string[] = [];
  for (const c of canaries) {
    if (c.failedDigest === digest)
      return { result: 'fail', reason: `canary ${c.node} failed to apply the bundle: ${c.error ?? 'no reason given'}` };
    if (c.appliedDigest !== digest) {
      waitingFor.push(c.node);
      continue;
    }
    const before = baseline.get(c.node) ?? 0;
    const after = c.dropRate ?? 0;
    // A rate that is not a number in 0..1 vouches for nothing (a NaN compares false with every bound).
    if (typeof after !== 'number' || !Number.isFinite(after) || after < 0 || after > 1)
      return { result: 'fail', reason: `canary ${c.node} reported a drop rate that is not a fraction (${String(after).slice(0, 40)})` };
    if (after - before > maxDropRateIncrease) {
      return {
        result: 'fail',
        reason: `canary ${c.node}: drop rate rose from ${(before * 100).toFixed(1)}% to ${(after * 100).toFixed(1)}% (allowed increase ${(maxDropRateIncrease * 100).toFixed(1)} points)`,
      };
    }
  }
  return waitingFor.length ? { result: 'wait', waitingFor } : { result: 'pass' };
}
