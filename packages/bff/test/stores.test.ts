/**
 * One conformance suite for every session store, run against the real backends: memory, SQLite
 * (better-sqlite3 on a temporary file), PostgreSQL (127.0.0.1:5432, database `test`, a table unique to
 * this run) and Redis (127.0.0.1:6379, a key prefix unique to this run).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresUrl, redisUrl, requireService } from '../../../tools/test-services.ts';
import { MemorySessionStore, type SessionStore } from '../src/index.ts';
import { PostgresSessionStore } from '../src/stores/postgres.ts';
import { RedisSessionStore } from '../src/stores/redis.ts';
import { SqliteSessionStore } from '../src/stores/sqlite.ts';

const run = randomBytes(6).toString('hex');
const cleanups: Array<() => Promise<void>> = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const backends: Array<[string, () => Promise<SessionStore>]> = [
  ['memory', async () => new MemorySessionStore()],
  [
    'sqlite',
    async () => {
      const database = new Database(join(mkdtempSync(join(tmpdir(), 'bff-store-')), 'sessions.db'));
      database.pragma('journal_mode = WAL');
      cleanups.push(async () => {
        database.close();
      });
      return new SqliteSessionStore(database);
    },
  ],
  [
    'postgres',
    async () => {
      await requireService('postgres');
      const pool = new pg.Pool({ connectionString: postgresUrl, max: 4 });
      const table = `bff_sessions_test_${run}`;
      cleanups.push(async () => {
        await pool.query(`DROP TABLE IF EXISTS ${table}`);
        await pool.end();
      });
      return PostgresSessionStore.open(pool, { table });
    },
  ],
  [
    'redis',
    async () => {
      await requireService('redis');
      const redis = new Redis(redisUrl, { lazyConnect: true });
      await redis.connect();
      const prefix = `gatehouse-bff-test:${run}:`;
      cleanups.push(async () => {
        const keys = await redis.keys(`${prefix}*`);
        if (keys.length > 0) await redis.del(...keys);
        redis.disconnect();
      });
      return new RedisSessionStore(redis, { prefix });
    },
  ],
];

const now = Math.floor(Date.now() / 1000);

describe.each(backends)('%s session store', (name, open) => {
  let store: SessionStore;
  const key = (suffix: string) => `session:${run}:${suffix}`;

  it('opens', async () => {
    store = await open();
  });

  it('stores, reads, replaces and deletes a record', async () => {
    expect(await store.get(key('a'), now)).toBeUndefined();
    await store.set(key('a'), { data: 'sealed-1', expiresAt: now + 600, sub: 'alice', sid: 'sid-1' });
    expect(await store.get(key('a'), now)).toEqual({
      data: 'sealed-1',
      expiresAt: now + 600,
      sub: 'alice',
      sid: 'sid-1',
    });
    await store.set(key('a'), { data: 'sealed-2', expiresAt: now + 900, sub: 'alice', sid: 'sid-1' });
    expect((await store.get(key('a'), now))?.data).toBe('sealed-2');
    await store.delete(key('a'));
    expect(await store.get(key('a'), now)).toBeUndefined();
    await store.delete(key('a'));
  });

  it('never returns a record expired by the caller clock', async () => {
    await store.set(key('b'), { data: 'x', expiresAt: now + 60 });
    expect(await store.get(key('b'), now + 59)).toBeDefined();
    expect(await store.get(key('b'), now + 60)).toBeUndefined();
    expect(await store.take(key('b'), now + 61)).toBeUndefined();
  });

  it('hands a record out once with take, even to concurrent takers', async () => {
    await store.set(key('c'), { data: 'pending', expiresAt: now + 600 });
    const results = await Promise.all(Array.from({ length: 5 }, () => store.take(key('c'), now)));
    expect(results.filter((result) => result !== undefined)).toEqual([
      { data: 'pending', expiresAt: now + 600 },
    ]);
    expect(await store.get(key('c'), now)).toBeUndefined();
  });

  it('adds a record only when no live one exists, and exactly one of concurrent adders wins', async () => {
    expect(await store.add(key('lock'), { data: 'first', expiresAt: now + 30 }, now)).toBe(true);
    expect(await store.add(key('lock'), { data: 'second', expiresAt: now + 30 }, now)).toBe(false);
    expect((await store.get(key('lock'), now))?.data).toBe('first');
    // Expired by the caller's clock: the next add takes over.
    expect(await store.add(key('lock'), { data: 'third', expiresAt: now + 90 }, now + 31)).toBe(true);
    expect((await store.get(key('lock'), now + 31))?.data).toBe('third');
    await store.delete(key('lock'));
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, index) =>
        store.add(key('race'), { data: `n${index}`, expiresAt: now + 30 }, now),
      ),
    );
    expect(results.filter((won) => won)).toHaveLength(1);
  });

  it('replaces a record only while it exists', async () => {
    expect(await store.replace(key('r'), { data: 'late', expiresAt: now + 60 })).toBe(false);
    expect(await store.get(key('r'), now)).toBeUndefined();
    await store.set(key('r'), { data: 'v1', expiresAt: now + 60, sub: `rita-${run}`, sid: `rs-${run}` });
    expect(
      await store.replace(key('r'), {
        data: 'v2',
        expiresAt: now + 90,
        sub: `rita-${run}`,
        sid: `rs-${run}`,
      }),
    ).toBe(true);
    expect(await store.get(key('r'), now)).toEqual({
      data: 'v2',
      expiresAt: now + 90,
      sub: `rita-${run}`,
      sid: `rs-${run}`,
    });
    expect(await store.deleteBySid(`rs-${run}`)).toBe(1);
  });

  it('moves the expiry of an existing record without touching its data, and keeps it indexed', async () => {
    await store.touch(key('t-missing'), now + 100);
    expect(await store.get(key('t-missing'), now)).toBeUndefined();
    await store.set(key('t'), { data: 'keep', expiresAt: now + 60, sub: `tom-${run}`, sid: `ts-${run}` });
    await store.touch(key('t'), now + 600);
    expect(await store.get(key('t'), now + 300)).toEqual({
      data: 'keep',
      expiresAt: now + 600,
      sub: `tom-${run}`,
      sid: `ts-${run}`,
    });
    expect(await store.deleteBySub(`tom-${run}`)).toBe(1);
  });

  it('deletes every record of a sid, and every record of a sub', async () => {
    await store.set(key('d1'), { data: '1', expiresAt: now + 600, sub: `bob-${run}`, sid: `s1-${run}` });
    await store.set(key('d2'), { data: '2', expiresAt: now + 600, sub: `bob-${run}`, sid: `s1-${run}` });
    await store.set(key('d3'), { data: '3', expiresAt: now + 600, sub: `bob-${run}`, sid: `s2-${run}` });
    await store.set(key('d4'), { data: '4', expiresAt: now + 600, sub: `carol-${run}`, sid: `s3-${run}` });
    expect(await store.deleteBySid(`s1-${run}`)).toBe(2);
    expect(await store.get(key('d1'), now)).toBeUndefined();
    expect(await store.get(key('d2'), now)).toBeUndefined();
    expect(await store.get(key('d3'), now)).toBeDefined();
    expect(await store.deleteBySub(`bob-${run}`)).toBe(1);
    expect(await store.get(key('d3'), now)).toBeUndefined();
    expect(await store.get(key('d4'), now)).toBeDefined();
    expect(await store.deleteBySid(`nobody-${run}`)).toBe(0);
  });

  it('sweeps expired records (Redis expires them natively)', async () => {
    await store.set(key('e'), { data: 'old', expiresAt: now + 10 });
    await store.set(key('f'), { data: 'new', expiresAt: now + 600 });
    const swept = await store.sweep(now + 20);
    if (name === 'redis') {
      // Redis expires keys by itself; sweep has nothing to do.
      expect(swept).toBe(0);
    } else {
      expect(swept).toBe(1);
      expect(await store.get(key('e'), now)).toBeUndefined();
    }
    expect(await store.get(key('e'), now + 20)).toBeUndefined();
    expect(await store.get(key('f'), now + 20)).toBeDefined();
  });
});
