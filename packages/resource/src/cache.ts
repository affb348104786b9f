/**
 * A bounded cache of verification results, keyed by the SHA-256 of the token (the token itself is never
 * kept), each entry expiring at a time in seconds the caller chooses (never after the token's `exp`).
 * When full, the oldest entry goes first.
 */
import { hash } from 'node:crypto';

/** One-shot SHA-256 (no Hash object per call: this runs on every request, cache hit or not). */
export function tokenHash(token: string): string {
  return hash('sha256', token, 'base64url');
}

export class ExpiringCache<T> {
  private readonly entries = new Map<string, { value: T; expiresAt: number }>();

  constructor(private readonly maxEntries: number) {}

  get(key: string, now: number): T | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (now >= entry.expiresAt) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  set(key: string, value: T, expiresAt: number, now: number): void {
    if (this.maxEntries <= 0 || expiresAt <= now) return;
    if (this.entries.size >= this.maxEntries && !this.entries.has(key)) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { value, expiresAt });
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}
