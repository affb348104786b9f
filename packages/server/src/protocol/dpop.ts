/**
 * DPoP proofs at the authorization server (RFC 9449): the checks of §4.3 (the shared checker of
 * @gatehouse/jose-rules) for a proof sent to the token endpoint, to /par (§10.1) or, with the access token
 * it accompanies, to userinfo (§7.1); stateless server-provided nonces (§8, §9); the replay check through
 * the shared replay cache under the `dpop:` prefix (§11.1); and the refusals as OAuthErrors (§5, §7.1).
 * The `htu` is compared with the endpoint's URL built from the issuer, never from the Host header.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import {
  constantTimeEqual,
  type DpopFailure,
  DpopProofChecker,
  type JwsAlgorithm,
} from '@gatehouse/jose-rules';
import { OAuthError, type OAuthErrorCode } from './errors.ts';
import type { ReplayCache } from './replay-cache.ts';

/**
 * Stateless nonces (RFC 9449 §8, §9): an HMAC of the current time slot under a server secret, so every
 * node sharing the secret hands out and accepts the same nonces without a store. A nonce is handed out
 * for `lifetime` seconds and accepted for one more slot after that (rotation without a cliff).
 */
export class DpopNonces {
  readonly #secret: Buffer;
  readonly #lifetime: number;
  #cachedSlot = Number.NaN;
  #cached = { current: '', previous: '' };

  constructor(secret: string | undefined, lifetime: number) {
    this.#secret = secret === undefined ? randomBytes(32) : Buffer.from(secret);
    this.#lifetime = lifetime;
  }

  #forSlot(slot: number): string {
    return createHmac('sha256', this.#secret).update(`gatehouse/dpop-nonce/${slot}`).digest('base64url');
  }

  #slots(now: number): { current: string; previous: string } {
    const slot = Math.floor(now / this.#lifetime);
    if (slot !== this.#cachedSlot) {
      this.#cachedSlot = slot;
      this.#cached = { current: this.#forSlot(slot), previous: this.#forSlot(slot - 1) };
    }
    return this.#cached;
  }

  /** The nonce to send now in `DPoP-Nonce`. */
  current(now: number): string {
    return this.#slots(now).current;
  }

  /** True for the current nonce and the one before it. */
  accepts(nonce: string, now: number): boolean {
    const { current, previous } = this.#slots(now);
    return constantTimeEqual(nonce, current) || constantTimeEqual(nonce, previous);
  }
}

export interface DpopSettings {
  algorithms: readonly JwsAlgorithm[];
  /** Seconds after its `iat` a proof is accepted. */
  proofMaxAge: number;
  /** Seconds an `iat` may be ahead of the server clock. */
  clockSkew: number;
  /** Present when every proof must carry a server nonce. */
  nonces: DpopNonces | undefined;
  replay: ReplayCache;
}

export interface DpopRequest {
  /** Every `DPoP` header line received, as sent (RFC 9449 §4.3 point 1 wants exactly one). */
  headers: readonly string[];
  /** The HTTP method of the request. */
  method: string;
  /** The endpoint's URL as the client addresses it (no query). */
  url: string;
  /** The access token presented with the proof (userinfo and other protected resources, §7.1). */
  accessToken?: string | undefined;
  /** The `cnf.jkt` of that access token, checked before the proof's jti is spent. */
  jkt?: string | undefined;
  now: number;
}

export interface VerifiedDpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key (`cnf.jkt`, `dpop_jkt`). */
  jkt: string;
  jti: string;
  iat: number;
  /** The proof's signing algorithm (profiles narrow the accepted list per client, protocol/profile.ts). */
  alg: JwsAlgorithm;
}

/** The error and description the server answers each refusal with. */
const refusals: Record<DpopFailure, [OAuthErrorCode, string]> = {
  missing: ['invalid_dpop_proof', 'exactly one DPoP header is required'],
  multiple: ['invalid_dpop_proof', 'exactly one DPoP header is required'],
  too_large: ['invalid_dpop_proof', 'the DPoP proof is too large'],
  joined: ['invalid_dpop_proof', 'the DPoP proof is not a compact JWS'],
  not_jws: ['invalid_dpop_proof', 'the DPoP proof is not a compact JWS'],
  payload: ['invalid_dpop_proof', 'the DPoP proof payload is not a JSON object'],
  header: ['invalid_dpop_proof', 'the DPoP proof header is not a JSON object'],
  typ: ['invalid_dpop_proof', 'the DPoP proof typ must be dpop+jwt'],
  alg: ['invalid_dpop_proof', 'the DPoP proof alg is not an accepted asymmetric algorithm'],
  crit: ['invalid_dpop_proof', 'the DPoP proof has unsupported critical header parameters'],
  jwk_missing: ['invalid_dpop_proof', 'the DPoP proof needs a jwk header'],
  jwk_private: ['invalid_dpop_proof', 'the DPoP proof jwk must be a public key'],
  jwk_unusable: ['invalid_dpop_proof', 'the DPoP proof jwk is not a usable public key'],
  jwk_alg_mismatch: ['invalid_dpop_proof', 'the DPoP proof jwk does not fit its alg'],
  signature: ['invalid_dpop_proof', 'the DPoP proof signature is invalid'],
  jti: ['invalid_dpop_proof', 'the DPoP proof needs a jti'],
  htm_missing: ['invalid_dpop_proof', 'the DPoP proof needs htm'],
  htu_missing: ['invalid_dpop_proof', 'the DPoP proof needs htu'],
  iat_missing: ['invalid_dpop_proof', 'the DPoP proof needs a numeric iat'],
  nonce_missing: ['use_dpop_nonce', 'a DPoP nonce is required'],
  nonce_stale: ['use_dpop_nonce', 'the DPoP nonce is not current'],
  htm: ['invalid_dpop_proof', 'the DPoP proof htm does not match the request method'],
  htu_query: ['invalid_dpop_proof', 'the DPoP proof htu must not have a query or fragment'],
  htu: ['invalid_dpop_proof', 'the DPoP proof htu does not match the request URI'],
  ath_missing: ['invalid_dpop_proof', 'the DPoP proof needs ath with an access token'],
  ath: ['invalid_dpop_proof', 'the DPoP proof ath does not match the access token'],
  iat_window: ['invalid_dpop_proof', 'the DPoP proof iat is outside the acceptance window'],
  binding: ['invalid_token', 'the DPoP proof key is not the key the access token is bound to'],
  replay: ['invalid_dpop_proof', 'the DPoP proof was already used'],
};

/** Verifies DPoP proofs with the server's settings; one instance per server (it caches imported keys). */
export class DpopVerifier {
  readonly #checker: DpopProofChecker;

  constructor(readonly settings: DpopSettings) {
    const { proofMaxAge, replay } = settings;
    this.#checker = new DpopProofChecker({
      algorithms: settings.algorithms,
      maxAge: proofMaxAge,
      skew: settings.clockSkew,
      nonces: settings.nonces,
      firstUse: (proof, now) =>
        replay.firstUse(
          `dpop:${createHash('sha256').update(`${proof.jkt}\u0000${proof.jti}`).digest('base64url')}`,
          Math.floor(proof.iat) + proofMaxAge + 1,
          now,
        ),
    });
  }

  /** The `DPoP-Nonce` value to send now, when nonces are required. */
  currentNonce(now: number): string | undefined {
    return this.settings.nonces?.current(now);
  }

  /**
   * Checks one request's proof; throws `invalid_dpop_proof` (or `use_dpop_nonce`) with status 400 at the
   * token endpoint and /par, 401 with a DPoP challenge at a protected resource (RFC 9449 §5, §7.1, §9).
   */
  async verify(request: DpopRequest): Promise<VerifiedDpopProof> {
    const result = await this.#checker.check({
      proofs: request.headers,
      method: request.method,
      url: request.url,
      accessToken: request.accessToken,
      jkt: request.jkt,
      now: request.now,
    });
    if (result.ok) return result.proof;
    const [error, description] = refusals[result.failure];
    throw new OAuthError(
      error,
      description,
      request.accessToken !== undefined ? { status: 401, challenge: 'DPoP' } : {},
    );
  }
}

/** RFC 9449 §10: a `dpop_jkt` value is a base64url SHA-256 thumbprint (43 characters). */
export function isThumbprint(value: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(value);
}

/**
 * The `DPoP` header lines of a request from Node's raw header list (name, value, name, value, ...), matched
 * case-insensitively. Node would join repeated lines with a comma, which hides that two were sent.
 */
export function dpopHeaderValues(rawHeaders: readonly string[]): string[] {
  const values: string[] = [];
  for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
    if (rawHeaders[index]!.toLowerCase() === 'dpop') values.push(rawHeaders[index + 1]!);
  }
  return values;
}
