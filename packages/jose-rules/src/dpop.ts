/**
 * DPoP proof checks (RFC 9449 §4.3), in its order: exactly one proof (point 1); a well-formed compact JWS
 * (point 2) with the required header parameters and claims (point 3); `typ` is `dpop+jwt` (point 4);
 * `alg` asymmetric and in the caller's allow-list (point 5); the `jwk` a public key (point 7) of the type
 * of `alg`, which verifies the signature (point 6); a current server nonce when the caller requires one
 * (point 10, §9); `htm` and `htu` match the request (points 8-9, htu.ts); `ath` is the hash of the access
 * token presented with the proof (point 11, §7.1); `iat` inside the acceptance window (point 11, §11.1);
 * the key is the one the access token is bound to (§7.1, when the caller names it); and last the `jti`
 * is spent through the caller's replay check (§11.1), so a proof refused for another reason keeps it.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { isJwsAlgorithm, type JwsAlgorithm, keyFitsAlgorithm } from './algorithms.ts';
import { constantTimeEqual } from './compare.ts';
import { checkHtu } from './htu.ts';
import {
  decodeBase64Url,
  decodeJsonObject,
  isBase64Url,
  parseJsonObject,
  splitCompactJws,
  verifySignature,
} from './jws.ts';
import { thumbprintMembers, thumbprintOf } from './thumbprint.ts';

/** Why a proof was refused; each package words its own error for each. */
export type DpopFailure =
  | 'missing'
  | 'multiple'
  | 'too_large'
  | 'joined'
  | 'not_jws'
  | 'payload'
  | 'header'
  | 'typ'
  | 'alg'
  | 'crit'
  | 'jwk_missing'
  | 'jwk_private'
  | 'jwk_unusable'
  | 'jwk_alg_mismatch'
  | 'signature'
  | 'jti'
  | 'htm_missing'
  | 'htu_missing'
  | 'iat_missing'
  | 'nonce_missing'
  | 'nonce_stale'
  | 'htm'
  | 'htu_query'
  | 'htu'
  | 'ath_missing'
  | 'ath'
  | 'iat_window'
  | 'binding'
  | 'replay';

/** Server-provided nonces (RFC 9449 §8, §9). */
export interface DpopNonceCheck {
  accepts(nonce: string, now: number): boolean;
}

/** A proof that passed every check. */
export interface DpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key (`cnf.jkt`, `dpop_jkt`). */
  jkt: string;
  jti: string;
  iat: number;
  alg: JwsAlgorithm;
}

export interface DpopRules {
  /** The algorithms accepted (point 5), from `jwsAlgorithms`. */
  algorithms: readonly JwsAlgorithm[];
  /** Seconds an `iat` may lie before the time of the check. */
  maxAge: number;
  /** Seconds an `iat` may lie after it (clock skew). */
  skew: number;
  /** Present when every proof must carry a current server nonce. */
  nonces?: DpopNonceCheck | undefined;
  /** Records the proof's `jti` (§11.1); true the first time it is seen inside its window. */
  firstUse(proof: DpopProof, now: number): boolean | Promise<boolean>;
}

export interface DpopInput {
  /** Every `DPoP` header line received, as sent. */
  proofs: readonly string[];
  /** The HTTP method of the request. */
  method: string;
  /** The request's absolute URL as the client addresses it; its query is ignored. */
  url: string;
  /** The access token presented with the proof: `ath` is then required. */
  accessToken?: string | undefined;
  /** The `cnf.jkt` of that access token: the proof's key must be that key. */
  jkt?: string | undefined;
  now: number;
}

export type DpopResult = { ok: true; proof: DpopProof } | { ok: false; failure: DpopFailure };

/** RFC 9449 §4.2: `ath` is the base64url SHA-256 of the access token's ASCII bytes. */
export function dpopAccessTokenHash(accessToken: string): string {
  return createHash('sha256').update(accessToken).digest('base64url');
}

interface ProofKey {
  alg: JwsAlgorithm;
  key: KeyObject;
  jkt: string;
}

const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const maxProofLength = 8192;
const keyCacheLimit = 10_000;

const refuse = (failure: DpopFailure): DpopResult => ({ ok: false, failure });

/**
 * Checks proofs against one set of rules. Keys are imported once per distinct protected header (a client
 * reuses its key, so its proofs share one header), so keep one checker per rule set.
 */
export class DpopProofChecker {
  readonly #keys = new Map<string, ProofKey>();

  constructor(readonly rules: DpopRules) {}

  async check(input: DpopInput): Promise<DpopResult> {
    if (input.proofs.length !== 1) return refuse(input.proofs.length === 0 ? 'missing' : 'multiple');
    const proof = input.proofs[0]!;
    if (proof.length > maxProofLength) return refuse('too_large');
    if (proof.includes(',')) return refuse('joined');
    const segments = splitCompactJws(proof);
    // An empty signature passes here, so that `alg: none` is refused by name below.
    if (segments === undefined || !isBase64Url(segments.header)) return refuse('not_jws');
    const payloadBytes = decodeBase64Url(segments.payload);
    const signature = decodeBase64Url(segments.signature);
    if (payloadBytes === undefined || signature === undefined) return refuse('not_jws');
    const payload = parseJsonObject(payloadBytes);
    if (payload === undefined) return refuse('payload');
    const key = this.#keyFor(segments.header);
    if (typeof key === 'string') return refuse(key);
    if (!verifySignature(key.alg, key.key, Buffer.from(segments.signingInput), signature))
      return refuse('signature');
    const failure = this.#claimsFailure(payload, input);
    if (failure !== undefined) return refuse(failure);
    if (input.jkt !== undefined && input.jkt !== key.jkt) return refuse('binding');
    const verified: DpopProof = {
      jkt: key.jkt,
      jti: payload.jti as string,
      iat: payload.iat as number,
      alg: key.alg,
    };
    if (!(await this.rules.firstUse(verified, input.now))) return refuse('replay');
    return { ok: true, proof: verified };
  }

  /** The first claim of points 3 and 8-11 the payload fails, in the order of §4.3. */
  #claimsFailure(payload: Record<string, unknown>, input: DpopInput): DpopFailure | undefined {
    const { jti, htm, htu, iat, ath, nonce } = payload;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256) return 'jti';
    if (typeof htm !== 'string') return 'htm_missing';
    if (typeof htu !== 'string') return 'htu_missing';
    if (typeof iat !== 'number' || !Number.isFinite(iat)) return 'iat_missing';
    const nonces = this.rules.nonces;
    if (nonces !== undefined && (typeof nonce !== 'string' || !nonces.accepts(nonce, input.now)))
      return nonce === undefined ? 'nonce_missing' : 'nonce_stale';
    if (htm !== input.method) return 'htm';
    const htuFailure = checkHtu(htu, input.url);
    if (htuFailure !== undefined) return htuFailure === 'query' ? 'htu_query' : 'htu';
    if (input.accessToken !== undefined) {
      if (ath === undefined) return 'ath_missing';
      if (typeof ath !== 'string' || !constantTimeEqual(ath, dpopAccessTokenHash(input.accessToken)))
        return 'ath';
    }
    if (iat > input.now + this.rules.skew || iat < input.now - this.rules.maxAge) return 'iat_window';
    return undefined;
  }

  /** Checks the protected header (points 3-5, 7) and imports its key, cached per encoded header. */
  #keyFor(encodedHeader: string): ProofKey | DpopFailure {
    const cached = this.#keys.get(encodedHeader);
    if (cached !== undefined) return cached;
    const header = decodeJsonObject(encodedHeader);
    if (header === undefined) return 'header';
    if (header.typ !== 'dpop+jwt') return 'typ';
    const alg = header.alg;
    if (!isJwsAlgorithm(alg) || !this.rules.algorithms.includes(alg)) return 'alg';
    if (header.crit !== undefined) return 'crit';
    const jwk = header.jwk;
    if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk)) return 'jwk_missing';
    const members = jwk as Record<string, unknown>;
    if (privateMembers.some((member) => member in members)) return 'jwk_private';
    const canonical = thumbprintMembers(members);
    if (canonical === undefined) return 'jwk_unusable';
    let key: KeyObject;
    try {
      key = createPublicKey({ key: canonical as { kty: string }, format: 'jwk' });
    } catch {
      return 'jwk_unusable';
    }
    if (!keyFitsAlgorithm(alg, key)) return 'jwk_alg_mismatch';
    const entry: ProofKey = { alg, key, jkt: thumbprintOf(canonical) };
    if (this.#keys.size >= keyCacheLimit) this.#keys.clear();
    this.#keys.set(encodedHeader, entry);
    return entry;
  }
}
