/**
 * The identity at a plain OAuth 2.0 upstream (`type: oauth2`, e.g. GitHub), which issues no ID token
 * (RFC 6749 §4.1 with PKCE, RFC 7636): after the code exchange the access token fetches the configured
 * userinfo endpoint (a JSON object), whose `subjectField` is the stable account id (a number becomes its
 * decimal string); with an `emails` endpoint (GitHub's /user/emails, a JSON array) the primary address and
 * whether it is verified are added as `email` and `email_verified`. Both fetches go through the address
 * guard (protocol/outbound-fetch.ts), follow no redirect and are bounded in time and size; the URLs come
 * from the configuration, never from a request.
 */
import { GatehouseClientError, type IdTokenClaims, type ServerMetadata } from '@gatehouse/client';
import type { UpstreamConfig } from '../config/upstreams.ts';
import { guardedGet } from '../protocol/outbound-fetch.ts';

/** The metadata @gatehouse/client uses for an `oauth2` upstream in place of discovery (no userinfo: ours). */
export function oauth2Metadata(config: UpstreamConfig): ServerMetadata | undefined {
  if (config.type !== 'oauth2' || config.endpoints === undefined) return undefined;
  return {
    issuer: config.issuer,
    authorization_endpoint: config.endpoints.authorization,
    token_endpoint: config.endpoints.token,
    code_challenge_methods_supported: config.pkce ? ['S256'] : [],
  };
}

/** An authorization URL without the PKCE parameters, for an upstream configured with `pkce: false`. */
export function withoutPkce(url: URL): URL {
  url.searchParams.delete('code_challenge');
  url.searchParams.delete('code_challenge_method');
  return url;
}

async function getJson(
  config: UpstreamConfig,
  url: string,
  accessToken: string,
  tokenType: string,
): Promise<unknown> {
  const fail = (message: string) => new GatehouseClientError('invalid_response', message);
  let response: Awaited<ReturnType<typeof guardedGet>>;
  try {
    response = await guardedGet(
      url,
      { allowPrivateAddresses: config.allowPrivateAddresses, timeout: 10_000, maxBytes: 256 * 1024 },
      {
        accept: 'application/json',
        authorization: `${/^bearer$/i.test(tokenType) ? 'Bearer' : tokenType} ${accessToken}`,
        maxRedirects: 0,
        fail,
        what: 'userinfo',
      },
    );
  } catch (error) {
    if (error instanceof GatehouseClientError) throw error;
    throw new GatehouseClientError('http_error', `userinfo fetch failed: ${(error as Error).name}`);
  }
  if (response.status !== 200) throw fail(`userinfo answered HTTP ${response.status}`);
  try {
    return JSON.parse(response.body.toString('utf8'));
  } catch {
    throw fail('userinfo is not JSON');
  }
}

/** The account id in a userinfo field: a non-empty string, or an integer as its decimal string. */
function subjectOf(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '' && value.length <= 255) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

/** The primary address of an `emails` answer ([{ email, primary, verified }]) and whether it is verified. */
function primaryEmail(answer: unknown): { email: string; email_verified: boolean } | undefined {
  if (!Array.isArray(answer)) return undefined;
  const primary = answer.find(
    (entry): entry is { email: string; verified?: unknown } =>
      typeof entry === 'object' &&
      entry !== null &&
      entry.primary === true &&
      typeof entry.email === 'string',
  );
  return primary === undefined
    ? undefined
    : { email: primary.email, email_verified: primary.verified === true };
}

/**
 * The upstream identity as claims: the userinfo object with `sub` set from `subjectField`, shaped as the
 * ID token claims the OpenID Connect flow has (an `oauth2` upstream's claims are never an ID token's).
 * Throws GatehouseClientError when the answer is not usable.
 */
export async function oauth2Claims(
  config: UpstreamConfig,
  accessToken: string,
  tokenType: string,
): Promise<IdTokenClaims> {
  const endpoints = config.endpoints;
  if (endpoints === undefined) throw new GatehouseClientError('unsupported', 'no userinfo endpoint');
  const profile = await getJson(config, endpoints.userinfo, accessToken, tokenType);
  if (typeof profile !== 'object' || profile === null || Array.isArray(profile))
    throw new GatehouseClientError('invalid_response', 'userinfo is not a JSON object');
  const claims = { ...(profile as Record<string, unknown>) };
  const sub = subjectOf(claims[config.subjectField]);
  if (sub === undefined)
    throw new GatehouseClientError('invalid_response', `userinfo has no usable ${config.subjectField}`);
  // The emails endpoint's word on the primary address replaces the profile's.
  if (endpoints.emails !== undefined)
    Object.assign(claims, primaryEmail(await getJson(config, endpoints.emails, accessToken, tokenType)));
  return { ...claims, sub, iss: config.issuer, aud: config.clientId, exp: 0, iat: 0 };
}
