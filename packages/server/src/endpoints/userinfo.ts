/**
 * GET and POST /userinfo (OpenID Connect Core §5.3). The access token is accepted from the Authorization
 * header only: tokens in the query string or form body are refused (RFC 9700 §4.3.2; RFC 6750 §2.3 leaks
 * tokens into logs and history). Claims are released by scope (Core §5.4) plus `roles` for the roles scope.
 * Errors carry a Bearer challenge (RFC 6750 §3).
 *
 * DPoP-bound access tokens (RFC 9449 §7.1) must come with `Authorization: DPoP <token>` and a proof for this
 * request whose `ath` is the token's hash and whose key is the token's `cnf.jkt`; the same token sent as
 * Bearer is refused (§7.2), and so is an unbound token sent with the DPoP scheme. Those errors carry a
 * `DPoP` challenge naming the accepted algorithms; a request without any token gets both challenges. With
 * server nonces on, the current `DPoP-Nonce` is on every answer (§9).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerContext } from '../context.ts';
import { dpopHeaderValues } from '../protocol/dpop.ts';
import { OAuthError } from '../protocol/errors.ts';
import type { RawParams } from '../protocol/params.ts';
import { validateAccessToken } from '../tokens/validate.ts';
import { noStoreHeaders } from './responses.ts';

export function userinfoEndpoint(ctx: ServerContext) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const query = (request.query as RawParams | undefined) ?? {};
    const body = (request.body as RawParams | undefined) ?? {};
    if ('access_token' in query || 'access_token' in body) {
      throw new OAuthError(
        'invalid_request',
        'send the access token in the Authorization header, not in the URL or body',
      );
    }
    const nonce = ctx.dpop.currentNonce(ctx.now());
    if (nonce !== undefined) reply.header('dpop-nonce', nonce);
    const header = request.headers.authorization;
    if (header === undefined)
      throw new OAuthError('invalid_token', 'an access token is required', { bareChallenge: true });
    const match = /^(Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*)$/i.exec(header);
    if (!match)
      throw new OAuthError('invalid_request', 'the Authorization header must be a Bearer or DPoP token', {
        status: 401,
      });
    const scheme = match[1]!.toLowerCase() === 'dpop' ? 'DPoP' : 'Bearer';
    const token = match[2]!;
    const payload = await validateAccessToken(ctx, token);
    if (payload === undefined)
      throw new OAuthError('invalid_token', 'the access token is invalid, expired or revoked', {
        challenge: scheme,
      });
    const jkt = payload.cnf?.jkt;
    if (jkt !== undefined) {
      if (scheme !== 'DPoP')
        throw new OAuthError(
          'invalid_token',
          'the access token is DPoP-bound: send it with the DPoP scheme',
          {
            challenge: 'DPoP',
          },
        );
      const proof = await ctx.dpop.verify({
        headers: dpopHeaderValues(request.raw.rawHeaders),
        method: request.method,
        url: ctx.endpoints.userinfo,
        accessToken: token,
        now: ctx.now(),
      });
      if (proof.jkt !== jkt)
        throw new OAuthError(
          'invalid_token',
          'the DPoP proof key is not the key the access token is bound to',
          {
            challenge: 'DPoP',
          },
        );
    } else if (scheme === 'DPoP') {
      throw new OAuthError(
        'invalid_token',
        'the access token is not DPoP-bound: send it with the Bearer scheme',
        {
          challenge: 'DPoP',
        },
      );
    }
    const scopes = payload.scope.split(' ');
    if (!scopes.includes('openid'))
      throw new OAuthError('insufficient_scope', 'the access token lacks the openid scope', {
        challenge: scheme,
      });
    const user = await ctx.storage.users.findById(payload.sub);
    if (user === undefined)
      throw new OAuthError('invalid_token', 'the access token is invalid or expired', { challenge: scheme });

    const claims: Record<string, unknown> = { sub: user.id };
    for (const scope of scopes) {
      for (const claim of ctx.catalog.identityScopes.get(scope)?.claims ?? []) {
        if (claim === 'roles') claims.roles = user.roles;
        else if (claim === 'preferred_username')
          claims.preferred_username = user.claims.preferred_username ?? user.username;
        else if (claim !== 'sub' && user.claims[claim] !== undefined) claims[claim] = user.claims[claim];
      }
    }
    reply.headers(noStoreHeaders).type('application/json').send(JSON.stringify(claims));
  };
}
