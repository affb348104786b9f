/**
 * Rate limits and abuse counters (the `RateLimits` of context.ts), in memory (one node) or in Redis
 * (shared by all nodes). Limits are fixed windows per (rule, key), refused with 429 and Retry-After; failed
 * logins lock a username for a doubling delay after `loginFreeFailures`. Times come from the server clock
 * in both stores, so tests can move them. Each Redis update is one Lua script, atomic across nodes. An
 * unreachable Redis answers 503: failing closed, so an outage never switches the limits off.
 */
import type { Redis } from 'ioredis';
import type { GatehouseConfig } from '../config/schema.ts';
import type { Clock, RateLimitRule, RateLimits } from '../context.ts';
import { OAuthError } from '../protocol/errors.ts';
import { redisCall } from '../protocol/redis-call.ts';

type Limits = GatehouseConfig['rateLimits'];

interface Window {
  count: number;
  resetAt: number;
}

interface Failures {
  count: number;
  lockedUntil: number;
  forgetAt: number;
}

/** Where the counts live. Every method is given the server's time. */
export interface RateLimitStore {
  /** Counts one request for `id`; the window (re)starts when it is over. */
  increment(id: string, window: number, now: number): Window | Promise<Window>;
  /** When the key's failure lock ends (0 when there is none). */
  lockedUntil(key: string): number | Promise<number>;
  /** Counts a failure and returns the count (see RateLimiter.countFailure). */
  recordFailure(key: string, freeFailures: number, maxDelay: number, now: number): number | Promise<number>;
  clearFailures(key: string): void | Promise<void>;
}

/** Lock after `count` failures: none for the free ones, then 1 s, 2 s, 4 s, ... up to `maxDelay`. */
function lockDelay(count: number, freeFailures: number, maxDelay: number): number {
  return count > freeFailures ? Math.min(maxDelay, 2 ** Math.min(30, count - freeFailures - 1)) : 0;
}

const maxEntries = 100_000;

export class MemoryRateLimitStore implements RateLimitStore {
  private readonly windows = new Map<string, Window>();
  private readonly failures = new Map<string, Failures>();

  increment(id: string, window: number, now: number): Window {
    let entry = this.windows.get(id);
    if (entry === undefined || entry.resetAt <= now) {
      if (this.windows.size >= maxEntries) this.prune(now);
      entry = { count: 0, resetAt: now + window };
      this.windows.set(id, entry);
    }
    entry.count += 1;
    return entry;
  }

  lockedUntil(key: string): number {
    return this.failures.get(key)?.lockedUntil ?? 0;
  }

  recordFailure(key: string, freeFailures: number, maxDelay: number, now: number): number {
    if (this.failures.size >= maxEntries) this.prune(now);
    const previous = this.failures.get(key);
    // A count past its forget time starts over (as documented above), whether or not pruning has run.
    const entry =
      previous !== undefined && (previous.forgetAt > now || previous.lockedUntil > now)
        ? previous
        : { count: 0, lockedUntil: 0, forgetAt: 0 };
    entry.count += 1;
    entry.forgetAt = now + maxDelay;
    const delay = lockDelay(entry.count, freeFailures, maxDelay);
    if (delay > 0) entry.lockedUntil = now + delay;
    this.failures.set(key, entry);
    return entry.count;
  }

  clearFailures(key: string): void {
    this.failures.delete(key);
  }

  private prune(now: number): void {
    for (const [id, entry] of this.windows) if (entry.resetAt <= now) this.windows.delete(id);
    for (const [id, entry] of this.failures)
      if (entry.forgetAt <= now && entry.lockedUntil <= now) this.failures.delete(id);
    // Still full (a flood of distinct keys): start over rather than grow without bound.
    if (this.windows.size >= maxEntries) this.windows.clear();
    if (this.failures.size >= maxEntries) this.failures.clear();
  }
}

// KEYS[1] window hash; ARGV now, window. Returns { count, resetAt }.
const incrementScript = `
local resetAt = tonumber(redis.call('HGET', KEYS[1], 'r') or '0')
local now = tonumber(ARGV[1])
if resetAt <= now then
  resetAt = now + tonumber(ARGV[2])
  redis.call('HSET', KEYS[1], 'c', 0, 'r', resetAt)
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]) + 1)
end
return { redis.call('HINCRBY', KEYS[1], 'c', 1), resetAt }`;

// KEYS[1] failure hash; ARGV now, freeFailures, maxDelay. Same rules as MemoryRateLimitStore.recordFailure.
const failureScript = `
local now = tonumber(ARGV[1])
local free = tonumber(ARGV[2])
local maxDelay = tonumber(ARGV[3])
local count = tonumber(redis.call('HGET', KEYS[1], 'c') or '0')
local forgetAt = tonumber(redis.call('HGET', KEYS[1], 'f') or '0')
local lockedUntil = tonumber(redis.call('HGET', KEYS[1], 'l') or '0')
if not (forgetAt > now or lockedUntil > now) then
  count = 0
  lockedUntil = 0
end
count = count + 1
if count > free then
  lockedUntil = now + math.min(maxDelay, 2 ^ math.min(30, count - free - 1))
end
redis.call('HSET', KEYS[1], 'c', count, 'f', now + maxDelay, 'l', lockedUntil)
redis.call('EXPIRE', KEYS[1], maxDelay + 1)
return count`;

export class RedisRateLimitStore implements RateLimitStore {
  constructor(
    private readonly redis: Redis,
    /** Prefix of this deployment's keys (config redis.keyPrefix). */
    private readonly prefix: string,
  ) {}

  async increment(id: string, window: number, now: number): Promise<Window> {
    const [count, resetAt] = (await redisCall(() =>
      this.redis.eval(incrementScript, 1, `${this.prefix}rl:${id}`, now, window),
    )) as [number, number];
    return { count, resetAt };
  }

  async lockedUntil(key: string): Promise<number> {
    const value = await redisCall(() => this.redis.hget(`${this.prefix}lf:${key}`, 'l'));
    return value === null ? 0 : Number(value);
  }

  async recordFailure(key: string, freeFailures: number, maxDelay: number, now: number): Promise<number> {
    return (await redisCall(() =>
      this.redis.eval(failureScript, 1, `${this.prefix}lf:${key}`, now, freeFailures, maxDelay),
    )) as number;
  }

  async clearFailures(key: string): Promise<void> {
    await redisCall(() => this.redis.del(`${this.prefix}lf:${key}`));
  }
}

export class RateLimiter implements RateLimits {
  constructor(
    private readonly limits: Limits,
    private readonly now: Clock,
    private readonly store: RateLimitStore = new MemoryRateLimitStore(),
  ) {}

  async hit(rule: RateLimitRule, key: string): Promise<void> {
    if (!this.limits.enabled) return;
    const { limit, window } = this.limits[rule];
    const now = this.now();
    const entry = await this.store.increment(`${rule}\u0000${key}`, window, now);
    if (entry.count > limit) {
      throw new OAuthError('temporarily_unavailable', 'too many requests; try again later', {
        status: 429,
        retryAfter: Math.max(1, entry.resetAt - now),
      });
    }
  }

  async lockedSeconds(key: string): Promise<number> {
    return Math.max(0, (await this.store.lockedUntil(key)) - this.now());
  }

  async countFailure(key: string, freeFailures: number, maxDelay: number): Promise<number> {
    if (!this.limits.enabled) return 0;
    return this.store.recordFailure(key, freeFailures, maxDelay, this.now());
  }

  async forgetFailures(key: string): Promise<void> {
    await this.store.clearFailures(key);
  }
}
