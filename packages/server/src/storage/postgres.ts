/**
 * PostgreSQL for several server nodes on one database: a pg pool behind the same Kysely repositories and
 * the same migrations as SQLite.
 *
 * - Numbers stay numbers: pg returns `bigint` (int8) columns as strings by default, because a JS number
 *   cannot hold every int8. Every int8 this schema stores is epoch seconds or a counter, far below 2^53, so
 *   the pool parses int8 as a number (per pool, not pg's global parser, so other pg users are untouched).
 * - One schema per deployment (or per test run): the pool sets `search_path` at connection start, so the
 *   repositories' unqualified table names resolve there, and Kysely's migration bookkeeping is pinned to it.
 * - Several nodes may start at once on an empty database: creating the schema and migrating run under a
 *   session advisory lock, so exactly one node migrates and the others find the work done.
 * - In-process caches (clients, the revocation view; see index.ts) learn of other nodes' writes from
 *   change counters: a row per topic in `gatehouse_changes`, bumped in the same transaction as the write.
 *   A reader compares the counter (one primary-key read) before trusting its cache, so a revocation
 *   committed on node A is honoured by node B's very next check: a change is visible exactly when its
 *   counter is, never before or after, because both commit together. LISTEN/NOTIFY was the alternative;
 *   it is cheaper per check but asynchronous (a notification arrives some time after the commit, and is lost
 *   while a listener reconnects), so it could only promise a bound, not "immediately".
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.ts';
import type { Db } from './sql/db.ts';

export interface PostgresOptions {
  type: 'postgres';
  url: string;
  /** Schema holding Gatehouse's tables (created when missing); `public` by default. */
  schema?: string;
  pool?: {
    /** Most connections this node opens. */
    max?: number;
    /** Seconds an idle connection is kept. */
    idleTimeout?: number;
    /** Seconds to wait for a connection (from the pool or a new one) before failing the request. */
    connectionTimeout?: number;
  };
}

export type ChangeTopic = 'clients' | 'revocations';

const int8 = 20;
const numericTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === int8 && format !== 'binary'
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format ?? 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

/** A schema name is put into SQL text (search_path), so only plain identifiers are accepted. */
export const schemaNamePattern = /^[a-z_][a-z0-9_]{0,62}$/;

function quoteSchema(schema: string): string {
  if (!schemaNamePattern.test(schema)) throw new Error(`invalid PostgreSQL schema name "${schema}"`);
  return `"${schema}"`;
}

export function connectPostgres(options: PostgresOptions): { db: Kysely<Database>; pool: pg.Pool } {
  const schema = options.schema ?? 'public';
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.pool?.max ?? 10,
    idleTimeoutMillis: (options.pool?.idleTimeout ?? 30) * 1000,
    connectionTimeoutMillis: (options.pool?.connectionTimeout ?? 5) * 1000,
    options: `-c search_path=${quoteSchema(schema)}`,
    types: numericTypes,
  });
  // An idle client losing its connection (database restart) must not crash the process: the pool drops
  // it and opens a new one on the next request.
  pool.on('error', () => {});
  return { db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }), pool };
}

/**
 * Runs `work` (creating the schema, migrating) while holding a session advisory lock, so nodes starting
 * together do it one at a time. The lock is on its own connection and released even when `work` fails.
 */
export async function withSetupLock<T>(options: PostgresOptions, work: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: options.url });
  client.on('error', () => {});
  await client.connect();
  try {
    await client.query("SELECT pg_advisory_lock(hashtext('gatehouse/setup'))");
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteSchema(options.schema ?? 'public')}`);
    return await work();
  } finally {
    await client.end();
  }
}

/** Reads and bumps the change counters (see the module comment). */
export class ChangeCounters {
  constructor(private readonly db: Kysely<Database>) {}

  async version(topic: ChangeTopic): Promise<number> {
    const row = await this.db
      .selectFrom('gatehouse_changes')
      .select('version')
      .where('topic', '=', topic)
      .executeTakeFirstOrThrow();
    return row.version;
  }

  /** Bumps a counter; called with the transaction of the write it announces. */
  static async bump(db: Db, topic: ChangeTopic): Promise<void> {
    await db
      .updateTable('gatehouse_changes')
      .set((eb) => ({ version: eb('version', '+', 1) }))
      .where('topic', '=', topic)
      .execute();
  }
}
