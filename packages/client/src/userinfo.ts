/**
 * The UserInfo request (OpenID Connect Core §5.3.1): the access token is sent as a Bearer token, or
 * with a DPoP proof (RFC 9449 §7.1), and an answer for another `sub` than the ID Token's is refused
 * (§5.3.2, against token substitution).
 */
import { type ClientContext, endpointUrl } from './client-context.ts';
import { accessTokenHeaders, rememberDPoPNonce } from './dpop.ts';
import { GatehouseClientError } from './errors.ts';
import { httpRequest, oauthJson } from './http.ts';

/** The UserInfo response for an access token, as JSON, when its `sub` is `expectedSubject`. */
export async function fetchUserinfo(
  context: ClientContext,
  accessToken: string,
  options: { tokenType?: string; expectedSubject: string; signal?: AbortSignal },
): Promise<Record<string, unknown>> {
  const url = await endpointUrl(context, 'userinfo_endpoint');
  const credentials = await accessTokenHeaders(
    { value: accessToken, type: options.tokenType ?? 'Bearer' },
    context.dpop,
    { method: 'GET', url, now: context.clock() },
  );
  const headers = { accept: 'application/json', ...credentials };
  const response = await httpRequest(url, { method: 'GET', headers, signal: options.signal }, context.http);
  if (credentials.dpop !== undefined && context.dpop !== undefined) {
    rememberDPoPNonce(context.dpop, url, response.headers);
  }
  const claims = oauthJson(response, url);
  if (claims.sub !== options.expectedSubject) {
    throw new GatehouseClientError('invalid_response', `${url} answered for another subject`);
  }
  return claims;
}
