/**
 * JWT access tokens per RFC 9068: header `typ: at+jwt`; claims iss, sub, aud, client_id, scope, jti, iat,
 * exp, and auth_time when a user authenticated. `roles` (RFC 9068 §2.2.3.1) is included when the `roles`
 * scope was granted, so APIs can apply role policies without calling back.
 */
import type { ServerContext } from '../context.ts';
import { OAuthError } from '../protocol/errors.ts';
import type { ApiResource } from '../protocol/scopes.ts';
import { randomHandle } from '../protocol/secrets.ts';
import type { Client } from '../storage/repositories.ts';
import { signJwt } from './jwt.ts';

export interface AccessTokenRequest {
  client: Client;
  /** The user's id, or undefined for a client acting on its own behalf (client credentials). */
  userId: string | undefined;
  scopes: string[];
  resources: ApiResource[];
  authTime?: number | undefined;
  roles?: string[] | undefined;
}

export interface IssuedAccessToken {
  accessToken: string;
  expiresIn: number;
  scope: string;
}

export function issueAccessToken(ctx: ServerContext, request: AccessTokenRequest): IssuedAccessToken {
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
  const expiresIn =
    request.client.accessTokenTtl ??
    (resourceTtls.length > 0 ? Math.min(...resourceTtls) : ctx.config.tokens.accessTokenTtl);
  const now = ctx.now();
  const scope = scopes.join(' ');
  const payload: Record<string, unknown> = {
    iss: ctx.issuer,
    sub: request.userId ?? request.client.clientId,
    aud: audiences.length === 1 ? audiences[0] : audiences,
    client_id: request.client.clientId,
    scope,
    jti: randomHandle(16),
    iat: now,
    exp: now + expiresIn,
  };
  if (request.authTime !== undefined) payload.auth_time = request.authTime;
  if (request.roles !== undefined && scopes.includes('roles')) payload.roles = request.roles;
  return { accessToken: signJwt(ctx.keys.signingKey(now), 'at+jwt', payload), expiresIn, scope };
}
