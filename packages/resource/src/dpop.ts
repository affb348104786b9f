/**
 * DPoP proof verification at a resource server (RFC 9449 §7.1) with the shared checks of RFC 9449 §4.3
 * (@gatehouse/jose-rules): exactly one `DPoP` header holding a `dpop+jwt` signed with the public key in its
 * `jwk` header, `htm` and `htu` matching the request (the request's query ignored; an `htu` with a query,
 * fragment or credentials refused), `iat` within the acceptance window, `ath` the hash of the access
 * token, the key's RFC 7638 thumbprint equal to the token's `cnf.jkt` (§6.1), a `jti` seen once (§11.1),
 * and, when the resource server requires them, a current server nonce (§9, §8.1).
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { constantTimeEqual, type DpopFailure, DpopProofChecker, jwkThumbprint } from '@gatehouse/jose-rules';
import { AuthError, type AuthErrorCode, type AuthErrorKind } from './errors.ts';
import type { JwsAlgorithm } from './jws.ts';
import type { ReplayStore } from './replay.ts';

export { jwkThumbprint };

/** Server-provided DPoP nonces (RFC 9449 §9). */
export interface DpopNonceSource {
  /** The nonce to hand out now (in a `DPoP-Nonce` header). */
  current(now: number): string;
  /** Whether a nonce presented in a proof is still accepted. */
  accepts(nonce: string, now: number): boolean;
}

/**
 * Stateless nonces: an HMAC of the current time window, so every instance sharing the secret accepts the
 * same nonces and no store is needed. A nonce is accepted during its window and the next one.
 */
export class HmacNonceSource implements DpopNonceSource {
  private readonly secret: Buffer;

  /**
   * @param options.secret shared by every instance of the API (random per process by default).
   * @param options.window seconds a nonce is handed out for (default 300).
   */
  constructor(options: { secret?: string | Buffer; window?: number } = {}) {
    this.secret =
      options.secret === undefined ? randomBytes(32) : Buffer.from(options.secret as string | Buffer);
    this.window = options.window ?? 300;
  }

  private readonly window: number;

  private nonceFor(window: number): string {
    const prefix = window.toString(36);
    const mac = createHmac('sha256', this.secret).update(prefix).digest('base64url').slice(0, 22);
    return `${prefix}.${mac}`;
  }

  current(now: number): string {
    return this.nonceFor(Math.floor(now / this.window));
  }

  accepts(nonce: string, now: number): boolean {
    const window = Math.floor(now / this.window);
    return [window, window - 1].some((candidate) => constantTimeEqual(this.nonceFor(candidate), nonce));
  }
}

export interface DpopSettings {
  algorithms: readonly JwsAlgorithm[];
  /** Seconds a proof is accepted after its `iat` (the clock skew is added on both sides). */
  proofMaxAge: number;
  skew: number;
  replayStore: ReplayStore;
  nonces: DpopNonceSource | undefined;
}

export interface DpopProofInput {
  /** The `DPoP` header value(s) as received. */
  proof: string | readonly string[] | undefined;
  method: string;
  /** The request's absolute URL. */
  url: string;
  accessToken: string;
  /** The token's `cnf.jkt`. */
  jkt: string;
  now: number;
}

/** Each refusal as this library words it: the error, its log code and its description. */
const refusals: Record<DpopFailure, [AuthErrorKind, AuthErrorCode, string]> = {
  missing: ['invalid_dpop_proof', 'dpop_missing', 'a DPoP proof is required'],
  multiple: ['invalid_dpop_proof', 'dpop_invalid', 'exactly one DPoP proof is allowed'],
  too_large: ['invalid_dpop_proof', 'dpop_invalid', 'the DPoP proof is malformed'],
  joined: ['invalid_dpop_proof', 'dpop_invalid', 'the DPoP proof is malformed'],
  not_jws: ['invalid_dpop_proof', 'dpop_invalid', 'the DPoP proof is not a well-formed JWS'],
  payload: ['invalid_dpop_proof', 'dpop_invalid', 'the DPoP proof is not a well-formed JWS'],
  header: ['invalid_dpop_proof', 'dpop_invalid', 'the DPoP proof is not a well-formed JWS'],
  typ: ['invalid_dpop_proof', 'dpop_invalid', 'the DPoP proof typ must be dpop+jwt'],
  alg: ['invalid_dpop_proof', 'dpop_invalid', 'the DPoP proof alg is not accepted'],
  crit: ['invalid_dpop_proof', 'dpop_invalid', 'the DPoP proof has unsupported critical headers'],
  jwk_missing: ['invalid_dpop_proof', 'dpop_invalid', 'the DPoP proof has no jwk header'],
  jwk_private: ['invalid_dpop_proof', 'dpop_invalid', 'the DPoP proof jwk must be a public key'],
  jwk_unusable: ['invalid_dpop_proof', 'dpop_invalid', 'the DPoP proof jwk is not a usable key for its alg'],
  jwk_alg_mismatch: [
    'invalid_dpop_proof',
    'dpop_invalid',
    'the DPoP proof jwk is not a usable key for its alg',
  ],
  signature: ['invalid_dpop_proof', 'dpop_invalid', 'the DPoP proof signature is invalid'],
  jti: ['invalid_dpop_proof', 'dpop_invalid', 'the DPoP proof jti is missing'],
  htm_missing: ['invalid_dpop_proof', 'dpop_invalid', 'the DPoP proof htm does not match the request'],
  htm: ['invalid_dpop_proof', 'dpop_invalid', 'the DPoP proof htm does not match the request'],
  htu_missing: ['invalid_dpop_proof', 'dpop_invalid', 'the DPoP proof htu does not match the request'],
  htu: ['invalid_dpop_proof', 'dpop_invalid', 'the DPoP proof htu does not match the request'],
  htu_query: ['invalid_dpop_proof', 'dpop_invalid', 'the DPoP proof htu must not have a query or fragment'],
  iat_missing: ['invalid_dpop_proof', 'dpop_invalid', 'the DPoP proof iat is missing'],
  iat_window: ['invalid_dpop_proof', 'dpop_invalid', 'the DPoP proof iat is outside the acceptance window'],
  ath_missing: ['invalid_dpop_proof', 'dpop_invalid', 'the DPoP proof ath does not match the access token'],
  ath: ['invalid_dpop_proof', 'dpop_invalid', 'the DPoP proof ath does not match the access token'],
  binding: ['invalid_token', 'dpop_binding', 'the DPoP proof key is not the key the token is bound to'],
  nonce_missing: ['use_dpop_nonce', 'dpop_nonce', 'a DPoP nonce from this resource server is required'],
  nonce_stale: ['use_dpop_nonce', 'dpop_nonce', 'a DPoP nonce from this resource server is required'],
  replay: ['invalid_dpop_proof', 'dpop_replay', 'the DPoP proof was already used'],
};

/** One checker (and so one key cache) per verifier's settings. */
const checkers = new WeakMap<DpopSettings, DpopProofChecker>();

function checkerFor(settings: DpopSettings): DpopProofChecker {
  let checker = checkers.get(settings);
  if (checker === undefined) {
    checker = new DpopProofChecker({
      algorithms: settings.algorithms,
      maxAge: settings.proofMaxAge + settings.skew,
      skew: settings.skew,
      nonces: settings.nonces,
      firstUse: (proof, now) =>
        settings.replayStore.claim(
          createHash('sha256').update(`${proof.jkt}\n${proof.jti}`).digest('base64url'),
          proof.iat + settings.proofMaxAge + settings.skew,
          now,
        ),
    });
    checkers.set(settings, checker);
  }
  return checker;
}

/** Verifies a DPoP proof for a DPoP-bound access token; throws AuthError. */
export async function verifyDpopProof(input: DpopProofInput, settings: DpopSettings): Promise<void> {
  const result = await checkerFor(settings).check({
    proofs: typeof input.proof === 'string' ? [input.proof] : (input.proof ?? []),
    method: input.method,
    url: input.url,
    accessToken: input.accessToken,
    jkt: input.jkt,
    now: input.now,
  });
  if (!result.ok) throw new AuthError(...refusals[result.failure]);
}
