/**
 * GET and POST /userinfo (OpenID Connect Core §5.3). The access token comes from the Authorization header
 * (protocol/bearer.ts: RFC 6750 §2.1, DPoP binding per RFC 9449 §7), must carry `openid`, and the claims
 * are released by scope (accounts/accounts.ts), with those the authorization's `claims` request asks for
 * in userinfo (OpenID Connect Core §5.5, protocol/claims-request.ts). With server nonces on, the current
 * `DPoP-Nonce` is on every answer (RFC 9449 §9).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { checkDpopBinding, presentedAccessToken, refuseTokenInParameters } from '../protocol/bearer.ts';
import { claimsRequestScopes, releasableClaims } from '../protocol/claims-request.ts';
import { dpopHeaderValues } from '../protocol/dpop.ts';
import { OAuthError } from '../protocol/errors.ts';
import type { RawParams } from '../protocol/params.ts';
import { type AccessTokenClaims, validateAccessToken } from '../tokens/validate.ts';
import { noStoreHeaders } from './responses.ts';

/**
 * The claims the token's authorization asked for in userinfo (OpenID Connect Core §5.5), kept with its
 * grant; none for a token without one (client credentials, token exchange between clients).
 */
async function requestedUserinfoClaims(
  ctx: ServerContext,
  token: AccessTokenClaims,
  scopes: readonly string[],
): Promise<string[]> {
  if (token.grant_id === undefined) return [];
  const grant = await ctx.storage.grants.find(token.grant_id);
  if (grant?.claimsRequest === undefined || grant.claimsRequest === null) return [];
  const client = await ctx.findClient(token.client_id);
  if (client === undefined) return [];
  // What the client may reach: with consent, the scopes granted with this token; otherwise its own.
  return releasableClaims(ctx.catalog, grant.claimsRequest, 'userinfo', claimsRequestScopes(client, scopes));
}

export function userinfoEndpoint(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    refuseTokenInParameters(
      (request.query as RawParams | undefined) ?? {},
      (request.body as RawParams | undefined) ?? {},
    );
    const nonce = ctx.dpop.currentNonce(ctx.now());
    if (nonce !== undefined) reply.header('dpop-nonce', nonce);
    const presented = presentedAccessToken(request.headers.authorization);
    const payload = await validateAccessToken(ctx, presented.token);
    if (payload === undefined)
      throw new OAuthError('invalid_token', 'the access token is invalid, expired or revoked', {
        challenge: presented.scheme,
      });
    await checkDpopBinding(ctx, presented, payload.cnf?.jkt, {
      headers: dpopHeaderValues(request.raw.rawHeaders),
      method: request.method,
      url: ctx.endpoints.userinfo,
    });
    const scopes = payload.scope.split(' ');
    if (!scopes.includes('openid'))
      throw new OAuthError('insufficient_scope', 'the access token lacks the openid scope', {
        challenge: presented.scheme,
      });
    // Asked on every request: a disabled or deleted account's tokens stop at once, on every node.
    const account = await ctx.accounts.findBySubject(payload.sub);
    if (!account?.enabled)
      throw new OAuthError('invalid_token', 'the access token is invalid or expired', {
        challenge: presented.scheme,
      });
    const claims = await ctx.accounts.claims(account, {
      scopes,
      claims: await requestedUserinfoClaims(ctx, payload, scopes),
    });
    reply
      .headers(noStoreHeaders)
      .type('application/json')
      .send(JSON.stringify({ ...claims, sub: account.subject }));
  };
}
