/**
 * DPoP proof verification (RFC 9449 §4.3 and §7.1): exactly one `DPoP` header holding a `dpop+jwt` signed
 * with the public key in its `jwk` header (never a private key), with `htm` and `htu` matching the request
 * (query and fragment ignored, §4.3 point 9), `iat` within the acceptance window, `ath` the hash of the
 * access token (§4.2), the key's RFC 7638 thumbprint equal to the token's `cnf.jkt` (§6.1), a `jti`
 * seen once (§11.1), and, when the resource server requires them, a current server nonce (§9, §8.1).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { AuthError } from './errors.ts';
import { importJwk } from './jwks.ts';
import {
  isSupportedAlgorithm,
  type JwsAlgorithm,
  keyMatchesAlgorithm,
  normalizeMediaType,
  parseCompactJws,
  verifySignature,
} from './jws.ts';
import type { ReplayStore } from './replay.ts';

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
    const presented = Buffer.from(nonce);
    return [window, window - 1].some((candidate) => {
      const expected = Buffer.from(this.nonceFor(candidate));
      return expected.length === presented.length && timingSafeEqual(expected, presented);
    });
  }
}

/** RFC 7638 §3.2 thumbprint members, in lexicographic order, per key type. */
const thumbprintMembers: Record<string, readonly string[]> = {
  EC: ['crv', 'kty', 'x', 'y'],
  RSA: ['e', 'kty', 'n'],
  OKP: ['crv', 'kty', 'x'],
};

/** The RFC 7638 SHA-256 thumbprint of a public JWK, base64url; undefined for an unusable JWK. */
export function jwkThumbprint(jwk: Record<string, unknown>): string | undefined {
  const members = typeof jwk.kty === 'string' ? thumbprintMembers[jwk.kty] : undefined;
  if (members === undefined) return undefined;
  const canonical: Record<string, unknown> = {};
  for (const member of members) {
    if (typeof jwk[member] !== 'string') return undefined;
    canonical[member] = jwk[member];
  }
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url');
}

/** RFC 9449 §4.3 point 9: scheme and authority compared case-insensitively, default ports dropped. */
export function normalizeHtu(value: string): string | undefined {
  try {
    const url = new URL(value);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return undefined;
  }
}

export interface DpopSettings {
  algorithms: readonly JwsAlgorithm[];
  /** Seconds a proof is accepted after its `iat`. */
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

const maxProofLength = 8192;

const proofError = (
  description: string,
  code: 'dpop_missing' | 'dpop_invalid' | 'dpop_replay' = 'dpop_invalid',
) => new AuthError('invalid_dpop_proof', code, description);

/** Verifies a DPoP proof for a DPoP-bound access token; throws AuthError. */
export async function verifyDpopProof(input: DpopProofInput, settings: DpopSettings): Promise<void> {
  const proofs = typeof input.proof === 'string' ? [input.proof] : (input.proof ?? []);
  if (proofs.length === 0) throw proofError('a DPoP proof is required', 'dpop_missing');
  if (proofs.length > 1) throw proofError('exactly one DPoP proof is allowed');
  const proof = proofs[0]!;
  if (proof.length > maxProofLength || proof.includes(',')) throw proofError('the DPoP proof is malformed');
  let parsed: ReturnType<typeof parseCompactJws>;
  try {
    parsed = parseCompactJws(proof);
  } catch {
    throw proofError('the DPoP proof is not a well-formed JWS');
  }
  const { header, payload } = parsed;
  if (typeof header.typ !== 'string' || normalizeMediaType(header.typ) !== 'dpop+jwt') {
    throw proofError('the DPoP proof typ must be dpop+jwt');
  }
  if (!isSupportedAlgorithm(header.alg) || !settings.algorithms.includes(header.alg)) {
    throw proofError('the DPoP proof alg is not accepted');
  }
  if (header.crit !== undefined) throw proofError('the DPoP proof has unsupported critical headers');
  const jwk = header.jwk;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
    throw proofError('the DPoP proof has no jwk header');
  }
  const jwkRecord = jwk as Record<string, unknown>;
  if (['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'].some((member) => member in jwkRecord)) {
    throw proofError('the DPoP proof jwk must be a public key');
  }
  const key = importJwk({ ...jwkRecord, use: undefined, key_ops: undefined, kid: undefined, alg: undefined });
  if (key === undefined || !keyMatchesAlgorithm(key, header.alg)) {
    throw proofError('the DPoP proof jwk is not a usable key for its alg');
  }
  if (!verifySignature(header.alg, key.key, parsed.signingInput, parsed.signature)) {
    throw proofError('the DPoP proof signature is invalid');
  }
  if (typeof payload.jti !== 'string' || payload.jti.length === 0 || payload.jti.length > 256) {
    throw proofError('the DPoP proof jti is missing');
  }
  if (payload.htm !== input.method) throw proofError('the DPoP proof htm does not match the request');
  const htu = typeof payload.htu === 'string' ? normalizeHtu(payload.htu) : undefined;
  if (htu === undefined || htu !== normalizeHtu(input.url)) {
    throw proofError('the DPoP proof htu does not match the request');
  }
  const iat = payload.iat;
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw proofError('the DPoP proof iat is missing');
  if (iat > input.now + settings.skew || iat < input.now - settings.proofMaxAge - settings.skew) {
    throw proofError('the DPoP proof iat is outside the acceptance window');
  }
  const ath = createHash('sha256').update(input.accessToken).digest('base64url');
  if (payload.ath !== ath) throw proofError('the DPoP proof ath does not match the access token');
  if (jwkThumbprint(jwkRecord) !== input.jkt) {
    throw new AuthError(
      'invalid_token',
      'dpop_binding',
      'the DPoP proof key is not the key the token is bound to',
    );
  }
  if (settings.nonces !== undefined) {
    if (typeof payload.nonce !== 'string' || !settings.nonces.accepts(payload.nonce, input.now)) {
      throw new AuthError(
        'use_dpop_nonce',
        'dpop_nonce',
        'a DPoP nonce from this resource server is required',
      );
    }
  }
  const replayKey = createHash('sha256').update(`${input.jkt}\n${payload.jti}`).digest('base64url');
  const fresh = await settings.replayStore.claim(
    replayKey,
    iat + settings.proofMaxAge + settings.skew,
    input.now,
  );
  if (!fresh) throw proofError('the DPoP proof was already used', 'dpop_replay');
}
