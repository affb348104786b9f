/**
 * Vitest reporter that ends the run with one plain line, `N passed, N failed`, the summary CI reads
 * (skipped tests, when any, are counted on the line before it, so the last line keeps its exact form). It counts test cases across every file of the run.
 */
import { writeSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const testModule of testModules) {
      let casesInModule = 0;
      for (const testCase of testModule.children.allTests()) {
        casesInModule += 1;
        const state = testCase.result().state;
        if (state === 'passed') passed += 1;
        else if (state === 'failed') failed += 1;
        else skipped += 1;
      }
      // A file that failed to load (syntax error, failing hook) has no cases: count it as a failure.
      if (casesInModule === 0 && testModule.state() === 'failed') failed += 1;
    }
    failed += unhandledErrors.length;
    const skippedLine = skipped > 0 ? `${skipped} skipped\n` : '';
    const line = `${skippedLine}${passed} passed, ${failed} failed`;
    // Written at exit so that it is the last line, after the other reporters' summaries.
    process.once('exit', () => writeSync(1, `\n${line}\n`));
  }
}
