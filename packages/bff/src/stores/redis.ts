/**
 * Redis session store (ioredis): each record is a JSON string with a native time-to-live, indexed by `sid`
 * and `sub` sets for back-channel logout; `take` is GETDEL, so a record is handed out once across nodes.
 * `expiresAt` (the BFF's clock) is still checked on every read, since Redis expires by its own clock.
 * Index sets keep their longest member's time-to-live; stale members are harmless (keys are never reused).
 */
import type { Redis } from 'ioredis';
import type { SessionStore, StoredRecord } from './store.ts';

/**
 * Creates the record unless a live one exists (by the record's own `expiresAt`, the caller's clock), in
 * one script: Redis runs it atomically. KEYS[1] record; ARGV: value, ttl seconds, now.
 */
const addScript = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, record = pcall(cjson.decode, current)
  if ok and type(record) == 'table' and tonumber(record.expiresAt) and tonumber(record.expiresAt) > tonumber(ARGV[3]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1`;

/**
 * Moves an existing record's `expiresAt` and time-to-live, leaving the rest as it is, atomically.
 * KEYS[1] record; ARGV: expiresAt, ttl seconds. Returns the record's sid and sub (for their indexes).
 */
const touchScript = `
local current = redis.call('GET', KEYS[1])
if not current then return false end
local record = cjson.decode(current)
record.expiresAt = tonumber(ARGV[1])
redis.call('SET', KEYS[1], cjson.encode(record), 'EX', ARGV[2])
return { record.sid or '', record.sub or '' }`;

function ttlUntil(expiresAt: number): number {
  return Math.max(1, expiresAt - Math.floor(Date.now() / 1000));
}

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
    const ttl = ttlUntil(record.expiresAt);
    const multi = this.redis.multi().set(this.recordKey(key), JSON.stringify(record), 'EX', ttl);
    for (const index of this.indexKeys(record)) {
      multi.sadd(index, key).expire(index, ttl, 'NX').expire(index, ttl, 'GT');
    }
    await multi.exec();
  }

  /** Only for records without `sub` and `sid` (locks): they are not indexed. */
  async add(key: string, record: StoredRecord, now: number): Promise<boolean> {
    if (record.sub !== undefined || record.sid !== undefined) {
      throw new TypeError('add is for unindexed records (no sub or sid)');
    }
    const ttl = ttlUntil(record.expiresAt);
    const created = await this.redis.eval(
      addScript,
      1,
      this.recordKey(key),
      JSON.stringify(record),
      ttl,
      now,
    );
    return created === 1;
  }

  async replace(key: string, record: StoredRecord): Promise<boolean> {
    const ttl = ttlUntil(record.expiresAt);
    const replaced = await this.redis.set(this.recordKey(key), JSON.stringify(record), 'EX', ttl, 'XX');
    if (replaced !== 'OK') return false;
    await this.extendIndexes(key, record, ttl);
    return true;
  }

  async touch(key: string, expiresAt: number): Promise<void> {
    const ttl = ttlUntil(expiresAt);
    const indexed = (await this.redis.eval(touchScript, 1, this.recordKey(key), expiresAt, ttl)) as
      | [string, string]
      | null;
    if (indexed === null) return;
    const [sid, sub] = indexed;
    await this.extendIndexes(key, { data: '', expiresAt, sid: sid || undefined, sub: sub || undefined }, ttl);
  }

  private async extendIndexes(key: string, record: StoredRecord, ttl: number): Promise<void> {
    const indexes = this.indexKeys(record);
    if (indexes.length === 0) return;
    const multi = this.redis.multi();
    for (const index of indexes) multi.sadd(index, key).expire(index, ttl, 'NX').expire(index, ttl, 'GT');
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
