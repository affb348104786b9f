/**
 * SQLite session store (better-sqlite3): one table with the record key as primary key and indexes on
 * `sid` and `sub`. `take` is one `DELETE ... RETURNING` statement, so a record is handed out once.
 * The caller passes an open database (WAL mode recommended) and owns it.
 */
import type { Database } from 'better-sqlite3';
import { checkTableName, type SessionStore, type StoredRecord } from './store.ts';

interface Row {
  data: string;
  expires_at: number;
  sub: string | null;
  sid: string | null;
}

function toRecord(row: Row | undefined, now: number): StoredRecord | undefined {
  if (row === undefined || row.expires_at <= now) return undefined;
  return { data: row.data, expiresAt: row.expires_at, sub: row.sub ?? undefined, sid: row.sid ?? undefined };
}

/** A record's row as the named parameters of the writing statements. */
function parameters(key: string, record: StoredRecord) {
  return {
    key,
    data: record.data,
    expires_at: record.expiresAt,
    sub: record.sub ?? null,
    sid: record.sid ?? null,
  };
}

export class SqliteSessionStore implements SessionStore {
  private readonly statements;

  /** Creates the table and its indexes when missing. `table` defaults to `bff_sessions`. */
  constructor(database: Database, options: { table?: string } = {}) {
    const table = checkTableName(options.table ?? 'bff_sessions');
    database.exec(
      `CREATE TABLE IF NOT EXISTS ${table} (key TEXT PRIMARY KEY, data TEXT NOT NULL, expires_at INTEGER NOT NULL, sub TEXT, sid TEXT);
       CREATE INDEX IF NOT EXISTS ${table}_sid ON ${table} (sid);
       CREATE INDEX IF NOT EXISTS ${table}_sub ON ${table} (sub);
       CREATE INDEX IF NOT EXISTS ${table}_expires_at ON ${table} (expires_at);`,
    );
    const upsert = `INSERT INTO ${table} (key, data, expires_at, sub, sid) VALUES (@key, @data, @expires_at, @sub, @sid)
         ON CONFLICT (key) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at, sub = excluded.sub, sid = excluded.sid`;
    this.statements = {
      get: database.prepare<[string], Row>(`SELECT data, expires_at, sub, sid FROM ${table} WHERE key = ?`),
      set: database.prepare(upsert),
      add: database.prepare(`${upsert} WHERE ${table}.expires_at <= @now`),
      replace: database.prepare(
        `UPDATE ${table} SET data = @data, expires_at = @expires_at, sub = @sub, sid = @sid WHERE key = @key`,
      ),
      touch: database.prepare(`UPDATE ${table} SET expires_at = ? WHERE key = ?`),
      take: database.prepare<[string], Row>(
        `DELETE FROM ${table} WHERE key = ? RETURNING data, expires_at, sub, sid`,
      ),
      delete: database.prepare(`DELETE FROM ${table} WHERE key = ?`),
      deleteBySid: database.prepare(`DELETE FROM ${table} WHERE sid = ?`),
      deleteBySub: database.prepare(`DELETE FROM ${table} WHERE sub = ?`),
      sweep: database.prepare(`DELETE FROM ${table} WHERE expires_at <= ?`),
    };
  }

  async get(key: string, now: number): Promise<StoredRecord | undefined> {
    return toRecord(this.statements.get.get(key), now);
  }

  async set(key: string, record: StoredRecord): Promise<void> {
    this.statements.set.run(parameters(key, record));
  }

  async add(key: string, record: StoredRecord, now: number): Promise<boolean> {
    return this.statements.add.run({ ...parameters(key, record), now }).changes === 1;
  }

  async replace(key: string, record: StoredRecord): Promise<boolean> {
    return this.statements.replace.run(parameters(key, record)).changes === 1;
  }

  async touch(key: string, expiresAt: number): Promise<void> {
    this.statements.touch.run(expiresAt, key);
  }

  async take(key: string, now: number): Promise<StoredRecord | undefined> {
    return toRecord(this.statements.take.get(key), now);
  }

  async delete(key: string): Promise<void> {
    this.statements.delete.run(key);
  }

  async deleteBySid(sid: string): Promise<number> {
    return this.statements.deleteBySid.run(sid).changes;
  }

  async deleteBySub(sub: string): Promise<number> {
    return this.statements.deleteBySub.run(sub).changes;
  }

  async sweep(now: number): Promise<number> {
    return this.statements.sweep.run(now).changes;
  }

  async close(): Promise<void> {}
}
