/**
 * Opens the store: Kysely over better-sqlite3 in WAL mode (the embedded default), migrated to the latest
 * schema, with one repository per concept. `transaction` gives the same repositories bound to one
 * database transaction, for changes that must land together or not at all.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { migrateToLatest } from './migrations.ts';
import {
  AccessTokenRepository,
  AuthorizationCodeRepository,
  type Client,
  ClientRepository,
  ConsentRepository,
  DeviceCodeRepository,
  GrantRepository,
  InteractionRepository,
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
  revocations: RevocationRepository;
}

export interface Storage extends Repositories {
  db: Kysely<Database>;
  /** `clients.find` through an in-process cache that never serves a client changed since (see below). */
  findClient(clientId: string): Promise<Client | undefined>;
  transaction<T>(work: (repositories: Repositories) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

function repositoriesFor(db: Kysely<Database>, clientsChanged: () => void): Repositories {
  return {
    clients: new ClientRepository(db, clientsChanged),
    users: new UserRepository(db),
    sessions: new SessionRepository(db),
    interactions: new InteractionRepository(db),
    consents: new ConsentRepository(db),
    grants: new GrantRepository(db),
    authorizationCodes: new AuthorizationCodeRepository(db),
    refreshTokens: new RefreshTokenRepository(db),
    signingKeys: new SigningKeyRepository(db),
    deviceCodes: new DeviceCodeRepository(db),
    accessTokens: new AccessTokenRepository(db),
    revocations: new RevocationRepository(db),
  };
}

export interface StorageOptions {
  type: 'sqlite';
  path: string;
}

/**
 * Kysely's SQLite driver prepares every query anew; preparing costs more than running a point query.
 * Statements are reusable (the driver runs each one synchronously to completion), so they are kept
 * per SQL text in a bounded map: the queries of this server are a small fixed set.
 */
function cachePreparedStatements(sqlite: SqliteDatabase.Database, limit = 256): void {
  const prepare = sqlite.prepare.bind(sqlite);
  const cache = new Map<string, SqliteDatabase.Statement>();
  sqlite.prepare = ((source: string) => {
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
 * clients are cached in memory. Staleness is ruled out rather than bounded: writes through this process's
 * repositories clear the cache, and SQLite's `data_version` (which changes whenever another connection,
 * such as the `gatehouse client` CLI or another server process, commits) is checked on every lookup and
 * clears it too. Unknown ids are not cached, so random ids cannot fill memory.
 */
class ClientCache {
  private readonly entries = new Map<string, Client>();
  private version: number;

  constructor(private readonly dataVersion: () => number) {
    this.version = dataVersion();
  }

  readonly clear = (): void => {
    this.entries.clear();
  };

  async get(clientId: string, load: () => Promise<Client | undefined>): Promise<Client | undefined> {
    const version = this.dataVersion();
    if (version !== this.version) {
      this.version = version;
      this.entries.clear();
    }
    const cached = this.entries.get(clientId);
    if (cached !== undefined) return cached;
    const client = await load();
    // Only cache what was read while nothing changed, and keep the map bounded.
    if (client !== undefined && this.version === this.dataVersion()) {
      if (this.entries.size >= 10_000) this.entries.clear();
      this.entries.set(clientId, client);
    }
    return client;
  }
}

/** Opens (creating when needed) and migrates the store. */
export async function openStorage(options: StorageOptions): Promise<Storage> {
  if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
  const sqlite = new SqliteDatabase(options.path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  cachePreparedStatements(sqlite);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  await migrateToLatest(db as Kysely<unknown>);
  const clientCache = new ClientCache(() => sqlite.pragma('data_version', { simple: true }) as number);
  const repositories = repositoriesFor(db, clientCache.clear);
  return {
    db,
    ...repositories,
    findClient: (clientId) => clientCache.get(clientId, () => repositories.clients.find(clientId)),
    transaction: (work) =>
      db
        .transaction()
        .execute((trx) => work(repositoriesFor(trx as unknown as Kysely<Database>, clientCache.clear))),
    close: () => db.destroy(),
  };
}
