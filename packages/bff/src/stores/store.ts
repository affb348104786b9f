/**
 * The session store: one small interface for everything the BFF keeps server-side (sessions, pending
 * logins, logout tickets, seen logout-token `jti`s), in memory, SQLite, PostgreSQL or Redis. Sessions are
 * keyed by the SHA-256 of their cookie, so a leaked store yields no usable cookie; `data` arrives sealed.
 * A store never returns a record past its `expiresAt`. `sub` and `sid` are indexed for back-channel
 * logout (Back-Channel Logout 1.0 §2.7). `take` and `add` are atomic, so two BFF nodes never both use a
 * pending login or both hold a lock.
 */

export interface StoredRecord {
  data: string;
  /** Seconds since the epoch after which the record is gone. */
  expiresAt: number;
  sub?: string | undefined;
  sid?: string | undefined;
}

export interface SessionStore {
  /** The record, unless missing or expired at `now`. */
  get(key: string, now: number): Promise<StoredRecord | undefined>;
  /** Creates or replaces the record. */
  set(key: string, record: StoredRecord): Promise<void>;
  /**
   * Creates the record only if no live one (unexpired at `now`) exists, atomically; true when created.
   * The BFF uses it as a lock shared by every node (one refresh per session across nodes).
   */
  add(key: string, record: StoredRecord, now: number): Promise<boolean>;
  /**
   * Replaces a record only if it still exists; true when replaced. A session ended meanwhile (logout,
   * back-channel logout) therefore stays ended instead of being written back by a late refresh.
   */
  replace(key: string, record: StoredRecord): Promise<boolean>;
  /**
   * Moves an existing record's expiry, leaving its data alone: sliding expiry never writes back session
   * data that a concurrent refresh may have replaced.
   */
  touch(key: string, expiresAt: number): Promise<void>;
  /** Reads and deletes the record atomically; undefined when missing, taken already or expired. */
  take(key: string, now: number): Promise<StoredRecord | undefined>;
  delete(key: string): Promise<void>;
  /** Deletes every record with this `sid`; returns how many. */
  deleteBySid(sid: string): Promise<number>;
  /** Deletes every record with this `sub`; returns how many. */
  deleteBySub(sub: string): Promise<number>;
  /** Deletes expired records (stores with native expiry may do nothing); returns how many. */
  sweep(now: number): Promise<number>;
  /** Releases what the store opened itself (never a connection the caller passed in). */
  close(): Promise<void>;
}

/** Keeps records in a Map: for development and tests on one process. */
export class MemorySessionStore implements SessionStore {
  private readonly records = new Map<string, StoredRecord>();

  async get(key: string, now: number): Promise<StoredRecord | undefined> {
    const record = this.records.get(key);
    return record !== undefined && record.expiresAt > now ? { ...record } : undefined;
  }

  async set(key: string, record: StoredRecord): Promise<void> {
    this.records.set(key, { ...record });
  }

  async add(key: string, record: StoredRecord, now: number): Promise<boolean> {
    const existing = this.records.get(key);
    if (existing !== undefined && existing.expiresAt > now) return false;
    this.records.set(key, { ...record });
    return true;
  }

  async replace(key: string, record: StoredRecord): Promise<boolean> {
    if (!this.records.has(key)) return false;
    this.records.set(key, { ...record });
    return true;
  }

  async touch(key: string, expiresAt: number): Promise<void> {
    const record = this.records.get(key);
    if (record !== undefined) record.expiresAt = expiresAt;
  }

  async take(key: string, now: number): Promise<StoredRecord | undefined> {
    // Read and delete in the same turn of the event loop: nobody else can take it in between.
    const record = this.records.get(key);
    this.records.delete(key);
    return record !== undefined && record.expiresAt > now ? record : undefined;
  }

  async delete(key: string): Promise<void> {
    this.records.delete(key);
  }

  private deleteWhere(match: (record: StoredRecord) => boolean): number {
    let count = 0;
    for (const [key, record] of this.records) {
      if (match(record)) {
        this.records.delete(key);
        count++;
      }
    }
    return count;
  }

  async deleteBySid(sid: string): Promise<number> {
    return this.deleteWhere((record) => record.sid === sid);
  }

  async deleteBySub(sub: string): Promise<number> {
    return this.deleteWhere((record) => record.sub === sub);
  }

  async sweep(now: number): Promise<number> {
    return this.deleteWhere((record) => record.expiresAt <= now);
  }

  async close(): Promise<void> {}
}

/** Table names are interpolated into SQL, so only plain identifiers are accepted. */
export function checkTableName(table: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(table)) {
    throw new TypeError(`table must be a plain SQL identifier, got "${table}"`);
  }
  return table;
}
