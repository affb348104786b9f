/**
 * Ending what a session holds at the server: token revocation (RFC 7009 §2.1; unknown tokens succeed
 * too, §2.2) and the RP-initiated logout URL (OpenID Connect RP-Initiated Logout 1.0 §2).
 */
import { authenticate } from './client-auth.ts';
import { type ClientContext, endpointUrl } from './client-context.ts';
import { formBody, httpRequest, oauthJson } from './http.ts';

/** Revokes a token at the revocation endpoint, with client authentication. */
export async function revokeToken(
  context: ClientContext,
  token: string,
  options: { tokenTypeHint?: 'access_token' | 'refresh_token'; signal?: AbortSignal },
): Promise<void> {
  const url = await endpointUrl(context, 'revocation_endpoint');
  const auth = await authenticate(
    context.clientId,
    context.clientAuthentication,
    context.issuer,
    context.clock(),
  );
  const response = await httpRequest(
    url,
    {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth.headers },
      body: formBody({ token, token_type_hint: options.tokenTypeHint, ...auth.params }),
      signal: options.signal,
    },
    context.http,
  );
  if (response.status !== 200) oauthJson(response, url);
}

/** The end-session endpoint's URL with the logout parameters that were given. */
export async function endSessionUrl(
  context: ClientContext,
  options: {
    idTokenHint?: string;
    postLogoutRedirectUri?: string;
    state?: string;
    logoutHint?: string;
  },
): Promise<URL> {
  const url = new URL(await endpointUrl(context, 'end_session_endpoint'));
  const params: Record<string, string | undefined> = {
    client_id: context.clientId,
    id_token_hint: options.idTokenHint,
    post_logout_redirect_uri: options.postLogoutRedirectUri,
    state: options.state,
    logout_hint: options.logoutHint,
  };
  for (const [name, value] of Object.entries(params))
    if (value !== undefined) url.searchParams.set(name, value);
  return url;
}
