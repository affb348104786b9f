// The fixture run of tools/test/summary-reporter.test.ts: these files only, with the summary reporter.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['*.fixture.ts'],
    reporters: ['default', '../../summary-reporter.ts'],
  },
});
