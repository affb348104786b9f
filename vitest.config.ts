import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

// Tests run the TypeScript sources: `@gatehouse/*` imports resolve through the `@gatehouse/source` export
// condition to `src/`, never to a `dist/` that may be stale (test/source-resolution.test.ts checks it).
const conditions = ['@gatehouse/source', ...defaultServerConditions];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: [
      'packages/*/test/**/*.test.ts',
      'bench/test/**/*.test.ts',
      'tools/test/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    reporters: ['default', './tools/summary-reporter.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
