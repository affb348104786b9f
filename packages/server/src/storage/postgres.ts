/**
 * PostgreSQL for several nodes on one database: a pg pool behind the same repositories and migrations as
 * SQLite. int8 columns parse as numbers (epoch seconds and counters, far below 2^53; per pool, not pg's
 * global parser). One schema per deployment via `search_path`. Migrations run under an advisory lock, so
 * one node migrates. In-process caches learn of other nodes' writes from change counters bumped in the
 * writing transaction, so a revocation is honoured by every node's next check; LISTEN/NOTIFY is not used
 * because its notifications arrive after the commit and are lost during reconnects.
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { type ChangeTopic, type ChangeVersions, changeTopics } from './caches.ts';
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
  // A client losing its connection (database restart, network cut) must not crash the process: an idle
  // one is dropped by the pool, and one in use fails its query (a 503) and is dropped on release.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));
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

  /** Every topic's counter, in one query. */
  async versions(): Promise<ChangeVersions> {
    const rows = await this.db
      .selectFrom('gatehouse_changes')
      .select(['topic', 'version'])
      .where('topic', 'in', changeTopics)
      .execute();
    const versions = new Map(rows.map((row) => [row.topic, row.version]));
    const read = (topic: ChangeTopic) => {
      const version = versions.get(topic);
      if (version === undefined) throw new Error(`no change counter for ${topic}`);
      return version;
    };
    return { clients: read('clients'), revocations: read('revocations'), catalog: read('catalog') };
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
