/**
 * An existing PostgreSQL users table as the account store (`accounts.type: postgres-legacy`): a common
 * legacy shape with bcrypt hashes, named by table and column names in the config. Names are quoted as
 * identifiers by Kysely (`sql.id`) and values are bound parameters; nothing from the config or a request
 * is spliced into SQL text.
 *
 * Passwords: bcrypt (`$2a$`, `$2b$`, `$2y$`) is verified with @node-rs/bcrypt and argon2id with the
 * server's PasswordHasher, both on libuv's thread pool. With `rehash`, a successful bcrypt sign-in writes
 * an argon2id hash (RFC 9106, login.argon2) back to the password column, only while the row still holds
 * the hash that was verified, so a password changed meanwhile by the owning application is not
 * overwritten. An unknown username, an ambiguous one (two rows) and a hash of another format are verified
 * against a dummy hash of the kind and cost last seen, so the answer takes as long as a wrong password.
 *
 * Every lookup reads the table (no cache): an account disabled there is refused by every node from its
 * next request on. Loaded only when configured (server.ts), since `pg` is an optional peer dependency.
 */
import { Kysely, PostgresDialect, type RawBuilder, sql } from 'kysely';
import pg from 'pg';
import type { LegacyAccountsConfig } from '../config/accounts.ts';
import { ConfigError } from '../config/load.ts';
import type { PasswordHasher } from '../protocol/passwords.ts';
import { type Account, type AccountStore, type ClaimsRequest, profileClaims } from './accounts.ts';

/** The bcrypt binding, loaded at the first verification. */
let bcrypt: Promise<typeof import('@node-rs/bcrypt')> | undefined;
const loadBcrypt = () => (bcrypt ??= import('@node-rs/bcrypt'));

/** A modular-crypt bcrypt hash: variant, two-digit cost, 22 characters of salt and 31 of hash. */
const bcryptHash = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;
const argon2idPrefix = '$argon2id$';
/** The shortest password column `rehash` accepts: an argon2id hash with the default parameters is 97. */
const minRehashColumnLength = 128;

/** What a lookup selects, under fixed aliases (claims as `claim_0`, `claim_1`, ... in `claimNames` order). */
interface LegacyRow {
  subject: string;
  username: string;
  password_hash: unknown;
  enabled?: unknown;
  disabled_at?: unknown;
  roles?: unknown;
  [claim: `claim_${number}`]: unknown;
}

/** Which dummy verification matches the table's hashes: the kind (and bcrypt cost) last verified. */
type HashKind = { type: 'bcrypt'; cost: number } | { type: 'argon2id' };

const int8 = 20;
const date = 1082;
/**
 * int8 as numbers (claim values such as counters), `date` as its 'YYYY-MM-DD' text (OIDC Core §5.1
 * `birthdate`, instead of a Date at local midnight); timestamps stay Dates and become epoch seconds.
 */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (format !== 'binary' && oid === int8) return (value: string) => Number(value);
    if (format !== 'binary' && oid === date) return (value: string) => value;
    return pg.types.getTypeParser(oid, format ?? 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/** Where the table is, for messages: host, database, schema and table (never the URL: it may hold a password). */
function location(config: LegacyAccountsConfig): string {
  const table = `${config.schema}.${config.table}`;
  try {
    const url = new URL(config.url);
    return `PostgreSQL ${url.host}${url.pathname}, table ${table}`;
  } catch {
    return `PostgreSQL table ${table}`;
  }
}

/** A claim value as JSON can carry it: a timestamp as epoch seconds (OIDC Core §5.1 `updated_at`). */
function claimValue(value: unknown): unknown {
  return value instanceof Date ? Math.floor(value.getTime() / 1000) : value;
}

/** Roles from a text[] column, or a text column of comma-separated roles. */
function rolesOf(value: unknown): string[] {
  if (Array.isArray(value))
    return value.filter((role): role is string => typeof role === 'string' && role !== '');
  if (typeof value === 'string')
    return value
      .split(',')
      .map((role) => role.trim())
      .filter((role) => role !== '');
  return [];
}

/** invalid_text_representation: a subject that cannot be the key column's type (not an integer, not a uuid). */
const invalidTextRepresentation = '22P02';

export interface LegacyAccountStoreOptions {
  /** Called when a rehash could not be written (the sign-in still succeeds); never given the password. */
  onRehashError?: (error: unknown) => void;
}

export class PostgresLegacyAccountStore implements AccountStore {
  private readonly claimNames: string[];
  private readonly selection: RawBuilder<unknown>[];
  private readonly table: RawBuilder<unknown>;
  /** The stored profile of each account this store handed out, for `claims` without a second read. */
  private readonly profiles = new WeakMap<Account, Record<string, unknown>>();
  private lastKind: HashKind = { type: 'bcrypt', cost: 10 };
  private readonly dummyBcrypt = new Map<number, Promise<string>>();

  private constructor(
    private readonly config: LegacyAccountsConfig,
    private readonly db: Kysely<unknown>,
    private readonly passwords: PasswordHasher,
    private readonly options: LegacyAccountStoreOptions,
  ) {
    const columns = config.columns;
    this.claimNames = Object.keys(columns.claims);
    this.table = sql.id(config.schema, config.table);
    this.selection = [
      sql`${sql.id(columns.subject)}::text AS subject`,
      sql`${sql.id(columns.username)} AS username`,
      sql`${sql.id(columns.passwordHash)} AS password_hash`,
      ...(columns.enabled === undefined ? [] : [sql`${sql.id(columns.enabled)} AS enabled`]),
      ...(columns.disabledAt === undefined ? [] : [sql`${sql.id(columns.disabledAt)} AS disabled_at`]),
      ...(columns.roles === undefined ? [] : [sql`${sql.id(columns.roles)} AS roles`]),
      ...this.claimNames.map(
        (name, index) => sql`${sql.id(columns.claims[name]!)} AS ${sql.id(`claim_${index}`)}`,
      ),
    ];
  }

  /**
   * Connects and checks the table against the config: every named column exists, `enabled` is boolean,
   * and with `rehash` the password column can hold an argon2id hash. A mismatch is a ConfigError naming
   * the field, at start-up rather than at the first sign-in.
   */
  static async open(
    config: LegacyAccountsConfig,
    passwords: PasswordHasher,
    options: LegacyAccountStoreOptions = {},
  ): Promise<PostgresLegacyAccountStore> {
    const pool = new pg.Pool({
      connectionString: config.url,
      max: config.pool.max,
      idleTimeoutMillis: config.pool.idleTimeout * 1000,
      connectionTimeoutMillis: config.pool.connectionTimeout * 1000,
      types,
    });
    // As storage/postgres.ts: a dropped connection fails its query (a 503), never the process.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
    try {
      await checkTable(db, config);
    } catch (error) {
      await db.destroy();
      if (error instanceof ConfigError) throw error;
      throw new Error(`cannot open the accounts table (${location(config)}): ${(error as Error).message}`, {
        cause: error,
      });
    }
    return new PostgresLegacyAccountStore(config, db, passwords, options);
  }

  /** The one row whose `column` equals `value`; undefined for none, for two or more, or a value of the wrong type. */
  private async findRow(column: string, value: string): Promise<LegacyRow | undefined> {
    // PostgreSQL text cannot hold NUL: such a value names no row (and must not become a 500).
    if (value.includes('\u0000')) return undefined;
    try {
      const { rows } = await sql<LegacyRow>`SELECT ${sql.join(this.selection)} FROM ${this.table}
        WHERE ${sql.id(column)} = ${value} LIMIT 2`.execute(this.db);
      return rows.length === 1 ? rows[0] : undefined;
    } catch (error) {
      if ((error as { code?: unknown }).code === invalidTextRepresentation) return undefined;
      throw error;
    }
  }

  private accountOf(row: LegacyRow | undefined): Account | undefined {
    if (row === undefined) return undefined;
    const columns = this.config.columns;
    const enabled =
      columns.enabled !== undefined
        ? row.enabled === true
        : columns.disabledAt !== undefined
          ? row.disabled_at === null
          : true;
    const account: Account = {
      subject: row.subject,
      username: String(row.username),
      enabled,
      roles: rolesOf(row.roles),
    };
    const profile: Record<string, unknown> = {};
    this.claimNames.forEach((name, index) => {
      const value = row[`claim_${index}`];
      if (value !== null && value !== undefined) profile[name] = claimValue(value);
    });
    this.profiles.set(account, profile);
    return account;
  }

  async findBySubject(subject: string): Promise<Account | undefined> {
    return this.accountOf(await this.findRow(this.config.columns.subject, subject));
  }

  async findByUsername(username: string): Promise<Account | undefined> {
    return this.accountOf(await this.findRow(this.config.columns.username, username));
  }

  async authenticate(username: string, password: string): Promise<Account | undefined> {
    const row = await this.findRow(this.config.columns.username, username);
    const hash = typeof row?.password_hash === 'string' ? row.password_hash : undefined;
    if (row === undefined || hash === undefined || !(await this.verify(hash, password))) {
      if (row === undefined || hash === undefined) await this.dummyVerification(password);
      return undefined;
    }
    const account = this.accountOf(row)!;
    // A disabled account is not signed in, so its row is left as it is.
    if (this.config.rehash && account.enabled && !hash.startsWith(argon2idPrefix))
      await this.rehash(row.subject, hash, password);
    return account;
  }

  async claims(account: Account, request: ClaimsRequest): Promise<Record<string, unknown>> {
    let profile = this.profiles.get(account);
    if (profile === undefined) {
      const fresh = await this.findBySubject(account.subject);
      profile = fresh === undefined ? undefined : this.profiles.get(fresh);
    }
    return profileClaims(account, profile ?? {}, request);
  }

  /** Resolves when the database answers (readiness, /readyz). */
  async ping(): Promise<void> {
    await sql`SELECT 1`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  /** Verifies a stored hash; one of an unknown format never matches and costs a dummy verification. */
  private async verify(hash: string, password: string): Promise<boolean> {
    if (hash.startsWith(argon2idPrefix)) {
      this.lastKind = { type: 'argon2id' };
      return this.passwords.verify(hash, password);
    }
    const bcryptMatch = bcryptHash.exec(hash);
    if (bcryptMatch === null) {
      await this.dummyVerification(password);
      return false;
    }
    this.lastKind = { type: 'bcrypt', cost: Number(bcryptMatch[1]) };
    const { verify } = await loadBcrypt();
    return verify(password, hash).catch(() => false);
  }

  /** Spends what a real verification of the table's hashes would (see the module comment). */
  private async dummyVerification(password: string): Promise<void> {
    const kind = this.lastKind;
    if (kind.type === 'argon2id') {
      await this.passwords.verify(undefined, password);
      return;
    }
    const { hash, verify } = await loadBcrypt();
    let dummy = this.dummyBcrypt.get(kind.cost);
    if (dummy === undefined) {
      dummy = hash('dummy password for unknown users', kind.cost);
      this.dummyBcrypt.set(kind.cost, dummy);
    }
    await verify(password, await dummy).catch(() => false);
  }

  /** Writes an argon2id hash for the row, only if it still holds the hash just verified. */
  private async rehash(subject: string, verifiedHash: string, password: string): Promise<void> {
    const columns = this.config.columns;
    try {
      const argon2Hash = await this.passwords.hash(password);
      await sql`UPDATE ${this.table} SET ${sql.id(columns.passwordHash)} = ${argon2Hash}
        WHERE ${sql.id(columns.subject)} = ${subject}
          AND ${sql.id(columns.passwordHash)} = ${verifiedHash}`.execute(this.db);
    } catch (error) {
      this.options.onRehashError?.(error);
    }
  }
}

interface ColumnInfo {
  column_name: string;
  data_type: string;
  character_maximum_length: number | null;
}

const textTypes = ['text', 'character varying', 'character'];

/** Checks the configured table and columns against the catalogue (see `open`). */
async function checkTable(db: Kysely<unknown>, config: LegacyAccountsConfig): Promise<void> {
  const { rows } = await sql<ColumnInfo>`SELECT column_name, data_type, character_maximum_length
    FROM information_schema.columns
    WHERE table_schema = ${config.schema} AND table_name = ${config.table}`.execute(db);
  if (rows.length === 0) {
    throw new ConfigError(
      `config accounts.table: no table "${config.table}" in schema "${config.schema}" (${location(config)}), or none the connecting role may read`,
    );
  }
  const byName = new Map(rows.map((row) => [row.column_name, row]));
  const columns = config.columns;
  const named: [string, string | undefined][] = [
    ['columns.subject', columns.subject],
    ['columns.username', columns.username],
    ['columns.passwordHash', columns.passwordHash],
    ['columns.enabled', columns.enabled],
    ['columns.disabledAt', columns.disabledAt],
    ['columns.roles', columns.roles],
    ...Object.entries(columns.claims).map(([claim, column]): [string, string] => [
      `columns.claims.${claim}`,
      column,
    ]),
  ];
  for (const [field, column] of named) {
    if (column !== undefined && !byName.has(column))
      throw new ConfigError(
        `config accounts.${field}: no column "${column}" in table ${config.schema}.${config.table}`,
      );
  }
  const type = (column: string) => byName.get(column)!.data_type;
  if (columns.enabled !== undefined && type(columns.enabled) !== 'boolean') {
    throw new ConfigError(
      `config accounts.columns.enabled: column "${columns.enabled}" is ${type(columns.enabled)}, not boolean (use columns.disabledAt for a column that is null while enabled)`,
    );
  }
  if (
    columns.roles !== undefined &&
    type(columns.roles) !== 'ARRAY' &&
    !textTypes.includes(type(columns.roles))
  ) {
    throw new ConfigError(
      `config accounts.columns.roles: column "${columns.roles}" is ${type(columns.roles)}, not text[] or comma-separated text`,
    );
  }
  const password = byName.get(columns.passwordHash)!;
  if (!textTypes.includes(password.data_type)) {
    throw new ConfigError(
      `config accounts.columns.passwordHash: column "${columns.passwordHash}" is ${password.data_type}, not text`,
    );
  }
  const length = password.character_maximum_length;
  if (config.rehash && length !== null && length < minRehashColumnLength) {
    throw new ConfigError(
      `config accounts.rehash: column "${columns.passwordHash}" holds at most ${length} characters; argon2id hashes need ${minRehashColumnLength} (widen the column, or set rehash: false)`,
    );
  }
}
