/**
 * A Redis replay store for DPoP `jti`s (RFC 9449 §11.1) shared by every instance of an API: one atomic
 * `SET key 1 EX ttl NX` per proof. Works with ioredis or any client exposing the same `set` signature.
 */
import type { ReplayStore } from './replay.ts';

/** The one Redis command the store needs (ioredis' signature). */
export interface RedisLike {
  set(key: string, value: string, ex: 'EX', seconds: number, nx: 'NX'): Promise<'OK' | null>;
}

export interface RedisReplayStoreOptions {
  /** Prefix of every key, e.g. `orders-api:dpop:`. */
  prefix?: string;
}

export class RedisReplayStore implements ReplayStore {
  private readonly prefix: string;

  constructor(
    private readonly redis: RedisLike,
    options: RedisReplayStoreOptions = {},
  ) {
    this.prefix = options.prefix ?? 'gatehouse:dpop:';
  }

  async claim(key: string, expiresAt: number, now: number): Promise<boolean> {
    const ttl = Math.max(1, Math.ceil(expiresAt - now));
    return (await this.redis.set(`${this.prefix}${key}`, '1', 'EX', ttl, 'NX')) === 'OK';
  }
}
