/**
 * Every entry point of the packages, as a user imports it, and the TypeScript source it stands for inside
 * this repository (the `@gatehouse/source` export condition).
 */
export const entryPointSources: Record<string, () => Promise<object>> = {
  '@gatehouse/jose-rules': () => import('../packages/jose-rules/src/index.ts'),
  '@gatehouse/client': () => import('../packages/client/src/index.ts'),
  '@gatehouse/resource': () => import('../packages/resource/src/index.ts'),
  '@gatehouse/resource/express': () => import('../packages/resource/src/express.ts'),
  '@gatehouse/resource/fastify': () => import('../packages/resource/src/fastify.ts'),
  '@gatehouse/resource/fetch': () => import('../packages/resource/src/fetch.ts'),
  '@gatehouse/bff': () => import('../packages/bff/src/index.ts'),
  '@gatehouse/bff/express': () => import('../packages/bff/src/express.ts'),
  '@gatehouse/bff/fastify': () => import('../packages/bff/src/fastify.ts'),
  '@gatehouse/bff/sqlite': () => import('../packages/bff/src/stores/sqlite.ts'),
  '@gatehouse/bff/postgres': () => import('../packages/bff/src/stores/postgres.ts'),
  '@gatehouse/bff/redis': () => import('../packages/bff/src/stores/redis.ts'),
  '@gatehouse/server': () => import('../packages/server/src/index.ts'),
};

/** The entry points' names, in the order of `entryPointSources`. */
export const entryPoints = Object.keys(entryPointSources);
