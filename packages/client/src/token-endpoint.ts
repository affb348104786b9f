/**
 * Requests to the server's form endpoints (token, PAR, device authorization) and the token response:
 * - the POST carries client authentication (OAuth 2.1 §2.4) and, when asked, a DPoP proof; it is retried
 *   once with the server's nonce on `use_dpop_nonce` (RFC 9449 §8);
 * - the token response (OAuth 2.1 §3.2.3) is typed, and its ID Token validated (OpenID Connect Core
 *   §3.1.3.7).
 */
import { authenticate } from './client-auth.ts';
import { asString, type ClientContext, endpointUrl } from './client-context.ts';
import { createDPoPProof, rememberDPoPNonce } from './dpop.ts';
import { GatehouseClientError, OAuthResponseError } from './errors.ts';
import { formBody, httpRequest, oauthJson } from './http.ts';
import { type IdTokenClaims, validateIdToken } from './id-token.ts';

/** A token endpoint response, typed. */
export interface TokenSet {
  accessToken: string;
  /** `Bearer` or `DPoP` (as the server wrote it). */
  tokenType: string;
  /** Absolute expiry in seconds since the epoch (by the client's clock), when the server gave expires_in. */
  expiresAt: number | undefined;
  refreshToken: string | undefined;
  idToken: string | undefined;
  /** Validated ID Token claims, when an ID Token came. */
  claims: IdTokenClaims | undefined;
  scope: string | undefined;
  /** RFC 8693 `issued_token_type`. */
  issuedTokenType: string | undefined;
  /** The whole response body. */
  raw: Record<string, unknown>;
}

/** Form parameters; `undefined` ones are left out and arrays repeat the name. */
export type FormValues = Record<string, string | readonly string[] | undefined>;

/** What the ID Token of a token response must satisfy. */
export interface IdTokenExpectation {
  /** The `nonce` sent in the authorization request. */
  nonce: string | undefined;
  /** An ID Token must come (`openid` was requested). */
  required: boolean;
  /** The `max_age` sent: `auth_time` is checked against it. */
  maxAge?: number | undefined;
}

/**
 * POSTs a form with client authentication (and a DPoP proof when `dpop`), retrying once when the
 * server asks for a DPoP nonce.
 */
export async function postForm(
  context: ClientContext,
  url: string,
  values: FormValues,
  options: { dpop: boolean; signal: AbortSignal | undefined },
): Promise<Record<string, unknown>> {
  for (let attempt = 0; ; attempt++) {
    const auth = await authenticate(
      context.clientId,
      context.clientAuthentication,
      context.issuer,
      context.clock(),
    );
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
      ...auth.headers,
    };
    const dpop = options.dpop ? context.dpop : undefined;
    if (dpop !== undefined) {
      headers.dpop = await createDPoPProof(dpop, { method: 'POST', url, now: context.clock() });
    }
    const response = await httpRequest(
      url,
      { method: 'POST', headers, body: formBody({ ...values, ...auth.params }), signal: options.signal },
      context.http,
    );
    const gotNonce = dpop !== undefined && rememberDPoPNonce(dpop, url, response.headers);
    try {
      return oauthJson(response, url);
    } catch (error) {
      const retry =
        attempt === 0 && gotNonce && error instanceof OAuthResponseError && error.error === 'use_dpop_nonce';
      if (!retry) throw error;
    }
  }
}

/** Sends a token request with a DPoP proof (when the client has a key) and types the answer. */
export async function tokenRequest(
  context: ClientContext,
  values: FormValues,
  signal: AbortSignal | undefined,
  idToken: IdTokenExpectation = { nonce: undefined, required: false },
): Promise<TokenSet> {
  const url = await endpointUrl(context, 'token_endpoint');
  const body = await postForm(context, url, values, { dpop: true, signal });
  const accessToken = asString(body.access_token);
  const tokenType = asString(body.token_type);
  if (accessToken === undefined || tokenType === undefined) {
    throw new GatehouseClientError('invalid_response', `${url} answered without access_token or token_type`);
  }
  const expiresIn = body.expires_in;
  if (expiresIn !== undefined && (typeof expiresIn !== 'number' || !Number.isFinite(expiresIn))) {
    throw new GatehouseClientError('invalid_response', `${url} answered a non-numeric expires_in`);
  }
  const rawIdToken = asString(body.id_token);
  let claims: IdTokenClaims | undefined;
  if (rawIdToken !== undefined) {
    claims = await validateIdToken(rawIdToken, await context.jwksCache(), {
      issuer: context.issuer,
      issuerRule: context.issuerRule,
      clientId: context.clientId,
      nonce: idToken.nonce,
      maxAge: idToken.maxAge,
      accessToken,
      now: context.clock(),
      clockTolerance: context.clockTolerance,
    });
  } else if (idToken.required) {
    throw new GatehouseClientError('id_token_invalid', 'openid was requested but no id_token came back');
  }
  return {
    accessToken,
    tokenType,
    expiresAt: typeof expiresIn === 'number' ? context.clock() + expiresIn : undefined,
    refreshToken: asString(body.refresh_token),
    idToken: rawIdToken,
    claims,
    scope: asString(body.scope),
    issuedTokenType: asString(body.issued_token_type),
    raw: body,
  };
}
