/**
 * ID Token validation (OpenID Connect Core §3.1.3.7, §3.1.3.8 at_hash, §2 claims): signature with the
 * issuer's JWKS (RFC 7517), `iss`, `aud`, `azp`, `exp` and `iat` within the clock tolerance, `nonce`,
 * `auth_time` when `max_age` was sent, and `at_hash`. The JWKS is fetched again when older than
 * `jwksMaxAge` or when a `kid` is unknown; if that fetch fails the token is refused, with no grace period:
 * keys past their age may have been withdrawn by the issuer.
 */
import { createHash } from 'node:crypto';
import {
  type CryptoKey,
  createLocalJWKSet,
  type JSONWebKeySet,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
  type ProtectedHeaderParameters,
} from 'jose';
import { GatehouseClientError } from './errors.ts';
import { type HttpOptions, httpRequest, oauthJson } from './http.ts';

/** Claims of a validated ID Token. */
export interface IdTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string | string[];
  exp: number;
  iat: number;
  nonce?: string;
  azp?: string;
  at_hash?: string;
  auth_time?: number;
  sid?: string;
  [claim: string]: unknown;
}

type KeyResolver = ReturnType<typeof createLocalJWKSet>;

/** Default maximum age of a fetched JWKS, in seconds. */
export const defaultJwksMaxAge = 600;

/** Seconds between fetches for an unknown `kid`. */
const unknownKidCooldown = 30;

/** The issuer's signing keys, fetched again when older than `maxAge` seconds and on an unknown `kid`. */
export class JwksCache {
  /** The last set fetched, and when its fetch started (by the client's clock). */
  private keys: { resolver: KeyResolver; fetchedAt: number } | undefined;
  /** The fetch in flight, shared by every lookup that waits for it. */
  private fetching: Promise<KeyResolver> | undefined;
  /** When the last fetch started, successful or not: the unknown-`kid` cooldown counts from it. */
  private attemptedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly uri: string,
    private readonly http: HttpOptions,
    private readonly now: () => number,
    private readonly maxAge: number,
  ) {}

  private fetch(): Promise<KeyResolver> {
    if (this.fetching !== undefined) return this.fetching;
    const startedAt = this.now();
    this.attemptedAt = startedAt;
    const fetching = httpRequest(
      this.uri,
      { method: 'GET', headers: { accept: 'application/json' } },
      this.http,
    )
      .then((response) => {
        const body = oauthJson(response, this.uri);
        if (!Array.isArray(body.keys)) {
          throw new GatehouseClientError('invalid_response', `${this.uri} is not a JWK Set`);
        }
        const resolver = createLocalJWKSet(body as unknown as JSONWebKeySet);
        this.keys = { resolver, fetchedAt: startedAt };
        return resolver;
      })
      .finally(() => {
        this.fetching = undefined;
      });
    this.fetching = fetching;
    return fetching;
  }

  /** The cached set while it is younger than the maximum age, else a fresh one (or the fetch's error). */
  private current(): Promise<KeyResolver> {
    if (this.keys !== undefined && this.now() - this.keys.fetchedAt < this.maxAge) {
      return Promise.resolve(this.keys.resolver);
    }
    return this.fetch();
  }

  /** A key resolver for jose's `jwtVerify`. */
  async resolve(header: ProtectedHeaderParameters): Promise<CryptoKey> {
    const resolver = await this.current();
    try {
      return await resolver(header);
    } catch (error) {
      if (
        !(error instanceof joseErrors.JWKSNoMatchingKey) ||
        this.now() - this.attemptedAt < unknownKidCooldown
      ) {
        throw error;
      }
      return (await this.fetch())(header);
    }
  }
}

/** Hash for at_hash by the ID Token's `alg` (Core §3.1.3.6). */
function hashFor(alg: string): string {
  if (/384$/.test(alg)) return 'sha384';
  if (/512$/.test(alg) || alg === 'EdDSA' || alg === 'Ed25519') return 'sha512';
  return 'sha256';
}

/** Left half of the hash of the access token, base64url (Core §3.1.3.6 at_hash). */
export function accessTokenHash(accessToken: string, alg: string): string {
  const digest = createHash(hashFor(alg)).update(accessToken, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

/**
 * A server whose ID Tokens name one of many issuers (Microsoft Entra ID's multi-tenant endpoints): its
 * discovery document names `documentIssuer` (a template), and `accepts` decides each token's `iss` from
 * its claims (e.g. the template with the token's tenant put in).
 */
export interface IssuerRule {
  documentIssuer: string;
  accepts(iss: string, claims: JWTPayload): boolean;
}

export interface IdTokenExpectations {
  issuer: string;
  /** Decides `iss` instead of comparing it with `issuer`. */
  issuerRule?: IssuerRule | undefined;
  clientId: string;
  nonce: string | undefined;
  /** The `max_age` of the request, if one was sent. */
  maxAge?: number | undefined;
  accessToken: string | undefined;
  now: number;
  clockTolerance: number;
}

function invalid(message: string, cause?: unknown): GatehouseClientError {
  return new GatehouseClientError('id_token_invalid', `id_token ${message}`, { cause });
}

/** Validates an ID Token and returns its claims; throws `id_token_invalid`. */
export async function validateIdToken(
  idToken: string,
  jwks: JwksCache,
  expected: IdTokenExpectations,
): Promise<IdTokenClaims> {
  let payload: JWTPayload;
  let alg: string;
  try {
    const result = await jwtVerify(idToken, (header) => jwks.resolve(header), {
      ...(expected.issuerRule === undefined ? { issuer: expected.issuer } : {}),
      audience: expected.clientId,
      currentDate: new Date(expected.now * 1000),
      clockTolerance: expected.clockTolerance,
      requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
    });
    payload = result.payload;
    alg = result.protectedHeader.alg;
  } catch (error) {
    if (error instanceof GatehouseClientError) throw error;
    throw invalid(`failed validation: ${(error as Error).message}`, error);
  }
  const claims = payload as IdTokenClaims;
  if (expected.issuerRule !== undefined && !expected.issuerRule.accepts(String(claims.iss), claims))
    throw invalid(`iss ${String(claims.iss)} is not accepted`);
  if (claims.iat > expected.now + expected.clockTolerance) throw invalid('is issued in the future');
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (audiences.length > 1 && claims.azp === undefined) throw invalid('has several audiences but no azp');
  if (claims.azp !== undefined && claims.azp !== expected.clientId) throw invalid('azp is another client');
  if (expected.nonce !== undefined && claims.nonce !== expected.nonce) throw invalid('nonce does not match');
  if (expected.maxAge !== undefined) {
    if (typeof claims.auth_time !== 'number') throw invalid('has no auth_time although max_age was sent');
    if (expected.now - claims.auth_time > expected.maxAge + expected.clockTolerance) {
      throw invalid('auth_time is older than max_age allows');
    }
  }
  if (claims.at_hash !== undefined) {
    if (expected.accessToken === undefined) throw invalid('has at_hash but no access token came with it');
    if (claims.at_hash !== accessTokenHash(expected.accessToken, alg)) {
      throw invalid('at_hash does not match the access token');
    }
  }
  return claims;
}
