/**
 * Vitest reporter that ends the run with one plain line, `N passed, N failed`, the summary CI reads
 * (skipped tests, when any, are counted on the line before it, so the last line keeps its exact form).
 * Failures are failed test cases, plus each file or suite that failed on its own (a file that does not
 * load, a failing beforeAll or afterAll hook: its tests are then skipped or passed), plus each error
 * Vitest caught outside any test.
 */
import { writeSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

export function summarize(
  testModules: ReadonlyArray<TestModule>,
  unhandledErrors: ReadonlyArray<unknown>,
): { passed: number; failed: number; skipped: number } {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const testModule of testModules) {
    let failedInModule = 0;
    for (const testCase of testModule.children.allTests()) {
      const state = testCase.result().state;
      if (state === 'passed') passed += 1;
      else if (state === 'failed') failedInModule += 1;
      else skipped += 1;
    }
    // Errors of the file itself (collection, file-level hooks) and of each suite's hooks.
    for (const suite of [testModule, ...testModule.children.allSuites()]) {
      if (suite.errors().length > 0) failedInModule += 1;
    }
    // Vitest marked the file failed for a reason not seen above: count the file once.
    if (failedInModule === 0 && testModule.state() === 'failed') failedInModule = 1;
    failed += failedInModule;
  }
  failed += unhandledErrors.length;
  return { passed, failed, skipped };
}

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    const { passed, failed, skipped } = summarize(testModules, unhandledErrors);
    const skippedLine = skipped > 0 ? `${skipped} skipped\n` : '';
    const line = `${skippedLine}${passed} passed, ${failed} failed`;
    // Written at exit so that it is the last line, after the other reporters' summaries.
    process.once('exit', () => writeSync(1, `\n${line}\n`));
  }
}
