/**
 * Replay stores for DPoP proof `jti`s (RFC 9449 §11.1): a proof is accepted once within its acceptance
 * window. `claim` records a key until `expiresAt` and answers whether it was new; a store shared by every
 * instance of an API (Redis) stops replays across instances, the in-memory default within one process.
 */

/** A store of one-time keys. Implementations must make `claim` atomic. */
export interface ReplayStore {
  /** Records `key` until `expiresAt` (seconds since the epoch); true if it was not already recorded. */
  claim(key: string, expiresAt: number, now: number): boolean | Promise<boolean>;
}

/** In-process replay store, bounded in size; expired keys are dropped as new ones arrive. */
export class MemoryReplayStore implements ReplayStore {
  private readonly keys = new Map<string, number>();

  /** @param maxEntries when full, the store refuses new keys rather than forget live ones. */
  constructor(private readonly maxEntries = 100_000) {}

  claim(key: string, expiresAt: number, now: number): boolean {
    const seen = this.keys.get(key);
    if (seen !== undefined && seen > now) return false;
    if (this.keys.size >= this.maxEntries) this.sweep(now);
    if (this.keys.size >= this.maxEntries) return false;
    this.keys.set(key, expiresAt);
    return true;
  }

  private sweep(now: number): void {
    for (const [key, expiresAt] of this.keys) if (expiresAt <= now) this.keys.delete(key);
  }
}
