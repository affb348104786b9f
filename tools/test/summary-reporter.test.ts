/**
 * The closing `N passed, N failed` line (tools/summary-reporter.ts), read from a real Vitest run in a child
 * process over the fixture files in reporter-fixtures/: failing files, suites and hooks count as failures.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const fixtures = fileURLToPath(new URL('./reporter-fixtures/', import.meta.url));
const vitestBin = join(createRequire(import.meta.url).resolve('vitest/package.json'), '../vitest.mjs');

/** Runs Vitest on the named fixture files; resolves with its exit code and the last two lines. */
function runFixtures(...files: string[]): Promise<{ code: number | null; lines: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [vitestBin, 'run', '--root', fixtures, '--config', join(fixtures, 'vitest.config.ts'), ...files],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', CI: 'true' } },
    );
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.resume();
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, lines: stdout.trimEnd().split('\n').slice(-2) }));
  });
}

describe('the summary line', { timeout: 120_000 }, () => {
  it('counts passing tests, and nothing failed when nothing failed', async () => {
    const run = await runFixtures('passing.fixture.ts');
    expect(run.code).toBe(0);
    expect(run.lines.at(-1)).toBe('2 passed, 0 failed');
  });

  it('counts a failing test', async () => {
    const run = await runFixtures('failing-test.fixture.ts');
    expect(run.code).toBe(1);
    expect(run.lines.at(-1)).toBe('1 passed, 1 failed');
  });

  it('counts a suite whose beforeAll hook fails, and its skipped tests as skipped', async () => {
    const run = await runFixtures('failing-before-all.fixture.ts');
    expect(run.code).toBe(1);
    expect(run.lines).toEqual(['2 skipped', '1 passed, 1 failed']);
  });

  it('counts a failing afterAll hook and a file that does not load', async () => {
    const run = await runFixtures('failing-after-all.fixture.ts', 'not-loading.fixture.ts');
    expect(run.code).toBe(1);
    expect(run.lines.at(-1)).toBe('1 passed, 2 failed');
  });
});
