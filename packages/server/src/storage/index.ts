/**
 * Opens the store: Kysely over better-sqlite3 in WAL mode (the embedded default) or over a PostgreSQL pool
 * (several nodes on one database, postgres.ts), migrated to the latest schema, with one repository per
 * concept. `transaction` gives the same repositories bound to one database transaction, for changes that
 * must land together or not at all.
 *
 * Several server processes may share one SQLite file too: WAL lets readers run beside the one writer, the
 * busy timeout makes a writer wait for the lock instead of failing, and every single-use statement starts
 * with its write, so it queues for the lock rather than upgrading a stale read snapshot.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect, sql } from 'kysely';
import { maxAccessTokenTtl } from '../config/schema.ts';
import { migrateToLatest } from './migrations.ts';
// Types only: pg is loaded when PostgreSQL is configured, so SQLite setups and the CLI start without it.
import type { ChangeTopic, PostgresOptions } from './postgres.ts';
import {
  AccessTokenRepository,
  AuthorizationCodeRepository,
  type ChangeListener,
  type Client,
  ClientRepository,
  ConsentRepository,
  type Db,
  DeviceCodeRepository,
  GrantRepository,
  InteractionRepository,
  PushedAuthorizationRequestRepository,
  RefreshTokenRepository,
  RevocationRepository,
  SessionRepository,
  SigningKeyRepository,
  UserRepository,
} from './repositories.ts';
import type { Database } from './schema.ts';

export interface Repositories {
  clients: ClientRepository;
  users: UserRepository;
  sessions: SessionRepository;
  interactions: InteractionRepository;
  consents: ConsentRepository;
  grants: GrantRepository;
  authorizationCodes: AuthorizationCodeRepository;
  refreshTokens: RefreshTokenRepository;
  signingKeys: SigningKeyRepository;
  deviceCodes: DeviceCodeRepository;
  accessTokens: AccessTokenRepository;
  pushedAuthorizationRequests: PushedAuthorizationRequestRepository;
  revocations: RevocationRepository;
}

export interface Storage extends Repositories {
  db: Kysely<Database>;
  dialect: 'sqlite' | 'postgres';
  /** `clients.find` through an in-process cache that never serves a client changed since (see below). */
  findClient(clientId: string): Promise<Client | undefined>;
  /** True when an access token's jti, or the grant it came from, was revoked (in-memory view, see below). */
  isAccessTokenRevoked(jti: string, grantId: string | undefined, now: number): Promise<boolean>;
  transaction<T>(work: (repositories: Repositories) => Promise<T>): Promise<T>;
  /**
   * A transaction that no other process runs at the same time under the same `name` (a PostgreSQL advisory
   * lock; SQLite's single writer lock), for jobs exactly one node may do, such as creating the first
   * signing key or rotating keys on schedule.
   */
  exclusive<T>(name: string, work: (repositories: Repositories) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

interface ChangeListeners {
  clients: ChangeListener;
  revocations: ChangeListener;
}

function repositoriesFor(db: Kysely<Database>, changed: ChangeListeners): Repositories {
  return {
    clients: new ClientRepository(db, changed.clients),
    users: new UserRepository(db),
    sessions: new SessionRepository(db),
    interactions: new InteractionRepository(db),
    consents: new ConsentRepository(db),
    grants: new GrantRepository(db, changed.revocations),
    authorizationCodes: new AuthorizationCodeRepository(db),
    refreshTokens: new RefreshTokenRepository(db),
    signingKeys: new SigningKeyRepository(db),
    deviceCodes: new DeviceCodeRepository(db),
    accessTokens: new AccessTokenRepository(db),
    pushedAuthorizationRequests: new PushedAuthorizationRequestRepository(db),
    revocations: new RevocationRepository(db, changed.revocations),
  };
}

export type StorageOptions = { type: 'sqlite'; path: string } | PostgresOptions;

/**
 * Kysely's SQLite driver prepares every query anew; preparing costs more than running a point query.
 * Statements are reusable (the driver runs each one synchronously to completion), so they are kept
 * per SQL text in a bounded map: the queries of this server are a small fixed set.
 *
 * Kysely opens transactions with a plain (deferred) `begin`, which takes the write lock only at the first
 * write. With several processes on one file, a transaction that read first and then writes after another
 * process committed fails at once with SQLITE_BUSY (its snapshot is stale; the busy timeout does not
 * apply). Every transaction here therefore starts as `begin immediate`: it waits (busy timeout) for the
 * one write lock up front. Within one process nothing changes: Kysely already runs one transaction at a time
 * on the single connection.
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
 * Clients are read on every token, introspection and revocation request and change rarely, so found
 * clients are cached in memory. Writes through this process's repositories clear the cache at once, and
 * SQLite's `data_version` (which changes whenever another connection, such as the `gatehouse client` CLI
 * or another server process, commits; PostgreSQL: the clients change counter) is checked once per
 * event-loop turn that looks a client up (`oncePerTurn`) and clears it too. Unknown ids are not cached, so random ids cannot fill memory.
 */
type VersionSource = () => number | Promise<number>;

/**
 * A change version read at most once per event-loop turn. Under load one turn handles many requests (every
 * socket that became readable), and each used to read the version itself: on SQLite a `PRAGMA
 * data_version` step cost about a twentieth of a client_credentials request, on PostgreSQL it is a round
 * trip. The reading is forgotten at the turn's check phase, so another process's commit is seen by every
 * lookup from the next turn on: staleness is bounded by one turn of the loop (well under a millisecond at
 * rest, a few milliseconds under full load), far less than the network time between the process that
 * committed (the CLI, another node) and any request that could know about its change.
 */
function oncePerTurn(source: VersionSource): VersionSource {
  let reading: number | Promise<number> | undefined;
  const forget = () => {
    reading = undefined;
  };
  return () => {
    if (reading === undefined) {
      reading = source();
      setImmediate(forget);
    }
    return reading;
  };
}

class ClientCache {
  private readonly entries = new Map<string, Client>();
  private version: number | undefined;

  constructor(private readonly dataVersion: VersionSource) {}

  readonly clear = (): void => {
    this.entries.clear();
  };

  async get(clientId: string, load: () => Promise<Client | undefined>): Promise<Client | undefined> {
    const version = await this.dataVersion();
    if (version !== this.version) {
      this.version = version;
      this.entries.clear();
    }
    const cached = this.entries.get(clientId);
    if (cached !== undefined) return cached;
    const client = await load();
    // Only cache what was read while nothing changed, and keep the map bounded.
    if (client !== undefined && this.version === (await this.dataVersion())) {
      if (this.entries.size >= 10_000) this.entries.clear();
      this.entries.set(clientId, client);
    }
    return client;
  }
}

/**
 * Introspection and userinfo ask on every request whether a token was revoked; the answer comes from an
 * in-memory view of what can still revoke a live token (revoked jtis not yet expired, grants revoked
 * within the longest access-token lifetime plus a minute), so the hot path reads no row. The view is
 * reloaded after any local revocation and whenever SQLite's `data_version` (PostgreSQL: the revocations
 * change counter), read once per event-loop turn (`oncePerTurn`), shows another connection committed; it is also
 * reloaded every minute to drop what has expired. The version is read before the reload, so a write that
 * commits during a reload is picked up by the next check.
 */
class RevocationView {
  private jtis = new Set<string>();
  private grantIds = new Set<string>();
  private version: number | undefined;
  private loadedAt = 0;
  private dirty = true;

  constructor(private readonly dataVersion: VersionSource) {}

  readonly invalidate = (): void => {
    this.dirty = true;
  };

  async isRevoked(
    jti: string,
    grantId: string | undefined,
    now: number,
    load: (grantsSince: number) => Promise<{ jtis: string[]; grantIds: string[] }>,
  ): Promise<boolean> {
    const version = await this.dataVersion();
    if (this.dirty || version !== this.version || now - this.loadedAt >= 60 || now < this.loadedAt) {
      this.dirty = false;
      this.version = version;
      this.loadedAt = now;
      const live = await load(now - maxAccessTokenTtl - 60);
      this.jtis = new Set(live.jtis);
      this.grantIds = new Set(live.grantIds);
    }
    return this.jtis.has(jti) || (grantId !== undefined && this.grantIds.has(grantId));
  }
}

/**
 * Errors that say the database is unreachable or busy for now, not that the request was wrong: SQLite's
 * lock still held after the busy timeout, PostgreSQL connection failures, shutdowns, too many connections,
 * serialization failures and deadlocks (SQLSTATE classes 08, 57P, 53300, 40001, 40P01), and the pool's own
 * connection timeouts. The error handler answers them 503 temporarily_unavailable with Retry-After.
 */
export function isTransientStorageError(error: unknown): boolean {
  if (error === null || typeof error !== 'object') return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_') || code === 'SQLITE_LOCKED') return true;
    if (/^(08...|57P0[1-3]|53300|40001|40P01)$/.test(code)) return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH'].includes(code)) return true;
  }
  const message = (error as { message?: unknown }).message;
  return (
    typeof message === 'string' &&
    /^(timeout exceeded when trying to connect|Connection terminated( unexpectedly)?|Client has encountered a connection error)/.test(
      message,
    )
  );
}

/** Opens (creating when needed) and migrates the store. */
export async function openStorage(options: StorageOptions): Promise<Storage> {
  return options.type === 'postgres' ? openPostgres(options) : openSqlite(options);
}

async function openSqlite(options: { path: string }): Promise<Storage> {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const sqlite = new SqliteDatabase(options.path);
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  cachePreparedStatements(sqlite);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
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
  const dataVersion = () => dataVersionStatement.get() as number;
  // Every transaction already holds SQLite's one write lock from its start (begin immediate, above).
  const lock = async () => {};
  return assemble(db, 'sqlite', dataVersion, dataVersion, lock);
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
  const { ChangeCounters, connectPostgres, withSetupLock } = await import('./postgres.ts');
  const schema = options.schema ?? 'public';
  const { db } = connectPostgres(options);
  try {
    await withSetupLock(options, () => migrateToLatest(db as Kysely<unknown>, { schema }));
  } catch (error) {
    await db.destroy();
    throw error;
  }
  const counters = new ChangeCounters(db);
  const lock = async (trx: Kysely<Database>, name: string) => {
    await sql`SELECT pg_advisory_xact_lock(hashtext(${`gatehouse/${name}`}))`.execute(trx);
  };
  return assemble(
    db,
    'postgres',
    () => counters.version('clients'),
    () => counters.version('revocations'),
    lock,
    (topic, trx) => ChangeCounters.bump(trx, topic),
  );
}

function assemble(
  db: Kysely<Database>,
  dialect: Storage['dialect'],
  clientsVersion: VersionSource,
  revocationsVersion: VersionSource,
  lock: (trx: Kysely<Database>, name: string) => Promise<void>,
  announce?: (topic: ChangeTopic, trx: Db) => Promise<void>,
): Storage {
  const clientCache = new ClientCache(oncePerTurn(clientsVersion));
  const revocationView = new RevocationView(oncePerTurn(revocationsVersion));
  const listeners: ChangeListeners = {
    clients: async (trx) => {
      clientCache.clear();
      await announce?.('clients', trx);
    },
    revocations: async (trx) => {
      revocationView.invalidate();
      await announce?.('revocations', trx);
    },
  };
  const repositories = repositoriesFor(db, listeners);
  const transaction = <T>(work: (repositories: Repositories) => Promise<T>, lockName?: string) =>
    db.transaction().execute(async (trx) => {
      const bound = trx as unknown as Kysely<Database>;
      if (lockName !== undefined) await lock(bound, lockName);
      return work(repositoriesFor(bound, listeners));
    });
  return {
    db,
    dialect,
    ...repositories,
    findClient: (clientId) => clientCache.get(clientId, () => repositories.clients.find(clientId)),
    isAccessTokenRevoked: (jti, grantId, now) =>
      revocationView.isRevoked(jti, grantId, now, (since) => repositories.revocations.live(now, since)),
    transaction: (work) => transaction(work),
    exclusive: (name, work) => transaction(work, name),
    close: () => db.destroy(),
  };
}
