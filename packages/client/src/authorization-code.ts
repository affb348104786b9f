/**
 * The authorization code flow at the client:
 * - the authorization request (OAuth 2.1 §4.1.1, RFC 7636 PKCE S256, OpenID Connect Core §3.1.2.1),
 *   pushed when the server supports or requires PAR (RFC 9126 §2, §5);
 * - the authorization response (OAuth 2.1 §4.1.2): `state`, `iss` (RFC 9207 §2.4) and errors (§4.1.2.1)
 *   are checked before the code is exchanged (§4.1.3) and the ID Token validated (Core §3.1.3.7).
 */
import { asString, type ClientContext, endpointUrl } from './client-context.ts';
import { GatehouseClientError, OAuthResponseError } from './errors.ts';
import { formBody } from './http.ts';
import { generatePkcePair, randomToken } from './pkce.ts';
import { postForm, type TokenSet, tokenRequest } from './token-endpoint.ts';

export interface AuthorizationRequestOptions {
  /** Space-separated scopes; default `openid`. */
  scope?: string;
  redirectUri?: string;
  /** RFC 8707 resource indicators. */
  resource?: string | string[];
  prompt?: string;
  loginHint?: string;
  maxAge?: number;
  /** More authorization request parameters. */
  extra?: Record<string, string>;
  signal?: AbortSignal;
}

/**
 * What the application keeps between sending the user away and receiving the callback. Keep it
 * server-side or in memory: the code verifier is a secret.
 */
export interface PendingAuthorization {
  /** Send the user's browser here. */
  url: URL;
  state: string;
  /** Sent when `openid` was requested. */
  nonce: string | undefined;
  codeVerifier: string;
  redirectUri: string;
  /** The `max_age` sent, if any: the ID Token's `auth_time` is then checked against it. */
  maxAge?: number;
}

/** The client's defaults for authorization requests. */
export interface AuthorizationDefaults {
  /** Pushed authorization requests: `auto`, `always` or `never` (see `OAuthClientOptions.par`). */
  par: 'auto' | 'always' | 'never';
  redirectUri: string | undefined;
}

/**
 * A PKCE pair, `state`, `nonce` (when `openid` is asked for) and the URL to send the browser to. With
 * PAR the parameters are pushed first and the URL carries only `client_id` and `request_uri`.
 */
export async function createAuthorizationRequest(
  context: ClientContext,
  defaults: AuthorizationDefaults,
  options: AuthorizationRequestOptions,
): Promise<PendingAuthorization> {
  const metadata = await context.metadata();
  const authorizationEndpoint = await endpointUrl(context, 'authorization_endpoint');
  const redirectUri = options.redirectUri ?? defaults.redirectUri;
  if (redirectUri === undefined) throw new TypeError('a redirectUri is required');
  const scope = options.scope ?? 'openid';
  const pkce = generatePkcePair();
  const state = randomToken();
  const nonce = scope.split(' ').includes('openid') ? randomToken() : undefined;
  const params: Record<string, string | string[] | undefined> = {
    response_type: 'code',
    client_id: context.clientId,
    redirect_uri: redirectUri,
    scope,
    state,
    nonce,
    code_challenge: pkce.codeChallenge,
    code_challenge_method: pkce.codeChallengeMethod,
    prompt: options.prompt,
    login_hint: options.loginHint,
    max_age: options.maxAge === undefined ? undefined : String(options.maxAge),
    resource: typeof options.resource === 'string' ? [options.resource] : options.resource,
    ...options.extra,
  };
  const parEndpoint = metadata.pushed_authorization_request_endpoint;
  const mode = defaults.par;
  const usePar =
    mode === 'always' ||
    metadata.require_pushed_authorization_requests === true ||
    (mode === 'auto' && typeof parEndpoint === 'string');
  const url = new URL(authorizationEndpoint);
  if (usePar) {
    if (typeof parEndpoint !== 'string') {
      throw new GatehouseClientError('unsupported', `${context.issuer} has no PAR endpoint`);
    }
    const body = await postForm(context, parEndpoint, params, { dpop: false, signal: options.signal });
    const requestUri = asString(body.request_uri);
    if (requestUri === undefined) {
      throw new GatehouseClientError('invalid_response', `${parEndpoint} answered without request_uri`);
    }
    url.searchParams.set('client_id', context.clientId);
    url.searchParams.set('request_uri', requestUri);
  } else {
    for (const [name, value] of new URLSearchParams(formBody(params))) url.searchParams.append(name, value);
  }
  const pending: PendingAuthorization = { url, state, nonce, codeVerifier: pkce.codeVerifier, redirectUri };
  if (options.maxAge !== undefined) pending.maxAge = options.maxAge;
  return pending;
}

/**
 * Checks `state`, then `iss` (RFC 9207), then an `error` in the redirect back to the client, and
 * exchanges the code with the PKCE verifier; the ID Token is validated against the pending `nonce` and
 * `max_age`.
 */
export async function exchangeCallback(
  context: ClientContext,
  callbackUrl: string | URL,
  pending: PendingAuthorization,
  signal: AbortSignal | undefined,
): Promise<TokenSet> {
  const params = new URL(callbackUrl).searchParams;
  if (params.get('state') !== pending.state) {
    throw new GatehouseClientError('state_mismatch', 'the callback state does not match the request');
  }
  const iss = params.get('iss');
  if (iss !== null && iss !== context.issuer) {
    throw new GatehouseClientError('issuer_mismatch', `the callback came from issuer ${iss}`);
  }
  if (iss === null && (await context.metadata()).authorization_response_iss_parameter_supported === true) {
    throw new GatehouseClientError('issuer_mismatch', 'the callback has no iss although the server sends it');
  }
  const error = params.get('error');
  if (error !== null) throw new OAuthResponseError(error, params.get('error_description') ?? undefined, 0);
  const code = params.get('code');
  if (code === null) throw new GatehouseClientError('invalid_response', 'the callback has no code');
  return tokenRequest(
    context,
    {
      grant_type: 'authorization_code',
      code,
      redirect_uri: pending.redirectUri,
      code_verifier: pending.codeVerifier,
    },
    signal,
    { nonce: pending.nonce, required: pending.nonce !== undefined, maxAge: pending.maxAge },
  );
}
