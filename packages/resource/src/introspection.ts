/**
 * Opaque access tokens checked by token introspection (RFC 7662 §2): a POST with the token, the resource
 * server authenticated as a client with `client_secret_basic` (RFC 6749 §2.3.1, id and secret
 * form-encoded before base64), `active: true` required (§2.2). Answers are cached by the SHA-256 of the
 * token, never past the token's `exp` nor the configured TTL (§4 warns that caching delays revocation).
 */
import { type FetchLike, fetchJsonObject } from './remote.ts';

export interface IntrospectionOptions {
  /** The introspection endpoint; taken from the issuer's metadata when omitted. */
  endpoint?: string;
  /** The identifier the API authenticates with (Gatehouse: the API resource id). */
  clientId: string;
  clientSecret: string;
  /** Seconds an active answer is reused at most (default 60); 0 disables the cache. */
  cacheTtl?: number;
}

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
