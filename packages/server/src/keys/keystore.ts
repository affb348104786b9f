/**
 * Signing keys: generated on first start, stored so every node shares them, published at the JWKS URI and
 * rotated with overlap (RFC 7517; OpenID Connect Core §10.1.1): a key is published before it signs and
 * stays published until its tokens expire. Nodes reload the set every `reloadInterval`, so a new key never
 * signs before that interval plus a margin: no node signs with a key another node does not publish yet.
 * Rotation runs under a storage-wide lock. Private keys may be sealed at rest (keys/key-encryption.ts).
 */

import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { jwkThumbprint } from '@gatehouse/jose-rules';
import type { JWK } from 'jose';
import type { GatehouseConfig, SigningAlgorithm } from '../config/schema.ts';
import { maxAccessTokenTtl, type SigningKeyRecord } from '../model.ts';
import type { SigningKeyRepository } from '../storage/ports.ts';
import type { SigningKey } from '../tokens/jwt.ts';
import { KeyEncryption } from './key-encryption.ts';

function generateKeyObject(alg: SigningAlgorithm): KeyObject {
  switch (alg) {
    case 'ES256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    case 'RS256':
    case 'PS256':
      return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    case 'EdDSA':
      return generateKeyPairSync('ed25519').privateKey;
  }
}

/** A new key record for `alg`, kid = its RFC 7638 thumbprint. */
export function generateSigningKey(alg: SigningAlgorithm, now: number, notBefore: number): SigningKeyRecord {
  const privateKey = generateKeyObject(alg);
  const privateJwk = privateKey.export({ format: 'jwk' });
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = privateJwk;
  const kid = jwkThumbprint(publicJwk);
  if (kid === undefined) throw new Error(`a generated ${alg} key has no RFC 7638 thumbprint`);
  return {
    kid,
    alg,
    privateJwk: JSON.stringify(privateJwk),
    publicJwk: JSON.stringify({ ...publicJwk, kid, alg, use: 'sig' }),
    createdAt: now,
    notBefore,
    retiredAt: null,
    expiresAt: null,
  };
}

export interface KeyStoreOptions {
  algorithm: SigningAlgorithm;
  publishBeforeUse: number;
  /** The longest lifetime of anything a key signs: a retired key stays published this long. */
  maxTokenLifetime: number;
  /** Seconds between reloads on every node: the bound on how long a new key takes to reach them all. */
  reloadInterval: number;
  /** Rotate when the newest key is this many seconds old (undefined: only when asked, e.g. by the CLI). */
  rotateEvery: number | undefined;
  /** Seals private keys at rest (a no-op without configured secrets). */
  encryption: KeyEncryption;
}

/** Slack on top of the reload interval for a reload that is slow or a node clock that is a little behind. */
export const reloadMargin = 5;

/** Seconds between storing a new key and its first signature (see the module comment). */
export function signingDelay(options: Pick<KeyStoreOptions, 'publishBeforeUse' | 'reloadInterval'>): number {
  return Math.max(options.publishBeforeUse, options.reloadInterval + reloadMargin);
}

/**
 * The key settings of a config. A retired key stays published for the longest lifetime of anything it
 * signs (access tokens are at most 15 minutes, id tokens as configured) plus a minute of clock skew.
 */
export function keyStoreOptions(config: GatehouseConfig): KeyStoreOptions {
  return {
    algorithm: config.keys.algorithm,
    publishBeforeUse: config.keys.publishBeforeUse,
    maxTokenLifetime:
      Math.max(config.tokens.accessTokenTtl, maxAccessTokenTtl, config.tokens.idTokenTtl) + 60,
    reloadInterval: config.keys.reloadInterval,
    rotateEvery: config.keys.rotateEvery,
    encryption: new KeyEncryption(config.keys.encryptionSecrets),
  };
}

export class KeyStore {
  private records: SigningKeyRecord[] = [];
  private imported = new Map<string, SigningKey>();
  private readonly publicKeys = new Map<string, { alg: SigningAlgorithm; key: KeyObject }>();
  private jwksCache: { keys: object[] } = { keys: [] };

  constructor(
    private readonly repository: SigningKeyRepository,
    private readonly options: KeyStoreOptions,
    /**
     * Runs `work` so no other process runs it at the same time (storage.exclusive): nodes starting together
     * on an empty store must agree on one first key, or each would sign with a key the others do not publish.
     */
    private readonly exclusive: <T>(work: (repository: SigningKeyRepository) => Promise<T>) => Promise<T> = (
      work,
    ) => work(repository),
  ) {}

  /** Loads the key set, creating a first key when no key of the configured algorithm can sign. */
  async initialise(now: number): Promise<void> {
    const { encryption } = this.options;
    const reseal =
      encryption.enabled &&
      (await this.repository.listAll()).some((record) => !encryption.isCurrent(record.privateJwk));
    await this.reload(now);
    if (this.currentRecord(now) !== undefined && !reseal) return;
    await this.exclusive(async (repository) => {
      // Checked again under the lock: another node may have created the key or sealed them meanwhile.
      if (encryption.enabled) {
        for (const record of await repository.listAll()) {
          if (encryption.isCurrent(record.privateJwk)) continue;
          const plain = encryption.open(record.kid, record.privateJwk);
          await repository.replacePrivateJwk(record.kid, encryption.seal(record.kid, plain));
        }
      }
      this.records = await repository.listPublished(now);
      if (this.currentRecord(now) === undefined)
        await repository.create(this.sealed(generateSigningKey(this.options.algorithm, now, now)));
    });
    await this.reload(now);
  }

  /**
   * Loads the published keys and imports each new private key once; a key that cannot be opened (sealed
   * with a secret this node does not have, or altered) fails the reload before anything is replaced.
   */
  async reload(now: number): Promise<void> {
    const records = await this.repository.listPublished(now);
    const imported = new Map<string, SigningKey>();
    for (const record of records) {
      imported.set(
        record.kid,
        this.imported.get(record.kid) ?? {
          kid: record.kid,
          alg: record.alg as SigningAlgorithm,
          privateKey: createPrivateKey({
            key: JSON.parse(this.options.encryption.open(record.kid, record.privateJwk)) as JsonWebKey,
            format: 'jwk',
          }),
        },
      );
    }
    this.records = records;
    this.imported = imported;
    this.jwksCache = { keys: records.map((record) => JSON.parse(record.publicJwk) as object) };
  }

  private sealed(record: SigningKeyRecord): SigningKeyRecord {
    return { ...record, privateJwk: this.options.encryption.seal(record.kid, record.privateJwk) };
  }

  /**
   * Schedules a new key: published now, signing after `signingDelay` (publishBeforeUse, at least the
   * reload interval plus a margin); every older key stops signing then and leaves the JWKS once its last
   * token has expired.
   */
  async rotate(now: number): Promise<SigningKeyRecord> {
    const record = await this.exclusive((repository) => this.createNext(repository, now));
    await this.reload(now);
    return record;
  }

  /**
   * Rotates when `rotateEvery` is set and the newest key is at least that old. Every node may call this
   * at once: under the lock the newest key is read again, so exactly one of them rotates. Returns the new
   * key, or undefined when none was due.
   */
  async rotateIfDue(now: number): Promise<SigningKeyRecord | undefined> {
    const { rotateEvery } = this.options;
    if (rotateEvery === undefined || !this.due(this.records, now, rotateEvery)) return undefined;
    const record = await this.exclusive(async (repository) =>
      this.due(await repository.listPublished(now), now, rotateEvery)
        ? this.createNext(repository, now)
        : undefined,
    );
    await this.reload(now);
    return record;
  }

  private due(records: SigningKeyRecord[], now: number, rotateEvery: number): boolean {
    const newest = Math.max(
      ...records.filter((record) => record.alg === this.options.algorithm).map((record) => record.createdAt),
    );
    return now - newest >= rotateEvery;
  }

  private async createNext(repository: SigningKeyRepository, now: number): Promise<SigningKeyRecord> {
    const notBefore = now + signingDelay(this.options);
    const record = this.sealed(generateSigningKey(this.options.algorithm, now, notBefore));
    await repository.create(record);
    await repository.retireOthers(record.kid, notBefore, notBefore + this.options.maxTokenLifetime);
    return record;
  }

  private currentRecord(now: number): SigningKeyRecord | undefined {
    let current: SigningKeyRecord | undefined;
    for (const record of this.records) {
      const signs =
        record.alg === this.options.algorithm &&
        record.notBefore <= now &&
        (record.retiredAt === null || record.retiredAt > now);
      if (signs && (current === undefined || record.notBefore >= current.notBefore)) current = record;
    }
    return current;
  }

  /** The key that signs at `now`. */
  signingKey(now: number): SigningKey {
    const record = this.currentRecord(now);
    const key = record === undefined ? undefined : this.imported.get(record.kid);
    if (key === undefined) throw new Error('no signing key is active');
    return key;
  }

  /** The public JWK Set: every key that signs, will sign, or signed a token that may still be live. */
  jwks(): { keys: object[] } {
    return this.jwksCache;
  }

  /** The public key for a kid that is still published, imported once; undefined for unknown kids. */
  verificationKey(kid: string): { alg: SigningAlgorithm; key: KeyObject } | undefined {
    let entry = this.publicKeys.get(kid);
    if (entry === undefined) {
      const record = this.records.find((candidate) => candidate.kid === kid);
      if (record === undefined) return undefined;
      entry = {
        alg: record.alg as SigningAlgorithm,
        key: createPublicKey({ key: JSON.parse(record.publicJwk) as JsonWebKey, format: 'jwk' }),
      };
      this.publicKeys.set(kid, entry);
    }
    return this.records.some((candidate) => candidate.kid === kid) ? entry : undefined;
  }

  /** Public JWK for a kid (used to verify our own tokens at userinfo). */
  publicJwk(kid: string): JWK | undefined {
    const record = this.records.find((candidate) => candidate.kid === kid);
    return record ? (JSON.parse(record.publicJwk) as JWK) : undefined;
  }

  describe(): SigningKeyRecord[] {
    return this.records.map((record) => ({ ...record, privateJwk: '(hidden)' }));
  }
}

export type KeyStatus = 'signing' | 'next' | 'retired' | 'published';

/** Which key signs at `now`, by the rule KeyStore applies: the newest eligible key of the algorithm. */
export function keyStatuses(
  records: SigningKeyRecord[],
  algorithm: string,
  now: number,
): Map<string, KeyStatus> {
  let current: SigningKeyRecord | undefined;
  for (const record of records) {
    const signs =
      record.alg === algorithm &&
      record.notBefore <= now &&
      (record.retiredAt === null || record.retiredAt > now);
    if (signs && (current === undefined || record.notBefore >= current.notBefore)) current = record;
  }
  return new Map(
    records.map((record) => {
      let status: KeyStatus = 'published';
      if (record === current) status = 'signing';
      else if (record.notBefore > now) status = 'next';
      else if (record.retiredAt !== null && record.retiredAt <= now) status = 'retired';
      return [record.kid, status];
    }),
  );
}
