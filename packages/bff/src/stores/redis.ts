/**
 * Redis session store (ioredis): each record is one JSON string under `<prefix>r:<key>` with a native
 * time-to-live, and sets `<prefix>sid:<sid>` / `<prefix>sub:<sub>` index the keys for back-channel logout.
 * `take` is GETDEL (Redis 6.2+): atomic, so a record is handed out once across every BFF node.
 *
 * Native expiry uses Redis's own clock; the record's `expiresAt` (the BFF's clock) is still checked on
 * every read, so a BFF whose clock is ahead never sees a record it considers expired. Index sets get the
 * longest time-to-live of their members (`EXPIRE NX` then `EXPIRE GT`), so a short-lived record never
 * drops the index entry of a longer one. Stale index members (records deleted or expired) are harmless:
 * deleting a missing key does nothing, and keys are random hashes that are never reused.
 */
import type { Redis } from 'ioredis';
import type { SessionStore, StoredRecord } from './store.ts';

function parse(value: string | null, now: number): StoredRecord | undefined {
  if (value === null) return undefined;
  const record = JSON.parse(value) as StoredRecord;
  return record.expiresAt > now ? record : undefined;
}

export class RedisSessionStore implements SessionStore {
  private readonly prefix: string;

  /** `prefix` (default `gatehouse-bff:`) keeps several BFFs, or test runs, apart in one Redis. */
  constructor(
    private readonly redis: Redis,
    options: { prefix?: string } = {},
  ) {
    this.prefix = options.prefix ?? 'gatehouse-bff:';
  }

  private recordKey(key: string): string {
    return `${this.prefix}r:${key}`;
  }

  async get(key: string, now: number): Promise<StoredRecord | undefined> {
    return parse(await this.redis.get(this.recordKey(key)), now);
  }

  async set(key: string, record: StoredRecord): Promise<void> {
    const ttl = Math.max(1, record.expiresAt - Math.floor(Date.now() / 1000));
    const multi = this.redis.multi().set(this.recordKey(key), JSON.stringify(record), 'EX', ttl);
    for (const index of this.indexKeys(record)) {
      multi.sadd(index, key).expire(index, ttl, 'NX').expire(index, ttl, 'GT');
    }
    await multi.exec();
  }

  private indexKeys(record: StoredRecord): string[] {
    const keys: string[] = [];
    if (record.sid !== undefined) keys.push(`${this.prefix}sid:${record.sid}`);
    if (record.sub !== undefined) keys.push(`${this.prefix}sub:${record.sub}`);
    return keys;
  }

  async take(key: string, now: number): Promise<StoredRecord | undefined> {
    const record = parse(await this.redis.getdel(this.recordKey(key)), now);
    if (record !== undefined) await this.unindex(key, record);
    return record;
  }

  private async unindex(key: string, record: StoredRecord): Promise<void> {
    const indexes = this.indexKeys(record);
    if (indexes.length === 0) return;
    const multi = this.redis.multi();
    for (const index of indexes) multi.srem(index, key);
    await multi.exec();
  }

  async delete(key: string): Promise<void> {
    const value = await this.redis.getdel(this.recordKey(key));
    if (value !== null) await this.unindex(key, JSON.parse(value) as StoredRecord);
  }

  private async deleteIndexed(index: string): Promise<number> {
    const keys = await this.redis.smembers(index);
    if (keys.length === 0) return 0;
    const deleted = await this.redis.del(...keys.map((key) => this.recordKey(key)));
    await this.redis.del(index);
    return deleted;
  }

  async deleteBySid(sid: string): Promise<number> {
    return this.deleteIndexed(`${this.prefix}sid:${sid}`);
  }

  async deleteBySub(sub: string): Promise<number> {
    return this.deleteIndexed(`${this.prefix}sub:${sub}`);
  }

  /** Redis expires records itself. */
  async sweep(): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {}
}
