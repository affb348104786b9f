/**
 * The grants that need no user interaction at the client: refresh (OAuth 2.1 §4.3), client credentials
 * (OAuth 2.1 §4.2) and token exchange (RFC 8693 §2.1, whose answer must name `issued_token_type`,
 * §2.2.1).
 */
import type { ClientContext } from './client-context.ts';
import { GatehouseClientError } from './errors.ts';
import { type TokenSet, tokenRequest } from './token-endpoint.ts';

/** Scope, resource indicators (RFC 8707) and cancellation of a grant request. */
export interface GrantOptions {
  scope?: string;
  resource?: string | string[];
  signal?: AbortSignal;
}

export interface TokenExchangeRequest {
  subjectToken: string;
  /** e.g. `urn:ietf:params:oauth:token-type:access_token`. */
  subjectTokenType: string;
  actorToken?: string;
  actorTokenType?: string;
  requestedTokenType?: string;
  audience?: string | string[];
  resource?: string | string[];
  scope?: string;
  signal?: AbortSignal;
}

/** The RFC 8693 §3 token type identifier of an access token. */
export const accessTokenType = 'urn:ietf:params:oauth:token-type:access_token';

export function refreshGrant(
  context: ClientContext,
  refreshToken: string,
  options: GrantOptions,
): Promise<TokenSet> {
  return tokenRequest(
    context,
    {
      grant_type: 'refresh_token',
      refresh_token: refreshToken,
      scope: options.scope,
      resource: options.resource,
    },
    options.signal,
  );
}

export function clientCredentialsGrant(context: ClientContext, options: GrantOptions): Promise<TokenSet> {
  return tokenRequest(
    context,
    { grant_type: 'client_credentials', scope: options.scope, resource: options.resource },
    options.signal,
  );
}

export async function tokenExchangeGrant(
  context: ClientContext,
  request: TokenExchangeRequest,
): Promise<TokenSet> {
  const tokens = await tokenRequest(
    context,
    {
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: request.subjectToken,
      subject_token_type: request.subjectTokenType,
      actor_token: request.actorToken,
      actor_token_type: request.actorTokenType,
      requested_token_type: request.requestedTokenType,
      audience: request.audience,
      resource: request.resource,
      scope: request.scope,
    },
    request.signal,
  );
  if (tokens.issuedTokenType === undefined) {
    throw new GatehouseClientError('invalid_response', 'the token exchange answer has no issued_token_type');
  }
  return tokens;
}
