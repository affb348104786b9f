/**
 * Opens the store: Kysely over better-sqlite3 in WAL mode (the default) or a PostgreSQL pool (postgres.ts),
 * migrated to the latest schema, with one repository per concept (sql/); `transaction` binds them to one
 * database transaction. Several processes may share one SQLite file: WAL, the busy timeout and single-use
 * statements that start with their write make them queue for the one writer's lock. SQLite files use
 * incremental auto-vacuum, so the expiry sweep hands the pages of deleted rows back (sweep.ts).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import {
  type DatabaseConnection,
  type Driver,
  Kysely,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
  sql,
} from 'kysely';
import { ConfigError } from '../config/load.ts';
import {
  type ChangeTopic,
  type ChangeVersions,
  ClientCache,
  oncePerTurn,
  type Reading,
  RevocationView,
  topicVersion,
} from './caches.ts';
import { registerDatabase, registerSpaceReclaim } from './internal.ts';
import { migrateToLatest } from './migrations.ts';
import { importOptionalPackage } from './optional-package.ts';
import type { Repositories, Storage } from './ports.ts';
// Types only: pg is loaded when PostgreSQL is configured, so SQLite setups and the CLI start without it.
import type { PostgresOptions } from './postgres.ts';
import type { Database } from './schema.ts';
import type { Db } from './sql/db.ts';
import { type ChangeListeners, sqlRepositories } from './sql/index.ts';

export { isTransientStorageError } from './errors.ts';

export type StorageOptions = { type: 'sqlite'; path: string } | PostgresOptions;

/**
 * Keeps prepared statements per SQL text in a bounded map (Kysely's SQLite driver prepares every query
 * anew; the driver runs each statement to completion, so reuse is safe; bench/README.md says why).
 * Transactions start as `begin immediate`, waiting for the write lock up front: with several processes on
 * one file, a deferred transaction that read first would fail with SQLITE_BUSY on its stale snapshot.
 */
function cachePreparedStatements(sqlite: SqliteDatabase.Database, limit = 256): void {
  const prepare = sqlite.prepare.bind(sqlite);
  const cache = new Map<string, SqliteDatabase.Statement>();
  sqlite.prepare = ((text: string) => {
    const source = text === 'begin' ? 'begin immediate' : text;
    let statement = cache.get(source);
    if (statement === undefined) {
      statement = prepare(source);
      if (cache.size >= limit) cache.delete(cache.keys().next().value as string);
      cache.set(source, statement);
    }
    return statement;
  }) as typeof sqlite.prepare;
}

/**
 * Where the store is, for messages: the SQLite file, or PostgreSQL's host, database and schema (never the
 * URL, which may carry a password).
 */
export function storageLocation(options: StorageOptions): string {
  if (options.type === 'sqlite') return `the SQLite database ${options.path}`;
  const schema = options.schema ?? 'public';
  try {
    const url = new URL(options.url);
    return `PostgreSQL ${url.host}${url.pathname} (schema ${schema})`;
  } catch {
    return `PostgreSQL (schema ${schema})`;
  }
}

/** Opens (creating when needed) and migrates the store; a failure names the store it could not open. */
export async function openStorage(options: StorageOptions): Promise<Storage> {
  try {
    return await (options.type === 'postgres' ? openPostgres(options) : openSqlite(options));
  } catch (error) {
    const message = `cannot open ${storageLocation(options)}: ${(error as Error).message}`;
    // A missing driver package is the operator's to fix, like a config error (exit status 2).
    if (error instanceof ConfigError) throw new ConfigError(message);
    throw new Error(message, { cause: error });
  }
}

/**
 * SQLite ends a transaction by itself after some errors (a full disk, an I/O error): a ROLLBACK then would
 * fail with "cannot rollback - no transaction is active" and hide the error that caused it.
 */
class SqliteDriverKeepingCause extends SqliteDriver {
  constructor(
    config: SqliteDialectConfig,
    private readonly sqlite: SqliteDatabase.Database,
  ) {
    super(config);
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (this.sqlite.inTransaction) await super.rollbackTransaction(connection);
  }
}

class SqliteDialectKeepingCause extends SqliteDialect {
  constructor(private readonly sqlite: SqliteDatabase.Database) {
    super({ database: sqlite });
  }

  override createDriver(): Driver {
    return new SqliteDriverKeepingCause({ database: this.sqlite }, this.sqlite);
  }
}

async function openSqlite(options: { path: string }): Promise<Storage> {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const sqlite = new SqliteDatabase(options.path);
  sqlite.pragma('busy_timeout = 5000');
  useIncrementalVacuum(sqlite);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  cachePreparedStatements(sqlite);
  const db = new Kysely<Database>({ dialect: new SqliteDialectKeepingCause(sqlite) });
  // Processes opening one new file together must not migrate it twice: Kysely's migration lock is a no-op
  // on SQLite (it assumes one connection), so the whole run holds the write lock from its first statement.
  await beginImmediate(sqlite);
  try {
    await migrateToLatest(db as Kysely<unknown>, { inCallersTransaction: true });
    sqlite.exec('COMMIT');
  } catch (error) {
    if (sqlite.inTransaction) sqlite.exec('ROLLBACK');
    sqlite.close();
    throw error;
  }
  const dataVersionStatement = sqlite.prepare('PRAGMA data_version').pluck();
  // One version for every topic: any other connection's commit moves it.
  const versions = (): ChangeVersions => {
    const version = dataVersionStatement.get() as number;
    return { clients: version, revocations: version, catalog: version };
  };
  // Every transaction already holds SQLite's one write lock from its start (begin immediate, above).
  const lock = async () => {};
  const storage = assemble(db, 'sqlite', versions, lock);
  // Holding Kysely's connection, so no transaction is open around it. exec steps the pragma to its end (one
  // step of a prepared statement frees a single page); the passive checkpoint then shortens the file
  // without waiting for readers.
  registerSpaceReclaim(storage, () =>
    db.connection().execute(async () => {
      sqlite.exec('PRAGMA incremental_vacuum');
      sqlite.pragma('wal_checkpoint(PASSIVE)');
    }),
  );
  return storage;
}

/**
 * `auto_vacuum = INCREMENTAL`: freed pages are listed and handed back by `PRAGMA incremental_vacuum`. A new
 * file takes the setting before its first table; a file made without it needs one full VACUUM to switch,
 * run here once (it rewrites the file, so it takes as long as copying it).
 */
function useIncrementalVacuum(sqlite: SqliteDatabase.Database): void {
  const incremental = 2;
  if (sqlite.pragma('auto_vacuum', { simple: true }) === incremental) return;
  sqlite.pragma('auto_vacuum = INCREMENTAL');
  const tables = sqlite.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table'").pluck().get();
  if ((tables as number) > 0) sqlite.exec('VACUUM');
}

/**
 * BEGIN IMMEDIATE (the write lock at once), retried asynchronously while another connection holds it:
 * the busy timeout waits synchronously, which would also stall a connection of this same process that
 * holds the lock and needs the event loop to finish.
 */
async function beginImmediate(sqlite: SqliteDatabase.Database, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  sqlite.pragma('busy_timeout = 0');
  try {
    for (;;) {
      try {
        sqlite.exec('BEGIN IMMEDIATE');
        return;
      } catch (error) {
        if ((error as { code?: string }).code !== 'SQLITE_BUSY' || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 10 + Math.random() * 20));
      }
    }
  } finally {
    sqlite.pragma('busy_timeout = 5000');
  }
}

async function openPostgres(options: PostgresOptions): Promise<Storage> {
  const { ChangeCounters, connectPostgres, withSetupLock } = await importOptionalPackage(
    'pg',
    'storage type postgres',
    () => import('./postgres.ts'),
  );
  const schema = options.schema ?? 'public';
  const { db } = connectPostgres(options);
  try {
    await withSetupLock(options, () => migrateToLatest(db as Kysely<unknown>, { schema }));
  } catch (error) {
    await db.destroy();
    throw error;
  }
  const counters = new ChangeCounters(db);
  const lock = async (trx: Db, name: string) => {
    await sql`SELECT pg_advisory_xact_lock(hashtext(${`gatehouse/${name}`}))`.execute(trx);
  };
  return assemble(
    db,
    'postgres',
    () => counters.versions(),
    lock,
    (topic, trx) => ChangeCounters.bump(trx, topic),
  );
}

function assemble(
  db: Kysely<Database>,
  dialect: Storage['dialect'],
  versions: Reading<ChangeVersions>,
  lock: (trx: Db, name: string) => Promise<void>,
  announce?: (topic: ChangeTopic, trx: Db) => Promise<void>,
): Storage {
  // Read once per event-loop turn for all three, whichever asks first.
  const changes = oncePerTurn(versions);
  const clientCache = new ClientCache(topicVersion(changes, 'clients'));
  const revocationView = new RevocationView(topicVersion(changes, 'revocations'));
  const listeners: ChangeListeners = {
    clients: async (trx) => {
      clientCache.clear();
      await announce?.('clients', trx);
    },
    revocations: async (trx) => {
      revocationView.invalidate();
      await announce?.('revocations', trx);
    },
    // The catalog (protocol/scopes.ts) is told of this process's writes by the writer, after the commit.
    catalog: async (trx) => {
      await announce?.('catalog', trx);
    },
  };
  const repositories = sqlRepositories(db, listeners);
  const transaction = <T>(work: (repositories: Repositories) => Promise<T>, lockName?: string) =>
    db.transaction().execute(async (trx) => {
      if (lockName !== undefined) await lock(trx, lockName);
      return work(sqlRepositories(trx, listeners));
    });
  const storage: Storage = {
    dialect,
    ...repositories,
    findClient: (clientId) => clientCache.get(clientId, () => repositories.clients.find(clientId)),
    listClients: () => clientCache.list(() => repositories.clients.list()),
    isAccessTokenRevoked: (jti, grantId, now) =>
      revocationView.isRevoked(jti, grantId, now, (since) => repositories.revocations.live(now, since)),
    catalogVersion: topicVersion(changes, 'catalog'),
    transaction: (work) => transaction(work),
    exclusive: (name, work) => transaction(work, name),
    ping: async () => {
      await db.selectFrom('clients').select('client_id').limit(1).execute();
      // A write too: a full disk or a read-only file still answers reads.
      const probe = { topic: 'readiness', version: Date.now() };
      await db
        .insertInto('gatehouse_changes')
        .values(probe)
        .onConflict((conflict) => conflict.column('topic').doUpdateSet({ version: probe.version }))
        .execute();
    },
    close: () => db.destroy(),
  };
  registerDatabase(storage, db);
  return storage;
}
