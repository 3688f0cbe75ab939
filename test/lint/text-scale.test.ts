// Text lint output is linear in file size plus findings: the code frames of 9,000 findings in a
// 2.4 MB file do not split the file once per finding (that took two minutes).
import { describe, expect, it } from 'vitest';
import { diagnostic } from '../../compiler/diagnostics.js';
import { formatText } from '../../compiler/lint/report.js';

describe('text lint output at scale', () => {
  it('formats 9,000 findings of a 2.4 MB file in well under the time of one split per finding', () => {
    const lines = Array.from({ length: 60_000 }, (_, i) => `  key-${i}: value-${i}-${'x'.repeat(22)}`);
    const text = lines.join('\n');
    expect(text.length).toBeGreaterThan(2_400_000);
    const diagnostics = Array.from({ length: 9000 }, (_, i) =>
      diagnostic('schema/unknown-field', 'warning', `unknown field key-${i * 6}`, {
        file: 'big.yaml',
        line: i * 6 + 1,
        column: 3,
        endLine: i * 6 + 1,
        endColumn: 8,
      }),
    );
    const t0 = performance.now();
    const out = formatText(
      { diagnostics, files: ['big.yaml'], documents: 1, sources: new Map([['big.yaml', text]]), version: 't' },
      { color: false },
    );
    const ms = performance.now() - t0;
    expect(out.split('\n').filter((l) => l.startsWith('big.yaml:')).length).toBe(9000);
    expect(out).toContain(`> 53995 |   key-53994: value-53994-${'x'.repeat(22)}`);
    // One split of this file costs milliseconds; 9,000 of them cost a minute. Linear output takes well under 5 s even on a loaded machine.
    expect(ms).toBeLessThan(5000);
  });
});
