/**
 * Opaque access tokens checked by token introspection (RFC 7662 §2): a POST with the token, the resource
 * server authenticated as a client with `client_secret_basic` (RFC 6749 §2.3.1, id and secret
 * form-encoded before base64), `active: true` required (§2.2), then the same issuer, audience, time and
 * required-claim checks as a JWT. Answers are cached by the SHA-256 of the token, never past the token's
 * `exp` nor the configured TTL (§4 warns that caching delays revocation).
 */
import { ExpiringCache, tokenHash } from './cache.ts';
import { authInfoOf, type ClaimChecks } from './claims.ts';
import { AuthError, invalidToken } from './errors.ts';
import type { Attempt, AuthInfo } from './model.ts';
import type { IntrospectionOptions, VerifierSettings } from './options.ts';
import { endpointFrom, type FetchLike, fetchJsonObject } from './remote.ts';

const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');

export function basicCredentials(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

/** Posts the token to the endpoint; resolves the JSON answer (active or not), rejects on failure. */
export async function introspect(
  fetcher: FetchLike,
  endpoint: string,
  authorization: string,
  token: string,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  return fetchJsonObject(fetcher, endpoint, {
    method: 'POST',
    timeoutMs,
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
  });
}

/** Checks an opaque token at the introspection endpoint; throws AuthError. */
export type OpaqueVerifier = (token: string, attempt: Attempt) => Promise<AuthInfo>;

/**
 * The opaque-token check of one verifier; without `introspection` every opaque token is refused. The
 * endpoint comes from the options or, on first need, from the issuer's metadata.
 */
export function createIntrospectionVerifier(
  introspection: IntrospectionOptions | undefined,
  settings: Pick<
    VerifierSettings,
    'issuer' | 'now' | 'fetcher' | 'timeoutMs' | 'cacheSize' | 'introspectionCacheTtl'
  >,
  metadata: () => Promise<Record<string, unknown>>,
  claims: ClaimChecks,
): OpaqueVerifier {
  const { issuer, now, fetcher, timeoutMs, introspectionCacheTtl } = settings;
  const { checkAudience, checkTimes, checkRequiredClaims } = claims;
  const authorization =
    introspection === undefined
      ? undefined
      : basicCredentials(introspection.clientId, introspection.clientSecret);
  const endpoint = async (): Promise<string> =>
    introspection?.endpoint ?? endpointFrom(await metadata(), 'introspection_endpoint', issuer);
  const cache = new ExpiringCache<AuthInfo>(settings.cacheSize);

  return async function verifyOpaque(token, attempt) {
    if (introspection === undefined || authorization === undefined) {
      throw invalidToken('malformed_token', 'the token is not a JWT');
    }
    const cacheKey = tokenHash(token);
    const hit = cache.get(cacheKey, now());
    if (hit !== undefined) {
      attempt.cached = true;
      attempt.claimedClient = hit.clientId;
      return hit;
    }
    let answer: Record<string, unknown>;
    try {
      answer = await introspect(fetcher, await endpoint(), authorization, token, timeoutMs);
    } catch (error) {
      throw new AuthError(
        'temporarily_unavailable',
        'introspection_unavailable',
        `token introspection is unavailable: ${(error as Error).message}`,
      );
    }
    if (answer.active !== true) throw invalidToken('inactive', 'the token is not active');
    if (typeof answer.client_id === 'string') attempt.claimedClient = answer.client_id;
    if (answer.iss !== undefined && answer.iss !== issuer) {
      throw invalidToken('wrong_issuer', 'the token issuer is not accepted');
    }
    checkAudience(answer.aud, false);
    const at = now();
    const validUntil = checkTimes(answer, at, false);
    if (answer.token_type !== undefined && typeof answer.token_type === 'string') {
      const type = answer.token_type.toLowerCase();
      if (type !== 'bearer' && type !== 'dpop' && type !== 'access_token') {
        throw invalidToken('inactive', 'the token is not an access token');
      }
    }
    checkRequiredClaims(answer);
    const auth = authInfoOf(answer, 'opaque');
    if (introspectionCacheTtl > 0)
      cache.set(cacheKey, auth, Math.min(validUntil, at + introspectionCacheTtl), at);
    return auth;
  };
}
