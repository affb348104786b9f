/**
 * Inside the repository, tests, the type checker and tsx resolve `@gatehouse/*` to the TypeScript sources
 * (the `@gatehouse/source` export condition), so a stale or missing `dist/` is never what gets tested.
 * Each entry point imported by package name must be the very module object of its source file.
 */
import { describe, expect, it } from 'vitest';

const entryPoints: [string, () => Promise<unknown>, () => Promise<unknown>][] = [
  [
    '@gatehouse/jose-rules',
    () => import('@gatehouse/jose-rules'),
    () => import('../packages/jose-rules/src/index.ts'),
  ],
  ['@gatehouse/client', () => import('@gatehouse/client'), () => import('../packages/client/src/index.ts')],
  [
    '@gatehouse/resource',
    () => import('@gatehouse/resource'),
    () => import('../packages/resource/src/index.ts'),
  ],
  [
    '@gatehouse/resource/express',
    () => import('@gatehouse/resource/express'),
    () => import('../packages/resource/src/express.ts'),
  ],
  [
    '@gatehouse/resource/fastify',
    () => import('@gatehouse/resource/fastify'),
    () => import('../packages/resource/src/fastify.ts'),
  ],
  [
    '@gatehouse/resource/fetch',
    () => import('@gatehouse/resource/fetch'),
    () => import('../packages/resource/src/fetch.ts'),
  ],
  ['@gatehouse/bff', () => import('@gatehouse/bff'), () => import('../packages/bff/src/index.ts')],
  [
    '@gatehouse/bff/express',
    () => import('@gatehouse/bff/express'),
    () => import('../packages/bff/src/express.ts'),
  ],
  [
    '@gatehouse/bff/fastify',
    () => import('@gatehouse/bff/fastify'),
    () => import('../packages/bff/src/fastify.ts'),
  ],
  ['@gatehouse/server', () => import('@gatehouse/server'), () => import('../packages/server/src/index.ts')],
];

describe('package imports inside the repository', () => {
  it.each(entryPoints)('%s is its TypeScript source', async (_name, byName, bySource) => {
    const [named, source] = await Promise.all([byName(), bySource()]);
    expect(named).toBe(source);
  });
});
