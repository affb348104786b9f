/**
 * JWT access tokens (RFC 9068 §4) checked per the JWT BCP (RFC 8725 §3): `typ` `at+jwt` (§2.1), an
 * allowed asymmetric `alg` matched to the key type, `kid` looked up only in the JWKS, `jku`/`x5u`/`x5c`/
 * `jwk` headers never used, any `crit` refused (RFC 7515 §4.1.11), `iss` exact, `aud` naming this API,
 * `exp` required. Verified tokens are cached by the SHA-256 of the token until they stop being valid.
 */
import { ExpiringCache, tokenHash } from './cache.ts';
import type { ClaimChecks } from './claims.ts';
import { authInfoOf } from './claims.ts';
import { AuthError, invalidToken } from './errors.ts';
import type { KeySource } from './jwks.ts';
import {
  isSupportedAlgorithm,
  type JwsAlgorithm,
  keyMatchesAlgorithm,
  normalizeMediaType,
  type ParsedJws,
  parseCompactJws,
  type VerificationKey,
  verifySignature,
  verifySignatureAsync,
} from './jws.ts';
import type { Attempt, AuthInfo } from './model.ts';
import type { VerifierSettings } from './options.ts';

/** Verifies a JWT access token; the verified result, or a promise when keys load or the thread pool works. */
export type JwtVerifier = (token: string, attempt: Attempt) => AuthInfo | Promise<AuthInfo>;

/** Tries each usable key in turn in the libuv thread pool, off the event loop (one promise per key). */
function verifyWithAny(
  alg: JwsAlgorithm,
  usable: VerificationKey[],
  parsed: ParsedJws,
  index = 0,
): Promise<Record<string, unknown>> {
  return verifySignatureAsync(alg, usable[index]!.key, parsed.signingInput, parsed.signature).then(
    (valid) => {
      if (valid) return parsed.payload;
      if (index + 1 < usable.length) return verifyWithAny(alg, usable, parsed, index + 1);
      throw invalidToken('bad_signature', 'the token signature is invalid');
    },
  );
}

export function createJwtVerifier(
  settings: Pick<VerifierSettings, 'issuer' | 'algorithms' | 'types' | 'now' | 'cacheSize' | 'threadPool'>,
  keys: KeySource,
  claims: ClaimChecks,
): JwtVerifier {
  const { issuer, algorithms, types, now, threadPool } = settings;
  const { checkAudience, checkTimes, checkRequiredClaims } = claims;
  const cache = new ExpiringCache<AuthInfo>(settings.cacheSize);
  const cacheEnabled = settings.cacheSize > 0;

  /** Header checks, key lookup and signature; returns the verified payload, or a promise when keys load. */
  function verifyJws(
    parsed: ParsedJws,
    retried: boolean,
  ): Record<string, unknown> | Promise<Record<string, unknown>> {
    const { header } = parsed;
    const alg = header.alg;
    if (!isSupportedAlgorithm(alg) || !algorithms.includes(alg)) {
      throw invalidToken('unsupported_alg', 'the token alg is not accepted');
    }
    if (
      types !== undefined &&
      (typeof header.typ !== 'string' || !types.includes(normalizeMediaType(header.typ)))
    ) {
      throw invalidToken('wrong_typ', `the token typ must be ${types.join(' or ')}`);
    }
    if (header.crit !== undefined)
      throw invalidToken('unknown_crit', 'the token has unsupported critical headers');
    const kid = header.kid;
    if (kid !== undefined && (typeof kid !== 'string' || kid.length > 512)) {
      throw invalidToken('malformed_token', 'the token kid is malformed');
    }
    const candidates = keys.lookup(kid);
    if (candidates === undefined) {
      return keys
        .reload('initial')
        .catch((error: Error) => {
          throw new AuthError(
            'temporarily_unavailable',
            'keys_unavailable',
            `the issuer keys are unavailable: ${error.message}`,
          );
        })
        .then(() => verifyJws(parsed, retried));
    }
    const usable = candidates.filter((key) => keyMatchesAlgorithm(key, alg));
    if (usable.length > 0) {
      if (!threadPool) {
        for (const key of usable) {
          if (verifySignature(alg, key.key, parsed.signingInput, parsed.signature)) return parsed.payload;
        }
        throw invalidToken('bad_signature', 'the token signature is invalid');
      }
      return verifyWithAny(alg, usable, parsed);
    }
    if (kid === undefined) throw invalidToken('bad_signature', 'the token signature is invalid');
    if (candidates.length > 0) throw invalidToken('bad_signature', 'the token alg does not match its key');
    if (retried) throw invalidToken('unknown_kid', 'the token key is unknown');
    return keys.reload('unknown_kid').then(
      (reloaded) => {
        if (!reloaded) throw invalidToken('unknown_kid', 'the token key is unknown');
        return verifyJws(parsed, true);
      },
      () => {
        throw invalidToken('unknown_kid', 'the token key is unknown');
      },
    );
  }

  function checkJwtClaims(payload: Record<string, unknown>, cacheKey: string | undefined): AuthInfo {
    const at = now();
    if (payload.iss !== issuer) throw invalidToken('wrong_issuer', 'the token issuer is not accepted');
    checkAudience(payload.aud, true);
    const validUntil = checkTimes(payload, at, true);
    checkRequiredClaims(payload);
    const auth = authInfoOf(payload, 'jwt');
    if (cacheKey !== undefined) cache.set(cacheKey, auth, validUntil, at);
    return auth;
  }

  return function verifyJwt(token, attempt) {
    const cacheKey = cacheEnabled ? tokenHash(token) : undefined;
    if (cacheKey !== undefined) {
      const hit = cache.get(cacheKey, now());
      if (hit !== undefined) {
        attempt.cached = true;
        attempt.claimedClient = hit.clientId;
        return hit;
      }
    }
    const parsed = parseCompactJws(token);
    if (typeof parsed.payload.client_id === 'string') attempt.claimedClient = parsed.payload.client_id;
    const payload = verifyJws(parsed, false);
    if (payload instanceof Promise) return payload.then((verified) => checkJwtClaims(verified, cacheKey));
    return checkJwtClaims(payload, cacheKey);
  };
}
