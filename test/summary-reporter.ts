// Prints one plain closing line, `N passed, N failed, N skipped`, that CI can read whatever the runner.
import type { Reporter } from 'vitest/reporters';

type Task = { type: string; mode?: string; result?: { state?: string }; tasks?: Task[] };

export default class SummaryReporter implements Reporter {
  onFinished(files: readonly Task[] = []): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const visit = (t: Task): void => {
      if (t.type === 'test') {
        if (t.result?.state === 'pass') passed++;
        else if (t.result?.state === 'fail') failed++;
        else skipped++;
      }
      for (const c of t.tasks ?? []) visit(c);
    };
    for (const f of files) {
      visit(f);
      if (f.result?.state === 'fail' && !(f.tasks ?? []).length) failed++; // a file that failed to load
    }
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
