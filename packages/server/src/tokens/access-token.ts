/**
 * Access tokens: by default RFC 9068 JWTs (`typ: at+jwt`), with `roles` (§2.2.3.1) when that scope was
 * granted (or as the API's `claims.roles` says), user claims, `scp` and computed claims as configured per
 * API (access-token-claims.ts), so APIs can apply policies without calling back. Tokens of a user's authorization carry
 * `grant_id`, so revoking the grant makes introspection and userinfo refuse them too. An API with
 * `accessTokenFormat: opaque` gets a 256-bit handle, stored hashed with its claims and revocable at once.
 */
import { randomUUID } from 'node:crypto';
import type { Account } from '../accounts/accounts.ts';
import type { ServerContext } from '../context.ts';
import { type Client, reservedAccessTokenClaims } from '../model.ts';
import { acrOf } from '../protocol/acr.ts';
import { OAuthError } from '../protocol/errors.ts';
import type { ApiResource } from '../protocol/scopes.ts';
import { randomHandle, sha256Base64Url } from '../protocol/secrets.ts';
import type { TokenBinding } from '../protocol/token-binding.ts';
import type { AccessTokenRepository } from '../storage/ports.ts';
import { accessTokenClaimsPlan, additionalAccessTokenClaims } from './access-token-claims.ts';
import { signJwt } from './jwt.ts';

export interface AccessTokenRequest {
  client: Client;
  /** The user's id, or undefined for a client acting on its own behalf (client credentials). */
  userId: string | undefined;
  scopes: string[];
  resources: ApiResource[];
  grantId?: string | undefined;
  authTime?: number | undefined;
  /** RFC 8176 methods of the user's authentication; with them the token carries `amr` and `acr` (RFC 9470). */
  amr?: readonly string[] | undefined;
  roles?: readonly string[] | undefined;
  /** Proof-of-possession binding, published as the `cnf` claim (and stored for opaque tokens). */
  binding?: TokenBinding | undefined;
  /** Token exchange (RFC 8693): the subject when it is not the user or the client itself (another client). */
  subject?: string | undefined;
  /** Token exchange (RFC 8693 §4.1): the acting party, with prior actors nested inside. */
  act?: Record<string, unknown> | undefined;
  /** Token exchange: the token may not outlive the token it was exchanged from. */
  maxExpiresAt?: number | undefined;
  /** The grant_type of the request, told to the claims hook. */
  grantType: string;
  /** The user's account, for configured user claims and the claims hook. */
  account?: Account | undefined;
  /**
   * Configured and computed claims (`additionalAccessTokenClaims`), asked for before a transaction;
   * `issueAccessToken` asks for them itself when they are not given.
   */
  additionalClaims?: Record<string, unknown> | undefined;
}

export interface IssuedAccessToken {
  accessToken: string;
  tokenType: 'Bearer' | 'DPoP';
  expiresIn: number;
  scope: string;
}

export async function issueAccessToken(
  ctx: ServerContext,
  accessTokens: AccessTokenRepository,
  request: AccessTokenRequest,
): Promise<IssuedAccessToken> {
  const additionalClaims =
    request.additionalClaims ??
    (await additionalAccessTokenClaims(ctx, {
      clientId: request.client.clientId,
      subject: request.subject ?? request.userId ?? request.client.clientId,
      account: request.account,
      scopes: request.scopes,
      resources: request.resources,
      grantType: request.grantType,
    }));
  return (await prepareAccessToken(ctx, accessTokens, { ...request, additionalClaims }))();
}

/**
 * Everything about an access token that reads or writes storage (an opaque token's record), done now in
 * the caller's transaction; the returned function signs a JWT, to be called after the transaction, since
 * signing waits for the thread pool (tokens/jwt.ts).
 */
export async function prepareAccessToken(
  ctx: ServerContext,
  accessTokens: AccessTokenRepository,
  request: AccessTokenRequest,
): Promise<() => Promise<IssuedAccessToken>> {
  const { audience, scopes } = ctx.catalog.audienceFor(request.scopes, request.resources);
  const audiences = audience.map((resource) => resource.id);
  if (audiences.length === 0) {
    if (request.userId === undefined || !scopes.includes('openid')) {
      throw new OAuthError('invalid_scope', 'no API scope or resource was requested');
    }
    // Only identity scopes: the token is good for the userinfo endpoint alone.
    audiences.push(ctx.endpoints.userinfo);
  }
  const resourceTtls = audience
    .map((resource) => resource.accessTokenTtl)
    .filter((ttl): ttl is number => ttl !== undefined);
  const now = ctx.now();
  const expiresIn = Math.min(
    request.client.accessTokenTtl ??
      (resourceTtls.length > 0 ? Math.min(...resourceTtls) : ctx.config.tokens.accessTokenTtl),
    request.maxExpiresAt === undefined ? Number.POSITIVE_INFINITY : request.maxExpiresAt - now,
  );
  const scope = scopes.join(' ');
  const subject = request.subject ?? request.userId ?? request.client.clientId;
  // randomUUID: 122 random bits from node's CSPRNG, drawn from its cached entropy pool.
  const jti = randomUUID();
  const plan = accessTokenClaimsPlan(audience, scopes);
  const roles = request.roles !== undefined && plan.roles ? [...request.roles] : undefined;
  // Reserved names are refused by the schema and dropped by the hook's guard; checked here once more,
  // since the fixed claims below must be the only source of each.
  const claims: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(request.additionalClaims ?? {}))
    if (!reservedAccessTokenClaims.has(name)) claims[name] = value;
  if (plan.scp) claims.scp = scopes;
  // RFC 9068 §2.2.1 and RFC 9470 §3: how the user authenticated, for APIs that demand a level or freshness.
  if (request.amr !== undefined && request.amr.length > 0) {
    claims.acr = acrOf(ctx.config, request.amr);
    claims.amr = [...request.amr];
  }
  const cnf = confirmationClaim(request.binding);
  const tokenType = request.binding?.jkt !== undefined ? 'DPoP' : 'Bearer';

  if (audience.some((resource) => resource.accessTokenFormat === 'opaque')) {
    // The opaque-token record has no place for a delegation chain; refuse rather than drop it.
    if (request.act !== undefined)
      throw new OAuthError(
        'invalid_target',
        'delegated tokens are issued only for APIs with JWT access tokens',
      );
    const accessToken = randomHandle();
    await accessTokens.create({
      tokenHash: sha256Base64Url(accessToken),
      jti,
      grantId: request.grantId ?? null,
      clientId: request.client.clientId,
      subject,
      scope,
      audience: audiences,
      authTime: request.authTime ?? null,
      roles: roles ?? null,
      expiresAt: now + expiresIn,
      createdAt: now,
      cnf: cnf ?? null,
      claims: Object.keys(claims).length > 0 ? claims : null,
    });
    const issued: IssuedAccessToken = { accessToken, tokenType, expiresIn, scope };
    return async () => issued;
  }

  const payload: Record<string, unknown> = {
    ...claims,
    iss: ctx.issuer,
    sub: subject,
    aud: audiences.length === 1 ? audiences[0] : audiences,
    client_id: request.client.clientId,
    jti,
    iat: now,
    exp: now + expiresIn,
  };
  if (plan.scope) payload.scope = scope;
  if (request.authTime !== undefined) payload.auth_time = request.authTime;
  if (roles !== undefined) payload.roles = roles;
  if (request.grantId !== undefined) payload.grant_id = request.grantId;
  if (cnf !== undefined) payload.cnf = cnf;
  if (request.act !== undefined) payload.act = request.act;
  return async () => ({
    accessToken: await signJwt(ctx.keys.signingKey(now), 'at+jwt', payload),
    tokenType,
    expiresIn,
    scope,
  });
}

/** The `cnf` claim (RFC 7800 §3.1) for a binding: `jkt` (RFC 9449 §6.1), `x5t#S256` (RFC 8705 §3.1). */
export function confirmationClaim(binding: TokenBinding | undefined): Record<string, string> | undefined {
  if (binding === undefined) return undefined;
  const cnf: Record<string, string> = {};
  if (binding.jkt !== undefined) cnf.jkt = binding.jkt;
  if (binding.x5tS256 !== undefined) cnf['x5t#S256'] = binding.x5tS256;
  return Object.keys(cnf).length > 0 ? cnf : undefined;
}
