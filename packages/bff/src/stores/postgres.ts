/**
 * PostgreSQL session store (pg): the same table shape as the SQLite store. `take` is one
 * `DELETE ... RETURNING`, so two BFF nodes racing for a pending login or a logout ticket cannot both get
 * it. The caller passes a pg Pool and owns it; `PostgresSessionStore.open` creates the table when missing.
 */
import type { Pool } from 'pg';
import { checkTableName, type SessionStore, type StoredRecord } from './store.ts';

interface Row {
  data: string;
  expires_at: string | number;
  sub: string | null;
  sid: string | null;
}

function toRecord(row: Row | undefined, now: number): StoredRecord | undefined {
  if (row === undefined) return undefined;
  const expiresAt = Number(row.expires_at);
  if (expiresAt <= now) return undefined;
  return { data: row.data, expiresAt, sub: row.sub ?? undefined, sid: row.sid ?? undefined };
}

export class PostgresSessionStore implements SessionStore {
  private constructor(
    private readonly pool: Pool,
    private readonly table: string,
  ) {}

  /** Creates the table and its indexes when missing. `table` defaults to `bff_sessions`. */
  static async open(pool: Pool, options: { table?: string } = {}): Promise<PostgresSessionStore> {
    const table = checkTableName(options.table ?? 'bff_sessions');
    await pool.query(
      `CREATE TABLE IF NOT EXISTS ${table} (key TEXT PRIMARY KEY, data TEXT NOT NULL, expires_at BIGINT NOT NULL, sub TEXT, sid TEXT)`,
    );
    await pool.query(`CREATE INDEX IF NOT EXISTS ${table}_sid ON ${table} (sid)`);
    await pool.query(`CREATE INDEX IF NOT EXISTS ${table}_sub ON ${table} (sub)`);
    await pool.query(`CREATE INDEX IF NOT EXISTS ${table}_expires_at ON ${table} (expires_at)`);
    return new PostgresSessionStore(pool, table);
  }

  async get(key: string, now: number): Promise<StoredRecord | undefined> {
    const result = await this.pool.query<Row>(
      `SELECT data, expires_at, sub, sid FROM ${this.table} WHERE key = $1`,
      [key],
    );
    return toRecord(result.rows[0], now);
  }

  async set(key: string, record: StoredRecord): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.table} (key, data, expires_at, sub, sid) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (key) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at, sub = excluded.sub, sid = excluded.sid`,
      [key, record.data, record.expiresAt, record.sub ?? null, record.sid ?? null],
    );
  }

  async add(key: string, record: StoredRecord, now: number): Promise<boolean> {
    const result = await this.pool.query(
      `INSERT INTO ${this.table} (key, data, expires_at, sub, sid) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (key) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at, sub = excluded.sub, sid = excluded.sid
       WHERE ${this.table}.expires_at <= $6`,
      [key, record.data, record.expiresAt, record.sub ?? null, record.sid ?? null, now],
    );
    return result.rowCount === 1;
  }

  async replace(key: string, record: StoredRecord): Promise<boolean> {
    const result = await this.pool.query(
      `UPDATE ${this.table} SET data = $1, expires_at = $2, sub = $3, sid = $4 WHERE key = $5`,
      [record.data, record.expiresAt, record.sub ?? null, record.sid ?? null, key],
    );
    return result.rowCount === 1;
  }

  async touch(key: string, expiresAt: number): Promise<void> {
    await this.pool.query(`UPDATE ${this.table} SET expires_at = $1 WHERE key = $2`, [expiresAt, key]);
  }

  async take(key: string, now: number): Promise<StoredRecord | undefined> {
    const result = await this.pool.query<Row>(
      `DELETE FROM ${this.table} WHERE key = $1 RETURNING data, expires_at, sub, sid`,
      [key],
    );
    return toRecord(result.rows[0], now);
  }

  async delete(key: string): Promise<void> {
    await this.pool.query(`DELETE FROM ${this.table} WHERE key = $1`, [key]);
  }

  async deleteBySid(sid: string): Promise<number> {
    return (await this.pool.query(`DELETE FROM ${this.table} WHERE sid = $1`, [sid])).rowCount ?? 0;
  }

  async deleteBySub(sub: string): Promise<number> {
    return (await this.pool.query(`DELETE FROM ${this.table} WHERE sub = $1`, [sub])).rowCount ?? 0;
  }

  async sweep(now: number): Promise<number> {
    return (await this.pool.query(`DELETE FROM ${this.table} WHERE expires_at <= $1`, [now])).rowCount ?? 0;
  }

  async close(): Promise<void> {}
}
