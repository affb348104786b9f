/**
 * The Redis side of the shared state (real Redis at 127.0.0.1:6379): the jti replay cache says "first use"
 * exactly once across connections, counters are shared by every limiter on the same prefix, and an
 * unreachable Redis is a 503 answer or a start-up error, never a silent pass.
 */
import { createServer } from 'node:net';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.ts';
import { RateLimiter, RedisRateLimitStore } from '../src/http/rate-limit.ts';
import { OAuthError } from '../src/protocol/errors.ts';
import { RedisReplayCache } from '../src/protocol/replay-cache.ts';
import { connectRedis } from '../src/storage/redis.ts';
import { backendRelay, dropRedisPrefix, redisUrl, requireService, uniqueName } from './backends.ts';
import { buildServer, testConfig } from './helpers.ts';

const prefix = `${uniqueName('gh_redis')}:`;
let first: Redis;
let second: Redis;
beforeAll(async () => {
  await requireService('redis');
  [first, second] = await Promise.all([connectRedis(redisUrl), connectRedis(redisUrl)]);
});
afterAll(async () => {
  first?.disconnect();
  second?.disconnect();
  await dropRedisPrefix(prefix);
});

const now = Math.floor(Date.now() / 1000);
const limits = parseConfig({ issuer: 'https://id.example.com' }, {}).rateLimits;

describe('Redis replay cache', () => {
  it('answers true once per key, across connections, until the key expires', async () => {
    const caches = [new RedisReplayCache(first, prefix), new RedisReplayCache(second, prefix)];
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, index) => caches[index % 2]!.firstUse('dpop:jti-1', now + 60, now)),
    );
    expect(answers.filter(Boolean)).toHaveLength(1);
    expect(await caches[0]!.firstUse('dpop:jti-2', now + 60, now)).toBe(true);
    expect(await caches[1]!.firstUse('assertion:jti-1', now + 60, now)).toBe(true);
    const ttl = await first.ttl(`${prefix}jti:dpop:jti-1`);
    expect(ttl).toBeGreaterThan(50);
    expect(ttl).toBeLessThanOrEqual(60);
    // Already expired by the server clock: still remembered for a second, never "forever" or "never".
    expect(await caches[0]!.firstUse('dpop:late', now - 5, now)).toBe(true);
    expect(await first.ttl(`${prefix}jti:dpop:late`)).toBe(1);
  });

  it('refuses with 503 when Redis cannot be reached, rather than accepting a possible replay', async () => {
    const gone = await connectRedis(redisUrl);
    gone.disconnect();
    const error = await new RedisReplayCache(gone, prefix).firstUse('dpop:x', now + 60, now).catch((e) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect(error).toMatchObject({ error: 'temporarily_unavailable', status: 503 });
  });
});

describe('Redis rate-limit counters', () => {
  it('shares one window between limiters on different connections', async () => {
    const config = { ...limits, tokenPerClient: { limit: 10, window: 60 } };
    const clock = () => now;
    const limiters = [
      new RateLimiter(config, clock, new RedisRateLimitStore(first, prefix)),
      new RateLimiter(config, clock, new RedisRateLimitStore(second, prefix)),
      new RateLimiter(config, clock, new RedisRateLimitStore(first, prefix)),
    ];
    const outcomes = await Promise.allSettled(
      Array.from({ length: 30 }, (_, index) => limiters[index % 3]!.hit('tokenPerClient', 'shared-client')),
    );
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(10);
    const refused = outcomes.find((outcome) => outcome.status === 'rejected') as PromiseRejectedResult;
    expect(refused.reason).toMatchObject({ status: 429, retryAfter: 60 });
    // Another key, and the same key once the window is over, start afresh.
    await limiters[0]!.hit('tokenPerClient', 'other-client');
    await new RateLimiter(config, () => now + 60, new RedisRateLimitStore(second, prefix)).hit(
      'tokenPerClient',
      'shared-client',
    );
  });

  it('shares failure locks, and answers 503 when Redis is gone', async () => {
    const a = new RateLimiter(limits, () => now, new RedisRateLimitStore(first, prefix));
    const b = new RateLimiter(limits, () => now, new RedisRateLimitStore(second, prefix));
    for (let i = 0; i < 3; i++) await (i % 2 ? a : b).countFailure('login:eve', 2, 60);
    expect(await a.lockedSeconds('login:eve')).toBe(1);
    expect(await b.countFailure('login:eve', 2, 60)).toBe(4);
    expect(await a.lockedSeconds('login:eve')).toBe(2);
    await b.forgetFailures('login:eve');
    expect(await a.lockedSeconds('login:eve')).toBe(0);

    const gone = await connectRedis(redisUrl);
    gone.disconnect();
    const limiter = new RateLimiter(limits, () => now, new RedisRateLimitStore(gone, prefix));
    await expect(limiter.hit('tokenPerIp', '127.0.0.1')).rejects.toMatchObject({
      error: 'temporarily_unavailable',
      status: 503,
    });
  });

  it('stops the server at start-up when the configured Redis does not answer', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as { port: number };
    await new Promise((resolve) => closed.close(resolve));
    const config = parseConfig(testConfig({ redis: { url: `redis://127.0.0.1:${port}` } }));
    await expect(buildServer(config)).rejects.toThrow(/cannot connect to Redis/);
  });
});

describe('readiness with Redis', () => {
  it('answers /readyz 200 while Redis answers and 503 once it is gone', async () => {
    // A relay in front of the real Redis, so the test can cut the server's connections to it.
    const relay = await backendRelay(redisUrl, 6379);
    const server = await buildServer(
      parseConfig(testConfig({ redis: { url: `redis://127.0.0.1:${relay.port}`, keyPrefix: prefix } })),
    );
    try {
      const ready = await server.app.inject({ url: '/readyz' });
      expect(ready.statusCode).toBe(200);
      expect(JSON.parse(ready.body)).toEqual({ status: 'ready' });

      await relay.cut();
      const gone = await server.app.inject({ url: '/readyz' });
      expect(gone.statusCode).toBe(503);
      expect(JSON.parse(gone.body).error).toBe('temporarily_unavailable');
    } finally {
      await server.close();
    }
  });
});
