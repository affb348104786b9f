/**
 * JSON Web Key Sets (RFC 7517 §4-§5): keys imported once into node:crypto KeyObjects, and a remote set
 * with a cache TTL, a refetch when a token names an unknown `kid` (at most once per cooldown, so a flood of
 * made-up kids cannot make the verifier fetch), and rotation without downtime: a stale set keeps serving
 * while a fresh one is fetched, and a failed fetch keeps the last good set.
 *
 * A `kid` is only ever a key in this map (RFC 8725 §3.10): never a path, a URL or a query.
 */
import { createPublicKey } from 'node:crypto';
import type { VerificationKey } from './jws.ts';
import { type FetchLike, fetchJsonObject, RemoteError } from './remote.ts';

/** A JWK as published in a JWKS; only public members are read. */
export type PublicJwk = Record<string, unknown> & { kty: string };

const publicMembers: Record<string, readonly string[]> = {
  EC: ['kty', 'crv', 'x', 'y'],
  RSA: ['kty', 'n', 'e'],
  OKP: ['kty', 'crv', 'x'],
};

/**
 * Imports one JWK as a verification key, or returns undefined when it cannot be one: symmetric (`oct`),
 * not for signatures (`use` other than `sig`, `key_ops` without `verify`), an RSA modulus under 2048
 * bits, or malformed. Private members are ignored, never imported.
 */
export function importJwk(jwk: unknown): VerificationKey | undefined {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return undefined;
  const record = jwk as Record<string, unknown>;
  const members = typeof record.kty === 'string' ? publicMembers[record.kty] : undefined;
  if (members === undefined) return undefined;
  if (record.use !== undefined && record.use !== 'sig') return undefined;
  if (record.key_ops !== undefined && !(Array.isArray(record.key_ops) && record.key_ops.includes('verify')))
    return undefined;
  if (record.kid !== undefined && typeof record.kid !== 'string') return undefined;
  if (record.alg !== undefined && typeof record.alg !== 'string') return undefined;
  const publicJwk: Record<string, unknown> = {};
  for (const member of members) {
    if (typeof record[member] !== 'string') return undefined;
    publicJwk[member] = record[member];
  }
  try {
    const key = createPublicKey({ key: publicJwk as { kty: string }, format: 'jwk' });
    if (record.kty === 'RSA' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) return undefined;
    if (record.kty === 'OKP' && record.crv !== 'Ed25519') return undefined;
    return {
      kid: record.kid as string | undefined,
      key,
      kty: record.kty as string,
      crv: record.crv as string | undefined,
      alg: record.alg as string | undefined,
    };
  } catch {
    return undefined;
  }
}

/** Imports every usable key of a JWKS document; unusable entries are skipped, never thrown. */
export function importJwks(document: unknown): VerificationKey[] {
  const keys = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) return [];
  const imported: VerificationKey[] = [];
  for (const jwk of keys) {
    const key = importJwk(jwk);
    if (key !== undefined) imported.push(key);
  }
  return imported;
}

/** Where verification keys come from: a fixed list or a remote JWKS. */
export interface KeySource {
  /** The keys with this `kid` (all keys when kid is undefined); undefined when nothing is loaded yet. */
  lookup(kid: string | undefined): VerificationKey[] | undefined;
  /**
   * Loads the keys (first use) or refetches after an unknown `kid` when the cooldown allows. Resolves
   * true when a fetch happened, false when the cooldown held it back; rejects when keys are unavailable.
   */
  reload(reason: 'initial' | 'unknown_kid'): Promise<boolean>;
}

function indexByKid(keys: VerificationKey[]): Map<string | undefined, VerificationKey[]> {
  const index = new Map<string | undefined, VerificationKey[]>();
  index.set(undefined, keys);
  for (const key of keys) {
    if (key.kid === undefined) continue;
    const list = index.get(key.kid);
    if (list === undefined) index.set(key.kid, [key]);
    else list.push(key);
  }
  return index;
}

export class StaticKeySource implements KeySource {
  private readonly index: Map<string | undefined, VerificationKey[]>;

  constructor(jwks: { keys: unknown[] }) {
    this.index = indexByKid(importJwks(jwks));
  }

  lookup(kid: string | undefined): VerificationKey[] {
    return this.index.get(kid) ?? [];
  }

  async reload(): Promise<boolean> {
    return false;
  }
}

export interface RemoteKeySourceOptions {
  /** Resolves the JWKS URI (discovery may run first). */
  jwksUri: () => Promise<string>;
  fetch: FetchLike;
  /** Seconds, for the TTL and the cooldown. */
  now: () => number;
  /** Seconds a fetched set is fresh; after that it is refetched in the background. */
  ttl: number;
  /** Minimum seconds between fetches caused by an unknown `kid`. */
  cooldown: number;
  timeoutMs: number;
  /** Called when a background refresh fails (the last good set keeps serving). */
  onError: (error: Error) => void;
}

export class RemoteKeySource implements KeySource {
  private index: Map<string | undefined, VerificationKey[]> | undefined;
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private lastAttempt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | undefined;

  constructor(private readonly options: RemoteKeySourceOptions) {}

  lookup(kid: string | undefined): VerificationKey[] | undefined {
    const index = this.index;
    if (index === undefined) return undefined;
    const now = this.options.now();
    if (now - this.fetchedAt >= this.options.ttl && now - this.lastAttempt >= this.options.cooldown) {
      // Stale: keep serving the current set and refresh in the background.
      this.fetch().catch((error: Error) => this.options.onError(error));
    }
    return index.get(kid) ?? [];
  }

  async reload(reason: 'initial' | 'unknown_kid'): Promise<boolean> {
    if (reason === 'initial' && this.index !== undefined) return false;
    if (this.inflight !== undefined) {
      await this.inflight;
      return true;
    }
    if (reason === 'unknown_kid' && this.options.now() - this.lastAttempt < this.options.cooldown)
      return false;
    if (reason === 'initial' && this.options.now() - this.lastAttempt < this.options.cooldown) {
      throw new RemoteError('the JWKS could not be fetched recently; waiting for the cooldown');
    }
    await this.fetch();
    return true;
  }

  private fetch(): Promise<void> {
    if (this.inflight !== undefined) return this.inflight;
    this.lastAttempt = this.options.now();
    this.inflight = (async () => {
      try {
        const uri = await this.options.jwksUri();
        const document = await fetchJsonObject(this.options.fetch, uri, {
          method: 'GET',
          timeoutMs: this.options.timeoutMs,
        });
        if (!Array.isArray(document.keys)) throw new RemoteError(`${uri}: not a JWKS`);
        this.index = indexByKid(importJwks(document));
        this.fetchedAt = this.options.now();
      } finally {
        this.inflight = undefined;
      }
    })();
    return this.inflight;
  }
}
