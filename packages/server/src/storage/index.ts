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
  /** `clients.find` through an in-process cache that never serves a client changed since (see below). */
  findClient(clientId: string): Promise<Client | undefined>;
  /** True when an access token's jti, or the grant it came from, was revoked (in-memory view, see below). */
  isAccessTokenRevoked(jti: string, grantId: string | undefined, now: number): Promise<boolean>;
  transaction<T>(work: (repositories: Repositories) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

interface ChangeListeners {
  clients: () => void;
  revocations: () => void;
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

/**
 * Introspection and userinfo ask on every request whether a token was revoked; the answer comes from an
 * in-memory view of what can still revoke a live token (revoked jtis not yet expired, grants revoked
 * within the longest access-token lifetime plus a minute), so the hot path reads no row. The view is
 * reloaded after any local revocation and whenever SQLite's `data_version` shows another connection
 * committed, so it is never stale; it is also reloaded every minute to drop what has expired.
 */
class RevocationView {
  private jtis = new Set<string>();
  private grantIds = new Set<string>();
  private version: number | undefined;
  private loadedAt = 0;
  private dirty = true;

  constructor(private readonly dataVersion: () => number) {}

  readonly invalidate = (): void => {
    this.dirty = true;
  };

  async isRevoked(
    jti: string,
    grantId: string | undefined,
    now: number,
    load: (grantsSince: number) => Promise<{ jtis: string[]; grantIds: string[] }>,
  ): Promise<boolean> {
    const version = this.dataVersion();
    if (this.dirty || version !== this.version || now - this.loadedAt >= 60 || now < this.loadedAt) {
      this.dirty = false;
      this.version = version;
      this.loadedAt = now;
      const live = await load(now - maxAccessTokenLifetime - 60);
      this.jtis = new Set(live.jtis);
      this.grantIds = new Set(live.grantIds);
    }
    return this.jtis.has(jti) || (grantId !== undefined && this.grantIds.has(grantId));
  }
}

/** The longest an access token lives (config schema: at most 900 s per client, API or default). */
const maxAccessTokenLifetime = 900;

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
  const dataVersionStatement = sqlite.prepare('PRAGMA data_version').pluck();
  const dataVersion = () => dataVersionStatement.get() as number;
  const clientCache = new ClientCache(dataVersion);
  const revocationView = new RevocationView(dataVersion);
  const listeners: ChangeListeners = { clients: clientCache.clear, revocations: revocationView.invalidate };
  const repositories = repositoriesFor(db, listeners);
  return {
    db,
    ...repositories,
    findClient: (clientId) => clientCache.get(clientId, () => repositories.clients.find(clientId)),
    isAccessTokenRevoked: (jti, grantId, now) =>
      revocationView.isRevoked(jti, grantId, now, (since) => repositories.revocations.live(now, since)),
    transaction: (work) =>
      db.transaction().execute((trx) => work(repositoriesFor(trx as unknown as Kysely<Database>, listeners))),
    close: () => db.destroy(),
  };
}
