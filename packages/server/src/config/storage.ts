/**
 * The `storage` section (SQLite or PostgreSQL) and `redis`, shared by every node for rate-limit counters and
 * the jti replay cache.
 */
import * as z from 'zod';
import { postgresPool, postgresUrl } from './fields.ts';

const sqliteStorageSchema = z.strictObject({
  type: z.literal('sqlite'),
  /** Path of the SQLite file, relative to the config file; `:memory:` for a throwaway store. */
  path: z.string().min(1).default('data/gatehouse.db'),
});

const postgresStorageSchema = z.strictObject({
  type: z.literal('postgres'),
  /** Connection URL (`postgres://user:password@host:port/database`); `DATABASE_URL` sets it too (load.ts). */
  url: postgresUrl,
  /** Schema holding Gatehouse's tables, created when missing. */
  schema: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case identifier (a-z 0-9 _)')
    .default('public'),
  pool: postgresPool,
});

/** SQLite (the default, one file) or PostgreSQL (several nodes); `type` may be left out for SQLite. */
export const storageSchema = z
  .preprocess(
    (value) =>
      value !== null && typeof value === 'object' && !('type' in value)
        ? { ...value, type: 'sqlite' }
        : value,
    z.discriminatedUnion('type', [sqliteStorageSchema, postgresStorageSchema]),
  )
  .prefault({});

/**
 * Redis shared by every node for rate-limit counters and the jti replay cache (DPoP proofs, client
 * assertions). Without it both live in memory: right for one node, wrong for several (a replay sent to
 * another node would pass, and each node would allow the whole limit).
 */
export const redisSchema = z
  .strictObject({
    url: z.string().regex(/^rediss?:\/\/[^\s]+$/, 'must be a redis:// or rediss:// URL'),
    /** Prefix of every key Gatehouse writes, so one Redis can serve several deployments. */
    keyPrefix: z
      .string()
      .regex(/^[A-Za-z0-9:_.-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 : _ . -')
      .default('gatehouse:'),
  })
  .optional();
