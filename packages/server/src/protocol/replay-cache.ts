/**
 * One-time-use memory for JWT ids of DPoP proofs (RFC 9449 §11.1) and client assertions (RFC 7523 §3
 * item 7), each under its own key prefix. The in-memory cache serves one node; several nodes need Redis,
 * or a replay sent to another node would succeed. A full memory cache answers false (treated as a
 * replay, the stricter choice) rather than forget ids still inside their window.
 */
import { redisCall } from './redis-call.ts';

export interface ReplayCache {
  /** True when `key` was not seen before (and is now recorded until `expiresAt`, seconds since epoch). */
  firstUse(key: string, expiresAt: number, now: number): Promise<boolean>;
  close?(): Promise<void>;
}

export class MemoryReplayCache implements ReplayCache {
  readonly #entries = new Map<string, number>();
  readonly #maxEntries: number;
  #nextSweep = 0;

  constructor(options: { maxEntries?: number } = {}) {
    this.#maxEntries = options.maxEntries ?? 1_000_000;
  }

  async firstUse(key: string, expiresAt: number, now: number): Promise<boolean> {
    if (now >= this.#nextSweep) this.#sweep(now);
    const seenUntil = this.#entries.get(key);
    if (seenUntil !== undefined && seenUntil > now) return false;
    if (this.#entries.size >= this.#maxEntries) {
      this.#sweep(now);
      if (this.#entries.size >= this.#maxEntries) return false;
    }
    this.#entries.set(key, expiresAt);
    return true;
  }

  #sweep(now: number): void {
    for (const [key, expiresAt] of this.#entries) if (expiresAt <= now) this.#entries.delete(key);
    this.#nextSweep = now + 10;
  }
}

/**
 * The shared cache for several nodes: one `SET key 1 NX EX seconds` per check, which Redis runs
 * atomically, so of two nodes seeing the same jti at once exactly one is told "first use". The key lives
 * as long as the proof or assertion has left (at least one second; relative, so Redis's clock does not
 * matter). When Redis is unreachable the request is refused (503), never treated as a first use.
 */
export class RedisReplayCache implements ReplayCache {
  constructor(
    /** The one command used, in ioredis' signature (typed here so the package's types need no ioredis). */
    private readonly redis: {
      set(key: string, value: string, ex: 'EX', seconds: number, nx: 'NX'): Promise<'OK' | null>;
    },
    /** Prefix of this deployment's keys (config redis.keyPrefix). */
    private readonly prefix: string,
  ) {}

  async firstUse(key: string, expiresAt: number, now: number): Promise<boolean> {
    const seconds = Math.max(1, Math.ceil(expiresAt - now));
    const answer = await redisCall(() =>
      this.redis.set(`${this.prefix}jti:${key}`, '1', 'EX', seconds, 'NX'),
    );
    return answer === 'OK';
  }
}
