/**
 * Rate limits and abuse counters, in memory (one node; a Redis store comes with the multi-node work).
 *
 * Limits are fixed windows per (rule, key): an IP, a client id, an introspection caller. A request over
 * the limit is refused with 429 and Retry-After. Failed logins are counted per username: after
 * `loginFreeFailures` failures each further failure locks the username for a delay that doubles, up to
 * `loginMaxDelay`; a success clears the count. Times come from the server clock, so tests can move them.
 */
import type { GatehouseConfig } from '../config/schema.ts';
import type { Clock } from '../context.ts';
import { OAuthError } from '../protocol/errors.ts';

type Limits = GatehouseConfig['rateLimits'];
export type RateLimitRule = {
  [K in keyof Limits]: Limits[K] extends { limit: number; window: number } ? K : never;
}[keyof Limits];

interface Window {
  count: number;
  resetAt: number;
}

interface Failures {
  count: number;
  lockedUntil: number;
  forgetAt: number;
}

const maxEntries = 100_000;

export class RateLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly failures = new Map<string, Failures>();

  constructor(
    private readonly limits: Limits,
    private readonly now: Clock,
  ) {}

  /** Counts one request for `key` under `rule`; throws a 429 OAuthError when the limit is exceeded. */
  consume(rule: RateLimitRule, key: string): void {
    if (!this.limits.enabled) return;
    const { limit, window } = this.limits[rule];
    const now = this.now();
    const id = `${rule}\u0000${key}`;
    let entry = this.windows.get(id);
    if (entry === undefined || entry.resetAt <= now) {
      if (this.windows.size >= maxEntries) this.prune(now);
      entry = { count: 0, resetAt: now + window };
      this.windows.set(id, entry);
    }
    entry.count += 1;
    if (entry.count > limit) {
      throw new OAuthError('temporarily_unavailable', 'too many requests; try again later', {
        status: 429,
        retryAfter: Math.max(1, entry.resetAt - now),
      });
    }
  }

  /** Seconds the key is still locked after repeated failures (0 when it is not). */
  lockedFor(key: string): number {
    const entry = this.failures.get(key);
    return entry === undefined ? 0 : Math.max(0, entry.lockedUntil - this.now());
  }

  /**
   * Records a failure for `key`. After `freeFailures`, each failure locks the key for a delay that doubles
   * (1 s, 2 s, 4 s, ...) up to `maxDelay`. Counts are forgotten `maxDelay` seconds after the last failure.
   */
  recordFailure(key: string, freeFailures: number, maxDelay: number): number {
    if (!this.limits.enabled) return 0;
    const now = this.now();
    if (this.failures.size >= maxEntries) this.prune(now);
    const previous = this.failures.get(key);
    // A count past its forget time starts over (as documented above), whether or not pruning has run.
    const entry =
      previous !== undefined && (previous.forgetAt > now || previous.lockedUntil > now)
        ? previous
        : { count: 0, lockedUntil: 0, forgetAt: 0 };
    entry.count += 1;
    entry.forgetAt = now + maxDelay;
    if (entry.count > freeFailures) {
      entry.lockedUntil = now + Math.min(maxDelay, 2 ** Math.min(30, entry.count - freeFailures - 1));
    }
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
