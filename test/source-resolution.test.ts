/**
 * Inside the repository, tests, the type checker and tsx resolve `@gatehouse/*` to the TypeScript sources
 * (the `@gatehouse/source` export condition), so a stale or missing `dist/` is never what gets tested.
 * Each entry point imported by package name must be the very module object of its source file.
 */
import { describe, expect, it } from 'vitest';
import { entryPointSources } from './entry-points.ts';

describe('package imports inside the repository', () => {
  it.each(Object.entries(entryPointSources))('%s is its TypeScript source', async (name, source) => {
    const [named, own] = await Promise.all([import(name), source()]);
    expect(named).toBe(own);
  });
});
