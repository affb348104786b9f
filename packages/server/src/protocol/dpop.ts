/**
 * DPoP proofs at the authorization server (RFC 9449): the checks of §4.3 for a proof sent to the token
 * endpoint, to /par (§10.1) or, with the access token it accompanies, to userinfo (§7.1), and stateless
 * server-provided nonces (§8, §9).
 *
 * The checks, in the order of §4.3: exactly one `DPoP` header (point 1); a well-formed compact JWS
 * (point 2) with every required header and claim (point 3: `typ`, `alg`, `jwk`; `jti`, `htm`, `htu`,
 * `iat`, plus `ath` with an access token and `nonce` when nonces are required); `typ` is `dpop+jwt`
 * (point 4); `alg` is asymmetric and in the configured allow-list, so never `none` or HS* (point 5); the
 * `jwk` is a public key, a private one is refused (point 7), and the signature verifies with it
 * (point 6); a current server nonce when required (point 10); `htm` (point 8) and `htu` (point 9) match
 * the request; `ath` is the hash of the access token (point 11); `iat` lies within the acceptance window
 * (point 11 and §11.1); and the `jti` was never seen inside that window (§11.1, through the shared replay
 * cache under the `dpop:` prefix, last, so a proof that fails another check does not use up its jti).
 *
 * `htu` is compared after RFC 3986 §6.2.2 normalisation (scheme and host case, default port, dot
 * segments, percent-encoding case and unreserved characters) with the endpoint's URL as the client sees it
 * (built from the issuer, never from the Host header). An `htu` that itself carries a query or fragment is
 * refused: §4.2 defines `htu` as the URI "without query and fragment parts", and a client that sends one
 * is not following it (the stricter reading).
 *
 * Signatures are verified with node:crypto; keys are imported once per distinct proof header (a client
 * reuses one key, so its proofs share one header) and the RFC 7638 thumbprint is computed by jose.
 */
import {
  createHash,
  createHmac,
  createPublicKey,
  type JsonWebKey,
  type KeyObject,
  randomBytes,
  verify,
} from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { DpopAlgorithm } from '../config/schema.ts';
import { OAuthError } from './errors.ts';
import type { ReplayCache } from './replay-cache.ts';
import { constantTimeEqual, sha256Base64Url } from './secrets.ts';

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
  algorithms: readonly DpopAlgorithm[];
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
  now: number;
}

export interface VerifiedDpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key (`cnf.jkt`, `dpop_jkt`). */
  jkt: string;
  jti: string;
  iat: number;
  /** The proof's signing algorithm (profiles narrow the accepted list per client, protocol/profile.ts). */
  alg: DpopAlgorithm;
}

interface ProofKey {
  alg: DpopAlgorithm;
  key: KeyObject;
  jkt: string;
}

const privateMembers = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const segment = /^[A-Za-z0-9_-]+$/;
const maxProofLength = 8192;
const keyCacheLimit = 10_000;

function decodeJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

const unreserved = /^[A-Za-z0-9\-._~]$/;

/**
 * An http(s) URI normalised per RFC 3986 §6.2.2 (case, percent-encoding, dot segments) and §6.2.3 (default
 * port, empty path), without query and fragment; undefined when it is not an absolute http(s) URI or
 * carries credentials.
 */
export function normalizeHtu(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' || url.password !== '')
    return undefined;
  const path = url.pathname.replace(/%[0-9A-Fa-f]{2}/g, (encoded) => {
    const character = String.fromCharCode(Number.parseInt(encoded.slice(1), 16));
    return unreserved.test(character) ? character : encoded.toUpperCase();
  });
  return `${url.protocol}//${url.host}${path}`;
}

/** Whether the public key can sign with `alg` (curve or key size), per RFC 7518 §3. */
function keyFits(alg: DpopAlgorithm, key: KeyObject): boolean {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails;
  switch (alg) {
    case 'ES256':
      return type === 'ec' && details?.namedCurve === 'prime256v1';
    case 'ES384':
      return type === 'ec' && details?.namedCurve === 'secp384r1';
    case 'ES512':
      return type === 'ec' && details?.namedCurve === 'secp521r1';
    case 'RS256':
    case 'RS384':
    case 'RS512':
    case 'PS256':
    case 'PS384':
    case 'PS512':
      return type === 'rsa' && (details?.modulusLength ?? 0) >= 2048;
    case 'EdDSA':
      return type === 'ed25519' || type === 'ed448';
  }
}

function verifySignature(alg: DpopAlgorithm, key: KeyObject, input: string, signature: Buffer): boolean {
  const data = Buffer.from(input);
  const hash = alg === 'EdDSA' ? null : `sha${alg.slice(2)}`;
  try {
    if (alg.startsWith('ES')) return verify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    if (alg.startsWith('PS'))
      return verify(hash, data, { key, padding: 6, saltLength: Number(alg.slice(2)) / 8 }, signature);
    return verify(hash, data, key, signature);
  } catch {
    return false;
  }
}

/** Verifies DPoP proofs with the server's settings; one instance per server (it caches imported keys). */
export class DpopVerifier {
  readonly #keys = new Map<string, ProofKey>();

  constructor(readonly settings: DpopSettings) {}

  /** The `DPoP-Nonce` value to send now, when nonces are required. */
  currentNonce(now: number): string | undefined {
    return this.settings.nonces?.current(now);
  }

  /**
   * Checks one request's proof; throws `invalid_dpop_proof` (or `use_dpop_nonce`) with status 400 at the
   * token endpoint and /par, 401 with a DPoP challenge at a protected resource (RFC 9449 §5, §7.1, §9).
   */
  async verify(request: DpopRequest): Promise<VerifiedDpopProof> {
    const atResource = request.accessToken !== undefined;
    const fail = (
      description: string,
      error: 'invalid_dpop_proof' | 'use_dpop_nonce' = 'invalid_dpop_proof',
    ) => new OAuthError(error, description, atResource ? { status: 401, challenge: 'DPoP' } : {});

    if (request.headers.length !== 1) throw fail('exactly one DPoP header is required');
    const proof = request.headers[0]!;
    if (proof.length > maxProofLength) throw fail('the DPoP proof is too large');
    const parts = proof.split('.');
    const [encodedHeader = '', encodedPayload = '', encodedSignature = ''] = parts;
    // An empty signature is let through here so that `alg: none` is refused by name below.
    if (
      parts.length !== 3 ||
      !segment.test(encodedHeader) ||
      !segment.test(encodedPayload) ||
      !/^[A-Za-z0-9_-]*$/.test(encodedSignature)
    )
      throw fail('the DPoP proof is not a compact JWS');
    const payload = decodeJson(encodedPayload);
    if (payload === undefined) throw fail('the DPoP proof payload is not a JSON object');
    const key = await this.#keyFor(encodedHeader, fail);
    if (
      !verifySignature(
        key.alg,
        key.key,
        `${encodedHeader}.${encodedPayload}`,
        Buffer.from(encodedSignature, 'base64url'),
      )
    )
      throw fail('the DPoP proof signature is invalid');

    const { jti, htm, htu, iat, ath, nonce } = payload;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > 256)
      throw fail('the DPoP proof needs a jti');
    if (typeof htm !== 'string') throw fail('the DPoP proof needs htm');
    if (typeof htu !== 'string') throw fail('the DPoP proof needs htu');
    if (typeof iat !== 'number' || !Number.isFinite(iat)) throw fail('the DPoP proof needs a numeric iat');
    const nonces = this.settings.nonces;
    if (nonces !== undefined && (typeof nonce !== 'string' || !nonces.accepts(nonce, request.now)))
      throw fail(
        nonce === undefined ? 'a DPoP nonce is required' : 'the DPoP nonce is not current',
        'use_dpop_nonce',
      );
    if (htm !== request.method) throw fail('the DPoP proof htm does not match the request method');
    if (htu.includes('?') || htu.includes('#'))
      throw fail('the DPoP proof htu must not have a query or fragment');
    const normalized = normalizeHtu(htu);
    if (normalized === undefined || normalized !== normalizeHtu(request.url))
      throw fail('the DPoP proof htu does not match the request URI');
    if (request.accessToken !== undefined) {
      if (ath === undefined) throw fail('the DPoP proof needs ath with an access token');
      if (typeof ath !== 'string' || !constantTimeEqual(ath, sha256Base64Url(request.accessToken)))
        throw fail('the DPoP proof ath does not match the access token');
    }
    const { proofMaxAge, clockSkew } = this.settings;
    if (iat > request.now + clockSkew || iat < request.now - proofMaxAge)
      throw fail('the DPoP proof iat is outside the acceptance window');
    const replayKey = `dpop:${createHash('sha256').update(`${key.jkt}\u0000${jti}`).digest('base64url')}`;
    if (!(await this.settings.replay.firstUse(replayKey, Math.floor(iat) + proofMaxAge + 1, request.now)))
      throw fail('the DPoP proof was already used');
    return { jkt: key.jkt, jti, iat, alg: key.alg };
  }

  /** Validates the protected header and imports its key (cached per encoded header). */
  async #keyFor(encodedHeader: string, fail: (description: string) => OAuthError): Promise<ProofKey> {
    const cached = this.#keys.get(encodedHeader);
    if (cached !== undefined) return cached;
    const header = decodeJson(encodedHeader);
    if (header === undefined) throw fail('the DPoP proof header is not a JSON object');
    if (header.typ !== 'dpop+jwt') throw fail('the DPoP proof typ must be dpop+jwt');
    const alg = header.alg;
    if (typeof alg !== 'string' || !this.settings.algorithms.includes(alg as DpopAlgorithm))
      throw fail('the DPoP proof alg is not an accepted asymmetric algorithm');
    if (header.crit !== undefined) throw fail('the DPoP proof has unsupported critical header parameters');
    const jwk = header.jwk;
    if (jwk === null || typeof jwk !== 'object' || Array.isArray(jwk))
      throw fail('the DPoP proof needs a jwk header');
    const members = jwk as Record<string, unknown>;
    if (privateMembers.some((member) => member in members))
      throw fail('the DPoP proof jwk must be a public key');
    let key: KeyObject;
    try {
      key = createPublicKey({ key: members as JsonWebKey, format: 'jwk' });
    } catch {
      throw fail('the DPoP proof jwk is not a usable public key');
    }
    if (key.type !== 'public' || !keyFits(alg as DpopAlgorithm, key))
      throw fail('the DPoP proof jwk does not fit its alg');
    const jkt = await calculateJwkThumbprint(members as JWK, 'sha256');
    const entry: ProofKey = { alg: alg as DpopAlgorithm, key, jkt };
    if (this.#keys.size >= keyCacheLimit) this.#keys.clear();
    this.#keys.set(encodedHeader, entry);
    return entry;
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
