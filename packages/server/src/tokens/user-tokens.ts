/**
 * Tokens for a user's authorization, shared by the authorization_code and refresh_token grants: an access
 * token, an id_token when `openid` was granted, and a rotated refresh token when `offline_access` was
 * granted to a client registered for refresh_token. A refresh token family has an absolute lifetime,
 * counted from the authorization, that rotation never extends; each token may also have an idle lifetime
 * (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2: a token unused for that long expires): each new token lives
 * until min(absolute expiry, now + idle). Both are per client, defaulting to `tokens.refreshTokenTtl` and
 * `tokens.refreshTokenIdleTtl`.
 */
import type { Account } from '../accounts/accounts.ts';
import type { GatehouseConfig } from '../config/schema.ts';
import type { ServerContext } from '../context.ts';
import type { Client, IssuedHandle } from '../model.ts';
import { claimsRequestScopes, releasableClaims } from '../protocol/claims-request.ts';
import { OAuthError } from '../protocol/errors.ts';
import { randomHandle, sha256Base64Url } from '../protocol/secrets.ts';
import type { TokenBinding } from '../protocol/token-binding.ts';
import type { Repositories } from '../storage/ports.ts';
import { prepareAccessToken } from './access-token.ts';
import { additionalAccessTokenClaims } from './access-token-claims.ts';
import { issueIdToken } from './id-token.ts';
import type { TokenResponse } from './token-response.ts';

export interface UserTokenRequest {
  client: Client;
  /** The authorization the tokens come from (a code or the refresh token being rotated). */
  source: IssuedHandle;
  /** Scopes for this access token: the granted ones, or a narrower set on refresh. */
  scopes: string[];
  /** RFC 8707 resources for this access token (a subset of the granted ones). */
  resources: string[];
  nonce: string | undefined;
  /** Absolute expiry of the refresh token family (from the authorization; see refreshTokenLifetime). */
  refreshExpiresAt: number;
  /** Proof of possession presented with the token request (bearer when empty). */
  binding: TokenBinding;
  /** False when a refresh keeps the presented refresh token instead of rotating it (protocol/profile.ts). */
  newRefreshToken?: boolean;
  /** The grant_type of the token request, told to the claims hook. */
  grantType: string;
}

/** Claims of a user's tokens that come from the account store and the claims hook. */
export interface UserTokenClaims {
  /** Configured and computed access-token claims (access-token-claims.ts). */
  accessToken: Record<string, unknown>;
  /** Claims the authorization's `claims` request asks for in the ID token (OpenID Connect Core §5.5). */
  idToken: Record<string, unknown>;
}

/** Claims an ID token states itself (id-token.ts), which a claims request cannot replace. */
const idTokenOwnClaims = new Set([
  'iss',
  'sub',
  'aud',
  'azp',
  'exp',
  'iat',
  'auth_time',
  'nonce',
  'sid',
  'at_hash',
  'acr',
  'amr',
]);

/**
 * Asks the account store and the claims hook for the claims of a user's tokens. Called before the
 * redemption's transaction, for the same reason as `redeemableAccount`; the request is the one the
 * transaction will issue (the handle's data does not change once written).
 */
export async function userTokenClaims(
  ctx: ServerContext,
  request: UserTokenRequest,
  account: Account,
): Promise<UserTokenClaims> {
  const { client, source } = request;
  const accessToken = await additionalAccessTokenClaims(ctx, {
    clientId: client.clientId,
    subject: account.subject,
    account,
    scopes: request.scopes,
    resources: ctx.catalog.resolveResources(request.resources),
    grantType: request.grantType,
  });
  const idToken: Record<string, unknown> = {};
  const names = request.scopes.includes('openid')
    ? releasableClaims(
        ctx.catalog,
        source.claimsRequest,
        'id_token',
        claimsRequestScopes(client, request.scopes),
      ).filter((name) => !idTokenOwnClaims.has(name))
    : [];
  if (names.length > 0) {
    const released = await ctx.accounts.claims(account, { scopes: [], claims: names });
    for (const name of names) if (released[name] !== undefined) idToken[name] = released[name];
  }
  return { accessToken, idToken };
}

/** A client's refresh-token lifetimes in seconds, its own or the server's; `idle` null: no idle limit. */
export function refreshTokenLifetime(
  config: GatehouseConfig,
  client: Client,
): { absolute: number; idle: number | null } {
  return {
    absolute: client.refreshTokenLifetime.absolute ?? config.tokens.refreshTokenTtl,
    idle: client.refreshTokenLifetime.idle ?? config.tokens.refreshTokenIdleTtl ?? null,
  };
}

/** When a refresh token issued or used at `now` stops working: its idle expiry, capped by the family's. */
export function refreshTokenExpiry(absoluteExpiresAt: number, idle: number | null, now: number): number {
  return idle === null ? absoluteExpiresAt : Math.min(absoluteExpiresAt, now + idle);
}

/**
 * The enabled account a code, refresh token or device code is redeemed for, asked of the account store on
 * every redemption, so a disabled or deleted account gets no more tokens. Called before the redemption's
 * transaction: the store may be another database (or, on SQLite, would wait for the transaction's
 * connection).
 */
export async function redeemableAccount(ctx: ServerContext, userId: string): Promise<Account> {
  const account = await ctx.accounts.findBySubject(userId);
  if (!account?.enabled)
    throw new OAuthError('invalid_grant', 'the account of this grant is disabled or no longer exists');
  return account;
}

/**
 * Does the storage part of issuing a user's tokens in the caller's transaction (stores the
 * new refresh token, and an opaque access token's record) and returns the function that signs the JWTs.
 * Call it after the transaction has committed: signatures are made on the thread pool (tokens/jwt.ts), and
 * a transaction held open while they are pending would make every other request wait for the database.
 */
export async function prepareUserTokens(
  ctx: ServerContext,
  repositories: Repositories,
  request: UserTokenRequest,
  user: Account,
  claims: UserTokenClaims,
): Promise<() => Promise<TokenResponse>> {
  const { client, source } = request;
  if (user.subject !== source.userId)
    throw new OAuthError('invalid_grant', 'the authorization changed while it was redeemed');
  const signAccess = await prepareAccessToken(ctx, repositories.accessTokens, {
    client,
    userId: user.subject,
    grantId: source.grantId,
    scopes: request.scopes,
    resources: ctx.catalog.resolveResources(request.resources),
    authTime: source.authTime,
    amr: source.amr,
    roles: user.roles,
    binding: request.binding,
    grantType: request.grantType,
    account: user,
    additionalClaims: claims.accessToken,
  });
  let refreshToken: string | undefined;
  if (
    request.newRefreshToken !== false &&
    source.scope.includes('offline_access') &&
    client.grantTypes.includes('refresh_token')
  ) {
    refreshToken = randomHandle();
    const now = ctx.now();
    const { idle } = refreshTokenLifetime(ctx.config, client);
    await repositories.refreshTokens.create({
      ...source,
      tokenHash: sha256Base64Url(refreshToken),
      consumedAt: null,
      createdAt: now,
      expiresAt: refreshTokenExpiry(request.refreshExpiresAt, idle, now),
      absoluteExpiresAt: request.refreshExpiresAt,
      // RFC 9449 §5: refresh tokens of public clients are bound to the DPoP key of the request; a
      // confidential client's are not (its authentication protects them), whatever the code carried.
      dpopJkt: client.tokenEndpointAuthMethod === 'none' ? (request.binding.jkt ?? null) : null,
    });
  }
  return async () => {
    const access = await signAccess();
    const response: TokenResponse = {
      access_token: access.accessToken,
      token_type: access.tokenType,
      expires_in: access.expiresIn,
      scope: access.scope,
    };
    if (request.scopes.includes('openid')) {
      response.id_token = await issueIdToken(ctx, {
        client,
        userId: user.subject,
        authTime: source.authTime,
        amr: source.amr,
        sid: source.sid,
        nonce: request.nonce,
        accessToken: access.accessToken,
        claims: claims.idToken,
      });
    }
    if (refreshToken !== undefined) response.refresh_token = refreshToken;
    return response;
  };
}

/** RFC 8707 §2.2: a token request may name a subset of the resources granted, never more. */
export function selectResources(requested: string[], granted: string[]): string[] {
  if (requested.length === 0) return granted;
  for (const resource of requested) {
    if (!granted.includes(resource))
      throw new OAuthError('invalid_target', 'resource was not part of the authorization');
  }
  return requested;
}
